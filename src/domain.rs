//! Words of the group-SMS domain that several layers share, defined once: the store keeps
//! them, the rules and the scheduler decide by them, the configuration names them and the
//! socket protocol carries them.
//!
//! They live here, below everything else, because each of those layers needs them and none
//! of them owns them: in `store` they would drag SQL types into the wire protocol and the
//! command line; in `protocol` the store would depend on the wire. Pure types with their
//! text and serde forms only, no I/O, no SQL (the store's `ToSql`/`FromSql` impls are the
//! store's, in `store/model.rs`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A member's role in one group. Only a super-admin may send to the group.
///
/// Written `super_admin`, `admin`, `member` (in the database, on the wire, in CSV files and on
/// the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    SuperAdmin,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SuperAdmin => "super_admin",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `super_admin`, `admin`, `member`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a role (use super_admin, admin or member)")]
pub struct BadRole(pub String);

impl FromStr for Role {
    type Err = BadRole;
    /// Accepts `super_admin`, `super-admin`, `superadmin`, `admin`, `member`, in any case.
    fn from_str(s: &str) -> Result<Self, BadRole> {
        match s.trim().to_ascii_lowercase().as_str() {
            "super_admin" | "super-admin" | "superadmin" => Ok(Role::SuperAdmin),
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            _ => Err(BadRole(s.to_string())),
        }
    }
}

/// What to do with a delivery that may or may not have left the modem: one a crash left in
/// `sending`, or one whose modem went silent after Ctrl-Z. Configured as
/// `[daemon] in_flight_policy`; applied by the store at start and by the scheduler's retries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InFlightPolicy {
    /// Send again; the recipient may get a duplicate, which is counted (the default).
    #[default]
    Resend,
    /// Never send again; mark `uncertain` for a human to decide.
    Uncertain,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_as_written_everywhere() {
        for role in [Role::SuperAdmin, Role::Admin, Role::Member] {
            assert_eq!(role.as_str().parse(), Ok(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
        }
        assert_eq!("Super-Admin".parse(), Ok(Role::SuperAdmin));
        assert_eq!(
            "boss".parse::<Role>().unwrap_err().to_string(),
            "'boss' is not a role (use super_admin, admin or member)"
        );
    }
}
