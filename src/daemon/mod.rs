//! The daemon: `archive daemon` re-checks the corpus on a schedule and
//! soon after its files change, archives new media, and serves the last
//! report, metrics and a dashboard over HTTP ([`http`]).
//!
//! Layout, after mini-redis: [`run`] owns the process (runtime, signals)
//! and [`serve`] owns shutdown. `serve` takes a bound listener, an
//! [`Engine`] built once for the daemon's life, a channel of reloaded
//! configurations and a shutdown token, so a test can drive it in-process
//! exactly as signals do. It starts the HTTP server, the scheduler and the
//! watchdog as tasks on a [`TaskTracker`]; each owns its state. The
//! scheduler owns the engine: one run at a time on this runtime, then a
//! wait for the timer, a corpus change, a reload or shutdown. SIGHUP
//! loads the configuration (a bad one is refused and the old one kept;
//! so is one that changes a key read only at start, naming the key) and
//! the scheduler applies it between runs ([`Engine::reload`]: host
//! gates and the connection pool survive what does not concern them).
//! SIGTERM and SIGINT drain: the run in progress gets `daemon.grace_secs`
//! to finish, then its [`CancellationToken`] fires: its requests and
//! waits are dropped, downloads in flight delete their temporaries, no
//! report is written (the last complete one stays), and the run has one
//! second to return; the HTTP endpoint then gets up to two seconds to
//! finish the answers it is writing, so the daemon exits 0 at most about
//! three seconds after the grace period. Should the run not return within
//! its second, the daemon exits anyway; the store's lock
//! dies with the process and its leftover temporaries are removed when
//! the store is next opened. Never a partial object. The only state
//! shared with the HTTP handlers is [`Shared`]: the last complete run
//! ([`LastRun`]: its metrics text, dashboard digest, times and the
//! report's path), swapped whole. Both were fed during the run; the
//! report file is served from disk, never read back into memory.
//!
//! systemd integration: `Type=notify` readiness, a one-line `STATUS=`
//! after each run, and `WATCHDOG=1` pings when `WatchdogSec` is set.
//!
//! A run that could reach nothing ([`crate::check::outage`]) says so in
//! `STATUS=` and is followed by another sooner than `interval_secs`:
//! [`OUTAGE_RETRY_FIRST`] after the first such run, doubling with each
//! one that follows, never later than the interval ([`next_run_in`]), so
//! the archive turns green soon after the network comes back without
//! hammering a dead uplink.

pub mod dashboard;
mod fd_limit;
pub mod http;
pub mod live;
mod range;
mod slots;
mod stall;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use crate::config::{Config, LoadedConfig};
use crate::engine::{CancellationToken, Engine, EngineOptions, RunRequest, Scope};
use crate::error::RunError;
use crate::report::digest::Digest;
use crate::report::metrics::{self, RunTimes};
use crate::run::OutputFormat;

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
    /// What the daemon is doing now ([`live`]).
    pub live: live::Live,
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
    let result = runtime.block_on(async {
        let listen = loaded.config.daemon.listen.clone();
        let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| {
            RunError::Usage(format!("cannot listen on {listen} (daemon.listen): {e}"))
        })?;
        let engine = Engine::new(loaded, daemon_engine_options())?;
        let (reload_tx, reloads) = mpsc::channel::<LoadedConfig>(4);
        let shutdown = CancellationToken::new();
        let signals = listen_for_signals(config_path, reload_tx, shutdown.clone())?;
        let served = serve(listener, engine, reloads, shutdown).await;
        signals.abort();
        served
    });
    // `serve` already gave a cancelled run its second; dropping the
    // runtime would wait for it without end, so do not wait again.
    runtime.shutdown_background();
    result
}

/// How the daemon's engine checks: online, through the cache, keeping
/// scanned documents from one run to the next.
pub fn daemon_engine_options() -> EngineOptions {
    EngineOptions {
        offline: false,
        no_cache: false,
        keep_documents: true,
    }
}

/// SIGHUP loads the configuration and sends it to the scheduler; SIGTERM
/// and SIGINT fire `shutdown`.
fn listen_for_signals(
    config_path: Option<PathBuf>,
    reloads: mpsc::Sender<LoadedConfig>,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, RunError> {
    let mut hup = signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut term = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    notify(&[sd_notify::NotifyState::Reloading]);
                    match Config::load(config_path.as_deref()) {
                        // Never wait here: a full queue (reloads sent during a
                        // long run) must not keep SIGTERM from being heard.
                        Ok(new) => match reloads.try_send(new) {
                            Ok(()) => tracing::info!("configuration loaded; applied before the next run"),
                            Err(_) => tracing::warn!("configuration reload ignored: earlier ones are still waiting for the run to end; send SIGHUP again after it"),
                        },
                        Err(e) => tracing::error!("configuration reload refused, keeping the previous one: {e}"),
                    }
                    notify(&[sd_notify::NotifyState::Ready]);
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        shutdown.cancel();
    }))
}

