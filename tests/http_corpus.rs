//! The seed corpus checked online against a local server that plays
//! `news.nankai.edu.cn` (reached through the `[resolve]` setting): real
//! images, the source pages, and the exploded URL's repair.

mod common;

use std::path::Path;

use common::server::{nankai, TestServer, NANKAI_REBUILT as REBUILT};
use common::{assert_schema, document, fixture, links_of, repairs, run_online};
use serde_json::Value;

fn run(s: &TestServer, dir: &Path, no_cache: bool) -> (i32, Value) {
    let text = format!(
        "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 100.0\nburst = 20\nretry_backoff = 0.05\n[store]\npath = \"{}\"\n[resolve]\n\"news.nankai.edu.cn\" = \"127.0.0.1:{}\"\n",
        fixture("seeds").display(),
        dir.join("store").display(),
        s.addr.port()
    );
    run_online(&text, dir, no_cache, Vec::new())
}

#[test]
fn seed_corpus_online() {
    let s = nankai();
    let dir = tempfile::tempdir().unwrap();
    let (code, r) = run(&s, dir.path(), false);
    assert_eq!(code, 1, "the exploded run is still truncated");
    assert_eq!(r["mode"], "online");
    let l1 = links_of(&r, "001_2f62085cd5636d82.txt");
    let images: Vec<_> = l1.iter().filter(|l| l["kind"] == "image").collect();
    assert_eq!(images.len(), 3);
    for l in &images {
        assert_eq!(l["status"], "ok", "{l}");
        assert_eq!(l["http"]["sniffed_type"], "image/jpeg");
    }
    let d1 = document(&r, "001_2f62085cd5636d82.txt");
    assert_eq!(d1["found_on_source"].as_array().unwrap().len(), 3);

    let rebuilt = format!("http://news.nankai.edu.cn{REBUILT}");
    let l0 = links_of(&r, "000_9f14297dde64cb40.txt");
    let exploded: Vec<_> = l0
        .iter()
        .filter(|l| l["reason"] == "exploded_url")
        .collect();
    assert_eq!(exploded.len(), 66);
    for l in &exploded {
        assert_eq!(l["status"], "truncated");
        assert_eq!(repairs(&r, l)[0]["url"], rebuilt.as_str());
        assert_eq!(repairs(&r, l)[0]["status"], "ok", "the repair works");
    }
    let finding = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "exploded_url")
        .unwrap();
    assert_eq!(finding["suggestions"][0]["status"], "ok");
    let d0 = document(&r, "000_9f14297dde64cb40.txt");
    assert_eq!(d0["found_on_source"], serde_json::json!([rebuilt]));
    let source = l0.iter().find(|l| l["kind"] == "source").unwrap();
    assert_eq!(source["status"], "ok");
    // The single-character links were never fetched: they are known broken.
    assert!(
        s.hits().iter().all(|h| h.path.len() > 28),
        "{:?}",
        s.hits().iter().map(|h| &h.path).collect::<Vec<_>>()
    );
    assert_eq!(
        s.hits_on(REBUILT).len(),
        1,
        "fetched once, however many links suggest it"
    );

    // Schema still holds for an online report.
    assert_schema(&r);

    // A second run within cache_max_age sends no request at all.
    let before = s.hits().len();
    let (_, again) = run(&s, dir.path(), false);
    assert_eq!(s.hits().len(), before, "cached: no new requests");
    let cached = links_of(&again, "001_2f62085cd5636d82.txt");
    assert!(cached
        .iter()
        .filter(|l| l["kind"] == "image")
        .all(|l| l["status"] == "ok" && l["http"]["from_cache"] == true));
    assert_eq!(
        document(&again, "000_9f14297dde64cb40.txt")["found_on_source"],
        serde_json::json!([rebuilt])
    );

    // --no-cache checks everything again.
    run(&s, dir.path(), true);
    assert!(
        s.hits().len() >= before * 2 - 1,
        "{} then {}",
        before,
        s.hits().len()
    );
}
