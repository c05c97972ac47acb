//! An online report keeps the schema's index promises when documents finish
//! out of order: `documents[i].id == i`, `links[j].id == j`,
//! `findings[k].id == k`, every `document` field names the document the
//! link or finding came from, and documents appear in corpus order.
//!
//! The early documents link images the test server sends slowly, the later
//! ones images it sends at once, so the later documents finish first.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::run_online;
use common::server::{jpeg, Reply, TestServer};
use serde_json::Value;

/// Documents in the corpus, and how many of the first ones are slow.
const DOCUMENTS: usize = 30;
const SLOW: usize = 8;

fn name(i: usize) -> String {
    format!("doc{i:02}")
}

/// Writes the corpus: document `i` links its own image twice (a
/// `duplicate` finding) and a page; every fifth one has no links at all.
fn corpus(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..DOCUMENTS {
        let n = name(i);
        let host = if i < SLOW { "slow.test" } else { "fast.test" };
        let body = if i % 5 == 4 {
            "Nothing to check here.\n".to_string()
        } else {
            format!(
                "![a](http://{host}/img/{n}.jpg)\n\n[page](http://fast.test/page/{n}.html)\n\n![again](http://{host}/img/{n}.jpg)\n"
            )
        };
        std::fs::write(dir.join(format!("{n}.md")), body).unwrap();
    }
}

fn server() -> TestServer {
    let s = TestServer::start();
    for i in 0..DOCUMENTS {
        let n = name(i);
        let image = jpeg(i as u8);
        let reply = if i < SLOW {
            // About a second per image, whatever the method.
            Reply::Slow {
                chunk: image.len() / 8 + 1,
                body: Arc::new(image),
                interval: Duration::from_millis(120),
            }
        } else {
            Reply::Ok("image/jpeg", image)
        };
        s.route(&format!("/img/{n}.jpg"), reply);
        s.route(
            &format!("/page/{n}.html"),
            Reply::Ok("text/html", b"<html><body>page</body></html>".to_vec()),
        );
    }
    s
}

/// The document name (`docNN`) a link's URL points at.
fn named_in(url: &str) -> String {
    let file = url.rsplit('/').next().unwrap();
    file.split('.').next().unwrap().to_string()
}

fn array<'a>(r: &'a Value, key: &str) -> &'a Vec<Value> {
    r[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} array"))
}

