//! The command line: one file per subcommand. Subcommands that act on the daemon's state talk
//! to it only through the socket protocol; the `pdu` tools are local and pure.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod modem;
pub mod pdu;

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
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encode, decode and measure SMS PDUs (local, no daemon needed).
    #[command(subcommand)]
    Pdu(pdu::PduCommand),
    /// Talk to one modem directly (no daemon): `probe` runs init and prints its identity.
    #[command(subcommand)]
    Modem(modem::ModemCommand),
}

/// Runs a parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Pdu(cmd) => pdu::run(cmd),
        Command::Modem(cmd) => modem::run(cmd),
    };
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
