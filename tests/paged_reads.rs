//! Paged reads through the real daemon and its socket: a 300-member group whose rows are as
//! large as the field limits allow (32-byte handles, 64 four-byte characters in each name,
//! 15-digit numbers, delivery errors and devices far past what is kept), written into the
//! database file before the daemon starts. Every answer line stays within `MAX_LINE`, each row
//! is seen exactly once across the pages, the last page says `next: null`, bad `limit` and
//! `after` values are `invalid_value`, and the CLI shows all 300. The one answer that grows
//! with the request instead (`member_import`'s bad rows) names the first ones and counts all.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use chrono::Utc;
use common::daemon::{connect_as, open_to_others, World};
use groupsms::protocol::MAX_LINE;
use groupsms::service::pages::PageSizes;
use groupsms::service::{submit_broadcast, Caller, SendRequest, Settings};
use groupsms::store::{NewGroup, NewMember, Role, StoreError, MAX_DELIVERY_ERROR};
use serde_json::{json, Value};

const MEMBERS: u64 = 300;
/// A plain member of the group (`member-…01`), not an administrator.
const NOBODY: u32 = 65534;

/// 64 four-byte characters.
fn longest_name(i: u64) -> String {
    (0..64)
        .map(|k| char::from_u32(0x1F600 + ((i + k) % 64) as u32).unwrap())
        .collect()
}

fn handle(i: u64) -> String {
    format!("member-{i:025}")
}

/// Group `g` (64-character name) of [`MEMBERS`] members, super-admin `boss` among them, and
/// one broadcast to all of them whose deliveries all failed; returns its id.
fn populate(w: &World) -> i64 {
    let now = Utc::now();
    let mut store = w.open_store();
    store
        .write(|tx| -> Result<(), StoreError> {
            tx.create_group(&NewGroup::new("g", longest_name(0)), now)?;
            tx.create_member(
                &NewMember::new(handle(0), longest_name(0), "+86139000000000"),
                now,
            )?;
            tx.join("g", &handle(0), Role::SuperAdmin, now)?;
            for i in 1..MEMBERS {
                let phone = format!("+86139{i:09}");
                let mut m = NewMember::new(handle(i), longest_name(i), phone);
                m.unix_uid = (i == 1).then_some(NOBODY);
                tx.create_member(&m, now)?;
                tx.join("g", &handle(i), Role::Member, now)?;
            }
            Ok(())
        })
        .unwrap();
    let accepted = submit_broadcast(
        &mut store,
        &Settings::default(),
        SendRequest {
            caller: Caller::unix(0, &[]),
            group: "g".into(),
            as_member: handle(0),
            body: "\"😀".repeat(60),
            now,
            urgent: false,
        },
    )
    .unwrap();
    // Control characters take 6 bytes each in JSON: the largest a text can be.
    let error = "\u{1}".repeat(4 * MAX_DELIVERY_ERROR);
    let device = "\u{7}".repeat(4 * MAX_DELIVERY_ERROR);
    store
        .write(|tx| -> Result<(), StoreError> {
            for d in &accepted.queued {
                tx.mark_sending(d.id, &device, now)?;
                tx.mark_failed(d.id, &error, now)?;
            }
            Ok(())
        })
        .unwrap();
    accepted.broadcast_id.0
}

struct Conn {
    r: BufReader<UnixStream>,
    id: u64,
    longest: usize,
}

