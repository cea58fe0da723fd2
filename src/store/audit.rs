//! The audit log: administrative changes and refused sends, with who and why. Every text of
//! an entry is stored cut to [`MAX_AUDIT_TEXT`] bytes, whatever a caller put in it.

use std::borrow::Cow;

use super::db::params;
use chrono::{DateTime, Utc};

use super::{from_ms, ms, AuditEntry, NewAudit, StoreError, Tx};

/// Longest text of an audit entry (actor, action, subject, detail), in bytes, before the `…`
/// that marks a cut.
pub const MAX_AUDIT_TEXT: usize = 512;

/// `s` cut to at most `max` bytes on a character boundary, with `…` after a cut.
pub fn cut(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

impl Tx<'_> {
    /// Appends one entry, each of its texts cut to [`MAX_AUDIT_TEXT`] bytes.
    pub fn audit(&self, e: &NewAudit, at: DateTime<Utc>) -> Result<(), StoreError> {
        let c = |s| cut(s, MAX_AUDIT_TEXT);
        self.conn
            .prepare_cached(
                "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![
                ms(at),
                c(&e.actor),
                c(&e.action),
                c(&e.subject),
                c(&e.detail)
            ])?;
        Ok(())
    }

    /// The latest `limit` entries, newest first.
    pub fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT id, at, actor, action, subject, detail FROM audit ORDER BY id DESC LIMIT ?",
            )?
            .query_map([limit], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: from_ms(r.get(1)?),
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    subject: r.get(4)?,
                    detail: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_cut_on_a_character_boundary_with_an_ellipsis() {
        assert_eq!(cut("short", 512), "short");
        let long = "x".repeat(511) + "运维";
        let c = cut(&long, 512);
        assert_eq!(c, "x".repeat(511) + "…");
        assert_eq!(cut(&"a".repeat(513), 512).len(), 512 + "…".len());
        assert_eq!(cut(&"a".repeat(512), 512).len(), 512);
    }
}
