//! The S3 backend: objects in a bucket of an S3-compatible service (AWS,
//! MinIO, Ceph RGW, Garage, R2, moto), under
//! `<prefix>/sha256/<h[0..2]>/<h[2..4]>/<hex>`, through the `object_store`
//! crate (Apache Arrow) rather than hand-written requests.
//!
//! A body is staged exactly as for the local backend: hashed while it
//! streams into a temporary file in the store folder's `tmp/`, so memory
//! stays bounded whatever its size. Only a complete body that was judged
//! valid is committed, and committing first asks the bucket (HEAD) whether
//! the key is already there with that size: content-addressed objects are
//! immutable, so two nodes storing the same bytes write the same key and
//! nothing needs a lock. Otherwise the staged file is read back, hashed
//! again on the way out (a staged file changed on disk is never published
//! under a digest it does not have), and sent: in one PUT up to
//! `store.s3.multipart_threshold`, else as a multipart upload of
//! `store.s3.part_size` parts, at most two in flight. S3 makes an object
//! visible only when its PUT or its multipart completion succeeds, so a
//! process killed mid-upload leaves no object under the key; a failed
//! multipart upload is aborted, and one cut off by `kill -9` stays
//! invisible until the bucket's lifecycle rule
//! (`AbortIncompleteMultipartUpload`) removes its parts.
//!
//! Requests are retried by `object_store` with exponential backoff
//! (`store.s3.max_retries`, `retry_timeout_secs`); what still fails is an
//! [`Unavailable`] error, which the checker reports as
//! `store_unavailable` without claiming the object.
//!
//! The store's methods block. The requests run on a small runtime of this
//! backend's own (two threads), whatever thread asks: its connections then
//! live as long as the backend, not as long as whichever runtime happened
//! to make them (a daemon's run, a CLI command), and a caller inside
//! another runtime waits on a channel instead of nesting runtimes.
//!
//! The service's address comes from the configuration, never from a
//! document, so the private-address guard for document URLs
//! (`check.allow_private`) does not apply to it: a MinIO on 127.0.0.1 is
//! a normal setup.

use std::future::Future;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::objects::{
    hex, object_key, ByteStream, ObjectBackend, PendingObject, StoredObject, Unavailable,
};
use crate::config::S3Config;

/// Parts of a multipart upload in flight at once (memory: this many parts
/// plus the one being filled).
const PARTS_IN_FLIGHT: usize = 2;

/// Chunks of an object read ahead of its reader.
const READ_AHEAD: usize = 4;

/// Uploads at once, whatever `check.concurrency`: each holds up to
/// `multipart_threshold` bytes (one PUT) or three parts in memory, so
/// this bounds the backend's memory (64 MiB with the defaults).
const UPLOADS_AT_ONCE: usize = 4;

/// A bucket (and prefix) holding the store's objects.
pub struct RemoteObjects {
    client: Arc<dyn ObjectStore>,
    bucket: String,
    /// Without slashes at either end; may be empty.
    prefix: String,
    /// The store folder's `tmp/`, where bodies are staged.
    staging: PathBuf,
    multipart_threshold: u64,
    part_size: usize,
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    /// Permits for [`UPLOADS_AT_ONCE`].
    uploads: Arc<tokio::sync::Semaphore>,
}

/// Any `object_store` error but "not found": the service could not be
/// used, after its retries.
fn unavailable(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        e => io::Error::other(Unavailable(e.to_string())),
    }
}

fn not_a_digest() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a digest")
}

