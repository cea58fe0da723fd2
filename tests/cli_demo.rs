//! `groupsms demo`, the README's main command, through the real binary.

use std::process::Command;

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
    for number in [
        "+8613800138000",
        "+8613900000001",
        "+8613900000002",
        "+8613900000003",
    ] {
        assert!(
            stdout.contains(&format!("{number}: 1 message(s)")),
            "{number}: {stdout}"
        );
    }
    assert!(
        !stdout.contains("+8613900000004:") && !stdout.contains("+8613900000005:"),
        "{stdout}"
    );
    assert!(stdout.contains("4 sent, 0 failed"), "{stdout}");
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
            "groupsms: demo step `groupsms send --group ops --as alice --wait 会会会会会会会会会会会会…` \
             failed: the message needs 7 SMS parts (405 characters in UCS-2, header included), \
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
