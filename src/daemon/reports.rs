//! Status reports, from each modem's events into the store: a routed `+CDS` is applied at
//! once (kept in memory and applied again while the database refuses it for now: see
//! [`Unrecorded`]); a stored one (`+CDSI`) is read from the modem, applied, and deleted from
//! the modem only after the commit, so a crash in between leaves it on the SIM rather than
//! lost. What a report means is decided in [`crate::service::reports`]; this is the plumbing.

use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use crate::at::Urc;
use crate::clock;
use crate::logging::Repeats;
use crate::modem::{ModemEvent, ModemHandle};
use crate::scheduler::progress::{Board, Transition};
use crate::service::reports::{apply_report, IncomingReport, ReportOutcome, ReportSettings};
use crate::store::{StoreError, StoreHandle};

use super::unrecorded::{Routed, Unrecorded};

/// What the report consumers share.
#[derive(Clone)]
pub struct Reports {
    pub store: StoreHandle,
    pub board: Arc<Board>,
    pub settings: ReportSettings,
    /// Lines written once a minute per kind (a full disk fails every report).
    pub repeats: Arc<Repeats>,
}

impl Reports {
    /// Follows `modem`'s events until `shutdown` turns true or the modem's actor ends.
    pub fn spawn(
        &self,
        modem: ModemHandle,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        let mut events = modem.events();
        tokio::spawn(async move {
            let mut unrecorded = Unrecorded::default();
            loop {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    _ = unrecorded.due() => {
                        unrecorded.again("status report", |r| this.apply_routed(r)).await
                    }
                    event = events.recv() => match event {
                        Ok(e) => this.on_event(&modem, Arc::unwrap_or_clone(e), &mut unrecorded).await,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(device = modem.device(), missed = n,
                                "unsolicited codes came faster than they were handled; some were missed");
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
            unrecorded.stop(modem.device(), "status report");
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
            Urc::StatusReport { length, pdu } => {
                let report = Routed {
                    sim,
                    device: event.device.to_string(),
                    pdu,
                    length,
                };
                unrecorded
                    .offer(report, "status report", |r| self.apply_routed(r))
                    .await;
            }
            Urc::StatusReportStored(at) => match modem.read_stored(at.clone()).await {
                Ok(Some(entry)) => {
                    let committed = self
                        .apply(&sim, &event.device, entry.pdu, entry.length)
                        .await;
                    if committed.is_ok() {
                        match modem.delete_stored(at.clone()).await {
                            Ok(()) => tracing::info!(
                                storage = at.storage.name(),
                                index = at.index,
                                "stored status report deleted"
                            ),
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot delete a stored status report")
                            }
                        }
                    }
                }
                Ok(None) => tracing::warn!(
                    storage = at.storage.name(),
                    index = at.index,
                    "a status report was announced, but its place is empty: lost"
                ),
                Err(e) => tracing::warn!(error = %e, "cannot read a stored status report"),
            },
            _ => {}
        }
    }

    /// Applies a routed report; false when the database refused it for now.
    async fn apply_routed(&self, r: Routed) -> bool {
        let applied = self.apply(&r.sim, &r.device, r.pdu, Some(r.length)).await;
        !matches!(applied, Err(e) if e.may_pass_later())
    }

    async fn apply(
        &self,
        sim: &str,
        device: &str,
        pdu: String,
        length: Option<usize>,
    ) -> Result<(), StoreError> {
        let (sim2, device2, settings) = (sim.to_string(), device.to_string(), self.settings);
        let board = Arc::clone(&self.board);
        let outcome = self
            .store
            .call(move |s| {
                let outcome = s.write(|tx| {
                    let report = IncomingReport {
                        sim: &sim2,
                        device: &device2,
                        pdu: &pdu,
                        length,
                    };
                    apply_report(tx, &settings, report, clock::now())
                })?;
                // In the same store call as the commit, so a `subscribe` that reads the
                // counts from the store and starts watching (one store call too) sees this
                // report either in those counts or as an event after them, never both.
                if let ReportOutcome::Applied {
                    delivery,
                    broadcast,
                    number,
                    modem,
                    before,
                    update: Some(u),
                    reason,
                    ..
                } = &outcome
                {
                    board.transition(Transition {
                        broadcast: *broadcast,
                        delivery: *delivery,
                        number,
                        from: *before,
                        to: u.state,
                        modem: modem.as_deref(),
                        error: reason.as_deref(),
                    });
                }
                Ok::<_, StoreError>(outcome)
            })
            .await;
        match outcome {
            Err(e) => {
                let kind = format!("status report: {e}");
                if let Some(repeated) = self.repeats.note(&kind, std::time::Instant::now()) {
                    tracing::error!(error = %e, "cannot record a status report{repeated}");
                }
                Err(e)
            }
            Ok(ReportOutcome::Unmatched { reason }) => {
                tracing::warn!(sim, %reason, "status report matched no part; kept");
                Ok(())
            }
            Ok(ReportOutcome::Applied {
                delivery,
                part,
                status,
                ..
            }) => {
                tracing::info!(delivery = delivery.0, part, status, "status report");
                Ok(())
            }
        }
    }
}
