//! `groupsms modem probe DEVICE`: open a modem directly (no daemon), run init, print who it
//! is; with `--record FILE`, write the whole session as a replayable transcript
//! (`fixtures/README.md`) so users with hardware can contribute fixtures.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

use super::Failure;
use crate::modem::transcript::{self, Event};
use crate::modem::{port, Engine, Identity, ModemConfig, ModemError};

/// Exit status when the modem cannot be opened or does not become ready (sysexits EX_UNAVAILABLE).
pub const EXIT_MODEM_UNAVAILABLE: u8 = 69;
/// Exit status when the recording cannot be written (sysexits EX_CANTCREAT).
pub const EXIT_CANT_WRITE: u8 = 73;

#[derive(Debug, Subcommand)]
pub enum ModemCommand {
    /// The daemon's modems: state, operator, signal, IMSI, sent this hour/today, quarantine.
    List,
    /// Open a modem, run the init sequence, print identity, operator and signal.
    Probe(ProbeArgs),
    /// Lift the quarantine of a SIM kept from sending for signs of a carrier block, before
    /// its time is up (administrators only).
    Release {
        /// The modem's device path or its SIM's IMSI, as `modem list` shows them.
        modem: String,
    },
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Serial device of the modem's AT port (/dev/ttyUSB2, /dev/serial/by-id/...).
    device: String,
    /// Baud rate.
    #[arg(long, default_value_t = crate::modem::port::DEFAULT_BAUD)]
    baud: u32,
    /// SIM PIN, entered once if the SIM asks (never retried).
    #[arg(long)]
    pin: Option<String>,
    /// Write the session as a transcript (fixture format) to FILE.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
}

pub fn run(ctx: &super::Context, cmd: ModemCommand) -> Result<(), Failure> {
    let args = match cmd {
        ModemCommand::List => return super::admin::modem_list(ctx),
        ModemCommand::Release { modem } => return super::admin::modem_release(ctx, modem),
        ModemCommand::Probe(args) => args,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            failure(
                EXIT_MODEM_UNAVAILABLE,
                format!("cannot start the runtime: {e}"),
            )
        })?;
    runtime.block_on(probe(args, ctx.json))
}

fn failure(code: u8, message: String) -> Failure {
    Failure {
        daemon_error: None,
        message,
        code,
        kind: if code == EXIT_CANT_WRITE {
            "cannot_write"
        } else {
            "modem_unavailable"
        },
    }
}

