//! The HTTP API's routes as a client meets them: the real daemon on emulated modems, a real
//! TCP port, tokens made with the real CLI, a real HTTP client. Sending a broadcast and
//! following it to `delivered`, who may send and read what (the socket's rules), quotas and
//! `Retry-After`, `Idempotency-Key` (repeats, another request under a key, concurrent
//! repeats), bad bodies and content types, the CSV import, and the management routes.

mod common;

use std::time::{Duration, Instant};

use common::daemon::{ops_group, World};
use common::http::{answer, token, Http, HTTP_ON};
use reqwest::blocking::RequestBuilder;
use reqwest::Method;
use serde_json::{json, Value};

fn request(http: &Http, method: Method, path: &str, token: &str) -> RequestBuilder {
    http.client
        .request(method, format!("{}{path}", http.base))
        .bearer_auth(token)
}

/// `method path` with a JSON `body`: the status and the JSON answer.
fn call(http: &Http, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let r = request(http, method, path, token);
    let r = match body {
        Some(b) => r.json(&b),
        None => r,
    };
    answer(r.send().unwrap())
}

fn get(http: &Http, path: &str, token: &str) -> (u16, Value) {
    call(http, Method::GET, path, token, None)
}

fn send(http: &Http, token: &str, group: &str, body: Value) -> (u16, Value) {
    call(
        http,
        Method::POST,
        &format!("/v1/groups/{group}/broadcasts"),
        token,
        Some(body),
    )
}

/// The broadcast as `GET /v1/broadcasts/{id}` shows it, once `done` holds (bounded: 30 s).
fn wait_broadcast(http: &Http, token: &str, id: i64, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, shown) = get(http, &format!("/v1/broadcasts/{id}"), token);
        assert_eq!(status, 200, "{shown}");
        if done(&shown) {
            return shown;
        }
        assert!(Instant::now() < deadline, "not after 30 s: {shown:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn a_broadcast_sent_over_http_is_delivered_and_names_its_token() {
    let w = World::start(
        2,
        |mut c| {
            for m in &mut c.modems {
                m.knobs.report_delay = Some(Duration::from_millis(100));
            }
            c
        },
        HTTP_ON,
    );
    ops_group(&w, 2);
    let http = Http::new(&w);
    let alice = token(&w, &["--member", "alice"]);
    let alice_id = w.json(&["token", "list"])["tokens"][0]["id"]
        .as_i64()
        .unwrap();

    let (status, sent) = send(&http, &alice, "ops", json!({"text": "明天上午九点开会"}));
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["recipients"], 3, "{sent}");
    assert_eq!(
        (sent["parts"].as_u64(), sent["encoding"].as_str()),
        (Some(1), Some("ucs2"))
    );
    // The quota left comes with it, as `group show` counts it.
    assert_eq!(sent["quota"]["day_used"], 1, "{sent}");
    assert_eq!(sent["quota"]["left"], sent["quota_left"], "{sent}");
    let id = sent["broadcast"].as_i64().unwrap();

    let shown = wait_broadcast(&http, &alice, id, |b| {
        b["deliveries"]
            .as_array()
            .is_some_and(|d| d.len() == 3 && d.iter().all(|d| d["state"] == "delivered"))
    });
    assert_eq!(shown["delivered"], 3, "{shown:#}");
    // The token that sent it is named, over HTTP and by the CLI.
    let label = format!("token:{alice_id}");
    assert_eq!(shown["caller"], label.as_str(), "{shown:#}");
    assert_eq!(w.show(id)["caller"], label.as_str());
    // Deliveries come in pages: `after` is the `next` of the page before.
    let (_, first) = get(&http, &format!("/v1/broadcasts/{id}?limit=2"), &alice);
    assert_eq!(first["deliveries"].as_array().unwrap().len(), 2, "{first}");
    let after = first["next"].as_i64().expect("a next page");
    let (_, second) = get(
        &http,
        &format!("/v1/broadcasts/{id}?limit=2&after={after}"),
        &alice,
    );
    assert_eq!(
        second["deliveries"].as_array().unwrap().len(),
        1,
        "{second}"
    );
    assert!(second["next"].is_null(), "{second}");

    // The list pages with the same cursor.
    let (status, again) = send(&http, &alice, "ops", json!({"text": "second"}));
    assert_eq!(status, 202, "{again}");
    let (status, page) = get(&http, "/v1/broadcasts?group=ops&limit=1", &alice);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["broadcasts"][0]["id"], again["broadcast"], "{page}");
    let next = page["next"].as_i64().expect("a second page");
    let (_, page) = get(
        &http,
        &format!("/v1/broadcasts?limit=1&after={next}"),
        &alice,
    );
    assert_eq!(page["broadcasts"][0]["id"], id, "{page}");
    assert!(page["next"].is_null(), "{page}");

    // Cancelling a finished broadcast is refused: nothing of it is left to cancel.
    let (status, body) = call(
        &http,
        Method::POST,
        &format!("/v1/broadcasts/{id}/cancel"),
        &alice,
        None,
    );
    assert_eq!((status, code(&body)), (422, "invalid_value"), "{body}");
}

