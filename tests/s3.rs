//! The S3 backend end to end, against moto's S3 server on 127.0.0.1 (one
//! per test; `moto_server` must be installed, `.ci/run` does it): the seed
//! corpus mirrored into a bucket under each object's sha256, `verify`
//! catching an object changed behind archive's back, `export --rewrite`
//! and the daemon's `/objects/<sha>` reading from the bucket, and two
//! processes with their own state databases sharing one bucket at once.

mod common;

use common::config::{archive_command, write_config, ConfigParts};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::moto::{sha256_hex, Bucket, Moto, ENV};
use common::server::{jpeg, nankai as nankai_server, Reply, TestServer, NANKAI_IMAGES_001};
use common::{fixture, walk};
use serde_json::Value;

const PREFIX: &str = "archive/media";

/// A temp folder with a config: the corpus, the state folder and report
/// inside it, the objects in `bucket` under [`PREFIX`].
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn new(server: &TestServer, moto: &Moto, bucket: &str, corpus: &Path, extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("url = \"s3://{bucket}/{PREFIX}\"\n{extra}");
        let tables = format!(
            "[store.s3]\nendpoint = \"{}\"\nallow_http = true\nmax_retries = 2\nretry_timeout_secs = 10",
            moto.endpoint()
        );
        let parts = ConfigParts {
            state: "state",
            store: &store,
            tables: &tables,
            ..ConfigParts::default()
        };
        let config = write_config(dir.path(), corpus, server.addr.port(), &parts);
        Setup { dir, config }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = archive_command(&self.config, args);
        cmd.envs(ENV);
        cmd
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    fn report(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.path().join("report.json")).unwrap())
            .unwrap()
    }

    fn check(&self) -> Value {
        let (code, _, err) = self.run(&["--check", "--format", "text"]);
        assert!(code == 0 || code == 1, "check exit code {code}: {err}");
        self.report()
    }
}

/// The objects under the prefix: (digest, key).
fn objects(bucket: &Bucket) -> Vec<(String, String)> {
    bucket
        .keys(&format!("{PREFIX}/sha256"))
        .into_iter()
        .map(|(key, _)| (key.rsplit('/').next().unwrap().to_string(), key))
        .collect()
}

