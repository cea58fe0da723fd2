//! Through the real binary, the socket and emulated modems on PTYs: a broadcast that cannot
//! start now is accepted and says why (no modem in the pool, its group pinned to an absent SIM
//! without fallback, every SIM at its cap, the quiet hours), `status` and `broadcast show` say
//! it too; `send --urgent` goes out inside the quiet hours where the group allows it;
//! `broadcast cancel` and `group delete --force` cancel what is still queued.

mod common;

use chrono::{Duration, Timelike, Utc};
use common::daemon::{open_to_others, ops_group, World};
use serde_json::Value;

/// Waits until the pool has taken every modem in (it then knows its SIM's use).
fn wait_pool(w: &World, n: usize) {
    w.wait_modems("modems in the pool", |m| {
        m.len() == n && m.iter().all(|m| m["sent_this_hour"].is_u64())
    });
}

/// `send --json` for `text`, as alice to ops.
fn send(w: &World, text: &str) -> Value {
    w.json(&["send", "--group", "ops", "--as", "alice", text])
}

/// The broadcast's entry in `status`'s `waiting` list.
fn status_waiting(w: &World, id: i64) -> Option<Value> {
    let status = w.json(&["status"]);
    status["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["broadcast"] == id)
        .cloned()
}

fn audit(w: &World) -> Vec<String> {
    let mut store = w.open_store();
    store
        .audit_log(50)
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {} {}: {}", e.actor, e.action, e.subject, e.detail))
        .collect()
}

#[test]
fn no_modem_in_the_pool_the_broadcast_waits_and_says_so_then_is_cancelled() {
    let mut w = World::prepare(1, |c| c, "", "");
    let config = std::fs::read_to_string(w.config()).unwrap();
    // A glob that matches nothing: no modem in the pool.
    std::fs::write(w.config(), config.replace("/dev/modem*", "/dev/absent*")).unwrap();
    w.start_daemon();
    ops_group(&w, 2);

    let human = w.ok(&["send", "--group", "ops", "--as", "alice", "停机通知"]);
    assert!(
        human.contains("accepted, 3 deliveries, waiting: no modem is ready in the pool"),
        "{human}"
    );
    let sent = send(&w, "第二条");
    assert_eq!(sent["waiting"]["reason"], "no_modem", "{sent}");
    assert_eq!(sent["waiting"]["until"], Value::Null);
    let id = sent["broadcast"].as_i64().unwrap();

    let listed = status_waiting(&w, id).expect("status lists the waiting broadcast");
    assert_eq!(listed["deliveries"], 3, "{listed}");
    assert_eq!(listed["reason"], "no_modem");
    assert_eq!(listed["group"], "ops");
    let human = w.ok(&["status"]);
    assert!(human.contains("\nwaiting (2):\n"), "{human}");
    let row = human
        .lines()
        .find(|l| l.trim_start().starts_with(&id.to_string()))
        .unwrap_or_else(|| panic!("{human}"));
    assert!(
        row.contains("ops") && row.contains("no_modem") && row.contains("no modem is ready"),
        "{row}"
    );
    let shown = w.show(id);
    assert_eq!(shown["waiting_reason"]["reason"], "no_modem", "{shown}");
    assert_eq!(
        shown["waiting_reason"]["message"],
        "no modem is ready in the pool"
    );

    // Cancelled: every queued delivery, in one go; the broadcast says so.
    let done = w.ok(&["broadcast", "cancel", &id.to_string()]);
    assert_eq!(
        done,
        format!("broadcast {id} cancelled: 3 queued deliveries cancelled, 0 already sent\n")
    );
    let shown = w.show(id);
    assert_eq!(
        (&shown["cancelled"], &shown["waiting"], &shown["finished"]),
        (&Value::from(3), &Value::from(0), &Value::from(true)),
        "{shown}"
    );
    assert_eq!(shown["cancelled_by"], "root");
    assert!(shown["cancelled_at"].is_string(), "{shown}");
    assert_eq!(shown["waiting_reason"], Value::Null);
    for d in shown["deliveries"].as_array().unwrap() {
        assert_eq!(d["state"], "cancelled", "{d}");
        assert_eq!(d["error"], "the broadcast was cancelled by root");
    }
    assert!(status_waiting(&w, id).is_none());

    // Twice: a clear refusal, nothing changes.
    let again = w.cli(&["--json", "broadcast", "cancel", &id.to_string()]);
    assert_eq!(again.status.code(), Some(65));
    let err: Value = serde_json::from_slice(&again.stderr).unwrap();
    assert_eq!(err["error"]["code"], "invalid_value");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("broadcast {id} was already cancelled (")),
        "{message}"
    );
    assert!(
        message.ends_with("by root); nothing is left to cancel"),
        "{message}"
    );
    // An unknown broadcast: not found.
    assert_eq!(
        w.cli(&["broadcast", "cancel", "999"]).status.code(),
        Some(67)
    );
    w.stop_daemon();
    assert!(
        audit(&w).contains(&format!(
            "root cancel_broadcast ops: cancelled broadcast {id}: 3 queued deliveries \
             cancelled, 0 already sent, 0 being sent"
        )),
        "{:#?}",
        audit(&w)
    );
}

