//! One function per request: check who asks, call the rules or the store, shape the answer.
//! The connection code (`listener.rs`) frames lines; this file knows what they mean.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::Shared;
use crate::clock;
use crate::protocol::{self as p, ErrorCode, Request, Response};
use crate::scheduler::pool::{Job, Pinning};
use crate::service::{self, AdminChange, AdminOutcome, ImportOptions, SendRequest, ServiceError};
use crate::store::{
    BroadcastDetail, BroadcastId, BroadcastSummary, DeliveryRow, Group, GroupChange, Member,
    MemberChange, NewGroup, NewMember, Progress, QueuedDelivery, Role, StoreError,
};

/// Who is on the other end of the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
}

impl Peer {
    /// Root or one of `admin_uids`.
    pub fn is_admin(&self, shared: &Shared) -> bool {
        self.uid == 0 || shared.config.daemon.admin_uids.contains(&self.uid)
    }

    fn actor(&self) -> String {
        if self.uid == 0 {
            "root".into()
        } else {
            format!("uid:{}", self.uid)
        }
    }
}

/// A refusal or failure as the protocol carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: ErrorCode,
    pub message: String,
}

impl Failure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub fn into_response(self, id: u64) -> Response {
        Response::err(id, self.code, self.message)
    }
}

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Self {
        let code = match &e {
            ServiceError::UnknownGroup(_) => ErrorCode::UnknownGroup,
            ServiceError::UnknownMember(_) => ErrorCode::UnknownMember,
            ServiceError::NotSuperAdmin(_) => ErrorCode::NotSuperAdmin,
            ServiceError::Quota(_) => ErrorCode::QuotaExceeded,
            ServiceError::Sensitive(_) => ErrorCode::SensitiveWords,
            ServiceError::TooManyParts(_) => ErrorCode::TooManyParts,
            ServiceError::NoRecipients(_) => ErrorCode::NoRecipients,
            ServiceError::EmptyBody(_) | ServiceError::Phone { .. } | ServiceError::Import(_) => {
                ErrorCode::InvalidValue
            }
            ServiceError::Store(s) => return Failure::from(s.clone()),
        };
        Failure::new(code, e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::UnknownGroup(_) => ErrorCode::UnknownGroup,
            StoreError::UnknownMember(_) => ErrorCode::UnknownMember,
            StoreError::UnknownBroadcast(_) => ErrorCode::UnknownBroadcast,
            StoreError::DuplicateGroup(_)
            | StoreError::DuplicateMember(_)
            | StoreError::UidTaken { .. }
            | StoreError::AlreadyMember { .. } => ErrorCode::AlreadyExists,
            StoreError::Closed => ErrorCode::ShuttingDown,
            e if e.is_internal() => ErrorCode::Storage,
            _ => ErrorCode::InvalidValue,
        };
        let message = if code == ErrorCode::Storage {
            format!("the database refused the change, nothing was accepted: {e}")
        } else {
            e.to_string()
        };
        Failure::new(code, message)
    }
}

type Answer = Result<Value, Failure>;

fn now() -> DateTime<Utc> {
    clock::now()
}

/// Answers every request but `hello` and `subscribe` (handled by the connection).
pub async fn handle(shared: &Arc<Shared>, peer: Peer, request: Request) -> Answer {
    if request.is_management() && !peer.is_admin(shared) {
        return Err(Failure::new(
            ErrorCode::PermissionDenied,
            format!(
                "unix user {} may not manage groups and members (root or admin_uids only)",
                peer.uid
            ),
        ));
    }
    match request {
        Request::Hello(_) | Request::Subscribe(_) => Err(Failure::new(
            ErrorCode::BadRequest,
            "hello and subscribe are handled by the connection",
        )),
        Request::Status(_) => status(shared).await,
        Request::ModemList(_) => Ok(json!({"modems": shared.modem_list().await})),
        Request::Send(s) => send(shared, peer, s).await,
        Request::BroadcastList(l) => {
            let limit = l.limit.unwrap_or(20).min(1000);
            let list = shared
                .store
                .call(move |s| s.broadcasts(l.group.as_deref(), limit))
                .await?;
            Ok(json!({"broadcasts": list.iter().map(summary_json).collect::<Vec<_>>()}))
        }
        Request::BroadcastShow(b) => {
            let detail = shared
                .store
                .call(move |s| s.show_broadcast(BroadcastId(b.broadcast)))
                .await?;
            Ok(detail_json(&detail))
        }
        Request::GroupList(_) => {
            let groups = shared.store.call(|s| s.groups()).await?;
            Ok(json!({"groups": groups.iter().map(|g| group_json(shared, g)).collect::<Vec<_>>()}))
        }
        Request::GroupShow(g) => group_show(shared, g.group).await,
        Request::MemberList(l) => member_list(shared, l.group).await,
        Request::MemberShow(m) => member_show(shared, m.member).await,
        Request::MemberImport(i) => {
            let settings = shared.settings.clone();
            let actor = peer.actor();
            let report = shared
                .store
                .call(move |s| {
                    service::import_members_csv(
                        s,
                        &settings,
                        &actor,
                        i.csv.as_bytes(),
                        ImportOptions {
                            skip_bad: i.skip_bad,
                        },
                        now(),
                    )
                })
                .await?;
            Ok(json!({
                "members_created": report.members_created,
                "members_updated": report.members_updated,
                "members_unchanged": report.members_unchanged,
                "memberships_added": report.memberships_added,
                "memberships_changed": report.memberships_changed,
                "skipped": report.skipped.iter().map(|b| json!({"line": b.line, "reason": b.reason})).collect::<Vec<_>>(),
            }))
        }
        other => admin(shared, peer, other).await,
    }
}

