//! End to end, as a user runs it: the real `groupsms` binary as daemon and CLI, a real SQLite
//! file, the real Unix socket, and emulated modems on real PTYs (in this test process, so the
//! test can pull a stick out). What the phones received is read from the emulator's log.

mod common;

use std::time::Duration;

use common::daemon::{ops_group, World};
use serde_json::Value;

#[test]
fn a_broadcast_reaches_exactly_the_right_phones_and_the_rules_hold() {
    let mut w = World::start(4, |c| c, "");
    // The session from the README, spelled as users type it.
    w.ok(&["group", "create", "ops", "--name", "运维组"]);
    w.ok(&[
        "member",
        "add",
        "alice",
        "--name",
        "Alice",
        "--phone",
        "+8613800138000",
    ]);
    w.ok(&["member", "join", "alice", "ops", "--role", "super_admin"]);
    for (h, phone) in [
        ("m1", "13900000001"),
        ("m2", "13900000002"),
        ("m3", "13900000003"),
        ("m4", "13900000004"),
        ("m5", "139 0000 0005"),
    ] {
        w.ok(&[
            "member",
            "add",
            h,
            "--name",
            &format!("成员{}", &h[1..]),
            "--phone",
            phone,
        ]);
        w.ok(&["member", "join", h, "ops"]);
    }
    // m6's number is m4's, written differently: one SMS only.
    w.ok(&[
        "member",
        "add",
        "m6",
        "--name",
        "成员6",
        "--phone",
        "+86 139-0000-0004",
    ]);
    w.ok(&["member", "join", "m6", "ops"]);
    w.ok(&["member", "opt-out", "m1", "ops"]);
    w.ok(&["member", "set", "m2", "--valid", "false"]);
    w.ok(&["member", "set", "m3", "--sms-enabled", "false"]);

    let out = w.ok(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--wait",
        "明天上午九点开会",
    ]);
    assert!(out.contains("3 recipients"), "{out}");
    assert!(out.contains("3 sent, 0 failed"), "{out}");
    let phones = w.phones();
    let want = "【运维组】明天上午九点开会";
    for number in ["+8613800138000", "+8613900000004", "+8613900000005"] {
        assert_eq!(phones.phone(number).texts(), vec![want], "{number}");
    }
    for number in ["+8613900000001", "+8613900000002", "+8613900000003"] {
        assert!(
            phones.phone(number).messages.is_empty(),
            "{number} must get nothing"
        );
    }
    let show: Value = serde_json::from_str(&w.ok(&["--json", "broadcast", "show", "1"])).unwrap();
    assert_eq!(show["dropped"]["opted_out"], 1);
    assert_eq!(show["dropped"]["invalid"], 1);
    assert_eq!(show["dropped"]["sms_disabled"], 1);
    assert_eq!(show["dropped"]["duplicate"], 1);
    assert!(show["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["state"] == "sent" && d["refs"].as_array().unwrap().len() == 1));

    // A non-admin is refused, with a sentence and the refusal exit status.
    let refused = w.cli(&["send", "--group", "ops", "--as", "m4", "hello"]);
    assert_eq!(refused.status.code(), Some(77));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only its super-admins may"));
    // A sensitive word is refused and named.
    let refused = w.cli(&["send", "--group", "ops", "--as", "alice", "别去赌博"]);
    assert_eq!(refused.status.code(), Some(79));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("赌博"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // Quota: 3 a day. Two more pass, the fourth is refused and says when it resets.
    w.send("ops", "alice", "第二条");
    w.send("ops", "alice", "第三条");
    let refused = w.cli(&["send", "--group", "ops", "--as", "alice", "第四条"]);
    assert_eq!(refused.status.code(), Some(75));
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(msg.contains("daily") && msg.contains("resets"), "{msg}");
    // An unknown group is "not found", and a stopped daemon is "daemon down".
    assert_eq!(
        w.cli(&["send", "--group", "nope", "--as", "alice", "x"])
            .status
            .code(),
        Some(67)
    );
    w.stop_daemon();
    let down = w.cli(&["status"]);
    assert_eq!(down.status.code(), Some(69));
    assert!(String::from_utf8_lossy(&down.stderr).contains("daemon not running at"));
}

#[test]
fn an_unplugged_modem_loses_nothing() {
    // Modem 0 is pulled out after its 3rd part and comes back 1 s later.
    let w = World::start(
        3,
        |c| {
            c.all(|m| m.knobs.send_latency = Duration::from_millis(30))
                .modem(0, |m| {
                    m.knobs.unplug_after_sends = Some(3);
                    m.knobs.replug_after = Some(Duration::from_secs(1));
                })
        },
        "",
    );
    let numbers = ops_group(&w, 29);
    let id = w.send("ops", "alice", "停电通知：今晚十点到十二点");
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["sent"], 30, "{totals}");
    assert_eq!(totals["failed"], 0);
    let phones = w.phones();
    for n in &numbers {
        let phone = phones.phone(n);
        let got = phone.texts();
        assert!(!got.is_empty(), "{n} got nothing");
        assert!(got
            .iter()
            .all(|t| *t == "【运维组】停电通知：今晚十点到十二点"));
    }
    assert!(
        w.emulator().summary().modems[0].unplugs >= 1,
        "the knob must have fired"
    );
}

#[test]
fn a_modem_failing_half_the_time_costs_only_retries() {
    let w = World::start(
        4,
        |c| {
            c.all(|m| m.knobs.send_latency = Duration::from_millis(20))
                .modem(0, |m| {
                    m.knobs.error_rate = 0.5;
                    m.knobs.error_codes = vec![500];
                })
        },
        "",
    );
    let numbers = ops_group(&w, 39);
    let id = w.send("ops", "alice", "请各位检查邮箱");
    let totals = w.follow(id, |_| false);
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(40), Some(0)),
        "{totals}"
    );
    let phones = w.phones();
    for n in &numbers {
        assert_eq!(phones.phone(n).texts().len(), 1, "{n}: exactly one message");
    }
    let show: Value =
        serde_json::from_str(&w.ok(&["--json", "broadcast", "show", &id.to_string()])).unwrap();
    let retried = show["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["attempts"].as_u64() > Some(1))
        .count();
    let summary = w.emulator().summary();
    let errors: u32 = summary.modems[0].stats.failed.values().sum();
    assert!(errors > 0, "modem 0 must have failed some sends");
    // Each error costs one retry elsewhere, nothing more.
    assert_eq!(retried as u32, errors, "{summary}");
    // Every log line says what it is about: the connection (peer uid) that asked for the
    // broadcast; a part sent, its modem (with the IMSI) and its delivery and broadcast.
    let log = w.daemon_log();
    assert!(
        log.lines().any(|l| l.contains("connection{uid=")
            && l.contains("broadcast accepted")
            && l.contains(&format!("broadcast={id}"))),
        "no 'broadcast accepted' line in its connection's span:\n{log}"
    );
    let sent = log
        .lines()
        .find(|l| l.contains("part sent"))
        .unwrap_or_else(|| panic!("no 'part sent' line:\n{log}"));
    assert!(
        sent.contains("modem{device=")
            && sent.contains("imsi=")
            && sent.contains("}:delivery{id=")
            && sent.contains(&format!("broadcast={id}}}")),
        "a part sent names neither its modem nor its delivery: {sent}"
    );
}

