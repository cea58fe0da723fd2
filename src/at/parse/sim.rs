//! SIM and identity: `+CPIN`, `+CIMI`, `+CGSN`, `+CNUM`, `+CGMI`/`+CGMM`/`+CGMR`.

use super::{looks_like_ucs2_number, split_fields, strip_name, ucs2_hex, ParseError};

/// `<code>` of `+CPIN?`, TS 27.007 8.3.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PinState {
    Ready,
    SimPin,
    SimPuk,
    PhSimPin,
    PhFsimPin,
    PhFsimPuk,
    SimPin2,
    SimPuk2,
    PhNetPin,
    PhNetPuk,
    PhNetSubPin,
    PhNetSubPuk,
    PhSpPin,
    PhSpPuk,
    PhCorpPin,
    PhCorpPuk,
    /// A code the specification does not list, as sent.
    Other(String),
}

const PIN_NAMES: [(&str, PinState); 16] = [
    ("READY", PinState::Ready),
    ("SIM PIN", PinState::SimPin),
    ("SIM PUK", PinState::SimPuk),
    ("PH-SIM PIN", PinState::PhSimPin),
    ("PH-FSIM PIN", PinState::PhFsimPin),
    ("PH-FSIM PUK", PinState::PhFsimPuk),
    ("SIM PIN2", PinState::SimPin2),
    ("SIM PUK2", PinState::SimPuk2),
    ("PH-NET PIN", PinState::PhNetPin),
    ("PH-NET PUK", PinState::PhNetPuk),
    ("PH-NETSUB PIN", PinState::PhNetSubPin),
    ("PH-NETSUB PUK", PinState::PhNetSubPuk),
    ("PH-SP PIN", PinState::PhSpPin),
    ("PH-SP PUK", PinState::PhSpPuk),
    ("PH-CORP PIN", PinState::PhCorpPin),
    ("PH-CORP PUK", PinState::PhCorpPuk),
];

impl PinState {
    /// The code as TS 27.007 spells it.
    pub fn code(&self) -> &str {
        match self {
            PinState::Other(s) => s,
            known => PIN_NAMES
                .iter()
                .find(|(_, p)| p == known)
                .map(|(n, _)| *n)
                .unwrap_or("?"),
        }
    }

    /// Only the SIM PIN can be entered by us; everything else needs a human.
    pub fn needs_pin(&self) -> bool {
        matches!(self, PinState::SimPin)
    }
}

/// `+CPIN: <code>`, TS 27.007 8.3. Tolerated: the code quoted, the prefix already removed
/// by the caller, extra spaces.
pub fn parse_cpin(line: &str) -> Result<PinState, ParseError> {
    const WHAT: &str = "+CPIN state";
    let body = strip_name(line, "+CPIN").unwrap_or(line).trim();
    if body.starts_with('+') {
        return Err(ParseError::new(WHAT, line));
    }
    let body = body.trim_matches('"').trim();
    if body.is_empty() {
        return Err(ParseError::new(WHAT, line));
    }
    let upper = body.to_ascii_uppercase();
    Ok(PIN_NAMES
        .iter()
        .find(|(n, _)| *n == upper)
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| PinState::Other(body.to_string())))
}

fn digits_of(line: &str, name: &str) -> String {
    let body = strip_name(line, name).unwrap_or(line).trim();
    body.trim_matches('"').trim().to_string()
}

/// `+CIMI` answer, TS 27.007 5.6: `<IMSI>` (up to 15 digits; some modems prefix `+CIMI:`).
pub fn parse_imsi(line: &str) -> Result<String, ParseError> {
    let s = digits_of(line, "+CIMI");
    if (6..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s)
    } else {
        Err(ParseError::new("+CIMI IMSI", line))
    }
}

/// `+CGSN` answer, TS 27.007 5.4: `<sn>`, the IMEI (15 digits; 14-17 accepted for IMEI
/// without check digit and IMEISV). Some modems prefix `+CGSN:` or quote it.
pub fn parse_imei(line: &str) -> Result<String, ParseError> {
    let s = digits_of(line, "+CGSN");
    if (14..=17).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s)
    } else {
        Err(ParseError::new("+CGSN IMEI", line))
    }
}

