//! `groupsms backup` and `groupsms restore` through the real binary: backups taken while the
//! daemon writes a broadcast are each one consistent snapshot; a restore is refused while the
//! daemon runs, refuses a backup with a newer schema or that is no database, keeps the
//! database it replaces, and the daemon starts on what it restored.
//! SQLite only: `.ci/run`'s PostgreSQL pass leaves this file out (it is about the SQLite file).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::daemon::{ops_group, World};
use groupsms::store::{Store, StoreError, SCHEMA_VERSION};

/// What a backup holds: per broadcast, (recipients announced, deliveries present, sent).
fn contents(path: &Path) -> Vec<(u32, u32, u32)> {
    // Open a copy: Store::open switches the file to WAL, and the backup itself stays as is.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    std::fs::copy(path, &copy).unwrap();
    let mut store = Store::open(&copy).expect("the backup opens");
    store
        .broadcasts(None, 100)
        .unwrap()
        .into_iter()
        .map(|b| (b.recipients, b.progress.total(), b.progress.sent))
        .collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn backups_taken_while_the_daemon_writes_are_consistent_snapshots() {
    let w = World::start(
        2,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(20)),
        "",
    );
    let numbers = ops_group(&w, 399);
    let backup = |w: &World, name: String| {
        let file = w.dir.path().join(name);
        let out = w.cli(&["backup", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", file.display(), stderr(&out));
        file
    };
    // Back up over and over while `send` writes the 400 deliveries (one transaction)...
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (id, mut files) = std::thread::scope(|s| {
        let during = s.spawn(|| {
            let mut files = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && files.len() < 200 {
                files.push(backup(&w, format!("insert-{}.db", files.len())));
            }
            files
        });
        let id = w.send("ops", "alice", "backup drill");
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        (id, during.join().unwrap())
    });
    // ... and while the modems mark them sent one by one, until a backup caught that.
    let mut saw_progress = false;
    for i in 0..100 {
        let file = backup(&w, format!("progress-{i}.db"));
        let held = contents(&file);
        files.push(file);
        if held
            .first()
            .is_some_and(|&(r, _, sent)| sent > 0 && sent < r)
        {
            saw_progress = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(saw_progress, "no backup caught the broadcast half sent");
    let mut last_sent = 0;
    for file in &files {
        let held = contents(file);
        assert!(held.len() <= 1, "{held:?}");
        if let Some(&(recipients, total, sent)) = held.first() {
            assert_eq!(recipients as usize, numbers.len());
            assert_eq!(
                total,
                recipients,
                "{}: a broadcast without all its deliveries",
                file.display()
            );
            assert!(sent >= last_sent, "snapshots go forward");
            last_sent = sent;
        }
        // A backup is one self-contained file.
        assert!(!PathBuf::from(format!("{}-wal", file.display())).exists());
    }
    // The daemon was not disturbed: the broadcast completes.
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["sent"], numbers.len(), "{totals}");
    // An existing file is not overwritten unless asked.
    let out = w.cli(&["backup", files[0].to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("exists"), "{}", stderr(&out));
    let out = w.cli(&[
        "--json",
        "backup",
        "--overwrite",
        files[0].to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(said["schema_version"], SCHEMA_VERSION);
    assert_eq!(contents(&files[0]), vec![(400, 400, 400)]);
}

#[test]
fn restore_needs_a_stopped_daemon_keeps_the_old_database_and_the_daemon_starts_on_it() {
    let mut w = World::start(1, |c| c, "");
    ops_group(&w, 3);
    let id = w.send("ops", "alice", "before the backup");
    w.follow(id, |_| false);
    let backup = w.dir.path().join("backup.db");
    w.ok(&["backup", backup.to_str().unwrap()]);
    w.ok(&["group", "create", "later", "--name", "Later"]);

    // Refused while the daemon runs: nothing changes.
    let out = w.cli(&["restore", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(stderr(&out).contains("stop it first"), "{}", stderr(&out));
    let keep = PathBuf::from(format!("{}.before-restore", w.database().display()));
    assert!(!keep.exists());

    w.stop_daemon();
    let out = w.cli(&["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("before-restore"), "{said}");
    // The replaced database is kept whole, the group made after the backup in it.
    let mut old = Store::open_existing(&keep).unwrap();
    assert!(old.group("later").unwrap().is_some());
    drop(old);

    w.start_daemon();
    let groups = w.json(&["group", "list"]);
    let handles: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["handle"].as_str().unwrap())
        .collect();
    assert_eq!(handles, ["ops"], "{groups}");
    let show = w.json(&["broadcast", "show", &id.to_string()]);
    assert_eq!(show["deliveries"].as_array().unwrap().len(), 4, "{show}");
    // A second restore would overwrite the kept database: refused.
    w.stop_daemon();
    let out = w.cli(&["restore", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("before-restore"), "{}", stderr(&out));
}

#[test]
fn restore_refuses_a_newer_schema_and_files_that_are_no_backup() {
    let w = World::prepare(1, |c| c, "", "");
    let db = w.database();
    let mut store = Store::open(&db).unwrap();
    drop(store.groups().unwrap());
    drop(store);
    let backup = w.dir.path().join("backup.db");
    w.ok(&["backup", backup.to_str().unwrap()]);
    let before = std::fs::read(&db).unwrap();

    // user_version is the big-endian u32 at offset 60 of the header.
    let mut bytes = std::fs::read(&backup).unwrap();
    bytes[60..64].copy_from_slice(&(SCHEMA_VERSION + 1).to_be_bytes());
    let newer = w.dir.path().join("newer.db");
    std::fs::write(&newer, &bytes).unwrap();
    let out = w.cli(&["restore", newer.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("newer"), "{}", stderr(&out));

    let text = w.dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "not a database at all, just some words\n".repeat(200),
    )
    .unwrap();
    let out = w.cli(&["restore", text.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not an SQLite database"),
        "{}",
        stderr(&out)
    );

    let out = w.cli(&["restore", "/nonexistent/backup.db"]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));

    // Nothing was touched.
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert!(!PathBuf::from(format!("{}.before-restore", db.display())).exists());
    // And the good backup restores.
    let out = w.cli(&["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn restore_is_refused_while_another_process_has_the_database_open() {
    // The lock check on its own, without a socket: a Store open elsewhere is enough.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("groupsms.db");
    let backup = dir.path().join("backup.db");
    let store = Store::open(&db).unwrap();
    store.backup_to(&backup, false).unwrap();
    let err = groupsms::store::backup::restore(&backup, &db).unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err:?}");
    assert!(!dir.path().join("groupsms.db.before-restore").exists());
    drop(store);
    let report = groupsms::store::backup::restore(&backup, &db).unwrap();
    assert_eq!(report.schema_version, SCHEMA_VERSION);
    assert_eq!(
        report.previous.as_deref(),
        Some(dir.path().join("groupsms.db.before-restore").as_path())
    );
    Store::open(&db).unwrap();
}

#[test]
fn backup_refuses_a_missing_or_foreign_database_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("groupsms.toml");
    let run = |db: &Path| {
        std::fs::write(
            &config,
            format!("[daemon]\ndatabase = \"{}\"\n", db.display()),
        )
        .unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_groupsms"))
            .arg("--config")
            .arg(&config)
            .arg("backup")
            .arg(dir.path().join("out.db"))
            .output()
            .unwrap()
    };
    let out = run(&dir.path().join("missing.db"));
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("no such file"), "{}", stderr(&out));
    assert!(
        !dir.path().join("missing.db").exists(),
        "backup created the database"
    );
    let text = dir.path().join("words.txt");
    std::fs::write(&text, "these are words, not pages\n".repeat(100)).unwrap();
    let out = run(&text);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not an SQLite database"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("out.db").exists());
    assert!(!dir.path().join("out.db.partial").exists());
}
