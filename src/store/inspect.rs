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
    /// Deliveries updated since the given time that were sent or carry an error, newest first
    /// (of the given host's modems, when one is given: other hosts' devices may have the same
    /// names).
    pub recent: Vec<RecentOutcome>,
    /// The daemons that served the database (schema 13 and later).
    pub hosts: Vec<super::hosts::HostRecord>,
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
pub fn inspect(
    path: &Path,
    since: DateTime<Utc>,
    host: Option<&str>,
) -> Result<Inspection, StoreError> {
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
    read(Conn::Lite(&conn), schema_version, since, host)
}

/// [`inspect`] for a PostgreSQL database, in a read-only session (schema version 0: no
/// `groupsms_schema` table yet, the daemon has never started on it).
pub fn inspect_postgres(
    target: &super::postgres::PgTarget,
    since: DateTime<Utc>,
    host: Option<&str>,
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
    read(
        conn,
        u32::try_from(version).unwrap_or(u32::MAX),
        since,
        host,
    )
}

/// The recent outcomes, when the schema is one this build knows.
fn read(
    conn: Conn<'_>,
    schema_version: u32,
    since: DateTime<Utc>,
    host: Option<&str>,
) -> Result<Inspection, StoreError> {
    let mut recent = Vec::new();
    let mut hosts = Vec::new();
    // Schema 13 names the host of each delivery and keeps the hosts.
    let with_hosts = (13..=migrate::SCHEMA_VERSION).contains(&schema_version);
    if (1..=migrate::SCHEMA_VERSION).contains(&schema_version) {
        // A cancelled delivery (its member opted out before it was sent) says nothing about
        // the modem of an earlier try.
        let whose = match with_hosts {
            true => "AND (CAST(?3 AS TEXT) IS NULL OR host IS NULL OR host = ?3)",
            false => "AND (CAST(?3 AS TEXT) IS NULL OR TRUE)",
        };
        let rows = conn
            .prepare(&format!(
            "SELECT modem, state IN ('sent', 'delivered'), last_error, updated_at FROM deliveries \
             WHERE updated_at >= ?1 AND (last_error IS NOT NULL OR state IN ('sent', 'delivered')) \
             AND state <> 'cancelled' {whose} ORDER BY updated_at DESC LIMIT ?2"
        ))?
            .query_map(
                params![since.timestamp_millis(), RECENT_LIMIT as i64, host],
                |r| {
                    Ok(RecentOutcome {
                        modem: r.get(0)?,
                        sent: r.get(1)?,
                        error: r.get(2)?,
                        updated_at: DateTime::from_timestamp_millis(r.get(3)?).unwrap_or_default(),
                    })
                },
            )?;
        for row in rows {
            recent.push(row?);
        }
    }
    if with_hosts {
        let rows = conn
            .prepare(
                "SELECT name, state, started_at, heartbeat_at, lease_ms, modems, recovered_by \
                 FROM hosts ORDER BY name",
            )?
            .query_map(params![], |r| {
                Ok(super::hosts::HostRecord {
                    name: r.get(0)?,
                    state: r.get(1)?,
                    started_at: DateTime::from_timestamp_millis(r.get(2)?).unwrap_or_default(),
                    heartbeat_at: DateTime::from_timestamp_millis(r.get(3)?).unwrap_or_default(),
                    lease: chrono::Duration::milliseconds(r.get(4)?),
                    modems: r.get(5)?,
                    recovered_by: r.get(6)?,
                })
            })?;
        for row in rows {
            hosts.push(row?);
        }
    }
    Ok(Inspection {
        schema_version,
        recent,
        hosts,
    })
}
