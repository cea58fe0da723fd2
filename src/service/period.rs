//! Calendar periods in the configured time zone: the local day and month a moment falls in
//! (for quotas), when they end, and the current hour and day windows for per-SIM counters.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// The quota periods of one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Periods {
    /// Local date, `2024-05-01`.
    pub day: String,
    /// Local month, `2024-05`.
    pub month: String,
    /// Start of the next local day: when the daily quota resets.
    pub next_day: DateTime<Tz>,
    /// Start of the next local month: when the monthly quota resets.
    pub next_month: DateTime<Tz>,
}

impl Periods {
    pub fn at(now: DateTime<Utc>, tz: Tz) -> Periods {
        let local = now.with_timezone(&tz).date_naive();
        let tomorrow = local.succ_opt().unwrap_or(local);
        let (y, m) = if local.month() == 12 {
            (local.year() + 1, 1)
        } else {
            (local.year(), local.month() + 1)
        };
        let first_next = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(tomorrow);
        Periods {
            day: local.format("%Y-%m-%d").to_string(),
            month: local.format("%Y-%m").to_string(),
            next_day: start_of(tomorrow, tz),
            next_month: start_of(first_next, tz),
        }
    }
}

/// The first instant of a local date (midnight, or the end of a DST gap that swallows it).
pub fn start_of(date: NaiveDate, tz: Tz) -> DateTime<Tz> {
    let mut t = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A zone may skip midnight (DST starting at 00:00); the day starts when the clock resumes.
    for _ in 0..=24 * 4 {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(d) => return d,
            LocalResult::Ambiguous(earliest, _) => return earliest,
            LocalResult::None => t += Duration::minutes(15),
        }
    }
    tz.from_utc_datetime(&t)
}

/// Start of the local clock hour and of the local day containing `now`, as UTC instants:
/// the windows for per-SIM send counts.
pub fn sim_windows(now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let local = now.with_timezone(&tz);
    let hour = local
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .map_or(now, |t| t.with_timezone(&Utc));
    let day = start_of(local.date_naive(), tz).with_timezone(&Utc);
    (hour, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn shanghai_days_start_at_16_utc() {
        let tz = chrono_tz::Asia::Shanghai;
        let p = Periods::at(utc("2024-01-31T15:59:59Z"), tz);
        assert_eq!(
            (p.day.as_str(), p.month.as_str()),
            ("2024-01-31", "2024-01")
        );
        assert_eq!(p.next_day.with_timezone(&Utc), utc("2024-01-31T16:00:00Z"));
        assert_eq!(
            p.next_month.with_timezone(&Utc),
            utc("2024-01-31T16:00:00Z")
        );
        let p = Periods::at(utc("2024-01-31T16:00:00Z"), tz);
        assert_eq!(
            (p.day.as_str(), p.month.as_str()),
            ("2024-02-01", "2024-02")
        );
        assert_eq!(
            p.next_month.with_timezone(&Utc),
            utc("2024-02-29T16:00:00Z")
        );
        let p = Periods::at(utc("2024-12-31T16:00:00Z"), tz);
        assert_eq!(
            (p.day.as_str(), p.month.as_str()),
            ("2025-01-01", "2025-01")
        );
    }

    #[test]
    fn dst_gap_at_midnight() {
        // Santiago starts summer time at 00:00 local on 2024-09-08: the day begins at 01:00.
        let tz = chrono_tz::America::Santiago;
        let d = NaiveDate::from_ymd_opt(2024, 9, 8).unwrap();
        assert_eq!(
            start_of(d, tz).with_timezone(&Utc),
            utc("2024-09-08T04:00:00Z")
        );
    }

    #[test]
    fn sim_windows_follow_the_local_clock() {
        let tz = chrono_tz::Asia::Shanghai;
        let (h, d) = sim_windows(utc("2024-05-01T17:42:10Z"), tz);
        assert_eq!(h, utc("2024-05-01T17:00:00Z"));
        assert_eq!(d, utc("2024-05-01T16:00:00Z"));
        let tz = chrono_tz::Asia::Kolkata; // +05:30
        let (h, _) = sim_windows(utc("2024-05-01T17:42:10Z"), tz);
        assert_eq!(h, utc("2024-05-01T17:30:00Z"));
    }
}
