//! One function per request: check who asks, call the rules or the store, shape the answer.
//! The connection code (`listener.rs`) frames lines; this file knows what they mean.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::Shared;
use crate::clock;
use crate::protocol::{self as p, ErrorBody, ErrorCode, Paged, Request};
use crate::scheduler::pool::Pinning;
use crate::scheduler::progress::ProgressEvent;
use crate::scheduler::{Snapshot, Waiting};
use crate::service::pages::{self, PageSizes};
use crate::service::tokens::{self, TokenError, TokenRequest};
use crate::service::{
    self, fields, AdminChange, AdminOutcome, Caller, ImportOptions, ImportReport, InvalidField,
    Reader, SendRequest, ServiceError, StagedCsv,
};
use crate::store::{
    ApiToken, BroadcastId, BroadcastSummary, DeliveryRow, Group, GroupChange, InboxFilter,
    InboxMessage, Member, MemberChange, NewGroup, NewMember, Progress, Role, StoreError,
};

impl From<ServiceError> for ErrorBody {
    fn from(e: ServiceError) -> Self {
        let code = match &e {
            ServiceError::UnknownGroup(_) => ErrorCode::UnknownGroup,
            ServiceError::UnknownMember(_) => ErrorCode::UnknownMember,
            ServiceError::NotYou(_)
            | ServiceError::NotYours(_)
            | ServiceError::UrgentNotAllowed(_)
            | ServiceError::Cancel(service::cancel::CannotCancel::NotAllowed { .. }) => {
                ErrorCode::PermissionDenied
            }
            ServiceError::Cancel(_) | ServiceError::OpenBroadcasts(_) => ErrorCode::InvalidValue,
            ServiceError::NotSuperAdmin(_) => ErrorCode::NotSuperAdmin,
            ServiceError::Token(
                TokenError::NotOnSocket | TokenError::NotAdmin(_) | TokenError::NotYours { .. },
            ) => ErrorCode::PermissionDenied,
            ServiceError::Token(_) => ErrorCode::InvalidValue,
            ServiceError::Idempotency(k) => match k {
                service::idempotency::KeyError::Malformed(_) => ErrorCode::BadRequest,
                service::idempotency::KeyError::Reused { .. } => ErrorCode::InvalidValue,
                service::idempotency::KeyError::InFlight { .. }
                | service::idempotency::KeyError::AnswerLost { .. } => ErrorCode::AlreadyExists,
            },
            ServiceError::Quota(q) => {
                let mut body = ErrorBody::new(ErrorCode::QuotaExceeded, e.to_string());
                body.retry_after_secs = Some(q.seconds_until_reset(now()));
                return body;
            }
            ServiceError::Sensitive(_) => ErrorCode::SensitiveWords,
            ServiceError::TooManyParts(_) => ErrorCode::TooManyParts,
            ServiceError::NoRecipients(_) => ErrorCode::NoRecipients,
            ServiceError::EmptyBody(_)
            | ServiceError::InvalidQuota { .. }
            | ServiceError::Field(_)
            | ServiceError::Phone { .. }
            | ServiceError::Import(_) => ErrorCode::InvalidValue,
            ServiceError::Store(s) => return ErrorBody::from(s.clone()),
        };
        ErrorBody::new(code, e.to_string())
    }
}

impl From<StoreError> for ErrorBody {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::UnknownGroup(_) => ErrorCode::UnknownGroup,
            StoreError::UnknownMember(_) => ErrorCode::UnknownMember,
            StoreError::UnknownBroadcast(_) => ErrorCode::UnknownBroadcast,
            StoreError::UnknownToken(_) => ErrorCode::UnknownToken,
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
        ErrorBody::new(code, message)
    }
}

type Answer = Result<Value, ErrorBody>;

/// A token as answers show it (never its secret).
fn token_info(t: &ApiToken) -> p::TokenInfo {
    p::TokenInfo {
        id: t.id,
        member: t.member.as_ref().map(|(_, h)| h.clone()),
        admin: t.member.is_none(),
        label: t.label.clone(),
        created_by: t.created_by.clone(),
        created_at: t.created_at.to_rfc3339(),
        expires_at: t.expires_at.map(|e| e.to_rfc3339()),
        revoked_at: t.revoked_at.map(|e| e.to_rfc3339()),
        last_used_at: t.last_used_at.map(|e| e.to_rfc3339()),
        active: t.is_active(now()),
    }
}

/// A typed result as the answer's `result`.
fn answer<T: Serialize>(result: &T) -> Answer {
    serde_json::to_value(result)
        .map_err(|e| ErrorBody::new(ErrorCode::Internal, format!("cannot write the answer: {e}")))
}

fn now() -> DateTime<Utc> {
    clock::now()
}

/// What one connection keeps between its requests: the streamed import it is sending, if any
/// (dropped with the connection, so an import cut short leaves nothing behind).
#[derive(Debug, Default)]
pub struct Session {
    import: Option<Staging>,
    imports_begun: u64,
}

/// A streamed import being received (`member_import_begin` .. `member_import_commit`).
#[derive(Debug)]
struct Staging {
    id: u64,
    skip_bad: bool,
    csv: StagedCsv,
}

impl Session {
    /// The import `id` of this connection, or why there is none.
    fn import(&mut self, id: u64) -> Result<&mut Staging, ErrorBody> {
        match &mut self.import {
            Some(s) if s.id == id => Ok(s),
            _ => Err(no_import(id)),
        }
    }

    /// Takes the import `id` out of this connection (to commit it), or says why there is none.
    fn take_import(&mut self, id: u64) -> Result<Staging, ErrorBody> {
        match self.import.take() {
            Some(s) if s.id == id => Ok(s),
            other => {
                self.import = other;
                Err(no_import(id))
            }
        }
    }
}

fn no_import(id: u64) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::UnknownImport,
        format!(
            "this connection has no import {id} (start one with member_import_begin; an import \
             ends with its commit or its first error)"
        ),
    )
}

