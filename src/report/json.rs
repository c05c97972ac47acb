//! The JSON report, written without holding the run in memory.
//!
//! Links, documents and findings are serialized as they arrive; nothing
//! is serialized to a string to be cut and patched (links by the
//! hand-written [`super::link_json`], the rest by serde), and a link costs
//! no allocation of its own here.
//!
//! The links are nine tenths of a report, so they go straight into the
//! report file: for a report written to a path, the file is a
//! [`PendingFile`] in the report's folder, the head is written into it at
//! the start and every link after it as it comes. Documents and findings
//! are spilled to anonymous temporary files and copied in after the links
//! (a kernel copy); `generated_at` and the summary, known only at the end,
//! close the object. That is why the summary is the last key (schema
//! 2.2.0): written first, it held the whole links array back until the
//! end, which cost a serial copy of it. [`PendingFile::commit`] then puts
//! the report in place whole, so a reader never sees half of one.
//!
//! A report to stdout, or to a path that is not a regular file (a FIFO,
//! `/dev/null`), cannot be taken back once written, and an online run
//! whose network turned out to be down discards its first pass: there the
//! links are spilled too, and everything is written at the end, in the
//! same layout. (A report file can be given up: a discarded pass's file,
//! never named, goes when the pass's report is dropped.)

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::pending::{is_special, PendingFile, SyncAhead};
use super::{Summary, SCHEMA_VERSION};
use crate::pipeline::Scanned;

/// One JSON array being spilled to a temporary file.
struct Spill {
    file: File,
    /// Items not yet written; written out in blocks of [`Spill::BLOCK`].
    buf: Vec<u8>,
    count: usize,
    /// For the report file itself: its writeback, started as it grows.
    sync: Option<SyncAhead>,
    /// A temporary file (in `$TMPDIR`), not the report: its errors say so.
    temporary: bool,
}

impl Spill {
    /// 64 KiB: a tenth of the write(2) calls of 8 KiB on a report of
    /// 100 MB.
    const BLOCK: usize = 1 << 16;

    /// A spill into an anonymous temporary file.
    fn new() -> io::Result<Spill> {
        let file = tempfile::tempfile().map_err(temporary_error)?;
        Ok(Spill {
            temporary: true,
            ..Spill::over(file)
        })
    }

    /// Items appended to `file`, from where its handle stands.
    fn over(file: File) -> Spill {
        Spill {
            file,
            buf: Vec::with_capacity(Spill::BLOCK + 4096),
            count: 0,
            sync: None,
            temporary: false,
        }
    }

    /// `e`, saying where it happened when this is a temporary file.
    fn context(&self, e: io::Error) -> io::Error {
        if self.temporary {
            temporary_error(e)
        } else {
            e
        }
    }

    /// Adds an item that `write` appends to the buffer.
    fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        if self.count > 0 {
            self.buf.extend_from_slice(b",\n");
        }
        write(&mut self.buf);
        self.count += 1;
        if self.buf.len() >= Spill::BLOCK {
            self.file
                .write_all(&self.buf)
                .map_err(|e| self.context(e))?;
            if let Some(sync) = &mut self.sync {
                sync.wrote(self.buf.len());
            }
            self.buf.clear();
        }
        Ok(())
    }

    fn push(&mut self, item: &impl Serialize) -> io::Result<()> {
        let mut result = Ok(());
        self.push_with(|buf| result = serde_json::to_writer(buf, item))?;
        Ok(result?)
    }

    /// The file with every item written, its handle at their end (and
    /// no sync ahead still running).
    fn finish(mut self) -> io::Result<File> {
        self.file
            .write_all(&self.buf)
            .map_err(|e| self.context(e))?;
        if let Some(sync) = self.sync.take() {
            sync.finish()?;
        }
        Ok(self.file)
    }

    /// The spilled array, flushed and rewound for reading.
    fn into_file(self) -> io::Result<File> {
        let mut file = self.finish()?;
        file.rewind()?;
        Ok(file)
    }
}

/// An error of a temporary file, saying so (the report's own folder may
/// be fine while `$TMPDIR` is full).
fn temporary_error(e: io::Error) -> io::Error {
    let dir = std::env::temp_dir();
    io::Error::new(
        e.kind(),
        format!("temporary file in {}: {e}", dir.display()),
    )
}

/// Writes `  "name": value` and `separator`, with `value` pretty-printed one level in,
/// as `serde_json::to_string_pretty` would lay it out inside the report
/// object, straight to `out` (no string is built and re-cut).
fn field(
    out: &mut dyn Write,
    name: &str,
    value: &impl Serialize,
    separator: &[u8],
) -> io::Result<()> {
    write!(out, "  \"{name}\": ")?;
    let mut indented = Indented(&mut *out);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut indented,
        formatter,
    ))?;
    out.write_all(separator)
}

