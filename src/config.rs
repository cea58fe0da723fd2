//! The daemon's configuration: a TOML file (`--config FILE` or `GROUPSMS_CONFIG`), every key
//! optional with a sensible default. Unknown keys and bad values are errors that name the key
//! and the line. Loading reads the file and nothing else: it opens no device or database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};

use crate::domain::InFlightPolicy;
use crate::modem::port::DEFAULT_BAUD;
use crate::service::{
    optout, Country, QuietHours, SensitivePolicy, DEFAULT_DAILY_QUOTA, DEFAULT_HEADER,
    DEFAULT_MAX_PARTS, DEFAULT_MONTHLY_QUOTA, DEFAULT_TIMEZONE,
};
use crate::store::QuotaPeriod;

/// Where the CLI and the daemon look for the configuration when neither `--config` nor
/// `GROUPSMS_CONFIG` names one; a missing file there means the built-in defaults.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/groupsms/groupsms.toml";

/// Where the daemon listens and keeps its state, and the rules' parameters.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub daemon: DaemonConfig,
    pub quota: QuotaConfig,
    pub message: MessageConfig,
    pub optout: OptOutConfig,
    pub scheduler: SchedulerConfig,
    pub inbox: InboxConfig,
    pub routing: RoutingConfig,
    pub http: HttpConfig,
    #[serde(rename = "modem")]
    pub modems: Vec<ModemTable>,
    /// `[[webhook]]`: endpoints that are told of events (see `crate::webhooks`).
    #[serde(rename = "webhook")]
    pub webhooks: Vec<WebhookConfig>,
    /// Groups Alertmanager may page by SMS (`POST /v1/alertmanager/{group}`).
    pub alertmanager: Vec<AlertmanagerTable>,
    /// DingTalk outgoing robots whose chats may send (`POST /v1/dingtalk/{robot}`).
    #[serde(rename = "dingtalk_robot")]
    pub dingtalk_robots: Vec<DingtalkRobotTable>,
}

/// One `[[webhook]]`: where events of the listed types are POSTed, and how they are signed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://`. A robot's URL carries its token: it is never logged or shown
    /// whole (`status` shows scheme, host and path).
    pub url: String,
    /// What `status` and the log call it (default: the URL without its query).
    #[serde(default)]
    pub name: Option<String>,
    /// Any of `inbound`, `delivery`, `broadcast_finished`, `modem`.
    pub events: Vec<String>,
    /// The signing secret, or
    #[serde(default)]
    pub secret: Option<Secret>,
    /// a file holding it (read when the daemon starts, trailing newline ignored), so the
    /// configuration need not hold it.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    #[serde(default)]
    pub format: WebhookFormat,
}

/// A secret from the configuration: compared and cloned, never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// What a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The event as JSON, signed in `X-Groupsms-Signature`.
    #[default]
    Json,
    /// A DingTalk group robot: a short text, signed in the URL (`timestamp`, `sign`).
    Dingtalk,
    /// A WeCom (WeChat Work) group robot: a short text; the key in its URL is its only secret.
    Wecom,
    /// A Feishu (Lark) custom bot: a short text, signed in the body (`timestamp`, `sign`).
    Feishu,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Dingtalk => "dingtalk",
            WebhookFormat::Wecom => "wecom",
            WebhookFormat::Feishu => "feishu",
        }
    }
}

/// One `[[alertmanager]]` table: a group Alertmanager's webhook may send to, as whom, how its
/// notifications are written, and how long an identical one is not sent again.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerTable {
    /// The group's handle (the `{group}` of the route).
    pub group: String,
    /// The member the messages are sent as: a super-admin of the group, whom the token's
    /// member may act as (the same rules as any send).
    pub as_member: String,
    /// The message's first line; placeholders: `{status}`, `{firing}`, `{resolved}`,
    /// `{receiver}`, `{alertname}`, `{severity}`, `{summary}`, `{labels.NAME}`,
    /// `{annotations.NAME}` (of the labels and annotations all alerts share).
    #[serde(default = "default_alert_title")]
    pub title: String,
    /// One line per alert, firing ones first; the same placeholders, of that alert, plus
    /// `{description}`, `{instance}` and `{starts_at}`.
    #[serde(default = "default_alert_line")]
    pub line: String,
    /// Seconds in which an identical notification is not sent again (Alertmanager's default
    /// `repeat_interval` is 4 h).
    #[serde(default = "default_repeat_window_secs")]
    pub repeat_window_secs: u64,
    /// Parts the message is cut to (a note says how many alerts were left out); absent:
    /// `[message] max_parts`, and never more.
    #[serde(default)]
    pub max_parts: Option<usize>,
    /// Send as urgent (start inside the quiet hours), where the group allows it.
    #[serde(default)]
    pub urgent: bool,
}

/// The first line of an Alertmanager message unless configured.
pub const DEFAULT_ALERT_TITLE: &str = "[{status}] {firing} firing, {resolved} resolved";
/// One alert's line unless configured.
pub const DEFAULT_ALERT_LINE: &str = "{status} {alertname} {severity}: {summary}";
/// The prefix of a DingTalk chat message that sends unless configured.
pub const DEFAULT_DINGTALK_PREFIX: &str = "群发";

fn default_alert_title() -> String {
    DEFAULT_ALERT_TITLE.into()
}
fn default_alert_line() -> String {
    DEFAULT_ALERT_LINE.into()
}
fn default_repeat_window_secs() -> u64 {
    4 * 3600
}
fn default_dingtalk_prefix() -> String {
    DEFAULT_DINGTALK_PREFIX.into()
}

/// One `[[dingtalk_robot]]` table: a DingTalk outgoing robot whose chat messages starting
/// with `prefix` are sent to `group` as the member the sender is mapped to.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DingtalkRobotTable {
    /// The robot's name in the route (`/v1/dingtalk/{name}`).
    pub name: String,
    /// The robot's AppSecret: DingTalk signs each request with it.
    pub app_secret: String,
    /// The group a `群发 <text>` message is sent to.
    pub group: String,
    /// The chat message's prefix that asks for a send.
    #[serde(default = "default_dingtalk_prefix")]
    pub prefix: String,
    /// DingTalk user id (`senderStaffId`, else `senderId`) -> member handle.
    #[serde(default)]
    pub users: std::collections::BTreeMap<String, String>,
}

/// Never prints the secret (configurations are logged and shown in errors).
impl std::fmt::Debug for DingtalkRobotTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DingtalkRobotTable")
            .field("name", &self.name)
            .field("app_secret", &"<hidden>")
            .field("group", &self.group)
            .field("prefix", &self.prefix)
            .field("users", &self.users)
            .finish()
    }
}