/// Answers every request but `hello` and `subscribe` (handled by the connection); `session`
/// is the connection's own state.
pub async fn handle(
    shared: &Arc<Shared>,
    caller: Caller,
    session: &mut Session,
    request: Request,
) -> Answer {
    if request.is_management() && !caller.admin {
        return Err(ErrorBody::new(
            ErrorCode::PermissionDenied,
            format!(
                "{} may not manage groups and members (root, admin_uids or a management token \
                 only)",
                caller.who
            ),
        ));
    }
    check_sizes(&request, shared.settings.max_parts).map_err(ServiceError::from)?;
    let sizes = PageSizes::new(shared.settings.max_parts);
    match request {
        Request::Hello(_) | Request::Subscribe(_) => Err(ErrorBody::new(
            ErrorCode::BadRequest,
            "hello and subscribe are handled by the connection",
        )),
        Request::Status(_) => {
            let reader = reader(shared, caller).await?;
            status(shared, &reader).await
        }
        Request::ModemList(_) => {
            let reader = reader(shared, caller).await?;
            reader.modems()?;
            answer(&p::ModemListResult {
                modems: visible_modems(shared.modem_list().await, &reader),
            })
        }
        Request::ModemRelease(m) => modem_release(shared, caller, m).await,
        Request::TokenCreate(t) => {
            let req = TokenRequest {
                member: t.member,
                admin: t.admin,
                label: t.label,
                expires_secs: t.expires_secs,
            };
            let (secret, token) = shared
                .store
                .call(move |s| tokens::create(s, caller, &req, now()))
                .await?;
            answer(&p::TokenCreated {
                secret,
                token: token_info(&token),
            })
        }
        Request::TokenList(_) => {
            let list = shared.store.call(move |s| tokens::list(s, caller)).await?;
            answer(&p::TokenListResult {
                tokens: list.iter().map(token_info).collect(),
            })
        }
        Request::TokenRevoke(t) => {
            let token = shared
                .store
                .call(move |s| tokens::revoke(s, caller, t.token, now()))
                .await?;
            answer(&token_info(&token))
        }
        Request::Send(s) => send(shared, caller, s, None).await,
        Request::SendPreview(s) => send_preview(shared, caller, s).await,
        Request::BroadcastCancel(b) => {
            broadcast_cancel(shared, caller, BroadcastId(b.broadcast)).await
        }
        Request::BroadcastList(l) => {
            let reader = reader(shared, caller).await?;
            reader.lists()?;
            if let Some(g) = &l.group {
                reader.group(g)?;
            }
            pages::after_id(l.after).map_err(ServiceError::from)?;
            // Compatibility: a larger limit than a page holds is taken as a page, not refused.
            let limit = l
                .limit
                .unwrap_or(sizes.broadcasts)
                .clamp(1, sizes.broadcasts);
            let groups: Option<Vec<String>> = match (&reader, l.group) {
                // A member: the broadcasts of their groups.
                (Reader::Member { groups, .. }, None) => Some(groups.keys().cloned().collect()),
                (_, Some(g)) => Some(vec![g]),
                (_, None) => None,
            };
            let mut list = shared
                .store
                .call(move |s| {
                    s.broadcasts_page(groups.as_deref(), l.after, limit.saturating_add(1))
                })
                .await?;
            let end = more(&mut list, limit)
                .then(|| list.last().map(|b| b.id.0))
                .flatten();
            list.retain(|b| reader.broadcast(b.id.0, group_of(b)).is_ok());
            let snapshot = shared.scheduler.snapshot().await;
            let page = p::BroadcastListResult {
                broadcasts: list
                    .iter()
                    .map(|b| p::BroadcastInfo {
                        waiting_reason: waiting_of(shared, &snapshot, b.id).map(|(_, w)| w),
                        ..broadcast_info(b)
                    })
                    .collect(),
                next: None,
            };
            paged(page, list.iter().map(|b| b.id.0).collect(), end)
        }
        Request::BroadcastShow(b) => {
            let reader = reader(shared, caller).await?;
            let limit = pages::limit(b.limit, sizes.deliveries).map_err(ServiceError::from)?;
            pages::after_id(b.after).map_err(ServiceError::from)?;
            let id = BroadcastId(b.broadcast);
            let after = b.after.unwrap_or(0);
            // The first page carries the latest replies (bounded: each text cut, at most
            // REPLIES_SHOWN; inbox_list pages through them all), read with the deliveries.
            let replies_filter = b.after.is_none().then(|| InboxFilter {
                broadcast: Some(id),
                limit: REPLIES_SHOWN + 1,
                ..InboxFilter::default()
            });
            let cutoff = incomplete_cutoff(shared);
            let (summary, mut rows, mut replies) = shared
                .store
                .call(move |s| {
                    s.read(|tx| {
                        let summary = tx
                            .broadcast(id)?
                            .ok_or(StoreError::UnknownBroadcast(id.0))?;
                        let rows = tx.deliveries_page(id, after, limit.saturating_add(1))?;
                        let replies = match &replies_filter {
                            Some(filter) => tx.inbox_list(filter, cutoff)?,
                            None => Vec::new(),
                        };
                        Ok::<_, StoreError>((summary, rows, replies))
                    })
                })
                .await?;
            let group = group_of(&summary);
            reader.broadcast(b.broadcast, group)?;
            let snapshot = shared.scheduler.snapshot().await;
            let end = more(&mut rows, limit)
                .then(|| rows.last().map(|r| r.id.0))
                .flatten();
            let keys = rows.iter().map(|r| r.id.0).collect();
            let more_replies = replies.len() > REPLIES_SHOWN as usize;
            replies.truncate(REPLIES_SHOWN as usize);
            replies.reverse();
            let page = p::BroadcastShow {
                broadcast: p::BroadcastInfo {
                    waiting_reason: waiting_of(shared, &snapshot, id).map(|(_, w)| w),
                    ..broadcast_info(&summary)
                },
                dropped: dropped(&summary.dropped),
                deliveries: rows
                    .iter()
                    .map(|r| delivery_info(r, &reader, group))
                    .collect(),
                next: None,
                replies: replies
                    .iter()
                    .map(|m| {
                        let (text, truncated) = cut(&m.text, LISTED_TEXT_CHARS);
                        p::ReplyInfo {
                            id: m.id,
                            member: m.member_handle.clone(),
                            number: number(&reader, group, &m.originator),
                            text,
                            received_at: m.received_at.to_rfc3339(),
                            complete: m.complete,
                            truncated,
                        }
                    })
                    .collect(),
                more_replies,
            };
            paged(page, keys, end)
        }
        Request::InboxList(l) => {
            let reader = reader(shared, caller).await?;
            reader.lists()?;
            let limit = pages::limit(l.limit, INBOX_PAGE).map_err(ServiceError::from)?;
            pages::after_id(l.after).map_err(ServiceError::from)?;
            let mut filter = InboxFilter {
                group: l.group.clone(),
                groups_in: reader.inbox_groups(),
                from: l.from.as_deref().map(|f| {
                    service::phone::normalize(f, shared.settings.default_country)
                        .unwrap_or_else(|_| f.trim().to_string())
                }),
                unread: l.unread,
                broadcast: l.broadcast.map(BroadcastId),
                before: l.after,
                // One more than the page: whether another follows.
                limit: limit + 1,
            };
            if let (Some(g), Some(groups)) = (&l.group, &filter.groups_in) {
                if !groups.contains(g) {
                    reader.inbox_message(0, None).map_err(|_| {
                        ErrorBody::new(
                            ErrorCode::PermissionDenied,
                            format!(
                                "{} may not read the replies of group '{g}' (its admins only)",
                                caller.who
                            ),
                        )
                    })?;
                }
                filter.groups_in = Some(vec![g.clone()]);
            }
            let cutoff = incomplete_cutoff(shared);
            let mut list = shared
                .store
                .call(move |s| s.read(|tx| tx.inbox_list(&filter, cutoff)))
                .await?;
            let end = more(&mut list, limit)
                .then(|| list.last().map(|m| m.id))
                .flatten();
            let keys = list.iter().map(|m| m.id).collect();
            let page = p::InboxListResult {
                messages: list
                    .iter()
                    .map(|m| inbox_item(m, &reader, LISTED_TEXT_CHARS))
                    .collect(),
                next: None,
            };
            paged(page, keys, end)
        }
        Request::InboxShow(r) => {
            let reader = reader(shared, caller).await?;
            let found = shared
                .store
                .call(move |s| s.read(|tx| tx.inbox_message(r.id)))
                .await?;
            let Some(m) = found else {
                return Err(unknown_message(r.id));
            };
            reader.inbox_message(m.id, m.group_handle.as_deref())?;
            answer(&inbox_item(&m, &reader, SHOWN_TEXT_CHARS))
        }
        Request::InboxMarkRead(ids) => {
            let reader = reader(shared, caller).await?;
            let marked = shared
                .store
                .call(move |s| {
                    s.write(|tx| {
                        for id in &ids.ids {
                            let Some(m) = tx.inbox_message(*id)? else {
                                return Err(unknown_message(*id));
                            };
                            reader
                                .inbox_message(m.id, m.group_handle.as_deref())
                                .map_err(ErrorBody::from)?;
                        }
                        Ok(tx.inbox_mark_read(&ids.ids)?)
                    })
                })
                .await?;
            answer(&p::InboxMarked { marked })
        }
        Request::GroupList(l) => {
            let reader = reader(shared, caller).await?;
            reader.lists()?;
            let limit = pages::limit(l.limit, sizes.groups).map_err(ServiceError::from)?;
            pages::after_handle(l.after.as_deref()).map_err(ServiceError::from)?;
            let mut groups = match &reader {
                // A member sees their own groups: few, and known already.
                Reader::Member { groups, .. } => {
                    let mut mine: Vec<String> = groups
                        .keys()
                        .filter(|g| l.after.as_ref().is_none_or(|a| *g > a))
                        .cloned()
                        .collect();
                    mine.sort();
                    mine.truncate(limit as usize + 1);
                    shared
                        .store
                        .call(move |s| {
                            s.read(|tx| {
                                let mut found = Vec::new();
                                for g in &mine {
                                    found.extend(tx.group(g)?);
                                }
                                Ok::<_, StoreError>(found)
                            })
                        })
                        .await?
                }
                _ => {
                    shared
                        .store
                        .call(move |s| s.groups_page(l.after.as_deref(), limit.saturating_add(1)))
                        .await?
                }
            };
            let end = more(&mut groups, limit)
                .then(|| groups.last().map(|g| g.handle.clone()))
                .flatten();
            groups.retain(|g| reader.sees_group(&g.handle));
            let page = p::GroupListResult {
                groups: groups.iter().map(|g| group_info(shared, g)).collect(),
                next: None,
            };
            paged(page, groups.into_iter().map(|g| g.handle).collect(), end)
        }
        Request::GroupShow(g) => {
            let reader = reader(shared, caller).await?;
            reader.group(&g.group)?;
            let limit = pages::limit(g.limit, sizes.group_members).map_err(ServiceError::from)?;
            pages::after_handle(g.after.as_deref()).map_err(ServiceError::from)?;
            group_show(shared, g, limit, &reader).await
        }
        Request::MemberList(l) => {
            let reader = reader(shared, caller).await?;
            match &l.group {
                Some(g) => reader.group(g)?,
                None => reader.all_members()?,
            }
            let limit = pages::limit(l.limit, sizes.members).map_err(ServiceError::from)?;
            pages::after_handle(l.after.as_deref()).map_err(ServiceError::from)?;
            member_list(shared, l, limit, &reader).await
        }
        Request::MemberShow(m) => {
            let reader = reader(shared, caller).await?;
            reader.member(&m.member)?;
            let limit = pages::limit(m.limit, sizes.member_groups).map_err(ServiceError::from)?;
            pages::after_handle(m.after.as_deref()).map_err(ServiceError::from)?;
            member_show(shared, m, limit).await
        }
        Request::MemberImport(i) => {
            import(
                shared,
                caller,
                i.csv,
                ImportOptions {
                    skip_bad: i.skip_bad,
                    dry_run: i.dry_run,
                },
            )
            .await
        }
        Request::MemberImportBegin(b) => {
            session.imports_begun += 1;
            let id = session.imports_begun;
            session.import = Some(Staging {
                id,
                skip_bad: b.skip_bad,
                csv: StagedCsv::default(),
            });
            answer(&p::ImportBegun {
                import: id,
                max_rows: fields::MAX_IMPORT_ROWS,
                max_bytes: fields::MAX_IMPORT_BYTES,
            })
        }
        Request::MemberImportRows(r) => {
            let staging = session.import(r.import)?;
            if let Err(e) = staging.csv.push(&r.csv) {
                session.import = None;
                return Err(ServiceError::from(e).into());
            }
            answer(&p::ImportStaged {
                import: staging.id,
                rows: staging.csv.rows(),
                bytes: staging.csv.bytes(),
            })
        }
        Request::MemberImportCommit(c) => {
            let staging = session.take_import(c.import)?;
            let csv = staging.csv.into_text();
            import(
                shared,
                caller,
                csv,
                ImportOptions {
                    skip_bad: staging.skip_bad,
                    ..ImportOptions::default()
                },
            )
            .await
        }
        other => admin(shared, caller, other).await,
    }
}

