//! The emulator's log: one JSON object per accepted SMS part, and the reassembly of that log
//! into what each destination phone shows.
//!
//! A line looks like
//! `{"modem":0,"device":"/tmp/m/modem0","time":"2024-05-06T07:08:09.123Z","mr":12,
//! "to":"+8613800138000","encoding":"ucs2","text":"你好","concat":{"ref":7,"parts":2,"seq":1},
//! "pdu":"0011..."}` (`concat` is `null` for a single-part message).
//!
//! Reassembly works like a handset: parts are grouped by sender (the modem: each has its own
//! SIM and number), concatenation reference and part count; a part whose sequence number the
//! open group already has starts a new group (the sender reused the reference). Complete
//! messages are listed in the order they became complete, joined with
//! [`crate::sms::join::join_text`] from the re-decoded PDUs; groups still missing parts are
//! reported as incomplete.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::sms::{self, join::join_text, UserData};

/// The concatenation header of a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcatInfo {
    #[serde(rename = "ref")]
    pub reference: u16,
    pub parts: u8,
    pub seq: u8,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub modem: usize,
    pub device: String,
    /// RFC 3339, UTC.
    pub time: String,
    pub mr: u8,
    pub to: String,
    /// `gsm7`, `ucs2` or `8bit`.
    pub encoding: String,
    pub text: String,
    pub concat: Option<ConcatInfo>,
    /// The PDU as the host sent it, SMSC field included.
    pub pdu: String,
}

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot read the emulator log {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("line {line} of the emulator log is not a record: {message}")]
    Bad { line: usize, message: String },
}

/// Appends records to the log file, one write and one flush per line.
pub struct LogWriter {
    file: Mutex<std::fs::File>,
}

impl LogWriter {
    /// Opens `path` for appending (created if missing).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(LogWriter {
            file: Mutex::new(file),
        })
    }

    pub fn append(&self, record: &LogRecord) -> io::Result<()> {
        let mut line = serde_json::to_string(record).map_err(io::Error::other)?;
        line.push('\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(line.as_bytes())?;
        f.flush()
    }
}

/// Reads every record of a log file.
pub fn read_log(path: &Path) -> Result<Vec<LogRecord>, LogError> {
    let io_err = |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut out = Vec::new();
    for (i, line) in io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_err)?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: LogRecord = serde_json::from_str(&line).map_err(|e| LogError::Bad {
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(rec);
    }
    Ok(out)
}

/// A complete message as the phone shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub text: String,
    pub parts: u8,
    /// The modem (sender SIM) it came from.
    pub modem: usize,
    /// Time of the part that completed it.
    pub time: String,
}

/// Parts of a message that never all arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    pub modem: usize,
    pub reference: u16,
    pub parts: u8,
    /// Sequence numbers received, ascending.
    pub have: Vec<u8>,
}

/// One destination phone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phone {
    pub messages: Vec<Shown>,
    pub incomplete: Vec<Incomplete>,
}

impl Phone {
    /// The texts of the complete messages, in order.
    pub fn texts(&self) -> Vec<&str> {
        self.messages.iter().map(|m| m.text.as_str()).collect()
    }
}

/// Every destination number in the log and what its phone shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phones {
    pub numbers: BTreeMap<String, Phone>,
}

struct Group {
    modem: usize,
    reference: u16,
    parts: u8,
    got: BTreeMap<u8, (UserData, String)>,
}

impl Phones {
    /// Reassembles records (in log order).
    pub fn from_records(records: &[LogRecord]) -> Result<Phones, LogError> {
        let mut open: BTreeMap<String, Vec<Group>> = BTreeMap::new();
        let mut phones = Phones::default();
        for (i, rec) in records.iter().enumerate() {
            let bad = |message: String| LogError::Bad {
                line: i + 1,
                message,
            };
            let pdu = sms::decode_hex(&rec.pdu, true)
                .map_err(|e| bad(format!("PDU does not decode: {e}")))?;
            let ud = pdu
                .tpdu
                .user_data()
                .ok_or_else(|| bad("PDU carries no user data".into()))?
                .clone();
            let phone = phones.numbers.entry(rec.to.clone()).or_default();
            let Some(c) = ud.concat() else {
                phone.messages.push(Shown {
                    text: ud.text.clone(),
                    parts: 1,
                    modem: rec.modem,
                    time: rec.time.clone(),
                });
                continue;
            };
            if c.seq == 0 || c.seq > c.parts {
                return Err(bad(format!("part {} of {} is impossible", c.seq, c.parts)));
            }
            let groups = open.entry(rec.to.clone()).or_default();
            let pos = groups.iter().position(|g| {
                g.modem == rec.modem
                    && g.reference == c.reference
                    && g.parts == c.parts
                    && !g.got.contains_key(&c.seq)
            });
            let idx = match pos {
                Some(p) => p,
                None => {
                    groups.push(Group {
                        modem: rec.modem,
                        reference: c.reference,
                        parts: c.parts,
                        got: BTreeMap::new(),
                    });
                    groups.len() - 1
                }
            };
            groups[idx].got.insert(c.seq, (ud, rec.time.clone()));
            if groups[idx].got.len() == c.parts as usize {
                let g = groups.remove(idx);
                let uds: Vec<&UserData> = g.got.values().map(|(u, _)| u).collect();
                let text = join_text(&uds).map_err(|e| bad(e.to_string()))?;
                phone.messages.push(Shown {
                    text,
                    parts: g.parts,
                    modem: g.modem,
                    time: rec.time.clone(),
                });
            }
        }
        for (number, groups) in open {
            let phone = phones.numbers.entry(number).or_default();
            for g in groups {
                phone.incomplete.push(Incomplete {
                    modem: g.modem,
                    reference: g.reference,
                    parts: g.parts,
                    have: g.got.keys().copied().collect(),
                });
            }
        }
        Ok(phones)
    }