async fn admin(shared: &Arc<Shared>, peer: Peer, request: Request) -> Answer {
    let pair = match &request {
        Request::MemberJoin(j) => Some((j.member.clone(), j.group.clone())),
        Request::MemberLeave(m) | Request::MemberOptOut(m) | Request::MemberOptIn(m) => {
            Some((m.member.clone(), m.group.clone()))
        }
        Request::MemberRole(r) => Some((r.member.clone(), r.group.clone())),
        _ => None,
    };
    // A new pinning also applies to the group's deliveries already waiting.
    let repin = matches!(&request, Request::GroupSet(g) if g.pinned_modems.is_some() || g.pin_fallback.is_some());
    let change = match request {
        Request::GroupCreate(g) => AdminChange::CreateGroup(NewGroup {
            handle: g.handle,
            name: g.name,
            header: g.header,
            daily_quota: g.daily_quota,
            monthly_quota: g.monthly_quota,
            pinned_modems: Vec::new(),
            modem_fallback: true,
        }),
        Request::GroupSet(g) => AdminChange::UpdateGroup {
            handle: g.group,
            change: GroupChange {
                name: g.name,
                header: g.header,
                daily_quota: g.daily_quota,
                monthly_quota: g.monthly_quota,
                pinned_modems: g.pinned_modems,
                modem_fallback: g.pin_fallback,
            },
        },
        Request::GroupDelete(g) => AdminChange::DeleteGroup { handle: g.group },
        Request::MemberAdd(m) => {
            let mut new = NewMember::new(m.handle, m.name, m.phone);
            new.unix_uid = m.uid;
            AdminChange::AddMember(new)
        }
        Request::MemberSet(m) => AdminChange::UpdateMember {
            handle: m.member,
            change: MemberChange {
                name: m.name,
                phone: m.phone,
                valid: m.valid,
                sms_enabled: m.sms_enabled,
                unix_uid: m.uid,
            },
        },
        Request::MemberRemove(m) => AdminChange::DeleteMember { handle: m.member },
        Request::MemberJoin(j) => AdminChange::Join {
            group: j.group,
            member: j.member,
            role: role(j.role.unwrap_or(p::Role::Member)),
        },
        Request::MemberLeave(m) => AdminChange::Leave {
            group: m.group,
            member: m.member,
        },
        Request::MemberRole(r) => AdminChange::SetRole {
            group: r.group,
            member: r.member,
            role: role(r.role),
        },
        Request::MemberOptOut(m) => AdminChange::OptOut {
            group: m.group,
            member: m.member,
        },
        Request::MemberOptIn(m) => AdminChange::OptIn {
            group: m.group,
            member: m.member,
        },
        other => {
            return Err(Failure::new(
                ErrorCode::Internal,
                format!("unrouted request {other:?}"),
            ))
        }
    };
    let settings = shared.settings.clone();
    let actor = peer.actor();
    let outcome = shared
        .store
        .call(move |s| service::apply(s, &settings, &actor, change, now()))
        .await?;
    Ok(match outcome {
        AdminOutcome::Group(g) => {
            if repin {
                shared.scheduler.repin(g.id, Arc::new(pinning(&g)));
            }
            group_json(shared, &g)
        }
        AdminOutcome::Member(m) => member_json(&m),
        AdminOutcome::Membership(m) => {
            let (member, group) = pair.unwrap_or_default();
            json!({"member": member, "group": group, "role": m.role.as_str(), "opted_out": m.opted_out})
        }
        AdminOutcome::Done => match pair {
            Some((member, group)) => json!({"member": member, "group": group, "done": true}),
            None => json!({"done": true}),
        },
    })
}

fn role(r: p::Role) -> Role {
    match r {
        p::Role::SuperAdmin => Role::SuperAdmin,
        p::Role::Admin => Role::Admin,
        p::Role::Member => Role::Member,
    }
}

