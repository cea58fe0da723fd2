//! Keyword replies by SMS (`service::optout::on_incoming`) on a real SQLite file: which
//! messages are keywords, which groups a reply concerns, the opt-out's effect in one
//! transaction (membership, cancelled queued deliveries, audit), opt-in, and the confirmation
//! notice (once a day, through the SIM the reply came in on, outside the quota).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use groupsms::service::optout::{
    on_incoming, Handling, Incoming, Intent, Keywords, NoNotice, NotHandled, Scope,
};
use groupsms::service::{submit_broadcast, SendRequest, Settings};
use groupsms::store::{
    BroadcastId, DeliveryState, GroupId, NewGroup, QuotaPeriod, Role, Store, StoreError,
};
use proptest::prelude::*;

const SIM: &str = "460001234567890";
/// m1 of `ops_group`.
const M1: &str = "+8613800000001";
const M2: &str = "+8613800000002";

/// `ops` (boss, m1..m3) and `school` (校务组: boss, m1).
fn world() -> (TestDb, Store) {
    let (dir, mut store) = temp_store();
    ops_group(&mut store, 3);
    store
        .create_group(&NewGroup::new("school", "校务组"), utc(T0))
        .unwrap();
    store
        .join("school", "boss", Role::SuperAdmin, utc(T0))
        .unwrap();
    store.join("school", "m1", Role::Member, utc(T0)).unwrap();
    (dir, store)
}

fn send(store: &mut Store, group: &str, body: &str, now: DateTime<Utc>) -> BroadcastId {
    submit_broadcast(
        store,
        &Settings::default(),
        SendRequest {
            caller: groupsms::service::Caller::unix(0, &[]),
            group: group.into(),
            as_member: "boss".into(),
            body: body.into(),
            now,
            urgent: false,
        },
    )
    .unwrap()
    .broadcast_id
}

fn reply(
    store: &mut Store,
    settings: &Settings,
    number: &str,
    text: &str,
    linked: Option<GroupId>,
    at: DateTime<Utc>,
) -> Handling {
    store
        .write(|tx| {
            on_incoming(
                tx,
                settings,
                &Incoming {
                    number,
                    linked_group: linked,
                    text,
                    sim: SIM,
                    at,
                },
            )
        })
        .unwrap()
}

fn opted_out(store: &mut Store, group: &str, member: &str) -> bool {
    let g = store.group(group).unwrap().unwrap().id;
    let m = store.member(member).unwrap().unwrap().id;
    store.membership(g, m).unwrap().unwrap().opted_out
}

fn groups(h: &Handling) -> Vec<String> {
    match h {
        Handling::OptOut(c) | Handling::OptIn(c) => {
            c.groups.iter().map(|g| g.handle.clone()).collect()
        }
        Handling::Other(_) => Vec::new(),
    }
}

fn state_of(store: &mut Store, b: BroadcastId, number: &str) -> DeliveryState {
    store
        .show_broadcast(b)
        .unwrap()
        .deliveries
        .iter()
        .find(|d| d.number == number)
        .unwrap()
        .state
}

#[test]
fn keywords_match_the_whole_message_whatever_the_case_width_and_punctuation() {
    let k = Keywords::default();
    for (text, intent, word) in [
        ("TD", Intent::OptOut, "TD"),
        ("td", Intent::OptOut, "TD"),
        ("ＴＤ", Intent::OptOut, "TD"),
        ("ｔｄ", Intent::OptOut, "TD"),
        ("TD。", Intent::OptOut, "TD"),
        ("  Td!\n", Intent::OptOut, "TD"),
        ("退订！", Intent::OptOut, "退订"),
        ("「退订」", Intent::OptOut, "退订"),
        ("退訂", Intent::OptOut, "退订"),
        ("t", Intent::OptOut, "T"),
        ("Stop.", Intent::OptOut, "STOP"),
        ("unsubscribe", Intent::OptOut, "UNSUBSCRIBE"),
        ("取消", Intent::OptOut, "取消"),
        ("退出", Intent::OptOut, "退出"),
        ("订阅", Intent::OptIn, "订阅"),
        ("start!", Intent::OptIn, "START"),
    ] {
        let said = k
            .exact(text)
            .unwrap_or_else(|| panic!("{text:?} is a keyword"));
        assert_eq!((said.intent, said.keyword), (intent, word), "{text:?}");
    }
    for text in [
        "我不想退订",
        "请退订",
        "TDX",
        "stopp",
        "好的",
        "",
        "。。。",
        "收到，谢谢",
    ] {
        assert!(k.exact(text).is_none(), "{text:?} is no keyword");
    }
    assert!(k.prefixed("我不想退订").is_empty());
    let named = k.prefixed("退订ops");
    assert!(named
        .iter()
        .any(|s| s.keyword == "退订" && s.rest == "ops" && s.intent == Intent::OptOut));
}

