//! Scanned documents kept between the runs of a long-lived process (the
//! daemon): a file whose size and modification time have not changed is
//! not read, decoded or extracted again. Entries for files that a run did
//! not see are dropped at the end of that run, so the cache follows the
//! corpus. Links are still checked each run (through the check cache).
//!
//! The cache has a memory budget (`daemon.document_cache_mb`): a scanned
//! document costs about its links' strings and structs, and once the
//! budget is spent further documents are simply read again next run.
//! Without the budget the daemon's memory grew with the corpus (94 MiB
//! after a run over 20,000 articles, against 13 MiB for the same check
//! from the CLI); re-reading is cheap next to checking links over HTTP,
//! so the budget trades a little CPU for memory that stays flat.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Scanned;
use crate::source::Input;

/// Scanned documents kept between runs, within a memory budget.
#[derive(Debug, Default)]
pub struct DocumentCache {
    entries: std::sync::Mutex<HashMap<std::path::PathBuf, CachedDocument>>,
    /// Bytes the cached documents may take, about; 0 caches nothing.
    budget: usize,
    /// Bytes they take now, about ([`approximate_size`]).
    used: AtomicUsize,
    run: AtomicUsize,
    read: AtomicUsize,
    reused: AtomicUsize,
}

#[derive(Debug)]
struct CachedDocument {
    len: u64,
    modified: std::time::SystemTime,
    /// The last run that saw the file.
    run: usize,
    /// [`approximate_size`] of `scanned`.
    size: usize,
    scanned: Scanned,
}

impl DocumentCache {
    /// A cache that keeps documents while they take less than about
    /// `budget` bytes.
    pub fn new(budget: usize) -> DocumentCache {
        DocumentCache {
            budget,
            ..DocumentCache::default()
        }
    }

    /// Starts a run: counters reset.
    pub fn begin_run(&self) {
        self.run.fetch_add(1, Ordering::SeqCst);
        self.read.store(0, Ordering::SeqCst);
        self.reused.store(0, Ordering::SeqCst);
    }

    /// Ends a run: forgets files it did not see. Returns (read, unchanged).
    pub fn end_run(&self) -> (usize, usize) {
        let run = self.run.load(Ordering::SeqCst);
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, e| {
                let keep = e.run == run;
                if !keep {
                    self.used.fetch_sub(e.size, Ordering::SeqCst);
                }
                keep
            });
        }
        (
            self.read.load(Ordering::SeqCst),
            self.reused.load(Ordering::SeqCst),
        )
    }

    /// Forgets everything (a new configuration may extract differently).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
            self.used.store(0, Ordering::SeqCst);
        }
    }

    /// The cached result for an unchanged file, else `scan()`'s, cached.
    pub(crate) fn scan(&self, input: &Input, scan: impl FnOnce() -> Scanned) -> Scanned {
        let Input::File(path) = input else {
            return scan();
        };
        let run = self.run.load(Ordering::SeqCst);
        let stamp = std::fs::metadata(path)
            .ok()
            .and_then(|m| Some((m.len(), m.modified().ok()?)));
        if let (Some((len, modified)), Ok(mut entries)) = (stamp, self.entries.lock()) {
            if let Some(e) = entries
                .get_mut(path)
                .filter(|e| e.len == len && e.modified == modified)
            {
                e.run = run;
                self.reused.fetch_add(1, Ordering::Relaxed);
                return e.scanned.clone();
            }
        }
        let scanned = scan();
        self.read.fetch_add(1, Ordering::Relaxed);
        let size = approximate_size(&scanned);
        if let (Some((len, modified)), Ok(mut entries)) = (stamp, self.entries.lock()) {
            // An edited file's old entry gives its room back first.
            if let Some(old) = entries.remove(path) {
                self.used.fetch_sub(old.size, Ordering::SeqCst);
            }
            if self.used.load(Ordering::SeqCst) + size <= self.budget {
                self.used.fetch_add(size, Ordering::SeqCst);
                let cached = CachedDocument {
                    len,
                    modified,
                    run,
                    size,
                    scanned: scanned.clone(),
                };
                entries.insert(path.clone(), cached);
            }
        }
        scanned
    }
}