async fn send(shared: &Arc<Shared>, peer: Peer, s: p::Send) -> Answer {
    if shared.is_shutting_down() {
        return Err(Failure::new(
            ErrorCode::ShuttingDown,
            "the daemon is stopping and takes no new broadcasts",
        ));
    }
    // A member bound to a Unix user may only be acted as by that user (or an admin).
    let handle = s.as_member.clone();
    if let Some(member) = shared.store.call(move |st| st.member(&handle)).await? {
        if let Some(uid) = member.unix_uid {
            if uid != peer.uid && !peer.is_admin(shared) {
                return Err(Failure::new(
                    ErrorCode::PermissionDenied,
                    format!(
                        "member '{}' is bound to unix user {uid}; unix user {} may not act as them",
                        member.handle, peer.uid
                    ),
                ));
            }
        }
    }
    let settings = shared.settings.clone();
    let req = SendRequest {
        group: s.group.clone(),
        as_member: s.as_member,
        body: s.text,
        now: now(),
    };
    let accepted = shared
        .store
        .call(move |st| service::submit_broadcast(st, &settings, req))
        .await?;
    let id = accepted.broadcast_id;
    let group = s.group.clone();
    let (group, queued) = shared
        .store
        .call(move |st| Ok::<_, StoreError>((st.group(&group)?, st.queued_for_broadcast(id)?)))
        .await?;
    shared.board.track(
        id,
        Progress {
            queued: queued.len() as u32,
            ..Progress::default()
        },
    );
    shared.scheduler.enqueue(jobs(queued, group.as_ref()));
    Ok(json!({
        "broadcast": id.0,
        "recipients": accepted.recipients,
        "parts": accepted.parts,
        "encoding": accepted.encoding.name(),
        "text": accepted.text,
        "masked_words": accepted.masked,
        "quota_left": accepted.quota_left,
        "dropped": dropped_json(&accepted.dropped),
        "dropped_total": accepted.dropped.total(),
    }))
}

/// Where a group's messages may go, as the scheduler takes it.
fn pinning(g: &Group) -> Pinning {
    Pinning {
        modems: g.pinned_modems.clone(),
        fallback: g.modem_fallback,
    }
}

/// Scheduler jobs for queued deliveries of one group's broadcast.
pub fn jobs(queued: Vec<QueuedDelivery>, group: Option<&Group>) -> Vec<Job> {
    let pinning = Arc::new(group.map_or_else(Pinning::default, pinning));
    let mut parts_cache: Option<(Arc<str>, u32)> = None;
    queued
        .into_iter()
        .map(|q| {
            let parts = match &parts_cache {
                Some((text, n)) if Arc::ptr_eq(text, &q.text) => *n,
                _ => {
                    let n = crate::sms::analyze(&q.text).parts as u32;
                    parts_cache = Some((q.text.clone(), n));
                    n
                }
            };
            Job {
                delivery: q.id,
                broadcast: q.broadcast_id,
                group: q.group_id,
                number: q.number,
                text: q.text,
                parts,
                attempts: q.attempts,
                not_before: q.not_before,
                avoid: None,
                pinning: pinning.clone(),
            }
        })
        .collect()
}

async fn status(shared: &Arc<Shared>) -> Answer {
    let modems = shared.modem_list().await;
    let ready = modems
        .iter()
        .filter(|m| m["state"] == "ready" || m["state"] == "busy")
        .count();
    let (unmatched, recent) = shared
        .store
        .call(|s| Ok::<_, StoreError>((s.unmatched_report_count()?, s.unmatched_reports(10)?)))
        .await?;
    let recent: Vec<Value> = recent
        .iter()
        .map(|u| {
            json!({
                "at": u.at.to_rfc3339(), "sim": u.report.sim, "mr": u.report.mr,
                "recipient": u.report.recipient, "status": u.report.status, "reason": u.report.reason,
            })
        })
        .collect();
    Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": shared.started.elapsed().as_secs(),
        "database": shared.config.daemon.database.display().to_string(),
        "modems_ready": ready,
        "modems_total": modems.len(),
        "broadcasts_sending": shared.board.active(),
        "deliveries_waiting": shared.scheduler.pending().await,
        "unmatched_reports": unmatched,
        "modems": modems,
        "recent_unmatched_reports": recent,
    }))
}

