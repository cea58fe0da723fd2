//! The scheduler against fake modem handles: the test plays each modem's actor (its status
//! and its answers), so every moment a modem can leave the pool is reachable without PTYs,
//! against a real SQLite file. Each test ends when every delivery is final, read from the
//! store, and fails (instead of hanging) if that takes more than 20 s.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use groupsms::at::{CmsError, ErrorClass, Final};
use groupsms::domain::InFlightPolicy;
use groupsms::modem::actor::{self, ActorEnd, ModemRequest};
use groupsms::modem::{AmbiguousReason, Health, Identity, PartOutcome, Unavailable};
use groupsms::scheduler::deliver::Deliverer;
use groupsms::scheduler::policy::RetryPolicy;
use groupsms::scheduler::pool::jobs;
use groupsms::scheduler::pool::Pool;
use groupsms::scheduler::progress::Board;
use groupsms::scheduler::{Caps, Scheduler};
use groupsms::service::optout::{on_incoming, Handling, Incoming};
use groupsms::service::{submit_broadcast, SendRequest, Settings};
use groupsms::store::{BroadcastId, DeliveryRow, DeliveryState, Store, StoreHandle};

/// What a fake modem does with the n-th message it is asked to send (0-based).
#[derive(Debug, Clone)]
enum Act {
    Sent,
    /// `+CMS ERROR: 38`, a transient refusal.
    Transient,
    /// `+CMS ERROR: 310` (no SIM), the SIM class: the modem leaves the pool as quarantined.
    SimRefused,
    /// Ctrl-Z written, no answer: the part may have gone out.
    Ambiguous,
    /// The modem leaves the pool at the moment the message reaches it: not ready, nothing
    /// written (what the real actor answers once it is out of its serving loop).
    LeaveUnavailable(Health),
    /// Like `LeaveUnavailable`, then back 20 ms later (the real actor re-probes), refusing
    /// whatever it is asked meanwhile.
    Bounce,
    /// The modem's task dies with the request unanswered.
    Die,
    /// Sent, and the disk fills as it goes out: the next `n` group commits fail as on a full
    /// disk (the outcome of this very message among them).
    SentAndDiskFull(u32),
    /// Sent, once the test says so (a try held in flight).
    Hold(Arc<tokio::sync::Notify>),
}

type Script = Box<dyn FnMut(usize) -> Act + Send>;

/// Messages each fake modem was asked to send, and the hex of every first part in the order
/// the modems were asked.
#[derive(Default)]
struct Asked {
    per_modem: HashMap<String, usize>,
    first_parts: Vec<String>,
    /// Messages a modem was asked to send while the disk was full.
    while_full: usize,
}

struct Rig {
    _dir: TestDb,
    store: StoreHandle,
    scheduler: Scheduler,
    broadcasts: Vec<BroadcastId>,
    asked: Arc<Mutex<Asked>>,
    /// The store's full-disk switch ([`Store::commit_faults`]).
    faults: Arc<AtomicU32>,
    board: Arc<Board>,
}

fn device(i: usize) -> String {
    format!("/dev/fake/modem{i}")
}

fn ready(end: &ActorEnd, i: usize) {
    end.status.send_modify(|s| {
        s.health = Health::Ready;
        s.identity = Some(Identity {
            imsi: Some(format!("46000000000000{i}")),
            ..Identity::default()
        });
        s.problem = None;
        s.probes += 1;
    });
}

fn rejected(class: ErrorClass, e: CmsError) -> PartOutcome {
    PartOutcome::Rejected {
        result: Final::Cms(e),
        class,
    }
}

