//! Decoding of the PDUs a modem hands us (TS 27.005 3.1 `<pdu>`: optional SMSC address, then
//! a TPDU): SMS-DELIVER (TS 23.040 9.2.2.1), SMS-SUBMIT (9.2.2.2, stored or emulated sends)
//! and SMS-STATUS-REPORT (9.2.2.3). Written with nom over the octets.
//!
//! Strict by default: user data shorter than TP-UDL announces, or a header flag with no user
//! data, are errors. The lenient mode decodes what is there and sets [`UserData::truncated`]
//! (for showing a received message rather than dropping it). Octets after the end of the
//! TPDU are ignored in both modes, as real modems append them.

use nom::bytes::complete::take;
use nom::number::complete::u8 as octet;
use nom::IResult;

use super::address::{Address, MAX_DIGITS};
use super::dcs::{Dcs, Encoding};
use super::gsm7;
use super::hex;
use super::timestamp::Timestamp;
use super::udh::{Concat, Udh};
use super::validity::Validity;
use super::SmsError;

type In<'a> = &'a [u8];
type Res<'a, T> = IResult<In<'a>, T, SmsError>;

impl<'a> nom::error::ParseError<In<'a>> for SmsError {
    fn from_error_kind(_input: In<'a>, _kind: nom::error::ErrorKind) -> Self {
        SmsError::Truncated("PDU")
    }
    fn append(_input: In<'a>, _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// Names the field a parser reads, so a short input says what was missing.
fn field<'a, T>(
    name: &'static str,
    mut p: impl FnMut(In<'a>) -> Res<'a, T>,
) -> impl FnMut(In<'a>) -> Res<'a, T> {
    move |i| {
        p(i).map_err(|e| {
            e.map(|err| match err {
                SmsError::Truncated(_) => SmsError::Truncated(name),
                other => other,
            })
        })
    }
}

fn fail<T>(e: SmsError) -> Result<T, nom::Err<SmsError>> {
    Err(nom::Err::Failure(e))
}

/// A decoded PDU: SMSC (when the PDU carried one) and the TPDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    pub smsc: Option<Address>,
    pub tpdu: Tpdu,
}

/// The three TPDU types a host meets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tpdu {
    Deliver(Deliver),
    Submit(Submit),
    StatusReport(StatusReport),
}

impl Tpdu {
    /// `deliver`, `submit` or `status-report`.
    pub fn kind(&self) -> &'static str {
        match self {
            Tpdu::Deliver(_) => "deliver",
            Tpdu::Submit(_) => "submit",
            Tpdu::StatusReport(_) => "status-report",
        }
    }

    /// The other party: originator, destination or recipient.
    pub fn number(&self) -> &Address {
        match self {
            Tpdu::Deliver(d) => &d.originator,
            Tpdu::Submit(s) => &s.destination,
            Tpdu::StatusReport(r) => &r.recipient,
        }
    }

    /// The user data, when the TPDU has any.
    pub fn user_data(&self) -> Option<&UserData> {
        match self {
            Tpdu::Deliver(d) => Some(&d.user_data),
            Tpdu::Submit(s) => Some(&s.user_data),
            Tpdu::StatusReport(r) => r.user_data.as_ref(),
        }
    }
}

/// User data with its header, decoded according to the DCS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData {
    pub encoding: Encoding,
    pub udh: Option<Udh>,
    /// The text (empty for 8-bit data).
    pub text: String,
    /// For 8-bit data: the octets after the header.
    pub data: Vec<u8>,
    /// UTF-16 code units of a UCS-2 text, so parts split inside a surrogate pair can be
    /// joined before decoding.
    pub utf16: Vec<u16>,
    /// TP-UDL as received: septets (GSM 7-bit) or octets, header included.
    pub length: usize,
    /// Lenient mode only: fewer octets than TP-UDL announced.
    pub truncated: bool,
}

