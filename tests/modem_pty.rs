//! Through a real pseudo-terminal and the real tokio-serial open path (`modem::port::open`):
//! the port is exclusive, a fixture's session runs over it byte for byte, and a vanished
//! modem is a transport error. Real time here (real I/O), so pauses are dropped and the
//! engine's polling made short; everything else is the fixture as written.

mod common;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use common::pty::{slave_path, PtyMaster};
use common::steps::{perform, same};
use groupsms::modem::replay::{replay, Chunking};
use groupsms::modem::transcript::{self, Event};
use groupsms::modem::{port, Engine, ModemConfig, ModemError};
use nix::pty::openpty;

fn is_exclusive(fd: &OwnedFd) -> bool {
    let mut excl: libc::c_int = 0;
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGEXCL, &mut excl) };
    assert_eq!(rc, 0, "TIOCGEXCL: {}", io::Error::last_os_error());
    excl != 0
}

#[tokio::test]
async fn the_port_is_opened_exclusively() {
    let pty = openpty(None, None).unwrap();
    let path = slave_path(&pty.slave);
    assert!(!is_exclusive(&pty.slave));
    let port = port::open(&path, 115_200).unwrap();
    assert!(is_exclusive(&pty.slave), "TIOCEXCL is not set");
    // Root bypasses TIOCEXCL; the exclusive flock still refuses a second opener.
    match port::open(&path, 115_200) {
        Err(ModemError::Open { path: p, reason }) => {
            assert_eq!(p, path);
            assert!(
                reason.contains("busy or missing") || reason.contains("lock"),
                "{reason}"
            );
        }
        Ok(_) => panic!("a second open of {path} succeeded"),
        Err(other) => panic!("{other}"),
    }
    drop(port);
    // Closed: free again.
    drop(port::open(&path, 9600).unwrap());
}

#[tokio::test]
async fn open_errors_are_clear() {
    let e = port::open("/dev/does-not-exist-groupsms", 115_200).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot open /dev/does-not-exist-groupsms: no such device"
    );
    assert!(e.is_transport());
    let pty = openpty(None, None).unwrap();
    let e = port::open(&slave_path(&pty.slave), 0).unwrap_err();
    assert!(
        e.to_string().ends_with("the baud rate must not be 0"),
        "{e}"
    );
}

#[tokio::test]
async fn a_fixture_session_over_a_real_pty() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/huawei-e173.txt");
    let t = transcript::parse(&std::fs::read_to_string(file).unwrap()).unwrap();
    // Everything up to the idle step (which would cost real seconds), without pauses.
    let stop = t
        .steps
        .iter()
        .position(|s| s.action.starts_with("idle"))
        .unwrap();
    let events: Vec<Event> = t.events[..t.steps[stop].first_event]
        .iter()
        .filter(|e| !matches!(e, Event::Pause { .. }))
        .cloned()
        .collect();
    let mut config = ModemConfig::default();
    for (k, v) in &t.config {
        config.set(k, v).unwrap();
    }
    config.poll_interval = Duration::from_millis(50);
    config.command_gap = Duration::from_millis(2);
    config.resync_quiet = Duration::from_millis(50);

    let pty = openpty(None, None).unwrap();
    let port = port::open(&slave_path(&pty.slave), 115_200).unwrap();
    let (modem_side, handle) = replay(events, Chunking::Whole);
    let mut master = PtyMaster::new(pty.master);
    let pump = tokio::spawn(async move {
        let mut modem_side = modem_side;
        let _ = tokio::io::copy_bidirectional(&mut master, &mut modem_side).await;
    });

    let started = Instant::now();
    let mut engine = Engine::new(port, config);
    let run = async {
        for step in &t.steps[..stop] {
            let got = perform(&mut engine, step).await.unwrap();
            let want = step.expect.as_deref().unwrap();
            assert!(
                same(&got, want),
                "line {}: got {got}, fixture {want} ({:?})",
                step.line,
                handle.error()
            );
        }
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the PTY session hung");
    handle.finish().unwrap();
    eprintln!("{stop} steps over the PTY in {:?}", started.elapsed());
    pump.abort();
    drop(pty.slave);
}

#[tokio::test]
async fn a_vanished_modem_is_a_transport_error() {
    let pty = openpty(None, None).unwrap();
    let port = port::open(&slave_path(&pty.slave), 115_200).unwrap();
    let mut engine = Engine::new(port, ModemConfig::default());
    drop(pty.master);
    drop(pty.slave);
    let started = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(20), engine.command("AT"))
        .await
        .expect("no error within 20 s")
        .unwrap_err();
    assert!(e.is_transport(), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(engine.check_health().await, groupsms::modem::Health::Gone);
}
