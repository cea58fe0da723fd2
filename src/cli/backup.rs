//! `groupsms backup FILE` and `groupsms restore FILE`.
//!
//! Both work on the database file named by the configuration (`daemon.database`), directly,
//! not through the daemon's socket: a backup is SQLite's online backup, consistent while the
//! daemon goes on writing (WAL), and it also works with the daemon stopped; the daemon's
//! store thread is never held up by a copy of a large database. Reading the file needs the
//! rights the daemon's files give (root, or user groupsms). A restore needs the daemon
//! stopped: it refuses while the socket answers (the service or its socket unit is up) and
//! while any process has the database open.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::exit::Class;
use super::{Context, Failure};
use crate::store::{self, Store, StoreError, SCHEMA_VERSION};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write (refused if it exists, unless --overwrite).
    pub file: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup written by `groupsms backup`.
    pub file: PathBuf,
}

/// Backups here are of SQLite files; PostgreSQL has its own tools.
fn sqlite_only(ctx: &Context, tool: &str) -> Result<(), Failure> {
    match ctx.config.daemon.database() {
        Ok(store::Database::Postgres(target)) => Err(Failure::of(
            Class::BadInput,
            format!(
                "the database is PostgreSQL ({}): use {tool}; groupsms backup and restore \
                 work on SQLite files",
                target.label()
            ),
        )),
        _ => Ok(()),
    }
}

fn failure(e: StoreError) -> Failure {
    match e {
        StoreError::InUse { .. } => Failure::of(Class::Unavailable, e.to_string()),
        e => Failure::bad_input(e.to_string()),
    }
}

/// Writes a consistent copy of the configured database to `args.file`.
pub fn backup(ctx: &Context, args: BackupArgs) -> Result<(), Failure> {
    sqlite_only(ctx, "pg_dump")?;
    let db = &ctx.config.daemon.database;
    let store = Store::open_existing(db).map_err(failure)?;
    let report = store
        .backup_to(&args.file, args.overwrite)
        .map_err(failure)?;
    drop(store);
    if ctx.json {
        println!(
            "{}",
            json!({
                "database": db,
                "backup": args.file,
                "schema_version": report.schema_version,
                "bytes": report.bytes,
            })
        );
    } else {
        println!(
            "backed up {} (schema version {}) to {} ({} bytes)",
            db.display(),
            report.schema_version,
            args.file.display(),
            report.bytes
        );
    }
    Ok(())
}

/// Puts the backup `args.file` in place of the configured database (daemon stopped).
pub fn restore(ctx: &Context, args: RestoreArgs) -> Result<(), Failure> {
    sqlite_only(ctx, "pg_restore (or psql)")?;
    let db = &ctx.config.daemon.database;
    // Check the file first: a bad backup is refused before anything else is looked at.
    store::backup::check_backup(&args.file).map_err(failure)?;
    // A listening socket is a running daemon, or a socket unit that would start one on the
    // next request, on top of the database being replaced.
    if UnixStream::connect(&ctx.socket).is_ok() {
        return Err(Failure::of(
            Class::Unavailable,
            format!(
                "the daemon is running (its socket {} answers): stop it first with \
                 `systemctl stop groupsms.socket groupsms.service`",
                ctx.socket.display()
            ),
        ));
    }
    let report = store::backup::restore(&args.file, db).map_err(failure)?;
    if ctx.json {
        println!(
            "{}",
            json!({
                "database": db,
                "restored": args.file,
                "schema_version": report.schema_version,
                "previous": report.previous,
            })
        );
    } else {
        println!(
            "restored {} (schema version {}) as {}",
            args.file.display(),
            report.schema_version,
            db.display()
        );
        if let Some(previous) = &report.previous {
            println!("the database it replaced is kept as {}", previous.display());
        }
        if report.schema_version < SCHEMA_VERSION {
            println!("the daemon brings it to schema version {SCHEMA_VERSION} when it starts");
        }
    }
    Ok(())
}
