//! This daemon among the daemons ("hosts") sharing its database: joining at start (its own
//! leftovers recovered, and those of hosts that went silent), the heartbeat that renews its
//! lease every third of it (with its modems, so `status` and `modem list` on any host show
//! every host's), the recovery of hosts whose lease ran out, and what the other hosts
//! announce (PostgreSQL): a new broadcast or a delivery back in the queue is loaded into the
//! pool, a delivery another host took leaves it, and other hosts' outcomes move this host's
//! live counts. Nothing here polls the queue: the heartbeat's timer is the lease's.
//!
//! The rules (who may take what, what recovery does) are the store's ([`crate::store::hosts`]);
//! the fencing of a send after the lease ran out, the scheduler's ([`crate::scheduler::lease`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock;
use crate::domain::InFlightPolicy;
use crate::logging::Repeats;
use crate::scheduler::lease::Lease;
use crate::scheduler::progress::Transition;
use crate::store::hosts::{Announcement, Move};
use crate::store::postgres::PgTarget;
use crate::store::{BroadcastId, DeliveryId, DeliveryState, GroupId, StoreError, StoreHandle};

use super::Shared;

/// Who this daemon is among the hosts.
#[derive(Debug, Clone)]
pub struct HostSettings {
    pub name: String,
    pub lease: Duration,
    pub policy: InFlightPolicy,
}

/// Joins the hosts at start: this host is `up` (its lease renewed), deliveries its last run
/// left `sending` are recovered by the in-flight policy, and so are those of hosts whose lease
/// ran out.
pub async fn join(
    store: &StoreHandle,
    settings: &HostSettings,
    lease: Option<&Lease>,
) -> Result<(), StoreError> {
    let (length, policy) = (settings.lease, settings.policy);
    let sent = Instant::now();
    let recovered = store
        .call(move |s| {
            s.write(|tx| {
                tx.host_up(chrono_of(length), clock::now())?;
                tx.recover_on_start(policy, clock::now())
            })
        })
        .await?;
    if let Some(lease) = lease {
        lease.renewed(sent);
    }
    if recovered.requeued + recovered.uncertain > 0 {
        tracing::warn!(
            requeued = recovered.requeued,
            uncertain = recovered.uncertain,
            "recovered deliveries left in flight by the last run"
        );
    }
    recover_lost(store, None, policy).await?;
    Ok(())
}

/// Declares lost the hosts whose lease ran out and recovers their deliveries in flight (the
/// live counts follow when `shared` is given); true when some came back to the queue.
async fn recover_lost(
    store: &StoreHandle,
    shared: Option<&Shared>,
    policy: InFlightPolicy,
) -> Result<bool, StoreError> {
    let lost = store
        .call(move |s| s.recover_lost_hosts(policy, clock::now()))
        .await?;
    let mut requeued = false;
    for host in &lost {
        tracing::warn!(
            host = %host.name,
            last_heartbeat = %host.heartbeat_at.to_rfc3339(),
            requeued = host.recovery.requeued,
            uncertain = host.recovery.uncertain,
            "a host sharing the database went silent (its lease ran out): its deliveries in \
             flight are recovered here by in_flight_policy"
        );
        for m in &host.moves {
            requeued |= match shared {
                Some(shared) => moved_elsewhere(shared, m),
                None => m.to == DeliveryState::Queued,
            };
        }
    }
    Ok(requeued)
}

/// Starts the heartbeat on `lease_store` (on PostgreSQL a connection of its own, so that
/// neither this daemon's busy store nor a long write elsewhere delays it), the look-out for
/// silent hosts (and, on PostgreSQL, the hearing of the other hosts); all end when the daemon
/// shuts down.
pub fn spawn(
    shared: Arc<Shared>,
    settings: HostSettings,
    lease: Option<Lease>,
    lease_store: StoreHandle,
    listen: Option<PgTarget>,
    repeats: Arc<Repeats>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![
        tokio::spawn(heartbeat(
            shared.clone(),
            settings.clone(),
            lease,
            lease_store,
            repeats.clone(),
        )),
        tokio::spawn(look_out(shared.clone(), settings.clone(), repeats)),
    ];
    if let Some(target) = listen {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut shutdown = shared.shutdown_signal();
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                _ = crate::store::postgres::listen(target, tx) => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
        }));
        tasks.push(tokio::spawn(hear(shared, settings.name, rx)));
    }
    tasks
}

