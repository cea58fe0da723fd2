//! The webhook outbox in the store: an event is written with the change that causes it (and
//! rolled back with it), once per subscribed endpoint, only for subscribed types; the sender's
//! bookkeeping (due, delivered, failed with a next try, dead) and what `status` reads of it.

mod common;

use chrono::Duration;
use common::*;
use groupsms::store::{EventKind, Store, StoreError, Subscriptions, WebhookBacklog};

fn backlog(store: &mut Store, endpoint: &str) -> WebhookBacklog {
    store.read(|tx| tx.webhook_backlog(endpoint)).unwrap()
}

fn due(store: &mut Store, endpoint: &str, at: &str) -> Vec<groupsms::store::DueEvent> {
    store
        .read(|tx| tx.webhook_due(endpoint, utc(at), 100))
        .unwrap()
}

#[test]
fn outcomes_and_the_end_of_a_broadcast_are_written_for_the_endpoints_that_want_them() {
    let (_dir, mut store, b, ids) = with_broadcast(1);
    store.set_webhooks(Subscriptions::new([
        ("all".to_string(), &EventKind::ALL[..]),
        ("ends".to_string(), &[EventKind::BroadcastFinished][..]),
        ("modems".to_string(), &[EventKind::Modem][..]),
    ]));
    let now = utc(T0);
    for id in &ids {
        store.mark_sending(*id, "/dev/ttyUSB0", now).unwrap();
        store.mark_sent(*id, &[7], now).unwrap();
    }
    // Two outcomes and the end for "all", the end alone for "ends", nothing for "modems".
    let all = due(&mut store, "all", T0);
    let kinds: Vec<&str> = all.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["delivery", "delivery", "broadcast_finished"]);
    let sent: serde_json::Value = serde_json::from_str(&all[0].data).unwrap();
    assert_eq!(sent["state"], "sent");
    assert_eq!(sent["broadcast"], b.0);
    assert_eq!(sent["group"], "ops");
    assert_eq!(sent["member"], "boss");
    assert_eq!(sent["modem"], "/dev/ttyUSB0");
    let end: serde_json::Value = serde_json::from_str(&all[2].data).unwrap();
    assert_eq!(end["states"], serde_json::json!({"sent": 2}));
    assert_eq!(end["recipients"], 2);
    assert_eq!(end["cancelled"], false);
    let ends = due(&mut store, "ends", T0);
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].id, all[2].id, "one event, a row per endpoint");
    assert!(due(&mut store, "modems", T0).is_empty());
    assert_eq!(backlog(&mut store, "all").pending, 3);
    assert_eq!(
        backlog(&mut store, "all").oldest_pending,
        Some(utc(T0)),
        "{:?}",
        backlog(&mut store, "all")
    );
}

#[test]
fn nothing_is_written_without_a_subscription_nor_when_the_change_rolls_back() {
    let (_dir, mut store, _b, ids) = with_broadcast(1);
    let now = utc(T0);
    store.mark_sending(ids[0], "/dev/ttyUSB0", now).unwrap();
    store.mark_sent(ids[0], &[1], now).unwrap();
    store.set_webhooks(Subscriptions::new([(
        "a".to_string(),
        &[EventKind::Delivery][..],
    )]));
    // The change fails after its event was written: both are rolled back.
    let failed = store.write(|tx| -> Result<(), StoreError> {
        tx.mark_sending(ids[1], "/dev/ttyUSB0", now)?;
        tx.mark_failed(ids[1], "+CMS ERROR: 21", now)?;
        Err(StoreError::Sql("the caller gives up".into()))
    });
    assert!(failed.is_err());
    assert_eq!(backlog(&mut store, "a"), WebhookBacklog::default());
    let wake = store.outbox_wake();
    store.mark_sending(ids[1], "/dev/ttyUSB0", now).unwrap();
    store.mark_failed(ids[1], "+CMS ERROR: 21", now).unwrap();
    let events = due(&mut store, "a", T0);
    assert_eq!(events.len(), 1, "only the change made with a subscription");
    let data: serde_json::Value = serde_json::from_str(&events[0].data).unwrap();
    assert_eq!(data["state"], "failed");
    assert_eq!(data["error"], "+CMS ERROR: 21");
    // The commit left a permit for the sender.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(5), wake.notified())
            .await
            .expect("woken by the commit")
    });
}

