//! Network registration, operator and signal: `+CREG`/`+CGREG`/`+CEREG`/`+C5GREG`, `+COPS`,
//! `+CSQ`, and Huawei's `^HCSQ`, `^SYSINFO`, `^SYSINFOEX`, `^TIME`.

use nom::branch::alt;
use nom::bytes::complete::tag;
use nom::character::complete::{char, digit1};
use nom::combinator::{all_consuming, map_res};
use nom::sequence::{preceded, tuple};
use nom::IResult;

use super::{expect_name, split_fields, strip_name, Charset, Field, ParseError};

/// Which registration a `+xREG` line reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegKind {
    /// `+CREG`, circuit switched (TS 27.007 7.2): the one SMS over CS needs.
    Cs,
    /// `+CGREG`, GPRS (TS 27.007 10.1.20).
    Gprs,
    /// `+CEREG`, EPS (TS 27.007 10.1.22).
    Eps,
    /// `+C5GREG`, 5GS (TS 27.007, Rel-15).
    FiveG,
}

impl RegKind {
    pub fn prefix(self) -> &'static str {
        match self {
            RegKind::Cs => "+CREG",
            RegKind::Gprs => "+CGREG",
            RegKind::Eps => "+CEREG",
            RegKind::FiveG => "+C5GREG",
        }
    }
}

/// `<stat>` of TS 27.007 7.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegStat {
    /// 0: not registered, not searching.
    NotSearching,
    /// 1: registered, home network.
    Home,
    /// 2: not registered, searching.
    Searching,
    /// 3: registration denied.
    Denied,
    /// 4: unknown (e.g. out of coverage).
    Unknown,
    /// 5: registered, roaming.
    Roaming,
    /// 6: registered for "SMS only", home network.
    HomeSmsOnly,
    /// 7: registered for "SMS only", roaming.
    RoamingSmsOnly,
    /// 8: attached for emergency bearer services only.
    EmergencyOnly,
    /// 9: registered for "CSFB not preferred", home network.
    HomeCsfbNotPreferred,
    /// 10: registered for "CSFB not preferred", roaming.
    RoamingCsfbNotPreferred,
    /// 11: attached for access to RLOS.
    AttachedRlos,
}

