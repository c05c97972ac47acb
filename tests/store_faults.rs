//! A store that fails under a run must be loud (issue 10): a full disk
//! used to report exit 0, "25 ok", `store.error` null and nothing on
//! stderr; a corrupt page or a missing table in `state.db` gave exit 0
//! while every database write failed in the writer thread.
//!
//! The full disk is simulated without root or a mount: the binary runs
//! under `ulimit -f` (`RLIMIT_FSIZE`) with `SIGXFSZ` ignored, so a write
//! past the limit fails (`EFBIG`) exactly where `ENOSPC` would, while the
//! small files (the state database, the report) stay under it. A tmpfs
//! would need `mount`, which CI may not allow.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::server::{jpeg, Reply, TestServer};
use common::walk;
use serde_json::Value;

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn new(server: &TestServer, corpus: &Path) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\nretry_backoff = 0.05\ncache_max_age = 0\n[store]\npath = \"{}\"\nmin_free_bytes = 0\n[report]\npath = \"{}\"\n[resolve]\n\"img.test\" = \"127.0.0.1:{}\"\n",
                corpus.display(),
                dir.path().join("store").display(),
                dir.path().join("report.json").display(),
                server.addr.port(),
            ),
        )
        .unwrap();
        Setup { dir, config }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn prom(&self) -> PathBuf {
        self.dir.path().join("archive.prom")
    }

    /// `archive --check` under a shell prefix (`ulimit`, …) or none.
    fn check(&self, limit_blocks: Option<u64>) -> (Output, Value) {
        let bin = env!("CARGO_BIN_EXE_archive");
        let mut cmd = match limit_blocks {
            // dash counts `ulimit -f` in 512-byte blocks; the ignored
            // SIGXFSZ is inherited through exec, so the write fails
            // with EFBIG instead of killing the process.
            Some(blocks) => {
                let mut c = Command::new("sh");
                c.args([
                    "-c",
                    &format!("trap '' XFSZ; ulimit -f {blocks} && exec \"$0\" \"$@\""),
                    bin,
                ]);
                c
            }
            None => Command::new(bin),
        };
        let out = cmd
            .args(["--check", "--format", "text", "--config"])
            .arg(&self.config)
            .arg("--prom-file")
            .arg(self.prom())
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        let report = serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("report.json")).unwrap_or_default(),
        )
        .unwrap_or(Value::Null);
        (out, report)
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.store().join("state.db")).unwrap()
    }
}

fn big_jpeg(seed: u8) -> Vec<u8> {
    let mut body = jpeg(seed);
    body.truncate(body.len() - 2);
    body.extend(std::iter::repeat_n(seed, 2_000_000));
    body.extend_from_slice(&[0xFF, 0xD9]);
    body
}

/// Whether `report` follows docs/report.schema.json; the errors if not.
fn schema_errors(report: &Value) -> Vec<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json"),
    )
    .unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    validator
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn a_full_disk_under_the_store_is_loud_and_records_nothing_unstored() {
    let s = TestServer::start();
    let corpus = tempfile::tempdir().unwrap();
    let mut md = String::from("![small](http://img.test/small.jpg)\n\n");
    s.route("/small.jpg", Reply::Ok("image/jpeg", jpeg(1)));
    for i in 0..3u8 {
        s.route(
            &format!("/big/{i}.jpg"),
            Reply::Ok("image/jpeg", big_jpeg(i)),
        );
        md.push_str(&format!("![big](http://img.test/big/{i}.jpg)\n\n"));
    }
    std::fs::write(corpus.path().join("a.md"), md).unwrap();
    let setup = Setup::new(&s, corpus.path());
    // 1 MiB per file: the 2 MB images cannot be written, the rest can.
    let (out, report) = setup.check(Some(2048));
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("store failed") && err.contains("free disk space"),
        "{err}"
    );
    let summary = &report["summary"];
    assert_eq!(summary["store_error"]["objects"], 3, "{summary}");
    assert_eq!(summary["store_error"]["database"], 0, "{summary}");
    assert!(summary["store"]["error"].is_string(), "{summary}");
    assert_eq!(summary["store"]["objects_stored"], 1, "only the small one");
    assert_eq!(report["schema_version"], archive::report::SCHEMA_VERSION);
    assert_eq!(schema_errors(&report), Vec::<String>::new());
    for l in report["links"].as_array().unwrap() {
        assert_eq!(l["status"], "ok", "the checks themselves succeeded: {l}");
        if l["url"].as_str().unwrap().contains("/big/") {
            assert!(l["store"]["sha256"].is_null(), "not stored: {l}");
            assert!(l["store"]["error"].is_string(), "{l}");
        } else {
            assert!(l["store"]["sha256"].is_string(), "{l}");
        }
    }
    // Nothing stored that is not whole; nothing recorded that is not there.
    let objects = walk(&setup.store().join("sha256"));
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert!(walk(&setup.store().join("tmp")).is_empty());
    let recorded: i64 = setup
        .db()
        .query_row(
            "SELECT COUNT(*) FROM urls WHERE url LIKE '%/big/%' AND sha256 IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recorded, 0, "no object recorded for a body not stored");
    let prom = std::fs::read_to_string(setup.prom()).unwrap();
    assert!(
        prom.contains("archive_store_errors{kind=\"object\"} 3\n"),
        "{prom}"
    );
    // With room again, the next run archives them and is clean.
    let (out, report) = setup.check(None);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(report["summary"]["store_error"].is_null());
    assert_eq!(walk(&setup.store().join("sha256")).len(), 4);
}

