//! The media store end to end: what is archived, deduplicated, verified,
//! re-downloaded, and what survives `kill -9`. Runs the real binary
//! against a local server; host names go through `[resolve]`.

mod common;

use common::config::{archive_command, write_config, ConfigParts};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::server::{jpeg, Reply, TestServer};
use common::{fixture, links_of, walk};
use serde_json::Value;

/// A temp folder with a config pointing at `corpus`, the store and the
/// report inside it, and `hosts` resolved to the server.
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn new(server: &TestServer, corpus: &Path, extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let parts = ConfigParts {
            check: extra,
            ..ConfigParts::default()
        };
        let config = write_config(dir.path(), corpus, server.addr.port(), &parts);
        Setup { dir, config }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn run(&self, args: &[&str]) -> (i32, String) {
        let out = archive_command(&self.config, args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    }

    fn check(&self) -> Value {
        let (code, _) = self.run(&["--check", "--format", "text"]);
        assert!(code == 0 || code == 1, "check exit code {code}");
        serde_json::from_str(&std::fs::read_to_string(self.dir.path().join("report.json")).unwrap())
            .unwrap()
    }

    /// Every object file under sha256/: (name, path).
    fn objects(&self) -> Vec<(String, PathBuf)> {
        let mut v: Vec<_> = walk(&self.store().join("sha256"))
            .into_iter()
            .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), p))
            .collect();
        v.sort();
        v
    }
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum (coreutils)");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn nankai() -> TestServer {
    let s = TestServer::start();
    let page = |imgs: &[&str]| {
        let tags: String = imgs.iter().map(|i| format!("<img src=\"{i}\">")).collect();
        Reply::Ok(
            "text/html",
            format!("<!DOCTYPE html><html><body>{tags}</body></html>").into_bytes(),
        )
    };
    let rebuilt = "/pic/003/000/452/00300045245_41d76565.jpg";
    let three = [
        "/pic/003/000/281/00300028124_be763227.jpg",
        "/pic/003/000/281/00300028123_a14c06f8.jpg",
        "/pic/003/000/281/00300028122_dd2682a4.jpg",
    ];
    s.route("/ywsd/system/2022/03/25/030050717.shtml", page(&[rebuilt]));
    s.route("/ywsd/system/2019/11/13/030036368.shtml", page(&three));
    s.route(rebuilt, Reply::Ok("image/jpeg", jpeg(40)));
    for (i, p) in three.iter().enumerate() {
        s.route(p, Reply::Ok("image/jpeg", jpeg(41 + i as u8)));
    }
    s
}

#[test]
fn seed_images_are_stored_under_their_sha256() {
    let s = nankai();
    let setup = Setup::new(&s, &fixture("seeds"), "");
    let report = setup.check();
    let objects = setup.objects();
    assert_eq!(
        objects.len(),
        4,
        "three images of 001 and the rebuilt image of 000: {objects:?}"
    );
    for (name, path) in &objects {
        assert_eq!(&sha256sum(path), name, "{}", path.display());
        let rel = path
            .strip_prefix(setup.store())
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert_eq!(
            rel,
            format!("sha256/{}/{}/{name}", &name[0..2], &name[2..4])
        );
    }
    for l in links_of(&report, "001_2f62085cd5636d82.txt")
        .iter()
        .filter(|l| l["kind"] == "image")
    {
        let sha = l["store"]["sha256"].as_str().expect("stored");
        assert!(objects.iter().any(|(n, _)| n == sha));
        assert_eq!(l["store"]["content_type"], "image/jpeg");
    }
    let summary = &report["summary"]["store"];
    assert_eq!(summary["objects_stored"], 4);
    assert_eq!(summary["objects_total"], 4);
    assert_eq!(
        report["summary"]["links"]["by_status"]["ok"], 5,
        "3 images + 2 source pages"
    );
    // Nothing stays in tmp/.
    assert!(walk(&setup.store().join("tmp")).is_empty());
    // The manifest lists them; stats agree.
    let (code, manifest) = setup.run(&["export", "--format", "csv"]);
    assert_eq!(code, 0);
    assert_eq!(manifest.lines().count(), 5, "{manifest}");
    let (_, stats) = setup.run(&["stats"]);
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["objects"], 4);
    assert_eq!(stats["by_host"]["news.nankai.edu.cn"]["urls"], 4);
}

