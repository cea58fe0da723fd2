//! The HTTP API: a second transport beside the Unix socket (`listener.rs`), over the same
//! typed requests and the same handlers (`handlers.rs`), so every rule lives once. It lives in
//! `daemon/` because, like the socket listener, it is wiring over [`Shared`].
//!
//! Here: binding the configured addresses (`[http] listen`), the accept loop (HTTP/1.1 on
//! hyper, a permit per connection, a header read timeout, graceful shutdown), the
//! bearer-token extractor ([`Authed`], which also applies the rate limits), the mapping of the
//! socket's stable error codes to HTTP statuses ([`ApiError`]), and [`call`], which runs a
//! request through the socket's handler under the store's turn. The routes are in
//! `routes.rs`, the event stream in `events.rs`, the limits and why they keep the socket and
//! the modems served in `limits.rs`. TLS is left to a reverse proxy.
//! The routes over groups, members, broadcasts, the inbox and the modems, and the OpenAPI
//! document they are registered with, are in [`routes`].
//! The web console ([`web`]) is served by the same router, over the same handlers; its
//! session cookie is one more way to present a token to [`Authed`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub mod events;
pub mod limits;
pub mod routes;
pub mod web;

use super::handlers::{self, Session};
use super::{Shared, StartError};
use crate::clock;
use crate::protocol::{ErrorBody, ErrorCode, Request};
use crate::service::tokens::{self, Unauthorized};
use crate::service::{Caller, Principal};
use crate::store::StoreError;

pub mod adapters;
pub mod metrics;

/// The configured addresses, bound (before the daemon says it is ready).
pub async fn bind(config: &crate::config::HttpConfig) -> Result<Vec<TcpListener>, StartError> {
    let addresses = config.addresses().map_err(StartError::Config)?;
    let mut out = Vec::with_capacity(addresses.len());
    for a in addresses {
        let l = TcpListener::bind(a)
            .await
            .map_err(|e| StartError::Io(format!("[http] listen: cannot listen on {a}: {e}")))?;
        out.push(l);
    }
    Ok(out)
}

/// The router of every route, over `shared`, with the limits of `limits.rs` (body size,
/// timeout, JSON error bodies).
pub fn router(shared: Arc<Shared>) -> Router {
    let config = &shared.config.http;
    let timeout = shared.http_guard.request_timeout();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/status", get(status))
        .route("/metrics", get(metrics::metrics))
        .merge(adapters::routes(&shared.config))
        .merge(routes::router())
        .route("/v1/broadcasts/{id}/events", get(events::broadcast_events))
        .merge(web::router(&shared))
        // The console's sessions, also known to the API's authentication (`Authed`).
        .layer(web::sessions_layer())
        .layer(limits::body_limit(config))
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            limits::timeout,
        ))
        .layer(axum::middleware::from_fn(limits::json_errors))
        .with_state(shared)
}

/// Serves `listeners` until the daemon shuts down: HTTP/1.1, at most `[http]
/// max_connections` connections open at once (the rest wait in the kernel's backlog), a
/// request head not read within `request_timeout_secs` closes its connection (slow clients,
/// idle keep-alive connections). At shutdown, connections finish the answer they are writing
/// (event streams end at shutdown) and close.
pub async fn serve(listeners: Vec<TcpListener>, shared: Arc<Shared>) {
    let permits = Arc::new(Semaphore::new(
        usize::try_from(shared.config.http.max_connections).unwrap_or(usize::MAX),
    ));
    let app = router(shared.clone());
    let mut tasks = Vec::new();
    for listener in listeners {
        tasks.push(tokio::spawn(accept_loop(
            listener,
            permits.clone(),
            app.clone(),
            shared.clone(),
        )));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Accepts connections on one listener, each with a permit held until it closes, until
/// shutdown; then waits for the open ones to finish.
async fn accept_loop(
    listener: TcpListener,
    permits: Arc<Semaphore>,
    app: Router,
    shared: Arc<Shared>,
) {
    let header_timeout = shared.http_guard.request_timeout();
    let mut stop = shared.shutdown_signal();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = accept(&listener, &permits) => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, peer, permit) = accepted;
        let app = app.clone();
        let mut stop = shared.shutdown_signal();
        connections.spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let mut app = app.clone();
                async move {
                    use tower::Service;
                    app.call(request.map(axum::body::Body::new)).await
                }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, %peer, "an HTTP connection ended");
                    }
                    return;
                }
                _ = stop.wait_for(|s| *s) => {}
            }
            conn.as_mut().graceful_shutdown();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "an HTTP connection ended");
            }
        });
        // Reap the finished ones as we go, so the set holds only open connections.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// The next connection, once a permit is free.
async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
) -> (TcpStream, SocketAddr, OwnedSemaphorePermit) {
    let permit = permits
        .clone()
        .acquire_owned()
        .await
        .expect("the connection semaphore is never closed");
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                return (stream, peer, permit);
            }
            // Out of file descriptors and the like: wait a little instead of spinning.
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept an HTTP connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// An error answer: the socket's error body under `error`, with the HTTP status its code
/// stands for (and `Retry-After` when there is a time to wait).
#[derive(Debug)]
pub struct ApiError {
    pub body: ErrorBody,
    /// Seconds after which trying again makes sense (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            body: ErrorBody::new(code, message),
            retry_after: None,
        }
    }
}

