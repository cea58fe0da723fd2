//! `groupsms generate` (what the package ships): a man page for the command and for each
//! visible subcommand, and bash, zsh and fish completions, each naming every subcommand.

use std::process::Command;

use clap::CommandFactory;
use groupsms::cli::Cli;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_groupsms"));
    // The generators must not depend on the machine's /etc/groupsms.
    c.env("GROUPSMS_CONFIG", "/dev/null");
    c
}

/// (name, its visible subcommands' names) for the top level and each command with subcommands.
fn tree() -> Vec<(String, Vec<String>)> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    fn walk(cmd: &clap::Command, out: &mut Vec<(String, Vec<String>)>) {
        let subs: Vec<&clap::Command> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .collect();
        let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
        out.push((
            name,
            subs.iter().map(|s| s.get_name().to_string()).collect(),
        ));
        for s in subs {
            walk(s, out);
        }
    }
    walk(&cmd, &mut out);
    out
}

#[test]
fn man_pages_exist_for_every_command_and_name_their_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["generate", "man"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let tree = tree();
    let top = &tree[0].1;
    for expected in [
        "send", "backup", "restore", "daemon", "group", "member", "status",
    ] {
        assert!(top.iter().any(|s| s == expected), "{expected} in {top:?}");
    }
    assert!(!top.iter().any(|s| s == "generate"), "generate is hidden");
    for (name, subs) in &tree {
        let path = dir.path().join(format!("{name}.1"));
        let page =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            page.starts_with(".ie") || page.contains(".TH"),
            "{name}: not roff"
        );
        assert!(
            page.contains(&format!(".TH {name} 1")),
            "{name}: title line: {}",
            &page[..page.len().min(300)]
        );
        for sub in subs {
            // roff escapes every '-' in the name.
            assert!(
                page.contains(&format!("{name}-{sub}(1)").replace('-', "\\-")),
                "{name}.1 does not point to {name}-{sub}(1)"
            );
            assert!(
                dir.path().join(format!("{name}-{sub}.1")).is_file(),
                "{name}-{sub}.1 is missing"
            );
        }
    }
    let pages = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(pages, tree.iter().map(|(_, s)| s.len()).sum::<usize>() + 1);
    // The page of a subcommand documents its own options.
    let backup = std::fs::read_to_string(dir.path().join("groupsms-backup.1")).unwrap();
    assert!(backup.contains("overwrite"), "{backup}");
    let top_page = std::fs::read_to_string(dir.path().join("groupsms.1")).unwrap();
    assert!(
        top_page.contains("/etc/groupsms/groupsms.toml"),
        "the default configuration path is documented"
    );
}

#[test]
fn completions_for_bash_zsh_and_fish_name_every_subcommand() {
    let tree = tree();
    for shell in ["bash", "zsh", "fish"] {
        let out = bin()
            .args(["generate", "completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.len() > 1000, "{shell}: {script}");
        for (name, subs) in &tree {
            for sub in subs {
                assert!(
                    script.contains(sub.as_str()),
                    "{shell}: {name} {sub} is missing"
                );
            }
        }
        assert!(script.contains("config"), "{shell}: global options");
    }
    let out = bin()
        .args(["generate", "completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}
