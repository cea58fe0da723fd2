//! User data header (TS 23.040 9.2.3.24): information elements, of which we interpret the
//! concatenation ones (9.2.3.24.1 8-bit reference, 9.2.3.24.8 16-bit reference) and keep the
//! rest as raw elements.

use super::SmsError;

/// IEI of concatenated short messages, 8-bit reference number.
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI of concatenated short messages, 16-bit reference number.
pub const IEI_CONCAT_16: u8 = 0x08;

/// Where a part belongs in a concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// Reference number, the same in every part of one message.
    pub reference: u16,
    /// Whether the reference was carried in 16 bits (IEI 0x08).
    pub wide_reference: bool,
    /// Number of parts (1..=255).
    pub parts: u8,
    /// This part's number, 1-based.
    pub seq: u8,
}

/// One information element as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformationElement {
    pub id: u8,
    pub data: Vec<u8>,
}

/// A decoded user data header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Udh {
    pub elements: Vec<InformationElement>,
}

impl Udh {
    /// The header that marks part `seq` of `parts` with an 8-bit reference.
    pub fn concat8(reference: u8, parts: u8, seq: u8) -> Self {
        Udh {
            elements: vec![InformationElement {
                id: IEI_CONCAT_8,
                data: vec![reference, parts, seq],
            }],
        }
    }

    /// Parses the header body (the octets after UDHL). Elements must fit exactly.
    pub fn decode(body: &[u8]) -> Result<Self, SmsError> {
        let mut elements = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            let [id, len, tail @ ..] = rest else {
                return Err(SmsError::BadUdh("information element header cut short"));
            };
            let len = *len as usize;
            if tail.len() < len {
                return Err(SmsError::BadUdh(
                    "information element longer than the header",
                ));
            }
            elements.push(InformationElement {
                id: *id,
                data: tail[..len].to_vec(),
            });
            rest = &tail[len..];
        }
        Ok(Udh { elements })
    }

    /// The concatenation information, if a well-formed concatenation element is present.
    /// Elements with a zero part count or a sequence number outside 1..=parts are ignored,
    /// as TS 23.040 9.2.3.24.1 asks of a receiver.
    pub fn concat(&self) -> Option<Concat> {
        self.elements.iter().find_map(|ie| {
            let c = match (ie.id, ie.data.as_slice()) {
                (IEI_CONCAT_8, &[r, parts, seq]) => Concat {
                    reference: r as u16,
                    wide_reference: false,
                    parts,
                    seq,
                },
                (IEI_CONCAT_16, &[hi, lo, parts, seq]) => Concat {
                    reference: u16::from_be_bytes([hi, lo]),
                    wide_reference: true,
                    parts,
                    seq,
                },
                _ => return None,
            };
            (c.parts > 0 && c.seq > 0 && c.seq <= c.parts).then_some(c)
        })
    }

    /// Appends UDHL and the elements.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let len: usize = self.elements.iter().map(|e| 2 + e.data.len()).sum();
        out.push(len as u8);
        for e in &self.elements {
            out.push(e.id);
            out.push(e.data.len() as u8);
            out.extend_from_slice(&e.data);
        }
    }

    /// Encoded size with UDHL.
    pub fn encoded_len(&self) -> usize {
        1 + self
            .elements
            .iter()
            .map(|e| 2 + e.data.len())
            .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_8_and_16() {
        let mut out = Vec::new();
        Udh::concat8(0x42, 3, 2).encode(&mut out);
        assert_eq!(out, [0x05, 0x00, 0x03, 0x42, 0x03, 0x02]);
        let udh = Udh::decode(&out[1..]).unwrap();
        assert_eq!(
            udh.concat(),
            Some(Concat {
                reference: 0x42,
                wide_reference: false,
                parts: 3,
                seq: 2
            })
        );
        let wide = Udh::decode(&[0x08, 0x04, 0x12, 0x34, 0x02, 0x01]).unwrap();
        assert_eq!(
            wide.concat(),
            Some(Concat {
                reference: 0x1234,
                wide_reference: true,
                parts: 2,
                seq: 1
            })
        );
    }

    #[test]
    fn malformed_headers() {
        assert!(Udh::decode(&[0x00]).is_err());
        assert!(Udh::decode(&[0x00, 0x03, 0x01]).is_err());
        assert_eq!(
            Udh::decode(&[0x00, 0x03, 0x01, 0x03, 0x03])
                .unwrap()
                .concat()
                .unwrap()
                .seq,
            3
        );
        assert_eq!(
            Udh::decode(&[0x00, 0x03, 0x01, 0x02, 0x05])
                .unwrap()
                .concat(),
            None
        );
        assert_eq!(
            Udh::decode(&[0x00, 0x03, 0x01, 0x00, 0x00])
                .unwrap()
                .concat(),
            None
        );
    }
}