impl RegStat {
    pub fn from_code(code: u32) -> Option<RegStat> {
        Some(match code {
            0 => RegStat::NotSearching,
            1 => RegStat::Home,
            2 => RegStat::Searching,
            3 => RegStat::Denied,
            4 => RegStat::Unknown,
            5 => RegStat::Roaming,
            6 => RegStat::HomeSmsOnly,
            7 => RegStat::RoamingSmsOnly,
            8 => RegStat::EmergencyOnly,
            9 => RegStat::HomeCsfbNotPreferred,
            10 => RegStat::RoamingCsfbNotPreferred,
            11 => RegStat::AttachedRlos,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    /// Registered in a way that can send SMS (home or roaming, SMS-only and CSFB variants too).
    pub fn is_registered(self) -> bool {
        matches!(
            self,
            RegStat::Home
                | RegStat::Roaming
                | RegStat::HomeSmsOnly
                | RegStat::RoamingSmsOnly
                | RegStat::HomeCsfbNotPreferred
                | RegStat::RoamingCsfbNotPreferred
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            RegStat::NotSearching => "not registered, not searching",
            RegStat::Home => "registered, home network",
            RegStat::Searching => "not registered, searching",
            RegStat::Denied => "registration denied",
            RegStat::Unknown => "unknown",
            RegStat::Roaming => "registered, roaming",
            RegStat::HomeSmsOnly => "registered for SMS only, home network",
            RegStat::RoamingSmsOnly => "registered for SMS only, roaming",
            RegStat::EmergencyOnly => "emergency bearer services only",
            RegStat::HomeCsfbNotPreferred => "registered, CSFB not preferred, home network",
            RegStat::RoamingCsfbNotPreferred => "registered, CSFB not preferred, roaming",
            RegStat::AttachedRlos => "attached for access to RLOS",
        }
    }
}

/// `<AcT>` of TS 27.007 7.3 / 7.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessTech {
    Gsm,
    GsmCompact,
    Utran,
    GsmEgprs,
    UtranHsdpa,
    UtranHsupa,
    UtranHspa,
    Eutran,
    EcGsmIot,
    EutranNbS1,
    Eutra5gcn,
    Nr5gcn,
    NgRan,
    EutraNrDual,
}

impl AccessTech {
    pub fn from_code(code: u32) -> Option<AccessTech> {
        use AccessTech::*;
        Some(match code {
            0 => Gsm,
            1 => GsmCompact,
            2 => Utran,
            3 => GsmEgprs,
            4 => UtranHsdpa,
            5 => UtranHsupa,
            6 => UtranHspa,
            7 => Eutran,
            8 => EcGsmIot,
            9 => EutranNbS1,
            10 => Eutra5gcn,
            11 => Nr5gcn,
            12 => NgRan,
            13 => EutraNrDual,
            _ => return None,
        })
    }

    /// A short everyday name: gsm, edge, umts, hspa, lte, 5g...
    pub fn name(self) -> &'static str {
        use AccessTech::*;
        match self {
            Gsm | GsmCompact => "gsm",
            GsmEgprs => "edge",
            Utran => "umts",
            UtranHsdpa => "hsdpa",
            UtranHsupa => "hsupa",
            UtranHspa => "hspa",
            Eutran | Eutra5gcn => "lte",
            EcGsmIot => "ec-gsm-iot",
            EutranNbS1 => "nb-iot",
            Nr5gcn | NgRan => "5gnr",
            EutraNrDual => "lte+5gnr",
        }
    }
}

/// One `+CREG`-style registration report, solicited or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub kind: RegKind,
    /// `<n>`, present in answers to the read command.
    pub n: Option<u8>,
    pub stat: RegStat,
    /// `<lac>` (or `<tac>`), hex in the line.
    pub lac: Option<u32>,
    pub ci: Option<u32>,
    pub act: Option<AccessTech>,
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    N,
    Stat,
    Lac,
    Ci,
    Act,
    Skip,
}

fn layouts(solicited: bool, count: usize) -> Vec<Vec<Role>> {
    use Role::*;
    let fixed: &[&[Role]] = match (solicited, count) {
        (_, 0) => &[],
        (false, 1) | (true, 1) => &[&[Stat]],
        (false, 2) => &[&[Stat, Lac], &[N, Stat]],
        (false, 3) => &[&[Stat, Lac, Ci], &[N, Stat, Lac]],
        (false, 4) => &[&[Stat, Lac, Ci, Act], &[N, Stat, Lac, Ci]],
        (false, 5) => &[
            &[Stat, Lac, Ci, Act, Skip],
            &[N, Stat, Lac, Ci, Act],
            &[Stat, Lac, Skip, Ci, Act],
        ],
        (false, 6) => &[
            &[Stat, Lac, Ci, Act, Skip, Skip],
            &[N, Stat, Lac, Ci, Skip, Skip],
            &[N, Stat, Lac, Skip, Ci, Act],
        ],
        (true, 2) => &[&[N, Stat], &[Stat, Lac]],
        (true, 3) => &[&[N, Stat, Lac], &[Stat, Lac, Ci]],
        (true, 4) => &[&[N, Stat, Lac, Ci], &[Stat, Lac, Ci, Act]],
        (true, 5) => &[&[N, Stat, Lac, Ci, Act], &[Stat, Lac, Ci, Act, Skip]],
        (true, 6) => &[
            &[N, Stat, Lac, Ci, Act, Skip],
            &[N, Stat, Lac, Skip, Ci, Act],
        ],
        _ => &[],
    };
    if !fixed.is_empty() || count == 0 {
        return fixed.iter().map(|l| l.to_vec()).collect();
    }
    // Longer lines (reject causes, NSSAI...): the standard prefix, the rest ignored.
    let mut a = if solicited {
        vec![N, Stat, Lac, Ci, Act]
    } else {
        vec![Stat, Lac, Ci, Act]
    };
    a.resize(count, Skip);
    vec![a]
}

