//! Phone numbers to E.164 (`+` country code, national number), read with libphonenumber's
//! metadata (the `phonenumber` crate: every country and numbering plan Google's library knows,
//! their trunk and international prefixes, lengths and number ranges), with a default country
//! for numbers written the national way. A number must be valid in its country's plan and a
//! subscriber's line: a mobile, a fixed line, a personal or VoIP number (many networks take SMS
//! to fixed lines, and where one does not, the delivery fails and says so); service numbers,
//! which cannot receive a text (toll-free, premium-rate, shared-cost, company numbers, short
//! codes, pagers, voicemail), are refused with their kind named.
//!
//! What this module adds to the crate, which reads numbers out of free text: the input must be
//! a phone number and nothing else. Accepted: digits (ASCII or full-width), the separators
//! libphonenumber knows (spaces, `-`, `.`, `/`, `(`, `)`, `~`, `[`, `]`, and their full-width
//! and typographic forms), and a leading `+` (or `＋`); letters (vanity numbers, `ext.`) and
//! other characters are refused with the character named. Then, as libphonenumber reads them:
//! the country's international prefix (`00` in China, `011` in North America) stands for `+`;
//! a national trunk prefix (`0` in China, `8` in Russia) is dropped, after a country code too
//! (`+44 (0)7911 …`); a number that starts with the default country's code without `+` is
//! read so when it would be invalid otherwise (`8613800138000`).

use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id;
use phonenumber::metadata::{Metadata, DATABASE};
use phonenumber::{Mode, PhoneNumber, Type};

/// A country of libphonenumber's metadata; the default for numbers written without a country
/// code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country(Id);

impl Country {
    /// China, the default.
    pub fn china() -> Country {
        Country(Id::CN)
    }

    /// The country with this ISO 3166 alpha-2 code (any case), if libphonenumber has its
    /// numbering plan.
    pub fn from_iso(iso: &str) -> Result<Country, PhoneError> {
        let up = iso.trim().to_ascii_uppercase();
        up.parse::<Id>()
            .ok()
            .filter(|id| DATABASE.by_id(id.as_ref()).is_some())
            .map(Country)
            .ok_or_else(|| PhoneError::UnknownCountry(iso.to_string()))
    }

    /// Its ISO 3166 alpha-2 code.
    pub fn iso(&self) -> &str {
        self.0.as_ref()
    }

    /// Its country calling code (`86`).
    pub fn calling_code(&self) -> Option<u16> {
        self.metadata().map(Metadata::country_code)
    }

    fn metadata(&self) -> Option<&'static Metadata> {
        DATABASE.by_id(self.0.as_ref())
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
        f.write_str(self.iso())
    }
}

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("the phone number is empty")]
    Empty,
    #[error("'{0}' cannot be in a phone number (use digits, spaces, '-', '.', '/', '(', ')' and a leading '+')")]
    BadCharacter(char),
    #[error("'+' may only come first in a phone number")]
    MisplacedPlus,
    #[error("+{0} does not start with a country calling code in use")]
    UnknownCallingCode(String),
    #[error("a mobile number in {country} (+{code}) has {expected} digits after the country code, this one has {found}")]
    Length {
        country: String,
        code: u16,
        expected: String,
        found: usize,
    },
    #[error("{number} is not a mobile number in {country}: no number in use there starts so")]
    NotInUse { number: String, country: String },
    #[error("{number} is {kind} in {country}, which cannot receive SMS")]
    ServiceNumber {
        number: String,
        country: String,
        kind: &'static str,
    },
    #[error("'{0}' is not a country this program knows (use an ISO 3166 code such as CN)")]
    UnknownCountry(String),
}

/// Normalizes `input` to E.164 (`+8613800138000`); national numbers are read as numbers of
/// `default`.
pub fn normalize(input: &str, default: Country) -> Result<String, PhoneError> {
    let (plus, digits) = clean(input)?;
    let international = if plus {
        Some(digits.as_str())
    } else {
        after_international_prefix(default, &digits)
    };
    // The calling code, the national digits as typed, and what libphonenumber reads.
    let (code, typed, parsed) = match international {
        Some(rest) => {
            let (code, national) = split_code(rest)
                .ok_or_else(|| PhoneError::UnknownCallingCode(rest.chars().take(4).collect()))?;
            (code, national, phonenumber::parse(None, format!("+{rest}")))
        }
        None => {
            let code = default.calling_code().unwrap_or_default();
            (
                code,
                digits.as_str(),
                phonenumber::parse(Some(default.0), &digits),
            )
        }
    };
    match parsed {
        Ok(number) => match subscriber_e164(&number) {
            Some(e164) => Ok(e164),
            None => Err(refused(&number, code, typed)),
        },
        Err(_) => Err(invalid(code, typed)),
    }
}

