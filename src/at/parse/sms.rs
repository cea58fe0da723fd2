//! SMS (TS 27.005, PDU mode): `+CMGS`, `+CMGL`, `+CMGR`, `+CPMS`, `+CSCA`, `+CNMI=?`, and the
//! unsolicited `+CMTI`, `+CDSI`, `+CMT`, `+CDS`.

use nom::character::complete::{char, space0};
use nom::combinator::all_consuming;
use nom::multi::separated_list0;
use nom::sequence::{delimited, preceded};
use nom::IResult;

use super::{
    expect_name, looks_like_ucs2_number, range_list, split_fields, string_list, strip_name,
    ucs2_hex, ParseError,
};

/// `+CMGS: <mr>[,<ackpdu>]`, TS 27.005 3.5.1 (PDU mode): the TP-Message-Reference.
pub fn parse_cmgs(line: &str) -> Result<u8, ParseError> {
    const WHAT: &str = "+CMGS message reference";
    let rest = expect_name(line, "+CMGS", WHAT)?;
    let fields = split_fields(rest)?;
    fields
        .first()
        .and_then(|f| f.int())
        .filter(|mr| *mr <= 255)
        .map(|mr| mr as u8)
        .ok_or_else(|| ParseError::new(WHAT, line))
}

/// A message storage (`<mem1>`.. of TS 27.005 3.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Storage {
    /// "SM": (U)SIM message storage.
    Sm,
    /// "ME": ME message storage.
    Me,
    /// "MT": any of the storages associated with the ME.
    Mt,
    /// "BM": broadcast message storage.
    Bm,
    /// "SR": status report storage.
    Sr,
    /// "TA": TA message storage.
    Ta,
    Other(String),
}

impl Storage {
    pub fn from_name(name: &str) -> Storage {
        match name.trim().to_ascii_uppercase().as_str() {
            "SM" => Storage::Sm,
            "ME" => Storage::Me,
            "MT" => Storage::Mt,
            "BM" => Storage::Bm,
            "SR" => Storage::Sr,
            "TA" => Storage::Ta,
            _ => Storage::Other(name.trim().to_string()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Storage::Sm => "SM",
            Storage::Me => "ME",
            Storage::Mt => "MT",
            Storage::Bm => "BM",
            Storage::Sr => "SR",
            Storage::Ta => "TA",
            Storage::Other(s) => s,
        }
    }
}

/// Where an unsolicited `+CMTI`/`+CDSI` says a message was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAt {
    pub storage: Storage,
    pub index: u32,
}

/// `+CMTI: <mem>,<index>` and `+CDSI: <mem>,<index>`, TS 27.005 3.4.1.
pub fn parse_cmti(line: &str) -> Result<StoredAt, ParseError> {
    const WHAT: &str = "+CMTI/+CDSI storage and index";
    let rest = strip_name(line, "+CMTI")
        .or_else(|| strip_name(line, "+CDSI"))
        .ok_or_else(|| ParseError::new(WHAT, line))?;
    let fields = split_fields(rest)?;
    if fields.len() != 2 || fields[0].is_empty() {
        return Err(ParseError::new(WHAT, line));
    }
    let index = fields[1].int().ok_or_else(|| ParseError::new(WHAT, line))?;
    Ok(StoredAt {
        storage: Storage::from_name(fields[0].text),
        index,
    })
}

fn length_field(line: &str, what: &'static str, text: &str) -> Result<usize, ParseError> {
    let t = text.trim();
    if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::new(what, line));
    }
    t.parse().map_err(|_| ParseError::new(what, line))
}

fn pdu_text(line: &str, what: &'static str, pdu: &str) -> Result<String, ParseError> {
    let p = pdu.trim();
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ParseError::new(what, line));
    }
    Ok(p.to_string())
}

/// `+CDS: <length><CR><LF><pdu>`, TS 27.005 3.4.1 (PDU mode): a status report routed to the
/// TE. Returns the TPDU length and the hex PDU.
pub fn parse_cds(header: &str, pdu: &str) -> Result<(usize, String), ParseError> {
    const WHAT: &str = "+CDS status report";
    let rest = expect_name(header, "+CDS", WHAT)?;
    Ok((length_field(header, WHAT, rest)?, pdu_text(pdu, WHAT, pdu)?))
}

