//! Arbitrary bytes through the AT digester and every response parser: no panic, bounded
//! buffer. The same body runs as a property test in `tests/at_props.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    groupsms::at::fuzzing::digest_and_parse(data);
});
