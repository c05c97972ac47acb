//! The pipeline for one document, and the driver that streams a whole
//! corpus through it.
//!
//! `source → extract → resolve → diagnose` happens in [`scan_document`],
//! a pure function of a [`Document`]; [`scan_corpus`] feeds it documents in
//! small batches on all cores and hands results, in corpus order, to a
//! callback. Nothing holds the corpus: memory is one batch of documents
//! plus whatever the callback keeps.

use std::path::PathBuf;

use serde::Serialize;

mod cache;
pub use cache::DocumentCache;

use crate::config::Config;
use crate::diagnose::{classify_links, document_findings, UrlFilter};
use crate::extract::extract_document;
use crate::model::{Finding, Link, Status};
use crate::resolve::{document_base, BaseOrigin};
use crate::source::format::HeaderStyle;
use crate::source::{read_input, Document, DocumentStatus, Format, Input, Source};
use crate::vocab::Syntax;

/// A document as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentRecord {
    pub id: usize,
    pub path: String,
    pub format: Format,
    pub header: HeaderStyle,
    pub encoding: &'static str,
    pub status: DocumentStatus,
    pub error: Option<String>,
    pub notes: Vec<String>,
    pub title: Option<String>,
    pub date: Option<String>,
    pub base_url: Option<String>,
    pub base_origin: Option<BaseOrigin>,
    pub source_url: Option<String>,
    /// Images found on the fetched source page (online checks only).
    pub found_on_source: Vec<String>,
    pub links: usize,
    pub bytes: u64,
}

/// One document after the static stages.
#[derive(Debug, Clone)]
pub struct Scanned {
    pub document: DocumentRecord,
    pub links: Vec<Link>,
    pub findings: Vec<Finding>,
}

impl Scanned {
    /// The worst status among the document's links (or `error`).
    pub fn worst(&self) -> Status {
        let doc = match self.document.status {
            DocumentStatus::Error => Status::Error,
            _ => Status::Ok,
        };
        self.links.iter().map(|l| l.status).fold(doc, Status::max)
    }

    /// Moves local ids (0-based within the document) to global ones.
    fn renumber(&mut self, document: usize, link_base: usize, finding_base: usize) {
        self.document.id = document;
        for l in &mut self.links {
            l.document = document;
            l.id += link_base;
            l.duplicate_of = l.duplicate_of.map(|d| d + link_base);
            l.finding = l.finding.map(|f| f + finding_base);
        }
        for f in &mut self.findings {
            f.document = document;
            f.id += finding_base;
            f.links.iter_mut().for_each(|l| *l += link_base);
        }
    }
}