#[test]
fn keyword_lists_are_checked() {
    let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let e = Keywords::new(&own(&["TD", "！！"]), &own(&["订阅"])).unwrap_err();
    assert!(e.to_string().contains("\"！！\""), "{e}");
    let e = Keywords::new(&own(&["TD", "stop"]), &own(&["ＳＴＯＰ"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the keyword \"stop\" (keywords) and \"ＳＴＯＰ\" (optin_keywords) read the same; a \
         reply cannot both stop and restart messages"
    );
    assert!(Keywords::new(&[], &[]).unwrap().is_empty());
    // The configuration refuses them too, naming the line.
    let e = groupsms::config::Config::parse(
        "[optout]\nkeywords = [\"TD\"]\noptin_keywords = [\"td\"]\n",
    )
    .unwrap_err();
    assert!(e.starts_with("line 3: [optout] the keyword \"TD\""), "{e}");
    let e = groupsms::config::Config::parse("[optout]\nkeywords = [\" \"]\n").unwrap_err();
    assert!(e.starts_with("line 2: [optout] keywords:"), "{e}");
}

/// Full-width form of an ASCII letter.
fn wide(c: char) -> char {
    char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap()
}

fn disguise(word: &str, mask: &[(bool, bool)]) -> String {
    word.chars()
        .zip(mask.iter().cycle())
        .map(|(c, &(upper, full))| {
            let c = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            if full && c.is_ascii_alphanumeric() {
                wide(c)
            } else {
                c
            }
        })
        .collect()
}

const AROUND: &[&str] = &[
    "", " ", "\u{3000}", "\n", "。", "！", "!", ".", "，", "？", "~", "…", "「", "」", "\t",
];

proptest! {
    #[test]
    fn any_keyword_in_any_disguise_matches(
        k in 0usize..9,
        mask in proptest::collection::vec((any::<bool>(), any::<bool>()), 1..12),
        before in proptest::collection::vec(0usize..AROUND.len(), 0..4),
        after in proptest::collection::vec(0usize..AROUND.len(), 0..4),
    ) {
        let all = ["TD", "T", "退订", "取消", "STOP", "UNSUBSCRIBE", "退出", "订阅", "START"];
        let word = all[k];
        let text = format!(
            "{}{}{}",
            before.iter().map(|&i| AROUND[i]).collect::<String>(),
            disguise(word, &mask),
            after.iter().map(|&i| AROUND[i]).collect::<String>(),
        );
        let keywords = Keywords::default();
        let said = keywords.exact(&text);
        prop_assert!(said.is_some(), "{:?} must match {}", text, word);
        let said = said.unwrap();
        prop_assert_eq!(said.keyword, word);
        prop_assert_eq!(said.intent, if k >= 7 { Intent::OptIn } else { Intent::OptOut });
    }

    #[test]
    fn a_sentence_around_a_keyword_is_not_one(
        k in 0usize..9,
        lead in proptest::collection::vec(0usize..6, 1..4),
        tail in proptest::collection::vec(0usize..6, 0..4),
        gap in 0usize..AROUND.len(),
    ) {
        // Words that start no keyword and name no group.
        let words = ["我", "不想", "请", "x", "好的", "明天"];
        let all = ["TD", "T", "退订", "取消", "STOP", "UNSUBSCRIBE", "退出", "订阅", "START"];
        let text = format!(
            "{}{}{}{}",
            lead.iter().map(|&i| words[i]).collect::<String>(),
            AROUND[gap],
            all[k],
            tail.iter().map(|&i| words[i]).collect::<String>(),
        );
        let keywords = Keywords::default();
        prop_assert!(keywords.exact(&text).is_none(), "{:?}", text);
        prop_assert!(keywords.prefixed(&text).is_empty(), "{:?}", text);
    }
}

#[test]
fn a_keyword_followed_by_a_group_names_it() {
    let (_dir, mut store) = world();
    let settings = Settings::default();
    let at = utc(T0);
    // m1 is in both groups; "TD 校务组" concerns school only.
    let h = reply(&mut store, &settings, M1, "TD 校务组", None, at);
    assert_eq!(groups(&h), ["school"], "{h:?}");
    let Handling::OptOut(c) = &h else { panic!() };
    assert_eq!(c.scope, Scope::Named);
    assert!(opted_out(&mut store, "school", "m1"));
    assert!(!opted_out(&mut store, "ops", "m1"));
    // By handle, glued to the keyword, in full width.
    let h = reply(&mut store, &settings, M1, "退订ＯＰＳ！", None, at);
    assert_eq!(groups(&h), ["ops"], "{h:?}");
    assert!(opted_out(&mut store, "ops", "m1"));
    // A keyword before something that is no group is no keyword reply.
    let h = reply(&mut store, &settings, M2, "TD 财务组", None, at);
    assert_eq!(h, Handling::Other(NotHandled::NoKeyword));
    let h = reply(&mut store, &settings, M2, "我不想退订", None, at);
    assert_eq!(h, Handling::Other(NotHandled::NoKeyword));
    // m2 is not in school: nothing changes, and the handling says why.
    let h = reply(&mut store, &settings, M2, "TD 校务组", None, at);
    assert_eq!(
        h,
        Handling::Other(NotHandled::NotAMember {
            group: "school".into()
        })
    );
    assert_eq!(
        h.describe(),
        "a keyword for group 'school', which this number is not in; nothing changed"
    );
}

#[test]
fn without_a_name_the_linked_group_then_the_recent_ones_then_nothing() {
    let (_dir, mut store) = world();
    let settings = Settings::default();
    let school = store.group("school").unwrap().unwrap().id;
    // Linked to a school broadcast: school only, though ops wrote more lately.
    send(&mut store, "ops", "a", utc(T0));
    let h = reply(&mut store, &settings, M1, "td", Some(school), utc(T0));
    assert_eq!(groups(&h), ["school"]);
    let Handling::OptOut(c) = &h else { panic!() };
    assert_eq!(c.scope, Scope::Linked);
    // Not linked: every group that wrote to the number in 30 days (ops), none other.
    let h = reply(&mut store, &settings, M1, "STOP", None, utc(T0));
    assert_eq!(groups(&h), ["ops"]);
    let Handling::OptOut(c) = &h else { panic!() };
    assert_eq!(c.scope, Scope::Recent);
    // m2's last broadcast is 31 days old: nothing to opt out of.
    let later = utc(T0) + Duration::days(31);
    let h = reply(&mut store, &settings, M2, "TD", None, later);
    assert_eq!(h, Handling::Other(NotHandled::NoGroup));
    assert!(!opted_out(&mut store, "ops", "m2"));
    // A stranger's keyword changes nothing.
    let h = reply(&mut store, &settings, "+8613700000000", "TD", None, utc(T0));
    assert_eq!(h, Handling::Other(NotHandled::UnknownNumber));
    // Not a keyword at all.
    let h = reply(&mut store, &settings, M1, "收到", None, utc(T0));
    assert_eq!(h, Handling::Other(NotHandled::NoKeyword));
}

#[test]
fn an_opt_out_cancels_queued_deliveries_audits_and_later_broadcasts_drop_the_member() {
    let (_dir, mut store) = world();
    let settings = Settings::default();
    let b1 = send(&mut store, "ops", "第一条", utc(T0));
    let b2 = send(&mut store, "ops", "第二条", utc(T0) + Duration::minutes(1));
    let s1 = send(&mut store, "school", "校务", utc(T0));
    // m2's delivery of b1 is already being sent: it goes out.
    let sending = store
        .show_broadcast(b1)
        .unwrap()
        .deliveries
        .iter()
        .find(|d| d.number == M2)
        .unwrap()
        .id;
    store.mark_sending(sending, "/dev/m0", utc(T0)).unwrap();
    let at = utc(T0) + Duration::minutes(2);
    let h = reply(&mut store, &settings, M2, "TD", Some(GroupId(1)), at);
    let Handling::OptOut(c) = &h else {
        panic!("{h:?}")
    };
    assert_eq!(c.groups.len(), 1);
    assert_eq!(c.groups[0].cancelled.len(), 1, "b2's only: {c:?}");
    assert_eq!(c.groups[0].cancelled[0].broadcast, b2);
    assert_eq!(state_of(&mut store, b1, M2), DeliveryState::Sending);
    assert_eq!(state_of(&mut store, b2, M2), DeliveryState::Cancelled);
    assert_eq!(state_of(&mut store, b2, M1), DeliveryState::Queued);
    assert_eq!(state_of(&mut store, s1, M1), DeliveryState::Queued);
    let p = store.broadcast_progress(b2).unwrap();
    assert_eq!((p.queued, p.cancelled, p.total()), (3, 1, 4));
    // The cancelled delivery is no longer queued for the scheduler, and refuses to start.
    assert!(store
        .queued_for_broadcast(b2)
        .unwrap()
        .iter()
        .all(|q| q.number != M2));
    let cancelled = c.groups[0].cancelled[0].delivery;
    let refused = store.mark_sending(cancelled, "/dev/m0", at).unwrap_err();
    assert!(
        matches!(
            refused,
            StoreError::BadTransition {
                from: "cancelled",
                ..
            }
        ),
        "{refused:?}"
    );
    // The try in flight completes.
    store.mark_sent(sending, &[7], at).unwrap();
    // The audit names the number.
    let audit = store.audit_log(5).unwrap();
    let entry = audit.iter().find(|e| e.action == "sms_opt_out").unwrap();
    assert_eq!(entry.actor, M2);
    assert_eq!(entry.subject, "ops");
    assert_eq!(
        entry.detail,
        "'m2' opted out of group 'ops' by replying \"TD\"; 1 queued message(s) cancelled"
    );
    // The next broadcast leaves m2 out as opted out.
    let accepted = submit_broadcast(
        &mut store,
        &settings,
        SendRequest {
            caller: groupsms::service::Caller::unix(0, &[]),
            group: "ops".into(),
            as_member: "boss".into(),
            body: "第三条".into(),
            now: at,
            urgent: false,
        },
    )
    .unwrap();
    assert_eq!(accepted.dropped.opted_out, 1);
    assert!(accepted.queued.iter().all(|q| q.number != M2));
}

#[test]
fn the_last_open_delivery_cancelled_finishes_the_broadcast() {
    let (_dir, mut store) = world();
    let settings = Settings::default();
    let s1 = send(&mut store, "school", "校务", utc(T0));
    let boss = store
        .show_broadcast(s1)
        .unwrap()
        .deliveries
        .iter()
        .find(|d| d.number != M1)
        .unwrap()
        .id;
    store.mark_sending(boss, "/dev/m0", utc(T0)).unwrap();
    store.mark_sent(boss, &[1], utc(T0)).unwrap();
    let h = reply(&mut store, &settings, M1, "退订 校务组", None, utc(T0));
    let Handling::OptOut(c) = &h else { panic!() };
    assert!(c.groups[0].cancelled[0].broadcast_finished);
    assert!(store.broadcast(s1).unwrap().unwrap().finished);
}

#[test]
fn an_opt_in_clears_the_flag_and_leaves_cancelled_deliveries_cancelled() {
    let (_dir, mut store) = world();
    let settings = Settings::default();
    let b = send(&mut store, "ops", "a", utc(T0));
    reply(&mut store, &settings, M1, "TD ops", None, utc(T0));
    assert!(opted_out(&mut store, "ops", "m1"));
    let h = reply(&mut store, &settings, M1, "订阅 ops", None, utc(T0));
    assert_eq!(groups(&h), ["ops"]);
    let Handling::OptIn(c) = &h else { panic!() };
    assert!(!c.groups[0].unchanged);
    assert!(!opted_out(&mut store, "ops", "m1"));
    assert_eq!(state_of(&mut store, b, M1), DeliveryState::Cancelled);
    assert!(store
        .audit_log(1)
        .unwrap()
        .iter()
        .any(|e| e.action == "sms_opt_in" && e.actor == M1));
    // Asking again says it changed nothing.
    let h = reply(&mut store, &settings, M1, "START ops", None, utc(T0));
    let Handling::OptIn(c) = &h else { panic!() };
    assert!(c.groups[0].unchanged);
}

#[test]
fn the_confirmation_is_one_notice_a_day_through_the_same_sim_outside_the_quota() {
    let (_dir, mut store) = world();
    let settings = Settings::default();
    let ops = store.group("ops").unwrap().unwrap().id;
    send(&mut store, "ops", "a", utc(T0));
    let used = |store: &mut Store| {
        store
            .quota_used(ops, QuotaPeriod::Day, "2024-05-10")
            .unwrap()
    };
    let before = used(&mut store);
    // T0 is 10:00 in Shanghai.
    let h = reply(&mut store, &settings, M1, "TD", None, utc(T0));
    let notice = h.notice().expect("a confirmation");
    let queued = store.queued_for_broadcast(notice).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].number, M1);
    assert_eq!(
        &*queued[0].text,
        "您已退订【运维组】的短信，回复\"订阅\"可恢复"
    );
    assert_eq!(queued[0].pin_sim.as_deref(), Some(SIM));
    let jobs = groupsms::scheduler::pool::jobs(queued, store.group("ops").unwrap().as_ref());
    assert_eq!(jobs[0].pinning.modems, [SIM]);
    assert!(!jobs[0].pinning.fallback);
    assert_eq!(jobs[0].group, None, "a repin of ops does not move it");
    assert_eq!(used(&mut store), before, "no quota used");
    let shown = store.broadcast(notice).unwrap().unwrap();
    assert_eq!(shown.sender_handle, "system");
    assert_eq!(shown.caller.as_deref(), Some("sms:+8613800000001"));
    // Again the same local day (23:59 in Shanghai): no second notice, the opt-in neither.
    let h = reply(
        &mut store,
        &settings,
        M1,
        "TD",
        None,
        utc("2024-05-10T15:59:00Z"),
    );
    let Handling::OptOut(c) = &h else { panic!() };
    assert_eq!(
        (c.notice, c.no_notice),
        (None, Some(NoNotice::AlreadyToday))
    );
    let h = reply(
        &mut store,
        &settings,
        M1,
        "订阅",
        None,
        utc("2024-05-10T15:59:30Z"),
    );
    let Handling::OptIn(c) = &h else { panic!() };
    assert_eq!(c.no_notice, Some(NoNotice::AlreadyToday));
    // The next local day (00:00 in Shanghai): the opt-in is confirmed.
    let h = reply(
        &mut store,
        &settings,
        M1,
        "订阅",
        None,
        utc("2024-05-10T16:00:00Z"),
    );
    let id = h.notice().expect("a new day, a new confirmation");
    assert_eq!(
        &*store.queued_for_broadcast(id).unwrap()[0].text,
        "您已恢复接收【运维组】的短信"
    );
    // An empty template turns it off.
    let mut quiet = Settings::default();
    quiet.optout.confirm = String::new();
    let h = reply(&mut store, &quiet, M2, "TD", None, utc(T0));
    let Handling::OptOut(c) = &h else { panic!() };
    assert_eq!((c.notice, c.no_notice), (None, Some(NoNotice::Disabled)));
}

