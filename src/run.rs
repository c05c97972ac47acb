//! `archive --check` as a library call: the CLI in `main.rs` parses
//! arguments into [`CheckOptions`] and calls [`run_check`]; tests call it
//! the same way. A check builds one [`Engine`] and runs it once on a
//! runtime of its own; the daemon keeps its engine for its whole life
//! instead (see [`crate::engine`]).

use std::path::PathBuf;

use crate::config::LoadedConfig;
use crate::engine::{CancellationToken, Engine, EngineOptions, RunRequest, Scope};
use crate::error::RunError;
use crate::report::digest::Digest;
use crate::report::metrics::Metrics;
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
