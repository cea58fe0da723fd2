//! The AT surface of the emulated modems, driven through the PTY symlinks like any client.

mod common;

use std::time::Duration;

use common::serial::{mr_of, send_pdu, Port};
use groupsms::emulator::{
    Emulator, EmulatorConfig, EmulatorHandle, IncomingRoute, Phones, Profile, ReportRoute,
};
use groupsms::sms::{self, join::join_text, Address, SubmitOptions, Tpdu};

fn start(
    count: usize,
    f: impl Fn(EmulatorConfig) -> EmulatorConfig,
) -> (tempfile::TempDir, EmulatorHandle) {
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        f(EmulatorConfig::new(dir.path().join("dev"), count).log(dir.path().join("sent.jsonl")));
    let h = Emulator::start(cfg).unwrap();
    (dir, h)
}

fn profile(p: Profile) -> impl Fn(EmulatorConfig) -> EmulatorConfig {
    move |c| c.all(|m| m.profile = p)
}

fn submit(to: &str, text: &str) -> Vec<sms::SubmitPdu> {
    let mut o = SubmitOptions::to(Address::parse(to).unwrap());
    o.concat_ref = 3;
    sms::encode_submit(text, &o).unwrap()
}

/// Octets after the SMSC field of a PDU-mode hex string.
fn tpdu_len_of(hex: &str) -> usize {
    let smsc = usize::from_str_radix(&hex[..2], 16).unwrap();
    hex.len() / 2 - 1 - smsc
}

#[tokio::test]
async fn echo_until_ate0_and_back_with_ate1() {
    let (_d, h) = start(1, |c| c);
    let mut p = Port::open(h.path(0)).unwrap();
    assert_eq!(p.cmd("AT").await, "AT\r\r\nOK\r\n");
    assert_eq!(p.cmd("ATE0").await, "ATE0\r\r\nOK\r\n");
    assert_eq!(p.cmd("AT").await, "\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CSQ").await, "\r\n+CSQ: 20,99\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("ATE1").await, "\r\nOK\r\n");
    assert_eq!(p.cmd("AT").await, "AT\r\r\nOK\r\n");
    // Lines without AT are ignored; lower case works.
    assert_eq!(p.cmd("hello\r\nat").await, "hello\r\nat\r\r\nOK\r\n");
}

#[tokio::test]
async fn cmee_selects_the_error_form() {
    let (_d, h) = start(1, |c| c);
    let mut p = Port::open(h.path(0)).unwrap();
    p.cmd("ATE0").await;
    // Entering a PIN on a ready SIM is "operation not allowed" (CME 3).
    assert_eq!(p.cmd("AT+CPIN=\"1234\"").await, "\r\nERROR\r\n");
    assert_eq!(p.cmd("AT+CMEE=1").await, "\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CPIN=\"1234\"").await, "\r\n+CME ERROR: 3\r\n");
    assert_eq!(p.cmd("AT+CMEE=2").await, "\r\nOK\r\n");
    assert_eq!(
        p.cmd("AT+CPIN=\"1234\"").await,
        "\r\n+CME ERROR: operation not allowed\r\n"
    );
    assert_eq!(p.cmd("AT+CMEE?").await, "\r\n+CMEE: 2\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CMEE=0").await, "\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CMEE=7").await, "\r\nERROR\r\n");
}

