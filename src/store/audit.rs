//! The audit log: administrative changes and refused sends, with who and why.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{from_ms, ms, AuditEntry, NewAudit, StoreError, Tx};

impl Tx<'_> {
    /// Appends one entry.
    pub fn audit(&self, e: &NewAudit, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![ms(at), e.actor, e.action, e.subject, e.detail])?;
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
