//! Broadcasts: writing one with all its deliveries, quota usage, listing and progress.

use super::db::{params, OptionalExtension, Row, Value};
use super::hosts::Announcement;
use chrono::{DateTime, Utc};

use super::model::{check_e164, check_not_empty, encoding_name, parse_encoding};
use super::{
    from_ms, ms, opt_from_ms, BroadcastDetail, BroadcastId, BroadcastSummary, DeliveryId,
    DeliveryRow, DeliveryState, Dropped, GroupId, NewBroadcast, NewNotice, Progress, QuotaPeriod,
    Recipient, StoreError, Tx,
};

const SUMMARY_COLS: &str = "id, group_id, group_handle, sender_handle, body, text, encoding, \
     parts, recipients, dropped_opted_out, dropped_invalid, dropped_sms_disabled, \
     dropped_duplicate, state, created_at, finished_at, caller, urgent, cancelled_at, cancelled_by";

fn summary_row(r: &Row<'_>) -> super::db::Result<BroadcastSummary> {
    let enc: String = r.get(6)?;
    let encoding = parse_encoding(&enc).ok_or_else(|| super::db::Error::Decode {
        column: 6,
        reason: format!("'{enc}' is not an encoding"),
    })?;
    let state: String = r.get(13)?;
    Ok(BroadcastSummary {
        id: r.get(0)?,
        group_id: r.get(1)?,
        group_handle: r.get(2)?,
        sender_handle: r.get(3)?,
        body: r.get(4)?,
        text: r.get(5)?,
        encoding,
        parts: r.get(7)?,
        recipients: r.get(8)?,
        dropped: Dropped {
            opted_out: r.get(9)?,
            invalid: r.get(10)?,
            sms_disabled: r.get(11)?,
            duplicate: r.get(12)?,
        },
        finished: state == "finished",
        created_at: from_ms(r.get(14)?),
        finished_at: opt_from_ms(r.get(15)?),
        caller: r.get(16)?,
        progress: Progress::default(),
        urgent: r.get(17)?,
        cancelled: match (r.get::<Option<i64>>(18)?, r.get::<Option<String>>(19)?) {
            (Some(at), by) => Some((from_ms(at), by.unwrap_or_default())),
            (None, _) => None,
        },
    })
}

