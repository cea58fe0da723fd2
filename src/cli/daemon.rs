//! `groupsms [--config FILE] daemon`: run the daemon in the foreground (systemd runs it so).

use super::{Context, Failure, EXIT_DAEMON_DOWN};

pub fn run(ctx: Context) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("groupsms")
        .build()
        .map_err(|e| Failure {
            daemon_error: None,
            message: format!("cannot start the runtime: {e}"),
            code: EXIT_DAEMON_DOWN,
        })?;
    let mut config = ctx.config;
    config.daemon.socket = ctx.socket;
    runtime
        .block_on(crate::daemon::run(config))
        .map_err(|e| Failure {
            daemon_error: None,
            message: format!("daemon: {e}"),
            code: EXIT_DAEMON_DOWN,
        })
}
