//! The timer of a modem's busy time (the send latency between Ctrl-Z and the answer).
//! Tokio's timers tick in whole milliseconds and wake late by up to about one more (a 20 ms
//! sleep lasted 21.4 ms on the bench machine), which would bias every short-latency figure
//! against whoever drives the modem. A `timerfd` on CLOCK_MONOTONIC keeps the busy time what
//! the knob says; if one cannot be made, the tokio timer is used instead.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

#[derive(Default)]
pub(crate) struct BusyTimer {
    fd: Option<AsyncFd<OwnedFd>>,
    until: Option<Instant>,
}

fn timerfd() -> std::io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: plain syscall; the descriptor is owned right away.
    let raw = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns; the AsyncFd owns it for its life.
    unsafe { AsyncFd::register(OwnedFd::from_raw_fd(raw)) }
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Arms (relative `d`) or, with zero, disarms the timer; resets its expiration count.
fn set(fd: &AsyncFd<OwnedFd>, d: Duration) -> std::io::Result<()> {
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        },
    };
    // SAFETY: the descriptor is a timerfd we own; `spec` outlives the call.
    let r = unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl BusyTimer {
    /// Busy from now for `d`. Must run inside the tokio runtime.
    pub fn start(&mut self, d: Duration) {
        self.until = Some(Instant::now() + d);
        if d.is_zero() {
            return; // done at once; a zero would disarm the timerfd
        }
        if self.fd.is_none() {
            self.fd = timerfd()
                .map_err(|e| tracing::warn!("no timerfd ({e}); using the tokio timer"))
                .ok();
        }
        if let Some(fd) = &self.fd {
            if let Err(e) = set(fd, d) {
                tracing::warn!("timerfd_settime failed ({e}); using the tokio timer");
                self.fd = None;
            }
        }
    }

    /// No longer busy (reset, unplug).
    pub fn clear(&mut self) {
        self.until = None;
        if let Some(fd) = &self.fd {
            let _ = set(fd, Duration::ZERO);
        }
    }

    #[cfg(test)]
    fn is_busy(&self) -> bool {
        self.until.is_some()
    }

    /// Completes when the busy time is over; never while not busy. Cancel-safe.
    pub async fn done(&self) {
        let Some(until) = self.until else {
            return std::future::pending().await;
        };
        let Some(fd) = self.fd.as_ref().filter(|_| until > Instant::now()) else {
            return tokio::time::sleep_until(until).await;
        };
        loop {
            let Ok(mut guard) = fd.readable().await else {
                return tokio::time::sleep_until(until).await;
            };
            let mut count = [0u8; 8];
            // SAFETY: reads 8 bytes into our buffer from our timerfd.
            let n = unsafe { libc::read(fd.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
            if n == 8 {
                return;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::WouldBlock {
                guard.clear_ready();
            } else {
                return tokio::time::sleep_until(until).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_at_least_the_busy_time_and_never_when_idle() {
        let mut t = BusyTimer::default();
        assert!(!t.is_busy());
        let idle = tokio::time::timeout(Duration::from_millis(30), t.done()).await;
        assert!(idle.is_err(), "not busy: never done");

        let start = std::time::Instant::now();
        t.start(Duration::from_millis(15));
        t.done().await;
        assert!(start.elapsed() >= Duration::from_millis(15));

        // Re-armed while a wait was abandoned (cancel-safety): the new time counts.
        t.start(Duration::from_millis(40));
        let early = tokio::time::timeout(Duration::from_millis(5), t.done()).await;
        assert!(early.is_err());
        let start = std::time::Instant::now();
        t.start(Duration::from_millis(10));
        t.done().await;
        assert!(start.elapsed() >= Duration::from_millis(10));

        t.start(Duration::from_millis(10));
        t.clear();
        assert!(!t.is_busy());
        let cleared = tokio::time::timeout(Duration::from_millis(30), t.done()).await;
        assert!(cleared.is_err(), "cleared: never done");

        t.start(Duration::ZERO);
        t.done().await;
    }
}
