//! Modem families: where real sticks differ, the profile says how.
//!
//! Sources: transcripts recorded from real sticks (the conformance corpus's `at/` files, which
//! `tests/at_corpus.rs` reads: Huawei E1752 identity and `COMMAND NOT SUPPORT`, `^RSSI`/`^MODE`
//! URCs, SIM800L `+CNMI=?` without `ds=2`, Quectel M26 `+CNMI=?`, Quectel EC25 bare `OK` for an
//! empty `+CMGR`) and other drivers and their issue trackers (SIMCom boot URCs `Call Ready`/`SMS
//! Ready`, GPRS_SIM900#39; SIM7x00 `PB DONE`, ModemManager's simtech plugin; Quectel `RDY`,
//! ModemManager's quectel plugin; Huawei storage indexes from 0, Gammu `F_SMS_LOCATION_0`).
//! The exact boot sequence of each family and SIMCom's prompt without a leading CR LF are
//! taken from vendor manual examples and are the weakest facts here.

use std::fmt;
use std::str::FromStr;

/// A modem family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// A plain 3GPP modem: what the specs say and nothing more.
    #[default]
    Generic,
    /// Huawei E1752-like 3G stick.
    Huawei,
    /// SIMCom SIM800-like module.
    Simcom,
    /// Quectel EC25-like LTE module.
    Quectel,
}

