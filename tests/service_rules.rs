//! Every rule of `service::submit_broadcast`, with the exact sentence each refusal shows, the
//! audit log, quota boundaries in the configured zone, and audited administrative changes.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use groupsms::protocol::{ErrorBody, ErrorCode};
use groupsms::service::{
    self, quota_status, submit_broadcast, AdminChange, AdminOutcome, SendRequest, SensitiveFilter,
    SensitivePolicy, ServiceError, Settings,
};
use groupsms::sms::Encoding;
use groupsms::store::{
    DeliveryState, Dropped, GroupChange, MemberChange, NewGroup, NewMember, Role, Store,
};

fn send(
    store: &mut Store,
    settings: &Settings,
    body: &str,
    now: DateTime<Utc>,
) -> Result<service::Accepted, ServiceError> {
    send_as(store, settings, "ops", "boss", body, now)
}

fn send_as(
    store: &mut Store,
    settings: &Settings,
    group: &str,
    member: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<service::Accepted, ServiceError> {
    let req = SendRequest {
        caller: groupsms::service::Caller::unix(0, &[]),
        group: group.into(),
        as_member: member.into(),
        body: body.into(),
        now,
        urgent: false,
    };
    submit_broadcast(store, settings, req)
}

fn refusal(r: Result<service::Accepted, ServiceError>) -> String {
    r.unwrap_err().to_string()
}

/// The protocol's code for a refusal: what a client sees.
fn code(e: &ServiceError) -> ErrorCode {
    ErrorBody::from(e.clone()).code
}

#[test]
fn an_accepted_broadcast_is_written_with_all_its_deliveries_queued() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 3);
    let settings = Settings::default();
    let a = send(&mut store, &settings, "今晚22点停机维护", utc(T0)).unwrap();
    assert_eq!(a.text, "【运维组】今晚22点停机维护");
    assert_eq!((a.recipients, a.parts, a.encoding), (4, 1, Encoding::Ucs2));
    assert_eq!(a.dropped, Dropped::default());
    assert_eq!(a.quota_left, 2);
    let detail = store.show_broadcast(a.broadcast_id).unwrap();
    assert_eq!(detail.broadcast.text, a.text);
    assert_eq!(detail.broadcast.body, "今晚22点停机维护");
    assert_eq!(detail.broadcast.recipients, 4);
    assert_eq!(detail.deliveries.len(), 4);
    assert!(detail
        .deliveries
        .iter()
        .all(|d| d.state == DeliveryState::Queued && d.attempts == 0));
    let q = quota_status(&mut store, &settings, "ops", utc(T0)).unwrap();
    assert_eq!((q.day_used, q.month_used, q.left()), (1, 1, 2));
}

#[test]
fn unknown_group_and_member_are_refused_and_audited() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 1);
    let s = Settings::default();
    let e = send_as(&mut store, &s, "nope", "boss", "hi", utc(T0)).unwrap_err();
    assert_eq!(code(&e), ErrorCode::UnknownGroup);
    assert_eq!(e.to_string(), "there is no group with the handle 'nope'");
    let e = send_as(&mut store, &s, "ops", "ghost", "hi", utc(T0)).unwrap_err();
    assert_eq!(code(&e), ErrorCode::UnknownMember);
    assert_eq!(e.to_string(), "there is no member with the handle 'ghost'");

    let log = store.audit_log(10).unwrap();
    let view: Vec<_> = log
        .iter()
        .map(|e| {
            (
                e.actor.as_str(),
                e.action.as_str(),
                e.subject.as_str(),
                e.detail.as_str(),
            )
        })
        .collect();
    assert_eq!(
        view,
        [
            // The audit names the real caller (root here), and whom it tried to act as.
            (
                "root",
                "send_refused",
                "ops",
                "as 'ghost': there is no member with the handle 'ghost'"
            ),
            (
                "root",
                "send_refused",
                "nope",
                "as 'boss': there is no group with the handle 'nope'"
            ),
        ]
    );
    assert_eq!(log[0].at, utc(T0));
}

