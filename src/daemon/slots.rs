//! Connection slots: at most `daemon.max_connections` served at once, and
//! when they are all taken a new connection takes the slot of the oldest
//! one that has no request in flight.
//!
//! The header timeout frees a stalled connection's slot after
//! `daemon.header_timeout_secs`, but an attacker who reconnects as fast
//! as connections are closed keeps every slot filled with half-sent
//! headers, and `/healthz` competed with it for the slots (6 of 12 probes
//! failed at 1,500 reconnecting clients in the hostile-user pass). A
//! connection with no request in flight (still sending its first
//! headers, or idle between kept-alive requests) costs its client nothing
//! to lose, so at the cap the newcomer evicts the oldest such one: a
//! client that sends its request at once (a probe, a scraper) is served
//! within one round of the attacker's reconnects, and the attackers
//! evict each other. Connections with a request in flight, response
//! still being written included, are never evicted: when all slots have
//! one, new connections wait (in the kernel's backlog) as before.
//!
//! A connection's [`Slot`] carries its request counter ([`Slot::busy`],
//! raised by the service while a request and its response are in flight)
//! and its eviction signal ([`Slot::evicted`], which the connection task
//! obeys by dropping the connection). Dropping the slot gives it back.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The slots of one listener.
pub struct Slots {
    cap: usize,
    open: Mutex<Open>,
    /// Signalled when a slot is given back.
    freed: Notify,
    evictions: AtomicU64,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    /// By age: ids grow with each connection taken.
    by_age: BTreeMap<u64, Entry>,
}

struct Entry {
    busy: Arc<AtomicUsize>,
    evict: CancellationToken,
}

/// One connection's slot; given back when dropped.
pub struct Slot {
    id: u64,
    slots: Arc<Slots>,
    busy: Arc<AtomicUsize>,
    evicted: CancellationToken,
}

impl Slots {
    pub fn new(cap: usize) -> Arc<Slots> {
        Arc::new(Slots {
            cap: cap.max(1),
            open: Mutex::new(Open::default()),
            freed: Notify::new(),
            evictions: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections served at once.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Connections evicted so far.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Connections holding a slot now.
    pub fn open(&self) -> usize {
        self.lock().by_age.len()
    }

    /// Waits until a new connection could get a slot: one is free, or
    /// one is held by a connection with no request in flight.
    pub async fn room(&self) {
        loop {
            let freed = self.freed.notified();
            {
                let open = self.lock();
                if open.by_age.len() < self.cap || oldest_idle(&open).is_some() {
                    return;
                }
            }
            freed.await;
        }
    }

    /// A slot for a new connection, if one is free or can be freed by
    /// evicting the oldest connection with no request in flight.
    pub fn try_take(self: &Arc<Self>) -> Option<Slot> {
        let mut open = self.lock();
        if open.by_age.len() >= self.cap {
            let victim = oldest_idle(&open)?;
            if let Some(entry) = open.by_age.remove(&victim) {
                entry.evict.cancel();
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        let id = open.next_id;
        open.next_id += 1;
        let busy = Arc::new(AtomicUsize::new(0));
        let evicted = CancellationToken::new();
        open.by_age.insert(
            id,
            Entry {
                busy: busy.clone(),
                evict: evicted.clone(),
            },
        );
        Some(Slot {
            id,
            slots: self.clone(),
            busy,
            evicted,
        })
    }

    /// A slot for a new connection, waiting while every slot has a
    /// request in flight.
    pub async fn take(self: &Arc<Self>) -> Slot {
        loop {
            let freed = self.freed.notified();
            if let Some(slot) = self.try_take() {
                return slot;
            }
            freed.await;
        }
    }
}

/// The oldest connection with no request in flight.
fn oldest_idle(open: &Open) -> Option<u64> {
    open.by_age
        .iter()
        .find(|(_, e)| e.busy.load(Ordering::SeqCst) == 0)
        .map(|(&id, _)| id)
}

impl Slot {
    /// The connection's requests in flight: the service enters it while a
    /// request and its response are under way ([`Activity::enter`]).
    pub fn activity(&self) -> Activity {
        Activity {
            count: self.busy.clone(),
            slots: Arc::downgrade(&self.slots),
        }
    }

    /// Fires when a newcomer took this slot: drop the connection.
    pub fn evicted(&self) -> CancellationToken {
        self.evicted.clone()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.lock().by_age.remove(&self.id);
        // Wakes all waiters: `room` and `take` both re-check.
        self.slots.freed.notify_waiters();
    }
}

/// A connection's requests in flight, for its service to enter.
#[derive(Clone)]
pub struct Activity {
    count: Arc<AtomicUsize>,
    slots: Weak<Slots>,
}

impl Activity {
    /// A request is in flight until the returned guard is dropped: from
    /// the moment the service is called until its response body is
    /// dropped (written whole, or the connection gone).
    pub fn enter(&self) -> Busy {
        self.count.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }
}

/// One request in flight ([`Activity::enter`]).
pub struct Busy(Activity);

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            // Idle now: evictable, which a waiting acceptor must hear.
            if let Some(slots) = self.0.slots.upgrade() {
                slots.freed.notify_waiters();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_oldest_idle_connection_is_evicted() {
        let slots = Slots::new(3);
        let a = slots.try_take().unwrap();
        let b = slots.try_take().unwrap();
        let c = slots.try_take().unwrap();
        // `a` has a request in flight: `b` is the oldest idle one.
        let request = a.activity().enter();
        let d = slots.try_take().expect("evicts an idle connection");
        assert!(!a.evicted().is_cancelled());
        assert!(b.evicted().is_cancelled());
        assert!(!c.evicted().is_cancelled());
        assert_eq!(slots.open(), 3);
        assert_eq!(slots.evictions(), 1);
        // Every slot busy: nobody to evict, the newcomer waits.
        let _busy = [c.activity().enter(), d.activity().enter()];
        assert!(slots.try_take().is_none());
        // The request ends: `a` is idle again, and the oldest.
        drop(request);
        let _e = slots.try_take().expect("a is idle");
        assert!(a.evicted().is_cancelled());
        // An evicted connection's slot, dropped late, frees nothing twice.
        drop((a, b));
        assert_eq!(slots.open(), 3);
        drop(c);
        assert_eq!(slots.open(), 2);
    }

    #[tokio::test]
    async fn a_freed_slot_wakes_the_waiting_acceptor() {
        let slots = Slots::new(1);
        let a = slots.try_take().unwrap();
        let busy = a.activity().enter();
        let waiter = tokio::spawn({
            let slots = slots.clone();
            async move {
                slots.room().await;
                slots.take().await
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        // The request ends: `a` is idle, so evictable.
        drop(busy);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .unwrap();
        assert!(a.evicted().is_cancelled());
        assert_eq!(slots.open(), 1);
        drop(got);
    }
}
