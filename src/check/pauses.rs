//! Pauses that outlive the process: a host that asked for a pause
//! (a 429 or 503 with `Retry-After`) is remembered in the state database when a
//! run ends and put back into the host gates when the next one starts, so a
//! restart or the next cron run does not knock on its door early.

use super::{now, Checker};

impl Checker {
    /// Puts back the pauses hosts asked an earlier process for.
    pub(super) fn restore_pauses(&self) {
        let Some(store) = &self.store else { return };
        match store.db.pauses_after(now()) {
            Ok(pauses) => {
                for (host, until) in pauses {
                    let until = std::time::UNIX_EPOCH
                        + std::time::Duration::from_secs(u64::try_from(until).unwrap_or(0));
                    self.fetcher.hosts().restore_pause(&host, until);
                }
            }
            Err(e) => tracing::warn!("cannot read the hosts' pauses from the state database: {e}"),
        }
    }

    /// Remembers the pauses in force in the state database, for the next
    /// process (a restart, the next cron run).
    pub fn save_pauses(&self) {
        let Some(store) = &self.store else { return };
        let pauses = self
            .fetcher
            .hosts()
            .pauses()
            .into_iter()
            .filter_map(|(host, until)| {
                let secs = until.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
                // Rounded up: a pause is never remembered shorter.
                Some((host, i64::try_from(secs + 1).ok()?))
            })
            .collect();
        store.db.record_pauses(pauses);
    }
}