/// Reads, checks and imports a whole CSV in one transaction (the one-line `member_import`, or
/// a streamed import's staged text at its commit).
async fn import(
    shared: &Arc<Shared>,
    caller: Caller,
    csv: String,
    options: ImportOptions,
) -> Answer {
    let settings = shared.settings.clone();
    let actor = caller.label();
    let report = shared
        .store
        .call(move |s| {
            service::import_members_csv(s, &settings, &actor, csv.as_bytes(), options, now())
        })
        .await?;
    answer(&import_result(report, options.dry_run))
}

fn import_result(report: ImportReport, dry_run: bool) -> p::ImportResult {
    p::ImportResult {
        members_created: report.members_created,
        members_updated: report.members_updated,
        members_unchanged: report.members_unchanged,
        memberships_added: report.memberships_added,
        memberships_changed: report.memberships_changed,
        skipped: service::import::shown(&report.skipped)
            .map(|b| p::SkippedRow {
                line: b.line,
                reason: b.reason,
            })
            .collect(),
        skipped_total: u32::try_from(report.skipped.len()).unwrap_or(u32::MAX),
        dry_run,
        rows: report
            .rows
            .into_iter()
            .map(|r| {
                let (group, membership) = match r.membership {
                    Some((g, how)) => (Some(g), Some(how.to_string())),
                    None => (None, None),
                };
                p::ImportRow {
                    line: r.line,
                    member: r.member,
                    change: r.change.to_string(),
                    group,
                    membership,
                }
            })
            .collect(),
    }
}

