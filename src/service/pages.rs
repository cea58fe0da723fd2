//! How many rows a page of each paged answer holds, so that an answer line is never longer
//! than [`MAX_LINE`]: the largest a row and the rest of the answer can be in JSON, worked out
//! from the field limits ([`super::fields`], the store's handle and phone rules, the cut texts
//! of deliveries), and the rows of that size that fit. The daemon still measures each page and
//! ends it early if it would not fit (a configured header template is not bounded here).
//!
//! A request's `limit` is 1 to the most of its op (absent: the most); `after` is the key of the
//! last row seen: a handle (at most [`MAX_HANDLE_LEN`] bytes) or an id (not negative).

use super::caller::LONGEST_LABEL;
use super::fields::{
    InvalidField, MAX_HANDLE_LEN, MAX_MODEM_CHARS, MAX_NAME_CHARS, MAX_PINNED_MODEMS,
    TEXT_CHARS_PER_PART,
};
use crate::protocol::MAX_LINE;
use crate::store::{MAX_DELIVERY_ERROR, MAX_DEVICE_LEN, MAX_E164_LEN};

/// Bytes a JSON object with these keys takes besides its values: braces, quoted keys, colons
/// and commas.
const fn keys(names: &[&str]) -> usize {
    let mut n = 2;
    let mut i = 0;
    while i < names.len() {
        n += names[i].len() + 3 + if i > 0 { 1 } else { 0 };
        i += 1;
    }
    n
}

/// A string of at most `bytes` bytes in which anything may be: each byte escaped as `\u00XX`.
const fn any_text(bytes: usize) -> usize {
    2 + 6 * bytes
}

/// A string of at most `chars` characters none of which is a control character: 4 bytes each
/// at most (`"` and `\` take 2).
const fn clean_text(chars: usize) -> usize {
    2 + 4 * chars
}

/// A string of ASCII letters, digits and `+-_.:` that JSON writes as is.
const fn plain(bytes: usize) -> usize {
    2 + bytes
}

const INT: usize = 20;
const BOOL: usize = 5;
const HANDLE: usize = plain(MAX_HANDLE_LEN);
const NAME: usize = clean_text(MAX_NAME_CHARS);
const PHONE: usize = plain(MAX_E164_LEN);
const ROLE: usize = plain("super_admin".len());
/// An RFC 3339 time as the daemon writes it (`2024-05-10T02:00:00.123456789+00:00`).
const TIME: usize = plain(35);
/// `{"id":N,"ok":true,"result":` and the closing brace.
const ENVELOPE: usize = keys(&["id", "ok", "result"]) + INT + BOOL;

/// A message text of at most `max_parts` parts (header included: what was sent).
const fn text(max_parts: usize) -> usize {
    2 + 6 * TEXT_CHARS_PER_PART * max_parts
}

/// One `BroadcastInfo`'s fields (without braces: it is flattened into `broadcast_show`).
const fn broadcast(max_parts: usize) -> usize {
    keys(&[
        "id",
        "group",
        "sender",
        "caller",
        "created_at",
        "recipients",
        "parts",
        "encoding",
        "sent",
        "delivered",
        "undelivered",
        "failed",
        "uncertain",
        "cancelled",
        "waiting",
        "finished",
        "text",
        "waiting_reason",
        "urgent",
        "cancelled_at",
        "cancelled_by",
    ]) + 2 * INT
        + 2 * HANDLE
        + plain(LONGEST_LABEL.len())
        + TIME
        + 9 * INT
        + plain("ucs2".len())
        + BOOL
        + text(max_parts)
        + waiting_reason()
        + BOOL
        + TIME
        + plain(LONGEST_LABEL.len())
}

/// A `waiting_reason`: its code, the reason in words (ours, ASCII, under 160 bytes with its
/// times) and when it ends.
const fn waiting_reason() -> usize {
    keys(&["reason", "message", "until"]) + plain("pinned_sim_absent".len()) + plain(160) + TIME
}

const fn dropped() -> usize {
    keys(&["opted_out", "invalid", "sms_disabled", "duplicate"]) + 4 * INT
}

const fn delivery(max_parts: usize) -> usize {
    keys(&[
        "member",
        "number",
        "state",
        "modem",
        "attempts",
        "refs",
        "possible_duplicate",
        "error",
    ]) + HANDLE
        + PHONE
        + plain("undelivered".len())
        // A cut text ends with `…` (3 bytes).
        + any_text(MAX_DEVICE_LEN + 3)
        + INT
        + 2 + 4 * max_parts
        + BOOL
        + any_text(MAX_DELIVERY_ERROR + 3)
}

const fn member() -> usize {
    keys(&[
        "handle",
        "name",
        "phone",
        "valid",
        "sms_enabled",
        "uid",
        "role",
        "opted_out",
    ]) + HANDLE
        + NAME
        + PHONE
        + 3 * BOOL
        + INT
        + ROLE
}