#[tokio::test]
async fn identity_per_profile() {
    let (_d, h) = start(4, |c| {
        c.modem(0, |m| m.profile = Profile::Huawei)
            .modem(1, |m| m.profile = Profile::Simcom)
            .modem(2, |m| m.profile = Profile::Quectel)
    });
    let expect = [
        ("huawei", "E1752", "11.126.13.00.00", "Manufacturer: huawei"),
        (
            "SIMCOM_Ltd",
            "SIMCOM_SIM800L",
            "Revision:1418B04SIM800L24",
            "SIM800 R14.18",
        ),
        (
            "Quectel",
            "EC25",
            "EC25EFAR06A10M4G",
            "Quectel\r\nEC25\r\nRevision: EC25EFAR06A10M4G",
        ),
        ("GROUPSMS", "EMU-1", "1.0.0", "GROUPSMS EMU-1"),
    ];
    let summary = h.summary();
    for (i, (mf, model, rev, ati)) in expect.iter().enumerate() {
        let mut p = Port::open(h.path(i)).unwrap();
        p.cmd("ATE0").await;
        assert_eq!(p.cmd("AT+CGMI").await, format!("\r\n{mf}\r\n\r\nOK\r\n"));
        assert_eq!(p.cmd("AT+CGMM").await, format!("\r\n{model}\r\n\r\nOK\r\n"));
        assert_eq!(p.cmd("AT+CGMR").await, format!("\r\n{rev}\r\n\r\nOK\r\n"));
        assert!(p.cmd("ATI").await.contains(ati));
        let imei = p.cmd("AT+CGSN").await;
        let imei = imei.trim().lines().next().unwrap().to_string();
        assert_eq!(imei.len(), 15);
        assert_eq!(imei, summary.modems[i].imei);
        let imsi = p.cmd("AT+CIMI").await;
        assert!(
            imsi.starts_with("\r\n46000")
                && imsi.len() == "\r\n460001234567890\r\n\r\nOK\r\n".len(),
            "{imsi:?}"
        );
        assert!(p
            .cmd("AT+CNUM")
            .await
            .contains(&summary.modems[i].own_number));
    }
    // IMEIs differ between modems and carry a valid Luhn digit.
    let imeis: std::collections::BTreeSet<_> =
        summary.modems.iter().map(|m| m.imei.clone()).collect();
    assert_eq!(imeis.len(), 4);
    for imei in imeis {
        let sum: u32 = imei
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let d = (b - b'0') as u32;
                if i % 2 == 1 {
                    (d * 2) / 10 + (d * 2) % 10
                } else {
                    d
                }
            })
            .sum();
        assert_eq!(sum % 10, 0, "{imei}");
    }
}

#[tokio::test]
async fn unknown_commands_and_huawei_command_not_support() {
    let (_d, h) = start(2, |c| c.modem(1, |m| m.profile = Profile::Huawei));
    let mut g = Port::open(h.path(0)).unwrap();
    g.cmd("ATE0").await;
    assert_eq!(g.cmd("AT+WIND?").await, "\r\nERROR\r\n");
    assert_eq!(g.cmd("AT^CURC=0").await, "\r\nERROR\r\n");
    assert_eq!(g.cmd("AT+CMEE=1").await, "\r\nOK\r\n");
    assert_eq!(g.cmd("AT$TSSPCSW=?").await, "\r\nERROR\r\n");
    let mut hw = Port::open(h.path(1)).unwrap();
    assert_eq!(
        hw.cmd("AT$TSSPCSW=?").await,
        "AT$TSSPCSW=?\r\r\nCOMMAND NOT SUPPORT\r\n"
    );
    hw.cmd("ATE0").await;
    assert_eq!(hw.cmd("AT^CURC=0").await, "\r\nOK\r\n");
    assert_eq!(hw.cmd("AT^PORTSEL=1").await, "\r\nOK\r\n");
    // Huawei E1752 answers AT+CMMS with CMS 500 (field notes, gammu#138).
    hw.cmd("AT+CMEE=1").await;
    assert_eq!(hw.cmd("AT+CMMS=1").await, "\r\n+CMS ERROR: 500\r\n");
}

