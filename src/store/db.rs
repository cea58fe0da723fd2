//! The one seam between the store's SQL and a database engine: SQLite (rusqlite, the
//! embedded default) or PostgreSQL (the `postgres` client, for several hosts on one
//! database). Every store file writes its queries once, against [`Conn`], [`Stmt`] and
//! [`Row`]; this module binds the values and reads the columns for whichever engine runs.
//!
//! The SQL the files write is the common ground of both engines: `?` placeholders (turned
//! into `$1, $2, ...` for PostgreSQL), `ON CONFLICT`, `RETURNING`, `CAST(x AS BIGINT)`.
//! Where the two differ (JSON functions, the schema version) a file asks
//! [`Conn::dialect`]. Integers are `BIGINT` on PostgreSQL, so an `i64` binds anywhere;
//! [`Value`] converts at the edge when PostgreSQL asks for another integer type.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;

use tokio_postgres::types::{IsNull, Type};

use super::StoreError;

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// What a query can fail with, before the store turns it into a [`StoreError`].
#[derive(Debug)]
pub enum Error {
    Lite(rusqlite::Error),
    Pg(tokio_postgres::Error),
    /// `query_row` found no row (see [`OptionalExtension`]).
    NoRows,
    /// A column's value is not what the reader expected.
    Decode {
        column: usize,
        reason: String,
    },
    /// No connection to PostgreSQL could be made.
    Connect(String),
    /// PostgreSQL refused a statement's text (a mistake of ours: the text is named).
    Prepare {
        sql: String,
        source: tokio_postgres::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Lite(e) => e.fmt(f),
            Error::Pg(e) => f.write_str(&pg_text(e)),
            Error::NoRows => f.write_str("the query returned no row"),
            Error::Decode { column, reason } => write!(f, "column {column}: {reason}"),
            Error::Connect(reason) => f.write_str(reason),
            Error::Prepare { sql, source } => write!(f, "{} in: {sql}", pg_text(source)),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Error::NoRows,
            e => Error::Lite(e),
        }
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Error::Pg(e)
    }
}

/// PostgreSQL's own message (with its detail), not the client's "db error" wrapper.
pub(crate) fn pg_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {detail}", db.message()),
            None => db.message().to_string(),
        },
        None => {
            let mut text = e.to_string();
            if let Some(source) = e.source() {
                text = format!("{text}: {source}");
            }
            text
        }
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        use tokio_postgres::error::SqlState;
        match e {
            Error::Lite(e) => StoreError::from(e),
            Error::Pg(e) => match e.code() {
                Some(c)
                    if *c == SqlState::LOCK_NOT_AVAILABLE
                        || *c == SqlState::T_R_DEADLOCK_DETECTED
                        || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
                {
                    StoreError::Busy
                }
                Some(c) if *c == SqlState::DISK_FULL => StoreError::Full(pg_text(&e)),
                Some(c)
                    if *c == SqlState::IO_ERROR || *c == SqlState::READ_ONLY_SQL_TRANSACTION =>
                {
                    StoreError::DiskIo(pg_text(&e))
                }
                // The server went away: like a disk that refuses writes, the same write may
                // succeed once it is back.
                None if e.is_closed() => StoreError::Unreachable(format!(
                    "the connection to PostgreSQL is closed: {}",
                    pg_text(&e)
                )),
                _ => StoreError::Sql(pg_text(&e)),
            },
            // Like a disk that refuses writes: the same write may succeed once it is back.
            Error::Connect(reason) => StoreError::Unreachable(reason),
            other => StoreError::Sql(other.to_string()),
        }
    }
}

/// `query_row(..).optional()`: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

// ---- values in ----

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(Cow<'a, str>),
    Blob(Cow<'a, [u8]>),
}

impl Value<'_> {
    fn borrowed(&self) -> Value<'_> {
        match self {
            Value::Null => Value::Null,
            Value::Int(i) => Value::Int(*i),
            Value::Real(r) => Value::Real(*r),
            Value::Text(t) => Value::Text(Cow::Borrowed(t)),
            Value::Blob(b) => Value::Blob(Cow::Borrowed(b)),
        }
    }
}

/// A Rust value that can be bound to a placeholder.
pub trait ToCol {
    fn to_col(&self) -> Value<'_>;
}

