//! Per-SIM send counters: one row per message sent through a SIM (keyed by IMSI), so carrier
//! limits such as "200 an hour, 1000 a day" hold across restarts. Windows are chosen by the
//! caller (see `service::sim_windows`); old rows are removed with `prune_sim_sends`.
//!
//! Next to it, the last concatenation reference each SIM used towards each recipient
//! ([`Tx::next_concat_ref`]), so long messages keep distinct references across restarts; and
//! the SIMs quarantined for signs of a carrier block ([`Tx::quarantine_sim`]), so a restart
//! does not put a blocked SIM back to work.

use super::db::params;
use chrono::{DateTime, Utc};

use super::model::check_not_empty;
use super::{ms, SendCount, StoreError, Tx};

/// A SIM kept from sending until `until` (or until an administrator releases it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimQuarantine {
    /// The IMSI (the device path for a modem that did not say).
    pub sim: String,
    pub reason: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

impl Tx<'_> {
    /// Records one message of `parts` parts sent through `sim` at `at`.
    pub fn record_sim_send(
        &self,
        sim: &str,
        parts: u32,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        check_not_empty("the SIM id", sim)?;
        self.conn
            .prepare_cached("INSERT INTO sim_sends (sim, at, parts) VALUES (?, ?, ?)")?
            .execute(params![sim, ms(at), parts])?;
        Ok(())
    }

    /// Messages and parts sent through `sim` from `from` to `to`, both included.
    pub fn sim_sends_between(
        &self,
        sim: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<SendCount, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT count(*), CAST(coalesce(sum(parts), 0) AS BIGINT) FROM sim_sends \
                 WHERE sim = ? AND at >= ? AND at <= ?",
            )?
            .query_row(params![sim, ms(from), ms(to)], |r| {
                Ok(SendCount {
                    messages: r.get(0)?,
                    parts: r.get(1)?,
                })
            })?)
    }

    /// Rows in the send log (what pruning keeps bounded).
    pub fn sim_send_rows(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM sim_sends")?
            .query_row(params![], |r| r.get(0))?)
    }

    /// The concatenation reference for the next long message from `sim` to `number`: one more
    /// (modulo 256) than the last one used between them, 0 for the first. Committed with the
    /// transaction it runs in, so a restart continues where the last run stopped.
    pub fn next_concat_ref(&self, sim: &str, number: &str) -> Result<u8, StoreError> {
        check_not_empty("the SIM id", sim)?;
        check_not_empty("the number", number)?;
        let last: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO concat_refs (sim, number, last) VALUES (?, ?, 0) \
                 ON CONFLICT (sim, number) DO UPDATE SET last = (concat_refs.last + 1) % 256 \
                 RETURNING last",
            )?
            .query_row(params![sim, number], |r| r.get(0))?;
        Ok(u8::try_from(last).unwrap_or_default())
    }

    /// Forgets sends before `before`; returns how many rows went.
    pub fn prune_sim_sends(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM sim_sends WHERE at < ?")?
            .execute([ms(before)])? as u64)
    }

    /// Quarantines `sim` from `since` to `until` for `reason` (a quarantine it was already in
    /// is replaced).
    pub fn quarantine_sim(&self, q: &SimQuarantine) -> Result<(), StoreError> {
        check_not_empty("the SIM id", &q.sim)?;
        self.conn
            .prepare_cached(
                "INSERT INTO sim_quarantine (sim, reason, since, until) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (sim) DO UPDATE SET reason = excluded.reason, \
                 since = excluded.since, until = excluded.until",
            )?
            .execute(params![q.sim, q.reason, ms(q.since), ms(q.until)])?;
        Ok(())
    }

    /// The quarantine of `sim` still running at `now`, if any.
    pub fn sim_quarantine(
        &self,
        sim: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SimQuarantine>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT sim, reason, since, until FROM sim_quarantine WHERE sim = ? AND until > ?",
        )?;
        let mut rows = stmt.query(params![sim, ms(now)])?;
        Ok(match rows.next()? {
            Some(r) => Some(SimQuarantine {
                sim: r.get(0)?,
                reason: r.get(1)?,
                since: from_ms(r.get(2)?),
                until: from_ms(r.get(3)?),
            }),
            None => None,
        })
    }

    /// Ends the quarantine of `sim`; whether there was one.
    pub fn release_sim(&self, sim: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM sim_quarantine WHERE sim = ?")?
            .execute([sim])?
            > 0)
    }
}
