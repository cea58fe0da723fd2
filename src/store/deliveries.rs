//! The delivery state machine (see [`DeliveryState`]): each transition is checked against the
//! current state, and when the last open delivery of a broadcast closes, the broadcast is
//! marked finished in the same transaction.

use std::collections::HashMap;

use super::db::{params, OptionalExtension};
use chrono::{DateTime, Utc};

use super::audit::cut;
use super::hosts::{Announcement, Move};
use super::{
    ms, opt_from_ms, BroadcastId, Cancellation, DeliveryId, DeliveryState, DeliveryUpdate, GroupId,
    InFlightPolicy, MemberId, QueuedDelivery, Recovery, SharedText, StoreError, Tx,
};
use DeliveryState::*;

struct Current {
    broadcast: BroadcastId,
    state: DeliveryState,
    attempts: u32,
    /// The host whose modem took it last.
    host: Option<String>,
    number: String,
    modem: Option<String>,
    last_error: Option<String>,
}

/// Longest error kept with a delivery, in bytes (then `…`): what a modem said may be long.
pub const MAX_DELIVERY_ERROR: usize = 256;
/// Longest modem device path kept with a delivery, in bytes (then `…`).
pub const MAX_DEVICE_LEN: usize = 256;

/// What [`Tx::recover_on_start`] writes into `last_error`.
pub const RECOVERED_RESEND: &str =
    "the daemon stopped while sending this; queued again, it may arrive twice";
/// What a delivery whose try came back to the queue after its broadcast was cancelled says:
/// it is cancelled then, not tried again.
pub const CANCELLED_IN_FLIGHT: &str =
    "the broadcast was cancelled while this was being sent; not tried again";

/// What [`Tx::recover_on_start`] writes into `last_error` under [`InFlightPolicy::Uncertain`].
pub const RECOVERED_UNCERTAIN: &str =
    "the daemon stopped while sending this; it may or may not have been sent";

