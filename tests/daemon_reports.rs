//! Delivery reports end to end: the real binary as daemon and CLI, emulated modems on PTYs
//! whose "network" sends `+CDS`/`+CDSI` status reports, a real SQLite file.

mod common;

use std::collections::HashMap;

use common::daemon::{ops_group, World};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::Value;

fn states(shown: &Value) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for d in shown["deliveries"].as_array().unwrap() {
        *out.entry(d["state"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    out
}

fn count(shown: &Value, state: &str) -> usize {
    states(shown).get(state).copied().unwrap_or(0)
}

#[test]
fn reports_from_the_network_make_deliveries_delivered() {
    let w = World::start(
        2,
        |mut c| {
            for m in &mut c.modems {
                m.knobs.report_delay = Some(std::time::Duration::from_millis(300));
            }
            c
        },
        "",
    );
    let modems = w.wait_modems("both modems ready", |m| {
        m.iter().filter(|m| m["state"] == "ready").count() == 2
    });
    assert!(
        modems.iter().all(|m| m["reports"] == "routed"),
        "{modems:#?}"
    );
    let numbers = ops_group(&w, 5);
    let run = w.cli(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--wait-delivered",
        "--timeout",
        "30",
        "今晚停机维护",
    ]);
    let (out, err) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert!(run.status.success(), "{out}\n{err}");
    assert!(out.contains("6 sent"), "{out}");
    // The reports that came after the sending, each as it came: the last one leaves none
    // waiting (those that came before it are in the counts, not shown one by one).
    let reports: Vec<&str> = err.lines().filter(|l| l.starts_with("report: ")).collect();
    assert!(reports.len() <= 6, "{err}");
    if let Some(last) = reports.last() {
        assert!(last.ends_with("0 undelivered, 0 waiting)"), "{err}");
    }
    assert!(reports.iter().all(|l| l.contains(" delivered (")), "{err}");
    assert!(
        out.contains("reports: 6 delivered, 0 undelivered, 0 without a report"),
        "{out}"
    );
    let shown = w.wait_show(1, "every delivery delivered", |s| {
        count(s, "delivered") == 6
    });
    assert_eq!(
        (shown["delivered"].as_u64(), shown["undelivered"].as_u64()),
        (Some(6), Some(0))
    );
    assert_eq!(shown["sent"], 6, "delivered ones were sent: {shown:#}");
    // What the phones got asked for a report (TP-SRR, first octet bit 0x20).
    for part in w.sent_parts() {
        let first = u8::from_str_radix(&part.pdu[2..4], 16).unwrap();
        assert_eq!(first & 0x20, 0x20, "{}", part.pdu);
    }
    assert_eq!(w.phones().numbers.len(), numbers.len());
    let text = w.ok(&["broadcast", "show", "1"]);
    assert!(text.contains("delivered:       6"), "{text}");
}

#[test]
fn a_permanent_failure_makes_deliveries_undelivered_with_the_reason() {
    let w = World::start(
        1,
        |mut c| {
            let k = &mut c.modems[0].knobs;
            k.report_delay = Some(std::time::Duration::from_millis(100));
            k.report_failure_rate = 1.0;
            k.report_failure_status = 0x41;
            c
        },
        "",
    );
    ops_group(&w, 2);
    let summary = w.json(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--wait-delivered",
        "x",
    ]);
    assert_eq!(
        (&summary["undelivered"], &summary["waiting_for_reports"]),
        (&Value::from(3), &Value::from(0)),
        "{summary:#}"
    );
    let shown = w.wait_show(1, "every delivery undelivered", |s| {
        count(s, "undelivered") == 3
    });
    for d in shown["deliveries"].as_array().unwrap() {
        assert_eq!(d["error"], "incompatible destination (TP-ST 0x41)", "{d}");
    }
    assert_eq!(shown["undelivered"], 3);
}

