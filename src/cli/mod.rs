//! The command line: one file per subcommand. Subcommands that act on the daemon's state talk
//! to it only through the socket protocol; the `pdu` tools are local and pure.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

pub mod admin;
pub mod client;
pub mod daemon;
pub mod demo;
pub mod emulate;
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
    /// Configuration file (TOML); without it, built-in defaults.
    #[arg(long, global = true, env = "GROUPSMS_CONFIG")]
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
            None => Config::default(),
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

/// Runs a parsed command line and returns the process exit status (a failure is reported on
/// standard error).
pub fn run(cli: Cli) -> ExitCode {
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            report(&failure);
            ExitCode::from(failure.code)
        }
    }
}

/// Prints a failure the way every command does: `groupsms: <sentence>`.
pub fn report(failure: &Failure) {
    eprintln!("groupsms: {}", output::escape_lines(&failure.message));
}

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> Result<(), Failure> {
    Context::new(&cli).and_then(|ctx| match cli.command {
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
    })
}

/// A command's failure: the sentence for the user and the exit status.
#[derive(Debug)]
pub struct Failure {
    /// The daemon's error code, when the daemon answered with an error.
    pub daemon_error: Option<crate::protocol::ErrorCode>,
    pub message: String,
    /// The exit status.
    pub code: u8,
}

impl Failure {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure {
            daemon_error: None,
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
