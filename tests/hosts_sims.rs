//! Several daemons on one PostgreSQL database and their SIMs: a group pinned to a SIM is sent
//! by whichever host holds that SIM, and the host that accepted it (without the SIM) does not
//! say the broadcast waits for it; a SIM's caps follow it (its IMSI) to another host. PostgreSQL
//! only (skips, saying so, without a cluster; `.ci/run`
//! makes that skip a failure).

mod common;

use std::time::Duration;

use common::daemon::{ops_group, World};
use groupsms::emulator::EmulatorConfig;

/// A daemon named `host` with `modems` emulated modems (seeded `seed`: each host its own SIMs)
/// on the database `pg` (or the first one's, `url`).
fn host(pg: Option<common::pg::Scratch>, url: &str, name: &str, modems: usize, seed: u64) -> World {
    host_with(pg, url, name, modems, seed, "")
}

/// [`host`] with `extra` after the `[[modem]]` table (its caps).
fn host_with(
    pg: Option<common::pg::Scratch>,
    url: &str,
    name: &str,
    modems: usize,
    seed: u64,
    extra: &str,
) -> World {
    let tune = move |c: EmulatorConfig| {
        c.seed(seed)
            .all(|m| m.knobs.send_latency = Duration::from_millis(150))
    };
    let keys = format!("host = \"{name}\"\nlease_secs = 2");
    let owned = pg.is_some();
    let w = World::prepare_on(pg, modems, tune, &keys, extra);
    if !owned {
        let sqlite = format!("{}/groupsms.db", w.dir.path().display());
        let config = std::fs::read_to_string(w.config())
            .unwrap()
            .replace(&sqlite, url);
        std::fs::write(w.config(), config).unwrap();
    }
    w
}

#[test]
fn a_group_pinned_to_another_hosts_sim_is_sent_there_and_does_not_wait_here() {
    let Some(pg) = common::pg::Scratch::new() else {
        return;
    };
    let url = pg.url.clone();
    let mut a = host(Some(pg), &url, "site-a", 1, 7);
    let mut b = host(None, &url, "site-b", 2, 8);
    a.start_daemon();
    b.start_daemon();
    let numbers = ops_group(&a, 11);
    let b_modems = b.wait_modems("both of site-b's modems ready", |m| {
        m.iter().filter(|m| m["state"] == "ready").count() == 2
    });
    let pinned = b_modems[1]["imsi"].as_str().expect("an IMSI").to_string();
    let pinned_device = b_modems[1]["device"].as_str().unwrap().to_string();
    assert!(
        a.modems().iter().all(|m| m["imsi"] != pinned.as_str()),
        "each host has SIMs of its own"
    );
    a.ok(&[
        "group",
        "set",
        "ops",
        "--pin-modems",
        &pinned,
        "--pin-fallback",
        "false",
    ]);
    // Two heartbeats of site-b (one every third of the 2 s lease) after its modems were ready:
    // site-a has read them.
    std::thread::sleep(Duration::from_millis(1500));
    let id = a.send("ops", "alice", "pinned elsewhere");
    let shown = a.show(id);
    assert_eq!(shown["waiting_reason"], serde_json::Value::Null, "{shown}");
    let done = a.wait_show(id, "every delivery sent", |s| s["finished"] == true);
    assert_eq!(done["sent"].as_u64(), Some(numbers.len() as u64), "{done}");
    let deliveries = done["deliveries"].as_array().unwrap();
    assert!(
        deliveries
            .iter()
            .all(|d| d["modem"] == pinned_device.as_str()),
        "{done:#}"
    );
    assert!(a.sent_parts().is_empty(), "site-a's own SIM sent nothing");
    let sent_by_b = b.sent_parts();
    assert_eq!(sent_by_b.len(), numbers.len());
    assert!(
        sent_by_b.iter().all(|r| r.modem == 1),
        "only the pinned SIM"
    );
    // site-a's live counts followed site-b's sends: nothing left "being sent" there.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a.json(&["status"])["broadcasts_sending"], 0);
}

#[test]
fn a_sims_hourly_cap_follows_it_to_another_host() {
    let Some(pg) = common::pg::Scratch::new() else {
        return;
    };
    let url = pg.url.clone();
    // The same seed: site-b's stick holds the SIM (the IMSI) site-a had.
    let cap = "max_per_hour = 3\n";
    let mut a = host_with(Some(pg), &url, "site-a", 1, 11, cap);
    a.start_daemon();
    let numbers = ops_group(&a, 2);
    let first = a.send("ops", "alice", "first");
    let done = a.wait_show(first, "sent", |s| s["finished"] == true);
    assert_eq!(done["sent"].as_u64(), Some(numbers.len() as u64));
    let imsi = a.modems()[0]["imsi"].as_str().unwrap().to_string();
    a.stop_daemon();

    let mut b = host_with(None, &url, "site-b", 1, 11, cap);
    b.start_daemon();
    let modems = b.wait_modems("the moved SIM ready", |m| m[0]["state"] == "ready");
    assert_eq!(modems[0]["imsi"], imsi.as_str(), "the same SIM");
    // What it sent on site-a this hour counts on site-b.
    assert_eq!(modems[0]["sent_this_hour"], 3, "{modems:?}");
    let second = b.send("ops", "alice", "second");
    let shown = b.show(second);
    assert_eq!(shown["waiting_reason"]["reason"], "capped", "{shown}");
    assert_eq!(shown["sent"], 0);
    assert!(b.sent_parts().is_empty(), "nothing past the SIM's cap");
}
