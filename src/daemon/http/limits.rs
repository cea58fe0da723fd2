//! What keeps HTTP clients, many or hostile, from hurting the daemon or each other:
//!
//! - **Connections**: at most `[http] max_connections` open at once (the accept loop in
//!   `mod.rs` takes a permit per connection; the rest wait in the kernel's backlog). A
//!   connection whose request head does not arrive within `request_timeout_secs` (a slow or
//!   silent client, or an idle keep-alive connection) is closed, so it frees its permit.
//! - **Bodies**: at most `max_body_bytes` ([`body_limit`], on the whole router; a route
//!   with a larger allowance, the CSV import's `max_import_bytes`, sets its own
//!   `DefaultBodyLimit`, which wins); a larger body is refused with 413 `too_large` before
//!   it is read in full.
//! - **Time**: a request not answered within `request_timeout_secs` is answered 408
//!   `timed_out` ([`timeout`]). The limit covers the answer's head: an event stream, once
//!   started, goes on. A write the store already took is not undone by the timeout (as on
//!   the socket, a request sent is done; `Idempotency-Key` makes a retry safe).
//! - **Rate**: each token may make `rate_per_minute` requests a minute, `rate_burst` at once
//!   after a quiet while (a token bucket per token id, [`Buckets`]); past that, 429
//!   `rate_limited` with `Retry-After`. Requests whose token is refused (missing, unknown,
//!   expired, revoked) draw on a bucket of their peer's IP address with the same sizes, so a
//!   client guessing tokens is slowed as much as one token is.
//! - **The store's turn**: the database lives on one thread that runs every operation in the
//!   order it was asked (`store::handle`), for the socket's requests and the scheduler's
//!   delivery commits alike. HTTP requests reach it only while holding one of
//!   [`STORE_TURNS`] turns ([`Guard::store_turn`]), so at most that many HTTP operations
//!   wait in its queue at any time: however many HTTP clients there are, a socket request or
//!   a modem's commit waits behind at most that many of theirs. The rest of the HTTP load
//!   waits here, on the async side, holding no store work. Paged reads also take the
//!   socket's read turns (`reads.rs`), the same rule for both transports.
//! - **Errors**: every refusal, including those axum's extractors make (malformed JSON, a
//!   wrong content type, an unknown route), carries the JSON error body
//!   `{"error": {"code", "message"}}` ([`json_errors`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::ApiError;
use crate::config::HttpConfig;
use crate::protocol::ErrorCode;

/// HTTP operations that may wait in the store thread's queue at once.
pub const STORE_TURNS: usize = 4;

/// The most buckets kept; past it, full ones (of clients quiet for a while) are forgotten.
const MAX_BUCKETS: usize = 10_000;

/// The rate limits and the store turns of the HTTP API, one per daemon (in `Shared`).
#[derive(Debug)]
pub struct Guard {
    pub tokens: Buckets<i64>,
    /// Refused authentications, by peer address.
    pub peers: Buckets<IpAddr>,
    store: Semaphore,
    timeout: Duration,
}

impl Guard {
    pub fn new(config: &HttpConfig) -> Guard {
        Guard {
            tokens: Buckets::new(config.rate_per_minute, config.rate_burst),
            peers: Buckets::new(config.rate_per_minute, config.rate_burst),
            store: Semaphore::new(STORE_TURNS),
            timeout: Duration::from_secs(config.request_timeout_secs),
        }
    }

    /// Waits for a turn to use the store (see the module's notes); kept until dropped.
    pub async fn store_turn(&self) -> SemaphorePermit<'_> {
        self.store
            .acquire()
            .await
            .expect("the store-turn semaphore is never closed")
    }

    /// The request timeout (`[http] request_timeout_secs`).
    pub fn request_timeout(&self) -> Duration {
        self.timeout
    }
}

/// Token buckets by key: each holds up to `burst` requests and gains `per_minute` a minute.
#[derive(Debug)]
pub struct Buckets<K> {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl<K: std::hash::Hash + Eq + Copy> Buckets<K> {
    pub fn new(per_minute: u64, burst: u64) -> Self {
        Buckets {
            per_second: per_minute.max(1) as f64 / 60.0,
            burst: burst.max(1) as f64,
            buckets: Mutex::default(),
        }
    }

