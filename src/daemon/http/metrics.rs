//! `GET /metrics`: [`crate::daemon::metrics`]'s exposition over HTTP, for Prometheus. It
//! needs a management token (`groupsms token create --admin`; Prometheus sends it with
//! `authorization: {credentials_file: ...}`): the answer names every SIM's IMSI, which only
//! administrators read, on the socket as here ([`handlers::reader`] decides, as for `status`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use super::{ApiError, Authed};
use crate::daemon::{handlers, metrics, Shared};
use crate::protocol::ErrorCode;

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    security(("bearer" = [])),
    responses(
        (status = 200, content_type = "text/plain; version=0.0.4", description = "The Prometheus text exposition (0.0.4): modems, queue, deliveries, reports, inbound messages, opt-outs, webhook backlog, broadcast time to the last part"),
        super::routes::Refusals,
    )
)]
pub async fn metrics(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    if !handlers::reader(&shared, caller).await?.is_admin() {
        return Err(ApiError::new(
            ErrorCode::PermissionDenied,
            "/metrics names every SIM's IMSI, which only administrators read: scrape it with a \
             management token (groupsms token create --admin)",
        ));
    }
    let text = metrics::gather(&shared).await?;
    Ok((
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(metrics::CONTENT_TYPE),
        )],
        text,
    )
        .into_response())
}
