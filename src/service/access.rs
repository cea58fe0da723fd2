//! Who may read what, in one place. Every read the daemon answers asks a [`Reader`]:
//!
//! | caller | may read |
//! | --- | --- |
//! | administrator (root, `admin_uids`) | everything |
//! | a Unix user bound to a member | the groups that member belongs to, their broadcasts and members; phone numbers only of the groups where the member is an admin or super-admin; their own member record; the modems without their SIMs' IMSIs |
//! | anyone else | `hello` and `status`, without personal data (no IMSIs) |
//!
//! Incoming messages: administrators read them all; a group's admins and super-admins read
//! the replies to that group's broadcasts (`broadcast show` lists them to every member of the
//! group, numbers masked as above); nobody else reads any.
//!
//! A number a reader may not see is shown with all but its last four digits starred
//! ([`mask_number`]), so a member can still tell recipients apart.

use std::collections::BTreeMap;

use super::{Caller, Principal, ServiceError};
use crate::domain::Role;
use crate::store::{Store, StoreError};

/// What one caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    Admin,
    /// Bound to this member, who belongs to these groups (handle -> role).
    Member {
        who: Principal,
        handle: String,
        groups: BTreeMap<String, Role>,
    },
    /// Neither: status only.
    Outsider {
        who: Principal,
    },
}

/// The caller may not read this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{who} may not read {what}")]
pub struct NotYours {
    pub who: Principal,
    /// What was asked for: `group 'ops'`, `broadcast 7`, `the member list`...
    pub what: String,
}