fn apply(kind: RegKind, layout: &[Role], fields: &[Field<'_>]) -> Option<Registration> {
    let mut reg = Registration {
        kind,
        n: None,
        stat: RegStat::Unknown,
        lac: None,
        ci: None,
        act: None,
    };
    let mut have_stat = false;
    for (role, f) in layout.iter().zip(fields) {
        match role {
            Role::N => {
                let n = f.int().filter(|n| *n <= 5)?;
                reg.n = Some(n as u8);
            }
            Role::Stat => {
                reg.stat = f.int().and_then(RegStat::from_code)?;
                have_stat = true;
            }
            Role::Lac | Role::Ci => {
                if !f.looks_hex() {
                    return None;
                }
                let v = if f.is_empty() { None } else { f.hex_lenient() };
                if !f.is_empty() && v.is_none() {
                    return None;
                }
                if *role == Role::Lac {
                    reg.lac = v;
                } else {
                    reg.ci = v;
                }
            }
            Role::Act => {
                if f.is_empty() {
                    continue;
                }
                if f.quoted {
                    return None;
                }
                reg.act = Some(f.int().and_then(AccessTech::from_code)?);
            }
            Role::Skip => {}
        }
    }
    have_stat.then_some(reg)
}

/// `+CREG`/`+CGREG`/`+CEREG`/`+C5GREG`, TS 27.007 7.2, 10.1.20, 10.1.22:
/// solicited `+CREG: <n>,<stat>[,[<lac>],[<ci>][,<AcT>]]`, unsolicited
/// `+CREG: <stat>[,[<lac>],[<ci>][,<AcT>]]`.
///
/// The two forms can have the same number of fields, so `solicited` says which one to try
/// first; then each layout is checked (`<n>` 0-5, `<stat>` 0-11, `<AcT>` an unquoted 0-13,
/// LAC/CI hex) and the first that fits wins. Tolerated: quoted or bare hex, leading zeros,
/// spaces anywhere, a RAC between TAC and CI (Novatel `+CEREG`), trailing junk fields
/// (Samsung S8500), the solicited form sent unsolicited (Sony Ericsson MD400), a last quote
/// never closed (Gammu's fallback).
pub fn parse_registration(line: &str, solicited: bool) -> Result<Registration, ParseError> {
    const WHAT: &str = "+CREG/+CGREG/+CEREG/+C5GREG registration";
    let kinds = [RegKind::FiveG, RegKind::Eps, RegKind::Gprs, RegKind::Cs];
    let (kind, rest) = kinds
        .iter()
        .find_map(|k| strip_name(line, k.prefix()).map(|r| (*k, r)))
        .ok_or_else(|| ParseError::new(WHAT, line))?;
    let fields = split_fields(rest).map_err(|_| ParseError::new(WHAT, line))?;
    let count = if fields.len() == 1 && fields[0].is_empty() {
        0
    } else {
        fields.len()
    };
    layouts(solicited, count)
        .iter()
        .find_map(|layout| apply(kind, layout, &fields))
        .ok_or_else(|| ParseError::new(WHAT, line))
}

/// `<stat>` of a `+COPS=?` entry (TS 27.007 7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkStatus {
    Unknown,
    Available,
    Current,
    Forbidden,
}

/// One network of a `+COPS=?` scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub status: NetworkStatus,
    pub long: Option<String>,
    pub short: Option<String>,
    /// Numeric MCC+MNC.
    pub code: String,
    pub act: Option<AccessTech>,
}

/// Finds the `(...)` groups of a `+COPS=?` answer, honouring quotes; returns each group's
/// inside and the text right after its `)`.
fn paren_groups(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'(' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        let mut in_quote = false;
        while j < bytes.len() && (in_quote || bytes[j] != b')') {
            if bytes[j] == b'"' {
                in_quote = !in_quote;
            }
            if !in_quote && bytes[j] == b'(' {
                break;
            }
            j += 1;
        }
        if j >= bytes.len() || bytes[j] != b')' {
            // unbalanced: restart the scan at the inner '(' (or stop)
            i = j.max(i + 1);
            continue;
        }
        out.push((&text[start..j], &text[j + 1..]));
        i = j + 1;
    }
    out
}

