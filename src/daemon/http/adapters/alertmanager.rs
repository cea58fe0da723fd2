//! `POST /v1/alertmanager/{group}`: Alertmanager's webhook, sent to a group by SMS.
//!
//! The payload is Alertmanager's webhook notification, version 4 (the `webhook_config`
//! receiver of Alertmanager's configuration reference): `version` (`"4"`), `groupKey`,
//! `truncatedAlerts` (alerts left out by `max_alerts`), `status` (`firing` or `resolved`),
//! `receiver`, `groupLabels`, `commonLabels`, `commonAnnotations`, `externalURL`, and `alerts`,
//! each with `status`, `labels`, `annotations`, `startsAt`, `endsAt`, `generatorURL` and
//! `fingerprint`. Fields this adapter does not use may be absent; another version is refused.
//!
//! A notification becomes one short message: a first line (the `[[alertmanager]] title`
//! template, by default the status and the firing/resolved counts), then one line per alert,
//! firing first (`line`: by default status, alertname, severity, summary). It is measured as the send path composes
//! it (the group's header, the footer, the encoding) and cut to the configured parts: alerts
//! that do not fit are left out and counted in a last line `(+N more)`, with those Alertmanager
//! itself truncated.
//!
//! A notification identical to one sent to the same group within its repeat window is not
//! sent again: identical means the same message, or the same `groupKey`, status and alerts
//! (fingerprint and status of each). Both digests are kept in the store ([`keys`]), and one
//! notification at a time is checked, sent and remembered, so simultaneous copies send once.
//! The sending itself is the socket's `send` handler: role, quota, opt-outs, sensitive words,
//! quiet hours; the caller is the request's bearer token.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::{AlertmanagerTable, Config};
use crate::daemon::handlers::{self, Session};
use crate::daemon::Shared;
use crate::protocol::{self as p, ErrorBody, ErrorCode, Request};
use crate::service::{compose, Caller};

/// The payload version this adapter reads.
pub const VERSION: &str = "4";

/// One webhook notification: a group of alerts that share routing labels.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub version: String,
    pub group_key: String,
    /// Alerts Alertmanager left out of `alerts` (`max_alerts`).
    #[serde(default)]
    pub truncated_alerts: u64,
    pub status: String,
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    pub alerts: Vec<Alert>,
}

/// One alert of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

/// Why a request body is not a notification this adapter takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not an Alertmanager webhook notification: {0}")]
    Json(String),
    #[error(
        "the notification is version {0:?}; this endpoint reads Alertmanager's webhook payload \
         version \"4\""
    )]
    Version(String),
    #[error("the notification's status is {0:?}, not \"firing\" or \"resolved\"")]
    Status(String),
    #[error("alert {index}'s status is {status:?}, not \"firing\" or \"resolved\"")]
    AlertStatus { index: usize, status: String },
    #[error("the notification has no alerts")]
    NoAlerts,
}

fn known_status(s: &str) -> bool {
    s == "firing" || s == "resolved"
}

impl Notification {
    /// Reads and checks a request body.
    pub fn parse(body: &[u8]) -> Result<Notification, PayloadError> {
        let n: Notification =
            serde_json::from_slice(body).map_err(|e| PayloadError::Json(e.to_string()))?;
        if n.version != VERSION {
            return Err(PayloadError::Version(n.version));
        }
        if !known_status(&n.status) {
            return Err(PayloadError::Status(n.status));
        }
        if n.alerts.is_empty() {
            return Err(PayloadError::NoAlerts);
        }
        if let Some((index, a)) = n
            .alerts
            .iter()
            .enumerate()
            .find(|(_, a)| !known_status(&a.status))
        {
            return Err(PayloadError::AlertStatus {
                index,
                status: a.status.clone(),
            });
        }
        Ok(n)
    }

    /// Alerts firing, alerts resolved.
    pub fn counts(&self) -> (usize, usize) {
        let firing = self.alerts.iter().filter(|a| a.status == "firing").count();
        (firing, self.alerts.len() - firing)
    }
}

/// One placeholder's value source.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Status,
    Firing,
    Resolved,
    Receiver,
    Alertname,
    Severity,
    Summary,
    Description,
    Instance,
    StartsAt,
    Label(String),
    Annotation(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(Field),
}

/// The placeholders a template may use, for error messages.
const PLACEHOLDERS: &str = "{status}, {firing}, {resolved}, {receiver}, {alertname}, \
                            {severity}, {summary}, {description}, {instance}, {starts_at}, \
                            {labels.NAME}, {annotations.NAME}";

