//! Status reports against the store: matched by SIM, TP-MR, recipient and recency; delivery
//! states; unmatched reports kept with their reason. (Through the real binary on PTYs:
//! `daemon_reports.rs`.)

mod common;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use common::*;
use groupsms::emulator::inbound;
use groupsms::service::reports::{apply_report, IncomingReport, ReportOutcome, ReportSettings};
use groupsms::service::{submit_broadcast, Caller, SendRequest, Settings};
use groupsms::sms::{hex, Address, Timestamp};
use groupsms::store::{BroadcastId, DeliveryId, DeliveryState, Store};
use rand::seq::SliceRandom;
use rand::SeedableRng;

const SIM: &str = "460001234567890";

fn ts(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        year: t.year() as u16,
        month: t.month() as u8,
        day: t.day() as u8,
        hour: t.hour() as u8,
        minute: t.minute() as u8,
        second: t.second() as u8,
        tz_quarters: 0,
    }
}

/// A report PDU (SMSC field included) as the network would send it.
fn report(mr: u8, to: &str, sent: DateTime<Utc>, status: u8) -> (String, usize) {
    let smsc = Address::parse("+8613800100500").unwrap();
    let p = inbound::status_report(
        &smsc,
        mr,
        &Address::parse(to).unwrap(),
        ts(sent),
        ts(sent + Duration::seconds(5)),
        status,
    )
    .unwrap();
    (hex::encode(&p.bytes), p.tpdu_len)
}

fn broadcast(store: &mut Store, body: &str, at: DateTime<Utc>) -> (BroadcastId, Vec<DeliveryId>) {
    let req = SendRequest {
        group: "ops".into(),
        as_member: "boss".into(),
        body: body.into(),
        now: at,
        urgent: false,
        caller: Caller::unix(0, &[]),
    };
    let a = submit_broadcast(store, &Settings::default(), req).unwrap();
    let ids = store
        .queued_for_broadcast(a.broadcast_id)
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    (a.broadcast_id, ids)
}

/// Sends `id` through SIM with these part references at `at` (what the scheduler commits).
fn sent(store: &mut Store, id: DeliveryId, refs: &[u8], at: DateTime<Utc>) {
    store.mark_sending(id, "/dev/gsm/a", at).unwrap();
    store
        .write(|tx| {
            tx.record_parts(id, SIM, refs, at)?;
            tx.mark_sent(id, refs, at)
        })
        .unwrap();
}

fn apply(store: &mut Store, pdu: &(String, usize), now: DateTime<Utc>) -> ReportOutcome {
    let settings = ReportSettings::default();
    store
        .write(|tx| {
            apply_report(
                tx,
                &settings,
                IncomingReport {
                    sim: SIM,
                    device: "/dev/gsm/a",
                    pdu: &pdu.0,
                    length: Some(pdu.1),
                },
                now,
            )
        })
        .unwrap()
}

fn state(store: &mut Store, b: BroadcastId, id: DeliveryId) -> (DeliveryState, Option<String>) {
    let d = store.show_broadcast(b).unwrap();
    let row = d.deliveries.iter().find(|r| r.id == id).unwrap();
    (row.state, row.last_error.clone())
}

#[test]
fn a_report_per_part_delivers_and_temporary_ones_change_nothing() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 2);
    let t0 = utc(T0);
    let (b, ids) = broadcast(&mut store, "x", t0);
    sent(&mut store, ids[1], &[7, 8, 9], t0);
    let to = "+8613800000001";

    // Still trying: recorded, nothing final.
    let out = apply(
        &mut store,
        &report(8, to, t0, 0x21),
        t0 + Duration::minutes(1),
    );
    assert!(
        matches!(
            out,
            ReportOutcome::Applied {
                part: 1,
                status: 0x21,
                update: None,
                ..
            }
        ),
        "{out:?}"
    );
    apply(
        &mut store,
        &report(7, to, t0, 0x00),
        t0 + Duration::minutes(2),
    );
    apply(
        &mut store,
        &report(9, to, t0, 0x00),
        t0 + Duration::minutes(3),
    );
    assert_eq!(
        state(&mut store, b, ids[1]).0,
        DeliveryState::Sent,
        "part 2 still open"
    );
    let out = apply(
        &mut store,
        &report(8, to, t0, 0x00),
        t0 + Duration::minutes(4),
    );
    match out {
        ReportOutcome::Applied {
            update: Some(u), ..
        } => assert_eq!(u.state, DeliveryState::Delivered),
        other => panic!("{other:?}"),
    }
    // A late "still trying" does not undo the final status.
    apply(
        &mut store,
        &report(8, to, t0, 0x30),
        t0 + Duration::minutes(5),
    );
    let st = store.part_statuses(ids[1]).unwrap();
    assert_eq!(st, [Some(0), Some(0), Some(0)]);
    let p = store.broadcast_progress(b).unwrap();
    assert_eq!((p.delivered, p.undelivered, p.queued), (1, 0, 2));
    assert_eq!(store.unmatched_report_count().unwrap(), 0);
}

