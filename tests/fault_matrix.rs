//! The fault matrix of issue 7: the real `groupsms` binary as daemon and CLI against emulated
//! modems on real PTYs (see `common/daemon.rs`), one scenario per test. Each prints one row
//! (`FAULT-MATRIX scenario | delivered | duplicates | lost | time to recover`) and asserts that
//! nothing is lost and that duplicates stay within what the scenario allows.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::daemon::{ops_group, World};
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// Per-SIM caps high enough for any scenario here (`[[modem]]` keys).
const UNCAPPED: &str = "max_per_hour = 100000\nmax_per_day = 100000\n";

/// What the phones received of one text: per number, how many times.
struct Tally {
    delivered: usize,
    duplicates: usize,
    lost: Vec<String>,
    /// Numbers that got the text more than once.
    duplicated: Vec<String>,
}

fn tally(w: &World, numbers: &[String], text: &str) -> Tally {
    let phones = w.phones();
    let mut t = Tally {
        delivered: 0,
        duplicates: 0,
        lost: Vec::new(),
        duplicated: Vec::new(),
    };
    for n in numbers {
        let got = phones
            .phone(n)
            .texts()
            .iter()
            .filter(|x| **x == text)
            .count();
        match got {
            0 => t.lost.push(n.clone()),
            1 => t.delivered += 1,
            k => {
                t.delivered += 1;
                t.duplicates += k - 1;
                t.duplicated.push(n.clone());
            }
        }
    }
    t
}

/// The one-line row of a scenario.
/// `failed`: numbers the daemon reported failed (with a reason), which are not lost.
fn row(scenario: &str, t: &Tally, failed: usize, recover: Option<Duration>) {
    let recover = recover.map_or("-".to_string(), |d| format!("{:.2}s", d.as_secs_f64()));
    eprintln!(
        "FAULT-MATRIX {scenario:<34} | delivered {:>5} | duplicates {:>3} | lost {:>3} | failed (reported) {failed:>3} | recover {recover}",
        t.delivered,
        t.duplicates,
        t.lost.len().saturating_sub(failed)
    );
}

fn deliveries(show: &Value) -> &Vec<Value> {
    show["deliveries"].as_array().expect("deliveries")
}

/// Adds `lines` to the `[scheduler]` table of the harness's configuration.
fn scheduler_keys(w: &World, lines: &str) {
    let text = std::fs::read_to_string(w.config()).unwrap();
    assert!(text.contains("[scheduler]\n"), "{text}");
    let text = text.replacen("[scheduler]\n", &format!("[scheduler]\n{lines}\n"), 1);
    std::fs::write(w.config(), text).unwrap();
}

fn sent(t: &Value) -> u64 {
    t["sent"].as_u64().unwrap_or(0)
}

/// `kill -9` at ten seeded random moments of a 1 000-recipient broadcast, restarting each
/// time: nothing lost; a duplicate only for a part in flight at a kill (at most one per modem
/// per kill), and every duplicate flagged `possible_duplicate`.
#[test]
fn kill_9_at_random_moments_loses_nothing() {
    const MODEMS: usize = 3;
    const KILLS: usize = 10;
    let mut w = World::start(
        MODEMS,
        |c| {
            c.all(|m| {
                m.knobs.send_latency = Duration::from_millis(5);
                m.knobs.send_jitter = Duration::from_millis(5);
            })
        },
        // The default per-SIM cap (200 an hour) would stop 3 modems at 600 parts.
        UNCAPPED,
    );
    let numbers = ops_group(&w, 999);
    assert_eq!(numbers.len(), 1000);
    let text = "kill -9 test";
    let id = w.send("ops", "alice", text);
    let want = format!("【运维组】{text}");
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0x5eed_0007);
    let mut at_kill = 0u64;
    let mut worst_recover = Duration::ZERO;
    for k in 0..KILLS {
        // Spread the kills over the broadcast: each one 40..90 parts after the last.
        let threshold = at_kill + rng.gen_range(40..90);
        let totals = w.follow(id, |t| sent(t) >= threshold);
        assert!(
            totals["finished"] != true,
            "kill {k}: the broadcast finished before the kill at {threshold}: {totals}"
        );
        at_kill = sent(&totals);
        let killed = Instant::now();
        w.kill_daemon();
        w.start_daemon();
        // Recovered: the restarted daemon records a new sent part.
        let totals = w.follow(id, |t| sent(t) > at_kill);
        assert!(sent(&totals) > at_kill, "kill {k}: {totals}");
        worst_recover = worst_recover.max(killed.elapsed());
    }
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["finished"], true, "{totals}");
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(1000), Some(0)),
        "{totals}"
    );
    let t = tally(&w, &numbers, &want);
    row("kill -9 x10, 1000 recipients", &t, 0, Some(worst_recover));
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    assert!(
        t.duplicates <= KILLS * MODEMS,
        "{} duplicates for {KILLS} kills of {MODEMS} modems: {:?}",
        t.duplicates,
        t.duplicated
    );
    // Every number that got it twice is reported as a possible duplicate.
    let show = w.show(id);
    let flagged: HashSet<&str> = deliveries(&show)
        .iter()
        .filter(|d| d["possible_duplicate"] == true)
        .map(|d| d["number"].as_str().unwrap())
        .collect();
    for n in &t.duplicated {
        assert!(
            flagged.contains(n.as_str()),
            "{n} duplicated but not flagged"
        );
    }
    assert!(
        flagged.len() <= KILLS * MODEMS,
        "{} flagged for {KILLS} kills",
        flagged.len()
    );
    assert_eq!(deliveries(&show).len(), 1000);
    assert!(deliveries(&show).iter().all(|d| d["state"] == "sent"));
}

