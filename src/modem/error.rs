//! What can go wrong talking to one modem, as one enum. The split that matters to callers:
//! [`ModemError::is_transport`] (the port is gone or the modem stopped answering: take it out
//! and reopen later) versus everything else (the modem answered, with a "no").

use std::time::Duration;

use crate::at::{CmeError, CmsError, Final};

/// A SIM that cannot be used as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimProblem {
    #[error("no SIM card inserted")]
    NotInserted,
    #[error("the SIM asks for its PIN and no PIN is configured")]
    PinRequired,
    #[error("the configured PIN was refused (not retried: the SIM locks after 3 wrong PINs)")]
    WrongPin,
    #[error("the configured PIN is not 4 to 8 digits")]
    BadPin,
    #[error("the SIM is locked ({0}); unlock it by hand")]
    Locked(String),
    #[error("SIM failure")]
    Failure,
    #[error("the SIM stayed busy for {0:?}")]
    Busy(Duration),
}

impl SimProblem {
    /// The SIM trouble an error answer names (not inserted, failure, PUK, wrong SIM), if any.
    pub fn from_final(result: &Final) -> Option<SimProblem> {
        match result {
            Final::Cme(CmeError::SimNotInserted) | Final::Cms(CmsError::SimNotInserted) => {
                Some(SimProblem::NotInserted)
            }
            Final::Cme(CmeError::SimFailure) | Final::Cms(CmsError::SimFailure) => {
                Some(SimProblem::Failure)
            }
            Final::Cme(CmeError::SimPukRequired) | Final::Cms(CmsError::SimPukRequired) => {
                Some(SimProblem::Locked("SIM PUK".into()))
            }
            Final::Cme(CmeError::SimWrong) | Final::Cms(CmsError::SimWrong) => {
                Some(SimProblem::Locked("SIM wrong".into()))
            }
            _ => None,
        }
    }
}

/// One modem's failure.
#[derive(Debug, thiserror::Error)]
pub enum ModemError {
    #[error("cannot open {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("the modem port is gone ({0})")]
    Gone(String),
    #[error("I/O error on the modem port: {0}")]
    Io(#[from] std::io::Error),
    #[error("the modem does not answer: no OK to AT after {attempts} tries of {each:?}")]
    Hung { attempts: u32, each: Duration },
    #[error("no answer to {command} within {waited:?} (the modem answers AT again)")]
    Timeout { command: String, waited: Duration },
    #[error("{command} failed: {result}")]
    Command { command: String, result: Final },
    #[error("SIM: {0}")]
    Sim(SimProblem),
    #[error("not registered to a network after {waited:?} (last state: {last})")]
    NotRegistered { waited: Duration, last: String },
    #[error("the SIM has no SMS service centre address (AT+CSCA? is empty)")]
    NoSmsc,
    #[error("unexpected answer to {command}: {detail}")]
    Protocol { command: String, detail: String },
}

impl ModemError {
    /// The port or the modem itself failed (unplugged, EOF, I/O error, stopped answering):
    /// nothing more can be done on this stream.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            ModemError::Open { .. }
                | ModemError::Gone(_)
                | ModemError::Io(_)
                | ModemError::Hung { .. }
        )
    }

    /// The SIM, not the modem or the network, is the problem: take the modem out of the pool
    /// until a human looks.
    pub fn is_sim(&self) -> bool {
        matches!(self, ModemError::Sim(_) | ModemError::NoSmsc)
    }
}