#[test]
fn a_notice_is_no_group_broadcast_for_the_scope_nor_for_cancelling() {
    let (_dir, mut store) = world();
    let settings = Settings::default();
    send(&mut store, "school", "校务", utc(T0));
    let h = reply(&mut store, &settings, M1, "TD 校务组", None, utc(T0));
    let notice = h.notice().unwrap();
    // m1 opts back in to school and out of it again: the queued notice stays queued (it is
    // the confirmation, not a school message).
    reply(&mut store, &settings, M1, "订阅 校务组", None, utc(T0));
    reply(&mut store, &settings, M1, "TD 校务组", None, utc(T0));
    assert_eq!(
        store.show_broadcast(notice).unwrap().deliveries[0].state,
        DeliveryState::Queued
    );
    // m2 got no broadcast lately: nothing is in scope.
    let h = reply(&mut store, &settings, M2, "TD", None, utc(T0));
    assert_eq!(h, Handling::Other(NotHandled::NoGroup));
}

#[test]
fn an_administrator_opting_a_member_out_cancels_the_same_way() {
    let (_dir, mut store) = world();
    let settings = Settings::default();
    let b = send(&mut store, "ops", "a", utc(T0));
    groupsms::service::apply(
        &mut store,
        &settings,
        "root",
        groupsms::service::AdminChange::OptOut {
            group: "ops".into(),
            member: "m2".into(),
        },
        utc(T0),
    )
    .unwrap();
    assert_eq!(state_of(&mut store, b, M2), DeliveryState::Cancelled);
    assert_eq!(state_of(&mut store, b, M1), DeliveryState::Queued);
    let entry = &store.audit_log(1).unwrap()[0];
    assert_eq!(
        entry.detail,
        "'m2' opted out of group 'ops'; 1 queued message(s) cancelled"
    );
}

