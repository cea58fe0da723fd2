//! Recipients: the members of a group minus those who opted out of it, invalid members and
//! members with SMS disabled, with each number once.

use std::collections::HashSet;

use crate::store::{Dropped, Recipient, RecipientRow};

/// Who receives a broadcast, and who was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub recipients: Vec<Recipient>,
    pub dropped: Dropped,
}

/// Applies the rules to a group's rows (in member order). A member counts once, under the
/// first reason that applies: opted out, invalid, SMS disabled; a number already taken by an
/// earlier member counts as a duplicate.
pub fn resolve(rows: Vec<RecipientRow>) -> Resolved {
    let mut out = Resolved {
        recipients: Vec::with_capacity(rows.len()),
        dropped: Dropped::default(),
    };
    let mut seen: HashSet<String> = HashSet::with_capacity(rows.len());
    for row in rows {
        let d = &mut out.dropped;
        if row.opted_out {
            d.opted_out += 1;
        } else if !row.valid {
            d.invalid += 1;
        } else if !row.sms_enabled {
            d.sms_disabled += 1;
        } else if !seen.insert(row.phone.clone()) {
            d.duplicate += 1;
        } else {
            out.recipients.push(Recipient {
                member_id: row.member_id,
                number: row.phone,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemberId;

    fn row(id: i64, phone: &str, valid: bool, sms: bool, out: bool) -> RecipientRow {
        RecipientRow {
            member_id: MemberId(id),
            phone: phone.into(),
            valid,
            sms_enabled: sms,
            opted_out: out,
        }
    }

    #[test]
    fn drops_by_first_reason_and_keeps_first_of_each_number() {
        let r = resolve(vec![
            row(1, "+8613800000001", true, true, false),
            row(2, "+8613800000002", true, true, true),
            row(3, "+8613800000003", false, false, true),
            row(4, "+8613800000004", false, false, false),
            row(5, "+8613800000005", true, false, false),
            row(6, "+8613800000001", true, true, false),
            row(7, "+8613800000007", true, true, false),
            row(8, "+8613800000002", true, true, false),
        ]);
        let ids: Vec<i64> = r.recipients.iter().map(|r| r.member_id.0).collect();
        assert_eq!(ids, [1, 7, 8], "8 shares 2's number but 2 opted out");
        assert_eq!(
            r.dropped,
            Dropped {
                opted_out: 2,
                invalid: 1,
                sms_disabled: 1,
                duplicate: 1
            }
        );
    }
}
