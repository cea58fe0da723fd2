//! What the inbox needs from the database: the parts of incoming messages (kept once each, by
//! SIM, originator, SCTS and concatenation reference/part), the messages they make, the links
//! to members and broadcasts, and the reads the CLI and the socket ask for. How a part is
//! decoded, joined and linked is decided in `service::inbox`.

use std::fmt;
use std::str::FromStr;

use super::db::{params, OptionalExtension, Row};
use super::db::{parse_col, ColRef, FromCol, ToCol, Value};
use chrono::{DateTime, Utc};

use super::{from_ms, ms, BroadcastId, StoreError, Tx};

/// What became of an incoming message. `reply` and `other` are set when it is stored;
/// `opt_out` / `opt_in` by the opt-out rules once they read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Handling {
    /// From a member, on a SIM that sent them a broadcast within the reply window.
    Reply,
    OptOut,
    OptIn,
    /// Anything else: carrier notices, strangers, members writing out of the blue.
    Other,
}

impl Handling {
    pub const ALL: [Handling; 4] = [
        Handling::Reply,
        Handling::OptOut,
        Handling::OptIn,
        Handling::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Handling::Reply => "reply",
            Handling::OptOut => "opt_out",
            Handling::OptIn => "opt_in",
            Handling::Other => "other",
        }
    }
}

impl fmt::Display for Handling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Handling {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Handling::ALL
            .into_iter()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not an inbox handling"))
    }
}

impl ToCol for Handling {
    fn to_col(&self) -> Value<'_> {
        Value::Text(self.as_str().into())
    }
}

impl FromCol for Handling {
    fn from_col(v: ColRef<'_>) -> Result<Self, String> {
        parse_col(v)
    }
}

/// The concatenation key of a part: reference (-1 when not concatenated), its width (0, 8 or
/// 16 bits), the part count and this part's number (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartKey {
    pub concat_ref: i64,
    pub ref_bits: u8,
    pub parts_total: u32,
    pub seq: u32,
}

/// One part as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInboxPart {
    pub sim: String,
    pub originator: String,
    /// RFC 3339 with the SMSC's zone.
    pub scts: String,
    pub key: PartKey,
    /// FNV-1a of the part's user data: tells apart two messages of one second.
    pub body_hash: i64,
    pub pdu: String,
    pub length: Option<usize>,
}

/// A stored part, as the joiner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    pub seq: u32,
    pub scts: String,
    pub pdu: String,
    pub length: Option<usize>,
}

/// A message row as created with its first part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInboxMessage {
    pub sim: String,
    pub device: String,
    pub originator: String,
    pub scts: String,
    pub text: String,
    pub encoding: String,
    pub key: PartKey,
    pub member_id: Option<i64>,
    pub member_handle: Option<String>,
    pub from_member: bool,
    pub carrier_notice: bool,
    pub broadcast: Option<BroadcastId>,
    pub group_handle: Option<String>,
    pub handling: Handling,
    pub note: Option<String>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxMessage {
    pub id: i64,
    pub sim: String,
    pub device: String,
    pub originator: String,
    pub scts: String,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub text: String,
    pub encoding: String,
    pub parts: u32,
    pub parts_total: u32,
    pub complete: bool,
    pub member_id: Option<i64>,
    pub member_handle: Option<String>,
    pub from_member: bool,
    pub carrier_notice: bool,
    pub broadcast: Option<BroadcastId>,
    pub group_handle: Option<String>,
    pub handling: Handling,
    pub note: Option<String>,
    pub read: bool,
}

/// Which messages a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxFilter {
    /// Only replies to this group's broadcasts.
    pub group: Option<String>,
    /// Only replies to broadcasts of these groups (a group admin's scope); `None`: all.
    pub groups_in: Option<Vec<String>>,
    /// Only from this originator (E.164 or as stored).
    pub from: Option<String>,
    pub unread: bool,
    /// Only replies to this broadcast.
    pub broadcast: Option<BroadcastId>,
    /// Only messages older than this one (the id of the last message of the page before).
    pub before: Option<i64>,
    /// Newest first, at most this many.
    pub limit: u32,
}

const COLUMNS: &str =
    "id, sim, device, originator, scts, received_at, updated_at, text, encoding, \
     parts, parts_total, complete, member_id, member_handle, from_member, carrier_notice, \
     broadcast_id, group_handle, handling, note, read";

