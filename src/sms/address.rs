//! Addresses: TP-OA / TP-DA / TP-RA (TS 23.040 9.1.2.5) and the SMSC address that prefixes a
//! PDU in AT PDU mode (TS 24.011 8.2.5.1, as carried by TS 27.005 3.1 `<pdu>`).

use std::fmt;

use super::gsm7;
use super::SmsError;

/// Type of number, bits 6..4 of the type-of-address octet (TS 23.040 9.1.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeOfNumber {
    Unknown,
    International,
    National,
    NetworkSpecific,
    Subscriber,
    Alphanumeric,
    Abbreviated,
    Reserved,
}

impl TypeOfNumber {
    fn from_bits(bits: u8) -> Self {
        match bits & 0x07 {
            0 => Self::Unknown,
            1 => Self::International,
            2 => Self::National,
            3 => Self::NetworkSpecific,
            4 => Self::Subscriber,
            5 => Self::Alphanumeric,
            6 => Self::Abbreviated,
            _ => Self::Reserved,
        }
    }

    fn bits(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::International => 1,
            Self::National => 2,
            Self::NetworkSpecific => 3,
            Self::Subscriber => 4,
            Self::Alphanumeric => 5,
            Self::Abbreviated => 6,
            Self::Reserved => 7,
        }
    }

    /// Lower-case name, as the CLI prints it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::International => "international",
            Self::National => "national",
            Self::NetworkSpecific => "network-specific",
            Self::Subscriber => "subscriber",
            Self::Alphanumeric => "alphanumeric",
            Self::Abbreviated => "abbreviated",
            Self::Reserved => "reserved",
        }
    }
}

/// A phone number, short code or alphanumeric originator.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub ton: TypeOfNumber,
    /// Numbering plan identification, the low nibble of the type-of-address octet
    /// (1 = ISDN/E.164).
    pub npi: u8,
    /// Digits (with `*#abc` for extended BCD), without `+`; or the alphanumeric text.
    pub value: String,
}

/// Longest address value: TS 23.040 9.1.2.5 allows 20 semi-octets.
pub const MAX_DIGITS: usize = 20;

impl Address {
    /// Parses a number as a user types it: `+8613800138000` (international), `13800138000`
    /// or `10086` (TON unknown, which networks route as national or short code). Spaces,
    /// dashes, dots and parentheses are ignored.
    pub fn parse(text: &str) -> Result<Self, SmsError> {
        let trimmed = text.trim();
        let (international, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' | '*' | '#' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(SmsError::BadAddress(format!("{text:?}: unexpected {c:?}"))),
            }
        }
        if digits.is_empty() {
            return Err(SmsError::BadAddress(format!("{text:?}: no digits")));
        }
        if digits.len() > MAX_DIGITS {
            return Err(SmsError::BadAddress(format!(
                "{text:?}: {} digits, at most {MAX_DIGITS}",
                digits.len()
            )));
        }
        Ok(Address {
            ton: if international {
                TypeOfNumber::International
            } else {
                TypeOfNumber::Unknown
            },
            npi: 1,
            value: digits,
        })
    }

    /// The type-of-address octet.
    pub fn type_octet(&self) -> u8 {
        0x80 | self.ton.bits() << 4 | (self.npi & 0x0F)
    }

    /// Appends the TP address field: length in semi-octets, type of address, BCD digits.
    pub fn encode_tp(&self, out: &mut Vec<u8>) -> Result<(), SmsError> {
        if self.ton == TypeOfNumber::Alphanumeric {
            let mut septets = Vec::new();
            gsm7::string_to_septets(&self.value, &mut septets)
                .ok_or_else(|| SmsError::BadAddress(format!("{:?}: not GSM 7-bit", self.value)))?;
            let packed = gsm7::pack(&septets);
            if packed.len() > 10 {
                return Err(SmsError::BadAddress(format!(
                    "{:?}: longer than 11 characters",
                    self.value
                )));
            }
            out.push((septets.len() * 7).div_ceil(4) as u8);
            out.push(self.type_octet());
            out.extend_from_slice(&packed);
            return Ok(());
        }
        out.push(self.value.len() as u8);
        out.push(self.type_octet());
        push_bcd(&self.value, out)
    }

    /// Appends the SMSC address field of a PDU-mode PDU: length in octets (type octet
    /// included), type of address, BCD digits.
    pub fn encode_smsc(&self, out: &mut Vec<u8>) -> Result<(), SmsError> {
        out.push((1 + self.value.len().div_ceil(2)) as u8);
        out.push(self.type_octet());
        push_bcd(&self.value, out)
    }

    /// Decodes TP address fields given the length octet (semi-octets), the type octet and
    /// the following `ceil(len/2)` octets.
    pub fn decode_tp(semi_octets: u8, type_octet: u8, body: &[u8]) -> Result<Self, SmsError> {
        let ton = TypeOfNumber::from_bits(type_octet >> 4);
        let npi = type_octet & 0x0F;
        if ton == TypeOfNumber::Alphanumeric {
            let septets = gsm7::unpack(body, 0, semi_octets as usize * 4 / 7);
            return Ok(Address {
                ton,
                npi,
                value: gsm7::septets_to_string(&septets),
            });
        }
        Ok(Address {
            ton,
            npi,
            value: bcd_digits(body, semi_octets as usize),
        })
    }

    /// Decodes an SMSC address body (`len` octets after the length octet, type included).
    pub fn decode_smsc(body: &[u8]) -> Result<Option<Self>, SmsError> {
        let Some((&type_octet, digits)) = body.split_first() else {
            return Ok(None);
        };
        let ton = TypeOfNumber::from_bits(type_octet >> 4);
        let value = bcd_digits(digits, digits.len() * 2);
        if value.is_empty() {
            return Ok(None);
        }
        Ok(Some(Address {
            ton,
            npi: type_octet & 0x0F,
            value,
        }))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ton == TypeOfNumber::International {
            write!(f, "+{}", self.value)
        } else {
            f.write_str(&self.value)
        }
    }
}