#[tokio::test]
async fn chained_commands_run_in_order_and_stop_at_the_first_error() {
    let (_d, h) = start(1, |c| c);
    let mut p = Port::open(h.path(0)).unwrap();
    let a = p.cmd("ATE0+CMEE=1;+CREG=2;+CREG?").await;
    assert!(
        a.starts_with("ATE0+CMEE=1;+CREG=2;+CREG?\r\r\n+CREG: 2,1,\""),
        "{a:?}"
    );
    assert!(a.ends_with("\"\r\n\r\nOK\r\n"), "{a:?}");
    assert_eq!(p.cmd("AT+CMGF=0;+BOGUS;+CMGF=1").await, "\r\nERROR\r\n");
    assert_eq!(p.cmd("AT+CMGF?").await, "\r\n+CMGF: 0\r\n\r\nOK\r\n");
    assert_eq!(
        p.cmd("AT+CSQ;+CPMS?").await,
        "\r\n+CSQ: 20,99\r\n\r\n+CPMS: \"SM\",0,30,\"SM\",0,30,\"SM\",0,30\r\n\r\nOK\r\n"
    );
    assert_eq!(
        p.cmd("ATE0+CPMS=\"SM\"+CNMI=2,1,0,1,0").await,
        "\r\n+CPMS: 0,30,0,30,0,30\r\n\r\nOK\r\n"
    );
    assert_eq!(
        p.cmd("AT+CNMI?").await,
        "\r\n+CNMI: 2,1,0,1,0\r\n\r\nOK\r\n"
    );
}

#[tokio::test]
async fn network_status_commands() {
    let (_d, h) = start(1, |c| c.modem(0, |m| m.profile = Profile::Quectel));
    let mut p = Port::open(h.path(0)).unwrap();
    p.cmd("ATE0").await;
    assert_eq!(p.cmd("AT+CREG?").await, "\r\n+CREG: 0,1\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CREG=1").await, "\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CREG?").await, "\r\n+CREG: 1,1\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CGREG=2").await, "\r\nOK\r\n");
    let cgreg = p.cmd("AT+CGREG?").await;
    assert!(cgreg.starts_with("\r\n+CGREG: 2,1,\""), "{cgreg:?}");
    assert_eq!(p.cmd("AT+CREG=3").await, "\r\nERROR\r\n");
    assert_eq!(p.cmd("AT+CREG=?").await, "\r\n+CREG: (0-2)\r\n\r\nOK\r\n");
    assert_eq!(
        p.cmd("AT+COPS?").await,
        "\r\n+COPS: 0,0,\"CHINA MOBILE\",7\r\n\r\nOK\r\n"
    );
    assert_eq!(p.cmd("AT+COPS=3,2").await, "\r\nOK\r\n");
    assert_eq!(
        p.cmd("AT+COPS?").await,
        "\r\n+COPS: 0,2,\"46000\",7\r\n\r\nOK\r\n"
    );
    assert!(p
        .cmd("AT+COPS=?")
        .await
        .contains("(2,\"CHINA MOBILE\",\"CMCC\",\"46000\",7)"));
    assert_eq!(
        p.cmd("AT+CSCA?").await,
        "\r\n+CSCA: \"+8613800100500\",145\r\n\r\nOK\r\n"
    );
    assert_eq!(p.cmd("AT+CSCA=\"+8613800210500\",145").await, "\r\nOK\r\n");
    assert!(p.cmd("AT+CSCA?").await.contains("+8613800210500"));
    assert_eq!(p.cmd("AT+CSCS?").await, "\r\n+CSCS: \"GSM\"\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CSCS=\"UCS2\"").await, "\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CSCS?").await, "\r\n+CSCS: \"UCS2\"\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CSCS=\"KLINGON\"").await, "\r\nERROR\r\n");
    assert_eq!(
        p.cmd("AT+CSCS=?").await,
        "\r\n+CSCS: (\"IRA\",\"GSM\",\"UCS2\")\r\n\r\nOK\r\n"
    );
    assert_eq!(p.cmd("AT+CMGF=?").await, "\r\n+CMGF: (0,1)\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CMGF=1").await, "\r\nOK\r\n");
    assert_eq!(p.cmd("AT+CMGF?").await, "\r\n+CMGF: 1\r\n\r\nOK\r\n");
    p.cmd("AT+CMEE=1").await;
    // PDU mode only: text-mode sends are refused.
    assert_eq!(
        p.cmd("AT+CMGS=\"+8613800138000\"").await,
        "\r\n+CMS ERROR: 302\r\n"
    );
    assert_eq!(p.cmd("AT+CMGF=0").await, "\r\nOK\r\n");
    assert_eq!(
        p.cmd("AT+CNMI=?").await,
        "\r\n+CNMI: (0-3),(0-3),(0,2,3),(0-2),(0,1)\r\n\r\nOK\r\n"
    );
    assert_eq!(
        p.cmd("AT+CPMS=?").await,
        "\r\n+CPMS: (\"SM\",\"ME\",\"SR\"),(\"SM\",\"ME\"),(\"SM\",\"ME\")\r\n\r\nOK\r\n"
    );
    assert_eq!(
        p.cmd("AT+CPMS=\"ME\",\"ME\",\"ME\"").await,
        "\r\n+CPMS: 0,100,0,100,0,100\r\n\r\nOK\r\n"
    );
    assert_eq!(p.cmd("AT+CPMS=\"XX\"").await, "\r\n+CMS ERROR: 302\r\n");
    assert_eq!(
        p.cmd("AT+CSQ=?").await,
        "\r\n+CSQ: (0-31,99),(0-7,99)\r\n\r\nOK\r\n"
    );
    assert_eq!(p.cmd("AT+CFUN?").await, "\r\n+CFUN: 1\r\n\r\nOK\r\n");
}

