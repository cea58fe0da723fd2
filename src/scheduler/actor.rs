//! One task per modem: opens the port, runs init, then takes jobs from the dispatcher one at
//! a time. Each delivery's state is committed before the next step: `sending` (with modem and
//! try number) before `AT+CMGS`, the outcome right after. Between jobs it watches the port for
//! unsolicited codes, so an unplugged, rebooted or hung modem is noticed and re-probed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch, Notify};

use super::dispatcher::{Command, Handle};
use super::policy::{self, Decision, RetryPolicy, TryResult};
use super::pool::{Job, ModemId};
use super::progress::{Board, Transition};
use crate::modem::{Engine, Health, Identity, ModemConfig, ModemError, PartOutcome};
use crate::sms::{self, Address, SubmitOptions};
use crate::store::{DeliveryState, StoreError, StoreHandle};

/// What `modem list` shows of one modem besides the pool's own counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModemInfo {
    pub device: String,
    /// `probing`, `ready`, `gone`, `hung`, `no-sim`, `pin-needed`, ...
    pub health: String,
    pub identity: Option<Identity>,
    /// Why the modem is not ready, when it is not.
    pub problem: Option<String>,
    pub sent: u64,
    pub failed: u64,
}

/// Modem infos by slot, shared with the request handlers.
pub type Registry = Arc<Mutex<BTreeMap<ModemId, ModemInfo>>>;

/// Opens a device; the daemon passes the serial port opener, tests pass PTYs or duplex pipes.
pub trait Opener: Send + Sync + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn open(&self, device: &str) -> Result<Self::Stream, ModemError>;
}

/// Everything an actor needs.
#[derive(Clone)]
pub struct ActorContext {
    pub dispatcher: Handle,
    pub store: StoreHandle,
    pub board: Arc<Board>,
    pub registry: Registry,
    pub retry: RetryPolicy,
    pub modem_config: ModemConfig,
    pub reprobe: Duration,
    pub tz: chrono_tz::Tz,
    pub shutdown: watch::Receiver<bool>,
}

/// Starts the actor for `device`. `first_probe` fires after its first init attempt (ready or
/// not), so the daemon can tell systemd it is ready once every modem was tried. `poke` wakes
/// a waiting re-probe at once (hot-plug).
pub async fn spawn<O: Opener>(
    ctx: ActorContext,
    opener: Arc<O>,
    device: String,
    max_per_hour: u32,
    max_per_day: u32,
    first_probe: oneshot::Sender<()>,
    poke: Arc<Notify>,
) -> Option<tokio::task::JoinHandle<()>> {
    let (tx, rx) = mpsc::channel(1);
    let id = ctx
        .dispatcher
        .register(&device, max_per_hour, max_per_day, tx)
        .await?;
    ctx.registry.lock().expect("registry").insert(
        id,
        ModemInfo {
            device: device.clone(),
            health: "probing".into(),
            ..Default::default()
        },
    );
    Some(tokio::spawn(run(
        ctx,
        opener,
        id,
        device,
        rx,
        first_probe,
        poke,
    )))
}

fn set_info(ctx: &ActorContext, id: ModemId, f: impl FnOnce(&mut ModemInfo)) {
    if let Some(info) = ctx.registry.lock().expect("registry").get_mut(&id) {
        f(info);
    }
}

