//! `groupsms doctor` as a user runs it: the real binary against emulated modems with one fault
//! each, a port another process holds, a missing device, a database directory the user may
//! not write, a broken configuration, and a running daemon it reads the modems through.
//! Every reported line and the exit status are checked.
//! SQLite only: `.ci/run`'s PostgreSQL pass leaves this file out (it is about the SQLite file).

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use common::daemon::{ops_group, World};
use groupsms::emulator::Profile;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_groupsms");

/// One printed check: status, check, detail, advice.
#[derive(Debug, Clone)]
struct Line {
    status: String,
    check: String,
    detail: String,
    advice: Option<String>,
}

/// Parses the text report, insisting on its shape: `<status> <check>: <detail>` lines, each
/// warn and fail followed by exactly one `  -> <advice>` line, ok never.
fn lines(out: &Output) -> Vec<Line> {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let mut got: Vec<Line> = Vec::new();
    for l in text.lines() {
        if let Some(advice) = l.strip_prefix("  -> ") {
            let last = got.last_mut().expect("advice before any check");
            assert!(last.advice.is_none(), "two advice lines: {text}");
            assert_ne!(last.status, "ok", "advice under an ok line: {text}");
            last.advice = Some(advice.to_string());
            continue;
        }
        let (status, rest) = l
            .split_once(' ')
            .unwrap_or_else(|| panic!("bad line {l:?}"));
        assert!(
            ["ok", "warn", "fail"].contains(&status),
            "bad status in {l:?}"
        );
        let (check, detail) = rest
            .split_once(": ")
            .unwrap_or_else(|| panic!("bad line {l:?}"));
        got.push(Line {
            status: status.into(),
            check: check.into(),
            detail: detail.into(),
            advice: None,
        });
    }
    for l in &got {
        assert_eq!(l.status == "ok", l.advice.is_none(), "{l:?}");
    }
    got
}

fn find<'a>(lines: &'a [Line], check: &str) -> &'a Line {
    lines
        .iter()
        .find(|l| l.check == check)
        .unwrap_or_else(|| panic!("no check {check:?} in {lines:#?}"))
}

fn assert_line(lines: &[Line], check: &str, status: &str, detail: &str) -> Line {
    let l = find(lines, check).clone();
    assert_eq!(l.status, status, "{l:?}");
    assert!(
        l.detail.contains(detail),
        "{check}: {:?} lacks {detail:?}",
        l.detail
    );
    l
}

fn doctor(w: &World) -> (Option<i32>, Vec<Line>) {
    let out = w.cli(&["doctor"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), lines(&out))
}