/// Every delivery of `show` is `sent`, and none is flagged a possible duplicate.
fn all_sent_once(show: &Value) {
    for d in deliveries(show) {
        assert_eq!(d["state"], "sent", "{d}");
        assert_eq!(d["possible_duplicate"], false, "{d}");
    }
}

/// Every number that got the text twice is flagged in `broadcast show`.
fn duplicates_flagged(show: &Value, t: &Tally) {
    let flagged: HashSet<&str> = deliveries(show)
        .iter()
        .filter(|d| d["possible_duplicate"] == true)
        .map(|d| d["number"].as_str().unwrap())
        .collect();
    for n in &t.duplicated {
        assert!(
            flagged.contains(n.as_str()),
            "{n} duplicated but not flagged"
        );
    }
}

fn error_rate(rate: f64, label: &str) {
    let mut w = World::prepare(
        3,
        |c| {
            c.all(|m| {
                m.knobs.send_latency = Duration::from_millis(5);
                m.knobs.error_rate = rate;
                m.knobs.error_codes = vec![38, 42, 500];
            })
        },
        "",
        UNCAPPED,
    );
    // Transient errors are retried; enough tries that a 30% rate cannot exhaust them
    // (0.3^20 per recipient).
    scheduler_keys(&w, "max_attempts = 20");
    w.start_daemon();
    let numbers = ops_group(&w, 199);
    let text = format!("error rate {label}");
    let id = w.send("ops", "alice", &text);
    let totals = w.follow(id, |_| false);
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(200), Some(0)),
        "{totals}"
    );
    let t = tally(&w, &numbers, &format!("【运维组】{text}"));
    row(&format!("+CMS 38/42/500 at {label}"), &t, 0, None);
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    assert_eq!(t.duplicates, 0, "{:?}", t.duplicated);
    let show = w.show(id);
    all_sent_once(&show);
    let refused: u32 = w
        .emulator()
        .summary()
        .modems
        .iter()
        .map(|m| m.stats.failed.values().sum::<u32>())
        .sum();
    assert!(refused > 0, "the knob must have fired");
    let retried = deliveries(&show)
        .iter()
        .map(|d| d["attempts"].as_u64().unwrap() - 1)
        .sum::<u64>();
    assert_eq!(retried, refused as u64, "each refusal costs one more try");
}

/// Mixed transient `+CMS` errors at 5% and 30% on every modem: every recipient exactly once.
#[test]
fn transient_errors_at_5_and_30_percent_deliver_everything_once() {
    error_rate(0.05, "5%");
    error_rate(0.30, "30%");
}

/// Sends to 150 numbers over 3 modems and returns once `sent >= at` (not finished).
fn broadcast_under_way(w: &World, text: &str, at: u64) -> (Vec<String>, i64) {
    let numbers = ops_group(w, 149);
    let id = w.send("ops", "alice", text);
    let totals = w.follow(id, |t| sent(t) >= at);
    assert_ne!(
        totals["finished"], true,
        "finished before the fault: {totals}"
    );
    (numbers, id)
}

fn is_up(m: &Value) -> bool {
    m["state"] == "ready" || m["state"] == "busy"
}

/// Every modem unplugged in the middle of a broadcast: it waits; plugged back, it completes.
#[test]
fn all_modems_gone_then_back_completes_the_broadcast() {
    const MODEMS: usize = 3;
    let w = World::start(
        MODEMS,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(20)),
        UNCAPPED,
    );
    let text = "all modems gone";
    let (numbers, id) = broadcast_under_way(&w, text, 30);
    for i in 0..MODEMS {
        w.block_on(w.emulator().unplug(i)).unwrap();
    }
    w.wait_modems("every modem leaves the pool", |ms| !ms.iter().any(is_up));
    let status = w.json(&["status"]);
    let waiting = status["deliveries_waiting"].as_u64().unwrap();
    assert!(waiting > 0, "{status}");
    let before = w.show(id);
    let sent_before = deliveries(&before)
        .iter()
        .filter(|d| d["state"] == "sent")
        .count() as u64;
    assert!(sent_before < 150, "{before}");

    let replugged = Instant::now();
    for i in 0..MODEMS {
        w.block_on(w.emulator().replug(i)).unwrap();
    }
    let totals = w.follow(id, |t| sent(t) > sent_before);
    assert!(sent(&totals) > sent_before, "{totals}");
    let recover = replugged.elapsed();
    let totals = w.follow(id, |_| false);
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(150), Some(0)),
        "{totals}"
    );
    let t = tally(&w, &numbers, &format!("【运维组】{text}"));
    row("all modems unplugged, replugged", &t, 0, Some(recover));
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    // Only a part in flight when its modem vanished may have gone out twice.
    assert!(t.duplicates <= MODEMS, "{:?}", t.duplicated);
    duplicates_flagged(&w.show(id), &t);
}

