//! Final result codes (ITU-T V.250 5.7.1, TS 27.007 9.2 `+CME ERROR`, TS 27.005 3.2.5 `+CMS ERROR`)
//! and what a sender should do about each error.
//!
//! Every `+CMS`/`+CME` code we know carries its name from the specification and an
//! [`ErrorClass`]: try again later on another modem, give up on this recipient, or take this
//! SIM out of the pool. Codes nobody listed stay representable (`Other`, `Text`) and count as
//! transient: retrying costs little, wrongly failing a recipient or a SIM costs more.

use std::fmt;

/// What a failed submission means for the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The network or the modem is busy or failing for now: retry later, on another modem.
    Transient,
    /// This destination number cannot be reached: fail this recipient, keep the modem.
    Recipient,
    /// This SIM cannot send (missing, locked, no SMS service): take the modem out of the pool.
    Sim,
}

impl ErrorClass {
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Recipient => "recipient",
            ErrorClass::Sim => "sim",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Compares names the way modems spell them in verbose mode (`AT+CMEE=2`): case, spaces,
/// `_`, `-`, `(U)` and punctuation do not matter ("SIM failure", "SIM_FAILURE", "(U)SIM failure").
fn normalize_name(text: &str) -> String {
    let text = text.replace("(U)", "").replace("(u)", "");
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

macro_rules! error_codes {
    (
        $(#[$meta:meta])*
        $name:ident, $prefix:literal, default = $default:expr;
        $( $code:literal => $variant:ident, $text:literal, $class:ident; )*
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( #[doc = $text] $variant, )*
            /// A numeric code the specification table above does not name.
            Other(u16),
            /// A verbose (`AT+CMEE=2`) text that matches no known name.
            Text(String),
        }

        impl $name {
            /// The variant for a numeric code.
            pub fn from_code(code: u16) -> Self {
                match code {
                    $( $code => $name::$variant, )*
                    other => $name::Other(other),
                }
            }

            /// Parses the text after `ERROR:`: a number, or a verbose name.
            pub fn from_text(text: &str) -> Self {
                let text = text.trim();
                if let Ok(code) = text.parse::<u16>() {
                    return Self::from_code(code);
                }
                let wanted = normalize_name(text);
                if !wanted.is_empty() {
                    $( if normalize_name($text) == wanted { return $name::$variant; } )*
                }
                $name::Text(text.to_string())
            }

            /// The numeric code, when known.
            pub fn code(&self) -> Option<u16> {
                match self {
                    $( $name::$variant => Some($code), )*
                    $name::Other(code) => Some(*code),
                    $name::Text(_) => None,
                }
            }

            /// The name from the specification (or the modem's own text).
            pub fn name(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(code) => ($default)(*code).1,
                    $name::Text(text) => text.as_str(),
                }
            }

            /// What the sender should do about it.
            pub fn class(&self) -> ErrorClass {
                match self {
                    $( $name::$variant => ErrorClass::$class, )*
                    $name::Other(code) => ($default)(*code).0,
                    $name::Text(_) => ErrorClass::Transient,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.code() {
                    Some(code) => write!(f, "{} {} ({})", $prefix, code, self.name()),
                    None => write!(f, "{} {}", $prefix, self.name()),
                }
            }
        }
    };
}

fn cms_default(code: u16) -> (ErrorClass, &'static str) {
    match code {
        0..=127 => (ErrorClass::Transient, "unnamed RP cause (TS 24.011 E.2)"),
        128..=255 => (
            ErrorClass::Transient,
            "unnamed TP failure cause (TS 23.040 9.2.3.22)",
        ),
        256..=511 => (ErrorClass::Transient, "reserved"),
        _ => (ErrorClass::Transient, "manufacturer specific"),
    }
}

fn cme_default(code: u16) -> (ErrorClass, &'static str) {
    match code {
        512.. => (ErrorClass::Transient, "manufacturer specific"),
        _ => (ErrorClass::Transient, "unnamed ME error"),
    }
}

error_codes! {
    /// `+CMS ERROR: <err>`, TS 27.005 3.2.5: 0-127 are RP causes of TS 24.011 Annex E-2,
    /// 128-255 TP failure causes of TS 23.040 9.2.3.22, 300-500 ME/network errors of 27.005.
    CmsError, "+CMS ERROR:", default = cms_default;
    1 => UnassignedNumber, "Unassigned (unallocated) number", Recipient;
    8 => OperatorDeterminedBarring, "Operator determined barring", Sim;
    10 => CallBarred, "Call barred", Sim;
    21 => TransferRejected, "Short message transfer rejected", Recipient;
    27 => DestinationOutOfService, "Destination out of service", Recipient;
    28 => UnidentifiedSubscriber, "Unidentified subscriber", Recipient;
    29 => FacilityRejected, "Facility rejected", Recipient;
    30 => UnknownSubscriber, "Unknown subscriber", Recipient;
    38 => NetworkOutOfOrder, "Network out of order", Transient;
    41 => TemporaryFailure, "Temporary failure", Transient;
    42 => Congestion, "Congestion", Transient;
    47 => ResourcesUnavailable, "Resources unavailable, unspecified", Transient;
    50 => FacilityNotSubscribed, "Requested facility not subscribed", Sim;
    69 => FacilityNotImplemented, "Requested facility not implemented", Sim;
    81 => InvalidTransferReference, "Invalid short message transfer reference value", Transient;
    95 => InvalidMessage, "Invalid message, unspecified", Recipient;
    96 => InvalidMandatoryInformation, "Invalid mandatory information", Recipient;
    97 => MessageTypeNotImplemented, "Message type non-existent or not implemented", Recipient;
    98 => MessageNotCompatible, "Message not compatible with short message protocol state", Transient;
    99 => InformationElementNotImplemented, "Information element non-existent or not implemented", Recipient;
    111 => ProtocolError, "Protocol error, unspecified", Transient;
    127 => Interworking, "Interworking, unspecified", Transient;
    128 => TelematicInterworkingNotSupported, "Telematic interworking not supported", Recipient;
    129 => Type0NotSupported, "Short message Type 0 not supported", Recipient;
    130 => CannotReplace, "Cannot replace short message", Recipient;
    143 => UnspecifiedPidError, "Unspecified TP-PID error", Recipient;
    144 => DcsNotSupported, "Data coding scheme (alphabet) not supported", Recipient;
    145 => ClassNotSupported, "Message class not supported", Recipient;
    159 => UnspecifiedDcsError, "Unspecified TP-DCS error", Recipient;
    160 => CommandCannotBeActioned, "Command cannot be actioned", Recipient;
    161 => CommandUnsupported, "Command unsupported", Recipient;
    175 => UnspecifiedCommandError, "Unspecified TP-Command error", Recipient;
    176 => TpduNotSupported, "TPDU not supported", Recipient;
    192 => ScBusy, "SC busy", Transient;
    193 => NoScSubscription, "No SC subscription", Sim;
    194 => ScSystemFailure, "SC system failure", Transient;
    195 => InvalidSmeAddress, "Invalid SME address", Recipient;
    196 => DestinationSmeBarred, "Destination SME barred", Recipient;
    197 => DuplicateRejected, "SM Rejected-Duplicate SM", Recipient;
    198 => VpfNotSupported, "TP-VPF not supported", Recipient;
    199 => VpNotSupported, "TP-VP not supported", Recipient;
    208 => SimStorageFull, "(U)SIM SMS storage full", Transient;
    209 => NoSimStorage, "No SMS storage capability in (U)SIM", Sim;
    210 => ErrorInMs, "Error in MS", Transient;
    211 => MemoryCapacityExceeded, "Memory Capacity Exceeded", Transient;
    212 => ToolkitBusy, "(U)SIM Application Toolkit Busy", Transient;
    213 => DataDownloadError, "(U)SIM data download error", Transient;
    255 => UnspecifiedErrorCause, "Unspecified error cause", Transient;
    300 => MeFailure, "ME failure", Transient;
    301 => SmsServiceReserved, "SMS service of ME reserved", Sim;
    302 => OperationNotAllowed, "operation not allowed", Transient;
    303 => OperationNotSupported, "operation not supported", Transient;
    304 => InvalidPduParameter, "invalid PDU mode parameter", Recipient;
    305 => InvalidTextParameter, "invalid text mode parameter", Recipient;
    310 => SimNotInserted, "(U)SIM not inserted", Sim;
    311 => SimPinRequired, "(U)SIM PIN required", Sim;
    312 => PhSimPinRequired, "PH-(U)SIM PIN required", Sim;
    313 => SimFailure, "(U)SIM failure", Sim;
    314 => SimBusy, "(U)SIM busy", Transient;
    315 => SimWrong, "(U)SIM wrong", Sim;
    316 => SimPukRequired, "(U)SIM PUK required", Sim;
    317 => SimPin2Required, "(U)SIM PIN2 required", Sim;
    318 => SimPuk2Required, "(U)SIM PUK2 required", Sim;
    320 => MemoryFailure, "memory failure", Transient;
    321 => InvalidMemoryIndex, "invalid memory index", Transient;
    322 => MemoryFull, "memory full", Transient;
    330 => SmscAddressUnknown, "SMSC address unknown", Transient;
    331 => NoNetworkService, "no network service", Transient;
    332 => NetworkTimeout, "network timeout", Transient;
    340 => NoCnmaExpected, "no +CNMA acknowledgement expected", Transient;
    500 => Unknown, "unknown error", Transient;
    512 => MmEstablishmentFailure, "MM establishment failure (Wavecom)", Transient;
    513 => LowerLayerFailure, "lower layer failure (Wavecom)", Transient;
    514 => CpError, "CP error (Wavecom)", Transient;
    515 => PleaseWait, "please wait, init or command processing in progress", Transient;
}

error_codes! {
    /// `+CME ERROR: <err>`, TS 27.007 9.2 (9.2.1 general, 9.2.2 GPRS-related).
    CmeError, "+CME ERROR:", default = cme_default;
    0 => PhoneFailure, "phone failure", Transient;
    1 => NoConnection, "no connection to phone", Transient;
    2 => LinkReserved, "phone-adaptor link reserved", Transient;
    3 => OperationNotAllowed, "operation not allowed", Transient;
    4 => OperationNotSupported, "operation not supported", Transient;
    5 => PhSimPinRequired, "PH-SIM PIN required", Sim;
    6 => PhFsimPinRequired, "PH-FSIM PIN required", Sim;
    7 => PhFsimPukRequired, "PH-FSIM PUK required", Sim;
    10 => SimNotInserted, "SIM not inserted", Sim;
    11 => SimPinRequired, "SIM PIN required", Sim;
    12 => SimPukRequired, "SIM PUK required", Sim;
    13 => SimFailure, "SIM failure", Sim;
    14 => SimBusy, "SIM busy", Transient;
    15 => SimWrong, "SIM wrong", Sim;
    16 => IncorrectPassword, "incorrect password", Sim;
    17 => SimPin2Required, "SIM PIN2 required", Sim;
    18 => SimPuk2Required, "SIM PUK2 required", Sim;
    20 => MemoryFull, "memory full", Transient;
    21 => InvalidIndex, "invalid index", Transient;
    22 => NotFound, "not found", Transient;
    23 => MemoryFailure, "memory failure", Transient;
    24 => TextTooLong, "text string too long", Recipient;
    25 => InvalidTextCharacters, "invalid characters in text string", Recipient;
    26 => DialStringTooLong, "dial string too long", Recipient;
    27 => InvalidDialCharacters, "invalid characters in dial string", Recipient;
    30 => NoNetworkService, "no network service", Transient;
    31 => NetworkTimeout, "network timeout", Transient;
    32 => EmergencyCallsOnly, "network not allowed - emergency calls only", Sim;
    40 => NetworkPinRequired, "network personalization PIN required", Sim;
    41 => NetworkPukRequired, "network personalization PUK required", Sim;
    42 => NetworkSubsetPinRequired, "network subset personalization PIN required", Sim;
    43 => NetworkSubsetPukRequired, "network subset personalization PUK required", Sim;
    44 => ServiceProviderPinRequired, "service provider personalization PIN required", Sim;
    45 => ServiceProviderPukRequired, "service provider personalization PUK required", Sim;
    46 => CorporatePinRequired, "corporate personalization PIN required", Sim;
    47 => CorporatePukRequired, "corporate personalization PUK required", Sim;
    48 => HiddenKeyRequired, "hidden key required", Sim;
    50 => IncorrectParameters, "incorrect parameters", Transient;
    51 => CommandDisabled, "command implemented but currently disabled", Transient;
    52 => CommandAborted, "command aborted by user", Transient;
    53 => NotAttachedRestricted, "not attached to network due to MT functionality restrictions", Transient;
    54 => EmergencyOnlyRestricted, "modem not allowed - MT restricted to emergency calls only", Sim;
    55 => NotAllowedRestricted, "operation not allowed because of MT functionality restrictions", Transient;
    56 => FixedDialNumberOnly, "fixed dial number only allowed", Recipient;
    57 => TemporarilyOutOfService, "temporarily out of service due to other MT usage", Transient;
    60 => SystemFailure, "system failure", Transient;
    62 => CallBarred, "call barred", Sim;
    100 => Unknown, "unknown", Transient;
    103 => IllegalMs, "Illegal MS", Sim;
    106 => IllegalMe, "Illegal ME", Sim;
    107 => GprsNotAllowed, "GPRS services not allowed", Transient;
    111 => PlmnNotAllowed, "PLMN not allowed", Sim;
    112 => LocationAreaNotAllowed, "Location area not allowed", Transient;
    113 => RoamingNotAllowed, "Roaming not allowed in this location area", Transient;
    148 => UnspecifiedGprsError, "unspecified GPRS error", Transient;
    515 => DeviceBusy, "device busy, please wait", Transient;
}

/// What a refusal says about a carrier block of the SIM that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockSign {
    /// The name says the SIM may not send: one is enough.
    Barred,
    /// Carriers are reported to answer so when they block a SIM, but it also means ordinary
    /// trouble: a sign only when it repeats on one SIM with nothing sent between.
    Suspect,
}

/// `+CMS ERROR` codes whose names say the SIM may not send: operator determined barring,
/// call barred, facility not subscribed, no SC subscription (TS 24.011 E.2, TS 23.040).
pub const BARRING_CODES: [u16; 4] = [8, 10, 50, 193];
/// Codes carriers are reported to answer when they block a SIM (field notes: 38 is what
/// Gammu users saw; 21, 28, 42, 69, 500 in the same reports), but that also mean ordinary
/// trouble.
pub const SUSPECT_CODES: [u16; 6] = [21, 28, 38, 42, 69, 500];

impl CmsError {
    /// What this refusal says about a carrier block ([`BARRING_CODES`], [`SUSPECT_CODES`]).
    pub fn block_sign(&self) -> Option<BlockSign> {
        let code = self.code()?;
        if BARRING_CODES.contains(&code) {
            Some(BlockSign::Barred)
        } else if SUSPECT_CODES.contains(&code) {
            Some(BlockSign::Suspect)
        } else {
            None
        }
    }
}

/// A final result code: the line that ends the answer to a command (V.250 5.7.1; plus the
/// `+CME`/`+CMS` errors and the non-standard finals real modems send).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Final {
    Ok,
    /// Plain `ERROR` (also what `AT+CMEE=0` turns every error into).
    Error,
    Cme(CmeError),
    Cms(CmsError),
    /// Huawei's `COMMAND NOT SUPPORT`.
    CommandNotSupported,
    /// Huawei's `TOO MANY PARAMETERS`.
    TooManyParameters,
    NoCarrier,
    Busy,
    NoAnswer,
    NoDialtone,
}

impl Final {
    /// Recognizes a final result line (already trimmed of CR LF and surrounding spaces).
    pub fn parse(line: &str) -> Option<Final> {
        let line = line.trim();
        if let Some(rest) = strip_prefix_ci(line, "+CME ERROR:") {
            return Some(Final::Cme(CmeError::from_text(rest)));
        }
        if let Some(rest) = strip_prefix_ci(line, "+CMS ERROR:") {
            return Some(Final::Cms(CmsError::from_text(rest)));
        }
        let upper = line.to_ascii_uppercase();
        Some(match upper.as_str() {
            "OK" => Final::Ok,
            "ERROR" => Final::Error,
            "COMMAND NOT SUPPORT" => Final::CommandNotSupported,
            "TOO MANY PARAMETERS" => Final::TooManyParameters,
            "NO CARRIER" => Final::NoCarrier,
            "BUSY" => Final::Busy,
            "NO ANSWER" => Final::NoAnswer,
            "NO DIALTONE" | "NO DIAL TONE" => Final::NoDialtone,
            _ => return None,
        })
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Final::Ok)
    }

