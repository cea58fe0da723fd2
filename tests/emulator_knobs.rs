//! Every misbehaviour knob of the emulated modems, seen from a client on the PTY.

mod common;

use std::time::{Duration, Instant};

use common::serial::{mr_of, send_pdu, Port};
use groupsms::emulator::log::read_log;
use groupsms::emulator::{EmulatedModem, Emulator, EmulatorConfig, EmulatorHandle, Noise, Profile};
use groupsms::sms::{self, Address, SubmitOptions};

fn start(count: usize, f: impl Fn(&mut EmulatedModem)) -> (tempfile::TempDir, EmulatorHandle) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmulatorConfig::new(dir.path().join("dev"), count)
        .log(dir.path().join("sent.jsonl"))
        .seed(42)
        .all(|m| {
            m.knobs.boot_time = Duration::from_millis(50);
            f(m)
        });
    (dir, Emulator::start(cfg).unwrap())
}

fn hello() -> sms::SubmitPdu {
    let o = SubmitOptions::to(Address::parse("+8613800138000").unwrap());
    sms::encode_submit("hello", &o).unwrap().remove(0)
}

async fn ready(h: &EmulatorHandle, i: usize) -> Port {
    let mut p = Port::open(h.path(i)).unwrap();
    assert!(p.cmd("ATE0;+CMEE=1").await.ends_with("\r\nOK\r\n"));
    p
}

async fn send(p: &mut Port) -> String {
    let pdu = hello();
    send_pdu(p, pdu.tpdu_len, &pdu.hex()).await
}

const QUIET: Duration = Duration::from_millis(250);

#[tokio::test]
async fn send_latency_and_jitter() {
    let (_d, h) = start(2, |m| {
        m.knobs.send_latency = Duration::from_millis(150);
    });
    let (_d2, h2) = start(1, |m| {
        m.knobs.send_latency = Duration::from_millis(50);
        m.knobs.send_jitter = Duration::from_millis(100);
    });
    let mut p = ready(&h, 0).await;
    let t = Instant::now();
    assert!(mr_of(&send(&mut p).await).is_some());
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // The modem is busy meanwhile: a command typed during the send is answered after it.
    let pdu = hello();
    p.send(format!("AT+CMGS={}\r", pdu.tpdu_len).as_bytes())
        .await;
    p.read_until("> ").await;
    p.send(format!("{}\x1aAT+CSQ\r", pdu.hex()).as_bytes())
        .await;
    let both = p.read_until("+CSQ: 20,99\r\n\r\nOK\r\n").await;
    assert!(
        both.find("+CMGS:").unwrap() < both.find("+CSQ:").unwrap(),
        "{both:?}"
    );
    let mut q = ready(&h2, 0).await;
    for _ in 0..3 {
        let t = Instant::now();
        send(&mut q).await;
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(50) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }
}

#[tokio::test]
async fn error_rate_and_codes_repeat_with_the_seed() {
    let (dir, h) = start(1, |m| {
        m.knobs.error_rate = 1.0;
        m.knobs.error_codes = vec![42];
    });
    let mut p = ready(&h, 0).await;
    for _ in 0..3 {
        assert_eq!(send(&mut p).await, "\r\n+CMS ERROR: 42\r\n");
    }
    assert_eq!(h.summary().modems[0].stats.failed.get(&42), Some(&3));
    assert!(read_log(&dir.path().join("sent.jsonl"))
        .unwrap_or_default()
        .is_empty());
    // Half the sends fail with 38 or 500; the same seed gives the same run, another seed not.
    let mut runs = Vec::new();
    for seed in [7u64, 7, 8] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = EmulatorConfig::new(dir.path().join("dev"), 1)
            .seed(seed)
            .all(|m| m.knobs.error_rate = 0.5);
        let h = Emulator::start(cfg).unwrap();
        let mut p = ready(&h, 0).await;
        let mut outcomes = Vec::new();
        for _ in 0..24 {
            let a = send(&mut p).await;
            outcomes.push(a.trim().to_string());
        }
        let failures = outcomes
            .iter()
            .filter(|o| o.starts_with("+CMS ERROR"))
            .count();
        assert!((4..=20).contains(&failures), "{outcomes:?}");
        assert!(outcomes
            .iter()
            .all(|o| o.starts_with("+CMGS:") || o == "+CMS ERROR: 38" || o == "+CMS ERROR: 500"));
        runs.push(outcomes);
        h.shutdown().await;
    }
    assert_eq!(runs[0], runs[1]);
    assert_ne!(runs[0], runs[2]);
}