/// One modem loses its network registration mid-broadcast, then regains it: nothing lost,
/// nothing twice, and the modem works again afterwards.
#[test]
fn registration_lost_then_regained_loses_nothing() {
    let w = World::start(
        3,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(20)),
        UNCAPPED,
    );
    let text = "registration lost";
    let (numbers, id) = broadcast_under_way(&w, text, 20);
    w.block_on(w.emulator().lose_registration(0)).unwrap();
    let lost_at = sent(&w.follow(id, |_| true));
    // The others go on meanwhile.
    let totals = w.follow(id, |t| sent(t) >= lost_at + 40);
    assert_ne!(totals["finished"], true, "{totals}");
    assert!(!w.emulator().summary().modems[0].registered);
    let accepted0 = w.emulator().summary().modems[0].stats.accepted;
    let regained = Instant::now();
    w.block_on(w.emulator().regain_registration(0)).unwrap();
    let totals = w.follow(id, |_| false);
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(150), Some(0)),
        "{totals}"
    );
    // Time from regaining to the end of the broadcast.
    let done = regained.elapsed();
    let t = tally(&w, &numbers, &format!("【运维组】{text}"));
    row("registration lost, regained", &t, 0, Some(done));
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    assert_eq!(t.duplicates, 0, "{:?}", t.duplicated);
    all_sent_once(&w.show(id));
    // Back in the pool: the next broadcast uses modem 0 again.
    let dev0 = w.emulator().path(0).display().to_string();
    w.wait_modems("modem0 back in the pool", |ms| {
        ms.iter().any(|m| m["device"] == dev0.as_str() && is_up(m))
    });
    let id = w.send("ops", "alice", "after regaining");
    assert_eq!(sent(&w.follow(id, |_| false)), 150);
    assert!(w.emulator().summary().modems[0].stats.accepted > accepted0);
}

/// A carrier block on one SIM (`+CMS ERROR: 38` past 5 parts): its later sends fail
/// transiently and move to the others; nothing lost, nothing twice.
#[test]
fn a_carrier_block_on_one_sim_moves_its_work_to_the_others() {
    let w = World::start(
        3,
        |c| {
            c.all(|m| m.knobs.send_latency = Duration::from_millis(10))
                .modem(0, |m| {
                    m.knobs.cap = Some(5);
                    m.knobs.cap_error = 38;
                })
        },
        UNCAPPED,
    );
    let numbers = ops_group(&w, 59);
    let text = "carrier block";
    let id = w.send("ops", "alice", text);
    let started = Instant::now();
    let totals = w.follow(id, |_| false);
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(60), Some(0)),
        "{totals}"
    );
    let t = tally(&w, &numbers, &format!("【运维组】{text}"));
    row("carrier block on one SIM", &t, 0, Some(started.elapsed()));
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    assert_eq!(t.duplicates, 0, "{:?}", t.duplicated);
    all_sent_once(&w.show(id));
    let m0 = &w.emulator().summary().modems[0];
    assert_eq!(m0.stats.accepted, 5, "the block is at 5 parts");
    assert!(
        m0.stats.failed.values().sum::<u32>() >= 1,
        "the block must have fired"
    );
}

