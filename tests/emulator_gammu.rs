//! Realism checked by software nobody here wrote: Debian's `gammu` identifies an emulated
//! modem and sends a Chinese message through it; the emulator's log must show the number and
//! the text. Without gammu the test says so and passes, unless GROUPSMS_REQUIRE_ORACLES=1.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use groupsms::emulator::{Emulator, EmulatorConfig, Phones, Profile};

fn gammu() -> Option<PathBuf> {
    let path = Path::new("/usr/bin/gammu");
    if path.exists() {
        return Some(path.to_path_buf());
    }
    let msg = "gammu is not installed (apt-get install gammu); skipping the oracle test";
    if std::env::var("GROUPSMS_REQUIRE_ORACLES").as_deref() == Ok("1") {
        panic!("{msg}, but GROUPSMS_REQUIRE_ORACLES=1");
    }
    eprintln!("{msg}");
    None
}

/// Runs gammu in a blocking thread (the emulator needs the runtime meanwhile), with a deadline.
async fn run_gammu(gammu: &Path, rc: &Path, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(gammu);
    cmd.arg("-c").arg(rc).args(args);
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || cmd.output()),
    )
    .await
    .expect("gammu did not finish within 60 s")
    .unwrap()
    .expect("gammu runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn write_rc(dir: &Path, device: &Path) -> PathBuf {
    let rc = dir.join("gammurc");
    std::fs::write(
        &rc,
        format!(
            "[gammu]\ndevice = {}\nconnection = at115200\nlogfile = {}\nlogformat = textall\n",
            device.display(),
            dir.join("gammu.log").display()
        ),
    )
    .unwrap();
    rc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_identifies_and_sends_chinese_through_every_profile() {
    let Some(gammu) = gammu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sent.jsonl");
    let profiles = [
        Profile::Huawei,
        Profile::Simcom,
        Profile::Quectel,
        Profile::Generic,
    ];
    let mut cfg = EmulatorConfig::new(dir.path().join("dev"), profiles.len()).log(&log);
    for (i, p) in profiles.iter().enumerate() {
        cfg = cfg.modem(i, |m| {
            m.profile = *p;
            m.knobs.send_latency = Duration::from_millis(20);
        });
    }
    let h = Emulator::start(cfg).unwrap();
    let text = "各位同学：周六上午九点在图书馆三楼集合，请准时到达。谢谢！";
    // One gammu per modem, all at once (gammu sleeps a lot between commands).
    let summary = h.summary();
    let mut runs = Vec::new();
    for (i, p) in profiles.iter().copied().enumerate() {
        let work = dir.path().join(format!("gammu{i}"));
        std::fs::create_dir_all(&work).unwrap();
        let rc = write_rc(&work, h.path(i));
        let gammu = gammu.clone();
        let imei = summary.modems[i].imei.clone();
        runs.push(tokio::spawn(async move {
            let (ok, out) = run_gammu(&gammu, &rc, &["identify"]).await;
            let debug = std::fs::read_to_string(work.join("gammu.log")).unwrap_or_default();
            assert!(ok, "gammu identify failed on {p}: {out}\n{debug}");
            assert!(out.contains(&imei), "{p}: {out}");
            assert!(
                out.to_lowercase()
                    .contains(&p.manufacturer().to_lowercase()),
                "{p}: {out}"
            );
            let (ok, out) = run_gammu(
                &gammu,
                &rc,
                &[
                    "sendsms",
                    "TEXT",
                    "+8613800138000",
                    "-unicode",
                    "-text",
                    text,
                ],
            )
            .await;
            let debug = std::fs::read_to_string(work.join("gammu.log")).unwrap_or_default();
            assert!(ok, "gammu sendsms failed on {p}: {out}\n{debug}");
            assert!(out.contains("OK, message reference="), "{p}: {out}");
        }));
    }
    for r in runs {
        r.await.unwrap();
    }
    let phones = Phones::from_log(&log).unwrap();
    let phone = phones.phone("+8613800138000");
    assert_eq!(
        phone.texts(),
        vec![text; profiles.len()],
        "{}",
        phones.render()
    );
    let records = groupsms::emulator::log::read_log(&log).unwrap();
    assert!(records.iter().all(|r| r.encoding == "ucs2"));
    let mut modems: Vec<usize> = records.iter().map(|r| r.modem).collect();
    modems.sort();
    assert_eq!(modems, vec![0, 1, 2, 3]);
    h.shutdown().await;
}
