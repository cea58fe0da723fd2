//! The daemon's files and directories on disk: the process umask, the directories it
//! creates, the database's mode, and directories other local users could write into.
//!
//! Modes: the daemon creates the directories it needs 0750 and the database file 0640
//! ([`create_database_file`]) before SQLite opens it; SQLite gives the WAL and SHM files, which
//! appear later, the database file's mode exactly. The daemon process also adds 027 to its
//! umask at start ([`tighten_umask`]), for anything else it creates (the lock file). A
//! database readable by others (made by hand, or by an older version) is reported at start,
//! not changed.
//!
//! World-writable directories: a modem glob there lets any local user add a "modem" (a PTY of
//! their own) that joins the pool and reads every message it is given; a socket there can be
//! squatted while the daemon is down (clients then talk to an impostor). Both are refused at
//! start unless `[daemon] allow_world_writable = true` (then a warning). What is checked: the
//! directory the files are created in (for a path that does not exist yet, its nearest
//! existing ancestor, since whoever can write there can create the rest), world-writable with
//! or without the sticky bit (sticky only stops others from removing *our* entries, not from
//! adding theirs); and each ancestor above it, world-writable *without* the sticky bit (such an
//! ancestor lets anyone rename our directory away and put another in its place; a sticky one
//! such as `/tmp` does not, so a private directory under `/tmp`, like a test's temporary
//! directory, is fine).

use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

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

/// The directory in which a device path or glob's files appear: the components before the
/// first one with a wildcard, the last component excluded (`/dev/gsm/*` gives `/dev/gsm`,
/// `/dev/ttyUSB0` gives `/dev`, `/tmp/*/at` gives `/tmp`).
pub fn glob_dir(pattern: &str) -> PathBuf {
    crate::modem::discovery::pattern_dir(pattern).unwrap_or_else(|| PathBuf::from("."))
}

/// The directory others could write into to put their own entries where `dir`'s go, if any
/// (see the module's documentation for what is checked).
pub fn writable_by_others(dir: &Path) -> io::Result<Option<PathBuf>> {
    let mut existing = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let meta = loop {
        match std::fs::metadata(existing) {
            Ok(m) => break m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => match existing.parent() {
                Some(p) if !p.as_os_str().is_empty() => existing = p,
                _ => existing = Path::new("."),
            },
            Err(e) => return Err(e),
        }
    };
    let real = std::fs::canonicalize(existing)?;
    if meta.permissions().mode() & 0o002 != 0 {
        return Ok(Some(real));
    }
    for ancestor in real.ancestors().skip(1) {
        let mode = std::fs::metadata(ancestor)?.permissions().mode();
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            return Ok(Some(ancestor.to_path_buf()));
        }
    }
    Ok(None)
}

/// What may be created in a world-writable directory, for the messages.
#[derive(Debug, Clone, Copy)]
pub enum Exposed {
    Socket,
    Modems,
}

/// Refuses (or, when `allowed`, warns about) `dir` when others could write there.
pub fn check_not_world_writable(
    what: Exposed,
    configured: &str,
    dir: &Path,
    allowed: bool,
) -> Result<(), String> {
    let open = writable_by_others(dir)
        .map_err(|e| format!("cannot check the directory of {configured}: {e}"))?;
    let Some(open) = open else {
        return Ok(());
    };
    let risk = match what {
        Exposed::Socket => {
            "another local user could put a socket of their own there and read what clients send"
        }
        Exposed::Modems => {
            "any local user could add a device there that joins the pool as a modem and reads \
             every message it is given"
        }
    };
    let message = format!(
        "{configured} is in {}, a world-writable directory: {risk}",
        open.display()
    );
    if allowed {
        tracing::warn!("{message} (allowed by allow_world_writable = true)");
        Ok(())
    } else {
        Err(format!(
            "{message}; use a directory only the daemon's users can write (e.g. /dev/gsm for \
             modems, /run/groupsms for the socket), or set [daemon] allow_world_writable = true"
        ))
    }
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

    #[test]
    fn the_directory_of_a_glob() {
        assert_eq!(glob_dir("/dev/gsm/*"), PathBuf::from("/dev/gsm"));
        assert_eq!(glob_dir("/dev/ttyUSB0"), PathBuf::from("/dev"));
        assert_eq!(glob_dir("/tmp/*/at"), PathBuf::from("/tmp"));
        assert_eq!(glob_dir("/tmp/m[0-9]/at"), PathBuf::from("/tmp"));
        assert_eq!(glob_dir("modem*"), PathBuf::from("."));
        assert_eq!(glob_dir("dev/modem?"), PathBuf::from("dev"));
    }

    #[test]
    fn world_writable_directories_and_ancestors() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert_eq!(writable_by_others(&private).unwrap(), None);
        assert_eq!(writable_by_others(&private.join("not/yet")).unwrap(), None);

        let sticky = dir.path().join("sticky");
        std::fs::create_dir(&sticky).unwrap();
        std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let real = std::fs::canonicalize(&sticky).unwrap();
        assert_eq!(writable_by_others(&sticky).unwrap(), Some(real.clone()));
        assert_eq!(
            writable_by_others(&sticky.join("later")).unwrap(),
            Some(real)
        );
        // A private directory under a sticky one (a temp dir under /tmp) is fine.
        let mine = sticky.join("mine");
        std::fs::create_dir(&mine).unwrap();
        std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(writable_by_others(&mine).unwrap(), None);

        // Under a world-writable directory without the sticky bit it is not.
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let inner = open.join("inner");
        std::fs::create_dir(&inner).unwrap();
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            writable_by_others(&inner).unwrap(),
            Some(std::fs::canonicalize(&open).unwrap())
        );
        assert!(check_not_world_writable(Exposed::Modems, "x", &inner, true).is_ok());
        let e = check_not_world_writable(Exposed::Modems, "x", &inner, false).unwrap_err();
        assert!(e.contains("allow_world_writable"), "{e}");
    }
}
