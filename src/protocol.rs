//! The daemon's socket protocol, defined once for the daemon and every client.
//!
//! Transport: a Unix stream socket; one JSON object per line (UTF-8, at most
//! [`MAX_LINE`] bytes). The client's first request must be `hello` with
//! [`PROTOCOL_VERSION`]. Every request carries an `id` that the answer echoes:
//!
//! ```text
//! → {"id":1,"op":"hello","args":{"version":1}}
//! ← {"id":1,"ok":true,"result":{"version":1,"server":"groupsms 0.1.0"}}
//! → {"id":2,"op":"send","args":{"group":"ops","as":"alice","text":"明天上午九点开会"}}
//! ← {"id":2,"ok":true,"result":{"broadcast":7,"recipients":3,...}}
//! → {"id":3,"op":"subscribe","args":{"broadcast":7}}
//! ← {"id":3,"event":{"totals":{"broadcast":7,"total":3,"sent":0,...}}}   (the snapshot)
//! ← {"id":3,"event":{"delivery":{...},"totals":{...}}}                   (zero or more)
//! ← {"id":3,"ok":true,"result":{"broadcast":7,"total":3,"sent":3,...}}   (when finished)
//! ← {"id":4,"ok":false,"error":{"code":"quota_exceeded","message":"..."}}
//! ```
//!
//! Every answer has its type here too ([`SendResult`], [`SubscribeEvent`], [`StatusResult`],
//! ...): the daemon writes them and the CLI reads them, so their shapes cannot drift apart.
//! Error codes are stable strings ([`ErrorCode`]); messages are sentences for people.
//! No tokio, no SQL here: only types and their JSON form (and, derived from the same types,
//! their JSON Schema: `utoipa::ToSchema`, for the HTTP API's OpenAPI document).

use serde::de::{Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

pub use crate::domain::Role;

/// Bumped on any incompatible change of the requests or answers below.
pub const PROTOCOL_VERSION: u32 = 1;
/// Longest request or answer line, in bytes (newline excluded).
pub const MAX_LINE: usize = 64 * 1024;
/// The fields of answers that hold a time, RFC 3339 (`created_at` and `cancelled_at` of
/// broadcasts, `until` of why one waits, `received_at` and `scts` of incoming messages, `at`
/// of unmatched reports): a client shows them in its own zone (the CLI: the configured one).
pub const TIME_FIELDS: &[&str] = &[
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "cancelled_at",
    "until",
    "received_at",
    "scts",
    "at",
    "heartbeat_at",
];

/// A request line: `{"id":N,"op":"...","args":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestLine {
    pub id: u64,
    #[serde(flatten)]
    pub request: Request,
}

/// Everything a client can ask. Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "args", rename_all = "snake_case")]
pub enum Request {
    Hello(Hello),
    Status(Empty),
    GroupCreate(GroupCreate),
    GroupList(GroupList),
    GroupShow(GroupShowArgs),
    GroupSet(GroupSet),
    GroupDelete(GroupRef),
    MemberAdd(MemberAdd),
    MemberList(MemberList),
    MemberShow(MemberShowArgs),
    MemberSet(MemberSet),
    MemberRemove(MemberRef),
    MemberImport(MemberImport),
    MemberImportBegin(MemberImportBegin),
    MemberImportRows(MemberImportRows),
    MemberImportCommit(ImportRef),
    MemberJoin(MemberJoin),
    MemberLeave(Membership),
    MemberRole(MemberRole),
    MemberOptOut(Membership),
    MemberOptIn(Membership),
    Send(Send),
    /// What `send` would do now (same arguments), with nothing written and no quota used.
    SendPreview(Send),
    Subscribe(SubscribeArgs),
    BroadcastList(BroadcastList),
    BroadcastShow(BroadcastShowArgs),
    BroadcastCancel(BroadcastRef),
    ModemList(Empty),
    ModemRelease(ModemRef),
    InboxList(InboxList),
    InboxShow(InboxRef),
    InboxMarkRead(InboxIds),
    TokenCreate(TokenCreate),
    TokenList(Empty),
    TokenRevoke(TokenRef),
}

impl Request {
    /// Whether the answer comes in pages ("Paged reads" below): the reads whose answers grow
    /// with the data, which the daemon answers a few at a time.
    pub fn is_paged_read(&self) -> bool {
        matches!(
            self,
            Request::GroupList(_)
                | Request::GroupShow(_)
                | Request::MemberList(_)
                | Request::MemberShow(_)
                | Request::BroadcastList(_)
                | Request::BroadcastShow(_)
                | Request::InboxList(_)
        )
    }

