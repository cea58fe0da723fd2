//! Incoming messages, from each modem into the store: a stored one (`+CMTI`) is read
//! (`AT+CMGR`), committed, and deleted from the modem (`AT+CMGD`) only after the commit, so a
//! crash in between leaves it on the SIM, where the next listing finds it again and the store
//! recognises it (no duplicate). The receive memory is listed (`AT+CMGL=4`) and drained each
//! time the modem becomes ready, when it says its memory is full (`+CMS ERROR: 322`), and
//! every [`SWEEP_EVERY`] (messages a modem stored without telling). A routed one (`+CMT`) is
//! committed as it comes (the actor already acknowledged it with `AT+CNMA` where required),
//! or kept in memory and committed again while the database refuses it for now (see
//! [`Unrecorded`]).
//! What a message means is decided in [`crate::service::inbox`]; this is the plumbing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::at::parse::StoredAt;
use crate::at::Urc;
use crate::clock;
use crate::modem::{Health, ModemEvent, ModemHandle};
use crate::scheduler::progress::Board;
use crate::scheduler::Scheduler;
use crate::service::inbox::{ingest, Committed, InboxSettings, IncomingPdu, Ingested};
use crate::service::{carrier, optout};
use crate::store::{BroadcastId, Handling, StoreError, StoreHandle};

use super::unrecorded::{Routed, Unrecorded};

/// How often the receive memory is listed even without a notice.
pub const SWEEP_EVERY: Duration = Duration::from_secs(120);

/// What the inbox consumers share.
#[derive(Clone)]
pub struct Inbox {
    pub store: StoreHandle,
    pub settings: InboxSettings,
    /// Every message once it is complete and committed (`subscribe {"inbox": true}`).
    pub live: broadcast::Sender<Committed>,
    /// The rules an opt-out or opt-in by reply follows (`service::optout`).
    pub rules: Arc<crate::service::Settings>,
    /// Where a confirmation (a notice) goes once committed.
    pub scheduler: Scheduler,
    pub board: Arc<Board>,
    /// What makes a carrier's notice a sign of a block (`[scheduler] block_notice_phrases`).
    pub block_phrases: Arc<Vec<String>>,
}

/// What became of one PDU handed over by a modem.
enum Fate {
    /// Committed (or already there): the modem may delete it.
    Kept,
    /// Not an incoming message: leave it where it is.
    NotOurs,
    /// The commit failed: keep it on the modem, try again at the next listing (a routed one
    /// is kept in memory when `again`: the database refused it for now).
    Failed { again: bool },
}

