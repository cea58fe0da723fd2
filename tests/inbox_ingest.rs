//! The inbox against a real SQLite file: real third-party DELIVER PDUs (the corpus), parts in
//! any order, duplicates, replies linked by SIM and number within the window, shared numbers,
//! carrier notices, unreadable PDUs kept; and properties over any bytes and any text. (Through
//! the real binary on PTYs: `daemon_inbox.rs`.)

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use groupsms::emulator::inbound;
use groupsms::service::inbox::{ingest, InboxSettings, IncomingPdu, Ingested};
use groupsms::service::{submit_broadcast, Caller, SendRequest, Settings};
use groupsms::sms::{hex, Address, Timestamp};
use groupsms::store::{Handling, InboxFilter, InboxMessage, NewMember, Store};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;

const SIM: &str = "460001234567890";

fn now() -> DateTime<Utc> {
    utc(T0)
}

fn put(
    store: &mut Store,
    sim: &str,
    pdu: &str,
    length: Option<usize>,
    at: DateTime<Utc>,
) -> Ingested {
    let settings = InboxSettings::default();
    store
        .write(|tx| {
            ingest(
                tx,
                &settings,
                IncomingPdu {
                    sim,
                    device: "/dev/gsm/a",
                    pdu,
                    length,
                },
                at,
            )
        })
        .unwrap()
}

fn all(store: &mut Store) -> Vec<InboxMessage> {
    let filter = InboxFilter {
        limit: 10_000,
        ..InboxFilter::default()
    };
    let mut v = store
        .read(|tx| tx.inbox_list(&filter, now() + Duration::days(3650)))
        .unwrap();
    v.reverse();
    v
}

fn ts() -> Timestamp {
    Timestamp {
        year: 2024,
        month: 5,
        day: 10,
        hour: 10,
        minute: 0,
        second: 0,
        tz_quarters: 32,
    }
}

/// The DELIVER parts of `text` from `from` (hex, TPDU length), as the network sends them.
fn deliver(from: &str, text: &str, reference: u8) -> Vec<(String, usize)> {
    let smsc = Address::parse("+8613800100500").unwrap();
    inbound::deliver(&smsc, &Address::parse(from).unwrap(), text, reference, ts())
        .unwrap()
        .into_iter()
        .map(|p| (hex::encode(&p.bytes), p.tpdu_len))
        .collect()
}

