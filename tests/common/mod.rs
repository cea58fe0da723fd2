//! Helpers shared by the integration tests: where the shared corpus and the oracles are.
#![allow(dead_code)]

use std::path::PathBuf;

/// True when CI asks that absent oracles (corpus, Gammu) fail the run instead of skipping.
pub fn oracles_required() -> bool {
    std::env::var_os("GROUPSMS_REQUIRE_ORACLES").is_some_and(|v| v != "0" && !v.is_empty())
}

/// Says clearly that an oracle is absent; fails when CI requires oracles.
pub fn absent(what: &str) {
    if oracles_required() {
        panic!("{what} is absent, and GROUPSMS_REQUIRE_ORACLES is set");
    }
    eprintln!("SKIPPED: {what} is absent (set GROUPSMS_REQUIRE_ORACLES=1 to make this an error)");
}

/// The shared conformance corpus: `$GROUPSMS_CORPUS`, else `../shared/corpus` beside the checkout.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("GROUPSMS_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    };
    if dir.join("pdus.jsonl").is_file() {
        Some(dir)
    } else {
        absent(&format!(
            "the conformance corpus at {} (GROUPSMS_CORPUS)",
            dir.display()
        ));
        None
    }
}

/// Reads a JSON-lines file of the corpus.
pub fn jsonl(path: PathBuf) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// The Python interpreter that has Debian's `gammu` module, if any.
pub fn gammu_python() -> Option<String> {
    let python = std::env::var("GAMMU_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import gammu"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some(python)
    } else {
        absent(&format!(
            "python-gammu (via {python}; install Debian package python3-gammu)"
        ));
        None
    }
}