/// Refuses values longer than anything they could name or be, before anything reads them
/// (the rules are `service::fields`'): handles given to find a group or member, and a `send`
/// text longer than `max_parts` parts could hold. New names, headers and modems are checked
/// with the change they belong to; `member_import`'s CSV only by the line length, a streamed
/// import's by what it may stage (`service::StagedCsv`).
fn check_sizes(request: &Request, max_parts: usize) -> Result<(), InvalidField> {
    let group = |g: &str| fields::reference("group handle", g);
    let member = |m: &str| fields::reference("member handle", m);
    let both = |m: &str, g: &str| member(m).and_then(|()| group(g));
    match request {
        Request::InboxList(l) => {
            if let Some(g) = &l.group {
                group(g)?;
            }
            match &l.from {
                Some(f) => fields::reference("sender", f),
                None => Ok(()),
            }
        }
        Request::InboxMarkRead(ids) if ids.ids.len() > 1000 => Err(InvalidField::TooLong {
            field: "ids",
            len: ids.ids.len(),
            max: 1000,
            unit: "ids",
        }),
        Request::Send(s) | Request::SendPreview(s) => {
            group(&s.group)?;
            member(&s.as_member)?;
            fields::text(&s.text, max_parts)
        }
        Request::GroupShow(g) => group(&g.group),
        Request::GroupDelete(g) => group(&g.group),
        Request::GroupSet(g) => group(&g.group),
        Request::MemberList(p::MemberList { group: Some(g), .. })
        | Request::BroadcastList(p::BroadcastList { group: Some(g), .. }) => group(g),
        Request::MemberShow(m) => member(&m.member),
        Request::MemberRemove(m) => member(&m.member),
        Request::MemberSet(m) => member(&m.member),
        Request::MemberJoin(j) => both(&j.member, &j.group),
        Request::MemberLeave(m) | Request::MemberOptOut(m) | Request::MemberOptIn(m) => {
            both(&m.member, &m.group)
        }
        Request::MemberRole(r) => both(&r.member, &r.group),
        _ => Ok(()),
    }
}

async fn admin(shared: &Arc<Shared>, caller: Caller, request: Request) -> Answer {
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
                allow_urgent: g.allow_urgent,
            },
        },
        Request::GroupDelete(g) => AdminChange::DeleteGroup {
            handle: g.group,
            force: g.force,
        },
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
            role: j.role.unwrap_or(Role::Member),
        },
        Request::MemberLeave(m) => AdminChange::Leave {
            group: m.group,
            member: m.member,
        },
        Request::MemberRole(r) => AdminChange::SetRole {
            group: r.group,
            member: r.member,
            role: r.role,
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
            return Err(ErrorBody::new(
                ErrorCode::Internal,
                format!("unrouted request {other:?}"),
            ))
        }
    };
    let settings = shared.settings.clone();
    let actor = caller.label();
    let outcome = shared
        .store
        .call({
            let actor = actor.clone();
            move |s| service::apply(s, &settings, &actor, change, now())
        })
        .await?;
    match outcome {
        AdminOutcome::Group(g) => {
            if repin {
                shared
                    .scheduler
                    .repin(g.id, Arc::new(Pinning::of(Some(&g))));
            }
            answer(&group_info(shared, &g))
        }
        AdminOutcome::Member(m) => answer(&member_info(&m)),
        AdminOutcome::Membership(m) => {
            let (member, group) = pair.unwrap_or_default();
            answer(&p::MembershipInfo {
                member,
                group,
                role: m.role,
                opted_out: m.opted_out,
            })
        }
        AdminOutcome::Done => {
            let (member, group) = pair.unzip();
            answer(&p::Done {
                member,
                group,
                done: true,
                cancelled: None,
            })
        }
        AdminOutcome::GroupDeleted(cancellations) => {
            let reason = service::cancel::reason(&actor);
            let mut cancelled = 0;
            for c in &cancellations {
                shared.scheduler.cancel(c.broadcast, &reason);
                cancelled += c.cancelled.len() as u32;
            }
            answer(&p::Done {
                member: None,
                group: None,
                done: true,
                cancelled: (!cancellations.is_empty()).then_some(cancelled),
            })
        }
    }
}

/// `broadcast cancel N`: the rules and the store's change in one transaction, then the
/// scheduler lets go of what it still held of it.
async fn broadcast_cancel(shared: &Arc<Shared>, caller: Caller, id: BroadcastId) -> Answer {
    let c = shared
        .store
        .call(move |s| service::cancel::cancel_broadcast(s, caller, id, now()))
        .await?;
    shared
        .scheduler
        .cancel(id, &service::cancel::reason(&caller.label()));
    tracing::info!(
        broadcast = id.0,
        caller = %caller.label(),
        cancelled = c.cancelled.len(),
        "broadcast cancelled"
    );
    let p = c.progress;
    answer(&p::BroadcastCancelled {
        broadcast: id.0,
        cancelled: c.cancelled.len() as u32,
        sent: p.sent + p.delivered + p.undelivered,
        sending: p.sending,
    })
}

/// Why broadcast `id` waits, from the pool's `snapshot`: how many deliveries, and why. While
/// other hosts sharing the database have modems ready, only the quiet hours (the same for
/// every host) say it waits: this host's modems being absent, capped or quarantined does not.
fn waiting_of(
    shared: &Shared,
    snapshot: &Snapshot,
    id: BroadcastId,
) -> Option<(usize, p::WaitingInfo)> {
    let elsewhere = shared
        .peer_modems_ready
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0;
    snapshot
        .blocked(id)
        .filter(|(_, why)| !elsewhere || matches!(why, Waiting::QuietHours { .. }))
        .map(|(n, why)| (n, waiting_info(shared, why)))
}