async fn probe(args: ProbeArgs, json_out: bool) -> Result<(), Failure> {
    if let Some(pin) = &args.pin {
        if crate::at::command::cpin_enter(pin).is_err() {
            return Err(Failure::bad_input("--pin: a SIM PIN is 4 to 8 digits"));
        }
    }
    let port = port::open(&args.device, args.baud)
        .map_err(|e| failure(EXIT_MODEM_UNAVAILABLE, e.to_string()))?;
    let config = ModemConfig {
        pin: args.pin.clone(),
        ..ModemConfig::default()
    };
    let mut engine = Engine::new(port, config);
    if args.record.is_some() {
        engine.start_recording();
    }
    let result = engine.init().await;
    if let Some(path) = &args.record {
        let events = engine
            .take_recording()
            .map(|r| r.events(Duration::from_millis(100)))
            .unwrap_or_default();
        let text = render_recording(&args, &events, &result);
        std::fs::write(path, text).map_err(|e| {
            failure(
                EXIT_CANT_WRITE,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    }
    let identity = result.map_err(|e| {
        failure(
            EXIT_MODEM_UNAVAILABLE,
            format!("{}: init failed: {e}", args.device),
        )
    })?;
    if json_out {
        let mut value = serde_json::to_value(&identity).unwrap_or_default();
        value["device"] = json!(args.device);
        value["signal_dbm"] = json!(identity.signal.and_then(|s| s.dbm()));
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        print!("{}", describe(&args.device, &identity));
    }
    Ok(())
}

fn describe(device: &str, id: &Identity) -> String {
    let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unknown)".into());
    let signal = match id.signal {
        Some(s) => match (s.rssi, s.dbm()) {
            (Some(r), Some(dbm)) => format!("{r} ({dbm} dBm)"),
            _ => "not detectable".into(),
        },
        None => "(unknown)".into(),
    };
    format!(
        "device:       {device}\nmanufacturer: {}\nmodel:        {}\nrevision:     {}\nIMEI:         {}\nIMSI:         {}\noperator:     {}\nown number:   {}\nSMSC:         {}\nsignal:       {signal}\n",
        or_unknown(&id.manufacturer),
        or_unknown(&id.model),
        or_unknown(&id.revision),
        or_unknown(&id.imei),
        or_unknown(&id.imsi),
        or_unknown(&id.operator),
        or_unknown(&id.own_number),
        or_unknown(&id.smsc),
    )
}

/// The PIN never goes into a transcript: `AT+CPIN="<pin>"` becomes `AT+CPIN="0000"`.
const PIN_STAND_IN: &str = "0000";

fn render_recording(
    args: &ProbeArgs,
    events: &[Event],
    result: &Result<Identity, ModemError>,
) -> String {
    let mut events = events.to_vec();
    if let Some(pin) = &args.pin {
        let real = format!("AT+CPIN=\"{pin}\"");
        let stand_in = format!("AT+CPIN=\"{PIN_STAND_IN}\"");
        for e in &mut events {
            if let Event::Host { bytes, .. } = e {
                if let Some(i) = find(bytes, real.as_bytes()) {
                    bytes.splice(i..i + real.len(), stand_in.bytes());
                }
            }
        }
    }
    let modem = match result {
        Ok(id) => format!(
            "{} {}",
            id.manufacturer.as_deref().unwrap_or("?"),
            id.model.as_deref().unwrap_or("?")
        ),
        Err(_) => "unknown (init failed)".into(),
    };
    let mut s = String::new();
    s.push_str(&format!("# modem: {modem}\n"));
    s.push_str(&format!(
        "# source: recorded by `groupsms modem probe` from {} at {} baud on {}\n",
        args.device,
        args.baud,
        chrono::Utc::now().format("%Y-%m-%d")
    ));
    s.push_str("# covers: init\n");
    s.push_str("# notes: before sharing, replace the IMEI, IMSI, own number and SMSC with made-up values (in the < lines and the => line)");
    if args.pin.is_some() {
        s.push_str(&format!("; the PIN was replaced by {PIN_STAND_IN}"));
    }
    s.push('\n');
    if args.pin.is_some() {
        s.push_str(&format!("% pin {PIN_STAND_IN}\n"));
    }
    s.push_str("\n== init\n");
    s.push_str(&transcript::render_events(&events));
    match result {
        Ok(id) => s.push_str(&format!(
            "=> {}\n",
            serde_json::to_string(id).unwrap_or_default()
        )),
        Err(e) => s.push_str(&format!("=> error: {e}\n")),
    }
    s
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at::parse::Signal;

    #[test]
    fn text_output_is_pinned() {
        let id = Identity {
            manufacturer: Some("Quectel".into()),
            model: Some("EC25".into()),
            imei: Some("866758040123456".into()),
            signal: Some(Signal {
                rssi: Some(26),
                ber: None,
            }),
            ..Identity::default()
        };
        assert_eq!(
            describe("/dev/ttyUSB2", &id),
            "device:       /dev/ttyUSB2\nmanufacturer: Quectel\nmodel:        EC25\nrevision:     (unknown)\nIMEI:         866758040123456\nIMSI:         (unknown)\noperator:     (unknown)\nown number:   (unknown)\nSMSC:         (unknown)\nsignal:       26 (-61 dBm)\n"
        );
    }
}
