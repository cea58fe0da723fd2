//! State commits a try cannot lose: the outcome of a message that went out (or the release of
//! one that did not), refused by a disk that is full or failing. [`Held`] keeps such a commit
//! and tries it again, with back-off, until the disk takes it, in the order the commits were
//! first refused; while any is held, later ones queue behind it. The try that made it waits
//! meanwhile, so its modem takes nothing new and the delivery is never handed out twice.
//! Only when the daemon stops does a held commit give up (after one last try): the delivery
//! stays `sending`, and the next start applies `in_flight_policy` to it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Mutex};

use crate::logging::Repeats;
use crate::store::{StoreError, StoreHandle, Tx};

/// First wait before a refused commit is tried again; it doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between two tries of a held commit (or two probes of the disk).
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// The next wait after `wait`.
pub fn backoff(wait: Duration) -> Duration {
    (wait * 2).min(MAX_BACKOFF)
}

/// Commits held for want of a working disk. Cloning shares them.
#[derive(Clone, Debug)]
pub struct Held {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Taken in turn (tokio's mutex is fair: first come, first served).
    turn: Mutex<()>,
    held: AtomicUsize,
    stopping: watch::Sender<bool>,
}

impl Default for Held {
    fn default() -> Self {
        Held {
            inner: Arc::new(Inner {
                turn: Mutex::new(()),
                held: AtomicUsize::new(0),
                stopping: watch::channel(false).0,
            }),
        }
    }
}

impl Held {
    /// Commits held right now.
    pub fn count(&self) -> usize {
        self.inner.held.load(Ordering::SeqCst)
    }

    /// The daemon stops: each held commit is tried once more, then given up.
    pub fn stop(&self) {
        self.inner.stopping.send_replace(true);
    }

    /// Commits what `make` builds (called again for each try) as a group commit. Refusals of
    /// the disk ([`StoreError::is_storage`]) are held and retried; any other answer, success or
    /// refusal, is returned at once. `what` names the commit in the log, where `repeats` keeps
    /// one line per kind and minute.
    pub async fn commit<T, W>(
        &self,
        store: &StoreHandle,
        repeats: &Repeats,
        what: &str,
        make: impl Fn() -> W,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        W: FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        // Straight to the disk unless earlier commits are held: this one must not pass them.
        if self.count() == 0 {
            match store.write_batched(make()).await {
                Err(e) if e.is_storage() => {}
                other => return other,
            }
        }
        self.inner.held.fetch_add(1, Ordering::SeqCst);
        let out = self.in_turn(store, repeats, what, make).await;
        self.inner.held.fetch_sub(1, Ordering::SeqCst);
        out
    }

    async fn in_turn<T, W>(
        &self,
        store: &StoreHandle,
        repeats: &Repeats,
        what: &str,
        make: impl Fn() -> W,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        W: FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let _turn = self.inner.turn.lock().await;
        let mut stopping = self.inner.stopping.subscribe();
        let mut problem = store.problem();
        let mut wait = FIRST_BACKOFF;
        loop {
            let e = match store.write_batched(make()).await {
                Err(e) if e.is_storage() => e,
                other => return other,
            };
            if *stopping.borrow_and_update() {
                tracing::error!(
                    error = %e,
                    "{what}: not recorded before the stop; the delivery stays 'sending' and the \
                     next start applies in_flight_policy to it"
                );
                return Err(e);
            }
            if let Some(repeated) = repeats.note(&format!("held {what}: {e}"), Instant::now()) {
                tracing::error!(
                    error = %e,
                    "{what}: the database refused it; held and tried again until it commits, \
                     nothing new is sent meanwhile{repeated}"
                );
            }
            // Again after the wait, or as soon as another commit got through.
            let got_through = async {
                loop {
                    if problem.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                    if problem.borrow_and_update().is_none() {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopping.changed() => {}
                _ = got_through => {}
            }
            wait = backoff(wait);
        }
    }
}