#[test]
fn a_group_pinned_to_an_absent_sim_waits_and_is_deleted_only_with_force() {
    let mut w = World::start(1, |c| c, "");
    wait_pool(&w, 1);
    ops_group(&w, 2);
    w.ok(&[
        "group",
        "set",
        "ops",
        "--pin-modems",
        "460009999999999",
        "--pin-fallback",
        "false",
    ]);
    let sent = send(&w, "只走指定的卡");
    let id = sent["broadcast"].as_i64().unwrap();
    assert_eq!(sent["waiting"]["reason"], "pinned_sim_absent", "{sent}");
    assert_eq!(
        sent["waiting"]["message"],
        "the SIM the group is pinned to is not in the pool, and the group may not fall back \
         to other modems"
    );
    assert_eq!(
        status_waiting(&w, id).unwrap()["reason"],
        "pinned_sim_absent"
    );

    // An active broadcast: refused, naming --force; nothing deleted.
    let refused = w.cli(&["group", "delete", "ops"]);
    assert_eq!(refused.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "group 'ops' has 1 broadcast(s) still being sent (#{id}): `groupsms group delete \
             ops --force` cancels what is still queued and deletes the group"
        )),
        "{stderr}"
    );
    w.ok(&["group", "show", "ops"]);

    let deleted = w.json(&["group", "delete", "ops", "--force"]);
    assert_eq!(deleted["done"], true, "{deleted}");
    assert_eq!(deleted["cancelled"], 3, "{deleted}");
    assert_eq!(w.cli(&["group", "show", "ops"]).status.code(), Some(67));
    let shown = w.show(id);
    assert_eq!(shown["cancelled"], 3, "{shown}");
    assert_eq!(shown["finished"], true);
    assert_eq!(shown["cancelled_by"], "root");
    assert!(status_waiting(&w, id).is_none());
    assert!(w.sent_parts().is_empty(), "nothing was sent");
    w.stop_daemon();
    let log = audit(&w);
    assert!(
        log.contains(
            &"root delete_group ops: deleted group 'ops' with --force: 1 broadcast(s) \
             cancelled, 3 queued deliveries"
                .to_string()
        ),
        "{log:#?}"
    );
}

