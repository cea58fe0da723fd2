//! The sensitive-word filter at scale: a filter built from 100 000 words, then checks of
//! 5-part messages (about 335 UCS-2 characters): one clean, one with a disguised word.
//! Prints build time, the memory the filter took (RSS growth and peak, from /proc) and
//! checks per second. Run with `cargo bench --bench sensitive`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use groupsms::service::{SensitiveFilter, SensitivePolicy};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use support::{mb, status_kb};

#[path = "support/mod.rs"]
mod support;

const WORDS: usize = 100_000;

/// 100 000 distinct words: 80 % two to four common CJK ideographs, 20 % Latin, 4 to 10 letters.
fn words(rng: &mut SmallRng) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    while seen.len() < WORDS {
        let w: String = if rng.gen_bool(0.8) {
            let n = rng.gen_range(2..=4);
            (0..n)
                .map(|_| char::from_u32(rng.gen_range(0x4E00..0x6000)).unwrap_or('中'))
                .collect()
        } else {
            let n = rng.gen_range(4..=10);
            (0..n).map(|_| rng.gen_range(b'a'..=b'z') as char).collect()
        };
        seen.insert(w);
    }
    let mut v: Vec<String> = seen.into_iter().collect();
    v.sort();
    v
}

fn per_second(n: u32, spent: Duration) -> f64 {
    f64::from(n) / spent.as_secs_f64()
}

fn main() {
    // The first use of an ideograph builds OpenCC's traditional-to-simplified table.
    let started = Instant::now();
    let _ = SensitiveFilter::new(["中"]);
    println!(
        "first use (traditional-to-simplified table): {:.3} s",
        started.elapsed().as_secs_f64()
    );
    let mut rng = SmallRng::seed_from_u64(7);
    let list = words(&mut rng);
    let rss_before = status_kb("VmRSS:");
    let started = Instant::now();
    let filter = SensitiveFilter::new(&list).expect("the generated words are valid");
    let build = started.elapsed();
    let rss_after = status_kb("VmRSS:");
    println!(
        "build: {} distinct words once normalized in {:.3} s; RSS {} -> {} (peak {})",
        filter.len(),
        build.as_secs_f64(),
        mb(rss_before),
        mb(rss_after),
        mb(status_kb("VmHWM:"))
    );

    // 335 characters of an ordinary notice (5 UCS-2 parts of 67), no listed word in it
    // (listed CJK words use U+4E00..U+5FFF; the notice is built from characters above).
    let clean: String = "各位同事：本周五下午三点在三楼会议室召开季度总结会，请准时参加。"
        .chars()
        .filter(|c| (*c as u32) >= 0x6000 || !('\u{4E00}'..='\u{9FFF}').contains(c))
        .cycle()
        .take(335)
        .collect();
    // The same length with one listed word disguised by spaces and a zero-width space.
    let word = list
        .iter()
        .find(|w| w.chars().count() == 4 && !w.is_ascii())
        .unwrap();
    let spread: String = word
        .chars()
        .map(|c| format!("{c}\u{200B} "))
        .collect::<String>();
    let dirty: String = spread.chars().chain(clean.chars()).take(335).collect();
    for (name, text) in [("clean", &clean), ("disguised word", &dirty)] {
        for policy in [SensitivePolicy::Reject, SensitivePolicy::Mask] {
            // The best of three runs: the machine is shared, the best is the least disturbed.
            let rounds = 2_000;
            let spent = (0..3)
                .map(|_| {
                    let started = Instant::now();
                    for _ in 0..rounds {
                        let _ = black_box(filter.apply(black_box(text), policy));
                    }
                    started.elapsed()
                })
                .min()
                .unwrap_or_default();
            println!(
                "check {name:<15} {policy:?}: {:>8.0} checks/s ({:.1} µs each)",
                per_second(rounds, spent),
                spent.as_secs_f64() * 1e6 / f64::from(rounds)
            );
        }
    }
}
