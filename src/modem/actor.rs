//! One task per modem, reached through a [`ModemHandle`]: it opens the port, runs init, sends
//! what it is asked to, watches the line between messages, and publishes
//!
//! - a watched [`ModemStatus`] (health, identity, the problem when not ready, counters), the
//!   one place that says what a modem is doing: `modem list`, `status` and the scheduler all
//!   read it;
//! - a stream of [`ModemEvent`]s: every unsolicited code the modem sends (`+CMTI`, `+CDS`,
//!   `+CDSI`, `+CMT`, registration changes, restarts...), parsed, for whoever subscribes.
//!
//! The actor decides what the modem is good for (leave the pool after a transport failure,
//! a SIM refusal or a restart; init again; probe again every `reprobe`); it never decides
//! what becomes of a delivery: that is the scheduler's, from the [`PartOutcome`]s it gets back.
//!
//! A send asked of a modem that is not ready is answered at once with [`Unavailable`] and
//! nothing is written to the port, so a delivery handed over at the moment its modem leaves
//! goes back to the queue untried.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::Instrument;

use super::{Engine, Health, Identity, ModemConfig, ModemError, PartOutcome, SendGate, SimProblem};
use crate::at::parse::{MessageEntry, StorageUse, StoredAt};
use crate::at::{ErrorClass, Urc};
use crate::sms::SubmitPdu;

/// What a modem is doing, as its actor last published it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModemStatus {
    pub health: Health,
    /// What the last successful init found.
    pub identity: Option<Identity>,
    /// Why the modem is not ready, when it is not.
    pub problem: Option<String>,
    /// Init attempts finished, successful or not (the first one tells the daemon it may
    /// report itself ready).
    pub probes: u64,
    /// Messages whose every part the network accepted.
    pub sent: u64,
    /// Messages with a part refused, not sent or of unknown fate.
    pub failed: u64,
    /// Times the modem answered `+CMS ERROR: 322` (memory full): whoever reads the receive
    /// memory drains it when this grows.
    pub memory_full: u64,
}

impl ModemStatus {
    fn new() -> Self {
        ModemStatus {
            health: Health::Probing,
            identity: None,
            problem: None,
            probes: 0,
            sent: 0,
            failed: 0,
            memory_full: 0,
        }
    }

    pub fn imsi(&self) -> Option<&str> {
        self.identity.as_ref().and_then(|i| i.imsi.as_deref())
    }
}

/// Something the modem said by itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ModemEvent {
    pub device: Arc<str>,
    /// The SIM's IMSI, when init found it.
    pub imsi: Option<String>,
    pub urc: Urc,
}

/// The modem cannot take a message now (not ready, or stopping); nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the modem {device} is not ready ({health})")]
pub struct Unavailable {
    pub device: String,
    pub health: Health,
}

/// What a [`ModemHandle`] can ask of its actor.
#[derive(Debug)]
pub enum ModemRequest {
    /// Send the parts of one message back to back and answer with each part's outcome.
    Send {
        pdus: Vec<SubmitPdu>,
        /// Asked before each part is written (`None`: always sent).
        gate: Option<SendGate>,
        reply: oneshot::Sender<Result<Vec<PartOutcome>, Unavailable>>,
        /// The sender's span (a delivery's): the actor logs the sending inside it.
        span: tracing::Span,
    },
    /// Probe again now if waiting to (the device reappeared).
    Probe,
    /// Read a stored message (a status report announced by `+CDSI`); `None`: the place is empty.
    ReadStored {
        at: StoredAt,
        reply: oneshot::Sender<Result<Option<MessageEntry>, StoredError>>,
    },
    /// List the receive memory (`AT+CPMS?`, `AT+CMGL=4`).
    ListStored {
        reply: oneshot::Sender<Result<StoredList, StoredError>>,
    },
    /// Delete a stored message (once what was read from it is committed).
    DeleteStored {
        at: StoredAt,
        reply: oneshot::Sender<Result<(), StoredError>>,
    },
}

/// The receive memory's messages, each with where it is, and how full the memory was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredList {
    pub messages: Vec<(StoredAt, MessageEntry)>,
    pub memory: Option<StorageUse>,
}

/// Why a stored message could not be read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error("{0}")]
    Modem(String),
}

/// The cheap, cloneable way to one modem's actor.
#[derive(Debug, Clone)]
pub struct ModemHandle {
    device: Arc<str>,
    /// The actor's span (`modem{device, imsi}`); none for a handle without a real actor.
    span: tracing::Span,
    requests: mpsc::Sender<ModemRequest>,
    status: watch::Receiver<ModemStatus>,
    events: broadcast::Sender<Arc<ModemEvent>>,
}

