//! The rules of group SMS, above [`crate::store`]: who may send, how often, to whom, what
//! words may not be sent, and how the text is put together. Each rule has its own error type
//! whose message is a sentence for the command line; [`ServiceError`] gathers them.
//!
//! | file | owns |
//! | --- | --- |
//! | `mod.rs` | [`Settings`], [`ServiceError`] |
//! | [`caller`] | who really makes a request, and whom they may act as |
//! | [`access`] | who may read what |
//! | `submit.rs` | [`submit_broadcast`]: every rule, then the broadcast and its deliveries in one transaction |
//! | [`phone`] | phone numbers to E.164 (libphonenumber's plans, through the `phonenumber` crate), which of them can receive SMS |
//! | [`sensitive`] | sensitive word lists and the filter (reject or mask) |
//! | [`compose`] | header + body, part count limit |
//! | [`quota`] | daily and monthly quotas per group |
//! | [`recipients`] | group -> members -> numbers, dropped members by reason |
//! | [`period`] | local days, months and hours in the configured zone |
//! | [`fields`] | lengths and characters of names, headers, modems, phone numbers, texts |
//! | [`pages`] | how many rows a page of each paged answer holds, `limit` and `after` |
//! | [`refusals`] | how many refused sends of one caller reach the audit log |
//! | [`admin`] | audited administrative changes (groups, members, memberships) |
//! | [`cancel`] | cancelling a broadcast's queued deliveries: who may, when it is too late, the audit entry; a group with open broadcasts is deleted only by force |
//! | [`import`] | CSV bulk import of members |
//! | [`optout`] | keyword replies by SMS: opt-out and opt-in, their scope, cancelled deliveries, confirmations |
//! | [`idempotency`] | `Idempotency-Key` of the HTTP API: claiming a key, replaying its answer, how long it is kept |
//! | [`reports`] | status reports matched to the parts sent, delivery outcomes, unmatched reports |
//!
//! Nothing here reads the clock: every function takes `now`.

use std::sync::Arc;

use chrono_tz::Tz;

pub mod access;
pub mod admin;
pub mod caller;
pub mod cancel;
pub mod carrier;
pub mod compose;
pub mod fields;
pub mod idempotency;
pub mod import;
pub mod inbox;
pub mod optout;
pub mod pages;
pub mod period;
pub mod phone;
pub mod quota;
pub mod recipients;
pub mod refusals;
pub mod reports;
pub mod routing;
pub mod sensitive;
mod submit;
pub mod tokens;

pub use access::{mask_number, NotYours, Reader};
pub use admin::{apply, AdminChange, AdminOutcome};
pub use caller::{Caller, NotYou, Principal};
pub use compose::{Composition, EmptyBody, TooManyParts, DEFAULT_HEADER};
pub use fields::InvalidField;
pub use import::{import_members_csv, BadRow, ImportError, ImportOptions, ImportReport, StagedCsv};
pub use period::{sim_windows, Periods, QuietHours};
pub use phone::{Country, PhoneError};
pub use quota::{InvalidQuota, QuotaExceeded, QuotaStatus};
pub use sensitive::{SensitiveFilter, SensitivePolicy, SensitiveWordsFound};
pub use submit::{
    quota_status, sim_counts, submit_broadcast, submit_broadcast_keyed, Accepted, NoRecipients,
    NotSuperAdmin, SendRequest, SimCounts, UnknownGroup, UnknownMember, UrgentNotAllowed,
};

use crate::store::StoreError;

/// Default zone of quota days and months.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Shanghai;
/// Default broadcasts per group per day.
pub const DEFAULT_DAILY_QUOTA: u32 = 3;
/// Default broadcasts per group per month.
pub const DEFAULT_MONTHLY_QUOTA: u32 = 31;
/// Default maximum parts of one message.
pub const DEFAULT_MAX_PARTS: usize = 5;

/// What the rules are configured with. The defaults are the configuration's
/// (`crate::config` takes them from here).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Days and months for quotas are counted in this zone.
    pub timezone: Tz,
    /// Country of phone numbers written without a country code.
    pub default_country: Country,
    pub daily_quota: u32,
    pub monthly_quota: u32,
    /// Header template; `{name}` is the group's display name, `{handle}` its handle.
    pub header_template: String,
    /// Put after every broadcast's body (`回TD退订`), counted in its parts; empty: none.
    pub footer: String,
    pub max_parts: usize,
    pub sensitive: SensitiveFilter,
    pub sensitive_policy: SensitivePolicy,
    /// Refused sends per caller this minute, for the audit log's limit (shared by clones).
    pub refusals: Arc<refusals::RefusalLog>,
    /// Keyword replies by SMS.
    pub optout: optout::OptOutSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timezone: DEFAULT_TIMEZONE,
            default_country: Country::default(),
            daily_quota: DEFAULT_DAILY_QUOTA,
            monthly_quota: DEFAULT_MONTHLY_QUOTA,
            header_template: DEFAULT_HEADER.to_string(),
            footer: String::new(),
            max_parts: DEFAULT_MAX_PARTS,
            sensitive: SensitiveFilter::default(),
            sensitive_policy: SensitivePolicy::default(),
            refusals: Arc::default(),
            optout: optout::OptOutSettings::default(),
        }
    }
}

/// Every refusal of the rules, and the store's own errors. The socket protocol's stable
/// codes for them are `protocol::ErrorCode`, chosen by the daemon's handlers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    UnknownGroup(#[from] UnknownGroup),
    #[error(transparent)]
    UnknownMember(#[from] UnknownMember),
    #[error(transparent)]
    NotYou(#[from] NotYou),
    #[error(transparent)]
    NotYours(#[from] NotYours),
    #[error(transparent)]
    NotSuperAdmin(#[from] NotSuperAdmin),
    #[error(transparent)]
    UrgentNotAllowed(#[from] UrgentNotAllowed),
    #[error(transparent)]
    Cancel(#[from] cancel::CannotCancel),
    #[error(transparent)]
    OpenBroadcasts(#[from] cancel::OpenBroadcasts),
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    #[error("group '{group}': {error}")]
    InvalidQuota { group: String, error: InvalidQuota },
    #[error(transparent)]
    Sensitive(#[from] SensitiveWordsFound),
    #[error(transparent)]
    EmptyBody(#[from] EmptyBody),
    #[error(transparent)]
    TooManyParts(#[from] TooManyParts),
    #[error(transparent)]
    NoRecipients(#[from] NoRecipients),
    #[error(transparent)]
    Field(#[from] InvalidField),
    #[error("phone '{input}': {error}")]
    Phone { input: String, error: PhoneError },
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Token(#[from] tokens::TokenError),
    #[error(transparent)]
    Idempotency(#[from] idempotency::KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<compose::ComposeError> for ServiceError {
    fn from(e: compose::ComposeError) -> Self {
        match e {
            compose::ComposeError::Empty(e) => e.into(),
            compose::ComposeError::TooManyParts(e) => e.into(),
        }
    }
}

impl ServiceError {
    /// True when a rule refused the request (as opposed to the database failing).
    pub fn is_refusal(&self) -> bool {
        match self {
            ServiceError::Store(e) => !e.is_internal(),
            _ => true,
        }
    }

    /// The store's "unknown group/member" as the service's own errors.
    pub(crate) fn lift(e: StoreError) -> ServiceError {
        match e {
            StoreError::UnknownGroup(handle) => UnknownGroup { handle }.into(),
            StoreError::UnknownMember(handle) => UnknownMember { handle }.into(),
            e => ServiceError::Store(e),
        }
    }
}
