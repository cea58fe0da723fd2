//! Replies by SMS: a member who answers with a keyword (`TD`, `退订`, `STOP`...) stops
//! receiving a group's messages at once; `订阅` or `START` brings them back. The inbox calls
//! [`on_incoming`] for every message it has stored, in its own transaction, and keeps the
//! [`Handling`] it returns.
//!
//! **Keywords** are matched on the whole message, through the same normalized view as
//! sensitive words ([`super::sensitive::view`]): case, full and half width, spaces,
//! punctuation and symbols do not count (`td`, `ＴＤ`, `TD。`, ` 退订！` are `TD` and `退订`). A
//! keyword followed by a group's handle or name names that group (`TD 运维组`, `退订ops`).
//! Anything else, a sentence that merely contains a keyword (`我不想退订`) included, is not a
//! keyword reply.
//!
//! **Scope**, first that applies: the group the message names; else the group of the broadcast
//! the inbox linked the reply to; else every group whose broadcast was addressed to that
//! number in the last [`SCOPE_DAYS`] days; else nothing changes. The members concerned are
//! those whose phone is the number. A number that is no member of the named (or linked) group
//! changes nothing and is told so in the handling.
//!
//! **Effect**, in the caller's transaction: the membership's `opted_out` flag, the member's
//! still-queued deliveries of the group's broadcasts `cancelled` (a try already being sent
//! goes out; the scheduler refuses to start a cancelled one it still holds), one audit entry
//! per group with the number as the actor. Opting in clears the flag only: cancelled
//! deliveries stay cancelled.
//!
//! **Confirmation**: a notice (`[optout] confirm` / `optin_confirm`, `{name}` the group names)
//! written for the scheduler, through the SIM the reply came in on, at most one per number per
//! local day, consuming no group's quota (the SIM's caps count it like any message).
//!
//! The caller, once its transaction is committed, hands the notice to the scheduler as the
//! `send` handler hands a broadcast (a daemon restart does the same from the database):
//!
//! ```text
//! if let Some(id) = handling.notice() {
//!     let queued = store.call(move |s| s.queued_for_broadcast(id)).await?;
//!     board.track(id, Progress { queued: queued.len() as u32, ..Progress::default() });
//!     scheduler.enqueue(scheduler::pool::jobs(queued, None)); // pinned to its SIM
//! }
//! ```
//!
//! Cancelled deliveries need nothing more: the scheduler drops them (and the live counts
//! learn it) when it comes to them.

use chrono::{DateTime, Duration, Utc};

use super::period::{sim_windows, Periods};
use super::sensitive::view;
use super::Settings;
use crate::sms;
use crate::store::{
    BroadcastId, DeliveryUpdate, Group, GroupId, Member, MemberId, Membership, NewAudit, NewNotice,
    StoreError, Tx,
};

/// Keywords that stop a group's messages, by default.
pub const DEFAULT_OPTOUT_KEYWORDS: &[&str] =
    &["TD", "T", "退订", "取消", "STOP", "UNSUBSCRIBE", "退出"];
/// Keywords that bring them back, by default.
pub const DEFAULT_OPTIN_KEYWORDS: &[&str] = &["订阅", "START"];
/// The confirmation of an opt-out, by default; `{name}` is the group's name.
pub const DEFAULT_CONFIRM: &str = "您已退订【{name}】的短信，回复\"订阅\"可恢复";
/// The confirmation of an opt-in, by default.
pub const DEFAULT_OPTIN_CONFIRM: &str = "您已恢复接收【{name}】的短信";
/// A reply naming no group concerns the groups that wrote to the number in this many days.
pub const SCOPE_DAYS: i64 = 30;
/// What a cancelled delivery's `last_error` says.
pub const CANCELLED_REASON: &str = "the member opted out before it was sent";

/// What a keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    OptOut,
    OptIn,
}

/// A keyword list that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeywordError {
    #[error(
        "{list}: the keyword {word:?} is empty once normalized (only spaces, punctuation, \
         symbols or invisible characters)"
    )]
    Empty { list: &'static str, word: String },
    #[error(
        "the keyword {optout:?} (keywords) and {optin:?} (optin_keywords) read the same; a reply \
         cannot both stop and restart messages"
    )]
    Overlap { optout: String, optin: String },
}

/// The opt-out and opt-in keywords, normalized once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    /// (as written, normalized view, intent), longest view first.
    words: Vec<(String, String, Intent)>,
}

impl Default for Keywords {
    fn default() -> Self {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Keywords::new(&own(DEFAULT_OPTOUT_KEYWORDS), &own(DEFAULT_OPTIN_KEYWORDS))
            .expect("the default keywords are valid")
    }
}

