//! The daemon: wiring of the store, the rules, the scheduler, the modem actors and the socket.
//!
//! | file | owns |
//! | --- | --- |
//! | `mod.rs` | [`run`]: start-up order, shutdown, hot-plug, what handlers share ([`Shared`]) |
//! | [`socket`] | binding the socket (stale file, live daemon, systemd socket activation) |
//! | [`listener`] | connections: line framing, hello, peer uid, subscribe streams |
//! | [`handlers`] | one function per request |
//! | [`notify`] | systemd `READY=1`, `STATUS=`, watchdog |
//!
//! Start-up: configuration checked, database opened and migrated, deliveries a crash left
//! in `sending` recovered by policy, socket bound, queued deliveries handed to the scheduler,
//! modems probed, `READY=1`. SIGTERM/SIGINT: stop taking requests, let each modem finish the
//! message it is sending, leave the rest queued for the next start.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch, Notify};

use crate::config::Config;
use crate::modem::{ModemConfig, ModemError};
use crate::scheduler::actor::{self, ActorContext, Opener, Registry};
use crate::scheduler::dispatcher::{self, Command};
use crate::scheduler::policy::RetryPolicy;
use crate::scheduler::pool::{Pool, SlotState};
use crate::scheduler::progress::Board;
use crate::service::{Country, SensitiveFilter, Settings};
use crate::store::{GroupId, OpenOptions, StoreError, StoreHandle};

pub mod handlers;
pub mod listener;
pub mod notify;
pub mod socket;

/// What every connection and handler shares.
pub struct Shared {
    pub config: Config,
    pub settings: Arc<Settings>,
    pub store: StoreHandle,
    pub board: Arc<Board>,
    pub scheduler: dispatcher::Handle,
    pub registry: Registry,
    pub started: Instant,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// One entry per modem: pool state and counters plus what the modem said about itself.
    pub async fn modem_list(&self) -> Vec<Value> {
        let (slots, _) = self.scheduler.snapshot().await;
        let infos = self.registry.lock().expect("registry").clone();
        slots
            .iter()
            .enumerate()
            .map(|(id, slot)| {
                let info = infos.get(&id).cloned().unwrap_or_default();
                let ident = info.identity.as_ref();
                let state = match slot.state {
                    SlotState::Idle => "ready".to_string(),
                    SlotState::Busy => "busy".to_string(),
                    SlotState::Quarantined => "quarantined".to_string(),
                    SlotState::Down => info.health.clone(),
                };
                json!({
                    "device": slot.device,
                    "state": state,
                    "operator": ident.and_then(|i| i.operator.clone()),
                    "signal_dbm": ident.and_then(|i| i.signal.as_ref()).and_then(|s| s.dbm()),
                    "imsi": slot.imsi.clone().or_else(|| ident.and_then(|i| i.imsi.clone())),
                    "model": ident.and_then(|i| i.model.clone()),
                    "sent_this_hour": slot.usage.map(|u| u.hour_parts),
                    "sent_today": slot.usage.map(|u| u.day_parts),
                    "max_per_hour": slot.max_per_hour,
                    "max_per_day": slot.max_per_day,
                    "sent": info.sent,
                    "failed": info.failed,
                    "problem": info.problem,
                })
            })
            .collect()
    }
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Socket(#[from] socket::SocketError),
    #[error("{0}")]
    Io(String),
}

/// The rules' settings from the configuration (reads the sensitive word files).
pub fn settings(config: &Config) -> Result<Settings, String> {
    let country = Country::from_iso(&config.daemon.default_country)
        .map_err(|e| format!("default_country: {e}"))?;
    let sensitive =
        SensitiveFilter::from_files(&config.message.sensitive_words).map_err(|e| e.to_string())?;
    Ok(Settings {
        timezone: config.tz(),
        default_country: country,
        daily_quota: config.quota.daily,
        monthly_quota: config.quota.monthly,
        header_template: config.message.header.clone(),
        max_parts: config.message.max_parts,
        sensitive,
        sensitive_policy: config.message.sensitive_policy,
    })
}

/// Opens serial ports.
struct SerialOpener {
    baud: HashMap<String, u32>,
}

impl Opener for SerialOpener {
    type Stream = crate::modem::port::Port;
    fn open(&self, device: &str) -> Result<Self::Stream, ModemError> {
        crate::modem::port::open(
            device,
            self.baud
                .get(device)
                .copied()
                .unwrap_or(crate::modem::port::DEFAULT_BAUD),
        )
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), StartError> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| StartError::Io(e.to_string()))?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| StartError::Io(e.to_string()))?;
    let stop = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    };
    run_until(config, stop, None).await
}

