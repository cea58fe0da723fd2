//! Property-based checks of the live HTTP API against its own OpenAPI document with
//! [schemathesis](https://schemathesis.readthedocs.io/): generated requests (valid and not)
//! for every documented operation, on the real daemon with emulated modems. Checks: no answer
//! is a server error, every answer's status, content type and body are the documented ones.
//!
//! Optional: it runs when `schemathesis` is on the PATH (or `GROUPSMS_SCHEMATHESIS` names it),
//! and says it skipped otherwise (`pip install schemathesis`); CI does not install it.

mod common;

use std::process::Command;

use common::daemon::{ops_group, World};
use common::http::{base, token, HTTP_ON};

fn schemathesis() -> Option<String> {
    let program = std::env::var("GROUPSMS_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into());
    let found = Command::new(&program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    found.then_some(program)
}

#[test]
fn generated_requests_get_documented_answers_and_no_server_error() {
    let Some(program) = schemathesis() else {
        eprintln!("skipped: schemathesis is not installed (pip install schemathesis)");
        return;
    };
    let w = World::start(1, |c| c, HTTP_ON);
    ops_group(&w, 2);
    let admin = token(&w, &["--admin"]);
    let base = base(&w);
    // Run in the test's directory: schemathesis keeps its cache where it runs.
    let out = Command::new(program)
        .current_dir(w.dir.path())
        .args(["run", &format!("{base}/v1/openapi.json"), "--url", &base])
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance",
        ])
        .args(["--max-examples", "30", "--generation-deterministic"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{text}\n--- daemon log ---\n{}",
        w.daemon_log()
    );
    assert!(
        w.json(&["status"])["version"].is_string(),
        "the daemon is up"
    );
}
