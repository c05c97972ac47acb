//! The report for people: grouped by document, one line per finding. An
//! exploded URL is one line with its repair, not 66; healthy and merely
//! unchecked links are counted, not listed.
//!
//! It streams: each document that has something to say is written the
//! moment the engine hands it over, in corpus order, and forgotten; the
//! summary follows at the end. Nothing is kept per document, so memory
//! stays flat however large the corpus, and the first problems show while
//! the run goes on. The price is the order: documents used to be sorted
//! worst first, which needs the whole run in hand; now they come in corpus
//! order (the order the files were found), and the worst first order
//! stays *within* a document, where it costs nothing.
//!
//! A document's lines are formatted into one reused buffer and written
//! with one `write_all`, so a document's block is never interleaved with
//! other output (the progress bar is suspended around it, see
//! [`super::sinks::Sinks::add`]) and costs one write, not one per line.
//! Where nobody watches it live (an offline check with stderr a file or a
//! pipe, see [`TextReport::gathering`] and [`super::sinks::Sinks::new`])
//! blocks are gathered and written [`GATHER_BYTES`] at a time, or once
//! the oldest is [`GATHER_FOR`] old (checked as each document is added),
//! so the report still flows: a write(2) per block was 40,000 system
//! calls and 0.6 CPU-seconds of a run over 100,000 articles. A report
//! dropped without its summary (a cancelled run) still writes what it
//! gathered.
//! A failed write (stderr closed) stops the text report quietly: the JSON
//! report and the exit code are what scripts read.

use std::fmt::Write as _;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::model::Status;
use crate::pipeline::Scanned;
use crate::source::DocumentStatus;

use super::Summary;
use crate::vocab::{FindingKind, Reason};

/// The text report being written to `out`.
pub struct TextReport<W: Write> {
    /// `None` only once [`TextReport::finish`] has given it back.
    out: Option<W>,
    /// One document's block, reused from document to document.
    block: String,
    /// Set by the first failed write; nothing more is written after it.
    failed: bool,
    /// Blocks held back, in order, until [`TextReport::release`]: online,
    /// until a host has answered, a failure to connect may still turn out
    /// to be this machine's outage rather than the host's death, and a
    /// person should not read `broken` for it first.
    held: Option<Vec<u8>>,
    /// Blocks gathered for one write, when [`TextReport::gathering`].
    gathered: Option<Gathered>,
}

/// What a gathering report has not written yet.
struct Gathered {
    bytes: Vec<u8>,
    since: Instant,
}

/// A gathering report writes once it holds this much…
pub const GATHER_BYTES: usize = 64 << 10;
/// …or once its oldest unwritten block is this old.
pub const GATHER_FOR: Duration = Duration::from_millis(200);

impl<W: Write> TextReport<W> {
    /// A report that writes each block the moment it is added.
    pub fn new(out: W) -> TextReport<W> {
        TextReport {
            out: Some(out),
            block: String::new(),
            failed: false,
            held: None,
            gathered: None,
        }
    }

    /// Gathers blocks into writes of [`GATHER_BYTES`] (or older than
    /// [`GATHER_FOR`]), for an `out` nobody reads as it comes.
    pub fn gathering(mut self) -> TextReport<W> {
        self.gathered = Some(Gathered {
            bytes: Vec::with_capacity(GATHER_BYTES + 4096),
            since: Instant::now(),
        });
        self
    }

    /// Holds blocks back from now on, until [`TextReport::release`] or
    /// [`TextReport::discard`].
    pub fn hold(&mut self) {
        self.held.get_or_insert_with(Vec::new);
    }

    /// Writes what was held back and streams from now on.
    pub fn release(&mut self) {
        if let Some(held) = self.held.take() {
            self.flush_gathered();
            self.write_bytes(&held);
        }
    }

    /// Forgets what was held back (a pass judged again) and streams.
    pub fn discard(&mut self) {
        self.held = None;
    }

    /// Writes `scanned`'s block now, if it has something to report.
    pub fn add(&mut self, scanned: &Scanned) {
        self.block.clear();
        format_document(&mut self.block, scanned);
        let block = std::mem::take(&mut self.block);
        match (&mut self.held, &mut self.gathered) {
            (Some(held), _) => held.extend_from_slice(block.as_bytes()),
            (None, Some(gathered)) => {
                if gathered.bytes.is_empty() {
                    gathered.since = Instant::now();
                }
                gathered.bytes.extend_from_slice(block.as_bytes());
                // Checked on every document, a healthy one too, so that
                // what was gathered goes out within GATHER_FOR of the
                // next document done.
                if gathered.bytes.len() >= GATHER_BYTES
                    || (!gathered.bytes.is_empty() && gathered.since.elapsed() >= GATHER_FOR)
                {
                    self.flush_gathered();
                }
            }
            (None, None) if !block.is_empty() => self.write_bytes(block.as_bytes()),
            (None, None) => {}
        }
        self.block = block;
    }

