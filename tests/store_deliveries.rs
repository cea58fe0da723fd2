//! The delivery state machine, recovery at start, progress and finished detection, the
//! scheduler's queue, per-SIM counters and the StoreHandle.

mod common;

use chrono::Duration;
use common::*;
use groupsms::service::{sim_counts, submit_broadcast, SendRequest, Settings};
use groupsms::store::{
    BroadcastId, DeliveryId, DeliveryState, InFlightPolicy, Progress, Recovery, SendCount, Store,
    StoreError, StoreHandle,
};

#[test]
fn the_queue_holds_the_composed_text_once_per_broadcast() {
    let (_dir, mut store, b, ids) = with_broadcast(3);
    assert_eq!(ids.len(), 4);
    let q = store.load_queued().unwrap();
    assert_eq!(q.len(), 4);
    assert!(q.iter().all(|d| &*d.text == "【运维组】今晚22点停机维护"));
    assert!(
        std::sync::Arc::ptr_eq(&q[0].text, &q[3].text),
        "one shared text"
    );
    assert!(q
        .iter()
        .all(|d| d.broadcast_id == b && d.attempts == 0 && !d.possible_duplicate));
    let numbers: Vec<_> = q.iter().map(|d| d.number.as_str()).collect();
    assert_eq!(
        numbers,
        [
            "+8613900000000",
            "+8613800000001",
            "+8613800000002",
            "+8613800000003"
        ]
    );
    assert_eq!(q[0].group_id, store.group("ops").unwrap().map(|g| g.id));
}

#[test]
fn a_delivery_goes_through_its_states_and_the_broadcast_finishes() {
    let (_dir, mut store, b, ids) = with_broadcast(3);
    let t = |m: i64| utc(T0) + Duration::minutes(m);

    let up = store.mark_sending(ids[0], "460001111111111", t(1)).unwrap();
    assert_eq!(
        (up.state, up.attempts, up.broadcast, up.broadcast_finished),
        (DeliveryState::Sending, 1, b, false)
    );
    store.mark_sent(ids[0], &[17, 18], t(2)).unwrap();

    store.mark_sending(ids[1], "460001111111111", t(3)).unwrap();
    let up = store
        .requeue(ids[1], "+CMS ERROR: 38 network out of order", t(10), t(4))
        .unwrap();
    assert_eq!((up.state, up.attempts), (DeliveryState::Queued, 1));
    let q = store.load_queued().unwrap();
    let retry = q.iter().find(|d| d.id == ids[1]).unwrap();
    assert_eq!((retry.attempts, retry.not_before), (1, Some(t(10))));
    let up = store
        .mark_sending(ids[1], "460002222222222", t(11))
        .unwrap();
    assert_eq!(up.attempts, 2, "the second try");
    store
        .mark_failed(ids[1], "+CMS ERROR: 1 unassigned number", t(12))
        .unwrap();

    store
        .mark_sending(ids[2], "460001111111111", t(13))
        .unwrap();
    store
        .mark_uncertain(ids[2], "no answer to AT+CMGS in 60 s", t(14))
        .unwrap();

    assert_eq!(
        store.broadcast_progress(b).unwrap(),
        Progress {
            queued: 1,
            sent: 1,
            failed: 1,
            uncertain: 1,
            ..Progress::default()
        }
    );
    assert!(!store.broadcast(b).unwrap().unwrap().finished);

    let up = store
        .mark_failed(ids[3], "cancelled by the operator", t(15))
        .unwrap();
    assert!(up.broadcast_finished, "the last open delivery closed");
    let summary = store.broadcast(b).unwrap().unwrap();
    assert!(summary.finished);
    assert_eq!(summary.finished_at, Some(t(15)));
    assert!(summary.progress.is_finished());
    assert_eq!(summary.progress.total(), 4);

    let up = store.mark_delivered(ids[0], t(16)).unwrap();
    assert!(!up.broadcast_finished, "already finished: reported once");

    // An operator retries the uncertain one: the broadcast is open again, then finishes again.
    store
        .requeue(ids[2], "retried by the operator", t(20), t(17))
        .unwrap();
    assert!(!store.broadcast(b).unwrap().unwrap().finished);
    store
        .mark_sending(ids[2], "460001111111111", t(21))
        .unwrap();
    assert!(
        store
            .mark_sent(ids[2], &[40], t(22))
            .unwrap()
            .broadcast_finished
    );

    let detail = store.show_broadcast(b).unwrap();
    let rows: Vec<_> = detail
        .deliveries
        .iter()
        .map(|d| {
            (
                d.member_handle.as_deref(),
                d.state,
                d.modem.as_deref(),
                d.attempts,
                d.part_refs.clone(),
                d.last_error.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                Some("boss"),
                DeliveryState::Delivered,
                Some("460001111111111"),
                1,
                vec![17, 18],
                None
            ),
            (
                Some("m1"),
                DeliveryState::Failed,
                Some("460002222222222"),
                2,
                vec![],
                Some("+CMS ERROR: 1 unassigned number")
            ),
            (
                Some("m2"),
                DeliveryState::Sent,
                Some("460001111111111"),
                2,
                vec![40],
                None
            ),
            (
                Some("m3"),
                DeliveryState::Failed,
                None,
                0,
                vec![],
                Some("cancelled by the operator")
            ),
        ]
    );
    assert_eq!(detail.deliveries[0].updated_at, t(16));
    assert_eq!(detail.broadcast.sender_handle, "boss");
}