#[tokio::test]
async fn hang_after_k_sends_until_reboot() {
    let (_d, h) = start(1, |m| m.knobs.hang_after_sends = Some(2));
    let mut p = ready(&h, 0).await;
    assert!(mr_of(&send(&mut p).await).is_some());
    assert!(mr_of(&send(&mut p).await).is_some());
    p.send(b"AT\r").await;
    assert_eq!(p.drain_for(QUIET).await, "");
    assert!(h.summary().modems[0].hung);
    h.reboot(0).await.unwrap();
    assert_eq!(p.read_until("\r\nRDY\r\n").await, "\r\nRDY\r\n");
    assert_eq!(p.cmd("AT").await, "AT\r\r\nOK\r\n");
    assert!(!h.summary().modems[0].hung);
    // It does not hang again at the next sends (the count is past K).
    p.cmd("ATE0").await;
    assert!(mr_of(&send(&mut p).await).is_some());
}

#[tokio::test]
async fn die_after_ctrl_z_logs_the_part_and_never_answers() {
    let (dir, h) = start(1, |m| m.knobs.die_after_ctrl_z = Some(2));
    let mut p = ready(&h, 0).await;
    let first = mr_of(&send(&mut p).await).unwrap();
    let pdu = hello();
    p.send(format!("AT+CMGS={}\r", pdu.tpdu_len).as_bytes())
        .await;
    p.read_until("> ").await;
    p.send(format!("{}\x1a", pdu.hex()).as_bytes()).await;
    assert_eq!(p.drain_for(QUIET).await, "");
    p.send(b"\x1b\rAT\r").await;
    assert_eq!(p.drain_for(QUIET).await, "");
    let log = read_log(&dir.path().join("sent.jsonl")).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].mr, first.wrapping_add(1));
    let s = h.summary();
    assert_eq!((s.modems[0].stats.accepted, s.modems[0].hung), (2, true));
}

#[tokio::test]
async fn unplug_after_k_sends_and_replug_at_the_same_path() {
    let (_d, h) = start(1, |m| {
        m.knobs.unplug_after_sends = Some(1);
        m.knobs.replug_after = Some(Duration::from_millis(300));
    });
    let before = std::fs::read_link(h.path(0)).unwrap();
    let mut p = ready(&h, 0).await;
    assert!(mr_of(&send(&mut p).await).is_some());
    assert!(
        p.is_gone().await,
        "the client's descriptor fails once the stick is gone"
    );
    assert!(
        std::fs::symlink_metadata(h.path(0)).is_err(),
        "symlink removed"
    );
    assert!(h.summary().modems[0].device.is_none());
    let t = Instant::now();
    while std::fs::symlink_metadata(h.path(0)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(5), "never replugged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    let after = std::fs::read_link(h.path(0)).unwrap();
    assert_ne!(before, after, "a new PTY");
    // A freshly powered-on modem: echo is on again.
    let mut p = Port::open(h.path(0)).unwrap();
    assert_eq!(p.cmd("AT").await, "AT\r\r\nOK\r\n");
    // The handle can pull it out and put it back too.
    h.unplug(0).await.unwrap();
    assert!(p.is_gone().await);
    assert!(std::fs::symlink_metadata(h.path(0)).is_err());
    h.replug(0).await.unwrap();
    let mut p = Port::open(h.path(0)).unwrap();
    assert_eq!(p.cmd("AT").await, "AT\r\r\nOK\r\n");
    let s = &h.summary().modems[0];
    assert_eq!((s.unplugs, s.replugs), (2, 2));
}

#[tokio::test]
async fn registration_lost_and_regained() {
    let (_d, h) = start(1, |m| {
        m.knobs.reg_loss_after_sends = Some(1);
        m.knobs.reg_loss_for = Some(Duration::from_millis(300));
    });
    let mut p = ready(&h, 0).await;
    p.cmd("AT+CREG=1").await;
    assert!(mr_of(&send(&mut p).await).is_some());
    assert_eq!(p.read_until("\r\n+CREG: 2\r\n").await, "\r\n+CREG: 2\r\n");
    assert_eq!(send(&mut p).await, "\r\n+CMS ERROR: 331\r\n");
    assert_eq!(p.cmd("AT+CREG?").await, "\r\n+CREG: 1,2\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CSQ").await, "\r\n+CSQ: 99,99\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+COPS?").await, "\r\n+COPS: 0\r\n\r\nOK\r\n");
    assert!(!h.summary().modems[0].registered);
    p.read_until("\r\n+CREG: 1\r\n").await;
    assert!(mr_of(&send(&mut p).await).is_some());
    // By hand.
    h.lose_registration(0).await.unwrap();
    p.read_until("\r\n+CREG: 2\r\n").await;
    assert_eq!(send(&mut p).await, "\r\n+CMS ERROR: 331\r\n");
    h.regain_registration(0).await.unwrap();
    p.read_until("\r\n+CREG: 1\r\n").await;
    assert!(mr_of(&send(&mut p).await).is_some());
}