    /// Whether the request changes groups or members (root or `admin_uids` only).
    pub fn is_management(&self) -> bool {
        matches!(
            self,
            Request::GroupCreate(_)
                | Request::GroupSet(_)
                | Request::GroupDelete(_)
                | Request::MemberAdd(_)
                | Request::MemberSet(_)
                | Request::MemberRemove(_)
                | Request::MemberImport(_)
                | Request::MemberImportBegin(_)
                | Request::MemberImportRows(_)
                | Request::MemberImportCommit(_)
                | Request::MemberJoin(_)
                | Request::MemberLeave(_)
                | Request::MemberRole(_)
                | Request::MemberOptOut(_)
                | Request::MemberOptIn(_)
                | Request::ModemRelease(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupCreate {
    pub handle: String,
    pub name: String,
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub daily_quota: Option<u32>,
    #[serde(default)]
    pub monthly_quota: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRef {
    pub group: String,
    /// `group_delete`: also when broadcasts of the group are still being sent (what is still
    /// queued is cancelled); without it such a group is not deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

// Paged reads: every answer that grows with the data comes in pages. A request may give
// `limit` (rows per page, 1 to the op's most; absent: the most) and `after` (the `next` of the
// page before; absent: the first page); the answer's `next` is the `after` of the following
// page, `null` on the last one. Rows are in a fixed order (handles or ids), and a page starts
// after the key of the last row of the page before (keyset), so rows added or removed between
// pages never make another row be seen twice or missed.

/// `group_list`'s arguments: a page of groups, by handle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The handle of the last group seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// `group_show`'s arguments: the group and a page of its members, by member handle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupShowArgs {
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The handle of the last member seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// `member_show`'s arguments: the member and a page of their groups, by group handle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberShowArgs {
    pub member: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The handle of the last group seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// `broadcast_show`'s arguments: the broadcast and a page of its deliveries, in the order
/// they were queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastShowArgs {
    pub broadcast: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next` of the page before (a delivery id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

impl BroadcastShowArgs {
    /// The first page of broadcast `id`.
    pub fn first(broadcast: i64) -> Self {
        BroadcastShowArgs {
            broadcast,
            limit: None,
            after: None,
        }
    }
}

/// Changes to a group; absent fields are left alone. `Some(None)` clears an override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupSet {
    pub group: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub header: Option<Option<String>>,
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub daily_quota: Option<Option<u32>>,
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub monthly_quota: Option<Option<u32>>,
    /// Modems (IMSI or device path) the group's messages must use.
    #[serde(default)]
    pub pinned_modems: Option<Vec<String>>,
    /// Whether other modems may be used when every pinned one is down.
    #[serde(default)]
    pub pin_fallback: Option<bool>,
    /// Whether its super-admins may send urgent broadcasts (which start inside the quiet
    /// hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_urgent: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberAdd {
    pub handle: String,
    pub name: String,
    pub phone: String,
    /// Unix user id bound to this member.
    #[serde(default)]
    pub uid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberList {
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The handle of the last member seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRef {
    pub member: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberSet {
    pub member: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub valid: Option<bool>,
    #[serde(default)]
    pub sms_enabled: Option<bool>,
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub uid: Option<Option<u32>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberImport {
    /// The CSV text (header row first).
    pub csv: String,
    #[serde(default)]
    pub skip_bad: bool,
    /// Check every row and count what the import would do, then write nothing (a preview:
    /// the answer is the one the import would give, with `dry_run: true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// Starts a streamed CSV import on this connection (for files too big for one line): then
/// `member_import_rows` as many times as needed, then `member_import_commit`. What is staged
/// belongs to the connection: it is dropped, nothing written, if the connection closes first.
/// A new `member_import_begin` drops what the connection had staged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberImportBegin {
    #[serde(default)]
    pub skip_bad: bool,
}

/// The next piece of the CSV text, in order (the first one starts with the header row). A
/// piece may end anywhere, even inside a row: the pieces are joined before the rows are read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberImportRows {
    pub import: u64,
    pub csv: String,
}

/// The import `member_import_begin` started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRef {
    pub import: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberJoin {
    pub member: String,
    pub group: String,
    #[serde(default)]
    pub role: Option<Role>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    pub member: String,
    pub group: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRole {
    pub member: String,
    pub group: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Send {
    pub group: String,
    /// The acting member's handle; must be a super-admin of the group.
    #[serde(rename = "as")]
    pub as_member: String,
    pub text: String,
    /// Start even inside the quiet hours; refused (`permission_denied`) unless the group
    /// allows urgent sending. Absent: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub urgent: bool,
}

/// `subscribe`: a broadcast's progress (`{"broadcast": 7}`), or every incoming message as it
/// is committed (`{"inbox": true}`, for bots); exactly one of the two. With `"reports": true`
/// a broadcast's stream goes on after the sending, with each status report's change, until
/// no delivery waits for a report (see the README's protocol section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox: Option<bool>,
    /// With `broadcast`: go on with the status reports once the sending is over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports: Option<bool>,
}

impl SubscribeArgs {
    /// Follow broadcast `id` until it is sent.
    pub fn broadcast(id: i64) -> Self {
        SubscribeArgs {
            broadcast: Some(id),
            ..SubscribeArgs::default()
        }
    }

    /// Follow broadcast `id` until it is sent and no delivery waits for a status report.
    pub fn broadcast_reports(id: i64) -> Self {
        SubscribeArgs {
            reports: Some(true),
            ..SubscribeArgs::broadcast(id)
        }
    }

    /// Follow the inbox.
    pub fn inbox() -> Self {
        SubscribeArgs {
            inbox: Some(true),
            ..SubscribeArgs::default()
        }
    }
}

/// `token_create`: a bearer token for the HTTP API, for `member` (acts as them) or, with
/// `admin`, a management token (administrators on the socket only). Made on the socket only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    #[serde(default)]
    pub member: Option<String>,
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub label: Option<String>,
    /// Valid for this many seconds from now; `null`: until revoked.
    #[serde(default)]
    pub expires_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRef {
    pub token: i64,
}

/// `token_create`'s result: the token itself, shown this once (the daemon keeps its hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenCreated {
    pub secret: String,
    pub token: TokenInfo,
}

/// One token, without its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    /// The member it acts as; `null` for a management token.
    pub member: Option<String>,
    pub admin: bool,
    pub label: String,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
    /// Neither revoked nor expired.
    pub active: bool,
}

/// `token_list`'s result: the caller's tokens (every token, for an administrator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenListResult {
    pub tokens: Vec<TokenInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastRef {
    pub broadcast: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastList {
    #[serde(default)]
    pub group: Option<String>,
    /// Broadcasts on this page (for compatibility a larger `limit` is taken as the most a
    /// page holds, not refused).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next` of the page before (a broadcast id: older ones follow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

/// `inbox_list`: incoming messages, newest first. Administrators see all; a group's admins
/// see the replies to that group's broadcasts; others nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxList {
    /// Only replies to this group's broadcasts.
    #[serde(default)]
    pub group: Option<String>,
    /// Only from this number (read with the daemon's phone rules) or sender name.
    #[serde(default)]
    pub from: Option<String>,
    /// Only messages not marked read.
    #[serde(default)]
    pub unread: bool,
    /// Only replies to this broadcast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<i64>,
    /// Messages per page (1 to 16, the default; see "Paged reads").
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next` of the page before (a message id: pages go from the newest back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

/// `inbox_show`: one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxRef {
    pub id: i64,
}

/// `inbox_mark_read`: messages to mark read (all must be visible to the caller).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxIds {
    pub ids: Vec<i64>,
}

// ---- Answers ------------------------------------------------------------------------------
//
// The `result` of each op, and the events of `subscribe`. The daemon builds these and the CLI
// reads them, so the two cannot disagree about a field's name or place. Optional fields are
// written as `null`, never left out, unless said otherwise.

/// `hello`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HelloResult {
    pub version: u32,
    /// `groupsms <version>`.
    pub server: String,
}

/// `send`'s result: the broadcast was accepted and its deliveries queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SendResult {
    pub broadcast: i64,
    pub recipients: u32,
    /// SMS parts per recipient.
    pub parts: u32,
    /// `gsm7` or `ucs2`.
    pub encoding: String,
    /// The text as sent: header + body, masked if the policy says so.
    pub text: String,
    /// Sensitive words masked in the body.
    pub masked_words: Vec<String>,
    /// Broadcasts the group may still send after this one.
    pub quota_left: u32,
    /// The group's quota use with this broadcast counted, as `group_show` shows it (absent
    /// from older daemons).
    #[serde(default)]
    pub quota: Option<QuotaInfo>,
    pub dropped: Dropped,
    pub dropped_total: u32,
    /// Accepted, but its deliveries cannot start now: why (`null` when they can; absent
    /// from older daemons).
    #[serde(default)]
    pub waiting: Option<WaitingInfo>,
}

/// `send_preview`'s result: what `send` with the same arguments would do now. Nothing is
/// written, no quota is used, nothing is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SendPreview {
    pub group: String,
    /// The sending member.
    #[serde(rename = "as")]
    pub as_member: String,
    /// The group's header, as the phone shows it before the body.
    pub header: String,
    /// The configured footer, after the body (empty: none).
    pub footer: String,
    /// The body as it would be sent (masked under the `mask` policy).
    pub body: String,
    /// Header + body + footer: what the phone shows.
    pub text: String,
    /// `gsm7` or `ucs2`.
    pub encoding: String,
    /// SMS parts per recipient.
    pub parts: u32,
    /// The most parts a message may have (`[message] max_parts`).
    pub max_parts: u32,
    /// Septets (GSM 7-bit) or UTF-16 units (UCS-2) of the whole text.
    pub units: u32,
    /// Units one part holds (160 or 153 septets, 70 or 67 UCS-2 units).
    pub per_part: u32,
    /// Units still free in the last part before another part is needed.
    pub remaining: u32,
    /// Members who would receive it.
    pub recipients: u32,
    pub dropped: Dropped,
    pub dropped_total: u32,
    /// Who is left out, by reason: the first [`LEFT_OUT_NAMED`] members of each reason, in
    /// member order (`dropped` counts them all; absent from older daemons).
    #[serde(default)]
    pub left_out: LeftOut,
    /// The group's quota use now (this message not counted).
    pub quota: QuotaInfo,
    /// `reject` or `mask`: what the sensitive words found do.
    pub sensitive_policy: String,
    /// The sensitive words found in the text, in order.
    pub sensitive: Vec<SensitiveMatch>,
    /// What `send` would answer now: `null` when it would be accepted, else its error.
    pub refusal: Option<ErrorBody>,
}

/// A sensitive word found in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SensitiveMatch {
    /// The word as written in the list.
    pub word: String,
    /// Where it stands in the submitted text, in characters (Unicode scalar values) from 0:
    /// `start` included, `end` excluded; what was put between its letters is included.
    pub start: u32,
    pub end: u32,
}

/// Why a broadcast's deliveries wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WaitingInfo {
    /// `quiet_hours`, `no_modem`, `pinned_sim_absent` or `capped`.
    pub reason: String,
    /// The reason in words, times in the daemon's zone.
    pub message: String,
    /// RFC 3339: when it ends by itself (the quiet hours, the earliest cap's window), `null`
    /// when it does not (a modem must come).
    pub until: Option<String>,
}

/// A broadcast whose deliveries wait, as `status` lists it: one flat row,
/// `{broadcast, group, deliveries, reason, message, until}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WaitingBroadcast {
    pub broadcast: i64,
    /// Its group's handle.
    pub group: String,
    /// Deliveries waiting.
    pub deliveries: usize,
    #[serde(flatten)]
    pub waiting: WaitingInfo,
}

/// `broadcast_cancel`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BroadcastCancelled {
    pub broadcast: i64,
    /// Deliveries that were still queued, now `cancelled`.
    pub cancelled: u32,
    /// Deliveries already sent (delivered and undelivered included): not taken back.
    pub sent: u32,
    /// Deliveries being sent at that moment: they go out.
    pub sending: u32,
}

/// Members of the group who got nothing, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dropped {
    pub opted_out: u32,
    pub invalid: u32,
    pub sms_disabled: u32,
    /// Numbers another member already has.
    pub duplicate: u32,
}

/// How many members of each reason `send_preview` names in [`SendPreview::left_out`]: a
/// 10 000-member group may leave out thousands, and the answer must stay one short line.
pub const LEFT_OUT_NAMED: usize = 10;

/// The members a broadcast would leave out, by reason (the first [`LEFT_OUT_NAMED`] of each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeftOut {
    pub opted_out: Vec<MemberName>,
    pub invalid: Vec<MemberName>,
    pub sms_disabled: Vec<MemberName>,
    /// Members whose number an earlier member already has.
    pub duplicate: Vec<MemberName>,
}

/// A member as a list names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberName {
    pub handle: String,
    pub name: String,
}

/// Counts of one broadcast's deliveries: every `subscribe` event's `totals`, and its final
/// result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BroadcastProgress {
    pub broadcast: i64,
    pub total: u32,
    pub queued: u32,
    pub sending: u32,
    /// Sent, delivered and undelivered included.
    pub sent: u32,
    /// Confirmed by a status report.
    pub delivered: u32,
    /// A status report said the network gave up on it.
    pub undelivered: u32,
    pub failed: u32,
    pub uncertain: u32,
    /// Never sent: the member opted out by SMS, or the broadcast was cancelled, while it was
    /// queued (absent from older
    /// daemons: 0).
    #[serde(default)]
    pub cancelled: u32,
    /// Nothing is queued or being sent.
    pub finished: bool,
}