/// A daemon running inside this process (the demo, benchmarks), started by
/// [`InProcess::start`] and stopped by [`InProcess::stop`].
pub struct InProcess {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), StartError>>,
}

impl InProcess {
    /// Spawns the daemon on `rt` and blocks until it is ready (socket bound, modems probed).
    pub fn start(rt: &tokio::runtime::Runtime, config: Config) -> Result<InProcess, StartError> {
        let (stop, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let stopped = async move {
            let _ = stop_rx.await;
        };
        let task = rt.spawn(run_until(config, stopped, Some(ready_tx)));
        if rt.block_on(ready_rx).is_err() {
            return Err(match rt.block_on(task) {
                Ok(Err(e)) => e,
                Ok(Ok(())) => StartError::Io("the daemon stopped before it was ready".into()),
                Err(e) => StartError::Io(format!("the daemon task failed: {e}")),
            });
        }
        Ok(InProcess { stop, task })
    }

    /// Stops the daemon as SIGTERM would and waits for it.
    pub fn stop(self, rt: &tokio::runtime::Runtime) -> Result<(), StartError> {
        let _ = self.stop.send(());
        rt.block_on(self.task)
            .map_err(|e| StartError::Io(format!("the daemon task failed: {e}")))?
    }
}

/// Runs the daemon until `stop` completes; `ready` fires once the socket is bound and the
/// modems present at start were probed (what `READY=1` tells systemd). For the demo and tests
/// that run a daemon inside their own process.
pub async fn run_until(
    config: Config,
    stop: impl std::future::Future<Output = ()>,
    ready: Option<oneshot::Sender<()>>,
) -> Result<(), StartError> {
    let notifier = notify::Notifier::from_env();
    let settings = Arc::new(settings(&config).map_err(StartError::Config)?);
    // The socket before the database: a second daemon started while one runs must refuse
    // before its recovery step takes the live daemon's in-flight deliveries for a crash's
    // leftovers (requeued, flagged, sent twice).
    let (listener, bound) = match socket::inherited()? {
        Some(l) => (l, false),
        None => (socket::bind(&config.daemon.socket)?, true),
    };
    let (store, store_thread) = match open_store(&config).await {
        Ok(opened) => opened,
        Err(e) => {
            if bound {
                let _ = std::fs::remove_file(&config.daemon.socket);
            }
            return Err(e);
        }
    };
    let (scheduler, dispatcher_task) = dispatcher::spawn(Pool::new(config.tz()));
    let (shutdown, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        config: config.clone(),
        settings,
        store: store.clone(),
        board: Arc::new(Board::default()),
        scheduler: scheduler.clone(),
        registry: Arc::new(Mutex::new(BTreeMap::new())),
        started: Instant::now(),
        shutdown,
    });
    requeue_waiting(&shared).await?;

