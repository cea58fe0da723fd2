//! Accepting a broadcast: every rule in order, then the broadcast, all its deliveries and the
//! quota use written in one immediate transaction. Nothing is sent here.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::compose::{check_parts, measure, Composition};
use super::period::{sim_windows, Periods};
use super::quota::{self, QuotaStatus};
use super::recipients::{resolve, LeftOut, Resolved};
use super::refusals::{Entry, MORE_REFUSED};
use super::{Caller, ServiceError, Settings};
use crate::sms::Encoding;
use crate::store::{
    BroadcastId, Dropped, Group, Member, NewAudit, NewBroadcast, QueuedDelivery, Role, SendCount,
    Store, StoreError, Tx,
};

/// No group has this handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("there is no group with the handle '{handle}'")]
pub struct UnknownGroup {
    pub handle: String,
}

/// No member has this handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("there is no member with the handle '{handle}'")]
pub struct UnknownMember {
    pub handle: String,
}

/// The sender may not send to this group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "member '{member}' may not send to group '{group}': only its super-admins may, and {}",
    match .role { Some(r) => format!("their role there is {r}"), None => "they are not in it".to_string() }
)]
pub struct NotSuperAdmin {
    pub member: String,
    pub group: String,
    /// Their role in the group, if they are in it.
    pub role: Option<Role>,
}

/// Every member of the group was left out. Nothing was written and no quota was used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "group '{group}' has nobody to send to ({} opted out, {} invalid, {} with SMS disabled); \
     nothing was sent and no quota was used",
    .dropped.opted_out, .dropped.invalid, .dropped.sms_disabled
)]
pub struct NoRecipients {
    pub group: String,
    pub dropped: Dropped,
}

/// `send --urgent` to a group that does not allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "group '{group}' does not allow urgent sending (an administrator may allow it: \
     groupsms group set {group} --allow-urgent true); send it without --urgent"
)]
pub struct UrgentNotAllowed {
    pub group: String,
}

/// A request to send `body` to `group` on behalf of `as_member`, made by `caller`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    /// Who really asks (recorded on the broadcast and in the audit log).
    pub caller: Caller,
    /// Group handle.
    pub group: String,
    /// Member handle of the sender.
    pub as_member: String,
    pub body: String,
    pub now: DateTime<Utc>,
    /// Start inside the quiet hours (only where the group allows it).
    pub urgent: bool,
}

/// An accepted broadcast: written with all its deliveries, queued, not yet sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub broadcast_id: BroadcastId,
    /// The group as it was when the broadcast was accepted (its pinning routes the jobs).
    pub group: Group,
    /// The deliveries to schedule, read back in the same transaction.
    pub queued: Vec<QueuedDelivery>,
    pub recipients: u32,
    pub dropped: Dropped,
    pub parts: usize,
    pub encoding: Encoding,
    /// The composed text (header + body, masked if the policy says so).
    pub text: String,
    /// Sensitive words masked in the body (empty under `reject` or when clean).
    pub masked: Vec<String>,
    /// Broadcasts the group may still send after this one.
    pub quota_left: u32,
    /// The group's quota use with this broadcast counted.
    pub quota: QuotaStatus,
}

/// Checks every rule and, if all pass, writes the broadcast and its deliveries and uses one
/// quota slot, all in one `BEGIN IMMEDIATE` transaction: concurrent requests on the same
/// database never pass more than the quota. A refusal is written to the audit log, at most
/// [`super::refusals::REFUSED_SENDS_LOGGED_PER_MINUTE`] a minute per caller.
///
/// Order: group exists, sender exists, the caller may act as the sender, sender is a
/// super-admin, urgent allowed (when asked), body not blank, no control character in the body but line breaks, sensitive
/// words, part count, quota, recipients (none: refused, nothing used).
pub fn submit_broadcast(
    store: &mut Store,
    settings: &Settings,
    req: SendRequest,
) -> Result<Accepted, ServiceError> {
    submit_broadcast_keyed(store, settings, req, None)
}

