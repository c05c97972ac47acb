//! WARC output end to end: the real binary checks a corpus against a local
//! server, and the reference reader (warcio) reads what it wrote: every
//! file checks with its payload digests verified, records name the URLs
//! as documents write them, the same bytes under a second URL are a
//! revisit, and a `kill -9` while writing leaves files the next run
//! repairs.

mod common;

use common::config::{archive_command, write_config, ConfigParts};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::fixture;
use common::server::{jpeg, nankai, Reply, TestServer, NANKAI_IMAGES_001, NANKAI_REBUILT};
use common::warc::{
    assert_checks_clean, checks_clean, warc_files, warcio_available, warcio_index, warcio_payload,
};
use serde_json::Value;

/// A config with the store and report in a temp folder and the test hosts
/// resolved to `server`.
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn new(server: &TestServer, corpus: &Path, extra_store: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let parts = ConfigParts {
            check: "cache_max_age = 0",
            store: extra_store,
            ..ConfigParts::default()
        };
        let config = write_config(dir.path(), corpus, server.addr.port(), &parts);
        Setup { dir, config }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn command(&self) -> Command {
        archive_command(&self.config, &["--check", "--format", "text"])
    }

    fn check(&self) -> Value {
        let out = self.command().output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        assert!(
            code == 0 || code == 1,
            "check exit code {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&std::fs::read_to_string(self.dir.path().join("report.json")).unwrap())
            .unwrap()
    }

    /// Every record of every WARC file, as warcio indexes it.
    fn records(&self) -> Vec<(PathBuf, Value)> {
        let fields = "warc-type,warc-target-uri,offset,http:status,warc-payload-digest,warc-refers-to-target-uri,x-archive-transport-uri,warc-concurrent-to,warc-record-id";
        warc_files(&self.store())
            .into_iter()
            .flat_map(|f| {
                warcio_index(&f, fields)
                    .into_iter()
                    .map(move |r| (f.clone(), r))
            })
            .collect()
    }
}

fn of_type<'a>(records: &'a [(PathBuf, Value)], t: &str) -> Vec<&'a (PathBuf, Value)> {
    records
        .iter()
        .filter(|(_, r)| r["warc-type"] == t)
        .collect()
}

#[test]
fn the_seed_corpus_is_written_as_warc_that_warcio_reads() {
    if !warcio_available() {
        return;
    }
    let s = nankai();
    let setup = Setup::new(&s, &fixture("seeds"), "archive_source_pages = true");
    let report = setup.check();
    assert_eq!(
        report["summary"]["store"]["objects_stored"], 6,
        "4 images, 2 pages"
    );
    let files = warc_files(&setup.store());
    assert!(!files.is_empty(), "no WARC file written");
    let passed: usize = files.iter().map(|f| assert_checks_clean(f)).sum();
    let records = setup.records();
    let responses = of_type(&records, "response");
    assert_eq!(
        passed,
        records.len() - of_type(&records, "revisit").len(),
        "every record's digest verified (warcio checks none of a revisit's)"
    );
    let mut uris: Vec<&str> = responses
        .iter()
        .map(|(_, r)| r["warc-target-uri"].as_str().unwrap())
        .collect();
    uris.sort_unstable();
    let mut want: Vec<String> = NANKAI_IMAGES_001
        .iter()
        .chain([&NANKAI_REBUILT])
        .map(|p| format!("http://news.nankai.edu.cn{p}"))
        .chain([
            "http://news.nankai.edu.cn/ywsd/system/2019/11/13/030036368.shtml".to_string(),
            "http://news.nankai.edu.cn/ywsd/system/2022/03/25/030050717.shtml".to_string(),
        ])
        .collect();
    want.sort_unstable();
    assert_eq!(
        uris, want,
        "target URIs are the URLs as documents write them"
    );
    // Each response has its request, and its payload is the server's bytes.
    let requests = of_type(&records, "request");
    for (file, r) in &responses {
        assert_eq!(r["http:status"], "200");
        assert!(
            requests
                .iter()
                .any(|(_, q)| q["warc-concurrent-to"] == r["warc-record-id"]),
            "no request for {r}"
        );
        let uri = r["warc-target-uri"].as_str().unwrap();
        if let Some(i) = NANKAI_IMAGES_001.iter().position(|p| uri.ends_with(p)) {
            let payload = warcio_payload(file, common::warc::offset(r));
            assert_eq!(payload, jpeg(i as u8), "{uri}");
            let sha = r["warc-payload-digest"].as_str().unwrap();
            let link = common::links_of(&report, "001_2f62085cd5636d82.txt")
                .into_iter()
                .find(|l| l["resolved"] == uri)
                .unwrap();
            assert_eq!(
                sha,
                format!("sha256:{}", link["store"]["sha256"].as_str().unwrap())
            );
        }
    }
    // The transport URL (where [resolve] sent it) is recorded apart.
    assert!(responses
        .iter()
        .all(|(_, r)| r["x-archive-transport-uri"].as_str().is_some()));
    // A CDXJ index beside each file lists its responses.
    let index: usize = files
        .iter()
        .map(|f| {
            let cdxj = f.with_file_name(
                f.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .replace(".warc.gz", ".cdxj"),
            );
            std::fs::read_to_string(cdxj).unwrap().lines().count()
        })
        .sum();
    assert_eq!(index, responses.len() + of_type(&records, "revisit").len());
}

