//! A stream that plays the modem's side of a transcript: it checks every byte the host
//! writes against the `>` lines and answers with the `<` lines, cut into reads as the
//! [`Chunking`] says, honouring `@` pauses (in tokio time, so paused-clock tests cost
//! nothing) and `! eof`.
//!
//! Two cursors walk the events. The read cursor delivers modem bytes in order and waits at
//! a `>` line until the host has written it. The write cursor matches host writes against
//! the `>` lines in order and may run ahead of undelivered modem bytes (they are "in the
//! pipe"). A pause is skipped once the host has written something listed after it: `@ 30`
//! then `> \x1b` reads "silent for 30 s, or until the host gives up and sends ESC".

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::transcript::{escape, Event};

/// How the modem's bytes are cut into reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunking {
    /// Each `<` line as one read.
    Whole,
    OneByte,
    /// Up to and including each LF.
    Lines,
    /// 1 to 4 lines at once, across `<` lines.
    SeveralLines {
        seed: u64,
    },
    /// 1 to 64 bytes at once, across `<` lines.
    Random {
        seed: u64,
    },
}

struct State {
    events: Vec<Event>,
    read_idx: usize,
    read_off: usize,
    write_idx: usize,
    write_off: usize,
    /// One past the last `>` event fully written.
    matched_until: usize,
    sleep: Option<Pin<Box<Sleep>>>,
    read_waker: Option<Waker>,
    error: Option<String>,
    eof: bool,
    rng: SmallRng,
    chunking: Chunking,
}

impl State {
    /// The first `>` event at or after `from`; stops at `! eof`.
    fn next_host(&self, from: usize) -> usize {
        let mut i = from;
        while i < self.events.len() {
            match self.events[i] {
                Event::Host { .. } | Event::Eof { .. } => return i,
                _ => i += 1,
            }
        }
        i
    }

    fn fail(&mut self, message: String) -> io::Error {
        if self.error.is_none() {
            self.error = Some(message.clone());
        }
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
        io::Error::new(io::ErrorKind::InvalidData, message)
    }

    /// How many bytes the next read may take, given the chunking.
    fn budget(&mut self) -> usize {
        match self.chunking {
            Chunking::Whole => usize::MAX,
            Chunking::OneByte => 1,
            Chunking::Lines => usize::MAX,
            Chunking::SeveralLines { .. } => usize::MAX,
            Chunking::Random { .. } => self.rng.gen_range(1..=64),
        }
    }

    /// Copies modem bytes into `out`, starting at the read cursor.
    fn deliver(&mut self, out: &mut ReadBuf<'_>) {
        let mut budget = self.budget().min(out.remaining());
        let mut lines_left = match self.chunking {
            Chunking::Lines => 1,
            Chunking::SeveralLines { .. } => self.rng.gen_range(1..=4),
            _ => usize::MAX,
        };
        let may_cross = matches!(
            self.chunking,
            Chunking::SeveralLines { .. } | Chunking::Random { .. }
        );
        while budget > 0 && lines_left > 0 {
            let Some(Event::Modem { bytes, .. }) = self.events.get(self.read_idx) else {
                break;
            };
            let rest = &bytes[self.read_off..];
            let mut take = rest.len().min(budget);
            if let Some(lf) = rest[..take].iter().position(|b| *b == b'\n') {
                if lines_left == 1 {
                    take = lf + 1;
                }
            }
            let newlines = rest[..take].iter().filter(|b| **b == b'\n').count();
            out.put_slice(&rest[..take]);
            budget -= take;
            lines_left = lines_left.saturating_sub(newlines);
            self.read_off += take;
            if self.read_off == bytes.len() {
                self.read_idx += 1;
                self.read_off = 0;
                if !may_cross {
                    break;
                }
            }
        }
    }
}

/// The modem end of a replayed transcript.
pub struct ReplayStream {
    shared: Arc<Mutex<State>>,
}

/// Lets a test check, after the engine is done (or gone), that the transcript was followed.
#[derive(Clone)]
pub struct ReplayHandle {
    shared: Arc<Mutex<State>>,
}

/// A replay of `events`, and the handle that tells how it went.
pub fn replay(events: Vec<Event>, chunking: Chunking) -> (ReplayStream, ReplayHandle) {
    let seed = match chunking {
        Chunking::SeveralLines { seed } | Chunking::Random { seed } => seed,
        _ => 0,
    };
    let mut state = State {
        events,
        read_idx: 0,
        read_off: 0,
        write_idx: 0,
        write_off: 0,
        matched_until: 0,
        sleep: None,
        read_waker: None,
        error: None,
        eof: false,
        rng: SmallRng::seed_from_u64(seed),
        chunking,
    };
    state.write_idx = state.next_host(0);
    let shared = Arc::new(Mutex::new(state));
    (
        ReplayStream {
            shared: shared.clone(),
        },
        ReplayHandle { shared },
    )
}

impl ReplayHandle {
    /// The first mismatch between what the host wrote and the transcript, if any.
    pub fn error(&self) -> Option<String> {
        self.shared.lock().unwrap().error.clone()
    }