/// The HTTP API (`daemon::http`): off unless `listen` names an address. TLS is left to a
/// reverse proxy in front (README: HTTP API).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Addresses to listen on, `"127.0.0.1:8080"` or a list; none: no HTTP listener.
    #[serde(deserialize_with = "one_or_many")]
    pub listen: Vec<String>,
    /// The largest request body taken, but for CSV imports.
    pub max_body_bytes: u64,
    /// The largest CSV import body (`text/csv`).
    pub max_import_bytes: u64,
    /// A request not answered in this time is answered 408 (event streams excepted).
    pub request_timeout_secs: u64,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: u64,
    /// Requests each token may make a minute, on average ...
    pub rate_per_minute: u64,
    /// ... and at once after a quiet while.
    pub rate_burst: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: Vec::new(),
            max_body_bytes: 1 << 20,
            max_import_bytes: 32 << 20,
            request_timeout_secs: 30,
            max_connections: 1024,
            rate_per_minute: 600,
            rate_burst: 60,
        }
    }
}

impl WebhookConfig {
    /// The checks of one `[[webhook]]` (the `nth`, 0-based): the message, and the key it is
    /// about (for its line).
    fn check(&self) -> Result<(), (&'static str, String)> {
        let url = reqwest::Url::parse(&self.url).map_err(|e| {
            (
                "url",
                format!(
                    "url is not a URL ({e}); write it as http://host/path or https://host/path"
                ),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err((
                "url",
                format!(
                    "url must be http:// or https:// with a host, not {}://",
                    url.scheme()
                ),
            ));
        }
        if self.events.is_empty() {
            return Err((
                "events",
                "events is empty: list at least one of inbound, delivery, broadcast_finished, modem"
                    .into(),
            ));
        }
        for e in &self.events {
            let Some(kind) = crate::store::EventKind::parse(e) else {
                return Err((
                    "events",
                    format!(
                        "unknown event {e:?}: the events are inbound, delivery, broadcast_finished, modem"
                    ),
                ));
            };
            if kind == crate::store::EventKind::Delivery && self.format != WebhookFormat::Json {
                return Err((
                    "events",
                    format!(
                        "a {} robot does not take delivery events (one chat message per SMS \
                         would flood the group); use broadcast_finished, or format = \"json\"",
                        self.format.as_str()
                    ),
                ));
            }
        }
        if let Some(Secret(s)) = &self.secret {
            if s.is_empty() {
                return Err(("secret", "secret is empty".into()));
            }
        }
        if self.secret.is_some() && self.secret_file.is_some() {
            return Err(("secret_file", "give secret or secret_file, not both".into()));
        }
        let has_secret = self.secret.is_some() || self.secret_file.is_some();
        match self.format {
            WebhookFormat::Json if !has_secret => Err((
                "url",
                "a json webhook is signed: give secret = \"...\" or secret_file = \"/path\""
                    .into(),
            )),
            WebhookFormat::Wecom if has_secret => Err((
                if self.secret.is_some() { "secret" } else { "secret_file" },
                "a wecom robot has no signature (the key in its URL is its secret): remove the secret"
                    .into(),
            )),
            _ => Ok(()),
        }
    }
}

impl HttpConfig {
    /// The addresses to listen on, or which one is not an address.
    pub fn addresses(&self) -> Result<Vec<std::net::SocketAddr>, String> {
        self.listen
            .iter()
            .map(|a| {
                a.trim().parse().map_err(|_| {
                    format!("listen {a:?} is not an address and port such as \"127.0.0.1:8080\" or \"[::1]:8080\"")
                })
            })
            .collect()
    }
}

/// A string or a list of strings.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => Ok(vec![s]),
        OneOrMany::Many(v) => Ok(v),
    }
}

/// Carrier-aware routing (`service::routing`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Prefer a SIM of the recipient's carrier (any SIM when none is free).
    pub prefer_same_carrier: bool,
    /// Carrier name -> E.164 prefixes of its numbers; absent: mainland China's three.
    pub carriers: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            prefer_same_carrier: true,
            carriers: None,
        }
    }
}

