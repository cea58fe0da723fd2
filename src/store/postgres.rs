//! PostgreSQL as the store's engine: where to connect (a URL, the password from a file or
//! the environment, never shown), opening a [`Store`] on it, and its migrations, numbered as
//! SQLite's are and tracked in a one-row table `groupsms_schema`.

use std::path::PathBuf;
use std::time::Duration;

use super::db::{params, Conn, OptionalExtension, PgConn};
use super::hosts::{self, Announcement};
use super::migrate::Migration;
use super::{Backend, OpenOptions, Store, StoreError, PG_WRITER_LOCK};

/// Where a PostgreSQL database is, as configured.
#[derive(Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    label: String,
    /// `sslmode=require`: TLS, the server's certificate checked.
    tls: bool,
    /// The certificate authorities the server's certificate is checked against (PEM); `None`:
    /// the system's.
    ca_file: Option<PathBuf>,
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
        // tokio-postgres's default, `prefer`, would fall back to an unencrypted connection
        // without a word: TLS is asked for (`require`) or not at all.
        let tls = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Require => true,
            _ if url.contains("sslmode=prefer") => {
                return Err(
                    "sslmode=prefer may fall back to an unencrypted connection without \
                     saying so: write sslmode=require (encrypted, the server's certificate \
                     checked) or leave it out (unencrypted: a LAN or a Unix socket)"
                        .into(),
                )
            }
            _ => false,
        };
        let label = label_of(&config, tls);
        Ok(PgTarget {
            config,
            label,
            tls,
            ca_file: None,
        })
    }

    /// Checks the server's certificate against the certificate authorities in `file` (PEM)
    /// instead of the system's.
    pub fn with_ca_file(mut self, file: PathBuf) -> PgTarget {
        self.ca_file = Some(file);
        self
    }

    /// TLS as configured: `None` without `sslmode=require`. The roots are read now (a CA file
    /// that cannot be read, or holds no certificate, is an error naming it).
    pub(crate) fn tls(&self) -> Result<Option<super::db::PgTls>, String> {
        if !self.tls {
            return Ok(None);
        }
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            Some(file) => {
                use rustls::pki_types::pem::PemObject;
                let named = |e: String| format!("database_ca_file {}: {e}", file.display());
                let pem = std::fs::read(file).map_err(|e| named(e.to_string()))?;
                for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| named(format!("not a PEM certificate: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| named(format!("a certificate is unusable: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(named("no certificate in it".into()));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(
                        "no certificate authorities found on this system to check the \
                         PostgreSQL server's certificate; set [daemon] database_ca_file"
                            .into(),
                    );
                }
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
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
        let label = label_of(&config, self.tls);
        PgTarget {
            config,
            label,
            tls: self.tls,
            ca_file: self.ca_file.clone(),
        }
    }

    /// A connection with the store's session settings.
    pub(crate) fn connect(&self, options: &OpenOptions) -> Result<PgConn, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: PathBuf::from(&self.label),
            reason,
        };
        let config = self.client_config();
        // A lock held longer than the busy timeout is Busy, as SQLite's busy timeout is.
        let ms = options.busy_timeout.as_millis().max(1);
        // The store sends a transaction's statements back to back (a CSV import reads and
        // checks its file before its transaction): a session idle inside one is a daemon that
        // stopped mid-transaction (paused, its machine frozen) while holding the writers' lock
        // every host needs. The server ends such a session (rolling it back, releasing the
        // lock) within the busy timeout the others wait for it (3/4 of it; never under 5 s,
        // a loaded machine's pause between two statements; never over 30 s, all hosts' writes
        // wait meanwhile); the paused daemon connects again when it resumes.
        let idle = (ms * 3 / 4).clamp(5_000, 30_000);
        let session = format!(
            "SET lock_timeout = {ms}; SET idle_in_transaction_session_timeout = {idle}; \
             SET TIME ZONE 'UTC'"
        );
        let tls = self.tls().map_err(open_err)?;
        let conn = PgConn::connect(config, tls, &session).map_err(|e| {
            let e = e.to_string();
            match e.contains("invalid peer certificate") {
                true => open_err(format!(
                    "{e} (the server's certificate is checked against [daemon] \
                     database_ca_file, else the system's certificate authorities)"
                )),
                false => open_err(e),
            }
        })?;
        Ok(conn)
    }
}

