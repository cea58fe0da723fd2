//! The files for the system around the daemon: the systemd units pass `systemd-analyze verify`
//! (with ExecStart pointing at the binary under test), and the udev rules name the vendors the
//! README promises and tell ModemManager to keep away (udev itself runs them in udev_rules.rs).

mod common;

use std::process::Command;

#[test]
fn systemd_units_verify() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        common::absent("systemd-analyze (Debian package systemd)");
        return;
    };
    assert!(probe.status.success());
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let service = std::fs::read_to_string(format!("{root}/systemd/groupsms.service")).unwrap();
    assert!(
        service.contains("ExecStart=/usr/local/bin/groupsms "),
        "README's install path"
    );
    let service = service.replace("/usr/local/bin/groupsms", env!("CARGO_BIN_EXE_groupsms"));
    std::fs::write(dir.path().join("groupsms.service"), service).unwrap();
    std::fs::copy(
        format!("{root}/systemd/groupsms.socket"),
        dir.path().join("groupsms.socket"),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "groupsms.service", "groupsms.socket"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
    for key in [
        "Type=notify",
        "WatchdogSec=",
        "RuntimeDirectory=groupsms",
        "RuntimeDirectoryPreserve=yes",
        "LimitNOFILE=65536",
        "UMask=0027",
        "StateDirectory=groupsms",
        "SupplementaryGroups=dialout",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
    ] {
        assert!(
            std::fs::read_to_string(format!("{root}/systemd/groupsms.service"))
                .unwrap()
                .contains(key),
            "{key}"
        );
    }
}

#[test]
fn udev_rules_cover_the_promised_vendors() {
    // What the rules do is tested by udev itself in tests/udev_rules.rs (as root); this is the
    // cheap part that runs anywhere: the vendors README promises, the names the daemon's
    // default glob and the service expect, and a syntax check.
    let root = env!("CARGO_MANIFEST_DIR");
    let rules = std::fs::read_to_string(format!("{root}/udev/60-groupsms.rules")).unwrap();
    for (vendor, name) in [
        ("12d1", "huawei-"),
        ("19d2", "zte-"),
        ("1e0e", "simcom-"),
        ("2c7c", "quectel-"),
    ] {
        assert!(
            rules.lines().any(|l| !l.starts_with('#')
                && l.contains(&format!("ATTRS{{idVendor}}==\"{vendor}\""))
                && l.contains(&format!("ENV{{GROUPSMS_MODEL}}=\"{name}"))
                && l.contains("ENV{GROUPSMS_AT_IF}=")),
            "{vendor}: no model line"
        );
    }
    assert!(rules.contains("ENV{ID_MM_DEVICE_IGNORE}=\"1\""));
    assert!(rules.contains("GROUP=\"groupsms\""));
    assert!(rules.contains("SYMLINK+=\"gsm/"));
    // The daemon's default glob (README) takes the links; the service's user is in the group.
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    assert!(readme.contains("device = \"/dev/gsm/*\""));
    let service = std::fs::read_to_string(format!("{root}/systemd/groupsms.service")).unwrap();
    assert!(service.contains("\nGroup=groupsms\n"));
    // Every rule line is KEY op "value" pairs separated by commas (a cheap syntax check:
    // udevadm has no offline verifier before systemd 254).
    for (i, line) in rules
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
    {
        for pair in line.split(", ") {
            let ok = ["==", "!=", "+=", "="].iter().any(|op| {
                pair.split_once(op)
                    .is_some_and(|(k, v)| !k.is_empty() && v.starts_with('"') && v.ends_with('"'))
            });
            assert!(ok, "line {}: bad pair {pair:?}", i + 1);
        }
    }
}
