//! The corpus: files and folders on disk, walked lazily in a stable order.
//!
//! Folders are walked in name order ([`super::walk`]), so two runs report
//! in the same order; a file is an input when it matches one of the include
//! globs and none of the exclude globs. Globs are matched against the path
//! relative to the folder given, so `**/*.md` means the same thing wherever
//! the corpus lives. A path named explicitly (a file, not a folder) is
//! always an input: the user asked for it.
//!
//! Only regular files are read. A FIFO, socket or device, named on the
//! command line or met in a folder (and matching the globs, as a regular
//! file would have to), is yielded as [`Input::Skipped`] with a note
//! naming it: opening a FIFO blocks until someone writes to it, which
//! used to hang the run forever, and one in a folder was silently left
//! out. [`super::read_input`] checks again on the opened descriptor.
//!
//! Symbolic links are followed (the walk catches loops) as long as their
//! target, resolved with `canonicalize`, lies inside one of the scanned
//! roots (the paths given, resolved the same way). A link whose target is
//! elsewhere (`notes/x.md -> /etc/hostname`) is not read unless
//! `corpus.follow_symlinks` is set: it is yielded as [`Input::Skipped`]
//! naming the link and its target, and a linked folder out there is not
//! entered. A corpus is often a scraper's output or someone else's
//! checkout; a link in it must not make `archive` read, and quote in its
//! report, files the user never pointed it at. A root named on the command
//! line is read wherever it points: the user named it. The check is made
//! when the walk meets the link; a link re-pointed between the walk and
//! the read is not caught (whoever can do that can edit the corpus).
//!
//! The globs arrive compiled with the configuration ([`Globs`]), so
//! building a walker cannot fail.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use super::walk::{SortedWalk, WalkEntry};
use super::{non_regular_kind, not_regular, path_string, Input, Source};
use crate::config::{CorpusConfig, Globs};

/// Walks the configured paths and yields each article file once.
pub struct CorpusSource {
    roots: VecDeque<PathBuf>,
    current: Option<(PathBuf, SortedWalk)>,
    include: Globs,
    exclude: Globs,
    follow_symlinks: bool,
    /// The roots, resolved: where a link may point when
    /// `follow_symlinks` is off.
    real_roots: Vec<PathBuf>,
}

impl CorpusSource {
    /// Builds a walker over `paths` with the globs of `config`, compiled
    /// when the configuration was parsed.
    pub fn new(paths: &[PathBuf], config: &CorpusConfig) -> CorpusSource {
        CorpusSource {
            roots: paths.iter().cloned().collect(),
            current: None,
            include: config.include.clone(),
            exclude: config.exclude.clone(),
            follow_symlinks: config.follow_symlinks,
            real_roots: paths
                .iter()
                .filter_map(|p| std::fs::canonicalize(p).ok())
                .collect(),
        }
    }

    /// For a link whose target is outside every root (and following such
    /// links is off): the input that reports it.
    fn escaping_link(&self, entry: &WalkEntry) -> Option<Input> {
        if self.follow_symlinks || !entry.is_symlink {
            return None;
        }
        let target = std::fs::canonicalize(&entry.path).ok()?;
        if self.real_roots.iter().any(|root| target.starts_with(root)) {
            return None;
        }
        let reason = format!(
            "{} is a symbolic link to {}, outside the scanned folders; it was not read (set corpus.follow_symlinks = true to read such links)",
            path_string(&entry.path),
            path_string(&target)
        );
        Some(Input::Skipped {
            path: entry.path.clone(),
            reason,
        })
    }

    fn wanted(&self, root: &Path, path: &Path) -> bool {
        let relative = path.strip_prefix(root).unwrap_or(path);
        self.include.is_match(relative) && !self.exclude.is_match(relative)
    }
}

impl Source for CorpusSource {
    fn next_input(&mut self) -> Option<Input> {
        loop {
            if let Some((_, walker)) = &mut self.current {
                match walker.next() {
                    Some(Ok(entry)) => {
                        let escaping = self.escaping_link(&entry);
                        if entry.file_type.is_dir() {
                            match escaping {
                                Some(input) => {
                                    if let Some((_, walker)) = &mut self.current {
                                        walker.skip_current_dir();
                                    }
                                    return Some(input);
                                }
                                None => continue,
                            }
                        }
                        let Some((root, _)) = &self.current else {
                            continue;
                        };
                        if !self.wanted(root, &entry.path) {
                            continue;
                        }
                        if let Some(input) = escaping {
                            return Some(input);
                        }
                        return Some(match non_regular_kind(&entry.file_type) {
                            None => Input::File(entry.path),
                            Some(kind) => skipped_not_regular(entry.path, kind),
                        });
                    }
                    Some(Err(e)) => {
                        return Some(Input::Unreadable {
                            reason: e.to_string(),
                            path: e.path,
                        });
                    }
                    None => self.current = None,
                }
            }
            let root = self.roots.pop_front()?;
            match std::fs::metadata(&root) {
                Ok(m) if m.is_dir() => {
                    let walker = SortedWalk::new(&root);
                    self.current = Some((root, walker));
                }
                Ok(m) => {
                    return Some(match non_regular_kind(&m.file_type()) {
                        None => Input::File(root),
                        Some(kind) => skipped_not_regular(root, kind),
                    })
                }
                // Reading it reports the error with the path.
                Err(_) => return Some(Input::File(root)),
            }
        }
    }
}

/// A FIFO, socket or device: reported as `skipped`, never opened.
fn skipped_not_regular(path: PathBuf, kind: &str) -> Input {
    let reason = not_regular(&path_string(&path), kind);
    Input::Skipped { path, reason }
}
