//! The digester: classifies the front of the read buffer.
//!
//! [`digest`] is one pure function from (buffer, [`Context`]) to "this many bytes are one
//! [`Item`]" or "need more bytes"; [`Digester`] owns the buffer and keeps it bounded. The
//! classification of a byte stream never depends on how it was cut into reads: a line is
//! only looked at once its terminator is in the buffer (a `>` prompt needs no terminator),
//! and CR, LF and NUL between lines are all just separators.
//!
//! | front of the buffer (after CR/LF/NUL) | item |
//! | --- | --- |
//! | `>` (optionally followed by a space) | [`Item::Prompt`] |
//! | a line that is (a prefix of) the rest of our own command | [`Item::Echo`] |
//! | `OK`, `ERROR`, `+CME ERROR: n`, `+CMS ERROR: n`, `COMMAND NOT SUPPORT`... | [`Item::Final`] |
//! | a URC name not owned by the running command (`+CMTI`, `^RSSI`, `RDY`...) | [`Item::Urc`] (two lines for `+CMT`/`+CDS`) |
//! | any other line while a command runs | [`Item::Info`] |
//! | any other line while idle | [`Item::Urc`] ([`Urc::Unknown`]) |
//! | a line longer than the cap, or only control bytes | [`Item::Garbage`] |
//!
//! Echo can be split by URCs (Huawei: `A\r\n^RSSI:20\r\nT+CGMI\r`): each piece that is a
//! prefix of the echo still expected is reported as `Echo { len }`; the caller advances.

use super::codes::Final;
use super::urc::{self, Urc};

/// Longest line a modem may send us (a `+COPS=?` list or a USSD text can be long; a PDU line
/// is <= 360). Not the socket protocol's limit (`protocol::MAX_LINE`).
pub const MAX_AT_LINE: usize = 4096;

/// What the caller knows about the exchange in progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The command in progress without its CR (`AT+CREG?`), or `None` when idle.
    pub command: Option<&'a str>,
    /// The part of our last write the modem has not echoed yet (empty when echo is off).
    pub echo: &'a [u8],
}

impl<'a> Context<'a> {
    pub fn idle() -> Self {
        Context::default()
    }

    /// The name information lines of `command` start with: `+CREG` for `AT+CREG?`,
    /// `^SYSINFO` for `AT^SYSINFO`; none for basic commands (`ATI`, `ATE0`).
    pub fn info_name(&self) -> Option<&'a str> {
        info_name(self.command?)
    }
}

/// The information-line name of an extended command (V.250 5.4: `AT` then `+`/`^`/`$`/`*`/`#`
/// and the name, up to `=`, `?` or `;`).
pub fn info_name(command: &str) -> Option<&str> {
    let c = command.trim();
    if c.len() < 3 || !c[..2].eq_ignore_ascii_case("AT") {
        return None;
    }
    let rest = &c[2..];
    if !rest.starts_with(['+', '^', '$', '*', '#']) {
        return None;
    }
    let end = rest.find(['=', '?', ';']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Why bytes were skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GarbageReason {
    /// A line longer than the cap.
    TooLong,
    /// A line of control bytes / invalid UTF-8 only (line noise, a modem powering up).
    Binary,
}

/// Bytes the digester dropped, with a printable preview for the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Garbage {
    pub len: usize,
    pub reason: GarbageReason,
    pub preview: String,
}

/// One classified piece of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `len` bytes of the expected echo were seen.
    Echo {
        len: usize,
    },
    /// The `>` prompt of `AT+CMGS`.
    Prompt,
    /// An information line of the command in progress (trimmed).
    Info(String),
    /// The final result of the command in progress (or a stray one when idle).
    Final(Final),
    Urc(Urc),
    Garbage(Garbage),
}

/// The result of one [`digest`] call: `consumed` bytes can be dropped from the buffer; with
/// `item: None` they were only separators (or nothing: need more bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub consumed: usize,
    pub item: Option<Item>,
    /// The buffer ended inside an over-long line: drop bytes until the next line end.
    pub discard_until_eol: bool,
}

impl Step {
    fn need_more(consumed: usize) -> Step {
        Step {
            consumed,
            item: None,
            discard_until_eol: false,
        }
    }

    fn item(consumed: usize, item: Item) -> Step {
        Step {
            consumed,
            item: Some(item),
            discard_until_eol: false,
        }
    }
}

fn is_separator(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | 0)
}

fn preview(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes.iter().take(32) {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7E => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > 32 {
        s.push('…');
    }
    s
}

fn garbage(consumed: usize, bytes: &[u8], reason: GarbageReason) -> Step {
    Step::item(
        consumed,
        Item::Garbage(Garbage {
            len: bytes.len(),
            reason,
            preview: preview(bytes),
        }),
    )
}

fn starts_with_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay[..needle.len()].eq_ignore_ascii_case(needle)
}

