//! The HTTP checker against a real server on 127.0.0.1, one fault at a
//! time. Host names are pointed at the server with the `[resolve]`
//! setting; nothing here touches the internet.

mod common;

use std::time::{Duration, Instant};

use archive::check::Checker;
use archive::config::Config;
use archive::extract::LinkKind;
use archive::model::Status;
use common::server::{jpeg, png, Reply, TestServer};

/// A config for tests: the server's names resolved to it, private
/// addresses allowed (the server is on loopback), fast retries.
fn config(server: &TestServer, extra: &str) -> Config {
    let port = server.addr.port();
    let defaults = [
        "allow_private = true",
        "rate_limit = 1000.0",
        "burst = 100",
        "timeout = 2.0",
        "connect_timeout = 2.0",
        "max_tries = 3",
        "retry_backoff = 0.05",
        "retry_max_time = 20.0",
    ];
    // `extra` overrides a default by naming the same key.
    let overridden = |line: &&str| {
        let key = line.split(' ').next().unwrap_or("");
        extra.lines().any(|l| l.starts_with(&format!("{key} ")))
    };
    let check: Vec<&str> = defaults
        .iter()
        .filter(|l| !overridden(l))
        .copied()
        .collect();
    let check = check.join("\n");
    let text = format!(
        r#"
[check]
{check}
{extra}
[resolve]
"a.test" = "127.0.0.1:{port}"
"b.test" = "127.0.0.1:{port}"
"news.nankai.edu.cn" = "127.0.0.1:{port}"
"#
    );
    Config::parse(&text, std::path::Path::new("test.toml")).expect("test config")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn check(server: &TestServer, extra: &str, url: &str, kind: LinkKind) -> archive::check::Checked {
    let checker = Checker::new(&config(server, extra), false, None).unwrap();
    runtime().block_on(checker.check_url(url, kind))
}

#[test]
fn ok_image() {
    let s = TestServer::start();
    s.route("/a.jpg", Reply::Ok("image/jpeg", jpeg(1)));
    let c = check(&s, "", "http://a.test/a.jpg", LinkKind::Image);
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert_eq!(c.http.status_code, Some(200));
    assert_eq!(c.http.sniffed_type.as_deref(), Some("image/jpeg"));
    assert_eq!(s.hits()[0].host, "a.test");
    assert!(s.hits()[0]
        .headers
        .iter()
        .any(|(k, v)| k == "user-agent" && v.starts_with("archive/")));
}

#[test]
fn not_found_and_gone_are_permanent() {
    let s = TestServer::start();
    s.route("/gone", Reply::Status(410));
    let c = check(&s, "", "http://a.test/missing.jpg", LinkKind::Image);
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Broken, Some("not_found"))
    );
    assert_eq!(c.http.tries, 1, "404 is not retried");
    let c = check(&s, "", "http://a.test/gone", LinkKind::Page);
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Broken, Some("gone"))
    );
    assert_eq!(s.hits_on("/missing.jpg").len(), 1);
}

#[test]
fn server_error_then_ok_is_retried() {
    let s = TestServer::start();
    s.route(
        "/flaky.png",
        Reply::FailFirst {
            n: 1,
            status: 500,
            retry_after: None,
            then: Box::new(Reply::Ok("image/png", png())),
        },
    );
    let c = check(&s, "", "http://a.test/flaky.png", LinkKind::Image);
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert_eq!(c.http.tries, 2);
    assert_eq!(s.hits_on("/flaky.png").len(), 2);
}