/// `+CMT: [<alpha>],<length><CR><LF><pdu>`, TS 27.005 3.4.1 (PDU mode).
pub fn parse_cmt(header: &str, pdu: &str) -> Result<(usize, String), ParseError> {
    const WHAT: &str = "+CMT message";
    let rest = expect_name(header, "+CMT", WHAT)?;
    let fields = split_fields(rest)?;
    let last = fields.last().ok_or_else(|| ParseError::new(WHAT, header))?;
    Ok((
        length_field(header, WHAT, last.text)?,
        pdu_text(pdu, WHAT, pdu)?,
    ))
}

/// One stored message of a `+CMGL`/`+CMGR` listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEntry {
    /// `<index>` (only in `+CMGL`).
    pub index: Option<u32>,
    /// `<stat>`: 0 received unread, 1 received read, 2 stored unsent, 3 stored sent.
    pub stat: u8,
    /// `<length>`: TPDU octets, as the modem claims.
    pub length: Option<usize>,
    /// The PDU in hex, as sent (possibly truncated or odd-length: decode leniently).
    pub pdu: String,
}

/// Splits `<length>` from a PDU glued to it on the same line (`147 0791...`).
fn split_length_and_pdu(text: &str) -> (&str, Option<&str>) {
    let t = text.trim();
    match t.find(char::is_whitespace) {
        Some(i) => (&t[..i], Some(t[i..].trim())),
        None => (t, None),
    }
}

fn entry_header(
    line: &str,
    name: &str,
    with_index: bool,
    what: &'static str,
) -> Result<(MessageEntry, Option<String>), ParseError> {
    let rest = expect_name(line, name, what)?;
    let fields = split_fields(rest)?;
    let err = || ParseError::new(what, line);
    let (index, stat_at) = if with_index {
        (
            Some(fields.first().and_then(|f| f.int()).ok_or_else(err)?),
            1,
        )
    } else {
        (None, 0)
    };
    let stat = fields
        .get(stat_at)
        .and_then(|f| f.int())
        .filter(|s| *s <= 4)
        .ok_or_else(err)? as u8;
    // [<alpha>] may be absent entirely (Pantech): the length is always the last field.
    let last = fields.last().filter(|_| fields.len() > stat_at + 1);
    let (length, inline_pdu) = match last {
        Some(f) => {
            let (len, pdu) = split_length_and_pdu(f.text);
            (
                Some(length_field(line, what, len)?),
                pdu.map(str::to_string),
            )
        }
        None => (None, None),
    };
    Ok((
        MessageEntry {
            index,
            stat,
            length,
            pdu: String::new(),
        },
        inline_pdu,
    ))
}

/// `+CMGL` answer, TS 27.005 3.4.2 (PDU mode): `+CMGL: <index>,<stat>,[<alpha>],<length>
/// <CR><LF><pdu>` per message. Tolerated: no `<alpha>` field at all (Pantech), a PDU cut short
/// or of odd length (kept as sent), a header without its PDU line (empty `pdu`).
pub fn parse_cmgl(lines: &[&str]) -> Result<Vec<MessageEntry>, ParseError> {
    const WHAT: &str = "+CMGL listing";
    let mut out: Vec<MessageEntry> = Vec::new();
    let mut expecting_pdu = false;
    for line in lines {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if strip_name(t, "+CMGL").is_some() {
            let (mut entry, inline) = entry_header(t, "+CMGL", true, WHAT)?;
            expecting_pdu = inline.is_none();
            if let Some(pdu) = inline {
                entry.pdu = pdu;
            }
            out.push(entry);
        } else if expecting_pdu {
            let last = out.last_mut().ok_or_else(|| ParseError::new(WHAT, t))?;
            if !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ParseError::new(WHAT, t));
            }
            last.pdu = t.to_string();
            expecting_pdu = false;
        } else {
            return Err(ParseError::new(WHAT, t));
        }
    }
    Ok(out)
}

