//! Slowloris against the daemon's HTTP endpoint (issue 10): 200
//! connections that send half a request line and stall do not keep
//! `/healthz` from answering, and are closed after
//! `daemon.header_timeout_secs`; past `daemon.max_connections` new
//! connections wait until a slot frees, instead of costing descriptors.
//! 127.0.0.1 only; every wait is bounded and a timeout is a failure.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use archive::config::{Config, LoadedConfig};
use archive::daemon::{daemon_engine_options, serve};
use archive::engine::{CancellationToken, Engine};
use tokio::sync::mpsc;

struct Daemon {
    addr: SocketAddr,
    shutdown: CancellationToken,
    done: std::thread::JoinHandle<Result<(), String>>,
    _reloads: mpsc::Sender<LoadedConfig>,
}

fn start(dir: &Path, daemon: &str) -> Daemon {
    std::fs::create_dir_all(dir.join("corpus")).unwrap();
    let toml = format!(
        "[corpus]\npaths = [\"{}\"]\n[check]\noffline = true\n[daemon]\nlisten = \"127.0.0.1:0\"\ninterval_secs = 3600.0\nwatch = false\ngrace_secs = 0.0\n{daemon}\n[store]\npath = \"{}\"\nmin_free_bytes = 0\n[report]\npath = \"{}\"\n",
        dir.join("corpus").display(),
        dir.join("store").display(),
        dir.join("report.json").display(),
    );
    let loaded = LoadedConfig {
        config: Config::parse(&toml, Path::new("test.toml")).expect("test config"),
        path: None,
        digest: "0".repeat(64),
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (reload_tx, reloads) = mpsc::channel(1);
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let done = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let result = runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let engine = Engine::new(loaded, daemon_engine_options()).map_err(|e| e.to_string())?;
            serve(listener, engine, reloads, stop)
                .await
                .map_err(|e| e.to_string())
        });
        runtime.shutdown_background();
        result
    });
    Daemon {
        addr,
        shutdown,
        done,
        _reloads: reload_tx,
    }
}

/// GET /healthz on a new connection; the status line, or an error if no
/// answer came within `limit`.
fn healthz(addr: SocketAddr, limit: Duration) -> Result<String, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// A connection that sent half a request line and stalls.
fn stalled(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /healthz HT").unwrap();
    s
}

/// Whether the server closed `s` before `deadline` (EOF or reset; any
/// bytes it sent first, such as a 408, are read and ignored).
fn closed_by(s: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

fn wait_ready(addr: SocketAddr) {
    let started = Instant::now();
    while healthz(addr, Duration::from_secs(5)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "daemon never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop(daemon: Daemon) {
    daemon.shutdown.cancel();
    let started = Instant::now();
    while !daemon.done.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not return"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon.done.join().expect("no panic").expect("serve ok");
}

#[test]
fn stalled_connections_are_closed_and_healthz_answers() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), "header_timeout_secs = 1.0");
    wait_ready(daemon.addr);
    let mut conns: Vec<TcpStream> = (0..200).map(|_| stalled(daemon.addr)).collect();
    let status = healthz(daemon.addr, Duration::from_secs(10))
        .expect("/healthz answers beside 200 stalled connections");
    assert!(status.contains(" 200 "), "{status}");
    // Closed after the 1 s header timeout; 20 s is a fault, not a measure.
    let deadline = Instant::now() + Duration::from_secs(20);
    let closed = conns
        .iter_mut()
        .map(|s| closed_by(s, deadline))
        .filter(|&c| c)
        .count();
    assert_eq!(closed, 200, "stalled connections left open");
    let status = healthz(daemon.addr, Duration::from_secs(10)).expect("/healthz after");
    assert!(status.contains(" 200 "), "{status}");
    stop(daemon);
}

#[test]
fn connections_past_the_cap_wait_for_a_free_slot() {
    let dir = tempfile::tempdir().unwrap();
    // A long header timeout: only the clients free the slots here.
    let daemon = start(
        dir.path(),
        "header_timeout_secs = 600.0\nmax_connections = 4",
    );
    wait_ready(daemon.addr);
    let mut conns: Vec<TcpStream> = (0..4).map(|_| stalled(daemon.addr)).collect();
    // The fifth is not served while four stalled ones hold every slot.
    let mut fifth = TcpStream::connect(daemon.addr).unwrap();
    fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    let early = fifth.read(&mut buf);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "served past the cap: {early:?}"
    );
    // One stalled client leaves: its slot goes to the waiting one.
    drop(conns.pop());
    fifth
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = Vec::new();
    fifth
        .read_to_end(&mut out)
        .expect("answered once a slot freed");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    drop(conns);
    stop(daemon);
}

/// Slow readers: clients that pipeline requests and never read the
/// answers fill their socket buffers, and every write to them waits. With
/// all `max_connections` slots held that way, `/healthz` must still get
/// an answer once the stalled writes time out (`header_timeout_secs`
/// without progress) and free their slots. Found by the hostile-user pass.
#[test]
fn clients_that_never_read_lose_their_slots() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), "max_connections = 6\nheader_timeout_secs = 1.0");
    // Wait for the endpoint.
    let started = Instant::now();
    while healthz(d.addr, Duration::from_secs(2)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "no endpoint");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Each client sends enough pipelined requests for the answers to
    // overflow the socket buffers, and never reads.
    let request = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(20_000);
    let hogs: Vec<TcpStream> = (0..8)
        .filter_map(|_| {
            let mut s = TcpStream::connect(d.addr).ok()?;
            s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
            let _ = s.write_all(&request);
            Some(s)
        })
        .collect();
    assert!(hogs.len() >= 6, "the hogs connected");
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    let answer = healthz(d.addr, Duration::from_secs(15));
    assert!(
        answer.as_deref().is_ok_and(|l| l.contains("200")),
        "/healthz behind clients that never read: {answer:?} after {:?}",
        asked.elapsed()
    );
    drop(hogs);
    d.shutdown.cancel();
    d.done.join().expect("no panic").expect("serve ok");
}