#[test]
fn a_hundred_urls_with_the_same_bytes_make_one_object() {
    let s = TestServer::start();
    let corpus = tempfile::tempdir().unwrap();
    let mut md = String::new();
    for i in 0..100 {
        s.route(&format!("/same/{i}.jpg"), Reply::Ok("image/jpeg", jpeg(7)));
        md.push_str(&format!("![x](http://img.test/same/{i}.jpg)\n\n"));
    }
    std::fs::write(corpus.path().join("a.md"), md).unwrap();
    let setup = Setup::new(&s, corpus.path(), "");
    let report = setup.check();
    assert_eq!(report["summary"]["links"]["by_status"]["ok"], 100);
    assert_eq!(setup.objects().len(), 1);
    let (_, stats) = setup.run(&["stats"]);
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["archived_urls"], 100);
    assert_eq!(stats["dedup_ratio"], 100.0);
}

#[test]
fn a_flipped_byte_is_quarantined_and_downloaded_again() {
    let s = nankai();
    let setup = Setup::new(&s, &fixture("seeds/001_2f62085cd5636d82.txt"), "");
    setup.check();
    let (name, path) = setup.objects()[0].clone();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0xFF;
    std::fs::write(&path, bytes).unwrap();
    let (code, out) = setup.run(&["verify"]);
    assert_eq!(code, 1, "corruption makes verify fail");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["corrupt"], serde_json::json!([name]));
    assert!(!path.exists());
    assert_eq!(walk(&setup.store().join("quarantine")).len(), 1);
    let hits_before = s.hits().len();
    setup.check();
    assert!(
        s.hits().len() > hits_before,
        "the corrupt object's URL was fetched again"
    );
    assert_eq!(sha256sum(&path), name, "and stored whole again");
    assert_eq!(setup.run(&["verify"]).0, 0);
}

#[test]
fn an_unchanged_server_sends_no_bytes_the_second_time() {
    let s = TestServer::start();
    let corpus = tempfile::tempdir().unwrap();
    let mut md = String::new();
    for i in 0..5 {
        s.route(
            &format!("/t/{i}.jpg"),
            Reply::Tagged {
                etag: "\"v1\"",
                content_type: "image/jpeg",
                body: jpeg(60 + i),
            },
        );
        md.push_str(&format!("![x](http://img.test/t/{i}.jpg)\n\n"));
    }
    std::fs::write(corpus.path().join("a.md"), md).unwrap();
    // cache_max_age = 0: every run re-checks, conditionally.
    let setup = Setup::new(&s, corpus.path(), "cache_max_age = 0");
    setup.check();
    let first = s.body_bytes_sent();
    assert!(first >= 5 * 2000);
    std::thread::sleep(Duration::from_millis(1100));
    let report = setup.check();
    assert_eq!(s.body_bytes_sent(), first, "304s only: zero body bytes");
    let links = report["links"].as_array().unwrap();
    assert!(
        links
            .iter()
            .all(|l| l["status"] == "ok" && l["store"]["not_modified"] == true),
        "{links:?}"
    );
    assert_eq!(
        s.hits()
            .iter()
            .filter(|h| h.headers.iter().any(|(k, _)| k == "if-none-match"))
            .count(),
        5
    );
}

