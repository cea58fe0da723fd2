//! What to do with a delivery after one try, as a pure function: sent, failed for good,
//! retried (on another modem), or left uncertain. The modem actor applies the decision
//! to the store before it takes its next job.
//!
//! # Transient errors: another SIM at once, back-off only when that is no help
//!
//! A transient refusal (`+CMS ERROR: 38`, congestion...) says "not now, not through this SIM";
//! another SIM is usually fine at that very moment. So a delivery refused by a SIM is
//! eligible at once on any SIM that has not refused it, for the first
//! [`RetryPolicy::retry_elsewhere`] SIMs it fails on; the back-off (`retry_backoff_secs`,
//! doubling per try) applies only
//! - once it failed on more distinct SIMs than that (the trouble is likely the recipient's
//!   side or the network's, not one SIM's): the retry itself waits, or
//! - when no SIM that has not refused it can take it (every SIM failed it, or the others are
//!   down, capped or pinned away): it goes back to a SIM that refused it only after the
//!   back-off ([`Decision::Retry::back_after`]; the pool enforces it).
//!
//! `retry_elsewhere = 0` is the behaviour before this rule: every transient failure waits the
//! back-off first.

use chrono::{DateTime, Duration, Utc};

use crate::at::{BlockSign, ErrorClass, Final};
use crate::domain::InFlightPolicy;
use crate::modem::PartOutcome;

/// How a try ended, in the terms the policy needs (the modem layer's outcome, summarised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TryResult {
    /// Every part was accepted; their message references.
    Sent { refs: Vec<u8> },
    /// The network or modem said "not now" (`+CMS ERROR: 38/42/500/330`, SIM busy...).
    Transient { error: String, parts_sent: u32 },
    /// The number itself was refused (`+CMS ERROR: 1/21/28/304`...).
    Recipient { error: String, parts_sent: u32 },
    /// The SIM cannot send (not inserted, failure, PUK, no SMS service): the modem is taken out.
    Sim { error: String, parts_sent: u32 },
    /// Nothing of the current part left the host (timeout before the prompt, port gone before
    /// the PDU was written): safe to send again.
    NotSent { error: String, parts_sent: u32 },
    /// The PDU and Ctrl-Z were written, then no answer: the part may have gone out.
    Ambiguous { error: String, parts_sent: u32 },
}

impl TryResult {
    /// The try's result from the outcome of each part (the first part that did not go out
    /// ends the message).
    pub fn from_outcomes(outcomes: &[PartOutcome]) -> TryResult {
        let mut refs = Vec::new();
        for outcome in outcomes {
            let parts_sent = refs.len() as u32;
            match outcome {
                // A modem that says OK without a reference still sent it; 0 stands in.
                PartOutcome::Sent { message_ref } => refs.push(message_ref.unwrap_or(0)),
                PartOutcome::Rejected { result, class } => {
                    let error = result.to_line();
                    return match class {
                        ErrorClass::Transient => TryResult::Transient { error, parts_sent },
                        ErrorClass::Recipient => TryResult::Recipient { error, parts_sent },
                        ErrorClass::Sim => TryResult::Sim { error, parts_sent },
                    };
                }
                PartOutcome::NotSent { .. } => {
                    return TryResult::NotSent {
                        error: outcome.summary(),
                        parts_sent,
                    }
                }
                PartOutcome::Ambiguous { .. } => {
                    return TryResult::Ambiguous {
                        error: outcome.summary(),
                        parts_sent,
                    }
                }
                PartOutcome::Failed { error } => {
                    return TryResult::NotSent {
                        error: error.to_string(),
                        parts_sent,
                    }
                }
                PartOutcome::NotAttempted => {}
            }
        }
        TryResult::Sent { refs }
    }

    /// Its error class; `None` when every part was sent.
    pub fn error_class(&self) -> Option<TryError> {
        match self {
            TryResult::Sent { .. } => None,
            TryResult::Transient { .. } => Some(TryError::Transient),
            TryResult::Recipient { .. } => Some(TryError::Recipient),
            TryResult::Sim { .. } => Some(TryError::Sim),
            TryResult::NotSent { .. } => Some(TryError::NotSent),
            TryResult::Ambiguous { .. } => Some(TryError::Ambiguous),
        }
    }

