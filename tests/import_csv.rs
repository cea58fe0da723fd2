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
        ImportOptions {
            skip_bad,
            ..ImportOptions::default()
        },
        utc(T0),
    )
}

fn setup() -> (TestDb, Store) {
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
hotline,热线,400-810-8888,,,
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
        row(5, "phone '1380000': a mobile number in CN (+86) has 11 digits after the country code, this one has 7"),
        row(6, "phone '400-810-8888': +86 400 810 8888 is a shared-cost number in CN, which cannot receive SMS"),
        row(7, "there is no group with the handle 'qa'"),
        row(8, "'owner' is not a role (use super_admin, admin or member)"),
        row(9, "a role or opt_out is given without a group"),
        row(10, "opt_out 'maybe' is not yes/no, true/false or 1/0"),
        row(11, "the row has 2 fields, the header has 6"),
        row(12, "member 'ok1' is already on line 2 with another name, phone or uid"),
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
        ("handle,name,phone,email\n", "bad CSV header: unknown column 'email' (the columns are handle, name, phone, group, role, opt_out, uid)"),
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

// ---- Through the real binary and daemon: files too big for one request line, streamed.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use common::daemon::World;
use serde_json::Value;

/// A CSV of `rows` members of group `ops` (`m1` ... with distinct numbers); `bad` replaces
/// the row on that line (the header is line 1).
fn big_csv(rows: u64, bad: Option<(u64, &str)>) -> String {
    let mut csv = String::from("handle,name,phone,group\n");
    for i in 1..=rows {
        match bad {
            Some((line, row)) if line == i + 1 => csv.push_str(row),
            _ => csv.push_str(&format!("m{i},成员{i},139{i:08},ops")),
        }
        csv.push('\n');
    }
    csv
}

fn write_file(w: &World, name: &str, text: &str) -> String {
    let path = w.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn members_of_ops(w: &World) -> usize {
    w.json(&["member", "list", "--group", "ops"])["members"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn a_100_000_row_csv_imports_through_the_cli() {
    let w = World::start(1, |c| c, "");
    w.ok(&["group", "create", "ops", "--name", "运维组"]);
    let csv = big_csv(100_000, None);
    assert!(
        csv.len() > 30 * groupsms::protocol::MAX_LINE,
        "many lines' worth"
    );
    let file = write_file(&w, "big.csv", &csv);
    let done = w.json(&["member", "import", &file]);
    assert_eq!(done["members_created"], 100_000, "{done}");
    assert_eq!(done["memberships_added"], 100_000, "{done}");
    assert_eq!(done["skipped"], serde_json::json!([]));
    assert_eq!(members_of_ops(&w), 100_000);
    let last = w.json(&["member", "show", "m100000"]);
    assert_eq!(last["phone"], "+8613900100000");
}

#[test]
fn a_bad_row_at_line_70_001_refuses_the_file_unless_skip_bad() {
    let w = World::start(1, |c| c, "");
    w.ok(&["group", "create", "ops", "--name", "运维组"]);
    let csv = big_csv(100_000, Some((70_001, "bad,坏号,1380000,ops")));
    let file = write_file(&w, "bad.csv", &csv);
    let out = w.cli(&["member", "import", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert_eq!(
        stderr,
        "groupsms: 1 bad row, nothing was imported (skip bad rows to import the others):\n  \
         line 70001: phone '1380000': a mobile number in CN (+86) has 11 digits after the \
         country code, this one has 7\n"
    );
    assert_eq!(members_of_ops(&w), 0, "all or nothing");

    let done = w.json(&["member", "import", "--skip-bad", &file]);
    assert_eq!(done["members_created"], 99_999, "{done}");
    assert_eq!(
        done["skipped"],
        serde_json::json!([{"line": 70001, "reason": "phone '1380000': a mobile number in CN (+86) \
            has 11 digits after the country code, this one has 7"}])
    );
    assert_eq!(members_of_ops(&w), 99_999);
    // For people, the skipped rows are listed with their lines.
    let again = w.ok(&["member", "import", "--skip-bad", &file]);
    assert!(
        again.contains("\nLINE   REASON\n70001  phone '1380000': "),
        "{again}"
    );
}

#[test]
fn the_uid_column_binds_members_and_only_administrators_may_import() {
    let w = World::start(1, |c| c, "");
    w.ok(&["group", "create", "ops", "--name", "运维组"]);
    w.ok(&[
        "member",
        "add",
        "kept",
        "--name",
        "Kept",
        "--phone",
        "13900000050",
        "--uid",
        "2000",
    ]);
    let csv = "handle,name,phone,group,role,opt_out,uid\n\
               ann,Ann,13900000001,ops,super_admin,,1001\n\
               ann,Ann,13900000001,,,,\n\
               ben,Ben,13900000002,ops,,,\n\
               taken,T,13900000003,,,,2000\n\
               twice,T2,13900000004,,,,1001\n\
               nan,N,13900000005,,,,root\n";
    let file = write_file(&w, "uids.csv", csv);
    let out = w.cli(&["member", "import", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert_eq!(
        stderr,
        "groupsms: 3 bad rows, nothing was imported (skip bad rows to import the others):\n  \
         line 5: uid 2000 is already bound to member 'kept'\n  \
         line 6: uid 1001 is already given to member 'ann' on line 2\n  \
         line 7: uid 'root' is not a Unix user id (a number)\n"
    );
    let done = w.json(&["member", "import", "--skip-bad", &file]);
    assert_eq!(done["members_created"], 2, "{done}");
    assert_eq!(w.json(&["member", "show", "ann"])["uid"], 1001);
    assert!(w.json(&["member", "show", "ben"])["uid"].is_null());
    // A later file binds an existing member, and an empty cell leaves a binding alone.
    let file = write_file(
        &w,
        "rebind.csv",
        "handle,name,phone,uid\nben,Ben,13900000002,1002\nann,Ann,13900000001,\n",
    );
    let done = w.json(&["member", "import", &file]);
    assert_eq!(
        (&done["members_updated"], &done["members_unchanged"]),
        (&Value::from(1), &Value::from(1)),
        "{done}"
    );
    assert_eq!(w.json(&["member", "show", "ben"])["uid"], 1002);
    assert_eq!(w.json(&["member", "show", "ann"])["uid"], 1001);

    // Importing, hence binding uids, is for administrators only, as `member add --uid` is.
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: the non-administrator part needs root (to run the CLI as 65534)");
        return;
    }
    common::daemon::open_to_others(&w);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = w.cli_as(65534, 65534, &["--json", "member", "import", &file]);
    assert_eq!(out.status.code(), Some(77));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "permission_denied", "{err}");
}

/// A raw protocol connection, greeted.
fn connect(w: &World) -> BufReader<UnixStream> {
    let s = UnixStream::connect(w.socket()).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut c = BufReader::new(s);
    let hello = ask(
        &mut c,
        &serde_json::json!({"id": 1, "op": "hello", "args": {"version": 1}}),
    );
    assert_eq!(hello["ok"], true, "{hello}");
    c
}

fn ask(c: &mut BufReader<UnixStream>, request: &Value) -> Value {
    let mut line = request.to_string();
    assert!(line.len() <= groupsms::protocol::MAX_LINE);
    line.push('\n');
    c.get_mut().write_all(line.as_bytes()).unwrap();
    let mut answer = String::new();
    c.read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"))
}

fn rows(c: &mut BufReader<UnixStream>, import: &Value, csv: &str) -> Value {
    ask(
        c,
        &serde_json::json!({"id": 3, "op": "member_import_rows",
                            "args": {"import": import, "csv": csv}}),
    )
}

#[test]
fn a_streamed_import_holds_no_transaction_and_dies_with_its_connection() {
    let w = World::start(1, |c| c, "");
    w.ok(&["group", "create", "ops", "--name", "运维组"]);
    let mut c = connect(&w);
    let begun = ask(
        &mut c,
        &serde_json::json!({"id": 2, "op": "member_import_begin", "args": {}}),
    );
    assert_eq!(begun["ok"], true, "{begun}");
    let import = begun["result"]["import"].clone();
    assert_eq!(begun["result"]["max_rows"], 200_000);
    // A piece may end inside a row.
    let staged = rows(&mut c, &import, "handle,name,phone\nann,Ann,139000");
    assert_eq!(staged["result"]["rows"], 0, "{staged}");
    let staged = rows(&mut c, &import, "00001\nben,Ben,13900000002\n");
    assert_eq!(
        (&staged["result"]["rows"], &staged["result"]["bytes"]),
        (&Value::from(2), &Value::from(58)),
        "{staged}"
    );
    // While it is staged, others write: no transaction is held across requests.
    w.ok(&[
        "member",
        "add",
        "carl",
        "--name",
        "Carl",
        "--phone",
        "13900000003",
    ]);
    let done = ask(
        &mut c,
        &serde_json::json!({"id": 4, "op": "member_import_commit", "args": {"import": import}}),
    );
    assert_eq!(done["result"]["members_created"], 2, "{done}");
    // Committed, the import is over.
    let again = ask(
        &mut c,
        &serde_json::json!({"id": 5, "op": "member_import_commit", "args": {"import": import}}),
    );
    assert_eq!(again["error"]["code"], "unknown_import", "{again}");

    // A connection that dies mid-import leaves nothing behind, and its import is not
    // another connection's to commit.
    let mut c = connect(&w);
    let begun = ask(
        &mut c,
        &serde_json::json!({"id": 2, "op": "member_import_begin", "args": {}}),
    );
    let import = begun["result"]["import"].clone();
    rows(&mut c, &import, "handle,name,phone\ndan,Dan,13900000004\n");
    drop(c);
    let mut c = connect(&w);
    let orphan = ask(
        &mut c,
        &serde_json::json!({"id": 4, "op": "member_import_commit", "args": {"import": import}}),
    );
    assert_eq!(orphan["error"]["code"], "unknown_import", "{orphan}");
    let out = w.cli(&["member", "show", "dan"]);
    assert_eq!(out.status.code(), Some(67));
    assert_eq!(
        w.json(&["member", "list"])["members"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn what_one_import_may_stage_is_bounded() {
    let w = World::start(1, |c| c, "");
    let mut c = connect(&w);
    let begin = serde_json::json!({"id": 2, "op": "member_import_begin", "args": {}});
    // Rows: 200 000 blank lines fit, one more does not.
    let import = ask(&mut c, &begin)["result"]["import"].clone();
    let piece = "\n".repeat(25_000);
    assert_eq!(rows(&mut c, &import, "handle,name,phone\n")["ok"], true);
    for _ in 0..8 {
        let r = rows(&mut c, &import, &piece);
        assert_eq!(r["ok"], true, "{r}");
    }
    let over = rows(&mut c, &import, "\n");
    assert_eq!(over["error"]["code"], "invalid_value", "{over}");
    assert_eq!(
        over["error"]["message"],
        "the CSV has more than 200000 rows, at most 200000 may be imported at once: split the file"
    );
    // The refused import is over.
    assert_eq!(
        rows(&mut c, &import, "\n")["error"]["code"],
        "unknown_import"
    );

    // Bytes: 32 MiB.
    let import = ask(&mut c, &begin)["result"]["import"].clone();
    let piece = format!("handle,name,phone\n{}", "x".repeat(60_000 - 18));
    let mut sent = 0;
    let refused = loop {
        let r = rows(&mut c, &import, &piece);
        if r["ok"] != true {
            break r;
        }
        sent += piece.len();
    };
    assert_eq!(sent / 60_000, 32 * 1024 * 1024 / 60_000);
    assert_eq!(
        refused["error"]["message"],
        "the CSV is larger than 32 MiB, at most that may be imported at once: split the file"
    );
}

#[test]
fn numbers_of_any_country_go_in_through_member_add_and_import() {
    let w = World::start(1, |c| c, "");
    w.ok(&["group", "create", "ops", "--name", "运维组"]);
    // Ukraine, which the old table of 34 countries refused (+380 44 is Kyiv).
    let kyiv = w.json(&[
        "member",
        "add",
        "kyiv",
        "--name",
        "Київ",
        "--phone",
        "+380 44 123 4567",
    ]);
    assert_eq!(kyiv["phone"], "+380441234567");
    let csv = "handle,name,phone,group\n\
               ua,Олена,+380 50 123 4567,ops\n\
               br,João,+55 11 91234-5678,ops\n\
               ke,Amina,00254 712 345678,ops\n\
               cn,张三,138 0013 8000,ops\n";
    let file = write_file(&w, "world.csv", csv);
    let done = w.json(&["member", "import", &file]);
    assert_eq!(done["members_created"], 4, "{done}");
    for (handle, e164) in [
        ("ua", "+380501234567"),
        ("br", "+5511912345678"),
        ("ke", "+254712345678"),
        ("cn", "+8613800138000"),
    ] {
        assert_eq!(
            w.json(&["member", "show", handle])["phone"],
            e164,
            "{handle}"
        );
    }

    // Garbage is refused, the row and the field named.
    let bad = "handle,name,phone\nx,X,+380 44 12\ny,Y,call me\nz,Z,+999 123 456\n";
    let file = write_file(&w, "bad.csv", bad);
    let out = w.cli(&["member", "import", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert_eq!(
        stderr,
        "groupsms: 3 bad rows, nothing was imported (skip bad rows to import the others):\n  \
         line 2: phone '+380 44 12': a mobile number in UA (+380) has 9 digits after the \
         country code, this one has 4\n  \
         line 3: phone 'call me': 'c' cannot be in a phone number (use digits, spaces, '-', \
         '.', '/', '(', ')' and a leading '+')\n  \
         line 4: phone '+999 123 456': +9991 does not start with a country calling code in use\n"
    );
    let out = w.cli(&["member", "add", "q", "--name", "Q", "--phone", "+380 44"]);
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "groupsms: phone '+380 44': a mobile number in UA (+380) has 9 digits after the country \
         code, this one has 2\n"
    );
}

#[test]
fn a_file_with_windows_line_ends_reports_the_same_lines() {
    // Excel and most Windows programs end lines with CRLF.
    let (_dir, mut store) = setup();
    let crlf = BAD.replace('\n', "\r\n");
    let err = import(&mut store, &crlf, false).unwrap_err();
    let ServiceError::Import(ImportError::BadRows(rows)) = &err else {
        panic!("{err:?}")
    };
    let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
    let want: Vec<u64> = want_bad().iter().map(|r| r.line).collect();
    assert_eq!(lines, want, "{err}");
}

/// A dry run counts what the import does (the same rows, the same transaction) and leaves
/// the store as it was; the import after it does exactly what it counted.
#[test]
fn a_dry_run_reports_what_the_import_then_does_and_writes_nothing() {
    let (_dir, mut store) = setup();
    import(
        &mut store,
        "handle,name,phone,group\nalice,爱丽丝,13800138000,ops\n",
        false,
    )
    .unwrap();
    let csv = "handle,name,phone,group,role\nalice,Alice,13800138000,ops,admin\n\
               bob,Bob,13900139000,dev,\ncarol,Carol,not-a-phone,ops,\n";
    let run = |store: &mut Store, dry_run: bool| {
        import_members_csv(
            store,
            &Settings::default(),
            "root",
            csv.as_bytes(),
            ImportOptions {
                skip_bad: true,
                dry_run,
            },
            utc(T0),
        )
        .unwrap()
    };
    let previewed = run(&mut store, true);
    assert_eq!(
        (
            previewed.members_created,
            previewed.members_updated,
            previewed.memberships_changed,
            previewed.memberships_added
        ),
        (1, 1, 1, 1),
        "{previewed:?}"
    );
    assert_eq!(
        previewed.skipped.iter().map(|b| b.line).collect::<Vec<_>>(),
        [4]
    );
    assert!(
        store.member("bob").unwrap().is_none(),
        "a dry run writes nothing"
    );
    assert_eq!(store.member("alice").unwrap().unwrap().name, "爱丽丝");
    // Again: the same answer (nothing it did stayed).
    assert_eq!(run(&mut store, true), previewed);
    let written = run(&mut store, false);
    assert_eq!(
        written,
        ImportReport {
            rows: Vec::new(),
            ..previewed
        },
        "the import does what its dry run counted"
    );
    assert_eq!(store.member("alice").unwrap().unwrap().name, "Alice");
    assert!(store.member("bob").unwrap().is_some());
}