impl<T: ToCol + ?Sized> ToCol for &T {
    fn to_col(&self) -> Value<'_> {
        (**self).to_col()
    }
}

impl<T: ToCol> ToCol for Option<T> {
    fn to_col(&self) -> Value<'_> {
        match self {
            Some(v) => v.to_col(),
            None => Value::Null,
        }
    }
}

impl ToCol for Value<'_> {
    fn to_col(&self) -> Value<'_> {
        self.borrowed()
    }
}

macro_rules! int_to_col {
    ($($t:ty),*) => {$(
        impl ToCol for $t {
            fn to_col(&self) -> Value<'_> {
                // Values past i64::MAX (a u64 count) are clamped: no column holds one.
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_to_col!(i64, i32, i16, i8, u64, u32, u16, u8, usize);

impl ToCol for bool {
    fn to_col(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToCol for f64 {
    fn to_col(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl ToCol for str {
    fn to_col(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl ToCol for Cow<'_, str> {
    fn to_col(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl ToCol for String {
    fn to_col(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl ToCol for [u8] {
    fn to_col(&self) -> Value<'_> {
        Value::Blob(Cow::Borrowed(self))
    }
}

impl ToCol for Vec<u8> {
    fn to_col(&self) -> Value<'_> {
        Value::Blob(Cow::Borrowed(self))
    }
}

/// The values for a statement's placeholders, in order: `params![a, b]`, `[id]`, or a
/// `Vec<Value>` built at run time.
pub trait Params {
    fn values(&self) -> Vec<Value<'_>>;
}

impl Params for &[&dyn ToCol] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(|v| v.to_col()).collect()
    }
}

impl<T: ToCol, const N: usize> Params for [T; N] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(|v| v.to_col()).collect()
    }
}

impl Params for Vec<Value<'_>> {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(Value::borrowed).collect()
    }
}

/// `params![a, b, c]`: a list of values of different types.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::store::db::ToCol]
    };
    ($($v:expr),+ $(,)?) => {
        &[$(&$v as &dyn $crate::store::db::ToCol),+] as &[&dyn $crate::store::db::ToCol]
    };
}
pub(crate) use params;

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

type BoxError = Box<dyn StdError + Sync + Send>;

impl tokio_postgres::types::ToSql for Value<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::UNKNOWN => i.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound to a {ty} parameter").into()),
            },
            Value::Real(r) => match *ty {
                Type::FLOAT8 => r.to_sql(ty, out),
                Type::FLOAT4 => (*r as f32).to_sql(ty, out),
                _ => Err(format!("a real number cannot be bound to a {ty} parameter").into()),
            },
            Value::Text(t) => match *ty {
                Type::JSONB => {
                    // JSONB's binary form: version 1, then the text.
                    out.extend_from_slice(&[1]);
                    out.extend_from_slice(t.as_bytes());
                    Ok(IsNull::No)
                }
                Type::JSON => {
                    out.extend_from_slice(t.as_bytes());
                    Ok(IsNull::No)
                }
                _ => t.as_ref().to_sql(ty, out),
            },
            Value::Blob(b) => b.as_ref().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // The value converts (or refuses) by the type PostgreSQL inferred, in to_sql.
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

// ---- values out ----

/// A column's value as read, borrowed from the row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl ColRef<'_> {
    fn kind(&self) -> &'static str {
        match self {
            ColRef::Null => "NULL",
            ColRef::Int(_) => "an integer",
            ColRef::Real(_) => "a real number",
            ColRef::Text(_) => "text",
            ColRef::Blob(_) => "a blob",
        }
    }

    /// The text of a TEXT column (a refusal names what was there instead).
    pub fn as_str(&self) -> std::result::Result<&str, String> {
        match self {
            ColRef::Text(t) => Ok(t),
            other => Err(format!("expected text, found {}", other.kind())),
        }
    }

    pub fn as_i64(&self) -> std::result::Result<i64, String> {
        match self {
            ColRef::Int(i) => Ok(*i),
            other => Err(format!("expected an integer, found {}", other.kind())),
        }
    }
}