#[test]
fn forbidden_transitions_are_refused_and_change_nothing() {
    let (_dir, mut store, b, ids) = with_broadcast(1);
    let now = utc(T0);
    let bad = |from, to| StoreError::BadTransition {
        delivery: ids[0].0,
        from,
        to,
    };
    assert_eq!(
        store.mark_sent(ids[0], &[1], now).unwrap_err(),
        bad("queued", "sent")
    );
    assert_eq!(
        store.mark_uncertain(ids[0], "x", now).unwrap_err(),
        bad("queued", "uncertain")
    );
    assert_eq!(
        store.requeue(ids[0], "x", now, now).unwrap_err(),
        bad("queued", "queued")
    );
    assert_eq!(
        store.mark_delivered(ids[0], now).unwrap_err(),
        bad("queued", "delivered")
    );
    store.mark_sending(ids[0], "m", now).unwrap();
    assert_eq!(
        store.mark_sending(ids[0], "m", now).unwrap_err(),
        bad("sending", "sending")
    );
    store.mark_sent(ids[0], &[1], now).unwrap();
    assert_eq!(
        store.mark_failed(ids[0], "x", now).unwrap_err(),
        bad("sent", "failed")
    );
    assert_eq!(
        store.mark_failed(ids[0], "x", now).unwrap_err().to_string(),
        format!("delivery {} is sent; it cannot become failed", ids[0])
    );
    assert_eq!(
        store
            .mark_sending(DeliveryId(999_999), "m", now)
            .unwrap_err()
            .to_string(),
        "there is no delivery number 999999"
    );
    assert_eq!(store.broadcast_progress(b).unwrap().sent, 1);
    assert_eq!(
        store
            .show_broadcast(BroadcastId(77))
            .unwrap_err()
            .to_string(),
        "there is no broadcast number 77"
    );
}

