//! Live progress of the broadcasts being sent: counts by state per broadcast, and a stream of
//! per-delivery events for subscribers. Counts and events change under one lock, so a
//! subscriber's snapshot plus the events after it never count a delivery twice.
//!
//! A broadcast leaves the board when nothing of it is queued or being sent, unless someone
//! [watches](Board::watch) it for its status reports: then it stays, its counts following
//! each report, until the last watcher lets go. A finished broadcast nobody watches costs
//! nothing here (its reports change the store only).
//!
//! Watching a broadcast that is no longer on the board starts from counts read from the
//! store. So that a report is neither missed nor counted twice, that read and
//! [`Board::watch`] run in one store call, and a report's commit and its
//! [`Board::transition`] run in one store call too (`daemon::reports`): the store serializes
//! its calls, so a report is either in the counts read or an event after them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    live: Mutex<HashMap<BroadcastId, Entry>>,
    events: broadcast::Sender<ProgressEvent>,
    /// Other hosts send deliveries too ([`Board::shared`]): each entry keeps the state of
    /// every delivery that left `queued`, so that another host's move is counted once.
    shared: bool,
}

/// One broadcast on the board: its counts, and how many [`Watch`]es hold it there.
#[derive(Debug, Clone)]
struct Entry {
    totals: Progress,
    watchers: usize,
    /// On a shared board: the state of each delivery that left `queued` as far as the board
    /// knows (one absent is `queued`).
    states: HashMap<DeliveryId, DeliveryState>,
}

impl Entry {
    /// Whether the board still needs it: being sent, or watched.
    fn wanted(&self) -> bool {
        !self.totals.is_finished() || self.watchers > 0
    }
}

/// A broadcast watched for its status reports: its counts when the watch started and the
/// events from then on. The broadcast stays on the board until the watch is dropped.
#[derive(Debug)]
pub struct Watch {
    board: Arc<Board>,
    broadcast: BroadcastId,
    pub snapshot: Progress,
    pub events: broadcast::Receiver<ProgressEvent>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut live = self.board.live.lock().expect("board lock");
        if let Some(entry) = live.get_mut(&self.broadcast) {
            entry.watchers = entry.watchers.saturating_sub(1);
            if !entry.wanted() {
                live.remove(&self.broadcast);
            }
        }
    }
}

impl Default for Board {
    fn default() -> Self {
        Board {
            live: Mutex::new(HashMap::new()),
            events: broadcast::channel(8192).0,
            shared: false,
        }
    }
}

impl Board {
    /// A board for a daemon that shares its database with other hosts: their moves
    /// ([`Board::moved_elsewhere`]) reach it as well as its own, possibly after the counts it
    /// started from had them already.
    pub fn shared() -> Board {
        Board {
            shared: true,
            ..Board::default()
        }
    }

    /// Starts (or restarts) tracking a broadcast with its current counts (all of it queued,
    /// or read with the states of its deliveries that left the queue: [`Board::track_known`]).
    pub fn track(&self, broadcast: BroadcastId, progress: Progress) {
        self.track_known(broadcast, progress, Vec::new());
    }

    /// [`track`](Self::track) with the state of every delivery that is not `queued`, read in
    /// the same transaction as `progress`: another host's move that these already show is
    /// not counted again.
    pub fn track_known(
        &self,
        broadcast: BroadcastId,
        progress: Progress,
        moved: Vec<(DeliveryId, DeliveryState)>,
    ) {
        let mut live = self.live.lock().expect("board lock");
        let entry = live.entry(broadcast).or_insert(Entry {
            totals: progress,
            watchers: 0,
            states: HashMap::new(),
        });
        entry.totals = progress;
        if self.shared {
            entry.states = moved.into_iter().collect();
        }
    }