#[test]
fn only_super_admins_may_send() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 2);
    let now = utc(T0);
    store.set_role("ops", "m1", Role::Admin).unwrap();
    store
        .create_member(&NewMember::new("outsider", "外人", "+8613700000000"), now)
        .unwrap();
    let s = Settings::default();
    assert_eq!(
        refusal(send_as(&mut store, &s, "ops", "m1", "hi", now)),
        "member 'm1' may not send to group 'ops': only its super-admins may, and their role there is admin"
    );
    assert_eq!(
        refusal(send_as(&mut store, &s, "ops", "m2", "hi", now)),
        "member 'm2' may not send to group 'ops': only its super-admins may, and their role there is member"
    );
    let e = send_as(&mut store, &s, "ops", "outsider", "hi", now).unwrap_err();
    assert_eq!(code(&e), ErrorCode::NotSuperAdmin);
    assert_eq!(
        e.to_string(),
        "member 'outsider' may not send to group 'ops': only its super-admins may, and they are not in it"
    );
    store.set_role("ops", "m1", Role::SuperAdmin).unwrap();
    send_as(&mut store, &s, "ops", "m1", "hi", now).unwrap();
    assert_eq!(
        store.audit_log(10).unwrap().len(),
        3,
        "three refusals logged"
    );
}

#[test]
fn blank_bodies_are_refused() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 1);
    let invisible = [
        "",
        "  \n\t ",
        "\u{3000}\r\n",
        "\u{0}\u{0}",
        "\u{200B}\u{FEFF}\u{200D}\u{FE0F}",
    ];
    for body in invisible {
        let e = send(&mut store, &Settings::default(), body, utc(T0)).unwrap_err();
        assert_eq!(
            (code(&e), e.to_string().as_str()),
            (
                ErrorCode::InvalidValue,
                "the message is empty (nothing but spaces, control or invisible characters)"
            )
        );
        assert!(matches!(e, ServiceError::EmptyBody(_)), "{e:?}");
    }
}

#[test]
fn sensitive_words_are_refused_by_name_or_masked() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("words.txt");
    std::fs::write(&list, "# 违禁词\n赌博\n\nCasino\n").unwrap();
    let (_db, mut store) = temp_store();
    ops_group(&mut store, 1);
    let mut s = Settings {
        sensitive: SensitiveFilter::from_files(&[&list]).unwrap(),
        ..Settings::default()
    };
    let e = send(&mut store, &s, "周末去ＣＡＳＩＮＯ，别赌博", utc(T0)).unwrap_err();
    assert_eq!(code(&e), ErrorCode::SensitiveWords);
    assert_eq!(
        e.to_string(),
        "the message contains sensitive words: Casino, 赌博"
    );
    assert_eq!(
        quota_status(&mut store, &s, "ops", utc(T0))
            .unwrap()
            .day_used,
        0
    );

    s.sensitive_policy = SensitivePolicy::Mask;
    let a = send(&mut store, &s, "周末去ＣＡＳＩＮＯ，别赌博", utc(T0)).unwrap();
    assert_eq!(a.text, "【运维组】周末去******，别**");
    assert_eq!(a.masked, ["Casino", "赌博"]);
    let shown = store.broadcast(a.broadcast_id).unwrap().unwrap();
    assert_eq!(
        shown.body, "周末去ＣＡＳＩＮＯ，别赌博",
        "the body as submitted is kept"
    );
    assert_eq!(shown.text, a.text, "the masked text is what is sent");

    let missing = SensitiveFilter::from_files(&[dir.path().join("nope.txt")]).unwrap_err();
    assert!(missing.to_string().starts_with(&format!(
        "cannot read the sensitive word list {}/nope.txt: ",
        dir.path().display()
    )));
}

