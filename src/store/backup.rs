//! Backing up a live database and restoring a backup in place of a stopped one.
//!
//! A backup is SQLite's online backup API copying every page in one step, that is inside one
//! read transaction: under WAL the daemon keeps writing meanwhile, and the copy is the
//! database as of one commit. The copy is made in a temporary file beside the target, checked
//! (`PRAGMA quick_check`), switched to a single self-contained file (`journal_mode = DELETE`)
//! and only then renamed into place, so a backup file is either whole or absent.
//!
//! A restore first checks the backup (an SQLite database, intact, a groupsms schema no newer
//! than this program's), then takes an exclusive lock on the current database, which fails at
//! once while any other process (the daemon) has it open, keeps it as `<db>.before-restore`
//! (itself copied through the backup API, so what its WAL held is kept too), and renames a
//! copy of the backup into place with the old file's owner and mode. The schema is brought up
//! to date by the daemon's next start, as after an upgrade.

use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::migrate::{self, SCHEMA_VERSION};
use super::{Store, StoreError};

/// What [`Store::backup_to`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The backup's schema version (the source's).
    pub schema_version: u32,
    /// The backup file's size.
    pub bytes: u64,
}

/// What [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The restored database's schema version, before the daemon's next start migrates it.
    pub schema_version: u32,
    /// Where the database that was replaced is kept (`None`: there was none).
    pub previous: Option<PathBuf>,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// `<path><suffix>` in the same directory.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Copies all of `from` into `to` (a fresh file) in one step, waiting out a transient lock for
/// at most `patience`; then makes `to` a self-contained, checked file and returns its schema.
fn copy_database(from: &Connection, to_path: &Path, patience: Duration) -> Result<u32, StoreError> {
    let _ = std::fs::remove_file(to_path);
    let mut to = Connection::open_with_flags(
        to_path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| io_err(to_path, e))?;
    {
        let backup = Backup::new(from, &mut to)?;
        let deadline = Instant::now() + patience;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::Busy | StepResult::Locked => {
                    if Instant::now() >= deadline {
                        return Err(StoreError::Busy);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                // More (with -1 only after a transient lock), or a result added later.
                _ => {}
            }
        }
    }
    let _mode: String = to.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    check_integrity(&to, to_path)?;
    let version = migrate::user_version(&to)?;
    to.close().map_err(|(_, e)| StoreError::from(e))?;
    Ok(version)
}

fn check_integrity(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let verdict: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotADatabase {
                path: path.to_path_buf(),
            },
            _ => StoreError::from(e),
        })?;
    if verdict != "ok" {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: verdict,
        });
    }
    Ok(())
}

/// Removes `path` when it exists.
fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(path, e)),
        _ => Ok(()),
    }
}

impl Store {
    /// Opens an existing database to copy it: never creates the file, never migrates it (a
    /// newer schema can be backed up too). Read-write when the file allows it, so that when
    /// the daemon is stopped the last connection closing removes the `-wal` and `-shm` files
    /// it made; otherwise read-only.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        if !path.is_file() {
            return Err(StoreError::Open {
                path,
                reason: "there is no such file".into(),
            });
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Open {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        conn.busy_timeout(super::DEFAULT_BUSY_TIMEOUT)?;
        // A cheap look at the header: a file that is no database is refused here; the
        // integrity check is run on the copy (reading everything once, not twice).
        migrate::user_version(&conn).map_err(|e| match e {
            StoreError::Sql(reason) if reason.contains("not a database") => {
                StoreError::NotADatabase { path: path.clone() }
            }
            e => e,
        })?;
        Ok(Store {
            backend: super::Backend::Lite(conn),
            path,
            commit_faults: Default::default(),
            hooks: Default::default(),
            outbox_wake: Default::default(),
            host: None,
        })
    }