#[test]
fn kill_dash_nine_never_leaves_a_corrupt_or_missing_object() {
    let s = TestServer::start();
    let corpus = tempfile::tempdir().unwrap();
    let mut md = String::new();
    let files = 6;
    for i in 0..files {
        let mut body = jpeg(i as u8);
        body.truncate(body.len() - 2);
        body.extend(std::iter::repeat_n(i as u8 ^ 0x5A, 1_500_000));
        body.extend_from_slice(&[0xFF, 0xD9]);
        s.route(
            &format!("/big/{i}.jpg"),
            Reply::Slow {
                body: Arc::new(body),
                chunk: 64 * 1024,
                interval: Duration::from_millis(8),
            },
        );
        md.push_str(&format!("![x](http://img.test/big/{i}.jpg)\n\n"));
    }
    std::fs::write(corpus.path().join("a.md"), md).unwrap();
    let setup = Setup::new(
        &s,
        corpus.path(),
        // No cache: every round downloads again, so kills land mid-write.
        "concurrency = 3\nper_host_concurrency = 3\ncache_max_age = 0",
    );
    let mut seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill schedule seed {seed}");
    let mut interrupted_writes = 0;
    for round in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(30 + seed % 400);
        let mut child = Command::new(env!("CARGO_BIN_EXE_archive"))
            .args(["--check", "--config", setup.config.to_str().unwrap()])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if !walk(&setup.store().join("tmp")).is_empty() {
            interrupted_writes += 1;
        }
        let (code, out) = setup.run(&["verify"]);
        assert_eq!(code, 0, "round {round} (killed after {delay:?}): {out}");
        let out: Value = serde_json::from_str(&out).unwrap();
        assert!(
            out["corrupt"].as_array().unwrap().is_empty()
                && out["missing"].as_array().unwrap().is_empty()
        );
        for (name, path) in setup.objects() {
            assert_eq!(sha256sum(&path), name, "round {round}");
        }
    }
    assert!(
        interrupted_writes >= 3,
        "only {interrupted_writes} kills landed mid-download"
    );
    // The next uninterrupted run completes the set.
    let report = setup.check();
    assert_eq!(report["summary"]["links"]["by_status"]["ok"], files);
    assert_eq!(setup.objects().len(), files);
    assert!(walk(&setup.store().join("tmp")).is_empty());
    assert_eq!(setup.run(&["verify"]).0, 0);
}

/// Seeds 000 and 001 in a corpus of their own, with `gc_after_days = 0`
/// (so `gc` may collect what a run stops referencing at once).
fn seeds_000_001_for_gc(s: &TestServer) -> (tempfile::TempDir, Setup) {
    let corpus = tempfile::tempdir().unwrap();
    for name in ["000_9f14297dde64cb40.txt", "001_2f62085cd5636d82.txt"] {
        std::fs::copy(fixture(&format!("seeds/{name}")), corpus.path().join(name)).unwrap();
    }
    let setup = Setup::new(s, corpus.path(), "");
    std::fs::write(
        &setup.config,
        std::fs::read_to_string(&setup.config).unwrap().replace(
            "min_free_bytes = 0",
            "min_free_bytes = 0\ngc_after_days = 0",
        ),
    )
    .unwrap();
    (corpus, setup)
}