impl BroadcastProgress {
    /// Deliveries that are over, one way or the other.
    pub fn done(&self) -> u32 {
        self.sent + self.failed + self.uncertain + self.cancelled
    }
}

/// One `subscribe` event: the counts, and the delivery that changed (absent in the first
/// event, the snapshot taken when the subscription starts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubscribeEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryEvent>,
    pub totals: BroadcastProgress,
}

/// A delivery's new state, as a `subscribe` event carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryEvent {
    pub id: i64,
    pub number: String,
    /// `queued`, `sending`, `sent`, `failed`, `uncertain`, `delivered`, `undelivered` or
    /// `cancelled`.
    pub state: String,
    pub modem: Option<String>,
    pub error: Option<String>,
}

/// `broadcast_list`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BroadcastListResult {
    pub broadcasts: Vec<BroadcastInfo>,
    /// The `after` of the next page (older broadcasts), `null` on the last.
    #[serde(default)]
    pub next: Option<i64>,
}

/// One broadcast in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BroadcastInfo {
    pub id: i64,
    pub group: String,
    /// The member it was sent as.
    pub sender: String,
    /// Who really asked for it: `root`, `uid:1000` (`null` for broadcasts older than this
    /// field).
    pub caller: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub recipients: u32,
    pub parts: u32,
    pub encoding: String,
    /// Sent, delivered and undelivered included.
    pub sent: u32,
    /// Confirmed by a status report.
    pub delivered: u32,
    /// A status report said the network gave up on it.
    pub undelivered: u32,
    pub failed: u32,
    pub uncertain: u32,
    /// Never sent: the member opted out by SMS, or the broadcast was cancelled, while it was
    /// queued (absent from older
    /// daemons: 0).
    #[serde(default)]
    pub cancelled: u32,
    /// Queued or being sent.
    pub waiting: u32,
    pub finished: bool,
    pub text: String,
    /// Why its queued deliveries cannot start now, `null` when they can (or it is finished).
    #[serde(default)]
    pub waiting_reason: Option<WaitingInfo>,
    /// Sent urgent (absent from older daemons: false).
    #[serde(default)]
    pub urgent: bool,
    /// RFC 3339: when it was cancelled (`broadcast_cancel`, `group_delete --force`), `null`
    /// if it was not.
    #[serde(default)]
    pub cancelled_at: Option<String>,
    /// Who cancelled it (`root`, `uid:1000`).
    #[serde(default)]
    pub cancelled_by: Option<String>,
}

