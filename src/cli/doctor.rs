//! `groupsms doctor`: from first install to daily use, one command that checks, in order, the
//! configuration, the database, the socket, each configured modem, signs of a carrier block,
//! the time zone and the clock, and says what to do about each failure in one line.
//!
//! Nothing is changed: the database is opened read-only, no PIN is entered, no setting is
//! written to a SIM. A modem is asked a snapshot of questions through the engine
//! ([`crate::modem::Engine::command`] and the parsers of [`crate::at::parse`]), one question
//! each, instead of running init (which waits up to a minute for a SIM or a network and stops
//! at the first problem). While a daemon answers on the socket it holds the ports, so the
//! modems are then read from its `modem list`.
//!
//! Output: `ok|warn|fail <check>: <detail>` per check and `  -> <what to do>` under each warn
//! and fail; `--json` prints an array of `{check, status, detail, advice}`. Exit status 0 when
//! nothing failed (warnings allowed), 1 otherwise.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;
use serde_json::Value;

use super::Cli;
// The signs of a carrier block are the daemon's (`at::codes`): a barring code fails at once,
// suspect ones count when they repeat on one SIM.
use crate::at::codes::{BARRING_CODES, SUSPECT_CODES};
use crate::at::CmsError;
use crate::config::{Config, ConfigError};
use crate::protocol::{self as p, Request};
use crate::store::inspect::{self, Inspection};
use crate::store::{StoreError, SCHEMA_VERSION};

mod device;

/// `--help` text on exit statuses.
pub const EXIT_HELP: &str =
    "Prints one line per check, `ok|warn|fail <check>: <detail>`, and under each warn or \
fail `  -> <what to do>`; with --json, an array of {check, status, detail, advice}.\n\n\
Exit status: 0 nothing failed (warnings allowed); 1 at least one check failed; 2 bad command line.";

/// Where the service's configuration lives (`systemd/groupsms.service`).
pub const SERVICE_CONFIG: &str = "/etc/groupsms/groupsms.toml";

/// Below this much free space on the database's file system, a warning.
pub const LOW_DISK_BYTES: u64 = 100 * 1024 * 1024;

/// How far back recent errors are read.
const RECENT_HOURS: i64 = 24;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: String,
    pub status: Status,
    pub detail: String,
    pub advice: Option<String>,
}

/// The checks so far; printed as they come in text mode.
pub(crate) struct Report {
    json: bool,
    checks: Vec<Check>,
}

impl Report {
    fn push(&mut self, status: Status, check: String, detail: String, advice: Option<String>) {
        let c = Check {
            check,
            status,
            detail,
            advice,
        };
        if !self.json {
            println!("{} {}: {}", c.status.word(), c.check, c.detail);
            if let Some(a) = &c.advice {
                println!("  -> {a}");
            }
        }
        self.checks.push(c);
    }

    pub(crate) fn ok(&mut self, check: impl Into<String>, detail: impl Into<String>) {
        self.push(Status::Ok, check.into(), detail.into(), None);
    }

    pub(crate) fn warn(
        &mut self,
        check: impl Into<String>,
        detail: impl Into<String>,
        advice: impl Into<String>,
    ) {
        self.push(
            Status::Warn,
            check.into(),
            detail.into(),
            Some(advice.into()),
        );
    }

    pub(crate) fn fail(
        &mut self,
        check: impl Into<String>,
        detail: impl Into<String>,
        advice: impl Into<String>,
    ) {
        self.push(
            Status::Fail,
            check.into(),
            detail.into(),
            Some(advice.into()),
        );
    }

