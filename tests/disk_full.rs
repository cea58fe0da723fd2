//! The disk holding the database fills up in the middle of a broadcast, through the real
//! binary: the daemon runs in a private mount namespace (`unshare --mount`) whose database
//! directory is a small tmpfs; the test fills it with a file (reached through
//! `/proc/<daemon>/root`, the daemon's view of the file system), watches what the daemon does
//! while no commit can succeed, removes the file and watches it recover without a restart.
//!
//! Needs root and `unshare` (util-linux) in a kernel or container that allows mount
//! namespaces; without them it says `SKIPPED: ...` and passes.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::{ops_group, World};
use serde_json::Value;

/// Root, and a mount namespace with a tmpfs can be made here.
fn namespace_ok() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: not root (a tmpfs in a private mount namespace needs it)");
        return false;
    }
    let dir = tempfile::tempdir().unwrap();
    let ok = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o size=1m groupsms-probe "$0""#)
        .arg(dir.path())
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: unshare --mount with a tmpfs mount is not possible here \
             (util-linux missing, or the kernel or container forbids mount namespaces)"
        );
    }
    ok
}

/// Rewrites the `database = ...` line of the harness's configuration.
fn set_database(w: &World, path: &Path) {
    let text = std::fs::read_to_string(w.config()).unwrap();
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("database = ") {
                format!("database = \"{}\"", path.display())
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(w.config(), text.join("\n") + "\n").unwrap();
}

/// Writes zeros to `path` until the file system says it is full; returns the bytes written.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    // Smaller writes take the last partial block.
    let small = [0u8; 512];
    while let Ok(n) = f.write(&small) {
        if n == 0 {
            break;
        }
        written += n as u64;
    }
    written
}

fn states(show: &Value) -> Vec<String> {
    show["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap().to_string())
        .collect()
}

fn count(states: &[String], state: &str) -> usize {
    states.iter().filter(|s| *s == state).count()
}

#[test]
fn a_full_disk_pauses_sending_and_everything_resumes_when_space_returns() {
    if !namespace_ok() {
        return;
    }
    let mut w = World::prepare(
        2,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(120)),
        "",
        "",
    );
    let db_dir = w.dir.path().join("db");
    std::fs::create_dir(&db_dir).unwrap();
    set_database(&w, &db_dir.join("groupsms.db"));
    let mount = r#"mount -t tmpfs -o size=8m,mode=0750 groupsms-db "$0" && exec "$@""#;
    w.start_daemon_via(&[
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        mount,
        db_dir.to_str().unwrap(),
    ]);
    let pid = w.daemon_pid().unwrap();
    // The daemon's database directory as the daemon sees it (this test's own view of
    // `db_dir` is the empty directory under the mount).
    let inside = Path::new(&format!("/proc/{pid}/root")).join(db_dir.strip_prefix("/").unwrap());
    assert!(inside.join("groupsms.db").exists(), "{}", w.daemon_log());
    assert!(
        !db_dir.join("groupsms.db").exists(),
        "the database is on the tmpfs"
    );

    let numbers = ops_group(&w, 40);
    let text = "disk full drill: the pump room is closed";
    let id = w.send("ops", "alice", text);

    // Mid-broadcast: once a few are sent, the disk fills.
    let filler = inside.join("filler");
    let mut filled = None;
    w.follow(id, |totals| {
        if totals["sent"].as_u64().unwrap_or(0) + totals["delivered"].as_u64().unwrap_or(0) >= 6 {
            let lines = w.daemon_log().lines().count();
            let bytes = fill(&filler);
            filled = Some((Instant::now(), lines, bytes));
            return true;
        }
        false
    });
    let (full_at, lines_before, bytes) = filled.expect("the broadcast got going");
    eprintln!("filled the tmpfs with {bytes} bytes");

    // While full: the daemon stays up, says why it pauses (to systemd too), refuses new
    // broadcasts cleanly.
    let paused_note = w.notification(Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(3));
    let status = w.json(&["status"]);
    let refused = w.cli(&[
        "--json", "send", "--group", "ops", "--as", "alice", "second",
    ]);
    std::thread::sleep(Duration::from_secs(3));
    let full_for = full_at.elapsed();
    let log = w.daemon_log();
    let episode: Vec<&str> = log.lines().skip(lines_before).collect();
    let during = episode.len();
    let show_full = w.show(id);
    let full_states = states(&show_full);
    eprintln!(
        "while full ({:.1} s): {during} log lines ({:.1}/s); deliveries: {} sending, {} queued, {} sent",
        full_for.as_secs_f64(),
        during as f64 / full_for.as_secs_f64(),
        count(&full_states, "sending"),
        count(&full_states, "queued"),
        count(&full_states, "sent") + count(&full_states, "delivered"),
    );
    eprintln!("status while full: {}", status["store_problem"]);
    eprintln!("log lines while full:\n{}", episode.join("\n"));

    // Space returns.
    std::fs::remove_file(&filler).unwrap();
    let freed_at = Instant::now();
    let totals = w.follow(id, |_| false);
    let resumed_note = w.notification(Duration::from_secs(10));
    eprintln!("systemd heard: {paused_note:?}, then {resumed_note:?}");
    eprintln!(
        "after the space returned: finished in {:.1} s: {totals}",
        freed_at.elapsed().as_secs_f64()
    );

    // Every judgement after the figures are printed.
    assert!(
        status["store_problem"]
            .as_str()
            .is_some_and(|p| p.contains("full")),
        "status names the problem: {status:#}"
    );
    assert!(
        paused_note.as_deref().is_some_and(|n| n.contains("STATUS=")
            && n.contains("sending paused")
            && n.contains("full")),
        "{paused_note:?}"
    );
    assert!(
        resumed_note
            .as_deref()
            .is_some_and(|n| n.contains("STATUS=") && !n.contains("paused")),
        "{resumed_note:?}"
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(
        refused.status.code(),
        Some(69),
        "a broadcast on a full disk is refused as the daemon's trouble: {said}"
    );
    assert!(
        said.contains("nothing was accepted") && said.contains("disk holding the database is full"),
        "{said}"
    );
    assert_eq!(
        status["outcomes_held"].as_u64(),
        Some(count(&full_states, "sending") as u64),
        "every delivery left `sending` has its outcome held: {status:#}"
    );
    assert!(
        count(&full_states, "sending") <= 2,
        "no more than one message per modem in flight when the disk filled: {full_states:?}"
    );
    assert!(
        during <= 12,
        "{during} log lines in {full_for:?} of a full disk:\n{}",
        episode.join("\n")
    );
    let show = w.show(id);
    let end_states = states(&show);
    assert!(
        end_states.iter().all(|s| s == "sent" || s == "delivered"),
        "every delivery sent once space returned: {end_states:?}\n{}",
        w.daemon_log()
    );
    let phones = w.phones();
    for n in &numbers {
        let got = phones.phone(n).texts().len();
        assert_eq!(got, 1, "{n} received {got} messages\n{}", phones.render());
    }
    // The second broadcast was not half-written: only the first exists.
    let list = w.json(&["broadcast", "list"]);
    assert_eq!(list["broadcasts"].as_array().unwrap().len(), 1, "{list:#}");
    // Sending works again without a restart, and the problem is gone from `status`.
    let again = w.send("ops", "alice", "all clear");
    w.follow(again, |_| false);
    let status = w.json(&["status"]);
    assert!(status["store_problem"].is_null(), "{status:#}");
    w.stop_daemon();
}