#[test]
fn kill_9_mid_broadcast_then_restart_completes_with_nothing_lost() {
    let mut w = World::start(
        2,
        |c| c.all(|m| m.knobs.send_latency = Duration::from_millis(150)),
        "",
    );
    let numbers = ops_group(&w, 19);
    let id = w.send("ops", "alice", "系统升级，请保存工作");
    // Wait (on the progress stream) until a few are out, then kill -9.
    w.follow(id, |t| t["sent"].as_u64() >= Some(5));
    w.kill_daemon();
    w.start_daemon();
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["sent"], 20, "{totals}");
    let phones = w.phones();
    let mut duplicates = 0;
    for n in &numbers {
        let got = phones.phone(n).texts().len();
        assert!(got >= 1, "{n} lost");
        duplicates += got - 1;
    }
    // At most the parts in flight (one per modem) can have been sent twice.
    assert!(duplicates <= 2, "{duplicates} duplicates");
    let show: Value =
        serde_json::from_str(&w.ok(&["--json", "broadcast", "show", &id.to_string()])).unwrap();
    let flagged = show["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["possible_duplicate"] == true)
        .count();
    assert!(
        flagged >= duplicates,
        "every duplicate is reported as possible ({flagged} flagged)"
    );
}

/// `[[modem]] baud` reaches the port: two emulated modems whose UART runs at 9600 (bytes at
/// another speed are garbage to them), one configured at 9600 and one left at the default
/// 115200. Only the first answers, and it sends the whole broadcast.
#[test]
fn the_configured_baud_rate_reaches_the_port() {
    let mut w = World::prepare(2, |c| c.all(|m| m.knobs.baud = Some(9600)), "", "");
    let config = std::fs::read_to_string(w.config()).unwrap();
    let dev = w.emulator().dir().display().to_string();
    let config = config.replace(
        &format!("device = \"{dev}/modem*\""),
        &format!("device = \"{dev}/modem0\"\nbaud = 9600\n[[modem]]\ndevice = \"{dev}/modem1\""),
    );
    assert!(config.contains("baud = 9600"), "{config}");
    std::fs::write(w.config(), config).unwrap();
    w.start_daemon();
    let modems = w.wait_modems("modem0 ready, modem1 not", |ms| {
        ms.len() == 2 && ms[0]["state"] == "ready" && ms[1]["state"] == "hung"
    });
    assert_eq!(modems[0]["device"], format!("{dev}/modem0"));
    let numbers = ops_group(&w, 4);
    let id = w.send("ops", "alice", "波特率");
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["sent"], numbers.len() as u64, "{totals}");
    assert_eq!(w.emulator().summary().modems[1].stats.accepted, 0);
}

/// Hot-plug into a directory that does not exist when the daemon starts (`/dev/gsm` before
/// the first stick: udev creates it with the first link and removes it with the last): the
/// daemon watches the nearest existing ancestor, then the directory, and the modem joins.
#[test]
fn a_modem_directory_created_after_start_is_watched_and_its_modem_joins() {
    let mut w = World::prepare(1, |c| c, "", "");
    let late = w.config().parent().unwrap().join("late/gsm");
    let config = std::fs::read_to_string(w.config()).unwrap();
    let dev = w.emulator().dir().display().to_string();
    let config = config.replace(
        &format!("device = \"{dev}/modem*\""),
        &format!("device = \"{}/modem*\"", late.display()),
    );
    std::fs::write(w.config(), config).unwrap();
    w.start_daemon();
    assert!(w.modems().is_empty());
    std::fs::create_dir_all(&late).unwrap();
    let pts = std::fs::read_link(w.emulator().path(0)).unwrap();
    std::os::unix::fs::symlink(&pts, late.join("modem0")).unwrap();
    w.wait_modems("the late modem ready", |ms| {
        ms.len() == 1 && ms[0]["state"] == "ready"
    });
    let numbers = ops_group(&w, 2);
    let id = w.send("ops", "alice", "迟到的调制解调器");
    assert_eq!(w.follow(id, |_| false)["sent"], numbers.len() as u64);
}
