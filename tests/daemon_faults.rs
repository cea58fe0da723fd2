//! End to end, when things go wrong: the real `groupsms` binary as daemon and CLI against
//! emulated modems on real PTYs (see `common/daemon.rs`). Modems that appear late, die after
//! Ctrl-Z, reach their SIM cap, are pinned and pulled out, or refuse a number; SIGTERM in the
//! middle of a broadcast; stale and contested sockets, bad protocol lines, and Unix users who
//! may not do what they ask.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::daemon::{connect_as, open_to_others, ops_group, wait_exit, Seen, World};
use groupsms::store::{BroadcastId, DeliveryState, StoreError};
use serde_json::{json, Value};

fn deliveries(show: &Value) -> &Vec<Value> {
    show["deliveries"].as_array().expect("deliveries")
}

/// The device path the daemon knows emulated modem `i` by.
fn device(w: &World, i: usize) -> String {
    w.emulator().path(i).display().to_string()
}

/// The entry of `modem list` for emulated modem `i`.
fn entry<'a>(w: &World, modems: &'a [Value], i: usize) -> Option<&'a Value> {
    let dev = device(w, i);
    modems.iter().find(|m| m["device"] == dev.as_str())
}

fn is_up(m: &Value) -> bool {
    m["state"] == "ready" || m["state"] == "busy"
}

/// Which emulated modem accepted each part, per destination number (from the emulator's log).
fn log_modems(w: &World) -> Vec<(String, usize)> {
    groupsms::emulator::log::read_log(&w.dir.path().join("sms.jsonl"))
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.to, r.modem))
        .collect()
}

#[test]
fn a_modem_absent_at_start_joins_when_plugged_in_and_takes_work() {
    let mut w = World::prepare(
        2,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(40)),
        "",
        "",
    );
    w.block_on(w.emulator().unplug(1)).unwrap();
    assert!(!w.emulator().path(1).exists(), "modem1 must be absent");
    w.start_daemon();
    let modems = w.modems();
    assert_eq!(modems.len(), 1, "only modem0 is there: {modems:#?}");
    assert!(entry(&w, &modems, 1).is_none());

    // Plugged in while the daemon runs: it joins, without a restart.
    w.block_on(w.emulator().replug(1)).unwrap();
    w.wait_modems("modem1 joins the pool", |ms| {
        ms.len() == 2 && ms.iter().all(|m| m["state"] == "ready")
    });
    let numbers = ops_group(&w, 11);
    let id = w.send("ops", "alice", "新设备已接入");
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["sent"], 12, "{totals}");
    let summary = w.emulator().summary();
    assert!(
        summary.modems[1].stats.accepted > 0,
        "modem1 must take work: {summary}"
    );
    let from_modem1 = log_modems(&w).iter().filter(|(_, m)| *m == 1).count();
    assert_eq!(from_modem1 as u32, summary.modems[1].stats.accepted);
    let show = w.show(id);
    let dev1 = device(&w, 1);
    assert_eq!(
        deliveries(&show)
            .iter()
            .filter(|d| d["modem"] == dev1.as_str())
            .count(),
        from_modem1
    );
    let phones = w.phones();
    for n in &numbers {
        assert_eq!(
            phones.phone(n).texts(),
            vec!["【运维组】新设备已接入"],
            "{n}"
        );
    }
}

/// Sends to 12 numbers over 3 modems; modem0 dies right after the Ctrl-Z of its 2nd part.
/// Returns the world, the broadcast, the events seen and the number whose send was ambiguous.
fn ambiguous_send(daemon_keys: &str) -> (World, i64, Vec<Seen>, Vec<String>, Value) {
    let mut w = World::prepare(
        3,
        |c| {
            c.all(|m| m.knobs.send_latency = Duration::from_millis(100))
                .modem(0, |m| m.knobs.die_after_ctrl_z = Some(2))
        },
        daemon_keys,
        "",
    );
    w.start_daemon();
    let numbers = ops_group(&w, 11);
    let id = w.send("ops", "alice", "服务器维护通知");
    let (totals, seen) = w.follow_events(id, |_| false);
    (w, id, seen, numbers, totals)
}

/// Every other delivery went out, the dying modem's first one on it and the rest elsewhere.
fn others_completed_elsewhere(w: &World, show: &Value, ambiguous: &str) {
    let dev0 = device(w, 0);
    let others: Vec<&Value> = deliveries(show)
        .iter()
        .filter(|d| d["number"] != ambiguous)
        .collect();
    assert_eq!(others.len(), 11);
    assert!(others.iter().all(|d| d["state"] == "sent"), "{show:#}");
    let on_modem0 = others
        .iter()
        .filter(|d| d["modem"] == dev0.as_str())
        .count();
    assert_eq!(
        on_modem0, 1,
        "only its first delivery went through modem0: {show:#}"
    );
}

