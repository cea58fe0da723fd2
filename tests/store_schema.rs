//! Opening the database: migrations from an empty file, refusal of a newer schema or of a
//! file that is not a database, connection settings, concurrent first opens.
//! SQLite only: `.ci/run`'s PostgreSQL pass leaves this file out (it is about the SQLite file).

mod common;

use std::sync::{Arc, Barrier};

use common::*;
use groupsms::service::{submit_broadcast, SendRequest, Settings};
use groupsms::store::{Store, StoreError, SCHEMA_VERSION};

#[test]
fn migrates_an_empty_file_and_sets_the_connection_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let store = Store::open(&path).unwrap();
    let p = store.pragmas().unwrap().expect("SQLite");
    assert_eq!(p.journal_mode, "wal");
    assert_eq!(p.synchronous, "FULL");
    assert!(p.foreign_keys);
    assert_eq!(p.busy_timeout_ms, 10_000);
    assert_eq!(p.user_version, SCHEMA_VERSION);
    drop(store);

    // Every table of the schema is there, and a second open changes nothing.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut st = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    let tables: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        tables,
        [
            "alert_sends",
            "api_tokens",
            "audit",
            "broadcasts",
            "concat_refs",
            "deliveries",
            "group_modems",
            "groups",
            "hosts",
            "idempotency_keys",
            "inbox_messages",
            "inbox_parts",
            "members",
            "memberships",
            "parts",
            "quota_usage",
            "sim_quarantine",
            "sim_sends",
            "unmatched_reports",
            "webhook_deliveries",
            "webhook_events"
        ]
    );
    drop(st);
    drop(conn);
    let again = Store::open(&path).unwrap();
    assert_eq!(
        again.pragmas().unwrap().expect("SQLite").user_version,
        SCHEMA_VERSION
    );
}

#[test]
fn a_missing_file_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    Store::open(&path).unwrap();
    assert!(path.exists());
}

#[test]
fn refuses_a_database_from_a_newer_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = Store::open(&path).unwrap_err();
    assert_eq!(
        err,
        StoreError::NewerSchema {
            path: path.clone(),
            found: SCHEMA_VERSION + 1,
            supported: SCHEMA_VERSION
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the database {} has schema version {}, newer than the {} this program knows; \
             use a newer groupsms or restore a backup",
            path.display(),
            SCHEMA_VERSION + 1,
            SCHEMA_VERSION
        )
    );
}

#[test]
fn refuses_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "this is not SQLite, just a text file that is long enough\n".repeat(40),
    )
    .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert_eq!(err, StoreError::NotADatabase { path: path.clone() });
    assert_eq!(
        err.to_string(),
        format!("{} is not an SQLite database", path.display())
    );
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let err = Store::open("/nonexistent-dir-groupsms/x.db").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot open the database /nonexistent-dir-groupsms/x.db: "),
        "{err}"
    );
}

#[test]
fn several_processes_opening_a_new_file_at_once_migrate_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("race.db"));
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                Store::open(&*path).map(|s| s.pragmas().unwrap().expect("SQLite").user_version)
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Ok(SCHEMA_VERSION));
    }
}

#[test]
fn foreign_keys_cascade_and_keep_history() {
    let (dir, mut store) = temp_store();
    ops_group(&mut store, 2);
    let settings = Settings::default();
    let req = SendRequest {
        caller: groupsms::service::Caller::unix(0, &[]),
        group: "ops".into(),
        as_member: "boss".into(),
        body: "明天开会".into(),
        now: utc(T0),
        urgent: false,
    };
    let id = submit_broadcast(&mut store, &settings, req)
        .unwrap()
        .broadcast_id;
    store.delete_member("m1").unwrap();
    store.delete_group("ops").unwrap();

    let conn = rusqlite::Connection::open(dir.path().join("groupsms.db")).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM memberships"),
        0,
        "memberships went with the group"
    );
    assert_eq!(
        count("SELECT count(*) FROM quota_usage"),
        0,
        "quota usage went with the group"
    );
    assert_eq!(
        count("SELECT count(*) FROM deliveries"),
        3,
        "deliveries stay"
    );

    let shown = store.show_broadcast(id).unwrap();
    assert_eq!(shown.broadcast.group_handle, "ops");
    assert_eq!(shown.broadcast.group_id, None);
    let m1 = shown
        .deliveries
        .iter()
        .find(|d| d.number == "+8613800000001")
        .unwrap();
    assert_eq!(
        m1.member_handle, None,
        "the member is gone, the number stays"
    );
    assert_eq!(store.broadcasts(Some("ops"), 10).unwrap().len(), 1);
}

