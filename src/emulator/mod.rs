//! Virtual GSM modems on pseudo-terminals, for the demo, the end-to-end tests and everyone
//! without hardware. Each modem is a PTY with a stable symlink (`DIR/modem0`, ...) that speaks
//! AT like a real stick of its [`Profile`], misbehaves as its [`Knobs`] say (latency, errors,
//! hangs, unplugging, registration loss, noise, PIN, no SIM, no SMSC, LTE-only registration,
//! carrier cap, reboots), logs every accepted
//! SMS part as one JSON line ([`log`]) and can be handed inbound traffic (status reports,
//! incoming messages) through the [`EmulatorHandle`].
//!
//! | file | owns |
//! | --- | --- |
//! | [`config`] | [`EmulatorConfig`], [`EmulatedModem`], [`Knobs`], duration parsing |
//! | [`profile`] | how Huawei / SIMCom / Quectel / generic modems differ |
//! | [`command`] | splitting an AT command line into commands |
//! | [`machine`] | the AT behaviour of one modem, pure (bytes in, effects out) |
//! | [`inbound`] | SMS-DELIVER and SMS-STATUS-REPORT PDUs the "network" sends |
//! | `pty` | PTY pairs, raw mode, symlinks, asynchronous master I/O |
//! | `task` | the task running one modem: PTY, machine, timers, controls |
//! | `busy` | the send-latency timer, exact to the microsecond (timerfd) |
//! | [`log`] | the JSON-lines log and its reassembly into what each phone shows |
//!
//! Runs on the caller's tokio runtime: [`Emulator::start`] makes every PTY and symlink before
//! it returns, so a client can open `handle.path(i)` at once (the modem notices a new client
//! within 50 ms).
//!
//! Errors a host meets, and why these codes:
//!
//! | situation | answer |
//! | --- | --- |
//! | `+CMGS` length does not match the TPDU, bad hex, not an SMS-SUBMIT | `+CMS ERROR: 304` (TS 27.005 "invalid PDU mode parameter") |
//! | not registered (knob or handle) | `+CMS ERROR: 331` ("no network service") |
//! | past the per-SIM cap | `+CMS ERROR: 38` by default ("network out of order", what Gammu users report when an operator stops a SIM), [`Knobs::cap_error`] to change |
//! | random failure ([`Knobs::error_rate`]) | one of [`Knobs::error_codes`], default 38 and 500 (both common in the field notes) |
//! | SIM PIN / PUK not entered | `+CME ERROR: 11` / `12`, SMS commands `+CMS ERROR: 311` / `316` |
//! | no SIM ([`Knobs::sim_absent`]) | `+CME ERROR: 10` ("SIM not inserted"), SMS commands `+CMS ERROR: 310`; Quectel/SIMCom boot with `+CPIN: NOT INSERTED` |
//! | no SMSC on the SIM ([`Knobs::smsc`] empty) and none in the PDU | `+CMS ERROR: 330` ("SMSC address unknown") |
//! | `AT+CEREG` on a 3G/2G family (Huawei E1752, SIM800) | their unknown-command answer |
//! | text mode (`AT+CMGF=1`) SMS commands | `+CMS ERROR: 302`: the emulator speaks PDU mode only |
//!
//! With `AT+CMEE=0` (the power-on default) every one of them is a plain `ERROR`.

mod busy;
pub mod command;
pub mod config;
pub mod inbound;
pub mod log;
pub mod machine;
pub mod profile;
mod pty;
mod task;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

pub use config::{
    parse_duration, parse_who_text_delay, AutoReply, EmulatedModem, EmulatorConfig, Knobs, Noise,
    PartOrder, ScriptedSms,
};
pub use log::{LogRecord, Phones};
pub use machine::{InboundError, IncomingRoute, ReportRoute, Stats};
pub use profile::Profile;

use config::mix;
use machine::Machine;
use task::{Control, ModemTask};

