//! Carrier-aware routing through the real daemon: each SIM's carrier is learnt from its IMSI
//! (emulated SIMs of China Mobile and China Unicom), `modem list` shows it, and with both SIMs
//! idle when a broadcast starts, each takes a recipient of its own carrier first.

mod common;

use common::daemon::{ops_group, World};

#[test]
fn each_sim_s_carrier_comes_from_its_imsi_and_it_starts_with_its_own_carrier_s_recipients() {
    let w = World::start(2, |c| c.modem(1, |m| m.knobs.plmn = "46001".into()), "");
    let dev = |i: usize| w.emulator().path(i).display().to_string();
    let modems = w.wait_modems("both modems ready", |m| {
        m.len() == 2 && m.iter().all(|m| m["state"] == "ready")
    });
    for m in &modems {
        let want = if m["device"] == dev(1).as_str() {
            "china_unicom"
        } else {
            "china_mobile"
        };
        assert_eq!(m["carrier"], want, "{m:#}");
    }
    // alice (138) and m1 (139): China Mobile; u1 (186): China Unicom, added last.
    ops_group(&w, 1);
    w.ok(&[
        "member",
        "add",
        "u1",
        "--name",
        "联通用户",
        "--phone",
        "+8618600000001",
    ]);
    w.ok(&["member", "join", "u1", "ops"]);
    let id = w.send("ops", "alice", "今晚聚餐");
    assert_eq!(w.follow(id, |_| false)["sent"], 3);
    // The Unicom SIM's first (and, at equal speed, only) message went to the Unicom number,
    // though it was queued last.
    let parts = w.sent_parts();
    let first_unicom = parts
        .iter()
        .find(|p| p.modem == 1)
        .expect("the Unicom SIM sent something");
    assert_eq!(first_unicom.to, "+8618600000001", "{parts:#?}");
    let first_mobile = parts
        .iter()
        .find(|p| p.modem == 0)
        .expect("the Mobile SIM sent");
    assert!(first_mobile.to.starts_with("+86138") || first_mobile.to.starts_with("+86139"));
}
