//! Incoming messages (SMS-DELIVER, TS 23.040 9.2.2.1): kept, joined, and linked to the member
//! and the broadcast they answer. Everything is decided here; the modem actor only hands over
//! the PDU (and deletes a stored message once it is committed), the store only keeps the rows.
//!
//! # Once, whatever the modem repeats
//!
//! A part is identified by the SIM it came through (IMSI), its originator, its TP-SCTS and its
//! concatenation reference / part count / part number. Reading the same stored message again
//! (a crash between the commit and `AT+CMGD`, a listing at start) stores nothing new.
//!
//! # Joining
//!
//! Parts of one concatenated message (same SIM, originator, reference and part count: the
//! field notes' key, ModemManager's reference-only key mixes senders) share one message row,
//! created with the first part that comes, whichever it is. Its text is rebuilt from every
//! stored part each time one arrives (UCS-2 parts joined as UTF-16, so a surrogate pair split
//! across parts is one character); gaps are shown as `[…]`. The message is `complete` when
//! every part is there. An incomplete one stays hidden from lists for
//! [`InboxSettings::incomplete_after`] after its first part, then is shown as incomplete with
//! the parts it has; it is never dropped, and a late part still completes it.
//!
//! # Who wrote it, and what it answers
//!
//! - Alphanumeric originators, `100xx`/`106…` service numbers and other short codes (at most
//!   6 digits) are carrier notices: kept, `from_member: false`, `carrier_notice: true`.
//! - Other numbers are read with the project's phone rules ([`super::phone::normalize`]) and
//!   kept in E.164 when they normalise, else as given.
//! - The message answers the newest broadcast sent to that number through the same SIM within
//!   [`InboxSettings::reply_window`]: linked to it, `handling = reply`. Anything else is
//!   `other`. (`opt_out` / `opt_in` are for the opt-out rules, which read the message once it
//!   is committed: see [`Committed`].)
//! - The member is the one with that phone number; of several, the one the linked broadcast
//!   was sent to; else none, with a note naming them.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};

use super::phone::{normalize, Country};
use crate::sms::{Address, Deliver, Encoding, Timestamp, Tpdu, TypeOfNumber, UserData};
use crate::store::{
    BroadcastId, Handling, NewInboxMessage, NewInboxPart, PartKey, StoreError, StoredPart, Tx,
};

/// How incoming messages are linked and shown.
#[derive(Debug, Clone, Copy)]
pub struct InboxSettings {
    /// Country of originators the network presents without a country code.
    pub country: Country,
    /// How long after a broadcast a member's message counts as its reply.
    pub reply_window: Duration,
    /// How long an incomplete message waits for its missing parts before it is shown.
    pub incomplete_after: Duration,
}

/// Default `[inbox] reply_window_hours`.
pub const DEFAULT_REPLY_WINDOW_HOURS: u64 = 72;
/// Default `[inbox] incomplete_after_secs`.
pub const DEFAULT_INCOMPLETE_AFTER_SECS: u64 = 3600;

impl Default for InboxSettings {
    fn default() -> Self {
        InboxSettings {
            country: Country::china(),
            reply_window: Duration::hours(DEFAULT_REPLY_WINDOW_HOURS as i64),
            incomplete_after: Duration::seconds(DEFAULT_INCOMPLETE_AFTER_SECS as i64),
        }
    }
}

/// A PDU as a modem handed it over (`+CMGR`, `+CMGL` or `+CMT`; a status report's too, as
/// [`super::reports::IncomingReport`]).
#[derive(Debug, Clone, Copy)]
pub struct IncomingPdu<'a> {
    /// The SIM it came through (IMSI; the device when the IMSI is unknown, as when sending).
    pub sim: &'a str,
    pub device: &'a str,
    /// Hex, as the modem printed it.
    pub pdu: &'a str,
    /// The TPDU length the modem announced with it, when it did: tells whether an SMSC
    /// address leads.
    pub length: Option<usize>,
}

/// A message the inbox now holds in full (or as an unreadable PDU kept as such): what the
/// opt-out rules and live subscribers get, once, after the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The stored message's id.
    pub message: i64,
    pub originator: String,
    /// The member, when the number is one member's (or the linked broadcast's of several).
    pub member: Option<String>,
    /// The broadcast it answers, and that broadcast's group.
    pub broadcast: Option<BroadcastId>,
    pub group: Option<String>,
    pub text: String,
    pub handling: Handling,
    pub carrier_notice: bool,
}

