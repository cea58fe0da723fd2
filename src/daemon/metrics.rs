//! What `GET /metrics` answers: the daemon's state in the Prometheus text exposition format
//! (version 0.0.4), gathered at scrape time from the sources `status` and `modem list` read
//! (the pool's [`Snapshot`], [`super::modem_entry`] for each modem, the progress board) and
//! one read transaction of totals in the store ([`crate::store::metrics`]). Nothing is
//! counted twice: the metrics are another view of the same state, so they cannot drift
//! from what `groupsms status` says.
//!
//! The encoder is ours ([`Exposition`], a few dozen lines) rather than the
//! `prometheus-client` crate: that crate's model is metric objects registered once and
//! updated in place, while every value here is read at scrape time from state owned
//! elsewhere (its collector interface would still need this gathering code), and its text
//! encoder writes OpenMetrics 1.0, not the 0.0.4 format asked for. The format is small:
//! `# HELP` and `# TYPE` once per family, then one line per sample, label values escaped
//! (`\\`, `\"`, `\n`). `promtool check metrics` checks the output in the tests.
//!
//! A new family is one call: [`Exposition::gauge`] or [`Exposition::counter`] with its
//! samples (each a [`Sample`]: labels and a value), before [`Exposition::finish`].
//!
//! Families (prefix `groupsms_`, labels `device` and `imsi` per modem; `imsi` is empty when
//! the modem never said it):
//! - daemon: `up`, `uptime_seconds`, `build_info{version}`, `store_problem` (1 while the
//!   database cannot commit), `outcomes_held`, `broadcasts_sending`,
//!   `database_round_trips_total` (statements this process sent to the PostgreSQL server,
//!   each one round trip; 0 on SQLite, where nothing leaves the process);
//! - per modem: `modem_up` (1 while it takes messages: ready or busy), `modem_state{state}`
//!   (1 for its current state, as `modem list` names it), `modem_registered` (1 when its
//!   last check found it registered on a network, 0 when it found it not registered or
//!   without a usable SIM; absent when unknown), `modem_signal_dbm` (RSSI from `AT+CSQ`
//!   at its last init, TS 27.007 8.5: -113 + 2 × rssi; absent when unknown),
//!   `modem_parts_sent{window="hour"|"day"}` and `modem_parts_left{window}` (the per-SIM
//!   caps' counters in the current local hour and day), `modem_messages_total{outcome}`
//!   (messages the modem sent whole or failed, since the daemon started),
//!   `modem_errors_total{class}` (tries that did not send the whole message, by class,
//!   see [`crate::scheduler::policy::TryError`]);
//! - queue: `queue_deliveries` (deliveries waiting for a modem in the pool, as `status`
//!   says), `queue_oldest_age_seconds` (age of the oldest queued delivery, from its
//!   broadcast's acceptance; 0 when none is queued);
//! - store: `deliveries{state}` (deliveries in each state: a gauge, since `sent` ones
//!   become `delivered` or `undelivered` when their status report comes),
//!   `inbound_messages{handling}`, `memberships_opted_out`, `status_reports_unmatched`,
//!   `hosts{state}` (the daemons that ever served the database, by the state their row says:
//!   `up`, `stopped`, `lost`; one `up` host on SQLite);
//! - `broadcast_time_to_last_part_seconds`: a histogram of finished group broadcasts (not
//!   cancelled) by the time from acceptance to the end of their last delivery. Counted in
//!   the store rather than in this process: the end time is written in the same
//!   transaction as the last delivery's outcome, so the histogram survives restarts and
//!   covers broadcasts a previous run finished, and one aggregate query over the
//!   broadcasts (not the deliveries) keeps the scrape cheap.

use std::fmt::Write as _;
use std::sync::Arc;

use super::{handlers, modem_entry, Shared};
use crate::clock;
use crate::modem::Health;
use crate::scheduler::policy::TryError;
use crate::scheduler::Snapshot;
use crate::store::metrics::{MetricTotals, FINISH_BUCKETS_SECS};

/// The `Content-Type` of the answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One sample of a family: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

impl Sample {
    pub fn new(value: impl Into<f64>) -> Sample {
        Sample {
            labels: Vec::new(),
            value: value.into(),
        }
    }

    /// The sample with one more label.
    pub fn label(mut self, name: &'static str, value: impl Into<String>) -> Sample {
        self.labels.push((name, value.into()));
        self
    }
}