#[test]
fn online_report_ids_are_indexes_in_corpus_order() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("corpus");
    corpus(&docs);
    let port = s.addr.port();
    let toml = format!(
        "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\nper_host_concurrency = 16\nretry_backoff = 0.05\n[store]\npath = \"{}\"\n[resolve]\n\"slow.test\" = \"127.0.0.1:{port}\"\n\"fast.test\" = \"127.0.0.1:{port}\"\n",
        docs.display(),
        dir.path().join("store").display(),
    );
    let (code, r) = run_online(&toml, dir.path(), true, Vec::new());
    assert_eq!(code, 0, "every link is fine: {}", r["summary"]);

    // The slow images really did hold their documents back: the last slow
    // image was still being sent after the first fast one was requested.
    let hits = s.hits();
    let first_fast = hits
        .iter()
        .filter(|h| h.host.starts_with("fast.test") && h.path.starts_with("/img/"))
        .map(|h| h.at)
        .min()
        .expect("fast images requested");
    let last_slow = hits
        .iter()
        .filter(|h| h.host.starts_with("slow.test"))
        .map(|h| h.at)
        .max()
        .expect("slow images requested");
    assert!(
        last_slow + Duration::from_millis(500) > first_fast,
        "the run did not overlap slow and fast documents; the test proves nothing"
    );

    let documents = array(&r, "documents");
    assert_eq!(documents.len(), DOCUMENTS);
    for (i, d) in documents.iter().enumerate() {
        assert_eq!(d["id"], i, "documents[{i}].id: {d}");
        let path = d["path"].as_str().unwrap();
        assert!(
            path.ends_with(&format!("{}.md", name(i))),
            "documents[{i}] is {path}: not in corpus order"
        );
    }

    let links = array(&r, "links");
    let mut per_document = vec![0usize; DOCUMENTS];
    let mut last_document = 0;
    for (j, l) in links.iter().enumerate() {
        assert_eq!(l["id"], j, "links[{j}].id: {l}");
        let doc = l["document"].as_u64().unwrap() as usize;
        assert!(
            doc >= last_document,
            "links[{j}] goes back to document {doc}"
        );
        last_document = doc;
        assert_eq!(
            named_in(l["url"].as_str().unwrap()),
            name(doc),
            "links[{j}] ({}) says it is in documents[{doc}]",
            l["url"]
        );
        assert_eq!(l["status"], "ok", "{l}");
        if let Some(first) = l["duplicate_of"].as_u64() {
            let first = &links[first as usize];
            assert_eq!(first["url"], l["url"], "links[{j}].duplicate_of");
            assert_eq!(first["document"], l["document"]);
        }
        per_document[doc] += 1;
    }
    for (i, d) in documents.iter().enumerate() {
        assert_eq!(d["links"], per_document[i], "documents[{i}].links");
        let expected = if i % 5 == 4 { 0 } else { 3 };
        assert_eq!(per_document[i], expected, "links of documents[{i}]");
    }

    let findings = array(&r, "findings");
    assert_eq!(
        findings.len(),
        DOCUMENTS - DOCUMENTS / 5,
        "one duplicate per document with links"
    );
    for (k, f) in findings.iter().enumerate() {
        assert_eq!(f["id"], k, "findings[{k}].id: {f}");
        assert_eq!(f["kind"], "duplicate");
        let doc = f["document"].as_u64().unwrap() as usize;
        let members = f["links"].as_array().unwrap();
        assert_eq!(members.len(), 2, "{f}");
        for m in members {
            let link = &links[m.as_u64().unwrap() as usize];
            assert_eq!(link["document"], doc, "findings[{k}] member {link}");
            assert_eq!(named_in(link["url"].as_str().unwrap()), name(doc));
        }
    }
}

/// Crawl mode numbers pages as it emits them, in the order it took them
/// from its frontier (breadth first, links in page order), even when the
/// first pages' images are the slow ones.
#[test]
fn crawl_report_ids_are_indexes_in_frontier_order() {
    const PAGES: usize = 12;
    let s = TestServer::start();
    let list: String = (0..PAGES)
        .map(|i| format!("<a href=\"/p/p{i:02}.html\">{i}</a>\n"))
        .collect();
    let html = |body: &str| {
        Reply::Ok(
            "text/html",
            format!("<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>")
                .into_bytes(),
        )
    };
    s.route_on("site.test", "/", html(&list));
    for i in 0..PAGES {
        let host = if i < 4 { "slow.test" } else { "fast.test" };
        s.route_on(
            "site.test",
            &format!("/p/p{i:02}.html"),
            html(&format!("<img src=\"http://{host}/img/p{i:02}.jpg\">")),
        );
        let image = jpeg(i as u8);
        let reply = if i < 4 {
            Reply::Slow {
                chunk: image.len() / 8 + 1,
                body: Arc::new(image),
                interval: Duration::from_millis(100),
            }
        } else {
            Reply::Ok("image/jpeg", image)
        };
        s.route(&format!("/img/p{i:02}.jpg"), reply);
    }
    let dir = tempfile::tempdir().unwrap();
    let port = s.addr.port();
    let toml = format!(
        "[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\nper_host_concurrency = 16\nretry_backoff = 0.05\n[crawl]\nmax_depth = 1\nrobots = false\n[store]\npath = \"{}\"\n[resolve]\n\"site.test\" = \"127.0.0.1:{port}\"\n\"slow.test\" = \"127.0.0.1:{port}\"\n\"fast.test\" = \"127.0.0.1:{port}\"\n",
        dir.path().join("store").display(),
    );
    let seed = url::Url::parse("http://site.test/").unwrap();
    let (code, r) = run_online(&toml, dir.path(), true, vec![seed]);
    assert_eq!(code, 0, "every link is fine: {}", r["summary"]);

    let documents = array(&r, "documents");
    assert_eq!(documents.len(), PAGES + 1);
    assert_eq!(documents[0]["path"], "http://site.test/");
    for (i, d) in documents.iter().enumerate() {
        assert_eq!(d["id"], i, "documents[{i}].id: {d}");
        if i > 0 {
            assert_eq!(
                d["path"],
                format!("http://site.test/p/p{:02}.html", i - 1),
                "documents[{i}] out of frontier order"
            );
        }
    }
    let links = array(&r, "links");
    assert_eq!(links.len(), 2 * PAGES);
    for (j, l) in links.iter().enumerate() {
        assert_eq!(l["id"], j, "links[{j}].id: {l}");
        let doc = l["document"].as_u64().unwrap() as usize;
        let url = l["url"].as_str().unwrap();
        if l["kind"] == "image" {
            let page = documents[doc]["path"].as_str().unwrap();
            assert_eq!(
                named_in(page),
                named_in(url),
                "links[{j}] ({url}) says it is on {page}"
            );
        } else {
            assert_eq!(doc, 0, "links[{j}] ({url}) is on the seed page");
        }
    }
}

