//! Several daemons on one PostgreSQL database (issue 17), as an organization runs them: two or
//! three real `groupsms daemon` processes, each with its own `[daemon] host`, its own emulated
//! modems (real PTYs, SIMs of their own), its own socket, all on one scratch database in the
//! cluster `GROUPSMS_TEST_POSTGRES` names (`.ci/run` starts one; absent locally: skipped, said
//! clearly; `GROUPSMS_REQUIRE_ORACLES=1` makes that a failure). What the phones received is
//! read from every emulator's log, what the daemons recorded from the database.
//!
//! Leases are short (`lease_secs = 3`) so a lost host is noticed within seconds. Nothing here
//! asserts a time: every wait is on a condition, bounded; the wake-up time across hosts is
//! printed as a figure.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::daemon::{ops_group, World};
use common::hosts::{host_seed, Hosts};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

/// One scenario at a time: each runs two or three daemons with a 3 s lease, and two at once
/// on a small machine could starve a heartbeat into a takeover the scenario did not play.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// `[daemon]` keys of every host: a short lease, so a lost host is recovered within seconds.
const LEASE: &str = "lease_secs = 3\n";

/// Per-SIM caps out of the way (`[[modem]]` keys): 1 000 parts over a few SIMs.
const UNCAPPED: &str = "max_per_hour = 100000\nmax_per_day = 100000\n";

/// How long a whole broadcast may take here before the test gives up (a slow CI machine).
const BROADCAST_LIMIT: Duration = Duration::from_secs(240);

/// Every modem of an emulator answers `AT+CMGS` after `ms` milliseconds.
fn latency(c: groupsms::emulator::EmulatorConfig, ms: u64) -> groupsms::emulator::EmulatorConfig {
    c.all(|m| m.knobs.send_latency = Duration::from_millis(ms))
}

/// The deliveries of broadcast `id` as (id, number, state, host, possible_duplicate).
struct Row {
    id: i64,
    number: String,
    state: String,
    host: Option<String>,
    flagged: bool,
}

fn deliveries(hosts: &Hosts, id: i64) -> Vec<Row> {
    hosts
        .rows(&format!(
            "SELECT id, number, state, host, possible_duplicate FROM deliveries \
             WHERE broadcast_id = {id} ORDER BY id"
        ))
        .into_iter()
        .map(|r| Row {
            id: r[0].as_deref().unwrap().parse().unwrap(),
            number: r[1].clone().unwrap(),
            state: r[2].clone().unwrap(),
            host: r[3].clone(),
            flagged: r[4].as_deref() == Some("1"),
        })
        .collect()
}

/// Ids of the deliveries of broadcast `id` that host `host` has in `sending`.
fn in_flight(hosts: &Hosts, id: i64, host: &str) -> BTreeSet<i64> {
    hosts
        .rows(&format!(
            "SELECT id FROM deliveries WHERE broadcast_id = {id} AND state = 'sending' \
             AND host = '{host}'"
        ))
        .into_iter()
        .map(|r| r[0].as_deref().unwrap().parse().unwrap())
        .collect()
}

/// The hosts table as the daemons keep it (for failure messages and the printed rows).
fn hosts_table(hosts: &Hosts) -> Vec<Vec<Option<String>>> {
    hosts.rows("SELECT * FROM hosts ORDER BY 1")
}

fn time(record: &groupsms::emulator::log::LogRecord) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&record.time)
        .unwrap_or_else(|e| panic!("{e}: {:?}", record.time))
        .with_timezone(&Utc)
}

