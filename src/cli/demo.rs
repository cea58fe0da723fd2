//! `groupsms demo`: the whole job on emulated modems, no hardware needed. Starts four virtual
//! modems (Huawei, SIMCom, Quectel, generic) and the daemon on a temporary database inside
//! this process, then runs the same commands a user types (printed before each), sends a
//! Chinese message in the group's name with a progress bar, and shows what each phone got.
//! Everything stops and the temporary directory is removed at the end.

use std::time::Duration;

use clap::{Args, Parser};

use super::client::Client;
use super::exit::Class;
use super::{Cli, Failure};
use crate::config::{Config, ModemTable};
use crate::daemon::InProcess;
use crate::emulator::log::Phones;
use crate::emulator::profile::ALL_PROFILES;
use crate::emulator::{Emulator, EmulatorConfig};
use crate::protocol::{self as p, ErrorCode, Request};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Time each emulated modem takes to submit one SMS part (real ones take 1-3 s).
    #[arg(long, default_value = "400ms", value_parser = crate::emulator::config::parse_duration)]
    latency: Duration,
    /// Keep the temporary directory (database, emulator log, daemon socket) for a look.
    #[arg(long)]
    keep: bool,
    /// The message the group's super-admin sends (default: a two-part meeting notice).
    #[arg(long, default_value = NOTICE, hide_default_value = true)]
    text: String,
}

/// The demo's message: Chinese and an emoji, so UCS-2 in two parts.
const NOTICE: &str = "明天上午九点在三楼会议室召开季度运维总结会，请各位提前准备本季度的故障复盘材料和下季度的工作计划，会议预计两个小时，会后统一安排午餐。收到请回复😀";

/// What a step of the demo must come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The command succeeds.
    Success,
    /// The command succeeds and broadcast 1 (the demo's, on its fresh database) reached every
    /// recipient.
    Delivered,
    /// The daemon refuses, with this code: the step shows a rule.
    Refused(ErrorCode),
}

/// Whether a step came to what it must; the error says what went wrong instead.
fn check(expect: Expect, result: &Result<(), Failure>) -> Result<(), String> {
    match (expect, result) {
        (Expect::Success | Expect::Delivered, Ok(())) => Ok(()),
        (Expect::Success | Expect::Delivered, Err(f)) => Err(format!("failed: {}", f.message)),
        (Expect::Refused(code), Err(f)) if f.daemon_error == Some(code) => Ok(()),
        (Expect::Refused(code), Err(f)) => Err(format!(
            "should have been refused with {code:?}, but failed otherwise: {}",
            f.message
        )),
        (Expect::Refused(code), Ok(())) => Err(format!(
            "should have been refused with {code:?}, but succeeded"
        )),
    }
}

