//! The routes of the HTTP API over groups, members, broadcasts, the inbox and the modems.
//! Each one is an adapter: it reads the path, query and body into the socket's typed request
//! ([`crate::protocol::Request`]) and runs it through the socket's handler ([`call_value`]),
//! so the rules (who may do what, quotas, paging) live once. What is HTTP's own lives here:
//!
//! - Bodies: `application/json` (any other type: 415 `unsupported_media_type`), read by the
//!   socket's rules ([`p::from_json_strict`]): not JSON, a key twice, an unknown field, a
//!   missing field or a value of the wrong type are all 400 `bad_request` with serde's
//!   message (as on the socket); a well-formed value a rule refuses is 422 `invalid_value`.
//!   Path segments name the object (`/v1/groups/{group}`); a body may repeat the same name,
//!   not another one.
//! - Statuses: 201 for what a `POST` creates, 202 for an accepted broadcast, 200 otherwise;
//!   errors as [`status_of`](super::status_of) maps the stable codes.
//! - `Idempotency-Key` on `POST /v1/groups/{group}/broadcasts` (`service::idempotency`): a
//!   repeat by the same token within 24 h gets the first answer (same status, same bytes, and
//!   the header `Idempotent-Replayed: true`) and uses no quota; the same key for another
//!   request is 422; while the first is being answered a repeat waits for it (up to
//!   [`IN_FLIGHT_WAIT`], then 409). The claim, the send and the keeping of the answer run in a
//!   task of their own, so a client that hangs up half-way leaves no claim half-done.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Extension, FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, IntoResponses, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{call, ApiError, Authed};
use crate::clock;
use crate::daemon::handlers;
use crate::daemon::Shared;
use crate::protocol::{self as p, ErrorCode, Request as Op};
use crate::service::idempotency::{self, Claim};
use crate::service::{Caller, Principal, ServiceError};

/// How long a repeat waits for the first request with its key to be answered.
pub const IN_FLIGHT_WAIT: Duration = Duration::from_secs(10);

/// The OpenAPI document's frame: what the routes registered in [`api`] do not say themselves.
/// `/healthz` and `/v1/status` are registered by `mod.rs`, the event stream by `events.rs`,
/// `/v1/openapi.json` by [`router`];
/// they are documented here.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "groupsms HTTP API",
        description = "Send a message to a whole group by SMS through a pool of USB GSM modems. \
            Every route runs the same request as the Unix socket (README: protocol), with the \
            same rules and the same stable error codes. Authenticate with \
            'Authorization: Bearer <token>' (groupsms token create)."
    ),
    paths(
        super::healthz,
        super::status,
        super::events::broadcast_events,
        super::metrics::metrics,
        super::adapters::alertmanager_route,
        super::adapters::dingtalk_route,
        openapi_json
    ),
    components(schemas(ErrorAnswer)),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

/// The `bearer` security scheme every route but `/healthz` and `/v1/openapi.json` needs.
struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("a token made with: groupsms token create"))
                    .build(),
            ),
        );
    }
}

/// Every route of this file, each registered with its documentation (one `routes!` entry
/// registers a handler on the path and methods its `#[utoipa::path]` names, and documents it),
/// so the router and the document cannot drift apart.
pub fn api() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(send))
        .routes(routes!(send_preview))
        .routes(routes!(broadcast_list))
        .routes(routes!(broadcast_show))
        .routes(routes!(broadcast_cancel))
        .routes(routes!(group_list, group_create))
        .routes(routes!(group_show, group_set, group_delete))
        .routes(routes!(member_join, member_leave))
        .routes(routes!(member_role))
        .routes(routes!(member_opt_out))
        .routes(routes!(member_opt_in))
        .routes(routes!(member_list, member_add))
        .routes(routes!(member_import))
        .routes(routes!(member_show, member_set, member_remove))
        .routes(routes!(inbox_list))
        .routes(routes!(inbox_show))
        .routes(routes!(inbox_mark_read))
        .routes(routes!(modem_list))
        .routes(routes!(modem_release))
}

/// The whole OpenAPI document: [`api`]'s routes and [`ApiDoc`]'s.
#[cfg(test)]
fn document() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

/// The routes, and `/v1/openapi.json` serving their document.
pub fn router() -> Router<Arc<Shared>> {
    let (router, doc) = api().split_for_parts();
    let json: Arc<str> = doc
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot write the document: {e}\"}}"))
        .into();
    router.route(
        "/v1/openapi.json",
        get(openapi_json).layer(Extension(OpenApiJson(json))),
    )
}

/// The document, written once.
#[derive(Clone)]
struct OpenApiJson(Arc<str>);