#[tokio::test]
async fn simcom_refuses_cnmi_ds2_like_the_sim800() {
    let (_d, h) = start(1, profile(Profile::Simcom));
    let mut p = Port::open(h.path(0)).unwrap();
    p.cmd("ATE0").await;
    assert_eq!(
        p.cmd("AT+CNMI=?").await,
        "\r\n+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)\r\n\r\nOK\r\n"
    );
    assert_eq!(p.cmd("AT+CNMI=2,1,0,2").await, "\r\nERROR\r\n");
    assert_eq!(p.cmd("AT+CNMI=2,1,0,1,0").await, "\r\nOK\r\n");
    assert_eq!(
        p.cmd("AT+CNMI?").await,
        "\r\n+CNMI: 2,1,0,1,0\r\n\r\nOK\r\n"
    );
}

#[tokio::test]
async fn cmgs_prompt_echo_and_rolling_references() {
    let (dir, h) = start(2, |c| c.modem(1, |m| m.profile = Profile::Simcom));
    let pdus = submit("+8613800138000", "hello");
    let pdu = &pdus[0];
    let mut p = Port::open(h.path(0)).unwrap();
    // Echo on: the command, the spec prompt, the hex echoed, then the answer.
    p.send(format!("AT+CMGS={}\r", pdu.tpdu_len).as_bytes())
        .await;
    assert_eq!(
        p.read_until("> ").await,
        format!("AT+CMGS={}\r\r\n> ", pdu.tpdu_len)
    );
    p.send(format!("{}\x1a", pdu.hex()).as_bytes()).await;
    let answer = p.answer().await;
    assert!(answer.starts_with(&pdu.hex()), "{answer:?}");
    let first = mr_of(&answer).unwrap();
    assert!(answer.ends_with(&format!("\r\n+CMGS: {first}\r\n\r\nOK\r\n")));
    p.cmd("ATE0").await;
    let mut mrs = vec![first];
    for _ in 0..300 {
        let a = send_pdu(&mut p, pdu.tpdu_len, &pdu.hex()).await;
        mrs.push(mr_of(&a).unwrap());
    }
    for w in mrs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1), "references roll over 255 to 0");
    }
    // SIMCom prompt: no CR LF before "> ".
    let mut s = Port::open(h.path(1)).unwrap();
    s.cmd("ATE0").await;
    s.send(format!("AT+CMGS={}\r", pdu.tpdu_len).as_bytes())
        .await;
    assert_eq!(s.read_until("> ").await, "> ");
    s.send(b"\x1b").await;
    assert_eq!(s.answer().await, "\r\nOK\r\n");
    let log = groupsms::emulator::log::read_log(&dir.path().join("sent.jsonl")).unwrap();
    assert_eq!(log.len(), 301);
    assert!(log.iter().all(|r| r.modem == 0 && r.text == "hello"));
    assert_eq!(log[0].mr, first);
}

