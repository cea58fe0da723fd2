//! Side by side: groupsms, SMSTools3 (`smsd`) and gammu-smsd on the SAME emulated modems
//! (N modems, send latency L, M recipients per modem). Each peer runs in its own temporary
//! directory against a fresh emulator whose JSON log is the single source of truth: the
//! clock starts just before the messages are submitted, the first SMS is the earliest part
//! in the log, the end is the part that completed the last recipient. Correctness is read
//! from the log reassembled like a handset ([`Phones`]): every recipient must show exactly
//! one message with the exact text (Chinese and an emoji in it).
//!
//! `cargo bench --bench peers` (defaults: N = 1, 4; L = 300 ms; 10 recipients per modem;
//! peers groupsms, smstools-tuned, smstools-ucs2, smstools-default, gammu-tuned).
//! `PEERS_MODEMS=1,2,4 PEERS_LATENCY_MS=300 PEERS_PER_MODEM=10 PEERS=groupsms,smstools-tuned cargo bench --bench peers`
//!
//! `PEERS_CSV=file` also appends every row to a CSV file (`bench/peers-plot.gp` draws it).
//!
//! Fault scenarios (issue 7): `PEERS_SCENARIOS=healthy,errors5,errors30,noise,unplug,hang,die`
//! runs each named scenario (see [`SCENARIOS`]; `all` for every one) on N = 4 modems with 15
//! recipients each by default, with peers groupsms, groupsms-uncertain (its
//! `in_flight_policy = "uncertain"`), smstools-ucs2 and gammu-tuned. A scenario is one
//! function that sets knobs on the [`EmulatorConfig`]; the peers, their tuning and the
//! scoring are the same as in the healthy tables. Each run is watched for the whole window
//! max(5 x ideal, 40 s) (`PEERS_WINDOW_S` to change the 40), so that a late duplicate counts
//! the same for every peer; `seconds` is still the moment the last recipient was served.
//!
//! Diagnosis: `PEERS_KEEP=1` copies every peer's directory (logs, configs, spool, groupsms'
//! database, the emulator log) to `/tmp/peers-*`; `GROUPSMS_LOG=warn` prints groupsms' own
//! log on stderr; `PEERS_GAMMU_LOG=1` adds libGammu's AT transcript to gammu-smsd's log.
//!
//! A peer that has not delivered everything within max(5 x ideal, 25 s) (40 s in the fault
//! scenarios) is stopped and recorded as such. Peers whose binary is missing (`smsd` from
//! the Debian package `smstools`, `gammu-smsd` from `gammu-smsd`) are reported as skipped. Every child runs in
//! its own process group, which is terminated (then killed) at the end of its run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use groupsms::cli::client::Client;
use groupsms::config::{Config, ModemTable};
use groupsms::daemon::InProcess;
use groupsms::domain::InFlightPolicy;
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

/// One fault scenario: what it does to the emulated modems, on top of the bench's base
/// knobs (send latency L, no noise).
#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    /// One line for the table header.
    what: &'static str,
    knobs: fn(EmulatorConfig) -> EmulatorConfig,
}

/// Transient `+CMS` codes for the error scenarios: 38 network out of order, 42 congestion,
/// 332 network timeout, 500 unknown error. groupsms classifies every one as transient
/// (`groupsms::at::CmsError::class`): retried later on another modem.
const TRANSIENT_CODES: [u16; 4] = [38, 42, 332, 500];

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "healthy",
        what: "no fault (the baseline)",
        knobs: healthy,
    },
    Scenario {
        name: "errors5",
        what: "every modem: 5% of sends fail with +CMS ERROR 38/42/332/500",
        knobs: errors5,
    },
    Scenario {
        name: "errors30",
        what: "every modem: 30% of sends fail with +CMS ERROR 38/42/332/500",
        knobs: errors30,
    },
    Scenario {
        name: "noise",
        what: "every modem: a ^RSSI/^MODE/^BOOT line every ~200 ms, and in 30% of answers",
        knobs: noise,
    },
    Scenario {
        name: "noise-noboot",
        what: "as noise, but only ^RSSI/^MODE lines: no ^BOOT (which can also mean a restart)",
        knobs: noise_noboot,
    },
    Scenario {
        name: "unplug",
        what: "modem0 unplugged after its 3rd accepted part, back (new PTY, same path) 2 s later",
        knobs: unplug,
    },
    Scenario {
        name: "hang",
        what: "modem0 answers its 3rd part, then never answers anything again",
        knobs: hang,
    },
    Scenario {
        name: "die",
        what: "modem0 accepts (and logs) its 3rd part after Ctrl-Z, then never answers again",
        knobs: die,
    },
];

