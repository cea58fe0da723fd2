//! Groups, members and memberships.

use super::db::{params, OptionalExtension, Row};
use chrono::{DateTime, Utc};

use super::model::{check_e164, check_handle, check_not_empty};
use super::{
    from_ms, ms, Group, GroupChange, GroupId, GroupMember, Member, MemberChange, MemberGroup,
    MemberId, Membership, NewGroup, NewMember, RecipientRow, Role, StoreError, Tx,
};

const GROUP_COLS: &str =
    "id, handle, name, header, daily_quota, monthly_quota, modem_fallback, created_at, allow_urgent";
const MEMBER_COLS: &str = "id, handle, name, phone, valid, sms_enabled, unix_uid, created_at";

fn group_row(r: &Row<'_>) -> super::db::Result<Group> {
    Ok(Group {
        id: r.get(0)?,
        handle: r.get(1)?,
        name: r.get(2)?,
        header: r.get(3)?,
        daily_quota: r.get(4)?,
        monthly_quota: r.get(5)?,
        pinned_modems: Vec::new(),
        modem_fallback: r.get(6)?,
        created_at: from_ms(r.get(7)?),
        allow_urgent: r.get(8)?,
    })
}

/// Reads the member columns starting at column `at`.
pub(crate) fn member_row_at(r: &Row<'_>, at: usize) -> super::db::Result<Member> {
    Ok(Member {
        id: r.get(at)?,
        handle: r.get(at + 1)?,
        name: r.get(at + 2)?,
        phone: r.get(at + 3)?,
        valid: r.get(at + 4)?,
        sms_enabled: r.get(at + 5)?,
        unix_uid: r.get(at + 6)?,
        created_at: from_ms(r.get(at + 7)?),
    })
}

fn membership_row(r: &Row<'_>) -> super::db::Result<Membership> {
    Ok(Membership {
        group_id: r.get(0)?,
        member_id: r.get(1)?,
        role: r.get(2)?,
        opted_out: r.get(3)?,
        joined_at: from_ms(r.get(4)?),
    })
}

fn check_group_fields(
    name: &str,
    header: Option<&str>,
    modems: &[String],
) -> Result<(), StoreError> {
    check_not_empty("the group name", name)?;
    if let Some(h) = header {
        check_not_empty("a header override", h)?;
    }
    for m in modems {
        check_not_empty("a pinned modem", m)?;
    }
    Ok(())
}

