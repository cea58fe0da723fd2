//! State commits a try cannot lose: the outcome of a message that went out (or the release of
//! one that did not), refused by a disk that is full or failing, a database server out of
//! reach, or a database locked past the busy timeout (an operator's `sqlite3` shell, a large
//! import on another host, a host paused inside a transaction). [`Held`] keeps such a commit
//! and tries it again, with back-off, until the database takes it, in the order the commits were
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
    /// the disk or the server, and a lock held past the busy timeout
    /// ([`StoreError::may_pass_later`]), are held and retried; any other answer, success or
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
                Err(e) if e.may_pass_later() => refused(repeats, what, &e),
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
                Err(e) if e.may_pass_later() => e,
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
            refused(repeats, what, &e);
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

/// Says (once a minute per kind) that `what` was refused and is held.
fn refused(repeats: &Repeats, what: &str, e: &StoreError) {
    if let Some(repeated) = repeats.note(&format!("held {what}: {e}"), Instant::now()) {
        tracing::error!(
            error = %e,
            "{what}: the database refused it; held and tried again until it commits, \
             nothing new is sent meanwhile{repeated}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use std::sync::atomic::AtomicU32;

    /// A store on a temp file whose next `faults` group commits fail as on a full disk.
    fn store(faults: u32) -> (tempfile::TempDir, StoreHandle, Arc<AtomicU32>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("held.db")).unwrap();
        let switch = store.commit_faults();
        switch.store(faults, Ordering::SeqCst);
        let (handle, _thread) = StoreHandle::spawn(store).unwrap();
        (dir, handle, switch)
    }

    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(tokio::time::Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn refused_commits_are_retried_until_they_commit_in_the_order_they_were_refused() {
        // The first commit is refused once directly and twice more while held.
        let (_dir, store, faults) = store(3);
        let (held, repeats) = (Held::default(), Arc::new(Repeats::default()));
        let committed = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..3usize {
            let (held2, store2, repeats2, committed2) = (
                held.clone(),
                store.clone(),
                repeats.clone(),
                committed.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let out = held2
                    .commit(&store2, &repeats2, "test", || {
                        move |tx: &Tx<'_>| tx.rewrite_header().map(|()| i)
                    })
                    .await;
                committed2.lock().unwrap().push(out.clone());
                out
            }));
            until("the commit is held", || held.count() == i + 1).await;
        }
        assert_eq!(
            *store.problem().borrow(),
            Some(
                StoreError::Full("database or disk is full (simulated by commit_faults)".into())
                    .to_string()
            )
        );
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        assert_eq!(
            faults.load(Ordering::SeqCst),
            0,
            "every refusal was tried again"
        );
        assert_eq!(*committed.lock().unwrap(), vec![Ok(0), Ok(1), Ok(2)]);
        assert_eq!(held.count(), 0);
        assert_eq!(*store.problem().borrow(), None, "a commit went through");
    }

    #[tokio::test]
    async fn a_refusal_that_is_not_the_disk_is_not_held() {
        let (_dir, store, _faults) = store(0);
        let (held, repeats) = (Held::default(), Repeats::default());
        let out: Result<(), StoreError> = held
            .commit(&store, &repeats, "test", || {
                |_: &Tx<'_>| Err(StoreError::UnknownDelivery(7))
            })
            .await;
        assert_eq!(out, Err(StoreError::UnknownDelivery(7)));
        assert_eq!(held.count(), 0);
    }

    #[tokio::test]
    async fn a_held_commit_gives_up_after_one_more_try_when_the_daemon_stops() {
        let (_dir, store, faults) = store(u32::MAX);
        let (held, repeats) = (Held::default(), Arc::new(Repeats::default()));
        let (held2, store2, repeats2) = (held.clone(), store.clone(), repeats.clone());
        let task = tokio::spawn(async move {
            held2
                .commit(&store2, &repeats2, "test", || {
                    |tx: &Tx<'_>| tx.rewrite_header()
                })
                .await
        });
        until("the commit is held", || held.count() == 1).await;
        let before = faults.load(Ordering::SeqCst);
        held.stop();
        let out = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("it gives up at once")
            .unwrap();
        assert!(matches!(out, Err(StoreError::Full(_))), "{out:?}");
        assert!(before - faults.load(Ordering::SeqCst) >= 1, "one more try");
        assert_eq!(held.count(), 0);
    }
}