/// What can go wrong starting or steering the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("the emulator needs a tokio runtime (call it from async code)")]
    NoRuntime,
    #[error("at least one modem is needed")]
    NoModems,
    #[error("modem {index}: {message}")]
    BadKnob { index: usize, message: String },
    #[error("cannot create the directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} exists and is not a symlink; refusing to replace it")]
    PathTaken { path: PathBuf },
    #[error("cannot open a pseudo-terminal for modem {index}: {source}")]
    Pty {
        index: usize,
        source: std::io::Error,
    },
    #[error("cannot create the symlink {path}: {source}")]
    Link {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the log {path}: {source}")]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("there is no modem {0}")]
    NoSuchModem(usize),
    #[error("the emulator has stopped")]
    Stopped,
    #[error(transparent)]
    Inbound(#[from] InboundError),
}

/// The state of one modem, for the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct ModemSummary {
    pub index: usize,
    /// The stable symlink.
    pub path: PathBuf,
    /// The PTY slave it points at now (`None` while unplugged).
    pub device: Option<PathBuf>,
    pub profile: Profile,
    pub own_number: String,
    pub imei: String,
    pub hung: bool,
    pub registered: bool,
    pub unplugs: u32,
    pub replugs: u32,
    pub stats: Stats,
}

impl fmt::Display for ModemSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "modem{} ({}, {}): {} command lines, {} parts accepted",
            self.index,
            self.profile,
            self.path.display(),
            s.commands,
            s.accepted
        )?;
        if !s.failed.is_empty() {
            let failed: Vec<String> = s
                .failed
                .iter()
                .map(|(code, n)| format!("{n}x CMS {code}"))
                .collect();
            write!(f, ", failed: {}", failed.join(", "))?;
        }
        if let Some(mr) = s.last_mr {
            write!(f, ", last mr {mr}")?;
        }
        for (n, what) in [
            (s.reboots, "reboots"),
            (self.unplugs, "unplugs"),
            (self.replugs, "replugs"),
            (s.hangs, "hangs"),
            (s.status_reports, "status reports"),
            (s.incoming_parts, "incoming parts"),
        ] {
            if n > 0 {
                write!(f, ", {n} {what}")?;
            }
        }
        if self.hung {
            write!(f, " [HUNG]")?;
        }
        if self.device.is_none() {
            write!(f, " [UNPLUGGED]")?;
        }
        Ok(())
    }
}

/// Every modem's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub modems: Vec<ModemSummary>,
}

impl Summary {
    /// Parts accepted by all modems.
    pub fn accepted(&self) -> u32 {
        self.modems.iter().map(|m| m.stats.accepted).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.modems {
            writeln!(f, "{m}")?;
        }
        write!(f, "total: {} parts accepted", self.accepted())
    }
}

/// Entry point.
pub struct Emulator;

