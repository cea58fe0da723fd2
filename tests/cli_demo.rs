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