/// a. Two daemons, one database: a 1 000-member broadcast accepted on A is sent once to every
/// member; both hosts' modems send a share (the queue is one), and `deliveries.host` names
/// for each delivery the host whose emulator got it.
#[test]
fn two_hosts_send_a_1000_member_broadcast_exactly_once_between_them() {
    let _one = one_at_a_time();
    let Some(hosts) = Hosts::start(&[3, 3], |_, c| latency(c, 10), LEASE, UNCAPPED) else {
        return;
    };
    let numbers = ops_group(&hosts[0], 999);
    assert_eq!(numbers.len(), 1000);
    let id = hosts[0].send("ops", "alice", "两台主机一条队列");
    let want = "【运维组】两台主机一条队列";
    let states = hosts.wait_settled(id, BROADCAST_LIMIT);
    assert_eq!(states.get("sent"), Some(&1000), "{states:?}");

    // Every member got it exactly once, whichever host sent it.
    let got = hosts.received(want);
    let lost: Vec<&String> = numbers.iter().filter(|n| !got.contains_key(*n)).collect();
    let twice: Vec<(&String, &usize)> = got.iter().filter(|(_, k)| **k > 1).collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(got.len(), 1000, "only members got it");

    // Both hosts sent a share, and the database says which host sent what.
    let rows = deliveries(&hosts, id);
    for (i, name) in hosts.names.iter().enumerate() {
        let by_emulator: HashSet<String> = hosts.received_by(i, want).into_iter().collect();
        let by_record: HashSet<String> = rows
            .iter()
            .filter(|r| r.host.as_deref() == Some(name.as_str()))
            .map(|r| r.number.clone())
            .collect();
        assert!(
            !by_emulator.is_empty(),
            "{name} sent nothing: shares {:?}",
            hosts.shares(id)
        );
        assert_eq!(
            by_emulator, by_record,
            "{name}: its modems sent to these numbers, deliveries.host names it for those"
        );
    }
    assert!(rows.iter().all(|r| !r.flagged), "no possible duplicate");
    let shown = hosts[1].show(id);
    assert_eq!(
        (&shown["finished"], &shown["sent"], &shown["failed"]),
        (&json!(true), &json!(1000), &json!(0)),
        "B shows the broadcast A accepted: {shown}"
    );
    eprintln!(
        "HOSTS two hosts, 1000 members: shares {:?}",
        hosts.shares(id)
    );
}

