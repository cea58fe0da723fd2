//! The AT layer, pure: no I/O, no tokio, no clock. Bytes in, classified items and typed
//! values out; command lines out as bytes.
//!
//! | file | owns |
//! | --- | --- |
//! | [`digest`] | the digester: classifies the front of the read buffer (response line, final result, `>` prompt, echo, URC, garbage, need more) |
//! | [`urc`] | which lines are unsolicited and what they say (`+CMTI`, `+CDS`, `+CREG`, `^RSSI`, `RDY`, `SMS Ready`...) |
//! | [`codes`] | final results, `+CMS`/`+CME` error codes with their TS 27.005/27.007 names and an [`ErrorClass`] each |
//! | [`parse`] | nom parsers of information lines, each citing its clause (`+CMGS`, `+CSQ`, `+CREG`, `+COPS`, `+CPIN`, `+CSCA`, `+CMGL`/`+CMGR`, `+CPMS`, `+CGSN`, `+CIMI`, `+CNUM`, `+CMTI`, `+CDS`, `+CNMI=?`, `+CUSD`, Huawei `^SYSINFO`/`^HCSQ`...) |
//! | [`command`] | the exact bytes of the commands we write |
//!
//! The one thing borrowed from elsewhere in the crate is the GSM 03.38 alphabet table of
//! [`crate::sms::gsm7`] (strings in the modem's "GSM" character set, packed USSD): one table,
//! defined once. It is as pure as this module.
//!
//! Typical use (what [`crate::modem`] does):
//! ```
//! use groupsms::at::{Context, Digester, Final, Item};
//! let mut d = Digester::new();
//! d.feed(b"AT+CSQ\r\r\n+CSQ: 21,99\r\n\r\nOK\r\n");
//! let mut echo: &[u8] = b"AT+CSQ";
//! let mut lines = Vec::new();
//! while let Some(item) = d.next(&Context { command: Some("AT+CSQ"), echo }) {
//!     match item {
//!         Item::Echo { len } => echo = &echo[len..],
//!         Item::Info(line) => lines.push(line),
//!         Item::Final(f) => { assert_eq!(f, Final::Ok); break }
//!         _ => {}
//!     }
//! }
//! let signal = groupsms::at::parse::parse_csq(&lines[0]).unwrap();
//! assert_eq!(signal.rssi, Some(21));
//! ```

pub mod codes;
pub mod command;
pub mod digest;
#[doc(hidden)]
pub mod fuzzing;
pub mod parse;
pub mod urc;

pub use codes::{BlockSign, CmeError, CmsError, ErrorClass, Final};
pub use digest::{digest, Context, Digester, Garbage, GarbageReason, Item, Step, MAX_AT_LINE};
pub use parse::ParseError;
pub use urc::Urc;
