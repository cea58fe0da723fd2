//! Every number of the configuration has bounds, checked when the file is read: the real
//! binary, `groupsms --config FILE daemon`, exits at once with the key, the line and the
//! bounds, instead of panicking on a duration that overflows, or starting and looping (a
//! reprobe every 0 s logged a thousand lines a second).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::daemon::wait_exit;

/// Runs the daemon on a configuration whose `[daemon]` table has the socket and database in
/// `dir` (lines 1 to 3) followed by `rest`; returns its exit code and standard error.
fn daemon_on(dir: &std::path::Path, rest: &str) -> (Option<i32>, String) {
    let config = dir.join("groupsms.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nsocket = \"{d}/groupsms.sock\"\ndatabase = \"{d}/groupsms.db\"\n{rest}",
            d = dir.display()
        ),
    )
    .unwrap();
    let stderr = dir.join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_groupsms"))
        .args(["--config", config.to_str().unwrap(), "daemon"])
        .env("GROUPSMS_LOG", "info")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    // A configuration that is refused stops the daemon before it opens anything; one that is
    // taken keeps it running (killed here after 10 s: the case fails).
    let status = wait_exit(&mut child, Duration::from_secs(10));
    let err = std::fs::read_to_string(&stderr).unwrap();
    (status.and_then(|s| s.code()), err)
}

