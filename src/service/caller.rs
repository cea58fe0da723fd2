//! Who really makes a request, as its transport vouches for it (the peer's uid on the Unix
//! socket, a bearer token over HTTP), and whom they may act as. The rule is default-deny: a
//! caller may act as a member only when that member is bound to the caller's uid, when the
//! caller holds a token issued for that member, or when the caller is an administrator (root,
//! one of `admin_uids`, or a management token).

use crate::store::{Member, MemberId, StoreError, Tx};

/// Who a request comes from, as its transport proved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A peer on the Unix socket (its credentials, from the kernel).
    Unix(u32),
    /// A bearer token: token `id`, issued for `member` (`None`: a management token).
    Token { id: i64, member: Option<MemberId> },
    /// An IM robot's signed message (DingTalk's outgoing robot) from a user the configuration
    /// maps to `member`: acts as that member only.
    Robot { member: MemberId },
}

impl std::fmt::Display for Principal {
    /// How refusals name the caller: `unix user 1000`, `token 7`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Unix(uid) => write!(f, "unix user {uid}"),
            Principal::Token { id, .. } => write!(f, "token {id}"),
            Principal::Robot { member } => write!(f, "the IM robot for member #{}", member.0),
        }
    }
}

/// The caller of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub who: Principal,
    /// Root, one of `admin_uids` or a management token: may manage groups and members and act
    /// as anyone.
    pub admin: bool,
}

/// The longest [`Caller::label`] (a token's, with the largest id): answers that carry a label
/// are sized with it.
pub const LONGEST_LABEL: &str = "token:9223372036854775807";

/// The caller may not act as this member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.member, *.bound, .who))]
pub struct NotYou {
    pub member: String,
    /// The uid the member is bound to, if any.
    pub bound: Option<u32>,
    pub who: Principal,
}

fn describe(member: &str, bound: Option<u32>, who: &Principal) -> String {
    match (who, bound) {
        (Principal::Token { .. }, _) => format!(
            "{who} was not issued for member '{member}', so it may not act as them (a member's \
             token acts as that member only)"
        ),
        (Principal::Robot { .. }, _) => format!(
            "{who} may not act as member '{member}' (a chat user acts as the member they are \
             mapped to only)"
        ),
        (Principal::Unix(_), Some(b)) => {
            format!("member '{member}' is bound to unix user {b}; {who} may not act as them")
        }
        (Principal::Unix(uid), None) => format!(
            "member '{member}' is not bound to a unix user, so only an administrator may act as \
             them (bind them with: groupsms member set {member} --uid {uid})"
        ),
    }
}

impl Caller {
    /// A socket peer: an administrator when root or listed in `admin_uids`.
    pub fn unix(uid: u32, admin_uids: &[u32]) -> Caller {
        Caller {
            who: Principal::Unix(uid),
            admin: uid == 0 || admin_uids.contains(&uid),
        }
    }

    /// A bearer token: a member's (acts as that member only) or a management token.
    pub fn token(id: i64, member: Option<MemberId>) -> Caller {
        Caller {
            who: Principal::Token { id, member },
            admin: member.is_none(),
        }
    }

    /// A chat user of an IM robot, mapped to `member` by the configuration.
    pub fn robot(member: MemberId) -> Caller {
        Caller {
            who: Principal::Robot { member },
            admin: false,
        }
    }

    /// The socket peer's uid (`None` for a token or a robot).
    pub fn uid(&self) -> Option<u32> {
        match self.who {
            Principal::Unix(uid) => Some(uid),
            Principal::Token { .. } | Principal::Robot { .. } => None,
        }
    }

    /// How the caller is named in the audit log and on a broadcast: `root`, `uid:1000`,
    /// `token:7`.
    pub fn label(&self) -> String {
        match self.who {
            Principal::Unix(0) => "root".into(),
            Principal::Unix(uid) => format!("uid:{uid}"),
            Principal::Token { id, .. } => format!("token:{id}"),
            Principal::Robot { member } => format!("robot:{}", member.0),
        }
    }

    /// Whether the caller may act as `member`.
    pub fn may_act_as(&self, member: &Member) -> Result<(), NotYou> {
        let bound = match self.who {
            Principal::Unix(uid) => member.unix_uid == Some(uid),
            Principal::Token { member: m, .. } => m == Some(member.id),
            Principal::Robot { member: m } => m == member.id,
        };
        if self.admin || bound {
            return Ok(());
        }
        Err(NotYou {
            member: member.handle.clone(),
            bound: member.unix_uid,
            who: self.who,
        })
    }

    /// The member the caller is (bound by uid, or the token's member), if any.
    pub fn member(&self, tx: &Tx<'_>) -> Result<Option<Member>, StoreError> {
        match self.who {
            Principal::Unix(uid) => tx.member_by_uid(uid),
            Principal::Token {
                member: Some(id), ..
            } => tx.member_by_id(id),
            Principal::Token { member: None, .. } => Ok(None),
            Principal::Robot { member } => tx.member_by_id(member),
        }
    }
}
