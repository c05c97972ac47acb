//! Sources: where documents come from, decoded to text, with their header.
//!
//! A [`Source`] yields [`Input`]s one at a time, so a corpus of 100,000
//! articles is never held in memory at once: the
//! [`corpus::CorpusSource`] walks files and folders. Crawled pages are
//! fetched by the engine's crawl driver ([`crate::engine`]), which reads
//! `robots.txt` through [`robots`].
//!
//! Reading an input gives a [`Document`]: the text (decoded from UTF-8,
//! UTF-16, GBK/GB18030 or whatever `chardetng` guesses), the detected
//! [`Format`] and the [`Header`] (title, date, source URL) that the front
//! matter or key-value header carried. Anything that goes wrong with one
//! file becomes a [`Document`] with status `error` or `skipped`; it never
//! stops the scan.
//!
//! ## Paths in the report
//!
//! A file name on Unix is bytes, not text; the report's `path` is a JSON
//! string. [`path_string`] writes every byte that is part of valid UTF-8
//! as itself, every other byte as `\xNN` (two lowercase hex digits) and a
//! backslash as `\\`, so the form is reversible ([`path_from_string`]) and
//! two distinct files never share a report path (the lossy conversion
//! used before made every invalid byte U+FFFD, so the names `a<FF>.md` and
//! `a<FE>.md` were both reported as `a�.md`). Backslash escaping rather
//! than percent escaping because `%` is common in the names of scraped
//! files (URL-encoded names saved as they were), and a reversible percent
//! form would have to escape every `%` too, changing many real names; a
//! backslash in a Unix file name is rare. Names that are valid UTF-8 and
//! hold no backslash, nearly all of them, are reported unchanged.

pub mod corpus;
pub mod decode;
pub mod format;
pub mod robots;
mod walk;

use std::path::PathBuf;

use serde::Serialize;

pub use format::{Format, Header};

/// One thing to scan, before it is read.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file of the corpus.
    File(PathBuf),
    /// A file that was found but will not be read, and why.
    Skipped { path: PathBuf, reason: String },
    /// A path that could not even be listed (permissions, a broken link).
    Unreadable { path: PathBuf, reason: String },
}

/// Anything that yields inputs: corpus folders today, crawled pages later.
pub trait Source {
    /// The next input, or `None` when the source is exhausted.
    fn next_input(&mut self) -> Option<Input>;
}

/// How a document fared as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    Ok,
    Skipped,
    Error,
}

/// A document read and decoded, ready for extraction.
#[derive(Debug, Clone)]
pub struct Document {
    /// Where it came from (a path, or a URL for crawled pages).
    pub path: String,
    pub format: Format,
    /// The encoding the bytes were decoded from, e.g. `UTF-8`, `GBK`.
    pub encoding: &'static str,
    pub status: DocumentStatus,
    /// Why the document is `skipped` or `error`.
    pub error: Option<String>,
    /// Non-fatal remarks (lossy decoding, unreadable header, …).
    pub notes: Vec<String>,
    pub header: Header,
    /// The body, header removed.
    pub body: String,
    /// 1-based line number of the body's first line in the original file.
    pub body_line: usize,
    /// Size of the file in bytes.
    pub bytes: u64,
}

impl Document {
    /// A document that could not be read; it is reported, not scanned.
    pub fn failed(path: String, status: DocumentStatus, reason: String) -> Document {
        Document {
            path,
            format: Format::Unknown,
            encoding: "",
            status,
            error: Some(reason),
            notes: Vec::new(),
            header: Header::default(),
            body: String::new(),
            body_line: 1,
            bytes: 0,
        }
    }

    /// Decodes `bytes` and splits off the header. Never fails: a binary or
    /// undecodable file comes back as a `skipped` document.
    pub fn from_bytes(path: String, bytes: &[u8]) -> Document {
        Document::from_cow(path, std::borrow::Cow::Borrowed(bytes))
    }

    /// [`Document::from_bytes`], taking the bytes: a UTF-8 file (most of
    /// them) becomes the body without being copied.
    pub fn from_vec(path: String, bytes: Vec<u8>) -> Document {
        Document::from_cow(path, std::borrow::Cow::Owned(bytes))
    }

    fn from_cow(path: String, bytes: std::borrow::Cow<'_, [u8]>) -> Document {
        let size = bytes.len() as u64;
        if decode::looks_binary(&bytes) {
            return Document::failed(
                path,
                DocumentStatus::Skipped,
                "binary file (contains NUL bytes); not an article".into(),
            );
        }
        let decoded = match bytes {
            std::borrow::Cow::Borrowed(b) => decode::decode(b),
            std::borrow::Cow::Owned(v) => decode::decode_owned(v),
        };
        let mut notes = Vec::new();
        if decoded.lossy {
            notes.push(format!(
                "some bytes are not valid {}; they were replaced with U+FFFD",
                decoded.encoding
            ));
        }
        let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
        let parsed = format::parse(&decoded.text, &ext);
        notes.extend(parsed.notes);
        if let Some(reason) = parsed.error {
            // Hostile front matter: the document is reported, not scanned.
            let mut doc = Document::failed(
                path.clone(),
                DocumentStatus::Error,
                format!("{path}: {reason}"),
            );
            doc.format = parsed.format;
            doc.encoding = decoded.encoding;
            doc.notes = notes;
            doc.bytes = size;
            return doc;
        }
        Document {
            path,
            format: parsed.format,
            encoding: decoded.encoding,
            status: DocumentStatus::Ok,
            error: None,
            notes,
            header: parsed.header,
            body_line: parsed.body_line,
            body: {
                // In place: the header is cut off the front, no new buffer.
                let mut text = decoded.text;
                text.replace_range(..parsed.body_start, "");
                text
            },
            bytes: size,
        }
    }
}

