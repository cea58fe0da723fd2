//! Following one broadcast: the events of a `subscribe {"broadcast": N}` and how the stream
//! ends, whatever carries them. The socket (`listener.rs`) writes each as a line; the HTTP API
//! (`http/events.rs`) as a Server-Sent Event. Both take them from a [`Follow`], so the two
//! transports show the same events and end at the same moment.
//!
//! Without `reports`, a stream follows the sending: the counts when it starts (none when the
//! broadcast is no longer being sent: then only its final counts), each delivery's change,
//! and ends with the final counts once nothing is queued or being sent. With `reports`, it
//! goes on with each status report's change until no delivery awaits one (every one
//! delivered, undelivered, failed, uncertain or cancelled); when the daemon asks for no
//! reports (`delivery_reports = false`), as soon as the sending is over. Either ends when the
//! daemon stops (`shutting_down`). A subscriber that falls behind the board's events starts
//! again from a fresh snapshot.
//!
//! A [`Follow`] holds the broadcast on the board (with `reports`) and a receiver of its
//! events: dropping it lets both go at once, which is how a transport lets a gone client go.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use tokio::sync::watch;

use super::handlers::{delivery_event, progress};
use super::Shared;
use crate::protocol::{BroadcastProgress, ErrorBody, ErrorCode, SubscribeEvent};
use crate::scheduler::progress::{ProgressEvent, Watch};
use crate::store::{BroadcastId, Progress, StoreError};

/// What a [`Follow`] yields next.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed {
    /// An event of the stream: the counts, and the delivery that changed (none in the first).
    Event(SubscribeEvent),
    /// The end: the broadcast's final counts, or why the stream ends otherwise (the daemon
    /// stopping, an unknown broadcast, the database failing). Nothing follows it.
    End(Result<BroadcastProgress, ErrorBody>),
}

/// Where the events come from.
enum Source {
    /// The board's events while the broadcast is being sent.
    Board(Receiver<ProgressEvent>),
    /// A watch that holds the broadcast on the board for its reports.
    Reports(Watch),
}

impl Source {
    fn events(&mut self) -> &mut Receiver<ProgressEvent> {
        match self {
            Source::Board(events) => events,
            Source::Reports(watch) => &mut watch.events,
        }
    }
}

enum State {
    /// Take a snapshot (at the start, and after falling behind).
    Start,
    Live(Source),
    /// The end, to be yielded next.
    Ending(Result<BroadcastProgress, ErrorBody>),
    Done,
}

/// One subscriber's stream of a broadcast. [`next`](Follow::next) is cancel-safe: a transport
/// may wait on something else at the same time (its client's end) and call it again.
pub struct Follow {
    shared: Arc<Shared>,
    broadcast: BroadcastId,
    /// Whether the subscriber may see the recipients' numbers (else they are masked).
    numbers: bool,
    reports: bool,
    stop: watch::Receiver<bool>,
    state: State,
}

impl Follow {
    /// Follows `broadcast` (the caller's right to is checked before: `handlers::may_follow`,
    /// which also says `numbers`); with `reports`, on with its status reports.
    pub fn new(shared: Arc<Shared>, broadcast: BroadcastId, numbers: bool, reports: bool) -> Self {
        let stop = shared.shutdown_signal();
        Follow {
            shared,
            broadcast,
            numbers,
            reports,
            stop,
            state: State::Start,
        }
    }

    /// Whether these counts end the stream.
    fn over(&self, p: &Progress) -> bool {
        if self.reports {
            p.is_finished() && (p.sent == 0 || !self.shared.config.message.delivery_reports)
        } else {
            p.is_finished()
        }
    }

    /// What a subscriber is told when the daemon stops under it.
    fn stopping(&self) -> ErrorBody {
        let message = if self.reports {
            "the daemon is stopping; ask again after the next start"
        } else {
            "the daemon is stopping; the broadcast goes on at the next start"
        };
        ErrorBody::new(ErrorCode::ShuttingDown, message)
    }

    /// The next event or the end; `None` after the end.
    pub async fn next(&mut self) -> Option<Followed> {
        loop {
            match &mut self.state {
                State::Done => return None,
                State::Ending(_) => {
                    let State::Ending(end) = std::mem::replace(&mut self.state, State::Done) else {
                        unreachable!("matched above")
                    };
                    return Some(Followed::End(end));
                }
                State::Start => return Some(self.start().await),
                State::Live(source) => {
                    // Ends at shutdown too: a transport's connection holds the store, whose
                    // closing the daemon's exit waits for.
                    let stop = &mut self.stop;
                    let event = tokio::select! {
                        event = source.events().recv() => event,
                        _ = stop.wait_for(|s| *s) => Err(RecvError::Closed),
                    };
                    match event {
                        Ok(ev) if ev.broadcast == self.broadcast => {
                            if self.over(&ev.totals) {
                                self.state = State::Ending(Ok(progress(ev.broadcast, &ev.totals)));
                            }
                            return Some(Followed::Event(delivery_event(&ev, self.numbers)));
                        }
                        Ok(_) => {}
                        // Fell behind: a fresh snapshot (the old watch is let go first).
                        Err(RecvError::Lagged(_)) => self.state = State::Start,
                        Err(RecvError::Closed) => {
                            self.state = State::Done;
                            return Some(Followed::End(Err(self.stopping())));
                        }
                    }
                }
            }
        }
    }

    /// The first event (or the end) from a snapshot; the state moves on only once it is
    /// taken, so a cancelled call leaves it to be taken again.
    async fn start(&mut self) -> Followed {
        let broadcast = self.broadcast;
        if !self.reports {
            let Some((snapshot, events)) = self.shared.board.subscribe(broadcast) else {
                // Not being sent: finished (or unknown); the end from the store.
                let stored = self
                    .shared
                    .store
                    .call(move |s| s.broadcast_progress(broadcast))
                    .await;
                self.state = State::Done;
                return Followed::End(match stored {
                    Ok(p) if p.total() > 0 => Ok(progress(broadcast, &p)),
                    Ok(_) => Err(ErrorBody::new(
                        ErrorCode::UnknownBroadcast,
                        format!("there is no broadcast number {}", broadcast.0),
                    )),
                    Err(e) => Err(e.into()),
                });
            };
            return self.first(snapshot, Source::Board(events));
        }
        // The counts from the store and the watch in one store call: see `progress::Board`.
        let board = Arc::clone(&self.shared.board);
        let watched = self
            .shared
            .store
            .call(move |s| {
                let stored = s.broadcast_progress(broadcast)?;
                Ok::<_, StoreError>(board.watch(broadcast, stored))
            })
            .await;
        match watched {
            Ok(watch) => {
                let snapshot = watch.snapshot;
                self.first(snapshot, Source::Reports(watch))
            }
            Err(e) => {
                self.state = State::Done;
                Followed::End(Err(e.into()))
            }
        }
    }

    fn first(&mut self, snapshot: Progress, source: Source) -> Followed {
        self.state = if self.over(&snapshot) {
            State::Ending(Ok(progress(self.broadcast, &snapshot)))
        } else {
            State::Live(source)
        };
        Followed::Event(SubscribeEvent {
            delivery: None,
            totals: progress(self.broadcast, &snapshot),
        })
    }
}
