//! The local backend: objects as files under a folder,
//! `<root>/sha256/<h[0..2]>/<h[2..4]>/<hex>`.
//!
//! A body is staged in the folder's own `tmp/` ([`PendingObject`]).
//! Committing fsyncs the file, renames it into place and fsyncs the
//! folder, so a `kill -9` at any moment leaves either no object or a
//! whole, correct one. Leftovers of a killed process are removed by
//! [`LocalObjects::open`], which also takes the folder's lock so that no
//! other process is writing ([`lock_folder`]). The lock (`flock`) and the
//! free-space query (`statvfs`) go through `rustix`'s safe bindings rather
//! than `unsafe` libc calls: `rustix` is already in the tree through
//! `tempfile`, and `fs4` would only wrap the same calls in another API.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::objects::{
    relative_object_path, ByteStream, ObjectBackend, PendingObject, StoredObject,
};
use super::StoreError;

/// The object store rooted at a folder.
pub struct LocalObjects {
    root: PathBuf,
    /// Held for the store's lifetime: one writing process at a time.
    _lock: File,
}

/// fsyncs a folder so a rename into it survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// How long [`lock_folder`] waits for a lock held by someone else before
/// it says the store is in use. A lock can outlive its holder by a moment:
/// a process that is exiting, or a child being spawned by another thread
/// of this process, which holds a copy of every descriptor (the lock's
/// too) until its `exec` closes them. A gc right after a check, in a
/// process that runs other commands (the tests do), met that about once
/// in ten runs.
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Takes the lock of a store folder (`<root>/lock`): one archive process
/// per folder. The kernel drops it when the process dies, however it
/// dies, so no stale lock survives a `kill -9`. Blocks up to
/// [`LOCK_GRACE`] when the lock is held: not for an async worker thread.
pub fn lock_folder(root: &Path) -> Result<File, StoreError> {
    let fail = |what: &'static str, source: io::Error| StoreError::Folder {
        root: root.to_path_buf(),
        what,
        source,
    };
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join("lock"))
        .map_err(|e| fail("open its lock file", e))?;
    let give_up = std::time::Instant::now() + LOCK_GRACE;
    loop {
        // Only "would block" means someone else holds it.
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(lock),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                if std::time::Instant::now() >= give_up {
                    return Err(StoreError::Locked {
                        root: root.to_path_buf(),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(fail("lock its lock file", e.into())),
        }
    }
}

/// Removes what a killed process left in `tmp`; how many files.
pub fn clean_tmp(tmp: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(tmp)? {
        fs::remove_file(entry?.path())?;
        removed += 1;
    }
    if removed > 0 {
        tracing::info!(
            removed,
            "removed temporary files left by an interrupted run"
        );
    }
    Ok(removed)
}

/// Bytes free on the file system holding `path`.
pub fn free_space(path: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(path).ok()?;
    // `f_frsize` is a narrower integer on some targets.
    #[allow(clippy::unnecessary_cast)]
    Some(stat.f_bavail.saturating_mul(stat.f_frsize as u64))
}

fn not_a_digest() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a digest")
}

impl LocalObjects {
    /// Opens (creating) the store at `root`, takes its lock and removes
    /// temporaries left by a killed process.
    pub fn open(root: &Path) -> Result<LocalObjects, StoreError> {
        let fail = |what: &'static str, source: io::Error| StoreError::Folder {
            root: root.to_path_buf(),
            what,
            source,
        };
        for sub in ["sha256", "tmp", "quarantine"] {
            fs::create_dir_all(root.join(sub)).map_err(|e| fail("create folders", e))?;
        }
        let lock = lock_folder(root)?;
        let store = LocalObjects {
            root: root.to_path_buf(),
            _lock: lock,
        };
        clean_tmp(&root.join("tmp")).map_err(|e| fail("clean tmp/", e))?;
        // A store that cannot be written to is an error now, not mid-run.
        store.begin().map_err(|e| fail("write", e))?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the object with digest `sha256` lives. `None` for anything that
    /// is not a digest, so no caller can build a path from other input.
    pub fn object_path(&self, sha256: &str) -> Option<PathBuf> {
        relative_object_path(sha256).map(|p| self.root.join(p))
    }
}

