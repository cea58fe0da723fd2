//! The engine over `tokio::io::duplex`, the test playing the modem. Timeouts run on the
//! paused tokio clock: a hung modem costs no wall time, and the waits are measured exactly.

mod common;

use std::time::Duration;

use common::{bytes, healthy, lines, modem, Input, Reply};
use groupsms::at::parse::{PinState, RegStat};
use groupsms::at::{CmsError, ErrorClass, Final, Urc};
use groupsms::modem::{
    AmbiguousReason, Engine, Health, ModemConfig, ModemError, NotSentReason, PartOutcome,
    SimProblem,
};
use groupsms::sms::{encode_submit, Address, SubmitOptions, SubmitPdu};
use tokio::time::Instant;

fn parts(text: &str) -> Vec<SubmitPdu> {
    let mut opts = SubmitOptions::to(Address::parse("+8613800138000").unwrap());
    opts.concat_ref = 9;
    encode_submit(text, &opts).unwrap()
}

fn summaries(outcomes: &[PartOutcome]) -> Vec<String> {
    outcomes.iter().map(|o| o.summary()).collect()
}

fn cfg() -> ModemConfig {
    ModemConfig::default()
}

#[tokio::test(start_paused = true)]
async fn a_command_with_echo_and_a_urc_inside_it() {
    let (io, _log) = modem(|i| match i {
        Input::Line(c) if c == "AT+CSQ" => {
            bytes("A\r\n^RSSI:20\r\nT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
        }
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    let r = m.command("AT+CSQ").await.unwrap();
    assert_eq!(r.lines, vec!["+CSQ: 20,99"]);
    assert_eq!(r.result, Final::Ok);
    assert_eq!(m.take_urcs(), vec![Urc::Rssi(20)]);
    assert_eq!(m.signal().await.unwrap().rssi, Some(20));
}

#[tokio::test(start_paused = true)]
async fn init_gathers_identity_and_sends_the_documented_sequence() {
    let (io, log) = modem(healthy);
    let mut m = Engine::new(io, cfg());
    let id = m.init().await.unwrap();
    assert_eq!(id.manufacturer.as_deref(), Some("TestCo"));
    assert_eq!(id.imei.as_deref(), Some("351234567890123"));
    assert_eq!(id.imsi.as_deref(), Some("460001234567890"));
    assert_eq!(id.operator.as_deref(), Some("CHINA MOBILE"));
    assert_eq!(id.smsc.as_deref(), Some("+8613800100500"));
    assert_eq!(id.signal.unwrap().rssi, Some(20));
    assert_eq!(m.health(), Health::Ready);
    assert_eq!(
        lines(&log),
        vec![
            "ESC",
            "AT",
            "ATE0",
            "AT+CMEE=1",
            "AT+CGMI",
            "AT+CGMM",
            "AT+CGMR",
            "AT+CGSN",
            "AT+CPIN?",
            "AT+CMGF=0",
            "AT+CSCA?",
            "AT+CNMI=?",
            "AT+CNMI=2,1,0,1,0",
            "AT+CREG?",
            "AT+CIMI",
            "AT+COPS?",
            "AT+CNUM",
            "AT+CSQ",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn all_parts_back_to_back() {
    let (io, log) = modem(healthy);
    let mut m = Engine::new(io, cfg());
    let p = parts(&"长".repeat(100));
    assert_eq!(p.len(), 2);
    let out = m.send_message(&p).await;
    assert_eq!(summaries(&out), vec!["sent 1", "sent 1"]);
    let l = lines(&log);
    assert_eq!(l[0], format!("AT+CMGS={}", p[0].tpdu_len));
    assert_eq!(l[1], format!("PDU {}", p[0].hex()));
    assert_eq!(l[3], format!("PDU {}", p[1].hex()));
}

#[tokio::test(start_paused = true)]
async fn the_first_failure_stops_the_message() {
    let mut n = 0;
    let (io, _log) = modem(move |i| match i {
        Input::Pdu(_) => {
            n += 1;
            if n == 2 {
                bytes("\r\n+CMS ERROR: 38\r\n")
            } else {
                bytes(&format!("\r\n+CMGS: {n}\r\n\r\nOK\r\n"))
            }
        }
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    let out = m.send_message(&parts(&"x".repeat(400))).await;
    assert_eq!(
        summaries(&out),
        vec![
            "sent 1",
            "rejected +CMS ERROR: 38 transient",
            "not-attempted"
        ]
    );
    match &out[1] {
        PartOutcome::Rejected { result, class } => {
            assert_eq!(*result, Final::Cms(CmsError::NetworkOutOfOrder));
            assert_eq!(*class, ErrorClass::Transient);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_error_instead_of_the_prompt_is_a_rejection() {
    let (io, _log) = modem(|i| match i {
        Input::Line(c) if c.starts_with("AT+CMGS") => bytes("\r\n+CMS ERROR: 310\r\n"),
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    let out = m.send_message(&parts("hi")).await;
    assert_eq!(summaries(&out), vec!["rejected +CMS ERROR: 310 sim"]);
}

#[tokio::test(start_paused = true)]
async fn no_prompt_means_not_sent_then_esc_and_resync() {
    let (io, log) = modem(|i| match i {
        Input::Line(c) if c.starts_with("AT+CMGS") => Reply::Silent,
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    let t0 = Instant::now();
    let out = m.send_message(&parts("hi")).await;
    let waited = t0.elapsed();
    assert!(matches!(
        out[0],
        PartOutcome::NotSent {
            reason: NotSentReason::PromptTimeout
        }
    ));
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(11),
        "{waited:?}"
    );
    assert_eq!(lines(&log)[1..], ["ESC", "AT"]);
    // The next command goes out normally.
    assert_eq!(m.command("AT+CSQ").await.unwrap().result, Final::Ok);
}

#[tokio::test(start_paused = true)]
async fn a_modem_hung_before_the_prompt_is_given_up_after_one_probe() {
    let hung = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h = hung.clone();
    let (io, log) = modem(move |i| {
        if matches!(i, Input::Line(c) if c.starts_with("AT+CMGS")) {
            h.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        if h.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::Silent
        } else {
            healthy(i)
        }
    });
    let mut m = Engine::new(io, cfg());
    let t0 = Instant::now();
    let out = m.send_message(&parts("hi")).await;
    // The 10 s prompt timeout, then one 2 s `AT`: not three (another 4 s of a held message).
    assert_eq!(t0.elapsed(), Duration::from_secs(12));
    assert_eq!(summaries(&out), vec!["not-sent prompt-timeout"]);
    assert_eq!(m.health(), Health::Hung);
    assert_eq!(lines(&log)[1..], ["ESC", "AT"]);
}

#[tokio::test(start_paused = true)]
async fn no_answer_after_ctrl_z_is_ambiguous() {
    let (io, log) = modem(|i| match i {
        Input::Pdu(_) => Reply::Silent,
        other => healthy(other),
    });
    let mut c = cfg();
    c.cmgs_timeout = Duration::from_secs(15);
    let mut m = Engine::new(io, c);
    let t0 = Instant::now();
    let out = m.send_message(&parts(&"y".repeat(200))).await;
    assert!(t0.elapsed() >= Duration::from_secs(15));
    assert_eq!(
        summaries(&out),
        vec!["ambiguous no-answer", "not-attempted"]
    );
    assert!(out[0].may_have_gone_out());
    let l = lines(&log);
    assert_eq!(l[l.len() - 2..], ["ESC", "AT"]);
}

#[tokio::test(start_paused = true)]
async fn a_late_cmgs_seen_while_resyncing_means_sent() {
    let (io, _log) = modem(|i| match i {
        Input::Pdu(_) => Reply::Silent,
        // The answer to the PDU comes late, just before the OK to our AT.
        Input::Line(c) if c == "AT" => bytes("\r\n+CMGS: 77\r\n\r\nOK\r\n\r\nOK\r\n"),
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    let out = m.send_message(&parts("hi")).await;
    assert_eq!(summaries(&out), vec!["sent 77"]);
    // The second OK was drained: the next command gets its own answer.
    let r = m.command("AT+CSQ").await.unwrap();
    assert_eq!(r.lines, vec!["+CSQ: 20,99"]);
}

#[tokio::test(start_paused = true)]
async fn the_stream_dying_after_ctrl_z_is_ambiguous_and_transport() {
    let (io, _log) = modem(|i| match i {
        Input::Pdu(_) => Reply::Hangup,
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    let out = m.send_message(&parts("hi")).await;
    match &out[0] {
        PartOutcome::Ambiguous {
            reason: AmbiguousReason::StreamDied(e),
        } => assert!(e.is_transport()),
        other => panic!("{other:?}"),
    }
    assert_eq!(m.health(), Health::Gone);
    let e = m.command("AT").await.unwrap_err();
    assert!(e.is_transport(), "{e}");
    assert_eq!(m.check_health().await, Health::Gone);
}

#[tokio::test(start_paused = true)]
async fn the_stream_dying_before_the_pdu_is_a_failure_nothing_sent() {
    let (io, _log) = modem(|i| match i {
        Input::Line(c) if c.starts_with("AT+CMGS") => Reply::Hangup,
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    let out = m.send_message(&parts(&"z".repeat(300))).await;
    match &out[0] {
        PartOutcome::Failed { error } => assert!(error.is_transport()),
        other => panic!("{other:?}"),
    }
    assert!(!out[0].may_have_gone_out());
    assert!(matches!(out[1], PartOutcome::NotAttempted));
}

#[tokio::test(start_paused = true)]
async fn a_hung_modem_is_detected_within_its_timeouts() {
    let (io, log) = modem(|_| Reply::Silent);
    let mut m = Engine::new(io, cfg());
    let t0 = Instant::now();
    let e = m.command("AT+CSQ").await.unwrap_err();
    let waited = t0.elapsed();
    assert!(matches!(e, ModemError::Hung { attempts: 3, .. }), "{e}");
    assert!(e.is_transport());
    // 5 s command timeout + 3 x 2 s re-sync (+ the 20 ms gap)
    assert!(
        waited >= Duration::from_secs(11) && waited < Duration::from_secs(12),
        "{waited:?}"
    );
    assert_eq!(lines(&log), vec!["AT+CSQ", "ESC", "AT", "AT", "AT"]);
    assert_eq!(m.health(), Health::Hung);
    assert_eq!(m.check_health().await, Health::Hung);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_resyncs_before_the_next_command() {
    let mut first = true;
    let (io, log) = modem(move |i| match i {
        Input::Line(c) if c == "AT+COPS?" && first => {
            first = false;
            Reply::Silent
        }
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    let e = m.command("AT+COPS?").await.unwrap_err();
    assert!(
        matches!(e, ModemError::Timeout { .. }) && !e.is_transport(),
        "{e}"
    );
    assert_eq!(m.command("AT+COPS?").await.unwrap().result, Final::Ok);
    assert_eq!(lines(&log), vec!["AT+COPS?", "ESC", "AT", "AT+COPS?"]);
}

#[tokio::test(start_paused = true)]
async fn a_modem_stuck_in_the_prompt_gets_esc_and_the_command_again() {
    let mut stuck = true;
    let (io, log) = modem(move |i| match i {
        Input::Line(c) if c == "AT+CSQ" && stuck => {
            stuck = false;
            bytes("\r\n> ")
        }
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    let r = m.command("AT+CSQ").await.unwrap();
    assert_eq!(r.lines, vec!["+CSQ: 20,99"]);
    assert_eq!(lines(&log), vec!["AT+CSQ", "ESC", "AT", "AT+CSQ"]);
}

#[tokio::test(start_paused = true)]
async fn reset_codes_after_init_mark_the_modem_for_reinit() {
    let (host, mut dev) = tokio::io::duplex(4096);
    let mut m = Engine::new(host, cfg());
    // The modem side, by hand: answer init from the healthy table, then reboot.
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = [0u8; 512];
        let mut line = Vec::new();
        loop {
            let n = dev.read(&mut buf).await.unwrap();
            for &b in &buf[..n] {
                if b == b'\r' {
                    let cmd = String::from_utf8_lossy(&line).to_string();
                    line.clear();
                    if cmd.is_empty() || cmd.starts_with('\x1b') {
                        continue;
                    }
                    if let Reply::Bytes(out) = healthy(&Input::Line(cmd.clone())) {
                        dev.write_all(&out).await.unwrap();
                    }
                    if cmd == "AT+CSQ" {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        dev.write_all(b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n")
                            .await
                            .unwrap();
                        return dev;
                    }
                } else {
                    line.push(b);
                }
            }
        }
    });
    m.init().await.unwrap();
    assert_eq!(m.health(), Health::Ready);
    m.idle(Duration::from_secs(2)).await.unwrap();
    assert!(m.needs_reinit());
    assert_eq!(m.health(), Health::NeedsReinit);
    assert_eq!(
        m.take_urcs(),
        vec![Urc::ModemReady, Urc::Pin(PinState::Ready), Urc::SmsReady]
    );
    drop(server);
}

#[tokio::test(start_paused = true)]
async fn next_urc_is_cancel_safe() {
    let (host, mut dev) = tokio::io::duplex(4096);
    let mut m = Engine::new(host, cfg());
    use tokio::io::AsyncWriteExt;
    dev.write_all(b"\r\n+CMTI: \"SM\",").await.unwrap();
    tokio::select! {
        u = m.next_urc() => panic!("half a line gave {u:?}"),
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
    dev.write_all(b"4\r\n").await.unwrap();
    match m.next_urc().await.unwrap() {
        Urc::NewMessage(at) => assert_eq!(at.index, 4),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_refused_pin_is_never_tried_again() {
    let (io, log) = modem(|i| match i {
        Input::Line(c) if c == "AT+CPIN?" => bytes("\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"),
        Input::Line(c) if c.starts_with("AT+CPIN=") => bytes("\r\n+CME ERROR: 16\r\n"),
        other => healthy(other),
    });
    let mut c = cfg();
    c.pin = Some("1234".into());
    let mut m = Engine::new(io, c);
    let e = m.init().await.unwrap_err();
    assert!(matches!(e, ModemError::Sim(SimProblem::WrongPin)), "{e}");
    assert_eq!(
        e.to_string(),
        "SIM: the configured PIN was refused (not retried: the SIM locks after 3 wrong PINs)"
    );
    let tries = lines(&log)
        .iter()
        .filter(|l| l.starts_with("AT+CPIN="))
        .count();
    assert_eq!(tries, 1);
    assert_eq!(m.health(), Health::SimLocked);
}

#[tokio::test(start_paused = true)]
async fn a_pin_locked_sim_without_a_configured_pin() {
    let (io, _log) = modem(|i| match i {
        Input::Line(c) if c == "AT+CPIN?" => bytes("\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"),
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    let e = m.init().await.unwrap_err();
    assert!(matches!(e, ModemError::Sim(SimProblem::PinRequired)));
    assert_eq!(m.health(), Health::PinNeeded);
    assert_eq!(m.check_health().await, Health::PinNeeded);
}

#[tokio::test(start_paused = true)]
async fn no_sim_and_puk() {
    let (io, _log) = modem(|i| match i {
        Input::Line(c) if c == "AT+CPIN?" => bytes("\r\n+CME ERROR: 10\r\n"),
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    assert!(matches!(
        m.init().await,
        Err(ModemError::Sim(SimProblem::NotInserted))
    ));
    assert_eq!(m.health(), Health::NoSim);
    assert_eq!(m.check_health().await, Health::NoSim);

    let (io, _log) = modem(|i| match i {
        Input::Line(c) if c == "AT+CPIN?" => bytes("\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n"),
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    match m.init().await {
        Err(ModemError::Sim(SimProblem::Locked(code))) => assert_eq!(code, "SIM PUK"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn sim_busy_is_waited_out() {
    let mut busy = 3;
    let (io, log) = modem(move |i| match i {
        Input::Line(c) if c == "AT+CPIN?" && busy > 0 => {
            busy -= 1;
            bytes("\r\n+CME ERROR: 14\r\n")
        }
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    let t0 = Instant::now();
    m.init().await.unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(6));
    assert_eq!(lines(&log).iter().filter(|l| *l == "AT+CPIN?").count(), 4);
}

#[tokio::test(start_paused = true)]
async fn registration_is_awaited_then_given_up() {
    let mut searching = 2;
    let (io, _log) = modem(move |i| match i {
        Input::Line(c) if c == "AT+CREG?" && searching > 0 => {
            searching -= 1;
            bytes("\r\n+CREG: 0,2\r\n\r\nOK\r\n")
        }
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    m.init().await.unwrap();
    assert_eq!(m.registration().await.unwrap().stat, RegStat::Home);

    let (io, _log) = modem(|i| match i {
        Input::Line(c) if c == "AT+CREG?" => bytes("\r\n+CREG: 0,3\r\n\r\nOK\r\n"),
        other => healthy(other),
    });
    let mut c = cfg();
    c.registration_timeout = Duration::from_secs(20);
    let mut m = Engine::new(io, c);
    let t0 = Instant::now();
    let e = m.init().await.unwrap_err();
    assert!(t0.elapsed() >= Duration::from_secs(20));
    assert_eq!(
        e.to_string(),
        "not registered to a network after 20s (last state: registration denied)"
    );
    assert_eq!(m.health(), Health::NotRegistered);
    assert_eq!(m.check_health().await, Health::NotRegistered);
}

#[tokio::test(start_paused = true)]
async fn an_empty_smsc_fails_init_after_waiting() {
    let (io, _log) = modem(|i| match i {
        Input::Line(c) if c == "AT+CSCA?" => bytes("\r\n+CSCA: \"\",129\r\n\r\nOK\r\n"),
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    let e = m.init().await.unwrap_err();
    assert!(matches!(e, ModemError::NoSmsc));
    assert!(e.is_sim());
}

#[tokio::test(start_paused = true)]
async fn health_ready() {
    let (io, _log) = modem(healthy);
    let mut m = Engine::new(io, cfg());
    assert_eq!(m.health(), Health::Unknown);
    assert_eq!(m.check_health().await, Health::Ready);
}

#[tokio::test(start_paused = true)]
async fn the_urc_queue_is_bounded_oldest_dropped() {
    let (host, mut dev) = tokio::io::duplex(1 << 16);
    let mut c = cfg();
    c.urc_queue = 10;
    let mut m = Engine::new(host, c);
    use tokio::io::AsyncWriteExt;
    for i in 0..25 {
        dev.write_all(format!("\r\n^RSSI:{i}\r\n").as_bytes())
            .await
            .unwrap();
    }
    m.idle(Duration::from_secs(1)).await.unwrap();
    let urcs = m.take_urcs();
    assert_eq!(urcs.len(), 10);
    assert_eq!(urcs[0], Urc::Rssi(15));
    assert_eq!(urcs[9], Urc::Rssi(24));
}

#[tokio::test(start_paused = true)]
async fn a_stray_prompt_while_idle_gets_esc() {
    let (io, log) = modem(|i| match i {
        Input::Line(c) if c == "AT+CSQ" => bytes("\r\n+CSQ: 20,99\r\n\r\nOK\r\n\r\n> "),
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    m.command("AT+CSQ").await.unwrap();
    m.idle(Duration::from_secs(1)).await.unwrap();
    assert_eq!(lines(&log), vec!["AT+CSQ", "ESC"]);
}

#[tokio::test(start_paused = true)]
async fn a_reset_instead_of_the_prompt_means_not_sent_at_once() {
    let (io, _log) = modem(|i| match i {
        Input::Line(c) if c.starts_with("AT+CMGS") => bytes("\r\nRDY\r\n"),
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    m.init().await.unwrap();
    let t0 = Instant::now();
    let out = m.send_message(&parts("hi")).await;
    assert_eq!(summaries(&out), vec!["not-sent modem-reset"]);
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert!(m.needs_reinit());
}

#[tokio::test(start_paused = true)]
async fn a_reset_after_ctrl_z_is_ambiguous_at_once() {
    let (io, _log) = modem(|i| match i {
        Input::Pdu(_) => bytes("\r\nRDY\r\n"),
        other => healthy(other),
    });
    let mut m = Engine::new(io, cfg());
    m.init().await.unwrap();
    let t0 = Instant::now();
    let out = m.send_message(&parts(&"y".repeat(200))).await;
    assert_eq!(
        summaries(&out),
        vec!["ambiguous modem-reset", "not-attempted"]
    );
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert!(out[0].may_have_gone_out());
}

#[tokio::test(start_paused = true)]
async fn the_command_gap_runs_from_the_modems_last_word() {
    // The modem records when each command line reached it.
    let seen: std::sync::Arc<std::sync::Mutex<Vec<(String, Instant)>>> = Default::default();
    let record = seen.clone();
    let (io, _log) = modem(move |i| {
        if let Input::Line(l) = i {
            record.lock().unwrap().push((l.clone(), Instant::now()));
        }
        healthy(i)
    });
    let mut c = cfg();
    c.command_gap = Duration::from_millis(20);
    let mut m = Engine::new(io, c);
    let t0 = Instant::now();
    m.command("AT+A").await.unwrap(); // nothing heard yet: no wait
    m.command("AT+B").await.unwrap(); // right after A's OK: waits the whole gap
    tokio::time::sleep(Duration::from_millis(50)).await;
    m.command("AT+C").await.unwrap(); // 50 ms of silence already: no wait
    tokio::time::sleep(Duration::from_millis(12)).await;
    m.command("AT+D").await.unwrap(); // 12 ms since C's OK: waits the other 8
    let at: Vec<(String, u128)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(l, t)| (l.clone(), (*t - t0).as_millis()))
        .collect();
    assert_eq!(
        at,
        vec![
            ("AT+A".to_string(), 0),
            ("AT+B".to_string(), 20),
            ("AT+C".to_string(), 70),
            ("AT+D".to_string(), 90),
        ]
    );
}

/// A modem whose firmware says `OK` to `AT^CURC=0` and still repeats `^BOOT` (the emulator's
/// `noise` scenario of the peers bench): after `AT+CSQ` it answers, then reports `^BOOT`.
/// When `restarts` is set, every `^BOOT` is a real restart: echo comes back on until `ATE0`.
fn booting_modem(restarts: bool) -> (tokio::io::DuplexStream, common::Log) {
    let mut echo = false;
    modem(move |i| {
        let reply = match i {
            Input::Line(c) if c == "AT+CSQ" => {
                if restarts {
                    echo = true;
                }
                bytes("\r\n+CSQ: 20,99\r\n\r\nOK\r\n\r\n^BOOT:20950528,0,0,0,72\r\n")
            }
            Input::Pdu(_) => bytes("\r\n^BOOT:20950528,0,0,0,72\r\n\r\n+CMGS: 7\r\n\r\nOK\r\n"),
            other => healthy(other),
        };
        match (i, reply) {
            (Input::Line(c), Reply::Bytes(b)) if echo => {
                if c == "ATE0" {
                    echo = false;
                }
                let mut out = format!("{c}\r").into_bytes();
                out.extend(b);
                Reply::Bytes(out)
            }
            (_, r) => r,
        }
    })
}

#[tokio::test(start_paused = true)]
async fn a_boot_code_between_ctrl_z_and_the_answer_does_not_lose_the_answer() {
    let (io, _log) = booting_modem(false);
    let mut m = Engine::new(io, cfg());
    m.init().await.unwrap();
    let out = m.send_message(&parts("hi")).await;
    assert_eq!(
        summaries(&out),
        vec!["sent 7"],
        "the answer after ^BOOT counts"
    );
}

#[tokio::test(start_paused = true)]
async fn a_boot_code_from_a_modem_that_kept_its_settings_is_learnt_as_periodic() {
    let (io, _log) = booting_modem(false);
    let mut m = Engine::new(io, cfg());
    m.init().await.unwrap();
    m.signal().await.unwrap();
    m.idle(Duration::from_millis(100)).await.unwrap();
    assert!(
        m.needs_reinit(),
        "the first ^BOOT after init may be a restart"
    );
    m.init().await.unwrap();
    // Echo was still off when init woke it: the ^BOOT was a report, and is ignored from now on.
    m.signal().await.unwrap();
    m.idle(Duration::from_millis(100)).await.unwrap();
    assert!(!m.needs_reinit());
    assert_eq!(m.health(), Health::Ready);
}

#[tokio::test(start_paused = true)]
async fn a_boot_code_from_a_modem_that_really_restarted_keeps_asking_for_init() {
    let (io, _log) = booting_modem(true);
    let mut m = Engine::new(io, cfg());
    m.init().await.unwrap();
    m.signal().await.unwrap();
    m.idle(Duration::from_millis(100)).await.unwrap();
    assert!(m.needs_reinit());
    m.init().await.unwrap(); // echo was back on: a real restart
    m.signal().await.unwrap();
    m.idle(Duration::from_millis(100)).await.unwrap();
    assert!(m.needs_reinit(), "every ^BOOT of this modem is a restart");
}
