//! Composition: the group's header (`【{name}】` unless configured otherwise), the body, then
//! the configured footer (`[message] footer`, e.g. `回TD退订`), measured with the codec; more
//! parts than allowed is refused.

use crate::sms::{self, Encoding};
use crate::store::Group;

/// The header used when neither the configuration nor the group sets one.
pub const DEFAULT_HEADER: &str = "【{name}】";

/// The text to send and what it costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composition {
    /// Header + body + footer.
    pub text: String,
    pub encoding: Encoding,
    pub parts: usize,
    /// Septets (GSM 7-bit) or UTF-16 units (UCS-2) of the whole text.
    pub units: usize,
    /// Units one part holds (160/153 septets, 70/67 UCS-2 units).
    pub per_part: usize,
    /// Units still free in the last part.
    pub remaining: usize,
}

/// The body shows nothing: empty, or only spaces, control characters (NUL, newlines...) and
/// invisible characters (zero-width characters, lone marks, variation selectors); see
/// [`super::sensitive::is_blank`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the message is empty (nothing but spaces, control or invisible characters)")]
pub struct EmptyBody;

/// The composed text needs more parts than allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the message needs {parts} SMS parts ({units} {unit_name} in {encoding}, {}), at most {max} \
     are allowed",
    if *.footer { "header and footer included" } else { "header included" }
)]
pub struct TooManyParts {
    pub parts: usize,
    pub max: usize,
    pub units: usize,
    pub encoding: &'static str,
    pub unit_name: &'static str,
    /// A footer is configured (and counted).
    pub footer: bool,
}

/// Composition failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error(transparent)]
    Empty(#[from] EmptyBody),
    #[error(transparent)]
    TooManyParts(#[from] TooManyParts),
}

/// The header for a group: its own template or `template`, with `{name}` and `{handle}`
/// filled in.
pub fn header(template: &str, group: &Group) -> String {
    group
        .header
        .as_deref()
        .unwrap_or(template)
        .replace("{name}", &group.name)
        .replace("{handle}", &group.handle)
}

/// `text` with the footer after it, written as configured (no separator added: put a space or
/// a newline at the start of the footer to have one). `pdu count` counts this too.
pub fn with_footer(text: &str, footer: &str) -> String {
    format!("{text}{footer}")
}

/// Header + body + footer, measured, whatever its length (the send preview shows what a
/// message would cost before [`compose`] refuses it).
pub fn measure(template: &str, group: &Group, body: &str, footer: &str) -> Composition {
    let text = with_footer(&(header(template, group) + body), footer);
    let info = sms::analyze(&text);
    Composition {
        text,
        encoding: info.encoding,
        parts: info.parts,
        units: info.units,
        per_part: info.per_part,
        remaining: info.remaining,
    }
}

/// The refusal of a measured composition: over `max_parts`.
pub fn check_parts(c: &Composition, footer: &str, max_parts: usize) -> Result<(), TooManyParts> {
    if c.parts <= max_parts {
        return Ok(());
    }
    let (encoding, unit_name) = match c.encoding {
        Encoding::Ucs2 => ("UCS-2", "characters"),
        _ => ("GSM 7-bit", "septets"),
    };
    Err(TooManyParts {
        parts: c.parts,
        max: max_parts,
        units: c.units,
        encoding,
        unit_name,
        footer: !footer.is_empty(),
    })
}

/// Header + body + footer, measured; refused when blank or over `max_parts`.
pub fn compose(
    template: &str,
    group: &Group,
    body: &str,
    footer: &str,
    max_parts: usize,
) -> Result<Composition, ComposeError> {
    if super::sensitive::is_blank(body) {
        return Err(EmptyBody.into());
    }
    let c = measure(template, group, body, footer);
    check_parts(&c, footer, max_parts)?;
    Ok(c)
}
