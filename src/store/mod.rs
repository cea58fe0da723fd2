//! The state of group SMS in SQLite or PostgreSQL: groups, members, memberships, broadcasts,
//! deliveries, quota usage, per-SIM send counters and the audit log. This is the only module
//! that names rusqlite or tokio_postgres or holds SQL; the rules that decide what to write
//! live in [`crate::service`].
//!
//! | file | owns |
//! | --- | --- |
//! | `mod.rs` | [`Store`]: opening (WAL, foreign keys, busy timeout, `synchronous=FULL`), transactions, [`Database`] |
//! | `db.rs` | the query layer every file writes its SQL against, for either engine |
//! | [`postgres`] | PostgreSQL: the connection target, opening, its migrations, hearing the other hosts (`LISTEN`) |
//! | [`hosts`] | the daemons sharing the database: their rows and leases, declaring a silent one lost and recovering its deliveries, what each announces to the others |
//! | [`migrate`] | numbered migrations (`migrations/*.sql`) tracked by `user_version` |
//! | [`model`] | the rows handed out and taken in, ids, roles, delivery states, value checks |
//! | `groups.rs` | groups, members, memberships (CRUD) |
//! | `broadcasts.rs` | writing a broadcast with all its deliveries, quota usage, listing, progress |
//! | `deliveries.rs` | the delivery state machine (taken by one host, recorded by that host), queue loading, recovery at start, cancelling |
//! | `sims.rs` | per-SIM send counters that survive a restart |
//! | `reports.rs` | parts sent (SIM, TP-MR, time) and their report status, unmatched reports |
//! | `audit.rs` | the audit log |
//! | `alerts.rs` | Alertmanager notifications sent, to recognise a repeat within a window |
//! | [`metrics`] | the totals `/metrics` reads at each scrape, one aggregate query each |
//! | [`inspect`] | a file looked at read-only (schema version, recent outcomes) for `groupsms doctor` |
//! | [`backup`] | online backup of a live database, restore into a stopped one |
//! | [`handle`] | [`StoreHandle`]: the store on its own thread, for async callers |
//!
//! Every operation is a method of [`Tx`], a transaction. [`Store::write`] runs a closure in one
//! `BEGIN IMMEDIATE` transaction (the write lock is taken first, so a read-then-write such as a
//! quota check cannot race another process); [`Store::read`] runs one in a read transaction
//! (one consistent snapshot). Each `Tx` method also exists on `Store` itself, running in its
//! own transaction, committed before it returns.
//!
//! Times are stored as Unix milliseconds (UTC) and always passed in by the caller; the store
//! never reads the clock.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

use db::{params, Conn, Dialect, PgConn};

mod alerts;
mod audit;
pub mod backup;
mod broadcasts;
pub(crate) mod db;
mod deliveries;
mod error;
mod groups;
pub mod handle;
pub mod hosts;
mod idempotency;
mod inbox;
pub mod inspect;
pub mod metrics;
pub mod migrate;
pub mod model;
mod outbox;
pub mod postgres;
mod reports;
mod sims;
mod tokens;

pub use audit::{cut, MAX_AUDIT_TEXT};
pub use backup::{BackupReport, RestoreReport};
pub use db::round_trips;
pub use deliveries::{CANCELLED_IN_FLIGHT, MAX_DELIVERY_ERROR, MAX_DEVICE_LEN};
pub use error::StoreError;
pub use handle::StoreHandle;
pub use idempotency::IdempotencyRow;
pub use inbox::{
    Handling, InboxFilter, InboxMessage, NewInboxMessage, NewInboxPart, PartKey, ReplyLink,
    StoredPart,
};
pub use migrate::SCHEMA_VERSION;
pub use model::*;
pub use outbox::{DueEvent, EventKind, Subscriptions, WebhookBacklog, MAX_WEBHOOK_ERROR};
pub use reports::{NewUnmatchedReport, PartCandidate, UnmatchedReport};
pub use sims::SimQuarantine;
pub use tokens::{ApiToken, NewApiToken, MAX_TOKEN_LABEL};

/// How long a connection waits for another one's write lock before giving up with
/// [`StoreError::Busy`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Options for [`Store::open_with`].
#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub busy_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }
}

