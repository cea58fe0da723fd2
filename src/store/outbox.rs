//! The webhook outbox: events written in the transaction of the change that caused them, and
//! each one's delivery state per endpoint (attempts, next try, last error, delivered or dead).
//!
//! Which endpoints want which event types is given once, when the daemon opens the store
//! ([`Store::set_webhooks`](super::Store::set_webhooks)); with none configured for a type, an
//! event of that type costs one bit test and writes nothing. An event's data is built by SQLite
//! (`json_object`) from the rows just changed, in the same statement that stores it, so the
//! sending path pays one `INSERT ... SELECT` per event and endpoint, nothing in Rust.
//!
//! The sender (`crate::webhooks`) claims the due rows of an endpoint ([`Tx::webhook_claim`]),
//! posts them, and records the outcome ([`Tx::webhook_delivered`], [`Tx::webhook_failed`]) in
//! short transactions of its own. A claim moves the rows' next try to the end of the claim, so
//! the other daemons sharing the database do not see them due while this one posts them: each
//! event is posted once per endpoint whichever host sends it; one whose sender died mid-post
//! is due again when the claim ends (at least once, as after a crash).

use super::db::{params, Dialect, OptionalExtension};
use chrono::{DateTime, Utc};

use super::{from_ms, ms, BroadcastId, DeliveryId, StoreError, Tx};

/// The types of event a webhook may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A complete message received (with its opt-out or opt-in outcome, its linked broadcast).
    Inbound,
    /// A delivery reached an outcome: sent, failed, uncertain, delivered, undelivered.
    Delivery,
    /// A broadcast has nothing left queued or being sent.
    BroadcastFinished,
    /// A modem joined or left the pool, a SIM was quarantined or released.
    Modem,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [
        EventKind::Inbound,
        EventKind::Delivery,
        EventKind::BroadcastFinished,
        EventKind::Modem,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Inbound => "inbound",
            EventKind::Delivery => "delivery",
            EventKind::BroadcastFinished => "broadcast_finished",
            EventKind::Modem => "modem",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The configured endpoints (by key) and the event types each wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions {
    endpoints: Vec<(String, u8)>,
    any: u8,
}

impl Subscriptions {
    /// `endpoints`: each endpoint's key and the event types it subscribes to.
    pub fn new<'a>(endpoints: impl IntoIterator<Item = (String, &'a [EventKind])>) -> Self {
        let endpoints: Vec<(String, u8)> = endpoints
            .into_iter()
            .map(|(key, kinds)| (key, kinds.iter().fold(0, |m, k| m | k.bit())))
            .collect();
        let any = endpoints.iter().fold(0, |m, (_, b)| m | b);
        Subscriptions { endpoints, any }
    }

    /// Whether any endpoint wants events of `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.any & kind.bit() != 0
    }
}

/// One event due at an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct DueEvent {
    pub id: i64,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    /// The event's data, JSON text.
    pub data: String,
    /// Tries made so far.
    pub attempts: u32,
}

/// What is left to send to an endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookBacklog {
    pub pending: u64,
    pub oldest_pending: Option<DateTime<Utc>>,
    pub dead: u64,
    /// The error of the latest failed try of an event not delivered (pending or dead).
    pub last_error: Option<String>,
}

/// Longest error kept with a webhook delivery, in bytes.
pub const MAX_WEBHOOK_ERROR: usize = 512;