#[tokio::test]
async fn unsolicited_noise_periodic_and_inside_answers() {
    let (_d, h) = start(2, |m| {
        m.knobs.noise = Noise::Every(Duration::from_millis(20))
    });
    let mut p = Port::open(h.path(0)).unwrap();
    p.cmd("AT").await;
    let noise = p.drain_for(Duration::from_millis(400)).await;
    let lines: Vec<&str> = noise.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines.len() >= 4, "{noise:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("^RSSI:") || l.starts_with("^MODE:") || l.starts_with("^BOOT:")),
        "{noise:?}"
    );
    drop(p);
    let (_d2, h2) = start(1, |m| {
        m.knobs.noise = Noise::Off;
        m.knobs.noise_in_answers = 1.0;
    });
    let mut q = Port::open(h2.path(0)).unwrap();
    let a = q.cmd("AT").await;
    assert!(a.starts_with("AT\r\r\n^"), "{a:?}");
    assert!(a.ends_with("\r\n\r\nOK\r\n"), "{a:?}");
    q.cmd("ATE0").await;
    let pdu = hello();
    q.send(format!("AT+CMGS={}\r", pdu.tpdu_len).as_bytes())
        .await;
    let before_prompt = q.read_until("\r\n> ").await;
    assert!(before_prompt.starts_with("\r\n^"), "{before_prompt:?}");
    q.send(format!("{}\x1a", pdu.hex()).as_bytes()).await;
    let a = q.answer().await;
    assert!(a.starts_with("\r\n^") && a.contains("\r\n+CMGS: "), "{a:?}");
}

#[tokio::test]
async fn pin_required_counts_down_to_puk() {
    let (_d, h) = start(1, |m| m.knobs.pin = Some("1234".into()));
    let mut p = ready(&h, 0).await;
    assert_eq!(p.cmd("AT+CPIN?").await, "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CIMI").await, "\r\n+CME ERROR: 11\r\n");
    assert_eq!(p.cmd("AT+CMGS=18").await, "\r\n+CMS ERROR: 311\r\n");
    assert_eq!(p.cmd("AT+CREG?").await, "\r\n+CREG: 0,0\r\n\r\nOK\r\n");
    assert!(
        p.cmd("AT+CGMI").await.contains("GROUPSMS"),
        "identity works without PIN"
    );
    assert!(h.deliver_sms(0, "10086", "x").await.is_err());
    for _ in 0..3 {
        assert_eq!(p.cmd("AT+CPIN=\"0000\"").await, "\r\n+CME ERROR: 16\r\n");
    }
    assert_eq!(p.cmd("AT+CPIN?").await, "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CPIN=\"1234\"").await, "\r\n+CME ERROR: 16\r\n");
    assert_eq!(p.cmd("AT+CPIN=\"12345678\",\"4321\"").await, "\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CPIN?").await, "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CREG?").await, "\r\n+CREG: 0,1\r\n\r\nOK\r\n");
    assert!(mr_of(&send(&mut p).await).is_some());
    // After a reboot the SIM asks again, for the new PIN.
    h.reboot(0).await.unwrap();
    p.read_until("RDY\r\n").await;
    p.cmd("ATE0;+CMEE=2").await;
    assert_eq!(p.cmd("AT+CPIN?").await, "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n");
    assert_eq!(
        p.cmd("AT+CIMI").await,
        "\r\n+CME ERROR: SIM PIN required\r\n"
    );
    assert_eq!(p.cmd("AT+CPIN=\"4321\"").await, "\r\nOK\r\n");
    assert!(p.cmd("AT+CIMI").await.starts_with("\r\n46000"));
}

