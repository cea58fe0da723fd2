//! This host's lease on the work it takes, as the host itself sees it (its monotonic clock).
//!
//! Daemons sharing a database each renew a lease in it (a heartbeat, every third of the
//! lease); a host that stops renewing is declared lost by another after the lease, and what
//! it was sending is recovered there. A host that was paused (SIGSTOP, a frozen VM) or cut off
//! from the database cannot know whether that happened, so it fences itself: it sends nothing
//! unless the lease, as last renewed, still holds for a third of its length. The renewal
//! counts from the moment its heartbeat was *sent*, before the database wrote the time the
//! others judge by, so this host's view always ends first.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A shared view of the lease: renewed by the heartbeat, read before each send.
#[derive(Debug, Clone)]
pub struct Lease {
    length: Duration,
    until: Arc<Mutex<Option<Instant>>>,
}

impl Lease {
    /// A lease of `length`, not held until first renewed.
    pub fn new(length: Duration) -> Lease {
        Lease {
            length,
            until: Arc::default(),
        }
    }

    pub fn length(&self) -> Duration {
        self.length
    }

    /// A heartbeat sent at `sent` was written: the lease runs `length` from then.
    pub fn renewed(&self, sent: Instant) {
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        let new = sent + self.length;
        if until.is_none_or(|u| u < new) {
            *until = Some(new);
        }
    }

    /// Another host declared this one lost: nothing is held until the next renewal.
    pub fn lost(&self) {
        *self.until.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Whether a send may start at `now`: the lease holds for a third of its length more.
    pub fn holds(&self, now: Instant) -> bool {
        let until = *self.until.lock().unwrap_or_else(|p| p.into_inner());
        until.is_some_and(|u| u > now + self.length / 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_waits_for_a_renewal_that_still_holds_a_third_of_the_lease() {
        let lease = Lease::new(Duration::from_secs(30));
        let t0 = Instant::now();
        assert!(!lease.holds(t0), "not held before the first heartbeat");
        lease.renewed(t0);
        assert!(lease.holds(t0));
        assert!(lease.holds(t0 + Duration::from_secs(19)));
        // A third of the lease left: a send started now could outlive it.
        assert!(!lease.holds(t0 + Duration::from_secs(20)));
        assert!(!lease.holds(t0 + Duration::from_secs(45)));
        // An older heartbeat's answer arriving late does not shorten it.
        lease.renewed(t0 + Duration::from_secs(10));
        lease.renewed(t0);
        assert!(lease.holds(t0 + Duration::from_secs(29)));
        lease.lost();
        assert!(!lease.holds(t0 + Duration::from_secs(11)));
    }
}