#[test]
fn who_may_send_and_read_follows_the_socket_rules() {
    let w = World::start(1, |c| c, HTTP_ON);
    ops_group(&w, 1);
    w.ok(&["group", "create", "other", "--name", "Other"]);
    w.ok(&[
        "member",
        "add",
        "bob",
        "--name",
        "Bob",
        "--phone",
        "+8613700000001",
    ]);
    w.ok(&["member", "join", "bob", "other", "--role", "super_admin"]);
    let http = Http::new(&w);
    let alice = token(&w, &["--member", "alice"]);
    let m1 = token(&w, &["--member", "m1"]);
    let admin = token(&w, &["--admin"]);

    // A member's token acts as that member only.
    let (status, body) = send(&http, &alice, "ops", json!({"text": "hi", "as": "m1"}));
    assert_eq!((status, code(&body)), (403, "permission_denied"), "{body}");
    // A member who is no super-admin of the group may not send to it.
    let (status, body) = send(&http, &m1, "ops", json!({"text": "hi"}));
    assert_eq!((status, code(&body)), (403, "not_super_admin"), "{body}");
    // A management token must say whom it sends as.
    let (status, body) = send(&http, &admin, "ops", json!({"text": "hi"}));
    assert_eq!((status, code(&body)), (400, "bad_request"), "{body}");
    let (status, body) = send(&http, &admin, "other", json!({"text": "hi", "as": "bob"}));
    assert_eq!(status, 202, "{body}");
    let theirs = body["broadcast"].as_i64().unwrap();
    // Alice is not in group other: its broadcast is not hers to read.
    let (status, body) = get(&http, &format!("/v1/broadcasts/{theirs}"), &alice);
    assert_eq!((status, code(&body)), (403, "permission_denied"), "{body}");
    let (status, body) = get(&http, "/v1/broadcasts?group=other", &alice);
    assert_eq!(status, 403, "{body}");
    // Nor may a member manage groups.
    let (status, body) = call(
        &http,
        Method::POST,
        "/v1/groups",
        &alice,
        Some(json!({"handle": "mine", "name": "Mine"})),
    );
    assert_eq!((status, code(&body)), (403, "permission_denied"), "{body}");

    // Unknown things are 404.
    let (status, body) = send(&http, &alice, "nope", json!({"text": "hi"}));
    assert_eq!((status, code(&body)), (404, "unknown_group"), "{body}");
    let (status, body) = get(&http, "/v1/broadcasts/999", &admin);
    assert_eq!((status, code(&body)), (404, "unknown_broadcast"), "{body}");
    let (status, body) = get(&http, "/v1/broadcasts/abc", &admin);
    assert_eq!((status, code(&body)), (400, "bad_request"), "{body}");
}