/// A group as `group_list` and `group_show` write it; its header is taken to be at most a
/// message long (a longer one could never be sent).
const fn group(max_parts: usize) -> usize {
    keys(&[
        "handle",
        "name",
        "header",
        "daily_quota",
        "monthly_quota",
        "pinned_modems",
        "pin_fallback",
    ]) + HANDLE
        + NAME
        + text(max_parts)
        + 2 * INT
        + 2
        + MAX_PINNED_MODEMS * (clean_text(MAX_MODEM_CHARS) + 1)
        + BOOL
}

const fn member_group() -> usize {
    keys(&["group", "name", "role", "opted_out"]) + HANDLE + NAME + ROLE + BOOL
}

/// `"rows":[],"next":...` added to an object.
const fn rows_and_next(rows: &str, next: usize) -> usize {
    rows.len() + 3 + 2 + 1 + "next".len() + 3 + next + 1
}

/// Rows of `row` bytes (and a comma) that fit beside `rest`, at least one.
const fn fit(rest: usize, row: usize) -> u32 {
    let room = MAX_LINE.saturating_sub(rest);
    let n = room / (row + 1);
    if n == 0 {
        1
    } else if n > u32::MAX as usize {
        u32::MAX
    } else {
        n as u32
    }
}

/// The most rows a page of each paged answer holds, for messages of at most `max_parts`
/// parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSizes {
    pub deliveries: u32,
    pub broadcasts: u32,
    pub groups: u32,
    pub group_members: u32,
    pub members: u32,
    pub member_groups: u32,
}

impl PageSizes {
    pub const fn new(max_parts: usize) -> PageSizes {
        PageSizes {
            // `broadcast_show`: the broadcast, `dropped`, then the deliveries.
            deliveries: fit(
                ENVELOPE
                    + broadcast(max_parts)
                    + 1
                    + keys(&["dropped"])
                    + dropped()
                    + rows_and_next("deliveries", INT),
                delivery(max_parts),
            ),
            broadcasts: fit(
                ENVELOPE + 2 + rows_and_next("broadcasts", INT),
                broadcast(max_parts) + 2,
            ),
            groups: fit(
                ENVELOPE + 2 + rows_and_next("groups", HANDLE),
                group(max_parts),
            ),
            group_members: fit(
                ENVELOPE
                    + group(max_parts)
                    + 1
                    + keys(&["quota"])
                    + keys(&["day_used", "day_limit", "month_used", "month_limit", "left"])
                    + 5 * INT
                    + rows_and_next("members", HANDLE),
                member(),
            ),
            members: fit(ENVELOPE + 2 + rows_and_next("members", HANDLE), member()),
            member_groups: fit(
                ENVELOPE + member() + rows_and_next("groups", HANDLE),
                member_group(),
            ),
        }
    }
}

/// The rows a request asks for: its `limit`, 1 to `most` (absent: `most`).
pub fn limit(asked: Option<u32>, most: u32) -> Result<u32, InvalidField> {
    match asked {
        None => Ok(most),
        Some(n) if (1..=most).contains(&n) => Ok(n),
        Some(n) => Err(InvalidField::Limit { asked: n, most }),
    }
}

/// An `after` that is a handle.
pub fn after_handle(after: Option<&str>) -> Result<(), InvalidField> {
    match after {
        Some(h) if h.len() > MAX_HANDLE_LEN => Err(InvalidField::Cursor(format!(
            "\"after\" is a handle, at most {MAX_HANDLE_LEN} bytes, not {} bytes",
            h.len()
        ))),
        _ => Ok(()),
    }
}

/// An `after` that is an id.
pub fn after_id(after: Option<i64>) -> Result<(), InvalidField> {
    match after {
        Some(id) if id < 0 => Err(InvalidField::Cursor(format!(
            "\"after\" is the id the page before ended with, never negative ({id} given)"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_the_largest_rows_fit_in_a_line() {
        for parts in [1, 5, 10] {
            let p = PageSizes::new(parts);
            let head = ENVELOPE + broadcast(parts) + 200;
            assert!(head + p.deliveries as usize * (delivery(parts) + 1) <= MAX_LINE);
            assert!(p.deliveries >= 1 && p.members >= 100, "{p:?}");
        }
        // The default message size: the figures README gives.
        assert_eq!(
            PageSizes::new(5),
            PageSizes {
                deliveries: 17,
                broadcasts: 11,
                groups: 4,
                group_members: 117,
                members: 149,
                member_groups: 185,
            }
        );
    }

    #[test]
    fn limits_and_cursors_out_of_range_are_refused() {
        assert_eq!(limit(None, 50), Ok(50));
        assert_eq!(limit(Some(7), 50), Ok(7));
        assert_eq!(
            limit(Some(0), 50).unwrap_err().to_string(),
            "\"limit\" must be 1 to 50, not 0"
        );
        assert!(limit(Some(51), 50).is_err());
        assert!(after_handle(Some(&"x".repeat(33))).is_err());
        assert!(after_id(Some(-1)).is_err());
        assert_eq!(after_id(Some(0)), Ok(()));
    }
}
