//! The per-SIM send log over a year: 16 SIMs sending 1 000 messages a day each (the carriers'
//! daily cap), simulated day by day on a real SQLite file, once with the daemon's pruning
//! (`scheduler::upkeep`: rows older than the start of yesterday go, here once per simulated
//! day) and once without. Prints, at days 1, 30, 90, 180 and 365, the rows in the table, the
//! database size and the time of the cap query (`service::sim_counts` for one SIM, median of
//! 200). Run with `cargo bench --bench sim_sends`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use groupsms::scheduler::upkeep::sim_sends_horizon;
use groupsms::service::sim_counts;
use groupsms::store::{Store, StoreError};

const SIMS: usize = 16;
const PER_DAY: usize = 1000;
const DAYS: i64 = 365;
const CHECKPOINTS: [i64; 5] = [1, 30, 90, 180, 365];

fn sim(i: usize) -> String {
    format!("4600012345{i:05}")
}

/// Median time of the cap query for SIM 0 at `now`.
fn cap_query(store: &mut Store, now: DateTime<Utc>) -> Duration {
    let tz = chrono_tz::Asia::Shanghai;
    let mut times: Vec<Duration> = (0..200)
        .map(|_| {
            let t = Instant::now();
            let counts = sim_counts(store, tz, &sim(0), now).expect("cap query");
            let took = t.elapsed();
            assert!(counts.day.messages > 0);
            took
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn run(prune: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sends.db");
    let mut store = Store::open(&path).expect("open");
    let start: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
    let tz = chrono_tz::Asia::Shanghai;
    let label = if prune { "pruned" } else { "never pruned" };
    let began = Instant::now();
    for day in 1..=DAYS {
        let day_start = start + chrono::Duration::days(day - 1);
        // Spread over the day's 16 working hours.
        let step = chrono::Duration::milliseconds(16 * 3600 * 1000 / PER_DAY as i64);
        store
            .write(|tx| -> Result<(), StoreError> {
                for k in 0..PER_DAY {
                    let at = day_start + step * k as i32;
                    for i in 0..SIMS {
                        tx.record_sim_send(&sim(i), 1, at)?;
                    }
                }
                Ok(())
            })
            .expect("day of sends");
        let now = day_start + chrono::Duration::hours(15);
        if prune {
            store
                .prune_sim_sends(sim_sends_horizon(now, tz))
                .expect("prune");
        }
        if CHECKPOINTS.contains(&day) {
            let rows = store.read(|tx| tx.sim_send_rows()).expect("count");
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
                + std::fs::metadata(path.with_extension("db-wal"))
                    .map(|m| m.len())
                    .unwrap_or(0);
            let q = cap_query(&mut store, now);
            println!(
                "{label:>13}  day {day:>3}: {rows:>9} rows, {:>7.1} MB on disk, cap query {:>7.1} µs",
                size as f64 / 1e6,
                q.as_secs_f64() * 1e6
            );
        }
    }
    println!(
        "{label:>13}  {DAYS} days of {} sends a day simulated in {:.1} s",
        SIMS * PER_DAY,
        began.elapsed().as_secs_f64()
    );
}

fn main() {
    run(true);
    run(false);
}
