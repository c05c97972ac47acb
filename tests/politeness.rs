//! Politeness holds for every request (issue 10, point 2): with a host
//! limited to 2 requests per second and a burst of 1, the test server's
//! arrival log shows every kind of request `archive` makes (a download,
//! a HEAD check, a HEAD refused and sent again as GET, a retry after a
//! 503, the source page, the check of a suggestion found on it, robots.txt
//! and crawled pages) spaced by the limit. And one host that asks us to
//! pause does not starve the others, nor hold the run beyond
//! `check.max_host_wait`.

mod common;

use std::time::{Duration, Instant};

use common::run_online;
use common::server::{jpeg, Reply, TestServer};
use serde_json::Value;

/// Gaps under this between two requests to one host break a 2/s limit
/// (500 ms a token), allowing for connection set-up jitter on loopback.
const MIN_GAP: Duration = Duration::from_millis(400);

fn html(body: &str) -> Reply {
    Reply::Ok(
        "text/html",
        format!("<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>")
            .into_bytes(),
    )
}

/// Asserts that the requests for `host` among the server's hits from
/// `from` on (one run's) are spaced by the limit; returns them.
fn assert_spaced(server: &TestServer, from: usize, host: &str) -> Vec<String> {
    let hits: Vec<_> = server.hits()[from..]
        .iter()
        .filter(|h| h.host == host)
        .cloned()
        .collect();
    let mut at: Vec<(Instant, String)> = hits
        .iter()
        .map(|h| (h.at, format!("{} {}", h.method, h.path)))
        .collect();
    at.sort();
    for pair in at.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap >= MIN_GAP,
            "{} then {} only {gap:?} apart: {at:#?}",
            pair[0].1,
            pair[1].1
        );
    }
    at.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn every_request_kind_passes_the_host_gate() {
    let s = TestServer::start();
    s.route_on("site.test", "/img/ok.jpg", Reply::Ok("image/jpeg", jpeg(1)));
    s.route_on(
        "site.test",
        "/img/broke.jpg",
        Reply::Ok("image/jpeg", jpeg(2)),
    );
    s.route_on("site.test", "/page.html", html("page"));
    s.route_on(
        "site.test",
        "/nohead.html",
        Reply::NoHead(Box::new(html("x"))),
    );
    s.route_on(
        "site.test",
        "/img/retry.jpg",
        Reply::FailFirst {
            n: 1,
            status: 503,
            retry_after: None,
            then: Box::new(Reply::Ok("image/jpeg", jpeg(3))),
        },
    );
    s.route_on(
        "site.test",
        "/news/page.shtml",
        html("<img src=\"/img/ok.jpg\"><img src=\"/img/broke.jpg\"><img src=\"/img/retry.jpg\">"),
    );
    s.route_on(
        "site.test",
        "/robots.txt",
        Reply::Ok("text/plain", b"User-agent: *\nAllow: /\n".to_vec()),
    );
    s.route_on(
        "site.test",
        "/",
        html("<a href=\"/c1.html\">1</a><a href=\"/c2.html\">2</a>"),
    );
    s.route_on("site.test", "/c1.html", html("one"));
    s.route_on("site.test", "/c2.html", html("two"));
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(
        corpus.join("a.md"),
        "---\ntitle: a\nsource: http://site.test/news/page.shtml\n---\n\
         ![x](http://site.test/img/ok.jpg)\n\n\
         ![y](http://site.test/img/gone.jpg)\n\n\
         ![z](http://site.test/img/retry.jpg)\n\n\
         [p](http://site.test/page.html) [q](http://site.test/nohead.html)\n",
    )
    .unwrap();
    let toml = format!(
        "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 2.0\nburst = 1\nretry_backoff = 0.05\n[crawl]\nmax_depth = 1\n[store]\npath = \"{}\"\n[resolve]\n\"site.test\" = \"127.0.0.1:{}\"\n",
        corpus.display(),
        dir.path().join("store").display(),
        s.addr.port()
    );
    let (_, report) = run_online(&toml, dir.path(), true, Vec::new());
    // The broken image gets suggestions from the source page, checked.
    let gone = report["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["url"] == "http://site.test/img/gone.jpg")
        .unwrap();
    assert_eq!(gone["status"], "broken", "{gone}");
    // Each run has its own gates: the spacing holds within a run.
    let checked = s.hits().len();
    let mut requests = assert_spaced(&s, 0, "site.test");
    let seed = url::Url::parse("http://site.test/").unwrap();
    let (code, _) = run_online(&toml, dir.path(), true, vec![seed]);
    assert_eq!(code, 0);
    requests.extend(assert_spaced(&s, checked, "site.test"));
    for kind in [
        "GET /img/ok.jpg",
        "GET /img/gone.jpg",
        "HEAD /page.html",
        "HEAD /nohead.html",
        "GET /nohead.html",
        "GET /news/page.shtml",
        "GET /robots.txt",
        "GET /",
        "GET /c1.html",
    ] {
        assert!(
            requests.iter().any(|r| r == kind),
            "no {kind}: {requests:#?}"
        );
    }
    let retried = requests
        .iter()
        .filter(|r| *r == "GET /img/retry.jpg")
        .count();
    assert!(retried >= 2, "the 503 was retried: {requests:#?}");
    let suggested: Vec<&Value> = gone["suggestions"].as_array().unwrap().iter().collect();
    assert!(
        suggested.iter().any(|s| s["status"].is_string()),
        "a suggestion was checked: {gone}"
    );
}

/// A corpus of `busy` links on busy.test, each answered 429 with
/// `Retry-After: retry_after`, then three on calm.test; `check` goes into
/// `[check]`. Returns the exit code, the report, and when each host was
/// first asked.
fn paused_host_run(busy: usize, retry_after: &'static str, check: &str) -> (i32, Value, Duration) {
    let s = TestServer::start();
    for i in 0..busy {
        s.route_on(
            "busy.test",
            &format!("/busy/{i}.jpg"),
            Reply::FailFirst {
                n: 1000,
                status: 429,
                retry_after: Some(retry_after),
                then: Box::new(Reply::Status(200)),
            },
        );
    }
    for i in 0..3 {
        s.route_on(
            "calm.test",
            &format!("/calm/{i}.jpg"),
            Reply::Ok("image/jpeg", jpeg(i)),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let busy_links: String = (0..busy)
        .map(|i| format!("![b](http://busy.test/busy/{i}.jpg)\n\n"))
        .collect();
    std::fs::write(corpus.join("a.md"), busy_links).unwrap();
    let calm_links: String = (0..3)
        .map(|i| format!("![c](http://calm.test/calm/{i}.jpg)\n\n"))
        .collect();
    std::fs::write(corpus.join("b.md"), calm_links).unwrap();
    let toml = format!(
        "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\nconcurrency = 2\n{check}\n[store]\npath = \"{}\"\n[resolve]\n\"busy.test\" = \"127.0.0.1:{port}\"\n\"calm.test\" = \"127.0.0.1:{port}\"\n",
        corpus.display(),
        dir.path().join("store").display(),
        port = s.addr.port()
    );
    let (code, report) = run_online(&toml, dir.path(), true, Vec::new());
    let first = |host: &str| {
        s.hits()
            .into_iter()
            .filter(|h| h.host == host)
            .map(|h| h.at)
            .min()
    };
    let (busy_first, calm_first) = (first("busy.test").unwrap(), first("calm.test").unwrap());
    (
        code,
        report,
        calm_first.saturating_duration_since(busy_first),
    )
}

#[test]
fn a_paused_host_does_not_starve_the_others() {
    // One request at a time to busy.test, two in all: while busy.test's
    // requests wait out its pauses, calm.test must still get a slot.
    let (_, report, calm_after) =
        paused_host_run(3, "2", "per_host_concurrency = 1\nmax_tries = 1");
    assert!(
        calm_after < Duration::from_millis(1500),
        "calm.test first asked {calm_after:?} after busy.test: starved"
    );
    for l in report["links"].as_array().unwrap() {
        if l["url"].as_str().unwrap().contains("calm.test") {
            assert_eq!(l["status"], "ok", "{l}");
        }
    }
}

#[test]
fn a_host_that_keeps_asking_to_wait_does_not_hold_the_run() {
    let started = Instant::now();
    let (code, report, _) =
        paused_host_run(12, "30", "per_host_concurrency = 2\nmax_host_wait = 2.0");
    let took = started.elapsed();
    // Bounded by max_host_wait, not by 12 × Retry-After: 30.
    assert!(took < Duration::from_secs(25), "the run took {took:?}");
    assert_eq!(
        code, 0,
        "an impatient host is not link rot: {}",
        report["summary"]
    );
    for l in report["links"].as_array().unwrap() {
        let url = l["url"].as_str().unwrap();
        if url.contains("busy.test") {
            assert_eq!(l["status"], "error", "{l}");
            assert_eq!(l["reason"], "host_wait_exceeded", "{l}");
        } else {
            assert_eq!(l["status"], "ok", "{l}");
        }
    }
}

/// A pause a host asked for outlives the process (issue 10: per-host state
/// survives): the next run, a new process with the same state database,
/// sends that host nothing while the pause lasts, and the other host is
/// checked as usual.
#[test]
fn a_pause_outlives_the_process() {
    let s = TestServer::start();
    s.route_on(
        "busy.test",
        "/b.jpg",
        Reply::FailFirst {
            n: 1000,
            status: 429,
            retry_after: Some("60"),
            then: Box::new(Reply::Status(200)),
        },
    );
    s.route_on("calm.test", "/c.jpg", Reply::Ok("image/jpeg", jpeg(9)));
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(
        corpus.join("a.md"),
        "![b](http://busy.test/b.jpg)\n\n![c](http://calm.test/c.jpg)\n",
    )
    .unwrap();
    let toml = format!(
        "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\nmax_host_wait = 5.0\n[store]\npath = \"{}\"\n[resolve]\n\"busy.test\" = \"127.0.0.1:{port}\"\n\"calm.test\" = \"127.0.0.1:{port}\"\n",
        corpus.display(),
        dir.path().join("store").display(),
        port = s.addr.port()
    );
    let busy_hits = || {
        s.hits()
            .into_iter()
            .filter(|h| h.host == "busy.test")
            .count()
    };
    let calm_hits = || {
        s.hits()
            .into_iter()
            .filter(|h| h.host == "calm.test")
            .count()
    };
    let (_, first) = run_online(&toml, dir.path(), true, Vec::new());
    assert_eq!(busy_hits(), 1, "one request, then a 60 s pause");
    let busy = |r: &Value| {
        r["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["url"] == "http://busy.test/b.jpg")
            .cloned()
            .unwrap()
    };
    assert_eq!(
        busy(&first)["reason"],
        "host_wait_exceeded",
        "{}",
        busy(&first)
    );
    let calm_before = calm_hits();
    let (code, second) = run_online(&toml, dir.path(), true, Vec::new());
    assert_eq!(
        busy_hits(),
        1,
        "the paused host was asked again by the next process"
    );
    assert!(
        calm_hits() > calm_before,
        "the other host is checked as usual"
    );
    assert_eq!(busy(&second)["status"], "error", "{}", busy(&second));
    assert_eq!(busy(&second)["reason"], "host_wait_exceeded");
    assert_eq!(code, 0);
}

/// `check.cache_max_age = 0` means no cache: a second run within the same
/// second asks the server again. Found by the hostile-user pass (the
/// first run's results were reused: `now - checked_at <= 0`).
#[test]
fn a_cache_age_of_zero_checks_again_at_once() {
    let s = TestServer::start();
    s.route_on("img.test", "/a.jpg", Reply::Ok("image/jpeg", jpeg(4)));
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(corpus.join("a.md"), "![a](http://img.test/a.jpg)\n").unwrap();
    let toml = format!(
        "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\ncache_max_age = 0\n[store]\npath = \"{}\"\n[resolve]\n\"img.test\" = \"127.0.0.1:{}\"\n",
        corpus.display(),
        dir.path().join("store").display(),
        s.addr.port()
    );
    // The cache is in use (no_cache = false); only its age says no.
    for run in 1..=3 {
        run_online(&toml, dir.path(), false, Vec::new());
        assert_eq!(s.hits_on("/a.jpg").len(), run, "run {run} asked the server");
    }
}