/// Runs extract, resolve and diagnose on one document. Ids are local to
/// the document; [`CorpusTotals::number`] makes them global when the
/// document is emitted.
pub fn scan_document(doc: Document, config: &Config, filter: &UrlFilter) -> Scanned {
    let mut record = DocumentRecord {
        id: 0,
        path: doc.path.clone(),
        format: doc.format,
        header: doc.header.style,
        encoding: doc.encoding,
        status: doc.status,
        error: doc.error.clone(),
        notes: doc.notes.clone(),
        title: doc.header.title.clone(),
        date: doc.header.date.clone(),
        base_url: None,
        base_origin: None,
        source_url: doc.header.source_url.clone(),
        found_on_source: Vec::new(),
        links: 0,
        bytes: doc.bytes,
    };
    if doc.status != DocumentStatus::Ok {
        return Scanned {
            document: record,
            links: Vec::new(),
            findings: Vec::new(),
        };
    }
    let extracted = extract_document(&doc);
    record.title = record.title.or_else(|| extracted.title.clone());
    record.date = record.date.or_else(|| extracted.date.clone());
    let base = document_base(&doc.path, &doc.header, &extracted, &config.corpus.base);
    record.base_url = base.as_ref().map(|b| b.url.to_string());
    record.base_origin = base.as_ref().map(|b| b.origin);
    let hint = format!(
        "add a `source:` (or `url:`) key to its header, a <base href>, or a [[corpus.base]] entry for its folder in config.toml (e.g. path = \"{}\")",
        std::path::Path::new(&doc.path).parent().map(|p| p.display().to_string()).unwrap_or_default()
    );
    let mut links: Vec<Link> = Vec::with_capacity(extracted.links.len() + 1);
    if let (Some(url), Some(line)) = (&doc.header.source_url, doc.header.source_line) {
        links.push(new_link(
            0,
            url.clone(),
            crate::extract::LinkKind::Source,
            Syntax::FrontMatter,
            line,
            1,
            None,
        ));
    }
    for raw in extracted.links {
        links.push(new_link(
            links.len(),
            raw.url,
            raw.kind,
            raw.syntax,
            raw.line,
            raw.column,
            raw.text,
        ));
    }
    classify_links(&mut links, base.as_ref().map(|b| &b.url), filter, &hint);
    if record.source_url.is_none() {
        record.source_url = links
            .iter()
            .find(|l| l.kind == crate::extract::LinkKind::Source)
            .and_then(|l| l.resolved.clone());
    }
    let findings = document_findings(&mut links, &config.links, record.source_url.as_deref(), 0);
    record.links = links.len();
    Scanned {
        document: record,
        links,
        findings,
    }
}

fn new_link(
    id: usize,
    url: String,
    kind: crate::extract::LinkKind,
    syntax: Syntax,
    line: usize,
    column: usize,
    text: Option<String>,
) -> Link {
    Link {
        id,
        document: 0,
        url,
        resolved: None,
        kind,
        status: Status::Unchecked,
        reason: None,
        message: None,
        static_reason: None,
        line,
        column,
        syntax,
        text,
        finding: None,
        duplicate_of: None,
        suggestions: Vec::new(),
        http: None,
        store: None,
        last_known: None,
    }
}

/// Documents handed to a worker at once, and handed on together.
pub(crate) const CHUNK: usize = 16;
/// Chunks queued per worker thread; bounds memory, keeps cores busy.
const QUEUED_PER_WORKER: usize = 2;
/// Chunks per worker that may be out at once: read from the source and
/// not yet handed to `sink` (queued, being scanned, or finished and
/// waiting for an older chunk). See [`scan_ordered`].
const WINDOW_PER_WORKER: usize = 4;

/// Streams every input of `source` through [`scan_document`], calling
/// `sink` once per document in source order with global ids.
pub fn scan_corpus(
    source: &mut (dyn Source + Send),
    config: &Config,
    cache: Option<&DocumentCache>,
    mut sink: impl FnMut(Scanned),
) -> CorpusTotals {
    let mut totals = CorpusTotals::default();
    scan_inputs(source, config, cache, |chunk| {
        for mut scanned in chunk {
            totals.number(&mut scanned);
            sink(scanned);
        }
    });
    totals
}

/// Streams every input of `source` through [`scan_document`], calling
/// `sink` with the documents a chunk at a time, in source order, with ids
/// still local to each document: a caller that reorders documents again
/// (the online checker) numbers them with [`CorpusTotals::number`] as it
/// emits them. Chunks, not documents, because a caller on another thread
/// is woken once per hand-off: one per document was 4 % of an offline
/// check's wall time (issue 11).
///
/// One thread walks the source, one worker per core scans, and the calling
/// thread reorders results and runs `sink`, so reading, scanning and
/// reporting overlap. At most a few chunks per core are in memory at
/// once, however large the corpus and however slow one document is.
pub fn scan_inputs(
    source: &mut (dyn Source + Send),
    config: &Config,
    cache: Option<&DocumentCache>,
    sink: impl FnMut(Vec<Scanned>),
) {
    let filter = UrlFilter::new(&config.links);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max_size = config.corpus.max_file_size;
    let scan = |input: &Input| match cache {
        Some(cache) => cache.scan(input, || scan_guarded(input, max_size, config, &filter)),
        None => scan_guarded(input, max_size, config, &filter),
    };
    scan_ordered(source, workers, &scan, sink);
}

