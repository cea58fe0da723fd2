//! The `groupsms` binary: parse the command line, set up logging, dispatch. No logic lives here.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = groupsms::cli::parse_args();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GROUPSMS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: journald and log files get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // Fault matrix (issue 7): by default a failed log write is reported with `eprintln!`,
        // which panics when stderr fails too (a log file on a full disk), killing whichever
        // task logged: the modem actors died and the broadcast stalled. A lost log line is
        // better than a lost task.
        .log_internal_errors(false)
        .init();
    groupsms::cli::run(cli)
}