fn act_after_paren(after: &str) -> Option<(AccessTech, usize)> {
    // The Ericsson F3607gw / TM-506 quirk: `(1,"AT&T","AT&T","310410"),2)`.
    let body = after.strip_prefix(',')?;
    let end = body.find(')')?;
    let digits = body[..end].trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let act = AccessTech::from_code(digits.parse().ok()?)?;
    Some((act, 1 + end + 1))
}

/// `+COPS=?` answer, TS 27.007 7.3: `+COPS: [list of supported (<stat>,long alphanumeric
/// <oper>,short alphanumeric <oper>,numeric <oper>[,<AcT>])s][,,(list of supported
/// <mode>s),(list of supported <format>s)]`. `lines` are all information lines of the answer
/// (some modems start a line per network, some break the list over lines). Strings are
/// converted from `charset`. Tolerated: groups without `<AcT>` (GSM), `<AcT>` after the
/// closing parenthesis, missing commas between groups, empty names (`None`). Groups that are
/// not networks (the mode/format lists) are skipped; an answer with no network is an empty list.
pub fn parse_cops_test(lines: &[&str], charset: &Charset) -> Result<Vec<Network>, ParseError> {
    let mut text = String::new();
    for line in lines {
        let body = strip_name(line, "+COPS").unwrap_or(line.trim());
        text.push_str(body);
    }
    if !lines.iter().any(|l| strip_name(l, "+COPS").is_some()) {
        return Err(ParseError::new(
            "+COPS=? network list",
            lines.first().unwrap_or(&""),
        ));
    }
    let mut networks = Vec::new();
    for (inside, after) in paren_groups(&text) {
        let Ok(fields) = split_fields(inside) else {
            continue;
        };
        if fields.len() < 4 {
            continue;
        }
        let Some(stat) = fields[0].int() else {
            continue;
        };
        let status = match stat {
            0 => NetworkStatus::Unknown,
            1 => NetworkStatus::Available,
            2 => NetworkStatus::Current,
            3 => NetworkStatus::Forbidden,
            _ => continue,
        };
        let name_ok = |f: &Field<'_>| f.quoted || f.is_empty();
        if !name_ok(&fields[1]) || !name_ok(&fields[2]) || !fields[3].quoted {
            continue;
        }
        let code = charset.decode(fields[3].text);
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let name = |f: &Field<'_>| {
            if f.is_empty() {
                None
            } else {
                Some(charset.decode(f.text))
            }
        };
        let act = match fields.get(4) {
            Some(f) if !f.is_empty() => f.int().and_then(AccessTech::from_code),
            _ => act_after_paren(after).map(|(a, _)| a),
        };
        networks.push(Network {
            status,
            long: name(&fields[1]),
            short: name(&fields[2]),
            code,
            act,
        });
    }
    Ok(networks)
}

/// The current operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub mode: u8,
    pub format: Option<u8>,
    pub name: Option<String>,
    pub act: Option<AccessTech>,
}

/// `+COPS?` answer, TS 27.007 7.3: `+COPS: <mode>[,<format>,<oper>[,<AcT>]]`.
pub fn parse_cops_read(line: &str) -> Result<Operator, ParseError> {
    const WHAT: &str = "+COPS? operator";
    let rest = expect_name(line, "+COPS", WHAT)?;
    let fields = split_fields(rest)?;
    let mode = fields
        .first()
        .and_then(|f| f.int())
        .filter(|m| *m <= 4)
        .ok_or_else(|| ParseError::new(WHAT, line))?;
    let format = match fields.get(1) {
        Some(f) if !f.is_empty() => Some(
            f.int()
                .filter(|v| *v <= 3)
                .ok_or_else(|| ParseError::new(WHAT, line))? as u8,
        ),
        _ => None,
    };
    let name = fields
        .get(2)
        .filter(|f| !f.is_empty())
        .map(|f| f.text.to_string());
    let act = match fields.get(3) {
        Some(f) if !f.is_empty() => Some(
            f.int()
                .and_then(AccessTech::from_code)
                .ok_or_else(|| ParseError::new(WHAT, line))?,
        ),
        _ => None,
    };
    Ok(Operator {
        mode: mode as u8,
        format,
        name,
        act,
    })
}