/// How long a cancelled run gets to return before the daemon exits anyway.
const RUN_STOP_WAIT: Duration = Duration::from_secs(1);

/// Serves until `shutdown` fires: the HTTP endpoint on `listener`, and a
/// run of `engine` per cycle. `reloads` brings new configurations (already
/// validated). Returns once the tasks have stopped, or the run in progress
/// failed to stop within a second of its cancel (see the module doc).
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: Engine,
    reloads: mpsc::Receiver<LoadedConfig>,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let config = engine.settings().config.clone();
    let daemon = config.daemon.clone();
    let shared = Arc::new(Shared::default());
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(listen = %addr, "serving /healthz, /readyz, /metrics, /report.json and the dashboard");
    }
    let tasks = TaskTracker::new();
    let app = http::router(http::AppState {
        shared: shared.clone(),
        store: config.store.path.clone(),
        objects: engine.objects(),
        token: Some(daemon.token.clone()).filter(|t| !t.is_empty()),
    });
    // As many as the open-file limit allows, raised if need be.
    let max_connections = fd_limit::fit_connections(
        daemon.max_connections,
        fd_limit::reserve(config.check.concurrency),
    );
    let limits = http::ConnectionLimits {
        header_timeout: Duration::from_secs_f64(daemon.header_timeout_secs),
    };
    let slots = slots::Slots::new(max_connections);
    shared.live.serve_http(slots.clone());
    let server = tasks.spawn(http::serve_connections(
        listener,
        app,
        limits,
        slots,
        shutdown.clone(),
    ));
    // The run's own token: shutdown first gives the run its grace period.
    let run_cancel = CancellationToken::new();
    let mut scheduler = tasks.spawn(schedule(
        engine,
        shared.clone(),
        reloads,
        shutdown.clone(),
        run_cancel.clone(),
    ));
    if let Some(every) = watchdog_interval() {
        tasks.spawn(watchdog(every, shutdown.clone()));
    }
    tasks.close();
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("started; first run under way"),
    ]);

    // The scheduler ends only on shutdown; ending before it (a panic) must
    // not leave a daemon that answers /healthz and never runs again.
    let early = tokio::select! {
        biased;
        _ = shutdown.cancelled() => None,
        ended = &mut scheduler => Some(ended),
    };
    // A scheduler that ended because shutdown was asked for is no fault.
    let scheduler_done = match early {
        Some(ended) if !shutdown.is_cancelled() => {
            shutdown.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
            return Err(RunError::Internal(match ended {
                Err(e) if e.is_panic() => "the scheduler panicked; the daemon stops so that systemd restarts it".into(),
                _ => "the scheduler stopped unexpectedly; the daemon stops so that systemd restarts it".into(),
            }));
        }
        Some(_) => true,
        None => false,
    };
    tracing::info!(grace_secs = daemon.grace_secs, "shutting down");
    notify(&[sd_notify::NotifyState::Stopping]);
    let grace = Duration::from_secs_f64(daemon.grace_secs);
    if !scheduler_done && tokio::time::timeout(grace, &mut scheduler).await.is_err() {
        tracing::warn!("the run in progress did not finish within the grace period; cancelling it");
        run_cancel.cancel();
        if tokio::time::timeout(RUN_STOP_WAIT, &mut scheduler)
            .await
            .is_err()
        {
            // Its temporaries are left to the store's cleanup at the next
            // start: deleting them now would race a writer still running.
            tracing::warn!("the cancelled run did not stop in time; exiting without it");
            scheduler.abort();
            return Ok(());
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), tasks.wait()).await;
    Ok(())
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal, RunError> {
    tokio::signal::unix::signal(kind)
        .map_err(|e| RunError::Internal(format!("cannot install a signal handler: {e}")))
}

/// Half of systemd's `WatchdogSec`, when it is set.
fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2))
}

