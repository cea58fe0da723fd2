//! `groupsms demo`: the whole job on emulated modems, no hardware needed. Starts four virtual
//! modems (Huawei, SIMCom, Quectel, generic) and the daemon on a temporary database inside
//! this process, then runs the same commands a user types (printed before each), sends a
//! Chinese message in the group's name with a progress bar, and shows what each phone got.
//! Everything stops and the temporary directory is removed at the end.

use std::time::Duration;

use clap::{Args, Parser};

use super::{Cli, Failure, EXIT_DAEMON_DOWN};
use crate::config::{Config, ModemEntry};
use crate::daemon::InProcess;
use crate::emulator::log::Phones;
use crate::emulator::profile::ALL_PROFILES;
use crate::emulator::{Emulator, EmulatorConfig};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Time each emulated modem takes to submit one SMS part (real ones take 1-3 s).
    #[arg(long, default_value = "400ms", value_parser = crate::emulator::config::parse_duration)]
    latency: Duration,
    /// Keep the temporary directory (database, emulator log, daemon socket) for a look.
    #[arg(long)]
    keep: bool,
}

fn fail(message: String) -> Failure {
    Failure {
        message,
        code: EXIT_DAEMON_DOWN,
    }
}

pub fn run(args: DemoArgs) -> Result<(), Failure> {
    let dir = tempfile::Builder::new()
        .prefix("groupsms-demo-")
        .tempdir()
        .map_err(|e| fail(format!("cannot make a temporary directory: {e}")))?;
    let root = dir.path().to_path_buf();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(e.to_string()))?;
    println!(
        "groupsms demo: four emulated modems and a daemon in {}\n",
        root.display()
    );

    // Four virtual modems of different families, a little latency and jitter.
    let log = root.join("sms.jsonl");
    let emu_cfg = EmulatorConfig::new(root.join("dev"), ALL_PROFILES.len())
        .log(&log)
        .seed(2026);
    let emu_cfg = ALL_PROFILES.iter().enumerate().fold(emu_cfg, |c, (i, p)| {
        c.modem(i, |m| {
            m.profile = *p;
            m.knobs.send_latency = args.latency;
            m.knobs.send_jitter = args.latency / 4;
        })
    });
    let emulator = {
        let _guard = runtime.enter();
        Emulator::start(emu_cfg).map_err(|e| fail(format!("emulator: {e}")))?
    };

    let mut config = Config::default();
    config.daemon.socket = root.join("groupsms.sock");
    config.daemon.database = root.join("groupsms.db");
    config.modems = vec![ModemEntry::new(format!("{}/dev/modem*", root.display()))];
    let socket = config.daemon.socket.clone();
    let daemon = InProcess::start(&runtime, config)
        .map_err(|e| fail(format!("the daemon did not start: {e}")))?;

    let sock = socket.display().to_string();
    let session: &[&[&str]] = &[
        &["modem", "list"],
        &["group", "create", "ops", "--name", "运维组"],
        &["member", "add", "alice", "--name", "Alice", "--phone", "+8613800138000"],
        &["member", "join", "alice", "ops", "--role", "super_admin"],
        &["member", "add", "bob", "--name", "王伟", "--phone", "13900000001"],
        &["member", "join", "bob", "ops"],
        &["member", "add", "carol", "--name", "李娜", "--phone", "139 0000 0002"],
        &["member", "join", "carol", "ops"],
        &["member", "add", "dave", "--name", "张强", "--phone", "+86 139-0000-0003"],
        &["member", "join", "dave", "ops"],
        &["member", "add", "erin", "--name", "刘洋", "--phone", "13900000004"],
        &["member", "join", "erin", "ops"],
        &["member", "add", "frank", "--name", "陈静", "--phone", "13900000005"],
        &["member", "join", "frank", "ops"],
        &["member", "opt-out", "erin", "ops"],
        &["member", "set", "frank", "--valid", "false"],
        &["send", "--group", "ops", "--as", "alice", "--wait", "明天上午九点在三楼会议室召开季度运维总结会，请各位提前准备本季度的故障复盘材料和下季度的工作计划，会议预计两个小时，会后统一安排午餐。收到请回复😀"],
        &["send", "--group", "ops", "--as", "bob", "我也想发"],
        &["broadcast", "show", "1"],
    ];
    let mut outcome = Ok(());
    for args in session {
        println!(
            "$ groupsms {}",
            args.iter()
                .map(|a| if a.contains(' ') || a.is_empty() {
                    format!("'{a}'")
                } else {
                    a.to_string()
                })
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut argv = vec!["groupsms", "--socket", &sock];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(&argv).map_err(|e| fail(e.to_string()))?;
        // The CLI blocks on the socket; the daemon and modems run on the runtime's threads.
        let code = super::run(cli);
        if code != std::process::ExitCode::SUCCESS
            && args[0] != "send"
            && args.get(4) != Some(&"bob")
        {
            outcome = Err(fail(format!(
                "demo step `groupsms {}` failed",
                args.join(" ")
            )));
            break;
        }
        println!();
    }

    println!("What each phone shows (from the emulated network's log):");
    match Phones::from_log(&log) {
        Ok(phones) => print!("{}", phones.render()),
        Err(e) => outcome = Err(fail(format!("cannot read the emulator log: {e}"))),
    }
    if let Err(e) = daemon.stop(&runtime) {
        outcome = outcome.and(Err(fail(format!("daemon: {e}"))));
    }
    let summary = runtime.block_on(emulator.shutdown());
    println!("\nEmulator summary:\n{summary}");
    if args.keep {
        println!("kept {}", dir.keep().display());
    }
    outcome
}