/// b. Three daemons; one is killed (`kill -9`) mid-broadcast, after it sent some. The two
/// others take over its share once its lease runs out: nothing lost; the deliveries it had
/// in flight follow `in_flight_policy` (resend: sent again and flagged, the only numbers that
/// may get two copies; uncertain: marked so, never sent twice).
fn a_host_killed_mid_broadcast(policy: &str) {
    let _one = one_at_a_time();
    let keys = format!("{LEASE}in_flight_policy = \"{policy}\"\n");
    // The victim's modems are slow (300 ms a send), so it has sends in flight when killed.
    let Some(mut hosts) = Hosts::start(
        &[2, 2, 2],
        |i, c| latency(c, if i == 2 { 300 } else { 20 }),
        &keys,
        UNCAPPED,
    ) else {
        return;
    };
    let victim = hosts.names[2].clone();
    let numbers = ops_group(&hosts[0], 999);
    let text = format!("kill -9 一台主机 ({policy})");
    let want = format!("【运维组】{text}");
    let id = hosts[0].send("ops", "alice", &text);

    // Kill it once it sent some and has a delivery in flight.
    hosts.wait(
        "the victim sent 10 parts, one in flight",
        BROADCAST_LIMIT,
        || {
            (hosts.received_by(2, &want).len() >= 10 && !in_flight(&hosts, id, &victim).is_empty())
                .then_some(())
        },
    );
    hosts[2].kill_daemon();
    let killed = Instant::now();
    // What it had in flight is frozen once the server has done what the victim sent it before
    // it died (a commit may still land), until another host recovers it.
    std::thread::sleep(Duration::from_millis(300));
    let taken = in_flight(&hosts, id, &victim);
    let sent_by_victim = hosts.received_by(2, &want).len();
    assert!(
        !taken.is_empty(),
        "the victim had nothing in flight at the kill: the test proves nothing"
    );
    assert!(
        hosts.states(id).get("queued").copied().unwrap_or(0) > 0,
        "the broadcast must still have work when the victim dies"
    );
    // Recovered after the lease: none of them is the victim's `sending` any more.
    hosts.wait("the victim's deliveries recovered", BROADCAST_LIMIT, || {
        in_flight(&hosts, id, &victim).is_empty().then_some(())
    });
    let recovered_after = killed.elapsed();
    let states = hosts.wait_settled(id, BROADCAST_LIMIT);

    let rows = deliveries(&hosts, id);
    let got = hosts.received(&want);
    let flagged: BTreeSet<i64> = rows.iter().filter(|r| r.flagged).map(|r| r.id).collect();
    let twice: Vec<(&String, &usize)> = got.iter().filter(|(_, k)| **k > 1).collect();
    eprintln!(
        "HOSTS kill -9 ({policy}): victim sent {sent_by_victim}, {} in flight at the kill, \
         recovered {:.2} s after it; states {states:?}; shares {:?}; copies to one number \
         more than once: {}; hosts {:?}",
        taken.len(),
        recovered_after.as_secs_f64(),
        hosts.shares(id),
        twice.len(),
        hosts_table(&hosts)
    );
    match policy {
        "resend" => {
            assert_eq!(states.get("sent"), Some(&1000), "{states:?}");
            let lost: Vec<&String> = numbers.iter().filter(|n| !got.contains_key(*n)).collect();
            assert!(lost.is_empty(), "lost: {lost:?}");
            // Exactly what was in flight was sent again, by the others, flagged.
            assert_eq!(
                flagged, taken,
                "flagged possible duplicates: the in-flight ones"
            );
            for r in rows.iter().filter(|r| taken.contains(&r.id)) {
                assert_eq!(r.state, "sent", "{}", r.number);
                assert_ne!(r.host.as_deref(), Some(victim.as_str()), "{}", r.number);
            }
            let flagged_numbers: HashSet<&str> = rows
                .iter()
                .filter(|r| r.flagged)
                .map(|r| r.number.as_str())
                .collect();
            for (n, k) in &twice {
                assert!(
                    flagged_numbers.contains(n.as_str()) && **k == 2,
                    "{n} got {k} copies, flagged: {}",
                    flagged_numbers.contains(n.as_str())
                );
            }
        }
        "uncertain" => {
            assert!(twice.is_empty(), "sent twice: {twice:?}");
            assert!(flagged.is_empty(), "flagged: {flagged:?}");
            let uncertain: BTreeSet<i64> = rows
                .iter()
                .filter(|r| r.state == "uncertain")
                .map(|r| r.id)
                .collect();
            assert_eq!(uncertain, taken, "uncertain: exactly the in-flight ones");
            assert_eq!(
                states.get("sent").copied().unwrap_or(0) + taken.len() as i64,
                1000,
                "{states:?}"
            );
            // Every other member got it: nothing lost but the uncertain ones, which are said.
            for r in rows.iter().filter(|r| !taken.contains(&r.id)) {
                assert_eq!(got.get(&r.number), Some(&1), "{}", r.number);
            }
        }
        other => unreachable!("{other}"),
    }
}

#[test]
fn a_host_killed_mid_broadcast_has_its_share_finished_by_the_others_resend() {
    a_host_killed_mid_broadcast("resend");
}

#[test]
fn a_host_killed_mid_broadcast_has_its_share_finished_by_the_others_uncertain() {
    a_host_killed_mid_broadcast("uncertain");
}