fn waiting_info(shared: &Shared, why: &Waiting) -> p::WaitingInfo {
    let tz = shared.config.tz();
    p::WaitingInfo {
        reason: why.code().to_string(),
        message: why.describe(now(), tz),
        until: why.until().map(|t| t.to_rfc3339()),
    }
}

/// `send` with an idempotency key claimed as row `key` (HTTP's `Idempotency-Key`, see
/// `service::idempotency`): the same checks and rules as [`handle`]'s `send`, the broadcast
/// linked to the key in its own transaction.
pub async fn send_keyed(shared: &Arc<Shared>, caller: Caller, s: p::Send, key: i64) -> Answer {
    let request = Request::Send(s);
    check_sizes(&request, shared.settings.max_parts).map_err(ServiceError::from)?;
    let Request::Send(s) = request else {
        unreachable!("built as a send just above")
    };
    send(shared, caller, s, Some(key)).await
}

async fn send(shared: &Arc<Shared>, caller: Caller, s: p::Send, key: Option<i64>) -> Answer {
    if shared.is_shutting_down() {
        return Err(ErrorBody::new(
            ErrorCode::ShuttingDown,
            "the daemon is stopping and takes no new broadcasts",
        ));
    }
    let settings = shared.settings.clone();
    let req = SendRequest {
        caller,
        group: s.group,
        as_member: s.as_member,
        body: s.text,
        now: now(),
        urgent: s.urgent,
    };
    // One call: the rules (who may act as whom included), the broadcast, its deliveries and
    // the quota use in one transaction, and the deliveries read back for the scheduler.
    let accepted = shared
        .store
        .call(move |st| service::submit_broadcast_keyed(st, &settings, req, key))
        .await?;
    let id = accepted.broadcast_id;
    tracing::info!(
        broadcast = id.0,
        group = %accepted.group.handle,
        caller = %caller.label(),
        recipients = accepted.recipients,
        parts = accepted.parts,
        "broadcast accepted"
    );
    crate::scheduler::launch(
        &shared.board,
        &shared.scheduler,
        id,
        accepted.queued,
        Some(&accepted.group),
    );
    // Asked after the jobs were handed over: the pool has given what it could to idle modems.
    let snapshot = shared.scheduler.snapshot().await;
    let waiting = waiting_of(shared, &snapshot, id).map(|(_, w)| w);
    if let Some(w) = &waiting {
        tracing::info!(broadcast = id.0, reason = %w.message, "broadcast accepted, waiting");
    }
    answer(&p::SendResult {
        broadcast: id.0,
        recipients: accepted.recipients,
        parts: accepted.parts as u32,
        encoding: accepted.encoding.name().to_string(),
        text: accepted.text,
        masked_words: accepted.masked,
        quota_left: accepted.quota_left,
        quota: Some(quota_info(&accepted.quota)),
        dropped: dropped(&accepted.dropped),
        dropped_total: accepted.dropped.total(),
        waiting,
    })
}

/// `send_preview`: the rules of `send` (`service::preview`), nothing written.
async fn send_preview(shared: &Arc<Shared>, caller: Caller, s: p::Send) -> Answer {
    let settings = shared.settings.clone();
    let req = SendRequest {
        caller,
        group: s.group,
        as_member: s.as_member,
        body: s.text,
        now: now(),
        urgent: s.urgent,
    };
    let text = req.body.clone();
    let (draft, left_out) = shared
        .store
        .call(move |st| service::preview(st, &settings, &req))
        .await?;
    let named = |l: &[crate::store::Member]| -> Vec<p::MemberName> {
        l.iter()
            .map(|m| p::MemberName {
                handle: m.handle.clone(),
                name: m.name.clone(),
            })
            .collect()
    };
    let settings = &shared.settings;
    let chars = |byte: usize| text.get(..byte).map_or(0, |t| t.chars().count()) as u32;
    let sensitive = settings
        .sensitive
        .find(&text)
        .into_iter()
        .map(|f| p::SensitiveMatch {
            start: chars(f.start),
            end: chars(f.end),
            word: f.word,
        })
        .collect();
    let c = &draft.composition;
    answer(&p::SendPreview {
        header: service::compose::header(&settings.header_template, &draft.group),
        footer: settings.footer.clone(),
        group: draft.group.handle.clone(),
        as_member: draft.sender.handle.clone(),
        body: draft.body.clone(),
        text: c.text.clone(),
        encoding: c.encoding.name().to_string(),
        parts: c.parts as u32,
        max_parts: settings.max_parts as u32,
        units: c.units as u32,
        per_part: c.per_part as u32,
        remaining: c.remaining as u32,
        recipients: draft.resolved.recipients.len() as u32,
        dropped: dropped(&draft.resolved.dropped),
        dropped_total: draft.resolved.dropped.total(),
        left_out: p::LeftOut {
            opted_out: named(&left_out.opted_out),
            invalid: named(&left_out.invalid),
            sms_disabled: named(&left_out.sms_disabled),
            duplicate: named(&left_out.duplicate),
        },
        quota: quota_info(&draft.quota),
        sensitive_policy: match settings.sensitive_policy {
            service::SensitivePolicy::Reject => "reject",
            service::SensitivePolicy::Mask => "mask",
        }
        .to_string(),
        sensitive,
        refusal: draft.refusal.map(ErrorBody::from),
    })
}

/// A group's quota use as answers show it (`group_show`, `send`).
fn quota_info(q: &service::QuotaStatus) -> p::QuotaInfo {
    p::QuotaInfo {
        day_used: q.day_used,
        day_limit: q.day_limit,
        month_used: q.month_used,
        month_limit: q.month_limit,
        left: q.left(),
    }
}

/// What `caller` may read (one look-up for non-administrators).
pub async fn reader(shared: &Arc<Shared>, caller: Caller) -> Result<Reader, ErrorBody> {
    if caller.admin {
        return Ok(Reader::Admin);
    }
    Ok(shared.store.call(move |s| Reader::of(s, caller)).await?)
}

/// The group a broadcast belongs to, while that group exists.
fn group_of(b: &BroadcastSummary) -> Option<&str> {
    b.group_id.map(|_| b.group_handle.as_str())
}

