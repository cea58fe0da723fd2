//! Groups, members and memberships: create, read, change, delete, and every refusal.

mod common;

use common::*;
use groupsms::store::{GroupChange, MemberChange, NewGroup, NewMember, Role, StoreError};

#[test]
fn groups_round_trip_with_overrides_and_pinned_modems() {
    let (_dir, mut store) = temp_store();
    let now = utc(T0);
    let mut g = NewGroup::new("ops", "运维组");
    g.header = Some("[{handle}] ".into());
    g.daily_quota = Some(10);
    g.pinned_modems = vec!["460001234567890".into(), "/dev/ttyUSB2".into()];
    g.modem_fallback = false;
    let created = store.create_group(&g, now).unwrap();
    assert_eq!(created.handle, "ops");
    assert_eq!(created.header.as_deref(), Some("[{handle}] "));
    assert_eq!(created.daily_quota, Some(10));
    assert_eq!(created.monthly_quota, None);
    assert_eq!(created.pinned_modems, ["460001234567890", "/dev/ttyUSB2"]);
    assert!(!created.modem_fallback);
    assert_eq!(created.created_at, now);
    assert_eq!(store.group("ops").unwrap(), Some(created.clone()));
    assert_eq!(
        store.group_by_id(created.id).unwrap(),
        Some(created.clone())
    );

    let changed = store
        .update_group(
            "ops",
            &GroupChange {
                name: Some("运维一组".into()),
                header: Some(None),
                daily_quota: Some(None),
                monthly_quota: Some(Some(5)),
                pinned_modems: Some(vec!["/dev/ttyUSB0".into()]),
                modem_fallback: Some(true),
                allow_urgent: None,
            },
        )
        .unwrap();
    assert_eq!(changed.name, "运维一组");
    assert_eq!(changed.header, None);
    assert_eq!(
        (changed.daily_quota, changed.monthly_quota),
        (None, Some(5))
    );
    assert_eq!(changed.pinned_modems, ["/dev/ttyUSB0"]);
    assert!(changed.modem_fallback);
    let untouched = store.update_group("ops", &GroupChange::default()).unwrap();
    assert_eq!(untouched, changed);

    store
        .create_group(&NewGroup::new("a-team", "A"), now)
        .unwrap();
    let handles: Vec<_> = store
        .groups()
        .unwrap()
        .into_iter()
        .map(|g| g.handle)
        .collect();
    assert_eq!(handles, ["a-team", "ops"]);
    store.delete_group("ops").unwrap();
    assert_eq!(store.group("ops").unwrap(), None);
}

#[test]
fn group_refusals() {
    let (_dir, mut store) = temp_store();
    let now = utc(T0);
    store
        .create_group(&NewGroup::new("ops", "运维组"), now)
        .unwrap();
    let cases: Vec<(NewGroup, &str)> = vec![
        (NewGroup::new("ops", "again"), "a group with the handle 'ops' already exists"),
        (NewGroup::new("", "x"), "'' is not a usable handle: it is empty"),
        (NewGroup::new("Ops", "x"), "'Ops' is not a usable handle: it must start with a lower-case letter or a digit"),
        (NewGroup::new("运维", "x"), "'运维' is not a usable handle: it must start with a lower-case letter or a digit"),
        (NewGroup::new("a b", "x"), "'a b' is not a usable handle: only a-z, 0-9, '-', '_' and '.' are allowed"),
        (NewGroup::new("a".repeat(33), "x"), "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not a usable handle: it is longer than 32 characters"),
        (NewGroup::new("x", " "), "the group name must not be empty"),
    ];
    for (g, want) in cases {
        assert_eq!(store.create_group(&g, now).unwrap_err().to_string(), want);
    }
    let mut g = NewGroup::new("y", "Y");
    g.pinned_modems = vec!["".into()];
    assert_eq!(
        store.create_group(&g, now).unwrap_err().to_string(),
        "a pinned modem must not be empty"
    );
    for err in [
        store
            .update_group("nope", &GroupChange::default())
            .unwrap_err(),
        store.delete_group("nope").unwrap_err(),
    ] {
        assert_eq!(err, StoreError::UnknownGroup("nope".into()));
    }
    assert_eq!(store.groups().unwrap().len(), 1, "nothing half-written");
}

