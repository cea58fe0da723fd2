//! Several daemons ("hosts") on one database, at the store: one host takes a delivery and only
//! it records the outcome; a host whose lease ran out is declared lost by another, which
//! recovers what it was sending by the in-flight policy; a lost host takes nothing until it
//! has joined again; on PostgreSQL, what a host does is announced to the others (LISTEN).
//! Runs on SQLite (two connections to one file) and on PostgreSQL (two connections to one
//! database) alike.

mod common;

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use common::*;
use groupsms::store::hosts::{Announcement, Move};
use groupsms::store::{DeliveryState, InFlightPolicy, Store, StoreError};

/// Two hosts, `a` and `b`, on the database of a broadcast to boss + 3 members; `a`'s lease is
/// `lease_a`.
fn two_hosts(
    lease_a: Duration,
) -> (
    TestDb,
    Store,
    Store,
    groupsms::store::BroadcastId,
    Vec<groupsms::store::DeliveryId>,
) {
    let (db, mut a, b, ids) = with_broadcast(3);
    let mut other = db.open();
    a.set_host("a");
    other.set_host("b");
    a.host_up(lease_a, Utc::now()).unwrap();
    other.host_up(Duration::seconds(60), Utc::now()).unwrap();
    (db, a, other, b, ids)
}

#[test]
fn one_host_takes_a_delivery_and_only_that_host_records_its_outcome() {
    let (_db, mut a, mut b, _, ids) = two_hosts(Duration::seconds(60));
    let now = Utc::now();
    let taken = a.mark_sending(ids[0], "/dev/ttyUSB0", now).unwrap();
    assert_eq!(taken.state, DeliveryState::Sending);
    match b.mark_sending(ids[0], "/dev/ttyUSB7", now) {
        Err(StoreError::BadTransition {
            from: "sending", ..
        }) => {}
        other => panic!("b took a delivery a had taken: {other:?}"),
    }
    match b.mark_sent(ids[0], &[1], now) {
        Err(StoreError::TakenOver { host, .. }) => assert_eq!(host, "a"),
        other => panic!("b recorded a's outcome: {other:?}"),
    }
    assert_eq!(
        a.mark_sent(ids[0], &[1], now).unwrap().state,
        DeliveryState::Sent
    );
    // The next one is b's.
    b.mark_sending(ids[1], "/dev/ttyUSB7", now).unwrap();
    let rows = a.deliveries_page(taken.broadcast, 0, 10).unwrap();
    assert_eq!(rows[0].state, DeliveryState::Sent);
    assert_eq!(rows[1].state, DeliveryState::Sending);
}

#[test]
fn a_silent_host_is_declared_lost_and_what_it_was_sending_is_queued_again() {
    let (_db, mut a, mut b, broadcast, ids) = two_hosts(Duration::milliseconds(300));
    a.mark_sending(ids[0], "/dev/ttyUSB0", Utc::now()).unwrap();
    a.mark_sending(ids[1], "/dev/ttyUSB1", Utc::now()).unwrap();
    // Within a's lease: nothing to recover.
    assert!(b
        .recover_lost_hosts(InFlightPolicy::Resend, Utc::now())
        .unwrap()
        .is_empty());
    std::thread::sleep(StdDuration::from_millis(500));
    let lost = b
        .recover_lost_hosts(InFlightPolicy::Resend, Utc::now())
        .unwrap();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].name, "a");
    assert_eq!(lost[0].recovery.requeued, 2);
    let moved: Vec<(DeliveryState, DeliveryState)> =
        lost[0].moves.iter().map(|m| (m.from, m.to)).collect();
    assert_eq!(
        moved,
        vec![(DeliveryState::Sending, DeliveryState::Queued); 2]
    );
    let queued = b.queued_for_broadcast(broadcast).unwrap();
    assert_eq!(queued.len(), ids.len(), "all four wait again");
    let flagged: Vec<_> = queued
        .iter()
        .filter(|q| q.possible_duplicate)
        .map(|q| q.id)
        .collect();
    assert_eq!(flagged, vec![ids[0], ids[1]]);
    let hosts = b.hosts().unwrap();
    let a_row = hosts.iter().find(|h| h.name == "a").unwrap();
    assert_eq!(a_row.state, "lost");
    assert_eq!(a_row.recovered_by.as_deref(), Some("b"));
    // Declared once.
    assert!(b
        .recover_lost_hosts(InFlightPolicy::Resend, Utc::now())
        .unwrap()
        .is_empty());

    // a comes back (it was paused): its outcome is not recorded, it takes nothing, its
    // heartbeat says it was lost; once it has joined again it may take work.
    assert!(matches!(
        a.mark_sent(ids[0], &[1], Utc::now()),
        Err(StoreError::BadTransition { from: "queued", .. })
    ));
    assert!(matches!(
        a.mark_sending(ids[2], "/dev/ttyUSB0", Utc::now()),
        Err(StoreError::HostLost)
    ));
    assert!(!a.host_heartbeat("[]", Utc::now()).unwrap());
    a.host_up(Duration::seconds(60), Utc::now()).unwrap();
    assert!(a.host_heartbeat("[]", Utc::now()).unwrap());
    a.mark_sending(ids[2], "/dev/ttyUSB0", Utc::now()).unwrap();
    assert_eq!(
        b.hosts()
            .unwrap()
            .iter()
            .find(|h| h.name == "a")
            .unwrap()
            .state,
        "up"
    );
}