#[test]
fn retry_after_slows_only_that_host() {
    let s = TestServer::start();
    s.route_on(
        "a.test",
        "/busy.jpg",
        Reply::FailFirst {
            n: 1,
            status: 429,
            retry_after: Some("2"),
            then: Box::new(Reply::Ok("image/jpeg", jpeg(2))),
        },
    );
    s.route_on("a.test", "/later.jpg", Reply::Ok("image/jpeg", jpeg(3)));
    for i in 0..5 {
        s.route_on(
            "b.test",
            &format!("/b{i}.jpg"),
            Reply::Ok("image/jpeg", jpeg(4)),
        );
    }
    let checker = Checker::new(&config(&s, ""), false, None).unwrap();
    let checker = &checker;
    let started = Instant::now();
    runtime().block_on(async move {
        let first = checker.check_url("http://a.test/busy.jpg", LinkKind::Image);
        let others = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let a = checker.check_url("http://a.test/later.jpg", LinkKind::Image);
            let b = futures_util::future::join_all((0..5).map(|i| {
                let url = format!("http://b.test/b{i}.jpg");
                async move { checker.check_url(&url, LinkKind::Image).await }
            }));
            let (a, b) = tokio::join!(a, b);
            assert_eq!(a.status, Status::Ok);
            assert!(b.iter().all(|c| c.status == Status::Ok));
        };
        let (first, ()) = tokio::join!(first, others);
        assert_eq!(first.status, Status::Ok, "{first:?}");
        assert_eq!(first.http.tries, 2);
    });
    let hits = s.hits();
    let t0 = hits.iter().find(|h| h.path == "/busy.jpg").unwrap().at;
    let retry = hits
        .iter()
        .filter(|h| h.path == "/busy.jpg")
        .nth(1)
        .unwrap()
        .at;
    assert!(
        retry - t0 >= Duration::from_millis(1900),
        "retried after {:?}",
        retry - t0
    );
    let later = hits.iter().find(|h| h.path == "/later.jpg").unwrap().at;
    assert!(
        later - t0 >= Duration::from_millis(1900),
        "a.test was paused: {:?}",
        later - t0
    );
    for h in hits.iter().filter(|h| h.host == "b.test") {
        assert!(
            h.at - t0 < Duration::from_millis(1500),
            "b.test went on at full speed: {:?}",
            h.at - t0
        );
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn head_refused_then_get() {
    let s = TestServer::start();
    s.route(
        "/page.html",
        Reply::NoHead(Box::new(Reply::Ok("text/html", b"<html></html>".to_vec()))),
    );
    let c = check(&s, "", "http://a.test/page.html", LinkKind::Page);
    assert_eq!(c.status, Status::Ok, "{c:?}");
    let methods: Vec<String> = s.hits().into_iter().map(|h| h.method).collect();
    assert_eq!(methods, ["HEAD", "GET"]);
    assert_eq!(c.http.method, "GET");
}

#[test]
fn redirect_chain_is_recorded_and_loops_are_caught() {
    let s = TestServer::start();
    s.route("/r1", Reply::Redirect("/r2".into()));
    s.route("/r2", Reply::Redirect("http://b.test/final.jpg".into()));
    s.route("/final.jpg", Reply::Ok("image/jpeg", jpeg(5)));
    let c = check(&s, "", "http://a.test/r1", LinkKind::Image);
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert_eq!(
        c.http.redirects,
        ["http://a.test/r2", "http://b.test/final.jpg"]
    );
    assert_eq!(c.http.final_url.as_deref(), Some("http://b.test/final.jpg"));
    s.route("/l1", Reply::Redirect("/l2".into()));
    s.route("/l2", Reply::Redirect("/l1".into()));
    let c = check(&s, "", "http://a.test/l1", LinkKind::Page);
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Broken, Some("redirect_loop"))
    );
    let c = check(&s, "max_redirects = 1", "http://a.test/r1", LinkKind::Image);
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Broken, Some("too_many_redirects"))
    );
}

#[test]
fn body_short_of_content_length_is_truncated() {
    let s = TestServer::start();
    s.route(
        "/short.jpg",
        Reply::Short {
            declared: 5000,
            body: jpeg(6)[..1000].to_vec(),
        },
    );
    let c = check(
        &s,
        "max_tries = 1",
        "http://a.test/short.jpg",
        LinkKind::Image,
    );
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Truncated, Some("short_body")),
        "{c:?}"
    );
}

#[test]
fn jpeg_without_end_marker_is_truncated() {
    let s = TestServer::start();
    let mut cut = jpeg(7);
    cut.truncate(cut.len() - 2);
    s.route("/cut.jpg", Reply::Ok("image/jpeg", cut));
    let c = check(&s, "", "http://a.test/cut.jpg", LinkKind::Image);
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Truncated, Some("jpeg_no_end_marker"))
    );
}

#[test]
fn html_for_an_image_is_a_soft_404() {
    let s = TestServer::start();
    s.route(
        "/img.jpg",
        Reply::Ok(
            "image/jpeg",
            b"<!DOCTYPE html><html><title>Not found</title></html>".to_vec(),
        ),
    );
    let c = check(&s, "", "http://a.test/img.jpg", LinkKind::Image);
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Broken, Some("soft_404"))
    );
    s.route("/empty.png", Reply::Ok("image/png", Vec::new()));
    let c = check(&s, "", "http://a.test/empty.png", LinkKind::Image);
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Broken, Some("empty_body"))
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    let s = TestServer::start();
    s.route("/hang", Reply::Hang);
    let started = Instant::now();
    let c = check(
        &s,
        "timeout = 0.5\nmax_tries = 2",
        "http://a.test/hang",
        LinkKind::Page,
    );
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Broken, Some("timeout")),
        "{c:?}"
    );
    assert_eq!(c.http.tries, 2);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_trickling_body_hits_the_body_timeout() {
    let s = TestServer::start();
    s.route(
        "/slow.jpg",
        Reply::Trickle {
            total: 1000,
            interval: Duration::from_millis(50),
        },
    );
    let started = Instant::now();
    let c = check(
        &s,
        "timeout = 0.8\nmax_tries = 1",
        "http://a.test/slow.jpg",
        LinkKind::Image,
    );
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Broken, Some("body_timeout")),
        "{c:?}"
    );
    assert!(c.http.bytes_read > 0 && c.http.bytes_read < 1000);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_two_gigabyte_declaration_is_not_downloaded() {
    let s = TestServer::start();
    s.route(
        "/huge.mp4",
        Reply::Huge {
            declared: 2 * 1024 * 1024 * 1024,
        },
    );
    let c = check(
        &s,
        "max_body_size = 10000000",
        "http://a.test/huge.mp4",
        LinkKind::Media,
    );
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Skipped, Some("too_large")),
        "{c:?}"
    );
    assert_eq!(c.http.bytes_read, 0);
    assert_eq!(c.http.content_length, Some(2 * 1024 * 1024 * 1024));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        s.body_bytes_sent() < 16 * 1024 * 1024,
        "sent {}",
        s.body_bytes_sent()
    );
}

