//! The daemon: wiring of the store, the rules, the scheduler, the modems and the socket. The
//! modems' actors and their discovery belong to [`crate::modem`], the fan-out to
//! [`crate::scheduler`]; this module starts them in order and stops them.
//!
//! | file | owns |
//! | --- | --- |
//! | `mod.rs` | [`run`]: start-up order, shutdown, what handlers share ([`Shared`]) |
//! | [`socket`] | binding the socket (stale file, live daemon, systemd socket activation) |
//! | [`files`] | the umask, private directories, the database's mode, world-writable places |
//! | [`listener`] | connections: line framing, hello, peer uid, subscribe streams, limits, timeouts |
//! | [`reads`] | how many paged reads are answered at once, per user and in all |
//! | [`handlers`] | one function per request |
//! | [`hosts`] | this daemon among the hosts sharing its database: joining, the heartbeat, taking over silent hosts' deliveries, following the other hosts' announcements |
//! | [`metrics`] | `/metrics`: the pool's and the store's state in the Prometheus text format |
//! | [`notify`] | systemd `READY=1`, `STATUS=`, watchdog |
//! | [`inbox`] | each modem's incoming messages into the store (`service::inbox`), stored ones deleted after the commit, the memory drained when ready or full |
//! | [`reports`] | each modem's status reports into the store (`service::reports`), stored ones deleted after the commit |
//!
//! Start-up: configuration checked, the database's lock taken (one daemon per SQLite file, see
//! [`crate::lockfile`]; one per host name on PostgreSQL), socket bound, database opened and
//! migrated, the host joined (deliveries its last run left in `sending`, and those of hosts
//! gone silent, recovered by policy), queued deliveries handed to the scheduler, modems probed,
//! `READY=1`. SIGTERM/SIGINT: stop taking requests, let each modem finish the
//! message it is sending, leave the rest queued for the next start.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use crate::clock;
use crate::config::Config;
use crate::logging::Repeats;
use crate::modem::actor::ActorSettings;
use crate::modem::discovery::{DeviceSpec, Discovery, Joined};
use crate::modem::{Health, ModemConfig};
use crate::protocol::ModemEntry;
use crate::scheduler::deliver::Deliverer;
use crate::scheduler::policy::RetryPolicy;
use crate::scheduler::pool::{Pool, SlotState};
use crate::scheduler::progress::Board;
use crate::scheduler::{upkeep, Caps, ModemView, Scheduler};
use crate::service::{Country, SensitiveFilter, Settings};
use crate::store::{Database, OpenOptions, StoreError, StoreHandle};

pub mod files;
pub mod follow;
pub mod handlers;
pub mod host_view;
pub mod hosts;
pub mod http;
pub mod inbox;
pub mod listener;
pub mod metrics;
pub mod notify;
pub mod reads;
pub mod reports;
pub mod socket;
pub mod unrecorded;

/// What every connection and handler shares.
pub struct Shared {
    pub config: Config,
    pub settings: Arc<Settings>,
    pub store: StoreHandle,
    pub board: Arc<Board>,
    pub scheduler: Scheduler,
    pub started: Instant,
    /// Open connections, and who may open another.
    pub connections: listener::Admission,
    /// Paged reads answered at once.
    pub reads: reads::ReadGate,
    /// The HTTP API's bound addresses (`[http] listen`), for `status`.
    pub http_addresses: Vec<std::net::SocketAddr>,
    /// The HTTP API's rate limits and store turns (`http::limits`).
    pub http_guard: http::limits::Guard,
    /// Incoming messages once committed, for `subscribe {"inbox": true}`.
    pub inbox_events: tokio::sync::broadcast::Sender<crate::service::inbox::Committed>,
    /// The configured webhooks, for `status`.
    pub webhooks: Arc<[crate::webhooks::Endpoint]>,
    /// Modems ready on the other hosts sharing the database, at their last heartbeats (this
    /// host's pool alone cannot say a broadcast waits when those may send it).
    pub peer_modems_ready: std::sync::atomic::AtomicUsize,
    /// This daemon's host name (`[daemon] host`), for `status` and `modem list`.
    pub host: String,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// One entry per modem: what its actor says and the pool's counters.
    pub async fn modem_list(&self) -> Vec<ModemEntry> {
        self.scheduler
            .snapshot()
            .await
            .modems
            .iter()
            .map(modem_entry)
            .collect()
    }
}