#[test]
fn stored_reports_are_read_and_deleted_when_routing_is_refused() {
    let w = World::start(
        1,
        |mut c| {
            let k = &mut c.modems[0].knobs;
            k.refuse_routed_reports = true;
            k.report_delay = Some(std::time::Duration::from_millis(100));
            c
        },
        "",
    );
    let modems = w.wait_modems("modem ready", |m| m[0]["state"] == "ready");
    assert_eq!(modems[0]["reports"], "stored", "{modems:#?}");
    ops_group(&w, 3);
    w.ok(&["send", "--group", "ops", "--as", "alice", "--wait", "x"]);
    w.wait_show(1, "every delivery delivered", |s| {
        count(s, "delivered") == 4
    });
    // Deleted from the modem after the commit, so possibly just after the show above.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let log = loop {
        let log = w.daemon_log();
        if log.matches("stored status report deleted").count() == 4 {
            break log;
        }
        assert!(std::time::Instant::now() < deadline, "{log}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!log.contains("cannot delete"), "{log}");
    assert!(!log.contains("cannot read"), "{log}");
}

/// 301 messages through one SIM: references 0..=255 then 0..=44 again. Reports come back
/// shuffled, hours late for the emulator's purposes (after the sending finished); each finds
/// its own part by reference and recipient.
#[test]
fn references_wrap_and_shuffled_reports_each_find_their_part() {
    let w = World::start(1, |c| c, "command_gap_ms = 1\nmax_per_hour = 1000\n");
    ops_group(&w, 300);
    let out = w.ok(&["send", "--group", "ops", "--as", "alice", "--wait", "x"]);
    assert!(out.contains("301 sent"), "{out}");
    let mut parts = w.sent_parts();
    assert_eq!(parts.len(), 301);
    let mrs: std::collections::HashSet<u8> = parts.iter().map(|p| p.mr).collect();
    assert_eq!(mrs.len(), 256, "references wrapped");
    parts.shuffle(&mut rand::rngs::StdRng::seed_from_u64(11));
    w.block_on(async {
        for p in &parts {
            w.emulator()
                .deliver_status_report_to(0, p.mr, &p.to, 0)
                .await
                .unwrap();
        }
    });
    let shown = w.wait_show(1, "every delivery delivered", |s| {
        count(s, "delivered") == 301
    });
    assert_eq!(shown["delivered"], 301);
    let status = w.json(&["status"]);
    assert_eq!(status["unmatched_reports"], 0, "{status:#}");
}

#[test]
fn waiting_for_reports_that_never_come_stops_at_the_timeout() {
    let w = World::start(1, |c| c, "");
    ops_group(&w, 1);
    let started = std::time::Instant::now();
    let out = w.ok(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--wait-delivered",
        "--timeout",
        "1",
        "x",
    ]);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert!(
        out.contains("reports: 0 delivered, 0 undelivered, 2 without a report"),
        "{out}"
    );
}