/// What one PDU did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Stored. `committed` is set when this part completed its message.
    Stored {
        message: i64,
        seq: u32,
        parts_total: u32,
        committed: Option<Committed>,
    },
    /// The same part was stored before: nothing changed (safe to delete from the modem).
    Duplicate { message: Option<i64> },
    /// Not an incoming message (a stored SUBMIT, a status report): left alone.
    NotADeliver { kind: &'static str },
}

/// The originator as kept, and whether it is a carrier / service sender.
pub fn classify_originator(a: &Address, country: Country) -> (String, bool) {
    if a.ton == TypeOfNumber::Alphanumeric {
        return (a.value.clone(), true);
    }
    let shown = a.to_string();
    let digits: String = a.value.chars().filter(char::is_ascii_digit).collect();
    if a.ton != TypeOfNumber::International
        && (digits.len() <= 6 || digits.starts_with("100") || digits.starts_with("106"))
    {
        return (shown, true);
    }
    match normalize(&shown, country) {
        Ok(e164) => (e164, false),
        Err(_) => (shown, false),
    }
}

/// TP-SCTS as RFC 3339 with the SMSC's zone; the raw fields when they are no date.
pub fn scts_text(t: &Timestamp) -> String {
    let at = FixedOffset::east_opt(i32::from(t.tz_quarters) * 15 * 60).and_then(|offset| {
        NaiveDate::from_ymd_opt(i32::from(t.year), t.month.into(), t.day.into())?
            .and_hms_opt(t.hour.into(), t.minute.into(), t.second.into())?
            .and_local_timezone(offset)
            .single()
    });
    match at {
        Some(at) => at.to_rfc3339(),
        None => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02} (invalid, zone {} quarter hours)",
            t.year, t.month, t.day, t.hour, t.minute, t.second, t.tz_quarters
        ),
    }
}