/// Renews the lease every third of it (with this host's modems), and counts the other
/// hosts' modems.
async fn heartbeat(
    shared: Arc<Shared>,
    settings: HostSettings,
    lease: Option<Lease>,
    lease_store: StoreHandle,
    repeats: Arc<Repeats>,
) {
    let mut shutdown = shared.shutdown_signal();
    count_peer_modems(&shared, &lease_store, &settings.name).await;
    let mut tick = every_third_of(settings.lease).await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let sent = Instant::now();
        let modems =
            serde_json::to_string(&shared.modem_list().await).unwrap_or_else(|_| "[]".into());
        let renewed = lease_store
            .call(move |s| s.renew_lease(&modems, clock::now()))
            .await;
        match renewed {
            Ok(true) => {
                if let Some(lease) = &lease {
                    lease.renewed(sent);
                }
            }
            Ok(false) => {
                if let Some(lease) = &lease {
                    lease.lost();
                }
                rejoin(&shared, &settings, lease.as_ref()).await;
            }
            Err(e) => {
                if let Some(repeated) = repeats.note("host heartbeat", Instant::now()) {
                    tracing::warn!(error = %e, "cannot renew this host's lease; if it runs out \
                        this host stops sending, and another host recovers what it was sending{repeated}");
                }
            }
        }
        count_peer_modems(&shared, &lease_store, &settings.name).await;
    }
}

/// A timer every third of `lease`, its first tick (at once) taken: joining renewed the lease
/// and looked for silent hosts just now.
async fn every_third_of(lease: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    tick
}

/// Every third of the lease, declares lost the hosts whose lease ran out and takes over
/// what they were sending (on the daemon's store: it takes the writers' lock).
async fn look_out(shared: Arc<Shared>, settings: HostSettings, repeats: Arc<Repeats>) {
    let mut shutdown = shared.shutdown_signal();
    let mut tick = every_third_of(settings.lease).await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        match recover_lost(&shared.store, Some(&shared), settings.policy).await {
            Ok(true) => reload(&shared, None).await,
            Ok(false) => {}
            Err(e) => {
                if let Some(repeated) = repeats.note("recover lost hosts", Instant::now()) {
                    tracing::warn!(error = %e, "cannot look for hosts that went silent{repeated}");
                }
            }
        }
    }
}

/// Counts the modems ready (or busy) on the other hosts that are up, from their heartbeats.
async fn count_peer_modems(shared: &Shared, store: &StoreHandle, me: &str) {
    let Ok((records, now)) = store.call(|s| s.hosts_as_of(clock::now())).await else {
        return;
    };
    // As `status` counts them: a host gone silent has none ready.
    let ready = super::host_view::view(me, Vec::new(), records, now)
        .hosts
        .iter()
        .filter(|h| !h.this_daemon)
        .map(|h| h.modems_ready)
        .sum();
    shared
        .peer_modems_ready
        .store(ready, std::sync::atomic::Ordering::Relaxed);
}

/// Another host declared this one lost (its heartbeat stopped for longer than the lease: the
/// daemon was paused, or cut off from the database) and recovered what it was sending. It
/// joins again and loads the queue as it now stands.
async fn rejoin(shared: &Arc<Shared>, settings: &HostSettings, lease: Option<&Lease>) {
    let by = shared
        .store
        .call(|s| s.hosts())
        .await
        .ok()
        .and_then(|hosts| hosts.into_iter().find(|h| h.name == settings.name))
        .and_then(|h| h.recovered_by);
    tracing::warn!(
        host = %settings.name,
        recovered_by = by.as_deref().unwrap_or("another host"),
        "this host was declared lost (its lease ran out while it was paused or cut off from \
         the database); what it was sending was recovered by another host: joining again"
    );
    let length = settings.lease;
    let sent = Instant::now();
    let joined = shared
        .store
        .call(move |s| s.host_up(chrono_of(length), clock::now()))
        .await;
    match joined {
        Ok(()) => {
            if let Some(lease) = lease {
                lease.renewed(sent);
            }
            reload(shared, None).await;
        }
        Err(e) => tracing::warn!(error = %e, "cannot join again; tried at the next heartbeat"),
    }
}

