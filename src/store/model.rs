//! The rows the store hands out and takes in, and the checks every stored value must pass.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::db::{parse_col, ColRef, FromCol, ToCol, Value};
use chrono::{DateTime, Utc};

use super::StoreError;
pub use crate::domain::{BadRole, InFlightPolicy, Role};
use crate::sms::Encoding;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl ToCol for $name {
            fn to_col(&self) -> Value<'_> {
                Value::Int(self.0)
            }
        }

        impl FromCol for $name {
            fn from_col(v: ColRef<'_>) -> Result<Self, String> {
                v.as_i64().map($name)
            }
        }
    };
}

id_type!(
    /// Row id of a group.
    GroupId
);
id_type!(
    /// Row id of a member.
    MemberId
);
id_type!(
    /// Row id of a broadcast; shown to users as the broadcast number.
    BroadcastId
);
id_type!(
    /// Row id of one delivery (one recipient of one broadcast).
    DeliveryId
);

impl ToCol for Role {
    fn to_col(&self) -> Value<'_> {
        Value::Text(self.as_str().into())
    }
}

impl FromCol for Role {
    fn from_col(v: ColRef<'_>) -> Result<Self, String> {
        v.as_str()?.parse().map_err(|e: BadRole| e.to_string())
    }
}

/// Where one delivery stands.
///
/// ```text
/// queued ──mark_sending──▶ sending ──mark_sent──▶ sent ──mark_delivered──▶ delivered
///                                                     ╲─mark_undelivered─▶ undelivered
///   ▲   ╲                     │ ╲──mark_failed──▶ failed
///   │    ╲──mark_failed──▶    │  ╲─mark_uncertain─▶ uncertain
///   └────────requeue──────────┘ (also from failed and uncertain, by an operator)
///
/// queued ──cancel_queued──▶ cancelled (the member opted out by SMS)
/// queued ──cancel_broadcast──▶ cancelled (the broadcast was cancelled)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Queued,
    Sending,
    Sent,
    Failed,
    /// The modem may or may not have sent it (the daemon stopped mid-send, or no answer came).
    Uncertain,
    /// A status report confirmed it reached the handset.
    Delivered,
    /// A status report said the network gave up on it for good.
    Undelivered,
    /// Never sent: the member opted out of the group, or the broadcast was cancelled, while it
    /// was still queued.
    Cancelled,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 8] = [
        DeliveryState::Queued,
        DeliveryState::Sending,
        DeliveryState::Sent,
        DeliveryState::Failed,
        DeliveryState::Uncertain,
        DeliveryState::Delivered,
        DeliveryState::Undelivered,
        DeliveryState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
            DeliveryState::Uncertain => "uncertain",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Undelivered => "undelivered",
            DeliveryState::Cancelled => "cancelled",
        }
    }

    /// True when nothing more will happen to it without an operator.
    pub fn is_final(self) -> bool {
        !matches!(self, DeliveryState::Queued | DeliveryState::Sending)
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DeliveryState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not a delivery state"))
    }
}

impl ToCol for DeliveryState {
    fn to_col(&self) -> Value<'_> {
        Value::Text(self.as_str().into())
    }
}

impl FromCol for DeliveryState {
    fn from_col(v: ColRef<'_>) -> Result<Self, String> {
        parse_col(v)
    }
}

/// A group: who receives, how the text is headed, its quota overrides and modem pinning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    /// Unique, used on the command line.
    pub handle: String,
    /// Display name, e.g. `运维组`; fills `{name}` in the header.
    pub name: String,
    /// Header template for this group; `None` uses the configured default.
    pub header: Option<String>,
    /// Broadcasts per day; `None` uses the configured default.
    pub daily_quota: Option<u32>,
    /// Broadcasts per month; `None` uses the configured default.
    pub monthly_quota: Option<u32>,
    /// Modems (IMSI or device string) this group sends through, in order of preference;
    /// empty means any modem.
    pub pinned_modems: Vec<String>,
    /// When every pinned modem is unavailable, may other modems be used?
    pub modem_fallback: bool,
    /// May its super-admins send urgent broadcasts (which start inside the quiet hours)?
    pub allow_urgent: bool,
    pub created_at: DateTime<Utc>,
}

