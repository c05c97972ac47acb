//! Online, the network has the last word on static suspicions, repairs
//! come from the source page by file-name prefix (also on GBK pages), and
//! `[remap]` stays a transport detail (issue 8, points 2, 7 and 8). All
//! against the test's own server, host names mapped by `[resolve]`.

mod common;

use std::path::Path;

use common::server::{jpeg, png, Reply, TestServer};
use common::{assert_schema, check_json, document, fixture, links_of, repairs, run_online};
use serde_json::Value;

const SEED0: &str = "000_9f14297dde64cb40.txt";
const SOURCE0: &str = "/ywsd/system/2022/03/25/030050717.shtml";
const REBUILT: &str = "/pic/003/000/452/00300045245_41d76565.jpg";

/// A corpus folder with one document `name` holding `text`.
fn corpus(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(corpus.join(name), text).unwrap();
    corpus
}

/// A configuration checking `corpus` with a store in `dir`, plus `extra`.
fn config(corpus: &Path, dir: &Path, extra: &str) -> String {
    format!(
        "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 100.0\nburst = 20\nretry_backoff = 0.05\nmax_tries = 1\n[store]\npath = \"{}\"\n{extra}",
        corpus.display(),
        dir.join("store").display(),
    )
}

fn resolve(hosts: &[&str], s: &TestServer) -> String {
    let lines: String = hosts
        .iter()
        .map(|h| format!("\"{h}\" = \"127.0.0.1:{}\"\n", s.addr.port()))
        .collect();
    format!("[resolve]\n{lines}")
}

fn link<'a>(links: &[&'a Value], url: &str) -> &'a Value {
    links
        .iter()
        .find(|l| l["url"] == url)
        .unwrap_or_else(|| panic!("no link {url}"))
}

#[test]
fn suspected_links_are_fetched_and_the_network_decides() {
    let s = TestServer::start();
    s.route("/img/photo.jp", Reply::Ok("image/jpeg", jpeg(7)));
    s.route("/img/logo.pn", Reply::Ok("image/png", png()));
    s.route("/img/forbidden.jp", Reply::Status(403));
    // `/img/gone.pn` is not routed: 404.
    let healthy = "http://pic.example.net/img/photo.jp";
    let healthy_png = "http://pic.example.net/img/logo.pn";
    let gone = "http://pic.example.net/img/gone.pn";
    let undecided = "http://pic.example.net/img/forbidden.jp";
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "# 图片\n\n![a]({healthy})\n\n![b]({healthy_png})\n\n![c]({gone})\n\n![d]({undecided})\n"
    );
    let corpus = corpus(dir.path(), "doc.md", &text);

    // Offline, all four are suspected; remember why.
    let (_, offline) = check_json(&[&corpus.join("doc.md")]);
    let before = links_of(&offline, "doc.md");
    let static_reason = |url: &str| {
        let l = link(&before, url);
        assert_eq!(l["status"], "truncated", "{l}");
        assert!(l["static_reason"].is_null(), "offline: {l}");
        l["reason"].as_str().unwrap().to_string()
    };
    let reasons: Vec<String> = [healthy, healthy_png, gone, undecided]
        .iter()
        .map(|u| static_reason(u))
        .collect();

    let cfg = config(&corpus, dir.path(), &resolve(&["pic.example.net"], &s));
    let (code, r) = run_online(&cfg, dir.path(), false, vec![]);
    assert_schema(&r);
    let links = links_of(&r, "doc.md");

    for (url, reason) in [(healthy, &reasons[0]), (healthy_png, &reasons[1])] {
        let l = link(&links, url);
        assert_eq!(l["status"], "ok", "{l}");
        assert!(l["reason"].is_null(), "{l}");
        assert_eq!(l["static_reason"], reason.as_str(), "{l}");
        assert!(
            l["message"].as_str().unwrap().contains(reason.as_str()),
            "{l}"
        );
        let stored = dir
            .path()
            .join("store")
            .join(l["store"]["path"].as_str().unwrap());
        assert!(stored.is_file(), "archived at {}", stored.display());
        assert_eq!(
            std::fs::metadata(&stored).unwrap().len(),
            l["store"]["size"].as_u64().unwrap()
        );
    }
    assert_eq!(
        std::fs::read(
            dir.path()
                .join("store")
                .join(link(&links, healthy)["store"]["path"].as_str().unwrap())
        )
        .unwrap(),
        jpeg(7)
    );

    let l = link(&links, gone);
    assert_eq!(l["status"], "broken", "{l}");
    assert_eq!(l["reason"], "not_found");
    assert_eq!(l["static_reason"], reasons[2].as_str());
    assert_eq!(l["http"]["status_code"], 404);

    // A 403 says nothing about whether the URL is whole: the suspicion stands.
    let l = link(&links, undecided);
    assert_eq!(l["status"], "truncated", "{l}");
    assert_eq!(l["reason"], reasons[3].as_str());
    assert_eq!(l["static_reason"], reasons[3].as_str());
    assert_eq!(l["http"]["status_code"], 403);
    assert!(l["store"].is_null());

    for path in [
        "/img/photo.jp",
        "/img/logo.pn",
        "/img/gone.pn",
        "/img/forbidden.jp",
    ] {
        assert_eq!(s.hits_on(path).len(), 1, "{path} fetched once");
    }
    assert_eq!(code, 1, "a broken and a truncated link remain");
}

