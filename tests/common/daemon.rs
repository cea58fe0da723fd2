//! The end-to-end world: emulated modems on real PTYs (in the test process, so a test can pull
//! a stick out or make it die), a temp configuration and database, the real `groupsms` binary
//! as daemon (started when it says `READY=1` over sd_notify) and as CLI. Progress is read from
//! the daemon's socket (`subscribe`); what the phones received, from the emulator's log.
//!
//! Waiting is done on events: `READY=1`, the progress stream, a child's exit. Only where the
//! daemon has no event to offer (a modem joining or leaving the pool) does [`World::wait_modems`]
//! ask `modem list` again, in a bounded loop.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use groupsms::emulator::log::{read_log, LogRecord, Phones};
use groupsms::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::Value;

/// One test's world: emulator, config, daemon process.
pub struct World {
    pub dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    emulator: Option<EmulatorHandle>,
    daemon: Option<Child>,
    notify: UnixDatagram,
    /// Where the daemon's clock starts (`GROUPSMS_CLOCK_START`); `None`: the wall clock.
    pub clock_start: Option<String>,
    /// The PostgreSQL database the daemon uses instead of an SQLite file (dropped last).
    pub pg: Option<super::pg::Scratch>,
}

/// One event of a followed broadcast, with when the test read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub event: Value,
}

impl World {
    /// Starts `modems` emulated modems (tuned by `tune`) and a daemon whose configuration gets
    /// `extra` appended (after the `[[modem]]` table, so `max_per_hour = 3` lands there).
    pub fn start(
        modems: usize,
        tune: impl FnOnce(EmulatorConfig) -> EmulatorConfig,
        extra: &str,
    ) -> World {
        let mut w = World::prepare(modems, tune, "", extra);
        w.start_daemon();
        w
    }

    /// Like [`start`](Self::start) without starting the daemon; `daemon_keys` are extra lines
    /// of the `[daemon]` table (e.g. `in_flight_policy = "uncertain"`).
    ///
    /// The database is an SQLite file, or with `GROUPSMS_STORE_BACKEND=postgres` a scratch
    /// PostgreSQL database (see [`super::TestDb`]).
    pub fn prepare(
        modems: usize,
        tune: impl FnOnce(EmulatorConfig) -> EmulatorConfig,
        daemon_keys: &str,
        extra: &str,
    ) -> World {
        let pg = super::pg::scratch_for_this_run();
        World::prepare_on(pg, modems, tune, daemon_keys, extra)
    }

    /// [`prepare`](Self::prepare) on the given PostgreSQL database (`None`: an SQLite file).
    /// With `modems` 0 no emulator runs (the daemon finds no modem; [`World::emulator`] panics).
    pub fn prepare_on(
        pg: Option<super::pg::Scratch>,
        modems: usize,
        tune: impl FnOnce(EmulatorConfig) -> EmulatorConfig,
        daemon_keys: &str,
        extra: &str,
    ) -> World {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cfg = tune(
            EmulatorConfig::new(dir.path().join("dev"), modems)
                .log(dir.path().join("sms.jsonl"))
                .seed(7),
        );
        // No modems: a daemon with none of its own (one host of several), no emulator.
        let emulator = (modems > 0).then(|| {
            let _guard = rt.enter();
            Emulator::start(cfg).expect("emulator starts")
        });
        let words = dir.path().join("words.txt");
        std::fs::write(&words, "# sensitive words\n赌博\nforbidden\n").unwrap();
        let database = match &pg {
            Some(pg) => pg.url.clone(),
            None => format!("{}/groupsms.db", dir.path().display()),
        };
        let config = format!(
            "[daemon]\nsocket = \"{d}/groupsms.sock\"\ndatabase = \"{database}\"\n{daemon_keys}\n\
             [message]\nsensitive_words = [\"{w}\"]\n\
             [scheduler]\nretry_backoff_secs = 0\nreprobe_secs = 1\nsend_timeout_secs = 3\n\
             [[modem]]\ndevice = \"{d}/dev/modem*\"\n{extra}",
            d = dir.path().display(),
            w = words.display(),
        );
        std::fs::write(dir.path().join("groupsms.toml"), config).unwrap();
        let notify = UnixDatagram::bind(dir.path().join("notify")).unwrap();
        World {
            dir,
            rt,
            emulator,
            daemon: None,
            notify,
            clock_start: None,
            pg,
        }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("groupsms.toml")
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("groupsms.sock")
    }

    /// The SQLite file (when the world runs on SQLite; see [`World::open_store`]).
    pub fn database(&self) -> PathBuf {
        self.dir.path().join("groupsms.db")
    }

