//! Quotas: broadcasts per group per local day and month (configured defaults, per-group
//! overrides). Checked and consumed inside the same immediate transaction that writes the
//! broadcast (see [`submit_broadcast`](super::submit_broadcast)).

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
