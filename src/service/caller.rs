//! Who really makes a request, as its transport vouches (the peer's uid on the Unix socket),
//! and whom they may act as. The rule is default-deny: a caller may act as a member only when
//! that member is bound to the caller's uid, or when the caller is an administrator (root or
//! one of `admin_uids`).

use crate::store::Member;

/// The caller of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    /// Root or one of `admin_uids`: may manage groups and members and act as anyone.
    pub admin: bool,
}

/// The caller may not act as this member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.member, *.bound, *.uid))]
pub struct NotYou {
    pub member: String,
    /// The uid the member is bound to, if any.
    pub bound: Option<u32>,
    /// The caller's uid.
    pub uid: u32,
}

fn describe(member: &str, bound: Option<u32>, uid: u32) -> String {
    match bound {
        Some(b) => format!(
            "member '{member}' is bound to unix user {b}; unix user {uid} may not act as them"
        ),
        None => format!(
            "member '{member}' is not bound to a unix user, so only an administrator may act as \
             them (bind them with: groupsms member set {member} --uid {uid})"
        ),
    }
}

impl Caller {
    /// A socket peer: an administrator when root or listed in `admin_uids`.
    pub fn unix(uid: u32, admin_uids: &[u32]) -> Caller {
        Caller {
            uid,
            admin: uid == 0 || admin_uids.contains(&uid),
        }
    }

    /// How the caller is named in the audit log and on a broadcast: `root`, `uid:1000`.
    pub fn label(&self) -> String {
        if self.uid == 0 {
            "root".into()
        } else {
            format!("uid:{}", self.uid)
        }
    }

    /// Whether the caller may act as `member`.
    pub fn may_act_as(&self, member: &Member) -> Result<(), NotYou> {
        if self.admin || member.unix_uid == Some(self.uid) {
            return Ok(());
        }
        Err(NotYou {
            member: member.handle.clone(),
            bound: member.unix_uid,
            uid: self.uid,
        })
    }
}