impl Inbox {
    /// Follows `modem` until `shutdown` turns true or the modem's actor ends.
    pub fn spawn(
        &self,
        modem: ModemHandle,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        let mut events = modem.events();
        let mut status = modem.watch_status();
        tokio::spawn(async move {
            let mut drained_probe = 0;
            let mut full_seen = 0;
            let mut unrecorded = Unrecorded::default();
            let mut sweep = tokio::time::interval(SWEEP_EVERY);
            sweep.tick().await;
            loop {
                // Ready again (first start, re-init, replug): drain what came meanwhile.
                let (ready, probes, full) = {
                    let s = status.borrow_and_update();
                    (s.health == Health::Ready, s.probes, s.memory_full)
                };
                if ready && probes != drained_probe {
                    drained_probe = probes;
                    this.drain(&modem, "the modem is ready").await;
                }
                if ready && full != full_seen {
                    full_seen = full;
                    this.drain(&modem, "the modem's memory is full").await;
                }
                tokio::select! {
                    _ = shutdown.changed() => break,
                    changed = status.changed() => if changed.is_err() { break },
                    _ = unrecorded.due() => {
                        unrecorded.again("message", |m| this.commit_routed(m)).await
                    }
                    _ = sweep.tick() => {
                        if modem.status().health == Health::Ready {
                            this.drain(&modem, "periodic sweep").await;
                        }
                    }
                    event = events.recv() => match event {
                        Ok(e) => this.on_event(&modem, Arc::unwrap_or_clone(e), &mut unrecorded).await,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(device = modem.device(), missed = n,
                                "unsolicited codes came faster than they were handled; listing the memory");
                            this.drain(&modem, "notices were missed").await;
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
            unrecorded.stop(modem.device(), "message");
        })
    }

    async fn on_event(
        &self,
        modem: &ModemHandle,
        event: ModemEvent,
        unrecorded: &mut Unrecorded<Routed>,
    ) {
        let sim = event.imsi.unwrap_or_else(|| event.device.to_string());
        match event.urc {
            Urc::Message { length, pdu } => {
                let message = Routed {
                    sim,
                    device: event.device.to_string(),
                    pdu,
                    length,
                };
                unrecorded
                    .offer(message, "message", |m| self.commit_routed(m))
                    .await;
            }
            Urc::NewMessage(at) => match modem.read_stored(at.clone()).await {
                Ok(Some(entry)) => {
                    let fate = self
                        .commit(&sim, &event.device, &entry.pdu, entry.length)
                        .await;
                    self.after(modem, &at, fate).await;
                }
                Ok(None) => tracing::warn!(
                    storage = at.storage.name(),
                    index = at.index,
                    "a message was announced, but its place is empty"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read a stored message; listing the memory");
                    self.drain(modem, "a read failed").await;
                }
            },
            _ => {}
        }
    }

    /// Commits a routed message; false when the database refused it for now.
    async fn commit_routed(&self, m: Routed) -> bool {
        let fate = self.commit(&m.sim, &m.device, &m.pdu, Some(m.length)).await;
        !matches!(fate, Fate::Failed { again: true })
    }

    /// Lists the receive memory and takes every received message out of it.
    pub async fn drain(&self, modem: &ModemHandle, why: &str) {
        let status = modem.status();
        let sim = status
            .imsi()
            .map(str::to_string)
            .unwrap_or_else(|| modem.device().to_string());
        let list = match modem.list_stored().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(device = modem.device(), error = %e, why, "cannot list the stored messages");
                return;
            }
        };
        let (used, total) = list.memory.as_ref().map_or((0, 0), |m| (m.used, m.total));
        let full = total > 0 && used >= total;
        let received: Vec<_> = list
            .messages
            .into_iter()
            .filter(|(_, e)| e.stat <= 1)
            .collect();
        if received.is_empty() {
            return;
        }
        tracing::info!(
            device = modem.device(),
            why,
            messages = received.len(),
            used,
            total,
            full,
            "reading the stored messages"
        );
        for (at, entry) in received {
            let fate = self
                .commit(&sim, modem.device(), &entry.pdu, entry.length)
                .await;
            self.after(modem, &at, fate).await;
        }
        if full {
            tracing::info!(
                device = modem.device(),
                "the full message memory was drained"
            );
        }
    }

    /// Deletes a stored message once it is committed.
    async fn after(&self, modem: &ModemHandle, at: &StoredAt, fate: Fate) {
        match fate {
            Fate::Kept => {}
            Fate::NotOurs => return,
            Fate::Failed { .. } => {
                tracing::warn!(
                    storage = at.storage.name(),
                    index = at.index,
                    "the message stays on the modem; it is read again at the next listing"
                );
                return;
            }
        }
        match modem.delete_stored(at.clone()).await {
            Ok(()) => tracing::info!(
                storage = at.storage.name(),
                index = at.index,
                "stored message deleted"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot delete a stored message"),
        }
    }

    async fn commit(&self, sim: &str, device: &str, pdu: &str, length: Option<usize>) -> Fate {
        let (sim2, device2, pdu2, settings, rules) = (
            sim.to_string(),
            device.to_string(),
            pdu.to_string(),
            self.settings,
            self.rules.clone(),
        );
        let outcome = self
            .store
            .call(move |s| {
                s.write(
                    |tx| -> Result<(Ingested, Option<BroadcastId>), StoreError> {
                        let incoming = IncomingPdu {
                            sim: &sim2,
                            device: &device2,
                            pdu: &pdu2,
                            length,
                        };
                        let now = clock::now();
                        let mut ingested = ingest(tx, &settings, incoming, now)?;
                        // A complete message from a person may be an opt-out or opt-in keyword:
                        // applied in the same transaction as the message, so neither is kept
                        // without the other.
                        let mut notice = None;
                        if let Ingested::Stored {
                            committed: Some(c), ..
                        } = &mut ingested
                        {
                            if !c.carrier_notice {
                                let linked_group = match &c.group {
                                    Some(handle) => tx.group(handle)?.map(|g| g.id),
                                    None => None,
                                };
                                let handling = optout::on_incoming(
                                    tx,
                                    &rules,
                                    &optout::Incoming {
                                        number: &c.originator,
                                        linked_group,
                                        text: &c.text,
                                        sim: &sim2,
                                        at: now,
                                    },
                                )?;
                                let stored = match &handling {
                                    optout::Handling::OptOut(_) => Some(Handling::OptOut),
                                    optout::Handling::OptIn(_) => Some(Handling::OptIn),
                                    optout::Handling::Other(_) => None,
                                };
                                if let Some(h) = stored {
                                    tx.set_inbox_handling(c.message, h)?;
                                    c.handling = h;
                                    tracing::info!(message = c.message, "{}", handling.describe());
                                }
                                notice = handling.notice();
                            }
                            // Announced with its outcome, in the same transaction.
                            tx.emit_inbound(c.message, now)?;
                        }
                        Ok((ingested, notice))
                    },
                )
            })
            .await;
        let outcome = match outcome {
            Ok((ingested, notice)) => {
                if let Some(id) = notice {
                    self.send_notice(id).await;
                }
                Ok(ingested)
            }
            Err(e) => Err(e),
        };
        match outcome {
            Err(e) => {
                tracing::error!(error = %e, "cannot record an incoming message");
                Fate::Failed {
                    again: e.may_pass_later(),
                }
            }
            Ok(Ingested::NotADeliver { kind }) => {
                tracing::warn!(
                    sim,
                    kind,
                    "a stored PDU that is not an incoming message; left alone"
                );
                Fate::NotOurs
            }
            Ok(Ingested::Duplicate { .. }) => {
                tracing::info!(sim, "incoming message already recorded");
                Fate::Kept
            }
            Ok(Ingested::Stored {
                message,
                seq,
                parts_total,
                committed,
            }) => {
                tracing::info!(
                    sim,
                    message,
                    part = seq,
                    parts = parts_total,
                    "incoming message recorded"
                );
                if let Some(c) = committed {
                    self.on_committed(sim, c);
                }
                Fate::Kept
            }
        }
    }

    /// A confirmation of an opt-out or opt-in, committed as a one-delivery notice: handed to
    /// the scheduler like a broadcast's deliveries (at the next start if this fails).
    async fn send_notice(&self, id: BroadcastId) {
        match self.store.call(move |s| s.queued_for_broadcast(id)).await {
            Ok(queued) => crate::scheduler::launch(&self.board, &self.scheduler, id, queued, None),
            Err(e) => {
                tracing::warn!(error = %e, broadcast = id.0, "cannot queue a confirmation now; it goes at the next start")
            }
        }
    }

    /// A message is complete and committed (its opt-out or opt-in applied with it): the one
    /// place that hears of each, once.
    fn on_committed(&self, sim: &str, c: Committed) {
        tracing::info!(
            message = c.message,
            from = %c.originator,
            member = c.member.as_deref().unwrap_or("-"),
            broadcast = c.broadcast.map(|b| b.0),
            handling = %c.handling,
            carrier_notice = c.carrier_notice,
            "incoming message"
        );
        // A carrier telling this SIM it is suspended or restricted: quarantined.
        if c.carrier_notice {
            if let Some(reason) = carrier::notice_sign(&c.originator, &c.text, &self.block_phrases)
            {
                self.scheduler.block(sim, reason);
            }
        }
        // Nobody subscribed is fine.
        let _ = self.live.send(c);
    }
}
