//! Helpers shared by the integration tests: where the shared corpus and the oracles are;
//! a real database file in a temp dir and a small populated group.
#![allow(dead_code)]

use std::path::PathBuf;

/// True when CI asks that absent oracles (corpus, Gammu) fail the run instead of skipping.
pub fn oracles_required() -> bool {
    std::env::var_os("GROUPSMS_REQUIRE_ORACLES").is_some_and(|v| v != "0" && !v.is_empty())
}

/// Says clearly that an oracle is absent; fails when CI requires oracles.
pub fn absent(what: &str) {
    if oracles_required() {
        panic!("{what} is absent, and GROUPSMS_REQUIRE_ORACLES is set");
    }
    eprintln!("SKIPPED: {what} is absent (set GROUPSMS_REQUIRE_ORACLES=1 to make this an error)");
}

/// The shared conformance corpus: `$GROUPSMS_CORPUS`, else `../shared/corpus` beside the checkout.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("GROUPSMS_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    };
    if dir.join("pdus.jsonl").is_file() {
        Some(dir)
    } else {
        absent(&format!(
            "the conformance corpus at {} (GROUPSMS_CORPUS)",
            dir.display()
        ));
        None
    }
}

/// Reads a JSON-lines file of the corpus.
pub fn jsonl(path: PathBuf) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// The Python interpreter that has Debian's `gammu` module, if any.
pub fn gammu_python() -> Option<String> {
    let python = std::env::var("GAMMU_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import gammu"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some(python)
    } else {
        absent(&format!(
            "python-gammu (via {python}; install Debian package python3-gammu)"
        ));
        None
    }
}

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
