//! The quota under concurrency: 50 threads, each with its own connection to the same real
//! database file, submit at the same instant; never more than the quota pass.

mod common;

use std::path::Path;
use std::sync::{Arc, Barrier};

use common::*;
use groupsms::service::refusals::{MORE_REFUSED, REFUSED_SENDS_LOGGED_PER_MINUTE};
use groupsms::service::{quota_status, submit_broadcast, SendRequest, ServiceError, Settings};
use groupsms::store::{GroupChange, Store};

const THREADS: usize = 50;

/// Runs THREADS concurrent submissions; returns (accepted, refused for quota).
fn race(path: &Path, settings: &Settings) -> (usize, usize) {
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let (path, barrier, settings) = (path.to_path_buf(), barrier.clone(), settings.clone());
            std::thread::spawn(move || {
                let mut store = Store::open(&path).expect("open");
                barrier.wait();
                let req = SendRequest {
                    caller: groupsms::service::Caller::unix(0, &[]),
                    group: "ops".into(),
                    as_member: "boss".into(),
                    body: format!("第{i}条通知"),
                    now: utc(T0),
                    urgent: false,
                };
                submit_broadcast(&mut store, &settings, req)
            })
        })
        .collect();
    let (mut accepted, mut refused) = (0, 0);
    for t in threads {
        match t.join().expect("thread") {
            Ok(_) => accepted += 1,
            Err(ServiceError::Quota(_)) => refused += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    (accepted, refused)
}

fn count(path: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn fifty_concurrent_sends_never_pass_the_daily_quota() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let mut store = Store::open(&path).unwrap();
    ops_group(&mut store, 20);
    drop(store);
    let settings = Settings::default();

    assert_eq!(race(&path, &settings), (3, THREADS - 3));

    assert_eq!(count(&path, "SELECT count(*) FROM broadcasts"), 3);
    assert_eq!(count(&path, "SELECT count(*) FROM deliveries"), 3 * 21);
    // The refusals are audited one by one up to the limit per caller and minute, then once
    // more as a summary.
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM audit WHERE action = 'send_refused'"
        ),
        i64::from(REFUSED_SENDS_LOGGED_PER_MINUTE) + 1
    );
    assert_eq!(
        count(
            &path,
            &format!("SELECT count(*) FROM audit WHERE detail = '{MORE_REFUSED}'")
        ),
        1
    );
    let mut store = Store::open(&path).unwrap();
    let q = quota_status(&mut store, &settings, "ops", utc(T0)).unwrap();
    assert_eq!((q.day_used, q.month_used), (3, 3));
}

#[test]
fn fifty_concurrent_sends_never_pass_the_monthly_quota() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let mut store = Store::open(&path).unwrap();
    ops_group(&mut store, 5);
    let change = GroupChange {
        daily_quota: Some(Some(1000)),
        monthly_quota: Some(Some(17)),
        ..GroupChange::default()
    };
    store.update_group("ops", &change).unwrap();
    drop(store);

    assert_eq!(race(&path, &Settings::default()), (17, THREADS - 17));
    assert_eq!(count(&path, "SELECT count(*) FROM broadcasts"), 17);
    assert_eq!(count(&path, "SELECT count(*) FROM deliveries"), 17 * 6);
}