impl<E: Into<ErrorBody>> From<E> for ApiError {
    fn from(e: E) -> Self {
        let body = e.into();
        ApiError {
            retry_after: body.retry_after_secs,
            body,
        }
    }
}

/// The HTTP status of each stable error code. No wildcard: a new code needs its status here.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest | ErrorCode::VersionMismatch => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::PermissionDenied | ErrorCode::NotSuperAdmin => StatusCode::FORBIDDEN,
        ErrorCode::UnknownGroup
        | ErrorCode::UnknownMember
        | ErrorCode::UnknownBroadcast
        | ErrorCode::UnknownMessage
        | ErrorCode::UnknownModem
        | ErrorCode::UnknownImport
        | ErrorCode::UnknownToken => StatusCode::NOT_FOUND,
        ErrorCode::AlreadyExists => StatusCode::CONFLICT,
        ErrorCode::InvalidValue
        | ErrorCode::SensitiveWords
        | ErrorCode::TooManyParts
        | ErrorCode::NoRecipients => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::LineTooLong | ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::QuotaExceeded | ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TimedOut => StatusCode::REQUEST_TIMEOUT,
        ErrorCode::Storage | ErrorCode::TooManyConnections | ErrorCode::ShuttingDown => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.body.code);
        let mut response = (
            status,
            Json(json!({"error": {"code": self.body.code, "message": self.body.message}})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<Unauthorized> for ApiError {
    fn from(e: Unauthorized) -> Self {
        ApiError::new(ErrorCode::Unauthorized, e.to_string())
    }
}

/// The caller a request's bearer token stands for; refused with 401 otherwise.
pub struct Authed(pub Caller);

impl FromRequestParts<Arc<Shared>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let header = match parts.headers.get(AUTHORIZATION) {
            // A console session (web/session.rs) stands for the token it signed in with.
            None => match web::sessions(parts) {
                Some(sessions) => sessions
                    .bearer(&parts.method, &parts.headers, Instant::now())
                    .map_err(|_| {
                        ApiError::new(
                            ErrorCode::PermissionDenied,
                            "a console session's request that changes something needs the \
                             session's X-CSRF-Token header (reload the page)",
                        )
                    })?,
                None => None,
            },
            Some(v) => Some(
                v.to_str()
                    .map_err(|_| ApiError::from(Unauthorized::Malformed))?
                    .to_string(),
            ),
        };
        let guard = &shared.http_guard;
        let peer = limits::peer(parts);
        // A peer whose tokens keep being refused is slowed before its next one is looked at.
        if let Some(ip) = peer {
            guard
                .peers
                .check(ip, Instant::now())
                .map_err(|wait| limits::rate_limited(wait, &format!("address {ip}")))?;
        }
        let outcome = {
            let _turn = guard.store_turn().await;
            shared
                .store
                .call(move |s| tokens::authenticate(s, header.as_deref(), clock::now()))
                .await
                .map_err(|e: StoreError| ApiError::from(e))?
        };
        match outcome {
            Ok(caller) => {
                if let Principal::Token { id, .. } = caller.who {
                    guard
                        .tokens
                        .take(id, Instant::now())
                        .map_err(|wait| limits::rate_limited(wait, &format!("token {id}")))?;
                }
                Ok(Authed(caller))
            }
            Err(why) => {
                tracing::info!(reason = %why, ?peer, "HTTP request refused");
                if let Some(ip) = peer {
                    guard.peers.charge(ip, Instant::now());
                }
                Err(why.into())
            }
        }
    }
}

/// Runs `request` for `caller` through the same handler as the socket, and reads its result
/// as `T`.
pub async fn call<T: DeserializeOwned>(
    shared: &Arc<Shared>,
    caller: Caller,
    request: Request,
) -> Result<T, ApiError> {
    let value = call_value(shared, caller, request).await?;
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            ErrorCode::Internal,
            format!("cannot read the handler's answer: {e}"),
        )
    })
}

/// [`call`], the result as JSON.
pub async fn call_value(
    shared: &Arc<Shared>,
    caller: Caller,
    request: Request,
) -> Result<Value, ApiError> {
    if shared.is_shutting_down() {
        return Err(ApiError::new(
            ErrorCode::ShuttingDown,
            "the daemon is stopping; try again once it is back",
        ));
    }
    // A paged read waits for its turn as on the socket; then the store's turn (`limits.rs`).
    let _read = match request.is_paged_read() {
        true => Some(shared.reads.enter(caller).await),
        false => None,
    };
    let _turn = shared.http_guard.store_turn().await;
    let mut session = Session::default();
    Ok(handlers::handle(shared, caller, &mut session, request).await?)
}

/// `GET /healthz`: 200 while the daemon can take work, 503 while its database cannot commit or
/// it is stopping. No token needed; says nothing personal.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    responses(
        (status = 200, description = "The daemon can take work", content_type = "application/json"),
        (status = 503, description = "Its database cannot commit, or it is stopping", content_type = "application/json"),
    )
)]
async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let problem = shared.store.problem().borrow().clone();
    let stopping = shared.is_shutting_down();
    let ok = problem.is_none() && !stopping;
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "store_problem": problem,
        "stopping": stopping,
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// `GET /v1/status`: as `groupsms status --json`.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "meta",
    security(("bearer" = [])),
    responses((status = 200, body = crate::protocol::StatusResult), routes::Refusals)
)]
async fn status(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        call_value(&shared, caller, Request::Status(Default::default())).await?,
    ))
}
