//! Fan-out of deliveries across the modem pool.
//!
//! | file | owns |
//! | --- | --- |
//! | [`pool`] | pure bookkeeping: queues per broadcast, fair choice of the next job for an idle modem, per-SIM caps, pinning |
//! | [`actor`] | one task per modem: probe, init, send each job, commit every state change |
//! | [`dispatcher`] | the task that owns the pool and hands idle modems their jobs |
//! | [`progress`] | live counts per broadcast and per-delivery events for subscribers |
//! | [`policy`] | pure decision after one try: sent, failed, retry (with back-off, elsewhere), uncertain |
//!
//! Event-driven: nothing polls. The dispatcher wakes on a new broadcast, a modem becoming
//! idle or ready, or the earliest back-off / cap-window end that [`pool::Pool::next_wake`] names.

pub mod actor;
pub mod dispatcher;
pub mod policy;
pub mod pool;
pub mod progress;
