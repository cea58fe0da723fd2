//! 200 users asking for the same large broadcast at once: the real `groupsms daemon` on a
//! database holding a 200-member broadcast whose rows are as large as the field limits allow
//! (32-byte handles, 64-character names of 4-byte characters, 15-digit numbers, a 5-part
//! message, every delivery failed with a long error), and `SHOW_LOAD_CLIENTS` (200) connections
//! of one non-administrator (uid 1000, a member of the group; an administrator if the bench
//! does not run as root) each sending one `broadcast_show` at the same moment, `SHOW_LOAD_ROUNDS`
//! (3) times. Prints the daemon's peak RSS (VmHWM), its RSS after each round, the largest
//! answer line and how long the slowest client waited. `SHOW_LOAD_ALL_PAGES=1`: each client
//! reads every page (following `next`, as the CLI does) instead of sending one request. The daemon is the binary of this build,
//! a child process, so its memory is its own.
//!
//! `cargo bench --bench show_load`

#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::Utc;
use groupsms::service::{submit_broadcast, Caller, SendRequest, Settings};
use groupsms::store::{NewGroup, NewMember, Role, Store, StoreError};
use support::{env_list, Daemon};

/// The Unix user the clients connect as (when the bench runs as root).
const USER: u32 = 1000;

/// A name of 64 four-byte characters, different for each `i`.
fn long_name(i: u64) -> String {
    let base = 0x1F600 + (i % 64) as u32;
    (0..64)
        .map(|k| char::from_u32(base + (k % 16)).unwrap_or('😀'))
        .collect()
}

/// Group `g` of `members` members (super-admin `boss`, `reader` bound to [`USER`], the rest
/// plain members), one broadcast to all of them, every delivery failed with a long error.
fn populate(path: &Path, members: u64) -> i64 {
    let now = Utc::now();
    let mut store = Store::open(path).expect("open the database");
    store
        .write(|tx| -> Result<(), StoreError> {
            tx.create_group(&NewGroup::new("g", long_name(0)), now)?;
            tx.create_member(&NewMember::new("boss", "Boss", "+8613800000000"), now)?;
            tx.join("g", "boss", Role::SuperAdmin, now)?;
            let mut reader = NewMember::new("reader", "Reader", "+8613700000000");
            reader.unix_uid = Some(USER);
            tx.create_member(&reader, now)?;
            tx.join("g", "reader", Role::Member, now)?;
            for i in 2..members {
                let handle = format!("member-{i:025}");
                let phone = format!("+8613{i:011}");
                tx.create_member(&NewMember::new(&handle, long_name(i), phone), now)?;
                tx.join("g", &handle, Role::Member, now)?;
            }
            Ok(())
        })
        .expect("populate the group");
    let body: String = "通知\"请\\回复\"".chars().cycle().take(200).collect();
    let accepted = submit_broadcast(
        &mut store,
        &Settings::default(),
        SendRequest {
            caller: Caller::unix(0, &[]),
            group: "g".into(),
            as_member: "boss".into(),
            body,
            now,
            urgent: false,
        },
    )
    .expect("the broadcast is accepted");
    let error = format!(
        "the modem said \"+CMS ERROR: 500\" {}",
        "\"quoted\\reply\" ".repeat(30)
    );
    store
        .write(|tx| -> Result<(), StoreError> {
            for d in &accepted.queued {
                tx.mark_sending(d.id, "/dev/serial/by-id/usb-HUAWEI_Mobile-if00-port0", now)?;
                tx.mark_failed(d.id, &error, now)?;
            }
            Ok(())
        })
        .expect("fail every delivery");
    accepted.broadcast_id.0
}