#[tokio::test]
async fn cmgs_length_and_pdu_are_checked() {
    let (dir, h) = start(1, |c| c);
    let pdu = &submit("+8613800138000", "hello")[0];
    let mut p = Port::open(h.path(0)).unwrap();
    p.cmd("ATE0;+CMEE=1").await;
    // Length one too many / too few.
    assert_eq!(
        send_pdu(&mut p, pdu.tpdu_len + 1, &pdu.hex()).await,
        "\r\n+CMS ERROR: 304\r\n"
    );
    assert_eq!(
        send_pdu(&mut p, pdu.tpdu_len - 1, &pdu.hex()).await,
        "\r\n+CMS ERROR: 304\r\n"
    );
    // Not hex, odd digits, not a SUBMIT (a DELIVER), truncated user data.
    assert_eq!(
        send_pdu(&mut p, 5, "00ZZ00112233").await,
        "\r\n+CMS ERROR: 304\r\n"
    );
    assert_eq!(
        send_pdu(&mut p, 5, "0011223").await,
        "\r\n+CMS ERROR: 304\r\n"
    );
    let deliver = "0791448720003023240DD0E474D81C0EBB010000111011315214000BE474D81C0EBB5DE3771B";
    assert_eq!(
        send_pdu(&mut p, deliver.len() / 2 - 8, deliver).await,
        "\r\n+CMS ERROR: 304\r\n"
    );
    let hex = pdu.hex();
    let short = &hex[..hex.len() - 2];
    assert_eq!(
        send_pdu(&mut p, pdu.tpdu_len - 1, short).await,
        "\r\n+CMS ERROR: 304\r\n"
    );
    // Bad length argument.
    assert_eq!(p.cmd("AT+CMGS=0").await, "\r\n+CMS ERROR: 304\r\n");
    assert_eq!(p.cmd("AT+CMGS=999").await, "\r\n+CMS ERROR: 304\r\n");
    // ESC cancels: OK, nothing sent.
    p.send(format!("AT+CMGS={}\r", pdu.tpdu_len).as_bytes())
        .await;
    p.read_until("> ").await;
    p.send(format!("{}\x1b", &hex[..10]).as_bytes()).await;
    assert_eq!(p.answer().await, "\r\nOK\r\n");
    // And the modem is back in command mode.
    assert_eq!(p.cmd("AT").await, "\r\nOK\r\n");
    let ok = send_pdu(&mut p, pdu.tpdu_len, &hex).await;
    assert!(mr_of(&ok).is_some(), "{ok:?}");
    let s = h.summary();
    assert_eq!(s.modems[0].stats.failed.get(&304), Some(&6));
    assert_eq!(s.modems[0].stats.accepted, 1);
    let log = groupsms::emulator::log::read_log(&dir.path().join("sent.jsonl")).unwrap();
    assert_eq!(log.len(), 1);
}

#[tokio::test]
async fn log_lines_carry_every_field_and_phones_reassemble() {
    let (dir, h) = start(2, |c| c);
    let text = "各位好：明天上午九点在三楼会议室开会，请准时参加。".repeat(6);
    let pdus = submit("+8613800138000", &text);
    assert_eq!(pdus.len(), 3);
    let mut p = Port::open(h.path(1)).unwrap();
    p.cmd("ATE0").await;
    let mut mrs = Vec::new();
    for pdu in &pdus {
        mrs.push(mr_of(&send_pdu(&mut p, pdu.tpdu_len, &pdu.hex()).await).unwrap());
    }
    let gsm = submit("10086", "Hello {world} €5")[0].clone();
    send_pdu(&mut p, gsm.tpdu_len, &gsm.hex()).await;
    let path = dir.path().join("sent.jsonl");
    let raw = std::fs::read_to_string(&path).unwrap();
    let first: serde_json::Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["concat", "device", "encoding", "modem", "mr", "pdu", "text", "time", "to"]
    );
    assert_eq!(first["modem"], 1);
    assert_eq!(first["device"], h.path(1).display().to_string());
    assert_eq!(first["to"], "+8613800138000");
    assert_eq!(first["encoding"], "ucs2");
    assert_eq!(first["mr"], mrs[0]);
    assert_eq!(
        first["concat"],
        serde_json::json!({"ref": 3, "parts": 3, "seq": 1})
    );
    assert_eq!(first["pdu"], pdus[0].hex());
    chrono::DateTime::parse_from_rfc3339(first["time"].as_str().unwrap()).unwrap();
    let last: serde_json::Value = serde_json::from_str(raw.lines().last().unwrap()).unwrap();
    assert_eq!(last["encoding"], "gsm7");
    assert_eq!(last["text"], "Hello {world} €5");
    assert_eq!(last["concat"], serde_json::Value::Null);
    assert_eq!(last["to"], "10086");
    let phones = Phones::from_log(&path).unwrap();
    assert_eq!(phones.phone("+8613800138000").texts(), vec![text.as_str()]);
    assert_eq!(phones.phone("10086").texts(), vec!["Hello {world} €5"]);
    assert!(phones.render().contains("from modem1 (3 parts)"));
}

