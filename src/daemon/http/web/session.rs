//! The console's sign-in sessions: a server-side map from a random session id to the bearer
//! token it was opened with.
//!
//! Why a server-side map and not a signed cookie: the cookie then holds only a random id
//! (256 bits from the OS, kept here as its SHA-256), never the token, encrypted or not; signing
//! out forgets the session at once; and a restart of the daemon ends every session (the map is
//! in memory), which is what a LAN box wants. The token itself stays in this process's memory
//! only, and every request presents it again to the API's own authentication
//! ([`super::super::Authed`]), so a token revoked or expired since the sign-in ends its
//! sessions at their next request, and the per-token rate limit applies to the console too.
//!
//! Cookie: `gsms_console=<64 hex>; Path=/; HttpOnly; SameSite=Strict`, plus `Secure` when the
//! request came through HTTPS (a reverse proxy saying `X-Forwarded-Proto: https`; the daemon
//! itself speaks plain HTTP). Each session has its own CSRF token: every console form carries
//! it in a hidden field and the console's scripts send it as `X-CSRF-Token`; a request that
//! changes something with the session cookie and without the right one is refused
//! ([`Sessions::bearer`]). SameSite=Strict already keeps other sites' forms from carrying the
//! cookie; the token covers browsers that do not honour it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, Method};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "gsms_console";
/// The sign-in form's own cookie (its CSRF nonce, before there is a session).
pub const LOGIN_COOKIE: &str = "gsms_login";
/// The header the console's scripts send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session unused this long is forgotten.
pub const IDLE: Duration = Duration::from_secs(12 * 3600);
/// A session ends this long after its sign-in, used or not.
pub const LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most sessions kept; past it, the least recently used is forgotten.
pub const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The bearer token it signed in with.
    pub token: String,
    /// Its CSRF token (64 hex digits).
    pub csrf: String,
    created: Instant,
    used: Instant,
}

/// Every open session, by the SHA-256 of its id.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes from the OS, in hex.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn key(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Compares two strings in time that depends on their length only.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in `headers`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the request came through HTTPS (as a reverse proxy in front says).
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: `name=value` for the whole site, HttpOnly, SameSite=Strict, Secure
/// behind HTTPS; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, https: bool, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if https {
        c.push_str("; Secure");
    }
    c
}

/// Why a session's request is refused before its token is even looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRefusal {
    /// A request that changes something without the session's CSRF token.
    Csrf,
}

impl Sessions {
    /// Opens a session for `token`; returns its id (for the cookie) and its CSRF token.
    pub fn open(&self, token: String, now: Instant) -> (String, String) {
        let id = random_hex();
        let csrf = random_hex();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| alive(s, now));
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            key(&id),
            Session {
                token,
                csrf: csrf.clone(),
                created: now,
                used: now,
            },
        );
        (id, csrf)
    }

    /// The live session the request's cookie names (and marks it used).
    pub fn get(&self, headers: &HeaderMap, now: Instant) -> Option<Session> {
        let id = cookie(headers, COOKIE_NAME)?;
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(id);
        match map.get_mut(&k) {
            Some(s) if alive(s, now) => {
                s.used = now;
                Some(s.clone())
            }
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Forgets the session the request's cookie names.
    pub fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE_NAME) {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.remove(&key(id));
        }
    }

    /// For the API's authentication: the `Authorization` value a request with a session
    /// cookie (and no `Authorization` header) stands for. A method that may change something
    /// (not GET or HEAD) needs the session's CSRF token in `X-CSRF-Token`.
    pub fn bearer(
        &self,
        method: &Method,
        headers: &HeaderMap,
        now: Instant,
    ) -> Result<Option<String>, SessionRefusal> {
        let Some(session) = self.get(headers, now) else {
            return Ok(None);
        };
        if !matches!(*method, Method::GET | Method::HEAD) {
            let sent = headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same(sent, &session.csrf) {
                return Err(SessionRefusal::Csrf);
            }
        }
        Ok(Some(format!("Bearer {}", session.token)))
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.saturating_duration_since(s.used) < IDLE
        && now.saturating_duration_since(s.created) < LIFETIME
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_cookie(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_never_holds_the_token_in_the_id() {
        let s = Sessions::default();
        let now = Instant::now();
        let (id, csrf) = s.open("gsms_secret".into(), now);
        assert_eq!(id.len(), 64);
        assert!(!id.contains("gsms_secret"));
        let h = with_cookie(&format!("a=b; {COOKIE_NAME}={id}; c=d"));
        let got = s.get(&h, now).unwrap();
        assert_eq!(got.token, "gsms_secret");
        assert_eq!(got.csrf, csrf);
        assert!(s
            .get(&with_cookie(&format!("{COOKIE_NAME}=00")), now)
            .is_none());
        assert!(s.get(&h, now + IDLE).is_none(), "idle sessions end");
        assert!(s.get(&h, now).is_none(), "and are forgotten");
    }

    #[test]
    fn a_change_without_the_csrf_token_is_refused() {
        let s = Sessions::default();
        let now = Instant::now();
        let (id, csrf) = s.open("t".into(), now);
        let mut h = with_cookie(&format!("{COOKIE_NAME}={id}"));
        assert_eq!(s.bearer(&Method::GET, &h, now), Ok(Some("Bearer t".into())));
        assert_eq!(s.bearer(&Method::POST, &h, now), Err(SessionRefusal::Csrf));
        h.insert(CSRF_HEADER, HeaderValue::from_static("nope"));
        assert_eq!(s.bearer(&Method::POST, &h, now), Err(SessionRefusal::Csrf));
        h.insert(CSRF_HEADER, HeaderValue::from_str(&csrf).unwrap());
        assert_eq!(
            s.bearer(&Method::POST, &h, now),
            Ok(Some("Bearer t".into()))
        );
        s.close(&h);
        assert_eq!(s.bearer(&Method::GET, &h, now), Ok(None));
    }
}