    /// Parts accepted by the modem before the try ended.
    pub fn parts_sent(&self) -> u32 {
        match self {
            TryResult::Sent { refs } => refs.len() as u32,
            TryResult::Transient { parts_sent, .. }
            | TryResult::Recipient { parts_sent, .. }
            | TryResult::Sim { parts_sent, .. }
            | TryResult::NotSent { parts_sent, .. }
            | TryResult::Ambiguous { parts_sent, .. } => *parts_sent,
        }
    }
}

/// The class of a try that did not send the whole message, as the pool counts them per
/// modem (`groupsms_modem_errors_total{class}` on `/metrics`): one per variant of
/// [`TryResult`] but `Sent`, so the classification stays [`TryResult::from_outcomes`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryError {
    Transient,
    Recipient,
    Sim,
    NotSent,
    Ambiguous,
}

impl TryError {
    pub const ALL: [TryError; 5] = [
        TryError::Transient,
        TryError::Recipient,
        TryError::Sim,
        TryError::NotSent,
        TryError::Ambiguous,
    ];

    /// `transient`, `recipient`, `sim`, `not_sent`, `ambiguous`.
    pub fn name(self) -> &'static str {
        match self {
            TryError::Transient => "transient",
            TryError::Recipient => "recipient",
            TryError::Sim => "sim",
            TryError::NotSent => "not_sent",
            TryError::Ambiguous => "ambiguous",
        }
    }
}

/// Tries that ended in each [`TryError`], indexed by the class's place in
/// [`TryError::ALL`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TryErrors([u64; 5]);

impl TryErrors {
    pub fn add(&mut self, class: TryError) {
        self.0[class as usize] += 1;
    }

    pub fn get(&self, class: TryError) -> u64 {
        self.0[class as usize]
    }
}

/// What happens to the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Sent {
        refs: Vec<u8>,
    },
    Failed {
        reason: String,
    },
    /// Queue again, not before `not_before`; `avoid_modem`: prefer another modem;
    /// `back_after`: a modem that failed this delivery may take it again only from then on
    /// (`None`: whenever no other modem can); `possible_duplicate`: some of it may already
    /// have reached the phone.
    Retry {
        error: String,
        not_before: DateTime<Utc>,
        avoid_modem: bool,
        back_after: Option<DateTime<Utc>>,
        possible_duplicate: bool,
    },
    Uncertain {
        reason: String,
    },
}

/// Retry limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries before a transient error becomes final.
    pub max_attempts: u32,
    /// First back-off; doubles per try, capped at 5 minutes.
    pub backoff: Duration,
    /// Distinct SIMs a delivery may fail on transiently and still be retried at once on
    /// another (see the module docs); 0: always back off first.
    pub retry_elsewhere: u32,
    pub in_flight: InFlightPolicy,
}

/// Decides after try number `attempt` (1-based). `failed_sims`: the distinct SIMs (modems)
/// this delivery has failed on so far, this try's included.
pub fn decide(
    result: TryResult,
    attempt: u32,
    failed_sims: u32,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> Decision {
    let partial = result.parts_sent() > 0;
    let backoff = |n: u32| {
        let factor = 1i32 << n.saturating_sub(1).min(8);
        (policy.backoff * factor).min(Duration::minutes(5))
    };
    match result {
        TryResult::Sent { refs } => Decision::Sent { refs },
        TryResult::Recipient { error, .. } => Decision::Failed { reason: error },
        TryResult::Transient { error, .. } if attempt >= policy.max_attempts => Decision::Failed {
            reason: format!("{error} (gave up after {attempt} tries)"),
        },
        TryResult::Transient { error, .. } => {
            let back_after = now + backoff(attempt);
            Decision::Retry {
                error,
                not_before: if failed_sims <= policy.retry_elsewhere {
                    now
                } else {
                    back_after
                },
                avoid_modem: true,
                back_after: Some(back_after),
                possible_duplicate: partial,
            }
        }
        // Neither the SIM's nor a hung port's fault lies with the recipient: retry at once on
        // another modem. The attempt still counts, so a job cannot bounce forever.
        TryResult::Sim { error, .. } | TryResult::NotSent { error, .. }
            if attempt < policy.max_attempts + 2 =>
        {
            Decision::Retry {
                error,
                not_before: now,
                avoid_modem: true,
                back_after: None,
                possible_duplicate: partial,
            }
        }
        TryResult::Sim { error, .. } | TryResult::NotSent { error, .. } => Decision::Failed {
            reason: format!("{error} (gave up after {attempt} tries)"),
        },
        TryResult::Ambiguous { error, .. } => match policy.in_flight {
            InFlightPolicy::Resend => Decision::Retry {
                error: format!("{error}; sent again, the recipient may get it twice"),
                not_before: now,
                avoid_modem: true,
                back_after: None,
                possible_duplicate: true,
            },
            InFlightPolicy::Uncertain => Decision::Uncertain { reason: error },
        },
    }
}

/// What one try says about a carrier block of its SIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrySign {
    /// A message went out whole: the SIM can send.
    Sent,
    /// A refusal whose name says the SIM may not send ([`crate::at::BlockSign::Barred`]).
    Barred(String),
    /// A refusal carriers are reported to give a blocked SIM, among other reasons.
    Suspect(String),
    /// Nothing either way (another refusal, a port that went away, no answer).
    Neutral,
}

