//! Politeness, per host: a `governor` rate limiter (requests per second
//! and burst, with per-host overrides), a cap on requests in flight, and a
//! pause that a `429`/`503` with `Retry-After` puts on that host alone.
//!
//! A request acquires, in order: the global slot, the host's slot, the
//! host's pause, the host's rate token. Each host's gate is created on
//! first use and lives for the run; the map is the only shared state.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::CheckConfig;

/// One host's limits.
pub struct HostGate {
    limiter: DefaultDirectRateLimiter,
    slots: Arc<Semaphore>,
    paused_until: Mutex<Option<Instant>>,
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
                &c.hosts,
            ))
            .ok()
        };
        limits(a) == limits(b)
    }

    fn gate(&self, host: &str) -> Arc<HostGate> {
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        gates
            .entry(host.to_string())
            .or_insert_with(|| {
                let (rate, burst) = match self.config.hosts.get(host) {
                    Some(h) => (h.rate_limit, h.burst),
                    None => (self.config.rate_limit, self.config.burst),
                };
                Arc::new(HostGate {
                    limiter: RateLimiter::direct(quota(rate, burst)),
                    slots: Arc::new(Semaphore::new(self.config.per_host_concurrency)),
                    paused_until: Mutex::new(None),
                })
            })
            .clone()
    }

    /// Waits until a request to `host` may be sent.
    pub async fn acquire(&self, host: &str) -> Permit {
        let gate = self.gate(host);
        let global = self
            .global
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
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
        Permit {
            _global: global,
            _host: host_slot,
        }
    }

    /// Pauses `host` (only) for `delay`, e.g. after `Retry-After`.
    pub fn pause(&self, host: &str, delay: Duration) {
        let gate = self.gate(host);
        let mut until = gate.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        let t = Instant::now() + delay;
        if until.is_none_or(|u| u < t) {
            *until = Some(t);
        }
        tracing::info!(
            host,
            delay_ms = delay.as_millis() as u64,
            "host asked us to slow down"
        );
    }

    /// Total time requests spent waiting for limits, in milliseconds.
    pub fn waited_ms(&self) -> u64 {
        self.waited_ms.load(std::sync::atomic::Ordering::Relaxed)
    }
}
