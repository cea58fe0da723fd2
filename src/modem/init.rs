//! Init: the sequence that brings a freshly plugged (or freshly reset) modem to "ready to
//! send PDUs", and gathers its identity. Each command, in order (fixtures replay exactly this):
//!
//! 1. `ESC CR`, then `AT` until `OK` (wake; leave a stuck prompt; echo may still be on)
//! 2. `ATE0`, `AT+CMEE=1` (numeric `+CME`/`+CMS` errors)
//! 3. `AT+CGMI`, `AT+CGMM`, `AT+CGMR`, `AT+CGSN` (identity; errors ignored)
//! 4. Huawei only: `AT^CURC=0` (stop `^RSSI`/`^MODE`/`^BOOT` reports; when refused, `^BOOT`
//!    stays periodic and is no longer taken as a reset; likewise when a `^BOOT` asked for this
//!    init and the modem still had echo off at step 1, i.e. kept its settings)
//! 5. `AT+CPIN?` until `READY`: the configured PIN is entered once (`AT+CPIN="…"`) and never
//!    retried; SIM busy / "please wait" is polled until `sim_ready_timeout`
//! 6. ZTE only: `AT+CPMS?` (stops the `+ZUSIMR` flood)
//! 7. `AT+CMGF=0` (PDU mode), retried while the SMS functions are not ready (SIMCom before
//!    `SMS Ready`), waking early on `SMS Ready`/`SMS DONE`
//! 8. `AT+CSCA?` until it names an SMSC (`+CMS ERROR: 330` right after boot is retried)
//! 9. `AT+CNMI=?`, then `AT+CNMI=<mode>,<mt>,0,<ds>,<bfr>` chosen from what is offered
//!    and the family's quirks (`+CMTI` for new messages; status reports as `+CDS` (ds=1),
//!    else stored and announced by `+CDSI` (ds=2), else none); a refused choice is followed
//!    by the next one
//! 10. `AT+CREG?` until registered (home, roaming, SMS-only), waking early on a `+CREG` URC
//! 11. `AT+CIMI`, `AT+COPS?`, `AT+CNUM`, `AT+CSQ` (identity; errors ignored)

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::engine::{Engine, Response};
use super::error::{ModemError, SimProblem};
use super::types::{Health, Identity, ReportRoute};
use crate::at::command;
use crate::at::parse::{self, CnmiSupport, PinState};
use crate::at::{CmeError, ErrorClass, Final};

#[derive(Clone, Copy, PartialEq)]
enum Vendor {
    Huawei,
    Zte,
    Other,
}

fn pick(offered: &[u32], preferred: &[u32], fallback: u32) -> u32 {
    if offered.is_empty() {
        return fallback;
    }
    preferred
        .iter()
        .copied()
        .find(|p| offered.contains(p))
        .unwrap_or(offered[0])
}

/// What a modem family does with status reports, beyond what `AT+CNMI=?` says (field notes,
/// "Where reports land").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ReportQuirks {
    /// `<ds>`=2 loses the reports: never ask for it.
    no_stored: bool,
    /// Neither route works: ask for none.
    none: bool,
}

fn report_quirks(manufacturer: Option<&str>, model: Option<&str>) -> ReportQuirks {
    let maker = manufacturer.unwrap_or("").to_ascii_lowercase();
    let model = model.unwrap_or("").to_ascii_uppercase();
    if model.contains("MU509") {
        // Huawei MU509: ds=2 announces "SR", which it cannot read; ds=1 is refused with mode 0
        // or 2 (MU509 AT spec 6.3, 6.6).
        return ReportQuirks {
            none: true,
            ..ReportQuirks::default()
        };
    }
    if maker.contains("quectel") {
        // Quectel EC25/EG25: with ds=2 the report is stored in "SR" but announced as "SM", and
        // reading it gives a bare OK (asterisk-chan-quectel PR #75).
        return ReportQuirks {
            no_stored: true,
            ..ReportQuirks::default()
        };
    }
    ReportQuirks::default()
}