/// A text exposition being written, family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// A gauge family: a value that goes up and down.
    pub fn gauge(&mut self, name: &str, help: &str, samples: &[Sample]) {
        self.family(name, "gauge", help, samples);
    }

    /// A counter family (its name ends in `_total`): a value that only grows while the
    /// daemon runs.
    pub fn counter(&mut self, name: &str, help: &str, samples: &[Sample]) {
        debug_assert!(
            name.ends_with("_total"),
            "counter {name} must end in _total"
        );
        self.family(name, "counter", help, samples);
    }

    /// A histogram without labels: `cumulative[i]` observations at most `bounds[i]`, then
    /// `count` in all (the `+Inf` bucket) summing to `sum`.
    pub fn histogram(
        &mut self,
        name: &str,
        help: &str,
        bounds: &[f64],
        cumulative: &[u64],
        count: u64,
        sum: f64,
    ) {
        self.header(name, "histogram", help);
        let bucket = format!("{name}_bucket");
        for (bound, n) in bounds.iter().zip(cumulative) {
            self.sample(&bucket, &[("le", number(*bound))], *n as f64);
        }
        self.sample(&bucket, &[("le", "+Inf".to_string())], count as f64);
        self.sample::<&str>(&format!("{name}_sum"), &[], sum);
        self.sample::<&str>(&format!("{name}_count"), &[], count as f64);
    }

    /// The text, ready to be served.
    pub fn finish(self) -> String {
        self.out
    }

    fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[Sample]) {
        self.header(name, kind, help);
        for s in samples {
            self.sample(name, &s.labels, s.value);
        }
    }

    fn header(&mut self, name: &str, kind: &str, help: &str) {
        debug_assert!(valid_name(name), "bad metric name {name:?}");
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample<S: AsRef<str>>(&mut self, name: &str, labels: &[(&str, S)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                debug_assert!(
                    valid_name(label) && !label.contains(':'),
                    "bad label {label:?}"
                );
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(label);
                self.out.push_str("=\"");
                for c in v.as_ref().chars() {
                    match c {
                        '\\' => self.out.push_str("\\\\"),
                        '"' => self.out.push_str("\\\""),
                        '\n' => self.out.push_str("\\n"),
                        c => self.out.push(c),
                    }
                }
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&number(value));
        self.out.push('\n');
    }
}

/// A value as the format writes it: `+Inf`, `-Inf`, `NaN`, or a decimal number.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The whole exposition: the pool's snapshot and the store's totals, read now.
pub async fn gather(shared: &Arc<Shared>) -> Result<String, crate::protocol::ErrorBody> {
    let snapshot = shared.scheduler.snapshot().await;
    let totals = shared
        .store
        .call(|s| s.metric_totals())
        .await
        .map_err(crate::protocol::ErrorBody::from)?;
    let webhooks = handlers::webhook_backlogs(shared).await?;
    let daemon = Daemon {
        // Milliseconds are enough, and read better than 17 digits.
        uptime_secs: shared.started.elapsed().as_millis() as f64 / 1000.0,
        store_problem: shared.store.problem().borrow().is_some(),
        broadcasts_sending: shared.board.active(),
        webhooks,
        round_trips: crate::store::round_trips(),
    };
    Ok(render(&daemon, &snapshot, &totals))
}

/// What the daemon says of itself.
#[derive(Debug, Clone)]
pub struct Daemon {
    pub uptime_secs: f64,
    pub store_problem: bool,
    pub broadcasts_sending: usize,
    /// Each webhook endpoint's backlog, as `status` shows it.
    pub webhooks: Vec<crate::protocol::WebhookStatus>,
    /// Statements this process sent to PostgreSQL ([`crate::store::round_trips`]).
    pub round_trips: u64,
}