impl PgTarget {
    /// The client's settings: the configured ones, a connect timeout, our application name.
    fn client_config(&self) -> tokio_postgres::Config {
        let mut config = self.config.clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("groupsms");
        config
    }
}

/// Listens for the hosts' announcements ([`Announcement`]) on a connection of its own and
/// hands each to `out` with the announcing host, until `out` is closed. After every
/// connection (the first, and each made again after the server closed it or could not be
/// reached: tried again after 1 s, then up to 30 s apart) it hands `None` first: what was
/// announced meanwhile was missed, so the receiver loads what is queued.
pub async fn listen(
    target: PgTarget,
    out: tokio::sync::mpsc::UnboundedSender<Option<(String, Announcement)>>,
) {
    let mut wait = Duration::from_secs(1);
    loop {
        match listen_once(&target, &out).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(database = %target.label(), error = %e,
                    "the connection that hears the other hosts is down; connecting again");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = out.closed() => return,
        }
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

/// One connection's life: `Ok` when `out` closed, `Err` when the connection failed.
async fn listen_once(
    target: &PgTarget,
    out: &tokio::sync::mpsc::UnboundedSender<Option<(String, Announcement)>>,
) -> Result<(), String> {
    let config = target.client_config();
    let pg_err = |e: tokio_postgres::Error| super::db::pg_text(&e);
    // The connection's messages (the notifications among them) come through its own
    // polling; the client's LISTEN is answered through it too.
    let (heard, mut hearing) = tokio::sync::mpsc::unbounded_channel();
    let (client, driver) = match target.tls()? {
        Some(tls) => {
            let (client, connection) = config.connect(tls).await.map_err(pg_err)?;
            (client, tokio::spawn(hear_on(connection, heard)))
        }
        None => {
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(pg_err)?;
            (client, tokio::spawn(hear_on(connection, heard)))
        }
    };
    let listening = client
        .batch_execute(&format!("LISTEN {}", hosts::CHANNEL))
        .await
        .map_err(|e| super::db::pg_text(&e));
    if let Err(e) = listening {
        driver.abort();
        return Err(e);
    }
    if out.send(None).is_err() {
        driver.abort();
        return Ok(());
    }
    loop {
        tokio::select! {
            payload = hearing.recv() => match payload {
                Some(p) => {
                    if let Some(a) = Announcement::parse(&p) {
                        if out.send(Some(a)).is_err() {
                            driver.abort();
                            return Ok(());
                        }
                    }
                }
                None => {
                    // The driver ended: the connection is gone.
                    let why = driver.await.unwrap_or_else(|e| e.to_string());
                    drop(client);
                    return Err(why);
                }
            },
            _ = out.closed() => {
                driver.abort();
                return Ok(());
            }
        }
    }
}

/// Runs a listening connection's I/O, handing each notification on our channel to `heard`;
/// why it ended.
async fn hear_on<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    heard: tokio::sync::mpsc::UnboundedSender<String>,
) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio_postgres::AsyncMessage;
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(n))) => {
                if n.channel() == hosts::CHANNEL {
                    let _ = heard.send(n.payload().to_string());
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return super::db::pg_text(&e),
            None => return "the server closed the connection".to_string(),
        }
    }
}

fn label_of(config: &tokio_postgres::Config, tls: bool) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or(""),
        if tls { "?sslmode=require" } else { "" }
    )
}

/// The key of the session lock the daemon named `host` holds on its database
/// ([`Store::claim_host`]): 64-bit FNV-1a of the name, after a prefix of ours.
fn host_lock_key(host: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "groupsms host ".bytes().chain(host.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

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
    Migration {
        version: 13,
        sql: include_str!("migrations/postgres/0013_hosts.sql"),
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
            host: None,
        })
    }

    /// Takes the lock that says a daemon named `host` serves this database, held by this
    /// connection until it closes (a crash releases it at once); `false` when another
    /// connection holds it: two daemons with one name would each take the other's
    /// deliveries for its own leftovers. Daemons with different names share the database.
    pub fn claim_host(&mut self, host: &str) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Lite(_) => Ok(true),
            Backend::Pg(pg) => Ok(pg.try_session_lock(host_lock_key(host))?),
        }
    }
}