/// The crawl streams: a slow page holds one of the page slots, not the
/// whole crawl. With batches of 8 pages, the 9th page was asked for only
/// once the slow first one had finished; now it is asked for while the
/// slow one is still being sent (order at the server, not a timing bound
/// on archive), and the report still lists pages in frontier order.
#[test]
fn crawl_does_not_wait_for_a_slow_page_before_fetching_the_next() {
    const PAGES: usize = 12;
    let s = TestServer::start();
    let list: String = (0..PAGES)
        .map(|i| format!("<a href=\"/p/p{i:02}.html\">{i}</a>\n"))
        .collect();
    let page = |body: &str| {
        format!("<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>")
            .into_bytes()
    };
    s.route_on("site.test", "/", Reply::Ok("text/html", page(&list)));
    // The first page takes about 2 s to send.
    let slow = page(&"<p>slow</p>".repeat(200));
    s.route_on(
        "site.test",
        "/p/p00.html",
        Reply::Slow {
            chunk: slow.len() / 20 + 1,
            body: Arc::new(slow),
            interval: Duration::from_millis(100),
        },
    );
    for i in 1..PAGES {
        s.route_on(
            "site.test",
            &format!("/p/p{i:02}.html"),
            Reply::Ok("text/html", page("<p>fast</p>")),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\nper_host_concurrency = 16\n[crawl]\nmax_depth = 1\nrobots = false\n[store]\npath = \"{}\"\n[resolve]\n\"site.test\" = \"127.0.0.1:{}\"\n",
        dir.path().join("store").display(),
        s.addr.port()
    );
    let seed = url::Url::parse("http://site.test/").unwrap();
    let (code, r) = run_online(&toml, dir.path(), true, vec![seed]);
    assert_eq!(code, 0, "{}", r["summary"]);
    let first = |path: &str| s.hits_on(path).first().map(|h| h.at).expect(path);
    let slow_started = first("/p/p00.html");
    let last_asked = first(&format!("/p/p{:02}.html", PAGES - 1));
    assert!(
        last_asked < slow_started + Duration::from_millis(1500),
        "the last page was asked for {:?} after the slow one started: a batch barrier",
        last_asked - slow_started
    );
    let documents = array(&r, "documents");
    assert_eq!(documents.len(), PAGES + 1);
    for (i, d) in documents.iter().enumerate().skip(1) {
        assert_eq!(d["path"], format!("http://site.test/p/p{:02}.html", i - 1));
    }
}
