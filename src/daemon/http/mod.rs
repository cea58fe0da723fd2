//! The HTTP API: a second transport beside the Unix socket (`listener.rs`), over the same
//! typed requests and the same handlers (`handlers.rs`), so every rule lives once. It lives in
//! `daemon/` because, like the socket listener, it is wiring over [`Shared`].
//!
//! Here: binding the configured addresses (`[http] listen`), the bearer-token extractor
//! ([`Authed`]), the mapping of the socket's stable error codes to HTTP statuses
//! ([`ApiError`]), the connection limit, and graceful shutdown. TLS is left to a reverse proxy.
//! The routes over groups, members, broadcasts, the inbox and the modems, and the OpenAPI
//! document they are registered with, are in [`routes`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub mod routes;

use super::handlers::{self, Session};
use super::{Shared, StartError};
use crate::clock;
use crate::protocol::{ErrorBody, ErrorCode, Request};
use crate::service::tokens::{self, Unauthorized};
use crate::service::Caller;
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

/// The router of every route, over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/status", get(status))
        .route("/metrics", get(metrics::metrics))
        .merge(adapters::routes(&shared.config))
        .merge(routes::router())
        .with_state(shared)
}

/// Serves `listeners` until the daemon shuts down; at most `[http] max_connections`
/// connections are open at once (the rest wait in the kernel's backlog).
pub async fn serve(listeners: Vec<TcpListener>, shared: Arc<Shared>) {
    let permits = Arc::new(Semaphore::new(
        usize::try_from(shared.config.http.max_connections).unwrap_or(usize::MAX),
    ));
    let app = router(shared.clone());
    let mut tasks = Vec::new();
    for listener in listeners {
        let limited = Limited {
            inner: listener,
            permits: permits.clone(),
        };
        let mut stop = shared.shutdown_signal();
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(limited, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "the HTTP listener stopped");
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// A listener that accepts a connection only with a permit, held until it closes.
struct Limited {
    inner: TcpListener,
    permits: Arc<Semaphore>,
}

/// An accepted connection and its permit.
pub struct LimitedStream {
    inner: tokio::net::TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl axum::serve::Listener for Limited {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the connection semaphore is never closed");
        loop {
            match self.inner.accept().await {
                Ok((inner, addr)) => {
                    let _ = inner.set_nodelay(true);
                    return (
                        LimitedStream {
                            inner,
                            _permit: permit,
                        },
                        addr,
                    );
                }
                // Out of file descriptors and the like: wait a little instead of spinning.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept an HTTP connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl tokio::io::AsyncRead for LimitedStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
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
            None => None,
            Some(v) => Some(
                v.to_str()
                    .map_err(|_| ApiError::from(Unauthorized::Malformed))?
                    .to_string(),
            ),
        };
        let outcome = shared
            .store
            .call(move |s| tokens::authenticate(s, header.as_deref(), clock::now()))
            .await
            .map_err(|e: StoreError| ApiError::from(e))?;
        match outcome {
            Ok(caller) => Ok(Authed(caller)),
            Err(why) => {
                tracing::info!(reason = %why, "HTTP request refused");
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
