//! `Idempotency-Key` of the HTTP API's `POST /v1/groups/{group}/broadcasts`: IM platforms and
//! proxies retry, and a retried broadcast must not be sent twice nor use quota twice.
//!
//! A key belongs to the token that presented it and lasts [`KEEP`] (24 h) from its first use.
//! The life of a key:
//!
//! 1. [`claim`], in one immediate transaction: a key not kept is claimed (a row without a
//!    broadcast); a kept one is answered from what it holds: its first answer
//!    ([`Claim::Replay`]), a refusal when it was used for another request ([`KeyError::Reused`]),
//!    or "still in progress" while the first request is being answered ([`Claim::InFlight`]:
//!    the transport waits a little and claims again).
//! 2. The broadcast is submitted with the claim
//!    ([`submit_broadcast_keyed`](super::submit_broadcast_keyed)): the row is linked to the
//!    broadcast in the broadcast's own transaction, so the key names exactly the broadcast
//!    that was written.
//! 3. [`keep_answer`] stores the answer (status and body) right after; or, when the send was
//!    refused (nothing written, no quota used), [`release`] forgets the claim so that a retry
//!    is judged afresh (a quota may have reset meanwhile): refusals are not replayed.
//!
//! The one window: the daemon stopping between steps 2 and 3. The broadcast is written and
//! linked, its answer is not; a repeat is then refused with [`KeyError::AnswerLost`] naming
//! the broadcast (never sent again). A claim whose request never reached step 2 (the daemon
//! stopped first) holds no broadcast and is taken over after [`ABANDONED`].
//!
//! Keys older than [`KEEP`] are pruned by the upkeep task (`scheduler::upkeep`) and ignored
//! until then.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::{BroadcastId, Store, StoreError};

/// How long a key is kept after its first use.
pub const KEEP: Duration = Duration::hours(24);

/// A claim that holds no broadcast after this long was left by a request that never got to
/// send (the daemon stopped): another may take the key over.
pub const ABANDONED: Duration = Duration::minutes(10);

/// The longest key, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// A key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the Idempotency-Key header must be 1 to {MAX_KEY_LEN} visible ASCII characters \
         (letters, digits, punctuation; no spaces), not {0}"
    )]
    Malformed(String),
    #[error(
        "Idempotency-Key {key:?} was used within the last 24 hours for another request (a \
         different group, sender or text); use a new key for a new broadcast"
    )]
    Reused { key: String },
    #[error(
        "a request with Idempotency-Key {key:?} is still being answered; try again in a moment"
    )]
    InFlight { key: String },
    #[error(
        "broadcast {broadcast} was accepted under Idempotency-Key {key:?}, but the daemon stopped \
         before its answer was kept; it was not sent again (see GET /v1/broadcasts/{broadcast})"
    )]
    AnswerLost { key: String, broadcast: i64 },
}

