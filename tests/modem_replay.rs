//! Replays every transcript of `fixtures/` against the engine: the replay checks every byte
//! the engine writes, feeds the modem's bytes back cut in many ways (as recorded, one byte at
//! a time, line by line, several lines at once, random sizes), and each step's result must
//! be the one the fixture states. Framing must never depend on read boundaries.

mod common;

use std::path::{Path, PathBuf};

use common::steps::{perform, same, send_args};
use groupsms::modem::replay::{replay, Chunking};
use groupsms::modem::transcript::{self, Step, Transcript};
use groupsms::modem::{Engine, ModemConfig};
use groupsms::sms::encode_submit;

const CHUNKINGS: [Chunking; 9] = [
    Chunking::Whole,
    Chunking::OneByte,
    Chunking::Lines,
    Chunking::SeveralLines { seed: 1 },
    Chunking::SeveralLines { seed: 2 },
    Chunking::SeveralLines { seed: 3 },
    Chunking::Random { seed: 1 },
    Chunking::Random { seed: 2 },
    Chunking::Random { seed: 3 },
];

fn fixtures() -> Vec<PathBuf> {
    fixtures_in("fixtures")
}

fn fixtures_in(sub: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(sub);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("txt"))
        .collect();
    files.sort();
    files
}

async fn run(name: &str, t: &Transcript, chunking: Chunking) -> Result<(), String> {
    let mut config = ModemConfig::default();
    for (k, v) in &t.config {
        config.set(k, v).map_err(|e| format!("{name}: {e}"))?;
    }
    let (stream, handle) = replay(t.events.clone(), chunking);
    let mut engine = Engine::new(stream, config);
    for step in &t.steps {
        let want = step
            .expect
            .as_deref()
            .ok_or_else(|| format!("{name}:{}: step without `=>`", step.line))?;
        let got = perform(&mut engine, step).await?;
        if !same(&got, want) {
            return Err(format!(
                "{name}:{} `{}` with {chunking:?}:\n  got:     {got}\n  fixture: {want}\n  replay:  {}",
                step.line,
                step.action.chars().take(60).collect::<String>(),
                handle.error().unwrap_or_else(|| "in step".into())
            ));
        }
    }
    handle
        .finish()
        .map_err(|e| format!("{name} with {chunking:?}: {e}"))
}

