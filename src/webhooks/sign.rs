//! Signatures and the retry schedule: pure functions of their inputs (the time is passed in).
//!
//! - Ours: `X-Groupsms-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//!   (the scheme Stripe-style receivers know: the time is signed with the body, so a receiver
//!   can refuse an old one replayed).
//! - DingTalk custom robot ("加签", open.dingtalk.com/document/group/custom-robot-access):
//!   `timestamp` in milliseconds and `sign` = URL-encoded base64 of
//!   HMAC-SHA256(key = secret, message = "<timestamp>\n<secret>"), both as query parameters of
//!   the robot's URL; DingTalk refuses a timestamp more than an hour away from its clock.
//! - Feishu custom bot ("签名校验", open.feishu.cn/document/client-docs/bot-v3/add-custom-bot):
//!   `timestamp` in seconds and `sign` = base64 of HMAC-SHA256(key = "<timestamp>\n<secret>",
//!   message = empty), both as string fields of the JSON body.
//! - WeCom group robot: no signature; the `key` in its URL is the credential.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The value of `X-Groupsms-Signature` for `body` sent at `t` (Unix seconds).
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    let t = t.to_string();
    let mac = hmac(secret.as_bytes(), &[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", hex::encode(mac))
}

/// DingTalk's `timestamp` and `sign` query parameters (the sign not yet URL-encoded: the URL
/// builder encodes it) for `t_ms` (Unix milliseconds).
pub fn dingtalk_sign(secret: &str, t_ms: i64) -> (String, String) {
    let t = t_ms.to_string();
    let mac = hmac(secret.as_bytes(), &[t.as_bytes(), b"\n", secret.as_bytes()]);
    (t, base64::engine::general_purpose::STANDARD.encode(mac))
}

/// Feishu's `timestamp` and `sign` body fields for `t` (Unix seconds).
pub fn feishu_sign(secret: &str, t: i64) -> (String, String) {
    let t = t.to_string();
    let key = format!("{t}\n{secret}");
    let mac = hmac(key.as_bytes(), &[]);
    (t, base64::engine::general_purpose::STANDARD.encode(mac))
}

/// The first wait after a failed try.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// The longest wait between tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How long an event is tried before it is given up (dead).
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The wait after the `attempts`-th failed try (1-based): 5 s, doubling, at most an hour.
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    FIRST_BACKOFF
        .saturating_mul(1u32 << doublings)
        .min(MAX_BACKOFF)
}

/// When to try an event created at `created` again after its `attempts`-th failed try at
/// `now`; `None` once that would be past [`GIVE_UP_AFTER`] from its creation (dead).
pub fn next_try(
    created: DateTime<Utc>,
    now: DateTime<Utc>,
    attempts: u32,
) -> Option<DateTime<Utc>> {
    let next = now + chrono::Duration::from_std(backoff(attempts)).ok()?;
    let deadline = created + chrono::Duration::from_std(GIVE_UP_AFTER).ok()?;
    (next <= deadline).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_five_seconds_doubles_and_stops_at_an_hour() {
        let secs: Vec<u64> = (1..=12).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(
            secs,
            [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(backoff(0).as_secs(), 5);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn an_event_is_given_up_once_its_next_try_would_pass_a_day() {
        let created = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let now = created + chrono::Duration::seconds(10);
        assert_eq!(
            next_try(created, now, 1),
            Some(now + chrono::Duration::seconds(5))
        );
        // The schedule in full: the tries of a receiver that never answers.
        let mut at = created;
        let mut attempts = 0;
        while let Some(next) = next_try(created, at, attempts + 1) {
            attempts += 1;
            at = next;
        }
        // Retries after 5+10+...+2560 s (10 waits, 5115 s), then hourly until 24 h (22 more):
        // 32 retries after the first try, then dead.
        assert_eq!(attempts, 32);
        assert!(at <= created + chrono::Duration::hours(24));
        assert!(at + chrono::Duration::hours(1) > created + chrono::Duration::hours(24));
    }

    #[test]
    fn our_signature_header_has_the_time_and_a_hex_hmac_of_time_dot_body() {
        // RFC 4231 does not cover this message; the value was computed with
        // `printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec`.
        let h = signature_header("whsec", 1_700_000_000, br#"{"a":1}"#);
        let (t, v1) = h.split_once(',').unwrap();
        assert_eq!(t, "t=1700000000");
        let v1 = v1.strip_prefix("v1=").unwrap();
        assert_eq!(v1.len(), 64);
        assert!(v1
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(v1, OPENSSL_V1);
    }

    /// See `our_signature_header_has_the_time_and_a_hex_hmac_of_time_dot_body`.
    const OPENSSL_V1: &str = "8ad37ba156048ae0e0a5533c75cdf26fee88b07f93cb57ee4c80adb053012032";

    /// The expected values come from Python's `hmac` and `base64`, following each platform's
    /// documented recipe (see the module's docs), not from this code.
    #[test]
    fn robot_signs_match_the_platforms_recipes() {
        assert_eq!(
            dingtalk_sign("SECabc", 1_700_000_000_123),
            (
                "1700000000123".to_string(),
                "IqXBU/aLfwMA3S/tDcfRmHx5vWHw9Y1aOgFLBr1Ti9w=".to_string()
            )
        );
        assert_eq!(
            feishu_sign("abc", 1_700_000_000),
            (
                "1700000000".to_string(),
                "VIS10b0EBvzzSdFnuk4tznEmK5wHaruvf/WnViv2yR4=".to_string()
            )
        );
    }
}
