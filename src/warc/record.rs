//! WARC records, byte for byte (ISO 28500, WARC/1.1): the header block,
//! the HTTP message each record carries, and one gzip member per record.
//!
//! A record is written as its own gzip member, so a reader can seek to any
//! record by its offset (which the CDXJ index gives) and a file cut short
//! by a crash loses only its last, incomplete member. The payload is
//! streamed from the object file into the encoder, never held in memory:
//! its length is known before the header is written (the object's size),
//! so `Content-Length` can come first.
//!
//! Payload digests are `sha256:<hex>`, the object's own name. WARC allows
//! any RFC 3548 encoding; warcio (the reference reader) recognises a value
//! longer than base32's as hex and verifies it.

use std::io::{self, Read, Write};

use flate2::write::GzEncoder;
use flate2::Compression;

/// The revisit profile for a payload already written in an earlier record.
pub const IDENTICAL_PAYLOAD: &str =
    "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest";

/// A response's status line and headers, as the server sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHead {
    /// `HTTP/1.1`, `HTTP/2.0`, ...
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

/// Headers that describe the bytes on the wire, not the payload stored:
/// the stored body is decoded (`Content-Encoding` undone, chunks joined),
/// so these would make a reader decode it again or misframe it.
const WIRE_HEADERS: [&str; 3] = ["content-encoding", "transfer-encoding", "content-length"];

impl ResponseHead {
    /// The `Content-Type` header's value.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str())
    }

    /// The HTTP response head for a payload of `len` decoded bytes: the
    /// wire-only headers are kept under `X-Archive-Orig-` names and
    /// `Content-Length` says the payload's real length.
    pub fn http_block(&self, len: u64) -> Vec<u8> {
        // HTTP/2 has no reason phrase and no HTTP/2 status line; replay
        // tools parse an HTTP/1.1 one.
        let version = if self.version.starts_with("HTTP/1.") {
            self.version.as_str()
        } else {
            "HTTP/1.1"
        };
        let mut out = format!("{version} {} {}\r\n", self.status, self.reason).into_bytes();
        for (name, value) in &self.headers {
            let clean = |s: &str| s.replace(['\r', '\n'], " ");
            let lower = name.to_ascii_lowercase();
            if WIRE_HEADERS.contains(&lower.as_str()) {
                out.extend_from_slice(
                    format!("X-Archive-Orig-{}: {}\r\n", clean(name), clean(value)).as_bytes(),
                );
            } else {
                out.extend_from_slice(format!("{}: {}\r\n", clean(name), clean(value)).as_bytes());
            }
        }
        out.extend_from_slice(format!("Content-Length: {len}\r\n\r\n").as_bytes());
        out
    }
}

/// The HTTP request block of a capture: a GET as archive sends it.
pub fn request_block(url: &url::Url, user_agent: &str) -> Vec<u8> {
    let mut path = url.path().to_string();
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_string(),
    };
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\n\r\n").into_bytes()
}