#[tokio::test]
async fn no_sim_in_the_slot() {
    let (_d, h) = start(2, |m| {
        m.knobs.sim_absent = true;
        m.profile = Profile::Quectel;
    });
    let mut p = ready(&h, 0).await;
    assert_eq!(p.cmd("AT+CPIN?").await, "\r\n+CME ERROR: 10\r\n");
    assert_eq!(p.cmd("AT+CIMI").await, "\r\n+CME ERROR: 10\r\n");
    assert_eq!(p.cmd("AT+CSCA?").await, "\r\n+CMS ERROR: 310\r\n");
    assert_eq!(p.cmd("AT+CREG?").await, "\r\n+CREG: 0,0\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CMGS=18").await, "\r\n+CMS ERROR: 310\r\n");
    assert!(p.cmd("AT+CGMI").await.contains("Quectel"));
    assert!(h.deliver_sms(0, "10086", "x").await.is_err());
    // A Quectel says so when it boots.
    h.reboot(0).await.unwrap();
    p.read_until("+CPIN: NOT INSERTED\r\n").await;
}

#[tokio::test]
async fn sim_without_an_smsc() {
    let (_d, h) = start(1, |m| m.knobs.smsc = String::new());
    let mut p = ready(&h, 0).await;
    assert_eq!(p.cmd("AT+CSCA?").await, "\r\n+CSCA: \"\",129\r\n\r\nOK\r\n");
    // Our PDUs carry no SMSC of their own (00): the modem has none to use.
    assert_eq!(send(&mut p).await, "\r\n+CMS ERROR: 330\r\n");
    assert_eq!(p.cmd("AT+CSCA=\"+8613800100500\",145").await, "\r\nOK\r\n");
    assert!(mr_of(&send(&mut p).await).is_some());
}

#[tokio::test]
async fn lte_only_registers_on_cereg_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmulatorConfig::new(dir.path().join("dev"), 2)
        .all(|m| m.knobs.boot_time = Duration::from_millis(50))
        .modem(0, |m| {
            m.profile = Profile::Quectel;
            m.knobs.lte_only = true;
        })
        .modem(1, |m| m.profile = Profile::Huawei);
    let h = Emulator::start(cfg).unwrap();
    let mut p = ready(&h, 0).await;
    assert_eq!(p.cmd("AT+CREG?").await, "\r\n+CREG: 0,0\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CGREG?").await, "\r\n+CGREG: 0,0\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CEREG?").await, "\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    p.cmd("AT+CEREG=2").await;
    let long = p.cmd("AT+CEREG?").await;
    assert!(
        long.starts_with("\r\n+CEREG: 2,1,\"") && long.ends_with(",7\r\n\r\nOK\r\n"),
        "{long}"
    );
    assert!(
        mr_of(&send(&mut p).await).is_some(),
        "SMS goes over SGs/IMS"
    );
    h.lose_registration(0).await.unwrap();
    p.read_until("\r\n+CEREG: 2\r\n").await;
    // A 3G Huawei does not know the command.
    let mut q = ready(&h, 1).await;
    assert_eq!(q.cmd("AT+CEREG?").await, "\r\nCOMMAND NOT SUPPORT\r\n");
    // And the knob is refused there.
    let cfg = EmulatorConfig::new(dir.path().join("dev2"), 1).all(|m| {
        m.profile = Profile::Huawei;
        m.knobs.lte_only = true;
    });
    match Emulator::start(cfg) {
        Err(e) => assert!(e.to_string().contains("LTE"), "{e}"),
        Ok(_) => panic!("lte_only was accepted on a 3G profile"),
    }
}

