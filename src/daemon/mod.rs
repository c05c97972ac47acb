//! The daemon: `archive daemon` re-checks the corpus on a schedule and
//! soon after its files change, archives new media, and serves the last
//! report, metrics and a dashboard over HTTP ([`http`]).
//!
//! Layout, after mini-redis: [`run`] owns shutdown. It starts the HTTP
//! server and the scheduler as tasks that own their state, and listens
//! for signals: SIGHUP reloads the configuration (a bad one is refused and
//! the old one kept), SIGTERM and SIGINT drain: the run in progress gets
//! `daemon.grace_secs` to finish, then is cancelled ([`Cancel`]): its
//! requests and waits are dropped, downloads in flight delete their
//! temporaries, no report is written (the last complete one stays), and
//! the daemon exits 0 about a second after the grace period at most.
//! Should the run not return within that second, the daemon exits anyway;
//! the store's lock dies with the process and its leftover temporaries
//! are removed when the store is next opened. Never a partial object.
//! The only state shared with the HTTP handlers is [`Shared`]: the last
//! complete run ([`LastRun`]: its metrics text, dashboard digest, times
//! and the report's path), swapped whole. Both were fed during the run;
//! the report file is served from disk, never read back into memory.
//!
//! systemd integration: `Type=notify` readiness, a one-line `STATUS=`
//! after each run, and `WATCHDOG=1` pings when `WatchdogSec` is set.

pub mod dashboard;
pub mod http;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::config::{Config, LoadedConfig};
use crate::error::RunError;
use crate::report::digest::Digest;
use crate::report::metrics::{self, RunTimes};
use crate::run::{run_check_until, Cancel, CheckOptions, OutputFormat};

/// A finished run, as served over HTTP. Replaced whole after each run.
/// Its size does not grow with the corpus: the report stays on disk.
pub struct LastRun {
    /// Where the run wrote its report; `/report.json` streams that file.
    pub report: PathBuf,
    /// The dashboard's bounded view of the run.
    pub digest: Digest,
    /// `/metrics`, rendered once when the run finished.
    pub metrics: String,
    pub times: RunTimes,
}

/// What the scheduler shares with the HTTP handlers.
#[derive(Default)]
pub struct Shared {
    last: RwLock<Option<Arc<LastRun>>>,
}

impl Shared {
    pub fn last(&self) -> Option<Arc<LastRun>> {
        self.last.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, run: LastRun) {
        *self.last.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(run));
    }
}

fn notify(states: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!("sd_notify: {e}");
    }
}

