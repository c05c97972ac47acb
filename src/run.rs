//! The commands of the `archive` binary, as library functions: the CLI in
//! `main.rs` parses arguments into a [`CheckOptions`] and calls
//! [`run_check`]; tests call it the same way.
//!
//! Offline, documents flow straight from the static pipeline into the
//! reports. Online, a blocking thread runs the static pipeline and sends
//! documents over a bounded channel to the async checker, which keeps a
//! bounded number of documents in flight and emits them in corpus order
//! through a bounded reorder buffer; memory stays flat however large the
//! corpus. Report ids are given as documents are emitted, so
//! `documents[i].id == i` in every mode (the schema's promise).
//!
//! A run can be stopped from outside ([`Cancel`], the daemon's shutdown):
//! the whole check future is dropped, which is how tokio cancels. Every
//! long await (request send, each body chunk, rate-limit and Retry-After
//! waits, retry backoff) sits inside it, and all of them are cancel-safe:
//! nothing in `check/` spawns tasks, state changes (database records, the
//! rename of a finished object) are synchronous, and a download's pending
//! object deletes its temporary file when dropped, so nothing partial is
//! ever published. A cancelled run writes no report (a partial one would
//! read as a corpus with fewer links) and does not prune the store's
//! references; what it checked before the cancel stays in the cache.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use futures_util::StreamExt;

use crate::check::Checker;
use crate::config::{Config, LoadedConfig};
use crate::error::RunError;
use crate::pipeline::{corpus_paths, scan_corpus, scan_inputs, CorpusTotals, Scanned};
use crate::report::digest::Digest;
use crate::report::json::JsonReport;
use crate::report::metrics::{Metrics, RunTimes};
use crate::report::progress::Progress;
use crate::report::text::TextReport;
use crate::report::{RunInfo, Summary};
use crate::source::corpus::CorpusSource;
use crate::source::crawl::crawl;
use crate::store::Store;
use crate::ExitCode;

/// What goes to the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// The report for people, on stderr.
    Text,
    /// The JSON report, on stdout.
    Json,
}

/// Everything `archive --check` was asked to do.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Files and folders to scan; empty means `corpus.paths`.
    pub paths: Vec<PathBuf>,
    pub offline: bool,
    /// Ignore (but still refresh) cached check results.
    pub no_cache: bool,
    /// Crawl from these pages instead of scanning the corpus.
    pub crawl: Vec<url::Url>,
    /// Where the JSON report goes (`-` for stdout); `None` means the
    /// configured `report.path`.
    pub report: Option<PathBuf>,
    /// Also write Prometheus metrics here (textfile-collector format).
    pub prom_file: Option<PathBuf>,
    /// Scanned documents kept from earlier runs (the daemon's).
    pub documents: Option<std::sync::Arc<crate::pipeline::DocumentCache>>,
    pub format: OutputFormat,
}

/// The result of a check run.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub summary: Summary,
    pub exit_code: ExitCode,
    /// The run's metrics, to render with its times (the daemon's).
    pub metrics: Metrics,
    /// The dashboard's bounded view of the run.
    pub digest: Digest,
}

/// Documents checked at once, at least; each may have many links in
/// flight. With `check.concurrency` above it, that many documents are in
/// flight, so one-link documents still keep every request slot busy.
const DOCUMENTS_IN_FLIGHT: usize = 16;

/// The reports being built, fed one document at a time. Every sink is
/// fed here, once per document: nothing reads the written report back.
struct Reports {
    summary: Summary,
    json: JsonReport,
    text: Option<TextReport>,
    metrics: Metrics,
    digest: Digest,
    spill_error: Option<std::io::Error>,
    progress: Progress,
}

