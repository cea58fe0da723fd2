//! What `status` and `modem list` show of the daemons ("hosts") sharing the database: every
//! host with its state and last heartbeat, and every host's modems: this daemon's read live
//! from its pool, the others' as their last heartbeat wrote them ([`super::hosts`]), with
//! that heartbeat's age and their host's state, so a modem of a host that went silent or was
//! declared lost reads as stale rather than as ready.
//!
//! While this daemon is the only host that ever served the database (SQLite, or PostgreSQL
//! with one daemon) the answers stay as they were before there were hosts: no host on the
//! modems, no hosts list.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Shared;
use crate::clock;
use crate::protocol::{HostInfo, ModemEntry};
use crate::store::hosts::HostRecord;
use crate::store::StoreError;

/// The hosts and every host's modems, as `status` and `modem list` show them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostsView {
    /// Every host by name; empty while this daemon is the only one.
    pub hosts: Vec<HostInfo>,
    /// Every host's modems, by host name (this daemon's from `own`).
    pub modems: Vec<ModemEntry>,
}

/// Reads the hosts from the store and puts `own` (this daemon's modems, live) among them.
pub async fn gather(shared: &Arc<Shared>, own: Vec<ModemEntry>) -> Result<HostsView, StoreError> {
    // Heartbeats are aged by the clock the hosts judge leases by (the database server's on
    // PostgreSQL), so every host reads the same age whatever its own clock says.
    let (records, now) = shared.store.call(|s| s.hosts_as_of(clock::now())).await?;
    Ok(view(&shared.host, own, records, now))
}

/// [`gather`]'s rule, on what was read: `me` is this daemon's host name.
pub fn view(
    me: &str,
    own: Vec<ModemEntry>,
    records: Vec<HostRecord>,
    now: DateTime<Utc>,
) -> HostsView {
    if records.iter().all(|r| r.name == me) {
        return HostsView {
            hosts: Vec::new(),
            modems: own,
        };
    }
    let mut own = Some(own);
    let mut hosts = Vec::new();
    let mut modems = Vec::new();
    for r in records {
        let this = r.name == me;
        let age = (now - r.heartbeat_at).max(chrono::Duration::zero());
        let state = shown_state(&r, age);
        let mut listed: Vec<ModemEntry> = if this {
            own.take().unwrap_or_default()
        } else {
            // Written by a daemon of this version or another: what cannot be read is left
            // out rather than failing the whole answer.
            serde_json::from_str(&r.modems).unwrap_or_default()
        };
        for m in &mut listed {
            m.host = Some(r.name.clone());
            if !this {
                m.heartbeat_age_secs = Some(age.num_seconds().max(0) as u64);
                m.host_state = Some(state.to_string());
            }
        }
        let ready = if state == "up" {
            listed.iter().filter(|m| m.is_up()).count()
        } else {
            0
        };
        hosts.push(HostInfo {
            name: r.name.clone(),
            this_daemon: this,
            state: state.to_string(),
            heartbeat_at: r.heartbeat_at.to_rfc3339(),
            heartbeat_age_secs: age.num_seconds().max(0) as u64,
            lease_secs: (r.lease.num_milliseconds().max(0) as u64).div_ceil(1000),
            modems_ready: ready,
            modems_total: listed.len(),
            recovered_by: r.recovered_by.filter(|_| r.state == "lost"),
        });
        modems.extend(listed);
    }
    // This daemon's row missing (it has not joined yet): its modems are still its own.
    if let Some(rest) = own {
        modems.extend(rest.into_iter().map(|mut m| {
            m.host = Some(me.to_string());
            m
        }));
    }
    HostsView { hosts, modems }
}

/// A host's state as shown: its row's, but `silent` for an `up` host whose heartbeat is more
/// than half its lease old (it renews every third: it missed one, and is declared lost once
/// the whole lease has gone by).
fn shown_state(r: &HostRecord, age: chrono::Duration) -> &str {
    if r.state == "up" && age * 2 > r.lease {
        "silent"
    } else {
        &r.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn modem(device: &str, state: &str) -> ModemEntry {
        serde_json::from_value(serde_json::json!({
            "device": device, "state": state, "operator": null, "signal_dbm": null,
            "imsi": null, "model": null, "reports": null, "sent_this_hour": null,
            "sent_today": null, "max_per_hour": 200, "max_per_day": 1000, "sent": 0,
            "failed": 0, "problem": null,
        }))
        .unwrap()
    }

    fn record(
        name: &str,
        state: &str,
        heartbeat_at: DateTime<Utc>,
        modems: &[ModemEntry],
    ) -> HostRecord {
        HostRecord {
            name: name.into(),
            state: state.into(),
            started_at: heartbeat_at,
            heartbeat_at,
            lease: Duration::seconds(30),
            modems: serde_json::to_string(modems).unwrap(),
            recovered_by: (state == "lost").then(|| "a".to_string()),
        }
    }

    #[test]
    fn one_host_is_shown_as_before_there_were_hosts() {
        let now = Utc::now();
        let own = vec![modem("/dev/a0", "ready")];
        let v = view("a", own.clone(), vec![record("a", "up", now, &[])], now);
        assert_eq!(
            v,
            HostsView {
                hosts: vec![],
                modems: own
            }
        );
    }

    #[test]
    fn other_hosts_modems_come_from_their_heartbeat_and_go_stale_with_it() {
        let now = Utc::now();
        let own = vec![modem("/dev/a0", "ready")];
        let records = vec![
            record(
                "a",
                "up",
                now - Duration::seconds(3),
                &[modem("/dev/old", "ready")],
            ),
            record(
                "b",
                "up",
                now - Duration::seconds(5),
                &[modem("/dev/b0", "ready")],
            ),
            record(
                "c",
                "up",
                now - Duration::seconds(16),
                &[modem("/dev/c0", "ready")],
            ),
            record(
                "d",
                "lost",
                now - Duration::seconds(90),
                &[modem("/dev/d0", "busy")],
            ),
            record("e", "stopped", now - Duration::seconds(9), &[]),
        ];
        let v = view("a", own, records, now);
        let states: Vec<(&str, &str, bool, usize, usize)> = v
            .hosts
            .iter()
            .map(|h| {
                (
                    h.name.as_str(),
                    h.state.as_str(),
                    h.this_daemon,
                    h.modems_ready,
                    h.modems_total,
                )
            })
            .collect();
        assert_eq!(
            states,
            [
                ("a", "up", true, 1, 1),
                ("b", "up", false, 1, 1),
                ("c", "silent", false, 0, 1),
                ("d", "lost", false, 0, 1),
                ("e", "stopped", false, 0, 0),
            ]
        );
        assert_eq!(v.hosts[3].recovered_by.as_deref(), Some("a"));
        assert_eq!(v.hosts[3].heartbeat_age_secs, 90);
        let modems: Vec<_> = v
            .modems
            .iter()
            .map(|m| {
                (
                    m.host.as_deref(),
                    m.device.as_str(),
                    m.heartbeat_age_secs,
                    m.host_state.as_deref(),
                )
            })
            .collect();
        // This daemon's own modems are read live, not from its row.
        assert_eq!(
            modems,
            [
                (Some("a"), "/dev/a0", None, None),
                (Some("b"), "/dev/b0", Some(5), Some("up")),
                (Some("c"), "/dev/c0", Some(16), Some("silent")),
                (Some("d"), "/dev/d0", Some(90), Some("lost")),
            ]
        );
    }
}