/// The actor's side of a handle: the requests it serves and what it publishes. The real actor
/// ([`spawn`]) holds one; scheduler tests hold one to play a modem.
#[derive(Debug)]
pub struct ActorEnd {
    pub device: Arc<str>,
    pub requests: mpsc::Receiver<ModemRequest>,
    pub status: watch::Sender<ModemStatus>,
    pub events: broadcast::Sender<Arc<ModemEvent>>,
}

/// Unsolicited codes kept for a slow subscriber before it starts missing some. A network
/// hands a modem its status reports in bursts (301 at once in tests/daemon_reports.rs), each
/// applied in its own commit, so the backlog must hold a burst: a routed report (`+CDS`)
/// missed is lost for good (its delivery stays `sent`). The channel allocates every slot up
/// front, so the events travel behind an `Arc`: a slot is then about 50 bytes instead of 140
/// (64 modems: 3 MB instead of 9 MB; BENCHMARKS.md, section 1).
const EVENT_BACKLOG: usize = 1024;

/// A handle and its actor end, connected. The status starts as [`Health::Probing`].
pub fn channel(device: &str) -> (ModemHandle, ActorEnd) {
    let device: Arc<str> = Arc::from(device);
    let (req_tx, req_rx) = mpsc::channel(16);
    let (status_tx, status_rx) = watch::channel(ModemStatus::new());
    let (events, _) = broadcast::channel(EVENT_BACKLOG);
    (
        ModemHandle {
            device: device.clone(),
            span: tracing::Span::none(),
            requests: req_tx,
            status: status_rx,
            events: events.clone(),
        },
        ActorEnd {
            device,
            requests: req_rx,
            status: status_tx,
            events,
        },
    )
}