/// The state `modem list` shows: `busy` while the pool has a try running on it, else the
/// modem's health.
pub fn modem_state(view: &ModemView) -> &'static str {
    match (view.slot.state, view.status.health) {
        _ if view.slot.quarantine.is_some() => "quarantined",
        (SlotState::Busy, Health::Ready) => "busy",
        (_, health) => health.name(),
    }
}

/// One modem as the protocol shows it.
pub fn modem_entry(view: &ModemView) -> ModemEntry {
    let status = &view.status;
    let ident = status.identity.as_ref();
    let slot = &view.slot;
    ModemEntry {
        host: None,
        device: view.device.clone(),
        state: modem_state(view).to_string(),
        heartbeat_age_secs: None,
        host_state: None,
        operator: ident.and_then(|i| i.operator.clone()),
        signal_dbm: ident.and_then(|i| i.signal.as_ref()).and_then(|s| s.dbm()),
        imsi: slot
            .imsi
            .clone()
            .or_else(|| status.imsi().map(str::to_string)),
        model: ident.and_then(|i| i.model.clone()),
        reports: ident.map(|i| i.reports.name().to_string()),
        sent_this_hour: slot.usage.map(|u| u.hour_parts),
        sent_today: slot.usage.map(|u| u.day_parts),
        max_per_hour: slot.max_per_hour,
        max_per_day: slot.max_per_day,
        sent: status.sent,
        failed: status.failed,
        problem: status.problem.clone(),
        carrier: slot.carrier.clone(),
        quarantine: slot
            .quarantine
            .as_ref()
            .map(|q| crate::protocol::QuarantineInfo {
                reason: q.reason.clone(),
                since: q.since.to_rfc3339(),
                until: q.until.to_rfc3339(),
            }),
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
    #[error(transparent)]
    Lock(#[from] crate::lockfile::LockError),
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
        footer: config.message.footer.clone(),
        max_parts: config.message.max_parts,
        sensitive,
        sensitive_policy: config.message.sensitive_policy,
        refusals: Arc::default(),
        optout: crate::service::optout::OptOutSettings {
            keywords: config.optout.keywords().map_err(|e| e.to_string())?,
            confirm: config.optout.confirm.clone(),
            optin_confirm: config.optout.optin_confirm.clone(),
        },
    })
}

