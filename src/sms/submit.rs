//! SMS-SUBMIT encoding (TS 23.040 9.2.2.2) into the PDU-mode form that `AT+CMGS` takes
//! (TS 27.005 3.5.1: SMSC address field, then the TPDU; `<length>` counts the TPDU only).

use super::address::Address;
use super::dcs::{Dcs, Encoding, MessageClass};
use super::gsm7;
use super::hex;
use super::segment::{self, PartBody};
use super::udh::Udh;
use super::validity::Validity;
use super::SmsError;

/// Everything about a submission except its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitOptions {
    /// `None` writes an empty SMSC field (`00`): the modem uses the SIM's SMSC.
    pub smsc: Option<Address>,
    pub destination: Address,
    /// TP-MR. Most modems replace it with their own counter.
    pub message_ref: u8,
    pub validity: Option<Validity>,
    /// TP-SRR: ask the network for a status report.
    pub status_report: bool,
    /// TP-RD: ask the SMSC to reject a duplicate of a message it still holds.
    pub reject_duplicates: bool,
    pub class: Option<MessageClass>,
    /// Concatenation reference, the same in every part; chosen by the caller.
    pub concat_ref: u8,
    /// Refuse texts that need more parts than this.
    pub max_parts: usize,
}

impl SubmitOptions {
    /// Defaults for `destination`: SIM's SMSC, no validity, no report, up to 10 parts.
    pub fn to(destination: Address) -> Self {
        SubmitOptions {
            smsc: None,
            destination,
            message_ref: 0,
            validity: None,
            status_report: false,
            reject_duplicates: false,
            class: None,
            concat_ref: 0,
            max_parts: 10,
        }
    }
}

/// One encoded part, ready for `AT+CMGS=<tpdu_len>` and the hex line after the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitPdu {
    /// SMSC field followed by the TPDU.
    pub bytes: Vec<u8>,
    /// Length of the TPDU in octets (what `AT+CMGS=` takes).
    pub tpdu_len: usize,
}

impl SubmitPdu {
    /// Upper-case hex of the whole PDU.
    pub fn hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    /// The TPDU without the SMSC field.
    pub fn tpdu(&self) -> &[u8] {
        &self.bytes[self.bytes.len() - self.tpdu_len..]
    }
}

/// Encodes `text` as one SMS-SUBMIT per part, GSM 7-bit when possible, else UCS-2.
pub fn encode_submit(text: &str, opts: &SubmitOptions) -> Result<Vec<SubmitPdu>, SmsError> {
    let bodies = segment::split(text, opts.max_parts)?;
    let total = bodies.len();
    let mut header = Vec::with_capacity(24);
    match &opts.smsc {
        Some(smsc) => smsc.encode_smsc(&mut header)?,
        None => header.push(0x00),
    }
    let smsc_len = header.len();
    let multipart = total > 1;
    let mut first = 0x01; // TP-MTI = SMS-SUBMIT
    if opts.reject_duplicates {
        first |= 0x04;
    }
    if opts.validity.is_some() {
        first |= 0x10; // TP-VPF = relative
    }
    if opts.status_report {
        first |= 0x20;
    }
    if multipart {
        first |= 0x40; // TP-UDHI
    }
    header.push(first);
    header.push(opts.message_ref);
    opts.destination.encode_tp(&mut header)?;
    header.push(0x00); // TP-PID: plain short message
    let encoding = match bodies.first() {
        Some(PartBody::Ucs2(_)) => Encoding::Ucs2,
        _ => Encoding::Gsm7,
    };
    header.push(Dcs::encode(encoding, opts.class));
    if let Some(v) = opts.validity {
        header.push(v.code());
    }
    let mut out = Vec::with_capacity(total);
    for (i, body) in bodies.iter().enumerate() {
        let mut pdu = Vec::with_capacity(header.len() + 141);
        pdu.extend_from_slice(&header);
        let udh = multipart.then(|| Udh::concat8(opts.concat_ref, total as u8, (i + 1) as u8));
        push_user_data(&mut pdu, body, udh.as_ref());
        let tpdu_len = pdu.len() - smsc_len;
        out.push(SubmitPdu {
            bytes: pdu,
            tpdu_len,
        });
    }
    Ok(out)
}

/// Appends TP-UDL and TP-UD of one part (SUBMIT and DELIVER alike): the header if any, then
/// the text as septets starting after the header's fill bits (TS 23.040 9.2.3.24), or as
/// UTF-16 big-endian units. TP-UDL counts septets for GSM 7-bit, octets for UCS-2.
pub fn push_user_data(pdu: &mut Vec<u8>, body: &PartBody, udh: Option<&Udh>) {
    let mut ud = Vec::with_capacity(140);
    if let Some(udh) = udh {
        udh.encode(&mut ud);
    }
    let udl = match body {
        PartBody::Gsm7(septets) => {
            let skip = gsm7::header_septets(ud.len());
            gsm7::pack_into(&mut ud, skip, septets);
            skip + septets.len()
        }
        PartBody::Ucs2(units) => {
            for u in units {
                ud.extend_from_slice(&u.to_be_bytes());
            }
            ud.len()
        }
    };
    pdu.push(udl as u8);
    pdu.extend_from_slice(&ud);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_gsm7_matches_hand_assembled_pdu() {
        let opts = SubmitOptions::to(Address::parse("+8613800138000").unwrap());
        let pdus = encode_submit("hellohello", &opts).unwrap();
        assert_eq!(pdus.len(), 1);
        assert_eq!(
            pdus[0].hex(),
            "0001000D91683108108300F000000AE8329BFD4697D9EC37"
        );
        assert_eq!(pdus[0].tpdu_len, 23);
    }

    #[test]
    fn ucs2_with_smsc_and_report() {
        let mut opts = SubmitOptions::to(Address::parse("10086").unwrap());
        opts.smsc = Some(Address::parse("+8613800100500").unwrap());
        opts.status_report = true;
        opts.validity = Some(Validity::from_minutes(24 * 60));
        let pdus = encode_submit("中", &opts).unwrap();
        // SMSC 08 91 683108100005F0 | 31 00 05 81 0168F0 00 08 A7 02 4E2D
        assert_eq!(
            pdus[0].hex(),
            "0891683108100005F0310005810180F60008A7024E2D"
        );
        assert_eq!(pdus[0].tpdu_len, 13);
    }

    #[test]
    fn multipart_carries_concat_header_and_fill_bits() {
        let mut opts = SubmitOptions::to(Address::parse("+8613800138000").unwrap());
        opts.concat_ref = 0x2A;
        let pdus = encode_submit(&"x".repeat(200), &opts).unwrap();
        assert_eq!(pdus.len(), 2);
        let tpdu = pdus[0].tpdu();
        assert_eq!(tpdu[0], 0x41);
        // first octet, MR, DA (2 + 7), PID, DCS, then UDL = 7 header septets + 153
        assert_eq!(tpdu[13], 160);
        assert_eq!(&tpdu[14..20], &[0x05, 0x00, 0x03, 0x2A, 0x02, 0x01]);
        assert_eq!(pdus[1].tpdu()[13], 7 + 47);
        assert_eq!(tpdu.len(), 14 + 140);
    }
}
