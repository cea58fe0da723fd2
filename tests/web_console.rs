//! The web console in a real browser: the real daemon on emulated modems with its HTTP API
//! on a real port, tokens made with the real CLI, and headless Chromium driven through
//! WebDriver by the Python/Selenium suite `tests/web/console.py` (Debian packages
//! `chromium`, `chromium-driver`, `python3-selenium`, which `.ci/run` installs). The flows:
//! a wrong token refused; a plain member refused on the administrators' pages; signing out;
//! a super-admin previewing live as they type (who is left out, by name, on demand),
//! confirming, and following every member to `delivered` over Server-Sent Events; a reply
//! arriving in the inbox linked to its broadcast; a message past 500 characters read whole;
//! an opt-out by reply shown in the group; a group's settings and a member changed and added
//! (refusals shown in the form); a CSV import previewed before anything is written (one bad
//! row named by its line; a file changed between preview and confirmation refused; a good
//! file written as previewed); a failing webhook among the overview's problems; the
//! language switch. Every page is audited by axe-core (npm package `axe-core`, which
//! `.ci/run` installs): a serious or critical violation fails. Screenshots of every
//! page, at 1280 and 360 px, go to `$GROUPSMS_SCREENSHOTS` when it is set
//! (`docs/screenshots/` keeps a set).
//!
//! Without Chromium, chromedriver, Selenium or axe-core the test says so and passes, unless
//! `GROUPSMS_REQUIRE_ORACLES=1` (CI), where it fails.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::daemon::{ops_group, World};
use common::http::{base, token, HTTP_ON};
use groupsms::emulator::AutoReply;

const PYTHON: &str = "/usr/bin/python3";
const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/web/console.py");
/// Where `npm install -g axe-core` puts its script (Debian's npm, or one in /usr/local).
const AXE: [&str; 2] = [
    "/usr/lib/node_modules/axe-core/axe.min.js",
    "/usr/local/lib/node_modules/axe-core/axe.min.js",
];

/// axe-core's script, if it is installed.
pub fn axe() -> Option<&'static str> {
    AXE.into_iter().find(|p| Path::new(p).exists())
}

/// Whether the browser and its driver are here; says what is missing otherwise.
pub fn browser_present() -> bool {
    let mut missing = Vec::new();
    for bin in ["/usr/bin/chromium", "/usr/bin/chromedriver", PYTHON] {
        if !Path::new(bin).exists() {
            missing.push(bin.to_string());
        }
    }
    if missing.is_empty() {
        let selenium = Command::new(PYTHON)
            .args(["-c", "import selenium"])
            .status()
            .is_ok_and(|s| s.success());
        if !selenium {
            missing.push("python3-selenium".into());
        }
    }
    if axe().is_none() {
        missing.push("axe-core (npm install -g axe-core)".into());
    }
    if missing.is_empty() {
        return true;
    }
    common::absent(&format!(
        "headless Chromium for the web console ({})",
        missing.join(", ")
    ));
    false
}

/// A local port nothing listens on (a webhook that fails: the overview names it).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn reply(number: &str, text: &str) -> AutoReply {
    AutoReply {
        pattern: number.into(),
        text: text.into(),
        delay: Duration::from_millis(300),
    }
}

