//! Bearer tokens of the HTTP API. The store keeps a token's hash, never the token (making and
//! hashing tokens is `service::tokens`' business); a token is found by its hash, and is usable
//! while neither revoked nor expired.

use super::db::{params, OptionalExtension, Row};
use chrono::{DateTime, Duration, Utc};

use super::{from_ms, ms, opt_from_ms, MemberId, StoreError, Tx};

/// A token as the store knows it (without the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    /// The member it acts as (`None`: a management token), with their handle.
    pub member: Option<(MemberId, String)>,
    pub label: String,
    /// Who made it: `root`, `uid:1000`, `token:3`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Usable at `now`: neither revoked nor expired.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// A token to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// SHA-256 of the token, 64 hex digits.
    pub hash: String,
    pub member: Option<MemberId>,
    pub label: String,
    pub created_by: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The longest label kept (longer ones are refused by the service).
pub const MAX_TOKEN_LABEL: usize = 100;

const COLS: &str = "t.id, t.member_id, m.handle, t.label, t.created_by, t.created_at, \
                    t.expires_at, t.revoked_at, t.last_used_at";
const FROM: &str = "api_tokens t LEFT JOIN members m ON m.id = t.member_id";

fn token_row(r: &Row<'_>) -> super::db::Result<ApiToken> {
    let member: Option<MemberId> = r.get(1)?;
    let handle: Option<String> = r.get(2)?;
    Ok(ApiToken {
        id: r.get(0)?,
        member: member.zip(handle),
        label: r.get(3)?,
        created_by: r.get(4)?,
        created_at: from_ms(r.get(5)?),
        expires_at: opt_from_ms(r.get(6)?),
        revoked_at: opt_from_ms(r.get(7)?),
        last_used_at: opt_from_ms(r.get(8)?),
    })
}

/// How often a token's `last_used_at` is written at most: a busy client costs no write per
/// request.
const TOUCH_EVERY: Duration = Duration::seconds(60);

impl Tx<'_> {
    /// Records a new token.
    pub fn insert_token(
        &self,
        t: &NewApiToken,
        now: DateTime<Utc>,
    ) -> Result<ApiToken, StoreError> {
        if t.hash.len() != 64 || !t.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Sql("a token hash is 64 hex digits".into()));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO api_tokens (hash, member_id, label, created_by, created_at, \
                 expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                t.hash,
                t.member,
                t.label,
                t.created_by,
                ms(now),
                t.expires_at.map(ms)
            ])?;
        let id = self.conn.last_insert_rowid()?;
        self.token(id)?.ok_or(StoreError::UnknownToken(id))
    }

    /// The token with this id, active or not.
    pub fn token(&self, id: i64) -> Result<Option<ApiToken>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLS} FROM {FROM} WHERE t.id = ?"))?
            .query_row([id], token_row)
            .optional()?)
    }

    /// The token whose hash this is, active or not.
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLS} FROM {FROM} WHERE t.hash = ?"))?
            .query_row([hash], token_row)
            .optional()?)
    }

    /// Every token (of `member` only, when given), oldest first.
    pub fn tokens(&self, member: Option<MemberId>) -> Result<Vec<ApiToken>, StoreError> {
        let rows = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM {FROM} WHERE CAST(?1 AS BIGINT) IS NULL OR t.member_id = ?1 ORDER BY t.id"
            ))?
            .query_map([member], token_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Revokes token `id` (kept, so the broadcasts it sent still name it). Revoking a revoked
    /// token changes nothing.
    pub fn revoke_token(&self, id: i64, now: DateTime<Utc>) -> Result<ApiToken, StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
            )?
            .execute(params![ms(now), id])?;
        self.token(id)?.ok_or(StoreError::UnknownToken(id))
    }

    /// Notes that token `id` was used at `now` (at most once a minute).
    pub fn touch_token(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2 \
                 AND (last_used_at IS NULL OR last_used_at <= ?3)",
            )?
            .execute(params![ms(now), id, ms(now - TOUCH_EVERY)])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewMember, Store};

    fn hash(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    #[test]
    fn a_token_is_found_by_hash_until_revoked_or_expired() {
        let mut s = Store::open(":memory:").unwrap();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let alice = s
            .create_member(&NewMember::new("alice", "Alice", "+8613800000001"), t0)
            .unwrap();
        let made = s
            .write(|tx| {
                tx.insert_token(
                    &NewApiToken {
                        hash: hash('a'),
                        member: Some(alice.id),
                        label: "bot".into(),
                        created_by: "root".into(),
                        expires_at: Some(t0 + Duration::days(1)),
                    },
                    t0,
                )
            })
            .unwrap();
        assert_eq!(made.member, Some((alice.id, "alice".to_string())));
        let found = s.read(|tx| tx.token_by_hash(&hash('a'))).unwrap().unwrap();
        assert!(found.is_active(t0));
        assert!(
            !found.is_active(t0 + Duration::days(1)),
            "expired at its end"
        );
        assert_eq!(s.read(|tx| tx.token_by_hash(&hash('b'))).unwrap(), None);
        let revoked = s.write(|tx| tx.revoke_token(made.id, t0)).unwrap();
        assert!(!revoked.is_active(t0));
        assert_eq!(
            s.write(|tx| tx.revoke_token(99, t0)),
            Err(StoreError::UnknownToken(99))
        );
        // Deleting the member deletes their tokens.
        s.delete_member("alice").unwrap();
        assert_eq!(s.read(|tx| tx.tokens(None)).unwrap(), vec![]);
    }

    #[test]
    fn last_use_is_written_at_most_once_a_minute() {
        let mut s = Store::open(":memory:").unwrap();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let t = s
            .write(|tx| {
                tx.insert_token(
                    &NewApiToken {
                        hash: hash('c'),
                        member: None,
                        label: String::new(),
                        created_by: "root".into(),
                        expires_at: None,
                    },
                    t0,
                )
            })
            .unwrap();
        let used = |s: &mut Store, at| {
            s.write(|tx| tx.touch_token(t.id, at)).unwrap();
            s.read(|tx| tx.token(t.id)).unwrap().unwrap().last_used_at
        };
        assert_eq!(used(&mut s, t0), Some(t0));
        assert_eq!(used(&mut s, t0 + Duration::seconds(30)), Some(t0));
        let later = t0 + Duration::seconds(61);
        assert_eq!(used(&mut s, later), Some(later));
    }
}
