//! The HTTP API under load: the real `groupsms daemon` (a child process, so its CPU time and
//! peak memory are its own, read from /proc) on a database holding a 1 000-member group, its
//! HTTP listener on 127.0.0.1, `HTTP_LOAD_MODEMS` (4) emulated modems sending what is
//! accepted meanwhile (latency `HTTP_LOAD_LATENCY_MS`, 100 ms), and real HTTP clients
//! (reqwest, blocking, keep-alive) with one member token (the group's super-admin):
//!
//! 1. `POST /v1/groups/g/broadcasts` to all 1 000 members, `HTTP_LOAD_POSTS` (40) times by
//!    `HTTP_LOAD_POSTERS` clients (1 and 8) at once;
//! 2. `GET /v1/broadcasts/{id}` of one of them (its first page of deliveries), by
//!    `HTTP_LOAD_CLIENTS` (200) clients at once, `HTTP_LOAD_GETS` (25) requests each.
//!
//! Prints p50/p90/p99/max latency, the requests per second, the daemon's CPU seconds during
//! each phase and its peak RSS (VmHWM) after it. The rate limit is raised out of the way (the
//! bench measures the service, not the limiter); the store turns (`http::limits`) stay.
//!
//! `cargo bench --bench http_load`

#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use support::{env_list, make_group, mb, Daemon};

fn env_u64(name: &str, default: u64) -> u64 {
    env_list(name, &[default])[0]
}

/// `groupsms --json ARGS` on the bench's configuration, parsed.
fn cli(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_groupsms"))
        .arg("--config")
        .arg(dir.join("groupsms.toml"))
        .arg("--json")
        .args(args)
        .output()
        .expect("run the CLI");
    assert!(
        out.status.success(),
        "groupsms {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the CLI")
}

/// Latencies, sorted: the value at quantile `q`.
fn at(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Runs `clients` threads, each making `each` requests with `request` (given its client,
/// thread and request number) after a common start; returns every latency, sorted, and the
/// wall time.
fn load(
    clients: usize,
    each: usize,
    request: impl Fn(&reqwest::blocking::Client, usize, usize) + Send + Sync + 'static,
) -> (Vec<Duration>, Duration) {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let request = Arc::new(request);
    let threads: Vec<_> = (0..clients)
        .map(|t| {
            let barrier = barrier.clone();
            let request = request.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(300))
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap();
                let mut times = Vec::with_capacity(each);
                barrier.wait();
                for i in 0..each {
                    let t0 = Instant::now();
                    request(&client, t, i);
                    times.push(t0.elapsed());
                }
                times
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut all: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("a client thread"))
        .collect();
    let wall = start.elapsed();
    all.sort();
    (all, wall)
}

/// Asks the socket for `status` (hello, status, on a new connection) again and again until
/// stopped; the latencies, sorted. Shows whether HTTP load makes socket users wait.
fn probe_socket(socket: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        let mut times = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let t0 = Instant::now();
            let s = UnixStream::connect(&socket).expect("the daemon's socket");
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut w = s;
            w.write_all(
                b"{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}\n\
                  {\"id\":2,\"op\":\"status\",\"args\":{}}\n",
            )
            .unwrap();
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            line.clear();
            r.read_line(&mut line).unwrap();
            assert!(line.contains("\"ok\":true"), "{line}");
            times.push(t0.elapsed());
            std::thread::sleep(Duration::from_millis(20));
        }
        times.sort();
        times
    })
}

fn print_probe(times: &[Duration]) {
    if times.is_empty() {
        return;
    }
    println!(
        "  meanwhile on the socket: {} `status` requests, p50 {}, p99 {}, max {}",
        times.len(),
        ms(at(times, 0.50)),
        ms(at(times, 0.99)),
        ms(*times.last().unwrap())
    );
}

fn report(what: &str, times: &[Duration], wall: Duration, daemon: &Daemon, cpu0: f64) {
    println!(
        "{what}: {} requests in {:.2} s ({:.0}/s); latency p50 {}, p90 {}, p99 {}, max {}; \
         daemon CPU {:.2} s; daemon peak RSS {}",
        times.len(),
        wall.as_secs_f64(),
        times.len() as f64 / wall.as_secs_f64(),
        ms(at(times, 0.50)),
        ms(at(times, 0.90)),
        ms(at(times, 0.99)),
        ms(*times.last().unwrap()),
        daemon.cpu_seconds() - cpu0,
        mb(Some(daemon.status_kb("VmHWM:"))),
    );
}

