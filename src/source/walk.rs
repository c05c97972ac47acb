//! A folder walk in name order that keeps only names in memory.
//!
//! Reporting a corpus in the same order on every run means reading each
//! folder whole and sorting it before yielding its first entry. `walkdir`
//! (used here before) keeps a whole `DirEntry` per name for that, about
//! 200 bytes with its path: a scraper's flat folder of 100,000 articles
//! took 20 MB of a check's peak, 200 MB for a million. This walk keeps
//! each folder's names in one byte buffer with a 16-byte slot per name
//! (≈ 35 bytes a name) and builds an entry's path only when it yields it.
//!
//! What it does, as the corpus needs it ([`super::corpus`]):
//! - depth first, each folder's entries sorted by the bytes of their
//!   names (so the order is the same on every machine);
//! - symbolic links are followed: an entry's file type is its target's,
//!   and [`WalkEntry::is_symlink`] says it was a link;
//! - a folder is yielded before its entries and read only when the walk
//!   goes on, so [`SortedWalk::skip_current_dir`] right after it yields a
//!   folder keeps it from being read at all;
//! - a link back to a folder the walk is inside (a loop) is an error for
//!   that entry, not an endless walk;
//! - an error (a folder that cannot be read, a link whose target is gone)
//!   is yielded for its path, and the walk goes on.

use std::ffi::OsStr;
use std::fs::FileType;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A file or folder met by the walk.
#[derive(Debug)]
pub struct WalkEntry {
    pub path: PathBuf,
    /// The type of what the path names, links followed.
    pub file_type: FileType,
    /// The entry itself is a symbolic link.
    pub is_symlink: bool,
}

/// What went wrong at `path`.
#[derive(Debug)]
pub struct WalkError {
    pub path: PathBuf,
    pub kind: WalkErrorKind,
}

#[derive(Debug)]
pub enum WalkErrorKind {
    /// The folder could not be listed.
    ReadFolder(io::Error),
    /// The symbolic link's target could not be read (it may be gone).
    FollowLink(io::Error),
    /// The entry was listed but its type could not be read.
    ReadEntry(io::Error),
    /// The link points to a folder the walk is inside.
    Loop { ancestor: PathBuf },
}

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        match &self.kind {
            WalkErrorKind::ReadFolder(e) => write!(f, "cannot list folder {path}: {e}"),
            WalkErrorKind::FollowLink(e) => {
                write!(f, "cannot follow the symbolic link {path}: {e}")
            }
            WalkErrorKind::ReadEntry(e) => write!(f, "cannot read {path}: {e}"),
            WalkErrorKind::Loop { ancestor } => write!(
                f,
                "{path} is a symbolic link to {}, a folder it is in; not followed (a loop)",
                ancestor.display()
            ),
        }
    }
}

/// A folder's names, sorted, in one buffer.
struct Names {
    bytes: Vec<u8>,
    /// Start and length in `bytes`, and the entry's own type (links not
    /// followed); `None` when it could not be read, which is that entry's
    /// error, not the folder's.
    slots: Vec<(u32, u32, Option<FileType>)>,
}

impl Names {
    fn read(folder: &Path) -> io::Result<Names> {
        let mut names = Names {
            bytes: Vec::new(),
            slots: Vec::new(),
        };
        for entry in std::fs::read_dir(folder)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.as_bytes();
            let (Ok(start), Ok(len)) =
                (u32::try_from(names.bytes.len()), u32::try_from(name.len()))
            else {
                return Err(io::Error::other(
                    "folder too large to list (over 4 GB of names)",
                ));
            };
            // Where the folder does not say the type, reading it is a
            // `lstat`, which fails for a file removed since the listing:
            // gone, so not an entry. Another error is that entry's.
            let file_type = match entry.file_type() {
                Ok(t) => Some(t),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(_) => None,
            };
            names.bytes.extend_from_slice(name);
            names.slots.push((start, len, file_type));
        }
        let bytes = &names.bytes;
        let name = |&(start, len, _): &(u32, u32, Option<FileType>)| {
            &bytes[start as usize..][..len as usize]
        };
        // Names in one folder are unique: no order among equals to keep.
        names.slots.sort_unstable_by(|a, b| name(a).cmp(name(b)));
        names.bytes.shrink_to_fit();
        names.slots.shrink_to_fit();
        Ok(names)
    }

    fn get(&self, i: usize) -> Option<(&OsStr, Option<FileType>)> {
        let &(start, len, file_type) = self.slots.get(i)?;
        let name = &self.bytes[start as usize..][..len as usize];
        Some((OsStr::from_bytes(name), file_type))
    }
}

/// A folder being walked.
struct Folder {
    path: PathBuf,
    /// Its device and inode, to catch links back into it.
    id: (u64, u64),
    names: Names,
    next: usize,
}

/// The walk of one root folder.
pub struct SortedWalk {
    /// Folders being walked, outermost first.
    stack: Vec<Folder>,
    /// A folder yielded and not read yet, with its id: read when the walk
    /// goes on, unless skipped.
    pending: Option<(PathBuf, (u64, u64))>,
}

impl SortedWalk {
    /// Walks the folder `root` (links in it followed).
    pub fn new(root: &Path) -> SortedWalk {
        let id = std::fs::metadata(root).map_or((0, 0), |m| (m.dev(), m.ino()));
        SortedWalk {
            stack: Vec::new(),
            pending: Some((root.to_path_buf(), id)),
        }
    }

    /// Does not read the folder just yielded.
    pub fn skip_current_dir(&mut self) {
        self.pending = None;
    }