/// `GET /v1/openapi.json`: this document (no token needed).
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json"))
)]
async fn openapi_json(Extension(OpenApiJson(json)): Extension<OpenApiJson>) -> Response {
    let mut response = json.to_string().into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The error body of every route: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorAnswer {
    pub error: p::ErrorBody,
}

/// The refusals of a route that takes a JSON body, besides [`Refusals`].
#[allow(dead_code)] // documentation only: the answers are built by `ApiError`
#[derive(IntoResponses)]
pub(super) enum BodyRefusals {
    /// The body is longer than `[http] max_body_bytes` (`too_large`).
    #[response(status = 413)]
    TooLarge(ErrorAnswer),
    /// The body is not `application/json` (`unsupported_media_type`).
    #[response(status = 415)]
    NotJson(ErrorAnswer),
}

/// The refusals any route may answer.
#[allow(dead_code)] // documentation only: the answers are built by `ApiError`
#[derive(IntoResponses)]
pub(super) enum Refusals {
    /// Not JSON, an unknown or missing field, a bad query or path (`bad_request`).
    #[response(status = 400)]
    BadRequest(ErrorAnswer),
    /// No token, or one unknown, revoked or expired (`unauthorized`).
    #[response(status = 401)]
    Unauthorized(ErrorAnswer),
    /// The token may not do this (`permission_denied`, `not_super_admin`).
    #[response(status = 403)]
    Forbidden(ErrorAnswer),
    /// What the path names does not exist (`unknown_group`, `unknown_member`, ...).
    #[response(status = 404)]
    NotFound(ErrorAnswer),
    /// A rule refused a value (`invalid_value`, `sensitive_words`, ...).
    #[response(status = 422)]
    Unprocessable(ErrorAnswer),
    /// Too many requests of this token (`rate_limited`), with Retry-After.
    #[response(status = 429)]
    TooMany(ErrorAnswer),
    /// The database cannot commit, or the daemon is stopping (`storage`, `shutting_down`).
    #[response(status = 503)]
    Unavailable(ErrorAnswer),
}

// ---- Reading requests ---------------------------------------------------------------------

/// A JSON body read by the socket's rules (see the module docs).
pub struct JsonBody<T>(pub T);

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message)
}

/// Whether the request's `Content-Type` is `want` (parameters such as `charset` allowed).
fn content_type_is(headers: &HeaderMap, want: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(want))
}

/// The body's bytes, or 413 when it is longer than `limit` (`[http] max_body_bytes`, or
/// `max_import_bytes` for CSV imports).
async fn body_bytes(req: Request, limit: u64, setting: &str) -> Result<Bytes, ApiError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|e| {
            let too_long = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_long {
                ApiError::new(
                    ErrorCode::TooLarge,
                    format!(
                        "the request body is longer than the daemon takes ({limit} bytes, \
                         [http] {setting})"
                    ),
                )
            } else {
                bad_request(format!("cannot read the request body: {e}"))
            }
        })
}

impl<T: DeserializeOwned> FromRequest<Arc<Shared>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<Shared>) -> Result<Self, ApiError> {
        if !content_type_is(req.headers(), "application/json") {
            return Err(not_json());
        }
        let bytes = body_bytes(req, state.config.http.max_body_bytes, "max_body_bytes").await?;
        p::from_json_strict(&bytes)
            .map(JsonBody)
            .map_err(bad_request)
    }
}

/// A query string read into `T` (unknown parameters refused), 400 when it does not fit.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<Arc<Shared>> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &Arc<Shared>) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Query(q.0))
            .map_err(|e| bad_request(format!("bad query string: {}", e.body_text())))
    }
}

/// Path segments, 400 when one does not fit (a broadcast id that is not a number).
pub struct Segments<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<Arc<Shared>> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Arc<Shared>) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, s)
            .await
            .map(|p| Segments(p.0))
            .map_err(|e| bad_request(format!("bad path: {}", e.body_text())))
    }
}

/// `body` (a JSON object) with `field` set to the path's `value`: the path names the object,
/// and a body that names another one is refused.
fn named(mut body: Value, field: &str, value: &str) -> Result<Value, ApiError> {
    let Value::Object(obj) = &mut body else {
        return Err(bad_request("the body must be a JSON object"));
    };
    match obj.get(field) {
        Some(Value::String(s)) if s == value => {}
        Some(other) => {
            return Err(bad_request(format!(
                "the body's {field:?} ({other}) is not the one the path names ({value:?})"
            )))
        }
        None => {
            obj.insert(field.to_string(), Value::String(value.to_string()));
        }
    }
    Ok(body)
}

/// `value` read as the request type `T`, with the body's refusal on failure.
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| bad_request(format!("the body is refused: {e}")))
}

/// A broadcast or message id from the path.
fn id_of(s: &str, what: &str) -> Result<i64, ApiError> {
    s.parse()
        .map_err(|_| bad_request(format!("{what} {s:?} is not a number")))
}