/// The ambiguous delivery's number, and how long after its `sending` event on modem0 the
/// daemon decided about it (`resolved`: the state it decided).
fn ambiguity(w: &World, seen: &[Seen], resolved: &str) -> (String, Duration) {
    let dev0 = device(w, 0);
    let decided = seen
        .iter()
        .find(|s| {
            let d = &s.event["delivery"];
            d["modem"] == dev0.as_str() && d["state"] == resolved
        })
        .unwrap_or_else(|| panic!("no {resolved} delivery on modem0: {seen:#?}"));
    let id = &decided.event["delivery"]["id"];
    let started = seen
        .iter()
        .rev()
        .find(|s| {
            let d = &s.event["delivery"];
            d["id"] == *id && d["state"] == "sending" && s.at <= decided.at
        })
        .expect("its sending event");
    (
        decided.event["delivery"]["number"]
            .as_str()
            .unwrap()
            .to_string(),
        decided.at - started.at,
    )
}

/// The configured send timeout of the harness (`send_timeout_secs = 3`).
const SEND_TIMEOUT: Duration = Duration::from_secs(3);
/// After it, one `AT` (the engine's 2 s `resync_timeout`) tells a dead modem from a late answer.
const ONE_PROBE: Duration = Duration::from_secs(2);

fn assert_detected_in_time(took: Duration) {
    eprintln!("ambiguous send decided {took:?} after its sending event");
    assert!(
        took >= SEND_TIMEOUT - Duration::from_millis(100),
        "decided after {took:?}, before the send timeout: the knob did not fire?"
    );
    assert!(
        took <= SEND_TIMEOUT + ONE_PROBE + Duration::from_secs(1),
        "a silent modem must be noticed send_timeout_secs (+ one AT) after Ctrl-Z, took {took:?}"
    );
}

#[test]
fn a_modem_dying_after_ctrl_z_is_resent_elsewhere_and_flagged() {
    let (w, id, seen, numbers, totals) = ambiguous_send("");
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(12), Some(0)),
        "{totals}"
    );
    let (number, took) = ambiguity(&w, &seen, "queued");
    assert_detected_in_time(took);
    let show = w.show(id);
    others_completed_elsewhere(&w, &show, &number);
    let dev0 = device(&w, 0);
    for d in deliveries(&show) {
        assert_eq!(d["state"], "sent", "{d}");
        if d["number"] == number.as_str() {
            assert_eq!(d["possible_duplicate"], true, "{d}");
            assert_ne!(d["modem"], dev0.as_str(), "resent on another modem: {d}");
            assert_eq!(d["attempts"], 2, "{d}");
        } else {
            assert_eq!(d["possible_duplicate"], false, "{d}");
        }
    }
    let phones = w.phones();
    for n in &numbers {
        let want = if *n == number { 2 } else { 1 };
        assert_eq!(
            phones.phone(n).texts(),
            vec!["【运维组】服务器维护通知"; want],
            "{n}"
        );
    }
    assert!(w.emulator().summary().modems[0].hung, "the knob fired");
}

#[test]
fn a_modem_dying_after_ctrl_z_leaves_the_delivery_uncertain_when_so_configured() {
    let (w, id, seen, numbers, totals) = ambiguous_send("in_flight_policy = \"uncertain\"");
    assert_eq!(
        (
            totals["sent"].as_u64(),
            totals["uncertain"].as_u64(),
            totals["finished"].as_bool()
        ),
        (Some(11), Some(1), Some(true)),
        "{totals}"
    );
    let (number, took) = ambiguity(&w, &seen, "uncertain");
    assert_detected_in_time(took);
    let show = w.show(id);
    others_completed_elsewhere(&w, &show, &number);
    for d in deliveries(&show) {
        if d["number"] == number.as_str() {
            assert_eq!(d["state"], "uncertain", "{d}");
            assert_eq!(d["attempts"], 1, "never resent: {d}");
            assert!(d["error"].as_str().is_some_and(|e| !e.is_empty()), "{d}");
        } else {
            assert_eq!(d["state"], "sent", "{d}");
        }
    }
    // The phone got it once, from the modem that died; nobody sent it again.
    let phones = w.phones();
    for n in &numbers {
        assert_eq!(phones.phone(n).texts().len(), 1, "{n}");
    }
    assert_eq!(
        log_modems(&w)
            .iter()
            .filter(|(to, _)| *to == number)
            .map(|(_, m)| *m)
            .collect::<Vec<_>>(),
        vec![0]
    );
    let status = w.json(&["status"]);
    assert_eq!(status["deliveries_waiting"], 0, "{status}");
}

