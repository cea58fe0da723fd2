//! Idempotency keys of the HTTP API (`Idempotency-Key` on `POST .../broadcasts`): one row per
//! token and key, claimed before the broadcast is asked for, linked to the broadcast in the
//! broadcast's own transaction, and holding the answer once it is given. What a key means and
//! how long it lasts is `service::idempotency`'s business.

use super::db::{params, OptionalExtension, Row};
use chrono::{DateTime, Utc};

use super::{from_ms, ms, BroadcastId, StoreError, Tx};

/// A key as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRow {
    pub id: i64,
    pub token_id: i64,
    pub key: String,
    /// A hash of what was asked with the key.
    pub fingerprint: String,
    pub created_at: DateTime<Utc>,
    /// The broadcast accepted under the key (written with the broadcast).
    pub broadcast: Option<BroadcastId>,
    /// The answer given: its HTTP status and body.
    pub answer: Option<(u16, String)>,
}

fn row(r: &Row<'_>) -> super::db::Result<IdempotencyRow> {
    let status: Option<u16> = r.get(6)?;
    let body: Option<String> = r.get(7)?;
    Ok(IdempotencyRow {
        id: r.get(0)?,
        token_id: r.get(1)?,
        key: r.get(2)?,
        fingerprint: r.get(3)?,
        created_at: from_ms(r.get(4)?),
        broadcast: r.get::<Option<i64>>(5)?.map(BroadcastId),
        answer: status.zip(body),
    })
}

const COLS: &str = "id, token_id, key, fingerprint, created_at, broadcast_id, status, body";

impl Tx<'_> {
    /// Token `token`'s key `key`, if it is kept.
    pub fn idempotency_key(
        &self,
        token: i64,
        key: &str,
    ) -> Result<Option<IdempotencyRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM idempotency_keys WHERE token_id = ? AND key = ?"
            ))?
            .query_row(params![token, key], row)
            .optional()?)
    }

    /// Claims `key` for `token` (no broadcast, no answer yet); the key must not be kept.
    pub fn insert_idempotency_key(
        &self,
        token: i64,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO idempotency_keys (token_id, key, fingerprint, created_at) \
                 VALUES (?, ?, ?, ?)",
            )?
            .execute(params![token, key, fingerprint, ms(now)])?;
        Ok(self.conn.last_insert_rowid()?)
    }

    /// Forgets the key of row `id` (its request was refused, or it is renewed).
    pub fn delete_idempotency_key(&self, id: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM idempotency_keys WHERE id = ?")?
            .execute([id])?;
        Ok(())
    }

    /// Links row `id` to the broadcast accepted under it.
    pub fn link_idempotency_key(&self, id: i64, broadcast: BroadcastId) -> Result<(), StoreError> {
        let n = self
            .conn
            .prepare_cached("UPDATE idempotency_keys SET broadcast_id = ? WHERE id = ?")?
            .execute(params![broadcast.0, id])?;
        if n == 0 {
            return Err(StoreError::Sql(format!(
                "idempotency key {id} is gone before its broadcast was written"
            )));
        }
        Ok(())
    }

    /// Keeps the answer given under row `id`.
    pub fn answer_idempotency_key(
        &self,
        id: i64,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE idempotency_keys SET status = ?, body = ? WHERE id = ?")?
            .execute(params![status, body, id])?;
        Ok(())
    }

    /// Forgets the keys claimed before `before`; how many.
    pub fn prune_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?")?
            .execute([ms(before)])?;
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewApiToken, Store};

    #[test]
    fn a_key_is_claimed_once_per_token_answered_and_pruned() {
        let mut s = Store::open(":memory:").unwrap();
        let now: DateTime<Utc> = "2026-05-01T10:00:00Z".parse().unwrap();
        let (a, b) = s
            .write(|tx| {
                let mut ids = Vec::new();
                for c in ['a', 'b'] {
                    let t = NewApiToken {
                        hash: std::iter::repeat_n(c, 64).collect(),
                        member: None,
                        label: String::new(),
                        created_by: "root".into(),
                        expires_at: None,
                    };
                    ids.push(tx.insert_token(&t, now)?.id);
                }
                Ok::<_, StoreError>((ids[0], ids[1]))
            })
            .unwrap();
        let id = s
            .write(|tx| tx.insert_idempotency_key(a, "k1", "f", now))
            .unwrap();
        // The same key of another token is another key; twice for one token is refused.
        s.write(|tx| tx.insert_idempotency_key(b, "k1", "g", now))
            .unwrap();
        assert!(s
            .write(|tx| tx.insert_idempotency_key(a, "k1", "f", now))
            .is_err());
        s.write(|tx| tx.answer_idempotency_key(id, 202, "{}"))
            .unwrap();
        let kept = s.read(|tx| tx.idempotency_key(a, "k1")).unwrap().unwrap();
        assert_eq!(
            (kept.fingerprint.as_str(), kept.answer),
            ("f", Some((202, "{}".to_string())))
        );
        let later = now + chrono::Duration::hours(25);
        assert_eq!(
            s.write(|tx| tx.prune_idempotency_keys(later - chrono::Duration::hours(24)))
                .unwrap(),
            2
        );
        assert_eq!(s.read(|tx| tx.idempotency_key(a, "k1")).unwrap(), None);
    }
}
