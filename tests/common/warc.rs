//! The reference WARC reader, warcio (pip), run on the files a test wrote.
//! `.ci/run` installs it; without it a test fails under `CI=true` and
//! skips loudly elsewhere ([`super::tool_missing`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// True when `warcio` runs here; otherwise reports it missing.
pub fn warcio_available() -> bool {
    let ok = Command::new("warcio")
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        super::tool_missing("warcio is not installed (pip install warcio)");
    }
    ok
}

/// The WARC files under a store, by name.
pub fn warc_files(store: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = super::walk(&store.join("warc"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".warc.gz"))
        .collect();
    files.sort();
    files
}

/// `warcio check -v FILE`: whether it passed, and what it said.
pub fn warcio_check(file: &Path) -> (bool, String) {
    let out = Command::new("warcio")
        .args(["check", "-v"])
        .arg(file)
        .output()
        .expect("run warcio");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Whether `warcio check` passes `file` with every digest present
/// verified. (warcio exits 0 on a file whose last record is cut short; it
/// then says the record's digest was "present but not checked".)
pub fn checks_clean(file: &Path) -> (bool, String) {
    let (ok, out) = warcio_check(file);
    (ok && !out.contains("digest present but not checked\n"), out)
}

/// Asserts [`checks_clean`]; returns how many digests passed.
pub fn assert_checks_clean(file: &Path) -> usize {
    let (clean, out) = checks_clean(file);
    assert!(clean, "warcio check {}: {out}", file.display());
    out.matches("digest pass").count()
}

/// A record's offset from `warcio index` (which prints it as a string).
pub fn offset(record: &Value) -> u64 {
    record["offset"].as_str().unwrap().parse().unwrap()
}

/// `warcio index -f FIELDS FILE`, one JSON object per record.
pub fn warcio_index(file: &Path, fields: &str) -> Vec<Value> {
    let out = Command::new("warcio")
        .args(["index", "-f", fields])
        .arg(file)
        .output()
        .expect("run warcio");
    assert!(
        out.status.success(),
        "warcio index {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("warcio index prints JSON lines"))
        .collect()
}

/// The payload of the record at `offset`, as `warcio extract --payload`
/// gives it.
pub fn warcio_payload(file: &Path, offset: u64) -> Vec<u8> {
    let out = Command::new("warcio")
        .args(["extract", "--payload"])
        .arg(file)
        .arg(offset.to_string())
        .output()
        .expect("run warcio");
    assert!(out.status.success());
    out.stdout
}