/// What [`create_group`](super::Tx::create_group) needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    pub handle: String,
    pub name: String,
    pub header: Option<String>,
    pub daily_quota: Option<u32>,
    pub monthly_quota: Option<u32>,
    pub pinned_modems: Vec<String>,
    pub modem_fallback: bool,
}

impl NewGroup {
    /// A group with no overrides, no pinned modems and fallback allowed.
    pub fn new(handle: impl Into<String>, name: impl Into<String>) -> Self {
        NewGroup {
            handle: handle.into(),
            name: name.into(),
            header: None,
            daily_quota: None,
            monthly_quota: None,
            pinned_modems: Vec::new(),
            modem_fallback: true,
        }
    }
}

/// A change to a group: `None` leaves a field alone; `Some(None)` clears an override.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChange {
    pub name: Option<String>,
    pub header: Option<Option<String>>,
    pub daily_quota: Option<Option<u32>>,
    pub monthly_quota: Option<Option<u32>>,
    pub pinned_modems: Option<Vec<String>>,
    pub modem_fallback: Option<bool>,
    pub allow_urgent: Option<bool>,
}

/// A person who may receive (and, as a super-admin, send) group SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: MemberId,
    pub handle: String,
    pub name: String,
    /// E.164, e.g. `+8613800138000`.
    pub phone: String,
    /// False when the number is known to be dead; the member receives nothing.
    pub valid: bool,
    /// Global SMS switch for this member, over all groups.
    pub sms_enabled: bool,
    /// The Unix user who acts as this member on the command line.
    pub unix_uid: Option<u32>,
    pub created_at: DateTime<Utc>,
}

/// What [`create_member`](super::Tx::create_member) needs. The phone must already be E.164.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    pub handle: String,
    pub name: String,
    pub phone: String,
    pub valid: bool,
    pub sms_enabled: bool,
    pub unix_uid: Option<u32>,
}

impl NewMember {
    /// A valid member with SMS enabled and no Unix user.
    pub fn new(
        handle: impl Into<String>,
        name: impl Into<String>,
        phone: impl Into<String>,
    ) -> Self {
        NewMember {
            handle: handle.into(),
            name: name.into(),
            phone: phone.into(),
            valid: true,
            sms_enabled: true,
            unix_uid: None,
        }
    }
}

/// A change to a member: `None` leaves a field alone; `unix_uid: Some(None)` unbinds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChange {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub valid: Option<bool>,
    pub sms_enabled: Option<bool>,
    pub unix_uid: Option<Option<u32>>,
}

/// One member's place in one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group_id: GroupId,
    pub member_id: MemberId,
    pub role: Role,
    /// The member asked not to receive this group's SMS.
    pub opted_out: bool,
    pub joined_at: DateTime<Utc>,
}

/// A member as listed in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub member: Member,
    pub role: Role,
    pub opted_out: bool,
}

/// A group as listed for a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberGroup {
    pub group_handle: String,
    pub group_name: String,
    pub role: Role,
    pub opted_out: bool,
}

/// What the recipient rules need to know about one member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientRow {
    pub member_id: MemberId,
    pub phone: String,
    pub valid: bool,
    pub sms_enabled: bool,
    pub opted_out: bool,
}

/// One delivery to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub member_id: MemberId,
    pub number: String,
}

/// How many members a broadcast left out, by reason. Each member counts once, under the first
/// reason in this order: opted out, invalid, SMS disabled; `duplicate` counts numbers seen before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub opted_out: u32,
    pub invalid: u32,
    pub sms_disabled: u32,
    pub duplicate: u32,
}

impl Dropped {
    pub fn total(&self) -> u32 {
        self.opted_out + self.invalid + self.sms_disabled + self.duplicate
    }
}