    /// Writes a consistent copy of the whole database to `dest`, which must not exist yet
    /// (unless `replace`), while other connections, the daemon's included, go on writing.
    pub fn backup_to(&self, dest: &Path, replace: bool) -> Result<BackupReport, StoreError> {
        if !replace && dest.exists() {
            return Err(io_err(dest, "the file exists already"));
        }
        let super::Backend::Lite(conn) = &self.backend else {
            return Err(StoreError::Io {
                path: self.path().to_path_buf(),
                reason: "groupsms backs up SQLite files; back a PostgreSQL database up with \
                         pg_dump"
                    .into(),
            });
        };
        let tmp = sibling(dest, ".partial");
        let result = copy_database(conn, &tmp, super::DEFAULT_BUSY_TIMEOUT).and_then(|v| {
            if !replace && dest.exists() {
                return Err(io_err(dest, "the file exists already"));
            }
            std::fs::rename(&tmp, dest).map_err(|e| io_err(dest, e))?;
            let bytes = std::fs::metadata(dest).map_err(|e| io_err(dest, e))?.len();
            Ok(BackupReport {
                schema_version: v,
                bytes,
            })
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// Checks that `path` is a backup this program can restore and returns its schema version:
/// an intact SQLite database with a groupsms schema no newer than [`SCHEMA_VERSION`].
pub fn check_backup(path: &Path) -> Result<u32, StoreError> {
    if !path.is_file() {
        return Err(StoreError::Open {
            path: path.to_path_buf(),
            reason: "there is no such file".into(),
        });
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Open {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    check_integrity(&conn, path)?;
    let version = migrate::user_version(&conn)?;
    if version == 0 {
        return Err(StoreError::NotGroupsms {
            path: path.to_path_buf(),
        });
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

/// Replaces the database at `db` by the backup at `backup`; the database it replaces (if any)
/// is kept at `<db>.before-restore`, which must not exist yet. Refused while another process
/// has `db` open ([`StoreError::InUse`]); nothing is changed when anything is refused.
pub fn restore(backup: &Path, db: &Path) -> Result<RestoreReport, StoreError> {
    check_backup(backup)?;
    let keep = sibling(db, ".before-restore");
    let incoming = sibling(db, ".restoring");
    if keep.exists() {
        return Err(io_err(
            &keep,
            "a previous restore left this file: move it away first",
        ));
    }
    let old = if db.exists() {
        let meta = std::fs::metadata(db).map_err(|e| io_err(db, e))?;
        let conn = Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Open {
            path: db.to_path_buf(),
            reason: e.to_string(),
        })?;
        // Exclusive locking mode: the first read takes an exclusive lock on the file and keeps
        // it, and under WAL every open connection holds a shared one, so this fails at once
        // while the daemon (or anything else) has the database open.
        conn.busy_timeout(Duration::ZERO)?;
        conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE")?;
        let in_use = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::InUse {
                    path: db.to_path_buf(),
                }
            }
            Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotADatabase {
                path: db.to_path_buf(),
            },
            _ => StoreError::from(e),
        };
        conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")
            .map_err(in_use)?;
        copy_database(&conn, &keep, Duration::ZERO).inspect_err(|_| {
            let _ = std::fs::remove_file(&keep);
        })?;
        Some((conn, meta))
    } else {
        None
    };
    let placed = (|| {
        let source = Connection::open_with_flags(
            backup,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| io_err(backup, e))?;
        let version = copy_database(&source, &incoming, super::DEFAULT_BUSY_TIMEOUT)?;
        // The daemon runs as its own user: the new file gets the old one's owner and mode (or
        // the directory's owner and the mode SQLite gives a new file under the unit's UMask). Changing the owner needs root; anyone
        // else restores a file they own already.
        let (uid, gid, mode) = match &old {
            Some((_, meta)) => (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            None => {
                let dir = db.parent().filter(|p| !p.as_os_str().is_empty());
                let meta =
                    std::fs::metadata(dir.unwrap_or(Path::new("."))).map_err(|e| io_err(db, e))?;
                (meta.uid(), meta.gid(), 0o640)
            }
        };
        match std::os::unix::fs::chown(&incoming, Some(uid), Some(gid)) {
            Err(e) if e.kind() != std::io::ErrorKind::PermissionDenied => {
                return Err(io_err(&incoming, e))
            }
            _ => {}
        }
        std::fs::set_permissions(&incoming, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io_err(&incoming, e))?;
        Ok(version)
    })();
    let version = match placed {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&incoming);
            let _ = std::fs::remove_file(&keep);
            return Err(e);
        }
    };
    if let Some((conn, _)) = &old {
        // Empty the old WAL into the old file (kept open, about to be unlinked), so no frame of
        // it can ever be replayed into the restored file.
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    }
    if let Err(e) = std::fs::rename(&incoming, db) {
        let _ = std::fs::remove_file(&incoming);
        let _ = std::fs::remove_file(&keep);
        return Err(io_err(db, e));
    }
    let previous = old.map(|(conn, _)| {
        drop(conn);
        keep
    });
    remove_if_present(&sibling(db, "-wal"))?;
    remove_if_present(&sibling(db, "-shm"))?;
    Ok(RestoreReport {
        schema_version: version,
        previous,
    })
}