impl Emulator {
    /// Creates every PTY and symlink, then spawns one task per modem on the current runtime.
    pub fn start(cfg: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
        tokio::runtime::Handle::try_current().map_err(|_| EmulatorError::NoRuntime)?;
        if cfg.modems.is_empty() {
            return Err(EmulatorError::NoModems);
        }
        for (index, m) in cfg.modems.iter().enumerate() {
            check_knobs(m.profile, &m.knobs)
                .map_err(|message| EmulatorError::BadKnob { index, message })?;
        }
        std::fs::create_dir_all(&cfg.dir).map_err(|source| EmulatorError::Dir {
            path: cfg.dir.clone(),
            source,
        })?;
        let log = match &cfg.log {
            Some(path) => Some(Arc::new(log::LogWriter::open(path).map_err(|source| {
                EmulatorError::Log {
                    path: path.clone(),
                    source,
                }
            })?)),
            None => None,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut prepared = Vec::with_capacity(cfg.modems.len());
        for (index, m) in cfg.modems.iter().enumerate() {
            let path = cfg.dir.join(format!("modem{index}"));
            if std::fs::symlink_metadata(&path).is_ok_and(|md| !md.file_type().is_symlink()) {
                return Err(EmulatorError::PathTaken { path });
            }
            let pty = pty::Pty::open().map_err(|source| EmulatorError::Pty { index, source })?;
            pty::link(pty.slave(), &path).map_err(|source| EmulatorError::Link {
                path: path.clone(),
                source,
            })?;
            prepared.push((index, path, pty, m.clone()));
        }
        let mut handle = EmulatorHandle {
            dir: cfg.dir.clone(),
            log: cfg.log.clone(),
            paths: Vec::new(),
            ctl: Vec::new(),
            shared: Vec::new(),
            stop: stop_tx,
            tasks: Vec::new(),
        };
        for (index, path, pty, m) in prepared {
            let machine = Machine::new(m.clone(), mix(cfg.seed ^ mix(index as u64)));
            let shared = Arc::new(Mutex::new(ModemSummary {
                index,
                path: path.clone(),
                device: Some(pty.slave().to_path_buf()),
                profile: m.profile,
                own_number: machine.own_number().to_string(),
                imei: machine.imei().to_string(),
                hung: false,
                registered: machine.is_registered(),
                unplugs: 0,
                replugs: 0,
                stats: Stats::default(),
            }));
            let (tx, rx) = mpsc::unbounded_channel();
            let task = ModemTask::new(
                index,
                path.clone(),
                machine,
                pty,
                m.knobs,
                log.clone(),
                shared.clone(),
                rx,
                stop_rx.clone(),
            );
            handle.tasks.push(tokio::spawn(task.run()));
            handle.paths.push(path);
            handle.ctl.push(tx);
            handle.shared.push(shared);
        }
        Ok(handle)
    }
}

fn check_knobs(profile: Profile, k: &Knobs) -> Result<(), String> {
    if k.lte_only && !profile.has_lte() {
        return Err(format!(
            "lte-only registration needs an LTE family (generic, quectel), not {profile}"
        ));
    }
    if !k.smsc.is_empty() && crate::sms::Address::parse(&k.smsc).is_err() {
        return Err(format!("SMSC {:?} is not a phone number", k.smsc));
    }
    for (name, p) in [
        ("error rate", k.error_rate),
        ("noise-in-answers probability", k.noise_in_answers),
    ] {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("{name} {p} is not between 0 and 1"));
        }
    }
    if k.rssi > 31 {
        return Err(format!("rssi {} is above 31", k.rssi));
    }
    if let Some(pin) = &k.pin {
        if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("PIN {pin:?} must be 4 to 8 digits"));
        }
    }
    if !(8..=8).contains(&k.puk.len()) || !k.puk.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("PUK {:?} must be 8 digits", k.puk));
    }
    Ok(())
}

/// The running emulator. Dropping it stops every modem (symlinks are removed as the tasks
/// end); [`EmulatorHandle::shutdown`] also waits for that and returns the summary.
pub struct EmulatorHandle {
    dir: PathBuf,
    log: Option<PathBuf>,
    paths: Vec<PathBuf>,
    ctl: Vec<mpsc::UnboundedSender<Control>>,
    shared: Vec<Arc<Mutex<ModemSummary>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// Number of modems.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The stable symlink of modem `i` (`DIR/modem{i}`). Panics when `i >= len()`.
    pub fn path(&self, i: usize) -> &Path {
        &self.paths[i]
    }

