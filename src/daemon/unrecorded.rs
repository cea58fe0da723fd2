//! What a modem handed over and nothing else keeps: a routed incoming message (`+CMT`) or
//! status report (`+CDS`), acknowledged to the network and never stored on the SIM. When the
//! database refuses its commit for now (a full disk, a server out of reach, a lock held past
//! the busy timeout: [`StoreError::may_pass_later`]) it waits here, in memory and in the order
//! it came, and is committed again with back-off until the database takes it. Anything that
//! comes meanwhile waits behind it, so the order holds.
//!
//! At most [`MAX_UNRECORDED`] wait per modem (the oldest goes first when more come); what
//! still waits when the daemon stops is lost, and said so. A stored message or report is not
//! kept here: it stays on the SIM until its commit, and is read again from there.
//!
//! [`StoreError::may_pass_later`]: crate::store::StoreError::may_pass_later

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::scheduler::held::{backoff, FIRST_BACKOFF};

/// Most routed messages or reports one modem keeps waiting for the database.
pub const MAX_UNRECORDED: usize = 10_000;

/// Routed messages or reports waiting for the database, oldest first.
#[derive(Debug)]
pub struct Unrecorded<T> {
    items: VecDeque<T>,
    wait: Duration,
    due: Instant,
}

impl<T> Default for Unrecorded<T> {
    fn default() -> Self {
        Unrecorded {
            items: VecDeque::new(),
            wait: FIRST_BACKOFF,
            due: Instant::now(),
        }
    }
}

impl<T> Unrecorded<T> {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// `item` waits behind the others; the oldest is given back when that makes more than
    /// [`MAX_UNRECORDED`]. The first to wait is tried again after [`FIRST_BACKOFF`].
    pub fn push(&mut self, item: T) -> Option<T> {
        if self.items.is_empty() {
            self.wait = FIRST_BACKOFF;
            self.due = Instant::now() + self.wait;
        }
        self.items.push_back(item);
        (self.items.len() > MAX_UNRECORDED)
            .then(|| self.items.pop_front())
            .flatten()
    }

    /// Resolves when the oldest is due to be tried again; never while none waits. It borrows
    /// nothing: what comes meanwhile may be pushed.
    pub fn due(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let due = (!self.items.is_empty()).then_some(self.due);
        async move {
            match due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        }
    }

    /// The oldest, to be tried again.
    pub fn front(&self) -> Option<&T> {
        self.items.front()
    }

    /// The oldest is done with (committed, or refused for good): the next is tried at once.
    pub fn done(&mut self) {
        self.items.pop_front();
        self.wait = FIRST_BACKOFF;
        self.due = Instant::now();
    }

    /// The oldest was refused again for now: it is tried after a longer wait.
    pub fn refused(&mut self) {
        self.wait = backoff(self.wait);
        self.due = Instant::now() + self.wait;
    }
}

/// A routed message or report as the modem handed it over: only this daemon has it once the
/// modem acknowledged it.
#[derive(Debug, Clone)]
pub struct Routed {
    /// The SIM's IMSI (the device when the modem has not said).
    pub sim: String,
    pub device: String,
    pub pdu: String,
    pub length: usize,
}

impl Unrecorded<Routed> {
    /// A routed `what` ("status report", "message") as it comes: committed by `commit` (false:
    /// the database refused it for now), or kept, when it was refused or others wait (it goes
    /// behind them, so the order holds).
    pub async fn offer<F: Future<Output = bool>>(
        &mut self,
        r: Routed,
        what: &str,
        commit: impl FnOnce(Routed) -> F,
    ) {
        if self.is_empty() && commit(r.clone()).await {
            return;
        }
        self.keep(r, what);
    }

    /// Those kept, oldest first, committed again until one is refused again.
    pub async fn again<F: Future<Output = bool>>(
        &mut self,
        what: &str,
        mut commit: impl FnMut(Routed) -> F,
    ) {
        while let Some(r) = self.front() {
            if !commit(r.clone()).await {
                self.refused();
                return;
            }
            self.done();
        }
        tracing::info!("the routed {what}s kept waiting are recorded");
    }

    /// The daemon stops: what is still kept is lost, and said so.
    pub fn stop(&self, device: &str, what: &str) {
        if !self.is_empty() {
            tracing::error!(
                device,
                kept = self.len(),
                "stopping with routed {what}s the database has not taken: they are lost"
            );
        }
    }

    fn keep(&mut self, r: Routed, what: &str) {
        if self.is_empty() {
            tracing::warn!(
                device = r.device,
                "a routed {what} is kept in memory until the database takes it"
            );
        }
        if let Some(lost) = self.push(r) {
            tracing::error!(
                device = lost.device,
                "too many routed {what}s wait for the database: the oldest is lost"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_oldest_is_tried_again_with_back_off_and_the_queue_is_bounded() {
        let mut u = Unrecorded::default();
        assert!(u.is_empty());
        // Nothing waits: never due.
        let never = tokio::time::timeout(Duration::from_secs(3600), u.due()).await;
        assert!(never.is_err());
        let t0 = Instant::now();
        assert_eq!(u.push(1), None);
        assert_eq!(u.push(2), None);
        u.due().await;
        assert_eq!(t0.elapsed(), FIRST_BACKOFF);
        assert_eq!(u.front(), Some(&1));
        u.refused();
        let t1 = Instant::now();
        u.due().await;
        assert_eq!(t1.elapsed(), FIRST_BACKOFF * 2);
        u.done();
        let t2 = Instant::now();
        u.due().await;
        assert_eq!(t2.elapsed(), Duration::ZERO, "the next goes at once");
        assert_eq!(u.front(), Some(&2));
        u.done();
        assert!(u.is_empty());

        for i in 0..MAX_UNRECORDED {
            assert_eq!(u.push(i), None);
        }
        assert_eq!(u.push(MAX_UNRECORDED), Some(0), "the oldest goes");
        assert_eq!((u.len(), u.front()), (MAX_UNRECORDED, Some(&1)));
    }
}
