//! A cancelled broadcast in the store: its queued deliveries become `cancelled` in one
//! transaction, one being sent is left alone, and a try of it that comes back to the queue
//! afterwards (a retry, a modem that was not ready, a restart's recovery) is cancelled too,
//! never queued again.

mod common;

use common::*;
use groupsms::service::{submit_broadcast, SendRequest, Settings};
use groupsms::store::{
    BroadcastId, DeliveryId, DeliveryState, InFlightPolicy, Store, CANCELLED_IN_FLIGHT,
};

/// `ops` with boss + 2 members, one broadcast to the three; its first delivery being sent,
/// then the broadcast cancelled by `root`.
fn cancelled_while_one_is_sent() -> (TestDb, Store, BroadcastId, Vec<DeliveryId>) {
    let (dir, mut store) = temp_store();
    ops_group(&mut store, 2);
    let req = SendRequest {
        caller: groupsms::service::Caller::unix(0, &[]),
        group: "ops".into(),
        as_member: "boss".into(),
        body: "今晚停机".into(),
        now: utc(T0),
        urgent: false,
    };
    let b = submit_broadcast(&mut store, &Settings::default(), req)
        .unwrap()
        .broadcast_id;
    let ids: Vec<DeliveryId> = store
        .queued_for_broadcast(b)
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    store.mark_sending(ids[0], "/dev/m0", utc(T0)).unwrap();
    let c = store
        .write(|tx| tx.cancel_broadcast(b, "the broadcast was cancelled by root", "root", utc(T0)))
        .unwrap();
    assert_eq!(
        c.cancelled.iter().map(|u| u.delivery).collect::<Vec<_>>(),
        ids[1..]
    );
    assert_eq!((c.progress.sending, c.progress.cancelled), (1, 2));
    let summary = store.broadcast(b).unwrap().unwrap();
    assert_eq!(
        summary.cancelled.as_ref().map(|(_, by)| by.as_str()),
        Some("root")
    );
    assert!(!summary.finished, "one is still being sent");
    (dir, store, b, ids)
}

fn state(store: &mut Store, b: BroadcastId, id: DeliveryId) -> (DeliveryState, Option<String>) {
    let d = store
        .show_broadcast(b)
        .unwrap()
        .deliveries
        .into_iter()
        .find(|d| d.id == id)
        .unwrap();
    (d.state, d.last_error)
}

#[test]
fn a_retry_after_the_cancellation_is_cancelled() {
    let (_dir, mut store, b, ids) = cancelled_while_one_is_sent();
    let u = store
        .requeue(ids[0], "+CMS ERROR: 38", utc(T0), utc(T0))
        .unwrap();
    assert_eq!(u.state, DeliveryState::Cancelled);
    assert!(u.broadcast_finished);
    assert_eq!(
        state(&mut store, b, ids[0]),
        (DeliveryState::Cancelled, Some(CANCELLED_IN_FLIGHT.into()))
    );
    assert!(store.load_queued().unwrap().is_empty());
}

#[test]
fn a_try_given_back_unsent_after_the_cancellation_is_cancelled() {
    let (_dir, mut store, b, ids) = cancelled_while_one_is_sent();
    let u = store.release_unsent(ids[0], utc(T0)).unwrap();
    assert_eq!(u.state, DeliveryState::Cancelled);
    assert!(store.broadcast(b).unwrap().unwrap().finished);
}

#[test]
fn a_send_that_went_through_stays_sent() {
    let (_dir, mut store, b, ids) = cancelled_while_one_is_sent();
    let u = store.mark_sent(ids[0], &[7], utc(T0)).unwrap();
    assert_eq!(u.state, DeliveryState::Sent);
    let p = store.broadcast(b).unwrap().unwrap().progress;
    assert_eq!((p.sent, p.cancelled), (1, 2));
}

#[test]
fn recovery_at_start_does_not_send_a_cancelled_broadcast_again() {
    let (_dir, mut store, b, ids) = cancelled_while_one_is_sent();
    let r = store
        .recover_on_start(InFlightPolicy::Resend, utc(T0))
        .unwrap();
    assert_eq!((r.requeued, r.broadcasts_finished), (0, 1));
    assert_eq!(state(&mut store, b, ids[0]).0, DeliveryState::Cancelled);
    assert!(store.load_queued().unwrap().is_empty());
}
