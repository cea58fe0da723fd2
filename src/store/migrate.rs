//! Numbered migrations, tracked by SQLite's `user_version`, run at open.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// One step of the schema: `version` is the `user_version` after it ran.
pub(crate) struct Migration {
    pub version: u32,
    pub sql: &'static str,
}

/// Every migration, in order. Append only: a released file is never edited.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("migrations/0002_callers.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("migrations/0003_reports.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("migrations/0004_concat_refs.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("migrations/0005_inbox.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("migrations/0006_cancelled.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("migrations/0007_waiting.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("migrations/0008_sim_quarantine.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("migrations/0009_webhook_outbox.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("migrations/0010_api_tokens.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("migrations/0011_idempotency.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("migrations/0012_alert_sends.sql"),
    },
    Migration {
        version: 13,
        sql: include_str!("migrations/0013_hosts.sql"),
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

pub(crate) fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(u32::try_from(v).unwrap_or(u32::MAX))
}

/// Brings the database up to the last of `migrations`, or refuses a newer one.
///
/// The version is read again inside an immediate transaction, so several processes opening a
/// new file at once run each migration exactly once; a failing migration leaves the database
/// at the version before it.
pub(crate) fn migrate(
    conn: &mut Connection,
    path: &Path,
    migrations: &[Migration],
) -> Result<u32, StoreError> {
    let latest = migrations.last().map_or(0, |m| m.version);
    let newer = |found| StoreError::NewerSchema {
        path: path.to_path_buf(),
        found,
        supported: latest,
    };
    let found = user_version(conn)?;
    if found > latest {
        return Err(newer(found));
    }
    if found == latest {
        return Ok(found);
    }
    // Foreign keys off while the schema changes (a table rebuilt to change a constraint must
    // not cascade when its old copy is dropped), checked before the commit, then on again.
    let fk: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let out = run_steps(conn, migrations, latest, &newer);
    conn.pragma_update(None, "foreign_keys", fk)?;
    out
}

fn run_steps(
    conn: &mut Connection,
    migrations: &[Migration],
    latest: u32,
    newer: &dyn Fn(u32) -> StoreError,
) -> Result<u32, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let start = user_version(&tx)?;
    if start > latest {
        return Err(newer(start));
    }
    let mut current = start;
    for m in migrations.iter().filter(|m| m.version > start) {
        tx.execute_batch(m.sql)
            .and_then(|()| tx.pragma_update(None, "user_version", m.version))
            .map_err(|e| StoreError::Migration {
                version: m.version,
                reason: e.to_string(),
            })?;
        current = m.version;
    }
    let broken: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })?;
    if broken > 0 {
        return Err(StoreError::Migration {
            version: current,
            reason: format!("{broken} rows break a foreign key"),
        });
    }
    tx.commit()?;
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &[Migration] = &[
        Migration {
            version: 1,
            sql: "CREATE TABLE a (x INTEGER);",
        },
        Migration {
            version: 2,
            sql: "CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1);",
        },
    ];

    fn tables(conn: &Connection) -> Vec<String> {
        let mut st = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let names = st.query_map([], |r| r.get(0)).unwrap();
        names.map(Result::unwrap).collect()
    }

    #[test]
    fn runs_each_step_once_in_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn, Path::new("m"), &STEPS[..1]).unwrap(), 1);
        assert_eq!(tables(&conn), ["a"]);
        assert_eq!(migrate(&mut conn, Path::new("m"), STEPS).unwrap(), 2);
        assert_eq!(migrate(&mut conn, Path::new("m"), STEPS).unwrap(), 2);
        assert_eq!(tables(&conn), ["a", "b"]);
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM a", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1, "step 2 ran exactly once");
    }

    #[test]
    fn failed_step_leaves_the_previous_version() {
        let broken = [
            Migration {
                version: 1,
                sql: "CREATE TABLE a (x INTEGER);",
            },
            Migration {
                version: 2,
                sql: "CREATE TABLE b (y INTEGER); THIS IS NOT SQL;",
            },
        ];
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, Path::new("m"), &broken[..1]).unwrap();
        let err = migrate(&mut conn, Path::new("m"), &broken).unwrap_err();
        assert!(
            matches!(err, StoreError::Migration { version: 2, .. }),
            "{err:?}"
        );
        assert_eq!(user_version(&conn).unwrap(), 1);
        assert_eq!(tables(&conn), ["a"], "table b was rolled back");
    }

    #[test]
    fn newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 7).unwrap();
        let err = migrate(&mut conn, Path::new("/x/db.sqlite"), STEPS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the database /x/db.sqlite has schema version 7, newer than the 2 this program \
             knows; use a newer groupsms or restore a backup"
        );
    }
}
