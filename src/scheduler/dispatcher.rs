//! The dispatcher task: owns the [`Pool`] and the pool's [`ModemHandle`]s, hears about new
//! work, modems coming and going (from each modem's watched status) and tries finishing, and
//! starts a [`deliver`] task for each job it hands to an idle modem. Every job it hands out
//! comes back as one [`Finished`], whatever happens to the modem meanwhile, so nothing can be
//! stranded. It never touches a port and never waits on the database itself; it sleeps until
//! the next event or the pool's next wake time.
//!
//! While the store cannot commit ([`StoreHandle::problem`]: a full disk, an I/O error) it
//! hands out nothing: what a modem would send could not be recorded. It probes the disk with
//! a write that changes nothing, after 0.5 s, then less and less often (every 8 s at most),
//! until a commit goes through; then everything resumes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument;

use super::deliver::{deliver, Deliverer, Finished};
use super::held;
use super::pool::{Job, ModemId, Pinning, Pool, Quarantine, Slot};
use super::progress::Transition;
use super::waiting::Waiting;
use crate::clock;
use crate::logging::Repeats;
use crate::modem::{Health, ModemHandle, ModemStatus};
use crate::store::{
    BroadcastId, DeliveryId, DeliveryState, EventKind, GroupId, SimQuarantine, StoreHandle,
};
use chrono_tz::Tz;

/// A modem's caps, in SMS parts, its optional pace and carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caps {
    pub max_per_hour: u32,
    pub max_per_day: u32,
    /// After each try the SIM rests a random time between these (ms); `None`: no rest.
    pub pace_ms: Option<[u64; 2]>,
    /// Its SIM's carrier (`[[modem]] carrier`); `None`: learnt from the IMSI.
    pub carrier: Option<String>,
}

/// One modem as `modem list` shows it: what its actor says and what the pool knows.
#[derive(Debug, Clone)]
pub struct ModemView {
    pub device: String,
    pub status: ModemStatus,
    pub slot: Slot,
}

/// Every modem and the number of deliveries waiting.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub modems: Vec<ModemView>,
    pub waiting: usize,
    /// Outcomes of tries held until the database takes them.
    pub held: usize,
    /// Broadcasts whose deliveries cannot start now: how many wait, and why.
    pub blocked: Vec<(BroadcastId, usize, Waiting)>,
}

impl Snapshot {
    /// Why broadcast `id` waits, and how many of its deliveries, if it does.
    pub fn blocked(&self, id: BroadcastId) -> Option<(usize, &Waiting)> {
        self.blocked
            .iter()
            .find(|(b, _, _)| *b == id)
            .map(|(_, n, why)| (*n, why))
    }
}

/// What the dispatcher is told.
#[derive(Debug)]
enum Command {
    /// New or recovered deliveries.
    Enqueue(Vec<Job>),
    /// A new modem for the pool.
    AddModem {
        handle: ModemHandle,
        caps: Caps,
    },
    /// The modem is ready; its SIM's use in the current hour and day, and its quarantine
    /// (from the store).
    Up {
        id: ModemId,
        imsi: Option<String>,
        hour_parts: u32,
        day_parts: u32,
        quarantine: Option<SimQuarantine>,
    },
    /// A sign of a carrier block that came another way than a try (a carrier's notice to
    /// the SIM `sim`, an IMSI or device).
    Block {
        sim: String,
        reason: String,
    },
    /// An administrator lifts the quarantine of the modems whose IMSI or device is `key`;
    /// the answer names each that was quarantined (device, SIM).
    Release {
        key: String,
        reply: oneshot::Sender<Vec<(String, String)>>,
    },
    /// The modem cannot work (gone, hung, not ready; `quarantine`: SIM trouble).
    Down {
        id: ModemId,
        quarantine: bool,
    },
    /// A try ended.
    Done(Box<Finished>),
    /// A group's pinning changed; its waiting jobs take the new one.
    Repin {
        group: GroupId,
        pinning: Arc<Pinning>,
    },
    Snapshot(oneshot::Sender<Snapshot>),
    /// A broadcast was cancelled: its waiting jobs leave the pool (with `reason`).
    Cancel {
        broadcast: BroadcastId,
        reason: String,
    },
    /// Another host took this delivery: it leaves the pool if it waits here.
    Forget {
        broadcast: BroadcastId,
        delivery: DeliveryId,
    },
    /// Give out no more work; answer once no try is running.
    Stop(oneshot::Sender<()>),
    /// A probe of the disk ended (its answer is in the store's problem).
    Probed,
}

