//! Several daemons ("hosts") on one PostgreSQL database, as issue 17 runs them: each host a
//! [`World`] of its own (its own emulated modems with their own SIMs, configuration, socket and
//! log, `[daemon] host = "site-a"`, `"site-b"`...), all on one scratch database that the first
//! world owns and drops after every daemon is gone. Beside them, what a test reads across the
//! hosts: what the phones of every emulator received, and the database's rows.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use groupsms::emulator::EmulatorConfig;

use super::daemon::World;
use super::pg::{self, Scratch};

/// `count` worlds on one database; index them (`hosts[1]`) for each one's CLI, socket and
/// emulator.
pub struct Hosts {
    worlds: Vec<World>,
    /// The host names, in the worlds' order.
    pub names: Vec<String>,
}

/// Host `i`'s name: `site-a`, `site-b`, ...
pub fn host_name(i: usize) -> String {
    format!("site-{}", char::from(b'a' + i as u8))
}

/// The seed of host `i`'s emulator: SIMs of its own (a test that moves a SIM from one host to
/// another gives the second host the first one's seed).
pub fn host_seed(i: usize) -> u64 {
    7 + 1000 * i as u64
}

impl Hosts {
    /// One world per entry of `modems` (that many emulated modems; 0: none), all on one new
    /// scratch database, daemons not started. World `i` is host [`host_name`]`(i)`; its
    /// emulator has a seed of its own (so its SIMs have IMSIs of their own) and is then tuned
    /// by `tune(i, config)`; `daemon_keys` go into every `[daemon]` table after the host name,
    /// `extra` after every `[[modem]]` table (see [`World::prepare`]). `None` (said clearly)
    /// without a cluster (`GROUPSMS_TEST_POSTGRES`).
    pub fn prepare(
        modems: &[usize],
        tune: impl Fn(usize, EmulatorConfig) -> EmulatorConfig,
        daemon_keys: &str,
        extra: &str,
    ) -> Option<Hosts> {
        let owner = Scratch::new()?;
        let mut shares: Vec<Scratch> = (1..modems.len()).map(|_| owner.shared()).collect();
        let mut owner = Some(owner);
        let mut worlds = Vec::new();
        let mut names = Vec::new();
        for (i, &n) in modems.iter().enumerate() {
            let name = host_name(i);
            let db = if i == 0 {
                owner.take()
            } else {
                Some(shares.remove(0))
            };
            let keys = format!("host = \"{name}\"\n{daemon_keys}");
            let seed = host_seed(i);
            worlds.push(World::prepare_on(
                db,
                n,
                |c| tune(i, c.seed(seed)),
                &keys,
                extra,
            ));
            names.push(name);
        }
        Some(Hosts { worlds, names })
    }

    /// [`prepare`](Self::prepare), then every daemon started, one after the other.
    pub fn start(
        modems: &[usize],
        tune: impl Fn(usize, EmulatorConfig) -> EmulatorConfig,
        daemon_keys: &str,
        extra: &str,
    ) -> Option<Hosts> {
        let mut hosts = Hosts::prepare(modems, tune, daemon_keys, extra)?;
        hosts.start_all();
        Some(hosts)
    }

    /// Starts every daemon not yet running, one after the other (each waited for: READY=1).
    pub fn start_all(&mut self) {
        for w in &mut self.worlds {
            if w.daemon_pid().is_none() {
                w.start_daemon();
            }
        }
    }

    /// Adds `lines` to host `i`'s `[[modem]]` table (before its daemon starts).
    pub fn modem_keys(&self, i: usize, lines: &str) {
        let w = &self.worlds[i];
        let text = std::fs::read_to_string(w.config()).unwrap();
        assert!(text.contains("[[modem]]\n"), "{text}");
        let text = text.replacen("[[modem]]\n", &format!("[[modem]]\n{lines}\n"), 1);
        std::fs::write(w.config(), text).unwrap();
    }

    pub fn len(&self) -> usize {
        self.worlds.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &World> {
        self.worlds.iter()
    }

    /// The database every host serves.
    pub fn url(&self) -> &str {
        &self.worlds[0].pg.as_ref().expect("on PostgreSQL").url
    }

    /// Every row of `sql` on the shared database (values as text, NULL as `None`).
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        pg::query_rows(self.url(), sql)
    }

