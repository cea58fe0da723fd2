//! How many refused sends of one caller reach the audit log: at most
//! [`REFUSED_SENDS_LOGGED_PER_MINUTE`] in a minute, then one summary entry, then none until
//! the minute is over. A caller who is refused in a loop cannot grow the database faster than
//! that. The count is kept in memory (per caller label), shared by every clone of
//! [`super::Settings`]; a restart starts it afresh.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Refused sends of one caller written to the audit log one by one, per minute.
pub const REFUSED_SENDS_LOGGED_PER_MINUTE: u32 = 10;

/// The detail of the entry written in place of the refusals past the limit.
pub const MORE_REFUSED: &str = "… more refused: further refused sends of this caller within \
    the minute are not logged one by one";

/// What to write for one refused send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// The refusal itself.
    Refusal,
    /// The summary entry ([`MORE_REFUSED`]): this is the first refusal past the limit.
    Summary,
    /// Nothing: the summary for this minute is written.
    Nothing,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    refusals: u32,
}

/// Refused sends per caller in the current minute.
#[derive(Debug, Default)]
pub struct RefusalLog {
    callers: Mutex<HashMap<String, Window>>,
}

impl RefusalLog {
    /// Counts one refused send of `caller` at `now`, and says what to write for it.
    pub fn count(&self, caller: &str, now: DateTime<Utc>) -> Entry {
        let minute = Duration::minutes(1);
        let mut callers = self
            .callers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Callers are Unix users, few; forget the ones whose minute is over now and then.
        if callers.len() > 1024 {
            callers.retain(|_, w| now - w.start < minute);
        }
        let w = callers.entry(caller.to_string()).or_insert(Window {
            start: now,
            refusals: 0,
        });
        if now - w.start >= minute || now < w.start {
            *w = Window {
                start: now,
                refusals: 0,
            };
        }
        w.refusals = w.refusals.saturating_add(1);
        match w.refusals {
            n if n <= REFUSED_SENDS_LOGGED_PER_MINUTE => Entry::Refusal,
            n if n == REFUSED_SENDS_LOGGED_PER_MINUTE + 1 => Entry::Summary,
            _ => Entry::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ten_refusals_a_minute_then_one_summary_then_nothing_until_the_minute_is_over() {
        let log = RefusalLog::default();
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
        let seen: Vec<Entry> = (0..15)
            .map(|i| log.count("uid:1000", t0 + Duration::seconds(i)))
            .collect();
        assert_eq!(seen[..10], [Entry::Refusal; 10]);
        assert_eq!(seen[10], Entry::Summary);
        assert_eq!(seen[11..], [Entry::Nothing; 4]);
        // Another caller has a minute of their own.
        assert_eq!(log.count("uid:1001", t0), Entry::Refusal);
        // A new minute, a new count.
        assert_eq!(
            log.count("uid:1000", t0 + Duration::seconds(60)),
            Entry::Refusal
        );
    }
}