/// A template that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {template:?}: {problem}")]
pub struct TemplateError {
    pub template: String,
    pub problem: String,
}

fn parse_pieces(template: &str) -> Result<Vec<Piece>, TemplateError> {
    let fail = |problem: String| TemplateError {
        template: template.to_string(),
        problem,
    };
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| fail("a '{' is not closed by '}'".into()))?;
        let name = &after[..close];
        let field = match name {
            "status" => Field::Status,
            "firing" => Field::Firing,
            "resolved" => Field::Resolved,
            "receiver" => Field::Receiver,
            "alertname" => Field::Alertname,
            "severity" => Field::Severity,
            "summary" => Field::Summary,
            "description" => Field::Description,
            "instance" => Field::Instance,
            "starts_at" => Field::StartsAt,
            other => match other.split_once('.') {
                Some(("labels", l)) if !l.is_empty() => Field::Label(l.to_string()),
                Some(("annotations", a)) if !a.is_empty() => Field::Annotation(a.to_string()),
                _ => {
                    return Err(fail(format!(
                        "unknown placeholder {{{other}}}; the placeholders are {PLACEHOLDERS}"
                    )))
                }
            },
        };
        pieces.push(Piece::Field(field));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

/// The templates of one group's messages: the first line and one line per alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    title: Vec<Piece>,
    line: Vec<Piece>,
}

/// What a placeholder reads: an alert's own labels, or those every alert shares.
struct Scope<'a> {
    status: &'a str,
    labels: &'a BTreeMap<String, String>,
    annotations: &'a BTreeMap<String, String>,
    starts_at: &'a str,
}

impl Template {
    pub fn new(title: &str, line: &str) -> Result<Template, TemplateError> {
        Ok(Template {
            title: parse_pieces(title)?,
            line: parse_pieces(line)?,
        })
    }

    /// The notification's lines, before any cut.
    pub fn render(&self, n: &Notification) -> Rendered {
        let counts = n.counts();
        let common = Scope {
            status: &n.status,
            labels: &n.common_labels,
            annotations: &n.common_annotations,
            starts_at: "",
        };
        let title = fill(&self.title, &common, n, counts);
        let firing = n.alerts.iter().filter(|a| a.status == "firing");
        let resolved = n.alerts.iter().filter(|a| a.status != "firing");
        let lines = firing
            .chain(resolved)
            .map(|a| {
                let scope = Scope {
                    status: &a.status,
                    labels: &a.labels,
                    annotations: &a.annotations,
                    starts_at: &a.starts_at,
                };
                fill(&self.line, &scope, n, counts)
            })
            .collect();
        Rendered {
            title,
            lines,
            truncated: n.truncated_alerts,
        }
    }
}

/// One template filled in, on one line: line breaks and runs of spaces (from annotations, or
/// placeholders with nothing to show) become one space, and a space left before `:` or `,`
/// goes.
fn fill(pieces: &[Piece], s: &Scope<'_>, n: &Notification, counts: (usize, usize)) -> String {
    let get = |map: &BTreeMap<String, String>, key: &str| map.get(key).cloned().unwrap_or_default();
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Field(f) => {
                let value = match f {
                    Field::Status => s.status.to_uppercase(),
                    Field::Firing => counts.0.to_string(),
                    Field::Resolved => counts.1.to_string(),
                    Field::Receiver => n.receiver.clone(),
                    Field::Alertname => get(s.labels, "alertname"),
                    Field::Severity => get(s.labels, "severity"),
                    Field::Instance => get(s.labels, "instance"),
                    Field::Summary => s
                        .annotations
                        .get("summary")
                        .or_else(|| s.annotations.get("description"))
                        .cloned()
                        .unwrap_or_default(),
                    Field::Description => get(s.annotations, "description"),
                    Field::StartsAt => s.starts_at.to_string(),
                    Field::Label(l) => get(s.labels, l),
                    Field::Annotation(a) => get(s.annotations, a),
                };
                out.push_str(&value);
            }
        }
    }
    let mut tidy = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for mark in [":", ","] {
        tidy = tidy.replace(&format!(" {mark}"), mark);
    }
    tidy.trim_matches(|c: char| c == ':' || c == ',' || c.is_whitespace())
        .to_string()
}

/// A notification's lines, before any cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub title: String,
    /// One per alert, firing first.
    pub lines: Vec<String>,
    /// Alerts Alertmanager already left out.
    pub truncated: u64,
}

