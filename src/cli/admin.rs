//! `groupsms group|member|broadcast|status`: managing groups and members, reading broadcasts.
//! Every command is one request over the socket; `--json` prints the daemon's answer as is.

use clap::{Args, Subcommand};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::output::{print_result, print_value, Style};
use super::{Context, Failure};
use crate::protocol::{self as p, Paged, Request, Role};

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group: `group create ops --name 运维组`.
    Create {
        handle: String,
        #[arg(long)]
        name: String,
        /// Header before every message; `{name}` is the display name (default from config).
        #[arg(long)]
        header: Option<String>,
        /// Broadcasts per day (default from config).
        #[arg(long)]
        daily: Option<u32>,
        /// Broadcasts per month (default from config).
        #[arg(long)]
        monthly: Option<u32>,
    },
    /// List groups.
    List,
    /// Show a group, its members and its quota use.
    Show { group: String },
    /// Change a group.
    Set(GroupSetArgs),
    /// Delete a group (its broadcasts' history is kept). A group with broadcasts still being
    /// sent is deleted only with --force, which cancels what is still queued.
    Delete {
        group: String,
        /// Also when broadcasts are still being sent: cancel what is still queued.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct GroupSetArgs {
    group: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long, conflicts_with = "default_header")]
    header: Option<String>,
    /// Go back to the configured header.
    #[arg(long)]
    default_header: bool,
    /// Broadcasts per day; `default` goes back to the configured value.
    #[arg(long)]
    daily: Option<QuotaArg>,
    /// Broadcasts per month; `default` goes back to the configured value.
    #[arg(long)]
    monthly: Option<QuotaArg>,
    /// Modems (IMSI or device path), comma-separated, that this group's messages use; empty to unpin.
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    pin_modems: Option<Vec<String>>,
    /// Whether other modems may be used while every pinned one is down.
    #[arg(long)]
    pin_fallback: Option<bool>,
    /// Whether its super-admins may `send --urgent` (start inside the quiet hours).
    #[arg(long)]
    allow_urgent: Option<bool>,
}

/// A quota value or `default`.
#[derive(Debug, Clone, Copy)]
pub struct QuotaArg(Option<u32>);

impl std::str::FromStr for QuotaArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "default" {
            return Ok(QuotaArg(None));
        }
        s.parse::<u32>()
            .map(|n| QuotaArg(Some(n)))
            .map_err(|_| format!("{s:?} is not a number or `default`"))
    }
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a member: `member add alice --name Alice --phone +8613800138000`.
    Add {
        handle: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        phone: String,
        /// Unix user id allowed to act as this member.
        #[arg(long)]
        uid: Option<u32>,
    },
    /// List members, of one group or all.
    List {
        #[arg(long)]
        group: Option<String>,
    },
    /// Show a member and their groups.
    Show { member: String },
    /// Change a member: `member set m2 --valid false`.
    Set {
        member: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        valid: Option<bool>,
        #[arg(long)]
        sms_enabled: Option<bool>,
        #[arg(long, conflicts_with = "no_uid")]
        uid: Option<u32>,
        /// Unbind the Unix user.
        #[arg(long)]
        no_uid: bool,
    },
    /// Remove a member from everything.
    Remove { member: String },
    /// Import members from CSV (header row: handle,name,phone[,group,role,opt_out,uid]).
    ///
    /// All or nothing: one bad row and nothing is imported (each bad row is named by its line),
    /// unless --skip-bad. Files of any size up to 200 000 rows and 32 MiB (sent in pieces).
    Import {
        file: std::path::PathBuf,
        /// Import the good rows even when some are bad (they are reported).
        #[arg(long)]
        skip_bad: bool,
    },
    /// Add a member to a group: `member join alice ops --role super_admin`.
    Join {
        member: String,
        group: String,
        /// super_admin, admin or member (the default).
        #[arg(long)]
        role: Option<Role>,
    },
    /// Take a member out of a group.
    Leave { member: String, group: String },
    /// Change a member's role in a group.
    Role {
        member: String,
        group: String,
        /// super_admin, admin or member.
        role: Role,
    },
    /// Stop this group's SMS to the member.
    OptOut { member: String, group: String },
    /// Resume this group's SMS to the member.
    OptIn { member: String, group: String },
}

