//! The daemon's socket against an ordinary local user in group `groupsms` (the hardening
//! issue): the real `groupsms` binary as daemon and CLI, raw connections on its socket, some
//! of them as uid 65534. Requests are refused clearly, nothing an outsider sends grows the
//! database without bound, and no crowd of connections locks the administrator out.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::daemon::{connect_as, open_to_others, ops_group, World};
use groupsms::service::refusals::{MORE_REFUSED, REFUSED_SENDS_LOGGED_PER_MINUTE};
use groupsms::store::{NewMember, MAX_AUDIT_TEXT};
use serde_json::{json, Value};

/// The ordinary local user of these tests.
const NOBODY: u32 = 65534;

/// A raw connection to the daemon's socket (answers awaited at most 20 s).
fn connect(w: &World) -> BufReader<UnixStream> {
    let stream = UnixStream::connect(w.socket()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    BufReader::new(stream)
}

/// The next answer line.
fn answer(c: &mut BufReader<UnixStream>) -> Value {
    let mut line = String::new();
    c.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

/// One request line, and its answer.
fn ask(c: &mut BufReader<UnixStream>, line: &str) -> Value {
    c.get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .unwrap();
    answer(c)
}

/// Whether the test may act as other users; says so when it may not.
fn root() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    eprintln!("SKIPPED: this test needs root (to connect as uid 65534)");
    false
}

/// Says hello on a raw stream and checks the answer.
fn hello_on(s: &mut UnixStream) {
    s.write_all(b"{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}\n")
        .unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    assert!(line.contains("\"ok\":true"), "{line}");
}

fn hello(c: &mut BufReader<UnixStream>) {
    let a = ask(c, r#"{"id":1,"op":"hello","args":{"version":1}}"#);
    assert_eq!(a["ok"], true, "{a}");
}

/// The connection's last words: one answer, then the end of the stream.
fn last_words(c: &mut BufReader<UnixStream>) -> Value {
    let a = answer(c);
    let mut rest = String::new();
    assert_eq!(c.read_line(&mut rest).unwrap(), 0, "not closed: {rest:?}");
    a
}

/// The answer is error `code` with exactly `message`, for request `id`.
fn assert_error(a: &Value, id: u64, code: &str, message: &str) {
    assert_eq!(
        (
            &a["ok"],
            &a["id"],
            &a["error"]["code"],
            &a["error"]["message"]
        ),
        (
            &Value::Bool(false),
            &Value::from(id),
            &Value::from(code),
            &Value::from(message)
        ),
        "{a}"
    );
}

fn broadcast_count(w: &World) -> usize {
    w.json(&["broadcast", "list"])["broadcasts"]
        .as_array()
        .unwrap()
        .len()
}

/// A key given twice (serde_json would keep the last one), `args` that are not an object, and
/// a wrong `hello` after a good one (which used to leave the connection greeted) are refused.
#[test]
fn duplicate_keys_non_object_args_and_a_wrong_hello_are_refused() {
    let w = World::start(1, |c| c, "");
    ops_group(&w, 0);
    let mut c = connect(&w);
    hello(&mut c);
    let a = ask(
        &mut c,
        r#"{"id":2,"op":"send","args":{"group":"ops","as":"alice","text":"ok","text":"赌博"}}"#,
    );
    assert_error(
        &a,
        0,
        "bad_request",
        "request refused: the key \"text\" appears twice at line 1 column 73",
    );
    let a = ask(&mut c, r#"{"id":3,"op":"status","args":[]}"#);
    assert_error(&a, 3, "bad_request", "\"args\" must be an object");
    let a = ask(&mut c, r#"{"id":4,"op":"hello","args":{"version":2}}"#);
    assert_error(
        &a,
        4,
        "version_mismatch",
        "client speaks protocol 2, this daemon speaks 1: use matching versions of groupsms",
    );
    // The wrong hello ended the greeting.
    let a = ask(&mut c, r#"{"id":5,"op":"status"}"#);
    assert_error(
        &a,
        5,
        "version_mismatch",
        "say hello with protocol version 1 first",
    );
    hello(&mut c);
    let a = ask(&mut c, r#"{"id":6,"op":"status"}"#);
    assert_eq!(a["ok"], true, "{a}");
    assert_eq!(broadcast_count(&w), 0);
}

/// A user refused in a loop cannot fill the disk: over-long handles and texts are refused
/// before anything reads them (and are not audited), refused sends reach the audit log at most
/// ten a minute per caller and then once more as a summary, and every text of an audit entry
/// is cut to 512 bytes.
#[test]
fn refused_sends_cannot_fill_the_disk() {
    if !root() {
        return;
    }
    let w = World::start(1, |c| c, "");
    open_to_others(&w);
    ops_group(&w, 0);
    let mut c = BufReader::new(connect_as(NOBODY, &w.socket(), 1, |_| {}).remove(0));
    hello(&mut c);
    let big = "x".repeat(30_000);
    let send = |group: &str, as_member: &str, text: &str| {
        json!({"id": 2, "op": "send", "args": {"group": group, "as": as_member, "text": text}})
            .to_string()
    };
    let a = ask(&mut c, &send(&big, "alice", "hi"));
    assert_error(
        &a,
        2,
        "invalid_value",
        "the group handle is 30000 bytes long, at most 32 are allowed",
    );
    let a = ask(&mut c, &send("ops", &big, "hi"));
    assert_error(
        &a,
        2,
        "invalid_value",
        "the member handle is 30000 bytes long, at most 32 are allowed",
    );
    let a = ask(&mut c, &send("ops", "alice", &"开".repeat(801)));
    assert_error(
        &a,
        2,
        "invalid_value",
        "the text is 801 characters long, at most 800 are allowed",
    );
    for i in 0..30 {
        let a = ask(&mut c, &send("ops", "alice", &format!("try {i}")));
        assert_eq!(a["error"]["code"], "permission_denied", "{a}");
    }
    let audit = w.open_store().audit_log(1000).unwrap();
    let mine: Vec<_> = audit.iter().filter(|e| e.actor == "uid:65534").collect();
    assert_eq!(
        mine.len(),
        REFUSED_SENDS_LOGGED_PER_MINUTE as usize + 1,
        "{mine:#?}"
    );
    assert_eq!(
        (mine[0].action.as_str(), mine[0].detail.as_str()),
        ("send_refused", MORE_REFUSED)
    );
    assert!(mine[1..].iter().all(|e| e
        .detail
        .starts_with("as 'alice': member 'alice' is not bound")));

    // An administrator's change that says a lot is cut in the audit log.
    let modems: Vec<String> = (0..16)
        .map(|i| format!("/dev/gsm/{i:02}-{}", "m".repeat(100)))
        .collect();
    let mut root_c = connect(&w);
    hello(&mut root_c);
    let a = ask(
        &mut root_c,
        &json!({"id": 3, "op": "group_set",
                "args": {"group": "ops", "pinned_modems": modems, "pin_fallback": true}})
        .to_string(),
    );
    assert_eq!(a["ok"], true, "{a}");
    let audit = w.open_store().audit_log(1000).unwrap();
    assert_eq!(audit[0].action, "update_group");
    assert_eq!(audit[0].detail.len(), MAX_AUDIT_TEXT + "…".len());
    assert!(audit[0].detail.ends_with("…"), "{}", audit[0].detail);
    for e in &audit {
        for text in [&e.actor, &e.action, &e.subject, &e.detail] {
            assert!(text.len() <= MAX_AUDIT_TEXT + "…".len(), "{e:?}");
        }
    }
    assert_eq!(broadcast_count(&w), 0);
}

/// Names, headers and CSV rows with control characters, or too long, are refused with
/// `invalid_value` naming the field, by `member add/set`, `group create/set` and the import.
#[test]
fn names_and_headers_with_control_characters_or_too_long_are_refused() {
    let w = World::start(1, |c| c, "");
    ops_group(&w, 0);
    let refused = |args: &[&str], message: &str| {
        let out = w.cli(args);
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).as_ref()
            ),
            (Some(65), format!("groupsms: {message}\n").as_str()),
            "{args:?}"
        );
    };
    refused(
        &["group", "create", "x", "--name", "X\u{1b}[2J"],
        "the group name holds the control character U+001B (character 2); control characters \
         are not allowed",
    );
    refused(
        &["group", "set", "ops", "--header", "【运维\u{7}】"],
        "the group header holds the control character U+0007 (character 4); control \
         characters are not allowed",
    );
    let handle = "h".repeat(20_000);
    refused(
        &["group", "create", &handle, "--name", "H"],
        &format!(
            "'{}…' is not a usable handle: it is longer than 32 characters",
            "h".repeat(64)
        ),
    );
    let long = "名".repeat(65);
    refused(
        &[
            "member",
            "add",
            "eve",
            "--name",
            &long,
            "--phone",
            "13900000007",
        ],
        "the member name is 65 characters long, at most 64 are allowed",
    );
    refused(
        &["member", "set", "alice", "--name", "Alice\nBob"],
        "the member name holds the control character U+000A (character 6); control characters \
         are not allowed",
    );
    let csv = w.dir.path().join("evil.csv");
    std::fs::write(
        &csv,
        "handle,name,phone\nmallory,Mallory\u{1b}]0;owned\u{7},13900000006\nbob,Bob,13900000005\n",
    )
    .unwrap();
    refused(
        &["member", "import", csv.to_str().unwrap()],
        "1 bad row, nothing was imported (skip bad rows to import the others):\n  line 2: the \
         member name holds the control character U+001B (character 8); control characters are \
         not allowed",
    );
    // Nothing of that was stored; names of CJK and emoji are fine.
    w.ok(&[
        "member",
        "add",
        "bo",
        "--name",
        "鲍勃 😀",
        "--phone",
        "13900000005",
    ]);
    let members = w.json(&["member", "list"]);
    let names: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alice", "鲍勃 😀"]);
    assert_eq!(
        w.json(&["group", "list"])["groups"][0]["header"],
        "【运维组】"
    );
}

/// The CLI shows control characters in names as escapes, so a name cannot rewrite the
/// administrator's screen (a database from before the name rules may hold one); `--json`
/// stays exact.
#[test]
fn the_cli_shows_control_characters_escaped_and_json_exact() {
    let w = World::start(1, |c| c, "");
    ops_group(&w, 0);
    let evil = "Eve\u{1b}]0;owned\u{7}\u{1b}[2J";
    w.open_store()
        .create_member(
            &NewMember::new("eve", evil, "+8613900000005"),
            chrono::Utc::now(),
        )
        .unwrap();
    for args in [&["member", "list"][..], &["member", "show", "eve"][..]] {
        let human = w.ok(args);
        assert!(
            human.contains("Eve\\e]0;owned\\x07\\e[2J"),
            "{args:?}: {human}"
        );
        assert!(!human.contains(['\u{1b}', '\u{7}']), "{args:?}: {human:?}");
    }
    assert!(w.ok(&["group", "list"]).contains("【运维组】"));
    assert_eq!(w.json(&["member", "show", "eve"])["name"], evil);
}

/// One user's crowd of connections: past 64 the next is turned away with a clear error (the
/// CLI says so too), and root still gets in.
#[test]
fn a_user_with_too_many_connections_is_turned_away_and_root_still_gets_in() {
    if !root() {
        return;
    }
    let w = World::start(1, |c| c, "");
    open_to_others(&w);
    let mut crowd = connect_as(NOBODY, &w.socket(), 64, hello_on);
    let message = "unix user 65534 already has 64 connections open, at most 64 are allowed; \
                   close some and try again";
    let mut one_more = BufReader::new(connect_as(NOBODY, &w.socket(), 1, |_| {}).remove(0));
    assert_error(
        &last_words(&mut one_more),
        0,
        "too_many_connections",
        message,
    );
    let out = w.cli_as(NOBODY, NOBODY, &["status"]);
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).as_ref()
        ),
        (Some(69), format!("groupsms: {message}\n").as_str())
    );
    w.ok(&["status"]);
    // A closed connection makes room again (the daemon notices the end of the stream).
    drop(crowd.pop());
    let mut tries = 0;
    loop {
        let out = w.cli_as(NOBODY, NOBODY, &["status"]);
        if out.status.success() {
            break;
        }
        tries += 1;
        assert!(tries < 100, "{}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Past `max_connections` open in all, users are turned away but administrators get in; the
/// daemon raised its open-file limit to the hard limit at start.
#[test]
fn past_the_global_limit_only_administrators_get_in() {
    if !root() {
        return;
    }
    let mut w = World::prepare(1, |c| c, "max_connections = 8", "");
    w.start_daemon_with(|cmd| {
        use std::os::unix::process::CommandExt;
        // SAFETY: getrlimit/setrlimit are async-signal-safe and touch only the child.
        unsafe {
            cmd.pre_exec(|| {
                let mut l = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
                l.rlim_cur = 256.min(l.rlim_max);
                libc::setrlimit(libc::RLIMIT_NOFILE, &l);
                Ok(())
            });
        }
    });
    let limits =
        std::fs::read_to_string(format!("/proc/{}/limits", w.daemon_pid().unwrap())).unwrap();
    let files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        files[3], files[4],
        "soft limit not raised to the hard one: {limits}"
    );
    open_to_others(&w);
    let _crowd = connect_as(NOBODY, &w.socket(), 8, hello_on);
    let mut other = BufReader::new(connect_as(NOBODY - 1, &w.socket(), 1, |_| {}).remove(0));
    assert_error(
        &last_words(&mut other),
        0,
        "too_many_connections",
        "the daemon has 8 connections open; the rest are kept for administrators, try again \
         later",
    );
    w.ok(&["status"]);
    let mut c = connect(&w);
    hello(&mut c);
}

/// A greeted connection that says nothing, and one that starts a line and never ends it, are
/// told why and closed; a `subscribe` streaming longer than the idle timeout is not cut.
#[test]
fn idle_and_half_sent_connections_time_out_but_subscribers_do_not() {
    let mut w = World::prepare(
        1,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(2500)),
        "idle_timeout_secs = 1\nrequest_timeout_secs = 1",
        "",
    );
    w.start_daemon();
    ops_group(&w, 0);
    let mut idle = connect(&w);
    hello(&mut idle);
    assert_error(
        &last_words(&mut idle),
        0,
        "timed_out",
        "no request for 1 s; closing the connection",
    );
    let mut half = connect(&w);
    hello(&mut half);
    half.get_mut().write_all(br#"{"id":2,"op":"#).unwrap();
    assert_error(
        &last_words(&mut half),
        0,
        "timed_out",
        "the request line was not finished within 1 s of its start; closing the connection",
    );
    let id = w.send("ops", "alice", "慢慢来");
    let totals = w.follow(id, |_| false);
    assert_eq!(
        (&totals["sent"], &totals["finished"]),
        (&json!(1), &json!(true))
    );
}
