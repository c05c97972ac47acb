//! Politeness, per host: a `governor` rate limiter (requests per second
//! and burst, with per-host overrides), a cap on requests in flight, and a
//! pause that a `429`/`503` with `Retry-After` puts on that host alone.
//! Every request `archive` sends (checks, downloads, source pages,
//! robots.txt, crawl pages, retries, suggestions) passes [`Hosts::acquire`]
//! in the fetcher, the one place requests are sent.
//!
//! A request acquires, in order: the host's slot, the host's pause, the
//! host's rate token, and only then a global slot. The global slots are
//! for requests that are ready to go: a host that asked us to wait holds
//! its own slots, never the ones other hosts need (taking the global slot
//! first let one paused host starve every other).
//!
//! A host may keep a run waiting only so long: the pauses it asks for are
//! added up per run, and past `check.max_host_wait` its remaining requests
//! in that run are refused at once ([`HostWaitExceeded`]) while the other
//! hosts go on.
//!
//! Each host's gate is created on first use and lives as long as the
//! [`Hosts`]: for the engine's life, so a host that asked us to slow down
//! is not hammered again at the next daemon cycle. The map is the only
//! shared state.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::CheckConfig;

/// A host name as politeness and outage detection count hosts: one
/// server, one key. `H.test` and `h.test.` (the absolute form) are the same
/// host and must not get twice the rate, nor count as two dead hosts.
pub fn host_key(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// One host's limits.
pub struct HostGate {
    limiter: DefaultDirectRateLimiter,
    slots: Arc<Semaphore>,
    paused_until: Mutex<Option<Instant>>,
    /// Pause time this host has imposed in the current run.
    paused_this_run: Mutex<Duration>,
}

/// A request to a host that has already kept this run waiting longer than
/// `check.max_host_wait`: it is not sent.
#[derive(Debug, Clone)]
pub struct HostWaitExceeded {
    pub host: String,
    pub paused: Duration,
    pub limit: Duration,
}

impl std::fmt::Display for HostWaitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} asked us to pause for {:.0}s in this run, more than check.max_host_wait ({:.0}s); its remaining links are not checked this run",
            self.host,
            self.paused.as_secs_f64(),
            self.limit.as_secs_f64()
        )
    }
}

/// Every host's gate, plus the global cap.
pub struct Hosts {
    gates: Mutex<HashMap<String, Arc<HostGate>>>,
    global: Arc<Semaphore>,
    config: CheckConfig,
    /// Seconds spent waiting on rate limits and pauses (for metrics).
    waited_ms: std::sync::atomic::AtomicU64,
}

/// Held while a request is in flight.
pub struct Permit {
    _global: OwnedSemaphorePermit,
    _host: OwnedSemaphorePermit,
}

