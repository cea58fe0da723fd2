//! Side by side: groupsms, SMSTools3 (`smsd`) and gammu-smsd on the SAME emulated modems
//! (N modems, send latency L, M recipients per modem). Each peer runs in its own temporary
//! directory against a fresh emulator whose JSON log is the single source of truth: the
//! clock starts just before the messages are submitted, the first SMS is the earliest part
//! in the log, the end is the part that completed the last recipient. Correctness is read
//! from the log reassembled like a handset ([`Phones`]): every recipient must show exactly
//! one message with the exact text (Chinese and an emoji in it).
//!
//! `cargo bench --bench peers` (defaults: N = 1, 4; L = 300 ms; 10 recipients per modem;
//! peers groupsms, smstools-tuned, smstools-ucs2, smstools-default,
//! gammu-tuned).
//! `PEERS_MODEMS=1,2,4 PEERS_LATENCY_MS=300 PEERS_PER_MODEM=10 PEERS=groupsms,smstools-tuned cargo bench --bench peers`
//!
//! `PEERS_CSV=file` also appends every row to a CSV file (`bench/peers-plot.gp` draws it).
//!
//! A peer that has not delivered everything within max(5 x ideal, 25 s) is stopped and
//! recorded as such. Peers whose binary is missing (`smsd` from the Debian package
//! `smstools`, `gammu-smsd` from `gammu-smsd`) are reported as skipped. Every child runs in
//! its own process group, which is terminated (then killed) at the end of its run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use groupsms::cli::client::Client;
use groupsms::config::{Config, ModemEntry};
use groupsms::daemon::InProcess;
use groupsms::emulator::config::Noise;
use groupsms::emulator::log::read_log;
use groupsms::emulator::{Emulator, EmulatorConfig, EmulatorHandle, Phones};
use groupsms::protocol::{self as p, Request};

/// The group's name: groupsms puts `【name】` in front of the body.
const GROUP: &str = "测试组";
const BODY: &str = "系统通知：今晚22:00维护 🎉 ok";

fn full_text() -> String {
    format!("【{GROUP}】{BODY}")
}

fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

#[derive(Clone, Copy)]
struct Setup {
    modems: usize,
    latency: Duration,
    per_modem: usize,
}

impl Setup {
    fn recipients(&self) -> Vec<String> {
        let m = self.modems * self.per_modem;
        let mut v = vec!["+8613800000000".to_string()];
        v.extend((1..m).map(|i| format!("+86139{i:08}")));
        v
    }
    fn ideal_seconds(&self) -> f64 {
        (self.modems * self.per_modem) as f64 * self.latency.as_secs_f64() / self.modems as f64
    }
    fn deadline(&self) -> Duration {
        Duration::from_secs_f64((5.0 * self.ideal_seconds()).max(25.0))
    }
}

/// What one peer achieved in one configuration.
struct Outcome {
    peer: &'static str,
    tuning: &'static str,
    /// Submit to the part that completed the last recipient (`None`: not all in time).
    seconds: Option<f64>,
    /// Submit to the first part in the log.
    first: Option<f64>,
    ok: usize,
    wrong: usize,
    duplicates: usize,
    missing: usize,
    note: String,
}

/// A fresh emulator with its log, in `dir`.
fn emulator(rt: &tokio::runtime::Runtime, dir: &Path, s: Setup) -> (EmulatorHandle, PathBuf) {
    let log = dir.join("emulator.jsonl");
    let cfg = EmulatorConfig::new(dir.join("dev"), s.modems)
        .seed(1)
        .log(&log)
        .all(|m| {
            m.knobs.send_latency = s.latency;
            m.knobs.noise = Noise::Off;
        });
    let _g = rt.enter();
    (Emulator::start(cfg).expect("emulator starts"), log)
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn secs_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_microseconds().unwrap_or(0) as f64 / 1e6
}

