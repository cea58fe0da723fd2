//! The modem checks of `groupsms doctor`: each configured device, through the running daemon
//! or opened directly; who holds a busy port (`/proc/*/fd`); which sibling tty of a USB stick
//! answers AT (sysfs).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{group_name, may, you, ClockSample, Report};
use crate::at::parse::{self, PinState, RegStat};
use crate::at::{CmeError, Final};
use crate::config::{Config, ModemTable};
use crate::modem::{discovery, port, Engine, ModemConfig, ModemError, SimProblem};

/// A word for a signal level in dBm (the usual bars: above -70 excellent, -85 good, -100 fair).
pub fn signal_word(dbm: Option<i32>) -> &'static str {
    match dbm {
        None => "none",
        Some(d) if d >= -70 => "excellent",
        Some(d) if d >= -85 => "good",
        Some(d) if d >= -100 => "fair",
        Some(_) => "poor",
    }
}

fn signal_line(r: &mut Report, device: &str, dbm: Option<i32>, how: &str) {
    let word = signal_word(dbm);
    let check = format!("signal {device}");
    match dbm {
        Some(d) if word != "poor" => r.ok(check, format!("{d} dBm ({word}){how}")),
        Some(d) => r.warn(
            check,
            format!("{d} dBm ({word}){how}: sends may fail or take long"),
            "move the stick or its antenna (a USB extension cable helps), or try another carrier",
        ),
        None => r.warn(
            check,
            format!("no signal measured{how}"),
            "check the antenna and coverage",
        ),
    }
}

pub(super) fn check_devices(
    r: &mut Report,
    config: &Config,
    daemon: Option<&[Value]>,
) -> Vec<ClockSample> {
    let mut clocks = Vec::new();
    if config.modems.is_empty() {
        r.warn(
            "modems",
            "no [[modem]] entry in the configuration",
            "add one, e.g. [[modem]] device = \"/dev/gsm/*\" (README, Configuration)",
        );
        return clocks;
    }
    let runtime = if daemon.is_none() {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => Some(rt),
            Err(e) => {
                r.fail("modems", format!("cannot start the runtime: {e}"), "retry");
                return clocks;
            }
        }
    } else {
        None
    };
    for entry in &config.modems {
        let paths = discovery::expand(&entry.device);
        if paths.is_empty() {
            r.fail(
                format!("modem {}", entry.device),
                "no device matches now",
                "plug the modem in; check ls -l /dev/gsm/ and the udev rules (README, Real hardware)",
            );
            continue;
        }
        for path in paths {
            match (daemon, &runtime) {
                (Some(list), _) => through_daemon(r, &path, list),
                (None, Some(rt)) => {
                    if let Some(c) = rt.block_on(direct(r, entry, &path)) {
                        clocks.push(c);
                    }
                }
                (None, None) => {}
            }
        }
    }
    clocks
}

fn through_daemon(r: &mut Report, path: &str, list: &[Value]) {
    let check = format!("modem {path}");
    let Some(m) = list.iter().find(|m| m["device"].as_str() == Some(path)) else {
        r.fail(
            check,
            "matches the configuration, but the running daemon does not list it",
            "the daemon takes new devices as they appear; if it stays missing, restart the daemon and read journalctl -u groupsms",
        );
        return;
    };
    let state = m["state"].as_str().unwrap_or("unknown");
    let mut detail = format!("checked through the running daemon: {state}");
    if let Some(imsi) = m["imsi"].as_str() {
        detail.push_str(&format!(", IMSI {imsi}"));
    }
    if let Some(op) = m["operator"].as_str() {
        detail.push_str(&format!(", {op}"));
    }
    if let Some(problem) = m["problem"].as_str() {
        detail.push_str(&format!(" ({problem})"));
    }
    let advice = match state {
        "ready" | "busy" => None,
        "probing" | "needs-reinit" | "unknown" => {
            r.warn(
                check,
                detail,
                "the daemon is still setting it up: run doctor again in a minute",
            );
            return;
        }
        "no-sim" => Some("power the stick off, insert a SIM, plug it in again"),
        "pin-needed" => Some("put the SIM's PIN in its [[modem]] entry (pin = \"...\"), or remove the PIN lock in a phone"),
        "sim-locked" => Some("the SIM needs a human: unlock it with its PUK in a phone"),
        "not-registered" => Some("check the antenna, the coverage and that the SIM is activated"),
        "hung" | "gone" => Some("unplug the stick and plug it in again"),
        _ => Some("see the problem above; the daemon tries the modem again every scheduler.reprobe_secs"),
    };
    match advice {
        None => r.ok(check, detail),
        Some(a) => r.fail(check, detail, a),
    }
    if matches!(state, "ready" | "busy") {
        let dbm = m["signal_dbm"].as_i64().and_then(|d| i32::try_from(d).ok());
        signal_line(r, path, dbm, " (from the daemon)");
    }
}

