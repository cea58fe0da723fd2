//! The store's totals for `/metrics`: deliveries by state, the oldest queued delivery, and
//! the time-to-last-part histogram of finished broadcasts, on a real SQLite file.

mod common;

use chrono::Duration;
use common::*;
use groupsms::service::{submit_broadcast, Caller, SendRequest, Settings};
use groupsms::store::metrics::FINISH_BUCKETS_SECS;
use groupsms::store::{DeliveryId, DeliveryState, Store};

/// A broadcast from boss to `ops` accepted at `at`; its deliveries.
fn broadcast(store: &mut Store, at: chrono::DateTime<chrono::Utc>) -> Vec<DeliveryId> {
    let req = SendRequest {
        caller: Caller::unix(0, &[]),
        group: "ops".into(),
        as_member: "boss".into(),
        body: "今晚22点停机维护".into(),
        now: at,
        urgent: false,
    };
    let accepted = submit_broadcast(store, &Settings::default(), req).unwrap();
    accepted.queued.iter().map(|q| q.id).collect()
}

fn send(store: &mut Store, id: DeliveryId, at: chrono::DateTime<chrono::Utc>) {
    store.mark_sending(id, "/dev/ttyUSB0", at).unwrap();
    store.mark_sent(id, &[1], at).unwrap();
}

#[test]
fn totals_count_states_the_oldest_queued_and_finished_broadcasts_into_buckets() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 2);
    let t0 = utc(T0);
    let empty = store.metric_totals().unwrap();
    assert_eq!(empty.oldest_queued, None);
    assert_eq!(empty.finish.count, 0);
    assert!(empty.deliveries.iter().all(|(_, n)| *n == 0));
    assert_eq!(empty.deliveries.len(), DeliveryState::ALL.len());

    // Broadcast 1: its last delivery ends 20 s after acceptance.
    let one = broadcast(&mut store, t0);
    send(&mut store, one[0], t0 + Duration::seconds(3));
    store
        .mark_delivered(one[0], t0 + Duration::seconds(9))
        .unwrap();
    send(&mut store, one[1], t0 + Duration::seconds(5));
    store
        .mark_failed(one[2], "+CMS ERROR: 21", t0 + Duration::seconds(20))
        .unwrap();
    // Broadcast 2: 2 hours; broadcast 3 still has a queued delivery.
    let two = broadcast(&mut store, t0 + Duration::minutes(1));
    for id in &two {
        send(&mut store, *id, t0 + Duration::minutes(121));
    }
    let three = broadcast(&mut store, t0 + Duration::minutes(5));
    send(&mut store, three[0], t0 + Duration::minutes(6));

    let totals = store.metric_totals().unwrap();
    let count = |s: DeliveryState| totals.deliveries.iter().find(|(d, _)| *d == s).unwrap().1;
    assert_eq!(count(DeliveryState::Queued), 2);
    assert_eq!(count(DeliveryState::Sent), 1 + 3 + 1);
    assert_eq!(count(DeliveryState::Delivered), 1);
    assert_eq!(count(DeliveryState::Failed), 1);
    assert_eq!(
        totals.oldest_queued,
        Some(t0 + Duration::minutes(5)),
        "the queued deliveries' acceptance"
    );
    let h = &totals.finish;
    assert_eq!((h.count, h.sum_secs), (2, 20.0 + 7200.0));
    for (bound, n) in FINISH_BUCKETS_SECS.iter().zip(&h.buckets) {
        let want = [20u32, 7200].into_iter().filter(|s| s <= bound).count() as u64;
        assert_eq!(*n, want, "bucket le={bound}");
    }
    store.set_opt_out("ops", "m1", true).unwrap();
    assert_eq!(store.metric_totals().unwrap().opted_out, 1);
}