fn healthy(c: EmulatorConfig) -> EmulatorConfig {
    c
}

fn errors(c: EmulatorConfig, rate: f64) -> EmulatorConfig {
    c.all(|m| {
        m.knobs.error_rate = rate;
        m.knobs.error_codes = TRANSIENT_CODES.to_vec();
    })
}

fn errors5(c: EmulatorConfig) -> EmulatorConfig {
    errors(c, 0.05)
}

fn errors30(c: EmulatorConfig) -> EmulatorConfig {
    errors(c, 0.30)
}

fn noise(c: EmulatorConfig) -> EmulatorConfig {
    c.all(|m| {
        m.knobs.noise = Noise::Every(Duration::from_millis(200));
        m.knobs.noise_in_answers = 0.3;
    })
}

fn noise_noboot(c: EmulatorConfig) -> EmulatorConfig {
    noise(c).all(|m| m.knobs.noise_boot = false)
}

fn unplug(c: EmulatorConfig) -> EmulatorConfig {
    c.modem(0, |m| {
        m.knobs.unplug_after_sends = Some(3);
        m.knobs.replug_after = Some(Duration::from_secs(2));
    })
}

fn hang(c: EmulatorConfig) -> EmulatorConfig {
    c.modem(0, |m| m.knobs.hang_after_sends = Some(3))
}

fn die(c: EmulatorConfig) -> EmulatorConfig {
    c.modem(0, |m| m.knobs.die_after_ctrl_z = Some(3))
}

#[derive(Clone, Copy)]
struct Setup {
    modems: usize,
    latency: Duration,
    per_modem: usize,
    scenario: Scenario,
    /// The deadline is max(5 x ideal, this).
    floor: Duration,
    /// Watch until the deadline even when everyone was served early (late duplicates).
    whole_window: bool,
    /// Fault-scenario output (a scenario column).
    faults: bool,
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
        Duration::from_secs_f64((5.0 * self.ideal_seconds()).max(self.floor.as_secs_f64()))
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
    let cfg = (s.scenario.knobs)(cfg);
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
    if all && s.whole_window {
        std::thread::sleep(s.deadline().saturating_sub(t0.elapsed()));
    } else if all {
        std::thread::sleep(Duration::from_millis(1500));
    }
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

/// `in_flight`: the daemon's `in_flight_policy` (default `resend`).
fn run_groupsms(s: Setup, in_flight: InFlightPolicy) -> Outcome {
    let tuning = match in_flight {
        InFlightPolicy::Resend => "defaults",
        InFlightPolicy::Uncertain => "uncertain",
    };
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (emu, log) = emulator(&rt, dir.path(), s);
    let mut config = Config::default();
    config.daemon.socket = dir.path().join("s.sock");
    config.daemon.database = dir.path().join("db.sqlite");
    config.daemon.in_flight_policy = in_flight;
    config.quota.daily = 100_000;
    config.quota.monthly = 100_000;
    config.modems = vec![ModemTable {
        max_per_hour: 1_000_000,
        max_per_day: 1_000_000,
        ..ModemTable::new(format!("{}/dev/modem*", dir.path().display()))
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
            dry_run: false,
        }),
    );
    let start = Utc::now();
    call(
        &mut c,
        Request::Send(p::Send {
            group: "g".into(),
            as_member: "m0".into(),
            text: BODY.into(),
            urgent: false,
        }),
    );
    let out = collect(&log, s, start, "groupsms", tuning);
    let _ = daemon.stop(&rt);
    rt.block_on(emu.shutdown());
    keep_for_inspection(&format!("groupsms-{tuning}"), s, dir.path());
    out
}

