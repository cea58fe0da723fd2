//! groupsms: send one message to a whole group by SMS through a pool of USB GSM modems.
//!
//! Map of the crate (dependencies run downwards only):
//!
//! | module | owns |
//! | --- | --- |
//! | [`sms`] | the pure SMS codec: GSM 7-bit / UCS-2, concatenation, SMS-SUBMIT encode, SMS-DELIVER / STATUS-REPORT decode |
//! | [`store`] | SQLite: groups, members, broadcasts, deliveries, quota usage, SIM counters, audit; the only module with SQL |
//! | [`service`] | the group-SMS rules: authorize, quota, recipients, sensitive words, compose, phone numbers, CSV import |
//! | [`scheduler`] | fan-out across the modem pool: fair choice of modem, per-SIM caps, retries |
//! | [`config`] | the daemon's TOML configuration with defaults and checked values |
//! | [`protocol`] | the socket protocol's wire types, defined once for daemon and clients |
//! | [`at`] | the AT layer, pure: digester, URCs, `+CMS`/`+CME` codes, nom parsers of responses |
//! | [`modem`] | one modem: the engine over any async byte stream, init, send, health, serial port, transcripts |
//! | [`daemon`] | wiring: socket listener, request handlers, modem actors, signals, systemd notify |
//! | [`lockfile`] | one daemon per database: the lock file the daemon holds and the CLI asks about |
//! | [`cli`] | the command line, one file per subcommand |
//! | [`emulator`] | virtual GSM modems on pseudo-terminals (demo, end-to-end tests, no hardware) |
//!
//! `sms` uses nothing else of this crate and does no I/O; `at` is pure too (it borrows only the
//! GSM alphabet table of `sms`).

pub mod at;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod emulator;
pub mod lockfile;
pub mod modem;
pub mod protocol;
pub mod scheduler;
pub mod service;
pub mod sms;
pub mod store;
