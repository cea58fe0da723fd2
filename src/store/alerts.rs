//! Alertmanager notifications that were sent as broadcasts, remembered by digest so that an
//! identical notification within the group's repeat window is not sent again, across restarts
//! too. The adapter decides what "identical" means (it writes the keys); this file keeps them
//! and prunes what the window no longer needs.

use super::db::{params, OptionalExtension};
use chrono::{DateTime, Utc};

use super::model::check_not_empty;
use super::{ms, BroadcastId, Store, StoreError, Tx};

impl Tx<'_> {
    /// The newest broadcast recorded for `group` under any of `keys` at or after `since`.
    pub fn alert_sent_since(
        &self,
        group: &str,
        keys: &[String],
        since: DateTime<Utc>,
    ) -> Result<Option<BroadcastId>, StoreError> {
        let mut newest: Option<(i64, i64)> = None;
        let mut stmt = self.conn.prepare_cached(
            "SELECT broadcast_id, sent_at FROM alert_sends \
             WHERE group_handle = ? AND key = ? AND sent_at >= ? \
             ORDER BY sent_at DESC, broadcast_id DESC LIMIT 1",
        )?;
        for key in keys {
            let found: Option<(i64, i64)> = stmt
                .query_row(params![group, key, ms(since)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((id, at)) = found {
                if newest.is_none_or(|(_, best)| at > best) {
                    newest = Some((id, at));
                }
            }
        }
        Ok(newest.map(|(id, _)| BroadcastId(id)))
    }

    /// Records that `broadcast` was sent for `group` under each of `keys` at `at`, and removes
    /// the group's records older than `prune_before` (outside any window that still matters).
    pub fn record_alert_send(
        &self,
        group: &str,
        keys: &[String],
        broadcast: BroadcastId,
        at: DateTime<Utc>,
        prune_before: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        check_not_empty("the group handle", group)?;
        self.conn
            .prepare_cached("DELETE FROM alert_sends WHERE group_handle = ? AND sent_at < ?")?
            .execute(params![group, ms(prune_before)])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO alert_sends (group_handle, key, broadcast_id, sent_at) \
             VALUES (?, ?, ?, ?)",
        )?;
        for key in keys {
            check_not_empty("the notification key", key)?;
            insert.execute(params![group, key, broadcast.0, ms(at)])?;
        }
        Ok(())
    }

    /// Rows kept (what pruning bounds).
    pub fn alert_send_rows(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM alert_sends")?
            .query_row(params![], |r| r.get(0))?)
    }
}

impl Store {
    /// [`Tx::alert_sent_since`] in its own read transaction.
    pub fn alert_sent_since(
        &mut self,
        group: &str,
        keys: &[String],
        since: DateTime<Utc>,
    ) -> Result<Option<BroadcastId>, StoreError> {
        self.read(|tx| tx.alert_sent_since(group, keys, since))
    }

    /// [`Tx::record_alert_send`] in its own write transaction.
    pub fn record_alert_send(
        &mut self,
        group: &str,
        keys: &[String],
        broadcast: BroadcastId,
        at: DateTime<Utc>,
        prune_before: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(|tx| tx.record_alert_send(group, keys, broadcast, at, prune_before))
    }

    /// [`Tx::alert_send_rows`] in its own read transaction.
    pub fn alert_send_rows(&mut self) -> Result<u64, StoreError> {
        self.read(|tx| tx.alert_send_rows())
    }
}
