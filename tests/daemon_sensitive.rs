//! The sensitive-word filter through the real daemon binary and its socket: a disguised word
//! is refused with `sensitive_words`; with `sensitive_policy = "mask"` the phones receive the
//! message with the word starred (read from the emulator's log of what each phone got).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::daemon::{ops_group, World};
use serde_json::{json, Value};

/// `hello`, then one request; the answer.
fn ask(w: &World, op: &str, args: Value) -> Value {
    let stream = UnixStream::connect(w.socket()).expect("daemon socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut c = BufReader::new(stream);
    let mut exchange = |request: Value| -> Value {
        c.get_mut()
            .write_all(format!("{request}\n").as_bytes())
            .unwrap();
        let mut line = String::new();
        c.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    };
    let hello = exchange(json!({"id": 1, "op": "hello", "args": {"version": 1}}));
    assert_eq!(hello["ok"], true, "{hello}");
    exchange(json!({"id": 2, "op": op, "args": args}))
}

/// The list the test world configures holds `赌博` and `forbidden`.
const DISGUISED: &str = "周末别去賭\u{200B} 博！ＦＯＲ\u{FE0F}b.і.d.d.e.n";

#[test]
fn disguised_words_are_refused_over_the_socket_and_masked_on_the_phones() {
    let mut w = World::prepare(1, |c| c, "", "");
    w.start_daemon();
    ops_group(&w, 1);

    let refused = ask(
        &w,
        "send",
        json!({"group": "ops", "as": "alice", "text": DISGUISED}),
    );
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(refused["error"]["code"], "sensitive_words", "{refused}");
    assert_eq!(
        refused["error"]["message"],
        "the message contains sensitive words: 赌博, forbidden"
    );
    // Nothing visible in the body: refused as an invalid value, nothing sent.
    let blank = ask(
        &w,
        "send",
        json!({"group": "ops", "as": "alice", "text": "\u{200B}\u{0}\u{FEFF} \u{3000}"}),
    );
    assert_eq!(blank["error"]["code"], "invalid_value", "{blank}");
    w.stop_daemon();
    assert!(w.phones().phone("+8613800138000").messages.is_empty());

    // The same message under `mask`: it goes out, starred.
    let config = std::fs::read_to_string(w.config()).unwrap();
    let config = config.replacen("[message]\n", "[message]\nsensitive_policy = \"mask\"\n", 1);
    std::fs::write(w.config(), config).unwrap();
    w.start_daemon();
    let sent = ask(
        &w,
        "send",
        json!({"group": "ops", "as": "alice", "text": DISGUISED}),
    );
    assert_eq!(sent["ok"], true, "{sent}");
    let id = sent["result"]["broadcast"].as_i64().unwrap();
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["sent"], 2, "{totals}");
    let want = "【运维组】周末别去**！*********";
    for number in ["+8613800138000", "+8613900000001"] {
        assert_eq!(w.phones().phone(number).texts(), vec![want], "{number}");
    }
}
