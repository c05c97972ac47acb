//! The engine: what a run needs, built once and kept for as many runs as
//! the process makes.
//!
//! An [`Engine`] holds the settings, the store (its lock, its state
//! database and writer thread), the [`Checker`] (HTTP client and its
//! connection pool, host gates with their rate-limit and pause state,
//! cache policy) and, for a long-lived process, the cache of scanned
//! documents. The CLI builds one per invocation; the daemon builds one
//! for its whole life and calls [`Engine::run`] once per cycle, so
//! per-host politeness and open connections carry over from one run to
//! the next. [`Engine::reload`] swaps settings between runs and rebuilds
//! only what they changed: the checker when the network settings change
//! (keeping the host gates unless the limits changed), the store only
//! when it moved, the document cache when extraction settings change.
//!
//! [`Engine::run`] is async and runs on the caller's runtime: there is no
//! runtime of its own. A corpus is scanned on blocking threads fed and
//! drained by the [driver](drive); a crawl scans each fetched page inline
//! (one page at a time per task, small next to its fetch). A run stops early when its
//! [`CancellationToken`] fires: the whole drive future is dropped, which
//! is how tokio cancels, and with it every request, body read, rate-limit
//! and `Retry-After` wait, and retry backoff in flight. All of these are
//! cancel-safe: nothing in `check/` spawns tasks but an object's commit
//! (fsync, rename, fsync of its folder, on a blocking thread), which
//! finishes on its own and publishes a whole object or none; database
//! records are sent synchronously, and a download's pending object
//! deletes its temporary file when dropped, so nothing partial is ever
//! published. A cancelled run writes no report
//! (a partial one would read as a corpus with fewer links) and does not
//! prune the store's references; what it checked stays in the cache.
//!
//! Whether the network was there at all is only known once the corpus
//! pass is over ([`crate::check::outage`]): the verdict must not depend
//! on which checks happened to finish first. Documents stream into the
//! sinks before it, so when the verdict is "unavailable" the run drives
//! the scope a second time into fresh sinks: every URL's result is the
//! first pass's (the checker fetches a URL at most once per run), now
//! reported as `network_unavailable`. Only an outage run pays for the
//! second pass, in scanning, never in requests (a crawl fetches its pages
//! again: they are not cached). The text report holds documents back
//! until a host has answered (then streams); a run where nothing answered
//! never writes its first pass, only the second, so a person never reads
//! `broken` for a link the verdict calls `network_unavailable`. The
//! exit code is then 4, and the store is
//! marked so that `gc` refuses ([`crate::store::marker`]).

mod crawl;
mod drive;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub use tokio_util::sync::CancellationToken;

use crate::check::outage::Network;
use crate::check::Checker;
use crate::config::{Config, LoadedConfig};
use crate::error::RunError;
use crate::pipeline::{corpus_paths, DocumentCache};
use crate::report::json::{ReportHead, ReportTarget};
use crate::report::sinks::{write_prom_file, Sinks};
use crate::report::RunInfo;
use crate::run::{CheckOutcome, OutputFormat};
use crate::store::{self, Store};
use crate::ExitCode;

/// What a run covers.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Files and folders to scan; empty means the configured
    /// `corpus.paths` (a full run, which may prune the store's references).
    Corpus(Vec<PathBuf>),
    /// Pages to crawl from.
    Crawl(Vec<url::Url>),
}

/// One run's request: what to cover and where the reports go.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub scope: Scope,
    /// Where the JSON report goes (`-` for stdout); `None` means the
    /// configured `report.path` (stdout with [`OutputFormat::Json`]).
    pub report: Option<PathBuf>,
    /// Also write Prometheus metrics here (textfile-collector format).
    pub prom_file: Option<PathBuf>,
    pub format: OutputFormat,
}

/// How an engine checks, fixed for its life.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineOptions {
    /// No network: static diagnosis only (also `check.offline`).
    pub offline: bool,
    /// Ignore (but still refresh) cached check results.
    pub no_cache: bool,
    /// Keep scanned documents between runs (a long-lived process).
    pub keep_documents: bool,
}

/// Settings, store, checker and document cache, for one or many runs.
pub struct Engine {
    loaded: LoadedConfig,
    options: EngineOptions,
    /// `None` offline. Shared with the tasks that check a run's documents.
    checker: Option<Arc<Checker>>,
    documents: Option<Arc<DocumentCache>>,
}

/// Whether two configuration sections are the same (they are plain data).
fn same<T: serde::Serialize>(a: &T, b: &T) -> bool {
    serde_json::to_value(a).ok() == serde_json::to_value(b).ok()
}