impl UserData {
    /// Concatenation information from the header.
    pub fn concat(&self) -> Option<Concat> {
        self.udh.as_ref().and_then(Udh::concat)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    pub more_messages_to_send: bool,
    pub reply_path: bool,
    pub status_report_indication: bool,
    pub originator: Address,
    pub pid: u8,
    pub dcs: Dcs,
    pub scts: Timestamp,
    pub user_data: UserData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit {
    pub reject_duplicates: bool,
    pub status_report_request: bool,
    pub reply_path: bool,
    pub message_ref: u8,
    pub destination: Address,
    pub pid: u8,
    pub dcs: Dcs,
    pub validity: Option<Validity>,
    pub user_data: UserData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub message_ref: u8,
    pub recipient: Address,
    pub scts: Timestamp,
    pub discharge_time: Timestamp,
    /// TP-ST (9.2.3.15).
    pub status: u8,
    pub pid: Option<u8>,
    pub dcs: Option<Dcs>,
    pub user_data: Option<UserData>,
}

/// What a TP-Status value means (TS 23.040 9.2.3.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 0x00..=0x1F: the transaction completed.
    Completed,
    /// 0x20..=0x3F: the SMSC is still trying.
    TemporaryStillTrying,
    /// 0x40..=0x5F: the SMSC gave up.
    PermanentError,
    /// 0x60..=0x7F: the SMSC gave up after a temporary error.
    TemporaryGaveUp,
}

impl StatusReport {
    /// Whether the message reached the phone.
    pub fn delivered(&self) -> bool {
        self.status <= 0x02
    }

    pub fn status_class(&self) -> StatusClass {
        status_class(self.status)
    }

    /// The meaning of TP-ST in words.
    pub fn status_text(&self) -> &'static str {
        status_text(self.status)
    }
}

/// Class of a TP-Status value.
pub fn status_class(status: u8) -> StatusClass {
    match status & 0x7F {
        0x00..=0x1F => StatusClass::Completed,
        0x20..=0x3F => StatusClass::TemporaryStillTrying,
        0x40..=0x5F => StatusClass::PermanentError,
        _ => StatusClass::TemporaryGaveUp,
    }
}

/// TS 23.040 9.2.3.15, in words.
pub fn status_text(status: u8) -> &'static str {
    match status {
        0x00 => "received by the SME",
        0x01 => "forwarded by the SC to the SME but delivery could not be confirmed",
        0x02 => "replaced by the SC",
        0x20 => "congestion, still trying",
        0x21 => "SME busy, still trying",
        0x22 => "no response from SME, still trying",
        0x23 => "service rejected, still trying",
        0x24 => "quality of service not available, still trying",
        0x25 => "error in SME, still trying",
        0x40 => "remote procedure error",
        0x41 => "incompatible destination",
        0x42 => "connection rejected by SME",
        0x43 => "not obtainable",
        0x44 => "quality of service not available",
        0x45 => "no interworking available",
        0x46 => "SM validity period expired",
        0x47 => "SM deleted by originating SME",
        0x48 => "SM deleted by SC administration",
        0x49 => "SM does not exist",
        0x60 => "congestion, SC gave up",
        0x61 => "SME busy, SC gave up",
        0x62 => "no response from SME, SC gave up",
        0x63 => "service rejected, SC gave up",
        0x64 => "quality of service not available, SC gave up",
        0x65 => "error in SME, SC gave up",
        s => match status_class(s) {
            StatusClass::Completed => "completed (reserved or SC-specific value)",
            StatusClass::TemporaryStillTrying => {
                "temporary error, still trying (reserved or SC-specific value)"
            }
            StatusClass::PermanentError => "permanent error (reserved or SC-specific value)",
            StatusClass::TemporaryGaveUp => {
                "temporary error, SC gave up (reserved or SC-specific value)"
            }
        },
    }
}

/// Decodes hex as found after `+CMGR:`/`+CMGL:`/`+CMT:`/`+CDS:` (strict).
pub fn decode_hex(text: &str, has_smsc: bool) -> Result<Pdu, SmsError> {
    decode(&hex::decode(text.trim())?, has_smsc)
}