/// Where the daemon writes its report: `report.path`, or the store's folder.
fn report_path(config: &Config) -> PathBuf {
    if config.report.path.as_os_str().is_empty() {
        config.store.path.join("report.json")
    } else {
        config.report.path.clone()
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(config_path: Option<PathBuf>) -> Result<(), RunError> {
    let loaded = Config::load(config_path.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Internal(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(serve(loaded, config_path));
    // `serve` already gave a cancelled run its second; dropping the
    // runtime would wait for it without end, so do not wait again.
    runtime.shutdown_background();
    result
}

/// How long a cancelled run gets to return before the daemon exits anyway.
const RUN_STOP_WAIT: Duration = Duration::from_secs(1);

async fn serve(loaded: LoadedConfig, config_path: Option<PathBuf>) -> Result<(), RunError> {
    let daemon = loaded.config.daemon.clone();
    let shared = Arc::new(Shared::default());
    let listener = tokio::net::TcpListener::bind(&daemon.listen)
        .await
        .map_err(|e| {
            RunError::Usage(format!(
                "cannot listen on {} (daemon.listen): {e}",
                daemon.listen
            ))
        })?;
    tracing::info!(listen = %daemon.listen, "serving /healthz, /readyz, /metrics, /report.json and the dashboard");
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let app = http::router(http::AppState {
        shared: shared.clone(),
        store: loaded.config.store.path.clone(),
        token: Some(daemon.token.clone()).filter(|t| !t.is_empty()),
    });
    let mut http_shutdown = shutdown_rx.clone();
    let server = tokio::spawn(async move {
        let stop = async move {
            let _ = http_shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!("HTTP server failed: {e}");
        }
    });
    let (reload_tx, reload_rx) = mpsc::channel::<LoadedConfig>(4);
    let cancel = Cancel::default();
    let mut scheduler = tokio::spawn(schedule(
        loaded.clone(),
        shared.clone(),
        reload_rx,
        shutdown_rx.clone(),
        cancel.clone(),
    ));
    spawn_watchdog(shutdown_rx.clone());
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("started; first run under way"),
    ]);

    let mut hup = signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut term = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = signal(tokio::signal::unix::SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                notify(&[sd_notify::NotifyState::Reloading]);
                match Config::load(config_path.as_deref()) {
                    Ok(new) => {
                        tracing::info!("configuration reloaded");
                        let _ = reload_tx.send(new).await;
                    }
                    Err(e) => tracing::error!("configuration reload refused, keeping the previous one: {e}"),
                }
                notify(&[sd_notify::NotifyState::Ready]);
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!(grace_secs = daemon.grace_secs, "shutting down");
    notify(&[sd_notify::NotifyState::Stopping]);
    let _ = shutdown_tx.send(true);
    let grace = Duration::from_secs_f64(daemon.grace_secs);
    if tokio::time::timeout(grace, &mut scheduler).await.is_err() {
        tracing::warn!("the run in progress did not finish within the grace period; cancelling it");
        cancel.cancel();
        if tokio::time::timeout(RUN_STOP_WAIT, scheduler)
            .await
            .is_err()
        {
            // Its temporaries are left to the store's cleanup at the next
            // start: deleting them now would race a writer still running.
            tracing::warn!("the cancelled run did not stop in time; exiting without it");
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    Ok(())
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal, RunError> {
    tokio::signal::unix::signal(kind)
        .map_err(|e| RunError::Internal(format!("cannot install a signal handler: {e}")))
}

fn spawn_watchdog(mut shutdown: watch::Receiver<bool>) {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) {
        return;
    }
    let every = Duration::from_micros(usec / 2);
    tokio::spawn(async move {
        loop {
            notify(&[sd_notify::NotifyState::Watchdog]);
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
        }
    });
}

/// Why the scheduler woke up.
enum Wake {
    Timer,
    Changed,
    Reload(Box<LoadedConfig>),
    Shutdown,
}

/// The scheduler task: runs, then waits for the timer, a corpus change, a
/// reload or shutdown. Owns the configuration and the file watcher.
async fn schedule(
    mut loaded: LoadedConfig,
    shared: Arc<Shared>,
    mut reload: mpsc::Receiver<LoadedConfig>,
    mut shutdown: watch::Receiver<bool>,
    cancel: Cancel,
) {
    let (changes_tx, mut changes) = mpsc::channel::<()>(64);
    // Kept alive (not `_`): dropping the watcher stops it.
    let mut _watcher = watch_corpus(&loaded.config, changes_tx.clone());
    // Unchanged documents are not extracted again from one run to the next.
    let documents = Arc::new(crate::pipeline::DocumentCache::default());
    loop {
        if *shutdown.borrow() {
            return;
        }
        let started = metrics::unix_now();
        let config = loaded.clone();
        let report = report_path(&loaded.config);
        let options = CheckOptions {
            paths: Vec::new(),
            offline: false,
            no_cache: false,
            crawl: Vec::new(),
            report: Some(report.clone()),
            prom_file: None,
            documents: Some(documents.clone()),
            format: OutputFormat::Json,
        };
        documents.begin_run();
        let run_cancel = cancel.clone();
        let result =
            tokio::task::spawn_blocking(move || run_check_until(&config, &options, &run_cancel))
                .await;
        let (read, unchanged) = documents.end_run();
        tracing::info!("documents: {read} read, {unchanged} unchanged since the last run");
        match result {
            Ok(Ok(None)) => {
                tracing::info!("run cancelled; the last complete report stays");
                return;
            }
            Ok(Ok(Some(outcome))) => {
                let finished = metrics::unix_now();
                // A failed run keeps the previous report and its times.
                let times = RunTimes {
                    started,
                    finished,
                    last_success: finished,
                };
                shared.set(last_run(
                    report,
                    outcome.metrics,
                    outcome.digest,
                    &outcome.summary,
                    times,
                ));
                let line = outcome.summary.one_line();
                tracing::info!("run finished: {line}");
                notify(&[sd_notify::NotifyState::Status(&line)]);
            }
            Ok(Err(e)) => {
                tracing::error!("run failed: {e}");
                notify(&[sd_notify::NotifyState::Status(&format!(
                    "last run failed: {e}"
                ))]);
            }
            Err(e) => tracing::error!("run panicked: {e}"),
        }
        let interval = Duration::from_secs_f64(loaded.config.daemon.interval_secs);
        let wake = tokio::select! {
            _ = tokio::time::sleep(interval) => Wake::Timer,
            Some(()) = changes.recv() => Wake::Changed,
            Some(new) = reload.recv() => Wake::Reload(Box::new(new)),
            _ = shutdown.changed() => Wake::Shutdown,
        };
        match wake {
            Wake::Timer => tracing::debug!("scheduled run"),
            Wake::Changed => {
                // Debounce: let a burst of writes settle, then run once.
                tokio::time::sleep(Duration::from_millis(loaded.config.daemon.debounce_ms)).await;
                while changes.try_recv().is_ok() {}
                tracing::info!("corpus changed; running");
            }
            Wake::Reload(new) => {
                loaded = *new;
                documents.clear();
                _watcher = watch_corpus(&loaded.config, changes_tx.clone());
            }
            Wake::Shutdown => return,
        }
    }
}

/// What the HTTP handlers serve of a finished run: its sinks' output and
/// where its report is, not the report.
fn last_run(
    report: PathBuf,
    metrics: metrics::Metrics,
    digest: Digest,
    summary: &crate::report::Summary,
    times: RunTimes,
) -> LastRun {
    LastRun {
        report,
        metrics: metrics.render(summary, times),
        digest,
        times,
    }
}

/// Watches the corpus folders; every event sends a tick on `changes`.
fn watch_corpus(config: &Config, changes: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    if !config.daemon.watch {
        return None;
    }
    let handler = move |event: notify::Result<notify::Event>| {
        if let Ok(e) = event {
            if !matches!(e.kind, notify::EventKind::Access(_)) {
                let _ = changes.try_send(());
            }
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("cannot watch the corpus for changes ({e}); relying on the schedule");
            return None;
        }
    };
    for path in &config.corpus.paths {
        if let Err(e) = watcher.watch(path, notify::RecursiveMode::Recursive) {
            tracing::warn!(path = %path.display(), "cannot watch: {e}");
        }
    }
    Some(watcher)
}
