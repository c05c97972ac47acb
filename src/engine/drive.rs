//! The driver: one way documents move from a [`Scope`] to the reports.
//!
//! A corpus is scanned (read, extract, resolve, diagnose) on a pool of
//! blocking threads ([`crate::pipeline::scan_inputs`]), which hands
//! documents over a bounded channel to the async side. Offline they go
//! straight to the sink; online the [`Checker`] checks a bounded number of
//! them at once and a bounded reorder buffer gives them back in corpus
//! order, however they finish. Ids are given at emission
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

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::crawl::crawl;
use crate::check::Checker;
use crate::config::Config;
use crate::error::RunError;
use crate::pipeline::{scan_inputs, CorpusTotals, DocumentCache, Scanned};
use crate::source::corpus::CorpusSource;

use super::Scope;

/// Documents checked at once, at least; each may have many links in
/// flight. With `check.concurrency` above it, that many documents are in
/// flight, so one-link documents still keep every request slot busy.
const DOCUMENTS_IN_FLIGHT: usize = 16;

/// Documents admitted but not yet emitted, as a multiple of the documents
/// in flight: room for the ones that finish early to wait for a slow one
/// before it, while the others keep every request slot busy.
const REORDER_WINDOW: usize = 2;

/// Documents scanned ahead of the sink when offline.
const SCANNED_AHEAD: usize = 64;

/// Everything a drive needs, owned, so the scanner thread can take its share.
pub(super) struct Drive<'a> {
    pub config: Config,
    pub paths: Vec<PathBuf>,
    pub documents: Option<Arc<DocumentCache>>,
    pub checker: Option<&'a Checker>,
    pub cancel: CancellationToken,
}

impl Drive<'_> {
    /// Streams `scope` through scan (and check, online) into `emit`, in
    /// corpus order with global ids.
    pub async fn run(self, scope: &Scope, mut emit: impl FnMut(Scanned)) -> Result<(), RunError> {
        if let Scope::Crawl(seeds) = scope {
            let Some(checker) = self.checker else {
                return Err(RunError::Usage(
                    "--crawl needs the network; drop --offline (or check.offline)".into(),
                ));
            };
            crawl(checker, &self.config, seeds, emit).await;
            return Ok(());
        }
        let in_flight = match self.checker {
            Some(_) => DOCUMENTS_IN_FLIGHT.max(self.config.check.concurrency),
            None => SCANNED_AHEAD,
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Scanned>(in_flight);
        let Drive {
            config,
            paths,
            documents,
            checker,
            cancel,
        } = self;
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
        let mut number_and_emit = |mut scanned: Scanned| {
            totals.number(&mut scanned);
            emit(scanned);
        };
        match checker {
            Some(checker) => {
                check_in_order(
                    rx,
                    checker,
                    in_flight,
                    REORDER_WINDOW * in_flight,
                    number_and_emit,
                )
                .await
            }
            None => {
                let mut rx = rx;
                while let Some(scanned) = rx.recv().await {
                    number_and_emit(scanned);
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