/// Plays one modem: ready at once, answers each message as `script` says.
async fn play(
    mut end: ActorEnd,
    i: usize,
    mut script: Script,
    asked: Arc<Mutex<Asked>>,
    faults: Arc<AtomicU32>,
) {
    ready(&end, i);
    let mut n = 0;
    while let Some(request) = end.requests.recv().await {
        let ModemRequest::Send { pdus, reply, .. } = request else {
            continue;
        };
        {
            let mut asked = asked.lock().unwrap();
            *asked.per_modem.entry(device(i)).or_default() += 1;
            asked.first_parts.push(pdus[0].hex());
            if faults.load(Ordering::SeqCst) > 0 {
                asked.while_full += 1;
            }
        }
        let act = script(n);
        n += 1;
        let sent = |k: usize| PartOutcome::Sent {
            message_ref: Some(k as u8),
        };
        let answer = match act {
            Act::Sent => Ok((0..pdus.len()).map(sent).collect()),
            Act::SentAndDiskFull(n) => {
                faults.store(n, Ordering::SeqCst);
                Ok((0..pdus.len()).map(sent).collect())
            }
            Act::Transient => Ok(vec![rejected(
                ErrorClass::Transient,
                CmsError::NetworkOutOfOrder,
            )]),
            Act::SimRefused => {
                end.status.send_modify(|s| {
                    s.health = Health::Quarantined;
                    s.problem = Some("+CMS ERROR: 310".into());
                });
                Ok(vec![rejected(ErrorClass::Sim, CmsError::SimNotInserted)])
            }
            Act::Ambiguous => Ok(vec![PartOutcome::Ambiguous {
                reason: AmbiguousReason::NoAnswer(Duration::from_secs(15)),
            }]),
            Act::LeaveUnavailable(health) => {
                end.status.send_modify(|s| s.health = health);
                Err(Unavailable {
                    device: device(i),
                    health,
                })
            }
            Act::Bounce => {
                end.status.send_modify(|s| s.health = Health::Gone);
                let _ = reply.send(Err(Unavailable {
                    device: device(i),
                    health: Health::Gone,
                }));
                let back = tokio::time::Instant::now() + Duration::from_millis(20);
                while let Ok(Some(r)) = tokio::time::timeout_at(back, end.requests.recv()).await {
                    if let ModemRequest::Send { reply, .. } = r {
                        let _ = reply.send(Err(Unavailable {
                            device: device(i),
                            health: Health::Gone,
                        }));
                    }
                }
                ready(&end, i);
                continue;
            }
            Act::Die => {
                end.status.send_modify(|s| s.health = Health::Gone);
                drop(reply);
                return;
            }
            Act::Hold(release) => {
                release.notified().await;
                Ok((0..pdus.len()).map(sent).collect())
            }
        };
        let _ = reply.send(answer);
    }
}

/// `ops` with `members` members (plus its super-admin), `broadcasts` broadcasts to all of
/// them, the scheduler with one fake modem per script; retries without back-off.
async fn rig(
    members: u32,
    broadcasts: &[&str],
    caps: Caps,
    in_flight: InFlightPolicy,
    scripts: Vec<Script>,
) -> Rig {
    let retry = RetryPolicy {
        max_attempts: 5,
        backoff: chrono::Duration::zero(),
        retry_elsewhere: 2,
        in_flight,
    };
    rig_with(members, broadcasts, &[caps], retry, scripts).await
}

/// [`rig`] with its retry policy and each modem's caps (one for all, or one each).
async fn rig_with(
    members: u32,
    broadcasts: &[&str],
    caps: &[Caps],
    retry: RetryPolicy,
    scripts: Vec<Script>,
) -> Rig {
    let (dir, mut store) = temp_store();
    ops_group(&mut store, members);
    let mut ids = Vec::new();
    let mut queued = Vec::new();
    for (k, body) in broadcasts.iter().enumerate() {
        let accepted = submit_broadcast(
            &mut store,
            &Settings::default(),
            SendRequest {
                caller: groupsms::service::Caller::unix(0, &[]),
                group: "ops".into(),
                as_member: "boss".into(),
                body: body.to_string(),
                now: utc(T0) + chrono::Duration::seconds(k as i64),
                urgent: false,
            },
        )
        .unwrap();
        ids.push(accepted.broadcast_id);
        queued.push(store.queued_for_broadcast(accepted.broadcast_id).unwrap());
    }
    let group = store.group("ops").unwrap();
    let faults = store.commit_faults();
    let board = Arc::new(Board::default());
    for &b in &ids {
        board.track(b, store.broadcast_progress(b).unwrap());
    }
    let (store, _thread) = StoreHandle::spawn(store).unwrap();
    let deliverer = Deliverer {
        store: store.clone(),
        board: board.clone(),
        retry,
        status_reports: true,
        held: Default::default(),
        repeats: Default::default(),
        quarantine: chrono::Duration::hours(24),
        lease: None,
    };
    let (scheduler, _task) = Scheduler::spawn(Pool::new(chrono_tz::Asia::Shanghai), deliverer);
    let asked = Arc::new(Mutex::new(Asked::default()));
    for (i, script) in scripts.into_iter().enumerate() {
        let (handle, end) = actor::channel(&device(i));
        tokio::spawn(play(end, i, script, asked.clone(), faults.clone()));
        scheduler.add_modem(handle, caps[i.min(caps.len() - 1)].clone());
    }
    for q in queued {
        scheduler.enqueue(jobs(q, group.as_ref()));
    }
    Rig {
        _dir: dir,
        store,
        scheduler,
        broadcasts: ids,
        asked,
        faults,
        board,
    }
}