/// A Rust value a column can be read into.
pub trait FromCol: Sized {
    fn from_col(v: ColRef<'_>) -> std::result::Result<Self, String>;
}

impl<T: FromCol> FromCol for Option<T> {
    fn from_col(v: ColRef<'_>) -> std::result::Result<Self, String> {
        match v {
            ColRef::Null => Ok(None),
            v => T::from_col(v).map(Some),
        }
    }
}

macro_rules! int_from_col {
    ($($t:ty),*) => {$(
        impl FromCol for $t {
            fn from_col(v: ColRef<'_>) -> std::result::Result<Self, String> {
                let i = v.as_i64()?;
                <$t>::try_from(i).map_err(|_| {
                    format!("{i} is out of range for {}", stringify!($t))
                })
            }
        }
    )*};
}
int_from_col!(i64, i32, i16, i8, u64, u32, u16, u8, usize);

impl FromCol for bool {
    fn from_col(v: ColRef<'_>) -> std::result::Result<Self, String> {
        Ok(v.as_i64()? != 0)
    }
}

impl FromCol for f64 {
    fn from_col(v: ColRef<'_>) -> std::result::Result<Self, String> {
        match v {
            ColRef::Real(r) => Ok(r),
            ColRef::Int(i) => Ok(i as f64),
            other => Err(format!("expected a number, found {}", other.kind())),
        }
    }
}

impl FromCol for String {
    fn from_col(v: ColRef<'_>) -> std::result::Result<Self, String> {
        v.as_str().map(str::to_string)
    }
}

impl FromCol for Vec<u8> {
    fn from_col(v: ColRef<'_>) -> std::result::Result<Self, String> {
        match v {
            ColRef::Blob(b) => Ok(b.to_vec()),
            ColRef::Text(t) => Ok(t.as_bytes().to_vec()),
            other => Err(format!("expected a blob, found {}", other.kind())),
        }
    }
}

/// A text column whose value is one of a type's names (roles, states): the type's
/// `FromStr` decides.
pub(crate) fn parse_col<T: std::str::FromStr<Err = String>>(
    v: ColRef<'_>,
) -> std::result::Result<T, String> {
    v.as_str()?.parse()
}

/// One row of a result.
pub enum Row<'r> {
    Lite(&'r rusqlite::Row<'r>),
    Pg(&'r tokio_postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0), read as `T`.
    pub fn get<T: FromCol>(&self, i: usize) -> Result<T> {
        let decode = |reason: String| Error::Decode { column: i, reason };
        match self {
            Row::Lite(r) => {
                use rusqlite::types::ValueRef;
                let v = match r.get_ref(i)? {
                    ValueRef::Null => ColRef::Null,
                    ValueRef::Integer(n) => ColRef::Int(n),
                    ValueRef::Real(x) => ColRef::Real(x),
                    ValueRef::Text(t) => ColRef::Text(
                        std::str::from_utf8(t).map_err(|e| decode(format!("not UTF-8: {e}")))?,
                    ),
                    ValueRef::Blob(b) => ColRef::Blob(b),
                };
                T::from_col(v).map_err(decode)
            }
            Row::Pg(r) => {
                let ty = r
                    .columns()
                    .get(i)
                    .ok_or_else(|| decode("no such column".into()))?
                    .type_()
                    .clone();
                let v = match ty {
                    Type::INT8 => r
                        .try_get::<_, Option<i64>>(i)?
                        .map_or(ColRef::Null, ColRef::Int),
                    Type::INT4 => r
                        .try_get::<_, Option<i32>>(i)?
                        .map_or(ColRef::Null, |n| ColRef::Int(n.into())),
                    Type::INT2 => r
                        .try_get::<_, Option<i16>>(i)?
                        .map_or(ColRef::Null, |n| ColRef::Int(n.into())),
                    Type::BOOL => r
                        .try_get::<_, Option<bool>>(i)?
                        .map_or(ColRef::Null, |b| ColRef::Int(b.into())),
                    Type::FLOAT8 => r
                        .try_get::<_, Option<f64>>(i)?
                        .map_or(ColRef::Null, ColRef::Real),
                    Type::FLOAT4 => r
                        .try_get::<_, Option<f32>>(i)?
                        .map_or(ColRef::Null, |x| ColRef::Real(x.into())),
                    Type::BYTEA => r
                        .try_get::<_, Option<&[u8]>>(i)?
                        .map_or(ColRef::Null, ColRef::Blob),
                    Type::JSON | Type::JSONB => r
                        .try_get::<_, Option<JsonText<'_>>>(i)?
                        .map_or(ColRef::Null, |j| ColRef::Text(j.0)),
                    Type::NUMERIC => {
                        return Err(decode(
                            "a NUMERIC column (cast it: CAST(.. AS BIGINT))".into(),
                        ))
                    }
                    _ => r
                        .try_get::<_, Option<&str>>(i)?
                        .map_or(ColRef::Null, ColRef::Text),
                };
                T::from_col(v).map_err(decode)
            }
        }
    }
}

/// The text of a JSON or JSONB column.
struct JsonText<'a>(&'a str);