/// Every SIM blocked: what cannot go out ends `failed` after `max_attempts`, with the reason.
#[test]
fn a_carrier_block_on_every_sim_fails_the_rest_with_the_reason() {
    let mut w = World::prepare(
        3,
        |c| {
            c.all(|m| {
                m.knobs.send_latency = Duration::from_millis(10);
                m.knobs.cap = Some(2);
                m.knobs.cap_error = 38;
            })
        },
        "",
        UNCAPPED,
    );
    scheduler_keys(&w, "max_attempts = 3");
    w.start_daemon();
    let numbers = ops_group(&w, 9);
    let text = "blocked everywhere";
    let id = w.send("ops", "alice", text);
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["finished"], true, "{totals}");
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(6), Some(4)),
        "{totals}"
    );
    let t = tally(&w, &numbers, &format!("【运维组】{text}"));
    // The 4 the phones did not get are exactly the 4 reported failed (checked below).
    assert_eq!(t.lost.len(), 4, "{:?}", t.lost);
    row("carrier block on every SIM", &t, 4, None);
    assert_eq!(t.duplicates, 0);
    assert_eq!(t.delivered, 6);
    let phones = w.phones();
    for d in deliveries(&w.show(id)) {
        let n = d["number"].as_str().unwrap();
        if d["state"] == "failed" {
            assert_eq!(d["attempts"], 3, "{d}");
            assert!(
                d["error"].as_str().unwrap_or("").contains("38"),
                "the reason is kept: {d}"
            );
            assert!(phones.phone(n).messages.is_empty(), "{n}");
        } else {
            assert_eq!(d["state"], "sent", "{d}");
            assert_eq!(phones.phone(n).texts().len(), 1, "{n}");
        }
    }
}

/// Sets the soft `RLIMIT_FSIZE` of process `pid` (the hard limit stays unlimited, so it can be
/// raised again). Past it every write to a regular file fails with `EFBIG`, as on a full disk.
fn file_size_limit(pid: u32, soft: libc::rlim_t) {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain syscall on another process's limits; the pointers outlive the call.
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// Starts the daemon with SIGXFSZ ignored, so that once [`file_size_limit`] applies a write
/// past the limit fails with EFBIG (as on a full disk) instead of killing the daemon.
fn start_daemon_for_file_size_limits(w: &mut World) {
    w.start_daemon_with(|cmd| {
        use std::os::unix::process::CommandExt;
        // SAFETY: signal() is async-signal-safe; an ignored signal stays ignored across exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                Ok(())
            });
        }
    });
}

