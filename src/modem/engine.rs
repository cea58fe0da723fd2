//! The engine: one modem on one byte stream. It writes commands, reads with deadlines,
//! feeds the AT digester, queues unsolicited codes, and recovers from timeouts (ESC, then
//! `AT` until `OK`) before the next command. Init lives in `init.rs`, sending in `send.rs`.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tracing::{debug, trace, warn};

use super::error::ModemError;
use super::transcript::Recorder;
use super::types::{Health, Identity, ModemConfig};
use crate::at::command::{self, ESC};
use crate::at::parse::{self, Registration, Signal};
use crate::at::{digest, Digester, Final, Item, Urc};

/// The answer to one command: its information lines and its final result (which may be an
/// error: the modem did answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub lines: Vec<String>,
    pub result: Final,
}

impl Response {
    /// The first line carrying `name` (`+CSQ`), or the first line when none does.
    pub fn line(&self, name: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|l| parse::strip_name(l, name).is_some())
            .or(self.lines.first())
            .map(String::as_str)
    }
}

/// What a re-sync noticed: the late end of an `AT+CMGS` after a timeout, and whether its
/// `AT` came back echoed (echo is on: the modem lost `ATE0`, i.e. restarted).
#[derive(Debug, Default)]
pub(crate) struct LateAnswer {
    pub message_ref: Option<u8>,
    pub error: Option<Final>,
    pub echoed: bool,
}

/// One modem, driven over any byte stream: a serial port ([`super::port::open`]), a PTY,
/// `tokio::io::duplex`, or a replayed transcript.
pub struct Engine<S> {
    pub(crate) io: S,
    pub(crate) digester: Digester,
    pub(crate) config: ModemConfig,
    urcs: VecDeque<Urc>,
    pub(crate) health: Health,
    pub(crate) initialized: bool,
    needs_resync: bool,
    pub(crate) identity: Option<Identity>,
    /// Huawei firmware that refused `AT^CURC=0` keeps sending `^BOOT` every few seconds: then
    /// `^BOOT` is no sign of a reset.
    pub(crate) periodic_boot: bool,
    /// A `^BOOT` asked for the re-init now running or due: if the modem turns out to have kept
    /// its settings (echo still off), that `^BOOT` was a periodic report, not a restart.
    pub(crate) boot_suspect: bool,
    recorder: Option<Recorder>,
    buf: Vec<u8>,
    /// When the modem last sent us anything: the next command waits until `command_gap`
    /// after it.
    last_heard: Option<Instant>,
    /// Whether a routed `+CDS` may need `AT+CNMA` (until the modem says it does not).
    pub(crate) cnma_expected: bool,
    /// A `+CMS ERROR: 322` (memory full) came since [`Engine::take_memory_full`] was last
    /// asked: the receive memory must be drained, as the network holds new messages meanwhile.
    pub(crate) memory_full: bool,
    /// While a message is being sent: asked before each part's `AT+CMGS` ([`SendGate`]).
    pub(crate) gate: Option<super::types::SendGate>,
}

