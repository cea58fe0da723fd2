//! Phone numbers to E.164 (`+` country code, national number) with a default country for
//! numbers written the national way, and a small table of calling codes with the length and
//! mobile prefixes of each country's numbers (group SMS goes to mobiles).
//!
//! Accepted input: digits (ASCII or full-width), spaces, `-`, `.`, `(`, `)`, and a leading `+`;
//! `00` (or the country's own international prefix, e.g. `011` in North America) stands for
//! `+`; a national trunk prefix (`0` in China, `8` in Russia) is dropped; `+44 (0)7911 …` is
//! understood; a number that starts with the default country's code without `+` is accepted
//! when it would be invalid otherwise (`8613800138000`).

use std::fmt;
use std::str::FromStr;

/// One row of the calling-code table.
#[derive(Debug, PartialEq, Eq)]
pub struct CountryRule {
    /// ISO 3166 alpha-2 codes that use this row (several for shared plans such as NANP).
    pub iso: &'static [&'static str],
    pub name: &'static str,
    /// Calling code, digits only.
    pub code: &'static str,
    /// National trunk prefix written before national numbers (`""` if none).
    pub trunk: &'static str,
    /// Prefix for dialling abroad, besides `00`.
    pub intl: &'static str,
    /// Digits of the national (significant) number, after the calling code.
    pub min_len: usize,
    pub max_len: usize,
    /// The national number of a mobile starts with one of these; empty means not checked.
    pub mobile: &'static [&'static str],
}

const fn row(
    iso: &'static [&'static str],
    name: &'static str,
    code: &'static str,
    trunk: &'static str,
    intl: &'static str,
    len: (usize, usize),
    mobile: &'static [&'static str],
) -> CountryRule {
    CountryRule {
        iso,
        name,
        code,
        trunk,
        intl,
        min_len: len.0,
        max_len: len.1,
        mobile,
    }
}

const DIGITS_2_TO_9: &[&str] = &["2", "3", "4", "5", "6", "7", "8", "9"];

/// The countries this build knows. Calling codes are prefix-free, so a number matches one row.
pub static COUNTRIES: &[CountryRule] = &[
    row(
        &["CN"],
        "China",
        "86",
        "0",
        "00",
        (11, 11),
        &["13", "14", "15", "16", "17", "18", "19"],
    ),
    row(
        &["HK"],
        "Hong Kong",
        "852",
        "",
        "001",
        (8, 8),
        &["4", "5", "6", "7", "9"],
    ),
    row(&["MO"], "Macao", "853", "", "00", (8, 8), &["6"]),
    row(&["TW"], "Taiwan", "886", "0", "002", (9, 9), &["9"]),
    row(
        &["US", "CA"],
        "the United States or Canada",
        "1",
        "1",
        "011",
        (10, 10),
        DIGITS_2_TO_9,
    ),
    row(
        &["GB"],
        "the United Kingdom",
        "44",
        "0",
        "00",
        (10, 10),
        &["7"],
    ),
    row(
        &["DE"],
        "Germany",
        "49",
        "0",
        "00",
        (10, 11),
        &["15", "16", "17"],
    ),
    row(&["FR"], "France", "33", "0", "00", (9, 9), &["6", "7"]),
    row(&["IT"], "Italy", "39", "", "00", (9, 10), &["3"]),
    row(&["ES"], "Spain", "34", "", "00", (9, 9), &["6", "7"]),
    row(&["NL"], "the Netherlands", "31", "0", "00", (9, 9), &["6"]),
    row(&["RU"], "Russia", "7", "8", "810", (10, 10), &["9"]),
    row(
        &["JP"],
        "Japan",
        "81",
        "0",
        "010",
        (10, 10),
        &["70", "80", "90"],
    ),
    row(
        &["KR"],
        "South Korea",
        "82",
        "0",
        "001",
        (9, 10),
        &["10", "11", "16", "17", "18", "19"],
    ),
    row(&["SG"], "Singapore", "65", "", "000", (8, 8), &["8", "9"]),
    row(&["MY"], "Malaysia", "60", "0", "00", (9, 10), &["1"]),
    row(
        &["TH"],
        "Thailand",
        "66",
        "0",
        "001",
        (9, 9),
        &["6", "8", "9"],
    ),
    row(
        &["VN"],
        "Vietnam",
        "84",
        "0",
        "00",
        (9, 9),
        &["3", "5", "7", "8", "9"],
    ),
    row(
        &["PH"],
        "the Philippines",
        "63",
        "0",
        "00",
        (10, 10),
        &["9"],
    ),
    row(&["ID"], "Indonesia", "62", "0", "001", (9, 12), &["8"]),
    row(
        &["IN"],
        "India",
        "91",
        "0",
        "00",
        (10, 10),
        &["6", "7", "8", "9"],
    ),
    row(&["PK"], "Pakistan", "92", "0", "00", (10, 10), &["3"]),
    row(&["BD"], "Bangladesh", "880", "0", "00", (10, 10), &["1"]),
    row(&["AU"], "Australia", "61", "0", "0011", (9, 9), &["4"]),
    row(&["NZ"], "New Zealand", "64", "0", "00", (8, 10), &["2"]),
    row(
        &["AE"],
        "the United Arab Emirates",
        "971",
        "0",
        "00",
        (9, 9),
        &["5"],
    ),
    row(&["SA"], "Saudi Arabia", "966", "0", "00", (9, 9), &["5"]),
    row(&["TR"], "Turkey", "90", "0", "00", (10, 10), &["5"]),
    row(&["EG"], "Egypt", "20", "0", "00", (10, 10), &["1"]),
    row(
        &["ZA"],
        "South Africa",
        "27",
        "0",
        "00",
        (9, 9),
        &["6", "7", "8"],
    ),
    row(
        &["NG"],
        "Nigeria",
        "234",
        "0",
        "009",
        (10, 10),
        &["7", "8", "9"],
    ),
    row(&["BR"], "Brazil", "55", "0", "00", (10, 11), &[]),
    row(&["MX"], "Mexico", "52", "", "00", (10, 10), &[]),
];