/// Sends `lines` on one connection, one answer each.
fn raw(w: &World, lines: &[&str]) -> Vec<Value> {
    let stream = UnixStream::connect(w.socket()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut c = BufReader::new(stream);
    lines
        .iter()
        .map(|l| {
            c.get_mut().write_all(format!("{l}\n").as_bytes()).unwrap();
            let mut answer = String::new();
            c.read_line(&mut answer).unwrap();
            serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"))
        })
        .collect()
}

fn broadcast_count(w: &World) -> usize {
    w.json(&["broadcast", "list"])["broadcasts"]
        .as_array()
        .unwrap()
        .len()
}

/// The database stops taking writes while the daemon runs (every write to a file fails with
/// `EFBIG`: a full disk, as far as SQLite can tell). A permission change cannot do this to a
/// daemon that already holds the database open, a file size limit can. A `send` gets a clear
/// `storage` error (exit 69) and nothing unstored is accepted; reads keep working; once writes
/// work again, so does `send`.
#[test]
fn storage_that_refuses_writes_refuses_sends_clearly_and_keeps_serving_reads() {
    if !common::sqlite_file_test("a file system refusing writes") {
        return;
    }
    let mut w = World::prepare(
        1,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(5)),
        "",
        UNCAPPED,
    );
    start_daemon_for_file_size_limits(&mut w);
    let numbers = ops_group(&w, 4);
    let id = w.send("ops", "alice", "before the fault");
    assert_eq!(sent(&w.follow(id, |_| false)), 5);
    assert_eq!(broadcast_count(&w), 1);
    let pid = w.daemon_pid().unwrap();

    file_size_limit(pid, 0);
    let out = w.cli(&["send", "--group", "ops", "--as", "alice", "never stored"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(
        stderr.contains("database") && stderr.contains("nothing was accepted"),
        "a clear storage error: {stderr}"
    );
    // On the socket, the stable code says the same.
    let answers = raw(
        &w,
        &[
            r#"{"id":1,"op":"hello","args":{"version":1}}"#,
            r#"{"id":2,"op":"send","args":{"group":"ops","as":"alice","text":"never stored"}}"#,
        ],
    );
    assert_eq!(answers[1]["ok"], false, "{}", answers[1]);
    assert_eq!(answers[1]["error"]["code"], "storage", "{}", answers[1]);
    let out = w.cli(&[
        "member",
        "add",
        "zed",
        "--name",
        "Zed",
        "--phone",
        "13900000099",
    ]);
    assert_eq!(
        out.status.code(),
        Some(69),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Reads keep working, and show that nothing was accepted.
    assert_eq!(broadcast_count(&w), 1);
    let groups = w.json(&["group", "list"]);
    assert_eq!(groups["groups"].as_array().unwrap().len(), 1, "{groups}");
    let status = w.json(&["status"]);
    assert_eq!(status["deliveries_waiting"], 0, "{status}");
    assert!(w.cli(&["member", "show", "zed"]).status.code() != Some(0));

    // Writes work again: so does sending, at once.
    file_size_limit(pid, libc::RLIM_INFINITY);
    let healed = Instant::now();
    let id = w.send("ops", "alice", "after the fault");
    let recover = healed.elapsed();
    assert_eq!(sent(&w.follow(id, |_| false)), 5);
    assert_eq!(broadcast_count(&w), 2);
    let t = tally(&w, &numbers, "【运维组】after the fault");
    row("storage refuses writes (EFBIG)", &t, 0, Some(recover));
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    assert_eq!(t.duplicates, 0);
    let phones = w.phones();
    for n in &numbers {
        assert!(
            !phones
                .phone(n)
                .texts()
                .iter()
                .any(|x| x.contains("never stored")),
            "{n} got a message that was refused"
        );
    }
}

/// What a request line must get back.
#[derive(Clone, Copy, Debug)]
enum Expect {
    Ok,
    Error(&'static str),
}

/// The requests of connection `i`: a mix of valid and invalid lines, each with its answer.
fn plan(i: usize) -> Vec<(Vec<u8>, Expect)> {
    let hello = || {
        (
            br#"{"id":1,"op":"hello","args":{"version":1}}"#.to_vec(),
            Expect::Ok,
        )
    };
    let mut p = Vec::new();
    if i % 10 == 9 {
        p.push((
            br#"{"id":1,"op":"status"}"#.to_vec(),
            Expect::Error("version_mismatch"),
        ));
    }
    p.push(hello());
    match i % 5 {
        0 => p.push((br#"{"id":2,"op":"modem_list"}"#.to_vec(), Expect::Ok)),
        1 => p.push((br#"{"id":2,"op":"#.to_vec(), Expect::Error("bad_request"))),
        2 => {
            let mut long = br#"{"id":2,"op":"status","args":{"x":""#.to_vec();
            long.extend(std::iter::repeat_n(b'x', 70 * 1024));
            long.extend_from_slice(br#""}}"#);
            p.push((long, Expect::Error("line_too_long")));
        }
        3 => p.push((
            b"{\"id\":2,\"op\":\"status\",\"x\":\"\xff\xfe\"}".to_vec(),
            Expect::Error("bad_request"),
        )),
        _ => p.push((
            br#"{"id":2,"op":"status","args":{"verbose":true}}"#.to_vec(),
            Expect::Error("bad_request"),
        )),
    }
    p.push((
        br#"{"id":3,"op":"broadcast_show","args":{"broadcast":99999}}"#.to_vec(),
        Expect::Error("unknown_broadcast"),
    ));
    p.push((br#"{"id":4,"op":"status"}"#.to_vec(), Expect::Ok));
    p
}

/// One connection of the crowd: every line gets its answer (bounded waits).
/// After its first line each waits at `all_open` (so all are connected at once), then at
/// `go`.
async fn crowd_client(
    socket: std::path::PathBuf,
    i: usize,
    all_open: Arc<tokio::sync::Barrier>,
    go: Arc<tokio::sync::Barrier>,
) -> Result<usize, String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    // A full accept backlog makes a non-blocking connect fail with EAGAIN: try again.
    let mut tries = 0;
    let stream = loop {
        match tokio::net::UnixStream::connect(&socket).await {
            Ok(s) => break s,
            Err(_) if tries < 500 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(format!("connection {i}: connect: {e}")),
        }
    };
    let (r, mut w) = stream.into_split();
    let mut r = tokio::io::BufReader::new(r);
    let mut answered = 0;
    for (k, (line, expect)) in plan(i).into_iter().enumerate() {
        if k == 1 {
            all_open.wait().await;
            go.wait().await;
        }
        let mut framed = line.clone();
        framed.push(b'\n');
        w.write_all(&framed)
            .await
            .map_err(|e| format!("connection {i}: write: {e}"))?;
        let mut answer = String::new();
        match tokio::time::timeout(Duration::from_secs(60), r.read_line(&mut answer)).await {
            Ok(Ok(n)) if n > 0 => {}
            other => {
                return Err(format!(
                    "connection {i}: no answer to {:?}: {other:?}",
                    String::from_utf8_lossy(&line[..line.len().min(60)])
                ))
            }
        }
        let a: Value = serde_json::from_str(&answer)
            .map_err(|e| format!("connection {i}: answer is not JSON ({e}): {answer:?}"))?;
        let good = match expect {
            Expect::Ok => a["ok"] == true,
            Expect::Error(code) => {
                a["ok"] == false
                    && a["error"]["code"] == code
                    && a["error"]["message"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty())
            }
        };
        if !good {
            return Err(format!("connection {i}: wanted {expect:?}, got {a}"));
        }
        answered += 1;
    }
    Ok(answered)
}

/// A client that writes a request byte by byte and then never reads: it floods requests until
/// its writes stall (the daemon's answers fill the socket) or, `half`, stops mid-line.
fn slow_client(socket: &std::path::Path, half: bool) -> UnixStream {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let hello = br#"{"id":1,"op":"hello","args":{"version":1}}"#;
    let bytes: &[u8] = if half { &hello[..20] } else { hello };
    for b in bytes {
        s.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    if !half {
        s.write_all(b"\n").unwrap();
        for id in 2..20_000 {
            let line = format!("{{\"id\":{id},\"op\":\"status\"}}\n");
            if s.write_all(line.as_bytes()).is_err() {
                break; // the daemon stopped reading: it is blocked on our unread answers
            }
        }
    }
    s
}

/// Raises the soft open-file limit so a thousand connections fit.
fn enough_files(want: libc::rlim_t) {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on this process's limits with a valid pointer.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut l), 0);
        if l.rlim_cur < want {
            l.rlim_cur = want.min(l.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &l), 0);
        }
    }
}

/// A thousand concurrent connections sending a mix of valid and invalid lines (malformed JSON,
/// over-long lines, invalid UTF-8, unknown fields, no hello), plus slow clients that write byte
/// by byte and never read: every line gets an answer or a clear error, and the CLI's `status`
/// works during and after.
#[test]
fn a_thousand_connections_of_good_and_bad_input_all_get_answers() {
    const CONNECTIONS: usize = 1000;
    // Ours and the daemon's (which inherits it): 1 000 connections, the slow ones, and margin.
    enough_files(4096);
    let w = World::start(1, |c| c, "");
    ops_group(&w, 0);

    let slow: Vec<UnixStream> = (0..4)
        .map(|k| {
            let socket = w.socket();
            std::thread::spawn(move || slow_client(&socket, k % 2 == 1))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let started = Instant::now();
    let all_open = Arc::new(tokio::sync::Barrier::new(CONNECTIONS + 1));
    let go = Arc::new(tokio::sync::Barrier::new(CONNECTIONS + 1));
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            w.rt.spawn(crowd_client(w.socket(), i, all_open.clone(), go.clone()))
        })
        .collect();
    // Every connection open and answered once (a client that fails before the barrier would
    // hang it: bounded).
    w.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), all_open.wait())
            .await
            .expect("all 1000 connections open and answered within 60 s")
    });
    // During: with the 1 000 connections and the stalled slow clients open, the CLI's
    // `status` gets its answer.
    let during = w.cli(&["status"]);
    assert!(
        during.status.success(),
        "status during the crowd: {}",
        String::from_utf8_lossy(&during.stderr)
    );
    w.block_on(go.wait());
    let results: Vec<Result<usize, String>> = w.block_on(async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap_or_else(|e| Err(format!("task: {e}"))));
        }
        out
    });
    let took = started.elapsed();
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let answers: usize = results.iter().filter_map(|r| r.as_ref().ok()).sum();
    let expected: usize = (0..CONNECTIONS).map(|i| plan(i).len()).sum();
    eprintln!(
        "FAULT-MATRIX {:<34} | connections {CONNECTIONS} + 4 slow | answers {answers}/{expected} | failures {} | took {:.2}s",
        "socket: bad input, 1000 connections",
        failures.len(),
        took.as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} connections failed, first ones: {:#?}\n{}",
        failures.len(),
        &failures[..failures.len().min(5)],
        w.daemon_log()
    );
    assert_eq!(answers, expected);
    // The slow clients are still connected (never read): the daemon still answers others.
    let status = w.json(&["status"]);
    assert_eq!(status["modems_total"], 1, "{status}");
    drop(slow);
    // After: still up, and nothing was sent or created by all that.
    w.ok(&["status"]);
    assert_eq!(broadcast_count(&w), 0);
}

/// Sends to 150 numbers over 3 modems where modem 0 misbehaves (`tune`), follows to the end
/// and checks: all sent, nothing lost, at most `max_dup` duplicates, each flagged. The row's
/// recovery time runs from the `sending` on modem 0 of the first delivery taken back from it
/// to that delivery's `sent` elsewhere. Returns the world.
fn one_modem_fault(
    label: &str,
    tune: impl Fn(&mut groupsms::emulator::EmulatedModem),
    max_dup: usize,
) -> World {
    let w = World::start(
        3,
        |c| {
            c.all(|m| m.knobs.send_latency = Duration::from_millis(10))
                .modem(0, tune)
        },
        UNCAPPED,
    );
    let numbers = ops_group(&w, 149);
    let text = label.to_string();
    let id = w.send("ops", "alice", &text);
    let (totals, seen) = w.follow_events(id, |_| false);
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(150), Some(0)),
        "{totals}"
    );
    // Recovery: from the `sending` on modem 0 of a delivery that was then requeued, to its
    // `sent` elsewhere.
    let dev0 = w.emulator().path(0).display().to_string();
    let recover = seen.iter().find_map(|s| {
        let d = &s.event["delivery"];
        if d["modem"] == dev0.as_str() && d["state"] == "queued" {
            let started = seen
                .iter()
                .rev()
                .find(|e| {
                    e.at <= s.at
                        && e.event["delivery"]["id"] == d["id"]
                        && e.event["delivery"]["state"] == "sending"
                })?
                .at;
            let done = seen.iter().find(|e| {
                e.at >= s.at
                    && e.event["delivery"]["id"] == d["id"]
                    && e.event["delivery"]["state"] == "sent"
            })?;
            Some(done.at - started)
        } else {
            None
        }
    });
    let t = tally(&w, &numbers, &format!("【运维组】{text}"));
    row(label, &t, 0, recover);
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    assert!(t.duplicates <= max_dup, "{:?}", t.duplicated);
    duplicates_flagged(&w.show(id), &t);
    assert!(deliveries(&w.show(id)).iter().all(|d| d["state"] == "sent"));
    w
}

