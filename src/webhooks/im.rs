//! What an IM group robot is sent: a short text for people in the chat (a broadcast finished
//! with its counts, a reply, an opt-out, a modem out of the pool), in each platform's message
//! shape, and how each says it took the message.
//!
//! - DingTalk: `{"msgtype": "markdown", "markdown": {"title", "text"}}`; answers
//!   `{"errcode": 0, ...}` when it posted it.
//! - WeCom: `{"msgtype": "markdown", "markdown": {"content"}}` (at most 4096 bytes); answers
//!   `{"errcode": 0, ...}`.
//! - Feishu: `{"msg_type": "text", "content": {"text"}}` plus `timestamp` and `sign` when
//!   signed; answers `{"code": 0, ...}` (older bots: `{"StatusCode": 0}`).
//!
//! All three answer HTTP 200 to a message they refuse, with the reason in the body: a try
//! counts as delivered only when the code says so.

use serde_json::{json, Value};

use crate::config::WebhookFormat;

/// Longest text sent to a robot, in bytes (WeCom's markdown limit is 4096; the others'
/// are larger): a long SMS reply is cut with `…`.
const MAX_TEXT: usize = 3000;

fn s<'a>(data: &'a Value, key: &str) -> &'a str {
    data.get(key).and_then(Value::as_str).unwrap_or("")
}