/// The exposition of these readings.
pub fn render(daemon: &Daemon, snapshot: &Snapshot, totals: &MetricTotals) -> String {
    let mut x = Exposition::new();
    x.gauge(
        "groupsms_up",
        "1 while the daemon answers.",
        &[Sample::new(1)],
    );
    x.gauge(
        "groupsms_uptime_seconds",
        "Seconds since the daemon started.",
        &[Sample::new(daemon.uptime_secs)],
    );
    x.gauge(
        "groupsms_build_info",
        "The daemon's version, as a label; the value is 1.",
        &[Sample::new(1).label("version", env!("CARGO_PKG_VERSION"))],
    );
    x.gauge(
        "groupsms_store_problem",
        "1 while the database cannot commit (nothing new is sent meanwhile).",
        &[Sample::new(u8::from(daemon.store_problem))],
    );
    x.gauge(
        "groupsms_outcomes_held",
        "Outcomes of sends held until the database takes them.",
        &[Sample::new(snapshot.held as f64)],
    );
    x.gauge(
        "groupsms_broadcasts_sending",
        "Broadcasts with deliveries still queued or being sent.",
        &[Sample::new(daemon.broadcasts_sending as f64)],
    );
    x.counter(
        "groupsms_database_round_trips_total",
        "Statements sent to the PostgreSQL server, each one round trip; 0 on SQLite.",
        &[Sample::new(daemon.round_trips as f64)],
    );
    modems(&mut x, snapshot);
    x.gauge(
        "groupsms_queue_deliveries",
        "Deliveries waiting for a modem.",
        &[Sample::new(snapshot.waiting as f64)],
    );
    let age = totals.oldest_queued.map_or(0.0, |t| {
        (clock::now() - t).num_milliseconds().max(0) as f64 / 1000.0
    });
    let endpoint = |w: &crate::protocol::WebhookStatus, v: f64| {
        Sample::new(v)
            .label("endpoint", &w.endpoint)
            .label("format", &w.format)
    };
    x.gauge(
        "groupsms_webhook_pending",
        "Webhook events not yet delivered to an endpoint (retried with back-off for 24 h).",
        &daemon
            .webhooks
            .iter()
            .map(|w| endpoint(w, w.pending as f64))
            .collect::<Vec<_>>(),
    );
    x.gauge(
        "groupsms_webhook_oldest_pending_age_seconds",
        "Seconds since the oldest event not yet delivered to an endpoint was made; 0 when none.",
        &daemon
            .webhooks
            .iter()
            .map(|w| endpoint(w, w.oldest_pending_secs.unwrap_or(0) as f64))
            .collect::<Vec<_>>(),
    );
    x.gauge(
        "groupsms_webhook_dead",
        "Webhook events given up on after 24 h of failed tries (kept 7 days).",
        &daemon
            .webhooks
            .iter()
            .map(|w| endpoint(w, w.dead as f64))
            .collect::<Vec<_>>(),
    );
    x.gauge(
        "groupsms_queue_oldest_age_seconds",
        "Seconds since the oldest queued delivery's broadcast was accepted; 0 when none is queued.",
        &[Sample::new(age)],
    );
    let states: Vec<Sample> = totals
        .deliveries
        .iter()
        .map(|(state, n)| Sample::new(*n as f64).label("state", state.as_str()))
        .collect();
    x.gauge(
        "groupsms_deliveries",
        "Deliveries in each state (delivered and undelivered: as their status reports said).",
        &states,
    );
    let inbound: Vec<Sample> = totals
        .inbound
        .iter()
        .map(|(h, n)| Sample::new(*n as f64).label("handling", h.as_str()))
        .collect();
    x.gauge(
        "groupsms_inbound_messages",
        "Complete incoming messages stored, by what became of them.",
        &inbound,
    );
    x.gauge(
        "groupsms_memberships_opted_out",
        "Memberships whose member opted out of the group.",
        &[Sample::new(totals.opted_out as f64)],
    );
    x.gauge(
        "groupsms_status_reports_unmatched",
        "Status reports that matched no part sent.",
        &[Sample::new(totals.unmatched_reports as f64)],
    );
    x.gauge(
        "groupsms_hosts",
        "Daemons (hosts) that served the database, by state: up, stopped, lost (its lease ran out).",
        &totals
            .hosts
            .iter()
            .map(|(state, n)| Sample::new(*n as f64).label("state", *state))
            .collect::<Vec<_>>(),
    );
    let bounds: Vec<f64> = FINISH_BUCKETS_SECS.iter().map(|s| f64::from(*s)).collect();
    x.histogram(
        "groupsms_broadcast_time_to_last_part_seconds",
        "Finished group broadcasts (not cancelled) by seconds from acceptance to the end of their last delivery.",
        &bounds,
        &totals.finish.buckets,
        totals.finish.count,
        totals.finish.sum_secs,
    );
    x.finish()
}

