//! The SMS codec: pure functions from text to PDUs and from PDUs to fields. No I/O, no
//! clock, no randomness, no logging: everything (the concatenation reference too) is input.
//!
//! | file | owns |
//! | --- | --- |
//! | [`gsm7`] | the GSM 03.38 default alphabet, its extension table, septet packing |
//! | [`segment`] | choosing GSM 7-bit or UCS-2, counting and cutting parts |
//! | [`address`] | phone numbers, short codes, alphanumeric originators, the SMSC field |
//! | [`dcs`], [`udh`], [`timestamp`], [`validity`] | the TPDU fields of the same names |
//! | [`submit`] | SMS-SUBMIT encoding for `AT+CMGS` |
//! | [`decode`] | SMS-DELIVER / SUBMIT / STATUS-REPORT decoding (nom) |
//! | [`join`] | putting the parts of a concatenated message back together |

pub mod address;
pub mod dcs;
pub mod decode;
pub mod gsm7;
pub mod hex;
pub mod join;
pub mod segment;
pub mod submit;
pub mod timestamp;
pub mod udh;
pub mod validity;

pub use address::{Address, TypeOfNumber};
pub use dcs::{Dcs, Encoding, MessageClass};
pub use decode::{
    decode, decode_hex, decode_lenient, Deliver, Pdu, StatusReport, Submit, Tpdu, UserData,
};
pub use segment::{analyze, TextInfo};
pub use submit::{encode_submit, SubmitOptions, SubmitPdu};
pub use timestamp::Timestamp;
pub use udh::{Concat, Udh};
pub use validity::Validity;

/// Everything that can be wrong with a PDU, a number or a text, as a typed value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    #[error("hex text has an odd number of digits ({0})")]
    OddHexLength(usize),
    #[error("not a hex digit at position {position}")]
    BadHex { position: usize },
    #[error("PDU ends inside the {0}")]
    Truncated(&'static str),
    #[error("{field} is {value}, at most {max} is allowed")]
    BadLength {
        field: &'static str,
        value: usize,
        max: usize,
    },
    #[error("bad address: {0}")]
    BadAddress(String),
    #[error("bad {0}: a digit is not 0-9")]
    BadTimestamp(&'static str),
    #[error("bad user data header: {0}")]
    BadUdh(&'static str),
    #[error("unsupported TP-MTI in first octet 0x{0:02X} (reserved message type)")]
    UnsupportedType(u8),
    #[error("unsupported data coding scheme 0x{0:02X} (compressed text)")]
    UnsupportedDcs(u8),
    #[error("the text needs {parts} parts, at most {max} are allowed")]
    TooManyParts { parts: usize, max: usize },
}
