//! The pool's bookkeeping, as plain data and pure functions of the time passed in: which
//! deliveries wait, which modems are idle, what each SIM may still send, and which delivery
//! goes to which modem next. The async dispatcher around it owns one `Pool`.
//!
//! Rules:
//! - Fairness: broadcasts take turns (round robin), so a 10 000-member broadcast does not hold
//!   up a 5-member one.
//! - A delivery is all parts of one message to one number, given to one modem.
//! - Per-SIM caps (parts per local hour and local day): a capped SIM gets no work until its
//!   window rolls over; it is skipped, never waited on.
//! - Retries avoid the modems that failed them, unless none other can take the job; then a
//!   modem that failed it takes it again only after its back-off (`Job::back_after`, see
//!   [`super::policy`]). A retry that may go out at once goes to the front of its broadcast's
//!   queue: the next idle modem it may use takes it.
//! - Pinning: a group pinned to modems (IMSI or device) uses only them, or any modem when none
//!   of them is up and the group allows fallback.
//! - Quiet hours: inside the configured daily window no job starts unless its broadcast was
//!   sent urgent; the rest waits (in its place) until the window ends.
//! - Why a broadcast waits ([`Waiting`]) is worked out here, from the same state.
//! - Carrier preference (`[routing]`): an idle SIM takes, among the jobs it may take at the
//!   front of a broadcast's queue, the first whose number belongs to its own carrier, else the
//!   first: a preference that never leaves a SIM idle while it could send.
//! - Pacing (`[[modem]] pace_ms`): after each try a paced SIM rests until a time the
//!   dispatcher drew ([`Pool::rest`]); it takes no work before.
//! - A SIM that showed signs of a carrier block ([`super::policy::BlockWatch`], a carrier's
//!   notice) is quarantined until a time: it gets no work, which goes to the other SIMs, and
//!   counts as down for pinning and retries; it is back when the time passes or an
//!   administrator releases it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::policy::{BlockWatch, TryError, TryErrors, TrySign};
use super::waiting::Waiting;
use crate::service::routing::{carrier_of_imsi, CarrierTable};
use crate::service::{sim_windows, Periods, QuietHours};
use crate::store::{BroadcastId, DeliveryId, Group, GroupId, QueuedDelivery};

/// Index of a modem slot in the pool (stable for the daemon's life).
pub type ModemId = usize;

/// Where a group's messages may go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pinning {
    /// IMSIs or device paths; empty = any modem.
    pub modems: Vec<String>,
    pub fallback: bool,
}

impl Pinning {
    /// Where a group's messages may go (no group: anywhere).
    pub fn of(group: Option<&Group>) -> Pinning {
        group.map_or_else(Pinning::default, |g| Pinning {
            modems: g.pinned_modems.clone(),
            fallback: g.modem_fallback,
        })
    }

    /// One SIM (IMSI or device) and no other.
    pub fn sim(sim: &str) -> Pinning {
        Pinning {
            modems: vec![sim.to_string()],
            fallback: false,
        }
    }
}

/// Jobs for queued deliveries of one group's broadcasts. A notice's delivery (pinned to one
/// SIM) goes through that SIM only, whatever the group's pinning.
pub fn jobs(queued: Vec<QueuedDelivery>, group: Option<&Group>) -> Vec<Job> {
    let pinning = Arc::new(Pinning::of(group));
    queued
        .into_iter()
        .map(|q| Job {
            pinning: match &q.pin_sim {
                Some(sim) => Arc::new(Pinning::sim(sim)),
                None => pinning.clone(),
            },
            delivery: q.id,
            broadcast: q.broadcast_id,
            // A notice keeps its SIM when its group is pinned elsewhere (repin).
            group: q.group_id.filter(|_| q.pin_sim.is_none()),
            number: q.number,
            text: q.text,
            parts: q.parts,
            attempts: q.attempts,
            not_before: q.not_before,
            avoid: Vec::new(),
            back_after: None,
            urgent: q.urgent,
        })
        .collect()
}

/// One delivery waiting for a modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub delivery: DeliveryId,
    pub broadcast: BroadcastId,
    /// The group whose pinning this job follows (`None` for a notice, pinned to its SIM).
    pub group: Option<GroupId>,
    pub number: String,
    pub text: Arc<str>,
    /// SMS parts of the text (what the SIM caps count).
    pub parts: u32,
    /// Tries started so far.
    pub attempts: u32,
    pub not_before: Option<DateTime<Utc>>,
    /// The modems whose failures sent this job back (distinct, oldest first).
    pub avoid: Vec<ModemId>,
    /// A modem in `avoid` may take the job again only from then on (`None`: as soon as no
    /// other modem can).
    pub back_after: Option<DateTime<Utc>>,
    pub pinning: Arc<Pinning>,
    /// Its broadcast was sent urgent: the quiet hours do not hold it back.
    pub urgent: bool,
}

/// What a modem slot is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Not (yet) initialised, unplugged or hung: gets no work.
    Down,
    /// Taken out after a SIM error until re-probed.
    Quarantined,
    Idle,
    Busy,
}

/// Per-SIM counter in the current local hour and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub hour_start: DateTime<Utc>,
    pub day_start: DateTime<Utc>,
    pub hour_parts: u32,
    pub day_parts: u32,
}

/// Why and until when a SIM is kept from sending (signs of a carrier block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantine {
    pub reason: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// One modem of the pool.
