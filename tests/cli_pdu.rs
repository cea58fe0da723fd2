//! The `groupsms pdu` subcommands through the real binary, as a user runs them.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn groupsms(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_groupsms"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn encode_prints_length_and_hex_per_part() {
    let out = stdout(&groupsms(
        &["pdu", "encode", "--to", "+8613800138000", "hellohello"],
        None,
    ));
    assert_eq!(out, "23 0001000D91683108108300F000000AE8329BFD4697D9EC37\n");
}

#[test]
fn encode_json_from_stdin_round_trips_through_decode() {
    let text = format!("【运维组】{}😀", "明天上午九点开会".repeat(12));
    let out = stdout(&groupsms(
        &[
            "pdu",
            "encode",
            "--json",
            "--to",
            "13800138000",
            "--ref",
            "77",
            "--srr",
            "-",
        ],
        Some(&format!("{text}\n")),
    ));
    let parts: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(parts.len(), 2);
    let mut joined = String::new();
    for (i, p) in parts.iter().enumerate() {
        let hex = p["pdu"].as_str().unwrap();
        // length = TPDU octets = all octets minus the empty SMSC field "00".
        assert_eq!(p["length"].as_u64().unwrap() as usize, hex.len() / 2 - 1);
        let decoded: Value =
            serde_json::from_str(&stdout(&groupsms(&["pdu", "decode", "--json", hex], None)))
                .unwrap();
        assert_eq!(decoded["type"], "submit");
        assert_eq!(decoded["number"], "13800138000");
        assert_eq!(decoded["encoding"], "ucs2");
        assert_eq!(decoded["status_report_request"], true);
        assert_eq!(decoded["concat"]["ref"], 77);
        assert_eq!(decoded["concat"]["parts"], 2);
        assert_eq!(decoded["concat"]["seq"], i as u64 + 1);
        joined.push_str(decoded["text"].as_str().unwrap());
    }
    assert_eq!(joined, text);
}

#[test]
fn decode_deliver_json_has_the_documented_fields() {
    let hex = "07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB6132885EC6D341EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E";
    let v: Value = serde_json::from_str(&stdout(&groupsms(
        &["pdu", "decode", "--json", "-"],
        Some(hex),
    )))
    .unwrap();
    assert_eq!(v["type"], "deliver");
    assert_eq!(v["number"], "+85291234567");
    assert_eq!(v["smsc"], "+85290000000");
    assert_eq!(
        v["text"],
        "It is easy to read text messages via AT commands."
    );
    assert_eq!(v["encoding"], "gsm7");
    assert_eq!(v["timestamp"], "2007-04-12T23:25:42+08:00");
    assert_eq!(v["concat"], Value::Null);
    // Without --json: one field per line.
    let plain = stdout(&groupsms(&["pdu", "decode", hex], None));
    assert!(plain.contains("number: +85291234567\n"), "{plain}");
}

#[test]
fn decode_status_report() {
    let v: Value = serde_json::from_str(&stdout(&groupsms(
        &[
            "pdu",
            "decode",
            "--json",
            "07917248014000F506B70AA18092020000317071518590803170715185418000",
        ],
        None,
    )))
    .unwrap();
    assert_eq!(v["type"], "status-report");
    assert_eq!(v["message_ref"], 183);
    assert_eq!(v["number"], "0829200000");
    assert_eq!(v["delivered"], true);
    assert_eq!(v["status_text"], "received by the SME");
    assert_eq!(v["discharge_time"], "2013-07-17T15:58:14+02:00");
}

#[test]
fn bad_input_is_a_clear_error_with_its_exit_code() {
    let o = groupsms(&["pdu", "decode", "0G"], None);
    assert_eq!(o.status.code(), Some(65));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "groupsms: not a hex digit at position 1\n"
    );
    let o = groupsms(&["pdu", "decode", "0791"], None);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "groupsms: PDU ends inside the SMSC address\n"
    );
    let o = groupsms(&["pdu", "encode", "--to", "call-me", "hi"], None);
    assert_eq!(o.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad address"));
    let long = "x".repeat(153 * 3 + 1);
    let o = groupsms(
        &["pdu", "encode", "--to", "10086", "--max-parts", "3", &long],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "groupsms: the text needs 4 parts, at most 3 are allowed\n"
    );
}

#[test]
fn count_reports_encoding_parts_and_room() {
    let v: Value = serde_json::from_str(&stdout(&groupsms(
        &["pdu", "count", "--json", "【运维组】明天上午九点开会"],
        None,
    )))
    .unwrap();
    assert_eq!(v["encoding"], "ucs2");
    assert_eq!(v["parts"], 1);
    assert_eq!(v["units"], 13);
    assert_eq!(v["remaining"], 57);
    let plain = stdout(&groupsms(&["pdu", "count", &"a".repeat(161)], None));
    assert!(plain.contains("parts:     2"), "{plain}");
    assert!(plain.contains("remaining: 145 septets"), "{plain}");
}
