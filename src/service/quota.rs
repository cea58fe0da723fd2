//! Quotas: broadcasts per group per local day and month (configured defaults, per-group
//! overrides). Checked and consumed inside the same immediate transaction that writes the
//! broadcast (see [`submit_broadcast`](super::submit_broadcast)).
//!
//! What a quota may be is one rule, [`check_limits`]: each 1 to [`MAX_QUOTA`], the daily one
//! not above the monthly one. The configuration's `[quota]` is checked with it when the file is
//! read, and a group's overrides, with the configured defaults filling what they leave out,
//! by [`check_group`] when a group is created or one of its quotas set.

use std::fmt;

use chrono::DateTime;
use chrono_tz::Tz;

use super::period::Periods;
use super::Settings;
use crate::store::{Group, QuotaPeriod, StoreError, Tx};

/// A group has no broadcasts left in the current day or month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "group '{group}' has used its {} quota of {}; it resets at {} ({})",
    period_word(*.period),
    Broadcasts(*.limit),
    .resets_at.format("%Y-%m-%d %H:%M"),
    .resets_at.timezone().name()
)]
pub struct QuotaExceeded {
    pub group: String,
    pub period: QuotaPeriod,
    pub limit: u32,
    pub used: u32,
    /// Start of the next local day or month.
    pub resets_at: DateTime<Tz>,
}

impl QuotaExceeded {
    /// Whole seconds from `now` until the quota resets (at least 1): HTTP's `Retry-After`.
    pub fn seconds_until_reset(&self, now: chrono::DateTime<chrono::Utc>) -> u64 {
        let ms = (self.resets_at.with_timezone(&chrono::Utc) - now).num_milliseconds();
        u64::try_from(ms.saturating_add(999) / 1000)
            .unwrap_or(0)
            .max(1)
    }
}

fn period_word(p: QuotaPeriod) -> &'static str {
    match p {
        QuotaPeriod::Day => "daily",
        QuotaPeriod::Month => "monthly",
    }
}

struct Broadcasts(u32);

impl fmt::Display for Broadcasts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 broadcast"),
            n => write!(f, "{n} broadcasts"),
        }
    }
}

/// Where a group stands in the current day and month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaStatus {
    pub day_used: u32,
    pub day_limit: u32,
    pub month_used: u32,
    pub month_limit: u32,
    pub periods: Periods,
}

impl QuotaStatus {
    /// Broadcasts the group may still send now: the smaller of what is left today and this
    /// month.
    pub fn left(&self) -> u32 {
        self.day_limit
            .saturating_sub(self.day_used)
            .min(self.month_limit.saturating_sub(self.month_used))
    }

    /// The refusal, if nothing is left. The month is named when it is the month that is used
    /// up, since a new day would not help.
    pub fn exceeded(&self, group: &str) -> Option<QuotaExceeded> {
        let refuse = |period, limit, used, resets_at: &DateTime<Tz>| QuotaExceeded {
            group: group.to_string(),
            period,
            limit,
            used,
            resets_at: *resets_at,
        };
        if self.month_used >= self.month_limit {
            Some(refuse(
                QuotaPeriod::Month,
                self.month_limit,
                self.month_used,
                &self.periods.next_month,
            ))
        } else if self.day_used >= self.day_limit {
            Some(refuse(
                QuotaPeriod::Day,
                self.day_limit,
                self.day_used,
                &self.periods.next_day,
            ))
        } else {
            None
        }
    }
}

/// The largest daily or monthly quota (a million broadcasts: far beyond what SIMs could send).
pub const MAX_QUOTA: u32 = 1_000_000;

/// Daily and monthly quotas that cannot work together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidQuota {
    #[error(
        "the {} quota must be 1 to {MAX_QUOTA} broadcasts, not {value}",
        period_word(*.period)
    )]
    OutOfRange { period: QuotaPeriod, value: u32 },
    #[error(
        "the daily quota ({}) is more than the monthly quota ({}); a day may not allow more \
         broadcasts than its month",
        Limit(*.daily, *.daily_is_default),
        Limit(*.monthly, *.monthly_is_default)
    )]
    DailyAboveMonthly {
        daily: u32,
        monthly: u32,
        /// The value is the configured default, not the group's own.
        daily_is_default: bool,
        monthly_is_default: bool,
    },
}

impl InvalidQuota {
    /// The period whose value is wrong (the daily one when they do not fit together).
    pub fn period(&self) -> QuotaPeriod {
        match self {
            InvalidQuota::OutOfRange { period, .. } => *period,
            InvalidQuota::DailyAboveMonthly { .. } => QuotaPeriod::Day,
        }
    }
}

struct Limit(u32, bool);

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            true => write!(f, "{}, the configured default", self.0),
            false => write!(f, "{}", self.0),
        }
    }
}

/// The rule for any pair of quotas: each 1 to [`MAX_QUOTA`], daily <= monthly.
pub fn check_limits(daily: u32, monthly: u32) -> Result<(), InvalidQuota> {
    check(daily, monthly, false, false)
}

/// [`check_limits`] on a group's quotas as they apply: its overrides, the configured defaults
/// for what it does not override.
pub fn check_group(settings: &Settings, group: &Group) -> Result<(), InvalidQuota> {
    let (daily, monthly) = limits(settings, group);
    check(
        daily,
        monthly,
        group.daily_quota.is_none(),
        group.monthly_quota.is_none(),
    )
}

fn check(
    daily: u32,
    monthly: u32,
    daily_is_default: bool,
    monthly_is_default: bool,
) -> Result<(), InvalidQuota> {
    for (period, value) in [(QuotaPeriod::Day, daily), (QuotaPeriod::Month, monthly)] {
        if !(1..=MAX_QUOTA).contains(&value) {
            return Err(InvalidQuota::OutOfRange { period, value });
        }
    }
    if daily > monthly {
        return Err(InvalidQuota::DailyAboveMonthly {
            daily,
            monthly,
            daily_is_default,
            monthly_is_default,
        });
    }
    Ok(())
}

/// The daily and monthly limits of a group.
pub fn limits(settings: &Settings, group: &Group) -> (u32, u32) {
    (
        group.daily_quota.unwrap_or(settings.daily_quota),
        group.monthly_quota.unwrap_or(settings.monthly_quota),
    )
}

/// Reads the usage of `group` in the periods of `periods`.
pub fn status(
    tx: &Tx<'_>,
    settings: &Settings,
    group: &Group,
    periods: Periods,
) -> Result<QuotaStatus, StoreError> {
    let (day_limit, month_limit) = limits(settings, group);
    Ok(QuotaStatus {
        day_used: tx.quota_used(group.id, QuotaPeriod::Day, &periods.day)?,
        month_used: tx.quota_used(group.id, QuotaPeriod::Month, &periods.month)?,
        day_limit,
        month_limit,
        periods,
    })
}