/// One modem stops answering anything after 10 parts: its work moves to the others. (It
/// hangs before the `>` prompt, so the daemon notices after `prompt_timeout`, 10 s, plus its
/// re-sync tries: about 16 s for that one delivery; the others go on meanwhile.)
#[test]
fn one_modem_hanging_loses_nothing() {
    // The part it hangs on was never accepted: no duplicate is possible.
    let w = one_modem_fault(
        "one modem hangs after 10 parts",
        |m| m.knobs.hang_after_sends = Some(10),
        0,
    );
    let m0 = &w.emulator().summary().modems[0];
    assert!(m0.hung, "the knob must have fired");
    assert_eq!(m0.stats.accepted, 10);
}

/// One modem's PTY goes away after 10 parts and comes back 500 ms later: nothing lost, and
/// it rejoins and takes work again.
#[test]
fn one_modem_unplugged_and_replugged_loses_nothing() {
    let w = one_modem_fault(
        "one modem unplugged, replugged",
        |m| {
            m.knobs.unplug_after_sends = Some(10);
            m.knobs.replug_after = Some(Duration::from_millis(500));
        },
        // A part in flight when the device vanished may have gone out.
        1,
    );
    let m0 = &w.emulator().summary().modems[0];
    assert!(
        m0.unplugs >= 1 && m0.replugs >= 1,
        "the knobs must have fired"
    );
    let dev0 = w.emulator().path(0).display().to_string();
    w.wait_modems("modem0 back in the pool", |ms| {
        ms.iter().any(|m| m["device"] == dev0.as_str() && is_up(m))
    });
}

