//! The one clock of the daemon: quota days and months, SIM cap windows, back-off, and every
//! timestamp written to the database read "now" here.
//!
//! It is the wall clock, unless `GROUPSMS_CLOCK_START` holds an RFC 3339 instant: then the
//! clock starts there when first read and runs at the normal speed from that point. Tests
//! use it to pin the time of day (a cap test that must not straddle an hour boundary starts
//! at ten past), never to stop or speed up time.

use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, Utc};

/// The environment variable that sets where the clock starts.
pub const START_VAR: &str = "GROUPSMS_CLOCK_START";

/// The start instant and when it was taken, when the clock is set.
fn origin() -> Option<(DateTime<Utc>, Instant)> {
    static ORIGIN: OnceLock<Option<(DateTime<Utc>, Instant)>> = OnceLock::new();
    *ORIGIN.get_or_init(|| {
        let value = std::env::var(START_VAR).ok()?;
        match DateTime::parse_from_rfc3339(value.trim()) {
            Ok(t) => Some((t.with_timezone(&Utc), Instant::now())),
            Err(e) => {
                tracing::warn!(%value, error = %e, "{START_VAR} is not an RFC 3339 time; using the wall clock");
                None
            }
        }
    })
}

/// Now.
pub fn now() -> DateTime<Utc> {
    match origin() {
        Some((start, at)) => {
            start + chrono::Duration::from_std(at.elapsed()).unwrap_or(chrono::Duration::zero())
        }
        None => Utc::now(),
    }
}
