//! Through the real binary and the emulator on PTYs: the `[message] footer` reaches the phones
//! after every broadcast's body and counts in its parts (`send`, the part limit, `pdu count`).

mod common;

use common::daemon::{ops_group, World};

const FOOTER: &str = "回TD退订";

/// A world whose configuration has `footer` in `[message]` (and `max_parts` when given).
fn world_with_footer(max_parts: Option<usize>) -> World {
    let mut w = World::prepare(1, |c| c, "", "");
    let config = std::fs::read_to_string(w.config()).unwrap();
    let mut keys = format!("[message]\nfooter = \"{FOOTER}\"\n");
    if let Some(n) = max_parts {
        keys.push_str(&format!("max_parts = {n}\n"));
    }
    std::fs::write(w.config(), config.replacen("[message]\n", &keys, 1)).unwrap();
    w.start_daemon();
    w
}

#[test]
fn the_footer_reaches_the_phones_and_counts_in_the_parts() {
    let w = world_with_footer(Some(1));
    let numbers = ops_group(&w, 2);
    let sent = w.json(&["send", "--group", "ops", "--as", "alice", "今晚停机"]);
    assert_eq!(
        sent["text"],
        format!("【运维组】今晚停机{FOOTER}"),
        "{sent}"
    );
    assert_eq!(sent["parts"], 1);
    let done = w.follow(sent["broadcast"].as_i64().unwrap(), |_| false);
    assert_eq!(done["sent"], 3, "{done}");
    let phones = w.phones();
    for n in &numbers {
        assert_eq!(
            phones.phone(n).texts(),
            vec![format!("【运维组】今晚停机{FOOTER}").as_str()],
            "{n}"
        );
    }
    // 【运维组】 (5) + 61 + the footer (5) = 71 UCS-2 characters: two parts, over the limit of
    // one; without the footer it would fit (66 <= 70).
    let body = "停".repeat(61);
    let refused = w.cli(&["send", "--group", "ops", "--as", "alice", &body]);
    assert_eq!(refused.status.code(), Some(77));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("needs 2 SMS parts (71 characters in UCS-2, header and footer included)"),
        "{stderr}"
    );
    // pdu count counts the configured footer, unless told not to.
    let text = "停".repeat(66);
    let counted = w.json(&["pdu", "count", &text]);
    assert_eq!(
        (counted["parts"].as_u64(), counted["units"].as_u64()),
        (Some(2), Some(71))
    );
    assert_eq!(counted["footer"], FOOTER);
    let alone = w.json(&["pdu", "count", "--no-footer", &text]);
    assert_eq!(
        (alone["parts"].as_u64(), alone["units"].as_u64()),
        (Some(1), Some(66))
    );
    let human = w.ok(&["pdu", "count", &text]);
    assert!(human.contains("footer:    回TD退订 (included)"), "{human}");
    assert!(human.contains("parts:     2"), "{human}");
}
