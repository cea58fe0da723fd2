//! The sensitive-word filter through the real daemon binary and its socket: a disguised word
//! is refused with `sensitive_words`; with `sensitive_policy = "mask"` the phones receive the
//! message with the word starred (read from the emulator's log of what each phone got).

mod common;

use common::daemon::{ops_group, World};
use serde_json::json;

/// The list the test world configures holds `赌博` and `forbidden`.
const DISGUISED: &str = "周末别去賭\u{200B} 博！ＦＯＲ\u{FE0F}b.і.d.d.e.n";

#[test]
fn disguised_words_are_refused_over_the_socket_and_masked_on_the_phones() {
    let mut w = World::prepare(1, |c| c, "", "");
    w.start_daemon();
    ops_group(&w, 1);

    let refused = w.ask(
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
    let blank = w.ask(
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
    let sent = w.ask(
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