enum Outcome {
    Done(Final),
    Prompt,
    Timeout,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Engine<S> {
    pub fn new(stream: S, config: ModemConfig) -> Self {
        Engine {
            io: stream,
            digester: Digester::new(),
            config,
            urcs: VecDeque::new(),
            health: Health::Unknown,
            initialized: false,
            needs_resync: false,
            identity: None,
            periodic_boot: false,
            boot_suspect: false,
            recorder: None,
            buf: vec![0; 1024],
            last_heard: None,
            cnma_expected: true,
            memory_full: false,
            gate: None,
        }
    }

    pub fn config(&self) -> &ModemConfig {
        &self.config
    }

    /// The last known health (see [`Engine::check_health`] to probe it).
    pub fn health(&self) -> Health {
        self.health
    }

    /// The modem announced a reset since init: call [`Engine::init`] again.
    pub fn needs_reinit(&self) -> bool {
        self.health == Health::NeedsReinit
    }

    /// What the last successful init found.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Unsolicited codes received so far (oldest first), emptying the queue.
    pub fn take_urcs(&mut self) -> Vec<Urc> {
        self.urcs.drain(..).collect()
    }

    /// Gives the stream back.
    pub fn into_inner(self) -> S {
        self.io
    }

    /// Starts recording every byte written and read, with timestamps.
    pub fn start_recording(&mut self) {
        self.recorder = Some(Recorder::new());
    }

    /// Stops recording and returns what was recorded.
    pub fn take_recording(&mut self) -> Option<Recorder> {
        self.recorder.take()
    }

    /// Waits for the next unsolicited code while no command runs. Cancel-safe: dropping the
    /// future loses no bytes and no codes, so it can sit in a `select!` next to a job queue.
    pub async fn next_urc(&mut self) -> Result<Urc, ModemError> {
        loop {
            if let Some(u) = self.urcs.pop_front() {
                return Ok(u);
            }
            self.usable()?;
            let far = Instant::now() + Duration::from_secs(86_400 * 365);
            match self.read_item(None, b"", far).await? {
                Some(item) => self.on_idle_item(item).await?,
                None => continue,
            }
        }
    }

    /// Stays idle for `d`, reading and queueing unsolicited codes (keeps the port drained).
    pub async fn idle(&mut self, d: Duration) -> Result<(), ModemError> {
        self.usable()?;
        let until = Instant::now() + d;
        while let Some(item) = self.read_item(None, b"", until).await? {
            self.on_idle_item(item).await?;
        }
        Ok(())
    }

    /// Sends one command and returns its answer (a final error is an `Ok(Response)`). On a
    /// timeout the modem is re-synced and [`ModemError::Timeout`] returned; if re-sync fails,
    /// [`ModemError::Hung`].
    pub async fn command(&mut self, command: &str) -> Result<Response, ModemError> {
        let timeout = self.config.command_timeout;
        self.exchange(command, timeout, None).await
    }

    /// `AT+CSQ`.
    pub async fn signal(&mut self) -> Result<Signal, ModemError> {
        let r = self.command_ok("AT+CSQ").await?;
        let line = r.line("+CSQ").unwrap_or("");
        parse::parse_csq(line).map_err(|e| ModemError::Protocol {
            command: "AT+CSQ".into(),
            detail: e.to_string(),
        })
    }

    /// `AT+CREG?`.
    pub async fn registration(&mut self) -> Result<Registration, ModemError> {
        let r = self.command_ok("AT+CREG?").await?;
        let line = r.line("+CREG").unwrap_or("");
        parse::parse_registration(line, true).map_err(|e| ModemError::Protocol {
            command: "AT+CREG?".into(),
            detail: e.to_string(),
        })
    }

    /// Like [`Engine::command`], but a final error becomes [`ModemError::Command`].
    pub async fn command_ok(&mut self, command: &str) -> Result<Response, ModemError> {
        let r = self.command(command).await?;
        if r.result.is_ok() {
            Ok(r)
        } else {
            Err(ModemError::Command {
                command: command.to_string(),
                result: r.result,
            })
        }
    }

    pub(crate) fn usable(&self) -> Result<(), ModemError> {
        if self.health == Health::Gone {
            return Err(ModemError::Gone("the port failed earlier".into()));
        }
        Ok(())
    }

    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> Result<(), ModemError> {
        if let Some(r) = self.recorder.as_mut() {
            r.wrote(bytes);
        }
        trace!(bytes = %String::from_utf8_lossy(bytes).escape_debug(), "write");
        let result = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        }
        .await;
        result.map_err(|e| self.transport_error(e))
    }

    fn transport_error(&mut self, e: std::io::Error) -> ModemError {
        self.health = Health::Gone;
        match e.kind() {
            std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::NotConnected
            | std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset => ModemError::Gone(e.to_string()),
            _ => ModemError::Io(e),
        }
    }

    /// The next digested item, or `None` at `deadline`.
    pub(crate) async fn read_item(
        &mut self,
        command: Option<&str>,
        echo: &[u8],
        deadline: Instant,
    ) -> Result<Option<Item>, ModemError> {
        loop {
            let ctx = digest::Context { command, echo };
            if let Some(item) = self.digester.next(&ctx) {
                return Ok(Some(item));
            }
            let read = tokio::time::timeout_at(deadline, self.io.read(&mut self.buf)).await;
            match read {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => {
                    self.health = Health::Gone;
                    return Err(ModemError::Gone("end of stream".into()));
                }
                Ok(Ok(n)) => {
                    self.last_heard = Some(Instant::now());
                    if let Some(r) = self.recorder.as_mut() {
                        r.read(&self.buf[..n]);
                    }
                    trace!(bytes = %String::from_utf8_lossy(&self.buf[..n]).escape_debug(), "read");
                    self.digester.feed(&self.buf[..n]);
                }
                Ok(Err(e)) => return Err(self.transport_error(e)),
            }
        }
    }

