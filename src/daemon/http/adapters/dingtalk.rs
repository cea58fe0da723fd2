//! `POST /v1/dingtalk/{robot}`: a DingTalk outgoing robot's chat message (`群发 <text>`) sent
//! to the robot's group by SMS, as the member the DingTalk user is mapped to, and answered in
//! the chat with the broadcast's result or the refusal.
//!
//! The request is DingTalk's "receive message" protocol of an enterprise robot (DingTalk open
//! platform, <https://open.dingtalk.com/document/orgapp/receive-message>): two HTTP headers,
//! `timestamp` (Unix milliseconds) and `sign`, where `sign` is the Base64 of the HMAC-SHA256,
//! keyed with the robot's AppSecret, of `"{timestamp}\n{AppSecret}"`; a request whose timestamp
//! is more than one hour from the current time, or whose `sign` differs, is not DingTalk's.
//! The JSON body has `msgtype` (`text`), `text.content`, `senderStaffId` (the user's id in the
//! organization, present for its own members), `senderId` (DingTalk's encrypted user id),
//! `senderNick`, `conversationId`, `conversationTitle`, `msgId` and others this adapter does not
//! need. The answer is a robot message: `{"msgtype": "text", "text": {"content": "..."}}`.
//!
//! The signature says only that DingTalk sent the request; who may send is the configured user
//! table (`[[dingtalk_robot]] users`, by `senderStaffId`, else `senderId`) and then the same
//! rules as every send: the member must be a super-admin of the group, and quota, opt-outs and
//! sensitive words apply.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::{Config, DingtalkRobotTable};
use crate::daemon::handlers::{self, Session};
use crate::daemon::Shared;
use crate::protocol::{self as p, ErrorBody, ErrorCode, Request};
use crate::service::Caller;

/// How far a request's timestamp may be from now, in milliseconds (DingTalk's rule).
pub const MAX_SKEW_MS: i64 = 3_600_000;

/// Why a request is not taken as DingTalk's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error(
        "the request has no '{0}' header; DingTalk signs every request with 'timestamp' and 'sign'"
    )]
    Missing(&'static str),
    #[error("the 'timestamp' header {0:?} is not a time in Unix milliseconds")]
    BadTimestamp(String),
    #[error(
        "the request's timestamp is {minutes} minutes from the daemon's clock, more than the hour \
         DingTalk allows (a replayed request, or a clock to set right)"
    )]
    Stale { minutes: i64 },
    #[error(
        "the 'sign' header does not match this robot's AppSecret (the request is not from \
         DingTalk, or the robot's app_secret is not the one DingTalk shows)"
    )]
    BadSignature,
}

fn mac(secret: &str, timestamp: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(secret.as_bytes());
    mac
}

/// The `sign` DingTalk sends with `timestamp` for a robot with `secret`.
pub fn sign(secret: &str, timestamp: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(mac(secret, timestamp).finalize().into_bytes())
}

/// Checks the `timestamp` and `sign` headers against `secret` at `now_ms`; the signature is
/// compared in constant time.
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    now_ms: i64,
) -> Result<(), SignError> {
    let timestamp = timestamp.ok_or(SignError::Missing("timestamp"))?.trim();
    let signature = signature.ok_or(SignError::Missing("sign"))?.trim();
    let at: i64 = timestamp
        .parse()
        .map_err(|_| SignError::BadTimestamp(timestamp.chars().take(40).collect()))?;
    let off = now_ms.saturating_sub(at);
    if off.saturating_abs() > MAX_SKEW_MS {
        return Err(SignError::Stale {
            minutes: off / 60_000,
        });
    }
    let given = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| SignError::BadSignature)?;
    mac(secret, timestamp)
        .verify_slice(&given)
        .map_err(|_| SignError::BadSignature)
}

/// The part of DingTalk's message this adapter reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incoming {
    pub msgtype: String,
    #[serde(default)]
    pub text: Option<Text>,
    #[serde(default)]
    pub sender_staff_id: Option<String>,
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub sender_nick: String,
    #[serde(default)]
    pub conversation_title: String,
    #[serde(default)]
    pub msg_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Text {
    pub content: String,
}