async fn run<O: Opener>(
    mut ctx: ActorContext,
    opener: Arc<O>,
    id: ModemId,
    device: String,
    mut jobs: mpsc::Receiver<Job>,
    first_probe: oneshot::Sender<()>,
    poke: Arc<Notify>,
) {
    let mut first_probe = Some(first_probe);
    // After a restart the modem announced, init runs again on the same port and engine (what
    // the engine learnt, such as a periodic `^BOOT`, stays with it).
    let mut reinit: Option<Engine<O::Stream>> = None;
    loop {
        if *ctx.shutdown.borrow() {
            return;
        }
        let attempt = match reinit.take() {
            Some(mut engine) => {
                set_info(&ctx, id, |i| i.health = "probing".into());
                engine.init().await.map(|identity| (engine, identity))
            }
            None => probe(&ctx, &*opener, id, &device).await,
        };
        if let Some(tx) = first_probe.take() {
            let _ = tx.send(());
        }
        match attempt {
            Ok((mut engine, identity)) => {
                let imsi = identity.imsi.clone();
                let sim = imsi.clone().unwrap_or_else(|| device.clone());
                let tz = ctx.tz;
                let counts = ctx
                    .store
                    .call(move |s| crate::service::sim_counts(s, tz, &sim, Utc::now()))
                    .await
                    .unwrap_or_default();
                set_info(&ctx, id, |i| {
                    i.health = Health::Ready.name().into();
                    i.identity = Some(identity);
                    i.problem = None;
                });
                ctx.dispatcher.send(Command::Up {
                    id,
                    imsi: imsi.clone(),
                    hour_parts: counts.hour.parts,
                    day_parts: counts.day.parts,
                });
                let why = serve(
                    &mut ctx,
                    &mut engine,
                    id,
                    &device,
                    imsi.as_deref(),
                    &mut jobs,
                )
                .await;
                let quarantine = matches!(&why, Stop::Sim(_));
                ctx.dispatcher.send(Command::Down { id, quarantine });
                // A job handed over just before the modem left goes back to the queue, so the
                // channel is empty when the modem rejoins.
                while let Ok(job) = jobs.try_recv() {
                    ctx.dispatcher.send(Command::Done {
                        id,
                        reserved_parts: job.parts,
                        sent_parts: 0,
                        retry: Some(job),
                    });
                }
                let restarted = matches!(why, Stop::Reinit);
                let (health, problem) = match why {
                    Stop::Shutdown => return,
                    Stop::Reinit => (
                        "probing".to_string(),
                        "the modem restarted; running init again".to_string(),
                    ),
                    Stop::Sim(e) => ("sim-problem".into(), e),
                    Stop::Transport(health, e) => (health.name().to_string(), e),
                };
                tracing::warn!(%device, %problem, "modem out of the pool");
                set_info(&ctx, id, |i| {
                    i.health = health;
                    i.problem = Some(problem);
                });
                if restarted {
                    reinit = Some(engine);
                    continue;
                }
            }
            Err(e) => {
                let health = if e.is_transport() {
                    if matches!(e, ModemError::Hung { .. }) {
                        "hung"
                    } else {
                        "gone"
                    }
                } else if e.is_sim() {
                    "sim-problem"
                } else {
                    "not-ready"
                };
                tracing::warn!(%device, error = %e, "modem not ready");
                set_info(&ctx, id, |i| {
                    i.health = health.into();
                    i.problem = Some(e.to_string());
                });
            }
        }
        // Wait before probing again; hot-plug events and shutdown cut the wait short.
        tokio::select! {
            _ = tokio::time::sleep(ctx.reprobe) => {}
            _ = poke.notified() => {}
            _ = ctx.shutdown.changed() => {}
        }
    }
}

async fn probe<O: Opener>(
    ctx: &ActorContext,
    opener: &O,
    id: ModemId,
    device: &str,
) -> Result<(Engine<O::Stream>, Identity), ModemError> {
    set_info(ctx, id, |i| i.health = "probing".into());
    let stream = opener.open(device)?;
    let mut engine = Engine::new(stream, ctx.modem_config.clone());
    let identity = engine.init().await?;
    Ok((engine, identity))
}

/// Why a ready modem left the pool.
enum Stop {
    Shutdown,
    Reinit,
    Sim(String),
    Transport(Health, String),
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &mut ActorContext,
    engine: &mut Engine<S>,
    id: ModemId,
    device: &str,
    imsi: Option<&str>,
    jobs: &mut mpsc::Receiver<Job>,
) -> Stop {
    loop {
        if *ctx.shutdown.borrow() {
            return Stop::Shutdown;
        }
        // A reset noticed during the last exchange (RDY, ^BOOT after the answer): the modem
        // lost its settings (PDU mode, echo...), so init again before the next message.
        if engine.needs_reinit() {
            return Stop::Reinit;
        }
        // Shutdown first: a job handed over at the same moment stays queued in the database
        // for the next start instead of starting a new message after SIGTERM.
        let job = tokio::select! {
            biased;
            _ = ctx.shutdown.changed() => return Stop::Shutdown,
            job = jobs.recv() => match job {
                Some(job) => job,
                None => return Stop::Shutdown,
            },
            urc = engine.next_urc() => match urc {
                Ok(urc) => {
                    tracing::debug!(%device, ?urc, "unsolicited");
                    if engine.needs_reinit() {
                        return Stop::Reinit;
                    }
                    continue;
                }
                Err(e) => return Stop::Transport(engine.health(), e.to_string()),
            },
        };
        if let Some(stop) = run_job(ctx, engine, id, device, imsi, job).await {
            return stop;
        }
    }
}

