//! [`StoreHandle`]: the [`Store`] on a thread of its own, for callers on tokio. rusqlite
//! blocks, so no async task ever touches the connection; tasks send closures and await the
//! answer. Operations run one at a time, in the order they were sent.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::{OpenOptions, Store, StoreError};

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// A cloneable handle to a store thread. The thread ends (closing the database) when the last
/// handle is dropped.
#[derive(Clone)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
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

    /// Moves an open store to a new thread. Join the returned thread after dropping every
    /// handle to be sure the database is closed.
    pub fn spawn(mut store: Store) -> Result<(StoreHandle, JoinHandle<()>), StoreError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("groupsms-store".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&mut store);
                }
            })
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok((StoreHandle { jobs }, thread))
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
        let job: Job = Box::new(move |store| {
            // A panicking operation has its transaction rolled back by the unwinding; the
            // caller gets an error and the thread goes on serving others.
            let out = catch_unwind(AssertUnwindSafe(|| f(store))).unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Err(E::from(StoreError::Panicked(what)))
            });
            let _ = reply.send(out);
        });
        self.jobs
            .send(job)
            .map_err(|_| E::from(StoreError::Closed))?;
        Ok(answer)
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