    fn finish(self) -> ExitCode {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&self.checks).unwrap_or_default()
            );
        }
        if self.checks.iter().any(|c| c.status == Status::Fail) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Runs every check (the configuration is read here, so that a broken one is reported as a
/// check rather than refused before).
pub fn run(cli: &Cli) -> ExitCode {
    let mut r = Report {
        json: cli.json,
        checks: Vec::new(),
    };
    let Some(config) = check_config(&mut r, cli.config.as_deref()) else {
        return r.finish();
    };
    let socket = cli
        .socket
        .clone()
        .unwrap_or_else(|| config.daemon.socket.clone());
    // This daemon's name: the carrier check reads its own modems' outcomes (another host's
    // device may have the same name).
    let host = config.daemon.host_name().ok();
    let db = match config.daemon.database() {
        Ok(crate::store::Database::Postgres(_)) => {
            let db = check_postgres(&mut r, &config, host.as_deref());
            if let Some(db) = &db {
                check_hosts(&mut r, db, host.as_deref());
            }
            db
        }
        _ => check_database(&mut r, &config.daemon.database, host.as_deref()),
    };
    let daemon_modems = check_socket(&mut r, &socket);
    let clocks = device::check_devices(&mut r, &config, daemon_modems.as_deref());
    check_carrier(&mut r, daemon_modems.as_deref(), db.as_ref());
    check_time(&mut r, &config, &clocks);
    r.finish()
}

fn check_config(r: &mut Report, given: Option<&Path>) -> Option<Config> {
    let (path, how) = match given {
        Some(p) => {
            let from_env = std::env::var_os("GROUPSMS_CONFIG").is_some_and(|v| Path::new(&v) == p);
            (
                p.to_path_buf(),
                if from_env {
                    "from GROUPSMS_CONFIG"
                } else {
                    "from --config"
                },
            )
        }
        None if Path::new(SERVICE_CONFIG).exists() => (
            PathBuf::from(SERVICE_CONFIG),
            "the service's file; other commands read it only with --config or GROUPSMS_CONFIG",
        ),
        None => {
            r.warn(
                "config",
                format!(
                    "no file given (--config, GROUPSMS_CONFIG) and none at {SERVICE_CONFIG}: built-in defaults, no modems"
                ),
                format!("write {SERVICE_CONFIG} (README, Configuration) and pass it with --config or GROUPSMS_CONFIG"),
            );
            return Some(Config::default());
        }
    };
    match Config::load(&path) {
        Ok(config) => {
            let n = config.modems.len();
            r.ok(
                "config",
                format!(
                    "{} ({how}): read, {n} [[modem]] entr{}",
                    path.display(),
                    if n == 1 { "y" } else { "ies" }
                ),
            );
            Some(config)
        }
        Err(e @ ConfigError::Read { .. }) => {
            r.fail(
                "config",
                e.to_string(),
                "give the right file with --config or GROUPSMS_CONFIG, readable by you",
            );
            None
        }
        Err(e @ ConfigError::Invalid { .. }) => {
            r.fail(
                "config",
                e.to_string(),
                format!(
                    "fix {} at that line (unknown keys and bad values are refused; README lists the keys); the daemon will not start with it",
                    path.display()
                ),
            );
            None
        }
    }
}

/// `owner:group mode` of a file, for messages.
fn ownership(meta: &std::fs::Metadata) -> String {
    let user = nix::unistd::User::from_uid(meta.uid().into())
        .ok()
        .flatten()
        .map_or_else(|| meta.uid().to_string(), |u| u.name);
    let group = group_name(meta.gid());
    format!("{user}:{group}, mode {:04o}", meta.mode() & 0o7777)
}

pub(crate) fn group_name(gid: u32) -> String {
    nix::unistd::Group::from_gid(gid.into())
        .ok()
        .flatten()
        .map_or_else(|| gid.to_string(), |g| g.name)
}

pub(crate) fn you() -> String {
    let uid = nix::unistd::geteuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| "?".to_string(), |u| u.name);
    format!("{name}, uid {uid}")
}

/// Whether this process may access `path` as `mode` (real ids, as access(2) checks).
pub(crate) fn may(path: &Path, mode: nix::unistd::AccessFlags) -> bool {
    nix::unistd::access(path, mode).is_ok()
}