impl Tx<'_> {
    fn current(&self, id: DeliveryId) -> Result<Current, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT broadcast_id, state, attempts, host, number, modem, last_error \
                 FROM deliveries WHERE id = ?",
            )?
            .query_row([id], |r| {
                Ok(Current {
                    broadcast: r.get(0)?,
                    state: r.get(1)?,
                    attempts: r.get(2)?,
                    host: r.get(3)?,
                    number: r.get(4)?,
                    modem: r.get(5)?,
                    last_error: r.get(6)?,
                })
            })
            .optional()?
            .ok_or(StoreError::UnknownDelivery(id.0))
    }

    /// Checks the move, runs `update` (an UPDATE of this delivery whose first parameter is the
    /// delivery id), then settles the broadcast.
    fn transition(
        &self,
        id: DeliveryId,
        from: &[DeliveryState],
        to: DeliveryState,
        now: DateTime<Utc>,
        update: impl FnOnce(&Current) -> Result<(), StoreError>,
    ) -> Result<DeliveryUpdate, StoreError> {
        let cur = self.current(id)?;
        if !from.contains(&cur.state) {
            return Err(StoreError::BadTransition {
                delivery: id.0,
                from: cur.state.as_str(),
                to: to.as_str(),
            });
        }
        // A try's outcome is recorded by the host that made it, never by one whose lease ran
        // out while another host recovered the delivery and took it again.
        if let (Sending, Some(me)) = (cur.state, self.host) {
            match cur.host.as_deref() {
                Some(h) if h != me => {
                    return Err(StoreError::TakenOver {
                        delivery: id.0,
                        host: h.to_string(),
                    })
                }
                _ => {}
            }
        }
        update(&cur)?;
        let after = self.current(id)?;
        if self.announcing() {
            // The other hosts forget a delivery taken here, follow its outcome in their live
            // counts, and may take it when it is back in the queue.
            self.announce(Announcement::Moved(Move {
                delivery: id.0,
                broadcast: cur.broadcast.0,
                from: cur.state,
                to: after.state,
                number: after.number.clone(),
                modem: after.modem.clone(),
                error: after.last_error.clone(),
            }))?;
        }
        // An outcome (not a step on the way) is announced to the webhooks subscribed to it,
        // in this transaction.
        if matches!(
            after.state,
            Sent | Failed | Uncertain | Delivered | Undelivered
        ) {
            self.emit_delivery(id, now)?;
        }
        // A move between `queued` and `sending` leaves the broadcast open as it was (it had
        // an open delivery before and has one after): nothing to settle.
        let open = |st: DeliveryState| matches!(st, Queued | Sending);
        let broadcast_finished = if open(cur.state) && open(after.state) {
            false
        } else {
            self.settle_broadcast(cur.broadcast, now)?
        };
        Ok(DeliveryUpdate {
            delivery: id,
            broadcast: cur.broadcast,
            state: after.state,
            attempts: after.attempts,
            broadcast_finished,
        })
    }

    /// Marks the broadcast finished when nothing is queued or sending, or active again when
    /// something is. True when it has just become finished.
    fn settle_broadcast(&self, id: BroadcastId, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let open: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM deliveries WHERE broadcast_id = ? \
                 AND state IN ('queued', 'sending'))",
            )?
            .query_row([id], |r| r.get(0))?;
        if open {
            self.conn
                .prepare_cached(
                    "UPDATE broadcasts SET state = 'active', finished_at = NULL \
                     WHERE id = ? AND state = 'finished'",
                )?
                .execute([id])?;
            return Ok(false);
        }
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE broadcasts SET state = 'finished', finished_at = ? \
                 WHERE id = ? AND state = 'active'",
            )?
            .execute(params![ms(now), id])?;
        if changed == 1 {
            self.emit_broadcast_finished(id, now)?;
        }
        Ok(changed == 1)
    }

    /// `queued -> sending` through `modem`; starts try number `attempts + 1`, which the
    /// returned update carries.
    pub fn mark_sending(
        &self,
        id: DeliveryId,
        modem: &str,
        now: DateTime<Utc>,
    ) -> Result<DeliveryUpdate, StoreError> {
        self.transition(id, &[Queued], Sending, now, |_| {
            // A host declared lost takes nothing until it has joined again.
            let n = self
                .conn
                .prepare_cached(
                    "UPDATE deliveries SET state = 'sending', modem = ?1, host = ?2, \
                     attempts = attempts + 1, updated_at = ?3 WHERE id = ?4 AND \
                     (CAST(?2 AS TEXT) IS NULL OR EXISTS \
                      (SELECT 1 FROM hosts WHERE name = ?2 AND state = 'up'))",
                )?
                .execute(params![cut(modem, MAX_DEVICE_LEN), self.host, ms(now), id])?;
            if n == 0 {
                return Err(StoreError::HostLost);
            }
            Ok(())
        })
    }

    /// `sending -> sent`, with the message reference (TP-MR) of each part.
    pub fn mark_sent(
        &self,
        id: DeliveryId,
        part_refs: &[u8],
        now: DateTime<Utc>,
    ) -> Result<DeliveryUpdate, StoreError> {
        let refs = part_refs
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.transition(id, &[Sending], Sent, now, |_| {
            self.conn
                .prepare_cached(
                    "UPDATE deliveries SET state = 'sent', part_refs = ?, last_error = NULL, \
                     not_before = NULL, updated_at = ? WHERE id = ?",
                )?
                .execute(params![refs, ms(now), id])?;
            Ok(())
        })
    }

    /// `queued | sending -> failed`, for good: the number was refused, or retries ran out.
    pub fn mark_failed(
        &self,
        id: DeliveryId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<DeliveryUpdate, StoreError> {
        self.set_final(id, &[Queued, Sending], Failed, reason, now)
    }

    /// `sending -> uncertain`: the modem never said whether it sent it.
    pub fn mark_uncertain(
        &self,
        id: DeliveryId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<DeliveryUpdate, StoreError> {
        self.set_final(id, &[Sending], Uncertain, reason, now)
    }

    pub(super) fn set_final(
        &self,
        id: DeliveryId,
        from: &[DeliveryState],
        to: DeliveryState,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<DeliveryUpdate, StoreError> {
        self.transition(id, from, to, now, |_| {
            self.conn
                .prepare_cached(
                    "UPDATE deliveries SET state = ?, last_error = ?, not_before = NULL, \
                     updated_at = ? WHERE id = ?",
                )?
                .execute(params![to, cut(reason, MAX_DELIVERY_ERROR), ms(now), id])?;
            Ok(())
        })
    }

    /// `sent | uncertain -> delivered`: a status report confirmed it.
    pub fn mark_delivered(
        &self,
        id: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<DeliveryUpdate, StoreError> {
        self.transition(id, &[Sent, Uncertain], Delivered, now, |_| {
            self.conn
                .prepare_cached(
                    "UPDATE deliveries SET state = 'delivered', updated_at = ? WHERE id = ?",
                )?
                .execute(params![ms(now), id])?;
            Ok(())
        })
    }

    /// `sending | failed | uncertain -> queued` after `error`, not to be sent before
    /// `not_before`; the next [`mark_sending`](Tx::mark_sending) starts try `attempts + 1`.
    pub fn requeue(
        &self,
        id: DeliveryId,
        error: &str,
        not_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<DeliveryUpdate, StoreError> {
        self.transition(id, &[Sending, Failed, Uncertain], Queued, now, |_| {
            self.conn
                .prepare_cached(
                    "UPDATE deliveries SET state = 'queued', last_error = ?, not_before = ?, \
                     updated_at = ? WHERE id = ?",
                )?
                .execute(params![
                    cut(error, MAX_DELIVERY_ERROR),
                    ms(not_before),
                    ms(now),
                    id
                ])?;
            self.cancel_if_broadcast_cancelled(id, now)
        })
    }

    /// A delivery of a cancelled broadcast never waits in the queue: the one just put back
    /// there (its try ended after the cancellation) becomes `cancelled`.
    fn cancel_if_broadcast_cancelled(
        &self,
        id: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE deliveries SET state = 'cancelled', last_error = ?, not_before = NULL, \
                 updated_at = ? WHERE id = ? AND state = 'queued' AND broadcast_id IN \
                 (SELECT id FROM broadcasts WHERE cancelled_at IS NOT NULL)",
            )?
            .execute(params![CANCELLED_IN_FLIGHT, ms(now), id])?;
        Ok(())
    }

    /// `sending -> queued` when the modem turned out not to be ready before anything was
    /// written to it: the try did not happen, so it is not counted.
    pub fn release_unsent(
        &self,
        id: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<DeliveryUpdate, StoreError> {
        self.transition(id, &[Sending], Queued, now, |_| {
            self.conn
                .prepare_cached(
                    "UPDATE deliveries SET state = 'queued', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
                     updated_at = ? WHERE id = ?",
                )?
                .execute(params![ms(now), id])?;
            self.cancel_if_broadcast_cancelled(id, now)
        })
    }

    /// Marks a delivery as possibly received twice (a resend after an ambiguous or partial
    /// try), so `broadcast show` reports it.
    pub fn flag_possible_duplicate(&self, id: DeliveryId) -> Result<(), StoreError> {
        let n = self
            .conn
            .prepare_cached("UPDATE deliveries SET possible_duplicate = 1 WHERE id = ?")?
            .execute(params![id])?;
        if n == 0 {
            return Err(StoreError::UnknownDelivery(id.0));
        }
        Ok(())
    }

    /// At daemon start: deliveries left in `sending` by a stop or crash are queued again as
    /// possible duplicates ([`InFlightPolicy::Resend`]) or marked `uncertain`. With a host
    /// name set ([`super::Store::set_host`]) only this host's and those no host claimed (an
    /// earlier version's): other hosts' are theirs until their lease runs out
    /// ([`Tx::recover_lost_hosts`]).
    pub fn recover_on_start(
        &self,
        policy: InFlightPolicy,
        now: DateTime<Utc>,
    ) -> Result<Recovery, StoreError> {
        let why = match policy {
            InFlightPolicy::Resend => RECOVERED_RESEND,
            InFlightPolicy::Uncertain => RECOVERED_UNCERTAIN,
        };
        Ok(self.recover_sending(policy, self.host, true, why, now)?.0)
    }

    /// Applies `policy` to the deliveries in `sending`: all of them when `host` is `None`,
    /// else `host`'s (and those no host claimed when `unnamed`), with `why` as their error.
    /// Also each delivery's move (announced to the other hosts).
    pub(super) fn recover_sending(
        &self,
        policy: InFlightPolicy,
        host: Option<&str>,
        unnamed: bool,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<(Recovery, Vec<Move>), StoreError> {
        const WHOSE: &str = "(CAST(?3 AS TEXT) IS NULL OR host = ?3 OR (host IS NULL AND ?4 = 1))";
        let ids: Vec<DeliveryId> = self
            .conn
            .prepare_cached(&format!(
                "SELECT id FROM deliveries WHERE state = 'sending' AND {} ORDER BY id",
                WHOSE.replace("?3", "?1").replace("?4", "?2")
            ))?
            .query_map(params![host, unnamed as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let moved = match policy {
            InFlightPolicy::Resend => self.conn.prepare_cached(&format!(
                "UPDATE deliveries SET state = 'queued', possible_duplicate = 1, \
                 not_before = NULL, last_error = ?1, updated_at = ?2 WHERE state = 'sending' \
                 AND {WHOSE}"
            ))?,
            InFlightPolicy::Uncertain => self.conn.prepare_cached(&format!(
                "UPDATE deliveries SET state = 'uncertain', last_error = ?1, updated_at = ?2 \
                 WHERE state = 'sending' AND {WHOSE}"
            ))?,
        }
        .execute(params![
            cut(why, MAX_DELIVERY_ERROR),
            ms(now),
            host,
            unnamed as i64
        ])? as u32;
        // Those of cancelled broadcasts are not sent again.
        let cancelled = match policy {
            InFlightPolicy::Resend => self
                .conn
                .prepare_cached(
                    "UPDATE deliveries SET state = 'cancelled', last_error = ?, \
                     not_before = NULL WHERE state = 'queued' AND broadcast_id IN \
                     (SELECT id FROM broadcasts WHERE cancelled_at IS NOT NULL)",
                )?
                .execute([CANCELLED_IN_FLIGHT])? as u32,
            InFlightPolicy::Uncertain => 0,
        };
        let moved = moved.saturating_sub(cancelled);
        let mut out = Recovery::default();
        match policy {
            InFlightPolicy::Resend => out.requeued = moved,
            InFlightPolicy::Uncertain => out.uncertain = moved,
        }
        let mut moves = Vec::with_capacity(ids.len());
        for id in ids {
            let after = self.current(id)?;
            let moved = Move {
                delivery: id.0,
                broadcast: after.broadcast.0,
                from: Sending,
                to: after.state,
                number: after.number,
                modem: after.modem,
                error: after.last_error,
            };
            if self.announcing() {
                self.announce(Announcement::Moved(moved.clone()))?;
            }
            moves.push(moved);
        }
        // Each broadcast of a recovered delivery, once.
        let broadcasts: std::collections::BTreeSet<BroadcastId> =
            moves.iter().map(|m| BroadcastId(m.broadcast)).collect();
        for b in broadcasts {
            if self.settle_broadcast(b, now)? {
                out.broadcasts_finished += 1;
            }
        }
        Ok((out, moves))
    }

    /// Every queued delivery, oldest broadcast first, for the scheduler at start.
    pub fn load_queued(&self) -> Result<Vec<QueuedDelivery>, StoreError> {
        self.queued(None)
    }

    /// The queued deliveries of one broadcast, for the scheduler after accepting it.
    pub fn queued_for_broadcast(&self, id: BroadcastId) -> Result<Vec<QueuedDelivery>, StoreError> {
        self.queued(Some(id))
    }

    fn queued(&self, only: Option<BroadcastId>) -> Result<Vec<QueuedDelivery>, StoreError> {
        // The text once per broadcast, shared by its deliveries.
        type Shared = (Option<GroupId>, SharedText, u32, Option<String>, bool);
        let mut texts: HashMap<BroadcastId, Shared> = HashMap::new();
        {
            let mut st = self.conn.prepare_cached(
                "SELECT id, group_id, text, parts, pin_sim, urgent FROM broadcasts WHERE id IN \
                 (SELECT broadcast_id FROM deliveries WHERE state = 'queued') \
                 AND (CAST(?1 AS BIGINT) IS NULL OR id = ?1)",
            )?;
            let mut rows = st.query([only])?;
            while let Some(r) = rows.next()? {
                let text: String = r.get(2)?;
                texts.insert(
                    r.get(0)?,
                    (
                        r.get(1)?,
                        SharedText::from(text),
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ),
                );
            }
        }
        const COLS: &str = "SELECT id, broadcast_id, number, attempts, not_before, \
             possible_duplicate FROM deliveries WHERE state = 'queued'";
        let mut st = match only {
            None => self
                .conn
                .prepare_cached(&format!("{COLS} ORDER BY broadcast_id, id"))?,
            Some(_) => self
                .conn
                .prepare_cached(&format!("{COLS} AND broadcast_id = ?1 ORDER BY id"))?,
        };
        let mut rows = match only {
            None => st.query(params![])?,
            Some(b) => st.query([b])?,
        };
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let broadcast_id: BroadcastId = r.get(1)?;
            let Some((group_id, text, parts, pin_sim, urgent)) = texts.get(&broadcast_id) else {
                continue; // cannot happen: both queries read one snapshot
            };
            out.push(QueuedDelivery {
                id: r.get(0)?,
                broadcast_id,
                group_id: *group_id,
                number: r.get(2)?,
                text: text.clone(),
                parts: *parts,
                attempts: r.get(3)?,
                not_before: opt_from_ms(r.get(4)?),
                possible_duplicate: r.get(5)?,
                pin_sim: pin_sim.clone(),
                urgent: *urgent,
            });
        }
        Ok(out)
    }

    /// `queued -> cancelled` for every queued delivery to `member` of `group`'s broadcasts:
    /// the member opted out before they were sent. A try already `sending` is left alone (it
    /// goes out); the scheduler's [`mark_sending`](Tx::mark_sending) refuses the cancelled
    /// ones it still holds. Broadcasts left with nothing open are finished.
    pub fn cancel_queued(
        &self,
        group: GroupId,
        member: MemberId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeliveryUpdate>, StoreError> {
        let ids: Vec<(DeliveryId, BroadcastId, u32)> = self
            .conn
            .prepare_cached(
                "SELECT d.id, d.broadcast_id, d.attempts FROM deliveries d \
                 JOIN broadcasts b ON b.id = d.broadcast_id \
                 WHERE b.group_id = ? AND b.kind = 'group' AND d.member_id = ? \
                 AND d.state = 'queued' ORDER BY d.id",
            )?
            .query_map(params![group, member], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for (id, broadcast, attempts) in ids {
            self.conn
                .prepare_cached(
                    "UPDATE deliveries SET state = 'cancelled', last_error = ?, \
                     not_before = NULL, updated_at = ? WHERE id = ? AND state = 'queued'",
                )?
                .execute(params![reason, ms(now), id])?;
            out.push(DeliveryUpdate {
                delivery: id,
                broadcast,
                state: Cancelled,
                attempts,
                broadcast_finished: false,
            });
        }
        let mut seen = Vec::new();
        for u in &mut out {
            if !seen.contains(&u.broadcast) {
                seen.push(u.broadcast);
                u.broadcast_finished = self.settle_broadcast(u.broadcast, now)?;
            }
        }
        Ok(out)
    }

    /// Cancels broadcast `id` on behalf of `by`: every delivery still `queued` becomes
    /// `cancelled` (with `reason`), and the broadcast records when and by whom. A try already
    /// `sending` is left alone (it goes out); the scheduler's
    /// [`mark_sending`](Tx::mark_sending) refuses a cancelled one it still holds. Whether the
    /// broadcast may be cancelled is the caller's rule.
    pub fn cancel_broadcast(
        &self,
        id: BroadcastId,
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Cancellation, StoreError> {
        let ids: Vec<(DeliveryId, u32)> = self
            .conn
            .prepare_cached(
                "SELECT id, attempts FROM deliveries WHERE broadcast_id = ? AND state = 'queued' \
                 ORDER BY id",
            )?
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let found = self
            .conn
            .prepare_cached(
                "UPDATE broadcasts SET cancelled_at = coalesce(cancelled_at, ?), \
                 cancelled_by = coalesce(cancelled_by, ?) WHERE id = ?",
            )?
            .execute(params![ms(now), cut(by, MAX_DELIVERY_ERROR), id])?;
        if found == 0 {
            return Err(StoreError::UnknownBroadcast(id.0));
        }
        self.conn
            .prepare_cached(
                "UPDATE deliveries SET state = 'cancelled', last_error = ?, not_before = NULL, \
                 updated_at = ? WHERE broadcast_id = ? AND state = 'queued'",
            )?
            .execute(params![cut(reason, MAX_DELIVERY_ERROR), ms(now), id])?;
        let finished = self.settle_broadcast(id, now)?;
        let cancelled = ids
            .into_iter()
            .map(|(delivery, attempts)| DeliveryUpdate {
                delivery,
                broadcast: id,
                state: Cancelled,
                attempts,
                broadcast_finished: finished,
            })
            .collect();
        Ok(Cancellation {
            broadcast: id,
            cancelled,
            progress: self.broadcast_progress(id)?,
        })
    }

    /// The broadcasts of `group` with deliveries still queued or sending, oldest first.
    pub fn open_broadcasts(&self, group: GroupId) -> Result<Vec<BroadcastId>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id FROM broadcasts WHERE group_id = ? AND state = 'active' ORDER BY id",
            )?
            .query_map([group], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    }

    /// The groups whose broadcasts (not notices) were addressed to `number` since `since`,
    /// by group id.
    pub fn groups_reaching(
        &self,
        number: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<GroupId>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT DISTINCT b.group_id FROM deliveries d \
                 JOIN broadcasts b ON b.id = d.broadcast_id \
                 WHERE d.number = ? AND d.created_at >= ? AND b.kind = 'group' \
                 AND b.group_id IS NOT NULL ORDER BY b.group_id",
            )?
            .query_map(params![number, ms(since)], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    }
}
