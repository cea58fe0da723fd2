//! The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 6.2.1 and 6.2.1.1),
//! and septet packing with fill bits after a user data header (TS 23.040 9.2.3.24).

/// The escape septet that announces a character from the extension table.
pub const ESCAPE: u8 = 0x1B;

/// TS 23.038 6.2.1, the default alphabet; index = septet value. 0x1B is the escape and maps
/// to a non-breaking space when a decoder meets it without a following extension code.
const DEFAULT_ALPHABET: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{a0}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// TS 23.038 6.2.1.1, the default alphabet extension table: (code after ESC, character).
const EXTENSION_TABLE: [(u8, char); 10] = [
    (0x0A, '\u{0c}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// How one character is written in GSM 7-bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Septets {
    /// One septet of the default alphabet.
    One(u8),
    /// ESC followed by this code of the extension table: two septets.
    Escaped(u8),
}

impl Septets {
    /// Septets this character costs (1 or 2).
    pub fn cost(self) -> usize {
        match self {
            Septets::One(_) => 1,
            Septets::Escaped(_) => 2,
        }
    }
}

/// Reverse table for ASCII, built at compile time: 0xFF = not in the default alphabet,
/// 0x80 | code = in the extension table.
const ASCII_TO_GSM: [u8; 128] = build_ascii_table();

const fn build_ascii_table() -> [u8; 128] {
    let mut table = [0xFFu8; 128];
    let mut septet = 0;
    while septet < 128 {
        let c = DEFAULT_ALPHABET[septet] as u32;
        if c < 128 && septet != ESCAPE as usize {
            table[c as usize] = septet as u8;
        }
        septet += 1;
    }
    let mut i = 0;
    while i < EXTENSION_TABLE.len() {
        let (code, c) = EXTENSION_TABLE[i];
        if (c as u32) < 128 {
            table[c as usize] = 0x80 | code;
        }
        i += 1;
    }
    table
}

/// The GSM 7-bit form of `c`, or `None` when the character needs UCS-2.
#[inline]
pub fn encode_char(c: char) -> Option<Septets> {
    let u = c as u32;
    if u < 128 {
        return match ASCII_TO_GSM[u as usize] {
            0xFF => None,
            v if v & 0x80 != 0 => Some(Septets::Escaped(v & 0x7F)),
            v => Some(Septets::One(v)),
        };
    }
    if c == '€' {
        return Some(Septets::Escaped(0x65));
    }
    // Ω (U+03A9) is the highest code point of the default table besides the ESC placeholder.
    if u > 0x3A9 {
        return None;
    }
    DEFAULT_ALPHABET
        .iter()
        .position(|&d| d == c && d != '\u{a0}')
        .map(|p| Septets::One(p as u8))
}

/// The character of a default-alphabet septet (values above 0x7F are masked).
#[inline]
pub fn default_char(septet: u8) -> char {
    DEFAULT_ALPHABET[(septet & 0x7F) as usize]
}

/// The character for `ESC code`. TS 23.038 6.2.1.1: a code without an entry in the
/// extension table is shown as the default-alphabet character of the same code.
pub fn extension_char(code: u8) -> char {
    EXTENSION_TABLE
        .iter()
        .find(|(k, _)| *k == code & 0x7F)
        .map(|(_, c)| *c)
        .unwrap_or_else(|| default_char(code))
}

/// Turns unpacked septets into text, resolving escapes. A lone ESC at the end is dropped.
pub fn septets_to_string(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter();
    while let Some(&s) = iter.next() {
        if s & 0x7F == ESCAPE {
            if let Some(&code) = iter.next() {
                out.push(extension_char(code));
            }
        } else {
            out.push(default_char(s));
        }
    }
    out
}

/// Appends the septets of `text` to `out`; `None` if some character is not in GSM 7-bit.
pub fn string_to_septets(text: &str, out: &mut Vec<u8>) -> Option<()> {
    for c in text.chars() {
        match encode_char(c)? {
            Septets::One(s) => out.push(s),
            Septets::Escaped(code) => {
                out.push(ESCAPE);
                out.push(code);
            }
        }
    }
    Some(())
}

/// Number of septets a user data header of `udh_octets` octets (UDHL included) occupies,
/// fill bits included (TS 23.040 9.2.3.24: the text starts on a septet boundary).
pub fn header_septets(udh_octets: usize) -> usize {
    (udh_octets * 8).div_ceil(7)
}

/// Packs `septets` into `out` starting at septet position `skip` of the user data, whose first
/// `out.len()` octets already hold the header (if any). Returns nothing; `out` grows to
/// `ceil((skip + septets.len()) * 7 / 8)` octets.
pub fn pack_into(out: &mut Vec<u8>, skip: usize, septets: &[u8]) {
    let total_bits = (skip + septets.len()) * 7;
    let start_len = out.len();
    out.resize(total_bits.div_ceil(8).max(start_len), 0);
    let mut bit = skip * 7;
    for &s in septets {
        let s = (s & 0x7F) as u16;
        let byte = bit / 8;
        let shift = bit % 8;
        let v = s << shift;
        out[byte] |= v as u8;
        if shift > 1 {
            out[byte + 1] |= (v >> 8) as u8;
        }
        bit += 7;
    }
}

/// Packs septets from bit 0 (no header).
pub fn pack(septets: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity((septets.len() * 7).div_ceil(8));
    pack_into(&mut out, 0, septets);
    out
}

/// Unpacks septets `skip .. count` from packed user data. Septets past the end of `data` are
/// not produced (the caller compares the length with what it expected).
pub fn unpack(data: &[u8], skip: usize, count: usize) -> Vec<u8> {
    let available = data.len() * 8 / 7;
    let end = count.min(available);
    let mut out = Vec::with_capacity(end.saturating_sub(skip));
    for i in skip..end {
        let bit = i * 7;
        let byte = bit / 8;
        let shift = bit % 8;
        let lo = data[byte] as u16;
        let hi = data.get(byte + 1).copied().unwrap_or(0) as u16;
        out.push((((hi << 8 | lo) >> shift) & 0x7F) as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_character_round_trips() {
        for septet in 0u8..128 {
            if septet == ESCAPE {
                continue;
            }
            let c = default_char(septet);
            assert_eq!(encode_char(c), Some(Septets::One(septet)), "{c:?}");
        }
    }

    #[test]
    fn extension_characters_cost_two() {
        for c in ['^', '{', '}', '\\', '[', '~', ']', '|', '€', '\u{0c}'] {
            let s = encode_char(c).expect("in table");
            assert_eq!(s.cost(), 2, "{c:?}");
            let Septets::Escaped(code) = s else {
                unreachable!()
            };
            assert_eq!(extension_char(code), c);
        }
    }

    #[test]
    fn non_gsm_characters_are_refused() {
        for c in ['中', '😀', '`', 'š', '\u{a0}', '\t'] {
            assert_eq!(encode_char(c), None, "{c:?}");
        }
    }

    #[test]
    fn packing_known_vectors() {
        // "hellohello" from TS 23.040 examples as commonly cited: E8329BFD4697D9EC37.
        let mut s = Vec::new();
        string_to_septets("hellohello", &mut s).unwrap();
        assert_eq!(
            pack(&s),
            [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
        assert_eq!(unpack(&pack(&s), 0, s.len()), s);
    }

    #[test]
    fn unknown_escape_falls_back_to_default_table() {
        assert_eq!(septets_to_string(&[ESCAPE, 0x41]), "A");
        assert_eq!(septets_to_string(&[0x41, ESCAPE]), "A");
    }

    #[test]
    fn header_septets_include_fill_bits() {
        assert_eq!(header_septets(6), 7); // 48 bits + 1 fill bit
        assert_eq!(header_septets(7), 8); // 56 bits, no fill
        assert_eq!(header_septets(0), 0);
    }
}
