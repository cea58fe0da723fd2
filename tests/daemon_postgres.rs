//! The daemon on PostgreSQL (`[daemon] database = "postgres://..."`), as a user runs it: the
//! real binary, a scratch database in the cluster `GROUPSMS_TEST_POSTGRES` names (`.ci/run`
//! starts one; absent locally: skipped, said clearly), emulated modems on real PTYs.
//! The rest of the daemon's tests run on PostgreSQL too with `GROUPSMS_STORE_BACKEND=postgres`.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::daemon::{ops_group, wait_exit, World};
use common::pg::Scratch;

fn pg_world(modems: usize) -> Option<World> {
    let pg = Scratch::new()?;
    let mut w = World::prepare_on(Some(pg), modems, |c| c, "", "");
    w.start_daemon();
    Some(w)
}

/// Runs `groupsms daemon` on `config` (written to a file of its own) until it stops by itself
/// (at most `limit`); its exit status and what it printed on stderr.
fn daemon_that_stops(config: &str, limit: Duration) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("groupsms.toml");
    std::fs::write(
        &file,
        config.replace("{dir}", &dir.path().display().to_string()),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_groupsms"))
        .args(["--config", file.to_str().unwrap(), "daemon"])
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child, limit).expect("it stops by itself");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status, err)
}

#[test]
fn a_broadcast_reaches_every_member_and_its_record_survives_a_restart() {
    let Some(mut w) = pg_world(3) else { return };
    let status = w.json(&["status"]);
    let db = status["database"].as_str().unwrap().to_string();
    assert!(
        db.starts_with("postgres://groupsms_admin@127.0.0.1:") && db.contains("/gsms_t"),
        "{status}"
    );
    let numbers = ops_group(&w, 30);
    let id = w.send("ops", "alice", "明天上午九点开会");
    let done = w.wait_show(id, "every delivery sent", |b| {
        b["finished"] == true && b["sent"].as_u64() == Some(numbers.len() as u64)
    });
    assert_eq!(done["failed"].as_u64(), Some(0), "{done}");
    let phones = w.phones();
    for n in &numbers {
        assert_eq!(
            phones.phone(n).texts(),
            vec!["【运维组】明天上午九点开会"],
            "{n} gets it once"
        );
    }
    // The quota is counted in the database: it says so after a restart too.
    w.stop_daemon();
    w.start_daemon();
    let again = w.show(id);
    assert_eq!(again["finished"], true, "{again}");
    assert_eq!(
        again["sent"].as_u64(),
        Some(numbers.len() as u64),
        "{again}"
    );
    let group = w.json(&["group", "show", "ops"]);
    assert_eq!(group["quota"]["day_used"].as_u64(), Some(1), "{group}");
    assert_eq!(group["quota"]["month_used"].as_u64(), Some(1), "{group}");
}

#[test]
fn a_connection_the_server_closed_is_made_again_and_the_daemon_goes_on() {
    let Some(w) = pg_world(2) else { return };
    let numbers = ops_group(&w, 5);
    let pg = w.pg.as_ref().unwrap();
    // What a server restart or an administrator does to the daemon's connection.
    common::pg::admin_sql(
        &common::pg::admin_url().unwrap(),
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{}' AND application_name = 'groupsms'",
            pg.name
        ),
    )
    .unwrap();
    let id = w.send("ops", "alice", "connection test");
    let done = w.wait_show(id, "every delivery sent", |b| {
        b["finished"] == true && b["sent"].as_u64() == Some(numbers.len() as u64)
    });
    assert_eq!(done["failed"].as_u64(), Some(0), "{done}");
    // The connection came back (with the daemon's lock, taken again on it).
    let log = w.daemon_log();
    assert!(log.contains("connected to PostgreSQL again"), "{log}");
}