#[test]
fn recovery_resends_deliveries_left_sending_as_possible_duplicates() {
    let (dir, mut store, b, ids) = with_broadcast(2);
    let now = utc(T0);
    store.mark_sending(ids[0], "m", now).unwrap();
    store.mark_sending(ids[1], "m", now).unwrap();
    store.mark_sent(ids[1], &[5], now).unwrap();
    drop(store); // the daemon stops mid-send

    let mut store = dir.open();
    let later = now + Duration::minutes(5);
    let r = store
        .recover_on_start(InFlightPolicy::Resend, later)
        .unwrap();
    assert_eq!(
        r,
        Recovery {
            requeued: 1,
            uncertain: 0,
            broadcasts_finished: 0
        }
    );
    let q = store.load_queued().unwrap();
    assert_eq!(q.len(), 2);
    let resent = q.iter().find(|d| d.id == ids[0]).unwrap();
    assert!(resent.possible_duplicate);
    assert_eq!(resent.attempts, 1);
    assert!(
        !q.iter()
            .find(|d| d.id == ids[2])
            .unwrap()
            .possible_duplicate
    );
    assert_eq!(
        store
            .recover_on_start(InFlightPolicy::Resend, later)
            .unwrap(),
        Recovery::default()
    );
    assert_eq!(store.broadcast_progress(b).unwrap().queued, 2);
}

#[test]
fn recovery_can_mark_them_uncertain_and_finish_the_broadcast() {
    let (_dir, mut store, b, ids) = with_broadcast(1);
    let now = utc(T0);
    store.mark_sending(ids[0], "m", now).unwrap();
    store.mark_sending(ids[1], "m", now).unwrap();
    let r = store
        .recover_on_start(InFlightPolicy::Uncertain, now)
        .unwrap();
    assert_eq!(
        r,
        Recovery {
            requeued: 0,
            uncertain: 2,
            broadcasts_finished: 1
        }
    );
    let p = store.broadcast_progress(b).unwrap();
    assert_eq!((p.uncertain, p.is_finished()), (2, true));
    let detail = store.show_broadcast(b).unwrap();
    assert!(detail.deliveries.iter().all(|d| d
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("may or may not have been sent"))));
    assert!(store.load_queued().unwrap().is_empty());
}

#[test]
fn broadcasts_are_listed_newest_first_per_group() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 1);
    let settings = Settings::default();
    for (i, body) in ["一", "二"].iter().enumerate() {
        let req = SendRequest {
            caller: groupsms::service::Caller::unix(0, &[]),
            group: "ops".into(),
            as_member: "boss".into(),
            body: body.to_string(),
            now: utc(T0) + Duration::minutes(i as i64),
            urgent: false,
        };
        submit_broadcast(&mut store, &settings, req).unwrap();
    }
    let list = store.broadcasts(Some("ops"), 10).unwrap();
    let bodies: Vec<_> = list.iter().map(|b| b.body.as_str()).collect();
    assert_eq!(bodies, ["二", "一"]);
    assert_eq!(list[0].progress.queued, 2);
    assert_eq!(list[0].recipients, 2);
    assert_eq!(store.broadcasts(None, 1).unwrap().len(), 1);
    assert!(store.broadcasts(Some("other"), 10).unwrap().is_empty());
}

