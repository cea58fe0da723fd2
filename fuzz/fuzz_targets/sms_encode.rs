//! Any text: encoding never panics, and what it produces decodes back to the text.
#![no_main]

use groupsms::sms::{self, Address, SubmitOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let mut opts = SubmitOptions::to(Address::parse("+8613800138000").unwrap());
    opts.max_parts = 255;
    let Ok(pdus) = sms::encode_submit(text, &opts) else { return };
    let decoded: Vec<sms::UserData> = pdus
        .iter()
        .map(|p| match sms::decode(&p.bytes, true).expect("our own PDU decodes").tpdu {
            sms::Tpdu::Submit(s) => s.user_data,
            other => panic!("not a submit: {other:?}"),
        })
        .collect();
    let refs: Vec<&sms::UserData> = decoded.iter().collect();
    assert_eq!(sms::join::join_text(&refs).unwrap(), text);
});
