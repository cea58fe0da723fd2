//! The daemon's files and directories on disk: the process umask, the directories it
//! creates, the database's mode, and directories other local users could write into.
//!
//! Modes: the daemon creates the directories it needs 0750 and the database file 0640
//! ([`create_database_file`]) before SQLite opens it; SQLite gives the WAL and SHM files, which
//! appear later, the database file's mode exactly. The daemon process also adds 027 to its
//! umask at start ([`tighten_umask`]), for anything else it creates (the lock file). A
//! database readable by others (made by hand, or by an older version) is reported at start,
//! not changed.

use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The bits the daemon always masks: no write for the group, nothing for others.
pub const UMASK_BITS: libc::mode_t = 0o027;

/// Adds [`UMASK_BITS`] to the process umask (a stricter one, such as 077, stays); returns the
/// umask in force before.
pub fn tighten_umask() -> libc::mode_t {
    // SAFETY: umask only changes the process's file-creation mask; the first call reads it.
    unsafe {
        let old = libc::umask(0o077);
        libc::umask(old | UMASK_BITS);
        old
    }
}

/// Creates `dir` and its missing parents with mode 0750 (filtered by the umask); existing
/// directories are left as they are.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
}

/// Creates the database file with mode 0640 (filtered by the umask) if it is missing. SQLite
/// would create it 0644 filtered by the umask, and it gives the WAL and SHM files it creates
/// later the database file's mode exactly (it `fchmod`s them, whatever the umask): the
/// database's own mode is the one that counts.
pub fn create_database_file(database: &Path) -> io::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(database)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A warning when `database` exists and others may read it.
pub fn readable_by_others(database: &Path) -> Option<String> {
    let mode = std::fs::metadata(database).ok()?.permissions().mode() & 0o777;
    (mode & 0o004 != 0).then(|| {
        format!(
            "the database {} is readable by others (mode {mode:04o}): every member's phone number \
             and every message are in it; chmod 640 it (and its -wal and -shm files)",
            database.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_file_is_created_private_and_an_open_one_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        create_database_file(&db).unwrap();
        assert_eq!(
            std::fs::metadata(&db).unwrap().permissions().mode() & 0o027,
            0
        );
        assert_eq!(readable_by_others(&db), None);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_database_file(&db).unwrap();
        let warning = readable_by_others(&db).unwrap();
        assert!(warning.contains("mode 0644"), "{warning}");
    }
}
