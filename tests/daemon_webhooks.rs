//! Webhooks end to end: the real binary as daemon and CLI on emulated modems, real local HTTP
//! receivers (tests/common/webhook_receiver.py) that check each request's signature with
//! Python's `hmac` (and, for one request, `openssl dgst`), never with our code: our signed JSON
//! events, and fake DingTalk, Feishu and WeCom group robots checking their own schemes.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::daemon::{ops_group, World};
use common::http::{token, Http, HTTP_ON};
use groupsms::emulator::AutoReply;
use serde_json::Value;

/// One receiver process and its files.
struct Receiver {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    mode: &'static str,
    secret: String,
}

impl Receiver {
    /// Starts a receiver in `mode` checking `secret`; `down`: answering 503 from the start.
    fn start(mode: &'static str, secret: &str, down: bool) -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        if down {
            std::fs::write(dir.path().join("down"), "").unwrap();
        }
        let mut r = Receiver {
            child: spawn(mode, secret, dir.path(), None),
            dir,
            port: 0,
            mode,
            secret: secret.to_string(),
        };
        r.port = r.wait_port();
        r
    }

    fn wait_port(&mut self) -> u16 {
        let file = self.dir.path().join("port");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(p) = std::fs::read_to_string(&file) {
                return p.trim().parse().unwrap();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the {} receiver exited: {status}", self.mode);
            }
            assert!(
                Instant::now() < deadline,
                "the {} receiver never listened",
                self.mode
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self, query: &str) -> String {
        format!("http://127.0.0.1:{}/hook{query}", self.port)
    }

    fn set_down(&self, down: bool) {
        let flag = self.dir.path().join("down");
        if down {
            std::fs::write(flag, "").unwrap();
        } else {
            std::fs::remove_file(flag).unwrap();
        }
    }

    /// Every request received so far.
    fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("out.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The requests it accepted (signature checked), their bodies.
    fn accepted(&self) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["verified"] == true)
            .map(|r| r["body"].clone())
            .collect()
    }

    /// Waits until `done` holds of the accepted bodies (bounded).
    fn wait(&self, w: &World, what: &str, mut done: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let got = self.accepted();
            if done(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} at the {} receiver: {:#?}\n--- daemon log ---\n{}",
                self.mode,
                self.records(),
                w.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(mode: &str, secret: &str, dir: &Path, port: Option<u16>) -> Child {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/common/webhook_receiver.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg(mode)
        .arg(secret)
        .arg(dir.join("out.jsonl"))
        .arg(dir.join("port"))
        .arg(dir.join("down"))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if let Some(p) = port {
        cmd.arg(p.to_string());
    }
    cmd.spawn().expect("python3 runs")
}

fn reply_to(pattern: &str, text: &str, ms: u64) -> AutoReply {
    AutoReply {
        pattern: pattern.into(),
        text: text.into(),
        delay: Duration::from_millis(ms),
    }
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// `status --json`'s webhooks.
fn hooks(w: &World) -> Vec<Value> {
    w.json(&["status"])["webhooks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn wait_status(w: &World, what: &str, mut done: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let h = hooks(w);
        if done(&h) {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {h:#?}\n--- daemon log ---\n{}",
            w.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn signed_events_arrive_for_replies_deliveries_a_finished_broadcast_and_modems() {
    let r = Receiver::start("json", "whsec_test", false);
    let w = World::start(
        1,
        |mut c| {
            c.modems[0].knobs.report_delay = Some(Duration::from_millis(200));
            c.modems[0].knobs.replies = vec![reply_to("+86139*", "收到", 300)];
            c
        },
        &format!(
            "[[webhook]]\nurl = \"{}\"\nname = \"ops-hook\"\n\
             events = [\"inbound\", \"delivery\", \"broadcast_finished\", \"modem\"]\n\
             secret = \"whsec_test\"\n",
            r.url("")
        ),
    );
    ops_group(&w, 2);
    w.ok(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--wait",
        "明天开会",
    ]);
    let got = r.wait(&w, "every event", |e| {
        of_type(e, "inbound").len() >= 2
            && of_type(e, "broadcast_finished").len() == 1
            && of_type(e, "delivery")
                .iter()
                .filter(|d| d["data"]["state"] == "delivered")
                .map(|d| d["data"]["delivery"].as_i64())
                .collect::<HashSet<_>>()
                .len()
                == 3
            && of_type(e, "modem")
                .iter()
                .any(|m| m["data"]["change"] == "joined")
    });
    // Every request the receiver saw carried a good signature and the JSON type.
    let records = r.records();
    assert!(
        records
            .iter()
            .all(|x| x["verified"] == true && x["content_type"] == "application/json"),
        "{records:#?}"
    );
    for e in &got {
        assert!(e["id"].as_i64().is_some(), "{e:#}");
        assert!(e["data"].is_object(), "{e:#}");
        let created = e["created_at"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(created).is_ok() && created.ends_with('Z'),
            "{e:#}"
        );
    }
    let finished = of_type(&got, "broadcast_finished")[0]["data"].clone();
    assert_eq!(finished["broadcast"], 1, "{finished:#}");
    assert_eq!(finished["group"], "ops");
    assert_eq!(finished["sender"], "alice");
    assert_eq!(finished["recipients"], 3);
    let states = finished["states"].as_object().unwrap();
    let total: i64 = states.values().map(|v| v.as_i64().unwrap()).sum();
    assert_eq!(total, 3, "{finished:#}");
    assert!(
        states.keys().all(|k| k == "sent" || k == "delivered"),
        "{finished:#}"
    );
    for reply in of_type(&got, "inbound") {
        let d = &reply["data"];
        assert_eq!(d["handling"], "reply", "{d:#}");
        assert_eq!(d["broadcast"], 1);
        assert_eq!(d["group"], "ops");
        assert_eq!(d["text"], "收到");
        assert!(
            ["m1", "m2"].contains(&d["member"].as_str().unwrap()),
            "{d:#}"
        );
    }
    let delivered = of_type(&got, "delivery")
        .into_iter()
        .find(|d| d["data"]["state"] == "delivered")
        .unwrap();
    assert_eq!(delivered["data"]["broadcast"], 1);
    assert!(delivered["data"]["number"]
        .as_str()
        .unwrap()
        .starts_with("+86"));
    // A second oracle for one request: openssl's HMAC of "<t>.<body>" is the header's v1.
    let one = &records[0];
    let raw = base64::engine::general_purpose::STANDARD
        .decode(one["raw_b64"].as_str().unwrap())
        .unwrap();
    let header = one["signature"].as_str().unwrap();
    let (t, v1) = header.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(&raw);
    let mut openssl = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", "whsec_test"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    std::io::Write::write_all(openssl.stdin.as_mut().unwrap(), &signed).unwrap();
    let out = openssl.wait_with_output().unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(out.trim().ends_with(&format!("= {v1}")), "{out} vs {v1}");
    // Nothing left: status says so, by the name given.
    let h = wait_status(&w, "an empty backlog", |h| {
        h.len() == 1 && h[0]["pending"] == 0
    });
    assert_eq!(h[0]["endpoint"], "ops-hook");
    assert_eq!(h[0]["dead"], 0);
    // The secret is never in the log.
    assert!(!w.daemon_log().contains("whsec_test"));
}

#[test]
fn a_receiver_down_leaves_a_backlog_in_status_then_gets_the_same_events_even_after_a_restart() {
    let r = Receiver::start("json", "s3cret", true);
    let mut w = World::start(
        1,
        |c| c,
        &format!(
            "[[webhook]]\nurl = \"{}\"\nevents = [\"broadcast_finished\", \"delivery\"]\n\
             secret = \"s3cret\"\n{HTTP_ON}",
            r.url("?from=groupsms")
        ),
    );
    ops_group(&w, 1);
    w.ok(&["send", "--group", "ops", "--as", "alice", "--wait", "first"]);
    let http = Http::new(&w);
    let admin = token(&w, &["--admin"]);
    // Down: the events wait, status shows them and why.
    let h = wait_status(&w, "a backlog with the receiver's 503", |h| {
        h.len() == 1
            && h[0]["pending"].as_u64() == Some(3)
            && h[0]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("503") && e.contains("receiver down"))
    });
    assert!(h[0]["oldest_pending_secs"].as_u64().is_some(), "{h:#?}");
    // The endpoint is shown without its query.
    assert_eq!(
        h[0]["endpoint"],
        format!("http://127.0.0.1:{}/hook", r.port)
    );
    let shown = w.ok(&["status"]);
    assert!(shown.contains("receiver down"), "{shown}");
    // /metrics shows the same backlog.
    let metrics = http
        .get("/metrics", Some(&admin))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let pending = format!(
        "groupsms_webhook_pending{{endpoint=\"http://127.0.0.1:{}/hook\",format=\"json\"}} 3",
        r.port
    );
    assert!(metrics.contains(&pending), "{pending} not in:\n{metrics}");
    let refused: BTreeSet<i64> = r
        .records()
        .iter()
        .filter(|x| x["down"] == true)
        .map(|x| x["body"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(refused.len(), 3, "{:#?}", r.records());
    // Up: the same events (same ids) arrive at the next try.
    r.set_down(false);
    r.wait(&w, "the refused events", |e| {
        let ids: BTreeSet<i64> = e.iter().filter_map(|x| x["id"].as_i64()).collect();
        refused.is_subset(&ids)
    });
    wait_status(&w, "no backlog", |h| h[0]["pending"] == 0);
    let metrics = http
        .get("/metrics", Some(&admin))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(&pending.replace("} 3", "} 0")),
        "no backlog in:\n{metrics}"
    );

    // Down again, a second broadcast, the daemon stopped with its events pending.
    r.set_down(true);
    w.ok(&[
        "send", "--group", "ops", "--as", "alice", "--wait", "second",
    ]);
    wait_status(&w, "the second backlog", |h| {
        h[0]["pending"].as_u64() == Some(3)
    });
    w.stop_daemon();
    let pending: BTreeSet<i64> = r
        .records()
        .iter()
        .filter(|x| x["down"] == true)
        .map(|x| x["body"]["id"].as_i64().unwrap())
        .filter(|id| !refused.contains(id))
        .collect();
    assert_eq!(pending.len(), 3, "{:#?}", r.records());
    r.set_down(false);
    w.start_daemon();
    let got = r.wait(&w, "the events left by the stopped daemon", |e| {
        let ids: BTreeSet<i64> = e.iter().filter_map(|x| x["id"].as_i64()).collect();
        pending.is_subset(&ids)
    });
    let finished: Vec<&Value> = of_type(&got, "broadcast_finished");
    let broadcasts: BTreeSet<i64> = finished
        .iter()
        .map(|f| f["data"]["broadcast"].as_i64().unwrap())
        .collect();
    assert_eq!(broadcasts, BTreeSet::from([1, 2]), "{got:#?}");
    wait_status(&w, "no backlog after the restart", |h| {
        h[0]["pending"] == 0 && h[0]["dead"] == 0
    });
}

#[test]
fn dingtalk_feishu_and_wecom_robots_get_short_texts_signed_their_way() {
    let ding = Receiver::start("dingtalk", "SECding-secret", false);
    let feishu = Receiver::start("feishu", "feishu-secret", false);
    let wecom = Receiver::start("wecom", "wecom-key", false);
    // A robot whose secret we got wrong: it refuses (HTTP 200 with its error code).
    let wrong = Receiver::start("dingtalk", "SECthe-right-one", false);
    let events = "events = [\"broadcast_finished\", \"inbound\", \"modem\"]";
    let w = World::start(
        1,
        |mut c| {
            c.modems[0].knobs.replies = vec![reply_to("+86139*", "TD", 300)];
            c
        },
        &format!(
            "[[webhook]]\nurl = \"{}\"\nformat = \"dingtalk\"\n{events}\nsecret = \"SECding-secret\"\n\
             [[webhook]]\nurl = \"{}\"\nformat = \"feishu\"\n{events}\nsecret = \"feishu-secret\"\n\
             [[webhook]]\nurl = \"{}\"\nformat = \"wecom\"\n{events}\n\
             [[webhook]]\nname = \"wrong\"\nurl = \"{}\"\nformat = \"dingtalk\"\n{events}\nsecret = \"SECnot-it\"\n",
            ding.url("?access_token=test-token"),
            feishu.url(""),
            wecom.url("?key=wecom-key"),
            wrong.url("?access_token=test-token"),
        ),
    );
    ops_group(&w, 1);
    w.ok(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--wait",
        "明天开会",
    ]);
    let text = |mode: &str, body: &Value| -> String {
        match mode {
            "dingtalk" => body["markdown"]["text"].as_str().unwrap_or("").to_string(),
            "wecom" => body["markdown"]["content"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            _ => body["content"]["text"].as_str().unwrap_or("").to_string(),
        }
    };
    for robot in [&ding, &feishu, &wecom] {
        let mode = robot.mode;
        let got = robot.wait(&w, "a finished broadcast, an opt-out, a modem", |bodies| {
            let texts: Vec<String> = bodies.iter().map(|b| text(mode, b)).collect();
            texts
                .iter()
                .any(|t| t.contains("Broadcast 1 to group ops finished: 2 recipients"))
                && texts
                    .iter()
                    .any(|t| t.contains("m1 (+8613900000001) opted out") && t.contains(": TD"))
                && texts.iter().any(|t| t.contains("joined the pool"))
        });
        let shape_ok = |b: &Value| match mode {
            "dingtalk" => b["msgtype"] == "markdown" && b["markdown"]["title"].is_string(),
            "wecom" => b["msgtype"] == "markdown",
            _ => b["msg_type"] == "text" && b["sign"].is_string(),
        };
        assert!(got.iter().all(shape_ok), "{mode}: {got:#?}");
        assert!(
            robot.records().iter().all(|x| x["verified"] == true),
            "{mode}: {:#?}",
            robot.records()
        );
        assert!(!robot.secret.is_empty());
    }
    // The robot with the wrong secret refused every message: status shows it waiting, why.
    let h = wait_status(&w, "the refused robot's backlog", |h| {
        h.iter().any(|e| {
            e["endpoint"] == "wrong"
                && e["pending"].as_u64().unwrap_or(0) > 0
                && e["last_error"]
                    .as_str()
                    .is_some_and(|m| m.contains("sign not match"))
        })
    });
    assert!(
        wrong.records().iter().all(|x| x["verified"] == false),
        "{h:#?}"
    );
    // The robots' URLs carry their tokens: neither status nor the log shows them.
    let shown = w.ok(&["status"]);
    let log = w.daemon_log();
    for secret in [
        "test-token",
        "wecom-key",
        "SECding-secret",
        "feishu-secret",
        "SECnot-it",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

#[test]
fn a_quarantined_sim_and_its_release_are_modem_events() {
    let r = Receiver::start("json", "q-secret", false);
    let w = World::start(
        2,
        |c| {
            c.modem(0, |m| {
                m.knobs.cap = Some(0);
                m.knobs.cap_error = 8;
            })
        },
        &format!(
            "[[webhook]]\nurl = \"{}\"\nevents = [\"modem\"]\nsecret = \"q-secret\"\n",
            r.url("")
        ),
    );
    let barred = format!("{}/dev/modem0", w.dir.path().display());
    w.wait_modems("both modems ready", |m| {
        m.len() == 2 && m.iter().all(|m| m["state"] == "ready")
    });
    ops_group(&w, 3);
    let id = w.send("ops", "alice", "今晚八点停电检修");
    w.follow(id, |_| false);
    let got = r.wait(&w, "the quarantine", |e| {
        e.iter().any(|x| x["data"]["change"] == "quarantined")
    });
    let q = &got
        .iter()
        .find(|x| x["data"]["change"] == "quarantined")
        .unwrap()["data"];
    assert_eq!(q["device"], barred.as_str(), "{q:#}");
    assert!(
        q["reason"]
            .as_str()
            .unwrap()
            .starts_with("+CMS ERROR: 8 (Operator determined barring)"),
        "{q:#}"
    );
    let sim = q["sim"].as_str().unwrap().to_string();
    assert!(sim.starts_with("460"), "{q:#}");
    assert!(q["until"].is_string() && q["since"].is_string(), "{q:#}");
    // Two modems joined at the start, each once.
    let joined: BTreeSet<String> = of_type(&got, "modem")
        .iter()
        .filter(|x| x["data"]["change"] == "joined")
        .map(|x| x["data"]["device"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(joined.len(), 2, "{got:#?}");
    w.ok(&["modem", "release", &barred]);
    let got = r.wait(&w, "the release", |e| {
        e.iter().any(|x| x["data"]["change"] == "released")
    });
    let released = &got
        .iter()
        .find(|x| x["data"]["change"] == "released")
        .unwrap()["data"];
    assert_eq!(released["sim"], sim.as_str(), "{released:#}");
    assert!(released["by"].is_string(), "{released:#}");
    assert!(r.records().iter().all(|x| x["verified"] == true));
}
