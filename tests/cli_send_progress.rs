//! `groupsms send --wait` as a user sees it: the real binary, following a real daemon's
//! `subscribe` stream, drawing its progress bar on a pseudo-terminal (and plain lines when its
//! output is not a terminal).

mod common;

use std::fs::File;
use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use common::daemon::{ops_group, wait_exit, World};
use nix::pty::{openpty, Winsize};
use unicode_width::UnicodeWidthStr;

/// Runs the CLI with standard output and error on a pseudo-terminal of `size` (none: 0 x 0,
/// a terminal that does not know its size); its exit status and all it wrote.
fn on_pty(w: &World, size: Option<Winsize>, args: &[&str]) -> (std::process::ExitStatus, String) {
    let pty = openpty(size.as_ref(), None).unwrap();
    let mut cmd = w.command(args);
    cmd.stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave));
    let mut child = cmd.spawn().unwrap();
    // The child holds the only slave ends now: the master reads until it exits.
    drop(cmd);
    let mut master = File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut screen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => return screen, // EIO once no slave is open
                Ok(n) => screen.extend_from_slice(&buf[..n]),
            }
        }
    });
    let status = wait_exit(&mut child, Duration::from_secs(60)).expect("the CLI ends");
    let screen = String::from_utf8(reader.join().unwrap()).unwrap();
    (status, screen)
}

/// `(done, total)` of every bar drawn in `screen` (`[####----] 2/3  sent 2 ...`), in order.
fn bars(screen: &str) -> Vec<(u32, u32)> {
    screen
        .split(['\r', '\n'])
        .filter_map(|segment| {
            let rest = segment.strip_prefix('[')?;
            let (_, counts) = rest.split_once("] ")?;
            let (done, total) = counts.split_whitespace().next()?.split_once('/')?;
            Some((done.parse().ok()?, total.parse().ok()?))
        })
        .collect()
}

#[test]
fn the_bar_on_a_terminal_shows_the_real_counts() {
    let w = World::start(2, |c| c, "");
    let numbers = ops_group(&w, 2);
    assert_eq!(numbers.len(), 3);

    let (status, screen) = on_pty(
        &w,
        None,
        &["send", "--group", "ops", "--as", "alice", "--wait", "开会"],
    );
    assert!(status.success(), "{status}: {screen}\n{}", w.daemon_log());
    assert!(screen.contains("3 recipients"), "{screen:?}");
    assert!(
        screen.contains("3 sent, 0 failed, 0 uncertain"),
        "{screen:?}"
    );

    let drawn = bars(&screen);
    assert!(!drawn.is_empty(), "no bar drawn: {screen:?}");
    // Every state of the bar counts the three recipients, from the first snapshot on; none is
    // the `0/0` of a client that cannot read the events.
    assert!(drawn.iter().all(|&(_, total)| total == 3), "{drawn:?}");
    assert!(drawn.windows(2).all(|p| p[0].0 <= p[1].0), "{drawn:?}");
    assert_eq!(drawn.last(), Some(&(3, 3)), "{screen:?}");
    assert!(
        screen.contains("[########################] 3/3  sent 3  failed 0  remaining 0"),
        "{screen:?}"
    );
    // Redrawn in place: each state starts at the line's beginning and clears what follows.
    assert!(
        screen.contains("\r[") && screen.contains("\x1b[K"),
        "{screen:?}"
    );

    // Not a terminal: no redrawing, the last state once.
    let out = w.cli(&["send", "--group", "ops", "--as", "alice", "--wait", "散会"]);
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
    assert_eq!(bars(&stderr), vec![(3, 3)], "{stderr:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("3 sent, 0 failed, 0 uncertain"), "{stdout}");

    // A terminal 40 columns wide: each state of the bar is cut to 39, so `\r` redraws it in
    // place instead of leaving wrapped rows behind.
    let narrow = Winsize {
        ws_row: 24,
        ws_col: 40,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let (status, screen) = on_pty(
        &w,
        Some(narrow),
        &["send", "--group", "ops", "--as", "alice", "--wait", "再会"],
    );
    assert!(status.success(), "{status}: {screen}");
    let states: Vec<&str> = screen
        .split('\r')
        .filter(|s| s.starts_with('['))
        .map(|s| s.split("\x1b[K").next().unwrap())
        .collect();
    assert!(!states.is_empty(), "{screen:?}");
    for state in &states {
        assert!(state.width() <= 39, "{} columns: {state:?}", state.width());
        assert!(state.ends_with('…'), "{state:?}");
    }
    assert_eq!(bars(&screen).last(), Some(&(3, 3)), "{screen:?}");
}
