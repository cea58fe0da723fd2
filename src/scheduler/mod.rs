//! Fan-out of deliveries across the modem pool.
//!
//! | file | owns |
//! | --- | --- |
//! | [`pool`] | pure bookkeeping: queues per broadcast, fair choice of the next job for an idle modem (its own carrier's recipients first), per-SIM caps, pinning, pacing, quarantined SIMs |
//! | [`dispatcher`] | [`Scheduler`]: the task that owns the pool and the modems' handles, follows each modem's status, hands idle modems their jobs |
//! | [`deliver`] | one try of one delivery through a [`crate::modem::ModemHandle`]: mark sending, encode, send, decide, commit |
//! | [`lease`] | this host's lease as it sees it: no send once it may have run out (fencing) |
//! | [`held`] | state commits refused by a full or failing disk, held and retried in order until they commit |
//! | [`policy`] | pure decisions after one try: sent, failed, retry (at once on another SIM, or after the back-off), uncertain; whether the SIM shows signs of a carrier block |
//! | [`progress`] | live counts per broadcast and per-delivery events for subscribers |
//! | [`upkeep`] | housekeeping on a timer: forgetting SIM sends no cap window needs |
//! | [`waiting`] | why a broadcast cannot start now ([`Waiting`]), as the pool works it out |
//!
//! Event-driven: nothing polls. The dispatcher wakes on a new broadcast, a modem's status
//! changing, a try ending, or the earliest back-off / cap-window / quiet-hours end that
//! [`pool::Pool::next_wake`] names. A cancelled broadcast's waiting jobs leave the pool at
//! once ([`Scheduler::cancel`]); one already handed to a modem finds itself cancelled in the
//! store and is not sent. While the store cannot commit ([`crate::store::StoreHandle::problem`])
//! the dispatcher hands nothing out and probes the disk now and then (with back-off) until
//! a commit goes through. The modems themselves (ports, init, health) belong to
//! [`crate::modem`]; the scheduler only reads their status and asks them to send.

pub mod deliver;
pub mod dispatcher;
pub mod held;
pub mod lease;
pub mod policy;
pub mod pool;
pub mod progress;
pub mod upkeep;
pub mod waiting;

pub use dispatcher::{Caps, ModemView, Scheduler, Snapshot};
pub use waiting::Waiting;

use crate::store::{BroadcastId, Group, Progress, QueuedDelivery};

/// Hands a broadcast's newly queued deliveries over: its live counts start on `board` first
/// (so a `subscribe` right after sees them), then its jobs go to `scheduler`, pinned as
/// `group` says (each delivery's own SIM pin, a notice's, wins).
pub fn launch(
    board: &progress::Board,
    scheduler: &Scheduler,
    broadcast: BroadcastId,
    queued: Vec<QueuedDelivery>,
    group: Option<&Group>,
) {
    board.track(
        broadcast,
        Progress {
            queued: queued.len() as u32,
            ..Progress::default()
        },
    );
    scheduler.enqueue(pool::jobs(queued, group));
}