/// The digests a node's state database says it stored (`archive export`).
fn stored_digests(setup: &Setup) -> Vec<String> {
    let (code, manifest, err) = setup.run(&["export"]);
    assert_eq!(code, 0, "{err}");
    let mut out: Vec<String> = manifest
        .lines()
        .map(|l| {
            let row: Value = serde_json::from_str(l).unwrap();
            row["sha256"].as_str().unwrap().to_string()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Node B's corpus: one article with two of seed 001's images and one of
/// its own (`/pic/only-b.jpg`, which the test routes).
fn corpus_b() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let host = "http://news.nankai.edu.cn";
    std::fs::write(
        dir.path().join("b.md"),
        format!(
            "# B\n\n![a]({host}{})\n![b]({host}{})\n![c]({host}/pic/only-b.jpg)\n",
            NANKAI_IMAGES_001[0], NANKAI_IMAGES_001[1]
        ),
    )
    .unwrap();
    dir
}

#[test]
fn seed_corpus_is_mirrored_into_the_bucket_under_each_sha256() {
    let Some(moto) = Moto::start() else { return };
    let bucket = moto.bucket("seeds");
    let s = nankai_server();
    let setup = Setup::new(&s, &moto, "seeds", &fixture("seeds"), "");
    let report = setup.check();
    let objects = objects(&bucket);
    assert_eq!(
        objects.len(),
        4,
        "three images of 001 and the rebuilt image of 000: {objects:?}"
    );
    for (name, key) in &objects {
        assert_eq!(
            key,
            &format!("{PREFIX}/sha256/{}/{}/{name}", &name[0..2], &name[2..4])
        );
        assert_eq!(&sha256_hex(&bucket.get(key)), name, "{key}");
    }
    assert_eq!(
        stored_digests(&setup),
        objects.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
    );
    let summary = &report["summary"]["store"];
    assert_eq!(summary["backend"], "s3");
    assert_eq!(summary["location"], format!("s3://seeds/{PREFIX}"));
    common::assert_schema(&report);
    assert_eq!(summary["objects_stored"], 4);
    assert_eq!(summary["objects_total"], 4);
    assert!(summary["error"].is_null(), "{summary}");
    // Nothing is left staged, and no object was written locally.
    let state = setup.dir.path().join("state");
    assert!(walk(&state.join("tmp")).is_empty());
    assert!(!state.join("sha256").exists());
    // A second run stores nothing again: every key is already there.
    let again = setup.check();
    assert_eq!(again["summary"]["store"]["objects_stored"], 0);
    assert_eq!(objects.len(), self::objects(&bucket).len());
    // The manifest lists them; stats name the backend.
    let (code, manifest, _) = setup.run(&["export", "--format", "csv"]);
    assert_eq!(code, 0);
    assert_eq!(manifest.lines().count(), 5, "{manifest}");
    let (code, stats, _) = setup.run(&["stats"]);
    assert_eq!(code, 0);
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["objects"], 4);
    assert_eq!(stats["backend"], "s3");
    assert_eq!(stats["location"], format!("s3://seeds/{PREFIX}"));
}

#[test]
fn verify_catches_an_object_changed_in_the_bucket() {
    let Some(moto) = Moto::start() else { return };
    let bucket = moto.bucket("verify");
    let s = nankai_server();
    let setup = Setup::new(
        &s,
        &moto,
        "verify",
        &fixture("seeds/001_2f62085cd5636d82.txt"),
        "",
    );
    setup.check();
    assert_eq!(setup.run(&["verify"]).0, 0, "all whole at first");
    let (name, key) = objects(&bucket)[0].clone();
    let mut bytes = bucket.get(&key);
    bytes[100] ^= 0xFF;
    bucket.put(&key, bytes);
    let (code, out, err) = setup.run(&["verify"]);
    assert_eq!(code, 1, "corruption makes verify fail: {err}");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["corrupt"], serde_json::json!([name]));
    assert_eq!(out["checked"], 3);
    assert!(!objects(&bucket).iter().any(|(n, _)| n == &name));
    let quarantined = bucket.keys(&format!("{PREFIX}/quarantine"));
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert!(quarantined[0].0.contains(&name));
    // The next check downloads it again, whole.
    setup.check();
    assert_eq!(sha256_hex(&bucket.get(&key)), name);
    assert_eq!(setup.run(&["verify"]).0, 0);
}