/// A broadcast to write, with everything the rules decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBroadcast {
    pub group_id: GroupId,
    pub group_handle: String,
    pub sender_id: MemberId,
    pub sender_handle: String,
    pub body: String,
    pub text: String,
    pub encoding: Encoding,
    pub parts: u32,
    pub dropped: Dropped,
    /// The quota periods it consumes: local date `2024-05-01` and month `2024-05`.
    pub quota_day: String,
    pub quota_month: String,
    /// Who really asked for it (`root`, `uid:1000`).
    pub caller: String,
    /// Sent urgent: it starts inside the quiet hours (its group allows it).
    pub urgent: bool,
}

/// A notice to write: one message to one number, sent through one SIM, outside every
/// group's quota (the confirmation of an opt-out by SMS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotice {
    /// The group it is about (`None`: none).
    pub group_id: Option<GroupId>,
    pub group_handle: String,
    pub member_id: Option<MemberId>,
    pub number: String,
    pub text: String,
    pub encoding: Encoding,
    pub parts: u32,
    /// The SIM (IMSI or device) it must go through.
    pub sim: String,
    /// Who caused it: `sms:+8613800000001`.
    pub caller: String,
    /// Local date and month it was sent in (recorded like a broadcast's, consuming nothing).
    pub day: String,
    pub month: String,
}

/// Quota periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaPeriod {
    Day,
    Month,
}

impl QuotaPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaPeriod::Day => "day",
            QuotaPeriod::Month => "month",
        }
    }
}

/// Deliveries of one broadcast, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub queued: u32,
    pub sending: u32,
    pub sent: u32,
    pub failed: u32,
    pub uncertain: u32,
    pub delivered: u32,
    pub undelivered: u32,
    pub cancelled: u32,
}

impl Progress {
    pub fn total(&self) -> u32 {
        self.queued
            + self.sending
            + self.sent
            + self.failed
            + self.uncertain
            + self.delivered
            + self.undelivered
            + self.cancelled
    }

    /// Nothing is queued or being sent.
    pub fn is_finished(&self) -> bool {
        self.queued == 0 && self.sending == 0
    }

    pub(crate) fn add(&mut self, state: DeliveryState, n: u32) {
        match state {
            DeliveryState::Queued => self.queued += n,
            DeliveryState::Sending => self.sending += n,
            DeliveryState::Sent => self.sent += n,
            DeliveryState::Failed => self.failed += n,
            DeliveryState::Uncertain => self.uncertain += n,
            DeliveryState::Delivered => self.delivered += n,
            DeliveryState::Undelivered => self.undelivered += n,
            DeliveryState::Cancelled => self.cancelled += n,
        }
    }
}

/// A broadcast as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastSummary {
    pub id: BroadcastId,
    pub group_id: Option<GroupId>,
    pub group_handle: String,
    pub sender_handle: String,
    /// Who really asked for it (`root`, `uid:1000`); `None` before callers were recorded.
    pub caller: Option<String>,
    pub body: String,
    pub text: String,
    pub encoding: Encoding,
    pub parts: u32,
    pub recipients: u32,
    pub dropped: Dropped,
    pub finished: bool,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub progress: Progress,
    /// Sent urgent (starts inside the quiet hours).
    pub urgent: bool,
    /// When and by whom it was cancelled (`broadcast cancel`, `group delete --force`).
    pub cancelled: Option<(DateTime<Utc>, String)>,
}

/// A broadcast with one row per recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastDetail {
    pub broadcast: BroadcastSummary,
    pub deliveries: Vec<DeliveryRow>,
}

/// One recipient of a broadcast as shown to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: DeliveryId,
    /// `None` when the member has been deleted since.
    pub member_handle: Option<String>,
    pub member_name: Option<String>,
    pub number: String,
    pub state: DeliveryState,
    pub modem: Option<String>,
    pub attempts: u32,
    pub part_refs: Vec<u8>,
    pub last_error: Option<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub possible_duplicate: bool,
    pub updated_at: DateTime<Utc>,
}