const CAPS: Caps = Caps {
    max_per_hour: 200,
    max_per_day: 1000,
    pace_ms: None,
    carrier: None,
};

impl Rig {
    /// Waits until every delivery of every broadcast is final; returns them.
    async fn finish(&self) -> Vec<DeliveryRow> {
        let ids = self.broadcasts.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let ids = ids.clone();
            let rows: Vec<DeliveryRow> = self
                .store
                .call(move |s: &mut Store| {
                    let mut all = Vec::new();
                    for b in ids {
                        all.extend(s.show_broadcast(b)?.deliveries);
                    }
                    Ok::<_, groupsms::store::StoreError>(all)
                })
                .await
                .unwrap();
            let open = rows
                .iter()
                .filter(|d| matches!(d.state, DeliveryState::Queued | DeliveryState::Sending))
                .count();
            if open == 0 {
                return rows;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{open} deliveries still open: {:#?}",
                rows.iter()
                    .filter(|d| matches!(d.state, DeliveryState::Queued | DeliveryState::Sending))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn asked(&self, i: usize) -> usize {
        self.asked
            .lock()
            .unwrap()
            .per_modem
            .get(&device(i))
            .copied()
            .unwrap_or(0)
    }
}

fn always(act: Act) -> Script {
    Box::new(move |_| act.clone())
}

fn count(rows: &[DeliveryRow], state: DeliveryState) -> usize {
    rows.iter().filter(|d| d.state == state).count()
}

#[tokio::test]
async fn a_delivery_handed_over_as_its_modem_leaves_is_sent_elsewhere_untried() {
    // Modem 0 leaves the pool with the first message it is handed (gone, before writing it).
    let rig = rig(
        5,
        &["明天上午九点开会"],
        CAPS,
        InFlightPolicy::Resend,
        vec![
            always(Act::LeaveUnavailable(Health::Gone)),
            always(Act::Sent),
        ],
    )
    .await;
    let rows = rig.finish().await;
    assert_eq!(count(&rows, DeliveryState::Sent), 6, "{rows:#?}");
    assert_eq!(rig.asked(0), 1, "a modem out of the pool gets no more work");
    for d in &rows {
        assert_eq!(d.modem.as_deref(), Some(device(1).as_str()), "{d:?}");
        assert_eq!(d.attempts, 1, "the refused hand-over is no try: {d:?}");
        assert!(!d.possible_duplicate);
    }
}

#[tokio::test]
async fn a_modem_task_dying_with_a_message_in_hand_strands_nothing() {
    let rig = rig(
        8,
        &["停电通知"],
        CAPS,
        InFlightPolicy::Resend,
        vec![
            Box::new(|n| if n < 2 { Act::Sent } else { Act::Die }),
            always(Act::Sent),
            always(Act::Sent),
        ],
    )
    .await;
    let rows = rig.finish().await;
    assert_eq!(count(&rows, DeliveryState::Sent), 9, "{rows:#?}");
    assert_eq!(rig.asked(0), 3);
    assert!(rows.iter().all(|d| d.attempts == 1), "{rows:#?}");
}

#[tokio::test]
async fn modems_leaving_and_coming_back_under_load_strand_nothing() {
    // The stranded-delivery scene, compressed: modem 0 leaves with every 5th message and comes
    // back, modem 1 hangs for good with its 8th, modems 2 and 3 work. Every delivery must end
    // sent, each after one real try.
    let rig = rig(
        60,
        &["演练通知", "第二条"],
        CAPS,
        InFlightPolicy::Resend,
        vec![
            Box::new(|n| if n % 5 == 4 { Act::Bounce } else { Act::Sent }),
            Box::new(|n| {
                if n < 7 {
                    Act::Sent
                } else {
                    Act::LeaveUnavailable(Health::Hung)
                }
            }),
            always(Act::Sent),
            always(Act::Sent),
        ],
    )
    .await;
    let rows = rig.finish().await;
    assert_eq!(count(&rows, DeliveryState::Sent), 122, "{rows:#?}");
    assert_eq!(rig.asked(1), 8, "a hung modem gets nothing after it left");
    assert!(rig.asked(0) > 5, "modem 0 came back and worked again");
    assert!(rows
        .iter()
        .all(|d| d.attempts == 1 && !d.possible_duplicate));
}

#[tokio::test]
async fn a_transient_refusal_is_retried_on_another_modem() {
    let rig = rig(
        3,
        &["会议改期"],
        CAPS,
        InFlightPolicy::Resend,
        vec![
            Box::new(|n| if n == 0 { Act::Transient } else { Act::Sent }),
            always(Act::Sent),
        ],
    )
    .await;
    let rows = rig.finish().await;
    assert_eq!(count(&rows, DeliveryState::Sent), 4);
    let retried: Vec<_> = rows.iter().filter(|d| d.attempts == 2).collect();
    assert_eq!(retried.len(), 1, "{rows:#?}");
    assert_eq!(retried[0].modem.as_deref(), Some(device(1).as_str()));
    assert_eq!(
        retried[0].last_error, None,
        "a sent delivery carries no error"
    );
}

/// A back-off no test run could wait out (an hour, doubling; every wait capped at 5 minutes
/// by the policy): a delivery that went out did not wait for it.
fn hour_long_backoff(retry_elsewhere: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        backoff: chrono::Duration::hours(1),
        retry_elsewhere,
        in_flight: InFlightPolicy::Resend,
    }
}

#[tokio::test]
async fn a_transient_refusal_goes_to_another_idle_sim_at_once_not_after_the_back_off() {
    // Modem 0 refuses its first message (+CMS ERROR: 38) and then works; the back-off is an
    // hour. Every delivery must end sent: the refused one on modem 1, without waiting.
    let rig = rig_with(
        7,
        &["会议改期"],
        &[CAPS],
        hour_long_backoff(2),
        vec![
            Box::new(|n| if n == 0 { Act::Transient } else { Act::Sent }),
            always(Act::Sent),
            always(Act::Sent),
        ],
    )
    .await;
    let rows = rig.finish().await;
    assert_eq!(count(&rows, DeliveryState::Sent), 8, "{rows:#?}");
    let retried: Vec<_> = rows.iter().filter(|d| d.attempts == 2).collect();
    assert_eq!(retried.len(), 1, "{rows:#?}");
    assert_ne!(
        retried[0].modem.as_deref(),
        Some(device(0).as_str()),
        "retried on another SIM than the one that refused it"
    );
    assert_eq!(rig.asked(0) + rig.asked(1) + rig.asked(2), 9);
}

#[tokio::test]
async fn a_number_refused_by_three_sims_waits_for_the_back_off() {
    // One recipient (the super-admin), three SIMs that all refuse it: tried at once on each
    // SIM in turn (retry_elsewhere = 2 after the first), then the back-off of try 3 (its 4 h
    // capped at 5 minutes).
    let rig = rig_with(
        0,
        &["会议改期"],
        &[CAPS],
        hour_long_backoff(2),
        vec![
            always(Act::Transient),
            always(Act::Transient),
            always(Act::Transient),
        ],
    )
    .await;
    let b = rig.broadcasts[0];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let row = loop {
        let rows = rig
            .store
            .call(move |s: &mut Store| s.show_broadcast(b))
            .await
            .unwrap()
            .deliveries;
        if rows[0].attempts == 3 && rows[0].state == DeliveryState::Queued {
            break rows[0].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{rows:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    for i in 0..3 {
        assert_eq!(rig.asked(i), 1, "each SIM tried it once");
    }
    // Decided a moment before the outcome was stamped: 5 minutes less that moment.
    let wait = row.not_before.expect("a back-off") - row.updated_at;
    assert!(
        wait > chrono::Duration::seconds(290) && wait <= chrono::Duration::minutes(5),
        "{row:?}"
    );
}

#[tokio::test]
async fn a_paced_sim_rests_between_sends_and_the_others_take_the_work() {
    // Modem 0 rests 10 minutes (the longest pace allowed) after each message, modem 1 not at
    // all: modem 0 sends one message, modem 1 everything else, and nobody waits for modem 0.
    let paced = Caps {
        pace_ms: Some([600_000, 600_000]),
        ..CAPS
    };
    let rig = rig_with(
        7,
        &["周末加班安排"],
        &[paced, CAPS],
        hour_long_backoff(2),
        vec![always(Act::Sent), always(Act::Sent)],
    )
    .await;
    let rows = rig.finish().await;
    assert_eq!(count(&rows, DeliveryState::Sent), 8);
    assert_eq!((rig.asked(0), rig.asked(1)), (1, 7));
}

#[tokio::test]
async fn a_sim_refusal_quarantines_the_modem_and_its_work_moves_on() {
    let rig = rig(
        6,
        &["系统升级"],
        CAPS,
        InFlightPolicy::Resend,
        vec![always(Act::SimRefused), always(Act::Sent)],
    )
    .await;
    let rows = rig.finish().await;
    assert_eq!(count(&rows, DeliveryState::Sent), 7);
    assert_eq!(rig.asked(0), 1);
    let snapshot = rig.scheduler.snapshot().await;
    assert_eq!(snapshot.modems[0].status.health, Health::Quarantined);
    assert_eq!(
        groupsms::daemon::modem_state(&snapshot.modems[0]),
        "quarantined"
    );
}

#[tokio::test]
async fn a_capped_sim_is_skipped_not_waited_on() {
    let rig = rig(
        9,
        &["值班表"],
        Caps {
            max_per_hour: 3,
            max_per_day: 1000,
            pace_ms: None,
            carrier: None,
        },
        InFlightPolicy::Resend,
        vec![
            always(Act::Sent),
            always(Act::Sent),
            always(Act::Sent),
            always(Act::Sent),
        ],
    )
    .await;
    let rows = rig.finish().await;
    assert_eq!(count(&rows, DeliveryState::Sent), 10);
    for i in 0..4 {
        assert!(
            rig.asked(i) <= 3,
            "modem {i} sent {} > its cap",
            rig.asked(i)
        );
    }
}

#[tokio::test]
async fn an_ambiguous_send_follows_the_in_flight_policy() {
    let resend = rig(
        2,
        &["通知"],
        CAPS,
        InFlightPolicy::Resend,
        vec![
            Box::new(|n| if n == 0 { Act::Ambiguous } else { Act::Sent }),
            always(Act::Sent),
        ],
    )
    .await;
    let rows = resend.finish().await;
    assert_eq!(count(&rows, DeliveryState::Sent), 3);
    let flagged: Vec<_> = rows.iter().filter(|d| d.possible_duplicate).collect();
    assert_eq!(flagged.len(), 1, "{rows:#?}");
    assert_eq!(flagged[0].attempts, 2);

    let uncertain = rig(
        2,
        &["通知"],
        CAPS,
        InFlightPolicy::Uncertain,
        vec![
            Box::new(|n| if n == 0 { Act::Ambiguous } else { Act::Sent }),
            always(Act::Sent),
        ],
    )
    .await;
    let rows = uncertain.finish().await;
    assert_eq!(count(&rows, DeliveryState::Sent), 2);
    assert_eq!(count(&rows, DeliveryState::Uncertain), 1, "{rows:#?}");
}

#[tokio::test]
async fn broadcasts_take_turns_on_one_modem() {
    // 21 recipients in each of two broadcasts, one modem: they alternate.
    let rig = rig(
        20,
        &["第一条", "第二条"],
        CAPS,
        InFlightPolicy::Resend,
        vec![always(Act::Sent)],
    )
    .await;
    let rows = rig.finish().await;
    assert_eq!(count(&rows, DeliveryState::Sent), 42);
    // UCS-2 of 二条 (U+4E8C U+6761) marks the second broadcast's PDUs.
    let turns: Vec<bool> = rig
        .asked
        .lock()
        .unwrap()
        .first_parts
        .iter()
        .map(|hex| hex.contains("4E8C6761"))
        .collect();
    assert_eq!(turns.len(), 42);
    assert_eq!(turns.iter().filter(|second| **second).count(), 21);
    let longest_run = turns
        .chunk_by(|a, b| a == b)
        .map(<[bool]>::len)
        .max()
        .unwrap();
    assert!(longest_run <= 2, "broadcasts must alternate: {turns:?}");
}

#[tokio::test]
async fn commits_refused_by_a_full_disk_are_held_and_retried_and_nothing_is_sent_twice() {
    // Modem 0's third message fills the disk: the next 6 group commits fail as on a full disk
    // (its own outcome among them, and whatever else comes along: the other modem's outcome,
    // a `sending` mark, the dispatcher's probes). Then the disk takes writes again.
    let rig = rig(
        12,
        &["水管检修，明天停水"],
        CAPS,
        InFlightPolicy::Resend,
        vec![
            Box::new(|n| {
                if n == 2 {
                    Act::SentAndDiskFull(6)
                } else {
                    Act::Sent
                }
            }),
            always(Act::Sent),
        ],
    )
    .await;
    let rows = rig.finish().await;
    assert_eq!(
        rig.faults.load(Ordering::SeqCst),
        0,
        "every refused commit was tried again"
    );
    assert_eq!(count(&rows, DeliveryState::Sent), 13, "{rows:#?}");
    for d in &rows {
        assert_eq!(d.attempts, 1, "one try each: {d:?}");
        assert!(!d.possible_duplicate, "{d:?}");
    }
    let asked = rig.asked.lock().unwrap();
    assert_eq!(asked.first_parts.len(), 13, "each recipient asked once");
    let distinct: std::collections::HashSet<_> = asked.first_parts.iter().collect();
    assert_eq!(distinct.len(), 13, "no message sent twice");
    // Only the message the other modem had in hand when the disk filled went out meanwhile.
    assert!(
        asked.while_full <= 1,
        "{} messages handed to modems while the disk was full",
        asked.while_full
    );
}

#[tokio::test]
async fn an_opt_out_during_a_broadcast_cancels_the_queued_jobs_and_lets_the_one_in_flight_go() {
    // One modem holds the first message in flight while the rest wait in the pool.
    let release = Arc::new(tokio::sync::Notify::new());
    let hold = release.clone();
    let rig = rig(
        3,
        &["今晚停机"],
        CAPS,
        InFlightPolicy::Resend,
        vec![Box::new(move |n| {
            if n == 0 {
                Act::Hold(hold.clone())
            } else {
                Act::Sent
            }
        })],
    )
    .await;
    let b = rig.broadcasts[0];
    let rows = |store: &StoreHandle| {
        let store = store.clone();
        async move {
            store
                .call(move |s: &mut Store| s.show_broadcast(b))
                .await
                .unwrap()
                .deliveries
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let in_flight = loop {
        if let Some(d) = rows(&rig.store)
            .await
            .into_iter()
            .find(|d| d.state == DeliveryState::Sending)
        {
            break d;
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing is sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let waiting = rows(&rig.store)
        .await
        .into_iter()
        .find(|d| d.state == DeliveryState::Queued)
        .unwrap();
    // Both members reply TD: the one being sent to and one still waiting in the pool.
    let ops = groupsms::store::GroupId(1);
    for number in [in_flight.number.clone(), waiting.number.clone()] {
        let handling = rig
            .store
            .call(move |s: &mut Store| {
                s.write(|tx| {
                    on_incoming(
                        tx,
                        &Settings::default(),
                        &Incoming {
                            number: &number,
                            linked_group: Some(ops),
                            text: "TD",
                            sim: "460000000000000",
                            at: chrono::Utc::now(),
                        },
                    )
                })
            })
            .await
            .unwrap();
        assert!(matches!(handling, Handling::OptOut(_)), "{handling:?}");
    }
    release.notify_one();
    let rows = rig.finish().await;
    let state = |id| rows.iter().find(|d| d.id == id).unwrap().state;
    assert_eq!(state(in_flight.id), DeliveryState::Sent, "{rows:#?}");
    assert_eq!(state(waiting.id), DeliveryState::Cancelled, "{rows:#?}");
    assert_eq!(count(&rows, DeliveryState::Sent), 3);
    assert_eq!(rig.asked(0), 3, "the cancelled job never reached the modem");
    // The live counts learn it: the broadcast leaves the board as finished. The board hears
    // of the last commit just after the store has it, so `finish` may see the store first.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while rig.board.subscribe(b).is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still live on the board after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