/// `broadcast_show`'s result: the broadcast, who was left out, a page of its deliveries, and
/// on the first page the latest replies (members' messages linked to it, oldest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BroadcastShow {
    #[serde(flatten)]
    pub broadcast: BroadcastInfo,
    pub dropped: Dropped,
    pub deliveries: Vec<DeliveryInfo>,
    /// The `after` of the next page of deliveries, `null` on the last.
    #[serde(default)]
    pub next: Option<i64>,
    /// On the first page: the latest replies (at most 10), oldest first.
    #[serde(default)]
    pub replies: Vec<ReplyInfo>,
    /// More replies than those: `inbox_list {broadcast}` pages through them all.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more_replies: bool,
}

/// A reply to a broadcast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyInfo {
    /// The inbox message's id.
    pub id: i64,
    /// The member's handle, when the number is known as one member's.
    pub member: Option<String>,
    /// Masked unless the reader sees the group's numbers.
    pub number: String,
    pub text: String,
    /// RFC 3339, UTC: when the (first part of the) message reached the modem's host.
    pub received_at: String,
    /// False while parts are missing.
    pub complete: bool,
    /// The text was cut (at 500 characters): `inbox_show` gives it whole.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// `inbox_list`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboxListResult {
    pub messages: Vec<InboxItem>,
    /// The `after` of the next page (older messages), `null` on the last.
    #[serde(default)]
    pub next: Option<i64>,
}

/// One incoming message (`inbox_list`, `inbox_show`, and `subscribe {"inbox": true}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboxItem {
    pub id: i64,
    /// The originator: E.164 when it could be read so, else as the network gave it (short
    /// codes, sender names). Masked unless the reader sees the group's numbers.
    pub number: String,
    pub member: Option<String>,
    pub from_member: bool,
    /// From a carrier or service sender (short code such as 10086, 106... port, or a name).
    pub carrier_notice: bool,
    /// The broadcast it answers, and that broadcast's group.
    pub broadcast: Option<i64>,
    pub group: Option<String>,
    /// `reply`, `opt_out`, `opt_in` or `other`.
    pub handling: String,
    pub text: String,
    /// The text was cut here (to 500 characters in lists and in `broadcast_show`'s replies,
    /// 8 000 in `inbox_show`), so that an answer stays one line of at most 64 KiB.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// `gsm7`, `ucs2`, `8bit` (text is hex) or `unreadable`.
    pub encoding: String,
    pub parts: u32,
    pub parts_total: u32,
    /// False: parts are missing (shown after `[inbox] incomplete_after_secs`; `[…]` marks
    /// each gap in `text`).
    pub complete: bool,
    /// The SMSC's time stamp, RFC 3339 with the sender's network zone.
    pub scts: String,
    /// RFC 3339, UTC.
    pub received_at: String,
    pub read: bool,
    /// The modem (device) it came through.
    pub modem: String,
    /// The SIM's IMSI (administrators only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim: Option<String>,
    /// Why something is as it is (a number shared by several members, an unreadable PDU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `inbox_mark_read`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboxMarked {
    pub marked: usize,
}

/// One recipient of a broadcast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryInfo {
    /// The member's handle (`null` once the member is removed).
    pub member: Option<String>,
    pub number: String,
    pub state: String,
    pub modem: Option<String>,
    pub attempts: u32,
    /// The message references of the parts sent.
    pub refs: Vec<u8>,
    /// The recipient may have got it twice (resent after a crash or a silent modem).
    pub possible_duplicate: bool,
    pub error: Option<String>,
}

/// `group_list`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupListResult {
    pub groups: Vec<GroupInfo>,
    /// The `after` of the next page, `null` on the last.
    #[serde(default)]
    pub next: Option<String>,
}

/// A group with its effective settings (overrides or the configured defaults); also the
/// result of `group_create`, `group_set`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupInfo {
    pub handle: String,
    pub name: String,
    /// The header as it is put before messages.
    pub header: String,
    pub daily_quota: u32,
    pub monthly_quota: u32,
    pub pinned_modems: Vec<String>,
    pub pin_fallback: bool,
    /// Its super-admins may send urgent broadcasts (absent from older daemons: false).
    #[serde(default)]
    pub allow_urgent: bool,
}

