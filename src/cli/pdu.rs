//! `groupsms pdu encode|decode|count`: the codec from the command line.

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{arg_or_stdin, Failure};
use crate::sms::{self, Address, MessageClass, SubmitOptions, Tpdu, Validity};

#[derive(Debug, Subcommand)]
pub enum PduCommand {
    /// Encode TEXT as SMS-SUBMIT PDUs: one line per part, `<AT+CMGS length> <hex>`.
    Encode(EncodeArgs),
    /// Decode a PDU (SMS-DELIVER, SMS-SUBMIT or SMS-STATUS-REPORT) given in hex.
    Decode(DecodeArgs),
    /// Show the encoding, the number of parts and the room left in the last part (the
    /// configured `[message] footer` included, as every broadcast carries it).
    Count(CountArgs),
}

#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// Destination number (+8613800138000, 13800138000, 10086).
    #[arg(long)]
    to: String,
    /// SMSC number; without it the PDU leaves the SMSC to the SIM (`00`).
    #[arg(long)]
    smsc: Option<String>,
    /// Request a status report.
    #[arg(long)]
    srr: bool,
    /// Concatenation reference (0-255) written in every part.
    #[arg(long = "ref", default_value_t = 0)]
    reference: u8,
    /// TP-MR message reference.
    #[arg(long, default_value_t = 0)]
    mr: u8,
    /// Relative validity period in minutes.
    #[arg(long)]
    validity_minutes: Option<u32>,
    /// Message class 0-3 (0 = flash).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=3))]
    class: Option<u8>,
    /// Refuse texts needing more parts than this.
    #[arg(long, default_value_t = 10)]
    max_parts: usize,
    /// The message text, or - to read it from standard input.
    text: String,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The hex is a bare TPDU, without the SMSC length octet.
    #[arg(long)]
    no_smsc: bool,
    /// Accept user data shorter than its announced length (flagged as truncated).
    #[arg(long)]
    lenient: bool,
    /// The PDU in hex, or - to read it from standard input.
    hex: String,
}

#[derive(Debug, Args)]
pub struct CountArgs {
    /// Count the text alone, without the configured footer.
    #[arg(long)]
    no_footer: bool,
    /// The message text, or - to read it from standard input.
    text: String,
}

/// Runs a `pdu` subcommand; `json` is the global `--json`, `footer` the configured
/// `[message] footer`.
pub fn run(cmd: PduCommand, json: bool, footer: &str) -> Result<(), Failure> {
    match cmd {
        PduCommand::Encode(args) => encode(args, json),
        PduCommand::Decode(args) => decode(args, json),
        PduCommand::Count(args) => count(args, json, footer),
    }
}

fn bad(e: impl std::fmt::Display) -> Failure {
    Failure::bad_input(e.to_string())
}

fn encode(args: EncodeArgs, json: bool) -> Result<(), Failure> {
    let text = arg_or_stdin(&args.text)?;
    let mut opts = SubmitOptions::to(Address::parse(&args.to).map_err(bad)?);
    opts.smsc = args
        .smsc
        .as_deref()
        .map(Address::parse)
        .transpose()
        .map_err(bad)?;
    opts.status_report = args.srr;
    opts.concat_ref = args.reference;
    opts.message_ref = args.mr;
    opts.validity = args.validity_minutes.map(Validity::from_minutes);
    opts.class = args.class.and_then(MessageClass::from_number);
    opts.max_parts = args.max_parts;
    let pdus = sms::encode_submit(&text, &opts).map_err(bad)?;
    if json {
        let list: Vec<Value> = pdus
            .iter()
            .map(|p| json!({"length": p.tpdu_len, "pdu": p.hex()}))
            .collect();
        println!("{}", Value::Array(list));
    } else {
        for p in &pdus {
            println!("{} {}", p.tpdu_len, p.hex());
        }
    }
    Ok(())
}