/// The modems as `reader` may see them: IMSIs are for administrators.
fn visible_modems(mut modems: Vec<p::ModemEntry>, reader: &Reader) -> Vec<p::ModemEntry> {
    if !reader.is_admin() {
        for m in &mut modems {
            m.imsi = None;
        }
    }
    modems
}

/// A phone number as `reader` may see it in `group`.
fn number(reader: &Reader, group: Option<&str>, n: &str) -> String {
    if reader.sees_numbers(group) {
        n.to_string()
    } else {
        service::mask_number(n)
    }
}

async fn status(shared: &Arc<Shared>, reader: &Reader) -> Answer {
    let snapshot = shared.scheduler.snapshot().await;
    let modems: Vec<p::ModemEntry> = visible_modems(
        snapshot.modems.iter().map(super::modem_entry).collect(),
        reader,
    );
    let admin = reader.is_admin();
    let (unmatched, recent) = shared
        .store
        .call(move |s| {
            let recent = if admin {
                s.unmatched_reports(10)?
            } else {
                Vec::new()
            };
            Ok::<_, StoreError>((s.unmatched_report_count()?, recent))
        })
        .await?;
    // The waiting broadcasts with their groups, those the reader may see.
    let blocked: Vec<&(BroadcastId, usize, Waiting)> = snapshot
        .blocked
        .iter()
        .filter(|(b, _, _)| waiting_of(shared, &snapshot, *b).is_some())
        .collect();
    let ids: Vec<BroadcastId> = blocked.iter().map(|(b, _, _)| *b).collect();
    let groups = shared
        .store
        .call(move |s| {
            s.read(|tx| {
                ids.iter()
                    .map(|id| tx.broadcast_group(*id))
                    .collect::<Result<Vec<_>, StoreError>>()
            })
        })
        .await?;
    let waiting = blocked
        .into_iter()
        .zip(groups)
        .filter_map(|((b, n, why), group)| {
            let (id, handle) = group?;
            reader.broadcast(b.0, id.map(|_| handle.as_str())).ok()?;
            Some(p::WaitingBroadcast {
                broadcast: b.0,
                group: handle,
                deliveries: *n,
                waiting: waiting_info(shared, why),
            })
        })
        .collect();
    let recent_unmatched_reports = recent
        .into_iter()
        .map(|u| p::UnmatchedReportInfo {
            at: u.at.to_rfc3339(),
            sim: u.report.sim,
            mr: u.report.mr,
            recipient: u.report.recipient,
            status: u.report.status,
            reason: u.report.reason,
        })
        .collect();
    let webhooks = if admin {
        webhook_backlogs(shared).await?
    } else {
        Vec::new()
    };
    answer(&p::StatusResult {
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_secs: shared.started.elapsed().as_secs(),
        database: shared
            .config
            .daemon
            .database()
            .map(|d| d.label())
            .unwrap_or_else(|_| shared.config.daemon.database.display().to_string()),
        modems_ready: modems.iter().filter(|m| m.is_up()).count(),
        modems_total: modems.len(),
        broadcasts_sending: shared.board.active(),
        deliveries_waiting: snapshot.waiting,
        store_problem: shared.store.problem().borrow().clone(),
        outcomes_held: snapshot.held,
        unmatched_reports: unmatched,
        modems,
        quiet_hours: shared.config.scheduler.quiet_hours.map(|q| q.to_string()),
        waiting,
        recent_unmatched_reports,
        webhooks,
        http: shared
            .http_addresses
            .iter()
            .map(|a| a.to_string())
            .collect(),
    })
}

/// Each configured webhook's backlog, read in one snapshot.
pub(crate) async fn webhook_backlogs(
    shared: &Arc<Shared>,
) -> Result<Vec<p::WebhookStatus>, ErrorBody> {
    let endpoints = shared.webhooks.clone();
    if endpoints.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = endpoints.iter().map(|e| e.key.clone()).collect();
    let backlogs = shared
        .store
        .call(move |s| {
            s.read(|tx| {
                keys.iter()
                    .map(|k| tx.webhook_backlog(k))
                    .collect::<Result<Vec<_>, StoreError>>()
            })
        })
        .await?;
    let now = clock::now();
    Ok(endpoints
        .iter()
        .zip(backlogs)
        .map(|(e, b)| p::WebhookStatus {
            endpoint: e.name.clone(),
            format: e.format.as_str().to_string(),
            pending: b.pending,
            oldest_pending_secs: b
                .oldest_pending
                .map(|t| (now - t).num_seconds().max(0) as u64),
            dead: b.dead,
            last_error: b.last_error,
        })
        .collect())
}

async fn group_show(
    shared: &Arc<Shared>,
    args: p::GroupShowArgs,
    limit: u32,
    reader: &Reader,
) -> Answer {
    let settings = shared.settings.clone();
    let handle = args.group;
    let (group, mut members, quota) = shared
        .store
        .call(move |s| {
            s.read(|tx| {
                let g = tx
                    .group(&handle)?
                    .ok_or_else(|| StoreError::UnknownGroup(handle.clone()))?;
                let members =
                    tx.group_members_page(&handle, args.after.as_deref(), limit.saturating_add(1))?;
                let periods = service::Periods::at(now(), settings.timezone);
                let quota = service::quota::status(tx, &settings, &g, periods)?;
                Ok::<_, StoreError>((g, members, quota))
            })
        })
        .await?;
    let end = more(&mut members, limit)
        .then(|| members.last().map(|m| m.member.handle.clone()))
        .flatten();
    let keys = members.iter().map(|m| m.member.handle.clone()).collect();
    let page = p::GroupShow {
        group: group_info(shared, &group),
        quota: quota_info(&quota),
        members: members
            .into_iter()
            .map(|m| p::GroupMemberInfo {
                phone: number(reader, Some(&group.handle), &m.member.phone),
                handle: m.member.handle,
                name: m.member.name,
                role: m.role,
                opted_out: m.opted_out,
                valid: m.member.valid,
                sms_enabled: m.member.sms_enabled,
            })
            .collect(),
        next: None,
    };
    paged(page, keys, end)
}