/// Checks a presented key: 1 to 255 visible ASCII characters.
pub fn check_key(key: &[u8]) -> Result<&str, KeyError> {
    let described = || {
        if key.is_empty() {
            "an empty one".to_string()
        } else if key.len() > MAX_KEY_LEN {
            format!("one of {} bytes", key.len())
        } else {
            "one with spaces or other characters".to_string()
        }
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.iter().all(|b| b.is_ascii_graphic()) {
        return Err(KeyError::Malformed(described()));
    }
    std::str::from_utf8(key).map_err(|_| KeyError::Malformed(described()))
}

/// What a request asked, as a key remembers it: SHA-256 (hex) of its JSON.
pub fn fingerprint<T: Serialize>(request: &T) -> String {
    let json = serde_json::to_vec(request).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// What [`claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is the caller's now (row id): submit with it, then keep the answer or release.
    Fresh(i64),
    /// The key's first answer, to give again: HTTP status and body.
    Replay { status: u16, body: String },
    /// Another request with this key is being answered.
    InFlight,
}

/// Claims `key` of token `token` for a request whose [`fingerprint`] is `fingerprint`.
pub fn claim(
    store: &mut Store,
    token: i64,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<Result<Claim, KeyError>, StoreError> {
    store.write(|tx| {
        if let Some(kept) = tx.idempotency_key(token, key)? {
            let expired = kept.created_at <= now - KEEP;
            let abandoned = kept.broadcast.is_none()
                && kept.answer.is_none()
                && kept.created_at <= now - ABANDONED;
            if !(expired || abandoned) {
                if kept.fingerprint != fingerprint {
                    return Ok(Err(KeyError::Reused { key: key.into() }));
                }
                return Ok(match (kept.answer, kept.broadcast) {
                    (Some((status, body)), _) => Ok(Claim::Replay { status, body }),
                    (None, None) => Ok(Claim::InFlight),
                    (None, Some(BroadcastId(b))) => {
                        if kept.created_at <= now - ABANDONED {
                            Err(KeyError::AnswerLost {
                                key: key.into(),
                                broadcast: b,
                            })
                        } else {
                            // Written a moment ago; its answer follows at once.
                            Ok(Claim::InFlight)
                        }
                    }
                });
            }
            tx.delete_idempotency_key(kept.id)?;
        }
        Ok(Ok(Claim::Fresh(tx.insert_idempotency_key(
            token,
            key,
            fingerprint,
            now,
        )?)))
    })
}

/// Keeps the answer given under claim `id`.
pub fn keep_answer(store: &mut Store, id: i64, status: u16, body: &str) -> Result<(), StoreError> {
    store.write(|tx| tx.answer_idempotency_key(id, status, body))
}

/// Forgets claim `id`: its request was refused, nothing was written under it.
pub fn release(store: &mut Store, id: i64) -> Result<(), StoreError> {
    store.write(|tx| tx.delete_idempotency_key(id))
}

/// Keys claimed before this are no longer kept at `now`.
pub fn horizon(now: DateTime<Utc>) -> DateTime<Utc> {
    now - KEEP
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewApiToken;

    #[test]
    fn keys_are_visible_ascii_of_1_to_255_bytes() {
        assert_eq!(check_key(b"order-17/a:b"), Ok("order-17/a:b"));
        assert!(check_key(&[b'k'; 255]).is_ok());
        for bad in [&b""[..], &[b'k'; 256], b"a b", "键".as_bytes(), b"a\tb"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_key_replays_its_answer_refuses_another_request_and_expires() {
        let mut s = Store::open(":memory:").unwrap();
        let now: DateTime<Utc> = "2026-05-01T10:00:00Z".parse().unwrap();
        let token = s
            .write(|tx| {
                tx.insert_token(
                    &NewApiToken {
                        hash: "a".repeat(64),
                        member: None,
                        label: String::new(),
                        created_by: "root".into(),
                        expires_at: None,
                    },
                    now,
                )
            })
            .unwrap()
            .id;
        let Ok(Claim::Fresh(id)) = claim(&mut s, token, "k", "f1", now).unwrap() else {
            panic!("a new key is claimed")
        };
        assert_eq!(
            claim(&mut s, token, "k", "f1", now).unwrap(),
            Ok(Claim::InFlight)
        );
        keep_answer(&mut s, id, 202, "{\"broadcast\":1}").unwrap();
        let later = now + Duration::hours(23);
        assert_eq!(
            claim(&mut s, token, "k", "f1", later).unwrap(),
            Ok(Claim::Replay {
                status: 202,
                body: "{\"broadcast\":1}".into()
            })
        );
        assert_eq!(
            claim(&mut s, token, "k", "f2", later).unwrap(),
            Err(KeyError::Reused { key: "k".into() })
        );
        // After 24 h the key is new again.
        let day_after = now + KEEP;
        assert!(matches!(
            claim(&mut s, token, "k", "f2", day_after).unwrap(),
            Ok(Claim::Fresh(_))
        ));
        // A claim left without a broadcast is taken over once abandoned, not before.
        let Ok(Claim::Fresh(_)) = claim(&mut s, token, "lost", "f", now).unwrap() else {
            panic!()
        };
        assert_eq!(
            claim(&mut s, token, "lost", "f", now + Duration::minutes(1)).unwrap(),
            Ok(Claim::InFlight)
        );
        assert!(matches!(
            claim(&mut s, token, "lost", "f", now + ABANDONED).unwrap(),
            Ok(Claim::Fresh(_))
        ));
    }
}