impl TrySign {
    /// The sign of a try from the outcome of each part.
    pub fn from_outcomes(outcomes: &[PartOutcome]) -> TrySign {
        let refusal = outcomes.iter().find_map(|o| match o {
            PartOutcome::Rejected {
                result: Final::Cms(e),
                ..
            } => Some((
                e.block_sign(),
                Final::Cms(e.clone()).to_line(),
                e.name().to_string(),
            )),
            _ => None,
        });
        match refusal {
            Some((Some(BlockSign::Barred), line, name)) => {
                TrySign::Barred(format!("{line} ({name})"))
            }
            Some((Some(BlockSign::Suspect), line, _)) => TrySign::Suspect(line),
            Some((None, ..)) => TrySign::Neutral,
            None if outcomes
                .iter()
                .all(|o| matches!(o, PartOutcome::Sent { .. } | PartOutcome::NotAttempted))
                && outcomes
                    .iter()
                    .any(|o| matches!(o, PartOutcome::Sent { .. })) =>
            {
                TrySign::Sent
            }
            None => TrySign::Neutral,
        }
    }
}

/// Suspect refusals in a row on one SIM, nothing sent between, that make a block.
pub const SUSPECT_RUN: usize = 5;
/// ... within this long (from the first of them to the last).
pub const SUSPECT_WINDOW_MINUTES: i64 = 10;

/// The signs of a carrier block one SIM showed lately: decides when to quarantine it. A
/// barring refusal is enough; suspect ones must come [`SUSPECT_RUN`] in a row within
/// [`SUSPECT_WINDOW_MINUTES`] with nothing sent between (at a 5 % rate of ordinary transient
/// errors, five in a row happen once in 3 million tries; at 30 %, once in 400).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockWatch {
    /// The suspect refusals since the last message sent: when, and the error.
    suspects: Vec<(DateTime<Utc>, String)>,
}

impl BlockWatch {
    /// Takes one try's sign; the reason to quarantine the SIM, when this makes a block.
    pub fn observe(&mut self, sign: TrySign, now: DateTime<Utc>) -> Option<String> {
        match sign {
            TrySign::Sent => self.suspects.clear(),
            TrySign::Neutral => {}
            TrySign::Barred(error) => {
                self.suspects.clear();
                return Some(format!("{error}: the network says this SIM may not send"));
            }
            TrySign::Suspect(error) => {
                let since = now - Duration::minutes(SUSPECT_WINDOW_MINUTES);
                self.suspects.retain(|(t, _)| *t >= since);
                self.suspects.push((now, error));
                if self.suspects.len() >= SUSPECT_RUN {
                    let mut codes: Vec<&str> =
                        self.suspects.iter().map(|(_, e)| e.as_str()).collect();
                    codes.sort_unstable();
                    codes.dedup();
                    let reason = format!(
                        "{} refusals in a row within {SUSPECT_WINDOW_MINUTES} minutes, nothing \
                         sent between ({}): carriers are reported to answer so when they block a SIM",
                        self.suspects.len(),
                        codes.join(", ")
                    );
                    self.suspects.clear();
                    return Some(reason);
                }
            }
        }
        None
    }

