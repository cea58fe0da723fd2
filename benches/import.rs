//! CSV import: a 100 000-row file through the real CLI and daemon (`groupsms member import`,
//! streamed over the socket in pieces of at most one request line, committed in one
//! transaction). The `groupsms daemon` binary runs as a child process on a fresh database with
//! one group and no modems; the CLI is the real binary too. Printed: the file's size, the
//! wall time of the whole `member import` (read, send, check, write), rows per second, the
//! daemon's CPU time over the import and its peak RSS (VmHWM) before and after, and the CLI's
//! peak RSS (getrusage of the waited child).
//!
//! `cargo bench --bench import` (100 000 rows). Knob: `IMPORT_ROWS`.

#[path = "support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::Instant;

use groupsms::store::{NewGroup, Store};
use support::{config_text, env_list, Daemon};

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let rows = if quick {
        2_000
    } else {
        env_list("IMPORT_ROWS", &[100_000])[0]
    };
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path().join("db.sqlite"))
        .and_then(|mut s| s.create_group(&NewGroup::new("g", "测试组"), chrono::Utc::now()))
        .expect("a database with one group");
    let mut csv = String::from("handle,name,phone,group\n");
    for i in 1..=rows {
        csv.push_str(&format!("m{i},成员{i},139{i:08},g\n"));
    }
    let file = dir.path().join("members.csv");
    std::fs::write(&file, &csv).unwrap();
    let daemon = Daemon::start(dir.path(), &config_text(dir.path(), ""));
    let hwm_ready = daemon.status_kb("VmHWM:");
    let cpu0 = daemon.cpu_seconds();

    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_groupsms"))
        .arg("--config")
        .arg(dir.path().join("groupsms.toml"))
        .args(["--json", "member", "import"])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run the CLI");
    let wall = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["members_created"].as_u64(), Some(rows), "{result}");
    let cpu = daemon.cpu_seconds() - cpu0;
    let hwm = daemon.status_kb("VmHWM:");
    // SAFETY: getrusage fills the struct it is given.
    let cli_kb = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss
    };
    println!(
        "rows {rows}  file {:.1} MB  wall {:.2} s  ({:.0} rows/s)  daemon CPU {cpu:.2} s  \
         daemon peak RSS {:.1} MB at READY, {:.1} MB after  CLI peak RSS {:.1} MB",
        csv.len() as f64 / 1e6,
        wall.as_secs_f64(),
        rows as f64 / wall.as_secs_f64(),
        hwm_ready as f64 / 1024.0,
        hwm as f64 / 1024.0,
        cli_kb as f64 / 1024.0,
    );
    daemon.stop();
}
