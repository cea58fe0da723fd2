//! `groupsms demo`, the README's main command, through the real binary.

use std::process::Command;

/// The block of the demo's phone listing for `number`: its header line and its messages.
fn phone(stdout: &str, number: &str) -> String {
    let header = format!("{number}: ");
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with(&header));
    let mut block = lines
        .next()
        .unwrap_or_else(|| panic!("no phone {number}: {stdout}"))
        .to_string();
    for line in lines.take_while(|l| l.starts_with("  ")) {
        block.push('\n');
        block.push_str(line);
    }
    block
}

#[test]
fn the_demo_runs_end_to_end_and_leaves_nothing_behind() {
    let out = Command::new(env!("CARGO_BIN_EXE_groupsms"))
        .args(["demo", "--latency", "20ms"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = "【运维组】明天上午九点在三楼会议室召开季度运维总结会";
    // Four reachable phones got the two-part message; the opted-out and invalid ones did not.
    assert_eq!(
        stdout.matches(&format!("(2 parts): {text}")).count(),
        4,
        "{stdout}"
    );
    // The second message, to three: carol opted out by replying TD after the first.
    let second = "(1 part): 【运维组】会议改到明天下午两点，地点不变";
    assert_eq!(stdout.matches(second).count(), 3, "{stdout}");
    for number in ["+8613800138000", "+8613900000001", "+8613900000003"] {
        let phone = phone(&stdout, number);
        assert!(phone.contains(second), "{number}: {phone}");
    }
    // Carol's phone: the first message and her confirmation, not the second.
    let carol = phone(&stdout, "+8613900000002");
    assert!(carol.starts_with("+8613900000002: 2 message(s)"), "{carol}");
    assert!(
        carol.contains("(1 part): 您已退订【运维组】的短信，回复\"订阅\"可恢复"),
        "{carol}"
    );
    assert!(!carol.contains(second), "{carol}");
    assert!(
        !stdout.contains("+8613900000004:") && !stdout.contains("+8613900000005:"),
        "{stdout}"
    );
    assert!(stdout.contains("4 sent, 0 failed"), "{stdout}");
    // Every report of the first message came back.
    assert!(
        stdout.contains("reports: 4 delivered, 0 undelivered, 0 without a report"),
        "{stdout}"
    );
    // Bob's reply and carol's TD, as the inbox committed them and under the broadcast.
    assert!(
        stdout.contains("from +8613900000001 (bob): 收到，准时参加  [reply, broadcast 1]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("from +8613900000002 (carol): TD  [opt_out, broadcast 1]"),
        "{stdout}"
    );
    let replies = stdout
        .split("replies (")
        .nth(1)
        .expect("broadcast show 1 lists replies");
    assert!(
        replies
            .lines()
            .any(|l| l.contains("bob") && l.contains("收到，准时参加")),
        "{replies}"
    );
    // The second broadcast counts her among the opted out (erin was already).
    assert!(stdout.contains("opted_out=2 invalid=1"), "{stdout}");
    // The non-admin's attempt is refused with a sentence.
    assert!(String::from_utf8_lossy(&out.stderr).contains("only its super-admins may"));
    // The temporary directory is gone.
    let dir = stdout
        .lines()
        .next()
        .and_then(|l| l.rsplit(" in ").next())
        .unwrap();
    assert!(!std::path::Path::new(dir).exists(), "{dir} left behind");
}

#[test]
fn the_demo_fails_loudly_when_the_super_admins_send_fails() {
    // Seven parts, where the configuration allows five: the main job is refused.
    let text = "会".repeat(400);
    let out = Command::new(env!("CARGO_BIN_EXE_groupsms"))
        .args(["demo", "--latency", "20ms", "--text", &text])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{stdout}\n{stderr}");
    assert_eq!(
        stderr.lines().last(),
        Some(
            "groupsms: demo step `groupsms send --group ops --as alice --wait-delivered --timeout 20 \
             会会会会会会会会会会会会…` failed: the message needs 7 SMS parts (405 characters in UCS-2, header included), \
             at most 5 are allowed"
        ),
        "{stderr}"
    );
    // The demo stopped there: the rule-showing send after it did not run.
    assert!(!stdout.contains("--as bob"), "{stdout}");
    assert!(stdout.contains("total: 0 parts accepted"), "{stdout}");
    // And still cleaned up.
    let dir = stdout
        .lines()
        .next()
        .and_then(|l| l.rsplit(" in ").next())
        .unwrap();
    assert!(!std::path::Path::new(dir).exists(), "{dir} left behind");
}
