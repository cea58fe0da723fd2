//! What the webhook outbox costs the sending path: a broadcast's deliveries moved through
//! `queued -> sending -> sent` as the scheduler moves them, with no webhook, with one endpoint
//! subscribed to `delivery` and `broadcast_finished`, and with three endpoints subscribed to
//! every event (each `sent` then writes one event and one row per endpoint, built by SQLite in
//! the same transaction).
//!
//! Two measures per case: every step in its own committed transaction (`synchronous = FULL`,
//! what a delivery costs the daemon when modems report one at a time: the disk's sync
//! dominates), and all steps in one transaction (the SQL alone). Run with
//! `cargo bench --bench webhook_outbox`; `OUTBOX_MEMBERS` (default 2000) sets the group size
//! of the committed runs (the single-transaction runs use ten times as many).

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use groupsms::store::{EventKind, Store, StoreError, Subscriptions};
use support::{broadcast_to_all, env_list, write_all_group};

fn subscriptions(case: &str) -> Subscriptions {
    let some = [EventKind::Delivery, EventKind::BroadcastFinished];
    match case {
        "none" => Subscriptions::default(),
        "1 endpoint" => Subscriptions::new([("a".to_string(), &some[..])]),
        _ => Subscriptions::new(
            ["a", "b", "c"]
                .into_iter()
                .map(|k| (k.to_string(), &EventKind::ALL[..])),
        ),
    }
}

/// Per-delivery times (sending + sent) and the outbox rows written.
fn run(case: &str, members: u32, one_tx: bool) -> (Vec<Duration>, u64) {
    let start: DateTime<Utc> = "2024-05-10T02:00:00Z".parse().unwrap();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(dir.path().join("outbox.db")).expect("open");
    write_all_group(&mut store, members, start);
    let b = broadcast_to_all(&mut store, "明天上午九点全体大会", start);
    let queued = store.queued_for_broadcast(b.broadcast_id).unwrap();
    store.set_webhooks(subscriptions(case));
    let mut times = Vec::with_capacity(queued.len());
    if one_tx {
        let t = Instant::now();
        store
            .write(|tx| -> Result<(), StoreError> {
                for d in &queued {
                    tx.mark_sending(d.id, "/dev/gsm/x", start)?;
                    tx.mark_sent(d.id, &[1], start)?;
                }
                Ok(())
            })
            .expect("send");
        times.push(t.elapsed() / queued.len() as u32);
    } else {
        for d in &queued {
            let t = Instant::now();
            store.mark_sending(d.id, "/dev/gsm/x", start).unwrap();
            store.mark_sent(d.id, &[1], start).unwrap();
            times.push(t.elapsed());
        }
    }
    let rows = store
        .read(|tx| {
            Ok::<_, StoreError>(
                tx.webhook_backlog("a")?.pending
                    + tx.webhook_backlog("b")?.pending
                    + tx.webhook_backlog("c")?.pending,
            )
        })
        .unwrap();
    (times, rows)
}

fn main() {
    let members = env_list("OUTBOX_MEMBERS", &[2000])[0] as u32;
    println!("webhook outbox: cost per delivery of queued -> sending -> sent");
    println!(
        "{:<12} {:>8} {:>14} {:>12} {:>12} {:>14}",
        "case", "members", "commits", "mean µs", "p99 µs", "outbox rows"
    );
    for case in ["none", "1 endpoint", "3 endpoints"] {
        for (one_tx, n) in [(false, members), (true, members * 10)] {
            let (mut times, rows) = run(case, n, one_tx);
            times.sort();
            let mean = times.iter().sum::<Duration>() / times.len() as u32;
            let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
            println!(
                "{:<12} {:>8} {:>14} {:>12.1} {:>12} {:>14}",
                case,
                n,
                if one_tx { "one in all" } else { "two each" },
                mean.as_secs_f64() * 1e6,
                if one_tx {
                    "-".to_string()
                } else {
                    format!("{:.1}", p99.as_secs_f64() * 1e6)
                },
                rows
            );
        }
    }
}
