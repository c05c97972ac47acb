//! The sinks of a run, fed together once per document as the engine
//! emits it, in corpus order: the summary counters, the streaming JSON
//! report, the text report for people, the Prometheus accumulator, the
//! dashboard digest and the progress bar. One pass feeds them all; none
//! of them reads the written report back.
//!
//! The text report writes each document to stderr as it is added (see
//! [`super::text`]); the progress bar shares stderr, so it is suspended
//! (cleared, then redrawn) around each write.

use std::io::Write;

use crate::pipeline::Scanned;

use super::digest::Digest;
use super::json::{JsonReport, ReportHead, ReportTarget};
use super::metrics::{Metrics, RunTimes};
use super::progress::Progress;
use super::text::TextReport;
use super::Summary;

/// The reports being built, fed one document at a time. Every sink is
/// fed here, once per document: nothing reads the written report back.
pub struct Sinks {
    pub summary: Summary,
    pub json: JsonReport,
    /// The report for people, streaming to stderr.
    pub text: Option<TextReport<Box<dyn Write + Send>>>,
    pub metrics: Metrics,
    pub digest: Digest,
    pub spill_error: Option<std::io::Error>,
    pub progress: Progress,
}

impl Sinks {
    /// The sinks of one run: the JSON report for `target`, `text` adds
    /// the report for people, with a progress bar on a terminal when the
    /// run is `online`.
    pub fn new(
        target: ReportTarget,
        head: ReportHead,
        text: bool,
        online: bool,
    ) -> std::io::Result<Sinks> {
        Ok(Sinks {
            summary: Summary::default(),
            json: JsonReport::new(target, head)?,
            text: text.then(|| {
                let report = TextReport::new(Box::new(std::io::stderr()) as Box<dyn Write + Send>);
                // Offline, documents come by the thousand a second: to a
                // file or a pipe they go out in blocks. A person at a
                // terminal sees each as it is done, and so does an online
                // run's log, where documents take the network's time.
                if online || std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                    report
                } else {
                    report.gathering()
                }
            }),
            metrics: Metrics::default(),
            digest: Digest::default(),
            spill_error: None,
            progress: Progress::new(text && online),
        })
    }

    pub fn add(&mut self, scanned: &Scanned) {
        self.summary.add(scanned);
        self.metrics.add(scanned);
        self.digest.add(scanned);
        if self.spill_error.is_none() {
            self.spill_error = self.json.add(scanned).err();
        }
        if let Some(text) = &mut self.text {
            self.progress.suspend(|| text.add(scanned));
        }
        if let Some(e) = &scanned.document.error {
            tracing::debug!(path = %scanned.document.path, "{e}");
        }
        self.progress.update(
            self.summary.documents.scanned,
            self.summary.links.total,
            self.summary.failing_links(),
        );
    }
}

/// Writes the run's metrics to `prom`, from the accumulator: the report
/// may have gone to stdout or nowhere.
pub fn write_prom_file(
    prom: &std::path::Path,
    metrics: &Metrics,
    summary: &Summary,
    started: f64,
) -> std::io::Result<()> {
    let now = super::metrics::unix_now();
    let times = RunTimes {
        started,
        finished: now,
        last_success: now,
    };
    super::metrics::write_atomically(prom, &metrics.render(summary, times))
}
