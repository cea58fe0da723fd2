//! groupsms: send one message to a whole group by SMS through a pool of USB GSM modems.
//!
//! Map of the crate, in dependency order: each module uses only modules above it in this table
//! (checked against the `use` lines).
//!
//! | module | owns | uses |
//! | --- | --- | --- |
//! | [`domain`] | words several layers share: a member's [`Role`](domain::Role), the in-flight policy | - |
//! | [`clock`] | the one clock (settable where it starts, for tests) | - |
//! | [`logging`] | log lines a loop could repeat per item: the first written, the rest counted and summarised at most once a minute per kind | - |
//! | [`sms`] | the pure SMS codec: GSM 7-bit / UCS-2, concatenation, SMS-SUBMIT encode, SMS-DELIVER / STATUS-REPORT decode | - |
//! | [`at`] | the AT layer, pure: digester, URCs, `+CMS`/`+CME` codes, nom parsers of responses | `sms` |
//! | [`modem`] | one modem: the engine over any async byte stream, init, send, health; the actor behind a `ModemHandle` (typed status, URC events); discovery, hot-plug and serial ports; transcripts | `at`, `sms` |
//! | [`store`] | SQLite: groups, members, broadcasts, deliveries, quota usage, SIM counters, audit; the only module with SQL | `domain`, `sms` |
//! | [`service`] | the group-SMS rules: who may act as and read what, quota, recipients, sensitive words, compose, phone numbers, CSV import, cancelling, carriers (routing prefixes, block notices); their defaults | `store`, `sms`, `domain` |
//! | [`scheduler`] | fan-out across the modem pool through modem handles: fair choice of modem (carrier preference), per-SIM caps and pacing, quiet hours, quarantine, retries elsewhere, one try of a delivery, why work waits | `modem`, `store`, `service`, `at`, `domain`, `clock` |
//! | [`protocol`] | the socket protocol's requests, answers and events, defined once for daemon and clients | `domain` |
//! | [`config`] | the daemon's TOML configuration, checked (and its zone parsed) when read | `service`, `modem`, `domain`, `sms` |
//! | [`webhooks`] | the configured webhook endpoints and the sender that posts the outbox's events to them (signed; IM group robots' shapes and signs), at least once | `store`, `config`, `clock` |
//! | [`lockfile`] | one daemon per database: the lock file the daemon holds and the CLI asks about | - |
//! | [`emulator`] | virtual GSM modems on pseudo-terminals (demo, end-to-end tests, no hardware) | `sms` |
//! | [`daemon`] | wiring: socket listener and HTTP API (`daemon::http`, the same handlers) with its web console (`daemon::http::web`), request handlers, start-up and shutdown, signals, systemd notify | all of the above but `emulator` |
//! | [`cli`] | the command line, one file per subcommand; the daemon's state only through `protocol` | `protocol`, `config`, `daemon`, `emulator`, `modem`, `at`, `sms`, `lockfile` |
//!
//! `sms` uses nothing else of this crate and does no I/O; `at` is pure too (it borrows only the
//! GSM alphabet table of `sms`). `cli` reaches into `daemon` only to run it (`groupsms daemon`,
//! `groupsms demo`) and into `modem` only for `modem probe`, which talks to a device directly.

pub mod at;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod domain;
pub mod emulator;
pub mod lockfile;
pub mod logging;
pub mod modem;
pub mod protocol;
pub mod scheduler;
pub mod service;
pub mod sms;
pub mod store;
pub mod webhooks;