    /// The daemon's database opened beside it (SQLite file or PostgreSQL database), to read
    /// what it stored.
    pub fn open_store(&self) -> groupsms::store::Store {
        match &self.pg {
            Some(pg) => groupsms::store::Store::open_postgres(&pg.target, &Default::default()),
            None => groupsms::store::Store::open(self.database()),
        }
        .expect("open the daemon's database")
    }

    /// Rows in `table` of the daemon's database.
    pub fn count_rows(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        match &self.pg {
            Some(pg) => super::pg::query_i64(&pg.url, &sql),
            None => rusqlite::Connection::open(self.database())
                .unwrap()
                .query_row(&sql, [], |r| r.get(0))
                .unwrap(),
        }
    }

    /// A `groupsms daemon` process on this world's configuration (not waited for).
    pub fn daemon_command(&self, notify: bool) -> Command {
        self.daemon_command_via(&[], notify)
    }

    /// [`daemon_command`](Self::daemon_command) run through `via` (a program and its leading
    /// arguments, e.g. `unshare --mount ... sh -c '...; exec "$@"' sh`); empty: directly.
    pub fn daemon_command_via(&self, via: &[&str], notify: bool) -> Command {
        let bin = env!("CARGO_BIN_EXE_groupsms");
        let mut cmd = match via.split_first() {
            None => Command::new(bin),
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(bin);
                cmd
            }
        };
        cmd.args(["--config", self.config().to_str().unwrap(), "daemon"])
            .env("GROUPSMS_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .env_remove(groupsms::clock::START_VAR)
            .stdin(Stdio::null());
        if let Some(start) = &self.clock_start {
            cmd.env(groupsms::clock::START_VAR, start);
        }
        if notify {
            cmd.env("NOTIFY_SOCKET", self.dir.path().join("notify"));
        }
        // If the test process dies (a failed test that never reaches `Drop`, a killed run),
        // its daemons die with it instead of lingering.
        // SAFETY: prctl is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd
    }

    /// Starts the daemon and waits for its READY=1 (sd_notify), not for a guessed time.
    pub fn start_daemon(&mut self) {
        self.start_daemon_with(|_| {});
    }

    /// Like [`start_daemon`](Self::start_daemon), with `tweak` applied to the command first
    /// (e.g. an extra `pre_exec`).
    pub fn start_daemon_with(&mut self, tweak: impl FnOnce(&mut Command)) {
        self.start_daemon_cmd(self.daemon_command(true), tweak);
    }

    /// Like [`start_daemon`](Self::start_daemon), the daemon run through `via` (see
    /// [`daemon_command_via`](Self::daemon_command_via)); it must end in an `exec`, so the
    /// process started is the daemon's.
    pub fn start_daemon_via(&mut self, via: &[&str]) {
        self.start_daemon_cmd(self.daemon_command_via(via, true), |_| {});
    }