/// The message as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub text: String,
    /// Alert lines in the text.
    pub shown: usize,
    /// Alerts left out (those cut here and those Alertmanager truncated).
    pub left_out: u64,
}

impl Rendered {
    /// The title, the first `shown` alert lines, and the note on what was left out.
    fn text(&self, shown: usize) -> Cut {
        let left_out = (self.lines.len() - shown) as u64 + self.truncated;
        let mut text = self.title.clone();
        for line in &self.lines[..shown] {
            text.push('\n');
            text.push_str(line);
        }
        if left_out > 0 {
            let _ = write!(text, "\n(+{left_out} more)");
        }
        Cut {
            text,
            shown,
            left_out,
        }
    }

    /// The longest message `fits` accepts: as many alert lines as fit, then the note. When
    /// not even the first line fits with the note, it is shortened (ending in `…`).
    pub fn cut(&self, fits: impl Fn(&str) -> bool) -> Cut {
        let all = self.text(self.lines.len());
        if fits(&all.text) {
            return all;
        }
        // More lines never make the message shorter, so the count that fits is found by
        // bisection: `lo` fits (or is 0), `hi` does not.
        let (mut lo, mut hi) = (0, self.lines.len());
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(&self.text(mid).text) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let best = self.text(lo);
        if lo > 0 || fits(&best.text) {
            return best;
        }
        // The first line alone is too long: keep as many of its characters as fit.
        let chars: Vec<char> = self.title.chars().collect();
        let note = format!("\n(+{} more)", best.left_out);
        let shortened = |keep: usize| -> String {
            let head: String = chars[..keep].iter().collect();
            format!("{}…{note}", head.trim_end())
        };
        let (mut lo, mut hi) = (0, chars.len());
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(&shortened(mid)) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Cut {
            text: shortened(lo),
            shown: 0,
            left_out: best.left_out,
        }
    }
}

fn hex_digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The keys under which a sent notification is remembered: the message as sent, and the
/// group key with the notification's status and each alert's identity and status (its
/// fingerprint, else its labels) in a stable order.
pub fn keys(n: &Notification, text: &str) -> Vec<String> {
    let mut alerts: Vec<String> = n
        .alerts
        .iter()
        .map(|a| {
            let id = if a.fingerprint.is_empty() {
                let labels: Vec<String> =
                    a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                hex_digest(&labels.iter().map(String::as_str).collect::<Vec<_>>())
            } else {
                a.fingerprint.clone()
            };
            format!("{id}:{}", a.status)
        })
        .collect();
    alerts.sort_unstable();
    let mut parts = vec![n.group_key.as_str(), n.status.as_str()];
    parts.extend(alerts.iter().map(String::as_str));
    vec![
        format!("text:{}", hex_digest(&[text])),
        format!("alerts:{}", hex_digest(&parts)),
    ]
}

/// One `[[alertmanager]]` table with its templates parsed.
#[derive(Debug)]
struct Route {
    table: AlertmanagerTable,
    template: Template,
}

/// The groups Alertmanager may send to, and the lock that makes "is it a repeat? send it,
/// remember it" one step (two identical notifications arriving together send once).
#[derive(Debug, Default)]
pub struct Alerting {
    routes: HashMap<String, Route>,
    /// Why the configuration cannot be used (a template that does not parse), if so.
    broken: Option<String>,
    lock: tokio::sync::Mutex<()>,
}

impl Alerting {
    /// The `[[alertmanager]]` tables of `config`; a template that does not parse is an error
    /// that names its group.
    pub fn new(config: &Config) -> Result<Alerting, String> {
        let mut routes = HashMap::new();
        for table in &config.alertmanager {
            let template = Template::new(&table.title, &table.line)
                .map_err(|e| format!("[[alertmanager]] group '{}': {e}", table.group))?;
            routes.insert(
                table.group.clone(),
                Route {
                    table: table.clone(),
                    template,
                },
            );
        }
        Ok(Alerting {
            routes,
            ..Default::default()
        })
    }

    /// No routes: each request is answered with `why`.
    pub fn broken(why: String) -> Alerting {
        Alerting {
            broken: Some(why),
            ..Default::default()
        }
    }
}