impl Tx<'_> {
    // ---- groups ----

    /// Creates a group; its handle must be new.
    pub fn create_group(&self, g: &NewGroup, now: DateTime<Utc>) -> Result<Group, StoreError> {
        check_handle(&g.handle)?;
        check_group_fields(&g.name, g.header.as_deref(), &g.pinned_modems)?;
        if self.group_id(&g.handle)?.is_some() {
            return Err(StoreError::DuplicateGroup(g.handle.clone()));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO groups (handle, name, header, daily_quota, monthly_quota, \
                 modem_fallback, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                g.handle,
                g.name,
                g.header,
                g.daily_quota,
                g.monthly_quota,
                g.modem_fallback,
                ms(now)
            ])?;
        let id = GroupId(self.conn.last_insert_rowid()?);
        self.set_modems(id, &g.pinned_modems)?;
        self.group_by_id(id)?
            .ok_or_else(|| StoreError::Sql("the new group vanished".into()))
    }

    fn set_modems(&self, id: GroupId, modems: &[String]) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM group_modems WHERE group_id = ?")?
            .execute([id])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO group_modems (group_id, position, modem) VALUES (?, ?, ?)",
        )?;
        for (i, m) in modems.iter().enumerate() {
            insert.execute(params![id, i as i64, m.trim()])?;
        }
        Ok(())
    }

    fn load_modems(&self, group: &mut Group) -> Result<(), StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT modem FROM group_modems WHERE group_id = ? ORDER BY position",
        )?;
        group.pinned_modems = st
            .query_map([group.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    pub(crate) fn group_id(&self, handle: &str) -> Result<Option<GroupId>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM groups WHERE handle = ?")?
            .query_row([handle], |r| r.get(0))
            .optional()?)
    }

    fn require_group(&self, handle: &str) -> Result<GroupId, StoreError> {
        self.group_id(handle)?
            .ok_or_else(|| StoreError::UnknownGroup(handle.to_string()))
    }

    /// The group with this handle, if any.
    pub fn group(&self, handle: &str) -> Result<Option<Group>, StoreError> {
        match self.group_id(handle)? {
            Some(id) => self.group_by_id(id),
            None => Ok(None),
        }
    }

    pub fn group_by_id(&self, id: GroupId) -> Result<Option<Group>, StoreError> {
        let sql = format!("SELECT {GROUP_COLS} FROM groups WHERE id = ?");
        let group = self
            .conn
            .prepare_cached(&sql)?
            .query_row([id], group_row)
            .optional()?;
        match group {
            Some(mut g) => {
                self.load_modems(&mut g)?;
                Ok(Some(g))
            }
            None => Ok(None),
        }
    }

    /// All groups, by handle.
    pub fn groups(&self) -> Result<Vec<Group>, StoreError> {
        self.groups_page(None, u32::MAX)
    }

    /// At most `limit` groups whose handle sorts after `after`, by handle.
    pub fn groups_page(&self, after: Option<&str>, limit: u32) -> Result<Vec<Group>, StoreError> {
        let sql =
            format!("SELECT {GROUP_COLS} FROM groups WHERE handle > ? ORDER BY handle LIMIT ?");
        let mut groups: Vec<Group> = self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![after.unwrap_or(""), limit], group_row)?
            .collect::<Result<_, _>>()?;
        for g in &mut groups {
            self.load_modems(g)?;
        }
        Ok(groups)
    }

    /// Changes the fields given in `change`.
    pub fn update_group(&self, handle: &str, change: &GroupChange) -> Result<Group, StoreError> {
        let id = self.require_group(handle)?;
        let mut g = self
            .group_by_id(id)?
            .ok_or_else(|| StoreError::UnknownGroup(handle.to_string()))?;
        if let Some(name) = &change.name {
            g.name = name.clone();
        }
        if let Some(header) = &change.header {
            g.header = header.clone();
        }
        if let Some(q) = change.daily_quota {
            g.daily_quota = q;
        }
        if let Some(q) = change.monthly_quota {
            g.monthly_quota = q;
        }
        if let Some(f) = change.modem_fallback {
            g.modem_fallback = f;
        }
        if let Some(u) = change.allow_urgent {
            g.allow_urgent = u;
        }
        let modems = change.pinned_modems.as_deref().unwrap_or(&g.pinned_modems);
        check_group_fields(&g.name, g.header.as_deref(), modems)?;
        self.conn
            .prepare_cached(
                "UPDATE groups SET name = ?, header = ?, daily_quota = ?, monthly_quota = ?, \
                 modem_fallback = ?, allow_urgent = ? WHERE id = ?",
            )?
            .execute(params![
                g.name,
                g.header,
                g.daily_quota,
                g.monthly_quota,
                g.modem_fallback,
                g.allow_urgent,
                id
            ])?;
        if let Some(modems) = &change.pinned_modems {
            self.set_modems(id, modems)?;
        }
        self.group_by_id(id)?
            .ok_or_else(|| StoreError::UnknownGroup(handle.to_string()))
    }

    /// Deletes a group and its memberships; its broadcasts stay, under the old handle.
    pub fn delete_group(&self, handle: &str) -> Result<(), StoreError> {
        let id = self.require_group(handle)?;
        self.conn
            .prepare_cached("DELETE FROM groups WHERE id = ?")?
            .execute([id])?;
        Ok(())
    }

    // ---- members ----

    /// Creates a member; the handle must be new, the phone E.164, the Unix user unbound.
    pub fn create_member(&self, m: &NewMember, now: DateTime<Utc>) -> Result<Member, StoreError> {
        check_handle(&m.handle)?;
        check_not_empty("the member name", &m.name)?;
        check_e164(&m.phone)?;
        if self.member_id(&m.handle)?.is_some() {
            return Err(StoreError::DuplicateMember(m.handle.clone()));
        }
        if let Some(uid) = m.unix_uid {
            self.check_uid_free(uid, None)?;
        }
        self.conn
            .prepare_cached(
                "INSERT INTO members (handle, name, phone, valid, sms_enabled, unix_uid, \
                 created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                m.handle,
                m.name,
                m.phone,
                m.valid,
                m.sms_enabled,
                m.unix_uid,
                ms(now)
            ])?;
        let id = MemberId(self.conn.last_insert_rowid()?);
        Ok(Member {
            id,
            handle: m.handle.clone(),
            name: m.name.clone(),
            phone: m.phone.clone(),
            valid: m.valid,
            sms_enabled: m.sms_enabled,
            unix_uid: m.unix_uid,
            created_at: from_ms(ms(now)),
        })
    }

    fn check_uid_free(&self, uid: u32, except: Option<MemberId>) -> Result<(), StoreError> {
        if let Some(owner) = self.member_by_uid(uid)? {
            if Some(owner.id) != except {
                return Err(StoreError::UidTaken {
                    uid,
                    member: owner.handle,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn member_id(&self, handle: &str) -> Result<Option<MemberId>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM members WHERE handle = ?")?
            .query_row([handle], |r| r.get(0))
            .optional()?)
    }

    fn require_member(&self, handle: &str) -> Result<MemberId, StoreError> {
        self.member_id(handle)?
            .ok_or_else(|| StoreError::UnknownMember(handle.to_string()))
    }

    fn member_where(
        &self,
        cond: &str,
        key: impl super::db::ToCol,
    ) -> Result<Option<Member>, StoreError> {
        let sql = format!("SELECT {MEMBER_COLS} FROM members WHERE {cond}");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([key], |r| member_row_at(r, 0))
            .optional()?)
    }

    /// The member with this handle, if any.
    pub fn member(&self, handle: &str) -> Result<Option<Member>, StoreError> {
        self.member_where("handle = ?", handle)
    }

    pub fn member_by_id(&self, id: MemberId) -> Result<Option<Member>, StoreError> {
        self.member_where("id = ?", id)
    }

    /// The member bound to this Unix user, if any.
    pub fn member_by_uid(&self, uid: u32) -> Result<Option<Member>, StoreError> {
        self.member_where("unix_uid = ?", uid)
    }

    /// The members whose phone is `number` (E.164), by handle: who speaks when that number
    /// writes.
    pub fn members_by_phone(&self, number: &str) -> Result<Vec<Member>, StoreError> {
        let sql = format!("SELECT {MEMBER_COLS} FROM members WHERE phone = ? ORDER BY handle");
        let rows = self
            .conn
            .prepare_cached(&sql)?
            .query_map([number], |r| member_row_at(r, 0))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// All members, by handle.
    pub fn members(&self) -> Result<Vec<Member>, StoreError> {
        self.members_page(None, u32::MAX)
    }

    /// At most `limit` members whose handle sorts after `after`, by handle.
    pub fn members_page(&self, after: Option<&str>, limit: u32) -> Result<Vec<Member>, StoreError> {
        let sql =
            format!("SELECT {MEMBER_COLS} FROM members WHERE handle > ? ORDER BY handle LIMIT ?");
        let rows = self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![after.unwrap_or(""), limit], |r| member_row_at(r, 0))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Changes the fields given in `change`.
    pub fn update_member(&self, handle: &str, change: &MemberChange) -> Result<Member, StoreError> {
        let mut m = self
            .member(handle)?
            .ok_or_else(|| StoreError::UnknownMember(handle.to_string()))?;
        if let Some(name) = &change.name {
            check_not_empty("the member name", name)?;
            m.name = name.clone();
        }
        if let Some(phone) = &change.phone {
            check_e164(phone)?;
            m.phone = phone.clone();
        }
        if let Some(v) = change.valid {
            m.valid = v;
        }
        if let Some(v) = change.sms_enabled {
            m.sms_enabled = v;
        }
        if let Some(uid) = change.unix_uid {
            if let Some(uid) = uid {
                self.check_uid_free(uid, Some(m.id))?;
            }
            m.unix_uid = uid;
        }
        self.conn
            .prepare_cached(
                "UPDATE members SET name = ?, phone = ?, valid = ?, sms_enabled = ?, \
                 unix_uid = ? WHERE id = ?",
            )?
            .execute(params![
                m.name,
                m.phone,
                m.valid,
                m.sms_enabled,
                m.unix_uid,
                m.id
            ])?;
        Ok(m)
    }

    /// Deletes a member and their memberships; past deliveries keep the number.
    pub fn delete_member(&self, handle: &str) -> Result<(), StoreError> {
        let id = self.require_member(handle)?;
        self.conn
            .prepare_cached("DELETE FROM members WHERE id = ?")?
            .execute([id])?;
        Ok(())
    }

    // ---- memberships ----

    /// The membership of `member` in `group`, if any.
    pub fn membership(
        &self,
        group: GroupId,
        member: MemberId,
    ) -> Result<Option<Membership>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT group_id, member_id, role, opted_out, joined_at FROM memberships \
                 WHERE group_id = ? AND member_id = ?",
            )?
            .query_row(params![group, member], membership_row)
            .optional()?)
    }

    fn require_membership(&self, group: &str, member: &str) -> Result<Membership, StoreError> {
        let (g, m) = (self.require_group(group)?, self.require_member(member)?);
        self.membership(g, m)?.ok_or_else(|| StoreError::NotMember {
            group: group.to_string(),
            member: member.to_string(),
        })
    }

    /// Adds `member` to `group` with `role`, opted in.
    pub fn join(
        &self,
        group: &str,
        member: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<Membership, StoreError> {
        let (g, m) = (self.require_group(group)?, self.require_member(member)?);
        if self.membership(g, m)?.is_some() {
            return Err(StoreError::AlreadyMember {
                group: group.to_string(),
                member: member.to_string(),
            });
        }
        self.conn
            .prepare_cached(
                "INSERT INTO memberships (group_id, member_id, role, opted_out, joined_at) \
                 VALUES (?, ?, ?, 0, ?)",
            )?
            .execute(params![g, m, role, ms(now)])?;
        Ok(Membership {
            group_id: g,
            member_id: m,
            role,
            opted_out: false,
            joined_at: from_ms(ms(now)),
        })
    }

    /// Removes `member` from `group`.
    pub fn leave(&self, group: &str, member: &str) -> Result<(), StoreError> {
        let ms = self.require_membership(group, member)?;
        self.conn
            .prepare_cached("DELETE FROM memberships WHERE group_id = ? AND member_id = ?")?
            .execute(params![ms.group_id, ms.member_id])?;
        Ok(())
    }

    /// Changes `member`'s role in `group`.
    pub fn set_role(
        &self,
        group: &str,
        member: &str,
        role: Role,
    ) -> Result<Membership, StoreError> {
        let mut ms = self.require_membership(group, member)?;
        self.conn
            .prepare_cached("UPDATE memberships SET role = ? WHERE group_id = ? AND member_id = ?")?
            .execute(params![role, ms.group_id, ms.member_id])?;
        ms.role = role;
        Ok(ms)
    }

    /// Opts `member` out of (`true`) or back into (`false`) `group`'s SMS.
    pub fn set_opt_out(
        &self,
        group: &str,
        member: &str,
        opted_out: bool,
    ) -> Result<Membership, StoreError> {
        let mut ms = self.require_membership(group, member)?;
        self.conn
            .prepare_cached(
                "UPDATE memberships SET opted_out = ? WHERE group_id = ? AND member_id = ?",
            )?
            .execute(params![opted_out, ms.group_id, ms.member_id])?;
        ms.opted_out = opted_out;
        Ok(ms)
    }

    /// The members of a group with their roles, by member handle.
    pub fn group_members(&self, group: &str) -> Result<Vec<GroupMember>, StoreError> {
        self.group_members_page(group, None, u32::MAX)
    }

    /// At most `limit` members of a group whose handle sorts after `after`, with their roles,
    /// by member handle.
    pub fn group_members_page(
        &self,
        group: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<GroupMember>, StoreError> {
        let g = self.require_group(group)?;
        let sql = format!(
            "SELECT ms.role, ms.opted_out, {} FROM memberships ms \
             JOIN members m ON m.id = ms.member_id WHERE ms.group_id = ? AND m.handle > ? \
             ORDER BY m.handle LIMIT ?",
            MEMBER_COLS
                .split(", ")
                .map(|c| format!("m.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows = self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![g, after.unwrap_or(""), limit], |r| {
                Ok(GroupMember {
                    role: r.get(0)?,
                    opted_out: r.get(1)?,
                    member: member_row_at(r, 2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The groups a member is in, by group handle.
    pub fn member_groups(&self, member: &str) -> Result<Vec<MemberGroup>, StoreError> {
        self.member_groups_page(member, None, u32::MAX)
    }

    /// At most `limit` of a member's groups whose handle sorts after `after`, by group handle.
    pub fn member_groups_page(
        &self,
        member: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<MemberGroup>, StoreError> {
        let m = self.require_member(member)?;
        let rows = self
            .conn
            .prepare_cached(
                "SELECT g.handle, g.name, ms.role, ms.opted_out FROM memberships ms \
                 JOIN groups g ON g.id = ms.group_id WHERE ms.member_id = ? AND g.handle > ? \
                 ORDER BY g.handle LIMIT ?",
            )?
            .query_map(params![m, after.unwrap_or(""), limit], |r| {
                Ok(MemberGroup {
                    group_handle: r.get(0)?,
                    group_name: r.get(1)?,
                    role: r.get(2)?,
                    opted_out: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Every member of a group with what the recipient rules need, by member id.
    pub fn recipient_rows(&self, group: GroupId) -> Result<Vec<RecipientRow>, StoreError> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT m.id, m.phone, m.valid, m.sms_enabled, ms.opted_out FROM memberships ms \
                 JOIN members m ON m.id = ms.member_id WHERE ms.group_id = ? ORDER BY ms.member_id",
            )?
            .query_map([group], |r| {
                Ok(RecipientRow {
                    member_id: r.get(0)?,
                    phone: r.get(1)?,
                    valid: r.get(2)?,
                    sms_enabled: r.get(3)?,
                    opted_out: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}