/// What [`Store::pragmas`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pragmas {
    pub journal_mode: String,
    pub synchronous: String,
    pub foreign_keys: bool,
    pub busy_timeout_ms: u64,
    pub user_version: u32,
}

/// Where the store lives, as configured (`[daemon] database`): an SQLite file, or a
/// PostgreSQL database (a `postgres://` URL).
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(Box<postgres::PgTarget>),
}

impl Database {
    /// Reads `[daemon] database`: a `postgres://` or `postgresql://` URL, else a file path.
    /// A password is refused in the URL (a configuration file is read by many): it comes
    /// from `database_password_file` or the environment ([`Database::with_password`]).
    pub fn parse(text: &std::path::Path) -> Result<Database, String> {
        let Some(url) = text.to_str().filter(|t| postgres::PgTarget::is_url(t)) else {
            return Ok(Database::Sqlite(text.to_path_buf()));
        };
        let target = postgres::PgTarget::parse(url)?;
        if target.has_password() {
            return Err("the PostgreSQL URL holds a password: put it in \
                        database_password_file (or $PGPASSWORD) instead"
                .into());
        }
        Ok(Database::Postgres(Box::new(target)))
    }

    /// How logs, `status` and errors name it (never with a password).
    pub fn label(&self) -> String {
        match self {
            Database::Sqlite(path) => path.display().to_string(),
            Database::Postgres(target) => target.label().to_string(),
        }
    }
}

/// The engine a [`Store`] runs on.
pub(crate) enum Backend {
    Lite(Connection),
    Pg(Box<PgConn>),
}

impl Backend {
    fn conn(&self) -> Conn<'_> {
        match self {
            Backend::Lite(c) => Conn::Lite(c),
            Backend::Pg(c) => Conn::Pg(c),
        }
    }
}

