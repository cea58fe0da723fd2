//! Bearer tokens for the HTTP API: who may make, list and revoke them, how a token is made
//! and how a presented one becomes a [`Caller`].
//!
//! A token is `gsms_` and 64 hex digits (256 random bits from the OS); the store keeps only
//! its SHA-256, so a copy of the database gives no usable token. Tokens are made on the Unix
//! socket only (a token never mints another, so a leaked token cannot outlive its revocation):
//! a socket user may make tokens for the member bound to them, administrators for anyone, and
//! only administrators make management tokens (`admin`), which act as an administrator.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Caller, Principal, ServiceError, UnknownMember};
use crate::store::{ApiToken, NewApiToken, NewAudit, Store, StoreError, MAX_TOKEN_LABEL};

/// What every token starts with, so a leaked one is recognisable (secret scanners, logs).
pub const PREFIX: &str = "gsms_";

/// The longest validity a token may be given: ten years.
pub const MAX_VALIDITY_SECS: u64 = 10 * 366 * 24 * 3600;

/// A token request that cannot be granted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("tokens are made on the Unix socket (groupsms token create), not with another token")]
    NotOnSocket,
    #[error("{0} may not make management tokens (root or admin_uids only)")]
    NotAdmin(Principal),
    #[error(
        "say whom the token acts as: a member (--member HANDLE) or, for administrators, --admin"
    )]
    NoSubject,
    #[error("a token is either a member's (--member) or a management token (--admin), not both")]
    Both,
    #[error("a token's label is at most {MAX_TOKEN_LABEL} characters")]
    LabelTooLong,
    #[error("a token may be valid for 1 second to 10 years, not {0} seconds")]
    BadValidity(u64),
    #[error("{who} may not see or revoke token {id}")]
    NotYours { who: Principal, id: i64 },
}

/// Why a presented token is refused (HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unauthorized {
    #[error("this request needs a token: send the header 'Authorization: Bearer <token>' (make one with: groupsms token create)")]
    Missing,
    #[error("the Authorization header is not 'Bearer <token>'")]
    Malformed,
    #[error("this token is not known (it may have been mistyped, or made for another daemon)")]
    Unknown,
    #[error("token {0} was revoked")]
    Revoked(i64),
    #[error("token {0} expired at {1}")]
    Expired(i64, String),
}

/// A new token's request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenRequest {
    pub member: Option<String>,
    pub admin: bool,
    pub label: Option<String>,
    pub expires_secs: Option<u64>,
}

/// SHA-256 of a token, in hex: what the store keeps.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh token.
fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// Makes a token for `caller` as `req` asks; returns the token (shown once) and its record.
pub fn create(
    store: &mut Store,
    caller: Caller,
    req: &TokenRequest,
    now: DateTime<Utc>,
) -> Result<(String, ApiToken), ServiceError> {
    if !matches!(caller.who, Principal::Unix(_)) {
        return Err(TokenError::NotOnSocket.into());
    }
    let label = req.label.clone().unwrap_or_default();
    if label.chars().count() > MAX_TOKEN_LABEL {
        return Err(TokenError::LabelTooLong.into());
    }
    let expires_at = match req.expires_secs {
        None => None,
        Some(s) if (1..=MAX_VALIDITY_SECS).contains(&s) => Some(now + Duration::seconds(s as i64)),
        Some(s) => return Err(TokenError::BadValidity(s).into()),
    };
    let secret = generate();
    let record = store.write(|tx| {
        let member = match (&req.member, req.admin) {
            (Some(_), true) => return Err(TokenError::Both.into()),
            (None, false) => return Err(TokenError::NoSubject.into()),
            (None, true) if !caller.admin => return Err(TokenError::NotAdmin(caller.who).into()),
            (None, true) => None,
            (Some(handle), false) => {
                let m = tx.member(handle)?.ok_or_else(|| UnknownMember {
                    handle: handle.clone(),
                })?;
                caller.may_act_as(&m)?;
                Some(m)
            }
        };
        let t = tx.insert_token(
            &NewApiToken {
                hash: hash(&secret),
                member: member.as_ref().map(|m| m.id),
                label: label.clone(),
                created_by: caller.label(),
                expires_at,
            },
            now,
        )?;
        tx.audit(
            &NewAudit {
                actor: caller.label(),
                action: "token_create".into(),
                subject: member.map_or_else(|| "admin".into(), |m| m.handle),
                detail: format!("token {} '{label}'", t.id),
            },
            now,
        )?;
        Ok::<_, ServiceError>(t)
    })?;
    Ok((secret, record))
}