impl<'a> tokio_postgres::types::FromSql<'a> for JsonText<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let raw = if *ty == Type::JSONB {
            match raw.split_first() {
                Some((1, rest)) => rest,
                _ => return Err("unknown JSONB version".into()),
            }
        } else {
            raw
        };
        Ok(JsonText(std::str::from_utf8(raw)?))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::JSONB
    }
}

// ---- connections and statements ----

/// A PostgreSQL connection with its prepared statements.
///
/// The connection's I/O runs on a thread of its own (a small tokio runtime that ends when
/// the connection closes); queries are sent from the store's thread and waited for by
/// parking it. So the store works the same from any thread, inside a tokio runtime or not,
/// as an SQLite connection does.
///
/// A connection the server closed (a restart, a network cut, an administrator) is made
/// again at the next transaction, with the same session settings and, if this connection
/// held it, the daemon's lock taken again.
pub struct PgConn {
    client: RefCell<tokio_postgres::Client>,
    statements: RefCell<HashMap<String, tokio_postgres::Statement>>,
    config: tokio_postgres::Config,
    /// TLS to the server (`sslmode=require`), or none.
    tls: Option<PgTls>,
    /// Run after every (re)connection: the session's settings.
    session: String,
    /// The session lock this connection holds, to take again after a reconnection.
    held_lock: std::cell::Cell<Option<i64>>,
}

impl PgConn {
    /// Connects and applies `session` (statements separated by `;`).
    pub(crate) fn connect(
        config: tokio_postgres::Config,
        tls: Option<PgTls>,
        session: &str,
    ) -> Result<PgConn> {
        let client = PgConn::open(config.clone(), tls.clone())?;
        block_on(client.batch_execute(session))?;
        Ok(PgConn {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
            config,
            tls,
            session: session.to_string(),
            held_lock: std::cell::Cell::new(None),
        })
    }

    /// Whether the server closed the connection.
    pub(crate) fn is_closed(&self) -> bool {
        self.client.borrow().is_closed()
    }

    /// Connects again if the server closed the connection; an error when it cannot (the
    /// transaction that asked fails, the next one tries again).
    pub(crate) fn revive(&self) -> Result<()> {
        if !self.client.borrow().is_closed() {
            return Ok(());
        }
        let client = PgConn::open(self.config.clone(), self.tls.clone())?;
        block_on(client.batch_execute(&self.session))?;
        if let Some(key) = self.held_lock.get() {
            if !try_advisory_lock(&client, key)? {
                return Err(Error::Connect(
                    "another groupsms daemon took the database over while the connection was \
                     down"
                        .into(),
                ));
            }
        }
        self.statements.borrow_mut().clear();
        *self.client.borrow_mut() = client;
        tracing::info!("connected to PostgreSQL again");
        Ok(())
    }

    /// Takes the session lock `key` (held until the connection closes, and taken again by
    /// [`PgConn::revive`]); `false` when another connection holds it.
    pub(crate) fn try_session_lock(&self, key: i64) -> Result<bool> {
        let held = try_advisory_lock(&self.client.borrow(), key)?;
        if held {
            self.held_lock.set(Some(key));
        }
        Ok(held)
    }