/// A new `urn:uuid:` record id (a random, version 4 UUID).
pub fn record_id() -> String {
    let b: [u8; 16] = rand::random();
    let v = u128::from_be_bytes(b);
    // Version 4, variant 10.
    let v = (v & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{v:032x}");
    format!(
        "<urn:uuid:{}-{}-{}-{}-{}>",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `sha256:<hex>` of a block held in memory (a request, a warcinfo, a
/// revisit's headers), for `WARC-Block-Digest`: a reader can then tell
/// such a record cut short from a whole one.
pub fn block_digest(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A WARC record's header block: `WARC/1.1`, the named fields, then
/// `Content-Length` of a block of `block_len` bytes.
pub fn header(fields: &[(&str, &str)], block_len: u64) -> Vec<u8> {
    let mut out = b"WARC/1.1\r\n".to_vec();
    for (name, value) in fields {
        let value = value.replace(['\r', '\n'], " ");
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {block_len}\r\n\r\n").as_bytes());
    out
}

/// Writes one record as one gzip member: `header`, `block_head`, then
/// `payload_len` bytes from `payload`, then the record's closing CRLFs.
/// An error when `payload` ends early (the object shrank or vanished):
/// the member is then incomplete and the caller must cut it away.
pub fn write_member<W: Write>(
    out: W,
    header: &[u8],
    block_head: &[u8],
    payload: Option<(&mut dyn Read, u64)>,
) -> io::Result<W> {
    let mut gz = GzEncoder::new(out, Compression::fast());
    gz.write_all(header)?;
    gz.write_all(block_head)?;
    if let Some((reader, len)) = payload {
        let copied = io::copy(&mut reader.take(len), &mut gz)?;
        if copied != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the payload ended after {copied} of {len} bytes"),
            ));
        }
    }
    gz.write_all(b"\r\n\r\n")?;
    gz.finish()
}

/// The fields of a record's header block, for the index and recovery.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub warc_type: String,
    pub target_uri: String,
    pub date: String,
    pub payload_digest: String,
    /// The HTTP status code of a response or revisit, and its type.
    pub http_status: Option<u16>,
    pub mime: Option<String>,
}

/// Reads what the index needs from the start of a decompressed record.
/// `None` when it does not start as a WARC record.
pub fn parse(record: &[u8]) -> Option<Parsed> {
    let text = String::from_utf8_lossy(record);
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    if !lines.next()?.starts_with("WARC/") {
        return None;
    }
    let mut p = Parsed::default();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match name.to_ascii_lowercase().as_str() {
            "warc-type" => p.warc_type = value,
            "warc-target-uri" => p.target_uri = value,
            "warc-date" => p.date = value,
            "warc-payload-digest" => p.payload_digest = value,
            _ => {}
        }
    }
    if matches!(p.warc_type.as_str(), "response" | "revisit") {
        let (http, _) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
        let mut lines = http.split("\r\n");
        p.http_status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok());
        p.mime = lines.find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        });
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn wire_headers_are_renamed_and_length_is_the_payload() {
        let head = ResponseHead {
            version: "HTTP/1.1".into(),
            status: 200,
            reason: "OK".into(),
            headers: vec![
                ("Content-Type".into(), "image/jpeg".into()),
                ("Content-Encoding".into(), "gzip".into()),
                ("Content-Length".into(), "10".into()),
                ("X-Evil".into(), "a\r\nWARC-Type: x".into()),
            ],
        };
        let block = String::from_utf8(head.http_block(42)).unwrap();
        assert_eq!(
            block,
            "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nX-Archive-Orig-Content-Encoding: gzip\r\nX-Archive-Orig-Content-Length: 10\r\nX-Evil: a  WARC-Type: x\r\nContent-Length: 42\r\n\r\n"
        );
    }

    #[test]
    fn a_member_round_trips_and_parses() {
        let head = ResponseHead {
            version: "HTTP/2.0".into(),
            status: 200,
            reason: String::new(),
            headers: vec![("content-type".into(), "image/png".into())],
        };
        let payload = b"\x89PNG....";
        let block = head.http_block(payload.len() as u64);
        let h = header(
            &[
                ("WARC-Type", "response"),
                ("WARC-Target-URI", "http://a.test/x.png"),
                ("WARC-Date", "2026-01-02T03:04:05Z"),
                ("WARC-Payload-Digest", "sha256:00"),
            ],
            (block.len() + payload.len()) as u64,
        );
        let mut src: &[u8] = payload;
        let out = write_member(Vec::new(), &h, &block, Some((&mut src, 8))).unwrap();
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&out[..])
            .read_to_end(&mut text)
            .unwrap();
        assert!(text.ends_with(b"\x89PNG....\r\n\r\n"));
        let p = parse(&text).unwrap();
        assert_eq!(p.warc_type, "response");
        assert_eq!(p.target_uri, "http://a.test/x.png");
        assert_eq!(p.http_status, Some(200));
        assert_eq!(p.mime.as_deref(), Some("image/png"));
        let mut short: &[u8] = b"\x89PNG";
        assert!(write_member(Vec::new(), &h, &block, Some((&mut short, 8))).is_err());
    }

    #[test]
    fn record_ids_are_version_4_uuids() {
        let id = record_id();
        assert_eq!(id.len(), "<urn:uuid:>".len() + 36);
        assert_eq!(&id[24..25], "4", "{id}");
        assert!(matches!(&id[29..30], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(id, record_id());
    }
}
