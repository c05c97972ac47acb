//! The S3 backend when the object service fails: a small fault proxy the
//! test controls stands between archive and moto's S3 server, and drops
//! connections, answers 503, refuses the credentials (403), or slows the
//! upload down. Checks go on, the
//! bodies that could not be stored are `store_unavailable` and never
//! recorded as stored, the run ends with `summary.store_error` and exit
//! code 3; and a `kill -9` in the middle of a multipart upload leaves no
//! object under the key.

mod common;

use common::config::{archive_command, write_config, ConfigParts};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::moto::{sha256_hex, Bucket, Moto, ENV};
use common::server::{nankai, Reply, TestServer};
use common::{fixture, links_of};
use serde_json::Value;

const PASS: u8 = 0;
const DROP: u8 = 1;
const UNAVAILABLE: u8 = 2;
/// Client-to-service bytes at about 4 MiB/s.
const SLOW: u8 = 3;
/// Every request refused as S3 refuses a wrong key: 403 InvalidAccessKeyId.
const DENIED: u8 = 4;

/// A TCP proxy to `upstream` whose behaviour the test switches.
struct FaultProxy {
    port: u16,
    mode: Arc<AtomicU8>,
}

fn pipe(mut from: TcpStream, mut to: TcpStream, mode: Option<Arc<AtomicU8>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        if mode
            .as_ref()
            .is_some_and(|m| m.load(Ordering::SeqCst) == SLOW)
        {
            std::thread::sleep(Duration::from_secs_f64(n as f64 / (4.0 * 1024.0 * 1024.0)));
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl FaultProxy {
    fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(PASS));
        let shared = mode.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                let mode = shared.clone();
                std::thread::spawn(move || match mode.load(Ordering::SeqCst) {
                    DROP => drop(client),
                    refusing @ (UNAVAILABLE | DENIED) => {
                        // Read the request head, answer, close.
                        let mut head = Vec::new();
                        let mut byte = [0u8; 1];
                        while !head.ends_with(b"\r\n\r\n")
                            && client.read(&mut byte).is_ok_and(|n| n == 1)
                        {
                            head.push(byte[0]);
                        }
                        let answer = if refusing == DENIED {
                            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>";
                            format!("HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
                        } else {
                            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
                        };
                        let _ = client.write_all(answer.as_bytes());
                    }
                    _ => {
                        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                            return;
                        };
                        let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                        let back = std::thread::spawn(move || pipe(s2, c2, None));
                        pipe(client, server, Some(mode));
                        let _ = back.join();
                    }
                });
            }
        });
        FaultProxy { port, mode }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn new(
        server: &TestServer,
        proxy: &FaultProxy,
        bucket: &str,
        corpus: &Path,
        s3: &str,
    ) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("url = \"s3://{bucket}/p\"");
        let tables = format!(
            "[store.s3]\nendpoint = \"http://127.0.0.1:{}\"\nallow_http = true\nmax_retries = 2\nretry_timeout_secs = 5\nrequest_timeout_secs = 10\n{s3}",
            proxy.port
        );
        let parts = ConfigParts {
            state: "state",
            store: &store,
            tables: &tables,
            hosts: &["news.nankai.edu.cn"],
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

    /// A check: (exit code, report).
    fn check(&self) -> (i32, Value) {
        let prom = self.prom();
        let out = self
            .command(&[
                "--check",
                "--format",
                "text",
                "--prom-file",
                prom.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let report = std::fs::read_to_string(self.dir.path().join("report.json")).unwrap();
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_str(&report).unwrap(),
        )
    }

    /// The last check's metrics file.
    fn prom(&self) -> PathBuf {
        self.dir.path().join("metrics.prom")
    }

    /// How many URLs the state database says are archived.
    fn archived(&self) -> usize {
        let out = self.command(&["export"]).output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

fn objects(bucket: &Bucket) -> Vec<(String, u64)> {
    bucket.keys("p/sha256")
}

#[test]
fn an_unavailable_object_service_is_reported_and_nothing_is_claimed() {
    let Some(moto) = Moto::start() else { return };
    let bucket = moto.bucket("faults");
    let proxy = FaultProxy::start(moto.port);
    let s = nankai();
    let setup = Setup::new(&s, &proxy, "faults", &fixture("seeds"), "");
    for mode in [UNAVAILABLE, DROP, DENIED] {
        proxy.set(mode);
        let (code, report) = setup.check();
        assert_eq!(
            code, 3,
            "mode {mode}: a store fault ends the run with exit 3"
        );
        let errors = &report["summary"]["store_error"];
        assert_eq!(errors["objects"], 4, "mode {mode}: {errors}");
        assert_eq!(report["summary"]["store"]["objects_stored"], 0);
        let metrics = std::fs::read_to_string(setup.prom()).unwrap();
        assert!(
            metrics.contains("archive_store_errors{kind=\"object\"} 4\n"),
            "{metrics}"
        );
        // The checks went on: the links are still judged ok.
        let images: Vec<&Value> = links_of(&report, "001_2f62085cd5636d82.txt")
            .into_iter()
            .filter(|l| l["kind"] == "image")
            .collect();
        assert_eq!(images.len(), 3);
        for l in images {
            assert_eq!(l["status"], "ok", "{l}");
            assert_eq!(l["store"]["reason"], "store_unavailable", "{l}");
            assert!(l["store"]["sha256"].is_null());
        }
        common::assert_schema(&report);
        assert_eq!(
            setup.archived(),
            0,
            "mode {mode}: nothing recorded as stored"
        );
        assert!(objects(&bucket).is_empty());
    }
    // The service is back: the same run stores everything.
    proxy.set(PASS);
    let (code, report) = setup.check();
    // 1: the seeds' own broken links, as with a local store.
    assert_eq!(code, 1, "{}", report["summary"]);
    assert!(report["summary"]["store_error"].is_null());
    assert_eq!(report["summary"]["store"]["objects_stored"], 4);
    assert_eq!(objects(&bucket).len(), 4);
    assert_eq!(setup.archived(), 4);
}

/// A JPEG-shaped body of `mib` MiB.
fn big_jpeg(mib: usize) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0];
    v.extend((0..mib * 1024 * 1024).map(|i| (i % 251) as u8));
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

#[test]
fn kill_9_during_a_multipart_upload_leaves_no_object() {
    let Some(moto) = Moto::start() else { return };
    let bucket = moto.bucket("killed");
    let proxy = FaultProxy::start(moto.port);
    let s = TestServer::start();
    let body = big_jpeg(40);
    let sha = sha256_hex(&body);
    s.route("/pic/big.jpg", Reply::Ok("image/jpeg", body));
    let corpus = tempfile::tempdir().unwrap();
    std::fs::write(
        corpus.path().join("big.md"),
        "# Big\n\n![big](http://news.nankai.edu.cn/pic/big.jpg)\n",
    )
    .unwrap();
    let setup = Setup::new(
        &s,
        &proxy,
        "killed",
        corpus.path(),
        "multipart_threshold = 5242880\npart_size = 5242880",
    );
    proxy.set(SLOW);
    let mut child = setup
        .command(&["--check", "--format", "text"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the multipart upload has begun (moto lists it), then kill.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, listing) = moto.raw("GET", "/killed?uploads", b"").unwrap();
        if String::from_utf8_lossy(&listing).contains("<UploadId>") {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "archive ended before its upload began"
        );
        assert!(Instant::now() < deadline, "no multipart upload began");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        objects(&bucket).is_empty(),
        "no visible object after kill -9: {:?}",
        objects(&bucket)
    );
    // The next run uploads it whole.
    proxy.set(PASS);
    let (code, report) = setup.check();
    assert_eq!(code, 0, "{}", report["summary"]);
    let stored = objects(&bucket);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, 40 * 1024 * 1024 + 13);
    assert!(stored[0].0.ends_with(&sha));
    assert_eq!(sha256_hex(&bucket.get(&stored[0].0)), sha);
}