/// The tokens `caller` may see: all for an administrator, else those of the member the caller
/// is.
pub fn list(store: &mut Store, caller: Caller) -> Result<Vec<ApiToken>, ServiceError> {
    store.read(|tx| {
        if caller.admin {
            return Ok(tx.tokens(None)?);
        }
        match caller.member(tx)? {
            Some(m) => Ok(tx.tokens(Some(m.id))?),
            None => Ok(Vec::new()),
        }
    })
}

/// Revokes token `id`: an administrator any, a member their own (a token may revoke itself).
pub fn revoke(
    store: &mut Store,
    caller: Caller,
    id: i64,
    now: DateTime<Utc>,
) -> Result<ApiToken, ServiceError> {
    store.write(|tx| {
        let t = tx.token(id)?.ok_or(StoreError::UnknownToken(id))?;
        let mine = match (&t.member, caller.member(tx)?) {
            (Some((owner, _)), Some(me)) => *owner == me.id,
            _ => false,
        };
        if !caller.admin && !mine {
            return Err(TokenError::NotYours {
                who: caller.who,
                id,
            }
            .into());
        }
        let t = tx.revoke_token(id, now)?;
        tx.audit(
            &NewAudit {
                actor: caller.label(),
                action: "token_revoke".into(),
                subject: t
                    .member
                    .as_ref()
                    .map_or_else(|| "admin".into(), |(_, h)| h.clone()),
                detail: format!("token {id}"),
            },
            now,
        )?;
        Ok(t)
    })
}

