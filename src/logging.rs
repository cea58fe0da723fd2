//! Log lines that a loop could repeat once per item (a delivery, a status report) when the
//! same thing keeps failing, such as every commit on a full disk: [`Repeats`] lets the first
//! one through, then keeps quiet about the same kind for a window (a minute), then lets one
//! through again saying how many it held back. Pure bookkeeping: the caller passes the time
//! and writes the line.
//!
//! ```
//! # use groupsms::logging::Repeats;
//! # use std::time::Instant;
//! let repeats = Repeats::default();
//! let error = "the disk holding the database is full";
//! if let Some(repeated) = repeats.note(&format!("deliver: {error}"), Instant::now()) {
//!     eprintln!("cannot record the outcome: {error}{repeated}");
//! }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a kind of line stays quiet after it was written.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Kinds remembered before the quiet ones whose window is over are forgotten.
const KEEP: usize = 64;

/// Per kind of line: when one was last written and how many were held back since.
#[derive(Debug)]
pub struct Repeats {
    window: Duration,
    kinds: Mutex<HashMap<String, Kind>>,
}

#[derive(Debug, Clone, Copy)]
struct Kind {
    written: Instant,
    held_back: u64,
}

/// What to add to a line that is written: how many like it were held back, over how long.
/// Displays as nothing when none were, else as ` (repeated 57 times in the last 60 s)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeated {
    pub times: u64,
    pub over: Duration,
}

impl fmt::Display for Repeated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.times > 0 {
            write!(
                f,
                " (repeated {} times in the last {} s)",
                self.times,
                self.over.as_secs()
            )?;
        }
        Ok(())
    }
}

impl Default for Repeats {
    fn default() -> Self {
        Repeats::new(WINDOW)
    }
}

impl Repeats {
    pub fn new(window: Duration) -> Repeats {
        Repeats {
            window,
            kinds: Mutex::new(HashMap::new()),
        }
    }

    /// One more line of `kind` at `now`: `Some` when it is to be written (with what it
    /// summarises), `None` when it is held back.
    pub fn note(&self, kind: &str, now: Instant) -> Option<Repeated> {
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = kinds.get_mut(kind) {
            let since = now.saturating_duration_since(k.written);
            if since < self.window {
                k.held_back += 1;
                return None;
            }
            let said = Repeated {
                times: k.held_back,
                over: since,
            };
            *k = Kind {
                written: now,
                held_back: 0,
            };
            return Some(said);
        }
        if kinds.len() >= KEEP {
            let window = self.window;
            kinds.retain(|_, k| {
                k.held_back > 0 || now.saturating_duration_since(k.written) < window
            });
        }
        kinds.insert(
            kind.to_string(),
            Kind {
                written: now,
                held_back: 0,
            },
        );
        Some(Repeated {
            times: 0,
            over: Duration::ZERO,
        })
    }

    /// Every line held back so far, each with its kind, whatever the window (for a summary
    /// when the trouble is over); they are forgotten here.
    pub fn drain(&self, now: Instant) -> Vec<(String, Repeated)> {
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = kinds
            .drain()
            .filter(|(_, k)| k.held_back > 0)
            .map(|(kind, k)| {
                (
                    kind,
                    Repeated {
                        times: k.held_back,
                        over: now.saturating_duration_since(k.written),
                    },
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn the_first_line_is_written_then_repeats_are_held_back_for_a_window() {
        let r = Repeats::default();
        let t0 = Instant::now();
        let first = r.note("full", t0).expect("the first is written");
        assert_eq!(first.times, 0);
        assert_eq!(first.to_string(), "");
        // 300 a second for a minute: none written.
        for i in 1..18_000u64 {
            let at = t0 + Duration::from_micros(i * 3_333);
            assert_eq!(r.note("full", at), None, "line {i}");
        }
        // The window is over: one line, carrying the count.
        let later = r.note("full", t0 + 60 * S).expect("written again");
        assert_eq!(later.times, 17_999);
        assert_eq!(
            later.to_string(),
            " (repeated 17999 times in the last 60 s)"
        );
        // And quiet again for the next window.
        assert_eq!(r.note("full", t0 + 61 * S), None);
        assert_eq!(r.note("full", t0 + 120 * S).unwrap().times, 1);
    }

    #[test]
    fn kinds_are_counted_apart() {
        let r = Repeats::default();
        let t0 = Instant::now();
        assert!(r.note("full", t0).is_some());
        assert!(r.note("io", t0).is_some(), "another kind is not held back");
        assert!(r.note("full", t0 + S).is_none());
        assert!(r.note("io", t0 + S).is_none());
        assert!(r.note("io", t0 + 2 * S).is_none());
        assert_eq!(r.note("full", t0 + 61 * S).unwrap().times, 1);
        assert_eq!(r.note("io", t0 + 61 * S).unwrap().times, 2);
    }

    #[test]
    fn a_line_after_a_quiet_window_is_written_plainly() {
        let r = Repeats::default();
        let t0 = Instant::now();
        assert!(r.note("full", t0).is_some());
        let again = r.note("full", t0 + 300 * S).unwrap();
        assert_eq!(again.times, 0, "nothing was held back");
        assert_eq!(again.to_string(), "");
    }

    #[test]
    fn held_back_lines_are_summarised_once_the_trouble_stops() {
        let r = Repeats::default();
        let t0 = Instant::now();
        r.note("full", t0);
        r.note("full", t0 + S);
        r.note("full", t0 + 2 * S);
        r.note("quiet", t0);
        let drained = r.drain(t0 + 30 * S);
        assert_eq!(
            drained,
            vec![(
                "full".to_string(),
                Repeated {
                    times: 2,
                    over: 30 * S
                }
            )],
            "a kind with nothing held back is forgotten silently"
        );
        assert!(r.drain(t0 + 31 * S).is_empty(), "summarised once");
        // Forgotten: the next one is written as a first.
        assert_eq!(r.note("full", t0 + 201 * S).unwrap().times, 0);

        r.note("full", t0 + 202 * S);
        let drained = r.drain(t0 + 210 * S);
        assert_eq!(drained.len(), 1);
        assert_eq!(drained[0].1.times, 1);
        assert!(r.drain(t0 + 211 * S).is_empty());
    }

    #[test]
    fn many_kinds_do_not_grow_without_bound() {
        let r = Repeats::default();
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            r.note(&format!("kind {i}"), t0 + S * 61 * i);
        }
        assert!(r.kinds.lock().unwrap().len() <= KEEP);
    }
}