#[test]
fn a_report_after_a_restart_matches_and_one_for_another_recipient_does_not() {
    let mut w = World::start(1, |c| c, "");
    let numbers = ops_group(&w, 2);
    w.ok(&["send", "--group", "ops", "--as", "alice", "--wait", "x"]);
    let parts = w.sent_parts();
    let mr_of = |n: &str| parts.iter().find(|p| p.to == n).unwrap().mr;
    w.stop_daemon();
    w.start_daemon();
    w.wait_modems("modem ready again", |m| m[0]["state"] == "ready");
    // After the restart: the report for the first number still finds its part.
    w.block_on(async {
        w.emulator()
            .deliver_status_report_to(0, mr_of(&numbers[0]), &numbers[0], 0)
            .await
            .unwrap();
    });
    w.wait_show(1, "the first delivery delivered", |s| {
        count(s, "delivered") == 1
    });
    // The second number's reference, but a recipient nobody was sent to: never applied.
    w.block_on(async {
        w.emulator()
            .deliver_status_report_to(0, mr_of(&numbers[1]), "+8613711112222", 0)
            .await
            .unwrap();
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        let status = w.json(&["status"]);
        if status["unmatched_reports"] == 1 {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "{status:#}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let recent = &status["recent_unmatched_reports"][0];
    assert_eq!(recent["recipient"], "+8613711112222");
    assert_eq!(
        recent["reason"],
        format!(
            "the reference was last used for {}, not for this recipient",
            numbers[1]
        )
    );
    let shown = w.show(1);
    assert_eq!(
        (count(&shown, "delivered"), count(&shown, "sent")),
        (1, 2),
        "{shown:#}"
    );
}

/// One status report from the emulated network for `part` (TP-ST `status`).
fn report(w: &World, part: &groupsms::emulator::log::LogRecord, status: u8) {
    w.block_on(async {
        w.emulator()
            .deliver_status_report_to(part.modem, part.mr, &part.to, status)
            .await
            .unwrap();
    });
}

/// `subscribe {"broadcast": N, "reports": true}` goes on after the sending: a subscriber that
/// comes when every delivery is `sent` gets the counts (with a report that came before it),
/// then one event per report as the network sends it, and ends once none is awaited. A plain
/// subscriber still ends with the sending.
#[test]
fn a_reports_subscriber_sees_each_report_after_the_sending_and_ends_when_none_is_awaited() {
    let w = World::start(1, |c| c, "");
    ops_group(&w, 2);
    let id = w.send("ops", "alice", "今晚停机维护");
    let sent = w.follow(id, |_| false);
    assert_eq!(
        (&sent["finished"], &sent["sent"], &sent["delivered"]),
        (&Value::from(true), &Value::from(3), &Value::from(0)),
        "{sent:#}"
    );
    let mut parts = w.sent_parts();
    assert_eq!(parts.len(), 3);
    // One report before the subscription: in its first counts, never as an event.
    report(&w, &parts.remove(0), 0);
    w.wait_show(id, "the first report applied", |s| s["delivered"] == 1);
    // The rest one at a time, each as soon as the subscriber has seen the event before it:
    // nothing is reported before the subscriber is there, so nothing can slip by unseen.
    let mut statuses = vec![0x41, 0x00];
    let expected = [
        (parts[1].to.clone(), "delivered"),
        (parts[0].to.clone(), "undelivered"),
    ];
    let (result, seen) = w.follow_events_with(id, true, |_| {
        if let (Some(part), Some(status)) = (parts.pop(), statuses.pop()) {
            report(&w, &part, status);
        }
        false
    });
    let events: Vec<&Value> = seen.iter().map(|s| &s.event).collect();
    assert_eq!(events.len(), 3, "{events:#?}");
    let first = &events[0];
    assert!(first.get("delivery").is_none(), "{first:#}");
    assert_eq!(
        (&first["totals"]["delivered"], &first["totals"]["finished"]),
        (&Value::from(1), &Value::from(true)),
        "{first:#}"
    );
    let changes: Vec<(String, &str)> = events[1..]
        .iter()
        .map(|e| {
            (
                e["delivery"]["number"].as_str().unwrap().to_string(),
                e["delivery"]["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(changes, expected);
    assert_eq!(
        events[2]["delivery"]["error"],
        "incompatible destination (TP-ST 0x41)"
    );
    assert_eq!(
        (
            &result["sent"],
            &result["delivered"],
            &result["undelivered"],
            &result["finished"]
        ),
        (
            &Value::from(3),
            &Value::from(2),
            &Value::from(1),
            &Value::from(true)
        ),
        "{result:#}"
    );
    // Every report in: a new reports subscriber gets the counts and the end at once.
    let (again, seen) = w.follow_events_with(id, true, |_| false);
    assert_eq!(seen.len(), 1);
    assert_eq!(again, result);
}

/// With the emulator's report delay, a reports subscriber that starts as the broadcast is
/// accepted follows it through the sending and the reports to the end, every delivery
/// `delivered` once (whenever each report comes, before or after the last send).
#[test]
fn a_reports_subscriber_follows_the_sending_then_the_delayed_reports() {
    let w = World::start(
        2,
        |mut c| {
            for m in &mut c.modems {
                m.knobs.report_delay = Some(std::time::Duration::from_millis(800));
            }
            c
        },
        "",
    );
    w.wait_modems("both modems ready", |m| {
        m.iter().filter(|m| m["state"] == "ready").count() == 2
    });
    ops_group(&w, 4);
    let id = w.send("ops", "alice", "今晚停机维护");
    let (result, seen) = w.follow_events_with(id, true, |_| false);
    assert_eq!(
        (&result["finished"], &result["delivered"], &result["sent"]),
        (&Value::from(true), &Value::from(5), &Value::from(5)),
        "{result:#}"
    );
    let mut delivered: Vec<i64> = seen
        .iter()
        .filter(|s| s.event["delivery"]["state"] == "delivered")
        .map(|s| s.event["delivery"]["id"].as_i64().unwrap())
        .collect();
    // Each delivery's report once, unless it was already in the first counts.
    let already = seen[0].event["totals"]["delivered"].as_u64().unwrap() as usize;
    delivered.sort_unstable();
    delivered.dedup();
    assert_eq!(delivered.len() + already, 5, "{seen:#?}");
    // The last event is the last report, and the stream said so by ending there.
    let last = &seen.last().unwrap().event;
    assert_eq!(last["totals"]["delivered"], 5, "{last:#}");
}

/// A daemon that asks for no reports (`delivery_reports = false`) ends a reports subscription
/// with the sending, as a plain one; a subscription may not ask for both a broadcast's reports
/// and the inbox.
#[test]
fn without_reports_asked_for_the_reports_subscription_ends_with_the_sending() {
    let mut w = World::prepare(1, |c| c, "", "");
    let config = std::fs::read_to_string(w.config()).unwrap();
    std::fs::write(
        w.config(),
        config.replacen("[message]\n", "[message]\ndelivery_reports = false\n", 1),
    )
    .unwrap();
    w.start_daemon();
    ops_group(&w, 1);
    let id = w.send("ops", "alice", "x");
    let (result, _) = w.follow_events_with(id, true, |_| false);
    assert_eq!(
        (&result["finished"], &result["sent"], &result["delivered"]),
        (&Value::from(true), &Value::from(2), &Value::from(0)),
        "{result:#}"
    );

    use std::io::{BufRead, BufReader, Write};
    let mut s = std::os::unix::net::UnixStream::connect(w.socket()).unwrap();
    s.write_all(
        b"{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}\n\
          {\"id\":2,\"op\":\"subscribe\",\"args\":{\"inbox\":true,\"reports\":true}}\n",
    )
    .unwrap();
    let mut lines = BufReader::new(s).lines();
    lines.next().unwrap().unwrap();
    let refused: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(refused["error"]["code"], "bad_request", "{refused}");
}

/// A reports subscriber whose reports never come and who closes the connection is let go at
/// once: with one connection allowed per user, the user gets in again (were the daemon still
/// waiting on the reports for the closed connection, it would count it open for ever).
#[test]
fn a_reports_subscriber_that_closes_the_connection_is_let_go() {
    const NOBODY: u32 = 65534;
    // SAFETY: a plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root (connects as another user)");
        return;
    }
    let mut w = World::prepare(1, |c| c, "max_connections_per_uid = 1", "");
    w.start_daemon();
    ops_group(&w, 1);
    w.ok(&["member", "set", "m1", "--uid", &NOBODY.to_string()]);
    common::daemon::open_to_others(&w);
    w.ok(&["send", "--group", "ops", "--as", "alice", "--wait", "x"]);
    // No report will come (the emulator sends none by itself here).
    let subscriber = common::daemon::connect_as(NOBODY, &w.socket(), 1, |s| {
        use std::io::{BufRead, BufReader, Write};
        s.write_all(
            b"{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}\n\
              {\"id\":2,\"op\":\"subscribe\",\"args\":{\"broadcast\":1,\"reports\":true}}\n",
        )
        .unwrap();
        let mut lines = BufReader::new(s).lines();
        let hello = lines.next().unwrap().unwrap();
        assert!(hello.contains("\"ok\":true"), "{hello}");
        // The counts: sent, no report yet; from here the daemon waits for reports.
        let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(first["event"]["totals"]["sent"], 2, "{first}");
        assert_eq!(first["event"]["totals"]["delivered"], 0, "{first}");
        assert_eq!(first["event"]["totals"]["finished"], true, "{first}");
    });
    // While it is open, the user's one connection is taken.
    let out = w.cli_as(NOBODY, NOBODY, &["status"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already has 1 connections open"),
        "{out:?}"
    );
    drop(subscriber);
    let mut tries = 0;
    loop {
        let out = w.cli_as(NOBODY, NOBODY, &["status"]);
        if out.status.success() {
            break;
        }
        tries += 1;
        assert!(
            tries < 200,
            "the closed subscriber still counts: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