/// `chown -R` of `path` to `uid:gid`.
fn chown_all(path: &std::path::Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for e in std::fs::read_dir(path).unwrap() {
            chown_all(&e.unwrap().path(), uid, gid);
        }
    }
}

/// A database file the daemon may not write (mode 0444, the daemon running as uid 65534, since
/// root writes anyway): it does not start half-way; it says which file and why, exit 69, and
/// the file is left as it was.
#[test]
fn a_read_only_database_is_refused_at_start_with_the_file_named() {
    if !common::sqlite_file_test("a read-only database file") {
        return;
    }
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!(
            "SKIPPED: the read-only database test needs root (to run the daemon as uid 65534)"
        );
        return;
    }
    const NOBODY: u32 = 65534;
    let mut w = World::start(1, |c| c, "");
    ops_group(&w, 3);
    w.stop_daemon();
    let db = w.database();
    let before = std::fs::read(&db).unwrap();
    chown_all(w.dir.path(), NOBODY, NOBODY);
    std::fs::set_permissions(&db, std::os::unix::fs::PermissionsExt::from_mode(0o444)).unwrap();
    let mut daemon = {
        use std::os::unix::process::CommandExt;
        w.daemon_command(false)
            .uid(NOBODY)
            .gid(NOBODY)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let status = common::daemon::wait_exit(&mut daemon, Duration::from_secs(20))
        .expect("a daemon that cannot write its database must exit");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut daemon.stderr.take().unwrap(), &mut stderr).unwrap();
    eprintln!(
        "FAULT-MATRIX {:<34} | exit {:?} | {}",
        "storage: read-only database at start",
        status.code(),
        stderr.lines().last().unwrap_or("")
    );
    assert_eq!(status.code(), Some(69), "{stderr}");
    assert!(
        stderr.contains(db.to_str().unwrap()) && stderr.contains("readonly"),
        "names the file and the reason: {stderr}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "nothing written");
}