#[test]
fn a_sim_at_its_hourly_cap_is_skipped_and_the_cap_survives_a_restart() {
    let mut w = World::prepare(
        2,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(30)),
        "",
        "max_per_hour = 3\n",
    );
    // SIM caps count per local hour: the daemon's clock starts at ten past an hour, so the
    // test never straddles an hour boundary (and never waits for one).
    w.clock_start = Some("2026-03-02T02:10:00Z".into());
    w.start_daemon();
    ops_group(&w, 9);
    let id = w.send("ops", "alice", "限额测试");
    let totals = w.follow(id, |t| t["sent"].as_u64() >= Some(6) && t["sending"] == 0);
    assert_eq!(totals["sent"], 6, "{totals}");
    let created = w.show(id)["created_at"].clone();
    assert!(
        created
            .as_str()
            .is_some_and(|t| t.starts_with("2026-03-02T02:1")),
        "the daemon's clock started where the test set it: {created}"
    );

    // Both SIMs at 3 parts this hour; the 4 others wait, and no modem is working on them.
    let settled = |w: &World| {
        w.wait_modems("both modems idle", |ms| {
            ms.len() == 2 && ms.iter().all(|m| m["state"] != "busy")
        })
    };
    let check = |w: &World, modems: &[Value]| {
        for m in modems {
            assert_eq!(m["state"], "ready", "{m}");
            assert_eq!(m["sent_this_hour"], 3, "{m}");
            assert_eq!(m["max_per_hour"], 3, "{m}");
        }
        let status = w.json(&["status"]);
        assert_eq!(status["deliveries_waiting"], 4, "{status}");
        let show = w.show(id);
        let count = |state: &str| {
            deliveries(&show)
                .iter()
                .filter(|d| d["state"] == state)
                .count()
        };
        assert_eq!((count("sent"), count("queued")), (6, 4), "{show:#}");
        assert_eq!(w.emulator().summary().accepted(), 6);
    };
    let modems = settled(&w);
    check(&w, &modems);

    // Restart (its clock later in the same hour): the counts come back from the database, so
    // still nothing more goes out.
    w.stop_daemon();
    w.clock_start = Some("2026-03-02T02:40:00Z".into());
    w.start_daemon();
    let modems = w.wait_modems("both modems back", |ms| {
        ms.len() == 2 && ms.iter().all(is_up)
    });
    check(&w, &modems);
}

#[test]
fn a_pinned_group_uses_its_modem_and_falls_back_only_when_allowed() {
    let w = World::start(
        3,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(20)),
        "",
    );
    let numbers = ops_group(&w, 8);
    let modems = w.modems();
    let imsi = entry(&w, &modems, 2).expect("modem2")["imsi"]
        .as_str()
        .expect("an IMSI")
        .to_string();
    let dev2 = device(&w, 2);
    w.ok(&[
        "group",
        "set",
        "ops",
        "--pin-modems",
        &imsi,
        "--pin-fallback",
        "false",
    ]);
    let group = w.json(&["group", "show", "ops"]);
    assert_eq!(group["pinned_modems"], json!([imsi]));
    assert_eq!(group["pin_fallback"], false);

    let first = w.send("ops", "alice", "第一条");
    assert_eq!(w.follow(first, |_| false)["sent"], 9);
    let show = w.show(first);
    assert!(
        deliveries(&show)
            .iter()
            .all(|d| d["modem"] == dev2.as_str()),
        "{show:#}"
    );
    let log = log_modems(&w);
    assert_eq!(log.len(), 9);
    assert!(log.iter().all(|(_, m)| *m == 2), "{log:?}");

    // The pinned modem is pulled out; without fallback nothing is sent.
    w.block_on(w.emulator().unplug(2)).unwrap();
    w.wait_modems("modem2 leaves the pool", |ms| {
        entry(&w, ms, 2).is_some_and(|m| !is_up(m))
    });
    let second = w.send("ops", "alice", "第二条");
    let status = w.json(&["status"]);
    assert_eq!(status["deliveries_waiting"], 9, "{status}");
    assert!(
        status["modems"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["state"] != "busy"),
        "{status:#}"
    );
    assert!(deliveries(&w.show(second))
        .iter()
        .all(|d| d["state"] == "queued"));
    assert_eq!(w.emulator().summary().accepted(), 9);

    // Fallback allowed: the others take over the waiting deliveries.
    w.ok(&["group", "set", "ops", "--pin-fallback", "true"]);
    let totals = w.follow(second, |_| false);
    assert_eq!(totals["sent"], 9, "{totals}");
    let show = w.show(second);
    assert!(
        deliveries(&show)
            .iter()
            .all(|d| d["modem"] != dev2.as_str()),
        "{show:#}"
    );
    let phones = w.phones();
    for n in &numbers {
        assert_eq!(
            phones.phone(n).texts(),
            vec!["【运维组】第一条", "【运维组】第二条"],
            "{n}"
        );
    }
}

#[test]
fn a_number_refused_by_the_network_fails_alone_and_blocks_nothing() {
    // Modem 0 answers every send with +CMS ERROR: 1 (unassigned number), a recipient error.
    let w = World::start(
        3,
        |c| {
            c.all(|m| m.knobs.send_latency = Duration::from_millis(30))
                .modem(0, |m| {
                    m.knobs.error_rate = 1.0;
                    m.knobs.error_codes = vec![1];
                })
        },
        "",
    );
    let numbers = ops_group(&w, 14);
    let id = w.send("ops", "alice", "请确认收到");
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["finished"], true, "{totals}");
    let failed = totals["failed"].as_u64().unwrap();
    assert!(failed >= 2, "modem0 must have kept taking work: {totals}");
    assert_eq!(totals["sent"].as_u64().unwrap() + failed, 15, "{totals}");

    let show = w.show(id);
    let dev0 = device(&w, 0);
    let phones = w.phones();
    for d in deliveries(&show) {
        let n = d["number"].as_str().unwrap();
        if d["state"] == "failed" {
            assert_eq!(d["modem"], dev0.as_str(), "{d}");
            assert_eq!(d["attempts"], 1, "a bad number is not retried: {d}");
            assert!(
                d["error"].as_str().unwrap_or("").contains("CMS ERROR: 1"),
                "the reason is kept: {d}"
            );
            assert!(phones.phone(n).messages.is_empty(), "{n}");
        } else {
            assert_eq!(d["state"], "sent", "{d}");
            assert_ne!(d["modem"], dev0.as_str(), "{d}");
            assert_eq!(phones.phone(n).texts().len(), 1, "{n}");
        }
    }
    assert_eq!(deliveries(&show).len(), numbers.len());
    let failed_on_modem0: u32 = w.emulator().summary().modems[0].stats.failed.values().sum();
    assert_eq!(failed_on_modem0 as u64, failed);
    // The modem is not taken out for a recipient's error, and nothing waits.
    let modems = w.modems();
    assert_eq!(entry(&w, &modems, 0).unwrap()["state"], "ready");
    assert_eq!(w.json(&["status"])["deliveries_waiting"], 0);
}

