//! The HTTP API under bad input and load, as a client meets it (the real daemon on a real TCP
//! port, real clients): malformed and huge bodies, slow and silent clients, a thousand
//! connections at once, requests over a token's rate, expired and revoked tokens. The daemon
//! stays up, answers each with the JSON error body, and loses nothing it accepted.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::daemon::{ops_group, World};
use common::http::{answer, token, Http, HTTP_ON};

/// Raises this process's open-file soft limit to its hard limit; returns it.
fn raise_open_files() -> u64 {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on this process's limits with a valid pointer.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut l), 0);
        l.rlim_cur = l.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &l), 0);
    }
    l.rlim_cur
}

/// The daemon's `host:port`.
fn address(http: &Http) -> String {
    http.base.trim_start_matches("http://").to_string()
}

/// Reads until the daemon closes the connection (bounded: 30 s, then the test fails);
/// returns what it wrote.
fn until_closed(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => out,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => out,
        Err(e) => panic!(
            "the daemon kept the connection open ({e}); read so far: {:?}",
            String::from_utf8_lossy(&out)
        ),
    }
}

#[test]
fn slow_and_silent_clients_are_dropped_while_others_are_served() {
    let w = World::start(
        1,
        |c| c,
        &format!("{HTTP_ON}request_timeout_secs = 1\nmax_connections = 5\n"),
    );
    let http = Http::new(&w);
    let at = address(&http);
    // Four of the five connections: two send half a request head and stop, two say nothing.
    let mut slow: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&at).unwrap()).collect();
    for s in &mut slow[..2] {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: slo")
            .unwrap();
    }
    // The fifth is served meanwhile, again and again.
    for _ in 0..3 {
        let (status, body) = answer(http.get("/healthz", None).send().unwrap());
        assert_eq!(status, 200, "{body}");
    }
    // Each slow one is closed by the daemon, having been answered nothing.
    for s in &mut slow {
        let written = until_closed(s);
        assert!(
            written.is_empty() || written.starts_with(b"HTTP/1.1 408"),
            "{:?}",
            String::from_utf8_lossy(&written)
        );
    }
}

#[test]
fn bad_bodies_and_slow_bodies_get_json_errors() {
    let w = World::start(
        1,
        |c| c,
        &format!("{HTTP_ON}max_body_bytes = 4096\nrequest_timeout_secs = 1\n"),
    );
    ops_group(&w, 1);
    let http = Http::new(&w);
    let alice = token(&w, &["--member", "alice"]);
    let send = "/v1/groups/ops/broadcasts";
    let json = |body: &str| {
        http.post(send, Some(&alice))
            .header("content-type", "application/json")
            .body(body.to_string())
    };

    let (status, body) = answer(json("{\"text\": \"unfinished").send().unwrap());
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
    let (status, body) = answer(
        http.post(send, Some(&alice))
            .header("content-type", "text/plain")
            .body("hello")
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("unsupported_media_type")),
        "{body}"
    );

    // Over max_body_bytes: refused before it is read in full.
    let huge = format!("{{\"text\": \"{}\"}}", "x".repeat(64 * 1024));
    let (status, body) = answer(json(&huge).send().unwrap());
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("too_large")),
        "{body}"
    );

    // Routes and methods that do not exist.
    let (status, body) = answer(http.get("/v1/nothing-here", Some(&alice)).send().unwrap());
    assert_eq!(status, 404, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    let r = http
        .client
        .delete(format!("{}/healthz", http.base))
        .send()
        .unwrap();
    let (status, body) = answer(r);
    assert_eq!(status, 405, "{body}");
    assert!(body["error"]["code"].is_string(), "{body}");

    // A body that stops coming: 408 with the JSON body once the request timeout is over.
    let mut s = TcpStream::connect(address(&http)).unwrap();
    s.write_all(
        format!(
            "POST {send} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"text\": "
        )
        .as_bytes(),
    )
    .unwrap();
    let written = String::from_utf8_lossy(&until_closed(&mut s)).into_owned();
    assert!(written.starts_with("HTTP/1.1 408"), "{written}");
    assert!(written.contains("\"code\":\"timed_out\""), "{written}");

    // None of it was sent, and the daemon still takes a good request.
    let (status, body) = answer(json("{\"text\": \"ok\"}").send().unwrap());
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["broadcast"], 1, "{body}");
}

