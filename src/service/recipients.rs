//! Recipients: the members of a group minus those who opted out of it, invalid members and
//! members with SMS disabled, with each number once.

use std::collections::HashSet;

use crate::protocol::LEFT_OUT_NAMED;
use crate::store::{Dropped, MemberId, Recipient, RecipientRow};

/// Who receives a broadcast, and who was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub recipients: Vec<Recipient>,
    pub dropped: Dropped,
    /// The first members left out for each reason (at most [`LEFT_OUT_NAMED`] each), in
    /// member order: what a preview names. `dropped` counts them all.
    pub left_out: LeftOut<MemberId>,
}

/// Members left out, by reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut<T> {
    pub opted_out: Vec<T>,
    pub invalid: Vec<T>,
    pub sms_disabled: Vec<T>,
    pub duplicate: Vec<T>,
}

impl<T> Default for LeftOut<T> {
    fn default() -> Self {
        LeftOut {
            opted_out: Vec::new(),
            invalid: Vec::new(),
            sms_disabled: Vec::new(),
            duplicate: Vec::new(),
        }
    }
}

impl<T> LeftOut<T> {
    /// Each member turned into `f`'s answer, or `f`'s first error; `None`s are left out (a
    /// member removed meanwhile).
    pub fn try_map<U, E>(
        &self,
        mut f: impl FnMut(&T) -> Result<Option<U>, E>,
    ) -> Result<LeftOut<U>, E> {
        let mut each = |l: &[T]| -> Result<Vec<U>, E> {
            let mut out = Vec::with_capacity(l.len());
            for t in l {
                out.extend(f(t)?);
            }
            Ok(out)
        };
        Ok(LeftOut {
            opted_out: each(&self.opted_out)?,
            invalid: each(&self.invalid)?,
            sms_disabled: each(&self.sms_disabled)?,
            duplicate: each(&self.duplicate)?,
        })
    }
}

fn note(list: &mut Vec<MemberId>, id: MemberId) {
    if list.len() < LEFT_OUT_NAMED {
        list.push(id);
    }
}

/// Applies the rules to a group's rows (in member order). A member counts once, under the
/// first reason that applies: opted out, invalid, SMS disabled; a number already taken by an
/// earlier member counts as a duplicate.
pub fn resolve(rows: Vec<RecipientRow>) -> Resolved {
    let mut out = Resolved {
        recipients: Vec::with_capacity(rows.len()),
        dropped: Dropped::default(),
        left_out: LeftOut::default(),
    };
    let mut seen: HashSet<String> = HashSet::with_capacity(rows.len());
    for row in rows {
        let (d, l, id) = (&mut out.dropped, &mut out.left_out, row.member_id);
        if row.opted_out {
            d.opted_out += 1;
            note(&mut l.opted_out, id);
        } else if !row.valid {
            d.invalid += 1;
            note(&mut l.invalid, id);
        } else if !row.sms_enabled {
            d.sms_disabled += 1;
            note(&mut l.sms_disabled, id);
        } else if !seen.insert(row.phone.clone()) {
            d.duplicate += 1;
            note(&mut l.duplicate, id);
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
        let named = |l: &[MemberId]| l.iter().map(|m| m.0).collect::<Vec<_>>();
        assert_eq!(named(&r.left_out.opted_out), [2, 3]);
        assert_eq!(named(&r.left_out.invalid), [4]);
        assert_eq!(named(&r.left_out.sms_disabled), [5]);
        assert_eq!(named(&r.left_out.duplicate), [6]);
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

    #[test]
    fn names_at_most_the_first_of_each_reason() {
        let rows = (1..=3 * LEFT_OUT_NAMED as i64)
            .map(|i| row(i, &format!("+86138{i:08}"), true, true, true))
            .collect();
        let r = resolve(rows);
        assert_eq!(r.dropped.opted_out as usize, 3 * LEFT_OUT_NAMED);
        let ids: Vec<i64> = r.left_out.opted_out.iter().map(|m| m.0).collect();
        assert_eq!(ids, (1..=LEFT_OUT_NAMED as i64).collect::<Vec<_>>());
    }
}