/// Sends one delivery and records what happened. `Some` when the modem must leave the pool.
async fn run_job<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &ActorContext,
    engine: &mut Engine<S>,
    id: ModemId,
    device: &str,
    imsi: Option<&str>,
    job: Job,
) -> Option<Stop> {
    let reserved = job.parts;
    let done = |sent_parts: u32, retry: Option<Job>| Command::Done {
        id,
        reserved_parts: reserved,
        sent_parts,
        retry,
    };
    let (delivery, dev) = (job.delivery, device.to_string());
    let started = match ctx
        .store
        .call(move |s| s.mark_sending(delivery, &dev, Utc::now()))
        .await
    {
        Ok(update) => update,
        Err(e) => {
            // Not ours to send (state changed) or the database is failing: leave it queued.
            tracing::error!(delivery = delivery.0, error = %e, "cannot mark the delivery as sending; not sent");
            // Fault matrix (issue 7): when the database is failing (disk full, I/O error) the
            // job was dropped from this run's queue, so an outage of a second emptied the
            // queue and the broadcast stalled until a restart. Nothing was sent and no try
            // was spent: hand it back to be tried again a little later.
            let retry = e.is_internal().then(|| {
                let mut j = job.clone();
                j.not_before = Some(Utc::now() + chrono::Duration::seconds(1));
                j
            });
            ctx.dispatcher.send(done(0, retry));
            return None;
        }
    };
    ctx.board.transition(Transition {
        broadcast: job.broadcast,
        delivery: job.delivery,
        number: &job.number,
        from: DeliveryState::Queued,
        to: DeliveryState::Sending,
        modem: Some(device),
        error: None,
    });
    let pdus = match Address::parse(&job.number)
        .map_err(|e| e.to_string())
        .and_then(|to| {
            let mut opts = SubmitOptions::to(to);
            opts.concat_ref = (job.delivery.0 % 256) as u8;
            opts.max_parts = sms::segment::MAX_PARTS_LIMIT;
            sms::encode_submit(&job.text, &opts).map_err(|e| e.to_string())
        }) {
        Ok(pdus) => pdus,
        Err(e) => {
            let result = TryResult::Recipient {
                error: format!("cannot encode: {e}"),
                parts_sent: 0,
            };
            apply(ctx, id, &job, device, started.attempts, result, imsi).await;
            ctx.dispatcher.send(done(0, None));
            return None;
        }
    };
    let outcomes = engine.send_message(&pdus).await;
    let (result, stop) = summarize(&outcomes, engine);
    let sent_parts = result.parts_sent();
    let retry = apply(ctx, id, &job, device, started.attempts, result, imsi).await;
    let retry = retry.map(|mut j| {
        j.avoid = Some(id);
        j.attempts = started.attempts;
        j
    });
    ctx.dispatcher.send(done(sent_parts, retry));
    stop
}

/// Why the modem leaves the pool after a failed exchange: a reset it announced (init again at
/// once), or what its health says.
fn leave<S: AsyncRead + AsyncWrite + Unpin>(engine: &Engine<S>, what: String) -> Stop {
    if engine.needs_reinit() {
        Stop::Reinit
    } else {
        Stop::Transport(engine.health(), what)
    }
}