/// Index of the end of the line starting at `bytes[0]` (a CR or LF). For `+CUSD` lines a
/// terminator inside quotes does not count (USSD texts span lines).
fn line_end(bytes: &[u8]) -> Option<usize> {
    let lead = bytes.iter().take_while(|b| **b == b' ').count();
    let quoted = starts_with_ci(&bytes[lead..], b"+CUSD:");
    let mut in_quote = false;
    for (i, &b) in bytes.iter().enumerate() {
        if quoted && b == b'"' {
            in_quote = !in_quote;
        } else if (b == b'\r' || b == b'\n') && !in_quote {
            return Some(i);
        }
    }
    None
}

fn line_text(line: &[u8]) -> String {
    let cleaned: Vec<u8> = line.iter().copied().filter(|b| *b != 0).collect();
    String::from_utf8_lossy(&cleaned).into_owned()
}

fn is_printable_text(text: &str) -> bool {
    text.chars()
        .any(|c| !c.is_control() && c != '\u{FFFD}' && !c.is_whitespace())
}

/// Classifies the front of `buf`. Pure: same input, same answer, whatever came before.
pub fn digest(buf: &[u8], ctx: &Context<'_>, max_line: usize) -> Step {
    let skip = buf.iter().take_while(|b| is_separator(**b)).count();
    let rest = &buf[skip..];
    if rest.is_empty() {
        return Step::need_more(skip);
    }
    if rest[0] == b'>' {
        let n = if rest.get(1) == Some(&b' ') { 2 } else { 1 };
        return Step::item(skip + n, Item::Prompt);
    }
    let Some(end) = line_end(rest) else {
        if rest.len() > max_line {
            let mut step = garbage(skip + rest.len(), rest, GarbageReason::TooLong);
            step.discard_until_eol = true;
            return step;
        }
        return Step::need_more(skip);
    };
    let line = &rest[..end];
    let consumed = skip + end + 1;
    if line.len() > max_line {
        return garbage(consumed, line, GarbageReason::TooLong);
    }
    let text = line_text(line);
    let trimmed = text.trim_matches(|c| c == ' ' || c == '\t');
    if trimmed.is_empty() {
        return Step::need_more(consumed);
    }

    // Our own command coming back (possibly in pieces).
    if !ctx.echo.is_empty() {
        let lead = line.iter().take_while(|b| **b == b' ').count();
        let piece = &line[lead..];
        if !piece.is_empty() && starts_with_ci(ctx.echo, piece) {
            return Step::item(consumed, Item::Echo { len: piece.len() });
        }
    }
    if !is_printable_text(trimmed) {
        return garbage(consumed, line, GarbageReason::Binary);
    }
    if let Some(f) = Final::parse(trimmed) {
        return Step::item(consumed, Item::Final(f));
    }
    if urc::is_urc(trimmed, ctx.info_name()) {
        if urc::is_two_line(trimmed) {
            return two_line_urc(buf, consumed, trimmed, max_line);
        }
        return Step::item(consumed, Item::Urc(urc::parse_urc(trimmed, None)));
    }
    if ctx.command.is_some() {
        Step::item(consumed, Item::Info(trimmed.to_string()))
    } else {
        Step::item(consumed, Item::Urc(Urc::Unknown(trimmed.to_string())))
    }
}

/// `+CMT`/`+CDS`: the header at `buf[..header_end]`, the PDU on the next line.
fn two_line_urc(buf: &[u8], header_end: usize, header: &str, max_line: usize) -> Step {
    let after = &buf[header_end..];
    let skip = after.iter().take_while(|b| is_separator(**b)).count();
    let next = &after[skip..];
    let alone = || Step::item(header_end, Item::Urc(urc::parse_urc(header, None)));
    if next.first() == Some(&b'>') {
        return alone();
    }
    match line_end(next) {
        None if next.len() > max_line => alone(),
        None => Step::need_more(0),
        Some(end) if end > max_line => alone(),
        Some(end) => {
            let second = line_text(&next[..end]);
            let parsed = urc::parse_urc(header, Some(second.trim()));
            if matches!(parsed, Urc::Unknown(_)) {
                // Not a PDU after all: the next line gets its own classification.
                alone()
            } else {
                Step::item(header_end + skip + end + 1, Item::Urc(parsed))
            }
        }
    }
}

/// The read buffer and the digest loop around it. Memory stays bounded: after
/// [`Digester::next`] returns `None`, at most about `2 * max_line` bytes are kept (an
/// incomplete `+CDS` header and PDU line); an over-long line is dropped as it arrives.
#[derive(Debug)]
pub struct Digester {
    buf: Vec<u8>,
    max_line: usize,
    discarding: bool,
}

impl Default for Digester {
    fn default() -> Self {
        Digester::new()
    }
}