    let ctx = ActorContext {
        dispatcher: scheduler.clone(),
        store: store.clone(),
        board: shared.board.clone(),
        registry: shared.registry.clone(),
        retry: RetryPolicy {
            max_attempts: config.scheduler.max_attempts,
            backoff: chrono::Duration::seconds(config.scheduler.retry_backoff_secs as i64),
            in_flight: config.daemon.in_flight_policy,
        },
        modem_config: ModemConfig {
            cmgs_timeout: config.send_timeout(),
            ..ModemConfig::default()
        },
        reprobe: Duration::from_secs(config.scheduler.reprobe_secs),
        tz: config.tz(),
        shutdown: shared.shutdown_signal(),
    };
    let opener = Arc::new(SerialOpener {
        baud: HashMap::new(),
    });
    let mut pool = ModemPool {
        ctx,
        opener,
        known: HashMap::new(),
        tasks: Vec::new(),
        config: config.clone(),
    };
    let first_probes = pool.scan().await;
    // READY once every modem present at start was tried (bounded: init can take a while).
    let _ = tokio::time::timeout(Duration::from_secs(90), futures_all(first_probes)).await;
    let listener_task = tokio::spawn(listener::serve(listener, shared.clone()));
    let status = |shared: &Shared| {
        let infos = shared.registry.lock().expect("registry");
        let ready = infos.values().filter(|i| i.health == "ready").count();
        format!("STATUS={ready} of {} modems ready", infos.len())
    };
    notifier.notify(&format!("READY=1\n{}", status(&shared)));
    tracing::info!(socket = %config.daemon.socket.display(), "groupsms daemon ready");
    if let Some(ready) = ready {
        let _ = ready.send(());
    }
    tokio::pin!(stop);
    let watchdog = notifier.watchdog_interval();
    let mut hotplug = HotplugWatch::new(&config);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = async { tokio::time::sleep(watchdog.expect("guarded")).await }, if watchdog.is_some() => {
                notifier.notify(&format!("WATCHDOG=1\n{}", status(&shared)));
            }
            changed = hotplug.changed(), if hotplug.active() => {
                if changed {
                    pool.scan().await;
                }
            }
        }
    }

    tracing::info!("stopping: finishing the messages being sent, the rest stays queued");
    notifier.notify("STOPPING=1");
    let _ = shared.shutdown.send(true);
    scheduler.send(Command::Stop);
    let _ = listener_task.await;
    for task in pool.tasks.drain(..) {
        let _ = task.await;
    }
    let _ = std::fs::remove_file(&config.daemon.socket);
    drop(pool);
    dispatcher_task.abort();
    drop(shared);
    drop(scheduler);
    drop(store);
    // Every handle is gone now, so the store thread ends; bounded all the same.
    let joined = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || store_thread.join()),
    )
    .await;
    if joined.is_err() {
        tracing::error!("the database thread did not stop within 10 s");
    }
    Ok(())
}

/// Opens (creating its directory) and migrates the database, then applies the in-flight
/// policy to deliveries the last run left in `sending`.
async fn open_store(
    config: &Config,
) -> Result<(StoreHandle, std::thread::JoinHandle<()>), StartError> {
    if let Some(dir) = config
        .daemon
        .database
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| StartError::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    // Fault matrix (issue 7): a database the daemon may not write (read-only file) failed
    // start-up with a bare "attempt to write a readonly database"; name the file.
    let path = config.daemon.database.display().to_string();
    let named = |e: StoreError| StartError::Io(format!("database {path}: {e}"));
    let (store, store_thread) =
        StoreHandle::open(&config.daemon.database, &OpenOptions::default()).map_err(named)?;
    let policy = config.daemon.in_flight_policy;
    let recovered = store
        .call(move |s| s.recover_on_start(policy, Utc::now()))
        .await
        .map_err(named)?;
    if recovered.requeued + recovered.uncertain > 0 {
        tracing::warn!(
            requeued = recovered.requeued,
            uncertain = recovered.uncertain,
            "recovered deliveries left in flight by the last run"
        );
    }
    Ok((store, store_thread))
}

async fn futures_all(receivers: Vec<oneshot::Receiver<()>>) {
    for r in receivers {
        let _ = r.await;
    }
}

/// Queued deliveries of earlier runs go back to the scheduler, with their group's pinning.
async fn requeue_waiting(shared: &Arc<Shared>) -> Result<(), StoreError> {
    let queued = shared.store.call(|s| s.load_queued()).await?;
    if queued.is_empty() {
        return Ok(());
    }
    let mut by_group: BTreeMap<Option<GroupId>, Vec<_>> = BTreeMap::new();
    let mut broadcasts = std::collections::BTreeSet::new();
    for q in queued {
        broadcasts.insert(q.broadcast_id);
        by_group.entry(q.group_id).or_default().push(q);
    }
    for b in broadcasts {
        let p = shared.store.call(move |s| s.broadcast_progress(b)).await?;
        shared.board.track(b, p);
    }
    for (group, list) in by_group {
        let g = match group {
            Some(id) => shared.store.call(move |s| s.group_by_id(id)).await?,
            None => None,
        };
        tracing::info!(count = list.len(), "resuming queued deliveries");
        shared.scheduler.enqueue(handlers::jobs(list, g.as_ref()));
    }
    Ok(())
}

