//! `daemon.max_connections` against the process's descriptor limit.
//!
//! Every connection the endpoint serves is a file descriptor, and so is
//! every outgoing request, the state database, an object being written,
//! the corpus watcher and the runtime's own. A `max_connections` of 512
//! under the common default `ulimit -n` of 1024 leaves room; 5,000 does
//! not, and the daemon would find out at the worst moment (`accept`
//! failing under load, a download failing with "too many open files").
//!
//! So at start the daemon raises its soft `RLIMIT_NOFILE` toward the hard
//! limit as far as the connections plus a [`reserve`] need (an
//! unprivileged process may; the hard limit is the administrator's), and
//! if that is still not enough it lowers the cap it serves to what fits,
//! logs a warning saying what to change, and `/metrics` shows the cap in
//! force (`archive_http_max_connections`). The arithmetic is pure
//! ([`plan`]) so that it is tested without touching the limit.

/// Descriptors kept for everything but served connections: the runtime,
/// stdio, the watcher and the store (a fixed 64), and two per request
/// the checker may have in flight (its socket, and the object it writes).
pub fn reserve(check_concurrency: usize) -> u64 {
    64 + 2 * check_concurrency as u64
}

/// What to do about the limit: the soft limit to ask for (if it must
/// rise) and the connection cap to serve if it is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// A new soft limit, when the current one is too low.
    pub raise_to: Option<u64>,
    /// Connections served at once once `raise_to` (if any) is in force.
    pub cap: usize,
}

/// The plan for serving `wanted` connections with `reserve` descriptors
/// kept aside, under soft limit `soft` and hard limit `hard` (`None`:
/// unlimited). The soft limit rises at most to the hard one; the cap is
/// what the resulting limit leaves after the reserve, at least 1.
pub fn plan(wanted: usize, reserve: u64, soft: Option<u64>, hard: Option<u64>) -> Plan {
    let need = (wanted as u64).saturating_add(reserve);
    let raise_to = match soft {
        Some(s) if s < need => Some(hard.map_or(need, |h| need.min(h))).filter(|&n| n > s),
        _ => None,
    };
    let cap = match raise_to.or(soft) {
        None => wanted,
        Some(limit) => {
            let room = usize::try_from(limit.saturating_sub(reserve)).unwrap_or(usize::MAX);
            wanted.min(room).max(1)
        }
    };
    Plan { raise_to, cap }
}

/// Raises the soft descriptor limit if `wanted` connections need it and
/// returns the cap to serve: `wanted`, or less with a warning when the
/// hard limit does not allow it.
pub fn fit_connections(wanted: usize, reserve: u64) -> usize {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let now = getrlimit(Resource::Nofile);
    let p = plan(wanted, reserve, now.current, now.maximum);
    let mut cap = p.cap;
    if let Some(to) = p.raise_to {
        let asked = rustix::process::Rlimit {
            current: Some(to),
            maximum: now.maximum,
        };
        match setrlimit(Resource::Nofile, asked) {
            Ok(()) => tracing::info!(
                from = now.current,
                to,
                "raised the open-file limit for daemon.max_connections"
            ),
            Err(e) => {
                tracing::warn!("cannot raise the open-file limit to {to}: {e}");
                cap = plan(wanted, reserve, now.current, now.current).cap;
            }
        }
    }
    if cap < wanted {
        tracing::warn!(
            "daemon.max_connections = {wanted} does not fit the open-file limit ({} hard, {} kept for the store and outgoing requests): serving at most {cap} connections at once; raise the limit (LimitNOFILE= in the unit, or ulimit -n) or lower daemon.max_connections",
            now.maximum.map_or_else(|| "unlimited".to_string(), |h| h.to_string()),
            reserve
        );
    }
    cap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_rises_toward_the_hard_one_and_the_cap_fits_what_is_left() {
        // Enough already: nothing to do.
        assert_eq!(
            plan(512, 128, Some(1024), Some(4096)),
            Plan {
                raise_to: None,
                cap: 512
            }
        );
        // Too low, the hard limit allows it: raised exactly as far as needed.
        assert_eq!(
            plan(5000, 128, Some(1024), Some(1_048_576)),
            Plan {
                raise_to: Some(5128),
                cap: 5000
            }
        );
        // The hard limit stops short: raised to it, the cap lowered.
        assert_eq!(
            plan(5000, 128, Some(1024), Some(4096)),
            Plan {
                raise_to: Some(4096),
                cap: 3968
            }
        );
        // Soft already at hard: the cap is what is left after the reserve.
        assert_eq!(
            plan(512, 128, Some(256), Some(256)),
            Plan {
                raise_to: None,
                cap: 128
            }
        );
        // A limit below the reserve still serves one connection.
        assert_eq!(plan(512, 128, Some(64), Some(64)).cap, 1);
        // Unlimited.
        assert_eq!(
            plan(512, 128, None, None),
            Plan {
                raise_to: None,
                cap: 512
            }
        );
        assert_eq!(
            plan(512, 128, Some(256), None),
            Plan {
                raise_to: Some(640),
                cap: 512
            }
        );
        assert_eq!(reserve(32), 128);
    }
}
