//! Status reports on the modem's side: `AT+CNMA` after a routed `+CDS` where the modem expects
//! one, reading a stored report (`+CDSI`) and deleting it once whoever reads it committed it.
//! What a report means is decided elsewhere (`service::reports`).

use tokio::io::{AsyncRead, AsyncWrite};

use super::engine::Engine;
use super::error::ModemError;
use crate::at::command;
use crate::at::parse::{self, MessageEntry, StoredAt};

impl<S: AsyncRead + AsyncWrite + Unpin> Engine<S> {
    /// `AT+CNMA` (TS 27.005 3.4.4) after a routed `+CDS`. Only a modem in phase 2+ mode
    /// (`AT+CSMS=1`, which init does not set, but some modems boot in it) waits for it, and
    /// stops routing when it does not come; the others answer an error (`+CMS ERROR: 340`, no
    /// acknowledgement expected), after which this engine stops sending it.
    pub async fn ack_status_report(&mut self) -> Result<(), ModemError> {
        if !self.cnma_expected {
            return Ok(());
        }
        let r = self.command(command::CNMA).await?;
        if !r.result.is_ok() {
            tracing::debug!(result = %r.result, "AT+CNMA not expected by this modem");
            self.cnma_expected = false;
        }
        Ok(())
    }

    /// Selects the memory of `at` for reading and deleting.
    async fn select_memory(&mut self, at: &StoredAt) -> Result<(), ModemError> {
        let cmd = command::cpms_read(at.storage.name()).map_err(|e| ModemError::Protocol {
            command: "AT+CPMS".into(),
            detail: e.to_string(),
        })?;
        self.command_ok(&cmd).await.map(drop)
    }

    /// Reads a stored message (`AT+CPMS="<mem>"`, `AT+CMGR=<index>`); `None` when the place
    /// is empty (Quectel's lost reports answer a bare `OK`).
    pub async fn read_stored(&mut self, at: &StoredAt) -> Result<Option<MessageEntry>, ModemError> {
        self.select_memory(at).await?;
        let cmd = command::cmgr(at.index);
        let r = self.command_ok(&cmd).await?;
        let lines: Vec<&str> = r.lines.iter().map(String::as_str).collect();
        parse::parse_cmgr(&lines).map_err(|e| ModemError::Protocol {
            command: cmd,
            detail: e.to_string(),
        })
    }

    /// Deletes a stored message (`AT+CPMS="<mem>"`, `AT+CMGD=<index>`).
    pub async fn delete_stored(&mut self, at: &StoredAt) -> Result<(), ModemError> {
        self.select_memory(at).await?;
        self.command_ok(&command::cmgd(at.index)).await.map(drop)
    }
}