/// Runs `op` through the socket's handler; its answer read as `T`, the type the route
/// documents (an answer that is not one is a 500, never a silent drift).
async fn run<T: DeserializeOwned>(
    shared: &Arc<Shared>,
    caller: Caller,
    op: Op,
) -> Result<Json<T>, ApiError> {
    Ok(Json(call(shared, caller, op).await?))
}

/// [`run`] for what a `POST` creates: 201.
async fn created<T: DeserializeOwned + Serialize>(
    shared: &Arc<Shared>,
    caller: Caller,
    op: Op,
) -> Result<(StatusCode, Json<T>), ApiError> {
    Ok((StatusCode::CREATED, run(shared, caller, op).await?))
}

// ---- Broadcasts ---------------------------------------------------------------------------

/// `POST /v1/groups/{group}/broadcasts`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    /// The message (the group's header is put before it).
    pub text: String,
    /// The sending member's handle (a super-admin of the group). Default: the token's member;
    /// a management token must name one.
    #[serde(default, rename = "as")]
    pub as_member: Option<String>,
    /// Start even inside the quiet hours (where the group allows it).
    #[serde(default)]
    pub urgent: bool,
}

/// Send a message to the group: as the socket's `send`, 202 with its result and the group's
/// quota use. With `Idempotency-Key`, a repeat within 24 h gets the first answer.
#[utoipa::path(
    post,
    path = "/v1/groups/{group}/broadcasts",
    tag = "broadcasts",
    security(("bearer" = [])),
    params(
        ("group" = String, Path, description = "The group's handle"),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII \
            characters; a repeat by the same token within 24 h gets the first answer (and the \
            header Idempotent-Replayed: true) and uses no quota; the same key for another \
            request is 422"),
    ),
    request_body = SendBody,
    responses(
        (status = 202, description = "Accepted and queued", body = p::SendResult),
        (status = 409, description = "A request with this Idempotency-Key is still being answered", body = ErrorAnswer),
        (status = 413, description = "The body is longer than [http] max_body_bytes", body = ErrorAnswer),
        (status = 415, description = "The body is not application/json", body = ErrorAnswer),
        (status = 429, description = "The group's quota is used up (`quota_exceeded`); Retry-After: seconds until it resets", body = ErrorAnswer),
        Refusals,
    )
)]
async fn send(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(group): Segments<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SendBody>,
) -> Result<Response, ApiError> {
    let as_member = acting_member(&shared, caller, body.as_member).await?;
    let request = p::Send {
        group,
        as_member,
        text: body.text,
        urgent: body.urgent,
    };
    let key = match headers.get("idempotency-key") {
        None => {
            let result: p::SendResult = call(&shared, caller, Op::Send(request)).await?;
            return Ok((StatusCode::ACCEPTED, Json(result)).into_response());
        }
        Some(v) => idempotency::check_key(v.as_bytes())
            .map_err(ServiceError::from)?
            .to_string(),
    };
    let Principal::Token { id: token, .. } = caller.who else {
        return Err(ApiError::new(
            ErrorCode::Internal,
            "an HTTP caller without a token",
        ));
    };
    // In a task of its own: a client hanging up must not stop it between the claim and the
    // answer kept.
    let task = tokio::spawn(keyed_send(shared, caller, token, key, request));
    task.await.map_err(|e| {
        ApiError::new(
            ErrorCode::Internal,
            format!("the broadcast's task failed: {e}"),
        )
    })?
}

/// The member a send acts as: the one the body names, else the token's member; a management
/// token must name one.
pub(super) async fn acting_member(
    shared: &Arc<Shared>,
    caller: Caller,
    named: Option<String>,
) -> Result<String, ApiError> {
    match (named, caller.who) {
        (Some(m), _) => Ok(m),
        (
            None,
            Principal::Token {
                member: Some(id), ..
            },
        ) => {
            let _turn = shared.http_guard.store_turn().await;
            shared.store.call(move |s| s.member_by_id(id)).await?
        }
        .map(|m| m.handle)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownMember,
                "this token's member no longer exists",
            )
        }),
        (None, _) => Err(bad_request(
            "a management token acts as no member: name the sending member in \"as\"",
        )),
    }
}