/// About how many bytes `scanned` takes on the heap: its structs and the
/// strings they own. An estimate for the budget, not an exact count.
pub fn approximate_size(scanned: &Scanned) -> usize {
    use std::mem::size_of;
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let doc = &scanned.document;
    let mut size = size_of::<Scanned>()
        + doc.path.len()
        + text(&doc.error)
        + text(&doc.title)
        + text(&doc.date)
        + text(&doc.base_url)
        + text(&doc.source_url)
        + doc.notes.iter().map(String::len).sum::<usize>();
    for link in &scanned.links {
        size += size_of::<crate::model::Link>()
            + link.url.len()
            + text(&link.resolved)
            + text(&link.message)
            + text(&link.text)
            + link
                .suggestions
                .iter()
                .map(|s| size_of::<crate::model::Suggestion>() + s.url.len())
                .sum::<usize>();
    }
    for finding in &scanned.findings {
        size += size_of::<crate::model::Finding>()
            + finding.message.len()
            + finding.links.len() * size_of::<usize>()
            + finding
                .suggestions
                .iter()
                .map(|s| size_of::<crate::model::Suggestion>() + s.url.len())
                .sum::<usize>();
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::source::corpus::CorpusSource;

    fn run(
        dir: &std::path::Path,
        config: &Config,
        cache: &DocumentCache,
    ) -> ((usize, usize), usize) {
        cache.begin_run();
        let mut source = CorpusSource::new(&[dir.to_path_buf()], &config.corpus);
        let mut links = 0;
        crate::pipeline::scan_corpus(&mut source, config, Some(cache), |s| links += s.links.len());
        (cache.end_run(), links)
    }

    #[test]
    fn unchanged_documents_come_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::default();
        let cache = DocumentCache::new(usize::MAX);
        std::fs::write(dir.path().join("a.md"), "![x](http://a.cn/1.jpg)\n").unwrap();
        std::fs::write(dir.path().join("b.md"), "![x](http://a.cn/2.jpg)\n").unwrap();
        assert_eq!(run(dir.path(), &config, &cache), ((2, 0), 2));
        assert_eq!(run(dir.path(), &config, &cache), ((0, 2), 2));
        std::fs::write(
            dir.path().join("a.md"),
            "![x](http://a.cn/1.jpg) ![y](http://a.cn/3.jpg)\n",
        )
        .unwrap();
        assert_eq!(
            run(dir.path(), &config, &cache),
            ((1, 1), 3),
            "the edited file is read again"
        );
        std::fs::remove_file(dir.path().join("b.md")).unwrap();
        assert_eq!(run(dir.path(), &config, &cache), ((0, 1), 2));
        assert_eq!(
            cache.entries.lock().unwrap().len(),
            1,
            "deleted files are forgotten"
        );
    }

    #[test]
    fn the_budget_bounds_what_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::default();
        for i in 0..20 {
            std::fs::write(
                dir.path().join(format!("{i:02}.md")),
                format!("![x](http://a.cn/{i}.jpg)\n"),
            )
            .unwrap();
        }
        let probe = DocumentCache::new(usize::MAX);
        run(dir.path(), &config, &probe);
        let one = probe.used.load(Ordering::SeqCst) / 20;
        // Room for about five documents: the rest are read every run.
        let cache = DocumentCache::new(5 * one + one / 2);
        assert_eq!(run(dir.path(), &config, &cache), ((20, 0), 20));
        assert_eq!(cache.entries.lock().unwrap().len(), 5);
        assert!(cache.used.load(Ordering::SeqCst) <= 5 * one + one / 2);
        assert_eq!(run(dir.path(), &config, &cache), ((15, 5), 20));
        let nothing = DocumentCache::new(0);
        assert_eq!(run(dir.path(), &config, &nothing), ((20, 0), 20));
        assert_eq!(run(dir.path(), &config, &nothing), ((20, 0), 20));
    }
}
