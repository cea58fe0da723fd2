//! Property tests of the SMS codec: any text survives encode -> decode -> join, part counts
//! are minimal, and no part ends inside an escape sequence or a surrogate pair.

use groupsms::sms::{self, segment, Address, Encoding, SubmitOptions, Tpdu};
use proptest::prelude::*;

fn options(reference: u8) -> SubmitOptions {
    let mut o = SubmitOptions::to(Address::parse("+8613800138000").unwrap());
    o.concat_ref = reference;
    o.max_parts = segment::MAX_PARTS_LIMIT;
    o
}

/// Characters that stress the codec: GSM basic, GSM extension, Latin outside GSM, CJK,
/// full-width punctuation, emoji (surrogate pairs), and any Unicode scalar.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡AZÄÖÑÜ§¿azäöñüà".chars().collect::<Vec<_>>()),
        2 => prop::sample::select("^{}\\[~]|€\u{0c}".chars().collect::<Vec<_>>()),
        1 => prop::sample::select("šđ`ĐŁ\u{a0}\t".chars().collect::<Vec<_>>()),
        3 => prop::char::range('\u{4e00}', '\u{9fff}'),
        1 => prop::sample::select("【】，。！？".chars().collect::<Vec<_>>()),
        2 => prop::char::range('\u{1F600}', '\u{1F64F}'),
        1 => any::<char>(),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(interesting_char(), 0..max).prop_map(|v| v.into_iter().collect()),
        // Mostly-GSM texts, so the GSM 7-bit multipart path is exercised often.
        prop::collection::vec(
            prop::sample::select("abc XYZ 019 .,€[]{}^".chars().collect::<Vec<_>>()),
            0..max
        )
        .prop_map(|v| v.into_iter().collect()),
    ]
}

fn round_trip(text: &str, reference: u8) -> (Vec<sms::SubmitPdu>, Vec<sms::UserData>) {
    let pdus = sms::encode_submit(text, &options(reference)).unwrap();
    let uds: Vec<sms::UserData> = pdus
        .iter()
        .map(|p| {
            assert_eq!(p.tpdu().len(), p.tpdu_len);
            assert!(p.tpdu_len <= 164, "a TPDU fits 164 octets");
            let decoded = sms::decode(&p.bytes, true).unwrap();
            let Tpdu::Submit(s) = decoded.tpdu else {
                panic!("not a submit")
            };
            assert_eq!(s.destination.to_string(), "+8613800138000");
            s.user_data
        })
        .collect();
    (pdus, uds)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_text_round_trips(text in text(700), reference in any::<u8>()) {
        let (pdus, uds) = round_trip(&text, reference);
        let info = sms::analyze(&text);
        prop_assert_eq!(pdus.len(), info.parts);
        prop_assert_eq!(info.encoding, segment::choose_encoding(&text));
        // Reassembled in any order.
        let mut refs: Vec<&sms::UserData> = uds.iter().collect();
        refs.reverse();
        prop_assert_eq!(sms::join::join_text(&refs).unwrap(), text.clone());
        // Each part decodes on its own to a piece of the text: no escape sequence and no
        // surrogate pair was cut.
        let mut pieces = String::new();
        for ud in &uds {
            if ud.encoding == Encoding::Ucs2 {
                prop_assert!(String::from_utf16(&ud.utf16).is_ok(), "lone surrogate in a part");
            }
            pieces.push_str(&ud.text);
            if pdus.len() > 1 {
                let c = ud.concat().unwrap();
                prop_assert_eq!(c.reference, reference as u16);
                prop_assert_eq!(c.parts as usize, pdus.len());
            }
        }
        prop_assert_eq!(pieces, text);
    }

    #[test]
    fn part_counts_are_minimal(text in text(700)) {
        let info = sms::analyze(&text);
        let cost = |c: char| match info.encoding {
            Encoding::Ucs2 => c.len_utf16(),
            _ => sms::gsm7::encode_char(c).unwrap().cost(),
        };
        let total: usize = text.chars().map(cost).sum();
        prop_assert_eq!(info.units, total);
        let single = if info.encoding == Encoding::Ucs2 { 70 } else { 160 };
        if total <= single {
            prop_assert_eq!(info.parts, 1);
            prop_assert_eq!(info.remaining, single - total);
        } else {
            // Greedy filling in text order is optimal; check every part is full, i.e. the
            // next character would not have fitted.
            let per = info.per_part;
            let (_, uds) = round_trip(&text, 0);
            let mut chars = text.chars();
            for (i, ud) in uds.iter().enumerate() {
                let n = ud.text.chars().count();
                let used: usize = chars.by_ref().take(n).map(cost).sum();
                prop_assert!(used <= per);
                if i + 1 < uds.len() {
                    let next = uds[i + 1].text.chars().next().unwrap();
                    prop_assert!(used + cost(next) > per, "part {} has room for the next character", i + 1);
                } else {
                    prop_assert_eq!(info.remaining, per - used);
                }
            }
            prop_assert!(info.parts >= total.div_ceil(per));
        }
    }
}

#[test]
fn stated_boundaries() {
    let parts = |t: &str| sms::analyze(t).parts;
    assert_eq!(parts(&"a".repeat(160)), 1);
    assert_eq!(parts(&"a".repeat(161)), 2);
    assert_eq!(parts(&"a".repeat(306)), 2);
    assert_eq!(parts(&"a".repeat(307)), 3);
    assert_eq!(parts(&"中".repeat(70)), 1);
    assert_eq!(parts(&"中".repeat(71)), 2);
    assert_eq!(parts(&"中".repeat(134)), 2);
    assert_eq!(parts(&"中".repeat(135)), 3);
    // An extension character costs two septets.
    assert_eq!(sms::analyze("€").units, 2);
    assert_eq!(parts(&format!("{}€", "a".repeat(158))), 1);
    assert_eq!(parts(&format!("{}€", "a".repeat(159))), 2);
    // An emoji costs two UTF-16 units.
    assert_eq!(sms::analyze("😀").units, 2);
    assert_eq!(parts(&format!("{}😀", "中".repeat(68))), 1);
    assert_eq!(parts(&format!("{}😀", "中".repeat(69))), 2);
    // A 【group】 header of n Chinese characters costs n + 2 units.
    let header = "【运维组】";
    assert_eq!(sms::analyze(header).units, 5);
    assert_eq!(parts(&format!("{header}{}", "好".repeat(65))), 1);
    assert_eq!(parts(&format!("{header}{}", "好".repeat(66))), 2);
    // A header alone turns an otherwise GSM text into UCS-2.
    let info = sms::analyze(&format!("{header}Meeting at 9"));
    assert_eq!(
        (info.encoding, info.units, info.remaining),
        (Encoding::Ucs2, 17, 53)
    );
}

#[test]
fn emoji_at_a_part_boundary_moves_whole() {
    // 66 units then an emoji: the emoji would straddle units 67/68 of part one.
    let text = format!("{}😀{}", "中".repeat(66), "中".repeat(5));
    let (_, uds) = round_trip(&text, 9);
    assert_eq!(uds[0].utf16.len(), 66);
    assert_eq!(uds[1].text, format!("😀{}", "中".repeat(5)));
}