impl RoutingConfig {
    /// The prefix table: the configured one, else the built-in.
    pub fn table(&self) -> Result<crate::service::routing::CarrierTable, String> {
        match &self.carriers {
            Some(c) => crate::service::routing::CarrierTable::new(c),
            None => Ok(Default::default()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    pub socket: PathBuf,
    /// An SQLite file, or a `postgres://user@host/dbname` URL ([`DaemonConfig::database`]).
    pub database: PathBuf,
    /// The PostgreSQL password, in a file of its own (else `$PGPASSWORD`, else none).
    pub database_password_file: Option<PathBuf>,
    /// With `sslmode=require`: the certificate authorities (PEM) the PostgreSQL server's
    /// certificate is checked against (else the system's).
    pub database_ca_file: Option<PathBuf>,
    /// IANA zone in which quota days and months are counted (checked when the file is read).
    #[serde(deserialize_with = "zone")]
    pub timezone: Tz,
    /// ISO 3166 alpha-2 country for numbers written without `+`.
    pub default_country: String,
    /// Besides root, the Unix users who may manage groups and members.
    pub admin_uids: Vec<u32>,
    /// What to do with deliveries left in `sending` by a crash (at start) or by another host
    /// that went silent (after its lease).
    pub in_flight_policy: InFlightPolicy,
    /// This daemon's name among the daemons sharing a PostgreSQL database (`None`: the
    /// machine's host name). Each daemon on one database needs its own.
    pub host: Option<String>,
    /// Seconds after its last heartbeat (one every third of this) that a silent daemon's
    /// deliveries in flight are recovered by another daemon on the same database.
    pub lease_secs: u64,
    /// Seconds a write waits for the database's lock (another writer: an operator's `sqlite3`
    /// shell, another host's large import) before it is refused as busy. The outcome of a
    /// message that went out is kept and written again; a request is answered `busy`.
    pub lock_wait_secs: u64,
    /// Start even when the socket or a modem glob is in a world-writable directory (warns).
    pub allow_world_writable: bool,
    /// Socket connections one Unix user who is not an administrator may have open at once.
    pub max_connections_per_uid: usize,
    /// Connections open in all above which users who are not administrators are turned away
    /// (administrators still get in); `None`: three quarters of the open-file limit.
    pub max_connections: Option<usize>,
    /// Seconds a greeted connection may go without a request (not counting a `subscribe`
    /// being streamed) before it is closed.
    pub idle_timeout_secs: u64,
    /// Seconds a request line may take from its first byte to its newline.
    pub request_timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaConfig {
    /// Broadcasts per group per day.
    pub daily: u32,
    /// Broadcasts per group per month.
    pub monthly: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessageConfig {
    /// Header put before every group message; `{name}` is the group's display name.
    pub header: String,
    /// Put after every group message (`回TD退订`), counted in its parts; empty: none.
    pub footer: String,
    /// Longest message, in SMS parts (header included).
    pub max_parts: usize,
    /// Files of sensitive words, one per line (`#` starts a comment).
    pub sensitive_words: Vec<PathBuf>,
    pub sensitive_policy: SensitivePolicy,
    /// Ask for a status report on every part (TP-SRR) and route reports from the modems, so
    /// deliveries become `delivered` or `undelivered`.
    pub delivery_reports: bool,
}

/// Keyword replies by SMS (`[optout]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptOutConfig {
    /// A reply that is one of these (case, width, spaces and punctuation aside) opts out.
    pub keywords: Vec<String>,
    /// A reply that is one of these opts back in.
    pub optin_keywords: Vec<String>,
    /// The confirmation sent back once a day at most; `{name}` is the group's name; empty:
    /// none.
    pub confirm: String,
    pub optin_confirm: String,
}

impl Default for OptOutConfig {
    fn default() -> Self {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        OptOutConfig {
            keywords: own(optout::DEFAULT_OPTOUT_KEYWORDS),
            optin_keywords: own(optout::DEFAULT_OPTIN_KEYWORDS),
            confirm: optout::DEFAULT_CONFIRM.into(),
            optin_confirm: optout::DEFAULT_OPTIN_CONFIRM.into(),
        }
    }
}

impl OptOutConfig {
    /// The keywords, checked and normalized.
    pub fn keywords(&self) -> Result<optout::Keywords, optout::KeywordError> {
        optout::Keywords::new(&self.keywords, &self.optin_keywords)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Attempts per recipient before it is marked failed (transient errors only).
    pub max_attempts: u32,
    /// First retry delay in seconds; doubles per attempt.
    pub retry_backoff_secs: u64,
    /// Distinct SIMs a transient failure is retried on at once (on a SIM that has not failed
    /// it) before the back-off applies; 0: back off before every retry.
    pub retry_elsewhere: u32,
    /// Seconds to wait for `+CMGS` after Ctrl-Z before the part counts as ambiguous.
    pub send_timeout_secs: u64,
    /// Seconds between probes of a quarantined or missing modem.
    pub reprobe_secs: u64,
    /// `"22:00-07:30"`: no broadcast starts in this daily window (local time of
    /// `[daemon] timezone`) unless sent urgent where its group allows it; `None`: never quiet.
    #[serde(deserialize_with = "quiet")]
    pub quiet_hours: Option<QuietHours>,
    /// Hours a SIM showing signs of a carrier block is kept from sending (unless an
    /// administrator releases it first).
    pub quarantine_hours: u64,
    /// Phrases that make a carrier service number's notice (10086, 10010, 10000) a sign of a
    /// block (`service::carrier`).
    pub block_notice_phrases: Vec<String>,
}

/// Incoming messages.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboxConfig {
    /// A member's message arriving on a SIM that sent them a broadcast within this many hours
    /// is linked to that broadcast as its reply.
    pub reply_window_hours: u64,
    /// Seconds an incomplete concatenated message waits for its missing parts before it is
    /// shown (as incomplete, with the parts it has).
    pub incomplete_after_secs: u64,
}

impl Default for InboxConfig {
    fn default() -> Self {
        InboxConfig {
            reply_window_hours: crate::service::inbox::DEFAULT_REPLY_WINDOW_HOURS,
            incomplete_after_secs: crate::service::inbox::DEFAULT_INCOMPLETE_AFTER_SECS,
        }
    }
}

impl InboxConfig {
    /// The rules' settings, numbers read as `country`'s.
    pub fn settings(&self, country: Country) -> crate::service::inbox::InboxSettings {
        crate::service::inbox::InboxSettings {
            country,
            reply_window: chrono::Duration::hours(self.reply_window_hours as i64),
            incomplete_after: chrono::Duration::seconds(self.incomplete_after_secs as i64),
        }
    }
}

/// One `[[modem]]` table: a device path or glob and its SIM's limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModemTable {
    /// A path (`/dev/gsm/modem0`) or a glob (`/dev/gsm/*`).
    pub device: String,
    #[serde(default = "default_baud")]
    pub baud: u32,
    #[serde(default)]
    pub pin: Option<String>,
    /// Per-SIM caps; the defaults follow the carriers' limits on ordinary Chinese SIMs
    /// (200 per hour, 1000 per day).
    #[serde(default = "default_per_hour")]
    pub max_per_hour: u32,
    #[serde(default = "default_per_day")]
    pub max_per_day: u32,
    /// Quiet time between the modem's last answer and our next command, in ms (u-blox
    /// advises >= 20; 0 for modems, or emulators, that need none).
    #[serde(default = "default_command_gap_ms")]
    pub command_gap_ms: u64,
    /// How long to wait for the `>` prompt after `AT+CMGS`, in seconds.
    #[serde(default = "default_prompt_timeout_secs")]
    pub prompt_timeout_secs: u64,
    /// Optional pacing: after each message, this SIM rests a random time between the two
    /// values, in ms (a steady pace below the carrier's limits; off when absent).
    #[serde(default)]
    pub pace_ms: Option<[u64; 2]>,
    /// The SIM's carrier (a name of `[routing] carriers`); absent: learnt from its IMSI.
    #[serde(default)]
    pub carrier: Option<String>,
}

impl ModemTable {
    /// `device` (a path or a glob) with the default baud rate, no PIN and the default caps.
    pub fn new(device: impl Into<String>) -> ModemTable {
        ModemTable {
            device: device.into(),
            baud: default_baud(),
            pin: None,
            max_per_hour: default_per_hour(),
            max_per_day: default_per_day(),
            command_gap_ms: default_command_gap_ms(),
            prompt_timeout_secs: default_prompt_timeout_secs(),
            pace_ms: None,
            carrier: None,
        }
    }
}

fn default_baud() -> u32 {
    DEFAULT_BAUD
}

/// An IANA zone name, parsed once when the file is read.
fn zone<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map_err(|_| {
        serde::de::Error::custom(format!("timezone {name:?} is not an IANA time zone"))
    })
}
/// `quiet_hours = "HH:MM-HH:MM"`, parsed once when the file is read.
fn quiet<'de, D: Deserializer<'de>>(d: D) -> Result<Option<QuietHours>, D::Error> {
    let text = String::deserialize(d)?;
    QuietHours::parse(&text)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("[scheduler] {e}")))
}