/// `group_show`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupShow {
    #[serde(flatten)]
    pub group: GroupInfo,
    pub quota: QuotaInfo,
    pub members: Vec<GroupMemberInfo>,
    /// The `after` of the next page of members, `null` on the last.
    #[serde(default)]
    pub next: Option<String>,
}

/// A group's quota use now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuotaInfo {
    pub day_used: u32,
    pub day_limit: u32,
    pub month_used: u32,
    pub month_limit: u32,
    /// Broadcasts the group may still send now.
    pub left: u32,
}

/// A member as `group_show` lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupMemberInfo {
    pub handle: String,
    pub name: String,
    pub phone: String,
    pub role: Role,
    pub opted_out: bool,
    pub valid: bool,
    pub sms_enabled: bool,
}

/// A member; also the result of `member_add`, `member_set`, `member_remove`'s subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberInfo {
    pub handle: String,
    pub name: String,
    /// E.164.
    pub phone: String,
    pub valid: bool,
    pub sms_enabled: bool,
    /// The Unix user bound to the member.
    pub uid: Option<u32>,
}

/// `member_list`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberListResult {
    pub members: Vec<MemberListEntry>,
    /// The `after` of the next page, `null` on the last.
    #[serde(default)]
    pub next: Option<String>,
}

/// A member in `member_list`; `role` and `opted_out` only when the list is of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberListEntry {
    #[serde(flatten)]
    pub member: MemberInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opted_out: Option<bool>,
}

/// `member_show`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberShow {
    #[serde(flatten)]
    pub member: MemberInfo,
    pub groups: Vec<MemberGroupInfo>,
    /// The `after` of the next page of groups, `null` on the last.
    #[serde(default)]
    pub next: Option<String>,
}

/// One of a member's groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberGroupInfo {
    pub group: String,
    pub name: String,
    pub role: Role,
    pub opted_out: bool,
}

/// The result of `member_join`, `member_role`, `member_opt_out`, `member_opt_in`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MembershipInfo {
    pub member: String,
    pub group: String,
    pub role: Role,
    pub opted_out: bool,
}

/// The result of a change with nothing left to show (`group_delete`, `member_remove`,
/// `member_leave`); `member` and `group` name the membership when there is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Done {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub done: bool,
    /// `group_delete --force`: the queued deliveries it cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<u32>,
}

/// `member_import`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportResult {
    pub members_created: u32,
    pub members_updated: u32,
    pub members_unchanged: u32,
    pub memberships_added: u32,
    pub memberships_changed: u32,
    /// Bad rows left out (only with `skip_bad`): the first 32, each reason cut to 160 bytes.
    pub skipped: Vec<SkippedRow>,
    /// How many bad rows were left out in all.
    #[serde(default)]
    pub skipped_total: u32,
    /// A preview (`dry_run`): what the import would do; nothing was written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// A preview's first 32 good rows, each with what it would do (absent otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<ImportRow>,
}

/// What one good row of a previewed import would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportRow {
    /// Line of the file (the header is line 1).
    pub line: u64,
    pub member: String,
    /// `created`, `updated` or `unchanged`.
    pub change: String,
    /// The group the row places the member in (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `added`, `changed` or `unchanged`: the member's place in `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership: Option<String>,
}

/// `member_import_begin`'s result: the import's id and what one import may hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportBegun {
    pub import: u64,
    /// Rows (the header not counted) and bytes of CSV one import may stage.
    pub max_rows: u64,
    pub max_bytes: u64,
}

/// `member_import_rows`' result: what is staged so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportStaged {
    pub import: u64,
    /// Rows complete so far, the header not counted.
    pub rows: u64,
    pub bytes: u64,
}

/// A CSV row `member_import` left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SkippedRow {
    /// Line of the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

/// `modem_release`: lift the quarantine of a modem's SIM (administrators only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModemRef {
    /// Its device path or its SIM's IMSI.
    pub modem: String,
}

/// `modem_release`'s result: the quarantines lifted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModemReleaseResult {
    pub released: Vec<ReleasedModem>,
}

/// One quarantine lifted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReleasedModem {
    /// The modem holding the SIM (`null` when it is not in the pool now).
    pub device: Option<String>,
    /// The SIM's IMSI (its device path when the modem did not say).
    pub sim: String,
}

/// Why and until when a SIM is kept from sending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuarantineInfo {
    /// The sign of a carrier block that was seen.
    pub reason: String,
    /// RFC 3339.
    pub since: String,
    /// RFC 3339: it sends again from then on (or once an administrator releases it).
    pub until: String,
}

/// `modem_list`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModemListResult {
    pub modems: Vec<ModemEntry>,
}

/// One modem of the pool: its state, what it said about itself, and its counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModemEntry {
    /// The daemon ("host") whose modem it is; absent while one daemon is all that ever served
    /// the database (absent from older daemons too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub device: String,
    /// `ready`, `busy`, `quarantined`, or why it is down (`probing`, `gone`, `no-sim`, ...).
    /// Another host's modem: as that host's last heartbeat said.
    pub state: String,
    /// Another host's modem: seconds since that host's last heartbeat, which reported it
    /// (absent for the answering daemon's own modems, read live).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_age_secs: Option<u64>,
    /// Another host's modem: that host's state as [`HostInfo::state`] says (`up`, `silent`,
    /// `stopped`, `lost`); anything but `up` means what it says of the modem is stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_state: Option<String>,
    pub operator: Option<String>,
    pub signal_dbm: Option<i32>,
    pub imsi: Option<String>,
    pub model: Option<String>,
    /// How the modem gives status reports: `routed` (+CDS), `stored` (+CDSI), `none`
    /// (`null` before it is identified).
    pub reports: Option<String>,
    /// Parts sent through this SIM in the current hour / day (`null` before the SIM is known).
    pub sent_this_hour: Option<u32>,
    pub sent_today: Option<u32>,
    pub max_per_hour: u32,
    pub max_per_day: u32,
    /// Messages this modem sent whole, and those it did not (a part refused, not sent or of
    /// unknown fate), since the daemon started.
    pub sent: u64,
    pub failed: u64,
    /// Why the modem is not ready, when it is not.
    pub problem: Option<String>,
    /// Its SIM's carrier (configured, else learnt from the IMSI), for carrier-aware routing.
    #[serde(default)]
    pub carrier: Option<String>,
    /// Set while its SIM is quarantined for signs of a carrier block (`state` is then
    /// `quarantined`).
    #[serde(default)]
    pub quarantine: Option<QuarantineInfo>,
}