/// Whether `a` and `b` check the network the same way.
fn same_network(a: &Config, b: &Config) -> bool {
    same(&a.check, &b.check)
        && same(&a.resolve, &b.resolve)
        && same(&a.remap, &b.remap)
        && same(&a.store, &b.store)
}

impl Engine {
    /// Opens the store and builds the checker (unless offline).
    pub fn new(loaded: LoadedConfig, options: EngineOptions) -> Result<Engine, RunError> {
        let offline = options.offline || loaded.config.check.offline;
        let checker = if offline {
            None
        } else {
            Some(Arc::new(build_checker(
                &loaded.config,
                options,
                None,
                None,
            )?))
        };
        Ok(Engine {
            options: EngineOptions { offline, ..options },
            documents: options
                .keep_documents
                .then(|| Arc::new(document_cache(&loaded.config))),
            loaded,
            checker,
        })
    }

    /// Where the store's objects live (online), for the daemon's
    /// `/objects/`.
    pub fn objects(&self) -> Option<Arc<dyn crate::store::objects::ObjectBackend>> {
        self.checker
            .as_ref()
            .and_then(|c| c.store())
            .map(|s| s.objects.clone())
    }

    /// The settings in force.
    pub fn settings(&self) -> &LoadedConfig {
        &self.loaded
    }

    /// The checker's host gates (online), e.g. for live metrics.
    pub fn hosts(&self) -> Option<Arc<crate::check::hosts::Hosts>> {
        self.checker.as_deref().map(Checker::hosts)
    }

    pub fn offline(&self) -> bool {
        self.options.offline
    }

    /// Swaps in new settings for the next run, rebuilding only what they
    /// change (see the module doc). On an error nothing changes.
    pub fn reload(&mut self, loaded: LoadedConfig) -> Result<(), RunError> {
        let (old, new) = (&self.loaded.config, &loaded.config);
        if new.check.offline != old.check.offline {
            return Err(RunError::Usage(
                "check.offline cannot change while running; restart instead".into(),
            ));
        }
        if new.store.url != old.store.url
            || new.store.s3 != old.store.s3
            || new.store.node_id != old.store.node_id
        {
            return Err(RunError::Usage(
                "store.url, [store.s3] and store.node_id cannot change while running; restart instead"
                    .into(),
            ));
        }
        if let Some(checker) = self.checker.as_ref().filter(|_| !same_network(old, new)) {
            // Build what can fail before giving up the running checker:
            // a checker without a store tries the new client settings.
            Checker::with_hosts(new, !self.options.no_cache, None, None)
                .map_err(RunError::Usage)?;
            let store_moved = old.store.path != new.store.path;
            let fresh_store = if store_moved {
                Some(Store::open(&new.store).map_err(RunError::Store)?)
            } else {
                None
            };
            let hosts = checker.hosts();
            let old_checker = self.checker.take();
            let store = match fresh_store {
                Some(s) => Some(s),
                None => old_checker.and_then(store_of).map(|mut s| {
                    s.set_min_free(new.store.min_free_bytes);
                    s
                }),
            };
            self.checker = Some(Arc::new(build_checker(
                new,
                self.options,
                store,
                Some(hosts),
            )?));
        }
        let extraction_changed = !same(&old.corpus, &new.corpus) || !same(&old.links, &new.links);
        if let Some(documents) = self.documents.as_mut() {
            if old.daemon.document_cache_mb != new.daemon.document_cache_mb {
                *documents = Arc::new(document_cache(new));
            } else if extraction_changed {
                documents.clear();
            }
        }
        self.loaded = loaded;
        Ok(())
    }

    /// Runs once over `request.scope` and writes the reports. `Ok(None)`
    /// when `cancel` fired first (no report written; see the module doc).
    pub async fn run(
        &self,
        request: &RunRequest,
        cancel: &CancellationToken,
    ) -> Result<Option<CheckOutcome>, RunError> {
        let started = Instant::now();
        let started_unix = crate::report::metrics::unix_now();
        if let Some(checker) = &self.checker {
            checker.begin_run();
        }
        let paths = match &request.scope {
            Scope::Corpus(paths) => corpus_paths(paths, &self.loaded.config),
            Scope::Crawl(_) => Vec::new(),
        };
        let Some(mut reports) = self.pass(request, &paths, cancel, true).await? else {
            return Ok(None);
        };
        let mut network = None;
        if let Some(checker) = &self.checker {
            let settled = tokio::select! {
                biased;
                _ = cancel.cancelled() => None,
                n = checker.settle_network() => Some(n),
            };
            let Some(settled) = settled else {
                tracing::info!("run cancelled; no report written");
                return Ok(None);
            };
            if !settled.is_up() {
                // The documents already emitted carry transport failures
                // as `broken`. Emit them again: every URL's result is
                // this run's (no request is made twice), now judged by
                // the verdict (see the module doc).
                reports.progress.finish();
                if let Some(text) = reports.text.as_mut() {
                    // Nothing answered, so the text report held the first
                    // pass back: it is not written; the second pass is.
                    text.discard();
                }
                // The first pass's report (a file in the report's folder,
                // never named) goes before the second is written.
                drop(reports.json);
                let Some(again) = self.pass(request, &paths, cancel, false).await? else {
                    return Ok(None);
                };
                reports = again;
            }
            network = Some(settled);
        }
        crate::check::body::blocking(|| {
            self.finish(request, reports, network, started, started_unix)
        })
        .map(Some)
    }