/// What the other hosts announce, as the listening connection hears it (`None`: it connected,
/// announcements may have been missed).
async fn hear(
    shared: Arc<Shared>,
    me: String,
    mut heard: tokio::sync::mpsc::UnboundedReceiver<Option<(String, Announcement)>>,
) {
    while let Some(said) = heard.recv().await {
        match said {
            None => reload(&shared, None).await,
            Some((host, _)) if host == me => {}
            Some((_, Announcement::Queued(b))) => reload(&shared, Some(BroadcastId(b))).await,
            Some((_, Announcement::Moved(m))) => {
                if moved_elsewhere(&shared, &m) {
                    reload(&shared, Some(BroadcastId(m.broadcast))).await;
                }
            }
        }
    }
}

/// Follows a delivery another host moved (or one this host recovered from a lost host): the
/// pool forgets it when it was taken, the live counts follow. True when it is back in the
/// queue (to be loaded).
fn moved_elsewhere(shared: &Shared, m: &Move) -> bool {
    let (broadcast, delivery) = (BroadcastId(m.broadcast), DeliveryId(m.delivery));
    if m.to == DeliveryState::Sending {
        shared.scheduler.forget(broadcast, delivery);
    }
    shared.board.moved_elsewhere(Transition {
        broadcast,
        delivery,
        number: &m.number,
        from: m.from,
        to: m.to,
        modem: m.modem.as_deref(),
        error: m.error.as_deref(),
    });
    m.to == DeliveryState::Queued
}

/// [`load_queued`], its failure logged (the next announcement or heartbeat tries again).
async fn reload(shared: &Arc<Shared>, only: Option<BroadcastId>) {
    if let Err(e) = load_queued(shared, only).await {
        tracing::warn!(error = %e, "cannot load the queued deliveries");
    }
}

/// Hands the queued deliveries (of broadcast `only`, or all) to the scheduler with their
/// group's pinning; the pool leaves out those it holds already. A broadcast not on the board
/// yet starts there with its counts from the store.
pub async fn load_queued(
    shared: &Arc<Shared>,
    only: Option<BroadcastId>,
) -> Result<(), StoreError> {
    let queued = shared
        .store
        .call(move |s| match only {
            None => s.load_queued(),
            Some(b) => s.queued_for_broadcast(b),
        })
        .await?;
    if queued.is_empty() {
        return Ok(());
    }
    let mut by_group: BTreeMap<Option<GroupId>, Vec<_>> = BTreeMap::new();
    let mut broadcasts = BTreeSet::new();
    for q in queued {
        broadcasts.insert(q.broadcast_id);
        by_group.entry(q.group_id).or_default().push(q);
    }
    for b in broadcasts {
        if !shared.board.tracks(b) {
            let (p, moved) = shared
                .store
                .call(move |s| {
                    s.read(|tx| {
                        Ok::<_, StoreError>((tx.broadcast_progress(b)?, tx.moved_deliveries(b)?))
                    })
                })
                .await?;
            shared.board.track_known(b, p, moved);
        }
    }
    for (group, list) in by_group {
        let g = match group {
            Some(id) => shared.store.call(move |s| s.group_by_id(id)).await?,
            None => None,
        };
        tracing::debug!(
            count = list.len(),
            "queued deliveries handed to the scheduler"
        );
        shared
            .scheduler
            .enqueue(crate::scheduler::pool::jobs(list, g.as_ref()));
    }
    Ok(())
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::seconds(30))
}