#[test]
fn out_of_bounds_numbers_stop_the_daemon_with_the_key_and_the_line() {
    let modem = "[[modem]]\ndevice = \"/nonexistent/modem*\"\n";
    let cases: Vec<(String, &str)> = vec![
        // [daemon]: the key is on line 4, after the socket and the database.
        (
            "max_connections_per_uid = 0\n".into(),
            "line 4: [daemon] max_connections_per_uid must be 1 to 65536, not 0",
        ),
        (
            "max_connections = 0\n".into(),
            "line 4: [daemon] max_connections must be 1 to 1048576, not 0",
        ),
        (
            "idle_timeout_secs = 0\n".into(),
            "line 4: [daemon] idle_timeout_secs must be 1 to 86400 seconds, not 0",
        ),
        (
            "idle_timeout_secs = 9223372036854775807\n".into(),
            "line 4: [daemon] idle_timeout_secs must be 1 to 86400 seconds, not 9223372036854775807",
        ),
        (
            "request_timeout_secs = 0\n".into(),
            "line 4: [daemon] request_timeout_secs must be 1 to 3600 seconds, not 0",
        ),
        (
            "lock_wait_secs = 0\n".into(),
            "line 4: [daemon] lock_wait_secs must be 1 to 300 seconds, not 0",
        ),
        (
            "lock_wait_secs = 301\n".into(),
            "line 4: [daemon] lock_wait_secs must be 1 to 300 seconds, not 301",
        ),
        (
            "admin_uids = [1000, 4294967295]\n".into(),
            "line 4: [daemon] admin_uids: 4294967295 is not a user id (it stands for \"no user\")",
        ),
        // [quota]: one rule with the groups' overrides.
        (
            "[quota]\ndaily = 0\n".into(),
            "line 5: [quota] the daily quota must be 1 to 1000000 broadcasts, not 0",
        ),
        (
            "[quota]\ndaily = 50\nmonthly = 10\n".into(),
            "line 5: [quota] the daily quota (50) is more than the monthly quota (10); a day may \
             not allow more broadcasts than its month",
        ),
        (
            "[quota]\ndaily = 3\nmonthly = 2000000\n".into(),
            "line 6: [quota] the monthly quota must be 1 to 1000000 broadcasts, not 2000000",
        ),
        // [message]
        (
            "[message]\nmax_parts = 0\n".into(),
            "line 5: [message] max_parts must be 1 to 255, not 0",
        ),
        (
            "[message]\nmax_parts = 256\n".into(),
            "line 5: [message] max_parts must be 1 to 255, not 256",
        ),
        // [scheduler]: the two of the report, and the rest.
        (
            "[scheduler]\nretry_backoff_secs = 10000000000000000\n".into(),
            "line 5: [scheduler] retry_backoff_secs must be 0 to 300 seconds, not \
             10000000000000000",
        ),
        (
            "[scheduler]\nretry_backoff_secs = 1e16\n".into(),
            "line 5: invalid type: floating point `10000000000000000.0`, expected u64",
        ),
        (
            "[scheduler]\nquiet_hours = \"22:00-31:00\"\n".into(),
            "line 5: [scheduler] quiet_hours \"22:00-31:00\" has \"31:00\", not a time HH:MM \
             from 00:00 to 23:59",
        ),
        (
            "[scheduler]\nmax_attempts = 3\nquiet_hours = \"07:30-07:30\"\n".into(),
            "line 6: [scheduler] quiet_hours \"07:30-07:30\" starts and ends at the same time",
        ),
        (
            "[routing]\ncarriers = { cmcc = [\"86139\"] }\n".into(),
            "line 5: [routing] carriers: carrier cmcc: prefix \"86139\" is not + and 1 to 14 \
             digits (E.164)",
        ),
        (
            "[scheduler]\nquarantine_hours = 0\n".into(),
            "line 5: [scheduler] quarantine_hours must be 1 to 720 hours, not 0",
        ),
        (
            "[scheduler]\nblock_notice_phrases = [\"停机\", \" \"]\n".into(),
            "line 5: [scheduler] block_notice_phrases: an empty phrase would match every notice",
        ),
        (
            "[scheduler]\nretry_elsewhere = 65\n".into(),
            "line 5: [scheduler] retry_elsewhere must be 0 to 64 SIMs, not 65",
        ),
        (
            "[scheduler]\nreprobe_secs = 0\n".into(),
            "line 5: [scheduler] reprobe_secs must be 1 to 3600 seconds, not 0",
        ),
        (
            "[scheduler]\nmax_attempts = 0\n".into(),
            "line 5: [scheduler] max_attempts must be 1 to 100, not 0",
        ),
        (
            "[scheduler]\nmax_attempts = 4294967295\n".into(),
            "line 5: [scheduler] max_attempts must be 1 to 100, not 4294967295",
        ),
        (
            "[scheduler]\nsend_timeout_secs = 0\n".into(),
            "line 5: [scheduler] send_timeout_secs must be 1 to 600 seconds, not 0",
        ),
        (
            "[scheduler]\nsend_timeout_secs = 9223372036854775807\n".into(),
            "line 5: [scheduler] send_timeout_secs must be 1 to 600 seconds, not \
             9223372036854775807",
        ),
        (
            "[scheduler]\nreprobe_secs = -1\n".into(),
            "line 5: invalid value: integer `-1`, expected u64",
        ),
        // [[modem]]: the second table's own line.
        (
            format!("{modem}baud = 0\n"),
            "line 6: modem /nonexistent/modem*: baud must be 300 to 4000000, not 0",
        ),
        (
            format!("{modem}max_per_hour = 0\n"),
            "line 6: modem /nonexistent/modem*: max_per_hour must be 1 to 1000000 parts, not 0",
        ),
        (
            format!("{modem}max_per_day = 4294967295\n"),
            "line 6: modem /nonexistent/modem*: max_per_day must be 1 to 10000000 parts, not \
             4294967295",
        ),
        (
            format!("{modem}command_gap_ms = 9223372036854775807\n"),
            "line 6: modem /nonexistent/modem*: command_gap_ms must be 0 to 1000 ms, not \
             9223372036854775807",
        ),
        (
            format!("{modem}{modem}prompt_timeout_secs = 0\n"),
            "line 8: modem /nonexistent/modem*: prompt_timeout_secs must be 1 to 120 seconds, \
             not 0",
        ),
        (
            format!("{modem}pace_ms = [0, 600001]\n"),
            "line 6: modem /nonexistent/modem*: pace_ms must be 0 to 600000 ms, not 600001",
        ),
        (
            format!("{modem}pace_ms = [5000, 2000]\n"),
            "line 6: [[modem]] pace_ms = [5000, 2000]: the shortest pause comes first",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (rest, want) in &cases {
        let (code, err) = daemon_on(dir.path(), rest);
        let want = format!(
            "groupsms: {}: {want}\n",
            dir.path().join("groupsms.toml").display()
        );
        assert_eq!((code, err.as_str()), (Some(65), want.as_str()), "{rest}");
        assert!(
            !dir.path().join("groupsms.db").exists(),
            "{rest}: the database was created"
        );
    }
    // At the bounds, the same keys are taken.
    let edge = "max_connections_per_uid = 65536\nidle_timeout_secs = 86400\n\
                request_timeout_secs = 3600\nlock_wait_secs = 300\n\
                [quota]\ndaily = 1000000\nmonthly = 1000000\n\
                [message]\nmax_parts = 255\n\
                [scheduler]\nmax_attempts = 100\nretry_backoff_secs = 300\nretry_elsewhere = 64\n\
                send_timeout_secs = 600\nreprobe_secs = 3600\nquiet_hours = \"23:59-00:00\"\n\
                [[modem]]\ndevice = \"/nonexistent/modem*\"\nbaud = 4000000\n\
                max_per_hour = 1000000\nmax_per_day = 10000000\ncommand_gap_ms = 1000\n\
                prompt_timeout_secs = 120\n";
    let config = dir.path().join("edge.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nsocket = \"{d}/groupsms.sock\"\ndatabase = \"{d}/groupsms.db\"\n{edge}",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let loaded = groupsms::config::Config::load(&config);
    assert!(loaded.is_ok(), "{loaded:?}");
}