#[test]
fn sigterm_mid_broadcast_finishes_in_flight_parts_and_the_next_start_completes() {
    let mut w = World::start(
        2,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(300)),
        "",
    );
    let numbers = ops_group(&w, 15);
    let id = w.send("ops", "alice", "今晚八点停机");
    w.follow(id, |t| t["sent"].as_u64() >= Some(4));
    let asked = Instant::now();
    let status = w.terminate_daemon();
    let took = asked.elapsed();
    assert!(status.success(), "daemon exit {status}\n{}", w.daemon_log());
    eprintln!("SIGTERM to exit: {took:?}");
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");

    // What the database says now (the daemon is down): nothing in flight, the rest queued,
    // and every part the modems accepted recorded as sent.
    let detail = w.open_store().show_broadcast(BroadcastId(id)).unwrap();
    let count = |s: DeliveryState| detail.deliveries.iter().filter(|d| d.state == s).count();
    assert_eq!(count(DeliveryState::Sending), 0, "{:#?}", detail.deliveries);
    assert_eq!(count(DeliveryState::Uncertain), 0);
    assert!(count(DeliveryState::Queued) > 0, "the rest stays queued");
    assert_eq!(
        count(DeliveryState::Sent) as u32,
        w.emulator().summary().accepted(),
        "every accepted part is recorded"
    );
    assert!(detail.deliveries.iter().all(|d| !d.possible_duplicate));

    w.start_daemon();
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["sent"], 16, "{totals}");
    let phones = w.phones();
    for n in &numbers {
        assert_eq!(
            phones.phone(n).texts(),
            vec!["【运维组】今晚八点停机"],
            "{n}"
        );
    }
    let show = w.show(id);
    assert!(deliveries(&show)
        .iter()
        .all(|d| d["attempts"] == 1 && d["possible_duplicate"] == false));
}

/// Something outside the daemon holds the database's write lock past the daemon's wait for
/// it (`lock_wait_secs`, 1 s here) in the middle of a broadcast: on SQLite an operator's `sqlite3` shell left in
/// a write transaction, on PostgreSQL another host's long transaction (a large import). What
/// came meanwhile is kept and written once the lock is free: the outcomes of the messages the
/// modems sent (nothing stays `sending`, nobody gets a second copy, everyone gets the
/// message), the routed status reports (`+CDS`) and routed replies (`+CMT`) the modems
/// acknowledged, which nothing else keeps.
#[test]
fn a_write_lock_held_past_the_busy_timeout_mid_broadcast_loses_nothing() {
    let mut w = World::prepare(
        2,
        |c| {
            c.all(|m| {
                m.knobs.send_latency = Duration::from_millis(300);
                m.knobs.report_delay = Some(Duration::from_millis(300));
                m.knobs.routed_messages_only = true;
            })
        },
        "lock_wait_secs = 1",
        "",
    );
    w.start_daemon();
    let numbers = ops_group(&w, 15);
    let id = w.send("ops", "alice", "锁住数据库");
    w.follow(id, |t| t["sent"].as_u64() >= Some(3));
    // Ten waits for the lock: the store serves one write at a time, and each of those queued
    // meanwhile (outcomes, reports, replies, the next deliveries' starts) sees its wait run out.
    let hold = Duration::from_secs(10);
    let holder = match &w.pg {
        // Busy inside the transaction (not idle in it: the server ends an idle one sooner).
        Some(pg) => {
            let url = pg.url.clone();
            std::thread::spawn(move || {
                common::pg::query_rows(
                    &url,
                    &format!(
                        "BEGIN; SELECT pg_advisory_xact_lock({}); SELECT pg_sleep({}); COMMIT",
                        groupsms::store::PG_WRITER_LOCK,
                        hold.as_secs()
                    ),
                );
            })
        }
        None => {
            let mut store = w.open_store();
            std::thread::spawn(move || {
                store
                    .write(|_| {
                        std::thread::sleep(hold);
                        Ok::<_, StoreError>(())
                    })
                    .unwrap();
            })
        }
    };
    // Three members who got the message answer while the lock is held, each to the SIM that
    // sent it (routed, never stored).
    let answering: Vec<(String, usize)> = log_modems(&w).into_iter().take(3).collect();
    assert_eq!(answering.len(), 3);
    std::thread::sleep(Duration::from_secs(1));
    for (n, modem) in &answering {
        w.block_on(w.emulator().deliver_sms(*modem, n, "收到"))
            .unwrap();
    }
    holder.join().unwrap();
    let shown = w.wait_show(id, "every delivery delivered", |s| {
        s["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["state"] == "delivered")
            .count()
            == 16
    });
    assert_eq!(shown["delivered"], 16, "{shown}");
    let detail = w.open_store().show_broadcast(BroadcastId(id)).unwrap();
    assert!(
        detail
            .deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Delivered && !d.possible_duplicate),
        "{:#?}",
        detail.deliveries
    );
    // Each reply recorded once, linked to the broadcast it answers (those kept waiting are
    // tried again with back-off: up to 8 s after the lock is free; each modem keeps its own,
    // so the order holds per modem only).
    let replies = w.poll(
        "the three replies",
        Duration::from_secs(30),
        || w.json(&["inbox", "list"])["messages"].clone(),
        |r| r.as_array().unwrap().len() >= 3,
    );
    let mut got: Vec<(&str, &Value, &str)> = replies
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["number"].as_str().unwrap(),
                &m["broadcast"],
                m["handling"].as_str().unwrap(),
            )
        })
        .collect();
    let linked = json!(id);
    let mut want: Vec<(&str, &Value, &str)> = answering
        .iter()
        .map(|(n, _)| (n.as_str(), &linked, "reply"))
        .collect();
    got.sort_by_key(|r| r.0);
    want.sort_by_key(|r| r.0);
    assert_eq!(got, want, "{replies:#}");
    let log = w.daemon_log();
    for (what, line) in [
        ("an outcome", "held and tried again until it commits"),
        ("a report", "a routed status report is kept in memory"),
        ("a reply", "a routed message is kept in memory"),
    ] {
        assert!(
            log.contains(line),
            "{what} never waited past the busy timeout: the test proves nothing\n{log}"
        );
    }
    let phones = w.phones();
    for n in &numbers {
        assert_eq!(phones.phone(n).texts(), vec!["【运维组】锁住数据库"], "{n}");
    }
}

