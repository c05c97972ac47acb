//! What an object is, whatever holds it: bytes named by their sha256, kept
//! at `sha256/<h[0..2]>/<h[2..4]>/<hex>` (the layout git and restic use)
//! in a folder ([`super::local`]) or under a bucket's prefix
//! ([`super::remote`]).
//!
//! [`ObjectBackend`] is the seam between the store and where its objects
//! live: put a body under its digest (begin + commit), ask whether one is
//! there and how big, read one as a stream, list, delete, quarantine. Both
//! backends stage a body the same way: it streams into a
//! [`PendingObject`] (a temporary file in the store folder's `tmp/`),
//! hashed as it goes, so memory stays bounded whatever its size; only a
//! complete, judged body is committed, and a pending object dropped
//! without commit deletes itself.
//!
//! Keys and paths are only ever built from hex digests this module
//! computed or validated ([`is_hex_digest`]), never from a URL.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// An object in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub sha256: String,
    pub size: u64,
    /// False when the same bytes were already stored (deduplicated).
    pub new: bool,
}

/// A stream of an object's bytes, for the daemon's `/objects/<sha>`.
pub type ByteStream = futures_util::stream::BoxStream<'static, io::Result<bytes::Bytes>>;

/// Where objects live: the store's operations on them. Methods block (the
/// remote backend runs its requests on a runtime of its own, see
/// [`super::remote`]); async callers go through
/// [`crate::check::body::blocking`].
pub trait ObjectBackend: Send + Sync {
    /// `local` or `s3`, for `archive stats`, the dashboard and metrics.
    fn kind(&self) -> &'static str;
    /// Where the objects are: a folder, or `s3://bucket/prefix`.
    fn location(&self) -> String;
    /// The folder holding the objects, when they are local files (export
    /// `--rewrite` links to them, the daemon serves them with ranges).
    fn local_root(&self) -> Option<&Path>;
    /// Starts a new object, staged in a local temporary file.
    fn begin(&self) -> io::Result<PendingObject>;
    /// Publishes a complete object under its digest; skipped (`new:
    /// false`) when the same bytes are already there.
    fn commit(&self, pending: PendingObject) -> io::Result<StoredObject>;
    /// The object's size, `None` when it is not there. An error means the
    /// backend could not say (unreachable), never "absent".
    fn size(&self, sha256: &str) -> io::Result<Option<u64>>;
    /// The object's bytes, streamed (`NotFound` when it is not there).
    fn read(&self, sha256: &str) -> io::Result<Box<dyn Read + Send>>;
    /// The object's size and bytes as an async stream, `None` when it is
    /// not there; the bytes are never held whole.
    fn stream(
        &self,
        sha256: &str,
    ) -> futures_util::future::BoxFuture<'static, io::Result<Option<(u64, ByteStream)>>>;
    /// Every object: (digest, size), sorted. Keys that are not digests at
    /// their place in the layout are skipped.
    fn list(&self) -> io::Result<Vec<(String, u64)>>;
    /// Deletes an object.
    fn delete(&self, sha256: &str) -> io::Result<()>;
    /// Moves an object out of the store, to `quarantine/`; says where.
    fn quarantine(&self, sha256: &str) -> io::Result<String>;
    /// Bytes free where bodies are staged.
    fn free_space(&self) -> Option<u64>;

    /// The bucket, when the objects are in one shared by several nodes
    /// (their reference manifests live there, see [`super::manifest`]).
    fn bucket(&self) -> Option<&super::remote::RemoteObjects> {
        None
    }

    /// True when the object is present with the expected size.
    fn contains(&self, sha256: &str, size: u64) -> io::Result<bool> {
        Ok(self.size(sha256)? == Some(size))
    }

    /// Re-hashes one object; true when its bytes match its name.
    fn verify(&self, sha256: &str) -> io::Result<bool> {
        let mut reader = self.read(sha256)?;
        Ok(hash_reader(&mut reader)? == sha256)
    }
}

