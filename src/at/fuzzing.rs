//! The body of the `fuzz/fuzz_targets/at_digester.rs` target, shared with the property test
//! `tests/at_props.rs` so both exercise exactly the same code: arbitrary bytes are cut into
//! reads, digested under changing contexts, and every line is thrown at every parser. It
//! checks the invariants itself (it panics when one breaks, which is what a fuzzer wants):
//! no parser panics, and the digester's buffer stays bounded.

use super::digest::{Context, Digester, Item};
use super::parse::{self, Charset};
use super::urc;

/// Small lines so a fuzzer reaches the over-long path quickly.
const FUZZ_MAX_LINE: usize = 256;

const COMMANDS: [Option<&str>; 6] = [
    None,
    Some("AT+CREG?"),
    Some("AT+CMGS=17"),
    Some("AT+CPIN?"),
    Some("AT+COPS=?"),
    Some("AT^SYSINFO"),
];

/// Runs every parser on `line`; returns how many accepted it.
pub fn parse_everything(line: &str) -> usize {
    let lines = [line];
    let results = [
        parse::parse_cmgs(line).is_ok(),
        parse::parse_csq(line).is_ok(),
        parse::parse_registration(line, true).is_ok(),
        parse::parse_registration(line, false).is_ok(),
        parse::parse_cops_read(line).is_ok(),
        parse::parse_cops_test(&lines, &Charset::Gsm).is_ok(),
        parse::parse_cops_test(&lines, &Charset::Ucs2).is_ok(),
        parse::parse_cpin(line).is_ok(),
        parse::parse_csca(line).is_ok(),
        parse::parse_cmgl(&lines).is_ok(),
        parse::parse_cmgr(&lines).is_ok(),
        parse::parse_cpms_test(line).is_ok(),
        parse::parse_cpms_read(line).is_ok(),
        parse::parse_cpms_set(line).is_ok(),
        parse::parse_imei(line).is_ok(),
        parse::parse_imsi(line).is_ok(),
        parse::parse_cnum(line).is_ok(),
        parse::parse_identity(&lines).is_ok(),
        parse::parse_model_lines(&lines).is_ok(),
        parse::parse_cmti(line).is_ok(),
        parse::parse_cds(line, line).is_ok(),
        parse::parse_cmt(line, line).is_ok(),
        parse::parse_cnmi_test(line).is_ok(),
        parse::parse_cusd(line, &Charset::Ira).is_ok(),
        parse::parse_cusd(line, &Charset::Ucs2).is_ok(),
        parse::parse_clip(line).is_ok(),
        parse::parse_hcsq(line).is_ok(),
        parse::parse_time(line).is_ok(),
        parse::parse_cclk(line).is_ok(),
        super::codes::Final::parse(line).is_some(),
    ];
    let _ = urc::parse_urc(line, Some(line));
    let _ = Charset::Gsm.decode(line);
    results.iter().filter(|ok| **ok).count()
}

/// Digests `data`: the first byte picks the read size, the rest is the stream. Returns the
/// number of items produced.
pub fn digest_and_parse(data: &[u8]) -> usize {
    let Some((&first, stream)) = data.split_first() else {
        return 0;
    };
    let chunk = usize::from(first % 64) + 1;
    let mut d = Digester::with_max_line(FUZZ_MAX_LINE);
    let mut count = 0;
    let mut echo: &[u8] = b"AT+CMGS=17";
    for (n, piece) in stream.chunks(chunk).enumerate() {
        d.feed(piece);
        let command = COMMANDS[n % COMMANDS.len()];
        while let Some(item) = d.next(&Context { command, echo }) {
            count += 1;
            match item {
                Item::Echo { len } => {
                    assert!(len <= echo.len(), "echo longer than expected");
                    echo = &echo[len..];
                }
                Item::Info(line) => {
                    parse_everything(&line);
                }
                Item::Urc(urc::Urc::Unknown(line)) => {
                    parse_everything(&line);
                }
                _ => {}
            }
        }
        assert!(
            d.buffered() <= 2 * FUZZ_MAX_LINE + 2,
            "digester keeps {} bytes",
            d.buffered()
        );
    }
    // Also every raw line, as parsers see lines cut anywhere.
    for line in String::from_utf8_lossy(stream).split(['\r', '\n']) {
        parse_everything(line);
    }
    count
}
