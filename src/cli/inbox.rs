//! `groupsms inbox`: incoming messages (members' replies, carrier notices, strangers), read
//! through the daemon. Administrators see every message; a group's admins the replies to that
//! group's broadcasts.

use clap::Subcommand;

use super::admin::one;
use super::{Context, Failure};
use crate::protocol::{self as p, Request};

#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// Incoming messages, newest first. A concatenated message is shown once all its parts
    /// came, or, incomplete, `[inbox] incomplete_after_secs` after its first part.
    List {
        /// Only replies to this group's broadcasts.
        #[arg(long)]
        group: Option<String>,
        /// Only from this number (any form the phone rules read) or sender name.
        #[arg(long, value_name = "NUMBER")]
        from: Option<String>,
        /// Only messages not marked read.
        #[arg(long)]
        unread: bool,
        /// At most this many [default: 50].
        #[arg(long)]
        limit: Option<u32>,
    },
    /// One message in full.
    Show { id: i64 },
    /// Mark messages read.
    Read {
        #[arg(required = true)]
        ids: Vec<i64>,
    },
}

pub fn run(ctx: &Context, cmd: InboxCommand) -> Result<(), Failure> {
    match cmd {
        InboxCommand::List {
            group,
            from,
            unread,
            limit,
        } => one::<p::InboxListResult>(
            ctx,
            Request::InboxList(p::InboxList {
                group,
                from,
                unread,
                limit,
            }),
        ),
        InboxCommand::Show { id } => {
            one::<p::InboxItem>(ctx, Request::InboxShow(p::InboxRef { id }))
        }
        InboxCommand::Read { ids } => {
            one::<p::InboxMarked>(ctx, Request::InboxMarkRead(p::InboxIds { ids }))
        }
    }
}
