//! Any octets, as a modem might hand them over: every decoder must answer Ok or a typed error,
//! never panic; a decoded PDU must survive formatting for the CLI.
#![no_main]

use groupsms::sms;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for has_smsc in [true, false] {
        for pdu in [sms::decode(data, has_smsc), sms::decode_lenient(data, has_smsc)].into_iter().flatten() {
            let _ = pdu.tpdu.number().to_string();
            if let Some(ud) = pdu.tpdu.user_data() {
                let _ = ud.concat();
                let _ = sms::join::join_text(&[ud]);
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sms::decode_hex(text, true);
    }
});