fn count(args: CountArgs, json: bool, footer: &str) -> Result<(), Failure> {
    let footer = if args.no_footer { "" } else { footer };
    let text = crate::service::compose::with_footer(&arg_or_stdin(&args.text)?, footer);
    let info = sms::analyze(&text);
    if json {
        println!(
            "{}",
            json!({"encoding": info.encoding.name(), "parts": info.parts, "units": info.units,
                   "per_part": info.per_part, "remaining": info.remaining, "footer": footer})
        );
    } else {
        if !footer.is_empty() {
            println!("footer:    {} (included)", super::output::escape(footer));
        }
        let unit = if info.encoding == sms::Encoding::Ucs2 {
            "UTF-16 units"
        } else {
            "septets"
        };
        println!("encoding:  {}", info.encoding.name());
        println!("parts:     {}", info.parts);
        println!("length:    {} {unit}", info.units);
        println!(
            "remaining: {} {unit} free in the last part ({} per part)",
            info.remaining, info.per_part
        );
    }
    Ok(())
}

fn decode(args: DecodeArgs, json: bool) -> Result<(), Failure> {
    let hex = arg_or_stdin(&args.hex)?;
    let bytes = sms::hex::decode(hex.trim()).map_err(bad)?;
    let pdu = if args.lenient {
        sms::decode_lenient(&bytes, !args.no_smsc)
    } else {
        sms::decode(&bytes, !args.no_smsc)
    }
    .map_err(bad)?;
    let value = pdu_json(&pdu);
    if json {
        println!("{value}");
    } else {
        print_fields(&value, "");
    }
    Ok(())
}

/// The JSON shape of a decoded PDU (also what `--json` prints).
pub fn pdu_json(pdu: &sms::Pdu) -> Value {
    let mut v = json!({
        "type": pdu.tpdu.kind(),
        "smsc": pdu.smsc.as_ref().map(|a| a.to_string()),
        "number": pdu.tpdu.number().to_string(),
        "number_type": pdu.tpdu.number().ton.name(),
    });
    let obj = v.as_object_mut().expect("object literal");
    match &pdu.tpdu {
        Tpdu::Deliver(d) => {
            obj.insert("timestamp".into(), json!(d.scts.to_string()));
            obj.insert("pid".into(), json!(d.pid));
            obj.insert("dcs".into(), json!(d.dcs.raw));
            obj.insert("class".into(), json!(d.dcs.class.map(|c| c.number())));
        }
        Tpdu::Submit(s) => {
            obj.insert("message_ref".into(), json!(s.message_ref));
            obj.insert(
                "status_report_request".into(),
                json!(s.status_report_request),
            );
            obj.insert("pid".into(), json!(s.pid));
            obj.insert("dcs".into(), json!(s.dcs.raw));
            obj.insert("class".into(), json!(s.dcs.class.map(|c| c.number())));
            obj.insert(
                "validity_minutes".into(),
                json!(s.validity.and_then(Validity::minutes)),
            );
        }
        Tpdu::StatusReport(r) => {
            obj.insert("message_ref".into(), json!(r.message_ref));
            obj.insert("timestamp".into(), json!(r.scts.to_string()));
            obj.insert("discharge_time".into(), json!(r.discharge_time.to_string()));
            obj.insert("status".into(), json!(r.status));
            obj.insert("status_text".into(), json!(r.status_text()));
            obj.insert("delivered".into(), json!(r.delivered()));
        }
    }
    if let Some(ud) = pdu.tpdu.user_data() {
        obj.insert("encoding".into(), json!(ud.encoding.name()));
        obj.insert("text".into(), json!(ud.text));
        if !ud.data.is_empty() {
            obj.insert("data_hex".into(), json!(sms::hex::encode(&ud.data)));
        }
        obj.insert(
            "concat".into(),
            match ud.concat() {
                Some(c) => json!({"ref": c.reference, "parts": c.parts, "seq": c.seq, "ref_bits": if c.wide_reference {16} else {8}}),
                None => Value::Null,
            },
        );
        if ud.truncated {
            obj.insert("truncated".into(), json!(true));
        }
    }
    v
}

fn print_fields(v: &Value, prefix: &str) {
    let Some(obj) = v.as_object() else { return };
    for (k, val) in obj {
        match val {
            Value::Null => {}
            Value::Object(_) => print_fields(val, &format!("{prefix}{k}.")),
            Value::String(s) => println!("{prefix}{k}: {s}"),
            other => println!("{prefix}{k}: {other}"),
        }
    }
}
