//! Supplementary services and character sets: `+CUSD`, `+CLIP`, `+CCWA`, `+CSCS=?`.

use super::{expect_name, split_fields, strip_name, ucs2_hex, Charset, ParseError};

/// A USSD answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ussd {
    /// `<m>`: 0 no further action, 1 further action required (session open), 2 terminated by
    /// the network, 3 other client responded, 4 not supported, 5 timeout.
    pub status: u8,
    /// The decoded text.
    pub text: Option<String>,
    pub dcs: Option<u32>,
}

impl Ussd {
    pub fn session_active(&self) -> bool {
        self.status == 1
    }
}

#[derive(PartialEq)]
enum Alphabet {
    Gsm7,
    EightBit,
    Ucs2,
}

/// The alphabet of a Cell Broadcast / USSD data coding scheme, TS 23.038 5.
fn cbs_alphabet(dcs: u32) -> Alphabet {
    let by_bits = |bits: u32| match (bits >> 2) & 0b11 {
        0b01 => Alphabet::EightBit,
        0b10 => Alphabet::Ucs2,
        _ => Alphabet::Gsm7,
    };
    match dcs {
        0x11 => Alphabet::Ucs2,
        0x40..=0x7F | 0x90..=0x9F => by_bits(dcs),
        0xF0..=0xFF if dcs & 0x04 != 0 => Alphabet::EightBit,
        _ => Alphabet::Gsm7,
    }
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// Packed GSM 7-bit in hex (what Huawei sticks send with `^USSDMODE=0`), TS 23.038 6.1.2.3.
fn packed_gsm7(text: &str) -> Option<String> {
    let bytes = hex_bytes(text)?;
    let mut count = bytes.len() * 8 / 7;
    let septets = crate::sms::gsm7::unpack(&bytes, 0, count);
    // 7 zero fill bits at the end read as a final '@': drop it.
    if bytes.len() * 8 % 7 == 0 && septets.last() == Some(&0) {
        count -= 1;
    }
    Some(crate::sms::gsm7::septets_to_string(
        &septets[..count.min(septets.len())],
    ))
}

/// `+CUSD: <m>[,<str>[,<dcs>]]`, TS 27.007 7.15. `<str>` is decoded from the TE character
/// set `charset` and from `<dcs>` (TS 23.038 5): UCS-2 hex when the DCS says UCS-2 or the
/// charset is "UCS2", packed 7-bit hex (Huawei) when a long all-hex string comes with a
/// 7-bit DCS or none, plain text otherwise. Text may span lines inside its quotes.
pub fn parse_cusd(line: &str, charset: &Charset) -> Result<Ussd, ParseError> {
    const WHAT: &str = "+CUSD answer";
    let rest = expect_name(line, "+CUSD", WHAT)?;
    let fields = split_fields(rest)?;
    let err = || ParseError::new(WHAT, line);
    let status = fields
        .first()
        .and_then(|f| f.int())
        .filter(|m| *m <= 5)
        .ok_or_else(err)? as u8;
    if fields.len() > 3 {
        return Err(err());
    }
    let dcs = match fields.get(2) {
        Some(f) if !f.is_empty() => Some(f.int().filter(|d| *d <= 255).ok_or_else(err)?),
        _ => None,
    };
    let text = match fields.get(1) {
        Some(f) if !f.is_empty() => {
            let raw = f.text.trim_matches(|c| c == '\r' || c == '\n');
            let alphabet = dcs.map(cbs_alphabet).unwrap_or(Alphabet::Gsm7);
            let decoded = if *charset == Charset::Ucs2 || alphabet == Alphabet::Ucs2 {
                ucs2_hex(raw).unwrap_or_else(|| raw.to_string())
            } else if alphabet == Alphabet::Gsm7 && raw.len() >= 16 && hex_bytes(raw).is_some() {
                packed_gsm7(raw).unwrap_or_else(|| raw.to_string())
            } else {
                charset.decode(raw)
            };
            Some(decoded)
        }
        _ => None,
    };
    Ok(Ussd { status, text, dcs })
}

/// The calling (or waiting) party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerId {
    pub number: String,
    /// `<type>`: 129 national/unknown, 145 international.
    pub toa: u8,
    /// `<class>` (only `+CCWA`).
    pub class: Option<u8>,
}

/// `+CLIP: <number>,<type>[,<subaddr>,<satype>[,[<alpha>][,<CLI validity>]]]`, TS 27.007
/// 7.18, and `+CCWA: <number>,<type>,<class>[,<alpha>][,<CLI validity>...]`, TS 27.007 7.12.
pub fn parse_clip(line: &str) -> Result<CallerId, ParseError> {
    const WHAT: &str = "+CLIP/+CCWA caller";
    let (rest, waiting) = match strip_name(line, "+CLIP") {
        Some(r) => (r, false),
        None => (expect_name(line, "+CCWA", WHAT)?, true),
    };
    let fields = split_fields(rest)?;
    let err = || ParseError::new(WHAT, line);
    if fields.len() < 2 {
        return Err(err());
    }
    let toa = fields[1].int().filter(|t| *t <= 255).ok_or_else(err)? as u8;
    let class = if waiting {
        Some(
            fields
                .get(2)
                .and_then(|f| f.int())
                .filter(|c| *c <= 255)
                .ok_or_else(err)? as u8,
        )
    } else {
        None
    };
    Ok(CallerId {
        number: fields[0].text.to_string(),
        toa,
        class,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cusd() {
        let u = parse_cusd(
            "+CUSD: 0,\"Available Balance: R 96.45 .\",15",
            &Charset::Ira,
        )
        .unwrap();
        assert_eq!(u.text.as_deref(), Some("Available Balance: R 96.45 ."));
        assert!(!u.session_active());
        let u = parse_cusd("+CUSD: 1,\"0041004200430044\",72", &Charset::Ira).unwrap();
        assert_eq!(u.text.as_deref(), Some("ABCD"));
        assert!(u.session_active());
        // "Hello" packed in 7 bits, Huawei style
        let u = parse_cusd("+CUSD: 0,\"C8329BFD0699E5EF3628\",15", &Charset::Ira).unwrap();
        assert!(u.text.unwrap().starts_with("Hello"));
        let u = parse_cusd("+CUSD: 2", &Charset::Ira).unwrap();
        assert_eq!((u.status, u.text), (2, None));
        assert!(parse_cusd("+CUSD: 9,\"x\"", &Charset::Ira).is_err());
        assert!(parse_cusd("+CUSD: 1,\"x\",900", &Charset::Ira).is_err());
    }

    #[test]
    fn clip_ccwa() {
        let c = parse_clip("+CLIP: \"123456789\",129,,,,0").unwrap();
        assert_eq!(
            (c.number.as_str(), c.toa, c.class),
            ("123456789", 129, None)
        );
        let c = parse_clip("+CCWA: \"123456789\",129,1,,0,,,").unwrap();
        assert_eq!(c.class, Some(1));
        assert!(parse_clip("+CLIP: \"1\"").is_err());
        assert!(parse_clip("+CCWA: \"1\",129").is_err());
    }
}