/// Indents every line after the first by two spaces. Safe on JSON: a
/// newline inside a string is always escaped, so every raw `\n` is layout.
struct Indented<'a>(&'a mut dyn Write);

impl Write for Indented<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for (i, part) in buf.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                self.0.write_all(b"\n  ")?;
            }
            self.0.write_all(part)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Where a JSON report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportTarget {
    /// A path: a regular file (or none yet) is replaced whole at the end;
    /// anything else (a FIFO, `/dev/null`) is written to at the end.
    Path(PathBuf),
    /// Standard output, at the end.
    Stdout,
    /// No JSON report: nothing is serialized.
    Nowhere,
}

/// What heads a report, known when a run starts.
#[derive(Debug, Clone)]
pub struct ReportHead {
    pub mode: &'static str,
    pub config_path: Option<String>,
    pub config_sha256: String,
}

/// Where the links go while the run lasts.
enum LinksOut {
    /// Into the report file itself, head first ([`PendingFile`]).
    Report(PendingFile),
    /// Into a spill, copied to `out` at the end.
    Spilled(Deferred),
    /// Nowhere.
    Dropped,
}

/// A report written at the end, to a path that is not a regular file or
/// to stdout.
enum Deferred {
    Special(PathBuf),
    Stdout,
}

/// A JSON report under construction.
pub struct JsonReport {
    head: ReportHead,
    out: LinksOut,
    /// The links array: the report file itself (the head already in its
    /// buffer) or a spill.
    links: Spill,
    documents: Spill,
    findings: Spill,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct ConfigRef<'a> {
    path: Option<&'a str>,
    sha256: &'a str,
}

impl JsonReport {
    /// A report for `target`. For a path whose folder is missing or not
    /// writable this fails now, before the run, not after it.
    pub fn new(target: ReportTarget, head: ReportHead) -> io::Result<JsonReport> {
        let (out, links) = match target {
            ReportTarget::Path(path) if !is_special(&path) => {
                let pending = PendingFile::create(&path)?;
                let mut links = Spill::over(pending.file().try_clone()?);
                links.sync = Some(SyncAhead::new(pending.file().try_clone()?));
                write_head(&mut links.buf, &head)?;
                links.buf.extend_from_slice(b"  \"links\": [\n");
                (LinksOut::Report(pending), links)
            }
            ReportTarget::Path(path) => (LinksOut::Spilled(Deferred::Special(path)), Spill::new()?),
            ReportTarget::Stdout => (LinksOut::Spilled(Deferred::Stdout), Spill::new()?),
            ReportTarget::Nowhere => (LinksOut::Dropped, Spill::new()?),
        };
        Ok(JsonReport {
            head,
            out,
            links,
            documents: Spill::new()?,
            findings: Spill::new()?,
        })
    }

    /// Adds one document with its links and findings.
    ///
    /// Ids are indexes in their arrays (the schema's promise), so
    /// documents must come numbered in the order they are added.
    pub fn add(&mut self, scanned: &Scanned) -> io::Result<()> {
        debug_assert_eq!(scanned.document.id, self.documents.count, "document id");
        debug_assert!(
            (scanned.links.iter().map(|l| l.id))
                .eq(self.links.count..self.links.count + scanned.links.len()),
            "link ids"
        );
        debug_assert!(
            (scanned.findings.iter().map(|f| f.id))
                .eq(self.findings.count..self.findings.count + scanned.findings.len()),
            "finding ids"
        );
        if matches!(self.out, LinksOut::Dropped) {
            // Counted, so that ids stay checked, but not written.
            self.documents.count += 1;
            self.links.count += scanned.links.len();
            self.findings.count += scanned.findings.len();
            return Ok(());
        }
        self.documents.push(&scanned.document)?;
        for link in &scanned.links {
            self.links
                .push_with(|buf| super::link_json::write_link(buf, link))?;
        }
        for finding in &scanned.findings {
            self.findings.push(finding)?;
        }
        Ok(())
    }

    /// Ends the report with `generated_at` and the summary and puts it
    /// where it goes.
    pub fn finish(self, generated_at: &str, summary: &Summary) -> io::Result<()> {
        let JsonReport {
            head,
            out,
            links,
            documents,
            findings,
        } = self;
        let tail = Tail {
            documents,
            findings,
            generated_at,
            summary,
        };
        match out {
            LinksOut::Dropped => Ok(()),
            LinksOut::Report(pending) => {
                let file = links.finish()?;
                // The report file's handle is at the links' end.
                tail.write(&mut BufWriter::new(&file), |out, spill| {
                    out.flush()?;
                    let mut file: &File = out.get_ref();
                    io::copy(spill, &mut file).map(drop)
                })?;
                drop(file);
                pending.commit()
            }
            LinksOut::Spilled(Deferred::Stdout) => {
                let stdout = io::stdout();
                write_deferred(&mut BufWriter::new(stdout.lock()), &head, links, tail)
            }
            LinksOut::Spilled(Deferred::Special(path)) => {
                let file = std::fs::OpenOptions::new().write(true).open(path)?;
                write_deferred(&mut BufWriter::new(file), &head, links, tail)
            }
        }
    }