/// What sending this message to the group would do now, with nothing sent and no quota used:
/// the socket's `send_preview`, the same rules as `send` (who may send, header and footer,
/// encoding and parts, recipients after the filters, quota, sensitive words). `refusal` is
/// the error `send` would answer, `null` when it would be accepted.
#[utoipa::path(
    post,
    path = "/v1/groups/{group}/broadcasts/preview",
    tag = "broadcasts",
    security(("bearer" = [])),
    params(("group" = String, Path, description = "The group's handle")),
    request_body = SendBody,
    responses(
        (status = 200, description = "What send would do now", body = p::SendPreview),
        (status = 415, description = "The body is not application/json", body = ErrorAnswer),
        Refusals,
    )
)]
async fn send_preview(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(group): Segments<String>,
    JsonBody(body): JsonBody<SendBody>,
) -> Result<Json<p::SendPreview>, ApiError> {
    let as_member = acting_member(&shared, caller, body.as_member).await?;
    let request = p::Send {
        group,
        as_member,
        text: body.text,
        urgent: body.urgent,
    };
    run(&shared, caller, Op::SendPreview(request)).await
}

/// A JSON answer of `status` whose body is `body` as it is.
fn raw_json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A send under an idempotency key: claim, send, keep the answer (or release the claim).
async fn keyed_send(
    shared: Arc<Shared>,
    caller: Caller,
    token: i64,
    key: String,
    request: p::Send,
) -> Result<Response, ApiError> {
    let fingerprint = idempotency::fingerprint(&request);
    let deadline = tokio::time::Instant::now() + IN_FLIGHT_WAIT;
    let id = loop {
        let (k, f) = (key.clone(), fingerprint.clone());
        // Each store operation takes an HTTP store turn (`limits`), never one held while
        // waiting for another request's answer.
        let turn = shared.http_guard.store_turn().await;
        let claim = shared
            .store
            .call(move |s| idempotency::claim(s, token, &k, &f, clock::now()))
            .await?
            .map_err(ServiceError::from)?;
        drop(turn);
        match claim {
            Claim::Fresh(id) => break id,
            Claim::Replay { status, body } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED);
                let mut response = raw_json(status, body);
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return Ok(response);
            }
            Claim::InFlight if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Claim::InFlight => {
                return Err(ServiceError::from(idempotency::KeyError::InFlight { key }).into())
            }
        }
    };
    let turn = shared.http_guard.store_turn().await;
    let sent = handlers::send_keyed(&shared, caller, request, id).await;
    drop(turn);
    let _turn = shared.http_guard.store_turn().await;
    match sent {
        Ok(value) => {
            // Read as the documented type, as every other answer is.
            let result: p::SendResult = serde_json::from_value(value).map_err(|e| {
                ApiError::new(
                    ErrorCode::Internal,
                    format!("cannot read the handler's answer: {e}"),
                )
            })?;
            let body = serde_json::to_string(&result).map_err(|e| {
                ApiError::new(ErrorCode::Internal, format!("cannot write the answer: {e}"))
            })?;
            let kept = body.clone();
            if let Err(e) = shared
                .store
                .call(move |s| idempotency::keep_answer(s, id, 202, &kept))
                .await
            {
                // The broadcast is written and linked to the key: a repeat is refused, never
                // sent again (see service::idempotency).
                tracing::warn!(error = %e, "cannot keep the answer of an idempotent send");
            }
            Ok(raw_json(StatusCode::ACCEPTED, body))
        }
        Err(refused) => {
            if let Err(e) = shared
                .store
                .call(move |s| idempotency::release(s, id))
                .await
            {
                tracing::warn!(error = %e, "cannot release an idempotency key");
            }
            Err(refused.into())
        }
    }
}

/// `GET /v1/broadcasts`' query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BroadcastListQuery {
    /// Only this group's broadcasts.
    pub group: Option<String>,
    /// The `next` of the page before (a broadcast id: older ones follow).
    pub after: Option<i64>,
    /// Broadcasts on this page (a larger value is taken as the most a page holds).
    pub limit: Option<u32>,
}