/// One request line on a raw connection, and its answer.
fn ask(conn: &mut BufReader<UnixStream>, line: &[u8]) -> Value {
    let s = conn.get_mut();
    s.write_all(line).unwrap();
    s.write_all(b"\n").unwrap();
    let mut answer = String::new();
    conn.read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"))
}

fn assert_error(answer: &Value, id: u64, code: &str) {
    assert_eq!(answer["ok"], false, "{answer}");
    assert_eq!(answer["id"], id, "{answer}");
    assert_eq!(answer["error"]["code"], code, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
}

#[test]
fn the_socket_replaces_stale_files_refuses_a_second_daemon_and_survives_bad_lines() {
    let mut w = World::prepare(
        1,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(1500)),
        "",
        "",
    );
    // A crash leaves the socket file behind: nobody listens on it.
    drop(UnixListener::bind(w.socket()).unwrap());
    assert!(w.socket().exists());
    w.start_daemon();
    w.ok(&["status"]);

    // A second daemon on the live socket refuses to start, and touches nothing: the delivery
    // the first one is sending stays its own.
    ops_group(&w, 0);
    let id = w.send("ops", "alice", "只发一次");
    w.follow(id, |t| t["sending"] == 1);
    let mut second = w
        .daemon_command(false)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut second, Duration::from_secs(20))
        .expect("a second daemon on a live socket must give up");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(69), "{stderr}");
    // It stops at the database's lock, before the socket path (tests/disk.rs has the rest);
    // on PostgreSQL (its lock is taken with the database) at the live socket.
    let why = match &w.pg {
        None => format!(
            "another groupsms daemon (pid {}) holds the database {}",
            w.daemon_pid().unwrap(),
            w.database().display()
        ),
        Some(_) => format!(
            "another groupsms daemon is already listening on {}",
            w.socket().display()
        ),
    };
    assert!(stderr.contains(&why), "{stderr}");
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["sent"], 1, "{totals}");
    let show = w.show(id);
    let d = &deliveries(&show)[0];
    assert_eq!(
        (&d["state"], &d["attempts"], &d["possible_duplicate"]),
        (&json!("sent"), &json!(1), &json!(false)),
        "{d}"
    );
    assert_eq!(w.phones().phone("+8613800138000").texts().len(), 1);

    // Bad input: each line gets an error with its code, and the connection goes on.
    let stream = UnixStream::connect(w.socket()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut c = BufReader::new(stream);
    let status_ok = |c: &mut BufReader<UnixStream>, id: u64| {
        let a = ask(c, format!(r#"{{"id":{id},"op":"status"}}"#).as_bytes());
        assert_eq!(a["ok"], true, "{a}");
        assert_eq!(a["id"], id);
    };
    let a = ask(&mut c, br#"{"id":1,"op":"status"}"#);
    assert_error(&a, 1, "version_mismatch");
    let a = ask(&mut c, br#"{"id":2,"op":"hello","args":{"version":99}}"#);
    assert_error(&a, 2, "version_mismatch");
    let a = ask(&mut c, br#"{"id":3,"op":"hello","args":{"version":1}}"#);
    assert_eq!(a["ok"], true, "{a}");
    status_ok(&mut c, 4);
    assert_error(&ask(&mut c, br#"{"id":5,"op":"#), 0, "bad_request");
    status_ok(&mut c, 6);
    assert_error(
        &ask(&mut c, br#"{"id":7,"op":"frobnicate"}"#),
        7,
        "bad_request",
    );
    status_ok(&mut c, 8);
    let a = ask(&mut c, br#"{"id":9,"op":"status","args":{"verbose":true}}"#);
    assert_error(&a, 9, "bad_request");
    assert!(a["error"]["message"].as_str().unwrap().contains("verbose"));
    let a = ask(&mut c, br#"{"id":10,"op":"status","extra":1}"#);
    assert_error(&a, 10, "bad_request");
    status_ok(&mut c, 11);
    let mut long = br#"{"id":12,"op":"send","args":{"group":"ops","as":"alice","text":""#.to_vec();
    long.extend(std::iter::repeat_n(b'x', 70 * 1024));
    long.extend_from_slice(br#""}}"#);
    assert_error(&ask(&mut c, &long), 0, "line_too_long");
    status_ok(&mut c, 13);
    assert_error(
        &ask(&mut c, b"{\"id\":14,\"op\":\"status\",\"x\":\"\xff\xfe\"}"),
        0,
        "bad_request",
    );
    status_ok(&mut c, 15);
    // The over-long send was not accepted.
    assert_eq!(
        w.json(&["broadcast", "list"])["broadcasts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Connects to the socket as another user and sends `lines`.
fn raw_as(uid: u32, socket: &std::path::Path, lines: Vec<String>) -> Vec<Value> {
    let mut conn = connect_as(uid, socket, 1, |_| {});
    let mut c = BufReader::new(conn.remove(0));
    lines.iter().map(|l| ask(&mut c, l.as_bytes())).collect()
}

#[test]
fn unix_users_may_do_only_what_they_are_allowed() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: the permission test needs root (to run the CLI as uid 65534)");
        return;
    }
    const NOBODY: u32 = 65534;
    let w = World::start(1, |c| c, "");
    // Let nobody reach the socket (the daemon makes it 0660) and read the configuration.
    open_to_others(&w);
    ops_group(&w, 0);
    for (handle, phone, uid) in [
        ("bob", "13900000009", "1234"),
        ("carol", "13900000008", "65534"),
    ] {
        w.ok(&[
            "member", "add", handle, "--name", handle, "--phone", phone, "--uid", uid,
        ]);
        w.ok(&["member", "join", handle, "ops", "--role", "super_admin"]);
    }
    let as_nobody = |args: &[&str]| w.cli_as(NOBODY, NOBODY, args);
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();

    // Reading is open to anyone who can reach the socket.
    let out = as_nobody(&["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Management is not.
    for args in [
        &["group", "create", "x", "--name", "X"][..],
        &[
            "member",
            "add",
            "eve",
            "--name",
            "Eve",
            "--phone",
            "13900000007",
        ][..],
        &["member", "opt-out", "alice", "ops"][..],
    ] {
        let out = as_nobody(args);
        assert_eq!(out.status.code(), Some(77), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("unix user 65534 may not manage"),
            "{}",
            stderr(&out)
        );
    }
    let answers = raw_as(
        NOBODY,
        &w.socket(),
        vec![
            r#"{"id":1,"op":"hello","args":{"version":1}}"#.into(),
            r#"{"id":2,"op":"group_create","args":{"handle":"x","name":"X"}}"#.into(),
        ],
    );
    assert_eq!(answers[0]["ok"], true);
    assert_error(&answers[1], 2, "permission_denied");
    // Acting as a member bound to nobody is refused (default deny: only an administrator
    // may), uses no quota, and the audit log names the real caller.
    let out = as_nobody(&["send", "--group", "ops", "--as", "alice", "impersonation"]);
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("member 'alice' is not bound to a unix user"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.json(&["group", "show", "ops"])["quota"]["day_used"], 0);
    let audit = w.open_store().audit_log(1).unwrap();
    assert_eq!(
        (audit[0].actor.as_str(), audit[0].action.as_str()),
        ("uid:65534", "send_refused"),
        "{audit:?}"
    );
    assert!(audit[0].detail.starts_with("as 'alice': "), "{audit:?}");
    // Acting as a member bound to another user is refused; as one's own member it works.
    let out = as_nobody(&["send", "--group", "ops", "--as", "bob", "hi"]);
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("bound to unix user 1234"),
        "{}",
        stderr(&out)
    );
    let out = as_nobody(&["send", "--group", "ops", "--as", "carol", "from carol"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Root may do both.
    w.ok(&["group", "create", "x", "--name", "X"]);
    w.send("ops", "bob", "from bob");
    let groups = w.json(&["group", "list"]);
    assert_eq!(groups["groups"].as_array().unwrap().len(), 2);
    let list = w.json(&["broadcast", "list"]);
    let senders: Vec<&str> = list["broadcasts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["sender"].as_str().unwrap())
        .collect();
    assert_eq!(senders.len(), 2, "{list:#}");
    assert!(senders.contains(&"bob") && senders.contains(&"carol"));
    // Each broadcast records who really asked for it beside the member it was sent as.
    let callers: Vec<(&str, &str)> = list["broadcasts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["sender"].as_str().unwrap(), b["caller"].as_str().unwrap()))
        .collect();
    assert!(callers.contains(&("carol", "uid:65534")), "{callers:?}");
    assert!(callers.contains(&("bob", "root")), "{callers:?}");
}

/// A SIM that cannot send (`+CMS ERROR: 310`, SIM not inserted) takes its modem out of the
/// pool (quarantined, re-probed later); its work moves to the other modems and nothing fails.
#[test]
fn a_sim_error_quarantines_the_modem_and_its_work_moves_on() {
    let w = World::start(
        3,
        |c| {
            c.all(|m| m.knobs.send_latency = Duration::from_millis(30))
                .modem(0, |m| {
                    m.knobs.error_rate = 1.0;
                    m.knobs.error_codes = vec![310];
                })
        },
        "",
    );
    let numbers = ops_group(&w, 14);
    let id = w.send("ops", "alice", "SIM 故障测试");
    let totals = w.follow(id, |_| false);
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(15), Some(0)),
        "{totals}"
    );
    let phones = w.phones();
    for n in &numbers {
        assert_eq!(phones.phone(n).texts().len(), 1, "{n}");
    }
    // Modem 0 refused once, then left the pool: later deliveries never went to it.
    let refused: u32 = w.emulator().summary().modems[0].stats.failed.values().sum();
    assert!(refused >= 1, "the knob must have fired");
    let show = w.show(id);
    let dev0 = device(&w, 0);
    assert!(
        deliveries(&show)
            .iter()
            .all(|d| d["modem"] != dev0.as_str()),
        "{show}"
    );
    let retried: Vec<&Value> = deliveries(&show)
        .iter()
        .filter(|d| d["attempts"].as_u64() > Some(1))
        .collect();
    assert_eq!(
        retried.len() as u32,
        refused,
        "each refusal costs one retry elsewhere"
    );
    // It left the pool for the SIM's refusal. (Its state now is no proof either way: the
    // emulated SIM answers the re-probe a second later, so it may be back, ready.)
    let log = w.daemon_log();
    assert!(
        log.lines()
            .any(|l| l.contains("modem out of the pool") && l.contains(dev0.as_str())),
        "{log}"
    );
}

/// A modem that reboots in the middle of a broadcast (`RDY`, settings lost) is re-initialised
/// and goes on; nothing is lost.
#[test]
fn a_modem_rebooting_mid_broadcast_is_reinitialised_and_nothing_is_lost() {
    let w = World::start(
        2,
        |c| {
            c.all(|m| m.knobs.send_latency = Duration::from_millis(40))
                .modem(0, |m| {
                    m.knobs.reboot_after_sends = Some(3);
                })
        },
        "",
    );
    let numbers = ops_group(&w, 19);
    let id = w.send("ops", "alice", "重启测试：请忽略");
    let totals = w.follow(id, |_| false);
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(20), Some(0)),
        "{totals}"
    );
    let phones = w.phones();
    for n in &numbers {
        assert!(!phones.phone(n).texts().is_empty(), "{n} lost");
    }
    let summary = w.emulator().summary();
    assert!(
        summary.modems[0].stats.reboots >= 1,
        "the knob must have fired"
    );
    // The rebooted modem is initialised again, rejoins the pool and takes work.
    let dev0 = device(&w, 0);
    w.wait_modems("modem0 ready again after its reboot", |m| {
        m.iter()
            .any(|e| e["device"] == dev0.as_str() && e["state"] == "ready")
    });
    let before = summary.modems[0].stats.accepted;
    let id = w.send("ops", "alice", "重启后第二条");
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["sent"].as_u64(), Some(20), "{totals}");
    let after = w.emulator().summary().modems[0].stats.accepted;
    assert!(
        after > before,
        "modem0 took no work after rejoining ({before} -> {after})"
    );
}

/// A modem that stops answering mid-broadcast (hung) is noticed within the prompt timeout
/// (configured down to 2 s here), its message goes to another modem (it was never sent), and
/// it leaves the pool.
#[test]
fn a_hung_modem_is_taken_out_and_its_message_goes_elsewhere() {
    let w = World::start(
        3,
        |c| {
            c.all(|m| m.knobs.send_latency = Duration::from_millis(30))
                .modem(0, |m| m.knobs.hang_after_sends = Some(2))
        },
        "prompt_timeout_secs = 2\n",
    );
    let numbers = ops_group(&w, 14);
    let id = w.send("ops", "alice", "挂起测试");
    let totals = w.follow(id, |_| false);
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(15), Some(0)),
        "{totals}"
    );
    let phones = w.phones();
    for n in &numbers {
        assert_eq!(phones.phone(n).texts().len(), 1, "{n}: exactly once");
    }
    let summary = w.emulator().summary();
    assert!(
        summary.modems[0].hung,
        "the knob must have fired: {summary}"
    );
    assert_eq!(summary.modems[0].stats.accepted, 2, "{summary}");
    // The message it held was retried elsewhere, without a duplicate flag (never sent).
    let show = w.show(id);
    let retried: Vec<&Value> = deliveries(&show)
        .iter()
        .filter(|d| d["attempts"].as_u64() > Some(1))
        .collect();
    assert_eq!(retried.len(), 1, "{show}");
    assert_eq!(retried[0]["possible_duplicate"], false);
    let modems = w.modems();
    assert_ne!(entry(&w, &modems, 0).unwrap()["state"], "ready");
    let log = w.daemon_log();
    assert!(!log.contains('\x1b'), "no colour codes in a log file");
    let gave_up: Vec<&str> = log.lines().filter(|l| l.contains("no prompt")).collect();
    assert!(
        gave_up.len() == 1 && gave_up[0].contains("timeout=2s"),
        "the configured prompt timeout applies: {gave_up:?}"
    );
}

/// Reads are scoped (through the real binary and socket, as ordinary users): a user bound to
/// a member sees that member's groups and their broadcasts, numbers only where the member is
/// an admin, no uid bindings and no IMSIs; an unbound user gets `status` only.
#[test]
fn reads_are_scoped_to_the_callers_groups() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: the read-scoping test needs root (to run the CLI as other users)");
        return;
    }
    const DAN: u32 = 65534;
    const STRANGER: u32 = 65533;
    let w = World::start(1, |c| c, "");
    open_to_others(&w);
    ops_group(&w, 2);
    w.ok(&["group", "create", "hr", "--name", "人事"]);
    for (handle, phone, group, role) in [
        ("hank", "13900000021", "hr", "super_admin"),
        ("dan", "13900000022", "ops", "member"),
    ] {
        w.ok(&["member", "add", handle, "--name", handle, "--phone", phone]);
        w.ok(&["member", "join", handle, group, "--role", role]);
    }
    w.ok(&["member", "set", "dan", "--uid", &DAN.to_string()]);
    let ops = w.send("ops", "alice", "运维通知");
    let hr = w.send("hr", "hank", "人事通知");
    w.follow(ops, |_| false);
    w.follow(hr, |_| false);

    let json_as = |uid: u32, args: &[&str]| -> Result<Value, String> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = w.cli_as(uid, uid, &all);
        if out.status.success() {
            Ok(serde_json::from_slice(&out.stdout).unwrap())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    };
    let dan = |args: &[&str]| json_as(DAN, args);

    // Dan's groups only, and only their broadcasts.
    let groups = dan(&["group", "list"]).unwrap();
    let handles: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["handle"].as_str().unwrap())
        .collect();
    assert_eq!(handles, ["ops"]);
    let list = dan(&["broadcast", "list"]).unwrap();
    let ids: Vec<i64> = list["broadcasts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [ops]);
    let refused = dan(&["broadcast", "show", &hr.to_string()]).unwrap_err();
    assert!(
        refused.contains(&format!(
            "unix user {DAN} may not read broadcast {hr} (it is not member 'dan's)"
        )),
        "{refused}"
    );
    assert!(dan(&["group", "show", "hr"]).is_err());
    assert!(dan(&["member", "list"]).is_err());
    assert!(dan(&["member", "show", "alice"]).is_err());
    assert_eq!(
        dan(&["member", "show", "dan"]).unwrap()["phone"],
        "+8613900000022"
    );

    // A plain member sees recipients and members, numbers masked, no uid bindings.
    let show = dan(&["broadcast", "show", &ops.to_string()]).unwrap();
    for d in show["deliveries"].as_array().unwrap() {
        let n = d["number"].as_str().unwrap();
        assert!(n.starts_with("+*********"), "{d}");
    }
    let group = dan(&["group", "show", "ops"]).unwrap();
    assert!(group["members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["phone"].as_str().unwrap().contains("*****")));
    let members = dan(&["member", "list", "--group", "ops"]).unwrap();
    assert!(members["members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["uid"].is_null()));
    // No IMSIs for anyone but administrators.
    let modems = dan(&["modem", "list"]).unwrap();
    assert!(modems["modems"][0]["imsi"].is_null(), "{modems}");
    assert!(!w.modems()[0]["imsi"].is_null(), "root sees the IMSI");

    // Made an admin of ops, dan sees its numbers.
    w.ok(&["member", "role", "dan", "ops", "admin"]);
    let group = dan(&["group", "show", "ops"]).unwrap();
    assert!(group["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["phone"] == "+8613800138000"));

    // A user bound to nobody: status without IMSIs, nothing else.
    let status = json_as(STRANGER, &["status"]).unwrap();
    assert!(status["modems"][0]["imsi"].is_null(), "{status}");
    for args in [
        &["group", "list"][..],
        &["broadcast", "list"][..],
        &["modem", "list"][..],
        &["broadcast", "show", "1"][..],
    ] {
        let e = json_as(STRANGER, args).unwrap_err();
        assert!(
            e.contains(&format!("unix user {STRANGER} may not read")),
            "{args:?}: {e}"
        );
    }
}
