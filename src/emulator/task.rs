//! The task that runs one modem: its PTY, its [`Machine`], its timers and the handle's
//! controls, all on one task so the modem sees events one at a time.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::busy::BusyTimer;
use super::config::Knobs;
use super::log::{ConcatInfo, LogRecord, LogWriter};
use super::machine::{Effect, IncomingRoute, Machine, ReportRoute};
use super::pty::{self, Pty};
use super::{EmulatorError, ModemSummary};

/// Time between an answer and the unplug that follows it (`unplug_after_sends`), so the host
/// reads the answer before its descriptor fails.
const UNPLUG_GRACE: Duration = Duration::from_millis(100);

pub(crate) enum Control {
    Unplug(oneshot::Sender<()>),
    Replug(oneshot::Sender<Result<(), EmulatorError>>),
    Reboot(oneshot::Sender<()>),
    Registration(bool, oneshot::Sender<()>),
    StatusReport {
        mr: u8,
        to: Option<String>,
        status: u8,
        reply: oneshot::Sender<Result<ReportRoute, EmulatorError>>,
    },
    Incoming {
        from: String,
        text: String,
        /// Only these parts (1-based, in this order) of the message cut with this reference.
        parts: Option<(u8, Vec<u8>)>,
        reply: oneshot::Sender<Result<Vec<IncomingRoute>, EmulatorError>>,
    },
}

pub(crate) struct ModemTask {
    pub index: usize,
    pub link: PathBuf,
    pub machine: Machine,
    pub pty: Option<Pty>,
    pub knobs: Knobs,
    pub log: Option<Arc<LogWriter>>,
    pub shared: Arc<Mutex<ModemSummary>>,
    pub ctl: mpsc::UnboundedReceiver<Control>,
    pub stop: watch::Receiver<bool>,
    busy: BusyTimer,
    boot_until: Option<Instant>,
    replug_at: Option<Instant>,
    regain_at: Option<Instant>,
    noise_at: Option<Instant>,
    unplug_at: Option<Instant>,
    unplugs: u32,
    replugs: u32,
    /// Automatic status reports waiting for their time.
    reports: Vec<(Instant, u8, String, u8)>,
    /// Replies and scripted messages waiting for their time: (when, from, text).
    inbound: Vec<(Instant, String, String)>,
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

async fn read_opt(pty: &mut Option<Pty>, buf: &mut [u8]) -> std::io::Result<usize> {
    match pty {
        Some(p) => p.read(buf).await,
        None => std::future::pending().await,
    }
}

impl ModemTask {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        index: usize,
        link: PathBuf,
        machine: Machine,
        pty: Pty,
        knobs: Knobs,
        log: Option<Arc<LogWriter>>,
        shared: Arc<Mutex<ModemSummary>>,
        ctl: mpsc::UnboundedReceiver<Control>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        ModemTask {
            index,
            link,
            machine,
            pty: Some(pty),
            knobs,
            log,
            shared,
            ctl,
            stop,
            busy: BusyTimer::default(),
            boot_until: None,
            replug_at: None,
            regain_at: None,
            noise_at: None,
            unplug_at: None,
            unplugs: 0,
            replugs: 0,
            reports: Vec::new(),
            inbound: Vec::new(),
        }
    }

