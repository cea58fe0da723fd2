//! `GET /v1/broadcasts/{id}/events`: the socket's subscription as Server-Sent Events, read
//! incrementally over a real TCP connection from the real daemon sending on emulated modems.
//! The same events and the same end as the socket, the same read rules, and a client that
//! closes its connection is let go at once.

mod common;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use common::daemon::{ops_group, World};
use common::http::{answer, token, Http, HTTP_ON};
use serde_json::Value;

/// One Server-Sent Event.
#[derive(Debug, Clone)]
struct SseEvent {
    kind: String,
    id: u64,
    data: Value,
}

/// An event stream, read line by line as the daemon writes it.
struct Sse {
    lines: BufReader<reqwest::blocking::Response>,
    /// Comment lines seen (keep-alives).
    comments: usize,
}

impl Sse {
    /// `GET path` with `token`; panics unless it is a 200 event stream.
    fn open(http: &Http, path: &str, token: &str) -> Sse {
        let r = http.get(path, Some(token)).send().unwrap();
        let status = r.status().as_u16();
        let kind = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            (status, kind.as_deref()),
            (200, Some("text/event-stream")),
            "{}",
            r.text().unwrap_or_default()
        );
        Sse {
            lines: BufReader::new(r),
            comments: 0,
        }
    }

    /// The next event; `None` when the daemon ended the stream.
    fn next(&mut self) -> Option<SseEvent> {
        let (mut kind, mut id, mut data) = (None, None, String::new());
        loop {
            let mut line = String::new();
            let n = self.lines.read_line(&mut line).expect("reading the stream");
            if n == 0 {
                assert!(kind.is_none() && data.is_empty(), "cut mid-event: {data}");
                return None;
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if kind.is_none() && data.is_empty() {
                    continue;
                }
                return Some(SseEvent {
                    kind: kind.expect("every event has a type"),
                    id: id.expect("every event has an id"),
                    data: serde_json::from_str(&data)
                        .unwrap_or_else(|e| panic!("data is not JSON ({e}): {data}")),
                });
            }
            if line.starts_with(':') {
                self.comments += 1;
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => kind = Some(value.to_string()),
                "id" => id = Some(value.parse::<u64>().expect("a numeric id")),
                "data" => {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                }
                other => panic!("unexpected field {other:?} in {line:?}"),
            }
        }
    }

    /// Every event to the stream's end.
    fn all(mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while let Some(e) = self.next() {
            out.push(e);
        }
        out
    }
}

/// Checks the stream's shape (a snapshot, deliveries, then the end; ids 1, 2, ...) and
/// returns the delivery events' data.
fn deliveries(events: &[SseEvent]) -> Vec<&Value> {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.id, i as u64 + 1, "{events:#?}");
    }
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"snapshot"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"end"), "{kinds:?}");
    assert!(
        kinds[1..kinds.len() - 1].iter().all(|k| *k == "delivery"),
        "{kinds:?}"
    );
    events[1..events.len() - 1]
        .iter()
        .map(|e| &e.data)
        .collect()
}

