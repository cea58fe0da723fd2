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
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{call_value, ApiError, Authed};
use crate::clock;
use crate::daemon::handlers;
use crate::daemon::Shared;
use crate::protocol::{self as p, ErrorCode, Request as Op};
use crate::service::idempotency::{self, Claim};
use crate::service::{Caller, Principal, ServiceError};

/// How long a repeat waits for the first request with its key to be answered.
pub const IN_FLIGHT_WAIT: Duration = Duration::from_secs(10);

/// The routes, over `shared` (for the import's body limit).
pub fn router(shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    let import_limit = usize::try_from(shared.config.http.max_import_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/v1/groups/{group}/broadcasts", post(send))
        .route("/v1/broadcasts", get(broadcast_list))
        .route("/v1/broadcasts/{id}", get(broadcast_show))
        .route("/v1/broadcasts/{id}/cancel", post(broadcast_cancel))
        .route("/v1/groups", get(group_list).post(group_create))
        .route(
            "/v1/groups/{group}",
            get(group_show).patch(group_set).delete(group_delete),
        )
        .route(
            "/v1/groups/{group}/members/{member}",
            put(member_join).delete(member_leave),
        )
        .route("/v1/groups/{group}/members/{member}/role", put(member_role))
        .route(
            "/v1/groups/{group}/members/{member}/opt-out",
            post(member_opt_out),
        )
        .route(
            "/v1/groups/{group}/members/{member}/opt-in",
            post(member_opt_in),
        )
        .route("/v1/members", get(member_list).post(member_add))
        .route(
            "/v1/members/import",
            post(member_import).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route(
            "/v1/members/{member}",
            get(member_show).patch(member_set).delete(member_remove),
        )
        .route("/v1/inbox", get(inbox_list))
        .route("/v1/inbox/{id}", get(inbox_show))
        .route("/v1/inbox/{id}/read", post(inbox_mark_read))
        .route("/v1/modems", get(modem_list))
        .route("/v1/modems/{modem}/release", post(modem_release))
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

/// The body's bytes, or 413 when it is larger than the route takes.
async fn body_bytes(req: Request, state: &Arc<Shared>) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::TooLarge,
                "the request body is larger than the daemon takes ([http] max_body_bytes, or \
                 max_import_bytes for CSV imports)",
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
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "this route takes a JSON body: send 'Content-Type: application/json'",
            ));
        }
        let bytes = body_bytes(req, state).await?;
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

async fn run(shared: &Arc<Shared>, caller: Caller, op: Op) -> Result<Json<Value>, ApiError> {
    Ok(Json(call_value(shared, caller, op).await?))
}

async fn created(shared: &Arc<Shared>, caller: Caller, op: Op) -> Result<Response, ApiError> {
    let value = call_value(shared, caller, op).await?;
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

// ---- Broadcasts ---------------------------------------------------------------------------

/// `POST /v1/groups/{group}/broadcasts`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    pub text: String,
    /// The sending member's handle (a super-admin of the group). Default: the token's member;
    /// a management token must name one.
    #[serde(default, rename = "as")]
    pub as_member: Option<String>,
    /// Start even inside the quiet hours (where the group allows it).
    #[serde(default)]
    pub urgent: bool,
}

