//! TP-Data-Coding-Scheme (TS 23.038 clause 4): which alphabet the user data uses, its message
//! class, and the message-waiting groups.

/// The alphabet of the user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GSM 7-bit default alphabet (with the extension table).
    Gsm7,
    /// 8-bit data, not text.
    Data8,
    /// UCS-2, read as UTF-16 (surrogate pairs allowed) as every current handset does.
    Ucs2,
}

impl Encoding {
    /// Short name used by the CLI and the socket protocol.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Data8 => "8bit",
            Encoding::Ucs2 => "ucs2",
        }
    }
}

/// TS 23.038 4: message class 0 (flash) to 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageClass {
    Class0,
    Class1,
    Class2,
    Class3,
}

impl MessageClass {
    fn from_bits(bits: u8) -> Self {
        match bits & 0x03 {
            0 => Self::Class0,
            1 => Self::Class1,
            2 => Self::Class2,
            _ => Self::Class3,
        }
    }

    /// The class number.
    pub fn number(self) -> u8 {
        match self {
            Self::Class0 => 0,
            Self::Class1 => 1,
            Self::Class2 => 2,
            Self::Class3 => 3,
        }
    }

    /// Class from its number.
    pub fn from_number(n: u8) -> Option<Self> {
        (n <= 3).then(|| Self::from_bits(n))
    }
}

/// A decoded data coding scheme octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dcs {
    pub raw: u8,
    pub encoding: Encoding,
    pub class: Option<MessageClass>,
    /// The text is compressed (TS 23.042); we do not implement compression.
    pub compressed: bool,
}

impl Dcs {
    /// Interprets a DCS octet. Reserved values decode as GSM 7-bit, as TS 23.038 4 asks.
    pub fn decode(raw: u8) -> Self {
        let alphabet = |bits: u8| match bits & 0x03 {
            1 => Encoding::Data8,
            2 => Encoding::Ucs2,
            _ => Encoding::Gsm7,
        };
        match raw >> 4 {
            // 00xx and 01xx: general data coding (01: marked for automatic deletion).
            0x0..=0x7 => Dcs {
                raw,
                encoding: alphabet(raw >> 2),
                class: (raw & 0x10 != 0).then(|| MessageClass::from_bits(raw)),
                compressed: raw & 0x20 != 0,
            },
            // Message waiting indication groups: discard / store (GSM 7-bit), store (UCS-2).
            0xC | 0xD => Dcs {
                raw,
                encoding: Encoding::Gsm7,
                class: None,
                compressed: false,
            },
            0xE => Dcs {
                raw,
                encoding: Encoding::Ucs2,
                class: None,
                compressed: false,
            },
            // Data coding / message class.
            0xF => Dcs {
                raw,
                encoding: if raw & 0x04 != 0 {
                    Encoding::Data8
                } else {
                    Encoding::Gsm7
                },
                class: Some(MessageClass::from_bits(raw)),
                compressed: false,
            },
            // 1000..1011 reserved.
            _ => Dcs {
                raw,
                encoding: Encoding::Gsm7,
                class: None,
                compressed: false,
            },
        }
    }

    /// The octet for an uncompressed text message in `encoding` with an optional class.
    pub fn encode(encoding: Encoding, class: Option<MessageClass>) -> u8 {
        let alphabet = match encoding {
            Encoding::Gsm7 => 0x00,
            Encoding::Data8 => 0x04,
            Encoding::Ucs2 => 0x08,
        };
        match class {
            None => alphabet,
            Some(c) => 0x10 | alphabet | c.number(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(Dcs::decode(0x00).encoding, Encoding::Gsm7);
        assert_eq!(Dcs::decode(0x08).encoding, Encoding::Ucs2);
        assert_eq!(Dcs::decode(0x04).encoding, Encoding::Data8);
        let flash = Dcs::decode(0x10);
        assert_eq!(
            (flash.encoding, flash.class),
            (Encoding::Gsm7, Some(MessageClass::Class0))
        );
        let f1 = Dcs::decode(0xF1);
        assert_eq!(
            (f1.encoding, f1.class),
            (Encoding::Gsm7, Some(MessageClass::Class1))
        );
        assert_eq!(Dcs::decode(0xF4).encoding, Encoding::Data8);
        assert_eq!(Dcs::decode(0xE0).encoding, Encoding::Ucs2);
        assert!(Dcs::decode(0x20).compressed);
        for raw in [0x00, 0x08, 0x04, 0x10, 0x11, 0x18, 0x1A] {
            let d = Dcs::decode(raw);
            assert_eq!(Dcs::encode(d.encoding, d.class), raw);
        }
    }
}
