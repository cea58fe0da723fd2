//! One daemon per database: the daemon holds an exclusive `flock` on `<database>.lock` (a file
//! of its own beside the database, so SQLite's `fcntl` locks on the database file are left
//! alone) for as long as it runs, and writes its pid into it. The CLI asks the same file
//! whether a daemon holds the database when it finds no socket to talk to.
//!
//! The lock goes with the process: a `kill -9` or a power cut releases it, so there is never a
//! stale lock to clean up. The file itself is left in place at exit (removing it would let a
//! daemon starting at that moment lock a file that is no longer the one the next one opens).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `<database>.lock`: the database's file name with `.lock` appended.
pub fn path_for(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
    path: PathBuf,
}

impl DatabaseLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Why the lock could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another groupsms daemon{} holds the database {database} (lock file {lock})",
        pid_text(*.pid)
    )]
    Held {
        database: String,
        lock: String,
        pid: Option<u32>,
    },
    #[error("cannot lock the database {database} with {lock}: {source}")]
    Io {
        database: String,
        lock: String,
        source: std::io::Error,
    },
}

fn pid_text(pid: Option<u32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

/// Who holds a database, as far as the lock file tells.
#[derive(Debug)]
pub enum Holder {
    /// No lock file, or nobody holds it.
    Nobody,
    /// A daemon holds it; its pid when it wrote one.
    Daemon(Option<u32>),
    /// The lock file could not be asked (permissions, ...).
    Unknown(std::io::Error),
}

/// Takes the database's lock for this process's life, or says who holds it. A holder that
/// only looks (the CLI's [`holder`], a few microseconds) is waited out for up to half a second.
pub fn lock(database: &Path) -> Result<DatabaseLock, LockError> {
    let path = path_for(database);
    let io = |source| LockError::Io {
        database: database.display().to_string(),
        lock: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(io)?;
    let mut tries = 0;
    loop {
        match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && tries < 10 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(LockError::Held {
                    database: database.display().to_string(),
                    lock: path.display().to_string(),
                    pid: read_pid(&mut file),
                });
            }
            Err(e) => return Err(io(e)),
        }
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    file.write_all(format!("{}\n", std::process::id()).as_bytes())
        .map_err(io)?;
    Ok(DatabaseLock { _file: file, path })
}

/// Whether a daemon holds `database` (asked without disturbing it: a shared lock tried and
/// released at once).
pub fn holder(database: &Path) -> Holder {
    let path = path_for(database);
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Holder::Nobody,
        Err(e) => return Holder::Unknown(e),
    };
    match flock(&file, libc::LOCK_SH | libc::LOCK_NB) {
        Ok(()) => {
            let _ = flock(&file, libc::LOCK_UN);
            Holder::Nobody
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Holder::Daemon(read_pid(&mut file)),
        Err(e) => Holder::Unknown(e),
    }
}

fn flock(file: &File, how: libc::c_int) -> std::io::Result<()> {
    // SAFETY: flock only acts on the descriptor, which `file` keeps open for the call.
    if unsafe { libc::flock(file.as_raw_fd(), how) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_pid_and_the_holder_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        assert!(matches!(holder(&db), Holder::Nobody));
        let held = lock(&db).unwrap();
        assert_eq!(held.path(), dir.path().join("x.db.lock"));
        let me = Some(std::process::id());
        match lock(&db) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, me),
            other => panic!("{other:?}"),
        }
        assert!(matches!(holder(&db), Holder::Daemon(p) if p == me));
        drop(held);
        assert!(matches!(holder(&db), Holder::Nobody));
        lock(&db).unwrap();
    }
}
