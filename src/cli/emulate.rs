//! `groupsms emulate`: virtual GSM modems on pseudo-terminals until SIGINT/SIGTERM, then a
//! summary per modem and, with `--log`, what each destination phone shows.
//!
//! Every knob takes `VALUE` (all modems) or `I=VALUE` (modem I) and can be repeated; later
//! values win: `--latency 800ms --latency 2=3s --hang-after 1=10`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::Failure;
use crate::emulator::profile::ALL_PROFILES;
use crate::emulator::{
    parse_duration, parse_who_text_delay, AutoReply, EmulatedModem, Emulator, EmulatorConfig,
    Noise, Phones, Profile, ScriptedSms,
};

/// Exit status when the emulator cannot set up its devices (sysexits EX_OSERR).
const EXIT_OS: u8 = 71;

#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Number of modems.
    #[arg(long, default_value_t = 1)]
    modems: usize,
    /// Directory for the stable symlinks modem0 .. modem{N-1} (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// Append every accepted SMS part to this file as one JSON line.
    #[arg(long)]
    log: Option<PathBuf>,
    /// Seed of every random choice (printed when not given, to repeat a run).
    #[arg(long)]
    seed: Option<u64>,
    /// Modem family: generic, huawei, simcom, quectel, or mixed (cycles through them). [default: mixed]
    #[arg(long, value_name = "[I=]PROFILE")]
    profile: Vec<String>,
    /// Time from Ctrl-Z to the +CMGS answer, e.g. 800ms.
    #[arg(long, value_name = "[I=]DURATION")]
    latency: Vec<String>,
    /// Extra random send latency, uniform up to this.
    #[arg(long, value_name = "[I=]DURATION")]
    jitter: Vec<String>,
    /// Probability (0-1) that a send fails with one of --error-codes.
    #[arg(long, value_name = "[I=]P")]
    error_rate: Vec<String>,
    /// +CMS ERROR codes for random failures, comma-separated [default: 38,500].
    #[arg(long, value_name = "[I=]CODES")]
    error_codes: Vec<String>,
    /// Stop answering after K accepted parts.
    #[arg(long, value_name = "[I=]K")]
    hang_after: Vec<String>,
    /// Accept and log the K-th part, then never answer again.
    #[arg(long, value_name = "[I=]K")]
    die_after_ctrl_z: Vec<String>,
    /// Unplug (PTY and symlink go away) after K accepted parts.
    #[arg(long, value_name = "[I=]K")]
    unplug_after: Vec<String>,
    /// The modem's UART speed: a host port set to another speed gets no answer.
    #[arg(long, value_name = "[I=]BAUD")]
    baud: Vec<String>,
    /// Unplug after every K accepted parts (a loose plug; use with --replug-after).
    #[arg(long, value_name = "[I=]K")]
    unplug_every: Vec<String>,
    /// Replug an unplugged modem after this long, at the same path.
    #[arg(long, value_name = "[I=]DURATION")]
    replug_after: Vec<String>,
    /// Lose network registration after K accepted parts.
    #[arg(long, value_name = "[I=]K")]
    reg_loss_after: Vec<String>,
    /// How long a lost registration stays lost.
    #[arg(long, value_name = "[I=]DURATION")]
    reg_loss_for: Vec<String>,
    /// Unsolicited ^RSSI/^MODE/^BOOT about this often; `off`; or `profile` (Huawei: ~10 s).
    #[arg(long, value_name = "[I=]DURATION|off|profile")]
    noise_every: Vec<String>,
    /// Probability (0-1) of a noise line between a command and its answer.
    #[arg(long, value_name = "[I=]P")]
    noise_in_answers: Vec<String>,
    /// The SIM asks for this PIN (wrong PIN 3 times: PUK 12345678).
    #[arg(long, value_name = "[I=]PIN")]
    pin: Vec<String>,
    /// Per-SIM cap: after N accepted parts every send fails like a carrier block.
    #[arg(long, value_name = "[I=]N")]
    cap: Vec<String>,
    /// The +CMS ERROR of a send past the cap [default: 38].
    #[arg(long, value_name = "[I=]CODE")]
    cap_error: Vec<String>,
    /// Reboot (RDY, settings reset) after K accepted parts.
    #[arg(long, value_name = "[I=]K")]
    reboot_after: Vec<String>,
    /// How long a reboot keeps the modem silent [default: 200ms].
    #[arg(long, value_name = "[I=]DURATION")]
    boot_time: Vec<String>,
    /// Signal quality for +CSQ and ^RSSI (0-31) [default: 20].
    #[arg(long, value_name = "[I=]RSSI")]
    rssi: Vec<String>,
    /// `absent`: no SIM in the slot (`AT+CPIN?` answers `+CME ERROR: 10`); `inserted` [default].
    #[arg(long, value_name = "[I=]inserted|absent")]
    sim: Vec<String>,
    /// The SMSC address stored on the SIM (`AT+CSCA?`), or `empty` for a SIM without one
    /// [default: +8613800100500].
    #[arg(long, value_name = "[I=]NUMBER|empty")]
    smsc: Vec<String>,
    /// `yes`: the SIM registers on LTE only: `+CEREG` registered, `+CREG`/`+CGREG` not
    /// (generic and quectel only) [default: no].
    #[arg(long, value_name = "[I=]yes|no")]
    lte_only: Vec<String>,
    /// Send a status report (+CDS or +CDSI, as the host's AT+CNMI asks) for every part that
    /// requested one, about this long after it (0.5x to 1.5x each, so they come out of order)
    /// [default: none].
    #[arg(long, value_name = "[I=]DURATION")]
    report_delay: Vec<String>,
    /// Probability (0-1) that such a report says the network gave up [default: 0].
    #[arg(long, value_name = "[I=]P")]
    report_failure_rate: Vec<String>,
    /// The TP-ST of a failed report, decimal or 0x.. (0x41 incompatible destination, 0x45 no
    /// interworking, 0x46 validity period expired) [default: 0x45].
    #[arg(long, value_name = "[I=]STATUS")]
    report_failure_status: Vec<String>,
    /// Refuse AT+CNMI with ds=1 although AT+CNMI=? lists it (true/false), so reports are
    /// stored and announced with +CDSI [default: false].
    #[arg(long, value_name = "[I=]BOOL")]
    refuse_routed_reports: Vec<String>,
    /// Slots of the SIM memory (SM) [default: 30 generic, 50 the others]. A full receive memory
    /// stores nothing more: the network holds new messages until a deletion makes room.
    #[arg(long, value_name = "[I=]N")]
    sim_slots: Vec<String>,
    /// With the receive memory full, refuse AT+CMGS with +CMS ERROR: 322 (memory full), as
    /// modems do that block sending until the memory is read (true/false) [default: false].
    #[arg(long, value_name = "[I=]BOOL")]
    full_memory_blocks_sends: Vec<String>,
    /// Order in which the parts of a long incoming message arrive: in-order, reverse or
    /// shuffled [default: in-order].
    #[arg(long, value_name = "[I=]ORDER")]
    inbound_order: Vec<String>,
    /// Offer only routed incoming messages (AT+CNMI=? lists mt 0 and 2; mt=1 is refused), so
    /// they come as +CMT, never stored (true/false) [default: false].
    #[arg(long, value_name = "[I=]BOOL")]
    routed_messages_only: Vec<String>,
    /// A phone that replies: a message sent to a number matching NUMBER_OR_PATTERN (a number,
    /// or a glob with *, e.g. '+86138*' or '*') is answered with TEXT after DELAY [default:
    /// 1s] by that number, through the modem that sent it (stored, then +CMTI; a long reply
    /// comes as concatenated parts, in the --inbound-order). Repeatable; the first match wins.
    #[arg(long, value_name = "NUMBER_OR_PATTERN=TEXT[@DELAY]")]
    reply: Vec<String>,
    /// A message the network delivers to modem 0 by itself, DELAY [default: 0] after the start:
    /// from a number or a short code such as 10086 (a carrier notice). Repeatable.
    #[arg(long, value_name = "FROM=TEXT[@DELAY]")]
    inbound: Vec<String>,
}

