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
//! A newcomer is not evictable before the server has read all it sent
//! (its stream first answered "nothing more yet", [`Reads`]): under load
//! the acceptor can run ahead of the connection tasks, and without this a
//! probe whose whole request sat unread in its socket was evicted by the
//! next dozen attackers before its task ever ran. Among the evictable,
//! connections that have sent something (half a request, or whole ones
//! before) go before those that have sent nothing yet: a client's thread
//! can be descheduled between `connect` and its first write, and a busy
//! CI machine showed a probe evicted in that gap by a stream of
//! reconnecting attackers, each of which sends its first bytes at once.
//!
//! A connection's [`Slot`] carries its request counter ([`Slot::busy`],
//! raised by the service while a request and its response are in flight)
//! and its eviction signal ([`Slot::evicted`], which the connection task
//! obeys by dropping the connection). Dropping the slot gives it back.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

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
    /// Set once the server has read everything the client sent.
    drained: Arc<AtomicBool>,
    /// Set once the client has sent a byte.
    sent: Arc<AtomicBool>,
    evict: CancellationToken,
}

/// One connection's slot; given back when dropped.
pub struct Slot {
    id: u64,
    slots: Arc<Slots>,
    busy: Arc<AtomicUsize>,
    drained: Arc<AtomicBool>,
    sent: Arc<AtomicBool>,
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
        let drained = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicBool::new(false));
        let evicted = CancellationToken::new();
        open.by_age.insert(
            id,
            Entry {
                busy: busy.clone(),
                drained: drained.clone(),
                sent: sent.clone(),
                evict: evicted.clone(),
            },
        );
        Some(Slot {
            id,
            slots: self.clone(),
            busy,
            drained,
            sent,
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

/// The oldest connection with no request in flight whose input has been
/// read (a request still unread in its socket may be a whole one),
/// preferring one that has sent something over one that has not yet.
fn oldest_idle(open: &Open) -> Option<u64> {
    let idle = |e: &&Entry| e.drained.load(Ordering::SeqCst) && e.busy.load(Ordering::SeqCst) == 0;
    let oldest = |sent: bool| {
        open.by_age
            .iter()
            .filter(|(_, e)| idle(e) && e.sent.load(Ordering::SeqCst) == sent)
            .map(|(&id, _)| id)
            .next()
    };
    oldest(true).or_else(|| oldest(false))
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

    /// Wraps the connection's stream so that the slot becomes evictable
    /// once the server has read all the client sent ([`Reads`]).
    pub fn reads<S>(&self, stream: S) -> Reads<S> {
        Reads {
            inner: stream,
            drained: Some(self.drained.clone()),
            sent: Some(self.sent.clone()),
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

/// A connection's stream that marks its slot evictable the first time a
/// read finds nothing more to read.
pub struct Reads<S> {
    inner: S,
    /// Until the first read that would block.
    drained: Option<Arc<AtomicBool>>,
    /// Until the first byte read.
    sent: Option<Arc<AtomicBool>>,
    slots: Weak<Slots>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Reads<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            if let Some(sent) = self.sent.take() {
                sent.store(true, Ordering::SeqCst);
            }
        }
        if poll.is_pending() {
            if let Some(drained) = self.drained.take() {
                drained.store(true, Ordering::SeqCst);
                if let Some(slots) = self.slots.upgrade() {
                    slots.freed.notify_waiters();
                }
            }
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Reads<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
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
        // Nothing read yet: a request may be waiting in any of them.
        assert!(slots.try_take().is_none());
        for s in [&a, &b, &c] {
            s.drained.store(true, Ordering::SeqCst);
        }
        // `a` has a request in flight: `b` is the oldest idle one.
        let request = a.activity().enter();
        let d = slots.try_take().expect("evicts an idle connection");
        assert!(!a.evicted().is_cancelled());
        assert!(b.evicted().is_cancelled());
        assert!(!c.evicted().is_cancelled());
        assert_eq!(slots.open(), 3);
        assert_eq!(slots.evictions(), 1);
        // Every slot busy: nobody to evict, the newcomer waits.
        d.drained.store(true, Ordering::SeqCst);
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
        a.drained.store(true, Ordering::SeqCst);
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

    #[tokio::test]
    async fn a_connection_is_evictable_only_once_its_input_is_read() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let slots = Slots::new(1);
        let a = slots.try_take().unwrap();
        let (mut client, server) = tokio::io::duplex(64);
        let mut server = a.reads(server);
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        let n = server.read(&mut buf).await.unwrap();
        assert_eq!(n, 16);
        // Read, but not yet found empty: it may be mid-request.
        assert!(slots.try_take().is_none());
        // The next read would block: all it sent has been read.
        let more =
            tokio::time::timeout(std::time::Duration::from_millis(50), server.read(&mut buf));
        assert!(more.await.is_err(), "nothing more was sent");
        let _b = slots.try_take().expect("evictable once drained");
        assert!(a.evicted().is_cancelled());
    }

    #[test]
    fn a_connection_that_has_sent_nothing_yet_goes_last() {
        let slots = Slots::new(2);
        let silent = slots.try_take().unwrap();
        let talking = slots.try_take().unwrap();
        for s in [&silent, &talking] {
            s.drained.store(true, Ordering::SeqCst);
        }
        talking.sent.store(true, Ordering::SeqCst);
        // The older one has sent nothing yet (its client may be about to):
        // the younger one, which sent half a request, goes first.
        let third = slots.try_take().unwrap();
        assert!(talking.evicted().is_cancelled());
        assert!(!silent.evicted().is_cancelled());
        // With no one else evictable, the silent one goes too.
        third.drained.store(true, Ordering::SeqCst);
        let _busy = third.activity().enter();
        let _fourth = slots.try_take().unwrap();
        assert!(silent.evicted().is_cancelled());
    }
}
