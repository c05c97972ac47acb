//! Request errors are classed by what failed, not by words in the URL:
//! host names and paths full of `tls`, `certificate`, `handshake`,
//! `dns error`, `refused`, `timed out` and `reset` get the reason and the
//! retries of the real cause. Everything runs against servers on
//! 127.0.0.1 with the names mapped by `[resolve]`; the one unmapped name
//! is a `.invalid` name, which the resolver answers without asking DNS.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use archive::check::{Checked, Checker};
use archive::config::Config;
use archive::extract::LinkKind;
use archive::model::Status;
use common::server::{jpeg, Reply, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Host names made of the words the old substring rules looked for.
const HOSTILE_HOSTS: [&str; 4] = [
    "tls-certificate-handshake.test",
    "dns-error.failed-to-lookup.test",
    "refused.timed-out.reset.test",
    "tls-images.test",
];

/// A path made of the same words (`dns error` with its space encoded).
const HOSTILE_PATH: &str = "/refused:/dns%20error/tls/certificate/handshake/timed%20out/reset.jpg";

/// A config mapping every hostile name to `addr`, private addresses
/// allowed (everything is on loopback), two tries, fast backoff.
fn config(addr: SocketAddr, extra: &str) -> Config {
    let resolve: String = HOSTILE_HOSTS
        .iter()
        .map(|h| format!("\"{h}\" = \"{addr}\"\n"))
        .collect();
    let text = format!(
        "[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\n\
         connect_timeout = 2.0\nmax_tries = 2\nretry_backoff = 0.05\nretry_max_time = 20.0\n\
         {extra}\n[resolve]\n{resolve}"
    );
    Config::parse(&text, std::path::Path::new("test.toml")).expect("test config")
}

fn check(addr: SocketAddr, extra: &str, url: &str) -> Checked {
    let checker = Checker::new(&config(addr, extra), false, None).unwrap();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(checker.check_url(url, LinkKind::Image))
}

/// A port on 127.0.0.1 where nothing listens.
fn dead_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// What a [`raw_server`] does with each connection.
#[derive(Clone, Copy)]
enum Fault {
    /// Reads the request, then resets the connection (RST).
    Reset,
    /// Reads the request, then closes without a word.
    Close,
    /// Answers whatever comes (a TLS ClientHello) with plain HTTP.
    NotTls,
}

/// A TCP server on 127.0.0.1 with one fault; counts connections.
fn raw_server(fault: Fault) -> (SocketAddr, Arc<AtomicUsize>) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    match fault {
                        Fault::Reset => {
                            let _ = stream.set_zero_linger();
                        }
                        Fault::Close => {}
                        Fault::NotTls => {
                            let reply = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
                            let _ = stream.write_all(reply).await;
                            let _ = stream.flush().await;
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                    drop(stream);
                });
            }
        });
    });
    (addr, count)
}

fn assert_class(c: &Checked, status: Status, reason: &str, tries: u32, what: &str) {
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (status, Some(reason)),
        "{what}: {c:?}"
    );
    assert_eq!(c.http.tries, tries, "{what}: tries, {c:?}");
}

#[test]
fn refused_connections_are_refused_and_retried_whatever_the_name() {
    let dead = dead_addr();
    for host in HOSTILE_HOSTS {
        for url in [
            format!("http://{host}{HOSTILE_PATH}"),
            format!("http://{host}/a.jpg"),
        ] {
            let c = check(dead, "", &url);
            assert_class(&c, Status::Broken, "connection_refused", 2, &url);
            let error = c.http.error.as_deref().unwrap_or("");
            assert!(error.contains(host), "the message names the URL: {error}");
        }
    }
}

#[test]
fn the_same_names_on_a_working_server_are_ok() {
    let s = TestServer::start();
    s.route(HOSTILE_PATH, Reply::Ok("image/jpeg", jpeg(3)));
    for host in HOSTILE_HOSTS {
        let c = check(s.addr, "", &format!("http://{host}{HOSTILE_PATH}"));
        assert_eq!(
            (c.status, c.reason.map(|r| r.as_str())),
            (Status::Ok, None),
            "{c:?}"
        );
        assert_eq!(c.http.tries, 1);
    }
    let hosts: Vec<String> = s.hits().into_iter().map(|h| h.host).collect();
    assert!(
        hosts.iter().any(|h| h.starts_with("tls-images.test")),
        "{hosts:?}"
    );
}

#[test]
fn resets_and_closes_are_network_errors_and_retried() {
    for (fault, what) in [(Fault::Reset, "reset"), (Fault::Close, "close")] {
        let (addr, connections) = raw_server(fault);
        for host in [
            "tls-certificate-handshake.test",
            "dns-error.failed-to-lookup.test",
        ] {
            let before = connections.load(Ordering::SeqCst);
            let c = check(addr, "", &format!("http://{host}{HOSTILE_PATH}"));
            assert_class(&c, Status::Broken, "network_error", 2, what);
            let seen = connections.load(Ordering::SeqCst) - before;
            assert_eq!(seen, 2, "{what}: connections at the server");
        }
    }
}

#[test]
fn a_failed_handshake_is_a_tls_error_and_not_retried_whatever_the_name() {
    let (addr, connections) = raw_server(Fault::NotTls);
    for host in [
        "refused.timed-out.reset.test",
        "dns-error.failed-to-lookup.test",
    ] {
        let before = connections.load(Ordering::SeqCst);
        let c = check(addr, "", &format!("https://{host}{HOSTILE_PATH}"));
        assert_class(&c, Status::Broken, "tls_error", 1, "handshake");
        assert_eq!(connections.load(Ordering::SeqCst) - before, 1);
    } // A server that hangs up on the ClientHello: a TLS failure, as before.
    let (addr, _) = raw_server(Fault::Close);
    let c = check(
        addr,
        "",
        &format!("https://refused.timed-out.reset.test{HOSTILE_PATH}"),
    );
    assert_class(
        &c,
        Status::Broken,
        "tls_error",
        1,
        "hang-up in the handshake",
    );
}

#[test]
fn an_unknown_name_is_a_dns_error_and_not_retried() {
    let dead = dead_addr();
    for host in [
        "tls-certificate.refused.invalid",
        "timed-out.reset.invalid",
        "INVALID",
    ] {
        let c = check(dead, "", &format!("http://{host}{HOSTILE_PATH}"));
        assert_class(&c, Status::Broken, "dns_error", 1, host);
    }
}

#[test]
fn a_silent_server_times_out_and_is_retried_whatever_the_name() {
    let s = TestServer::start();
    s.route(HOSTILE_PATH, Reply::Hang);
    let c = check(
        s.addr,
        "timeout = 0.5",
        &format!("http://tls-certificate-handshake.test{HOSTILE_PATH}"),
    );
    assert_class(&c, Status::Broken, "timeout", 2, "hang");
}