    pub(crate) async fn run(mut self) {
        let mut buf = vec![0u8; 4096];
        let started = Instant::now();
        for sms in &self.knobs.scripted {
            self.inbound
                .push((started + sms.after, sms.from.clone(), sms.text.clone()));
        }
        loop {
            self.publish();
            if self.noise_at.is_none() && self.pty.is_some() {
                self.noise_at = self.machine.noise_delay().map(|d| Instant::now() + d);
            }
            tokio::select! {
                changed = self.stop.changed() => {
                    if changed.is_err() || *self.stop.borrow() {
                        break;
                    }
                }
                ctl = self.ctl.recv() => match ctl {
                    Some(c) => self.control(c).await,
                    None => break,
                },
                r = read_opt(&mut self.pty, &mut buf) => match r {
                    Ok(n) => {
                        let speed = self.pty.as_ref().and_then(Pty::client_speed);
                        if self.knobs.baud.is_some_and(|want| speed != Some(want)) {
                            // Another speed than the modem's UART: garbage, dropped.
                            tracing::debug!(modem = self.index, ?speed, "bytes at the wrong baud rate dropped");
                            continue;
                        }
                        let fx = self.machine.feed(&buf[..n]);
                        self.apply(fx).await;
                    }
                    Err(e) => {
                        tracing::warn!(modem = self.index, "PTY read failed: {e}; unplugging");
                        self.unplug();
                    }
                },
                _ = self.busy.done() => {
                    self.busy.clear();
                    let fx = self.machine.resume();
                    self.apply(fx).await;
                }
                _ = sleep_opt(self.boot_until) => {
                    self.boot_until = None;
                    let fx = self.machine.boot_done();
                    self.apply(fx).await;
                }
                _ = sleep_opt(self.replug_at) => {
                    self.replug_at = None;
                    if let Err(e) = self.replug() {
                        tracing::warn!(modem = self.index, "replug failed: {e}");
                    }
                }
                _ = sleep_opt(self.regain_at) => {
                    self.regain_at = None;
                    let fx = self.machine.set_registration(true);
                    self.apply(fx).await;
                }
                _ = sleep_opt(self.unplug_at) => {
                    self.unplug_at = None;
                    self.unplug();
                }
                _ = sleep_opt(self.reports.iter().map(|r| r.0).min()) => {
                    let now = Instant::now();
                    let (due, later): (Vec<_>, Vec<_>) =
                        std::mem::take(&mut self.reports).into_iter().partition(|r| r.0 <= now);
                    self.reports = later;
                    for (_, mr, to, status) in due {
                        match self.machine.status_report_to(mr, Some(&to), status) {
                            Ok((_, fx)) => self.apply(fx).await,
                            Err(e) => tracing::debug!(modem = self.index, "no status report: {e}"),
                        }
                    }
                }
                _ = sleep_opt(self.inbound.iter().map(|r| r.0).min()) => {
                    let now = Instant::now();
                    let (due, later): (Vec<_>, Vec<_>) =
                        std::mem::take(&mut self.inbound).into_iter().partition(|r| r.0 <= now);
                    self.inbound = later;
                    for (_, from, text) in due {
                        match self.machine.incoming(&from, &text) {
                            Ok((_, fx)) => self.apply(fx).await,
                            // A SIM not ready yet: the network tries again a second later.
                            Err(e @ crate::emulator::InboundError::SimNotReady) => {
                                tracing::debug!(modem = self.index, "incoming message from {from} not delivered yet: {e}");
                                self.inbound.push((now + Duration::from_secs(1), from, text));
                            }
                            Err(e) => tracing::warn!(modem = self.index, "incoming message from {from} dropped: {e}"),
                        }
                    }
                }
                _ = sleep_opt(self.noise_at) => {
                    self.noise_at = None;
                    if self.machine.noise_every().is_some() {
                        let fx = self.machine.periodic_noise();
                        self.apply(fx).await;
                    }
                }
            }
        }
        // The summary keeps showing the device the modem had when it stopped.
        pty::unlink(&self.link);
        self.publish();
    }

    fn publish(&self) {
        let mut s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        s.device = self.pty.as_ref().map(|p| p.slave().to_path_buf());
        s.hung = self.machine.is_hung();
        s.registered = self.machine.is_registered();
        s.stats = self.machine.stats.clone();
        s.unplugs = self.unplugs;
        s.replugs = self.replugs;
    }