    /// Another host moved a delivery: counted when the board knew it in the state it left
    /// (else the counts had it already, or it is not being followed here).
    pub fn moved_elsewhere(&self, t: Transition<'_>) {
        {
            let live = self.live.lock().expect("board lock");
            let Some(entry) = live.get(&t.broadcast) else {
                return;
            };
            let known = entry
                .states
                .get(&t.delivery)
                .copied()
                .unwrap_or(DeliveryState::Queued);
            if known != t.from {
                return;
            }
        }
        self.transition(t);
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
        let Some(entry) = live.get_mut(&broadcast) else {
            return;
        };
        if from != to {
            sub(&mut entry.totals, from);
            entry.totals.add(to, 1);
        }
        if self.shared {
            entry.states.insert(delivery, to);
        }
        let totals = entry.totals;
        if !entry.wanted() {
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
        live.get(&broadcast)
            .filter(|e| !e.totals.is_finished())
            .map(|e| (e.totals, self.events.subscribe()))
    }

    /// Holds `broadcast` on the board for its status reports until the [`Watch`] is dropped.
    /// Its counts are the board's when it is there, else `stored` (the store's, read in the
    /// same store call as this one: see the module's notes).
    pub fn watch(self: &Arc<Self>, broadcast: BroadcastId, stored: Progress) -> Watch {
        let mut live = self.live.lock().expect("board lock");
        let entry = live.entry(broadcast).or_insert(Entry {
            totals: stored,
            watchers: 0,
            states: HashMap::new(),
        });
        entry.watchers += 1;
        Watch {
            board: Arc::clone(self),
            broadcast,
            snapshot: entry.totals,
            events: self.events.subscribe(),
        }
    }

    /// Whether `broadcast` is on the board (being sent, or watched).
    pub fn tracks(&self, broadcast: BroadcastId) -> bool {
        self.live
            .lock()
            .expect("board lock")
            .contains_key(&broadcast)
    }

    /// Broadcasts being sent (not those only watched for their reports).
    pub fn active(&self) -> usize {
        self.live
            .lock()
            .expect("board lock")
            .values()
            .filter(|e| !e.totals.is_finished())
            .count()
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

    #[test]
    fn a_watched_broadcast_stays_for_its_reports_until_the_last_watch_goes() {
        let board = Arc::new(Board::default());
        let b = BroadcastId(2);
        let report = |delivery, to| Transition {
            broadcast: b,
            delivery: DeliveryId(delivery),
            number: "+1",
            from: DeliveryState::Sent,
            to,
            modem: Some("m0"),
            error: None,
        };
        // Finished and not on the board: a report changes nothing here, tells no one.
        let mut everything = board.events.subscribe();
        board.transition(report(1, DeliveryState::Delivered));
        assert!(everything.try_recv().is_err());

        let stored = Progress {
            sent: 2,
            ..Progress::default()
        };
        let mut first = board.watch(b, stored);
        let second = board.watch(b, Progress::default());
        assert_eq!(first.snapshot, stored);
        assert_eq!(
            second.snapshot, stored,
            "the board's counts, not the stale ones"
        );
        assert!(board.subscribe(b).is_none(), "not being sent");
        assert_eq!(board.active(), 0);

        board.transition(report(1, DeliveryState::Delivered));
        let ev = first.events.try_recv().unwrap();
        assert_eq!(ev.state, DeliveryState::Delivered);
        assert_eq!(
            ev.totals,
            Progress {
                sent: 1,
                delivered: 1,
                ..Progress::default()
            }
        );
        drop(second);
        board.transition(report(2, DeliveryState::Undelivered));
        assert_eq!(first.events.try_recv().unwrap().totals.undelivered, 1);
        drop(first);
        assert!(
            board.live.lock().unwrap().is_empty(),
            "gone with the last watch"
        );
    }

    #[test]
    fn another_hosts_move_counts_once_whether_or_not_the_counts_read_had_it() {
        let board = Board::shared();
        let (b, d1, d2) = (BroadcastId(1), DeliveryId(1), DeliveryId(2));
        let mv = |d, from, to| Transition {
            broadcast: b,
            delivery: d,
            number: "+8613800000000",
            from,
            to,
            modem: None,
            error: None,
        };
        // Read from the store after d1 was taken elsewhere: 1 sending, 1 queued.
        board.track_known(
            b,
            Progress {
                queued: 1,
                sending: 1,
                ..Progress::default()
            },
            vec![(d1, DeliveryState::Sending)],
        );
        let mut events = board.subscribe(b).unwrap().1;
        // d1's taking reaches the board after the read that had it: not counted again.
        board.moved_elsewhere(mv(d1, DeliveryState::Queued, DeliveryState::Sending));
        assert!(events.try_recv().is_err());
        board.moved_elsewhere(mv(d1, DeliveryState::Sending, DeliveryState::Sent));
        board.moved_elsewhere(mv(d2, DeliveryState::Queued, DeliveryState::Sending));
        // The same move twice counts once.
        board.moved_elsewhere(mv(d2, DeliveryState::Queued, DeliveryState::Sending));
        board.moved_elsewhere(mv(d2, DeliveryState::Sending, DeliveryState::Sent));
        let mut last = None;
        while let Ok(e) = events.try_recv() {
            last = Some(e.totals);
        }
        let totals = last.unwrap();
        assert_eq!((totals.queued, totals.sending, totals.sent), (0, 0, 2));
        assert!(totals.is_finished());
        // Finished: it left the board.
        assert!(!board.tracks(b));
    }
}