#[test]
fn doctor_does_not_read_a_cancelled_delivery_as_a_modem_failure() {
    let (dir, mut store) = world();
    if dir.is_postgres() {
        // `groupsms doctor` reads an SQLite file, with or without a daemon.
        eprintln!("not run on PostgreSQL: doctor inspects SQLite files");
        return;
    }
    let settings = Settings::default();
    let b = send(&mut store, "ops", "a", utc(T0));
    let d = store
        .show_broadcast(b)
        .unwrap()
        .deliveries
        .iter()
        .find(|d| d.number == M2)
        .unwrap()
        .id;
    // A try on /dev/m0 failed and was queued again; then m2 opts out.
    store.mark_sending(d, "/dev/m0", utc(T0)).unwrap();
    store
        .requeue(d, "+CMS ERROR: 38", utc(T0), utc(T0))
        .unwrap();
    let seen = || {
        groupsms::store::inspect::inspect(&dir.path().join("groupsms.db"), utc(T0), None)
            .unwrap()
            .recent
            .len()
    };
    assert_eq!(seen(), 1, "the failed try is seen");
    reply(&mut store, &settings, M2, "TD", None, utc(T0));
    assert_eq!(state_of(&mut store, b, M2), DeliveryState::Cancelled);
    assert_eq!(seen(), 0, "a cancelled delivery is no modem failure");
}