#[test]
fn each_fault_of_an_emulated_modem_is_reported_with_what_to_do() {
    let w = World::prepare(
        7,
        |c| {
            c.all(|m| m.profile = Profile::Quectel)
                .modem(1, |m| m.knobs.sim_absent = true)
                .modem(2, |m| m.knobs.pin = Some("1234".into()))
                .modem(3, |m| m.knobs.smsc = String::new())
                .modem(4, |m| m.knobs.rssi = 3)
                .modem(5, |m| m.knobs.lte_only = true)
        },
        "",
        "",
    );
    w.block_on(w.emulator().lose_registration(6)).unwrap();
    let dev = |i: usize| w.emulator().path(i).display().to_string();
    let (code, got) = doctor(&w);
    assert_eq!(code, Some(1), "{got:#?}");

    let config = w.config().display().to_string();
    assert_line(
        &got,
        "config",
        "ok",
        &format!("{config} (from --config): read, 1 [[modem]] entry"),
    );
    assert_line(
        &got,
        "database",
        "ok",
        "not created yet; the daemon creates it at its first start",
    );
    assert_line(&got, "disk space", "ok", "MB free on the file system of");
    let l = assert_line(&got, "socket", "warn", "no daemon running");
    assert!(l.advice.unwrap().contains("systemctl start groupsms"));

    // The healthy one: every check ok.
    let m0 = dev(0);
    assert_line(
        &got,
        &format!("modem {m0}"),
        "ok",
        "answers AT (Quectel EC25)",
    );
    assert_line(&got, &format!("sim {m0}"), "ok", "present, ready");
    assert_line(
        &got,
        &format!("registration {m0}"),
        "ok",
        "registered (+CREG: registered, home network; +CGREG: registered, home network; +CEREG: registered, home network)",
    );
    assert_line(&got, &format!("signal {m0}"), "ok", "-73 dBm (good)");
    assert_line(
        &got,
        &format!("smsc {m0}"),
        "ok",
        "SMS centre +8613800100500",
    );
    assert_line(&got, &format!("storage {m0}"), "ok", "SM 0/50 used");
    assert_line(
        &got,
        &format!("delivery reports {m0}"),
        "ok",
        "offered (ds=1: +CDS)",
    );
    assert_line(
        &got,
        &format!("clock {m0}"),
        "ok",
        "network time from the modem is",
    );

    // No SIM: said so, nothing further asked of that modem.
    let m1 = dev(1);
    let l = assert_line(&got, &format!("sim {m1}"), "fail", "no SIM card inserted");
    assert!(l.advice.unwrap().contains("insert a SIM"));
    assert!(got.iter().all(|l| l.check != format!("registration {m1}")));

    // PIN asked, none configured.
    let l = assert_line(
        &got,
        &format!("sim {}", dev(2)),
        "fail",
        "the SIM asks for its PIN and the configuration has none",
    );
    assert!(l
        .advice
        .unwrap()
        .starts_with("add pin = \"<PIN>\" to the [[modem]] entry of"));

    // No SMSC on the SIM.
    let l = assert_line(
        &got,
        &format!("smsc {}", dev(3)),
        "fail",
        "no SMS centre address on the SIM",
    );
    assert!(l.advice.unwrap().contains("AT+CSCA="));

    // Weak signal: a warning with its dBm and word.
    let l = assert_line(
        &got,
        &format!("signal {}", dev(4)),
        "warn",
        "-107 dBm (poor)",
    );
    assert!(l.advice.unwrap().contains("antenna"));

    // LTE-only: registered through +CEREG alone counts (no failure), with a warning that the
    // daemon's init does not take it yet.
    let l = assert_line(
        &got,
        &format!("registration {}", dev(5)),
        "warn",
        "registered on LTE only (+CREG: not registered, not searching; +CGREG: not registered, not searching; +CEREG: registered, home network)",
    );
    assert!(l.advice.unwrap().contains("init still waits for +CREG"));

    // Not registered anywhere.
    let l = assert_line(
        &got,
        &format!("registration {}", dev(6)),
        "fail",
        "not registered (+CREG: not registered, searching; +CGREG: not registered, searching; +CEREG: not registered, searching)",
    );
    assert!(l.advice.unwrap().contains("antenna"));

    assert_line(&got, "carrier block", "ok", "nothing to look at yet");
    assert_line(&got, "time zone", "ok", "Asia/Shanghai: local time ");
    assert_line(&got, "clock", "ok", "system clock ");
    // Exactly the failures above, nothing else.
    let fails: Vec<&str> = got
        .iter()
        .filter(|l| l.status == "fail")
        .map(|l| l.check.as_str())
        .collect();
    assert_eq!(
        fails,
        [
            format!("sim {m1}"),
            format!("sim {}", dev(2)),
            format!("smsc {}", dev(3)),
            format!("registration {}", dev(6)),
        ]
    );

    // The same as JSON.
    let out = w.cli(&["--json", "doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), got.len());
    let sim = arr
        .iter()
        .find(|c| c["check"] == format!("sim {m1}"))
        .unwrap();
    assert_eq!(sim["status"], "fail");
    assert_eq!(sim["detail"], "no SIM card inserted");
    assert!(sim["advice"].as_str().unwrap().contains("insert a SIM"));
    let ok = arr.iter().find(|c| c["check"] == "config").unwrap();
    assert_eq!(ok["advice"], Value::Null);
}

#[test]
fn a_configured_pin_is_a_warning_and_a_clock_set_wrong_fails() {
    let w = World::prepare(
        1,
        |c| c.all(|m| m.knobs.pin = Some("1234".into())),
        "",
        "pin = \"1234\"\n",
    );
    let dev = w.emulator().path(0).display().to_string();
    let out = w
        .command(&["doctor"])
        .env(groupsms::clock::START_VAR, "2001-01-01T00:00:00Z")
        .output()
        .unwrap();
    let got = lines(&out);
    assert_eq!(out.status.code(), Some(1));
    let l = assert_line(
        &got,
        &format!("sim {dev}"),
        "warn",
        "the SIM asks for its PIN; a PIN is configured",
    );
    assert!(l
        .advice
        .unwrap()
        .contains(&format!("groupsms modem probe {dev} --pin PIN")));
    let l = assert_line(
        &got,
        "clock",
        "fail",
        "the system clock says 2001-01-01 00:00:00 UTC: it looks unset",
    );
    assert!(l.advice.unwrap().contains("NTP"));
}

#[test]
fn network_time_far_from_the_system_clock_is_a_warning() {
    let w = World::prepare(1, |c| c, "", "");
    let dev = w.emulator().path(0).display().to_string();
    // The daemon's clock (GROUPSMS_CLOCK_START) an hour ahead of the network's.
    let ahead = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let out = w
        .command(&["doctor"])
        .env(groupsms::clock::START_VAR, ahead)
        .output()
        .unwrap();
    let got = lines(&out);
    assert_eq!(out.status.code(), Some(0), "{got:#?}");
    let l = assert_line(
        &got,
        &format!("clock {dev}"),
        "warn",
        "network time from the modem is 3",
    );
    assert!(l.detail.ends_with("s behind the system clock"), "{l:?}");
}

#[test]
fn a_port_held_by_another_process_names_it() {
    let w = World::prepare(1, |c| c, "", "");
    let dev = w.emulator().path(0).to_path_buf();
    // Hold the port the way another serial program does: open and lock it exclusively.
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&dev)
        .unwrap();
    assert_eq!(
        unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let me = std::process::id();
    let comm = std::fs::read_to_string(format!("/proc/{me}/comm")).unwrap();
    let (code, got) = doctor(&w);
    assert_eq!(code, Some(1));
    let l = assert_line(
        &got,
        &format!("modem {}", dev.display()),
        "fail",
        &format!("busy: held by {} (pid {me})", comm.trim()),
    );
    assert_eq!(
        l.advice.unwrap(),
        format!("stop {} (pid {me}), or configure another port", comm.trim())
    );
    drop(held);
    let (_, got) = doctor(&w);
    assert_line(
        &got,
        &format!("modem {}", dev.display()),
        "ok",
        "answers AT",
    );
}

/// A temp dir others may enter, with a configuration in it.
fn setup(config: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = config.replace("{d}", &dir.path().display().to_string());
    let path = dir.path().join("groupsms.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path.display().to_string())
}

#[test]
fn a_broken_configuration_is_one_failed_check() {
    let (_dir, config) = setup("[daemon]\nsocket = \"{d}/s.sock\"\nsockett = \"{d}/s.sock\"\n");
    let out = Command::new(BIN)
        .args(["--config", &config, "doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let got = lines(&out);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].check, "config");
    assert_eq!(got[0].status, "fail");
    assert!(
        got[0]
            .detail
            .starts_with(&format!("{config}: line 3: unknown field `sockett`")),
        "{:?}",
        got[0]
    );
    assert!(got[0]
        .advice
        .as_deref()
        .unwrap()
        .starts_with(&format!("fix {config} at that line")));
    let out = Command::new(BIN)
        .args(["--config", "/nonexistent/groupsms.toml", "doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let got = lines(&out);
    assert_eq!(
        got[0].detail,
        "cannot read /nonexistent/groupsms.toml: No such file or directory (os error 2)"
    );
}

#[test]
fn a_missing_device_and_a_database_directory_you_may_not_write() {
    let (dir, config) = setup(
        "[daemon]\nsocket = \"{d}/s.sock\"\ndatabase = \"{d}/state/groupsms.db\"\n\
         [[modem]]\ndevice = \"/dev/groupsms-no-such-modem\"\n[[modem]]\ndevice = \"{d}/gsm/*\"\n",
    );
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o555)).unwrap();
    // As nobody: root may write anywhere, a user may not.
    let out = Command::new(BIN)
        .args(["--config", &config, "doctor"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = lines(&out);
    let l = assert_line(
        &got,
        "database directory",
        "fail",
        &format!(
            "{}/groupsms.db: the directory {} is not writable by you (nobody, uid 65534; it is root:root, mode 0555)",
            state.display(),
            state.display()
        ),
    );
    assert!(l.advice.unwrap().contains("chown groupsms:groupsms"));
    let l = assert_line(
        &got,
        "modem /dev/groupsms-no-such-modem",
        "fail",
        "missing: no such device",
    );
    assert!(l.advice.unwrap().contains("/dev/gsm/"));
    assert_line(
        &got,
        &format!("modem {}/gsm/*", dir.path().display()),
        "fail",
        "no device matches now",
    );

    // A database directory that is not there at all.
    let (_d2, config) =
        setup("[daemon]\nsocket = \"{d}/s.sock\"\ndatabase = \"{d}/gone/groupsms.db\"\n");
    let out = Command::new(BIN)
        .args(["--config", &config, "doctor"])
        .output()
        .unwrap();
    let got = lines(&out);
    let l = assert_line(&got, "database directory", "fail", "gone does not exist");
    assert!(l
        .advice
        .unwrap()
        .starts_with("create it for the daemon's user: install -d"));
    assert_line(
        &got,
        "modems",
        "warn",
        "no [[modem]] entry in the configuration",
    );
}

#[test]
fn with_a_running_daemon_the_modems_are_read_through_it() {
    let mut w = World::start(2, |c| c.modem(1, |m| m.knobs.rssi = 3), "");
    let _ = ops_group(&w, 1);
    let (code, got) = doctor(&w);
    assert_eq!(code, Some(0), "{got:#?}");
    assert_line(
        &got,
        "socket",
        "ok",
        "the daemon answers hello (protocol 1)",
    );
    assert_line(&got, "database", "ok", "bytes, root:root");
    assert_line(
        &got,
        "database schema",
        "ok",
        &format!(
            "version {}, the one this binary writes",
            groupsms::store::SCHEMA_VERSION
        ),
    );
    for i in 0..2 {
        let dev = w.emulator().path(i).display().to_string();
        let l = assert_line(
            &got,
            &format!("modem {dev}"),
            "ok",
            "checked through the running daemon: ready, IMSI 46000",
        );
        assert!(l.detail.contains("CHINA MOBILE"), "{l:?}");
        // The ports stay the daemon's: doctor asked the daemon, not the modem.
        assert!(got.iter().all(|l| l.check != format!("sim {dev}")));
    }
    let weak = w.emulator().path(1).display().to_string();
    assert_line(
        &got,
        &format!("signal {weak}"),
        "warn",
        "-107 dBm (poor) (from the daemon)",
    );
    assert_line(&got, "carrier block", "ok", "no sign in the last 24 h (0 recent outcomes in the database, 2 modems' problems from the daemon)");
    w.stop_daemon();
}

#[test]
fn a_barred_sim_shows_in_the_carrier_check() {
    // The carrier answers every send with +CMS ERROR: 10 (call barred).
    let mut w = World::start(
        1,
        |c| {
            c.all(|m| {
                m.knobs.cap = Some(0);
                m.knobs.cap_error = 10;
            })
        },
        "",
    );
    let _ = ops_group(&w, 2);
    let id = w.send("ops", "alice", "hello");
    let dev = w.emulator().path(0).display().to_string();
    // Wait until a refusal is recorded (the daemon has no event for a modem taken out).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let got = loop {
        let (code, got) = doctor(&w);
        if got
            .iter()
            .any(|l| l.check == format!("carrier block {dev}"))
        {
            assert_eq!(code, Some(1));
            break got;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no carrier block seen: {got:#?}\n{:#?}",
            w.show(id)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let l = assert_line(
        &got,
        &format!("carrier block {dev}"),
        "fail",
        "+CMS ERROR: 10 (Call barred) in the last 24 h: the network says this SIM may not send",
    );
    assert!(l.advice.unwrap().starts_with("ask the carrier"));
    w.stop_daemon();
}

#[test]
fn help_documents_the_exit_statuses() {
    let out = Command::new(BIN)
        .args(["doctor", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "Exit status: 0 nothing failed (warnings allowed); 1 at least one check failed"
        ),
        "{text}"
    );
    assert!(Path::new(BIN).exists());
}

#[test]
fn a_database_this_binary_cannot_use_fails() {
    let (dir, config) =
        setup("[daemon]\nsocket = \"{d}/s.sock\"\ndatabase = \"{d}/groupsms.db\"\n");
    let db = dir.path().join("groupsms.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let run = || {
        let out = Command::new(BIN)
            .args(["--config", &config, "doctor"])
            .output()
            .unwrap();
        (out.status.code(), lines(&out))
    };
    let (code, got) = run();
    assert_eq!(code, Some(1));
    let l = assert_line(
        &got,
        "database schema",
        "fail",
        &format!(
            "version 99, newer than this binary's {}",
            groupsms::store::SCHEMA_VERSION
        ),
    );
    assert_eq!(
        l.advice.unwrap(),
        "install the groupsms that wrote it, or restore a backup"
    );
    // Doctor looked without touching: no WAL made, still 99.
    assert!(!dir.path().join("groupsms.db-wal").exists());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let v: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 99);
    drop(conn);
    std::fs::write(
        &db,
        "not a database, just text that is long enough to have a header\n".repeat(10),
    )
    .unwrap();
    let (code, got) = run();
    assert_eq!(code, Some(1));
    assert_line(
        &got,
        "database schema",
        "fail",
        &format!("{} is not an SQLite database", db.display()),
    );
}

#[test]
fn a_modem_left_at_the_sms_prompt_still_answers() {
    use std::io::{Read, Write};
    let w = World::prepare(1, |c| c, "", "");
    let dev = w.emulator().path(0).to_path_buf();
    // Another program asked for the prompt and went away without ending the message.
    let mut port = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&dev)
        .unwrap();
    port.write_all(b"ATE0\rAT+CMGS=18\r").unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 64];
    while !seen.ends_with(b"> ") {
        let n = port.read(&mut buf).unwrap();
        seen.extend_from_slice(&buf[..n]);
    }
    drop(port);
    // (The engine logs its re-sync on stderr.)
    let got = lines(&w.cli(&["doctor"]));
    assert_line(
        &got,
        &format!("modem {}", dev.display()),
        "ok",
        "answers AT",
    );
    assert_line(
        &got,
        &format!("sim {}", dev.display()),
        "ok",
        "present, ready",
    );
}

#[test]
fn a_device_you_may_not_open_names_its_group() {
    let w = World::prepare(1, |c| c, "", "");
    std::fs::set_permissions(w.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dev = w.emulator().path(0).display().to_string();
    let out = w
        .command(&["doctor"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let got = lines(&out);
    let l = assert_line(
        &got,
        &format!("modem {dev}"),
        "fail",
        &format!("permission denied: {dev} is group "),
    );
    assert!(l.detail.ends_with("and you are nobody, uid 65534"), "{l:?}");
    assert!(l
        .advice
        .unwrap()
        .starts_with("add yourself (and the daemon's user) to group "));
    // The database directory (the test's, root's) is not the user's either.
    assert_line(
        &got,
        "database directory",
        "fail",
        "is not writable by you (nobody, uid 65534; it is root:root, mode 0755)",
    );
}

#[test]
fn a_database_the_daemon_left_is_read_without_it() {
    // WAL mode, closed cleanly (no -wal, no -shm left): a read-only open must still work.
    let (dir, config) =
        setup("[daemon]\nsocket = \"{d}/s.sock\"\ndatabase = \"{d}/groupsms.db\"\n");
    let db = dir.path().join("groupsms.db");
    drop(groupsms::store::Store::open(&db).unwrap());
    assert!(!dir.path().join("groupsms.db-shm").exists());
    let out = Command::new(BIN)
        .args(["--config", &config, "doctor"])
        .output()
        .unwrap();
    let got = lines(&out);
    assert_line(
        &got,
        "database schema",
        "ok",
        &format!(
            "version {}, the one this binary writes",
            groupsms::store::SCHEMA_VERSION
        ),
    );
    assert_line(
        &got,
        "carrier block",
        "ok",
        "no sign in the last 24 h (0 recent outcomes in the database)",
    );
    // As a user who may only read it (the daemon's file, a curious admin).
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(BIN)
        .args(["--config", &config, "doctor"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let got = lines(&out);
    assert_line(
        &got,
        "database",
        "fail",
        "not readable and writable by you (nobody, uid 65534; it is root:root, mode 0644)",
    );
    assert_line(
        &got,
        "database schema",
        "ok",
        &format!("version {}", groupsms::store::SCHEMA_VERSION),
    );
}
