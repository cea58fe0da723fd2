//! Several hosts, one queue (issue 17): throughput of 1, 2 and 4 `groupsms daemon` processes
//! (child processes, each `[daemon] host = "bench-i"` with its own emulated modems, the same
//! number and latency for every host) serving one PostgreSQL database, on one broadcast
//! accepted by the first daemon. Printed per run: the achieved rate, the ideal of the modems
//! (hosts × modems / L), the efficiency against N times the 1-daemon rate measured in the
//! same invocation (the ideal) and against the modems' ideal, each host's share, the
//! database round trips per delivery counted by the daemons themselves
//! (`groupsms_database_round_trips_total` on each one's `/metrics`, before and after),
//! the transactions per delivery the server counted (`pg_stat_database.xact_commit` +
//! `xact_rollback` of the bench's database, read after the daemons stopped, less the bench's
//! own progress queries), and the daemons' CPU seconds per 10 000 deliveries (all hosts).
//!
//! `BENCH_POSTGRES=postgres://ADMIN@HOST:PORT/postgres cargo bench --bench hosts` (an admin
//! URL, e.g. what `.ci/pg-cluster start` prints); without it the bench says so and does
//! nothing. Each run gets a database of its own, dropped at the end. Knobs: `HOSTS_DAEMONS`
//! (1,2,4), `HOSTS_MODEMS` (16 each), `HOSTS_LATENCY_MS` (100,300), `HOSTS_SECONDS` (6: each
//! modem gets about that many seconds of sends), `HOSTS_RUNS` (1: repeats of the whole set).
//!
//! Progress is read from the database (the deliveries still `queued` or `sending`, every
//! 25 ms), as any host's view of the broadcast; the end is when none is left.

#[path = "support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use groupsms::cli::client::Client;
use groupsms::protocol::{self as p, Request};
use support::{env_list, Daemon};

/// One statement on `url`, on a thread of its own (the blocking client needs its runtime);
/// the first column of each row as text.
fn sql(url: &str, statement: &str) -> Vec<Option<String>> {
    let (url, statement) = (url.to_string(), statement.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            tokio::spawn(connection);
            client
                .simple_query(&statement)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"))
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(String::from)),
                    _ => None,
                })
                .collect()
        })
    })
    .join()
    .unwrap()
}

/// The server's transactions (committed and rolled back) in database `name` so far.
fn server_transactions(admin: &str, name: &str) -> i64 {
    sql(
        admin,
        &format!(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{name}'"
        ),
    )[0]
    .as_deref()
    .unwrap_or("0")
    .parse()
    .unwrap()
}

/// One `GET /metrics` with `token`: the sum of the samples of `metric` (`None`: the daemon
/// does not serve it).
fn metric(addr: &str, token: &str, metric: &str) -> Option<f64> {
    let mut s = TcpStream::connect(addr).expect("connect to /metrics");
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let samples: Vec<f64> = answer
        .lines()
        .filter(|l| {
            l.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse().ok())
        .collect();
    (!samples.is_empty()).then(|| samples.iter().sum())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The number of each part host `dir`'s modems accepted (its emulator's log).
fn parts(dir: &Path) -> Vec<String> {
    groupsms::emulator::log::read_log(&dir.join("sms.jsonl"))
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.to)
        .collect()
}

/// One host: its directory, emulator, daemon and HTTP address.
type Host = (
    std::path::PathBuf,
    groupsms::emulator::EmulatorHandle,
    Daemon,
    String,
);

struct Row {
    recipients: u64,
    seconds: f64,
    shares: Vec<usize>,
    /// `None`: the daemons' /metrics has no round-trip counter.
    round_trips: Option<f64>,
    transactions: i64,
    cpu: f64,
}