#[test]
fn a_permanent_failure_makes_the_delivery_undelivered_with_the_reason() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 2);
    let t0 = utc(T0);
    let (b, ids) = broadcast(&mut store, "x", t0);
    sent(&mut store, ids[1], &[40, 41], t0);
    sent(&mut store, ids[2], &[42], t0);
    apply(&mut store, &report(40, "+8613800000001", t0, 0x00), t0);
    apply(&mut store, &report(41, "+8613800000001", t0, 0x46), t0);
    assert_eq!(
        state(&mut store, b, ids[1]),
        (
            DeliveryState::Undelivered,
            Some("part 2 of 2: SM validity period expired (TP-ST 0x46)".into())
        )
    );
    apply(&mut store, &report(42, "+8613800000002", t0, 0x41), t0);
    assert_eq!(
        state(&mut store, b, ids[2]),
        (
            DeliveryState::Undelivered,
            Some("incompatible destination (TP-ST 0x41)".into())
        )
    );
    let p = store.broadcast_progress(b).unwrap();
    assert_eq!(p.undelivered, 2);
}

#[test]
fn the_recipient_in_national_form_matches() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 1);
    let t0 = utc(T0);
    let (b, ids) = broadcast(&mut store, "x", t0);
    sent(&mut store, ids[1], &[3], t0);
    apply(&mut store, &report(3, "13800000001", t0, 0), t0);
    assert_eq!(state(&mut store, b, ids[1]).0, DeliveryState::Delivered);
    sent(&mut store, ids[0], &[4], t0);
    apply(&mut store, &report(4, "8613900000000", t0, 0), t0);
    assert_eq!(state(&mut store, b, ids[0]).0, DeliveryState::Delivered);
}

#[test]
fn a_matching_reference_with_another_recipient_is_kept_unmatched() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 1);
    let t0 = utc(T0);
    let (b, ids) = broadcast(&mut store, "x", t0);
    sent(&mut store, ids[1], &[5], t0);
    let out = apply(&mut store, &report(5, "+8613811111111", t0, 0), t0);
    let ReportOutcome::Unmatched { reason } = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        reason,
        "the reference was last used for +8613800000001, not for this recipient"
    );
    assert_eq!(state(&mut store, b, ids[1]).0, DeliveryState::Sent);
    // Nothing sent with that reference; unreadable; too old.
    let out = apply(&mut store, &report(6, "+8613800000001", t0, 0), t0);
    assert!(matches!(out, ReportOutcome::Unmatched { .. }));
    let out = apply(&mut store, &("0791zz".into(), 3), t0);
    assert!(matches!(out, ReportOutcome::Unmatched { .. }));
    let out = apply(
        &mut store,
        &report(5, "+8613800000001", t0, 0),
        t0 + Duration::days(8),
    );
    assert!(matches!(out, ReportOutcome::Unmatched { .. }), "{out:?}");
    assert_eq!(state(&mut store, b, ids[1]).0, DeliveryState::Sent);

    assert_eq!(store.unmatched_report_count().unwrap(), 4);
    let list = store.unmatched_reports(10).unwrap();
    let reasons: Vec<_> = list.iter().map(|u| u.report.reason.as_str()).collect();
    assert!(
        reasons[0]
            .starts_with("no part was sent through this SIM with reference 5 in the last 7 days"),
        "{reasons:?}"
    );
    assert!(reasons[1].starts_with("unreadable report"), "{reasons:?}");
    assert!(
        reasons[2].starts_with("no part was sent through this SIM with reference 6"),
        "{reasons:?}"
    );
    assert_eq!(list[3].report.mr, Some(5));
    assert_eq!(list[3].report.recipient.as_deref(), Some("+8613811111111"));
    assert_eq!(list[3].report.sim, SIM);
}

#[test]
fn references_wrap_at_256_and_shuffled_reports_each_find_their_part() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 255);
    let t0 = utc(T0);
    // Two broadcasts to the same 256 numbers: 512 sends on one SIM, references 0..=255 twice,
    // so every number got two messages with the same reference, 42 minutes apart; only the
    // report's own time (TP-SCTS) tells them apart.
    let (b1, first) = broadcast(&mut store, "one", t0);
    let (b2, second) = broadcast(&mut store, "two", t0 + Duration::minutes(30));
    let mut sends = Vec::new();
    for (i, id) in first.iter().chain(&second).enumerate() {
        let at = t0 + Duration::seconds(10 * i as i64);
        let mr = (i % 256) as u8;
        sent(&mut store, *id, &[mr], at);
        sends.push((mr, *id, at));
    }
    let numbers: std::collections::HashMap<DeliveryId, String> = [b1, b2]
        .iter()
        .flat_map(|b| store.show_broadcast(*b).unwrap().deliveries)
        .map(|d| (d.id, d.number))
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    sends.shuffle(&mut rng);
    let late = t0 + Duration::hours(5);
    for (mr, id, at) in &sends {
        let out = apply(&mut store, &report(*mr, &numbers[id], *at, 0), late);
        match out {
            ReportOutcome::Applied { delivery, .. } => assert_eq!(delivery, *id, "mr {mr}"),
            other => panic!("mr {mr}: {other:?}"),
        }
    }
    for b in [b1, b2] {
        let p = store.broadcast_progress(b).unwrap();
        assert_eq!((p.delivered, p.sent), (256, 0));
    }
    assert_eq!(store.unmatched_report_count().unwrap(), 0);
}