/// `<mode>` 2 (buffer while the link is busy) or 1; `<mt>` 1 (`+CMTI`); `<bm>` 0; `<bfr>` 0;
/// and the `<ds>` values to try in order: 1 (`+CDS`), then 2 (`+CDSI`) when status reports are
/// wanted (some modems list ds=1 and refuse it: ModemManager's CNMI sequence), then none.
fn choose_cnmi(
    s: &CnmiSupport,
    status_reports: bool,
    quirks: ReportQuirks,
) -> ((u32, u32, u32, u32), Vec<u32>) {
    let mode = pick(&s.mode, &[2, 1], 2);
    // mt=1: stored, announced by +CMTI, read and deleted after the commit (nothing lost in a
    // crash); mt=2 (+CMT, acknowledged with AT+CNMA where required) only when 1 is refused.
    let mt = pick(&s.mt, &[1, 2], 1);
    let bm = pick(&s.bm, &[0], 0);
    let bfr = pick(&s.bfr, &[0], 0);
    let offered = |ds: u32| s.ds.is_empty() || s.ds.contains(&ds);
    let mut ds: Vec<u32> = Vec::new();
    if status_reports && !quirks.none {
        ds.extend([1, 2].into_iter().filter(|d| offered(*d)));
        if quirks.no_stored {
            ds.retain(|d| *d != 2);
        }
    }
    let off = pick(&s.ds, &[0], 0);
    if !ds.contains(&off) {
        ds.push(off);
    }
    ((mode, mt, bm, bfr), ds)
}

fn sim_error(result: &Final) -> Option<SimProblem> {
    SimProblem::from_final(result)
}

impl<S: AsyncRead + AsyncWrite + Unpin> Engine<S> {
    /// Runs the init sequence (see the module documentation) and returns the identity.
    /// Safe to call again after a reset ([`Engine::needs_reinit`]).
    pub async fn init(&mut self) -> Result<Identity, ModemError> {
        self.initialized = false;
        let result = self.run_init().await;
        match &result {
            Ok(identity) => {
                self.initialized = true;
                self.health = Health::Ready;
                self.identity = Some(identity.clone());
                info!(
                    model = identity.model.as_deref().unwrap_or("?"),
                    operator = identity.operator.as_deref().unwrap_or("?"),
                    "modem ready"
                );
            }
            Err(e) => {
                self.health = match e {
                    _ if e.is_transport() => self.health,
                    ModemError::Sim(SimProblem::NotInserted) => Health::NoSim,
                    ModemError::Sim(SimProblem::PinRequired | SimProblem::BadPin) => {
                        Health::PinNeeded
                    }
                    ModemError::Sim(_) | ModemError::NoSmsc => Health::SimLocked,
                    ModemError::NotRegistered { .. } => Health::NotRegistered,
                    _ => Health::NotReady,
                };
                warn!(error = %e, "init failed");
            }
        }
        result
    }