fn nankai(s: &TestServer) {
    s.route(
        SOURCE0,
        Reply::Ok(
            "text/html; charset=utf-8",
            format!("<html><body><p><img src=\"{REBUILT}\"></p></body></html>").into_bytes(),
        ),
    );
    s.route(REBUILT, Reply::Ok("image/jpeg", jpeg(9)));
}

#[test]
fn exploded_members_are_not_fetched_one_by_one() {
    let s = TestServer::start();
    nankai(&s);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("corpus")).unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::copy(fixture("seeds").join(SEED0), corpus.join(SEED0)).unwrap();
    let cfg = config(&corpus, dir.path(), &resolve(&["news.nankai.edu.cn"], &s));
    let (_, r) = run_online(&cfg, dir.path(), false, vec![]);
    let exploded: Vec<_> = links_of(&r, SEED0)
        .into_iter()
        .filter(|l| l["reason"] == "exploded_url")
        .collect();
    assert_eq!(exploded.len(), 66);
    for l in &exploded {
        assert_eq!(l["status"], "truncated");
        assert!(l["http"].is_null(), "not fetched: {l}");
        assert!(l["static_reason"].is_null());
    }
    let paths: Vec<String> = s.hits().into_iter().map(|h| h.path).collect();
    for member in ["/ywsd/system/2022/03/25/g", "/ywsd/system/2022/03/25/", "/"] {
        assert!(!paths.iter().any(|p| p == member), "{member} in {paths:?}");
    }
    assert!(
        paths.iter().all(|p| p == SOURCE0 || p == REBUILT),
        "only the source page and the rebuilt URL: {paths:?}"
    );
    assert_eq!(s.hits_on(REBUILT).len(), 1);
}

#[test]
fn remap_does_not_leak_into_the_report() {
    let s = TestServer::start();
    nankai(&s);
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    std::fs::copy(fixture("seeds").join(SEED0), corpus.join(SEED0)).unwrap();
    let extra = format!(
        "[remap]\n\"http://news.nankai.edu.cn/\" = \"http://127.0.0.1:{}/\"\n",
        s.addr.port()
    );
    let (_, r) = run_online(
        &config(&corpus, dir.path(), &extra),
        dir.path(),
        false,
        vec![],
    );
    assert!(!s.hits_on(SOURCE0).is_empty(), "the mirror was used");
    let rebuilt = format!("http://news.nankai.edu.cn{REBUILT}");
    let d = document(&r, SEED0);
    assert_eq!(d["found_on_source"], serde_json::json!([rebuilt]));
    let (finding, urls) = exploded_finding(&r);
    assert_eq!(urls, [rebuilt.as_str()], "offered once, as written");
    assert_eq!(finding["suggestions"][0]["status"], "ok");
    let port = format!(":{}", s.addr.port());
    for l in links_of(&r, SEED0) {
        for sug in repairs(&r, l).as_array().unwrap() {
            let u = sug["url"].as_str().unwrap();
            assert!(!u.contains("127.0.0.1") && !u.contains(&port), "{l}");
        }
        assert_eq!(
            repairs(&r, l)
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["url"] == rebuilt.as_str())
                .count(),
            if l["reason"] == "exploded_url" { 1 } else { 0 },
            "{l}"
        );
    }
    let source = links_of(&r, SEED0)
        .into_iter()
        .find(|l| l["kind"] == "source")
        .unwrap();
    assert_eq!(source["status"], "ok");
    assert_eq!(source["http"]["images"], serde_json::json!([rebuilt]));
}

/// A document with cut image links and its source page on
/// `news.example.cn`, served as `page` with `content_type`; returns the
/// document's links from an online run.
fn repair_run(doc: &str, page: Vec<u8>, content_type: &'static str) -> (Value, TestServer) {
    let s = TestServer::start();
    s.route("/a/2020/page.shtml", Reply::Ok(content_type, page));
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path(), "doc.md", doc);
    let cfg = config(&corpus, dir.path(), &resolve(&["news.example.cn"], &s));
    let (_, r) = run_online(&cfg, dir.path(), false, vec![]);
    (r, s)
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

/// The report's exploded-URL finding and the URLs it suggests, in order.
fn exploded_finding(r: &Value) -> (&Value, Vec<&str>) {
    let finding = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "exploded_url")
        .expect("an exploded-URL finding");
    let urls = finding["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap())
        .collect();
    (finding, urls)
}