/// [`submit_broadcast`], the broadcast linked in its own transaction to the idempotency key
/// claimed as row `key` (see [`super::idempotency`]): a key never names a broadcast that was
/// not written, nor a written broadcast go unnamed by its key.
pub fn submit_broadcast_keyed(
    store: &mut Store,
    settings: &Settings,
    req: SendRequest,
    key: Option<i64>,
) -> Result<Accepted, ServiceError> {
    let result = store.write(|tx| accept(tx, settings, &req, key));
    if let Err(e) = &result {
        let actor = req.caller.label();
        let detail = if !e.is_refusal() {
            None
        } else {
            match settings.refusals.count(&actor, req.now) {
                Entry::Refusal => Some(format!("as '{}': {e}", req.as_member)),
                Entry::Summary => Some(MORE_REFUSED.to_string()),
                Entry::Nothing => None,
            }
        };
        if let Some(detail) = detail {
            let entry = NewAudit {
                actor,
                action: "send_refused".into(),
                subject: req.group.clone(),
                detail,
            };
            if let Err(audit_err) = store.audit(&entry, req.now) {
                tracing::warn!(error = %audit_err, "cannot write a refused send to the audit log");
            }
        }
    }
    result
}

/// What the rules make of a message before anything is written: the send preview
/// ([`preview`]) shows it, and [`submit_broadcast`] writes it when `refusal` is `None`. One
/// function ([`examine`]) builds it for both, so the preview cannot say yes where sending
/// would say no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The group as it is now.
    pub group: Group,
    /// The sending member.
    pub sender: Member,
    /// The body as it would be sent (masked under the `mask` policy).
    pub body: String,
    /// Sensitive words masked in the body (empty under `reject` or when clean).
    pub masked: Vec<String>,
    /// Header + body + footer, measured even when it needs too many parts.
    pub composition: Composition,
    /// The group's quota use now (this message not counted).
    pub quota: QuotaStatus,
    /// Who would receive it, and who would be left out.
    pub resolved: Resolved,
    /// The first rule that refuses the message, in [`submit_broadcast`]'s order; `None`: it
    /// would be accepted now.
    pub refusal: Option<ServiceError>,
}

/// Checks the request against every rule without writing. Refusals that leave nothing to
/// show (unknown group or sender, a caller who may not act as the sender, a sender who is
/// not a super-admin of the group) are errors; the others are measured and the first one
/// is kept in [`Draft::refusal`].
fn examine(tx: &Tx<'_>, settings: &Settings, req: &SendRequest) -> Result<Draft, ServiceError> {
    let group = tx.group(&req.group)?.ok_or_else(|| UnknownGroup {
        handle: req.group.clone(),
    })?;
    let sender = tx.member(&req.as_member)?.ok_or_else(|| UnknownMember {
        handle: req.as_member.clone(),
    })?;
    req.caller.may_act_as(&sender)?;
    let role = tx.membership(group.id, sender.id)?.map(|m| m.role);
    if role != Some(Role::SuperAdmin) {
        return Err(NotSuperAdmin {
            member: sender.handle,
            group: group.handle,
            role,
        }
        .into());
    }
    let mut refusal: Option<ServiceError> = None;
    let mut refuse = |e: ServiceError| {
        refusal.get_or_insert(e);
    };
    if req.urgent && !group.allow_urgent {
        refuse(
            UrgentNotAllowed {
                group: group.handle.clone(),
            }
            .into(),
        );
    }
    if super::sensitive::is_blank(&req.body) {
        refuse(super::EmptyBody.into());
    }
    if let Err(e) = super::fields::body(&req.body) {
        refuse(e.into());
    }
    let (body, masked) = match settings
        .sensitive
        .apply(&req.body, settings.sensitive_policy)
    {
        Ok(done) => done,
        Err(found) => {
            refuse(found.into());
            (req.body.clone(), Vec::new())
        }
    };
    let composition = measure(&settings.header_template, &group, &body, &settings.footer);
    if let Err(e) = check_parts(&composition, &settings.footer, settings.max_parts) {
        refuse(e.into());
    }
    let periods = Periods::at(req.now, settings.timezone);
    let quota = quota::status(tx, settings, &group, periods)?;
    if let Some(e) = quota.exceeded(&group.handle) {
        refuse(e.into());
    }
    let resolved = resolve(tx.recipient_rows(group.id)?);
    if resolved.recipients.is_empty() {
        refuse(
            NoRecipients {
                group: group.handle.clone(),
                dropped: resolved.dropped,
            }
            .into(),
        );
    }
    Ok(Draft {
        group,
        sender,
        body,
        masked,
        composition,
        quota,
        resolved,
        refusal,
    })
}

