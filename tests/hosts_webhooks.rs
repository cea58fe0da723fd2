//! Webhooks with two daemons ("hosts") on one PostgreSQL database, both configured with the
//! same endpoint: a broadcast sent by both hosts' modems makes events that both senders see
//! due, and the receiver (tests/common/webhook_receiver.py, checking our signature with
//! Python's `hmac`) gets each event id exactly once. Needs the cluster `GROUPSMS_TEST_POSTGRES`
//! names (`.ci/run` starts one and makes its absence a failure; absent locally: skipped).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::{ops_group, World};
use common::pg::Scratch;
use serde_json::Value;

/// The receiver process, killed when dropped.
struct Receiver(Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a JSON receiver writing to `dir`; its port.
fn receiver(dir: &std::path::Path) -> (Receiver, u16) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/common/webhook_receiver.py");
    let child = Command::new("python3")
        .arg(script)
        .args(["json", "whsec_hosts"])
        .arg(dir.join("out.jsonl"))
        .arg(dir.join("port"))
        .arg(dir.join("down"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let r = Receiver(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(p) = std::fs::read_to_string(dir.join("port")) {
            return (r, p.trim().parse().unwrap());
        }
        assert!(Instant::now() < deadline, "the receiver never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A daemon named `host` with `modems` emulated modems and the webhook at `port`, on the
/// database at `url` (the first one owns the scratch database, `pg`).
fn host_on(url: &str, pg: Option<Scratch>, host: &str, modems: usize, port: u16) -> World {
    let keys = format!("host = \"{host}\"\nlease_secs = 2");
    let hook = format!(
        "[[webhook]]\nurl = \"http://127.0.0.1:{port}/hook\"\nname = \"ops-hook\"\n\
         events = [\"delivery\", \"broadcast_finished\", \"modem\"]\nsecret = \"whsec_hosts\"\n"
    );
    let mut w = World::prepare_on(pg, modems, |c| c, &keys, &hook);
    let config = std::fs::read_to_string(w.config()).unwrap();
    let mine = format!("database = \"{}/groupsms.db\"", w.dir.path().display());
    std::fs::write(
        w.config(),
        config.replace(&mine, &format!("database = \"{url}\"")),
    )
    .unwrap();
    w.start_daemon();
    w
}

#[test]
fn each_event_reaches_the_endpoint_once_whichever_host_sends_it() {
    let Some(pg) = Scratch::new() else { return };
    let url = pg.url.clone();
    let out = tempfile::tempdir().unwrap();
    let (_receiver, port) = receiver(out.path());
    let a = host_on(&url, Some(pg), "site-a", 2, port);
    let b = host_on(&url, None, "site-b", 2, port);
    let numbers = ops_group(&a, 40);
    let id = a.send("ops", "alice", "今晚22点停机维护");
    let done = a.wait_show(id, "every delivery sent", |s| {
        s["finished"] == true && s["sent"].as_u64() == Some(numbers.len() as u64)
    });
    // Both hosts' modems took part, so both senders had events of their own to post.
    let modems: Vec<&str> = done["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["modem"].as_str())
        .collect();
    for w in [&a, &b] {
        let mine = w.dir.path().join("dev").display().to_string();
        assert!(
            modems.iter().any(|m| m.starts_with(&mine)),
            "no delivery sent by {mine}: {done:#}"
        );
    }

    // Every event the database holds for the endpoint delivered, each posted once.
    let records = || -> Vec<Value> {
        std::fs::read_to_string(out.path().join("out.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let mut store = a.open_store();
    let deadline = Instant::now() + Duration::from_secs(90);
    let got = loop {
        let rows = a.count_rows("webhook_deliveries");
        let backlog = store.read(|tx| tx.webhook_backlog("ops-hook")).unwrap();
        let got = records();
        if rows > 0 && backlog.pending == 0 && backlog.dead == 0 && got.len() as i64 >= rows {
            break got;
        }
        assert!(
            Instant::now() < deadline,
            "{backlog:?} of {rows} events, {} requests\n--- site-a ---\n{}\n--- site-b ---\n{}",
            got.len(),
            a.daemon_log(),
            b.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut posts: BTreeMap<i64, usize> = BTreeMap::new();
    for r in &got {
        assert_eq!(r["verified"], true, "{r}");
        *posts.entry(r["body"]["id"].as_i64().unwrap()).or_default() += 1;
    }
    let twice: Vec<_> = posts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "posted more than once (id, posts): {twice:?}"
    );
    assert_eq!(
        posts.len() as i64,
        a.count_rows("webhook_events"),
        "every event posted"
    );
    let finished = got
        .iter()
        .filter(|r| r["body"]["type"] == "broadcast_finished")
        .count();
    assert_eq!(finished, 1);
}