/// Two images and a first, healthy run that fills the state database.
fn checked_once() -> (TestServer, tempfile::TempDir, Setup) {
    let s = TestServer::start();
    let corpus = tempfile::tempdir().unwrap();
    let mut md = String::new();
    for i in 0..2u8 {
        s.route(&format!("/{i}.jpg"), Reply::Ok("image/jpeg", jpeg(i)));
        md.push_str(&format!("![x](http://img.test/{i}.jpg)\n\n"));
    }
    std::fs::write(corpus.path().join("a.md"), md).unwrap();
    let setup = Setup::new(&s, corpus.path());
    let (out, report) = setup.check(None);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(report["summary"]["store_error"].is_null());
    (s, corpus, setup)
}

fn assert_loud_database_failure(out: &Output, report: &Value, prom: &str) {
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(out));
    let err = stderr(out);
    assert!(err.contains("state database"), "{err}");
    let summary = &report["summary"];
    let failed = summary["store_error"]["database"].as_u64().unwrap_or(0);
    assert!(failed > 0, "{summary}");
    assert!(
        summary["store_error"]["message"]
            .as_str()
            .unwrap()
            .contains("move it aside"),
        "{summary}"
    );
    assert!(
        prom.contains(&format!(
            "archive_store_errors{{kind=\"database\"}} {failed}\n"
        )),
        "{prom}"
    );
}

#[test]
fn a_corrupt_page_in_the_state_database_is_loud() {
    let (_s, _corpus, setup) = checked_once();
    let path = setup.store().join("state.db");
    assert!(
        !setup.store().join("state.db-wal").exists(),
        "checkpointed on close"
    );
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    assert!(bytes.len() >= 4 * page, "{} bytes", bytes.len());
    // Every page but the first (the header and the schema): garbage.
    for (i, b) in bytes[page..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31) ^ 0xA5;
    }
    std::fs::write(&path, bytes).unwrap();
    let (out, report) = setup.check(None);
    let prom = std::fs::read_to_string(setup.prom()).unwrap();
    assert_loud_database_failure(&out, &report, &prom);
}

#[test]
fn a_missing_table_in_the_state_database_is_loud() {
    let (_s, _corpus, setup) = checked_once();
    setup.db().execute_batch("DROP TABLE urls").unwrap();
    let (out, report) = setup.check(None);
    let prom = std::fs::read_to_string(setup.prom()).unwrap();
    assert_loud_database_failure(&out, &report, &prom);
    // The writes that could land did: the document's references of this
    // run were recorded beside the failing check records.
    let refs: i64 = setup
        .db()
        .query_row(
            "SELECT COUNT(*) FROM refs WHERE seen_at >= strftime('%s','now') - 60",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(refs, 2, "the good writes of a failing batch were kept");
}