/// Handles one notification for `group` from `caller`: renders and cuts it, answers a repeat
/// within the window with the broadcast that was sent (`{"sent": false, "duplicate_of": id}`),
/// else sends it through the socket's own `send` (every rule applies) and remembers it.
pub async fn notify(
    shared: &Arc<Shared>,
    alerting: &Alerting,
    caller: Caller,
    group: &str,
    body: &[u8],
) -> Result<Value, ErrorBody> {
    if let Some(why) = &alerting.broken {
        return Err(ErrorBody::new(ErrorCode::Internal, why.clone()));
    }
    let route = alerting.routes.get(group).ok_or_else(|| {
        ErrorBody::new(
            ErrorCode::UnknownGroup,
            format!(
                "group '{group}' takes no Alertmanager notifications (add an [[alertmanager]] \
                 table with group = \"{group}\" to the daemon's configuration)"
            ),
        )
    })?;
    let notification = Notification::parse(body)
        .map_err(|e| ErrorBody::new(ErrorCode::InvalidValue, e.to_string()))?;
    // Who may read the group may learn that a notification was already sent; sending it
    // takes the send rules below.
    let reader = handlers::reader(shared, caller).await?;
    reader.group(group)?;

    let settings = shared.settings.clone();
    let handle = group.to_string();
    let stored = shared
        .store
        .call(move |s| s.group(&handle))
        .await?
        .ok_or_else(|| {
            ErrorBody::from(crate::service::ServiceError::from(
                crate::service::UnknownGroup {
                    handle: group.to_string(),
                },
            ))
        })?;
    let max_parts = route
        .table
        .max_parts
        .unwrap_or(settings.max_parts)
        .min(settings.max_parts);
    let rendered = route.template.render(&notification);
    let cut = rendered.cut(|text| {
        compose::compose(
            &settings.header_template,
            &stored,
            text,
            &settings.footer,
            max_parts,
        )
        .is_ok()
    });
    let keys = keys(&notification, &cut.text);
    let window = chrono::Duration::seconds(route.table.repeat_window_secs as i64);

    let _one_at_a_time = alerting.lock.lock().await;
    let now = crate::clock::now();
    let (handle, k) = (group.to_string(), keys.clone());
    let earlier = shared
        .store
        .call(move |s| s.alert_sent_since(&handle, &k, now - window))
        .await?;
    if let Some(id) = earlier {
        tracing::info!(
            group,
            duplicate_of = id.0,
            "Alertmanager notification not sent again: an identical one was sent within the \
             repeat window"
        );
        return Ok(json!({"sent": false, "duplicate_of": id.0}));
    }
    let send = p::Send {
        group: group.to_string(),
        as_member: route.table.as_member.clone(),
        text: cut.text.clone(),
        urgent: route.table.urgent,
    };
    let result =
        handlers::handle(shared, caller, &mut Session::default(), Request::Send(send)).await?;
    let id = result["broadcast"].as_i64().ok_or_else(|| {
        ErrorBody::new(
            ErrorCode::Internal,
            "the send answered without a broadcast id",
        )
    })?;
    let handle = group.to_string();
    let remembered = shared
        .store
        .call(move |s| {
            s.record_alert_send(
                &handle,
                &keys,
                crate::store::BroadcastId(id),
                now,
                now - window,
            )
        })
        .await;
    if let Err(e) = remembered {
        // Sent all the same; the next identical notification would be sent again.
        tracing::warn!(group, broadcast = id, error = %e, "cannot remember an Alertmanager notification sent");
    }
    tracing::info!(
        group,
        broadcast = id,
        alerts = notification.alerts.len(),
        shown = cut.shown,
        left_out = cut.left_out,
        "Alertmanager notification sent"
    );
    Ok(json!({
        "sent": true,
        "alerts": notification.alerts.len(),
        "shown": cut.shown,
        "left_out": cut.left_out,
        "broadcast": result,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_ALERT_LINE, DEFAULT_ALERT_TITLE};

    /// Alertmanager's webhook payload as its documentation shows it (version 4), with a
    /// second alert, resolved.
    pub(crate) const SAMPLE: &str = r#"{
      "version": "4",
      "groupKey": "{}/{severity=\"critical\"}:{alertname=\"ProbeFailure\"}",
      "truncatedAlerts": 0,
      "status": "firing",
      "receiver": "sms",
      "groupLabels": {"alertname": "ProbeFailure"},
      "commonLabels": {"alertname": "ProbeFailure", "job": "http_checks", "severity": "critical"},
      "commonAnnotations": {},
      "externalURL": "http://alertmanager.example.org:9093",
      "alerts": [
        {
          "status": "resolved",
          "labels": {"alertname": "ProbeFailure", "instance": "https://b.example.org", "job": "http_checks", "severity": "critical"},
          "annotations": {"summary": "Probe failure: https://b.example.org"},
          "startsAt": "2026-02-06T12:08:45.828Z",
          "endsAt": "2026-02-06T13:01:00.000Z",
          "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0",
          "fingerprint": "0b7d7e4e1ab1f3c2"
        },
        {
          "status": "firing",
          "labels": {"alertname": "ProbeFailure", "instance": "https://a.example.org", "job": "http_checks", "severity": "critical"},
          "annotations": {"summary": "Probe failure: https://a.example.org", "description": "down for over 5m.\nJob: http_checks"},
          "startsAt": "2026-02-06T13:08:45.828Z",
          "endsAt": "0001-01-01T00:00:00Z",
          "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0",
          "fingerprint": "1a30ba71cca2921f"
        }
      ]
    }"#;

    fn default_template() -> Template {
        Template::new(DEFAULT_ALERT_TITLE, DEFAULT_ALERT_LINE).unwrap()
    }

    #[test]
    fn a_version_4_payload_renders_firing_first_on_one_line_each() {
        let n = Notification::parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(n.counts(), (1, 1));
        let r = default_template().render(&n);
        assert_eq!(r.title, "[FIRING] 1 firing, 1 resolved");
        assert_eq!(
            r.lines,
            [
                "FIRING ProbeFailure critical: Probe failure: https://a.example.org",
                "RESOLVED ProbeFailure critical: Probe failure: https://b.example.org",
            ]
        );
        let cut = r.cut(|_| true);
        assert_eq!(
            cut.text,
            "[FIRING] 1 firing, 1 resolved\n\
             FIRING ProbeFailure critical: Probe failure: https://a.example.org\n\
             RESOLVED ProbeFailure critical: Probe failure: https://b.example.org"
        );
        assert_eq!((cut.shown, cut.left_out), (2, 0));
    }

    #[test]
    fn placeholders_read_labels_and_annotations_and_missing_ones_leave_no_gap() {
        let n = Notification::parse(SAMPLE.as_bytes()).unwrap();
        let t = Template::new(
            "{receiver} {labels.job} {annotations.none}",
            "{alertname} [{instance}] {labels.missing}: {description}",
        )
        .unwrap();
        let r = t.render(&n);
        assert_eq!(r.title, "sms http_checks");
        // A description with a line break stays on its alert's line; the summary is used
        // where there is no description... and vice versa for {summary}.
        assert_eq!(
            r.lines[0],
            "ProbeFailure [https://a.example.org]: down for over 5m. Job: http_checks"
        );
        assert_eq!(r.lines[1], "ProbeFailure [https://b.example.org]");
        let s = Template::new("x", "{summary}").unwrap();
        let mut no_summary = n.clone();
        no_summary.alerts[1].annotations.remove("summary");
        assert_eq!(
            s.render(&no_summary).lines[0],
            "down for over 5m. Job: http_checks"
        );
    }

    #[test]
    fn bad_templates_and_payloads_are_named() {
        let e = Template::new("{stauts}", "x").unwrap_err();
        assert!(
            e.to_string().contains("unknown placeholder {stauts}"),
            "{e}"
        );
        assert!(e.to_string().contains("{alertname}"), "{e}");
        assert!(Template::new("{status", "x").is_err());
        assert!(Template::new("x", "{labels.}").is_err());
        assert!(Template::new("no placeholders", "{{alertname}").is_err());

        let e = Notification::parse(b"not json").unwrap_err();
        assert!(matches!(e, PayloadError::Json(_)), "{e}");
        let v3 = SAMPLE.replace("\"version\": \"4\"", "\"version\": \"3\"");
        assert_eq!(
            Notification::parse(v3.as_bytes()).unwrap_err(),
            PayloadError::Version("3".into())
        );
        let odd = SAMPLE.replacen("\"status\": \"resolved\"", "\"status\": \"odd\"", 1);
        assert_eq!(
            Notification::parse(odd.as_bytes()).unwrap_err(),
            PayloadError::AlertStatus {
                index: 0,
                status: "odd".into()
            }
        );
        let no_key = SAMPLE.replace("\"groupKey\"", "\"groupKee\"");
        assert!(matches!(
            Notification::parse(no_key.as_bytes()).unwrap_err(),
            PayloadError::Json(m) if m.contains("groupKey")
        ));
        let empty: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        let mut empty = empty;
        empty["alerts"] = serde_json::json!([]);
        assert_eq!(
            Notification::parse(empty.to_string().as_bytes()).unwrap_err(),
            PayloadError::NoAlerts
        );
    }

    fn many(count: usize, truncated: u64) -> Rendered {
        Rendered {
            title: "[FIRING] many".into(),
            lines: (0..count)
                .map(|i| format!("FIRING Disk{i:02} full"))
                .collect(),
            truncated,
        }
    }

    #[test]
    fn the_cut_keeps_as_many_alerts_as_fit_and_counts_the_rest() {
        let r = many(10, 0);
        // At most 61 characters: the title (13), two alert lines (19 each with their line
        // break) and the note (10).
        let cut = r.cut(|t| t.chars().count() <= 61);
        assert_eq!(
            cut.text,
            "[FIRING] many\nFIRING Disk00 full\nFIRING Disk01 full\n(+8 more)"
        );
        assert_eq!((cut.shown, cut.left_out), (2, 8));
        // Alertmanager's own truncation is counted too (the longer note leaves room for one
        // alert line only).
        let cut = many(10, 5).cut(|t| t.chars().count() <= 61);
        assert_eq!(cut.text, "[FIRING] many\nFIRING Disk00 full\n(+14 more)");
        let all = many(3, 5).cut(|_| true);
        assert_eq!((all.shown, all.left_out), (3, 5));
        assert!(all.text.ends_with("\n(+5 more)"));
    }

    #[test]
    fn a_first_line_too_long_is_shortened() {
        let r = Rendered {
            title: "x".repeat(100),
            lines: vec!["FIRING a".into()],
            truncated: 0,
        };
        let cut = r.cut(|t| t.chars().count() <= 30);
        assert_eq!(cut.text, format!("{}…\n(+1 more)", "x".repeat(19)));
        assert_eq!(cut.text.chars().count(), 30);
        assert_eq!((cut.shown, cut.left_out), (0, 1));
    }

    #[test]
    fn the_cut_is_measured_in_parts_by_the_real_composer() {
        // 40 alerts do not fit 1 part of GSM 7-bit with the header; the cut fits exactly as
        // the send path composes it.
        let group = test_group();
        let fits = |t: &str| {
            crate::service::compose::compose("【{name}】", &group, t, " Reply TD to stop", 1)
                .is_ok()
        };
        let cut = many(40, 0).cut(fits);
        assert!(fits(&cut.text));
        let c = crate::service::compose::compose(
            "【{name}】",
            &group,
            &cut.text,
            " Reply TD to stop",
            9,
        )
        .unwrap();
        assert_eq!(c.parts, 1);
        // One more alert would not fit.
        let r = many(40, 0);
        let one_more = r.text(cut.shown + 1);
        assert!(!fits(&one_more.text), "{}", one_more.text);
        assert_eq!(cut.left_out, 40 - cut.shown as u64);
        assert!(cut.shown > 0);
    }

    fn test_group() -> crate::store::Group {
        crate::store::Group {
            id: crate::store::GroupId(1),
            handle: "ops".into(),
            name: "Ops".into(),
            header: None,
            daily_quota: None,
            monthly_quota: None,
            pinned_modems: Vec::new(),
            modem_fallback: true,
            allow_urgent: false,
            created_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn keys_tell_identical_notifications_from_changed_ones() {
        let n = Notification::parse(SAMPLE.as_bytes()).unwrap();
        let k = keys(&n, "text");
        assert_eq!(k.len(), 2);
        assert!(k[0].starts_with("text:") && k[1].starts_with("alerts:"));
        // The same alerts in another order: the same.
        let mut swapped = n.clone();
        swapped.alerts.swap(0, 1);
        assert_eq!(keys(&swapped, "text")[1], k[1]);
        // An alert that resolved: another notification.
        let mut changed = n.clone();
        changed.alerts[1].status = "resolved".into();
        assert_ne!(keys(&changed, "text")[1], k[1]);
        // Another text: another text key.
        assert_ne!(keys(&n, "text2")[0], k[0]);
        // No fingerprints: the labels stand for them.
        let mut bare = n.clone();
        for a in &mut bare.alerts {
            a.fingerprint.clear();
        }
        let b = keys(&bare, "text");
        let mut relabelled = bare.clone();
        relabelled.alerts[0]
            .labels
            .insert("instance".into(), "https://c.example.org".into());
        assert_ne!(keys(&relabelled, "text")[1], b[1]);
    }
}