async fn member_list(
    shared: &Arc<Shared>,
    args: p::MemberList,
    limit: u32,
    reader: &Reader,
) -> Answer {
    let after = args.after;
    let (members, keys, end) = match args.group {
        Some(g) => {
            let mut rows = shared
                .store
                .call({
                    let g = g.clone();
                    move |s| s.group_members_page(&g, after.as_deref(), limit.saturating_add(1))
                })
                .await?;
            let end = more(&mut rows, limit)
                .then(|| rows.last().map(|m| m.member.handle.clone()))
                .flatten();
            let members = rows
                .iter()
                .map(|m| p::MemberListEntry {
                    member: visible_member(&m.member, reader, Some(&g)),
                    role: Some(m.role),
                    opted_out: Some(m.opted_out),
                })
                .collect();
            let keys = rows.into_iter().map(|m| m.member.handle).collect();
            (members, keys, end)
        }
        None => {
            let mut rows = shared
                .store
                .call(move |s| s.members_page(after.as_deref(), limit.saturating_add(1)))
                .await?;
            let end = more(&mut rows, limit)
                .then(|| rows.last().map(|m| m.handle.clone()))
                .flatten();
            let members = rows
                .iter()
                .map(|m| p::MemberListEntry {
                    member: member_info(m),
                    role: None,
                    opted_out: None,
                })
                .collect();
            let keys = rows.into_iter().map(|m| m.handle).collect();
            (members, keys, end)
        }
    };
    paged(
        p::MemberListResult {
            members,
            next: None,
        },
        keys,
        end,
    )
}

async fn member_show(shared: &Arc<Shared>, args: p::MemberShowArgs, limit: u32) -> Answer {
    let handle = args.member;
    let (member, mut groups) = shared
        .store
        .call(move |s| {
            s.read(|tx| {
                let m = tx
                    .member(&handle)?
                    .ok_or_else(|| StoreError::UnknownMember(handle.clone()))?;
                let groups =
                    tx.member_groups_page(&handle, args.after.as_deref(), limit.saturating_add(1))?;
                Ok::<_, StoreError>((m, groups))
            })
        })
        .await?;
    let end = more(&mut groups, limit)
        .then(|| groups.last().map(|g| g.group_handle.clone()))
        .flatten();
    let keys = groups.iter().map(|g| g.group_handle.clone()).collect();
    let page = p::MemberShow {
        member: member_info(&member),
        groups: groups
            .into_iter()
            .map(|g| p::MemberGroupInfo {
                group: g.group_handle,
                name: g.group_name,
                role: g.role,
                opted_out: g.opted_out,
            })
            .collect(),
        next: None,
    };
    paged(page, keys, end)
}

/// Bytes of an answer line besides its result: `{"id":N,"ok":true,"result":` and `}`.
const ENVELOPE: usize = 64;

/// Counts what is written to it.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn json_len<T: Serialize>(value: &T) -> Result<usize, ErrorBody> {
    let mut c = Counter(0);
    serde_json::to_writer(&mut c, value).map_err(|e| {
        ErrorBody::new(ErrorCode::Internal, format!("cannot write the answer: {e}"))
    })?;
    Ok(c.0)
}

/// Whether the store found more than `limit` rows (it is asked for `limit + 1`, to tell):
/// then the one past the limit is dropped, and another page follows.
fn more<R>(rows: &mut Vec<R>, limit: u32) -> bool {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    more
}

/// A page as the answer: `keys` are its rows' cursors, `end` the cursor of the last row the
/// store gave when more follow (a row the reader may not see included). A page that would
/// make the line longer than [`p::MAX_LINE`] (the page sizes of [`PageSizes`] leave room
/// for the largest rows, unless a configured header is very long) ends early, at least one
/// row in.
fn paged<T: Paged + Serialize>(
    mut page: T,
    mut keys: Vec<T::Cursor>,
    end: Option<T::Cursor>,
) -> Answer {
    let budget = p::MAX_LINE - ENVELOPE;
    let mut next = end;
    let mut len = json_len(&page)?;
    while len > budget && page.rows() > 1 {
        let rows = page.rows();
        let keep = (rows * budget / len).clamp(1, rows - 1);
        page.truncate(keep);
        keys.truncate(keep);
        next = keys.last().cloned();
        len = json_len(&page)?;
    }
    page.set_next(next);
    answer(&page)
}

fn group_info(shared: &Shared, g: &Group) -> p::GroupInfo {
    p::GroupInfo {
        handle: g.handle.clone(),
        name: g.name.clone(),
        header: service::compose::header(&shared.settings.header_template, g),
        daily_quota: g.daily_quota.unwrap_or(shared.settings.daily_quota),
        monthly_quota: g.monthly_quota.unwrap_or(shared.settings.monthly_quota),
        pinned_modems: g.pinned_modems.clone(),
        pin_fallback: g.modem_fallback,
        allow_urgent: g.allow_urgent,
    }
}

/// A member as `reader` sees them in `group`: the number masked unless they may see the
/// group's numbers, the uid binding for administrators only.
fn visible_member(m: &Member, reader: &Reader, group: Option<&str>) -> p::MemberInfo {
    let mut info = member_info(m);
    info.phone = number(reader, group, &m.phone);
    if !reader.is_admin() {
        info.uid = None;
    }
    info
}

fn member_info(m: &Member) -> p::MemberInfo {
    p::MemberInfo {
        handle: m.handle.clone(),
        name: m.name.clone(),
        phone: m.phone.clone(),
        valid: m.valid,
        sms_enabled: m.sms_enabled,
        uid: m.unix_uid,
    }
}

fn dropped(d: &crate::store::Dropped) -> p::Dropped {
    p::Dropped {
        opted_out: d.opted_out,
        invalid: d.invalid,
        sms_disabled: d.sms_disabled,
        duplicate: d.duplicate,
    }
}

/// Counts of a broadcast, as `subscribe` events and final answers carry them.
pub fn progress(id: BroadcastId, p: &Progress) -> p::BroadcastProgress {
    p::BroadcastProgress {
        broadcast: id.0,
        total: p.total(),
        queued: p.queued,
        sending: p.sending,
        sent: p.sent + p.delivered + p.undelivered,
        delivered: p.delivered,
        undelivered: p.undelivered,
        failed: p.failed,
        uncertain: p.uncertain,
        cancelled: p.cancelled,
        finished: p.is_finished(),
    }
}

/// Whether `caller` may follow broadcast `id`, and if so whether they may see its
/// recipients' numbers.
pub async fn may_follow(shared: &Arc<Shared>, caller: Caller, id: i64) -> Result<bool, ErrorBody> {
    let reader = reader(shared, caller).await?;
    let summary = shared
        .store
        .call(move |s| s.broadcast(BroadcastId(id)))
        .await?
        .ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::UnknownBroadcast,
                format!("there is no broadcast number {id}"),
            )
        })?;
    let group = group_of(&summary);
    reader.broadcast(id, group)?;
    Ok(reader.sees_numbers(group))
}

