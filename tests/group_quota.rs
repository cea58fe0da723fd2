//! A group's quota overrides follow the configuration's rule for `[quota]` (each 1 to a
//! million, daily not above monthly), on the quotas as they apply: the overrides, and the
//! configured defaults for what is not overridden. Through the real daemon and CLI.

mod common;

use common::daemon::{ops_group, World};

/// The group's daily and monthly quotas, as `group show` reports them.
fn quotas(w: &World, group: &str) -> (u64, u64) {
    let shown = w.json(&["group", "show", group]);
    let q = &shown["quota"];
    (
        q["day_limit"]
            .as_u64()
            .unwrap_or_else(|| panic!("{shown:#}")),
        q["month_limit"].as_u64().unwrap(),
    )
}

/// Runs the CLI and expects `invalid_value` (exit 65) with `message`.
fn refused(w: &World, args: &[&str], message: &str) {
    let out = w.cli(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{args:?}: {stderr}");
    assert!(
        stderr.contains(message),
        "{args:?}: {stderr}\nwanted: {message}"
    );
}

#[test]
fn overrides_that_could_never_work_are_refused_and_change_nothing() {
    let w = World::start(1, |c| c, "");
    ops_group(&w, 0);
    assert_eq!(quotas(&w, "ops"), (3, 31), "the configured defaults");

    refused(
        &w,
        &["group", "set", "ops", "--daily", "0"],
        "group 'ops': the daily quota must be 1 to 1000000 broadcasts, not 0",
    );
    refused(
        &w,
        &["group", "set", "ops", "--monthly", "0"],
        "group 'ops': the monthly quota must be 1 to 1000000 broadcasts, not 0",
    );
    refused(
        &w,
        &["group", "set", "ops", "--daily", "50", "--monthly", "10"],
        "group 'ops': the daily quota (50) is more than the monthly quota (10); a day may not \
         allow more broadcasts than its month",
    );
    // Against the configured monthly quota when the group has none of its own.
    refused(
        &w,
        &["group", "set", "ops", "--daily", "50"],
        "group 'ops': the daily quota (50) is more than the monthly quota (31, the configured \
         default)",
    );
    assert_eq!(quotas(&w, "ops"), (3, 31), "nothing changed");

    // The same rule when a group is created: it is not created.
    refused(
        &w,
        &[
            "group",
            "create",
            "small",
            "--name",
            "Small",
            "--monthly",
            "2",
        ],
        "group 'small': the daily quota (3, the configured default) is more than the monthly \
         quota (2)",
    );
    let out = w.cli(&["group", "show", "small"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("there is no group with the handle 'small'"),
        "{out:?}"
    );

    // Valid overrides are taken, and each goes back to the default with `default` (null).
    w.ok(&["group", "set", "ops", "--daily", "50", "--monthly", "100"]);
    assert_eq!(quotas(&w, "ops"), (50, 100));
    w.ok(&["group", "set", "ops", "--daily", "default"]);
    assert_eq!(quotas(&w, "ops"), (3, 100));
    w.ok(&["group", "set", "ops", "--monthly", "default"]);
    assert_eq!(quotas(&w, "ops"), (3, 31));
    // Going back to a default that does not fit the other override is refused too.
    w.ok(&["group", "set", "ops", "--daily", "40", "--monthly", "40"]);
    refused(
        &w,
        &["group", "set", "ops", "--monthly", "default"],
        "group 'ops': the daily quota (40) is more than the monthly quota (31, the configured \
         default)",
    );
    assert_eq!(quotas(&w, "ops"), (40, 40));
    w.ok(&[
        "group",
        "create",
        "small",
        "--name",
        "Small",
        "--daily",
        "1",
        "--monthly",
        "2",
    ]);
    assert_eq!(quotas(&w, "small"), (1, 2));
}

/// When the configured default changes under a group's override (daily 20, then a month of
/// 10 configured), a change that leaves the quotas alone still goes through; one that sets a
/// quota must leave the pair valid.
#[test]
fn a_change_that_leaves_the_quotas_alone_is_not_refused_for_them() {
    let mut w = World::start(1, |c| c, "");
    ops_group(&w, 0);
    w.ok(&["group", "set", "ops", "--daily", "20"]);
    w.stop_daemon();
    let config = std::fs::read_to_string(w.config()).unwrap() + "\n[quota]\nmonthly = 10\n";
    std::fs::write(w.config(), config).unwrap();
    w.start_daemon();
    assert_eq!(quotas(&w, "ops"), (20, 10));
    w.ok(&["group", "set", "ops", "--name", "运维二组"]);
    refused(
        &w,
        &["group", "set", "ops", "--monthly", "default"],
        "group 'ops': the daily quota (20) is more than the monthly quota (10, the configured \
         default)",
    );
    w.ok(&["group", "set", "ops", "--daily", "5"]);
    assert_eq!(quotas(&w, "ops"), (5, 10));
}
