//! Report files that appear whole or not at all.
//!
//! A report is read while runs replace it (the daemon's `/report.json`, a
//! monitoring job, a person with `jq`), so nobody may ever see half of
//! one. A [`PendingFile`] is written in the folder of its final path as an
//! anonymous file (`O_TMPFILE` on Linux): it has no name while it is
//! written, so a run killed with `kill -9` leaves nothing behind, however
//! long it ran. [`PendingFile::commit`] makes it durable (fsync), gives
//! it a temporary name (`linkat` through `/proc/self/fd`) and renames that
//! over the final path, which readers see switch from the old file to
//! the new one in one step.
//!
//! Where the file system has no anonymous files (NFS, some FUSE file
//! systems), or `/proc` is not mounted, the same steps run with a named
//! temporary file, with the limits of those file systems: the file
//! being written is created and unlinked at once (NFS keeps it visible as
//! `.nfsXXXX` while it is open), and `commit` copies what was written into
//! a hidden `.archive-*.tmp` (a kernel copy) before the rename, which a
//! kill during that copy leaves behind.
//!
//! Writing into the final folder from the start is what lets the JSON
//! report stream its largest array straight into place: it used to be
//! spilled to `/tmp` and copied in at the end, a serial 60 ms of a 0.5 s
//! run on 10,000 articles.

use std::fs::File;
use std::io::{self, Seek};
use std::path::{Path, PathBuf};

/// A file being written for `path`, invisible until committed.
pub struct PendingFile {
    file: File,
    path: PathBuf,
}