/// One `+CNUM` line, TS 27.007 7.1: `+CNUM: [<alpha1>],<number1>,<type1>[,<speed>,<service>
/// [,<itc>]]`. Returns the number, with `+` when `<type>` is 145 (international).
pub fn parse_cnum(line: &str) -> Result<String, ParseError> {
    const WHAT: &str = "+CNUM own number";
    let rest = strip_name(line, "+CNUM").ok_or_else(|| ParseError::new(WHAT, line))?;
    let fields = split_fields(rest)?;
    if fields.len() < 3 {
        return Err(ParseError::new(WHAT, line));
    }
    let mut number = fields[1].text.to_string();
    if looks_like_ucs2_number(&number) {
        number = ucs2_hex(&number).unwrap_or_default();
    }
    if number.is_empty() {
        return Err(ParseError::new(WHAT, line));
    }
    if fields[2].int() == Some(145) && !number.starts_with('+') {
        number.insert(0, '+');
    }
    Ok(number)
}

/// The text of `+CGMI`/`+CGMM`/`+CGMR` (TS 27.007 5.1-5.3: free text, possibly several
/// lines): lines trimmed and joined with a space, a `+CGMx:`/`+GMx:` echo of the name removed,
/// surrounding quotes removed.
pub fn parse_identity(lines: &[&str]) -> Result<String, ParseError> {
    let mut parts = Vec::new();
    for line in lines {
        let mut text = line.trim();
        for name in ["+CGMI", "+CGMM", "+CGMR", "+GMI", "+GMM", "+GMR"] {
            if let Some(rest) = strip_name(text, name) {
                text = rest;
                break;
            }
        }
        let text = text.trim().trim_matches('"').trim();
        if !text.is_empty() {
            parts.push(text.to_string());
        }
    }
    if parts.is_empty() {
        return Err(ParseError::new(
            "identification text",
            lines.first().copied().unwrap_or(""),
        ));
    }
    Ok(parts.join(" "))
}

/// The model from `+CGMM` (or `ATI`-style `Model:` lines, as some phones answer).
pub fn parse_model_lines(lines: &[&str]) -> Result<String, ParseError> {
    for line in lines {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("Model:") {
            let rest = rest.trim();
            let rest = rest.strip_prefix("I:").unwrap_or(rest).trim();
            if !rest.is_empty() {
                return Ok(rest.to_string());
            }
        }
    }
    parse_identity(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpin() {
        assert_eq!(parse_cpin("+CPIN: READY").unwrap(), PinState::Ready);
        assert_eq!(parse_cpin("+CPIN: \"SIM PIN\"").unwrap(), PinState::SimPin);
        assert_eq!(parse_cpin("   SIM PUK2").unwrap(), PinState::SimPuk2);
        assert_eq!(parse_cpin("+CPIN: PH-NET PIN").unwrap(), PinState::PhNetPin);
        assert_eq!(
            parse_cpin("+CPIN: WEIRD").unwrap(),
            PinState::Other("WEIRD".into())
        );
        assert_eq!(PinState::SimPuk.code(), "SIM PUK");
        assert!(parse_cpin("+CME ERROR: 10").is_err());
        assert!(parse_cpin("+CPIN:").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_imsi("460001234567890").unwrap(), "460001234567890");
        assert_eq!(
            parse_imsi("+CIMI: 460001234567890").unwrap(),
            "460001234567890"
        );
        assert!(parse_imsi("ERROR").is_err());
        assert_eq!(
            parse_imei("\"351234567890123\"").unwrap(),
            "351234567890123"
        );
        assert!(parse_imei("12345").is_err());
        assert_eq!(
            parse_cnum("+CNUM: \"\",\"8613800138000\",145").unwrap(),
            "+8613800138000"
        );
        assert_eq!(
            parse_cnum("+CNUM: ,\"13800138000\",129").unwrap(),
            "13800138000"
        );
        assert!(parse_cnum("+CNUM: \"x\"").is_err());
    }

    #[test]
    fn identity() {
        assert_eq!(
            parse_identity(&[" MULTIBAND  900E  1800 "]).unwrap(),
            "MULTIBAND  900E  1800"
        );
        assert_eq!(
            parse_identity(&["+CGMI: \"SIMCOM_Ltd\""]).unwrap(),
            "SIMCOM_Ltd"
        );
        assert_eq!(
            parse_identity(&["V ICPR72_08w44.1", "24-11-08"]).unwrap(),
            "V ICPR72_08w44.1 24-11-08"
        );
        assert!(parse_identity(&[]).is_err());
        assert!(parse_identity(&["  "]).is_err());
        assert_eq!(
            parse_model_lines(&["Manufacturer: I: SAMSUNG", "Model: I: SCH-U706/99"]).unwrap(),
            "SCH-U706/99"
        );
    }
}