/// A message read as a keyword: the keyword as configured, and the normalized rest (empty
/// when the message is the keyword alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said<'a> {
    pub intent: Intent,
    pub keyword: &'a str,
    pub rest: String,
}

impl Keywords {
    /// Checks both lists: every keyword has something left once normalized, and no keyword
    /// of one list reads as one of the other. Empty lists are allowed (no keyword replies).
    pub fn new(optout: &[String], optin: &[String]) -> Result<Keywords, KeywordError> {
        let mut words: Vec<(String, String, Intent)> = Vec::new();
        for (list, name, intent) in [
            (optout, "keywords", Intent::OptOut),
            (optin, "optin_keywords", Intent::OptIn),
        ] {
            for w in list {
                let v = view(w);
                if v.is_empty() {
                    return Err(KeywordError::Empty {
                        list: name,
                        word: w.clone(),
                    });
                }
                if let Some((other, _, other_intent)) = words.iter().find(|(_, o, _)| *o == v) {
                    if *other_intent != intent {
                        return Err(KeywordError::Overlap {
                            optout: other.clone(),
                            optin: w.clone(),
                        });
                    }
                    continue; // the same keyword twice in one list
                }
                words.push((w.clone(), v, intent));
            }
        }
        words.sort_by_key(|w| std::cmp::Reverse(w.1.chars().count()));
        Ok(Keywords { words })
    }

    /// The whole message as one keyword, if it is one.
    pub fn exact(&self, text: &str) -> Option<Said<'_>> {
        let v = view(text);
        self.words
            .iter()
            .find(|(_, w, _)| *w == v)
            .map(|(k, _, intent)| Said {
                intent: *intent,
                keyword: k,
                rest: String::new(),
            })
    }

    /// Every way the message reads as a keyword followed by something, longest keyword first.
    pub fn prefixed(&self, text: &str) -> Vec<Said<'_>> {
        let v = view(text);
        self.words
            .iter()
            .filter_map(|(k, w, intent)| {
                let rest = v.strip_prefix(w.as_str())?;
                (!rest.is_empty()).then(|| Said {
                    intent: *intent,
                    keyword: k,
                    rest: rest.to_string(),
                })
            })
            .collect()
    }

    /// No keyword at all.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// What the opt-out rules are configured with (`[optout]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutSettings {
    pub keywords: Keywords,
    /// Confirmation of an opt-out; empty: none is sent.
    pub confirm: String,
    /// Confirmation of an opt-in; empty: none is sent.
    pub optin_confirm: String,
}

impl Default for OptOutSettings {
    fn default() -> Self {
        OptOutSettings {
            keywords: Keywords::default(),
            confirm: DEFAULT_CONFIRM.to_string(),
            optin_confirm: DEFAULT_OPTIN_CONFIRM.to_string(),
        }
    }
}

/// One message received, as the inbox hands it over once it is stored.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The sender, E.164 (`+8613800138000`).
    pub number: &'a str,
    /// The group of the broadcast the inbox linked this reply to, if any.
    pub linked_group: Option<GroupId>,
    /// The text, decoded.
    pub text: &'a str,
    /// The SIM it came in on (IMSI, or the device when the IMSI is unknown): a confirmation
    /// goes back through it.
    pub sim: &'a str,
    /// When it was received.
    pub at: DateTime<Utc>,
}

/// One group whose membership a reply changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChanged {
    pub group: GroupId,
    pub handle: String,
    pub name: String,
    /// The members (with the sender's number) whose membership changed.
    pub members: Vec<MemberId>,
    /// Every one of them was already in the state asked for.
    pub unchanged: bool,
    /// The queued deliveries cancelled (opt-out only).
    pub cancelled: Vec<DeliveryUpdate>,
}

/// What a keyword reply changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The keyword as configured.
    pub keyword: String,
    /// How the groups were chosen.
    pub scope: Scope,
    pub groups: Vec<GroupChanged>,
    /// The confirmation written for the scheduler (enqueue it after the commit).
    pub notice: Option<BroadcastId>,
    /// Why no confirmation was written, when none was.
    pub no_notice: Option<NoNotice>,
}

/// How the groups of a keyword reply were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The message named the group.
    Named,
    /// The broadcast the inbox linked the reply to.
    Linked,
    /// The groups that wrote to the number in the last [`SCOPE_DAYS`] days.
    Recent,
}

/// Why a keyword reply got no confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoNotice {
    /// The confirmation text is configured empty.
    Disabled,
    /// The number already got one today (local day).
    AlreadyToday,
}

