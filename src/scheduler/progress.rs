//! Live progress of the broadcasts being sent: counts by state per broadcast, and a stream of
//! per-delivery events for subscribers. Counts and events change under one lock, so a
//! subscriber's snapshot plus the events after it never count a delivery twice.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::broadcast;

use crate::store::{BroadcastId, DeliveryId, DeliveryState, Progress};

/// One delivery changed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressEvent {
    pub broadcast: BroadcastId,
    pub delivery: DeliveryId,
    pub number: String,
    pub state: DeliveryState,
    pub modem: Option<String>,
    pub error: Option<String>,
    /// The broadcast's counts after this change.
    pub totals: Progress,
}

/// One delivery's change of state, as [`Board::transition`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct Transition<'a> {
    pub broadcast: BroadcastId,
    pub delivery: DeliveryId,
    pub number: &'a str,
    pub from: DeliveryState,
    pub to: DeliveryState,
    pub modem: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// The board. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Board {
    live: Mutex<HashMap<BroadcastId, Progress>>,
    events: broadcast::Sender<ProgressEvent>,
}

impl Default for Board {
    fn default() -> Self {
        Board {
            live: Mutex::new(HashMap::new()),
            events: broadcast::channel(8192).0,
        }
    }
}

impl Board {
    /// Starts (or restarts) tracking a broadcast with its current counts.
    pub fn track(&self, broadcast: BroadcastId, progress: Progress) {
        self.live
            .lock()
            .expect("board lock")
            .insert(broadcast, progress);
    }

    /// Records a delivery moving from one state to another and tells subscribers.
    pub fn transition(&self, t: Transition<'_>) {
        let Transition {
            broadcast,
            delivery,
            number,
            from,
            to,
            modem,
            error,
        } = t;
        let mut live = self.live.lock().expect("board lock");
        let Some(totals) = live.get_mut(&broadcast) else {
            return;
        };
        if from != to {
            sub(totals, from);
            totals.add(to, 1);
        }
        let totals = *totals;
        if totals.is_finished() {
            live.remove(&broadcast);
        }
        let _ = self.events.send(ProgressEvent {
            broadcast,
            delivery,
            number: number.to_string(),
            state: to,
            modem: modem.map(String::from),
            error: error.map(String::from),
            totals,
        });
    }

    /// The counts now and the events from now on; `None` when the broadcast is not being sent.
    pub fn subscribe(
        &self,
        broadcast: BroadcastId,
    ) -> Option<(Progress, broadcast::Receiver<ProgressEvent>)> {
        let live = self.live.lock().expect("board lock");
        live.get(&broadcast).map(|p| (*p, self.events.subscribe()))
    }

    /// Broadcasts being sent.
    pub fn active(&self) -> usize {
        self.live.lock().expect("board lock").len()
    }
}

fn sub(p: &mut Progress, state: DeliveryState) {
    let field = match state {
        DeliveryState::Queued => &mut p.queued,
        DeliveryState::Sending => &mut p.sending,
        DeliveryState::Sent => &mut p.sent,
        DeliveryState::Failed => &mut p.failed,
        DeliveryState::Uncertain => &mut p.uncertain,
        DeliveryState::Delivered => &mut p.delivered,
        DeliveryState::Undelivered => &mut p.undelivered,
        DeliveryState::Cancelled => &mut p.cancelled,
    };
    *field = field.saturating_sub(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_transitions_and_finished_broadcasts_leave() {
        let board = Board::default();
        let b = BroadcastId(1);
        board.track(
            b,
            Progress {
                queued: 2,
                ..Progress::default()
            },
        );
        let (snap, mut rx) = board.subscribe(b).unwrap();
        assert_eq!(snap.queued, 2);
        let t = |delivery, from, to, modem, error| Transition {
            broadcast: b,
            delivery: DeliveryId(delivery),
            number: "+1",
            from,
            to,
            modem,
            error,
        };
        board.transition(t(
            1,
            DeliveryState::Queued,
            DeliveryState::Sending,
            Some("m0"),
            None,
        ));
        board.transition(t(
            1,
            DeliveryState::Sending,
            DeliveryState::Sent,
            Some("m0"),
            None,
        ));
        board.transition(t(
            2,
            DeliveryState::Queued,
            DeliveryState::Failed,
            None,
            Some("bad number"),
        ));
        let events: Vec<ProgressEvent> = (0..3).map(|_| rx.try_recv().unwrap()).collect();
        assert_eq!(
            events[1].totals,
            Progress {
                queued: 1,
                sent: 1,
                ..Progress::default()
            }
        );
        assert!(events[2].totals.is_finished());
        assert_eq!(events[2].error.as_deref(), Some("bad number"));
        assert!(board.subscribe(b).is_none());
        assert_eq!(board.active(), 0);
    }
}