#[tokio::test]
async fn per_sim_cap_blocks_like_a_carrier() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmulatorConfig::new(dir.path().join("dev"), 2)
        .all(|m| {
            m.knobs.cap = Some(2);
            m.knobs.boot_time = Duration::from_millis(50);
        })
        .modem(1, |m| m.knobs.cap_error = 500);
    let h = Emulator::start(cfg).unwrap();
    for (i, code) in [(0, 38), (1, 500)] {
        let mut p = ready(&h, i).await;
        assert!(mr_of(&send(&mut p).await).is_some());
        assert!(mr_of(&send(&mut p).await).is_some());
        assert_eq!(send(&mut p).await, format!("\r\n+CMS ERROR: {code}\r\n"));
        // A reboot does not lift a carrier's block.
        h.reboot(i).await.unwrap();
        p.read_until("RDY\r\n").await;
        p.cmd("ATE0;+CMEE=1").await;
        assert_eq!(send(&mut p).await, format!("\r\n+CMS ERROR: {code}\r\n"));
    }
}

#[tokio::test]
async fn reboot_after_k_sends_needs_reinit() {
    let (_d, h) = start(1, |m| {
        m.profile = Profile::Simcom;
        m.knobs.reboot_after_sends = Some(1);
        m.knobs.boot_time = Duration::from_millis(150);
    });
    let mut p = ready(&h, 0).await;
    p.cmd("AT+CNMI=2,1,0,1,0").await;
    assert!(mr_of(&send(&mut p).await).is_some());
    // Silent while booting.
    p.send(b"AT\r").await;
    let boot = p.read_until("SMS Ready\r\n").await;
    assert_eq!(
        boot,
        "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n"
    );
    // Settings are back to defaults: echo on, CMEE 0, CNMI default.
    assert_eq!(p.cmd("AT").await, "AT\r\r\nOK\r\n");
    assert_eq!(
        p.cmd("AT+CMEE?").await,
        "AT+CMEE?\r\r\n+CMEE: 0\r\n\r\nOK\r\n"
    );
    assert_eq!(
        p.cmd("AT+CNMI?").await,
        "AT+CNMI?\r\r\n+CNMI: 2,1,0,0,0\r\n\r\nOK\r\n"
    );
    assert_eq!(
        p.cmd("AT+CMGF?").await,
        "AT+CMGF?\r\r\n+CMGF: 0\r\n\r\nOK\r\n"
    );
    assert_eq!(h.summary().modems[0].stats.reboots, 1);
}

#[tokio::test]
async fn boot_urcs_per_profile() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmulatorConfig::new(dir.path().join("dev"), 3)
        .all(|m| m.knobs.boot_time = Duration::from_millis(30))
        .modem(0, |m| m.profile = Profile::Quectel)
        .modem(1, |m| m.profile = Profile::Huawei)
        .modem(2, |m| m.knobs.noise = Noise::Off);
    let h = Emulator::start(cfg).unwrap();
    let mut q = Port::open(h.path(0)).unwrap();
    q.cmd("AT").await;
    h.reboot(0).await.unwrap();
    assert_eq!(
        q.read_until("PB DONE\r\n").await,
        "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n\r\n+QIND: PB DONE\r\n"
    );
    let mut w = Port::open(h.path(1)).unwrap();
    w.cmd("AT^CURC=0").await;
    h.reboot(1).await.unwrap();
    let boot = w.read_until("^SIMST:1\r\n").await;
    assert!(boot.starts_with("\r\n^BOOT:"), "{boot:?}");
    let mut g = Port::open(h.path(2)).unwrap();
    g.cmd("AT").await;
    h.reboot(2).await.unwrap();
    assert_eq!(g.read_until("RDY\r\n").await, "\r\nRDY\r\n");
}
