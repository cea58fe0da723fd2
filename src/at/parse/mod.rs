//! nom parsers for the information text of AT responses and unsolicited codes. Each parser
//! names the clause of 3GPP TS 27.005 / 27.007 (or the vendor manual) whose syntax it reads,
//! and takes the lines as the digester delivered them (CR LF already removed), so they work
//! the same on a solicited answer and on a URC. Every function returns an owned value or a
//! [`ParseError`]; none panics on any input (see the fuzz target and `tests/at_props.rs`).
//!
//! Real modems bend the grammar; the tolerated deviations are listed above each parser and
//! each has a row in the tests (most rows are answers recorded from real modems, the
//! conformance corpus's `at/responses.jsonl` that `tests/at_corpus.rs` replays).

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till, take_while};
use nom::character::complete::{char, digit1, space0};
use nom::combinator::{all_consuming, map, rest};
use nom::multi::separated_list0;
use nom::sequence::{delimited, preceded, terminated};
use nom::IResult;

mod network;
mod sim;
mod sms;
mod ussd;

pub use network::{
    parse_cclk, parse_cops_read, parse_cops_test, parse_csq, parse_hcsq, parse_registration,
    parse_time, AccessTech, Hcsq, Network, NetworkStatus, Operator, RegKind, RegStat, Registration,
    Signal,
};
pub use sim::{
    parse_cnum, parse_cpin, parse_identity, parse_imei, parse_imsi, parse_model_lines, PinState,
};
pub use sms::{
    parse_cds, parse_cmgl, parse_cmgr, parse_cmgs, parse_cmt, parse_cmti, parse_cnmi_test,
    parse_cpms_read, parse_cpms_set, parse_cpms_test, parse_csca, CnmiSupport, CpmsRead, CpmsTest,
    MessageEntry, Storage, StorageUse, StoredAt,
};
pub use ussd::{parse_clip, parse_cusd, CallerId, Ussd};

/// Why a line could not be read; carries what was expected and (a bounded copy of) the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse {what} from {line:?}")]
pub struct ParseError {
    pub what: &'static str,
    pub line: String,
}

impl ParseError {
    pub fn new(what: &'static str, line: &str) -> Self {
        let mut line = line.to_string();
        if line.len() > 120 {
            let mut cut = 120;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        ParseError { what, line }
    }
}

/// One comma-separated parameter of an information response (TS 27.007 4.1: strings are
/// quoted, numbers are not). `text` is trimmed of surrounding spaces and stripped of quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    pub text: &'a str,
    pub quoted: bool,
}

impl<'a> Field<'a> {
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// A decimal number (leading zeros allowed: `002`).
    pub fn int(&self) -> Option<u32> {
        if self.text.is_empty() || !self.text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.text
            .trim_start_matches('0')
            .parse::<u32>()
            .ok()
            .or_else(|| {
                // all zeros
                if self.text.bytes().all(|b| b == b'0') {
                    Some(0)
                } else {
                    None
                }
            })
    }

    /// A hexadecimal number, leniently: the leading hex digits (`"0 5"` reads as 0, as strtoul
    /// would), at most 8 of them; empty reads as `None`.
    pub fn hex_lenient(&self) -> Option<u32> {
        let digits: &str = {
            let end = self
                .text
                .bytes()
                .position(|b| !b.is_ascii_hexdigit())
                .unwrap_or(self.text.len());
            &self.text[..end]
        };
        if digits.is_empty() || digits.len() > 8 {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    }

    /// Starts like a hex number (or is empty): what a LAC/TAC/CI field must look like.
    pub fn looks_hex(&self) -> bool {
        self.text.is_empty() || self.text.as_bytes()[0].is_ascii_hexdigit()
    }
}

fn ws(input: &str) -> IResult<&str, &str> {
    take_while(|c: char| c == ' ' || c == '\t')(input)
}

/// `"..."`, or a quote never closed (the rest of the line, as Gammu's fallback reads it).
fn quoted(input: &str) -> IResult<&str, &str> {
    preceded(
        char('"'),
        alt((terminated(take_till(|c| c == '"'), char('"')), rest)),
    )(input)
}

fn field(input: &str) -> IResult<&str, Field<'_>> {
    let (input, _) = ws(input)?;
    if input.starts_with('"') {
        let (input, text) = quoted(input)?;
        let (input, _) = ws(input)?;
        Ok((input, Field { text, quoted: true }))
    } else {
        let (input, text) = take_till(|c| c == ',' || c == '"')(input)?;
        Ok((
            input,
            Field {
                text: text.trim(),
                quoted: false,
            },
        ))
    }
}