    /// A new client, its I/O on a thread of its own (waiting at most the configuration's
    /// connect timeout).
    fn open(config: tokio_postgres::Config, tls: Option<PgTls>) -> Result<tokio_postgres::Client> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("groupsms-pg".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match pg_connect(&config, tls).await {
                        Ok((client, connection)) => {
                            let _ = tx.send(Ok(client));
                            // Until the client is dropped or the server goes away.
                            let _ = connection.await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(pg_text(&e)));
                        }
                    }
                });
            })
            .map_err(|e| Error::Connect(e.to_string()))?;
        rx.recv()
            .map_err(|_| Error::Connect("the connection thread ended".into()))?
            .map_err(Error::Connect)
    }

    fn prepare(&self, sql: &str, cache: bool) -> Result<tokio_postgres::Statement> {
        if let Some(st) = self.statements.borrow().get(sql) {
            return Ok(st.clone());
        }
        let text = pg_placeholders(sql);
        trip();
        let st = block_on(self.client.borrow().prepare(&text))
            .map_err(|source| Error::Prepare { sql: text, source })?;
        if cache {
            let mut statements = self.statements.borrow_mut();
            if statements.len() >= 512 {
                statements.clear();
            }
            statements.insert(sql.to_string(), st.clone());
        }
        Ok(st)
    }

    pub(crate) fn batch(&self, sql: &str) -> Result<()> {
        trip();
        Ok(block_on(self.client.borrow().batch_execute(sql))?)
    }

    fn run(
        &self,
        st: &tokio_postgres::Statement,
        values: &[Value<'_>],
    ) -> Result<Vec<tokio_postgres::Row>> {
        trip();
        Ok(block_on(self.client.borrow().query(st, &as_pg(values)))?)
    }

    fn run_execute(&self, st: &tokio_postgres::Statement, values: &[Value<'_>]) -> Result<u64> {
        trip();
        Ok(block_on(self.client.borrow().execute(st, &as_pg(values)))?)
    }
}

/// Statements this process sent to PostgreSQL (each a round trip), for `/metrics`.
static ROUND_TRIPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Statements this process has sent to PostgreSQL so far (each a round trip to the server:
/// preparing one, running one, a batch of them).
pub fn round_trips() -> u64 {
    ROUND_TRIPS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Counts one round trip (see [`round_trips`]).
fn trip() {
    ROUND_TRIPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// TLS to a PostgreSQL server, the server's certificate checked against the configured roots.
pub(crate) type PgTls = tokio_postgres_rustls::MakeRustlsConnect;

/// A connection's I/O until the server or the client closes it.
pub(crate) type PgConnection = std::pin::Pin<
    Box<dyn std::future::Future<Output = std::result::Result<(), tokio_postgres::Error>> + Send>,
>;

/// Connects with `tls` when given (else in the clear); the client and the connection's I/O,
/// for the caller to run.
pub(crate) async fn pg_connect(
    config: &tokio_postgres::Config,
    tls: Option<PgTls>,
) -> std::result::Result<(tokio_postgres::Client, PgConnection), tokio_postgres::Error> {
    Ok(match tls {
        Some(tls) => {
            let (client, connection) = config.connect(tls).await?;
            (client, Box::pin(connection))
        }
        None => {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            (client, Box::pin(connection))
        }
    })
}

/// The values as the PostgreSQL client takes them.
fn as_pg<'v>(values: &'v [Value<'_>]) -> Vec<&'v (dyn tokio_postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

/// Takes the session lock `key` on `client`; `false` when another connection holds it.
fn try_advisory_lock(client: &tokio_postgres::Client, key: i64) -> Result<bool> {
    trip();
    let row = block_on(client.query_one("SELECT pg_try_advisory_lock($1)", &[&key]))?;
    Ok(row.get(0))
}

/// Runs a future to its end on this thread, parking between wake-ups. The client's futures
/// only wait on channels to the connection's own thread, so no runtime is needed here.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// SQLite's placeholders (`?`, `?N`) as PostgreSQL's (`$N`), outside quotes and comments.
/// A bare `?` takes the number after the largest used so far, as SQLite numbers them.
pub(crate) fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut largest = 0u32;
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '-' if chars.peek() == Some(&'-') => {
                // A comment runs to the end of the line.
                out.push(c);
                for c in chars.by_ref() {
                    out.push(c);
                    if c == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n = match digits.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => largest + 1,
                };
                largest = largest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            c => out.push(c),
        }
    }
    out
}

/// The connection a transaction's queries go to.
#[derive(Clone, Copy)]
pub enum Conn<'a> {
    Lite(&'a rusqlite::Connection),
    Pg(&'a PgConn),
}

impl<'a> Conn<'a> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Lite(_) => Dialect::Sqlite,
            Conn::Pg(_) => Dialect::Postgres,
        }
    }

    /// A statement kept prepared for the next time the same text comes.
    pub fn prepare_cached(&self, sql: &str) -> Result<Stmt<'a>> {
        Ok(match self {
            Conn::Lite(c) => Stmt::Lite(LiteStmt::Cached(c.prepare_cached(sql)?)),
            Conn::Pg(c) => Stmt::Pg(c, c.prepare(sql, true)?),
        })
    }

    /// A statement for text built at run time (not kept).
    pub fn prepare(&self, sql: &str) -> Result<Stmt<'a>> {
        Ok(match self {
            Conn::Lite(c) => Stmt::Lite(LiteStmt::Plain(c.prepare(sql)?)),
            Conn::Pg(c) => Stmt::Pg(c, c.prepare(sql, false)?),
        })
    }

    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    pub fn query_row<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    /// Statements without parameters, separated by `;`.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Lite(c) => Ok(c.execute_batch(sql)?),
            Conn::Pg(c) => c.batch(sql),
        }
    }

    /// The id the last `INSERT` on this connection gave its row (PostgreSQL: `lastval()`,
    /// the identity sequence's value this session took last).
    pub fn last_insert_rowid(&self) -> Result<i64> {
        match self {
            Conn::Lite(c) => Ok(c.last_insert_rowid()),
            Conn::Pg(_) => self.query_row("SELECT lastval()", params![], |r| r.get(0)),
        }
    }
}

