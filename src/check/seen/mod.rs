//! The run's memory of URLs already checked: a URL is fetched at most
//! once per run, however many documents name it, and every later link
//! naming it gets the same result.
//!
//! A URL being checked is a shared cell that the first link fills and
//! the others wait on. Once filled, what is kept for later repeats is the
//! result in its smallest lossless form ([`Kept`]): for the common case,
//! a page or file that answered plainly (no message, no redirect, no
//! stored copy, no validators), a few numbers and the content type, about
//! a fifth of a whole [`Checked`] with its strings; anything else is kept
//! whole. Repeats are rebuilt from it exactly as the first link saw it,
//! so the report does not depend on which link came first.
//!
//! Memory grows neither with the number of links nor, past a cap, with
//! the results of distinct URLs: at most [`MEMORY_CAP`] results stay in
//! memory (the key and the kept result, ≈ 0.2 KB for a plain page against
//! ≈ 0.9 KB whole); past it they move to a temporary database ([`spill`])
//! and a repeat reads its result back from there, past a filter of fixed
//! size. Checking 300,000 distinct URLs peaked at 167.6 MB before and
//! 74.3 MB with this and the bounded state-database queue (issue 11, item
//! 5). With the filter (it was a set of fingerprints) and a cap of 4,096
//! (it was 16,384), checking 100,000 distinct URLs in one-link files
//! peaks at 40 MB, 5 MB more than 10,000 (it was 46 MB, 13 MB more); most
//! of the 5 MB is the names of the benchmark's one flat folder of files
//! ([`crate::source::walk`]). Should the temporary database fail (no room
//! in the temporary folder), results stay in memory, as before, and a
//! warning says so.

mod spill;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use spill::Spill;

use tokio::sync::OnceCell;

use super::outage::Reach;
use super::verdict::{Checked, HttpInfo};
use crate::model::Status;
use crate::vocab::Reason;

/// What was wanted of a URL: one URL checked as a page and as an image
/// is two checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum WantKey {
    Page = 0,
    Image = 1,
    Media = 2,
    Html = 3,
}

impl WantKey {
    /// In the order of their values (the index of their map).
    const ALL: [WantKey; 4] = [WantKey::Page, WantKey::Image, WantKey::Media, WantKey::Html];
}

/// A URL's place in the run: being checked, or checked.
enum Entry {
    Checking(Arc<OnceCell<Checked>>),
    Checked(Kept),
}

/// Either the shared cell to fill or wait on, or the result already there.
pub(super) enum Lookup {
    Checking(Arc<OnceCell<Checked>>),
    Checked(Box<Checked>),
}

/// Results kept in memory before they move to the temporary database:
/// ≈ 2 MB of plain pages. Spilling costs the same per URL whatever the
/// cap (each result moves once); a smaller cap only sends more repeats
/// to the database, a query each.
pub(super) const MEMORY_CAP: usize = 4_096;

/// URLs checked this run, one map per [`WantKey`] (looked up by `&str`,
/// no key built per link), and those spilled past the cap.
pub(super) struct Seen {
    inner: Mutex<Inner>,
    cap: usize,
}

#[derive(Default)]
struct Inner {
    maps: [HashMap<Box<str>, Entry>; 4],
    /// `Entry::Checked` entries in `maps`.
    in_memory: usize,
    spill: Option<Spill>,
    /// The temporary database failed once: keep everything in memory.
    spill_failed: bool,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen::with_cap(MEMORY_CAP)
    }
}

