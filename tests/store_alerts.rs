//! The store's memory of Alertmanager notifications sent: found by any of their keys within a
//! window, per group, kept across a reopen of the file, pruned when older than the window.

mod common;

use chrono::Duration;
use common::*;
use groupsms::service::{submit_broadcast, SendRequest, Settings};
use groupsms::store::{BroadcastId, Store};

fn broadcast(store: &mut Store, body: &str) -> BroadcastId {
    let req = SendRequest {
        caller: groupsms::service::Caller::unix(0, &[]),
        group: "ops".into(),
        as_member: "boss".into(),
        body: body.into(),
        now: utc(T0),
        urgent: false,
    };
    submit_broadcast(store, &Settings::default(), req)
        .unwrap()
        .broadcast_id
}

#[test]
fn a_sent_notification_is_found_by_any_key_within_the_window_and_after_a_reopen() {
    let (dir, mut store) = temp_store();
    ops_group(&mut store, 2);
    let b = broadcast(&mut store, "disk full");
    let keys = vec!["text:a".to_string(), "alerts:b".to_string()];
    let t0 = utc(T0);
    store
        .record_alert_send("ops", &keys, b, t0, t0 - Duration::hours(4))
        .unwrap();
    let since = |minutes| t0 + Duration::minutes(minutes) - Duration::hours(4);
    // Either key, inside the window.
    for k in [&keys[0], &keys[1]] {
        assert_eq!(
            store
                .alert_sent_since("ops", &[k.clone(), "text:other".into()], since(10))
                .unwrap(),
            Some(b)
        );
    }
    // Another group, another key, or a window that starts after the send: nothing.
    assert_eq!(
        store.alert_sent_since("dev", &keys, since(10)).unwrap(),
        None
    );
    assert_eq!(
        store
            .alert_sent_since("ops", &["text:c".into()], since(10))
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .alert_sent_since("ops", &keys, t0 + Duration::seconds(1))
            .unwrap(),
        None
    );
    // Kept in the file.
    drop(store);
    let mut store = dir.open();
    assert_eq!(
        store.alert_sent_since("ops", &keys, since(0)).unwrap(),
        Some(b)
    );

    // A newer send under the same key is the one named.
    let b2 = broadcast(&mut store, "disk full again");
    let t1 = t0 + Duration::hours(5);
    store
        .record_alert_send("ops", &keys[..1], b2, t1, t1 - Duration::hours(4))
        .unwrap();
    assert_eq!(store.alert_sent_since("ops", &keys, t0).unwrap(), Some(b2));
    // Recording at t1 pruned what the window no longer needs (the two rows of t0).
    assert_eq!(store.alert_send_rows().unwrap(), 1);
}

#[test]
fn empty_keys_are_refused() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 1);
    let b = broadcast(&mut store, "x");
    assert!(store
        .record_alert_send("ops", &[String::new()], b, utc(T0), utc(T0))
        .is_err());
    assert_eq!(store.alert_send_rows().unwrap(), 0);
}
