//! Scratch PostgreSQL databases for tests, in the cluster `GROUPSMS_TEST_POSTGRES` names
//! (`.ci/pg-cluster start DIR` starts a throwaway one and prints the variable).

use std::sync::atomic::{AtomicU32, Ordering};

use groupsms::store::postgres::PgTarget;

/// The admin URL, or `None` (said once, clearly) when no cluster is configured; CI
/// (`GROUPSMS_REQUIRE_ORACLES=1`) makes its absence a failure.
pub fn admin_url() -> Option<String> {
    match std::env::var("GROUPSMS_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            super::absent(
                "a PostgreSQL cluster for the tests (GROUPSMS_TEST_POSTGRES; start one with \
                 `eval \"$(.ci/pg-cluster start /tmp/pg)\"`)",
            );
            None
        }
    }
}

/// Whether this run puts the store tests on PostgreSQL (`GROUPSMS_STORE_BACKEND=postgres`;
/// unset or `sqlite`: SQLite files).
pub fn this_run_is_postgres() -> bool {
    match std::env::var("GROUPSMS_STORE_BACKEND").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("GROUPSMS_STORE_BACKEND={other}: sqlite or postgres"),
    }
}

/// A scratch database when [`this_run_is_postgres`], else `None` (an SQLite file).
pub fn scratch_for_this_run() -> Option<Scratch> {
    this_run_is_postgres().then(|| {
        Scratch::new().expect("GROUPSMS_STORE_BACKEND=postgres needs GROUPSMS_TEST_POSTGRES")
    })
}

/// A new, empty database, dropped when this is (when it made it: see [`Scratch::shared`]).
pub struct Scratch {
    admin: String,
    pub name: String,
    pub url: String,
    pub target: PgTarget,
    /// Made by this handle (dropped with it), or [`shared`](Scratch::shared) from another.
    owner: bool,
}

impl Scratch {
    pub fn new() -> Option<Scratch> {
        static N: AtomicU32 = AtomicU32::new(0);
        let admin = admin_url()?;
        let name = format!(
            "gsms_t{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        admin_sql(&admin, &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("create database {name} at {admin}: {e}"));
        let target = PgTarget::parse(&admin)
            .expect("GROUPSMS_TEST_POSTGRES is a postgres:// URL")
            .with_dbname(&name);
        let url = match admin.rfind('/') {
            Some(at) => format!("{}/{name}", &admin[..at]),
            None => panic!("GROUPSMS_TEST_POSTGRES has no /dbname"),
        };
        Some(Scratch {
            admin,
            name,
            url,
            target,
            owner: true,
        })
    }

    /// Another handle on the same database, for one more daemon on it (several hosts, one
    /// database): it does not drop the database, the one from [`new`](Scratch::new) does.
    pub fn shared(&self) -> Scratch {
        Scratch {
            admin: self.admin.clone(),
            name: self.name.clone(),
            url: self.url.clone(),
            target: self.target.clone(),
            owner: false,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        let _ = admin_sql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Runs `sql` on the admin connection, on a thread of its own: the blocking client cannot
/// run inside a test's tokio runtime.
pub fn admin_sql(admin: &str, sql: &str) -> Result<(), String> {
    let (admin, sql) = (admin.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            client.batch_execute(&sql).await.map_err(|e| e.to_string())
        })
    })
    .join()
    .map_err(|_| "the admin connection's thread panicked".to_string())?
}

/// The first column of the first row of `sql`, as an integer.
pub fn query_i64(url: &str, sql: &str) -> i64 {
    let rows = query_rows(url, sql);
    let value = rows.first().and_then(|r| r.first()).cloned().flatten();
    value
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{sql}: not an integer: {rows:?}"))
}

/// Every row of `sql` (a simple query: values as PostgreSQL writes them as text, NULL as
/// `None`), on a thread of its own like [`admin_sql`].
pub fn query_rows(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
            tokio::spawn(connection);
            client
                .simple_query(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_string))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()
        })
    })
    .join()
    .unwrap()
}