#[test]
fn a_second_daemon_with_the_same_host_name_is_refused() {
    let Some(w) = pg_world(1) else { return };
    // Another daemon, its own socket and modems, the same database and (both unset: the
    // machine's) host name: it would take the first one's deliveries for its own leftovers.
    let url = &w.pg.as_ref().unwrap().url;
    let (status, err) = daemon_that_stops(
        &format!(
            "[daemon]\nsocket = \"{{dir}}/other.sock\"\ndatabase = \"{url}\"\n\
             [[modem]]\ndevice = \"{{dir}}/none*\"\n"
        ),
        Duration::from_secs(30),
    );
    assert!(!status.success());
    assert!(
        err.contains("another groupsms daemon with the host name") && err.contains("[daemon] host"),
        "{err}"
    );
    // The first one carries on.
    assert!(w.json(&["status"])["modems_total"].as_u64().is_some());
}

#[test]
fn a_password_in_the_url_is_refused_and_never_shown() {
    let (status, err) = daemon_that_stops(
        "[daemon]\nsocket = \"{dir}/g.sock\"\n\
         database = \"postgres://groupsms:s3cret-word@127.0.0.1:1/groupsms\"\n",
        Duration::from_secs(30),
    );
    assert!(!status.success());
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("database_password_file"), "{err}");
    assert!(!err.contains("s3cret"), "the password is shown: {err}");
}

#[test]
fn an_unreachable_server_stops_the_start_with_its_address_and_no_password() {
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "s3cret-word\n").unwrap();
    let (status, err) = daemon_that_stops(
        &format!(
            "[daemon]\nsocket = \"{{dir}}/g.sock\"\n\
             database = \"postgres://groupsms@127.0.0.1:1/groupsms\"\n\
             database_password_file = \"{}\"\n",
            secret.path().display()
        ),
        Duration::from_secs(60),
    );
    assert!(!status.success());
    assert!(
        err.contains("postgres://groupsms@127.0.0.1:1/groupsms"),
        "names the database: {err}"
    );
    assert!(!err.contains("s3cret"), "the password is shown: {err}");
}

/// `groupsms --json doctor`'s check named `check`.
fn doctor_check(w: &World, check: &str) -> serde_json::Value {
    let out = w.cli(&["--json", "doctor"]);
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .unwrap_or_else(|| panic!("no check {check} in {all}"))
        .clone()
}

#[test]
fn doctor_reaches_the_database_and_reads_its_schema_without_writing() {
    let Some(pg) = Scratch::new() else { return };
    let mut w = World::prepare_on(Some(pg), 1, |c| c, "", "");
    // Before the first start: reachable, no schema, and doctor creates none.
    let db = doctor_check(&w, "database");
    assert_eq!(db["status"], "ok", "{db}");
    assert!(db["detail"].as_str().unwrap().contains("reachable"), "{db}");
    let schema = doctor_check(&w, "database schema");
    assert_eq!(schema["status"], "warn", "{schema}");
    assert!(
        schema["detail"].as_str().unwrap().contains("no schema yet"),
        "{schema}"
    );
    let again = doctor_check(&w, "database schema");
    assert_eq!(again["status"], "warn", "doctor wrote nothing: {again}");
    // After the daemon made it: the version this binary writes.
    w.start_daemon();
    let schema = doctor_check(&w, "database schema");
    assert_eq!(schema["status"], "ok", "{schema}");
    assert!(
        schema["detail"]
            .as_str()
            .unwrap()
            .contains("the one this binary writes"),
        "{schema}"
    );
}

#[test]
fn doctor_names_an_unreachable_database_and_what_to_check() {
    let w = World::prepare_on(None, 1, |c| c, "", "");
    let config = std::fs::read_to_string(w.config()).unwrap();
    let sqlite = format!("database = \"{}\"", w.database().display());
    assert!(config.contains(&sqlite));
    std::fs::write(
        w.config(),
        config.replace(
            &sqlite,
            "database = \"postgres://groupsms@127.0.0.1:1/groupsms\"",
        ),
    )
    .unwrap();
    let db = doctor_check(&w, "database");
    assert_eq!(db["status"], "fail", "{db}");
    assert!(
        db["detail"]
            .as_str()
            .unwrap()
            .starts_with("PostgreSQL at postgres://groupsms@127.0.0.1:1/groupsms: "),
        "{db}"
    );
    assert!(
        db["advice"]
            .as_str()
            .unwrap()
            .contains("database_password_file"),
        "{db}"
    );
}