pub(crate) fn parse_refs(text: Option<String>) -> Vec<u8> {
    text.map(|t| t.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_default()
}

impl Tx<'_> {
    /// Writes a broadcast and one `queued` delivery per recipient. Call it inside the same
    /// [`write`](super::Store::write) as the quota check and [`consume_quota`](Tx::consume_quota).
    pub fn insert_broadcast(
        &self,
        b: &NewBroadcast,
        recipients: &[Recipient],
        now: DateTime<Utc>,
    ) -> Result<BroadcastId, StoreError> {
        if recipients.is_empty() {
            return Err(StoreError::Empty {
                what: "the recipient list of a broadcast",
            });
        }
        let now = ms(now);
        self.conn
            .prepare_cached(
                "INSERT INTO broadcasts (group_id, group_handle, sender_id, sender_handle, body, \
                 text, encoding, parts, recipients, dropped_opted_out, dropped_invalid, \
                 dropped_sms_disabled, dropped_duplicate, quota_day, quota_month, state, \
                 created_at, caller, urgent) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
            )?
            .execute(params![
                b.group_id,
                b.group_handle,
                b.sender_id,
                b.sender_handle,
                b.body,
                b.text,
                encoding_name(b.encoding),
                b.parts,
                recipients.len() as i64,
                b.dropped.opted_out,
                b.dropped.invalid,
                b.dropped.sms_disabled,
                b.dropped.duplicate,
                b.quota_day,
                b.quota_month,
                now,
                b.caller,
                b.urgent
            ])?;
        let id = BroadcastId(self.conn.last_insert_rowid()?);
        // What all rows share is bound once; only member and number change (100 000 rows
        // in a fraction of a second).
        self.conn.insert_many(
            "INSERT INTO deliveries (broadcast_id, created_at, updated_at, member_id, number, \
             state)",
            "(?1, ?2, ?2, ?3, ?4, 'queued')",
            &[Value::Int(id.0), Value::Int(now)],
            recipients.iter().map(|r| {
                [
                    Value::Int(r.member_id.0),
                    Value::Text(r.number.as_str().into()),
                ]
            }),
        )?;
        self.announce(Announcement::Queued(id.0))?;
        Ok(id)
    }

    /// Writes a notice: a broadcast of kind `notice` with one `queued` delivery, sent as
    /// `system`, through `n.sim` only. It consumes no quota.
    pub fn insert_notice(
        &self,
        n: &NewNotice,
        now: DateTime<Utc>,
    ) -> Result<BroadcastId, StoreError> {
        check_e164(&n.number)?;
        check_not_empty("the text of a notice", &n.text)?;
        check_not_empty("the SIM of a notice", &n.sim)?;
        let now = ms(now);
        self.conn
            .prepare_cached(
                "INSERT INTO broadcasts (group_id, group_handle, sender_id, sender_handle, body, \
                 text, encoding, parts, recipients, dropped_opted_out, dropped_invalid, \
                 dropped_sms_disabled, dropped_duplicate, quota_day, quota_month, state, \
                 created_at, caller, kind, pin_sim) \
                 VALUES (?1, ?2, NULL, 'system', ?3, ?3, ?4, ?5, 1, 0, 0, 0, 0, ?6, ?7, 'active', \
                 ?8, ?9, 'notice', ?10)",
            )?
            .execute(params![
                n.group_id,
                n.group_handle,
                n.text,
                encoding_name(n.encoding),
                n.parts,
                n.day,
                n.month,
                now,
                n.caller,
                n.sim
            ])?;
        let id = BroadcastId(self.conn.last_insert_rowid()?);
        self.conn
            .prepare_cached(
                "INSERT INTO deliveries (broadcast_id, created_at, updated_at, member_id, number, \
                 state) VALUES (?1, ?2, ?2, ?3, ?4, 'queued')",
            )?
            .execute(params![id, now, n.member_id, n.number])?;
        self.announce(Announcement::Queued(id.0))?;
        Ok(id)
    }

    /// Notices written for `number` since `since`.
    pub fn notices_to(&self, number: &str, since: DateTime<Utc>) -> Result<u32, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id \
                 WHERE d.number = ? AND d.created_at >= ? AND b.kind = 'notice'",
            )?
            .query_row(params![number, ms(since)], |r| r.get(0))?)
    }

    /// Broadcasts `group` has used in one quota period (`key` is `2024-05-01` or `2024-05`).
    pub fn quota_used(
        &self,
        group: GroupId,
        period: QuotaPeriod,
        key: &str,
    ) -> Result<u32, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT used FROM quota_usage WHERE group_id = ? AND period = ? AND key = ?",
            )?
            .query_row(params![group, period.as_str(), key], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    /// Counts one broadcast against the group's day and month.
    pub fn consume_quota(&self, group: GroupId, day: &str, month: &str) -> Result<(), StoreError> {
        let mut st = self.conn.prepare_cached(
            "INSERT INTO quota_usage (group_id, period, key, used) VALUES (?, ?, ?, 1) \
             ON CONFLICT (group_id, period, key) DO UPDATE SET used = quota_usage.used + 1",
        )?;
        st.execute(params![group, QuotaPeriod::Day.as_str(), day])?;
        st.execute(params![group, QuotaPeriod::Month.as_str(), month])?;
        Ok(())
    }

    /// Deliveries of a broadcast, by state.
    pub fn broadcast_progress(&self, id: BroadcastId) -> Result<Progress, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT state, count(*) FROM deliveries WHERE broadcast_id = ? GROUP BY state",
        )?;
        let mut rows = st.query([id])?;
        let mut p = Progress::default();
        while let Some(r) = rows.next()? {
            let state: DeliveryState = r.get(0)?;
            p.add(state, r.get(1)?);
        }
        Ok(p)
    }

    /// The deliveries of broadcast `id` that are not `queued`, with their state (what a live
    /// count that other hosts' moves reach must know: [`Tx::broadcast_progress`] in the same
    /// transaction).
    pub fn moved_deliveries(
        &self,
        id: BroadcastId,
    ) -> Result<Vec<(DeliveryId, DeliveryState)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, state FROM deliveries WHERE broadcast_id = ? AND state <> 'queued'",
        )?;
        let rows = st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The latest `limit` broadcasts, newest first, of one group or of all.
    pub fn broadcasts(
        &self,
        group: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BroadcastSummary>, StoreError> {
        let groups = group.map(|g| vec![g.to_string()]);
        self.broadcasts_page(groups.as_deref(), None, limit)
    }

    /// A page of broadcasts, newest first: at most `limit` older than broadcast `before` (all
    /// when `None`), of the groups (by handle) in `groups`, or of all.
    pub fn broadcasts_page(
        &self,
        groups: Option<&[String]>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<BroadcastSummary>, StoreError> {
        let before = before.unwrap_or(i64::MAX);
        let mut list: Vec<BroadcastSummary> = match groups {
            Some(groups) => {
                // One placeholder per group: a member's groups are few.
                let marks = vec!["?"; groups.len()].join(", ");
                let sql = format!(
                    "SELECT {SUMMARY_COLS} FROM broadcasts WHERE group_handle IN ({marks}) \
                     AND id < ? ORDER BY id DESC LIMIT ?"
                );
                let mut args: Vec<&dyn super::db::ToCol> =
                    groups.iter().map(|g| g as &dyn super::db::ToCol).collect();
                args.push(&before);
                args.push(&limit);
                let rows = self
                    .conn
                    .prepare(&sql)?
                    .query_map(args.as_slice(), summary_row)?
                    .collect::<Result<_, _>>()?;
                rows
            }
            None => {
                let sql = format!(
                    "SELECT {SUMMARY_COLS} FROM broadcasts WHERE id < ? ORDER BY id DESC LIMIT ?"
                );
                let rows = self
                    .conn
                    .prepare_cached(&sql)?
                    .query_map(params![before, limit], summary_row)?
                    .collect::<Result<_, _>>()?;
                rows
            }
        };
        for b in &mut list {
            b.progress = self.broadcast_progress(b.id)?;
        }
        Ok(list)
    }

    /// The group of broadcast `id` (`None` once deleted) and its handle, without counting
    /// its deliveries; `None` when there is no such broadcast.
    pub fn broadcast_group(
        &self,
        id: BroadcastId,
    ) -> Result<Option<(Option<GroupId>, String)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT group_id, group_handle FROM broadcasts WHERE id = ?")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// One broadcast with its progress.
    pub fn broadcast(&self, id: BroadcastId) -> Result<Option<BroadcastSummary>, StoreError> {
        let sql = format!("SELECT {SUMMARY_COLS} FROM broadcasts WHERE id = ?");
        let found = self
            .conn
            .prepare_cached(&sql)?
            .query_row([id], summary_row)
            .optional()?;
        match found {
            Some(mut b) => {
                b.progress = self.broadcast_progress(id)?;
                Ok(Some(b))
            }
            None => Ok(None),
        }
    }

    /// One broadcast with a row per recipient, in the order they were queued.
    pub fn show_broadcast(&self, id: BroadcastId) -> Result<BroadcastDetail, StoreError> {
        let broadcast = self
            .broadcast(id)?
            .ok_or(StoreError::UnknownBroadcast(id.0))?;
        let deliveries = self.deliveries_page(id, 0, u32::MAX)?;
        Ok(BroadcastDetail {
            broadcast,
            deliveries,
        })
    }

    /// At most `limit` deliveries of a broadcast whose id is above `after`, in the order they
    /// were queued (by id).
    pub fn deliveries_page(
        &self,
        id: BroadcastId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT d.id, m.handle, m.name, d.number, d.state, d.modem, d.attempts, \
                 d.part_refs, d.last_error, d.not_before, d.possible_duplicate, d.updated_at \
                 FROM deliveries d LEFT JOIN members m ON m.id = d.member_id \
                 WHERE d.broadcast_id = ? AND d.id > ? ORDER BY d.id LIMIT ?",
            )?
            .query_map(params![id, after, limit], |r| {
                Ok(DeliveryRow {
                    id: r.get(0)?,
                    member_handle: r.get(1)?,
                    member_name: r.get(2)?,
                    number: r.get(3)?,
                    state: r.get(4)?,
                    modem: r.get(5)?,
                    attempts: r.get(6)?,
                    part_refs: parse_refs(r.get(7)?),
                    last_error: r.get(8)?,
                    not_before: opt_from_ms(r.get(9)?),
                    possible_duplicate: r.get(10)?,
                    updated_at: from_ms(r.get(11)?),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}