fn check_database(r: &mut Report, path: &Path, host: Option<&str>) -> Option<Inspection> {
    use nix::unistd::AccessFlags as A;
    let shown = path.display();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir_meta = match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => m,
        _ => {
            r.fail(
                "database directory",
                format!("{shown}: the directory {} does not exist", dir.display()),
                format!(
                    "create it for the daemon's user: install -d -o groupsms -g groupsms -m 0750 {} (the systemd unit's StateDirectory does this)",
                    dir.display()
                ),
            );
            return None;
        }
    };
    let dir_writable = may(&dir, A::W_OK | A::X_OK);
    if !dir_writable {
        r.fail(
            "database directory",
            format!(
                "{shown}: the directory {} is not writable by you ({}; it is {})",
                dir.display(),
                you(),
                ownership(&dir_meta)
            ),
            format!(
                "run as the daemon's user, or give the directory to it: chown groupsms:groupsms {}",
                dir.display()
            ),
        );
    }
    let inspection = match std::fs::metadata(path) {
        Err(_) => {
            if dir_writable {
                r.ok(
                    "database",
                    format!("{shown}: not created yet; the daemon creates it at its first start"),
                );
            }
            None
        }
        Ok(meta) => {
            if !may(path, A::R_OK | A::W_OK) {
                r.fail(
                    "database",
                    format!(
                        "{shown}: not readable and writable by you ({}; it is {})",
                        you(),
                        ownership(&meta)
                    ),
                    format!("run as the daemon's user, or: chown groupsms:groupsms {shown}"),
                );
            } else if dir_writable {
                r.ok(
                    "database",
                    format!("{shown}: {} bytes, {}", meta.len(), ownership(&meta)),
                );
            }
            let since = crate::clock::now() - chrono::Duration::hours(RECENT_HOURS);
            match inspect::inspect(path, since, host) {
                Ok(i) => {
                    check_schema(
                        r,
                        &path.display().to_string(),
                        i.schema_version,
                        &format!("cp {0} {0}.bak", path.display()),
                    );
                    Some(i)
                }
                Err(e @ StoreError::NotADatabase { .. }) => {
                    r.fail(
                        "database schema",
                        e.to_string(),
                        "point daemon.database at the right file, or move this one away",
                    );
                    None
                }
                Err(e) => {
                    r.fail(
                        "database schema",
                        e.to_string(),
                        "check the file's permissions and that no other program holds it",
                    );
                    None
                }
            }
        }
    };
    match nix::sys::statvfs::statvfs(&dir) {
        Ok(s) => {
            let free = s.blocks_available().saturating_mul(s.fragment_size());
            let detail = format!(
                "{} MB free on the file system of {}",
                free / 1_000_000,
                dir.display()
            );
            if free < LOW_DISK_BYTES {
                r.warn(
                    "disk space",
                    detail,
                    "free some space: the database and its WAL grow with every delivery recorded",
                );
            } else {
                r.ok("disk space", detail);
            }
        }
        Err(e) => r.warn(
            "disk space",
            format!("cannot read the free space of {}: {e}", dir.display()),
            "check the file system with df",
        ),
    }
    inspection
}

/// A PostgreSQL database: reachable with the configured user and password, its schema
/// version, the recent outcomes (read-only).
fn check_postgres(r: &mut Report, config: &Config, host: Option<&str>) -> Option<Inspection> {
    let db = match config.daemon.database_with_password() {
        Ok(db) => db,
        Err(e) => {
            r.fail(
                "database",
                e,
                "fix [daemon] database or database_password_file",
            );
            return None;
        }
    };
    let crate::store::Database::Postgres(target) = &db else {
        return None;
    };
    let since = chrono::Utc::now() - chrono::Duration::hours(24);
    match crate::store::inspect::inspect_postgres(target, since, host) {
        Ok(i) => {
            r.ok(
                "database",
                format!("PostgreSQL at {}: reachable", target.label()),
            );
            check_schema(
                r,
                target.label(),
                i.schema_version,
                &format!("pg_dump -Fc -f groupsms.dump '{}'", target.label()),
            );
            Some(i)
        }
        Err(e) => {
            r.fail(
                "database",
                format!("PostgreSQL at {}: {e}", target.label()),
                "check that the server runs and listens there, the user, the database and \
                 database_password_file (or $PGPASSWORD)",
            );
            None
        }
    }
}