impl ObjectBackend for LocalObjects {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }

    fn begin(&self) -> io::Result<PendingObject> {
        PendingObject::begin_in(&self.root.join("tmp"))
    }

    fn commit(&self, pending: PendingObject) -> io::Result<StoredObject> {
        let staged = pending.finish()?;
        let (sha256, size) = (staged.sha256.clone(), staged.size);
        let target = self
            .object_path(&sha256)
            .ok_or_else(|| io::Error::other("bad digest"))?;
        if self.contains(&sha256, size)? {
            // Same bytes already stored: keep the existing file.
            return Ok(StoredObject {
                sha256,
                size,
                new: false,
            });
        }
        staged.file.as_file().sync_all()?;
        let dir = target.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir)?;
        staged.file.persist(&target).map_err(|e| e.error)?;
        sync_dir(dir)?;
        Ok(StoredObject {
            sha256,
            size,
            new: true,
        })
    }

    fn size(&self, sha256: &str) -> io::Result<Option<u64>> {
        // Unreadable counts as absent, as it always has here: the body is
        // downloaded again and the commit says what is wrong.
        Ok(self
            .object_path(sha256)
            .and_then(|p| fs::metadata(p).ok())
            .map(|m| m.len()))
    }

    fn read(&self, sha256: &str) -> io::Result<Box<dyn Read + Send>> {
        let path = self.object_path(sha256).ok_or_else(not_a_digest)?;
        Ok(Box::new(File::open(path)?))
    }

    fn stream(
        &self,
        sha256: &str,
    ) -> futures_util::future::BoxFuture<'static, io::Result<Option<(u64, ByteStream)>>> {
        use futures_util::StreamExt;
        let path = self.object_path(sha256);
        Box::pin(async move {
            let path = path.ok_or_else(not_a_digest)?;
            let file = match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let size = file.metadata().await?.len();
            let stream = tokio_util::io::ReaderStream::new(file).boxed();
            Ok(Some((size, stream)))
        })
    }

    fn list(&self) -> io::Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(self.root.join("sha256"))
            .into_iter()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().to_string();
            if entry.file_type().is_file() && super::objects::is_hex_digest(&name) {
                let size = entry.metadata().map_or(0, |m| m.len());
                out.push((name, size));
            }
        }
        out.sort();
        Ok(out)
    }

    fn delete(&self, sha256: &str) -> io::Result<()> {
        match self.object_path(sha256) {
            Some(p) => fs::remove_file(p),
            None => Err(not_a_digest()),
        }
    }

    fn quarantine(&self, sha256: &str) -> io::Result<String> {
        let from = self.object_path(sha256).ok_or_else(not_a_digest)?;
        let to = self.root.join("quarantine").join(format!(
            "{sha256}.{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S")
        ));
        fs::rename(&from, &to)?;
        Ok(to.display().to_string())
    }

    fn free_space(&self) -> Option<u64> {
        free_space(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_waited_for_a_moment_then_reported() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_folder(dir.path()).unwrap();
        let start = std::time::Instant::now();
        let err = lock_folder(dir.path()).expect_err("the lock is held");
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(start.elapsed() >= LOCK_GRACE);
        // Released within the grace (a holder that is exiting): taken.
        let release = std::thread::spawn(move || {
            std::thread::sleep(LOCK_GRACE / 4);
            drop(held);
        });
        let taken = lock_folder(dir.path());
        release.join().unwrap();
        assert!(taken.is_ok(), "{:?}", taken.err());
    }

    #[test]
    fn commit_dedup_verify_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalObjects::open(dir.path()).unwrap();
        let mut p = store.begin().unwrap();
        p.write(b"hello ").unwrap();
        p.write(b"world").unwrap();
        let o = store.commit(p).unwrap();
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
        assert!(!store.commit(again).unwrap().new);
        assert!(store.verify(&o.sha256).unwrap());
        assert_eq!(store.list().unwrap(), vec![(o.sha256.clone(), 11)]);
        fs::write(&path, b"hello worle").unwrap();
        assert!(!store.verify(&o.sha256).unwrap());
        store.quarantine(&o.sha256).unwrap();
        assert!(!path.exists());
        assert_eq!(store.size(&o.sha256).unwrap(), None);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn abandoned_objects_leave_nothing_and_paths_need_digests() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalObjects::open(dir.path()).unwrap();
        let mut p = store.begin().unwrap();
        p.write(b"partial").unwrap();
        drop(p);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(store.object_path("../../etc/passwd").is_none());
        assert!(store.object_path(&"A".repeat(64)).is_none());
        assert!(store.read("../../etc/passwd").is_err());
    }

    #[test]
    fn second_process_is_refused_and_stale_tmp_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        {
            let _store = LocalObjects::open(dir.path()).unwrap();
            let err = LocalObjects::open(dir.path()).err().unwrap().to_string();
            assert!(err.contains("in use"), "{err}");
            fs::write(dir.path().join("tmp/obj-left-by-kill"), b"x").unwrap();
        }
        let _store = LocalObjects::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn free_space_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalObjects::open(dir.path()).unwrap();
        assert!(store.free_space().is_some_and(|free| free > 0));
    }
}
