//! Where the run's memory of checked URLs goes once it is large: a
//! temporary SQLite database, so that a run's peak memory does not grow
//! with the number of distinct URLs it checks (issue 11, item 5).
//!
//! [`super::Seen`] keeps results in memory up to a cap; past it, the
//! results it holds move here in one transaction, and a later repeat of
//! one of those URLs reads it back. What stays in memory is a Bloom
//! filter of fixed size ([`Bloom`], 1 MiB) over the spilled (key, URL)
//! pairs, so that a URL never seen before (the common case) is told apart
//! without a query. It answers "maybe" for every spilled pair and for a
//! few others; a "maybe" for a pair not spilled only costs a query that
//! finds nothing. It took the place of a set of 64-bit fingerprints,
//! which grew with the URLs (9 to 27 bytes each, with its doublings:
//! 3 MB of the 13 MB that a check of 100,000 distinct URLs took more
//! than one of 10,000).
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
use std::hash::{BuildHasher, Hash, Hasher};

use rusqlite::{params, Connection, OptionalExtension};

use super::WantKey;
use crate::check::verdict::Checked;

/// Spilled results of the run.
pub(super) struct Spill {
    db: Connection,
    /// A Bloom filter over the fingerprints of the spilled (key, URL)
    /// pairs.
    spilled: Bloom,
    /// Rows put (a repeat put is counted again; tests only).
    #[cfg(test)]
    puts: usize,
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
            spilled: Bloom::new(),
            #[cfg(test)]
            puts: 0,
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
        #[cfg(test)]
        {
            self.puts += fingerprints.len();
        }
        for fingerprint in fingerprints {
            self.spilled.insert(fingerprint);
        }
        Ok(())
    }

    /// The spilled result for `url`, if there is one.
    pub(super) fn get(&self, key: WantKey, url: &str) -> rusqlite::Result<Option<Checked>> {
        if !self
            .spilled
            .may_contain(fingerprint(&self.hasher, key, url))
        {
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

    /// Rows put (a result spilled twice counts twice).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.puts
    }
}

fn fingerprint(hasher: &RandomState, key: WantKey, url: &str) -> u64 {
    let mut h = hasher.build_hasher();
    (key as u8).hash(&mut h);
    url.hash(&mut h);
    h.finish()
}

/// A Bloom filter over 64-bit fingerprints, of fixed size: it never says
/// no to a fingerprint inserted, and says yes to one not inserted with a
/// probability that grows with what was inserted: about 5 in a million
/// after 100,000 fingerprints, 2 % after a million, a third after three
/// million (each such yes costs one query that finds nothing).
struct Bloom {
    words: Box<[u64]>,
}

impl Bloom {
    /// Bits of the filter, a power of two: 1 MiB.
    const BITS: u64 = 1 << 23;
    /// Bits set per fingerprint.
    const PROBES: u64 = 4;

    fn new() -> Bloom {
        Bloom {
            words: vec![0; (Self::BITS / 64) as usize].into_boxed_slice(),
        }
    }

    /// The bits of `fingerprint`, by double hashing of its two halves
    /// (Kirsch and Mitzenmacher): as good as independent hashes here.
    fn bits(fingerprint: u64) -> impl Iterator<Item = u64> {
        let (low, high) = (fingerprint & 0xffff_ffff, (fingerprint >> 32) | 1);
        (0..Self::PROBES).map(move |i| low.wrapping_add(i.wrapping_mul(high)) & (Self::BITS - 1))
    }

    fn insert(&mut self, fingerprint: u64) {
        for bit in Self::bits(fingerprint) {
            self.words[(bit / 64) as usize] |= 1u64 << (bit % 64);
        }
    }

    fn may_contain(&self, fingerprint: u64) -> bool {
        Self::bits(fingerprint)
            .all(|bit| self.words[(bit / 64) as usize] & (1u64 << (bit % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_keeps_every_fingerprint_and_few_others() {
        let hasher = RandomState::new();
        let url = |i: usize| format!("https://example.org/p/{i}.html");
        let mut bloom = Bloom::new();
        let n = 100_000;
        for i in 0..n {
            bloom.insert(fingerprint(&hasher, WantKey::Page, &url(i)));
        }
        assert!((0..n).all(|i| bloom.may_contain(fingerprint(&hasher, WantKey::Page, &url(i)))));
        // Expected about 0.5 false yes in 100,000 at this load; 100 would
        // mean the probes are not spread.
        let false_yes = (n..2 * n)
            .filter(|&i| bloom.may_contain(fingerprint(&hasher, WantKey::Page, &url(i))))
            .count();
        assert!(false_yes < 100, "{false_yes} false yes in {n}");
        // The same URL wanted another way is another pair.
        let other_key = (0..n)
            .filter(|&i| bloom.may_contain(fingerprint(&hasher, WantKey::Image, &url(i))))
            .count();
        assert!(other_key < 100, "{other_key} false yes in {n}");
    }
}
