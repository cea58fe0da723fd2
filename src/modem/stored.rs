//! Stored and routed messages on the modem's side: `AT+CNMA` after a routed `+CDS` or `+CMT`
//! where the modem expects one, reading a stored message (`+CDSI`, `+CMTI`: `AT+CMGR`),
//! listing the receive memory (`AT+CPMS?`, `AT+CMGL=4`) and deleting a message once whoever
//! read it committed it. What a message means is decided elsewhere (`service::reports`,
//! `service::inbox`).

use tokio::io::{AsyncRead, AsyncWrite};

use super::engine::Engine;
use super::error::ModemError;
use crate::at::command;
use crate::at::parse::{self, MessageEntry, StorageUse, StoredAt};

impl<S: AsyncRead + AsyncWrite + Unpin> Engine<S> {
    /// `AT+CNMA` (TS 27.005 3.4.4) after a routed `+CDS` or `+CMT`. Only a modem in phase 2+ mode
    /// (`AT+CSMS=1`, which init does not set, but some modems boot in it) waits for it, and
    /// stops routing when it does not come; the others answer an error (`+CMS ERROR: 340`, no
    /// acknowledgement expected), after which this engine stops sending it.
    pub async fn ack_routed(&mut self) -> Result<(), ModemError> {
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

    /// Whether a `+CMS ERROR: 322` (memory full) came since the last call.
    pub fn take_memory_full(&mut self) -> bool {
        std::mem::take(&mut self.memory_full)
    }

    /// Every message in the receive memory (`AT+CPMS?` names it and how full it is;
    /// `AT+CPMS="<mem>"`, `AT+CMGL=4`: all of them, PDU mode), each with where it is, and the
    /// memory's use before the listing. Listing marks unread messages read; nothing is deleted.
    pub async fn list_stored(
        &mut self,
    ) -> Result<(Vec<(StoredAt, MessageEntry)>, Option<StorageUse>), ModemError> {
        let r = self.command_ok("AT+CPMS?").await?;
        let read = r
            .line("+CPMS")
            .map(parse::parse_cpms_read)
            .transpose()
            .map_err(|e| ModemError::Protocol {
                command: "AT+CPMS?".into(),
                detail: e.to_string(),
            })?;
        let Some(read) = read else {
            return Ok((Vec::new(), None));
        };
        // The memory new messages go to (mem3), else the one being read.
        let receive = read.mem3.clone().unwrap_or_else(|| read.mem1.clone());
        let at = StoredAt {
            storage: receive.storage.clone(),
            index: 0,
        };
        self.select_memory(&at).await?;
        let r = self.command_ok("AT+CMGL=4").await?;
        let lines: Vec<&str> = r.lines.iter().map(String::as_str).collect();
        let entries = parse::parse_cmgl(&lines).map_err(|e| ModemError::Protocol {
            command: "AT+CMGL=4".into(),
            detail: e.to_string(),
        })?;
        let listed = entries
            .into_iter()
            .filter_map(|e| {
                let index = e.index?;
                Some((
                    StoredAt {
                        storage: receive.storage.clone(),
                        index,
                    },
                    e,
                ))
            })
            .collect();
        Ok((listed, Some(receive)))
    }
}