impl Conn {
    fn open(w: &World) -> Conn {
        let s = UnixStream::connect(w.socket()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = Conn {
            r: BufReader::new(s),
            id: 0,
            longest: 0,
        };
        assert_eq!(c.ask("hello", json!({"version": 1}))["ok"], true);
        c
    }

    /// One request and its answer line, which must fit in `MAX_LINE`.
    fn ask(&mut self, op: &str, args: Value) -> Value {
        self.id += 1;
        let line = json!({"id": self.id, "op": op, "args": args}).to_string();
        self.r
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
        let mut answer = String::new();
        self.r.read_line(&mut answer).unwrap();
        let len = answer.trim_end().len();
        assert!(len <= MAX_LINE, "{op} answered a line of {len} bytes");
        self.longest = self.longest.max(len);
        serde_json::from_str(&answer).unwrap()
    }

    /// Every page of `op`: the rows under `rows`, and how many rows each page held.
    fn pages(&mut self, op: &str, args: Value, rows: &str) -> (Vec<Value>, Vec<usize>) {
        let (mut all, mut sizes) = (Vec::new(), Vec::new());
        let mut after = Value::Null;
        loop {
            let mut a = args.clone();
            if !after.is_null() {
                a["after"] = after.clone();
            }
            let answer = self.ask(op, a);
            assert_eq!(answer["ok"], true, "{answer}");
            let page = answer["result"][rows].as_array().unwrap().clone();
            sizes.push(page.len());
            all.extend(page);
            after = answer["result"]["next"].clone();
            if after.is_null() {
                return (all, sizes);
            }
            assert!(sizes.len() <= MEMBERS as usize, "the pages never end");
        }
    }
}

fn once_each(rows: &[Value], key: &str) {
    let seen: HashSet<&str> = rows.iter().map(|r| r[key].as_str().unwrap()).collect();
    assert_eq!(seen.len(), rows.len(), "a row was seen twice");
    for i in 0..MEMBERS {
        assert!(seen.contains(handle(i).as_str()), "{} missing", handle(i));
    }
}

#[test]
fn the_largest_rows_come_in_pages_each_row_once_and_every_line_within_max_line() {
    let mut w = World::prepare(1, |c| c, "", "");
    let id = populate(&w);
    w.start_daemon();
    let sizes = PageSizes::new(Settings::default().max_parts);
    let mut c = Conn::open(&w);

    // An old client: no limit, no after; the first page and where the next starts.
    let first = c.ask("broadcast_show", json!({"broadcast": id}));
    let page = first["result"]["deliveries"].as_array().unwrap();
    assert_eq!(page.len(), sizes.deliveries as usize);
    assert!(
        first["result"]["next"].is_i64(),
        "{}",
        first["result"]["next"]
    );
    // What a modem said is kept cut: 256 bytes and `…`.
    assert_eq!(
        page[0]["error"].as_str().unwrap(),
        format!("{}…", "\u{1}".repeat(MAX_DELIVERY_ERROR))
    );

    let (deliveries, per_page) = c.pages("broadcast_show", json!({"broadcast": id}), "deliveries");
    once_each(&deliveries, "member");
    let full = sizes.deliveries as usize;
    assert!(
        per_page[..per_page.len() - 1].iter().all(|&n| n == full),
        "{per_page:?}"
    );
    assert_eq!(per_page.len(), (MEMBERS as usize).div_ceil(full));
    // A smaller limit gives smaller pages, still each delivery once.
    let (again, per_page) = c.pages(
        "broadcast_show",
        json!({"broadcast": id, "limit": 7}),
        "deliveries",
    );
    once_each(&again, "member");
    assert_eq!(per_page.len(), (MEMBERS as usize).div_ceil(7));

    let (members, per_page) = c.pages("group_show", json!({"group": "g"}), "members");
    once_each(&members, "handle");
    assert_eq!(per_page[0], sizes.group_members as usize);
    let (members, _) = c.pages("member_list", json!({"group": "g"}), "members");
    once_each(&members, "handle");
    let (members, per_page) = c.pages("member_list", json!({}), "members");
    once_each(&members, "handle");
    assert_eq!(per_page[0], sizes.members as usize);
    let (groups, _) = c.pages("group_list", json!({"limit": 1}), "groups");
    assert_eq!(groups.len(), 1);
    let (groups, _) = c.pages("member_show", json!({"member": handle(1)}), "groups");
    assert_eq!(groups.len(), 1);
    let (broadcasts, _) = c.pages("broadcast_list", json!({"limit": 1}), "broadcasts");
    assert_eq!(broadcasts.len(), 1);
    eprintln!("longest answer line: {} bytes", c.longest);
    assert!(c.longest > MAX_LINE / 2, "the rows were not that large");

    // Bad limits and cursors are invalid values.
    let most = sizes.deliveries;
    for (op, args) in [
        ("broadcast_show", json!({"broadcast": id, "limit": 0})),
        (
            "broadcast_show",
            json!({"broadcast": id, "limit": most + 1}),
        ),
        ("broadcast_show", json!({"broadcast": id, "after": -5})),
        ("member_list", json!({"limit": 0})),
        ("member_list", json!({"after": "x".repeat(40)})),
        ("group_show", json!({"group": "g", "limit": 100_000})),
        ("member_show", json!({"member": handle(1), "limit": 0})),
        ("group_list", json!({"after": "y".repeat(33)})),
        ("broadcast_list", json!({"after": -1})),
    ] {
        let a = c.ask(op, args.clone());
        assert_eq!(a["error"]["code"], "invalid_value", "{op} {args}: {a}");
    }
    let a = c.ask("broadcast_show", json!({"broadcast": id, "limit": 0}));
    assert_eq!(
        a["error"]["message"],
        format!("\"limit\" must be 1 to {most}, not 0")
    );

    // The CLI follows the pages: one document with all 300, and every row in human output.
    let shown = w.json(&["broadcast", "show", &id.to_string()]);
    let deliveries = shown["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), MEMBERS as usize);
    once_each(deliveries, "member");
    assert!(shown.get("next").is_none(), "one document, as before pages");
    let human = w.ok(&["broadcast", "show", &id.to_string()]);
    for i in 0..MEMBERS {
        assert!(human.contains(&handle(i)), "{} missing", handle(i));
    }
    let group = w.json(&["group", "show", "g"]);
    once_each(group["members"].as_array().unwrap(), "handle");
    let list = w.json(&["member", "list"]);
    once_each(list["members"].as_array().unwrap(), "handle");
}

#[test]
fn many_reads_of_one_user_at_once_wait_their_turn_and_are_all_answered() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: reading as another user needs root");
        return;
    }
    let mut w = World::prepare(1, |c| c, "", "");
    let id = populate(&w);
    w.start_daemon();
    open_to_others(&w);
    // 60 connections of one user (the limit is 64), each asking at the same moment: the
    // daemon answers 2 at a time and the rest wait, none is turned away.
    let mut conns = connect_as(NOBODY, &w.socket(), 60, |s| {
        s.write_all(b"{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}\n")
            .unwrap();
    });
    let mut readers: Vec<BufReader<UnixStream>> = conns
        .iter_mut()
        .map(|s| {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut hello = String::new();
            r.read_line(&mut hello).unwrap();
            assert!(hello.contains("\"ok\":true"), "{hello}");
            r
        })
        .collect();
    let ask = format!("{{\"id\":2,\"op\":\"broadcast_show\",\"args\":{{\"broadcast\":{id}}}}}\n");
    for s in &mut conns {
        s.write_all(ask.as_bytes()).unwrap();
    }
    for r in &mut readers {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.len() <= MAX_LINE + 1);
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(answer["ok"], true, "{answer}");
        let page = answer["result"]["deliveries"].as_array().unwrap();
        // A plain member sees the numbers masked.
        assert!(
            page[1]["number"].as_str().unwrap().contains("*****"),
            "{}",
            page[1]
        );
    }
}

#[test]
fn an_import_of_thousands_of_bad_rows_answers_within_max_line() {
    let w = World::start(1, |c| c, "");
    let mut c = Conn::open(&w);
    let rows = 5000;
    let csv = format!("handle,name,phone\n{}", "Bad,x,1\n".repeat(rows));
    for skip_bad in [false, true] {
        let a = c.ask("member_import", json!({"csv": csv, "skip_bad": skip_bad}));
        if skip_bad {
            assert_eq!(a["ok"], true, "{a}");
            assert_eq!(a["result"]["skipped_total"], rows);
            let shown = a["result"]["skipped"].as_array().unwrap();
            assert_eq!(shown.len(), 32);
            assert_eq!(shown[0]["line"], 2);
        } else {
            assert_eq!(a["error"]["code"], "invalid_value", "{a}");
            let message = a["error"]["message"].as_str().unwrap();
            assert!(
                message.starts_with("5000 bad rows, nothing was imported"),
                "{message}"
            );
            assert!(
                message.ends_with(&format!("… and {} more", rows - 32)),
                "{message}"
            );
        }
    }
}