/// Received signal quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Signal {
    /// `<rssi>` 0-31, `None` for 99 (not known or not detectable).
    pub rssi: Option<u8>,
    /// `<ber>` 0-7, `None` for 99.
    pub ber: Option<u8>,
}

impl Signal {
    /// The RSSI in dBm (`-113 + 2 * rssi`; 31 means -51 dBm or more).
    pub fn dbm(&self) -> Option<i32> {
        self.rssi.map(|r| -113 + 2 * i32::from(r))
    }
}

fn small_number(input: &str) -> IResult<&str, u32> {
    map_res(digit1, |d: &str| d.parse::<u32>())(input)
}

/// `+CSQ: <rssi>,<ber>`, TS 27.007 8.5 (`+CSQ:4,0` without the space is accepted).
pub fn parse_csq(line: &str) -> Result<Signal, ParseError> {
    const WHAT: &str = "+CSQ signal quality";
    let rest = expect_name(line, "+CSQ", WHAT)?;
    let parsed: IResult<&str, (u32, u32)> = all_consuming(tuple((
        small_number,
        preceded(
            tuple((
                nom::character::complete::space0,
                char(','),
                nom::character::complete::space0,
            )),
            small_number,
        ),
    )))(rest);
    let (_, (rssi, ber)) = parsed.map_err(|_| ParseError::new(WHAT, line))?;
    let rssi = match rssi {
        0..=31 => Some(rssi as u8),
        99 => None,
        _ => return Err(ParseError::new(WHAT, line)),
    };
    let ber = match ber {
        0..=7 => Some(ber as u8),
        _ => None,
    };
    Ok(Signal { rssi, ber })
}

/// Huawei extended signal report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hcsq {
    /// "NOSERVICE", "GSM", "WCDMA", "TD-SCDMA", "LTE"...
    pub sysmode: String,
    /// value1..value5 as sent (meaning depends on `sysmode`; e.g. LTE: rssi, rsrp, sinr, rsrq).
    pub values: Vec<u32>,
}

/// `^HCSQ: <sysmode>[,<value1>[,<value2>[,<value3>[,<value4>]]]]` (Huawei AT command
/// interface specification, `^HCSQ`); sysmode quoted or not; at least one value.
pub fn parse_hcsq(line: &str) -> Result<Hcsq, ParseError> {
    const WHAT: &str = "^HCSQ signal report";
    let rest = expect_name(line, "^HCSQ", WHAT)?;
    let fields = split_fields(rest)?;
    let sysmode = fields
        .first()
        .filter(|f| !f.is_empty() && f.int().is_none())
        .map(|f| f.text.to_ascii_uppercase())
        .ok_or_else(|| ParseError::new(WHAT, line))?;
    let mut values = Vec::new();
    for f in fields.iter().skip(1) {
        values.push(f.int().ok_or_else(|| ParseError::new(WHAT, line))?);
    }
    // ModemManager (and we) want at least value1: `^HCSQ: "NOSERVICE"` says nothing.
    if values.is_empty() || values.len() > 5 {
        return Err(ParseError::new(WHAT, line));
    }
    Ok(Hcsq { sysmode, values })
}

fn two_or_four_digit_year(input: &str) -> IResult<&str, i32> {
    map_res(digit1, |d: &str| match d.len() {
        2 => d.parse::<i32>().map(|y| 2000 + y).map_err(|_| ()),
        4 => d.parse::<i32>().map_err(|_| ()),
        _ => Err(()),
    })(input)
}

/// `^TIME: yy/mm/dd hh:mm:ss` or `yyyy/mm/dd hh:mm:ss` (Huawei network time, no zone).
pub fn parse_time(line: &str) -> Result<chrono::NaiveDateTime, ParseError> {
    const WHAT: &str = "^TIME";
    let rest = expect_name(line, "^TIME", WHAT)?;
    let n = |i| small_number(i);
    let parsed: IResult<&str, _> = all_consuming(tuple((
        two_or_four_digit_year,
        preceded(char('/'), n),
        preceded(char('/'), n),
        preceded(tag(" "), n),
        preceded(char(':'), n),
        preceded(char(':'), n),
    )))(rest);
    let (_, (y, mo, d, h, mi, s)) = parsed.map_err(|_| ParseError::new(WHAT, line))?;
    chrono::NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|date| date.and_hms_opt(h, mi, s))
        .ok_or_else(|| ParseError::new(WHAT, line))
}