/// Runs the daemon until SIGTERM or SIGINT. The daemon process's umask gets 027 added first
/// (see [`files`]); a daemon run inside another process ([`run_until`]) leaves that process's
/// umask alone and relies on the modes it asks for.
pub async fn run(config: Config) -> Result<(), StartError> {
    files::tighten_umask();
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
    let open_files = listener::raise_open_files_limit();
    let settings = Arc::new(settings(&config).map_err(StartError::Config)?);
    // Secret files are read now: a missing one stops the start, not the first event.
    let webhooks = crate::webhooks::Endpoint::load(&config.webhooks).map_err(StartError::Config)?;
    let hooks = crate::webhooks::Endpoint::subscriptions(&webhooks);
    // Checked at load too; again here for a socket given by `--socket`.
    config.daemon.check_paths().map_err(StartError::Config)?;
    let allowed = config.daemon.allow_world_writable;
    for entry in &config.modems {
        files::check_not_world_writable(
            files::Exposed::Modems,
            &format!("[[modem]] device {}", entry.device),
            &files::glob_dir(&entry.device),
            allowed,
        )
        .map_err(StartError::Config)?;
    }
    // The database's lock first, held until the database is closed: a second daemon on the
    // same database must refuse before its recovery step takes the live daemon's in-flight
    // deliveries for a crash's leftovers (requeued, flagged, sent twice), and before it
    // touches the socket path (its socket file may have been deleted).
    // (PostgreSQL: the same guard is a session lock, taken when the store opens.)
    // With its password (read once, here): the store, the heartbeat and the hearing of the
    // other hosts each connect with it.
    let database = config
        .daemon
        .database_with_password()
        .map_err(StartError::Config)?;
    let store_options = config.daemon.store_options();
    let host = hosts::HostSettings {
        name: config.daemon.host_name().map_err(StartError::Config)?,
        lease: config.daemon.lease(),
        policy: config.daemon.in_flight_policy,
    };
    // Other daemons may share a PostgreSQL database and take over what this one was sending
    // once its lease runs out: it fences its sends by the lease.
    let lease = matches!(database, Database::Postgres(_))
        .then(|| crate::scheduler::lease::Lease::new(host.lease));
    let lock = match &database {
        Database::Sqlite(path) => {
            let database_dir = path.parent().unwrap_or(Path::new(""));
            files::create_private_dir(database_dir).map_err(|e| {
                StartError::Io(format!("cannot create {}: {e}", database_dir.display()))
            })?;
            Some(crate::lockfile::lock(path)?)
        }
        Database::Postgres(_) => None,
    };
    let (listener, bound) = match socket::inherited()? {
        Some(l) => (l, None),
        None => {
            let socket_dir = config.daemon.socket.parent().unwrap_or(Path::new(""));
            files::check_not_world_writable(
                files::Exposed::Socket,
                &format!("[daemon] socket {}", config.daemon.socket.display()),
                socket_dir,
                allowed,
            )
            .map_err(StartError::Config)?;
            let (l, bound) = socket::bind(&config.daemon.socket)?;
            (l, Some(bound))
        }
    };
    http::adapters::check(&config).map_err(StartError::Config)?;
    let opened = match http::bind(&config.http).await {
        Ok(listeners) => open_store(&database, &store_options, &host, lease.as_ref(), hooks)
            .await
            .map(|s| (s, listeners)),
        Err(e) => Err(e),
    };
    let ((store, store_thread, outbox_wake), http_listeners) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            if let Some(bound) = &bound {
                bound.remove_if_ours();
            }
            return Err(e);
        }
    };
    let http_addresses: Vec<std::net::SocketAddr> = http_listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    // Other daemons on the same (PostgreSQL) database move deliveries this one follows.
    let board = Arc::new(match database {
        Database::Postgres(_) => Board::shared(),
        Database::Sqlite(_) => Board::default(),
    });
    // Lines a loop could write once per item, once a minute per kind (shared by all loops).
    let repeats = Arc::new(Repeats::default());
    let deliverer = Deliverer {
        store: store.clone(),
        board: board.clone(),
        retry: RetryPolicy {
            max_attempts: config.scheduler.max_attempts,
            backoff: chrono::Duration::seconds(config.scheduler.retry_backoff_secs as i64),
            retry_elsewhere: config.scheduler.retry_elsewhere,
            in_flight: config.daemon.in_flight_policy,
        },
        status_reports: config.message.delivery_reports,
        held: Default::default(),
        repeats: repeats.clone(),
        quarantine: chrono::Duration::hours(config.scheduler.quarantine_hours as i64),
        lease: lease.clone(),
    };
    // The table was checked when the configuration was read.
    let routing = config
        .routing
        .prefer_same_carrier
        .then(|| config.routing.table().unwrap_or_default());
    let pool = Pool::new(config.tz())
        .with_quiet_hours(config.scheduler.quiet_hours)
        .with_routing(routing);
    let (scheduler, dispatcher_task) = Scheduler::spawn(pool, deliverer);
    let (shutdown, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        config: config.clone(),
        settings,
        store: store.clone(),
        board,
        scheduler: scheduler.clone(),
        started: Instant::now(),
        connections: listener::Admission::new(&config.daemon, open_files),
        reads: reads::ReadGate::default(),
        http_addresses: http_addresses.clone(),
        http_guard: http::limits::Guard::new(&config.http),
        inbox_events: tokio::sync::broadcast::channel(1024).0,
        webhooks: webhooks.clone().into(),
        peer_modems_ready: Default::default(),
        host: host.name.clone(),
        shutdown,
    });
    // Its own tasks, short store calls: the webhooks never hold up sending.
    let webhook_task = crate::webhooks::spawn(
        store.clone(),
        webhooks,
        outbox_wake,
        shared.shutdown_signal(),
    );
    hosts::load_queued(&shared, None).await?;
    // On PostgreSQL the heartbeat and the hearing of other hosts have connections of their own.
    let (lease_store, listen) = match &database {
        Database::Postgres(target) => {
            let named = |e: StoreError| StartError::Io(format!("database {}: {e}", target.label()));
            let (lease_store, _thread) =
                StoreHandle::open_database(&database, &store_options).map_err(named)?;
            let name = host.name.clone();
            lease_store
                .call(move |s| {
                    s.set_host(&name);
                    Ok::<_, StoreError>(())
                })
                .await
                .map_err(named)?;
            (lease_store, Some((**target).clone()))
        }
        Database::Sqlite(_) => (store.clone(), None),
    };
    let host_tasks = hosts::spawn(
        shared.clone(),
        host.clone(),
        lease,
        lease_store,
        listen,
        repeats.clone(),
    );
    let upkeep_task = tokio::spawn(upkeep::run(
        store.clone(),
        config.tz(),
        shared.shutdown_signal(),
    ));

    let reports = reports::Reports {
        store: store.clone(),
        board: shared.board.clone(),
        settings: crate::service::reports::ReportSettings {
            country: shared.settings.default_country,
            ..Default::default()
        },
        repeats: repeats.clone(),
    };
    let inbox = inbox::Inbox {
        store: store.clone(),
        settings: config.inbox.settings(shared.settings.default_country),
        live: shared.inbox_events.clone(),
        rules: shared.settings.clone(),
        scheduler: scheduler.clone(),
        board: shared.board.clone(),
        block_phrases: Arc::new(config.scheduler.block_notice_phrases.clone()),
    };
    let mut report_tasks = Vec::new();
    let mut discovery = Discovery::new(device_specs(&config), shared.shutdown_signal());
    let first = join_pool(&scheduler, &config, discovery.scan());
    for handle in &first {
        report_tasks.push(reports.spawn(handle.clone(), shared.shutdown_signal()));
        report_tasks.push(inbox.spawn(handle.clone(), shared.shutdown_signal()));
    }
    // READY once every modem present at start was tried (bounded: init can take a while).
    let _ = tokio::time::timeout(Duration::from_secs(90), async {
        for handle in &first {
            handle.first_probe().await;
        }
    })
    .await;
    let listener_task = tokio::spawn(listener::serve(listener, shared.clone()));
    let http_task = tokio::spawn(http::serve(http_listeners, shared.clone()));
    for a in &http_addresses {
        tracing::info!(address = %a, "HTTP API listening");
    }
    let status = |shared: &Arc<Shared>| {
        let shared = shared.clone();
        async move {
            let modems = shared.scheduler.snapshot().await.modems;
            let ready = modems
                .iter()
                .filter(|m| m.status.health == Health::Ready)
                .count();
            let store = match shared.store.problem().borrow().clone() {
                Some(problem) => format!("; sending paused, the database cannot commit: {problem}"),
                None => String::new(),
            };
            format!("STATUS={ready} of {} modems ready{store}", modems.len())
        }
    };
    notifier.notify(&format!("READY=1\n{}", status(&shared).await));
    tracing::info!(socket = %config.daemon.socket.display(), "groupsms daemon ready");
    if let Some(ready) = ready {
        let _ = ready.send(());
    }
    tokio::pin!(stop);
    let watchdog = notifier.watchdog_interval();
    let mut hotplug = discovery.watch();
    // systemd's STATUS= says so while the database cannot commit.
    let mut store_problem = store.problem();
    let mut store_alive = true;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            changed = store_problem.changed(), if store_alive => {
                match changed {
                    Ok(()) => notifier.notify(&status(&shared).await),
                    Err(_) => store_alive = false,
                }
            }
            _ = async { tokio::time::sleep(watchdog.expect("guarded")).await }, if watchdog.is_some() => {
                notifier.notify(&format!("WATCHDOG=1\n{}", status(&shared).await));
            }
            changed = hotplug.changed(), if hotplug.active() => {
                if changed {
                    for handle in join_pool(&scheduler, &config, discovery.scan()) {
                        report_tasks.push(reports.spawn(handle.clone(), shared.shutdown_signal()));
                        report_tasks.push(inbox.spawn(handle, shared.shutdown_signal()));
                    }
                }
            }
        }
    }

    tracing::info!("stopping: finishing the messages being sent, the rest stays queued");
    notifier.notify("STOPPING=1");
    let _ = shared.shutdown.send(true);
    // No new work; each modem finishes the message it is sending.
    scheduler.stop().await;
    for task in host_tasks {
        let _ = task.await;
    }
    if let Err(e) = store.call(|s| s.host_stopped(clock::now())).await {
        tracing::warn!(error = %e, "cannot record that this host stopped");
    }
    let _ = listener_task.await;
    // Graceful: requests being answered finish; an event stream is cut after a few seconds.
    let _ = tokio::time::timeout(Duration::from_secs(5), http_task).await;
    discovery.join().await;
    for task in report_tasks {
        let _ = task.await;
    }
    drop(reports);
    drop(inbox);
    let _ = upkeep_task.await;
    let _ = webhook_task.await;
    if let Some(bound) = &bound {
        bound.remove_if_ours();
    }
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
    // Only now may another daemon open the database.
    drop(lock);
    Ok(())
}