async fn group_show(shared: &Arc<Shared>, handle: String) -> Answer {
    let settings = shared.settings.clone();
    let (group, members, quota) = shared
        .store
        .call(move |s| {
            let g = s
                .group(&handle)?
                .ok_or_else(|| StoreError::UnknownGroup(handle.clone()))?;
            let members = s.group_members(&handle)?;
            let periods = service::Periods::at(now(), settings.timezone);
            let quota = s.read(|tx| service::quota::status(tx, &settings, &g, periods))?;
            Ok::<_, StoreError>((g, members, quota))
        })
        .await?;
    let mut v = group_json(shared, &group);
    v["quota"] = json!({
        "day_used": quota.day_used, "day_limit": quota.day_limit,
        "month_used": quota.month_used, "month_limit": quota.month_limit,
        "left": quota.left(),
    });
    v["members"] = json!(members
        .iter()
        .map(|m| json!({
            "handle": m.member.handle, "name": m.member.name, "phone": m.member.phone,
            "role": m.role.as_str(), "opted_out": m.opted_out, "valid": m.member.valid, "sms_enabled": m.member.sms_enabled,
        }))
        .collect::<Vec<_>>());
    Ok(v)
}

async fn member_list(shared: &Arc<Shared>, group: Option<String>) -> Answer {
    let list: Vec<Value> = match group {
        Some(g) => shared
            .store
            .call(move |s| s.group_members(&g))
            .await?
            .iter()
            .map(|m| {
                let mut v = member_json(&m.member);
                v["role"] = json!(m.role.as_str());
                v["opted_out"] = json!(m.opted_out);
                v
            })
            .collect(),
        None => shared
            .store
            .call(|s| s.members())
            .await?
            .iter()
            .map(member_json)
            .collect(),
    };
    Ok(json!({"members": list}))
}

async fn member_show(shared: &Arc<Shared>, handle: String) -> Answer {
    let (member, groups) = shared
        .store
        .call(move |s| {
            let m = s
                .member(&handle)?
                .ok_or_else(|| StoreError::UnknownMember(handle.clone()))?;
            let groups = s.member_groups(&handle)?;
            Ok::<_, StoreError>((m, groups))
        })
        .await?;
    let mut v = member_json(&member);
    v["groups"] = json!(groups
        .iter()
        .map(|g| json!({"group": g.group_handle, "name": g.group_name, "role": g.role.as_str(), "opted_out": g.opted_out}))
        .collect::<Vec<_>>());
    Ok(v)
}

fn group_json(shared: &Shared, g: &Group) -> Value {
    json!({
        "handle": g.handle,
        "name": g.name,
        "header": service::compose::header(&shared.settings.header_template, g),
        "daily_quota": g.daily_quota.unwrap_or(shared.settings.daily_quota),
        "monthly_quota": g.monthly_quota.unwrap_or(shared.settings.monthly_quota),
        "pinned_modems": g.pinned_modems,
        "pin_fallback": g.modem_fallback,
    })
}

fn member_json(m: &Member) -> Value {
    json!({
        "handle": m.handle, "name": m.name, "phone": m.phone, "valid": m.valid,
        "sms_enabled": m.sms_enabled, "uid": m.unix_uid,
    })
}

fn dropped_json(d: &crate::store::Dropped) -> Value {
    json!({"opted_out": d.opted_out, "invalid": d.invalid, "sms_disabled": d.sms_disabled, "duplicate": d.duplicate})
}

/// Counts of a broadcast, as `subscribe` events and final answers carry them.
pub fn progress_json(id: BroadcastId, p: &Progress) -> Value {
    json!({
        "broadcast": id.0, "total": p.total(), "queued": p.queued, "sending": p.sending, "sent": p.sent + p.delivered + p.undelivered,
        "delivered": p.delivered, "undelivered": p.undelivered, "failed": p.failed, "uncertain": p.uncertain, "finished": p.is_finished(),
    })
}

fn summary_json(b: &BroadcastSummary) -> Value {
    json!({
        "id": b.id.0, "group": b.group_handle, "sender": b.sender_handle, "created_at": b.created_at.to_rfc3339(),
        "recipients": b.recipients, "parts": b.parts, "encoding": b.encoding.name(),
        "sent": b.progress.sent + b.progress.delivered + b.progress.undelivered, "failed": b.progress.failed, "uncertain": b.progress.uncertain,
        "delivered": b.progress.delivered, "undelivered": b.progress.undelivered,
        "waiting": b.progress.queued + b.progress.sending, "finished": b.finished, "text": b.text,
    })
}

fn detail_json(d: &BroadcastDetail) -> Value {
    let mut v = summary_json(&d.broadcast);
    v["dropped"] = dropped_json(&d.broadcast.dropped);
    v["deliveries"] = json!(d.deliveries.iter().map(delivery_json).collect::<Vec<_>>());
    v
}

fn delivery_json(r: &DeliveryRow) -> Value {
    json!({
        "member": r.member_handle, "number": r.number, "state": r.state.as_str(), "modem": r.modem,
        "attempts": r.attempts, "refs": r.part_refs, "possible_duplicate": r.possible_duplicate,
        "error": r.last_error,
    })
}
