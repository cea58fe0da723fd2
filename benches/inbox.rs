//! Incoming messages at scale: 10 000 messages (13 000 PDUs) ingested one PDU per transaction
//! as the daemon does (`service::inbox::ingest`: decode, key, insert-or-ignore, join, link),
//! into a real SQLite file holding a 1 000-member group and a broadcast sent to everyone
//! through 4 SIMs: 6 000 single-part replies from members (so each is linked by SIM, number
//! and time), 1 500 three-part Chinese messages from members whose parts arrive shuffled
//! among everything else, 1 500 carrier notices from 10086 and 1 000 strangers. Then every
//! PDU again (a drain after a crash): all recognised, none stored twice. Prints the rates
//! and the peak memory (VmHWM). Run with `cargo bench --bench inbox`.

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use groupsms::emulator::inbound;
use groupsms::service::inbox::{ingest, InboxSettings, IncomingPdu, Ingested};
use groupsms::sms::{hex, Address, Timestamp};
use groupsms::store::{InboxFilter, Store, StoreError};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use support::{broadcast_to_all, mb, reset_peak, status_kb, write_all_group};

const MEMBERS: u32 = 1_000;
const SIMS: usize = 4;

fn sim(i: usize) -> String {
    format!("4600012345{i:05}")
}

fn scts(n: usize) -> Timestamp {
    Timestamp {
        year: 2024,
        month: 5,
        day: 10,
        hour: 3 + (n / 3600) as u8,
        minute: ((n / 60) % 60) as u8,
        second: (n % 60) as u8,
        tz_quarters: 32,
    }
}

fn main() {
    let start: DateTime<Utc> = "2024-05-10T02:00:00Z".parse().unwrap();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("inbox.db");
    let mut store = Store::open(&path).expect("open");
    write_all_group(&mut store, MEMBERS, start);
    let b = broadcast_to_all(&mut store, "明天上午九点全体大会，收到请回复", start);
    let queued = store.queued_for_broadcast(b.broadcast_id).unwrap();
    let mut sim_of = std::collections::HashMap::new();
    store
        .write(|tx| -> Result<(), StoreError> {
            for (n, d) in queued.iter().enumerate() {
                let k = n % SIMS;
                tx.mark_sending(d.id, "/dev/gsm/x", start)?;
                tx.record_parts(d.id, &sim(k), &[n as u8], start)?;
                tx.mark_sent(d.id, &[n as u8], start)?;
                sim_of.insert(d.number.clone(), k);
            }
            Ok(())
        })
        .expect("send");

    // The PDUs, as the network delivers them (SMSC field included).
    let smsc = Address::parse("+8613800100500").unwrap();
    let mut pdus: Vec<(usize, String, usize)> = Vec::new();
    let mut add = |k: usize, from: &str, text: &str, reference: u8, n: usize| {
        for p in inbound::deliver(
            &smsc,
            &Address::parse(from).unwrap(),
            text,
            reference,
            scts(n),
        )
        .unwrap()
        {
            pdus.push((k, hex::encode(&p.bytes), p.tpdu_len));
        }
    };
    let member = |n: usize| format!("+86138{:08}", 1 + n as u32 % (MEMBERS - 1));
    let long = "收到，明天上午九点准时到会议室，另外请问需要带什么材料吗？谢谢。".repeat(5);
    let mut n = 0;
    for i in 0..6_000 {
        let from = member(i);
        add(sim_of[&from], &from, &format!("收到 {i}"), 0, n);
        n += 1;
    }
    for i in 0..1_500 {
        let from = member(i + 7);
        add(sim_of[&from], &from, &format!("{long}{i}"), i as u8, n);
        n += 1;
    }
    for i in 0..1_500 {
        add(
            i % SIMS,
            "10086",
            &format!("尊敬的客户，您本月已用流量{i}MB。"),
            0,
            n,
        );
        n += 1;
    }
    for i in 0..1_000 {
        add(
            i % SIMS,
            &format!("+86137{i:08}"),
            "hello, wrong number?",
            0,
            n,
        );
        n += 1;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    pdus.shuffle(&mut rng);
    let messages = n;

    let settings = InboxSettings::default();
    let now = start + chrono::Duration::hours(2);
    let run = |store: &mut Store, pdus: &[(usize, String, usize)]| {
        let (mut stored, mut dup, mut completed) = (0u32, 0u32, 0u32);
        let mut slowest = Duration::ZERO;
        let t = Instant::now();
        for (k, pdu, length) in pdus {
            let one = Instant::now();
            let sim_id = sim(*k);
            let out = store
                .write(|tx| {
                    ingest(
                        tx,
                        &settings,
                        IncomingPdu {
                            sim: &sim_id,
                            device: "/dev/gsm/x",
                            pdu,
                            length: Some(*length),
                        },
                        now,
                    )
                })
                .expect("ingest");
            slowest = slowest.max(one.elapsed());
            match out {
                Ingested::Stored { committed, .. } => {
                    stored += 1;
                    completed += u32::from(committed.is_some());
                }
                Ingested::Duplicate { .. } => dup += 1,
                Ingested::NotADeliver { .. } => panic!("all are DELIVERs"),
            }
        }
        (t.elapsed(), slowest, stored, dup, completed)
    };

    let peak_reset = reset_peak();
    let rss_before = status_kb("VmRSS:");
    let (took, slowest, stored, dup, completed) = run(&mut store, &pdus);
    let peak = status_kb("VmHWM:");
    assert_eq!((stored as usize, dup), (pdus.len(), 0));
    assert_eq!(completed as usize, messages);
    let (again, again_slowest, stored2, dup2, _) = run(&mut store, &pdus);
    assert_eq!((stored2, dup2 as usize), (0, pdus.len()));
    let all = store
        .read(|tx| {
            tx.inbox_list(
                &InboxFilter {
                    limit: 100_000,
                    ..InboxFilter::default()
                },
                now,
            )
        })
        .unwrap();
    assert_eq!(all.len(), messages);
    let replies = all.iter().filter(|m| m.broadcast.is_some()).count();
    let notices = all.iter().filter(|m| m.carrier_notice).count();
    assert_eq!((replies, notices), (7_500, 1_500));

    let db_size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(path.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "inbox: {messages} messages in {} PDUs (6000 single-part replies, 1500 three-part Chinese replies with shuffled parts, 1500 notices from 10086, 1000 strangers), {MEMBERS} members, {SIMS} SIMs",
        pdus.len()
    );
    println!(
        "  ingested, one transaction per PDU: {:.2} s, {:.0} PDUs/s, {:.0} messages/s, slowest {:.2} ms",
        took.as_secs_f64(),
        pdus.len() as f64 / took.as_secs_f64(),
        messages as f64 / took.as_secs_f64(),
        slowest.as_secs_f64() * 1e3
    );
    println!("  linked to the broadcast {replies}, carrier notices {notices}");
    println!(
        "  every PDU again (a drain after a crash): {:.2} s, {:.0} PDUs/s, slowest {:.2} ms, all recognised, none stored",
        again.as_secs_f64(),
        pdus.len() as f64 / again.as_secs_f64(),
        again_slowest.as_secs_f64() * 1e3
    );
    println!(
        "  peak memory while ingesting{} (VmHWM; RSS before {}): {}",
        if peak_reset { " (reset before)" } else { "" },
        mb(rss_before),
        mb(peak)
    );
    println!("  database + WAL size: {:.1} MB", db_size as f64 / 1e6);
}