/// One connection to the database: an SQLite file, or a PostgreSQL database
/// ([`Store::open_postgres`]). Synchronous; share it across tasks through a [`StoreHandle`],
/// or open one `Store` per thread (the engine serializes the writers).
pub struct Store {
    pub(crate) backend: Backend,
    /// The SQLite file, or the PostgreSQL target without its password.
    path: PathBuf,
    /// See [`Store::commit_faults`].
    commit_faults: Arc<AtomicU32>,
    /// Which webhook endpoints want which events ([`Store::set_webhooks`]).
    hooks: Subscriptions,
    /// Woken after a commit that wrote a webhook event ([`Store::outbox_wake`]).
    outbox_wake: Arc<tokio::sync::Notify>,
    /// The daemon this connection works for ([`Store::set_host`]).
    host: Option<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// One transaction. Obtain it from [`Store::write`] or [`Store::read`].
pub struct Tx<'a> {
    conn: Conn<'a>,
    /// The daemon whose modems take the deliveries this transaction marks `sending`.
    host: Option<&'a str>,
    hooks: &'a Subscriptions,
    /// Set when a webhook event was written: the sender is woken once this commits.
    emitted: &'a std::cell::Cell<bool>,
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with(path, &OpenOptions::default())
    }

    /// [`Store::open`] with options.
    pub fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.clone(),
            reason: e.to_string(),
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&path, flags).map_err(open_err)?;
        let not_db = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => {
                StoreError::NotADatabase { path: path.clone() }
            }
            _ => StoreError::from(e),
        };
        conn.busy_timeout(options.busy_timeout).map_err(open_err)?;
        // A new file starts in rollback mode, and switching it to WAL takes its exclusive
        // lock. Two connections doing so at once can each hold a shared lock and want the
        // other's gone: SQLite then answers one of them SQLITE_BUSY at once, without waiting
        // in the busy handler (that would deadlock). So that one tries again (the other has
        // switched by then), within the same busy timeout.
        let started = std::time::Instant::now();
        let mode: String = loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
                Err(e)
                    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                        && started.elapsed() < options.busy_timeout =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                other => break other.map_err(not_db)?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") && !path_is_memory(&path) {
            return Err(StoreError::Open {
                path,
                reason: format!("the file system refused WAL mode (journal mode is {mode})"),
            });
        }
        // FULL, not NORMAL: in WAL mode NORMAL syncs only at checkpoints, so an OS crash or a
        // power cut after a commit can lose it: a broadcast the client was told was accepted,
        // its quota use, the record that a part was sent (sent again after the restart). FULL
        // syncs the WAL at every commit; BENCHMARKS.md ("Durability") has what it costs.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(not_db)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate::migrate(&mut conn, &path, migrate::MIGRATIONS)?;
        Ok(Store {
            backend: Backend::Lite(conn),
            path,
            commit_faults: Arc::default(),
            hooks: Subscriptions::default(),
            outbox_wake: Arc::default(),
            host: None,
        })
    }

    /// The connection settings in force, as SQLite reports them (`None` on PostgreSQL).
    pub fn pragmas(&self) -> Result<Option<Pragmas>, StoreError> {
        let Backend::Lite(conn) = &self.backend else {
            return Ok(None);
        };
        let get = |name: &str| -> Result<String, StoreError> {
            Ok(conn
                .query_row(&format!("PRAGMA {name}"), [], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })?)
        };
        Ok(Some(Pragmas {
            journal_mode: get("journal_mode")?,
            synchronous: match get("synchronous")?.as_str() {
                "0" => "OFF".into(),
                "1" => "NORMAL".into(),
                "2" => "FULL".into(),
                "3" => "EXTRA".into(),
                other => other.into(),
            },
            foreign_keys: get("foreign_keys")? == "1",
            busy_timeout_ms: get("busy_timeout")?.parse().unwrap_or(0),
            user_version: migrate::user_version(conn)?,
        }))
    }

    /// Opens the configured database: [`Store::open_with`] or [`Store::open_postgres`].
    pub fn open_database(db: &Database, options: &OpenOptions) -> Result<Store, StoreError> {
        match db {
            Database::Sqlite(path) => Store::open_with(path, options),
            Database::Postgres(target) => Store::open_postgres(target, options),
        }
    }

    /// Which webhook endpoints (by key) want which event types: from now on each change of
    /// such a type writes its event in its own transaction. None by default.
    pub fn set_webhooks(&mut self, hooks: Subscriptions) {
        self.hooks = hooks;
    }

    /// Names the daemon this connection works for: the deliveries it marks `sending` carry
    /// the name, only this host may record their outcome, and [`Tx::recover_on_start`]
    /// recovers only this host's (and unnamed) leftovers. Unset: one daemon, every delivery
    /// its own.
    pub fn set_host(&mut self, name: &str) {
        self.host = Some(name.to_string());
    }

    /// Whether a webhook wants events of `kind`.
    pub fn webhooks_want(&self, kind: EventKind) -> bool {
        self.hooks.wants(kind)
    }

    /// Notified after each commit that wrote a webhook event (the permit is kept when nobody
    /// waits), so the sender need not poll.
    pub fn outbox_wake(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_wake.clone()
    }

    /// The file this store was opened on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one write transaction: committed when `f` returns `Ok`, rolled back when
    /// it returns `Err` (or panics). The write lock is taken first (SQLite's `BEGIN
    /// IMMEDIATE`, an advisory lock on PostgreSQL), so a read-then-write such as a quota check
    /// cannot race another writer, in this process or another.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.transaction(true, f)
    }

    /// Runs `f` in one read transaction: everything it reads is one snapshot.
    pub fn read<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.transaction(false, f)
    }

    /// Group commit: runs each of `batch` in a savepoint of one write transaction (a job that
    /// fails is rolled back alone), commits once, then tells every job the commit's outcome.
    /// One sync to disk for many small writes: with `synchronous = FULL` each commit waits for
    /// the disk, and the modems' state changes arrive together.
    ///
    /// Returns what the batch says of the disk: `Err` with the first error of the file system
    /// ([`StoreError::is_storage`]: full, I/O) met on the way, `Ok(true)` when it committed.
    pub(crate) fn run_batch(&mut self, batch: Vec<BatchJob>) -> Result<bool, StoreError> {
        let faults = self.commit_faults.clone();
        let conn = self.backend.conn();
        let tx = match Open::begin(conn, true) {
            Ok(tx) => tx,
            Err(e) => {
                // Nothing ran: each job learns why.
                for job in batch {
                    let (_, finish) = job(None);
                    finish(Err(e.clone()));
                }
                return if e.is_storage() { Err(e) } else { Ok(false) };
            }
        };
        let mut storage: Option<StoreError> = None;
        let mut finishers = Vec::with_capacity(batch.len());
        let emitted = std::cell::Cell::new(false);
        for job in batch {
            if let Err(e) = conn.execute_batch("SAVEPOINT batch_job") {
                let e = StoreError::from(e);
                if e.is_storage() {
                    storage.get_or_insert(e.clone());
                }
                let (_, finish) = job(None);
                finishers.push((finish, Some(e)));
                continue;
            }
            let (own, finish) = job(Some(&Tx {
                conn,
                host: self.host.as_deref(),
                hooks: &self.hooks,
                emitted: &emitted,
            }));
            if let Err(e) = &own {
                if e.is_storage() {
                    storage.get_or_insert(e.clone());
                }
            }
            let end = if own.is_ok() {
                "RELEASE batch_job"
            } else {
                "ROLLBACK TO batch_job; RELEASE batch_job"
            };
            let ended = conn.execute_batch(end).err().map(StoreError::from);
            finishers.push((finish, ended));
        }
        let drill = faults
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let committed = if drill {
            // Dropping the transaction rolls it back, as SQLite does with a failed commit.
            drop(tx);
            Err(StoreError::Full(
                "database or disk is full (simulated by commit_faults)".into(),
            ))
        } else {
            tx.commit()
        };
        if committed.is_ok() && emitted.get() {
            self.outbox_wake.notify_one();
        }
        for (finish, own) in finishers {
            finish(match (&committed, own) {
                (Err(e), _) => Err(e.clone()),
                (Ok(()), Some(e)) => Err(e),
                (Ok(()), None) => Ok(()),
            });
        }
        match (committed, storage) {
            (Err(e), _) if e.is_storage() => Err(e),
            (_, Some(e)) => Err(e),
            (Ok(()), None) => Ok(true),
            (Err(_), None) => Ok(false),
        }
    }

    /// A test's switch for a full disk: while it is above zero, each group commit
    /// ([`StoreHandle::write_batched`]) fails with [`StoreError::Full`] as a commit on a full
    /// disk does (its changes rolled back) and takes one off. Zero unless a test sets it.
    pub fn commit_faults(&self) -> Arc<AtomicU32> {
        self.commit_faults.clone()
    }

    fn transaction<T, E: From<StoreError>>(
        &mut self,
        write: bool,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let conn = self.backend.conn();
        let tx = Open::begin(conn, write)?;
        let emitted = std::cell::Cell::new(false);
        let out = f(&Tx {
            conn,
            host: self.host.as_deref(),
            hooks: &self.hooks,
            emitted: &emitted,
        })?;
        tx.commit()?;
        if emitted.get() {
            self.outbox_wake.notify_one();
        }
        Ok(out)
    }
}