/// The broadcasts the token may read, newest first, a page at a time (`broadcast list`).
#[utoipa::path(
    get,
    path = "/v1/broadcasts",
    tag = "broadcasts",
    security(("bearer" = [])),
    params(BroadcastListQuery),
    responses((status = 200, body = p::BroadcastListResult), Refusals)
)]
async fn broadcast_list(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Query(q): Query<BroadcastListQuery>,
) -> Result<Json<p::BroadcastListResult>, ApiError> {
    let op = Op::BroadcastList(p::BroadcastList {
        group: q.group,
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

/// A page's query where rows are counted by id: `after` (the `next` of the page before) and
/// `limit`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageById {
    /// The `next` of the page before.
    pub after: Option<i64>,
    /// Rows on this page (1 to the most a page holds).
    pub limit: Option<u32>,
}

/// A page's query where rows are counted by handle.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageByHandle {
    /// The `next` of the page before.
    pub after: Option<String>,
    /// Rows on this page (1 to the most a page holds).
    pub limit: Option<u32>,
}

/// A broadcast with a page of its deliveries, as `broadcast show --json`.
#[utoipa::path(
    get,
    path = "/v1/broadcasts/{id}",
    tag = "broadcasts",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The broadcast's number"), PageById),
    responses((status = 200, body = p::BroadcastShow), Refusals)
)]
async fn broadcast_show(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(id): Segments<String>,
    Query(q): Query<PageById>,
) -> Result<Json<p::BroadcastShow>, ApiError> {
    let op = Op::BroadcastShow(p::BroadcastShowArgs {
        broadcast: id_of(&id, "broadcast")?,
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

/// Cancel what of a broadcast is still queued (`broadcast cancel`).
#[utoipa::path(
    post,
    path = "/v1/broadcasts/{id}/cancel",
    tag = "broadcasts",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The broadcast's number")),
    responses((status = 200, body = p::BroadcastCancelled), Refusals)
)]
async fn broadcast_cancel(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(id): Segments<String>,
) -> Result<Json<p::BroadcastCancelled>, ApiError> {
    let op = Op::BroadcastCancel(p::BroadcastRef {
        broadcast: id_of(&id, "broadcast")?,
    });
    run(&shared, caller, op).await
}

// ---- Groups -------------------------------------------------------------------------------

/// The groups the token may see, by handle, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/groups",
    tag = "groups",
    security(("bearer" = [])),
    params(PageByHandle),
    responses((status = 200, body = p::GroupListResult), Refusals)
)]
async fn group_list(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Query(q): Query<PageByHandle>,
) -> Result<Json<p::GroupListResult>, ApiError> {
    let op = Op::GroupList(p::GroupList {
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

/// Create a group (management tokens only).
#[utoipa::path(
    post,
    path = "/v1/groups",
    tag = "groups",
    security(("bearer" = [])),
    request_body = p::GroupCreate,
    responses(
        (status = 201, body = p::GroupInfo),
        (status = 409, description = "The handle is taken (`already_exists`)", body = ErrorAnswer),
        Refusals,
        BodyRefusals,
    )
)]
async fn group_create(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    JsonBody(body): JsonBody<p::GroupCreate>,
) -> Result<(StatusCode, Json<p::GroupInfo>), ApiError> {
    created(&shared, caller, Op::GroupCreate(body)).await
}

/// A group, its quota use and a page of its members (`group show`).
#[utoipa::path(
    get,
    path = "/v1/groups/{group}",
    tag = "groups",
    security(("bearer" = [])),
    params(("group" = String, Path, description = "The group's handle"), PageByHandle),
    responses((status = 200, body = p::GroupShow), Refusals)
)]
async fn group_show(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(group): Segments<String>,
    Query(q): Query<PageByHandle>,
) -> Result<Json<p::GroupShow>, ApiError> {
    let op = Op::GroupShow(p::GroupShowArgs {
        group,
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

/// Change a group (management tokens only): fields left out are left alone, `null` clears an
/// override. The body's `group`, if given, must be the path's.
#[utoipa::path(
    patch,
    path = "/v1/groups/{group}",
    tag = "groups",
    security(("bearer" = [])),
    params(("group" = String, Path, description = "The group's handle")),
    request_body = p::GroupSet,
    responses((status = 200, body = p::GroupInfo), Refusals, BodyRefusals)
)]
async fn group_set(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(group): Segments<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<p::GroupInfo>, ApiError> {
    let set: p::GroupSet = typed(named(body, "group", &group)?)?;
    run(&shared, caller, Op::GroupSet(set)).await
}

/// `DELETE /v1/groups/{group}`'s query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Also when broadcasts of the group are still being sent (their queued deliveries are
    /// cancelled).
    #[serde(default)]
    pub force: bool,
}

/// Delete a group (management tokens only).
#[utoipa::path(
    delete,
    path = "/v1/groups/{group}",
    tag = "groups",
    security(("bearer" = [])),
    params(("group" = String, Path, description = "The group's handle"), DeleteQuery),
    responses((status = 200, body = p::Done), Refusals)
)]
async fn group_delete(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(group): Segments<String>,
    Query(q): Query<DeleteQuery>,
) -> Result<Json<p::Done>, ApiError> {
    let op = Op::GroupDelete(p::GroupRef {
        group,
        force: q.force,
    });
    run(&shared, caller, op).await
}

// ---- Memberships --------------------------------------------------------------------------

/// `PUT /v1/groups/{group}/members/{member}`'s body (optional): the role to join with.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    /// Default: `member`.
    #[serde(default)]
    pub role: Option<p::Role>,
}

/// `PUT /v1/groups/{group}/members/{member}/role`'s body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub role: p::Role,
}