impl ModemEntry {
    /// Whether the modem takes messages (idle or sending one).
    pub fn is_up(&self) -> bool {
        self.state == "ready" || self.state == "busy"
    }
}

/// One daemon ("host") sharing the database, as `status` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HostInfo {
    /// Its `[daemon] host`.
    pub name: String,
    /// Whether it is the daemon that answered.
    pub this_daemon: bool,
    /// `up` (renewing its lease), `silent` (its row still says up but its heartbeat is more
    /// than half a lease old: it stopped renewing, and is declared `lost` once its lease has
    /// run out), `stopped` (a clean stop) or `lost` (another host found its lease run out
    /// and recovered what it was sending).
    pub state: String,
    /// RFC 3339: its last heartbeat (its stop, for a stopped host).
    pub heartbeat_at: String,
    /// Seconds since then, by the answering daemon's clock.
    pub heartbeat_age_secs: u64,
    /// Its lease: it renews it every third of that; another host declares it lost once its
    /// heartbeat is older.
    pub lease_secs: u64,
    /// Its modems taking messages (none while it is not `up`), and all it reported.
    pub modems_ready: usize,
    pub modems_total: usize,
    /// A lost host: the host that declared it so and recovered its deliveries in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_by: Option<String>,
}

/// `status`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusResult {
    /// The daemon's version.
    pub version: String,
    /// The answering daemon's `[daemon] host` (absent from older daemons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub uptime_secs: u64,
    /// The database file.
    pub database: String,
    /// The modems taking messages (on every host that is `up`), and all of them (each
    /// host's, as [`modems`](Self::modems) lists them).
    pub modems_ready: usize,
    pub modems_total: usize,
    pub broadcasts_sending: usize,
    pub deliveries_waiting: usize,
    /// Why the database cannot commit (a full disk, an I/O error), while it cannot: nothing
    /// new is sent meanwhile. `null` when all is well.
    #[serde(default)]
    pub store_problem: Option<String>,
    /// Outcomes of messages already sent, held until the database takes them.
    #[serde(default)]
    pub outcomes_held: usize,
    /// Status reports that matched no part sent (kept in the database).
    pub unmatched_reports: u64,
    /// The daemons sharing the database (PostgreSQL), by name; absent while this daemon is
    /// the only one that ever served it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostInfo>,
    /// Every host's modems, as `modem list` shows them.
    pub modems: Vec<ModemEntry>,
    /// The configured quiet hours (`22:00-07:30`), `null` when none.
    #[serde(default)]
    pub quiet_hours: Option<String>,
    /// Broadcasts whose deliveries cannot start now, and why (absent from older daemons):
    /// those the caller may read.
    #[serde(default)]
    pub waiting: Vec<WaitingBroadcast>,
    /// The latest of them, newest first (administrators only: they carry phone numbers).
    pub recent_unmatched_reports: Vec<UnmatchedReportInfo>,
    /// Each configured webhook and what is left to post to it (administrators only; absent
    /// from older daemons).
    #[serde(default)]
    pub webhooks: Vec<WebhookStatus>,
    /// The addresses the HTTP API listens on (`[http] listen`, with the port the system gave
    /// for port 0); empty when it is off.
    #[serde(default)]
    pub http: Vec<String>,
}

/// One webhook's backlog, as `status` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookStatus {
    /// Its `name`, else its URL without the query (where robots keep their tokens).
    pub endpoint: String,
    /// `json`, `dingtalk`, `wecom` or `feishu`.
    pub format: String,
    /// Events not yet delivered and still tried.
    pub pending: u64,
    /// How long the oldest of them has waited, in seconds; `null` when none.
    #[serde(default)]
    pub oldest_pending_secs: Option<u64>,
    /// Events given up after a day of tries.
    pub dead: u64,
    /// Why the latest try of an event not delivered failed; `null` when none did.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// A status report that matched no part sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnmatchedReportInfo {
    /// RFC 3339: when it arrived.
    pub at: String,
    /// The IMSI of the SIM it came through.
    pub sim: String,
    /// Its TP-MR, when the PDU could be read.
    pub mr: Option<u8>,
    pub recipient: Option<String>,
    /// Its TP-ST.
    pub status: Option<u8>,
    /// Why it matched nothing.
    pub reason: String,
}

/// An answer that comes in pages (see "Paged reads" above): a client that wants every row
/// asks again with `after` set to [`next`](Paged::next) until it is `None`, and
/// [`append`](Paged::append)s each page to the first.
pub trait Paged {
    /// What `after` and `next` hold.
    type Cursor: Clone;
    /// The `after` of the following page, `None` on the last.
    fn next(&self) -> Option<&Self::Cursor>;
    fn set_next(&mut self, next: Option<Self::Cursor>);
    /// Rows on this page.
    fn rows(&self) -> usize;
    /// Keeps the first `n` rows.
    fn truncate(&mut self, n: usize);
    /// Adds the rows of the following page, and takes its `next`.
    fn append(&mut self, page: Self);
}

macro_rules! paged {
    ($($ty:ty => $rows:ident: $cursor:ty;)*) => {$(
        impl Paged for $ty {
            type Cursor = $cursor;
            fn next(&self) -> Option<&$cursor> {
                self.next.as_ref()
            }
            fn set_next(&mut self, next: Option<$cursor>) {
                self.next = next;
            }
            fn rows(&self) -> usize {
                self.$rows.len()
            }
            fn truncate(&mut self, n: usize) {
                self.$rows.truncate(n);
            }
            fn append(&mut self, page: Self) {
                self.$rows.extend(page.$rows);
                self.next = page.next;
            }
        }
    )*};
}

impl Paged for BroadcastShow {
    type Cursor = i64;
    fn next(&self) -> Option<&i64> {
        self.next.as_ref()
    }
    fn set_next(&mut self, next: Option<i64>) {
        self.next = next;
    }
    fn rows(&self) -> usize {
        self.deliveries.len()
    }
    fn truncate(&mut self, n: usize) {
        self.deliveries.truncate(n);
    }
    /// Also takes the later page's counts: each page is read at its own moment, and a delivery
    /// listed as `delivered` must not sit beside an older count that has not seen it yet (the
    /// counts are never older than any listed row).
    fn append(&mut self, page: Self) {
        self.deliveries.extend(page.deliveries);
        self.broadcast = page.broadcast;
        self.dropped = page.dropped;
        self.next = page.next;
    }
}

