//! `archive --check` as a library call: the CLI in `main.rs` parses
//! arguments into [`CheckOptions`] and calls [`run_check`]; tests call it
//! the same way. A check builds one [`Engine`] and runs it once on a
//! runtime of its own; the daemon keeps its engine for its whole life
//! instead (see [`crate::engine`]).
//!
//! Also here: the reports a run feeds one document at a time
//! ([`Reports`]) and the Prometheus file written after it.

use std::path::PathBuf;

use crate::config::LoadedConfig;
use crate::engine::{CancellationToken, Engine, EngineOptions, RunRequest, Scope};
use crate::error::RunError;
use crate::pipeline::Scanned;
use crate::report::digest::Digest;
use crate::report::json::JsonReport;
use crate::report::metrics::{Metrics, RunTimes};
use crate::report::progress::Progress;
use crate::report::text::TextReport;
use crate::report::Summary;
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

/// The reports being built, fed one document at a time. Every sink is
/// fed here, once per document: nothing reads the written report back.
pub(crate) struct Reports {
    pub(crate) summary: Summary,
    pub(crate) json: JsonReport,
    pub(crate) text: Option<TextReport>,
    pub(crate) metrics: Metrics,
    pub(crate) digest: Digest,
    pub(crate) spill_error: Option<std::io::Error>,
    pub(crate) progress: Progress,
}

impl Reports {
    pub(crate) fn new(format: OutputFormat, offline: bool) -> Result<Reports, RunError> {
        Ok(Reports {
            summary: Summary::default(),
            json: JsonReport::new()
                .map_err(|e| RunError::Internal(format!("cannot create temporary file: {e}")))?,
            text: (format == OutputFormat::Text).then(TextReport::default),
            metrics: Metrics::default(),
            digest: Digest::default(),
            spill_error: None,
            progress: Progress::new(format == OutputFormat::Text && !offline),
        })
    }

    pub(crate) fn add(&mut self, scanned: &Scanned) {
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

/// Runs the check pipeline over the corpus and writes the reports.
pub fn run_check(loaded: &LoadedConfig, options: &CheckOptions) -> Result<CheckOutcome, RunError> {
    run_check_until(loaded, options, &CancellationToken::new())?
        .ok_or_else(|| RunError::Internal("the run was cancelled".into()))
}

/// [`run_check`] for a terminal: Ctrl-C (SIGINT) cancels the run, which
/// stops within about a second, writes no report and leaves nothing
/// partial in the store ([`RunError::Interrupted`]).
pub fn run_check_interruptible(
    loaded: &LoadedConfig,
    options: &CheckOptions,
) -> Result<CheckOutcome, RunError> {
    run_with(loaded, options, &CancellationToken::new(), true)?.ok_or(RunError::Interrupted)
}

/// [`run_check`] that stops early when `cancel` fires: `Ok(None)` then,
/// with no report written. Builds a runtime and an [`Engine`] for this
/// one run.
pub fn run_check_until(
    loaded: &LoadedConfig,
    options: &CheckOptions,
    cancel: &CancellationToken,
) -> Result<Option<CheckOutcome>, RunError> {
    run_with(loaded, options, cancel, false)
}

fn run_with(
    loaded: &LoadedConfig,
    options: &CheckOptions,
    cancel: &CancellationToken,
    on_ctrl_c: bool,
) -> Result<Option<CheckOutcome>, RunError> {
    let offline = options.offline || loaded.config.check.offline;
    if offline && !options.crawl.is_empty() {
        return Err(RunError::Usage(
            "--crawl needs the network; drop --offline (or check.offline)".into(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Internal(format!("cannot start the async runtime: {e}")))?;
    let engine = Engine::new(
        loaded.clone(),
        EngineOptions {
            offline: options.offline,
            no_cache: options.no_cache,
            keep_documents: false,
        },
    )?;
    let request = RunRequest {
        scope: if options.crawl.is_empty() {
            Scope::Corpus(options.paths.clone())
        } else {
            Scope::Crawl(options.crawl.clone())
        },
        report: options.report.clone(),
        prom_file: options.prom_file.clone(),
        format: options.format,
    };
    let outcome = runtime.block_on(async {
        if on_ctrl_c {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    tracing::info!("interrupted; stopping the run");
                    cancel.cancel();
                }
            });
        }
        engine.run(&request, cancel).await
    });
    // A cancelled run may leave the corpus scanner finishing its current
    // document; do not wait for it (the process may be exiting).
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    outcome
}

/// Writes the run's metrics to `prom`, from the accumulator: the report
/// may have gone to stdout or nowhere.
pub(crate) fn write_prom_file(
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
