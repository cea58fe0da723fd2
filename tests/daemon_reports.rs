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
    let out = w.ok(&[
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
    assert!(out.contains("6 sent"), "{out}");
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