#[test]
fn a_lock_held_longer_than_the_busy_timeout_is_a_clear_transient_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let options = groupsms::store::OpenOptions {
        busy_timeout: std::time::Duration::from_millis(50),
    };
    let mut store = Store::open_with(&path, &options).unwrap();
    assert_eq!(
        store.pragmas().unwrap().expect("SQLite").busy_timeout_ms,
        50
    );
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = store
        .create_group(&groupsms::store::NewGroup::new("ops", "运维组"), utc(T0))
        .unwrap_err();
    assert_eq!(err, StoreError::Busy);
    assert!(err.is_transient() && err.is_internal());
    assert_eq!(
        err.to_string(),
        "the database stayed locked by another connection for longer than the busy timeout"
    );
    let refused = groupsms::service::ServiceError::from(err);
    assert!(!refused.is_refusal());
    assert_eq!(
        refused,
        groupsms::service::ServiceError::Store(StoreError::Busy)
    );
    other.execute_batch("COMMIT").unwrap();
    store
        .create_group(&groupsms::store::NewGroup::new("ops", "运维组"), utc(T0))
        .unwrap();
}

#[test]
fn a_version_1_database_keeps_its_deliveries_through_migration_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../src/store/migrations/0001_initial.sql"))
            .unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO broadcasts VALUES (1, NULL, 'ops', NULL, 'boss', 'b', 't', 'gsm7', 1, 2,
                 0, 0, 0, 0, '2024-05-10', '2024-05', 'finished', 0, 1);
             INSERT INTO deliveries (id, broadcast_id, number, state, part_refs, created_at,
                 updated_at) VALUES (7, 1, '+8613800000001', 'sent', '12', 0, 1),
                 (8, 1, '+8613800000002', 'delivered', '13', 0, 1);",
        )
        .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(
        store.pragmas().unwrap().expect("SQLite").user_version,
        SCHEMA_VERSION
    );
    assert!(
        store.pragmas().unwrap().expect("SQLite").foreign_keys,
        "foreign keys on again"
    );
    let shown = store
        .show_broadcast(groupsms::store::BroadcastId(1))
        .unwrap();
    let rows: Vec<_> = shown
        .deliveries
        .iter()
        .map(|d| (d.id.0, d.state.as_str(), d.part_refs.clone()))
        .collect();
    assert_eq!(rows, [(7, "sent", vec![12]), (8, "delivered", vec![13])]);
    // The new state is allowed, and the indexes came back.
    let now = chrono::Utc::now();
    store
        .mark_undelivered(groupsms::store::DeliveryId(7), "no", now)
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut st = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' \
             AND name LIKE 'deliveries_%' ORDER BY name",
        )
        .unwrap();
    let indexes: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        indexes,
        [
            "deliveries_by_broadcast",
            "deliveries_by_number",
            "deliveries_queued",
            "deliveries_sending",
            "deliveries_sending_by_host"
        ]
    );
}

#[test]
fn a_version_3_database_keeps_deliveries_and_parts_through_migration_5() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../src/store/migrations/0001_initial.sql"),
            include_str!("../src/store/migrations/0002_callers.sql"),
            include_str!("../src/store/migrations/0003_reports.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 3;
             INSERT INTO broadcasts VALUES (1, NULL, 'ops', NULL, 'boss', 'b', 't', 'gsm7', 1, 2,
                 0, 0, 0, 0, '2024-05-10', '2024-05', 'active', 0, NULL, 'root');
             INSERT INTO deliveries (id, broadcast_id, number, state, part_refs, created_at,
                 updated_at) VALUES (7, 1, '+8613800000001', 'undelivered', '12', 0, 1),
                 (8, 1, '+8613800000002', 'queued', NULL, 0, 1);
             INSERT INTO parts VALUES (7, 0, '460001', 12, 1, 70, 2);",
        )
        .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(
        store.pragmas().unwrap().expect("SQLite").user_version,
        SCHEMA_VERSION
    );
    let b = groupsms::store::BroadcastId(1);
    assert_eq!(
        store.part_statuses(groupsms::store::DeliveryId(7)).unwrap(),
        [Some(70)],
        "the parts still belong to their delivery"
    );
    // 'cancelled' is a state now; the broadcast, a group broadcast, finishes with it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE deliveries SET state = 'cancelled' WHERE id = 8", [])
        .unwrap();
    let kind: String = conn
        .query_row("SELECT kind FROM broadcasts WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kind, "group");
    assert!(conn
        .execute("UPDATE deliveries SET state = 'lost' WHERE id = 8", [])
        .is_err());
    let p = store.broadcast_progress(b).unwrap();
    assert_eq!((p.undelivered, p.cancelled, p.total()), (1, 1, 2));
    assert!(p.is_finished());
}
