//! Connections on the Unix socket: one task each. Frames request lines (bounded length),
//! insists on `hello` first, checks the peer's uid (SO_PEERCRED), answers each request in
//! order, and streams `subscribe` events. A bad line gets an error answer and the connection
//! goes on; a client that stops reading is dropped after a timeout.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::broadcast::error::RecvError;

use super::handlers::{self, delivery_event, progress};
use super::Shared;
use crate::protocol::{
    parse_request, ErrorBody, ErrorCode, HelloResult, Request, Response, SubscribeEvent, MAX_LINE,
    PROTOCOL_VERSION,
};
use crate::service::Caller;
use crate::store::{BroadcastId, Progress};

/// How long a client may take to read an answer before it is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until shutdown.
pub async fn serve(listener: UnixListener, shared: Arc<Shared>) {
    let mut stop = shared.shutdown_signal();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    tokio::spawn(async move { connection(stream, shared).await });
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
        Ok(c) => Caller::unix(c.uid(), &shared.config.daemon.admin_uids),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the peer's credentials; closing");
            return;
        }
    };
    let (read, mut w) = stream.into_split();
    let mut r = BufReader::new(read);
    let mut buf = Vec::new();
    let mut greeted = false;
    // Every connection holds the store; the daemon's exit waits for the store to close. So a
    // connection waiting for its next line (or on a subscription) must end at shutdown, or an
    // idle client would keep a stopped daemon from exiting. A request being answered finishes.
    let mut stop = shared.shutdown_signal();
    loop {
        let next = async {
            if greeted {
                Ok::<_, tokio::time::error::Elapsed>(read_line(&mut r, &mut buf).await)
            } else {
                tokio::time::timeout(HELLO_TIMEOUT, read_line(&mut r, &mut buf)).await
            }
        };
        let line = tokio::select! {
            line = next => line,
            _ = stopping(&mut stop) => {
                let _ = write(
                    &mut w,
                    &Response::err(0, ErrorCode::ShuttingDown, "the daemon is stopping"),
                )
                .await;
                return;
            }
        };
        let line = match line {
            Ok(l) => l,
            Err(_) => {
                let _ = write(
                    &mut w,
                    &Response::err(0, ErrorCode::VersionMismatch, "no hello within 30 s"),
                )
                .await;
                return;
            }
        };
        let line = match line {
            Ok(Some(Ok(()))) => &buf,
            Ok(Some(Err(len))) => {
                let msg = format!("request line is {len} bytes, at most {MAX_LINE}");
                if !write(&mut w, &Response::err(0, ErrorCode::LineTooLong, msg)).await {
                    return;
                }
                continue;
            }
            Ok(None) | Err(_) => return,
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
            Request::Subscribe(b) => {
                match subscribe(&shared, &mut w, id, BroadcastId(b.broadcast)).await {
                    Ok(final_answer) => final_answer,
                    Err(()) => return,
                }
            }
            request => match handlers::handle(&shared, peer, request).await {
                Ok(result) => Response::ok(id, result),
                Err(failure) => failure.into_response(id),
            },
        };
        if !write(&mut w, &answer).await {
            return;
        }
    }
}

/// Streams a broadcast's progress; returns the final answer (or `Err` if the client is gone).
async fn subscribe(
    shared: &Arc<Shared>,
    w: &mut OwnedWriteHalf,
    id: u64,
    broadcast: BroadcastId,
) -> Result<Response, ()> {
    loop {
        let Some((snapshot, mut events)) = shared.board.subscribe(broadcast) else {
            // Not being sent: finished (or unknown) — answer from the store.
            return Ok(
                match shared
                    .store
                    .call(move |s| s.broadcast_progress(broadcast))
                    .await
                {
                    Ok(p) if p.total() > 0 => final_answer(id, broadcast, &p),
                    Ok(_) => ErrorBody::new(
                        ErrorCode::UnknownBroadcast,
                        format!("there is no broadcast number {}", broadcast.0),
                    )
                    .into_response(id),
                    Err(e) => ErrorBody::from(e).into_response(id),
                },
            );
        };
        if !write(
            w,
            &Response::event(
                id,
                SubscribeEvent {
                    delivery: None,
                    totals: progress(broadcast, &snapshot),
                },
            ),
        )
        .await
        {
            return Err(());
        }
        if snapshot.is_finished() {
            return Ok(final_answer(id, broadcast, &snapshot));
        }
        let mut stop = shared.shutdown_signal();
        loop {
            // Ends at shutdown too: see `connection`.
            let event = tokio::select! {
                event = events.recv() => event,
                _ = stopping(&mut stop) => Err(RecvError::Closed),
            };
            match event {
                Ok(ev) if ev.broadcast == broadcast => {
                    if !write(w, &Response::event(id, delivery_event(&ev))).await {
                        return Err(());
                    }
                    if ev.totals.is_finished() {
                        return Ok(final_answer(id, broadcast, &ev.totals));
                    }
                }
                Ok(_) => {}
                // Fell behind: take a fresh snapshot.
                Err(RecvError::Lagged(_)) => break,
                Err(RecvError::Closed) => {
                    return Ok(ErrorBody::new(
                        ErrorCode::ShuttingDown,
                        "the daemon is stopping; the broadcast goes on at the next start",
                    )
                    .into_response(id));
                }
            }
        }
    }
}

/// `subscribe`'s result: the broadcast's final counts.
fn final_answer(id: u64, broadcast: BroadcastId, p: &Progress) -> Response {
    match serde_json::to_value(progress(broadcast, p)) {
        Ok(result) => Response::ok(id, result),
        Err(e) => Response::err(id, ErrorCode::Internal, e.to_string()),
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
}
