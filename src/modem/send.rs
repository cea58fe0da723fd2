//! Sending: `AT+CMGS=<len>`, the prompt, the hex PDU and Ctrl-Z, `+CMGS: <mr>` (TS 27.005
//! 3.5.1, PDU mode). All parts of one message go back to back; the first failure stops the
//! rest. Every timeout ends with ESC and a re-sync before anything else is written.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::engine::Engine;
use super::error::ModemError;
use super::types::{AmbiguousReason, NotSentReason, PartOutcome};
use crate::at::command;
use crate::at::{parse, Final, Item, Urc};
use crate::sms::SubmitPdu;

enum PromptResult {
    Prompt,
    Answer(Final),
    Timeout,
    /// A reset URC came instead of the prompt.
    Reset,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Engine<S> {
    /// Submits the parts of one message in order, back to back. Returns one outcome per part;
    /// after the first part that is not [`PartOutcome::Sent`], the rest are
    /// [`PartOutcome::NotAttempted`].
    pub async fn send_message(&mut self, parts: &[SubmitPdu]) -> Vec<PartOutcome> {
        let mut outcomes = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let outcome = self.send_part(part).await;
            let sent = outcome.is_sent();
            debug!(part = i + 1, of = parts.len(), outcome = %outcome, "part done");
            outcomes.push(outcome);
            if !sent {
                break;
            }
        }
        while outcomes.len() < parts.len() {
            outcomes.push(PartOutcome::NotAttempted);
        }
        outcomes
    }

