//! systemd's notification protocol (sd_notify): `READY=1`, `STATUS=...`, `WATCHDOG=1`,
//! `STOPPING=1` as datagrams to `$NOTIFY_SOCKET`. Without that variable every call is a no-op.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Where notifications go, if the service manager asked for them.
#[derive(Debug)]
pub struct Notifier {
    socket: Option<(UnixDatagram, std::path::PathBuf)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` (for this process only, per `WATCHDOG_PID`).
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let path = std::path::PathBuf::from(path);
            // Abstract sockets (leading '@') are not supported by std; systemd uses paths.
            if path.as_os_str().to_string_lossy().starts_with('@') {
                tracing::warn!("NOTIFY_SOCKET is an abstract socket; notifications disabled");
                return None;
            }
            UnixDatagram::unbound().ok().map(|s| (s, path))
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
        if let Some((socket, path)) = &self.socket {
            if let Err(e) = socket.send_to(state.as_bytes(), path) {
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
            socket: Some((UnixDatagram::unbound().unwrap(), path)),
            watchdog: Some(Duration::from_secs(10)),
        };
        n.notify("READY=1\nSTATUS=4 modems ready");
        let mut buf = [0u8; 64];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=4 modems ready");
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(5)));
    }
}
