//! The dispatcher task: owns the [`Pool`], hears about new work, modems coming and going and
//! jobs finishing, and hands each idle modem its next job. It never touches the database or a
//! port, so it never blocks; it sleeps until the next event or the pool's next wake time.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};

use std::sync::Arc;

use super::pool::{Job, ModemId, Pinning, Pool, Slot};
use crate::store::GroupId;

/// What the dispatcher is told.
#[derive(Debug)]
pub enum Command {
    /// New or recovered deliveries.
    Enqueue(Vec<Job>),
    /// A new modem slot with its actor's job channel; answers its id.
    Register {
        device: String,
        max_per_hour: u32,
        max_per_day: u32,
        jobs: mpsc::Sender<Job>,
        reply: oneshot::Sender<ModemId>,
    },
    /// The modem finished init; its SIM's use in the current hour and day.
    Up {
        id: ModemId,
        imsi: Option<String>,
        hour_parts: u32,
        day_parts: u32,
    },
    /// The modem cannot work (gone, hung, not ready; `quarantine`: SIM trouble).
    Down { id: ModemId, quarantine: bool },
    /// The modem finished a job; `retry` goes back to the queue.
    Done {
        id: ModemId,
        reserved_parts: u32,
        sent_parts: u32,
        retry: Option<Job>,
    },
    /// A group's pinning changed; its waiting jobs take the new one.
    Repin {
        group: GroupId,
        pinning: Arc<Pinning>,
    },
    /// Slots and waiting count, for `modem list` and `status`.
    Snapshot(oneshot::Sender<(Vec<Slot>, usize)>),
    /// Give out no more work (shutdown); jobs in flight still report `Done`.
    Stop,
}

/// A cheap, cloneable way to talk to the dispatcher.
#[derive(Debug, Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Command>,
}

impl Handle {
    pub fn send(&self, c: Command) {
        // The dispatcher lives as long as the daemon; after it stopped nothing is listening.
        let _ = self.tx.send(c);
    }

    pub fn enqueue(&self, jobs: Vec<Job>) {
        if !jobs.is_empty() {
            self.send(Command::Enqueue(jobs));
        }
    }

    /// Registers a modem slot.
    pub async fn register(
        &self,
        device: &str,
        max_per_hour: u32,
        max_per_day: u32,
        jobs: mpsc::Sender<Job>,
    ) -> Option<ModemId> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Register {
            device: device.to_string(),
            max_per_hour,
            max_per_day,
            jobs,
            reply,
        });
        answer.await.ok()
    }

    pub async fn snapshot(&self) -> (Vec<Slot>, usize) {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Snapshot(reply));
        answer.await.unwrap_or_default()
    }

    pub async fn pending(&self) -> usize {
        self.snapshot().await.1
    }
}

/// Starts the dispatcher on the current runtime.
pub fn spawn(pool: Pool) -> (Handle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Handle { tx }, tokio::spawn(run(pool, rx)))
}

async fn run(mut pool: Pool, mut rx: mpsc::UnboundedReceiver<Command>) {
    let mut actors: Vec<mpsc::Sender<Job>> = Vec::new();
    let mut stopped = false;
    loop {
        let wake = pool.next_wake(Utc::now()).map(|t| {
            let ms = (t - Utc::now()).num_milliseconds().max(0) as u64;
            tokio::time::Instant::now() + Duration::from_millis(ms)
        });
        let command = tokio::select! {
            c = rx.recv() => match c {
                Some(c) => Some(c),
                None => return,
            },
            _ = async { tokio::time::sleep_until(wake.expect("guarded")).await }, if wake.is_some() => None,
        };
        match command {
            Some(Command::Enqueue(jobs)) => pool.enqueue(jobs, Utc::now()),
            Some(Command::Register {
                device,
                max_per_hour,
                max_per_day,
                jobs,
                reply,
            }) => {
                let id = pool.add_modem(&device, max_per_hour, max_per_day);
                actors.push(jobs);
                let _ = reply.send(id);
            }
            Some(Command::Up {
                id,
                imsi,
                hour_parts,
                day_parts,
            }) => pool.modem_up(id, imsi, hour_parts, day_parts, Utc::now()),
            Some(Command::Down { id, quarantine }) => pool.modem_down(id, quarantine),
            Some(Command::Done {
                id,
                reserved_parts,
                sent_parts,
                retry,
            }) => {
                pool.finished(id, reserved_parts, sent_parts);
                if let Some(job) = retry {
                    pool.enqueue([job], Utc::now());
                }
            }
            Some(Command::Repin { group, pinning }) => pool.repin(group, pinning),
            Some(Command::Snapshot(reply)) => {
                let _ = reply.send((pool.slots().to_vec(), pool.pending()));
            }
            Some(Command::Stop) => stopped = true,
            None => {}
        }
        if stopped {
            continue;
        }
        for (id, job) in pool.assign(Utc::now()) {
            if let Err(e) = actors[id].try_send(job) {
                // The actor is gone or (against the pool's bookkeeping) busy: take the job back.
                let job = match e {
                    mpsc::error::TrySendError::Full(j) | mpsc::error::TrySendError::Closed(j) => j,
                };
                tracing::warn!(modem = id, "modem actor did not take its job; requeued");
                pool.finished(id, job.parts, 0);
                pool.modem_down(id, false);
                pool.enqueue([job], Utc::now());
            }
        }
    }
}
