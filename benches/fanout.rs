//! Fan-out efficiency: N emulated modems with send latency L, M recipients; the achieved
//! rate against the ideal N / L, and the time from `send` to the first part on the wire.
//! Runs the daemon and the emulator in this process and talks to the daemon over its real
//! Unix socket, as the CLI does. Prints one table row per configuration.
//!
//! `cargo bench --bench fanout` (defaults: N = 1, 4, 16; L = 200 ms; 25 messages per modem).
//! `FANOUT_MODEMS=1,4,16,64 FANOUT_LATENCY_MS=100 FANOUT_PER_MODEM=40 cargo bench --bench fanout`

use std::time::{Duration, Instant};

use groupsms::cli::client::Client;
use groupsms::config::{Config, ModemEntry};
use groupsms::daemon::InProcess;
use groupsms::emulator::config::Noise;
use groupsms::emulator::{Emulator, EmulatorConfig};
use groupsms::protocol::{self as p, Request};

fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we hand it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

struct Row {
    modems: u64,
    recipients: u64,
    seconds: f64,
    first_ms: f64,
    cpu: f64,
}

fn run(modems: u64, latency: Duration, per_modem: u64) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = EmulatorConfig::new(dir.path().join("dev"), modems as usize)
        .seed(1)
        .all(|m| {
            m.knobs.send_latency = latency;
            m.knobs.noise = Noise::Off;
        });
    let emulator = {
        let _g = rt.enter();
        Emulator::start(cfg).unwrap()
    };
    let mut config = Config::default();
    config.daemon.socket = dir.path().join("s.sock");
    config.daemon.database = dir.path().join("db.sqlite");
    config.quota.daily = 1000;
    config.quota.monthly = 1000;
    config.modems = vec![ModemEntry {
        max_per_hour: 1_000_000,
        max_per_day: 1_000_000,
        ..ModemEntry::new(format!("{}/dev/modem*", dir.path().display()))
    }];
    let socket = config.daemon.socket.clone();
    let daemon = InProcess::start(&rt, config).expect("daemon ready");

    let recipients = modems * per_modem;
    let mut c = Client::connect(&socket).unwrap_or_else(|e| panic!("{}", e.message));
    let call = |c: &mut Client, r: Request| c.call(r).unwrap_or_else(|e| panic!("{}", e.message));
    call(
        &mut c,
        Request::GroupCreate(p::GroupCreate {
            handle: "g".into(),
            name: "测试组".into(),
            header: None,
            daily_quota: None,
            monthly_quota: None,
        }),
    );
    let mut csv =
        String::from("handle,name,phone,group,role\nboss,Boss,+8613800000000,g,super_admin\n");
    for i in 1..recipients {
        csv.push_str(&format!("m{i},M{i},+86139{i:08},g,member\n"));
    }
    call(
        &mut c,
        Request::MemberImport(p::MemberImport {
            csv,
            skip_bad: false,
        }),
    );

    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let accepted = call(
        &mut c,
        Request::Send(p::Send {
            group: "g".into(),
            as_member: "boss".into(),
            text: "【测试】系统通知：今晚维护".into(),
        }),
    );
    let id = accepted["broadcast"].as_i64().unwrap();
    let sub = c
        .send(Request::Subscribe(p::BroadcastRef { broadcast: id }))
        .unwrap();
    let mut first = None;
    loop {
        let r = c.read().unwrap_or_else(|e| panic!("{}", e.message));
        if r.id != sub {
            continue;
        }
        if let Some(ev) = r.event {
            // The first part is on the wire once a delivery is `sending` (committed just
            // before AT+CMGS). If that happened before the subscription started, the first
            // snapshot already shows it: its arrival time is then an upper bound.
            let t = &ev["totals"];
            let started = t["sending"].as_u64().unwrap_or(0) + t["sent"].as_u64().unwrap_or(0) > 0;
            if first.is_none() && (ev["delivery"]["state"] == "sending" || started) {
                first = Some(start.elapsed());
            }
            continue;
        }
        let result = r.result.expect("finished");
        assert_eq!(result["sent"].as_u64(), Some(recipients), "{result}");
        break;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    daemon.stop(&rt).unwrap();
    rt.block_on(emulator.shutdown());
    Row {
        modems,
        recipients,
        seconds,
        first_ms: first.unwrap_or_default().as_secs_f64() * 1000.0,
        cpu,
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with no `--bench`: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let modems = if quick {
        vec![2]
    } else {
        env_list("FANOUT_MODEMS", &[1, 4, 16])
    };
    let latency =
        Duration::from_millis(env_list("FANOUT_LATENCY_MS", &[if quick { 20 } else { 200 }])[0]);
    let per_modem = env_list("FANOUT_PER_MODEM", &[if quick { 5 } else { 25 }])[0];
    println!(
        "fan-out: send latency {} ms, {per_modem} messages per modem (1 part each)",
        latency.as_millis()
    );
    println!(
        "{:>6} {:>10} {:>9} {:>10} {:>10} {:>10} {:>14} {:>12}",
        "modems",
        "recipients",
        "seconds",
        "msg/s",
        "ideal/s",
        "efficiency",
        "first part ms",
        "cpu s/10k"
    );
    for n in modems {
        let row = run(n, latency, per_modem);
        let rate = row.recipients as f64 / row.seconds;
        let ideal = row.modems as f64 / latency.as_secs_f64();
        println!(
            "{:>6} {:>10} {:>9.2} {:>10.1} {:>10.1} {:>10.3} {:>14.1} {:>12.2}",
            row.modems,
            row.recipients,
            row.seconds,
            rate,
            ideal,
            rate / ideal,
            row.first_ms,
            row.cpu / row.recipients as f64 * 10_000.0
        );
    }
}
