//! One modem's AT behaviour as a pure state machine: bytes in, [`Effect`]s out. No I/O and no
//! clock: waiting (send latency, boot time, registration coming back) is asked for with an
//! effect and the caller comes back with [`Machine::resume`] / [`Machine::boot_done`] /
//! [`Machine::set_registration`]. Randomness comes from generators seeded by the caller, one
//! for command-driven choices (send outcomes, latency, noise inside answers) and one for the
//! periodic noise, so the send outcomes of a run depend only on the seed and the commands.
//!
//! Formats follow 3GPP TS 27.007 / 27.005 with `ATV1`: information lines as `\r\n<line>\r\n`,
//! final results as `\r\nOK\r\n`, echo of the command line as typed (the corpus shows
//! `AT+CSQ\r\r\n+CSQ: 12,99\r\n\r\nOK\r\n`).
//!
//! `AT+CMEE` governs both `+CME ERROR` and `+CMS ERROR` (0: plain `ERROR`; 1: numeric; 2:
//! verbose text for `+CME`, numeric for `+CMS`), as the Quectel manual describes it.

use std::collections::VecDeque;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::command::{self, Cmd, Form};
use super::config::{mix, EmulatedModem, Noise, PartOrder};
use super::inbound::{self, NetworkPdu};
use super::profile::{format_range, Profile};
use crate::sms::{self, Address, Concat, Timestamp, Tpdu};

/// What the caller must do after feeding the machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Bytes for the host.
    Write(Vec<u8>),
    /// A part was accepted by the "network": log it.
    Accepted(AcceptedPart),
    /// The modem is busy (sending): call [`Machine::resume`] after this long.
    Busy(Duration),
    /// The modem is rebooting: call [`Machine::boot_done`] after this long.
    Boot(Duration),
    /// The USB device goes away: close the PTY and remove the symlink (after a short grace so
    /// the host can read what was just written).
    Unplug,
    /// Registration was lost: call `set_registration(true)` after this long.
    RegainAfter(Duration),
    /// An automatic status report is due: call [`Machine::status_report_to`] after this long.
    Report {
        after: Duration,
        mr: u8,
        to: String,
        status: u8,
    },
    /// A phone answers: call [`Machine::incoming`] with this after this long.
    Reply {
        after: Duration,
        from: String,
        text: String,
    },
}

/// One accepted SMS part, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedPart {
    pub mr: u8,
    pub to: String,
    pub encoding: &'static str,
    pub text: String,
    pub concat: Option<Concat>,
    /// The PDU as the host sent it (SMSC field included), upper-case hex.
    pub pdu: String,
    /// TP-SRR: the host asked for a status report.
    pub status_report: bool,
}

/// Where a status report went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportRoute {
    /// Shown directly: `+CDS: <len>` and the PDU (`AT+CNMI=..,..,..,1`).
    Cds,
    /// Stored in "SR" and announced: `+CDSI: "SR",<index>` (`AT+CNMI=..,..,..,2`).
    Cdsi { index: usize },
    /// `ds=0`, or the modem is hung or booting: the host never hears of it.
    NotRouted,
}

/// Where one part of an incoming message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncomingRoute {
    /// Stored at this index of the receive memory (announced by `+CMTI` when `mt=1`).
    Stored { index: usize },
    /// Shown directly with `+CMT` (`mt=2`).
    Direct,
    /// The receive memory is full: the network holds it until a deletion makes room.
    Held,
}

