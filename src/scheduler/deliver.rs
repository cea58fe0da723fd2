//! One try of one delivery through one modem, as one function over a [`ModemHandle`]: mark it
//! `sending` (committed before a byte goes to the modem), encode, ask the modem, decide with
//! [`policy::decide`], commit the outcome and the SIM's use, tell the progress board. The
//! dispatcher runs one such try per busy modem and takes back what [`Finished`] says.

use std::sync::Arc;

use super::policy::{self, Decision, RetryPolicy, TryResult};
use super::pool::{Job, ModemId};
use super::progress::{Board, Transition};
use crate::clock;
use crate::modem::ModemHandle;
use crate::sms::{self, Address, SubmitOptions};
use crate::store::{DeliveryState, StoreError, StoreHandle};

/// What a try needs besides the job and the modem.
#[derive(Clone)]
pub struct Deliverer {
    pub store: StoreHandle,
    pub board: Arc<Board>,
    pub retry: RetryPolicy,
    /// Ask for a status report on every part (TP-SRR).
    pub status_reports: bool,
}

/// How a try ended, for the pool.
#[derive(Debug)]
pub struct Finished {
    pub modem: ModemId,
    /// Parts reserved against the SIM's caps when the job was handed out.
    pub reserved_parts: u32,
    /// Parts that left the modem.
    pub sent_parts: u32,
    /// The job again, when it must wait for another try.
    pub retry: Option<Job>,
}

/// Why a cancelled delivery was not sent, as the progress events say it.
pub const OPTED_OUT: &str = "the member opted out by SMS";

/// How long a delivery whose modem was not ready waits before it is handed out again (the
/// pool hears of the modem leaving at about the same time; this keeps the two from racing).
const UNAVAILABLE_PAUSE: chrono::Duration = chrono::Duration::milliseconds(100);

/// Tries `job` once on `modem` (slot `id` of the pool).
pub async fn deliver(d: &Deliverer, modem: &ModemHandle, id: ModemId, job: Job) -> Finished {
    let finished = |sent_parts: u32, retry: Option<Job>| Finished {
        modem: id,
        reserved_parts: job.parts,
        sent_parts,
        retry,
    };
    let (delivery, device) = (job.delivery, modem.device().to_string());
    let dev = device.clone();
    // Each state change below is a group commit: durable when the call returns, and one sync
    // to disk for every modem whose change arrived at the same moment.
    let started = match d
        .store
        .write_batched(move |tx| tx.mark_sending(delivery, &dev, clock::now()))
        .await
    {
        Ok(update) => update,
        Err(StoreError::BadTransition {
            from: "cancelled", ..
        }) => {
            // The member opted out while this job waited here: it is never sent. The live
            // counts learn it now (the store already counts it).
            tracing::info!("the delivery was cancelled (opted out); not sent");
            d.board.transition(Transition {
                broadcast: job.broadcast,
                delivery: job.delivery,
                number: &job.number,
                from: DeliveryState::Queued,
                to: DeliveryState::Cancelled,
                modem: None,
                error: Some(OPTED_OUT),
            });
            return finished(0, None);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot mark the delivery as sending; not sent");
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
    transition(DeliveryState::Queued, DeliveryState::Sending, None);

    let encoded = Address::parse(&job.number)
        .map_err(|e| e.to_string())
        .and_then(|to| {
            let mut opts = SubmitOptions::to(to);
            opts.concat_ref = (job.delivery.0 % 256) as u8;
            opts.max_parts = sms::segment::MAX_PARTS_LIMIT;
            opts.status_report = d.status_reports;
            sms::encode_submit(&job.text, &opts).map_err(|e| e.to_string())
        });
    let (result, sim) = match encoded {
        Err(e) => (
            TryResult::Recipient {
                error: format!("cannot encode: {e}"),
                parts_sent: 0,
            },
            None,
        ),
        Ok(pdus) => {
            let sim = modem.status().imsi().map(str::to_string);
            match modem.send(pdus).await {
                Ok(outcomes) => (TryResult::from_outcomes(&outcomes), sim),
                Err(unavailable) => {
                    // Nothing was written: the try did not happen.
                    tracing::info!(reason = %unavailable, "modem not ready; delivery goes back to the queue");
                    let released = d
                        .store
                        .write_batched(move |tx| tx.release_unsent(delivery, clock::now()))
                        .await;
                    if let Err(e) = released {
                        // It stays `sending`; the next start applies the in-flight policy.
                        tracing::error!(error = %e, "cannot put the delivery back in the queue");
                        return finished(0, None);
                    }
                    transition(DeliveryState::Sending, DeliveryState::Queued, None);
                    let mut j = job.clone();
                    j.avoid = Some(id);
                    j.not_before = Some(clock::now() + UNAVAILABLE_PAUSE);
                    return finished(0, Some(j));
                }
            }
        }
    };
    let parts_sent = result.parts_sent();
    let decision = policy::decide(result, started.attempts, &d.retry, clock::now());
    let sim = sim.unwrap_or_else(|| device.clone());
    let (state, error) = match &decision {
        Decision::Sent { .. } => (DeliveryState::Sent, None),
        Decision::Failed { reason } => (DeliveryState::Failed, Some(reason.clone())),
        Decision::Retry { error, .. } => (DeliveryState::Queued, Some(error.clone())),
        Decision::Uncertain { reason } => (DeliveryState::Uncertain, Some(reason.clone())),
    };
    let commit = decision.clone();
    let committed = d
        .store
        .write_batched(move |tx| -> Result<(), StoreError> {
            let now = clock::now();
            if parts_sent > 0 {
                tx.record_sim_send(&sim, parts_sent, now)?;
            }
            match commit {
                Decision::Sent { refs } => {
                    // Each part's SIM and reference, for its status report.
                    tx.record_parts(delivery, &sim, &refs, now)?;
                    tx.mark_sent(delivery, &refs, now).map(drop)
                }
                Decision::Failed { reason } => tx.mark_failed(delivery, &reason, now).map(drop),
                Decision::Retry {
                    error,
                    not_before,
                    possible_duplicate,
                    ..
                } => {
                    if possible_duplicate {
                        tx.flag_possible_duplicate(delivery)?;
                    }
                    tx.requeue(delivery, &error, not_before, now).map(drop)
                }
                Decision::Uncertain { reason } => {
                    tx.mark_uncertain(delivery, &reason, now).map(drop)
                }
            }
        })
        .await;
    if let Err(e) = committed {
        // The delivery stays `sending` in the database; the next start applies the in-flight
        // policy to it. Keep it out of this run's queue to avoid a second send now.
        tracing::error!(error = %e, "cannot record the outcome of a send");
        return finished(parts_sent, None);
    }
    transition(DeliveryState::Sending, state, error.as_deref());
    let retry = match decision {
        Decision::Retry {
            not_before,
            avoid_modem,
            ..
        } => {
            let mut j = job.clone();
            j.not_before = Some(not_before);
            j.avoid = avoid_modem.then_some(id);
            j.attempts = started.attempts;
            Some(j)
        }
        _ => None,
    };
    finished(parts_sent, retry)
}
