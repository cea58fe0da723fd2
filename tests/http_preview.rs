//! `POST /v1/groups/{group}/broadcasts/preview` (the socket's `send_preview`) as a client
//! meets it: the real daemon, a real port, tokens from the real CLI. The preview judges a
//! message as `send` does (the same service function): its refusal is the error `send`
//! answers, its recipients are the ones `send` reaches, and nothing is written or used.
//! Also the console's session on the API: its cookie stands for the token, and a request that
//! changes something needs the session's CSRF token.

mod common;

use common::daemon::{ops_group, World};
use common::http::{answer, token, Http, HTTP_ON};
use serde_json::{json, Value};

fn preview(http: &Http, token: &str, body: Value) -> (u16, Value) {
    answer(
        http.post("/v1/groups/ops/broadcasts/preview", Some(token))
            .json(&body)
            .send()
            .unwrap(),
    )
}

fn send(http: &Http, token: &str, body: Value) -> (u16, Value) {
    answer(
        http.post("/v1/groups/ops/broadcasts", Some(token))
            .json(&body)
            .send()
            .unwrap(),
    )
}

#[test]
fn the_preview_judges_as_send_does_and_uses_nothing() {
    let w = World::start(1, |c| c, HTTP_ON);
    ops_group(&w, 3);
    let http = Http::new(&w);
    let admin = token(&w, &["--admin"]);
    let alice = token(&w, &["--member", "alice"]);
    let m1 = token(&w, &["--member", "m1"]);
    let (s, _) = answer(
        http.post("/v1/groups/ops/members/m3/opt-out", Some(&admin))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);

    // A sensitive word spread out with spaces: found, placed in characters, and refused.
    let text = "明天 赌 博 开会";
    let (s, pv) = preview(&http, &alice, json!({"text": text}));
    assert_eq!(s, 200, "{pv}");
    assert_eq!(pv["refusal"]["code"], "sensitive_words", "{pv:#}");
    assert_eq!(
        pv["sensitive"],
        json!([{"word": "赌博", "start": 3, "end": 6}])
    );
    assert_eq!(pv["header"], "【运维组】");
    assert_eq!(pv["text"], format!("【运维组】{text}"));
    assert_eq!(pv["encoding"], "ucs2");
    assert_eq!(
        (pv["parts"].as_u64(), pv["per_part"].as_u64()),
        (Some(1), Some(70))
    );
    assert_eq!(
        pv["units"].as_u64().unwrap() + pv["remaining"].as_u64().unwrap(),
        70,
        "{pv:#}"
    );
    assert_eq!(pv["recipients"], 3, "alice, m1, m2: {pv:#}");
    assert_eq!(pv["dropped"]["opted_out"], 1);
    assert_eq!(pv["dropped_total"], 1);
    // Who is left out, by name.
    assert_eq!(
        pv["left_out"],
        json!({"opted_out": [{"handle": "m3", "name": "成员3"}], "invalid": [],
               "sms_disabled": [], "duplicate": []}),
        "{pv:#}"
    );
    assert_eq!(pv["quota"]["day_used"], 0);
    // send says the same.
    let (s, refused) = send(&http, &alice, json!({"text": text}));
    assert_eq!(s, 422);
    assert_eq!(refused["error"]["code"], pv["refusal"]["code"]);
    assert_eq!(refused["error"]["message"], pv["refusal"]["message"]);

    // Too long: measured all the same, and refused as send refuses it.
    let long = "长".repeat(400);
    let (s, pv) = preview(&http, &alice, json!({"text": long}));
    assert_eq!(s, 200, "{pv}");
    assert_eq!(pv["refusal"]["code"], "too_many_parts", "{pv:#}");
    assert!(pv["parts"].as_u64().unwrap() > pv["max_parts"].as_u64().unwrap());
    let (s, refused) = send(&http, &alice, json!({"text": long}));
    assert_eq!(
        (s, &refused["error"]["code"]),
        (422, &json!("too_many_parts"))
    );

    // A clean message: accepted by both, with the same recipients; the preview used nothing.
    for _ in 0..5 {
        let (s, pv) = preview(&http, &alice, json!({"text": "明天开会"}));
        assert_eq!(s, 200);
        assert!(pv["refusal"].is_null(), "{pv:#}");
    }
    let (_, group) = answer(http.get("/v1/groups/ops", Some(&admin)).send().unwrap());
    assert_eq!(
        group["quota"]["day_used"], 0,
        "previews use no quota: {group:#}"
    );
    let (_, list) = answer(http.get("/v1/broadcasts", Some(&admin)).send().unwrap());
    assert_eq!(list["broadcasts"], json!([]), "previews write nothing");
    let (_, pv) = preview(&http, &alice, json!({"text": "明天开会"}));
    let (s, sent) = send(&http, &alice, json!({"text": "明天开会"}));
    assert_eq!(s, 202, "{sent}");
    assert_eq!(sent["recipients"], pv["recipients"]);
    assert_eq!(sent["text"], pv["text"]);
    assert_eq!(sent["parts"], pv["parts"]);
    let (_, pv) = preview(&http, &alice, json!({"text": "明天开会"}));
    assert_eq!(pv["quota"]["day_used"], 1, "{pv:#}");

    // Who may: a plain member may not; a management token names the sender.
    let (s, no) = preview(&http, &m1, json!({"text": "x"}));
    assert_eq!((s, &no["error"]["code"]), (403, &json!("not_super_admin")));
    let (s, no) = preview(&http, &admin, json!({"text": "x"}));
    assert_eq!((s, &no["error"]["code"]), (400, &json!("bad_request")));
    let (s, pv) = preview(&http, &admin, json!({"text": "x", "as": "alice"}));
    assert_eq!((s, &pv["as"]), (200, &json!("alice")));
    let (s, _) = answer(
        http.post("/v1/groups/ops/broadcasts/preview", Some(&alice))
            .body("{\"text\": \"x\"}")
            .send()
            .unwrap(),
    );
    assert_eq!(s, 415, "a body without its JSON type");
}

