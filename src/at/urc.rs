//! Unsolicited result codes: which lines are URCs, and what they say.
//!
//! A line is a URC when its name (the text before `:`, or the whole line for bare words such
//! as `RING`) is in [`KNOWN_URCS`] or starts with `^` (Huawei reports everything that way) —
//! unless it carries the name of the command in progress (`+CREG: 0,1` answering
//! `AT+CREG?` is an information line, not a URC).

use super::parse::{self, CallerId, Charset, Hcsq, PinState, Registration, StoredAt, Ussd};

/// Names whose lines are unsolicited (TS 27.005 3.4.1, TS 27.007 and vendor manuals).
pub const KNOWN_URCS: &[&str] = &[
    // TS 27.005 3.4.1 new message indications
    "+CMTI",
    "+CMT",
    "+CDSI",
    "+CDS",
    "+CBM",
    "+CBMI",
    // TS 27.007 registration, calls, USSD, SIM, functionality, events
    "+CREG",
    "+CGREG",
    "+CEREG",
    "+C5GREG",
    "+CRING",
    "+CLIP",
    "+CCWA",
    "+CUSD",
    "+CPIN",
    "+CFUN",
    "+CIEV",
    "+CGEV",
    "+CTZV",
    "+CTZE",
    "+CUSATP",
    "+CUSATEND",
    "+PACSP",
    "+STIN",
    // ZTE, Quectel, Wavecom/Sierra, Ericsson, Cinterion
    "+ZUSIMR",
    "+ZPASR",
    "+ZEND",
    "+ZDONR",
    "+QIND",
    "+QUSIM",
    "+WIND",
    "*EMRDY",
    "+CPINR",
];

/// Whole-line URCs (matched case-insensitively).
pub const BARE_URCS: &[&str] = &[
    "RING",
    "RDY",
    "SMS Ready",
    "Call Ready",
    "SMS DONE",
    "PB DONE",
    "NORMAL POWER DOWN",
    "POWERED DOWN",
    "^SYSSTART",
];

/// Names that are unsolicited even while a command of the same name runs (`+CUSD` is the
/// answer to `AT+CUSD=1,...` but arrives as a URC, TS 27.007 7.15).
pub const ALWAYS_URCS: &[&str] = &["+CUSD", "+CMTI", "+CMT", "+CDSI", "+CDS", "+CBM"];

/// Names whose URC carries a second line (the PDU), TS 27.005 3.4.1 PDU mode.
pub const TWO_LINE_URCS: &[&str] = &["+CMT", "+CDS", "+CBM"];

/// An unsolicited result code, parsed where its syntax is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urc {
    /// `+CMTI`: a message was stored.
    NewMessage(StoredAt),
    /// `+CDSI`: a status report was stored.
    StatusReportStored(StoredAt),
    /// `+CMT`: a message routed directly to us (hex PDU).
    Message {
        length: usize,
        pdu: String,
    },
    /// `+CDS`: a status report routed directly to us (hex PDU).
    StatusReport {
        length: usize,
        pdu: String,
    },
    /// `+CREG`/`+CGREG`/`+CEREG`/`+C5GREG`.
    Registration(Registration),
    Ring,
    /// `+CRING: <type>`.
    IncomingCall(String),
    /// `+CLIP`/`+CCWA`.
    Caller(CallerId),
    /// `+CUSD`.
    Ussd(Ussd),
    /// `+CPIN: <code>` that nobody asked for (after a reset, or a SIM swap).
    Pin(PinState),
    /// `+CFUN: <fun>` that nobody asked for (SIMCom boot).
    Functionality(u8),
    /// Huawei `^RSSI: <rssi>`.
    Rssi(u8),
    /// Huawei `^HCSQ`.
    Hcsq(Hcsq),
    /// Huawei `^BOOT:...` (sent after power-up; periodic on some firmware until `AT^CURC=0`).
    Boot(String),
    /// `RDY` (Quectel/SIMCom: the module has booted).
    ModemReady,
    /// `SMS Ready`, `SMS DONE`, `+QIND: SMS DONE`: SMS functions usable (after a boot).
    SmsReady,
    /// `Call Ready`.
    CallReady,
    /// `PB DONE`, `+QIND: PB DONE`.
    PhonebookReady,
    /// Known vendor noise kept as text: `^MODE`, `^SRVST`, `+ZUSIMR`, `+WIND`, `+QIND`...
    Vendor {
        name: String,
        text: String,
    },
    /// A line nobody asked for that we do not recognise (or a known URC that did not parse).
    Unknown(String),
}