type Setter = fn(&mut EmulatedModem, &str) -> Result<(), String>;

fn num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{v:?} is not a valid number"))
}

fn prob(v: &str) -> Result<f64, String> {
    let p: f64 = num(v)?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{v:?} is not between 0 and 1"))
    }
}

/// Applies `VALUE` or `I=VALUE` entries of one option to the modems.
fn apply(
    cfg: &mut EmulatorConfig,
    option: &str,
    values: &[String],
    set: Setter,
) -> Result<(), Failure> {
    let count = cfg.modems.len();
    for raw in values {
        let bad = |why: String| Failure::bad_input(format!("--{option} {raw}: {why}"));
        let (target, value) = match raw.split_once('=') {
            Some((i, v)) if !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) => {
                let i: usize = i.parse().map_err(|_| bad("bad modem index".into()))?;
                if i >= count {
                    return Err(bad(format!(
                        "there is no modem {i} (modems are 0..{})",
                        count - 1
                    )));
                }
                (Some(i), v)
            }
            _ => (None, raw.as_str()),
        };
        for (i, m) in cfg.modems.iter_mut().enumerate() {
            if target.is_none() || target == Some(i) {
                set(m, value).map_err(bad)?;
            }
        }
    }
    Ok(())
}

/// Turns the arguments into a configuration (no I/O).
pub fn config(args: &EmulateArgs, seed: u64) -> Result<EmulatorConfig, Failure> {
    if args.modems == 0 || args.modems > 256 {
        return Err(Failure::bad_input(format!(
            "--modems {}: give 1 to 256",
            args.modems
        )));
    }
    let mut cfg = EmulatorConfig::new(&args.dir, args.modems).seed(seed);
    cfg.log = args.log.clone();
    for (i, m) in cfg.modems.iter_mut().enumerate() {
        m.profile = ALL_PROFILES[i % ALL_PROFILES.len()];
    }
    let table: [(&str, &[String], Setter); 32] = [
        ("profile", &args.profile, |m, v| {
            if v.eq_ignore_ascii_case("mixed") {
                return Ok(());
            }
            m.profile = v.parse::<Profile>()?;
            Ok(())
        }),
        ("latency", &args.latency, |m, v| {
            m.knobs.send_latency = parse_duration(v)?;
            Ok(())
        }),
        ("jitter", &args.jitter, |m, v| {
            m.knobs.send_jitter = parse_duration(v)?;
            Ok(())
        }),
        ("report-delay", &args.report_delay, |m, v| {
            m.knobs.report_delay = Some(parse_duration(v)?);
            Ok(())
        }),
        (
            "refuse-routed-reports",
            &args.refuse_routed_reports,
            |m, v| {
                m.knobs.refuse_routed_reports = match v {
                    "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    _ => return Err(format!("{v:?} is not true/false")),
                };
                Ok(())
            },
        ),
        ("report-failure-rate", &args.report_failure_rate, |m, v| {
            m.knobs.report_failure_rate = prob(v)?;
            Ok(())
        }),
        (
            "report-failure-status",
            &args.report_failure_status,
            |m, v| {
                let st = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
                    Some(hex) => {
                        u8::from_str_radix(hex, 16).map_err(|_| format!("{v:?} is not a TP-ST"))?
                    }
                    None => num::<u8>(v)?,
                };
                if crate::sms::decode::status_class(st)
                    == crate::sms::decode::StatusClass::Completed
                {
                    return Err(format!("{v} is a success, not a failure"));
                }
                m.knobs.report_failure_status = st;
                Ok(())
            },
        ),
        ("error-rate", &args.error_rate, |m, v| {
            m.knobs.error_rate = prob(v)?;
            Ok(())
        }),
        ("error-codes", &args.error_codes, |m, v| {
            m.knobs.error_codes = v.split(',').map(num::<u16>).collect::<Result<_, _>>()?;
            if m.knobs.error_codes.is_empty() {
                return Err("give at least one code".into());
            }
            Ok(())
        }),
        ("hang-after", &args.hang_after, |m, v| {
            m.knobs.hang_after_sends = Some(num(v)?);
            Ok(())
        }),
        ("die-after-ctrl-z", &args.die_after_ctrl_z, |m, v| {
            m.knobs.die_after_ctrl_z = Some(num(v)?);
            Ok(())
        }),
        ("unplug-after", &args.unplug_after, |m, v| {
            m.knobs.unplug_after_sends = Some(num(v)?);
            Ok(())
        }),
        ("baud", &args.baud, |m, v| {
            m.knobs.baud = Some(num(v)?);
            Ok(())
        }),
        ("unplug-every", &args.unplug_every, |m, v| {
            m.knobs.unplug_after_sends = Some(num(v)?);
            m.knobs.unplug_repeat = true;
            Ok(())
        }),
        ("replug-after", &args.replug_after, |m, v| {
            m.knobs.replug_after = Some(parse_duration(v)?);
            Ok(())
        }),
        ("reg-loss-after", &args.reg_loss_after, |m, v| {
            m.knobs.reg_loss_after_sends = Some(num(v)?);
            Ok(())
        }),
        ("reg-loss-for", &args.reg_loss_for, |m, v| {
            m.knobs.reg_loss_for = Some(parse_duration(v)?);
            Ok(())
        }),
        ("noise-every", &args.noise_every, |m, v| {
            m.knobs.noise = match v {
                "off" => Noise::Off,
                "profile" => Noise::ProfileDefault,
                d => Noise::Every(parse_duration(d)?),
            };
            Ok(())
        }),
        ("noise-in-answers", &args.noise_in_answers, |m, v| {
            m.knobs.noise_in_answers = prob(v)?;
            Ok(())
        }),
        ("pin", &args.pin, |m, v| {
            m.knobs.pin = Some(v.to_string());
            Ok(())
        }),
        ("cap", &args.cap, |m, v| {
            m.knobs.cap = Some(num(v)?);
            Ok(())
        }),
        ("cap-error", &args.cap_error, |m, v| {
            m.knobs.cap_error = num(v)?;
            Ok(())
        }),
        ("reboot-after", &args.reboot_after, |m, v| {
            m.knobs.reboot_after_sends = Some(num(v)?);
            Ok(())
        }),
        ("boot-time", &args.boot_time, |m, v| {
            m.knobs.boot_time = parse_duration(v)?;
            Ok(())
        }),
        ("rssi", &args.rssi, |m, v| {
            m.knobs.rssi = num(v)?;
            Ok(())
        }),
        ("sim", &args.sim, |m, v| {
            m.knobs.sim_absent = match v {
                "absent" => true,
                "inserted" => false,
                _ => return Err("give inserted or absent".into()),
            };
            Ok(())
        }),
        ("smsc", &args.smsc, |m, v| {
            m.knobs.smsc = if v == "empty" {
                String::new()
            } else {
                crate::sms::Address::parse(v)
                    .map_err(|e| format!("not a phone number: {e}"))?
                    .to_string()
            };
            Ok(())
        }),
        ("lte-only", &args.lte_only, |m, v| {
            m.knobs.lte_only = match v {
                "yes" => true,
                "no" => false,
                _ => return Err("give yes or no".into()),
            };
            if m.knobs.lte_only && !m.profile.has_lte() {
                return Err(format!(
                    "the {} profile has no LTE (use generic or quectel)",
                    m.profile
                ));
            }
            Ok(())
        }),
        ("sim-slots", &args.sim_slots, |m, v| {
            let n: usize = num(v)?;
            if !(1..=255).contains(&n) {
                return Err("give 1 to 255 slots".into());
            }
            m.knobs.sim_slots = Some(n);
            Ok(())
        }),
        (
            "full-memory-blocks-sends",
            &args.full_memory_blocks_sends,
            |m, v| {
                m.knobs.full_memory_blocks_sends = match v {
                    "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    _ => return Err(format!("{v:?} is not true/false")),
                };
                Ok(())
            },
        ),
        (
            "routed-messages-only",
            &args.routed_messages_only,
            |m, v| {
                m.knobs.routed_messages_only = match v {
                    "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    _ => return Err(format!("{v:?} is not true/false")),
                };
                Ok(())
            },
        ),
        ("inbound-order", &args.inbound_order, |m, v| {
            m.knobs.inbound_order = v.parse()?;
            Ok(())
        }),
    ];
    for (option, values, set) in table {
        apply(&mut cfg, option, values, set)?;
    }
    let bad = |option: &str, e: String| Failure::bad_input(format!("--{option}: {e}"));
    for spec in &args.reply {
        let (pattern, text, delay) = parse_who_text_delay(spec, std::time::Duration::from_secs(1))
            .map_err(|e| bad("reply", e))?;
        for m in &mut cfg.modems {
            m.knobs.replies.push(AutoReply {
                pattern: pattern.clone(),
                text: text.clone(),
                delay,
            });
        }
    }
    for spec in &args.inbound {
        let (from, text, after) =
            parse_who_text_delay(spec, std::time::Duration::ZERO).map_err(|e| bad("inbound", e))?;
        crate::sms::Address::parse(&from).map_err(|e| {
            bad(
                "inbound",
                format!("{from:?} is not a number or short code: {e}"),
            )
        })?;
        if let Some(m) = cfg.modems.first_mut() {
            m.knobs.scripted.push(ScriptedSms { from, text, after });
        }
    }
    Ok(cfg)
}