/// Add a member to a group (management tokens only); the body may be left out.
#[utoipa::path(
    put,
    path = "/v1/groups/{group}/members/{member}",
    tag = "memberships",
    security(("bearer" = [])),
    params(
        ("group" = String, Path, description = "The group's handle"),
        ("member" = String, Path, description = "The member's handle"),
    ),
    request_body(content = Option<JoinBody>, description = "The role (default: member)"),
    responses(
        (status = 201, body = p::MembershipInfo),
        (status = 409, description = "Already in the group (`already_exists`)", body = ErrorAnswer),
        Refusals,
        BodyRefusals,
    )
)]
async fn member_join(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments((group, member)): Segments<(String, String)>,
    req: Request,
) -> Result<(StatusCode, Json<p::MembershipInfo>), ApiError> {
    // The body may be left out (the role is then `member`).
    let typed_body = content_type_is(req.headers(), "application/json");
    let bytes = body_bytes(req, shared.config.http.max_body_bytes, "max_body_bytes").await?;
    let role = if bytes.is_empty() {
        None
    } else if !typed_body {
        return Err(not_json());
    } else {
        p::from_json_strict::<JoinBody>(&bytes)
            .map_err(bad_request)?
            .role
    };
    let op = Op::MemberJoin(p::MemberJoin {
        member,
        group,
        role,
    });
    created(&shared, caller, op).await
}

/// Take a member out of a group (management tokens only).
#[utoipa::path(
    delete,
    path = "/v1/groups/{group}/members/{member}",
    tag = "memberships",
    security(("bearer" = [])),
    params(
        ("group" = String, Path, description = "The group's handle"),
        ("member" = String, Path, description = "The member's handle"),
    ),
    responses((status = 200, body = p::Done), Refusals)
)]
async fn member_leave(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments((group, member)): Segments<(String, String)>,
) -> Result<Json<p::Done>, ApiError> {
    run(
        &shared,
        caller,
        Op::MemberLeave(p::Membership { member, group }),
    )
    .await
}

/// Set a member's role in a group (management tokens only).
#[utoipa::path(
    put,
    path = "/v1/groups/{group}/members/{member}/role",
    tag = "memberships",
    security(("bearer" = [])),
    params(
        ("group" = String, Path, description = "The group's handle"),
        ("member" = String, Path, description = "The member's handle"),
    ),
    request_body = RoleBody,
    responses((status = 200, body = p::MembershipInfo), Refusals, BodyRefusals)
)]
async fn member_role(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments((group, member)): Segments<(String, String)>,
    JsonBody(body): JsonBody<RoleBody>,
) -> Result<Json<p::MembershipInfo>, ApiError> {
    let op = Op::MemberRole(p::MemberRole {
        member,
        group,
        role: body.role,
    });
    run(&shared, caller, op).await
}

/// Opt a member out of a group's messages (management tokens only).
#[utoipa::path(
    post,
    path = "/v1/groups/{group}/members/{member}/opt-out",
    tag = "memberships",
    security(("bearer" = [])),
    params(
        ("group" = String, Path, description = "The group's handle"),
        ("member" = String, Path, description = "The member's handle"),
    ),
    responses((status = 200, body = p::MembershipInfo), Refusals)
)]
async fn member_opt_out(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments((group, member)): Segments<(String, String)>,
) -> Result<Json<p::MembershipInfo>, ApiError> {
    run(
        &shared,
        caller,
        Op::MemberOptOut(p::Membership { member, group }),
    )
    .await
}

/// Opt a member back in (management tokens only).
#[utoipa::path(
    post,
    path = "/v1/groups/{group}/members/{member}/opt-in",
    tag = "memberships",
    security(("bearer" = [])),
    params(
        ("group" = String, Path, description = "The group's handle"),
        ("member" = String, Path, description = "The member's handle"),
    ),
    responses((status = 200, body = p::MembershipInfo), Refusals)
)]
async fn member_opt_in(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments((group, member)): Segments<(String, String)>,
) -> Result<Json<p::MembershipInfo>, ApiError> {
    run(
        &shared,
        caller,
        Op::MemberOptIn(p::Membership { member, group }),
    )
    .await
}

// ---- Members ------------------------------------------------------------------------------

/// `GET /v1/members`' query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberListQuery {
    /// Only this group's members (with their role there).
    pub group: Option<String>,
    /// The `next` of the page before.
    pub after: Option<String>,
    /// Members on this page.
    pub limit: Option<u32>,
}