impl Urc {
    /// Codes a modem sends after it has (re)booted: the caller should run init again.
    pub fn is_reset(&self) -> bool {
        matches!(
            self,
            Urc::ModemReady
                | Urc::Boot(_)
                | Urc::SmsReady
                | Urc::CallReady
                | Urc::PhonebookReady
                | Urc::Pin(_)
                | Urc::Functionality(_)
        )
    }

    /// A short name for logs: `+CMTI`, `RDY`, `^RSSI`...
    pub fn name(&self) -> &str {
        match self {
            Urc::NewMessage(_) => "+CMTI",
            Urc::StatusReportStored(_) => "+CDSI",
            Urc::Message { .. } => "+CMT",
            Urc::StatusReport { .. } => "+CDS",
            Urc::Registration(r) => r.kind.prefix(),
            Urc::Ring => "RING",
            Urc::IncomingCall(_) => "+CRING",
            Urc::Caller(c) if c.class.is_some() => "+CCWA",
            Urc::Caller(_) => "+CLIP",
            Urc::Ussd(_) => "+CUSD",
            Urc::Pin(_) => "+CPIN",
            Urc::Functionality(_) => "+CFUN",
            Urc::Rssi(_) => "^RSSI",
            Urc::Hcsq(_) => "^HCSQ",
            Urc::Boot(_) => "^BOOT",
            Urc::ModemReady => "RDY",
            Urc::SmsReady => "SMS Ready",
            Urc::CallReady => "Call Ready",
            Urc::PhonebookReady => "PB DONE",
            Urc::Vendor { name, .. } => name,
            Urc::Unknown(_) => "unknown",
        }
    }
}

/// The name of a line: the text before `:` (trimmed), or the whole line.
pub fn line_name(line: &str) -> &str {
    let line = line.trim();
    match line.find(':') {
        Some(i) => line[..i].trim_end(),
        None => line,
    }
}

/// Is `line` an unsolicited code, given the information-line name of the command in
/// progress (`+CREG` while `AT+CREG?` runs)?
pub fn is_urc(line: &str, pending: Option<&str>) -> bool {
    let line = line.trim();
    if BARE_URCS.iter().any(|b| b.eq_ignore_ascii_case(line)) {
        return true;
    }
    let name = line_name(line);
    if name.is_empty() || name.len() == line.len() && !name.starts_with('^') {
        return false;
    }
    if ALWAYS_URCS.iter().any(|k| k.eq_ignore_ascii_case(name)) {
        return true;
    }
    if let Some(p) = pending {
        if p.eq_ignore_ascii_case(name) {
            return false;
        }
    }
    name.starts_with('^') || KNOWN_URCS.iter().any(|k| k.eq_ignore_ascii_case(name))
}

/// Does a URC with this first line carry a PDU line after it?
pub fn is_two_line(line: &str) -> bool {
    let name = line_name(line);
    line.trim().len() > name.len() && TWO_LINE_URCS.iter().any(|k| k.eq_ignore_ascii_case(name))
}

