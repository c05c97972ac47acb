//! The JSON report, written without holding the run in memory.
//!
//! Documents, links and findings are serialized as they arrive into three
//! anonymous temporary files; [`JsonReport::finish`] writes the head and
//! summary field by field, then copies the three arrays in. Nothing is
//! serialized to a string to be cut and patched: every value is appended
//! to its spill's buffer (links by the hand-written [`super::link_json`],
//! the rest by serde), and a link costs no allocation of its own here. A
//! report written to a file goes to `FILE.tmp` first and is renamed into
//! place, so a reader (the daemon's `/report.json`, a monitoring job)
//! never sees half of one.

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::Path;

use serde::Serialize;

use super::{RunInfo, Summary, SCHEMA_VERSION};
use crate::pipeline::Scanned;

/// One JSON array being spilled to a temporary file.
struct Spill {
    file: File,
    /// Items not yet written; written out in blocks of [`Spill::BLOCK`].
    buf: Vec<u8>,
    count: usize,
}

impl Spill {
    /// 64 KiB: a tenth of the write(2) calls of 8 KiB on a report of
    /// 100 MB.
    const BLOCK: usize = 1 << 16;

    fn new() -> io::Result<Spill> {
        Ok(Spill {
            file: tempfile::tempfile()?,
            buf: Vec::with_capacity(Spill::BLOCK + 4096),
            count: 0,
        })
    }

    /// Adds an item that `write` appends to the buffer.
    fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        if self.count > 0 {
            self.buf.extend_from_slice(b",\n");
        }
        write(&mut self.buf);
        self.count += 1;
        if self.buf.len() >= Spill::BLOCK {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn push(&mut self, item: &impl Serialize) -> io::Result<()> {
        let mut result = Ok(());
        self.push_with(|buf| result = serde_json::to_writer(buf, item))?;
        Ok(result?)
    }

    /// The spilled array, flushed and rewound for reading.
    fn into_file(mut self) -> io::Result<File> {
        self.file.write_all(&self.buf)?;
        self.file.rewind()?;
        Ok(self.file)
    }
}

/// Writes `  "name": value,` with `value` pretty-printed one level in,
/// as `serde_json::to_string_pretty` would lay it out inside the report
/// object, straight to `out` (no string is built and re-cut).
fn field(out: &mut dyn Write, name: &str, value: &impl Serialize) -> io::Result<()> {
    write!(out, "  \"{name}\": ")?;
    let mut indented = Indented(&mut *out);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut indented,
        formatter,
    ))?;
    out.write_all(b",\n")
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

/// A JSON report under construction.
pub struct JsonReport {
    documents: Spill,
    links: Spill,
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
    pub fn new() -> io::Result<JsonReport> {
        Ok(JsonReport {
            documents: Spill::new()?,
            links: Spill::new()?,
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

    /// Writes the whole report to `out`: the head fields, pretty-printed
    /// one by one, then the three spilled arrays copied in.
    pub fn finish(self, info: &RunInfo, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        self.finish_with(info, summary, &mut &mut *out, |out, spill| {
            io::copy(spill, out).map(drop)
        })
    }

    /// [`JsonReport::finish`], with `append` copying each spilled array
    /// (a file, rewound) onto the end of `out`.
    fn finish_with<W: Write>(
        self,
        info: &RunInfo,
        summary: &Summary,
        out: &mut W,
        mut append: impl FnMut(&mut W, &mut File) -> io::Result<()>,
    ) -> io::Result<()> {
        out.write_all(b"{\n")?;
        field(out, "schema_version", &SCHEMA_VERSION)?;
        field(out, "generated_at", &info.generated_at)?;
        let tool = Tool {
            name: "archive",
            version: env!("CARGO_PKG_VERSION"),
        };
        field(out, "tool", &tool)?;
        field(out, "mode", &info.mode)?;
        let config = ConfigRef {
            path: info.config_path.as_deref(),
            sha256: &info.config_sha256,
        };
        field(out, "config", &config)?;
        field(out, "summary", summary)?;
        for (name, spill, last) in [
            ("documents", self.documents, false),
            ("links", self.links, false),
            ("findings", self.findings, true),
        ] {
            writeln!(out, "  \"{name}\": [")?;
            append(out, &mut spill.into_file()?)?;
            out.write_all(if last { b"\n  ]\n" } else { b"\n  ],\n" })?;
        }
        out.write_all(b"}\n")?;
        out.flush()
    }

    /// Writes the report to `path` atomically (temp file, fsync, rename),
    /// or to stdout when `path` is `-`.
    pub fn write_to(self, path: &Path, info: &RunInfo, summary: &Summary) -> io::Result<()> {
        if path == Path::new("-") {
            let stdout = io::stdout();
            let mut lock = BufWriter::new(stdout.lock());
            return self.finish(info, summary, &mut lock);
        }
        super::write_file_atomically_raw(path, |file| {
            let mut head = BufWriter::new(file);
            self.finish_with(info, summary, &mut head, |head, spill| {
                // The head goes out first; then the kernel copies the
                // spill file onto the end of the report (`File` to `&File`
                // is `copy_file_range` on Linux, no trip through user
                // space, which was 7.6 % of a default run's CPU).
                head.flush()?;
                let mut file: &File = head.get_ref();
                io::copy(spill, &mut file).map(drop)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_is_written_field_by_field_as_valid_pretty_json() {
        let info = RunInfo {
            generated_at: "2026-01-01T00:00:00.000Z".into(),
            mode: "offline",
            config_path: Some("a\nb.toml".into()),
            config_sha256: "00".into(),
        };
        let mut out = Vec::new();
        let report = JsonReport::new().unwrap();
        report.finish(&info, &Summary::default(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(value["schema_version"], SCHEMA_VERSION);
        assert_eq!(value["config"]["path"], "a\nb.toml");
        assert_eq!(value["links"], serde_json::json!([]));
        // Laid out as before: two spaces per level, a field per line.
        assert!(text.starts_with("{\n  \"schema_version\": "), "{text}");
        assert!(
            text.contains("\n  \"summary\": {\n    \"documents\": {\n      \"scanned\": 0,"),
            "{text}"
        );
        assert!(text.ends_with("\n  \"findings\": [\n\n  ]\n}\n"), "{text}");
    }
}
