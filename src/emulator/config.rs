//! What an emulated modem is and how it misbehaves: the profile plus the knobs, per modem.
//! Every random choice is drawn from a generator seeded from [`EmulatorConfig::seed`] and the
//! modem's index, so the same seed and the same commands give the same run.

use std::path::PathBuf;
use std::time::Duration;

use super::profile::Profile;

/// Unsolicited noise lines (`^RSSI`, `^MODE`, `^BOOT`) at random moments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    /// What the profile does: Huawei reports `^RSSI`/`^MODE`/`^BOOT` about every 10 s until the
    /// host sends `AT^CURC=0`; the other profiles stay quiet.
    ProfileDefault,
    /// No periodic noise.
    Off,
    /// A noise line about every this long (0.5x to 1.5x, drawn per line), whatever `^CURC` says
    /// (firmware that does not obey it).
    Every(Duration),
}

/// The misbehaviour of one modem. `Default` is a healthy, fast, quiet modem.
#[derive(Debug, Clone, PartialEq)]
pub struct Knobs {
    /// Time between Ctrl-Z and the `+CMGS`/`+CMS ERROR` answer.
    pub send_latency: Duration,
    /// Extra random latency, uniform in `0..=send_jitter`.
    pub send_jitter: Duration,
    /// Probability (0..=1) that an otherwise good send fails with one of `error_codes`.
    pub error_rate: f64,
    /// `+CMS ERROR` codes drawn (uniformly) for random failures.
    pub error_codes: Vec<u16>,
    /// After this many accepted parts the modem stops answering anything (until reboot/replug).
    pub hang_after_sends: Option<u32>,
    /// The n-th accepted part (1-based) is accepted and logged, and then the modem never
    /// answers again: the host cannot know whether the part went out.
    pub die_after_ctrl_z: Option<u32>,
    /// After this many accepted parts the PTY goes away (symlink removed, client sees EIO).
    pub unplug_after_sends: Option<u32>,
    /// The modem's UART speed. A client whose port is set to another speed gets nothing
    /// through: what it writes arrives garbled and is dropped (a SIM800 on a serial adapter
    /// behaves so; USB sticks ignore the speed, hence `None`, the default).
    pub baud: Option<u32>,
    /// With `unplug_after_sends = K`: unplugged again after every K accepted parts (a loose
    /// USB plug), not only the first time.
    pub unplug_repeat: bool,
    /// A modem that went away comes back after this long at the same path with a new PTY.
    /// `None`: only [`super::EmulatorHandle::replug`] brings it back.
    pub replug_after: Option<Duration>,
    /// After this many accepted parts the modem loses network registration...
    pub reg_loss_after_sends: Option<u32>,
    /// ... for this long (`None`: until [`super::EmulatorHandle::regain_registration`]).
    pub reg_loss_for: Option<Duration>,
    /// Periodic noise.
    pub noise: Noise,
    /// Probability (0..=1) that a noise line comes between a command (or a PDU) and its answer.
    pub noise_in_answers: f64,
    /// Whether noise lines include `^BOOT` (Huawei's periodic report, which a host may take
    /// for a restart); `false`: only `^RSSI` and `^MODE`.
    pub noise_boot: bool,
    /// The SIM asks for this PIN at power-on (`+CPIN: SIM PIN`).
    pub pin: Option<String>,
    /// The PUK that unblocks the SIM after three wrong PINs.
    pub puk: String,
    /// Per-SIM cap: once this many parts were accepted (ever, reboots included), every further
    /// send fails with `cap_error`, the way a carrier's block does.
    pub cap: Option<u32>,
    /// The `+CMS ERROR` of a send past the cap. Default 38 ("network out of order"), what Gammu
    /// users report when the operator stops taking a SIM's messages (field notes, gammu#64/#537).
    pub cap_error: u16,
    /// After this many accepted parts the modem reboots by itself (answer first, then reset).
    pub reboot_after_sends: Option<u32>,
    /// How long a reboot keeps the modem silent before its boot URCs.
    pub boot_time: Duration,
    /// Signal quality reported by `+CSQ` and `^RSSI` (0..=31).
    pub rssi: u8,
    /// No SIM in the slot: `AT+CPIN?` answers `+CME ERROR: 10` (SIM not inserted), SIM commands
    /// fail likewise, the modem never registers.
    pub sim_absent: bool,
    /// The SMSC address stored on the SIM, as `AT+CSCA?` shows it; empty: a SIM with none
    /// (`+CSCA: "",129`, seen on fresh data SIMs), and a PDU without its own SMSC is then
    /// refused with `+CMS ERROR: 330` (SMSC address unknown).
    pub smsc: String,
    /// The SIM registers on LTE only (a data-only or VoLTE-only subscription without circuit
    /// switched fallback): `+CEREG` says registered while `+CREG` and `+CGREG` say 0 (not
    /// registered, not searching); SMS still goes out (over SGs/IMS). Only for families with
    /// LTE (`generic`, `quectel`); the 3G/2G families do not know `AT+CEREG` at all.
    pub lte_only: bool,
    /// A status report for every accepted part that asked for one (TP-SRR), this long after
    /// it (0.5x to 1.5x, drawn per report, so reports come out of order); `None`: only
    /// [`super::EmulatorHandle::deliver_status_report`] sends them.
    pub report_delay: Option<Duration>,
    /// Probability (0..=1) that an automatic report says the network gave up.
    pub report_failure_rate: f64,
    /// The TP-ST of such a failure (0x45 "no interworking available" by default; 0x41
    /// "incompatible destination", 0x46 "validity period expired"...).
    pub report_failure_status: u8,
    /// `AT+CNMI` with `<ds>`=1 is refused although `AT+CNMI=?` lists it (ModemManager's note on
    /// many Qualcomm-based modems): the host has to fall back to stored reports (`+CDSI`).
    pub refuse_routed_reports: bool,
    /// Slots of the SIM ("SM") memory; `None`: the profile's (30 generic, 50 others). A full
    /// receive memory stores nothing more: the network holds new messages (TS 31.102 EF_SMSS
    /// "memory capacity exceeded") and delivers them once a deletion makes room.
    pub sim_slots: Option<usize>,
    /// With the receive memory full, `AT+CMGS` is refused with `+CMS ERROR: 322` (memory full),
    /// as on modems that block sending until the memory is read (SMSTools3's
    /// `receive_before_send`).
    pub full_memory_blocks_sends: bool,
    /// The order in which the parts of a long incoming message reach the modem.
    pub inbound_order: PartOrder,
    /// Phones that answer: a message accepted for a number matching a pattern gets this reply
    /// from that number after the delay.
    pub replies: Vec<AutoReply>,
    /// Messages the network delivers by itself, this long after the emulator starts.
    pub scripted: Vec<ScriptedSms>,
    /// `AT+CNMI=?` offers `<mt>` 0 and 2 only (and `mt=1` is refused): incoming messages come
    /// routed as `+CMT`, never stored, as on modules whose firmware insists on routing.
    pub routed_messages_only: bool,
    /// The MCC+MNC that begins the SIM's IMSI (`46000` China Mobile, `46001` China Unicom,
    /// `46003` China Telecom...).
    pub plmn: String,
}