/// `+CMGR` answer, TS 27.005 3.4.3 (PDU mode): `+CMGR: <stat>,[<alpha>],<length><CR><LF><pdu>`.
/// An empty location answers with a bare `OK`: `Ok(None)`. Tolerated: the PDU on the header
/// line after a space, an empty quoted `<alpha>` (Telit).
pub fn parse_cmgr(lines: &[&str]) -> Result<Option<MessageEntry>, ParseError> {
    const WHAT: &str = "+CMGR message";
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    let Some(first) = lines.first() else {
        return Ok(None);
    };
    let (mut entry, inline) = entry_header(first, "+CMGR", false, WHAT)?;
    match (inline, lines.get(1)) {
        (Some(pdu), None) => entry.pdu = pdu,
        (None, Some(pdu)) if lines.len() == 2 => entry.pdu = pdu_text(pdu, WHAT, pdu)?,
        _ => return Err(ParseError::new(WHAT, first)),
    }
    Ok(Some(entry))
}

/// The storages a modem offers, from `AT+CPMS=?`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpmsTest {
    /// Where messages can be read and deleted.
    pub mem1: Vec<String>,
    /// Where messages can be written and sent.
    pub mem2: Vec<String>,
    /// Where received messages are stored.
    pub mem3: Vec<String>,
}

fn cpms_lists(input: &str) -> IResult<&str, Vec<Vec<String>>> {
    separated_list0(delimited(space0, char(','), space0), string_list)(input)
}

/// `+CPMS=?` answer, TS 27.005 3.2.2: `+CPMS: (list of supported <mem1>s),(list of supported
/// <mem2>s),(list of supported <mem3>s)`. Tolerated: bare strings instead of lists
/// (Huawei MU609), empty lists and fields, spaces anywhere, an empty answer, the lists wrapped
/// in one more pair of parentheses (Wavecom: `(("SM","BM","SR"),("SM"))`).
pub fn parse_cpms_test(line: &str) -> Result<CpmsTest, ParseError> {
    const WHAT: &str = "+CPMS=? storage lists";
    let mut rest = expect_name(line, "+CPMS", WHAT)?.trim();
    if rest.starts_with("((") && rest.ends_with("))") {
        rest = &rest[1..rest.len() - 1];
    }
    let (_, lists) = all_consuming(delimited(space0, cpms_lists, space0))(rest)
        .map_err(|_: nom::Err<nom::error::Error<&str>>| ParseError::new(WHAT, line))?;
    if lists.len() > 3 {
        return Err(ParseError::new(WHAT, line));
    }
    let mut it = lists.into_iter();
    Ok(CpmsTest {
        mem1: it.next().unwrap_or_default(),
        mem2: it.next().unwrap_or_default(),
        mem3: it.next().unwrap_or_default(),
    })
}

/// One storage and how full it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageUse {
    pub storage: Storage,
    pub used: u32,
    pub total: u32,
}

/// The storages in use, from `AT+CPMS?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpmsRead {
    pub mem1: StorageUse,
    pub mem2: Option<StorageUse>,
    pub mem3: Option<StorageUse>,
}

/// `+CPMS?` answer, TS 27.005 3.2.2: `+CPMS: <mem1>,<used1>,<total1>,<mem2>,<used2>,
/// <total2>,<mem3>,<used3>,<total3>` (mem2/mem3 optional). Unknown storage names are kept
/// as [`Storage::Other`].
pub fn parse_cpms_read(line: &str) -> Result<CpmsRead, ParseError> {
    const WHAT: &str = "+CPMS? storages in use";
    let rest = expect_name(line, "+CPMS", WHAT)?;
    let fields = split_fields(rest)?;
    let err = || ParseError::new(WHAT, line);
    if fields.len() % 3 != 0 || fields.is_empty() || fields.len() > 9 {
        return Err(err());
    }
    let mut uses = Vec::new();
    for chunk in fields.chunks(3) {
        if !chunk[0].quoted || chunk[0].is_empty() {
            return Err(err());
        }
        uses.push(StorageUse {
            storage: Storage::from_name(chunk[0].text),
            used: chunk[1].int().ok_or_else(err)?,
            total: chunk[2].int().ok_or_else(err)?,
        });
    }
    let mut it = uses.into_iter();
    Ok(CpmsRead {
        mem1: it.next().ok_or_else(err)?,
        mem2: it.next(),
        mem3: it.next(),
    })
}

