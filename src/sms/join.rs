//! Reassembly of concatenated messages (TS 23.040 9.2.3.24.1): parts are ordered by their
//! sequence number; UCS-2 parts are joined as UTF-16 before decoding, so a surrogate pair
//! that another sender split across parts still becomes one character.

use super::dcs::Encoding;
use super::decode::UserData;

/// Why a set of parts does not make one message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("no parts")]
    Empty,
    #[error("part {seq} of {parts} is missing")]
    Missing { seq: u8, parts: u8 },
    #[error("parts disagree on the reference or the part count")]
    Mismatch,
}

/// Joins the parts of one message (in any order). A single part without concatenation
/// header is returned as is.
pub fn join_text(parts: &[&UserData]) -> Result<String, JoinError> {
    let Some(first) = parts.first() else {
        return Err(JoinError::Empty);
    };
    let Some(head) = first.concat() else {
        return if parts.len() == 1 {
            Ok(first.text.clone())
        } else {
            Err(JoinError::Mismatch)
        };
    };
    let mut ordered: Vec<Option<&UserData>> = vec![None; head.parts as usize];
    for p in parts {
        let c = p.concat().ok_or(JoinError::Mismatch)?;
        if c.reference != head.reference || c.parts != head.parts {
            return Err(JoinError::Mismatch);
        }
        ordered[c.seq as usize - 1] = Some(p);
    }
    let mut text = String::new();
    let mut pending_utf16: Vec<u16> = Vec::new();
    for (i, slot) in ordered.iter().enumerate() {
        let p = slot.ok_or(JoinError::Missing {
            seq: i as u8 + 1,
            parts: head.parts,
        })?;
        if p.encoding == Encoding::Ucs2 {
            pending_utf16.extend_from_slice(&p.utf16);
        } else {
            text.push_str(&String::from_utf16_lossy(&std::mem::take(
                &mut pending_utf16,
            )));
            text.push_str(&p.text);
        }
    }
    text.push_str(&String::from_utf16_lossy(&pending_utf16));
    Ok(text)
}