/// The order of the parts of an incoming concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartOrder {
    #[default]
    InOrder,
    /// Last part first (a 10010 notice came 2/3, 3/3, 1/3; jasmin#1257 had 5/5 first).
    Reverse,
    /// Drawn per message (seeded).
    Shuffled,
}

impl std::str::FromStr for PartOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "in-order" => Ok(PartOrder::InOrder),
            "reverse" => Ok(PartOrder::Reverse),
            "shuffled" => Ok(PartOrder::Shuffled),
            other => Err(format!(
                "'{other}' is not a part order (in-order, reverse, shuffled)"
            )),
        }
    }
}

/// A phone that replies: `pattern` is a number (`+8613800138000`) or a glob with `*`
/// (`+86138*`, `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoReply {
    pub pattern: String,
    pub text: String,
    pub delay: Duration,
}

impl AutoReply {
    /// Whether `number` is one of this reply's phones.
    pub fn matches(&self, number: &str) -> bool {
        glob_match(self.pattern.as_bytes(), number.as_bytes())
    }
}

fn glob_match(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob_match(rest, &s[i..])),
        Some((c, rest)) => s.first() == Some(c) && glob_match(rest, &s[1..]),
    }
}

/// `PATTERN=TEXT[@DELAY]` (`--reply`) or `FROM=TEXT[@DELAY]` (`--inbound`): the delay as
/// [`parse_duration`] reads it (`500ms`, `2s`, `1m`); without one, `default_delay`. An `@`
/// followed by something that is no duration belongs to the text.
pub fn parse_who_text_delay(
    spec: &str,
    default_delay: Duration,
) -> Result<(String, String, Duration), String> {
    let (who, rest) = spec
        .split_once('=')
        .ok_or_else(|| format!("'{spec}': expected NUMBER=TEXT[@DELAY]"))?;
    if who.trim().is_empty() {
        return Err(format!("'{spec}': the number or pattern is empty"));
    }
    let (text, delay) = match rest.rsplit_once('@') {
        Some((t, d)) if parse_duration(d).is_ok() => (t, parse_duration(d).unwrap_or_default()),
        _ => (rest, default_delay),
    };
    if text.is_empty() {
        return Err(format!("'{spec}': the text is empty"));
    }
    Ok((who.trim().to_string(), text.to_string(), delay))
}

