//! Fan-out efficiency: N emulated modems with send latency L, M recipients; the achieved
//! rate against the ideal N / L, the time from `send` to the first part on the wire, and the
//! daemon's CPU seconds and peak memory per 10 000 deliveries. "First ms" is from just before
//! the `send` request to the first Ctrl-Z a modem saw (the emulator's log time of the first
//! part, minus L). The daemon is the real binary
//! in a child process (its CPU and memory are read from /proc), on a database prepared
//! beforehand; the modems are emulated in this process; the bench talks to the daemon over
//! its Unix socket, as the CLI does, and waits on its progress events like `send --wait`.
//!
//! Scaled runs: each modem gets about `FANOUT_SECONDS / L` messages (at least 5), so every
//! configuration takes roughly the same time however short or long L is.
//!
//! `cargo bench --bench fanout` runs N = 1, 4, 16, 64 and L = 20, 100, 300, 1000, 3000 ms with
//! the default 20 ms command gap. Knobs: `FANOUT_MODEMS`, `FANOUT_LATENCY_MS`, `FANOUT_GAP_MS`
//! (a list: `20,0` runs every configuration with each gap), `FANOUT_SECONDS` (default 4).
//!
//! Transient errors (issue #14's figure): `FANOUT_ERROR_PERCENT=5` makes every modem refuse
//! that share of its sends with `+CMS ERROR` 38, 42, 332 or 500 (drawn uniformly, as the
//! peers bench's errors scenarios do), `FANOUT_RECIPIENTS=200` fixes the recipients of a run
//! instead of scaling them with L, `FANOUT_RETRY_ELSEWHERE=0,2` runs each configuration with
//! each `[scheduler] retry_elsewhere` (0: back off before every retry, the rule before), and
//! `FANOUT_SEEDS=1,2,3` repeats it with each emulator seed (the draws of the errors).
//!
//! Webhooks: `FANOUT_WEBHOOK=0,1` runs each configuration without and with a `[[webhook]]`
//! subscribed to every event (each delivery's outcome and the broadcast's end written to the
//! outbox in the sending transactions, then posted to a local receiver in this process that
//! answers 200), so the two rates compare what the outbox costs the sending path.
//!
//! PostgreSQL: `BENCH_POSTGRES=postgres://ADMIN@HOST/postgres` runs the daemon on a database of
//! its own in that cluster instead of an SQLite file (`support::bench_database`).
//!
//! Carrier-aware routing: `FANOUT_CARRIERS=1` gives the members numbers of the three
//! mainland carriers in turn (139 China Mobile, 186 China Unicom, 189 China Telecom) and the
//! modems SIMs of the three in turn (IMSI 46000, 46001, 46003); `FANOUT_ROUTING=0,1` runs
//! each configuration with `[routing] prefer_same_carrier` off and on. Column "on-net": the
//! share of messages a SIM of the recipient's carrier sent (from the emulator's log).

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use groupsms::cli::client::Client;
use groupsms::protocol::{self as p, Request};
use groupsms::service::routing::{carrier_of_imsi, CarrierTable};
use support::{config_text, env_list, make_group_numbered, Daemon};

/// Number segments and SIM PLMNs of the carrier runs, in turn: Mobile, Unicom, Telecom.
const SEGMENTS: [&str; 3] = ["+86139", "+86186", "+86189"];
const PLMNS: [&str; 3] = ["46000", "46001", "46003"];

/// `+CMS ERROR` codes of the error runs: all transient (`src/at/codes.rs`).
const TRANSIENT_CODES: [u16; 4] = [38, 42, 332, 500];

/// One run's knobs besides N, L and the gap.
#[derive(Clone, Copy)]
struct Faults {
    error_percent: u64,
    retry_elsewhere: Option<u64>,
    seed: u64,
    /// Members and SIMs of the three carriers; `Some(prefer)`: with `prefer_same_carrier`.
    carriers: Option<bool>,
    /// With a webhook subscribed to every event.
    webhook: bool,
}

/// A local HTTP/1.1 receiver answering 200 to every request (keep-alive); its port.
fn receiver(rt: &tokio::runtime::Runtime) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf: Vec<u8> = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < end + 4 + length {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..end + 4 + length);
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if conn.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