/// A delivery's change of state, as a `subscribe` event carries it (the number masked unless
/// `numbers`).
pub fn delivery_event(ev: &ProgressEvent, numbers: bool) -> p::SubscribeEvent {
    p::SubscribeEvent {
        delivery: Some(p::DeliveryEvent {
            id: ev.delivery.0,
            number: if numbers {
                ev.number.clone()
            } else {
                service::mask_number(&ev.number)
            },
            state: ev.state.as_str().to_string(),
            modem: ev.modem.clone(),
            error: ev.error.clone(),
        }),
        totals: progress(ev.broadcast, &ev.totals),
    }
}

fn broadcast_info(b: &BroadcastSummary) -> p::BroadcastInfo {
    p::BroadcastInfo {
        id: b.id.0,
        group: b.group_handle.clone(),
        sender: b.sender_handle.clone(),
        caller: b.caller.clone(),
        created_at: b.created_at.to_rfc3339(),
        recipients: b.recipients,
        parts: b.parts,
        encoding: b.encoding.name().to_string(),
        sent: b.progress.sent + b.progress.delivered + b.progress.undelivered,
        delivered: b.progress.delivered,
        undelivered: b.progress.undelivered,
        failed: b.progress.failed,
        uncertain: b.progress.uncertain,
        cancelled: b.progress.cancelled,
        waiting: b.progress.queued + b.progress.sending,
        finished: b.finished,
        text: b.text.clone(),
        waiting_reason: None,
        urgent: b.urgent,
        cancelled_at: b.cancelled.as_ref().map(|(at, _)| at.to_rfc3339()),
        cancelled_by: b.cancelled.as_ref().map(|(_, by)| by.clone()),
    }
}

/// Incomplete messages whose first part came before this are shown (as incomplete).
fn incomplete_cutoff(shared: &Shared) -> DateTime<Utc> {
    now() - chrono::Duration::seconds(shared.config.inbox.incomplete_after_secs as i64)
}

/// Lifts the quarantine of the modems whose device or IMSI is `m.modem` (an administrator
/// asks: `is_management`), in the pool and in the store, with an audit entry.
async fn modem_release(shared: &Arc<Shared>, caller: Caller, m: p::ModemRef) -> Answer {
    let key = m.modem.trim().to_string();
    if key.is_empty() || key.len() > crate::store::MAX_DEVICE_LEN {
        return Err(ErrorBody::new(
            ErrorCode::InvalidValue,
            "modem: a device path or an IMSI",
        ));
    }
    let in_pool = shared.scheduler.release(&key).await;
    let mut sims: Vec<String> = in_pool.iter().map(|(_, sim)| sim.clone()).collect();
    sims.push(key.clone());
    sims.dedup();
    let actor = caller.label();
    let (detail_key, now) = (key.clone(), clock::now());
    let lifted = shared
        .store
        .call(move |s| {
            s.write(|tx| {
                let mut lifted = Vec::new();
                for sim in sims {
                    if tx.release_sim(&sim)? {
                        tx.emit_event(
                            crate::store::EventKind::Modem,
                            &serde_json::json!({
                                "change": "released",
                                "sim": sim,
                                "by": actor,
                            }),
                            now,
                        )?;
                        lifted.push(sim);
                    }
                }
                if !lifted.is_empty() {
                    tx.audit(
                        &crate::store::NewAudit {
                            actor,
                            action: "modem_release".into(),
                            subject: detail_key,
                            detail: format!("quarantine lifted: {}", lifted.join(", ")),
                        },
                        now,
                    )?;
                }
                Ok::<_, StoreError>(lifted)
            })
        })
        .await?;
    let mut released: Vec<p::ReleasedModem> = in_pool
        .iter()
        .map(|(device, sim)| p::ReleasedModem {
            device: Some(device.clone()),
            sim: sim.clone(),
        })
        .collect();
    for sim in &lifted {
        if !released.iter().any(|r| &r.sim == sim) {
            released.push(p::ReleasedModem {
                device: None,
                sim: sim.clone(),
            });
        }
    }
    if released.is_empty() {
        return Err(ErrorBody::new(
            ErrorCode::UnknownModem,
            format!("no quarantined modem or SIM is {key:?} (see groupsms modem list)"),
        ));
    }
    tracing::warn!(modem = %key, by = %caller.label(), "SIM quarantine lifted by an administrator");
    answer(&p::ModemReleaseResult { released })
}

fn unknown_message(id: i64) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::UnknownMessage,
        format!("there is no inbox message number {id}"),
    )
}

/// Replies `broadcast_show` carries on its first page.
const REPLIES_SHOWN: u32 = 10;
/// Incoming messages per `inbox_list` page: 16 of the longest listed texts (500 characters
/// of 6 bytes each when escaped) and their fields fit one line.
const INBOX_PAGE: u32 = 16;
/// An incoming text is cut to this many characters in lists and replies...
const LISTED_TEXT_CHARS: usize = 500;
/// ... and in `inbox_show` and inbox events (a 255-part message holds up to 39 000).
pub const SHOWN_TEXT_CHARS: usize = 8_000;

/// `text` cut to `max` characters (an ellipsis added), and whether it was.
fn cut(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        None => (text.to_string(), false),
        Some((at, _)) => (format!("{}…", &text[..at]), true),
    }
}

/// An inbox message as `reader` may see it, its text cut to `max_chars`.
pub fn inbox_item(m: &InboxMessage, reader: &Reader, max_chars: usize) -> p::InboxItem {
    let (text, truncated) = cut(&m.text, max_chars);
    p::InboxItem {
        id: m.id,
        number: number(reader, m.group_handle.as_deref(), &m.originator),
        member: m.member_handle.clone(),
        from_member: m.from_member,
        carrier_notice: m.carrier_notice,
        broadcast: m.broadcast.map(|b| b.0),
        group: m.group_handle.clone(),
        handling: m.handling.as_str().to_string(),
        text,
        truncated,
        encoding: m.encoding.clone(),
        parts: m.parts,
        parts_total: m.parts_total,
        complete: m.complete,
        scts: m.scts.clone(),
        received_at: m.received_at.to_rfc3339(),
        read: m.read,
        modem: m.device.clone(),
        sim: reader.is_admin().then(|| m.sim.clone()),
        note: m.note.clone(),
    }
}

fn delivery_info(r: &DeliveryRow, reader: &Reader, group: Option<&str>) -> p::DeliveryInfo {
    p::DeliveryInfo {
        member: r.member_handle.clone(),
        number: number(reader, group, &r.number),
        state: r.state.as_str().to_string(),
        modem: r.modem.clone(),
        attempts: r.attempts,
        refs: r.part_refs.clone(),
        possible_duplicate: r.possible_duplicate,
        error: r.last_error.clone(),
    }
}
