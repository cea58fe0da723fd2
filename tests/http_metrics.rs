//! `GET /metrics` end to end: the real daemon on emulated modems, a real TCP port, a real
//! HTTP client (reqwest, tests/common/http.rs), after a broadcast whose outcome the test knows. The values are
//! checked against what happened (and against `modem list` and `broadcast show`, which read
//! the same state); the body is checked by `promtool check metrics` (Debian package
//! `prometheus`), an independent parser of the format; the alert rules the README shows are
//! checked by `promtool check rules` and their unit test by `promtool test rules`. Without
//! promtool those checks say so and pass, unless `GROUPSMS_REQUIRE_ORACLES=1`.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::{ops_group, World};
use common::http::{answer, token, Http, HTTP_ON};
use serde_json::Value;

/// The rules file the README shows.
fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/prometheus")
}

fn promtool_present() -> bool {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        common::absent("promtool (Debian package prometheus)");
    }
    found
}

/// Every sample line as `name{labels}` -> value (label order as written).
fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').expect("name and value");
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("a number in {l:?}")),
            };
            (key.to_string(), value)
        })
        .collect()
}

/// The value of `key`, which must be there.
fn at(s: &BTreeMap<String, f64>, key: &str) -> f64 {
    *s.get(key)
        .unwrap_or_else(|| panic!("no sample {key} in:\n{s:#?}"))
}

/// The labels of one modem, as written.
fn modem(m: &Value) -> String {
    format!(
        "device=\"{}\",imsi=\"{}\"",
        m["device"].as_str().unwrap(),
        m["imsi"].as_str().unwrap_or("")
    )
}

