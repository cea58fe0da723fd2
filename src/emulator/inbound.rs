//! Building what the network sends to the modem: SMS-DELIVER (TS 23.040 9.2.2.1) for incoming
//! messages, multi-part ones with the 8-bit concatenation header, and SMS-STATUS-REPORT
//! (9.2.2.3) for sent ones. Both in AT PDU-mode form (SMSC field first). The codec only
//! encodes SMS-SUBMIT, so the emulator assembles these from the codec's field encoders.

use crate::sms::dcs::{Dcs, Encoding};
use crate::sms::segment::{self, PartBody, MAX_PARTS_LIMIT};
use crate::sms::submit::push_user_data;
use crate::sms::{Address, SmsError, Timestamp, Udh};

/// A PDU as the modem stores and prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPdu {
    pub bytes: Vec<u8>,
    pub tpdu_len: usize,
}

impl NetworkPdu {
    fn finish(bytes: Vec<u8>, smsc_len: usize) -> Self {
        let tpdu_len = bytes.len() - smsc_len;
        NetworkPdu { bytes, tpdu_len }
    }
}

/// The current local time as an SMS time stamp.
pub fn now_timestamp() -> Timestamp {
    use chrono::{Datelike, Offset, Timelike};
    let now = chrono::Local::now();
    Timestamp {
        year: now.year().clamp(2000, 2099) as u16,
        month: now.month() as u8,
        day: now.day() as u8,
        hour: now.hour() as u8,
        minute: now.minute() as u8,
        second: now.second().min(59) as u8,
        tz_quarters: (now.offset().fix().local_minus_utc() / 900).clamp(-79, 79) as i8,
    }
}

/// SMS-DELIVER parts of `text` from `originator`, GSM 7-bit when possible, else UCS-2.
pub fn deliver(
    smsc: &Address,
    originator: &Address,
    text: &str,
    concat_ref: u8,
    scts: Timestamp,
) -> Result<Vec<NetworkPdu>, SmsError> {
    let bodies = segment::split(text, MAX_PARTS_LIMIT)?;
    let total = bodies.len();
    let mut out = Vec::with_capacity(total);
    for (i, body) in bodies.iter().enumerate() {
        let mut pdu = Vec::with_capacity(176);
        smsc.encode_smsc(&mut pdu)?;
        let smsc_len = pdu.len();
        let mut first = 0x04; // SMS-DELIVER, TP-MMS: no more messages waiting
        if total > 1 {
            first |= 0x40;
        }
        pdu.push(first);
        originator.encode_tp(&mut pdu)?;
        pdu.push(0x00);
        let encoding = match body {
            PartBody::Ucs2(_) => Encoding::Ucs2,
            PartBody::Gsm7(_) => Encoding::Gsm7,
        };
        pdu.push(Dcs::encode(encoding, None));
        pdu.extend_from_slice(&scts.encode());
        let udh = (total > 1).then(|| Udh::concat8(concat_ref, total as u8, (i + 1) as u8));
        push_user_data(&mut pdu, body, udh.as_ref());
        out.push(NetworkPdu::finish(pdu, smsc_len));
    }
    Ok(out)
}

/// An SMS-STATUS-REPORT for message reference `mr` sent to `recipient` at `sent`.
pub fn status_report(
    smsc: &Address,
    mr: u8,
    recipient: &Address,
    sent: Timestamp,
    discharged: Timestamp,
    status: u8,
) -> Result<NetworkPdu, SmsError> {
    let mut pdu = Vec::with_capacity(40);
    smsc.encode_smsc(&mut pdu)?;
    let smsc_len = pdu.len();
    pdu.push(0x06); // SMS-STATUS-REPORT, TP-MMS set
    pdu.push(mr);
    recipient.encode_tp(&mut pdu)?;
    pdu.extend_from_slice(&sent.encode());
    pdu.extend_from_slice(&discharged.encode());
    pdu.push(status);
    Ok(NetworkPdu::finish(pdu, smsc_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::{self, join::join_text, Tpdu};

    fn ts() -> Timestamp {
        Timestamp {
            year: 2024,
            month: 5,
            day: 6,
            hour: 7,
            minute: 8,
            second: 9,
            tz_quarters: 32,
        }
    }

    #[test]
    fn deliver_decodes_with_the_codec() {
        let smsc = Address::parse("+8613800100500").unwrap();
        let from = Address::parse("+8613912345678").unwrap();
        let text = "你好，世界！".repeat(20);
        let parts = deliver(&smsc, &from, &text, 9, ts()).unwrap();
        assert_eq!(parts.len(), 2);
        let decoded: Vec<_> = parts
            .iter()
            .map(|p| sms::decode(&p.bytes, true).unwrap())
            .collect();
        let uds: Vec<_> = decoded
            .iter()
            .map(|p| {
                assert_eq!(p.tpdu.number().to_string(), "+8613912345678");
                assert!(matches!(p.tpdu, Tpdu::Deliver(_)));
                p.tpdu.user_data().unwrap()
            })
            .collect();
        assert_eq!(join_text(&uds).unwrap(), text);
        assert_eq!(uds[0].concat().unwrap().reference, 9);
        let one = deliver(&smsc, &from, "hello", 0, ts()).unwrap();
        assert_eq!(one.len(), 1);
        let p = sms::decode(&one[0].bytes, true).unwrap();
        assert_eq!(p.tpdu.user_data().unwrap().text, "hello");
        assert_eq!(one[0].tpdu_len, one[0].bytes.len() - 9);
    }

    #[test]
    fn status_report_decodes_with_the_codec() {
        let smsc = Address::parse("+8613800100500").unwrap();
        let to = Address::parse("+8613800138000").unwrap();
        let r = status_report(&smsc, 77, &to, ts(), ts(), 0).unwrap();
        let p = sms::decode(&r.bytes, true).unwrap();
        let Tpdu::StatusReport(sr) = p.tpdu else {
            panic!("not a status report")
        };
        assert_eq!(sr.message_ref, 77);
        assert_eq!(sr.recipient.to_string(), "+8613800138000");
        assert!(sr.delivered());
    }
}
