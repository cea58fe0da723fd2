//! The cost of a `/metrics` scrape: the real `groupsms daemon` (a child process) with 16
//! emulated modems on a database of a 100 000-member group whose one broadcast's 100 000
//! deliveries all reached a final state (60 % sent, half of them delivered, 20 % failed,
//! 10 % uncertain, 10 % undelivered), scraped `METRICS_SCRAPES` (200) times one after the
//! other over HTTP (one connection each). Prints the scrape's latency (p50, p99, max), the
//! daemon's CPU time per scrape, the answer's size, and, measured in this process on the
//! same file, the time of the store's part alone ([`groupsms::store::Store::metric_totals`],
//! which holds the store thread while it runs: commits wait that long).
//!
//! `cargo bench --bench metrics`. Knobs: `METRICS_DELIVERIES`, `METRICS_MODEMS`,
//! `METRICS_SCRAPES`.

#[path = "support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use groupsms::store::{Store, StoreError};
use support::{broadcast_to_all, config_text, emulator, env_list, write_all_group, Daemon};

/// Writes the group and its one broadcast, every delivery in a final state.
fn populate(path: &Path, members: u32) {
    let at = Utc::now() - chrono::Duration::minutes(30);
    let mut store = Store::open(path).expect("open the database");
    write_all_group(&mut store, members, at);
    let accepted = broadcast_to_all(&mut store, "明天上午九点全体大会，请准时参加。", at);
    store
        .write(|tx| -> Result<(), StoreError> {
            for (i, q) in accepted.queued.iter().enumerate() {
                let then = at + chrono::Duration::milliseconds(i as i64 * 10);
                let sim = format!("46000000000{:04}", i % 16);
                match i % 10 {
                    0..=5 | 9 => {
                        tx.mark_sending(q.id, &format!("/dev/modem{}", i % 16), then)?;
                        let mr = [(i % 256) as u8];
                        tx.record_parts(q.id, &sim, &mr, then)?;
                        tx.mark_sent(q.id, &mr, then)?;
                        if i % 10 == 9 {
                            tx.mark_undelivered(q.id, "gave up", then)?;
                        } else if i % 2 == 0 {
                            tx.mark_delivered(q.id, then)?;
                        }
                    }
                    6 | 7 => {
                        tx.mark_failed(q.id, "+CMS ERROR: 21", then)?;
                    }
                    _ => {
                        tx.mark_sending(q.id, "/dev/modem0", then)?;
                        tx.mark_uncertain(q.id, "no answer", then)?;
                    }
                }
            }
            Ok(())
        })
        .expect("final states");
}

/// One `GET /metrics` with `token` on a new connection: the status line and the body.
fn scrape(addr: &str, token: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    )
    .expect("request");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("answer");
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or_default().to_string();
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// A management token made with `groupsms token create --admin`.
fn admin_token(dir: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_groupsms"))
        .arg("--config")
        .arg(dir.join("groupsms.toml"))
        .args(["--json", "token", "create", "--admin"])
        .output()
        .expect("run groupsms token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    made["secret"].as_str().expect("the secret").to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let one = |name: &str, bench: u64, quick_value: u64| {
        if quick {
            quick_value
        } else {
            env_list(name, &[bench])[0]
        }
    };
    let deliveries = one("METRICS_DELIVERIES", 100_000, 500);
    let modems = one("METRICS_MODEMS", 16, 2);
    let scrapes = one("METRICS_SCRAPES", 200, 5) as usize;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    // The group's super-admin and `deliveries - 1` members: one delivery each.
    populate(&db, deliveries as u32);
    let populate_secs = t.elapsed().as_secs_f64();

    // The store's part alone, on the same file, before the daemon holds it.
    let mut store = Store::open(&db).expect("open");
    let mut store_times: Vec<Duration> = (0..scrapes.max(20))
        .map(|_| {
            let t = Instant::now();
            let totals = store.metric_totals().expect("totals");
            assert_eq!(
                totals.deliveries.iter().map(|(_, n)| n).sum::<u64>(),
                deliveries
            );
            t.elapsed()
        })
        .collect();
    drop(store);
    store_times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let row = |label: &str, value: String| println!("  {label:<40} {value}");
    println!("metrics: {deliveries} deliveries, {modems} emulated modems, {scrapes} scrapes");
    row(
        "database written beforehand",
        format!("{populate_secs:.2} s"),
    );
    row(
        "store totals alone (in process)",
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(percentile(&store_times, 0.5)),
            ms(percentile(&store_times, 0.99)),
            ms(*store_times.last().unwrap())
        ),
    );

    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let emulator = emulator(&rt, dir.path(), modems, Duration::from_millis(5));
    let config = format!(
        "{}\n[http]\nlisten = \"{addr}\"\n",
        config_text(dir.path(), "")
    );
    let daemon = Daemon::start(dir.path(), &config);
    let token = admin_token(dir.path());
    // Every modem in the pool first, so each scrape shows them all.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = scrape(&addr, &token);
        let up = body
            .lines()
            .filter(|l| l.starts_with("groupsms_modem_up{") && l.ends_with(" 1"))
            .count() as u64;
        if up == modems {
            break;
        }
        assert!(Instant::now() < deadline, "modems not up:\n{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let cpu0 = daemon.cpu_seconds();
    let mut times = Vec::with_capacity(scrapes);
    let mut size = 0;
    for _ in 0..scrapes {
        let t = Instant::now();
        let (status, body) = scrape(&addr, &token);
        times.push(t.elapsed());
        assert!(status.contains(" 200 "), "{status}");
        size = body.len();
    }
    let cpu = daemon.cpu_seconds() - cpu0;
    let rss = daemon.status_kb("VmRSS:");
    daemon.stop();
    drop(rt.block_on(emulator.shutdown()));
    times.sort();

    row(
        "GET /metrics (new connection each)",
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(*times.last().unwrap())
        ),
    );
    row(
        "daemon CPU per scrape",
        format!("{:.2} ms", cpu * 1000.0 / scrapes as f64),
    );
    row("answer body", format!("{size} bytes"));
    row("daemon RSS after", support::mb(Some(rss)));
}