    /// Drives the scope once into fresh sinks. `Ok(None)` when `cancel`
    /// fired first.
    /// With `hold`, online, the text report holds documents back until a
    /// host has answered (a failure to connect before that may be this
    /// machine's outage, not the host's death).
    async fn pass(
        &self,
        request: &RunRequest,
        paths: &[PathBuf],
        cancel: &CancellationToken,
        hold: bool,
    ) -> Result<Option<Sinks>, RunError> {
        let config = &self.loaded.config;
        let text = request.format == OutputFormat::Text;
        let target = self.report_target(request);
        let mut reports = Sinks::new(
            target.clone(),
            self.report_head(),
            text,
            !self.options.offline,
        )
        .map_err(|source| match target {
            ReportTarget::Path(path) => RunError::WriteReport { path, source },
            _ => RunError::Internal(format!("cannot create temporary file: {source}")),
        })?;
        if let Some(documents) = &self.documents {
            documents.begin_run();
        }
        let checker = self.checker.as_deref();
        if let (true, Some(_), Some(text)) = (hold, checker, reports.text.as_mut()) {
            text.hold();
        }
        let tasks = tokio_util::task::TaskTracker::new();
        let drive = drive::Drive {
            config: config.clone(),
            paths: paths.to_vec(),
            documents: self.documents.clone(),
            checker: self.checker.clone(),
            cancel: cancel.clone(),
            tasks: tasks.clone(),
        };
        let finished = tokio::select! {
            biased;
            _ = cancel.cancelled() => None,
            done = drive.run(&request.scope, |scanned| {
                if let (Some(checker), Some(text)) = (checker, reports.text.as_mut()) {
                    if checker.network_known_up() {
                        text.release();
                    }
                }
                reports.add(&scanned)
            }) => Some(done),
        };
        // A cancelled run's document tasks were aborted with the driver;
        // the runtime drops them moments later. Wait for that, so that no
        // temporary file or hold on the store outlives the run.
        tasks.close();
        tasks.wait().await;
        if let Some(checker) = &self.checker {
            // Finished or cancelled: pauses asked for outlive this process.
            checker.save_pauses();
        }
        if let Some(documents) = &self.documents {
            let (read, unchanged) = documents.end_run();
            tracing::info!("documents: {read} read, {unchanged} unchanged since the last run");
        }
        let Some(finished) = finished else {
            reports.progress.finish();
            tracing::info!("run cancelled; no report written");
            return Ok(None);
        };
        finished?;
        Ok(Some(reports))
    }

    /// Where the run's JSON report goes: `--report PATH` (`-` is stdout),
    /// else stdout with `--format json`, else the configured
    /// `report.path` (none if it is empty).
    fn report_target(&self, request: &RunRequest) -> ReportTarget {
        let path = match (&request.report, request.format) {
            (Some(p), _) => p.clone(),
            (None, OutputFormat::Json) => return ReportTarget::Stdout,
            (None, OutputFormat::Text) => self.loaded.config.report.path.clone(),
        };
        if path.as_os_str() == "-" {
            ReportTarget::Stdout
        } else if path.as_os_str().is_empty() {
            ReportTarget::Nowhere
        } else {
            ReportTarget::Path(path)
        }
    }

    /// The fields that head the run's JSON report.
    fn report_head(&self) -> ReportHead {
        ReportHead {
            mode: if self.options.offline {
                "offline"
            } else {
                "online"
            },
            config_path: self.loaded.path.as_ref().map(|p| p.display().to_string()),
            config_sha256: self.loaded.digest.clone(),
        }
    }

