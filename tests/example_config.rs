//! The shipped example configuration (`packaging/groupsms.toml`, installed as
//! `/etc/groupsms/groupsms.toml`) cannot drift from the code: the real loader reads it and
//! gets exactly the defaults (plus the one `[[modem]]` table that takes `/dev/gsm/*`), and it
//! names every key that the configuration structs accept, each under its own table, with a
//! comment line above it. The key lists come from serde itself, so a new key fails this test
//! until the example documents it.

use std::path::Path;

use groupsms::config::{
    AlertmanagerTable, Config, DaemonConfig, DingtalkRobotTable, HttpConfig, InboxConfig,
    MessageConfig, ModemTable, OptOutConfig, QuotaConfig, RoutingConfig, SchedulerConfig,
    WebhookConfig, DEFAULT_CONFIG_PATH,
};
use serde::de::{self, Deserialize, Visitor};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/groupsms.toml");

#[test]
fn the_example_loads_with_the_real_loader_and_equals_the_defaults() {
    let loaded = Config::load(Path::new(EXAMPLE)).expect("the example loads");
    let expected = Config {
        modems: vec![ModemTable::new("/dev/gsm/*")],
        ..Config::default()
    };
    assert_eq!(loaded, expected);
}

#[test]
fn the_example_names_every_key_with_a_comment() {
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let tables: [(&str, &[&str]); 12] = [
        ("[daemon]", fields::<DaemonConfig>()),
        ("[quota]", fields::<QuotaConfig>()),
        ("[message]", fields::<MessageConfig>()),
        ("[optout]", fields::<OptOutConfig>()),
        ("[scheduler]", fields::<SchedulerConfig>()),
        ("[inbox]", fields::<InboxConfig>()),
        ("[routing]", fields::<RoutingConfig>()),
        ("[http]", fields::<HttpConfig>()),
        ("[[modem]]", fields::<ModemTable>()),
        // Tables with no default instance: shown commented out.
        ("# [[alertmanager]]", fields::<AlertmanagerTable>()),
        ("# [[dingtalk_robot]]", fields::<DingtalkRobotTable>()),
        ("# [[webhook]]", fields::<WebhookConfig>()),
    ];
    // The top level's keys are exactly the tables above.
    let top: Vec<String> = fields::<Config>()
        .iter()
        .map(|f| {
            if *f == "modem" {
                format!("[[{f}]]")
            } else if ["alertmanager", "dingtalk_robot", "webhook"].contains(f) {
                format!("# [[{f}]]")
            } else {
                format!("[{f}]")
            }
        })
        .collect();
    let mut names: Vec<&str> = tables.iter().map(|(t, _)| *t).collect();
    names.sort_unstable();
    let mut top_sorted: Vec<&str> = top.iter().map(String::as_str).collect();
    top_sorted.sort_unstable();
    assert_eq!(names, top_sorted);

    for (table, keys) in tables {
        let start = text
            .lines()
            .position(|l| l == table)
            .unwrap_or_else(|| panic!("{table} is missing"));
        let body: Vec<&str> = text
            .lines()
            .skip(start + 1)
            // A table's body ends at the next table, written or commented out.
            .take_while(|l| {
                let commented_table = l.starts_with("# [[") && l.ends_with("]]");
                !l.starts_with('[') && !commented_table
            })
            .collect();
        assert!(!keys.is_empty(), "{table}: serde named no keys");
        for key in keys {
            // `key = ...`, or `# key = ...` for a key whose default is "absent" (the PIN).
            let at = body
                .iter()
                .position(|l| {
                    let l = l.strip_prefix("# ").unwrap_or(l);
                    l.strip_prefix(key)
                        .is_some_and(|rest| rest.starts_with(" = "))
                })
                .unwrap_or_else(|| panic!("{table} {key} is not in the example"));
            // The line above says what it does (a comment, not another commented-out key).
            let above = if at == 0 { "" } else { body[at - 1] };
            let is_key = |l: &str| {
                let l = l.strip_prefix("# ").unwrap_or(l);
                l.split_once(" = ")
                    .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            };
            assert!(
                above.starts_with("# ") && !is_key(above),
                "{table} {key} has no comment line above it"
            );
        }
    }
}

#[test]
fn the_default_path_is_the_packaged_one_and_a_missing_file_means_defaults() {
    assert_eq!(DEFAULT_CONFIG_PATH, "/etc/groupsms/groupsms.toml");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("groupsms.toml");
    assert_eq!(
        Config::load_or_default(&missing).unwrap(),
        Config::default()
    );
    std::fs::write(&missing, "[quota]\ndaily = 2\n").unwrap();
    assert_eq!(Config::load_or_default(&missing).unwrap().quota.daily, 2);
    std::fs::write(&missing, "[quota]\ndaily = \"two\"\n").unwrap();
    let err = Config::load_or_default(&missing).unwrap_err().to_string();
    assert!(err.contains("line 2"), "{err}");
    // A path that exists but is not a readable file is an error, not the defaults.
    assert!(Config::load_or_default(dir.path()).is_err());
}

/// The field names serde expects for `T`'s struct, as `deserialize_struct` is handed them.
fn fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut got = None;
    let _ = T::deserialize(Grab(&mut got));
    got.expect("a struct")
}

struct Grab<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for Grab<'_> {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(de::Error::custom("only the field names were wanted"))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}
