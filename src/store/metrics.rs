//! The totals `/metrics` reads from the database at each scrape ([`Tx::metric_totals`]), in
//! one read transaction: deliveries in each state, the oldest queued delivery, incoming
//! messages by handling, opted-out memberships, unmatched status reports, the hosts sharing
//! the database by state, and how long
//! finished broadcasts took from acceptance to their last delivery's end, counted into
//! histogram buckets by SQLite so no broadcast row leaves the store.
//!
//! Each is one aggregate query: deliveries by state scan the `deliveries_by_broadcast` index
//! in its order (it holds the state, so no table row is read: about 15 ms for 100 000
//! deliveries, `cargo bench --bench metrics`); the oldest queued delivery reads the
//! partial `deliveries_queued` index's rows (the live queue, small); the others scan tables
//! that grow with messages received and broadcasts sent, not with recipients.

use chrono::{DateTime, Utc};

use super::db::params;
use super::{opt_from_ms, DeliveryState, Handling, StoreError, Tx};

/// Upper bounds (seconds) of the broadcast time-to-last-part histogram's buckets: a few
/// seconds for a handful of recipients on several SIMs, to a day for a large group behind
/// per-SIM caps.
pub const FINISH_BUCKETS_SECS: [u32; 12] = [
    5, 15, 30, 60, 120, 300, 600, 1_800, 3_600, 7_200, 21_600, 86_400,
];

/// What [`Tx::metric_totals`] counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricTotals {
    /// Deliveries in each state, every state of [`DeliveryState::ALL`] in that order.
    pub deliveries: Vec<(DeliveryState, u64)>,
    /// When the oldest delivery still queued was accepted (its broadcast's time).
    pub oldest_queued: Option<DateTime<Utc>>,
    /// Complete incoming messages by handling, every one of [`Handling::ALL`] in that order.
    pub inbound: Vec<(Handling, u64)>,
    /// Memberships whose member opted out of the group.
    pub opted_out: u64,
    /// Status reports that matched no part sent.
    pub unmatched_reports: u64,
    /// Finished group broadcasts (not cancelled) by time from acceptance to the end of their
    /// last delivery.
    pub finish: FinishHistogram,
    /// The daemons ("hosts") that ever served this database, by state: `up`, `stopped`,
    /// `lost`, in that order.
    pub hosts: Vec<(&'static str, u64)>,
}

/// A host's states, in the order [`MetricTotals::hosts`] lists them.
pub const HOST_STATES: [&str; 3] = ["up", "stopped", "lost"];

/// Finished broadcasts' times to their last part: cumulative bucket counts for
/// [`FINISH_BUCKETS_SECS`], the count and the sum.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FinishHistogram {
    /// `buckets[i]`: broadcasts that took at most `FINISH_BUCKETS_SECS[i]` seconds.
    pub buckets: Vec<u64>,
    pub count: u64,
    pub sum_secs: f64,
}

impl Tx<'_> {
    /// The totals `/metrics` shows, from one consistent snapshot.
    pub fn metric_totals(&self) -> Result<MetricTotals, StoreError> {
        // Grouped in the index's own order (broadcast, state), then summed here: grouping by
        // state alone makes SQLite sort every entry in a temporary B-tree, 3 times slower.
        let mut by_state = self.conn.prepare_cached(
            "SELECT state, count(*) FROM deliveries GROUP BY broadcast_id, state",
        )?;
        let mut deliveries: Vec<(DeliveryState, u64)> =
            DeliveryState::ALL.iter().map(|s| (*s, 0)).collect();
        let mut rows = by_state.query(params![])?;
        while let Some(r) = rows.next()? {
            let (state, n): (DeliveryState, u64) = (r.get(0)?, r.get(1)?);
            if let Some(slot) = deliveries.iter_mut().find(|(s, _)| *s == state) {
                slot.1 += n;
            }
        }
        let oldest: Option<i64> = self
            .conn
            .prepare_cached("SELECT min(created_at) FROM deliveries WHERE state = 'queued'")?
            .query_row(params![], |r| r.get(0))?;
        let mut by_handling = self.conn.prepare_cached(
            "SELECT handling, count(*) FROM inbox_messages WHERE complete = 1 GROUP BY handling",
        )?;
        let handled = by_handling
            .query_map(params![], |r| Ok((r.get::<Handling>(0)?, r.get::<u64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let inbound = Handling::ALL
            .iter()
            .map(|h| {
                let n = handled.iter().find(|(c, _)| c == h).map_or(0, |(_, n)| *n);
                (*h, n)
            })
            .collect();
        let opted_out = self
            .conn
            .prepare_cached("SELECT count(*) FROM memberships WHERE opted_out = 1")?
            .query_row(params![], |r| r.get(0))?;
        let unmatched_reports = self
            .conn
            .prepare_cached("SELECT count(*) FROM unmatched_reports")?
            .query_row(params![], |r| r.get(0))?;
        let by_host_state = self
            .conn
            .prepare_cached("SELECT state, count(*) FROM hosts GROUP BY state")?
            .query_map(params![], |r| Ok((r.get::<String>(0)?, r.get::<u64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let hosts = HOST_STATES
            .iter()
            .map(|st| {
                let n = by_host_state
                    .iter()
                    .find(|(s, _)| s == st)
                    .map_or(0, |(_, n)| *n);
                (*st, n)
            })
            .collect();
        Ok(MetricTotals {
            hosts,
            deliveries,
            oldest_queued: opt_from_ms(oldest),
            inbound,
            opted_out,
            unmatched_reports,
            finish: self.finish_histogram()?,
        })
    }

    /// One pass over the finished group broadcasts that were not cancelled, counting each
    /// bucket with a sum of `ms <= bound`.
    fn finish_histogram(&self) -> Result<FinishHistogram, StoreError> {
        let buckets: String = FINISH_BUCKETS_SECS
            .iter()
            .map(|s| {
                format!(
                    ", CAST(coalesce(sum(CASE WHEN ms <= {} THEN 1 ELSE 0 END), 0) AS BIGINT)",
                    u64::from(*s) * 1000
                )
            })
            .collect();
        let sql = format!(
            "SELECT count(*), CAST(coalesce(sum(ms), 0) AS DOUBLE PRECISION){buckets} \
             FROM (SELECT finished_at - created_at AS ms \
             FROM broadcasts WHERE state = 'finished' AND kind = 'group' \
             AND cancelled_at IS NULL AND finished_at IS NOT NULL) AS finished"
        );
        Ok(self.conn.prepare_cached(&sql)?.query_row(params![], |r| {
            let buckets = (0..FINISH_BUCKETS_SECS.len())
                .map(|i| r.get::<u64>(i + 2))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(FinishHistogram {
                count: r.get(0)?,
                sum_secs: r.get::<f64>(1)? / 1000.0,
                buckets,
            })
        })?)
    }
}