/// An object service that could not be reached or did not answer (after
/// its retries): the wrapped cause of an `io::Error`, so callers can tell
/// "could not ask" from "not there" or "bad bytes".
#[derive(Debug, thiserror::Error)]
#[error("object service unavailable: {0}")]
pub struct Unavailable(pub String);

/// True when `e` is an [`Unavailable`].
pub fn is_unavailable(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Unavailable>())
}

/// True for a lower-case 64-digit hex string.
pub fn is_hex_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The store's layout, relative to its folder or prefix:
/// `sha256/<h[0..2]>/<h[2..4]>/<hex>`. `None` for anything but a digest.
pub fn relative_object_path(sha256: &str) -> Option<PathBuf> {
    is_hex_digest(sha256).then(|| {
        Path::new("sha256")
            .join(&sha256[0..2])
            .join(&sha256[2..4])
            .join(sha256)
    })
}

/// The same layout as a `/`-separated key.
pub fn object_key(sha256: &str) -> Option<String> {
    is_hex_digest(sha256).then(|| format!("sha256/{}/{}/{sha256}", &sha256[0..2], &sha256[2..4]))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 of everything `reader` gives, read in 1 MiB pieces.
pub fn hash_reader(reader: &mut dyn Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// An object being written; dropped without being committed, it leaves
/// nothing behind.
pub struct PendingObject {
    file: BufWriter<tempfile::NamedTempFile>,
    hasher: Sha256,
    size: u64,
}

/// A whole body, staged and hashed, ready to publish.
pub struct StagedObject {
    pub sha256: String,
    pub size: u64,
    /// The bytes, in a temporary file deleted when dropped.
    pub file: tempfile::NamedTempFile,
}

impl PendingObject {
    /// Starts staging in `tmp` (a folder on the store's disk).
    pub fn begin_in(tmp: &Path) -> io::Result<PendingObject> {
        let file = tempfile::Builder::new().prefix("obj-").tempfile_in(tmp)?;
        Ok(PendingObject {
            file: BufWriter::with_capacity(256 * 1024, file),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.file.write_all(chunk)?;
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Ends the body: its digest, size and staged bytes.
    pub fn finish(self) -> io::Result<StagedObject> {
        let sha256 = hex(&self.hasher.finalize());
        let file = self.file.into_inner().map_err(|e| e.into_error())?;
        Ok(StagedObject {
            sha256,
            size: self.size,
            file,
        })
    }
}

impl StagedObject {
    /// Opens the staged bytes for reading from the start.
    pub fn reopen(&self) -> io::Result<File> {
        self.file.reopen()
    }
}

/// Streams an object into `path` (written beside, then renamed: a copy
/// cut short never looks whole), checking its digest on the way.
pub fn copy_out(objects: &dyn ObjectBackend, sha256: &str, path: &Path) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(path);
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut reader = objects.read(sha256)?;
    let mut tee = HashingWriter {
        inner: tmp.as_file_mut(),
        hasher: Sha256::new(),
    };
    std::io::copy(&mut reader, &mut tee)?;
    let got = hex(&tee.hasher.finalize());
    if got != sha256 {
        return Err(std::io::Error::other(format!(
            "its bytes hash to {got}; run `archive verify`"
        )));
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes through, hashing what passes.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_paths_need_digests() {
        let sha = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
        assert_eq!(object_key(sha).unwrap(), format!("sha256/b9/4d/{sha}"));
        assert_eq!(
            relative_object_path(sha).unwrap(),
            Path::new(&object_key(sha).unwrap())
        );
        assert!(object_key("../../etc/passwd").is_none());
        assert!(object_key(&"A".repeat(64)).is_none());
    }

    #[test]
    fn staging_hashes_as_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = PendingObject::begin_in(dir.path()).unwrap();
        p.write(b"hello ").unwrap();
        p.write(b"world").unwrap();
        let staged = p.finish().unwrap();
        assert_eq!(
            staged.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(staged.size, 11);
        let mut again = staged.reopen().unwrap();
        assert_eq!(hash_reader(&mut again).unwrap(), staged.sha256);
    }
}