fn found_on_source(l: &Value) -> Vec<String> {
    l["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["reason"] == "found_on_source")
        .map(|s| s["url"].as_str().unwrap().to_string())
        .collect()
}

const CUT_DOC: &str = "# 校园\n\n![总结](http://news.example.cn/pic/2020/summary.pn)\n\n![校园](http://news.example.cn/pic/2020/%E6%A0%A1%E5%9B%AD%E9%A3%8E)\n\n[原文链接](http://news.example.cn/a/2020/page.shtml)\n";

fn cut_page(meta: &str) -> Vec<u8> {
    gbk(&format!(
        "<html><head>{meta}<title>南开新闻网</title></head><body>\n\
         <p>去年的总结</p><img src=\"/pic/2019/summary.png\">\n\
         <p>今年的总结</p><img src=\"/pic/2020/summary.png\">\n\
         <p>校园风光</p><img src=\"/pic/2020/校园风光.jpg\">\n\
         <img src=\"/pic/2020/other.gif\">\n</body></html>"
    ))
}

fn assert_cut_repairs(r: &Value) {
    let links = links_of(r, "doc.md");
    let summary = link(&links, "http://news.example.cn/pic/2020/summary.pn");
    assert_eq!(
        summary["status"], "broken",
        "404 on the test server: {summary}"
    );
    assert_eq!(
        found_on_source(summary),
        ["http://news.example.cn/pic/2020/summary.png"],
        "the same folder first: {summary}"
    );
    let campus = link(
        &links,
        "http://news.example.cn/pic/2020/%E6%A0%A1%E5%9B%AD%E9%A3%8E",
    );
    assert_eq!(
        found_on_source(campus),
        ["http://news.example.cn/pic/2020/%E6%A0%A1%E5%9B%AD%E9%A3%8E%E5%85%89.jpg"],
        "{campus}"
    );
    assert_eq!(
        document(r, "doc.md")["found_on_source"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn cut_names_are_repaired_from_a_gbk_page_by_header() {
    let (r, _s) = repair_run(CUT_DOC, cut_page(""), "text/html; charset=gbk");
    assert_cut_repairs(&r);
}

#[test]
fn cut_names_are_repaired_from_a_gbk_page_by_meta() {
    let (r, _s) = repair_run(CUT_DOC, cut_page("<meta charset=\"gbk\">"), "text/html");
    assert_cut_repairs(&r);
}

/// "锟斤拷" in GBK is the bytes EF BF BD EF BF BD, which are also valid
/// UTF-8 (two U+FFFD): only the declared charset reads such a page right.
#[test]
fn declared_charset_beats_valid_utf8() {
    let doc = "![图](http://news.example.cn/pic/2020/%E9%94%9F%E6%96%A4%E6%8B%B7%E9%94%9F)\n\n![图](http://news.example.cn/pic/2020/x.jpg)\n\n[原文链接](http://news.example.cn/a/2020/page.shtml)\n";
    let page = gbk("<html><body><img src=\"/pic/2020/锟斤拷锟斤拷.jpg\"></body></html>");
    assert!(std::str::from_utf8(&page).is_ok());
    for (ct, meta_page) in [
        ("text/html; charset=GBK", page.clone()),
        (
            "text/html",
            gbk("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"></head><body><img src=\"/pic/2020/锟斤拷锟斤拷.jpg\"></body></html>"),
        ),
    ] {
        let (r, _s) = repair_run(doc, meta_page, ct);
        let links = links_of(&r, "doc.md");
        let l = link(
            &links,
            "http://news.example.cn/pic/2020/%E9%94%9F%E6%96%A4%E6%8B%B7%E9%94%9F",
        );
        assert_eq!(
            found_on_source(l),
            ["http://news.example.cn/pic/2020/%E9%94%9F%E6%96%A4%E6%8B%B7%E9%94%9F%E6%96%A4%E6%8B%B7.jpg"],
            "{ct}: {l}"
        );
    }
}

/// An exploded image whose rebuilt URL is itself cut (`…/summary.pn`) is
/// matched by its rebuilt name, not by one of its one-character links.
#[test]
fn exploded_run_with_a_cut_name_is_repaired_from_the_source_page() {
    let page = "http://news.example.cn/a/2020/page.shtml";
    let folder = "http://news.example.cn/a/2020/";
    let mut doc = String::from("# 校园\n\n");
    for c in "http://news.example.cn/pic/2020/summary.pn".chars() {
        let link = match c {
            '/' => "http://news.example.cn/".to_string(),
            '.' => folder.to_string(),
            c => format!("{folder}{c}"),
        };
        doc.push_str(&format!("![图]({link})\n"));
    }
    doc.push_str(&format!("\n[原文链接]({page})\n"));
    let (r, _s) = repair_run(&doc, cut_page(""), "text/html; charset=gbk");
    let (_, urls) = exploded_finding(&r);
    assert_eq!(
        urls,
        [
            "http://news.example.cn/pic/2020/summary.pn",
            "http://news.example.cn/pic/2020/summary.png"
        ],
        "the rebuilt URL, then the same folder's file on the source page"
    );
}