    pub(crate) fn on_urc(&mut self, urc: Urc) {
        debug!(urc = urc.name(), "unsolicited {:?}", urc);
        let periodic = self.periodic_boot && matches!(urc, Urc::Boot(_));
        if self.initialized && urc.is_reset() && !periodic {
            warn!(
                urc = urc.name(),
                "the modem announced a reset; it needs init again"
            );
            self.initialized = false;
            self.health = Health::NeedsReinit;
            self.boot_suspect = matches!(urc, Urc::Boot(_));
        }
        if self.urcs.len() >= self.config.urc_queue.max(1) {
            self.urcs.pop_front();
        }
        self.urcs.push_back(urc);
    }

    /// Handles something that arrived while no command was running.
    async fn on_idle_item(&mut self, item: Item) -> Result<(), ModemError> {
        match item {
            Item::Urc(u) => self.on_urc(u),
            Item::Prompt => {
                warn!("stray '>' prompt while idle: sending ESC");
                self.write_all(&[ESC]).await?;
            }
            Item::Garbage(g) => debug!(len = g.len, preview = %g.preview, "skipped garbage"),
            other => debug!("stray {:?} while idle", other),
        }
        Ok(())
    }

    /// Processes what is already buffered as idle traffic.
    async fn drain_buffered(&mut self) -> Result<(), ModemError> {
        while let Some(item) = self.digester.next(&digest::Context::idle()) {
            self.on_idle_item(item).await?;
        }
        Ok(())
    }

    /// Everything before writing a command: re-sync if owed, idle traffic, and at least
    /// `command_gap` since the modem last spoke.
    pub(crate) async fn prepare(&mut self) -> Result<(), ModemError> {
        self.usable()?;
        if self.needs_resync {
            self.resync().await?;
        }
        self.drain_buffered().await?;
        // The gap runs from the modem's last answer, not from now: time spent between
        // commands (bookkeeping, the next job) counts towards it.
        if let Some(ready) = self.last_heard.map(|t| t + self.config.command_gap) {
            if ready > Instant::now() {
                tokio::time::sleep_until(ready).await;
            }
        }
        Ok(())
    }

    /// One command and its answer. `grace`: once an information line of the command arrived,
    /// accept a missing final result after this long (Wavecom's `+CPIN:` without `OK`).
    pub(crate) async fn exchange(
        &mut self,
        command: &str,
        timeout: Duration,
        grace: Option<Duration>,
    ) -> Result<Response, ModemError> {
        let mut prompt_recovered = false;
        loop {
            self.prepare().await?;
            self.write_all(&command::line(command)).await?;
            let deadline = Instant::now() + timeout;
            let bytes = command.as_bytes();
            let name = digest::info_name(command);
            let mut echo_pos = 0;
            let mut lines = Vec::new();
            let mut grace_end: Option<Instant> = None;
            let outcome = loop {
                let until = grace_end.map_or(deadline, |g| g.min(deadline));
                match self
                    .read_item(Some(command), &bytes[echo_pos..], until)
                    .await?
                {
                    Some(Item::Echo { len }) => echo_pos += len,
                    Some(Item::Info(line)) => {
                        echo_pos = bytes.len();
                        if let (Some(g), Some(n)) = (grace, name) {
                            if crate::at::urc::line_name(&line).eq_ignore_ascii_case(n) {
                                grace_end = Some(Instant::now() + g);
                            }
                        }
                        lines.push(line);
                    }
                    Some(Item::Final(f)) => break Outcome::Done(f),
                    Some(Item::Prompt) => break Outcome::Prompt,
                    Some(Item::Urc(u)) => self.on_urc(u),
                    Some(Item::Garbage(g)) => {
                        debug!(len = g.len, preview = %g.preview, "skipped garbage")
                    }
                    None if grace_end.is_some_and(|g| Instant::now() >= g) => {
                        debug!(command, "no final result after its answer; taking it as OK");
                        break Outcome::Done(Final::Ok);
                    }
                    None => break Outcome::Timeout,
                }
            };
            match outcome {
                Outcome::Done(result) => {
                    trace!(command, %result, "answered");
                    if matches!(&result, Final::Cms(e) if e.code() == Some(322)) {
                        self.memory_full = true;
                    }
                    return Ok(Response { lines, result });
                }
                Outcome::Prompt if !prompt_recovered => {
                    // The modem sat in SMS input mode: our command went into its PDU buffer.
                    warn!(
                        command,
                        "unexpected '>' prompt: aborting with ESC and retrying once"
                    );
                    prompt_recovered = true;
                    self.write_all(&[ESC]).await?;
                    self.resync().await?;
                }
                Outcome::Prompt => {
                    self.write_all(&[ESC]).await?;
                    self.needs_resync = true;
                    return Err(ModemError::Protocol {
                        command: command.to_string(),
                        detail: "answered with a '>' prompt".into(),
                    });
                }
                Outcome::Timeout => {
                    warn!(command, ?timeout, "no answer; aborting and re-syncing");
                    self.abort_and_resync().await?;
                    return Err(ModemError::Timeout {
                        command: command.to_string(),
                        waited: timeout,
                    });
                }
            }
        }
    }