/// Splits a parameter list: `2,1,"8BE3", 2BAF` -> four fields. A quote opened in the middle of
/// a bare field, or text after a closing quote, is an error (`2,1,"0B,"0100701",7`).
pub fn split_fields(input: &str) -> Result<Vec<Field<'_>>, ParseError> {
    all_consuming(separated_list0(char(','), field))(input)
        .map(|(_, fields)| fields)
        .map_err(|_| ParseError::new("comma-separated parameters", input))
}

/// Strips `+NAME:` (case-insensitive, spaces after the colon allowed) from a line.
pub fn strip_name<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let line = line.trim_start();
    let head = line.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    let rest = line[name.len()..].trim_start();
    let rest = rest.strip_prefix(':')?;
    Some(rest.trim())
}

/// Like [`strip_name`], or a [`ParseError`] naming what was expected.
pub fn expect_name<'a>(
    line: &'a str,
    name: &str,
    what: &'static str,
) -> Result<&'a str, ParseError> {
    strip_name(line, name).ok_or_else(|| ParseError::new(what, line))
}

fn number_u32(input: &str) -> IResult<&str, u32> {
    nom::combinator::map_res(digit1, |d: &str| d.parse::<u32>())(input)
}

/// One value of a range list (TS 27.007 4.1, test command syntax): `(0-3)`, `(0,1,3)`,
/// `(0-1,3)`, `(2)`, `()`. Returns every allowed value (bounded to 0..=255).
fn range_list(input: &str) -> IResult<&str, Vec<u32>> {
    let item = alt((
        map(
            nom::sequence::separated_pair(
                number_u32,
                delimited(space0, char('-'), space0),
                number_u32,
            ),
            |(a, b)| (a.min(255), b.min(255)),
        ),
        map(number_u32, |a| (a.min(255), a.min(255))),
    ));
    let (input, items) = delimited(
        terminated(char('('), space0),
        separated_list0(delimited(space0, char(','), space0), item),
        preceded(space0, char(')')),
    )(input)?;
    let mut values = Vec::new();
    for (a, b) in items {
        for v in a.min(b)..=a.max(b) {
            if !values.contains(&v) {
                values.push(v);
            }
        }
    }
    Ok((input, values))
}

/// A parenthesised list of quoted strings, or one bare quoted string: `("ME","SM")`, `"ME"`,
/// `()`, `(  "ME"  ,  "MT"  )`, or nothing at all (an empty list).
fn string_list(input: &str) -> IResult<&str, Vec<String>> {
    let item = delimited(space0, quoted_strict, space0);
    let (input, _) = space0(input)?;
    alt((
        map(
            delimited(
                char('('),
                separated_list0(char(','), item),
                preceded(space0, char(')')),
            ),
            |v: Vec<&str>| v.into_iter().map(str::to_string).collect(),
        ),
        map(quoted_strict, |s: &str| vec![s.to_string()]),
        map(tag(""), |_| Vec::new()),
    ))(input)
}

fn quoted_strict(input: &str) -> IResult<&str, &str> {
    delimited(char('"'), take_till(|c| c == '"'), char('"'))(input)
}

/// Decodes a hex-encoded UCS-2 string (`AT+CSCS="UCS2"`, TS 27.007 5.5): `004D006F` -> "Mo".
pub fn ucs2_hex(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() || t.len() % 4 != 0 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let units: Vec<u16> = (0..t.len() / 4)
        .map(|i| u16::from_str_radix(&t[i * 4..i * 4 + 4], 16).unwrap_or(0xFFFD))
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// True when `text` is a UCS-2 hex rendering of a phone number (`002B0039...`): used to
/// recognise `+CSCA`/`+CNUM` answers given while `AT+CSCS="UCS2"` is active.
pub fn looks_like_ucs2_number(text: &str) -> bool {
    let t = text.trim();
    if t.len() < 8 || t.len() % 4 != 0 {
        return false;
    }
    match ucs2_hex(t) {
        Some(s) => {
            t.as_bytes().chunks(4).all(|c| c.starts_with(b"00"))
                && s.chars().all(|c| c.is_ascii_digit() || "+*#".contains(c))
        }
        None => false,
    }
}

/// Maps the modem's GSM-alphabet strings (TE character set "GSM", TS 27.007 5.5, one septet
/// per byte) to Unicode, e.g. `AT&T@` -> `AT&T¡`. Characters above 0x7F are kept as they are.
pub fn gsm_bytes_to_string(text: &str) -> String {
    use crate::sms::gsm7;
    let mut out = String::with_capacity(text.len());
    let mut escape = false;
    for c in text.chars() {
        let code = c as u32;
        if code >= 0x80 {
            out.push(c);
            escape = false;
            continue;
        }
        let septet = code as u8;
        if escape {
            out.push(gsm7::extension_char(septet));
            escape = false;
        } else if septet == gsm7::ESCAPE {
            escape = true;
        } else {
            out.push(gsm7::default_char(septet));
        }
    }
    out
}

/// The TE character set the modem uses for strings (`AT+CSCS`, TS 27.007 5.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Charset {
    /// "IRA" (ITU-T T.50, i.e. ASCII); also what modems call "ASCII".
    Ira,
    /// "GSM" default alphabet, one septet per byte.
    Gsm,
    /// "UCS2": every string is hex of 16-bit units.
    Ucs2,
    /// "8859-1".
    Iso8859_1,
    Utf8,
    Pccp437,
    Hex,
    Other(String),
}