/// The machinery of [`scan_inputs`], with the scan and the number of
/// workers as parameters (a test makes one document slow).
///
/// Chunks finish out of order and are emitted in order, so finished chunks
/// wait in a reorder buffer for the oldest unfinished one. Bounded
/// channels alone do not bound that buffer: the calling thread drains the
/// output channel into it, so one slow document followed by 100,000 files
/// held all of them (RSS 12 MB to 197 MB). The bound is a window of
/// `WINDOW_PER_WORKER × workers` chunks: the reading thread takes a token
/// before it reads a chunk from the source, and the calling thread gives
/// the token back when that chunk has gone to `sink`. Workers therefore
/// never get more than the window ahead of the oldest unfinished chunk,
/// and the reorder buffer holds fewer chunks than the window. The oldest
/// chunk always holds a token, so the window cannot deadlock.
fn scan_ordered<F>(
    source: &mut (dyn Source + Send),
    workers: usize,
    scan: &F,
    mut sink: impl FnMut(Vec<Scanned>),
) where
    F: Fn(&Input) -> Scanned + Sync,
{
    let workers = workers.max(1);
    let window = WINDOW_PER_WORKER * workers;
    // Documents travel in chunks: one hand-off per chunk, not per document,
    // keeps the threads from spending their time waking each other.
    let (input_tx, input_rx) =
        std::sync::mpsc::sync_channel::<(usize, Vec<Input>)>(QUEUED_PER_WORKER * workers);
    let (output_tx, output_rx) =
        std::sync::mpsc::sync_channel::<(usize, Vec<Scanned>)>(QUEUED_PER_WORKER * workers);
    // The window's tokens; never more than `window` exist, so giving one
    // back never blocks.
    let (token_tx, token_rx) = std::sync::mpsc::sync_channel::<()>(window);
    for _ in 0..window {
        let _ = token_tx.send(());
    }
    // Workers take turns at the one receiver.
    let input_rx = std::sync::Mutex::new(input_rx);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for seq in 0.. {
                // No token: the calling thread is gone; stop reading.
                if token_rx.recv().is_err() {
                    return;
                }
                let chunk: Vec<Input> = std::iter::from_fn(|| source.next_input())
                    .take(CHUNK)
                    .collect();
                if chunk.is_empty() || input_tx.send((seq, chunk)).is_err() {
                    return;
                }
            }
        });
        for _ in 0..workers {
            let (input_rx, output_tx) = (&input_rx, output_tx.clone());
            scope.spawn(move || loop {
                let next = input_rx.lock().map(|rx| rx.recv());
                let Ok(Ok((seq, chunk))) = next else { return };
                let scanned = chunk.iter().map(scan).collect();
                if output_tx.send((seq, scanned)).is_err() {
                    return;
                }
            });
        }
        drop(output_tx);
        // Chunks arrive out of order; emit documents in source order.
        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0;
        for (seq, chunk) in output_rx {
            pending.insert(seq, chunk);
            while let Some(chunk) = pending.remove(&next) {
                sink(chunk);
                next += 1;
                let _ = token_tx.try_send(());
            }
        }
    });
}

/// [`scan_document`] with a panic turned into an `error` document, so one
/// bad file (and one bug) never costs the rest of the corpus.
fn scan_guarded(input: &Input, max_size: u64, config: &Config, filter: &UrlFilter) -> Scanned {
    let run = || scan_document(read_input(input.clone(), max_size), config, filter);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|_| {
        let path = match input {
            Input::File(p) | Input::Skipped { path: p, .. } | Input::Unreadable { path: p, .. } => p,
        };
        let doc = Document::failed(
            crate::source::path_string(path),
            DocumentStatus::Error,
            "internal error while scanning this file (a bug in archive: please report it with the file)".into(),
        );
        scan_document(doc, config, filter)
    })
}