#[test]
fn sim_counters_survive_a_restart_and_follow_local_hours_and_days() {
    let (dir, mut store) = temp_store();
    let sh = chrono_tz::Asia::Shanghai;
    // 2024-05-10 local: 15:59, 16:00, 16:30 and 23:59:59; then 00:00 on the 11th.
    for (at, parts) in [
        ("2024-05-10T07:59:00Z", 1),
        ("2024-05-10T08:00:00Z", 2),
        ("2024-05-10T08:30:00Z", 3),
        ("2024-05-10T15:59:59Z", 1),
        ("2024-05-10T16:00:00Z", 1),
    ] {
        store
            .record_sim_send("460001111111111", parts, utc(at))
            .unwrap();
    }
    store
        .record_sim_send("460002222222222", 1, utc("2024-05-10T08:10:00Z"))
        .unwrap();
    drop(store);
    let mut store = dir.open();

    let c = sim_counts(
        &mut store,
        sh,
        "460001111111111",
        utc("2024-05-10T08:45:00Z"),
    )
    .unwrap();
    assert_eq!(
        c.hour,
        SendCount {
            messages: 2,
            parts: 5
        }
    );
    assert_eq!(
        c.day,
        SendCount {
            messages: 3,
            parts: 6
        }
    );
    let c = sim_counts(
        &mut store,
        sh,
        "460001111111111",
        utc("2024-05-10T16:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        c.day,
        SendCount {
            messages: 1,
            parts: 1
        },
        "a new local day"
    );
    let none = sim_counts(
        &mut store,
        sh,
        "460009999999999",
        utc("2024-05-10T08:45:00Z"),
    )
    .unwrap();
    assert_eq!(
        (none.hour, none.day),
        (SendCount::default(), SendCount::default())
    );

    assert_eq!(
        store.prune_sim_sends(utc("2024-05-10T08:00:00Z")).unwrap(),
        1
    );
    assert_eq!(
        store
            .sim_sends_between(
                "460001111111111",
                utc("2024-05-01T00:00:00Z"),
                utc("2024-05-11T00:00:00Z")
            )
            .unwrap()
            .messages,
        4
    );
    assert_eq!(
        store
            .record_sim_send(" ", 1, utc(T0))
            .unwrap_err()
            .to_string(),
        "the SIM id must not be empty"
    );
}

#[test]
fn concatenation_references_count_per_sim_and_recipient_and_survive_a_restart() {
    let (dir, mut store) = temp_store();
    let (sim, other_sim) = ("460001111111111", "460002222222222");
    let (alice, bob) = ("+8613800138000", "+8613900000001");
    let next =
        |store: &mut Store, sim: &str, number: &str| store.next_concat_ref(sim, number).unwrap();
    assert_eq!(next(&mut store, sim, alice), 0);
    assert_eq!(next(&mut store, sim, alice), 1);
    // Another recipient, or another SIM (another sender), has its own count.
    assert_eq!(next(&mut store, sim, bob), 0);
    assert_eq!(next(&mut store, other_sim, alice), 0);
    drop(store);
    let mut store = dir.open();
    assert_eq!(next(&mut store, sim, alice), 2, "goes on after a restart");
    let wrapped: Vec<u8> = (0..256).map(|_| next(&mut store, sim, alice)).collect();
    assert_eq!(wrapped[..2], [3, 4]);
    assert_eq!(
        wrapped[252..],
        [255, 0, 1, 2],
        "wraps after 255, no value skipped"
    );
    assert_eq!(
        store.next_concat_ref(" ", alice).unwrap_err().to_string(),
        "the SIM id must not be empty"
    );
}

#[tokio::test]
async fn the_handle_serves_async_callers_from_its_own_thread() {
    let (_dir, store, b, ids) = with_broadcast(2);
    let (handle, thread) = StoreHandle::spawn(store).unwrap();
    let now = utc(T0);

    let tasks: Vec<_> = ids
        .iter()
        .map(|&id| {
            let h = handle.clone();
            tokio::spawn(async move {
                h.call(move |s| s.mark_sending(id, "460001111111111", now))
                    .await?;
                h.call(move |s| s.mark_sent(id, &[1], now)).await
            })
        })
        .collect();
    let mut finished = 0;
    for t in tasks {
        if t.await.unwrap().unwrap().broadcast_finished {
            finished += 1;
        }
    }
    assert_eq!(finished, 1, "exactly one transition finishes the broadcast");
    let p = handle.call(move |s| s.broadcast_progress(b)).await.unwrap();
    assert_eq!(p.sent, 3);

    // A panicking closure is an error for its caller; the thread goes on.
    let err = handle
        .call(|_s| -> Result<(), StoreError> { panic!("boom") })
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Panicked("boom".into()));
    assert_eq!(
        handle
            .call(move |s| s.broadcast_progress(b))
            .await
            .unwrap()
            .sent,
        3
    );

    drop(handle);
    thread.join().unwrap();
}