impl Digester {
    pub fn new() -> Self {
        Digester::with_max_line(MAX_AT_LINE)
    }

    pub fn with_max_line(max_line: usize) -> Self {
        Digester {
            buf: Vec::new(),
            max_line: max_line.max(16),
            discarding: false,
        }
    }

    /// Appends bytes read from the modem. While an over-long line is being dropped, bytes up
    /// to its end are discarded here.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        if self.discarding {
            match bytes.iter().position(|b| *b == b'\r' || *b == b'\n') {
                Some(i) => {
                    self.discarding = false;
                    bytes = &bytes[i..];
                }
                None => return,
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next classified item, or `None` when more bytes are needed.
    pub fn next(&mut self, ctx: &Context<'_>) -> Option<Item> {
        loop {
            let step = digest(&self.buf, ctx, self.max_line);
            self.buf.drain(..step.consumed.min(self.buf.len()));
            if step.discard_until_eol {
                self.discarding = true;
            }
            if step.item.is_some() {
                return step.item;
            }
            if step.consumed == 0 {
                return None;
            }
        }
    }

    /// Bytes waiting for the rest of their line.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The waiting bytes, for diagnostics.
    pub fn pending_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Forgets everything buffered (after a re-sync).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.discarding = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at::codes::{CmeError, CmsError};
    use crate::at::parse::{RegStat, Storage, StoredAt};

    fn items(input: &[u8], ctx: Context<'_>) -> Vec<Item> {
        let mut d = Digester::new();
        d.feed(input);
        let mut out = Vec::new();
        while let Some(i) = d.next(&ctx) {
            out.push(i);
        }
        out
    }

    fn cmd(command: &str) -> Context<'_> {
        Context {
            command: Some(command),
            echo: b"",
        }
    }

    fn info(s: &str) -> Item {
        Item::Info(s.into())
    }