/// Decodes a PDU strictly. `has_smsc`: the octets start with the SMSC length (AT PDU mode).
pub fn decode(bytes: &[u8], has_smsc: bool) -> Result<Pdu, SmsError> {
    decode_with(bytes, has_smsc, false)
}

/// Decodes a PDU, accepting user data shorter than announced (see module docs).
pub fn decode_lenient(bytes: &[u8], has_smsc: bool) -> Result<Pdu, SmsError> {
    decode_with(bytes, has_smsc, true)
}

fn decode_with(bytes: &[u8], has_smsc: bool, lenient: bool) -> Result<Pdu, SmsError> {
    let parsed = (|| -> Res<'_, Pdu> {
        let (i, smsc) = if has_smsc {
            smsc_field(bytes)?
        } else {
            (bytes, None)
        };
        let (i, tpdu) = tpdu(i, lenient)?;
        Ok((i, Pdu { smsc, tpdu }))
    })();
    match parsed {
        Ok((_, pdu)) => Ok(pdu),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
        Err(nom::Err::Incomplete(_)) => Err(SmsError::Truncated("PDU")),
    }
}

/// TS 24.011 8.2.5.1: length octet (type included, at most 11), type, BCD digits.
fn smsc_field(i: In<'_>) -> Res<'_, Option<Address>> {
    let (i, len) = field("SMSC length", octet)(i)?;
    if len > 11 {
        return fail(SmsError::BadLength {
            field: "SMSC address",
            value: len as usize,
            max: 11,
        });
    }
    let (i, body) = field("SMSC address", take(len as usize))(i)?;
    match Address::decode_smsc(body) {
        Ok(a) => Ok((i, a)),
        Err(e) => fail(e),
    }
}

/// TS 23.040 9.1.2.5: length in semi-octets, type of address, value.
fn tp_address(name: &'static str) -> impl FnMut(In<'_>) -> Res<'_, Address> {
    move |i| {
        let (i, semi) = field(name, octet)(i)?;
        if semi as usize > MAX_DIGITS {
            return fail(SmsError::BadLength {
                field: name,
                value: semi as usize,
                max: MAX_DIGITS,
            });
        }
        let (i, toa) = field(name, octet)(i)?;
        let (i, body) = field(name, take((semi as usize).div_ceil(2)))(i)?;
        match Address::decode_tp(semi, toa, body) {
            Ok(a) => Ok((i, a)),
            Err(e) => fail(e),
        }
    }
}

fn timestamp(name: &'static str) -> impl FnMut(In<'_>) -> Res<'_, Timestamp> {
    move |i| {
        let (i, raw) = field(name, take(7usize))(i)?;
        let raw: &[u8; 7] = raw.try_into().expect("take(7) yields 7 octets");
        match Timestamp::decode(raw) {
            Some(t) => Ok((i, t)),
            None => fail(SmsError::BadTimestamp(name)),
        }
    }
}

