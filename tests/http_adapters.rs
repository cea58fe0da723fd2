//! The adapters through the real daemon on emulated modems, with a real HTTP client on a real
//! TCP port: Alertmanager's webhook (a version 4 payload as Alertmanager's documentation shows
//! it) sends one SMS per member, a repeat inside the group's window is answered with the first
//! broadcast and sends nothing (also after a restart), one after the window sends again; a
//! notification too long is cut to the parts allowed. DingTalk's outgoing robot: a request
//! signed by an independent implementation (Python's hmac) sends as the mapped member and is
//! answered in the chat; a bad signature, a stale timestamp and an unknown sender are refused.

mod common;

use common::daemon::{ops_group, World};
use common::http::{answer, token, Http, HTTP_ON};
use serde_json::{json, Value};

/// A version 4 notification: one alert firing, one resolved (the shape of Alertmanager's
/// documented example).
const PAYLOAD: &str = r#"{
  "version": "4",
  "groupKey": "{}/{severity=\"critical\"}:{alertname=\"ProbeFailure\"}",
  "truncatedAlerts": 0,
  "status": "firing",
  "receiver": "sms",
  "groupLabels": {"alertname": "ProbeFailure"},
  "commonLabels": {"alertname": "ProbeFailure", "job": "http_checks", "severity": "critical"},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager.example.org:9093",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "ProbeFailure", "instance": "https://a.example.org", "job": "http_checks", "severity": "critical"},
      "annotations": {"summary": "a.example.org down", "description": "down for over 5m"},
      "startsAt": "2026-03-02T01:50:00.000Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0",
      "fingerprint": "1a30ba71cca2921f"
    },
    {
      "status": "resolved",
      "labels": {"alertname": "ProbeFailure", "instance": "https://b.example.org", "job": "http_checks", "severity": "critical"},
      "annotations": {"summary": "b.example.org down"},
      "startsAt": "2026-03-02T01:00:00.000Z",
      "endsAt": "2026-03-02T01:40:00.000Z",
      "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0",
      "fingerprint": "0b7d7e4e1ab1f3c2"
    }
  ]
}"#;

const T0: &str = "2026-03-02T02:00:00Z";