#[test]
fn the_same_bytes_under_a_second_url_are_a_revisit() {
    if !warcio_available() {
        return;
    }
    let s = TestServer::start();
    s.route("/a/first.jpg", Reply::Ok("image/jpeg", jpeg(3)));
    s.route("/b/second.jpg", Reply::Ok("image/jpeg", jpeg(3)));
    s.route("/c/other.jpg", Reply::Ok("image/jpeg", jpeg(4)));
    let corpus = tempfile::tempdir().unwrap();
    std::fs::write(
        corpus.path().join("a.md"),
        "![x](http://img.test/a/first.jpg)\n\n![y](http://img.test/c/other.jpg)\n",
    )
    .unwrap();
    std::fs::write(
        corpus.path().join("b.md"),
        "![x](http://img.test/b/second.jpg)\n",
    )
    .unwrap();
    let setup = Setup::new(&s, corpus.path(), "");
    setup.check();
    // A second run captures everything again: all revisits now.
    setup.check();
    for f in warc_files(&setup.store()) {
        assert_checks_clean(&f);
    }
    let records = setup.records();
    let responses = of_type(&records, "response");
    let revisits = of_type(&records, "revisit");
    assert_eq!(responses.len(), 2, "one per payload: {records:#?}");
    assert_eq!(revisits.len(), 4, "{records:#?}");
    let first_of = |digest: &Value| {
        responses
            .iter()
            .find(|(_, r)| &r["warc-payload-digest"] == digest)
            .map(|(_, r)| r["warc-target-uri"].clone())
            .unwrap()
    };
    for (_, r) in &revisits {
        assert_eq!(
            r["warc-refers-to-target-uri"],
            first_of(&r["warc-payload-digest"]),
            "{r}"
        );
    }
    assert!(revisits
        .iter()
        .any(|(_, r)| r["warc-target-uri"] == "http://img.test/b/second.jpg"));
}

/// Sends SIGKILL to `child` once a WARC file under `store` has grown
/// `round + 1` times since the last look (polled every millisecond), or
/// when the run ends or 30 s pass.
fn kill_while_growing(child: &mut std::process::Child, store: &std::path::Path, round: usize) {
    let size = || -> u64 {
        warc_files(store)
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum()
    };
    let until = std::time::Instant::now() + Duration::from_secs(30);
    let (mut last, mut grew) = (0, 0);
    while std::time::Instant::now() < until && matches!(child.try_wait(), Ok(None)) {
        let now = size();
        if now > last {
            grew += 1;
            last = now;
            if grew > round {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill(); // SIGKILL
}

#[test]
fn kill_dash_nine_while_writing_then_a_new_run_leaves_every_file_clean() {
    if !warcio_available() {
        return;
    }
    let s = TestServer::start();
    let corpus = tempfile::tempdir().unwrap();
    let mut md = String::new();
    let files = 6;
    for i in 0..files {
        // Big bodies of little-compressible bytes: writing their records
        // takes long enough for kills to land inside them.
        let mut body = jpeg(i as u8);
        body.truncate(body.len() - 2);
        let mut x: u32 = 0x9E37_79B9 ^ i as u32;
        body.extend((0..2_000_000).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        }));
        body.extend_from_slice(&[0xFF, 0xD9]);
        s.route(&format!("/big/{i}.jpg"), Reply::Ok("image/jpeg", body));
        md.push_str(&format!("![x](http://img.test/big/{i}.jpg)\n\n"));
    }
    std::fs::write(corpus.path().join("a.md"), md).unwrap();
    let mut interrupted = 0;
    for round in 0..10 {
        // A fresh store each round: every capture is a full response.
        let setup = Setup::new(&s, corpus.path(), "");
        let mut child = setup
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Killed while its WARC file grows, a little later each round: a
        // fixed delay after the start missed every record when a loaded
        // machine started the run late (the full suite on 2 cores).
        kill_while_growing(&mut child, &setup.store(), round);
        child.wait().unwrap();
        if warc_files(&setup.store())
            .iter()
            .any(|f| !checks_clean(f).0)
        {
            interrupted += 1;
        }
        // The next run repairs what the kill left, then writes its own.
        setup.check();
        let written = warc_files(&setup.store());
        for f in &written {
            assert_checks_clean(f);
        }
        let responses = of_type(&setup.records(), "response").len();
        assert_eq!(responses, files, "round {round}: one response per payload");
        if interrupted >= 2 {
            eprintln!(
                "{interrupted} kills landed inside a record in {} rounds",
                round + 1
            );
            break;
        }
    }
    assert!(interrupted >= 1, "no kill landed inside a record");
}
