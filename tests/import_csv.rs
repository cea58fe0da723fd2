//! CSV bulk import of members: good files, bad rows with line numbers, skip_bad, header errors.

mod common;

use common::*;
use groupsms::service::{
    import_members_csv, BadRow, ImportError, ImportOptions, ImportReport, ServiceError, Settings,
};
use groupsms::store::{NewGroup, NewMember, Role, Store};

fn import(store: &mut Store, csv: &str, skip_bad: bool) -> Result<ImportReport, ServiceError> {
    import_members_csv(
        store,
        &Settings::default(),
        "root",
        csv.as_bytes(),
        ImportOptions { skip_bad },
        utc(T0),
    )
}

fn setup() -> (tempfile::TempDir, Store) {
    let (dir, mut store) = temp_store();
    let now = utc(T0);
    store
        .create_group(&NewGroup::new("ops", "运维组"), now)
        .unwrap();
    store
        .create_group(&NewGroup::new("dev", "开发组"), now)
        .unwrap();
    (dir, store)
}

#[test]
fn imports_members_and_their_groups() {
    let (_dir, mut store) = setup();
    let csv = "\
Handle,Name,Phone,Group,Role,Opt-Out
alice,爱丽丝,138 0013 8000,ops,super_admin,no
bob,\"Bob, Jr.\",+86 139-0013-9000,ops,,yes
bob,\"Bob, Jr.\",+86 139-0013-9000,dev,admin,
carol,卡罗尔,１３７００１３７０００,,,

dave,戴夫,8613600136000,dev,member,0
";
    let r = import(&mut store, csv, false).unwrap();
    assert_eq!(
        r,
        ImportReport {
            members_created: 4,
            memberships_added: 4,
            ..ImportReport::default()
        }
    );
    let bob = store.member("bob").unwrap().unwrap();
    assert_eq!(
        (bob.name.as_str(), bob.phone.as_str()),
        ("Bob, Jr.", "+8613900139000")
    );
    assert_eq!(
        store.member("carol").unwrap().unwrap().phone,
        "+8613700137000"
    );
    let ops: Vec<_> = store
        .group_members("ops")
        .unwrap()
        .into_iter()
        .map(|m| (m.member.handle, m.role, m.opted_out))
        .collect();
    assert_eq!(
        ops,
        [
            ("alice".to_string(), Role::SuperAdmin, false),
            ("bob".to_string(), Role::Member, true)
        ]
    );
    let dev: Vec<_> = store
        .group_members("dev")
        .unwrap()
        .into_iter()
        .map(|m| (m.member.handle, m.role))
        .collect();
    assert_eq!(
        dev,
        [
            ("bob".to_string(), Role::Admin),
            ("dave".to_string(), Role::Member)
        ]
    );
    let log = store.audit_log(1).unwrap();
    assert_eq!(
        (log[0].actor.as_str(), log[0].action.as_str(), log[0].detail.as_str()),
        (
            "root",
            "import_members",
            "imported members from CSV: 4 created, 0 updated, 0 unchanged, 4 memberships added, 0 changed, 0 bad rows skipped"
        )
    );

    // Importing again updates what changed and nothing else.
    let again = "handle,name,phone,group,role,opt_out\n\
                 alice,Alice,13800138000,ops,,\n\
                 bob,\"Bob, Jr.\",13900139000,ops,member,no\n\
                 carol,卡罗尔,13700137000,ops,,\n";
    let r = import(&mut store, again, false).unwrap();
    assert_eq!(
        r,
        ImportReport {
            members_updated: 1,
            members_unchanged: 2,
            memberships_added: 1,
            memberships_changed: 1,
            ..ImportReport::default()
        }
    );
    assert_eq!(store.member("alice").unwrap().unwrap().name, "Alice");
    let g = store.group("ops").unwrap().unwrap();
    let alice = store.member("alice").unwrap().unwrap();
    assert_eq!(
        store.membership(g.id, alice.id).unwrap().unwrap().role,
        Role::SuperAdmin,
        "kept"
    );
}

const BAD: &str = "\
handle,name,phone,group,role,opt_out
ok1,好,13800000001,ops,,
Bad Handle,坏,13800000002,,,
noname,,13800000003,,,
badphone,坏号,1380000,,,
landline,座机,010-6552-9988,,,
nogroup,无组,13800000004,qa,,
badrole,坏角色,13800000005,ops,owner,
roleonly,仅角色,13800000006,,admin,
badopt,坏,13800000007,ops,,maybe
short,缺列
ok1,另一个名字,13800000001,,,
\"multi
line\",x,13800000008,,,
ok2,好二,+44 7911 123456,dev,,
";