    fn start_daemon_cmd(&mut self, mut cmd: Command, tweak: impl FnOnce(&mut Command)) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        cmd.stdout(Stdio::null()).stderr(log);
        tweak(&mut cmd);
        let child = cmd.spawn().unwrap();
        self.daemon = Some(child);
        self.notify
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut buf = [0u8; 512];
        loop {
            let n = self.notify.recv(&mut buf).unwrap_or_else(|e| {
                panic!("no READY=1 from the daemon: {e}\n{}", self.daemon_log())
            });
            if buf[..n].starts_with(b"READY=1") {
                return;
            }
        }
    }

    /// The next sd_notify message the daemon sends after `READY=1` (a `STATUS=` change,
    /// `STOPPING=1`), waiting at most `limit`.
    pub fn notification(&self, limit: Duration) -> Option<String> {
        self.notify.set_read_timeout(Some(limit)).unwrap();
        let mut buf = [0u8; 1024];
        let n = self.notify.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// The CLI command line, not run.
    pub fn command(&self, args: &[&str]) -> Command {
        let config = self.config();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_groupsms"));
        cmd.arg("--config")
            .arg(config)
            .args(args)
            .stdin(Stdio::null())
            // Output for people is laid out for 80 columns unless a test says otherwise.
            .env_remove("COLUMNS");
        cmd
    }

    /// Runs the CLI.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs the CLI as another Unix user (the test must be root).
    pub fn cli_as(&self, uid: u32, gid: u32, args: &[&str]) -> Output {
        self.command(args).uid(uid).gid(gid).output().unwrap()
    }

    /// Runs the CLI and insists it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "groupsms {args:?} failed: {}\n--- daemon log ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.daemon_log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs the CLI with `--json` and parses what it prints.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        serde_json::from_str(&self.ok(&full)).unwrap()
    }

    /// Over the socket itself (not the CLI): `hello`, then one request `op` with `args`; the
    /// whole answer line, parsed.
    pub fn ask(&self, op: &str, args: Value) -> Value {
        let stream = UnixStream::connect(self.socket()).expect("daemon socket");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut c = BufReader::new(stream);
        let mut exchange = |request: Value| -> Value {
            c.get_mut()
                .write_all(format!("{request}\n").as_bytes())
                .unwrap();
            let mut line = String::new();
            c.read_line(&mut line).unwrap();
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
        };
        let hello = exchange(serde_json::json!({"id": 1, "op": "hello", "args": {"version": 1}}));
        assert_eq!(hello["ok"], true, "{hello}");
        exchange(serde_json::json!({"id": 2, "op": op, "args": args}))
    }

    /// `send --json`, returning the broadcast id.
    pub fn send(&self, group: &str, as_member: &str, text: &str) -> i64 {
        self.json(&["send", "--group", group, "--as", as_member, text])["broadcast"]
            .as_i64()
            .unwrap()
    }

    /// `broadcast show --json`.
    pub fn show(&self, id: i64) -> Value {
        self.json(&["broadcast", "show", &id.to_string()])
    }

    /// `modem list --json`: one object per modem.
    pub fn modems(&self) -> Vec<Value> {
        self.json(&["modem", "list"])["modems"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Reads with `read` every 50 ms until `done` holds of what it read, and returns that;
    /// fails the test with the last reading and the daemon's log after `limit`.
    pub fn poll<T: std::fmt::Debug>(
        &self,
        what: &str,
        limit: Duration,
        mut read: impl FnMut() -> T,
        mut done: impl FnMut(&T) -> bool,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            let got = read();
            if done(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not after {limit:?}; last read: {got:#?}\n{}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asks `modem list` until `done` holds (bounded: 20 s). For changes the daemon has no
    /// event for (a modem joining or leaving the pool). Returns the last answer.
    pub fn wait_modems(&self, what: &str, mut done: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
        self.poll(what, Duration::from_secs(20), || self.modems(), |m| done(m))
    }

    /// Follows a broadcast over the socket until it is finished (or until `until` says stop).
    pub fn follow(&self, id: i64, mut until: impl FnMut(&Value) -> bool) -> Value {
        self.follow_events(id, |ev| until(&ev["totals"])).0
    }

    /// Follows a broadcast, keeping every event with the time it was read, until it is
    /// finished or `until` says stop (given the whole event). Returns the last totals. Fails
    /// the test when the daemon says nothing for 30 s (instead of hanging it).
    pub fn follow_events(&self, id: i64, until: impl FnMut(&Value) -> bool) -> (Value, Vec<Seen>) {
        self.follow_events_with(id, false, until)
    }

    /// [`follow_events`](Self::follow_events); with `reports`, the subscription asks to go on
    /// with the status reports (`"reports": true`) and ends when none is awaited.
    pub fn follow_events_with(
        &self,
        id: i64,
        reports: bool,
        mut until: impl FnMut(&Value) -> bool,
    ) -> (Value, Vec<Seen>) {
        let stream = UnixStream::connect(self.socket())
            .unwrap_or_else(|e| panic!("daemon socket: {e}\n{}", self.daemon_log()));
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut c = BufReader::new(stream);
        let hello = self.line(&mut c, r#"{"id":1,"op":"hello","args":{"version":1}}"#);
        assert_eq!(hello["ok"], true, "{hello}");
        let extra = if reports { r#","reports":true"# } else { "" };
        let mut r = self.line(
            &mut c,
            &format!(r#"{{"id":2,"op":"subscribe","args":{{"broadcast":{id}{extra}}}}}"#),
        );
        let mut seen = Vec::new();
        loop {
            assert_eq!(r["id"], 2, "{r}");
            if let Some(ev) = r.get("event") {
                seen.push(Seen {
                    at: Instant::now(),
                    event: ev.clone(),
                });
                if until(ev) {
                    return (ev["totals"].clone(), seen);
                }
                r = self.next_line(&mut c, &seen);
                continue;
            }
            assert_eq!(r["ok"], true, "subscribe failed: {r}");
            return (r["result"].clone(), seen);
        }
    }

    /// Writes one request line, reads one answer line.
    fn line(&self, c: &mut BufReader<UnixStream>, request: &str) -> Value {
        c.get_mut()
            .write_all(format!("{request}\n").as_bytes())
            .unwrap();
        self.next_line(c, &[])
    }

    fn next_line(&self, c: &mut BufReader<UnixStream>, seen: &[Seen]) -> Value {
        let mut line = String::new();
        match c.read_line(&mut line) {
            Ok(n) if n > 0 => serde_json::from_str(&line).unwrap(),
            other => panic!(
                "no progress from the daemon ({other:?}); events so far: {:#?}\n--- daemon log ---\n{}",
                seen.iter().map(|s| &s.event).collect::<Vec<_>>(),
                self.daemon_log()
            ),
        }
    }

    pub fn phones(&self) -> Phones {
        Phones::from_log(&self.dir.path().join("sms.jsonl")).unwrap()
    }

    /// Every part the emulated network accepted, in order (with its TP-MR).
    pub fn sent_parts(&self) -> Vec<LogRecord> {
        read_log(&self.dir.path().join("sms.jsonl")).unwrap()
    }

    /// Asks `broadcast show` until `done` holds (bounded: 30 s): for changes that come from
    /// the network (status reports), which nobody can wait on. Returns the last answer.
    pub fn wait_show(&self, id: i64, what: &str, done: impl FnMut(&Value) -> bool) -> Value {
        self.poll(what, Duration::from_secs(30), || self.show(id), done)
    }

    pub fn emulator(&self) -> &EmulatorHandle {
        self.emulator.as_ref().unwrap()
    }

    /// Runs a future on this world's runtime (the emulator's controls are async).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The running daemon's process id.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(Child::id)
    }

    pub fn kill_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (at most 20 s) for the daemon to exit; returns its status.
    pub fn terminate_daemon(&mut self) -> ExitStatus {
        let mut child = self.daemon.take().expect("a daemon runs");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        wait_exit(&mut child, Duration::from_secs(20))
            .unwrap_or_else(|| panic!("the daemon ignored SIGTERM for 20 s\n{}", self.daemon_log()))
    }

    /// Sends `signal` to the running daemon: SIGSTOP and SIGCONT pause and resume it, as a
    /// stalled machine or a network partition does (the process keeps its connections).
    pub fn signal_daemon(&self, signal: nix::sys::signal::Signal) {
        let pid = self.daemon_pid().expect("a daemon runs");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
    }

    /// SIGTERM, and insists on exit status 0.
    pub fn stop_daemon(&mut self) {
        if self.daemon.is_some() {
            let status = self.terminate_daemon();
            assert!(
                status.success(),
                "daemon exit {status}\n{}",
                self.daemon_log()
            );
        }
    }
}

/// Waits for `child` to exit, at most `limit` (killed and `None` past it).
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.kill_daemon();
        if let Some(emu) = self.emulator.take() {
            self.rt.block_on(emu.shutdown());
        }
    }
}

/// Group `ops` (运维组): super-admin alice, plain members m1..=m{n}. Returns every number.
pub fn ops_group(w: &World, n: usize) -> Vec<String> {
    w.ok(&["group", "create", "ops", "--name", "运维组"]);
    w.ok(&[
        "member",
        "add",
        "alice",
        "--name",
        "Alice",
        "--phone",
        "+8613800138000",
    ]);
    w.ok(&["member", "join", "alice", "ops", "--role", "super_admin"]);
    let mut numbers = vec!["+8613800138000".to_string()];
    if n == 0 {
        return numbers;
    }
    let mut csv = String::from("handle,name,phone,group,role\n");
    for i in 1..=n {
        csv.push_str(&format!("m{i},成员{i},139{i:08},ops,member\n"));
        numbers.push(format!("+86139{i:08}"));
    }
    let file = w.dir.path().join("members.csv");
    std::fs::File::create(&file)
        .unwrap()
        .write_all(csv.as_bytes())
        .unwrap();
    w.ok(&["member", "import", file.to_str().unwrap()]);
    numbers
}

/// `count` connections to `socket` as Unix user `uid` (from a thread of our own with its own
/// credentials: the raw `setresuid` syscall changes the calling thread only), each made on a
/// thread that is then gone. `each` runs on every new connection (say hello, ...).
pub fn connect_as(
    uid: u32,
    socket: &std::path::Path,
    count: usize,
    each: impl Fn(&mut UnixStream) + Send + 'static,
) -> Vec<UnixStream> {
    let socket = socket.to_path_buf();
    std::thread::spawn(move || {
        // SAFETY: plain syscalls on this thread's credentials; nothing else is touched.
        unsafe {
            assert_eq!(
                libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()),
                0
            );
            assert_eq!(libc::syscall(libc::SYS_setresgid, uid, uid, uid), 0);
            assert_eq!(libc::syscall(libc::SYS_setresuid, uid, uid, uid), 0);
        }
        (0..count)
            .map(|_| {
                let mut s = UnixStream::connect(&socket).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                each(&mut s);
                s
            })
            .collect()
    })
    .join()
    .unwrap()
}

/// Lets other users reach the socket and read the configuration (for tests that run the CLI
/// or connect as uid 65534).
pub fn open_to_others(w: &World) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(w.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(w.config(), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(w.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
}
