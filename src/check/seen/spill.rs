//! Where the run's memory of checked URLs goes once it is large: a
//! temporary SQLite database, so that a run's peak memory does not grow
//! with the number of distinct URLs it checks (issue 11, item 5).
//!
//! [`super::Seen`] keeps results in memory up to a cap; past it, the
//! results it holds move here in one transaction, and a later repeat of
//! one of those URLs reads it back. What stays in memory per spilled URL
//! is a 64-bit fingerprint of the URL and its [`WantKey`], so that a URL
//! never seen before (the common case) is told apart without a query; a
//! fingerprint that matches a URL not spilled (a collision, about one in
//! 10^19 pairs) only costs a query that finds nothing.
//!
//! The database is SQLite's private temporary database (opened with an
//! empty file name): it lives in SQLite's page cache (a few MB) and
//! overflows into an unlinked file in the temporary folder
//! (`SQLITE_TMPDIR`, else `/var/tmp`, `/usr/tmp`, `/tmp`), which goes
//! away when the connection closes or the process dies, so a killed run
//! leaves nothing behind. Results are stored as the JSON of [`Checked`],
//! the same values a repeat would have got from memory (the response
//! head kept for WARC records is not: only the first fetch records a
//! capture).

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher};

use rusqlite::{params, Connection, OptionalExtension};

use super::WantKey;
use crate::check::verdict::Checked;

/// Spilled results of the run.
pub(super) struct Spill {
    db: Connection,
    /// Fingerprints of the spilled (key, URL) pairs.
    spilled: HashSet<u64>,
    /// Fixed per spill, so fingerprints are stable within the run.
    hasher: RandomState,
}

impl Spill {
    pub(super) fn open() -> rusqlite::Result<Spill> {
        let db = Connection::open("")?;
        db.execute_batch(
            // A small page cache: what is spilled is read back rarely (only
            // repeats), and the point is to keep it out of memory.
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             PRAGMA temp_store = FILE;
             PRAGMA cache_size = -1024;
             CREATE TABLE seen (key INTEGER NOT NULL, url TEXT NOT NULL, checked TEXT NOT NULL,
                                PRIMARY KEY (key, url)) WITHOUT ROWID;",
        )?;
        Ok(Spill {
            db,
            spilled: HashSet::new(),
            hasher: Default::default(),
        })
    }

    /// Moves `results` here, in one transaction.
    pub(super) fn put_all<'a>(
        &mut self,
        results: impl IntoIterator<Item = (WantKey, &'a str, Checked)>,
    ) -> rusqlite::Result<()> {
        let tx = self.db.transaction()?;
        let mut fingerprints = Vec::new();
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO seen (key, url, checked) VALUES (?, ?, ?)",
            )?;
            for (key, url, checked) in results {
                let json = serde_json::to_string(&checked)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                insert.execute(params![key as u8, url, json])?;
                fingerprints.push(fingerprint(&self.hasher, key, url));
            }
        }
        tx.commit()?;
        self.spilled.extend(fingerprints);
        Ok(())
    }

    /// The spilled result for `url`, if there is one.
    pub(super) fn get(&self, key: WantKey, url: &str) -> rusqlite::Result<Option<Checked>> {
        if !self.spilled.contains(&fingerprint(&self.hasher, key, url)) {
            return Ok(None);
        }
        let json: Option<String> = self
            .db
            .prepare_cached("SELECT checked FROM seen WHERE key = ? AND url = ?")?
            .query_row(params![key as u8, url], |row| row.get(0))
            .optional()?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
        })
        .transpose()
    }

    /// Spilled results.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.spilled.len()
    }
}

fn fingerprint(hasher: &RandomState, key: WantKey, url: &str) -> u64 {
    let mut h = hasher.build_hasher();
    (key as u8).hash(&mut h);
    url.hash(&mut h);
    h.finish()
}