/// Decodes a PDU, with or without the SMSC address in front (lenient: a truncated text is
/// shown as far as it goes rather than lost).
pub fn decode_pdu(pdu: &str, length: Option<usize>) -> Result<Tpdu, String> {
    let bytes = crate::sms::hex::decode(pdu.trim()).map_err(|e| e.to_string())?;
    let order: [bool; 2] = if length == Some(bytes.len()) {
        [false, true]
    } else {
        [true, false]
    };
    let mut first_error = None;
    let mut other = None;
    for has_smsc in order {
        match crate::sms::decode_lenient(&bytes, has_smsc) {
            Ok(p) => match p.tpdu {
                Tpdu::Deliver(_) => return Ok(p.tpdu),
                t => {
                    other.get_or_insert(t);
                }
            },
            Err(e) => {
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    match other {
        Some(t) => Ok(t),
        None => Err(first_error.unwrap_or_default()),
    }
}

fn encoding_name(e: Encoding) -> &'static str {
    match e {
        Encoding::Gsm7 => "gsm7",
        Encoding::Ucs2 => "ucs2",
        Encoding::Data8 => "8bit",
    }
}

/// The text of parts (in part-number order, possibly with gaps) of a message of `total`
/// parts: UCS-2 runs joined as UTF-16, 8-bit data as hex, each gap as `[…]`. A U+0000 in
/// UCS-2 (meaningless in a text, and a string end to C programs and PostgreSQL, which
/// cannot store it) reads as U+FFFD; the PDUs keep the octets as they came.
pub fn assemble(parts: &[(u32, UserData)], total: u32) -> String {
    let mut text = String::new();
    let mut utf16: Vec<u16> = Vec::new();
    let mut expected = 1;
    let flush = |text: &mut String, utf16: &mut Vec<u16>| {
        text.push_str(&String::from_utf16_lossy(utf16).replace('\0', "\u{FFFD}"));
        utf16.clear();
    };
    for (seq, ud) in parts {
        if *seq != expected {
            flush(&mut text, &mut utf16);
            text.push_str("[…]");
        }
        match ud.encoding {
            Encoding::Ucs2 => utf16.extend_from_slice(&ud.utf16),
            Encoding::Gsm7 => {
                flush(&mut text, &mut utf16);
                text.push_str(&ud.text);
            }
            Encoding::Data8 => {
                flush(&mut text, &mut utf16);
                text.push_str(&crate::sms::hex::encode(&ud.data));
            }
        }
        expected = seq + 1;
    }
    flush(&mut text, &mut utf16);
    if expected <= total {
        text.push_str("[…]");
    }
    text
}

/// FNV-1a (64-bit) of a part's user data, as a signed SQLite integer.
pub fn body_hash(ud: &UserData) -> i64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    let units = ud.utf16.iter().flat_map(|u| u.to_be_bytes());
    for b in ud.text.bytes().chain(ud.data.iter().copied()).chain(units) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    h as i64
}

fn key_of(d: &Deliver) -> PartKey {
    match d.user_data.concat() {
        Some(c) => PartKey {
            concat_ref: i64::from(c.reference),
            ref_bits: if c.wide_reference { 16 } else { 8 },
            parts_total: u32::from(c.parts),
            seq: u32::from(c.seq),
        },
        None => PartKey {
            concat_ref: -1,
            ref_bits: 0,
            parts_total: 1,
            seq: 1,
        },
    }
}

/// Stores one incoming PDU, joins it with the parts already there, links a new message to
/// its member and broadcast. Call it in one write transaction; delete the message from the
/// modem only once that committed.
pub fn ingest(
    tx: &Tx<'_>,
    settings: &InboxSettings,
    incoming: IncomingPdu<'_>,
    now: DateTime<Utc>,
) -> Result<Ingested, StoreError> {
    let deliver = match decode_pdu(incoming.pdu, incoming.length) {
        Ok(Tpdu::Deliver(d)) => d,
        Ok(other) => return Ok(Ingested::NotADeliver { kind: other.kind() }),
        Err(reason) => return ingest_unreadable(tx, incoming, &reason, now),
    };
    let (originator, carrier_notice) = classify_originator(&deliver.originator, settings.country);
    let key = key_of(&deliver);
    let part = NewInboxPart {
        sim: incoming.sim.to_string(),
        originator: originator.clone(),
        scts: scts_text(&deliver.scts),
        key,
        body_hash: body_hash(&deliver.user_data),
        pdu: incoming.pdu.trim().to_ascii_uppercase(),
        length: incoming.length,
    };
    if tx.inbox_part_exists(&part)? {
        return Ok(Ingested::Duplicate { message: None });
    }
    let message = match tx.open_inbox_set(&part)? {
        Some(id) => id,
        None => {
            let m = new_message(tx, settings, incoming, &part, &deliver, carrier_notice, now)?;
            tx.insert_inbox_message(&m, now)?
        }
    };
    tx.insert_inbox_part(&part, message, now)?;
    let committed = rebuild(tx, message, key.parts_total, now)?;
    Ok(Ingested::Stored {
        message,
        seq: key.seq,
        parts_total: key.parts_total,
        committed,
    })
}

/// The message row of a first part: who wrote it, what it answers.
fn new_message(
    tx: &Tx<'_>,
    settings: &InboxSettings,
    incoming: IncomingPdu<'_>,
    part: &NewInboxPart,
    deliver: &Deliver,
    carrier_notice: bool,
    now: DateTime<Utc>,
) -> Result<NewInboxMessage, StoreError> {
    let (members, link) = if carrier_notice {
        (Vec::new(), None)
    } else {
        (
            tx.members_with_phone(&part.originator)?,
            tx.reply_link(&part.originator, incoming.sim, now - settings.reply_window)?,
        )
    };
    let mut note = None;
    let member = match members.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        several => {
            let linked = link
                .as_ref()
                .and_then(|l| l.member_id)
                .and_then(|id| several.iter().find(|(m, _)| *m == id).cloned());
            if linked.is_none() {
                let handles: Vec<&str> = several.iter().map(|(_, h)| h.as_str()).collect();
                note = Some(format!(
                    "the number is shared by {} members ({}); none was sent a broadcast from this SIM within the reply window",
                    several.len(),
                    handles.join(", ")
                ));
            }
            linked
        }
    };
    Ok(NewInboxMessage {
        sim: incoming.sim.to_string(),
        device: incoming.device.to_string(),
        originator: part.originator.clone(),
        scts: part.scts.clone(),
        text: String::new(),
        encoding: encoding_name(deliver.user_data.encoding).to_string(),
        key: part.key,
        from_member: !members.is_empty(),
        member_id: member.as_ref().map(|m| m.0),
        member_handle: member.map(|m| m.1),
        carrier_notice,
        handling: if link.is_some() {
            Handling::Reply
        } else {
            Handling::Other
        },
        broadcast: link.as_ref().map(|l| l.broadcast),
        group_handle: link.map(|l| l.group_handle),
        note,
    })
}