#[test]
fn corpus_deliver_pdus_are_kept_with_their_text_and_groups_join() {
    let Some(dir) = corpus_dir() else { return };
    let (_d, mut store) = temp_store();
    let records = jsonl(dir.join("pdus.jsonl"));
    let mut groups: std::collections::BTreeMap<String, (String, usize)> = Default::default();
    let mut delivers = 0;
    for r in records.iter().filter(|r| r["direction"] == "deliver") {
        delivers += 1;
        let pdu = r["pdu"].as_str().unwrap();
        let length = if r["has_smsc"] == false {
            Some(pdu.len() / 2)
        } else {
            None
        };
        // One SIM per record (per group for multi-part ones): several sources carry the same
        // message (same sender, time and text; mm-pdu3 with another PID), which on one SIM
        // would rightly be one.
        let sim = r["group"].as_str().or(r["id"].as_str()).unwrap();
        let got = put(&mut store, sim, pdu, length, now());
        assert!(
            matches!(got, Ingested::Stored { .. }),
            "{}: {got:?}",
            r["id"]
        );
        if let Some(g) = r["group"].as_str() {
            let full = r["expect"]["message_text_full"]
                .as_str()
                .unwrap_or("")
                .to_string();
            groups.entry(g.to_string()).or_insert((full, 0)).1 += 1;
        }
        // Again: nothing new.
        assert!(
            matches!(
                put(&mut store, sim, pdu, length, now()),
                Ingested::Duplicate { .. }
            ),
            "{}",
            r["id"]
        );
    }
    assert!(delivers > 80, "{delivers}");
    let msgs = all(&mut store);
    let parts: u32 = msgs.iter().map(|m| m.parts).sum();
    assert_eq!(parts as usize, delivers, "every part is kept once");
    // Single-part texts as the sources state them.
    for r in records
        .iter()
        .filter(|r| r["direction"] == "deliver" && r["group"].is_null())
    {
        let (Some(text), None) = (r["expect"]["text"].as_str(), r["expect"]["udh"].as_object())
        else {
            continue;
        };
        if r["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "concat-8bit" || t == "concat-16bit")
        {
            continue;
        }
        // oFono's charset vectors are read by oFono without an SMSC field, with national
        // language tables given out of band (corpus README, disagreement 2).
        if !r["expect"]["decode_params"].is_null()
            || r["id"].as_str().unwrap().starts_with("ofono-charset")
        {
            continue;
        }
        assert!(
            msgs.iter().any(|m| m.text == text),
            "{}: {text:?} not found",
            r["id"]
        );
    }
    // Multi-part groups whose full text is stated are complete and exact.
    for (g, (full, n)) in &groups {
        if full.is_empty() {
            continue;
        }
        let m = msgs
            .iter()
            .find(|m| &m.text == full)
            .unwrap_or_else(|| panic!("{g}: {full:?}"));
        assert!(m.complete, "{g}");
        assert_eq!(m.parts as usize, *n, "{g}");
    }
    // Alphanumeric senders and short codes are carrier notices; 8-bit data is shown as hex.
    let megafon = msgs.iter().find(|m| m.originator == "Megafon").unwrap();
    assert!(megafon.carrier_notice && !megafon.from_member);
    let kpn = msgs.iter().find(|m| m.originator == "1002").unwrap();
    assert!(kpn.carrier_notice);
    assert_eq!(
        (kpn.parts, kpn.parts_total, kpn.complete),
        (1, 2, false),
        "16-bit reference, part 1 of 2"
    );
    assert!(kpn.text.starts_with("Welkom, bel om uw Voicemail") && kpn.text.ends_with("[…]"));
    let data = msgs.iter().find(|m| m.encoding == "8bit").unwrap();
    assert!(
        data.text.chars().all(|c| c.is_ascii_hexdigit()),
        "{}",
        data.text
    );
}

#[test]
fn a_reply_within_the_window_is_linked_and_one_after_it_is_not() {
    let (_d, mut store) = temp_store();
    ops_group(&mut store, 2);
    let req = SendRequest {
        group: "ops".into(),
        as_member: "boss".into(),
        body: "开会".into(),
        now: now(),
        urgent: false,
        caller: Caller::unix(0, &[]),
    };
    let b = submit_broadcast(&mut store, &Settings::default(), req).unwrap();
    for d in store.queued_for_broadcast(b.broadcast_id).unwrap() {
        store.mark_sending(d.id, "/dev/gsm/a", now()).unwrap();
        store
            .write(|tx| {
                tx.record_parts(d.id, SIM, &[1], now())?;
                tx.mark_sent(d.id, &[1], now())
            })
            .unwrap();
    }
    // m1 answers an hour later on the same SIM: a reply.
    let (pdu, len) = deliver("+8613800000001", "好的", 1).remove(0);
    put(&mut store, SIM, &pdu, Some(len), now() + Duration::hours(1));
    // m2 answers on another SIM: not a reply to this broadcast.
    let (pdu, len) = deliver("+8613800000002", "收到", 2).remove(0);
    put(
        &mut store,
        "460009999999999",
        &pdu,
        Some(len),
        now() + Duration::hours(1),
    );
    // m1 again, after the 72-hour window.
    let (pdu, len) = deliver("+8613800000001", "晚了", 3).remove(0);
    put(
        &mut store,
        SIM,
        &pdu,
        Some(len),
        now() + Duration::hours(73),
    );
    let msgs = all(&mut store);
    let by_text = |t: &str| msgs.iter().find(|m| m.text == t).unwrap().clone();
    let linked = by_text("好的");
    assert_eq!(
        (linked.handling, linked.broadcast),
        (Handling::Reply, Some(b.broadcast_id))
    );
    assert_eq!(linked.member_handle.as_deref(), Some("m1"));
    assert_eq!(linked.group_handle.as_deref(), Some("ops"));
    let other_sim = by_text("收到");
    assert_eq!(
        (other_sim.handling, other_sim.broadcast),
        (Handling::Other, None)
    );
    assert_eq!(
        other_sim.member_handle.as_deref(),
        Some("m2"),
        "still the member"
    );
    assert!(other_sim.from_member);
    let late = by_text("晚了");
    assert_eq!((late.handling, late.broadcast), (Handling::Other, None));
}

#[test]
fn a_number_shared_by_two_members_picks_the_one_the_broadcast_went_to_or_none() {
    let (_d, mut store) = temp_store();
    ops_group(&mut store, 1);
    store
        .create_member(&NewMember::new("twin", "双胞胎", "+8613800000001"), now())
        .unwrap();
    let (pdu, len) = deliver("+8613800000001", "谁？", 1).remove(0);
    put(&mut store, SIM, &pdu, Some(len), now());
    let m = all(&mut store).remove(0);
    assert!(m.from_member);
    assert_eq!(m.member_handle, None);
    let note = m.note.unwrap();
    assert!(note.contains("m1") && note.contains("twin"), "{note}");
}

#[test]
fn a_national_number_is_kept_in_e164_and_an_unreadable_pdu_is_kept() {
    let (_d, mut store) = temp_store();
    let (pdu, len) = deliver("13800000009", "hi", 1).remove(0);
    put(&mut store, SIM, &pdu, Some(len), now());
    let got = put(&mut store, SIM, "0791FFFF", None, now());
    assert!(matches!(got, Ingested::Stored { .. }), "{got:?}");
    assert!(matches!(
        put(&mut store, SIM, "0791FFFF", None, now()),
        Ingested::Duplicate { .. }
    ));
    let msgs = all(&mut store);
    assert_eq!(msgs[0].originator, "+8613800000009");
    assert!(!msgs[0].carrier_notice);
    assert_eq!(msgs[1].encoding, "unreadable");
    assert!(msgs[1].text.contains("0791FFFF"), "{}", msgs[1].text);
    // A stored SUBMIT (CMGL=4 lists those too) is not an incoming message.
    let submit = groupsms::sms::encode_submit(
        "x",
        &groupsms::sms::SubmitOptions::to(Address::parse("+8613800000001").unwrap()),
    )
    .unwrap();
    let got = put(&mut store, SIM, &hex::encode(&submit[0].bytes), None, now());
    assert_eq!(got, Ingested::NotADeliver { kind: "submit" });
}

#[test]
fn two_messages_in_one_second_from_one_number_are_two() {
    let (_d, mut store) = temp_store();
    for (i, t) in ["one", "two"].iter().enumerate() {
        let (pdu, len) = deliver("+8613800000001", t, i as u8).remove(0);
        put(&mut store, SIM, &pdu, Some(len), now());
    }
    assert_eq!(all(&mut store).len(), 2);
}

fn interesting_text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        Just('a'),
        Just('€'),
        Just('['),
        Just('中'),
        Just('文'),
        Just('😀'),
        Just('👍'),
        Just(' '),
        Just('\n'),
        any::<char>(),
    ];
    proptest::collection::vec(ch, 1..800).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any text, cut into parts by the network and handed over in any order (with repeats),
    /// comes out as one complete message with exactly that text.
    #[test]
    fn parts_in_any_order_make_the_text(text in interesting_text(), reference in any::<u8>(), seed in any::<u64>()) {
        let (_d, mut store) = temp_store();
        let mut parts = deliver("+8613800000001", &text, reference);
        let n = parts.len();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        parts.shuffle(&mut rng);
        let again = parts[0].clone();
        parts.push(again);
        for (pdu, len) in &parts {
            put(&mut store, SIM, pdu, Some(*len), now());
        }
        let msgs = all(&mut store);
        prop_assert_eq!(msgs.len(), 1);
        prop_assert_eq!(msgs[0].parts as usize, n);
        prop_assert!(msgs[0].complete);
        // A U+0000 reads as U+FFFD (PostgreSQL cannot store it); nothing else changes.
        prop_assert_eq!(&msgs[0].text, &text.replace('\0', "\u{FFFD}"));
    }

    /// Any octets from a modem: kept (as a message or an unreadable PDU), refused as not
    /// incoming, or recognised as a repeat; never a panic, never lost.
    #[test]
    fn any_bytes_are_kept_never_lost(bytes in proptest::collection::vec(any::<u8>(), 0..200), smsc in any::<bool>()) {
        let (_d, mut store) = temp_store();
        let pdu = hex::encode(&bytes);
        let length = (!smsc).then_some(bytes.len());
        let got = put(&mut store, SIM, &pdu, length, now());
        match got {
            Ingested::Stored { message, .. } => {
                let m = store.read(|tx| tx.inbox_message(message)).unwrap();
                prop_assert!(m.is_some());
            }
            Ingested::NotADeliver { .. } => {}
            Ingested::Duplicate { .. } => prop_assert!(false, "first time is no duplicate"),
        }
    }
}