/// Members, by handle, a page at a time (all of them: management tokens; a group's: those
/// who may read it).
#[utoipa::path(
    get,
    path = "/v1/members",
    tag = "members",
    security(("bearer" = [])),
    params(MemberListQuery),
    responses((status = 200, body = p::MemberListResult), Refusals)
)]
async fn member_list(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Query(q): Query<MemberListQuery>,
) -> Result<Json<p::MemberListResult>, ApiError> {
    let op = Op::MemberList(p::MemberList {
        group: q.group,
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

/// Add a member (management tokens only).
#[utoipa::path(
    post,
    path = "/v1/members",
    tag = "members",
    security(("bearer" = [])),
    request_body = p::MemberAdd,
    responses(
        (status = 201, body = p::MemberInfo),
        (status = 409, description = "The handle or uid is taken (`already_exists`)", body = ErrorAnswer),
        Refusals,
        BodyRefusals,
    )
)]
async fn member_add(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    JsonBody(body): JsonBody<p::MemberAdd>,
) -> Result<(StatusCode, Json<p::MemberInfo>), ApiError> {
    created(&shared, caller, Op::MemberAdd(body)).await
}

/// A member and a page of their groups (`member show`).
#[utoipa::path(
    get,
    path = "/v1/members/{member}",
    tag = "members",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "The member's handle"), PageByHandle),
    responses((status = 200, body = p::MemberShow), Refusals)
)]
async fn member_show(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(member): Segments<String>,
    Query(q): Query<PageByHandle>,
) -> Result<Json<p::MemberShow>, ApiError> {
    let op = Op::MemberShow(p::MemberShowArgs {
        member,
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

/// Change a member (management tokens only). The body's `member`, if given, must be the
/// path's.
#[utoipa::path(
    patch,
    path = "/v1/members/{member}",
    tag = "members",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "The member's handle")),
    request_body = p::MemberSet,
    responses((status = 200, body = p::MemberInfo), Refusals, BodyRefusals)
)]
async fn member_set(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(member): Segments<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<p::MemberInfo>, ApiError> {
    let set: p::MemberSet = typed(named(body, "member", &member)?)?;
    run(&shared, caller, Op::MemberSet(set)).await
}

/// Remove a member (management tokens only).
#[utoipa::path(
    delete,
    path = "/v1/members/{member}",
    tag = "members",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "The member's handle")),
    responses((status = 200, body = p::Done), Refusals)
)]
async fn member_remove(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(member): Segments<String>,
) -> Result<Json<p::Done>, ApiError> {
    run(&shared, caller, Op::MemberRemove(p::MemberRef { member })).await
}

/// `POST /v1/members/import`'s query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Import the good rows even when some are bad (they are listed in the answer).
    #[serde(default)]
    pub skip_bad: bool,
    /// A preview: check every row and answer what the import would do (`dry_run: true` in
    /// the answer), writing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Import members from a CSV file (management tokens only; the socket's importer, README:
/// CSV import). With a bad row and no `skip_bad`, nothing is imported: 422, each bad row named
/// by its line. With `dry_run`, nothing is written either way: the answer is what the import
/// would do (with `skip_bad`, the bad rows it would leave out).
#[utoipa::path(
    post,
    path = "/v1/members/import",
    tag = "members",
    security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file, header row first (at most [http] max_import_bytes)"),
    responses(
        (status = 200, body = p::ImportResult),
        (status = 413, description = "Longer than [http] max_import_bytes (`too_large`)", body = ErrorAnswer),
        (status = 415, description = "The body is not text/csv", body = ErrorAnswer),
        Refusals,
    )
)]
async fn member_import(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Query(q): Query<ImportQuery>,
    req: Request,
) -> Result<Json<p::ImportResult>, ApiError> {
    if !content_type_is(req.headers(), "text/csv") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "this route takes the CSV file as the body: send 'Content-Type: text/csv'",
        ));
    }
    let bytes = body_bytes(req, shared.config.http.max_import_bytes, "max_import_bytes").await?;
    let csv = String::from_utf8(bytes.to_vec())
        .map_err(|e| bad_request(format!("the CSV is not UTF-8: {e}")))?;
    let op = Op::MemberImport(p::MemberImport {
        csv,
        skip_bad: q.skip_bad,
        dry_run: q.dry_run,
    });
    run(&shared, caller, op).await
}

// ---- Inbox and modems ---------------------------------------------------------------------

/// `GET /v1/inbox`'s query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only replies to this group's broadcasts.
    pub group: Option<String>,
    /// Only from this number or sender name.
    pub from: Option<String>,
    /// Only messages not marked read.
    #[serde(default)]
    pub unread: bool,
    /// Only replies to this broadcast.
    pub broadcast: Option<i64>,
    /// The `next` of the page before (pages go from the newest back).
    pub after: Option<i64>,
    /// Messages on this page (1 to 16).
    pub limit: Option<u32>,
}

