//! An S3-compatible server for tests: moto's server mode (`moto_server`,
//! installed by `.ci/run`), started on 127.0.0.1 on a free port, killed
//! when dropped, and a small client to look into its buckets behind
//! archive's back.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// A running moto server.
pub struct Moto {
    child: Child,
    pub port: u16,
}

/// The credentials the tests give archive (moto accepts any).
pub const ENV: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "archive-test"),
    ("AWS_SECRET_ACCESS_KEY", "archive-test-secret"),
];

impl Moto {
    /// Starts moto, or returns `None` after [`super::tool_missing`] (which
    /// fails under `CI=true`) when `moto_server` is not installed.
    pub fn start() -> Option<Moto> {
        let port = super::free_port();
        let child = match Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                super::tool_missing(&format!(
                    "moto_server cannot be started ({e}); install it with pip install 'moto[server]'"
                ));
                return None;
            }
        };
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if moto
                .raw("GET", "/", b"")
                .is_some_and(|(code, _)| code == 200)
            {
                return Some(moto);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto_server did not answer on port {port} within 30 s");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One plain HTTP/1.1 request (moto does not check signatures):
    /// (status, body), `None` when nothing answered.
    pub fn raw(&self, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        );
        s.write_all(head.as_bytes()).ok()?;
        s.write_all(body).ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).ok()?;
        let text = String::from_utf8_lossy(&out);
        let code = text.split_whitespace().nth(1)?.parse().ok()?;
        let at = out.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        Some((code, out[at..].to_vec()))
    }

    /// Creates a bucket.
    pub fn bucket(&self, name: &str) -> Bucket {
        let (code, body) = self
            .raw("PUT", &format!("/{name}"), b"")
            .expect("moto answers");
        assert_eq!(
            code,
            200,
            "create bucket: {}",
            String::from_utf8_lossy(&body)
        );
        Bucket::new(&self.endpoint(), name)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bucket seen directly, not through archive.
pub struct Bucket {
    rt: tokio::runtime::Runtime,
    store: AmazonS3,
    pub name: String,
}

impl Bucket {
    pub fn new(endpoint: &str, name: &str) -> Bucket {
        let store = AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_bucket_name(name)
            .with_region("us-east-1")
            .with_access_key_id(ENV[0].1)
            .with_secret_access_key(ENV[1].1)
            .build()
            .unwrap();
        Bucket {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            store,
            name: name.to_string(),
        }
    }

    /// Every key (with its size), sorted; under `prefix` when not empty.
    pub fn keys(&self, prefix: &str) -> Vec<(String, u64)> {
        self.rt.block_on(async {
            let prefix = (!prefix.is_empty()).then(|| Key::from(prefix));
            let mut list = self.store.list(prefix.as_ref());
            let mut out = Vec::new();
            while let Some(meta) = list.next().await {
                let meta = meta.unwrap();
                out.push((meta.location.to_string(), meta.size));
            }
            out.sort();
            out
        })
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        self.rt.block_on(async {
            let got = self.store.get(&Key::from(key)).await.unwrap();
            got.bytes().await.unwrap().to_vec()
        })
    }

    pub fn put(&self, key: &str, bytes: Vec<u8>) {
        self.rt.block_on(async {
            self.store
                .put(&Key::from(key), PutPayload::from(bytes))
                .await
                .unwrap();
        });
    }
}

/// The sha256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