impl Incoming {
    /// Reads a request body.
    pub fn parse(body: &[u8]) -> Result<Incoming, String> {
        serde_json::from_slice(body)
            .map_err(|e| format!("the body is not a DingTalk robot message: {e}"))
    }

    /// The member handle `users` maps the sender to (by staff id first, then DingTalk id),
    /// with the id that matched.
    pub fn member<'a>(
        &self,
        users: &'a std::collections::BTreeMap<String, String>,
    ) -> Option<(&'a str, &'a str)> {
        [&self.sender_staff_id, &self.sender_id]
            .into_iter()
            .flatten()
            .filter(|id| !id.is_empty())
            .find_map(|id| users.get_key_value(id.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Who sent it, for logs and refusals: staff id, else DingTalk id, else nobody.
    pub fn sender(&self) -> &str {
        [&self.sender_staff_id, &self.sender_id]
            .into_iter()
            .flatten()
            .find(|id| !id.is_empty())
            .map_or("(no sender id)", String::as_str)
    }
}

/// What a chat message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `群发 <text>`: send `text`.
    Send(String),
    /// Anything else (or the prefix with nothing after it): how to use the robot.
    Usage,
}

/// Reads `content` (what the user wrote after mentioning the robot): `prefix`, then the text
/// to send, separated by spaces, a colon or nothing.
pub fn command(content: &str, prefix: &str) -> Command {
    let Some(rest) = content.trim().strip_prefix(prefix) else {
        return Command::Usage;
    };
    let text = rest.trim_start().trim_start_matches([':', '：']).trim();
    if text.is_empty() {
        Command::Usage
    } else {
        Command::Send(text.to_string())
    }
}

/// A robot's text answer in the chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    pub msgtype: &'static str,
    pub text: Text,
}

impl Reply {
    pub fn text(content: impl Into<String>) -> Reply {
        Reply {
            msgtype: "text",
            text: Text {
                content: content.into(),
            },
        }
    }
}

/// The answer to a message that is not a send.
pub fn usage(prefix: &str, group: &str) -> String {
    format!("To send a message to group '{group}' by SMS, write: {prefix} <text>")
}

/// The configured robots, by name.
#[derive(Debug, Default)]
pub struct Robots {
    robots: HashMap<String, DingtalkRobotTable>,
}

impl Robots {
    pub fn new(config: &Config) -> Robots {
        Robots {
            robots: config
                .dingtalk_robots
                .iter()
                .map(|r| (r.name.clone(), r.clone()))
                .collect(),
        }
    }
}

/// Why a request was not taken at all (no chat answer: it may not be DingTalk's).
#[derive(Debug)]
pub enum Rejected {
    /// No robot of that name.
    Unknown(ErrorBody),
    /// The signature or the timestamp is wrong.
    Unsigned(SignError),
    /// The body is not a robot message.
    Body(ErrorBody),
}

/// A request's signature headers, and the time it is checked at.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub timestamp: Option<&'a str>,
    pub sign: Option<&'a str>,
    /// Unix milliseconds of the daemon's clock.
    pub now_ms: i64,
}