#[test]
fn under_the_uncertain_policy_a_lost_hosts_deliveries_are_never_sent_again() {
    let (_db, mut a, mut b, broadcast, ids) = two_hosts(Duration::milliseconds(300));
    a.mark_sending(ids[0], "/dev/ttyUSB0", Utc::now()).unwrap();
    std::thread::sleep(StdDuration::from_millis(500));
    let lost = b
        .recover_lost_hosts(InFlightPolicy::Uncertain, Utc::now())
        .unwrap();
    assert_eq!(lost[0].recovery.uncertain, 1);
    assert_eq!(lost[0].recovery.requeued, 0);
    assert_eq!(b.queued_for_broadcast(broadcast).unwrap().len(), 3);
    let rows = b.deliveries_page(broadcast, 0, 10).unwrap();
    assert_eq!(rows[0].state, DeliveryState::Uncertain);
    assert!(
        rows[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("host a went silent"),
        "{:?}",
        rows[0].last_error
    );
}

#[test]
fn a_clean_stop_is_not_a_loss_and_a_start_recovers_only_its_own_leftovers() {
    let (_db, mut a, mut b, _, ids) = two_hosts(Duration::seconds(60));
    a.mark_sending(ids[0], "/dev/ttyUSB0", Utc::now()).unwrap();
    b.mark_sending(ids[1], "/dev/ttyUSB7", Utc::now()).unwrap();
    // a restarts: its own delivery is recovered, b's (live) is left alone.
    let r = a
        .recover_on_start(InFlightPolicy::Resend, Utc::now())
        .unwrap();
    assert_eq!(r.requeued, 1);
    assert_eq!(
        b.mark_sent(ids[1], &[1], Utc::now()).unwrap().state,
        DeliveryState::Sent
    );
    a.host_stopped(Utc::now()).unwrap();
    assert!(b
        .recover_lost_hosts(InFlightPolicy::Resend, Utc::now())
        .unwrap()
        .is_empty());
    let hosts = b.hosts().unwrap();
    assert_eq!(
        hosts.iter().find(|h| h.name == "a").unwrap().state,
        "stopped"
    );
}

#[test]
fn on_postgresql_a_hosts_work_is_announced_to_the_others() {
    let (db, mut a, _b, broadcast, ids) = two_hosts(Duration::seconds(60));
    let Some(target) = db.pg_target() else {
        eprintln!("not run on SQLite: announcements are PostgreSQL's LISTEN/NOTIFY");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    rt.spawn(groupsms::store::postgres::listen(target, tx));
    let next = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<_>| {
        rt.block_on(async {
            tokio::time::timeout(StdDuration::from_secs(10), rx.recv())
                .await
                .expect("an announcement within 10 s")
                .expect("the listener runs")
        })
    };
    // Connected: whatever came before was missed.
    assert_eq!(next(&mut rx), None);
    a.mark_sending(ids[0], "/dev/ttyUSB0", Utc::now()).unwrap();
    let expected = Move {
        delivery: ids[0].0,
        broadcast: broadcast.0,
        from: DeliveryState::Queued,
        to: DeliveryState::Sending,
        number: "+8613900000000".into(),
        modem: Some("/dev/ttyUSB0".into()),
        error: None,
    };
    assert_eq!(
        next(&mut rx),
        Some(("a".to_string(), Announcement::Moved(expected)))
    );
    let back = a
        .requeue(ids[0], "modem error", Utc::now(), Utc::now())
        .unwrap();
    assert_eq!(back.state, DeliveryState::Queued);
    match next(&mut rx) {
        Some((host, Announcement::Moved(m))) => {
            assert_eq!(host, "a");
            assert_eq!(
                (m.from, m.to),
                (DeliveryState::Sending, DeliveryState::Queued)
            );
            assert_eq!(m.error.as_deref(), Some("modem error"));
        }
        other => panic!("{other:?}"),
    }
    // A rolled-back change announces nothing: the next one heard is the next commit.
    let _ = a.write(|tx| {
        tx.mark_sending(ids[1], "/dev/ttyUSB0", Utc::now())?;
        Err::<(), _>(StoreError::Empty {
            what: "a test's rollback",
        })
    });
    a.mark_sending(ids[2], "/dev/ttyUSB0", Utc::now()).unwrap();
    match next(&mut rx) {
        Some((_, Announcement::Moved(m))) => assert_eq!(m.delivery, ids[2].0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn on_postgresql_a_long_write_elsewhere_does_not_hold_up_a_heartbeat() {
    let (db, mut a, _b, _, _) = two_hosts(Duration::seconds(60));
    if !db.is_postgres() {
        eprintln!("not run on SQLite: one host per file, its heartbeat is an ordinary write");
        return;
    }
    let mut writer = db.open();
    let (holding_tx, holding) = std::sync::mpsc::channel();
    let (renewed_tx, renewed) = std::sync::mpsc::channel::<bool>();
    let long_write = std::thread::spawn(move || {
        writer.write(|_tx| {
            // The writers' lock is held from here until this transaction ends.
            holding_tx.send(()).unwrap();
            let heard = renewed
                .recv_timeout(StdDuration::from_secs(20))
                .expect("the heartbeat went through while the lock was held");
            Ok::<_, StoreError>(heard)
        })
    });
    holding.recv().unwrap();
    assert!(a.renew_lease("[]", Utc::now()).unwrap());
    renewed_tx.send(true).unwrap();
    assert!(long_write.join().unwrap().unwrap());
}
