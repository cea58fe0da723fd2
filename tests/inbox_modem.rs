//! The modem side of the inbox, through the real actor on a scripted modem: a send refused
//! with `+CMS ERROR: 322` (memory full) is counted in the status (the daemon drains the
//! memory when that count grows), and the receive memory is listed with `AT+CPMS?` and
//! `AT+CMGL=4`, each message with its place. (On emulated modems on PTYs:
//! `daemon_inbox.rs`; on real captures: `fixtures/inbox/`.)

mod common;

use std::time::Duration;

use common::{bytes, healthy, modem, Input, Reply};
use groupsms::at::parse::Storage;
use groupsms::modem::actor::{spawn, ActorSettings};
use groupsms::modem::{ModemConfig, PartOutcome};
use groupsms::sms::{encode_submit, Address, SubmitOptions};

const DELIVER: &str = "0791198904100161240C911979099137640000511090718303220BC8B4421174CFD175D014";

fn full_sim(input: &Input) -> Reply {
    let ok = |info: &str| bytes(&format!("\r\n{info}\r\n\r\nOK\r\n"));
    match input {
        Input::Line(c) if c.starts_with("AT+CMGS=") => bytes("\r\n+CMS ERROR: 322\r\n"),
        Input::Line(c) if c == "AT+CPMS?" => ok("+CPMS: \"SM\",2,2,\"SM\",2,2,\"SM\",2,2"),
        Input::Line(c) if c == "AT+CMGL=4" => ok(&format!(
            "+CMGL: 1,1,,29\r\n{DELIVER}\r\n+CMGL: 2,0,,29\r\n{DELIVER}"
        )),
        other => healthy(other),
    }
}

#[tokio::test]
async fn memory_full_is_counted_and_the_memory_listed() {
    let (io, log) = modem(full_sim);
    let mut io = Some(io);
    let settings = ActorSettings {
        modem: ModemConfig {
            command_gap: Duration::ZERO,
            ..ModemConfig::default()
        },
        reprobe: Duration::from_secs(60),
    };
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let (handle, _task) = spawn(
        "/dev/test",
        move || {
            io.take()
                .ok_or_else(|| groupsms::modem::ModemError::Io(std::io::ErrorKind::NotFound.into()))
        },
        settings,
        stop,
    );
    handle.first_probe().await;
    assert_eq!(handle.status().memory_full, 0);
    let pdus = encode_submit(
        "x",
        &SubmitOptions::to(Address::parse("+8613800138000").unwrap()),
    )
    .unwrap();
    let outcomes = handle.send(pdus).await.unwrap();
    assert!(
        matches!(&outcomes[0], PartOutcome::Rejected { result, .. } if result.to_line() == "+CMS ERROR: 322"),
        "{outcomes:?}"
    );
    // Published between messages.
    let mut status = handle.watch_status();
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| s.memory_full == 1),
    )
    .await
    .expect("memory_full counted")
    .unwrap();
    let listed = handle.list_stored().await.unwrap();
    let memory = listed.memory.unwrap();
    assert_eq!(
        (memory.storage, memory.used, memory.total),
        (Storage::Sm, 2, 2)
    );
    let places: Vec<(u32, u8)> = listed
        .messages
        .iter()
        .map(|(at, e)| (at.index, e.stat))
        .collect();
    assert_eq!(places, [(1, 1), (2, 0)]);
    assert!(listed.messages.iter().all(|(_, e)| e.pdu == DELIVER));
    let lines = common::lines(&log);
    let i = lines.iter().position(|l| l == "AT+CPMS?").unwrap();
    assert_eq!(lines[i + 1..i + 3], ["AT+CPMS=\"SM\"", "AT+CMGL=4"]);
}