    /// Reads and reassembles a log file.
    pub fn from_log(path: &Path) -> Result<Phones, LogError> {
        Phones::from_records(&read_log(path)?)
    }

    /// The phone of `number` (empty when nothing was sent there).
    pub fn phone(&self, number: &str) -> Phone {
        self.numbers.get(number).cloned().unwrap_or_default()
    }

    /// A human-readable listing, one block per number.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (number, phone) in &self.numbers {
            let _ = writeln!(
                out,
                "{number}: {} message(s){}",
                phone.messages.len(),
                if phone.incomplete.is_empty() {
                    String::new()
                } else {
                    format!(", {} incomplete", phone.incomplete.len())
                }
            );
            for m in &phone.messages {
                let _ = writeln!(
                    out,
                    "  [{}] from modem{} ({} part{}): {}",
                    m.time,
                    m.modem,
                    m.parts,
                    if m.parts == 1 { "" } else { "s" },
                    m.text
                );
            }
            for inc in &phone.incomplete {
                let have: Vec<String> = inc.have.iter().map(u8::to_string).collect();
                let _ = writeln!(
                    out,
                    "  INCOMPLETE from modem{} ref {}: parts {} of {}",
                    inc.modem,
                    inc.reference,
                    have.join(","),
                    inc.parts
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::{encode_submit, Address, SubmitOptions};

    fn records(modem: usize, to: &str, text: &str, reference: u8) -> Vec<LogRecord> {
        let mut opts = SubmitOptions::to(Address::parse(to).unwrap());
        opts.concat_ref = reference;
        encode_submit(text, &opts)
            .unwrap()
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let pdu = sms::decode(&p.bytes, true).unwrap();
                let ud = pdu.tpdu.user_data().unwrap();
                LogRecord {
                    modem,
                    device: format!("/x/modem{modem}"),
                    time: format!("t{i}"),
                    mr: i as u8,
                    to: to.into(),
                    encoding: ud.encoding.name().into(),
                    text: ud.text.clone(),
                    concat: ud.concat().map(|c| ConcatInfo {
                        reference: c.reference,
                        parts: c.parts,
                        seq: c.seq,
                    }),
                    pdu: p.hex(),
                }
            })
            .collect()
    }

    #[test]
    fn reassembles_interleaved_parts_and_reports_missing() {
        let long = "长消息".repeat(40);
        let a = records(0, "+8613800000001", &long, 5);
        let b = records(1, "+8613800000001", &long, 5);
        let c = records(0, "+8613800000002", "short", 0);
        assert_eq!(a.len(), 2);
        // a1, b1, c, a2 (b2 never arrives)
        let log = vec![a[0].clone(), b[0].clone(), c[0].clone(), a[1].clone()];
        let phones = Phones::from_records(&log).unwrap();
        let p1 = phones.phone("+8613800000001");
        assert_eq!(p1.texts(), vec![long.as_str()]);
        assert_eq!(p1.messages[0].modem, 0);
        assert_eq!(
            p1.incomplete,
            vec![Incomplete {
                modem: 1,
                reference: 5,
                parts: 2,
                have: vec![1]
            }]
        );
        assert_eq!(phones.phone("+8613800000002").texts(), vec!["short"]);
        let text = phones.render();
        assert!(
            text.contains("INCOMPLETE from modem1 ref 5: parts 1 of 2"),
            "{text}"
        );
    }

    #[test]
    fn a_repeated_part_starts_a_new_message() {
        let long = "x".repeat(200);
        let a = records(0, "+8613800000001", &long, 9);
        let log = vec![a[0].clone(), a[0].clone(), a[1].clone(), a[1].clone()];
        let phones = Phones::from_records(&log).unwrap();
        assert_eq!(phones.phone("+8613800000001").texts(), vec![&long, &long]);
    }

    #[test]
    fn writer_and_reader_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let w = LogWriter::open(&path).unwrap();
        let recs = records(2, "+8613800138000", "hello", 0);
        w.append(&recs[0]).unwrap();
        let back = read_log(&path).unwrap();
        assert_eq!(back, recs);
        std::fs::write(&path, "{not json}\n").unwrap();
        let err = read_log(&path).unwrap_err().to_string();
        assert!(err.starts_with("line 1 of the emulator log"), "{err}");
        let err = read_log(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read the emulator log"), "{err}");
    }
}