    async fn send_part(&mut self, part: &SubmitPdu) -> PartOutcome {
        if let Err(error) = self.prepare().await {
            return PartOutcome::Failed { error };
        }
        // The last moment before anything of this part is written: the wait above (the gap
        // between commands) may have outlasted the sender's right to send it.
        if self.gate.as_ref().is_some_and(|gate| !gate.open()) {
            return PartOutcome::NotSent {
                reason: NotSentReason::Fenced,
            };
        }
        let cmd = command::cmgs(part.tpdu_len);
        if let Err(error) = self.write_all(&command::line(&cmd)).await {
            return PartOutcome::Failed { error };
        }
        // Phase 1: the prompt.
        match self.wait_prompt(&cmd).await {
            Ok(PromptResult::Prompt) => {}
            Ok(PromptResult::Answer(Final::Ok)) => {
                return PartOutcome::NotSent {
                    reason: NotSentReason::NoPrompt,
                }
            }
            Ok(PromptResult::Answer(result)) => {
                let class = result.class();
                return PartOutcome::Rejected { result, class };
            }
            Ok(PromptResult::Timeout) => {
                warn!(cmd, timeout = ?self.config.prompt_timeout, "no prompt; aborting");
                // ESC cancels a prompt that may still come; the PDU was never written. One
                // `AT` tells a slow modem from a hung one: a hung one leaves the pool now
                // (its message goes elsewhere) and is re-probed with the full re-sync later.
                if let Err(e) = self.abort_and_probe().await {
                    warn!(error = %e, "re-sync after the prompt timeout failed");
                }
                return PartOutcome::NotSent {
                    reason: NotSentReason::PromptTimeout,
                };
            }
            Ok(PromptResult::Reset) => {
                warn!(
                    cmd,
                    "the modem reset while we waited for the prompt; not sent"
                );
                return PartOutcome::NotSent {
                    reason: NotSentReason::ModemReset,
                };
            }
            Err(error) => return PartOutcome::Failed { error },
        }
        // Phase 2: the PDU. From here on the part may go out.
        let body = command::pdu_body(&part.hex());
        if let Err(error) = self.write_all(&body).await {
            return PartOutcome::Ambiguous {
                reason: AmbiguousReason::StreamDied(error),
            };
        }
        let deadline = Instant::now() + self.config.cmgs_timeout;
        let mut echo_pos = 0;
        let mut message_ref = None;
        loop {
            let item = match self
                .read_item(Some(&cmd), &body[echo_pos..], deadline)
                .await
            {
                Ok(item) => item,
                Err(error) => {
                    return PartOutcome::Ambiguous {
                        reason: AmbiguousReason::StreamDied(error),
                    }
                }
            };
            match item {
                Some(Item::Echo { len }) => echo_pos += len,
                Some(Item::Info(line)) => {
                    echo_pos = body.len();
                    match parse::parse_cmgs(&line) {
                        Ok(mr) => message_ref = Some(mr),
                        Err(_) => debug!(line, "ignored line after the PDU"),
                    }
                }
                Some(Item::Final(Final::Ok)) => {
                    info!(mr = ?message_ref, "part sent");
                    return PartOutcome::Sent { message_ref };
                }
                Some(Item::Final(result)) => {
                    let class = result.class();
                    return PartOutcome::Rejected { result, class };
                }
                Some(Item::Prompt) => debug!("second prompt after the PDU (length mismatch?)"),
                Some(Item::Urc(u)) => {
                    // `^BOOT` may be a periodic report from firmware that ignores
                    // `AT^CURC=0`: keep waiting for the answer (bounded by cmgs_timeout).
                    let maybe_periodic = matches!(u, Urc::Boot(_));
                    self.on_urc(u);
                    // A reset before the answer: whether the part left is unknown, and no
                    // answer will come; do not wait out cmgs_timeout.
                    if self.needs_reinit() && !maybe_periodic {
                        warn!("the modem reset after Ctrl-Z; the part's fate is unknown");
                        return PartOutcome::Ambiguous {
                            reason: AmbiguousReason::ModemReset,
                        };
                    }
                }
                Some(Item::Garbage(g)) => {
                    debug!(len = g.len, preview = %g.preview, "skipped garbage")
                }
                None => break,
            }
        }
        warn!(timeout = ?self.config.cmgs_timeout, "no answer after Ctrl-Z; aborting");
        // One AT only (not the full re-sync): a dead modem is declared hung one
        // `resync_timeout` after `cmgs_timeout`, so the ambiguous part is handled about the
        // configured send timeout after Ctrl-Z rather than three re-sync tries later.
        match self.abort_and_probe().await {
            Ok(late) => match (late.message_ref, late.error) {
                (Some(mr), _) => PartOutcome::Sent {
                    message_ref: Some(mr),
                },
                (None, Some(result)) => {
                    let class = result.class();
                    PartOutcome::Rejected { result, class }
                }
                (None, None) => PartOutcome::Ambiguous {
                    reason: AmbiguousReason::NoAnswer(self.config.cmgs_timeout),
                },
            },
            Err(ModemError::Hung { .. }) => PartOutcome::Ambiguous {
                reason: AmbiguousReason::NoAnswer(self.config.cmgs_timeout),
            },
            Err(error) => PartOutcome::Ambiguous {
                reason: AmbiguousReason::StreamDied(error),
            },
        }
    }

    async fn wait_prompt(&mut self, cmd: &str) -> Result<PromptResult, ModemError> {
        let deadline = Instant::now() + self.config.prompt_timeout;
        let bytes = cmd.as_bytes();
        let mut echo_pos = 0;
        loop {
            match self
                .read_item(Some(cmd), &bytes[echo_pos..], deadline)
                .await?
            {
                Some(Item::Echo { len }) => echo_pos += len,
                Some(Item::Prompt) => return Ok(PromptResult::Prompt),
                Some(Item::Final(f)) => return Ok(PromptResult::Answer(f)),
                Some(Item::Info(line)) => {
                    echo_pos = bytes.len();
                    debug!(line, "ignored line before the prompt");
                }
                Some(Item::Urc(u)) => {
                    self.on_urc(u);
                    if self.needs_reinit() {
                        return Ok(PromptResult::Reset);
                    }
                }
                Some(Item::Garbage(g)) => {
                    debug!(len = g.len, preview = %g.preview, "skipped garbage")
                }
                None => return Ok(PromptResult::Timeout),
            }
        }
    }
}