    /// `key`'s bucket as of `now`, refilled.
    fn refilled(&self, map: &mut HashMap<K, Bucket>, key: K, now: Instant) -> Bucket {
        let (burst, rate) = (self.burst, self.per_second);
        let b = map.get(&key).copied().unwrap_or(Bucket {
            tokens: burst,
            at: now,
        });
        let gained = now.saturating_duration_since(b.at).as_secs_f64() * rate;
        Bucket {
            tokens: (b.tokens + gained).min(burst),
            at: now,
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<K, Bucket>> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes one request from `key`'s bucket, or says in how many seconds one will be there.
    pub fn take(&self, key: K, now: Instant) -> Result<(), u64> {
        let mut map = self.map();
        let mut b = self.refilled(&mut map, key, now);
        let out = if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(self.wait(b.tokens))
        };
        self.keep(&mut map, key, b, now);
        out
    }

    /// Whether `key`'s bucket has a request left (without taking it); else the seconds to
    /// wait.
    pub fn check(&self, key: K, now: Instant) -> Result<(), u64> {
        let mut map = self.map();
        let b = self.refilled(&mut map, key, now);
        if b.tokens >= 1.0 {
            Ok(())
        } else {
            Err(self.wait(b.tokens))
        }
    }

    /// Takes one request from `key`'s bucket even when it is empty (it goes below zero no
    /// further than one request), for a failure to count.
    pub fn charge(&self, key: K, now: Instant) {
        let mut map = self.map();
        let mut b = self.refilled(&mut map, key, now);
        b.tokens = (b.tokens - 1.0).max(0.0);
        self.keep(&mut map, key, b, now);
    }

    /// Seconds until a bucket holding `tokens` has one (at least 1: `Retry-After` counts
    /// whole seconds).
    fn wait(&self, tokens: f64) -> u64 {
        ((1.0 - tokens) / self.per_second).ceil().max(1.0) as u64
    }

    fn keep(&self, map: &mut HashMap<K, Bucket>, key: K, b: Bucket, now: Instant) {
        if map.len() >= MAX_BUCKETS && !map.contains_key(&key) {
            // A full bucket is the same as none: forget those of clients quiet long enough.
            let (burst, rate) = (self.burst, self.per_second);
            map.retain(|_, o| {
                o.tokens + now.saturating_duration_since(o.at).as_secs_f64() * rate < burst
            });
        }
        map.insert(key, b);
    }
}

/// The refusal of a request over its rate.
pub fn rate_limited(retry_after: u64, whose: &str) -> ApiError {
    let mut e = ApiError::new(
        ErrorCode::RateLimited,
        format!(
            "{whose} made more requests than its rate allows; try again in {retry_after} s \
             ([http] rate_per_minute, rate_burst)"
        ),
    );
    e.retry_after = Some(retry_after);
    e
}

/// The body limit of every route: `[http] max_body_bytes`.
pub fn body_limit(config: &HttpConfig) -> DefaultBodyLimit {
    DefaultBodyLimit::max(usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX))
}

/// Middleware: a request not answered within the timeout gets 408 `timed_out`.
pub async fn timeout(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            ErrorCode::TimedOut,
            format!(
                "the request was not answered within {} s ([http] request_timeout_secs); \
                 if it was a write, look whether it was done before sending it again",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

/// The most of a non-JSON error body kept as the message.
const MAX_MESSAGE: usize = 4096;

/// Middleware: an error answer that is not JSON (made by axum's extractors and router: a
/// malformed JSON body, a wrong content type, a body over the limit, an unknown route or
/// method) is given the JSON error body, its text as the message, with a stable code for its
/// status; the status stays.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::InvalidValue,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::TimedOut,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ShuttingDown,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::BadRequest,
    };
    let (mut parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_MESSAGE).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = match (text.is_empty(), status) {
        (false, _) => text,
        (true, StatusCode::NOT_FOUND) => "no such route; see GET /v1/openapi.json".into(),
        (true, StatusCode::METHOD_NOT_ALLOWED) => {
            "this route does not take that method; see GET /v1/openapi.json".into()
        }
        (true, s) => s.canonical_reason().unwrap_or("refused").to_string(),
    };
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let mut out = (status, axum::Json(body)).into_response();
    for (name, value) in parts.headers.iter() {
        out.headers_mut().insert(name.clone(), value.clone());
    }
    out
}

/// The peer's address of a request (set by the accept loop); none in unit tests.
pub fn peer(parts: &axum::http::request::Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_gives_its_burst_then_one_request_per_interval() {
        // 60 a minute: one a second; 3 at once.
        let b = Buckets::<i64>::new(60, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(b.take(7, t0), Ok(()));
        }
        assert_eq!(b.take(7, t0), Err(1));
        // Another key has its own bucket.
        assert_eq!(b.take(8, t0), Ok(()));
        // Half a second: half a request, not enough; a second: one.
        assert_eq!(b.take(7, t0 + Duration::from_millis(500)), Err(1));
        assert_eq!(b.take(7, t0 + Duration::from_millis(1000)), Ok(()));
        assert_eq!(b.take(7, t0 + Duration::from_millis(1000)), Err(1));
        // A long quiet while fills it up to the burst, no further.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(b.take(7, later), Ok(()));
        }
        assert!(b.take(7, later).is_err());
    }

    #[test]
    fn the_wait_is_the_time_to_the_next_request() {
        // One a minute: an empty bucket waits 60 s.
        let b = Buckets::<i64>::new(1, 1);
        let t0 = Instant::now();
        assert_eq!(b.take(1, t0), Ok(()));
        assert_eq!(b.take(1, t0), Err(60));
        assert_eq!(b.check(1, t0 + Duration::from_secs(30)), Err(30));
        assert_eq!(b.check(1, t0 + Duration::from_secs(60)), Ok(()));
    }

    #[test]
    fn failures_are_charged_and_checked_without_taking() {
        let b = Buckets::<IpAddr>::new(60, 2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(b.check(ip, t0), Ok(()));
        assert_eq!(b.check(ip, t0), Ok(()), "a check takes nothing");
        b.charge(ip, t0);
        b.charge(ip, t0);
        assert_eq!(b.check(ip, t0), Err(1));
        b.charge(ip, t0);
        assert_eq!(b.check(ip, t0 + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn many_keys_do_not_grow_the_map_without_end() {
        let b = Buckets::<i64>::new(60_000, 10);
        let t0 = Instant::now();
        for k in 0..(MAX_BUCKETS as i64 * 3) {
            b.take(k, t0 + Duration::from_millis(k as u64)).unwrap();
        }
        assert!(b.map().len() <= MAX_BUCKETS + 1, "{}", b.map().len());
    }
}