#[test]
fn members_round_trip_and_unix_users() {
    let (_dir, mut store) = temp_store();
    let now = utc(T0);
    let mut m = NewMember::new("alice", "爱丽丝", "+8613800138000");
    m.unix_uid = Some(1000);
    let alice = store.create_member(&m, now).unwrap();
    assert!(alice.valid && alice.sms_enabled);
    assert_eq!(store.member("alice").unwrap(), Some(alice.clone()));
    assert_eq!(store.member_by_id(alice.id).unwrap(), Some(alice.clone()));
    assert_eq!(store.member_by_uid(1000).unwrap(), Some(alice.clone()));
    assert_eq!(store.member_by_uid(1001).unwrap(), None);

    let mut b = NewMember::new("bob", "鲍勃", "+8613800138001");
    b.unix_uid = Some(1000);
    assert_eq!(
        store.create_member(&b, now).unwrap_err().to_string(),
        "unix user 1000 is already bound to member 'alice'"
    );
    b.unix_uid = None;
    store.create_member(&b, now).unwrap();
    assert_eq!(
        store
            .update_member(
                "bob",
                &MemberChange {
                    unix_uid: Some(Some(1000)),
                    ..Default::default()
                }
            )
            .unwrap_err(),
        StoreError::UidTaken {
            uid: 1000,
            member: "alice".into()
        }
    );
    let alice2 = store
        .update_member(
            "alice",
            &MemberChange {
                name: Some("Alice".into()),
                phone: Some("+8613900139000".into()),
                valid: Some(false),
                sms_enabled: Some(false),
                unix_uid: Some(None),
            },
        )
        .unwrap();
    assert_eq!(
        (
            alice2.name.as_str(),
            alice2.phone.as_str(),
            alice2.valid,
            alice2.sms_enabled,
            alice2.unix_uid
        ),
        ("Alice", "+8613900139000", false, false, None)
    );
    assert_eq!(store.member("alice").unwrap(), Some(alice2));
    store
        .update_member(
            "bob",
            &MemberChange {
                unix_uid: Some(Some(1000)),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(store.member_by_uid(1000).unwrap().unwrap().handle, "bob");

    let handles: Vec<_> = store
        .members()
        .unwrap()
        .into_iter()
        .map(|m| m.handle)
        .collect();
    assert_eq!(handles, ["alice", "bob"]);
    store.delete_member("alice").unwrap();
    assert_eq!(store.member("alice").unwrap(), None);
    assert_eq!(
        store.delete_member("alice").unwrap_err().to_string(),
        "there is no member with the handle 'alice'"
    );
}

#[test]
fn member_refusals() {
    let (_dir, mut store) = temp_store();
    let now = utc(T0);
    store
        .create_member(&NewMember::new("a", "A", "+8613800138000"), now)
        .unwrap();
    let cases = [
        (
            NewMember::new("a", "A2", "+8613800138001"),
            "a member with the handle 'a' already exists",
        ),
        (
            NewMember::new("b", "", "+8613800138001"),
            "the member name must not be empty",
        ),
        (
            NewMember::new("b", "B", "13800138001"),
            "'13800138001' is not a phone number in E.164 form (+ and 8 to 15 digits)",
        ),
        (
            NewMember::new("b", "B", "+86 138"),
            "'+86 138' is not a phone number in E.164 form (+ and 8 to 15 digits)",
        ),
        (
            NewMember::new("b", "B", "+1234567890123456"),
            "'+1234567890123456' is not a phone number in E.164 form (+ and 8 to 15 digits)",
        ),
    ];
    for (m, want) in cases {
        assert_eq!(store.create_member(&m, now).unwrap_err().to_string(), want);
    }
    assert_eq!(
        store
            .update_member(
                "a",
                &MemberChange {
                    phone: Some("abc".into()),
                    ..Default::default()
                }
            )
            .unwrap_err(),
        StoreError::BadPhone("abc".into())
    );
    assert_eq!(
        store
            .update_member("zz", &MemberChange::default())
            .unwrap_err(),
        StoreError::UnknownMember("zz".into())
    );
}

#[test]
fn memberships_join_leave_role_opt_out() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 2);
    let now = utc(T0);
    assert_eq!(
        store
            .join("ops", "m1", Role::Admin, now)
            .unwrap_err()
            .to_string(),
        "member 'm1' is already in group 'ops'"
    );
    let ms = store.set_role("ops", "m1", Role::Admin).unwrap();
    assert_eq!(ms.role, Role::Admin);
    let ms = store.set_opt_out("ops", "m1", true).unwrap();
    assert!(ms.opted_out);
    let listed = store.group_members("ops").unwrap();
    let view: Vec<_> = listed
        .iter()
        .map(|gm| (gm.member.handle.as_str(), gm.role, gm.opted_out))
        .collect();
    assert_eq!(
        view,
        [
            ("boss", Role::SuperAdmin, false),
            ("m1", Role::Admin, true),
            ("m2", Role::Member, false)
        ]
    );
    let g = store.group("ops").unwrap().unwrap();
    let m1 = store.member("m1").unwrap().unwrap();
    let ms = store.membership(g.id, m1.id).unwrap().unwrap();
    assert_eq!(
        (ms.role, ms.opted_out, ms.joined_at),
        (Role::Admin, true, now)
    );
    assert!(!store.set_opt_out("ops", "m1", false).unwrap().opted_out);

    let groups = store.member_groups("m1").unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        (
            groups[0].group_handle.as_str(),
            groups[0].group_name.as_str()
        ),
        ("ops", "运维组")
    );

    store.leave("ops", "m1").unwrap();
    assert_eq!(store.membership(g.id, m1.id).unwrap(), None);
    assert_eq!(
        store.leave("ops", "m1").unwrap_err().to_string(),
        "member 'm1' is not in group 'ops'"
    );
    assert_eq!(
        store.set_role("ops", "m1", Role::Member).unwrap_err(),
        StoreError::NotMember {
            group: "ops".into(),
            member: "m1".into()
        }
    );
    assert_eq!(
        store.join("nope", "m1", Role::Member, now).unwrap_err(),
        StoreError::UnknownGroup("nope".into())
    );
    assert_eq!(
        store.join("ops", "nope", Role::Member, now).unwrap_err(),
        StoreError::UnknownMember("nope".into())
    );
    assert_eq!(
        store.group_members("nope").unwrap_err(),
        StoreError::UnknownGroup("nope".into())
    );
    assert_eq!("super-admin".parse::<Role>(), Ok(Role::SuperAdmin));
    assert_eq!(
        "owner".parse::<Role>().unwrap_err().to_string(),
        "'owner' is not a role (use super_admin, admin or member)"
    );
}

#[test]
fn recipient_rows_carry_every_flag() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 3);
    store.set_opt_out("ops", "m1", true).unwrap();
    store
        .update_member(
            "m2",
            &MemberChange {
                valid: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    store
        .update_member(
            "m3",
            &MemberChange {
                sms_enabled: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    let g = store.group("ops").unwrap().unwrap();
    let rows = store.recipient_rows(g.id).unwrap();
    let view: Vec<_> = rows
        .iter()
        .map(|r| (r.phone.as_str(), r.valid, r.sms_enabled, r.opted_out))
        .collect();
    assert_eq!(
        view,
        [
            ("+8613900000000", true, true, false),
            ("+8613800000001", true, true, true),
            ("+8613800000002", false, true, false),
            ("+8613800000003", true, false, false),
        ]
    );
}
