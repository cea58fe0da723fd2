//! The daemon's files on disk, through the real binary (see `common/daemon.rs`): what it may
//! delete at the socket path, the database's durability setting, one daemon per database,
//! the modes of the files it creates, and world-writable directories.
//! SQLite only: `.ci/run`'s PostgreSQL pass leaves this file out (it is about the SQLite file).

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::daemon::{wait_exit, World};

/// Rewrites one `key = ...` line of the harness's configuration.
fn set_key(w: &World, key: &str, value: &str) {
    let text = std::fs::read_to_string(w.config()).unwrap();
    let mut found = false;
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{key} = ")) && !found {
                found = true;
                format!("{key} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "no {key} in the configuration");
    std::fs::write(w.config(), text.join("\n") + "\n").unwrap();
}

/// Adds lines to the `[daemon]` table.
fn daemon_keys(w: &World, lines: &str) {
    let text = std::fs::read_to_string(w.config()).unwrap();
    let text = text.replacen("[daemon]\n", &format!("[daemon]\n{lines}\n"), 1);
    std::fs::write(w.config(), text).unwrap();
}

/// Starts a daemon that is expected to refuse: its exit status and what it said (killed
/// after 15 s, `None`, if it ran instead).
fn refused_start(w: &World) -> (Option<i32>, String) {
    refused(w.daemon_command(false))
}

/// [`refused_start`] of any daemon command.
fn refused(mut cmd: Command) -> (Option<i32>, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr_pipe, &mut s);
        s
    });
    let status = wait_exit(&mut child, Duration::from_secs(15));
    let said = reader.join().unwrap();
    (status.and_then(|s| s.code()), said)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Finding 1: the daemon deleted whatever sat at the socket path, the database included when
/// `socket` named it.
#[test]
fn nothing_but_a_stale_socket_is_ever_deleted_at_the_socket_path() {
    let mut w = World::prepare(1, |c| c, "", "");
    w.start_daemon();
    w.ok(&["group", "create", "ops", "--name", "运维组"]);
    w.stop_daemon();
    let db = std::fs::read(w.database()).unwrap();
    assert!(!db.is_empty());

    // socket = database: refused at load, naming both keys; the database is untouched.
    set_key(&w, "socket", &format!("\"{}\"", w.database().display()));
    let (code, said) = refused_start(&w);
    assert!(code.is_some_and(|c| c != 0), "{code:?}: {said}");
    assert!(
        said.contains("socket") && said.contains("database"),
        "names both keys: {said}"
    );
    assert_eq!(std::fs::read(w.database()).unwrap(), db, "the database");

    // A regular file where the socket goes: refused, the file stays.
    set_key(&w, "socket", &format!("\"{}\"", w.socket().display()));
    std::fs::write(w.socket(), b"not a socket").unwrap();
    let (code, said) = refused_start(&w);
    assert_eq!(code, Some(69), "{said}");
    assert!(said.contains("not a socket"), "{said}");
    assert_eq!(std::fs::read(w.socket()).unwrap(), b"not a socket");

    // A stale socket (nobody listening) is still replaced, and the data is all there.
    std::fs::remove_file(w.socket()).unwrap();
    drop(UnixListener::bind(w.socket()).unwrap());
    w.start_daemon();
    assert_eq!(
        w.json(&["group", "list"])["groups"][0]["handle"],
        "ops",
        "{}",
        w.daemon_log()
    );
    w.stop_daemon();
    assert!(!w.socket().exists(), "the daemon removes its own socket");
}

/// Finding 2: `synchronous = NORMAL` in WAL mode loses the last commits on power loss; the
/// daemon's own connection must run with FULL. (A power cut cannot be simulated here: what is
/// tested is the setting on the connection the daemon uses, as the daemon reports it.)
#[test]
fn the_daemon_database_connection_runs_with_synchronous_full() {
    let mut w = World::prepare(1, |c| c, "", "");
    w.start_daemon();
    let log = w.daemon_log();
    assert!(
        log.contains("synchronous=FULL") && log.contains("journal_mode=wal"),
        "{log}"
    );
    w.stop_daemon();
}