#[test]
fn a_token_over_its_rate_is_told_when_to_come_back() {
    let w = World::start(
        1,
        |c| c,
        &format!("{HTTP_ON}rate_per_minute = 1\nrate_burst = 3\n"),
    );
    ops_group(&w, 1);
    let http = Http::new(&w);
    let alice = token(&w, &["--member", "alice"]);
    let m1 = token(&w, &["--member", "m1"]);
    for _ in 0..3 {
        let (status, body) = answer(http.get("/v1/status", Some(&alice)).send().unwrap());
        assert_eq!(status, 200, "{body}");
    }
    let r = http.get("/v1/status", Some(&alice)).send().unwrap();
    let wait: u64 = r
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let (status, body) = answer(r);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{body}"
    );
    // Another token has its own allowance.
    let (status, body) = answer(http.get("/v1/status", Some(&m1)).send().unwrap());
    assert_eq!(status, 200, "{body}");

    // Guessing tokens: the refusals draw on the address's allowance, then it must wait.
    for _ in 0..3 {
        let (status, _) = answer(http.get("/v1/status", Some("gsms_guessed")).send().unwrap());
        assert_eq!(status, 401);
    }
    let r = http.get("/v1/status", Some("gsms_guessed")).send().unwrap();
    assert!(r.headers().get("retry-after").is_some());
    let (status, body) = answer(r);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{body}"
    );
    // ... every token from that address, until the wait is over (behind a reverse proxy,
    // every client has the proxy's address).
    let (status, _) = answer(http.get("/v1/status", Some(&m1)).send().unwrap());
    assert_eq!(status, 429);
    // The socket is not limited by any of it.
    assert_eq!(w.ask("status", serde_json::json!({}))["ok"], true);
}

#[test]
fn expired_and_revoked_tokens_are_refused() {
    let w = World::start(1, |c| c, HTTP_ON);
    ops_group(&w, 1);
    let http = Http::new(&w);
    let short = token(&w, &["--member", "alice", "--expires", "1s"]);
    // Wait for it to expire, asking as a client would.
    let mut tries = 0;
    let body = loop {
        let (status, body) = answer(http.get("/v1/status", Some(&short)).send().unwrap());
        if status == 401 {
            break body;
        }
        assert_eq!(status, 200, "{body}");
        tries += 1;
        assert!(tries < 100, "the 1 s token is still taken");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );

    let revoked = token(&w, &["--member", "alice"]);
    let (status, _) = answer(http.get("/v1/status", Some(&revoked)).send().unwrap());
    assert_eq!(status, 200);
    let list = w.json(&["token", "list"]);
    let id = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .max()
        .unwrap();
    w.ok(&["token", "revoke", &id.to_string()]);
    let (status, body) = answer(http.get("/v1/status", Some(&revoked)).send().unwrap());
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
}

#[test]
fn a_thousand_connections_at_once_leave_the_daemon_serving() {
    const N: usize = 1000;
    let limit = raise_open_files();
    if limit < (N as u64) + 200 {
        eprintln!("SKIPPED: the open-file limit is {limit}, needs {}", N + 200);
        return;
    }
    let w = World::start(
        2,
        |c| c,
        &format!("{HTTP_ON}rate_per_minute = 1000000\nrate_burst = 100000\n"),
    );
    ops_group(&w, 3);
    let http = Http::new(&w);
    let at = address(&http);
    let alice = token(&w, &["--member", "alice"]);
    let mut conns: Vec<TcpStream> = (0..N)
        .map(|i| TcpStream::connect(&at).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    let request = format!(
        "GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice}\r\n\
         Connection: close\r\n\r\n"
    );
    for c in &mut conns {
        c.write_all(request.as_bytes()).unwrap();
    }
    // Meanwhile: a broadcast over the socket, the socket's status, the health check.
    let id = w.send("ops", "alice", "停电通知");
    assert_eq!(w.ask("status", serde_json::json!({}))["ok"], true);
    let (status, _) = answer(http.get("/healthz", None).send().unwrap());
    assert_eq!(status, 200);
    // Every one of the thousand is answered.
    let mut statuses = std::collections::BTreeMap::new();
    for c in &mut conns {
        let written = String::from_utf8_lossy(&until_closed(c)).into_owned();
        let status = written.get(9..12).unwrap_or("none").to_string();
        *statuses.entry(status).or_insert(0) += 1;
    }
    assert_eq!(statuses.get("200"), Some(&N), "{statuses:?}");
    drop(conns);
    // Nothing accepted is lost: the broadcast sent meanwhile went to all four.
    let end = w.follow(id, |_| false);
    assert_eq!(
        (end["sent"].as_u64(), end["total"].as_u64()),
        (Some(4), Some(4)),
        "{end}"
    );
    let (status, _) = answer(http.get("/healthz", None).send().unwrap());
    assert_eq!(status, 200);
}
