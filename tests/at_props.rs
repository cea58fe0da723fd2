//! Property tests of the AT layer: the fuzz target's body on random input, bounded memory on
//! huge lines, and framing independent of read boundaries.

use groupsms::at::fuzzing::{digest_and_parse, parse_everything};
use groupsms::at::{Context, Digester, Item, MAX_AT_LINE};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        digest_and_parse(&data);
    }

    #[test]
    fn random_text_never_panics_any_parser(line in "\\PC{0,300}") {
        parse_everything(&line);
    }

    #[test]
    fn at_like_text_never_panics(
        lines in proptest::collection::vec(
            "(\\+C[A-Z]{2,5}|\\^[A-Z]{3,6}|OK|ERROR|RDY|> ?)(: ?)?[0-9,\"A-F() -]{0,40}",
            0..20,
        ),
        seps in proptest::collection::vec("(\r\n|\r|\n|\r\r\n|)", 20),
        first in any::<u8>(),
    ) {
        let mut data = vec![first];
        for (l, s) in lines.iter().zip(seps.iter()) {
            data.extend_from_slice(l.as_bytes());
            data.extend_from_slice(s.as_bytes());
        }
        digest_and_parse(&data);
    }

    #[test]
    fn framing_does_not_depend_on_read_sizes(
        lines in proptest::collection::vec(prop_oneof![
            Just("OK".to_string()),
            Just("ERROR".to_string()),
            Just("+CMS ERROR: 500".to_string()),
            Just("+CMTI: \"SM\",3".to_string()),
            Just("^RSSI:17".to_string()),
            Just("RING".to_string()),
            Just("+CREG: 1,\"00A1\",\"1B2C\",7".to_string()),
            Just("+CDS: 6\r\n0791336600".to_string()),
            "[a-z0-9 ]{1,30}",
            "\\+CSQ: [0-9]{1,2},99",
        ], 0..30),
        cuts in proptest::collection::vec(1usize..50, 1..100),
    ) {
        let mut stream = Vec::new();
        for l in &lines {
            stream.extend_from_slice(b"\r\n");
            stream.extend_from_slice(l.as_bytes());
            stream.extend_from_slice(b"\r\n");
        }
        let ctx = Context { command: Some("AT+CSQ"), echo: b"" };
        let mut whole = Digester::new();
        whole.feed(&stream);
        let mut want = Vec::new();
        while let Some(i) = whole.next(&ctx) { want.push(i); }

        let mut cut = Digester::new();
        let mut got = Vec::new();
        let mut rest = &stream[..];
        let mut k = 0;
        while !rest.is_empty() {
            let n = cuts[k % cuts.len()].min(rest.len());
            cut.feed(&rest[..n]);
            rest = &rest[n..];
            k += 1;
            while let Some(i) = cut.next(&ctx) { got.push(i); }
        }
        prop_assert_eq!(got, want);
    }
}

#[test]
fn huge_lines_are_dropped_without_growing_the_buffer() {
    let mut d = Digester::new();
    let ctx = Context {
        command: Some("AT"),
        echo: b"",
    };
    let mut garbage = 0;
    let block = vec![b'7'; 1000];
    for _ in 0..1000 {
        d.feed(&block);
        while let Some(item) = d.next(&ctx) {
            assert!(matches!(item, Item::Garbage(_)));
            garbage += 1;
        }
        assert!(d.buffered() <= MAX_AT_LINE + block.len());
    }
    d.feed(b"\r\nOK\r\n");
    assert_eq!(d.next(&ctx), Some(Item::Final(groupsms::at::Final::Ok)));
    assert_eq!(garbage, 1, "one megabyte line reported once");
    // Over-long lines inside a URC's two-line form are dropped too.
    d.feed(b"+CDS: 6\r\n");
    d.feed(&vec![b'A'; 3 * MAX_AT_LINE]);
    while d.next(&ctx).is_some() {}
    assert!(d.buffered() <= 2 * MAX_AT_LINE + 2);
}