pub fn run(args: Box<EmulateArgs>) -> Result<(), Failure> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 % 1_000_000)
            .unwrap_or(1)
    });
    let cfg = config(&args, seed)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| os_failure(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(serve(cfg, seed))
}

fn os_failure(message: String) -> Failure {
    Failure {
        daemon_error: None,
        message,
        code: EXIT_OS,
        kind: "os_error",
    }
}

async fn serve(cfg: EmulatorConfig, seed: u64) -> Result<(), Failure> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigint =
        signal(SignalKind::interrupt()).map_err(|e| os_failure(format!("SIGINT: {e}")))?;
    let mut sigterm =
        signal(SignalKind::terminate()).map_err(|e| os_failure(format!("SIGTERM: {e}")))?;
    let log = cfg.log.clone();
    let handle = Emulator::start(cfg).map_err(|e| os_failure(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "groupsms emulate: {} modem(s), seed {seed} (repeat with --seed {seed})",
        handle.len()
    );
    for m in handle.summary().modems {
        let _ = writeln!(
            out,
            "  {} -> {} ({}, own number {}, IMEI {})",
            m.path.display(),
            m.device
                .as_deref()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            m.profile,
            m.own_number,
            m.imei
        );
    }
    if let Some(log) = &log {
        let _ = writeln!(out, "  log: {}", log.display());
    }
    let _ = writeln!(out, "ready; SIGINT (Ctrl-C) or SIGTERM stops");
    let _ = out.flush();
    drop(out);
    tokio::select! {
        _ = sigint.recv() => {}
        _ = sigterm.recv() => {}
    }
    let summary = handle.shutdown().await;
    println!("\n{summary}");
    if let Some(log) = &log {
        match Phones::from_log(log) {
            Ok(phones) if phones.numbers.is_empty() => println!("\nno message was sent"),
            Ok(phones) => print!("\nwhat each phone shows:\n{}", phones.render()),
            Err(crate::emulator::log::LogError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                println!("\nno message was sent")
            }
            Err(e) => return Err(os_failure(e.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        a: EmulateArgs,
    }

    fn parse(args: &[&str]) -> Result<EmulatorConfig, String> {
        let mut all = vec!["x", "--dir", "/tmp/emu"];
        all.extend_from_slice(args);
        let t = T::try_parse_from(all).map_err(|e| e.to_string())?;
        config(&t.a, 5).map_err(|f| f.message)
    }

    #[test]
    fn per_modem_and_all_modem_values() {
        let c = parse(&[
            "--modems",
            "3",
            "--latency",
            "800ms",
            "--latency",
            "2=3s",
            "--hang-after",
            "1=10",
            "--profile",
            "quectel",
            "--profile",
            "0=huawei",
            "--error-codes",
            "1=21,42",
            "--noise-every",
            "off",
            "--noise-every",
            "2=50ms",
        ])
        .unwrap();
        assert_eq!(c.seed, 5);
        let ms = std::time::Duration::from_millis;
        assert_eq!(c.modems[0].knobs.send_latency, ms(800));
        assert_eq!(c.modems[2].knobs.send_latency, ms(3000));
        assert_eq!(c.modems[1].knobs.hang_after_sends, Some(10));
        assert_eq!(c.modems[0].knobs.hang_after_sends, None);
        assert_eq!(c.modems[0].profile, Profile::Huawei);
        assert_eq!(c.modems[1].profile, Profile::Quectel);
        assert_eq!(c.modems[1].knobs.error_codes, vec![21, 42]);
        assert_eq!(c.modems[0].knobs.error_codes, vec![38, 500]);
        assert_eq!(c.modems[0].knobs.noise, Noise::Off);
        assert_eq!(c.modems[2].knobs.noise, Noise::Every(ms(50)));
    }

    #[test]
    fn default_profiles_cycle() {
        let c = parse(&["--modems", "5"]).unwrap();
        let p: Vec<Profile> = c.modems.iter().map(|m| m.profile).collect();
        assert_eq!(
            p,
            [
                Profile::Huawei,
                Profile::Simcom,
                Profile::Quectel,
                Profile::Generic,
                Profile::Huawei
            ]
        );
    }

    #[test]
    fn clear_errors() {
        let e = parse(&["--modems", "2", "--latency", "5=1s"]).unwrap_err();
        assert_eq!(e, "--latency 5=1s: there is no modem 5 (modems are 0..1)");
        let e = parse(&["--latency", "fast"]).unwrap_err();
        assert!(e.starts_with("--latency fast: "), "{e}");
        let e = parse(&["--error-rate", "1.5"]).unwrap_err();
        assert_eq!(e, "--error-rate 1.5: \"1.5\" is not between 0 and 1");
        let e = parse(&["--profile", "nokia"]).unwrap_err();
        assert!(e.contains("unknown modem profile"), "{e}");
        let e = parse(&["--modems", "0"]).unwrap_err();
        assert_eq!(e, "--modems 0: give 1 to 256");
        let e = parse(&["--cap", "many"]).unwrap_err();
        assert_eq!(e, "--cap many: \"many\" is not a valid number");
        let e = parse(&["--report-failure-status", "0x00"]).unwrap_err();
        assert_eq!(
            e,
            "--report-failure-status 0x00: 0x00 is a success, not a failure"
        );
    }

    #[test]
    fn report_knobs() {
        let c = parse(&[
            "--modems",
            "2",
            "--report-delay",
            "2s",
            "--report-failure-rate",
            "1=0.5",
            "--report-failure-status",
            "0x41",
        ])
        .unwrap();
        let k = &c.modems[1].knobs;
        assert_eq!(k.report_delay, Some(std::time::Duration::from_secs(2)));
        assert_eq!(
            (k.report_failure_rate, k.report_failure_status),
            (0.5, 0x41)
        );
        assert_eq!(c.modems[0].knobs.report_failure_rate, 0.0);
        let c = parse(&["--report-failure-status", "70"]).unwrap();
        assert_eq!(c.modems[0].knobs.report_failure_status, 0x46);
        assert_eq!(parse(&[]).unwrap().modems[0].knobs.report_delay, None);
        let c = parse(&["--refuse-routed-reports", "true"]).unwrap();
        assert!(c.modems[0].knobs.refuse_routed_reports);
    }

    #[test]
    fn inbound_knobs() {
        let c = parse(&[
            "--modems",
            "2",
            "--sim-slots",
            "1=5",
            "--inbound-order",
            "reverse",
            "--full-memory-blocks-sends",
            "0=true",
            "--reply",
            "+86138*=收到，谢谢@2s",
            "--inbound",
            "10086=您的话费余额不足",
        ])
        .unwrap();
        assert_eq!(c.modems[1].knobs.sim_slots, Some(5));
        assert_eq!(c.modems[0].knobs.sim_slots, None);
        assert!(c.modems[0].knobs.full_memory_blocks_sends);
        assert!(!c.modems[1].knobs.full_memory_blocks_sends);
        assert_eq!(
            c.modems[1].knobs.inbound_order,
            crate::emulator::PartOrder::Reverse
        );
        for m in &c.modems {
            assert_eq!(m.knobs.replies.len(), 1);
            assert_eq!(m.knobs.replies[0].text, "收到，谢谢");
            assert_eq!(m.knobs.replies[0].delay, std::time::Duration::from_secs(2));
        }
        assert_eq!(c.modems[0].knobs.scripted[0].from, "10086");
        assert!(c.modems[1].knobs.scripted.is_empty());
        assert!(parse(&["--inbound", "not a number=x"]).is_err());
        assert!(parse(&["--inbound-order", "sideways"]).is_err());
        assert!(parse(&["--sim-slots", "0"]).is_err());
    }

    #[test]
    fn sim_smsc_and_lte_only() {
        let c = parse(&[
            "--modems",
            "4",
            "--sim",
            "1=absent",
            "--smsc",
            "2=empty",
            "--smsc",
            "3=+8613010112500",
            "--lte-only",
            "2=yes",
        ])
        .unwrap();
        assert!(c.modems[1].knobs.sim_absent && !c.modems[0].knobs.sim_absent);
        assert_eq!(c.modems[2].knobs.smsc, "");
        assert_eq!(c.modems[3].knobs.smsc, "+8613010112500");
        assert_eq!(c.modems[0].knobs.smsc, "+8613800100500");
        assert!(c.modems[2].knobs.lte_only && !c.modems[3].knobs.lte_only);
        // Modem 0 is a Huawei E1752 (3G): no LTE to register on.
        let e = parse(&["--lte-only", "0=yes"]).unwrap_err();
        assert_eq!(
            e,
            "--lte-only 0=yes: the huawei profile has no LTE (use generic or quectel)"
        );
        let e = parse(&["--sim", "gone"]).unwrap_err();
        assert_eq!(e, "--sim gone: give inserted or absent");
        let e = parse(&["--smsc", "centre"]).unwrap_err();
        assert!(e.starts_with("--smsc centre: not a phone number"), "{e}");
    }
}
