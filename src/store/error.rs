//! [`StoreError`]: everything the store can refuse or fail at, as a sentence for the CLI.

use std::path::PathBuf;

/// One error type for the whole store. rusqlite errors are turned into text here so no other
/// module ever sees a rusqlite type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("{path} is not an SQLite database")]
    NotADatabase { path: PathBuf },
    #[error(
        "the database {path} has schema version {found}, newer than the {supported} this program \
         knows; use a newer groupsms or restore a backup"
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("database migration {version} failed: {reason}")]
    Migration { version: u32, reason: String },
    #[error("the database stayed locked by another connection for longer than the busy timeout")]
    Busy,
    #[error("database error: {0}")]
    Sql(String),
    /// SQLITE_FULL: the file system holding the database (or its journal) has no room left.
    #[error(
        "the disk holding the database is full ({0}); free some space: the daemon carries on \
         by itself once it can write again"
    )]
    Full(String),
    /// SQLITE_IOERR, SQLITE_READONLY: the file system refused a write.
    #[error("the database cannot be written ({0}); check the disk and its file system")]
    DiskIo(String),
    /// The PostgreSQL server cannot be reached (down, restarting, a network cut): tried
    /// again at the next transaction.
    #[error("the database server cannot be reached ({0}); the daemon connects again by itself")]
    Unreachable(String),

    #[error("there is no group with the handle '{0}'")]
    UnknownGroup(String),
    #[error("there is no member with the handle '{0}'")]
    UnknownMember(String),
    #[error("there is no broadcast number {0}")]
    UnknownBroadcast(i64),
    #[error("there is no API token number {0} (see: groupsms token list)")]
    UnknownToken(i64),
    #[error("there is no delivery number {0}")]
    UnknownDelivery(i64),
    #[error("a group with the handle '{0}' already exists")]
    DuplicateGroup(String),
    #[error("a member with the handle '{0}' already exists")]
    DuplicateMember(String),
    #[error("unix user {uid} is already bound to member '{member}'")]
    UidTaken { uid: u32, member: String },
    #[error("member '{member}' is already in group '{group}'")]
    AlreadyMember { group: String, member: String },
    #[error("member '{member}' is not in group '{group}'")]
    NotMember { group: String, member: String },
    #[error("'{handle}' is not a usable handle: {reason}")]
    BadHandle {
        handle: String,
        reason: &'static str,
    },
    #[error("'{0}' is not a phone number in E.164 form (+ and 8 to 15 digits)")]
    BadPhone(String),
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("delivery {delivery} is {from}; it cannot become {to}")]
    BadTransition {
        delivery: i64,
        from: &'static str,
        to: &'static str,
    },

    #[error("delivery {delivery} was taken over by host {host}; this host does not record it")]
    TakenOver { delivery: i64, host: String },
    #[error(
        "this host was declared lost by another (its lease ran out); it takes no delivery \
         until it has joined again"
    )]
    HostLost,

    #[error(
        "the database {path} is in use by another process; stop the daemon first \
         (systemctl stop groupsms.socket groupsms.service)"
    )]
    InUse { path: PathBuf },
    #[error("{path} is an SQLite database but not a groupsms one (it has no schema version)")]
    NotGroupsms { path: PathBuf },
    #[error("{path} failed SQLite's integrity check: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },

    #[error("cannot start the store thread: {0}")]
    Thread(String),
    #[error("the store thread has stopped")]
    Closed,
    #[error("a store operation panicked: {0}")]
    Panicked(String),
}

impl StoreError {
    /// True when trying again later may succeed (the database was locked).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Busy)
    }

    /// True when the file system refused a write (full, I/O error, read-only), or the
    /// database server cannot be reached: the same write may well succeed once an operator
    /// has made room or fixed the disk, or the server is back.
    pub fn is_storage(&self) -> bool {
        matches!(
            self,
            StoreError::Full(_) | StoreError::DiskIo(_) | StoreError::Unreachable(_)
        )
    }

    /// True when the same write may commit if tried again later, as it is: the disk or the
    /// server refused it ([`StoreError::is_storage`]), or the database stayed locked past the
    /// busy timeout ([`StoreError::is_transient`]: an operator's `sqlite3` shell, a large
    /// import, another host paused inside a transaction).
    pub fn may_pass_later(&self) -> bool {
        self.is_storage() || self.is_transient()
    }

    /// True when the database or the store thread failed, as opposed to a request the store
    /// refused (an unknown handle, a duplicate, a bad value, a forbidden transition).
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            StoreError::Open { .. }
                | StoreError::NotADatabase { .. }
                | StoreError::NewerSchema { .. }
                | StoreError::Migration { .. }
                | StoreError::Busy
                | StoreError::Sql(_)
                | StoreError::Full(_)
                | StoreError::DiskIo(_)
                | StoreError::Unreachable(_)
                | StoreError::InUse { .. }
                | StoreError::Corrupt { .. }
                | StoreError::Io { .. }
                | StoreError::Thread(_)
                | StoreError::Closed
                | StoreError::Panicked(_)
        )
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy,
            Some(ErrorCode::DiskFull) => StoreError::Full(e.to_string()),
            Some(ErrorCode::SystemIoFailure | ErrorCode::ReadOnly) => {
                StoreError::DiskIo(e.to_string())
            }
            _ => StoreError::Sql(e.to_string()),
        }
    }
}
