//! `groupsms send --group G --as MEMBER [--wait] [--wait-delivered [--timeout S]] TEXT|-`:
//! submit a group message; with `--wait`, follow its progress (sent / failed / remaining,
//! rate, ETA) until it finishes; with `--wait-delivered`, then wait for the status reports
//! until no delivery is left `sent` (or `--timeout` seconds passed), each shown as it comes.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::client::{answer, typed, Client};
use super::exit::Class;
use super::output::{escape, print_result, redraw_status};
use super::{arg_or_stdin, Context, Failure};
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
    /// Start even inside the quiet hours (only where the group allows urgent sending).
    #[arg(long)]
    urgent: bool,
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
    let accepted: p::SendResult = client.call_as(Request::Send(p::Send {
        group: args.group,
        as_member: args.as_member,
        text,
        urgent: args.urgent,
    }))?;
    let id = accepted.broadcast;
    if ctx.json && !args.wait {
        return print_result(&accepted, &ctx.style());
    }
    if !ctx.json {
        println!(
            "broadcast {id}: {} recipients, {} part(s) each ({}), {} dropped",
            accepted.recipients, accepted.parts, accepted.encoding, accepted.dropped_total
        );
        if let Some(w) = &accepted.waiting {
            println!(
                "accepted, {} deliveries, waiting: {}",
                accepted.recipients,
                super::output::escape(&w.message)
            );
        }
    }
    if !args.wait {
        return Ok(());
    }
    let summary = follow(&mut client, id, !ctx.json)?;
    if args.wait_delivered {
        let reports = wait_for_reports(&mut client, id, args.timeout, !ctx.json)?;
        if ctx.json {
            print_result(&reports, &ctx.style())?;
        } else {
            println!(
                "reports: {} delivered, {} undelivered, {} without a report",
                reports.broadcast.delivered,
                reports.broadcast.undelivered,
                reports.waiting_for_reports
            );
        }
    } else if ctx.json {
        print_result(&summary, &ctx.style())?;
    }
    if summary.failed > 0 && summary.sent == 0 {
        return Err(Failure::of(
            Class::Unavailable,
            format!("broadcast {id}: no recipient could be reached"),
        ));
    }
    Ok(())
}

/// Subscribes to broadcast `id` and waits until it is finished; returns its final counts.
/// With `show`, draws the progress on standard error (a bar redrawn in place on a terminal,
/// the last line only otherwise) and prints a summary line on standard output.
pub fn follow(client: &mut Client, id: i64, show: bool) -> Result<p::BroadcastProgress, Failure> {
    let sub = client.send(Request::Subscribe(p::SubscribeArgs::broadcast(id)))?;
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut last = None;
    let summary = loop {
        let r = client.read()?;
        if r.id != sub {
            continue;
        }
        if let Some(ev) = &r.event {
            if show {
                let line = progress_line(&ev.totals, started.elapsed().as_secs_f64());
                if tty {
                    redraw_status(&line);
                } else if ev.totals.finished {
                    eprintln!("{line}");
                }
                last = Some(ev.totals);
            }
            continue;
        }
        break typed::<p::BroadcastProgress>(answer(r)?)?;
    };
    if show {
        if tty {
            // The bar's last state is the final count, whichever way the stream ended.
            if last != Some(summary) {
                redraw_status(&progress_line(&summary, started.elapsed().as_secs_f64()));
            }
            eprintln!();
        } else if !last.is_some_and(|l| l.finished) {
            eprintln!(
                "{}",
                progress_line(&summary, started.elapsed().as_secs_f64())
            );
        }
        let _ = std::io::stderr().flush();
        println!(
            "finished in {:.1} s: {} sent, {} failed, {} uncertain{}",
            started.elapsed().as_secs_f64(),
            summary.sent,
            summary.failed,
            summary.uncertain,
            match summary.cancelled {
                0 => String::new(),
                n => format!(", {n} cancelled"),
            }
        );
    }
    Ok(summary)
}

/// What `--wait-delivered` prints: the broadcast's counts and how many deliveries were still
/// waiting for their status report when it stopped waiting.
#[derive(Debug, Serialize)]
pub struct ReportsAwaited {
    #[serde(flatten)]
    pub broadcast: p::BroadcastInfo,
    /// Sent, and neither delivered nor undelivered yet.
    pub waiting_for_reports: u32,
}

