//! The daemon's socket against an ordinary local user in group `groupsms` (the hardening
//! issue): the real `groupsms` binary as daemon and CLI, raw connections on its socket, some
//! of them as uid 65534. Requests are refused clearly, nothing an outsider sends grows the
//! database without bound, and no crowd of connections locks the administrator out.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::daemon::{ops_group, World};
use serde_json::Value;

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

fn hello(c: &mut BufReader<UnixStream>) {
    let a = ask(c, r#"{"id":1,"op":"hello","args":{"version":1}}"#);
    assert_eq!(a["ok"], true, "{a}");
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
