//! One try of one delivery through one modem, as one function over a [`ModemHandle`]: mark it
//! `sending` (committed before a byte goes to the modem), encode, ask the modem, decide with
//! [`policy::decide`], commit the outcome and the SIM's use, tell the progress board. The
//! dispatcher runs one such try per busy modem and takes back what [`Finished`] says.
//!
//! A state commit after the message reached the modem is not lost to a full disk or a database
//! locked past the busy timeout: it is [`Held`] and tried again until it commits; the try (and
//! its modem) waits for it. Errors a try can repeat once per delivery are logged through
//! [`Repeats`].
//!
//! # Concatenation references
//!
//! Every part of a long message carries the same reference (TS 23.040 9.2.3.24.1). It is taken
//! from the store (`Tx::next_concat_ref`) when the message is about to go through a SIM, so it
//! survives a restart.
//!
//! A handset reassembles the parts it holds by sender address (the SIM's number) and
//! reference (some also by part count), and keeps an incomplete message waiting for a lost
//! part for as long as it chooses (23.040 sets no limit). Only messages from the same SIM to
//! the same phone can be confused, so the counter is kept per SIM *and recipient*: each long
//! message from a SIM to a phone gets the reference after the previous one's, and a reference
//! comes back to that phone from that SIM only after 256 long messages between the two. A
//! counter per SIM alone would cycle every 256 long messages through the SIM to anyone: a
//! group of 256 members on one SIM would get the same reference on every broadcast.
//!
//! Why 8 bits and not the 16-bit reference (IEI 0x08, 9.2.3.24.8, a 65 536 cycle): per
//! recipient, 256 long messages take at least 2.5 hours even if a SIM sent nothing else to
//! that one phone at the default cap (200 parts an hour: at most 100 two-part messages), and
//! months at the group quotas (3 broadcasts a day by default). The 16-bit header costs every
//! part one octet of user data (152 instead of 153 GSM 7-bit septets, 66 instead of 67 UCS-2
//! characters), so a text could need more parts than users were told when it was accepted
//! (`service::compose` counts with the 8-bit header), for no gain a phone would notice.

use std::sync::Arc;
use std::time::Instant;

use super::held::Held;
use super::policy::{self, Decision, RetryPolicy, TryError, TryResult, TrySign};
use super::pool::{Job, ModemId};
use super::progress::{Board, Transition};
use crate::clock;
use crate::logging::Repeats;
use crate::modem::{ModemHandle, NotSentReason, PartOutcome, SendGate};
use crate::sms::{self, Address, SubmitOptions};
use crate::store::{DeliveryState, StoreError, StoreHandle, CANCELLED_IN_FLIGHT};

/// What a try needs besides the job and the modem.
#[derive(Clone)]
pub struct Deliverer {
    pub store: StoreHandle,
    pub board: Arc<Board>,
    pub retry: RetryPolicy,
    /// Ask for a status report on every part (TP-SRR).
    pub status_reports: bool,
    /// Commits waiting for the disk (shared by every try).
    pub held: Held,
    /// Log lines said once a minute per kind.
    pub repeats: Arc<Repeats>,
    /// How long a SIM showing signs of a carrier block is kept from sending.
    pub quarantine: chrono::Duration,
    /// This host's lease, when other hosts share the database and may take its deliveries
    /// over once it runs out; `None`: one daemon, nothing to fence.
    pub lease: Option<super::lease::Lease>,
}

/// How a try ended, for the pool.
#[derive(Debug)]
pub struct Finished {
    pub modem: ModemId,
    /// The delivery tried.
    pub delivery: crate::store::DeliveryId,
    /// Parts reserved against the SIM's caps when the job was handed out.
    pub reserved_parts: u32,
    /// Parts that left the modem.
    pub sent_parts: u32,
    /// The job again, when it must wait for another try.
    pub retry: Option<Job>,
    /// What the try says about a carrier block of the SIM.
    pub sign: TrySign,
    /// How the try failed, when it was made and did not send the whole message.
    pub error: Option<TryError>,
}