/// With `PEERS_KEEP` set, copies a run's directory (logs, configs, spool, database, the
/// emulator log) to `/tmp/peers-<label>-<N>-<scenario>` for inspection.
fn keep_for_inspection(label: &str, s: Setup, dir: &Path) {
    if std::env::var_os("PEERS_KEEP").is_none() {
        return;
    }
    let keep = std::env::temp_dir().join(format!("peers-{label}-{}-{}", s.modems, s.scenario.name));
    let _ = std::fs::remove_dir_all(&keep);
    let _ = Command::new("cp").arg("-r").arg(dir).arg(&keep).status();
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
    keep_for_inspection(&format!("smstools-{}", tuning.replace('+', "-")), s, d);
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
        // `PEERS_GAMMU_LOG=1`: libGammu's own AT transcript in smsd.log (for diagnosis; it
        // slows gammu-smsd down, so not for figures).
        let conf = if std::env::var_os("PEERS_GAMMU_LOG").is_some() {
            conf.replacen("[smsd]", "logformat = textalldate\n\n[smsd]", 1)
                .replace("debuglevel = 1", "debuglevel = 255")
        } else {
            conf
        };
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
    keep_for_inspection("gammu", s, d);
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
    if s.faults {
        println!(
            "scenario {}: {}; deadline {:.0} s{}",
            s.scenario.name,
            s.scenario.what,
            s.deadline().as_secs_f64(),
            if s.whole_window {
                ", every run watched for all of it"
            } else {
                ""
            }
        );
    }
    println!(
        "| {}{:<10} | {:<11} | {:>2} | {:>5} | {:>3} | {:>7} | {:>6} | {:>10} | {:>7} | {:>2} | {:>5} | {:>4} | {:>7} | note",
        if s.faults { format!("{:<12} | ", "scenario") } else { String::new() },
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
        "| {}{:<10} | {:<11} | {:>2} | {:>5} | {:>3} | {:>7} | {:>6} | {:>10} | {:>7} | {:>2} | {:>5} | {:>4} | {:>7} | {}",
        if s.faults { format!("{:<12} | ", s.scenario.name) } else { String::new() },
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

/// Appends the row to the CSV file named by `PEERS_CSV` (for the plot), if any. The fault
/// scenarios write a `scenario` column first and a `note` column last.
fn csv_row(s: Setup, o: &Outcome) {
    let Some(path) = std::env::var_os("PEERS_CSV") else {
        return;
    };
    let m = s.modems * s.per_modem;
    let rate = o
        .seconds
        .map_or(String::new(), |t| format!("{:.3}", m as f64 / t));
    let secs = o.seconds.map_or(String::new(), |t| format!("{t:.3}"));
    let first = o.first.map_or(String::new(), |f| format!("{f:.3}"));
    let fresh = !Path::new(&path).exists();
    let mut line = String::new();
    if fresh && s.faults {
        line.push_str("scenario,peer,tuning,modems,latency_ms,recipients,deadline_s,seconds,msg_per_s,ideal_per_s,first_s,ok,wrong,duplicates,missing,note\n");
    } else if fresh {
        line.push_str("peer,tuning,modems,latency_ms,recipients,msg_per_s,ideal_per_s,first_s,ok,wrong,duplicates,missing\n");
    }
    let ideal = s.modems as f64 / s.latency.as_secs_f64();
    if s.faults {
        line.push_str(&format!(
            "{},{},{},{},{},{m},{:.0},{secs},{rate},{ideal:.3},{first},{},{},{},{},\"{}\"\n",
            s.scenario.name,
            o.peer,
            o.tuning,
            s.modems,
            s.latency.as_millis(),
            s.deadline().as_secs_f64(),
            o.ok,
            o.wrong,
            o.duplicates,
            o.missing,
            o.note.trim().replace('"', "'")
        ));
    } else {
        line.push_str(&format!(
            "{},{},{},{},{m},{rate},{ideal:.3},{first},{},{},{},{}\n",
            o.peer,
            o.tuning,
            s.modems,
            s.latency.as_millis(),
            o.ok,
            o.wrong,
            o.duplicates,
            o.missing
        ));
    }
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

fn run_peer(peer: &str, s: Setup) -> Outcome {
    match peer {
        "groupsms" => run_groupsms(s, InFlightPolicy::Resend),
        "groupsms-uncertain" => run_groupsms(s, InFlightPolicy::Uncertain),
        "smstools-tuned" => run_smstools(s, true, false),
        "smstools-ucs2" => run_smstools(s, true, true),
        "smstools-default" => run_smstools(s, false, false),
        "gammu-tuned" => run_gammu(s),
        other => skipped("?", "-", format!("unknown peer {other:?}")),
    }
}

/// The scenarios named in `PEERS_SCENARIOS` (`all`: every one), or why not.
fn scenarios(names: &str) -> Result<Vec<Scenario>, String> {
    if names.trim() == "all" {
        return Ok(SCENARIOS.to_vec());
    }
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            SCENARIOS
                .iter()
                .copied()
                .find(|s| s.name == n)
                .ok_or_else(|| {
                    let known: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
                    format!(
                        "unknown scenario {n:?} in PEERS_SCENARIOS (known: all, {})",
                        known.join(", ")
                    )
                })
        })
        .collect()
}

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`: only the in-process peer,
    // small, so that it stays quick and needs no Debian package; one tiny fault scenario
    // (noise without ^BOOT) for it, so that the scenario path is exercised too.
    let quick = !std::env::args().any(|a| a == "--bench");
    // `GROUPSMS_LOG=debug` (as for the daemon): groupsms' own log on stderr.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("GROUPSMS_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let chosen = std::env::var("PEERS_SCENARIOS").ok();
    let faults = quick || chosen.is_some();
    let list = if quick {
        scenarios("healthy,noise-noboot").expect("known scenarios")
    } else {
        match chosen.as_deref().map(scenarios) {
            Some(Ok(list)) => list,
            Some(Err(e)) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
            None => vec![SCENARIOS[0]],
        }
    };
    let modems = if quick {
        vec![2]
    } else {
        env_list("PEERS_MODEMS", if faults { &[4] } else { &[1, 4] })
    };
    let latency = env_list("PEERS_LATENCY_MS", &[if quick { 20 } else { 300 }])[0];
    let per_modem = env_list(
        "PEERS_PER_MODEM",
        &[match (quick, faults) {
            (true, _) => 3,
            (false, true) => 15,
            (false, false) => 10,
        }],
    )[0];
    let floor = if faults && !quick {
        env_list("PEERS_WINDOW_S", &[40])[0]
    } else {
        25
    };
    let peers: Vec<String> = if quick {
        vec!["groupsms".into()]
    } else {
        let default = if faults {
            "groupsms,groupsms-uncertain,smstools-ucs2,gammu-tuned"
        } else {
            "groupsms,smstools-tuned,smstools-ucs2,smstools-default,gammu-tuned"
        };
        std::env::var("PEERS")
            .unwrap_or_else(|_| default.into())
            .split(',')
            .map(|p| p.trim().to_string())
            .collect()
    };
    println!("expected text on every phone: {:?}", full_text());
    for n in modems {
        for &scenario in &list {
            let s = Setup {
                modems: n.max(1) as usize,
                latency: Duration::from_millis(latency.max(1)),
                per_modem: per_modem.max(1) as usize,
                scenario,
                floor: Duration::from_secs(floor.max(1)),
                whole_window: faults && !quick,
                faults,
            };
            print_header(s);
            for peer in &peers {
                let o = run_peer(peer, s);
                print_row(s, &o);
                csv_row(s, &o);
                if quick {
                    assert!(
                        o.seconds.is_some()
                            && o.ok == s.modems * s.per_modem
                            && o.wrong + o.duplicates == 0,
                        "groupsms did not serve everyone in the quick pass ({}): {}",
                        scenario.name,
                        o.note
                    );
                }
            }
        }
    }
}