#[test]
fn a_capped_sim_sends_one_and_the_rest_wait_for_the_next_hour_until_cancelled() {
    let w = World::start(1, |c| c, "max_per_hour = 1\n");
    wait_pool(&w, 1);
    ops_group(&w, 2);
    w.ok(&["member", "set", "alice", "--uid", "65533"]);
    w.ok(&["member", "set", "m1", "--uid", "65534"]);
    open_to_others(&w);

    let sent = send(&w, "限额测试");
    let id = sent["broadcast"].as_i64().unwrap();
    assert_eq!(sent["waiting"]["reason"], "capped", "{sent}");
    // The cap's window is the local clock hour (Asia/Shanghai by default): it frees at the
    // next one.
    let until: chrono::DateTime<chrono::FixedOffset> =
        sent["waiting"]["until"].as_str().unwrap().parse().unwrap();
    let now = Utc::now();
    let ahead = until.with_timezone(&Utc) - now;
    assert!(
        ahead > Duration::zero() && ahead <= Duration::hours(1),
        "{until}"
    );
    assert_eq!((until.minute(), until.second()), (0, 0), "{until}");
    let message = sent["waiting"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("every SIM it may use is at its hourly or daily cap until "),
        "{message}"
    );

    // One goes out; the other two wait, and status says why.
    let totals = w.follow(id, |t| t["sent"] == 1);
    assert_eq!(totals["sent"], 1, "{totals}");
    let listed = status_waiting(&w, id).expect("status lists it");
    assert_eq!(listed["deliveries"], 2, "{listed}");
    assert_eq!(listed["reason"], "capped");
    assert_eq!(w.show(id)["waiting_reason"]["reason"], "capped");

    // A plain member may not cancel it (permission class); its super-admin may.
    let refused = w.cli_as(65534, 65534, &["broadcast", "cancel", &id.to_string()]);
    assert_eq!(refused.status.code(), Some(77));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "unix user 65534 may not cancel broadcast {id}: only a super-admin of group 'ops' \
             or an administrator may"
        )),
        "{stderr}"
    );
    let out = w.cli_as(
        65533,
        65533,
        &["--json", "broadcast", "cancel", &id.to_string()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&done["cancelled"], &done["sent"], &done["sending"]),
        (&Value::from(2), &Value::from(1), &Value::from(0)),
        "{done}"
    );
    let shown = w.show(id);
    assert_eq!(shown["cancelled_by"], "uid:65533", "{shown}");
    assert_eq!(
        (shown["sent"].as_u64(), shown["cancelled"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(status_waiting(&w, id).is_none());
    assert_eq!(w.sent_parts().len(), 1, "only the first delivery went out");
}

/// A quiet window around the daemon's "now" in its zone (Asia/Shanghai by default): from an
/// hour ago to two hours ahead, so the test never runs near its edges.
fn quiet_window_around_now() -> String {
    let local = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
    let start = local - Duration::hours(1);
    let end = local + Duration::hours(2);
    format!("{}-{}", start.format("%H:%M"), end.format("%H:%M"))
}

#[test]
fn inside_the_quiet_hours_broadcasts_wait_and_urgent_ones_go_where_allowed() {
    let window = quiet_window_around_now();
    let mut w = World::prepare(1, |c| c, "", "");
    let config = std::fs::read_to_string(w.config()).unwrap();
    let quiet = config.replacen(
        "[scheduler]\n",
        &format!("[scheduler]\nquiet_hours = \"{window}\"\n"),
        1,
    );
    std::fs::write(w.config(), &quiet).unwrap();
    w.start_daemon();
    wait_pool(&w, 1);
    let numbers = ops_group(&w, 2);

    let status = w.json(&["status"]);
    assert_eq!(status["quiet_hours"], window.as_str(), "{status}");
    let human = w.ok(&["send", "--group", "ops", "--as", "alice", "明早开会"]);
    let prefix = format!("accepted, 3 deliveries, waiting: quiet hours ({window}) until ");
    assert!(human.contains(&prefix), "{human}");
    let listed = w.json(&["broadcast", "list"]);
    let waiting = listed["broadcasts"][0]["id"].as_i64().unwrap();
    assert_eq!(
        listed["broadcasts"][0]["waiting_reason"]["reason"], "quiet_hours",
        "{listed}"
    );
    let listed = status_waiting(&w, waiting).expect("status lists it");
    assert_eq!(listed["reason"], "quiet_hours", "{listed}");
    assert_eq!(listed["deliveries"], 3);

    // Urgent: refused until the group allows it.
    let refused = w.cli(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--urgent",
        "机房着火",
    ]);
    assert_eq!(refused.status.code(), Some(77));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("group 'ops' does not allow urgent sending"),
        "{stderr}"
    );
    let group = w.json(&["group", "set", "ops", "--allow-urgent", "true"]);
    assert_eq!(group["allow_urgent"], true, "{group}");
    let urgent = w.json(&[
        "send",
        "--group",
        "ops",
        "--as",
        "alice",
        "--urgent",
        "机房着火",
    ]);
    assert_eq!(urgent["waiting"], Value::Null, "{urgent}");
    let urgent_id = urgent["broadcast"].as_i64().unwrap();
    let done = w.follow(urgent_id, |_| false);
    assert_eq!(done["sent"], 3, "{done}");
    assert_eq!(w.show(urgent_id)["urgent"], true);
    // Finished: nothing left to cancel.
    let finished = w.cli(&["broadcast", "cancel", &urgent_id.to_string()]);
    assert_eq!(finished.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&finished.stderr);
    assert!(
        stderr.contains(&format!(
            "broadcast {urgent_id} is finished (3 sent, 0 failed, 0 cancelled); nothing is left \
             to cancel"
        )),
        "{stderr}"
    );

    // The urgent one overtook the waiting one, which sent nothing.
    let shown = w.show(waiting);
    assert_eq!(
        (shown["waiting"].as_u64(), shown["sent"].as_u64()),
        (Some(3), Some(0)),
        "{shown}"
    );
    assert_eq!(shown["waiting_reason"]["reason"], "quiet_hours");
    let phones = w.phones();
    for n in &numbers {
        assert_eq!(phones.phone(n).texts(), vec!["【运维组】机房着火"], "{n}");
    }

    // After a restart inside the window it still waits.
    w.stop_daemon();
    w.start_daemon();
    wait_pool(&w, 1);
    assert_eq!(w.show(waiting)["waiting_reason"]["reason"], "quiet_hours");
    // Without quiet hours (the window over), what waited goes out.
    w.stop_daemon();
    std::fs::write(w.config(), &config).unwrap();
    w.start_daemon();
    let done = w.follow(waiting, |_| false);
    assert_eq!(done["sent"], 3, "{done}");
}