/// Waits (bounded) until every recipient has at least one part in the log, then a short
/// grace period so that late duplicates show; reads the log and scores it.
fn collect(
    log: &Path,
    s: Setup,
    start: DateTime<Utc>,
    peer: &'static str,
    tuning: &'static str,
) -> Outcome {
    let want = s.recipients();
    let t0 = Instant::now();
    let mut all = false;
    while t0.elapsed() < s.deadline() {
        if let Ok(recs) = read_log(log) {
            let seen: std::collections::HashSet<&str> =
                recs.iter().map(|r| r.to.as_str()).collect();
            if want.iter().all(|w| seen.contains(w.as_str())) {
                all = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(if all { 1500 } else { 0 }));
    score(log, s, start, peer, tuning, all)
}

fn score(
    log: &Path,
    s: Setup,
    start: DateTime<Utc>,
    peer: &'static str,
    tuning: &'static str,
    all: bool,
) -> Outcome {
    let expected = full_text();
    let want = s.recipients();
    let records = read_log(log).unwrap_or_default();
    let mut out = Outcome {
        peer,
        tuning,
        seconds: None,
        first: None,
        ok: 0,
        wrong: 0,
        duplicates: 0,
        missing: 0,
        note: String::new(),
    };
    let times: Vec<DateTime<Utc>> = records.iter().filter_map(|r| parse_time(&r.time)).collect();
    out.first = times.iter().min().map(|t| secs_between(start, *t));
    let phones = match Phones::from_records(&records) {
        Ok(p) => p,
        Err(e) => {
            out.note = format!("log does not reassemble: {e}");
            return out;
        }
    };
    let mut last: Option<DateTime<Utc>> = None;
    let mut delivered = 0;
    let mut samples = Vec::new();
    for w in &want {
        let phone = phones.phone(w);
        let good: Vec<_> = phone
            .messages
            .iter()
            .filter(|m| m.text == expected)
            .collect();
        let bad = phone.messages.len() - good.len() + phone.incomplete.len();
        // Throughput counts a recipient as served by its first complete message, right or
        // wrong; correctness is in the other columns.
        match phone.messages.first() {
            Some(m) => {
                delivered += 1;
                if let Some(t) = parse_time(&m.time) {
                    last = Some(last.map_or(t, |l| l.max(t)));
                }
            }
            None if bad == 0 => out.missing += 1,
            None => {}
        }
        if !good.is_empty() {
            out.ok += 1;
            out.duplicates += good.len() - 1;
        }
        out.wrong += bad;
        for m in phone.messages.iter().filter(|m| m.text != expected) {
            if samples.is_empty() {
                samples.push(format!("{w} got {:?}", m.text));
            }
        }
        if !phone.incomplete.is_empty() && samples.is_empty() {
            samples.push(format!("{w}: incomplete concatenated message"));
        }
    }
    let strangers = phones.numbers.keys().filter(|n| !want.contains(n)).count();
    if strangers > 0 {
        out.wrong += strangers;
        samples.push(format!("{strangers} unexpected destination number(s)"));
    }
    if all && delivered == want.len() {
        out.seconds = last.map(|l| secs_between(start, l));
    } else if !all {
        samples.push(format!(
            "not all delivered within {:.0} s",
            s.deadline().as_secs_f64()
        ));
    }
    out.note = samples.join("; ");
    out
}

// ---------------------------------------------------------------- groupsms

fn run_groupsms(s: Setup) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (emu, log) = emulator(&rt, dir.path(), s);
    let mut config = Config::default();
    config.daemon.socket = dir.path().join("s.sock");
    config.daemon.database = dir.path().join("db.sqlite");
    config.quota.daily = 100_000;
    config.quota.monthly = 100_000;
    config.modems = vec![ModemEntry {
        max_per_hour: 1_000_000,
        max_per_day: 1_000_000,
        ..ModemEntry::new(format!("{}/dev/modem*", dir.path().display()))
    }];
    let socket = config.daemon.socket.clone();
    let daemon = InProcess::start(&rt, config).expect("daemon ready");
    let mut c = Client::connect(&socket).unwrap_or_else(|e| panic!("{}", e.message));
    let call = |c: &mut Client, r: Request| c.call(r).unwrap_or_else(|e| panic!("{}", e.message));
    call(
        &mut c,
        Request::GroupCreate(p::GroupCreate {
            handle: "g".into(),
            name: GROUP.into(),
            header: None,
            daily_quota: None,
            monthly_quota: None,
        }),
    );
    let mut csv = String::from("handle,name,phone,group,role\n");
    for (i, n) in s.recipients().iter().enumerate() {
        let role = if i == 0 { "super_admin" } else { "member" };
        csv.push_str(&format!("m{i},M{i},{n},g,{role}\n"));
    }
    call(
        &mut c,
        Request::MemberImport(p::MemberImport {
            csv,
            skip_bad: false,
        }),
    );
    let start = Utc::now();
    call(
        &mut c,
        Request::Send(p::Send {
            group: "g".into(),
            as_member: "m0".into(),
            text: BODY.into(),
        }),
    );
    let out = collect(&log, s, start, "groupsms", "defaults");
    let _ = daemon.stop(&rt);
    rt.block_on(emu.shutdown());
    out
}

// ---------------------------------------------------------------- children

/// A child in its own process group; the group is terminated, then killed, on drop.
struct Group(Vec<Child>);

impl Group {
    fn spawn(cmd: &mut Command, out: &Path) -> std::io::Result<Child> {
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(out)?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        for c in &self.0 {
            // SAFETY: kill(2) on the process group we created for this child.
            unsafe { libc::kill(-(c.id() as i32), libc::SIGTERM) };
        }
        let t0 = Instant::now();
        for c in &mut self.0 {
            while t0.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // Modem processes of smsd and stragglers: kill the whole group.
            unsafe { libc::kill(-(c.id() as i32), libc::SIGKILL) };
            let _ = c.wait();
        }
    }
}

fn have(binary: &str) -> Option<PathBuf> {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(binary);
        if p.exists() {
            return Some(p);
        }
    }
    None
}

