//! `groupsms [--config FILE] daemon`: run the daemon in the foreground (systemd runs it so).

use super::exit::Class;
use super::{Context, Failure};

pub fn run(ctx: Context) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("groupsms")
        .build()
        .map_err(|e| Failure::of(Class::Unavailable, format!("cannot start the runtime: {e}")))?;
    let mut config = ctx.config;
    config.daemon.socket = ctx.socket;
    runtime
        .block_on(crate::daemon::run(config))
        .map_err(|e| Failure::of(Class::Unavailable, format!("daemon: {e}")))
}
