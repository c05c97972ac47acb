//! The JSON report, written without holding the run in memory.
//!
//! Documents, links and findings are serialized as they arrive into three
//! anonymous temporary files; [`JsonReport::finish`] writes the head and
//! summary, then copies the three arrays in. A report written to a file
//! goes to `FILE.tmp` first and is renamed into place, so a reader (the
//! daemon's `/report.json`, a monitoring job) never sees half of one.

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::Path;

use serde::Serialize;

use super::{RunInfo, Summary, SCHEMA_VERSION};
use crate::pipeline::Scanned;

/// One JSON array being spilled to a temporary file.
struct Spill {
    file: BufWriter<File>,
    count: usize,
}

impl Spill {
    fn new() -> io::Result<Spill> {
        Ok(Spill {
            file: BufWriter::new(tempfile::tempfile()?),
            count: 0,
        })
    }

    fn push(&mut self, item: &impl Serialize) -> io::Result<()> {
        if self.count > 0 {
            self.file.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut self.file, item)?;
        self.count += 1;
        Ok(())
    }

    fn copy_into(self, out: &mut dyn Write) -> io::Result<()> {
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        io::copy(&mut file, out)?;
        Ok(())
    }
}

/// A JSON report under construction.
pub struct JsonReport {
    documents: Spill,
    links: Spill,
    findings: Spill,
}

#[derive(Serialize)]
struct Head<'a> {
    schema_version: &'static str,
    generated_at: &'a str,
    tool: Tool,
    mode: &'a str,
    config: ConfigRef<'a>,
    summary: &'a Summary,
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
            self.links.push(link)?;
        }
        for finding in &scanned.findings {
            self.findings.push(finding)?;
        }
        Ok(())
    }

    /// Writes the whole report to `out`.
    pub fn finish(self, info: &RunInfo, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        let head = Head {
            schema_version: SCHEMA_VERSION,
            generated_at: &info.generated_at,
            tool: Tool {
                name: "archive",
                version: env!("CARGO_PKG_VERSION"),
            },
            mode: info.mode,
            config: ConfigRef {
                path: info.config_path.as_deref(),
                sha256: &info.config_sha256,
            },
            summary,
        };
        let head = serde_json::to_string_pretty(&head)?;
        // Reopen the object to append the arrays.
        out.write_all(head.trim_end().trim_end_matches('}').trim_end().as_bytes())?;
        for (name, spill) in [
            ("documents", self.documents),
            ("links", self.links),
            ("findings", self.findings),
        ] {
            write!(out, ",\n  \"{name}\": [\n")?;
            spill.copy_into(out)?;
            out.write_all(b"\n  ]")?;
        }
        out.write_all(b"\n}\n")?;
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
        super::write_file_atomically(path, |w| self.finish(info, summary, w))
    }
}