/// Reads an input into a document. I/O errors become `error` documents.
///
/// A file is opened non-blocking and checked to be a regular file on the
/// opened descriptor, before a byte is read: a FIFO, socket or device
/// (named on the command line, met in a folder, or swapped in after the
/// walk looked at it) is a `skipped` document, never a read that blocks
/// the run forever. The read itself stops one byte past
/// `corpus.max_file_size`, so a file that grows after it was measured
/// cannot make the run hold more than that.
pub fn read_input(input: Input, max_size: u64) -> Document {
    match input {
        Input::Skipped { path, reason } => {
            Document::failed(path_string(&path), DocumentStatus::Skipped, reason)
        }
        Input::Unreadable { path, reason } => {
            Document::failed(path_string(&path), DocumentStatus::Error, reason)
        }
        Input::File(path) => {
            let name = path_string(&path);
            let (file, len) = match open_regular(&path) {
                Ok(opened) => opened,
                Err(Opened::NotRegular(kind)) => {
                    let reason = not_regular(&name, kind);
                    return Document::failed(name, DocumentStatus::Skipped, reason);
                }
                Err(Opened::Failed(e)) => {
                    return Document::failed(
                        name,
                        DocumentStatus::Error,
                        format!("cannot read file: {e}"),
                    )
                }
            };
            if len > max_size {
                return too_big(name, len, max_size);
            }
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            let read = std::io::Read::read_to_end(
                &mut std::io::Read::take(file, max_size.saturating_add(1)),
                &mut bytes,
            );
            match read {
                Ok(n) if n as u64 > max_size => too_big(name, n as u64, max_size),
                Ok(_) => Document::from_vec(name, bytes),
                Err(e) => Document::failed(
                    name,
                    DocumentStatus::Error,
                    format!("cannot read file: {e}"),
                ),
            }
        }
    }
}

/// `path` as the report writes it: valid UTF-8 as itself, a backslash as
/// `\\`, any other byte as `\xNN` (see the module doc).
pub fn path_string(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The path [`path_string`] wrote as `s`; `None` if `s` is not such a form
/// (a lone backslash, a bad escape).
pub fn path_from_string(s: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match rest {
            [b'\\', tail @ ..] => {
                bytes.push(b'\\');
                rest = tail;
            }
            [b'x', hi, lo, tail @ ..] => {
                let hex = [*hi, *lo];
                let hex = std::str::from_utf8(&hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = tail;
            }
            _ => return None,
        }
    }
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

fn too_big(name: String, len: u64, max_size: u64) -> Document {
    Document::failed(
        name,
        DocumentStatus::Skipped,
        format!("file is {len} bytes, over corpus.max_file_size ({max_size})"),
    )
}

/// Why a file was not opened.
enum Opened {
    /// It is a FIFO, socket or device: what kind.
    NotRegular(&'static str),
    Failed(std::io::Error),
}

/// Opens `path` for reading without ever blocking, and only if it is a
/// regular file. `O_NONBLOCK` makes opening a FIFO with no writer return
/// at once (a blocking open would wait for a writer forever); the type is
/// then checked with `fstat` on the descriptor itself, so nothing can be
/// swapped in between the check and the read. On a regular file the flag
/// changes nothing. The file's length comes from the same `fstat` (one
/// system call per file fewer than asking again).
fn open_regular(path: &std::path::Path) -> Result<(std::fs::File, u64), Opened> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty())
        .map_err(|e| Opened::Failed(std::io::Error::from(e)))?;
    let file = std::fs::File::from(fd);
    let meta = file.metadata().map_err(Opened::Failed)?;
    match non_regular_kind(&meta.file_type()) {
        Some(kind) => Err(Opened::NotRegular(kind)),
        None => Ok((file, meta.len())),
    }
}

/// What a file that is not a regular file is, in words; `None` for a
/// regular file. Folders are walked, not read, so they never come here
/// except as the target of something named as a file.
pub(crate) fn non_regular_kind(file_type: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_file() {
        None
    } else if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_dir() {
        Some("a folder")
    } else {
        Some("not a regular file")
    }
}

/// The note of a `skipped` document that is not a regular file.
pub(crate) fn not_regular(name: &str, kind: &str) -> String {
    format!(
        "{name} is {kind}, not a regular file; it was not read (reading it could block the run forever). Name articles or folders of articles"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    #[test]
    fn paths_are_escaped_reversibly() {
        let cases: &[&[u8]] = &[
            b"plain/a.md",
            "中文/微信图片.md".as_bytes(),
            b"a\xff.md",
            b"a\xfe.md",
            b"a\\xff.md",
            b"a\\.md",
            b"\xe4\xb8.md",
            b"trail\\",
            b"100%25.md",
        ];
        let mut seen = std::collections::HashSet::new();
        for bytes in cases {
            let path = Path::new(OsStr::from_bytes(bytes));
            let s = path_string(path);
            assert!(seen.insert(s.clone()), "{s} twice");
            assert_eq!(path_from_string(&s).as_deref(), Some(path), "{s}");
        }
        let raw = Path::new(OsStr::from_bytes(b"a\xff.md"));
        assert_eq!(path_string(raw), r"a\xff.md");
        assert_eq!(path_string(Path::new(r"a\xff.md")), r"a\\xff.md");
        assert_eq!(path_string(Path::new("中文.md")), "中文.md");
        assert_eq!(path_from_string(r"a\"), None);
        assert_eq!(path_from_string(r"a\xzz"), None);
    }
}
