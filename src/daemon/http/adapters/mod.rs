//! Routes that speak other systems' formats and send through the same handler and rules as
//! every send:
//!
//! | file | owns |
//! | --- | --- |
//! | [`alertmanager`] | `POST /v1/alertmanager/{group}`: Alertmanager's webhook (payload version 4) rendered, cut to the parts allowed, sent, identical notifications within the repeat window not sent twice |
//! | [`dingtalk`] | `POST /v1/dingtalk/{robot}`: a DingTalk outgoing robot's `群发 <text>`, its signature checked, the sender mapped to a member, the result answered in the chat |
//!
//! Alertmanager authenticates like every API client (`Authorization: Bearer`, its
//! `http_config.authorization`); DingTalk by its signature, the robot's user table saying who
//! the sender is.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde_json::Value;

use super::{ApiError, Authed};
use crate::config::Config;
use crate::daemon::Shared;
use crate::protocol::ErrorCode;

pub mod alertmanager;
pub mod dingtalk;

/// What the adapters' routes share beside [`Shared`].
#[derive(Debug)]
pub(crate) struct Adapters {
    alerting: alertmanager::Alerting,
    robots: dingtalk::Robots,
}

/// Checks what the configuration check cannot (the Alertmanager templates); the daemon calls
/// it before it starts.
pub fn check(config: &Config) -> Result<(), String> {
    alertmanager::Alerting::new(config).map(|_| ())
}

/// The adapters' routes, to merge into the API's router.
pub fn routes(config: &Config) -> Router<Arc<Shared>> {
    let adapters = Arc::new(Adapters {
        alerting: alertmanager::Alerting::new(config).unwrap_or_else(|e| {
            // `check` refused this configuration at start; answer each request with why.
            tracing::error!(error = %e, "the Alertmanager route is not usable");
            alertmanager::Alerting::broken(e)
        }),
        robots: dingtalk::Robots::new(config),
    });
    Router::new()
        .route("/v1/alertmanager/{group}", post(alertmanager_route))
        .route("/v1/dingtalk/{robot}", post(dingtalk_route))
        .layer(Extension(adapters))
}

/// `POST /v1/alertmanager/{group}`: 200 with `{"sent": true, ...}` or, for a repeat within
/// the window, `{"sent": false, "duplicate_of": id}`; the API's error body otherwise.
#[utoipa::path(
    post,
    path = "/v1/alertmanager/{group}",
    tag = "adapters",
    security(("bearer" = [])),
    params(("group" = String, Path, description = "A group with an [[alertmanager]] table")),
    request_body(content_type = "application/json", description = "Alertmanager's webhook payload, version 4"),
    responses(
        (status = 200, content_type = "application/json", description = "`{\"sent\": true, \"broadcast\": ...}`, or for a repeat within the group's window `{\"sent\": false, \"duplicate_of\": id}`"),
        crate::daemon::http::routes::Refusals,
    )
)]
pub(crate) async fn alertmanager_route(
    State(shared): State<Arc<Shared>>,
    Extension(adapters): Extension<Arc<Adapters>>,
    Path(group): Path<String>,
    Authed(caller): Authed,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        alertmanager::notify(&shared, &adapters.alerting, caller, &group, &body).await?,
    ))
}

/// `POST /v1/dingtalk/{robot}`: 200 with a robot text message for the chat (the result or the
/// refusal); 401 when the request is not signed by the robot's secret, 422 when it is not a
/// robot message or names no configured robot.
#[utoipa::path(
    post,
    path = "/v1/dingtalk/{robot}",
    tag = "adapters",
    params(
        ("robot" = String, Path, description = "The name of a [[dingtalk_robot]] table"),
        ("timestamp" = String, Header, description = "Milliseconds since the epoch, as DingTalk sends it"),
        ("sign" = String, Header, description = "Base64 of HMAC-SHA256(app secret, \"{timestamp}\\n{app secret}\")"),
    ),
    request_body(content_type = "application/json", description = "DingTalk's outgoing robot message"),
    responses(
        (status = 200, content_type = "application/json", description = "A robot text message for the chat: the broadcast's result, or why it was refused"),
        (status = 401, description = "Not signed by the robot's secret, or the timestamp is more than an hour off", body = crate::daemon::http::routes::ErrorAnswer),
        (status = 422, description = "Not a robot message, or no such robot", body = crate::daemon::http::routes::ErrorAnswer),
    )
)]
pub(crate) async fn dingtalk_route(
    State(shared): State<Arc<Shared>>,
    Extension(adapters): Extension<Arc<Adapters>>,
    Path(robot): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<dingtalk::Reply>, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = dingtalk::Signed {
        timestamp: header("timestamp"),
        sign: header("sign"),
        now_ms: crate::clock::now().timestamp_millis(),
    };
    match dingtalk::message(&shared, &adapters.robots, &robot, signed, &body).await {
        Ok(reply) => Ok(Json(reply)),
        Err(dingtalk::Rejected::Unsigned(e)) => {
            Err(ApiError::new(ErrorCode::Unauthorized, e.to_string()))
        }
        Err(dingtalk::Rejected::Unknown(e) | dingtalk::Rejected::Body(e)) => Err(e.into()),
    }
}
