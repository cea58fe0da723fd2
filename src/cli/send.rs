//! `groupsms send --group G --as MEMBER [--wait] [--wait-delivered [--timeout S]] TEXT|-`:
//! submit a group message; with `--wait`, follow its progress (sent / failed / remaining,
//! rate, ETA) until it finishes; with `--wait-delivered`, then wait for the status reports
//! until no delivery is left `sent` (or `--timeout` seconds passed).

use std::io::{IsTerminal, Write};
use std::time::Instant;

use clap::Args;
use serde_json::Value;

use super::output::print_value;
use super::{arg_or_stdin, Context, Failure, EXIT_REFUSED};
use crate::protocol::{self as p, Request};

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The group's handle.
    #[arg(long)]
    group: String,
    /// The acting member (a super-admin of the group).
    #[arg(long = "as")]
    as_member: String,
    /// Follow the deliveries until every recipient is done.
    #[arg(long)]
    wait: bool,
    /// Like --wait, then wait for the status reports until every sent message is delivered
    /// or undelivered.
    #[arg(long)]
    wait_delivered: bool,
    /// With --wait-delivered: stop waiting for reports after this many seconds.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 600,
        requires = "wait_delivered"
    )]
    timeout: u64,
    /// The message, or - to read it from standard input.
    text: String,
}

pub fn run(ctx: &Context, mut args: SendArgs) -> Result<(), Failure> {
    args.wait |= args.wait_delivered;
    let text = arg_or_stdin(&args.text)?;
    let mut client = ctx.client()?;
    let accepted = client.call(Request::Send(p::Send {
        group: args.group,
        as_member: args.as_member,
        text,
    }))?;
    let id = accepted["broadcast"].as_i64().unwrap_or_default();
    if ctx.json && !args.wait {
        print_value(&accepted, true);
        return Ok(());
    }
    if !ctx.json {
        println!(
            "broadcast {id}: {} recipients, {} part(s) each ({}), {} dropped",
            accepted["recipients"],
            accepted["parts"],
            accepted["encoding"].as_str().unwrap_or("?"),
            accepted["dropped_total"].as_u64().unwrap_or(0)
        );
    }
    if !args.wait {
        return Ok(());
    }
    let sub = client.send(Request::Subscribe(p::BroadcastRef { broadcast: id }))?;
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut last_printed = None;
    let summary = loop {
        let r = client.read()?;
        if r.id != sub {
            continue;
        }
        if let Some(ev) = &r.event {
            if !ctx.json {
                let line = progress_line(ev, started.elapsed().as_secs_f64());
                if tty {
                    eprint!("\r{line}\x1b[K");
                } else if last_printed.as_deref() != Some(line.as_str()) && done_fraction(ev) >= 1.0
                {
                    eprintln!("{line}");
                }
                last_printed = Some(line);
            }
            continue;
        }
        break super::client::answer(r)?;
    };
    if tty && !ctx.json {
        eprintln!();
    }
    let summary = if args.wait_delivered {
        wait_for_reports(&mut client, id, args.timeout)?
    } else {
        summary
    };
    if ctx.json {
        print_value(&summary, true);
    } else {
        let _ = std::io::stderr().flush();
        println!(
            "finished in {:.1} s: {} sent, {} failed, {} uncertain",
            started.elapsed().as_secs_f64(),
            summary["sent"],
            summary["failed"],
            summary["uncertain"]
        );
        if args.wait_delivered {
            println!(
                "reports: {} delivered, {} undelivered, {} without a report",
                summary["delivered"], summary["undelivered"], summary["waiting_for_reports"]
            );
        }
    }
    if summary["failed"].as_u64().unwrap_or(0) > 0 && summary["sent"].as_u64().unwrap_or(0) == 0 {
        return Err(Failure {
            message: format!("broadcast {id}: no recipient could be reached"),
            code: EXIT_REFUSED,
        });
    }
    Ok(())
}

/// How often `--wait-delivered` asks for the broadcast while reports come in.
const REPORT_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Asks for the broadcast until none of its deliveries is still `sent` (waiting for a status
/// report), or `timeout_secs` passed; returns its summary with `waiting_for_reports`.
fn wait_for_reports(
    client: &mut super::client::Client,
    id: i64,
    timeout_secs: u64,
) -> Result<Value, Failure> {
    let deadline = Instant::now() + std::time::Duration::from_secs(timeout_secs);
    loop {
        let mut shown = client.call(Request::BroadcastShow(p::BroadcastRef { broadcast: id }))?;
        let waiting = shown["deliveries"]
            .as_array()
            .map_or(0, |ds| ds.iter().filter(|d| d["state"] == "sent").count());
        if waiting == 0 || Instant::now() >= deadline {
            if let Some(o) = shown.as_object_mut() {
                o.remove("deliveries");
                o.insert("waiting_for_reports".into(), waiting.into());
            }
            return Ok(shown);
        }
        std::thread::sleep(REPORT_POLL);
    }
}

fn count(ev: &Value, key: &str) -> u64 {
    ev[key].as_u64().unwrap_or(0)
}

fn done_fraction(ev: &Value) -> f64 {
    let total = count(ev, "total").max(1) as f64;
    (count(ev, "sent") + count(ev, "failed") + count(ev, "uncertain")) as f64 / total
}

/// `[#########-----------]  45/100 sent 2 failed  12.3/s  ETA 4 s`
pub fn progress_line(ev: &Value, elapsed: f64) -> String {
    let total = count(ev, "total");
    let done = count(ev, "sent") + count(ev, "failed") + count(ev, "uncertain");
    let width = 24;
    let filled = (done_fraction(ev) * width as f64).round() as usize;
    let rate = if elapsed > 0.0 {
        done as f64 / elapsed
    } else {
        0.0
    };
    let remaining = total.saturating_sub(done);
    let eta = if rate > 0.0 {
        format!("ETA {:.0} s", remaining as f64 / rate)
    } else {
        "ETA -".into()
    };
    format!(
        "[{}{}] {done}/{total}  sent {}  failed {}  remaining {remaining}  {rate:.1}/s  {eta}",
        "#".repeat(filled.min(width)),
        "-".repeat(width - filled.min(width)),
        count(ev, "sent"),
        count(ev, "failed"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn progress_line_shows_counts_rate_and_eta() {
        let ev = json!({"total": 100, "sent": 40, "failed": 10, "uncertain": 0});
        assert_eq!(
            progress_line(&ev, 10.0),
            "[############------------] 50/100  sent 40  failed 10  remaining 50  5.0/s  ETA 10 s"
        );
    }
}
