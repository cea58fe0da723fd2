//! [`StoreHandle`]: the [`Store`] on a thread of its own, for callers on tokio. rusqlite
//! blocks, so no async task ever touches the connection; tasks send closures and await the
//! answer. Operations run one at a time, in the order they were sent.
//!
//! The handle also says whether the disk takes the group commits ([`StoreHandle::problem`]):
//! a commit refused by the file system (full, I/O error) sets the problem, the next one that
//! goes through clears it. The scheduler pauses on it; `status` shows it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::{oneshot, watch};

use super::{BatchJob, OpenOptions, Store, StoreError, Tx};

/// What the store thread runs: an operation with the store to itself, or a small write that
/// may share a commit with others queued at the same moment.
enum Job {
    Alone(Box<dyn FnOnce(&mut Store) + Send>),
    Batched(BatchJob),
}

/// Most writes one group commit takes.
const MAX_BATCH: usize = 128;

/// A cloneable handle to a store thread. The thread ends (closing the database) when the last
/// handle is dropped.
#[derive(Clone)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
    problem: watch::Receiver<Option<String>>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreHandle")
    }
}

impl StoreHandle {
    /// Opens the database on the calling thread (so errors come back here), then moves it to
    /// a new thread named `groupsms-store`.
    pub fn open(
        path: impl AsRef<Path>,
        options: &OpenOptions,
    ) -> Result<(StoreHandle, JoinHandle<()>), StoreError> {
        let store = Store::open_with(path, options)?;
        StoreHandle::spawn(store)
    }

    /// [`open`](StoreHandle::open) for the configured database, SQLite or PostgreSQL.
    pub fn open_database(
        db: &super::Database,
        options: &OpenOptions,
    ) -> Result<(StoreHandle, JoinHandle<()>), StoreError> {
        StoreHandle::spawn(Store::open_database(db, options)?)
    }

    /// Moves an open store to a new thread. Join the returned thread after dropping every
    /// handle to be sure the database is closed.
    pub fn spawn(mut store: Store) -> Result<(StoreHandle, JoinHandle<()>), StoreError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (health, problem) = watch::channel::<Option<String>>(None);
        let thread = std::thread::Builder::new()
            .name("groupsms-store".into())
            .spawn(move || {
                let mut next: Option<Job> = None;
                loop {
                    let job = match next.take() {
                        Some(job) => job,
                        None => match rx.recv() {
                            Ok(job) => job,
                            Err(_) => return,
                        },
                    };
                    match job {
                        Job::Alone(f) => f(&mut store),
                        Job::Batched(first) => {
                            // Only what is already waiting joins: a lone write is not delayed.
                            let mut batch = vec![first];
                            while batch.len() < MAX_BATCH {
                                match rx.try_recv() {
                                    Ok(Job::Batched(f)) => batch.push(f),
                                    Ok(other) => {
                                        next = Some(other);
                                        break;
                                    }
                                    Err(_) => break,
                                }
                            }
                            let now = match store.run_batch(batch) {
                                Err(e) => Some(e.to_string()),
                                Ok(true) => None,
                                Ok(false) => continue,
                            };
                            health.send_if_modified(|was| {
                                let changed = *was != now;
                                *was = now;
                                changed
                            });
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok((StoreHandle { jobs, problem }, thread))
    }

    fn submit<T, E>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, E> + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<T, E>>, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job::Alone(Box::new(move |store| {
            // A panicking operation has its transaction rolled back by the unwinding; the
            // caller gets an error and the thread goes on serving others.
            let out = catch_unwind(AssertUnwindSafe(|| f(store)))
                .unwrap_or_else(|panic| Err(E::from(StoreError::Panicked(panic_text(&*panic)))));
            let _ = reply.send(out);
        }));
        self.jobs
            .send(job)
            .map_err(|_| E::from(StoreError::Closed))?;
        Ok(answer)
    }

    /// A small write that may share its commit with others queued at the same moment (group
    /// commit): `f` runs in a savepoint of a shared transaction, and the answer comes once
    /// that transaction is committed (so it is as durable as a write of its own). A failing
    /// `f` rolls back its own changes only.
    pub async fn write_batched<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, StoreError>>();
        let job: BatchJob = Box::new(move |tx| {
            let out = match tx {
                None => Err(StoreError::Closed),
                Some(tx) => catch_unwind(AssertUnwindSafe(|| f(tx)))
                    .unwrap_or_else(|panic| Err(StoreError::Panicked(panic_text(&*panic)))),
            };
            let own = out.as_ref().map(drop).map_err(StoreError::clone);
            let finish: Box<dyn FnOnce(Result<(), StoreError>) + Send> =
                Box::new(move |committed| {
                    let _ = reply.send(committed.and(out));
                });
            (own, finish)
        });
        self.jobs
            .send(Job::Batched(job))
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// What keeps the group commits from reaching the disk (full, I/O error), as a sentence;
    /// `None` while they commit. Changes when a commit fails after one went through, or the
    /// other way round.
    pub fn problem(&self) -> watch::Receiver<Option<String>> {
        self.problem.clone()
    }

    /// A group commit that writes a page and changes nothing, to find out whether the disk
    /// takes writes again (the answer also reaches [`problem`](StoreHandle::problem)).
    pub async fn probe(&self) -> Result<(), StoreError> {
        self.write_batched(|tx| tx.rewrite_header()).await
    }

    /// Runs `f` on the store thread and awaits its result:
    /// `handle.call(move |s| s.mark_sent(id, &refs, now)).await`.
    pub async fn call<T, E>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let answer = self.submit(f)?;
        answer.await.map_err(|_| E::from(StoreError::Closed))?
    }

    /// [`call`](StoreHandle::call) for code outside an async runtime (it blocks).
    pub fn call_blocking<T, E>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let answer = self.submit(f)?;
        answer
            .blocking_recv()
            .map_err(|_| E::from(StoreError::Closed))?
    }
}

/// What a caught panic said.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