/// The key of the advisory lock every PostgreSQL write transaction takes first: one writer
/// at a time, as SQLite has, so the store's read-then-write rules hold across hosts.
pub const PG_WRITER_LOCK: i64 = 0x6753_4d53; // "gSMS"

/// An open transaction, rolled back when dropped without [`Open::commit`] (an error, a
/// panic unwinding).
struct Open<'a> {
    conn: Conn<'a>,
    done: bool,
}

impl<'a> Open<'a> {
    fn begin(conn: Conn<'a>, write: bool) -> Result<Open<'a>, StoreError> {
        let sql = match (conn.dialect(), write) {
            (Dialect::Sqlite, true) => "BEGIN IMMEDIATE".to_string(),
            (Dialect::Sqlite, false) => "BEGIN DEFERRED".to_string(),
            (Dialect::Postgres, true) => {
                format!("BEGIN; SELECT pg_advisory_xact_lock({PG_WRITER_LOCK})")
            }
            (Dialect::Postgres, false) => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY".into(),
        };
        let mut begun = conn.execute_batch(&sql);
        if let (Err(_), Conn::Pg(pg)) = (&begun, conn) {
            if pg.is_closed() {
                // The server closed the connection since the last transaction (the client
                // may have known it, or learned it only now): connect again, once.
                pg.revive()?;
                begun = conn.execute_batch(&sql);
            }
        }
        if let Err(e) = begun {
            // PostgreSQL keeps a transaction begun before a failing statement of the batch.
            if conn.dialect() == Dialect::Postgres {
                let _ = conn.execute_batch("ROLLBACK");
            }
            return Err(e.into());
        }
        Ok(Open { conn, done: false })
    }

    fn commit(mut self) -> Result<(), StoreError> {
        self.done = true;
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e.into())
            }
        }
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Tx<'_> {
    /// A write that changes nothing yet needs room on the disk like any commit: the schema
    /// version written over with itself (one page into the journal). It tells whether the
    /// disk takes writes again.
    pub fn rewrite_header(&self) -> Result<(), StoreError> {
        match self.conn {
            Conn::Lite(c) => {
                let version = migrate::user_version(c)?;
                c.pragma_update(None, "user_version", version)?;
            }
            Conn::Pg(_) => {
                self.conn
                    .execute("UPDATE groupsms_schema SET version = version", params![])?;
            }
        }
        Ok(())
    }
}

