//! `groupsms inbox`: incoming messages (members' replies, carrier notices, strangers), read
//! through the daemon. Administrators see every message; a group's admins the replies to that
//! group's broadcasts.

use clap::Subcommand;

use super::admin::{one, print_merged};
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
        /// Only replies to this broadcast.
        #[arg(long, value_name = "ID")]
        broadcast: Option<i64>,
        /// At most this many, the newest [default: 50].
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Every message that matches, however many (instead of --limit).
        #[arg(long, conflicts_with = "limit")]
        all: bool,
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
            broadcast,
            limit,
            all,
        } => {
            let limit = if all { usize::MAX } else { limit };
            // Pages of the newest first, until `limit` messages or the last page.
            let mut client = ctx.client()?;
            let mut list: p::InboxListResult = client.call_pages(
                |after| {
                    Request::InboxList(p::InboxList {
                        group: group.clone(),
                        from: from.clone(),
                        unread,
                        broadcast,
                        limit: None,
                        after,
                    })
                },
                |all: &p::InboxListResult| all.messages.len() >= limit,
            )?;
            list.messages.truncate(limit);
            print_merged(&list, &ctx.style())
        }
        InboxCommand::Show { id } => {
            one::<p::InboxItem>(ctx, Request::InboxShow(p::InboxRef { id }))
        }
        InboxCommand::Read { ids } => {
            one::<p::InboxMarked>(ctx, Request::InboxMarkRead(p::InboxIds { ids }))
        }
    }
}
