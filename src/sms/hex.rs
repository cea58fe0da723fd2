//! Hexadecimal text as AT commands carry PDUs (TS 27.005 3.1: "hexadecimal format").

use super::SmsError;

/// Upper-case hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0x0F) as usize] as char);
    }
    s
}

/// Bytes of a hex string (either case). Errors name the first offending position.
pub fn decode(text: &str) -> Result<Vec<u8>, SmsError> {
    let raw = text.as_bytes();
    if raw.len() % 2 != 0 {
        return Err(SmsError::OddHexLength(raw.len()));
    }
    let mut out = Vec::with_capacity(raw.len() / 2);
    for (i, pair) in raw.chunks_exact(2).enumerate() {
        let hi = nibble(pair[0]).ok_or(SmsError::BadHex { position: 2 * i })?;
        let lo = nibble(pair[1]).ok_or(SmsError::BadHex {
            position: 2 * i + 1,
        })?;
        out.push(hi << 4 | lo);
    }
    Ok(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        assert_eq!(encode(&[0x00, 0xAB, 0x1f]), "00AB1F");
        assert_eq!(decode("00ab1F").unwrap(), [0x00, 0xAB, 0x1F]);
        assert_eq!(decode("0"), Err(SmsError::OddHexLength(1)));
        assert_eq!(decode("0G"), Err(SmsError::BadHex { position: 1 }));
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }
}
