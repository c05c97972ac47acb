//! The state database's memory of web-archive lookups ([`crate::lookup`]):
//! what the archive answered for a URL near a date, a capture or "none",
//! so that a run does not ask again what an earlier one asked, and when
//! a URL was first seen (the date to look near when its document has none).

use rusqlite::OptionalExtension;

use super::{StateDb, Write};

/// A remembered answer: when it was asked, and the capture (`None`: the
/// archive had none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupAnswer {
    pub asked_at: i64,
    pub capture: Option<String>,
}

impl StateDb {
    /// What the archive answered for `url` near `near`, if it was asked.
    pub fn archive_lookup(&self, url: &str, near: &str) -> Option<LookupAnswer> {
        let answer = self.read(|c| {
            c.query_row(
                "SELECT asked_at, capture FROM archive_lookups WHERE url = ?1 AND near = ?2",
                [url, near],
                |r| {
                    Ok(LookupAnswer {
                        asked_at: r.get(0)?,
                        capture: r.get(1)?,
                    })
                },
            )
            .optional()
        });
        match answer {
            Ok(a) => a,
            Err(e) => {
                self.read_failed(&format!("read the archive lookup of {url}"), &e);
                None
            }
        }
    }

    /// Remembers the archive's answer for `url` near `near`.
    pub fn record_archive_lookup(&self, url: &str, near: &str, at: i64, capture: Option<String>) {
        self.send(Write::ArchiveLookup {
            url: url.to_string(),
            near: near.to_string(),
            at,
            capture,
        });
    }

    /// When `url` was first seen (unix seconds), if it was.
    pub fn first_seen(&self, url: &str) -> Option<i64> {
        self.read(|c| {
            c.query_row("SELECT first_seen FROM urls WHERE url = ?1", [url], |r| {
                r.get(0)
            })
            .optional()
        })
        .ok()
        .flatten()
    }
}
