//! What the benchmarks share: a group written straight into a database file (and, for the
//! store-level benches, a broadcast accepted as the daemon accepts one), the real `groupsms
//! daemon` binary started as a child process on it (so its CPU time and peak memory are its
//! own, read from /proc), and the emulated modems in this process.

#![allow(dead_code)] // each bench uses its own subset

use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use groupsms::cli::client::Client;
use groupsms::emulator::config::Noise;
use groupsms::emulator::{EmulatorConfig, EmulatorHandle};
use groupsms::protocol::{self as p, Request};
use groupsms::service::{submit_broadcast, Accepted, Caller, SendRequest, Settings};
use groupsms::store::{NewGroup, NewMember, Role, Store, StoreError};

/// A field of /proc/`pid`/status in kB (`pid` may be `self`): `VmHWM:` peak RSS, `VmRSS:`
/// current.
pub fn proc_status_kb(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A field of this process's /proc status in kB (the store-level benches run in-process).
pub fn status_kb(field: &str) -> Option<u64> {
    proc_status_kb("self", field)
}

/// Resets this process's VmHWM to its current RSS (Linux: write 5 to clear_refs); false if
/// not allowed.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// kB as MB with one decimal, `n/a` when unknown.
pub fn mb(kb: Option<u64>) -> String {
    kb.map_or("n/a".into(), |k| format!("{:.1} MB", k as f64 / 1024.0))
}

/// `NAME=1,2,3` from the environment, or `default`.
pub fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .filter(|v: &Vec<u64>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

/// Writes group `g` ("测试组") with super-admin `boss` and `members - 1` plain members, all
/// with distinct valid numbers, into a new database at `path` (one transaction).
pub fn make_group(path: &Path, members: u64) {
    make_group_numbered(path, members, |i| format!("+86139{i:08}"))
}

/// [`make_group`] with member i's number given by `number` (i from 1).
pub fn make_group_numbered(path: &Path, members: u64, number: impl Fn(u64) -> String) {
    let now = Utc::now();
    let mut store = open_bench_store(path);
    store
        .write(|tx| -> Result<(), StoreError> {
            tx.create_group(&NewGroup::new("g", "测试组"), now)?;
            tx.create_member(&NewMember::new("boss", "Boss", "+8613800000000"), now)?;
            tx.join("g", "boss", Role::SuperAdmin, now)?;
            for i in 1..members {
                let handle = format!("m{i}");
                tx.create_member(&NewMember::new(&handle, &handle, number(i)), now)?;
                tx.join("g", &handle, Role::Member, now)?;
            }
            Ok(())
        })
        .expect("populate the group");
}

/// Writes group `all` ("全体") with super-admin `boss` (+8613900000000) and `members - 1`
/// plain members `m1`.. (成员i, +86138 and i on 8 digits) through `store`, in one transaction.
pub fn write_all_group(store: &mut Store, members: u32, at: DateTime<Utc>) {
    store
        .write(|tx| -> Result<(), StoreError> {
            tx.create_group(&NewGroup::new("all", "全体"), at)?;
            tx.create_member(&NewMember::new("boss", "老板", "+8613900000000"), at)?;
            tx.join("all", "boss", Role::SuperAdmin, at)?;
            for i in 1..members {
                let handle = format!("m{i}");
                let member = NewMember::new(&handle, format!("成员{i}"), format!("+86138{i:08}"));
                tx.create_member(&member, at)?;
                tx.join("all", &handle, Role::Member, at)?;
            }
            Ok(())
        })
        .expect("populate");
}

/// `body` sent to group `all` as `boss` by root, accepted as the daemon accepts a `send`.
pub fn broadcast_to_all(store: &mut Store, body: &str, at: DateTime<Utc>) -> Accepted {
    let req = SendRequest {
        group: "all".into(),
        as_member: "boss".into(),
        body: body.into(),
        now: at,
        urgent: false,
        caller: Caller::unix(0, &[]),
    };
    submit_broadcast(store, &Settings::default(), req).expect("accepted")
}

/// `n` healthy, quiet emulated modems with send latency `latency` in `dir/dev`, logging every
/// accepted part to `dir/sms.jsonl`.
pub fn emulator(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    n: u64,
    latency: Duration,
) -> EmulatorHandle {
    emulator_with(rt, dir, n, latency, 1, |_| {})
}

/// [`emulator`] with the random seed `seed` and `knobs` applied to every modem after the
/// latency and the silence.
pub fn emulator_with(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    n: u64,
    latency: Duration,
    seed: u64,
    knobs: impl Fn(&mut groupsms::emulator::EmulatedModem),
) -> EmulatorHandle {
    let cfg = emulator_config(dir, n, latency, seed, knobs);
    let _g = rt.enter();
    groupsms::emulator::Emulator::start(cfg).expect("emulator starts")
}

/// The configuration of [`emulator_with`], not started (for per-modem knobs).
pub fn emulator_config(
    dir: &Path,
    n: u64,
    latency: Duration,
    seed: u64,
    knobs: impl Fn(&mut groupsms::emulator::EmulatedModem),
) -> EmulatorConfig {
    EmulatorConfig::new(dir.join("dev"), n as usize)
        .seed(seed)
        .log(dir.join("sms.jsonl"))
        .all(|m| {
            m.knobs.send_latency = latency;
            m.knobs.noise = Noise::Off;
            knobs(m);
        })
}

/// When the first part reached a modem (its Ctrl-Z): the first log record's time minus the
/// send latency (the emulator logs a part when it answers, `latency` after Ctrl-Z).
pub fn first_part_on_the_wire(dir: &Path, latency: Duration) -> Option<DateTime<Utc>> {
    let records = groupsms::emulator::log::read_log(&dir.join("sms.jsonl")).ok()?;
    let first = records
        .iter()
        .filter_map(|r| DateTime::parse_from_rfc3339(&r.time).ok())
        .min()?;
    Some(first.with_timezone(&Utc) - chrono::Duration::from_std(latency).ok()?)
}

/// `send` of `text` to group `g` as `boss` (made by [`make_group`]) over `c`; its answer.
pub fn send_to_group(c: &mut Client, text: &str) -> serde_json::Value {
    c.call(Request::Send(p::Send {
        group: "g".into(),
        as_member: "boss".into(),
        text: text.into(),
        urgent: false,
    }))
    .unwrap_or_else(|e| panic!("{}", e.message))
}

/// A `groupsms daemon` child process. `BENCH_DAEMON_LOG` sets its log filter (default
/// `warn`), `BENCH_DAEMON_LOG_COPY=FILE` keeps a copy of its log when it stops.
pub struct Daemon {
    child: Child,
    pub socket: PathBuf,
    pub log: PathBuf,
}

/// The daemon's configuration for a bench: caps and quotas out of the way, everything else
/// at its default except `modem_keys` (extra lines of the `[[modem]]` table).
pub fn config_text(dir: &Path, modem_keys: &str) -> String {
    format!(
        "[daemon]\nsocket = \"{d}/s.sock\"\ndatabase = \"{db}\"\n\
         [quota]\ndaily = 1000\nmonthly = 1000\n\
         [[modem]]\ndevice = \"{d}/dev/modem*\"\nmax_per_hour = 1000000\nmax_per_day = 1000000\n{modem_keys}\n",
        d = dir.display(),
        db = bench_database(&dir.join("db.sqlite")),
    )
}

/// What `[daemon] database` says for the bench database at `path`: the SQLite file, or with
/// `BENCH_POSTGRES` (a PostgreSQL admin URL, e.g. what `.ci/pg-cluster start` prints) a
/// database of its own in that cluster, named after the bench's directory and created on
/// first use. The same bench then measures the daemon on either engine.
pub fn bench_database(path: &Path) -> String {
    let Ok(admin) = std::env::var("BENCH_POSTGRES") else {
        return path.display().to_string();
    };
    let dir = path
        .parent()
        .and_then(|d| d.file_name())
        .unwrap_or_default();
    let name: String = format!("gsms_bench_{}", dir.to_string_lossy())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let (admin2, create) = (admin.clone(), format!("CREATE DATABASE {name}"));
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&admin2, tokio_postgres::NoTls)
                .await
                .expect("BENCH_POSTGRES reachable");
            tokio::spawn(connection);
            if let Err(e) = client.batch_execute(&create).await {
                // Made by an earlier call for the same directory.
                assert_eq!(
                    e.code(),
                    Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE),
                    "{e:?}"
                );
            }
        })
    })
    .join()
    .unwrap();
    let base = admin
        .rsplit_once('/')
        .expect("BENCH_POSTGRES ends in /dbname")
        .0;
    format!("{base}/{name}")
}