/// What woke the dispatcher.
enum Wake {
    Command(Command),
    /// The pool's next wake time.
    Timer,
    /// The store's problem changed.
    Store,
    /// Time to probe the disk.
    Probe,
}

/// First wait before the disk is probed while the store cannot commit.
const FIRST_PROBE: Duration = Duration::from_millis(500);

/// A cheap, cloneable way to talk to the dispatcher.
#[derive(Debug, Clone)]
pub struct Scheduler {
    tx: mpsc::UnboundedSender<Command>,
}

impl Scheduler {
    /// Starts the dispatcher on the current runtime.
    pub fn spawn(pool: Pool, deliverer: Deliverer) -> (Scheduler, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let me = Scheduler { tx };
        let dispatcher = Dispatcher {
            pool,
            deliverer,
            modems: Vec::new(),
            me: me.clone(),
            stopping: None,
            paused_since: None,
            probe_at: None,
            probe_wait: FIRST_PROBE,
            probing: false,
            transitions: Repeats::default(),
            paces: Vec::new(),
            rng: rand::SeedableRng::from_entropy(),
        };
        (me.clone(), tokio::spawn(dispatcher.run(rx)))
    }

    fn send(&self, c: Command) {
        // The dispatcher lives as long as the daemon; after it stopped nothing is listening.
        let _ = self.tx.send(c);
    }

    pub fn enqueue(&self, jobs: Vec<Job>) {
        if !jobs.is_empty() {
            self.send(Command::Enqueue(jobs));
        }
    }

    /// Adds a modem to the pool; it takes work whenever its status says it is ready.
    pub fn add_modem(&self, handle: ModemHandle, caps: Caps) {
        self.send(Command::AddModem { handle, caps });
    }

    pub fn repin(&self, group: GroupId, pinning: Arc<Pinning>) {
        self.send(Command::Repin { group, pinning });
    }

    /// Takes a cancelled broadcast's waiting jobs out of the pool; its live counts learn it.
    pub fn cancel(&self, broadcast: BroadcastId, reason: &str) {
        self.send(Command::Cancel {
            broadcast,
            reason: reason.to_string(),
        });
    }

    /// Quarantines the SIM `sim` (IMSI or device) for a sign of a carrier block found outside
    /// a try (a carrier's notice it received).
    pub fn block(&self, sim: &str, reason: String) {
        self.send(Command::Block {
            sim: sim.to_string(),
            reason,
        });
    }

    /// Another host's modem took `delivery`: this pool no longer offers it to its modems.
    pub fn forget(&self, broadcast: BroadcastId, delivery: DeliveryId) {
        self.send(Command::Forget {
            broadcast,
            delivery,
        });
    }

    /// Lifts the quarantine of the modems whose IMSI or device is `key` (the store's record
    /// is the caller's to remove); the (device, SIM) of each modem it found.
    pub async fn release(&self, key: &str) -> Vec<(String, String)> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Release {
            key: key.to_string(),
            reply,
        });
        answer.await.unwrap_or_default()
    }

    pub async fn snapshot(&self) -> Snapshot {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Snapshot(reply));
        answer.await.unwrap_or_default()
    }

    /// Deliveries waiting for a modem.
    pub async fn pending(&self) -> usize {
        self.snapshot().await.waiting
    }

    /// Gives out no more work and waits until every running try has ended (each modem
    /// finishes the message it is sending; the rest stays queued in the database).
    pub async fn stop(&self) {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Stop(reply));
        let _ = answer.await;
    }
}

struct Dispatcher {
    pool: Pool,
    deliverer: Deliverer,
    modems: Vec<ModemHandle>,
    me: Scheduler,
    stopping: Option<oneshot::Sender<()>>,
    /// Since when the store cannot commit (nothing is handed out meanwhile).
    paused_since: Option<Instant>,
    /// When to probe the disk next, while paused and no probe runs.
    probe_at: Option<tokio::time::Instant>,
    probe_wait: Duration,
    probing: bool,
    /// The pause and resume lines, once a minute each (a disk on the edge of full flaps).
    transitions: Repeats,
    /// Each modem's pace (`[[modem]] pace_ms`), by pool index.
    paces: Vec<Option<[u64; 2]>>,
    /// Draws the pauses of paced modems.
    rng: rand::rngs::SmallRng,
}

