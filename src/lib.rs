//! groupsms: send one message to a whole group by SMS through a pool of USB GSM modems.
//!
//! Map of the crate (dependencies run downwards only):
//!
//! | module | owns |
//! | --- | --- |
//! | [`sms`] | the pure SMS codec: GSM 7-bit / UCS-2, concatenation, SMS-SUBMIT encode, SMS-DELIVER / STATUS-REPORT decode |
//! | [`cli`] | the command line, one file per subcommand |
//! | [`emulator`] | virtual GSM modems on pseudo-terminals (demo, end-to-end tests, no hardware) |
//!
//! `sms` uses nothing else of this crate and does no I/O.

pub mod cli;
pub mod emulator;
pub mod sms;
