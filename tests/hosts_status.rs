//! `status` and `modem list` with two daemons ("hosts") on one PostgreSQL database, through
//! the real binaries, each daemon on its own emulated modems: either daemon shows both hosts
//! and every modem (its own live, the other's from its last heartbeat), in `--json`, for
//! people and over HTTP (`/v1/status`, `/v1/modems`, their OpenAPI schemas); a daemon killed with SIGKILL shows as silent (no heartbeat), then as lost once its
//! lease has run out, its modems marked so. Needs the cluster `GROUPSMS_TEST_POSTGRES` names
//! (`.ci/run` starts one and makes its absence a failure; absent locally: skipped, said so).

mod common;

use std::time::Duration;

use common::daemon::World;
use common::http::{answer, token, Http, HTTP_ON};
use common::pg::Scratch;
use serde_json::Value;

/// Seconds of each daemon's lease (the shortest the configuration takes).
const LEASE_SECS: u64 = 2;

/// A daemon named `host` with `modems` emulated modems on the database at `url`, its HTTP API
/// on.
fn host_on(url: &str, pg: Option<Scratch>, host: &str, modems: usize) -> World {
    let keys = format!("host = \"{host}\"\nlease_secs = {LEASE_SECS}");
    let mut w = World::prepare_on(pg, modems, |c| c, &keys, HTTP_ON);
    // The second world points at the first one's database (it owns the scratch database).
    let config = std::fs::read_to_string(w.config()).unwrap();
    let mine = format!("database = \"{}/groupsms.db\"", w.dir.path().display());
    let config = if config.contains(&mine) {
        config.replace(&mine, &format!("database = \"{url}\""))
    } else {
        config
    };
    std::fs::write(w.config(), config).unwrap();
    w.start_daemon();
    w
}

/// The CLI's output for people, wide enough that no device path is cut.
fn human(w: &World, args: &[&str]) -> String {
    let out = w.command(args).env("COLUMNS", "400").output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Polls `w`'s `status --json` until `done` holds (at most 30 s).
fn wait_status(w: &World, what: &str, done: impl FnMut(&Value) -> bool) -> Value {
    w.poll(what, Duration::from_secs(30), || w.json(&["status"]), done)
}

fn host<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["hosts"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["name"] == name))
        .unwrap_or_else(|| panic!("no host {name} in {status:#}"))
}

fn devices(w: &World, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{}/dev/modem{i}", w.dir.path().display()))
        .collect()
}

/// Each modem listed as (host, device, state, host_state).
fn modems_of(v: &Value) -> Vec<(String, String, String, Option<String>)> {
    let s = |m: &Value, k: &str| m[k].as_str().map(str::to_string);
    v["modems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                s(m, "host").unwrap_or_default(),
                s(m, "device").unwrap(),
                s(m, "state").unwrap(),
                s(m, "host_state"),
            )
        })
        .collect()
}

