//! A small serial client for the emulator tests: opens the PTY symlink like any program
//! would, writes commands and reads until an expected text shows up (with a deadline, so a
//! wrong emulator fails the test instead of hanging it).
#![allow(dead_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use tokio::io::unix::AsyncFd;

/// Generous upper bound for one answer; a healthy emulator answers in milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub struct Port {
    fd: AsyncFd<File>,
    buf: Vec<u8>,
}

/// Final result codes that end an answer.
const FINALS: [&str; 5] = [
    "\r\nOK\r\n",
    "\r\nERROR\r\n",
    "\r\nCOMMAND NOT SUPPORT\r\n",
    "+CME ERROR:",
    "+CMS ERROR:",
];

impl Port {
    pub fn open(path: &Path) -> io::Result<Port> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
            .open(path)?;
        // SAFETY: the file stays open for the AsyncFd's whole life.
        let fd = unsafe { AsyncFd::register(file) }.map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Port {
            fd,
            buf: Vec::new(),
        })
    }

    pub async fn send(&mut self, data: &[u8]) {
        let mut rest = data;
        while !rest.is_empty() {
            let mut g = self.fd.writable().await.expect("writable");
            match g.try_io(|f| f.get_ref().write(rest)) {
                Ok(Ok(n)) => rest = &rest[n..],
                Ok(Err(e)) => panic!("write failed: {e}"),
                Err(_) => continue,
            }
        }
    }

    /// Reads more bytes into the buffer; Err on EIO/EOF (the modem went away).
    async fn fill(&mut self) -> io::Result<()> {
        let mut tmp = [0u8; 1024];
        loop {
            let mut g = self.fd.readable().await?;
            match g.try_io(|f| f.get_ref().read(&mut tmp)) {
                Ok(Ok(0)) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF")),
                Ok(Ok(n)) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(());
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => continue,
            }
        }
    }

    /// Everything up to and including `needle` (consumed), or panics after `PATIENCE`.
    pub async fn read_until(&mut self, needle: &str) -> String {
        match self.try_read_until(needle, PATIENCE).await {
            Ok(s) => s,
            Err(got) => panic!("timed out waiting for {needle:?}; got {got:?}"),
        }
    }

    /// Like `read_until` with an explicit deadline; Err(what was read) on timeout or EIO.
    pub async fn try_read_until(&mut self, needle: &str, wait: Duration) -> Result<String, String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(pos) = find(&self.buf, needle.as_bytes()) {
                let end = pos + needle.len();
                let out: Vec<u8> = self.buf.drain(..end).collect();
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            match tokio::time::timeout_at(deadline, self.fill()).await {
                Ok(Ok(())) => {}
                _ => return Err(String::from_utf8_lossy(&self.buf).into_owned()),
            }
        }
    }

    /// Reads until a final result code line is complete; returns everything read.
    pub async fn answer(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let text = String::from_utf8_lossy(&self.buf).into_owned();
            if let Some(end) = final_end(&text) {
                let out: Vec<u8> = self.buf.drain(..end).collect();
                return String::from_utf8_lossy(&out).into_owned();
            }
            match tokio::time::timeout_at(deadline, self.fill()).await {
                Ok(Ok(())) => {}
                _ => panic!("no final result code; got {text:?}"),
            }
        }
    }

    /// Sends `line` + CR and returns the whole answer (echo included when echo is on).
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r").as_bytes()).await;
        self.answer().await
    }

    /// Waits `wait` and returns whatever arrived (for "says nothing" checks).
    pub async fn drain_for(&mut self, wait: Duration) -> String {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Ok(())) = tokio::time::timeout_at(deadline, self.fill()).await {}
        let out: Vec<u8> = std::mem::take(&mut self.buf);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// True when reading fails (EIO): the PTY went away.
    pub async fn is_gone(&mut self) -> bool {
        tokio::time::timeout(PATIENCE, async {
            loop {
                if let Err(e) = self.fill().await {
                    return e;
                }
            }
        })
        .await
        .is_ok()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// End offset of the first complete final result in `text`.
fn final_end(text: &str) -> Option<usize> {
    let mut best: Option<usize> = None;
    for f in FINALS {
        if let Some(pos) = text.find(f) {
            let end = if f.ends_with('\n') {
                pos + f.len()
            } else {
                match text[pos..].find("\r\n") {
                    Some(e) => pos + e + 2,
                    None => continue,
                }
            };
            best = Some(best.map_or(end, |b: usize| b.min(end)));
        }
    }
    best
}

/// A `+CMGS` send in PDU mode: command, prompt, hex, Ctrl-Z; returns the final answer.
pub async fn send_pdu(port: &mut Port, tpdu_len: usize, hex: &str) -> String {
    port.send(format!("AT+CMGS={tpdu_len}\r").as_bytes()).await;
    port.read_until("> ").await;
    port.send(format!("{hex}\x1a").as_bytes()).await;
    port.answer().await
}

/// Extracts the number after `+CMGS: `.
pub fn mr_of(answer: &str) -> Option<u8> {
    let i = answer.find("+CMGS: ")? + 7;
    answer[i..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}
