//! What status reports need from the database: every part that left a modem (SIM, TP-MR, when),
//! the parts a report may be about, each part's last status, the `undelivered` transition, and
//! the reports that matched nothing. Which part a report is about, and what it does to the
//! delivery, is decided in `service::reports`.

use super::db::params;
use chrono::{DateTime, Utc};

use super::model::check_not_empty;
use super::{from_ms, ms, BroadcastId, DeliveryId, DeliveryState, DeliveryUpdate, StoreError, Tx};
use DeliveryState::*;

/// A part a status report may be about: sent through the report's SIM with its TP-MR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartCandidate {
    pub delivery: DeliveryId,
    pub broadcast: BroadcastId,
    /// 0-based.
    pub part: u32,
    /// Parts of the delivery's message (rows recorded for its newest try).
    pub parts: u32,
    /// The delivery's number, E.164.
    pub number: String,
    pub state: DeliveryState,
    pub modem: Option<String>,
    pub sent_at: DateTime<Utc>,
    /// The part's last TP-ST, `None` before any report.
    pub status: Option<u8>,
}

/// A report kept because it matched no part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUnmatchedReport {
    pub sim: String,
    pub device: String,
    pub mr: Option<u8>,
    pub recipient: Option<String>,
    pub status: Option<u8>,
    pub reason: String,
    /// The PDU as the modem gave it (hex).
    pub pdu: String,
}

/// A stored unmatched report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedReport {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub report: NewUnmatchedReport,
}

impl Tx<'_> {
    /// Records the parts of `delivery` that just left `sim` with these TP-MRs (part 0 first),
    /// replacing the rows of an earlier try. Call it in the transaction of
    /// [`mark_sent`](Tx::mark_sent).
    pub fn record_parts(
        &self,
        delivery: DeliveryId,
        sim: &str,
        refs: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        check_not_empty("the SIM id", sim)?;
        self.conn
            .prepare_cached("DELETE FROM parts WHERE delivery_id = ?")?
            .execute([delivery])?;
        let mut st = self.conn.prepare_cached(
            "INSERT INTO parts (delivery_id, part, sim, mr, sent_at) VALUES (?, ?, ?, ?, ?)",
        )?;
        for (i, mr) in refs.iter().enumerate() {
            st.execute(params![delivery, i as u32, sim, mr, ms(at)])?;
        }
        Ok(())
    }

    /// Parts sent through `sim` with TP-MR `mr` from `since` on, newest first.
    pub fn report_candidates(
        &self,
        sim: &str,
        mr: u8,
        since: DateTime<Utc>,
    ) -> Result<Vec<PartCandidate>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT p.delivery_id, d.broadcast_id, p.part, \
             (SELECT count(*) FROM parts q WHERE q.delivery_id = p.delivery_id), \
             d.number, d.state, d.modem, p.sent_at, p.status \
             FROM parts p JOIN deliveries d ON d.id = p.delivery_id \
             WHERE p.sim = ? AND p.mr = ? AND p.sent_at >= ? \
             ORDER BY p.sent_at DESC, p.delivery_id DESC",
        )?;
        let rows = st.query_map(params![sim, mr, ms(since)], |r| {
            Ok(PartCandidate {
                delivery: r.get(0)?,
                broadcast: r.get(1)?,
                part: r.get(2)?,
                parts: r.get(3)?,
                number: r.get(4)?,
                state: r.get(5)?,
                modem: r.get(6)?,
                sent_at: from_ms(r.get(7)?),
                status: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets the last status of one part.
    pub fn set_part_status(
        &self,
        delivery: DeliveryId,
        part: u32,
        status: u8,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE parts SET status = ?, status_at = ? WHERE delivery_id = ? AND part = ?",
            )?
            .execute(params![status, ms(at), delivery, part])?;
        if n == 0 {
            return Err(StoreError::UnknownDelivery(delivery.0));
        }
        Ok(())
    }

    /// The last status of each part of `delivery`, part 0 first (`None`: no report yet).
    pub fn part_statuses(&self, delivery: DeliveryId) -> Result<Vec<Option<u8>>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT status FROM parts WHERE delivery_id = ? ORDER BY part")?;
        let rows = st.query_map([delivery], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `sent | uncertain -> undelivered`: a status report said the network gave up for good.
    pub fn mark_undelivered(
        &self,
        id: DeliveryId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<DeliveryUpdate, StoreError> {
        self.set_final(id, &[Sent, Uncertain], Undelivered, reason, now)
    }

    /// Keeps a report that matched nothing.
    pub fn insert_unmatched_report(
        &self,
        r: &NewUnmatchedReport,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO unmatched_reports (at, sim, device, mr, recipient, status, reason, pdu) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                ms(at),
                r.sim,
                r.device,
                r.mr,
                r.recipient,
                r.status,
                r.reason,
                r.pdu
            ])?;
        Ok(self.conn.last_insert_rowid()?)
    }

    /// The newest `limit` unmatched reports, newest first.
    pub fn unmatched_reports(&self, limit: u32) -> Result<Vec<UnmatchedReport>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, at, sim, device, mr, recipient, status, reason, pdu \
             FROM unmatched_reports ORDER BY id DESC LIMIT ?",
        )?;
        let rows = st.query_map([limit], |r| {
            Ok(UnmatchedReport {
                id: r.get(0)?,
                at: from_ms(r.get(1)?),
                report: NewUnmatchedReport {
                    sim: r.get(2)?,
                    device: r.get(3)?,
                    mr: r.get(4)?,
                    recipient: r.get(5)?,
                    status: r.get(6)?,
                    reason: r.get(7)?,
                    pdu: r.get(8)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many reports matched nothing, ever.
    pub fn unmatched_report_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM unmatched_reports")?
            .query_row(params![], |r| r.get(0))?)
    }
}
