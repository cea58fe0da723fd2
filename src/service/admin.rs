//! Administrative changes, each written together with its audit entry in one transaction.
//! Names, headers and modems are checked by [`fields`] first; phone numbers given here are
//! normalized with the configured default country. A new group's quotas, and a group's
//! quotas after a change that sets one, must pass [`quota::check_group`] or nothing is made.

use chrono::{DateTime, Utc};

use super::phone::normalize;
use super::{fields, quota, ServiceError, Settings};
use crate::store::{
    Cancellation, Group, GroupChange, Member, MemberChange, Membership, NewAudit, NewGroup,
    NewMember, Role, Store, StoreError,
};

/// One administrative change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminChange {
    CreateGroup(NewGroup),
    UpdateGroup {
        handle: String,
        change: GroupChange,
    },
    /// `force`: cancel the group's open broadcasts first (else they refuse the deletion).
    DeleteGroup {
        handle: String,
        force: bool,
    },
    /// `member.phone` may be in any accepted form; it is stored as E.164.
    AddMember(NewMember),
    /// `change.phone` may be in any accepted form.
    UpdateMember {
        handle: String,
        change: MemberChange,
    },
    DeleteMember {
        handle: String,
    },
    Join {
        group: String,
        member: String,
        role: Role,
    },
    Leave {
        group: String,
        member: String,
    },
    SetRole {
        group: String,
        member: String,
        role: Role,
    },
    OptOut {
        group: String,
        member: String,
    },
    OptIn {
        group: String,
        member: String,
    },
}

/// What a change produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminOutcome {
    Group(Group),
    Member(Member),
    Membership(Membership),
    Done,
    /// A group deleted with `--force`: its broadcasts that were cancelled.
    GroupDeleted(Vec<Cancellation>),
}

/// Normalizes a phone number, or says which input was refused and why.
pub fn phone(settings: &Settings, input: &str) -> Result<String, ServiceError> {
    normalize(input, settings.default_country).map_err(|error| ServiceError::Phone {
        input: input.to_string(),
        error,
    })
}