impl ModemHandle {
    /// The device path (or what the configuration calls it).
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The actor's span: a span made its child (a delivery's) names the modem and its IMSI.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The status now.
    pub fn status(&self) -> ModemStatus {
        self.status.borrow().clone()
    }

    /// A receiver that wakes on every status change.
    pub fn watch_status(&self) -> watch::Receiver<ModemStatus> {
        self.status.clone()
    }

    /// Unsolicited codes from now on.
    pub fn events(&self) -> broadcast::Receiver<Arc<ModemEvent>> {
        self.events.subscribe()
    }

    /// Sends the parts of one message through this modem, back to back, and returns each
    /// part's outcome; [`Unavailable`] when the modem is not ready (nothing was written).
    pub async fn send(&self, pdus: Vec<SubmitPdu>) -> Result<Vec<PartOutcome>, Unavailable> {
        self.send_gated(pdus, None).await
    }

    /// [`send`](Self::send), asking `gate` right before each part's `AT+CMGS`: when it says
    /// no, that part and the rest are not written ([`NotSentReason::Fenced`]).
    pub async fn send_gated(
        &self,
        pdus: Vec<SubmitPdu>,
        gate: Option<SendGate>,
    ) -> Result<Vec<PartOutcome>, Unavailable> {
        let unavailable = || Unavailable {
            device: self.device.to_string(),
            health: self.status.borrow().health,
        };
        let (reply, answer) = oneshot::channel();
        if self
            .requests
            .send(ModemRequest::Send {
                pdus,
                gate,
                reply,
                span: tracing::Span::current(),
            })
            .await
            .is_err()
        {
            return Err(Unavailable {
                device: self.device.to_string(),
                health: Health::Stopped,
            });
        }
        answer.await.unwrap_or_else(|_| Err(unavailable()))
    }

    /// Reads the message stored at `at` (`AT+CPMS`, `AT+CMGR`), between messages.
    pub async fn read_stored(&self, at: StoredAt) -> Result<Option<MessageEntry>, StoredError> {
        let (reply, answer) = oneshot::channel();
        self.ask(ModemRequest::ReadStored { at, reply }, answer)
            .await
    }

    /// Lists the receive memory (`AT+CPMS?`, `AT+CMGL=4`), between messages.
    pub async fn list_stored(&self) -> Result<StoredList, StoredError> {
        let (reply, answer) = oneshot::channel();
        self.ask(ModemRequest::ListStored { reply }, answer).await
    }

    /// Deletes the message stored at `at` (`AT+CPMS`, `AT+CMGD`), between messages.
    pub async fn delete_stored(&self, at: StoredAt) -> Result<(), StoredError> {
        let (reply, answer) = oneshot::channel();
        self.ask(ModemRequest::DeleteStored { at, reply }, answer)
            .await
    }

    async fn ask<T>(
        &self,
        request: ModemRequest,
        answer: oneshot::Receiver<Result<T, StoredError>>,
    ) -> Result<T, StoredError> {
        let stopped = || {
            StoredError::Unavailable(Unavailable {
                device: self.device.to_string(),
                health: Health::Stopped,
            })
        };
        if self.requests.send(request).await.is_err() {
            return Err(stopped());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Asks a modem waiting to be probed again to probe now (hot-plug: its device reappeared).
    pub fn probe(&self) {
        let _ = self.requests.try_send(ModemRequest::Probe);
    }

    /// Waits until the actor finished its first init attempt (ready or not) or stopped.
    pub async fn first_probe(&self) {
        let mut status = self.status.clone();
        let _ = status
            .wait_for(|s| s.probes > 0 || s.health == Health::Stopped)
            .await;
    }
}

impl ActorEnd {
    fn publish(&self, f: impl FnOnce(&mut ModemStatus)) {
        self.status.send_modify(f);
    }

    fn unavailable(&self) -> Unavailable {
        Unavailable {
            device: self.device.to_string(),
            health: self.status.borrow().health,
        }
    }

    /// Answers every waiting send with [`Unavailable`]; `true` when a probe was asked for.
    fn refuse(&self, request: ModemRequest) -> bool {
        match request {
            ModemRequest::Send { reply, .. } => {
                let _ = reply.send(Err(self.unavailable()));
                false
            }
            ModemRequest::Probe => true,
            ModemRequest::ReadStored { reply, .. } => {
                let _ = reply.send(Err(self.unavailable().into()));
                false
            }
            ModemRequest::DeleteStored { reply, .. } => {
                let _ = reply.send(Err(self.unavailable().into()));
                false
            }
            ModemRequest::ListStored { reply } => {
                let _ = reply.send(Err(self.unavailable().into()));
                false
            }
        }
    }
}

/// How an actor drives its modem.
#[derive(Debug, Clone)]
pub struct ActorSettings {
    pub modem: ModemConfig,
    /// How long a modem that is not ready waits before it is probed again.
    pub reprobe: Duration,
}

/// Starts the actor of `device`. `open` opens its port (again after each loss); the actor
/// stops when `shutdown` turns true, after finishing the message it is sending.
pub fn spawn<S, F>(
    device: &str,
    open: F,
    settings: ActorSettings,
    shutdown: watch::Receiver<bool>,
) -> (ModemHandle, tokio::task::JoinHandle<()>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: FnMut() -> Result<S, ModemError> + Send + 'static,
{
    let (mut handle, end) = channel(device);
    let span = tracing::info_span!("modem", device = %device, imsi = tracing::field::Empty);
    handle.span = span.clone();
    let task = tokio::spawn(run(end, open, settings, shutdown).instrument(span));
    (handle, task)
}

/// Why a ready modem left the pool.
enum Leave {
    Shutdown,
    /// The modem announced a restart: init again at once, on the same engine (what it
    /// learnt, such as a periodic `^BOOT`, stays with it).
    Restarted,
    /// The SIM refused to send (`+CMS ERROR` of the SIM class): out until re-probed.
    Quarantine(String),
    /// The port is gone or the modem stopped answering.
    Transport(Health, String),
}

impl Leave {
    /// The health to publish once the modem left.
    fn health(&self) -> Health {
        match self {
            Leave::Shutdown => Health::Stopped,
            Leave::Restarted => Health::Probing,
            Leave::Quarantine(_) => Health::Quarantined,
            // A transport failure leaves no modem ready, whatever the engine last knew.
            Leave::Transport(Health::Ready | Health::Unknown | Health::Probing, _) => Health::Gone,
            Leave::Transport(h, _) => *h,
        }
    }

    fn problem(&self) -> &str {
        match self {
            Leave::Shutdown => "stopping",
            Leave::Restarted => "the modem restarted; running init again",
            Leave::Quarantine(p) | Leave::Transport(_, p) => p,
        }
    }
}

async fn run<S, F>(
    mut end: ActorEnd,
    mut open: F,
    settings: ActorSettings,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut() -> Result<S, ModemError>,
{
    let mut reinit: Option<Engine<S>> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        end.publish(|s| s.health = Health::Probing);
        let init = async {
            match reinit.take() {
                Some(mut engine) => engine.init().await.map(|id| (engine, id)),
                None => {
                    let mut engine = Engine::new(open()?, settings.modem.clone());
                    let identity = engine.init().await?;
                    Ok((engine, identity))
                }
            }
        };
        let Some(attempt) = refusing_sends(&mut end, &mut shutdown, init).await else {
            break;
        };
        match attempt {
            Ok((mut engine, identity)) => {
                if let Some(imsi) = &identity.imsi {
                    tracing::Span::current().record("imsi", imsi.as_str());
                }
                end.publish(|s| {
                    s.health = Health::Ready;
                    s.identity = Some(identity);
                    s.problem = None;
                    s.probes += 1;
                });
                let leave = serve(&mut engine, &mut end, &mut shutdown).await;
                match leave {
                    Leave::Shutdown => break,
                    Leave::Restarted => {
                        tracing::warn!("the modem restarted; running init again");
                        reinit = Some(engine);
                        continue;
                    }
                    Leave::Quarantine(_) | Leave::Transport(..) => {
                        tracing::warn!(problem = leave.problem(), "modem out of the pool");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "modem not ready");
                let health = init_failure_health(&e);
                end.publish(|s| {
                    s.health = health;
                    s.problem = Some(e.to_string());
                    s.probes += 1;
                });
            }
        }
        // Wait before probing again; a probe request (hot-plug) or shutdown cuts it short.
        let wait = tokio::time::sleep(settings.reprobe);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                _ = shutdown.changed() => break,
                request = end.requests.recv() => match request {
                    Some(r) => if end.refuse(r) { break },
                    None => break,
                },
            }
        }
    }
    end.publish(|s| s.health = Health::Stopped);
    // Whatever is still asked of a stopped modem is refused, not left hanging.
    end.requests.close();
    while let Ok(r) = end.requests.try_recv() {
        end.refuse(r);
    }
}

/// Runs `work` (init) while refusing sends; `None` on shutdown.
async fn refusing_sends<T>(
    end: &mut ActorEnd,
    shutdown: &mut watch::Receiver<bool>,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return Some(out),
            _ = shutdown.changed() => return None,
            Some(request) = end.requests.recv() => {
                end.refuse(request);
            }
        }
    }
}