#[test]
fn a_failed_try_waits_for_its_next_time_then_dies_with_its_error() {
    let (_dir, mut store, _b, _ids) = with_broadcast(0);
    store.set_webhooks(Subscriptions::new([(
        "a".to_string(),
        &[EventKind::Modem][..],
    )]));
    let now = utc(T0);
    for n in 0..3 {
        store
            .write(|tx| {
                tx.emit_event(
                    EventKind::Modem,
                    &serde_json::json!({"change": "left", "n": n}),
                    now,
                )
            })
            .unwrap();
    }
    let events = due(&mut store, "a", T0);
    assert_eq!(events.len(), 3);
    let later = now + Duration::seconds(5);
    store
        .write(|tx| {
            tx.webhook_delivered("a", events[0].id, now)?;
            tx.webhook_failed("a", events[1].id, "HTTP 503", Some(later), now)?;
            tx.webhook_failed("a", events[2].id, "connection refused", None, now)
        })
        .unwrap();
    let b = backlog(&mut store, "a");
    assert_eq!((b.pending, b.dead), (1, 1), "{b:?}");
    assert_eq!(b.oldest_pending, Some(now));
    // The latest failure of an event not delivered (same time: either is right).
    assert!(
        ["HTTP 503", "connection refused"].contains(&b.last_error.as_deref().unwrap()),
        "{b:?}"
    );
    // Not due before its time; due at it, with its attempt counted.
    assert!(due(&mut store, "a", "2024-05-10T02:00:04Z").is_empty());
    let again = due(&mut store, "a", "2024-05-10T02:00:05Z");
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts), (events[1].id, 1));
    // Recorded twice (an answer already recorded): the second changes nothing.
    store
        .write(|tx| {
            tx.webhook_delivered("a", events[1].id, later)?;
            tx.webhook_delivered("a", events[1].id, later)
        })
        .unwrap();
    let b = backlog(&mut store, "a");
    assert_eq!((b.pending, b.dead), (0, 1));
    assert_eq!(b.last_error.as_deref(), Some("connection refused"));
    // Old events no endpoint waits for are removed.
    let pruned = store
        .write(|tx| tx.prune_webhook_events(now + Duration::days(8)))
        .unwrap();
    assert_eq!(pruned, 3);
}

/// Two daemons sharing the database (two connections here) claim an endpoint's due events at
/// once: each event is claimed by exactly one, is not due to anyone while claimed, and is due
/// again once the claim runs out (its sender died mid-post) unless its outcome was recorded.
#[test]
fn concurrent_claims_take_each_event_once_until_the_claim_runs_out() {
    let db = TestDb::new();
    let mut store = db.open();
    ops_group(&mut store, 0);
    store.set_webhooks(Subscriptions::new([(
        "a".to_string(),
        &[EventKind::Modem][..],
    )]));
    let now = utc(T0);
    const EVENTS: usize = 120;
    for n in 0..EVENTS {
        store
            .write(|tx| tx.emit_event(EventKind::Modem, &serde_json::json!({"n": n}), now))
            .unwrap();
    }
    let until = now + Duration::seconds(30);
    let start = std::sync::Arc::new(std::sync::Barrier::new(2));
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let mut s = db.open();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let mut mine = Vec::new();
                loop {
                    let claimed = s.write(|tx| tx.webhook_claim("a", now, 4, until)).unwrap();
                    // Nothing left, or more than there is (claims that do not hold).
                    if claimed.is_empty() || mine.len() > EVENTS {
                        return mine;
                    }
                    mine.extend(claimed.into_iter().map(|e| e.id));
                }
            })
        })
        .collect();
    let claims: Vec<Vec<i64>> = senders.into_iter().map(|t| t.join().unwrap()).collect();
    let mut all: Vec<i64> = claims.concat();
    all.sort_unstable();
    let mut once = all.clone();
    once.dedup();
    assert_eq!(once.len(), all.len(), "an event claimed twice: {claims:?}");
    assert_eq!(all.len(), EVENTS, "{claims:?}");
    // Claimed: due to nobody until the claim ends.
    assert!(due(&mut store, "a", "2024-05-10T02:00:29Z").is_empty());
    assert_eq!(backlog(&mut store, "a").pending, EVENTS as u64);
    // One recorded as delivered; the others' sender died: due again at the claim's end.
    store
        .write(|tx| tx.webhook_delivered("a", all[0], now))
        .unwrap();
    let again: Vec<i64> = store
        .read(|tx| tx.webhook_due("a", until, 1000))
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(again.len(), EVENTS - 1);
    assert!(!again.contains(&all[0]));
}