#[test]
fn too_many_parts_is_refused_with_the_count() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 1);
    let s = Settings::default();
    // The header 【运维组】 is 5 UCS-2 units; 5 parts hold 5 * 67 = 335.
    let ok = send(&mut store, &s, &"字".repeat(330), utc(T0)).unwrap();
    assert_eq!(ok.parts, 5);
    let e = send(&mut store, &s, &"字".repeat(331), utc(T0)).unwrap_err();
    assert_eq!(code(&e), ErrorCode::TooManyParts);
    assert_eq!(
        e.to_string(),
        "the message needs 6 SMS parts (336 characters in UCS-2, header included), at most 5 are allowed"
    );
    let one = Settings {
        max_parts: 1,
        ..Settings::default()
    };
    store
        .update_group(
            "ops",
            &GroupChange {
                header: Some(Some("{handle}: ".into())),
                ..Default::default()
            },
        )
        .unwrap();
    let a = send(&mut store, &one, &"a".repeat(155), utc(T0)).unwrap();
    assert_eq!(
        (a.parts, a.encoding, a.text.len()),
        (1, Encoding::Gsm7, 160)
    );
    // '[' and ']' cost two septets each (GSM extension table): 8 + 153 = 161.
    store
        .update_group(
            "ops",
            &GroupChange {
                header: Some(Some("[{handle}] ".into())),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        refusal(send(&mut store, &one, &"a".repeat(153), utc(T0))),
        "the message needs 2 SMS parts (161 septets in GSM 7-bit, header included), at most 1 are allowed"
    );
}

#[test]
fn headers_come_from_the_group_or_the_configuration() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 1);
    let s = Settings {
        header_template: "[{name}] ".into(),
        daily_quota: 10,
        ..Settings::default()
    };
    assert_eq!(
        send(&mut store, &s, "hi", utc(T0)).unwrap().text,
        "[运维组] hi"
    );
    store
        .update_group(
            "ops",
            &GroupChange {
                header: Some(Some("{handle}: ".into())),
                ..Default::default()
            },
        )
        .unwrap();
    let a = send(&mut store, &s, "hi", utc(T0)).unwrap();
    assert_eq!((a.text.as_str(), a.encoding), ("ops: hi", Encoding::Gsm7));
}

#[test]
fn recipients_drop_opted_out_invalid_disabled_and_duplicate_numbers() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 6);
    store.set_opt_out("ops", "m1", true).unwrap();
    let change = |f: fn(&mut MemberChange)| {
        let mut c = MemberChange::default();
        f(&mut c);
        c
    };
    store
        .update_member("m2", &change(|c| c.valid = Some(false)))
        .unwrap();
    store
        .update_member("m3", &change(|c| c.sms_enabled = Some(false)))
        .unwrap();
    store
        .update_member("m4", &change(|c| c.phone = Some("+8613800000005".into())))
        .unwrap();
    let a = send(&mut store, &Settings::default(), "hi", utc(T0)).unwrap();
    assert_eq!(a.recipients, 3, "boss, m5 (m4 shares its number) and m6");
    assert_eq!(
        a.dropped,
        Dropped {
            opted_out: 1,
            invalid: 1,
            sms_disabled: 1,
            duplicate: 1
        }
    );
    let numbers: Vec<_> = store
        .show_broadcast(a.broadcast_id)
        .unwrap()
        .deliveries
        .into_iter()
        .map(|d| d.number)
        .collect();
    assert_eq!(
        numbers,
        ["+8613900000000", "+8613800000005", "+8613800000006"]
    );
    let b = store.broadcast(a.broadcast_id).unwrap().unwrap();
    assert_eq!(b.dropped, a.dropped);
}

