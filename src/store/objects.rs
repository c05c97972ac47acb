//! The content-addressed object store: every file kept once, named by the
//! sha256 of its bytes, at `<store>/sha256/<h[0..2]>/<h[2..4]>/<hex>` (the
//! layout git and restic use).
//!
//! A download streams into a [`PendingObject`] in the store's own `tmp/`,
//! hashed as it goes. Committing fsyncs the file, renames it into place and
//! fsyncs the folder, so a `kill -9` at any moment leaves either no object
//! or a whole, correct one; an abandoned pending object deletes itself.
//! Leftovers of a killed process are removed by [`ObjectStore::open`],
//! which also takes the store's lock so that no other process is writing.
//! The lock (`flock`) and the free-space query (`statvfs`) go through
//! `rustix`'s safe bindings rather than `unsafe` libc calls: `rustix` is
//! already in the tree through `tempfile`, and `fs4` would only wrap the
//! same calls in another API.
//!
//! Paths are only ever built from hex digests this module computed or
//! validated ([`is_hex_digest`]), never from a URL.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::StoreError;

/// An object in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub sha256: String,
    pub size: u64,
    /// False when the same bytes were already stored (deduplicated).
    pub new: bool,
}

/// The object store rooted at a folder.
pub struct ObjectStore {
    root: PathBuf,
    /// Held for the store's lifetime: one writing process at a time.
    _lock: File,
}