/// Parses a URC line (and its PDU line for `+CMT`/`+CDS`). Never fails: what does not parse
/// comes back as [`Urc::Unknown`].
pub fn parse_urc(line: &str, second: Option<&str>) -> Urc {
    let line = line.trim();
    if let Some(bare) = BARE_URCS.iter().find(|b| b.eq_ignore_ascii_case(line)) {
        return match *bare {
            "RING" => Urc::Ring,
            "RDY" => Urc::ModemReady,
            "SMS Ready" | "SMS DONE" => Urc::SmsReady,
            "Call Ready" => Urc::CallReady,
            "PB DONE" => Urc::PhonebookReady,
            other => Urc::Vendor {
                name: other.to_string(),
                text: line.to_string(),
            },
        };
    }
    let name = line_name(line).to_ascii_uppercase();
    let body = line[line_name(line).len()..]
        .trim_start()
        .strip_prefix(':')
        .unwrap_or("")
        .trim();
    let unknown = || Urc::Unknown(line.to_string());
    let vendor = || Urc::Vendor {
        name: line_name(line).to_string(),
        text: body.to_string(),
    };
    match name.as_str() {
        "+CMTI" => parse::parse_cmti(line)
            .map(Urc::NewMessage)
            .unwrap_or_else(|_| unknown()),
        "+CDSI" => parse::parse_cmti(line)
            .map(Urc::StatusReportStored)
            .unwrap_or_else(|_| unknown()),
        "+CDS" => second
            .and_then(|pdu| parse::parse_cds(line, pdu).ok())
            .map(|(length, pdu)| Urc::StatusReport { length, pdu })
            .unwrap_or_else(unknown),
        "+CMT" => second
            .and_then(|pdu| parse::parse_cmt(line, pdu).ok())
            .map(|(length, pdu)| Urc::Message { length, pdu })
            .unwrap_or_else(unknown),
        "+CREG" | "+CGREG" | "+CEREG" | "+C5GREG" => parse::parse_registration(line, false)
            .map(Urc::Registration)
            .unwrap_or_else(|_| unknown()),
        "+CRING" => Urc::IncomingCall(body.to_string()),
        "+CLIP" | "+CCWA" => parse::parse_clip(line)
            .map(Urc::Caller)
            .unwrap_or_else(|_| unknown()),
        "+CUSD" => parse::parse_cusd(line, &Charset::Ira)
            .map(Urc::Ussd)
            .unwrap_or_else(|_| unknown()),
        "+CPIN" => parse::parse_cpin(line)
            .map(Urc::Pin)
            .unwrap_or_else(|_| unknown()),
        "+CFUN" => body
            .parse::<u8>()
            .map(Urc::Functionality)
            .unwrap_or_else(|_| unknown()),
        "^RSSI" => body
            .parse::<u8>()
            .map(Urc::Rssi)
            .unwrap_or_else(|_| vendor()),
        "^HCSQ" => parse::parse_hcsq(line)
            .map(Urc::Hcsq)
            .unwrap_or_else(|_| vendor()),
        "^BOOT" => Urc::Boot(body.to_string()),
        "+QIND" if body.eq_ignore_ascii_case("SMS DONE") => Urc::SmsReady,
        "+QIND" if body.eq_ignore_ascii_case("PB DONE") => Urc::PhonebookReady,
        _ if is_urc(line, None) => vendor(),
        _ => unknown(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at::parse::{RegStat, Storage};

    #[test]
    fn which_lines_are_urcs() {
        assert!(is_urc("+CMTI: \"SM\",3", None));
        assert!(is_urc("^RSSI:20", None));
        assert!(is_urc("^SRVST:0", Some("+CPMS")));
        assert!(is_urc("RING", None));
        assert!(is_urc("sms ready", None));
        assert!(is_urc("+CREG: 1", Some("+CPMS")));
        assert!(!is_urc("+CREG: 0,1", Some("+CREG")));
        assert!(!is_urc("+CPIN: READY", Some("+CPIN")));
        assert!(is_urc("+CPIN: READY", None));
        assert!(!is_urc("huawei", None));
        assert!(!is_urc("+CSQ: 20,99", None));
        assert!(!is_urc("+CMGS: 3", Some("+CMGS")));
        assert!(!is_urc("", None));
        assert!(is_urc("^BOOT", None));
    }

    #[test]
    fn parsing() {
        assert_eq!(
            parse_urc("+CMTI: \"SM\",7", None),
            Urc::NewMessage(StoredAt {
                storage: Storage::Sm,
                index: 7
            })
        );
        match parse_urc("+CREG: 5", None) {
            Urc::Registration(r) => assert_eq!(r.stat, RegStat::Roaming),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_urc("+CDS: 6", Some("07913366")),
            Urc::StatusReport {
                length: 6,
                pdu: "07913366".into()
            }
        );
        assert_eq!(parse_urc("+CDS: 6", None), Urc::Unknown("+CDS: 6".into()));
        assert_eq!(parse_urc("^RSSI:20", None), Urc::Rssi(20));
        assert_eq!(parse_urc("RDY", None), Urc::ModemReady);
        assert!(parse_urc("^BOOT:23315151,0,0,0,75", None).is_reset());
        assert_eq!(parse_urc("+QIND: SMS DONE", None), Urc::SmsReady);
        assert_eq!(
            parse_urc("^MODE:5,4", None),
            Urc::Vendor {
                name: "^MODE".into(),
                text: "5,4".into()
            }
        );
        assert_eq!(
            parse_urc("+CMTI: junk", None),
            Urc::Unknown("+CMTI: junk".into())
        );
        assert!(!parse_urc("^RSSI:20", None).is_reset());
        assert_eq!(parse_urc("+CPIN: READY", None).name(), "+CPIN");
    }

    #[test]
    fn two_line() {
        assert!(is_two_line("+CDS: 24"));
        assert!(is_two_line("+CMT: ,24"));
        assert!(!is_two_line("+CDSI: \"SR\",1"));
        assert!(!is_two_line("+CMTI: \"SM\",1"));
    }
}
