//! Through the real binary and the emulator on PTYs: the `[message] footer` reaches the phones
//! after every broadcast's body and counts in its parts (`send`, the part limit, `pdu count`);
//! a confirmation notice left queued by an opt-out goes out through its SIM only; an opt-out
//! arriving while its broadcast is being sent cancels what is still queued for her.

mod common;

use common::daemon::{ops_group, World};
use groupsms::service::optout::{on_incoming, Incoming};
use groupsms::service::Settings;

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
    assert_eq!(refused.status.code(), Some(65));
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

/// A reply handled while the daemon is stopped (as the inbox would, in its transaction)
/// leaves a confirmation notice queued; the daemon sends it at start through the SIM the
/// reply came in on and no other, and the group's next broadcast leaves the member out.
#[test]
fn a_confirmation_notice_goes_back_through_the_sim_the_reply_came_in_on() {
    let mut w = World::start(3, |c| c, "");
    let numbers = ops_group(&w, 2);
    let modems = w.wait_modems("three modems ready", |m| {
        m.len() == 3
            && m.iter()
                .all(|m| m["state"] == "ready" && m["imsi"].is_string())
    });
    let sim = modems[2]["imsi"].as_str().unwrap().to_string();
    let device = modems[2]["device"].as_str().unwrap().to_string();
    let first = w.send("ops", "alice", "第一条");
    w.follow(first, |_| false);
    w.stop_daemon();

    // m1 and m2 reply; both confirmations must take the one SIM (the pool would otherwise
    // spread them over the three idle modems).
    let (m1, m2) = (numbers[1].clone(), numbers[2].clone());
    let notices: Vec<i64> = {
        let mut store = w.open_store();
        [(&m1, "ＴＤ！"), (&m2, "stop")]
            .into_iter()
            .map(|(number, text)| {
                let handling = store
                    .write(|tx| {
                        on_incoming(
                            tx,
                            &Settings::default(),
                            &Incoming {
                                number,
                                linked_group: None,
                                text,
                                sim: &sim,
                                at: chrono::Utc::now(),
                            },
                        )
                    })
                    .unwrap();
                assert_eq!(handling.kind(), "opt_out", "{handling:?}");
                handling.notice().expect("a confirmation").0
            })
            .collect()
    };

    w.start_daemon();
    for &notice in &notices {
        let shown = w.wait_show(notice, "the notice is sent", |s| s["finished"] == true);
        assert_eq!(shown["sender"], "system");
        assert_eq!(shown["sent"], 1, "{shown:#}");
    }
    let want = "您已退订【运维组】的短信，回复\"订阅\"可恢复";
    let records: Vec<_> = w
        .sent_parts()
        .into_iter()
        .filter(|r| r.text == want)
        .collect();
    assert_eq!(records.len(), 2, "{records:#?}");
    for r in &records {
        assert_eq!(
            r.device, device,
            "through the SIM the reply came in on: {r:?}"
        );
    }
    let phones = w.phones();
    assert_eq!(phones.phone(&m1).texts().last(), Some(&want));
    assert_eq!(phones.phone(&m2).texts().last(), Some(&want));
    // The group's next broadcast leaves m1 out.
    let second = w.send("ops", "alice", "第二条");
    let done = w.follow(second, |_| false);
    assert_eq!(done["total"], 1, "{done}");
    assert_eq!(w.show(second)["dropped"]["opted_out"], 2);
    assert!(!w.phones().phone(&m1).texts().contains(&"【运维组】第二条"));
}

/// An opt-out by SMS racing the broadcast it answers: one SIM at 1 s a message, six members;
/// as soon as the first message is out, the member last in the queue replies `TD 运维组`.
/// Her queued delivery is cancelled (never sent), the rest go out, the confirmation reaches
/// her, and `broadcast show` counts her as cancelled.
#[test]
fn an_opt_out_arriving_while_its_broadcast_is_being_sent_cancels_her_queued_delivery() {
    let w = World::start(
        1,
        |c| c.all(|m| m.knobs.send_latency = std::time::Duration::from_millis(1000)),
        "",
    );
    ops_group(&w, 6);
    let id = w.send("ops", "alice", "今晚八点全员会议");
    // The first message is out: the others wait their turn on the one SIM.
    w.follow(id, |t| t["sent"].as_u64() >= Some(1));
    let shown = w.show(id);
    let last = shown["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|d| d["state"] == "queued")
        .unwrap_or_else(|| panic!("nothing queued: {shown:#}"))
        .clone();
    let number = last["number"].as_str().unwrap().to_string();
    assert!(
        number.starts_with("+86139"),
        "a member's number in full: {last:#}"
    );
    w.block_on(async {
        w.emulator()
            .deliver_sms(0, &number, "TD 运维组")
            .await
            .unwrap()
    });
    let totals = w.follow(id, |_| false);
    assert_eq!(
        (totals["sent"].as_u64(), totals["cancelled"].as_u64()),
        (Some(6), Some(1)),
        "{totals:#}"
    );
    let shown = w.show(id);
    let hers = shown["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["number"] == number.as_str())
        .unwrap();
    assert_eq!(hers["state"], "cancelled", "{hers:#}");
    assert_eq!(shown["cancelled"], 1, "{shown:#}");
    // Her phone gets the confirmation, never the broadcast.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let phones = w.phones();
        let texts: Vec<String> = phones
            .phone(&number)
            .texts()
            .iter()
            .map(|t| t.to_string())
            .collect();
        assert!(
            !texts.iter().any(|t| t.contains("今晚八点全员会议")),
            "{texts:?}"
        );
        if texts.iter().any(|t| t.contains("您已退订【运维组】")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no confirmation: {texts:?}\n{}",
            w.daemon_log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