/// Counts of the documents emitted so far; the one place report ids are
/// given, so that `documents[i].id == i` (and likewise for links and
/// findings) whatever order documents finished in.
#[derive(Debug, Default, Clone, Copy)]
pub struct CorpusTotals {
    pub documents: usize,
    pub links: usize,
    pub findings: usize,
}

impl CorpusTotals {
    /// Gives the next document its global ids and counts it.
    pub fn number(&mut self, scanned: &mut Scanned) {
        scanned.renumber(self.documents, self.links, self.findings);
        self.documents += 1;
        self.links += scanned.links.len();
        self.findings += scanned.findings.len();
    }
}

/// The paths to scan: those given, or the configured ones.
pub fn corpus_paths(given: &[PathBuf], config: &Config) -> Vec<PathBuf> {
    if given.is_empty() {
        config.corpus.paths.clone()
    } else {
        given.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    /// `total` inputs named by their index; counts what it handed out.
    struct Counted<'a> {
        total: usize,
        pulled: usize,
        emitted: &'a AtomicUsize,
        most_out: &'a AtomicUsize,
        release: std::sync::mpsc::SyncSender<()>,
        bound: usize,
        broke: &'a AtomicBool,
    }

    impl Source for Counted<'_> {
        fn next_input(&mut self) -> Option<Input> {
            if self.pulled == self.total {
                return None;
            }
            self.pulled += 1;
            let out = self.pulled - self.emitted.load(Ordering::SeqCst);
            self.most_out.fetch_max(out, Ordering::SeqCst);
            if out > self.bound && !self.broke.swap(true, Ordering::SeqCst) {
                // Over the bound already: let the slow document go, so a
                // broken bound fails the test at once.
                let _ = self.release.try_send(());
            }
            Some(Input::Skipped {
                path: PathBuf::from((self.pulled - 1).to_string()),
                reason: "test".into(),
            })
        }
    }

    #[test]
    fn one_slow_document_does_not_let_the_reorder_buffer_grow() {
        let config = Config::default();
        let filter = UrlFilter::new(&config.links);
        let workers = 2;
        let bound = WINDOW_PER_WORKER * workers * CHUNK;
        let total = 50 * bound;
        let (emitted, most_out) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let broke = AtomicBool::new(false);
        let (release, released) = std::sync::mpsc::sync_channel(1);
        let released = std::sync::Mutex::new(released);
        let mut source = Counted {
            total,
            pulled: 0,
            emitted: &emitted,
            most_out: &most_out,
            release,
            bound,
            broke: &broke,
        };
        let scan = |input: &Input| {
            let Input::Skipped { path, .. } = input else {
                unreachable!()
            };
            if path.as_os_str() == "0" {
                // The slow document: held until the bound breaks, or for
                // a while (only a release, not a measurement).
                if let Ok(rx) = released.lock() {
                    let _ = rx.recv_timeout(Duration::from_millis(500));
                }
            }
            let doc = Document::failed(
                path.display().to_string(),
                DocumentStatus::Skipped,
                "test".into(),
            );
            scan_document(doc, &config, &filter)
        };
        let mut order = Vec::new();
        scan_ordered(&mut source, workers, &scan, |chunk| {
            for s in chunk {
                order.push(s.document.path);
                emitted.fetch_add(1, Ordering::SeqCst);
            }
        });
        assert_eq!(order.len(), total);
        assert!(order.iter().enumerate().all(|(i, p)| *p == i.to_string()));
        let most = most_out.load(Ordering::SeqCst);
        assert!(
            most <= bound,
            "{most} documents out at once behind one slow one (bound {bound})"
        );
        assert!(!broke.load(Ordering::SeqCst));
    }
}