impl Tx<'_> {
    /// Stores an event of `kind` for every endpoint subscribed to it; `insert` is an
    /// `INSERT INTO webhook_events ...` (parameters `?1` = the time, `?2` = the subject's id)
    /// that may insert nothing (the subject is gone).
    /// `insert` is the statement in SQLite's words, then PostgreSQL's (their JSON and time
    /// functions differ).
    fn emit_sql(
        &self,
        kind: EventKind,
        insert: [&str; 2],
        subject: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if !self.hooks.wants(kind) {
            return Ok(());
        }
        let insert = match self.conn.dialect() {
            Dialect::Sqlite => insert[0],
            Dialect::Postgres => insert[1],
        };
        let n = self
            .conn
            .prepare_cached(insert)?
            .execute(params![ms(now), subject])?;
        if n == 1 {
            self.fan_out(kind, self.conn.last_insert_rowid()?, now)?;
        }
        Ok(())
    }

    fn fan_out(&self, kind: EventKind, event: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut st = self.conn.prepare_cached(
            // DO NOTHING: an endpoint listed twice (the configuration refuses it) must never
            // fail the change the event goes with.
            "INSERT INTO webhook_deliveries (endpoint, event_id, next_try_at) \
             VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )?;
        for (key, mask) in &self.hooks.endpoints {
            if mask & kind.bit() != 0 {
                st.execute(params![key, event, ms(now)])?;
            }
        }
        self.emitted.set(true);
        Ok(())
    }

    /// Stores an event whose data the caller made (rare events: a modem's).
    pub fn emit_event(
        &self,
        kind: EventKind,
        data: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if !self.hooks.wants(kind) {
            return Ok(());
        }
        self.conn
            .prepare_cached("INSERT INTO webhook_events (type, created_at, data) VALUES (?, ?, ?)")?
            .execute(params![kind.as_str(), ms(now), data.to_string()])?;
        self.fan_out(kind, self.conn.last_insert_rowid()?, now)
    }

    /// An `inbound` event for the complete message `message`, as it stands (its handling, its
    /// linked broadcast and group).
    pub fn emit_inbound(&self, message: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.emit_sql(
            EventKind::Inbound,
            [
                "INSERT INTO webhook_events (type, created_at, data) \
                 SELECT 'inbound', ?1, json_object( \
                   'message', m.id, 'from', m.originator, 'member', m.member_handle, \
                   'text', m.text, 'sim', m.sim, 'device', m.device, 'scts', m.scts, \
                   'received_at', strftime('%Y-%m-%dT%H:%M:%fZ', m.received_at / 1000.0, 'unixepoch'), \
                   'parts', m.parts, 'handling', m.handling, 'broadcast', m.broadcast_id, \
                   'group', m.group_handle, 'carrier_notice', json(iif(m.carrier_notice, 'true', 'false'))) \
                 FROM inbox_messages m WHERE m.id = ?2",
                "INSERT INTO webhook_events (type, created_at, data) \
                 SELECT 'inbound', ?1, json_build_object( \
                   'message', m.id, 'from', m.originator, 'member', m.member_handle, \
                   'text', m.text, 'sim', m.sim, 'device', m.device, 'scts', m.scts, \
                   'received_at', to_char(to_timestamp(m.received_at / 1000.0) AT TIME ZONE 'UTC', \
                     'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
                   'parts', m.parts, 'handling', m.handling, 'broadcast', m.broadcast_id, \
                   'group', m.group_handle, 'carrier_notice', m.carrier_notice <> 0)::text \
                 FROM inbox_messages m WHERE m.id = ?2",
            ],
            message,
            now,
        )
    }

    /// A `delivery` event for `id` in the state it was just moved to.
    pub(super) fn emit_delivery(
        &self,
        id: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.emit_sql(
            EventKind::Delivery,
            [
                "INSERT INTO webhook_events (type, created_at, data) \
                 SELECT 'delivery', ?1, json_object( \
                   'delivery', d.id, 'broadcast', d.broadcast_id, 'group', b.group_handle, \
                   'kind', b.kind, 'member', m.handle, 'number', d.number, 'state', d.state, \
                   'attempts', d.attempts, 'modem', d.modem, 'error', d.last_error) \
                 FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id \
                 LEFT JOIN members m ON m.id = d.member_id WHERE d.id = ?2",
                "INSERT INTO webhook_events (type, created_at, data) \
                 SELECT 'delivery', ?1, json_build_object( \
                   'delivery', d.id, 'broadcast', d.broadcast_id, 'group', b.group_handle, \
                   'kind', b.kind, 'member', m.handle, 'number', d.number, 'state', d.state, \
                   'attempts', d.attempts, 'modem', d.modem, 'error', d.last_error)::text \
                 FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id \
                 LEFT JOIN members m ON m.id = d.member_id WHERE d.id = ?2",
            ],
            id.0,
            now,
        )
    }

    /// A `broadcast_finished` event for `id`, with its deliveries counted by state.
    pub(super) fn emit_broadcast_finished(
        &self,
        id: BroadcastId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.emit_sql(
            EventKind::BroadcastFinished,
            [
                "INSERT INTO webhook_events (type, created_at, data) \
                 SELECT 'broadcast_finished', ?1, json_object( \
                   'broadcast', b.id, 'group', b.group_handle, 'kind', b.kind, \
                   'sender', b.sender_handle, 'recipients', b.recipients, 'parts', b.parts, \
                   'cancelled', json(iif(b.cancelled_at IS NULL, 'false', 'true')), \
                   'created_at', strftime('%Y-%m-%dT%H:%M:%fZ', b.created_at / 1000.0, 'unixepoch'), \
                   'finished_at', strftime('%Y-%m-%dT%H:%M:%fZ', ?1 / 1000.0, 'unixepoch'), \
                   'states', json((SELECT json_group_object(state, n) FROM \
                     (SELECT state, count(*) AS n FROM deliveries WHERE broadcast_id = b.id \
                      GROUP BY state ORDER BY state))), \
                   'replies', (SELECT count(*) FROM inbox_messages WHERE broadcast_id = b.id \
                      AND handling = 'reply'), \
                   'opt_outs', (SELECT count(*) FROM inbox_messages WHERE broadcast_id = b.id \
                      AND handling = 'opt_out')) \
                 FROM broadcasts b WHERE b.id = ?2",
                "INSERT INTO webhook_events (type, created_at, data) \
                 SELECT 'broadcast_finished', ?1, json_build_object( \
                   'broadcast', b.id, 'group', b.group_handle, 'kind', b.kind, \
                   'sender', b.sender_handle, 'recipients', b.recipients, 'parts', b.parts, \
                   'cancelled', b.cancelled_at IS NOT NULL, \
                   'created_at', to_char(to_timestamp(b.created_at / 1000.0) AT TIME ZONE 'UTC', \
                     'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
                   'finished_at', to_char(to_timestamp(CAST(?1 AS BIGINT) / 1000.0) AT TIME ZONE 'UTC', \
                     'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
                   'states', coalesce((SELECT json_object_agg(state, n ORDER BY state) FROM \
                     (SELECT state, count(*) AS n FROM deliveries WHERE broadcast_id = b.id \
                      GROUP BY state) AS by_state), '{}'::json), \
                   'replies', (SELECT count(*) FROM inbox_messages WHERE broadcast_id = b.id \
                      AND handling = 'reply'), \
                   'opt_outs', (SELECT count(*) FROM inbox_messages WHERE broadcast_id = b.id \
                      AND handling = 'opt_out'))::text \
                 FROM broadcasts b WHERE b.id = ?2",
            ],
            id.0,
            now,
        )
    }

    /// Up to `limit` events due at `endpoint` by `now`, the longest waiting first.
    pub fn webhook_due(
        &self,
        endpoint: &str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueEvent>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT e.id, e.type, e.created_at, e.data, d.attempts \
             FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
             WHERE d.endpoint = ? AND d.next_try_at IS NOT NULL AND d.next_try_at <= ? \
             ORDER BY d.next_try_at, d.event_id LIMIT ?",
        )?;
        let rows = st.query_map(params![endpoint, ms(now), limit], |r| {
            Ok(DueEvent {
                id: r.get(0)?,
                kind: r.get(1)?,
                created_at: from_ms(r.get(2)?),
                data: r.get(3)?,
                attempts: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Claims up to `limit` events due at `endpoint` by `now` (the longest waiting first) for
    /// this sender until `until`: their next try moves there, so no other sender sees them
    /// due before then, unless this one records their outcome first. In a write transaction
    /// (the writers' lock: two senders cannot claim the same row).
    pub fn webhook_claim(
        &self,
        endpoint: &str,
        now: DateTime<Utc>,
        limit: u32,
        until: DateTime<Utc>,
    ) -> Result<Vec<DueEvent>, StoreError> {
        let due = self.webhook_due(endpoint, now, limit)?;
        let mut claim = self.conn.prepare_cached(
            "UPDATE webhook_deliveries SET next_try_at = ? \
             WHERE endpoint = ? AND event_id = ? AND next_try_at IS NOT NULL AND next_try_at <= ?",
        )?;
        let mut claimed = Vec::with_capacity(due.len());
        for event in due {
            if claim.execute(params![ms(until), endpoint, event.id, ms(now)])? == 1 {
                claimed.push(event);
            }
        }
        Ok(claimed)
    }

    /// When the next pending event of `endpoint` is due, if it has any.
    pub fn webhook_next_due(&self, endpoint: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT min(next_try_at) FROM webhook_deliveries \
                 WHERE endpoint = ? AND next_try_at IS NOT NULL",
            )?
            .query_row([endpoint], |r| r.get(0))?;
        Ok(next.map(from_ms))
    }

    /// `event` reached `endpoint` (a 2xx answer).
    pub fn webhook_delivered(
        &self,
        endpoint: &str,
        event: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, next_try_at = NULL, \
                 last_try_at = ?3, delivered_at = ?3 \
                 WHERE endpoint = ?1 AND event_id = ?2 AND next_try_at IS NOT NULL",
            )?
            .execute(params![endpoint, event, ms(now)])?;
        Ok(())
    }

    /// A try of `event` at `endpoint` failed with `error`: tried again at `next`, or given up
    /// for good (dead) when `next` is `None`.
    pub fn webhook_failed(
        &self,
        endpoint: &str,
        event: i64,
        error: &str,
        next: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, next_try_at = ?4, \
                 last_try_at = ?5, last_error = ?3, dead_at = CASE WHEN CAST(?4 AS BIGINT) IS NULL THEN CAST(?5 AS BIGINT) ELSE NULL END \
                 WHERE endpoint = ?1 AND event_id = ?2 AND next_try_at IS NOT NULL",
            )?
            .execute(params![
                endpoint,
                event,
                super::cut(error, MAX_WEBHOOK_ERROR),
                next.map(ms),
                ms(now)
            ])?;
        Ok(())
    }

    /// What is left to send to `endpoint`.
    pub fn webhook_backlog(&self, endpoint: &str) -> Result<WebhookBacklog, StoreError> {
        let (pending, oldest): (u64, Option<i64>) = self
            .conn
            .prepare_cached(
                "SELECT count(*), min(e.created_at) FROM webhook_deliveries d \
                 JOIN webhook_events e ON e.id = d.event_id \
                 WHERE d.endpoint = ? AND d.next_try_at IS NOT NULL",
            )?
            .query_row([endpoint], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let dead: u64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM webhook_deliveries WHERE endpoint = ? AND dead_at IS NOT NULL",
            )?
            .query_row([endpoint], |r| r.get(0))?;
        let last_error: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT last_error FROM webhook_deliveries WHERE endpoint = ? \
                 AND delivered_at IS NULL AND last_error IS NOT NULL \
                 ORDER BY last_try_at DESC LIMIT 1",
            )?
            .query_row([endpoint], |r| r.get(0))
            .optional()?;
        Ok(WebhookBacklog {
            pending,
            oldest_pending: oldest.map(from_ms),
            dead,
            last_error,
        })
    }

    /// Removes events created before `before` that no endpoint still waits for (each was
    /// delivered or is dead); how many.
    pub fn prune_webhook_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "DELETE FROM webhook_events WHERE created_at < ? AND NOT EXISTS \
                 (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id \
                  AND d.next_try_at IS NOT NULL)",
            )?
            .execute([ms(before)])? as u64)
    }
}