/// The try's result for the policy, and whether the modem must leave the pool.
fn summarize<S: AsyncRead + AsyncWrite + Unpin>(
    outcomes: &[PartOutcome],
    engine: &Engine<S>,
) -> (TryResult, Option<Stop>) {
    let mut refs = Vec::new();
    for outcome in outcomes {
        let parts_sent = refs.len() as u32;
        match outcome {
            PartOutcome::Sent { message_ref } => refs.push(message_ref.unwrap_or(0)),
            PartOutcome::Rejected { result, class } => {
                let error = result.to_line();
                return match class {
                    crate::at::ErrorClass::Transient => {
                        (TryResult::Transient { error, parts_sent }, None)
                    }
                    crate::at::ErrorClass::Recipient => {
                        (TryResult::Recipient { error, parts_sent }, None)
                    }
                    crate::at::ErrorClass::Sim => (
                        TryResult::Sim {
                            error: error.clone(),
                            parts_sent,
                        },
                        Some(Stop::Sim(error)),
                    ),
                };
            }
            PartOutcome::NotSent { .. } => {
                let stop = (!matches!(engine.health(), Health::Ready))
                    .then(|| leave(engine, outcome.summary()));
                return (
                    TryResult::NotSent {
                        error: outcome.summary(),
                        parts_sent,
                    },
                    stop,
                );
            }
            PartOutcome::Ambiguous { .. } => {
                let stop = (!matches!(engine.health(), Health::Ready))
                    .then(|| leave(engine, outcome.summary()));
                return (
                    TryResult::Ambiguous {
                        error: outcome.summary(),
                        parts_sent,
                    },
                    stop,
                );
            }
            PartOutcome::Failed { error } => {
                let stop = Some(Stop::Transport(engine.health(), error.to_string()));
                return (
                    TryResult::NotSent {
                        error: error.to_string(),
                        parts_sent,
                    },
                    stop,
                );
            }
            PartOutcome::NotAttempted => {}
        }
    }
    (TryResult::Sent { refs }, None)
}

/// Commits the decision for `job` and updates the board; returns the job when it must be
/// queued again.
async fn apply(
    ctx: &ActorContext,
    id: ModemId,
    job: &Job,
    device: &str,
    attempt: u32,
    result: TryResult,
    imsi: Option<&str>,
) -> Option<Job> {
    let parts_sent = result.parts_sent();
    let decision = policy::decide(result, attempt, &ctx.retry, Utc::now());
    let delivery = job.delivery;
    let sim = imsi.unwrap_or(device).to_string();
    let (state, error) = match &decision {
        Decision::Sent { .. } => (DeliveryState::Sent, None),
        Decision::Failed { reason } => (DeliveryState::Failed, Some(reason.clone())),
        Decision::Retry { error, .. } => (DeliveryState::Queued, Some(error.clone())),
        Decision::Uncertain { reason } => (DeliveryState::Uncertain, Some(reason.clone())),
    };
    let d = decision.clone();
    let committed = ctx
        .store
        .call(move |s| -> Result<(), StoreError> {
            let now = Utc::now();
            if parts_sent > 0 {
                s.record_sim_send(&sim, parts_sent, now)?;
            }
            match d {
                Decision::Sent { refs } => s.mark_sent(delivery, &refs, now).map(drop),
                Decision::Failed { reason } => s.mark_failed(delivery, &reason, now).map(drop),
                Decision::Retry {
                    error,
                    not_before,
                    possible_duplicate,
                    ..
                } => {
                    if possible_duplicate {
                        s.flag_possible_duplicate(delivery)?;
                    }
                    s.requeue(delivery, &error, not_before, now).map(drop)
                }
                Decision::Uncertain { reason } => {
                    s.mark_uncertain(delivery, &reason, now).map(drop)
                }
            }
        })
        .await;
    if let Err(e) = committed {
        // The delivery stays `sending` in the database; the next start applies the in-flight
        // policy to it. Keep it out of this run's queue to avoid a second send now.
        tracing::error!(delivery = delivery.0, error = %e, "cannot record the outcome of a send");
        return None;
    }
    set_info(ctx, id, |i| match state {
        DeliveryState::Sent => i.sent += 1,
        DeliveryState::Failed => i.failed += 1,
        _ => {}
    });
    ctx.board.transition(Transition {
        broadcast: job.broadcast,
        delivery: job.delivery,
        number: &job.number,
        from: DeliveryState::Sending,
        to: state,
        modem: Some(device),
        error: error.as_deref(),
    });
    match decision {
        Decision::Retry { not_before, .. } => {
            let mut j = job.clone();
            j.not_before = Some(not_before);
            Some(j)
        }
        _ => None,
    }
}
