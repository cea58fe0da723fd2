//! systemd's notification protocol (sd_notify): `READY=1`, `STATUS=...`, `WATCHDOG=1`,
//! `STOPPING=1` as datagrams to `$NOTIFY_SOCKET`, a path or, with a leading `@`, a Linux
//! abstract socket name (as sd_notify(3) reads it). Without that variable every call is a
//! no-op.
//!
//! Kept by hand rather than taken from the `sd-notify` crate: that crate connects to the
//! variable as a path, so it has the same gap this file had (abstract sockets), and it would
//! replace some thirty lines.

use std::ffi::OsStr;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where notifications go, if the service manager asked for them.
#[derive(Debug)]
pub struct Notifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

/// The address `NOTIFY_SOCKET` names: a path, or with a leading `@` an abstract name.
fn target(value: &OsStr) -> std::io::Result<SocketAddr> {
    match value.as_bytes() {
        [b'@', name @ ..] => SocketAddr::from_abstract_name(name),
        _ => SocketAddr::from_pathname(value),
    }
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` (for this process only, per `WATCHDOG_PID`).
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|value| {
            let addr = target(&value)
                .map_err(|e| {
                    tracing::warn!(error = %e, socket = ?value, "NOTIFY_SOCKET is no socket address; notifications disabled");
                })
                .ok()?;
            UnixDatagram::unbound().ok().map(|s| (s, addr))
        });
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|_| for_us)
            .map(Duration::from_micros);
        Notifier { socket, watchdog }
    }

    /// Sends one notification (several `KEY=value` lines allowed).
    pub fn notify(&self, state: &str) {
        if let Some((socket, addr)) = &self.socket {
            if let Err(e) = socket.send_to_addr(state.as_bytes(), addr) {
                tracing::warn!(error = %e, "cannot notify systemd");
            }
        }
    }

    /// How often to send `WATCHDOG=1` (half the configured timeout), if a watchdog is set.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|d| d / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            socket: Some((
                UnixDatagram::unbound().unwrap(),
                target(path.as_os_str()).unwrap(),
            )),
            watchdog: Some(Duration::from_secs(10)),
        };
        n.notify("READY=1\nSTATUS=4 modems ready");
        let mut buf = [0u8; 64];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=4 modems ready");
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn an_abstract_notify_socket_is_reached_too() {
        // What a supervisor passes as NOTIFY_SOCKET=@name (sd_notify(3)).
        let name = format!("@groupsms-notify-test-{}", std::process::id());
        let addr = target(OsStr::new(&name)).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        let n = Notifier {
            socket: Some((UnixDatagram::unbound().unwrap(), addr)),
            watchdog: None,
        };
        n.notify("READY=1");
        let mut buf = [0u8; 16];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
        assert_eq!(
            target(OsStr::new("/run/systemd/notify"))
                .unwrap()
                .as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        assert!(target(OsStr::new("/longer/than/sun_path/".repeat(6).as_str())).is_err());
    }
}
