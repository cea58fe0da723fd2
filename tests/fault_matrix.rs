//! The fault matrix of issue 7: the real `groupsms` binary as daemon and CLI against emulated
//! modems on real PTYs (see `common/daemon.rs`), one scenario per test. Each prints one row
//! (`FAULT-MATRIX scenario | delivered | duplicates | lost | time to recover`) and asserts that
//! nothing is lost and that duplicates stay within what the scenario allows.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::daemon::{ops_group, World};
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// Per-SIM caps high enough for any scenario here (`[[modem]]` keys).
const UNCAPPED: &str = "max_per_hour = 100000\nmax_per_day = 100000\n";

/// What the phones received of one text: per number, how many times.
struct Tally {
    delivered: usize,
    duplicates: usize,
    lost: Vec<String>,
    /// Numbers that got the text more than once.
    duplicated: Vec<String>,
}

fn tally(w: &World, numbers: &[String], text: &str) -> Tally {
    let phones = w.phones();
    let mut t = Tally {
        delivered: 0,
        duplicates: 0,
        lost: Vec::new(),
        duplicated: Vec::new(),
    };
    for n in numbers {
        let got = phones
            .phone(n)
            .texts()
            .iter()
            .filter(|x| **x == text)
            .count();
        match got {
            0 => t.lost.push(n.clone()),
            1 => t.delivered += 1,
            k => {
                t.delivered += 1;
                t.duplicates += k - 1;
                t.duplicated.push(n.clone());
            }
        }
    }
    t
}

/// The one-line row of a scenario.
fn row(scenario: &str, t: &Tally, recover: Option<Duration>) {
    let recover = recover.map_or("-".to_string(), |d| format!("{:.2}s", d.as_secs_f64()));
    eprintln!(
        "FAULT-MATRIX {scenario:<34} | delivered {:>5} | duplicates {:>3} | lost {:>3} | recover {recover}",
        t.delivered,
        t.duplicates,
        t.lost.len()
    );
}

fn deliveries(show: &Value) -> &Vec<Value> {
    show["deliveries"].as_array().expect("deliveries")
}

/// Adds `lines` to the `[scheduler]` table of the harness's configuration.
fn scheduler_keys(w: &World, lines: &str) {
    let text = std::fs::read_to_string(w.config()).unwrap();
    assert!(text.contains("[scheduler]\n"), "{text}");
    let text = text.replacen("[scheduler]\n", &format!("[scheduler]\n{lines}\n"), 1);
    std::fs::write(w.config(), text).unwrap();
}

fn sent(t: &Value) -> u64 {
    t["sent"].as_u64().unwrap_or(0)
}

/// `kill -9` at ten seeded random moments of a 1 000-recipient broadcast, restarting each
/// time: nothing lost; a duplicate only for a part in flight at a kill (at most one per modem
/// per kill), and every duplicate flagged `possible_duplicate`.
#[test]
fn kill_9_at_random_moments_loses_nothing() {
    const MODEMS: usize = 3;
    const KILLS: usize = 10;
    let mut w = World::start(
        MODEMS,
        |c| {
            c.all(|m| {
                m.knobs.send_latency = Duration::from_millis(5);
                m.knobs.send_jitter = Duration::from_millis(5);
            })
        },
        // The default per-SIM cap (200 an hour) would stop 3 modems at 600 parts.
        UNCAPPED,
    );
    let numbers = ops_group(&w, 999);
    assert_eq!(numbers.len(), 1000);
    let text = "kill -9 test";
    let id = w.send("ops", "alice", text);
    let want = format!("【运维组】{text}");
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0x5eed_0007);
    let mut at_kill = 0u64;
    let mut worst_recover = Duration::ZERO;
    for k in 0..KILLS {
        // Spread the kills over the broadcast: each one 40..90 parts after the last.
        let threshold = at_kill + rng.gen_range(40..90);
        let totals = w.follow(id, |t| sent(t) >= threshold);
        assert!(
            totals["finished"] != true,
            "kill {k}: the broadcast finished before the kill at {threshold}: {totals}"
        );
        at_kill = sent(&totals);
        let killed = Instant::now();
        w.kill_daemon();
        w.start_daemon();
        // Recovered: the restarted daemon records a new sent part.
        let totals = w.follow(id, |t| sent(t) > at_kill);
        assert!(sent(&totals) > at_kill, "kill {k}: {totals}");
        worst_recover = worst_recover.max(killed.elapsed());
    }
    let totals = w.follow(id, |_| false);
    assert_eq!(totals["finished"], true, "{totals}");
    assert_eq!(
        (totals["sent"].as_u64(), totals["failed"].as_u64()),
        (Some(1000), Some(0)),
        "{totals}"
    );
    let t = tally(&w, &numbers, &want);
    row("kill -9 x10, 1000 recipients", &t, Some(worst_recover));
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    assert!(
        t.duplicates <= KILLS * MODEMS,
        "{} duplicates for {KILLS} kills of {MODEMS} modems: {:?}",
        t.duplicates,
        t.duplicated
    );
    // Every number that got it twice is reported as a possible duplicate.
    let show = w.show(id);
    let flagged: HashSet<&str> = deliveries(&show)
        .iter()
        .filter(|d| d["possible_duplicate"] == true)
        .map(|d| d["number"].as_str().unwrap())
        .collect();
    for n in &t.duplicated {
        assert!(
            flagged.contains(n.as_str()),
            "{n} duplicated but not flagged"
        );
    }
    assert!(
        flagged.len() <= KILLS * MODEMS,
        "{} flagged for {KILLS} kills",
        flagged.len()
    );
    assert_eq!(deliveries(&show).len(), 1000);
    assert!(deliveries(&show).iter().all(|d| d["state"] == "sent"));
}
