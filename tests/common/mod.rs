//! Helpers shared by the integration tests (one place for all of them): where the shared
//! corpus and the oracles are; a real database file in a temp dir and a small populated group;
//! a scripted modem on a duplex stream; and, in submodules, the end-to-end world ([`daemon`]),
//! several such worlds, one daemon each, on one PostgreSQL database ([`hosts`]), the master
//! side of a PTY ([`pty`]), a serial client for the emulator ([`serial`]) and the `== step`
//! lines of a transcript run against an engine ([`steps`]).
#![allow(dead_code)]

use std::path::PathBuf;

/// True when CI asks that absent oracles (corpus, Gammu) fail the run instead of skipping.
pub fn oracles_required() -> bool {
    std::env::var_os("GROUPSMS_REQUIRE_ORACLES").is_some_and(|v| v != "0" && !v.is_empty())
}

/// Says clearly that an oracle is absent; fails when CI requires oracles.
pub fn absent(what: &str) {
    if oracles_required() {
        panic!("{what} is absent, and GROUPSMS_REQUIRE_ORACLES is set");
    }
    eprintln!("SKIPPED: {what} is absent (set GROUPSMS_REQUIRE_ORACLES=1 to make this an error)");
}

/// The shared conformance corpus: `$GROUPSMS_CORPUS`, else `../shared/corpus` beside the checkout.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("GROUPSMS_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    };
    if dir.join("pdus.jsonl").is_file() {
        Some(dir)
    } else {
        absent(&format!(
            "the conformance corpus at {} (GROUPSMS_CORPUS)",
            dir.display()
        ));
        None
    }
}

/// Reads a JSON-lines file of the corpus.
pub fn jsonl(path: PathBuf) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// The Python interpreter that has Debian's `gammu` module, if any.
pub fn gammu_python() -> Option<String> {
    let python = std::env::var("GAMMU_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import gammu"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some(python)
    } else {
        absent(&format!(
            "python-gammu (via {python}; install Debian package python3-gammu)"
        ));
        None
    }
}

use chrono::{DateTime, Utc};
use groupsms::store::{NewGroup, NewMember, Role, Store};
use tempfile::TempDir;

pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("a test time")
}

/// A fresh database for one test: an SQLite file in a temporary directory, or, when
/// `GROUPSMS_STORE_BACKEND=postgres`, a new database in the PostgreSQL cluster named by
/// `GROUPSMS_TEST_POSTGRES` (an admin URL: `.ci/pg-cluster start` prints one), dropped again
/// when the test ends. The same store tests thus run on both engines.
pub struct TestDb {
    dir: TempDir,
    pg: Option<pg::Scratch>,
}

impl TestDb {
    pub fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        TestDb {
            dir,
            pg: pg::scratch_for_this_run(),
        }
    }

    /// The temporary directory (the SQLite file is `groupsms.db` in it).
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Opens the store (again: a restart).
    pub fn open(&self) -> Store {
        match &self.pg {
            Some(pg) => Store::open_postgres(&pg.target, &Default::default()),
            None => Store::open(self.dir.path().join("groupsms.db")),
        }
        .expect("open store")
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// The PostgreSQL database, when this run uses one.
    pub fn pg_target(&self) -> Option<groupsms::store::postgres::PgTarget> {
        self.pg.as_ref().map(|pg| pg.target.clone())
    }
}

/// True (and says so) when this run is `.ci/run`'s PostgreSQL pass: for a test about the
/// SQLite file itself (its mode, a full disk under it), which has nothing to do there.
pub fn sqlite_file_test(what: &str) -> bool {
    let pg = pg::this_run_is_postgres();
    if pg {
        eprintln!("not run on PostgreSQL: {what} is about the SQLite file");
    }
    !pg
}

/// A fresh database; keep the [`TestDb`] alive as long as the store.
pub fn temp_store() -> (TestDb, Store) {
    let db = TestDb::new();
    let store = db.open();
    (db, store)
}

pub const T0: &str = "2024-05-10T02:00:00Z";

/// `ops` with boss + n members and one accepted broadcast (at [`T0`]) to all of them.
pub fn with_broadcast(
    n: u32,
) -> (
    TestDb,
    Store,
    groupsms::store::BroadcastId,
    Vec<groupsms::store::DeliveryId>,
) {
    let (dir, mut store) = temp_store();
    ops_group(&mut store, n);
    let req = groupsms::service::SendRequest {
        caller: groupsms::service::Caller::unix(0, &[]),
        group: "ops".into(),
        as_member: "boss".into(),
        body: "今晚22点停机维护".into(),
        now: utc(T0),
        urgent: false,
    };
    let accepted = groupsms::service::submit_broadcast(
        &mut store,
        &groupsms::service::Settings::default(),
        req,
    )
    .unwrap();
    let ids = store
        .queued_for_broadcast(accepted.broadcast_id)
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    (dir, store, accepted.broadcast_id, ids)
}

/// Group `ops` (运维组) with super-admin `boss` and members `m1`..=`m{n}` (all reachable).
pub fn ops_group(store: &mut Store, n: u32) {
    let now = utc(T0);
    store
        .create_group(&NewGroup::new("ops", "运维组"), now)
        .unwrap();
    store
        .create_member(&NewMember::new("boss", "老板", "+8613900000000"), now)
        .unwrap();
    store.join("ops", "boss", Role::SuperAdmin, now).unwrap();
    for i in 1..=n {
        let handle = format!("m{i}");
        store
            .create_member(
                &NewMember::new(&handle, format!("成员{i}"), format!("+86138{i:08}")),
                now,
            )
            .unwrap();
        store.join("ops", &handle, Role::Member, now).unwrap();
    }
}

// ---- A tiny scripted modem for engine tests over `tokio::io::duplex`: it splits what the host
// writes into command lines, PDUs (after a `>` prompt, up to Ctrl-Z) and ESCs, logs them, and
// answers with whatever the test's closure returns.

pub mod daemon;
pub mod hosts;
pub mod http;
pub mod pg;
pub mod pty;
pub mod serial;
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