fn post_alert(http: &Http, group: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    answer(
        http.post(&format!("/v1/alertmanager/{group}"), token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap(),
    )
}

fn restart_at(w: &mut World, clock: &str) -> Http {
    w.stop_daemon();
    w.clock_start = Some(clock.into());
    w.start_daemon();
    Http::new(w)
}

fn broadcasts(w: &World) -> usize {
    w.json(&["broadcast", "list"])["broadcasts"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn alertmanager_sends_once_per_window_and_cuts_to_the_parts_allowed() {
    let extra = format!(
        "{HTTP_ON}[quota]\ndaily = 50\nmonthly = 500\n\
         [[alertmanager]]\ngroup = \"ops\"\nas_member = \"alice\"\nrepeat_window_secs = 600\n\
         [[alertmanager]]\ngroup = \"dev\"\nas_member = \"alice\"\nmax_parts = 2\n"
    );
    let mut w = World::prepare(1, |c| c, "", &extra);
    w.clock_start = Some(T0.into());
    w.start_daemon();
    let numbers = ops_group(&w, 2);
    let alice = token(&w, &["--member", "alice"]);
    let m1 = token(&w, &["--member", "m1"]);
    let http = Http::new(&w);

    // Sent: one SMS to each of the three members.
    let (status, body) = post_alert(&http, "ops", Some(&alice), PAYLOAD);
    assert_eq!(status, 200, "{body}\n{}", w.daemon_log());
    assert_eq!(body["sent"], true, "{body}");
    assert_eq!(
        (body["alerts"].as_u64(), body["left_out"].as_u64()),
        (Some(2), Some(0))
    );
    let first = body["broadcast"]["broadcast"].as_i64().unwrap();
    assert_eq!(body["broadcast"]["recipients"], 3, "{body}");
    let totals = w.follow(first, |_| false);
    assert_eq!(totals["sent"], 3, "{totals}");
    let want = "【运维组】[FIRING] 1 firing, 1 resolved\n\
                FIRING ProbeFailure critical: a.example.org down\n\
                RESOLVED ProbeFailure critical: b.example.org down";
    for n in &numbers {
        assert_eq!(w.phones().phone(n).texts(), vec![want], "{n}");
    }
    assert_eq!(
        w.show(first)["caller"]
            .as_str()
            .map(|c| c.starts_with("token:")),
        Some(true)
    );

    // The same notification again (Alertmanager's repeat, a retry): answered with the first
    // broadcast, nothing sent.
    let (status, body) = post_alert(&http, "ops", Some(&alice), PAYLOAD);
    assert_eq!(
        (status, body.clone()),
        (200, json!({"sent": false, "duplicate_of": first}))
    );
    // Remembered in the database: after a restart, five minutes on, still a repeat.
    let http = restart_at(&mut w, "2026-03-02T02:05:00Z");
    let (status, body) = post_alert(&http, "ops", Some(&alice), PAYLOAD);
    assert_eq!(
        (status, body.clone()),
        (200, json!({"sent": false, "duplicate_of": first}))
    );
    assert_eq!(broadcasts(&w), 1);

    // Another notification of the group (the firing alert resolved) is sent; a token of a
    // member who may not act as alice may not send it (403, nothing sent).
    let resolved = PAYLOAD.replacen(
        "\"status\": \"firing\",\n      \"labels\"",
        "\"status\": \"resolved\",\n      \"labels\"",
        1,
    );
    assert_ne!(resolved, PAYLOAD);
    let (status, body) = post_alert(&http, "ops", Some(&m1), &resolved);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "permission_denied", "{body}");
    // Eight identical notifications at once (Alertmanager replicas, retries): one is sent, the
    // others are answered with it.
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let all: Vec<_> = (0..8)
            .map(|_| s.spawn(|| post_alert(&http, "ops", Some(&alice), &resolved)))
            .collect();
        all.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sent: Vec<&Value> = answers
        .iter()
        .filter(|(_, b)| b["sent"] == true)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(sent.len(), 1, "{answers:?}");
    let resolved_id = sent[0]["broadcast"]["broadcast"].as_i64().unwrap();
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|(_, b)| b["sent"] == true
                || *b == json!({"sent": false, "duplicate_of": resolved_id})),
        "{answers:?}"
    );
    assert_eq!(w.follow(resolved_id, |_| false)["sent"], 3);
    // A bad token, and none: 401.
    for t in [Some("gsms_not_a_token"), None] {
        let (status, body) = post_alert(&http, "ops", t, PAYLOAD);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("unauthorized"))
        );
    }
    // A group without an [[alertmanager]] table, another version, not JSON.
    let (status, body) = post_alert(&http, "nope", Some(&alice), PAYLOAD);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_group")),
        "{body}"
    );
    let v3 = PAYLOAD.replace("\"version\": \"4\"", "\"version\": \"3\"");
    let (status, body) = post_alert(&http, "ops", Some(&alice), &v3);
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("version \"4\""),
        "{body}"
    );
    let (status, _) = post_alert(&http, "ops", Some(&alice), "{");
    assert_eq!(status, 422);
    assert_eq!(broadcasts(&w), 2);

    // Past the window (ten minutes from the send, which was within seconds of T0), the same
    // notification is sent again.
    let http = restart_at(&mut w, "2026-03-02T02:11:00Z");
    let (status, body) = post_alert(&http, "ops", Some(&alice), PAYLOAD);
    assert_eq!(
        (status, body["sent"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let second = body["broadcast"]["broadcast"].as_i64().unwrap();
    assert_ne!(second, first);
    assert_eq!(w.follow(second, |_| false)["sent"], 3);
    for n in &numbers {
        let phone = w.phones().phone(n);
        let texts = phone.texts();
        assert_eq!(texts.len(), 3, "{n}: {texts:?}");
        assert_eq!((texts[0], texts[2]), (want, want), "{n}");
        assert!(
            texts[1].starts_with("【运维组】[FIRING] 0 firing, 2 resolved\nRESOLVED"),
            "{n}: {texts:?}"
        );
    }

    // 40 alerts do not fit two parts (UCS-2: the header's 【】): cut to the group's
    // max_parts = 2, the alerts left out counted in a note.
    w.ok(&["group", "create", "dev", "--name", "Dev"]);
    w.ok(&["member", "join", "alice", "dev", "--role", "super_admin"]);
    let mut many: Value = serde_json::from_str(PAYLOAD).unwrap();
    let alert = many["alerts"][0].clone();
    many["alerts"] = (0..40)
        .map(|i| {
            let mut a = alert.clone();
            a["labels"]["instance"] = json!(format!("node{i:02}"));
            a["annotations"]["summary"] = json!(format!("disk full on node{i:02}"));
            a["fingerprint"] = json!(format!("{i:016x}"));
            a
        })
        .collect();
    let (status, body) = post_alert(&http, "dev", Some(&alice), &many.to_string());
    assert_eq!(
        (status, body["sent"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    assert_eq!(body["broadcast"]["parts"], 2, "{body}");
    let shown = body["shown"].as_u64().unwrap();
    assert!((1..40).contains(&shown), "{body}");
    assert_eq!(body["left_out"].as_u64(), Some(40 - shown));
    let text = body["broadcast"]["text"].as_str().unwrap();
    assert!(
        text.ends_with(&format!("\n(+{} more)", 40 - shown)),
        "{text}"
    );
    assert!(text.starts_with("【Dev】[FIRING] 40 firing, 0 resolved\nFIRING ProbeFailure critical: disk full on node00"), "{text}");
    let id = body["broadcast"]["broadcast"].as_i64().unwrap();
    assert_eq!(w.follow(id, |_| false)["sent"], 1);
    assert_eq!(w.phones().phone(&numbers[0]).texts().last(), Some(&text));
}

const SECRET: &str = "SECb7f1e0c2d4a6983e5f0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// DingTalk's `sign` for `timestamp`, computed by Python's hmac and base64 (not our code).
fn python_sign(timestamp: &str, secret: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import base64, hashlib, hmac, sys\n\
             t, s = sys.argv[1].encode(), sys.argv[2].encode()\n\
             print(base64.b64encode(hmac.new(s, t + b'\\n' + s, hashlib.sha256).digest()).decode())",
            timestamp,
            secret,
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A robot message from `staff` saying `content`, as DingTalk posts it.
fn chat(staff: &str, content: &str) -> String {
    json!({
        "conversationId": "cidTEST==",
        "chatbotCorpId": "dingCORP",
        "chatbotUserId": "$:LWCP_v1:$BOT",
        "msgId": "msgTEST",
        "senderNick": format!("nick of {staff}"),
        "isAdmin": false,
        "senderStaffId": staff,
        "sessionWebhookExpiredTime": 1_613_635_652_738_i64,
        "createAt": 1_613_630_252_678_i64,
        "senderCorpId": "dingCORP",
        "conversationType": "2",
        "senderId": format!("$:LWCP_v1:${staff}"),
        "conversationTitle": "运维群",
        "isInAtList": true,
        "sessionWebhook": "https://oapi.dingtalk.example/robot/sendBySession?session=x",
        "text": {"content": content},
        "msgtype": "text"
    })
    .to_string()
}

fn post_chat(http: &Http, body: &str, timestamp: Option<&str>, sign: Option<&str>) -> (u16, Value) {
    let mut r = http
        .post("/v1/dingtalk/ops-bot", None)
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string());
    if let Some(t) = timestamp {
        r = r.header("timestamp", t);
    }
    if let Some(s) = sign {
        r = r.header("sign", s);
    }
    answer(r.send().unwrap())
}

/// The chat answer's text.
fn said(body: &Value) -> &str {
    assert_eq!(body["msgtype"], "text", "{body}");
    body["text"]["content"].as_str().unwrap()
}

#[test]
fn dingtalk_signed_messages_send_as_the_mapped_member_and_the_rest_is_refused() {
    let extra = format!(
        "{HTTP_ON}[[dingtalk_robot]]\nname = \"ops-bot\"\napp_secret = \"{SECRET}\"\n\
         group = \"ops\"\nusers = {{ \"staff-alice\" = \"alice\", \"staff-m1\" = \"m1\", \
         \"staff-ghost\" = \"ghost\" }}\n"
    );
    let w = World::start(1, |c| c, &extra);
    let numbers = ops_group(&w, 2);
    let http = Http::new(&w);
    let signed = |body: &str| {
        let ts = now_ms().to_string();
        post_chat(&http, body, Some(&ts), Some(&python_sign(&ts, SECRET)))
    };

    // alice's `群发 <text>` is sent, and the chat is told the result.
    let (status, body) = signed(&chat("staff-alice", " 群发 明天上午九点停电"));
    assert_eq!(status, 200, "{body}\n{}", w.daemon_log());
    let text = said(&body);
    assert!(
        text.starts_with("Sent to group 'ops' as broadcast #")
            && text.contains(": 3 recipients, 1 SMS part each (ucs2)."),
        "{text}"
    );
    let id: i64 = text["Sent to group 'ops' as broadcast #".len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(w.follow(id, |_| false)["sent"], 3);
    for n in &numbers {
        assert_eq!(
            w.phones().phone(n).texts(),
            vec!["【运维组】明天上午九点停电"],
            "{n}"
        );
    }
    let show = w.show(id);
    assert_eq!(show["sender"], "alice", "{show}");
    assert!(
        show["caller"].as_str().unwrap().starts_with("robot:"),
        "{show}"
    );

    // Refused in the chat, nothing sent: a member who is not a super-admin, a user in no
    // table, a user mapped to no member; a message that is not a send gets the usage.
    let (status, body) = signed(&chat("staff-m1", "群发 hi"));
    assert_eq!(status, 200);
    assert!(
        said(&body).starts_with("Not sent: member 'm1' may not send to group 'ops'"),
        "{body}"
    );
    let (status, body) = signed(&chat("staff-nobody", "群发 hi"));
    assert_eq!(status, 200);
    assert!(
        said(&body).contains("staff-nobody") && said(&body).contains("not mapped"),
        "{body}"
    );
    // The send's rules all apply: sensitive words, here.
    let (_, body) = signed(&chat("staff-alice", "群发 周末 forbidden 活动"));
    assert_eq!(
        said(&body),
        "Not sent: the message contains sensitive words: forbidden"
    );
    let (_, body) = signed(&chat("staff-ghost", "群发 hi"));
    assert!(
        said(&body).contains("'ghost', who does not exist"),
        "{body}"
    );
    let (_, body) = signed(&chat("staff-alice", "hello robot"));
    assert_eq!(
        said(&body),
        "To send a message to group 'ops' by SMS, write: 群发 <text>"
    );

    // Not DingTalk's: 401 with the reason, nothing sent.
    let message = chat("staff-alice", "群发 forged");
    let ts = now_ms().to_string();
    let wrong = python_sign(&ts, "SECsomeone-else");
    let (status, body) = post_chat(&http, &message, Some(&ts), Some(&wrong));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'sign' header does not match"),
        "{body}"
    );
    // Signed right, but two hours old: a replay.
    let old = (now_ms() - 2 * 3_600_000).to_string();
    let (status, body) = post_chat(
        &http,
        &message,
        Some(&old),
        Some(&python_sign(&old, SECRET)),
    );
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than the hour"),
        "{body}"
    );
    let (status, body) = post_chat(&http, &message, None, None);
    assert_eq!(status, 401, "{body}");
    // Another robot's name.
    let (status, _) = answer(
        http.post("/v1/dingtalk/other", None)
            .header("timestamp", &ts)
            .header("sign", python_sign(&ts, SECRET))
            .body(message.clone())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 422);

    for n in &numbers {
        assert_eq!(w.phones().phone(n).texts().len(), 1, "{n}");
    }
    assert_eq!(
        w.json(&["broadcast", "list"])["broadcasts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Logged, never with the secret.
    let log = w.daemon_log();
    assert!(log.contains("DingTalk request refused"), "{log}");
    assert!(log.contains("DingTalk sender not mapped"), "{log}");
    assert!(!log.contains(&SECRET[3..]), "the secret is in the log");
}

#[test]
fn a_template_that_does_not_parse_stops_the_daemon_before_it_starts() {
    let extra = format!(
        "{HTTP_ON}[[alertmanager]]\ngroup = \"ops\"\nas_member = \"alice\"\nline = \"{{stauts}} {{alertname}}\"\n"
    );
    let w = World::prepare(1, |c| c, "", &extra);
    let mut daemon = w
        .daemon_command(false)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = common::daemon::wait_exit(&mut daemon, std::time::Duration::from_secs(20))
        .expect("the daemon refuses to start");
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut daemon.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("[[alertmanager]] group 'ops'")
            && stderr.contains("unknown placeholder {stauts}"),
        "{stderr}"
    );
}