/// A country of the table; the default for numbers written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country(&'static CountryRule);

impl Country {
    /// China, the default.
    pub fn china() -> Country {
        Country(&COUNTRIES[0])
    }

    /// The country with this ISO 3166 alpha-2 code (any case).
    pub fn from_iso(iso: &str) -> Result<Country, PhoneError> {
        let up = iso.trim().to_ascii_uppercase();
        COUNTRIES
            .iter()
            .find(|c| c.iso.contains(&up.as_str()))
            .map(Country)
            .ok_or_else(|| PhoneError::UnknownCountry(iso.to_string()))
    }

    /// Its ISO 3166 alpha-2 code (the first, for rows shared by several countries).
    pub fn iso(&self) -> &'static str {
        self.0.iso[0]
    }

    pub fn rule(&self) -> &'static CountryRule {
        self.0
    }
}

impl Default for Country {
    fn default() -> Self {
        Country::china()
    }
}

impl FromStr for Country {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, PhoneError> {
        Country::from_iso(s)
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.iso[0])
    }
}

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("the phone number is empty")]
    Empty,
    #[error("'{0}' cannot be in a phone number (use digits, spaces, '-', '.', '(', ')' and a leading '+')")]
    BadCharacter(char),
    #[error("'+' may only come first in a phone number")]
    MisplacedPlus,
    #[error("+{0} does not start with a country calling code this program knows")]
    UnknownCallingCode(String),
    #[error("a number in {country} (+{code}) has {expected} digits after the country code, this one has {found}")]
    Length {
        country: &'static str,
        code: &'static str,
        expected: String,
        found: usize,
    },
    #[error("+{code} {national} is not a mobile number in {country}: mobile numbers there start with {prefixes}")]
    NotMobile {
        country: &'static str,
        code: &'static str,
        national: String,
        prefixes: String,
    },
    #[error("'{0}' is not a country this program knows (use an ISO 3166 code such as CN)")]
    UnknownCountry(String),
}

/// Normalizes `input` to E.164 (`+8613800138000`); national numbers are read as numbers of
/// `default`.
pub fn normalize(input: &str, default: Country) -> Result<String, PhoneError> {
    let mut digits = String::with_capacity(input.len());
    let mut plus = false;
    for c in input.trim().chars() {
        let c = match c {
            '０'..='９' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '＋' => '+',
            _ => c,
        };
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() && !plus => plus = true,
            '+' => return Err(PhoneError::MisplacedPlus),
            ' ' | '-' | '.' | '(' | ')' | '\u{a0}' | '\u{3000}' | '－' | '（' | '）' => {}
            other => return Err(PhoneError::BadCharacter(other)),
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    let rule = default.0;
    if plus {
        return international(&digits);
    }
    for prefix in [rule.intl, "00"] {
        if let Some(rest) = digits.strip_prefix(prefix) {
            if !rest.is_empty() {
                return international(rest);
            }
        }
    }
    let national = without_trunk(rule, &digits)
        .into_iter()
        .chain([digits.as_str()]);
    // "8613800138000": the country code written without '+'.
    let with_code = digits
        .strip_prefix(rule.code)
        .into_iter()
        .flat_map(|rest| without_trunk(rule, rest).into_iter().chain([rest]));
    let candidates: Vec<&str> = national.chain(with_code).collect();
    first_valid(rule, candidates)
}

/// The national number with its trunk prefix dropped, if it has one.
fn without_trunk<'a>(rule: &CountryRule, digits: &'a str) -> Option<&'a str> {
    (!rule.trunk.is_empty())
        .then(|| digits.strip_prefix(rule.trunk))
        .flatten()
        .filter(|rest| !rest.is_empty())
}