#[derive(Debug, Subcommand)]
pub enum BroadcastCommand {
    /// Recent broadcasts.
    List {
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// One broadcast with each recipient's state and error, and the members' replies.
    Show { id: i64 },
    /// Cancel what is still queued of a broadcast (a super-admin of its group, or an
    /// administrator); what was sent, or is being sent, stays.
    Cancel { id: i64 },
}

pub fn group(ctx: &Context, cmd: GroupCommand) -> Result<(), Failure> {
    match cmd {
        GroupCommand::Create {
            handle,
            name,
            header,
            daily,
            monthly,
        } => one::<p::GroupInfo>(
            ctx,
            Request::GroupCreate(p::GroupCreate {
                handle,
                name,
                header,
                daily_quota: daily,
                monthly_quota: monthly,
            }),
        ),
        GroupCommand::List => all::<p::GroupListResult>(ctx, |after| {
            Request::GroupList(p::GroupList { limit: None, after })
        }),
        GroupCommand::Show { group } => all::<p::GroupShow>(ctx, |after| {
            Request::GroupShow(p::GroupShowArgs {
                group: group.clone(),
                limit: None,
                after,
            })
        }),
        GroupCommand::Set(a) => one::<p::GroupInfo>(
            ctx,
            Request::GroupSet(p::GroupSet {
                group: a.group,
                name: a.name,
                header: if a.default_header {
                    Some(None)
                } else {
                    a.header.map(Some)
                },
                daily_quota: a.daily.map(|q| q.0),
                monthly_quota: a.monthly.map(|q| q.0),
                pinned_modems: a
                    .pin_modems
                    .map(|v| v.into_iter().filter(|s| !s.is_empty()).collect()),
                pin_fallback: a.pin_fallback,
                allow_urgent: a.allow_urgent,
            }),
        ),
        GroupCommand::Delete { group, force } => {
            one::<p::Done>(ctx, Request::GroupDelete(p::GroupRef { group, force }))
        }
    }
}

pub fn member(ctx: &Context, cmd: MemberCommand) -> Result<(), Failure> {
    match cmd {
        MemberCommand::Add {
            handle,
            name,
            phone,
            uid,
        } => one::<p::MemberInfo>(
            ctx,
            Request::MemberAdd(p::MemberAdd {
                handle,
                name,
                phone,
                uid,
            }),
        ),
        MemberCommand::List { group } => all::<p::MemberListResult>(ctx, |after| {
            Request::MemberList(p::MemberList {
                group: group.clone(),
                limit: None,
                after,
            })
        }),
        MemberCommand::Show { member } => all::<p::MemberShow>(ctx, |after| {
            Request::MemberShow(p::MemberShowArgs {
                member: member.clone(),
                limit: None,
                after,
            })
        }),
        MemberCommand::Set {
            member,
            name,
            phone,
            valid,
            sms_enabled,
            uid,
            no_uid,
        } => one::<p::MemberInfo>(
            ctx,
            Request::MemberSet(p::MemberSet {
                member,
                name,
                phone,
                valid,
                sms_enabled,
                uid: if no_uid { Some(None) } else { uid.map(Some) },
            }),
        ),
        MemberCommand::Remove { member } => {
            one::<p::Done>(ctx, Request::MemberRemove(p::MemberRef { member }))
        }
        MemberCommand::Import { file, skip_bad } => super::import::run(ctx, &file, skip_bad),
        MemberCommand::Join {
            member,
            group,
            role,
        } => one::<p::MembershipInfo>(
            ctx,
            Request::MemberJoin(p::MemberJoin {
                member,
                group,
                role,
            }),
        ),
        MemberCommand::Leave { member, group } => {
            one::<p::Done>(ctx, Request::MemberLeave(p::Membership { member, group }))
        }
        MemberCommand::Role {
            member,
            group,
            role,
        } => one::<p::MembershipInfo>(
            ctx,
            Request::MemberRole(p::MemberRole {
                member,
                group,
                role,
            }),
        ),
        MemberCommand::OptOut { member, group } => {
            one::<p::MembershipInfo>(ctx, Request::MemberOptOut(p::Membership { member, group }))
        }
        MemberCommand::OptIn { member, group } => {
            one::<p::MembershipInfo>(ctx, Request::MemberOptIn(p::Membership { member, group }))
        }
    }
}

pub fn broadcast(ctx: &Context, cmd: BroadcastCommand) -> Result<(), Failure> {
    match cmd {
        BroadcastCommand::List { group, limit } => {
            // The `limit` latest, over as many pages as they take.
            let wanted = limit.unwrap_or(DEFAULT_BROADCASTS).max(1) as usize;
            let mut client = ctx.client()?;
            let mut list: p::BroadcastListResult = client.call_pages(
                |after| {
                    Request::BroadcastList(p::BroadcastList {
                        group: group.clone(),
                        limit: Some(wanted as u32),
                        after,
                    })
                },
                |got: &p::BroadcastListResult| got.broadcasts.len() >= wanted,
            )?;
            list.broadcasts.truncate(wanted);
            print_merged(&list, &ctx.style())
        }
        BroadcastCommand::Show { id } => {
            let mut client = ctx.client()?;
            let shown: p::BroadcastShow = client.call_all(|after| {
                Request::BroadcastShow(p::BroadcastShowArgs {
                    after,
                    ..p::BroadcastShowArgs::first(id)
                })
            })?;
            print_merged(&shown, &ctx.style())?;
            if shown.more_replies && !ctx.json {
                println!("\n{}", more_replies_hint(id, shown.replies.len()));
            }
            Ok(())
        }
        BroadcastCommand::Cancel { id } => {
            let mut client = ctx.client()?;
            let done: p::BroadcastCancelled =
                client.call_as(Request::BroadcastCancel(p::BroadcastRef { broadcast: id }))?;
            if ctx.json {
                return print_result(&done, &ctx.style());
            }
            println!(
                "broadcast {id} cancelled: {} queued deliveries cancelled, {} already sent{}",
                done.cancelled,
                done.sent,
                match done.sending {
                    0 => String::new(),
                    n => format!(", {n} being sent (they go out)"),
                }
            );
            Ok(())
        }
    }
}

/// What `broadcast show` says under a broadcast's replies when there are more than it lists.
pub fn more_replies_hint(id: i64, shown: usize) -> String {
    format!(
        "more replies than these {shown} (the latest); every one: groupsms inbox list \
         --broadcast {id} --all"
    )
}

pub fn status(ctx: &Context) -> Result<(), Failure> {
    one::<p::StatusResult>(ctx, Request::Status(p::Empty {}))
}

pub fn modem_list(ctx: &Context) -> Result<(), Failure> {
    one::<p::ModemListResult>(ctx, Request::ModemList(p::Empty {}))
}

pub fn modem_release(ctx: &Context, modem: String) -> Result<(), Failure> {
    one::<p::ModemReleaseResult>(ctx, Request::ModemRelease(p::ModemRef { modem }))
}

/// Broadcasts `broadcast list` shows without `--limit`.
const DEFAULT_BROADCASTS: u32 = 20;

/// Every page of a paged answer, printed as one.
fn all<T: DeserializeOwned + Serialize + Paged>(
    ctx: &Context,
    request: impl Fn(Option<T::Cursor>) -> Request,
) -> Result<(), Failure> {
    let mut client = ctx.client()?;
    let result: T = client.call_all(request)?;
    print_merged(&result, &ctx.style())
}

/// Pages gathered into one answer, printed without `next` (which only says where a page
/// ends): the document has the shape the answer had before it came in pages.
pub(super) fn print_merged<T: Serialize>(result: &T, style: &Style) -> Result<(), Failure> {
    let mut value = serde_json::to_value(result).map_err(|e| {
        Failure::of(
            super::exit::Class::Unavailable,
            format!("cannot print the daemon's answer: {e}"),
        )
    })?;
    if let Some(map) = value.as_object_mut() {
        map.remove("next");
    }
    print_value(&value, style);
    Ok(())
}

/// One request, its answer read as `T` (the op's answer type) and printed.
pub(crate) fn one<T: DeserializeOwned + Serialize>(
    ctx: &Context,
    request: Request,
) -> Result<(), Failure> {
    let mut client = ctx.client()?;
    let result: T = client.call_as(request)?;
    print_result(&result, &ctx.style())
}