/// A step's arguments for an error message, long ones (the message) cut short.
fn shown(args: &[&str]) -> String {
    args.iter()
        .map(|a| match a.char_indices().nth(12) {
            Some((cut, _)) => format!("{}…", &a[..cut]),
            None => a.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every recipient of a finished broadcast got it.
fn delivered(b: &p::BroadcastShow) -> Result<(), String> {
    let i = &b.broadcast;
    if i.finished && i.sent == i.recipients && i.failed == 0 && i.uncertain == 0 {
        return Ok(());
    }
    Err(format!(
        "broadcast {} did not reach every phone: {} of {} sent, {} failed, {} uncertain{}",
        i.id,
        i.sent,
        i.recipients,
        i.failed,
        i.uncertain,
        if i.finished { "" } else { ", not finished" }
    ))
}

fn fail(message: String) -> Failure {
    Failure::of(Class::Unavailable, message)
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
    config.modems = vec![ModemTable::new(format!("{}/dev/modem*", root.display()))];
    let socket = config.daemon.socket.clone();
    let daemon = InProcess::start(&runtime, config)
        .map_err(|e| fail(format!("the daemon did not start: {e}")))?;

    let sock = socket.display().to_string();
    use Expect::*;
    let session: &[(&[&str], Expect)] = &[
        (&["modem", "list"], Success),
        (&["group", "create", "ops", "--name", "运维组"], Success),
        (
            &[
                "member",
                "add",
                "alice",
                "--name",
                "Alice",
                "--phone",
                "+8613800138000",
            ],
            Success,
        ),
        (
            &["member", "join", "alice", "ops", "--role", "super_admin"],
            Success,
        ),
        (
            &[
                "member",
                "add",
                "bob",
                "--name",
                "王伟",
                "--phone",
                "13900000001",
            ],
            Success,
        ),
        (&["member", "join", "bob", "ops"], Success),
        (
            &[
                "member",
                "add",
                "carol",
                "--name",
                "李娜",
                "--phone",
                "139 0000 0002",
            ],
            Success,
        ),
        (&["member", "join", "carol", "ops"], Success),
        (
            &[
                "member",
                "add",
                "dave",
                "--name",
                "张强",
                "--phone",
                "+86 139-0000-0003",
            ],
            Success,
        ),
        (&["member", "join", "dave", "ops"], Success),
        (
            &[
                "member",
                "add",
                "erin",
                "--name",
                "刘洋",
                "--phone",
                "13900000004",
            ],
            Success,
        ),
        (&["member", "join", "erin", "ops"], Success),
        (
            &[
                "member",
                "add",
                "frank",
                "--name",
                "陈静",
                "--phone",
                "13900000005",
            ],
            Success,
        ),
        (&["member", "join", "frank", "ops"], Success),
        (&["member", "opt-out", "erin", "ops"], Success),
        (&["member", "set", "frank", "--valid", "false"], Success),
        (
            &[
                "send", "--group", "ops", "--as", "alice", "--wait", &args.text,
            ],
            Delivered,
        ),
        // A plain member may not send: the rule, shown.
        (
            &["send", "--group", "ops", "--as", "bob", "我也想发"],
            Refused(ErrorCode::NotSuperAdmin),
        ),
        (&["broadcast", "show", "1"], Success),
    ];
    let mut outcome = Ok(());
    for &(args, expect) in session {
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
        let result = super::execute(cli);
        if let Err(failure) = &result {
            super::report(failure, false);
        }
        let checked = check(expect, &result).and_then(|()| {
            if expect != Delivered {
                return Ok(());
            }
            let show: p::BroadcastShow = Client::connect(&socket)
                .and_then(|mut c| {
                    c.call_all(|after| {
                        Request::BroadcastShow(p::BroadcastShowArgs {
                            after,
                            ..p::BroadcastShowArgs::first(1)
                        })
                    })
                })
                .map_err(|f| f.message)?;
            delivered(&show)
        });
        if let Err(why) = checked {
            outcome = Err(fail(format!("demo step `groupsms {}` {why}", shown(args))));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: ErrorCode) -> Result<(), Failure> {
        Err(Failure::daemon(code, "no"))
    }

    #[test]
    fn a_step_meant_to_be_refused_must_be_refused_for_that_reason() {
        let not_admin = Expect::Refused(ErrorCode::NotSuperAdmin);
        assert_eq!(check(not_admin, &refused(ErrorCode::NotSuperAdmin)), Ok(()));
        assert_eq!(
            check(not_admin, &refused(ErrorCode::QuotaExceeded)),
            Err("should have been refused with NotSuperAdmin, but failed otherwise: no".into())
        );
        assert_eq!(
            check(not_admin, &Ok(())),
            Err("should have been refused with NotSuperAdmin, but succeeded".into())
        );
        assert_eq!(
            check(Expect::Delivered, &refused(ErrorCode::TooManyParts)),
            Err("failed: no".into())
        );
    }

    #[test]
    fn the_demo_broadcast_must_reach_every_phone() {
        let mut show = p::BroadcastShow {
            broadcast: p::BroadcastInfo {
                id: 1,
                group: "ops".into(),
                sender: "alice".into(),
                caller: Some("root".into()),
                created_at: String::new(),
                recipients: 4,
                parts: 2,
                encoding: "ucs2".into(),
                sent: 4,
                delivered: 0,
                undelivered: 0,
                failed: 0,
                uncertain: 0,
                cancelled: 0,
                waiting: 0,
                finished: true,
                text: String::new(),
                waiting_reason: None,
                urgent: false,
                cancelled_at: None,
                cancelled_by: None,
            },
            dropped: p::Dropped::default(),
            deliveries: Vec::new(),
            next: None,
            replies: Vec::new(),
            more_replies: false,
        };
        assert_eq!(delivered(&show), Ok(()));
        show.broadcast.sent = 3;
        show.broadcast.failed = 1;
        assert_eq!(
            delivered(&show),
            Err("broadcast 1 did not reach every phone: 3 of 4 sent, 1 failed, 0 uncertain".into())
        );
        show.broadcast.finished = false;
        show.broadcast.failed = 0;
        show.broadcast.waiting = 1;
        assert_eq!(
            delivered(&show),
            Err("broadcast 1 did not reach every phone: 3 of 4 sent, 0 failed, 0 uncertain, not finished".into())
        );
    }
}
