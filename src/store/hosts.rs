//! The daemons ("hosts") serving one database, and what they tell each other.
//!
//! Each daemon keeps a row in `hosts`: `up` from its start, renewed by a heartbeat every third
//! of its lease (with its modems as `modem list` shows them), `stopped` at a clean stop. A host
//! whose heartbeat is older than its lease is declared `lost` by another, which applies
//! `in_flight_policy` to the deliveries the lost host left `sending`, as a restart would
//! ([`Tx::recover_lost_hosts`]). A lost host cannot claim deliveries until it has joined again
//! ([`Tx::host_up`]): [`Tx::mark_sending`] checks it in the same statement. And a try's outcome
//! is recorded only by the host that made it (`Tx::transition`).
//!
//! On PostgreSQL the hosts also wake each other: a commit that makes deliveries ready to send
//! or takes one announces it with `NOTIFY` (`Tx::announce`), and each daemon listens on its
//! own connection ([`super::postgres::listen`]). On SQLite (one daemon) nothing is announced.
//!
//! The times that decide whether a lease ran out are the database server's on PostgreSQL (so
//! hosts whose clocks disagree still agree on that), the daemon's on SQLite (one host).

use chrono::{DateTime, Duration, Utc};

use super::db::{params, Dialect};
use super::{from_ms, ms, Backend, DeliveryState, InFlightPolicy, Recovery, Store, StoreError, Tx};

/// Longest host name, in bytes.
pub const MAX_HOST_NAME: usize = 64;

/// The database server's clock in ms (PostgreSQL), the one leases are judged by.
const PG_NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// The `NOTIFY` channel of the hosts' announcements.
pub const CHANNEL: &str = "groupsms";

/// One daemon as the database knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRecord {
    pub name: String,
    /// `up`, `stopped` or `lost`.
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub lease: Duration,
    /// Its modems at its last heartbeat (JSON, as the daemon wrote them).
    pub modems: String,
    /// The host that declared it lost and recovered its deliveries.
    pub recovered_by: Option<String>,
}

/// A host another one declared lost, and what became of the deliveries it was sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostHost {
    pub name: String,
    /// Its heartbeat before it went silent.
    pub heartbeat_at: DateTime<Utc>,
    pub recovery: Recovery,
    /// Each delivery recovered, from `sending` to where the policy put it.
    pub moves: Vec<Move>,
}

/// What a host announces to the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// A new broadcast (or notice) whose deliveries are ready to send.
    Queued(i64),
    /// A delivery changed state on the announcing host: taken (`sending`: the others forget
    /// it), an outcome (their live counts follow), back in the queue (any host may take it).
    Moved(Move),
}

/// One delivery's change of state, as announced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Move {
    pub delivery: i64,
    pub broadcast: i64,
    pub from: DeliveryState,
    pub to: DeliveryState,
    pub number: String,
    pub modem: Option<String>,
    pub error: Option<String>,
}

impl Announcement {
    /// The payload: `<host> q <broadcast>` or `<host> m <move as JSON>`.
    fn payload(&self, host: &str) -> String {
        match self {
            Announcement::Queued(b) => format!("{host} q {b}"),
            Announcement::Moved(m) => {
                format!("{host} m {}", serde_json::to_string(m).unwrap_or_default())
            }
        }
    }

    /// Reads a payload: the announcing host and what it said; `None` for anything else (a
    /// stranger's `NOTIFY` on the channel is ignored).
    pub fn parse(payload: &str) -> Option<(String, Announcement)> {
        let mut words = payload.splitn(3, ' ');
        let host = words.next().filter(|h| !h.is_empty())?.to_string();
        let what = match (words.next()?, words.next()) {
            ("q", Some(b)) => Announcement::Queued(b.parse().ok()?),
            ("m", Some(json)) => Announcement::Moved(serde_json::from_str(json).ok()?),
            _ => return None,
        };
        Some((host, what))
    }
}

/// Checks a host name: 1 to 64 bytes of letters, digits, `.`, `-`, `_`.
pub fn check_host_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_HOST_NAME {
        return Err(format!("a host name has 1 to {MAX_HOST_NAME} characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(format!(
            "'{c}' cannot be in a host name (letters, digits, '.', '-', '_')"
        ));
    }
    Ok(())
}

