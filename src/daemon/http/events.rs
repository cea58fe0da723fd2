//! `GET /v1/broadcasts/{id}/events[?reports=true]`: the socket's `subscribe` as Server-Sent
//! Events, from the same [`Follow`] (`daemon/follow.rs`), under the same read rules
//! (`handlers::may_follow`: a member's token follows only its groups' broadcasts, and sees the
//! numbers masked where the socket would mask them).
//!
//! Each event is `event: <type>`, `id: <1, 2, ...>`, `data: <JSON>`:
//! - `snapshot`: the counts when the stream starts (the socket's first event);
//! - `delivery`: a delivery's change and the counts after it (the socket's other events);
//! - `end`: the final counts (the socket's final answer); the stream closes;
//! - `error`: `{"error": {"code", "message"}}` when it ends otherwise (the daemon stopping,
//!   the database failing); the stream closes.
//!
//! A comment line every [`KEEP_ALIVE`] keeps proxies from closing a quiet stream. A client
//! that closes the connection is noticed at once (hyper watches the connection's read side
//! while it writes the answer), and the stream with its hold on the board is dropped. The
//! request timeout (`limits.rs`) covers the answer's head only, so a stream may last hours.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Authed};
use crate::daemon::follow::{Follow, Followed};
use crate::daemon::{handlers, Shared};
use crate::protocol::ErrorCode;
use crate::store::BroadcastId;

/// How often a quiet stream gets a comment line.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The query of the events route.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Go on with the status reports once the sending is over (as the socket's `reports`).
    #[serde(default)]
    pub reports: bool,
}

/// `GET /v1/broadcasts/{id}/events`.
#[utoipa::path(
    get,
    path = "/v1/broadcasts/{id}/events",
    tag = "broadcasts",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The broadcast"),
        ("reports" = Option<bool>, Query, description = "Go on with the status reports once the sending is over (as the socket's subscribe with reports)"),
    ),
    responses(
        (status = 200, content_type = "text/event-stream", description = "Server-Sent Events: `snapshot` (the counts at the start), `delivery` (a delivery's change and the counts), then `end` (the final counts) or `error` (`{\"error\": {\"code\", \"message\"}}`); ids 1, 2, ...; a comment line every 15 s"),
        super::routes::Refusals,
    )
)]
pub async fn broadcast_events(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Path(id): Path<i64>,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "{}; the events take ?reports=true or nothing",
                e.body_text()
            ),
        )
    })?;
    if shared.is_shutting_down() {
        return Err(ApiError::new(
            ErrorCode::ShuttingDown,
            "the daemon is stopping; try again once it is back",
        ));
    }
    let numbers = {
        let _turn = shared.http_guard.store_turn().await;
        handlers::may_follow(&shared, caller, id).await?
    };
    let follow = Follow::new(shared, BroadcastId(id), numbers, query.reports);
    Ok(Sse::new(events(follow))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// The stream of SSE events of `follow`, numbered from 1; it ends after the end.
fn events(follow: Follow) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    futures_util::stream::unfold((follow, 0u64), |(mut follow, n)| async move {
        let item = follow.next().await?;
        let n = n + 1;
        Some((Ok(sse_event(item).id(n.to_string())), (follow, n)))
    })
}

/// One item as an SSE event (its type and its JSON).
pub fn sse_event(item: Followed) -> Event {
    let (kind, data) = match item {
        Followed::Event(ev) => {
            let kind = if ev.delivery.is_some() {
                "delivery"
            } else {
                "snapshot"
            };
            (kind, serde_json::to_string(&ev))
        }
        Followed::End(Ok(totals)) => ("end", serde_json::to_string(&totals)),
        Followed::End(Err(e)) => (
            "error",
            serde_json::to_string(&json!({"error": {"code": e.code, "message": e.message}})),
        ),
    };
    // Our types always serialize; were one not to, the client still learns the stream ended.
    let data = data.unwrap_or_else(|e| {
        json!({"error": {"code": ErrorCode::Internal, "message": e.to_string()}}).to_string()
    });
    Event::default().event(kind).data(data)
}