    /// ESC (leaves a prompt, cancels a half-typed line), then [`Engine::resync`].
    pub(crate) async fn abort_and_resync(&mut self) -> Result<LateAnswer, ModemError> {
        self.needs_resync = true;
        self.write_all(&[ESC]).await?;
        self.resync().await
    }

    /// ESC, then a re-sync with a single `AT` (one `resync_timeout`). After a silent Ctrl-Z:
    /// a modem that does not answer that `AT` is hung (it is re-probed later, with the full
    /// re-sync of init), and the part's fate must not wait for more tries — the caller's
    /// `cmgs_timeout` is what bounds how long an ambiguous send goes unnoticed.
    pub(crate) async fn abort_and_probe(&mut self) -> Result<LateAnswer, ModemError> {
        self.needs_resync = true;
        self.write_all(&[ESC]).await?;
        self.resync_tries(1).await
    }

    /// `AT` until `OK` (`resync_attempts` tries of `resync_timeout`), then a quiet period in
    /// which late answers are drained. A late `+CMGS: <mr>` or `+CMS ERROR` is returned.
    pub(crate) async fn resync(&mut self) -> Result<LateAnswer, ModemError> {
        self.resync_tries(self.config.resync_attempts).await
    }

    async fn resync_tries(&mut self, attempts: u32) -> Result<LateAnswer, ModemError> {
        let mut late = LateAnswer::default();
        let attempts = attempts.max(1);
        for attempt in 1..=attempts {
            self.write_all(b"AT\r").await?;
            let deadline = Instant::now() + self.config.resync_timeout;
            let mut echo_pos = 0;
            let ok = loop {
                match self
                    .read_item(Some("AT"), &b"AT"[echo_pos..], deadline)
                    .await?
                {
                    Some(Item::Final(Final::Ok)) => break true,
                    Some(Item::Echo { len }) => {
                        echo_pos += len;
                        late.echoed = true;
                    }
                    Some(other) => self.on_late_item(other, &mut late).await?,
                    None => break false,
                }
            };
            if ok {
                let quiet = self.config.resync_quiet;
                loop {
                    let until = Instant::now() + quiet;
                    match self.read_item(Some("AT"), b"", until).await? {
                        None => break,
                        Some(Item::Final(Final::Ok)) => {}
                        Some(other) => self.on_late_item(other, &mut late).await?,
                    }
                }
                self.needs_resync = false;
                if self.health == Health::Hung {
                    self.health = Health::Unknown;
                }
                debug!(attempt, "re-synced");
                return Ok(late);
            }
            debug!(attempt, "no OK to AT");
        }
        self.needs_resync = true;
        self.health = Health::Hung;
        Err(ModemError::Hung {
            attempts,
            each: self.config.resync_timeout,
        })
    }

    async fn on_late_item(&mut self, item: Item, late: &mut LateAnswer) -> Result<(), ModemError> {
        match item {
            Item::Info(line) => {
                if let Ok(mr) = parse::parse_cmgs(&line) {
                    debug!(mr, "late +CMGS while re-syncing");
                    late.message_ref = Some(mr);
                }
            }
            Item::Final(f @ (Final::Cms(_) | Final::Cme(_))) => {
                debug!(%f, "late error while re-syncing");
                late.error = Some(f);
            }
            Item::Final(_) | Item::Echo { .. } => {}
            Item::Prompt => self.write_all(&[ESC]).await?,
            Item::Urc(u) => self.on_urc(u),
            Item::Garbage(g) => debug!(len = g.len, preview = %g.preview, "skipped garbage"),
        }
        Ok(())
    }

    /// Waits up to `d` while idle, handling unsolicited codes; returns early (true) when one
    /// says the SIM, the SMS functions or the network became ready.
    pub(crate) async fn wait_for_readiness(&mut self, d: Duration) -> Result<bool, ModemError> {
        let until = Instant::now() + d;
        loop {
            match self.read_item(None, b"", until).await? {
                None => return Ok(false),
                Some(Item::Urc(u)) => {
                    let ready = matches!(
                        &u,
                        Urc::SmsReady | Urc::Pin(parse::PinState::Ready) | Urc::ModemReady
                    ) || matches!(&u, Urc::Registration(r) if r.stat.is_registered());
                    self.on_urc(u);
                    if ready {
                        return Ok(true);
                    }
                }
                Some(other) => self.on_idle_item(other).await?,
            }
        }
    }
}