/// Why a message changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotHandled {
    /// It is not a keyword reply.
    NoKeyword,
    /// A keyword, from a number no member has.
    UnknownNumber,
    /// A keyword naming (or linked to) a group the number is no member of.
    NotAMember { group: String },
    /// A keyword, but no group named, linked or recent.
    NoGroup,
}

/// What [`on_incoming`] did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handling {
    OptOut(Changes),
    OptIn(Changes),
    Other(NotHandled),
}

impl Handling {
    /// The confirmation to enqueue once the transaction is committed.
    pub fn notice(&self) -> Option<BroadcastId> {
        match self {
            Handling::OptOut(c) | Handling::OptIn(c) => c.notice,
            Handling::Other(_) => None,
        }
    }

    /// A short name for storing: `opt_out`, `opt_in`, `other`.
    pub fn kind(&self) -> &'static str {
        match self {
            Handling::OptOut(_) => "opt_out",
            Handling::OptIn(_) => "opt_in",
            Handling::Other(_) => "other",
        }
    }

    /// One readable line (for the inbox's listing and the log).
    pub fn describe(&self) -> String {
        let groups = |c: &Changes| {
            c.groups
                .iter()
                .map(|g| g.handle.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Handling::OptOut(c) => {
                let n: usize = c.groups.iter().map(|g| g.cancelled.len()).sum();
                format!(
                    "opted out of {} by \"{}\"; {n} queued message(s) cancelled",
                    groups(c),
                    c.keyword
                )
            }
            Handling::OptIn(c) => format!("opted back in to {} by \"{}\"", groups(c), c.keyword),
            Handling::Other(NotHandled::NoKeyword) => "not a keyword".into(),
            Handling::Other(NotHandled::UnknownNumber) => {
                "a keyword from a number no member has; nothing changed".into()
            }
            Handling::Other(NotHandled::NotAMember { group }) => {
                format!(
                    "a keyword for group '{group}', which this number is not in; nothing changed"
                )
            }
            Handling::Other(NotHandled::NoGroup) => {
                "a keyword, but no group named, linked or recent; nothing changed".into()
            }
        }
    }
}

/// Reads one received message and, for a keyword reply, changes the memberships it concerns,
/// cancels queued deliveries (opt-out), audits, and writes the confirmation, all in `tx`.
pub fn on_incoming(
    tx: &Tx<'_>,
    settings: &Settings,
    msg: &Incoming<'_>,
) -> Result<Handling, StoreError> {
    let keywords = &settings.optout.keywords;
    // The whole message as a keyword, else a keyword and a group's handle or name.
    let (said, named) = match keywords.exact(msg.text) {
        Some(said) => (said, None),
        None => {
            let candidates = keywords.prefixed(msg.text);
            if candidates.is_empty() {
                return Ok(Handling::Other(NotHandled::NoKeyword));
            }
            let groups = tx.groups()?;
            let found = candidates.into_iter().find_map(|said| {
                let g = groups
                    .iter()
                    .find(|g| view(&g.handle) == said.rest || view(&g.name) == said.rest)?;
                Some((said, Some(g.clone())))
            });
            match found {
                Some(f) => f,
                None => return Ok(Handling::Other(NotHandled::NoKeyword)),
            }
        }
    };
    let members = tx.members_by_phone(msg.number)?;
    if members.is_empty() {
        return Ok(Handling::Other(NotHandled::UnknownNumber));
    }
    let in_group = |g: GroupId| -> Result<Vec<&Member>, StoreError> {
        let mut out = Vec::new();
        for m in &members {
            if tx.membership(g, m.id)?.is_some() {
                out.push(m);
            }
        }
        Ok(out)
    };
    // The scope: named, linked, recent.
    let mut scope: Vec<(Group, Vec<&Member>)> = Vec::new();
    let chosen = match (named, msg.linked_group) {
        (Some(g), _) => Some((g, Scope::Named)),
        (None, Some(id)) => tx.group_by_id(id)?.map(|g| (g, Scope::Linked)),
        (None, None) => None,
    };
    let kind;
    if let Some((g, how)) = chosen {
        kind = how;
        let who = in_group(g.id)?;
        if who.is_empty() {
            return Ok(Handling::Other(NotHandled::NotAMember { group: g.handle }));
        }
        scope.push((g, who));
    } else {
        kind = Scope::Recent;
        // A time from the network near the start of the calendar cannot underflow.
        let since = msg
            .at
            .checked_sub_signed(Duration::days(SCOPE_DAYS))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        for id in tx.groups_reaching(msg.number, since)? {
            let who = in_group(id)?;
            if who.is_empty() {
                continue;
            }
            if let Some(g) = tx.group_by_id(id)? {
                scope.push((g, who));
            }
        }
        if scope.is_empty() {
            return Ok(Handling::Other(NotHandled::NoGroup));
        }
    }
    let leaving = said.intent == Intent::OptOut;
    let mut changed = Vec::with_capacity(scope.len());
    for (g, who) in scope {
        let mut unchanged = true;
        let mut cancelled = Vec::new();
        for m in &who {
            let before = tx.membership(g.id, m.id)?.is_some_and(|ms| ms.opted_out);
            unchanged &= before == leaving;
            if leaving {
                cancelled.extend(opt_out(tx, &g.handle, &m.handle, msg.at)?.1);
            } else {
                tx.set_opt_out(&g.handle, &m.handle, false)?;
            }
        }
        let handles = who
            .iter()
            .map(|m| format!("'{}'", m.handle))
            .collect::<Vec<_>>()
            .join(", ");
        let detail = if leaving {
            format!(
                "{handles} opted out of group '{}' by replying \"{}\"{}; {} queued message(s) \
                 cancelled",
                g.handle,
                said.keyword,
                if unchanged {
                    " (already opted out)"
                } else {
                    ""
                },
                cancelled.len()
            )
        } else {
            format!(
                "{handles} opted back in to group '{}' by replying \"{}\"{}",
                g.handle,
                said.keyword,
                if unchanged { " (already in)" } else { "" }
            )
        };
        tx.audit(
            &NewAudit {
                actor: msg.number.to_string(),
                action: if leaving { "sms_opt_out" } else { "sms_opt_in" }.to_string(),
                subject: g.handle.clone(),
                detail,
            },
            msg.at,
        )?;
        changed.push(GroupChanged {
            group: g.id,
            handle: g.handle.clone(),
            name: g.name.clone(),
            members: who.iter().map(|m| m.id).collect(),
            unchanged,
            cancelled,
        });
    }
    let template = if leaving {
        &settings.optout.confirm
    } else {
        &settings.optout.optin_confirm
    };
    let (notice, no_notice) = confirm(tx, settings, msg, template, &changed, &members)?;
    let changes = Changes {
        keyword: said.keyword.to_string(),
        scope: kind,
        groups: changed,
        notice,
        no_notice,
    };
    Ok(if leaving {
        Handling::OptOut(changes)
    } else {
        Handling::OptIn(changes)
    })
}

