//! Bodies sent with a `Content-Encoding` (issue 10): a gzip-encoded image
//! used to be archived as the compressed bytes, under a sha256 nobody
//! could match. Now it is stored decoded, a compression bomb stops at
//! `check.max_body_size` of inflated bytes, and an encoding archive does
//! not decode is refused clearly.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::server::{gzip, gzip_zeros, jpeg, Reply, TestServer};
use common::{run_online, walk};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks one image link per route, with the store in `dir`; returns the
/// links by path.
fn check(server: &TestServer, dir: &Path, paths: &[&str], extra: &str) -> Vec<Value> {
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let md: String = paths
        .iter()
        .map(|p| format!("![x](http://img.test{p})\n\n"))
        .collect();
    std::fs::write(corpus.join("a.md"), md).unwrap();
    let toml = format!(
        "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\nmax_tries = 1\n{extra}\n[store]\npath = \"{}\"\nmin_free_bytes = 0\n[resolve]\n\"img.test\" = \"127.0.0.1:{}\"\n",
        corpus.display(),
        dir.join("store").display(),
        server.addr.port()
    );
    let (_, report) = run_online(&toml, dir, true, Vec::new());
    paths
        .iter()
        .map(|p| {
            report["links"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["url"].as_str().unwrap().ends_with(p))
                .cloned()
                .unwrap()
        })
        .collect()
}

fn encoded(encoding: &'static str, body: Vec<u8>) -> Reply {
    Reply::Encoded {
        encoding,
        content_type: "image/jpeg",
        body: Arc::new(body),
    }
}

#[test]
fn a_gzip_encoded_image_is_stored_decoded() {
    let s = TestServer::start();
    let image = jpeg(9);
    let compressed = gzip(&image);
    assert_ne!(compressed, image);
    s.route("/g.jpg", encoded("gzip", compressed.clone()));
    s.route("/x.jpg", encoded("x-gzip", gzip(&jpeg(10))));
    let dir = tempfile::tempdir().unwrap();
    let links = check(&s, dir.path(), &["/g.jpg", "/x.jpg"], "");
    let l = &links[0];
    assert_eq!(l["status"], "ok", "{l}");
    assert_eq!(l["http"]["sniffed_type"], "image/jpeg", "{l}");
    assert_eq!(l["http"]["bytes_read"], compressed.len(), "{l}");
    assert_eq!(l["store"]["sha256"], hex(&image), "{l}");
    assert_eq!(l["store"]["size"], image.len(), "{l}");
    let object = dir
        .path()
        .join("store")
        .join(l["store"]["path"].as_str().unwrap());
    assert_eq!(
        std::fs::read(object).unwrap(),
        image,
        "the image, not the gzip"
    );
    assert_eq!(links[1]["store"]["sha256"], hex(&jpeg(10)), "{}", links[1]);
}

#[test]
fn a_gzip_bomb_stops_at_the_body_limit() {
    let s = TestServer::start();
    // 1 GiB of zeros, about 1 MB on the wire.
    s.route("/bomb.jpg", encoded("gzip", gzip_zeros(1 << 30)));
    let dir = tempfile::tempdir().unwrap();
    let links = check(&s, dir.path(), &["/bomb.jpg"], "max_body_size = 4000000");
    let l = &links[0];
    assert_eq!(l["status"], "skipped", "{l}");
    assert_eq!(l["reason"], "too_large", "{l}");
    assert!(l["message"].as_str().unwrap().contains("inflates"), "{l}");
    assert!(l["store"].is_null(), "{l}");
    assert!(walk(&dir.path().join("store/sha256")).is_empty());
    assert!(walk(&dir.path().join("store/tmp")).is_empty());
}

#[test]
fn an_encoding_archive_does_not_decode_is_refused_clearly() {
    let s = TestServer::start();
    s.route("/br.jpg", encoded("br", jpeg(4)));
    let mut cut = gzip(&jpeg(5));
    cut.truncate(cut.len() / 2);
    s.route("/cut.jpg", encoded("gzip", cut));
    s.route("/junk.jpg", encoded("gzip", jpeg(6)));
    let dir = tempfile::tempdir().unwrap();
    let links = check(&s, dir.path(), &["/br.jpg", "/cut.jpg", "/junk.jpg"], "");
    assert_eq!(links[0]["status"], "skipped", "{}", links[0]);
    assert_eq!(links[0]["reason"], "unsupported_encoding", "{}", links[0]);
    assert!(links[0]["message"].as_str().unwrap().contains("`br`"));
    for l in &links[1..] {
        assert_eq!(l["status"], "broken", "{l}");
        assert_eq!(l["reason"], "bad_encoding", "{l}");
    }
    assert!(walk(&dir.path().join("store/sha256")).is_empty());
}
