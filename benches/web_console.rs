//! The web console's page weight and first render for a 10 000-member group: the real
//! `groupsms daemon` on a database holding group `g` of `WEB_MEMBERS` (10 000) members and one
//! broadcast to all of them (waiting: no modem), its HTTP API on a local port, and headless
//! Chromium (`tests/web/console.py bench`, signed in with a management token) loading each
//! page twice with the browser cache off; the second load counts. Prints, per page: bytes
//! transferred (the page, its stylesheet and its script; the event stream left out), the
//! HTML's share, the server's time to the first byte, the first contentful paint and the load
//! event. Then the send preview's latency over the API for that group (recipients after the
//! filters counted over 10 000 members), median and worst of 20.
//!
//! `cargo bench --bench web_console` (needs `chromium`, `chromium-driver`, `python3-selenium`)

#[path = "support/mod.rs"]
mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use groupsms::service::{submit_broadcast, Caller, SendRequest, Settings};
use groupsms::store::Store;
use support::{config_text, env_list, make_group, Daemon};

const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/web/console.py");

fn main() {
    for bin in [
        "/usr/bin/chromium",
        "/usr/bin/chromedriver",
        "/usr/bin/python3",
    ] {
        if !Path::new(bin).exists() {
            println!("web_console: {bin} is absent; nothing measured");
            return;
        }
    }
    let members = env_list("WEB_MEMBERS", &[10_000])[0];
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    make_group(&db, members);
    {
        let mut store = Store::open(&db).unwrap();
        let req = SendRequest {
            caller: Caller::unix(0, &[]),
            group: "g".into(),
            as_member: "boss".into(),
            body: "明天上午九点在三楼会议室开会，请准时参加。".into(),
            now: Utc::now(),
            urgent: false,
        };
        submit_broadcast(&mut store, &Settings::default(), req).expect("accepted");
    }
    // A port the system gives, told to the daemon.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "{}\n[http]\nlisten = \"127.0.0.1:{port}\"\nrate_per_minute = 100000\nrate_burst = 10000\n",
        config_text(dir.path(), "")
    );
    let daemon = Daemon::start(dir.path(), &config);
    let conf = dir.path().join("groupsms.toml");
    let made = Command::new(env!("CARGO_BIN_EXE_groupsms"))
        .args([
            "--config",
            conf.to_str().unwrap(),
            "--json",
            "token",
            "create",
            "--admin",
        ])
        .output()
        .unwrap();
    let made: serde_json::Value = serde_json::from_slice(&made.stdout).expect("the token");
    let admin = made["secret"].as_str().unwrap().to_string();
    let base = format!("http://127.0.0.1:{port}");
    let middle = format!("m{}", members / 2);
    let pages = [
        "/console/".to_string(),
        "/console/send?group=g".into(),
        "/console/broadcasts".into(),
        "/console/broadcasts/1".into(),
        "/console/broadcasts/1?after=5000".into(),
        "/console/inbox".into(),
        "/console/groups".into(),
        "/console/groups/g".into(),
        format!("/console/groups/g?after={middle}"),
        "/console/import".into(),
    ];
    println!(
        "web console, group of {members} members, one broadcast to all of them; debug={}",
        cfg!(debug_assertions)
    );
    let out = Command::new("/usr/bin/python3")
        .args([SUITE, "bench"])
        .env("GSMS_BASE", &base)
        .env("GSMS_ADMIN", &admin)
        .env("GSMS_PAGES", pages.join(","))
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        panic!("the browser bench failed");
    }
    // The live preview's request for the whole group.
    let client = reqwest::blocking::Client::new();
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = client
            .post(format!("{base}/v1/groups/g/broadcasts/preview"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"text": "明天开会", "as": "boss"}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: serde_json::Value = r.json().unwrap();
        assert_eq!(v["recipients"].as_u64(), Some(members));
        times.push(t.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "send preview over {members} members: median {:.1} ms, worst {:.1} ms (20 requests)",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    daemon.stop();
}
