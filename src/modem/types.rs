//! The values the engine takes and gives: configuration, identity, per-part outcomes, health.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::error::ModemError;
use crate::at::parse::Signal;
use crate::at::{ErrorClass, Final};

/// How one modem is driven. Defaults follow other drivers and users' measurements (a healthy
/// stick submits a PDU in 1-3 s, gammu/gammu#419, #523): prompt within 10 s (SMSTools3,
/// ModemManager), `+CMGS` within 60 s (SMSTools3); the daemon
/// lowers `cmgs_timeout` to keep a bad modem from holding the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct ModemConfig {
    /// The SIM PIN, entered once if the SIM asks for it (never retried).
    pub pin: Option<String>,
    /// Ordinary commands.
    pub command_timeout: Duration,
    /// From `AT+CMGS=<n>` to the `>` prompt.
    pub prompt_timeout: Duration,
    /// From Ctrl-Z to `+CMGS: <mr>` / `+CMS ERROR`.
    pub cmgs_timeout: Duration,
    /// One `AT` -> `OK` attempt of a re-sync.
    pub resync_timeout: Duration,
    pub resync_attempts: u32,
    /// After a re-sync's OK, how long the line must stay quiet (late answers are drained).
    pub resync_quiet: Duration,
    /// How long a SIM may stay busy / SMS functions unready / SMSC empty after boot.
    pub sim_ready_timeout: Duration,
    /// How long init waits for `+CREG: x,1|5`.
    pub registration_timeout: Duration,
    /// Pause between polls while waiting for the SIM or the network.
    pub poll_interval: Duration,
    /// How long to wait for the `OK` after `+CPIN: <code>` (Wavecom sends none).
    pub cpin_grace: Duration,
    /// Quiet time between the modem's last answer (or unsolicited code) and our next command
    /// (u-blox/atat advice: >= 20 ms).
    pub command_gap: Duration,
    /// Send the vendor commands that silence periodic reports (Huawei `AT^CURC=0`).
    pub quiet_vendor_urcs: bool,
    /// Route status reports to us (`+CNMI` `<ds>`=1, or 2 when 1 is not offered).
    pub status_reports: bool,
    /// Fail init when the SIM has no SMSC address.
    pub require_smsc: bool,
    /// Unsolicited codes kept for [`super::Engine::take_urcs`]; the oldest are dropped beyond.
    pub urc_queue: usize,
}

impl Default for ModemConfig {
    fn default() -> Self {
        ModemConfig {
            pin: None,
            command_timeout: Duration::from_secs(5),
            prompt_timeout: Duration::from_secs(10),
            cmgs_timeout: Duration::from_secs(60),
            resync_timeout: Duration::from_secs(2),
            resync_attempts: 3,
            resync_quiet: Duration::from_millis(200),
            sim_ready_timeout: Duration::from_secs(30),
            registration_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_secs(2),
            cpin_grace: Duration::from_secs(1),
            command_gap: Duration::from_millis(20),
            quiet_vendor_urcs: true,
            status_reports: true,
            require_smsc: true,
            urc_queue: 256,
        }
    }
}

impl ModemConfig {
    /// Sets one field by name (`pin`, `prompt_timeout` in seconds, `status_reports` true/false...),
    /// as fixtures (`% key value`) and configuration files spell them.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let secs = |v: &str| -> Result<Duration, String> {
            let s: f64 = v
                .parse()
                .map_err(|_| format!("{key}: {v:?} is not a number of seconds"))?;
            if !(0.0..=86_400.0).contains(&s) {
                return Err(format!("{key}: {v} s is out of range"));
            }
            Ok(Duration::from_secs_f64(s))
        };
        let flag = |v: &str| -> Result<bool, String> {
            match v {
                "true" | "yes" | "1" => Ok(true),
                "false" | "no" | "0" => Ok(false),
                _ => Err(format!("{key}: {v:?} is not true/false")),
            }
        };
        match key {
            "pin" => self.pin = Some(value.to_string()),
            "command_timeout" => self.command_timeout = secs(value)?,
            "prompt_timeout" => self.prompt_timeout = secs(value)?,
            "cmgs_timeout" => self.cmgs_timeout = secs(value)?,
            "resync_timeout" => self.resync_timeout = secs(value)?,
            "resync_attempts" => {
                self.resync_attempts = value
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| format!("{key}: {value:?} is not a count >= 1"))?
            }
            "resync_quiet" => self.resync_quiet = secs(value)?,
            "sim_ready_timeout" => self.sim_ready_timeout = secs(value)?,
            "registration_timeout" => self.registration_timeout = secs(value)?,
            "poll_interval" => self.poll_interval = secs(value)?,
            "cpin_grace" => self.cpin_grace = secs(value)?,
            "command_gap" => self.command_gap = secs(value)?,
            "quiet_vendor_urcs" => self.quiet_vendor_urcs = flag(value)?,
            "status_reports" => self.status_reports = flag(value)?,
            "require_smsc" => self.require_smsc = flag(value)?,
            _ => return Err(format!("unknown modem setting {key:?}")),
        }
        Ok(())
    }
}

