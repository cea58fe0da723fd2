//! Choosing the alphabet and cutting a text into parts (TS 23.040 9.2.3.24.1 concatenation;
//! sizes from TS 23.038: 160 septets or 140 octets of user data per message, less the
//! 6-octet concatenation header in each part of a long message).
//!
//! Parts never split an escape sequence (GSM 7-bit) or a surrogate pair (UTF-16).

use super::dcs::Encoding;
use super::gsm7::{self, Septets};
use super::SmsError;

/// Septets in one unconcatenated GSM 7-bit message.
pub const GSM7_SINGLE: usize = 160;
/// Septets per part of a concatenated GSM 7-bit message (8-bit reference header).
pub const GSM7_MULTI: usize = 153;
/// UTF-16 code units in one unconcatenated UCS-2 message.
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 code units per part of a concatenated UCS-2 message (8-bit reference header).
pub const UCS2_MULTI: usize = 67;
/// Hard limit of the 8-bit concatenation element.
pub const MAX_PARTS_LIMIT: usize = 255;

/// The user data of one part, before packing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartBody {
    /// Unpacked septets, escapes included.
    Gsm7(Vec<u8>),
    /// UTF-16 code units.
    Ucs2(Vec<u16>),
}

/// What a user needs to know to keep a message short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextInfo {
    pub encoding: Encoding,
    /// Number of parts (1 for an empty text).
    pub parts: usize,
    /// Septets (GSM 7-bit) or UTF-16 code units (UCS-2) of the whole text.
    pub units: usize,
    /// Units one part holds: 160/70 for a single message, 153/67 per part otherwise.
    pub per_part: usize,
    /// Units still free in the last part. For GSM 7-bit, an extension character needs 2.
    pub remaining: usize,
}

/// GSM 7-bit when every character is in the default alphabet or its extension, else UCS-2.
pub fn choose_encoding(text: &str) -> Encoding {
    if text.chars().all(|c| gsm7::encode_char(c).is_some()) {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    }
}

/// Counts parts and free space without allocating.
pub fn analyze(text: &str) -> TextInfo {
    let encoding = choose_encoding(text);
    let cost = |c: char| match encoding {
        Encoding::Ucs2 => c.len_utf16(),
        _ => gsm7::encode_char(c).map_or(1, Septets::cost),
    };
    let (single, multi) = limits(encoding);
    let units: usize = text.chars().map(cost).sum();
    if units <= single {
        return TextInfo {
            encoding,
            parts: 1,
            units,
            per_part: single,
            remaining: single - units,
        };
    }
    let (mut parts, mut used) = (1, 0);
    for c in text.chars() {
        let k = cost(c);
        if used + k > multi {
            parts += 1;
            used = 0;
        }
        used += k;
    }
    TextInfo {
        encoding,
        parts,
        units,
        per_part: multi,
        remaining: multi - used,
    }
}

fn limits(encoding: Encoding) -> (usize, usize) {
    match encoding {
        Encoding::Ucs2 => (UCS2_SINGLE, UCS2_MULTI),
        _ => (GSM7_SINGLE, GSM7_MULTI),
    }
}

/// Cuts `text` into parts in its natural encoding. Fails when more than `max_parts` are needed.
pub fn split(text: &str, max_parts: usize) -> Result<Vec<PartBody>, SmsError> {
    let encoding = choose_encoding(text);
    let (single, multi) = limits(encoding);
    let max = max_parts.clamp(1, MAX_PARTS_LIMIT);
    let mut parts = Vec::with_capacity(1);
    match encoding {
        Encoding::Ucs2 => {
            let units: Vec<u16> = text.encode_utf16().collect();
            if units.len() <= single {
                parts.push(PartBody::Ucs2(units));
            } else {
                let mut current = Vec::with_capacity(multi);
                for c in text.chars() {
                    let mut buf = [0u16; 2];
                    let enc = c.encode_utf16(&mut buf);
                    if current.len() + enc.len() > multi {
                        parts.push(PartBody::Ucs2(std::mem::take(&mut current)));
                    }
                    current.extend_from_slice(enc);
                }
                parts.push(PartBody::Ucs2(current));
            }
        }
        _ => {
            let mut septets = Vec::with_capacity(text.len() + 8);
            gsm7::string_to_septets(text, &mut septets)
                .expect("choose_encoding checked every character");
            if septets.len() <= single {
                parts.push(PartBody::Gsm7(septets));
            } else {
                let mut start = 0;
                while start < septets.len() {
                    let mut end = (start + multi).min(septets.len());
                    // Never end a part on the ESC of an escape pair. An ESC is always the first
                    // of its pair, so count escapes from `start` to know where pairs begin.
                    if end < septets.len() && ends_inside_escape(&septets[start..end]) {
                        end -= 1;
                    }
                    parts.push(PartBody::Gsm7(septets[start..end].to_vec()));
                    start = end;
                }
            }
        }
    }
    if parts.len() > max {
        return Err(SmsError::TooManyParts {
            parts: parts.len(),
            max,
        });
    }
    Ok(parts)
}

/// True when the last septet of `slice` is an ESC that opens a pair (not the code of one).
fn ends_inside_escape(slice: &[u8]) -> bool {
    let mut i = 0;
    while i < slice.len() {
        if slice[i] == gsm7::ESCAPE {
            if i + 1 == slice.len() {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        assert_eq!(analyze(&"a".repeat(160)).parts, 1);
        assert_eq!(analyze(&"a".repeat(161)).parts, 2);
        assert_eq!(analyze(&"中".repeat(70)).parts, 1);
        assert_eq!(analyze(&"中".repeat(71)).parts, 2);
        assert_eq!(analyze(&"€".repeat(80)).parts, 1);
        assert_eq!(analyze(&"€".repeat(81)).parts, 2);
        assert_eq!(analyze("").parts, 1);
        let info = analyze(&"😀".repeat(35));
        assert_eq!((info.parts, info.units, info.remaining), (1, 70, 0));
        assert_eq!(analyze(&"😀".repeat(36)).parts, 2);
    }

    #[test]
    fn escape_is_never_split() {
        let text = format!("{}€", "a".repeat(152)) + &"b".repeat(10);
        let parts = split(&text, 5).unwrap();
        let PartBody::Gsm7(first) = &parts[0] else {
            panic!()
        };
        assert_eq!(first.len(), 152);
        let PartBody::Gsm7(second) = &parts[1] else {
            panic!()
        };
        assert_eq!(&second[..2], &[0x1B, 0x65]);
        assert_eq!(analyze(&text).parts, 2);
    }

    #[test]
    fn surrogate_pair_is_never_split() {
        let text = format!("{}😀", "中".repeat(66)) + &"中".repeat(10);
        let parts = split(&text, 5).unwrap();
        let PartBody::Ucs2(first) = &parts[0] else {
            panic!()
        };
        assert_eq!(first.len(), 66);
        let PartBody::Ucs2(second) = &parts[1] else {
            panic!()
        };
        assert_eq!(second.len(), 12);
    }

    #[test]
    fn too_many_parts() {
        let text = "a".repeat(153 * 5 + 1);
        assert_eq!(
            split(&text, 5),
            Err(SmsError::TooManyParts { parts: 6, max: 5 })
        );
        assert_eq!(split(&text, 6).unwrap().len(), 6);
    }
}