/// c. A network partition, played by pausing a daemon (SIGSTOP) past its lease: the others
/// recover and send what it had in flight; resumed (SIGCONT), it sends none of what they took
/// over (it checks its lease before each send), so no number gets a second copy except those
/// recovery flagged; then it rejoins and sends its share of the rest.
///
/// The paused host's modems wait 1 s between commands (`command_gap_ms`, the most allowed):
/// most of the time each has a delivery taken (`sending`) and not yet written to the modem,
/// which is what a resumed host must not send without its lease.
#[test]
fn a_paused_host_past_its_lease_sends_nothing_taken_over_and_rejoins() {
    let _one = one_at_a_time();
    let Some(mut hosts) = Hosts::prepare(
        &[2, 2, 2],
        |i, c| latency(c, if i == 2 { 50 } else { 60 }),
        &format!("{LEASE}in_flight_policy = \"resend\"\n"),
        UNCAPPED,
    ) else {
        return;
    };
    hosts.modem_keys(2, "command_gap_ms = 1000");
    hosts.start_all();
    let victim = hosts.names[2].clone();
    let numbers = ops_group(&hosts[0], 999);
    let want = "【运维组】暂停一台主机";
    let id = hosts[0].send("ops", "alice", "暂停一台主机");
    // Paused while it holds a delivery in flight: seen before the signal, and again once the
    // server has done what the victim sent it before it stopped (an outcome's commit may
    // still land); if that one was its last, it goes on and is paused again.
    let mut pauses = 0;
    let (paused, taken) = loop {
        hosts.wait(
            "the victim sent 3 parts, one in flight",
            BROADCAST_LIMIT,
            || {
                (hosts.received_by(2, want).len() >= 3
                    && !in_flight(&hosts, id, &victim).is_empty())
                .then_some(())
            },
        );
        hosts[2].signal_daemon(Signal::SIGSTOP);
        let paused = Instant::now();
        pauses += 1;
        std::thread::sleep(Duration::from_millis(300));
        let taken = in_flight(&hosts, id, &victim);
        if !taken.is_empty() {
            break (paused, taken);
        }
        assert!(
            pauses < 10,
            "the victim had nothing in flight in 10 pauses: the test proves nothing"
        );
        hosts[2].signal_daemon(Signal::SIGCONT);
    };
    // Another host declares it lost and recovers what it had in flight (queued again,
    // flagged): none of it is the paused host's `sending` any more.
    hosts.wait(
        "the paused host's deliveries recovered",
        BROADCAST_LIMIT,
        || in_flight(&hosts, id, &victim).is_empty().then_some(()),
    );
    let recovered_after = paused.elapsed();
    assert!(
        hosts.states(id).get("queued").copied().unwrap_or(0) > 50,
        "the broadcast must still have work for the resumed host: {:?}",
        hosts.states(id)
    );
    let resumed_at = Utc::now();
    hosts[2].signal_daemon(Signal::SIGCONT);
    // It rejoins: its modems send again (their parts logged after the resume).
    hosts.wait("the resumed host sends again", BROADCAST_LIMIT, || {
        let after = hosts
            .parts_of(2)
            .iter()
            .filter(|r| time(r) > resumed_at)
            .count();
        if after == 0 && hosts.states(id).get("queued").copied().unwrap_or(0) == 0 {
            panic!(
                "the broadcast ran out of work before the resumed host sent anything\n{}",
                hosts.logs()
            );
        }
        (after >= 3).then_some(())
    });
    let states = hosts.wait_settled(id, BROADCAST_LIMIT);
    assert_eq!(states.get("sent"), Some(&1000), "{states:?}");

    let rows = deliveries(&hosts, id);
    let by_number: HashMap<&str, &Row> = rows.iter().map(|r| (r.number.as_str(), r)).collect();
    let got = hosts.received(want);
    // What the resumed host's modems sent after the resume, per number.
    let mut after: HashMap<String, usize> = HashMap::new();
    for r in hosts.parts_of(2) {
        if r.text == want && time(&r) > resumed_at {
            *after.entry(r.to).or_insert(0) += 1;
        }
    }
    // Fenced: each part the resumed host sent is of a delivery it holds (deliveries.host),
    // sent once by it and by nobody else. A part of a delivery it had lost (taken over by
    // another host, or taken again by itself after it rejoined) would show as a second copy
    // or as another host's delivery.
    for (n, k) in &after {
        let r = by_number[n.as_str()];
        assert_eq!(
            (r.host.as_deref(), *k, got[n]),
            (Some(victim.as_str()), 1, 1),
            "{n} (delivery {}, in flight at the pause: {}): sent by the resumed host after \
             its lease ran out; (its host, copies by it after the resume, copies in all)\n{}",
            r.id,
            taken.contains(&r.id),
            hosts.logs()
        );
    }
    // Across the whole broadcast: nothing lost; two copies only for a flagged delivery, and
    // only those recovery moved are flagged.
    let lost: Vec<&String> = numbers.iter().filter(|n| !got.contains_key(*n)).collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    for (n, k) in got.iter().filter(|(_, k)| **k > 1) {
        let r = by_number[n.as_str()];
        assert!(
            r.flagged && *k == 2,
            "{n}: {k} copies, flagged {}",
            r.flagged
        );
    }
    let flagged: BTreeSet<i64> = rows.iter().filter(|r| r.flagged).map(|r| r.id).collect();
    assert_eq!(
        flagged, taken,
        "flagged: what the paused host had in flight"
    );
    eprintln!(
        "HOSTS SIGSTOP: {} in flight at the pause, recovered {:.2} s after it; the resumed \
         host sent {} after the resume; numbers with two copies {}; shares {:?}",
        taken.len(),
        recovered_after.as_secs_f64(),
        after.values().sum::<usize>(),
        got.values().filter(|k| **k > 1).count(),
        hosts.shares(id)
    );
}