async fn watchdog(every: Duration, shutdown: CancellationToken) {
    loop {
        notify(&[sd_notify::NotifyState::Watchdog]);
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// The wait before the run after a first outage run.
pub const OUTAGE_RETRY_FIRST: Duration = Duration::from_secs(30);

/// The wait before the next run, after `outages` consecutive runs that
/// could reach nothing (0: the last run could).
pub fn next_run_in(interval: Duration, outages: u32) -> Duration {
    if outages == 0 {
        return interval;
    }
    let factor = 2u32.saturating_pow(outages.saturating_sub(1).min(31));
    OUTAGE_RETRY_FIRST.saturating_mul(factor).min(interval)
}

/// Why the scheduler woke up.
enum Wake {
    Timer,
    Changed,
    Reload(Box<LoadedConfig>),
    Shutdown,
}

/// The scheduler task: runs, then waits for the timer, a corpus change, a
/// reload or shutdown. Owns the engine and the file watcher.
async fn schedule(
    mut engine: Engine,
    shared: Arc<Shared>,
    mut reloads: mpsc::Receiver<LoadedConfig>,
    shutdown: CancellationToken,
    cancel: CancellationToken,
) {
    let (changes_tx, mut changes) = mpsc::channel::<()>(64);
    // Kept alive (not `_`): dropping the watcher stops it.
    let mut _watcher = watch_corpus(&engine.settings().config, changes_tx.clone());
    // Consecutive runs that could reach nothing.
    let mut outages: u32 = 0;
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let started = metrics::unix_now();
        let report = report_path(&engine.settings().config);
        let request = RunRequest {
            scope: Scope::Corpus(Vec::new()),
            report: Some(report.clone()),
            prom_file: None,
            format: OutputFormat::Json,
        };
        shared.live.run_started(engine.hosts());
        let outcome = engine.run(&request, &cancel).await;
        shared.live.run_ended(match &outcome {
            Ok(Some(_)) => live::RunEnd::Completed,
            Ok(None) => live::RunEnd::Cancelled,
            Err(_) => live::RunEnd::Failed,
        });
        match outcome {
            Ok(None) => {
                tracing::info!("run cancelled; the last complete report stays");
                return;
            }
            Ok(Some(outcome)) => {
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
                let down = outcome.summary.network.as_ref().is_some_and(|n| !n.up);
                outages = if down { outages.saturating_add(1) } else { 0 };
                let mut line = outcome.summary.one_line();
                if down {
                    let interval =
                        Duration::from_secs_f64(engine.settings().config.daemon.interval_secs);
                    line = format!(
                        "network unavailable, nothing checked (last known statuses kept); retrying in {}s: {line}",
                        next_run_in(interval, outages).as_secs()
                    );
                }
                tracing::info!("run finished: {line}");
                notify(&[sd_notify::NotifyState::Status(&line)]);
            }
            Err(e) => {
                tracing::error!("run failed: {e}");
                notify(&[sd_notify::NotifyState::Status(&format!(
                    "last run failed: {e}"
                ))]);
            }
        }
        let daemon = engine.settings().config.daemon.clone();
        let wake = tokio::select! {
            _ = tokio::time::sleep(next_run_in(Duration::from_secs_f64(daemon.interval_secs), outages)) => Wake::Timer,
            Some(()) = changes.recv() => Wake::Changed,
            Some(new) = reloads.recv() => Wake::Reload(Box::new(new)),
            _ = shutdown.cancelled() => Wake::Shutdown,
        };
        match wake {
            Wake::Timer => tracing::debug!("scheduled run"),
            Wake::Changed => {
                // Debounce: let a burst of writes settle, then run once.
                tokio::time::sleep(Duration::from_millis(daemon.debounce_ms)).await;
                while changes.try_recv().is_ok() {}
                tracing::info!("corpus changed; running");
            }
            // A reload may open the store (SQLite, fsyncs, and a wait of
            // up to a second for the old checker's lock): off the runtime's
            // workers, so the HTTP endpoint keeps answering meanwhile.
            Wake::Reload(new) => match refuse_restart_only(&engine.settings().config, &new.config)
                .map_or_else(
                    || crate::check::body::blocking(|| engine.reload(*new)),
                    |why| Err(RunError::Usage(why)),
                ) {
                Ok(()) => {
                    tracing::info!("configuration reloaded");
                    _watcher = watch_corpus(&engine.settings().config, changes_tx.clone());
                }
                Err(e) => {
                    tracing::error!("configuration reload refused, keeping the previous one: {e}")
                }
            },
            Wake::Shutdown => return,
        }
    }
}

/// Settings the daemon reads once, at start: the listener, the HTTP
/// endpoint's token and limits, the grace period, where the store is
/// served from. A reload that changes one of them is refused (with the
/// key to restart for) rather than logged as applied and ignored.
fn refuse_restart_only(old: &Config, new: &Config) -> Option<String> {
    let (a, b) = (&old.daemon, &new.daemon);
    let changed = [
        ("daemon.listen", a.listen != b.listen),
        ("daemon.token", a.token != b.token),
        (
            "daemon.max_connections",
            a.max_connections != b.max_connections,
        ),
        (
            "daemon.header_timeout_secs",
            a.header_timeout_secs != b.header_timeout_secs,
        ),
        ("daemon.grace_secs", a.grace_secs != b.grace_secs),
        ("store.path", old.store.path != new.store.path),
    ];
    changed
        .iter()
        .find(|(_, differs)| *differs)
        .map(|(key, _)| {
            format!("`{key}` is read when the daemon starts; restart it to change that key")
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_retry_sooner_with_backoff() {
        let hour = Duration::from_secs(3600);
        let waits: Vec<u64> = (0..9).map(|n| next_run_in(hour, n).as_secs()).collect();
        assert_eq!(waits, [3600, 30, 60, 120, 240, 480, 960, 1920, 3600]);
        assert_eq!(next_run_in(hour, u32::MAX), hour);
        // An interval shorter than the first retry stays the interval.
        let short = Duration::from_secs(10);
        assert_eq!(next_run_in(short, 1), short);
    }
}
