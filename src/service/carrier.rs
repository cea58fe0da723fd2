//! Signs of a carrier block that come by SMS: a carrier's service number telling the SIM it
//! is suspended or restricted. (The signs in a refusal, `+CMS ERROR` codes, are the AT layer's:
//! [`crate::at::codes::BlockSign`]; what the daemon does about either is the scheduler's.)

/// The carriers' service numbers whose notices can say a SIM is blocked: China Mobile 10086,
/// China Unicom 10010, China Telecom 10000 (and 10001, its SMS service number; field notes,
/// "China service senders").
pub const SERVICE_NUMBERS: [&str; 4] = ["10086", "10010", "10000", "10001"];

/// Phrases of a restriction notice (`[scheduler] block_notice_phrases` by default): suspended
/// (停机, 暂停, 封停), restricted (限制), spam (垃圾短信), a violation (违规).
pub const DEFAULT_BLOCK_PHRASES: [&str; 6] = ["停机", "暂停", "封停", "限制", "垃圾短信", "违规"];

/// Why a message from `from` saying `text` looks like a carrier's block notice, if it does:
/// it comes from a carrier's service number ([`SERVICE_NUMBERS`], also written `+86…`) and
/// contains one of `phrases`.
pub fn notice_sign(from: &str, text: &str, phrases: &[String]) -> Option<String> {
    let number = from.trim();
    let number = number.strip_prefix("+86").unwrap_or(number);
    if !SERVICE_NUMBERS.contains(&number) {
        return None;
    }
    let phrase = phrases.iter().find(|p| text.contains(p.as_str()))?;
    Some(format!("a notice from {number} says \"{phrase}\""))
}

/// The phrases checked: each non-empty once trimmed, at most 64 characters, at most 100.
pub fn check_phrases(phrases: &[String]) -> Result<(), String> {
    if phrases.len() > 100 {
        return Err(format!("{} phrases; at most 100", phrases.len()));
    }
    for p in phrases {
        if p.trim().is_empty() {
            return Err("an empty phrase would match every notice".into());
        }
        if p.chars().count() > 64 {
            return Err(format!("{p:?} is longer than 64 characters"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        DEFAULT_BLOCK_PHRASES
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn a_restriction_notice_from_a_service_number_is_a_sign() {
        let p = defaults();
        assert_eq!(
            notice_sign(
                "10086",
                "尊敬的客户，您的号码因涉嫌发送垃圾短信，短信功能已被暂停。",
                &p
            ),
            Some("a notice from 10086 says \"暂停\"".into())
        );
        assert!(notice_sign("+8610010", "您的号码已停机", &p).is_some());
        assert!(notice_sign("10000", "您的短信发送功能受到限制", &p).is_some());
    }

    #[test]
    fn other_senders_and_other_notices_are_not() {
        let p = defaults();
        // A member writing the same words is no carrier.
        assert_eq!(notice_sign("+8613800138000", "你的号码停机了吗", &p), None);
        // An A2P port is no carrier's service number.
        assert_eq!(notice_sign("1069012345", "已暂停", &p), None);
        // A balance or data notice from the carrier.
        assert_eq!(
            notice_sign("10086", "您本月已使用流量2GB，余额35元。", &p),
            None
        );
        assert_eq!(notice_sign("10086", "已暂停", &[]), None);
    }

    #[test]
    fn phrases_are_checked() {
        assert!(check_phrases(&defaults()).is_ok());
        assert!(check_phrases(&[" ".into()]).is_err());
        assert!(check_phrases(&["长".repeat(65)]).is_err());
    }
}
