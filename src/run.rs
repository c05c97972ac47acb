//! The commands of the `archive` binary, as library functions: the CLI in
//! `main.rs` parses arguments into a [`CheckOptions`] and calls
//! [`run_check`]; tests call it the same way.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use crate::config::LoadedConfig;
use crate::error::RunError;
use crate::pipeline::{corpus_paths, scan_corpus};
use crate::report::json::JsonReport;
use crate::report::text::TextReport;
use crate::report::{RunInfo, Summary};
use crate::source::corpus::CorpusSource;
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
    /// Where the JSON report goes (`-` for stdout); `None` means the
    /// configured `report.path`.
    pub report: Option<PathBuf>,
    pub format: OutputFormat,
}

/// The result of a check run.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub summary: Summary,
    pub exit_code: ExitCode,
}

/// Runs the check pipeline over the corpus and writes the reports.
pub fn run_check(loaded: &LoadedConfig, options: &CheckOptions) -> Result<CheckOutcome, RunError> {
    let started = Instant::now();
    let config = &loaded.config;
    let offline = options.offline || config.check.offline;
    if !offline {
        tracing::warn!(
            "HTTP checking is not built yet; links that need the network are reported `unchecked`"
        );
    }
    let paths = corpus_paths(&options.paths, config);
    let mut source = CorpusSource::new(&paths, &config.corpus);
    let mut json = JsonReport::new()
        .map_err(|e| RunError::Internal(format!("cannot create temporary file: {e}")))?;
    let mut text = TextReport::default();
    let mut summary = Summary::default();
    let mut spill_error = None;
    scan_corpus(&mut source, config, |scanned| {
        summary.add(&scanned);
        if spill_error.is_none() {
            spill_error = json.add(&scanned).err();
        }
        if options.format == OutputFormat::Text {
            text.add(&scanned);
        }
        if let Some(e) = &scanned.document.error {
            tracing::debug!(path = %scanned.document.path, "{e}");
        }
    });
    if let Some(e) = spill_error {
        return Err(RunError::Internal(format!(
            "cannot write temporary report data: {e}"
        )));
    }
    summary.duration_ms = started.elapsed().as_millis() as u64;
    let info = RunInfo {
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        mode: "offline",
        config_path: loaded.path.as_ref().map(|p| p.display().to_string()),
        config_sha256: loaded.digest.clone(),
    };
    let target = match (&options.report, options.format) {
        (Some(p), _) => Some(p.clone()),
        (None, OutputFormat::Json) => Some(PathBuf::from("-")),
        (None, OutputFormat::Text) => {
            Some(config.report.path.clone()).filter(|p| !p.as_os_str().is_empty())
        }
    };
    if let Some(path) = target {
        json.write_to(&path, &info, &summary)
            .map_err(|source| RunError::WriteReport {
                path: path.clone(),
                source,
            })?;
    }
    if options.format == OutputFormat::Text {
        let rendered = text.render(&summary, offline);
        let _ = std::io::stderr().write_all(rendered.as_bytes());
    }
    let exit_code = if summary.failing_links() > 0 {
        ExitCode::Failures
    } else {
        ExitCode::Clean
    };
    Ok(CheckOutcome { summary, exit_code })
}