    /// The first column of the first row of `sql`, as an integer.
    pub fn count(&self, sql: &str) -> i64 {
        pg::query_i64(self.url(), sql)
    }

    /// Deliveries of broadcast `id` per state (`queued`, `sending`, `sent`...).
    pub fn states(&self, id: i64) -> BTreeMap<String, i64> {
        self.rows(&format!(
            "SELECT state, count(*) FROM deliveries WHERE broadcast_id = {id} GROUP BY state"
        ))
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap(),
                r[1].as_deref().unwrap().parse().unwrap(),
            )
        })
        .collect()
    }

    /// Deliveries of broadcast `id` per host that took them (`None`: no host yet).
    pub fn shares(&self, id: i64) -> BTreeMap<Option<String>, i64> {
        self.rows(&format!(
            "SELECT host, count(*) FROM deliveries WHERE broadcast_id = {id} GROUP BY host"
        ))
        .into_iter()
        .map(|r| (r[0].clone(), r[1].as_deref().unwrap().parse().unwrap()))
        .collect()
    }

    /// Waits (bounded by `limit`) until no delivery of broadcast `id` is `queued` or
    /// `sending`, asking the database; returns the states then. Fails the test with the
    /// states and every daemon's log when the limit passes.
    pub fn wait_settled(&self, id: i64, limit: Duration) -> BTreeMap<String, i64> {
        self.wait(&format!("broadcast {id} settled"), limit, || {
            let states = self.states(id);
            let open = states.get("queued").copied().unwrap_or(0)
                + states.get("sending").copied().unwrap_or(0);
            (open == 0).then_some(states)
        })
    }

    /// Asks `probe` every 50 ms until it answers something (bounded by `limit`); fails the
    /// test with `what`, the broadcasts' states and every daemon's log when the limit passes.
    pub fn wait<T>(&self, what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(answer) = probe() {
                return answer;
            }
            if Instant::now() > deadline {
                let states = self.rows(
                    "SELECT broadcast_id, state, host, count(*) FROM deliveries \
                     GROUP BY broadcast_id, state, host ORDER BY 1, 2, 3",
                );
                panic!(
                    "{what}: not after {limit:?}\ndeliveries (broadcast, state, host, count): \
                     {states:?}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Per number, how many times the phones received `text` (from every host's emulator).
    pub fn received(&self, text: &str) -> HashMap<String, usize> {
        let mut got = HashMap::new();
        for i in 0..self.len() {
            for to in self.received_by(i, text) {
                *got.entry(to).or_insert(0) += 1;
            }
        }
        got
    }

    /// The numbers host `i`'s modems sent `text` to, once per copy, in the emulator's order.
    pub fn received_by(&self, i: usize, text: &str) -> Vec<String> {
        self.parts_of(i)
            .into_iter()
            .filter(|r| r.text == text)
            .map(|r| r.to)
            .collect()
    }

    /// Every part host `i`'s emulated network accepted (none when it has no modems).
    pub fn parts_of(&self, i: usize) -> Vec<groupsms::emulator::log::LogRecord> {
        let w = &self.worlds[i];
        if w.dir.path().join("sms.jsonl").exists() {
            w.sent_parts()
        } else {
            Vec::new()
        }
    }

    /// The last 80 lines of every daemon's log, each under its host name.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for (w, name) in self.worlds.iter().zip(&self.names) {
            let log = w.daemon_log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(80)..];
            all.push_str(&format!("--- {name}'s daemon log (tail) ---\n"));
            for line in tail {
                all.push_str(line);
                all.push('\n');
            }
        }
        all
    }
}

impl std::ops::Index<usize> for Hosts {
    type Output = World;
    fn index(&self, i: usize) -> &World {
        &self.worlds[i]
    }
}

impl std::ops::IndexMut<usize> for Hosts {
    fn index_mut(&mut self, i: usize) -> &mut World {
        &mut self.worlds[i]
    }
}

impl Drop for Hosts {
    /// Every daemon is killed before the first world drops the database they share.
    fn drop(&mut self) {
        for w in self.worlds.iter_mut().rev() {
            w.kill_daemon();
        }
    }
}
