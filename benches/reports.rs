//! Status reports at scale: 100 000 parts sent (one per member of a 100 000-member group,
//! through 16 SIMs whose references wrap every 256 parts, recorded as the scheduler records
//! them), then 100 000 status reports, shuffled, each matched and applied in its own
//! transaction as the daemon does (`service::reports::apply_report`, SIM + TP-MR + recipient +
//! TP-SCTS). Prints the rate and the peak memory (VmHWM). Run with
//! `cargo bench --bench reports`.

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Timelike, Utc};
use groupsms::emulator::inbound;
use groupsms::service::reports::{apply_report, IncomingReport, ReportOutcome, ReportSettings};
use groupsms::sms::{hex, Address, Timestamp};
use groupsms::store::{Store, StoreError};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use support::{broadcast_to_all, mb, reset_peak, status_kb, write_all_group};

const MEMBERS: u32 = 100_000;
const SIMS: usize = 16;

fn ts(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        year: t.year() as u16,
        month: t.month() as u8,
        day: t.day() as u8,
        hour: t.hour() as u8,
        minute: t.minute() as u8,
        second: t.second() as u8,
        tz_quarters: 0,
    }
}

fn sim(i: usize) -> String {
    format!("4600012345{i:05}")
}

fn main() {
    let start: DateTime<Utc> = "2024-05-10T02:00:00Z".parse().unwrap();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("reports.db");
    let mut store = Store::open(&path).expect("open");
    write_all_group(&mut store, MEMBERS, start);
    let b = broadcast_to_all(&mut store, "明天上午九点全体大会", start);
    let queued = store.queued_for_broadcast(b.broadcast_id).unwrap();

    // Send every delivery: SIM k gets every 16th, its reference counting up from a random
    // start and wrapping; one part sent every 36 ms overall (100 000 in an hour).
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut next_mr: Vec<u8> = (0..SIMS).map(|i| (i * 37) as u8).collect();
    let mut sent = Vec::with_capacity(queued.len());
    let t = Instant::now();
    store
        .write(|tx| -> Result<(), StoreError> {
            for (n, d) in queued.iter().enumerate() {
                let k = n % SIMS;
                let mr = next_mr[k];
                next_mr[k] = mr.wrapping_add(1);
                let at = start + chrono::Duration::milliseconds(36 * n as i64);
                tx.mark_sending(d.id, "/dev/gsm/x", at)?;
                tx.record_parts(d.id, &sim(k), &[mr], at)?;
                tx.mark_sent(d.id, &[mr], at)?;
                sent.push((k, mr, d.number.clone(), at));
            }
            Ok(())
        })
        .expect("send");
    let record_time = t.elapsed();
    drop(queued);

    // The reports, as the network would send them (SMSC field included), shuffled.
    let smsc = Address::parse("+8613800100500").unwrap();
    let mut reports: Vec<(usize, String, usize)> = sent
        .iter()
        .map(|(k, mr, number, at)| {
            let p = inbound::status_report(
                &smsc,
                *mr,
                &Address::parse(number).unwrap(),
                ts(*at),
                ts(*at + chrono::Duration::seconds(5)),
                0,
            )
            .unwrap();
            (*k, hex::encode(&p.bytes), p.tpdu_len)
        })
        .collect();
    drop(sent);
    reports.shuffle(&mut rng);

    let peak_reset = reset_peak();
    let rss_before = status_kb("VmRSS:");
    let settings = ReportSettings::default();
    let now = start + chrono::Duration::hours(3);
    let (mut delivered, mut unmatched) = (0u32, 0u32);
    let t = Instant::now();
    let mut slowest = Duration::ZERO;
    for (k, pdu, length) in &reports {
        let one = Instant::now();
        let sim_id = sim(*k);
        let out = store
            .write(|tx| {
                apply_report(
                    tx,
                    &settings,
                    IncomingReport {
                        sim: &sim_id,
                        device: "/dev/gsm/x",
                        pdu,
                        length: Some(*length),
                    },
                    now,
                )
            })
            .expect("apply");
        slowest = slowest.max(one.elapsed());
        match out {
            ReportOutcome::Applied {
                update: Some(_), ..
            } => delivered += 1,
            ReportOutcome::Applied { .. } => {}
            ReportOutcome::Unmatched { .. } => unmatched += 1,
        }
    }
    let took = t.elapsed();
    let peak = status_kb("VmHWM:");
    let progress = store.broadcast_progress(b.broadcast_id).unwrap();
    assert_eq!(progress.delivered, MEMBERS, "every delivery delivered");
    assert_eq!((delivered, unmatched), (MEMBERS, 0));

    let db_size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(path.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "reports: {MEMBERS} parts through {SIMS} SIMs (references wrap every 256), {MEMBERS} shuffled reports"
    );
    println!(
        "  parts recorded with mark_sent (one transaction):   {:.3} s",
        record_time.as_secs_f64()
    );
    println!(
        "  reports matched and applied, one transaction each: {:.2} s, {:.0} reports/s, slowest {:.2} ms",
        took.as_secs_f64(),
        MEMBERS as f64 / took.as_secs_f64(),
        slowest.as_secs_f64() * 1e3
    );
    println!("  delivered {delivered}, unmatched {unmatched}");
    println!(
        "  peak memory while matching{} (VmHWM; RSS before {}): {}",
        if peak_reset { " (reset before)" } else { "" },
        mb(rss_before),
        mb(peak)
    );
    println!(
        "  database + WAL size:                               {:.1} MB",
        db_size as f64 / 1e6
    );
}