#[test]
fn a_scrape_after_a_broadcast_shows_what_happened_and_promtool_accepts_it() {
    let mut w = World::start(
        2,
        |c| {
            c.all(|m| {
                m.knobs.report_delay = Some(Duration::from_millis(200));
                m.knobs.rssi = 20;
            })
            // modem1 refuses every send, transiently (41: temporary failure, no sign of a
            // block): its tries are errors of class `transient`, their jobs go to modem0.
            .modem(1, |m| {
                m.knobs.error_rate = 1.0;
                m.knobs.error_codes = vec![41];
            })
        },
        &format!("max_per_hour = 50\n{HTTP_ON}"),
    );
    let started = Instant::now();
    w.wait_modems("both modems ready", |m| {
        m.iter().filter(|m| m["state"] == "ready").count() == 2
    });
    ops_group(&w, 5);
    w.ok(&["member", "opt-out", "m5", "ops"]);
    let run = w.cli(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--wait-delivered",
        "--timeout",
        "60",
        "今晚停机维护",
    ]);
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{out}\n{}", w.daemon_log());
    assert!(out.contains("reports: 5 delivered"), "{out}");
    // A stranger's message: one inbound message handled `other`.
    w.block_on(async {
        w.emulator()
            .deliver_sms(0, "+8613911112222", "hello")
            .await
            .unwrap();
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.json(&["inbox", "list"])["messages"]
        .as_array()
        .is_none_or(|m| m.is_empty())
    {
        assert!(Instant::now() < deadline, "{}", w.daemon_log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let shown = w.json(&["broadcast", "show", "1"]);
    let deliveries = shown["deliveries"].as_array().unwrap();
    let tries: u64 = deliveries
        .iter()
        .map(|d| d["attempts"].as_u64().unwrap())
        .sum();
    // Both modems were idle when the jobs came: modem1 took some, and refused them.
    assert!(tries > 5, "{shown:#}");
    let modems = w.modems();

    let http = Http::new(&w);
    // IMSIs are for administrators: no token, or a member's, gets no metrics.
    let (status, refused) = answer(http.get("/metrics", None).send().unwrap());
    assert_eq!(
        (status, &refused["error"]["code"]),
        (401, &Value::from("unauthorized"))
    );
    let alice = token(&w, &["--member", "alice"]);
    let (status, refused) = answer(http.get("/metrics", Some(&alice)).send().unwrap());
    assert_eq!(
        (status, &refused["error"]["code"]),
        (403, &Value::from("permission_denied")),
        "{refused}"
    );
    let admin = token(&w, &["--admin"]);
    let r = http.get("/metrics", Some(&admin)).send().unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(r.status().as_u16(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let body = r.text().unwrap();
    let s = samples(&body);

    assert_eq!(at(&s, "groupsms_up"), 1.0);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        at(&s, &format!("groupsms_build_info{{version=\"{version}\"}}")),
        1.0
    );
    assert!(at(&s, "groupsms_uptime_seconds") <= elapsed + 1.0);

    // Per modem: the labels and values `modem list` shows.
    assert_eq!(modems.len(), 2, "{modems:#?}");
    let mut sent = 0.0;
    for m in &modems {
        let l = modem(m);
        assert!(m["imsi"].as_str().is_some_and(|i| !i.is_empty()), "{m:#}");
        assert_eq!(at(&s, &format!("groupsms_modem_up{{{l}}}")), 1.0, "{l}");
        assert_eq!(
            at(&s, &format!("groupsms_modem_state{{{l},state=\"ready\"}}")),
            1.0
        );
        assert_eq!(at(&s, &format!("groupsms_modem_registered{{{l}}}")), 1.0);
        // rssi 20: -113 + 2 × 20 dBm.
        assert_eq!(m["signal_dbm"], -73, "{m:#}");
        assert_eq!(at(&s, &format!("groupsms_modem_signal_dbm{{{l}}}")), -73.0);
        let hour = m["sent_this_hour"].as_f64().unwrap();
        assert_eq!(
            at(
                &s,
                &format!("groupsms_modem_parts_sent{{{l},window=\"hour\"}}")
            ),
            hour
        );
        assert_eq!(
            at(
                &s,
                &format!("groupsms_modem_parts_left{{{l},window=\"hour\"}}")
            ),
            50.0 - hour
        );
        assert_eq!(
            at(
                &s,
                &format!("groupsms_modem_parts_sent{{{l},window=\"day\"}}")
            ),
            m["sent_today"].as_f64().unwrap()
        );
        let messages = |outcome: &str| {
            at(
                &s,
                &format!("groupsms_modem_messages_total{{{l},outcome=\"{outcome}\"}}"),
            )
        };
        assert_eq!(messages("sent"), m["sent"].as_f64().unwrap());
        assert_eq!(messages("failed"), m["failed"].as_f64().unwrap());
        sent += messages("sent");
        let errors = |class: &str| {
            at(
                &s,
                &format!("groupsms_modem_errors_total{{{l},class=\"{class}\"}}"),
            )
        };
        for class in ["recipient", "sim", "not_sent", "ambiguous"] {
            assert_eq!(errors(class), 0.0, "{l} {class}");
        }
        if m["device"].as_str().unwrap().ends_with("modem1") {
            // Every try beyond the one that sent each delivery failed here.
            assert_eq!(errors("transient"), (tries - 5) as f64, "{shown:#}");
            assert_eq!(messages("failed"), errors("transient"));
            assert_eq!(messages("sent"), 0.0);
        } else {
            assert_eq!(errors("transient"), 0.0);
            assert_eq!(hour, 5.0, "one part to each of 5 recipients");
        }
    }
    assert_eq!(sent, 5.0);

    // The store's totals: every delivery delivered, nothing queued.
    for state in [
        "queued",
        "sending",
        "sent",
        "failed",
        "uncertain",
        "undelivered",
        "cancelled",
    ] {
        assert_eq!(
            at(&s, &format!("groupsms_deliveries{{state=\"{state}\"}}")),
            0.0,
            "{state}"
        );
    }
    assert_eq!(at(&s, "groupsms_deliveries{state=\"delivered\"}"), 5.0);
    assert_eq!(at(&s, "groupsms_queue_deliveries"), 0.0);
    assert_eq!(at(&s, "groupsms_queue_oldest_age_seconds"), 0.0);
    assert_eq!(at(&s, "groupsms_broadcasts_sending"), 0.0);
    assert_eq!(at(&s, "groupsms_inbound_messages{handling=\"other\"}"), 1.0);
    assert_eq!(at(&s, "groupsms_inbound_messages{handling=\"reply\"}"), 0.0);
    assert_eq!(at(&s, "groupsms_memberships_opted_out"), 1.0);
    assert_eq!(at(&s, "groupsms_status_reports_unmatched"), 0.0);
    assert_eq!(at(&s, "groupsms_store_problem"), 0.0);
    // One daemon serves the database: one host up, none stopped or lost.
    assert_eq!(at(&s, "groupsms_hosts{state=\"up\"}"), 1.0);
    assert_eq!(at(&s, "groupsms_hosts{state=\"stopped\"}"), 0.0);
    assert_eq!(at(&s, "groupsms_hosts{state=\"lost\"}"), 0.0);
    // Nothing leaves the process on SQLite; on PostgreSQL the broadcast took statements.
    let trips = at(&s, "groupsms_database_round_trips_total");
    if common::pg::this_run_is_postgres() {
        assert!(trips > 0.0, "{trips} round trips on PostgreSQL");
    } else {
        assert_eq!(trips, 0.0);
    }
    // The broadcast finished once, within the test's time.
    let h = "groupsms_broadcast_time_to_last_part_seconds";
    assert_eq!(at(&s, &format!("{h}_count")), 1.0);
    assert_eq!(at(&s, &format!("{h}_bucket{{le=\"+Inf\"}}")), 1.0);
    let took = at(&s, &format!("{h}_sum"));
    assert!(took > 0.0 && took < elapsed, "{took} s of {elapsed} s");
    assert_eq!(at(&s, &format!("{h}_bucket{{le=\"86400\"}}")), 1.0);

    // The rules name metrics the daemon serves.
    let rules = std::fs::read_to_string(rules_dir().join("groupsms-rules.yml")).unwrap();
    for expr in rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr: "))
    {
        let name = expr.split_whitespace().next().unwrap();
        assert!(
            body.contains(&format!("# TYPE {name} ")),
            "the rule {expr} names a metric /metrics does not serve"
        );
    }

    if promtool_present() {
        let mut check = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        check
            .stdin
            .take()
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        let checked = check.wait_with_output().unwrap();
        assert!(
            checked.status.success(),
            "promtool check metrics:\n{}{}\n--- body ---\n{body}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
    w.stop_daemon();
}

#[test]
fn the_alert_rules_pass_promtool_and_fire_when_they_should() {
    if !promtool_present() {
        return;
    }
    for args in [
        ["check", "rules", "groupsms-rules.yml"],
        ["test", "rules", "groupsms-rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(rules_dir())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
