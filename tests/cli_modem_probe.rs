//! `groupsms modem probe` as a user runs it: the real binary opens a PTY behind which a
//! replayed Quectel EC25 answers; `--json` prints the identity, `--record` writes a
//! transcript, and that transcript replays against the engine (PIN masked).

mod common;

use std::path::Path;
use std::time::Duration;

use common::pty::{slave_path, PtyMaster};
use common::steps::{perform, same};
use groupsms::modem::replay::{replay, Chunking};
use groupsms::modem::transcript::{self, Event};
use groupsms::modem::{Engine, ModemConfig};
use nix::pty::openpty;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_groupsms");

#[test]
fn probe_prints_identity_and_records_a_replayable_session() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/quectel-ec25.txt");
    let t = transcript::parse(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let init_events: Vec<Event> = t.events[..t.steps[1].first_event]
        .iter()
        .filter(|e| !matches!(e, Event::Pause { .. }))
        .cloned()
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("ec25.txt");

    let live = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let output = live.block_on(async {
        let pty = openpty(None, None).unwrap();
        let path = slave_path(&pty.slave);
        let (modem_side, handle) = replay(init_events, Chunking::Lines);
        let mut master = PtyMaster::new(pty.master);
        let pump = tokio::spawn(async move {
            let mut modem_side = modem_side;
            let _ = tokio::io::copy_bidirectional(&mut master, &mut modem_side).await;
        });
        let child = tokio::process::Command::new(BIN)
            .args([
                "modem", "probe", &path, "--pin", "4321", "--json", "--record",
            ])
            .arg(&record)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(30), child)
            .await
            .expect("probe hung")
            .unwrap();
        handle.finish().unwrap();
        pump.abort();
        drop(pty.slave);
        out
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "probe failed: {stderr}");
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["manufacturer"], "Quectel");
    assert_eq!(printed["model"], "EC25");
    assert_eq!(printed["imei"], "866758040123456");
    assert_eq!(printed["imsi"], "460015551234567");
    assert_eq!(printed["operator"], "CHN-UNICOM");
    assert_eq!(printed["signal"]["rssi"], 26);
    assert_eq!(printed["signal_dbm"], -61);

    // The recording: PIN masked, and it replays to the same identity.
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(
        !text.contains("4321"),
        "the PIN leaked into the recording:\n{text}"
    );
    assert!(text.contains("% pin 0000") && text.contains("> AT+CPIN=\"0000\"\\r"));
    assert!(text.contains("# source: recorded by `groupsms modem probe`"));
    let rec = transcript::parse(&text).unwrap();
    assert_eq!(rec.steps.len(), 1);
    let replayed = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    replayed.block_on(async {
        for chunking in [
            Chunking::Whole,
            Chunking::OneByte,
            Chunking::Random { seed: 7 },
        ] {
            let mut config = ModemConfig::default();
            for (k, v) in &rec.config {
                config.set(k, v).unwrap();
            }
            let (stream, handle) = replay(rec.events.clone(), chunking);
            let mut engine = Engine::new(stream, config);
            let got = perform(&mut engine, &rec.steps[0]).await.unwrap();
            let want = rec.steps[0].expect.as_deref().unwrap();
            assert!(same(&got, want), "{got} vs {want}");
            handle.finish().unwrap();
        }
    });
}

#[test]
fn probe_reports_a_missing_device_and_a_bad_pin() {
    let out = std::process::Command::new(BIN)
        .args(["modem", "probe", "/dev/no-such-modem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "groupsms: cannot open /dev/no-such-modem: no such device\n"
    );
    let out = std::process::Command::new(BIN)
        .args(["modem", "probe", "/dev/no-such-modem", "--pin", "12x4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "groupsms: --pin: a SIM PIN is 4 to 8 digits\n"
    );
}

#[test]
fn probe_records_a_failed_init() {
    // A modem that answers AT but whose SIM is missing: init fails, the recording still
    // says what happened.
    let events = transcript::parse(
        "> \\x1B\\r\n> AT\\r\n< \\r\\nOK\\r\\n\n> ATE0\\r\n< \\r\\nOK\\r\\n\n> AT+CMEE=1\\r\n< \\r\\nOK\\r\\n\n\
         > AT+CGMI\\r\n< \\r\\nACME\\r\\n\\r\\nOK\\r\\n\n> AT+CGMM\\r\n< \\r\\nX1\\r\\n\\r\\nOK\\r\\n\n\
         > AT+CGMR\\r\n< \\r\\nERROR\\r\\n\n> AT+CGSN\\r\n< \\r\\nERROR\\r\\n\n\
         > AT+CPIN?\\r\n< \\r\\n+CME ERROR: 10\\r\\n\n",
    )
    .unwrap()
    .events;
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("nosim.txt");
    let live = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = live.block_on(async {
        let pty = openpty(None, None).unwrap();
        let path = slave_path(&pty.slave);
        let (modem_side, _handle) = replay(events, Chunking::Whole);
        let mut master = PtyMaster::new(pty.master);
        let pump = tokio::spawn(async move {
            let mut modem_side = modem_side;
            let _ = tokio::io::copy_bidirectional(&mut master, &mut modem_side).await;
        });
        let out = tokio::process::Command::new(BIN)
            .args(["modem", "probe", &path, "--record"])
            .arg(&record)
            .output()
            .await
            .unwrap();
        pump.abort();
        out
    });
    assert_eq!(out.status.code(), Some(69));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.ends_with("init failed: SIM: no SIM card inserted\n"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(
        text.contains("=> error: SIM: no SIM card inserted"),
        "{text}"
    );
    assert!(text.contains("< \\r\\n+CME ERROR: 10\\r\\n"), "{text}");
}