#[test]
fn a_broadcast_with_nobody_to_receive_it_uses_no_quota() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 2);
    store.set_opt_out("ops", "boss", true).unwrap();
    store.set_opt_out("ops", "m1", true).unwrap();
    store
        .update_member(
            "m2",
            &MemberChange {
                sms_enabled: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    let s = Settings::default();
    let e = send(&mut store, &s, "hi", utc(T0)).unwrap_err();
    assert_eq!(code(&e), ErrorCode::NoRecipients);
    assert_eq!(
        e.to_string(),
        "group 'ops' has nobody to send to (2 opted out, 0 invalid, 1 with SMS disabled); \
         nothing was sent and no quota was used"
    );
    let q = quota_status(&mut store, &s, "ops", utc(T0)).unwrap();
    assert_eq!((q.day_used, q.month_used), (0, 0));
    assert!(store.broadcasts(None, 10).unwrap().is_empty());
    assert_eq!(store.audit_log(1).unwrap()[0].action, "send_refused");
}

#[test]
fn the_daily_quota_resets_at_midnight_in_shanghai_not_utc() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 1);
    let s = Settings::default();
    // 2024-01-31 local: 00:00, 07:59 and 08:01 (the UTC date changes in between).
    for t in [
        "2024-01-30T16:00:00Z",
        "2024-01-30T23:59:00Z",
        "2024-01-31T00:01:00Z",
    ] {
        send(&mut store, &s, "hi", utc(t)).unwrap();
    }
    let e = send(&mut store, &s, "hi", utc("2024-01-31T15:59:59Z")).unwrap_err();
    assert_eq!(code(&e), ErrorCode::QuotaExceeded);
    assert_eq!(
        e.to_string(),
        "group 'ops' has used its daily quota of 3 broadcasts; it resets at 2024-02-01 00:00 (Asia/Shanghai)"
    );
    let a = send(&mut store, &s, "hi", utc("2024-01-31T16:00:00Z")).unwrap();
    assert_eq!(a.quota_left, 2);
    // The day before the first send was another day, too.
    let (_d2, mut other) = temp_store();
    ops_group(&mut other, 1);
    for t in ["2024-01-30T15:59:59Z", "2024-01-30T16:00:00Z"] {
        assert_eq!(
            send(&mut other, &s, "hi", utc(t)).unwrap().quota_left,
            2,
            "{t}"
        );
    }
}

#[test]
fn the_monthly_quota_resets_on_the_first_in_shanghai() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 1);
    store
        .update_group(
            "ops",
            &GroupChange {
                daily_quota: Some(Some(100)),
                monthly_quota: Some(Some(2)),
                ..Default::default()
            },
        )
        .unwrap();
    let s = Settings::default();
    send(&mut store, &s, "hi", utc("2024-01-31T16:00:00Z")).unwrap(); // 02-01 00:00 local
    send(&mut store, &s, "hi", utc("2024-02-29T15:00:00Z")).unwrap(); // 02-29 23:00 local
    assert_eq!(
        refusal(send(&mut store, &s, "hi", utc("2024-02-29T15:59:59.999Z"))),
        "group 'ops' has used its monthly quota of 2 broadcasts; it resets at 2024-03-01 00:00 (Asia/Shanghai)"
    );
    let a = send(&mut store, &s, "hi", utc("2024-02-29T16:00:00Z")).unwrap(); // 03-01 local
    assert_eq!(a.quota_left, 1);
    let q = quota_status(&mut store, &s, "ops", utc("2024-02-29T16:00:00Z")).unwrap();
    assert_eq!(
        (q.periods.day.as_str(), q.periods.month.as_str()),
        ("2024-03-01", "2024-03")
    );
    assert_eq!((q.day_limit, q.month_limit, q.month_used), (100, 2, 1));
}

#[test]
fn a_used_up_month_is_named_even_when_the_day_has_room() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 1);
    let s = Settings {
        monthly_quota: 4,
        ..Settings::default()
    };
    let day1 = utc("2024-05-10T01:00:00Z");
    for i in 0..3 {
        send(&mut store, &s, "hi", day1 + Duration::minutes(i)).unwrap();
    }
    assert!(
        refusal(send(&mut store, &s, "hi", day1 + Duration::hours(1))).contains("daily quota of 3")
    );
    let day2 = day1 + Duration::days(1);
    assert_eq!(send(&mut store, &s, "hi", day2).unwrap().quota_left, 0);
    assert_eq!(
        refusal(send(&mut store, &s, "hi", day2 + Duration::minutes(1))),
        "group 'ops' has used its monthly quota of 4 broadcasts; it resets at 2024-06-01 00:00 (Asia/Shanghai)"
    );
}