/// `POST /v1/groups/{group}/broadcasts`: as the socket's `send`, 202 with its result.
async fn send(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(group): Segments<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SendBody>,
) -> Result<Response, ApiError> {
    let as_member = match (body.as_member, caller.who) {
        (Some(m), _) => m,
        (
            None,
            Principal::Token {
                member: Some(id), ..
            },
        ) => shared
            .store
            .call(move |s| s.member_by_id(id))
            .await?
            .map(|m| m.handle)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnknownMember,
                    "this token's member no longer exists",
                )
            })?,
        (None, _) => {
            return Err(bad_request(
                "a management token acts as no member: name the sending member in \"as\"",
            ))
        }
    };
    let request = p::Send {
        group,
        as_member,
        text: body.text,
        urgent: body.urgent,
    };
    let key = match headers.get("idempotency-key") {
        None => return accepted(call_value(&shared, caller, Op::Send(request)).await?),
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

/// The 202 answer of an accepted broadcast.
fn accepted(value: Value) -> Result<Response, ApiError> {
    Ok((StatusCode::ACCEPTED, Json(value)).into_response())
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
    let claim = loop {
        let (k, f) = (key.clone(), fingerprint.clone());
        let claim = shared
            .store
            .call(move |s| idempotency::claim(s, token, &k, &f, clock::now()))
            .await?
            .map_err(ServiceError::from)?;
        match claim {
            Claim::InFlight if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Claim::InFlight => {
                return Err(ServiceError::from(idempotency::KeyError::InFlight { key }).into())
            }
            other => break other,
        }
    };
    let id = match claim {
        Claim::Fresh(id) => id,
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED);
            let mut response = (status, body).into_response();
            let h = response.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h.insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(response);
        }
        Claim::InFlight => unreachable!("waited for above"),
    };
    match handlers::send_keyed(&shared, caller, request, id).await {
        Ok(value) => {
            let body = value.to_string();
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
            let mut response = (StatusCode::ACCEPTED, body).into_response();
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Ok(response)
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

/// `GET /v1/broadcasts`'s query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BroadcastListQuery {
    pub group: Option<String>,
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

async fn broadcast_list(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Query(q): Query<BroadcastListQuery>,
) -> Result<Json<Value>, ApiError> {
    let op = Op::BroadcastList(p::BroadcastList {
        group: q.group,
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

/// A page's query: `after` (the `next` of the page before) and `limit`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery<C> {
    pub after: Option<C>,
    pub limit: Option<u32>,
}

async fn broadcast_show(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(id): Segments<String>,
    Query(q): Query<PageQuery<i64>>,
) -> Result<Json<Value>, ApiError> {
    let op = Op::BroadcastShow(p::BroadcastShowArgs {
        broadcast: id_of(&id, "broadcast")?,
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

async fn broadcast_cancel(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(id): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    let op = Op::BroadcastCancel(p::BroadcastRef {
        broadcast: id_of(&id, "broadcast")?,
    });
    run(&shared, caller, op).await
}

// ---- Groups -------------------------------------------------------------------------------

async fn group_list(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Query(q): Query<PageQuery<String>>,
) -> Result<Json<Value>, ApiError> {
    let op = Op::GroupList(p::GroupList {
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

async fn group_create(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    JsonBody(body): JsonBody<p::GroupCreate>,
) -> Result<Response, ApiError> {
    created(&shared, caller, Op::GroupCreate(body)).await
}

async fn group_show(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(group): Segments<String>,
    Query(q): Query<PageQuery<String>>,
) -> Result<Json<Value>, ApiError> {
    let op = Op::GroupShow(p::GroupShowArgs {
        group,
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

async fn group_set(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(group): Segments<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let set: p::GroupSet = typed(named(body, "group", &group)?)?;
    run(&shared, caller, Op::GroupSet(set)).await
}

/// `DELETE /v1/groups/{group}`'s query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Also when broadcasts of the group are still being sent (their queued deliveries are
    /// cancelled).
    #[serde(default)]
    pub force: bool,
}

async fn group_delete(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(group): Segments<String>,
    Query(q): Query<DeleteQuery>,
) -> Result<Json<Value>, ApiError> {
    let op = Op::GroupDelete(p::GroupRef {
        group,
        force: q.force,
    });
    run(&shared, caller, op).await
}

// ---- Memberships --------------------------------------------------------------------------

/// `PUT /v1/groups/{group}/members/{member}`'s body (optional): the role to join with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    #[serde(default)]
    pub role: Option<p::Role>,
}

/// `PUT /v1/groups/{group}/members/{member}/role`'s body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub role: p::Role,
}

async fn member_join(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments((group, member)): Segments<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // The body may be left out (the role is then `member`).
    let role = if body.is_empty() {
        None
    } else if !content_type_is(&headers, "application/json") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "this route takes a JSON body: send 'Content-Type: application/json'",
        ));
    } else {
        p::from_json_strict::<JoinBody>(&body)
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

async fn member_leave(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments((group, member)): Segments<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    run(
        &shared,
        caller,
        Op::MemberLeave(p::Membership { member, group }),
    )
    .await
}

async fn member_role(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments((group, member)): Segments<(String, String)>,
    JsonBody(body): JsonBody<RoleBody>,
) -> Result<Json<Value>, ApiError> {
    let op = Op::MemberRole(p::MemberRole {
        member,
        group,
        role: body.role,
    });
    run(&shared, caller, op).await
}

async fn member_opt_out(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments((group, member)): Segments<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    run(
        &shared,
        caller,
        Op::MemberOptOut(p::Membership { member, group }),
    )
    .await
}

async fn member_opt_in(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments((group, member)): Segments<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    run(
        &shared,
        caller,
        Op::MemberOptIn(p::Membership { member, group }),
    )
    .await
}

// ---- Members ------------------------------------------------------------------------------

/// `GET /v1/members`' query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberListQuery {
    pub group: Option<String>,
    pub after: Option<String>,
    pub limit: Option<u32>,
}

async fn member_list(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Query(q): Query<MemberListQuery>,
) -> Result<Json<Value>, ApiError> {
    let op = Op::MemberList(p::MemberList {
        group: q.group,
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

async fn member_add(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    JsonBody(body): JsonBody<p::MemberAdd>,
) -> Result<Response, ApiError> {
    created(&shared, caller, Op::MemberAdd(body)).await
}

async fn member_show(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(member): Segments<String>,
    Query(q): Query<PageQuery<String>>,
) -> Result<Json<Value>, ApiError> {
    let op = Op::MemberShow(p::MemberShowArgs {
        member,
        limit: q.limit,
        after: q.after,
    });
    run(&shared, caller, op).await
}

async fn member_set(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(member): Segments<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let set: p::MemberSet = typed(named(body, "member", &member)?)?;
    run(&shared, caller, Op::MemberSet(set)).await
}

async fn member_remove(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(member): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    run(&shared, caller, Op::MemberRemove(p::MemberRef { member })).await
}

/// `POST /v1/members/import`'s query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Import the good rows even when some are bad (they are listed in the answer).
    #[serde(default)]
    pub skip_bad: bool,
}

/// `POST /v1/members/import` (`Content-Type: text/csv`): the socket's CSV import; with bad
/// rows (and no `skip_bad`) 422, each named by its line.
async fn member_import(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Query(q): Query<ImportQuery>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    if !content_type_is(req.headers(), "text/csv") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "this route takes the CSV file as the body: send 'Content-Type: text/csv'",
        ));
    }
    let bytes = body_bytes(req, &shared).await?;
    let csv = String::from_utf8(bytes.to_vec())
        .map_err(|e| bad_request(format!("the CSV is not UTF-8: {e}")))?;
    let op = Op::MemberImport(p::MemberImport {
        csv,
        skip_bad: q.skip_bad,
    });
    run(&shared, caller, op).await
}

// ---- Inbox and modems ---------------------------------------------------------------------

/// `GET /v1/inbox`'s query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    pub group: Option<String>,
    pub from: Option<String>,
    #[serde(default)]
    pub unread: bool,
    pub broadcast: Option<i64>,
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

async fn inbox_list(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Query(q): Query<InboxQuery>,
) -> Result<Json<Value>, ApiError> {
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

async fn inbox_show(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(id): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    let op = Op::InboxShow(p::InboxRef {
        id: id_of(&id, "message")?,
    });
    run(&shared, caller, op).await
}

async fn inbox_mark_read(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(id): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    let op = Op::InboxMarkRead(p::InboxIds {
        ids: vec![id_of(&id, "message")?],
    });
    run(&shared, caller, op).await
}

async fn modem_list(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
) -> Result<Json<Value>, ApiError> {
    run(&shared, caller, Op::ModemList(p::Empty {})).await
}

async fn modem_release(
    State(shared): State<Arc<Shared>>,
    Authed(caller): Authed,
    Segments(modem): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    run(&shared, caller, Op::ModemRelease(p::ModemRef { modem })).await
}