/// Rebuilds a message's text from its stored parts; `Some` when it just became complete.
fn rebuild(
    tx: &Tx<'_>,
    message: i64,
    total: u32,
    now: DateTime<Utc>,
) -> Result<Option<Committed>, StoreError> {
    let stored: Vec<StoredPart> = tx.inbox_parts(message)?;
    let mut decoded: Vec<(u32, UserData)> = Vec::with_capacity(stored.len());
    let mut scts = None;
    for p in &stored {
        if let Ok(Tpdu::Deliver(d)) = decode_pdu(&p.pdu, p.length) {
            scts.get_or_insert_with(|| p.scts.clone());
            decoded.push((p.seq, d.user_data));
        }
    }
    let encoding = decoded
        .first()
        .map(|(_, u)| encoding_name(u.encoding))
        .unwrap_or("unreadable");
    let text = assemble(&decoded, total);
    let complete = decoded.len() as u32 >= total;
    tx.update_inbox_text(
        message,
        &text,
        encoding,
        scts.as_deref().unwrap_or(""),
        decoded.len() as u32,
        complete,
        now,
    )?;
    if !complete {
        return Ok(None);
    }
    let m = tx
        .inbox_message(message)?
        .ok_or(StoreError::Sql(format!("inbox message {message} vanished")))?;
    Ok(Some(Committed {
        message,
        originator: m.originator,
        member: m.member_handle,
        broadcast: m.broadcast,
        group: m.group_handle,
        text: m.text,
        handling: m.handling,
        carrier_notice: m.carrier_notice,
    }))
}

/// A PDU that does not decode is kept as it is (text: why, and the hex), never dropped.
fn ingest_unreadable(
    tx: &Tx<'_>,
    incoming: IncomingPdu<'_>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Ingested, StoreError> {
    let pdu = incoming.pdu.trim().to_ascii_uppercase();
    let key = PartKey {
        concat_ref: -1,
        ref_bits: 0,
        parts_total: 1,
        seq: 1,
    };
    let part = NewInboxPart {
        sim: incoming.sim.to_string(),
        originator: "unknown".into(),
        // The PDU itself tells one unreadable message from another.
        scts: format!("unreadable:{pdu}"),
        key,
        body_hash: 0,
        pdu: pdu.clone(),
        length: incoming.length,
    };
    if tx.inbox_part_exists(&part)? {
        return Ok(Ingested::Duplicate { message: None });
    }
    let text = format!("unreadable PDU ({reason}): {pdu}");
    let m = NewInboxMessage {
        sim: incoming.sim.to_string(),
        device: incoming.device.to_string(),
        originator: "unknown".into(),
        scts: String::new(),
        text: text.clone(),
        encoding: "unreadable".into(),
        key,
        member_id: None,
        member_handle: None,
        from_member: false,
        carrier_notice: false,
        broadcast: None,
        group_handle: None,
        handling: Handling::Other,
        note: Some(format!("the PDU did not decode: {reason}")),
    };
    let message = tx.insert_inbox_message(&m, now)?;
    tx.insert_inbox_part(&part, message, now)?;
    tx.update_inbox_text(message, &text, "unreadable", "", 1, true, now)?;
    Ok(Ingested::Stored {
        message,
        seq: 1,
        parts_total: 1,
        committed: Some(Committed {
            message,
            originator: "unknown".into(),
            member: None,
            broadcast: None,
            group: None,
            text,
            handling: Handling::Other,
            carrier_notice: false,
        }),
    })
}