#[test]
fn a_spent_quota_is_429_with_retry_after_and_keys_replay_without_using_quota() {
    let w = World::start(1, |c| c, HTTP_ON);
    ops_group(&w, 1);
    let http = Http::new(&w);
    let alice = token(&w, &["--member", "alice"]);
    let admin = token(&w, &["--admin"]);
    let (status, body) = call(
        &http,
        Method::PATCH,
        "/v1/groups/ops",
        &admin,
        Some(json!({"daily_quota": 3})),
    );
    assert_eq!(
        (status, body["daily_quota"].as_u64()),
        (200, Some(3)),
        "{body}"
    );
    let day_used = || {
        let (status, g) = get(&http, "/v1/groups/ops", &alice);
        assert_eq!(status, 200, "{g}");
        g["quota"]["day_used"].as_u64().unwrap()
    };
    let keyed = |key: &str, text: &str| {
        request(&http, Method::POST, "/v1/groups/ops/broadcasts", &alice)
            .header("idempotency-key", key)
            .json(&json!({"text": text}))
            .send()
            .unwrap()
    };

    // A repeat gets the first answer, byte for byte, and uses no quota.
    let first = keyed("order-17", "first");
    assert_eq!(first.status().as_u16(), 202);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = first.text().unwrap();
    assert_eq!(day_used(), 1);
    let repeat = keyed("order-17", "first");
    assert_eq!(repeat.status().as_u16(), 202);
    assert_eq!(
        repeat
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    assert_eq!(repeat.text().unwrap(), first);
    assert_eq!(day_used(), 1, "a repeat uses no quota");
    // The same key for another request is refused.
    let (status, body) = answer(keyed("order-17", "something else"));
    assert_eq!((status, code(&body)), (422, "invalid_value"), "{body}");
    // Another token's key of the same name is its own.
    let r = request(&http, Method::POST, "/v1/groups/ops/broadcasts", &admin)
        .header("idempotency-key", "order-17")
        .json(&json!({"text": "first", "as": "alice"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    assert_ne!(r.text().unwrap(), first);
    assert_eq!(day_used(), 2);
    // Malformed keys.
    for bad in ["", "has space", &"k".repeat(256)] {
        let (status, body) = answer(keyed(bad, "x"));
        assert_eq!(
            (status, code(&body)),
            (400, "bad_request"),
            "{bad:?}: {body}"
        );
    }

    // Concurrent requests with one key: one broadcast, one answer for all.
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let r = keyed("together", "at once");
                    (r.status().as_u16(), r.text().unwrap())
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(
        answers.iter().all(|a| a == &answers[0]),
        "different answers: {answers:#?}"
    );
    assert_eq!(answers[0].0, 202, "{answers:#?}");
    assert_eq!(day_used(), 3, "one broadcast for eight requests");

    // The daily quota of 3 is used: the 4th is 429, with the seconds until the reset.
    let r = request(&http, Method::POST, "/v1/groups/ops/broadcasts", &alice)
        .json(&json!({"text": "fourth"}))
        .send()
        .unwrap();
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400 + 3_600).contains(&retry), "{retry}");
    let (status, body) = answer(r);
    assert_eq!((status, code(&body)), (429, "quota_exceeded"), "{body}");
    // A repeat of an earlier key still gets its answer.
    let repeat = keyed("order-17", "first");
    assert_eq!(repeat.status().as_u16(), 202);
    assert_eq!(repeat.text().unwrap(), first);
    assert_eq!(day_used(), 3);
    // A refused send keeps no key: the same key may be tried again later.
    let (status, _) = answer(keyed("late", "late"));
    assert_eq!(status, 429);
    let (status, _) = answer(keyed("late", "another text"));
    assert_eq!(status, 429, "not 422: the refused request left no key");
}

#[test]
fn bad_bodies_and_content_types_get_clear_errors() {
    let limits = format!("{HTTP_ON}max_body_bytes = 1024\nmax_import_bytes = 4096\n");
    let w = World::start(1, |c| c, &limits);
    ops_group(&w, 0);
    let http = Http::new(&w);
    let alice = token(&w, &["--member", "alice"]);
    let post = || request(&http, Method::POST, "/v1/groups/ops/broadcasts", &alice);

    let (status, body) = answer(
        post()
            .header("content-type", "application/json")
            .body("{\"text\": ")
            .send()
            .unwrap(),
    );
    assert_eq!((status, code(&body)), (400, "bad_request"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not JSON"),
        "{body}"
    );
    let (status, body) = answer(
        post()
            .header("content-type", "text/plain")
            .body("{\"text\": \"hi\"}")
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, code(&body)),
        (415, "unsupported_media_type"),
        "{body}"
    );
    let (status, body) = answer(
        post()
            .json(&json!({"text": "hi", "priority": 9}))
            .send()
            .unwrap(),
    );
    assert_eq!((status, code(&body)), (400, "bad_request"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("priority"),
        "{body}"
    );
    let (status, body) = answer(
        post()
            .header("content-type", "application/json")
            .body(r#"{"text":"a","text":"b"}"#)
            .send()
            .unwrap(),
    );
    assert_eq!((status, code(&body)), (400, "bad_request"), "{body}");
    let (status, body) = answer(post().json(&json!({"text": "   "})).send().unwrap());
    assert_eq!((status, code(&body)), (422, "invalid_value"), "{body}");
    // Bodies longer than [http] max_body_bytes are refused; a CSV import may be longer, up to
    // max_import_bytes.
    let (status, body) = answer(
        post()
            .json(&json!({"text": "x".repeat(1100)}))
            .send()
            .unwrap(),
    );
    assert_eq!((status, code(&body)), (413, "too_large"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_body_bytes"),
        "{body}"
    );
    let admin = token(&w, &["--admin"]);
    let csv = |rows: usize| {
        let mut csv = String::from("handle,name,phone\n");
        for i in 0..rows {
            csv.push_str(&format!("imp{i},Imported {i},139{i:08}\n"));
        }
        request(&http, Method::POST, "/v1/members/import", &admin)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .unwrap()
    };
    let (status, body) = answer(csv(60));
    assert_eq!(
        (status, body["members_created"].as_u64()),
        (200, Some(60)),
        "{body}"
    );
    let (status, body) = answer(csv(200));
    assert_eq!((status, code(&body)), (413, "too_large"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_import_bytes"),
        "{body}"
    );
    // Nothing was sent.
    assert_eq!(w.json(&["group", "show", "ops"])["quota"]["day_used"], 0);
}

#[test]
fn groups_members_and_memberships_are_managed_over_http() {
    let w = World::start(1, |c| c, HTTP_ON);
    let http = Http::new(&w);
    let admin = token(&w, &["--admin"]);
    let c =
        |method: Method, path: &str, body: Option<Value>| call(&http, method, path, &admin, body);

    let (status, g) = c(
        Method::POST,
        "/v1/groups",
        Some(json!({"handle": "ops", "name": "运维组"})),
    );
    assert_eq!((status, g["handle"].as_str()), (201, Some("ops")), "{g}");
    let (status, body) = c(
        Method::POST,
        "/v1/groups",
        Some(json!({"handle": "ops", "name": "again"})),
    );
    assert_eq!((status, code(&body)), (409, "already_exists"), "{body}");
    let (status, g) = c(
        Method::PATCH,
        "/v1/groups/ops",
        Some(json!({"name": "Ops", "monthly_quota": 40})),
    );
    assert_eq!(
        (status, g["name"].as_str(), g["monthly_quota"].as_u64()),
        (200, Some("Ops"), Some(40)),
        "{g}"
    );
    let (status, body) = c(
        Method::PATCH,
        "/v1/groups/ops",
        Some(json!({"group": "other"})),
    );
    assert_eq!((status, code(&body)), (400, "bad_request"), "{body}");
    let (status, body) = c(
        Method::PATCH,
        "/v1/groups/ops",
        Some(json!({"daily_quota": 0})),
    );
    assert_eq!((status, code(&body)), (422, "invalid_value"), "{body}");

    let (status, m) = c(
        Method::POST,
        "/v1/members",
        Some(json!({"handle": "alice", "name": "Alice", "phone": "13800138000"})),
    );
    assert_eq!(
        (status, m["phone"].as_str()),
        (201, Some("+8613800138000")),
        "{m}"
    );
    let (status, m) = c(
        Method::PATCH,
        "/v1/members/alice",
        Some(json!({"name": "Alice W"})),
    );
    assert_eq!((status, m["name"].as_str()), (200, Some("Alice W")), "{m}");
    let (status, j) = c(
        Method::PUT,
        "/v1/groups/ops/members/alice",
        Some(json!({"role": "admin"})),
    );
    assert_eq!((status, j["role"].as_str()), (201, Some("admin")), "{j}");
    let (status, j) = c(
        Method::PUT,
        "/v1/groups/ops/members/alice/role",
        Some(json!({"role": "super_admin"})),
    );
    assert_eq!(
        (status, j["role"].as_str()),
        (200, Some("super_admin")),
        "{j}"
    );
    let (status, j) = c(Method::POST, "/v1/groups/ops/members/alice/opt-out", None);
    assert_eq!((status, j["opted_out"].as_bool()), (200, Some(true)), "{j}");
    let (status, j) = c(Method::POST, "/v1/groups/ops/members/alice/opt-in", None);
    assert_eq!(
        (status, j["opted_out"].as_bool()),
        (200, Some(false)),
        "{j}"
    );
    let (status, shown) = c(Method::GET, "/v1/groups/ops", None);
    assert_eq!(
        (status, shown["members"][0]["handle"].as_str()),
        (200, Some("alice")),
        "{shown}"
    );
    let (status, shown) = c(Method::GET, "/v1/members/alice", None);
    assert_eq!(
        (status, shown["groups"][0]["group"].as_str()),
        (200, Some("ops")),
        "{shown}"
    );
    let (status, list) = c(Method::GET, "/v1/members?group=ops", None);
    assert_eq!(
        (status, list["members"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{list}"
    );
    let (status, list) = c(Method::GET, "/v1/groups", None);
    assert_eq!(
        (status, list["groups"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{list}"
    );
    let (status, body) = c(Method::GET, "/v1/groups?bogus=1", None);
    assert_eq!((status, code(&body)), (400, "bad_request"), "{body}");

    // CSV import: one bad row refuses the file, naming its line; skip_bad imports the rest.
    let csv = "handle,name,phone,group,role\nbob,Bob,13900000001,ops,member\ncarol,Carol,not-a-phone,ops,member\n";
    let import = |query: &str, ct: &str| {
        answer(
            request(
                &http,
                Method::POST,
                &format!("/v1/members/import{query}"),
                &admin,
            )
            .header("content-type", ct)
            .body(csv)
            .send()
            .unwrap(),
        )
    };
    let (status, body) = import("", "text/csv");
    assert_eq!((status, code(&body)), (422, "invalid_value"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 3"),
        "{body}"
    );
    let (status, body) = import("", "application/json");
    assert_eq!(
        (status, code(&body)),
        (415, "unsupported_media_type"),
        "{body}"
    );
    // A dry run refuses the same way, and with skip_bad answers what the import would do,
    // writing nothing.
    let (status, body) = import("?dry_run=true", "text/csv");
    assert_eq!((status, code(&body)), (422, "invalid_value"), "{body}");
    let (status, body) = import("?dry_run=true&skip_bad=true", "text/csv");
    assert_eq!(
        (status, body["members_created"].as_u64(), &body["dry_run"]),
        (200, Some(1), &json!(true)),
        "{body}"
    );
    assert_eq!(
        (&body["skipped"][0]["line"], &body["skipped_total"]),
        (&json!(3), &json!(1)),
        "{body}"
    );
    assert_eq!(
        body["rows"],
        json!([{"line": 2, "member": "bob", "change": "created", "group": "ops",
                "membership": "added"}]),
        "{body}"
    );
    let (status, body) = c(Method::GET, "/v1/members/bob", None);
    assert_eq!(
        (status, code(&body)),
        (404, "unknown_member"),
        "a dry run wrote nothing: {body}"
    );
    let (status, body) = import("?skip_bad=true", "text/csv; charset=utf-8");
    assert_eq!(
        (status, body["members_created"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    assert_eq!(body["skipped"][0]["line"], 3, "{body}");

    let (status, body) = c(Method::DELETE, "/v1/groups/ops/members/bob", None);
    assert_eq!(
        (status, body["done"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let (status, body) = c(Method::DELETE, "/v1/members/bob", None);
    assert_eq!(status, 200, "{body}");
    let (status, body) = c(Method::GET, "/v1/members/bob", None);
    assert_eq!((status, code(&body)), (404, "unknown_member"), "{body}");
    let (status, body) = c(Method::DELETE, "/v1/groups/ops?force=true", None);
    assert_eq!(status, 200, "{body}");
    let (status, body) = c(Method::GET, "/v1/groups/ops", None);
    assert_eq!((status, code(&body)), (404, "unknown_group"), "{body}");

    // Inbox and modems.
    let (status, body) = c(Method::GET, "/v1/inbox", None);
    assert_eq!(
        (status, body["messages"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{body}"
    );
    let (status, body) = c(Method::GET, "/v1/inbox/5", None);
    assert_eq!((status, code(&body)), (404, "unknown_message"), "{body}");
    let (status, body) = c(Method::GET, "/v1/modems", None);
    assert_eq!(
        (status, body["modems"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{body}"
    );
    let (status, body) = c(Method::POST, "/v1/modems/nope/release", None);
    assert_eq!((status, code(&body)), (404, "unknown_modem"), "{body}");
}

/// Idempotency keys kept in the database, by reading it beside the daemon.
fn keys_kept(w: &World) -> i64 {
    w.count_rows("idempotency_keys")
}

#[test]
fn idempotency_keys_are_forgotten_a_day_after_their_first_use() {
    let mut w = World::prepare(1, |c| c, "", HTTP_ON);
    w.clock_start = Some("2026-03-02T02:10:00Z".into());
    w.start_daemon();
    ops_group(&w, 1);
    let alice = token(&w, &["--member", "alice"]);
    let keyed = |w: &World, text: &str| {
        let http = Http::new(w);
        answer(
            request(&http, Method::POST, "/v1/groups/ops/broadcasts", &alice)
                .header("idempotency-key", "daily-report")
                .json(&json!({"text": text}))
                .send()
                .unwrap(),
        )
    };
    let (status, first) = keyed(&w, "report of the 2nd");
    assert_eq!(status, 202, "{first}");
    assert_eq!(keys_kept(&w), 1);
    // 23 hours later the key still holds: another text under it is refused.
    w.stop_daemon();
    w.clock_start = Some("2026-03-03T01:10:00Z".into());
    w.start_daemon();
    let (status, body) = keyed(&w, "report of the 3rd");
    assert_eq!((status, code(&body)), (422, "invalid_value"), "{body}");
    assert_eq!(keys_kept(&w), 1);

    // 25 hours after its first use the upkeep task forgets it (at start, then hourly).
    w.stop_daemon();
    w.clock_start = Some("2026-03-03T03:10:00Z".into());
    w.start_daemon();
    let deadline = Instant::now() + Duration::from_secs(20);
    while keys_kept(&w) > 0 {
        assert!(
            Instant::now() < deadline,
            "the key is still kept after 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, again) = keyed(&w, "report of the 3rd");
    assert_eq!(status, 202, "{again}");
    assert_ne!(again["broadcast"], first["broadcast"]);
}
