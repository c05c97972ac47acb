//! The address guard's edges: a `[resolve]` entry pins the port as well as
//! the address, and IPv6 literals that embed or stand for loopback and
//! private space are refused before any connection. Two test servers on
//! 127.0.0.1; nothing here touches the internet.

mod common;

use archive::check::Checker;
use archive::config::Config;
use archive::extract::LinkKind;
use archive::model::Status;
use common::server::{jpeg, Reply, TestServer};

/// `h.test` pinned to `pinned`'s port; `free.test` pinned to the address
/// only. `allow_private` is the caller's: the servers are on loopback.
fn config(pinned: &TestServer, allow_private: bool) -> Config {
    let port = pinned.addr.port();
    let text = format!(
        r#"
[check]
allow_private = {allow_private}
timeout = 2.0
connect_timeout = 2.0
max_tries = 1
[resolve]
"h.test" = "127.0.0.1:{port}"
"free.test" = "127.0.0.1"
"#
    );
    Config::parse(&text, std::path::Path::new("test.toml")).expect("test config")
}

fn check(config: &Config, url: &str) -> archive::check::Checked {
    let checker = Checker::new(config, false, None).unwrap();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(checker.check_url(url, LinkKind::Image))
}

#[test]
fn resolve_entry_pins_the_port() {
    let pinned = TestServer::start();
    let other = TestServer::start();
    pinned.route("/a.jpg", Reply::Ok("image/jpeg", jpeg(1)));
    other.route("/a.jpg", Reply::Ok("image/jpeg", jpeg(2)));
    let config = config(&pinned, true);
    let (port, other_port) = (pinned.addr.port(), other.addr.port());

    // The scheme's default port and the entry's own port reach the entry.
    for url in [
        "http://h.test/a.jpg".to_string(),
        format!("http://h.test:{port}/a.jpg"),
    ] {
        let c = check(&config, &url);
        assert_eq!(c.status, Status::Ok, "{url}: {c:?}");
    }
    assert_eq!(pinned.hits_on("/a.jpg").len(), 2);

    // Another port on the pinned host is refused, not connected to.
    let c = check(&config, &format!("http://h.test:{other_port}/a.jpg"));
    assert_eq!(c.status, Status::Skipped, "{c:?}");
    assert_eq!(
        c.reason.map(|r| r.as_str()),
        Some("resolve_port_mismatch"),
        "{c:?}"
    );
    assert!(other.hits().is_empty(), "{:?}", other.hits());

    // An entry without a port lets the URL choose it.
    let c = check(&config, &format!("http://free.test:{other_port}/a.jpg"));
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert_eq!(other.hits_on("/a.jpg").len(), 1);
}

#[test]
fn redirect_to_another_port_of_a_pinned_host_is_refused() {
    let pinned = TestServer::start();
    let other = TestServer::start();
    let other_port = other.addr.port();
    other.route("/", Reply::Ok("image/jpeg", jpeg(3)));
    other.route("/a.jpg", Reply::Ok("image/jpeg", jpeg(3)));
    pinned.route(
        "/moved.jpg",
        Reply::Redirect(format!("http://h.test:{other_port}/")),
    );
    let c = check(&config(&pinned, true), "http://h.test/moved.jpg");
    assert_eq!(c.status, Status::Skipped, "{c:?}");
    assert_eq!(
        c.reason.map(|r| r.as_str()),
        Some("resolve_port_mismatch"),
        "{c:?}"
    );
    assert_eq!(pinned.hits_on("/moved.jpg").len(), 1);
    assert!(other.hits().is_empty(), "{:?}", other.hits());
}

#[test]
fn ipv6_forms_of_private_space_are_refused() {
    let server = TestServer::start();
    let config = config(&server, false);
    for url in [
        "http://[::127.0.0.1]/a.jpg",
        "http://[::ffff:0:7f00:1]/a.jpg",
        "http://[64:ff9b::7f00:1]/a.jpg",
        "http://[64:ff9b:1::a00:1]/a.jpg",
        "http://[2002:7f00:1::]/a.jpg",
        "http://[2001:0:4136:e378::1]/a.jpg",
        "http://[fec0::1]/a.jpg",
    ] {
        let c = check(&config, url);
        assert_eq!(c.status, Status::Skipped, "{url}: {c:?}");
        assert_eq!(
            c.reason.map(|r| r.as_str()),
            Some("private_address"),
            "{url}: {c:?}"
        );
        // Refused before the request: no response, no time spent.
        assert_eq!(c.http.status_code, None, "{url}: {c:?}");
    }
    assert!(server.hits().is_empty());
}