/// The engine settings for quick questions: a few seconds per answer, not init's minutes.
fn quick(entry: &ModemTable) -> ModemConfig {
    ModemConfig {
        command_timeout: Duration::from_secs(3),
        resync_timeout: Duration::from_secs(1),
        resync_attempts: 2,
        resync_quiet: Duration::from_millis(100),
        command_gap: Duration::from_millis(entry.command_gap_ms),
        ..ModemConfig::default()
    }
}

/// The information lines of an `OK` answer; `None` for an error answer or no answer.
async fn ask<S>(engine: &mut Engine<S>, cmd: &str) -> Result<Option<Vec<String>>, ModemError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match engine.command(cmd).await {
        Ok(resp) if resp.result.is_ok() => Ok(Some(resp.lines)),
        Ok(_) | Err(ModemError::Timeout { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn first<T>(lines: &Option<Vec<String>>, f: impl Fn(&str) -> Option<T>) -> Option<T> {
    lines.as_ref()?.iter().find_map(|l| f(l))
}

async fn direct(r: &mut Report, entry: &ModemTable, path: &str) -> Option<ClockSample> {
    use nix::unistd::AccessFlags as A;
    let check = format!("modem {path}");
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(_) => {
            let detail = match std::fs::read_link(path) {
                Ok(target) => format!(
                    "missing: the link points to {}, which is gone",
                    target.display()
                ),
                Err(_) => "missing: no such device".to_string(),
            };
            r.fail(
                check,
                detail,
                "plug the modem in; check ls -l /dev/gsm/ and the udev rules (README, Real hardware)",
            );
            return None;
        }
    };
    if !may(Path::new(path), A::R_OK | A::W_OK) {
        let group = group_name(meta.gid());
        r.fail(
            check,
            format!(
                "permission denied: {} is group {group}, mode {:04o}, and you are {}",
                path,
                meta.mode() & 0o7777,
                you()
            ),
            format!("add yourself (and the daemon's user) to group {group}: sudo usermod -aG {group} $USER; our udev rules give the AT port to group groupsms"),
        );
        return None;
    }
    let holders = holders_of(Path::new(path));
    let port = match port::open(path, entry.baud) {
        Ok(p) => p,
        Err(e) => {
            if holders.is_empty() {
                r.fail(
                    check,
                    e.to_string(),
                    "check the device with ls -l and dmesg",
                );
            } else {
                r.fail(
                    check,
                    format!("busy: held by {}", describe(&holders)),
                    holder_advice(&holders),
                );
            }
            return None;
        }
    };
    let mut engine = Engine::new(port, quick(entry));
    // The engine's wake-up, as init's first step: ESC (leaves a `>` prompt or a half-typed
    // line someone left), then `AT` until `OK`.
    match engine.abort_and_resync().await {
        Ok(_) => {}
        Err(e) => {
            drop(engine);
            let others = answering_siblings(Path::new("/sys"), Path::new(path), entry.baud).await;
            let advice = if others.is_empty() {
                "check that this is the stick's AT port (README, Real hardware: udevadm info), unplug and plug it in again".to_string()
            } else {
                format!(
                    "this is not the AT port: {} of the same stick answer{} AT; point device at it, or install the udev rules (/dev/gsm/...)",
                    others.join(", "),
                    if others.len() == 1 { "s" } else { "" }
                )
            };
            r.fail(check, format!("does not answer AT ({e})"), advice);
            return None;
        }
    }
    // Numeric errors, no echo: what the daemon's init sets too.
    let _ = ask(&mut engine, "ATE0").await;
    let _ = ask(&mut engine, "AT+CMEE=1").await;
    let maker = ask(&mut engine, "AT+CGMI").await.ok().flatten();
    let model = ask(&mut engine, "AT+CGMM").await.ok().flatten();
    let name = |lines: &Option<Vec<String>>,
                f: fn(&[&str]) -> Result<String, parse::ParseError>| {
        lines.as_ref().and_then(|l| {
            let refs: Vec<&str> = l.iter().map(String::as_str).collect();
            f(&refs).ok()
        })
    };
    let who = [
        name(&maker, parse::parse_identity),
        name(&model, parse::parse_model_lines),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let mut detail = "answers AT".to_string();
    if !who.is_empty() {
        detail.push_str(&format!(" ({who})"));
    }
    if holders.is_empty() {
        r.ok(check, detail);
    } else {
        r.warn(
            check,
            format!(
                "{detail}, but is also open in {}: its commands would mix with ours",
                describe(&holders)
            ),
            holder_advice(&holders),
        );
    }
    if !check_sim(r, entry, path, &mut engine).await {
        return None;
    }
    check_registration(r, path, &mut engine).await;
    let csq = ask(&mut engine, "AT+CSQ").await.ok().flatten();
    match first(&csq, |l| parse::parse_csq(l).ok()) {
        Some(s) => signal_line(r, path, s.dbm(), ""),
        None => r.warn(
            format!("signal {path}"),
            "AT+CSQ gave no reading",
            "check the antenna and coverage",
        ),
    }
    check_sms_settings(r, path, &mut engine).await;
    let cclk = ask(&mut engine, "AT+CCLK?").await.ok().flatten();
    first(&cclk, |l| parse::parse_cclk(l).ok()).and_then(|(local, offset)| {
        // Only a clock with a zone and a plausible year is network time (NITZ); an unset
        // clock reads 1980 or 2000, or 2080 with a two-digit year.
        let offset = offset?;
        let time: DateTime<Utc> = local
            .checked_sub_signed(chrono::Duration::seconds(i64::from(offset)))?
            .and_utc();
        let year = chrono::Datelike::year(&time);
        (2024..2080).contains(&year).then(|| ClockSample {
            device: path.to_string(),
            time,
        })
    })
}

async fn check_sim<S>(
    r: &mut Report,
    entry: &ModemTable,
    path: &str,
    engine: &mut Engine<S>,
) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let check = format!("sim {path}");
    let pin_needed = |r: &mut Report| {
        if entry.pin.is_some() {
            r.warn(
                check.clone(),
                "the SIM asks for its PIN; a PIN is configured (not checked: doctor never enters it)",
                format!("the daemon enters it once at start and never retries a wrong one; to try it by hand: groupsms modem probe {path} --pin PIN"),
            );
        } else {
            r.fail(
                check.clone(),
                "the SIM asks for its PIN and the configuration has none",
                format!("add pin = \"<PIN>\" to the [[modem]] entry of {}, or remove the PIN lock in a phone", entry.device),
            );
        }
    };
    let resp = match engine.command("AT+CPIN?").await {
        Ok(resp) => resp,
        Err(e) => {
            r.fail(
                check,
                format!("no answer to AT+CPIN? ({e})"),
                "unplug the stick and plug it in again",
            );
            return false;
        }
    };
    if resp.result.is_ok() {
        return match resp.line("+CPIN").map(parse::parse_cpin) {
            Some(Ok(PinState::Ready)) => {
                r.ok(check, "present, ready (no PIN asked)");
                true
            }
            Some(Ok(PinState::SimPin)) => {
                pin_needed(r);
                false
            }
            Some(Ok(other)) => {
                r.fail(
                    check,
                    format!("locked: {}", other.code()),
                    "the SIM needs a human: unlock it with its PUK in a phone (or AT+CPIN=\"<PUK>\",\"<new PIN>\")",
                );
                false
            }
            _ => {
                r.fail(
                    check,
                    "unreadable answer to AT+CPIN?",
                    "try the SIM in a phone",
                );
                false
            }
        };
    }
    if matches!(resp.result, Final::Cme(CmeError::SimPinRequired)) {
        pin_needed(r);
        return false;
    }
    match SimProblem::from_final(&resp.result) {
        Some(SimProblem::NotInserted) => r.fail(
            check,
            "no SIM card inserted",
            "power the stick off (unplug it), insert a SIM, plug it in again",
        ),
        Some(problem) => r.fail(
            check,
            problem.to_string(),
            "try the SIM in a phone; replace it if it fails there too",
        ),
        None => r.fail(
            check,
            format!("{} to AT+CPIN?", resp.result),
            "unplug the stick and plug it in again; try the SIM in a phone",
        ),
    }
    false
}

async fn check_registration<S>(r: &mut Report, path: &str, engine: &mut Engine<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut parts = Vec::new();
    let mut registered = Vec::new();
    let mut denied = false;
    for name in ["+CREG", "+CGREG", "+CEREG"] {
        let lines = ask(engine, &format!("AT{name}?")).await.ok().flatten();
        let reg = lines.as_ref().map(|_| {
            first(&lines, |l| {
                parse::strip_name(l, name)?;
                parse::parse_registration(l, true).ok()
            })
        });
        match reg {
            None => parts.push(format!("{name}: not supported")),
            Some(None) => parts.push(format!("{name}: unreadable")),
            Some(Some(reg)) => {
                parts.push(format!("{name}: {}", reg.stat.name()));
                denied |= reg.stat == RegStat::Denied;
                if reg.stat.is_registered() {
                    registered.push(name);
                }
            }
        }
    }
    let check = format!("registration {path}");
    let detail = parts.join("; ");
    if registered.is_empty() {
        let advice = if denied {
            "the network refuses this SIM: try it in a phone, ask the carrier (not activated, barred, expired)"
        } else {
            "no network: check the antenna and the coverage, and that the SIM is activated; a stick just plugged in needs a minute"
        };
        r.fail(check, format!("not registered ({detail})"), advice);
    } else if !registered.contains(&"+CREG") {
        // Registered it is, but the daemon's init (src/modem/init.rs, step 10) still waits
        // for +CREG: say so rather than promise a modem the daemon will not take.
        let on = if registered == ["+CEREG"] {
            "LTE only"
        } else {
            "packet service only"
        };
        r.warn(
            check,
            format!("registered on {on} ({detail})"),
            "the daemon's init still waits for +CREG and will call this modem not-registered; until it accepts +CGREG/+CEREG, use a SIM with 2G/3G (circuit-switched) service here",
        );
    } else {
        r.ok(check, format!("registered ({detail})"));
    }
}

async fn check_sms_settings<S>(r: &mut Report, path: &str, engine: &mut Engine<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let check = format!("smsc {path}");
    let csca = ask(engine, "AT+CSCA?").await.ok().flatten();
    match first(&csca, |l| parse::parse_csca(l).ok()) {
        Some(Some(number)) => r.ok(check, format!("SMS centre {number}")),
        Some(None) => r.fail(
            check,
            "no SMS centre address on the SIM (AT+CSCA? is empty); the daemon will not use this modem",
            "store your carrier's SMS centre number on the SIM: AT+CSCA=\"+<number>\",145 in a serial terminal, or in a phone's SMS settings",
        ),
        None => r.fail(
            check,
            "AT+CSCA? gave no readable answer",
            "unplug the stick and plug it in again; try the SIM in a phone",
        ),
    }
    let check = format!("storage {path}");
    let cpms = ask(engine, "AT+CPMS?").await.ok().flatten();
    match first(&cpms, |l| parse::parse_cpms_read(l).ok()) {
        Some(c) => {
            let mut uses: Vec<_> = Vec::new();
            for u in [Some(&c.mem1), c.mem2.as_ref(), c.mem3.as_ref()]
                .into_iter()
                .flatten()
            {
                if !uses
                    .iter()
                    .any(|v: &&crate::at::parse::StorageUse| v.storage == u.storage)
                {
                    uses.push(u);
                }
            }
            let text = uses
                .iter()
                .map(|u| format!("{} {}/{}", u.storage.name(), u.used, u.total))
                .collect::<Vec<_>>()
                .join(", ");
            if uses.iter().any(|u| u.total > 0 && u.used >= u.total) {
                r.warn(
                    check,
                    format!("full ({text}): the network holds incoming messages and reports until there is room"),
                    "delete stored messages (a phone, or AT+CMGD=1,4 in a serial terminal)",
                );
            } else {
                r.ok(check, format!("{text} used"));
            }
        }
        None => r.warn(
            check,
            "AT+CPMS? gave no readable answer",
            "nothing needed for sending; incoming messages may not be read",
        ),
    }
    let check = format!("delivery reports {path}");
    let cnmi = ask(engine, "AT+CNMI=?").await.ok().flatten();
    match first(&cnmi, |l| parse::parse_cnmi_test(l).ok()) {
        Some(s) if s.ds.contains(&1) => r.ok(check, "offered (ds=1: +CDS)"),
        Some(s) if s.ds.contains(&2) => r.ok(check, "offered (ds=2: stored, +CDSI)"),
        Some(_) => r.warn(
            check,
            "not offered (AT+CNMI=? has no ds=1 or 2): messages go out, but their delivery cannot be confirmed",
            "nothing needed for sending; use another stick where delivery reports matter",
        ),
        None => r.warn(
            check,
            "AT+CNMI=? refused or unreadable: delivery reports are unlikely",
            "nothing needed for sending; use another stick where delivery reports matter",
        ),
    }
}

/// A process that has a device open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub name: String,
}

fn describe(holders: &[Holder]) -> String {
    holders
        .iter()
        .map(|h| format!("{} (pid {})", h.name, h.pid))
        .collect::<Vec<_>>()
        .join(", ")
}

fn holder_advice(holders: &[Holder]) -> String {
    if holders.iter().any(|h| h.name.contains("ModemManager")) {
        "stop ModemManager (systemctl disable --now ModemManager) or install our udev rules, which tell it to keep off (README, Real hardware)".into()
    } else if holders.iter().any(|h| h.name == "groupsms") {
        "a groupsms process holds it: if it is the daemon, run doctor with its socket (--socket or the configuration) to check through it".into()
    } else {
        let h = &holders[0];
        format!("stop {} (pid {}), or configure another port", h.name, h.pid)
    }
}

/// Processes (other than this one) with `device` open: every `/proc/<pid>/fd/*` link that
/// resolves to the same file. Other users' processes are visible to root only.
pub fn holders_of(device: &Path) -> Vec<Holder> {
    holders_in(Path::new("/proc"), device, std::process::id())
}

fn holders_in(proc: &Path, device: &Path, me: u32) -> Vec<Holder> {
    let Ok(target) = std::fs::canonicalize(device) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(proc) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == target));
        if holds {
            let name = std::fs::read_to_string(entry.path().join("comm"))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "?".into());
            found.push(Holder { pid, name });
        }
    }
    found.sort_by_key(|h| h.pid);
    found
}