#[test]
fn a_zero_override_blocks_the_group_and_other_zones_work() {
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 1);
    store
        .update_group(
            "ops",
            &GroupChange {
                daily_quota: Some(Some(1)),
                ..Default::default()
            },
        )
        .unwrap();
    let ny = Settings {
        timezone: chrono_tz::America::New_York,
        ..Settings::default()
    };
    // New York in March 2024: EST (-5) until the 10th, EDT (-4) after.
    send(&mut store, &ny, "hi", utc("2024-03-10T04:59:00Z")).unwrap(); // 03-09 23:59 EST
    send(&mut store, &ny, "hi", utc("2024-03-10T05:00:00Z")).unwrap(); // 03-10 00:00 EST
    assert_eq!(
        refusal(send(&mut store, &ny, "hi", utc("2024-03-11T03:59:00Z"))),
        "group 'ops' has used its daily quota of 1 broadcast; it resets at 2024-03-11 00:00 (America/New_York)"
    );
    send(&mut store, &ny, "hi", utc("2024-03-11T04:00:00Z")).unwrap(); // 03-11 00:00 EDT

    store
        .update_group(
            "ops",
            &GroupChange {
                daily_quota: Some(Some(0)),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(refusal(send(
        &mut store,
        &Settings::default(),
        "hi",
        utc("2024-04-01T00:00:00Z")
    ))
    .starts_with("group 'ops' has used its daily quota of 0 broadcasts;"));
}

#[test]
fn administrative_changes_are_applied_with_normalized_numbers_and_audited() {
    let (_dir, mut store) = temp_store();
    let s = Settings::default();
    let now = utc(T0);
    let out = service::apply(
        &mut store,
        &s,
        "root",
        AdminChange::CreateGroup(NewGroup::new("ops", "运维组")),
        now,
    )
    .unwrap();
    assert!(matches!(out, AdminOutcome::Group(ref g) if g.handle == "ops"));
    let out = service::apply(
        &mut store,
        &s,
        "root",
        AdminChange::AddMember(NewMember::new("alice", "爱丽丝", "138 0013 8000")),
        now,
    )
    .unwrap();
    let AdminOutcome::Member(alice) = out else {
        panic!("{out:?}")
    };
    assert_eq!(alice.phone, "+8613800138000");

    let e = service::apply(
        &mut store,
        &s,
        "root",
        AdminChange::AddMember(NewMember::new("bob", "鲍勃", "12345")),
        now,
    )
    .unwrap_err();
    assert_eq!(code(&e), ErrorCode::InvalidValue);
    assert!(matches!(e, ServiceError::Phone { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "phone '12345': a mobile number in CN (+86) has 11 digits after the country code, this one has 5"
    );
    assert_eq!(store.member("bob").unwrap(), None);
    let e = service::apply(
        &mut store,
        &s,
        "root",
        AdminChange::UpdateMember {
            handle: "alice".into(),
            change: MemberChange {
                phone: Some("+86 120 0000 0000".into()),
                ..Default::default()
            },
        },
        now,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("+86 12000000000 is not a mobile number in CN"),
        "{e}"
    );

    let join = |role| AdminChange::Join {
        group: "ops".into(),
        member: "alice".into(),
        role,
    };
    service::apply(&mut store, &s, "root", join(Role::SuperAdmin), now).unwrap();
    let e = service::apply(
        &mut store,
        &s,
        "root",
        AdminChange::Join {
            group: "nope".into(),
            member: "alice".into(),
            role: Role::Member,
        },
        now,
    )
    .unwrap_err();
    assert_eq!(
        (code(&e), e.to_string().as_str()),
        (
            ErrorCode::UnknownGroup,
            "there is no group with the handle 'nope'"
        )
    );
    let e = service::apply(
        &mut store,
        &s,
        "root",
        AdminChange::DeleteMember {
            handle: "zed".into(),
        },
        now,
    )
    .unwrap_err();
    assert_eq!(code(&e), ErrorCode::UnknownMember);
    let e = service::apply(&mut store, &s, "root", join(Role::Member), now).unwrap_err();
    assert_eq!(e.to_string(), "member 'alice' is already in group 'ops'");
    assert!(e.is_refusal());

    for change in [
        AdminChange::SetRole {
            group: "ops".into(),
            member: "alice".into(),
            role: Role::Admin,
        },
        AdminChange::OptOut {
            group: "ops".into(),
            member: "alice".into(),
        },
        AdminChange::OptIn {
            group: "ops".into(),
            member: "alice".into(),
        },
        AdminChange::UpdateGroup {
            handle: "ops".into(),
            change: GroupChange {
                daily_quota: Some(Some(5)),
                ..Default::default()
            },
        },
        AdminChange::Leave {
            group: "ops".into(),
            member: "alice".into(),
        },
        AdminChange::DeleteMember {
            handle: "alice".into(),
        },
        AdminChange::DeleteGroup {
            handle: "ops".into(),
            force: false,
        },
    ] {
        service::apply(&mut store, &s, "uid:1000", change, now).unwrap();
    }
    let details: Vec<_> = store
        .audit_log(100)
        .unwrap()
        .into_iter()
        .rev()
        .map(|e| format!("{} {} {}: {}", e.actor, e.action, e.subject, e.detail))
        .collect();
    assert_eq!(
        details,
        [
            "root create_group ops: created group 'ops' (运维组)",
            "root add_member alice: added member 'alice' (爱丽丝, +8613800138000)",
            "root join ops: 'alice' joined group 'ops' as super_admin",
            "uid:1000 set_role ops: 'alice' is now admin of group 'ops'",
            "uid:1000 opt_out ops: 'alice' opted out of group 'ops'",
            "uid:1000 opt_in ops: 'alice' opted back in to group 'ops'",
            "uid:1000 update_group ops: changed group 'ops': GroupChange { name: None, header: None, daily_quota: Some(Some(5)), monthly_quota: None, pinned_modems: None, modem_fallback: None, allow_urgent: None }",
            "uid:1000 leave ops: 'alice' left group 'ops'",
            "uid:1000 delete_member alice: deleted member 'alice'",
            "uid:1000 delete_group ops: deleted group 'ops'",
        ],
        "refused changes leave no entry"
    );
}

/// Default deny: a caller acts as a member only when bound to them or an administrator; the
/// refusal uses no quota.
#[test]
fn a_caller_acts_only_as_a_member_bound_to_them_unless_an_administrator() {
    use groupsms::service::Caller;
    let (_dir, mut store) = temp_store();
    ops_group(&mut store, 2);
    let s = Settings::default();
    let send = |store: &mut Store, caller: Caller| {
        submit_broadcast(
            store,
            &s,
            SendRequest {
                caller,
                group: "ops".into(),
                as_member: "boss".into(),
                body: "会议".into(),
                now: utc(T0),
                urgent: false,
            },
        )
    };
    let stranger = Caller::unix(1000, &[]);
    let e = send(&mut store, stranger).unwrap_err();
    assert_eq!(code(&e), ErrorCode::PermissionDenied);
    assert_eq!(
        e.to_string(),
        "member 'boss' is not bound to a unix user, so only an administrator may act as them \
         (bind them with: groupsms member set boss --uid 1000)"
    );
    store
        .update_member(
            "boss",
            &groupsms::store::MemberChange {
                unix_uid: Some(Some(1001)),
                ..Default::default()
            },
        )
        .unwrap();
    let e = send(&mut store, stranger).unwrap_err();
    assert_eq!(
        e.to_string(),
        "member 'boss' is bound to unix user 1001; unix user 1000 may not act as them"
    );
    assert!(send(&mut store, Caller::unix(1001, &[])).is_ok());
    assert!(
        send(&mut store, Caller::unix(1000, &[1000])).is_ok(),
        "admin_uids"
    );
    let b = store.broadcasts(None, 10).unwrap();
    let callers: Vec<_> = b.iter().map(|b| b.caller.as_deref()).collect();
    assert_eq!(callers, [Some("uid:1000"), Some("uid:1001")]);
}