impl Conn<'_> {
    /// Inserts many rows at once: `head` is `INSERT INTO t (a, b, c)`, `row` the values of
    /// one row, where `?1..?k` are the `shared` values (bound once) and `?k+1..` the values of
    /// each of `rows`. SQLite runs one prepared statement per row with the shared values bound
    /// once; PostgreSQL sends up to 1 000 rows per statement (one round trip each).
    pub fn insert_many<R: Params>(
        &self,
        head: &str,
        row: &str,
        shared: &[Value<'_>],
        rows: impl IntoIterator<Item = R>,
    ) -> Result<()> {
        match self {
            Conn::Lite(c) => {
                let mut st = c.prepare_cached(&format!("{head} VALUES {row}"))?;
                for (i, v) in shared.iter().enumerate() {
                    st.raw_bind_parameter(i + 1, v)?;
                }
                for r in rows {
                    for (i, v) in r.values().iter().enumerate() {
                        st.raw_bind_parameter(shared.len() + i + 1, v)?;
                    }
                    st.raw_execute()?;
                }
                Ok(())
            }
            Conn::Pg(c) => {
                const CHUNK: usize = 1000;
                let mut rows = rows.into_iter().peekable();
                while rows.peek().is_some() {
                    let chunk: Vec<R> = rows.by_ref().take(CHUNK).collect();
                    let mut values: Vec<Value<'_>> = shared.iter().map(Value::borrowed).collect();
                    let mut tuples = Vec::with_capacity(chunk.len());
                    for (n, r) in chunk.iter().enumerate() {
                        let own = r.values();
                        let width = own.len();
                        tuples.push(renumber_row(row, shared.len(), n * width));
                        values.extend(own);
                    }
                    let sql = format!("{head} VALUES {}", tuples.join(", "));
                    let st = c.prepare(&sql, chunk.len() == CHUNK)?;
                    c.run_execute(&st, &values)?;
                }
                Ok(())
            }
        }
    }
}

/// One row's `?N` placeholders for [`Conn::insert_many`] on PostgreSQL: shared ones (`N <=
/// shared`) keep their number, the row's own move past the rows before it (`offset`).
fn renumber_row(row: &str, shared: usize, offset: usize) -> String {
    let mut out = String::with_capacity(row.len() + 8);
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '?' {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let n: usize = digits.parse().unwrap_or(0);
        let n = if n <= shared { n } else { n + offset };
        out.push_str(&format!("?{n}"));
    }
    out
}