    /// Writes the gathered blocks, if any.
    fn flush_gathered(&mut self) {
        let Some(gathered) = &mut self.gathered else {
            return;
        };
        if gathered.bytes.is_empty() {
            return;
        }
        if let (false, Some(out)) = (self.failed, self.out.as_mut()) {
            self.failed = out.write_all(&gathered.bytes).is_err();
        }
        gathered.bytes.clear();
    }

    /// Writes the summary and gives the writer back.
    pub fn finish(mut self, summary: &Summary, offline: bool) -> W {
        self.release();
        self.flush_gathered();
        self.block.clear();
        format_summary(&mut self.block, summary, offline);
        let block = std::mem::take(&mut self.block);
        self.write_bytes(block.as_bytes());
        let mut out = self.out.take().expect("the writer is taken only here");
        let _ = out.flush();
        out
    }

    /// Writes `bytes` unless a write failed before.
    fn write_bytes(&mut self, bytes: &[u8]) {
        if let (false, Some(out)) = (self.failed, self.out.as_mut()) {
            if out.write_all(bytes).is_err() {
                self.failed = true;
            }
        }
    }
}

impl<W: Write> Drop for TextReport<W> {
    /// A run that ends without a summary (cancelled, failed) still writes
    /// the documents it gathered: they were done, and without gathering
    /// they would be on the screen already.
    fn drop(&mut self) {
        self.flush_gathered();
    }
}

/// Appends a document's block (its head line, one line per problem, a
/// blank line) to `out`, or nothing when it has nothing to report.
fn format_document(out: &mut String, scanned: &Scanned) {
    let doc = &scanned.document;
    let start = out.len();
    let _ = write!(
        out,
        "{} [{} link{}",
        doc.path,
        doc.links,
        if doc.links == 1 { "" } else { "s" }
    );
    if let Some(t) = &doc.title {
        let _ = write!(out, ", \"{t}\"");
    }
    out.push_str("]\n");
    let head = out.len();
    if doc.status != DocumentStatus::Ok {
        let _ = writeln!(
            out,
            "  {:<12} {}",
            match doc.status {
                DocumentStatus::Error => "error",
                _ => "skipped",
            },
            doc.error.as_deref().unwrap_or("")
        );
    }
    for note in &doc.notes {
        let _ = writeln!(out, "  {:<12} {note}", "note");
    }
    for f in scanned
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::ExplodedUrl)
    {
        let _ = writeln!(
            out,
            "  L{}-{:<7} {:<12} {}\n{:>16}repair: {}",
            f.line,
            f.end_line,
            f.status.as_str(),
            f.message,
            "",
            f.suggestions.first().map_or("", |s| s.url.as_str())
        );
    }
    let mut listed: Vec<_> = scanned
        .links
        .iter()
        .filter(|l| l.finding.is_none() && !matches!(l.status, Status::Ok | Status::Unchecked))
        .collect();
    listed.sort_by_key(|l| (std::cmp::Reverse(l.status), l.line, l.column));
    for l in listed {
        let _ = write!(
            out,
            "  L{:<9} {:<12} {:<20} {}",
            format!("{}:{}", l.line, l.column),
            l.status.as_str(),
            l.reason.map_or("", Reason::as_str),
            l.url
        );
        if let Some(m) = &l.message {
            let _ = write!(out, "  ({m})");
        }
        out.push('\n');
    }
    for f in scanned
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Duplicate)
    {
        let _ = writeln!(out, "  {:<12} {}", "duplicate", f.message);
    }
    if out.len() == head {
        // Nothing to say about this document: no head line either.
        out.truncate(start);
    } else {
        out.push('\n');
    }
}