/// Every profile, in the order `--profile mixed` cycles through.
pub const ALL_PROFILES: [Profile; 4] = [
    Profile::Huawei,
    Profile::Simcom,
    Profile::Quectel,
    Profile::Generic,
];

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Generic => "generic",
            Profile::Huawei => "huawei",
            Profile::Simcom => "simcom",
            Profile::Quectel => "quectel",
        }
    }

    /// `+CGMI`.
    pub fn manufacturer(self) -> &'static str {
        match self {
            Profile::Generic => "GROUPSMS",
            Profile::Huawei => "huawei",
            Profile::Simcom => "SIMCOM_Ltd",
            Profile::Quectel => "Quectel",
        }
    }

    /// `+CGMM`.
    pub fn model(self) -> &'static str {
        match self {
            Profile::Generic => "EMU-1",
            Profile::Huawei => "E1752",
            Profile::Simcom => "SIMCOM_SIM800L",
            Profile::Quectel => "EC25",
        }
    }

    /// `+CGMR`.
    pub fn revision(self) -> &'static str {
        match self {
            Profile::Generic => "1.0.0",
            Profile::Huawei => "11.126.13.00.00",
            Profile::Simcom => "Revision:1418B04SIM800L24",
            Profile::Quectel => "EC25EFAR06A10M4G",
        }
    }

    /// `ATI` lines (`imei` for the families that print it).
    pub fn ati(self, imei: &str) -> Vec<String> {
        match self {
            Profile::Generic => vec![format!("{} {}", self.manufacturer(), self.model())],
            Profile::Huawei => vec![
                "Manufacturer: huawei".into(),
                format!("Model: {}", self.model()),
                format!("Revision: {}", self.revision()),
                format!("IMEI: {imei}"),
                "+GCAP: +CGSM,+DS,+ES".into(),
            ],
            Profile::Simcom => vec!["SIM800 R14.18".into()],
            Profile::Quectel => vec![
                "Quectel".into(),
                self.model().into(),
                format!("Revision: {}", self.revision()),
            ],
        }
    }

    /// What the modem prints when it powers on (after `boot_time`). `sim_line` is
    /// `+CPIN: READY` or `+CPIN: SIM PIN`, for the families that announce it.
    pub fn boot_urcs(self, sim_line: &str) -> Vec<String> {
        match self {
            Profile::Generic => vec!["RDY".into()],
            Profile::Huawei => vec!["^BOOT:20950528,0,0,0,72".into(), "^SIMST:1".into()],
            Profile::Simcom => vec![
                "RDY".into(),
                "+CFUN: 1".into(),
                sim_line.into(),
                "Call Ready".into(),
                "SMS Ready".into(),
            ],
            Profile::Quectel => vec![
                "RDY".into(),
                "+CFUN: 1".into(),
                sim_line.into(),
                "+QUSIM: 1".into(),
                "+QIND: SMS DONE".into(),
                "+QIND: PB DONE".into(),
            ],
        }
    }

    /// The `+CMGS` prompt. The spec form is CR LF `> `; SIMCom is emulated without the CR LF,
    /// which hosts must accept as well (field notes, generic behaviour).
    pub fn prompt(self) -> &'static [u8] {
        match self {
            Profile::Simcom => b"> ",
            _ => b"\r\n> ",
        }
    }

    /// The final result code for a command the modem does not know.
    pub fn unknown_command(self) -> &'static str {
        match self {
            Profile::Huawei => "COMMAND NOT SUPPORT",
            _ => "ERROR",
        }
    }

    /// Whether the family answers `^CURC`/`^PORTSEL` (Huawei private commands).
    pub fn huawei_commands(self) -> bool {
        self == Profile::Huawei
    }

    /// Whether the family emits periodic `^RSSI`/`^MODE`/`^BOOT` noise by default.
    pub fn noisy_by_default(self) -> bool {
        self == Profile::Huawei
    }

    /// The index of the first storage location (Huawei and Quectel count from 0).
    pub fn first_index(self) -> usize {
        match self {
            Profile::Huawei | Profile::Quectel => 0,
            _ => 1,
        }
    }

    /// Slots of the SIM ("SM") storage.
    pub fn sim_slots(self) -> usize {
        match self {
            Profile::Generic => 30,
            _ => 50,
        }
    }

    /// Reading an empty storage location: Quectel answers a bare `OK`, the others
    /// `+CMS ERROR: 321`.
    pub fn empty_read_is_ok(self) -> bool {
        self == Profile::Quectel
    }

    /// `+CNMI=?` ranges: (mode, mt, bm, ds, bfr) as lists of allowed values.
    pub fn cnmi_ranges(self) -> [&'static [u8]; 5] {
        match self {
            // SIM800L: "+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)" - no ds=2 (+CDSI).
            Profile::Simcom => [&[0, 1, 2, 3], &[0, 1, 2, 3], &[0, 2], &[0, 1], &[0, 1]],
            // Quectel M26: "+CNMI: (0-3),(0-3),(0,2,3),(0-2),(0,1)".
            Profile::Quectel => [
                &[0, 1, 2, 3],
                &[0, 1, 2, 3],
                &[0, 2, 3],
                &[0, 1, 2],
                &[0, 1],
            ],
            _ => [&[0, 1, 2], &[0, 1, 2, 3], &[0, 2], &[0, 1, 2], &[0, 1]],
        }
    }

    /// Whether the family has an LTE radio and answers `AT+CEREG` (EPS registration, TS 27.007
    /// 10.1.22); the Huawei E1752 (3G) and SIM800 (2G) answer it as an unknown command.
    pub fn has_lte(self) -> bool {
        matches!(self, Profile::Quectel | Profile::Generic)
    }

    /// Access technology reported in `+COPS?` (0 GSM, 2 UTRAN, 7 E-UTRAN).
    pub fn access_technology(self) -> u8 {
        match self {
            Profile::Huawei => 2,
            Profile::Quectel => 7,
            _ => 0,
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_PROFILES
            .iter()
            .copied()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown modem profile {s:?} (generic, huawei, simcom, quectel)")
            })
    }
}

/// Lists a range for `=?` answers: `(0-3)` for runs, `(0,2)` otherwise.
pub(crate) fn format_range(values: &[u8]) -> String {
    let contiguous = values.windows(2).all(|w| w[1] == w[0] + 1);
    match values {
        [] => "()".into(),
        [one] => format!("({one})"),
        [first, .., last] if contiguous && values.len() > 2 => format!("({first}-{last})"),
        _ => format!(
            "({})",
            values
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in ALL_PROFILES {
            assert_eq!(p.name().parse::<Profile>(), Ok(p));
        }
        assert!("nokia".parse::<Profile>().unwrap_err().contains("unknown"));
    }

    #[test]
    fn ranges_print_like_the_corpus() {
        let r = Profile::Simcom.cnmi_ranges();
        let text: Vec<String> = r.iter().map(|v| format_range(v)).collect();
        assert_eq!(text.join(","), "(0-3),(0-3),(0,2),(0,1),(0,1)");
        let q: Vec<String> = Profile::Quectel
            .cnmi_ranges()
            .iter()
            .map(|v| format_range(v))
            .collect();
        assert_eq!(q.join(","), "(0-3),(0-3),(0,2,3),(0-2),(0,1)");
    }
}
