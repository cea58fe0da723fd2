//! One pseudo-terminal with a stable symlink, read and written asynchronously from the master.
//!
//! The emulator keeps no slave descriptor open: while no client has the port open, reading the
//! master fails with `EIO`. That is how the emulator knows nobody listens: it drops what it
//! would write then (a real stick's output is lost while the port is closed, and a stale `RDY`
//! must not greet the next client), discards what the last client left unread, and looks for
//! the next client every 50 ms.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::termios::{self, BaudRate, SetArg};
use tokio::io::unix::AsyncFd;

/// How often to look for a new client while none has the port open.
const HANGUP_POLL: Duration = Duration::from_millis(50);
/// How long a write may wait for a client that does not read before it is dropped.
const WRITE_PATIENCE: Duration = Duration::from_secs(2);

pub(crate) struct Pty {
    /// `Some` while a client has the port open (registered with the reactor); `None` while
    /// nobody does. Tokio keeps a hang-up as a final "read closed" state, so the descriptor
    /// is registered afresh for every client instead of once.
    active: Option<AsyncFd<OwnedFd>>,
    idle: Option<OwnedFd>,
    slave: PathBuf,
}

impl Pty {
    /// Opens a new PTY pair with the slave in raw mode at 115200 baud.
    pub(crate) fn open() -> io::Result<Pty> {
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let slave = PathBuf::from(ptsname_r(&master)?);
        // SAFETY: into_raw_fd hands over the only owner of a valid open descriptor.
        let master = unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) };
        {
            let s: OwnedFd = nix::fcntl::open(
                &slave,
                OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            // SAFETY: open returned a new descriptor that nothing else owns.
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })?;
            let mut t = termios::tcgetattr(&s)?;
            termios::cfmakeraw(&mut t);
            termios::cfsetspeed(&mut t, BaudRate::B115200)?;
            termios::tcsetattr(&s, SetArg::TCSANOW, &t)?;
        }
        let flags = OFlag::from_bits_truncate(fcntl(master.as_raw_fd(), FcntlArg::F_GETFL)?);
        fcntl(
            master.as_raw_fd(),
            FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK),
        )?;
        fcntl(master.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        Ok(Pty {
            active: None,
            idle: Some(master),
            slave,
        })
    }

    /// The slave device (`/dev/pts/N`).
    pub(crate) fn slave(&self) -> &Path {
        &self.slave
    }

    fn raw(&self) -> i32 {
        match (&self.active, &self.idle) {
            (Some(a), _) => a.get_ref().as_raw_fd(),
            (None, Some(fd)) => fd.as_raw_fd(),
            (None, None) => -1,
        }
    }

    /// The speed the client set on its end of the port (a PTY pair shares one termios). Read
    /// with `TCGETS2`, whose speed fields the kernel keeps in bits per second whether the
    /// client used a standard rate or `BOTHER` (as tokio-serial does).
    pub(crate) fn client_speed(&self) -> Option<u32> {
        // SAFETY: termios2 is plain old data; all zeroes is a valid value.
        let mut t: libc::termios2 = unsafe { std::mem::zeroed() };
        // SAFETY: TCGETS2 writes one termios2 into `t`, which outlives the call.
        let r = unsafe { libc::ioctl(self.raw(), libc::TCGETS2, &mut t) };
        (r == 0).then_some(t.c_ospeed)
    }

    /// True when a client has the slave open (the master reports no hang-up).
    pub(crate) fn client_attached(&self) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.raw(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n >= 0 && pfd.revents & (libc::POLLHUP | libc::POLLNVAL) == 0
    }

    /// Reads what the client wrote; waits while no client is there (looking every 50 ms).
    /// Cancel-safe: bytes are only taken from the kernel inside the returning step.
    pub(crate) async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(afd) = &self.active else {
                if self.client_attached() {
                    let fd = self.idle.take().expect("idle descriptor");
                    // SAFETY: `fd` is an open descriptor owned by the AsyncFd for its life.
                    let afd = unsafe { AsyncFd::register(fd) }
                        .map_err(|e| io::Error::other(e.to_string()))?;
                    self.active = Some(afd);
                } else {
                    tokio::time::sleep(HANGUP_POLL).await;
                }
                continue;
            };
            // The hang-up does not always wake a reader: look at the port now and then.
            if let Ok(guard) = tokio::time::timeout(HANGUP_POLL, afd.readable()).await {
                let mut guard = guard?;
                let res = guard.try_io(|fd| {
                    nix::unistd::read(fd.get_ref().as_raw_fd(), buf).map_err(io::Error::from)
                });
                match res {
                    Ok(Ok(n)) if n > 0 => return Ok(n),
                    // The client closed the port: EIO (Linux), or end of file elsewhere.
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(_would_block) => continue,
                }
            } else if self.client_attached() {
                continue;
            }
            let fd = self.active.take().expect("active descriptor").into_inner();
            // Drop what the departed client left unread: it sits in the slave's input queue,
            // which only a flush on the slave side empties.
            if let Ok(s) = nix::fcntl::open(
                &self.slave,
                OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            ) {
                // SAFETY: open returned a new descriptor that nothing else owns.
                let s = unsafe { OwnedFd::from_raw_fd(s) };
                let _ = termios::tcflush(s.as_fd(), termios::FlushArg::TCIFLUSH);
            }
            self.idle = Some(fd);
        }
    }

    /// Writes everything, or drops it when no client listens or the client stops reading.
    pub(crate) async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        if !self.client_attached() {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + WRITE_PATIENCE;
        while !data.is_empty() {
            let Some(afd) = &self.active else {
                // Attached but not yet noticed by `read`: write directly, without waiting.
                let fd = self.idle.as_ref().expect("idle descriptor");
                return match nix::unistd::write(fd, data) {
                    Ok(_) | Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EIO) => Ok(()),
                    Err(e) => Err(e.into()),
                };
            };
            let Ok(guard) = tokio::time::timeout_at(deadline, afd.writable()).await else {
                return Ok(());
            };
            let mut guard = guard?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), data).map_err(io::Error::from))
            {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(()),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }
}

/// Points `link` at `target`, replacing whatever was there, atomically (rename over it).
pub(crate) fn link(target: &Path, link: &Path) -> io::Result<()> {
    let tmp = link.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}

/// Removes `link` if it is a symlink (never a regular file someone put there).
pub(crate) fn unlink(link: &Path) {
    if std::fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink()) {
        let _ = std::fs::remove_file(link);
    }
}