#[test]
fn the_handle_works_without_a_runtime_and_ends_with_its_last_clone() {
    let (_dir, store, b, _ids) = with_broadcast(1);
    let (handle, thread) = StoreHandle::spawn(store).unwrap();
    let p = handle
        .call_blocking(move |s| s.broadcast_progress(b))
        .unwrap();
    assert_eq!(p.queued, 2);
    let h2 = handle.clone();
    drop(handle);
    drop(h2);
    thread.join().unwrap();
}

/// Group commit: writes queued together share one transaction, each in its own savepoint. A
/// failing or panicking one is rolled back alone, the others hold, and everything answered
/// `Ok` is in the file when the database is opened again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_writes_commit_together_and_fail_alone() {
    let (dir, store, b, ids) = with_broadcast(40);
    let (handle, thread) = StoreHandle::spawn(store).unwrap();
    let now = utc(T0);
    // Hold the store thread so the writes below queue up behind it and form batches.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let blocker = handle.call(move |_s| -> Result<(), StoreError> {
        let _ = held.recv();
        Ok(())
    });
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let h = handle.clone();
            tokio::spawn(async move {
                h.write_batched(move |tx| {
                    tx.mark_sending(id, "460001111111111", now)?;
                    match i {
                        // A refused transition: its own changes roll back.
                        3 => tx.mark_sending(id, "460001111111111", now).map(drop),
                        7 => panic!("boom"),
                        _ => Ok(()),
                    }
                })
                .await
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    release.send(()).unwrap();
    blocker.await.unwrap();
    let mut ok = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match (i, t.await.unwrap()) {
            (3, Err(StoreError::BadTransition { .. })) => {}
            (7, Err(StoreError::Panicked(what))) => assert_eq!(what, "boom"),
            (3 | 7, other) => panic!("write {i}: {other:?}"),
            (_, r) => {
                r.unwrap();
                ok += 1;
            }
        }
    }
    assert_eq!(ok, ids.len() - 2);
    drop(handle);
    thread.join().unwrap();
    let mut again = dir.open();
    let p = again.broadcast_progress(b).unwrap();
    assert_eq!((p.sending, p.queued), (ok as u32, 2), "{p:?}");
}

#[test]
fn a_sim_quarantine_is_kept_until_its_end_replaced_by_a_newer_one_and_released() {
    use groupsms::store::SimQuarantine;
    let (_dir, mut store) = temp_store();
    let t = |s: i64| utc(T0) + chrono::Duration::seconds(s);
    let q = SimQuarantine {
        sim: "460001234567890".into(),
        reason: "+CMS ERROR: 8 (Operator determined barring)".into(),
        since: t(0),
        until: t(3600),
    };
    store.write(|tx| tx.quarantine_sim(&q)).unwrap();
    let read = |store: &mut groupsms::store::Store, at: i64| {
        store
            .read(|tx| tx.sim_quarantine("460001234567890", t(at)))
            .unwrap()
    };
    assert_eq!(read(&mut store, 10), Some(q.clone()));
    assert_eq!(read(&mut store, 3600), None, "over at its end");
    // A second sign replaces the first (its reason and times).
    let later = SimQuarantine {
        reason: "a notice from 10086 says \"停机\"".into(),
        since: t(100),
        until: t(7200),
        ..q.clone()
    };
    store.write(|tx| tx.quarantine_sim(&later)).unwrap();
    assert_eq!(read(&mut store, 3600), Some(later));
    assert!(store.write(|tx| tx.release_sim("460001234567890")).unwrap());
    assert_eq!(read(&mut store, 10), None);
    assert!(!store.write(|tx| tx.release_sim("460001234567890")).unwrap());
    // Nonsense is refused, not stored.
    let empty = SimQuarantine {
        sim: String::new(),
        ..q.clone()
    };
    assert!(store.write(|tx| tx.quarantine_sim(&empty)).is_err());
    let backwards = SimQuarantine { until: t(0), ..q };
    assert!(store.write(|tx| tx.quarantine_sim(&backwards)).is_err());
}