fn path_is_memory(path: &Path) -> bool {
    path.as_os_str() == ":memory:"
}

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

pub(crate) fn opt_from_ms(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.map(from_ms)
}

/// Generates `Store` methods that run one `Tx` method in its own transaction.
macro_rules! delegate {
    ($kind:ident: $( fn $name:ident($($arg:ident : $ty:ty),*) -> $ret:ty; )*) => {
        impl Store {
            $(
                #[doc = concat!("[`Tx::", stringify!($name), "`] in its own ",
                    stringify!($kind), " transaction.")]
                pub fn $name(&mut self $(, $arg: $ty)*) -> Result<$ret, StoreError> {
                    self.$kind(|tx| tx.$name($($arg),*))
                }
            )*
        }
    };
}

delegate! { write:
    fn create_group(group: &NewGroup, now: DateTime<Utc>) -> Group;
    fn update_group(handle: &str, change: &GroupChange) -> Group;
    fn delete_group(handle: &str) -> ();
    fn create_member(member: &NewMember, now: DateTime<Utc>) -> Member;
    fn update_member(handle: &str, change: &MemberChange) -> Member;
    fn delete_member(handle: &str) -> ();
    fn join(group: &str, member: &str, role: Role, now: DateTime<Utc>) -> Membership;
    fn leave(group: &str, member: &str) -> ();
    fn set_role(group: &str, member: &str, role: Role) -> Membership;
    fn set_opt_out(group: &str, member: &str, opted_out: bool) -> Membership;
    fn cancel_queued(group: GroupId, member: MemberId, reason: &str, now: DateTime<Utc>) -> Vec<DeliveryUpdate>;
    fn insert_notice(n: &NewNotice, now: DateTime<Utc>) -> BroadcastId;
    fn insert_broadcast(b: &NewBroadcast, recipients: &[Recipient], now: DateTime<Utc>) -> BroadcastId;
    fn consume_quota(group: GroupId, day: &str, month: &str) -> ();
    fn mark_sending(id: DeliveryId, modem: &str, now: DateTime<Utc>) -> DeliveryUpdate;
    fn mark_sent(id: DeliveryId, part_refs: &[u8], now: DateTime<Utc>) -> DeliveryUpdate;
    fn mark_failed(id: DeliveryId, reason: &str, now: DateTime<Utc>) -> DeliveryUpdate;
    fn mark_uncertain(id: DeliveryId, reason: &str, now: DateTime<Utc>) -> DeliveryUpdate;
    fn mark_delivered(id: DeliveryId, now: DateTime<Utc>) -> DeliveryUpdate;
    fn mark_undelivered(id: DeliveryId, reason: &str, now: DateTime<Utc>) -> DeliveryUpdate;
    fn record_parts(id: DeliveryId, sim: &str, refs: &[u8], at: DateTime<Utc>) -> ();
    fn insert_unmatched_report(r: &NewUnmatchedReport, at: DateTime<Utc>) -> i64;
    fn requeue(id: DeliveryId, error: &str, not_before: DateTime<Utc>, now: DateTime<Utc>) -> DeliveryUpdate;
    fn release_unsent(id: DeliveryId, now: DateTime<Utc>) -> DeliveryUpdate;
    fn flag_possible_duplicate(id: DeliveryId) -> ();
    fn recover_on_start(policy: InFlightPolicy, now: DateTime<Utc>) -> Recovery;
    fn record_sim_send(sim: &str, parts: u32, at: DateTime<Utc>) -> ();
    fn next_concat_ref(sim: &str, number: &str) -> u8;
    fn prune_sim_sends(before: DateTime<Utc>) -> u64;
    fn prune_idempotency_keys(before: DateTime<Utc>) -> u64;
    fn audit(entry: &NewAudit, at: DateTime<Utc>) -> ();
    fn host_up(lease: chrono::Duration, now: DateTime<Utc>) -> ();
    fn host_heartbeat(modems: &str, now: DateTime<Utc>) -> bool;
    fn host_stopped(now: DateTime<Utc>) -> ();
    fn recover_lost_hosts(policy: InFlightPolicy, now: DateTime<Utc>) -> Vec<hosts::LostHost>;
}

