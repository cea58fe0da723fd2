//! Connections on the Unix socket: one task each. Frames request lines (bounded length),
//! insists on `hello` first, checks the peer's uid (SO_PEERCRED), answers each request in
//! order, and streams `subscribe` events. A bad line gets an error answer and the connection
//! goes on; a client that stops reading is dropped after a timeout.
//!
//! Limits, so that no local user can lock the administrators out ([`Admission`]): at most
//! `max_connections_per_uid` connections per user who is not an administrator, and none more
//! from such users once `max_connections` are open in all (the rest of the open-file budget,
//! raised to its hard limit at start, is kept for administrators). A greeted connection with
//! no request for `idle_timeout_secs` (a `subscribe` being streamed does not count), and a
//! request line not finished `request_timeout_secs` after its first byte, are answered with
//! `timed_out` and closed. Each refusal is an answer with id 0, then the connection closes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::broadcast::error::RecvError;
use tracing::Instrument;

use super::follow::{Follow, Followed};
use super::handlers;
use super::Shared;
use crate::config::DaemonConfig;
use crate::protocol::{
    parse_request, ErrorBody, ErrorCode, HelloResult, Request, Response, SubscribeArgs, MAX_LINE,
    PROTOCOL_VERSION,
};
use crate::service::{Caller, Principal};
use crate::store::BroadcastId;

/// How long a client may take to read an answer before it is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// Raises the soft limit of open files to the hard limit, so connections do not run out of
/// descriptors long before the system would; returns the soft limit now in force.
pub fn raise_open_files_limit() -> usize {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on this process's limits with a valid pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
            return 1024;
        }
        if l.rlim_cur < l.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: l.rlim_max,
                rlim_max: l.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                l = raised;
            } else {
                tracing::warn!(
                    error = %std::io::Error::last_os_error(),
                    "cannot raise the open-file limit"
                );
            }
        }
    }
    usize::try_from(l.rlim_cur).unwrap_or(usize::MAX)
}

/// The connections open, per uid and in all, and who may open another.
#[derive(Debug)]
pub struct Admission {
    per_uid: usize,
    total: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    by_uid: HashMap<Principal, usize>,
    all: usize,
}

/// One admitted connection; it counts as open until dropped.
#[derive(Debug)]
pub struct Ticket<'a> {
    admission: &'a Admission,
    who: Principal,
}

impl Admission {
    /// Limits from the configuration; `open_files` is the process's open-file limit.
    pub fn new(config: &DaemonConfig, open_files: usize) -> Admission {
        Admission {
            per_uid: config.max_connections_per_uid,
            total: config
                .max_connections
                .unwrap_or(open_files.saturating_mul(3) / 4),
            open: Mutex::default(),
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a new connection of `caller` as open, or says why it is turned away.
    /// Administrators are never turned away.
    pub fn admit(&self, caller: Caller) -> Result<Ticket<'_>, String> {
        let mut open = self.open();
        let mine = open.by_uid.get(&caller.who).copied().unwrap_or(0);
        if !caller.admin {
            if mine >= self.per_uid {
                return Err(format!(
                    "{} already has {mine} connections open, at most {} are allowed; \
                     close some and try again",
                    caller.who, self.per_uid
                ));
            }
            if open.all >= self.total {
                return Err(format!(
                    "the daemon has {} connections open; the rest are kept for administrators, \
                     try again later",
                    open.all
                ));
            }
        }
        open.by_uid.insert(caller.who, mine + 1);
        open.all += 1;
        Ok(Ticket {
            admission: self,
            who: caller.who,
        })
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut open = self.admission.open();
        open.all = open.all.saturating_sub(1);
        if let Some(n) = open.by_uid.get_mut(&self.who) {
            *n -= 1;
            if *n == 0 {
                open.by_uid.remove(&self.who);
            }
        }
    }
}

/// Accepts connections until shutdown.
pub async fn serve(listener: UnixListener, shared: Arc<Shared>) {
    let mut stop = shared.shutdown_signal();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    // Every line logged while serving it says whose connection it is.
                    let span = tracing::info_span!("connection", uid = tracing::field::Empty);
                    tokio::spawn(connection(stream, shared).instrument(span));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
}

/// Returns once the daemon is stopping (at once if it already is).
async fn stopping(stop: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, not held across the caller's awaits.
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// Reads one line of at most `MAX_LINE` bytes. `Ok(None)` at end of stream; an over-long line
/// is consumed to its end and reported as `Err(len)`.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Result<(), usize>>> {
    buf.clear();
    let mut dropped = 0usize;
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(if buf.is_empty() && dropped == 0 {
                None
            } else {
                Some(Ok(()))
            });
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = (MAX_LINE + 1).saturating_sub(buf.len());
        if dropped > 0 || take > room {
            dropped += take;
        } else {
            buf.extend_from_slice(&chunk[..take]);
        }
        r.consume(take);
        if done {
            if dropped > 0 {
                return Ok(Some(Err(buf.len() + dropped)));
            }
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            return Ok(Some(Ok(())));
        }
    }
}