/// The bench database at `path` (see [`bench_database`]), opened.
pub fn open_bench_store(path: &Path) -> Store {
    let db = bench_database(path);
    let db = groupsms::store::Database::parse(Path::new(&db)).expect("a database");
    Store::open_database(&db, &Default::default()).expect("open the database")
}

impl Daemon {
    /// Starts the daemon on `dir/groupsms.toml` (written from `config`) and waits for its
    /// READY=1; the database is `dir/db.sqlite`.
    pub fn start(dir: &Path, config: &str) -> Daemon {
        let conf = dir.join("groupsms.toml");
        std::fs::write(&conf, config).expect("write the configuration");
        let notify_path = dir.join("notify");
        let _ = std::fs::remove_file(&notify_path);
        let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
        notify
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let log = dir.join("daemon.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_groupsms"));
        cmd.args(["--config", conf.to_str().unwrap(), "daemon"])
            .env("NOTIFY_SOCKET", &notify_path)
            .env(
                "GROUPSMS_LOG",
                std::env::var("BENCH_DAEMON_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        // SAFETY: prctl is async-signal-safe; the daemon dies with the bench.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start the daemon");
        let mut buf = [0u8; 512];
        loop {
            let n = notify.recv(&mut buf).unwrap_or_else(|e| {
                panic!(
                    "no READY=1 from the daemon: {e}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
            if buf[..n].starts_with(b"READY=1") {
                break;
            }
        }
        Daemon {
            child,
            socket: dir.join("s.sock"),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds the daemon used so far (/proc/PID/stat).
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            f.get(i - 3)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        (ticks(14) + ticks(15)) / hz
    }

    /// A field of /proc/PID/status in kB (`VmHWM:` peak RSS, `VmRSS:` current); 0 when it
    /// cannot be read.
    pub fn status_kb(&self, field: &str) -> u64 {
        proc_status_kb(&self.pid().to_string(), field).unwrap_or(0)
    }

    /// SIGTERM, then waits for the exit.
    pub fn stop(mut self) {
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        if let Some(keep) = std::env::var_os("BENCH_DAEMON_LOG_COPY") {
            let _ = std::fs::copy(&self.log, keep);
        }
    }
}