/// The configured modems: paths and globs, expanded now and on hot-plug events.
struct ModemPool<O: Opener> {
    ctx: ActorContext,
    opener: Arc<O>,
    config: Config,
    known: HashMap<String, Arc<Notify>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl<O: Opener> ModemPool<O> {
    /// Starts an actor for every configured device not yet known; pokes known ones whose
    /// device (re)appeared. Returns the first-probe signals of the new actors.
    async fn scan(&mut self) -> Vec<oneshot::Receiver<()>> {
        let mut first = Vec::new();
        for entry in self.config.modems.clone() {
            for device in expand(&entry.device) {
                if let Some(poke) = self.known.get(&device) {
                    if Path::new(&device).exists() {
                        poke.notify_one();
                    }
                    continue;
                }
                let (tx, rx) = oneshot::channel();
                let poke = Arc::new(Notify::new());
                let mut ctx = self.ctx.clone();
                ctx.modem_config.pin = entry.pin.clone();
                ctx.modem_config.command_gap = Duration::from_millis(entry.command_gap_ms);
                ctx.modem_config.prompt_timeout = Duration::from_secs(entry.prompt_timeout_secs);
                if let Some(task) = actor::spawn(
                    ctx,
                    self.opener.clone(),
                    device.clone(),
                    entry.max_per_hour,
                    entry.max_per_day,
                    tx,
                    poke.clone(),
                )
                .await
                {
                    tracing::info!(%device, "modem joined the pool");
                    self.tasks.push(task);
                    self.known.insert(device, poke);
                    first.push(rx);
                }
            }
        }
        first
    }
}

/// A path as is, or the paths a glob matches now (sorted).
fn expand(pattern: &str) -> Vec<String> {
    if !pattern.contains(['*', '?', '[']) {
        return vec![pattern.to_string()];
    }
    let mut found: Vec<String> = glob::glob(pattern)
        .map(|paths| {
            paths
                .filter_map(Result::ok)
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// inotify on the directories of the configured modem paths: a device appearing there (a
/// plugged stick, a udev symlink, an emulator's PTY link) triggers a rescan, without polling.
/// The blocking inotify reads run on a thread of their own.
struct HotplugWatch {
    events: Option<tokio::sync::mpsc::Receiver<()>>,
}

impl HotplugWatch {
    fn new(config: &Config) -> HotplugWatch {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        let dirs: std::collections::BTreeSet<PathBuf> = config
            .modems
            .iter()
            .filter_map(|m| {
                let literal = m.device.split(['*', '?', '[']).next().unwrap_or("");
                let p = Path::new(literal);
                // "/dev/gsm/*" -> /dev/gsm; "/dev/gsm/modem0" -> /dev/gsm
                let dir = if literal.ends_with('/') {
                    Some(p)
                } else {
                    p.parent()
                };
                dir.map(Path::to_path_buf)
            })
            .filter(|d| d.is_dir())
            .collect();
        if dirs.is_empty() {
            return HotplugWatch { events: None };
        }
        let inotify = match Inotify::init(InitFlags::IN_CLOEXEC) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "inotify unavailable: hot-plugged modems join only at restart");
                return HotplugWatch { events: None };
            }
        };
        for d in &dirs {
            if let Err(e) = inotify.add_watch(
                d,
                AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_ATTRIB,
            ) {
                tracing::warn!(dir = %d.display(), error = %e, "cannot watch for hot-plugged modems");
            }
        }
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let spawned = std::thread::Builder::new()
            .name("groupsms-hotplug".into())
            .spawn(move || loop {
                match inotify.read_events() {
                    Ok(events) if !events.is_empty() => {
                        // Coalesce: one pending rescan is enough.
                        if let Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) =
                            tx.try_send(())
                        {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "inotify read failed; hot-plug watching stops");
                        return;
                    }
                }
            });
        HotplugWatch {
            events: spawned.ok().map(|_| rx),
        }
    }

    fn active(&self) -> bool {
        self.events.is_some()
    }

    /// Waits for directory events; true when something appeared.
    async fn changed(&mut self) -> bool {
        let Some(rx) = &mut self.events else {
            return false;
        };
        if rx.recv().await.is_none() {
            self.events = None;
            return false;
        }
        // Let udev or the emulator finish creating the node before it is opened.
        tokio::time::sleep(Duration::from_millis(100)).await;
        true
    }
}
