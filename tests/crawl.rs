//! Crawl mode against a local site: links followed within scope and depth,
//! robots.txt obeyed, images checked like a corpus's.

mod common;

use std::path::Path;

use common::server::{jpeg, Reply, TestServer};
use common::{document, run_online};
use serde_json::Value;

fn html(body: &str) -> Reply {
    Reply::Ok(
        "text/html",
        format!("<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>")
            .into_bytes(),
    )
}

fn crawl(s: &TestServer, dir: &Path, extra: &str) -> Value {
    let text = format!(
        "[check]\nallow_private = true\nrate_limit = 100.0\nburst = 20\nretry_backoff = 0.05\n[crawl]\nmax_depth = 1\n{extra}\n[store]\npath = \"{}\"\n[resolve]\n\"site.test\" = \"127.0.0.1:{}\"\n\"other.test\" = \"127.0.0.1:{}\"\n",
        dir.join("store").display(),
        s.addr.port(),
        s.addr.port()
    );
    run_online(
        &text,
        dir,
        true,
        vec![url::Url::parse("http://site.test/").unwrap()],
    )
    .1
}

fn site() -> TestServer {
    let s = TestServer::start();
    s.route(
        "/robots.txt",
        Reply::Ok(
            "text/plain",
            b"User-agent: *\nDisallow: /private/\n".to_vec(),
        ),
    );
    s.route_on("site.test", "/", html(r#"<img src="/home.jpg"><a href="/a.html">a</a> <a href="/private/p.html">p</a> <a href="http://other.test/o.html">o</a> <a href="/a.html#top">again</a>"#));
    s.route_on(
        "site.test",
        "/a.html",
        html(r#"<img src="/a.jpg"><img src="/missing.jpg"><a href="/deep.html">deeper</a>"#),
    );
    s.route_on("site.test", "/deep.html", html("<p>too deep</p>"));
    s.route_on("site.test", "/private/p.html", html("<p>secret</p>"));
    s.route_on("site.test", "/home.jpg", Reply::Ok("image/jpeg", jpeg(1)));
    s.route_on("site.test", "/a.jpg", Reply::Ok("image/jpeg", jpeg(2)));
    s.route_on("other.test", "/o.html", html("<p>elsewhere</p>"));
    s
}

#[test]
fn crawl_follows_scope_depth_and_robots() {
    let s = site();
    let dir = tempfile::tempdir().unwrap();
    let r = crawl(&s, dir.path(), "");
    let paths: Vec<&str> = r["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["http://site.test/", "http://site.test/a.html"]);
    // Links on crawled pages are checked (HEAD) like any link; only the
    // crawl itself (GET of the page) obeys depth and robots.txt.
    let gets = |p: &str| s.hits_on(p).iter().filter(|h| h.method == "GET").count();
    assert_eq!(gets("/deep.html"), 0, "depth 2 is beyond max_depth 1");
    assert_eq!(gets("/private/p.html"), 0, "robots.txt disallows /private/");
    assert_eq!(
        s.hits_on("/robots.txt").len(),
        1,
        "robots.txt fetched once per host"
    );
    assert_eq!(
        s.hits_on("/a.html")
            .iter()
            .filter(|h| h.method == "GET")
            .count(),
        1,
        "the #top variant is the same page"
    );
    assert!(
        s.hits_on("/o.html").iter().all(|h| h.method == "HEAD"),
        "other hosts are checked, not crawled"
    );
    let links = r["links"].as_array().unwrap();
    let status = |u: &str| {
        links
            .iter()
            .find(|l| l["resolved"] == u)
            .map(|l| l["status"].clone())
            .unwrap()
    };
    assert_eq!(status("http://site.test/home.jpg"), "ok");
    assert_eq!(status("http://site.test/a.jpg"), "ok");
    assert_eq!(status("http://site.test/missing.jpg"), "broken");
    assert_eq!(
        document(&r, "a.html")["base_url"],
        "http://site.test/a.html"
    );
    for h in s.hits() {
        let ua = h
            .headers
            .iter()
            .find(|(k, _)| k == "user-agent")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        assert!(ua.starts_with("archive/") && ua.contains("+http"), "{ua}");
    }
}

#[test]
fn robots_can_be_ignored_and_max_pages_holds() {
    let s = site();
    let dir = tempfile::tempdir().unwrap();
    let r = crawl(&s, dir.path(), "robots = false\nmax_pages = 2");
    assert!(s.hits_on("/robots.txt").is_empty());
    assert_eq!(r["documents"].as_array().unwrap().len(), 2);
}