/// The other ttys of the USB device `device` belongs to, with their interface numbers:
/// `/sys/class/tty/<tty>/device` leads into the USB device's tree (the interface, or the
/// usb-serial port under it); up from there to the directory with `idVendor`; every
/// `ttyUSB*`/`ttyACM*` below it, except `device` itself. Empty when it is not a USB tty.
pub fn usb_siblings(sys: &Path, device: &Path) -> Vec<(String, Option<String>)> {
    let Some(name) = std::fs::canonicalize(device)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    else {
        return Vec::new();
    };
    let Ok(dev_dir) = std::fs::canonicalize(sys.join("class/tty").join(&name).join("device"))
    else {
        return Vec::new();
    };
    let Some(usb) = dev_dir.ancestors().find(|d| d.join("idVendor").is_file()) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    collect_ttys(usb, None, 0, &mut found);
    found.retain(|(n, _)| *n != name);
    found.sort();
    found
}

fn collect_ttys(
    dir: &Path,
    iface: Option<String>,
    depth: usize,
    out: &mut Vec<(String, Option<String>)>,
) {
    if depth > 3 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let here = std::fs::read_to_string(dir.join("bInterfaceNumber"))
        .ok()
        .map(|s| s.trim().to_string())
        .or(iface);
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        // Symlinks (driver, subsystem, port) lead out of the device's tree.
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir {
            continue;
        }
        if n.starts_with("ttyUSB") || n.starts_with("ttyACM") {
            out.push((n, here.clone()));
        } else if n == "tty" || n.contains(':') {
            collect_ttys(&e.path(), here.clone(), depth + 1, out);
        }
    }
}