    #[test]
    fn table() {
        use Item::*;
        let ok = Final(crate::at::Final::Ok);
        let rows: Vec<(&[u8], Context<'_>, Vec<Item>)> = vec![
            (b"\r\nOK\r\n", cmd("AT"), vec![ok.clone()]),
            (b"OK\r", cmd("AT"), vec![ok.clone()]),
            (b"OK", cmd("AT"), vec![]),
            (
                b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n",
                cmd("AT+CSQ"),
                vec![info("+CSQ: 20,99"), ok.clone()],
            ),
            (
                b"\r\n+CMS ERROR: 500\r\n",
                cmd("AT+CMGS=17"),
                vec![Final(crate::at::Final::Cms(CmsError::Unknown))],
            ),
            (
                b"+CME ERROR: SIM failure\r\n",
                cmd("AT+CLCK=\"SC\",0"),
                vec![Final(crate::at::Final::Cme(CmeError::SimFailure))],
            ),
            (
                b"COMMAND NOT SUPPORT\r\n",
                cmd("AT+WIND?"),
                vec![Final(crate::at::Final::CommandNotSupported)],
            ),
            (b"\r\n> ", cmd("AT+CMGS=5"), vec![Prompt]),
            (b">", cmd("AT+CMGS=5"), vec![Prompt]),
            (
                b"\r\n+CMTI: \"SM\",3\r\n\r\n> ",
                cmd("AT+CMGS=5"),
                vec![
                    Urc(urc::Urc::NewMessage(StoredAt {
                        storage: Storage::Sm,
                        index: 3,
                    })),
                    Prompt,
                ],
            ),
            (
                b"\r\n+CREG: 0,1\r\n\r\nOK\r\n",
                cmd("AT+CREG?"),
                vec![info("+CREG: 0,1"), ok.clone()],
            ),
            (b"RING\r\n", Context::idle(), vec![Urc(urc::Urc::Ring)]),
            (b"\r\nOK\r\n", Context::idle(), vec![ok.clone()]),
            (
                b"late answer\r\n",
                Context::idle(),
                vec![Urc(urc::Urc::Unknown("late answer".into()))],
            ),
            (
                b" WAVECOM MODEM\r\n",
                cmd("AT+CGMI"),
                vec![info("WAVECOM MODEM")],
            ),
            (b"\x00\x00\r\nOK\r\n", cmd("AT"), vec![ok.clone()]),
            (b"   \r\nOK\r\n", cmd("AT"), vec![ok.clone()]),
        ];
        for (input, ctx, want) in rows {
            assert_eq!(
                items(input, ctx),
                want,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn echo_whole_and_split_by_urcs() {
        let ctx = Context {
            command: Some("AT+CGMI"),
            echo: b"AT+CGMI",
        };
        assert_eq!(
            items(b"AT+CGMI\r\r\nhuawei\r\n", ctx),
            vec![Item::Echo { len: 7 }, info("huawei")]
        );
        // Huawei E3372: the echo is cut by unsolicited codes.
        let mut d = Digester::new();
        d.feed(b"A\r\n^RSSI:20\r\n^HCSQ:\"LTE\",30,19,66,0\r\nT+CGMI\r\r\nhuawei\r\n\r\nOK\r\n");
        let mut echo: &[u8] = b"AT+CGMI";
        let mut got = Vec::new();
        while let Some(item) = d.next(&Context {
            command: Some("AT+CGMI"),
            echo,
        }) {
            if let Item::Echo { len } = item {
                echo = &echo[len..];
            }
            got.push(item);
        }
        assert_eq!(got.len(), 6);
        assert_eq!(got[0], Item::Echo { len: 1 });
        assert!(matches!(got[1], Item::Urc(urc::Urc::Rssi(20))));
        assert!(matches!(got[2], Item::Urc(urc::Urc::Hcsq(_))));
        assert_eq!(got[3], Item::Echo { len: 6 });
        assert_eq!(got[4], info("huawei"));
        assert!(echo.is_empty());
    }

    #[test]
    fn echo_of_pdu_after_prompt() {
        let ctx = Context {
            command: Some("AT+CMGS=17"),
            echo: b"AT+CMGS=17",
        };
        let mut d = Digester::new();
        d.feed(b"AT+CMGS=17\r\r\n> 0011\x1a\r\n+CMGS: 4\r\n\r\nOK\r\n");
        assert_eq!(d.next(&ctx), Some(Item::Echo { len: 10 }));
        assert_eq!(d.next(&ctx), Some(Item::Prompt));
        let body = Context {
            command: Some("AT+CMGS=17"),
            echo: b"0011\x1a",
        };
        assert_eq!(d.next(&body), Some(Item::Echo { len: 5 }));
        assert_eq!(d.next(&body), Some(info("+CMGS: 4")));
        assert_eq!(d.next(&body), Some(Item::Final(crate::at::Final::Ok)));
    }

    #[test]
    fn two_line_urcs_wait_for_their_pdu() {
        let ctx = cmd("AT+CMGS=17");
        let mut d = Digester::new();
        d.feed(b"\r\n+CDS: 6\r\n");
        assert_eq!(d.next(&ctx), None);
        d.feed(b"0791336600\r\n");
        assert_eq!(
            d.next(&ctx),
            Some(Item::Urc(urc::Urc::StatusReport {
                length: 6,
                pdu: "0791336600".into()
            }))
        );
        // header followed by something that is not a PDU: both lines stand alone
        let got = items(b"+CDS: 6\r\nOK\r\n", cmd("AT"));
        assert_eq!(got[0], Item::Urc(urc::Urc::Unknown("+CDS: 6".into())));
        assert_eq!(got[1], Item::Final(crate::at::Final::Ok));
    }

    #[test]
    fn multi_line_ussd_text() {
        let got = items(
            b"+CUSD: 1,\"a\r\nb\",15\r\nOK\r\n",
            cmd("AT+CUSD=1,\"*100#\",15"),
        );
        match &got[0] {
            Item::Urc(urc::Urc::Ussd(u)) => assert_eq!(u.text.as_deref(), Some("a\r\nb")),
            other => panic!("{other:?}"),
        }
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn registration_urc_during_other_command() {
        let got = items(b"+CREG: 1\r\n+CPMS: 0,50\r\nOK\r\n", cmd("AT+CPMS?"));
        match &got[0] {
            Item::Urc(urc::Urc::Registration(r)) => assert_eq!(r.stat, RegStat::Home),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_is_bounded_and_reported() {
        let mut d = Digester::with_max_line(64);
        d.feed(&[b'x'; 100]);
        match d.next(&cmd("AT")) {
            Some(Item::Garbage(g)) => assert_eq!(g.reason, GarbageReason::TooLong),
            other => panic!("{other:?}"),
        }
        assert_eq!(d.buffered(), 0);
        d.feed(&[b'y'; 1000]);
        assert_eq!(d.buffered(), 0);
        d.feed(b"yy\r\nOK\r\n");
        assert_eq!(d.next(&cmd("AT")), Some(Item::Final(crate::at::Final::Ok)));
        let got = items(b"\xff\xfe\x01\r\nOK\r\n", cmd("AT"));
        assert!(matches!(&got[0], Item::Garbage(g) if g.reason == GarbageReason::Binary));
    }

    #[test]
    fn info_names() {
        assert_eq!(info_name("AT+CREG?"), Some("+CREG"));
        assert_eq!(info_name("AT^SYSINFO"), Some("^SYSINFO"));
        assert_eq!(info_name("AT+CMGS=17"), Some("+CMGS"));
        assert_eq!(info_name("ATE0"), None);
        assert_eq!(info_name("AT"), None);
        assert_eq!(info_name("at+cpin?"), Some("+cpin"));
    }
}