fn n(data: &Value, key: &str) -> i64 {
    data.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The title and the lines of the text for an event of `kind` with `data`.
pub fn text(kind: &str, data: &Value) -> (String, String) {
    match kind {
        "broadcast_finished" => {
            let states = data.get("states").cloned().unwrap_or(Value::Null);
            let count = |k: &str| states.get(k).and_then(Value::as_i64).unwrap_or(0);
            let reached = count("delivered") + count("sent");
            let failed = count("failed") + count("undelivered") + count("uncertain");
            let title = format!("groupsms: broadcast {} finished", n(data, "broadcast"));
            let mut body = format!(
                "Broadcast {} to group {} finished{}: {} recipients, {} delivered, {} sent \
                 without a report, {} failed, {} cancelled; {} replies, {} opt-outs.",
                n(data, "broadcast"),
                s(data, "group"),
                if data.get("cancelled") == Some(&Value::Bool(true)) {
                    " (cancelled)"
                } else {
                    ""
                },
                n(data, "recipients"),
                count("delivered"),
                count("sent"),
                failed,
                count("cancelled"),
                n(data, "replies"),
                n(data, "opt_outs"),
            );
            if reached == 0 && n(data, "recipients") > 0 {
                body.push_str(" Nothing reached anyone.");
            }
            (title, body)
        }
        "inbound" => {
            let who = match data.get("member").and_then(Value::as_str) {
                Some(m) => format!("{m} ({})", s(data, "from")),
                None => s(data, "from").to_string(),
            };
            let about = match (
                data.get("broadcast").and_then(Value::as_i64),
                s(data, "group"),
            ) {
                (Some(b), g) if !g.is_empty() => format!(" (answering broadcast {b} of group {g})"),
                (Some(b), _) => format!(" (answering broadcast {b})"),
                _ => String::new(),
            };
            let (title, what) = match s(data, "handling") {
                "opt_out" => ("groupsms: opt-out", "opted out"),
                "opt_in" => ("groupsms: opt-in", "opted back in"),
                "reply" => ("groupsms: reply", "replied"),
                _ => ("groupsms: SMS received", "wrote"),
            };
            let text = cut(s(data, "text"), MAX_TEXT);
            (title.into(), format!("{who} {what}{about}: {text}"))
        }
        "modem" => {
            let what = match s(data, "sim") {
                "" => s(data, "device").to_string(),
                sim => match s(data, "device") {
                    "" => format!("SIM {sim}"),
                    d => format!("{d} (SIM {sim})"),
                },
            };
            let body = match s(data, "change") {
                "left" => format!(
                    "Modem {what} left the pool: {}{}.",
                    s(data, "health"),
                    data.get("problem")
                        .and_then(Value::as_str)
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default()
                ),
                "joined" => format!("Modem {what} joined the pool."),
                "quarantined" => format!(
                    "{what} quarantined until {}: {}.",
                    s(data, "until"),
                    s(data, "reason")
                ),
                "released" => format!("{what} released from quarantine by {}.", s(data, "by")),
                other => format!("Modem {what}: {other}."),
            };
            ("groupsms: modem".into(), body)
        }
        other => (
            format!("groupsms: {other}"),
            format!("groupsms event {other}: {data}"),
        ),
    }
}

/// The JSON body for a robot of `format` (not `Json`): the text, plus Feishu's signature
/// fields when given.
pub fn body(
    format: WebhookFormat,
    kind: &str,
    data: &Value,
    feishu_sign: Option<(String, String)>,
) -> Value {
    let (title, text) = text(kind, data);
    match format {
        WebhookFormat::Dingtalk => json!({
            "msgtype": "markdown",
            "markdown": {"title": title, "text": format!("#### {title}\n\n{text}")},
        }),
        WebhookFormat::Wecom => json!({
            "msgtype": "markdown",
            "markdown": {"content": format!("**{title}**\n{text}")},
        }),
        WebhookFormat::Feishu | WebhookFormat::Json => {
            let mut b = json!({
                "msg_type": "text",
                "content": {"text": format!("{title}\n{text}")},
            });
            if let Some((timestamp, sign)) = feishu_sign {
                b["timestamp"] = Value::String(timestamp);
                b["sign"] = Value::String(sign);
            }
            b
        }
    }
}

/// Whether a robot's answer body says it took the message; the error to keep when not.
pub fn accepted(format: WebhookFormat, answer: &str) -> Result<(), String> {
    let v: Value = serde_json::from_str(answer)
        .map_err(|_| format!("the robot's answer is not JSON: {}", cut(answer, 200)))?;
    let code = match format {
        WebhookFormat::Feishu => v
            .get("code")
            .or_else(|| v.get("StatusCode"))
            .and_then(Value::as_i64),
        _ => v.get("errcode").and_then(Value::as_i64),
    };
    match code {
        Some(0) => Ok(()),
        _ => Err(format!(
            "the robot refused the message: {}",
            cut(&v.to_string(), 300)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_broadcast_reads_with_its_counts() {
        let data = json!({"broadcast": 7, "group": "ops", "recipients": 3,
            "states": {"delivered": 2, "failed": 1}, "replies": 1, "opt_outs": 0,
            "cancelled": false});
        let (title, text) = text("broadcast_finished", &data);
        assert_eq!(title, "groupsms: broadcast 7 finished");
        assert_eq!(
            text,
            "Broadcast 7 to group ops finished: 3 recipients, 2 delivered, 0 sent without a \
             report, 1 failed, 0 cancelled; 1 replies, 0 opt-outs."
        );
    }

    #[test]
    fn an_opt_out_names_the_member_and_the_broadcast() {
        let data = json!({"from": "+8613800000001", "member": "alice", "handling": "opt_out",
            "broadcast": 3, "group": "ops", "text": "TD"});
        let (_, text) = text("inbound", &data);
        assert_eq!(
            text,
            "alice (+8613800000001) opted out (answering broadcast 3 of group ops): TD"
        );
    }

    #[test]
    fn robots_answers_are_read_by_their_code() {
        assert!(accepted(WebhookFormat::Dingtalk, r#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert!(accepted(WebhookFormat::Wecom, r#"{"errcode":93000,"errmsg":"bad"}"#).is_err());
        assert!(accepted(WebhookFormat::Feishu, r#"{"code":0,"msg":"success"}"#).is_ok());
        assert!(accepted(
            WebhookFormat::Feishu,
            r#"{"code":19021,"msg":"sign match fail"}"#
        )
        .is_err());
        assert!(accepted(WebhookFormat::Feishu, "<html>").is_err());
    }
}