struct Row {
    recipients: u64,
    seconds: f64,
    first_ms: f64,
    cpu: f64,
    peak_kb: u64,
    /// Share of messages sent by a SIM of the recipient's carrier.
    on_net: f64,
}

fn run(modems: u64, latency: Duration, gap_ms: u64, recipients: u64, faults: Faults) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // The super-admin is a member too: M recipients in all.
    let mixed = faults.carriers.is_some();
    make_group_numbered(&dir.path().join("db.sqlite"), recipients, |i| {
        let segment = if mixed {
            SEGMENTS[i as usize % 3]
        } else {
            SEGMENTS[0]
        };
        format!("{segment}{i:08}")
    });
    let emulator = {
        let cfg = support::emulator_config(dir.path(), modems, latency, faults.seed, |m| {
            m.knobs.error_rate = faults.error_percent as f64 / 100.0;
            m.knobs.error_codes = TRANSIENT_CODES.to_vec();
        });
        let cfg = (0..modems as usize).fold(cfg, |cfg, i| {
            cfg.modem(i, |m| {
                if mixed {
                    m.knobs.plmn = PLMNS[i % 3].into();
                }
            })
        });
        let _g = rt.enter();
        groupsms::emulator::Emulator::start(cfg).expect("emulator starts")
    };
    let mut config = config_text(dir.path(), &format!("command_gap_ms = {gap_ms}"));
    if let Some(n) = faults.retry_elsewhere {
        config.push_str(&format!("[scheduler]\nretry_elsewhere = {n}\n"));
    }
    if let Some(prefer) = faults.carriers {
        config.push_str(&format!("[routing]\nprefer_same_carrier = {prefer}\n"));
    }
    if faults.webhook {
        config.push_str(&format!(
            "[[webhook]]\nurl = \"http://127.0.0.1:{}/hook\"\n\
             events = [\"inbound\", \"delivery\", \"broadcast_finished\", \"modem\"]\n\
             secret = \"bench\"\n",
            receiver(&rt)
        ));
    }
    let daemon = Daemon::start(dir.path(), &config);
    let mut c = Client::connect(&daemon.socket).unwrap_or_else(|e| panic!("{}", e.message));
    // The message comes to a daemon that has been up a moment, as in use: right at READY=1
    // the modems answered init a few ms ago, and the command gap would count from that.
    std::thread::sleep(Duration::from_millis(200));

    let cpu0 = daemon.cpu_seconds();
    let (start, wall_start) = (Instant::now(), chrono::Utc::now());
    let accepted = support::send_to_group(&mut c, "系统通知：今晚维护");
    let id = accepted["broadcast"].as_i64().unwrap();
    let sub = c
        .send(Request::Subscribe(p::SubscribeArgs::broadcast(id)))
        .unwrap();
    loop {
        let r = c.read().unwrap_or_else(|e| panic!("{}", e.message));
        if r.id != sub || r.event.is_some() {
            continue;
        }
        let result = r.result.expect("finished");
        assert_eq!(result["sent"].as_u64(), Some(recipients), "{result}");
        break;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = daemon.cpu_seconds() - cpu0;
    let peak_kb = daemon.status_kb("VmHWM:");
    drop(c);
    daemon.stop();
    let summary = rt.block_on(emulator.shutdown());
    let first = support::first_part_on_the_wire(dir.path(), latency).expect("a logged part");
    let accepted: u64 = summary.modems.iter().map(|m| m.stats.accepted as u64).sum();
    assert_eq!(
        accepted, recipients,
        "the modems took each part once: {summary}"
    );
    let table = CarrierTable::default();
    let records = groupsms::emulator::log::read_log(&dir.path().join("sms.jsonl")).unwrap();
    let on_net = records
        .iter()
        .filter(|r| {
            let plmn = if mixed { PLMNS[r.modem % 3] } else { PLMNS[0] };
            carrier_of_imsi(&format!("{plmn}0000000000")) == table.carrier_of_number(&r.to)
        })
        .count() as f64
        / records.len().max(1) as f64;
    Row {
        on_net,
        recipients,
        seconds,
        first_ms: (first - wall_start).num_microseconds().unwrap_or(0) as f64 / 1000.0,
        cpu,
        peak_kb,
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with no `--bench`: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (modems, latencies, seconds) = if quick {
        (vec![2], vec![20], 0.1)
    } else {
        (
            env_list("FANOUT_MODEMS", &[1, 4, 16, 64]),
            env_list("FANOUT_LATENCY_MS", &[20, 100, 300, 1000, 3000]),
            env_list("FANOUT_SECONDS", &[4])[0] as f64,
        )
    };
    let gaps = env_list("FANOUT_GAP_MS", &[20]);
    let fixed = env_list("FANOUT_RECIPIENTS", &[0])[0];
    let error_percent = env_list("FANOUT_ERROR_PERCENT", &[0])[0];
    let elsewhere: Vec<Option<u64>> = match std::env::var("FANOUT_RETRY_ELSEWHERE") {
        Ok(_) => env_list("FANOUT_RETRY_ELSEWHERE", &[2])
            .into_iter()
            .map(Some)
            .collect(),
        Err(_) => vec![None],
    };
    let seeds = env_list("FANOUT_SEEDS", &[1]);
    let webhooks: Vec<bool> = env_list("FANOUT_WEBHOOK", &[0])
        .into_iter()
        .map(|w| w != 0)
        .collect();
    let routing: Vec<Option<bool>> = match std::env::var("FANOUT_CARRIERS") {
        Ok(v) if v.trim() == "1" => env_list("FANOUT_ROUTING", &[1])
            .into_iter()
            .map(|r| Some(r != 0))
            .collect(),
        _ => vec![None],
    };
    println!("fan-out: one single-part UCS-2 message per recipient; daemon = child process");
    if error_percent > 0 {
        println!(
            "every modem refuses {error_percent} % of sends with +CMS ERROR {TRANSIENT_CODES:?} (transient)"
        );
    }
    println!(
        "{:>6} {:>7} {:>6} {:>5} {:>4} {:>5} {:>4} {:>10} {:>8} {:>9} {:>9} {:>10} {:>10} {:>9} {:>10} {:>10} {:>7}",
        "modems",
        "L ms",
        "gap ms",
        "elsew",
        "seed",
        "route",
        "hook",
        "recipients",
        "seconds",
        "msg/s",
        "ideal/s",
        "efficiency",
        "vs L+gap",
        "first ms",
        "cpu s/10k",
        "peak MB",
        "on-net"
    );
    // Seeds outermost: the variants compared (retry_elsewhere, routing) run side by side, so a
    // busy spell of the machine does not fall on one of them only.
    let mut runs = Vec::new();
    for &seed in &seeds {
        for &gap in &gaps {
            for &l in &latencies {
                for &n in &modems {
                    for &retry_elsewhere in &elsewhere {
                        for &carriers in &routing {
                            for &webhook in &webhooks {
                                runs.push((gap, l, n, retry_elsewhere, carriers, seed, webhook));
                            }
                        }
                    }
                }
            }
        }
    }
    for (gap, l, n, retry_elsewhere, carriers, seed, webhook) in runs {
        let latency = Duration::from_millis(l);
        let per_modem = ((seconds / latency.as_secs_f64()).ceil() as u64).max(5);
        let recipients = if fixed > 0 { fixed } else { n * per_modem };
        let faults = Faults {
            error_percent,
            retry_elsewhere,
            seed,
            carriers,
            webhook,
        };
        let row = run(n, latency, gap, recipients, faults);
        let rate = row.recipients as f64 / row.seconds;
        let ideal = n as f64 / latency.as_secs_f64();
        let gap_bound = n as f64 / (latency.as_secs_f64() + gap as f64 / 1000.0);
        println!(
            "{:>6} {:>7} {:>6} {:>5} {:>4} {:>5} {:>4} {:>10} {:>8.2} {:>9.1} {:>9.1} {:>10.3} {:>10.3} {:>9.1} {:>10.2} {:>10.1} {:>7.3}",
            n,
            l,
            gap,
            retry_elsewhere.map_or("-".to_string(), |e| e.to_string()),
            seed,
            carriers.map_or("-", |p| if p { "on" } else { "off" }),
            if webhook { "on" } else { "off" },
            row.recipients,
            row.seconds,
            rate,
            ideal,
            rate / ideal,
            rate / gap_bound,
            row.first_ms,
            row.cpu / row.recipients as f64 * 10_000.0,
            row.peak_kb as f64 / 1024.0,
            row.on_net
        );
    }
}