    /// A command whose failure init tolerates: the lines on `OK`, `None` on an error answer
    /// or a timeout (after which the modem answered `AT` again).
    async fn optional(&mut self, cmd: &str) -> Result<Option<Vec<String>>, ModemError> {
        match self.command(cmd).await {
            Ok(Response { lines, result }) if result.is_ok() => Ok(Some(lines)),
            Ok(Response { result, .. }) => {
                debug!(cmd, %result, "optional command refused");
                Ok(None)
            }
            Err(ModemError::Timeout { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn optional_text(
        &mut self,
        cmd: &str,
        parse: fn(&[&str]) -> Result<String, parse::ParseError>,
    ) -> Result<Option<String>, ModemError> {
        Ok(self.optional(cmd).await?.and_then(|lines| {
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            parse(&refs).ok()
        }))
    }

    async fn run_init(&mut self) -> Result<Identity, ModemError> {
        self.usable()?;
        // 1. Wake: leave a prompt / finish a half-typed line, drop stale input, AT until OK.
        self.digester.clear();
        self.write_all(&[command::ESC, b'\r']).await?;
        // Echo is on at power-on (V.250 `E1`); after our `ATE0` it stays off until a restart.
        let settings_lost = self.resync().await?.echoed;
        // 2.
        let echo_off = self.command("ATE0").await?;
        if !echo_off.result.is_ok() {
            warn!(result = %echo_off.result, "ATE0 refused; echo stays on");
        }
        self.optional("AT+CMEE=1").await?;
        // 3.
        let mut id = Identity {
            manufacturer: self.optional_text("AT+CGMI", parse::parse_identity).await?,
            model: self
                .optional_text("AT+CGMM", parse::parse_model_lines)
                .await?,
            revision: self.optional_text("AT+CGMR", parse::parse_identity).await?,
            imei: None,
            ..Identity::default()
        };
        if let Some(lines) = self.optional("AT+CGSN").await? {
            id.imei = lines.iter().find_map(|l| parse::parse_imei(l).ok());
        }
        let maker = id
            .manufacturer
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        let vendor = if maker.contains("huawei") {
            Vendor::Huawei
        } else if maker.contains("zte") {
            Vendor::Zte
        } else {
            Vendor::Other
        };
        // 4.
        self.periodic_boot = false;
        if vendor == Vendor::Huawei && self.config.quiet_vendor_urcs {
            self.periodic_boot = self.optional("AT^CURC=0").await?.is_none();
        }
        if std::mem::take(&mut self.boot_suspect) && !settings_lost {
            // Firmware that accepts AT^CURC=0 and still repeats ^BOOT (seen with noisy
            // sticks): a restart would have brought echo back on.
            info!(
                "^BOOT came but the modem kept its settings: its ^BOOT is periodic, not a restart"
            );
            self.periodic_boot = true;
        }
        // 5.
        self.unlock_sim().await?;
        // 6.
        if vendor == Vendor::Zte && self.config.quiet_vendor_urcs {
            self.optional("AT+CPMS?").await?;
        }
        // 7.
        let deadline = Instant::now() + self.config.sim_ready_timeout;
        self.until_ready("AT+CMGF=0", deadline).await?;
        // 8.
        id.smsc = self.smsc(deadline).await?;
        // 9.
        let quirks = report_quirks(id.manufacturer.as_deref(), id.model.as_deref());
        id.reports = self.route_indications(quirks).await?;
        // 10.
        self.wait_registered().await?;
        // 11.
        if let Some(lines) = self.optional("AT+CIMI").await? {
            id.imsi = lines.iter().find_map(|l| parse::parse_imsi(l).ok());
        }
        if let Some(lines) = self.optional("AT+COPS?").await? {
            id.operator = lines
                .iter()
                .find_map(|l| parse::parse_cops_read(l).ok())
                .and_then(|o| o.name);
        }
        if let Some(lines) = self.optional("AT+CNUM").await? {
            id.own_number = lines.iter().find_map(|l| parse::parse_cnum(l).ok());
        }
        if let Some(lines) = self.optional("AT+CSQ").await? {
            id.signal = lines.iter().find_map(|l| parse::parse_csq(l).ok());
        }
        Ok(id)
    }

    async fn unlock_sim(&mut self) -> Result<(), ModemError> {
        let started = Instant::now();
        let deadline = started + self.config.sim_ready_timeout;
        let mut pin_sent = false;
        loop {
            let timeout = self.config.command_timeout;
            let grace = Some(self.config.cpin_grace);
            let r = self.exchange("AT+CPIN?", timeout, grace).await?;
            let state = if r.result.is_ok() {
                let line = r.line("+CPIN").unwrap_or("");
                Some(parse::parse_cpin(line).map_err(|e| ModemError::Protocol {
                    command: "AT+CPIN?".into(),
                    detail: e.to_string(),
                })?)
            } else if matches!(r.result, Final::Cme(CmeError::SimPinRequired)) {
                Some(PinState::SimPin)
            } else {
                if let Some(problem) = sim_error(&r.result) {
                    return Err(ModemError::Sim(problem));
                }
                None
            };
            match state {
                Some(PinState::Ready) => return Ok(()),
                Some(PinState::SimPin) if !pin_sent => {
                    let Some(pin) = self.config.pin.clone() else {
                        return Err(ModemError::Sim(SimProblem::PinRequired));
                    };
                    let cmd = command::cpin_enter(&pin)
                        .map_err(|_| ModemError::Sim(SimProblem::BadPin))?;
                    pin_sent = true;
                    let r = self.command(&cmd).await?;
                    if !r.result.is_ok() {
                        // Never again: each wrong try costs one of three.
                        return Err(ModemError::Sim(SimProblem::WrongPin));
                    }
                    info!("SIM PIN accepted");
                    continue;
                }
                Some(PinState::SimPin) => {
                    // Entered and accepted, still asking: wait (never re-send it).
                    if Instant::now() >= deadline {
                        return Err(ModemError::Sim(SimProblem::WrongPin));
                    }
                }
                Some(other) => {
                    return Err(ModemError::Sim(SimProblem::Locked(
                        other.code().to_string(),
                    )))
                }
                None => {
                    // SIM busy, "please wait", plain ERROR while booting.
                    if Instant::now() >= deadline {
                        return Err(ModemError::Sim(SimProblem::Busy(
                            self.config.sim_ready_timeout,
                        )));
                    }
                }
            }
            let poll = self.config.poll_interval;
            self.wait_for_readiness(poll).await?;
        }
    }

    /// Repeats `cmd` while it fails for reasons that pass (not ready after boot).
    async fn until_ready(&mut self, cmd: &str, deadline: Instant) -> Result<Response, ModemError> {
        loop {
            let r = self.command(cmd).await?;
            if r.result.is_ok() {
                return Ok(r);
            }
            if r.result.class() == ErrorClass::Sim || Instant::now() >= deadline {
                if let Some(problem) = sim_error(&r.result) {
                    return Err(ModemError::Sim(problem));
                }
                return Err(ModemError::Command {
                    command: cmd.into(),
                    result: r.result,
                });
            }
            debug!(cmd, result = %r.result, "not ready yet");
            let poll = self.config.poll_interval;
            self.wait_for_readiness(poll).await?;
        }
    }

    async fn smsc(&mut self, deadline: Instant) -> Result<Option<String>, ModemError> {
        loop {
            let r = self.command("AT+CSCA?").await?;
            if r.result.is_ok() {
                match r.line("+CSCA").map(parse::parse_csca) {
                    Some(Ok(Some(smsc))) => return Ok(Some(smsc)),
                    Some(Err(e)) => warn!(error = %e, "unreadable +CSCA answer"),
                    _ => debug!("SMSC address empty"),
                }
            } else if let Some(problem) = sim_error(&r.result) {
                return Err(ModemError::Sim(problem));
            }
            if Instant::now() >= deadline {
                if self.config.require_smsc {
                    return Err(ModemError::NoSmsc);
                }
                return Ok(None);
            }
            let poll = self.config.poll_interval;
            self.wait_for_readiness(poll).await?;
        }
    }

    async fn route_indications(&mut self, quirks: ReportQuirks) -> Result<ReportRoute, ModemError> {
        let Some(lines) = self.optional("AT+CNMI=?").await? else {
            warn!("AT+CNMI=? refused: incoming messages and reports will not be announced");
            return Ok(ReportRoute::None);
        };
        let support = lines
            .iter()
            .find_map(|l| parse::parse_cnmi_test(l).ok())
            .unwrap_or_default();
        let ((mode, mt, bm, bfr), choices) =
            choose_cnmi(&support, self.config.status_reports, quirks);
        for ds in choices {
            let cmd = command::cnmi(mode, mt, bm, ds, bfr);
            if self.optional(&cmd).await?.is_some() {
                let route = match ds {
                    1 => ReportRoute::Routed,
                    2 => ReportRoute::Stored,
                    _ => ReportRoute::None,
                };
                if self.config.status_reports && route == ReportRoute::None {
                    warn!("this modem cannot route status reports: deliveries stay 'sent'");
                }
                return Ok(route);
            }
            warn!(cmd, "refused");
        }
        warn!("every AT+CNMI refused: incoming messages and reports will not be announced");
        Ok(ReportRoute::None)
    }

    async fn wait_registered(&mut self) -> Result<(), ModemError> {
        let deadline = Instant::now() + self.config.registration_timeout;
        loop {
            let r = self.command("AT+CREG?").await?;
            let reg = if r.result.is_ok() {
                r.line("+CREG")
                    .and_then(|l| parse::parse_registration(l, true).ok())
            } else {
                None
            };
            let last = match &reg {
                Some(reg) if reg.stat.is_registered() => return Ok(()),
                Some(reg) => reg.stat.name().to_string(),
                None => format!("{} to AT+CREG?", r.result),
            };
            if Instant::now() >= deadline {
                return Err(ModemError::NotRegistered {
                    waited: self.config.registration_timeout,
                    last,
                });
            }
            debug!(state = %last, "waiting for registration");
            let poll = self.config.poll_interval;
            self.wait_for_readiness(poll).await?;
        }
    }

    /// Probes the modem: `AT`, `AT+CPIN?`, `AT+CREG?`. A modem that stops answering is found
    /// within `command_timeout` plus the re-sync attempts.
    pub async fn check_health(&mut self) -> Health {
        if self.health == Health::Gone {
            return Health::Gone;
        }
        let reset = self.health == Health::NeedsReinit;
        let health = self.probe_health().await;
        self.health = match health {
            Health::Ready if reset => Health::NeedsReinit,
            h => h,
        };
        self.health
    }

    async fn probe_health(&mut self) -> Health {
        let transport = |e: &ModemError, h: Health| {
            if matches!(e, ModemError::Hung { .. }) {
                Health::Hung
            } else if e.is_transport() {
                Health::Gone
            } else {
                h
            }
        };
        match self.command("AT").await {
            Ok(_) => {}
            Err(e) => return transport(&e, Health::Hung),
        }
        let (timeout, grace) = (self.config.command_timeout, Some(self.config.cpin_grace));
        match self.exchange("AT+CPIN?", timeout, grace).await {
            Ok(r) if r.result.is_ok() => match r.line("+CPIN").map(parse::parse_cpin) {
                Some(Ok(PinState::Ready)) => {}
                Some(Ok(PinState::SimPin)) => return Health::PinNeeded,
                _ => return Health::SimLocked,
            },
            Ok(r) => {
                return match sim_error(&r.result) {
                    Some(SimProblem::NotInserted) => Health::NoSim,
                    Some(_) => Health::SimLocked,
                    None => Health::NotRegistered,
                }
            }
            Err(e) => return transport(&e, Health::Hung),
        }
        match self.registration().await {
            Ok(reg) if reg.stat.is_registered() => Health::Ready,
            Ok(_) => Health::NotRegistered,
            Err(e) => transport(&e, Health::NotRegistered),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cnmi_choice() {
        let none = ReportQuirks::default();
        let s = parse::parse_cnmi_test("+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)").unwrap();
        assert_eq!(choose_cnmi(&s, true, none), ((2, 1, 0, 0), vec![1, 0]));
        let s = parse::parse_cnmi_test("+CNMI: (1),(0-1,3),(0,2),(0,2),(0)").unwrap();
        assert_eq!(choose_cnmi(&s, true, none), ((1, 1, 0, 0), vec![2, 0]));
        assert_eq!(choose_cnmi(&s, false, none), ((1, 1, 0, 0), vec![0]));
        assert_eq!(
            choose_cnmi(&CnmiSupport::default(), true, none),
            ((2, 1, 0, 0), vec![1, 2, 0])
        );
        let s = parse::parse_cnmi_test("+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)").unwrap();
        assert_eq!(choose_cnmi(&s, true, none).1, [1, 2, 0]);
        let quectel = report_quirks(Some("Quectel"), Some("EC25"));
        assert_eq!(choose_cnmi(&s, true, quectel).1, [1, 0]);
        let mu509 = report_quirks(Some("Huawei"), Some("MU509"));
        assert_eq!(choose_cnmi(&s, true, mu509).1, [0]);
        // Neither 1 nor 2 offered: none.
        let s = parse::parse_cnmi_test("+CNMI: (0-3),(0-3),(0,2),(0),(0,1)").unwrap();
        assert_eq!(choose_cnmi(&s, true, none).1, [0]);
        // Incoming messages: stored and announced (mt=1) wherever offered; a modem that only
        // routes them (+CMT, mt=2) gets mt=2.
        let s = parse::parse_cnmi_test("+CNMI: (0-3),(0,2),(0,2),(0,1),(0,1)").unwrap();
        assert_eq!((choose_cnmi(&s, true, none).0).1, 2);
        let s = parse::parse_cnmi_test("+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)").unwrap();
        assert_eq!((choose_cnmi(&s, true, none).0).1, 1);
    }
}