/// The configured `[[modem]]` entries as discovery takes them.
fn device_specs(config: &Config) -> Vec<DeviceSpec> {
    config
        .modems
        .iter()
        .map(|entry| DeviceSpec {
            pattern: entry.device.clone(),
            baud: entry.baud,
            settings: ActorSettings {
                modem: ModemConfig {
                    pin: entry.pin.clone(),
                    cmgs_timeout: config.send_timeout(),
                    command_gap: Duration::from_millis(entry.command_gap_ms),
                    prompt_timeout: Duration::from_secs(entry.prompt_timeout_secs),
                    status_reports: config.message.delivery_reports,
                    ..ModemConfig::default()
                },
                reprobe: Duration::from_secs(config.scheduler.reprobe_secs),
            },
        })
        .collect()
}

/// Hands newly found modems to the scheduler with their entry's caps; returns their handles.
fn join_pool(
    scheduler: &Scheduler,
    config: &Config,
    joined: Vec<Joined>,
) -> Vec<crate::modem::ModemHandle> {
    joined
        .into_iter()
        .map(|j| {
            let entry = &config.modems[j.spec];
            scheduler.add_modem(
                j.handle.clone(),
                Caps {
                    max_per_hour: entry.max_per_hour,
                    max_per_day: entry.max_per_day,
                    pace_ms: entry.pace_ms,
                    carrier: entry.carrier.clone(),
                },
            );
            j.handle
        })
        .collect()
}

