//! One modem: the engine that turns "send these PDUs" into AT commands on a byte stream, the
//! actor that owns it for the daemon, and everything they need (finding and opening serial
//! ports, init, health, transcripts for replay).
//!
//! | file | owns |
//! | --- | --- |
//! | [`actor`] | one task per modem behind a [`ModemHandle`]: requests in (send these PDUs, probe), a watched [`ModemStatus`] and a stream of [`ModemEvent`]s out |
//! | [`discovery`] | configured paths and globs, hot-plug (inotify), ports opened at their baud rate, one actor per device |
//! | [`engine`] | [`Engine`]: commands with deadlines, URC queue, ESC + re-sync after any timeout |
//! | `init.rs` | the init sequence (listed in its module doc) and health probing |
//! | `send.rs` | `AT+CMGS` for each part, back to back, with per-part [`PartOutcome`]s |
//! | `stored.rs` | `AT+CNMA` after `+CDS`/`+CMT`; a stored message read (`+CMGR`), the receive memory listed (`+CPMS?`, `+CMGL=4`), a message deleted (`+CMGD`) |
//! | [`port`] | opening a real port with tokio-serial, exclusively (TIOCEXCL + flock) |
//! | [`transcript`] | the fixture format (`fixtures/README.md`): parse, write, record |
//! | [`replay`] | a stream that plays a transcript's modem side, checking what the host writes |
//!
//! # Where a modem's words go
//!
//! Answers to our commands stay inside the engine. Everything the modem says by itself (an
//! unsolicited result code: `+CMTI` a message stored, `+CDS`/`+CDSI` a status report,
//! `+CMT` a message routed to us, `+CREG` registration, `RDY`/`^BOOT` restarts...) is parsed
//! by [`crate::at`] and queued by the engine; between messages the actor takes each one off
//! the queue and publishes it as a [`ModemEvent`] (device, IMSI, the parsed code) on the
//! broadcast channel behind [`ModemHandle::events`]. A restart also makes the actor run init
//! again. Whoever needs the codes subscribes; codes nobody subscribed to are dropped. Today
//! the daemon subscribes once per modem (`daemon::reports`): a `+CDS` (a routed status report)
//! goes to [`crate::service::reports`], which matches it to the part sent and settles the
//! delivery; a `+CDSI` makes the actor read the stored report (`stored.rs`), and delete it
//! once that is committed.
//!
//! # API of the engine
//!
//! ```text
//! let port = modem::port::open("/dev/ttyUSB2", 115200)?;        // exclusive, 8N1, no flow control
//! let mut m = modem::Engine::new(port, ModemConfig { cmgs_timeout: 15s, pin, .. });
//! let id: Identity = m.init().await?;                  // manufacturer, model, revision, imei, imsi,
//!                                                      // operator, own_number, smsc, signal
//! let outcomes: Vec<PartOutcome> = m.send_message(&parts).await;   // parts: &[sms::SubmitPdu]
//! m.signal().await?;  m.registration().await?;  m.check_health().await -> Health
//! m.take_urcs() -> Vec<at::Urc>;  m.next_urc().await (cancel-safe, for select!)
//! m.needs_reinit()    // an RDY / ^BOOT / SMS Ready / +CPIN: ... arrived after init: call init() again
//! ```
//!
//! - `Engine<S>` works on any `S: AsyncRead + AsyncWrite + Unpin` (serial port, PTY,
//!   `tokio::io::duplex`, [`replay::ReplayStream`]).
//! - [`PartOutcome`]: `Sent { message_ref }`; `Rejected { result, class }` (the modem or network
//!   said no; `class` is [`crate::at::ErrorClass`]: `Transient` retry on another modem,
//!   `Recipient` fail this number, `Sim` take the modem out); `NotSent` (no prompt: the PDU was
//!   never written, safe to retry); `Ambiguous` (Ctrl-Z written, then no answer within
//!   `cmgs_timeout` or the stream died: the part may have gone out); `Failed { error }`
//!   (transport failure before the PDU, `error.is_transport()`); `NotAttempted` (an earlier
//!   part failed; the first failure stops the message).
//! - [`ModemError::is_transport`]: port gone, EOF, I/O error, or hung (no `OK` to `AT` after
//!   the re-sync attempts). Other errors are answers ("no SIM", "PIN refused", "not
//!   registered", a command's `+CME ERROR`).
//! - Every timeout is followed by ESC and `AT` -> `OK` before anything else is written; a late
//!   `+CMGS: <mr>` seen while re-syncing turns an ambiguous part into a sent one.
//! - Unsolicited codes may arrive anywhere, even inside an echo; they are queued (bounded,
//!   oldest dropped) and never taken for an answer.

pub mod actor;
pub mod discovery;
pub mod engine;
pub mod error;
mod init;
pub mod port;
pub mod replay;
mod send;
mod stored;
pub mod transcript;
mod types;

pub use actor::{ModemEvent, ModemHandle, ModemStatus, StoredError, StoredList, Unavailable};
pub use engine::{Engine, Response};
pub use error::{ModemError, SimProblem};
pub use types::{
    AmbiguousReason, Health, Identity, ModemConfig, NotSentReason, PartOutcome, ReportRoute,
    SendGate,
};