    /// Ok when the host wrote everything the transcript lists and read every modem byte
    /// (trailing CR/LF excepted).
    pub fn finish(&self) -> Result<(), String> {
        let st = self.shared.lock().unwrap();
        if let Some(e) = &st.error {
            return Err(e.clone());
        }
        for (i, e) in st.events.iter().enumerate() {
            match e {
                Event::Host { bytes, line } if i >= st.matched_until => {
                    return Err(format!(
                        "line {line}: the host never wrote {:?}",
                        escape(if i == st.write_idx {
                            &bytes[st.write_off..]
                        } else {
                            bytes
                        })
                    ));
                }
                Event::Modem { bytes, line } if i >= st.read_idx => {
                    let off = if i == st.read_idx { st.read_off } else { 0 };
                    // Line ends the host had no reason to read (it stops at the CR) are fine.
                    if bytes[off..].iter().all(|b| *b == b'\r' || *b == b'\n') {
                        continue;
                    }
                    return Err(format!(
                        "line {line}: the host never read {:?}",
                        escape(&bytes[off..])
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl AsyncRead for ReplayStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut guard = self.shared.lock().unwrap();
        let st = &mut *guard;
        loop {
            if let Some(e) = &st.error {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e.clone())));
            }
            let Some(event) = st.events.get(st.read_idx) else {
                // The modem has said everything: silence.
                st.read_waker = Some(cx.waker().clone());
                return Poll::Pending;
            };
            match event {
                Event::Host { .. } => {
                    if st.read_idx < st.matched_until {
                        st.read_idx += 1;
                        continue;
                    }
                    st.read_waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Event::Pause { duration, .. } => {
                    let written_after = st.matched_until > st.read_idx
                        || (st.write_off > 0 && st.write_idx > st.read_idx);
                    if written_after {
                        st.sleep = None;
                        st.read_idx += 1;
                        continue;
                    }
                    let d = *duration;
                    let sleep = st
                        .sleep
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(d)));
                    match sleep.as_mut().poll(cx) {
                        Poll::Ready(()) => {
                            st.sleep = None;
                            st.read_idx += 1;
                            continue;
                        }
                        Poll::Pending => {
                            st.read_waker = Some(cx.waker().clone());
                            return Poll::Pending;
                        }
                    }
                }
                Event::Eof { .. } => {
                    st.eof = true;
                    return Poll::Ready(Ok(()));
                }
                Event::Modem { .. } => {
                    if buf.remaining() == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    st.deliver(buf);
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

impl AsyncWrite for ReplayStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut guard = self.shared.lock().unwrap();
        let st = &mut *guard;
        if let Some(e) = &st.error {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e.clone())));
        }
        if st.eof {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the replayed port is gone",
            )));
        }
        for (k, &b) in data.iter().enumerate() {
            let idx = st.write_idx;
            let shown = |from: &[u8]| escape(&from[..from.len().min(60)]);
            match st.events.get(idx) {
                Some(Event::Host { bytes, line }) => {
                    if bytes[st.write_off] != b {
                        let msg = format!(
                            "line {line}: the host wrote {:?}, the transcript expects {:?}",
                            shown(&data[k..]),
                            shown(&bytes[st.write_off..])
                        );
                        return Poll::Ready(Err(st.fail(msg)));
                    }
                    st.write_off += 1;
                    if st.write_off == bytes.len() {
                        st.write_off = 0;
                        st.matched_until = idx + 1;
                        st.write_idx = st.next_host(idx + 1);
                    }
                }
                Some(Event::Eof { line }) => {
                    let msg = format!(
                        "line {line}: the host wrote {:?} where the transcript ends the port",
                        shown(&data[k..])
                    );
                    return Poll::Ready(Err(st.fail(msg)));
                }
                _ => {
                    let msg = format!(
                        "the host wrote {:?} after the end of the transcript",
                        shown(&data[k..])
                    );
                    return Poll::Ready(Err(st.fail(msg)));
                }
            }
        }
        if let Some(w) = st.read_waker.take() {
            w.wake();
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::transcript::parse;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn script(text: &str) -> Vec<Event> {
        parse(text).unwrap().events
    }

    #[tokio::test(start_paused = true)]
    async fn plays_the_modem_side() {
        let (mut s, h) = replay(script("> AT\\r\n< \\r\\nOK\\r\\n\n"), Chunking::OneByte);
        s.write_all(b"AT\r").await.unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 16];
        while got.len() < 6 {
            let n = s.read(&mut b).await.unwrap();
            assert_eq!(n, 1);
            got.extend_from_slice(&b[..n]);
        }
        assert_eq!(got, b"\r\nOK\r\n");
        h.finish().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn reports_wrong_writes_with_the_line() {
        let (mut s, h) = replay(script("> AT\\r\n"), Chunking::Whole);
        assert!(s.write_all(b"ATE0\r").await.is_err());
        assert_eq!(
            h.error().unwrap(),
            "line 1: the host wrote \"E0\\\\r\", the transcript expects \"\\\\r\""
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_and_eof() {
        let (mut s, h) = replay(script("@ 5\n< A\n! eof\n"), Chunking::Whole);
        let t0 = tokio::time::Instant::now();
        let mut b = [0u8; 4];
        assert_eq!(s.read(&mut b).await.unwrap(), 1);
        assert_eq!(t0.elapsed(), Duration::from_secs(5));
        assert_eq!(s.read(&mut b).await.unwrap(), 0);
        assert!(s.write_all(b"x").await.is_err());
        h.finish().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_listed_after_a_pause_ends_it() {
        let (mut s, h) = replay(script("@ 30\n> \\x1B\n< OK\\r\\n\n"), Chunking::Whole);
        let t0 = tokio::time::Instant::now();
        s.write_all(b"\x1b").await.unwrap();
        let mut b = [0u8; 8];
        assert_eq!(s.read(&mut b).await.unwrap(), 4);
        assert!(t0.elapsed() < Duration::from_secs(1));
        h.finish().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn unfinished_scripts_are_reported() {
        let (_s, h) = replay(script("> AT\\r\n< OK\\r\\n\n"), Chunking::Whole);
        assert_eq!(
            h.finish().unwrap_err(),
            "line 1: the host never wrote \"AT\\\\r\""
        );
    }
}