/// Opens and migrates the database (an SQLite file's directory exists), then applies the in-flight
/// policy to deliveries the last run left in `sending`.
async fn open_store(
    database: &Database,
    options: &OpenOptions,
    host: &hosts::HostSettings,
    lease: Option<&crate::scheduler::lease::Lease>,
    hooks: crate::store::Subscriptions,
) -> Result<
    (
        StoreHandle,
        std::thread::JoinHandle<()>,
        Arc<tokio::sync::Notify>,
    ),
    StartError,
> {
    // Fault matrix (issue 7): a database the daemon may not write (read-only file) failed
    // start-up with a bare "attempt to write a readonly database"; name the file.
    let path = database.label();
    let named = |e: StoreError| StartError::Io(format!("database {path}: {e}"));
    let (store, store_thread) = match database {
        Database::Sqlite(file) => {
            files::create_database_file(file)
                .map_err(|e| StartError::Io(format!("database {path}: {e}")))?;
            if let Some(warning) = files::readable_by_others(file) {
                tracing::warn!("{warning}");
            }
            StoreHandle::open(file, options).map_err(named)?
        }
        Database::Postgres(_) => {
            let (store, thread) = StoreHandle::open_database(database, options).map_err(named)?;
            let name = host.name.clone();
            if !store
                .call(move |s| s.claim_host(&name))
                .await
                .map_err(named)?
            {
                return Err(StartError::Config(format!(
                    "another groupsms daemon with the host name {:?} serves the database \
                     {path}; each daemon sharing a database needs its own name ([daemon] host)",
                    host.name
                )));
            }
            (store, thread)
        }
    };
    let name = host.name.clone();
    store
        .call(move |s| {
            s.set_host(&name);
            Ok::<_, StoreError>(())
        })
        .await
        .map_err(named)?;
    let pragmas = store.call(|s| s.pragmas()).await.map_err(named)?;
    // Before anything is written: the recovery below may finish broadcasts, and their events
    // belong in the outbox.
    let outbox_wake = store
        .call(move |s| {
            s.set_webhooks(hooks);
            Ok::<_, StoreError>(s.outbox_wake())
        })
        .await
        .map_err(named)?;
    match &pragmas {
        Some(p) => tracing::info!(
            database = %path,
            journal_mode = %p.journal_mode,
            synchronous = %p.synchronous,
            "database opened"
        ),
        None => tracing::info!(database = %path, "database opened"),
    }
    hosts::join(&store, host, lease).await.map_err(named)?;
    Ok((store, store_thread, outbox_wake))
}
