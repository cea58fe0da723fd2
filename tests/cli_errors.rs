//! How the CLI fails, through the real binary and daemon: one exit status per class of failure
//! (the table of `groupsms --help`), `--json` failures as one JSON object on standard error,
//! and a user who may not open the socket told so (not "daemon not running").

mod common;

use common::daemon::{ops_group, World};
use serde_json::Value;

/// `stderr` as the one `{"error":{"code","message"}}` line of a `--json` failure; its code.
fn json_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr}");
    let v: Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let obj = v.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["error"], "{v}");
    let error = v["error"].as_object().unwrap();
    assert_eq!(error.keys().collect::<Vec<_>>(), ["code", "message"], "{v}");
    assert!(
        !error["message"].as_str().unwrap().is_empty(),
        "a message for people: {v}"
    );
    error["code"].as_str().unwrap().to_string()
}

#[test]
fn each_class_of_failure_has_its_exit_status_and_a_json_error() {
    let w = World::start(1, |c| c, "");
    ops_group(&w, 1);
    w.ok(&["group", "set", "ops", "--daily", "1"]);
    let nowhere = w.dir.path().join("nothing.sock");
    let missing = w.dir.path().join("missing.csv");
    let steps: Vec<(Vec<&str>, i32, &str)> = vec![
        // The daemon's refusals, each class.
        (
            vec!["send", "--group", "ops", "--as", "alice", "别去赌博"],
            79,
            "sensitive_words",
        ),
        (
            vec!["send", "--group", "ops", "--as", "m1", "hi"],
            77,
            "not_super_admin",
        ),
        (vec!["group", "show", "nope"], 67, "unknown_group"),
        (vec!["member", "show", "nobody"], 67, "unknown_member"),
        (
            vec!["group", "create", "ops", "--name", "again"],
            73,
            "already_exists",
        ),
        (
            vec!["member", "add", "z", "--name", "Z", "--phone", "123"],
            65,
            "invalid_value",
        ),
        (
            vec!["send", "--group", "ops", "--as", "alice", "first"],
            0,
            "",
        ),
        (
            vec!["send", "--group", "ops", "--as", "alice", "second"],
            75,
            "quota_exceeded",
        ),
        // The CLI's own failures.
        (
            vec!["member", "import", missing.to_str().unwrap()],
            65,
            "bad_input",
        ),
        (
            vec!["--socket", nowhere.to_str().unwrap(), "status"],
            69,
            "unavailable",
        ),
        (vec!["group", "frobnicate"], 2, "usage"),
    ];
    for (args, status, code) in steps {
        let mut all = vec!["--json"];
        all.extend_from_slice(&args);
        let out = w.cli(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{args:?}: {stderr}");
        if status == 0 {
            continue;
        }
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        assert_eq!(json_error(&stderr), code, "{args:?}");
        // Without --json: the same status, a sentence.
        let plain = w.cli(&args);
        assert_eq!(plain.status.code(), Some(status), "{args:?}");
        assert!(
            String::from_utf8_lossy(&plain.stderr).contains(if status == 2 {
                "error: "
            } else {
                "groupsms: "
            }),
            "{args:?}"
        );
    }
    // The table is in --help.
    let help = String::from_utf8(w.cli(&["--help"]).stdout).unwrap();
    for line in [
        "65  bad input",
        "67  not found",
        "69  unavailable",
        "73  already exists",
        "75  quota used up",
        "77  permission denied",
        "79  sensitive words",
        "{\"error\":{\"code\":\"...\",\"message\":\"...\"}}",
    ] {
        assert!(help.contains(line), "{line:?} in:\n{help}");
    }
}

#[test]
fn a_user_without_access_to_the_socket_is_told_to_join_group_groupsms() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: the socket permission test needs root (to run the CLI as uid 65534)");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let w = World::start(1, |c| c, "");
    // Others may read the configuration and reach the directory, not the socket (0660).
    std::fs::set_permissions(w.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(w.config(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mode = std::fs::metadata(w.socket()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o660);
    let out = w.cli_as(65534, 65534, &["status"]);
    assert_eq!(out.status.code(), Some(77));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "groupsms: permission denied on {}: add yourself to group groupsms (sudo adduser \
             $USER groupsms, then log in again)\n",
            w.socket().display()
        )
    );
    let out = w.cli_as(65534, 65534, &["--json", "status"]);
    assert_eq!(out.status.code(), Some(77));
    assert_eq!(
        json_error(&String::from_utf8_lossy(&out.stderr)),
        "permission_denied"
    );
}