#[tokio::test(start_paused = true)]
async fn every_fixture_replays_in_every_chunking() {
    let files = fixtures();
    let mut families = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let t = transcript::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!t.steps.is_empty(), "{name}: no steps");
        families.insert(name.split('-').next().unwrap().to_string());
        for chunking in CHUNKINGS {
            if let Err(e) = run(&name, &t, chunking).await {
                failures.push(e);
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(files.len() >= 5, "only {} fixtures", files.len());
    assert!(families.len() >= 5, "only families {families:?}");
}

/// Status reports as real modems give them (`fixtures/reports/`): routed `+CDS` acknowledged
/// where expected, stored `+CDSI` read and deleted, Quectel's empty read.
#[tokio::test(start_paused = true)]
async fn report_fixtures_replay_in_every_chunking() {
    let files = fixtures_in("fixtures/reports");
    let mut families = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let t = transcript::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        families.insert(name.split('-').next().unwrap().to_string());
        for chunking in CHUNKINGS {
            if let Err(e) = run(&name, &t, chunking).await {
                failures.push(e);
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(families.len() >= 3, "only families {families:?}");
}

/// Incoming-message sessions (`fixtures/inbox/`): `+CMTI` read with `AT+CMGR` and deleted,
/// the receive memory listed with `AT+CPMS?` and `AT+CMGL=4`.
#[tokio::test(start_paused = true)]
async fn inbox_fixtures_replay_in_every_chunking() {
    let files = fixtures_in("fixtures/inbox");
    assert!(files.len() >= 2, "{files:?}");
    let mut failures = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        for key in ["+CMTI", "+CMGR", "+CMGL", "+CMGD"] {
            if text.contains(key) {
                covered.insert(key);
            }
        }
        let t = transcript::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for chunking in CHUNKINGS {
            if let Err(e) = run(&name, &t, chunking).await {
                failures.push(e);
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(covered.len(), 4, "{covered:?}");
}

/// Each family's fixture covers what the issue asks: init, a single-part send, a multi-part
/// UCS-2 send, a +CMS ERROR, unsolicited codes in the middle of a send, a PIN or
/// registration wait.
#[test]
fn family_fixtures_cover_the_required_cases() {
    for path in fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let t = transcript::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let covers = t.header("covers").unwrap_or("");
        if covers.contains("timeouts only") {
            continue;
        }
        let actions: Vec<&str> = t.steps.iter().map(|s| s.action.as_str()).collect();
        assert!(actions.contains(&"init"), "{name}: no init");
        let sends: Vec<&Step> = t
            .steps
            .iter()
            .filter(|s| s.action.starts_with("send"))
            .collect();
        let outcome = |s: &Step| s.expect.clone().unwrap_or_default();
        assert!(
            sends
                .iter()
                .any(|s| outcome(s).matches("sent").count() == 1 && !outcome(s).contains(',')),
            "{name}: no single-part send"
        );
        assert!(
            sends.iter().any(|s| {
                let (opts, text) = send_args(s.action.split_once(' ').unwrap().1).unwrap();
                let parts = encode_submit(&text, &opts).unwrap();
                parts.len() > 1
                    && !groupsms::sms::analyze(&text)
                        .encoding
                        .eq(&groupsms::sms::Encoding::Gsm7)
            }),
            "{name}: no multi-part UCS-2 send"
        );
        assert!(
            sends.iter().any(|s| outcome(s).contains("+CMS ERROR")),
            "{name}: no +CMS ERROR"
        );
        let body = std::fs::read_to_string(&path).unwrap();
        assert!(
            has_urc_inside_a_send(&t),
            "{name}: no unsolicited code in the middle of a send"
        );
        let waits = body.contains("AT+CPIN=\"")
            || body.matches("> AT+CREG?\\r").count() >= 2
            || body.matches("> AT+CPIN?\\r").count() >= 2;
        assert!(waits, "{name}: no PIN entry or registration/SIM wait");
    }
}

fn has_urc_inside_a_send(t: &Transcript) -> bool {
    use groupsms::at::{Context, Digester, Item};
    use groupsms::modem::transcript::Event;
    // Between a `> AT+CMGS=` and the next final result, some modem line is a URC.
    let mut in_send = false;
    let mut d = Digester::new();
    for e in &t.events {
        match e {
            Event::Host { bytes, .. } if bytes.starts_with(b"AT+CMGS=") => {
                in_send = true;
                d.clear();
            }
            Event::Modem { bytes, .. } if in_send => {
                d.feed(bytes);
                while let Some(item) = d.next(&Context {
                    command: Some("AT+CMGS=1"),
                    echo: b"",
                }) {
                    match item {
                        Item::Urc(_) => return true,
                        Item::Final(_) => in_send = false,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    false
}

/// The replay is not a rubber stamp: a wrong byte in a PDU, a wrong expected result, or a
/// missing modem answer each make it fail, naming the line.
#[tokio::test(start_paused = true)]
async fn corrupted_fixtures_fail() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/huawei-e173.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let first_pdu = text
        .lines()
        .find(|l| l.starts_with("> 0001"))
        .expect("a PDU line")
        .to_string();
    let wrong_pdu = first_pdu.replacen("0001", "0011", 1);
    let cases = [
        (text.replace(&first_pdu, &wrong_pdu), "the host wrote"),
        (
            text.replacen("=> sent 12", "=> sent 13", 1),
            "fixture: sent 13",
        ),
        (
            text.replacen("< \\r\\n+CMGS: 12\\r\\n\\r\\nOK\\r\\n\n", "", 1),
            "the transcript expects",
        ),
        (
            text.replacen("> AT+CMEE=1\\r", "> AT+CMEE=2\\r", 1),
            "line 13: the host wrote",
        ),
    ];
    for (i, (bad, why)) in cases.iter().enumerate() {
        assert_ne!(bad, &text, "case {i} did not change the fixture");
        let t = transcript::parse(bad).unwrap();
        let err = run("corrupted", &t, Chunking::Whole).await.unwrap_err();
        assert!(err.contains(why), "case {i}: {err}");
    }
}