/// What sending `req` would do now, with nothing written and no quota used (the HTTP API's
/// send preview, the console's live preview).
pub fn preview(
    store: &mut Store,
    settings: &Settings,
    req: &SendRequest,
) -> Result<(Draft, LeftOut<Member>), ServiceError> {
    store.read(|tx| {
        let draft = examine(tx, settings, req)?;
        // The members left out, named (a few of each reason: `resolve` keeps their ids).
        let named = draft.resolved.left_out.try_map(|id| tx.member_by_id(*id))?;
        Ok((draft, named))
    })
}

fn accept(
    tx: &Tx<'_>,
    settings: &Settings,
    req: &SendRequest,
    key: Option<i64>,
) -> Result<Accepted, ServiceError> {
    let draft = examine(tx, settings, req)?;
    if let Some(refusal) = draft.refusal {
        return Err(refusal);
    }
    let Draft {
        group,
        sender,
        composition,
        quota: status,
        resolved,
        masked,
        ..
    } = draft;
    let broadcast = NewBroadcast {
        group_id: group.id,
        group_handle: group.handle.clone(),
        sender_id: sender.id,
        sender_handle: sender.handle.clone(),
        body: req.body.clone(),
        text: composition.text.clone(),
        encoding: composition.encoding,
        parts: composition.parts as u32,
        dropped: resolved.dropped,
        quota_day: status.periods.day.clone(),
        quota_month: status.periods.month.clone(),
        caller: req.caller.label(),
        urgent: req.urgent,
    };
    let id = tx.insert_broadcast(&broadcast, &resolved.recipients, req.now)?;
    tx.consume_quota(group.id, &status.periods.day, &status.periods.month)?;
    if let Some(key) = key {
        tx.link_idempotency_key(key, id)?;
    }
    let queued = tx.queued_for_broadcast(id)?;
    Ok(Accepted {
        broadcast_id: id,
        group,
        queued,
        recipients: resolved.recipients.len() as u32,
        dropped: resolved.dropped,
        parts: composition.parts,
        encoding: composition.encoding,
        text: composition.text,
        masked,
        quota_left: status.left().saturating_sub(1),
        quota: QuotaStatus {
            day_used: status.day_used.saturating_add(1),
            month_used: status.month_used.saturating_add(1),
            ..status
        },
    })
}

/// Where a group stands against its quotas at `now`.
pub fn quota_status(
    store: &mut Store,
    settings: &Settings,
    group: &str,
    now: DateTime<Utc>,
) -> Result<QuotaStatus, ServiceError> {
    store.read(|tx| {
        let g = tx.group(group)?.ok_or_else(|| UnknownGroup {
            handle: group.to_string(),
        })?;
        Ok(quota::status(
            tx,
            settings,
            &g,
            Periods::at(now, settings.timezone),
        )?)
    })
}

/// Sends through one SIM in the current local clock hour and local day, up to now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimCounts {
    pub hour: SendCount,
    pub day: SendCount,
}

/// Reads the per-SIM counters for the hour and day containing `now` in `tz`.
pub fn sim_counts(
    store: &mut Store,
    tz: Tz,
    sim: &str,
    now: DateTime<Utc>,
) -> Result<SimCounts, StoreError> {
    let (hour, day) = sim_windows(now, tz);
    store.read(|tx| {
        Ok(SimCounts {
            hour: tx.sim_sends_between(sim, hour, now)?,
            day: tx.sim_sends_between(sim, day, now)?,
        })
    })
}