/// The daemons sharing a PostgreSQL database, from their rows: each with its state and last
/// heartbeat; a warning for one still `up` whose heartbeat is older than its lease (it went
/// silent and no other daemon runs to take its deliveries over).
fn check_hosts(r: &mut Report, db: &Inspection, me: Option<&str>) {
    if db.hosts.is_empty() {
        return;
    }
    let now = chrono::Utc::now();
    let age = |h: &crate::store::hosts::HostRecord| (now - h.heartbeat_at).num_seconds().max(0);
    let listed: Vec<String> = db
        .hosts
        .iter()
        .map(|h| {
            let this = if Some(h.name.as_str()) == me {
                " (this one)"
            } else {
                ""
            };
            match h.state.as_str() {
                "lost" => format!(
                    "{}{this} lost {} s ago, its deliveries taken over by {}",
                    h.name,
                    age(h),
                    h.recovered_by.as_deref().unwrap_or("another host")
                ),
                state => format!("{}{this} {state}, last heartbeat {} s ago", h.name, age(h)),
            }
        })
        .collect();
    let silent: Vec<&str> = db
        .hosts
        .iter()
        .filter(|h| h.state == "up" && now - h.heartbeat_at > h.lease)
        .map(|h| h.name.as_str())
        .collect();
    if silent.is_empty() {
        r.ok("hosts", listed.join("; "));
    } else {
        r.warn(
            "hosts",
            format!(
                "{}; silent past its lease: {}",
                listed.join("; "),
                silent.join(", ")
            ),
            "start that daemon again, or any daemon on this database: it takes over what the \
             silent one was sending",
        );
    }
}

fn check_schema(r: &mut Report, shown: &str, found: u32, backup: &str) {
    if found == SCHEMA_VERSION {
        r.ok(
            "database schema",
            format!("version {found}, the one this binary writes"),
        );
    } else if found == 0 {
        r.warn(
            "database schema",
            format!("{shown} has no schema yet (version 0)"),
            "the daemon creates it at start; if this file is not groupsms', point daemon.database elsewhere",
        );
    } else if found < SCHEMA_VERSION {
        r.warn(
            "database schema",
            format!("version {found}, older than this binary's {SCHEMA_VERSION}"),
            format!("the daemon migrates it at its next start; back it up first: {backup}"),
        );
    } else {
        r.fail(
            "database schema",
            format!("version {found}, newer than this binary's {SCHEMA_VERSION}"),
            "install the groupsms that wrote it, or restore a backup",
        );
    }
}

/// The socket and the daemon behind it; the daemon's modem list when it answers.
fn check_socket(r: &mut Report, path: &Path) -> Option<Vec<Value>> {
    let shown = path.display();
    let start = "start the daemon: systemctl start groupsms (or groupsms --config FILE daemon)";
    match std::fs::symlink_metadata(path) {
        Err(_) => {
            r.warn(
                "socket",
                format!("nothing at {shown}: no daemon running"),
                start,
            );
            return None;
        }
        Ok(m) if !m.file_type().is_socket() => {
            r.fail(
                "socket",
                format!("{shown} exists and is not a socket"),
                "move it away: the daemon makes its socket there at start",
            );
            return None;
        }
        Ok(_) => {}
    }
    if let Err(e) = std::os::unix::net::UnixStream::connect(path) {
        match e.kind() {
            std::io::ErrorKind::PermissionDenied => r.fail(
                "socket",
                format!("permission denied on {shown} ({})", you()),
                "add yourself to group groupsms: sudo usermod -aG groupsms $USER, then log in again",
            ),
            std::io::ErrorKind::ConnectionRefused => r.warn(
                "socket",
                format!("{shown} is left over: no daemon listens on it"),
                start,
            ),
            _ => r.fail(
                "socket",
                format!("cannot connect to {shown}: {e}"),
                "see the daemon's log: journalctl -u groupsms",
            ),
        }
        return None;
    }
    let mut client = match super::client::Client::connect(path) {
        Ok(c) => c,
        Err(f) => {
            r.fail(
                "socket",
                f.message,
                "see the daemon's log: journalctl -u groupsms",
            );
            return None;
        }
    };
    r.ok(
        "socket",
        format!(
            "{shown}: the daemon answers hello (protocol {})",
            p::PROTOCOL_VERSION
        ),
    );
    match client.call(Request::ModemList(p::Empty {})) {
        Ok(v) => Some(v["modems"].as_array().cloned().unwrap_or_default()),
        Err(f) => {
            r.fail(
                "socket",
                format!(
                    "the daemon answered hello but not modem_list: {}",
                    f.message
                ),
                "see the daemon's log: journalctl -u groupsms",
            );
            None
        }
    }
}