#[test]
fn export_rewrite_copies_objects_out_of_the_bucket() {
    let Some(moto) = Moto::start() else { return };
    let _bucket = moto.bucket("export");
    let s = nankai_server();
    let setup = Setup::new(&s, &moto, "export", &fixture("seeds"), "");
    setup.check();
    let out = setup.dir.path().join("offline");
    let (code, _, err) = setup.run(&["export", "--rewrite", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let doc1 = std::fs::read_to_string(out.join("001_2f62085cd5636d82.txt")).unwrap();
    let local: Vec<&str> = doc1
        .lines()
        .filter_map(|l| l.strip_prefix("![图](").and_then(|r| r.strip_suffix(')')))
        .collect();
    assert_eq!(local.len(), 3, "{doc1}");
    for rel in &local {
        assert!(rel.starts_with("objects/sha256/"), "{rel}");
        let bytes = std::fs::read(out.join(rel)).unwrap();
        assert_eq!(&sha256_hex(&bytes), rel.rsplit('/').next().unwrap());
    }
}

/// GET `path` from 127.0.0.1:`port`: (status, headers, body).
fn http_get(port: u16, path: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&out[..at]).to_string();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, head, out[at..].to_vec())
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_daemon_streams_objects_from_the_bucket() {
    let Some(moto) = Moto::start() else { return };
    let bucket = moto.bucket("daemon");
    let s = nankai_server();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let setup = Setup::new(
        &s,
        &moto,
        "daemon",
        &fixture("seeds/001_2f62085cd5636d82.txt"),
        &format!("[daemon]\nlisten = \"127.0.0.1:{port}\"\ntoken = \"\"\n"),
    );
    let _daemon = Killed(
        setup
            .command(&["daemon"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while objects(&bucket).len() < 3 || http_get_ok(port, "/readyz") != Some(200) {
        assert!(
            Instant::now() < deadline,
            "the daemon's first run did not end"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for (name, key) in objects(&bucket) {
        let (code, head, body) = http_get(port, &format!("/objects/{name}"));
        assert_eq!(code, 200, "{head}");
        assert_eq!(body, bucket.get(&key));
        assert!(
            head.to_lowercase().contains("content-type: image/jpeg"),
            "{head}"
        );
    }
    let missing = "0".repeat(64);
    assert_eq!(http_get(port, &format!("/objects/{missing}")).0, 404);
    // The dashboard and the metrics name the backend.
    let (_, _, page) = http_get(port, "/");
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains(&format!("s3 (s3://daemon/{PREFIX})")),
        "{page}"
    );
    let (_, _, metrics) = http_get(port, "/metrics");
    assert!(String::from_utf8_lossy(&metrics).contains(&format!(
        "archive_store_backend{{backend=\"s3\",location=\"s3://daemon/{PREFIX}\"}} 1"
    )));
}

fn http_get_ok(port: u16, path: &str) -> Option<u16> {
    std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    Some(http_get(port, path).0)
}

#[test]
fn two_processes_share_one_bucket_without_duplicates() {
    let Some(moto) = Moto::start() else { return };
    let bucket = moto.bucket("shared");
    let s = nankai_server();
    // B's article shares two images with seed 001 and has one of its own.
    s.route("/pic/only-b.jpg", Reply::Ok("image/jpeg", jpeg(77)));
    let corpus_b = corpus_b();
    let a = Setup::new(&s, &moto, "shared", &fixture("seeds"), "");
    let b = Setup::new(&s, &moto, "shared", corpus_b.path(), "");
    let spawn = |setup: &Setup| {
        setup
            .command(&["--check", "--format", "text"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (pa, pb) = (spawn(&a), spawn(&b));
    for (p, name) in [(pa, "a"), (pb, "b")] {
        let out = p.wait_with_output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        assert!(
            code == 0 || code == 1,
            "{name} exit {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (ra, rb) = (a.report(), b.report());
    for r in [&ra, &rb] {
        assert!(r["summary"]["store"]["error"].is_null(), "{}", r["summary"]);
    }
    assert_eq!(stored_digests(&b).len(), 3, "B stored its three images");
    let mut distinct = stored_digests(&a);
    distinct.extend(stored_digests(&b));
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "4 of A, 1 more of B");
    let in_bucket: Vec<String> = objects(&bucket).into_iter().map(|(n, _)| n).collect();
    assert_eq!(in_bucket, distinct, "object count equals distinct digests");
    for (name, key) in objects(&bucket) {
        assert_eq!(sha256_hex(&bucket.get(&key)), name);
    }
}

#[test]
fn gc_deletes_only_what_no_node_references() {
    let Some(moto) = Moto::start() else { return };
    let bucket = moto.bucket("shared-gc");
    let s = nankai_server();
    s.route("/pic/only-b.jpg", Reply::Ok("image/jpeg", jpeg(77)));
    let corpus_a = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("seeds")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, corpus_a.path().join(path.file_name().unwrap())).unwrap();
    }
    let corpus_b = corpus_b();
    let gc_now = "gc_after_days = 0";
    let a = Setup::new(
        &s,
        &moto,
        "shared-gc",
        corpus_a.path(),
        &format!("{gc_now}\nnode_id = \"site-a\""),
    );
    let b = Setup::new(&s, &moto, "shared-gc", corpus_b.path(), gc_now);
    a.check();
    b.check();
    let before: Vec<String> = objects(&bucket).into_iter().map(|(n, _)| n).collect();
    assert_eq!(before.len(), 5);
    let manifests = bucket.keys(&format!("{PREFIX}/manifests"));
    assert_eq!(manifests.len(), 2, "{manifests:?}");
    assert!(manifests
        .iter()
        .any(|(k, _)| k.ends_with("/manifests/site-a.json")));
    // An object no node ever stored (left by a node long gone).
    let orphan = jpeg(99);
    let orphan_sha = sha256_hex(&orphan);
    bucket.put(
        &format!(
            "{PREFIX}/sha256/{}/{}/{orphan_sha}",
            &orphan_sha[0..2],
            &orphan_sha[2..4]
        ),
        orphan,
    );
    // Timestamps are in seconds: the next run must be a later one.
    std::thread::sleep(Duration::from_millis(1100));
    // A's articles lose all their images; a full run forgets them.
    for entry in std::fs::read_dir(corpus_a.path()).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    std::fs::write(corpus_a.path().join("a.md"), "# A\n\nNo images any more.\n").unwrap();
    a.check();
    // gc_after_days = 0 means "older than now": let a second pass.
    std::thread::sleep(Duration::from_millis(1100));
    let b_uses = stored_digests(&b);
    let only_a: Vec<&String> = before.iter().filter(|d| !b_uses.contains(d)).collect();
    assert_eq!(only_a.len(), 2, "A's objects B does not share");
    let mut expected: Vec<String> = only_a.iter().map(|d| d.to_string()).collect();
    expected.push(orphan_sha.clone());
    expected.sort();
    let (code, dry, err) = a.run(&["gc"]);
    assert_eq!(code, 0, "{err}");
    let dry: Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(dry["objects"], serde_json::json!(expected), "{dry}");
    assert_eq!(objects(&bucket).len(), 6, "a dry run deletes nothing");
    let (code, _, err) = a.run(&["gc", "--force"]);
    assert_eq!(code, 0, "{err}");
    let after: Vec<String> = objects(&bucket).into_iter().map(|(n, _)| n).collect();
    assert_eq!(after, b_uses, "what B references is kept, and only that");
    let (code, out, err) = b.run(&["verify"]);
    assert_eq!(code, 0, "B's objects are all there: {out} {err}");
    // A's manifest now names nothing.
    let manifest: Value =
        serde_json::from_slice(&bucket.get(&format!("{PREFIX}/manifests/site-a.json"))).unwrap();
    assert_eq!(manifest["objects"], serde_json::json!([]));
}

#[test]
fn a_store_url_folder_keeps_the_objects_apart_from_the_state() {
    let s = nankai_server();
    let dir = tempfile::tempdir().unwrap();
    let objects_dir = dir.path().join("objects");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\n[store]\npath = \"{}\"\nurl = \"file://{}\"\nmin_free_bytes = 0\n[report]\npath = \"{}\"\n[resolve]\n\"news.nankai.edu.cn\" = \"127.0.0.1:{}\"\n",
            fixture("seeds").display(),
            dir.path().join("state").display(),
            objects_dir.display(),
            dir.path().join("report.json").display(),
            s.addr.port(),
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_archive"))
            .args(args)
            .args(["--config", config.to_str().unwrap()])
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, _) = run(&["--check", "--format", "text"]);
    assert_eq!(code, Some(1), "the seeds' own broken links");
    assert_eq!(walk(&objects_dir.join("sha256")).len(), 4);
    assert!(!dir.path().join("state/sha256").exists());
    assert!(dir.path().join("state/state.db").exists());
    let (code, stats) = run(&["stats"]);
    assert_eq!(code, Some(0));
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["backend"], "local");
    assert_eq!(stats["location"], objects_dir.display().to_string());
    assert_eq!(run(&["verify"]).0, Some(0));
}

/// WARC output with the objects in a bucket: the writer reads each payload
/// back from the bucket (the staged file is gone after the upload), and
/// the WARC files stay local, under `store.path`.
#[test]
fn warc_records_embed_payloads_read_back_from_the_bucket() {
    use common::warc::{assert_checks_clean, offset, warc_files, warcio_index, warcio_payload};
    let Some(moto) = Moto::start() else { return };
    if !common::warc::warcio_available() {
        return;
    }
    let bucket = moto.bucket("warcs");
    let s = nankai_server();
    let setup = Setup::new(&s, &moto, "warcs", &fixture("seeds"), "");
    let report = setup.check();
    assert!(
        report["summary"]["store_error"].is_null(),
        "{}",
        report["summary"]["store_error"]
    );
    let files = warc_files(&setup.dir.path().join("state"));
    assert!(!files.is_empty(), "no WARC file under store.path");
    let mut responses = 0;
    for file in &files {
        assert_checks_clean(file);
        for r in warcio_index(file, "warc-type,offset,warc-payload-digest") {
            if r["warc-type"] != "response" {
                continue;
            }
            responses += 1;
            let sha = r["warc-payload-digest"].as_str().unwrap();
            let sha = sha.strip_prefix("sha256:").unwrap();
            let payload = warcio_payload(file, offset(&r));
            let key = format!("{PREFIX}/sha256/{}/{}/{sha}", &sha[0..2], &sha[2..4]);
            assert_eq!(payload, bucket.get(&key), "{key}");
            assert_eq!(sha256_hex(&payload), sha);
        }
    }
    assert_eq!(
        responses,
        objects(&bucket).len(),
        "one response record per object in the bucket"
    );
}
