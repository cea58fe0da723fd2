//! Status reports (SMS-STATUS-REPORT, TS 23.040 9.2.2.3) matched to the parts they are about,
//! and what they do to deliveries. Everything is decided here; the modem actor only hands over
//! the PDU (and deletes a stored report once it is committed), the store only keeps the rows.
//!
//! # Matching
//!
//! A report names its TP-MR (0..=255, per SIM, wrapping) and the recipient (TP-RA). A report
//! applies to a part sent
//!
//! - through the same SIM (IMSI), with the same TP-MR, within [`ReportSettings::window`]
//!   before the report came (the validity period bounds how late a report can be; the default,
//!   7 days, is well beyond the usual 24 h),
//! - to the same number: TP-RA is read with the project's phone rules
//!   ([`super::phone::normalize`]), so `13800138000`, `8613800138000` and `+8613800138000`
//!   are one number (gammu#63: national vs international form). A report whose recipient
//!   differs is never applied, even when its TP-MR matches;
//! - of the remaining parts, one still waiting for a final status first; of several, the one
//!   sent closest to the report's TP-SCTS (the time the SMSC took it), else the newest.
//!
//! The parts come from the store, not from memory, so a report hours late or after a restart
//! matches all the same. A report that matches nothing is kept, with why, and counted.
//!
//! # Outcomes (TP-ST, 23.040 9.2.3.15)
//!
//! - 0x00..=0x1F (transaction completed): the part is delivered; the delivery is `delivered`
//!   once every part is.
//! - 0x40..=0x5F (permanent error) and 0x60..=0x7F (temporary error, SC gave up): the delivery
//!   is `undelivered`, its reason the status in words.
//! - 0x20..=0x3F (temporary, SC still trying): recorded on the part, nothing final.
//! - A final status of a part is never replaced by a temporary one (reports come out of order:
//!   "still trying" can arrive after "received").

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};

use super::phone::{normalize, Country};
use crate::sms::decode::{status_class, status_text, StatusClass};
use crate::sms::{Address, StatusReport, Timestamp, Tpdu, TypeOfNumber};
use crate::store::{
    BroadcastId, DeliveryId, DeliveryState, DeliveryUpdate, NewUnmatchedReport, PartCandidate,
    StoreError, Tx,
};

/// How reports are matched.
#[derive(Debug, Clone, Copy)]
pub struct ReportSettings {
    /// Country of recipients the network presents without a country code.
    pub country: Country,
    /// How far back a report may reach.
    pub window: Duration,
}

/// Default [`ReportSettings::window`]: a week (relative validity periods go up to 63 weeks,
/// but SMSCs cap them at a few days; a report later than this is kept as unmatched).
pub const DEFAULT_WINDOW_DAYS: i64 = 7;

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            country: Country::china(),
            window: Duration::days(DEFAULT_WINDOW_DAYS),
        }
    }
}

/// A status report as a modem handed it over (`+CDS`, or `+CMGR` after `+CDSI`): a PDU like
/// an incoming message's, with the SIM and device it came through.
pub type IncomingReport<'a> = super::inbox::IncomingPdu<'a>;

/// What a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// It is about this part; `update` is the delivery's change of state, if any.
    Applied {
        delivery: DeliveryId,
        broadcast: BroadcastId,
        number: String,
        modem: Option<String>,
        /// 0-based.
        part: u32,
        status: u8,
        /// The delivery's state before the report.
        before: DeliveryState,
        update: Option<DeliveryUpdate>,
        /// The reason written on an `undelivered` delivery.
        reason: Option<String>,
    },
    /// It matched no part; kept in the unmatched reports with this reason.
    Unmatched { reason: String },
}

/// What a TP-ST value means for a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartFate {
    Delivered,
    /// The network gave up: final.
    Failed,
    /// The SMSC is still trying.
    Pending,
}

impl PartFate {
    pub fn of(status: u8) -> PartFate {
        match status_class(status) {
            StatusClass::Completed => PartFate::Delivered,
            StatusClass::TemporaryStillTrying => PartFate::Pending,
            StatusClass::PermanentError | StatusClass::TemporaryGaveUp => PartFate::Failed,
        }
    }

    pub fn is_final(self) -> bool {
        self != PartFate::Pending
    }
}