#[test]
fn both_hosts_and_all_their_modems_show_on_either_and_a_killed_one_goes_silent_then_lost() {
    let Some(pg) = Scratch::new() else { return };
    let url = pg.url.clone();
    let a = host_on(&url, Some(pg), "site-a", 2);
    let mut b = host_on(&url, None, "site-b", 3);
    let (a_devices, b_devices) = (devices(&a, 2), devices(&b, 3));

    // Both hosts up, every modem ready, seen from either daemon.
    for (w, me, other) in [(&a, "site-a", "site-b"), (&b, "site-b", "site-a")] {
        let status = wait_status(w, "both hosts up with every modem ready", |s| {
            s["hosts"]
                .as_array()
                .is_some_and(|h| h.len() == 2 && h.iter().all(|h| h["state"] == "up"))
                && s["modems_ready"] == 5
                && s["modems_total"] == 5
        });
        assert_eq!(status["host"], me, "{status:#}");
        assert_eq!(host(&status, me)["this_daemon"], true, "{status:#}");
        assert_eq!(host(&status, other)["this_daemon"], false, "{status:#}");
        assert_eq!(host(&status, "site-a")["modems_total"], 2, "{status:#}");
        assert_eq!(host(&status, "site-b")["modems_ready"], 3, "{status:#}");
        assert_eq!(host(&status, other)["lease_secs"], LEASE_SECS, "{status:#}");
        let list = w.json(&["modem", "list"]);
        let listed = modems_of(&list);
        let want: Vec<(String, String)> = a_devices
            .iter()
            .map(|d| ("site-a".to_string(), d.clone()))
            .chain(b_devices.iter().map(|d| ("site-b".to_string(), d.clone())))
            .collect();
        let got: Vec<(String, String)> = listed
            .iter()
            .map(|(h, d, _, _)| (h.clone(), d.clone()))
            .collect();
        assert_eq!(got, want, "{list:#}");
        for (h, d, state, host_state) in &listed {
            assert_eq!(state, "ready", "{d}");
            // Its own modems are read live; the other host's come with that host's state.
            if h == me {
                assert_eq!(host_state, &None, "{d}");
            } else {
                assert_eq!(host_state.as_deref(), Some("up"), "{d}");
            }
        }
        assert_eq!(status["modems"], list["modems"]);
        // The HTTP API answers the same, and documents the new fields.
        let http = Http::new(w);
        let admin = token(w, &["--admin"]);
        let (code, over_http) = answer(http.get("/v1/modems", Some(&admin)).send().unwrap());
        assert_eq!(code, 200, "{over_http}");
        let got_http: Vec<(String, String)> = modems_of(&over_http)
            .into_iter()
            .map(|(h, d, _, _)| (h, d))
            .collect();
        assert_eq!(got_http, want, "{over_http:#}");
        let (code, over_http) = answer(http.get("/v1/status", Some(&admin)).send().unwrap());
        assert_eq!(code, 200, "{over_http}");
        assert_eq!(host(&over_http, me)["this_daemon"], true, "{over_http:#}");
        assert_eq!(host(&over_http, other)["state"], "up", "{over_http:#}");
        let (_, doc) = answer(http.get("/v1/openapi.json", None).send().unwrap());
        let schemas = &doc["components"]["schemas"];
        assert!(schemas["HostInfo"]["properties"]["heartbeat_age_secs"].is_object());
        assert!(schemas["ModemEntry"]["properties"]["host_state"].is_object());

        // For people: a hosts table and a host column, every device on it.
        let shown = human(w, &["status"]);
        assert!(shown.contains("hosts (2):"), "{shown}");
        assert!(shown.contains("modems (5):"), "{shown}");
        let listed = human(w, &["modem", "list"]);
        let heading = listed
            .lines()
            .skip_while(|l| !l.starts_with("modems (5):"))
            .nth(1)
            .unwrap_or_default();
        assert!(heading.starts_with("HOST    DEVICE"), "{listed}");
        for d in a_devices.iter().chain(&b_devices) {
            let line = listed
                .lines()
                .find(|l| l.contains(d.as_str()))
                .unwrap_or_else(|| panic!("{d} not listed:\n{listed}"));
            let owner = if a_devices.contains(d) {
                "site-a"
            } else {
                "site-b"
            };
            assert!(line.starts_with(owner), "{line}");
        }
    }

    // site-b killed: its heartbeat stops, it reads as silent, then another host (site-a)
    // declares it lost once its lease has run out.
    b.kill_daemon();
    let mut seen = Vec::new();
    let status = wait_status(&a, "site-b declared lost", |s| {
        let h = host(s, "site-b");
        seen.push((h["state"].as_str().unwrap().to_string(), h.clone()));
        h["state"] == "lost"
    });
    let states: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
    let silent_from = states.iter().position(|s| *s == "silent");
    assert!(
        silent_from.is_some(),
        "site-b never read as silent before it was lost: {states:?}"
    );
    for (state, h) in &seen[silent_from.unwrap()..] {
        // Once silent, no heartbeat came: the same one as at the kill or one more in flight.
        assert!(state == "silent" || state == "lost", "{states:?}");
        assert!(
            h["heartbeat_age_secs"].as_u64().unwrap() >= 1,
            "silent within half a lease of a heartbeat: {h}"
        );
    }
    let lost = host(&status, "site-b");
    // Declared lost only once its lease had run out since its last heartbeat.
    assert!(
        lost["heartbeat_age_secs"].as_u64().unwrap() >= LEASE_SECS,
        "lost before its lease ran out: {lost}"
    );
    assert_eq!(lost["recovered_by"], "site-a", "{status:#}");
    assert_eq!(lost["modems_ready"], 0, "{status:#}");
    assert_eq!(lost["modems_total"], 3, "{status:#}");
    assert_eq!(status["modems_ready"], 2, "{status:#}");
    for (h, d, _, host_state) in modems_of(&a.json(&["modem", "list"])) {
        if h == "site-b" {
            assert_eq!(host_state.as_deref(), Some("lost"), "{d}");
        }
    }
    let listed = human(&a, &["modem", "list"]);
    for d in &b_devices {
        let line = listed.lines().find(|l| l.contains(d.as_str())).unwrap();
        assert!(line.contains("lost"), "{line}");
    }
    let shown = human(&a, &["status"]);
    assert!(shown.contains("site-a"), "{shown}");
    assert!(shown.contains("lost"), "{shown}");
}
