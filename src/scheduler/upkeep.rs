//! Housekeeping on a timer. The per-SIM send log (`sim_sends`) only feeds the cap windows,
//! the current local hour and the current local day; rows older than the day before today
//! (one day of margin for clock and zone changes) are deleted at start and every hour, so the
//! table and the cap query stay the same size however long the daemon runs. The HTTP API's
//! idempotency keys are kept 24 h (`service::idempotency`), and pruned with it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::watch;

use crate::clock;
use crate::service::sim_windows;
use crate::store::StoreHandle;

/// How often the send log is pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The oldest send any cap window can still need at `now`, with a day of margin.
pub fn sim_sends_horizon(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let (_, day_start) = sim_windows(now, tz);
    day_start - chrono::Duration::days(1)
}

/// Prunes the send log now and then every [`PRUNE_EVERY`] until `shutdown` turns true.
pub async fn run(store: StoreHandle, tz: Tz, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let before = sim_sends_horizon(clock::now(), tz);
        match store.call(move |s| s.prune_sim_sends(before)).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "pruned the SIM send log"),
            Err(e) => tracing::warn!(error = %e, "cannot prune the SIM send log"),
        }
        let before = crate::service::idempotency::horizon(clock::now());
        match store.call(move |s| s.prune_idempotency_keys(before)).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(keys = n, "pruned expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "cannot prune the idempotency keys"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_horizon_is_the_start_of_yesterday_in_the_zone() {
        let now: DateTime<Utc> = "2024-05-10T02:10:00Z".parse().unwrap();
        // 10:10 in Shanghai: today began at 16:00Z the day before.
        assert_eq!(
            sim_sends_horizon(now, chrono_tz::Asia::Shanghai),
            "2024-05-08T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