fn default_per_hour() -> u32 {
    200
}
fn default_per_day() -> u32 {
    1000
}
fn default_command_gap_ms() -> u64 {
    20
}
fn default_prompt_timeout_secs() -> u64 {
    10
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            socket: PathBuf::from("/run/groupsms/groupsms.sock"),
            database: PathBuf::from("/var/lib/groupsms/groupsms.db"),
            database_password_file: None,
            database_ca_file: None,
            timezone: DEFAULT_TIMEZONE,
            default_country: Country::default().iso().into(),
            admin_uids: Vec::new(),
            in_flight_policy: InFlightPolicy::default(),
            host: None,
            lease_secs: 30,
            lock_wait_secs: crate::store::DEFAULT_BUSY_TIMEOUT.as_secs(),
            allow_world_writable: false,
            max_connections_per_uid: 64,
            max_connections: None,
            idle_timeout_secs: 600,
            request_timeout_secs: 10,
        }
    }
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            daily: DEFAULT_DAILY_QUOTA,
            monthly: DEFAULT_MONTHLY_QUOTA,
        }
    }
}

impl Default for MessageConfig {
    fn default() -> Self {
        MessageConfig {
            header: DEFAULT_HEADER.into(),
            footer: String::new(),
            max_parts: DEFAULT_MAX_PARTS,
            sensitive_words: Vec::new(),
            sensitive_policy: SensitivePolicy::default(),
            delivery_reports: true,
        }
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            max_attempts: 5,
            retry_backoff_secs: 2,
            retry_elsewhere: 2,
            send_timeout_secs: 15,
            reprobe_secs: 10,
            quiet_hours: None,
            quarantine_hours: 24,
            block_notice_phrases: crate::service::carrier::DEFAULT_BLOCK_PHRASES
                .iter()
                .map(|p| p.to_string())
                .collect(),
        }
    }
}

impl DaemonConfig {
    /// The database `database` names (checked when the file is read).
    pub fn database(&self) -> Result<crate::store::Database, String> {
        crate::store::Database::parse(&self.database)
    }

    /// [`database`](Self::database) with PostgreSQL's password set: the first line of
    /// `database_password_file`, else `$PGPASSWORD`, else none (trust or peer
    /// authentication); and `database_ca_file` for TLS. Reads the password file: call it where
    /// the database is opened.
    pub fn database_with_password(&self) -> Result<crate::store::Database, String> {
        let crate::store::Database::Postgres(target) = self.database()? else {
            return self.database();
        };
        let password = match &self.database_password_file {
            Some(file) => Some(
                std::fs::read_to_string(file)
                    .map_err(|e| {
                        format!("[daemon] database_password_file {}: {e}", file.display())
                    })?
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            ),
            None => std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()),
        };
        let target = match password {
            Some(p) => target.with_password(&p),
            None => *target,
        };
        Ok(crate::store::Database::Postgres(Box::new(
            match &self.database_ca_file {
                Some(file) => target.with_ca_file(file.clone()),
                None => target,
            },
        )))
    }

    /// This daemon's host name: `host`, else the machine's (a name that cannot be one, such
    /// as one with spaces, is an error naming the setting to use).
    pub fn host_name(&self) -> Result<String, String> {
        let name = match &self.host {
            Some(h) => h.clone(),
            None => nix::unistd::gethostname()
                .map_err(|e| {
                    format!("cannot read the machine's host name ({e}); set [daemon] host")
                })?
                .to_string_lossy()
                .into_owned(),
        };
        crate::store::hosts::check_host_name(&name).map_err(|e| match &self.host {
            Some(_) => format!("[daemon] host {name:?}: {e}"),
            None => format!(
                "the machine's host name {name:?} cannot name this daemon ({e}); set [daemon] host"
            ),
        })?;
        Ok(name)
    }

    /// The lease as a duration.
    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease_secs)
    }

    /// How the daemon opens its database: writes wait `lock_wait_secs` for the lock.
    pub fn store_options(&self) -> crate::store::OpenOptions {
        crate::store::OpenOptions {
            busy_timeout: std::time::Duration::from_secs(self.lock_wait_secs),
        }
    }

    /// The socket may not be the database (or one of SQLite's files beside it, or the daemon's
    /// lock file), nor inside it,
    /// nor contain it: the daemon replaces a stale socket at its path, and a socket path that
    /// named the database once cost the whole database. Compared as written (`.` and repeated
    /// `/` ignored); the daemon also never removes anything at the socket path that is not a
    /// socket.
    pub fn check_paths(&self) -> Result<(), String> {
        if !matches!(self.database()?, crate::store::Database::Sqlite(_)) {
            return Ok(());
        }
        let plain = |p: &Path| -> PathBuf {
            p.components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect()
        };
        let socket = plain(&self.socket);
        let database = plain(&self.database);
        let mut beside: Vec<PathBuf> = ["-wal", "-shm", "-journal"]
            .iter()
            .map(|suffix| {
                let mut name = database.as_os_str().to_owned();
                name.push(suffix);
                PathBuf::from(name)
            })
            .collect();
        beside.push(crate::lockfile::path_for(&database));
        if socket.starts_with(&database)
            || database.starts_with(&socket)
            || beside.contains(&socket)
        {
            return Err(format!(
                "[daemon] socket ({}) and database ({}) must be different files, neither inside \
                 the other",
                self.socket.display(),
                self.database.display()
            ));
        }
        Ok(())
    }
}

/// A configuration that could not be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// One number of the configuration and what it may be.
struct Bound {
    table: &'static str,
    /// Which `[[modem]]` table, for their keys.
    modem: Option<usize>,
    key: &'static str,
    value: u64,
    min: u64,
    max: u64,
    /// After the bounds in the message: " seconds", " ms", ...
    unit: &'static str,
}

impl Bound {
    fn new(table: &'static str, key: &'static str, value: u64) -> Bound {
        Bound {
            table,
            modem: None,
            key,
            value,
            min: 0,
            max: u64::MAX,
            unit: "",
        }
    }

    fn range(self, min: u64, max: u64, unit: &'static str) -> Bound {
        Bound {
            min,
            max,
            unit,
            ..self
        }
    }
}

