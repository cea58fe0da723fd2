//! What a name, a header, a pinned modem, a phone number as typed, a reference to a handle or
//! a message text may be: how long, and that it holds no control character. One place for
//! these rules, used by the administrative changes ([`super::admin`]), the CSV import
//! ([`super::import`]) and the daemon's size checks of requests. Handles themselves are the
//! store's rule (`store::check_handle`: 1 to 32 of `a-z 0-9 - _ .`).
//!
//! | field | at most |
//! | --- | --- |
//! | group or member handle (as given to find one) | [`MAX_HANDLE_LEN`] bytes |
//! | group name, member name | [`MAX_NAME_CHARS`] characters |
//! | group header override | [`MAX_HEADER_CHARS`] characters |
//! | pinned modem (IMSI or device path) | [`MAX_MODEM_CHARS`] characters, [`MAX_PINNED_MODEMS`] of them |
//! | phone number as typed | [`MAX_PHONE_CHARS`] characters |
//! | message text | [`TEXT_CHARS_PER_PART`] characters per allowed part |
//! | one CSV import (`member import`) | [`MAX_IMPORT_ROWS`] rows, [`MAX_IMPORT_BYTES`] bytes |
//!
//! Control characters (`char::is_control`: C0, DEL, C1) are refused in names, headers, modems
//! and phone numbers; a message body may hold line breaks (`\n`, `\r`) and no other ([`body`]:
//! a NUL, an ESC or a tab would reach the phones as whatever each shows for it, or end the
//! text early on some). A body with nothing visible is the composer's refusal
//! ([`super::EmptyBody`]).

use crate::store::{GroupChange, MemberChange, NewGroup, NewMember};

pub use crate::store::MAX_HANDLE_LEN;

/// Longest group or member name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest header override of a group, in characters (`{name}` counted as written).
pub const MAX_HEADER_CHARS: usize = 64;
/// Longest pinned modem (IMSI or device path), in characters.
pub const MAX_MODEM_CHARS: usize = 128;
/// Most modems a group may be pinned to.
pub const MAX_PINNED_MODEMS: usize = 16;
/// Longest phone number as typed (before it is normalized), in characters.
pub const MAX_PHONE_CHARS: usize = 32;
/// Characters one SMS part can hold at most, in any encoding (GSM 7-bit, a single part): a
/// text longer than `max_parts` times this can never fit.
pub const TEXT_CHARS_PER_PART: usize = 160;

/// Most rows (the header not counted) one CSV import may hold.
pub const MAX_IMPORT_ROWS: u64 = 200_000;
/// Most bytes of CSV one import may hold (what the daemon keeps while a streamed import is
/// being sent).
pub const MAX_IMPORT_BYTES: u64 = 32 * 1024 * 1024;

/// A value refused by these rules, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidField {
    #[error("the {field} is {len} {unit} long, at most {max} are allowed")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
        unit: &'static str,
    },
    #[error("\"limit\" must be 1 to {most}, not {asked}")]
    Limit { asked: u32, most: u32 },
    #[error("{0}")]
    Cursor(String),
    #[error("a group may be pinned to at most {max} modems, not {count}")]
    TooManyModems { count: usize, max: usize },
    #[error(
        "the {field} holds the control character U+{code:04X} (character {at}); control \
         characters are not allowed"
    )]
    Control {
        field: &'static str,
        code: u32,
        /// 1-based position in characters.
        at: usize,
    },
    #[error(
        "the message holds the control character U+{code:04X} (character {at}); a message may \
         hold line breaks but no other control character"
    )]
    ControlInBody {
        code: u32,
        /// 1-based position in characters.
        at: usize,
    },
}

/// At most `max` characters, none of them a control character.
fn text_field(field: &'static str, value: &str, max: usize) -> Result<(), InvalidField> {
    let len = value.chars().count();
    if len > max {
        return Err(InvalidField::TooLong {
            field,
            len,
            max,
            unit: "characters",
        });
    }
    match value.chars().position(char::is_control) {
        Some(i) => Err(InvalidField::Control {
            field,
            code: value.chars().nth(i).map_or(0, u32::from),
            at: i + 1,
        }),
        None => Ok(()),
    }
}

/// A handle given to find a group or member (`field`: "group handle", "member handle"): no
/// handle is longer than [`MAX_HANDLE_LEN`] bytes, so a longer one is refused unread.
pub fn reference(field: &'static str, value: &str) -> Result<(), InvalidField> {
    if value.len() > MAX_HANDLE_LEN {
        return Err(InvalidField::TooLong {
            field,
            len: value.len(),
            max: MAX_HANDLE_LEN,
            unit: "bytes",
        });
    }
    Ok(())
}

/// A message text: at most `max_parts` × [`TEXT_CHARS_PER_PART`] characters.
pub fn text(value: &str, max_parts: usize) -> Result<(), InvalidField> {
    let max = max_parts.saturating_mul(TEXT_CHARS_PER_PART);
    let len = value.chars().count();
    if len > max {
        return Err(InvalidField::TooLong {
            field: "text",
            len,
            max,
            unit: "characters",
        });
    }
    Ok(())
}