/// d. The quota is exact across hosts: 50 sends at the same instant, 25 through each host's
/// socket, daily quota 3: exactly 3 accepted, 47 refused with `quota_exceeded`.
#[test]
fn fifty_concurrent_sends_over_two_hosts_pass_the_daily_quota_exactly() {
    let _one = one_at_a_time();
    let Some(hosts) = Hosts::start(&[1, 1], |_, c| c, LEASE, "") else {
        return;
    };
    // 300 recipients: each accept writes 300 deliveries between its quota check and its
    // count, a window two hosts' accepts could overlap in without one lock for both.
    ops_group(&hosts[0], 299);
    hosts[0].ok(&["group", "set", "ops", "--daily", "3"]);
    let sockets = [hosts[0].socket(), hosts[1].socket()];
    let barrier = Arc::new(Barrier::new(50));
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let (socket, barrier) = (sockets[i % 2].clone(), barrier.clone());
            std::thread::spawn(move || {
                let stream = UnixStream::connect(&socket).expect("daemon socket");
                stream
                    .set_read_timeout(Some(Duration::from_secs(60)))
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
                let hello = exchange(json!({"id": 1, "op": "hello", "args": {"version": 1}}));
                assert_eq!(hello["ok"], true, "{hello}");
                barrier.wait();
                exchange(json!({"id": 2, "op": "send", "args": {
                    "group": "ops", "as": "alice", "text": format!("第{i}条通知")}}))
            })
        })
        .collect();
    let answers: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let accepted: Vec<usize> = (0..50).filter(|i| answers[*i]["ok"] == true).collect();
    let refused: Vec<&Value> = answers.iter().filter(|a| a["ok"] != true).collect();
    assert_eq!(accepted.len(), 3, "accepted: {accepted:?}");
    for r in &refused {
        assert_eq!(r["error"]["code"], "quota_exceeded", "{r}");
    }
    assert_eq!(refused.len(), 47);
    assert_eq!(hosts.count("SELECT count(*) FROM broadcasts"), 3);
    let group = hosts[1].json(&["group", "show", "ops"]);
    assert_eq!(group["quota"]["day_used"], 3, "{group}");
    eprintln!(
        "HOSTS quota: accepted {} through A, {} through B",
        accepted.iter().filter(|i| *i % 2 == 0).count(),
        accepted.iter().filter(|i| *i % 2 == 1).count()
    );
}

/// Waits until the inbox (read through `w`, the shared database) holds `n` messages.
fn wait_inbox(hosts: &Hosts, w: &World, n: usize) -> Vec<Value> {
    hosts.wait(
        &format!("{n} inbox messages"),
        Duration::from_secs(60),
        || {
            let list = w.json(&["inbox", "list"])["messages"]
                .as_array()
                .unwrap()
                .clone();
            (list.len() >= n).then_some(list)
        },
    )
}