/// The 1-based line of `key = ...` in the `nth` (0-based) table named `table` (`[table]` or
/// `[[table]]`), if it is written there.
fn line_of(text: &str, table: &str, nth: usize, key: &str) -> Option<usize> {
    let mut current: Option<(String, usize)> = None;
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let name = header
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            let count = seen.entry(name.clone()).or_default();
            current = Some((name, *count));
            *count += 1;
            continue;
        }
        let here = current
            .as_ref()
            .is_some_and(|(name, n)| name == table && *n == nth);
        let is_key = line
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if here && is_key {
            return Some(i + 1);
        }
    }
    None
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.into(),
            message,
        })
    }

    /// [`Config::load`] when `path` exists, the built-in defaults when it does not (any other
    /// error, such as a file that cannot be read, is reported).
    pub fn load_or_default(path: &Path) -> Result<Config, ConfigError> {
        match Config::load(path) {
            Err(ConfigError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(Config::default())
            }
            other => other,
        }
    }

    /// Parses and checks TOML text; the error names the key and the line.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            let msg = e.message().trim().to_string();
            match line {
                Some(l) => format!("line {l}: {msg}"),
                None => msg,
            }
        })?;
        config.check(text)?;
        Ok(config)
    }

    fn check(&self, text: &str) -> Result<(), String> {
        // "line N: " of `key` in the `nth` table called `table` (the first for plain tables).
        let at = |table: &str, nth: usize, key: &str| {
            line_of(text, table, nth, key)
                .map(|l| format!("line {l}: "))
                .unwrap_or_default()
        };
        let country = &self.daemon.default_country;
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "{}default_country {country:?} is not an ISO 3166 two-letter code",
                at("daemon", 0, "default_country")
            ));
        }
        if let Some(host) = &self.daemon.host {
            if let Err(e) = crate::store::hosts::check_host_name(host) {
                return Err(format!(
                    "{}[daemon] host {host:?}: {e}",
                    at("daemon", 0, "host")
                ));
            }
        }
        if self.daemon.admin_uids.contains(&u32::MAX) {
            return Err(format!(
                "{}[daemon] admin_uids: 4294967295 is not a user id (it stands for \"no user\")",
                at("daemon", 0, "admin_uids")
            ));
        }
        if let Err(e) = crate::service::quota::check_limits(self.quota.daily, self.quota.monthly) {
            let key = match e.period() {
                QuotaPeriod::Day => "daily",
                QuotaPeriod::Month => "monthly",
            };
            return Err(format!("{}[quota] {e}", at("quota", 0, key)));
        }
        for bound in self.bounds() {
            if !(bound.min..=bound.max).contains(&bound.value) {
                let (table, nth) = match bound.modem {
                    Some(i) => ("modem", i),
                    None => (bound.table, 0),
                };
                let label = match bound.modem {
                    Some(i) => format!("modem {}:", self.modems[i].device),
                    None => format!("[{}]", bound.table),
                };
                return Err(format!(
                    "{}{label} {} must be {} to {}{}, not {}",
                    at(table, nth, bound.key),
                    bound.key,
                    bound.min,
                    bound.max,
                    bound.unit,
                    bound.value
                ));
            }
        }
        if let Err(e) = self.optout.keywords() {
            let key = match e {
                optout::KeywordError::Empty { list, .. } => list,
                optout::KeywordError::Overlap { .. } => "optin_keywords",
            };
            return Err(format!("{}[optout] {e}", at("optout", 0, key)));
        }
        if let Err(e) = self.routing.table() {
            return Err(format!(
                "{}[routing] carriers: {e}",
                at("routing", 0, "carriers")
            ));
        }
        if let Err(e) = crate::service::carrier::check_phrases(&self.scheduler.block_notice_phrases)
        {
            return Err(format!(
                "{}[scheduler] block_notice_phrases: {e}",
                at("scheduler", 0, "block_notice_phrases")
            ));
        }
        if let Err(e) = self.daemon.database() {
            return Err(format!(
                "{}[daemon] database: {e}",
                at("daemon", 0, "database")
            ));
        }
        self.daemon
            .check_paths()
            .map_err(|e| format!("{}{e}", at("daemon", 0, "socket")))?;
        for (i, w) in self.webhooks.iter().enumerate() {
            if let Err((key, e)) = w.check() {
                return Err(format!(
                    "{}[[webhook]] {}: {e}",
                    at("webhook", i, key),
                    i + 1
                ));
            }
            // An endpoint's events are kept under its URL: two tables of one URL would be one.
            if let Some(first) = self.webhooks[..i].iter().position(|o| o.url == w.url) {
                return Err(format!(
                    "{}[[webhook]] {}: the same url as [[webhook]] {}; list all its events in one table",
                    at("webhook", i, "url"),
                    i + 1,
                    first + 1
                ));
            }
        }
        if let Err(e) = self.http.addresses() {
            return Err(format!("{}[http] {e}", at("http", 0, "listen")));
        }
        self.check_adapters(&at)?;
        for (i, m) in self.modems.iter().enumerate() {
            if m.device.trim().is_empty() {
                return Err(format!("{}modem device is empty", at("modem", i, "device")));
            }
            if let Some([min, max]) = m.pace_ms {
                if min > max {
                    return Err(format!(
                        "{}[[modem]] pace_ms = [{min}, {max}]: the shortest pause comes first",
                        at("modem", i, "pace_ms")
                    ));
                }
            }
            if let Some(pin) = &m.pin {
                if !(4..=8).contains(&pin.len()) || !pin.chars().all(|c| c.is_ascii_digit()) {
                    return Err(format!(
                        "{}modem {}: a PIN is 4 to 8 digits",
                        at("modem", i, "pin"),
                        m.device
                    ));
                }
            }
        }
        Ok(())
    }

    /// `[[alertmanager]]` and `[[dingtalk_robot]]`: names present and unique, numbers in
    /// bounds (their templates are checked when the daemon builds its routes).
    fn check_adapters(&self, at: &dyn Fn(&str, usize, &str) -> String) -> Result<(), String> {
        let mut groups = std::collections::HashSet::new();
        for (i, a) in self.alertmanager.iter().enumerate() {
            for (key, value) in [("group", &a.group), ("as_member", &a.as_member)] {
                if value.trim().is_empty() {
                    return Err(format!(
                        "{}[[alertmanager]] {key} is empty",
                        at("alertmanager", i, key)
                    ));
                }
            }
            if !groups.insert(a.group.as_str()) {
                return Err(format!(
                    "{}[[alertmanager]] group '{}' has two tables; keep one",
                    at("alertmanager", i, "group"),
                    a.group
                ));
            }
            if !(1..=30 * 86_400).contains(&a.repeat_window_secs) {
                return Err(format!(
                    "{}[[alertmanager]] {}: repeat_window_secs must be 1 to 2592000 seconds, not {}",
                    at("alertmanager", i, "repeat_window_secs"),
                    a.group,
                    a.repeat_window_secs
                ));
            }
            if let Some(max) = a.max_parts {
                if !(1..=self.message.max_parts).contains(&max) {
                    return Err(format!(
                        "{}[[alertmanager]] {}: max_parts must be 1 to {} ([message] max_parts), not {max}",
                        at("alertmanager", i, "max_parts"),
                        a.group,
                        self.message.max_parts
                    ));
                }
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, r) in self.dingtalk_robots.iter().enumerate() {
            for (key, value) in [
                ("name", &r.name),
                ("app_secret", &r.app_secret),
                ("group", &r.group),
                ("prefix", &r.prefix),
            ] {
                if value.trim().is_empty() {
                    return Err(format!(
                        "{}[[dingtalk_robot]] {key} is empty",
                        at("dingtalk_robot", i, key)
                    ));
                }
            }
            if !r
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "{}[[dingtalk_robot]] name {:?}: letters, digits, '-' and '_' only (it is part of a URL)",
                    at("dingtalk_robot", i, "name"),
                    r.name
                ));
            }
            if !names.insert(r.name.as_str()) {
                return Err(format!(
                    "{}[[dingtalk_robot]] name '{}' has two tables; keep one",
                    at("dingtalk_robot", i, "name"),
                    r.name
                ));
            }
            if let Some((user, _)) = r
                .users
                .iter()
                .find(|(user, member)| user.trim().is_empty() || member.trim().is_empty())
            {
                return Err(format!(
                    "{}[[dingtalk_robot]] {}: users has an empty user id or member ({user:?})",
                    at("dingtalk_robot", i, "users"),
                    r.name
                ));
            }
        }
        Ok(())
    }

    /// Every number of the configuration with its bounds (the quotas have their own rule,
    /// `service::quota::check_limits`). The upper bounds keep durations and counters far from
    /// overflowing and name values no installation needs; zero is refused wherever it would
    /// mean "never" or "at once, in a loop".
    fn bounds(&self) -> Vec<Bound> {
        let d = &self.daemon;
        let s = &self.scheduler;
        let mut out = vec![
            Bound::new(
                "daemon",
                "max_connections_per_uid",
                d.max_connections_per_uid as u64,
            )
            .range(1, 65_536, ""),
            Bound::new("daemon", "idle_timeout_secs", d.idle_timeout_secs)
                .range(1, 86_400, " seconds"),
            Bound::new("daemon", "request_timeout_secs", d.request_timeout_secs)
                .range(1, 3_600, " seconds"),
            Bound::new("daemon", "lease_secs", d.lease_secs).range(2, 3_600, " seconds"),
            Bound::new("daemon", "lock_wait_secs", d.lock_wait_secs).range(1, 300, " seconds"),
            Bound::new("http", "max_body_bytes", self.http.max_body_bytes).range(
                1024,
                64 << 20,
                " bytes",
            ),
            Bound::new("http", "max_import_bytes", self.http.max_import_bytes).range(
                1024,
                256 << 20,
                " bytes",
            ),
            Bound::new(
                "http",
                "request_timeout_secs",
                self.http.request_timeout_secs,
            )
            .range(1, 3_600, " seconds"),
            Bound::new("http", "max_connections", self.http.max_connections).range(1, 65_536, ""),
            Bound::new("http", "rate_per_minute", self.http.rate_per_minute).range(
                1,
                1_000_000,
                " requests",
            ),
            Bound::new("http", "rate_burst", self.http.rate_burst).range(1, 100_000, " requests"),
            Bound::new("message", "max_parts", self.message.max_parts as u64).range(
                1,
                crate::sms::segment::MAX_PARTS_LIMIT as u64,
                "",
            ),
            Bound::new("scheduler", "max_attempts", s.max_attempts.into()).range(1, 100, ""),
            // Retries never wait more than 5 minutes (`scheduler::policy`), whatever this is.
            Bound::new("scheduler", "retry_backoff_secs", s.retry_backoff_secs)
                .range(0, 300, " seconds"),
            Bound::new("scheduler", "retry_elsewhere", s.retry_elsewhere.into())
                .range(0, 64, " SIMs"),
            Bound::new("scheduler", "send_timeout_secs", s.send_timeout_secs)
                .range(1, 600, " seconds"),
            Bound::new("scheduler", "reprobe_secs", s.reprobe_secs).range(1, 3_600, " seconds"),
            Bound::new("scheduler", "quarantine_hours", s.quarantine_hours).range(
                1,
                24 * 30,
                " hours",
            ),
            Bound::new("inbox", "reply_window_hours", self.inbox.reply_window_hours).range(
                1,
                24 * 365,
                " hours",
            ),
            Bound::new(
                "inbox",
                "incomplete_after_secs",
                self.inbox.incomplete_after_secs,
            )
            .range(1, 86_400 * 30, " seconds"),
        ];
        if let Some(total) = d.max_connections {
            out.push(Bound::new("daemon", "max_connections", total as u64).range(1, 1_048_576, ""));
        }
        for (i, m) in self.modems.iter().enumerate() {
            let modem = |key, value| Bound {
                modem: Some(i),
                ..Bound::new("modem", key, value)
            };
            out.extend([
                modem("baud", m.baud.into()).range(300, 4_000_000, ""),
                modem("max_per_hour", m.max_per_hour.into()).range(1, 1_000_000, " parts"),
                modem("max_per_day", m.max_per_day.into()).range(1, 10_000_000, " parts"),
                modem("command_gap_ms", m.command_gap_ms).range(0, 1_000, " ms"),
                modem("prompt_timeout_secs", m.prompt_timeout_secs).range(1, 120, " seconds"),
            ]);
            if let Some([_, max]) = m.pace_ms {
                out.push(modem("pace_ms", max).range(0, 600_000, " ms"));
            }
        }
        out
    }

    /// The time zone of quota days and months.
    pub fn tz(&self) -> Tz {
        self.daemon.timezone
    }

    /// The send timeout as a duration.
    pub fn send_timeout(&self) -> Duration {
        Duration::from_secs(self.scheduler.send_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let c = Config::parse(
            r#"
[daemon]
socket = "/run/groupsms/groupsms.sock"
database = "/var/lib/groupsms/groupsms.db"
timezone = "Asia/Shanghai"
default_country = "CN"
admin_uids = [0]
[quota]
daily = 3
monthly = 31
[message]
header = "【{name}】"
max_parts = 5
sensitive_words = ["/etc/groupsms/words.txt"]
sensitive_policy = "reject"
delivery_reports = false
[[modem]]
device = "/dev/gsm/modem0"
baud = 115200
pin = "1234"
max_per_hour = 200
max_per_day = 1000
command_gap_ms = 5
prompt_timeout_secs = 4
"#,
        )
        .unwrap();
        assert_eq!(c.modems.len(), 1);
        assert_eq!(c.modems[0].command_gap_ms, 5);
        assert_eq!(c.modems[0].prompt_timeout_secs, 4);
        let d = Config::parse("[[modem]]\ndevice = \"/dev/x\"\n").unwrap();
        assert_eq!(d.modems[0], ModemTable::new("/dev/x"));
        assert_eq!(d.modems[0].command_gap_ms, 20);
        assert_eq!(c.modems[0].pin.as_deref(), Some("1234"));
        assert_eq!(c.message.sensitive_policy, SensitivePolicy::Reject);
        assert!(!c.message.delivery_reports);
        assert!(Config::default().message.delivery_reports);
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn the_zone_is_parsed_once_and_the_defaults_are_the_rules_own() {
        let c = Config::parse("[daemon]\ntimezone = \"Europe/Berlin\"\n").unwrap();
        assert_eq!(c.tz(), chrono_tz::Europe::Berlin);
        let d = Config::default();
        let s = crate::service::Settings::default();
        assert_eq!(d.tz(), s.timezone);
        assert_eq!(
            crate::service::Country::from_iso(&d.daemon.default_country),
            Ok(s.default_country)
        );
        assert_eq!(
            (d.quota.daily, d.quota.monthly),
            (s.daily_quota, s.monthly_quota)
        );
        assert_eq!(d.message.header, s.header_template);
        assert_eq!(d.message.max_parts, s.max_parts);
        assert_eq!(d.message.sensitive_policy, s.sensitive_policy);
        assert_eq!(d.message.footer, s.footer);
        assert_eq!(d.optout.keywords().unwrap(), s.optout.keywords);
        assert_eq!(
            (&d.optout.confirm, &d.optout.optin_confirm),
            (&s.optout.confirm, &s.optout.optin_confirm)
        );
    }

    #[test]
    fn errors_name_the_key_and_the_line() {
        let e = Config::parse("[daemon]\nsocket = \"/x\"\ncolour = 1\n").unwrap_err();
        assert!(e.starts_with("line 3:"), "{e}");
        assert!(e.contains("colour"), "{e}");
        let e = Config::parse("[quota]\ndaily = \"three\"\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        let e = Config::parse("[daemon]\ntimezone = \"Mars/Olympus\"\n").unwrap_err();
        assert_eq!(
            e,
            "line 2: timezone \"Mars/Olympus\" is not an IANA time zone"
        );
        let e = Config::parse("[daemon]\nsocket = \"/x\"\n\ntimezone = \"Asia/Shanghia\"\n")
            .unwrap_err();
        assert_eq!(
            e,
            "line 4: timezone \"Asia/Shanghia\" is not an IANA time zone"
        );
        let e = Config::parse("[scheduler]\nmax_attempts = 3\nquiet_hours = \"22:00-7\"\n")
            .unwrap_err();
        assert_eq!(
            e,
            "line 3: [scheduler] quiet_hours \"22:00-7\" has \"7\", not a time HH:MM from 00:00 \
             to 23:59"
        );
        let c = Config::parse("[scheduler]\nquiet_hours = \"22:00-07:30\"\n").unwrap();
        assert_eq!(c.scheduler.quiet_hours.unwrap().to_string(), "22:00-07:30");
        let e = Config::parse("[message]\nsensitive_policy = \"shout\"\n").unwrap_err();
        assert!(e.starts_with("line 2:") && e.contains("shout"), "{e}");
        let e = Config::parse("[[modem]]\ndevice = \"/dev/x\"\npin = \"12\"\n").unwrap_err();
        assert_eq!(e, "line 3: modem /dev/x: a PIN is 4 to 8 digits");
        let e =
            Config::parse("[[modem]]\ndevice = \"/dev/x\"\ncommand_gap_ms = 5000\n").unwrap_err();
        assert_eq!(
            e,
            "line 3: modem /dev/x: command_gap_ms must be 0 to 1000 ms, not 5000"
        );
        let e =
            Config::parse("[[modem]]\ndevice = \"/dev/x\"\nprompt_timeout_secs = 0\n").unwrap_err();
        assert!(e.starts_with("line 3:"), "{e}");
        // The second of two modem tables is named by its own line.
        let e = Config::parse(
            "[[modem]]\ndevice = \"/dev/a\"\nbaud = 9600\n[[modem]]\ndevice = \"/dev/b\"\nbaud = 7\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "line 6: modem /dev/b: baud must be 300 to 4000000, not 7"
        );
    }

    #[test]
    fn webhooks_are_checked_and_their_secrets_never_printed() {
        let c = Config::parse(
            "[[webhook]]\nurl = \"https://hooks.example.org/sms\"\n\
             events = [\"inbound\", \"delivery\", \"broadcast_finished\", \"modem\"]\n\
             secret = \"whsec-do-not-print\"\n\
             [[webhook]]\nurl = \"https://oapi.dingtalk.com/robot/send?access_token=t\"\n\
             events = [\"broadcast_finished\"]\nformat = \"dingtalk\"\n\
             secret_file = \"/etc/groupsms/ding.secret\"\n\
             [[webhook]]\nurl = \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\"\n\
             events = [\"modem\"]\nformat = \"wecom\"\n",
        )
        .unwrap();
        assert_eq!(c.webhooks.len(), 3);
        assert_eq!(c.webhooks[0].format, WebhookFormat::Json);
        assert_eq!(c.webhooks[1].format, WebhookFormat::Dingtalk);
        assert!(!format!("{c:?}").contains("whsec-do-not-print"));
        let bad = |body: &str| Config::parse(&format!("[[webhook]]\n{body}")).unwrap_err();
        assert_eq!(
            bad("url = \"ftp://x/y\"\nevents = [\"modem\"]\nsecret = \"s\"\n"),
            "line 2: [[webhook]] 1: url must be http:// or https:// with a host, not ftp://"
        );
        let e = bad("url = \"not a url\"\nevents = [\"modem\"]\nsecret = \"s\"\n");
        assert!(
            e.starts_with("line 2: [[webhook]] 1: url is not a URL"),
            "{e}"
        );
        assert_eq!(
            bad("url = \"http://x/y\"\nevents = [\"sent\"]\nsecret = \"s\"\n"),
            "line 3: [[webhook]] 1: unknown event \"sent\": the events are inbound, delivery, \
             broadcast_finished, modem"
        );
        assert!(bad("url = \"http://x/y\"\nevents = []\nsecret = \"s\"\n")
            .starts_with("line 3: [[webhook]] 1: events is empty"));
        assert_eq!(
            bad("url = \"http://x/y\"\nevents = [\"modem\"]\n"),
            "line 2: [[webhook]] 1: a json webhook is signed: give secret = \"...\" or \
             secret_file = \"/path\""
        );
        assert_eq!(
            bad("url = \"http://x/y\"\nevents = [\"modem\"]\nsecret = \"s\"\nsecret_file = \"/f\"\n"),
            "line 5: [[webhook]] 1: give secret or secret_file, not both"
        );
        assert!(
            bad("url = \"http://x/y\"\nevents = [\"modem\"]\nsecret = \"\"\n")
                .starts_with("line 4: [[webhook]] 1: secret is empty")
        );
        assert!(bad(
            "url = \"http://x/y\"\nevents = [\"modem\"]\nformat = \"wecom\"\nsecret = \"s\"\n"
        )
        .starts_with("line 5: [[webhook]] 1: a wecom robot has no signature"));
        assert!(
            bad("url = \"http://x/y\"\nevents = [\"delivery\"]\nformat = \"feishu\"\n")
                .starts_with("line 3: [[webhook]] 1: a feishu robot does not take delivery events")
        );
        let e = bad("url = \"http://x/y\"\nevents = [\"modem\"]\nformat = \"slack\"\n");
        assert!(e.starts_with("line 4:") && e.contains("slack"), "{e}");
        let e = bad("url = \"http://x/y\"\nevents = [\"modem\"]\nsecret = \"s\"\ncolour = 1\n");
        assert!(e.starts_with("line 5:") && e.contains("colour"), "{e}");
        let e = Config::parse(
            "[[webhook]]\nurl = \"http://x/y\"\nevents = [\"modem\"]\nsecret = \"s\"\n\
             [[webhook]]\nurl = \"http://x/y\"\nevents = [\"inbound\"]\nsecret = \"t\"\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "line 6: [[webhook]] 2: the same url as [[webhook]] 1; list all its events in one table"
        );
        // The second table is named by its own number and line.
        let e = Config::parse(
            "[[webhook]]\nurl = \"http://x/y\"\nevents = [\"modem\"]\nsecret = \"s\"\n\
             [[webhook]]\nurl = \"http://x/z\"\nevents = [\"modem\", \"nope\"]\nsecret = \"s\"\n",
        )
        .unwrap_err();
        assert!(
            e.starts_with("line 7: [[webhook]] 2: unknown event \"nope\""),
            "{e}"
        );
    }

    #[test]
    fn the_socket_is_never_the_database_nor_inside_it() {
        let paths = |socket: &str, database: &str| {
            Config::parse(&format!(
                "[daemon]\nsocket = \"{socket}\"\ndatabase = \"{database}\"\n"
            ))
        };
        let e = paths("/var/lib/g/g.db", "/var/lib/g/g.db").unwrap_err();
        assert_eq!(
            e,
            "line 2: [daemon] socket (/var/lib/g/g.db) and database (/var/lib/g/g.db) must be \
             different files, neither inside the other"
        );
        for (socket, database) in [
            ("/var/lib/g/./g.db", "/var/lib/g/g.db"),
            ("/var/lib//g/g.db-wal", "/var/lib/g/g.db"),
            ("/var/lib/g/g.db-shm", "/var/lib/g/g.db"),
            ("/var/lib/g/g.db.lock", "/var/lib/g/g.db"),
            ("/var/lib/g/g.db/s.sock", "/var/lib/g/g.db"),
            ("/var/lib/g", "/var/lib/g/g.db"),
            ("g.db", "./g.db"),
        ] {
            assert!(paths(socket, database).is_err(), "{socket} {database}");
        }
        for (socket, database) in [
            ("/run/g/g.sock", "/var/lib/g/g.db"),
            ("/var/lib/g/g.sock", "/var/lib/g/g.db"),
            ("/var/lib/g/g.db2", "/var/lib/g/g.db"),
        ] {
            assert!(paths(socket, database).is_ok(), "{socket} {database}");
        }
    }

    #[test]
    fn adapter_tables_parse_with_defaults_and_bad_ones_are_named() {
        let c = Config::parse(
            "[[alertmanager]]\ngroup = \"ops\"\nas_member = \"alice\"\n\
             [[dingtalk_robot]]\nname = \"ops-bot\"\napp_secret = \"SECabc\"\ngroup = \"ops\"\n\
             users = { \"u1\" = \"alice\" }\n",
        )
        .unwrap();
        let a = &c.alertmanager[0];
        assert_eq!(
            (
                a.title.as_str(),
                a.line.as_str(),
                a.repeat_window_secs,
                a.max_parts,
                a.urgent
            ),
            (DEFAULT_ALERT_TITLE, DEFAULT_ALERT_LINE, 14_400, None, false)
        );
        let r = &c.dingtalk_robots[0];
        assert_eq!(r.prefix, "群发");
        assert_eq!(r.users["u1"], "alice");
        assert!(
            !format!("{r:?}").contains("SECabc"),
            "the secret is never printed"
        );

        let e = Config::parse(
            "[[alertmanager]]\ngroup = \"ops\"\nas_member = \"a\"\n\
             [[alertmanager]]\ngroup = \"ops\"\nas_member = \"b\"\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "line 5: [[alertmanager]] group 'ops' has two tables; keep one"
        );
        let e = Config::parse(
            "[[alertmanager]]\ngroup = \"ops\"\nas_member = \"a\"\nrepeat_window_secs = 0\n",
        )
        .unwrap_err();
        assert!(
            e.starts_with("line 4:") && e.contains("repeat_window_secs"),
            "{e}"
        );
        let e = Config::parse(
            "[message]\nmax_parts = 3\n[[alertmanager]]\ngroup = \"ops\"\nas_member = \"a\"\nmax_parts = 4\n",
        )
        .unwrap_err();
        assert!(e.starts_with("line 6:") && e.contains("1 to 3"), "{e}");
        let e = Config::parse(
            "[[dingtalk_robot]]\nname = \"ops bot\"\napp_secret = \"s\"\ngroup = \"ops\"\n",
        )
        .unwrap_err();
        assert!(
            e.starts_with("line 2:") && e.contains("part of a URL"),
            "{e}"
        );
        let e =
            Config::parse("[[dingtalk_robot]]\nname = \"b\"\napp_secret = \"\"\ngroup = \"ops\"\n")
                .unwrap_err();
        assert_eq!(e, "line 3: [[dingtalk_robot]] app_secret is empty");
        assert!(Config::parse("[[dingtalk_robot]]\nname = \"b\"\ngroup = \"ops\"\n").is_err());
    }
}