#[test]
fn connection_refused_and_unresolvable_host() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let s = TestServer::start();
    let url = format!("http://127.0.0.1:{port}/x.jpg");
    let c = check(&s, "max_tries = 2", &url, LinkKind::Image);
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Broken, Some("connection_refused")),
        "{c:?}"
    );
    assert_eq!(c.http.tries, 2, "refused connections are retried");
    let c = check(&s, "", "http://no-such-host.invalid/x.jpg", LinkKind::Image);
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Broken, Some("dns_error")),
        "{c:?}"
    );
    assert_eq!(c.http.tries, 1);
}

#[test]
fn private_addresses_are_refused_unless_allowed() {
    let s = TestServer::start();
    s.route("/secret", Reply::Ok("text/plain", b"secret".to_vec()));
    s.route("/jump", Reply::Redirect(s.url("/secret")));
    let deny = "allow_private = false";
    let text = |extra: &str| {
        // `allow_private` appears twice otherwise; build the config by hand.
        let port = s.addr.port();
        Config::parse(
            &format!("[check]\n{extra}\nretry_backoff = 0.05\n[resolve]\n\"public.test\" = \"127.0.0.1:{port}\"\n"),
            std::path::Path::new("t.toml"),
        )
        .unwrap()
    };
    let rt = runtime();
    let checker = Checker::new(&text(deny), false, None).unwrap();
    let c = rt.block_on(checker.check_url(&s.url("/secret"), LinkKind::Page));
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Skipped, Some("private_address")),
        "{c:?}"
    );
    let c = rt.block_on(checker.check_url("http://public.test/jump", LinkKind::Page));
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Skipped, Some("private_address")),
        "{c:?}"
    );
    assert!(
        s.hits_on("/secret").is_empty(),
        "the private address was never contacted"
    );
    assert_eq!(
        s.hits_on("/jump").len(),
        1,
        "the trusted [resolve] name was"
    );
    let c = rt.block_on(checker.check_url("http://localhost/x", LinkKind::Page));
    assert_eq!(
        (c.status, c.reason.map(|r| r.as_str())),
        (Status::Skipped, Some("private_address")),
        "{c:?}"
    );
    let allowed = Checker::new(&text("allow_private = true"), false, None).unwrap();
    let c = rt.block_on(allowed.check_url(&s.url("/secret"), LinkKind::Page));
    assert_eq!(c.status, Status::Ok);
}

#[test]
fn rate_limit_holds_at_the_server() {
    let s = TestServer::start();
    for i in 0..12 {
        s.route(&format!("/p{i}"), Reply::Status(200));
    }
    let (rate, burst) = (5.0, 2usize);
    let extra = format!("[check.hosts.\"a.test\"]\nrate_limit = {rate}\nburst = {burst}\n");
    let checker = Checker::new(&config(&s, &extra), false, None).unwrap();
    runtime().block_on(futures_util::future::join_all((0..12).map(|i| {
        let url = format!("http://a.test/p{i}");
        let checker = &checker;
        async move { checker.check_url(&url, LinkKind::Page).await }
    })));
    let mut times: Vec<Instant> = s.hits().iter().map(|h| h.at).collect();
    times.sort();
    assert_eq!(times.len(), 12);
    // GCRA: in any window shorter than one period, at most `burst` requests
    // beyond the one that opens it. Allow 40 ms of scheduling jitter.
    let period = Duration::from_secs_f64(1.0 / rate) - Duration::from_millis(40);
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..].iter().take_while(|u| **u - *t < period).count();
        assert!(
            in_window <= burst,
            "{in_window} requests within {period:?} at #{i}"
        );
    }
    let span = *times.last().unwrap() - times[0];
    let floor = Duration::from_secs_f64((12 - burst) as f64 / rate) - Duration::from_millis(150);
    assert!(
        span >= floor,
        "12 requests in {span:?}, expected at least {floor:?}"
    );
}