/// `+CCLK: "yy/MM/dd,hh:mm:ss±zz"`, TS 27.007 8.15: the modem's clock, `±zz` the zone in
/// quarters of an hour (network time when the modem takes NITZ). Tolerated: no zone (taken as
/// UTC: `None` offset), a four-digit year, no quotes, a space instead of the comma (SIMCom).
/// Returns the local time and the zone offset in seconds.
pub fn parse_cclk(line: &str) -> Result<(chrono::NaiveDateTime, Option<i32>), ParseError> {
    const WHAT: &str = "+CCLK clock";
    let rest = expect_name(line, "+CCLK", WHAT)?.trim();
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let rest = rest.strip_suffix('"').unwrap_or(rest);
    let n = |i| small_number(i);
    let zone = nom::combinator::opt(nom::sequence::pair(
        alt((char('+'), char('-'))),
        map_res(digit1, |d: &str| d.parse::<i32>()),
    ));
    let parsed: IResult<&str, _> = all_consuming(tuple((
        two_or_four_digit_year,
        preceded(char('/'), n),
        preceded(char('/'), n),
        preceded(alt((char(','), char(' '))), n),
        preceded(char(':'), n),
        preceded(char(':'), n),
        zone,
    )))(rest);
    let (_, (y, mo, d, h, mi, s, zone)) = parsed.map_err(|_| ParseError::new(WHAT, line))?;
    let offset = match zone {
        Some((sign, q)) if q <= 96 => Some(if sign == '-' { -q } else { q } * 900),
        Some(_) => return Err(ParseError::new(WHAT, line)),
        None => None,
    };
    let time = chrono::NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|date| date.and_hms_opt(h, mi, s))
        .ok_or_else(|| ParseError::new(WHAT, line))?;
    Ok((time, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cclk() {
        let (t, z) = parse_cclk("+CCLK: \"24/05/01,08:30:15+32\"").unwrap();
        assert_eq!(
            (t.to_string().as_str(), z),
            ("2024-05-01 08:30:15", Some(8 * 3600))
        );
        let (t, z) = parse_cclk("+CCLK: \"80/01/06,00:01:02-14\"").unwrap();
        assert_eq!(
            (t.to_string().as_str(), z),
            ("2080-01-06 00:01:02", Some(-14 * 900))
        );
        let (t, z) = parse_cclk("+CCLK: 2024/05/01 08:30:15").unwrap();
        assert_eq!((t.to_string().as_str(), z), ("2024-05-01 08:30:15", None));
        assert!(parse_cclk("+CCLK: \"24/13/01,08:30:15+32\"").is_err());
        assert!(parse_cclk("+CCLK: \"24/05/01,08:30:15+99\"").is_err());
        assert!(parse_cclk("+CCLK: \"\"").is_err());
    }

    fn reg(line: &str, solicited: bool) -> (RegStat, u32, u32, Option<AccessTech>) {
        let r = parse_registration(line, solicited).unwrap();
        (r.stat, r.lac.unwrap_or(0), r.ci.unwrap_or(0), r.act)
    }

    #[test]
    fn registration_table() {
        use AccessTech::*;
        use RegStat::*;
        assert_eq!(reg("+CREG: 0,1", true), (Home, 0, 0, None));
        assert_eq!(reg("+CREG: 3", false), (Denied, 0, 0, None));
        assert_eq!(
            reg("+CREG: 1,1,84CD,00D30173", true),
            (Home, 0x84CD, 0xD30173, None)
        );
        assert_eq!(reg("+CREG: 1,0001,0010,0", false), (Home, 1, 16, Some(Gsm)));
        assert_eq!(
            reg("+CREG: 2,5,\"0502\",\"0404736D\"", false),
            (Roaming, 0x502, 0x404736D, None)
        );
        assert_eq!(
            reg("+CGREG: 2,1, 81ED, 1A9CEB", false),
            (Home, 0x81ED, 0x1A9CEB, None)
        );
        assert_eq!(
            reg("+CEREG: 11, 78FE, 20 ,14419E ,7", false),
            (AttachedRlos, 0x78FE, 0x14419E, Some(Eutran))
        );
        assert_eq!(
            reg("+CEREG: 1, 2, 0001, 00000100, 7", false),
            (Searching, 1, 256, Some(Eutran))
        );
        assert_eq!(
            reg("+CREG: 2,1,000B,2816, B, C2816", false),
            (Home, 11, 0x2816, None)
        );
        assert_eq!(
            reg("+C5GREG: 1,1F00,79D903,11,6,ABCDEF", false),
            (Home, 0x1F00, 0x79D903, Some(Nr5gcn))
        );
        assert_eq!(reg("+CREG: 2,1,\"5E25", true), (Home, 0x5E25, 0, None));
        assert_eq!(reg("+CREG: 2,,", false), (Searching, 0, 0, None));
        let r = parse_registration("+CGREG: 1,3", true).unwrap();
        assert_eq!((r.kind, r.n), (RegKind::Gprs, Some(1)));
    }

    #[test]
    fn registration_errors() {
        assert!(parse_registration("+CREG: 2,1,\"0B,\"0100701\",7", true).is_err());
        assert!(parse_registration("+CREG:", true).is_err());
        assert!(parse_registration("+CREG: x", true).is_err());
        assert!(parse_registration("+CREG: 99", false).is_err());
        assert!(parse_registration("+COPS: 0", false).is_err());
        assert!(parse_registration("", false).is_err());
    }

    #[test]
    fn cops() {
        let n = parse_cops_test(
            &["+COPS: (2,\"T - Mobile\",\"T - Mobile\",\"31026\",0),(1,\"AT&T\",\"AT&T\",\"310410\"),2),,(0,1),(0-2)"],
            &Charset::Gsm,
        )
        .unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(n[1].act, Some(AccessTech::Utran));
        assert_eq!(n[1].status, NetworkStatus::Available);
        assert!(
            parse_cops_test(&["+COPS: (0,1,2,3),(1,2,3,4)"], &Charset::Gsm)
                .unwrap()
                .is_empty()
        );
        assert!(parse_cops_test(&["garbage"], &Charset::Gsm).is_err());
        let o = parse_cops_read("+COPS: 0,0,\"CHINA MOBILE\",7").unwrap();
        assert_eq!(o.name.as_deref(), Some("CHINA MOBILE"));
        assert_eq!(o.act, Some(AccessTech::Eutran));
        assert_eq!(parse_cops_read("+COPS: 0").unwrap().name, None);
        assert!(parse_cops_read("SOME RANDOM RESPONSE").is_err());
        assert!(parse_cops_read("+COPS: 9,0,\"X\"").is_err());
    }

    #[test]
    fn csq() {
        assert_eq!(
            parse_csq("+CSQ: 18,99").unwrap(),
            Signal {
                rssi: Some(18),
                ber: None
            }
        );
        assert_eq!(parse_csq("+CSQ:4,0").unwrap().rssi, Some(4));
        assert_eq!(parse_csq("+CSQ: 99,99").unwrap().rssi, None);
        assert_eq!(parse_csq("+CSQ: 31,0").unwrap().dbm(), Some(-51));
        assert!(parse_csq("+CSQ: 40,0").is_err());
        assert!(parse_csq("+CSQ: 1").is_err());
        assert!(parse_csq("+CSQ: 1,2,3").is_err());
    }

    #[test]
    fn huawei() {
        let h = parse_hcsq("^HCSQ: LTE,33,40,135,11").unwrap();
        assert_eq!(h.sysmode, "LTE");
        assert_eq!(h.values, vec![33, 40, 135, 11]);
        assert!(parse_hcsq("^HCSQ: 1,2").is_err());
        assert!(parse_hcsq("^HCSQ: \"NOSERVICE\"").is_err());
        let t = parse_time("^TIME: 14/08/05 04:00:21").unwrap();
        assert_eq!(t.to_string(), "2014-08-05 04:00:21");
        assert!(parse_time("^TIME: 14-08-05 04:00:21").is_err());
        assert!(parse_time("^TIME: 14/13/05 04:00:21").is_err());
    }
}