impl RemoteObjects {
    /// A client for `s3://bucket/prefix`, staging in `staging`. Makes no
    /// request: an unreachable service shows at the first object.
    pub fn open(
        bucket: &str,
        prefix: &str,
        config: &S3Config,
        staging: &Path,
    ) -> Result<RemoteObjects, String> {
        // The environment first (credentials, AWS_ENDPOINT_URL,
        // AWS_REGION...), then what config.toml says, which wins.
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(!config.path_style)
            .with_allow_http(config.allow_http)
            .with_retry(object_store::RetryConfig {
                backoff: object_store::BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(10),
                    base: 2.0,
                },
                max_retries: config.max_retries as usize,
                retry_timeout: Duration::from_secs_f64(config.retry_timeout_secs),
            })
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_allow_http(config.allow_http)
                    .with_timeout(Duration::from_secs_f64(config.request_timeout_secs))
                    .with_connect_timeout(Duration::from_secs(10)),
            );
        if !config.endpoint.is_empty() {
            builder = builder.with_endpoint(&config.endpoint);
        }
        if !config.region.is_empty() {
            builder = builder.with_region(&config.region);
        } else if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            builder = builder.with_region("us-east-1");
        }
        if let Some(keys) = super::credentials::from_shared_file() {
            builder = builder
                .with_access_key_id(keys.access_key_id)
                .with_secret_access_key(keys.secret_access_key);
            if let Some(token) = keys.session_token {
                builder = builder.with_token(token);
            }
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot set up the S3 client: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("archive-s3")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the S3 client's threads: {e}"))?;
        Ok(RemoteObjects {
            client: Arc::new(client),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            staging: staging.to_path_buf(),
            multipart_threshold: config.multipart_threshold,
            part_size: usize::try_from(config.part_size).unwrap_or(8 * 1024 * 1024),
            runtime: Some(runtime),
            uploads: Arc::new(tokio::sync::Semaphore::new(UPLOADS_AT_ONCE)),
        })
    }

    /// The key of a name relative to the prefix.
    fn key(&self, relative: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(relative)
        } else {
            Key::from(format!("{}/{relative}", self.prefix))
        }
    }

    fn object(&self, sha256: &str) -> io::Result<Key> {
        object_key(sha256)
            .map(|k| self.key(&k))
            .ok_or_else(not_a_digest)
    }

    fn handle(&self) -> io::Result<tokio::runtime::Handle> {
        self.runtime
            .as_ref()
            .map(|r| r.handle().clone())
            .ok_or_else(|| io::Error::other(Unavailable("the S3 client is shutting down".into())))
    }

    /// Runs `work` on the backend's runtime and waits for it.
    fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = io::Result<T>> + Send + 'static,
    ) -> io::Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle()?.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv().unwrap_or_else(|_| {
            Err(io::Error::other(Unavailable(
                "the S3 request was dropped".into(),
            )))
        })
    }

    /// Writes a small object (a manifest) under `relative`.
    pub fn put_small(&self, relative: &str, bytes: Vec<u8>) -> io::Result<()> {
        let (client, key) = (self.client.clone(), self.key(relative));
        self.run(async move {
            client
                .put(&key, PutPayload::from(bytes))
                .await
                .map(drop)
                .map_err(unavailable)
        })
    }

    /// Reads a small object whole.
    pub fn get_small(&self, relative: &str) -> io::Result<Vec<u8>> {
        let (client, key) = (self.client.clone(), self.key(relative));
        self.run(async move {
            let got = client.get(&key).await.map_err(unavailable)?;
            Ok(got.bytes().await.map_err(unavailable)?.to_vec())
        })
    }

    /// Names (relative to the prefix) and last-modified times of the
    /// objects under `relative/`.
    pub fn list_under(
        &self,
        relative: &str,
    ) -> io::Result<Vec<(String, u64, chrono::DateTime<chrono::Utc>)>> {
        let (client, key) = (self.client.clone(), self.key(relative));
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        self.run(async move {
            let mut listing = client.list(Some(&key));
            let mut out = Vec::new();
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(unavailable)?;
                let name = meta.location.as_ref();
                if let Some(rest) = name.strip_prefix(&prefix) {
                    out.push((rest.to_string(), meta.size, meta.last_modified));
                }
            }
            out.sort();
            Ok(out)
        })
    }

    /// When each object was last written: (digest, size, time).
    pub fn list_with_times(&self) -> io::Result<Vec<(String, u64, chrono::DateTime<chrono::Utc>)>> {
        Ok(self
            .list_under("sha256")?
            .into_iter()
            .filter_map(|(name, size, at)| {
                let sha = name.rsplit('/').next()?.to_string();
                (object_key(&sha)? == name).then_some((sha, size, at))
            })
            .collect())
    }
}