#[tokio::test]
async fn incoming_messages_land_in_sim_storage() {
    for prof in [Profile::Generic, Profile::Huawei, Profile::Quectel] {
        let (_d, h) = start(1, profile(prof));
        let base = if prof == Profile::Generic { 1 } else { 0 };
        let mut p = Port::open(h.path(0)).unwrap();
        p.cmd("ATE0;+CMEE=1;^CURC=0").await;
        let long = "这是一条很长的中文短信，用来测试多段短信的接收和重新组合。".repeat(3);
        let routes = h.deliver_sms(0, "+8613912345678", &long).await.unwrap();
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0], IncomingRoute::Stored { index: base });
        assert_eq!(
            p.read_until(&format!("+CMTI: \"SM\",{}\r\n", base + 1))
                .await,
            format!(
                "\r\n+CMTI: \"SM\",{base}\r\n\r\n+CMTI: \"SM\",{}\r\n",
                base + 1
            )
        );
        assert_eq!(
            p.cmd("AT+CPMS?")
                .await
                .lines()
                .nth(1)
                .unwrap()
                .split(',')
                .nth(1),
            Some("2")
        );
        // Read both parts, join them like a phone.
        let mut uds = Vec::new();
        for i in [base, base + 1] {
            let a = p.cmd(&format!("AT+CMGR={i}")).await;
            let lines: Vec<&str> = a.split("\r\n").filter(|l| !l.is_empty()).collect();
            assert!(lines[0].starts_with("+CMGR: 0,,"), "{a:?}");
            let pdu = sms::decode_hex(lines[1], true).unwrap();
            assert!(matches!(pdu.tpdu, Tpdu::Deliver(_)));
            assert_eq!(pdu.tpdu.number().to_string(), "+8613912345678");
            let len: usize = lines[0].rsplit(',').next().unwrap().parse().unwrap();
            assert_eq!(len, tpdu_len_of(lines[1]));
            uds.push(pdu.tpdu.user_data().unwrap().clone());
        }
        let refs: Vec<_> = uds.iter().collect();
        assert_eq!(join_text(&refs).unwrap(), long);
        // Read now: stat 1.
        assert!(p
            .cmd(&format!("AT+CMGR={base}"))
            .await
            .contains("+CMGR: 1,,"));
        h.deliver_sms(0, "10086", "hi").await.unwrap();
        p.read_until("+CMTI").await;
        p.read_until("\r\n").await;
        let unread = p.cmd("AT+CMGL=0").await;
        assert_eq!(unread.matches("+CMGL:").count(), 1, "{unread:?}");
        let all = p.cmd("AT+CMGL=4").await;
        assert_eq!(all.matches("+CMGL:").count(), 3);
        assert!(all.contains(&format!("+CMGL: {base},1,,")));
        assert_eq!(p.cmd(&format!("AT+CMGD={base}")).await, "\r\nOK\r\n");
        let empty = p.cmd(&format!("AT+CMGR={base}")).await;
        if prof == Profile::Quectel {
            assert_eq!(empty, "\r\nOK\r\n");
        } else {
            assert_eq!(empty, "\r\n+CMS ERROR: 321\r\n");
        }
        assert_eq!(p.cmd("AT+CMGR=999").await, "\r\n+CMS ERROR: 321\r\n");
        assert!(p.cmd("AT+CMGD=?").await.starts_with(&format!(
            "\r\n+CMGD: ({},{}),(0-4)",
            base + 1,
            base + 2
        )));
        assert_eq!(p.cmd("AT+CMGD=0,4").await, "\r\nOK\r\n");
        assert_eq!(p.cmd("AT+CMGL=4").await, "\r\nOK\r\n");
        // +CMT when the host asks for direct routing.
        p.cmd("AT+CNMI=2,2,0,0,0").await;
        assert_eq!(
            h.deliver_sms(0, "+8613912345678", "direct").await.unwrap(),
            vec![IncomingRoute::Direct]
        );
        let urc = p.read_until("+CMT: ,").await;
        assert!(urc.ends_with("\r\n+CMT: ,"), "{urc:?}");
        let rest = p.read_until("\r\n").await;
        let len: usize = rest.trim().parse().unwrap();
        let hex = p.read_until("\r\n").await;
        let pdu = sms::decode_hex(hex.trim(), true).unwrap();
        assert_eq!(pdu.tpdu.user_data().unwrap().text, "direct");
        assert_eq!(len, tpdu_len_of(hex.trim()));
        h.shutdown().await;
    }
}