fn quota(rate: f64, burst: u32) -> Quota {
    let period = Duration::from_secs_f64(1.0 / rate.max(1e-6));
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl Hosts {
    pub fn new(config: &CheckConfig) -> Hosts {
        Hosts {
            gates: Mutex::new(HashMap::new()),
            global: Arc::new(Semaphore::new(config.concurrency)),
            config: config.clone(),
            waited_ms: Default::default(),
        }
    }

    /// Requests holding a slot of the global cap now (in flight).
    pub fn in_flight(&self) -> usize {
        self.config
            .concurrency
            .saturating_sub(self.global.available_permits())
    }

    /// The settings these gates were built for.
    pub fn config(&self) -> &CheckConfig {
        &self.config
    }

    /// Whether gates built for `a` behave as ones built for `b`: the same
    /// rates, bursts, per-host overrides and concurrency caps. When they
    /// do, a new configuration keeps the gates (and the politeness state in
    /// them: tokens spent, pauses a server asked for).
    pub fn same_settings(a: &CheckConfig, b: &CheckConfig) -> bool {
        let limits = |c: &CheckConfig| {
            serde_json::to_value((
                c.rate_limit,
                c.burst,
                c.concurrency,
                c.per_host_concurrency,
                c.max_host_wait,
                &c.hosts,
            ))
            .ok()
        };
        limits(a) == limits(b)
    }

    fn gate(&self, host: &str) -> Arc<HostGate> {
        let host = host_key(host);
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        gates
            .entry(host.clone())
            .or_insert_with(|| {
                let limit = self
                    .config
                    .hosts
                    .iter()
                    .find(|(name, _)| host_key(name) == host)
                    .map(|(_, limit)| limit);
                let (rate, burst) = match limit {
                    Some(h) => (h.rate_limit, h.burst),
                    None => (self.config.rate_limit, self.config.burst),
                };
                Arc::new(HostGate {
                    limiter: RateLimiter::direct(quota(rate, burst)),
                    slots: Arc::new(Semaphore::new(self.config.per_host_concurrency)),
                    paused_until: Mutex::new(None),
                    paused_this_run: Mutex::new(Duration::ZERO),
                })
            })
            .clone()
    }

    /// Waits until a request to `host` may be sent, or refuses it when the
    /// host has used up this run's waiting budget.
    pub async fn acquire(&self, host: &str) -> Result<Permit, HostWaitExceeded> {
        let gate = self.gate(host);
        let host_slot = gate
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        // Only pauses and rate tokens count as rate-limit waits, not
        // queueing for a concurrency slot.
        let started = Instant::now();
        loop {
            self.within_budget(host, &gate)?;
            let until = *gate.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t.into()).await,
                _ => break,
            }
        }
        gate.limiter.until_ready().await;
        let waited = started.elapsed().as_millis() as u64;
        self.waited_ms
            .fetch_add(waited, std::sync::atomic::Ordering::Relaxed);
        let global = self
            .global
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        Ok(Permit {
            _global: global,
            _host: host_slot,
        })
    }

    /// Whether `host` may still keep this run waiting.
    pub fn check_budget(&self, host: &str) -> Result<(), HostWaitExceeded> {
        self.within_budget(host, &self.gate(host))
    }

    fn within_budget(&self, host: &str, gate: &HostGate) -> Result<(), HostWaitExceeded> {
        let paused = *gate
            .paused_this_run
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let limit = Duration::from_secs_f64(self.config.max_host_wait);
        if paused > limit {
            return Err(HostWaitExceeded {
                host: host.to_string(),
                paused,
                limit,
            });
        }
        Ok(())
    }

    /// Pauses `host` (only) for `delay`, e.g. after `Retry-After`. The
    /// time this adds to the host's pause counts against its budget.
    pub fn pause(&self, host: &str, delay: Duration) {
        self.pause_until(host, Instant::now() + delay);
        tracing::info!(
            host,
            delay_ms = delay.as_millis() as u64,
            "host asked us to slow down"
        );
    }

    fn pause_until(&self, host: &str, t: Instant) {
        let gate = self.gate(host);
        let mut until = gate.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let from = until.filter(|u| *u > now).unwrap_or(now);
        if t > from {
            *gate
                .paused_this_run
                .lock()
                .unwrap_or_else(|e| e.into_inner()) += t - from;
            *until = Some(t);
        }
    }

    /// The pauses in force, as wall-clock times, to remember across a
    /// restart ([`crate::store::db::StateDb::record_pauses`]).
    pub fn pauses(&self) -> Vec<(String, std::time::SystemTime)> {
        let (now, wall) = (Instant::now(), std::time::SystemTime::now());
        let gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        gates
            .iter()
            .filter_map(|(host, gate)| {
                let until = (*gate.paused_until.lock().unwrap_or_else(|e| e.into_inner()))?;
                (until > now).then(|| (host.clone(), wall + (until - now)))
            })
            .collect()
    }

    /// Puts back a pause remembered from an earlier process; what is left
    /// of it counts against this run's budget, as if just asked for.
    /// A remembered pause is capped like a live one, so a row written
    /// under a wrong clock (or by hand) cannot shut a host out for years.
    pub fn restore_pause(&self, host: &str, until: std::time::SystemTime) {
        if let Ok(left) = until.duration_since(std::time::SystemTime::now()) {
            let left = left.min(super::verdict::MAX_PAUSE);
            self.pause_until(host, Instant::now() + left);
        }
    }

    /// Starts a run: every host's waiting budget starts again from what
    /// is left of the pause in force. A host that asked for an hour gets
    /// its hour, and when that is more than the budget its links are not
    /// checked this run, rather than waited for.
    pub fn begin_run(&self) {
        let now = Instant::now();
        let gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        for gate in gates.values() {
            let until = *gate.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            *gate
                .paused_this_run
                .lock()
                .unwrap_or_else(|e| e.into_inner()) =
                until.map_or(Duration::ZERO, |u| u.saturating_duration_since(now));
        }
    }

    /// Total time requests spent waiting for limits, in milliseconds.
    pub fn waited_ms(&self) -> u64 {
        self.waited_ms.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_host_share_a_gate() {
        let config = CheckConfig {
            max_host_wait: 1.0,
            ..CheckConfig::default()
        };
        let hosts = Hosts::new(&config);
        hosts.pause("h.test.", Duration::from_secs(5));
        assert!(
            hosts.check_budget("H.Test").is_err(),
            "one host, one budget"
        );
        assert!(hosts.check_budget("h.test").is_err());
        assert!(hosts.check_budget("other.test").is_ok());
    }
}