impl PendingFile {
    /// An empty file for `path`, created in `path`'s folder (so the final
    /// rename never crosses file systems). Fails if the folder is missing
    /// or not writable: the run finds out at its start, not at its end.
    pub fn create(path: &Path) -> io::Result<PendingFile> {
        let file = tempfile::tempfile_in(folder_of(path))?;
        release_cache_of(path);
        Ok(PendingFile {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The file, for writing. Writes through another handle of it (a
    /// `try_clone`) land in the same file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Puts the file at its path: world-readable, fsynced, then renamed
    /// over whatever was there. On error nothing was replaced and no
    /// temporary name is left behind.
    pub fn commit(self) -> io::Result<()> {
        seal(&self.file)?;
        let dir = folder_of(&self.path).to_path_buf();
        let named = tempfile::Builder::new()
            .prefix(".archive-")
            .suffix(".tmp")
            .make_in(&dir, |name| link_anonymous(&self.file, name));
        let path = self.path.clone();
        let named = match named {
            Ok(named) => named,
            Err(_) => self.copy_into_named(&dir)?,
        };
        named.persist(&path).map_err(|e| e.error)?;
        // The rename itself, durable: some file systems lose it in a
        // crash until the folder is synced. Not every one can sync a
        // folder, hence best effort.
        if let Ok(folder) = File::open(&dir) {
            let _ = folder.sync_all();
        }
        Ok(())
    }

    /// The fallback of [`PendingFile::commit`]: a named temporary file
    /// with a copy of what was written, fsynced.
    fn copy_into_named(mut self, dir: &Path) -> io::Result<tempfile::NamedTempFile<()>> {
        let named = tempfile::Builder::new()
            .prefix(".archive-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        self.file.rewind()?;
        // `File` to `&File`: copy_file_range on Linux, no trip through
        // user space.
        io::copy(&mut self.file, &mut named.as_file())?;
        seal(named.as_file())?;
        let (file, path) = named.into_parts();
        drop(file);
        // Back under tempfile's care, so that a failed rename removes it.
        Ok(tempfile::NamedTempFile::from_parts((), path))
    }
}

/// Writeback of a file while it is still being written: every
/// [`SyncAhead::EVERY`] bytes, a thread of its own fsyncs what is there so
/// far, so that the disk works while the run computes and the fsync of
/// [`PendingFile::commit`] finds little left to wait for (on 10,000
/// articles it was 45 ms of a 72 MB report, serial at the end of the run).
///
/// The thread's handle shares the file's open description, and Linux
/// reports a writeback error once per description: an error the thread
/// saw would not show again in `commit`'s fsync. So the thread keeps its
/// first error and [`SyncAhead::finish`] returns it, before any commit.
pub struct SyncAhead {
    kick: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
    /// Set when the writer is done: a kick still queued is not synced.
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    unsynced: usize,
}

impl SyncAhead {
    const EVERY: usize = 8 << 20;

    /// Syncs `file` (a handle of the file being written) ahead.
    pub fn new(file: File) -> SyncAhead {
        use std::sync::atomic::Ordering;
        // One kick waits at most; a writer faster than the disk is never
        // held up, later kicks fold into the waiting one.
        let (kick, kicked) = std::sync::mpsc::sync_channel::<()>(1);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("report-sync".into())
            .spawn({
                let done = done.clone();
                move || {
                    while kicked.recv().is_ok() && !done.load(Ordering::Relaxed) {
                        file.sync_data()?;
                    }
                    Ok(())
                }
            })
            .ok();
        SyncAhead {
            kick: Some(kick),
            thread,
            done,
            unsynced: 0,
        }
    }

    /// Counts `bytes` written; past [`SyncAhead::EVERY`], kicks a sync.
    pub fn wrote(&mut self, bytes: usize) {
        self.unsynced += bytes;
        if self.unsynced >= SyncAhead::EVERY {
            self.unsynced = 0;
            if let Some(kick) = &self.kick {
                let _ = kick.try_send(());
            }
        }
    }

    /// Waits for a sync under way and returns the first error any sync
    /// met, so that a report whose writeback failed is never committed.
    pub fn finish(mut self) -> io::Result<()> {
        self.stop();
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the report's sync thread panicked")),
            None => Ok(()),
        }
    }

    fn stop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        self.kick = None;
    }
}

impl Drop for SyncAhead {
    /// A report given up (a cancelled run, a pass judged again): the
    /// thread ends after the sync under way, if any, without being waited
    /// for (it may be an fsync of a slow disk, and this may be an async
    /// task).
    fn drop(&mut self) {
        self.stop();
    }
}

/// Drops the page cache of the file at `path` (the report this run will
/// replace), in a thread of its own. The rename in [`PendingFile::commit`]
/// frees the old file, cache and blocks, inside the syscall, at the very
/// end of the run: 217 ms for a 720 MB report of 100,000 articles, 90 of
/// them dropping its cache. Dropped now, that work overlaps the run.
/// Readers of the old report read it from the disk meanwhile; nothing
/// else changes. Best effort: a missing file or an error is no matter.
fn release_cache_of(path: &Path) {
    let Ok(old) = File::open(path) else { return };
    if !old.metadata().is_ok_and(|m| m.is_file() && m.len() > 0) {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("report-uncache".into())
        .spawn(move || {
            let _ = rustix::fs::fadvise(&old, 0, None, rustix::fs::Advice::DontNeed);
        });
}

/// Makes a report file world-readable, as reports were, and durable.
fn seal(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.sync_all()
}

/// Gives the anonymous `file` the name `name`.
#[cfg(target_os = "linux")]
fn link_anonymous(file: &File, name: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(
        rustix::fs::CWD,
        proc_path.as_str(),
        rustix::fs::CWD,
        name,
        rustix::fs::AtFlags::SYMLINK_FOLLOW,
    )?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn link_anonymous(_file: &File, _name: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// The folder `path` is in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Whether something other than a regular file is at `path` (a device, a
/// FIFO), or the path is in `/dev` or `/proc` (`/dev/stdout` redirected
/// to a file resolves to a regular file, but renaming over it would
/// replace the link): such a target is written to directly.
pub fn is_special(path: &Path) -> bool {
    path.starts_with("/dev")
        || path.starts_with("/proc")
        || std::fs::metadata(path).is_ok_and(|m| !m.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_pending_file_has_no_name_until_committed_then_replaces_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, "old").unwrap();
        let pending = PendingFile::create(&path).unwrap();
        (&mut pending.file()).write_all(b"new report").unwrap();
        // Written but not committed: only the old file is there.
        assert_eq!(names_in(dir.path()), ["report.json"]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        pending.commit().unwrap();
        assert_eq!(names_in(dir.path()), ["report.json"]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new report");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn a_dropped_pending_file_leaves_nothing_and_the_old_file_stands() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, "old").unwrap();
        let pending = PendingFile::create(&path).unwrap();
        (&mut pending.file()).write_all(b"half a rep").unwrap();
        drop(pending);
        assert_eq!(names_in(dir.path()), ["report.json"]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    }

    #[test]
    fn the_copying_fallback_gives_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let pending = PendingFile::create(&path).unwrap();
        (&mut pending.file()).write_all(b"copied whole").unwrap();
        let named = pending.copy_into_named(dir.path()).unwrap();
        named.persist(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "copied whole");
        assert_eq!(names_in(dir.path()), ["report.json"]);
    }

    #[test]
    fn paths_in_dev_and_proc_are_written_in_place_never_replaced() {
        // `/dev/stdout` redirected to a file resolves to a regular file;
        // renaming over it would replace the link.
        assert!(is_special(Path::new("/dev/stdout")));
        assert!(is_special(Path::new("/proc/self/fd/1")));
        assert!(is_special(Path::new("/dev/null")));
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_special(&dir.path().join("report.json")));
        std::fs::write(dir.path().join("report.json"), "x").unwrap();
        assert!(!is_special(&dir.path().join("report.json")));
    }

    #[test]
    fn a_missing_folder_fails_at_create() {
        let dir = tempfile::tempdir().unwrap();
        let err = PendingFile::create(&dir.path().join("no/such/report.json"));
        assert!(err.is_err());
    }
}
