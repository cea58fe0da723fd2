//! What a message body may be, through the real daemon: over its socket (where a NUL can be
//! written) and through the CLI. A body that shows nothing is refused as empty; a control
//! character other than a line break is refused with its position; nothing refused reaches a
//! phone (read from the emulator's log), and a body with line breaks goes out as written.

mod common;

use common::daemon::{ops_group, World};
use serde_json::{json, Value};

/// One `send` of `text` to `ops` as alice over the socket; the answer.
fn send(w: &World, text: &str) -> Value {
    w.ask("send", json!({"group": "ops", "as": "alice", "text": text}))
}

const EMPTY: &str = "the message is empty (nothing but spaces, control or invisible characters)";

#[test]
fn bodies_that_show_nothing_or_hold_control_characters_are_refused() {
    let mut w = World::start(1, |c| c, "");
    ops_group(&w, 1);

    let blank = [
        "",
        "   ",
        // zero-width space, non-joiner, joiner, word joiner, byte order mark
        "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}",
        "\u{0}\u{0}\u{1}",
        "\u{3000}\u{A0}\r\n\t",
        // direction marks and a variation selector; Hangul filler; tag characters
        "\u{200E}\u{202E}\u{FE0F}",
        "\u{3164}\u{3164}",
        "\u{E0020}\u{E007F}",
        // the blank Braille pattern
        "\u{2800}\u{2800}",
    ];
    for text in blank {
        let answer = send(&w, text);
        assert_eq!(
            (
                answer["error"]["code"].as_str(),
                answer["error"]["message"].as_str()
            ),
            (Some("invalid_value"), Some(EMPTY)),
            "{text:?}: {answer}"
        );
    }

    let control = [
        ("会议\u{0}改期", 0x00, 3),
        ("\u{1b}[31m紧急", 0x1B, 1),
        ("名单：\t张三", 0x09, 4),
        ("ok\u{7f}", 0x7F, 3),
        ("换行\u{85}", 0x85, 3),
    ];
    for (text, code, at) in control {
        let answer = send(&w, text);
        let want = format!(
            "the message holds the control character U+{code:04X} (character {at}); a message \
             may hold line breaks but no other control character"
        );
        assert_eq!(
            (
                answer["error"]["code"].as_str(),
                answer["error"]["message"].as_str()
            ),
            (Some("invalid_value"), Some(want.as_str())),
            "{text:?}: {answer}"
        );
    }

    // The CLI: the same refusal, exit 65 (invalid_value).
    let out = w.cli(&["send", "--group", "ops", "--as", "alice", "\u{1b}[2J清屏"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert!(
        stderr.contains("the message holds the control character U+001B (character 1)"),
        "{stderr}"
    );
    let out = w.cli(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "\u{200B} \u{FEFF}",
    ]);
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(EMPTY),
        "{out:?}"
    );

    // Line breaks are welcome, and go out as written.
    let out = w.ok(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--wait",
        "第一行\r\n第二行\n",
    ]);
    assert!(out.contains("2 sent"), "{out}");
    w.stop_daemon();
    let phones = w.phones();
    for number in ["+8613800138000", "+8613900000001"] {
        assert_eq!(
            phones.phone(number).texts(),
            vec!["【运维组】第一行\r\n第二行\n"],
            "{number}: only the good message arrived"
        );
    }
    let shown = w.sent_parts();
    assert_eq!(shown.len(), 2, "one part to each, nothing else: {shown:?}");
}