/// TP-ST in words with its value: `SM validity period expired (TP-ST 0x46)`.
pub fn status_reason(status: u8) -> String {
    format!("{} (TP-ST 0x{status:02X})", status_text(status))
}

/// Decodes a report PDU; with or without the SMSC address in front.
pub fn decode_report(pdu: &str, length: Option<usize>) -> Result<StatusReport, String> {
    let bytes = crate::sms::hex::decode(pdu.trim()).map_err(|e| e.to_string())?;
    // The announced length counts TPDU octets only: equal to the whole PDU, no SMSC field.
    let order: [bool; 2] = if length == Some(bytes.len()) {
        [false, true]
    } else {
        [true, false]
    };
    let mut first_error = None;
    for has_smsc in order {
        match crate::sms::decode_lenient(&bytes, has_smsc) {
            Ok(p) => match p.tpdu {
                Tpdu::StatusReport(r) => return Ok(r),
                other => first_error
                    .get_or_insert(format!("a {} PDU, not a status report", other.kind())),
            },
            Err(e) => first_error.get_or_insert(e.to_string()),
        };
    }
    Err(first_error.unwrap_or_default())
}

/// The numbers a report's TP-RA may stand for, in E.164.
fn recipient_forms(ra: &Address, country: Country) -> Vec<String> {
    let digits: String = ra.value.chars().filter(char::is_ascii_digit).collect();
    let mut out = Vec::new();
    let shown = if ra.ton == TypeOfNumber::International {
        format!("+{digits}")
    } else {
        digits.clone()
    };
    if let Ok(n) = normalize(&shown, country) {
        out.push(n);
    }
    // TON unknown but written with the country code ("8613800138000").
    if let Ok(n) = normalize(&format!("+{digits}"), country) {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

fn timestamp_utc(t: &Timestamp) -> Option<DateTime<Utc>> {
    let offset = FixedOffset::east_opt(i32::from(t.tz_quarters) * 15 * 60)?;
    let naive = NaiveDate::from_ymd_opt(i32::from(t.year), t.month.into(), t.day.into())?
        .and_hms_opt(t.hour.into(), t.minute.into(), t.second.into())?;
    Some(
        naive
            .and_local_timezone(offset)
            .single()?
            .with_timezone(&Utc),
    )
}

/// The part a report is about, among those sent with its SIM and TP-MR (newest first).
fn pick<'c>(
    candidates: &'c [PartCandidate],
    forms: &[String],
    scts: Option<DateTime<Utc>>,
) -> Result<&'c PartCandidate, String> {
    let same_number: Vec<&PartCandidate> = candidates
        .iter()
        .filter(|c| forms.contains(&c.number))
        .collect();
    if same_number.is_empty() {
        return Err(format!(
            "the reference was last used for {}, not for this recipient",
            candidates[0].number
        ));
    }
    let open: Vec<&PartCandidate> = same_number
        .iter()
        .copied()
        .filter(|c| !c.status.is_some_and(|s| PartFate::of(s).is_final()))
        .collect();
    let pool = if open.is_empty() { same_number } else { open };
    let best = match scts {
        Some(t) => pool
            .iter()
            .copied()
            .min_by_key(|c| (c.sent_at - t).num_milliseconds().unsigned_abs()),
        None => pool.first().copied(),
    };
    best.ok_or_else(|| "no part left".to_string())
}