/// e. Inbox across hosts. A reply goes back to the SIM that sent the message, so it arrives on
/// host B when that SIM is in one of B's modems: A sends a broadcast through its one SIM, the
/// SIM then moves to B (A's stick is pulled out; B's emulated modem carries the same SIM), and
/// the member's reply arriving on B is linked to A's broadcast; the SIM's count of sends
/// follows it to B; her `退订` through B opts her out, and A's next broadcast leaves her out.
#[test]
fn a_reply_on_host_b_is_linked_to_host_as_broadcast_and_an_opt_out_through_b_holds_on_a() {
    let _one = one_at_a_time();
    // B's emulator has A's seed: its modem carries the SIM (IMSI) of A's.
    let Some(mut hosts) = Hosts::prepare(
        &[1, 1],
        |i, c| match i {
            1 => c.seed(host_seed(0)),
            _ => c,
        },
        LEASE,
        "",
    ) else {
        return;
    };
    // A alone sends the first broadcast, so each of its deliveries is A's.
    hosts[0].start_daemon();
    let numbers = ops_group(&hosts[0], 3);
    let m1 = numbers[1].clone();
    let first = hosts[0].send("ops", "alice", "明天停电");
    hosts.wait_settled(first, BROADCAST_LIMIT);
    assert_eq!(
        hosts.shares(first),
        [(Some(hosts.names[0].clone()), 4)].into_iter().collect(),
        "A sent every delivery"
    );
    let sims: Vec<String> = hosts
        .rows("SELECT DISTINCT sim FROM sim_sends")
        .into_iter()
        .filter_map(|r| r[0].clone())
        .collect();
    let [sim] = sims.as_slice() else {
        panic!("one SIM sent the broadcast: {sims:?}")
    };

    // The SIM moves: out of A's modem, into B's.
    hosts[0].block_on(hosts[0].emulator().unplug(0)).unwrap();
    hosts[0].wait_modems("A's modem gone", |ms| {
        ms.iter()
            .all(|m| m["state"] != "ready" && m["state"] != "busy")
    });
    hosts[1].start_daemon();
    let b_dir = hosts[1].dir.path().display().to_string();
    let b_modem = hosts[1].wait_modems("B's modem ready", |ms| {
        ms.iter().any(|m| {
            m["state"] == "ready" && m["device"].as_str().is_some_and(|d| d.starts_with(&b_dir))
        })
    });
    let b_modem = b_modem
        .iter()
        .find(|m| m["device"].as_str().is_some_and(|d| d.starts_with(&b_dir)))
        .unwrap();
    assert_eq!(b_modem["imsi"], sim.as_str(), "the same SIM: {b_modem:#}");
    assert_eq!(
        b_modem["sent_today"], 4,
        "the SIM's sends through A count on B: {b_modem:#}"
    );

    // A reply through B's modem.
    hosts[1].block_on(async {
        hosts[1]
            .emulator()
            .deliver_sms(0, &m1, "收到，谢谢")
            .await
            .unwrap();
    });
    let list = wait_inbox(&hosts, &hosts[0], 1);
    let reply = &list[0];
    assert_eq!(reply["handling"], "reply", "{reply:#}");
    assert_eq!(reply["broadcast"], first, "{reply:#}");
    assert_eq!(reply["number"], m1.as_str(), "{reply:#}");
    assert!(
        reply["modem"]
            .as_str()
            .is_some_and(|d| d.starts_with(&b_dir)),
        "it came through B's modem: {reply:#}"
    );
    let shown = hosts[0].show(first);
    assert_eq!(
        shown["replies"].as_array().map(Vec::len),
        Some(1),
        "{shown:#}"
    );

    // The opt-out through B.
    hosts[1].block_on(async {
        hosts[1]
            .emulator()
            .deliver_sms(0, &m1, "退订")
            .await
            .unwrap();
    });
    let list = wait_inbox(&hosts, &hosts[0], 2);
    assert_eq!(list[0]["handling"], "opt_out", "{:#}", list[0]);
    assert_eq!(list[0]["broadcast"], first, "{:#}", list[0]);

    // A's next broadcast (sent by B's modem, the only one now) leaves her out.
    let accepted = hosts[0].json(&["send", "--group", "ops", "--as", "alice", "第二条通知"]);
    assert_eq!(accepted["dropped"]["opted_out"], 1, "{accepted:#}");
    assert_eq!(accepted["recipients"], 3, "{accepted:#}");
    let second = accepted["broadcast"].as_i64().unwrap();
    hosts.wait_settled(second, BROADCAST_LIMIT);
    let got = hosts.received("【运维组】第二条通知");
    assert_eq!(got.get(&m1), None, "the opted-out member got it");
    for n in numbers.iter().filter(|n| **n != m1) {
        assert_eq!(got.get(n), Some(&1), "{n}");
    }
    // One confirmation of the opt-out, through the SIM she wrote to (now B's).
    let confirmations = |i: usize| {
        hosts
            .parts_of(i)
            .iter()
            .filter(|r| r.to == m1 && r.text.contains("您已退订"))
            .count()
    };
    assert_eq!((confirmations(0), confirmations(1)), (0, 1));
}

