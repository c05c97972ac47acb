//! Web-archive lookups end to end, against a fake Wayback availability API
//! on 127.0.0.1 (host `archive.test`, through `[resolve]`): a dead image
//! gets the archive's copy as an `archived_copy` suggestion, checked and
//! archived with the original URL as its WARC target; "none" gives
//! nothing; answers are remembered (no second request); a slow, refusing
//! (429), malformed or hostile archive gives no suggestion and never
//! holds the run.

mod common;

use common::config::{write_config, ConfigParts};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{jpeg, Reply, TestServer};
use common::{assert_schema, links_of};
use serde_json::Value;

const API: &str = "/wayback/available";
/// What the API is asked for `http://img.test/dead.jpg` in a document
/// dated 2022-03-25.
const QUERY: &str = "/wayback/available?url=http%3A%2F%2Fimg.test%2Fdead.jpg&timestamp=20220325";
const CAPTURE: &str = "/web/20220301000000/http://img.test/dead.jpg";
const CAPTURE_BYTES: &str = "/web/20220301000000id_/http://img.test/dead.jpg";

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    /// A corpus of one dated document with one dead image, the archive
    /// API at `archive.test`; `extra` goes into `[check]`.
    fn new(server: &TestServer, extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus");
        std::fs::create_dir(&corpus).unwrap();
        std::fs::write(
            corpus.join("a.md"),
            "---\ntitle: t\ndate: 2022-03-25\n---\n\n![x](http://img.test/dead.jpg)\n",
        )
        .unwrap();
        server.route_on("img.test", "/dead.jpg", Reply::Status(404));
        let check = format!(
            "retry_max_time = 1.0\ncache_max_age = 0\narchive_lookup = true\narchive_endpoint = \"http://archive.test{API}\"\n{extra}"
        );
        let parts = ConfigParts {
            check: &check,
            hosts: &["img.test", "archive.test"],
            ..ConfigParts::default()
        };
        let config = write_config(dir.path(), &corpus, server.addr.port(), &parts);
        Setup { dir, config }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Runs a check (failing the test if it takes over a minute: a lookup
    /// that holds the run is the bug some of these tests look for).
    fn check(&self) -> Value {
        let mut child = Command::new(env!("CARGO_BIN_EXE_archive"))
            .args(["--check", "--format", "text", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("the run was held for a minute");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(matches!(status.code(), Some(0 | 1)), "{status}");
        let report: Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("report.json")).unwrap(),
        )
        .unwrap();
        assert_schema(&report);
        report
    }
}

fn dead_link(report: &Value) -> Value {
    links_of(report, "a.md")
        .into_iter()
        .find(|l| l["url"] == "http://img.test/dead.jpg")
        .unwrap()
        .clone()
}

fn api_hits(s: &TestServer) -> usize {
    s.hits().iter().filter(|h| h.path.starts_with(API)).count()
}

fn found(capture_host_path: &str) -> Reply {
    Reply::Ok(
        "application/json",
        format!(
            r#"{{"url":"http://img.test/dead.jpg","archived_snapshots":{{"closest":{{"status":"200","available":true,"url":"{capture_host_path}","timestamp":"20220301000000"}}}}}}"#
        )
        .into_bytes(),
    )
}

#[test]
fn a_found_copy_is_suggested_checked_archived_and_remembered() {
    let s = TestServer::start();
    s.route_on(
        "archive.test",
        QUERY,
        found(&format!("http://archive.test{CAPTURE}")),
    );
    s.route_on(
        "archive.test",
        CAPTURE_BYTES,
        Reply::Ok("image/jpeg", jpeg(5)),
    );
    let setup = Setup::new(&s, "");
    let report = setup.check();
    let link = dead_link(&report);
    assert_eq!(link["status"], "broken");
    let copy = &link["suggestions"][0];
    assert_eq!(copy["reason"], "archived_copy", "{link}");
    assert_eq!(copy["url"], format!("http://archive.test{CAPTURE_BYTES}"));
    assert_eq!(copy["status"], "ok", "the copy is checked");
    assert_eq!(api_hits(&s), 1);
    // Archived: the object is the copy's bytes, and its WARC response
    // names the original URL.
    let sha = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(jpeg(5));
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let objects = common::walk(&setup.store().join("sha256"));
    assert!(objects.iter().any(|p| p.ends_with(&sha)), "{objects:?}");
    if common::warc::warcio_available() {
        let files = common::warc::warc_files(&setup.store());
        let records: Vec<Value> = files
            .iter()
            .flat_map(|f| {
                common::warc::assert_checks_clean(f);
                common::warc::warcio_index(f, "warc-type,warc-target-uri,x-archive-transport-uri")
            })
            .collect();
        assert!(
            records.iter().any(|r| r["warc-type"] == "response"
                && r["warc-target-uri"] == "http://img.test/dead.jpg"
                && r["x-archive-transport-uri"]
                    .as_str()
                    .is_some_and(|u| u.contains("id_"))),
            "{records:#?}"
        );
    }
    // The answer is remembered: a second run does not ask again.
    let again = setup.check();
    assert_eq!(
        dead_link(&again)["suggestions"][0]["reason"],
        "archived_copy"
    );
    assert_eq!(api_hits(&s), 1, "no second request for a cached answer");
}

#[test]
fn none_is_no_suggestion_and_is_remembered_too() {
    let s = TestServer::start();
    s.route_on(
        "archive.test",
        QUERY,
        Reply::Ok("application/json", br#"{"archived_snapshots":{}}"#.to_vec()),
    );
    let setup = Setup::new(&s, "");
    let report = setup.check();
    assert_eq!(dead_link(&report)["suggestions"], serde_json::json!([]));
    setup.check();
    assert_eq!(api_hits(&s), 1, "\"none\" is an answer too");
}

/// A failing archive gives no suggestion and its failure is not
/// remembered as "none": the next run asks again.
fn fails_without_suggestion(reply: Reply, extra: &str) -> (TestServer, Setup) {
    let s = TestServer::start();
    s.route_on("archive.test", QUERY, reply);
    let setup = Setup::new(&s, extra);
    let report = setup.check();
    assert_eq!(dead_link(&report)["status"], "broken");
    assert_eq!(dead_link(&report)["suggestions"], serde_json::json!([]));
    let first = api_hits(&s);
    assert!(first >= 1);
    setup.check();
    assert!(api_hits(&s) > first, "a failure is not cached as none");
    (s, setup)
}

#[test]
fn a_slow_archive_is_given_up_on_within_its_timeout() {
    fails_without_suggestion(Reply::Hang, "archive_timeout = 1.0\ntimeout = 120.0");
}

#[test]
fn rate_limited_and_malformed_answers_give_nothing() {
    fails_without_suggestion(Reply::Status(429), "max_tries = 2");
    fails_without_suggestion(
        Reply::Ok(
            "application/json",
            b"{\"archived_snapshots\": [1, 2".to_vec(),
        ),
        "",
    );
}

#[test]
fn hostile_answers_meet_the_same_guards() {
    // A capture on a private address: suggested, but refused by the
    // address guard when it is checked; nothing is fetched there.
    let s = TestServer::start();
    let port = s.addr.port();
    s.route_on(
        "archive.test",
        QUERY,
        found(&format!("http://127.0.0.1:{port}{CAPTURE}")),
    );
    s.route(CAPTURE_BYTES, Reply::Ok("image/jpeg", jpeg(6)));
    let setup = Setup::new(&s, "");
    let text = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace("allow_private = true", "allow_private = false");
    std::fs::write(&setup.config, text).unwrap();
    let report = setup.check();
    let copy = &dead_link(&report)["suggestions"][0];
    assert_eq!(copy["reason"], "archived_copy");
    assert_eq!(copy["status"], "skipped", "{copy}");
    assert!(s.hits_on(CAPTURE_BYTES).is_empty());
    // A huge answer and a redirect loop: no suggestion, no hang.
    fails_without_suggestion(Reply::Huge { declared: 1 << 40 }, "");
    let s = TestServer::start();
    s.route_on(
        "archive.test",
        QUERY,
        Reply::Redirect(format!("http://archive.test{QUERY}")),
    );
    let setup = Setup::new(&s, "");
    let report = setup.check();
    assert_eq!(dead_link(&report)["suggestions"], serde_json::json!([]));
}

#[test]
fn lookups_are_off_unless_configured() {
    let s = TestServer::start();
    s.route_on("archive.test", QUERY, found("http://archive.test/x"));
    let setup = Setup::new(&s, "");
    let text = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace("archive_lookup = true\n", "");
    std::fs::write(&setup.config, text).unwrap();
    setup.check();
    assert_eq!(api_hits(&s), 0);
}

#[test]
fn a_memento_timegate_is_asked_with_the_documents_date() {
    let s = TestServer::start();
    let memento = "/memento/20220301000000/http://img.test/dead.jpg";
    s.route_on(
        "archive.test",
        "/timegate/http://img.test/dead.jpg",
        Reply::Redirect(format!("http://archive.test{memento}")),
    );
    s.route_on("archive.test", memento, Reply::Ok("image/jpeg", jpeg(7)));
    let setup = Setup::new(&s, "archive_api = \"memento\"");
    let text = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace(&format!("archive.test{API}"), "archive.test/timegate/");
    std::fs::write(&setup.config, text).unwrap();
    let report = setup.check();
    let copy = &dead_link(&report)["suggestions"][0];
    assert_eq!(copy["reason"], "archived_copy");
    assert_eq!(copy["url"], format!("http://archive.test{memento}"));
    assert_eq!(copy["status"], "ok");
    let asked = s.hits_on("/timegate/http://img.test/dead.jpg");
    assert!(
        asked[0]
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("accept-datetime")
                && v.trim() == "Fri, 25 Mar 2022 12:00:00 GMT"),
        "{:?}",
        asked[0].headers
    );
}
