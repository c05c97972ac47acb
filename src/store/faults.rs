//! Store faults: the writes of a run that did not reach the store.
//!
//! A full disk under the store, or a `state.db` with a corrupt page or a
//! missing table, used to go unnoticed: the object write failed into a
//! per-link `store.error` nobody summed, and the database writer thread
//! logged and dropped its batch. The run then said "25 ok", exit 0, and
//! the archive silently stopped archiving. Every such failure is now
//! counted here, where it happens (the checker for objects, the writer
//! thread and the reader for the database), and the run ends with a
//! `summary.store_error`, an `archive_store_errors` metric, an error on
//! stderr and exit code 3.
//!
//! What is counted is what did *not* happen, never a guess at what did:
//! a link whose object could not be written keeps `status` (the check
//! itself succeeded) but gets `store.error` and no object in the database;
//! a database write that failed is retried alone (so one bad write does
//! not take its batch with it) and, failing again, is counted here and
//! nowhere claimed.
//!
//! Designed stops are not faults: `store.min_free_bytes` stopping
//! downloads is `store.error` without `store_error`, as before.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

/// Failed store writes of the current run, shared by the checker and the
/// database's writer thread.
#[derive(Debug, Default)]
pub struct Faults {
    objects: AtomicU64,
    database: AtomicU64,
    warc: AtomicU64,
    first_object: Mutex<Option<String>>,
    first_database: Mutex<Option<String>>,
    first_warc: Mutex<Option<String>>,
}

/// The report's `summary.store_error`: what failed to be stored this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreErrorSummary {
    /// Media bodies that were valid but could not be written as objects.
    pub objects: u64,
    /// State database reads and writes that failed (each write is a
    /// check result, a document's references, a gc or verify update).
    pub database: u64,
    /// Captures that could not be written as WARC records (the object
    /// itself is stored; its WARC record is missing).
    pub warc: u64,
    /// The first failure of each kind, and what to do.
    pub message: String,
}

fn keep_first(slot: &Mutex<Option<String>>, message: String) {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        *slot = Some(message);
    }
}

impl Faults {
    /// A valid body that could not be stored as an object.
    pub fn object(&self, message: String) {
        self.objects.fetch_add(1, Ordering::Relaxed);
        keep_first(&self.first_object, message);
    }

    /// A state database operation that failed.
    pub fn database(&self, message: String) {
        self.database.fetch_add(1, Ordering::Relaxed);
        keep_first(&self.first_database, message);
    }

    /// A capture that could not be written to the WARC files.
    pub fn warc(&self, message: String) {
        self.warc.fetch_add(1, Ordering::Relaxed);
        keep_first(&self.first_warc, message);
    }

    /// Forgets the previous run's faults.
    pub fn reset(&self) {
        self.objects.store(0, Ordering::Relaxed);
        self.database.store(0, Ordering::Relaxed);
        self.warc.store(0, Ordering::Relaxed);
        for slot in [&self.first_object, &self.first_database, &self.first_warc] {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// What failed this run, with advice; `None` when nothing did.
    pub fn summary(&self, db_path: &std::path::Path) -> Option<StoreErrorSummary> {
        let objects = self.objects.load(Ordering::Relaxed);
        let database = self.database.load(Ordering::Relaxed);
        let warc = self.warc.load(Ordering::Relaxed);
        if objects == 0 && database == 0 && warc == 0 {
            return None;
        }
        let first = |slot: &Mutex<Option<String>>| {
            slot.lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or_default()
        };
        let mut parts = Vec::new();
        if objects > 0 {
            parts.push(format!(
                "{objects} valid media bodies were not archived (first: {}); free disk space under the store (or raise its quota), or make the object service of store.url reachable, and run again: they are downloaded again",
                first(&self.first_object)
            ));
        }
        if database > 0 {
            parts.push(format!(
                "{database} state database operations failed (first: {}); if the disk is full, free space; if {} is corrupt or was edited, stop archive, move it aside and run again (a new one is built; check history is lost) or restore it from a backup",
                first(&self.first_database),
                db_path.display()
            ));
        }
        if warc > 0 {
            parts.push(format!(
                "{warc} captures were stored as objects but not written to the WARC files (first: {}); free disk space under the store's warc/ folder, or make the object service of store.url reachable (the payload is read back from it); the next capture of the same URL is written again",
                first(&self.first_warc)
            ));
        }
        Some(StoreErrorSummary {
            objects,
            database,
            warc,
            message: parts.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_keep_the_first_message_and_reset() {
        let f = Faults::default();
        assert_eq!(f.summary(std::path::Path::new("s.db")), None);
        f.object("disk full".into());
        f.object("later".into());
        f.database("malformed".into());
        f.warc("no space".into());
        let s = f.summary(std::path::Path::new("s.db")).unwrap();
        assert_eq!((s.objects, s.database, s.warc), (2, 1, 1));
        assert!(s.message.contains("no space") && s.message.contains("WARC"));
        assert!(s.message.contains("disk full") && !s.message.contains("later"));
        assert!(s.message.contains("malformed") && s.message.contains("s.db"));
        f.reset();
        assert_eq!(f.summary(std::path::Path::new("s.db")), None);
    }
}