fn tpdu(i: In<'_>, lenient: bool) -> Res<'_, Tpdu> {
    let (i, first) = field("first octet", octet)(i)?;
    let udhi = first & 0x40 != 0;
    match first & 0x03 {
        0 => {
            let (i, originator) = tp_address("originator address")(i)?;
            let (i, pid) = field("protocol identifier", octet)(i)?;
            let (i, dcs) = field("data coding scheme", octet)(i)?;
            let (i, scts) = timestamp("service centre time stamp")(i)?;
            let dcs = Dcs::decode(dcs);
            let (i, user_data) = user_data(i, dcs, udhi, lenient)?;
            Ok((
                i,
                Tpdu::Deliver(Deliver {
                    more_messages_to_send: first & 0x04 == 0,
                    reply_path: first & 0x80 != 0,
                    status_report_indication: first & 0x20 != 0,
                    originator,
                    pid,
                    dcs,
                    scts,
                    user_data,
                }),
            ))
        }
        1 => {
            let (i, message_ref) = field("message reference", octet)(i)?;
            let (i, destination) = tp_address("destination address")(i)?;
            let (i, pid) = field("protocol identifier", octet)(i)?;
            let (i, dcs) = field("data coding scheme", octet)(i)?;
            let (i, validity) = match (first >> 3) & 0x03 {
                0 => (i, None),
                2 => {
                    let (i, v) = field("validity period", octet)(i)?;
                    (i, Some(Validity::Relative(v)))
                }
                3 => {
                    let (i, t) = timestamp("validity period")(i)?;
                    (i, Some(Validity::Absolute(t)))
                }
                _ => {
                    let (i, raw) = field("validity period", take(7usize))(i)?;
                    (
                        i,
                        Some(Validity::Enhanced(raw.try_into().expect("7 octets"))),
                    )
                }
            };
            let dcs = Dcs::decode(dcs);
            let (i, user_data) = user_data(i, dcs, udhi, lenient)?;
            Ok((
                i,
                Tpdu::Submit(Submit {
                    reject_duplicates: first & 0x04 != 0,
                    status_report_request: first & 0x20 != 0,
                    reply_path: first & 0x80 != 0,
                    message_ref,
                    destination,
                    pid,
                    dcs,
                    validity,
                    user_data,
                }),
            ))
        }
        2 => {
            let (i, message_ref) = field("message reference", octet)(i)?;
            let (i, recipient) = tp_address("recipient address")(i)?;
            let (i, scts) = timestamp("service centre time stamp")(i)?;
            let (i, discharge_time) = timestamp("discharge time")(i)?;
            let (i, status) = field("status", octet)(i)?;
            // TP-PI and what it announces are optional (9.2.3.27); many SMSCs stop here.
            let mut report = StatusReport {
                message_ref,
                recipient,
                scts,
                discharge_time,
                status,
                pid: None,
                dcs: None,
                user_data: None,
            };
            let Some((&pi, mut rest)) = i.split_first() else {
                return Ok((i, Tpdu::StatusReport(report)));
            };
            // A parameter indicator with the extension bit set, or announcing fields that are
            // not there, is padding some SMSCs add: keep what was decoded.
            if pi & 0x80 != 0 {
                return Ok((&[], Tpdu::StatusReport(report)));
            }
            if pi & 0x01 != 0 {
                let Some((&pid, r)) = rest.split_first() else {
                    return Ok((&[], Tpdu::StatusReport(report)));
                };
                report.pid = Some(pid);
                rest = r;
            }
            let mut dcs = Dcs::decode(0);
            if pi & 0x02 != 0 {
                let Some((&d, r)) = rest.split_first() else {
                    return Ok((&[], Tpdu::StatusReport(report)));
                };
                dcs = Dcs::decode(d);
                report.dcs = Some(dcs);
                rest = r;
            }
            if pi & 0x04 != 0 {
                let (r, ud) = user_data(rest, dcs, udhi, lenient)?;
                report.user_data = Some(ud);
                rest = r;
            }
            Ok((rest, Tpdu::StatusReport(report)))
        }
        _ => fail(SmsError::UnsupportedType(first)),
    }
}

/// TP-UDL and TP-UD (9.2.3.16, 9.2.3.24).
fn user_data(i: In<'_>, dcs: Dcs, udhi: bool, lenient: bool) -> Res<'_, UserData> {
    if dcs.compressed {
        return fail(SmsError::UnsupportedDcs(dcs.raw));
    }
    let (i, udl) = field("user data length", octet)(i)?;
    let udl = udl as usize;
    let (max, needed) = match dcs.encoding {
        Encoding::Gsm7 => (160, (udl * 7).div_ceil(8)),
        _ => (140, udl),
    };
    if udl > max && !lenient {
        return fail(SmsError::BadLength {
            field: "user data length",
            value: udl,
            max,
        });
    }
    let truncated = i.len() < needed;
    if truncated && !lenient {
        return fail(SmsError::Truncated("user data"));
    }
    let (i, ud) = take(needed.min(i.len()))(i)?;
    // TP-UDHI says the user data starts with a header, so it cannot be empty. Real phones do
    // send the flag with no user data at all; the lenient mode reads that as no header.
    if udhi && udl == 0 && !lenient {
        return fail(SmsError::BadUdh("header indicated but user data is empty"));
    }
    let (udh, header_len) = if udhi && udl > 0 {
        let Some((&udhl, rest)) = ud.split_first() else {
            return fail(SmsError::BadUdh("header indicated but user data is empty"));
        };
        let udhl = udhl as usize;
        if rest.len() < udhl {
            return fail(SmsError::BadUdh("header longer than the user data"));
        }
        match Udh::decode(&rest[..udhl]) {
            Ok(h) => (Some(h), udhl + 1),
            Err(e) => return fail(e),
        }
    } else {
        (None, 0)
    };
    let mut out = UserData {
        encoding: dcs.encoding,
        udh,
        text: String::new(),
        data: Vec::new(),
        utf16: Vec::new(),
        length: udl,
        truncated,
    };
    match dcs.encoding {
        Encoding::Gsm7 => {
            let skip = gsm7::header_septets(header_len);
            if skip > udl {
                return fail(SmsError::BadUdh("header longer than the user data"));
            }
            out.text = gsm7::septets_to_string(&gsm7::unpack(ud, skip, udl));
        }
        Encoding::Ucs2 => {
            let body = &ud[header_len..];
            out.truncated |= body.len() % 2 != 0;
            if body.len() % 2 != 0 && !lenient {
                return fail(SmsError::BadLength {
                    field: "UCS-2 user data (odd octet count)",
                    value: body.len(),
                    max: body.len() - 1,
                });
            }
            out.utf16 = body
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            out.text = String::from_utf16_lossy(&out.utf16);
        }
        Encoding::Data8 => out.data = ud[header_len..].to_vec(),
    }
    Ok((i, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliver_from_ts_example() {
        let pdu = decode_hex(
            "06917228195339040B917228214365F700003130805120618005D4F29C2E03",
            true,
        )
        .unwrap();
        assert_eq!(pdu.smsc.unwrap().to_string(), "+2782913593");
        let Tpdu::Deliver(d) = pdu.tpdu else { panic!() };
        assert_eq!(d.originator.to_string(), "+27821234567");
        assert_eq!(d.scts.to_string(), "2013-03-08T15:02:16+02:00");
        assert_eq!(d.user_data.text, "Test2");
    }

    #[test]
    fn truncated_fields_are_named() {
        assert_eq!(
            decode_hex("", true),
            Err(SmsError::Truncated("SMSC length"))
        );
        assert_eq!(
            decode_hex("0004", true),
            Err(SmsError::Truncated("originator address"))
        );
        assert_eq!(
            decode_hex("00040B91", true),
            Err(SmsError::Truncated("originator address"))
        );
        assert_eq!(
            decode_hex("0C", true),
            Err(SmsError::BadLength {
                field: "SMSC address",
                value: 12,
                max: 11
            })
        );
    }

    #[test]
    fn lenient_mode_keeps_what_is_there() {
        // UDL 11 septets announced, 9 octets present (10 septets).
        let hex = "07912143658709F1040B918100551512F20000111010214365000BE8329BFD4697D9EC37";
        assert_eq!(decode_hex(hex, true), Err(SmsError::Truncated("user data")));
        let pdu = decode_lenient(&hex::decode(hex).unwrap(), true).unwrap();
        let ud = pdu.tpdu.user_data().unwrap();
        assert!(ud.truncated);
        assert_eq!(ud.text, "hellohello");
    }

    #[test]
    fn reserved_mti_is_refused() {
        assert_eq!(
            decode_hex("0003", true),
            Err(SmsError::UnsupportedType(0x03))
        );
    }
}