/// What opting out does, however it was asked for (a reply by SMS, `member opt-out`): the
/// membership flag, and the member's still-queued deliveries of the group's broadcasts
/// cancelled, in `tx`.
pub fn opt_out(
    tx: &Tx<'_>,
    group: &str,
    member: &str,
    now: DateTime<Utc>,
) -> Result<(Membership, Vec<DeliveryUpdate>), StoreError> {
    let ms = tx.set_opt_out(group, member, true)?;
    let cancelled = tx.cancel_queued(ms.group_id, ms.member_id, CANCELLED_REASON, now)?;
    Ok((ms, cancelled))
}

/// Writes the confirmation notice unless it is turned off or the number had one today.
fn confirm(
    tx: &Tx<'_>,
    settings: &Settings,
    msg: &Incoming<'_>,
    template: &str,
    changed: &[GroupChanged],
    members: &[Member],
) -> Result<(Option<BroadcastId>, Option<NoNotice>), StoreError> {
    if template.trim().is_empty() {
        return Ok((None, Some(NoNotice::Disabled)));
    }
    let (_, day_start) = sim_windows(msg.at, settings.timezone);
    if tx.notices_to(msg.number, day_start)? > 0 {
        return Ok((None, Some(NoNotice::AlreadyToday)));
    }
    let join = |f: fn(&GroupChanged) -> &str| changed.iter().map(f).collect::<Vec<_>>().join("、");
    let text = template
        .replace("{name}", &join(|g| g.name.as_str()))
        .replace("{handle}", &join(|g| g.handle.as_str()));
    let info = sms::analyze(&text);
    let periods = Periods::at(msg.at, settings.timezone);
    let first = changed.first();
    let id = tx.insert_notice(
        &NewNotice {
            group_id: first.map(|g| g.group),
            group_handle: first.map_or_else(String::new, |g| g.handle.clone()),
            member_id: members.first().map(|m| m.id),
            number: msg.number.to_string(),
            text,
            encoding: info.encoding,
            parts: info.parts as u32,
            sim: msg.sim.to_string(),
            caller: format!("sms:{}", msg.number),
            day: periods.day,
            month: periods.month,
        },
        msg.at,
    )?;
    Ok((Some(id), None))
}
