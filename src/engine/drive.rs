//! The driver: one way documents move from a [`Scope`] to the reports.
//!
//! A corpus is scanned (read, extract, resolve, diagnose) on a pool of
//! blocking threads ([`crate::pipeline::scan_inputs`]), which hands
//! documents a chunk at a time over a bounded channel to the async side.
//! Offline they go straight to the sink; online the [`Checker`] checks a
//! bounded number of them at once and a bounded reorder buffer gives them
//! back in corpus order, however they finish. Ids are given at emission
//! ([`CorpusTotals::number`]), so `documents[i].id == i` in every mode.
//! A crawl is the other scope: its frontier is the input
//! ([`super::crawl`]).
//!
//! Memory stays flat however large the corpus: every queue is bounded.
//! Everything here is cancel-safe: the caller races the driver against a
//! cancellation token and drops it (see [`super`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::crawl::crawl;
use crate::check::Checker;
use crate::config::Config;
use crate::error::RunError;
use crate::pipeline::{scan_inputs, CorpusTotals, DocumentCache, Scanned};
use crate::source::corpus::CorpusSource;

use super::Scope;

/// Links of the documents being checked, as a multiple of
/// `check.concurrency`: what is admitted is counted in links (requests),
/// not documents, so one-link documents and hundred-link documents both
/// keep every request slot busy with a few waiting behind, and a run never
/// holds more waiting link futures than that.
const LINKS_IN_FLIGHT: usize = 2;

/// Links of the documents admitted but not yet emitted (checking, or done
/// and waiting for an earlier one), as a multiple of `check.concurrency`:
/// room for documents that finish early to wait for a slow one before
/// them while the others keep every slot busy, and the bound on the
/// memory they hold.
const LINKS_HELD: usize = 16;

/// Documents admitted but not yet emitted, as a multiple of
/// `check.concurrency` (documents without links weigh one).
const DOCUMENTS_HELD: usize = 4;

/// Chunks of scanned documents (up to [`crate::pipeline::CHUNK`] each, as
/// the scanner hands them over) waiting for the checker (online) or the
/// sink (offline).
const CHUNKS_AHEAD: usize = 4;

/// Everything a drive needs, owned, so the scanner thread can take its share.
pub(super) struct Drive {
    pub config: Config,
    pub paths: Vec<PathBuf>,
    pub documents: Option<Arc<DocumentCache>>,
    pub checker: Option<Arc<Checker>>,
    pub cancel: CancellationToken,
    /// Tracks the run's per-document tasks, so that the caller can wait
    /// for the tasks of a cancelled run to be dropped (their temporary
    /// files deleted, their hold on the store released) before it returns.
    pub tasks: tokio_util::task::TaskTracker,
}

impl Drive {
    /// Streams `scope` through scan (and check, online) into `emit`, in
    /// corpus order with global ids.
    pub async fn run(self, scope: &Scope, mut emit: impl FnMut(Scanned)) -> Result<(), RunError> {
        if let Scope::Crawl(seeds) = scope {
            let Some(checker) = self.checker.as_deref() else {
                return Err(RunError::Usage(
                    "--crawl needs the network; drop --offline (or check.offline)".into(),
                ));
            };
            crawl(checker, &self.config, seeds, emit).await;
            return Ok(());
        }
        let concurrency = self.config.check.concurrency.max(1);
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Scanned>>(CHUNKS_AHEAD);
        let Drive {
            config,
            paths,
            documents,
            checker,
            cancel,
            tasks,
        } = self;
        let producer = tokio::task::spawn_blocking(move || {
            let mut source = Stoppable {
                inner: CorpusSource::new(&paths, &config.corpus),
                cancel,
            };
            scan_inputs(&mut source, &config, documents.as_deref(), |chunk| {
                // The receiver only goes away if the run is abandoned.
                let _ = tx.blocking_send(chunk);
            });
        });
        let mut totals = CorpusTotals::default();
        let mut number_and_emit = |mut scanned: Scanned| {
            totals.number(&mut scanned);
            emit(scanned);
        };
        match checker {
            Some(checker) => {
                let bounds = Bounds {
                    links_checking: LINKS_IN_FLIGHT * concurrency,
                    links_held: LINKS_HELD * concurrency,
                    documents_held: DOCUMENTS_HELD * concurrency.max(16),
                };
                check_in_order(rx, checker, bounds, &tasks, number_and_emit).await
            }
            None => {
                let mut rx = rx;
                while let Some(chunk) = rx.recv().await {
                    chunk.into_iter().for_each(&mut number_and_emit);
                }
            }
        }
        producer
            .await
            .map_err(|e| RunError::Internal(format!("the corpus scanner stopped: {e}")))
    }
}