fn message_row(r: &Row<'_>) -> super::db::Result<InboxMessage> {
    Ok(InboxMessage {
        id: r.get(0)?,
        sim: r.get(1)?,
        device: r.get(2)?,
        originator: r.get(3)?,
        scts: r.get(4)?,
        received_at: from_ms(r.get(5)?),
        updated_at: from_ms(r.get(6)?),
        text: r.get(7)?,
        encoding: r.get(8)?,
        parts: r.get(9)?,
        parts_total: r.get(10)?,
        complete: r.get(11)?,
        member_id: r.get(12)?,
        member_handle: r.get(13)?,
        from_member: r.get(14)?,
        carrier_notice: r.get(15)?,
        broadcast: r.get(16)?,
        group_handle: r.get(17)?,
        handling: r.get(18)?,
        note: r.get(19)?,
        read: r.get(20)?,
    })
}

/// The broadcast a message answers: the newest delivery to its number sent through its SIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyLink {
    pub broadcast: BroadcastId,
    pub member_id: Option<i64>,
    pub group_handle: String,
}

impl Tx<'_> {
    /// Stores one part once: `false` when the same part (SIM, originator, SCTS, key) is
    /// already there (read again after a crash before its deletion from the modem).
    pub fn insert_inbox_part(
        &self,
        part: &NewInboxPart,
        message: i64,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO inbox_parts (message_id, sim, originator, scts, concat_ref, \
                 ref_bits, parts_total, seq, body_hash, pdu, length, received_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                message,
                part.sim,
                part.originator,
                part.scts,
                part.key.concat_ref,
                part.key.ref_bits,
                part.key.parts_total,
                part.key.seq,
                part.body_hash,
                part.pdu,
                part.length.map(|l| l as i64),
                ms(at)
            ])?;
        Ok(n == 1)
    }

    /// Whether this part is already stored.
    pub fn inbox_part_exists(&self, part: &NewInboxPart) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT 1 FROM inbox_parts WHERE sim = ? AND originator = ? AND scts = ? \
                 AND concat_ref = ? AND ref_bits = ? AND parts_total = ? AND seq = ? \
                 AND body_hash = ?",
            )?
            .query_row(
                params![
                    part.sim,
                    part.originator,
                    part.scts,
                    part.key.concat_ref,
                    part.key.ref_bits,
                    part.key.parts_total,
                    part.key.seq,
                    part.body_hash
                ],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The newest incomplete message this part may belong to: same SIM, originator and
    /// concatenation reference and part count, without a part of this number yet.
    pub fn open_inbox_set(&self, part: &NewInboxPart) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT m.id FROM inbox_messages m WHERE m.complete = 0 AND m.sim = ? \
                 AND m.originator = ? AND m.concat_ref = ? AND m.ref_bits = ? \
                 AND m.parts_total = ? AND NOT EXISTS (SELECT 1 FROM inbox_parts p \
                 WHERE p.message_id = m.id AND p.seq = ?) ORDER BY m.id DESC LIMIT 1",
            )?
            .query_row(
                params![
                    part.sim,
                    part.originator,
                    part.key.concat_ref,
                    part.key.ref_bits,
                    part.key.parts_total,
                    part.key.seq
                ],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Creates a message row (with its first part's text), `complete = 0`, one part.
    pub fn insert_inbox_message(
        &self,
        m: &NewInboxMessage,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO inbox_messages (sim, device, originator, scts, received_at, \
                 updated_at, text, encoding, parts, parts_total, complete, concat_ref, ref_bits, \
                 member_id, member_handle, from_member, carrier_notice, broadcast_id, \
                 group_handle, handling, note) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                m.sim,
                m.device,
                m.originator,
                m.scts,
                ms(at),
                ms(at),
                m.text,
                m.encoding,
                m.key.parts_total,
                m.key.concat_ref,
                m.key.ref_bits,
                m.member_id,
                m.member_handle,
                m.from_member,
                m.carrier_notice,
                m.broadcast,
                m.group_handle,
                m.handling,
                m.note,
            ])?;
        Ok(self.conn.last_insert_rowid()?)
    }

    /// The parts of a message, by part number.
    pub fn inbox_parts(&self, message: i64) -> Result<Vec<StoredPart>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, scts, pdu, length FROM inbox_parts WHERE message_id = ? ORDER BY seq",
        )?;
        let rows = st.query_map([message], |r| {
            Ok(StoredPart {
                seq: r.get(0)?,
                scts: r.get(1)?,
                pdu: r.get(2)?,
                length: r.get::<Option<i64>>(3)?.map(|l| l as usize),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets a message's text after a part came.
    #[allow(clippy::too_many_arguments)]
    pub fn update_inbox_text(
        &self,
        id: i64,
        text: &str,
        encoding: &str,
        scts: &str,
        parts: u32,
        complete: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE inbox_messages SET text = ?, encoding = ?, scts = ?, parts = ?, \
                 complete = ?, updated_at = ? WHERE id = ?",
            )?
            .execute(params![text, encoding, scts, parts, complete, ms(at), id])?;
        Ok(())
    }

    /// Members whose phone is `number` (E.164): (id, handle), oldest first.
    pub fn members_with_phone(&self, number: &str) -> Result<Vec<(i64, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id, handle FROM members WHERE phone = ? ORDER BY id")?;
        let rows = st.query_map([number], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest broadcast sent to `number` through `sim` from `since` on.
    pub fn reply_link(
        &self,
        number: &str,
        sim: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<ReplyLink>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT d.broadcast_id, d.member_id, b.group_handle FROM parts p \
                 JOIN deliveries d ON d.id = p.delivery_id \
                 JOIN broadcasts b ON b.id = d.broadcast_id \
                 WHERE d.number = ? AND p.sim = ? AND p.sent_at >= ? \
                 ORDER BY p.sent_at DESC, d.id DESC LIMIT 1",
            )?
            .query_row(params![number, sim, ms(since)], |r| {
                Ok(ReplyLink {
                    broadcast: r.get(0)?,
                    member_id: r.get(1)?,
                    group_handle: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// The handle of a member.
    pub fn member_handle_of(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT handle FROM members WHERE id = ?")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    /// One message.
    pub fn inbox_message(&self, id: i64) -> Result<Option<InboxMessage>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM inbox_messages WHERE id = ?"
            ))?
            .query_row([id], message_row)
            .optional()?)
    }

    /// Messages by `filter`, newest first. Incomplete messages are left out while their
    /// first part is younger than `incomplete_before` (the rest may still come).
    pub fn inbox_list(
        &self,
        filter: &InboxFilter,
        incomplete_before: DateTime<Utc>,
    ) -> Result<Vec<InboxMessage>, StoreError> {
        let mut sql = format!(
            "SELECT {COLUMNS} FROM inbox_messages WHERE (complete = 1 OR received_at <= ?1)"
        );
        let mut args: Vec<Value> = vec![Value::Int(ms(incomplete_before))];
        if let Some(g) = &filter.group {
            args.push(Value::Text(g.clone().into()));
            sql.push_str(&format!(" AND group_handle = ?{}", args.len()));
        }
        if let Some(groups) = &filter.groups_in {
            let mut marks = Vec::new();
            for g in groups {
                args.push(Value::Text(g.clone().into()));
                marks.push(format!("?{}", args.len()));
            }
            if marks.is_empty() {
                sql.push_str(" AND 1 = 0");
            } else {
                sql.push_str(&format!(" AND group_handle IN ({})", marks.join(", ")));
            }
        }
        if let Some(f) = &filter.from {
            args.push(Value::Text(f.clone().into()));
            sql.push_str(&format!(" AND originator = ?{}", args.len()));
        }
        if filter.unread {
            sql.push_str(" AND read = 0");
        }
        if let Some(b) = filter.broadcast {
            args.push(Value::Int(b.0));
            sql.push_str(&format!(" AND broadcast_id = ?{}", args.len()));
        }
        if let Some(before) = filter.before {
            args.push(Value::Int(before));
            sql.push_str(&format!(" AND id < ?{}", args.len()));
        }
        args.push(Value::Int(i64::from(filter.limit.max(1))));
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", args.len()));
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(args, message_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks messages read; returns how many existed.
    pub fn inbox_mark_read(&self, ids: &[i64]) -> Result<usize, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("UPDATE inbox_messages SET read = 1 WHERE id = ?")?;
        let mut n = 0;
        for id in ids {
            n += st.execute([id])?;
        }
        Ok(n)
    }

    /// Messages in all, and unread ones (complete or not).
    pub fn inbox_counts(&self) -> Result<(u64, u64), StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*), CAST(coalesce(sum(CASE WHEN read = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 FROM inbox_messages")?
            .query_row(params![], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    /// Sets how a message was handled (the opt-out rules set `opt_out` / `opt_in`).
    pub fn set_inbox_handling(&self, id: i64, handling: Handling) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE inbox_messages SET handling = ? WHERE id = ?")?
            .execute(params![handling, id])?;
        Ok(())
    }
}