/// Why a number read by libphonenumber is refused: a service number (its kind named), or not
/// valid (its length, else its digits).
fn refused(number: &PhoneNumber, code: u16, typed: &str) -> PhoneError {
    match number {
        number if number.is_valid_with(&DATABASE) => {
            let meta = number.metadata(&DATABASE);
            PhoneError::ServiceNumber {
                number: number.format().mode(Mode::International).to_string(),
                country: country_name(meta, number.code().value()),
                kind: kind(number.number_type(&DATABASE)),
            }
        }
        // A number that starts like a carrier selection code (`12800138000` in China) has it
        // taken off when read: what is shown is the number as typed.
        number if number.carrier().is_none() => {
            invalid(number.code().value(), &number.national().to_string())
        }
        _ => invalid(code, typed),
    }
}

/// Whether the input has a `+`, and its digits (ASCII); refuses anything but digits,
/// separators and a leading `+`.
fn clean(input: &str) -> Result<(bool, String), PhoneError> {
    let mut digits = String::with_capacity(input.len());
    let mut plus = false;
    for c in input.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            '０'..='９' => digits.push(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
            '+' | '＋' if digits.is_empty() && !plus => plus = true,
            '+' | '＋' => return Err(PhoneError::MisplacedPlus),
            c if is_separator(c) => {}
            other => return Err(PhoneError::BadCharacter(other)),
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    Ok((plus, digits))
}

/// libphonenumber's punctuation (its `VALID_PUNCTUATION`), less the `x` of extensions.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '-'
            | '.'
            | '/'
            | '('
            | ')'
            | '['
            | ']'
            | '~'
            | '\u{a0}'
            | '\u{ad}'
            | '\u{200b}'
            | '\u{2060}'
            | '\u{2010}'..='\u{2015}'
            | '\u{2053}'
            | '\u{2212}'
            | '\u{223c}'
            | '\u{3000}'
            | '\u{30fc}'
            | '\u{ff08}'
            | '\u{ff09}'
            | '\u{ff0d}'..='\u{ff0f}'
            | '\u{ff3b}'
            | '\u{ff3d}'
            | '\u{ff5e}'
    )
}

/// The digits after the default country's international prefix (`00`, `011`...), if they
/// start with it (and what follows is no `0`: no country code starts so).
fn after_international_prefix(default: Country, digits: &str) -> Option<&str> {
    let m = default
        .metadata()?
        .international_prefix()?
        .find(digits)
        .filter(|m| m.start() == 0)?;
    let rest = &digits[m.end()..];
    (!rest.is_empty() && !rest.starts_with('0')).then_some(rest)
}

/// The calling code of an international number and the digits after it, if it starts with
/// one in use.
fn split_code(digits: &str) -> Option<(u16, &str)> {
    (1..=3)
        .filter_map(|n| Some((digits.get(..n)?.parse::<u16>().ok()?, digits.get(n..)?)))
        .find(|(code, _)| DATABASE.by_code(code).is_some())
}

/// The main country of a calling code (`US` for +1), or the code itself for non-geographic
/// ones (+800, +882...).
fn country_name(meta: Option<&Metadata>, code: u16) -> String {
    match meta.map(Metadata::id) {
        Some("001") | None => format!("+{code}"),
        Some(id) => id.to_string(),
    }
}

/// Why a national number is not valid in the plan of `code`: its length, else its digits.
fn invalid(code: u16, national: &str) -> PhoneError {
    let meta = DATABASE.by_code(&code).and_then(|m| m.into_iter().next());
    let country = country_name(meta, code);
    let lengths = meta.map(mobile_lengths).unwrap_or_default();
    if !lengths.is_empty() && !lengths.contains(&national.len()) {
        return PhoneError::Length {
            country,
            code,
            expected: spell_lengths(&lengths),
            found: national.len(),
        };
    }
    PhoneError::NotInUse {
        number: format!("+{code} {national}"),
        country,
    }
}

/// The number in E.164 if it is valid and a subscriber's line: its plan's general pattern
/// and a mobile, fixed-line, personal or VoIP pattern match it (what `is_valid` and the type
/// come to, in fewer regex matches: this runs for every number of an import).
fn subscriber_e164(number: &PhoneNumber) -> Option<String> {
    let meta = number.metadata(&DATABASE)?;
    // The patterns, on the national number with its leading zeros (`+225 07…`).
    let national = number.national().to_string();
    let d = meta.descriptors();
    let subscriber = d.general().is_match(&national)
        && [d.mobile(), d.fixed_line(), d.personal_number(), d.voip()]
            .into_iter()
            .flatten()
            .any(|d| d.is_match(&national));
    // E.164 is `+`, the code and the national number: no format pattern needed.
    subscriber.then(|| format!("+{}{national}", number.code().value()))
}

/// The lengths of mobile numbers (national significant number) in a plan, else of any number.
fn mobile_lengths(meta: &Metadata) -> Vec<usize> {
    let d = meta.descriptors();
    let lengths = d
        .mobile()
        .map(|m| m.possible_length())
        .filter(|l| !l.is_empty())
        .unwrap_or(d.general().possible_length());
    lengths.iter().map(|&n| usize::from(n)).collect()
}

