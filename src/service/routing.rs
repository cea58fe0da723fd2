//! Carrier-aware routing, the rules: which carrier a recipient's number belongs to (a table of
//! E.164 prefixes, the longest matching prefix wins) and which carrier a SIM is on (its IMSI's
//! MCC+MNC). The scheduler prefers a SIM of the recipient's carrier and falls back to any:
//! numbers are portable between carriers, so the table is a guess, never a rule.
//!
//! The built-in table is mainland China's three carriers by number segment (the public
//! numbering plan of MIIT's 13x-19x mobile segments); segments shared by virtual operators or
//! other networks (170, 171, 165, 167, 162, 192) are left out: they match no carrier, and
//! their recipients go to whichever SIM is free.

use std::collections::BTreeMap;

/// China Mobile (移动).
pub const CHINA_MOBILE: &str = "china_mobile";
/// China Unicom (联通).
pub const CHINA_UNICOM: &str = "china_unicom";
/// China Telecom (电信).
pub const CHINA_TELECOM: &str = "china_telecom";

/// The built-in prefixes of each carrier (mobile number segments of mainland China).
pub const DEFAULT_PREFIXES: [(&str, &[&str]); 3] = [
    (
        CHINA_MOBILE,
        &[
            "+86134", "+86135", "+86136", "+86137", "+86138", "+86139", "+86147", "+86148",
            "+86150", "+86151", "+86152", "+86157", "+86158", "+86159", "+86172", "+86178",
            "+86182", "+86183", "+86184", "+86187", "+86188", "+86195", "+86197", "+86198",
        ],
    ),
    (
        CHINA_UNICOM,
        &[
            "+86130", "+86131", "+86132", "+86145", "+86146", "+86155", "+86156", "+86166",
            "+86175", "+86176", "+86185", "+86186", "+86196",
        ],
    ),
    (
        CHINA_TELECOM,
        &[
            // 1349: China Telecom's satellite numbers inside China Mobile's 134.
            "+861349", "+86133", "+86149", "+86153", "+86173", "+86174", "+86177", "+86180",
            "+86181", "+86189", "+86190", "+86191", "+86193", "+86199",
        ],
    ),
];

/// The carrier of a SIM from its IMSI's MCC+MNC (460 China; MNC 00/02/04/07/08 China Mobile,
/// 01/06/09 China Unicom, 03/05/11 China Telecom), if it is one of these.
pub fn carrier_of_imsi(imsi: &str) -> Option<&'static str> {
    match imsi.get(..5)? {
        "46000" | "46002" | "46004" | "46007" | "46008" => Some(CHINA_MOBILE),
        "46001" | "46006" | "46009" => Some(CHINA_UNICOM),
        "46003" | "46005" | "46011" => Some(CHINA_TELECOM),
        _ => None,
    }
}

/// Number prefixes and their carriers, longest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierTable {
    prefixes: Vec<(String, String)>,
}

impl Default for CarrierTable {
    fn default() -> Self {
        let map = DEFAULT_PREFIXES
            .iter()
            .map(|(c, p)| (c.to_string(), p.iter().map(|p| p.to_string()).collect()))
            .collect();
        CarrierTable::new(&map).expect("the built-in table is valid")
    }
}

impl CarrierTable {
    /// A table from carrier names to their prefixes, checked: a carrier name is 1 to 32
    /// lowercase letters, digits or `_`; a prefix is `+` and 1 to 14 digits, and belongs to
    /// one carrier only.
    pub fn new(carriers: &BTreeMap<String, Vec<String>>) -> Result<CarrierTable, String> {
        let mut prefixes: Vec<(String, String)> = Vec::new();
        for (carrier, list) in carriers {
            let name_ok = (1..=32).contains(&carrier.len())
                && carrier
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !name_ok {
                return Err(format!(
                    "carrier {carrier:?}: a name is 1 to 32 lowercase letters, digits or _"
                ));
            }
            for p in list {
                let digits = p.strip_prefix('+').unwrap_or("");
                if !(1..=14).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit())
                {
                    return Err(format!(
                        "carrier {carrier}: prefix {p:?} is not + and 1 to 14 digits (E.164)"
                    ));
                }
                if let Some((_, other)) = prefixes.iter().find(|(q, _)| q == p) {
                    return Err(format!("prefix {p} is given to both {other} and {carrier}"));
                }
                prefixes.push((p.clone(), carrier.clone()));
            }
        }
        prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        Ok(CarrierTable { prefixes })
    }

    /// The carrier of an E.164 number (the longest matching prefix), if any matches.
    pub fn carrier_of_number(&self, number: &str) -> Option<&str> {
        self.prefixes
            .iter()
            .find(|(p, _)| number.starts_with(p.as_str()))
            .map(|(_, c)| c.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_go_to_their_segment_s_carrier_the_longest_prefix_first() {
        let t = CarrierTable::default();
        assert_eq!(t.carrier_of_number("+8613912345678"), Some(CHINA_MOBILE));
        assert_eq!(t.carrier_of_number("+8618612345678"), Some(CHINA_UNICOM));
        assert_eq!(t.carrier_of_number("+8618912345678"), Some(CHINA_TELECOM));
        assert_eq!(t.carrier_of_number("+8613412345678"), Some(CHINA_MOBILE));
        assert_eq!(t.carrier_of_number("+8613491234567"), Some(CHINA_TELECOM));
        // A virtual operator's segment, a foreign number: no carrier.
        assert_eq!(t.carrier_of_number("+8617012345678"), None);
        assert_eq!(t.carrier_of_number("+447700900123"), None);
    }

    #[test]
    fn a_sim_s_carrier_comes_from_its_imsi() {
        assert_eq!(carrier_of_imsi("460001234567890"), Some(CHINA_MOBILE));
        assert_eq!(carrier_of_imsi("460071234567890"), Some(CHINA_MOBILE));
        assert_eq!(carrier_of_imsi("460061234567890"), Some(CHINA_UNICOM));
        assert_eq!(carrier_of_imsi("460111234567890"), Some(CHINA_TELECOM));
        assert_eq!(carrier_of_imsi("234150000000000"), None);
        assert_eq!(carrier_of_imsi("46"), None);
    }

    #[test]
    fn a_configured_table_is_checked() {
        let one = |c: &str, p: &[&str]| {
            BTreeMap::from([(c.to_string(), p.iter().map(|p| p.to_string()).collect())])
        };
        assert!(CarrierTable::new(&one("cmcc", &["+86139"])).is_ok());
        assert!(CarrierTable::new(&one("cmcc", &["86139"])).is_err());
        assert!(CarrierTable::new(&one("cmcc", &["+86 139"])).is_err());
        assert!(CarrierTable::new(&one("China Mobile", &["+86139"])).is_err());
        let mut two = one("a", &["+86139"]);
        two.insert("b".into(), vec!["+86139".into()]);
        assert_eq!(
            CarrierTable::new(&two).unwrap_err(),
            "prefix +86139 is given to both a and b"
        );
    }
}