impl Store {
    /// [`Tx::host_heartbeat`] as one statement of its own, outside the writers' lock on
    /// PostgreSQL: a long write on any host (a large import) holds that lock, and must not
    /// make a live host miss its heartbeats and look silent to the others. (It changes this
    /// host's row only; [`Tx::recover_lost_hosts`] checks the lease again as it declares a
    /// host lost.) On SQLite, one host: an ordinary write.
    pub fn renew_lease(&mut self, modems: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let Some(name) = self.host.clone() else {
            return Err(StoreError::Empty {
                what: "the host name (Store::set_host)",
            });
        };
        match &self.backend {
            Backend::Lite(_) => self.write(|tx| tx.host_heartbeat(modems, now)),
            Backend::Pg(pg) => {
                pg.revive()?;
                let n = self.backend.conn().execute(
                    &format!(
                        "UPDATE hosts SET heartbeat_at = {PG_NOW_MS}, modems = ? \
                         WHERE name = ? AND state = 'up'"
                    ),
                    params![modems, name],
                )?;
                Ok(n == 1)
            }
        }
    }
}

impl Tx<'_> {
    /// This host (the store's [`super::Store::set_host`]) is up from `now`, with a lease of
    /// `lease`: a start, or joining again after it was declared lost.
    pub fn host_up(&self, lease: Duration, now: DateTime<Utc>) -> Result<(), StoreError> {
        let name = self.host_name()?;
        self.conn
            .prepare_cached(
                "INSERT INTO hosts (name, state, started_at, heartbeat_at, lease_ms, modems) \
                 VALUES (?1, 'up', ?2, ?2, ?3, '[]') \
                 ON CONFLICT (name) DO UPDATE SET state = 'up', started_at = ?2, \
                 heartbeat_at = ?2, lease_ms = ?3, modems = '[]', recovered_by = NULL",
            )?
            .execute(params![
                name,
                self.lease_clock(now)?,
                lease.num_milliseconds().max(1)
            ])?;
        Ok(())
    }

    /// Renews this host's lease, with its modems (JSON); `false` when another host declared it
    /// lost meanwhile (it must join again before it sends). See also
    /// [`Store::renew_lease`](super::Store::renew_lease).
    pub fn host_heartbeat(&self, modems: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let name = self.host_name()?;
        let n = self
            .conn
            .prepare_cached(
                "UPDATE hosts SET heartbeat_at = ?, modems = ? WHERE name = ? AND state = 'up'",
            )?
            .execute(params![self.lease_clock(now)?, modems, name])?;
        Ok(n == 1)
    }

    /// This host stopped cleanly (nothing of it is left `sending`, or its next start recovers
    /// it).
    pub fn host_stopped(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let name = self.host_name()?;
        self.conn
            .prepare_cached(
                "UPDATE hosts SET state = 'stopped', heartbeat_at = ?, modems = '[]' \
                 WHERE name = ? AND state = 'up'",
            )?
            .execute(params![self.lease_clock(now)?, name])?;
        Ok(())
    }

    /// Declares lost every other host whose lease ran out by `now`, and applies `policy` to
    /// the deliveries each left `sending`, as its restart would. Also recovers what a host
    /// that is no longer up (stopped, lost) still has `sending`.
    pub fn recover_lost_hosts(
        &self,
        policy: InFlightPolicy,
        now: DateTime<Utc>,
    ) -> Result<Vec<LostHost>, StoreError> {
        let me = self.host_name()?;
        let clock = self.lease_clock(now)?;
        let silent: Vec<(String, String, i64)> = self
            .conn
            .prepare_cached(
                "SELECT name, state, heartbeat_at FROM hosts WHERE name <> ?1 AND ( \
                 (state = 'up' AND heartbeat_at + lease_ms < ?2) OR (state <> 'up' AND \
                 EXISTS (SELECT 1 FROM deliveries d WHERE d.state = 'sending' \
                 AND d.host = hosts.name))) ORDER BY name",
            )?
            .query_map(params![me, clock], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (name, state, heartbeat) in silent {
            // Heartbeats do not take the writers' lock (a long write elsewhere must not make
            // a live host look silent), so one may have landed since the read above: the
            // lease is checked again as the row is changed.
            if state == "up"
                && self
                    .conn
                    .prepare_cached(
                        "UPDATE hosts SET state = 'lost', recovered_by = ? \
                         WHERE name = ? AND state = 'up' AND heartbeat_at + lease_ms < ?",
                    )?
                    .execute(params![me, name, clock])?
                    == 0
            {
                continue;
            }
            let why = match policy {
                InFlightPolicy::Resend => format!(
                    "host {name} went silent while sending this (its lease ran out); queued \
                     again by {me}, it may arrive twice"
                ),
                InFlightPolicy::Uncertain => format!(
                    "host {name} went silent while sending this (its lease ran out); it may or \
                     may not have been sent"
                ),
            };
            let (recovery, moves) = self.recover_sending(policy, Some(&name), false, &why, now)?;
            out.push(LostHost {
                name,
                heartbeat_at: from_ms(heartbeat),
                recovery,
                moves,
            });
        }
        Ok(out)
    }

    /// Every host that ever served this database, by name.
    pub fn hosts(&self) -> Result<Vec<HostRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT name, state, started_at, heartbeat_at, lease_ms, modems, recovered_by \
             FROM hosts ORDER BY name",
        )?;
        let rows = st.query_map(params![], |r| {
            Ok(HostRecord {
                name: r.get(0)?,
                state: r.get(1)?,
                started_at: from_ms(r.get(2)?),
                heartbeat_at: from_ms(r.get(3)?),
                lease: Duration::milliseconds(r.get(4)?),
                modems: r.get(5)?,
                recovered_by: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether this transaction's changes are announced to other hosts (PostgreSQL, with a
    /// host name set).
    pub(super) fn announcing(&self) -> bool {
        self.conn.dialect() == Dialect::Postgres && self.host.is_some()
    }

    /// Tells the other hosts `what`, when this transaction commits (see
    /// [`announcing`](Self::announcing)); nothing otherwise.
    pub(super) fn announce(&self, what: Announcement) -> Result<(), StoreError> {
        let (Dialect::Postgres, Some(host)) = (self.conn.dialect(), self.host) else {
            return Ok(());
        };
        self.conn
            .prepare_cached("SELECT pg_notify(?, ?)")?
            .query_row(params![CHANNEL, what.payload(host)], |_| Ok(()))?;
        Ok(())
    }

    /// Every host (as [`hosts`](Self::hosts)), and the time their heartbeats are judged by
    /// at this moment (see `lease_clock`; `now` on SQLite): how old each heartbeat is, as the
    /// hosts judge it, whatever this host's clock says.
    pub fn hosts_as_of(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Vec<HostRecord>, DateTime<Utc>), StoreError> {
        Ok((self.hosts()?, from_ms(self.lease_clock(now)?)))
    }

    /// The time leases are judged by, in ms: the server's clock on PostgreSQL (one clock for
    /// every host), `now` on SQLite.
    fn lease_clock(&self, now: DateTime<Utc>) -> Result<i64, StoreError> {
        match self.conn.dialect() {
            Dialect::Sqlite => Ok(ms(now)),
            Dialect::Postgres => Ok(self
                .conn
                .prepare_cached(&format!("SELECT {PG_NOW_MS}"))?
                .query_row(params![], |r| r.get(0))?),
        }
    }

    fn host_name(&self) -> Result<&str, StoreError> {
        self.host.ok_or(StoreError::Empty {
            what: "the host name (Store::set_host)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_read_back_and_strangers_are_ignored() {
        let moved = Move {
            delivery: 12,
            broadcast: 7,
            from: DeliveryState::Sending,
            to: DeliveryState::Failed,
            number: "+8613800000000".into(),
            modem: Some("/dev/ttyUSB0".into()),
            error: Some("CMS ERROR 38: network out of order".into()),
        };
        for a in [Announcement::Queued(7), Announcement::Moved(moved)] {
            assert_eq!(
                Announcement::parse(&a.payload("site-a")),
                Some(("site-a".to_string(), a))
            );
        }
        for junk in [
            "", " q 1", "a q", "a q x", "a m {}", "a m", "a r 1", "a z 1", "a q 1 2", "a r",
        ] {
            assert_eq!(Announcement::parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn delivery_states_are_announced_by_their_store_names() {
        for st in DeliveryState::ALL {
            assert_eq!(
                serde_json::to_string(&st).unwrap(),
                format!("\"{}\"", st.as_str())
            );
        }
    }

    #[test]
    fn host_names_are_short_and_plain() {
        assert!(check_host_name("site-a.example_1").is_ok());
        assert!(check_host_name("").is_err());
        assert!(check_host_name(&"a".repeat(65)).is_err());
        assert!(check_host_name("a b").is_err());
        assert!(check_host_name("a q 1").is_err());
    }
}