fn push_bcd(digits: &str, out: &mut Vec<u8>) -> Result<(), SmsError> {
    let mut nibbles = digits.bytes().map(|d| match d {
        b'0'..=b'9' => Ok(d - b'0'),
        b'*' => Ok(0x0A),
        b'#' => Ok(0x0B),
        b'a' => Ok(0x0C),
        b'b' => Ok(0x0D),
        b'c' => Ok(0x0E),
        _ => Err(SmsError::BadAddress(format!(
            "{digits:?}: {:?} is not a BCD digit",
            d as char
        ))),
    });
    while let Some(lo) = nibbles.next() {
        let lo = lo?;
        let hi = nibbles.next().transpose()?.unwrap_or(0x0F);
        out.push(hi << 4 | lo);
    }
    Ok(())
}

/// Semi-octet digits, low nibble first; 0xF is filler and ends the number (TS 23.040 9.1.2.3).
fn bcd_digits(body: &[u8], count: usize) -> String {
    let mut s = String::with_capacity(count);
    for i in 0..count.min(body.len() * 2) {
        let b = body[i / 2];
        let n = if i % 2 == 0 { b & 0x0F } else { b >> 4 };
        match n {
            0..=9 => s.push((b'0' + n) as char),
            0x0A => s.push('*'),
            0x0B => s.push('#'),
            0x0C => s.push('a'),
            0x0D => s.push('b'),
            0x0E => s.push('c'),
            _ => break,
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_number_encodes_as_spec_example() {
        let a = Address::parse("+8613800138000").unwrap();
        let mut out = Vec::new();
        a.encode_tp(&mut out).unwrap();
        assert_eq!(out, [0x0D, 0x91, 0x68, 0x31, 0x08, 0x10, 0x83, 0x00, 0xF0]);
        let back = Address::decode_tp(out[0], out[1], &out[2..]).unwrap();
        assert_eq!(back.to_string(), "+8613800138000");
    }

    #[test]
    fn short_code_and_national() {
        let a = Address::parse("10086").unwrap();
        assert_eq!(a.ton, TypeOfNumber::Unknown);
        let mut out = Vec::new();
        a.encode_tp(&mut out).unwrap();
        assert_eq!(out, [0x05, 0x81, 0x01, 0x80, 0xF6]);
    }

    #[test]
    fn parse_rejects_garbage() {
        assert!(Address::parse("").is_err());
        assert!(Address::parse("+").is_err());
        assert!(Address::parse("12a3").is_err());
        assert!(Address::parse("123456789012345678901").is_err());
        assert_eq!(
            Address::parse(" +86 138-0013 8000 ").unwrap().value,
            "8613800138000"
        );
    }

    #[test]
    fn alphanumeric_round_trip() {
        let a = Address {
            ton: TypeOfNumber::Alphanumeric,
            npi: 0,
            value: "InfoSMS".into(),
        };
        let mut out = Vec::new();
        a.encode_tp(&mut out).unwrap();
        assert_eq!(out[1], 0xD0);
        let back = Address::decode_tp(out[0], out[1], &out[2..]).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn smsc_field() {
        let a = Address::parse("+8613800100500").unwrap();
        let mut out = Vec::new();
        a.encode_smsc(&mut out).unwrap();
        assert_eq!(out, [0x08, 0x91, 0x68, 0x31, 0x08, 0x10, 0x00, 0x05, 0xF0]);
        assert_eq!(
            Address::decode_smsc(&out[1..])
                .unwrap()
                .unwrap()
                .to_string(),
            "+8613800100500"
        );
    }
}