/// How often `--wait-delivered` asks for the broadcast while reports come in, from a daemon
/// that cannot stream them.
const REPORT_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Waits until none of the broadcast's deliveries is still `sent` (waiting for a status
/// report), or `timeout_secs` passed. The reports are streamed (`subscribe` with `reports`, on
/// a connection of their own, so that the wait can stop at the timeout); with `show`, each is
/// printed on standard error as it comes. A daemon that cannot stream them is asked for the
/// broadcast every half second instead.
fn wait_for_reports(
    client: &mut Client,
    id: i64,
    timeout_secs: u64,
    show: bool,
) -> Result<ReportsAwaited, Failure> {
    let deadline = Instant::now() + std::time::Duration::from_secs(timeout_secs);
    let streamed = stream_reports(client, id, deadline, show)?;
    loop {
        // Only the counts are needed: one delivery is the smallest page there is.
        let shown: p::BroadcastShow =
            client.call_as(Request::BroadcastShow(p::BroadcastShowArgs {
                limit: Some(1),
                ..p::BroadcastShowArgs::first(id)
            }))?;
        let b = shown.broadcast;
        let waiting = b.sent.saturating_sub(b.delivered + b.undelivered);
        if streamed || waiting == 0 || Instant::now() >= deadline {
            return Ok(ReportsAwaited {
                broadcast: b,
                waiting_for_reports: waiting,
            });
        }
        std::thread::sleep(REPORT_POLL);
    }
}

/// Follows broadcast `id`'s status reports until none is awaited or `deadline`; `false` when
/// the daemon is too old to stream them (it refuses `reports`).
fn stream_reports(
    client: &Client,
    id: i64,
    deadline: Instant,
    show: bool,
) -> Result<bool, Failure> {
    let mut reports = client.reconnect()?;
    let sub = reports.send(Request::Subscribe(p::SubscribeArgs::broadcast_reports(id)))?;
    while let Some(r) = reports.read_before(deadline)? {
        if r.id != sub {
            continue;
        }
        let Some(ev) = r.event else {
            return match answer(r) {
                Ok(_) => Ok(true),
                Err(f) if f.daemon_error == Some(p::ErrorCode::BadRequest) => Ok(false),
                Err(f) => Err(f),
            };
        };
        if let (true, Some(d)) = (show, &ev.delivery) {
            if d.state == "delivered" || d.state == "undelivered" {
                eprintln!("{}", report_line(d, &ev.totals));
            }
        }
    }
    // The deadline passed: closing the connection ends the subscription.
    Ok(true)
}

/// `report: +8613900000001 delivered (3 delivered, 0 undelivered, 1 waiting)`, the reason
/// after an undelivered one.
pub fn report_line(d: &p::DeliveryEvent, totals: &p::BroadcastProgress) -> String {
    format!(
        "report: {} {}{} ({} delivered, {} undelivered, {} waiting)",
        escape(&d.number),
        d.state,
        match &d.error {
            Some(why) if d.state == "undelivered" => format!(": {}", escape(why)),
            _ => String::new(),
        },
        totals.delivered,
        totals.undelivered,
        totals
            .sent
            .saturating_sub(totals.delivered + totals.undelivered)
    )
}

/// `[#########-----------]  45/100 sent 2 failed  12.3/s  ETA 4 s`
pub fn progress_line(totals: &p::BroadcastProgress, elapsed: f64) -> String {
    let total = totals.total;
    let done = totals.done();
    let width = 24;
    let filled = if total == 0 {
        0
    } else {
        (done as usize * width).div_ceil(total as usize).min(width)
    };
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
        "#".repeat(filled),
        "-".repeat(width - filled),
        totals.sent,
        totals.failed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_shows_counts_rate_and_eta() {
        let totals = p::BroadcastProgress {
            broadcast: 7,
            total: 100,
            sent: 40,
            failed: 10,
            queued: 50,
            ..p::BroadcastProgress::default()
        };
        assert_eq!(
            progress_line(&totals, 10.0),
            "[############------------] 50/100  sent 40  failed 10  remaining 50  5.0/s  ETA 10 s"
        );
    }

    #[test]
    fn a_report_line_names_the_number_the_state_and_what_is_still_awaited() {
        let totals = p::BroadcastProgress {
            broadcast: 7,
            total: 4,
            sent: 4,
            delivered: 2,
            undelivered: 1,
            finished: true,
            ..p::BroadcastProgress::default()
        };
        let mut d = p::DeliveryEvent {
            id: 3,
            number: "+8613900000001".into(),
            state: "undelivered".into(),
            modem: None,
            error: Some("SM validity period expired (TP-ST 0x46)\u{1b}[2J".into()),
        };
        assert_eq!(
            report_line(&d, &totals),
            "report: +8613900000001 undelivered: SM validity period expired (TP-ST 0x46)\\e[2J \
             (2 delivered, 1 undelivered, 1 waiting)"
        );
        d.state = "delivered".into();
        assert_eq!(
            report_line(&d, &totals),
            "report: +8613900000001 delivered (2 delivered, 1 undelivered, 1 waiting)"
        );
    }
}