fn want_bad() -> Vec<BadRow> {
    let row = |line, reason: &str| BadRow {
        line,
        reason: reason.to_string(),
    };
    vec![
        row(3, "'Bad Handle' is not a usable handle: it must start with a lower-case letter or a digit"),
        row(4, "the name is empty"),
        row(5, "phone '1380000': a number in China (+86) has 11 digits after the country code, this one has 7"),
        row(6, "phone '010-6552-9988': a number in China (+86) has 11 digits after the country code, this one has 10"),
        row(7, "there is no group with the handle 'qa'"),
        row(8, "'owner' is not a role (use super_admin, admin or member)"),
        row(9, "a role or opt_out is given without a group"),
        row(10, "opt_out 'maybe' is not yes/no, true/false or 1/0"),
        row(11, "the row has 2 fields, the header has 6"),
        row(12, "member 'ok1' is already on line 2 with another name or phone"),
        row(13, "'multi\nline' is not a usable handle: only a-z, 0-9, '-', '_' and '.' are allowed"),
    ]
}

#[test]
fn bad_rows_are_reported_by_line_and_nothing_is_imported() {
    let (_dir, mut store) = setup();
    let err = import(&mut store, BAD, false).unwrap_err();
    let ServiceError::Import(ImportError::BadRows(rows)) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(rows, &want_bad());
    let text = err.to_string();
    assert!(text.starts_with(
        "11 bad rows, nothing was imported (skip bad rows to import the others):\n  line 3: 'Bad Handle'"
    ), "{text}");
    assert!(
        text.contains("\n  line 11: the row has 2 fields, the header has 6\n"),
        "{text}"
    );
    assert!(store.members().unwrap().is_empty(), "nothing imported");
    assert!(store.audit_log(10).unwrap().is_empty());
}

#[test]
fn skip_bad_imports_the_good_rows_and_reports_the_rest() {
    let (_dir, mut store) = setup();
    let r = import(&mut store, BAD, true).unwrap();
    assert_eq!((r.members_created, r.memberships_added), (2, 2));
    assert_eq!(r.skipped, want_bad());
    let handles: Vec<_> = store
        .members()
        .unwrap()
        .into_iter()
        .map(|m| m.handle)
        .collect();
    assert_eq!(handles, ["ok1", "ok2"]);
    assert_eq!(store.member("ok2").unwrap().unwrap().phone, "+447911123456");
}

#[test]
fn header_problems_refuse_the_whole_file() {
    let (_dir, mut store) = setup();
    let cases = [
        ("", "bad CSV header: the file is empty; its first line must name the columns"),
        ("handle,name\nx,y\n", "bad CSV header: there is no 'phone' column (handle, name and phone are required)"),
        ("handle,name,phone,email\n", "bad CSV header: unknown column 'email' (the columns are handle, name, phone, group, role, opt_out)"),
        ("handle,name,phone,Phone\n", "bad CSV header: the column 'phone' appears twice"),
    ];
    for (csv, want) in cases {
        assert_eq!(
            import(&mut store, csv, true).unwrap_err().to_string(),
            want,
            "{csv:?}"
        );
    }
    // A header alone imports nothing and is fine.
    assert_eq!(
        import(&mut store, "handle,name,phone\n", false).unwrap(),
        ImportReport::default()
    );
}

#[test]
fn an_existing_member_in_the_database_is_updated_not_duplicated() {
    let (_dir, mut store) = setup();
    store
        .create_member(&NewMember::new("alice", "旧名", "+8613800138000"), utc(T0))
        .unwrap();
    let r = import(
        &mut store,
        "handle,name,phone\nalice,新名,13800138001\n",
        false,
    )
    .unwrap();
    assert_eq!(r.members_updated, 1);
    let a = store.member("alice").unwrap().unwrap();
    assert_eq!(
        (a.name.as_str(), a.phone.as_str()),
        ("新名", "+8613800138001")
    );
    assert_eq!(store.members().unwrap().len(), 1);
}

#[test]
fn invalid_utf8_is_a_bad_row() {
    let (_dir, mut store) = setup();
    let mut bytes = b"handle,name,phone\nok,ok,13800138000\nbad,".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b",13800138001\n");
    let err = import_members_csv(
        &mut store,
        &Settings::default(),
        "root",
        &bytes[..],
        ImportOptions::default(),
        utc(T0),
    )
    .unwrap_err();
    let ServiceError::Import(ImportError::BadRows(rows)) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        rows,
        [BadRow {
            line: 3,
            reason: "the row is not valid UTF-8".into()
        }]
    );
}
