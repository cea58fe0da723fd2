//! Looking at a database without changing it (for `groupsms doctor`): an SQLite file opened
//! read-only, never created; a PostgreSQL database in a read-only session; never migrated.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

use super::db::{params, Conn, OptionalExtension};
use super::{migrate, StoreError};

/// What [`inspect`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// `user_version`: the schema version the file is at (0: empty, never opened by us).
    pub schema_version: u32,
    /// Deliveries updated since the given time that were sent or carry an error, newest first.
    pub recent: Vec<RecentOutcome>,
}

/// One delivery's latest outcome, as far as a carrier block goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentOutcome {
    /// The modem (device) of the last attempt.
    pub modem: Option<String>,
    /// Sent or delivered (`last_error` is cleared then).
    pub sent: bool,
    /// The last error (`+CMS ERROR: 38`...), when there was one.
    pub error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Most outcomes [`inspect`] reads.
pub const RECENT_LIMIT: usize = 5000;

/// Opens `path` read-only and reads its schema version and (when the schema is one this build
/// knows) the outcomes of deliveries updated since `since`, at most [`RECENT_LIMIT`].
pub fn inspect(path: &Path, since: DateTime<Utc>) -> Result<Inspection, StoreError> {
    let open_err = |e: rusqlite::Error| StoreError::Open {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotADatabase {
                path: path.to_path_buf(),
            },
            _ => StoreError::from(e),
        })?;
    let schema_version = u32::try_from(version).unwrap_or(u32::MAX);
    read(Conn::Lite(&conn), schema_version, since)
}

/// [`inspect`] for a PostgreSQL database, in a read-only session (schema version 0: no
/// `groupsms_schema` table yet, the daemon has never started on it).
pub fn inspect_postgres(
    target: &super::postgres::PgTarget,
    since: DateTime<Utc>,
) -> Result<Inspection, StoreError> {
    let pg = target.connect(&Default::default())?;
    let conn = Conn::Pg(&pg);
    conn.execute_batch("SET default_transaction_read_only = on")?;
    let exists: bool = conn.query_row(
        "SELECT to_regclass('groupsms_schema') IS NOT NULL",
        params![],
        |r| r.get(0),
    )?;
    let version: i64 = if exists {
        conn.query_row("SELECT version FROM groupsms_schema", params![], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0)
    } else {
        0
    };
    read(conn, u32::try_from(version).unwrap_or(u32::MAX), since)
}

/// The recent outcomes, when the schema is one this build knows.
fn read(
    conn: Conn<'_>,
    schema_version: u32,
    since: DateTime<Utc>,
) -> Result<Inspection, StoreError> {
    let mut recent = Vec::new();
    if (1..=migrate::SCHEMA_VERSION).contains(&schema_version) {
        // A cancelled delivery (its member opted out before it was sent) says nothing about
        // the modem of an earlier try.
        let rows = conn.prepare(
            "SELECT modem, state IN ('sent', 'delivered'), last_error, updated_at FROM deliveries \
             WHERE updated_at >= ?1 AND (last_error IS NOT NULL OR state IN ('sent', 'delivered')) \
             AND state <> 'cancelled' ORDER BY updated_at DESC LIMIT ?2",
        )?
        .query_map(params![since.timestamp_millis(), RECENT_LIMIT as i64], |r| {
            Ok(RecentOutcome {
                modem: r.get(0)?,
                sent: r.get(1)?,
                error: r.get(2)?,
                updated_at: DateTime::from_timestamp_millis(r.get(3)?).unwrap_or_default(),
            })
        })?;
        for row in rows {
            recent.push(row?);
        }
    }
    Ok(Inspection {
        schema_version,
        recent,
    })
}