/// The caller a presented `Authorization` header value stands for.
pub fn authenticate(
    store: &mut Store,
    header: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<Caller, Unauthorized>, StoreError> {
    let Some(value) = header else {
        return Ok(Err(Unauthorized::Missing));
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Ok(Err(Unauthorized::Malformed));
    };
    let Some(t) = store.read(|tx| tx.token_by_hash(&hash(token)))? else {
        return Ok(Err(Unauthorized::Unknown));
    };
    if t.revoked_at.is_some() {
        return Ok(Err(Unauthorized::Revoked(t.id)));
    }
    if let Some(e) = t.expires_at.filter(|e| now >= *e) {
        return Ok(Err(Unauthorized::Expired(t.id, e.to_rfc3339())));
    }
    if t.last_used_at
        .is_none_or(|u| now - u >= Duration::seconds(60))
    {
        store.write(|tx| tx.touch_token(t.id, now))?;
    }
    Ok(Ok(Caller::token(t.id, t.member.map(|(id, _)| id))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewMember;

    fn setup() -> (Store, DateTime<Utc>) {
        let mut s = Store::open(":memory:").unwrap();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut alice = NewMember::new("alice", "Alice", "+8613800000001");
        alice.unix_uid = Some(1000);
        s.create_member(&alice, t0).unwrap();
        s.create_member(&NewMember::new("bob", "Bob", "+8613800000002"), t0)
            .unwrap();
        (s, t0)
    }

    fn req(member: Option<&str>, admin: bool) -> TokenRequest {
        TokenRequest {
            member: member.map(str::to_string),
            admin,
            ..TokenRequest::default()
        }
    }

    #[test]
    fn a_member_token_authenticates_as_that_member_only() {
        let (mut s, t0) = setup();
        let alice = Caller::unix(1000, &[]);
        let (secret, t) = create(&mut s, alice, &req(Some("alice"), false), t0).unwrap();
        assert!(secret.starts_with(PREFIX) && secret.len() == PREFIX.len() + 64);
        let header = format!("Bearer {secret}");
        let caller = authenticate(&mut s, Some(&header), t0).unwrap().unwrap();
        assert!(!caller.admin);
        assert_eq!(caller.label(), format!("token:{}", t.id));
        let bob = s.member("bob").unwrap().unwrap();
        assert!(caller.may_act_as(&bob).is_err());
        let me = s.member("alice").unwrap().unwrap();
        assert!(caller.may_act_as(&me).is_ok());
        // Only its hash is stored.
        assert!(s.read(|tx| tx.token_by_hash(&secret)).unwrap().is_none());
    }

    #[test]
    fn who_may_make_which_token() {
        let (mut s, t0) = setup();
        let alice = Caller::unix(1000, &[]);
        let stranger = Caller::unix(1001, &[]);
        let root = Caller::unix(0, &[]);
        let refused =
            |s: &mut Store, c, r: &TokenRequest| create(s, c, r, t0).unwrap_err().to_string();
        assert!(refused(&mut s, alice, &req(Some("bob"), false)).contains("bob"));
        assert!(refused(&mut s, stranger, &req(Some("alice"), false)).contains("alice"));
        assert!(refused(&mut s, alice, &req(None, true)).contains("management"));
        assert!(refused(&mut s, root, &req(None, false)).contains("--member"));
        assert!(refused(&mut s, root, &req(Some("bob"), true)).contains("not both"));
        create(&mut s, root, &req(Some("bob"), false), t0).unwrap();
        let (secret, _) = create(&mut s, root, &req(None, true), t0).unwrap();
        let admin = authenticate(&mut s, Some(&format!("Bearer {secret}")), t0)
            .unwrap()
            .unwrap();
        assert!(admin.admin);
        // A token never makes another.
        assert!(refused(&mut s, admin, &req(Some("bob"), false)).contains("Unix socket"));
    }

    #[test]
    fn expired_revoked_unknown_and_malformed_tokens_are_refused() {
        let (mut s, t0) = setup();
        let root = Caller::unix(0, &[]);
        let mut r = req(Some("alice"), false);
        r.expires_secs = Some(3600);
        let (secret, t) = create(&mut s, root, &r, t0).unwrap();
        let bearer = format!("Bearer {secret}");
        let auth = |s: &mut Store, h: Option<&str>, at| authenticate(s, h, at).unwrap();
        assert!(auth(&mut s, Some(&bearer), t0 + Duration::seconds(3599)).is_ok());
        assert!(matches!(
            auth(&mut s, Some(&bearer), t0 + Duration::seconds(3600)),
            Err(Unauthorized::Expired(id, _)) if id == t.id
        ));
        assert_eq!(auth(&mut s, None, t0), Err(Unauthorized::Missing));
        assert_eq!(
            auth(&mut s, Some(&secret), t0),
            Err(Unauthorized::Malformed)
        );
        assert_eq!(
            auth(&mut s, Some("Bearer gsms_00"), t0),
            Err(Unauthorized::Unknown)
        );
        // alice (uid 1000) revokes her own token.
        revoke(&mut s, Caller::unix(1000, &[]), t.id, t0).unwrap();
        assert_eq!(
            auth(&mut s, Some(&bearer), t0),
            Err(Unauthorized::Revoked(t.id))
        );
        // A stranger may not revoke it.
        let e = revoke(&mut s, Caller::unix(1001, &[]), t.id, t0).unwrap_err();
        assert!(e.to_string().contains("may not"), "{e}");
        assert_eq!(list(&mut s, Caller::unix(1001, &[])).unwrap(), vec![]);
        assert_eq!(list(&mut s, Caller::unix(1000, &[])).unwrap().len(), 1);
    }
}