paged! {
    BroadcastListResult => broadcasts: i64;
    GroupListResult => groups: String;
    GroupShow => members: String;
    InboxListResult => messages: i64;
    MemberListResult => members: String;
    MemberShow => groups: String;
}

/// An answer line. Exactly one of `result`, `error`, `event` is present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    /// A progress event of a `subscribe`; more lines with the same id follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<SubscribeEvent>,
    /// An incoming message of a `subscribe {"inbox": true}`; more lines with the same id follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox: Option<InboxItem>,
}

impl Response {
    pub fn ok(id: u64, result: Value) -> Self {
        Response {
            id,
            ok: Some(true),
            result: Some(result),
            error: None,
            event: None,
            inbox: None,
        }
    }

    pub fn err(id: u64, code: ErrorCode, message: impl Into<String>) -> Self {
        Response {
            id,
            ok: Some(false),
            result: None,
            error: Some(ErrorBody::new(code, message)),
            event: None,
            inbox: None,
        }
    }

    pub fn event(id: u64, event: SubscribeEvent) -> Self {
        Response {
            id,
            ok: None,
            result: None,
            error: None,
            event: Some(event),
            inbox: None,
        }
    }

    /// One incoming message of a `subscribe {"inbox": true}`.
    pub fn inbox(id: u64, message: InboxItem) -> Self {
        Response {
            id,
            ok: None,
            result: None,
            error: None,
            event: None,
            inbox: Some(message),
        }
    }
}

/// A refusal or failure: a stable code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds after which the same request may succeed (`quota_exceeded`: until the quota
    /// resets); absent when waiting would not help. HTTP sends it as `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// The answer line to request `id`.
    pub fn into_response(self, id: u64) -> Response {
        Response::err(id, self.code, self.message)
    }
}

/// Stable error codes. The CLI maps each to an exit status (`cli::exit`, one table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The line is not a request: not JSON, not UTF-8, unknown op or field, missing field.
    BadRequest,
    LineTooLong,
    /// `hello` missing or with another protocol version.
    VersionMismatch,
    /// The Unix user may not do this (management, or acting as a bound member).
    PermissionDenied,
    NotSuperAdmin,
    UnknownGroup,
    UnknownMember,
    UnknownBroadcast,
    /// No inbox message with that id.
    UnknownMessage,
    /// No API token with that id.
    UnknownToken,
    /// HTTP: no bearer token, or one that is unknown, expired or revoked.
    Unauthorized,
    /// HTTP: this token sent more requests than its rate allows; try again after a while.
    RateLimited,
    /// HTTP: the request body is larger than the daemon accepts.
    TooLarge,
    /// HTTP: the request body is not of the type the route takes (`application/json`, or
    /// `text/csv` for imports).
    UnsupportedMediaType,
    /// No modem or quarantined SIM with that device or IMSI.
    UnknownModem,
    /// `member_import_rows` or `member_import_commit` names no import of this connection.
    UnknownImport,
    /// A handle that must be unique is taken.
    AlreadyExists,
    /// A value is not acceptable (phone number, quota, CSV rows, ...).
    InvalidValue,
    QuotaExceeded,
    SensitiveWords,
    TooManyParts,
    NoRecipients,
    /// The database refused to store (read-only, disk full): nothing was accepted.
    Storage,
    /// The connection was turned away: its user has too many open, or the daemon keeps the
    /// rest for administrators. Sent with id 0, then the connection is closed.
    TooManyConnections,
    /// No request for too long, or a request line not finished in time. Sent with id 0, then
    /// the connection is closed.
    TimedOut,
    ShuttingDown,
    Internal,
}

/// Why a line is not a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The id, when it could be read, so the error can be matched to the request.
    pub id: u64,
    pub code: ErrorCode,
    pub message: String,
}

/// Parses one request line (without its newline).
pub fn parse_request(line: &[u8]) -> Result<RequestLine, LineError> {
    let bad = |id: u64, message: String| LineError {
        id,
        code: ErrorCode::BadRequest,
        message,
    };
    if line.len() > MAX_LINE {
        return Err(LineError {
            id: 0,
            code: ErrorCode::LineTooLong,
            message: format!("request line is {} bytes, at most {MAX_LINE}", line.len()),
        });
    }
    let text =
        std::str::from_utf8(line).map_err(|e| bad(0, format!("request is not UTF-8: {e}")))?;
    let Strict(value) = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => bad(0, format!("request refused: {e}")),
        _ => bad(0, format!("request is not JSON: {e}")),
    })?;
    let Value::Object(mut obj) = value else {
        return Err(bad(0, "request must be a JSON object".into()));
    };
    let id = match obj.remove("id") {
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or(0),
        Some(_) => return Err(bad(0, "\"id\" must be a non-negative integer".into())),
        None => return Err(bad(0, "request has no \"id\"".into())),
    };
    if let Some(k) = obj.keys().find(|k| *k != "op" && *k != "args") {
        return Err(bad(
            id,
            format!("unknown field {k:?} (a request has id, op, args)"),
        ));
    }
    match obj.get("args") {
        None => {
            obj.insert("args".into(), Value::Object(Default::default()));
        }
        Some(Value::Object(_)) => {}
        Some(_) => return Err(bad(id, "\"args\" must be an object".into())),
    }
    let request: Request = serde_json::from_value(Value::Object(obj))
        .map_err(|e| bad(id, format!("bad request: {e}")))?;
    Ok(RequestLine { id, request })
}

/// Reads `bytes` as a JSON `T` by the rules of request lines: UTF-8, no key twice in any
/// object, the type's own rules (unknown fields refused). The error is a sentence (serde's,
/// with its line and column). HTTP request bodies are read with it.
pub fn from_json_strict<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    let Strict(value) = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => format!("the body is refused: {e}"),
        _ => format!("the body is not JSON: {e}"),
    })?;
    serde_json::from_value(value).map_err(|e| format!("the body is refused: {e}"))
}