/// A message the network sends by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedSms {
    /// A number or a short code (`10086`).
    pub from: String,
    pub text: String,
    pub after: Duration,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            send_latency: Duration::ZERO,
            send_jitter: Duration::ZERO,
            error_rate: 0.0,
            error_codes: vec![38, 500],
            hang_after_sends: None,
            die_after_ctrl_z: None,
            unplug_after_sends: None,
            unplug_repeat: false,
            baud: None,
            replug_after: None,
            reg_loss_after_sends: None,
            reg_loss_for: None,
            noise: Noise::ProfileDefault,
            noise_in_answers: 0.0,
            noise_boot: true,
            pin: None,
            puk: "12345678".to_string(),
            cap: None,
            cap_error: 38,
            reboot_after_sends: None,
            boot_time: Duration::from_millis(200),
            rssi: 20,
            sim_absent: false,
            smsc: DEFAULT_SMSC.to_string(),
            lte_only: false,
            report_delay: None,
            report_failure_rate: 0.0,
            report_failure_status: 0x45,
            refuse_routed_reports: false,
            sim_slots: None,
            full_memory_blocks_sends: false,
            inbound_order: PartOrder::InOrder,
            replies: Vec::new(),
            scripted: Vec::new(),
            routed_messages_only: false,
            plmn: "46000".into(),
        }
    }
}

/// The SMSC address an emulated SIM carries unless told otherwise (China Mobile's).
pub const DEFAULT_SMSC: &str = "+8613800100500";

/// One modem: its family and its knobs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmulatedModem {
    pub profile: Profile,
    pub knobs: Knobs,
}

/// The whole emulator.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorConfig {
    /// Where the stable symlinks `modem0 .. modem{N-1}` are made (created if missing).
    pub dir: PathBuf,
    /// JSON-lines log of every accepted part.
    pub log: Option<PathBuf>,
    /// Seed of every random choice.
    pub seed: u64,
    /// One entry per modem.
    pub modems: Vec<EmulatedModem>,
}

impl EmulatorConfig {
    /// `count` healthy generic modems in `dir`, seed 0, no log.
    pub fn new(dir: impl Into<PathBuf>, count: usize) -> Self {
        EmulatorConfig {
            dir: dir.into(),
            log: None,
            seed: 0,
            modems: vec![EmulatedModem::default(); count],
        }
    }

    /// Sets the log file.
    pub fn log(mut self, path: impl Into<PathBuf>) -> Self {
        self.log = Some(path.into());
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Changes every modem.
    pub fn all(mut self, f: impl Fn(&mut EmulatedModem)) -> Self {
        self.modems.iter_mut().for_each(f);
        self
    }

    /// Changes modem `index` (ignored when out of range; [`super::Emulator::start`] checks
    /// nothing more about it).
    pub fn modem(mut self, index: usize, f: impl FnOnce(&mut EmulatedModem)) -> Self {
        if let Some(m) = self.modems.get_mut(index) {
            f(m);
        }
        self
    }
}

/// Parses `250ms`, `2s`, `1.5s`, `3m`, `1h` or a bare `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{text:?}: give a unit (ms, s, m, h), e.g. 250ms or 2s"))?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{text:?}: not a number before the unit"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    if !secs.is_finite() || !(0.0..=86_400.0 * 365.0).contains(&secs) {
        return Err(format!("{text:?}: out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A 64-bit mixer (SplitMix64 finaliser) used to derive per-modem seeds from the emulator seed.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5").unwrap_err().contains("unit"));
        assert!(parse_duration("5parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn builder_targets_one_modem() {
        let cfg = EmulatorConfig::new("/tmp/x", 3)
            .seed(7)
            .all(|m| m.knobs.rssi = 10)
            .modem(1, |m| m.knobs.cap = Some(5));
        assert_eq!(cfg.modems[1].knobs.cap, Some(5));
        assert_eq!(cfg.modems[0].knobs.cap, None);
        assert!(cfg.modems.iter().all(|m| m.knobs.rssi == 10));
        assert_ne!(mix(1), mix(2));
    }
}

#[cfg(test)]
mod inbound_spec_tests {
    use super::*;

    #[test]
    fn reply_specs_and_patterns() {
        let (p, t, d) = parse_who_text_delay("+86138*=收到@2.5s", Duration::from_secs(1)).unwrap();
        assert_eq!(
            (p.as_str(), t.as_str(), d),
            ("+86138*", "收到", Duration::from_millis(2500))
        );
        let (_, t, d) = parse_who_text_delay("*=mail me @ home", Duration::from_secs(1)).unwrap();
        assert_eq!((t.as_str(), d), ("mail me @ home", Duration::from_secs(1)));
        let (_, _, d) = parse_who_text_delay("10086=x@500ms", Duration::ZERO).unwrap();
        assert_eq!(d, Duration::from_millis(500));
        assert!(parse_who_text_delay("no-equals", Duration::ZERO).is_err());
        assert!(parse_who_text_delay("=x", Duration::ZERO).is_err());
        assert!(parse_who_text_delay("123=", Duration::ZERO).is_err());
        let r = AutoReply {
            pattern: "+86138*".into(),
            text: "ok".into(),
            delay: Duration::ZERO,
        };
        assert!(r.matches("+8613800138000"));
        assert!(!r.matches("+8613900138000"));
    }
}