/// A prepared statement.
pub enum Stmt<'a> {
    Lite(LiteStmt<'a>),
    Pg(&'a PgConn, tokio_postgres::Statement),
}

/// An SQLite statement, kept in the connection's cache or not.
pub enum LiteStmt<'a> {
    Cached(rusqlite::CachedStatement<'a>),
    Plain(rusqlite::Statement<'a>),
}

impl<'a> LiteStmt<'a> {
    fn get(&mut self) -> &mut rusqlite::Statement<'a> {
        match self {
            LiteStmt::Cached(s) => s,
            LiteStmt::Plain(s) => s,
        }
    }
}

impl Stmt<'_> {
    /// Runs it; the number of rows changed.
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        let values = params.values();
        match self {
            Stmt::Lite(st) => Ok(st
                .get()
                .execute(rusqlite::params_from_iter(values.iter()))?),
            Stmt::Pg(c, st) => {
                Ok(usize::try_from(c.run_execute(st, &values)?).unwrap_or(usize::MAX))
            }
        }
    }

    /// The first row, read by `f`; [`Error::NoRows`] when there is none.
    pub fn query_row<T, P: Params>(
        &mut self,
        params: P,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        match self.query(params)?.next()? {
            Some(r) => f(&r),
            None => Err(Error::NoRows),
        }
    }

    /// Every row, each read by `f`.
    pub fn query_map<T, P: Params>(
        &mut self,
        params: P,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let mut rows = self.query(params)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(f(&r));
        }
        Ok(out.into_iter())
    }

    /// The rows, to walk with [`Rows::next`] (SQLite's one at a time).
    pub fn query<P: Params>(&mut self, params: P) -> Result<Rows<'_>> {
        let values = params.values();
        Ok(match self {
            Stmt::Lite(st) => Rows::Lite(st.get().query(rusqlite::params_from_iter(values))?),
            Stmt::Pg(c, st) => Rows::Pg(c.run(st, &values)?.into_iter(), None),
        })
    }
}

/// Rows read by [`Stmt::query`].
pub enum Rows<'s> {
    Lite(rusqlite::Rows<'s>),
    Pg(
        std::vec::IntoIter<tokio_postgres::Row>,
        Option<tokio_postgres::Row>,
    ),
}

impl Rows<'_> {
    /// The next row, or `None` after the last.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        Ok(match self {
            Rows::Lite(rows) => rows.next()?.map(Row::Lite),
            Rows::Pg(rows, cur) => {
                *cur = rows.next();
                cur.as_ref().map(Row::Pg)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_outside_quotes() {
        assert_eq!(
            pg_placeholders("SELECT a FROM t WHERE b = ? AND c = '?' AND d = ?"),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND d = $2"
        );
        assert_eq!(
            pg_placeholders("UPDATE t SET a = ?2 WHERE id = ?1 AND x = ?"),
            "UPDATE t SET a = $2 WHERE id = $1 AND x = $3"
        );
        assert_eq!(
            pg_placeholders("SELECT 1 -- why?\nFROM t WHERE \"q?\" = ?"),
            "SELECT 1 -- why?\nFROM t WHERE \"q?\" = $1"
        );
    }

    #[test]
    fn rows_inserted_together_number_their_own_placeholders_past_the_shared() {
        assert_eq!(
            renumber_row("(?1, ?2, ?2, ?3, ?4)", 2, 0),
            "(?1, ?2, ?2, ?3, ?4)"
        );
        assert_eq!(
            renumber_row("(?1, ?2, ?2, ?3, ?4)", 2, 4),
            "(?1, ?2, ?2, ?7, ?8)"
        );
    }

    #[test]
    fn sqlite_rows_read_through_the_common_row() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let conn = Conn::Lite(&c);
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, s TEXT, b BLOB)")
            .unwrap();
        conn.execute(
            "INSERT INTO t (n, s, b) VALUES (?, ?, ?)",
            params![7u32, "x", vec![1u8, 2]],
        )
        .unwrap();
        assert_eq!(conn.last_insert_rowid().unwrap(), 1);
        let got: (u32, String, Vec<u8>, Option<i64>) = conn
            .query_row("SELECT n, s, b, NULL FROM t WHERE id = ?", [1], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        assert_eq!(got, (7, "x".into(), vec![1, 2], None));
        let none = conn
            .query_row("SELECT n FROM t WHERE id = ?", [2], |r| r.get::<i64>(0))
            .optional()
            .unwrap();
        assert_eq!(none, None);
        let err = conn
            .query_row("SELECT s FROM t", params![], |r| r.get::<i64>(0))
            .unwrap_err();
        assert_eq!(err.to_string(), "column 0: expected an integer, found text");
    }
}