#[tokio::test]
async fn status_reports_as_cds_and_cdsi() {
    let (_d, h) = start(2, |c| c.modem(1, |m| m.profile = Profile::Quectel));
    let mut opts = SubmitOptions::to(Address::parse("+8613800138000").unwrap());
    opts.status_report = true;
    let pdu = sms::encode_submit("report me", &opts).unwrap().remove(0);
    for (i, ds) in [(0usize, 1), (1, 2)] {
        let mut p = Port::open(h.path(i)).unwrap();
        p.cmd(&format!("ATE0;+CMEE=1;+CNMI=2,1,0,{ds},0")).await;
        let mr = mr_of(&send_pdu(&mut p, pdu.tpdu_len, &pdu.hex()).await).unwrap();
        let unknown = h.deliver_status_report(i, mr.wrapping_add(100), 0).await;
        assert!(unknown
            .unwrap_err()
            .to_string()
            .contains("no message with reference"));
        let route = h.deliver_status_report(i, mr, 0).await.unwrap();
        let hex = if ds == 1 {
            assert_eq!(route, ReportRoute::Cds);
            p.read_until("+CDS: ").await;
            let len: usize = p.read_until("\r\n").await.trim().parse().unwrap();
            let hex = p.read_until("\r\n").await.trim().to_string();
            assert_eq!(len, tpdu_len_of(&hex));
            hex
        } else {
            assert_eq!(route, ReportRoute::Cdsi { index: 0 });
            assert_eq!(
                p.read_until("\r\n+CDSI: \"SR\",0\r\n").await,
                "\r\n+CDSI: \"SR\",0\r\n"
            );
            assert!(p.cmd("AT+CPMS=\"SR\"").await.contains("+CPMS: 1,20"));
            let a = p.cmd("AT+CMGR=0").await;
            a.split("\r\n")
                .filter(|l| !l.is_empty())
                .nth(1)
                .unwrap()
                .to_string()
        };
        let Tpdu::StatusReport(sr) = sms::decode_hex(&hex, true).unwrap().tpdu else {
            panic!("not a status report: {hex}");
        };
        assert_eq!(sr.message_ref, mr);
        assert_eq!(sr.recipient.to_string(), "+8613800138000");
        assert!(sr.delivered());
    }
    // ds=0: not routed.
    let mut p = Port::open(h.path(0)).unwrap();
    p.cmd("AT+CNMI=2,1,0,0,0").await;
    let mr = mr_of(&send_pdu(&mut p, pdu.tpdu_len, &pdu.hex()).await).unwrap();
    assert_eq!(
        h.deliver_status_report(0, mr, 0).await.unwrap(),
        ReportRoute::NotRouted
    );
    assert_eq!(p.drain_for(Duration::from_millis(100)).await, "");
    assert_eq!(h.summary().modems[0].stats.status_reports, 2);
}

