//! Which devices are modems: the configured paths and globs, expanded at start and again
//! whenever something appears where they point (a stick plugged in, a udev link created, an
//! emulator's PTY link). Each new device gets its actor ([`super::actor::spawn`]) on a serial
//! port opened at its configured baud rate; a known device that reappears is asked to probe
//! again at once.
//!
//! Hot-plug is inotify, no polling: each pattern's directory is watched, or, while that
//! directory does not exist yet (`/dev/gsm` before the first stick), its nearest existing
//! ancestor, until the directory appears.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::actor::{self, ActorSettings, ModemHandle};
use super::port;

/// One configured `[[modem]]` entry, as discovery needs it.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    /// A path, or a glob (`/dev/gsm/*`).
    pub pattern: String,
    pub baud: u32,
    pub settings: ActorSettings,
}

/// A modem that joined: its handle and the index of the [`DeviceSpec`] it matched.
#[derive(Debug, Clone)]
pub struct Joined {
    pub handle: ModemHandle,
    pub spec: usize,
}

/// The configured devices and the actors started for them.
pub struct Discovery {
    specs: Vec<DeviceSpec>,
    shutdown: watch::Receiver<bool>,
    known: HashMap<String, ModemHandle>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Discovery {
    pub fn new(specs: Vec<DeviceSpec>, shutdown: watch::Receiver<bool>) -> Self {
        Discovery {
            specs,
            shutdown,
            known: HashMap::new(),
            tasks: Vec::new(),
        }
    }

    /// Starts an actor for every matching device not yet known, and asks known ones whose
    /// device exists again to probe now. Returns the new ones.
    pub fn scan(&mut self) -> Vec<Joined> {
        let mut joined = Vec::new();
        for (index, spec) in self.specs.iter().enumerate() {
            for device in expand(&spec.pattern) {
                if let Some(handle) = self.known.get(&device) {
                    if Path::new(&device).exists() {
                        handle.probe();
                    }
                    continue;
                }
                let (path, baud) = (device.clone(), spec.baud);
                let (handle, task) = actor::spawn(
                    &device,
                    move || port::open(&path, baud),
                    spec.settings.clone(),
                    self.shutdown.clone(),
                );
                tracing::info!(%device, baud, "modem joined the pool");
                self.tasks.push(task);
                self.known.insert(device, handle.clone());
                joined.push(Joined {
                    handle,
                    spec: index,
                });
            }
        }
        joined
    }

    /// Waits for every actor to end (after shutdown was signalled).
    pub async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// A watch on the directories of the configured patterns.
    pub fn watch(&self) -> Hotplug {
        Hotplug::new(self.specs.iter().map(|s| s.pattern.clone()).collect())
    }
}

/// A path as is, or the paths a glob matches now (sorted).
pub fn expand(pattern: &str) -> Vec<String> {
    if !pattern.contains(['*', '?', '[']) {
        return vec![pattern.to_string()];
    }
    let mut found: Vec<String> = glob::glob(pattern)
        .map(|paths| {
            paths
                .filter_map(Result::ok)
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The directory where a device matching `pattern` would appear: `/dev/gsm/*` and
/// `/dev/gsm/modem0` -> `/dev/gsm`, `/dev/serial/by-id/usb-Huawei*` -> `/dev/serial/by-id`.
pub fn pattern_dir(pattern: &str) -> Option<PathBuf> {
    let literal = pattern.split(['*', '?', '[']).next().unwrap_or("");
    if literal.ends_with('/') {
        Some(Path::new(literal).components().collect())
    } else {
        Path::new(literal).parent().map(Path::to_path_buf)
    }
    .filter(|d| !d.as_os_str().is_empty())
}

/// The directory to watch for `dir` to change: `dir` itself once it exists, else its nearest
/// existing ancestor (where `dir`, or a directory on the way to it, will be created).
pub fn nearest_existing(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find(|d| d.is_dir()).map(Path::to_path_buf)
}

/// inotify on the patterns' directories (or their nearest existing ancestors). The blocking
/// reads run on a thread of their own; after each event the watches are renewed, so a
/// directory created later is watched from then on.
pub struct Hotplug {
    events: Option<mpsc::Receiver<()>>,
}

impl Hotplug {
    fn new(patterns: Vec<String>) -> Hotplug {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        let dirs: BTreeSet<PathBuf> = patterns.iter().filter_map(|p| pattern_dir(p)).collect();
        if dirs.is_empty() {
            return Hotplug { events: None };
        }
        let inotify = match Inotify::init(InitFlags::IN_CLOEXEC) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "inotify unavailable: hot-plugged modems join only at restart");
                return Hotplug { events: None };
            }
        };
        let watch_all = move |inotify: &Inotify, watched: &mut BTreeSet<PathBuf>| {
            for d in &dirs {
                // Watch, then look again: a directory created between the look and the watch
                // would otherwise go unseen.
                while let Some(target) = nearest_existing(d) {
                    if watched.contains(&target) {
                        break;
                    }
                    let flags = AddWatchFlags::IN_CREATE
                        | AddWatchFlags::IN_MOVED_TO
                        | AddWatchFlags::IN_ATTRIB;
                    if let Err(e) = inotify.add_watch(&target, flags) {
                        tracing::warn!(dir = %target.display(), error = %e, "cannot watch for hot-plugged modems");
                        break;
                    }
                    if &target != d {
                        tracing::info!(
                            dir = %d.display(),
                            watching = %target.display(),
                            "modem directory does not exist yet; watching for it"
                        );
                    }
                    watched.insert(target);
                }
            }
        };
        let mut watched = BTreeSet::new();
        watch_all(&inotify, &mut watched);
        let (tx, rx) = mpsc::channel(1);
        let spawned = std::thread::Builder::new()
            .name("groupsms-hotplug".into())
            .spawn(move || loop {
                match inotify.read_events() {
                    Ok(events) if !events.is_empty() => {
                        // A directory on the way may have appeared: watch it from now on.
                        watch_all(&inotify, &mut watched);
                        // Coalesce: one pending rescan is enough.
                        if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(()) {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "inotify read failed; hot-plug watching stops");
                        return;
                    }
                }
            });
        Hotplug {
            events: spawned.ok().map(|_| rx),
        }
    }

    pub fn active(&self) -> bool {
        self.events.is_some()
    }

    /// Waits for directory events; true when something appeared.
    pub async fn changed(&mut self) -> bool {
        let Some(rx) = &mut self.events else {
            return false;
        };
        if rx.recv().await.is_none() {
            self.events = None;
            return false;
        }
        // Let udev or the emulator finish creating the node before it is opened.
        tokio::time::sleep(Duration::from_millis(100)).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_dirs() {
        let d = |p: &str| pattern_dir(p).map(|p| p.display().to_string());
        assert_eq!(d("/dev/gsm/*").as_deref(), Some("/dev/gsm"));
        assert_eq!(d("/dev/gsm/modem0").as_deref(), Some("/dev/gsm"));
        assert_eq!(
            d("/dev/serial/by-id/usb-Huawei*-if02-port0").as_deref(),
            Some("/dev/serial/by-id")
        );
        assert_eq!(d("/dev/gsm/").as_deref(), Some("/dev/gsm"));
        assert_eq!(d("modem0"), None);
    }

    #[test]
    fn a_missing_directory_is_watched_through_its_nearest_ancestor() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("a/b/gsm");
        assert_eq!(nearest_existing(&target).unwrap(), tmp.path());
        std::fs::create_dir_all(tmp.path().join("a")).unwrap();
        assert_eq!(nearest_existing(&target).unwrap(), tmp.path().join("a"));
        std::fs::create_dir_all(&target).unwrap();
        assert_eq!(nearest_existing(&target).unwrap(), target);
    }
}