/// True for a lower-case 64-digit hex string.
pub fn is_hex_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The store's layout, relative to its folder:
/// `sha256/<h[0..2]>/<h[2..4]>/<hex>`. `None` for anything but a digest.
pub fn relative_object_path(sha256: &str) -> Option<PathBuf> {
    is_hex_digest(sha256).then(|| {
        Path::new("sha256")
            .join(&sha256[0..2])
            .join(&sha256[2..4])
            .join(sha256)
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// fsyncs a folder so a rename into it survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl ObjectStore {
    /// Opens (creating) the store at `root`, takes its lock and removes
    /// temporaries left by a killed process.
    pub fn open(root: &Path) -> Result<ObjectStore, StoreError> {
        let fail = |what: &'static str, source: io::Error| StoreError::Folder {
            root: root.to_path_buf(),
            what,
            source,
        };
        for sub in ["sha256", "tmp", "quarantine"] {
            fs::create_dir_all(root.join(sub)).map_err(|e| fail("create folders", e))?;
        }
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join("lock"))
            .map_err(|e| fail("open its lock file", e))?;
        // An advisory lock tied to the open file: the kernel drops it when
        // the process dies, however it dies, so no stale lock survives a
        // `kill -9`. Only "would block" means another process holds it.
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                return Err(StoreError::Locked {
                    root: root.to_path_buf(),
                });
            }
            Err(e) => return Err(fail("lock its lock file", e.into())),
        }
        let store = ObjectStore {
            root: root.to_path_buf(),
            _lock: lock,
        };
        let removed = store.clean_tmp().map_err(|e| fail("clean tmp/", e))?;
        if removed > 0 {
            tracing::info!(
                removed,
                "removed temporary files left by an interrupted run"
            );
        }
        // A store that cannot be written to is an error now, not mid-run.
        store.begin().map_err(|e| fail("write", e))?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn clean_tmp(&self) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(self.root.join("tmp"))? {
            fs::remove_file(entry?.path())?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Where the object with digest `sha256` lives. `None` for anything that
    /// is not a digest, so no caller can build a path from other input.
    pub fn object_path(&self, sha256: &str) -> Option<PathBuf> {
        relative_object_path(sha256).map(|p| self.root.join(p))
    }

    /// True when the object is present with the expected size.
    pub fn contains(&self, sha256: &str, size: u64) -> bool {
        self.object_path(sha256)
            .and_then(|p| fs::metadata(p).ok())
            .is_some_and(|m| m.len() == size)
    }

    /// Starts a new object in `tmp/`.
    pub fn begin(&self) -> io::Result<PendingObject> {
        let file = tempfile::Builder::new()
            .prefix("obj-")
            .tempfile_in(self.root.join("tmp"))?;
        Ok(PendingObject {
            file: BufWriter::with_capacity(256 * 1024, file),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Bytes free on the store's file system.
    pub fn free_space(&self) -> Option<u64> {
        let stat = rustix::fs::statvfs(&self.root).ok()?;
        // `f_frsize` is a narrower integer on some targets.
        #[allow(clippy::unnecessary_cast)]
        Some(stat.f_bavail.saturating_mul(stat.f_frsize as u64))
    }

    /// Every object file: (digest, path, size). Files whose names are not
    /// digests are skipped.
    pub fn objects(&self) -> Vec<(String, PathBuf, u64)> {
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(self.root.join("sha256"))
            .into_iter()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().to_string();
            if entry.file_type().is_file() && is_hex_digest(&name) {
                let size = entry.metadata().map_or(0, |m| m.len());
                out.push((name, entry.into_path(), size));
            }
        }
        out.sort();
        out
    }

    /// Re-hashes one object; true when its bytes match its name.
    pub fn verify(&self, sha256: &str) -> io::Result<bool> {
        let path = self
            .object_path(sha256)
            .ok_or_else(|| io::Error::other("not a digest"))?;
        let mut file = File::open(path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hex(&hasher.finalize()) == sha256)
    }

    /// Moves an object to `quarantine/`, out of the store.
    pub fn quarantine(&self, sha256: &str) -> io::Result<PathBuf> {
        let from = self
            .object_path(sha256)
            .ok_or_else(|| io::Error::other("not a digest"))?;
        let to = self.root.join("quarantine").join(format!(
            "{sha256}.{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S")
        ));
        fs::rename(&from, &to)?;
        Ok(to)
    }

    /// Deletes an object.
    pub fn remove(&self, sha256: &str) -> io::Result<()> {
        match self.object_path(sha256) {
            Some(p) => fs::remove_file(p),
            None => Err(io::Error::other("not a digest")),
        }
    }
}

/// An object being written; dropped without [`PendingObject::commit`], it
/// leaves nothing behind.
pub struct PendingObject {
    file: BufWriter<tempfile::NamedTempFile>,
    hasher: Sha256,
    size: u64,
}

impl PendingObject {
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.file.write_all(chunk)?;
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Makes the object durable and visible under its digest.
    pub fn commit(self, store: &ObjectStore) -> io::Result<StoredObject> {
        self.commit_at(store.root())
    }

    /// [`PendingObject::commit`] into the store rooted at `root`, for a
    /// blocking thread that cannot borrow the [`ObjectStore`]: the checker
    /// runs each commit on its own thread, so that the fsyncs of several
    /// downloads overlap (one at a time, a disk that takes milliseconds
    /// per fsync caps small-object ingest; several in flight, it does not).
    pub fn commit_at(self, root: &Path) -> io::Result<StoredObject> {
        let sha256 = hex(&self.hasher.finalize());
        let size = self.size;
        let tmp = self.file.into_inner().map_err(|e| e.into_error())?;
        let target = relative_object_path(&sha256)
            .map(|p| root.join(p))
            .ok_or_else(|| io::Error::other("bad digest"))?;
        if fs::metadata(&target).is_ok_and(|m| m.len() == size) {
            // Same bytes already stored: keep the existing file.
            return Ok(StoredObject {
                sha256,
                size,
                new: false,
            });
        }
        tmp.as_file().sync_all()?;
        let dir = target.parent().unwrap_or(root);
        fs::create_dir_all(dir)?;
        tmp.persist(&target).map_err(|e| e.error)?;
        sync_dir(dir)?;
        Ok(StoredObject {
            sha256,
            size,
            new: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_dedup_verify_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(dir.path()).unwrap();
        let mut p = store.begin().unwrap();
        p.write(b"hello ").unwrap();
        p.write(b"world").unwrap();
        let o = p.commit(&store).unwrap();
        assert_eq!(
            o.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert!(o.new);
        let path = store.object_path(&o.sha256).unwrap();
        assert!(path.ends_with(
            "sha256/b9/4d/b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        ));
        let mut again = store.begin().unwrap();
        again.write(b"hello world").unwrap();
        assert!(!again.commit(&store).unwrap().new);
        assert!(store.verify(&o.sha256).unwrap());
        fs::write(&path, b"hello worle").unwrap();
        assert!(!store.verify(&o.sha256).unwrap());
        store.quarantine(&o.sha256).unwrap();
        assert!(!path.exists());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn abandoned_objects_leave_nothing_and_paths_need_digests() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(dir.path()).unwrap();
        let mut p = store.begin().unwrap();
        p.write(b"partial").unwrap();
        drop(p);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(store.object_path("../../etc/passwd").is_none());
        assert!(store.object_path(&"A".repeat(64)).is_none());
    }

    #[test]
    fn second_process_is_refused_and_stale_tmp_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        {
            let _store = ObjectStore::open(dir.path()).unwrap();
            let err = ObjectStore::open(dir.path()).err().unwrap().to_string();
            assert!(err.contains("in use"), "{err}");
            fs::write(dir.path().join("tmp/obj-left-by-kill"), b"x").unwrap();
        }
        let _store = ObjectStore::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn free_space_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(dir.path()).unwrap();
        assert!(store.free_space().is_some_and(|free| free > 0));
    }
}