#[test]
fn the_console_signs_in_sends_follows_and_manages_in_a_real_browser() {
    if !browser_present() {
        return;
    }
    let w = World::start(
        2,
        |mut c| {
            for m in &mut c.modems {
                // Reports come after the broadcast page has loaded: the page must follow them live.
                m.knobs.report_delay = Some(Duration::from_millis(1500));
                m.knobs.replies = vec![
                    reply("+8613900000001", "收到，谢谢"),
                    reply("+8613900000002", "TD"),
                ];
            }
            c
        },
        &format!(
            "{HTTP_ON}\n[[webhook]]\nurl = \"http://127.0.0.1:{}/hook\"\nname = \"ops-bus\"\n\
             events = [\"broadcast_finished\"]\nsecret = \"s3cret\"\n",
            closed_port()
        ),
    );
    // alice (super-admin) and m1..m3: four recipients; `quiet` is left out (SMS disabled).
    ops_group(&w, 3);
    w.ok(&[
        "member",
        "add",
        "quiet",
        "--name",
        "静音成员",
        "--phone",
        "+8613900000077",
    ]);
    w.ok(&["member", "join", "quiet", "ops"]);
    w.ok(&["member", "set", "quiet", "--sms-enabled", "false"]);
    // A message longer than the inbox list shows (500 characters), from m3.
    let long_end = "END-OF-REPORT";
    let long = format!(
        "{}{long_end}",
        (1..=50)
            .map(|i| format!("line {i:02} ok. "))
            .collect::<String>()
    );
    assert!(long.chars().count() > 500);
    w.block_on(w.emulator().deliver_sms(0, "+8613900000003", &long))
        .expect("deliver the long message");
    let pin = w.modems()[0]["device"].as_str().unwrap().to_string();
    let admin = token(&w, &["--admin"]);
    let sender = token(&w, &["--member", "alice"]);
    let member = token(&w, &["--member", "m1"]);
    let shots = std::env::var("GROUPSMS_SCREENSHOTS").unwrap_or_default();
    if !shots.is_empty() {
        std::fs::create_dir_all(&shots).unwrap();
    }
    let out = Command::new(PYTHON)
        .args([SUITE, "test"])
        .env("GSMS_BASE", base(&w))
        .env("GSMS_ADMIN", &admin)
        .env("GSMS_SENDER", &sender)
        .env("GSMS_MEMBER", &member)
        .env("GSMS_GROUP", "ops")
        .env("GSMS_RECIPIENTS", "4")
        .env("GSMS_OPTED_OUT", "m2")
        .env("GSMS_REPLY", "收到，谢谢")
        .env("GSMS_SHOTS", &shots)
        .env("GSMS_AXE", axe().unwrap())
        .env("GSMS_LEFT_OUT", "quiet")
        .env("GSMS_LEFT_OUT_NAME", "静音成员")
        .env("GSMS_LONG_END", long_end)
        .env("GSMS_PIN", &pin)
        .output()
        .expect("run the Selenium suite");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser suite failed:\n{stdout}\n{stderr}\n--- daemon log ---\n{}",
        w.daemon_log()
    );
    assert!(stdout.contains("every flow passed"), "{stdout}\n{stderr}");
    println!("{stdout}");
    // What the browser did is what the daemon holds: one broadcast, delivered to all four,
    // m2 opted out, and the refused import wrote nothing.
    let shown = w.show(1);
    assert_eq!(shown["delivered"], 4, "{shown:#}");
    assert!(
        shown["caller"].as_str().unwrap_or("").starts_with("token:"),
        "{shown:#}"
    );
    let group = w.json(&["group", "show", "ops"]);
    let m2 = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["handle"] == "m2")
        .cloned()
        .unwrap();
    assert_eq!(m2["opted_out"], true, "{group:#}");
    let m1 = &group["members"].as_array().unwrap()[1];
    assert_eq!(
        (&m1["handle"], &m1["role"]),
        (&"m1".into(), &"admin".into()),
        "{group:#}"
    );
    // The group as the browser changed it, and its new member.
    let night = w.json(&["group", "show", "night"]);
    let settings = [
        "name",
        "header",
        "daily_quota",
        "monthly_quota",
        "pinned_modems",
        "pin_fallback",
        "allow_urgent",
    ]
    .map(|k| night[k].clone());
    assert_eq!(
        settings,
        [
            "夜班组".into(),
            "【夜班通知】".into(),
            7.into(),
            100.into(),
            serde_json::json!([pin]),
            true.into(),
            true.into()
        ],
        "{night:#}"
    );
    let n9 = w.json(&["member", "show", "n9"]);
    assert_eq!(
        (&n9["name"], &n9["phone"], &n9["sms_enabled"], &n9["valid"]),
        (
            &"夜九九".into(),
            &"+8613900000009".into(),
            &false.into(),
            &true.into()
        ),
        "{n9:#}"
    );
    for (gone, why) in [
        ("n1", "the import refused at its preview wrote nothing"),
        ("n5", "the file changed after its preview wrote nothing"),
        ("n8", "the refused member was not added"),
    ] {
        assert!(!w.cli(&["member", "show", gone]).status.success(), "{why}");
    }
    for written in ["n3", "n4"] {
        let m = w.json(&["member", "show", written]);
        assert_eq!(m["groups"][0]["group"], "ops", "{m:#}");
    }
}
