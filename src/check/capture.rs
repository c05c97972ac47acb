//! WARC output of what the checker stores: the checker's side of
//! [`crate::warc`]. A body stored just now is a [`Capture`], queued to the
//! WARC writer thread; an archive's copy is written under the URL it is a
//! copy of. The writer reads the payload back through the store's object
//! backend and counts a capture it cannot write as a store fault, so this
//! side only opens, queues and flushes.

use super::{body, Checked, Checker};
use crate::config::Config;
use crate::store::Store;
use crate::warc::{Capture, Warc};

/// The WARC output for `store` (`store.warc`), or `None` without a store
/// or with it turned off.
pub(super) fn open(config: &Config, store: Option<&Store>) -> Result<Option<Warc>, String> {
    let Some(s) = store.filter(|_| config.store.warc) else {
        return Ok(None);
    };
    Warc::open(
        s.root(),
        s.objects.clone(),
        s.db.faults().clone(),
        config.store.warc_max_size,
        &config.check.user_agent,
    )
    .map(Some)
    .map_err(|e| e.to_string())
}

impl Checker {
    /// Queues the capture `checked` made of `url`, if it stored a body.
    pub(super) fn record_capture(&self, url: &str, checked: &Checked) {
        let Some((w, mut capture)) = self.warc.as_ref().zip(Capture::of(url, checked)) else {
            return;
        };
        if let Some(original) = self.copy_of(url) {
            // An archive's copy is a capture of the original URL.
            capture.target_uri = original;
        }
        // A full queue waits for the disk: off the runtime's threads.
        body::blocking(|| w.record(capture));
    }

    /// Waits until every capture so far is in the WARC files, synced (and
    /// any that failed is counted in the store's faults).
    pub fn flush_warc(&self) {
        if let Some(w) = &self.warc {
            body::blocking(|| w.flush());
        }
    }
}
