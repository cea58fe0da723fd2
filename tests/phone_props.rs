//! Property tests of phone numbers (`service::phone`, what `member add`, `member import` and
//! the inbox read): any valid subscriber number of any country libphonenumber knows, written
//! the way the crate formats it (E.164, international, the country's national form), reads
//! back to the same E.164; and any string at all gets an answer, never a panic.

use groupsms::service::phone::{normalize, Country};
use phonenumber::metadata::{Metadata, DATABASE};
use phonenumber::{Mode, PhoneNumber};
use proptest::prelude::*;
use std::sync::LazyLock;

type Region = (Country, &'static Metadata, Vec<&'static str>);

/// Every region of the metadata that can be a default country, with its example mobile and
/// fixed-line numbers.
static REGIONS: LazyLock<Vec<Region>> = LazyLock::new(|| {
    DATABASE
        .iter()
        .filter_map(|m| {
            let country = Country::from_iso(m.id()).ok()?;
            let d = m.descriptors();
            let examples: Vec<&str> = [d.mobile(), d.fixed_line()]
                .into_iter()
                .flatten()
                .filter_map(|d| d.example())
                .collect();
            (!examples.is_empty()).then_some((country, m, examples))
        })
        .collect()
});

/// Whether the crate holds `number` valid and a subscriber's line (what `normalize` accepts).
fn subscriber(number: &PhoneNumber) -> bool {
    let national = number.national().to_string();
    number.is_valid()
        && number.metadata(&DATABASE).is_some_and(|m| {
            let d = m.descriptors();
            [d.mobile(), d.fixed_line(), d.personal_number(), d.voip()]
                .into_iter()
                .flatten()
                .any(|d| d.is_match(&national))
        })
}

#[test]
fn most_regions_are_known() {
    // libphonenumber's 240-odd regions; the hand-written table had 34 countries.
    let n = REGIONS.len();
    assert!(n > 230, "{n}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn formatted_numbers_read_back_to_their_e164(
        region in any::<prop::sample::Index>(),
        example in any::<prop::sample::Index>(),
        other in any::<prop::sample::Index>(),
        tail in "[0-9]{0,4}",
    ) {
        let all = &*REGIONS;
        let (country, _, examples) = &all[region.index(all.len())];
        let base = examples[example.index(examples.len())];
        // The example with its last digits changed: another number of the same range, if the
        // crate holds it valid; else the example itself.
        let varied = format!("{}{tail}", &base[..base.len() - tail.len().min(base.len())]);
        let parse = |digits: &str| phonenumber::parse(country.iso().parse().ok(), digits).ok();
        let number = parse(&varied)
            .filter(subscriber)
            .or_else(|| parse(base).filter(subscriber));
        prop_assume!(number.is_some());
        let number = number.unwrap();
        let e164 = number.format().mode(Mode::E164).to_string();
        let (abroad, _, _) = &all[other.index(all.len())];
        for (form, default) in [
            (e164.clone(), *country),
            (e164.clone(), *abroad),
            (number.format().mode(Mode::International).to_string(), *country),
            (number.format().mode(Mode::International).to_string(), *abroad),
            (number.format().mode(Mode::National).to_string(), *country),
        ] {
            prop_assert_eq!(
                normalize(&form, default),
                Ok(e164.clone()),
                "{} read with default {}",
                form,
                default
            );
        }
    }

    #[test]
    fn any_text_gets_an_answer(
        input in prop_oneof!["\\PC{0,40}", "[+＋]?[0-9０-９ ()./-]{0,24}"],
        region in any::<prop::sample::Index>()) {
        let all = &*REGIONS;
        let (country, _, _) = &all[region.index(all.len())];
        if let Ok(e164) = normalize(&input, *country) {
            // What is accepted is E.164 and reads back to itself from anywhere.
            prop_assert!(e164.starts_with('+') && e164[1..].bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(e164.len() <= 16, "{}", e164);
            prop_assert_eq!(normalize(&e164, Country::china()), Ok(e164.clone()));
        }
    }
}