    /// Forgets what it saw (a new SIM, a quarantine that ended or was lifted).
    pub fn reset(&mut self) {
        self.suspects.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(in_flight: InFlightPolicy) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff: Duration::seconds(2),
            retry_elsewhere: 2,
            in_flight,
        }
    }

    fn now() -> DateTime<Utc> {
        "2024-05-10T02:00:00Z".parse().unwrap()
    }

    #[test]
    fn outcomes_summarised() {
        use crate::at::{CmsError, Final};
        use crate::modem::{AmbiguousReason, NotSentReason};
        let sent = |mr| PartOutcome::Sent {
            message_ref: Some(mr),
        };
        assert_eq!(
            TryResult::from_outcomes(&[sent(7), sent(8)]),
            TryResult::Sent { refs: vec![7, 8] }
        );
        assert_eq!(
            TryResult::from_outcomes(&[
                sent(7),
                PartOutcome::Rejected {
                    result: Final::Cms(CmsError::NetworkOutOfOrder),
                    class: ErrorClass::Transient
                },
                PartOutcome::NotAttempted
            ]),
            TryResult::Transient {
                error: "+CMS ERROR: 38".into(),
                parts_sent: 1
            }
        );
        assert_eq!(
            TryResult::from_outcomes(&[PartOutcome::NotSent {
                reason: NotSentReason::PromptTimeout
            }]),
            TryResult::NotSent {
                error: "not-sent prompt-timeout".into(),
                parts_sent: 0
            }
        );
        assert_eq!(
            TryResult::from_outcomes(&[
                sent(1),
                PartOutcome::Ambiguous {
                    reason: AmbiguousReason::NoAnswer(std::time::Duration::from_secs(15))
                }
            ]),
            TryResult::Ambiguous {
                error: "ambiguous no-answer".into(),
                parts_sent: 1
            }
        );
    }

    #[test]
    fn a_transient_error_is_retried_at_once_elsewhere_then_backs_off_on_several_sims() {
        let p = policy(InFlightPolicy::Resend);
        let r = || TryResult::Transient {
            error: "+CMS ERROR: 38".into(),
            parts_sent: 0,
        };
        // First SIM refused it: any other SIM may take it now; the one that refused it only
        // after the back-off.
        assert_eq!(
            decide(r(), 1, 1, &p, now()),
            Decision::Retry {
                error: "+CMS ERROR: 38".into(),
                not_before: now(),
                avoid_modem: true,
                back_after: Some(now() + Duration::seconds(2)),
                possible_duplicate: false,
            }
        );
        // Second distinct SIM: still at once (retry_elsewhere = 2), back-off doubled.
        let Decision::Retry {
            not_before,
            back_after,
            ..
        } = decide(r(), 2, 2, &p, now())
        else {
            panic!()
        };
        assert_eq!(not_before, now());
        assert_eq!(back_after, Some(now() + Duration::seconds(4)));
        // The same number failed on a third SIM: now the retry itself waits.
        let p4 = RetryPolicy {
            max_attempts: 5,
            ..p
        };
        let Decision::Retry { not_before, .. } = decide(r(), 3, 3, &p4, now()) else {
            panic!()
        };
        assert_eq!(not_before, now() + Duration::seconds(8));
        // Two tries on one SIM (the only one up) count as one SIM: the retry is not delayed,
        // the pool holds it back until `back_after` since no other SIM can take it.
        let Decision::Retry { not_before, .. } = decide(r(), 2, 1, &p, now()) else {
            panic!()
        };
        assert_eq!(not_before, now());
        assert_eq!(
            decide(r(), 3, 1, &p, now()),
            Decision::Failed {
                reason: "+CMS ERROR: 38 (gave up after 3 tries)".into()
            }
        );
    }

    #[test]
    fn retry_elsewhere_zero_backs_off_before_every_retry() {
        let p = RetryPolicy {
            retry_elsewhere: 0,
            ..policy(InFlightPolicy::Resend)
        };
        let r = || TryResult::Transient {
            error: "+CMS ERROR: 42".into(),
            parts_sent: 0,
        };
        let Decision::Retry { not_before, .. } = decide(r(), 1, 1, &p, now()) else {
            panic!()
        };
        assert_eq!(not_before, now() + Duration::seconds(2));
        let Decision::Retry { not_before, .. } = decide(r(), 2, 2, &p, now()) else {
            panic!()
        };
        assert_eq!(not_before, now() + Duration::seconds(4));
    }

    #[test]
    fn a_bad_number_fails_at_once() {
        let d = decide(
            TryResult::Recipient {
                error: "+CMS ERROR: 1".into(),
                parts_sent: 0,
            },
            1,
            1,
            &policy(InFlightPolicy::Resend),
            now(),
        );
        assert_eq!(
            d,
            Decision::Failed {
                reason: "+CMS ERROR: 1".into()
            }
        );
    }

    #[test]
    fn ambiguous_follows_the_in_flight_policy() {
        let r = || TryResult::Ambiguous {
            error: "no answer after Ctrl-Z".into(),
            parts_sent: 0,
        };
        assert!(matches!(
            decide(r(), 1, 1, &policy(InFlightPolicy::Resend), now()),
            Decision::Retry {
                possible_duplicate: true,
                ..
            }
        ));
        // A transient error after the first part went out: resending repeats that part.
        let partial = TryResult::Transient {
            error: "+CMS ERROR: 42".into(),
            parts_sent: 1,
        };
        assert!(matches!(
            decide(partial, 1, 1, &policy(InFlightPolicy::Resend), now()),
            Decision::Retry {
                possible_duplicate: true,
                ..
            }
        ));
        assert_eq!(
            decide(r(), 1, 1, &policy(InFlightPolicy::Uncertain), now()),
            Decision::Uncertain {
                reason: "no answer after Ctrl-Z".into()
            }
        );
    }

    #[test]
    fn sim_and_port_trouble_retry_elsewhere_without_delay_but_not_forever() {
        let p = policy(InFlightPolicy::Resend);
        let r = || TryResult::Sim {
            error: "+CME ERROR: 10".into(),
            parts_sent: 0,
        };
        assert!(
            matches!(decide(r(), 1, 1, &p, now()), Decision::Retry { not_before, avoid_modem: true, .. } if not_before == now())
        );
        assert!(matches!(
            decide(r(), 5, 1, &p, now()),
            Decision::Failed { .. }
        ));
    }

    fn at(secs: i64) -> DateTime<Utc> {
        now() + Duration::seconds(secs)
    }

    #[test]
    fn one_barring_refusal_is_a_block() {
        use crate::at::{CmsError, Final};
        let barred = TrySign::from_outcomes(&[PartOutcome::Rejected {
            result: Final::Cms(CmsError::OperatorDeterminedBarring),
            class: ErrorClass::Sim,
        }]);
        assert_eq!(
            barred,
            TrySign::Barred("+CMS ERROR: 8 (Operator determined barring)".into())
        );
        let mut w = BlockWatch::default();
        assert_eq!(
            w.observe(barred, now()),
            Some(
                "+CMS ERROR: 8 (Operator determined barring): the network says this SIM may not send"
                    .into()
            )
        );
    }

    #[test]
    fn suspect_refusals_are_a_block_only_five_in_a_row_within_ten_minutes() {
        let s = |code: &str| TrySign::Suspect(format!("+CMS ERROR: {code}"));
        let mut w = BlockWatch::default();
        for i in 0..4 {
            assert_eq!(w.observe(s("38"), at(i)), None);
        }
        // A message sent in between: the run starts again.
        assert_eq!(w.observe(TrySign::Sent, at(5)), None);
        for i in 0..4 {
            assert_eq!(w.observe(s("38"), at(10 + i)), None);
        }
        // Something that says nothing (a port gone) does not break the run.
        assert_eq!(w.observe(TrySign::Neutral, at(20)), None);
        let reason = w.observe(s("500"), at(21)).expect("a block");
        assert!(
            reason.starts_with(
                "5 refusals in a row within 10 minutes, nothing sent between (+CMS ERROR: 38, +CMS ERROR: 500)"
            ),
            "{reason}"
        );
        // Spread over more than ten minutes: no block.
        let mut w = BlockWatch::default();
        for i in 0..10 {
            assert_eq!(w.observe(s("42"), at(i * 180)), None, "try {i}");
        }
    }

    #[test]
    fn the_sign_of_a_try() {
        use crate::at::{CmsError, Final};
        let sent = || PartOutcome::Sent {
            message_ref: Some(1),
        };
        assert_eq!(TrySign::from_outcomes(&[sent()]), TrySign::Sent);
        let refused = |e| PartOutcome::Rejected {
            result: Final::Cms(e),
            class: ErrorClass::Transient,
        };
        assert_eq!(
            TrySign::from_outcomes(&[sent(), refused(CmsError::NetworkOutOfOrder)]),
            TrySign::Suspect("+CMS ERROR: 38".into())
        );
        assert_eq!(
            TrySign::from_outcomes(&[refused(CmsError::SimBusy)]),
            TrySign::Neutral
        );
        assert_eq!(TrySign::from_outcomes(&[]), TrySign::Neutral);
    }
}
