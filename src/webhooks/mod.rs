//! Webhooks: the configured endpoints (`[[webhook]]`) and the sender that empties the outbox
//! into them, at least once.
//!
//! | file | owns |
//! | --- | --- |
//! | `mod.rs` | [`Endpoint`]s from the configuration (secrets read, keys derived); [`spawn`]: one task per endpoint posting its due events |
//! | [`sign`] | our signature header, DingTalk's and Feishu's signs, the retry schedule |
//! | [`im`] | the short texts and message shapes of the IM group robots, and how they say yes |
//!
//! Events are written by the store in the transaction of the change that causes them
//! (`store::outbox`), one row per subscribed endpoint. The sender never holds the store for
//! longer than one short write: it claims a few due rows (so no other daemon sharing the
//! database posts them too: each event once per endpoint, whichever host sends it), posts
//! them (at most [`CONCURRENCY`] at once per endpoint, [`TIMEOUT`] each), then records their
//! outcomes in one write. A 2xx answer (and, for a robot, its "ok" code) is delivered;
//! anything else is tried again after [`sign::backoff`] until a day has passed, then the
//! event is dead with its last error. State lives in the database, so a restart goes on where
//! it stopped; an event whose answer was lost (the daemon stopped mid-post) is posted again
//! with the same `id` once its claim ([`CLAIM`]) has run out.
//! The sender wakes when a commit wrote an event ([`crate::store::Store::outbox_wake`]) and
//! when the next retry is due, never on a fixed poll.
//!
//! Secrets and robot URLs (which hold their access tokens) are never logged: an endpoint is
//! named by its `name` or its URL without the query.

pub mod im;
pub mod sign;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::Digest;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::clock;
use crate::config::{Secret, WebhookConfig, WebhookFormat};
use crate::store::{DueEvent, EventKind, StoreError, StoreHandle, Subscriptions};

/// Posts in flight at once per endpoint.
pub const CONCURRENCY: usize = 4;
/// How long one post may take (connecting included).
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Delivered and dead events are kept this long (for a look with SQL), then removed.
const KEEP: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// One configured endpoint, ready to post to.
#[derive(Clone)]
pub struct Endpoint {
    /// Its key in the outbox: a digest of its URL (never the URL itself).
    pub key: String,
    /// What `status` and the log call it.
    pub name: String,
    pub format: WebhookFormat,
    pub events: Vec<EventKind>,
    url: reqwest::Url,
    secret: Option<Secret>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("key", &self.key)
            .field("name", &self.name)
            .field("format", &self.format)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// The key of the endpoint at `url` in the outbox: the first 16 hex digits of its SHA-256.
/// The same URL keeps its events across restarts and edits of the other keys.
pub fn endpoint_key(url: &str) -> String {
    hex::encode(&sha2::Sha256::digest(url.as_bytes())[..8])
}

/// `url` without its query and fragment (where robots carry their tokens) nor credentials.
pub fn display_url(url: &reqwest::Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    shown
}

impl Endpoint {
    /// The endpoints of the configuration (already checked by `Config::parse`), their
    /// `secret_file`s read.
    pub fn load(configs: &[WebhookConfig]) -> Result<Vec<Endpoint>, String> {
        let mut out = Vec::with_capacity(configs.len());
        for (i, c) in configs.iter().enumerate() {
            let url = reqwest::Url::parse(&c.url)
                .map_err(|e| format!("[[webhook]] {}: url is not a URL ({e})", i + 1))?;
            let secret = match (&c.secret, &c.secret_file) {
                (Some(s), _) => Some(s.clone()),
                (None, Some(path)) => {
                    let text = std::fs::read_to_string(path).map_err(|e| {
                        format!(
                            "[[webhook]] {}: cannot read secret_file {}: {e}",
                            i + 1,
                            path.display()
                        )
                    })?;
                    let text = text.trim_end_matches(['\n', '\r']).to_string();
                    if text.is_empty() {
                        return Err(format!(
                            "[[webhook]] {}: secret_file {} is empty",
                            i + 1,
                            path.display()
                        ));
                    }
                    Some(Secret(text))
                }
                (None, None) => None,
            };
            let mut events: Vec<EventKind> = c
                .events
                .iter()
                .filter_map(|e| EventKind::parse(e))
                .collect();
            events.dedup();
            out.push(Endpoint {
                key: endpoint_key(&c.url),
                name: c.name.clone().unwrap_or_else(|| display_url(&url)),
                format: c.format,
                events,
                url,
                secret,
            });
        }
        Ok(out)
    }