    fn ancestor_with(&self, id: (u64, u64)) -> Option<&Path> {
        self.stack
            .iter()
            .find(|f| f.id == id)
            .map(|f| f.path.as_path())
    }
}

impl Iterator for SortedWalk {
    type Item = Result<WalkEntry, WalkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((path, id)) = self.pending.take() {
            match Names::read(&path) {
                Ok(names) => self.stack.push(Folder {
                    path,
                    id,
                    names,
                    next: 0,
                }),
                Err(e) => {
                    return Some(Err(WalkError {
                        path,
                        kind: WalkErrorKind::ReadFolder(e),
                    }))
                }
            }
        }
        loop {
            let folder = self.stack.last_mut()?;
            let Some((name, own_type)) = folder.names.get(folder.next) else {
                self.stack.pop();
                continue;
            };
            folder.next += 1;
            let path = folder.path.join(name);
            let own_type = match own_type {
                Some(t) => t,
                None => match std::fs::symlink_metadata(&path) {
                    Ok(m) => m.file_type(),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        let kind = WalkErrorKind::ReadEntry(e);
                        return Some(Err(WalkError { path, kind }));
                    }
                },
            };
            let is_symlink = own_type.is_symlink();
            let (file_type, id) = if is_symlink || own_type.is_dir() {
                match std::fs::metadata(&path) {
                    Ok(m) => (m.file_type(), (m.dev(), m.ino())),
                    Err(e) if is_symlink => {
                        let kind = WalkErrorKind::FollowLink(e);
                        return Some(Err(WalkError { path, kind }));
                    }
                    // A folder gone since it was listed: reading it says so.
                    Err(_) => (own_type, (0, 0)),
                }
            } else {
                (own_type, (0, 0))
            };
            if file_type.is_dir() {
                if let Some(ancestor) = self.ancestor_with(id).filter(|_| id != (0, 0)) {
                    let ancestor = ancestor.to_path_buf();
                    return Some(Err(WalkError {
                        path,
                        kind: WalkErrorKind::Loop { ancestor },
                    }));
                }
                self.pending = Some((path.clone(), id));
            }
            return Some(Ok(WalkEntry {
                path,
                file_type,
                is_symlink,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(root: &Path) -> Vec<String> {
        SortedWalk::new(root)
            .map(|e| match e {
                Ok(e) => {
                    let rel = e.path.strip_prefix(root).unwrap().display().to_string();
                    if e.file_type.is_dir() {
                        format!("{rel}/")
                    } else {
                        rel
                    }
                }
                Err(e) => format!("error: {}", e.path.strip_prefix(root).unwrap().display()),
            })
            .collect()
    }

    #[test]
    fn folders_come_before_their_entries_and_names_in_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in ["b/z.md", "b/a.md", "a.md", "B.md", "c/d/e.md", "a0.md"] {
            let path = root.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        assert_eq!(
            walk(root),
            ["B.md", "a.md", "a0.md", "b/", "b/a.md", "b/z.md", "c/", "c/d/", "c/d/e.md"]
        );
    }

    #[test]
    fn the_same_order_as_walkdir_sorted_by_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let names = [
            "ä.md", "a.md", "a b.md", "a-b.md", "a_b.md", "~.md", "10.md", "9.md",
        ];
        for (i, n) in names.iter().enumerate() {
            std::fs::create_dir_all(root.join(format!("d{}", i % 3))).unwrap();
            std::fs::write(root.join(format!("d{}", i % 3)).join(n), "x").unwrap();
            std::fs::write(root.join(n), "x").unwrap();
        }
        let ours: Vec<PathBuf> = SortedWalk::new(root).map(|e| e.unwrap().path).collect();
        let theirs: Vec<PathBuf> = walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .min_depth(1)
            .into_iter()
            .map(|e| e.unwrap().into_path())
            .collect();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn links_are_followed_loops_and_dangling_links_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.md"), "x").unwrap();
        std::os::unix::fs::symlink(root.join("sub"), root.join("linked")).unwrap();
        std::os::unix::fs::symlink(root, root.join("sub/up")).unwrap();
        std::os::unix::fs::symlink(root.join("gone.md"), root.join("dangling.md")).unwrap();
        let entries = walk(root);
        assert_eq!(
            entries,
            [
                "error: dangling.md",
                "linked/",
                "linked/a.md",
                "error: linked/up",
                "sub/",
                "sub/a.md",
                "error: sub/up"
            ]
        );
        let link = SortedWalk::new(root)
            .find_map(|e| e.ok().filter(|e| e.path.ends_with("linked")))
            .unwrap();
        assert!(link.is_symlink && link.file_type.is_dir());
    }

    #[test]
    fn a_skipped_folder_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("a/x.md"), "x").unwrap();
        std::fs::write(root.join("b.md"), "x").unwrap();
        let mut walk = SortedWalk::new(root);
        let first = walk.next().unwrap().unwrap();
        assert!(first.path.ends_with("a"));
        walk.skip_current_dir();
        let rest: Vec<PathBuf> = walk.map(|e| e.unwrap().path).collect();
        assert_eq!(rest, [root.join("b.md")]);
    }

    #[test]
    fn an_unreadable_root_is_one_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let entries: Vec<_> = SortedWalk::new(&missing).collect();
        assert_eq!(entries.len(), 1);
        let err = entries.into_iter().next().unwrap().unwrap_err();
        assert_eq!(err.path, missing);
        assert!(err.to_string().contains("cannot list folder"), "{err}");
    }
}