/// Handles one chat message to robot `name`: checks the signature, maps the
/// sender, sends `群发 <text>` as that member through the socket's own `send` (every rule
/// applies), and says in the chat what happened. The send is made by
/// [`Caller::robot`] for that member (`robot:<member id>` in the audit log).
pub async fn message(
    shared: &Arc<Shared>,
    robots: &Robots,
    name: &str,
    signed: Signed<'_>,
    body: &[u8],
) -> Result<Reply, Rejected> {
    let robot = robots.robots.get(name).ok_or_else(|| {
        Rejected::Unknown(ErrorBody::new(
            ErrorCode::InvalidValue,
            format!(
                "there is no DingTalk robot '{name}' (the daemon's configuration names them in \
                 [[dingtalk_robot]] tables)"
            ),
        ))
    })?;
    if let Err(e) = verify(
        &robot.app_secret,
        signed.timestamp,
        signed.sign,
        signed.now_ms,
    ) {
        tracing::warn!(robot = name, error = %e, "DingTalk request refused");
        return Err(Rejected::Unsigned(e));
    }
    let incoming = Incoming::parse(body)
        .map_err(|e| Rejected::Body(ErrorBody::new(ErrorCode::InvalidValue, e)))?;
    let content = incoming.text.as_ref().map_or("", |t| t.content.as_str());
    let text = match command(content, &robot.prefix) {
        Command::Usage => return Ok(Reply::text(usage(&robot.prefix, &robot.group))),
        Command::Send(text) => text,
    };
    let Some((user, member)) = incoming.member(&robot.users) else {
        tracing::warn!(
            robot = name,
            sender = incoming.sender(),
            nick = %incoming.sender_nick,
            "DingTalk sender not mapped to a member; nothing sent"
        );
        return Ok(Reply::text(format!(
            "Not sent: DingTalk user {} ({}) is not mapped to a groupsms member (an administrator \
             adds them to [[dingtalk_robot]] users of robot '{name}')",
            incoming.sender(),
            incoming.sender_nick
        )));
    };
    let handle = member.to_string();
    let found = shared.store.call(move |s| s.member(&handle)).await;
    let caller = match found {
        Ok(Some(m)) => Caller::robot(m.id),
        Ok(None) => {
            tracing::warn!(
                robot = name,
                user,
                member,
                "DingTalk user mapped to a member that does not exist"
            );
            return Ok(Reply::text(format!(
                "Not sent: DingTalk user {user} is mapped to member '{member}', who does not exist"
            )));
        }
        Err(e) => {
            return Ok(Reply::text(format!(
                "Not sent: {}",
                ErrorBody::from(e).message
            )))
        }
    };
    let send = p::Send {
        group: robot.group.clone(),
        as_member: member.to_string(),
        text,
        urgent: false,
    };
    let answer =
        handlers::handle(shared, caller, &mut Session::default(), Request::Send(send)).await;
    Ok(Reply::text(match answer {
        Ok(result) => {
            let r: p::SendResult = match serde_json::from_value(result) {
                Ok(r) => r,
                Err(e) => {
                    return Err(Rejected::Body(ErrorBody::new(
                        ErrorCode::Internal,
                        format!("cannot read the send's answer: {e}"),
                    )))
                }
            };
            tracing::info!(
                robot = name,
                user,
                member,
                broadcast = r.broadcast,
                "DingTalk send accepted"
            );
            let mut said = format!(
                "Sent to group '{}' as broadcast #{}: {} recipients, {} SMS part{} each ({}).",
                robot.group,
                r.broadcast,
                r.recipients,
                r.parts,
                if r.parts == 1 { "" } else { "s" },
                r.encoding
            );
            if let Some(w) = r.waiting {
                said.push_str(&format!(" Waiting: {}", w.message));
            }
            said
        }
        Err(e) => {
            tracing::info!(robot = name, user, member, code = ?e.code, "DingTalk send refused");
            format!("Not sent: {}", e.message)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "SECtest0123456789abcdef";

    #[test]
    fn the_signature_is_base64_hmac_sha256_of_timestamp_newline_secret() {
        // Fixed by an independent implementation: printf '%s\n%s' 1577262236757 "$SECRET" |
        // openssl dgst -sha256 -hmac "$SECRET" -binary | base64
        let expected = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "printf '%s\\n%s' 1577262236757 '{SECRET}' | openssl dgst -sha256 -hmac '{SECRET}' -binary | base64"
            ))
            .output()
            .expect("openssl runs");
        assert!(expected.status.success());
        let expected = String::from_utf8(expected.stdout).unwrap();
        assert_eq!(sign(SECRET, "1577262236757"), expected.trim());
    }

    #[test]
    fn verify_takes_a_fresh_signed_request_and_refuses_the_rest() {
        let now = 1_577_262_236_757_i64;
        let ts = now.to_string();
        let good = sign(SECRET, &ts);
        assert_eq!(verify(SECRET, Some(&ts), Some(&good), now), Ok(()));
        // Up to an hour either way.
        let early = (now - MAX_SKEW_MS).to_string();
        assert_eq!(
            verify(SECRET, Some(&early), Some(&sign(SECRET, &early)), now),
            Ok(())
        );
        let stale = (now - MAX_SKEW_MS - 1).to_string();
        assert_eq!(
            verify(SECRET, Some(&stale), Some(&sign(SECRET, &stale)), now),
            Err(SignError::Stale { minutes: 60 })
        );
        let future = (now + 2 * MAX_SKEW_MS).to_string();
        assert!(matches!(
            verify(SECRET, Some(&future), Some(&sign(SECRET, &future)), now),
            Err(SignError::Stale { minutes: -120 })
        ));
        assert_eq!(
            verify("another", Some(&ts), Some(&good), now),
            Err(SignError::BadSignature)
        );
        assert_eq!(
            verify(SECRET, Some(&(now + 1).to_string()), Some(&good), now),
            Err(SignError::BadSignature)
        );
        assert_eq!(
            verify(SECRET, Some(&ts), Some("not base64!"), now),
            Err(SignError::BadSignature)
        );
        assert_eq!(
            verify(SECRET, None, Some(&good), now),
            Err(SignError::Missing("timestamp"))
        );
        assert_eq!(
            verify(SECRET, Some(&ts), None, now),
            Err(SignError::Missing("sign"))
        );
        assert!(matches!(
            verify(SECRET, Some("soon"), Some(&good), now),
            Err(SignError::BadTimestamp(_))
        ));
        // The messages never carry the secret.
        for e in [
            SignError::BadSignature,
            SignError::Stale { minutes: 61 },
            SignError::Missing("sign"),
        ] {
            assert!(!e.to_string().contains(SECRET));
        }
    }

    #[test]
    fn commands_and_senders() {
        assert_eq!(
            command(" 群发 明天停电", "群发"),
            Command::Send("明天停电".into())
        );
        assert_eq!(
            command("群发：明天停电 ", "群发"),
            Command::Send("明天停电".into())
        );
        assert_eq!(
            command("群发明天停电", "群发"),
            Command::Send("明天停电".into())
        );
        assert_eq!(command("群发 a\nb", "群发"), Command::Send("a\nb".into()));
        assert_eq!(command("群发  ", "群发"), Command::Usage);
        assert_eq!(command("hello", "群发"), Command::Usage);
        assert_eq!(command("send hi", "send"), Command::Send("hi".into()));

        // DingTalk's documented example body.
        let body = r#"{"conversationId":"cid1","atUsers":[{"dingtalkId":"x","staffId":"y"}],
            "chatbotUserId":"$:LWCP_v1:$C","msgId":"msg0","senderNick":"杨","isAdmin":true,
            "senderStaffId":"user123","createAt":1613630252678,"conversationType":"2",
            "senderId":"$:LWCP_v1:$Ff09","conversationTitle":"机器人测试-TEST",
            "text":{"content":" 你好"},"msgtype":"text"}"#;
        let m = Incoming::parse(body.as_bytes()).unwrap();
        assert_eq!(m.text.as_ref().unwrap().content, " 你好");
        let mut users = std::collections::BTreeMap::new();
        assert_eq!(m.member(&users), None);
        users.insert("$:LWCP_v1:$Ff09".to_string(), "bob".to_string());
        assert_eq!(m.member(&users), Some(("$:LWCP_v1:$Ff09", "bob")));
        users.insert("user123".to_string(), "alice".to_string());
        assert_eq!(m.member(&users), Some(("user123", "alice")));
        assert_eq!(m.sender(), "user123");
        assert!(Incoming::parse(b"[]").is_err());
        assert!(Incoming::parse(b"{}").is_err());
        let reply = serde_json::to_value(Reply::text("ok")).unwrap();
        assert_eq!(
            reply,
            serde_json::json!({"msgtype": "text", "text": {"content": "ok"}})
        );
    }
}