#[derive(Debug, Clone)]
pub struct Slot {
    /// The device path (or what the configuration calls it).
    pub device: String,
    pub imsi: Option<String>,
    pub state: SlotState,
    pub max_per_hour: u32,
    pub max_per_day: u32,
    pub usage: Option<Usage>,
    /// Its SIM's carrier: configured (`[[modem]] carrier`), else from its IMSI.
    pub carrier: Option<String>,
    /// `[[modem]] carrier`, which the IMSI does not override.
    configured_carrier: Option<String>,
    /// The SIM rests (paced, `[[modem]] pace_ms`) until then: no work before.
    pub rests_until: Option<DateTime<Utc>>,
    /// Set while its SIM is quarantined for signs of a carrier block.
    pub quarantine: Option<Quarantine>,
    /// Tries on this modem that ended in each error class, since the daemon started.
    pub errors: TryErrors,
    /// The signs of a block its SIM showed lately.
    watch: BlockWatch,
    /// Order of last use, for spreading work evenly.
    last_used: u64,
    /// Tries handed to this modem and not finished yet (at most one while it is up; one may
    /// still be finishing when the modem left and came back).
    running: u32,
}

impl Slot {
    fn matches(&self, key: &str) -> bool {
        self.device == key || self.imsi.as_deref() == Some(key)
    }

    fn usable(&self) -> bool {
        matches!(self.state, SlotState::Idle | SlotState::Busy) && self.quarantine.is_none()
    }

    /// The SIM's key in the store: its IMSI, else the device.
    pub fn sim(&self) -> &str {
        self.imsi.as_deref().unwrap_or(&self.device)
    }
}

/// The pool's state. See the module docs for the rules.
#[derive(Debug)]
pub struct Pool {
    tz: Tz,
    slots: Vec<Slot>,
    /// Ready jobs per broadcast, oldest broadcast first.
    queues: BTreeMap<BroadcastId, VecDeque<Job>>,
    /// Jobs waiting for their back-off, earliest first.
    delayed: BinaryHeap<Reverse<(DateTime<Utc>, DeliveryId)>>,
    delayed_jobs: BTreeMap<DeliveryId, Job>,
    /// The broadcast served last (round-robin cursor).
    cursor: Option<BroadcastId>,
    use_counter: u64,
    /// No job but urgent ones starts inside this daily window.
    quiet: Option<QuietHours>,
    /// The earliest `back_after` of a job the last [`assign`](Self::assign) left waiting
    /// only for it (a wake-up time: no event would otherwise hand it out).
    held_back: Option<DateTime<Utc>>,
    /// The number prefixes of carrier preference; `None`: no preference.
    routing: Option<Arc<CarrierTable>>,
    /// Devices whose quarantine ran out, for the caller to say so ([`take_ended`](Self::take_ended)).
    ended: Vec<String>,
    /// The deliveries in the pool, waiting or handed out and not finished: one announced
    /// again (by another host, or a reload of the queue) is not added twice.
    present: HashSet<DeliveryId>,
}

impl Pool {
    /// An empty pool counting SIM windows in `tz`.
    pub fn new(tz: Tz) -> Self {
        Pool {
            tz,
            slots: Vec::new(),
            queues: BTreeMap::new(),
            delayed: BinaryHeap::new(),
            delayed_jobs: BTreeMap::new(),
            cursor: None,
            use_counter: 0,
            quiet: None,
            held_back: None,
            routing: None,
            ended: Vec::new(),
            present: HashSet::new(),
        }
    }

    /// The pool with quiet hours (in its zone): no job but urgent ones starts inside them.
    pub fn with_quiet_hours(mut self, quiet: Option<QuietHours>) -> Self {
        self.quiet = quiet;
        self
    }