impl Drop for RemoteObjects {
    fn drop(&mut self) {
        // Allowed inside another runtime, unlike dropping it.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Sends a staged body under `key`, re-hashing it on the way; publishes
/// nothing unless every byte was sent and the digest matched.
async fn upload(
    client: Arc<dyn ObjectStore>,
    key: Key,
    mut file: tokio::fs::File,
    sha256: String,
    size: u64,
    threshold: u64,
    part_size: usize,
) -> io::Result<()> {
    let mut hasher = Sha256::new();
    let changed = || {
        io::Error::other(format!(
            "the staged body no longer hashes to {sha256}; not uploaded"
        ))
    };
    if size <= threshold {
        let mut body = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut body).await?;
        hasher.update(&body);
        if hex(&hasher.finalize()) != sha256 {
            return Err(changed());
        }
        client
            .put(&key, PutPayload::from(body))
            .await
            .map_err(unavailable)?;
        return Ok(());
    }
    let started = client.put_multipart(&key).await.map_err(unavailable)?;
    let mut writer = WriteMultipart::new_with_chunk_size(started, part_size);
    let mut buf = vec![0u8; part_size];
    let sent: io::Result<()> = async {
        loop {
            let n = read_full(&mut file, &mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            hasher.update(&buf[..n]);
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(unavailable)?;
            writer.write(&buf[..n]);
        }
    }
    .await;
    let sent = sent.and_then(|()| {
        if hex(&hasher.finalize()) == sha256 {
            Ok(())
        } else {
            Err(changed())
        }
    });
    match sent {
        // `finish` aborts the upload itself when completing fails.
        Ok(()) => writer.finish().await.map(drop).map_err(unavailable),
        Err(e) => {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(%key, "cannot abort a failed multipart upload ({abort}); its parts stay invisible until the bucket's lifecycle rule removes them");
            }
            Err(e)
        }
    }
}

/// Fills `buf` as far as the file allows; 0 at its end.
async fn read_full(file: &mut tokio::fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// An object's bytes as the blocking reader of a channel the backend's
/// runtime fills, a few chunks ahead.
struct ChannelReader {
    chunks: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Starts streaming `key` on `handle`: its size (`None` when absent), and
/// its chunks through a bounded channel.
async fn open_stream(
    handle: tokio::runtime::Handle,
    client: Arc<dyn ObjectStore>,
    key: Key,
) -> io::Result<Option<(u64, tokio::sync::mpsc::Receiver<io::Result<Bytes>>)>> {
    let (meta_tx, meta_rx) = tokio::sync::oneshot::channel();
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
    handle.spawn(async move {
        let got = match client.get(&key).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                let _ = meta_tx.send(Ok(None));
                return;
            }
            Err(e) => {
                let _ = meta_tx.send(Err(unavailable(e)));
                return;
            }
        };
        let _ = meta_tx.send(Ok(Some(got.meta.size)));
        let mut chunks = got.into_stream();
        while let Some(chunk) = chunks.next().await {
            if tx.send(chunk.map_err(unavailable)).await.is_err() {
                break; // the reader went away
            }
        }
    });
    let size = meta_rx.await.unwrap_or_else(|_| {
        Err(io::Error::other(Unavailable(
            "the S3 request was dropped".into(),
        )))
    })?;
    Ok(size.map(|size| (size, rx)))
}

impl ObjectBackend for RemoteObjects {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn location(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    fn local_root(&self) -> Option<&Path> {
        None
    }

    fn bucket(&self) -> Option<&RemoteObjects> {
        Some(self)
    }

    fn begin(&self) -> io::Result<PendingObject> {
        PendingObject::begin_in(&self.staging)
    }

    fn commit(&self, pending: PendingObject) -> io::Result<StoredObject> {
        let staged = pending.finish()?;
        let (sha256, size) = (staged.sha256.clone(), staged.size);
        // The cheap question first: another node (or an earlier run) may
        // have stored the same bytes.
        if self.contains(&sha256, size)? {
            return Ok(StoredObject {
                sha256,
                size,
                new: false,
            });
        }
        let file = tokio::fs::File::from_std(staged.reopen()?);
        let uploads = self.uploads.clone();
        let work = upload(
            self.client.clone(),
            self.object(&sha256)?,
            file,
            sha256.clone(),
            size,
            self.multipart_threshold,
            self.part_size,
        );
        self.run(async move {
            let _permit = uploads.acquire_owned().await.map_err(io::Error::other)?;
            work.await
        })?;
        // The staged file is deleted only now, whatever happened.
        drop(staged);
        Ok(StoredObject {
            sha256,
            size,
            new: true,
        })
    }

    fn size(&self, sha256: &str) -> io::Result<Option<u64>> {
        let (client, key) = (self.client.clone(), self.object(sha256)?);
        self.run(async move {
            match client.head(&key).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(unavailable(e)),
            }
        })
    }

    fn read(&self, sha256: &str) -> io::Result<Box<dyn Read + Send>> {
        let opened = open_stream(self.handle()?, self.client.clone(), self.object(sha256)?);
        match self.run(opened)? {
            Some((_, chunks)) => Ok(Box::new(ChannelReader {
                chunks,
                current: Bytes::new(),
            })),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "no such object")),
        }
    }

    fn stream(
        &self,
        sha256: &str,
    ) -> futures_util::future::BoxFuture<'static, io::Result<Option<(u64, ByteStream)>>> {
        let ready = self
            .handle()
            .and_then(|h| Ok((h, self.client.clone(), self.object(sha256)?)));
        Box::pin(async move {
            let (handle, client, key) = ready?;
            let Some((size, chunks)) = open_stream(handle, client, key).await? else {
                return Ok(None);
            };
            let stream = futures_util::stream::unfold(chunks, |mut chunks| async move {
                chunks.recv().await.map(|chunk| (chunk, chunks))
            });
            Ok(Some((size, stream.boxed())))
        })
    }

    fn list(&self) -> io::Result<Vec<(String, u64)>> {
        Ok(self
            .list_with_times()?
            .into_iter()
            .map(|(sha, size, _)| (sha, size))
            .collect())
    }

    fn delete(&self, sha256: &str) -> io::Result<()> {
        let (client, key) = (self.client.clone(), self.object(sha256)?);
        self.run(async move { client.delete(&key).await.map_err(unavailable) })
    }

    fn quarantine(&self, sha256: &str) -> io::Result<String> {
        let from = self.object(sha256)?;
        let name = format!(
            "quarantine/{sha256}.{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S")
        );
        let to = self.key(&name);
        let client = self.client.clone();
        let shown = format!("s3://{}/{to}", self.bucket);
        self.run(async move {
            client.copy(&from, &to).await.map_err(unavailable)?;
            client.delete(&from).await.map_err(unavailable)
        })?;
        Ok(shown)
    }

    fn free_space(&self) -> Option<u64> {
        super::local::free_space(&self.staging)
    }
}
