//! The inbox end to end: the real binary as daemon and CLI, emulated modems on PTYs whose
//! "network" and "phones" send messages (stored, then `+CMTI`, read with `AT+CMGR`, listed
//! with `AT+CMGL=4`, deleted with `AT+CMGD` after the commit), a real SQLite file.

mod common;

use std::time::{Duration, Instant};

use common::daemon::{ops_group, World};
use groupsms::emulator::{AutoReply, IncomingRoute, PartOrder};
use serde_json::Value;

fn inbox(w: &World, args: &[&str]) -> Vec<Value> {
    let mut full = vec!["inbox", "list"];
    full.extend_from_slice(args);
    w.json(&full)["messages"].as_array().unwrap().clone()
}

fn wait_inbox(w: &World, what: &str, mut done: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let list = inbox(w, &[]);
        if done(&list) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {list:#?}\n--- daemon log ---\n{}",
            w.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_log(w: &World, what: &str, count: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = w.daemon_log();
        if log.matches(what).count() >= count {
            return log;
        }
        assert!(Instant::now() < deadline, "{what} x{count}:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn reply_to(pattern: &str, text: &str, ms: u64) -> AutoReply {
    AutoReply {
        pattern: pattern.into(),
        text: text.into(),
        delay: Duration::from_millis(ms),
    }
}

#[test]
fn a_members_reply_is_linked_to_the_broadcast_and_shown_by_broadcast_show() {
    let w = World::start(
        1,
        |mut c| {
            c.modems[0].knobs.replies = vec![reply_to("+86139*", "收到，谢谢\u{1b}[2J", 200)];
            c
        },
        "",
    );
    let numbers = ops_group(&w, 2);
    w.ok(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--wait",
        "明天开会",
    ]);
    let list = wait_inbox(&w, "two replies", |l| l.len() == 2);
    for m in &list {
        assert_eq!(m["handling"], "reply", "{m:#}");
        assert_eq!(m["broadcast"], 1);
        assert_eq!(m["group"], "ops");
        assert_eq!(m["from_member"], true);
        assert_eq!(m["carrier_notice"], false);
        assert_eq!(m["complete"], true);
        assert_eq!(m["read"], false);
        assert_eq!(m["text"], "收到，谢谢\u{1b}[2J");
        assert!(numbers[1..].contains(&m["number"].as_str().unwrap().to_string()));
        assert!(
            ["m1", "m2"].contains(&m["member"].as_str().unwrap()),
            "{m:#}"
        );
    }
    let shown = w.show(1);
    let replies = shown["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 2, "{shown:#}");
    for r in replies {
        for key in ["member", "number", "text", "received_at"] {
            assert!(!r[key].is_null(), "{key} in {r:#}");
        }
        assert_eq!(r["text"], "收到，谢谢\u{1b}[2J");
    }
    // Human output: the replies table, control characters escaped.
    let text = w.ok(&["broadcast", "show", "1"]);
    assert!(text.contains("replies (2):"), "{text}");
    assert!(!text.contains("more replies"), "all shown: {text}");
    assert!(text.contains("收到，谢谢\\e[2J"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    // Read flags.
    let first = list[0]["id"].as_i64().unwrap().to_string();
    let marked = w.json(&["inbox", "read", &first]);
    assert_eq!(marked["marked"], 1);
    assert_eq!(inbox(&w, &["--unread"]).len(), 1);
    let from = list[1]["number"].as_str().unwrap().replace("+86", "");
    let by_number = inbox(&w, &["--from", &from]);
    assert_eq!(by_number.len(), 1, "national form finds the E.164 number");
    assert_eq!(inbox(&w, &["--group", "ops"]).len(), 2);
    let one = w.json(&["inbox", "show", &first]);
    assert_eq!(one["read"], true);
    assert!(one["sim"].as_str().unwrap().starts_with("46000"), "{one:#}");
    let missing = w.cli(&["inbox", "show", "999"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no inbox message number 999"));
    // Deleted from the SIM after the commit.
    let log = wait_log(&w, "stored message deleted", 2);
    assert!(!log.contains("cannot delete"), "{log}");
}

#[test]
fn a_five_part_chinese_reply_arriving_in_reverse_order_is_joined() {
    let long: String = "各位好，明天上午九点在三楼会议室开会，请准时参加并带上笔记本电脑。😀"
        .repeat(10)
        .chars()
        .take(320)
        .collect();
    let reply = long.clone();
    let w = World::start(
        1,
        move |mut c| {
            c.modems[0].knobs.inbound_order = PartOrder::Reverse;
            c.modems[0].knobs.replies = vec![reply_to("+8613900000001", &reply, 100)];
            c
        },
        "",
    );
    ops_group(&w, 1);
    w.ok(&["send", "--group", "ops", "--as", "alice", "--wait", "x"]);
    let list = wait_inbox(&w, "the joined reply", |l| l.len() == 1);
    let m = &list[0];
    assert_eq!(m["parts"], 5, "{m:#}");
    assert_eq!(m["parts_total"], 5);
    assert_eq!(m["complete"], true);
    assert_eq!(m["encoding"], "ucs2");
    assert_eq!(m["text"].as_str().unwrap(), long);
    assert_eq!(m["member"], "m1");
    assert_eq!(m["broadcast"], 1);
    assert_eq!(w.show(1)["replies"][0]["text"].as_str().unwrap(), long);
}

#[test]
fn parts_minutes_apart_across_a_restart_are_joined_and_an_incomplete_one_is_shown() {
    let mut w = World::start(1, |c| c, "[inbox]\nincomplete_after_secs = 2\n");
    let text = "第一部分。".repeat(40); // 200 UCS-2 characters: 3 parts
    w.block_on(async {
        let routes = w
            .emulator()
            .deliver_sms_parts(0, "+8613911112222", &text, 7, &[3])
            .await
            .unwrap();
        assert!(matches!(routes[0], IncomingRoute::Stored { .. }));
    });
    wait_log(&w, "incoming message recorded", 1);
    // Incomplete and young: not shown yet.
    assert!(inbox(&w, &[]).is_empty());
    w.kill_daemon();
    w.block_on(async {
        w.emulator()
            .deliver_sms_parts(0, "+8613911112222", &text, 7, &[1])
            .await
            .unwrap();
    });
    w.start_daemon();
    // After the wait, shown as incomplete with the parts it has.
    let list = wait_inbox(&w, "the incomplete message", |l| l.len() == 1);
    let m = &list[0];
    assert_eq!(
        (m["complete"].clone(), m["parts"].clone()),
        (Value::from(false), Value::from(2)),
        "{m:#}"
    );
    assert_eq!(m["parts_total"], 3);
    assert_eq!(m["from_member"], false);
    assert_eq!(m["handling"], "other");
    let shown = m["text"].as_str().unwrap();
    assert!(shown.contains("[…]"), "{shown}");
    assert!(shown.starts_with("第一部分。"), "{shown}");
    let human = w.ok(&["inbox", "list"]);
    assert!(human.contains("false"), "{human}");
    // The last part comes: the same message, complete.
    w.block_on(async {
        w.emulator()
            .deliver_sms_parts(0, "+8613911112222", &text, 7, &[2])
            .await
            .unwrap();
    });
    let list = wait_inbox(&w, "the completed message", |l| {
        l.len() == 1 && l[0]["complete"] == true
    });
    assert_eq!(list[0]["text"].as_str().unwrap(), text);
    assert_eq!(list[0]["id"], m["id"]);
}

#[test]
fn a_carrier_notice_from_10086_is_kept_as_such() {
    let w = World::start(1, |c| c, "");
    ops_group(&w, 1);
    w.block_on(async {
        w.emulator()
            .deliver_sms(0, "10086", "尊敬的客户，您的话费余额为5.00元。")
            .await
            .unwrap();
    });
    let list = wait_inbox(&w, "the notice", |l| l.len() == 1);
    let m = &list[0];
    assert_eq!(m["number"], "10086");
    assert_eq!(m["carrier_notice"], true);
    assert_eq!(m["from_member"], false);
    assert_eq!(m["handling"], "other");
    assert!(m["member"].is_null() && m["broadcast"].is_null(), "{m:#}");
    assert_eq!(m["text"], "尊敬的客户，您的话费余额为5.00元。");
    // Not a reply: the broadcast shows none.
    w.ok(&["send", "--group", "ops", "--as", "alice", "--wait", "x"]);
    assert_eq!(w.show(1)["replies"].as_array().unwrap().len(), 0);
}

#[test]
fn a_full_sim_is_drained_and_what_the_network_held_comes_after() {
    let mut w = World::prepare(
        1,
        |mut c| {
            c.modems[0].knobs.sim_slots = Some(3);
            c
        },
        "",
        "",
    );
    // While the daemon is down, five messages come for a SIM of three slots.
    w.block_on(async {
        let mut routes = Vec::new();
        for i in 1..=5 {
            routes.extend(
                w.emulator()
                    .deliver_sms(0, "+8613922223333", &format!("message {i}"))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(
            routes.iter().filter(|r| **r == IncomingRoute::Held).count(),
            2,
            "{routes:?}"
        );
    });
    w.start_daemon();
    let list = wait_inbox(&w, "all five", |l| l.len() == 5);
    let mut texts: Vec<&str> = list.iter().map(|m| m["text"].as_str().unwrap()).collect();
    texts.sort();
    assert_eq!(
        texts,
        [
            "message 1",
            "message 2",
            "message 3",
            "message 4",
            "message 5"
        ]
    );
    let log = wait_log(&w, "stored message deleted", 5);
    assert!(log.contains("the full message memory was drained"), "{log}");
}

#[test]
fn killed_between_the_commit_and_the_deletion_no_duplicate() {
    // A slow modem sending many messages: the deletion waits behind the sends; the daemon is
    // killed (SIGKILL) once the message is committed, before the modem got the AT+CMGD.
    let mut w = World::start(
        1,
        |mut c| {
            c.modems[0].knobs.send_latency = Duration::from_millis(1500);
            c
        },
        "max_per_hour = 1000\n",
    );
    ops_group(&w, 30);
    w.send("ops", "alice", "x");
    w.block_on(async {
        w.emulator()
            .deliver_sms(0, "+8613933334444", "只来一次")
            .await
            .unwrap();
    });
    wait_inbox(&w, "the message committed", |l| l.len() == 1);
    w.kill_daemon();
    let before = w.daemon_log();
    assert_eq!(
        before.matches("stored message deleted").count(),
        0,
        "the deletion ran before the kill; the window was missed:\n{before}"
    );
    w.start_daemon();
    // Listed again at start: recognised, not stored twice, then deleted.
    let log = wait_log(&w, "stored message deleted", 1);
    assert!(log.contains("incoming message already recorded"), "{log}");
    let list = inbox(&w, &[]);
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["text"], "只来一次");
}

#[test]
fn a_bot_subscribed_to_the_inbox_gets_each_message_once_committed() {
    use std::io::{BufRead, BufReader, Write};
    let w = World::start(1, |c| c, "");
    let stream = std::os::unix::net::UnixStream::connect(w.socket()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut c = BufReader::new(stream);
    let mut ask = |line: &str| {
        writer.write_all(format!("{line}\n").as_bytes()).unwrap();
    };
    ask(r#"{"id":1,"op":"hello","args":{"version":1}}"#);
    ask(r#"{"id":2,"op":"subscribe","args":{"inbox":true}}"#);
    let mut read = || {
        let mut line = String::new();
        c.read_line(&mut line).unwrap();
        serde_json::from_str::<Value>(&line).unwrap()
    };
    assert_eq!(read()["ok"], true);
    // Give the daemon a moment to register the subscription before the message comes.
    std::thread::sleep(Duration::from_millis(300));
    w.block_on(async {
        w.emulator()
            .deliver_sms(0, "10010", "联通提醒：本月账单已出")
            .await
            .unwrap();
    });
    let ev = read();
    assert_eq!(ev["id"], 2, "{ev}");
    let m = &ev["inbox"];
    assert_eq!(m["number"], "10010", "{ev}");
    assert_eq!(m["text"], "联通提醒：本月账单已出");
    assert_eq!(m["carrier_notice"], true);
    // A subscription holds its connection (as a broadcast's does); on another one, asking
    // for both at once is refused.
    let other = std::os::unix::net::UnixStream::connect(w.socket()).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = other.try_clone().unwrap();
    let mut c = BufReader::new(other);
    writer
        .write_all(b"{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}\n{\"id\":3,\"op\":\"subscribe\",\"args\":{\"inbox\":true,\"broadcast\":1}}\n")
        .unwrap();
    let mut line = String::new();
    c.read_line(&mut line).unwrap();
    line.clear();
    c.read_line(&mut line).unwrap();
    let r: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(r["error"]["code"], "bad_request", "{r}");
}

#[test]
fn replies_are_scoped_like_the_broadcast_numbers_masked_for_plain_members() {
    let w = World::start(
        1,
        |mut c| {
            c.modems[0].knobs.replies = vec![reply_to("+8613900000001", "我会到", 100)];
            c
        },
        "",
    );
    let numbers = ops_group(&w, 2);
    w.ok(&["member", "set", "alice", "--uid", "1001"]);
    w.ok(&["member", "set", "m2", "--uid", "1002"]);
    common::daemon::open_to_others(&w);
    w.ok(&["send", "--group", "ops", "--as", "alice", "--wait", "x"]);
    wait_inbox(&w, "the reply", |l| l.len() == 1);
    let json = |uid: u32, args: &[&str]| -> (bool, Value) {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = w.cli_as(uid, uid, &full);
        let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.success(), v)
    };
    // The super-admin of ops: the reply, number in full.
    let (ok, v) = json(1001, &["inbox", "list"]);
    assert!(ok, "{v}");
    assert_eq!(v["messages"][0]["number"], numbers[1].as_str());
    assert!(
        v["messages"][0].get("sim").is_none(),
        "IMSIs are for administrators"
    );
    // A plain member: no inbox, but the broadcast's replies with the number masked.
    let (ok, v) = json(1002, &["inbox", "list"]);
    assert!(ok);
    assert_eq!(v["messages"].as_array().unwrap().len(), 0);
    let id = inbox(&w, &[])[0]["id"].as_i64().unwrap().to_string();
    let (ok, _) = json(1002, &["inbox", "show", &id]);
    assert!(!ok, "a plain member may not read the message");
    let (ok, v) = json(1002, &["broadcast", "show", "1"]);
    assert!(ok, "{v}");
    assert_eq!(v["replies"][0]["number"], "+*********0001");
    assert_eq!(v["replies"][0]["text"], "我会到");
    // Someone else: nothing.
    let (ok, _) = json(1003, &["inbox", "list"]);
    assert!(!ok);
}

#[test]
fn a_modem_that_only_routes_messages_hands_them_over_as_cmt() {
    let w = World::start(
        1,
        |mut c| {
            c.modems[0].knobs.routed_messages_only = true;
            c
        },
        "",
    );
    w.wait_modems("modem ready", |m| m[0]["state"] == "ready");
    let long = "路由消息，不存储在SIM卡上。".repeat(12);
    w.block_on(async {
        let routes = w
            .emulator()
            .deliver_sms(0, "+8613944445555", &long)
            .await
            .unwrap();
        assert!(
            routes.iter().all(|r| *r == IncomingRoute::Direct),
            "{routes:?}"
        );
    });
    let list = wait_inbox(&w, "the routed message", |l| l.len() == 1);
    assert_eq!(list[0]["text"].as_str().unwrap(), long);
    assert_eq!(list[0]["complete"], true);
    let log = w.daemon_log();
    assert!(
        !log.contains("stored message deleted"),
        "nothing was stored: {log}"
    );
}

/// A stranger's 18-part message and a flood of short ones: the list comes in pages (the CLI
/// follows them), texts are cut in lists and whole in `inbox show`, `--limit` keeps the
/// newest.
#[test]
fn long_and_many_incoming_messages_are_listed_in_bounded_pages() {
    let w = World::start(1, |c| c, "");
    ops_group(&w, 1);
    let long: String = "这是一条很长的陌生短信。"
        .repeat(100)
        .chars()
        .take(1200)
        .collect();
    w.block_on(async {
        w.emulator()
            .deliver_sms(0, "+8613811112222", &long)
            .await
            .unwrap();
    });
    let first = wait_inbox(&w, "the long message", |l| l.len() == 1);
    let id = first[0]["id"].as_i64().unwrap();
    for i in 0..20 {
        w.block_on(async {
            w.emulator()
                .deliver_sms(0, "+8613900000001", &format!("收到 {i}"))
                .await
                .unwrap();
        });
    }
    let all = wait_inbox(&w, "21 messages", |l| l.len() == 21);
    // Newest first, each once.
    let ids: Vec<i64> = all.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(ids, sorted, "newest first, no message twice");
    let listed = all.iter().find(|m| m["id"] == id).unwrap();
    let text = listed["text"].as_str().unwrap();
    assert_eq!(text.chars().count(), 501, "cut to 500 and an ellipsis");
    assert!(text.ends_with('…') && long.starts_with(text.trim_end_matches('…')));
    assert_eq!(listed["truncated"], true);
    let shown = w.json(&["inbox", "show", &id.to_string()]);
    assert_eq!(shown["text"].as_str().unwrap(), long);
    assert!(shown.get("truncated").is_none(), "{shown:#}");
    let newest = inbox(&w, &["--limit", "3"]);
    assert_eq!(
        newest
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        ids[..3]
    );
}

/// Waits until the phone `number` got `n` messages containing `what`.
fn wait_texts(w: &World, number: &str, what: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = w
            .phones()
            .phone(number)
            .texts()
            .iter()
            .filter(|t| t.contains(what))
            .count();
        if got >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{number}: {got} of {n} messages with {what:?}\n{}",
            w.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opt-out and opt-in by reply, end to end on a PTY: a member answers `ＴＤ。` to a broadcast,
/// is opted out of the group at once (the next broadcast leaves her out), gets one
/// confirmation through the modem she wrote to (not a second one the same day), a sentence
/// that only contains the keyword changes nothing, and `订阅` brings her back.
#[test]
fn a_member_replying_td_is_opted_out_confirmed_once_and_back_with_a_subscribe() {
    let w = World::start(1, |c| c, "");
    ops_group(&w, 2);
    let m1 = "+8613900000001";
    w.ok(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--wait",
        "今晚停机维护",
    ]);
    let arrive = |text: &str| {
        w.block_on(async {
            w.emulator().deliver_sms(0, m1, text).await.unwrap();
        })
    };
    arrive("ＴＤ。");
    let list = wait_inbox(&w, "the opt-out", |l| l.len() == 1);
    assert_eq!(list[0]["handling"], "opt_out", "{:#}", list[0]);
    assert_eq!(list[0]["broadcast"], 1);
    wait_texts(&w, m1, "您已退订【运维组】的短信", 1);

    // The next broadcast leaves her out.
    let accepted = w.json(&["send", "--group", "ops", "--as", "alice", "第二条通知"]);
    assert_eq!(accepted["dropped"]["opted_out"], 1, "{accepted:#}");
    assert_eq!(accepted["recipients"], 2, "{accepted:#}");

    // A second TD the same day: recorded, no second confirmation.
    arrive("td");
    let list = wait_inbox(&w, "the second opt-out", |l| l.len() == 2);
    assert_eq!(list[0]["handling"], "opt_out", "{:#}", list[0]);
    // A sentence that merely holds the keyword is an ordinary message.
    arrive("我不想退订");
    let list = wait_inbox(&w, "the sentence", |l| l.len() == 3);
    assert_ne!(list[0]["handling"], "opt_out", "{:#}", list[0]);
    assert_ne!(list[0]["handling"], "opt_in", "{:#}", list[0]);

    // Back in.
    arrive("订阅");
    let list = wait_inbox(&w, "the opt-in", |l| l.len() == 4);
    assert_eq!(list[0]["handling"], "opt_in", "{:#}", list[0]);
    let accepted = w.json(&["send", "--group", "ops", "--as", "alice", "第三条通知"]);
    assert_eq!(accepted["dropped"]["opted_out"], 0, "{accepted:#}");
    assert_eq!(accepted["recipients"], 3, "{accepted:#}");
    w.follow(accepted["broadcast"].as_i64().unwrap(), |_| false);
    // Exactly one opt-out confirmation all along.
    let confirmations = w
        .phones()
        .phone(m1)
        .texts()
        .iter()
        .filter(|t| t.contains("您已退订"))
        .count();
    assert_eq!(confirmations, 1);
}

/// More replies than `broadcast show` lists: it shows the latest 10 and says, with the exact
/// command, how to see every one; that command lists them all.
#[test]
fn broadcast_show_names_the_command_that_lists_every_reply_when_it_shows_only_some() {
    let w = World::start(
        1,
        |mut c| {
            c.modems[0].knobs.replies = vec![reply_to("+86139*", "收到", 50)];
            c
        },
        "",
    );
    ops_group(&w, 11);
    w.ok(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--wait",
        "今晚停机维护",
    ]);
    wait_inbox(&w, "eleven replies", |l| l.len() == 11);
    let shown = w.show(1);
    assert_eq!(shown["replies"].as_array().unwrap().len(), 10, "{shown:#}");
    assert_eq!(shown["more_replies"], true);
    let text = w.ok(&["broadcast", "show", "1"]);
    assert!(text.contains("replies (10):"), "{text}");
    let hint = "more replies than these 10 (the latest); every one: groupsms inbox list \
                --broadcast 1 --all";
    assert_eq!(text.lines().last(), Some(hint), "{text}");
    // The command it names, as it names it.
    let command: Vec<&str> = hint
        .rsplit_once("groupsms ")
        .unwrap()
        .1
        .split(' ')
        .collect();
    let every = w.json(&command)["messages"].as_array().unwrap().clone();
    assert_eq!(every.len(), 11);
    assert!(every
        .iter()
        .all(|m| m["broadcast"] == 1 && m["handling"] == "reply"));
    assert_eq!(inbox(&w, &["--broadcast", "1", "--limit", "4"]).len(), 4);
    // --json carries the flag, not the sentence.
    let json = w.ok(&["--json", "broadcast", "show", "1"]);
    assert!(!json.contains("every one"), "{json}");
    let both = w.cli(&["inbox", "list", "--all", "--limit", "3"]);
    assert_eq!(both.status.code(), Some(2), "{both:?}");
}
