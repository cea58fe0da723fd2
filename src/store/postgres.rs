//! PostgreSQL as the store's engine: where to connect (a URL, the password from a file or
//! the environment, never shown), opening a [`Store`] on it, and its migrations, numbered as
//! SQLite's are and tracked in a one-row table `groupsms_schema`.

use std::path::PathBuf;
use std::time::Duration;

use super::db::{params, Conn, OptionalExtension, PgConn};
use super::migrate::Migration;
use super::{Backend, OpenOptions, Store, StoreError, PG_WRITER_LOCK};

/// Where a PostgreSQL database is, as configured.
#[derive(Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    label: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.write_str(&self.label)
    }
}

impl PgTarget {
    /// Whether a `database` setting names PostgreSQL rather than an SQLite file.
    pub fn is_url(database: &str) -> bool {
        database.starts_with("postgres://") || database.starts_with("postgresql://")
    }

    /// Reads a `postgres://user[:password]@host[:port]/dbname[?options]` URL.
    pub fn parse(url: &str) -> Result<PgTarget, String> {
        if !PgTarget::is_url(url) {
            return Err("a PostgreSQL database is a postgres://user@host/dbname URL".into());
        }
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| format!("not a usable PostgreSQL URL: {e}"))?;
        if config.get_dbname().is_none() {
            return Err(
                "the PostgreSQL URL names no database (postgres://user@host/dbname)".into(),
            );
        }
        if config.get_user().is_none() {
            return Err("the PostgreSQL URL names no user (postgres://user@host/dbname)".into());
        }
        let label = label_of(&config);
        Ok(PgTarget { config, label })
    }

    /// Sets the password (from a file or the environment: never put it in the URL of a
    /// configuration others can read).
    pub fn with_password(mut self, password: &str) -> PgTarget {
        self.config.password(password);
        self
    }

    /// Whether a password is set.
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }

    /// `user@host:port/dbname`: how logs and `status` name the database.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The same server and user, another database (the tests make one each).
    pub fn with_dbname(&self, dbname: &str) -> PgTarget {
        let mut config = self.config.clone();
        config.dbname(dbname);
        let label = label_of(&config);
        PgTarget { config, label }
    }

    /// A connection with the store's session settings.
    pub(crate) fn connect(&self, options: &OpenOptions) -> Result<PgConn, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: PathBuf::from(&self.label),
            reason,
        };
        let mut config = self.config.clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("groupsms");
        // A lock held longer than the busy timeout is Busy, as SQLite's busy timeout is.
        let ms = options.busy_timeout.as_millis().max(1);
        let session = format!("SET lock_timeout = {ms}; SET TIME ZONE 'UTC'");
        let conn = PgConn::connect(config, &session).map_err(|e| open_err(e.to_string()))?;
        Ok(conn)
    }
}

fn label_of(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

/// The key of the session lock a daemon holds on its database ([`Store::claim_single_daemon`]).
const DAEMON_LOCK: i64 = 0x6753_4d44; // "gSMD"

/// Every PostgreSQL migration, numbered as the SQLite ones ([`super::migrate::MIGRATIONS`]).
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("migrations/postgres/0002_callers.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("migrations/postgres/0003_reports.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("migrations/postgres/0004_concat_refs.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("migrations/postgres/0005_inbox.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("migrations/postgres/0006_cancelled.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("migrations/postgres/0007_waiting.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("migrations/postgres/0008_sim_quarantine.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("migrations/postgres/0009_webhook_outbox.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("migrations/postgres/0010_api_tokens.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("migrations/postgres/0011_idempotency.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("migrations/postgres/0012_alert_sends.sql"),
    },
];

/// Brings the database to the last migration, under the writers' lock (so several daemons
/// starting at once run each step once), or refuses a newer schema.
fn migrate(pg: &PgConn, target: &PgTarget) -> Result<u32, StoreError> {
    let conn = Conn::Pg(pg);
    conn.execute_batch(&format!(
        "BEGIN; SELECT pg_advisory_xact_lock({PG_WRITER_LOCK}); \
         CREATE TABLE IF NOT EXISTS groupsms_schema (version BIGINT NOT NULL)"
    ))?;
    let out = steps(conn, target);
    let end = if out.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = conn.execute_batch(end);
    let version = out?;
    ended?;
    Ok(version)
}

fn steps(conn: Conn<'_>, target: &PgTarget) -> Result<u32, StoreError> {
    let latest = MIGRATIONS.last().map_or(0, |m| m.version);
    let found: Option<i64> = conn
        .query_row("SELECT version FROM groupsms_schema", params![], |r| {
            r.get(0)
        })
        .optional()?;
    let found = match found {
        Some(v) => u32::try_from(v).unwrap_or(u32::MAX),
        None => {
            conn.execute(
                "INSERT INTO groupsms_schema (version) VALUES (0)",
                params![],
            )?;
            0
        }
    };
    if found > latest {
        return Err(StoreError::NewerSchema {
            path: PathBuf::from(target.label()),
            found,
            supported: latest,
        });
    }
    let mut current = found;
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        conn.execute_batch(m.sql)
            .and_then(|()| {
                conn.execute("UPDATE groupsms_schema SET version = ?", [m.version])
                    .map(drop)
            })
            .map_err(|e| StoreError::Migration {
                version: m.version,
                reason: e.to_string(),
            })?;
        current = m.version;
    }
    Ok(current)
}

impl Store {
    /// Connects to a PostgreSQL database and brings its schema up to date.
    pub fn open_postgres(target: &PgTarget, options: &OpenOptions) -> Result<Store, StoreError> {
        let pg = target.connect(options)?;
        migrate(&pg, target)?;
        Ok(Store {
            backend: Backend::Pg(Box::new(pg)),
            path: PathBuf::from(target.label()),
            commit_faults: Default::default(),
            hooks: Default::default(),
            outbox_wake: Default::default(),
        })
    }

    /// Takes the lock that says one daemon serves this database, held by this connection
    /// until it closes; `false` when another connection holds it. (Several daemons on one
    /// database need leases on the deliveries they send, which are not built yet: until
    /// then a second daemon must not start.)
    pub fn claim_single_daemon(&mut self) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Lite(_) => Ok(true),
            Backend::Pg(pg) => Ok(pg.try_session_lock(DAEMON_LOCK)?),
        }
    }
}
