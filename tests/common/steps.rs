//! Running the `== step` lines of a transcript against an engine and rendering results the
//! way fixtures write them (see `fixtures/README.md`).

use std::time::Duration;

use groupsms::at::parse::{Storage, StoredAt};
use groupsms::at::Urc;
use groupsms::modem::transcript::Step;
use groupsms::modem::Engine;
use groupsms::service::inbox::decode_pdu;
use groupsms::service::reports::decode_report;
use groupsms::sms::{encode_submit, Address, SubmitOptions, Tpdu};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};

/// Runs one step and renders its result the way fixtures write it.
pub async fn perform<S: AsyncRead + AsyncWrite + Unpin>(
    engine: &mut Engine<S>,
    step: &Step,
) -> Result<String, String> {
    let (verb, args) = step.action.split_once(' ').unwrap_or((&step.action, ""));
    Ok(match verb {
        "init" => match engine.init().await {
            Ok(id) => serde_json::to_string(&id).unwrap(),
            Err(e) => format!("error: {e}"),
        },
        "send" => {
            let (opts, text) = send_args(args)?;
            let parts = encode_submit(&text, &opts).map_err(|e| e.to_string())?;
            let outcomes = engine.send_message(&parts).await;
            outcomes
                .iter()
                .map(|o| o.summary())
                .collect::<Vec<_>>()
                .join(", ")
        }
        "signal" => match engine.signal().await {
            Ok(s) => match s.rssi {
                Some(r) => format!("rssi {r}"),
                None => "rssi unknown".into(),
            },
            Err(e) => format!("error: {e}"),
        },
        "urcs" => {
            let names: Vec<String> = engine
                .take_urcs()
                .iter()
                .map(|u| u.name().to_string())
                .collect();
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        }
        "idle" => {
            let secs: f64 = args
                .parse()
                .map_err(|_| format!("idle needs seconds: {args}"))?;
            match engine.idle(Duration::from_secs_f64(secs)).await {
                Ok(()) => "ok".into(),
                Err(e) => format!("error: {e}"),
            }
        }
        "health" => engine.check_health().await.name().to_string(),
        "reinit-needed" => if engine.needs_reinit() { "yes" } else { "no" }.to_string(),
        // What the actor does with queued codes: a routed report or message is decoded and
        // acknowledged (AT+CNMA where the modem expects it); a stored one (+CDSI, +CMTI) is
        // named.
        "reports" => {
            heard(engine, |urc| match urc {
                Urc::StatusReport { length, pdu } => {
                    Some(Heard::Routed(report_line(&pdu, Some(length))))
                }
                Urc::StatusReportStored(at) => Some(Heard::Stored(at)),
                _ => None,
            })
            .await
        }
        "messages" => {
            heard(engine, |urc| match urc {
                Urc::Message { length, pdu } => {
                    Some(Heard::Routed(stored_line(&pdu, Some(length))))
                }
                Urc::NewMessage(at) => Some(Heard::Stored(at)),
                _ => None,
            })
            .await
        }
        "list-stored" => match engine.list_stored().await {
            Ok((entries, memory)) => {
                let mut out = vec![match memory {
                    Some(m) => format!("memory {} {}/{}", m.storage.name(), m.used, m.total),
                    None => "memory unknown".into(),
                }];
                for (at, e) in entries {
                    out.push(format!(
                        "{} {} stat {}: {}",
                        at.storage.name(),
                        at.index,
                        e.stat,
                        stored_line(&e.pdu, e.length)
                    ));
                }
                out.join(", ")
            }
            Err(e) => format!("error: {e}"),
        },
        "read-stored" => match engine.read_stored(&stored_at(args)?).await {
            Ok(Some(entry)) => stored_line(&entry.pdu, entry.length),
            Ok(None) => "empty".into(),
            Err(e) => format!("error: {e}"),
        },
        "delete-stored" => match engine.delete_stored(&stored_at(args)?).await {
            Ok(()) => "ok".into(),
            Err(e) => format!("error: {e}"),
        },
        other => return Err(format!("unknown step `{other}`")),
    })
}

