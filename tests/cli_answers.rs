//! Every op through the real daemon and CLI: each answer reads as its type in `protocol` (the
//! CLI reads it so before printing; the test reads what the CLI printed the same way).

mod common;

use common::daemon::{ops_group, World};
use groupsms::protocol as p;
use groupsms::protocol::Role;
use serde::de::DeserializeOwned;

fn typed<T: DeserializeOwned>(w: &World, args: &[&str]) -> T {
    let v = w.json(args);
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{args:?}: {e}\n{v:#}"))
}

#[test]
fn every_answer_has_its_protocol_type() {
    let w = World::start(1, |c| c, "");
    ops_group(&w, 2);

    let status: p::StatusResult = typed(&w, &["status"]);
    assert_eq!((status.modems_total, status.modems.len()), (1, 1));
    let modems: p::ModemListResult = typed(&w, &["modem", "list"]);
    assert_eq!(modems.modems[0].max_per_hour, 200);

    let groups: p::GroupListResult = typed(&w, &["group", "list"]);
    assert_eq!(groups.groups[0].header, "【运维组】");
    let set: p::GroupInfo = typed(&w, &["group", "set", "ops", "--daily", "2"]);
    assert_eq!((set.daily_quota, set.monthly_quota), (2, 31));
    let show: p::GroupShow = typed(&w, &["group", "show", "ops"]);
    assert_eq!((show.quota.left, show.members.len()), (2, 3));
    assert_eq!(show.members[0].role, Role::SuperAdmin);

    let all: p::MemberListResult = typed(&w, &["member", "list"]);
    assert_eq!(all.members.len(), 3);
    assert!(all
        .members
        .iter()
        .all(|m| m.role.is_none() && m.opted_out.is_none()));
    let in_ops: p::MemberListResult = typed(&w, &["member", "list", "--group", "ops"]);
    assert_eq!(in_ops.members[1].role, Some(Role::Member));
    assert_eq!(in_ops.members[1].opted_out, Some(false));

    let role: p::MembershipInfo = typed(&w, &["member", "role", "m1", "ops", "admin"]);
    assert_eq!(role.role, Role::Admin);
    let out: p::MembershipInfo = typed(&w, &["member", "opt-out", "m1", "ops"]);
    assert!(out.opted_out);
    let back: p::MembershipInfo = typed(&w, &["member", "opt-in", "m1", "ops"]);
    assert!(!back.opted_out);
    let m1: p::MemberShow = typed(&w, &["member", "show", "m1"]);
    assert_eq!(m1.groups[0].role, Role::Admin);
    let left: p::Done = typed(&w, &["member", "leave", "m1", "ops"]);
    assert_eq!(
        (left.member.as_deref(), left.group.as_deref(), left.done),
        (Some("m1"), Some("ops"), true)
    );
    let added: p::MemberInfo = typed(
        &w,
        &[
            "member",
            "add",
            "zed",
            "--name",
            "Zed",
            "--phone",
            "13900000099",
            "--uid",
            "1234",
        ],
    );
    assert_eq!(
        (added.phone.as_str(), added.uid),
        ("+8613900000099", Some(1234))
    );
    let removed: p::Done = typed(&w, &["member", "remove", "zed"]);
    assert_eq!((removed.member, removed.done), (None, true));

    let sent: p::SendResult = typed(&w, &["send", "--group", "ops", "--as", "alice", "hi"]);
    assert_eq!((sent.recipients, sent.dropped_total), (2, 0));
    let id = sent.broadcast.to_string();
    let done: p::BroadcastProgress = w
        .follow(sent.broadcast, |_| false)
        .as_object()
        .map(|o| serde_json::from_value(serde_json::Value::Object(o.clone())).unwrap())
        .unwrap();
    assert_eq!((done.total, done.sent, done.finished), (2, 2, true));
    let list: p::BroadcastListResult = typed(&w, &["broadcast", "list"]);
    assert_eq!(list.broadcasts[0].sent, 2);
    let shown: p::BroadcastShow = typed(&w, &["broadcast", "show", &id]);
    assert_eq!(shown.deliveries.len(), 2);
    assert!(shown.deliveries.iter().all(|d| d.state == "sent"));

    // The human form of a one-group member list: the membership columns come last.
    let table = w.ok(&["member", "list", "--group", "ops"]);
    assert_eq!(
        table,
        "\nmembers (2):\n\
         HANDLE  NAME   PHONE           VALID  SMS_ENABLED  UID  ROLE         OPTED_OUT\n\
         alice   Alice  +8613800138000  true   true         -    super_admin  false\n\
         m2      成员2  +8613900000002  true   true         -    member       false\n"
    );

    let gone: p::Done = typed(&w, &["group", "delete", "ops"]);
    assert_eq!((gone.group, gone.done), (None, true));
}
