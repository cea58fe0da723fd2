//! Any octets handed over as an incoming message (`+CMGR`, `+CMGL`, `+CMT`), with or without
//! the SMSC field: the inbox's decoding, originator rules, SCTS text and joining must answer
//! or refuse, never panic. (Storing them: `tests/inbox_ingest.rs`, property
//! `any_bytes_are_kept_never_lost`.)
#![no_main]

use groupsms::service::inbox::{assemble, body_hash, classify_originator, decode_pdu, scts_text};
use groupsms::service::Country;
use groupsms::sms::{hex, Tpdu};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pdu = hex::encode(data);
    for length in [None, Some(data.len()), Some(data.len().saturating_sub(1))] {
        if let Ok(Tpdu::Deliver(d)) = decode_pdu(&pdu, length) {
            let _ = classify_originator(&d.originator, Country::china());
            let _ = scts_text(&d.scts);
            let _ = body_hash(&d.user_data);
            let seq = d.user_data.concat().map_or(1, |c| u32::from(c.seq));
            let total = d.user_data.concat().map_or(1, |c| u32::from(c.parts));
            let _ = assemble(&[(seq, d.user_data)], total);
        }
    }
});