delegate! { read:
    fn group(handle: &str) -> Option<Group>;
    fn group_by_id(id: GroupId) -> Option<Group>;
    fn groups() -> Vec<Group>;
    fn groups_page(after: Option<&str>, limit: u32) -> Vec<Group>;
    fn member(handle: &str) -> Option<Member>;
    fn member_by_id(id: MemberId) -> Option<Member>;
    fn member_by_uid(uid: u32) -> Option<Member>;
    fn members() -> Vec<Member>;
    fn members_page(after: Option<&str>, limit: u32) -> Vec<Member>;
    fn members_by_phone(number: &str) -> Vec<Member>;
    fn groups_reaching(number: &str, since: DateTime<Utc>) -> Vec<GroupId>;
    fn notices_to(number: &str, since: DateTime<Utc>) -> u32;
    fn membership(group: GroupId, member: MemberId) -> Option<Membership>;
    fn group_members(group: &str) -> Vec<GroupMember>;
    fn group_members_page(group: &str, after: Option<&str>, limit: u32) -> Vec<GroupMember>;
    fn member_groups(member: &str) -> Vec<MemberGroup>;
    fn member_groups_page(member: &str, after: Option<&str>, limit: u32) -> Vec<MemberGroup>;
    fn recipient_rows(group: GroupId) -> Vec<RecipientRow>;
    fn quota_used(group: GroupId, period: QuotaPeriod, key: &str) -> u32;
    fn broadcasts(group: Option<&str>, limit: u32) -> Vec<BroadcastSummary>;
    fn broadcasts_page(groups: Option<&[String]>, before: Option<i64>, limit: u32) -> Vec<BroadcastSummary>;
    fn broadcast(id: BroadcastId) -> Option<BroadcastSummary>;
    fn show_broadcast(id: BroadcastId) -> BroadcastDetail;
    fn deliveries_page(id: BroadcastId, after: i64, limit: u32) -> Vec<DeliveryRow>;
    fn broadcast_progress(id: BroadcastId) -> Progress;
    fn load_queued() -> Vec<QueuedDelivery>;
    fn queued_for_broadcast(id: BroadcastId) -> Vec<QueuedDelivery>;
    fn sim_sends_between(sim: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> SendCount;
    fn audit_log(limit: u32) -> Vec<AuditEntry>;
    fn report_candidates(sim: &str, mr: u8, since: DateTime<Utc>) -> Vec<PartCandidate>;
    fn part_statuses(id: DeliveryId) -> Vec<Option<u8>>;
    fn unmatched_reports(limit: u32) -> Vec<UnmatchedReport>;
    fn unmatched_report_count() -> u64;
    fn metric_totals() -> metrics::MetricTotals;
    fn hosts() -> Vec<hosts::HostRecord>;
    fn hosts_as_of(now: DateTime<Utc>) -> (Vec<hosts::HostRecord>, DateTime<Utc>);
}

/// One job of a group commit ([`Store::run_batch`]): given the transaction (`None` when it
/// could not start), it does its work and says whether it succeeded; the returned finisher
/// learns whether the commit (and its own savepoint) held. The job says how it went itself
/// (its own error), so the batch can tell a full disk from a refused change.
pub(crate) type BatchJob = Box<
    dyn FnOnce(
            Option<&Tx<'_>>,
        ) -> (
            Result<(), StoreError>,
            Box<dyn FnOnce(Result<(), StoreError>) + Send>,
        ) + Send,
>;

/// Shared text of one broadcast, handed to every queued delivery of it.
pub(crate) type SharedText = Arc<str>;
