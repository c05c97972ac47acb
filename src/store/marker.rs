//! The outage marker: a file `OUTAGE` in the store folder, written by a
//! full check run that could reach nothing ([`crate::check::outage`]) and
//! removed by the next full run that could.
//!
//! `gc` decides what to delete from the references and results of the
//! last run. A run cut off from the network proved nothing about the
//! links, so while the marker is there `gc` refuses and says why. A file
//! rather than a database row: it is read before anything else, and a
//! person can see it (and, knowing better, delete it).

use std::io;
use std::path::{Path, PathBuf};

const NAME: &str = "OUTAGE";

fn path(root: &Path) -> PathBuf {
    root.join(NAME)
}

/// Records that the run finishing now could not reach the network.
pub fn mark_outage(root: &Path, evidence: &str) -> io::Result<()> {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let text = format!("{at}: {evidence}\n");
    // Written beside and renamed, so a reader never sees half of it.
    let tmp = root.join(format!("{NAME}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path(root))
}

/// Forgets the marker (a full run reached the network).
pub fn clear_outage(root: &Path) -> io::Result<()> {
    match std::fs::remove_file(path(root)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// When and why the last full run could not reach the network, if so.
pub fn outage(root: &Path) -> Option<String> {
    std::fs::read_to_string(path(root))
        .ok()
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_and_clears() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(outage(dir.path()), None);
        clear_outage(dir.path()).unwrap();
        mark_outage(dir.path(), "no host answered").unwrap();
        assert!(outage(dir.path()).unwrap().ends_with(": no host answered"));
        clear_outage(dir.path()).unwrap();
        assert_eq!(outage(dir.path()), None);
    }
}