/// Applies `change` on behalf of `actor` (a member handle, `uid:1000`, `root`, ...) and logs it.
pub fn apply(
    store: &mut Store,
    settings: &Settings,
    actor: &str,
    change: AdminChange,
    now: DateTime<Utc>,
) -> Result<AdminOutcome, ServiceError> {
    use AdminChange::*;
    let change = match change {
        CreateGroup(g) => {
            fields::new_group(&g)?;
            CreateGroup(g)
        }
        UpdateGroup { handle, change } => {
            fields::group_change(&change)?;
            UpdateGroup { handle, change }
        }
        AddMember(mut m) => {
            fields::new_member(&m)?;
            m.phone = phone(settings, &m.phone)?;
            AddMember(m)
        }
        UpdateMember { handle, mut change } => {
            fields::member_change(&change)?;
            if let Some(p) = &change.phone {
                change.phone = Some(phone(settings, p)?);
            }
            UpdateMember { handle, change }
        }
        other => other,
    };
    store
        .write(|tx| -> Result<AdminOutcome, ServiceError> {
            let (outcome, action, subject, detail) = match &change {
                CreateGroup(g) => (
                    AdminOutcome::Group(tx.create_group(g, now)?),
                    "create_group",
                    g.handle.clone(),
                    format!("created group '{}' ({})", g.handle, g.name),
                ),
                UpdateGroup { handle, change } => (
                    AdminOutcome::Group(tx.update_group(handle, change)?),
                    "update_group",
                    handle.clone(),
                    format!("changed group '{handle}': {change:?}"),
                ),
                DeleteGroup { handle, force } => {
                    let g = tx
                        .group(handle)?
                        .ok_or_else(|| StoreError::UnknownGroup(handle.clone()))?;
                    let open = tx.open_broadcasts(g.id)?;
                    if !open.is_empty() && !force {
                        return Err(super::cancel::OpenBroadcasts {
                            group: handle.clone(),
                            broadcasts: open.iter().map(|b| b.0).collect(),
                        }
                        .into());
                    }
                    let mut cancelled = Vec::new();
                    for id in open {
                        if let Some(b) = tx.broadcast(id)? {
                            cancelled.push(super::cancel::cancel_in(tx, &b, actor, now)?);
                        }
                    }
                    tx.delete_group(handle)?;
                    let n: usize = cancelled.iter().map(|c| c.cancelled.len()).sum();
                    let detail = match cancelled.len() {
                        0 => format!("deleted group '{handle}'"),
                        b => format!(
                            "deleted group '{handle}' with --force: {b} broadcast(s) cancelled, \
                             {n} queued deliveries"
                        ),
                    };
                    (
                        AdminOutcome::GroupDeleted(cancelled),
                        "delete_group",
                        handle.clone(),
                        detail,
                    )
                }
                AddMember(m) => (
                    AdminOutcome::Member(tx.create_member(m, now)?),
                    "add_member",
                    m.handle.clone(),
                    format!("added member '{}' ({}, {})", m.handle, m.name, m.phone),
                ),
                UpdateMember { handle, change } => (
                    AdminOutcome::Member(tx.update_member(handle, change)?),
                    "update_member",
                    handle.clone(),
                    format!("changed member '{handle}': {change:?}"),
                ),
                DeleteMember { handle } => {
                    tx.delete_member(handle)?;
                    (
                        AdminOutcome::Done,
                        "delete_member",
                        handle.clone(),
                        format!("deleted member '{handle}'"),
                    )
                }
                Join {
                    group,
                    member,
                    role,
                } => (
                    AdminOutcome::Membership(tx.join(group, member, *role, now)?),
                    "join",
                    group.clone(),
                    format!("'{member}' joined group '{group}' as {role}"),
                ),
                Leave { group, member } => {
                    tx.leave(group, member)?;
                    (
                        AdminOutcome::Done,
                        "leave",
                        group.clone(),
                        format!("'{member}' left group '{group}'"),
                    )
                }
                SetRole {
                    group,
                    member,
                    role,
                } => (
                    AdminOutcome::Membership(tx.set_role(group, member, *role)?),
                    "set_role",
                    group.clone(),
                    format!("'{member}' is now {role} of group '{group}'"),
                ),
                OptOut { group, member } => {
                    // The same effect as a reply by SMS: queued messages are cancelled too.
                    let (ms, cancelled) = super::optout::opt_out(tx, group, member, now)?;
                    let cancelled = match cancelled.len() {
                        0 => String::new(),
                        n => format!("; {n} queued message(s) cancelled"),
                    };
                    (
                        AdminOutcome::Membership(ms),
                        "opt_out",
                        group.clone(),
                        format!("'{member}' opted out of group '{group}'{cancelled}"),
                    )
                }
                OptIn { group, member } => (
                    AdminOutcome::Membership(tx.set_opt_out(group, member, false)?),
                    "opt_in",
                    group.clone(),
                    format!("'{member}' opted back in to group '{group}'"),
                ),
            };
            // A new group's quotas, or the quotas a change sets, as they now apply (see
            // `quota::check_group`); a refusal rolls the change back. A change that leaves
            // the quotas alone (a new name) is not refused for them.
            let sets_quotas = match &change {
                CreateGroup(_) => true,
                UpdateGroup { change, .. } => {
                    change.daily_quota.is_some() || change.monthly_quota.is_some()
                }
                _ => false,
            };
            if let (true, AdminOutcome::Group(g)) = (sets_quotas, &outcome) {
                quota::check_group(settings, g).map_err(|error| ServiceError::InvalidQuota {
                    group: g.handle.clone(),
                    error,
                })?;
            }
            tx.audit(
                &NewAudit {
                    actor: actor.to_string(),
                    action: action.to_string(),
                    subject,
                    detail,
                },
                now,
            )?;
            Ok(outcome)
        })
        .map_err(|e| match e {
            ServiceError::Store(e) => ServiceError::lift(e),
            e => e,
        })
}