/// A big group leaves out many: the preview names the first ten of a reason, in member
/// order, and counts them all.
#[test]
fn the_preview_names_the_first_members_left_out_and_counts_the_rest() {
    let w = World::start(1, |c| c, HTTP_ON);
    ops_group(&w, 0);
    // 25 members sharing alice's number: each one a duplicate.
    let mut csv = String::from("handle,name,phone,group,role\n");
    for i in 1..=25 {
        csv.push_str(&format!("d{i:02},双号{i},+8613800138000,ops,member\n"));
    }
    let http = Http::new(&w);
    let admin = token(&w, &["--admin"]);
    let (s, done) = answer(
        http.post("/v1/members/import", Some(&admin))
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200, "{done}");
    let alice = token(&w, &["--member", "alice"]);
    let (s, pv) = preview(&http, &alice, json!({"text": "开会"}));
    assert_eq!(s, 200, "{pv}");
    assert_eq!(
        (&pv["recipients"], &pv["dropped"]["duplicate"]),
        (&json!(1), &json!(25))
    );
    let named: Vec<(String, String)> = pv["left_out"]["duplicate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["handle"].as_str().unwrap().into(),
                m["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = (1..=10)
        .map(|i| (format!("d{i:02}"), format!("双号{i}")))
        .collect();
    assert_eq!(named, want, "{pv:#}");
}

/// The value of `name="csrf"`-like attributes: the text between `marker` and the next `"`.
fn between<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"))
        + marker.len();
    &html[at..at + html[at..].find('"').unwrap()]
}

const FORM: &str = "application/x-www-form-urlencoded";

/// A form body, each byte but letters and digits percent-encoded.
fn encode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn set_cookie(r: &reqwest::blocking::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

#[test]
fn a_console_session_stands_for_its_token_and_changes_need_its_csrf_token() {
    let w = World::start(1, |c| c, HTTP_ON);
    ops_group(&w, 1);
    let http = Http::new(&w);
    let alice = token(&w, &["--member", "alice"]);
    let no_redirects = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str, cookie: &str| {
        no_redirects
            .get(format!("{}{path}", http.base))
            .header("cookie", cookie)
            .send()
            .unwrap()
    };
    // The sign-in form's nonce, in its cookie and in the form.
    let form = get("/console/login", "");
    let nonce_cookie = set_cookie(&form, "gsms_login").expect("the form's cookie");
    let nonce = nonce_cookie["gsms_login=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = form.text().unwrap();
    assert_eq!(between(&html, "name=\"nonce\" value=\""), nonce);
    let login = |token: &str, nonce_sent: &str| {
        no_redirects
            .post(format!("{}/console/login", http.base))
            .header("cookie", format!("gsms_login={nonce}"))
            .header("content-type", FORM)
            .body(encode(&[
                ("token", token),
                ("nonce", nonce_sent),
                ("next", "/console/"),
            ]))
            .send()
            .unwrap()
    };
    // A wrong token, and a form without its nonce, open nothing.
    let wrong = login("gsms_nope", &nonce);
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(set_cookie(&wrong, "gsms_console").is_none());
    assert!(wrong.text().unwrap().contains("not known"));
    let forged = login(&alice, "0");
    assert_eq!(forged.status().as_u16(), 403);
    assert!(set_cookie(&forged, "gsms_console").is_none());
    // The right token: a session cookie that does not carry it.
    let ok = login(&alice, &nonce);
    assert_eq!(ok.status().as_u16(), 303);
    let session = set_cookie(&ok, "gsms_console").expect("a session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    assert!(!session.contains(&alice[5..]), "{session}");
    let cookie = session.split(';').next().unwrap().to_string();
    let page = get("/console/send", &cookie);
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text().unwrap();
    let csrf = between(&html, "<meta name=\"csrf\" content=\"").to_string();
    // Reading through the session: the API answers as to alice's token.
    let (s, list) = answer(get("/v1/broadcasts", &cookie));
    assert_eq!(s, 200, "{list}");
    // A change through the session without its CSRF token is refused; with it, answered.
    let post = |csrf: Option<&str>| {
        let r = no_redirects
            .post(format!("{}/v1/groups/ops/broadcasts/preview", http.base))
            .header("cookie", &cookie)
            .json(&json!({"text": "明天开会"}));
        let r = match csrf {
            Some(c) => r.header("x-csrf-token", c),
            None => r,
        };
        answer(r.send().unwrap())
    };
    let (s, no) = post(None);
    assert_eq!(
        (s, &no["error"]["code"]),
        (403, &json!("permission_denied")),
        "{no}"
    );
    let (s, _) = post(Some("0000"));
    assert_eq!(s, 403);
    let (s, pv) = post(Some(&csrf));
    assert_eq!(s, 200, "{pv}");
    assert_eq!(pv["recipients"], 2);
    // A console form without the CSRF token changes nothing.
    let (s, _) = answer(
        http.post("/v1/groups/ops/broadcasts", Some(&alice))
            .json(&json!({"text": "先发一条"}))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 202);
    let forged = no_redirects
        .post(format!("{}/console/send", http.base))
        .header("cookie", &cookie)
        .header("content-type", FORM)
        .body(encode(&[
            ("group", "ops"),
            ("text", "伪造"),
            ("action", "send"),
            ("csrf", "x"),
        ]))
        .send()
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let (_, list) = answer(http.get("/v1/broadcasts", Some(&alice)).send().unwrap());
    assert_eq!(list["broadcasts"].as_array().unwrap().len(), 1, "{list:#}");
    // Signing out ends the session: its cookie opens nothing any more.
    let out = no_redirects
        .post(format!("{}/console/logout", http.base))
        .header("cookie", &cookie)
        .header("content-type", FORM)
        .body(encode(&[("csrf", csrf.as_str())]))
        .send()
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);
    let after = get("/console/", &cookie);
    assert_eq!(after.status().as_u16(), 303, "back to the sign-in page");
    let (s, _) = answer(get("/v1/broadcasts", &cookie));
    assert_eq!(s, 401);
}
