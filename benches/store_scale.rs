//! Scale of the store: a 100 000-member group resolved and its 100 000 deliveries enqueued
//! (one `submit_broadcast`: rules, recipients, broadcast and deliveries in one transaction),
//! then loaded back for the scheduler. Prints times and peak memory (VmHWM).
//! Run with `cargo bench --bench store_scale`. Aims: enqueue < 1 s, peak < 100 MB.

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use groupsms::service::recipients::resolve;
use groupsms::store::Store;
use support::{broadcast_to_all, mb, reset_peak, status_kb, write_all_group};

const MEMBERS: u32 = 100_000;

/// User + system CPU time of this process so far (wall time is noisy on a shared machine).
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we hand it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn main() {
    let now: DateTime<Utc> = "2024-05-10T02:00:00Z".parse().unwrap();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scale.db");
    let mut store = Store::open(&path).expect("open");

    let t = Instant::now();
    write_all_group(&mut store, MEMBERS, now);
    let populate = t.elapsed();
    let peak_populate = status_kb("VmHWM:");

    // Resolving alone (read the group, apply the rules), for the record.
    let t = Instant::now();
    let group = store.group("all").unwrap().unwrap();
    let resolved = resolve(store.recipient_rows(group.id).unwrap());
    let resolve_time = t.elapsed();
    assert_eq!(resolved.recipients.len(), MEMBERS as usize);
    drop(resolved);

    let peak_reset = reset_peak();
    let rss_before = status_kb("VmRSS:");
    let (t, cpu) = (Instant::now(), cpu_time());
    let accepted = broadcast_to_all(&mut store, "明天上午九点全体大会，请准时参加。", now);
    let (enqueue, enqueue_cpu) = (t.elapsed(), cpu_time() - cpu);
    let peak_enqueue = status_kb("VmHWM:");
    assert_eq!(accepted.recipients, MEMBERS);

    let t = Instant::now();
    let queued = store.load_queued().unwrap();
    let load = t.elapsed();
    assert_eq!(queued.len(), MEMBERS as usize);
    let peak_all = status_kb("VmHWM:");
    drop(queued);
    let db_size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(path.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);

    println!("store_scale: {MEMBERS} members in one group");
    println!(
        "  populate (members + memberships, one transaction): {}",
        secs(populate)
    );
    println!(
        "  resolve recipients only:                           {}",
        secs(resolve_time)
    );
    println!(
        "  submit_broadcast (rules + resolve + broadcast + {MEMBERS} deliveries, one transaction): {} wall, {} CPU  [aim < 1 s: {}]",
        secs(enqueue),
        secs(enqueue_cpu),
        if enqueue < Duration::from_secs(1) { "met" } else { "MISSED" }
    );
    println!(
        "  load_queued ({MEMBERS} deliveries for the scheduler):  {}",
        secs(load)
    );
    println!(
        "  peak memory after populating (VmHWM):              {}",
        mb(peak_populate)
    );
    if peak_reset {
        println!(
            "  peak memory during submit_broadcast (VmHWM reset before; RSS before {}): {}",
            mb(rss_before),
            mb(peak_enqueue)
        );
    }
    let aim = peak_all.is_some_and(|k| k < 100 * 1024);
    println!(
        "  peak memory of the whole run{} (VmHWM):      {}  [aim < 100 MB: {}]",
        if peak_reset { " since the reset" } else { "" },
        mb(peak_all),
        if aim { "met" } else { "MISSED" }
    );
    println!(
        "  database + WAL size:                               {:.1} MB",
        db_size as f64 / 1e6
    );
}