/// Writes fail (as on a full disk, the daemon's log file included) in the middle of a
/// broadcast, for a while, then work again.
/// What could not be marked `sending` is tried again once writes work (nothing was sent); a
/// part whose outcome could not be recorded is held and recorded once writes work, and nothing
/// new is sent meanwhile. The broadcast finishes without a restart: nothing lost, nothing
/// left `sending`, nothing sent twice.
#[test]
fn storage_refusing_writes_mid_broadcast_loses_nothing() {
    let mut w = World::prepare(
        2,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(30)),
        "",
        UNCAPPED,
    );
    // The daemon's log (its stderr, a file in the world's directory) fails along with the
    // database: that must cost log lines only.
    start_daemon_for_file_size_limits(&mut w);
    let numbers = ops_group(&w, 39);
    let text = "disk full mid-broadcast";
    let id = w.send("ops", "alice", text);
    w.follow(id, |t| sent(t) >= 10);
    let pid = w.daemon_pid().unwrap();
    file_size_limit(pid, 0);
    // The fault lasts a while (not a wait for readiness: the length of the outage).
    std::thread::sleep(Duration::from_millis(700));
    file_size_limit(pid, libc::RLIM_INFINITY);
    let healed = Instant::now();
    // Everything is sent in this run, the outcomes the database refused included.
    let totals = w.follow(id, |_| false);
    let recover = healed.elapsed();
    let stuck = totals["sending"].as_u64().unwrap() as usize;
    assert_eq!(stuck, 0, "{totals}\n{}", w.daemon_log());
    let t = tally(&w, &numbers, &format!("【运维组】{text}"));
    row("storage refuses writes mid-broadcast", &t, 0, Some(recover));
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(40), Some(0)),
        "{totals}\n{}",
        w.daemon_log()
    );
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    assert_eq!(t.duplicates, 0, "{:?}", t.duplicated);
    duplicates_flagged(&w.show(id), &t);
}

/// Firmware that says `OK` to `AT^CURC=0` and still reports `^RSSI`/`^MODE`/`^BOOT` about
/// every 200 ms, with such a line inside 30 % of its answers (before `OK`, before the
/// prompt, between Ctrl-Z and `+CMGS`): every recipient exactly once, nothing flagged as a
/// possible duplicate, and a modem re-inits for a `^BOOT` at most once: having kept its
/// settings, its `^BOOT` is known to be periodic from then on.
#[test]
fn noise_with_periodic_boot_codes_costs_no_duplicate() {
    let w = World::start(
        3,
        |c| {
            c.all(|m| {
                m.knobs.send_latency = Duration::from_millis(50);
                m.knobs.noise = groupsms::emulator::Noise::Every(Duration::from_millis(200));
                m.knobs.noise_in_answers = 0.3;
            })
        },
        UNCAPPED,
    );
    let numbers = ops_group(&w, 89);
    let id = w.send("ops", "alice", "noise");
    let totals = w.follow(id, |_| false);
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(90), Some(0)),
        "{totals}"
    );
    let t = tally(&w, &numbers, "【运维组】noise");
    row("noise with periodic ^BOOT (30% in answers)", &t, 0, None);
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    assert_eq!(t.duplicates, 0, "{:?}", t.duplicated);
    let show = w.show(id);
    all_sent_once(&show);
    assert!(deliveries(&show)
        .iter()
        .all(|d| d["possible_duplicate"] == false));
    let log = w.daemon_log();
    let restarts = log.matches("the modem restarted").count();
    let learnt = log.matches("its ^BOOT is periodic").count();
    assert!(learnt >= 1, "a ^BOOT must have come: {log}");
    assert!(
        restarts <= 3 && learnt <= 3,
        "one re-init per modem at most: {restarts} restarts, {learnt} learnt"
    );
}

/// The stranded-delivery scene through the real daemon: four emulated modems, one unplugged
/// after every 20 parts and back 300 ms later, one hung for good after 30; 200 recipients.
/// Every delivery must end sent, while three modems work (a delivery handed to a modem at the
/// moment it left stayed `queued` with 0 attempts until a restart before the modem actor and
/// the scheduler met through a handle).
#[test]
fn modems_leaving_and_hanging_mid_broadcast_strand_no_delivery() {
    let w = World::start(
        4,
        |c| {
            c.all(|m| m.knobs.send_latency = Duration::from_millis(30))
                .modem(0, |m| {
                    m.knobs.unplug_after_sends = Some(20);
                    m.knobs.unplug_repeat = true;
                    m.knobs.replug_after = Some(Duration::from_millis(300));
                })
                .modem(1, |m| m.knobs.hang_after_sends = Some(30))
        },
        &format!("{UNCAPPED}prompt_timeout_secs = 2\n"),
    );
    let numbers = ops_group(&w, 199);
    let text = "modems leaving and hanging";
    let id = w.send("ops", "alice", text);
    let totals = w.follow(id, |_| false);
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(200), Some(0)),
        "{totals}"
    );
    let summary = w.emulator().summary();
    assert!(
        summary.modems[0].unplugs >= 2,
        "the loose plug must have fired more than once"
    );
    assert!(summary.modems[1].hung, "the hang knob must have fired");
    let t = tally(&w, &numbers, &format!("【运维组】{text}"));
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    duplicates_flagged(&w.show(id), &t);
    assert!(deliveries(&w.show(id)).iter().all(|d| d["state"] == "sent"));
}