fn main() {
    // 200 clients and the daemon's connections: more than the usual 1 024 descriptors.
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on this process's limits with a valid pointer.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
        l.rlim_cur = l.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &l);
    }
    let modems = env_u64("HTTP_LOAD_MODEMS", 4);
    let latency = Duration::from_millis(env_u64("HTTP_LOAD_LATENCY_MS", 100));
    let posts = env_u64("HTTP_LOAD_POSTS", 40) as usize;
    let posters = env_list("HTTP_LOAD_POSTERS", &[1, 8]);
    let clients = env_u64("HTTP_LOAD_CLIENTS", 200) as usize;
    let gets = env_u64("HTTP_LOAD_GETS", 25) as usize;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    make_group(&dir.join("db.sqlite"), 1000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let emulator = support::emulator(&rt, &dir, modems, latency);
    let config = format!(
        "{}[http]\nlisten = \"127.0.0.1:0\"\nrate_per_minute = 1000000\nrate_burst = 100000\n",
        support::config_text(&dir, "")
    );
    let daemon = Daemon::start(&dir, &config);
    let base = format!(
        "http://{}",
        cli(&dir, &["status"])["http"][0]
            .as_str()
            .expect("the daemon's HTTP address")
    );
    let token = cli(&dir, &["token", "create", "--member", "boss"])["secret"]
        .as_str()
        .unwrap()
        .to_string();
    println!(
        "http_load: group of 1000 members, {modems} emulated modems ({} ms), daemon pid {}",
        latency.as_millis(),
        daemon.pid()
    );

    let send_url = format!("{base}/v1/groups/g/broadcasts");
    for &n in &posters {
        let n = n.max(1) as usize;
        let each = posts.div_ceil(n);
        let (url, token) = (send_url.clone(), token.clone());
        let cpu0 = daemon.cpu_seconds();
        let stop = Arc::new(AtomicBool::new(false));
        let prober = probe_socket(daemon.socket.clone(), stop.clone());
        let (times, wall) = load(n, each, move |c, t, i| {
            let r = c
                .post(&url)
                .bearer_auth(&token)
                .json(&serde_json::json!({"text": format!("停电通知 {n}-{t}-{i}")}))
                .send()
                .expect("POST");
            let status = r.status().as_u16();
            let body = r.text().unwrap_or_default();
            assert_eq!(status, 202, "{body}");
        });
        report(
            &format!("POST /v1/groups/g/broadcasts (1000 recipients), {n} client(s)"),
            &times,
            wall,
            &daemon,
            cpu0,
        );
        stop.store(true, Ordering::Relaxed);
        print_probe(&prober.join().expect("the socket prober"));
    }

    let show_url = format!("{base}/v1/broadcasts/1");
    let (url, tok) = (show_url.clone(), token.clone());
    let cpu0 = daemon.cpu_seconds();
    let stop = Arc::new(AtomicBool::new(false));
    let prober = probe_socket(daemon.socket.clone(), stop.clone());
    let (times, wall) = load(clients, gets, move |c, _, _| {
        let r = c.get(&url).bearer_auth(&tok).send().expect("GET");
        let status = r.status().as_u16();
        let body = r.bytes().expect("the body");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    });
    report(
        &format!("GET /v1/broadcasts/1 (first page of 1000 deliveries), {clients} clients"),
        &times,
        wall,
        &daemon,
        cpu0,
    );
    stop.store(true, Ordering::Relaxed);
    print_probe(&prober.join().expect("the socket prober"));
    // Idle, for comparison.
    let stop = Arc::new(AtomicBool::new(false));
    let prober = probe_socket(daemon.socket.clone(), stop.clone());
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    println!("idle daemon (the modems still sending):");
    print_probe(&prober.join().expect("the socket prober"));
    daemon.stop();
    rt.block_on(emulator.shutdown());
}
