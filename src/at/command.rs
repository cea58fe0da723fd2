//! Command formatting: the exact bytes we write. Kept here so the engine, the fixtures and
//! the emulator agree on one spelling.

/// Ends the PDU after the `>` prompt (TS 27.005 3.5.1: `<ctrl-Z>`).
pub const CTRL_Z: u8 = 0x1A;
/// Aborts the prompt without sending (TS 27.005 3.5.1: `<ESC>`); also wakes a stuck modem.
pub const ESC: u8 = 0x1B;

/// A command line as written: the text followed by CR (V.250 5.2.1, S3 = 13).
pub fn line(command: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(command.len() + 1);
    out.extend_from_slice(command.as_bytes());
    out.push(b'\r');
    out
}

/// `AT+CMGS=<length>` (TS 27.005 3.5.1, PDU mode): `<length>` counts TPDU octets, without the
/// SMSC address field.
pub fn cmgs(tpdu_len: usize) -> String {
    format!("AT+CMGS={tpdu_len}")
}

/// What is written after the prompt: the whole PDU in hex, then Ctrl-Z.
pub fn pdu_body(hex: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(hex.len() + 1);
    out.extend_from_slice(hex.as_bytes());
    out.push(CTRL_Z);
    out
}

/// Why a command could not be formed from user input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("a SIM PIN is 4 to 8 digits")]
    BadPin,
    #[error("{0:?} is not a message memory name")]
    BadMemory(String),
}

/// `AT+CPIN="<pin>"` (TS 27.007 8.3). The PIN must be 4-8 digits: anything else could not
/// be right, and a wrong try costs one of the SIM's three.
pub fn cpin_enter(pin: &str) -> Result<String, CommandError> {
    if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CommandError::BadPin);
    }
    Ok(format!("AT+CPIN=\"{pin}\""))
}

/// `AT+CNMI=<mode>,<mt>,<bm>,<ds>,<bfr>` (TS 27.005 3.4.1).
pub fn cnmi(mode: u32, mt: u32, bm: u32, ds: u32, bfr: u32) -> String {
    format!("AT+CNMI={mode},{mt},{bm},{ds},{bfr}")
}

/// `AT+CNMA` (TS 27.005 3.4.4): acknowledges a `+CMT`/`+CDS` routed to us (PDU mode, RP-ACK).
pub const CNMA: &str = "AT+CNMA";

/// `AT+CPMS="<mem1>"` (TS 27.005 3.2.2): where `+CMGR`/`+CMGD` read and delete. The name comes
/// from the modem (`+CDSI: "SR",3`), so only two capital letters are taken.
pub fn cpms_read(mem: &str) -> Result<String, CommandError> {
    if mem.len() != 2 || !mem.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(CommandError::BadMemory(mem.to_string()));
    }
    Ok(format!("AT+CPMS=\"{mem}\""))
}

/// `AT+CMGR=<index>` (TS 27.005 3.4.3).
pub fn cmgr(index: u32) -> String {
    format!("AT+CMGR={index}")
}

/// `AT+CMGD=<index>` (TS 27.005 3.5.4).
pub fn cmgd(index: u32) -> String {
    format!("AT+CMGD={index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling() {
        assert_eq!(line("AT"), b"AT\r");
        assert_eq!(cmgs(17), "AT+CMGS=17");
        assert_eq!(cpms_read("SR").unwrap(), "AT+CPMS=\"SR\"");
        assert!(cpms_read("S\"\r").is_err());
        assert!(cpms_read("sr").is_err());
        assert_eq!(
            (cmgr(3).as_str(), cmgd(0).as_str()),
            ("AT+CMGR=3", "AT+CMGD=0")
        );
        assert_eq!(pdu_body("0011"), b"0011\x1a");
        assert_eq!(cpin_enter("1234").unwrap(), "AT+CPIN=\"1234\"");
        assert_eq!(cpin_enter("12"), Err(CommandError::BadPin));
        assert_eq!(cpin_enter("12a4"), Err(CommandError::BadPin));
        assert_eq!(cpin_enter("1234\"\r"), Err(CommandError::BadPin));
        assert_eq!(cnmi(2, 1, 0, 1, 0), "AT+CNMI=2,1,0,1,0");
    }
}
