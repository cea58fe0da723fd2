//! Exit statuses: the one table from a failure's class to the process's exit status, and from
//! each of the protocol's stable error codes ([`ErrorCode`]) to its class. sysexits(3) values
//! where one fits; the three older statuses (65, 69, 77) keep their meaning, narrowed: quota,
//! sensitive words, not found and already exists now have statuses of their own.

use crate::protocol::ErrorCode;

/// What kind of failure a command had; each has its own exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A value, file or request the command could not use.
    BadInput,
    /// The group, member, broadcast or import named does not exist.
    NotFound,
    /// The daemon is not running, is stopping or failing, or turned the connection away.
    Unavailable,
    /// The group, member or uid binding is taken.
    AlreadyExists,
    /// The group's quota is used up for now.
    Quota,
    /// Not allowed: not an administrator, not a super-admin, not bound to the member, or no
    /// access to the daemon's socket.
    Permission,
    /// The message holds sensitive words.
    SensitiveWords,
}

impl Class {
    /// Every class, in the order of their statuses.
    pub const ALL: [Class; 7] = [
        Class::BadInput,
        Class::NotFound,
        Class::Unavailable,
        Class::AlreadyExists,
        Class::Quota,
        Class::Permission,
        Class::SensitiveWords,
    ];

    /// The exit status.
    pub fn status(self) -> u8 {
        match self {
            Class::BadInput => 65,       // EX_DATAERR
            Class::NotFound => 67,       // EX_NOUSER: the addressee is unknown
            Class::Unavailable => 69,    // EX_UNAVAILABLE
            Class::AlreadyExists => 73,  // EX_CANTCREAT
            Class::Quota => 75,          // EX_TEMPFAIL: try again when the quota resets
            Class::Permission => 77,     // EX_NOPERM
            Class::SensitiveWords => 79, // past sysexits' range: no value of theirs fits
        }
    }

    /// The `code` of a `--json` error when the daemon gave none (a failure of the CLI's own:
    /// the daemon unreachable, a file unreadable, ...).
    pub fn code(self) -> &'static str {
        match self {
            Class::BadInput => "bad_input",
            Class::NotFound => "not_found",
            Class::Unavailable => "unavailable",
            Class::AlreadyExists => "already_exists",
            Class::Quota => "quota_exceeded",
            Class::Permission => "permission_denied",
            Class::SensitiveWords => "sensitive_words",
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            Class::BadInput => "bad input: a value, file or request the command could not use",
            Class::NotFound => "not found: no such group, member or broadcast",
            Class::Unavailable => {
                "unavailable: the daemon is not running, stopping or failing, or busy"
            }
            Class::AlreadyExists => "already exists: the handle or uid binding is taken",
            Class::Quota => "quota used up: the message says when it resets",
            Class::Permission => {
                "permission denied: not an administrator or super-admin, or no access to the socket"
            }
            Class::SensitiveWords => "sensitive words in the message",
        }
    }

    /// The class of a daemon's error code. No wildcard: a new code must be given a class here.
    pub fn of(code: ErrorCode) -> Class {
        match code {
            ErrorCode::BadRequest
            | ErrorCode::LineTooLong
            | ErrorCode::VersionMismatch
            | ErrorCode::InvalidValue
            | ErrorCode::TooManyParts
            | ErrorCode::TooLarge
            | ErrorCode::UnsupportedMediaType
            | ErrorCode::NoRecipients => Class::BadInput,
            ErrorCode::UnknownGroup
            | ErrorCode::UnknownMember
            | ErrorCode::UnknownBroadcast
            | ErrorCode::UnknownImport
            | ErrorCode::UnknownMessage
            | ErrorCode::UnknownToken
            | ErrorCode::UnknownModem => Class::NotFound,
            ErrorCode::AlreadyExists => Class::AlreadyExists,
            ErrorCode::QuotaExceeded => Class::Quota,
            ErrorCode::PermissionDenied | ErrorCode::NotSuperAdmin | ErrorCode::Unauthorized => {
                Class::Permission
            }
            ErrorCode::SensitiveWords => Class::SensitiveWords,
            ErrorCode::Storage
            | ErrorCode::TooManyConnections
            | ErrorCode::RateLimited
            | ErrorCode::TimedOut
            | ErrorCode::ShuttingDown
            | ErrorCode::Internal => Class::Unavailable,
        }
    }
}

/// The table for `groupsms --help`.
pub fn help() -> String {
    let mut text = String::from(
        "Exit statuses (`doctor` has its own, see `groupsms doctor --help`):\n  0   done\n",
    );
    for class in Class::ALL {
        text.push_str(&format!("  {}  {}\n", class.status(), class.meaning()));
    }
    text.push_str(
        "  2   bad command line\n\
         With --json, a failure prints {\"error\":{\"code\":\"...\",\"message\":\"...\"}} on \
         standard error: the daemon's error code (README: Socket protocol), else bad_input, \
         not_found, unavailable, permission_denied, ... as above.",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_its_own_status_and_code() {
        let mut statuses: Vec<u8> = Class::ALL.iter().map(|c| c.status()).collect();
        statuses.sort_unstable();
        statuses.dedup();
        assert_eq!(statuses.len(), Class::ALL.len());
        let mut codes: Vec<&str> = Class::ALL.iter().map(|c| c.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Class::ALL.len());
        assert_eq!(Class::of(ErrorCode::QuotaExceeded).status(), 75);
    }
}