/// What a failed init says about the modem.
fn init_failure_health(e: &ModemError) -> Health {
    match e {
        ModemError::Hung { .. } => Health::Hung,
        _ if e.is_transport() => Health::Gone,
        ModemError::Sim(SimProblem::NotInserted) => Health::NoSim,
        ModemError::Sim(SimProblem::PinRequired | SimProblem::BadPin | SimProblem::WrongPin) => {
            Health::PinNeeded
        }
        ModemError::Sim(_) | ModemError::NoSmsc => Health::SimLocked,
        ModemError::NotRegistered { .. } => Health::NotRegistered,
        _ => Health::NotReady,
    }
}

/// Serves requests and watches the line until the modem must leave the pool.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    engine: &mut Engine<S>,
    end: &mut ActorEnd,
    shutdown: &mut watch::Receiver<bool>,
) -> Leave {
    loop {
        if *shutdown.borrow() {
            return Leave::Shutdown;
        }
        // A reset noticed during the last exchange (RDY, ^BOOT after the answer): the modem
        // lost its settings (PDU mode, echo...), so init again before the next message.
        if engine.needs_reinit() {
            return Leave::Restarted;
        }
        if engine.take_memory_full() {
            tracing::warn!("the modem's message memory is full (+CMS ERROR: 322)");
            end.publish(|s| s.memory_full += 1);
        }
        // Shutdown first: a message asked for at the same moment is refused (it stays queued
        // for the next start) instead of starting after SIGTERM.
        tokio::select! {
            biased;
            _ = shutdown.changed() => return Leave::Shutdown,
            request = end.requests.recv() => match request {
                None => return Leave::Shutdown,
                Some(ModemRequest::Probe) => {}
                Some(ModemRequest::Send { pdus, gate, reply, span }) => {
                    engine.gate = gate;
                    let outcomes = engine.send_message(&pdus).instrument(span).await;
                    engine.gate = None;
                    let all_sent = outcomes.iter().all(PartOutcome::is_sent);
                    // Modems that block sending while the memory is full say so here.
                    let memory_full = engine.take_memory_full() | outcomes.iter().any(|o| {
                        matches!(o, PartOutcome::Rejected { result: crate::at::Final::Cms(e), .. }
                            if e.code() == Some(322))
                    });
                    let leave = leave_after(&outcomes, engine);
                    // The status changes before the answer goes out, so whoever reads the
                    // answer already sees the modem out of the pool.
                    end.publish(|s| {
                        if all_sent {
                            s.sent += 1;
                        } else {
                            s.failed += 1;
                        }
                        if memory_full {
                            s.memory_full += 1;
                        }
                        if let Some(leave) = &leave {
                            s.health = leave.health();
                            s.problem = Some(leave.problem().to_string());
                        }
                    });
                    let _ = reply.send(Ok(outcomes));
                    if let Some(leave) = leave {
                        return leave;
                    }
                }
                Some(ModemRequest::ReadStored { at, reply }) => {
                    let read = engine.read_stored(&at).await;
                    if let Some(leave) = transport_leave(&read, engine, end) {
                        let _ = reply.send(Err(StoredError::Modem(leave.problem().to_string())));
                        return leave;
                    }
                    let _ = reply.send(read.map_err(|e| StoredError::Modem(e.to_string())));
                }
                Some(ModemRequest::ListStored { reply }) => {
                    let listed = engine.list_stored().await;
                    if let Some(leave) = transport_leave(&listed, engine, end) {
                        let _ = reply.send(Err(StoredError::Modem(leave.problem().to_string())));
                        return leave;
                    }
                    let _ = reply.send(
                        listed
                            .map(|(messages, memory)| StoredList { messages, memory })
                            .map_err(|e| StoredError::Modem(e.to_string())),
                    );
                }
                Some(ModemRequest::DeleteStored { at, reply }) => {
                    let deleted = engine.delete_stored(&at).await;
                    if let Some(leave) = transport_leave(&deleted, engine, end) {
                        let _ = reply.send(Err(StoredError::Modem(leave.problem().to_string())));
                        return leave;
                    }
                    let _ = reply.send(deleted.map_err(|e| StoredError::Modem(e.to_string())));
                }
            },
            urc = engine.next_urc() => match urc {
                Ok(urc) => {
                    tracing::debug!(?urc, "unsolicited");
                    let routed = matches!(urc, Urc::StatusReport { .. } | Urc::Message { .. });
                    let imsi = end.status.borrow().imsi().map(str::to_string);
                    // Nobody listening is fine: the codes are published, not queued forever.
                    let _ = end.events.send(Arc::new(ModemEvent {
                        device: end.device.clone(),
                        imsi,
                        urc,
                    }));
                    if routed {
                        // Acknowledged where the modem waits for it, before anything else.
                        let acked = engine.ack_routed().await;
                        if let Some(leave) = transport_leave(&acked, engine, end) {
                            return leave;
                        }
                    }
                }
                Err(e) => {
                    let leave = Leave::Transport(engine.health(), e.to_string());
                    end.publish(|s| {
                        s.health = leave.health();
                        s.problem = Some(leave.problem().to_string());
                    });
                    return leave;
                }
            },
        }
    }
}