    /// The whole report written to `out` (for tests): links spilled.
    #[cfg(test)]
    fn finish_to(self, generated_at: &str, summary: &Summary, out: &mut Vec<u8>) -> io::Result<()> {
        let tail = Tail {
            documents: self.documents,
            findings: self.findings,
            generated_at,
            summary,
        };
        write_deferred(out, &self.head, self.links, tail)
    }
}

/// Writes the head, the spilled links and the tail to `out`.
fn write_deferred<W: Write>(
    out: &mut W,
    head: &ReportHead,
    links: Spill,
    tail: Tail<'_>,
) -> io::Result<()> {
    write_head(out, head)?;
    out.write_all(b"  \"links\": [\n")?;
    io::copy(&mut links.into_file()?, out)?;
    tail.write(out, |out, spill| io::copy(spill, out).map(drop))
}

/// `{`, then the fields known when a run starts.
fn write_head(out: &mut impl Write, head: &ReportHead) -> io::Result<()> {
    out.write_all(b"{\n")?;
    field(out, "schema_version", &SCHEMA_VERSION, b",\n")?;
    let tool = Tool {
        name: "archive",
        version: env!("CARGO_PKG_VERSION"),
    };
    field(out, "tool", &tool, b",\n")?;
    field(out, "mode", &head.mode, b",\n")?;
    let config = ConfigRef {
        path: head.config_path.as_deref(),
        sha256: &head.config_sha256,
    };
    field(out, "config", &config, b",\n")
}

/// What follows the links: the two spilled arrays, then the fields known
/// only at the end.
struct Tail<'a> {
    documents: Spill,
    findings: Spill,
    generated_at: &'a str,
    summary: &'a Summary,
}

impl Tail<'_> {
    /// Closes the links array and writes the rest; `append` copies a
    /// spilled array (a file, rewound) onto the end of `out`.
    fn write<W: Write>(
        self,
        out: &mut W,
        mut append: impl FnMut(&mut W, &mut File) -> io::Result<()>,
    ) -> io::Result<()> {
        out.write_all(b"\n  ],\n")?;
        for (name, spill) in [("documents", self.documents), ("findings", self.findings)] {
            writeln!(out, "  \"{name}\": [")?;
            append(out, &mut spill.into_file()?)?;
            out.write_all(b"\n  ],\n")?;
        }
        field(out, "generated_at", &self.generated_at, b",\n")?;
        field(out, "summary", self.summary, b"\n")?;
        out.write_all(b"}\n")?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> ReportHead {
        ReportHead {
            mode: "offline",
            config_path: Some("a\nb.toml".into()),
            config_sha256: "00".into(),
        }
    }

    #[test]
    fn the_report_is_laid_out_field_by_field_as_valid_pretty_json() {
        let mut out = Vec::new();
        let report = JsonReport::new(ReportTarget::Stdout, head()).unwrap();
        report
            .finish_to("2026-01-01T00:00:00.000Z", &Summary::default(), &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(value["schema_version"], SCHEMA_VERSION);
        assert_eq!(value["config"]["path"], "a\nb.toml");
        assert_eq!(value["links"], serde_json::json!([]));
        // Two spaces per level, a field per line; the head first, the
        // links next, the summary last.
        assert!(text.starts_with("{\n  \"schema_version\": "), "{text}");
        let at = |key: &str| text.find(&format!("\n  \"{key}\": ")).expect(key);
        let order = [
            "mode",
            "config",
            "links",
            "documents",
            "findings",
            "generated_at",
            "summary",
        ];
        assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{text}");
        assert!(
            text.contains("\n  \"summary\": {\n    \"documents\": {\n      \"scanned\": 0,"),
            "{text}"
        );
        assert!(text.ends_with("\n  }\n}\n"), "{text}");
    }

    #[test]
    fn a_report_to_a_path_streams_into_its_folder_and_appears_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, "old").unwrap();
        let report = JsonReport::new(ReportTarget::Path(path.clone()), head()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        let mut written = Vec::new();
        JsonReport::new(ReportTarget::Stdout, head())
            .unwrap()
            .finish_to("t", &Summary::default(), &mut written)
            .unwrap();
        report.finish("t", &Summary::default()).unwrap();
        // The same bytes whichever way the links went.
        assert_eq!(std::fs::read(&path).unwrap(), written);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
