//! Idempotency keys in the store and the service: a key is linked to its broadcast in the
//! broadcast's own transaction (a broadcast is never written without its key, nor a key left
//! naming a broadcast that was not), and a key whose answer was lost (the daemon stopped right
//! after the broadcast) refuses repeats instead of sending again.

mod common;

use common::*;
use groupsms::service::idempotency::{self, Claim, KeyError, ABANDONED};
use groupsms::service::{submit_broadcast_keyed, Caller, SendRequest, Settings};
use groupsms::store::{NewApiToken, Store};

fn admin_token(store: &mut Store) -> i64 {
    store
        .write(|tx| {
            tx.insert_token(
                &NewApiToken {
                    hash: "c".repeat(64),
                    member: None,
                    label: String::new(),
                    created_by: "root".into(),
                    expires_at: None,
                },
                utc(T0),
            )
        })
        .unwrap()
        .id
}

fn request(token: i64, as_member: &str) -> SendRequest {
    SendRequest {
        caller: Caller::token(token, None),
        group: "ops".into(),
        as_member: as_member.into(),
        body: "今晚停机".into(),
        now: utc(T0),
        urgent: false,
    }
}

fn fresh(store: &mut Store, token: i64, key: &str) -> i64 {
    match idempotency::claim(store, token, key, "f", utc(T0)).unwrap() {
        Ok(Claim::Fresh(id)) => id,
        other => panic!("not a fresh claim: {other:?}"),
    }
}

#[test]
fn a_key_names_exactly_the_broadcast_written_under_it() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 2);
    let token = admin_token(&mut store);
    let settings = Settings::default();

    let id = fresh(&mut store, token, "k1");
    let accepted =
        submit_broadcast_keyed(&mut store, &settings, request(token, "boss"), Some(id)).unwrap();
    let kept = store
        .read(|tx| tx.idempotency_key(token, "k1"))
        .unwrap()
        .unwrap();
    assert_eq!(kept.broadcast, Some(accepted.broadcast_id));
    // The broadcast records the token as its caller.
    let summary = store.broadcast(accepted.broadcast_id).unwrap().unwrap();
    assert_eq!(
        summary.caller.as_deref(),
        Some(format!("token:{token}").as_str())
    );

    // Its answer never kept (the daemon stopped): a repeat waits a moment, then is refused
    // with the broadcast named, and nothing is sent again.
    assert_eq!(
        idempotency::claim(&mut store, token, "k1", "f", utc(T0)).unwrap(),
        Ok(Claim::InFlight)
    );
    assert_eq!(
        idempotency::claim(&mut store, token, "k1", "f", utc(T0) + ABANDONED).unwrap(),
        Err(KeyError::AnswerLost {
            key: "k1".into(),
            broadcast: accepted.broadcast_id.0
        })
    );

    // A refused send writes nothing under its key; the transport then releases the claim.
    let id = fresh(&mut store, token, "k2");
    assert!(
        submit_broadcast_keyed(&mut store, &settings, request(token, "m1"), Some(id)).is_err(),
        "m1 is no super-admin"
    );
    let kept = store.read(|tx| tx.idempotency_key(token, "k2")).unwrap();
    assert_eq!(kept.map(|k| k.broadcast), Some(None));
    idempotency::release(&mut store, id).unwrap();
    assert_eq!(
        store.read(|tx| tx.idempotency_key(token, "k2")).unwrap(),
        None
    );

    // A claim gone before its broadcast is written takes the broadcast with it: no broadcast
    // without its key, no quota used.
    let id = fresh(&mut store, token, "k3");
    idempotency::release(&mut store, id).unwrap();
    let before = store.broadcasts(Some("ops"), 100).unwrap().len();
    assert!(
        submit_broadcast_keyed(&mut store, &settings, request(token, "boss"), Some(id)).is_err()
    );
    assert_eq!(store.broadcasts(Some("ops"), 100).unwrap().len(), before);
    let quota = groupsms::service::quota_status(&mut store, &settings, "ops", utc(T0)).unwrap();
    assert_eq!(quota.day_used, 1, "only the first broadcast used quota");
}
