//! Concatenation references of long messages, end to end: the real binary as daemon and CLI,
//! an emulated modem on a PTY whose log shows every part each phone received, a real SQLite
//! file kept across a daemon restart.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::daemon::{ops_group, World};
use groupsms::emulator::log::LogRecord;

/// For each number, the concatenation reference of each long message it received, in order
/// (every part of one message must carry the same one).
fn references(parts: &[LogRecord]) -> BTreeMap<String, Vec<u16>> {
    let mut open: BTreeMap<String, (u16, u8)> = BTreeMap::new();
    let mut out: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    for p in parts {
        let c = p.concat.expect("every message of this test is long");
        if c.seq == 1 {
            out.entry(p.to.clone()).or_default().push(c.reference);
        } else {
            let (reference, seq) = open[&p.to];
            assert_eq!(
                (c.reference, c.seq),
                (reference, seq + 1),
                "{}: the parts of one message carry one reference, in order",
                p.to
            );
        }
        open.insert(p.to.clone(), (c.reference, c.seq));
    }
    out
}

/// A group of 128 on one SIM: the old reference (the delivery id modulo 256) came back to
/// every member on the third broadcast. Each phone must get a new reference per message, and
/// the counter must go on after a restart rather than start again.
#[test]
fn long_messages_to_a_phone_never_share_a_reference_even_across_a_restart() {
    let mut w = World::start(1, |c| c, "command_gap_ms = 1\nmax_per_hour = 1000\n");
    let numbers = ops_group(&w, 127);
    assert_eq!(numbers.len(), 128);
    let body = |n: usize| format!("第{n}条通知：{}", "长消息".repeat(26));
    let mut sent = Vec::new();
    for n in 1..=3 {
        if n == 3 {
            w.stop_daemon();
            w.start_daemon();
        }
        let text = body(n);
        let out = w.ok(&["send", "--group", "ops", "--as", "alice", "--wait", &text]);
        assert!(out.contains("128 sent"), "{out}");
        sent.push(format!("【运维组】{text}"));
    }
    let parts = w.sent_parts();
    assert_eq!(parts.len(), 128 * 3 * 2, "three two-part messages to each");
    let refs = references(&parts);
    assert_eq!(refs.len(), 128);
    for (number, got) in &refs {
        let distinct: BTreeSet<_> = got.iter().collect();
        assert_eq!(
            (got.len(), distinct.len()),
            (3, 3),
            "{number} got references {got:?}: one was used twice"
        );
    }
    let phones = w.phones();
    for number in &numbers {
        let phone = phones.phone(number);
        assert_eq!(phone.texts(), sent, "{number}");
        assert!(phone.incomplete.is_empty(), "{number}: {phone:?}");
    }
}

/// A try that fails after its first part went out (the SIM is blocked by its carrier after
/// three parts) is tried again through the other modem, which gives it its own SIM's next
/// reference for that phone: for each phone and each SIM, the references of the long
/// messages that SIM started to it run 0, 1, 2, ... with none skipped or borrowed.
#[test]
fn each_try_takes_the_next_reference_of_the_sim_it_goes_through() {
    let w = World::start(
        2,
        |c| {
            c.all(|m| m.knobs.send_latency = std::time::Duration::from_millis(20))
                .modem(0, |m| {
                    m.knobs.cap = Some(3);
                    m.knobs.cap_error = 38;
                })
        },
        "",
    );
    let numbers = ops_group(&w, 3);
    for n in 1..=3 {
        let text = format!("第{n}条：{}", "两个模块轮流发送".repeat(10));
        let out = w.ok(&["send", "--group", "ops", "--as", "alice", "--wait", &text]);
        assert!(out.contains("4 sent"), "{out}");
    }
    let parts = w.sent_parts();
    let refused: u32 = w.emulator().summary().modems[0].stats.failed.values().sum();
    assert!(refused >= 1, "the carrier block must have fired");
    let mut started: BTreeMap<(String, usize), Vec<u16>> = BTreeMap::new();
    for p in &parts {
        let c = p.concat.expect("long messages only");
        if c.seq == 1 {
            started
                .entry((p.to.clone(), p.modem))
                .or_default()
                .push(c.reference);
        }
    }
    // The block hit modem 0 between the two parts of a message (3 parts = one message and a
    // half): that message's first part went out, then the whole message again elsewhere.
    let half_sent = parts.iter().filter(|p| p.modem == 0).any(|p| {
        let c = p.concat.unwrap();
        c.seq == 1
            && !parts.iter().any(|q| {
                q.modem == 0
                    && q.to == p.to
                    && q.concat
                        .is_some_and(|d| (d.reference, d.seq) == (c.reference, 2))
            })
    });
    assert!(
        half_sent,
        "a message was cut after its first part: {parts:#?}"
    );
    for ((number, modem), refs) in &started {
        let want: Vec<u16> = (0..refs.len() as u16).collect();
        assert_eq!(refs, &want, "{number} through modem {modem}");
    }
    let phones = w.phones();
    for number in &numbers {
        assert_eq!(phones.phone(number).texts().len(), 3, "{number}");
    }
}