/// The throwaway cluster's CA certificate (`.ci/pg-cluster` prints it), else `None` (said).
fn test_ca() -> Option<String> {
    match std::env::var("GROUPSMS_TEST_POSTGRES_CA") {
        Ok(ca) if !ca.is_empty() => Some(ca),
        _ => {
            common::absent(
                "the test cluster's CA certificate (GROUPSMS_TEST_POSTGRES_CA, printed by \
                 `.ci/pg-cluster start`)",
            );
            None
        }
    }
}

#[test]
fn over_tls_the_daemon_checks_the_servers_certificate_and_sends() {
    let Some(pg) = Scratch::new() else { return };
    let Some(ca) = test_ca() else { return };
    let (url, name) = (pg.url.clone(), pg.name.clone());
    let admin = std::env::var("GROUPSMS_TEST_POSTGRES").unwrap();
    let mut w = World::prepare_on(
        Some(pg),
        2,
        |c| c,
        &format!("database_ca_file = \"{ca}\""),
        "",
    );
    let config = std::fs::read_to_string(w.config())
        .unwrap()
        .replace(&url, &format!("{url}?sslmode=require"));
    std::fs::write(w.config(), config).unwrap();
    w.start_daemon();
    let status = w.json(&["status"]);
    assert!(
        status["database"]
            .as_str()
            .unwrap()
            .ends_with("?sslmode=require"),
        "{status}"
    );
    let numbers = ops_group(&w, 4);
    let id = w.send("ops", "alice", "over TLS");
    let done = w.wait_show(id, "sent", |b| b["finished"] == true);
    assert_eq!(done["sent"].as_u64(), Some(numbers.len() as u64), "{done}");
    // Every connection of the daemon (its store, its heartbeat, its listening) is encrypted.
    let count = |ssl: bool| {
        common::pg::query_i64(
            &admin,
            &format!(
                "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
                 WHERE a.datname = '{name}' AND a.application_name = 'groupsms' AND s.ssl = {ssl}"
            ),
        )
    };
    assert!(count(true) >= 3, "{} encrypted connections", count(true));
    assert_eq!(count(false), 0, "no connection in the clear");
}

#[test]
fn over_tls_a_server_whose_certificate_the_daemon_cannot_check_is_refused() {
    let Some(pg) = Scratch::new() else { return };
    if test_ca().is_none() {
        return;
    }
    // The system's authorities do not know the throwaway CA.
    let (status, err) = daemon_that_stops(
        &format!(
            "[daemon]\nsocket = \"{{dir}}/g.sock\"\ndatabase = \"{}?sslmode=require\"\n",
            pg.url
        ),
        Duration::from_secs(60),
    );
    assert!(!status.success());
    assert!(err.contains("certificate"), "{err}");
    // And sslmode=prefer, which could fall back to the clear without a word, is refused.
    let (status, err) = daemon_that_stops(
        &format!(
            "[daemon]\nsocket = \"{{dir}}/g.sock\"\ndatabase = \"{}?sslmode=prefer\"\n",
            pg.url
        ),
        Duration::from_secs(60),
    );
    assert!(!status.success());
    assert!(err.contains("sslmode=require"), "{err}");
}

#[test]
fn doctor_lists_the_hosts_and_warns_of_one_silent_past_its_lease() {
    let Some(pg) = Scratch::new() else { return };
    let mut w = World::prepare_on(Some(pg), 1, |c| c, "host = \"site-a\"\nlease_secs = 2", "");
    w.start_daemon();
    let hosts = doctor_check(&w, "hosts");
    assert_eq!(hosts["status"], "ok", "{hosts}");
    assert!(
        hosts["detail"]
            .as_str()
            .unwrap()
            .contains("site-a (this one) up, last heartbeat"),
        "{hosts}"
    );
    // Killed, and no other daemon to take over: doctor says so once the lease has run out.
    w.kill_daemon();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let silent = loop {
        let hosts = doctor_check(&w, "hosts");
        if hosts["status"] == "warn" || std::time::Instant::now() > deadline {
            break hosts;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(silent["status"], "warn", "{silent}");
    assert!(
        silent["detail"]
            .as_str()
            .unwrap()
            .contains("silent past its lease: site-a"),
        "{silent}"
    );
}
