//! The command line: one file per subcommand. Subcommands that act on the daemon's state talk
//! to it only through the socket protocol; the `pdu` tools are local and pure.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

pub mod admin;
pub mod backup;
pub mod client;
pub mod daemon;
pub mod demo;
pub mod emulate;
pub mod generate;
pub mod modem;
pub mod output;
pub mod pdu;
pub mod send;

/// Exit status for input the command could not use (sysexits EX_DATAERR).
pub const EXIT_BAD_INPUT: u8 = 65;
/// Exit status when the daemon refused the request (sysexits EX_NOPERM).
pub const EXIT_REFUSED: u8 = 77;
/// Exit status when the daemon is not reachable (sysexits EX_UNAVAILABLE).
pub const EXIT_DAEMON_DOWN: u8 = 69;

#[derive(Debug, Parser)]
#[command(
    name = "groupsms",
    version,
    about = "Send a message to a whole group by SMS through a pool of GSM modems"
)]
pub struct Cli {
    /// Configuration file (TOML) [default: /etc/groupsms/groupsms.toml; when that file does not
    /// exist, the built-in defaults]
    #[arg(long, global = true, env = "GROUPSMS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The daemon's socket (default: from the configuration).
    #[arg(long, global = true, env = "GROUPSMS_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Print answers as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground.
    Daemon,
    /// The whole job end to end on emulated modems: no hardware, nothing left running.
    Demo(demo::DemoArgs),
    /// Encode, decode and measure SMS PDUs (local, no daemon needed).
    #[command(subcommand)]
    Pdu(pdu::PduCommand),
    /// Run virtual GSM modems on pseudo-terminals until SIGINT/SIGTERM (no hardware needed).
    Emulate(Box<emulate::EmulateArgs>),
    /// The modems: `list` asks the daemon; `probe` talks to one device directly (no daemon).
    #[command(subcommand)]
    Modem(modem::ModemCommand),
    /// Send a message to a group by SMS.
    Send(send::SendArgs),
    /// Manage groups.
    #[command(subcommand)]
    Group(admin::GroupCommand),
    /// Manage members and their memberships.
    #[command(subcommand)]
    Member(admin::MemberCommand),
    /// Read broadcasts and their deliveries.
    #[command(subcommand)]
    Broadcast(admin::BroadcastCommand),
    /// The daemon's state: modems, queue, quotas.
    Status,
    /// Copy the database to FILE, consistently, while the daemon runs (or not).
    ///
    /// Reads the database file named by the configuration directly (SQLite's online backup:
    /// one snapshot while the daemon goes on writing), so run it as root or as user groupsms.
    /// FILE is one self-contained SQLite file; `groupsms restore FILE` puts it back.
    Backup(backup::BackupArgs),
    /// Replace the database by a backup (the daemon must be stopped); the old one is kept.
    ///
    /// Refused while the daemon's socket answers (stop groupsms.socket and groupsms.service)
    /// or another process has the database open, and for a backup whose schema is newer than
    /// this groupsms knows. The replaced database is kept as <database>.before-restore; the
    /// daemon brings an older backup's schema up to date when it starts.
    Restore(backup::RestoreArgs),
    /// Man pages and shell completions, for packaging.
    #[command(subcommand, hide = true)]
    Generate(generate::GenerateCommand),
}

/// What every subcommand may need: the configuration and where the daemon listens.
pub struct Context {
    pub config: Config,
    pub socket: PathBuf,
    pub json: bool,
}

impl Context {
    fn new(cli: &Cli) -> Result<Context, Failure> {
        let config = match &cli.config {
            Some(path) => Config::load(path).map_err(|e| Failure::bad_input(e.to_string()))?,
            None => {
                Config::load_or_default(std::path::Path::new(crate::config::DEFAULT_CONFIG_PATH))
                    .map_err(|e| Failure::bad_input(e.to_string()))?
            }
        };
        let socket = cli
            .socket
            .clone()
            .unwrap_or_else(|| config.daemon.socket.clone());
        Ok(Context {
            config,
            socket,
            json: cli.json,
        })
    }

    /// A greeted connection to the daemon.
    pub fn client(&self) -> Result<client::Client, Failure> {
        client::Client::connect(&self.socket)
    }
}

/// Runs a parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> ExitCode {
    let result = Context::new(&cli).and_then(|ctx| match cli.command {
        Command::Daemon => daemon::run(ctx),
        Command::Demo(args) => demo::run(args),
        Command::Emulate(args) => emulate::run(args),
        Command::Pdu(cmd) => pdu::run(cmd, ctx.json),
        Command::Send(args) => send::run(&ctx, args),
        Command::Group(cmd) => admin::group(&ctx, cmd),
        Command::Member(cmd) => admin::member(&ctx, cmd),
        Command::Broadcast(cmd) => admin::broadcast(&ctx, cmd),
        Command::Status => admin::status(&ctx),
        Command::Modem(cmd) => modem::run(&ctx, cmd),
        Command::Backup(args) => backup::backup(&ctx, args),
        Command::Restore(args) => backup::restore(&ctx, args),
        Command::Generate(cmd) => generate::run(cmd),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("groupsms: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// A command's failure: the sentence for the user and the exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: EXIT_BAD_INPUT,
        }
    }
}

/// The argument itself, or all of standard input when it is `-` (one trailing newline removed).
pub fn arg_or_stdin(value: &str) -> Result<String, Failure> {
    if value != "-" {
        return Ok(value.to_string());
    }
    let mut buf = String::new();
    std::io::stdin()
        .read_to_string(&mut buf)
        .map_err(|e| Failure::bad_input(format!("cannot read standard input: {e}")))?;
    if buf.ends_with('\n') {
        buf.pop();
        if buf.ends_with('\r') {
            buf.pop();
        }
    }
    Ok(buf)
}
