//! Why a broadcast's deliveries cannot start now, in one type: [`Waiting`]. The pool works it
//! out from its own state ([`super::pool::Pool::waiting`]): the `send` answer, `status` and
//! `broadcast show` all say what it says.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::service::QuietHours;

/// Why deliveries wait, the first that applies in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waiting {
    /// Inside the configured quiet hours (and not sent urgent); they end at `until`.
    QuietHours {
        window: QuietHours,
        until: DateTime<Utc>,
    },
    /// No modem of the pool is ready (none configured or found, or none initialised).
    NoModem,
    /// The group is pinned to SIMs none of which is ready, and may not fall back to others.
    PinnedSimAbsent,
    /// Every SIM it may use is at its hourly or daily cap; the earliest frees up at `until`.
    Capped { until: DateTime<Utc> },
}

impl Waiting {
    /// A stable word for programs: `quiet_hours`, `no_modem`, `pinned_sim_absent`, `capped`.
    pub fn code(&self) -> &'static str {
        match self {
            Waiting::QuietHours { .. } => "quiet_hours",
            Waiting::NoModem => "no_modem",
            Waiting::PinnedSimAbsent => "pinned_sim_absent",
            Waiting::Capped { .. } => "capped",
        }
    }

    /// When it ends by itself, if it does.
    pub fn until(&self) -> Option<DateTime<Utc>> {
        match self {
            Waiting::QuietHours { until, .. } | Waiting::Capped { until } => Some(*until),
            Waiting::NoModem | Waiting::PinnedSimAbsent => None,
        }
    }

    /// The reason in words, times in the local clock of `tz` (`HH:MM`, with the date when it
    /// is not today's).
    pub fn describe(&self, now: DateTime<Utc>, tz: Tz) -> String {
        let at = |t: DateTime<Utc>| {
            let local = t.with_timezone(&tz);
            if local.date_naive() == now.with_timezone(&tz).date_naive() {
                local.format("%H:%M").to_string()
            } else {
                local.format("%Y-%m-%d %H:%M").to_string()
            }
        };
        match self {
            Waiting::QuietHours { window, until } => {
                format!("quiet hours ({window}) until {}", at(*until))
            }
            Waiting::NoModem => "no modem is ready in the pool".into(),
            Waiting::PinnedSimAbsent => "the SIM the group is pinned to is not in the pool, \
                 and the group may not fall back to other modems"
                .into(),
            Waiting::Capped { until } => format!(
                "every SIM it may use is at its hourly or daily cap until {}",
                at(*until)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_in_words() {
        let tz = chrono_tz::Asia::Shanghai;
        let now: DateTime<Utc> = "2024-05-01T14:10:00Z".parse().unwrap(); // 22:10 local
        let until: DateTime<Utc> = "2024-05-01T23:30:00Z".parse().unwrap(); // 07:30 tomorrow
        let quiet = Waiting::QuietHours {
            window: QuietHours::parse("22:00-07:30").unwrap(),
            until,
        };
        assert_eq!(
            quiet.describe(now, tz),
            "quiet hours (22:00-07:30) until 2024-05-02 07:30"
        );
        let capped = Waiting::Capped {
            until: "2024-05-01T15:00:00Z".parse().unwrap(),
        };
        assert_eq!(
            capped.describe(now, tz),
            "every SIM it may use is at its hourly or daily cap until 23:00"
        );
        assert_eq!(capped.code(), "capped");
        assert_eq!(Waiting::NoModem.until(), None);
    }
}