    async fn apply(&mut self, fx: Vec<Effect>) {
        for e in fx {
            match e {
                Effect::Write(bytes) => {
                    if let Some(p) = &mut self.pty {
                        if let Err(e) = p.write_all(&bytes).await {
                            tracing::warn!(modem = self.index, "PTY write failed: {e}");
                        }
                    }
                }
                Effect::Accepted(part) => {
                    if let Some(log) = &self.log {
                        let rec = LogRecord {
                            modem: self.index,
                            device: self.link.display().to_string(),
                            time: chrono::Utc::now()
                                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                            mr: part.mr,
                            to: part.to,
                            encoding: part.encoding.to_string(),
                            text: part.text,
                            concat: part.concat.map(|c| ConcatInfo {
                                reference: c.reference,
                                parts: c.parts,
                                seq: c.seq,
                            }),
                            pdu: part.pdu,
                        };
                        if let Err(e) = log.append(&rec) {
                            tracing::error!(modem = self.index, "cannot write the log: {e}");
                        }
                    }
                }
                Effect::Busy(d) => self.busy.start(d),
                Effect::Boot(d) => self.boot_until = Some(Instant::now() + d),
                Effect::RegainAfter(d) => self.regain_at = Some(Instant::now() + d),
                Effect::Unplug => self.unplug_at = Some(Instant::now() + UNPLUG_GRACE),
                Effect::Report {
                    after,
                    mr,
                    to,
                    status,
                } => self.reports.push((Instant::now() + after, mr, to, status)),
                Effect::Reply { after, from, text } => {
                    self.inbound.push((Instant::now() + after, from, text))
                }
            }
        }
    }

    fn unplug(&mut self) {
        if self.pty.is_none() {
            return;
        }
        pty::unlink(&self.link);
        self.pty = None;
        self.unplug_at = None;
        self.unplugs += 1;
        self.busy.clear();
        self.boot_until = None;
        self.noise_at = None;
        self.replug_at = self.knobs.replug_after.map(|d| Instant::now() + d);
    }

    fn replug(&mut self) -> Result<(), EmulatorError> {
        if self.pty.is_some() {
            return Ok(());
        }
        let pty = Pty::open().map_err(|e| EmulatorError::Pty {
            index: self.index,
            source: e,
        })?;
        pty::link(pty.slave(), &self.link).map_err(|e| EmulatorError::Link {
            path: self.link.clone(),
            source: e,
        })?;
        self.pty = Some(pty);
        self.machine.power_on();
        self.replug_at = None;
        self.replugs += 1;
        Ok(())
    }

    async fn control(&mut self, c: Control) {
        match c {
            Control::Unplug(reply) => {
                self.unplug();
                let _ = reply.send(());
            }
            Control::Replug(reply) => {
                let r = self.replug();
                let _ = reply.send(r);
            }
            Control::Reboot(reply) => {
                if self.pty.is_some() {
                    self.busy.clear();
                    let fx = self.machine.reboot();
                    self.apply(fx).await;
                }
                let _ = reply.send(());
            }
            Control::Registration(on, reply) => {
                if on {
                    self.regain_at = None;
                }
                let fx = self.machine.set_registration(on);
                self.apply(fx).await;
                let _ = reply.send(());
            }
            Control::StatusReport {
                mr,
                to,
                status,
                reply,
            } => {
                let r = match self.machine.status_report_to(mr, to.as_deref(), status) {
                    Ok((route, fx)) => {
                        self.apply(fx).await;
                        Ok(route)
                    }
                    Err(e) => Err(EmulatorError::Inbound(e)),
                };
                let _ = reply.send(r);
            }
            Control::Incoming {
                from,
                text,
                parts,
                reply,
            } => {
                let delivered = match &parts {
                    Some((reference, seqs)) => {
                        self.machine
                            .incoming_parts(&from, &text, *reference, Some(seqs))
                    }
                    None => self.machine.incoming(&from, &text),
                };
                let r = match delivered {
                    Ok((routes, fx)) => {
                        self.apply(fx).await;
                        Ok(routes)
                    }
                    Err(e) => Err(EmulatorError::Inbound(e)),
                };
                let _ = reply.send(r);
            }
        }
    }
}
