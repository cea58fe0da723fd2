//! Calendar periods in the configured time zone: the local day and month a moment falls in
//! (for quotas), when they end, the current hour and day windows for per-SIM counters, and
//! the daily quiet hours in which no broadcast starts (`[scheduler] quiet_hours`).

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc,
};
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

/// The first instant at or after the local time `t` (the end of a DST gap that swallows it).
fn instant_of(t: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    let mut t = t;
    for _ in 0..=24 * 4 {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(d) => return d.with_timezone(&Utc),
            LocalResult::Ambiguous(earliest, _) => return earliest.with_timezone(&Utc),
            LocalResult::None => t += Duration::minutes(15),
        }
    }
    tz.from_utc_datetime(&t).with_timezone(&Utc)
}

/// A daily window of local clock time in which no broadcast starts, `22:00-07:30`: from the
/// start (included) to the end (excluded), crossing midnight when the end is the earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    /// Reads `HH:MM-HH:MM` (24-hour clock); the two ends must differ.
    pub fn parse(text: &str) -> Result<QuietHours, String> {
        let bad = |why: &str| format!("quiet_hours {text:?} {why}");
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| bad("is not HH:MM-HH:MM (e.g. \"22:00-07:30\")"))?;
        let time = |s: &str| {
            let s = s.trim();
            let ok = s.len() == 5 && s.as_bytes()[2] == b':';
            ok.then(|| NaiveTime::parse_from_str(s, "%H:%M").ok())
                .flatten()
                .ok_or_else(|| bad(&format!("has {s:?}, not a time HH:MM from 00:00 to 23:59")))
        };
        let q = QuietHours {
            start: time(a)?,
            end: time(b)?,
        };
        if q.start == q.end {
            return Err(bad("starts and ends at the same time"));
        }
        Ok(q)
    }

    /// When the window ends, if `now` is inside it (in the local time of `tz`).
    pub fn end_if_inside(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&tz).naive_local();
        let (date, t) = (local.date(), local.time());
        let end_day = if self.start < self.end {
            (self.start <= t && t < self.end).then_some(date)?
        } else if t >= self.start {
            date.succ_opt()?
        } else if t < self.end {
            date
        } else {
            return None;
        };
        Some(instant_of(end_day.and_time(self.end), tz))
    }
}

impl std::fmt::Display for QuietHours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
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

    #[test]
    fn quiet_hours_are_read_and_checked() {
        let q = QuietHours::parse("22:00-07:30").unwrap();
        assert_eq!(q.to_string(), "22:00-07:30");
        for bad in [
            "22:00",
            "22-07",
            "25:00-07:00",
            "22:00-7:30",
            "07:30-07:30",
            "",
        ] {
            assert!(QuietHours::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            QuietHours::parse("22:00-24:00").unwrap_err(),
            "quiet_hours \"22:00-24:00\" has \"24:00\", not a time HH:MM from 00:00 to 23:59"
        );
    }

    #[test]
    fn quiet_hours_cross_midnight_in_the_zone() {
        let tz = chrono_tz::Asia::Shanghai; // UTC+8
        let q = QuietHours::parse("22:00-07:30").unwrap();
        // 23:00 local: ends 07:30 tomorrow local = 23:30Z today.
        assert_eq!(
            q.end_if_inside(utc("2024-05-01T15:00:00Z"), tz),
            Some(utc("2024-05-01T23:30:00Z"))
        );
        // 06:00 local: ends 07:30 the same day.
        assert_eq!(
            q.end_if_inside(utc("2024-05-01T22:00:00Z"), tz),
            Some(utc("2024-05-01T23:30:00Z"))
        );
        // 07:30 local is outside (the end is excluded); 21:59 too.
        assert_eq!(q.end_if_inside(utc("2024-05-01T23:30:00Z"), tz), None);
        assert_eq!(q.end_if_inside(utc("2024-05-01T13:59:00Z"), tz), None);
        // A window inside one day.
        let q = QuietHours::parse("12:00-13:00").unwrap();
        assert_eq!(
            q.end_if_inside(utc("2024-05-01T04:10:00Z"), tz),
            Some(utc("2024-05-01T05:00:00Z"))
        );
        assert_eq!(q.end_if_inside(utc("2024-05-01T05:00:00Z"), tz), None);
    }
}