#[test]
fn events_follow_a_broadcast_to_its_last_report_as_the_socket_does() {
    let w = World::start(
        1,
        |mut c| {
            for m in &mut c.modems {
                m.knobs.send_latency = Duration::from_millis(400);
                m.knobs.report_delay = Some(Duration::from_millis(300));
            }
            c
        },
        HTTP_ON,
    );
    w.wait_modems("the modem ready", |m| m[0]["state"] == "ready");
    let numbers = ops_group(&w, 4);
    w.ok(&[
        "member",
        "add",
        "bob",
        "--name",
        "Bob",
        "--phone",
        "+8613700000000",
    ]);
    let http = Http::new(&w);
    let alice = token(&w, &["--member", "alice"]);
    let m1 = token(&w, &["--member", "m1"]);
    let bob = token(&w, &["--member", "bob"]);

    let id = w.send("ops", "alice", "今晚停机维护");
    // The super-admin follows on to the reports; a plain member of the group, the sending.
    let with_reports = Sse::open(
        &http,
        &format!("/v1/broadcasts/{id}/events?reports=true"),
        &alice,
    );
    let mut plain = Sse::open(&http, &format!("/v1/broadcasts/{id}/events"), &m1);

    // Read incrementally: the first event comes while the modem is still sending (5 parts,
    // 400 ms each), so the stream is open and unfinished when it is read.
    let first = plain.next().unwrap();
    assert_eq!(first.kind, "snapshot", "{first:?}");
    assert_eq!(first.data["totals"]["finished"], false, "{first:?}");
    assert_eq!(first.data["totals"]["total"], 5, "{first:?}");

    let events = with_reports.all();
    let changes = deliveries(&events);
    let end = &events.last().unwrap().data;
    assert_eq!(
        (end["total"].as_u64(), end["delivered"].as_u64()),
        (Some(5), Some(5)),
        "{end}"
    );
    assert_eq!(end["broadcast"], id);
    // Each delivery went to sent, then (after the sending) to delivered, each shown.
    let delivered: Vec<&&Value> = changes
        .iter()
        .filter(|c| c["delivery"]["state"] == "delivered")
        .collect();
    assert_eq!(delivered.len(), 5, "{changes:#?}");
    assert_eq!(changes.last().unwrap()["delivery"]["state"], "delivered");
    // The super-admin sees the numbers.
    for c in &changes {
        assert_eq!(c["totals"]["broadcast"], id);
        let n = c["delivery"]["number"].as_str().unwrap();
        assert!(numbers.iter().any(|x| x == n), "{n} not among {numbers:?}");
    }
    // The same end as the socket's subscription gives now.
    let (socket_end, _) = w.follow_events_with(id, true, |_| false);
    assert_eq!(&socket_end, end);

    // The plain member's stream ends with the sending, numbers masked.
    let mut rest = vec![first];
    rest.extend(plain.all());
    let changes = deliveries(&rest);
    assert!(!changes.is_empty());
    for c in &changes {
        let n = c["delivery"]["number"].as_str().unwrap();
        assert!(n.contains('*') && !numbers.iter().any(|x| x == n), "{n}");
    }
    let end = &rest.last().unwrap().data;
    assert_eq!(
        (end["finished"].as_bool(), end["sent"].as_u64()),
        (Some(true), Some(5)),
        "{end}"
    );

    // A finished broadcast: no snapshot any more, the end at once (as on the socket).
    let again = Sse::open(&http, &format!("/v1/broadcasts/{id}/events"), &m1).all();
    assert_eq!(again.len(), 1, "{again:#?}");
    assert_eq!((again[0].kind.as_str(), again[0].id), ("end", 1));

    // A member of another group, no token, an unknown broadcast, a bad query.
    let (status, body) = answer(
        http.get(&format!("/v1/broadcasts/{id}/events"), Some(&bob))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "permission_denied", "{body}");
    let (status, body) = answer(
        http.get(&format!("/v1/broadcasts/{id}/events"), None)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, body) = answer(
        http.get("/v1/broadcasts/999/events", Some(&alice))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_broadcast")),
        "{body}"
    );
    let (status, body) = answer(
        http.get(
            &format!("/v1/broadcasts/{id}/events?reports=maybe"),
            Some(&alice),
        )
        .send()
        .unwrap(),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
}

/// A reports follower whose reports never come and who closes the connection is let go at
/// once: with one HTTP connection allowed, the next client gets in (were the daemon still
/// streaming to the closed connection, it would hold the only connection for ever).
#[test]
fn an_events_client_that_closes_the_connection_is_let_go() {
    let w = World::start(1, |c| c, &format!("{HTTP_ON}max_connections = 1\n"));
    ops_group(&w, 1);
    w.ok(&["send", "--group", "ops", "--as", "alice", "--wait", "x"]);
    let alice = token(&w, &["--member", "alice"]);
    let http = Http::new(&w);
    // No report will come (the emulator sends none by itself here).
    let mut stream = Sse::open(&http, "/v1/broadcasts/1/events?reports=true", &alice);
    let first = stream.next().unwrap();
    assert_eq!(first.kind, "snapshot");
    assert_eq!(first.data["totals"]["sent"], 2, "{first:?}");
    assert_eq!(first.data["totals"]["delivered"], 0, "{first:?}");
    assert_eq!(first.data["totals"]["finished"], true, "{first:?}");

    let quick = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let healthz = format!("{}/healthz", http.base);
    // While it is open, the one connection is taken: a new one waits to be accepted.
    assert!(quick.get(&healthz).send().is_err());
    drop(stream);
    let mut tries = 0;
    loop {
        if let Ok(r) = quick.get(&healthz).send() {
            assert_eq!(r.status().as_u16(), 200);
            break;
        }
        tries += 1;
        // Well before the first keep-alive comment (15 s), which would find it closed too.
        assert!(
            tries < 10,
            "the closed event stream still holds the connection\n{}",
            w.daemon_log()
        );
    }
}