    /// What the store needs to know of `endpoints`.
    pub fn subscriptions(endpoints: &[Endpoint]) -> Subscriptions {
        Subscriptions::new(
            endpoints
                .iter()
                .map(|e| (e.key.clone(), e.events.as_slice())),
        )
    }

    /// The request for `event` at `now`: URL, body, and our signature header if any.
    fn request(
        &self,
        event: &DueEvent,
        now: DateTime<Utc>,
    ) -> (reqwest::Url, Vec<u8>, Option<String>) {
        let secret = self.secret.as_ref().map(|s| s.0.as_str());
        let data: serde_json::Value =
            serde_json::from_str(&event.data).unwrap_or(serde_json::Value::Null);
        match self.format {
            WebhookFormat::Json => {
                let body = serde_json::to_vec(&serde_json::json!({
                    "id": event.id,
                    "type": event.kind,
                    "created_at": event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "data": data,
                }))
                .unwrap_or_default();
                let header = secret.map(|s| sign::signature_header(s, now.timestamp(), &body));
                (self.url.clone(), body, header)
            }
            WebhookFormat::Dingtalk => {
                let mut url = self.url.clone();
                if let Some(s) = secret {
                    let (t, sign) = sign::dingtalk_sign(s, now.timestamp_millis());
                    url.query_pairs_mut()
                        .append_pair("timestamp", &t)
                        .append_pair("sign", &sign);
                }
                let body = im::body(self.format, &event.kind, &data, None);
                (url, body.to_string().into_bytes(), None)
            }
            WebhookFormat::Feishu => {
                let signed = secret.map(|s| sign::feishu_sign(s, now.timestamp()));
                let body = im::body(self.format, &event.kind, &data, signed);
                (self.url.clone(), body.to_string().into_bytes(), None)
            }
            WebhookFormat::Wecom => {
                let body = im::body(self.format, &event.kind, &data, None);
                (self.url.clone(), body.to_string().into_bytes(), None)
            }
        }
    }

    /// One try of `event`: `Ok` when the endpoint took it, else why not (no URL in it).
    async fn post(&self, client: &reqwest::Client, event: &DueEvent) -> Result<(), String> {
        let (url, body, signature) = self.request(event, clock::now());
        let mut req = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(sig) = signature {
            req = req.header("X-Groupsms-Signature", sig);
        }
        // The URL may carry a robot's token: errors are told without it.
        let answer = req.send().await.map_err(|e| e.without_url().to_string())?;
        let status = answer.status();
        let text = answer
            .text()
            .await
            .map_err(|e| format!("HTTP {status}, then {}", e.without_url()))?;
        if !status.is_success() {
            let mut shown: String = text.chars().take(200).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            return Err(format!("HTTP {status}: {}", shown.trim()));
        }
        match self.format {
            WebhookFormat::Json => Ok(()),
            robot => im::accepted(robot, &text),
        }
    }
}

/// Starts the sender: one task per endpoint, woken by `wake` (a commit wrote an event) and
/// by its next retry; ends when `shutdown` turns true (what is in flight then is posted again
/// at the next start).
pub fn spawn(
    store: StoreHandle,
    endpoints: Vec<Endpoint>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if endpoints.is_empty() {
            return;
        }
        let client = match reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("groupsms/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the webhook sender; events stay in the outbox");
                return;
            }
        };
        // One Notify, many endpoints: a counter each of them watches.
        let (tick, ticks) = watch::channel(0u64);
        let mut tasks = JoinSet::new();
        for endpoint in endpoints {
            tasks.spawn(run_endpoint(
                store.clone(),
                client.clone(),
                Arc::new(endpoint),
                ticks.clone(),
            ));
        }
        let mut prune_at = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = wake.notified() => {
                    tick.send_modify(|n| *n += 1);
                }
                _ = tokio::time::sleep_until(prune_at) => {
                    prune_at += Duration::from_secs(3600);
                    let before = clock::now() - KEEP;
                    let pruned = store.call(move |s| s.write(|tx| tx.prune_webhook_events(before))).await;
                    match pruned {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(events = n, "old webhook events removed"),
                        Err(e) => tracing::warn!(error = %e, "cannot remove old webhook events"),
                    }
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        tasks.shutdown().await;
    })
}

