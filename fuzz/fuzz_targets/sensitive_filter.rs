//! Any word list and any text through the sensitive-word filter: building either works or
//! names the bad word, and matching, rejecting and masking never panic. The input is the list
//! (one word per line), a NUL, then the text.
#![no_main]

use groupsms::service::{SensitiveFilter, SensitivePolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let (list, text) = input.split_once('\0').unwrap_or((input, ""));
    let words = SensitiveFilter::parse_list(list)
        .into_iter()
        .map(|(_, w)| w);
    let Ok(filter) = SensitiveFilter::new(words) else {
        return;
    };
    let found = filter.find(text);
    // Left to right; two matches inside one original character (`½` holds `1` and `2`) share
    // its range.
    let mut at = 0;
    for m in &found {
        assert!(m.start >= at && m.start < m.end && m.end <= text.len());
        assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
        at = m.start;
    }
    match filter.apply(text, SensitivePolicy::Reject) {
        Ok((same, words)) => assert!(found.is_empty() && same == text && words.is_empty()),
        Err(e) => assert!(!found.is_empty() && !e.words.is_empty()),
    }
    let (masked, words) = filter
        .apply(text, SensitivePolicy::Mask)
        .expect("mask never refuses");
    assert_eq!(words.is_empty(), found.is_empty());
    if found.is_empty() {
        assert_eq!(masked, text);
    }
});
