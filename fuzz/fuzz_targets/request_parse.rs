//! Any bytes as a socket request line: parsed or refused with a clear error, never a panic.
#![no_main]

use groupsms::protocol;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match protocol::parse_request(data) {
        Ok(line) => {
            // What parses re-serializes and parses back to the same request.
            let text = serde_json::to_string(&line).expect("requests serialize");
            assert_eq!(protocol::parse_request(text.as_bytes()).expect("round trip"), line);
        }
        Err(e) => assert!(!e.message.is_empty()),
    }
});