impl Charset {
    pub fn from_name(name: &str) -> Charset {
        match name.trim().to_ascii_uppercase().as_str() {
            "IRA" | "ASCII" => Charset::Ira,
            "GSM" => Charset::Gsm,
            "UCS2" => Charset::Ucs2,
            "8859-1" | "8859_1" | "ISO8859-1" => Charset::Iso8859_1,
            "UTF8" | "UTF-8" => Charset::Utf8,
            "PCCP437" => Charset::Pccp437,
            "HEX" => Charset::Hex,
            _ => Charset::Other(name.trim().to_string()),
        }
    }

    /// Converts a string parameter as the modem sent it into Unicode.
    pub fn decode(&self, text: &str) -> String {
        match self {
            Charset::Ucs2 => ucs2_hex(text).unwrap_or_else(|| text.to_string()),
            Charset::Gsm => gsm_bytes_to_string(text),
            _ => text.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split() {
        let f = split_fields("2,1,\"8BE3\", 2BAF").unwrap();
        assert_eq!(f.len(), 4);
        assert_eq!(
            f[2],
            Field {
                text: "8BE3",
                quoted: true
            }
        );
        assert_eq!(
            f[3],
            Field {
                text: "2BAF",
                quoted: false
            }
        );
        assert_eq!(
            split_fields("").unwrap(),
            vec![Field {
                text: "",
                quoted: false
            }]
        );
        assert_eq!(split_fields("2,,").unwrap().len(), 3);
        // a quote never closed swallows the rest of the line
        let f = split_fields("2,1,\"5E25").unwrap();
        assert_eq!(
            f[2],
            Field {
                text: "5E25",
                quoted: true
            }
        );
        // text after a closing quote is an error
        assert!(split_fields("2,1,\"0B,\"0100701\",7").is_err());
        assert!(split_fields("1,ab\"c").is_err());
    }

    #[test]
    fn field_numbers() {
        let f = |t| Field {
            text: t,
            quoted: false,
        };
        assert_eq!(f("002").int(), Some(2));
        assert_eq!(f("000").int(), Some(0));
        assert_eq!(f("1A").int(), None);
        assert_eq!(f("").int(), None);
        assert_eq!(f("99999999999").int(), None);
        assert_eq!(f("0 5").hex_lenient(), Some(0));
        assert_eq!(f("a3fb477").hex_lenient(), Some(0xa3fb477));
        assert_eq!(f("123456789").hex_lenient(), None);
        assert_eq!(f("").hex_lenient(), None);
    }

    #[test]
    fn ranges_and_lists() {
        assert_eq!(range_list("(0-1,3)").unwrap().1, vec![0, 1, 3]);
        assert_eq!(range_list("( 2 )").unwrap().1, vec![2]);
        assert_eq!(range_list("()").unwrap().1, Vec::<u32>::new());
        assert!(range_list("(a)").is_err());
        assert_eq!(string_list("(\"ME\",\"MT\")").unwrap().1, vec!["ME", "MT"]);
        assert_eq!(string_list("\"ME\"").unwrap().1, vec!["ME"]);
        assert_eq!(string_list("").unwrap().1, Vec::<String>::new());
    }

    #[test]
    fn charsets() {
        assert_eq!(ucs2_hex("004D006F").as_deref(), Some("Mo"));
        assert_eq!(ucs2_hex("004D00"), None);
        assert!(looks_like_ucs2_number("002B00390037"));
        assert!(!looks_like_ucs2_number("00390612"));
        assert_eq!(gsm_bytes_to_string("AT&T@"), "AT&T¡");
        assert_eq!(Charset::from_name("ASCII"), Charset::Ira);
        assert_eq!(Charset::Ucs2.decode("0041"), "A");
    }

    #[test]
    fn names() {
        assert_eq!(strip_name("+CSQ: 18,99", "+CSQ"), Some("18,99"));
        assert_eq!(strip_name("+csq:4,0", "+CSQ"), Some("4,0"));
        assert_eq!(strip_name("+CSQX: 1", "+CSQ"), None);
        assert_eq!(strip_name("+CS", "+CSQ"), None);
    }
}