impl Dispatcher {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let mut problem = self.deliverer.store.problem();
        loop {
            let wake = self.pool.next_wake(clock::now()).map(|t| {
                let ms = (t - clock::now()).num_milliseconds().max(0) as u64;
                tokio::time::Instant::now() + Duration::from_millis(ms)
            });
            let probe_at = self.probe_at;
            let woke = tokio::select! {
                c = rx.recv() => match c {
                    Some(c) => Wake::Command(c),
                    None => return,
                },
                _ = async { tokio::time::sleep_until(wake.expect("guarded")).await }, if wake.is_some() => Wake::Timer,
                changed = problem.changed() => match changed {
                    Ok(()) => Wake::Store,
                    // The store thread is gone: nothing to wait for there.
                    Err(_) => {
                        problem = watch::channel(None).1;
                        Wake::Timer
                    }
                },
                _ = async { tokio::time::sleep_until(probe_at.expect("guarded")).await }, if probe_at.is_some() => Wake::Probe,
            };
            match woke {
                Wake::Command(c) => self.handle(c),
                Wake::Timer | Wake::Store => {}
                Wake::Probe => self.probe(),
            }
            let trouble = problem.borrow_and_update().clone();
            self.follow_store(trouble);
            if self.stopping.is_some() {
                if self.pool.running() == 0 {
                    let _ = self.stopping.take().map(|s| s.send(()));
                }
                continue;
            }
            if self.paused_since.is_some() {
                continue;
            }
            let assigned = self.pool.assign(clock::now());
            for device in self.pool.take_ended() {
                tracing::info!(%device, "the SIM's quarantine is over: it sends again");
            }
            for (id, job) in assigned {
                let (deliverer, modem, me) = (
                    self.deliverer.clone(),
                    self.modems[id].clone(),
                    self.me.clone(),
                );
                // A child of the modem's span: its lines read
                // `modem{device, imsi}:delivery{id, broadcast}`, the modem's own lines while
                // sending it included.
                let span = tracing::info_span!(
                    parent: modem.span(),
                    "delivery",
                    id = job.delivery.0,
                    broadcast = job.broadcast.0
                );
                tokio::spawn(
                    async move {
                        let finished = deliver(&deliverer, &modem, id, job).await;
                        me.send(Command::Done(Box::new(finished)));
                    }
                    .instrument(span),
                );
            }
        }
    }

    /// Pauses while the store has a problem (probing the disk meanwhile), resumes when a
    /// commit went through.
    fn follow_store(&mut self, trouble: Option<String>) {
        let repeats = self.deliverer.repeats.clone();
        match (trouble, self.paused_since) {
            (Some(problem), None) => {
                self.paused_since = Some(Instant::now());
                self.probe_wait = FIRST_PROBE;
                self.probe_at = Some(tokio::time::Instant::now() + self.probe_wait);
                if let Some(repeated) = self.transitions.note("paused", Instant::now()) {
                    tracing::error!(
                        %problem,
                        "the database cannot commit: nothing new is sent until it can; \
                         outcomes of messages already sent are held{repeated}"
                    );
                }
            }
            (Some(_), Some(_)) => {
                if !self.probing && self.probe_at.is_none() {
                    self.probe_at = Some(tokio::time::Instant::now() + self.probe_wait);
                }
            }
            (None, Some(since)) => {
                self.paused_since = None;
                self.probe_at = None;
                if let Some(repeated) = self.transitions.note("resumed", Instant::now()) {
                    tracing::warn!(
                        paused_secs = since.elapsed().as_secs(),
                        held = self.deliverer.held.count(),
                        "the database commits again: sending resumes{repeated}"
                    );
                }
                // What the quiet minute held back, now that the trouble is over.
                for (kind, repeated) in repeats.drain(Instant::now()) {
                    tracing::warn!("{kind}{repeated}");
                }
            }
            (None, None) => {}
        }
    }

    /// Quarantines the SIM of slot `id` for `reason` (a sign of a carrier block) for the
    /// configured time: logged, recorded in the store (so a restart keeps it), shown by
    /// `modem list` and `status`.
    fn quarantine(&mut self, id: ModemId, reason: String) {
        // At the store's precision, so `modem list` says the same before and after a restart.
        let since = chrono::SubsecRound::trunc_subsecs(clock::now(), 3);
        let until = since + self.deliverer.quarantine;
        let slot = self.pool.slot(id);
        if slot.quarantine.is_some() {
            return;
        }
        let (device, sim) = (slot.device.clone(), slot.sim().to_string());
        tracing::warn!(
            %device,
            %sim,
            %reason,
            until = %until.to_rfc3339(),
            "SIM quarantined: signs of a carrier block; its work goes to the other SIMs \
             (groupsms modem release lifts it)"
        );
        self.pool.quarantine(
            id,
            Quarantine {
                reason: reason.clone(),
                since,
                until,
            },
        );
        self.persist(sim, Some(device), reason, Some((since, until)));
    }

    /// Records the quarantine of `sim` in the store (from now for the configured time unless
    /// `when` says otherwise), without waiting for it.
    fn persist(
        &self,
        sim: String,
        device: Option<String>,
        reason: String,
        when: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
    ) {
        let (since, until) = when.unwrap_or_else(|| {
            let now = chrono::SubsecRound::trunc_subsecs(clock::now(), 3);
            (now, now + self.deliverer.quarantine)
        });
        if when.is_none() {
            tracing::warn!(%sim, %reason, until = %until.to_rfc3339(),
                "SIM quarantined: signs of a carrier block (it is not in the pool now)");
        }
        let store = self.deliverer.store.clone();
        tokio::spawn(async move {
            // Announced to the webhooks with the quarantine, in its transaction.
            let event = serde_json::json!({
                "change": "quarantined",
                "sim": sim,
                "device": device,
                "reason": reason,
                "since": since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "until": until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            });
            let q = SimQuarantine {
                sim,
                reason,
                since,
                until,
            };
            let written = store
                .call(move |s| {
                    s.write(|tx| {
                        tx.quarantine_sim(&q)?;
                        tx.emit_event(EventKind::Modem, &event, clock::now())
                    })
                })
                .await;
            if let Err(e) = written {
                tracing::error!(error = %e, "cannot record a SIM's quarantine; it holds until the daemon stops");
            }
        });
    }

    /// Writes a page that changes nothing; the answer comes through the store's problem.
    fn probe(&mut self) {
        self.probe_at = None;
        self.probing = true;
        let (store, me) = (self.deliverer.store.clone(), self.me.clone());
        tokio::spawn(async move {
            let _ = store.probe().await;
            me.send(Command::Probed);
        });
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Probed => {
                self.probing = false;
                self.probe_wait = held::backoff(self.probe_wait);
            }
            Command::Enqueue(jobs) => self.pool.enqueue(jobs, clock::now()),
            Command::AddModem { handle, caps } => {
                let id = self
                    .pool
                    .add_modem(handle.device(), caps.max_per_hour, caps.max_per_day);
                self.paces.push(caps.pace_ms);
                if caps.carrier.is_some() {
                    self.pool.set_carrier(id, caps.carrier);
                }
                tokio::spawn(follow(
                    id,
                    handle.clone(),
                    self.me.clone(),
                    self.deliverer.store.clone(),
                    self.pool.tz(),
                ));
                self.modems.push(handle);
            }
            Command::Up {
                id,
                imsi,
                hour_parts,
                day_parts,
                quarantine,
            } => {
                self.pool
                    .modem_up(id, imsi, hour_parts, day_parts, clock::now());
                // Quarantined before a restart (or a replug): still so. One set meanwhile
                // (the store may not have had it when it was read) stays.
                if let Some(q) = quarantine {
                    if self.pool.slot(id).quarantine.is_none() {
                        self.pool.quarantine(
                            id,
                            Quarantine {
                                reason: q.reason,
                                since: q.since,
                                until: q.until,
                            },
                        );
                    }
                }
            }
            Command::Block { sim, reason } => {
                let found = self.pool.find(&sim);
                if found.is_empty() {
                    // Not in the pool now: recorded, it applies when the SIM comes back.
                    self.persist(sim, None, reason.clone(), None);
                }
                for id in found {
                    self.quarantine(id, reason.clone());
                }
            }
            Command::Release { key, reply } => {
                let released = self
                    .pool
                    .release(&key)
                    .into_iter()
                    .map(|id| {
                        let slot = self.pool.slot(id);
                        (slot.device.clone(), slot.sim().to_string())
                    })
                    .collect();
                let _ = reply.send(released);
            }
            Command::Down { id, quarantine } => self.pool.modem_down(id, quarantine),
            Command::Done(f) => {
                self.pool.finished(f.modem, f.reserved_parts, f.sent_parts);
                self.pool.done_with(f.delivery);
                if let Some(class) = f.error {
                    self.pool.count_error(f.modem, class);
                }
                if let Some([min, max]) = self.paces[f.modem] {
                    let pause = rand::Rng::gen_range(&mut self.rng, min..=max);
                    let until = clock::now() + chrono::Duration::milliseconds(pause as i64);
                    self.pool.rest(f.modem, until);
                }
                if let Some(reason) = self.pool.observe(f.modem, f.sign, clock::now()) {
                    self.quarantine(f.modem, reason);
                }
                if let Some(job) = f.retry {
                    self.pool.enqueue([job], clock::now());
                }
            }
            Command::Repin { group, pinning } => self.pool.repin(group, pinning),
            Command::Snapshot(reply) => {
                let modems = self
                    .modems
                    .iter()
                    .zip(self.pool.slots())
                    .map(|(h, slot)| ModemView {
                        device: h.device().to_string(),
                        status: h.status(),
                        slot: slot.clone(),
                    })
                    .collect();
                let _ = reply.send(Snapshot {
                    modems,
                    waiting: self.pool.pending(),
                    held: self.deliverer.held.count(),
                    blocked: self.pool.waiting(clock::now()),
                });
            }
            Command::Cancel { broadcast, reason } => {
                for job in self.pool.cancel(broadcast) {
                    self.deliverer.board.transition(Transition {
                        broadcast,
                        delivery: job.delivery,
                        number: &job.number,
                        from: DeliveryState::Queued,
                        to: DeliveryState::Cancelled,
                        modem: None,
                        error: Some(&reason),
                    });
                }
            }
            Command::Forget {
                broadcast,
                delivery,
            } => {
                self.pool.forget(broadcast, delivery);
            }
            Command::Stop(reply) => {
                // A commit held for the disk gives up after one more try: the stop must end.
                self.deliverer.held.stop();
                self.stopping = Some(reply);
            }
        }
    }
}