/// A message body: no control character but the line breaks `\n` and `\r` (NUL, ESC, tab,
/// DEL and C1 are refused, the first one named by its position).
pub fn body(value: &str) -> Result<(), InvalidField> {
    match value
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\r'))
    {
        Some((i, c)) => Err(InvalidField::ControlInBody {
            code: c.into(),
            at: i + 1,
        }),
        None => Ok(()),
    }
}

/// A phone number as typed, before it is normalized.
pub fn phone(value: &str) -> Result<(), InvalidField> {
    text_field("phone number", value, MAX_PHONE_CHARS)
}

fn group_fields(
    name: Option<&str>,
    header: Option<&str>,
    modems: Option<&[String]>,
) -> Result<(), InvalidField> {
    if let Some(name) = name {
        text_field("group name", name, MAX_NAME_CHARS)?;
    }
    if let Some(header) = header {
        text_field("group header", header, MAX_HEADER_CHARS)?;
    }
    if let Some(modems) = modems {
        if modems.len() > MAX_PINNED_MODEMS {
            return Err(InvalidField::TooManyModems {
                count: modems.len(),
                max: MAX_PINNED_MODEMS,
            });
        }
        for m in modems {
            text_field("pinned modem", m, MAX_MODEM_CHARS)?;
        }
    }
    Ok(())
}

/// A new group's name, header and modems (its handle is the store's rule).
pub fn new_group(g: &NewGroup) -> Result<(), InvalidField> {
    group_fields(Some(&g.name), g.header.as_deref(), Some(&g.pinned_modems))
}

/// The new values of a group change.
pub fn group_change(c: &GroupChange) -> Result<(), InvalidField> {
    group_fields(
        c.name.as_deref(),
        c.header.as_ref().and_then(Option::as_deref),
        c.pinned_modems.as_deref(),
    )
}

/// A new member's name and phone number as typed (its handle is the store's rule).
pub fn new_member(m: &NewMember) -> Result<(), InvalidField> {
    text_field("member name", &m.name, MAX_NAME_CHARS)?;
    phone(&m.phone)
}

/// The new values of a member change.
pub fn member_change(c: &MemberChange) -> Result<(), InvalidField> {
    if let Some(name) = &c.name {
        text_field("member name", name, MAX_NAME_CHARS)?;
    }
    if let Some(p) = &c.phone {
        phone(p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_free_of_control_characters() {
        let mut m = NewMember::new("bob", "鲍勃 😀", "13900000001");
        assert_eq!(new_member(&m), Ok(()));
        m.name = "x".repeat(65);
        assert_eq!(
            new_member(&m).unwrap_err().to_string(),
            "the member name is 65 characters long, at most 64 are allowed"
        );
        m.name = "名".repeat(64);
        assert_eq!(new_member(&m), Ok(()));
        m.name = "Bob\u{1b}[2J".into();
        assert_eq!(
            new_member(&m).unwrap_err().to_string(),
            "the member name holds the control character U+001B (character 4); control \
             characters are not allowed"
        );
        let change = GroupChange {
            header: Some(Some("[ops]\u{85}".into())),
            ..GroupChange::default()
        };
        assert_eq!(
            group_change(&change).unwrap_err(),
            InvalidField::Control {
                field: "group header",
                code: 0x85,
                at: 6
            }
        );
        let mut g = NewGroup::new("ops", "运维组");
        g.pinned_modems = vec!["460001234567890".into(); 17];
        assert_eq!(
            new_group(&g).unwrap_err().to_string(),
            "a group may be pinned to at most 16 modems, not 17"
        );
    }

    #[test]
    fn references_and_texts_are_bounded_by_what_could_ever_fit() {
        assert_eq!(reference("group handle", &"o".repeat(32)), Ok(()));
        assert_eq!(
            reference("group handle", &"o".repeat(40_000))
                .unwrap_err()
                .to_string(),
            "the group handle is 40000 bytes long, at most 32 are allowed"
        );
        assert_eq!(text(&"a".repeat(800), 5), Ok(()));
        assert_eq!(
            text(&"开".repeat(801), 5).unwrap_err().to_string(),
            "the text is 801 characters long, at most 800 are allowed"
        );
        // A text may hold line breaks.
        assert_eq!(text("line one\nline two", 1), Ok(()));
    }

    #[test]
    fn a_body_holds_line_breaks_and_no_other_control_character() {
        assert_eq!(body("line one\r\nline two\n"), Ok(()));
        assert_eq!(body("通知：明天\u{3000}开会 😀"), Ok(()));
        for (text, code, at) in [
            ("ab\u{0}c", 0, 3),
            ("\u{1b}[2J", 0x1B, 1),
            ("开会\t时间", 9, 3),
            ("x\u{7f}", 0x7F, 2),
            ("😀\u{85}", 0x85, 2),
        ] {
            assert_eq!(
                body(text),
                Err(InvalidField::ControlInBody { code, at }),
                "{text:?}"
            );
        }
        assert_eq!(
            body("hi\u{7}").unwrap_err().to_string(),
            "the message holds the control character U+0007 (character 3); a message may hold \
             line breaks but no other control character"
        );
    }
}