/// `+CPMS: <used1>,<total1>,<used2>,<total2>,<used3>,<total3>`, the answer to the set
/// command, TS 27.005 3.2.2. Returns (used, total) per storage.
pub fn parse_cpms_set(line: &str) -> Result<Vec<(u32, u32)>, ParseError> {
    const WHAT: &str = "+CPMS set answer";
    let rest = expect_name(line, "+CPMS", WHAT)?;
    let fields = split_fields(rest)?;
    if fields.is_empty() || fields.len() % 2 != 0 || fields.len() > 6 {
        return Err(ParseError::new(WHAT, line));
    }
    fields
        .chunks(2)
        .map(|c| match (c[0].int(), c[1].int()) {
            (Some(u), Some(t)) => Ok((u, t)),
            _ => Err(ParseError::new(WHAT, line)),
        })
        .collect()
}

/// `+CSCA: <sca>,<tosca>`, TS 27.005 3.3.1: the SMSC address, `None` when the SIM has none
/// (`+CSCA: "",129`). Tolerated: a space after the comma, `<tosca>` 145 without `+` in the
/// number (the `+` is added), the number UCS-2 encoded while `AT+CSCS="UCS2"` is active,
/// `<sca>` unquoted.
pub fn parse_csca(line: &str) -> Result<Option<String>, ParseError> {
    const WHAT: &str = "+CSCA service centre address";
    let rest = expect_name(line, "+CSCA", WHAT)?;
    let fields = split_fields(rest)?;
    let err = || ParseError::new(WHAT, line);
    let first = fields.first().ok_or_else(err)?;
    let tosca = match fields.get(1) {
        Some(f) if !f.is_empty() => Some(f.int().ok_or_else(err)?),
        _ => None,
    };
    if fields.len() > 2 {
        return Err(err());
    }
    let mut number = first.text.trim().to_string();
    if looks_like_ucs2_number(&number) {
        number = ucs2_hex(&number).ok_or_else(err)?;
    }
    if number.is_empty() {
        return Ok(None);
    }
    if !number
        .trim_start_matches('+')
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
    {
        return Err(err());
    }
    if tosca == Some(145) && !number.starts_with('+') {
        number.insert(0, '+');
    }
    Ok(Some(number))
}

/// The `+CNMI` values a modem accepts, from `AT+CNMI=?`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CnmiSupport {
    pub mode: Vec<u32>,
    pub mt: Vec<u32>,
    pub bm: Vec<u32>,
    pub ds: Vec<u32>,
    pub bfr: Vec<u32>,
}