/// Who the modem and its SIM are, gathered by init.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub revision: Option<String>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
    pub operator: Option<String>,
    /// The SIM's own number (`AT+CNUM`), when the SIM knows it.
    pub own_number: Option<String>,
    pub smsc: Option<String>,
    pub signal: Option<Signal>,
    /// Where status reports go, as init set `AT+CNMI`.
    pub reports: ReportRoute,
}

/// Where a modem puts status reports (`AT+CNMI` `<ds>`, TS 27.005 3.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportRoute {
    /// Not asked for, not offered, or refused: the modem will not tell.
    #[default]
    None,
    /// `<ds>`=1: `+CDS: <length>` and the PDU, straight to us.
    Routed,
    /// `<ds>`=2: stored, announced by `+CDSI: <mem>,<index>`; read it, then delete it.
    Stored,
}

impl ReportRoute {
    /// `routed`, `stored` or `none`.
    pub fn name(self) -> &'static str {
        match self {
            ReportRoute::None => "none",
            ReportRoute::Routed => "routed",
            ReportRoute::Stored => "stored",
        }
    }
}

/// Why a part was not submitted although nothing says it failed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSentReason {
    /// No `>` prompt within `prompt_timeout`; the PDU was never written.
    PromptTimeout,
    /// The modem answered `OK` to `AT+CMGS=<n>` without a prompt.
    NoPrompt,
    /// The modem announced a reset (`RDY`, `^BOOT`...) while we waited for the prompt: the
    /// command was lost with it and the PDU was never written.
    ModemReset,
    /// The sender's gate ([`SendGate`]) closed before `AT+CMGS` was written: its host may no
    /// longer send this (its lease ran out).
    Fenced,
}

/// Asked right before each part's `AT+CMGS` is written: `false` stops the message there
/// (nothing more is written). The scheduler's lease check, passed down so that the time a
/// modem spends before it writes (the gap between commands, a busy port) is covered too.
#[derive(Clone)]
pub struct SendGate(std::sync::Arc<dyn Fn() -> bool + Send + Sync>);

impl SendGate {
    pub fn new(may_send: impl Fn() -> bool + Send + Sync + 'static) -> SendGate {
        SendGate(std::sync::Arc::new(may_send))
    }

    /// Whether the part about to be written may go.
    pub fn open(&self) -> bool {
        (self.0)()
    }
}

impl fmt::Debug for SendGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendGate")
    }
}

/// Why a submitted part's fate is unknown.
#[derive(Debug)]
pub enum AmbiguousReason {
    /// Ctrl-Z was written but neither `+CMGS` nor an error came within `cmgs_timeout`.
    NoAnswer(Duration),
    /// The stream failed after Ctrl-Z.
    StreamDied(ModemError),
    /// The modem announced a reset after Ctrl-Z, before answering.
    ModemReset,
}

/// What happened to one part of a message.
#[derive(Debug)]
pub enum PartOutcome {
    /// Accepted by the network; `message_ref` is the TP-MR from `+CMGS` (matches status
    /// reports), `None` when the modem said `OK` without it.
    Sent { message_ref: Option<u8> },
    /// The modem or network said no (`+CMS ERROR`, `+CME ERROR`, `ERROR`): it did not go out.
    Rejected { result: Final, class: ErrorClass },
    /// Not submitted: safe to retry, here or elsewhere.
    NotSent { reason: NotSentReason },
    /// Submitted, then no answer or the stream died: the part may have gone out.
    Ambiguous { reason: AmbiguousReason },
    /// The transport failed before the PDU was written: nothing went out; `error.is_transport()`.
    Failed { error: ModemError },
    /// An earlier part failed, this one was not tried.
    NotAttempted,
}

impl PartOutcome {
    pub fn is_sent(&self) -> bool {
        matches!(self, PartOutcome::Sent { .. })
    }

    /// Whether this part may have reached the network (sent or ambiguous).
    pub fn may_have_gone_out(&self) -> bool {
        matches!(
            self,
            PartOutcome::Sent { .. } | PartOutcome::Ambiguous { .. }
        )
    }

