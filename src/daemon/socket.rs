//! The daemon's listening socket: inherited from systemd (`LISTEN_FDS`), or bound at the
//! configured path with mode 0660. A stale socket file left by a crash (a socket nobody
//! listens on) is replaced; a live daemon on the path makes the start fail; anything that is
//! not a socket (a regular file, a directory, a symbolic link) is never removed: the start
//! fails naming it. At exit the daemon removes the socket file only if it is still the one it
//! bound (same device and inode, recorded at bind): after someone deleted it, another daemon's
//! socket may sit at that path now. An inherited socket belongs to systemd and is never removed.

use std::os::fd::FromRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

/// Why the socket could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("another groupsms daemon is already listening on {0}")]
    InUse(String),
    #[error("{0} exists and is not a socket: not removing it (check [daemon] socket)")]
    NotASocket(String),
    #[error("cannot create the socket {path}: {source}")]
    Bind {
        path: String,
        source: std::io::Error,
    },
    #[error("the socket passed by systemd is unusable: {0}")]
    Inherited(std::io::Error),
}

/// The socket systemd passed (socket activation), if any: fd 3 when `LISTEN_PID` is us.
pub fn inherited() -> Result<Option<UnixListener>, SocketError> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    if !ours || count == 0 {
        return Ok(None);
    }
    // SAFETY: systemd passes listening sockets starting at fd 3 (SD_LISTEN_FDS_START) and we
    // take ownership of the first one exactly once.
    let std_listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(3) };
    std_listener
        .set_nonblocking(true)
        .map_err(SocketError::Inherited)?;
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_PID");
    UnixListener::from_std(std_listener)
        .map(Some)
        .map_err(SocketError::Inherited)
}

/// The socket file this daemon bound: its path and identity.
#[derive(Debug)]
pub struct Bound {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Bound {
    /// Removes the socket file if it is still the one bound (never a file someone put there
    /// since). True when it was removed.
    pub fn remove_if_ours(&self) -> bool {
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => {
                std::fs::remove_file(&self.path).is_ok()
            }
            Ok(_) => {
                tracing::warn!(
                    path = %self.path.display(),
                    "the socket file is no longer the one this daemon bound: left in place"
                );
                false
            }
            Err(_) => false,
        }
    }
}

/// Binds `path` (creating its directory), replacing a stale socket file (never anything else).
pub fn bind(path: &Path) -> Result<(UnixListener, Bound), SocketError> {
    let shown = path.display().to_string();
    if let Some(dir) = path.parent() {
        super::files::create_private_dir(dir).map_err(|source| SocketError::Bind {
            path: shown.clone(),
            source,
        })?;
    }
    let bind_err = |source| SocketError::Bind {
        path: shown.clone(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(bind_err(e)),
        Ok(meta) if !meta.file_type().is_socket() => return Err(SocketError::NotASocket(shown)),
        Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(SocketError::InUse(shown)),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                tracing::info!(path = %shown, "replacing a stale socket file");
                std::fs::remove_file(path).map_err(bind_err)?;
            }
            // Not refused: perhaps someone's live socket we may not use; leave it alone.
            Err(e) => return Err(bind_err(e)),
        },
    }
    let listener = UnixListener::bind(path).map_err(bind_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(bind_err)?;
    let meta = std::fs::symlink_metadata(path).map_err(bind_err)?;
    let bound = Bound {
        path: path.to_path_buf(),
        dev: meta.dev(),
        ino: meta.ino(),
    };
    Ok((listener, bound))
}
