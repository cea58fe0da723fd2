//! The HTTP API's front door, as a client meets it: the real daemon listening on a real TCP
//! port, tokens made with the real CLI, a real HTTP client. Who a token is, what a missing,
//! unknown, revoked or malformed one gets, and the error body's shape.

mod common;

use common::daemon::{ops_group, World};
use common::http::{answer, token, Http, HTTP_ON};

#[test]
fn a_token_made_with_the_cli_is_the_member_it_was_made_for_until_revoked() {
    let w = World::start(1, |c| c, HTTP_ON);
    ops_group(&w, 2);
    let http = Http::new(&w);

    // No token needed to ask whether the daemon is healthy.
    let (status, body) = answer(http.get("/healthz", None).send().unwrap());
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ok")),
        "{body}"
    );

    // Everything else needs one.
    let r = http.get("/v1/status", None).send().unwrap();
    assert_eq!(
        r.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some("Bearer")
    );
    let (status, body) = answer(r);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "{body}"
    );

    let alice = token(&w, &["--member", "alice", "--label", "im bot"]);
    assert!(alice.starts_with("gsms_"), "{alice}");
    let (status, body) = answer(http.get("/v1/status", Some(&alice)).send().unwrap());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    // A member does not see the SIMs' IMSIs (the same rule as on the socket).
    assert!(body["modems"][0]["imsi"].is_null(), "{body}");

    // A management token sees them.
    let admin = token(&w, &["--admin"]);
    let (status, body) = answer(http.get("/v1/status", Some(&admin)).send().unwrap());
    assert_eq!(status, 200, "{body}");
    assert!(body["modems"][0]["imsi"].is_string(), "{body}");

    // Unknown and malformed tokens.
    for header in ["Bearer gsms_0000", "Basic YWxpY2U6cHc=", "Bearer "] {
        let r = http
            .client
            .get(format!("{}/v1/status", http.base))
            .header("authorization", header)
            .send()
            .unwrap();
        let (status, body) = answer(r);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("unauthorized"))
        );
    }

    // Listed without its secret; revoked, it is refused at once.
    let list = w.json(&["token", "list"]);
    let tokens = list["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "{list}");
    assert!(
        !list.to_string().contains(&alice[5..]),
        "a secret is listed: {list}"
    );
    let mine = tokens
        .iter()
        .find(|t| t["member"] == "alice")
        .expect("alice's token is listed");
    assert_eq!(mine["label"], "im bot");
    assert_eq!(mine["active"], true);
    let id = mine["id"].as_i64().unwrap().to_string();
    let revoked = w.json(&["token", "revoke", &id]);
    assert_eq!(revoked["active"], false, "{revoked}");
    let (status, body) = answer(http.get("/v1/status", Some(&alice)).send().unwrap());
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
}

#[test]
fn tokens_are_made_on_the_socket_only_and_only_for_members_one_may_act_as() {
    let w = World::start(1, |c| c, HTTP_ON);
    ops_group(&w, 0);
    // Unknown member, and both kinds at once.
    let out = w.cli(&["--json", "token", "create", "--member", "nobody"]);
    assert!(!out.status.success());
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "unknown_member", "{err}");
    let out = w.cli(&["token", "create"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap asks for --member or --admin"
    );
    // A management token works over HTTP, and names who made it.
    let admin = token(&w, &["--admin"]);
    let http = Http::new(&w);
    let (status, _) = answer(http.get("/v1/status", Some(&admin)).send().unwrap());
    assert_eq!(status, 200);
    assert_eq!(
        w.json(&["token", "list"])["tokens"][0]["created_by"],
        "root"
    );
}