/// The first candidate that is a valid national number, or the error of the first one.
fn first_valid(rule: &'static CountryRule, candidates: Vec<&str>) -> Result<String, PhoneError> {
    let mut first = None;
    for national in candidates {
        match check(rule, national) {
            Ok(e164) => return Ok(e164),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    Err(first.unwrap_or(PhoneError::Empty))
}

fn international(digits: &str) -> Result<String, PhoneError> {
    let rule = (1..=3)
        .filter(|&n| n <= digits.len())
        .find_map(|n| COUNTRIES.iter().find(|c| c.code == &digits[..n]))
        .ok_or_else(|| PhoneError::UnknownCallingCode(digits.chars().take(4).collect()))?;
    let national = &digits[rule.code.len()..];
    // "+44 (0)7911 123456": a trunk prefix written after the country code.
    first_valid(
        rule,
        [national]
            .into_iter()
            .chain(without_trunk(rule, national))
            .collect(),
    )
}

fn check(rule: &'static CountryRule, national: &str) -> Result<String, PhoneError> {
    let n = national.len();
    if n < rule.min_len || n > rule.max_len {
        let expected = if rule.min_len == rule.max_len {
            rule.min_len.to_string()
        } else {
            format!("{} to {}", rule.min_len, rule.max_len)
        };
        return Err(PhoneError::Length {
            country: rule.name,
            code: rule.code,
            expected,
            found: n,
        });
    }
    if !rule.mobile.is_empty() && !rule.mobile.iter().any(|p| national.starts_with(p)) {
        return Err(PhoneError::NotMobile {
            country: rule.name,
            code: rule.code,
            national: national.to_string(),
            prefixes: rule.mobile.join(", "),
        });
    }
    Ok(format!("+{}{}", rule.code, national))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cn(s: &str) -> Result<String, PhoneError> {
        normalize(s, Country::china())
    }

    #[test]
    fn chinese_mobiles_in_every_usual_form() {
        for input in [
            "13800138000",
            "138 0013 8000",
            "138-0013-8000",
            "+86 138 0013 8000",
            "+86-13800138000",
            "008613800138000",
            "8613800138000",
            "(+86) 138.0013.8000",
            "１３８００１３８０００",
            "＋８６ １３８００１３８０００",
            "  13800138000  ",
        ] {
            assert_eq!(cn(input).as_deref(), Ok("+8613800138000"), "{input}");
        }
        assert_eq!(cn("19912345678").as_deref(), Ok("+8619912345678"));
    }

    #[test]
    fn refused_numbers_say_why() {
        let cases = [
            ("", "the phone number is empty"),
            (" - ", "the phone number is empty"),
            ("138x0013800", "'x' cannot be in a phone number (use digits, spaces, '-', '.', '(', ')' and a leading '+')"),
            ("138+0013800", "'+' may only come first in a phone number"),
            ("1380013800", "a number in China (+86) has 11 digits after the country code, this one has 10"),
            ("138001380001", "a number in China (+86) has 11 digits after the country code, this one has 12"),
            ("12800138000", "+86 12800138000 is not a mobile number in China: mobile numbers there start with 13, 14, 15, 16, 17, 18, 19"),
            ("010 6552 9988", "a number in China (+86) has 11 digits after the country code, this one has 10"),
            ("+999 1234 5678", "+9991 does not start with a country calling code this program knows"),
            ("+44 20 7946 0000", "+44 2079460000 is not a mobile number in the United Kingdom: mobile numbers there start with 7"),
            ("+1 012 555 0100", "+1 0125550100 is not a mobile number in the United States or Canada: mobile numbers there start with 2, 3, 4, 5, 6, 7, 8, 9"),
        ];
        for (input, want) in cases {
            assert_eq!(cn(input).unwrap_err().to_string(), want, "{input}");
        }
    }

    #[test]
    fn other_countries_and_defaults() {
        assert_eq!(cn("+44 (0)7911 123456").as_deref(), Ok("+447911123456"));
        assert_eq!(cn("+852 9123 4567").as_deref(), Ok("+85291234567"));
        assert_eq!(cn("+1 (415) 555-0100").as_deref(), Ok("+14155550100"));
        let us = Country::from_iso("us").unwrap();
        assert_eq!(
            normalize("(415) 555-0100", us).as_deref(),
            Ok("+14155550100")
        );
        assert_eq!(
            normalize("1 415 555 0100", us).as_deref(),
            Ok("+14155550100")
        );
        assert_eq!(
            normalize("011 86 13800138000", us).as_deref(),
            Ok("+8613800138000")
        );
        let gb = Country::from_iso("GB").unwrap();
        assert_eq!(
            normalize("07911 123456", gb).as_deref(),
            Ok("+447911123456")
        );
        let ru: Country = "ru".parse().unwrap();
        assert_eq!(
            normalize("8 912 345 67 89", ru).as_deref(),
            Ok("+79123456789")
        );
        assert_eq!(Country::from_iso("CA").unwrap().rule().code, "1");
        assert_eq!(
            Country::from_iso("XX").unwrap_err().to_string(),
            "'XX' is not a country this program knows (use an ISO 3166 code such as CN)"
        );
    }

    #[test]
    fn table_is_prefix_free_and_lengths_fit_e164() {
        for a in COUNTRIES {
            assert!(
                a.min_len <= a.max_len && a.code.len() + a.max_len <= 15,
                "{}",
                a.name
            );
            for b in COUNTRIES {
                if !std::ptr::eq(a, b) {
                    assert!(!b.code.starts_with(a.code), "{} / {}", a.name, b.name);
                }
            }
        }
    }
}