/// Incoming messages the token may read, newest first (`inbox list`).
#[utoipa::path(
    get,
    path = "/v1/inbox",
    tag = "inbox",
    security(("bearer" = [])),
    params(InboxQuery),
    responses((status = 200, body = p::InboxListResult), Refusals)
)]
async fn inbox_list(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Query(q): Query<InboxQuery>,
) -> Result<Json<p::InboxListResult>, ApiError> {
    let op = Op::InboxList(p::InboxList {
        group: q.group,
        from: q.from,
        unread: q.unread,
        broadcast: q.broadcast,
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

/// One incoming message (`inbox show`).
#[utoipa::path(
    get,
    path = "/v1/inbox/{id}",
    tag = "inbox",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The message's number")),
    responses((status = 200, body = p::InboxItem), Refusals)
)]
async fn inbox_show(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(id): Segments<String>,
) -> Result<Json<p::InboxItem>, ApiError> {
    let op = Op::InboxShow(p::InboxRef {
        id: id_of(&id, "message")?,
    });
    run(&shared, caller, op).await
}

/// Mark a message read.
#[utoipa::path(
    post,
    path = "/v1/inbox/{id}/read",
    tag = "inbox",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The message's number")),
    responses((status = 200, body = p::InboxMarked), Refusals)
)]
async fn inbox_mark_read(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(id): Segments<String>,
) -> Result<Json<p::InboxMarked>, ApiError> {
    let op = Op::InboxMarkRead(p::InboxIds {
        ids: vec![id_of(&id, "message")?],
    });
    run(&shared, caller, op).await
}

/// The modems of the pool (`modem list`; IMSIs for management tokens only).
#[utoipa::path(
    get,
    path = "/v1/modems",
    tag = "modems",
    security(("bearer" = [])),
    responses((status = 200, body = p::ModemListResult), Refusals)
)]
async fn modem_list(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
) -> Result<Json<p::ModemListResult>, ApiError> {
    run(&shared, caller, Op::ModemList(p::Empty {})).await
}

/// Lift a SIM's quarantine (management tokens only); the modem by its device path
/// (URL-encoded) or its SIM's IMSI.
#[utoipa::path(
    post,
    path = "/v1/modems/{modem}/release",
    tag = "modems",
    security(("bearer" = [])),
    params(("modem" = String, Path, description = "Device path (URL-encoded) or IMSI")),
    responses((status = 200, body = p::ModemReleaseResult), Refusals)
)]
async fn modem_release(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(modem): Segments<String>,
) -> Result<Json<p::ModemReleaseResult>, ApiError> {
    run(&shared, caller, Op::ModemRelease(p::ModemRef { modem })).await
}

/// 415 for a route that takes JSON.
fn not_json() -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedMediaType,
        "this route takes a JSON body: send 'Content-Type: application/json'",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paths registered with a plain `.route("...")` in this directory's files: such a
    /// route is documented only if [`ApiDoc`] lists it.
    fn plain_routes() -> Vec<(String, String)> {
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/daemon/http"
        ))];
        let mut files = Vec::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    // The web console's pages (`web/`) are HTML for people, not routes of
                    // the API: they are not in its document.
                    if !path.ends_with("web") {
                        dirs.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        let mut found = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut rest = text.as_str();
            while let Some(at) = rest.find(".route(") {
                rest = rest[at + ".route(".len()..].trim_start();
                // A path literal (not this test's own mentions of `.route(`).
                if let Some(literal) = rest.strip_prefix("\"/") {
                    let end = literal.find('"').unwrap();
                    found.push((path.display().to_string(), format!("/{}", &literal[..end])));
                }
            }
        }
        found
    }

    #[test]
    fn every_route_of_the_http_module_is_documented() {
        let doc = document();
        let plain = plain_routes();
        assert!(
            plain.iter().any(|(_, p)| p == "/healthz"),
            "the scan finds mod.rs's routes: {plain:?}"
        );
        assert!(
            plain.iter().any(|(_, p)| p == "/v1/dingtalk/{robot}"),
            "the scan finds the routes of subdirectories: {plain:?}"
        );
        for (file, path) in plain {
            assert!(
                doc.paths.paths.contains_key(&path),
                "{file} registers {path} with .route() but the OpenAPI document does not have \
                 it: give its handler a #[utoipa::path] and register it in routes::api() with \
                 routes!(...), or list it in ApiDoc's paths"
            );
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_with_the_protocol_schemas() {
        let json: Value = serde_json::from_str(&document().to_json().unwrap()).unwrap();
        assert!(
            json["openapi"].as_str().unwrap().starts_with("3.1"),
            "{json}"
        );
        let schemas = &json["components"]["schemas"];
        for name in [
            "SendResult",
            "BroadcastShow",
            "ErrorAnswer",
            "ErrorCode",
            "GroupShow",
        ] {
            assert!(schemas.get(name).is_some(), "{name} missing");
        }
        // The error codes are the protocol's, by their wire names.
        let codes = schemas["ErrorCode"].to_string();
        assert!(
            codes.contains("quota_exceeded") && codes.contains("not_super_admin"),
            "{codes}"
        );
        assert!(json["paths"]["/v1/groups/{group}/broadcasts"]["post"].is_object());
    }
}