    /// Completes a run that was not cancelled: store bookkeeping, the
    /// report files, the text summary, the exit code.
    fn finish(
        &self,
        request: &RunRequest,
        mut reports: Sinks,
        network: Option<Network>,
        started: Instant,
        started_unix: f64,
    ) -> Result<CheckOutcome, RunError> {
        if let Some(checker) = &self.checker {
            checker.flush_warc();
            if let Some(store) = checker.store() {
                // A full corpus run knows every current reference; forget the rest.
                let full = matches!(&request.scope, Scope::Corpus(p) if p.is_empty());
                if full {
                    store.db.prune_refs(checker.started_at());
                }
                // gc trusts the references of the last full run only if
                // that run could see the network.
                let marked = match &network {
                    Some(Network::Down { evidence }) => {
                        store::marker::mark_outage(store.root(), evidence)
                    }
                    Some(Network::Up) if full => store::marker::clear_outage(store.root()),
                    _ => Ok(()),
                };
                if let Err(e) = marked {
                    tracing::error!("cannot update the store's outage marker: {e} (check that the store folder is writable)");
                }
                // Other nodes' gc must see what this run stored.
                if let Err(e) = crate::check::body::blocking(|| store.publish_references()) {
                    tracing::error!("cannot publish this node's reference manifest: {e}; other nodes' gc may delete objects only this run stored once gc_after_days pass, until a later run publishes it");
                }
                reports.summary.store = Some(store.summary(store.room_for_download().err()));
                reports.summary.store_error = store.errors();
            }
            reports.summary.rate_limit_wait_ms = Some(checker.rate_limit_wait_ms());
        }
        let Sinks {
            mut summary,
            json,
            text,
            metrics,
            mut digest,
            spill_error,
            progress,
        } = reports;
        progress.finish();
        if let Some(source) = spill_error {
            // A report to a path streams into the report's own folder, so
            // a full disk there is the report's error; otherwise the
            // temporary files of the report failed.
            return Err(match self.report_target(request) {
                ReportTarget::Path(path) if !crate::report::is_special(&path) => {
                    RunError::WriteReport { path, source }
                }
                _ => RunError::Internal(format!("cannot write temporary report data: {source}")),
            });
        }
        summary.duration_ms = started.elapsed().as_millis() as u64;
        summary.network = network.as_ref().map(crate::report::NetworkSummary::of);
        let offline = self.options.offline;
        let head = self.report_head();
        let info = RunInfo {
            generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            mode: head.mode,
            config_path: head.config_path,
            config_sha256: head.config_sha256,
        };
        digest.finish(&summary, &info);
        let target = self.report_target(request);
        json.finish(&info.generated_at, &summary)
            .map_err(|source| match target {
                ReportTarget::Path(path) => RunError::WriteReport { path, source },
                _ => RunError::Stdout(source),
            })?;
        if let Some(prom) = &request.prom_file {
            write_prom_file(prom, &metrics, &summary, started_unix).map_err(|source| {
                RunError::WriteReport {
                    path: prom.clone(),
                    source,
                }
            })?;
        }
        if let Some(text) = text {
            // The documents were written as they came; the summary ends it.
            text.finish(&summary, offline);
        }
        // A store that failed under the run outranks everything: the
        // links are in the report either way, the archive is not.
        let exit_code = if let Some(e) = &summary.store_error {
            tracing::error!("the store failed during this run: {}", e.message);
            ExitCode::Internal
        } else if matches!(network, Some(Network::Down { .. })) {
            ExitCode::CouldNotCheck
        } else if summary.failing_links() > 0 {
            ExitCode::Failures
        } else {
            ExitCode::Clean
        };
        Ok(CheckOutcome {
            summary,
            exit_code,
            metrics,
            digest,
        })
    }
}

/// The store of a checker being replaced, once no task holds the checker
/// any more: the tasks of a cancelled run are aborted with it, and the
/// runtime drops them moments later. `None` if one still holds it after a
/// second (the store is then opened again).
fn store_of(checker: Arc<Checker>) -> Option<Store> {
    let mut checker = checker;
    for _ in 0..1000 {
        match Arc::try_unwrap(checker) {
            Ok(c) => return c.into_store(),
            Err(shared) => {
                checker = shared;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
    None
}

/// An empty document cache with the configured budget.
fn document_cache(config: &Config) -> DocumentCache {
    let mib = usize::try_from(config.daemon.document_cache_mb).unwrap_or(usize::MAX);
    DocumentCache::new(mib.saturating_mul(1024 * 1024))
}

/// The checker for `config`, with its store (opened unless given) and,
/// when given and still fitting, earlier host gates.
fn build_checker(
    config: &Config,
    options: EngineOptions,
    store: Option<Store>,
    hosts: Option<Arc<crate::check::hosts::Hosts>>,
) -> Result<Checker, RunError> {
    let store = match store {
        Some(s) => s,
        None => Store::open(&config.store).map_err(RunError::Store)?,
    };
    Checker::with_hosts(config, !options.no_cache, Some(store), hosts).map_err(RunError::Usage)
}
