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
pub mod doctor;
pub mod emulate;
pub mod exit;
pub mod generate;
pub mod import;
pub mod inbox;
pub mod modem;
pub mod output;
pub mod pdu;
pub mod send;
pub mod token;

#[derive(Debug, Parser)]
#[command(
    name = "groupsms",
    version,
    about = "Send a message to a whole group by SMS through a pool of GSM modems",
    after_help = exit::help()
)]
pub struct Cli {
    /// Configuration file (TOML) [default: /etc/groupsms/groupsms.toml; when that file does not
    /// exist, the built-in defaults]
    #[arg(long, global = true, env = "GROUPSMS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The daemon's socket (default: from the configuration).
    #[arg(long, global = true, env = "GROUPSMS_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Print answers as JSON (on standard output), and failures as
    /// {"error":{"code","message"}} (on standard error).
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
    /// Incoming messages: members' replies, carrier notices, strangers.
    #[command(subcommand)]
    Inbox(inbox::InboxCommand),
    /// Bearer tokens for the HTTP API: make, list, revoke.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The daemon's state: modems, queue, quotas.
    Status,
    /// Check the installation: configuration, database, socket, each modem, carrier blocks, clock.
    #[command(after_help = doctor::EXIT_HELP)]
    Doctor,
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

    /// How answers are printed: `--json`, or for people in the configured zone and the
    /// terminal's width.
    pub fn style(&self) -> output::Style {
        output::Style::new(self.json, self.config.tz())
    }

    /// A greeted connection to the daemon (of the configured database, for the message when
    /// none answers).
    pub fn client(&self) -> Result<client::Client, Failure> {
        // The lock file beside an SQLite file tells whether a daemon holds it.
        let file = match self.config.daemon.database() {
            Ok(crate::store::Database::Sqlite(path)) => Some(path),
            _ => None,
        };
        client::Client::connect_to(&self.socket, file.as_deref())
    }
}

/// The command line, parsed; a bad one ends the process with status 2 and clap's message, as
/// `{"error":{"code":"usage","message":...}}` on standard error when `--json` was given.
pub fn parse_args() -> Cli {
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let is_error = e.use_stderr();
            if is_error && std::env::args_os().any(|a| a == "--json") {
                let full = e.to_string();
                let first = full.lines().next().unwrap_or_default();
                let message = first.trim_start_matches("error: ").trim();
                let error = serde_json::json!({"error": {"code": "usage", "message": message}});
                eprintln!("{error}");
                std::process::exit(e.exit_code());
            }
            e.exit()
        }
    }
}

/// Runs a parsed command line and returns the process exit status (a failure is reported on
/// standard error).
pub fn run(cli: Cli) -> ExitCode {
    if let Command::Doctor = cli.command {
        // Reports a broken configuration as one of its checks instead of refusing it.
        return doctor::run(&cli);
    }
    let json = cli.json;
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            report(&failure, json);
            ExitCode::from(failure.code)
        }
    }
}

/// Prints a failure the way every command does, on standard error: `groupsms: <sentence>`, or
/// with `--json` one line `{"error":{"code":"...","message":"..."}}`.
pub fn report(failure: &Failure, json: bool) {
    if json {
        let error = serde_json::json!({
            "error": {"code": failure.json_code(), "message": failure.message}
        });
        eprintln!("{error}");
    } else {
        eprintln!("groupsms: {}", output::escape_lines(&failure.message));
    }
}

/// Runs a parsed command line (`doctor` goes through [`run`], before any configuration is
/// read).
pub fn execute(cli: Cli) -> Result<(), Failure> {
    Context::new(&cli).and_then(|ctx| match cli.command {
        Command::Daemon => daemon::run(ctx),
        Command::Demo(args) => demo::run(args),
        Command::Emulate(args) => emulate::run(args),
        Command::Pdu(cmd) => pdu::run(cmd, ctx.json, &ctx.config.message.footer),
        Command::Send(args) => send::run(&ctx, args),
        Command::Group(cmd) => admin::group(&ctx, cmd),
        Command::Member(cmd) => admin::member(&ctx, cmd),
        Command::Broadcast(cmd) => admin::broadcast(&ctx, cmd),
        Command::Inbox(cmd) => inbox::run(&ctx, cmd),
        Command::Token(cmd) => token::run(&ctx, cmd),
        Command::Status => admin::status(&ctx),
        Command::Modem(cmd) => modem::run(&ctx, cmd),
        Command::Doctor => doctor::run(&cli)
            .eq(&ExitCode::SUCCESS)
            .then_some(())
            .ok_or(Failure {
                daemon_error: None,
                message: "doctor found problems (see above)".into(),
                code: 1,
                kind: "failed",
            }),
        Command::Backup(args) => backup::backup(&ctx, args),
        Command::Restore(args) => backup::restore(&ctx, args),
        Command::Generate(cmd) => generate::run(cmd),
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
    /// The `code` of the `--json` error when the daemon gave none (`bad_input`, `unavailable`,
    /// ...: [`exit::Class::code`]).
    pub kind: &'static str,
}

impl Failure {
    /// A failure of the CLI's own (no daemon's answer) of this class.
    pub fn of(class: exit::Class, message: impl Into<String>) -> Self {
        Failure {
            daemon_error: None,
            message: message.into(),
            code: class.status(),
            kind: class.code(),
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure::of(exit::Class::BadInput, message)
    }

    /// The daemon's refusal with `code`: its exit status is its class's.
    pub fn daemon(code: crate::protocol::ErrorCode, message: impl Into<String>) -> Self {
        let class = exit::Class::of(code);
        Failure {
            daemon_error: Some(code),
            message: message.into(),
            code: class.status(),
            kind: class.code(),
        }
    }

    /// The `code` of the `--json` error: the daemon's error code, else [`kind`](Self::kind).
    pub fn json_code(&self) -> String {
        self.daemon_error
            .and_then(|code| serde_json::to_value(code).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| self.kind.to_string())
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
