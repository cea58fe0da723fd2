//! Helpers shared by the store and service tests: a real database file in a temp dir and a
//! small populated group.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use groupsms::store::{NewGroup, NewMember, Role, Store};
use tempfile::TempDir;

pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("a test time")
}

/// A fresh database file; keep the TempDir alive as long as the store.
pub fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("groupsms.db")).expect("open store");
    (dir, store)
}

pub const T0: &str = "2024-05-10T02:00:00Z";

/// Group `ops` (运维组) with super-admin `boss` and members `m1`..=`m{n}` (all reachable).
pub fn ops_group(store: &mut Store, n: u32) {
    let now = utc(T0);
    store
        .create_group(&NewGroup::new("ops", "运维组"), now)
        .unwrap();
    store
        .create_member(&NewMember::new("boss", "老板", "+8613900000000"), now)
        .unwrap();
    store.join("ops", "boss", Role::SuperAdmin, now).unwrap();
    for i in 1..=n {
        let handle = format!("m{i}");
        store
            .create_member(
                &NewMember::new(&handle, format!("成员{i}"), format!("+86138{i:08}")),
                now,
            )
            .unwrap();
        store.join("ops", &handle, Role::Member, now).unwrap();
    }
}