/// When a stored-message or acknowledgement command lost the modem (port gone, hung): the
/// leave, already published.
fn transport_leave<T, S: AsyncRead + AsyncWrite + Unpin>(
    result: &Result<T, ModemError>,
    engine: &Engine<S>,
    end: &ActorEnd,
) -> Option<Leave> {
    match result {
        Err(e) if e.is_transport() => {
            let leave = if engine.needs_reinit() {
                Leave::Restarted
            } else {
                Leave::Transport(engine.health(), e.to_string())
            };
            end.publish(|s| {
                s.health = leave.health();
                s.problem = Some(leave.problem().to_string());
            });
            Some(leave)
        }
        _ => None,
    }
}

/// Whether the modem must leave the pool after sending a message with these outcomes.
fn leave_after<S: AsyncRead + AsyncWrite + Unpin>(
    outcomes: &[PartOutcome],
    engine: &Engine<S>,
) -> Option<Leave> {
    let leave = |what: String| {
        if engine.needs_reinit() {
            Leave::Restarted
        } else {
            Leave::Transport(engine.health(), what)
        }
    };
    for outcome in outcomes {
        match outcome {
            PartOutcome::Rejected {
                result,
                class: ErrorClass::Sim,
            } => return Some(Leave::Quarantine(result.to_line())),
            PartOutcome::NotSent { .. } | PartOutcome::Ambiguous { .. }
                if engine.health() != Health::Ready =>
            {
                return Some(leave(outcome.summary()))
            }
            PartOutcome::Failed { error } => {
                return Some(Leave::Transport(engine.health(), error.to_string()))
            }
            _ => {}
        }
    }
    None
}