fn skipped(peer: &'static str, tuning: &'static str, why: String) -> Outcome {
    Outcome {
        peer,
        tuning,
        seconds: None,
        first: None,
        ok: 0,
        wrong: 0,
        duplicates: 0,
        missing: 0,
        note: why,
    }
}

/// Waits (at most `limit`) until every emulated modem has answered at least `commands`
/// command lines and the count has not moved for `quiet`: the peer finished its init.
fn wait_initialised(emu: &EmulatorHandle, commands: u64, quiet: Duration, limit: Duration) {
    let t0 = Instant::now();
    let mut last = Vec::new();
    let mut since = Instant::now();
    while t0.elapsed() < limit {
        let now: Vec<u64> = emu
            .summary()
            .modems
            .iter()
            .map(|m| m.stats.commands)
            .collect();
        if now != last {
            last = now;
            since = Instant::now();
        } else if last.iter().all(|&c| c >= commands) && since.elapsed() >= quiet {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------- SMSTools3

/// `ucs2`: the file body pre-encoded as UTF-16BE with `Alphabet: UCS2` (the way to pass
/// characters outside the BMP through unchanged) instead of UTF-8 with `Alphabet: UTF`.
fn run_smstools(s: Setup, tuned: bool, ucs2: bool) -> Outcome {
    let tuning = match (tuned, ucs2) {
        (true, true) => "tuned+UCS2",
        (true, false) => "tuned",
        (false, _) => "defaults",
    };
    let Some(smsd) = have("smsd") else {
        return skipped(
            "smstools",
            tuning,
            "smsd not installed (apt-get install smstools)".into(),
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (emu, log) = emulator(&rt, d, s);
    for sub in ["outgoing", "checked", "failed", "sent", "incoming", "stage"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let devices: Vec<String> = (1..=s.modems).map(|i| format!("GSM{i}")).collect();
    let mut conf = format!(
        "devices = {}\noutgoing = {p}/outgoing\nchecked = {p}/checked\nfailed = {p}/failed\n\
         sent = {p}/sent\nincoming = {p}/incoming\nlogfile = {p}/smsd.log\nloglevel = 6\n\
         infofile = {p}/smsd.working\npidfile = {p}/smsd.pid\n",
        devices.join(","),
        p = d.display()
    );
    if tuned {
        conf.push_str(
            "delaytime = 1\ndelaytime_mainprocess = 1\ntrust_outgoing = yes\n\
             errorsleeptime = 1\nblocktime = 1\n",
        );
    }
    for (i, name) in devices.iter().enumerate() {
        conf.push_str(&format!(
            "\n[{name}]\ndevice = {}\nincoming = no\nbaudrate = 115200\n",
            emu.path(i).display()
        ));
        if tuned {
            conf.push_str("detect_unexpected_input = no\ncheck_network = 0\n");
        }
    }
    let conf_path = d.join("smsd.conf");
    std::fs::write(&conf_path, &conf).unwrap();
    let mut cmd = Command::new(smsd);
    cmd.arg(format!("-c{}", conf_path.display()))
        .arg("-t")
        .arg(format!("-p{}", d.join("smsd.pid").display()))
        .arg(format!("-i{}", d.join("smsd.working").display()));
    let child = match Group::spawn(&mut cmd, &d.join("smsd.out")) {
        Ok(c) => c,
        Err(e) => return skipped("smstools", tuning, format!("smsd does not start: {e}")),
    };
    let _group = Group(vec![child]);
    wait_initialised(&emu, 3, Duration::from_secs(2), Duration::from_secs(30));

    // Submit: every file written in a staging directory and renamed into the spool.
    let text = full_text();
    let start = Utc::now();
    for (i, n) in s.recipients().iter().enumerate() {
        let to = n.trim_start_matches('+');
        let body = if ucs2 {
            let mut b = format!("To: {to}\nAlphabet: UCS2\n\n").into_bytes();
            text.encode_utf16()
                .for_each(|u| b.extend_from_slice(&u.to_be_bytes()));
            b
        } else {
            format!("To: {to}\nAlphabet: UTF\n\n{text}").into_bytes()
        };
        let staged = d.join("stage").join(format!("m{i:05}"));
        std::fs::write(&staged, body).unwrap();
        std::fs::rename(&staged, d.join("outgoing").join(format!("m{i:05}"))).unwrap();
    }
    let mut out = collect(&log, s, start, "smstools", tuning);
    let failed = std::fs::read_dir(d.join("failed"))
        .map(|r| r.count())
        .unwrap_or(0);
    if failed > 0 {
        out.note = format!("{} {failed} file(s) in failed/", out.note);
    }
    if std::env::var_os("PEERS_KEEP").is_some() {
        let keep = std::env::temp_dir().join(format!(
            "peers-smstools-{}-{}",
            tuning.replace('+', "-"),
            s.modems
        ));
        let _ = std::fs::remove_dir_all(&keep);
        let _ = Command::new("cp").arg("-r").arg(d).arg(&keep).status();
    }
    drop(_group);
    rt.block_on(emu.shutdown());
    out
}

// ---------------------------------------------------------------- gammu-smsd

fn run_gammu(s: Setup) -> Outcome {
    let tuning = "tuned";
    let Some(gammu) = have("gammu-smsd") else {
        return skipped(
            "gammu-smsd",
            tuning,
            "gammu-smsd not installed (apt-get install gammu-smsd)".into(),
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (emu, log) = emulator(&rt, d, s);
    let mut children = Vec::new();
    for i in 0..s.modems {
        let m = d.join(format!("g{i}"));
        for sub in ["inbox", "outbox", "sent", "error", "stage"] {
            std::fs::create_dir_all(m.join(sub)).unwrap();
        }
        let conf = format!(
            "[gammu]\ndevice = {dev}\nconnection = at115200\n\n[smsd]\nservice = files\n\
             logfile = {p}/smsd.log\ndebuglevel = 1\ninboxpath = {p}/inbox/\n\
             outboxpath = {p}/outbox/\nsentsmspath = {p}/sent/\nerrorsmspath = {p}/error/\n\
             outboxformat = unicode\ntransmitformat = auto\nCommTimeout = 0\nSendTimeout = 10\n\
             LoopSleep = 0\nReceiveFrequency = 3600\nStatusFrequency = 0\nCheckSecurity = 0\n\
             CheckBattery = 0\nCheckSignal = 0\nCheckNetwork = 0\nHangupCalls = 0\n",
            dev = emu.path(i).display(),
            p = m.display()
        );
        let conf_path = m.join("gammu-smsdrc");
        std::fs::write(&conf_path, conf).unwrap();
        let mut cmd = Command::new(&gammu);
        cmd.arg("-c").arg(&conf_path).arg("-p").arg(m.join("pid"));
        match Group::spawn(&mut cmd, &m.join("out.txt")) {
            Ok(c) => children.push(c),
            Err(e) => {
                drop(Group(children));
                return skipped("gammu-smsd", tuning, format!("does not start: {e}"));
            }
        }
    }
    let group = Group(children);
    wait_initialised(&emu, 3, Duration::from_secs(2), Duration::from_secs(30));

    // One process per modem, so the recipients are sharded round-robin over the outboxes
    // (what a user of gammu-smsd has to do). `unicode` outbox files are UTF-16LE with a BOM.
    let text = full_text();
    let mut utf16 = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    let start = Utc::now();
    let stamp = start.format("%Y%m%d_%H%M%S").to_string();
    for (i, n) in s.recipients().iter().enumerate() {
        let m = d.join(format!("g{}", i % s.modems));
        let name = format!("OUTA{stamp}_{i:02}_{n}_sms0.txt");
        let staged = m.join("stage").join(&name);
        std::fs::write(&staged, &utf16).unwrap();
        std::fs::rename(&staged, m.join("outbox").join(&name)).unwrap();
    }
    let mut out = collect(&log, s, start, "gammu-smsd", tuning);
    let errors: usize = (0..s.modems)
        .map(|i| {
            std::fs::read_dir(d.join(format!("g{i}/error")))
                .map(|r| r.count())
                .unwrap_or(0)
        })
        .sum();
    if errors > 0 {
        out.note = format!("{} {errors} file(s) in error/", out.note);
    }
    if std::env::var_os("PEERS_KEEP").is_some() {
        let keep = std::env::temp_dir().join(format!("peers-gammu-{}", s.modems));
        let _ = std::fs::remove_dir_all(&keep);
        let _ = Command::new("cp").arg("-r").arg(d).arg(&keep).status();
    }
    drop(group);
    rt.block_on(emu.shutdown());
    out
}

// ---------------------------------------------------------------- table

fn print_header(s: Setup) {
    println!(
        "\nN = {} modems, L = {} ms, M = {} recipients ({} per modem); ideal {:.1} msg/s, {:.2} s",
        s.modems,
        s.latency.as_millis(),
        s.modems * s.per_modem,
        s.per_modem,
        s.modems as f64 / s.latency.as_secs_f64(),
        s.ideal_seconds()
    );
    println!(
        "| {:<10} | {:<10} | {:>2} | {:>5} | {:>3} | {:>7} | {:>6} | {:>10} | {:>7} | {:>2} | {:>5} | {:>4} | {:>7} | note",
        "peer", "tuning", "N", "L ms", "M", "seconds", "msg/s", "efficiency", "first s", "ok",
        "wrong", "dups", "missing"
    );
}

fn print_row(s: Setup, o: &Outcome) {
    let m = s.modems * s.per_modem;
    let ideal = s.modems as f64 / s.latency.as_secs_f64();
    let (secs, rate, eff) = match o.seconds {
        Some(t) if t > 0.0 => (
            format!("{t:.2}"),
            format!("{:.2}", m as f64 / t),
            format!("{:.3}", m as f64 / t / ideal),
        ),
        _ => ("-".into(), "-".into(), "-".into()),
    };
    let first = o.first.map_or("-".into(), |f| format!("{f:.3}"));
    println!(
        "| {:<10} | {:<10} | {:>2} | {:>5} | {:>3} | {:>7} | {:>6} | {:>10} | {:>7} | {:>2} | {:>5} | {:>4} | {:>7} | {}",
        o.peer,
        o.tuning,
        s.modems,
        s.latency.as_millis(),
        m,
        secs,
        rate,
        eff,
        first,
        o.ok,
        o.wrong,
        o.duplicates,
        o.missing,
        o.note
    );
}

/// Appends the row to the CSV file named by `PEERS_CSV` (for the plot), if any.
fn csv_row(s: Setup, o: &Outcome) {
    let Some(path) = std::env::var_os("PEERS_CSV") else {
        return;
    };
    let m = s.modems * s.per_modem;
    let rate = o
        .seconds
        .map_or(String::new(), |t| format!("{:.3}", m as f64 / t));
    let first = o.first.map_or(String::new(), |f| format!("{f:.3}"));
    let fresh = !Path::new(&path).exists();
    let mut line = String::new();
    if fresh {
        line.push_str("peer,tuning,modems,latency_ms,recipients,msg_per_s,ideal_per_s,first_s,ok,wrong,duplicates,missing\n");
    }
    line.push_str(&format!(
        "{},{},{},{},{m},{rate},{:.3},{first},{},{},{},{}\n",
        o.peer,
        o.tuning,
        s.modems,
        s.latency.as_millis(),
        s.modems as f64 / s.latency.as_secs_f64(),
        o.ok,
        o.wrong,
        o.duplicates,
        o.missing
    ));
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`: only the in-process peer,
    // small, so that it stays quick and needs no Debian package.
    let quick = !std::env::args().any(|a| a == "--bench");
    let modems = if quick {
        vec![2]
    } else {
        env_list("PEERS_MODEMS", &[1, 4])
    };
    let latency = env_list("PEERS_LATENCY_MS", &[if quick { 20 } else { 300 }])[0];
    let per_modem = env_list("PEERS_PER_MODEM", &[if quick { 3 } else { 10 }])[0];
    let peers: Vec<String> = if quick {
        vec!["groupsms".into()]
    } else {
        std::env::var("PEERS")
            .unwrap_or_else(|_| {
                "groupsms,smstools-tuned,smstools-ucs2,smstools-default,gammu-tuned".into()
            })
            .split(',')
            .map(|p| p.trim().to_string())
            .collect()
    };
    println!("expected text on every phone: {:?}", full_text());
    for n in modems {
        let s = Setup {
            modems: n.max(1) as usize,
            latency: Duration::from_millis(latency.max(1)),
            per_modem: per_modem.max(1) as usize,
        };
        print_header(s);
        for peer in &peers {
            let o = match peer.as_str() {
                "groupsms" => run_groupsms(s),
                "smstools-tuned" => run_smstools(s, true, false),
                "smstools-ucs2" => run_smstools(s, true, true),
                "smstools-default" => run_smstools(s, false, false),
                "gammu-tuned" => run_gammu(s),
                other => skipped("?", "-", format!("unknown peer {other:?}")),
            };
            print_row(s, &o);
            csv_row(s, &o);
        }
    }
}
