//! Cancelling a broadcast (`broadcast cancel N`, and `group delete --force` for each of the
//! group's open broadcasts): who may, when there is nothing left to cancel, and the audit
//! entry, with the store's change in the same transaction.
//!
//! Who may: an administrator, or a super-admin of the broadcast's group (the Unix user bound
//! to that member). What: every delivery still `queued` becomes `cancelled`, in one
//! transaction; a delivery already being sent (or sent) is left as it is. A broadcast already
//! cancelled, or finished (nothing queued or being sent), is refused with what became of it.

use chrono::{DateTime, Utc};

use super::{Caller, Principal, ServiceError};
use crate::domain::Role;
use crate::store::{
    BroadcastId, BroadcastSummary, Cancellation, GroupId, NewAudit, Store, StoreError, Tx,
};

/// Why a broadcast cannot be cancelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CannotCancel {
    #[error(
        "{who} may not cancel broadcast {id}: only a super-admin of {} or an \
         administrator may",
        match .group { Some(g) => format!("group '{g}'"), None => "its group".to_string() }
    )]
    NotAllowed {
        who: Principal,
        id: i64,
        group: Option<String>,
    },
    #[error("broadcast {id} was already cancelled ({at}, by {by}); nothing is left to cancel")]
    Already { id: i64, at: String, by: String },
    #[error(
        "broadcast {id} is finished ({sent} sent, {failed} failed, {cancelled} cancelled); \
         nothing is left to cancel"
    )]
    Finished {
        id: i64,
        sent: u32,
        failed: u32,
        cancelled: u32,
    },
}

/// A group with broadcasts still being sent is deleted only with `--force`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "group '{group}' has {} broadcast(s) still being sent ({}): `groupsms group delete {group} \
     --force` cancels what is still queued and deletes the group",
    .broadcasts.len(),
    .broadcasts.iter().map(|b| format!("#{b}")).collect::<Vec<_>>().join(", ")
)]
pub struct OpenBroadcasts {
    pub group: String,
    pub broadcasts: Vec<i64>,
}

/// What a cancelled delivery's `last_error` says.
pub fn reason(actor: &str) -> String {
    format!("the broadcast was cancelled by {actor}")
}

/// Cancels broadcast `id` for `caller` (see the module docs), with its audit entry.
pub fn cancel_broadcast(
    store: &mut Store,
    caller: Caller,
    id: BroadcastId,
    now: DateTime<Utc>,
) -> Result<Cancellation, ServiceError> {
    store.write(|tx| {
        let b = tx
            .broadcast(id)?
            .ok_or(StoreError::UnknownBroadcast(id.0))?;
        if !caller.admin && !is_super_admin(tx, caller, b.group_id)? {
            return Err(CannotCancel::NotAllowed {
                who: caller.who,
                id: id.0,
                group: b.group_id.map(|_| b.group_handle.clone()),
            }
            .into());
        }
        if let Some((at, by)) = &b.cancelled {
            return Err(CannotCancel::Already {
                id: id.0,
                at: at.to_rfc3339(),
                by: by.clone(),
            }
            .into());
        }
        if b.finished {
            let p = b.progress;
            return Err(CannotCancel::Finished {
                id: id.0,
                sent: p.sent + p.delivered + p.undelivered,
                failed: p.failed + p.uncertain,
                cancelled: p.cancelled,
            }
            .into());
        }
        cancel_in(tx, &b, &caller.label(), now)
    })
}

/// Cancels `b` in `tx` on behalf of `actor` and writes the audit entry.
pub(crate) fn cancel_in(
    tx: &Tx<'_>,
    b: &BroadcastSummary,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Cancellation, ServiceError> {
    let c = tx.cancel_broadcast(b.id, &reason(actor), actor, now)?;
    let p = c.progress;
    tx.audit(
        &NewAudit {
            actor: actor.to_string(),
            action: "cancel_broadcast".into(),
            subject: b.group_handle.clone(),
            detail: format!(
                "cancelled broadcast {}: {} queued deliveries cancelled, {} already sent, {} \
                 being sent",
                b.id,
                c.cancelled.len(),
                p.sent + p.delivered + p.undelivered,
                p.sending
            ),
        },
        now,
    )?;
    Ok(c)
}

/// Whether the member bound to Unix user `uid` is a super-admin of `group`.
fn is_super_admin(tx: &Tx<'_>, caller: Caller, group: Option<GroupId>) -> Result<bool, StoreError> {
    let (Some(member), Some(group)) = (caller.member(tx)?, group) else {
        return Ok(false);
    };
    Ok(tx.membership(group, member.id)?.map(|m| m.role) == Some(Role::SuperAdmin))
}