#[test]
fn any_text_from_any_sender_is_handled_without_an_error() {
    use proptest::test_runner::{Config, TestRunner};
    let (_dir, store) = world();
    let store = std::cell::RefCell::new(store);
    send(&mut store.borrow_mut(), "ops", "a", utc(T0));
    let settings = Settings::default();
    let all = [
        "TD",
        "T",
        "退订",
        "取消",
        "STOP",
        "UNSUBSCRIBE",
        "退出",
        "订阅",
        "START",
    ];
    let text = prop_oneof![
        any::<String>(),
        (0usize..9, any::<String>()).prop_map(move |(k, s)| format!("{}{s}", all[k])),
        (0usize..9, "[ 。！运维组校务opsschool]{0,8}")
            .prop_map(move |(k, s)| format!("{}{s}", all[k])),
    ];
    let senders = [M1, M2, "+8613700000000", "10086", "", "not a number"];
    let mut runner = TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    });
    runner
        .run(&(text, 0..senders.len()), |(text, who)| {
            let handled = store.borrow_mut().write(|tx| {
                on_incoming(
                    tx,
                    &settings,
                    &Incoming {
                        number: senders[who],
                        linked_group: None,
                        text: &text,
                        sim: SIM,
                        at: utc(T0),
                    },
                )
            });
            prop_assert!(
                handled.is_ok(),
                "{:?} from {:?}: {:?}",
                text,
                senders[who],
                handled
            );
            Ok(())
        })
        .unwrap();
}
