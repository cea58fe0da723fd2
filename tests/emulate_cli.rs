//! `groupsms emulate` as a user runs it: the binary, real PTYs, SIGTERM, the summary and what
//! each phone shows.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::serial::{mr_of, send_pdu, Port};
use groupsms::sms::{self, Address, SubmitOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulate_serves_until_sigterm_and_prints_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let devs = dir.path().join("dev");
    let log = dir.path().join("sent.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_groupsms"))
        .args([
            "emulate",
            "--modems",
            "2",
            "--seed",
            "9",
            "--latency",
            "10ms",
            "--profile",
            "1=quectel",
        ])
        .arg("--dir")
        .arg(&devs)
        .arg("--log")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // Wait for the "ready" line rather than sleeping.
    let banner = tokio::task::spawn_blocking(move || {
        let mut banner = String::new();
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                break;
            }
            banner.push_str(&line);
            if line.starts_with("ready") {
                break;
            }
        }
        (banner, stdout)
    });
    let (banner, mut stdout) = tokio::time::timeout(common::serial::PATIENCE, banner)
        .await
        .unwrap()
        .unwrap();
    assert!(banner.contains("seed 9"), "{banner}");
    assert!(banner.contains("modem1 -> /dev/pts/"), "{banner}");
    assert!(banner.contains("(quectel,"), "{banner}");
    let text = "明天下午三点开会";
    let mut o = SubmitOptions::to(Address::parse("+8613800138000").unwrap());
    o.concat_ref = 1;
    let pdu = sms::encode_submit(text, &o).unwrap().remove(0);
    let mut p = Port::open(&devs.join("modem1")).unwrap();
    p.cmd("ATE0").await;
    assert!(mr_of(&send_pdu(&mut p, pdu.tpdu_len, &pdu.hex()).await).is_some());
    drop(p);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let rest = tokio::task::spawn_blocking(move || {
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        let status = child.wait().unwrap();
        (rest, status)
    });
    let (rest, status) = tokio::time::timeout(common::serial::PATIENCE, rest)
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}\n{rest}");
    assert!(rest.contains("modem0 (huawei"), "{rest}");
    assert!(rest.contains("modem1 (quectel"), "{rest}");
    assert!(rest.contains("1 parts accepted"), "{rest}");
    assert!(rest.contains("total: 1 parts accepted"), "{rest}");
    assert!(!rest.contains("UNPLUGGED"), "{rest}");
    assert!(rest.contains("+8613800138000: 1 message(s)"), "{rest}");
    assert!(
        rest.contains(&format!("from modem1 (1 part): {text}")),
        "{rest}"
    );
    assert!(!devs.join("modem0").exists(), "symlinks removed at exit");
}

#[test]
fn emulate_rejects_bad_arguments_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_groupsms"))
        .args(["emulate", "--modems", "2", "--latency", "7=1s", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "groupsms: --latency 7=1s: there is no modem 7 (modems are 0..1)"
    );
    // A regular file where a symlink should go is not clobbered.
    std::fs::write(dir.path().join("modem0"), "mine").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_groupsms"))
        .args(["emulate", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(71));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists and is not a symlink"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("modem0")).unwrap(),
        "mine"
    );
}