#[tokio::test]
async fn serves_again_after_the_client_closes_and_reopens() {
    let (_d, h) = start(1, |c| c);
    {
        let mut p = Port::open(h.path(0)).unwrap();
        assert_eq!(p.cmd("ATE0").await, "ATE0\r\r\nOK\r\n");
        // Leave output unread and a half-typed line behind.
        p.send(b"AT+CSQ\r").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nobody listens: an incoming SMS arrives (its +CMTI is lost, as on a closed port).
    h.deliver_sms(0, "+8613912345678", "while away")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..3 {
        let mut p = Port::open(h.path(0)).unwrap();
        // No stale bytes from the previous client, and the settings survived (echo off).
        assert_eq!(p.cmd("AT").await, "\r\nOK\r\n");
        assert!(p.cmd("AT+CMGL=4").await.contains("+CMGL: 1,"));
    }
    assert_eq!(h.summary().modems[0].stats.accepted, 0);
}

/// Answers compared byte for byte with captured sessions of real modems
/// (shared/corpus/at/: huawei-e1752-command-not-support-rssi.txt, huawei-e303-cpms-sm-sm.txt,
/// huawei-unknown-init-curc-cfun-portsel.txt, simcom-sim800l-cnmi.txt).
#[tokio::test]
async fn answers_match_captured_sessions() {
    let (_d, h) = start(2, |c| {
        c.modem(0, |m| m.profile = Profile::Huawei)
            .modem(1, |m| m.profile = Profile::Simcom)
    });
    let mut hw = Port::open(h.path(0)).unwrap();
    hw.cmd("AT^CURC=0").await;
    for (cmd, expect) in [
        ("AT$TSSPCSW=?", "AT$TSSPCSW=?\r\r\nCOMMAND NOT SUPPORT\r\n"),
        ("AT+CPIN?", "AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n"),
        (
            "AT+CPMS=\"SM\",\"SM\"",
            "AT+CPMS=\"SM\",\"SM\"\r\r\n+CPMS: 0,50,0,50,0,50\r\n\r\nOK\r\n",
        ),
        ("AT+CFUN=1", "AT+CFUN=1\r\r\nOK\r\n"),
    ] {
        assert_eq!(hw.cmd(cmd).await, expect);
    }
    let mut sc = Port::open(h.path(1)).unwrap();
    assert_eq!(
        sc.cmd("at+cnmi=?").await,
        "at+cnmi=?\r\r\n+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)\r\n\r\nOK\r\n"
    );
    assert_eq!(
        sc.cmd("at+cnmi?").await,
        "at+cnmi?\r\r\n+CNMI: 2,1,0,0,0\r\n\r\nOK\r\n"
    );
}

#[test]
fn start_needs_a_runtime_and_sane_knobs() {
    let dir = tempfile::tempdir().unwrap();
    let err = Emulator::start(EmulatorConfig::new(dir.path(), 1))
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "the emulator needs a tokio runtime (call it from async code)"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let bad = EmulatorConfig::new(dir.path(), 2).modem(1, |m| m.knobs.error_rate = 2.0);
        let err = Emulator::start(bad).err().unwrap();
        assert_eq!(
            err.to_string(),
            "modem 1: error rate 2 is not between 0 and 1"
        );
        let bad = EmulatorConfig::new(dir.path(), 1).all(|m| m.knobs.pin = Some("12a".into()));
        assert!(Emulator::start(bad)
            .err()
            .unwrap()
            .to_string()
            .contains("PIN"));
        let none = EmulatorConfig::new(dir.path(), 0);
        assert_eq!(
            Emulator::start(none).err().unwrap().to_string(),
            "at least one modem is needed"
        );
        let h = Emulator::start(EmulatorConfig::new(dir.path(), 1)).unwrap();
        assert!(matches!(
            h.reboot(5).await,
            Err(groupsms::emulator::EmulatorError::NoSuchModem(5))
        ));
        let path = h.path(0).to_path_buf();
        assert!(path.exists());
        let summary = h.shutdown().await;
        assert_eq!(summary.modems.len(), 1);
        assert!(std::fs::symlink_metadata(&path).is_err(), "symlink removed");
    });
}