/// Why an inbound event could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("no message with reference {0} was sent from this modem")]
    UnknownReference(u8),
    #[error("the SIM is not ready (PIN not entered)")]
    SimNotReady,
    #[error("the {0} memory is full")]
    MemoryFull(&'static str),
    #[error("bad number or text: {0}")]
    Codec(#[from] sms::SmsError),
}

/// Counters for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Command lines received (lines starting with `AT`).
    pub commands: u64,
    /// Parts accepted (logged), reboots included.
    pub accepted: u32,
    /// Sends answered with `+CMS ERROR`, by code (304 for refused PDUs included).
    pub failed: std::collections::BTreeMap<u16, u32>,
    pub reboots: u32,
    pub status_reports: u32,
    pub incoming_parts: u32,
    /// Times the modem went silent (hang or die after Ctrl-Z).
    pub hangs: u32,
    pub last_mr: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mem {
    Sm,
    Me,
    Sr,
}

impl Mem {
    fn name(self) -> &'static str {
        match self {
            Mem::Sm => "SM",
            Mem::Me => "ME",
            Mem::Sr => "SR",
        }
    }

    fn parse(s: &str) -> Option<Mem> {
        match s.to_ascii_uppercase().as_str() {
            "SM" => Some(Mem::Sm),
            "ME" => Some(Mem::Me),
            "SR" => Some(Mem::Sr),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Stored {
    /// 0 REC UNREAD, 1 REC READ, 2 STO UNSENT, 3 STO SENT.
    stat: u8,
    pdu: NetworkPdu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sim {
    /// No card in the slot (the `sim_absent` knob); stays so across reboots.
    Absent,
    Ready,
    NeedPin,
    NeedPuk,
    Blocked,
}

#[derive(Debug, Clone)]
enum State {
    Command,
    Prompt {
        len: usize,
        hex: Vec<u8>,
    },
    Busy {
        result: Result<u8, u16>,
        part: Option<AcceptedPart>,
    },
    Booting,
    Hung,
}

#[derive(Debug)]
enum Fail {
    Error,
    Unknown,
    Cme(u16),
    Cms(u16),
}

enum Reply {
    Done(Vec<String>),
    Fail(Fail),
    Prompt(usize),
    Reboot,
}

fn done<S: Into<String>>(line: S) -> Reply {
    Reply::Done(vec![line.into()])
}

fn ok() -> Reply {
    Reply::Done(Vec::new())
}

/// Verbose `+CME ERROR` texts (TS 27.007 9.2.1).
fn cme_text(code: u16) -> &'static str {
    match code {
        3 => "operation not allowed",
        4 => "operation not supported",
        10 => "SIM not inserted",
        11 => "SIM PIN required",
        12 => "SIM PUK required",
        13 => "SIM failure",
        16 => "incorrect password",
        50 => "Incorrect parameters",
        _ => "unknown",
    }
}

const MAX_COMMAND_LINE: usize = 1024;
const MAX_PDU_HEX: usize = 2 * (12 + 164);
const MAX_TPDU: usize = 164;
const SENT_MEMORY: usize = 512;

/// The AT side of one emulated modem.
pub struct Machine {
    profile: Profile,
    cfg: EmulatedModem,
    rng: StdRng,
    noise_rng: StdRng,
    report_rng: StdRng,
    // identity
    imei: String,
    imsi: String,
    own_number: String,
    lac: u16,
    ci: u32,
    // settings that a reboot resets
    echo: bool,
    cmee: u8,
    cmgf: u8,
    cscs: String,
    cnmi: [u8; 5],
    creg_n: u8,
    cgreg_n: u8,
    cereg_n: u8,
    cops_format: u8,
    curc: bool,
    cfun: u8,
    cpms: [Mem; 3],
    sregs: [u8; 13],
    // SIM and network (survive reboots)
    sim: Sim,
    pin: Option<String>,
    pin_left: u8,
    puk_left: u8,
    smsc: String,
    reg_lost: bool,
    sm: Vec<Option<Stored>>,
    me: Vec<Option<Stored>>,
    sr: Vec<Option<Stored>>,
    next_mr: u8,
    next_concat: u8,
    sent: VecDeque<(u8, Address, Timestamp)>,
    // protocol state
    state: State,
    line: Vec<u8>,
    input: VecDeque<u8>,
    urcs: Vec<String>,
    fx: Vec<Effect>,
    pub stats: Stats,
    /// Incoming parts the network holds while the receive memory is full.
    held: VecDeque<NetworkPdu>,
}

impl Machine {
    /// A powered-on modem. `seed` is the modem's own seed.
    pub fn new(cfg: EmulatedModem, seed: u64) -> Self {
        let mut id = StdRng::seed_from_u64(mix(seed ^ 0x1D));
        let digits = |rng: &mut StdRng, n: usize| -> String {
            (0..n)
                .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
                .collect()
        };
        let body = format!("86{}", digits(&mut id, 12));
        let imei = format!("{body}{}", luhn(&body));
        let imsi = format!("{}{}", cfg.knobs.plmn, digits(&mut id, 10));
        let own_number = format!("+86139{}", digits(&mut id, 8));
        let lac = id.gen_range(0x1000..0xF000);
        let ci = id.gen_range(0x10_0000..0xF00_0000);
        let mut rng = StdRng::seed_from_u64(mix(seed));
        let next_mr = rng.gen();
        let next_concat = rng.gen();
        let profile = cfg.profile;
        let pin = cfg.knobs.pin.clone();
        let mut m = Machine {
            profile,
            rng,
            noise_rng: StdRng::seed_from_u64(mix(seed ^ 0x5EED_0015E)),
            report_rng: StdRng::seed_from_u64(mix(seed ^ 0x5EED_2E9027)),
            imei,
            imsi,
            own_number,
            lac,
            ci,
            echo: true,
            cmee: 0,
            cmgf: 0,
            cscs: "GSM".into(),
            cnmi: [2, 1, 0, 0, 0],
            creg_n: 0,
            cgreg_n: 0,
            cereg_n: 0,
            cops_format: 0,
            curc: true,
            cfun: 1,
            cpms: [Mem::Sm; 3],
            sregs: [0; 13],
            sim: if cfg.knobs.sim_absent {
                Sim::Absent
            } else if pin.is_some() {
                Sim::NeedPin
            } else {
                Sim::Ready
            },
            pin,
            pin_left: 3,
            puk_left: 10,
            smsc: cfg.knobs.smsc.clone(),
            reg_lost: false,
            sm: vec![None; cfg.knobs.sim_slots.unwrap_or(profile.sim_slots())],
            me: vec![None; 100],
            sr: vec![None; 20],
            next_mr,
            next_concat,
            sent: VecDeque::new(),
            held: VecDeque::new(),
            state: State::Command,
            line: Vec::new(),
            input: VecDeque::new(),
            urcs: Vec::new(),
            fx: Vec::new(),
            stats: Stats::default(),
            cfg,
        };
        m.reset_settings();
        m
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    pub fn imei(&self) -> &str {
        &self.imei
    }

    pub fn own_number(&self) -> &str {
        &self.own_number
    }

    /// True while the modem answers nothing (hung, or died after Ctrl-Z).
    pub fn is_hung(&self) -> bool {
        matches!(self.state, State::Hung)
    }

    pub fn is_registered(&self) -> bool {
        self.reg_stat() == 1
    }

    /// Bytes from the host.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Effect> {
        match self.state {
            State::Hung | State::Booting => {}
            _ => self.input.extend(bytes),
        }
        self.process();
        std::mem::take(&mut self.fx)
    }

    /// The busy time asked for by [`Effect::Busy`] is over.
    pub fn resume(&mut self) -> Vec<Effect> {
        self.finish_send();
        self.process();
        std::mem::take(&mut self.fx)
    }

    /// Starts a reboot (the handle's control, or `AT+CFUN=1,1`).
    pub fn reboot(&mut self) -> Vec<Effect> {
        self.start_reboot();
        std::mem::take(&mut self.fx)
    }

    /// The boot time asked for by [`Effect::Boot`] is over: settings back to defaults, boot URCs.
    pub fn boot_done(&mut self) -> Vec<Effect> {
        self.power_on();
        let sim_line = match self.sim {
            Sim::Ready => "+CPIN: READY",
            Sim::NeedPin => "+CPIN: SIM PIN",
            Sim::NeedPuk => "+CPIN: SIM PUK",
            Sim::Blocked => "+CPIN: NOT READY",
            // Quectel and SIMCom announce an empty slot so (EC25 and SIM800 manuals).
            Sim::Absent => "+CPIN: NOT INSERTED",
        };
        for line in self.profile.boot_urcs(sim_line) {
            self.urcs.push(line);
        }
        self.process();
        std::mem::take(&mut self.fx)
    }

    /// Power-on without boot URCs (a replugged stick nobody listens to yet).
    pub fn power_on(&mut self) {
        self.reset_settings();
        if self.sim == Sim::Ready && self.pin.is_some() {
            self.sim = Sim::NeedPin;
        }
        self.reg_lost = false;
        self.state = State::Command;
        self.line.clear();
        self.input.clear();
        self.urcs.clear();
    }

    /// Loses (`false`) or regains (`true`) network registration, with `+CREG`/`+CGREG` URCs
    /// when the host enabled them.
    pub fn set_registration(&mut self, registered: bool) -> Vec<Effect> {
        let before = self.reg_stat();
        self.reg_lost = !registered;
        self.announce_registration(before);
        self.process();
        std::mem::take(&mut self.fx)
    }

    /// The mean interval of periodic noise, or `None` when the modem is quiet now.
    pub fn noise_every(&self) -> Option<Duration> {
        let every = match self.cfg.knobs.noise {
            Noise::Off => return None,
            Noise::Every(d) => d,
            Noise::ProfileDefault => {
                if !(self.profile.noisy_by_default() && self.curc) {
                    return None;
                }
                Duration::from_secs(10)
            }
        };
        (!every.is_zero()).then_some(every)
    }

    /// How long until the next periodic noise line (0.5x to 1.5x the interval), or `None`.
    pub fn noise_delay(&mut self) -> Option<Duration> {
        let every = self.noise_every()?;
        Some(every.mul_f64(self.noise_rng.gen_range(0.5..1.5)))
    }

    /// Emits one periodic noise line now (dropped unless the modem is idle).
    pub fn periodic_noise(&mut self) -> Vec<Effect> {
        if matches!(self.state, State::Command) {
            let line = noise_line(
                &mut self.noise_rng,
                self.cfg.knobs.rssi,
                self.cfg.knobs.noise_boot,
            );
            self.write_line(&line);
        }
        std::mem::take(&mut self.fx)
    }

    /// Delivers a status report for message reference `mr` (the newest part sent with it).
    pub fn status_report(
        &mut self,
        mr: u8,
        status: u8,
    ) -> Result<(ReportRoute, Vec<Effect>), InboundError> {
        self.status_report_to(mr, None, status)
    }

    /// Delivers a status report for message reference `mr`: about the newest part sent with
    /// it to `to` when given (references wrap at 256), naming `to` as the recipient even when
    /// no part went there (a network mixing reports up).
    pub fn status_report_to(
        &mut self,
        mr: u8,
        to: Option<&str>,
        status: u8,
    ) -> Result<(ReportRoute, Vec<Effect>), InboundError> {
        let wanted = to.map(Address::parse).transpose()?;
        let newest = |same_to: bool| {
            self.sent
                .iter()
                .rev()
                .find(|(m, t, _)| *m == mr && (!same_to || wanted.as_ref() == Some(t)))
                .cloned()
        };
        let (_, sent_to, sent) = newest(true)
            .or_else(|| newest(false))
            .ok_or(InboundError::UnknownReference(mr))?;
        let to = wanted.unwrap_or(sent_to);
        let smsc = Address::parse(self.network_smsc())?;
        let pdu = inbound::status_report(&smsc, mr, &to, sent, inbound::now_timestamp(), status)?;
        if matches!(self.state, State::Hung | State::Booting) {
            return Ok((ReportRoute::NotRouted, Vec::new()));
        }
        self.stats.status_reports += 1;
        let route = match self.cnmi[3] {
            1 => {
                if self.cnmi[0] > 0 {
                    self.urcs.push(format!(
                        "+CDS: {}\r\n{}",
                        pdu.tpdu_len,
                        sms::hex::encode(&pdu.bytes)
                    ));
                    ReportRoute::Cds
                } else {
                    ReportRoute::NotRouted
                }
            }
            2 => {
                let slot = store(&mut self.sr, 0, pdu).ok_or(InboundError::MemoryFull("SR"))?;
                let index = slot + self.profile.first_index();
                if self.cnmi[0] > 0 {
                    self.urcs.push(format!("+CDSI: \"SR\",{index}"));
                }
                ReportRoute::Cdsi { index }
            }
            _ => ReportRoute::NotRouted,
        };
        self.process();
        Ok((route, std::mem::take(&mut self.fx)))
    }

    /// The TP-ST of an automatic status report (see [`Knobs::report_failure_rate`]).
    pub fn draw_report_status(&mut self) -> u8 {
        let knobs = &self.cfg.knobs;
        let p = knobs.report_failure_rate.clamp(0.0, 1.0);
        if p > 0.0 && self.report_rng.gen_bool(p) {
            knobs.report_failure_status
        } else {
            0x00
        }
    }

    /// How long after its part an automatic status report comes, if at all.
    pub fn report_delay(&mut self) -> Option<Duration> {
        let d = self.cfg.knobs.report_delay?;
        Some(d.mul_f64(self.report_rng.gen_range(0.5..1.5)))
    }

    /// Delivers an incoming message (several parts when long) from `from`, its parts in the
    /// order of the `inbound_order` knob. A part that finds the receive memory full is held
    /// by the "network" and delivered once a deletion makes room.
    pub fn incoming(
        &mut self,
        from: &str,
        text: &str,
    ) -> Result<(Vec<IncomingRoute>, Vec<Effect>), InboundError> {
        let reference = self.next_concat;
        self.next_concat = self.next_concat.wrapping_add(1);
        self.incoming_parts(from, text, reference, None)
    }

    /// Delivers only the parts `seqs` (1-based, in that order) of the message `text` from
    /// `from` cut with concatenation reference `reference`: a network that loses a part, or
    /// brings the rest minutes (or a daemon restart) later. `None`: every part, in the
    /// `inbound_order` knob's order.
    pub fn incoming_parts(
        &mut self,
        from: &str,
        text: &str,
        reference: u8,
        seqs: Option<&[u8]>,
    ) -> Result<(Vec<IncomingRoute>, Vec<Effect>), InboundError> {
        if self.sim != Sim::Ready {
            return Err(InboundError::SimNotReady);
        }
        let smsc = Address::parse(self.network_smsc())?;
        let originator = Address::parse(from)?;
        let all = inbound::deliver(
            &smsc,
            &originator,
            text,
            reference,
            inbound::now_timestamp(),
        )?;
        let parts: Vec<NetworkPdu> = match seqs {
            Some(seqs) => seqs
                .iter()
                .filter_map(|s| all.get(usize::from(*s).checked_sub(1)?).cloned())
                .collect(),
            None => {
                let mut parts = all;
                match self.cfg.knobs.inbound_order {
                    PartOrder::InOrder => {}
                    PartOrder::Reverse => parts.reverse(),
                    PartOrder::Shuffled => {
                        use rand::seq::SliceRandom;
                        parts.shuffle(&mut self.report_rng);
                    }
                }
                parts
            }
        };
        let mut routes = Vec::with_capacity(parts.len());
        for pdu in parts {
            self.stats.incoming_parts += 1;
            routes.push(self.receive_part(pdu));
        }
        if !matches!(self.state, State::Hung | State::Booting) {
            self.process();
        } else {
            self.urcs.clear();
        }
        Ok((routes, std::mem::take(&mut self.fx)))
    }

    /// One part from the network: shown (`+CMT`), stored and announced (`+CMTI`), or held.
    fn receive_part(&mut self, pdu: NetworkPdu) -> IncomingRoute {
        if self.cnmi[1] >= 2 && self.cnmi[0] > 0 {
            self.urcs.push(format!(
                "+CMT: ,{}\r\n{}",
                pdu.tpdu_len,
                sms::hex::encode(&pdu.bytes)
            ));
            return IncomingRoute::Direct;
        }
        let mem = self.cpms[2];
        if !self.held.is_empty() || self.mem(mem).iter().all(Option::is_some) {
            self.held.push_back(pdu);
            return IncomingRoute::Held;
        }
        let slot = store(self.mem_mut(mem), 0, pdu).expect("a free slot was just seen");
        let index = slot + self.profile.first_index();
        if self.cnmi[1] == 1 && self.cnmi[0] > 0 {
            self.urcs.push(format!("+CMTI: \"{}\",{index}", mem.name()));
        }
        IncomingRoute::Stored { index }
    }

    /// After a deletion: the network delivers what it held while the memory was full.
    fn deliver_held(&mut self) {
        let mem = self.cpms[2];
        while !self.held.is_empty() && self.mem(mem).iter().any(Option::is_none) {
            let pdu = self.held.pop_front().expect("not empty");
            let slot = store(self.mem_mut(mem), 0, pdu).expect("a free slot was just seen");
            let index = slot + self.profile.first_index();
            if self.cnmi[1] == 1 && self.cnmi[0] > 0 {
                self.urcs.push(format!("+CMTI: \"{}\",{index}", mem.name()));
            }
        }
    }

    /// Whether the receive memory has no free slot.
    pub fn receive_memory_full(&self) -> bool {
        self.mem(self.cpms[2]).iter().all(Option::is_some)
    }

    // ---- internals ----------------------------------------------------------------------

    fn reset_settings(&mut self) {
        self.echo = true;
        self.cmee = 0;
        self.cmgf = 0;
        self.cscs = "GSM".into();
        self.cnmi = [2, 1, 0, 0, 0];
        self.creg_n = 0;
        self.cgreg_n = 0;
        self.cereg_n = 0;
        self.cops_format = 0;
        self.curc = true;
        self.cfun = 1;
        self.cpms = [Mem::Sm; 3];
        self.sregs = [0; 13];
        self.sregs[3] = 13;
        self.sregs[4] = 10;
        self.sregs[5] = 8;
    }

    fn start_reboot(&mut self) {
        self.stats.reboots += 1;
        self.state = State::Booting;
        self.input.clear();
        self.line.clear();
        self.urcs.clear();
        self.fx.push(Effect::Boot(self.cfg.knobs.boot_time));
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(Effect::Write(buf)) = self.fx.last_mut() {
            buf.extend_from_slice(bytes);
        } else {
            self.fx.push(Effect::Write(bytes.to_vec()));
        }
    }

    fn write_line(&mut self, line: &str) {
        self.write(format!("\r\n{line}\r\n").as_bytes());
    }

    fn maybe_noise_in_answer(&mut self) {
        let p = self.cfg.knobs.noise_in_answers;
        if p > 0.0 && self.rng.gen_bool(p.clamp(0.0, 1.0)) {
            let line = noise_line(
                &mut self.rng,
                self.cfg.knobs.rssi,
                self.cfg.knobs.noise_boot,
            );
            self.write_line(&line);
        }
    }

    fn process(&mut self) {
        loop {
            match self.state {
                State::Hung | State::Booting => {
                    self.input.clear();
                    break;
                }
                State::Busy { .. } => break,
                State::Command => {
                    if self.line.is_empty() {
                        self.flush_urcs();
                    }
                    let Some(b) = self.input.pop_front() else {
                        break;
                    };
                    self.command_byte(b);
                }
                State::Prompt { .. } => {
                    let Some(b) = self.input.pop_front() else {
                        break;
                    };
                    self.prompt_byte(b);
                }
            }
        }
    }

    fn flush_urcs(&mut self) {
        for line in std::mem::take(&mut self.urcs) {
            self.write_line(&line);
        }
    }

    fn command_byte(&mut self, b: u8) {
        if self.echo {
            self.write(&[b]);
        }
        match b {
            b'\r' => {
                let line = std::mem::take(&mut self.line);
                self.execute_line(&line);
            }
            b'\n' => {}
            0x08 | 0x7F => {
                self.line.pop();
            }
            0x1B => self.line.clear(),
            _ => {
                if self.line.len() < MAX_COMMAND_LINE {
                    self.line.push(b);
                }
            }
        }
    }

    fn prompt_byte(&mut self, b: u8) {
        match b {
            0x1A => {
                let State::Prompt { len, hex } = std::mem::replace(&mut self.state, State::Command)
                else {
                    return;
                };
                self.finish_pdu(len, &hex);
            }
            0x1B => {
                self.state = State::Command;
                self.final_ok();
            }
            b'\r' | b'\n' | b' ' => {
                if self.echo {
                    self.write(&[b]);
                }
            }
            _ => {
                if self.echo {
                    self.write(&[b]);
                }
                if let State::Prompt { hex, .. } = &mut self.state {
                    if hex.len() <= MAX_PDU_HEX {
                        hex.push(b);
                    }
                }
            }
        }
    }

    fn final_ok(&mut self) {
        self.write(b"\r\nOK\r\n");
    }

    fn final_fail(&mut self, f: Fail) {
        let line = match f {
            Fail::Error => "ERROR".to_string(),
            Fail::Unknown => self.profile.unknown_command().to_string(),
            Fail::Cme(code) => match self.cmee {
                0 => "ERROR".into(),
                1 => format!("+CME ERROR: {code}"),
                _ => format!("+CME ERROR: {}", cme_text(code)),
            },
            Fail::Cms(code) => match self.cmee {
                0 => "ERROR".into(),
                _ => format!("+CMS ERROR: {code}"),
            },
        };
        self.write_line(&line);
    }

    fn execute_line(&mut self, line: &[u8]) {
        let Some(body) = command::strip_at(line) else {
            return;
        };
        self.stats.commands += 1;
        let cmds = match command::parse(body) {
            Ok(c) => c,
            Err(_) => {
                self.maybe_noise_in_answer();
                self.final_fail(Fail::Error);
                return;
            }
        };
        self.maybe_noise_in_answer();
        for cmd in &cmds {
            match self.exec(cmd) {
                Reply::Done(lines) => {
                    if !lines.is_empty() {
                        self.write_line(&lines.join("\r\n"));
                    }
                }
                Reply::Fail(f) => {
                    self.final_fail(f);
                    return;
                }
                Reply::Prompt(len) => {
                    self.write(self.profile.prompt());
                    self.state = State::Prompt {
                        len,
                        hex: Vec::new(),
                    };
                    return;
                }
                Reply::Reboot => {
                    self.final_ok();
                    self.start_reboot();
                    return;
                }
            }
        }
        self.final_ok();
    }

    fn sim_fail_cme(&self) -> Option<Fail> {
        match self.sim {
            Sim::Absent => Some(Fail::Cme(10)),
            Sim::Ready => None,
            Sim::NeedPin => Some(Fail::Cme(11)),
            Sim::NeedPuk => Some(Fail::Cme(12)),
            Sim::Blocked => Some(Fail::Cme(13)),
        }
    }

    fn sim_fail_cms(&self) -> Option<Fail> {
        match self.sim {
            Sim::Absent => Some(Fail::Cms(310)),
            Sim::Ready => None,
            Sim::NeedPin => Some(Fail::Cms(311)),
            Sim::NeedPuk => Some(Fail::Cms(316)),
            Sim::Blocked => Some(Fail::Cms(313)),
        }
    }

    fn reg_stat(&self) -> u8 {
        if self.sim != Sim::Ready || self.cfun != 1 {
            0
        } else if self.reg_lost {
            2
        } else {
            1
        }
    }

    /// The `<stat>` one registration command reports: an LTE-only SIM is registered for EPS
    /// (`+CEREG`) and for nothing else.
    fn reg_stat_of(&self, name: &str) -> u8 {
        let stat = self.reg_stat();
        if self.cfg.knobs.lte_only && name != "+CEREG" && stat == 1 {
            0
        } else {
            stat
        }
    }

    fn reg_line(&self, name: &str, n: u8, solicited: bool) -> String {
        let stat = self.reg_stat_of(name);
        let prefix = if solicited {
            format!("{name}: {n},{stat}")
        } else {
            format!("{name}: {stat}")
        };
        if n == 2 && stat == 1 && name == "+CEREG" {
            // TAC, CI and AcT 7 (E-UTRAN), as an EC25 reports them.
            format!("{prefix},\"{:04X}\",\"{:07X}\",7", self.lac, self.ci)
        } else if n == 2 && stat == 1 {
            format!("{prefix},\"{:04X}\",\"{:07X}\"", self.lac, self.ci)
        } else {
            prefix
        }
    }

    fn announce_registration(&mut self, before: u8) {
        if self.reg_stat() == before {
            return;
        }
        if self.creg_n > 0 {
            let l = self.reg_line("+CREG", self.creg_n, false);
            self.urcs.push(l);
        }
        if self.cgreg_n > 0 {
            let l = self.reg_line("+CGREG", self.cgreg_n, false);
            self.urcs.push(l);
        }
        if self.cereg_n > 0 {
            let l = self.reg_line("+CEREG", self.cereg_n, false);
            self.urcs.push(l);
        }
    }

    /// The service centre that delivers to this SIM: the one on the SIM, or the network's when
    /// the SIM has none.
    fn network_smsc(&self) -> &str {
        if self.smsc.is_empty() {
            super::config::DEFAULT_SMSC
        } else {
            &self.smsc
        }
    }

    fn mem(&self, m: Mem) -> &Vec<Option<Stored>> {
        match m {
            Mem::Sm => &self.sm,
            Mem::Me => &self.me,
            Mem::Sr => &self.sr,
        }
    }

    fn mem_mut(&mut self, m: Mem) -> &mut Vec<Option<Stored>> {
        match m {
            Mem::Sm => &mut self.sm,
            Mem::Me => &mut self.me,
            Mem::Sr => &mut self.sr,
        }
    }

    fn usage(&self, m: Mem) -> String {
        let v = self.mem(m);
        format!("{},{}", v.iter().filter(|s| s.is_some()).count(), v.len())
    }

    fn exec(&mut self, cmd: &Cmd) -> Reply {
        let name = cmd.name.as_str();
        let form = &cmd.form;
        match name {
            "E" => match cmd.num(0) {
                None | Some(Ok(0)) => {
                    self.echo = false;
                    ok()
                }
                Some(Ok(1)) => {
                    self.echo = true;
                    ok()
                }
                _ => Reply::Fail(Fail::Error),
            },
            "V" => match cmd.num(0) {
                Some(Ok(1)) => ok(),
                _ => Reply::Fail(Fail::Error),
            },
            "Q" => match cmd.num(0) {
                None | Some(Ok(0)) => ok(),
                _ => Reply::Fail(Fail::Error),
            },
            "Z" | "&F" => {
                self.echo = true;
                self.cmee = 0;
                ok()
            }
            "&C" | "&D" | "&K" | "&W" | "X" | "L" | "M" | "H" => ok(),
            "I" => Reply::Done(self.profile.ati(&self.imei)),
            _ if name.starts_with('S') && name[1..].chars().all(|c| c.is_ascii_digit()) => {
                let Ok(reg) = name[1..].parse::<usize>() else {
                    return Reply::Fail(Fail::Error);
                };
                if reg >= self.sregs.len() {
                    return Reply::Fail(Fail::Error);
                }
                match form {
                    Form::Read => done(format!("{:03}", self.sregs[reg])),
                    Form::Set(_) => match cmd.num(0) {
                        Some(Ok(v)) if v <= 255 => {
                            self.sregs[reg] = v as u8;
                            ok()
                        }
                        _ => Reply::Fail(Fail::Error),
                    },
                    _ => Reply::Fail(Fail::Error),
                }
            }
            "+CMEE" => match form {
                Form::Set(_) => match cmd.num(0) {
                    Some(Ok(n)) if n <= 2 => {
                        self.cmee = n as u8;
                        ok()
                    }
                    _ => Reply::Fail(Fail::Cme(50)),
                },
                Form::Read => done(format!("+CMEE: {}", self.cmee)),
                Form::Test => done("+CMEE: (0-2)"),
                Form::Exec => {
                    self.cmee = 0;
                    ok()
                }
            },
            "+CGMI" | "+GMI" => self.identity(form, self.profile.manufacturer().to_string()),
            "+CGMM" | "+GMM" => self.identity(form, self.profile.model().to_string()),
            "+CGMR" | "+GMR" => self.identity(form, self.profile.revision().to_string()),
            "+CGSN" | "+GSN" => self.identity(form, self.imei.clone()),
            "+GCAP" => done("+GCAP: +CGSM"),
            "+CIMI" => match self.sim_fail_cme() {
                Some(f) => Reply::Fail(f),
                None => self.identity(form, self.imsi.clone()),
            },
            "+CNUM" => match (self.sim_fail_cme(), form) {
                (Some(f), _) => Reply::Fail(f),
                (None, Form::Exec) => done(format!("+CNUM: \"\",\"{}\",145", self.own_number)),
                (None, Form::Test) => ok(),
                _ => Reply::Fail(Fail::Cme(50)),
            },
            "+CPIN" => self.cpin(cmd),
            "+CSQ" => match form {
                Form::Exec => {
                    if self.reg_stat() == 1 {
                        done(format!("+CSQ: {},99", self.cfg.knobs.rssi.min(31)))
                    } else {
                        done("+CSQ: 99,99")
                    }
                }
                Form::Test => done("+CSQ: (0-31,99),(0-7,99)"),
                _ => Reply::Fail(Fail::Cme(50)),
            },
            "+CEREG" if !self.profile.has_lte() => Reply::Fail(Fail::Unknown),
            "+CREG" | "+CGREG" | "+CEREG" => {
                let n = match name {
                    "+CREG" => self.creg_n,
                    "+CGREG" => self.cgreg_n,
                    _ => self.cereg_n,
                };
                match form {
                    Form::Set(_) => match cmd.num(0) {
                        Some(Ok(v)) if v <= 2 => {
                            match name {
                                "+CREG" => self.creg_n = v as u8,
                                "+CGREG" => self.cgreg_n = v as u8,
                                _ => self.cereg_n = v as u8,
                            }
                            ok()
                        }
                        _ => Reply::Fail(Fail::Cme(50)),
                    },
                    Form::Read => done(self.reg_line(name, n, true)),
                    Form::Test => done(format!("{name}: (0-2)")),
                    Form::Exec => Reply::Fail(Fail::Cme(50)),
                }
            }
            "+COPS" => self.cops(cmd),
            "+CSCA" => {
                if let Some(f) = self.sim_fail_cms() {
                    return Reply::Fail(f);
                }
                match form {
                    Form::Read => {
                        let ton = if self.smsc.starts_with('+') { 145 } else { 129 };
                        done(format!("+CSCA: \"{}\",{ton}", self.smsc))
                    }
                    Form::Set(_) => match cmd.text(0).map(Address::parse) {
                        Some(Ok(a)) => {
                            self.smsc = a.to_string();
                            ok()
                        }
                        _ => Reply::Fail(Fail::Cms(304)),
                    },
                    Form::Test => ok(),
                    Form::Exec => Reply::Fail(Fail::Cms(302)),
                }
            }
            "+CMGF" => match form {
                Form::Set(_) => match cmd.num(0) {
                    Some(Ok(v)) if v <= 1 => {
                        self.cmgf = v as u8;
                        ok()
                    }
                    _ => Reply::Fail(Fail::Cms(302)),
                },
                Form::Read => done(format!("+CMGF: {}", self.cmgf)),
                Form::Test => done("+CMGF: (0,1)"),
                Form::Exec => {
                    self.cmgf = 0;
                    ok()
                }
            },
            "+CSCS" => match form {
                Form::Set(_) => match cmd.text(0).map(str::to_ascii_uppercase).as_deref() {
                    Some(cs @ ("GSM" | "IRA" | "UCS2")) => {
                        self.cscs = cs.to_string();
                        ok()
                    }
                    _ => Reply::Fail(Fail::Cme(50)),
                },
                Form::Read => done(format!("+CSCS: \"{}\"", self.cscs)),
                Form::Test => done("+CSCS: (\"IRA\",\"GSM\",\"UCS2\")"),
                Form::Exec => Reply::Fail(Fail::Cme(50)),
            },
            "+CNMI" => self.cnmi_cmd(cmd),
            "+CPMS" => self.cpms_cmd(cmd),
            "+CMGL" => self.cmgl(cmd),
            "+CMGR" => self.cmgr(cmd),
            "+CMGD" => self.cmgd(cmd),
            "+CMGS" => self.cmgs(cmd),
            "+CSMS" => match form {
                Form::Read => done("+CSMS: 0,1,1,1"),
                Form::Test => done("+CSMS: (0,1)"),
                Form::Set(_) => match cmd.num(0) {
                    Some(Ok(0 | 1)) => done("+CSMS: 1,1,1"),
                    _ => Reply::Fail(Fail::Cms(302)),
                },
                Form::Exec => Reply::Fail(Fail::Cms(302)),
            },
            "+CSMP" => match form {
                Form::Read => done("+CSMP: 17,167,0,0"),
                _ => ok(),
            },
            "+CFUN" => self.cfun_cmd(cmd),
            "+CPAS" => done("+CPAS: 0"),
            // The clock, set from the network (NITZ) as on a registered stick: the host's time.
            "+CCLK" => match form {
                Form::Read => {
                    let t = super::inbound::now_timestamp();
                    let sign = if t.tz_quarters < 0 { '-' } else { '+' };
                    done(format!(
                        "+CCLK: \"{:02}/{:02}/{:02},{:02}:{:02}:{:02}{sign}{:02}\"",
                        t.year % 100,
                        t.month,
                        t.day,
                        t.hour,
                        t.minute,
                        t.second,
                        t.tz_quarters.unsigned_abs()
                    ))
                }
                Form::Set(_) | Form::Test => ok(),
                Form::Exec => Reply::Fail(Fail::Cme(50)),
            },
            "+CMMS" if self.profile == Profile::Huawei => Reply::Fail(Fail::Cms(500)),
            "+CLIP" | "+CRC" | "+CVHU" | "+CLIR" | "+COLP" | "+CSDH" | "+CGEREP" | "+CMMS" => {
                match form {
                    Form::Read => done(format!("{name}: 0")),
                    _ => ok(),
                }
            }
            "^CURC" if self.profile.huawei_commands() => match form {
                Form::Set(_) => match cmd.num(0) {
                    Some(Ok(v)) if v <= 1 => {
                        self.curc = v == 1;
                        ok()
                    }
                    _ => Reply::Fail(Fail::Cme(50)),
                },
                Form::Read => done(format!("^CURC: {}", u8::from(self.curc))),
                Form::Test => done("^CURC: (0-1)"),
                Form::Exec => Reply::Fail(Fail::Cme(50)),
            },
            "^PORTSEL" if self.profile.huawei_commands() => match form {
                Form::Read => done("^PORTSEL: 0"),
                _ => ok(),
            },
            _ => Reply::Fail(Fail::Unknown),
        }
    }

    fn identity(&self, form: &Form, value: String) -> Reply {
        match form {
            Form::Exec => done(value),
            Form::Test => ok(),
            _ => Reply::Fail(Fail::Cme(50)),
        }
    }

    fn cpin(&mut self, cmd: &Cmd) -> Reply {
        match &cmd.form {
            Form::Read => match self.sim {
                Sim::Absent => Reply::Fail(Fail::Cme(10)),
                Sim::Ready => done("+CPIN: READY"),
                Sim::NeedPin => done("+CPIN: SIM PIN"),
                Sim::NeedPuk => done("+CPIN: SIM PUK"),
                Sim::Blocked => Reply::Fail(Fail::Cme(13)),
            },
            Form::Test => ok(),
            Form::Exec => Reply::Fail(Fail::Cme(50)),
            Form::Set(args) => {
                let before = self.reg_stat();
                let reply = match self.sim {
                    Sim::Absent => Reply::Fail(Fail::Cme(10)),
                    Sim::Ready => Reply::Fail(Fail::Cme(3)),
                    Sim::Blocked => Reply::Fail(Fail::Cme(13)),
                    Sim::NeedPin => {
                        if args.len() == 1 && Some(&args[0].text) == self.pin.as_ref() {
                            self.sim = Sim::Ready;
                            self.pin_left = 3;
                            ok()
                        } else {
                            self.pin_left = self.pin_left.saturating_sub(1);
                            if self.pin_left == 0 {
                                self.sim = Sim::NeedPuk;
                            }
                            Reply::Fail(Fail::Cme(16))
                        }
                    }
                    Sim::NeedPuk => {
                        if args.len() == 2
                            && args[0].text == self.cfg.knobs.puk
                            && !args[1].text.is_empty()
                        {
                            self.pin = Some(args[1].text.clone());
                            self.sim = Sim::Ready;
                            self.pin_left = 3;
                            self.puk_left = 10;
                            ok()
                        } else {
                            self.puk_left = self.puk_left.saturating_sub(1);
                            if self.puk_left == 0 {
                                self.sim = Sim::Blocked;
                            }
                            Reply::Fail(Fail::Cme(16))
                        }
                    }
                };
                self.announce_registration(before);
                reply
            }
        }
    }

    fn cops(&mut self, cmd: &Cmd) -> Reply {
        const NAMES: [&str; 3] = ["CHINA MOBILE", "CMCC", "46000"];
        let act = self.profile.access_technology();
        match &cmd.form {
            Form::Read => {
                if self.reg_stat() == 1 {
                    done(format!(
                        "+COPS: 0,{},\"{}\",{act}",
                        self.cops_format, NAMES[self.cops_format as usize]
                    ))
                } else {
                    done("+COPS: 0")
                }
            }
            Form::Test => done(format!(
                "+COPS: (2,\"{}\",\"{}\",\"{}\",{act}),,(0-4),(0-2)",
                NAMES[0], NAMES[1], NAMES[2]
            )),
            Form::Set(_) => {
                let mode = match cmd.num(0) {
                    Some(Ok(m)) if m <= 4 => m,
                    _ => return Reply::Fail(Fail::Cme(50)),
                };
                match cmd.num(1) {
                    None => {}
                    Some(Ok(f)) if f <= 2 => self.cops_format = f as u8,
                    _ => return Reply::Fail(Fail::Cme(50)),
                }
                if mode == 1 || mode == 4 {
                    let wanted = cmd.text(2).unwrap_or("");
                    if !NAMES.contains(&wanted) {
                        return Reply::Fail(Fail::Cme(50));
                    }
                }
                ok()
            }
            Form::Exec => Reply::Fail(Fail::Cme(50)),
        }
    }

    fn cfun_cmd(&mut self, cmd: &Cmd) -> Reply {
        match &cmd.form {
            Form::Read => done(format!("+CFUN: {}", self.cfun)),
            Form::Test => done("+CFUN: (0,1,4),(0-1)"),
            Form::Set(_) => {
                let fun = match cmd.num(0) {
                    Some(Ok(f @ (0 | 1 | 4))) => f as u8,
                    _ => return Reply::Fail(Fail::Cme(50)),
                };
                let reset = match cmd.num(1) {
                    None | Some(Ok(0)) => false,
                    Some(Ok(1)) => true,
                    _ => return Reply::Fail(Fail::Cme(50)),
                };
                if reset {
                    return Reply::Reboot;
                }
                let before = self.reg_stat();
                self.cfun = fun;
                self.announce_registration(before);
                ok()
            }
            Form::Exec => Reply::Fail(Fail::Cme(50)),
        }
    }

    fn cnmi_cmd(&mut self, cmd: &Cmd) -> Reply {
        let mut ranges = self.profile.cnmi_ranges();
        if self.cfg.knobs.routed_messages_only {
            ranges[1] = &[0, 2];
        }
        match &cmd.form {
            Form::Read => done(format!(
                "+CNMI: {},{},{},{},{}",
                self.cnmi[0], self.cnmi[1], self.cnmi[2], self.cnmi[3], self.cnmi[4]
            )),
            Form::Test => done(format!(
                "+CNMI: {}",
                ranges
                    .iter()
                    .map(|r| format_range(r))
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            Form::Set(args) => {
                if args.len() > 5 {
                    return Reply::Fail(Fail::Cms(303));
                }
                let mut new = self.cnmi;
                for (i, range) in ranges.iter().enumerate() {
                    match cmd.num(i) {
                        None => {}
                        Some(Ok(v)) if v <= 255 && range.contains(&(v as u8)) => new[i] = v as u8,
                        _ => return Reply::Fail(Fail::Cms(303)),
                    }
                }
                if new[3] == 1 && self.cfg.knobs.refuse_routed_reports {
                    return Reply::Fail(Fail::Cms(303));
                }
                self.cnmi = new;
                ok()
            }
            Form::Exec => Reply::Fail(Fail::Cms(302)),
        }
    }

    fn cpms_cmd(&mut self, cmd: &Cmd) -> Reply {
        if let Some(f) = self.sim_fail_cms() {
            return Reply::Fail(f);
        }
        match &cmd.form {
            Form::Read => done(format!(
                "+CPMS: \"{}\",{},\"{}\",{},\"{}\",{}",
                self.cpms[0].name(),
                self.usage(self.cpms[0]),
                self.cpms[1].name(),
                self.usage(self.cpms[1]),
                self.cpms[2].name(),
                self.usage(self.cpms[2])
            )),
            Form::Test => done("+CPMS: (\"SM\",\"ME\",\"SR\"),(\"SM\",\"ME\"),(\"SM\",\"ME\")"),
            Form::Set(args) => {
                if args.is_empty() || args.len() > 3 {
                    return Reply::Fail(Fail::Cms(302));
                }
                let mut new = self.cpms;
                for (i, a) in args.iter().enumerate() {
                    if a.text.is_empty() && i > 0 {
                        continue;
                    }
                    match Mem::parse(&a.text) {
                        Some(Mem::Sr) if i > 0 => return Reply::Fail(Fail::Cms(302)),
                        Some(m) => new[i] = m,
                        None => return Reply::Fail(Fail::Cms(302)),
                    }
                }
                self.cpms = new;
                done(format!(
                    "+CPMS: {},{},{}",
                    self.usage(new[0]),
                    self.usage(new[1]),
                    self.usage(new[2])
                ))
            }
            Form::Exec => Reply::Fail(Fail::Cms(302)),
        }
    }

    fn slot_of(&self, cmd: &Cmd, arg: usize, mem: Mem) -> Result<usize, Fail> {
        let base = self.profile.first_index();
        match cmd.num(arg) {
            Some(Ok(i)) if (i as usize) >= base && (i as usize) - base < self.mem(mem).len() => {
                Ok(i as usize - base)
            }
            Some(Ok(_)) => Err(Fail::Cms(321)),
            _ => Err(Fail::Cms(302)),
        }
    }

    fn sms_preconditions(&self) -> Option<Fail> {
        if let Some(f) = self.sim_fail_cms() {
            return Some(f);
        }
        if self.cmgf != 0 {
            // The emulator speaks PDU mode only.
            return Some(Fail::Cms(302));
        }
        None
    }

    fn cmgl(&mut self, cmd: &Cmd) -> Reply {
        if let Form::Test = cmd.form {
            return done("+CMGL: (0-4)");
        }
        if let Some(f) = self.sms_preconditions() {
            return Reply::Fail(f);
        }
        let stat = match (&cmd.form, cmd.num(0)) {
            (Form::Exec, _) | (Form::Set(_), None) => 0,
            (Form::Set(_), Some(Ok(s))) if s <= 4 => s as u8,
            _ => return Reply::Fail(Fail::Cms(302)),
        };
        let base = self.profile.first_index();
        let mem = self.cpms[0];
        let mut lines = Vec::new();
        for (i, slot) in self.mem_mut(mem).iter_mut().enumerate() {
            if let Some(s) = slot {
                if stat == 4 || s.stat == stat {
                    lines.push(format!(
                        "+CMGL: {},{},,{}",
                        i + base,
                        s.stat,
                        s.pdu.tpdu_len
                    ));
                    lines.push(sms::hex::encode(&s.pdu.bytes));
                    if s.stat == 0 {
                        s.stat = 1;
                    }
                }
            }
        }
        Reply::Done(lines)
    }

    fn cmgr(&mut self, cmd: &Cmd) -> Reply {
        if let Form::Test = cmd.form {
            return ok();
        }
        if let Some(f) = self.sms_preconditions() {
            return Reply::Fail(f);
        }
        let mem = self.cpms[0];
        let slot = match self.slot_of(cmd, 0, mem) {
            Ok(s) => s,
            Err(f) => return Reply::Fail(f),
        };
        let empty_ok = self.profile.empty_read_is_ok();
        match &mut self.mem_mut(mem)[slot] {
            Some(s) => {
                let lines = vec![
                    format!("+CMGR: {},,{}", s.stat, s.pdu.tpdu_len),
                    sms::hex::encode(&s.pdu.bytes),
                ];
                if s.stat == 0 {
                    s.stat = 1;
                }
                Reply::Done(lines)
            }
            None if empty_ok => ok(),
            None => Reply::Fail(Fail::Cms(321)),
        }
    }

    fn cmgd(&mut self, cmd: &Cmd) -> Reply {
        if let Some(f) = self.sim_fail_cms() {
            return Reply::Fail(f);
        }
        let mem = self.cpms[0];
        let base = self.profile.first_index();
        if let Form::Test = cmd.form {
            let used: Vec<String> = self
                .mem(mem)
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_some())
                .map(|(i, _)| (i + base).to_string())
                .collect();
            return done(format!("+CMGD: ({}),(0-4)", used.join(",")));
        }
        let flag = match cmd.num(1) {
            None => 0,
            Some(Ok(f)) if f <= 4 => f as u8,
            _ => return Reply::Fail(Fail::Cms(302)),
        };
        if flag == 0 {
            let slot = match self.slot_of(cmd, 0, mem) {
                Ok(s) => s,
                Err(f) => return Reply::Fail(f),
            };
            self.mem_mut(mem)[slot] = None;
            self.deliver_held();
            return ok();
        }
        for slot in self.mem_mut(mem).iter_mut() {
            let remove = match slot {
                Some(s) => match flag {
                    1 => s.stat == 1,
                    2 => s.stat == 1 || s.stat == 3,
                    3 => s.stat != 0,
                    _ => true,
                },
                None => false,
            };
            if remove {
                *slot = None;
            }
        }
        self.deliver_held();
        ok()
    }

    fn cmgs(&mut self, cmd: &Cmd) -> Reply {
        if let Form::Test = cmd.form {
            return ok();
        }
        if let Some(f) = self.sms_preconditions() {
            return Reply::Fail(f);
        }
        if self.cfg.knobs.full_memory_blocks_sends && self.receive_memory_full() {
            return Reply::Fail(Fail::Cms(322));
        }
        match cmd.num(0) {
            Some(Ok(n)) if (1..=MAX_TPDU as u32).contains(&n) => Reply::Prompt(n as usize),
            _ => Reply::Fail(Fail::Cms(304)),
        }
    }

    /// Ctrl-Z: check the PDU, decide the outcome, wait for the "network".
    fn finish_pdu(&mut self, len: usize, hex: &[u8]) {
        let part = match check_pdu(len, hex) {
            Ok(p) => p,
            Err(()) => {
                *self.stats.failed.entry(304).or_default() += 1;
                self.maybe_noise_in_answer();
                self.final_fail(Fail::Cms(304));
                return;
            }
        };
        let knobs = &self.cfg.knobs;
        let roll: f64 = self.rng.gen();
        let jitter = if knobs.send_jitter.is_zero() {
            Duration::ZERO
        } else {
            knobs.send_jitter.mul_f64(self.rng.gen::<f64>())
        };
        let latency = knobs.send_latency + jitter;
        let result = if self.reg_stat() != 1 {
            Err(331)
        } else if self.smsc.is_empty() && hex.starts_with(b"00") {
            // No SMSC in the PDU and none on the SIM.
            Err(330)
        } else {
            let mr = self.next_mr;
            self.next_mr = self.next_mr.wrapping_add(1);
            if knobs.cap.is_some_and(|cap| self.stats.accepted >= cap) {
                Err(knobs.cap_error)
            } else if roll < knobs.error_rate && !knobs.error_codes.is_empty() {
                let i = self.rng.gen_range(0..knobs.error_codes.len());
                Err(knobs.error_codes[i])
            } else {
                Ok(mr)
            }
        };
        self.state = State::Busy {
            result,
            part: Some(part),
        };
        if latency.is_zero() {
            self.finish_send();
        } else {
            self.fx.push(Effect::Busy(latency));
        }
    }

    fn finish_send(&mut self) {
        let State::Busy { result, part } = std::mem::replace(&mut self.state, State::Command)
        else {
            return;
        };
        let mut part = part.expect("a send always carries its part");
        match result {
            Err(code) => {
                *self.stats.failed.entry(code).or_default() += 1;
                self.maybe_noise_in_answer();
                self.final_fail(Fail::Cms(code));
            }
            Ok(mr) => {
                part.mr = mr;
                self.stats.accepted += 1;
                self.stats.last_mr = Some(mr);
                let n = self.stats.accepted;
                if let Ok(to) = Address::parse(&part.to) {
                    self.sent.push_back((mr, to, inbound::now_timestamp()));
                    if self.sent.len() > SENT_MEMORY {
                        self.sent.pop_front();
                    }
                }
                let report = (part.status_report, part.to.clone());
                let last = part.concat.is_none_or(|c| c.seq == c.parts);
                if last {
                    if let Some(r) = self.cfg.knobs.replies.iter().find(|r| r.matches(&part.to)) {
                        self.fx.push(Effect::Reply {
                            after: r.delay,
                            from: part.to.clone(),
                            text: r.text.clone(),
                        });
                    }
                }
                self.fx.push(Effect::Accepted(part));
                if let (true, Some(after)) = (report.0, self.report_delay()) {
                    let status = self.draw_report_status();
                    self.fx.push(Effect::Report {
                        after,
                        mr,
                        to: report.1,
                        status,
                    });
                }
                let knobs = self.cfg.knobs.clone();
                if knobs.die_after_ctrl_z == Some(n) {
                    self.hang();
                    return;
                }
                self.maybe_noise_in_answer();
                self.write_line(&format!("+CMGS: {mr}"));
                self.final_ok();
                if knobs.hang_after_sends == Some(n) {
                    self.hang();
                    return;
                }
                if knobs.reg_loss_after_sends == Some(n) {
                    let before = self.reg_stat();
                    self.reg_lost = true;
                    self.announce_registration(before);
                    if let Some(d) = knobs.reg_loss_for {
                        self.fx.push(Effect::RegainAfter(d));
                    }
                }
                let unplug = knobs
                    .unplug_after_sends
                    .is_some_and(|k| n == k || (knobs.unplug_repeat && k > 0 && n % k == 0));
                if unplug {
                    // Powered off from here on; the caller pulls the PTY shortly after, so the
                    // host still reads this answer (a tty hang-up discards unread input).
                    self.state = State::Booting;
                    self.input.clear();
                    self.urcs.clear();
                    self.fx.push(Effect::Unplug);
                    return;
                }
                if knobs.reboot_after_sends == Some(n) {
                    self.start_reboot();
                }
            }
        }
    }

    fn hang(&mut self) {
        self.stats.hangs += 1;
        self.state = State::Hung;
        self.input.clear();
        self.urcs.clear();
    }
}

/// Stores `pdu` in the first free slot; `None` when full.
fn store(mem: &mut [Option<Stored>], stat: u8, pdu: NetworkPdu) -> Option<usize> {
    let slot = mem.iter().position(Option::is_none)?;
    mem[slot] = Some(Stored { stat, pdu });
    Some(slot)
}

/// TS 27.005 3.5.1: the hex must decode, the SMSC field must fit, the TPDU must be `len` octets
/// and an SMS-SUBMIT the codec can read.
fn check_pdu(len: usize, hex: &[u8]) -> Result<AcceptedPart, ()> {
    let text = std::str::from_utf8(hex).map_err(|_| ())?;
    let bytes = sms::hex::decode(text).map_err(|_| ())?;
    let smsc_len = *bytes.first().ok_or(())? as usize;
    let tpdu_len = bytes.len().checked_sub(1 + smsc_len).ok_or(())?;
    if tpdu_len != len {
        return Err(());
    }
    let pdu = sms::decode(&bytes, true).map_err(|_| ())?;
    let Tpdu::Submit(submit) = &pdu.tpdu else {
        return Err(());
    };
    let ud = &submit.user_data;
    Ok(AcceptedPart {
        mr: 0,
        to: submit.destination.to_string(),
        encoding: ud.encoding.name(),
        text: ud.text.clone(),
        concat: ud.concat(),
        pdu: sms::hex::encode(&bytes),
        status_report: submit.status_report_request,
    })
}

/// One Huawei-style noise line.
fn noise_line(rng: &mut StdRng, rssi: u8, boot: bool) -> String {
    match rng.gen_range(0..if boot { 3 } else { 2 }) {
        0 => format!(
            "^RSSI:{}",
            (rssi as i32 + rng.gen_range(-2..=2)).clamp(0, 31)
        ),
        1 => "^MODE:5,4".to_string(),
        _ => format!(
            "^BOOT:{},0,0,0,{}",
            rng.gen_range(10_000_000..99_999_999u32),
            rng.gen_range(60..80)
        ),
    }
}

/// The Luhn check digit of an IMEI body.
fn luhn(body: &str) -> char {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 0 {
                let x = d * 2;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::config::Knobs;
    use crate::sms::{encode_submit, SubmitOptions};

    fn machine(profile: Profile, knobs: Knobs, seed: u64) -> Machine {
        Machine::new(EmulatedModem { profile, knobs }, seed)
    }

    fn written(fx: &[Effect]) -> String {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Write(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .collect()
    }

    fn submit_bytes() -> (usize, String) {
        let o = SubmitOptions::to(Address::parse("+8613800138000").unwrap());
        let p = encode_submit("hi", &o).unwrap().remove(0);
        (p.tpdu_len, p.hex())
    }

    /// Sends one part and returns the effects up to (and including) the answer.
    fn send(m: &mut Machine) -> Vec<Effect> {
        let (len, hex) = submit_bytes();
        let mut fx = m.feed(format!("AT+CMGS={len}\r").as_bytes());
        fx.extend(m.feed(format!("{hex}\x1a").as_bytes()));
        if fx.iter().any(|e| matches!(e, Effect::Busy(_))) {
            fx.extend(m.resume());
        }
        fx
    }

    #[test]
    fn latency_and_outcomes_repeat_with_the_seed() {
        let knobs = Knobs {
            send_latency: Duration::from_millis(100),
            send_jitter: Duration::from_millis(400),
            error_rate: 0.3,
            ..Knobs::default()
        };
        let run = |seed| {
            let mut m = machine(Profile::Generic, knobs.clone(), seed);
            m.feed(b"ATE0;+CMEE=1\r");
            (0..30)
                .map(|_| {
                    let fx = send(&mut m);
                    let busy = fx
                        .iter()
                        .find_map(|e| match e {
                            Effect::Busy(d) => Some(*d),
                            _ => None,
                        })
                        .expect("every send waits");
                    assert!(busy >= Duration::from_millis(100));
                    assert!(busy <= Duration::from_millis(500));
                    (busy, written(&fx))
                })
                .collect::<Vec<_>>()
        };
        let a = run(1);
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
        let distinct: std::collections::BTreeSet<_> = a.iter().map(|(d, _)| *d).collect();
        assert!(distinct.len() > 20, "jitter varies");
    }

    #[test]
    fn huawei_noise_follows_curc_and_explicit_noise_does_not() {
        let mut hw = machine(Profile::Huawei, Knobs::default(), 0);
        assert_eq!(hw.noise_every(), Some(Duration::from_secs(10)));
        let d = hw.noise_delay().unwrap();
        assert!(d >= Duration::from_secs(5) && d <= Duration::from_secs(15));
        assert!(written(&hw.periodic_noise()).starts_with("\r\n^"));
        hw.feed(b"AT^CURC=0\r");
        assert_eq!(hw.noise_every(), None);
        let generic = machine(Profile::Generic, Knobs::default(), 0);
        assert_eq!(generic.noise_every(), None);
        let loud = Knobs {
            noise: Noise::Every(Duration::from_millis(5)),
            ..Knobs::default()
        };
        let mut stubborn = machine(Profile::Huawei, loud, 0);
        stubborn.feed(b"AT^CURC=0\r");
        assert_eq!(stubborn.noise_every(), Some(Duration::from_millis(5)));
        // Periodic noise never lands inside a prompt.
        let (len, _) = submit_bytes();
        stubborn.feed(format!("AT+CMGS={len}\r").as_bytes());
        assert_eq!(written(&stubborn.periodic_noise()), "");
    }

    #[test]
    fn noise_without_boot_lines() {
        let lines = |boot: bool| {
            let knobs = Knobs {
                noise: Noise::Every(Duration::from_millis(5)),
                noise_boot: boot,
                ..Knobs::default()
            };
            let mut m = machine(Profile::Generic, knobs, 4);
            (0..200)
                .map(|_| written(&m.periodic_noise()))
                .collect::<String>()
        };
        let with = lines(true);
        assert!(with.contains("^BOOT:") && with.contains("^RSSI:") && with.contains("^MODE:"));
        let without = lines(false);
        assert!(!without.contains("^BOOT"), "{without:?}");
        assert!(without.contains("^RSSI:") && without.contains("^MODE:"));
    }

    #[test]
    fn bytes_one_at_a_time_and_urcs_wait_for_the_prompt() {
        let mut m = machine(Profile::Generic, Knobs::default(), 3);
        let mut out = String::new();
        for b in b"AT+CSQ\r" {
            out += &written(&m.feed(&[*b]));
        }
        assert_eq!(out, "AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n");
        m.feed(b"ATE0\r");
        let (len, hex) = submit_bytes();
        assert_eq!(
            written(&m.feed(format!("AT+CMGS={len}\r").as_bytes())),
            "\r\n> "
        );
        // An SMS arriving during the prompt is announced after the answer.
        let (routes, fx) = m.incoming("10086", "hello").unwrap();
        assert_eq!(routes, vec![IncomingRoute::Stored { index: 1 }]);
        assert_eq!(written(&fx), "");
        let fx = m.feed(format!("{hex}\x1a").as_bytes());
        let text = written(&fx);
        assert!(text.starts_with("\r\n+CMGS: "), "{text:?}");
        assert!(
            text.ends_with("\r\nOK\r\n\r\n+CMTI: \"SM\",1\r\n"),
            "{text:?}"
        );
        assert!(fx
            .iter()
            .any(|e| matches!(e, Effect::Accepted(p) if p.text == "hi")));
    }

    #[test]
    fn commands_after_cmgs_on_the_same_line_are_not_run() {
        let mut m = machine(Profile::Generic, Knobs::default(), 3);
        m.feed(b"ATE0\r");
        let (len, _) = submit_bytes();
        let out = written(&m.feed(format!("AT+CMGF=0;+CMGS={len};+CMGF=1\r").as_bytes()));
        assert_eq!(out, "\r\n> ");
        m.feed(b"\x1b");
        assert_eq!(
            written(&m.feed(b"AT+CMGF?\r")),
            "\r\n+CMGF: 0\r\n\r\nOK\r\n"
        );
    }

    #[test]
    fn luhn_digit() {
        assert_eq!(luhn("49015420323751"), '8');
        assert_eq!(luhn("35693803564380"), '9');
    }
}