/// `11`, `9 to 10`, `8, 10 or 11`.
fn spell_lengths(lengths: &[usize]) -> String {
    match lengths {
        [one] => one.to_string(),
        [first, .., last] if last - first + 1 == lengths.len() => format!("{first} to {last}"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(usize::to_string).collect();
            format!("{} or {last}", init.join(", "))
        }
        [] => String::new(),
    }
}

fn kind(t: Type) -> &'static str {
    match t {
        Type::FixedLine => "a fixed-line number",
        Type::TollFree => "a toll-free number",
        Type::PremiumRate => "a premium-rate number",
        Type::SharedCost => "a shared-cost number",
        Type::PersonalNumber => "a personal number",
        Type::Voip => "a VoIP number",
        Type::Pager => "a pager number",
        Type::Uan => "a company number (UAN)",
        Type::Emergency => "an emergency number",
        Type::Voicemail => "a voicemail number",
        Type::ShortCode => "a short code",
        _ => "a service number",
    }
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
            "138/0013/8000",
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
            ("138x0013800", "'x' cannot be in a phone number (use digits, spaces, '-', '.', '/', '(', ')' and a leading '+')"),
            ("1-800-FLOWERS", "'F' cannot be in a phone number (use digits, spaces, '-', '.', '/', '(', ')' and a leading '+')"),
            ("138+0013800", "'+' may only come first in a phone number"),
            ("1", "a mobile number in CN (+86) has 11 digits after the country code, this one has 1"),
            ("1380013800", "a mobile number in CN (+86) has 11 digits after the country code, this one has 10"),
            ("138001380001", "a mobile number in CN (+86) has 11 digits after the country code, this one has 12"),
            ("12800138000", "+86 12800138000 is not a mobile number in CN: no number in use there starts so"),
            ("400 810 8888", "+86 400 810 8888 is a shared-cost number in CN, which cannot receive SMS"),
            ("800 810 8888", "+86 800 810 8888 is a toll-free number in CN, which cannot receive SMS"),
            ("+999 1234 5678", "+9991 does not start with a country calling code in use"),
            ("+44 909 879 0000", "+44 909 879 0000 is a premium-rate number in GB, which cannot receive SMS"),
            ("+86 120 0000 0000", "+86 12000000000 is not a mobile number in CN: no number in use there starts so"),
            ("+1 012 555 0100", "+1 0125550100 is not a mobile number in US: no number in use there starts so"),
            ("+86 1380013800012345678", "a mobile number in CN (+86) has 11 digits after the country code, this one has 19"),
            ("+380 44 123 45", "a mobile number in UA (+380) has 9 digits after the country code, this one has 7"),
        ];
        for (input, want) in cases {
            assert_eq!(cn(input).unwrap_err().to_string(), want, "{input}");
        }
    }

    #[test]
    fn other_countries_and_defaults() {
        assert_eq!(cn("+44 (0)7911 123456").as_deref(), Ok("+447911123456"));
        assert_eq!(cn("+852 9123 4567").as_deref(), Ok("+85291234567"));
        assert_eq!(cn("+1 (415) 555-2671").as_deref(), Ok("+14155552671"));
        // Ukraine, which the hand-written table of 34 countries did not know.
        assert_eq!(cn("+380 44 123 4567").as_deref(), Ok("+380441234567"));
        assert_eq!(cn("+380 50 123 4567").as_deref(), Ok("+380501234567"));
        // Fixed lines are subscribers' lines too (Beijing, London).
        assert_eq!(cn("010 6552 9988").as_deref(), Ok("+861065529988"));
        assert_eq!(cn("+44 20 7946 0000").as_deref(), Ok("+442079460000"));
        let ua = Country::from_iso("ua").unwrap();
        assert_eq!(
            normalize("050 123 4567", ua).as_deref(),
            Ok("+380501234567")
        );
        let us = Country::from_iso("us").unwrap();
        assert_eq!(
            normalize("(415) 555-2671", us).as_deref(),
            Ok("+14155552671")
        );
        assert_eq!(
            normalize("1 415 555 2671", us).as_deref(),
            Ok("+14155552671")
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
        // A number abroad written with the default country's trunk prefix is not confused
        // with the other country's plan.
        assert_eq!(
            normalize("+7 8 912 345 67 89", Country::china()).as_deref(),
            Ok("+79123456789")
        );
        // Côte d'Ivoire keeps the leading 0 of its mobiles after the country code.
        assert_eq!(cn("+225 07 07 12 34 56").as_deref(), Ok("+2250707123456"));
        assert_eq!(Country::from_iso("CA").unwrap().calling_code(), Some(1));
        assert_eq!(Country::from_iso(" cn ").unwrap(), Country::china());
        assert_eq!(Country::china().to_string(), "CN");
        assert_eq!(
            Country::from_iso("XX").unwrap_err().to_string(),
            "'XX' is not a country this program knows (use an ISO 3166 code such as CN)"
        );
    }

    #[test]
    fn lengths_are_spelled() {
        assert_eq!(spell_lengths(&[11]), "11");
        assert_eq!(spell_lengths(&[9, 10]), "9 to 10");
        assert_eq!(spell_lengths(&[8, 10, 11]), "8, 10 or 11");
    }
}