    /// A one-line summary, stable for fixtures and logs: `sent 12`, `rejected +CMS ERROR: 38
    /// transient`, `not-sent prompt-timeout`, `ambiguous no-answer`, `failed: <error>`,
    /// `not-attempted`.
    pub fn summary(&self) -> String {
        match self {
            PartOutcome::Sent {
                message_ref: Some(mr),
            } => format!("sent {mr}"),
            PartOutcome::Sent { message_ref: None } => "sent ?".into(),
            PartOutcome::Rejected { result, class } => {
                format!("rejected {} {class}", result.to_line())
            }
            PartOutcome::NotSent {
                reason: NotSentReason::PromptTimeout,
            } => "not-sent prompt-timeout".into(),
            PartOutcome::NotSent {
                reason: NotSentReason::NoPrompt,
            } => "not-sent no-prompt".into(),
            PartOutcome::NotSent {
                reason: NotSentReason::ModemReset,
            } => "not-sent modem-reset".into(),
            PartOutcome::NotSent {
                reason: NotSentReason::Fenced,
            } => "not-sent fenced".into(),
            PartOutcome::Ambiguous {
                reason: AmbiguousReason::NoAnswer(_),
            } => "ambiguous no-answer".into(),
            PartOutcome::Ambiguous {
                reason: AmbiguousReason::StreamDied(_),
            } => "ambiguous stream-died".into(),
            PartOutcome::Ambiguous {
                reason: AmbiguousReason::ModemReset,
            } => "ambiguous modem-reset".into(),
            PartOutcome::Failed { error } => format!("failed: {error}"),
            PartOutcome::NotAttempted => "not-attempted".into(),
        }
    }
}

impl fmt::Display for PartOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

/// What the modem is good for right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// Not initialized yet.
    Unknown,
    /// Opening the port or running init.
    Probing,
    Ready,
    NoSim,
    PinNeeded,
    /// PUK or another lock a human must clear, or a SIM failure.
    SimLocked,
    NotRegistered,
    /// Stopped answering (no OK to AT).
    Hung,
    /// The port is gone (EOF, I/O error).
    Gone,
    /// The modem reset itself (`RDY`, `^BOOT`, `SMS Ready`...): run init again.
    NeedsReinit,
    /// Init failed for another reason (a command refused, an unexpected answer).
    NotReady,
    /// The SIM refused to send (`+CMS ERROR` of the SIM class): out of the pool until
    /// probed again.
    Quarantined,
    /// The modem's task has ended (daemon stopping).
    Stopped,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ready => "ready",
            Health::NoSim => "no-sim",
            Health::PinNeeded => "pin-needed",
            Health::SimLocked => "sim-locked",
            Health::NotRegistered => "not-registered",
            Health::Hung => "hung",
            Health::Gone => "gone",
            Health::NeedsReinit => "needs-reinit",
            Health::Probing => "probing",
            Health::NotReady => "not-ready",
            Health::Quarantined => "quarantined",
            Health::Stopped => "stopped",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_set() {
        let mut c = ModemConfig::default();
        c.set("pin", "1234").unwrap();
        c.set("cmgs_timeout", "15").unwrap();
        c.set("status_reports", "false").unwrap();
        assert_eq!(c.pin.as_deref(), Some("1234"));
        assert_eq!(c.cmgs_timeout, Duration::from_secs(15));
        assert!(!c.status_reports);
        assert_eq!(
            c.set("nope", "1").unwrap_err(),
            "unknown modem setting \"nope\""
        );
        assert!(c.set("prompt_timeout", "-1").is_err());
        assert!(c.set("prompt_timeout", "x").is_err());
        assert!(c.set("resync_attempts", "0").is_err());
    }

    #[test]
    fn summaries_are_pinned() {
        use crate::at::CmsError;
        assert_eq!(
            PartOutcome::Sent {
                message_ref: Some(7)
            }
            .summary(),
            "sent 7"
        );
        assert_eq!(
            PartOutcome::Rejected {
                result: Final::Cms(CmsError::NetworkOutOfOrder),
                class: ErrorClass::Transient
            }
            .summary(),
            "rejected +CMS ERROR: 38 transient"
        );
        assert_eq!(PartOutcome::NotAttempted.to_string(), "not-attempted");
        assert!(PartOutcome::Ambiguous {
            reason: AmbiguousReason::NoAnswer(Duration::ZERO)
        }
        .may_have_gone_out());
    }
}