/// Finding 3: with the socket file deleted, the CLI said "start it", a second daemon started
/// on the same database, and stopping the first deleted the socket of whoever had bound the
/// path since.
#[test]
fn one_daemon_per_database_and_only_its_own_socket_is_removed() {
    let mut w = World::prepare(1, |c| c, "", "");
    w.start_daemon();
    let pid = w.daemon_pid().unwrap();
    w.ok(&["status"]);
    std::fs::remove_file(w.socket()).unwrap();

    // The CLI tells a missing socket with a live daemon from no daemon at all.
    let out = w.cli(&["status"]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let msg = stderr(&out);
    assert!(
        msg.contains(&format!("pid {pid}")) && !msg.contains("start it with"),
        "{msg}"
    );

    // A second daemon on the same database refuses, naming the first one's pid.
    let (code, said) = refused_start(&w);
    assert_eq!(code, Some(69), "{said}");
    assert!(said.contains(&format!("pid {pid}")), "{said}");
    assert!(!w.socket().exists(), "the refused daemon bound nothing");

    // A daemon of another database on the same socket path (the first one's file was
    // deleted) is not disturbed when the first one stops.
    let other = w.dir.path().join("other.toml");
    let text = std::fs::read_to_string(w.config())
        .unwrap()
        .replace("groupsms.db", "other.db")
        .replace("/dev/modem*", "/nodev/modem*");
    std::fs::write(&other, text).unwrap();
    let daemon_of = |config: &Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_groupsms"));
        cmd.args(["--config", config.to_str().unwrap(), "daemon"])
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null());
        cmd
    };
    let mut second = daemon_of(&other)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !w.socket().exists() {
        assert!(std::time::Instant::now() < deadline, "the second daemon");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ino = std::fs::metadata(w.socket()).unwrap().ino();
    // A third database on that live socket: refused, the socket left alone.
    let third = w.dir.path().join("third.toml");
    std::fs::write(
        &third,
        std::fs::read_to_string(&other)
            .unwrap()
            .replace("other.db", "third.db"),
    )
    .unwrap();
    let (code, said) = refused(daemon_of(&third));
    assert_eq!(code, Some(69), "{said}");
    assert!(said.contains("already listening"), "{said}");
    assert_eq!(std::fs::metadata(w.socket()).unwrap().ino(), ino);
    w.stop_daemon();
    let still = std::fs::metadata(w.socket()).map(|m| m.ino());
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(
        still.ok(),
        Some(ino),
        "the other daemon's socket was removed"
    );

    // No daemon: the CLI says so and how to start one.
    let out = w.cli(&["status"]);
    assert_eq!(out.status.code(), Some(69));
    assert!(
        stderr(&out).contains("daemon not running at")
            && stderr(&out).contains("start it with `groupsms daemon`"),
        "{}",
        stderr(&out)
    );
}

/// Finding 4: outside systemd the database and its WAL were created 0644 in a 0755 directory.
#[test]
fn the_database_is_private_whatever_the_umask() {
    let mut w = World::prepare(1, |c| c, "", "");
    let state = w.dir.path().join("state");
    set_key(
        &w,
        "database",
        &format!("\"{}\"", state.join("groupsms.db").display()),
    );
    let umask_022 = |cmd: &mut std::process::Command| {
        // SAFETY: umask is async-signal-safe and touches only the child.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(cmd, || {
                libc::umask(0o022);
                Ok(())
            });
        }
    };
    w.start_daemon_with(umask_022);
    w.ok(&["group", "create", "ops", "--name", "运维组"]);
    assert_eq!(mode(&state), 0o750, "the database directory");
    for file in ["groupsms.db", "groupsms.db-wal", "groupsms.db-shm"] {
        assert_eq!(mode(&state.join(file)), 0o640, "{file}");
    }
    assert!(!w.daemon_log().contains("readable by others"));
    w.stop_daemon();

    // A database someone made readable by all: the daemon says so at start.
    std::fs::set_permissions(
        state.join("groupsms.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    w.start_daemon_with(umask_022);
    let log = w.daemon_log();
    assert!(log.contains("readable by others"), "{log}");
    w.stop_daemon();
}

/// Finding 5: a modem glob or the socket in a world-writable directory let any local user add
/// a fake "modem" (which then reads every message) or squat the socket.
#[test]
fn world_writable_directories_are_refused_unless_allowed() {
    let mut w = World::prepare(1, |c| c, "", "");
    let public = w.dir.path().join("public");
    std::fs::create_dir(&public).unwrap();
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o1777)).unwrap();

    // A modem glob in a sticky world-writable directory (like /tmp).
    set_key(
        &w,
        "device",
        &format!("\"{}\"", public.join("modem*").display()),
    );
    let (code, said) = refused_start(&w);
    assert_eq!(code, Some(69), "{said}");
    assert!(
        said.contains("world-writable")
            && said.contains(public.to_str().unwrap())
            && said.contains("allow_world_writable"),
        "{said}"
    );
    // A glob under a directory that does not exist yet counts its nearest existing ancestor.
    set_key(
        &w,
        "device",
        &format!("\"{}\"", public.join("later/modem*").display()),
    );
    let (code, said) = refused_start(&w);
    assert_eq!(code, Some(69), "{said}");

    // The socket in such a directory.
    set_key(
        &w,
        "device",
        &format!("\"{}\"", w.dir.path().join("dev/modem*").display()),
    );
    set_key(
        &w,
        "socket",
        &format!("\"{}\"", public.join("groupsms.sock").display()),
    );
    let (code, said) = refused_start(&w);
    assert_eq!(code, Some(69), "{said}");
    assert!(said.contains("world-writable"), "{said}");
    assert!(!public.join("groupsms.sock").exists());

    // Allowed explicitly: the daemon starts, and warns.
    daemon_keys(&w, "allow_world_writable = true");
    w.start_daemon();
    w.ok(&["status"]);
    assert!(public.join("groupsms.sock").exists());
    assert!(
        w.daemon_log().contains("world-writable"),
        "{}",
        w.daemon_log()
    );
    w.stop_daemon();
}
