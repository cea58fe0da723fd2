//! Scale: a 100 000-member group through the real daemon. The group is written into the
//! database beforehand; then the `groupsms daemon` binary (a child process) is started with
//! N emulated modems, left idle for a minute (its CPU time over that minute: no busy
//! polling), sent one message for the whole group over its socket (the answer comes once
//! every delivery is queued in the database), and followed until every recipient is served.
//! The daemon's peak RSS (VmHWM) and CPU time are read from /proc.
//!
//! `cargo bench --bench scale` (100 000 members, 64 modems, L = 20 ms, default 20 ms gap,
//! 60 s idle). Knobs: `SCALE_MEMBERS`, `SCALE_MODEMS`, `SCALE_LATENCY_MS`, `SCALE_GAP_MS`,
//! `SCALE_IDLE_SECS`. Aims: peak RSS < 64 MB; idle CPU near zero.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use groupsms::cli::client::Client;
use groupsms::protocol::{self as p, Request};
use support::{config_text, emulator, env_list, make_group, Daemon};

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let one = |name: &str, bench: u64, quick_value: u64| {
        if quick {
            quick_value
        } else {
            env_list(name, &[bench])[0]
        }
    };
    let members = one("SCALE_MEMBERS", 100_000, 200);
    let modems = one("SCALE_MODEMS", 64, 4);
    let latency = Duration::from_millis(one("SCALE_LATENCY_MS", 20, 5));
    let gap = one("SCALE_GAP_MS", 20, 20);
    let idle = Duration::from_secs(one("SCALE_IDLE_SECS", 60, 1));

    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    make_group(&dir.path().join("db.sqlite"), members);
    let populate = t.elapsed();
    let emulator = emulator(&rt, dir.path(), modems, latency);
    let t = Instant::now();
    let daemon = Daemon::start(
        dir.path(),
        &config_text(dir.path(), &format!("command_gap_ms = {gap}")),
    );
    let startup = t.elapsed();
    let rss_ready = daemon.status_kb("VmRSS:");

    // Idle: modems up, nothing to send.
    let cpu0 = daemon.cpu_seconds();
    std::thread::sleep(idle);
    let idle_cpu = daemon.cpu_seconds() - cpu0;
    let rss_idle = daemon.status_kb("VmRSS:");

    let mut c = Client::connect(&daemon.socket).unwrap_or_else(|e| panic!("{}", e.message));
    let cpu0 = daemon.cpu_seconds();
    let (t, wall) = (Instant::now(), chrono::Utc::now());
    let accepted = support::send_to_group(&mut c, "明天上午九点全体大会，请准时参加。");
    let queued = t.elapsed();
    let queued_cpu = daemon.cpu_seconds() - cpu0;
    let peak_queued = daemon.status_kb("VmHWM:");
    assert_eq!(accepted["recipients"].as_u64(), Some(members), "{accepted}");

    // Follow with a cheap poll (a `send --wait` would stream one event per delivery).
    let mut peak_rss = 0;
    let sent = loop {
        let list = c
            .call(Request::BroadcastList(p::BroadcastList::default()))
            .unwrap_or_else(|e| panic!("{}", e.message));
        let b = &list["broadcasts"][0];
        peak_rss = peak_rss.max(daemon.status_kb("VmRSS:"));
        let sent = b["sent"].as_u64().unwrap_or(0);
        if b["finished"] == true {
            assert_eq!(b["failed"].as_u64(), Some(0), "{b}");
            break sent;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let all_sent = t.elapsed();
    let cpu = daemon.cpu_seconds() - cpu0;
    let hwm = daemon.status_kb("VmHWM:");
    drop(c);
    daemon.stop();
    let summary = rt.block_on(emulator.shutdown());
    let first = support::first_part_on_the_wire(dir.path(), latency).expect("a logged part");
    let first = (first - wall).num_milliseconds() as f64 / 1000.0;
    assert_eq!(
        summary.accepted() as u64,
        members,
        "every part once: {summary}"
    );
    assert_eq!(sent, members);

    let mb = |kb: u64| kb as f64 / 1024.0;
    let rate = members as f64 / all_sent.as_secs_f64();
    let ideal = modems as f64 / latency.as_secs_f64();
    let row = |label: &str, value: String| println!("  {label:<36} {value}");
    println!(
        "scale: {members} members, {modems} emulated modems, L = {} ms, command gap {gap} ms",
        latency.as_millis()
    );
    row(
        "database written beforehand",
        format!("{:.2} s", populate.as_secs_f64()),
    );
    row(
        "daemon start to READY=1",
        format!(
            "{:.2} s, RSS {:.1} MB",
            startup.as_secs_f64(),
            mb(rss_ready)
        ),
    );
    row(
        &format!("idle for {} s", idle.as_secs()),
        format!(
            "{:.2} CPU s ({:.3} % of one core), RSS {:.1} MB  [aim: near zero]",
            idle_cpu,
            idle_cpu / idle.as_secs_f64() * 100.0,
            mb(rss_idle)
        ),
    );
    row(
        &format!("send -> all {members} queued"),
        format!(
            "{:.2} s wall, {:.2} CPU s; peak RSS so far {:.1} MB",
            queued.as_secs_f64(),
            queued_cpu,
            mb(peak_queued)
        ),
    );
    row(
        "first part on the wire",
        format!("{first:.2} s after `send`"),
    );
    row(
        "send -> all sent",
        format!(
            "{:.1} s ({:.0} msg/s; ideal N/L {:.0}: {:.3})",
            all_sent.as_secs_f64(),
            rate,
            ideal,
            rate / ideal
        ),
    );
    row(
        "daemon CPU, send -> all sent",
        format!(
            "{:.1} s ({:.2} s per 10 000 deliveries)",
            cpu,
            cpu / members as f64 * 10_000.0
        ),
    );
    row(
        "daemon peak RSS (VmHWM, whole life)",
        format!(
            "{:.1} MB  [aim < 64 MB: {}]; highest RSS sampled during the fan-out {:.1} MB",
            mb(hwm),
            if hwm < 64 * 1024 { "met" } else { "MISSED" },
            mb(peak_rss)
        ),
    );
}