impl Seen {
    /// At most `cap` results in memory (tests use a small one).
    pub(super) fn with_cap(cap: usize) -> Seen {
        Seen {
            inner: Mutex::default(),
            cap: cap.max(1),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn clear(&self) {
        *self.inner() = Inner::default();
    }

    /// The result for `url`, or the cell that holds (or will hold) it.
    pub(super) fn lookup(&self, url: &str, key: WantKey) -> Lookup {
        let mut inner = self.inner();
        let inner = &mut *inner;
        match inner.maps[key as usize].get(url) {
            Some(Entry::Checked(kept)) => return Lookup::Checked(Box::new(kept.expand(url))),
            Some(Entry::Checking(cell)) => return Lookup::Checking(cell.clone()),
            None => {}
        }
        if let Some(spill) = &inner.spill {
            match spill.get(key, url) {
                Ok(Some(checked)) => return Lookup::Checked(Box::new(checked)),
                Ok(None) => {}
                // Not fatal: the URL is checked again.
                Err(e) => {
                    tracing::warn!("temporary database of checked URLs: cannot read {url}: {e}")
                }
            }
        }
        let cell = Arc::new(OnceCell::new());
        inner.maps[key as usize].insert(url.into(), Entry::Checking(cell.clone()));
        Lookup::Checking(cell)
    }

    /// Keeps `checked` as `url`'s result in its small form; links still
    /// waiting on the cell get theirs from the cell.
    pub(super) fn done(&self, url: &str, key: WantKey, checked: &Checked) {
        let mut inner = self.inner();
        if let Some(entry) = inner.maps[key as usize].get_mut(url) {
            if matches!(entry, Entry::Checking(_)) {
                *entry = Entry::Checked(Kept::of(url, checked));
                inner.in_memory += 1;
            }
        }
        if inner.in_memory > self.cap && !inner.spill_failed {
            inner.spill_checked();
        }
    }

    /// Results in memory and in the temporary database.
    #[cfg(test)]
    fn counts(&self) -> (usize, usize) {
        let inner = self.inner();
        (inner.in_memory, inner.spill.as_ref().map_or(0, Spill::len))
    }
}

impl Inner {
    /// Moves every result in memory to the temporary database (URLs being
    /// checked stay). The map's capacity is kept for the next ones.
    fn spill_checked(&mut self) {
        if self.spill.is_none() {
            match Spill::open() {
                Ok(s) => self.spill = Some(s),
                Err(e) => return self.give_up(e),
            }
        }
        // Expanded one at a time as they are written: a batch of whole
        // results at once would be a spike of its own.
        let results = self.maps.iter().enumerate().flat_map(|(i, map)| {
            map.iter().filter_map(move |(url, entry)| match entry {
                Entry::Checked(kept) => Some((WantKey::ALL[i], &**url, kept.expand(url))),
                Entry::Checking(_) => None,
            })
        });
        let Some(spill) = self.spill.as_mut() else {
            return;
        };
        if let Err(e) = spill.put_all(results) {
            return self.give_up(e);
        }
        for map in &mut self.maps {
            map.retain(|_, e| matches!(e, Entry::Checking(_)));
        }
        self.in_memory = 0;
    }

    fn give_up(&mut self, e: rusqlite::Error) {
        tracing::warn!(
            "temporary database of checked URLs: {e}; keeping them in memory instead \
             (check the room in the temporary folder, SQLITE_TMPDIR or /var/tmp)"
        );
        self.spill_failed = true;
    }
}

/// A result as kept for repeats.
enum Kept {
    Plain(Plain),
    Whole(Box<Checked>),
}

/// A result with no message, store, last-known status, error,
/// validators, redirects, images or sniffed type, fetched at the URL
/// itself (no `[remap]`, no redirect: a final URL, if any, is the URL)
/// with `HEAD` or `GET`, not from the cache.
struct Plain {
    status: Status,
    reason: Option<Reason>,
    reach: Reach,
    get: bool,
    /// `http.final_url` is the URL itself (else there is none).
    final_is_url: bool,
    status_code: Option<u16>,
    tries: u32,
    elapsed_ms: u64,
    bytes_read: u64,
    content_length: Option<u64>,
    content_type: Option<Box<str>>,
}

impl Kept {
    fn of(url: &str, c: &Checked) -> Kept {
        let h = &c.http;
        let plain = c.message.is_none()
            && c.store.is_none()
            && c.last_known.is_none()
            && h.error.is_none()
            && h.etag.is_none()
            && h.final_url.as_deref().is_none_or(|f| f == url)
            && !h.from_cache
            && h.images.is_none()
            && h.last_modified.is_none()
            && (h.method == "HEAD" || h.method == "GET")
            && h.redirects.is_empty()
            && h.sniffed_type.is_none()
            && h.url == url;
        if !plain {
            return Kept::Whole(Box::new(c.clone()));
        }
        Kept::Plain(Plain {
            status: c.status,
            reason: c.reason,
            reach: c.reach,
            get: h.method == "GET",
            final_is_url: h.final_url.is_some(),
            status_code: h.status_code,
            tries: h.tries,
            elapsed_ms: h.elapsed_ms,
            bytes_read: h.bytes_read,
            content_length: h.content_length,
            content_type: h.content_type.as_deref().map(Box::from),
        })
    }

    fn expand(&self, url: &str) -> Checked {
        let p = match self {
            Kept::Whole(c) => return (**c).clone(),
            Kept::Plain(p) => p,
        };
        Checked {
            status: p.status,
            reason: p.reason,
            message: None,
            http: HttpInfo {
                bytes_read: p.bytes_read,
                content_length: p.content_length,
                content_type: p.content_type.as_deref().map(String::from),
                elapsed_ms: p.elapsed_ms,
                final_url: p.final_is_url.then(|| url.to_string()),
                method: if p.get { "GET" } else { "HEAD" }.to_string(),
                status_code: p.status_code,
                tries: p.tries,
                url: url.to_string(),
                ..HttpInfo::default()
            },
            store: None,
            reach: p.reach,
            last_known: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::verdict::StoreOutcome;

    fn plain_ok(url: &str) -> Checked {
        Checked {
            status: Status::Ok,
            reason: None,
            message: None,
            http: HttpInfo {
                bytes_read: 0,
                content_length: Some(100),
                content_type: Some("text/html".into()),
                elapsed_ms: 3,
                method: "HEAD".into(),
                status_code: Some(200),
                tries: 1,
                url: url.into(),
                ..HttpInfo::default()
            },
            store: None,
            reach: Reach::Answered,
            last_known: None,
        }
    }

    /// The report's view of a result: everything a link copies from it.
    fn shown(c: &Checked) -> String {
        format!(
            "{:?} {:?} {:?} {} {:?} {:?} {:?}",
            c.status,
            c.reason,
            c.message,
            serde_json::to_string(&c.http).unwrap(),
            c.store,
            c.reach,
            c.last_known
        )
    }

    #[test]
    fn a_repeat_gets_the_first_links_result_exactly() {
        let url = "http://a.test/p/1.html";
        let mut answered_here = plain_ok(url);
        answered_here.http.final_url = Some(url.into());
        let mut redirected = plain_ok(url);
        redirected.http.redirects = vec!["http://a.test/q".into()];
        redirected.http.final_url = Some("http://a.test/q".into());
        let mut broken = plain_ok(url);
        broken.status = Status::Broken;
        broken.reason = Some(Reason::NotFound);
        broken.message = Some("404 Not Found".into());
        broken.http.method = "GET".into();
        let mut stored = plain_ok(url);
        stored.store = Some(StoreOutcome::Failed {
            error: "disk full".into(),
            reason: None,
        });
        for (i, c) in [plain_ok(url), answered_here, redirected, broken, stored]
            .into_iter()
            .enumerate()
        {
            let seen = Seen::default();
            let Lookup::Checking(cell) = seen.lookup(url, WantKey::Page) else {
                panic!("a new URL is to be checked");
            };
            cell.set(c.clone()).unwrap();
            seen.done(url, WantKey::Page, &c);
            let Lookup::Checked(again) = seen.lookup(url, WantKey::Page) else {
                panic!("case {i}: a checked URL is not checked again");
            };
            assert_eq!(shown(&again), shown(&c), "case {i}");
            assert!(
                matches!(seen.lookup(url, WantKey::Image), Lookup::Checking(_)),
                "the same URL as an image is another check"
            );
        }
    }

    #[test]
    fn past_the_cap_results_move_out_of_memory_and_repeats_still_get_them_exactly() {
        let cap = 8;
        let seen = Seen::with_cap(cap);
        let results: Vec<(String, WantKey, Checked)> = (0..100)
            .map(|i| {
                let url = format!("http://a.test/p/{i}.html");
                let mut c = plain_ok(&url);
                match i % 4 {
                    0 => {}
                    1 => {
                        c.http.redirects = vec![format!("http://a.test/q/{i}")];
                        c.http.final_url = Some(format!("http://a.test/q/{i}"));
                    }
                    2 => {
                        c.status = Status::Broken;
                        c.reason = Some(Reason::NotFound);
                        c.message = Some("404 Not Found".into());
                    }
                    _ => {
                        c.store = Some(StoreOutcome::Failed {
                            error: "disk full".into(),
                            reason: Some(Reason::StoreUnavailable),
                        });
                    }
                }
                let key = if i % 3 == 0 {
                    WantKey::Image
                } else {
                    WantKey::Page
                };
                (url, key, c)
            })
            .collect();
        for (url, key, c) in &results {
            let Lookup::Checking(cell) = seen.lookup(url, *key) else {
                panic!("{url} is new");
            };
            cell.set(c.clone()).unwrap();
            seen.done(url, *key, c);
            let (in_memory, _) = seen.counts();
            assert!(in_memory <= cap, "{in_memory} results in memory, cap {cap}");
        }
        let (in_memory, spilled) = seen.counts();
        assert_eq!(in_memory + spilled, results.len());
        assert!(spilled >= results.len() - cap, "only {spilled} spilled");
        for (url, key, c) in &results {
            let Lookup::Checked(again) = seen.lookup(url, *key) else {
                panic!("{url} was checked: it must not be checked again");
            };
            assert_eq!(shown(&again), shown(c), "{url}");
        }
        // Another want of a spilled URL, and a URL never seen, are new.
        assert!(matches!(
            seen.lookup(&results[1].0, WantKey::Media),
            Lookup::Checking(_)
        ));
        assert!(matches!(
            seen.lookup("http://a.test/never", WantKey::Page),
            Lookup::Checking(_)
        ));
        seen.clear();
        assert_eq!(seen.counts(), (0, 0));
        assert!(matches!(
            seen.lookup(&results[0].0, results[0].1),
            Lookup::Checking(_)
        ));
    }

    #[test]
    fn a_plain_page_is_kept_small() {
        let url = "http://a.test/p/1.html";
        assert!(matches!(Kept::of(url, &plain_ok(url)), Kept::Plain(_)));
        let mut answered_here = plain_ok(url);
        answered_here.http.final_url = Some(url.into());
        assert!(matches!(Kept::of(url, &answered_here), Kept::Plain(_)));
        // Fetched elsewhere ([remap]): the URL is not the key, keep it whole.
        assert!(matches!(
            Kept::of("http://b.test/p/1.html", &plain_ok(url)),
            Kept::Whole(_)
        ));
        assert!(std::mem::size_of::<Plain>() < std::mem::size_of::<Checked>() / 3);
    }
}