fn run(admin: &str, daemons: usize, modems: u64, latency: Duration, recipients: u64) -> Row {
    let root = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // The group, written into the run's own database before any daemon starts.
    let db_path = root.path().join("db.sqlite");
    let url = support::bench_database(&db_path);
    let name = url.rsplit_once('/').unwrap().1.to_string();
    support::make_group(&db_path, recipients);

    let mut hosts = Vec::new();
    for i in 0..daemons {
        let dir = root.path().join(format!("h{i}"));
        std::fs::create_dir(&dir).unwrap();
        // A seed per host: SIMs of their own.
        let emulator = support::emulator_with(&rt, &dir, modems, latency, 1 + i as u64, |_| {});
        let addr = format!("127.0.0.1:{}", free_port());
        let config = format!(
            "[daemon]\nsocket = \"{d}/s.sock\"\ndatabase = \"{url}\"\nhost = \"bench-{i}\"\n\
             [http]\nlisten = \"{addr}\"\n\
             [quota]\ndaily = 1000\nmonthly = 1000\n\
             [[modem]]\ndevice = \"{d}/dev/modem*\"\nmax_per_hour = 1000000\n\
             max_per_day = 1000000\n",
            d = dir.display(),
        );
        let daemon = Daemon::start(&dir, &config);
        hosts.push((dir, emulator, daemon, addr));
    }
    let mut c = Client::connect(&hosts[0].2.socket).unwrap_or_else(|e| panic!("{}", e.message));
    let token = c
        .call(Request::TokenCreate(p::TokenCreate {
            member: None,
            admin: true,
            label: Some("hosts bench".into()),
            expires_secs: None,
        }))
        .unwrap_or_else(|e| panic!("{}", e.message))["secret"]
        .as_str()
        .expect("the token's secret")
        .to_string();
    // As in the fanout bench: the message comes to daemons that have been up a moment.
    std::thread::sleep(Duration::from_millis(500));

    const TRIPS: &str = "groupsms_database_round_trips_total";
    let trips =
        |hosts: &[Host]| -> Option<f64> { hosts.iter().map(|h| metric(&h.3, &token, TRIPS)).sum() };
    let trips0 = trips(&hosts);
    let cpu0: f64 = hosts.iter().map(|h| h.2.cpu_seconds()).sum();
    let xact0 = server_transactions(admin, &name);
    let start = Instant::now();
    let accepted = support::send_to_group(&mut c, "系统通知：今晚维护");
    let id = accepted["broadcast"].as_i64().unwrap();
    // Progress from the database, on one connection of the bench's own.
    let polls = {
        let url = url.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(connection);
                let open = format!(
                    "SELECT count(*) FROM deliveries WHERE broadcast_id = {id} \
                     AND state IN ('queued', 'sending')"
                );
                let deadline = Instant::now() + Duration::from_secs(600);
                let mut polls = 0i64;
                loop {
                    polls += 1;
                    let left: i64 = client.query_one(&open, &[]).await.unwrap().get(0);
                    if left == 0 {
                        return polls;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{left} deliveries left after 600 s"
                    );
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            })
        })
        .join()
        .unwrap()
    };
    let seconds = start.elapsed().as_secs_f64();
    let trips = trips(&hosts)
        .zip(trips0)
        .map(|(after, before)| after - before);
    let cpu: f64 = hosts.iter().map(|h| h.2.cpu_seconds()).sum::<f64>() - cpu0;
    drop(c);
    let mut shares = Vec::new();
    let mut all: Vec<String> = Vec::new();
    for (dir, emulator, daemon, _) in hosts {
        daemon.stop();
        rt.block_on(emulator.shutdown());
        let mine = parts(&dir);
        shares.push(mine.len());
        all.extend(mine);
    }
    // Each recipient got it once, whichever host sent it.
    let sent = all.len() as u64;
    all.sort();
    all.dedup();
    assert_eq!(
        (sent, all.len() as u64),
        (recipients, recipients),
        "parts on the wire, distinct numbers"
    );
    // The server's count, once every daemon's session has ended (and flushed its statistics);
    // the bench's progress queries, one transaction each, taken off.
    std::thread::sleep(Duration::from_millis(200));
    let transactions = server_transactions(admin, &name) - xact0 - polls;
    sql(
        admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    );
    Row {
        recipients,
        seconds,
        shares,
        round_trips: trips,
        transactions,
        cpu,
    }
}

fn main() {
    let Ok(admin) = std::env::var("BENCH_POSTGRES") else {
        println!(
            "hosts bench: skipped, several daemons need one PostgreSQL database: set \
             BENCH_POSTGRES to an admin URL (`eval \"$(.ci/pg-cluster start /tmp/pg)\"` prints \
             one as GROUPSMS_TEST_POSTGRES)"
        );
        return;
    };
    // `cargo test --benches` runs bench targets with no `--bench`: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (daemons, modems, latencies, seconds, runs) = if quick {
        (vec![1, 2], 2, vec![20], 0.2, 1)
    } else {
        (
            env_list("HOSTS_DAEMONS", &[1, 2, 4]),
            env_list("HOSTS_MODEMS", &[16])[0],
            env_list("HOSTS_LATENCY_MS", &[100, 300]),
            env_list("HOSTS_SECONDS", &[6])[0] as f64,
            env_list("HOSTS_RUNS", &[1])[0],
        )
    };
    println!(
        "hosts: N daemons (child processes) with {modems} emulated modems each, one PostgreSQL \
         database, one single-part UCS-2 message per recipient"
    );
    println!(
        "{:>3} {:>7} {:>6} {:>10} {:>8} {:>9} {:>9} {:>10} {:>9} {:>10} {:>8} {:>9} {:>10}  shares",
        "run",
        "daemons",
        "L ms",
        "recipients",
        "seconds",
        "msg/s",
        "ideal/s",
        "efficiency",
        "N×1 /s",
        "vs N×1",
        "trips/d",
        "xacts/d",
        "cpu s/10k"
    );
    for run_no in 1..=runs {
        for &l in &latencies {
            let latency = Duration::from_millis(l);
            let per_modem = ((seconds / latency.as_secs_f64()).ceil() as u64).max(5);
            let mut one_daemon: Option<f64> = None;
            for &n in &daemons {
                let recipients = n * modems * per_modem;
                let row = run(&admin, n as usize, modems, latency, recipients);
                let rate = row.recipients as f64 / row.seconds;
                let ideal = (n * modems) as f64 / latency.as_secs_f64();
                if n == 1 {
                    one_daemon = Some(rate);
                }
                let scaled = one_daemon.map(|r| r * n as f64);
                println!(
                    "{:>3} {:>7} {:>6} {:>10} {:>8.2} {:>9.1} {:>9.1} {:>10.3} {:>9} {:>10} {:>8} {:>9.2} {:>10.2}  {:?}",
                    run_no,
                    n,
                    l,
                    row.recipients,
                    row.seconds,
                    rate,
                    ideal,
                    rate / ideal,
                    scaled.map_or("-".into(), |s| format!("{s:.1}")),
                    scaled.map_or("-".into(), |s| format!("{:.3}", rate / s)),
                    row.round_trips
                        .map_or("n/a".into(), |t| format!("{:.2}", t / row.recipients as f64)),
                    row.transactions as f64 / row.recipients as f64,
                    row.cpu / row.recipients as f64 * 10_000.0,
                    row.shares
                );
            }
        }
    }
}
