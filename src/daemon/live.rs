//! Live metrics: what the daemon is doing now, between and during runs.
//!
//! The report's metrics ([`crate::report::metrics`]) describe the last
//! complete run and change only when one finishes. Monitoring also wants
//! to see the daemon at work: whether a run is under way, how many HTTP
//! requests are in flight at this moment, and how many runs completed,
//! failed or were cancelled since the process started (counters, so
//! `rate()` works). The scheduler updates these; `/metrics` appends them
//! to the last run's text. Requests in flight are read from the engine's
//! host gates (held slots of the global cap), so they need no bookkeeping
//! of their own.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::check::hosts::Hosts;

/// How a run ended, for `archive_runs_total`.
#[derive(Debug, Clone, Copy)]
pub enum RunEnd {
    Completed,
    Failed,
    Cancelled,
}

/// The daemon's live state, shared with the HTTP handlers.
#[derive(Default)]
pub struct Live {
    running: AtomicBool,
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    hosts: RwLock<Option<Arc<Hosts>>>,
    /// The HTTP endpoint's connection slots, once it serves.
    http: RwLock<Option<Arc<super::slots::Slots>>>,
}

impl Live {
    /// A run starts, with the engine's current host gates.
    pub fn run_started(&self, hosts: Option<Arc<Hosts>>) {
        *self.hosts.write().unwrap_or_else(|e| e.into_inner()) = hosts;
        self.running.store(true, Ordering::SeqCst);
    }

    /// The endpoint serves with these slots.
    pub fn serve_http(&self, slots: Arc<super::slots::Slots>) {
        *self.http.write().unwrap_or_else(|e| e.into_inner()) = Some(slots);
    }

    pub fn run_ended(&self, end: RunEnd) {
        self.running.store(false, Ordering::SeqCst);
        let counter = match end {
            RunEnd::Completed => &self.completed,
            RunEnd::Failed => &self.failed,
            RunEnd::Cancelled => &self.cancelled,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }

    /// Prometheus text for the live metrics.
    pub fn render(&self) -> String {
        let in_flight = self
            .hosts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |h| h.in_flight());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP archive_run_in_progress 1 while a run is under way.\n# TYPE archive_run_in_progress gauge\narchive_run_in_progress {}",
            u8::from(self.running.load(Ordering::SeqCst))
        );
        let _ = writeln!(
            out,
            "# HELP archive_requests_in_flight HTTP requests archive has in flight now.\n# TYPE archive_requests_in_flight gauge\narchive_requests_in_flight {in_flight}"
        );
        let _ = writeln!(
            out,
            "# HELP archive_runs_total Runs since the daemon started, by how they ended.\n# TYPE archive_runs_total counter"
        );
        for (outcome, n) in [
            ("completed", &self.completed),
            ("failed", &self.failed),
            ("cancelled", &self.cancelled),
        ] {
            let _ = writeln!(
                out,
                "archive_runs_total{{outcome=\"{outcome}\"}} {}",
                n.load(Ordering::SeqCst)
            );
        }
        if let Some(slots) = self.http.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = writeln!(
                out,
                "# HELP archive_http_max_connections Connections the endpoint serves at once (daemon.max_connections, lowered if the open-file limit is too low).\n# TYPE archive_http_max_connections gauge\narchive_http_max_connections {}",
                slots.cap()
            );
            let _ = writeln!(
                out,
                "# HELP archive_http_connections Connections the endpoint holds now.\n# TYPE archive_http_connections gauge\narchive_http_connections {}",
                slots.open()
            );
            let _ = writeln!(
                out,
                "# HELP archive_http_evictions_total Idle connections closed to make room for a new one at the cap.\n# TYPE archive_http_evictions_total counter\narchive_http_evictions_total {}",
                slots.evictions()
            );
        }
        out
    }
}