    /// When the quiet hours end, if `now` is inside them.
    fn quiet_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.quiet.and_then(|q| q.end_if_inside(now, self.tz))
    }

    /// Prefers, for each SIM, the recipients whose numbers `table` gives to its carrier.
    pub fn with_routing(mut self, table: Option<CarrierTable>) -> Self {
        self.routing = table.map(Arc::new);
        self
    }

    /// The carrier of modem `id`'s SIM, whatever its IMSI says.
    pub fn set_carrier(&mut self, id: ModemId, carrier: Option<String>) {
        let slot = &mut self.slots[id];
        slot.configured_carrier = carrier.clone();
        slot.carrier = carrier;
    }

    /// Adds a modem slot (down until [`modem_up`](Self::modem_up)).
    pub fn add_modem(&mut self, device: &str, max_per_hour: u32, max_per_day: u32) -> ModemId {
        self.slots.push(Slot {
            device: device.to_string(),
            imsi: None,
            state: SlotState::Down,
            max_per_hour,
            max_per_day,
            usage: None,
            carrier: None,
            configured_carrier: None,
            rests_until: None,
            quarantine: None,
            errors: TryErrors::default(),
            watch: BlockWatch::default(),
            last_used: 0,
            running: 0,
        });
        self.slots.len() - 1
    }

    /// The zone whose hours and days the SIM caps count.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub fn slot(&self, id: ModemId) -> &Slot {
        &self.slots[id]
    }

    /// The modem answered its init: it takes work. `usage` is what its SIM sent in the
    /// current hour and day (from the store, so caps survive restarts).
    pub fn modem_up(
        &mut self,
        id: ModemId,
        imsi: Option<String>,
        hour_parts: u32,
        day_parts: u32,
        now: DateTime<Utc>,
    ) {
        let (hour_start, day_start) = sim_windows(now, self.tz);
        let slot = &mut self.slots[id];
        if slot.imsi != imsi {
            // Another SIM: what the last one showed is not its business.
            slot.quarantine = None;
            slot.watch.reset();
        }
        slot.carrier = slot.configured_carrier.clone().or_else(|| {
            imsi.as_deref()
                .and_then(carrier_of_imsi)
                .map(str::to_string)
        });
        slot.imsi = imsi;
        slot.state = if slot.running > 0 {
            SlotState::Busy
        } else {
            SlotState::Idle
        };
        slot.usage = Some(Usage {
            hour_start,
            day_start,
            hour_parts,
            day_parts,
        });
    }

    /// The modem is gone, hung or not ready (`quarantine` for SIM errors).
    pub fn modem_down(&mut self, id: ModemId, quarantine: bool) {
        self.slots[id].state = if quarantine {
            SlotState::Quarantined
        } else {
            SlotState::Down
        };
    }

    /// Adds jobs (their broadcast keeps its place in the rotation); one whose delivery is in
    /// the pool already is left out.
    pub fn enqueue(&mut self, jobs: impl IntoIterator<Item = Job>, now: DateTime<Utc>) {
        for job in jobs {
            if !self.present.insert(job.delivery) {
                continue;
            }
            match job.not_before {
                Some(t) if t > now => {
                    self.delayed.push(Reverse((t, job.delivery)));
                    self.delayed_jobs.insert(job.delivery, job);
                }
                // A retry after a failure may go out now: ahead of the jobs never tried.
                _ if !job.avoid.is_empty() => self
                    .queues
                    .entry(job.broadcast)
                    .or_default()
                    .push_front(job),
                _ => self.queues.entry(job.broadcast).or_default().push_back(job),
            }
        }
    }

    /// Jobs waiting (ready or delayed).
    pub fn pending(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum::<usize>() + self.delayed_jobs.len()
    }

    /// Tries handed out and not finished yet.
    pub fn running(&self) -> u32 {
        self.slots.iter().map(|s| s.running).sum()
    }

    /// A group's pinning changed: its waiting jobs follow the new one (jobs already given to
    /// a modem keep theirs). Without this, turning `pin_fallback` on while the pinned SIMs
    /// are down would leave the waiting deliveries stuck until a restart.
    pub fn repin(&mut self, group: GroupId, pinning: Arc<Pinning>) {
        let jobs = self
            .queues
            .values_mut()
            .flat_map(|q| q.iter_mut())
            .chain(self.delayed_jobs.values_mut());
        for job in jobs.filter(|j| j.group == Some(group)) {
            job.pinning = pinning.clone();
        }
    }

    /// The try on `id` ended with `sign`: the reason to quarantine its SIM, when that makes
    /// a block (the caller quarantines it with [`quarantine`](Self::quarantine)).
    pub fn observe(&mut self, id: ModemId, sign: TrySign, now: DateTime<Utc>) -> Option<String> {
        let slot = &mut self.slots[id];
        if slot.quarantine.is_some() {
            return None;
        }
        slot.watch.observe(sign, now)
    }

    /// Keeps the SIM of `id` from sending as `q` says.
    pub fn quarantine(&mut self, id: ModemId, q: Quarantine) {
        self.slots[id].quarantine = Some(q);
    }

    /// The SIM of `id` rests until `until` (pacing): it takes no work before.
    pub fn rest(&mut self, id: ModemId, until: DateTime<Utc>) {
        self.slots[id].rests_until = Some(until);
    }

    /// The devices whose quarantine ran out since the last call.
    pub fn take_ended(&mut self) -> Vec<String> {
        std::mem::take(&mut self.ended)
    }

    /// The slots whose IMSI or device is `key`.
    pub fn find(&self, key: &str) -> Vec<ModemId> {
        (0..self.slots.len())
            .filter(|&i| self.slots[i].matches(key))
            .collect()
    }

    /// Ends the quarantine of the slots whose IMSI or device is `key`; which were quarantined.
    pub fn release(&mut self, key: &str) -> Vec<ModemId> {
        let mut released = Vec::new();
        for id in self.find(key) {
            let slot = &mut self.slots[id];
            if slot.quarantine.take().is_some() {
                released.push(id);
            }
            slot.watch.reset();
        }
        released
    }

    /// Rolls SIM windows over, ends quarantines whose time is up and releases delayed jobs
    /// that are due.
    fn advance(&mut self, now: DateTime<Utc>) {
        let (hour_start, day_start) = sim_windows(now, self.tz);
        for slot in &mut self.slots {
            if slot.quarantine.as_ref().is_some_and(|q| q.until <= now) {
                self.ended.push(slot.device.clone());
                slot.quarantine = None;
                slot.watch.reset();
            }
            if let Some(u) = &mut slot.usage {
                if u.hour_start != hour_start {
                    u.hour_start = hour_start;
                    u.hour_parts = 0;
                }
                if u.day_start != day_start {
                    u.day_start = day_start;
                    u.day_parts = 0;
                }
            }
        }
        while let Some(Reverse((t, id))) = self.delayed.peek().copied() {
            if t > now {
                break;
            }
            self.delayed.pop();
            if let Some(job) = self.delayed_jobs.remove(&id) {
                self.queues.entry(job.broadcast).or_default().push_back(job);
            }
        }
    }

    /// Whether the SIM of `slot` may send `parts` more parts now.
    fn has_room(slot: &Slot, parts: u32) -> bool {
        match &slot.usage {
            Some(u) => {
                u.hour_parts + parts <= slot.max_per_hour && u.day_parts + parts <= slot.max_per_day
            }
            None => false,
        }
    }

    /// Whether `job` may go through `id` given the quiet hours (`quiet`: inside them now),
    /// pinning, avoidance (and its back-off) and caps. `held_back` learns the earliest
    /// back-off that alone keeps such a job from `id`.
    fn eligible(
        &self,
        id: ModemId,
        job: &Job,
        quiet: bool,
        now: DateTime<Utc>,
        held_back: &mut Option<DateTime<Utc>>,
    ) -> bool {
        if quiet && !job.urgent {
            return false;
        }
        let slot = &self.slots[id];
        if !Self::has_room(slot, job.parts.max(1)) {
            return false;
        }
        let pins = &job.pinning.modems;
        if !pins.is_empty() && !pins.iter().any(|k| slot.matches(k)) {
            let pinned_up = self
                .slots
                .iter()
                .any(|s| s.usable() && pins.iter().any(|k| s.matches(k)));
            if pinned_up || !job.pinning.fallback {
                return false;
            }
        }
        if job.avoid.contains(&id) {
            // A modem that has not failed it could take it? Then leave it to that one.
            let others = self.slots.iter().enumerate().any(|(other, s)| {
                !job.avoid.contains(&other) && s.usable() && Self::has_room(s, job.parts.max(1))
            });
            if others {
                return false;
            }
            // None can: back to a modem that failed it, after the back-off.
            if let Some(t) = job.back_after.filter(|t| *t > now) {
                *held_back = Some(held_back.map_or(t, |h| h.min(t)));
                return false;
            }
        }
        true
    }

    /// Gives idle modems their next job, fairly across broadcasts. The chosen modems turn
    /// busy; the caller sends each job to its modem.
    pub fn assign(&mut self, now: DateTime<Utc>) -> Vec<(ModemId, Job)> {
        self.advance(now);
        self.held_back = None;
        let mut idle: Vec<ModemId> = (0..self.slots.len())
            .filter(|&i| {
                let s = &self.slots[i];
                s.state == SlotState::Idle && s.usable() && s.rests_until.is_none_or(|t| t <= now)
            })
            .collect();
        idle.sort_by_key(|&i| self.slots[i].last_used);
        let quiet = self.quiet_until(now).is_some();
        let mut out = Vec::new();
        for id in idle {
            if self.queues.is_empty() {
                break;
            }
            if let Some(job) = self.take_for(id, quiet, now) {
                self.use_counter += 1;
                let slot = &mut self.slots[id];
                slot.state = SlotState::Busy;
                slot.running += 1;
                slot.last_used = self.use_counter;
                if let Some(u) = &mut slot.usage {
                    // Reserve the parts now so concurrent assignments respect the cap.
                    u.hour_parts += job.parts;
                    u.day_parts += job.parts;
                }
                out.push((id, job));
            }
        }
        out
    }

    /// The next job for modem `id`: broadcasts in turn after the cursor, first eligible job.
    fn take_for(&mut self, id: ModemId, quiet: bool, now: DateTime<Utc>) -> Option<Job> {
        let order: Vec<BroadcastId> = match self.cursor {
            Some(c) => self
                .queues
                .range(c..)
                .skip_while(|(b, _)| **b == c)
                .chain(self.queues.range(..=c))
                .map(|(b, _)| *b)
                .collect(),
            None => self.queues.keys().copied().collect(),
        };
        for b in order {
            // Jobs of one broadcast share pinning and size; one avoiding this modem does not
            // block the others, so look a little further than the head.
            let mut held_back = self.held_back;
            let eligible: Vec<usize> = self.queues[&b]
                .iter()
                .take(16)
                .enumerate()
                .filter(|(_, j)| self.eligible(id, j, quiet, now, &mut held_back))
                .map(|(k, _)| k)
                .collect();
            self.held_back = held_back;
            // Among those, one of the SIM's own carrier first.
            let own = match (&self.routing, &self.slots[id].carrier) {
                (Some(table), Some(mine)) => eligible.iter().copied().find(|&k| {
                    table.carrier_of_number(&self.queues[&b][k].number) == Some(mine.as_str())
                }),
                _ => None,
            };
            let pos = own.or(eligible.first().copied());
            if let Some(pos) = pos {
                let queue = self.queues.get_mut(&b).expect("present");
                let job = queue.remove(pos).expect("position in range");
                if queue.is_empty() {
                    self.queues.remove(&b);
                }
                self.cursor = Some(b);
                return Some(job);
            }
        }
        None
    }

    /// The try of `delivery` ended: it leaves the pool (a retry comes back through
    /// [`enqueue`](Self::enqueue)).
    pub fn done_with(&mut self, delivery: DeliveryId) {
        self.present.remove(&delivery);
    }

    /// Another host took `delivery` of `broadcast`: it leaves the pool if it waits here.
    /// True when it did.
    pub fn forget(&mut self, broadcast: BroadcastId, delivery: DeliveryId) -> bool {
        let mut gone = self.delayed_jobs.remove(&delivery).is_some();
        if let Some(queue) = self.queues.get_mut(&broadcast) {
            if let Some(pos) = queue.iter().position(|j| j.delivery == delivery) {
                queue.remove(pos);
                gone = true;
            }
            if queue.is_empty() {
                self.queues.remove(&broadcast);
            }
        }
        if gone {
            self.present.remove(&delivery);
        }
        gone
    }

    /// The modem finished its job (whatever the outcome) and may take another. `sent_parts`:
    /// parts that left the modem (the reservation made at assignment is corrected to it).
    pub fn finished(&mut self, id: ModemId, reserved_parts: u32, sent_parts: u32) {
        let slot = &mut self.slots[id];
        if let Some(u) = &mut slot.usage {
            u.hour_parts = u.hour_parts.saturating_sub(reserved_parts) + sent_parts;
            u.day_parts = u.day_parts.saturating_sub(reserved_parts) + sent_parts;
        }
        slot.running = slot.running.saturating_sub(1);
        if slot.state == SlotState::Busy && slot.running == 0 {
            slot.state = SlotState::Idle;
        }
    }

    /// Counts a try on modem `id` that ended in error class `class`.
    pub fn count_error(&mut self, id: ModemId, class: TryError) {
        self.slots[id].errors.add(class);
    }

    /// When something may change without an event: a back-off ends, or a capped SIM's window
    /// rolls over while work waits.
    pub fn next_wake(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wake = self.delayed.peek().map(|Reverse((t, _))| *t);
        let ends = self.slots.iter().filter_map(|s| s.quarantine.as_ref());
        // A resting SIM matters only while work waits.
        let rests = self
            .slots
            .iter()
            .filter(|_| !self.queues.is_empty())
            .filter_map(|s| s.rests_until.filter(|t| *t > now));
        let times = self.held_back.filter(|t| *t > now).into_iter();
        for t in times.chain(ends.map(|q| q.until)).chain(rests) {
            wake = Some(wake.map_or(t, |w| w.min(t)));
        }
        if !self.queues.is_empty() {
            let capped = self
                .slots
                .iter()
                .any(|s| s.state == SlotState::Idle && s.usage.is_some());
            if capped {
                // Idle modems with work waiting are capped (or pinned away): check again at
                // the next local hour.
                let (hour, _) = sim_windows(now, self.tz);
                let next_hour = hour + chrono::Duration::hours(1);
                wake = Some(wake.map_or(next_hour, |w| w.min(next_hour)));
            }
            if let Some(end) = self.quiet_until(now) {
                wake = Some(wake.map_or(end, |w| w.min(end)));
            }
        }
        wake
    }

    /// Takes every waiting job of `broadcast` out of the pool (it was cancelled); a job
    /// already handed to a modem is not among them.
    pub fn cancel(&mut self, broadcast: BroadcastId) -> Vec<Job> {
        let mut out: Vec<Job> = self
            .queues
            .remove(&broadcast)
            .map(Vec::from)
            .unwrap_or_default();
        let delayed: Vec<DeliveryId> = self
            .delayed_jobs
            .iter()
            .filter(|(_, j)| j.broadcast == broadcast)
            .map(|(id, _)| *id)
            .collect();
        // Their heap entries stay behind and are skipped when due.
        out.extend(delayed.iter().filter_map(|id| self.delayed_jobs.remove(id)));
        for job in &out {
            self.present.remove(&job.delivery);
        }
        out
    }

    /// Every broadcast with jobs that cannot start now, with how many wait and why (a job
    /// waiting out a retry's back-off is not counted as waiting for a reason here).
    pub fn waiting(&self, now: DateTime<Utc>) -> Vec<(BroadcastId, usize, Waiting)> {
        // Jobs waiting out a back-off, by broadcast, in one pass: they wait too, and a
        // broadcast with nothing else left is asked about through one of them.
        let mut delayed: BTreeMap<BroadcastId, (usize, &Job)> = BTreeMap::new();
        for job in self.delayed_jobs.values() {
            delayed.entry(job.broadcast).or_insert((0, job)).0 += 1;
        }
        let broadcasts: BTreeSet<BroadcastId> =
            self.queues.keys().chain(delayed.keys()).copied().collect();
        broadcasts
            .into_iter()
            .filter_map(|b| {
                let queued = self.queues.get(&b);
                let later = delayed.get(&b);
                let job = queued.and_then(|q| q.front()).or(later.map(|(_, j)| *j))?;
                let why = self.why(job, now)?;
                let n = queued.map_or(0, |q| q.len()) + later.map_or(0, |(n, _)| *n);
                Some((b, n, why))
            })
            .collect()
    }

    /// Why `job` cannot start now on any modem of the pool, if it cannot (an idle modem with
    /// room would take it at once; a busy one will when it is done).
    pub fn why(&self, job: &Job, now: DateTime<Utc>) -> Option<Waiting> {
        if !job.urgent {
            if let (Some(window), Some(until)) = (self.quiet, self.quiet_until(now)) {
                return Some(Waiting::QuietHours { window, until });
            }
        }
        // Up, quarantined or not: a pool (or a pin) of quarantined SIMs only says so.
        let up: Vec<&Slot> = self
            .slots
            .iter()
            .filter(|s| matches!(s.state, SlotState::Idle | SlotState::Busy))
            .collect();
        let quarantined = |slots: &[&Slot]| {
            slots
                .iter()
                .filter_map(|s| s.quarantine.as_ref().map(|q| q.until))
                .min()
                .map(|until| Waiting::Quarantined { until })
        };
        let usable: Vec<&Slot> = up.iter().copied().filter(|s| s.usable()).collect();
        if usable.is_empty() {
            return Some(quarantined(&up).unwrap_or(Waiting::NoModem));
        }
        let pins = &job.pinning.modems;
        let pinned: Vec<&Slot> = usable
            .iter()
            .copied()
            .filter(|s| pins.iter().any(|k| s.matches(k)))
            .collect();
        let candidates = match (pins.is_empty(), pinned.is_empty()) {
            (true, _) => usable,
            (false, false) => pinned,
            (false, true) if job.pinning.fallback => usable,
            (false, true) => {
                let pinned_up: Vec<&Slot> = up
                    .iter()
                    .copied()
                    .filter(|s| pins.iter().any(|k| s.matches(k)))
                    .collect();
                return Some(quarantined(&pinned_up).unwrap_or(Waiting::PinnedSimAbsent));
            }
        };
        let parts = job.parts.max(1);
        if candidates.iter().any(|s| Self::has_room(s, parts)) {
            return None;
        }
        let until = candidates
            .iter()
            .map(|s| self.frees_at(s, parts, now))
            .min()?;
        Some(Waiting::Capped { until })
    }

    /// When the SIM of `slot` may send `parts` more parts: the next local day when its day is
    /// full, else the next local hour.
    fn frees_at(&self, slot: &Slot, parts: u32, now: DateTime<Utc>) -> DateTime<Utc> {
        let (hour_start, day_start) = sim_windows(now, self.tz);
        let (hour, day) = slot.usage.map_or((0, 0), |u| {
            (
                if u.hour_start == hour_start {
                    u.hour_parts
                } else {
                    0
                },
                if u.day_start == day_start {
                    u.day_parts
                } else {
                    0
                },
            )
        });
        if day + parts > slot.max_per_day {
            Periods::at(now, self.tz).next_day.with_timezone(&Utc)
        } else if hour + parts > slot.max_per_hour {
            hour_start + chrono::Duration::hours(1)
        } else {
            now
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn job(delivery: i64, broadcast: i64) -> Job {
        Job {
            delivery: DeliveryId(delivery),
            broadcast: BroadcastId(broadcast),
            group: Some(GroupId(1)),
            number: format!("+86138{delivery:08}"),
            text: Arc::from("hi"),
            parts: 1,
            attempts: 0,
            not_before: None,
            avoid: Vec::new(),
            back_after: None,
            pinning: Arc::new(Pinning::default()),
            urgent: false,
        }
    }

    fn pool(modems: usize) -> Pool {
        let mut p = Pool::new(chrono_tz::Asia::Shanghai);
        for i in 0..modems {
            let id = p.add_modem(&format!("/dev/gsm/modem{i}"), 200, 1000);
            p.modem_up(id, Some(format!("46000000000000{i}")), 0, 0, t(NOW));
        }
        p
    }

    const NOW: &str = "2024-05-10T02:10:00Z";

    #[test]
    fn broadcasts_take_turns() {
        let mut p = pool(1);
        p.enqueue((1..=100).map(|i| job(i, 1)), t(NOW));
        p.enqueue((101..=105).map(|i| job(i, 2)), t(NOW));
        let mut order = Vec::new();
        for _ in 0..10 {
            let a = p.assign(t(NOW));
            assert_eq!(a.len(), 1);
            order.push(a[0].1.broadcast.0);
            p.finished(a[0].0, 1, 1);
        }
        assert_eq!(order, [1, 2, 1, 2, 1, 2, 1, 2, 1, 2]);
        assert_eq!(p.pending(), 100 + 5 - 10);
    }

    #[test]
    fn every_idle_modem_gets_work_and_busy_ones_none() {
        let mut p = pool(3);
        p.enqueue((1..=10).map(|i| job(i, 1)), t(NOW));
        let a = p.assign(t(NOW));
        assert_eq!(a.iter().map(|(m, _)| *m).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(p.assign(t(NOW)).is_empty());
        p.finished(1, 1, 1);
        let a = p.assign(t(NOW));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].0, 1);
    }

    #[test]
    fn a_capped_sim_is_skipped_until_its_hour_rolls_over() {
        let mut p = Pool::new(chrono_tz::Asia::Shanghai);
        let a = p.add_modem("/dev/a", 2, 1000);
        let b = p.add_modem("/dev/b", 200, 1000);
        p.modem_up(a, None, 2, 2, t(NOW)); // already at its hourly cap
        p.modem_up(b, None, 0, 0, t(NOW));
        p.enqueue((1..=3).map(|i| job(i, 1)), t(NOW));
        let got = p.assign(t(NOW));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, b);
        p.modem_down(b, false);
        p.finished(b, 1, 1);
        assert!(p.assign(t(NOW)).is_empty(), "capped SIM must not send");
        // Next local hour (10:00 Shanghai = 02:00Z, so 03:00Z).
        assert_eq!(p.next_wake(t(NOW)), Some(t("2024-05-10T03:00:00Z")));
        let got = p.assign(t("2024-05-10T03:00:00Z"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, a);
    }

    #[test]
    fn multi_part_messages_count_every_part_against_the_cap() {
        let mut p = Pool::new(chrono_tz::Asia::Shanghai);
        let a = p.add_modem("/dev/a", 5, 1000);
        p.modem_up(a, None, 3, 3, t(NOW));
        let mut j = job(1, 1);
        j.parts = 3;
        p.enqueue([j], t(NOW));
        assert!(
            p.assign(t(NOW)).is_empty(),
            "3 more parts would pass the cap of 5"
        );
    }

    #[test]
    fn retries_avoid_the_failing_modem_unless_it_is_the_only_one() {
        let mut p = pool(2);
        let mut j = job(1, 1);
        j.avoid = vec![0];
        p.enqueue([j.clone()], t(NOW));
        p.slots[1].state = SlotState::Busy;
        assert!(
            p.assign(t(NOW)).is_empty(),
            "modem 1 exists: do not retry on modem 0"
        );
        p.finished(1, 0, 0);
        let a = p.assign(t(NOW));
        assert_eq!(a[0].0, 1);
        // Only modem 0 left: it may retry there.
        let mut p = pool(2);
        p.modem_down(1, false);
        p.enqueue([j], t(NOW));
        assert_eq!(p.assign(t(NOW))[0].0, 0);
    }

    #[test]
    fn a_retry_goes_first_to_a_modem_that_has_not_failed_it() {
        let mut p = pool(3);
        p.enqueue((1..=5).map(|i| job(i, 1)), t(NOW));
        let mut retry = job(9, 1);
        retry.attempts = 1;
        retry.avoid = vec![0];
        retry.back_after = Some(t("2024-05-10T02:10:02Z"));
        p.enqueue([retry], t(NOW));
        let a = p.assign(t(NOW));
        // Modem 0 (least recently used) skips it; modem 1 takes it ahead of the untried ones.
        assert_eq!(a[0].0, 0);
        assert_ne!(a[0].1.delivery, DeliveryId(9));
        assert_eq!((a[1].0, a[1].1.delivery), (1, DeliveryId(9)));
    }

    #[test]
    fn a_job_every_modem_failed_waits_for_its_back_off() {
        let mut p = pool(2);
        let mut j = job(1, 1);
        j.avoid = vec![0, 1];
        j.back_after = Some(t("2024-05-10T02:10:04Z"));
        p.enqueue([j.clone()], t(NOW));
        assert!(
            p.assign(t(NOW)).is_empty(),
            "both failed it: not before 02:10:04"
        );
        assert_eq!(p.next_wake(t(NOW)), Some(t("2024-05-10T02:10:04Z")));
        assert_eq!(p.assign(t("2024-05-10T02:10:04Z")).len(), 1);
        // Only one of them failed it but the other is down: the same wait.
        let mut p = pool(2);
        p.modem_down(1, false);
        j.avoid = vec![0];
        p.enqueue([j], t(NOW));
        assert!(p.assign(t(NOW)).is_empty());
        assert_eq!(p.next_wake(t(NOW)), Some(t("2024-05-10T02:10:04Z")));
        assert_eq!(p.assign(t("2024-05-10T02:10:04Z"))[0].0, 0);
    }

    #[test]
    fn a_quarantined_sim_gets_no_work_until_its_time_is_up_or_it_is_released() {
        let mut p = pool(2);
        let q = Quarantine {
            reason: "+CMS ERROR: 8".into(),
            since: t(NOW),
            until: t("2024-05-10T03:10:00Z"),
        };
        p.quarantine(0, q.clone());
        p.enqueue((1..=4).map(|i| job(i, 1)), t(NOW));
        let a = p.assign(t(NOW));
        assert_eq!(a.iter().map(|(m, _)| *m).collect::<Vec<_>>(), [1]);
        p.finished(1, 1, 1);
        // A retry that avoids modem 1 does not go to the quarantined one: it waits its back-off.
        let mut j = job(9, 1);
        j.avoid = vec![1];
        j.back_after = Some(t("2024-05-10T02:20:00Z"));
        p.enqueue([j], t(NOW));
        let a = p.assign(t(NOW));
        assert_eq!((a[0].0, a[0].1.delivery), (1, DeliveryId(2)));
        assert_eq!(p.next_wake(t(NOW)), Some(t("2024-05-10T02:20:00Z")));
        // Its time is up: it sends again.
        p.finished(1, 1, 1);
        let later = t("2024-05-10T03:10:00Z");
        let a = p.assign(later);
        assert_eq!(a.len(), 2, "{a:?}");
        assert_eq!(p.take_ended(), ["/dev/gsm/modem0"]);
        // Released by IMSI.
        p.quarantine(1, q);
        assert_eq!(p.release("460000000000001"), [1]);
        assert!(p.slot(1).quarantine.is_none());
    }

    #[test]
    fn a_resting_sim_takes_no_work_until_its_pause_ends() {
        let mut p = pool(2);
        p.enqueue((1..=4).map(|i| job(i, 1)), t(NOW));
        let a = p.assign(t(NOW));
        assert_eq!(a.len(), 2);
        p.finished(0, 1, 1);
        p.rest(0, t("2024-05-10T02:10:03Z"));
        p.finished(1, 1, 1);
        // Modem 0 rests: only modem 1 takes work.
        let a = p.assign(t(NOW));
        assert_eq!(a.iter().map(|(m, _)| *m).collect::<Vec<_>>(), [1]);
        assert_eq!(p.next_wake(t(NOW)), Some(t("2024-05-10T02:10:03Z")));
        let a = p.assign(t("2024-05-10T02:10:03Z"));
        assert_eq!(a.iter().map(|(m, _)| *m).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn a_sim_prefers_recipients_of_its_own_carrier_and_takes_any_other_rather_than_idle() {
        let mut p =
            Pool::new(chrono_tz::Asia::Shanghai).with_routing(Some(CarrierTable::default()));
        let mobile = p.add_modem("/dev/m", 200, 1000);
        let unicom = p.add_modem("/dev/u", 200, 1000);
        p.modem_up(mobile, Some("460001234567890".into()), 0, 0, t(NOW));
        p.modem_up(unicom, Some("460011234567890".into()), 0, 0, t(NOW));
        assert_eq!(p.slot(unicom).carrier.as_deref(), Some("china_unicom"));
        let numbered = |d: i64, n: &str| Job {
            number: n.into(),
            ..job(d, 1)
        };
        p.enqueue(
            [
                numbered(1, "+8613900000001"),
                numbered(2, "+8613900000002"),
                numbered(3, "+8618600000003"),
                numbered(4, "+8613900000004"),
            ],
            t(NOW),
        );
        let a = p.assign(t(NOW));
        let got: Vec<(ModemId, i64)> = a.iter().map(|(m, j)| (*m, j.delivery.0)).collect();
        assert_eq!(got, [(mobile, 1), (unicom, 3)]);
        // No Unicom number left: the Unicom SIM takes a Mobile one rather than stay idle.
        p.finished(unicom, 1, 1);
        let a = p.assign(t(NOW));
        assert_eq!((a[0].0, a[0].1.delivery.0), (unicom, 2));
        // A configured carrier wins over the IMSI.
        p.set_carrier(unicom, Some("china_mobile".into()));
        p.modem_up(unicom, Some("460011234567890".into()), 0, 0, t(NOW));
        assert_eq!(p.slot(unicom).carrier.as_deref(), Some("china_mobile"));
    }

    #[test]
    fn delayed_jobs_wait_for_their_back_off() {
        let mut p = pool(1);
        let mut j = job(1, 1);
        j.not_before = Some(t("2024-05-10T02:10:05Z"));
        p.enqueue([j], t(NOW));
        assert!(p.assign(t(NOW)).is_empty());
        assert_eq!(p.next_wake(t(NOW)), Some(t("2024-05-10T02:10:05Z")));
        assert_eq!(p.assign(t("2024-05-10T02:10:05Z")).len(), 1);
    }

    #[test]
    fn pinned_groups_use_their_modems_and_fall_back_only_if_allowed() {
        let mut p = pool(2);
        let pinned = Arc::new(Pinning {
            modems: vec!["460000000000001".into()],
            fallback: false,
        });
        let mut j = job(1, 1);
        j.pinning = pinned.clone();
        p.enqueue(
            [j.clone(), {
                let mut k = job(2, 1);
                k.pinning = pinned.clone();
                k
            }],
            t(NOW),
        );
        let a = p.assign(t(NOW));
        assert_eq!(a.len(), 1, "only the pinned modem may send");
        assert_eq!(a[0].0, 1);
        // Pinned modem down, no fallback: nothing moves.
        p.modem_down(1, false);
        assert!(p.assign(t(NOW)).is_empty());
        // Allowing fallback afterwards frees the waiting job at once.
        p.repin(
            GroupId(1),
            Arc::new(Pinning {
                modems: vec!["460000000000001".into()],
                fallback: true,
            }),
        );
        assert_eq!(p.assign(t(NOW))[0].0, 0);
        // With fallback, modem 0 takes over; by device path works too.
        let mut p = pool(2);
        p.modem_down(1, true);
        j.pinning = Arc::new(Pinning {
            modems: vec!["/dev/gsm/modem1".into()],
            fallback: true,
        });
        p.enqueue([j], t(NOW));
        assert_eq!(p.assign(t(NOW))[0].0, 0);
    }

    #[test]
    fn finished_corrects_the_reservation() {
        let mut p = pool(1);
        let mut j = job(1, 1);
        j.parts = 3;
        p.enqueue([j], t(NOW));
        let a = p.assign(t(NOW));
        assert_eq!(p.slot(0).usage.unwrap().hour_parts, 3);
        p.finished(a[0].0, 3, 1); // failed after the first part
        assert_eq!(p.slot(0).usage.unwrap().hour_parts, 1);
        assert_eq!(p.slot(0).state, SlotState::Idle);
    }

    #[test]
    fn quiet_hours_hold_all_but_urgent_jobs_and_say_why() {
        // 02:10Z is 10:10 in Shanghai: inside 10:00-11:30.
        let mut p = pool(1).with_quiet_hours(Some(QuietHours::parse("10:00-11:30").unwrap()));
        p.enqueue((1..=2).map(|i| job(i, 1)), t(NOW));
        assert!(
            p.assign(t(NOW)).is_empty(),
            "nothing starts inside the window"
        );
        let end = t("2024-05-10T03:30:00Z");
        assert_eq!(p.next_wake(t(NOW)), Some(t("2024-05-10T03:00:00Z")));
        let waiting = p.waiting(t(NOW));
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].1, 2);
        assert!(matches!(waiting[0].2, Waiting::QuietHours { until, .. } if until == end));
        let mut urgent = job(3, 2);
        urgent.urgent = true;
        p.enqueue([urgent], t(NOW));
        let a = p.assign(t(NOW));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].1.delivery, DeliveryId(3));
        p.finished(0, 1, 1);
        assert_eq!(p.assign(end).len(), 1, "the window ended");
    }

    #[test]
    fn why_a_job_waits() {
        let now = t(NOW);
        // No modem at all.
        let p = Pool::new(chrono_tz::Asia::Shanghai);
        assert_eq!(p.why(&job(1, 1), now), Some(Waiting::NoModem));
        // Pinned to a SIM that is not there, without fallback.
        let p = pool(1);
        let mut j = job(1, 1);
        j.pinning = Arc::new(Pinning {
            modems: vec!["460009999999999".into()],
            fallback: false,
        });
        assert_eq!(p.why(&j, now), Some(Waiting::PinnedSimAbsent));
        j.pinning = Arc::new(Pinning {
            modems: vec!["460009999999999".into()],
            fallback: true,
        });
        assert_eq!(p.why(&j, now), None);
        // Capped: hourly frees at the next local hour, daily at the next local day.
        let mut p = Pool::new(chrono_tz::Asia::Shanghai);
        let a = p.add_modem("/dev/a", 1, 1000);
        let b = p.add_modem("/dev/b", 100, 5);
        p.modem_up(a, None, 1, 1, now);
        p.modem_up(b, None, 0, 5, now);
        assert_eq!(
            p.why(&job(1, 1), now),
            Some(Waiting::Capped {
                until: t("2024-05-10T03:00:00Z")
            })
        );
        p.modem_down(a, false);
        assert_eq!(
            p.why(&job(1, 1), now),
            Some(Waiting::Capped {
                until: t("2024-05-10T16:00:00Z")
            })
        );
        // Every SIM quarantined: says so, with the earliest end, not "no modem".
        let mut p = pool(2);
        let q = |until: &str| Quarantine {
            reason: "+CMS ERROR: 8".into(),
            since: now,
            until: t(until),
        };
        p.quarantine(0, q("2024-05-11T02:10:00Z"));
        assert_eq!(p.why(&job(1, 1), now), None, "modem 1 may still send");
        p.quarantine(1, q("2024-05-10T20:00:00Z"));
        assert_eq!(
            p.why(&job(1, 1), now),
            Some(Waiting::Quarantined {
                until: t("2024-05-10T20:00:00Z")
            })
        );
        // Pinned, without fallback, to a quarantined SIM while another is free.
        p.release("/dev/gsm/modem1");
        j.pinning = Arc::new(Pinning {
            modems: vec!["/dev/gsm/modem0".into()],
            fallback: false,
        });
        assert_eq!(
            p.why(&j, now),
            Some(Waiting::Quarantined {
                until: t("2024-05-11T02:10:00Z")
            })
        );
    }

    #[test]
    fn a_broadcast_left_with_only_retries_in_their_back_off_is_listed_as_waiting() {
        let now = t(NOW);
        // No modem: one broadcast with a queued job and a retry, another with only a retry.
        let mut p = Pool::new(chrono_tz::Asia::Shanghai);
        let later = |id, b| {
            let mut j = job(id, b);
            j.not_before = Some(t("2024-05-10T02:20:00Z"));
            j
        };
        p.enqueue([job(1, 1), later(2, 1), later(3, 2)], now);
        assert_eq!(
            p.waiting(now),
            [
                (BroadcastId(1), 2, Waiting::NoModem),
                (BroadcastId(2), 1, Waiting::NoModem)
            ]
        );
        // A modem with room: nothing is blocked, back-off or not.
        let mut p = pool(1);
        p.enqueue([later(3, 2)], now);
        assert_eq!(p.waiting(now), []);
    }

    #[test]
    fn cancel_takes_a_broadcasts_waiting_jobs_out() {
        let mut p = pool(0);
        p.enqueue((1..=3).map(|i| job(i, 1)), t(NOW));
        let mut later = job(4, 1);
        later.not_before = Some(t("2024-05-10T02:20:00Z"));
        p.enqueue([later, job(5, 2)], t(NOW));
        let gone = p.cancel(BroadcastId(1));
        assert_eq!(gone.len(), 4);
        assert_eq!(p.pending(), 1);
    }
}