impl Reports {
    fn add(&mut self, scanned: &Scanned) {
        self.summary.add(scanned);
        self.metrics.add(scanned);
        self.digest.add(scanned);
        if self.spill_error.is_none() {
            self.spill_error = self.json.add(scanned).err();
        }
        if let Some(text) = &mut self.text {
            text.add(scanned);
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

/// A stop signal for a run, shared by clones: once [`Cancel::cancel`] is
/// called, every run given a clone stops as soon as it can. Works across
/// runtimes (the daemon's and the run's own).
#[derive(Debug, Clone)]
pub struct Cancel(std::sync::Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Cancel {
    fn default() -> Cancel {
        Cancel(std::sync::Arc::new(tokio::sync::watch::Sender::new(false)))
    }
}

impl Cancel {
    /// Asks every run holding a clone to stop.
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once [`Cancel::cancel`] has been called.
    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives in `self`, so this cannot fail while we wait.
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Runs the check pipeline over the corpus and writes the reports.
pub fn run_check(loaded: &LoadedConfig, options: &CheckOptions) -> Result<CheckOutcome, RunError> {
    run_check_until(loaded, options, &Cancel::default())?
        .ok_or_else(|| RunError::Internal("the run was cancelled".into()))
}

/// [`run_check`] that stops early when `cancel` fires: `Ok(None)` then,
/// with no report written (see the module doc).
pub fn run_check_until(
    loaded: &LoadedConfig,
    options: &CheckOptions,
    cancel: &Cancel,
) -> Result<Option<CheckOutcome>, RunError> {
    let started = Instant::now();
    let started_unix = crate::report::metrics::unix_now();
    let config = &loaded.config;
    let offline = options.offline || config.check.offline;
    let paths = corpus_paths(&options.paths, config);
    let mut reports = Reports {
        summary: Summary::default(),
        json: JsonReport::new()
            .map_err(|e| RunError::Internal(format!("cannot create temporary file: {e}")))?,
        text: (options.format == OutputFormat::Text).then(TextReport::default),
        metrics: Metrics::default(),
        digest: Digest::default(),
        spill_error: None,
        progress: Progress::new(options.format == OutputFormat::Text && !offline),
    };
    if offline && !options.crawl.is_empty() {
        return Err(RunError::Usage(
            "--crawl needs the network; drop --offline (or check.offline)".into(),
        ));
    }
    if offline {
        let mut source = CorpusSource::new(&paths, &config.corpus);
        scan_corpus(
            &mut source,
            config,
            options.documents.as_deref(),
            |scanned| reports.add(&scanned),
        );
    } else {
        let store = Store::open(&config.store).map_err(RunError::Store)?;
        let checker =
            Checker::new(config, !options.no_cache, Some(store)).map_err(RunError::Usage)?;
        let finished = check_online(
            config.clone(),
            paths,
            &options.crawl,
            options.documents.clone(),
            &checker,
            &mut reports,
            cancel,
        )?;
        if !finished {
            reports.progress.finish();
            tracing::info!("run cancelled; no report written");
            return Ok(None);
        }
        if let Some(store) = checker.store() {
            // A full corpus run knows every current reference; forget the rest.
            if options.paths.is_empty() && options.crawl.is_empty() {
                store.db.prune_refs(checker.started_at());
            }
            reports.summary.store = Some(store.summary(store.room_for_download().err()));
        }
        reports.summary.rate_limit_wait_ms = Some(checker.rate_limit_wait_ms());
    }
    let Reports {
        mut summary,
        json,
        text,
        metrics,
        mut digest,
        spill_error,
        progress,
    } = reports;
    progress.finish();
    if let Some(e) = spill_error {
        return Err(RunError::Internal(format!(
            "cannot write temporary report data: {e}"
        )));
    }
    summary.duration_ms = started.elapsed().as_millis() as u64;
    let info = RunInfo {
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        mode: if offline { "offline" } else { "online" },
        config_path: loaded.path.as_ref().map(|p| p.display().to_string()),
        config_sha256: loaded.digest.clone(),
    };
    digest.finish(&summary, &info);
    let target = match (&options.report, options.format) {
        (Some(p), _) => Some(p.clone()),
        (None, OutputFormat::Json) => Some(PathBuf::from("-")),
        (None, OutputFormat::Text) => {
            Some(config.report.path.clone()).filter(|p| !p.as_os_str().is_empty())
        }
    };
    if let Some(path) = &target {
        json.write_to(path, &info, &summary).map_err(|source| {
            if path.as_os_str() == "-" {
                RunError::Stdout(source)
            } else {
                RunError::WriteReport {
                    path: path.clone(),
                    source,
                }
            }
        })?;
    }
    if let Some(prom) = &options.prom_file {
        write_prom_file(prom, &metrics, &summary, started_unix)?;
    }
    if let Some(text) = text {
        let rendered = text.render(&summary, offline);
        let _ = std::io::stderr().write_all(rendered.as_bytes());
    }
    let exit_code = if summary.failing_links() > 0 {
        ExitCode::Failures
    } else {
        ExitCode::Clean
    };
    Ok(Some(CheckOutcome {
        summary,
        exit_code,
        metrics,
        digest,
    }))
}

/// Writes the run's metrics to `prom`, from the accumulator: the report
/// may have gone to stdout or nowhere.
fn write_prom_file(
    prom: &std::path::Path,
    metrics: &Metrics,
    summary: &Summary,
    started: f64,
) -> Result<(), RunError> {
    let now = crate::report::metrics::unix_now();
    let times = RunTimes {
        started,
        finished: now,
        last_success: now,
    };
    crate::report::metrics::write_atomically(prom, &metrics.render(summary, times)).map_err(
        |source| RunError::WriteReport {
            path: prom.to_path_buf(),
            source,
        },
    )
}

/// Streams the corpus through the static pipeline (on a blocking thread)
/// and the checker (async), feeding the reports as documents complete.
/// False when `cancel` stopped it first.
fn check_online(
    config: Config,
    paths: Vec<PathBuf>,
    crawl_seeds: &[url::Url],
    documents: Option<std::sync::Arc<crate::pipeline::DocumentCache>>,
    checker: &Checker,
    reports: &mut Reports,
    cancel: &Cancel,
) -> Result<bool, RunError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Internal(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(async {
        // Losing the race drops the check future and with it every request,
        // wait and pending object in flight (see the module doc).
        tokio::select! {
            biased;
            _ = cancel.cancelled() => None,
            done = check_all(config, paths, crawl_seeds, documents, checker, reports, cancel) => Some(done),
        }
    });
    match result {
        Some(done) => done.map(|()| true),
        None => {
            // Do not wait for the corpus scanner: it stops at its next
            // document (`Stoppable`), and the process may be exiting.
            runtime.shutdown_timeout(std::time::Duration::from_millis(200));
            Ok(false)
        }
    }
}

async fn check_all(
    config: Config,
    paths: Vec<PathBuf>,
    crawl_seeds: &[url::Url],
    documents: Option<std::sync::Arc<crate::pipeline::DocumentCache>>,
    checker: &Checker,
    reports: &mut Reports,
    cancel: &Cancel,
) -> Result<(), RunError> {
    if !crawl_seeds.is_empty() {
        crawl(checker, &config, crawl_seeds, |page| reports.add(&page)).await;
        return Ok(());
    }
    let in_flight = DOCUMENTS_IN_FLIGHT.max(config.check.concurrency);
    let (tx, rx) = tokio::sync::mpsc::channel::<Scanned>(in_flight);
    let cancel = cancel.clone();
    let producer = tokio::task::spawn_blocking(move || {
        let mut source = Stoppable {
            inner: CorpusSource::new(&paths, &config.corpus),
            cancel,
        };
        scan_inputs(&mut source, &config, documents.as_deref(), |scanned| {
            // The receiver only goes away if the run is abandoned.
            let _ = tx.blocking_send(scanned);
        });
    });
    let mut totals = CorpusTotals::default();
    check_in_order(
        rx,
        checker,
        in_flight,
        REORDER_WINDOW * in_flight,
        |mut checked| {
            totals.number(&mut checked);
            reports.add(&checked);
        },
    )
    .await;
    producer
        .await
        .map_err(|e| RunError::Internal(format!("the corpus scanner stopped: {e}")))
}

/// A corpus source that runs dry once the run is cancelled, so the
/// scanner thread does not go on reading a corpus nobody will check.
struct Stoppable {
    inner: CorpusSource,
    cancel: Cancel,
}

impl crate::source::Source for Stoppable {
    fn next_input(&mut self) -> Option<crate::source::Input> {
        if self.cancel.is_cancelled() {
            return None;
        }
        self.inner.next_input()
    }
}

/// Documents admitted but not yet emitted, as a multiple of the documents
/// in flight: room for the ones that finish early to wait for a slow one
/// before it, while the others keep every request slot busy.
const REORDER_WINDOW: usize = 2;

/// Checks the documents from `input` with at most `running` at once and
/// hands them to `emit` in the order they arrived, however they finish.
///
/// A document that finishes before an earlier one waits in a reorder
/// buffer. No new document is taken while `window` documents are taken
/// and not yet emitted, so a slow document holds back at most `window`
/// others: memory stays bounded, and the slot it blocks is one of many.
async fn check_in_order(
    mut input: tokio::sync::mpsc::Receiver<Scanned>,
    checker: &Checker,
    running: usize,
    window: usize,
    mut emit: impl FnMut(Scanned),
) {
    let mut checks = futures_util::stream::FuturesUnordered::new();
    let mut finished: BTreeMap<usize, Scanned> = BTreeMap::new();
    let (mut taken, mut emitted) = (0usize, 0usize);
    let mut input_open = true;
    loop {
        // With nothing running, every taken document has been emitted
        // (the buffer drains as soon as the earliest one finishes), so
        // this is true whenever `checks` is empty: no deadlock.
        let room = checks.len() < running.max(1) && taken - emitted < window.max(1);
        tokio::select! {
            next = input.recv(), if input_open && room => match next {
                Some(scanned) => {
                    let seq = taken;
                    taken += 1;
                    checks.push(async move { (seq, checker.check_document(scanned).await) });
                }
                None => input_open = false,
            },
            Some((seq, checked)) = checks.next(), if !checks.is_empty() => {
                finished.insert(seq, checked);
                while let Some(next) = finished.remove(&emitted) {
                    emitted += 1;
                    emit(next);
                }
            }
            else => break,
        }
    }
}