/// `+CNMI=?` answer, TS 27.005 3.4.1: `+CNMI: (list of supported <mode>s),(list of supported
/// <mt>s),(list of supported <bm>s),(list of supported <ds>s),(list of supported <bfr>s)`.
/// Tolerated: no space after the colon, trailing lists missing.
pub fn parse_cnmi_test(line: &str) -> Result<CnmiSupport, ParseError> {
    const WHAT: &str = "+CNMI=? supported values";
    let rest = expect_name(line, "+CNMI", WHAT)?;
    let parsed: IResult<&str, (Vec<u32>, Vec<Vec<u32>>)> = all_consuming(nom::sequence::pair(
        range_list,
        nom::multi::many0(preceded(delimited(space0, char(','), space0), range_list)),
    ))(rest);
    let (_, (first, more)) = parsed.map_err(|_| ParseError::new(WHAT, line))?;
    if more.len() > 4 {
        return Err(ParseError::new(WHAT, line));
    }
    let mut it = more.into_iter();
    Ok(CnmiSupport {
        mode: first,
        mt: it.next().unwrap_or_default(),
        bm: it.next().unwrap_or_default(),
        ds: it.next().unwrap_or_default(),
        bfr: it.next().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmgs() {
        assert_eq!(parse_cmgs("+CMGS: 240").unwrap(), 240);
        assert_eq!(parse_cmgs("+CMGS: 5,\"01\"").unwrap(), 5);
        assert!(parse_cmgs("+CMGS: 256").is_err());
        assert!(parse_cmgs("+CMGS:").is_err());
        assert!(parse_cmgs("+CMGR: 1").is_err());
    }

    #[test]
    fn cmti_cds() {
        let s = parse_cmti("+CMTI: \"SM\",7").unwrap();
        assert_eq!((s.storage, s.index), (Storage::Sm, 7));
        assert_eq!(parse_cmti("+CDSI: \"SR\",1").unwrap().storage, Storage::Sr);
        assert!(parse_cmti("+CMTI: \"SM\"").is_err());
        let (len, pdu) = parse_cds("+CDS: 24", "0791AB").unwrap();
        assert_eq!((len, pdu.as_str()), (24, "0791AB"));
        assert!(parse_cds("+CDS: x", "07").is_err());
        assert!(parse_cds("+CDS: 2", "zz").is_err());
        assert_eq!(parse_cmt("+CMT: ,24", "07").unwrap().0, 24);
        assert_eq!(parse_cmt("+CMT: \"alpha\",24", "07").unwrap().0, 24);
    }

    #[test]
    fn cmgl_cmgr() {
        let e = parse_cmgl(&["+CMGL: 0,3,,18", "0011000B81"]).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].index, e[0].stat, e[0].length), (Some(0), 3, Some(18)));
        let e = parse_cmgl(&["+CMGL: 17,3,35", "079100F4", "+CMGL: 15,3,35", "0791"]).unwrap();
        assert_eq!((e[1].index, e[1].pdu.as_str()), (Some(15), "0791"));
        assert_eq!(parse_cmgl(&[]).unwrap(), vec![]);
        assert!(parse_cmgl(&["0791"]).is_err());
        let r = parse_cmgr(&["+CMGR: 1,,147 0791AB"]).unwrap().unwrap();
        assert_eq!((r.stat, r.length, r.pdu.as_str()), (1, Some(147), "0791AB"));
        let r = parse_cmgr(&["+CMGR: 0,\"\",50", "0791CD"])
            .unwrap()
            .unwrap();
        assert_eq!(r.pdu, "0791CD");
        assert_eq!(parse_cmgr(&[]).unwrap(), None);
        assert!(parse_cmgr(&["+CMGR: 0,,5"]).is_err());
    }

    #[test]
    fn cpms() {
        let t = parse_cpms_test("+CPMS: (\"ME\",\"MT\"),\"ME\",(\"SM\")").unwrap();
        assert_eq!((t.mem1.len(), t.mem2.len(), t.mem3.len()), (2, 1, 1));
        let t = parse_cpms_test("+CPMS: ((\"SM\",\"BM\",\"SR\"),(\"SM\"))").unwrap();
        assert_eq!(t.mem1, vec!["SM", "BM", "SR"]);
        assert_eq!(parse_cpms_test("+CPMS: ").unwrap(), CpmsTest::default());
        assert!(parse_cpms_test("+CPMS: (1,2)").is_err());
        let r = parse_cpms_read("+CPMS: \"XX\",100,100,\"BM\",5,10,\"TA\",1,100").unwrap();
        assert_eq!(r.mem1.storage, Storage::Other("XX".into()));
        assert_eq!(r.mem2.unwrap().storage, Storage::Bm);
        assert!(parse_cpms_read("+CPMS: ,,,,,,,,").is_err());
        assert_eq!(parse_cpms_set("+CPMS: 0,50,0,50,0,50").unwrap().len(), 3);
        assert!(parse_cpms_set("+CPMS: 0,50,0").is_err());
    }

    #[test]
    fn csca() {
        assert_eq!(
            parse_csca("+CSCA: \"+32475161616\",145")
                .unwrap()
                .as_deref(),
            Some("+32475161616")
        );
        assert_eq!(
            parse_csca("+CSCA: \"79185599999\", 145")
                .unwrap()
                .as_deref(),
            Some("+79185599999")
        );
        assert_eq!(
            parse_csca("+CSCA: 002B00390037003200350034003100320030003000330032,145")
                .unwrap()
                .as_deref(),
            Some("+97254120032")
        );
        assert_eq!(parse_csca("+CSCA: \"\",129").unwrap(), None);
        assert!(parse_csca("+CSCA: \"abc\",129").is_err());
        assert!(parse_csca("+CSCA: \"123\",x").is_err());
    }

    #[test]
    fn cnmi() {
        let s = parse_cnmi_test("+CNMI: (2),(0-1,3),(0,2),(0-1),(0)").unwrap();
        assert_eq!(s.mt, vec![0, 1, 3]);
        assert_eq!(s.ds, vec![0, 1]);
        let s = parse_cnmi_test("+CNMI:(0-3),(0-3),(0-3),(0,1),(0,1)").unwrap();
        assert_eq!(s.mode, vec![0, 1, 2, 3]);
        assert!(parse_cnmi_test("+CNMI: 2,1,0,0,0").is_err());
    }
}