/// How long claimed events stay this sender's (see [`crate::store::Tx::webhook_claim`]):
/// longer than their posts ([`TIMEOUT`] each, all at once) and the write of their outcomes,
/// so another daemon sharing the database never posts them meanwhile; after it (this daemon
/// died mid-post) any sender takes them again.
const CLAIM: chrono::Duration = chrono::Duration::seconds(3 * TIMEOUT.as_secs() as i64);

/// How long an endpoint sleeps with nothing due and no wake-up: a safety net only.
const IDLE: Duration = Duration::from_secs(300);

async fn run_endpoint(
    store: StoreHandle,
    client: reqwest::Client,
    endpoint: Arc<Endpoint>,
    mut ticks: watch::Receiver<u64>,
) {
    let key = endpoint.key.clone();
    loop {
        ticks.borrow_and_update();
        let now = clock::now();
        let k = key.clone();
        let until = now + CLAIM;
        let due = store
            .call(move |s| s.write(|tx| tx.webhook_claim(&k, now, CONCURRENCY as u32, until)))
            .await;
        let due = match due {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(endpoint = %endpoint.name, error = %e, "cannot claim from the webhook outbox");
                tokio::time::sleep(sign::FIRST_BACKOFF).await;
                continue;
            }
        };
        if due.is_empty() {
            let k = key.clone();
            let next = store
                .call(move |s| s.read(|tx| tx.webhook_next_due(&k)))
                .await
                .ok()
                .flatten();
            let wait = match next {
                Some(at) => (at - clock::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(IDLE),
                None => IDLE,
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                changed = ticks.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        let mut posts = JoinSet::new();
        for event in due {
            let (client, endpoint) = (client.clone(), endpoint.clone());
            posts.spawn(async move {
                let outcome = endpoint.post(&client, &event).await;
                (event, outcome)
            });
        }
        let mut outcomes = Vec::new();
        while let Some(done) = posts.join_next().await {
            if let Ok(o) = done {
                outcomes.push(o);
            }
        }
        let now = clock::now();
        for (event, outcome) in &outcomes {
            match outcome {
                Ok(()) => {
                    tracing::debug!(endpoint = %endpoint.name, event = event.id, "webhook delivered")
                }
                Err(e) => {
                    let attempts = event.attempts + 1;
                    match sign::next_try(event.created_at, now, attempts) {
                        Some(_) => {
                            tracing::info!(endpoint = %endpoint.name, event = event.id, attempts, error = %e, "webhook not delivered; tried again later")
                        }
                        None => {
                            tracing::warn!(endpoint = %endpoint.name, event = event.id, attempts, error = %e, "webhook given up after a day of tries")
                        }
                    }
                }
            }
        }
        let k = key.clone();
        let written = store
            .call(move |s| {
                s.write(|tx| {
                    for (event, outcome) in &outcomes {
                        match outcome {
                            Ok(()) => tx.webhook_delivered(&k, event.id, now)?,
                            Err(e) => {
                                let next =
                                    sign::next_try(event.created_at, now, event.attempts + 1);
                                tx.webhook_failed(&k, event.id, e, next, now)?
                            }
                        }
                    }
                    Ok::<_, StoreError>(())
                })
            })
            .await;
        if let Err(e) = written {
            // Posted but not recorded: posted again later (at least once).
            tracing::warn!(endpoint = %endpoint.name, error = %e, "cannot record webhook outcomes");
            tokio::time::sleep(sign::FIRST_BACKOFF).await;
        }
    }
}