/// A JSON value whose objects have no key twice, at any depth. serde_json alone keeps the
/// last of two equal keys, so `{"text":"a","text":"b"}` would mean what a filter that read the
/// first one did not see.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if obj.contains_key(&key) {
                return Err(A::Error::custom(format!("the key {key:?} appears twice")));
            }
            let Strict(v) = map.next_value()?;
            obj.insert(key, v);
        }
        Ok(Value::Object(obj))
    }
}

/// `Option<Option<T>>` that tells an absent field (`None`) from an explicit null (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(inner) => inner.serialize(s),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_through_json() {
        let line = RequestLine {
            id: 7,
            request: Request::Send(Send {
                group: "ops".into(),
                as_member: "alice".into(),
                text: "开会".into(),
                urgent: false,
            }),
        };
        let json = serde_json::to_string(&line).unwrap();
        assert_eq!(
            json,
            r#"{"id":7,"op":"send","args":{"group":"ops","as":"alice","text":"开会"}}"#
        );
        assert_eq!(parse_request(json.as_bytes()).unwrap(), line);
        let status = parse_request(br#"{"id":1,"op":"status"}"#).unwrap();
        assert_eq!(status.request, Request::Status(Empty {}));
    }

    #[test]
    fn bad_lines_get_clear_errors_with_the_id_when_known() {
        let e = parse_request(b"not json").unwrap_err();
        assert_eq!((e.id, e.code), (0, ErrorCode::BadRequest));
        let e = parse_request(
            br#"{"id":3,"op":"send","args":{"group":"g","as":"a","text":"t","priority":9}}"#,
        )
        .unwrap_err();
        assert_eq!(e.id, 3);
        assert!(e.message.contains("priority"), "{}", e.message);
        let e = parse_request(br#"{"id":4,"op":"launch"}"#).unwrap_err();
        assert!(e.message.contains("launch"), "{}", e.message);
        let e = parse_request(br#"{"id":5,"op":"status","extra":1}"#).unwrap_err();
        assert_eq!(
            e.message,
            "unknown field \"extra\" (a request has id, op, args)"
        );
        let e = parse_request(&[b'{', 0xFF, b'}']).unwrap_err();
        assert!(e.message.contains("UTF-8"));
        let e = parse_request(&vec![b' '; MAX_LINE + 1]).unwrap_err();
        assert_eq!(e.code, ErrorCode::LineTooLong);
    }

    #[test]
    fn duplicate_keys_and_args_that_are_not_objects_are_refused() {
        let e = parse_request(
            br#"{"id":2,"op":"send","args":{"group":"g","as":"a","text":"x","text":"y"}}"#,
        )
        .unwrap_err();
        assert_eq!((e.id, e.code), (0, ErrorCode::BadRequest));
        assert_eq!(
            e.message,
            "request refused: the key \"text\" appears twice at line 1 column 66"
        );
        let e = parse_request(br#"{"id":3,"id":4,"op":"status"}"#).unwrap_err();
        assert_eq!(
            e.message,
            "request refused: the key \"id\" appears twice at line 1 column 12"
        );
        let e = parse_request(br#"{"id":5,"op":"status","args":{"a":{"b":1,"b":2}}}"#).unwrap_err();
        assert!(e.message.contains("\"b\" appears twice"), "{}", e.message);
        for args in ["[]", "null", "1", "\"x\"", "[1]"] {
            let line = format!(r#"{{"id":6,"op":"hello","args":{args}}}"#);
            let e = parse_request(line.as_bytes()).unwrap_err();
            assert_eq!(
                (e.id, e.code, e.message.as_str()),
                (6, ErrorCode::BadRequest, "\"args\" must be an object"),
                "{line}"
            );
        }
        // Numbers, nesting and order survive the strict reading.
        let r = parse_request(br#"{"id":7,"op":"broadcast_list","args":{"limit":5,"group":"g"}}"#)
            .unwrap();
        assert_eq!(
            r.request,
            Request::BroadcastList(BroadcastList {
                group: Some("g".into()),
                limit: Some(5),
                after: None
            })
        );
    }

    #[test]
    fn group_set_tells_absent_from_null() {
        let r = parse_request(br#"{"id":1,"op":"group_set","args":{"group":"g","daily_quota":null,"monthly_quota":40}}"#).unwrap();
        let Request::GroupSet(s) = r.request else {
            panic!()
        };
        assert_eq!(s.daily_quota, Some(None));
        assert_eq!(s.monthly_quota, Some(Some(40)));
        assert_eq!(s.header, None);
    }

    #[test]
    fn subscribe_events_have_the_documented_shape() {
        let line = r#"{"id":3,"event":{"delivery":{"id":19,"number":"+8613900000001","state":"sent","modem":"/dev/gsm/modem0","error":null},"totals":{"broadcast":7,"total":3,"queued":1,"sending":0,"sent":2,"delivered":0,"undelivered":0,"failed":0,"uncertain":0,"cancelled":0,"finished":false}}}"#;
        let r: Response = serde_json::from_str(line).unwrap();
        // An older daemon's counts, without `cancelled`, still read (as 0).
        let older: Response = serde_json::from_str(&line.replace(r#""cancelled":0,"#, "")).unwrap();
        assert_eq!(older.event.map(|e| e.totals.cancelled), Some(0));
        let ev = r.event.clone().unwrap();
        assert_eq!((ev.totals.total, ev.totals.done()), (3, 2));
        assert_eq!(ev.delivery.as_ref().map(|d| d.id), Some(19));
        assert_eq!(serde_json::to_string(&r).unwrap(), line);
        // The snapshot that opens a subscription has no delivery, and says so by its absence.
        let snapshot = Response::event(
            3,
            SubscribeEvent {
                delivery: None,
                totals: ev.totals,
            },
        );
        assert!(!serde_json::to_string(&snapshot)
            .unwrap()
            .contains("delivery"));
    }

    #[test]
    fn absent_optional_fields_stay_absent_after_a_round_trip() {
        // Found by the request_parse fuzz target: an absent field must not come back as null.
        let line = parse_request(br#"{"id":1,"op":"group_set","args":{"group":"g"}}"#).unwrap();
        let again = parse_request(serde_json::to_string(&line).unwrap().as_bytes()).unwrap();
        assert_eq!(again, line);
    }
}
