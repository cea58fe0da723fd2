//! `groupsms token`: bearer tokens for the HTTP API, made, listed and revoked over the socket.
//! A token is printed once, when it is made; the daemon keeps only its hash.

use clap::Subcommand;

use super::admin::one;
use super::output::print_result;
use super::{Context, Failure};
use crate::protocol::{self as p, Request};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token (printed once: keep it somewhere safe).
    Create {
        /// The member the token acts as (yourself, or anyone for an administrator).
        #[arg(long, value_name = "HANDLE", required_unless_present = "admin")]
        member: Option<String>,
        /// A management token, acting as an administrator (root or admin_uids only).
        #[arg(long, conflicts_with = "member")]
        admin: bool,
        /// What the token is for, shown by `token list` (`alertmanager`, `dingtalk bot`...).
        #[arg(long)]
        label: Option<String>,
        /// Valid for this long: 90d, 12h, 30m, 3600s [default: until revoked].
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires: Option<u64>,
    },
    /// Your tokens (every token, for an administrator); never their secrets.
    List,
    /// Revoke a token at once.
    Revoke { id: i64 },
}

/// `90d`, `12h`, `30m`, `45s` or plain seconds, as seconds.
fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a duration such as 90d, 12h, 30m or 3600s"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("'{s}': the unit is s, m, h, d or w (as in 90d)")),
    };
    match n.checked_mul(unit) {
        Some(0) | None => Err(format!("'{s}' is not a usable validity")),
        Some(secs) => Ok(secs),
    }
}

pub fn run(ctx: &Context, cmd: TokenCommand) -> Result<(), Failure> {
    match cmd {
        TokenCommand::Create {
            member,
            admin,
            label,
            expires,
        } => {
            let mut client = ctx.client()?;
            let made: p::TokenCreated = client.call_as(Request::TokenCreate(p::TokenCreate {
                member,
                admin,
                label,
                expires_secs: expires,
            }))?;
            if ctx.json {
                return print_result(&made, &ctx.style());
            }
            let t = &made.token;
            let whom = match &t.member {
                Some(m) => format!("acts as member '{m}'"),
                None => "a management token (acts as an administrator)".into(),
            };
            let until = match &t.expires_at {
                Some(e) => format!(
                    "valid until {}",
                    super::output::local_time(e, ctx.config.tz()).unwrap_or_else(|| e.clone())
                ),
                None => "valid until revoked".into(),
            };
            println!("token {}: {whom}, {until}", t.id);
            println!();
            println!("    {}", made.secret);
            println!();
            println!(
                "This is the only time it is shown; keep it secret. Use it as the header\n\
                 'Authorization: Bearer <token>'. Revoke it with: groupsms token revoke {}",
                t.id
            );
            Ok(())
        }
        TokenCommand::List => one::<p::TokenListResult>(ctx, Request::TokenList(p::Empty {})),
        TokenCommand::Revoke { id } => {
            one::<p::TokenInfo>(ctx, Request::TokenRevoke(p::TokenRef { token: id }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), Ok(90 * 86_400));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert_eq!(parse_duration("3600"), Ok(3600));
        assert_eq!(parse_duration("2w"), Ok(14 * 86_400));
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