/// A corpus source that runs dry once the run is cancelled, so the
/// scanner thread does not go on reading a corpus nobody will check.
struct Stoppable {
    inner: CorpusSource,
    cancel: CancellationToken,
}

impl crate::source::Source for Stoppable {
    fn next_input(&mut self) -> Option<crate::source::Input> {
        if self.cancel.is_cancelled() {
            return None;
        }
        self.inner.next_input()
    }
}

/// How much [`check_in_order`] takes in at once.
struct Bounds {
    /// Links of the documents being checked.
    links_checking: usize,
    /// Links of the documents taken and not yet emitted.
    links_held: usize,
    /// Documents taken and not yet emitted.
    documents_held: usize,
}

/// A document's weight: its links, at least one.
fn weight(scanned: &Scanned) -> usize {
    scanned.links.len().max(1)
}

/// Checks the documents from `input`, as many at once as `bounds` allow
/// (counted in links), and hands them to `emit` in the order they
/// arrived, however they finish.
///
/// A document that finishes before an earlier one waits in a reorder
/// buffer. No new document is taken while the documents taken and not yet
/// emitted reach `bounds`, so a slow document holds back a bounded number
/// of others: memory stays bounded, and the slot it blocks is one of many.
/// A document is always taken when nothing is being checked, so one
/// document larger than every bound is checked alone (its links then go
/// `check.concurrency` at a time, see [`Checker::check_document`]).
async fn check_in_order(
    mut input: tokio::sync::mpsc::Receiver<Vec<Scanned>>,
    checker: Arc<Checker>,
    bounds: Bounds,
    tasks: &tokio_util::task::TaskTracker,
    mut emit: impl FnMut(Scanned),
) {
    // Each document is checked in a task of its own, so the runtime's
    // workers share the work (checking, the requests' futures, applying
    // results); dropped (a cancelled run), the set aborts them all.
    let mut checks = tokio::task::JoinSet::new();
    // Finished documents waiting for an earlier one, with their weights.
    let mut finished: BTreeMap<usize, (Scanned, usize)> = BTreeMap::new();
    let (mut taken, mut emitted) = (0usize, 0usize);
    let (mut links_checking, mut links_held) = (0usize, 0usize);
    // Documents received (a chunk at a time) and not yet taken: the next
    // chunk is received only once this is empty, so at most one chunk
    // waits here beyond the bounds.
    let mut arrived = std::collections::VecDeque::new();
    let mut input_open = true;
    loop {
        // With nothing running, every taken document has been emitted
        // (the buffer drains as soon as the earliest one finishes), so
        // this is true whenever `checks` is empty: no deadlock.
        let room = checks.is_empty()
            || (links_checking < bounds.links_checking
                && links_held < bounds.links_held
                && taken - emitted < bounds.documents_held);
        if room {
            if let Some(scanned) = arrived.pop_front() {
                let seq = taken;
                let w = weight(&scanned);
                taken += 1;
                links_checking += w;
                links_held += w;
                let checker = checker.clone();
                checks.spawn(
                    tasks.track_future(
                        async move { (seq, w, checker.check_document(scanned).await) },
                    ),
                );
                continue;
            }
        }
        tokio::select! {
            next = input.recv(), if input_open && room && arrived.is_empty() => match next {
                Some(chunk) => arrived.extend(chunk),
                None => input_open = false,
            },
            Some(joined) = checks.join_next(), if !checks.is_empty() => {
                let (seq, w, checked) = match joined {
                    Ok(done) => done,
                    // A panic is a bug: it goes on up as it would have
                    // without the task. A task is only cancelled when the
                    // set is dropped, never while this loop runs.
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                };
                links_checking -= w;
                finished.insert(seq, (checked, w));
                while let Some((next, w)) = finished.remove(&emitted) {
                    emitted += 1;
                    links_held -= w;
                    emit(next);
                }
            }
            else => break,
        }
    }
}