impl Reader {
    /// The reader for `caller`: administrators need no look-up; others are looked up by uid.
    pub fn of(store: &mut Store, caller: Caller) -> Result<Reader, StoreError> {
        if caller.admin {
            return Ok(Reader::Admin);
        }
        store.read(|tx| {
            let Some(member) = caller.member(tx)? else {
                return Ok(Reader::Outsider { who: caller.who });
            };
            let groups = tx
                .member_groups(&member.handle)?
                .into_iter()
                .map(|g| (g.group_handle, g.role))
                .collect();
            Ok(Reader::Member {
                who: caller.who,
                handle: member.handle,
                groups,
            })
        })
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Reader::Admin)
    }

    fn refuse(&self, what: impl Into<String>) -> ServiceError {
        let what = what.into();
        match self {
            Reader::Member { who, handle, .. } => NotYours {
                who: *who,
                what: format!("{what} (it is not member '{handle}'s)"),
            },
            Reader::Outsider { who } => NotYours { who: *who, what },
            // Administrators are refused nothing.
            Reader::Admin => NotYours {
                who: Principal::Unix(0),
                what,
            },
        }
        .into()
    }

    /// Whether the group `handle` is visible.
    pub fn sees_group(&self, handle: &str) -> bool {
        match self {
            Reader::Admin => true,
            Reader::Member { groups, .. } => groups.contains_key(handle),
            Reader::Outsider { .. } => false,
        }
    }

    /// Refuses unless the group is visible.
    pub fn group(&self, handle: &str) -> Result<(), ServiceError> {
        if self.sees_group(handle) {
            Ok(())
        } else {
            Err(self.refuse(format!("group '{handle}'")))
        }
    }

    /// Refuses unless the broadcast's group is visible (`group` is `None` once the group was
    /// deleted: administrators only).
    pub fn broadcast(&self, id: i64, group: Option<&str>) -> Result<(), ServiceError> {
        match group {
            Some(g) if self.sees_group(g) => Ok(()),
            _ if self.is_admin() => Ok(()),
            _ => Err(self.refuse(format!("broadcast {id}"))),
        }
    }

    /// Whether phone numbers of the group's members and recipients are visible.
    pub fn sees_numbers(&self, group: Option<&str>) -> bool {
        match self {
            Reader::Admin => true,
            Reader::Member { groups, .. } => group
                .and_then(|g| groups.get(g))
                .is_some_and(|r| matches!(r, Role::Admin | Role::SuperAdmin)),
            Reader::Outsider { .. } => false,
        }
    }

    /// Refuses unless the member record is visible (administrators, or the member themself).
    pub fn member(&self, handle: &str) -> Result<(), ServiceError> {
        match self {
            Reader::Admin => Ok(()),
            Reader::Member { handle: me, .. } if me == handle => Ok(()),
            _ => Err(self.refuse(format!("member '{handle}'"))),
        }
    }

    /// Refuses the whole member list (without a group) unless an administrator.
    pub fn all_members(&self) -> Result<(), ServiceError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(self.refuse("the list of all members (name a group)"))
        }
    }

    /// Refuses the modem list to outsiders.
    pub fn modems(&self) -> Result<(), ServiceError> {
        match self {
            Reader::Outsider { .. } => Err(self.refuse("the modem list")),
            _ => Ok(()),
        }
    }

    /// The groups whose replies (inbox messages linked to their broadcasts) the reader may
    /// read: `None` for all messages (administrators), else the groups where the member is an
    /// admin or super-admin (possibly none).
    pub fn inbox_groups(&self) -> Option<Vec<String>> {
        match self {
            Reader::Admin => None,
            Reader::Member { groups, .. } => Some(
                groups
                    .iter()
                    .filter(|(_, r)| matches!(r, Role::Admin | Role::SuperAdmin))
                    .map(|(g, _)| g.clone())
                    .collect(),
            ),
            Reader::Outsider { .. } => Some(Vec::new()),
        }
    }

    /// Refuses an inbox message unless an administrator, or an admin of the group whose
    /// broadcast it answers.
    pub fn inbox_message(&self, id: i64, group: Option<&str>) -> Result<(), ServiceError> {
        let visible = match self.inbox_groups() {
            None => true,
            Some(groups) => group.is_some_and(|g| groups.iter().any(|x| x == g)),
        };
        if visible {
            Ok(())
        } else {
            Err(self.refuse(format!("inbox message {id}")))
        }
    }

    /// Refuses lists of groups or broadcasts to outsiders (members get theirs, filtered).
    pub fn lists(&self) -> Result<(), ServiceError> {
        match self {
            Reader::Outsider { .. } => Err(self.refuse("groups or broadcasts")),
            _ => Ok(()),
        }
    }
}

/// `number` with every digit but the last four replaced by `*`.
pub fn mask_number(number: &str) -> String {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    number
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen <= digits.saturating_sub(4) {
                    return '*';
                }
            }
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_last_four_digits() {
        assert_eq!(mask_number("+8613800138000"), "+*********8000");
        assert_eq!(mask_number("10086"), "*0086");
        assert_eq!(mask_number("123"), "123");
    }

    #[test]
    fn members_see_their_groups_and_numbers_only_where_they_administer() {
        let r = Reader::Member {
            who: Principal::Unix(1000),
            handle: "m1".into(),
            groups: BTreeMap::from([
                ("ops".to_string(), Role::Member),
                ("hr".to_string(), Role::SuperAdmin),
            ]),
        };
        assert!(r.group("ops").is_ok());
        assert_eq!(
            r.group("finance").unwrap_err().to_string(),
            "unix user 1000 may not read group 'finance' (it is not member 'm1's)"
        );
        assert!(!r.sees_numbers(Some("ops")));
        assert!(r.sees_numbers(Some("hr")));
        assert!(r.broadcast(3, None).is_err(), "deleted group: admins only");
        assert!(r.member("m1").is_ok() && r.member("m2").is_err());
        let o = Reader::Outsider {
            who: Principal::Unix(1000),
        };
        assert_eq!(
            o.lists().unwrap_err().to_string(),
            "unix user 1000 may not read groups or broadcasts"
        );
        assert!(Reader::Admin.broadcast(3, None).is_ok());
    }
}
