//! A tiny scripted modem for engine tests over `tokio::io::duplex`: it splits what the host
//! writes into command lines, PDUs (after a `>` prompt, up to Ctrl-Z) and ESCs, logs them,
//! and answers with whatever the test's closure returns. Not an emulator: just enough to
//! play one side of a conversation.

#![allow(dead_code)]

pub mod pty;
pub mod steps;

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// What the host sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Line(String),
    Pdu(String),
    Esc,
}

/// What the modem does about it.
pub enum Reply {
    /// Send these bytes.
    Bytes(Vec<u8>),
    /// Say nothing.
    Silent,
    /// Close the stream (the stick was pulled).
    Hangup,
}

pub fn bytes(s: &str) -> Reply {
    Reply::Bytes(s.as_bytes().to_vec())
}

pub type Log = Arc<Mutex<Vec<Input>>>;

/// Answers of a healthy modem with echo off.
pub fn healthy(input: &Input) -> Reply {
    match input {
        Input::Esc => Reply::Silent,
        Input::Pdu(_) => bytes("\r\n+CMGS: 1\r\n\r\nOK\r\n"),
        Input::Line(cmd) => {
            let ok = |info: &str| bytes(&format!("\r\n{info}\r\n\r\nOK\r\n"));
            match cmd.as_str() {
                "AT+CGMI" => ok("TestCo"),
                "AT+CGMM" => ok("T1"),
                "AT+CGMR" => ok("1.0"),
                "AT+CGSN" => ok("351234567890123"),
                "AT+CPIN?" => ok("+CPIN: READY"),
                "AT+CSCA?" => ok("+CSCA: \"+8613800100500\",145"),
                "AT+CNMI=?" => ok("+CNMI: (0-3),(0-3),(0-3),(0-2),(0,1)"),
                "AT+CREG?" => ok("+CREG: 0,1"),
                "AT+CIMI" => ok("460001234567890"),
                "AT+COPS?" => ok("+COPS: 0,0,\"CHINA MOBILE\",7"),
                "AT+CSQ" => ok("+CSQ: 20,99"),
                c if c.starts_with("AT+CMGS=") => bytes("\r\n> "),
                _ => bytes("\r\nOK\r\n"),
            }
        }
    }
}

/// Plays the modem on `io` until the host goes away or a reply says hang up.
pub async fn serve(mut io: DuplexStream, log: Log, mut answer: impl FnMut(&Input) -> Reply) {
    let mut line = Vec::new();
    let mut in_pdu = false;
    let mut buf = [0u8; 256];
    loop {
        let n = match io.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            let input = match b {
                0x1B => {
                    in_pdu = false;
                    line.clear();
                    Some(Input::Esc)
                }
                0x1A if in_pdu => {
                    in_pdu = false;
                    Some(Input::Pdu(
                        String::from_utf8_lossy(&std::mem::take(&mut line)).into(),
                    ))
                }
                b'\r' if !in_pdu => {
                    let text = String::from_utf8_lossy(&std::mem::take(&mut line)).to_string();
                    if text.is_empty() {
                        None
                    } else {
                        Some(Input::Line(text))
                    }
                }
                b'\n' if !in_pdu => None,
                other => {
                    line.push(other);
                    None
                }
            };
            let Some(input) = input else { continue };
            log.lock().unwrap().push(input.clone());
            match answer(&input) {
                Reply::Bytes(out) => {
                    if matches!(&input, Input::Line(c) if c.starts_with("AT+CMGS="))
                        && out.ends_with(b"> ")
                    {
                        in_pdu = true;
                    }
                    if io.write_all(&out).await.is_err() {
                        return;
                    }
                }
                Reply::Silent => {}
                Reply::Hangup => return,
            }
        }
    }
}

/// A duplex pair: the host end for the engine, the modem end served by `answer`.
pub fn modem(answer: impl FnMut(&Input) -> Reply + Send + 'static) -> (DuplexStream, Log) {
    let (host, dev) = tokio::io::duplex(4096);
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(serve(dev, log.clone(), answer));
    (host, log)
}

pub fn lines(log: &Log) -> Vec<String> {
    log.lock()
        .unwrap()
        .iter()
        .map(|i| match i {
            Input::Line(l) => l.clone(),
            Input::Pdu(p) => format!("PDU {p}"),
            Input::Esc => "ESC".into(),
        })
        .collect()
}