    /// How a sender should treat this final when it ends an `AT+CMGS` (only meaningful for errors).
    pub fn class(&self) -> ErrorClass {
        match self {
            Final::Cme(e) => e.class(),
            Final::Cms(e) => e.class(),
            _ => ErrorClass::Transient,
        }
    }

    /// The line as a modem would send it (numeric form for known codes).
    pub fn to_line(&self) -> String {
        match self {
            Final::Ok => "OK".into(),
            Final::Error => "ERROR".into(),
            Final::Cme(e) => match e.code() {
                Some(code) => format!("+CME ERROR: {code}"),
                None => format!("+CME ERROR: {}", e.name()),
            },
            Final::Cms(e) => match e.code() {
                Some(code) => format!("+CMS ERROR: {code}"),
                None => format!("+CMS ERROR: {}", e.name()),
            },
            Final::CommandNotSupported => "COMMAND NOT SUPPORT".into(),
            Final::TooManyParameters => "TOO MANY PARAMETERS".into(),
            Final::NoCarrier => "NO CARRIER".into(),
            Final::Busy => "BUSY".into(),
            Final::NoAnswer => "NO ANSWER".into(),
            Final::NoDialtone => "NO DIALTONE".into(),
        }
    }
}

impl fmt::Display for Final {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Final::Cme(e) => e.fmt(f),
            Final::Cms(e) => e.fmt(f),
            other => f.write_str(&other.to_line()),
        }
    }
}