/// One round: `clients` connections, all asking at once; (largest line, slowest wait).
fn round(
    socket: &Path,
    clients: usize,
    broadcast: i64,
    as_user: bool,
    all_pages: bool,
) -> (usize, Duration) {
    let barrier = Arc::new(Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let socket = socket.to_path_buf();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                if as_user {
                    // SAFETY: raw syscalls change this thread's credentials only.
                    unsafe {
                        assert_eq!(libc::syscall(libc::SYS_setresgid, USER, USER, USER), 0);
                        assert_eq!(libc::syscall(libc::SYS_setresuid, USER, USER, USER), 0);
                    }
                }
                let mut s = UnixStream::connect(&socket).expect("connect");
                s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                s.write_all(b"{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}\n")
                    .unwrap();
                r.read_line(&mut line).unwrap();
                assert!(line.contains("\"ok\":true"), "{line}");
                barrier.wait();
                let t = Instant::now();
                let mut after = String::new();
                let mut longest = 0;
                loop {
                    let ask = format!(
                        "{{\"id\":2,\"op\":\"broadcast_show\",\"args\":{{\"broadcast\":{broadcast}{after}}}}}\n"
                    );
                    s.write_all(ask.as_bytes()).unwrap();
                    line.clear();
                    r.read_line(&mut line).unwrap();
                    assert!(line.contains("\"ok\":true"), "{}", &line[..line.len().min(300)]);
                    longest = line.trim_end().len().max(longest);
                    // Every page (as the CLI reads it), when asked and when there are pages.
                    let answer: serde_json::Value = serde_json::from_str(&line).unwrap();
                    match answer["result"].get("next").and_then(|n| n.as_i64()) {
                        Some(next) if all_pages => after = format!(",\"after\":{next}"),
                        _ => break,
                    }
                }
                (longest, t.elapsed())
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("a client"))
        .fold((0, Duration::ZERO), |(l, w), (l2, w2)| {
            (l.max(l2), w.max(w2))
        })
}

fn main() {
    let members = env_list("SHOW_LOAD_MEMBERS", &[200])[0];
    let clients = env_list("SHOW_LOAD_CLIENTS", &[200])[0] as usize;
    let rounds = env_list("SHOW_LOAD_ROUNDS", &[3])[0];
    let all_pages = env_list("SHOW_LOAD_ALL_PAGES", &[0])[0] != 0;
    // SAFETY: getuid has no preconditions.
    let as_user = unsafe { libc::getuid() } == 0;
    let dir = tempfile::tempdir().expect("temp dir");
    let broadcast = populate(&dir.path().join("db.sqlite"), members);
    let config = support::config_text(dir.path(), "").replace(
        "[daemon]\n",
        "[daemon]\nmax_connections_per_uid = 100000\nmax_connections = 100000\n",
    );
    let daemon = Daemon::start(dir.path(), &config);
    if as_user {
        use std::os::unix::fs::PermissionsExt;
        let open = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        open(dir.path(), 0o755);
        open(&daemon.socket, 0o666);
    }
    // Let the start settle (modem discovery, recovery) before the first figure.
    std::thread::sleep(Duration::from_millis(500));
    println!(
        "show_load: {members}-member broadcast, {clients} concurrent broadcast_show ({}) as {}, {rounds} rounds",
        if all_pages {
            "every page"
        } else {
            "one request each"
        },
        if as_user {
            format!("uid {USER} (a member, not an administrator)")
        } else {
            "this user (an administrator)".to_string()
        }
    );
    println!(
        "  daemon at rest: RSS {}, peak {}",
        support::mb(Some(daemon.status_kb("VmRSS:"))),
        support::mb(Some(daemon.status_kb("VmHWM:")))
    );
    for n in 1..=rounds {
        let t = Instant::now();
        let (longest, slowest) = round(&daemon.socket, clients, broadcast, as_user, all_pages);
        let took = t.elapsed();
        let peak = daemon.status_kb("VmHWM:");
        std::thread::sleep(Duration::from_secs(2));
        println!(
            "  round {n}: {:.2} s, slowest answer {:.2} s, largest answer line {longest} bytes; \
             daemon peak RSS {}, RSS 2 s after {}",
            took.as_secs_f64(),
            slowest.as_secs_f64(),
            support::mb(Some(peak)),
            support::mb(Some(daemon.status_kb("VmRSS:")))
        );
    }
    daemon.stop();
}