/// One queued code of the kind a step asks about.
enum Heard {
    /// Delivered in the code itself, rendered; the modem may expect an acknowledgement.
    Routed(String),
    /// Stored on the modem at this place.
    Stored(StoredAt),
}

/// The queued codes `pick` recognises, in order, as fixtures write them (`none` if none);
/// each routed one acknowledged.
async fn heard<S: AsyncRead + AsyncWrite + Unpin>(
    engine: &mut Engine<S>,
    pick: impl Fn(Urc) -> Option<Heard>,
) -> String {
    let mut out = Vec::new();
    for urc in engine.take_urcs() {
        match pick(urc) {
            Some(Heard::Routed(line)) => {
                out.push(line);
                if let Err(e) = engine.ack_routed().await {
                    out.push(format!("error: {e}"));
                }
            }
            Some(Heard::Stored(at)) => {
                out.push(format!("stored {} {}", at.storage.name(), at.index))
            }
            None => {}
        }
    }
    if out.is_empty() {
        "none".into()
    } else {
        out.join(", ")
    }
}

/// `SR 1`: a memory and an index.
fn stored_at(args: &str) -> Result<StoredAt, String> {
    let (mem, index) = args.split_once(' ').ok_or("needs <memory> <index>")?;
    Ok(StoredAt {
        storage: Storage::from_name(mem),
        index: index.parse().map_err(|_| format!("bad index {index}"))?,
    })
}

/// A stored or routed PDU as fixtures write it: an incoming message `message from=+86...
/// text=...`, a stored SUBMIT `submit to=...`, or a report (below).
fn stored_line(pdu: &str, length: Option<usize>) -> String {
    match decode_pdu(pdu, length) {
        Ok(Tpdu::Deliver(d)) => {
            // Line breaks and other control characters escaped, so it stays one line.
            let body = d.user_data.text.escape_debug();
            let text = match &d.user_data.concat() {
                Some(c) => format!("part {}/{} text={body}", c.seq, c.parts),
                None => format!("text={body}"),
            };
            format!("message from={} {text}", d.originator)
        }
        Ok(Tpdu::Submit(s)) => format!("submit to={}", s.destination),
        _ => report_line(pdu, length),
    }
}

/// A status report as fixtures write it: `report mr=64 to=+919790193746 status=0x00`.
fn report_line(pdu: &str, length: Option<usize>) -> String {
    match decode_report(pdu, length) {
        Ok(r) => format!(
            "report mr={} to={} status=0x{:02X}",
            r.message_ref, r.recipient, r.status
        ),
        Err(e) => format!("unreadable report: {e}"),
    }
}

/// `to=+86... ref=3 [srr] text=...` (text runs to the end of the line).
pub fn send_args(args: &str) -> Result<(SubmitOptions, String), String> {
    let (head, text) = args
        .split_once("text=")
        .ok_or("a send step needs text=... last")?;
    let mut to = None;
    let mut concat_ref = 0u8;
    let mut srr = false;
    for word in head.split_whitespace() {
        match word.split_once('=') {
            Some(("to", v)) => to = Some(Address::parse(v).map_err(|e| e.to_string())?),
            Some(("ref", v)) => concat_ref = v.parse().map_err(|_| format!("bad ref {v}"))?,
            None if word == "srr" => srr = true,
            _ => return Err(format!("unknown send argument {word}")),
        }
    }
    let mut opts = SubmitOptions::to(to.ok_or("a send step needs to=")?);
    opts.concat_ref = concat_ref;
    opts.status_report = srr;
    Ok((opts, text.to_string()))
}

pub fn same(got: &str, want: &str) -> bool {
    if want.starts_with('{') {
        let (Ok(g), Ok(w)) = (
            serde_json::from_str::<Value>(got),
            serde_json::from_str::<Value>(want),
        ) else {
            return false;
        };
        g == w
    } else {
        got == want
    }
}