/// Tells the webhooks subscribed to modem events that a modem joined or left the pool (no
/// change of the store goes with it: the pool lives in memory). Without waiting; nothing is
/// written when no webhook wants modem events.
fn announce(store: &StoreHandle, data: serde_json::Value) {
    let store = store.clone();
    tokio::spawn(async move {
        let now = clock::now();
        let written = store
            .call(move |s| {
                if !s.webhooks_want(EventKind::Modem) {
                    return Ok(());
                }
                s.write(|tx| tx.emit_event(EventKind::Modem, &data, now))
            })
            .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot record a modem event for the webhooks");
        }
    });
}

/// Follows one modem's status and tells the dispatcher when it joins (with what its SIM sent
/// in the current hour and day, from the store, so caps survive restarts) or leaves the pool.
async fn follow(id: ModemId, handle: ModemHandle, me: Scheduler, store: StoreHandle, tz: Tz) {
    let mut status = handle.watch_status();
    let mut up: Option<Option<String>> = None;
    loop {
        let now = status.borrow_and_update().clone();
        match now.health {
            Health::Ready => {
                let imsi = now.imsi().map(str::to_string);
                // A new ready spell, or the SIM changed under it.
                if up.as_ref() != Some(&imsi) {
                    let sim = imsi.clone().unwrap_or_else(|| handle.device().to_string());
                    let read = store
                        .call(move |s| {
                            let now = clock::now();
                            let counts = crate::service::sim_counts(s, tz, &sim, now)?;
                            let quarantine = s.read(|tx| tx.sim_quarantine(&sim, now))?;
                            Ok::<_, crate::store::StoreError>((counts, quarantine))
                        })
                        .await;
                    let (counts, quarantine) = read.unwrap_or_default();
                    let (hour_parts, day_parts) = (counts.hour.parts, counts.day.parts);
                    me.send(Command::Up {
                        id,
                        imsi: imsi.clone(),
                        hour_parts,
                        day_parts,
                        quarantine,
                    });
                    announce(
                        &store,
                        serde_json::json!({
                            "change": "joined",
                            "device": handle.device(),
                            "sim": imsi,
                        }),
                    );
                    up = Some(imsi);
                    // The status may have moved on while the counts were read.
                    continue;
                }
            }
            health => {
                if let Some(imsi) = up.as_ref().filter(|_| health != Health::Stopped) {
                    announce(
                        &store,
                        serde_json::json!({
                            "change": "left",
                            "device": handle.device(),
                            "sim": imsi,
                            "health": health.name(),
                            "problem": now.problem,
                        }),
                    );
                }
                if up.take().is_some() || health == Health::Quarantined {
                    me.send(Command::Down {
                        id,
                        quarantine: health == Health::Quarantined,
                    });
                }
            }
        }
        if status.changed().await.is_err() {
            me.send(Command::Down {
                id,
                quarantine: false,
            });
            return;
        }
    }
}