/// What came of waiting for the next request line.
#[derive(Debug, PartialEq)]
enum Next {
    /// A line in the buffer (`Err(len)`: over-long, dropped).
    Line(Result<(), usize>),
    /// End of stream, or the connection failed.
    Gone,
    /// No line started within the wait.
    Idle,
    /// A line started but was not finished in time.
    Unfinished,
}

/// Waits at most `wait` for a line to start, then at most `finish` for it to end.
async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    wait: Duration,
    finish: Duration,
) -> Next {
    match tokio::time::timeout(wait, r.fill_buf()).await {
        Err(_) => return Next::Idle,
        Ok(Ok(chunk)) if !chunk.is_empty() => {}
        Ok(_) => return Next::Gone,
    }
    match tokio::time::timeout(finish, read_line(r, buf)).await {
        Err(_) => Next::Unfinished,
        Ok(Ok(Some(line))) => Next::Line(line),
        Ok(_) => Next::Gone,
    }
}

async fn write(w: &mut OwnedWriteHalf, r: &Response) -> bool {
    let mut line = serde_json::to_vec(r).expect("responses serialize");
    line.push(b'\n');
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, w.write_all(&line)).await,
        Ok(Ok(()))
    )
}

async fn connection(stream: UnixStream, shared: Arc<Shared>) {
    let peer = match stream.peer_cred() {
        Ok(c) => {
            tracing::Span::current().record("uid", c.uid());
            Caller::unix(c.uid(), &shared.config.daemon.admin_uids)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the peer's credentials; closing");
            return;
        }
    };
    let (read, mut w) = stream.into_split();
    let _ticket = match shared.connections.admit(peer) {
        Ok(ticket) => ticket,
        Err(why) => {
            tracing::info!(caller = %peer.who, "{why}");
            let _ = write(
                &mut w,
                &Response::err(0, ErrorCode::TooManyConnections, why),
            )
            .await;
            return;
        }
    };
    let idle = Duration::from_secs(shared.config.daemon.idle_timeout_secs);
    let finish = Duration::from_secs(shared.config.daemon.request_timeout_secs);
    let mut r = BufReader::new(read);
    let mut buf = Vec::new();
    let mut greeted = false;
    // What this connection keeps between requests (a streamed import): dropped with it.
    let mut session = handlers::Session::default();
    // Every connection holds the store; the daemon's exit waits for the store to close. So a
    // connection waiting for its next line (or on a subscription) must end at shutdown, or an
    // idle client would keep a stopped daemon from exiting. A request being answered finishes.
    let mut stop = shared.shutdown_signal();
    loop {
        let wait = if greeted { idle } else { HELLO_TIMEOUT };
        let line = tokio::select! {
            line = next_line(&mut r, &mut buf, wait, finish) => line,
            _ = stopping(&mut stop) => {
                let _ = write(
                    &mut w,
                    &Response::err(0, ErrorCode::ShuttingDown, "the daemon is stopping"),
                )
                .await;
                return;
            }
        };
        let closing = |code, message: String| Response::err(0, code, message);
        let line = match line {
            Next::Line(Ok(())) => &buf,
            Next::Line(Err(len)) => {
                let msg = format!("request line is {len} bytes, at most {MAX_LINE}");
                if !write(&mut w, &Response::err(0, ErrorCode::LineTooLong, msg)).await {
                    return;
                }
                continue;
            }
            Next::Gone => return,
            Next::Idle if !greeted => {
                let _ = write(
                    &mut w,
                    &closing(ErrorCode::VersionMismatch, "no hello within 30 s".into()),
                )
                .await;
                return;
            }
            Next::Idle => {
                let msg = format!(
                    "no request for {} s; closing the connection",
                    idle.as_secs()
                );
                let _ = write(&mut w, &closing(ErrorCode::TimedOut, msg)).await;
                return;
            }
            Next::Unfinished => {
                let msg = format!(
                    "the request line was not finished within {} s of its start; closing the \
                     connection",
                    finish.as_secs()
                );
                let _ = write(&mut w, &closing(ErrorCode::TimedOut, msg)).await;
                return;
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let req = match parse_request(line) {
            Ok(req) => req,
            Err(e) => {
                if !write(&mut w, &Response::err(e.id, e.code, e.message)).await {
                    return;
                }
                continue;
            }
        };
        let id = req.id;
        let answer = match req.request {
            Request::Hello(h) if h.version == PROTOCOL_VERSION => {
                greeted = true;
                let hello = HelloResult {
                    version: PROTOCOL_VERSION,
                    server: format!("groupsms {}", env!("CARGO_PKG_VERSION")),
                };
                match serde_json::to_value(hello) {
                    Ok(result) => Response::ok(id, result),
                    Err(e) => Response::err(id, ErrorCode::Internal, e.to_string()),
                }
            }
            Request::Hello(h) => {
                // A wrong hello ends the greeting: the next request must say hello again.
                greeted = false;
                Response::err(
                    id,
                    ErrorCode::VersionMismatch,
                    format!(
                        "client speaks protocol {}, this daemon speaks {PROTOCOL_VERSION}: use \
                         matching versions of groupsms",
                        h.version
                    ),
                )
            }
            _ if !greeted => Response::err(
                id,
                ErrorCode::VersionMismatch,
                format!("say hello with protocol version {PROTOCOL_VERSION} first"),
            ),
            Request::Subscribe(SubscribeArgs {
                broadcast: Some(b),
                inbox: None | Some(false),
                reports,
            }) => match handlers::may_follow(&shared, peer, b).await {
                Err(refused) => refused.into_response(id),
                Ok(numbers) => {
                    let reports = reports == Some(true);
                    let follow = Follow::new(shared.clone(), BroadcastId(b), numbers, reports);
                    let reader = if reports { Some(&mut r) } else { None };
                    match stream_follow(reader, &mut w, id, follow).await {
                        Ok(final_answer) => final_answer,
                        Err(()) => return,
                    }
                }
            },
            Request::Subscribe(SubscribeArgs {
                broadcast: None,
                inbox: Some(true),
                reports: None | Some(false),
            }) => match handlers::reader(&shared, peer).await {
                Err(refused) => refused.into_response(id),
                Ok(reader) => match reader.lists() {
                    Err(refused) => ErrorBody::from(refused).into_response(id),
                    Ok(()) => match follow_inbox(&shared, &mut w, id, &reader).await {
                        Ok(final_answer) => final_answer,
                        Err(()) => return,
                    },
                },
            },
            Request::Subscribe(_) => Response::err(
                id,
                ErrorCode::BadRequest,
                "subscribe takes either {\"broadcast\": N} (and \"reports\": true to go on \
                 with the status reports) or {\"inbox\": true}",
            ),
            request => {
                // A paged read waits its turn, kept until its answer is written.
                let turn = match request.is_paged_read() {
                    true => Some(shared.reads.enter(peer).await),
                    false => None,
                };
                let answer = match handlers::handle(&shared, peer, &mut session, request).await {
                    Ok(result) => Response::ok(id, result),
                    Err(failure) => failure.into_response(id),
                };
                let written = write(&mut w, &answer).await;
                drop(turn);
                if !written {
                    return;
                }
                continue;
            }
        };
        if !write(&mut w, &answer).await {
            return;
        }
    }
}

/// Streams a broadcast's events as `follow` yields them (see `follow.rs`); returns the final
/// answer, or `Err` if the client is gone. With `r` (a subscription that goes on with the
/// status reports), a client that closes the connection ends the stream at once: reports may
/// be hours away, and an idle connection still counts against its user's limit. Whatever it
/// sends meanwhile is left for after the stream; once something waits there, its end can no
/// longer be seen before then.
async fn stream_follow<R: tokio::io::AsyncBufRead + Unpin>(
    mut r: Option<&mut R>,
    w: &mut OwnedWriteHalf,
    id: u64,
    mut follow: Follow,
) -> Result<Response, ()> {
    let mut listening = r.is_some();
    loop {
        let item = tokio::select! {
            item = follow.next() => item,
            gone = client_gone(r.as_deref_mut()), if listening => {
                if gone {
                    return Err(());
                }
                listening = false;
                continue;
            }
        };
        match item {
            Some(Followed::Event(event)) => {
                if !write(w, &Response::event(id, event)).await {
                    return Err(());
                }
            }
            Some(Followed::End(end)) => {
                return Ok(match end {
                    Ok(totals) => match serde_json::to_value(totals) {
                        Ok(result) => Response::ok(id, result),
                        Err(e) => Response::err(id, ErrorCode::Internal, e.to_string()),
                    },
                    Err(e) => e.into_response(id),
                })
            }
            None => return Err(()),
        }
    }
}

/// Waits for the client to send something (`false`) or to be gone (`true`); never returns
/// without a reader.
async fn client_gone<R: tokio::io::AsyncBufRead + Unpin>(r: Option<&mut R>) -> bool {
    match r {
        Some(r) => !matches!(r.fill_buf().await, Ok(buf) if !buf.is_empty()),
        None => std::future::pending().await,
    }
}

/// Streams every incoming message the reader may see, as it is committed, until the daemon
/// stops (then `shutting_down`) or the client goes (`Err`).
async fn follow_inbox(
    shared: &Arc<Shared>,
    w: &mut OwnedWriteHalf,
    id: u64,
    reader: &crate::service::Reader,
) -> Result<Response, ()> {
    let mut events = shared.inbox_events.subscribe();
    let mut stop = shared.shutdown_signal();
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = stopping(&mut stop) => Err(RecvError::Closed),
        };
        match event {
            Ok(c) => {
                let found = shared
                    .store
                    .call(move |s| s.read(|tx| tx.inbox_message(c.message)))
                    .await;
                let Ok(Some(m)) = found else { continue };
                if reader
                    .inbox_message(m.id, m.group_handle.as_deref())
                    .is_err()
                {
                    continue;
                }
                let item = handlers::inbox_item(&m, reader, handlers::SHOWN_TEXT_CHARS);
                if !write(w, &Response::inbox(id, item)).await {
                    return Err(());
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "an inbox subscriber fell behind; `inbox list` has every message"
                );
            }
            Err(RecvError::Closed) => {
                return Ok(
                    ErrorBody::new(ErrorCode::ShuttingDown, "the daemon is stopping")
                        .into_response(id),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_bounded_and_over_long_ones_reported() {
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"a\":1}\r\n");
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        input.extend_from_slice(b"\nlast");
        let mut r = BufReader::with_capacity(100, &input[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf).await.unwrap(), Some(Ok(())));
        assert_eq!(buf, b"{\"a\":1}");
        assert_eq!(
            read_line(&mut r, &mut buf).await.unwrap(),
            Some(Err(MAX_LINE + 11))
        );
        assert_eq!(read_line(&mut r, &mut buf).await.unwrap(), Some(Ok(())));
        assert_eq!(buf, b"last");
        assert_eq!(read_line(&mut r, &mut buf).await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_and_a_half_sent_line_time_out() {
        let (wait, finish) = (Duration::from_secs(600), Duration::from_secs(10));
        let mut buf = Vec::new();
        let (client, server) = tokio::io::duplex(1024);
        let mut r = BufReader::new(server);
        assert_eq!(next_line(&mut r, &mut buf, wait, finish).await, Next::Idle);
        let (_client_r, mut client_w) = tokio::io::split(client);
        client_w.write_all(b"{\"id\":2,").await.unwrap();
        assert_eq!(
            next_line(&mut r, &mut buf, wait, finish).await,
            Next::Unfinished
        );
        let (client, server) = tokio::io::duplex(1024);
        let mut r = BufReader::new(server);
        let (_, mut client_w) = tokio::io::split(client);
        client_w.write_all(b"{}\n").await.unwrap();
        assert_eq!(
            next_line(&mut r, &mut buf, wait, finish).await,
            Next::Line(Ok(()))
        );
    }

    #[test]
    fn users_are_limited_and_administrators_always_get_in() {
        let config = DaemonConfig {
            max_connections_per_uid: 2,
            max_connections: Some(3),
            ..DaemonConfig::default()
        };
        let a = Admission::new(&config, 1024);
        let user = Caller::unix(1000, &[]);
        let other = Caller::unix(1001, &[]);
        let root = Caller::unix(0, &[]);
        let first = a.admit(user).unwrap();
        let _second = a.admit(user).unwrap();
        assert_eq!(
            a.admit(user).unwrap_err(),
            "unix user 1000 already has 2 connections open, at most 2 are allowed; close \
             some and try again"
        );
        let _third = a.admit(other).unwrap();
        assert_eq!(
            a.admit(other).unwrap_err(),
            "the daemon has 3 connections open; the rest are kept for administrators, try \
             again later"
        );
        let _root = a.admit(root).unwrap();
        drop(first);
        drop(_root);
        assert!(a.admit(user).is_ok());
        // The default share of the open-file budget.
        let d = Admission::new(&DaemonConfig::default(), 1024);
        assert_eq!((d.per_uid, d.total), (64, 768));
    }
}