/// Failures on one modem with nothing sent, from which repetition is suspicious.
const REPEATED: usize = 3;

/// The codes in a text (`+CMS ERROR: 38`, `+CMS ERROR: 38 (Network out of order)`).
fn cms_codes(text: &str) -> Vec<u16> {
    text.match_indices("+CMS ERROR:")
        .filter_map(|(i, m)| {
            let rest = text[i + m.len()..].trim_start();
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

#[derive(Default)]
struct ModemErrors {
    sent: usize,
    failures: usize,
    codes: Vec<u16>,
}

fn check_carrier(r: &mut Report, daemon: Option<&[Value]>, db: Option<&Inspection>) {
    let mut per: std::collections::BTreeMap<String, ModemErrors> = Default::default();
    let mut looked = Vec::new();
    if let Some(db) = db {
        looked.push(format!(
            "{} recent outcomes in the database",
            db.recent.len()
        ));
        for o in &db.recent {
            let e = per
                .entry(o.modem.clone().unwrap_or_else(|| "(no modem)".into()))
                .or_default();
            if o.sent {
                e.sent += 1;
            } else if let Some(err) = &o.error {
                e.failures += 1;
                e.codes.extend(cms_codes(err));
            }
        }
    }
    if let Some(modems) = daemon {
        looked.push(format!("{} modems' problems from the daemon", modems.len()));
        for m in modems {
            if let (Some(device), Some(problem)) = (m["device"].as_str(), m["problem"].as_str()) {
                let codes = cms_codes(problem);
                if !codes.is_empty() {
                    let e = per.entry(device.to_string()).or_default();
                    e.failures += 1;
                    e.codes.extend(codes);
                }
            }
        }
    }
    if looked.is_empty() {
        r.ok(
            "carrier block",
            "nothing to look at yet (no database, no daemon)",
        );
        return;
    }
    let named = |code: u16, n: usize| {
        format!(
            "{n} x +CMS ERROR: {code} ({})",
            CmsError::from_code(code).name()
        )
    };
    let mut found = false;
    for (modem, e) in &per {
        let count = |code: u16| e.codes.iter().filter(|c| **c == code).count();
        let barred: Vec<String> = BARRING_CODES
            .iter()
            .filter(|c| count(**c) > 0)
            .map(|c| named(*c, count(*c)))
            .collect();
        if !barred.is_empty() {
            found = true;
            r.fail(
                format!("carrier block {modem}"),
                format!("{} in the last {RECENT_HOURS} h: the network says this SIM may not send", barred.join(", ")),
                "ask the carrier why the SIM is barred (unpaid, suspected spam, SMS not in the plan); the daemon keeps using the other modems",
            );
            continue;
        }
        if e.sent == 0 && e.failures >= REPEATED {
            found = true;
            let suspects: Vec<String> = SUSPECT_CODES
                .iter()
                .filter(|c| count(**c) > 0)
                .map(|c| named(*c, count(*c)))
                .collect();
            let what = if suspects.is_empty() {
                String::new()
            } else {
                format!(" ({})", suspects.join(", "))
            };
            r.warn(
                format!("carrier block {modem}"),
                format!(
                    "{} failures{what} and nothing sent in the last {RECENT_HOURS} h; a heuristic: carriers are reported to answer so when they block a SIM, but these codes also mean ordinary network trouble",
                    e.failures
                ),
                "send a test SMS with this SIM in a phone; if that fails too, ask the carrier",
            );
        }
    }
    if !found {
        r.ok(
            "carrier block",
            format!(
                "no sign in the last {RECENT_HOURS} h ({})",
                looked.join(", ")
            ),
        );
    }
}

/// Network time one modem gave.
pub(crate) struct ClockSample {
    pub device: String,
    pub time: DateTime<Utc>,
}

/// Largest difference between the system clock and a modem's network time before a warning.
const CLOCK_TOLERANCE_SECS: i64 = 300;

fn check_time(r: &mut Report, config: &Config, samples: &[ClockSample]) {
    let now = crate::clock::now();
    // The zone was parsed when the configuration was read (a bad one fails the config check).
    let tz = config.tz();
    r.ok(
        "time zone",
        format!(
            "{tz}: local time {}",
            now.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z")
        ),
    );
    if now.year() < 2024 {
        r.fail(
            "clock",
            format!("the system clock says {}: it looks unset", now.format("%Y-%m-%d %H:%M:%S UTC")),
            "set it: enable NTP (timedatectl set-ntp true); quota days, caps and timestamps depend on it",
        );
    } else {
        r.ok(
            "clock",
            format!("system clock {}", now.format("%Y-%m-%d %H:%M:%S UTC")),
        );
    }
    for s in samples {
        let diff = (s.time - now).num_seconds();
        let detail = format!(
            "network time from the modem is {} s {} the system clock",
            diff.abs(),
            if diff >= 0 { "ahead of" } else { "behind" }
        );
        if diff.abs() > CLOCK_TOLERANCE_SECS {
            r.warn(
                format!("clock {}", s.device),
                detail,
                "check the system clock (timedatectl; NTP); the network's time is usually right",
            );
        } else {
            r.ok(format!("clock {}", s.device), detail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_in_errors_and_problems() {
        assert_eq!(cms_codes("+CMS ERROR: 38"), vec![38]);
        assert_eq!(
            cms_codes("+CMS ERROR: 10 (Call barred) after +CMS ERROR:500"),
            vec![10, 500]
        );
        assert!(cms_codes("SIM: no SIM card inserted").is_empty());
        assert!(cms_codes("+CMS ERROR: ").is_empty());
    }

    fn outcome(modem: &str, sent: bool, error: Option<&str>) -> inspect::RecentOutcome {
        inspect::RecentOutcome {
            modem: Some(modem.into()),
            sent,
            error: error.map(str::to_string),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn carrier_signs_barring_fails_repetition_warns() {
        let e38 = Some("+CMS ERROR: 38 (gave up after 5 tries)");
        let db = Inspection {
            schema_version: SCHEMA_VERSION,
            recent: vec![
                // Three failures, nothing sent: the heuristic.
                outcome("/dev/a", false, e38),
                outcome("/dev/a", false, e38),
                outcome("/dev/a", false, Some("+CMS ERROR: 500")),
                // The same codes with sends in between: ordinary trouble.
                outcome("/dev/b", false, e38),
                outcome("/dev/b", false, e38),
                outcome("/dev/b", false, e38),
                outcome("/dev/b", true, None),
            ],
            hosts: Vec::new(),
        };
        let daemon = vec![
            serde_json::json!({"device": "/dev/c", "problem": "+CMS ERROR: 10 (Call barred)"}),
            serde_json::json!({"device": "/dev/d", "problem": "SIM: no SIM card inserted"}),
        ];
        let mut r = Report {
            json: true,
            checks: Vec::new(),
        };
        check_carrier(&mut r, Some(&daemon), Some(&db));
        let got: Vec<(&str, Status)> = r
            .checks
            .iter()
            .map(|c| (c.check.as_str(), c.status))
            .collect();
        assert_eq!(
            got,
            [
                ("carrier block /dev/a", Status::Warn),
                ("carrier block /dev/c", Status::Fail)
            ]
        );
        assert!(r.checks[0].detail.starts_with(
            "3 failures (2 x +CMS ERROR: 38 (Network out of order), 1 x +CMS ERROR: 500 ("
        ));
        assert!(r.checks[0].detail.contains("a heuristic"));
        assert!(r.checks[1]
            .detail
            .starts_with("1 x +CMS ERROR: 10 (Call barred) in the last 24 h"));

        let mut r = Report {
            json: true,
            checks: Vec::new(),
        };
        check_carrier(&mut r, None, None);
        assert_eq!(r.checks[0].status, Status::Ok);
        assert_eq!(
            r.checks[0].detail,
            "nothing to look at yet (no database, no daemon)"
        );
    }

    #[test]
    fn report_lines_and_exit() {
        let mut r = Report {
            json: true,
            checks: Vec::new(),
        };
        r.ok("a", "fine");
        r.warn("b", "meh", "do this");
        assert_eq!(r.checks[1].advice.as_deref(), Some("do this"));
        let v = serde_json::to_value(&r.checks).unwrap();
        assert_eq!(v[1]["status"], "warn");
        assert_eq!(v[0]["advice"], Value::Null);
    }
}