/// The sibling ttys that answer `AT` (one short try each), as `/dev/ttyUSB2 (interface 02)`.
async fn answering_siblings(sys: &Path, device: &Path, baud: u32) -> Vec<String> {
    let mut answering = Vec::new();
    for (name, iface) in usb_siblings(sys, device) {
        let path = PathBuf::from("/dev").join(&name);
        let Ok(port) = port::open(&path.to_string_lossy(), baud) else {
            continue;
        };
        let mut engine = Engine::new(
            port,
            ModemConfig {
                resync_timeout: Duration::from_millis(500),
                resync_attempts: 1,
                ..ModemConfig::default()
            },
        );
        if engine.abort_and_resync().await.is_ok() {
            answering.push(match iface {
                Some(i) => format!("{} (interface {i})", path.display()),
                None => path.display().to_string(),
            });
        }
    }
    answering
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn signal_words() {
        assert_eq!(signal_word(Some(-51)), "excellent");
        assert_eq!(signal_word(Some(-73)), "good");
        assert_eq!(signal_word(Some(-95)), "fair");
        assert_eq!(signal_word(Some(-107)), "poor");
        assert_eq!(signal_word(None), "none");
    }

    /// A Quectel EC25 as sysfs shows it: four usb-serial ports on interfaces 0-3 of one USB
    /// device, plus a CDC ACM stick elsewhere.
    #[test]
    fn siblings_of_a_usb_stick() {
        let t = tempfile::tempdir().unwrap();
        let sys = t.path().join("sys");
        let usb = sys.join("devices/pci0000:00/0000:00:14.0/usb1/1-3");
        std::fs::create_dir_all(&usb).unwrap();
        std::fs::write(usb.join("idVendor"), "2c7c\n").unwrap();
        std::fs::create_dir_all(sys.join("class/tty")).unwrap();
        let dev = t.path().join("dev");
        std::fs::create_dir_all(&dev).unwrap();
        for i in 0..4 {
            let iface = usb.join(format!("1-3:1.{i}"));
            let port = iface.join(format!("ttyUSB{i}"));
            std::fs::create_dir_all(port.join("tty")).unwrap();
            std::fs::write(iface.join("bInterfaceNumber"), format!("0{i}\n")).unwrap();
            let class = sys.join(format!("class/tty/ttyUSB{i}"));
            std::fs::create_dir_all(&class).unwrap();
            symlink(&port, class.join("device")).unwrap();
            std::fs::write(dev.join(format!("ttyUSB{i}")), "").unwrap();
        }
        // A stable name pointing at ttyUSB1 resolves first.
        symlink(dev.join("ttyUSB1"), dev.join("ec25-at")).unwrap();
        let got = usb_siblings(&sys, &dev.join("ec25-at"));
        let want: Vec<(String, Option<String>)> = [0, 2, 3]
            .iter()
            .map(|i| (format!("ttyUSB{i}"), Some(format!("0{i}"))))
            .collect();
        assert_eq!(got, want);
        // Not a USB tty (a PTY, a built-in UART): nothing.
        assert!(usb_siblings(&sys, Path::new("/dev/null")).is_empty());
    }

    #[test]
    fn holders_are_found_by_their_fd_links() {
        let t = tempfile::tempdir().unwrap();
        let device = t.path().join("ttyUSB2");
        std::fs::write(&device, "").unwrap();
        let proc = t.path().join("proc");
        for (pid, comm, target) in [
            (10, "ModemManager", device.clone()),
            (11, "bash", t.path().join("other")),
            (12, "me", device.clone()),
        ] {
            let fd = proc.join(pid.to_string()).join("fd");
            std::fs::create_dir_all(&fd).unwrap();
            std::fs::write(proc.join(pid.to_string()).join("comm"), format!("{comm}\n")).unwrap();
            symlink(&target, fd.join("3")).unwrap();
        }
        let got = holders_in(&proc, &device, 12);
        assert_eq!(
            got,
            vec![Holder {
                pid: 10,
                name: "ModemManager".into()
            }]
        );
        assert!(holder_advice(&got).starts_with("stop ModemManager"));
    }
}
