//! `groupsms demo`: the whole job on emulated modems, no hardware needed. Starts four virtual
//! modems (Huawei, SIMCom, Quectel, generic) and the daemon on a temporary database inside
//! this process, then runs the same commands a user types (printed before each), sends a
//! Chinese message in the group's name with a progress bar and waits for its status reports.
//! Then the two-way half: two emulated phones answer (one says it got the message, one replies
//! `TD`); the demo shows each answer as the inbox commits it, the reply under the broadcast,
//! the opt-out's confirmation, and a second message that leaves her out. Each step is checked
//! and the first that does not come to what it must ends the demo with a failure naming it.
//! At the end it shows what each phone got; everything stops and the temporary directory is
//! removed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Parser};

use super::client::{answer, Client};
use super::exit::Class;
use super::output::escape;
use super::{Cli, Failure};
use crate::config::{Config, ModemTable};
use crate::daemon::InProcess;
use crate::emulator::log::Phones;
use crate::emulator::profile::ALL_PROFILES;
use crate::emulator::{AutoReply, Emulator, EmulatorConfig};
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

/// What a step of the demo must come to (checks of what it did come after).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The command succeeds.
    Success,
    /// The daemon refuses, with this code: the step shows a rule.
    Refused(ErrorCode),
}

/// Whether a step came to what it must; the error says what went wrong instead.
fn check(expect: Expect, result: &Result<(), Failure>) -> Result<(), String> {
    match (expect, result) {
        (Expect::Success, Ok(())) => Ok(()),
        (Expect::Success, Err(f)) => Err(format!("failed: {}", f.message)),
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

/// A step's arguments for an error message, long ones (the message, not an option) cut short.
fn shown(args: &[&str]) -> String {
    args.iter()
        .map(|a| match a.char_indices().nth(12) {
            Some((cut, _)) if !a.starts_with("--") => format!("{}…", &a[..cut]),
            _ => a.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every recipient of a finished broadcast got it.
fn reached_every_phone(b: &p::BroadcastShow) -> Result<(), String> {
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

/// Every recipient's status report came back and said delivered.
fn reported(b: &p::BroadcastShow) -> Result<(), String> {
    let i = &b.broadcast;
    if i.delivered == i.recipients {
        return Ok(());
    }
    Err(format!(
        "did not see every delivery reported: {} of {} delivered, {} undelivered, {} without a \
         report",
        i.delivered,
        i.recipients,
        i.undelivered,
        i.sent.saturating_sub(i.delivered + i.undelivered)
    ))
}

/// The notice `b` (sent `sent`) is one message to `number`, sent.
fn confirmation(b: &p::BroadcastShow, sent: u32, number: &str) -> Result<(), String> {
    let to_her = b.deliveries.iter().any(|d| d.number == number);
    match (sent, to_her, b.broadcast.recipients) {
        (1, true, 1) => Ok(()),
        _ => Err(format!(
            "is not {number}'s confirmation, sent: {sent} sent of {} recipients, to {number}: \
             {to_her}",
            b.broadcast.recipients
        )),
    }
}

/// Broadcast `b` left `number` out as opted out, with `opted_out` members in all.
fn left_out(b: &p::BroadcastShow, number: &str, opted_out: u32) -> Result<(), String> {
    let to_her = b.deliveries.iter().any(|d| d.number == number);
    if !to_her && b.dropped.opted_out == opted_out {
        return Ok(());
    }
    Err(format!(
        "did not leave {number} out: a delivery to her: {to_her}, opted out: {} (should be \
         {opted_out})",
        b.dropped.opted_out
    ))
}

/// What the opted-out member's phone must show: her confirmation, and not the second message.
fn opted_out_phone(texts: &[&str]) -> Result<(), String> {
    let confirmation = texts.iter().any(|t| t.starts_with("您已退订【运维组】"));
    let second = texts.iter().any(|t| t.contains(SECOND));
    match (confirmation, second) {
        (true, false) => Ok(()),
        _ => Err(format!(
            "her confirmation {}, the second message {}",
            if confirmation {
                "arrived"
            } else {
                "did not arrive"
            },
            if second { "reached her too" } else { "did not" }
        )),
    }
}

fn fail(message: String) -> Failure {
    Failure::of(Class::Unavailable, message)
}

/// The members whose phones answer, and what they answer.
const BOB: &str = "+8613900000001";
const BOB_SAYS: &str = "收到，准时参加";
const CAROL: &str = "+8613900000002";
const CAROL_SAYS: &str = "TD";
/// The group's second message, which must leave carol out.
const SECOND: &str = "会议改到明天下午两点，地点不变";
/// How long after a part the emulated network sends its status report (0.5x to 1.5x), and
/// after a message how long a phone takes to answer.
const REPORT_DELAY: Duration = Duration::from_millis(1000);
const REPLY_DELAY: Duration = Duration::from_millis(1200);
/// How long the demo waits for something the network has to bring (a report, a reply)
/// before it says that step failed.
const NETWORK_WAIT: Duration = Duration::from_secs(20);

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

    // Four virtual modems of different families, a little latency and jitter; the network
    // sends status reports, and two phones answer whatever they get: bob says he got it,
    // carol unsubscribes.
    let log = root.join("sms.jsonl");
    let emu_cfg = EmulatorConfig::new(root.join("dev"), ALL_PROFILES.len())
        .log(&log)
        .seed(2026);
    let emu_cfg = ALL_PROFILES.iter().enumerate().fold(emu_cfg, |c, (i, p)| {
        c.modem(i, |m| {
            m.profile = *p;
            m.knobs.send_latency = args.latency;
            m.knobs.send_jitter = args.latency / 4;
            m.knobs.report_delay = Some(REPORT_DELAY);
            m.knobs.replies = [(BOB, BOB_SAYS), (CAROL, CAROL_SAYS)]
                .into_iter()
                .map(|(number, text)| AutoReply {
                    pattern: number.into(),
                    text: text.into(),
                    delay: REPLY_DELAY,
                })
                .collect();
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

    let demo = Demo {
        sock: socket.display().to_string(),
        socket,
        log: log.clone(),
    };
    let mut outcome = demo.session(&args.text);

    println!("What each phone shows (from the emulated network's log):");
    match Phones::from_log(&log) {
        Ok(phones) => print!("{}", phones.render()),
        Err(e) => outcome = outcome.and(Err(fail(format!("cannot read the emulator log: {e}")))),
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

/// The demo's session with the daemon: where it is, and the emulator's log.
struct Demo {
    sock: String,
    socket: PathBuf,
    log: PathBuf,
}

impl Demo {
    /// The commands a user would type, each checked; the first that does not come to what it
    /// must ends the session with a failure naming it.
    fn session(&self, text: &str) -> Result<(), Failure> {
        use Expect::*;
        let setup: &[&[&str]] = &[
            &["modem", "list"],
            &["group", "create", "ops", "--name", "运维组"],
            &[
                "member",
                "add",
                "alice",
                "--name",
                "Alice",
                "--phone",
                "+8613800138000",
            ],
            &["member", "join", "alice", "ops", "--role", "super_admin"],
            &[
                "member",
                "add",
                "bob",
                "--name",
                "王伟",
                "--phone",
                "13900000001",
            ],
            &["member", "join", "bob", "ops"],
            &[
                "member",
                "add",
                "carol",
                "--name",
                "李娜",
                "--phone",
                "139 0000 0002",
            ],
            &["member", "join", "carol", "ops"],
            &[
                "member",
                "add",
                "dave",
                "--name",
                "张强",
                "--phone",
                "+86 139-0000-0003",
            ],
            &["member", "join", "dave", "ops"],
            &[
                "member",
                "add",
                "erin",
                "--name",
                "刘洋",
                "--phone",
                "13900000004",
            ],
            &["member", "join", "erin", "ops"],
            &[
                "member",
                "add",
                "frank",
                "--name",
                "陈静",
                "--phone",
                "13900000005",
            ],
            &["member", "join", "frank", "ops"],
            &["member", "opt-out", "erin", "ops"],
            &["member", "set", "frank", "--valid", "false"],
        ];
        for args in setup {
            self.step(args, Success)?;
        }
        // Listening to the inbox from before the first message, so no answer goes unseen.
        let mut inbox = self.client("listen to the inbox")?;
        let inbox_sub = inbox.send(Request::Subscribe(p::SubscribeArgs::inbox()))?;

        let first = [
            "send",
            "--group",
            "ops",
            "--as",
            "alice",
            "--wait-delivered",
            "--timeout",
            "20",
            text,
        ];
        self.step(&first, Success)?;
        let b1 = self.newest_from("alice", &first)?;
        self.check(&first, || {
            reached_every_phone(&b1).and_then(|()| reported(&b1))
        })?;

        // A plain member may not send: the rule, shown.
        self.step(
            &["send", "--group", "ops", "--as", "bob", "我也想发"],
            Refused(ErrorCode::NotSuperAdmin),
        )?;

        let waiting = "wait for the phones' answers (subscribe {\"inbox\": true})";
        println!("# the phones answer: 王伟 (bob) \"{BOB_SAYS}\", 李娜 (carol) \"{CAROL_SAYS}\"; the inbox, as each is committed:");
        let (mut bob_replied, mut carol_out) = (false, false);
        let deadline = Instant::now() + NETWORK_WAIT;
        let named = |f: Failure| fail(format!("demo step `{waiting}`: {}", f.message));
        while !(bob_replied && carol_out) {
            let r = inbox.read_before(deadline).map_err(named)?;
            let Some(r) = r.filter(|r| r.id == inbox_sub) else {
                if Instant::now() < deadline {
                    continue;
                }
                let mut missing = Vec::new();
                if !bob_replied {
                    missing.push("no reply from bob's phone linked to the broadcast");
                }
                if !carol_out {
                    missing.push("carol's TD did not opt her out");
                }
                return Err(fail(format!(
                    "demo step `{waiting}`: not within {} s: {}",
                    NETWORK_WAIT.as_secs(),
                    missing.join("; ")
                )));
            };
            let Some(m) = r.inbox else {
                answer(r).map_err(named)?;
                continue;
            };
            println!(
                "  #{} from {} ({}): {}  [{}{}]",
                m.id,
                escape(&m.number),
                escape(m.member.as_deref().unwrap_or("-")),
                escape(&m.text),
                m.handling,
                m.broadcast
                    .map(|b| format!(", broadcast {b}"))
                    .unwrap_or_default()
            );
            let about_b1 = m.broadcast == Some(b1.broadcast.id);
            bob_replied |= m.number == BOB && m.handling == "reply" && about_b1;
            carol_out |= m.number == CAROL && m.handling == "opt_out";
        }
        drop(inbox);
        println!();

        let show_b1 = ["broadcast", "show", &b1.broadcast.id.to_string()].map(String::from);
        let show_b1: Vec<&str> = show_b1.iter().map(String::as_str).collect();
        self.step(&show_b1, Success)?;
        self.check(&show_b1, || {
            let b = self.show(b1.broadcast.id)?;
            match b
                .replies
                .iter()
                .any(|r| r.number == BOB && r.text == BOB_SAYS)
            {
                true => Ok(()),
                false => Err(format!("does not list bob's reply \"{BOB_SAYS}\"")),
            }
        })?;
        self.step(&["inbox", "list"], Success)?;

        // Her confirmation: a notice of one delivery, sent as `system`.
        let notice = self.newest_from("system", &["broadcast", "list"])?;
        let id = notice.broadcast.id;
        let confirmed = Client::connect(&self.socket)
            .and_then(|mut c| super::send::follow(&mut c, id, false))
            .map_err(|f| {
                fail(format!(
                    "demo step `follow the confirmation`: {}",
                    f.message
                ))
            })?;
        let show_notice = ["broadcast", "show", &id.to_string()].map(String::from);
        let show_notice: Vec<&str> = show_notice.iter().map(String::as_str).collect();
        self.step(&show_notice, Success)?;
        self.check(&show_notice, || {
            confirmation(&self.show(id)?, confirmed.sent, CAROL)
        })?;

        let second = ["send", "--group", "ops", "--as", "alice", "--wait", SECOND];
        self.step(&second, Success)?;
        let b2 = self.newest_from("alice", &second)?;
        self.check(&second, || {
            reached_every_phone(&b2)?;
            left_out(&b2, CAROL, 2)
        })?;
        let show_b2 = ["broadcast", "show", &b2.broadcast.id.to_string()].map(String::from);
        let show_b2: Vec<&str> = show_b2.iter().map(String::as_str).collect();
        self.step(&show_b2, Success)?;

        // What carol's phone shows: the first message and her confirmation, not the second.
        let phones = Phones::from_log(&self.log)
            .map_err(|e| fail(format!("cannot read the emulator log: {e}")))?;
        let carol = phones.phone(CAROL);
        opted_out_phone(&carol.texts())
            .map_err(|why| fail(format!("demo step `carol's phone`: {why}")))
    }

    /// Runs one command as a user types it (printed first) and checks it came to `expect`.
    fn step(&self, args: &[&str], expect: Expect) -> Result<(), Failure> {
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
        let mut argv = vec!["groupsms", "--socket", &self.sock];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(&argv).map_err(|e| fail(e.to_string()))?;
        // The CLI blocks on the socket; the daemon and modems run on the runtime's threads.
        let result = super::execute(cli);
        if let Err(failure) = &result {
            super::report(failure, false);
        }
        self.check(args, || check(expect, &result))?;
        println!();
        Ok(())
    }

    /// The failure naming the step `args` when `verdict` is not `Ok`.
    fn check<T>(
        &self,
        args: &[&str],
        verdict: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, Failure> {
        verdict().map_err(|why| fail(format!("demo step `groupsms {}` {why}", shown(args))))
    }

    fn client(&self, what: &str) -> Result<Client, Failure> {
        Client::connect(&self.socket)
            .map_err(|f| fail(format!("demo step `{what}`: {}", f.message)))
    }

    /// Broadcast `id` with every delivery.
    fn show(&self, id: i64) -> Result<p::BroadcastShow, String> {
        Client::connect(&self.socket)
            .and_then(|mut c| {
                c.call_all(|after| {
                    Request::BroadcastShow(p::BroadcastShowArgs {
                        after,
                        ..p::BroadcastShowArgs::first(id)
                    })
                })
            })
            .map_err(|f| f.message)
    }

    /// The newest broadcast sent as `sender`, in full; the step `args` fails without one.
    fn newest_from(&self, sender: &str, args: &[&str]) -> Result<p::BroadcastShow, Failure> {
        self.check(args, || {
            let list: p::BroadcastListResult = Client::connect(&self.socket)
                .and_then(|mut c| c.call_as(Request::BroadcastList(p::BroadcastList::default())))
                .map_err(|f| f.message)?;
            let newest = list
                .broadcasts
                .iter()
                .find(|b| b.sender == sender)
                .ok_or_else(|| format!("left no broadcast sent as {sender}"))?;
            Ok(newest.id)
        })
        .and_then(|id| self.show(id).map_err(fail))
    }
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
            check(Expect::Success, &refused(ErrorCode::TooManyParts)),
            Err("failed: no".into())
        );
    }

    /// A finished broadcast `id` whose `recipients` were all sent, as `broadcast_show` says it.
    fn finished_show(id: i64, recipients: u32) -> p::BroadcastShow {
        p::BroadcastShow {
            broadcast: p::BroadcastInfo {
                id,
                group: "ops".into(),
                sender: "alice".into(),
                caller: Some("root".into()),
                created_at: String::new(),
                recipients,
                parts: 1,
                encoding: "ucs2".into(),
                sent: recipients,
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
        }
    }

    #[test]
    fn the_demo_broadcast_must_reach_every_phone() {
        let mut show = finished_show(1, 4);
        show.broadcast.parts = 2;
        assert_eq!(reached_every_phone(&show), Ok(()));
        show.broadcast.sent = 3;
        show.broadcast.failed = 1;
        assert_eq!(
            reached_every_phone(&show),
            Err("broadcast 1 did not reach every phone: 3 of 4 sent, 1 failed, 0 uncertain".into())
        );
        show.broadcast.finished = false;
        show.broadcast.failed = 0;
        show.broadcast.waiting = 1;
        assert_eq!(
            reached_every_phone(&show),
            Err("broadcast 1 did not reach every phone: 3 of 4 sent, 0 failed, 0 uncertain, not finished".into())
        );
    }

    #[test]
    fn the_two_way_checks_say_what_did_not_happen() {
        let mut show = finished_show(3, 3);
        show.broadcast.delivered = 1;
        show.broadcast.undelivered = 1;
        show.dropped.opted_out = 2;
        assert_eq!(
            reported(&show),
            Err("did not see every delivery reported: 1 of 3 delivered, 1 undelivered, 1 without a report".into())
        );
        assert_eq!(left_out(&show, CAROL, 2), Ok(()));
        assert_eq!(
            left_out(&show, CAROL, 1),
            Err("did not leave +8613900000002 out: a delivery to her: false, opted out: 2 (should be 1)".into())
        );
        show.deliveries.push(p::DeliveryInfo {
            member: Some("carol".into()),
            number: CAROL.into(),
            state: "sent".into(),
            modem: None,
            attempts: 1,
            refs: vec![8],
            possible_duplicate: false,
            error: None,
        });
        assert!(left_out(&show, CAROL, 2).is_err());
        show.broadcast.recipients = 1;
        assert_eq!(confirmation(&show, 1, CAROL), Ok(()));
        assert!(confirmation(&show, 0, CAROL).is_err());
        show.broadcast.delivered = 1;
        assert_eq!(reported(&show), Ok(()));

        let confirmed = "您已退订【运维组】的短信，回复\"订阅\"可恢复";
        assert_eq!(opted_out_phone(&["【运维组】第一条", confirmed]), Ok(()));
        assert_eq!(
            opted_out_phone(&["【运维组】第一条"]),
            Err("her confirmation did not arrive, the second message did not".into())
        );
        let second = format!("【运维组】{SECOND}");
        assert_eq!(
            opted_out_phone(&[confirmed, &second]),
            Err("her confirmation arrived, the second message reached her too".into())
        );
    }
}
