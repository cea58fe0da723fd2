//! The web console in a real browser: the real daemon on emulated modems with its HTTP API
//! on a real port, tokens made with the real CLI, and headless Chromium driven through
//! WebDriver by the Python/Selenium suite `tests/web/console.py` (Debian packages
//! `chromium`, `chromium-driver`, `python3-selenium`, which `.ci/run` installs). The flows:
//! a wrong token refused; a plain member refused on the administrators' pages; signing out;
//! a super-admin previewing live as they type, confirming, and following every member to
//! `delivered` over Server-Sent Events; a reply arriving in the inbox linked to its
//! broadcast; an opt-out by reply shown in the group; a CSV import with one bad row refused
//! with its line number and nothing written; a failing webhook among the overview's
//! problems; the language switch. Screenshots of every
//! page, at 1280 and 360 px, go to `$GROUPSMS_SCREENSHOTS` when it is set
//! (`docs/screenshots/` keeps a set).
//!
//! Without Chromium, chromedriver or Selenium the test says so and passes, unless
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
    // alice (super-admin) and m1..m3: four recipients.
    ops_group(&w, 3);
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
    let night = w.json(&["group", "show", "night"]);
    assert_eq!(
        (&night["name"], &night["daily_quota"]),
        (&"夜班".into(), &5.into()),
        "{night:#}"
    );
    let missing = w.cli(&["member", "show", "n1"]);
    assert!(
        !missing.status.success(),
        "the refused import wrote nothing"
    );
}