    /// All symlinks, in order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_path(&self) -> Option<&Path> {
        self.log.as_deref()
    }

    /// The state of every modem now.
    pub fn summary(&self) -> Summary {
        Summary {
            modems: self
                .shared
                .iter()
                .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
                .collect(),
        }
    }

    async fn ask<T>(
        &self,
        i: usize,
        make: impl FnOnce(oneshot::Sender<T>) -> Control,
    ) -> Result<T, EmulatorError> {
        let tx = self.ctl.get(i).ok_or(EmulatorError::NoSuchModem(i))?;
        let (reply, rx) = oneshot::channel();
        tx.send(make(reply)).map_err(|_| EmulatorError::Stopped)?;
        rx.await.map_err(|_| EmulatorError::Stopped)
    }

    /// Pulls the stick out: the symlink goes away and the client's descriptor fails.
    pub async fn unplug(&self, i: usize) -> Result<(), EmulatorError> {
        self.ask(i, Control::Unplug).await
    }

    /// Plugs it back in: a new PTY at the same path, a freshly powered-on modem.
    pub async fn replug(&self, i: usize) -> Result<(), EmulatorError> {
        self.ask(i, Control::Replug).await?
    }

    /// Reboots the modem: silent for the boot time, then its boot URCs; echo, `+CMEE`,
    /// `+CMGF`, `+CNMI`, `+CREG` settings back to defaults; the PIN is asked again.
    pub async fn reboot(&self, i: usize) -> Result<(), EmulatorError> {
        self.ask(i, Control::Reboot).await
    }

    /// Loses network registration (sends then fail with `+CMS ERROR: 331`).
    pub async fn lose_registration(&self, i: usize) -> Result<(), EmulatorError> {
        self.ask(i, |r| Control::Registration(false, r)).await
    }

    /// Regains network registration.
    pub async fn regain_registration(&self, i: usize) -> Result<(), EmulatorError> {
        self.ask(i, |r| Control::Registration(true, r)).await
    }

    /// Delivers a status report (TP-ST `status`, 0 = delivered) for message reference `mr`,
    /// as `+CDS` or `+CDSI` according to the host's `AT+CNMI`.
    pub async fn deliver_status_report(
        &self,
        i: usize,
        mr: u8,
        status: u8,
    ) -> Result<ReportRoute, EmulatorError> {
        self.ask(i, |reply| Control::StatusReport {
            mr,
            to: None,
            status,
            reply,
        })
        .await?
    }

    /// Delivers a status report for message reference `mr` naming `to` as the recipient: about
    /// the newest part sent with `mr` to `to` (references wrap at 256), or, when none went
    /// there, a report the host cannot match (a network mixing reports up).
    pub async fn deliver_status_report_to(
        &self,
        i: usize,
        mr: u8,
        to: &str,
        status: u8,
    ) -> Result<ReportRoute, EmulatorError> {
        let to = Some(to.to_string());
        self.ask(i, |reply| Control::StatusReport {
            mr,
            to,
            status,
            reply,
        })
        .await?
    }

    /// Delivers an incoming message from `from` (several parts when long): stored and
    /// announced with `+CMTI` (or shown with `+CMT`) according to the host's `AT+CNMI`.
    pub async fn deliver_sms(
        &self,
        i: usize,
        from: &str,
        text: &str,
    ) -> Result<Vec<IncomingRoute>, EmulatorError> {
        let (from, text) = (from.to_string(), text.to_string());
        self.ask(i, |reply| Control::Incoming {
            from,
            text,
            parts: None,
            reply,
        })
        .await?
    }

    /// Delivers only some parts of a long message: `seqs` (1-based, in that order) of `text`
    /// from `from` cut with concatenation reference `reference`. Call again with the other
    /// parts (the same text and reference) to complete it later.
    pub async fn deliver_sms_parts(
        &self,
        i: usize,
        from: &str,
        text: &str,
        reference: u8,
        seqs: &[u8],
    ) -> Result<Vec<IncomingRoute>, EmulatorError> {
        let (from, text) = (from.to_string(), text.to_string());
        let parts = Some((reference, seqs.to_vec()));
        self.ask(i, |reply| Control::Incoming {
            from,
            text,
            parts,
            reply,
        })
        .await?
    }

    /// Stops every modem, removes the symlinks and returns the final summary.
    pub async fn shutdown(mut self) -> Summary {
        let _ = self.stop.send(true);
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
        self.summary()
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