#[test]
fn gc_keeps_what_documents_need_and_collects_the_rest() {
    let s = nankai();
    let (corpus, setup) = seeds_000_001_for_gc(&s);
    setup.check();
    assert_eq!(setup.objects().len(), 4);
    std::thread::sleep(Duration::from_millis(1100));
    // Everything is referenced: nothing to collect, even with --force.
    let gc = |args: &[&str]| -> Value { serde_json::from_str(&setup.run(args).1).unwrap() };
    assert!(gc(&["gc", "--force"])["objects"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(setup.objects().len(), 4);
    // 001 leaves the corpus; a full run forgets its references.
    std::fs::remove_file(corpus.path().join("001_2f62085cd5636d82.txt")).unwrap();
    setup.check();
    std::thread::sleep(Duration::from_millis(1100));
    let dry = gc(&["gc"]);
    assert_eq!(dry["objects"].as_array().unwrap().len(), 3, "{dry}");
    assert_eq!(setup.objects().len(), 4, "a dry run deletes nothing");
    let done = gc(&["gc", "--force"]);
    assert_eq!(done["objects"], dry["objects"]);
    let left = setup.objects();
    assert_eq!(left.len(), 1, "the rebuilt image 000 still needs is kept");
    assert_eq!(setup.run(&["verify"]).0, 0);
}

/// A `gc_after_days` past the parse bound (reached in-process, as a
/// future caller might) used to overflow in debug builds and, in release,
/// wrap to a cutoff in the future that offered just-referenced objects
/// for deletion (issue 10). The arithmetic saturates: "older than a
/// million years" selects nothing.
#[test]
fn gc_after_days_out_of_range_offers_nothing() {
    let s = nankai();
    let (corpus, setup) = seeds_000_001_for_gc(&s);
    setup.check();
    // Timestamps are in seconds: the next run must be a later one.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::remove_file(corpus.path().join("001_2f62085cd5636d82.txt")).unwrap();
    setup.check();
    let text = std::fs::read_to_string(&setup.config).unwrap();
    let mut store = archive::config::Config::parse(&text, &setup.config)
        .expect("config")
        .store;
    std::thread::sleep(Duration::from_millis(1100));
    store.gc_after_days = 0;
    let control = archive::maintenance::gc(&store, false).expect("gc");
    assert_eq!(control.objects.len(), 3, "the control: 001's objects");
    for days in [36_500, 1 << 53, i64::MAX as u64, u64::MAX] {
        store.gc_after_days = days;
        let out = archive::maintenance::gc(&store, false).expect("gc");
        assert!(out.objects.is_empty(), "{days} days: {:?}", out.objects);
    }
    assert_eq!(setup.objects().len(), 4);
}

#[test]
fn export_rewrite_points_links_at_the_archive() {
    let s = nankai();
    let setup = Setup::new(&s, &fixture("seeds"), "");
    setup.check();
    let out = setup.dir.path().join("offline");
    let (code, _) = setup.run(&["export", "--rewrite", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    let doc1 = std::fs::read_to_string(out.join("001_2f62085cd5636d82.txt")).unwrap();
    let local: Vec<&str> = doc1
        .lines()
        .filter_map(|l| l.strip_prefix("![图](").and_then(|r| r.strip_suffix(')')))
        .collect();
    assert_eq!(local.len(), 3);
    for rel in &local {
        assert!(rel.contains("sha256/"), "{rel}");
        let file = out.join(rel);
        assert!(
            file.exists(),
            "{} resolves to a stored object",
            file.display()
        );
        assert_eq!(sha256sum(&file), rel.rsplit('/').next().unwrap());
    }
    assert!(doc1.contains(
        "[转入文章首发地址](http://news.nankai.edu.cn/ywsd/system/2019/11/13/030036368.shtml)"
    ));
    // The 66-link exploded run became one image: the repaired, archived one.
    let doc0 = std::fs::read_to_string(out.join("000_9f14297dde64cb40.txt")).unwrap();
    let images: Vec<&str> = doc0.lines().filter(|l| l.starts_with("![图](")).collect();
    assert_eq!(images.len(), 1, "{images:?}");
    assert!(images[0].contains("sha256/"));
    // Documents without archived links are copied unchanged.
    assert_eq!(
        std::fs::read_to_string(out.join("004_6dbe0efcfa5c5b23.txt")).unwrap(),
        std::fs::read_to_string(fixture("seeds/004_6dbe0efcfa5c5b23.txt")).unwrap()
    );
}

#[test]
fn low_disk_space_stops_downloads_but_not_checks() {
    let s = nankai();
    let setup = Setup::new(&s, &fixture("seeds/001_2f62085cd5636d82.txt"), "");
    // Ask for more free space than any disk has.
    let cfg = std::fs::read_to_string(&setup.config).unwrap().replace(
        "min_free_bytes = 0",
        "min_free_bytes = 18446744073709551615",
    );
    std::fs::write(&setup.config, cfg).unwrap();
    let report = setup.check();
    assert!(setup.objects().is_empty(), "nothing stored");
    let images: Vec<_> = report["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "image")
        .collect();
    assert_eq!(images.len(), 3);
    for l in images {
        assert_eq!(l["status"], "ok", "checks go on");
        assert!(
            l["store"]["error"].as_str().unwrap().contains("free"),
            "{l}"
        );
    }
    assert!(report["summary"]["store"]["error"]
        .as_str()
        .unwrap()
        .contains("min_free_bytes"));
}