/// Appends the run's summary lines to `out`.
fn format_summary(out: &mut String, summary: &Summary, offline: bool) {
    let _ = writeln!(out, "summary: {}", summary.one_line());
    if offline {
        out.push_str("offline: links that need the network are `unchecked`\n");
    }
    if let Some(evidence) = summary
        .network
        .as_ref()
        .filter(|n| !n.up)
        .and_then(|n| n.evidence.as_deref())
    {
        let _ = writeln!(
            out,
            "network unavailable: {evidence}\n  links that could not be reached are `error` (network_unavailable), not `broken`; their last known status is kept; run again once the network is back (exit 4)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{document, link};
    use std::io;

    fn scanned(path: &str, status: Status) -> Scanned {
        let mut l = link(status, "http://h.cn/a.jpg", None);
        l.reason = Some(Reason::NotFound);
        let mut s = document(path, DocumentStatus::Ok, vec![l]);
        s.document.links = 1;
        s
    }

    #[test]
    fn a_document_is_written_when_added_in_corpus_order() {
        let mut report = TextReport::new(Vec::new());
        report.add(&scanned("b.md", Status::Unresolvable));
        // Written at once, before any other document or the summary.
        let after_first = String::from_utf8(report.out.clone().unwrap()).unwrap();
        assert_eq!(
            after_first.lines().next(),
            Some("b.md [1 link]"),
            "{after_first}"
        );
        assert!(after_first.contains("unresolvable"), "{after_first}");
        assert!(!after_first.contains("summary:"), "{after_first}");
        // A healthy document writes nothing; a worse one comes after, in
        // corpus order, not worst first.
        report.add(&scanned("c.md", Status::Ok));
        report.add(&scanned("a.md", Status::Broken));
        let out = String::from_utf8(report.finish(&Summary::default(), true)).unwrap();
        let heads: Vec<&str> = out.lines().filter(|l| l.ends_with(" link]")).collect();
        assert_eq!(heads, ["b.md [1 link]", "a.md [1 link]"], "{out}");
        assert!(out.starts_with(&after_first), "{out}");
        let tail: Vec<&str> = out.lines().rev().take(2).collect();
        assert!(tail[1].starts_with("summary: "), "{out}");
        assert!(tail[0].starts_with("offline: "), "{out}");
    }

    /// Counts the writes it is given.
    #[derive(Default)]
    struct Writes {
        bytes: Vec<u8>,
        calls: usize,
    }

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_gathering_report_writes_in_large_blocks_in_corpus_order() {
        let mut streamed = TextReport::new(Writes::default());
        let mut gathered = TextReport::new(Writes::default()).gathering();
        let n = 3000;
        for i in 0..n {
            let doc = scanned(&format!("{i:05}.md"), Status::Broken);
            streamed.add(&doc);
            gathered.add(&doc);
        }
        // Nothing is lost or reordered, the summary last, and far fewer
        // writes: one per GATHER_BYTES (or per GATHER_FOR on a slow run).
        let (streamed, gathered) = (
            streamed.finish(&Summary::default(), true),
            gathered.finish(&Summary::default(), true),
        );
        assert_eq!(gathered.bytes, streamed.bytes);
        assert!(streamed.calls > n, "{}", streamed.calls);
        let most = gathered.bytes.len() / GATHER_BYTES + 2;
        assert!(
            gathered.calls <= most,
            "{} writes, expected at most {most}",
            gathered.calls
        );
    }

    #[test]
    fn a_gathering_report_dropped_without_a_summary_writes_what_it_gathered() {
        #[derive(Clone, Default)]
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let out = Shared::default();
        let mut report = TextReport::new(out.clone()).gathering();
        report.add(&scanned("a.md", Status::Broken));
        assert!(
            out.0.lock().unwrap().is_empty(),
            "gathered, not written yet"
        );
        drop(report);
        let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(written.starts_with("a.md [1 link]"), "{written}");
    }

    #[test]
    fn a_gathering_report_writes_what_it_gathered_before_a_release() {
        let mut report = TextReport::new(Writes::default()).gathering();
        report.add(&scanned("a.md", Status::Broken));
        report.hold();
        report.add(&scanned("b.md", Status::Broken));
        report.release();
        report.add(&scanned("c.md", Status::Broken));
        let out = report.finish(&Summary::default(), true);
        let out = String::from_utf8(out.bytes).unwrap();
        let heads: Vec<&str> = out.lines().filter(|l| l.ends_with(" link]")).collect();
        assert_eq!(
            heads,
            ["a.md [1 link]", "b.md [1 link]", "c.md [1 link]"],
            "{out}"
        );
    }

    #[test]
    fn held_blocks_wait_for_release_or_are_discarded() {
        let mut report = TextReport::new(Vec::new());
        report.hold();
        report.add(&scanned("a.md", Status::Broken));
        assert!(report.out.as_ref().unwrap().is_empty(), "held back");
        report.release();
        let after_release = report.out.as_ref().unwrap().len();
        assert!(after_release > 0, "released in order");
        report.add(&scanned("b.md", Status::Broken));
        assert!(
            report.out.as_ref().unwrap().len() > after_release,
            "streams after release"
        );
        let mut judged = TextReport::new(Vec::new());
        judged.hold();
        judged.add(&scanned("c.md", Status::Broken));
        judged.discard();
        let out = judged.finish(&Summary::default(), false);
        assert!(!String::from_utf8_lossy(&out).contains("c.md"), "discarded");
    }

    #[test]
    fn a_closed_writer_stops_the_report_quietly() {
        struct Closed(usize);
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                self.0 += 1;
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut report = TextReport::new(Closed(0));
        report.add(&scanned("a.md", Status::Broken));
        report.add(&scanned("b.md", Status::Broken));
        let closed = report.finish(&Summary::default(), false);
        assert_eq!(closed.0, 1, "no write after the first failure");
    }
}