/// The per-modem families, from the same entries `modem list` shows.
fn modems(x: &mut Exposition, snapshot: &Snapshot) {
    let mut up = Vec::new();
    let mut state = Vec::new();
    let mut registered = Vec::new();
    let mut signal = Vec::new();
    let mut parts_sent = Vec::new();
    let mut parts_left = Vec::new();
    let mut messages = Vec::new();
    let mut errors = Vec::new();
    for view in &snapshot.modems {
        let entry = modem_entry(view);
        let (device, imsi) = (entry.device.clone(), entry.imsi.clone().unwrap_or_default());
        let at = |value: f64| {
            Sample::new(value)
                .label("device", device.clone())
                .label("imsi", imsi.clone())
        };
        up.push(at(f64::from(u8::from(entry.is_up()))));
        state.push(at(1.0).label("state", entry.state.clone()));
        if let Some(r) = registration(view.status.health) {
            registered.push(at(f64::from(u8::from(r))));
        }
        if let Some(dbm) = entry.signal_dbm {
            signal.push(at(f64::from(dbm)));
        }
        let windows = [
            ("hour", entry.sent_this_hour, entry.max_per_hour),
            ("day", entry.sent_today, entry.max_per_day),
        ];
        for (window, sent, max) in windows {
            if let Some(sent) = sent {
                parts_sent.push(at(f64::from(sent)).label("window", window));
                let left = max.saturating_sub(sent);
                parts_left.push(at(f64::from(left)).label("window", window));
            }
        }
        messages.push(at(entry.sent as f64).label("outcome", "sent"));
        messages.push(at(entry.failed as f64).label("outcome", "failed"));
        for class in TryError::ALL {
            let n = view.slot.errors.get(class);
            errors.push(at(n as f64).label("class", class.name()));
        }
    }
    x.gauge(
        "groupsms_modem_up",
        "1 while the modem takes messages (ready or sending), else 0.",
        &up,
    );
    x.gauge(
        "groupsms_modem_state",
        "1 for the modem's state as `groupsms modem list` names it.",
        &state,
    );
    x.gauge(
        "groupsms_modem_registered",
        "1 when the modem's last check found it registered on a network, 0 when not.",
        &registered,
    );
    x.gauge(
        "groupsms_modem_signal_dbm",
        "Received signal strength at the modem's last init (AT+CSQ), in dBm.",
        &signal,
    );
    x.gauge(
        "groupsms_modem_parts_sent",
        "SMS parts the SIM sent in the current local hour or day (what its caps count).",
        &parts_sent,
    );
    x.gauge(
        "groupsms_modem_parts_left",
        "SMS parts the SIM may still send in the current local hour or day under its caps.",
        &parts_left,
    );
    x.counter(
        "groupsms_modem_messages_total",
        "Messages the modem sent whole, or failed to, since the daemon started.",
        &messages,
    );
    x.counter(
        "groupsms_modem_errors_total",
        "Tries on the modem that did not send the whole message, by class, since the daemon started.",
        &errors,
    );
}

/// Whether a modem in `health` is registered on a network, when its health says.
fn registration(health: Health) -> Option<bool> {
    match health {
        // Its last check asked +CREG and found it registered (a quarantined SIM was ready
        // when it was refused).
        Health::Ready | Health::Quarantined => Some(true),
        Health::NotRegistered | Health::NoSim | Health::PinNeeded | Health::SimLocked => {
            Some(false)
        }
        Health::Unknown
        | Health::Probing
        | Health::Hung
        | Health::Gone
        | Health::NeedsReinit
        | Health::NotReady
        | Health::Stopped => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_help_are_escaped_and_values_spelt_as_the_format_says() {
        let mut x = Exposition::new();
        x.gauge(
            "a_b",
            "line\\one\ntwo",
            &[
                Sample::new(1.5).label("device", "/dev/a\"b\\c\nd"),
                Sample::new(f64::INFINITY),
                Sample::new(f64::NAN).label("x", ""),
            ],
        );
        x.histogram("h_seconds", "h", &[1.0, 2.5], &[1, 3], 4, 9.25);
        assert_eq!(
            x.finish(),
            "# HELP a_b line\\\\one\\ntwo\n# TYPE a_b gauge\n\
             a_b{device=\"/dev/a\\\"b\\\\c\\nd\"} 1.5\na_b +Inf\na_b{x=\"\"} NaN\n\
             # HELP h_seconds h\n# TYPE h_seconds histogram\n\
             h_seconds_bucket{le=\"1\"} 1\nh_seconds_bucket{le=\"2.5\"} 3\n\
             h_seconds_bucket{le=\"+Inf\"} 4\nh_seconds_sum 9.25\nh_seconds_count 4\n"
        );
    }

    #[test]
    fn names() {
        assert!(valid_name("groupsms_modem_up"));
        assert!(valid_name("a:b_1"));
        assert!(!valid_name("1a"));
        assert!(!valid_name("a-b"));
        assert!(!valid_name(""));
    }
}