/// Why a cancelled delivery was not sent, as the progress events say it when a try finds it
/// cancelled (the member opted out, or its broadcast was cancelled, while it waited here).
pub const CANCELLED: &str = "cancelled before it was sent";

/// How long a delivery whose modem was not ready waits before it is handed out again (the
/// pool hears of the modem leaving at about the same time; this keeps the two from racing).
const UNAVAILABLE_PAUSE: chrono::Duration = chrono::Duration::milliseconds(100);

/// How long a delivery a fenced host put back waits before this host tries it again (its
/// heartbeat renews the lease, or finds it was declared lost and joins again, meanwhile).
const FENCED_PAUSE: chrono::Duration = chrono::Duration::seconds(1);

/// Tries `job` once on `modem` (slot `id` of the pool).
pub async fn deliver(d: &Deliverer, modem: &ModemHandle, id: ModemId, job: Job) -> Finished {
    let finished = |sent_parts: u32, retry: Option<Job>| Finished {
        modem: id,
        delivery: job.delivery,
        reserved_parts: job.parts,
        sent_parts,
        retry,
        sign: TrySign::Neutral,
        error: None,
    };
    let (delivery, device) = (job.delivery, modem.device().to_string());
    // The SIM this try goes through (its IMSI; the device when the modem has not said).
    let sim = modem
        .status()
        .imsi()
        .map_or_else(|| device.clone(), str::to_string);
    let (dev, ref_sim, number) = (device.clone(), sim.clone(), job.number.clone());
    let long = job.parts > 1;
    // Each state change below is a group commit: durable when the call returns, and one sync
    // to disk for every modem whose change arrived at the same moment. A long message takes
    // its SIM's next concatenation reference for this recipient in the same commit (see
    // the module's notes), before a byte goes to the modem: a retry, here or on another
    // modem, takes a new one from the SIM it then goes through.
    let started = match d
        .store
        .write_batched(move |tx| {
            let update = tx.mark_sending(delivery, &dev, clock::now())?;
            let concat_ref = if long {
                tx.next_concat_ref(&ref_sim, &number)?
            } else {
                0
            };
            Ok((update, concat_ref))
        })
        .await
    {
        Ok(update) => update,
        Err(StoreError::BadTransition {
            from: "cancelled", ..
        }) => {
            // The member opted out, or the broadcast was cancelled, while this job waited
            // here: it is never sent. The live counts learn it now (the store already counts it).
            tracing::info!("the delivery was cancelled; not sent");
            d.board.transition(Transition {
                broadcast: job.broadcast,
                delivery: job.delivery,
                number: &job.number,
                from: DeliveryState::Queued,
                to: DeliveryState::Cancelled,
                modem: None,
                error: Some(CANCELLED),
            });
            return finished(0, None);
        }
        Err(e @ (StoreError::BadTransition { .. } | StoreError::TakenOver { .. })) => {
            // Another host's modem took it first (or it was settled meanwhile): not ours.
            tracing::debug!(error = %e, "the delivery is no longer queued; not sent here");
            return finished(0, None);
        }
        Err(StoreError::HostLost) => {
            // This host was declared lost; its heartbeat joins again, then it may send.
            let mut j = job.clone();
            j.not_before = Some(clock::now() + FENCED_PAUSE);
            return finished(0, Some(j));
        }
        Err(e) => {
            if let Some(repeated) = d
                .repeats
                .note(&format!("mark sending: {e}"), Instant::now())
            {
                tracing::error!(error = %e, "cannot mark the delivery as sending; not sent{repeated}");
            }
            // When the database is failing (disk full, I/O error) nothing was sent and no try
            // was spent: hand it back to be tried again a little later. Any other refusal
            // means it is no longer ours to send (its state changed).
            let retry = e.is_internal().then(|| {
                let mut j = job.clone();
                j.not_before = Some(clock::now() + chrono::Duration::seconds(1));
                j
            });
            return finished(0, retry);
        }
    };
    let transition = |from, to, error: Option<&str>| {
        d.board.transition(Transition {
            broadcast: job.broadcast,
            delivery: job.delivery,
            number: &job.number,
            from,
            to,
            modem: Some(&device),
            error,
        })
    };
    let (started, concat_ref) = started;
    transition(DeliveryState::Queued, DeliveryState::Sending, None);

    let encoded = Address::parse(&job.number)
        .map_err(|e| e.to_string())
        .and_then(|to| {
            let mut opts = SubmitOptions::to(to);
            opts.concat_ref = concat_ref;
            opts.max_parts = sms::segment::MAX_PARTS_LIMIT;
            opts.status_report = d.status_reports;
            sms::encode_submit(&job.text, &opts).map_err(|e| e.to_string())
        });
    let mut sign = TrySign::Neutral;
    let result = match encoded {
        Err(e) => TryResult::Recipient {
            error: format!("cannot encode: {e}"),
            parts_sent: 0,
        },
        Ok(pdus) => {
            // Fencing: a host whose lease ran out (paused, or cut off from the database) may
            // have been declared lost, and the delivery recovered and taken by another host;
            // it sends nothing until its lease is renewed. The modem asks right before it
            // writes each part, after whatever it waited for first.
            let gate = d
                .lease
                .clone()
                .map(|lease| SendGate::new(move || lease.holds(Instant::now())));
            let tried = match modem.send_gated(pdus, gate).await {
                Ok(outcomes)
                    if matches!(
                        outcomes.first(),
                        Some(PartOutcome::NotSent {
                            reason: NotSentReason::Fenced
                        })
                    ) =>
                {
                    Err(None)
                }
                other => other.map_err(Some),
            };
            match tried {
                Ok(outcomes) => {
                    sign = TrySign::from_outcomes(&outcomes);
                    TryResult::from_outcomes(&outcomes)
                }
                Err(unavailable) => {
                    // Nothing was written: the try did not happen.
                    match &unavailable {
                        Some(reason) => {
                            tracing::info!(%reason, "modem not ready; delivery goes back to the queue")
                        }
                        None => tracing::warn!(
                            "this host's lease has run out (the daemon was paused, or cut off \
                             from the database): not sent; the delivery goes back to the queue \
                             unless another host has taken it over"
                        ),
                    }
                    let released = d
                        .held
                        .commit(
                            &d.store,
                            &d.repeats,
                            "putting a delivery back in the queue",
                            || {
                                move |tx: &crate::store::Tx<'_>| {
                                    tx.release_unsent(delivery, clock::now()).map(|u| u.state)
                                }
                            },
                        )
                        .await;
                    match released {
                        Err(
                            e @ (StoreError::TakenOver { .. } | StoreError::BadTransition { .. }),
                        ) => {
                            // Recovered by another host meanwhile: it is that host's now.
                            tracing::info!(error = %e, "another host took the delivery over");
                            transition(DeliveryState::Sending, DeliveryState::Queued, None);
                            return finished(0, None);
                        }
                        Err(e) => {
                            // It stays `sending`; the next start applies the in-flight policy.
                            tracing::error!(error = %e, "cannot put the delivery back in the queue");
                            return finished(0, None);
                        }
                        // Its broadcast was cancelled meanwhile: not tried again.
                        Ok(DeliveryState::Cancelled) => {
                            transition(
                                DeliveryState::Sending,
                                DeliveryState::Cancelled,
                                Some(CANCELLED_IN_FLIGHT),
                            );
                            return finished(0, None);
                        }
                        Ok(_) => {}
                    }
                    transition(DeliveryState::Sending, DeliveryState::Queued, None);
                    let mut j = job.clone();
                    match unavailable {
                        Some(_) => {
                            j.avoid = avoiding(&job.avoid, id);
                            j.not_before = Some(clock::now() + UNAVAILABLE_PAUSE);
                        }
                        None => j.not_before = Some(clock::now() + FENCED_PAUSE),
                    }
                    return finished(0, Some(j));
                }
            }
        }
    };
    let parts_sent = result.parts_sent();
    let error_class = result.error_class();
    // The distinct modems this delivery failed on, this one included.
    let failed_on = avoiding(&job.avoid, id);
    let decision = policy::decide(
        result,
        started.attempts,
        failed_on.len() as u32,
        &d.retry,
        clock::now(),
    );
    let (state, error) = match &decision {
        Decision::Sent { .. } => (DeliveryState::Sent, None),
        Decision::Failed { reason } => (DeliveryState::Failed, Some(reason.clone())),
        Decision::Retry { error, .. } => (DeliveryState::Queued, Some(error.clone())),
        Decision::Uncertain { reason } => (DeliveryState::Uncertain, Some(reason.clone())),
    };
    // The time the message went out, whenever the commit gets through.
    let sent_at = clock::now();
    let committed = d
        .held
        .commit(
            &d.store,
            &d.repeats,
            "recording the outcome of a send",
            || {
                let (commit, sim) = (decision.clone(), sim.clone());
                move |tx: &crate::store::Tx<'_>| -> Result<DeliveryState, StoreError> {
                    let now = sent_at;
                    if parts_sent > 0 {
                        tx.record_sim_send(&sim, parts_sent, now)?;
                    }
                    let update = match commit {
                        Decision::Sent { refs } => {
                            // Each part's SIM and reference, for its status report.
                            tx.record_parts(delivery, &sim, &refs, now)?;
                            tx.mark_sent(delivery, &refs, now)
                        }
                        Decision::Failed { reason } => tx.mark_failed(delivery, &reason, now),
                        Decision::Retry {
                            error,
                            not_before,
                            possible_duplicate,
                            ..
                        } => {
                            if possible_duplicate {
                                tx.flag_possible_duplicate(delivery)?;
                            }
                            // Cancelled instead when its broadcast was cancelled meanwhile.
                            tx.requeue(delivery, &error, not_before, now)
                        }
                        Decision::Uncertain { reason } => tx.mark_uncertain(delivery, &reason, now),
                    };
                    update.map(|u| u.state)
                }
            },
        )
        .await;
    let committed = match committed {
        Ok(state) => state,
        Err(e @ (StoreError::TakenOver { .. } | StoreError::BadTransition { .. }))
            if d.lease.is_some() =>
        {
            // This host was paused (or cut off) mid-send past its lease: another host
            // recovered the delivery by the in-flight policy (queued again and flagged as a
            // possible duplicate, or marked uncertain) and owns it now.
            tracing::warn!(error = %e, parts_sent,
                "a message went out after this host's lease ran out; another host had \
                 recovered it meanwhile (by in_flight_policy), so this outcome is not recorded");
            return Finished {
                sign,
                error: error_class,
                ..finished(parts_sent, None)
            };
        }
        Err(e) => {
            // Not a full disk, a server out of reach or a lock (those are held until the
            // commit gets through), or the daemon stopped while it was held: the delivery stays `sending` in the database; the next start applies
            // the in-flight policy to it. Keep it out of this run's queue to avoid a second
            // send now.
            tracing::error!(error = %e, "cannot record the outcome of a send");
            return Finished {
                sign,
                error: error_class,
                ..finished(parts_sent, None)
            };
        }
    };
    if committed == DeliveryState::Cancelled && state == DeliveryState::Queued {
        // To be tried again, but its broadcast was cancelled meanwhile: it stays unsent.
        transition(
            DeliveryState::Sending,
            DeliveryState::Cancelled,
            Some(CANCELLED_IN_FLIGHT),
        );
        return Finished {
            sign,
            error: error_class,
            ..finished(parts_sent, None)
        };
    }
    transition(DeliveryState::Sending, state, error.as_deref());
    let retry = match decision {
        Decision::Retry {
            not_before,
            avoid_modem,
            back_after,
            ..
        } => {
            let mut j = job.clone();
            j.not_before = Some(not_before);
            if avoid_modem {
                j.avoid = failed_on;
            }
            j.back_after = back_after;
            j.attempts = started.attempts;
            Some(j)
        }
        _ => None,
    };
    Finished {
        sign,
        error: error_class,
        ..finished(parts_sent, retry)
    }
}

/// `avoid` with `modem` added (once).
fn avoiding(avoid: &[ModemId], modem: ModemId) -> Vec<ModemId> {
    let mut out = avoid.to_vec();
    if !out.contains(&modem) {
        out.push(modem);
    }
    out
}