/// A delivery waiting to be sent, with what the scheduler needs to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedDelivery {
    pub id: DeliveryId,
    pub broadcast_id: BroadcastId,
    /// `None` when the group has been deleted since.
    pub group_id: Option<GroupId>,
    pub number: String,
    /// The composed text, shared by all deliveries of the broadcast.
    pub text: Arc<str>,
    /// SMS parts of the text, as counted when the broadcast was accepted.
    pub parts: u32,
    /// Tries started so far.
    pub attempts: u32,
    /// Do not send before this time (a retry's back-off).
    pub not_before: Option<DateTime<Utc>>,
    /// An earlier try may have reached the handset (recovered after a crash mid-send).
    pub possible_duplicate: bool,
    /// A notice goes out through this SIM (IMSI or device) and no other; `None`: the group's
    /// pinning.
    pub pin_sim: Option<String>,
    /// Its broadcast was sent urgent: the quiet hours do not hold it back.
    pub urgent: bool,
}

/// What a delivery transition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryUpdate {
    pub delivery: DeliveryId,
    pub broadcast: BroadcastId,
    pub state: DeliveryState,
    /// The try number, counting from 1 (for `mark_sending`; otherwise the tries so far).
    pub attempts: u32,
    /// This transition left nothing queued or sending in the broadcast.
    pub broadcast_finished: bool,
}

/// What [`cancel_broadcast`](super::Tx::cancel_broadcast) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancellation {
    pub broadcast: BroadcastId,
    /// The deliveries it turned from `queued` to `cancelled`.
    pub cancelled: Vec<DeliveryUpdate>,
    /// The broadcast's counts after it (what was sent, or is being sent, stays).
    pub progress: Progress,
}

/// How many deliveries [`recover_on_start`](super::Tx::recover_on_start) moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Queued again, possible duplicates.
    pub requeued: u32,
    /// Marked uncertain.
    pub uncertain: u32,
    /// Broadcasts that finished because of it.
    pub broadcasts_finished: u32,
}

/// Messages and parts sent through one SIM in a time window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendCount {
    pub messages: u32,
    pub parts: u32,
}

/// An audit entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    /// Who: a member handle, `uid:1000`, `root`, ...
    pub actor: String,
    /// What: `create_group`, `send_refused`, ...
    pub action: String,
    /// On what: a group or member handle.
    pub subject: String,
    /// The rest, readable.
    pub detail: String,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

/// Longest handle accepted.
pub const MAX_HANDLE_LEN: usize = 32;

/// Handles are typed on the command line: 1 to 32 of `a-z 0-9 - _ .`, starting with a letter
/// or digit.
pub fn check_handle(handle: &str) -> Result<(), StoreError> {
    let bad = |reason| {
        // A far too long handle is shown by its start only.
        let shown = match handle.char_indices().nth(2 * MAX_HANDLE_LEN) {
            Some((end, _)) => format!("{}…", &handle[..end]),
            None => handle.to_string(),
        };
        Err(StoreError::BadHandle {
            handle: shown,
            reason,
        })
    };
    let Some(first) = handle.chars().next() else {
        return bad("it is empty");
    };
    if handle.len() > MAX_HANDLE_LEN {
        return bad("it is longer than 32 characters");
    }
    if !first.is_ascii_lowercase() && !first.is_ascii_digit() {
        return bad("it must start with a lower-case letter or a digit");
    }
    if !handle
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
    {
        return bad("only a-z, 0-9, '-', '_' and '.' are allowed");
    }
    Ok(())
}

/// The store keeps numbers in E.164 form only; normalizing input is the service's job.
/// Longest phone number stored: `+` and at most 15 digits (E.164).
pub const MAX_E164_LEN: usize = 16;

pub fn check_e164(phone: &str) -> Result<(), StoreError> {
    let ok = phone.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    });
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadPhone(phone.to_string()))
    }
}

pub(crate) fn check_not_empty(what: &'static str, value: &str) -> Result<(), StoreError> {
    if value.trim().is_empty() {
        Err(StoreError::Empty { what })
    } else {
        Ok(())
    }
}

pub(crate) fn encoding_name(e: Encoding) -> &'static str {
    e.name()
}

pub(crate) fn parse_encoding(name: &str) -> Option<Encoding> {
    match name {
        "gsm7" => Some(Encoding::Gsm7),
        "ucs2" => Some(Encoding::Ucs2),
        _ => None,
    }
}