/// Applies one report inside `tx`: matched to its part (the part's status recorded, the
/// delivery's state changed when the report settles it) or kept as unmatched.
pub fn apply_report(
    tx: &Tx<'_>,
    settings: &ReportSettings,
    report: IncomingReport<'_>,
    now: DateTime<Utc>,
) -> Result<ReportOutcome, StoreError> {
    let unmatched = |mr, recipient, status, reason: String| -> Result<ReportOutcome, StoreError> {
        tx.insert_unmatched_report(
            &NewUnmatchedReport {
                sim: report.sim.to_string(),
                device: report.device.to_string(),
                mr,
                recipient,
                status,
                reason: reason.clone(),
                pdu: report.pdu.to_string(),
            },
            now,
        )?;
        Ok(ReportOutcome::Unmatched { reason })
    };
    let sr = match decode_report(report.pdu, report.length) {
        Ok(sr) => sr,
        Err(e) => return unmatched(None, None, None, format!("unreadable report: {e}")),
    };
    let (mr, status) = (sr.message_ref, sr.status);
    let shown = sr.recipient.to_string();
    let forms = recipient_forms(&sr.recipient, settings.country);
    let candidates = tx.report_candidates(report.sim, mr, now - settings.window)?;
    if candidates.is_empty() {
        return unmatched(
            Some(mr),
            Some(shown),
            Some(status),
            format!(
                "no part was sent through this SIM with reference {mr} in the last {} days",
                settings.window.num_days()
            ),
        );
    }
    let part = match pick(&candidates, &forms, timestamp_utc(&sr.scts)) {
        Ok(p) => p.clone(),
        Err(reason) => return unmatched(Some(mr), Some(shown), Some(status), reason),
    };
    let fate = PartFate::of(status);
    let keep_old = part
        .status
        .is_some_and(|old| PartFate::of(old).is_final() && !fate.is_final());
    if !keep_old {
        tx.set_part_status(part.delivery, part.part, status, now)?;
    }
    let mut update = None;
    let mut reason = None;
    if matches!(part.state, DeliveryState::Sent | DeliveryState::Uncertain) {
        let statuses = tx.part_statuses(part.delivery)?;
        let fates: Vec<Option<PartFate>> = statuses.iter().map(|s| s.map(PartFate::of)).collect();
        let failed = statuses
            .iter()
            .enumerate()
            .find(|(_, s)| s.is_some_and(|s| PartFate::of(s) == PartFate::Failed));
        if let Some((i, Some(s))) = failed {
            let text = if statuses.len() > 1 {
                format!(
                    "part {} of {}: {}",
                    i + 1,
                    statuses.len(),
                    status_reason(*s)
                )
            } else {
                status_reason(*s)
            };
            update = Some(tx.mark_undelivered(part.delivery, &text, now)?);
            reason = Some(text);
        } else if !fates.is_empty() && fates.iter().all(|f| *f == Some(PartFate::Delivered)) {
            update = Some(tx.mark_delivered(part.delivery, now)?);
        }
    }
    Ok(ReportOutcome::Applied {
        delivery: part.delivery,
        broadcast: part.broadcast,
        number: part.number,
        modem: part.modem,
        part: part.part,
        status,
        before: part.state,
        update,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fates_follow_the_status_classes() {
        assert_eq!(PartFate::of(0x00), PartFate::Delivered);
        assert_eq!(PartFate::of(0x02), PartFate::Delivered);
        assert_eq!(PartFate::of(0x21), PartFate::Pending);
        assert_eq!(PartFate::of(0x30), PartFate::Pending);
        assert_eq!(PartFate::of(0x41), PartFate::Failed);
        assert_eq!(PartFate::of(0x46), PartFate::Failed);
        assert_eq!(PartFate::of(0x62), PartFate::Failed);
        assert_eq!(
            status_reason(0x45),
            "no interworking available (TP-ST 0x45)"
        );
    }

    #[test]
    fn national_and_international_forms_are_one_number() {
        let cn = Country::china();
        for text in ["+8613800138000", "13800138000", "8613800138000"] {
            let a = Address::parse(text).unwrap();
            assert!(
                recipient_forms(&a, cn).contains(&"+8613800138000".to_string()),
                "{text}"
            );
        }
        let other = Address::parse("13900000001").unwrap();
        assert!(!recipient_forms(&other, cn).contains(&"+8613800138000".to_string()));
    }

    #[test]
    fn the_real_report_of_the_corpus_decodes_both_ways() {
        // python-gsmmodem#44: "+CDS: 25" then this PDU (SMSC field included).
        let pdu = "079119890400202306400C91197909913764511090718384225110907183252200";
        let r = decode_report(pdu, Some(25)).unwrap();
        assert_eq!((r.message_ref, r.status), (0x40, 0));
        let r = decode_report(&pdu[16..], Some(25)).unwrap();
        assert_eq!(r.message_ref, 0x40);
        assert!(decode_report("zz", None).is_err());
        assert!(decode_report("", None).is_err());
        // A deliver is not a report.
        assert!(decode_report(
            "0791448720003023240DD0E474D81C0EBB010000111011315214000BE474D81C0EBB5DE3771B",
            None
        )
        .is_err());
    }
}