pub(crate) fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        Some(&text[prefix.len()..])
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cms_codes_have_names_and_classes() {
        let table = [
            (1, "Unassigned (unallocated) number", ErrorClass::Recipient),
            (21, "Short message transfer rejected", ErrorClass::Recipient),
            (28, "Unidentified subscriber", ErrorClass::Recipient),
            (38, "Network out of order", ErrorClass::Transient),
            (42, "Congestion", ErrorClass::Transient),
            (304, "invalid PDU mode parameter", ErrorClass::Recipient),
            (310, "(U)SIM not inserted", ErrorClass::Sim),
            (313, "(U)SIM failure", ErrorClass::Sim),
            (316, "(U)SIM PUK required", ErrorClass::Sim),
            (301, "SMS service of ME reserved", ErrorClass::Sim),
            (330, "SMSC address unknown", ErrorClass::Transient),
            (500, "unknown error", ErrorClass::Transient),
            (513, "lower layer failure (Wavecom)", ErrorClass::Transient),
        ];
        for (code, name, class) in table {
            let e = CmsError::from_code(code);
            assert_eq!(e.code(), Some(code));
            assert_eq!(e.name(), name, "code {code}");
            assert_eq!(e.class(), class, "code {code}");
        }
        assert_eq!(CmsError::from_code(604), CmsError::Other(604));
        assert_eq!(CmsError::from_code(604).class(), ErrorClass::Transient);
        assert_eq!(
            CmsError::from_code(34).name(),
            "unnamed RP cause (TS 24.011 E.2)"
        );
    }

    #[test]
    fn cme_codes_have_names_and_classes() {
        let table = [
            (10, "SIM not inserted", ErrorClass::Sim),
            (11, "SIM PIN required", ErrorClass::Sim),
            (12, "SIM PUK required", ErrorClass::Sim),
            (13, "SIM failure", ErrorClass::Sim),
            (14, "SIM busy", ErrorClass::Transient),
            (16, "incorrect password", ErrorClass::Sim),
            (30, "no network service", ErrorClass::Transient),
            (100, "unknown", ErrorClass::Transient),
            (515, "device busy, please wait", ErrorClass::Transient),
        ];
        for (code, name, class) in table {
            let e = CmeError::from_code(code);
            assert_eq!(e.name(), name);
            assert_eq!(e.class(), class);
        }
    }

    #[test]
    fn verbose_texts_map_to_codes() {
        assert_eq!(CmeError::from_text("SIM failure"), CmeError::SimFailure);
        assert_eq!(CmeError::from_text(" sim busy "), CmeError::SimBusy);
        assert_eq!(
            CmsError::from_text("SIM not inserted"),
            CmsError::SimNotInserted
        );
        assert_eq!(
            CmsError::from_text("Network out of order"),
            CmsError::NetworkOutOfOrder
        );
        assert_eq!(
            CmeError::from_text("frobnicated"),
            CmeError::Text("frobnicated".into())
        );
        assert_eq!(CmeError::from_text("frobnicated").code(), None);
        assert_eq!(CmeError::from_text(""), CmeError::Text(String::new()));
    }

    #[test]
    fn finals() {
        assert_eq!(Final::parse("OK"), Some(Final::Ok));
        assert_eq!(Final::parse(" ok "), Some(Final::Ok));
        assert_eq!(Final::parse("ERROR"), Some(Final::Error));
        assert_eq!(
            Final::parse("+CMS ERROR: 500"),
            Some(Final::Cms(CmsError::Unknown))
        );
        assert_eq!(
            Final::parse("+CME ERROR: 22"),
            Some(Final::Cme(CmeError::NotFound))
        );
        assert_eq!(
            Final::parse("+CME ERROR: SIM failure"),
            Some(Final::Cme(CmeError::SimFailure))
        );
        assert_eq!(
            Final::parse("COMMAND NOT SUPPORT"),
            Some(Final::CommandNotSupported)
        );
        assert_eq!(Final::parse("NO CARRIER"), Some(Final::NoCarrier));
        assert_eq!(Final::parse("OKAY"), None);
        assert_eq!(Final::parse("+CMGS: 5"), None);
        assert_eq!(Final::parse("+CM"), None);
    }

    #[test]
    fn display_is_pinned() {
        assert_eq!(
            Final::Cms(CmsError::NetworkOutOfOrder).to_string(),
            "+CMS ERROR: 38 (Network out of order)"
        );
        assert_eq!(
            Final::Cme(CmeError::Text("odd".into())).to_string(),
            "+CME ERROR: odd"
        );
        assert_eq!(
            Final::CommandNotSupported.to_string(),
            "COMMAND NOT SUPPORT"
        );
    }
}