/// f. Wake-up across hosts: a broadcast accepted on a host with no modem reaches host B's
/// idle modem (LISTEN/NOTIFY, not polling). Prints, for five broadcasts, how long it took
/// from the accept's commit to B's first delivery going `sending` (times the database took,
/// by triggers the test adds), and from the CLI's start; no assertion on the time.
#[test]
fn a_broadcast_accepted_on_a_host_without_modems_wakes_an_idle_modem_on_another() {
    let _one = one_at_a_time();
    let Some(hosts) = Hosts::start(
        &[0, 1],
        |_, c| c,
        LEASE,
        "[quota]\ndaily = 100\nmonthly = 1000\n",
    ) else {
        return;
    };
    ops_group(&hosts[0], 3);
    hosts[1].wait_modems("B's modem ready", |ms| {
        ms.iter().any(|m| m["state"] == "ready")
    });
    // The database's own clock when each accept commits (a deferred trigger runs at the
    // commit) and when each delivery goes `sending`.
    common::pg::admin_sql(
        hosts.url(),
        "CREATE TABLE wake_probe (what TEXT NOT NULL, broadcast BIGINT NOT NULL, \
             host TEXT, at TIMESTAMPTZ NOT NULL);
         CREATE FUNCTION wake_probe_accept() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN INSERT INTO wake_probe VALUES ('accept', NEW.id, NULL, clock_timestamp());
             RETURN NEW; END $$;
         CREATE FUNCTION wake_probe_sending() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN INSERT INTO wake_probe
                 VALUES ('sending', NEW.broadcast_id, NEW.host, clock_timestamp());
             RETURN NEW; END $$;
         CREATE CONSTRAINT TRIGGER wake_probe_accept AFTER INSERT ON broadcasts
             DEFERRABLE INITIALLY DEFERRED
             FOR EACH ROW EXECUTE FUNCTION wake_probe_accept();
         CREATE TRIGGER wake_probe_sending AFTER UPDATE OF state ON deliveries
             FOR EACH ROW WHEN (NEW.state = 'sending' AND OLD.state <> 'sending')
             EXECUTE FUNCTION wake_probe_sending();",
    )
    .unwrap();
    let mut figures = Vec::new();
    for round in 0..5 {
        let text = format!("唤醒测试 {round}");
        let requested = Utc::now();
        let id = hosts[0].send("ops", "alice", &text);
        hosts.wait_settled(id, BROADCAST_LIMIT);
        let got = hosts.received(&format!("【运维组】{text}"));
        assert_eq!(got.len(), 4, "every member, once: {got:?}");
        assert!(got.values().all(|k| *k == 1), "{got:?}");
        assert_eq!(
            hosts.shares(id),
            [(Some(hosts.names[1].clone()), 4)].into_iter().collect(),
            "B's modem sent it all"
        );
        let row = &hosts.rows(&format!(
            "SELECT (extract(epoch FROM min(at) FILTER (WHERE what = 'sending')) \
                     - extract(epoch FROM min(at) FILTER (WHERE what = 'accept'))) * 1000, \
                    extract(epoch FROM min(at) FILTER (WHERE what = 'sending')) * 1000 \
             FROM wake_probe WHERE broadcast = {id}"
        ))[0];
        let accept_ms: f64 = row[0].as_deref().unwrap().parse().unwrap();
        let sending_at: f64 = row[1].as_deref().unwrap().parse().unwrap();
        let request_ms = sending_at - requested.timestamp_micros() as f64 / 1000.0;
        eprintln!(
            "WAKE-UP round {round}: accepted on {} -> first sending on {}: {accept_ms:.1} ms \
             (from the CLI's start: {request_ms:.1} ms)",
            hosts.names[0], hosts.names[1]
        );
        figures.push(accept_ms);
    }
    figures.sort_by(f64::total_cmp);
    eprintln!(
        "WAKE-UP median {:.1} ms, worst {:.1} ms over {} broadcasts",
        figures[figures.len() / 2],
        figures[figures.len() - 1],
        figures.len()
    );
}
