//! A [`Link`] as compact JSON, written by hand into a byte buffer.
//!
//! Links are nearly all of a report (about 18 per document, 72 MB on the
//! 10k seed-mix corpus), and serde_json spent most of their cost on
//! machinery that has nothing to decide here: every key went through its
//! string escaper byte by byte, every value through a map serializer, and
//! every string of a URL (which needs no escape at all) through the same
//! per-byte table. Here the keys are literals, the vocabulary words are
//! written as they are (they are plain ASCII words), and a string is
//! copied in one piece once a branch-free scan shows it needs no escape;
//! only a string that does goes through serde_json.
//!
//! The output is byte for byte what `serde_json::to_writer(link)` writes
//! (same keys, order and values); the unit tests below compare the two,
//! and the fields that are absent offline (`http`, `store`, `last_known`)
//! still go through serde_json. A field added to [`Link`] must be added
//! here too: the exhaustive destructuring below stops the build until it
//! is.

use serde::Serialize;

use crate::model::{Link, Suggestion};

/// Appends `link` to `out` as serde_json's compact serialization of it.
pub fn write_link(out: &mut Vec<u8>, link: &Link) {
    let Link {
        id,
        document,
        url,
        resolved,
        kind,
        status,
        reason,
        message,
        static_reason,
        line,
        column,
        syntax,
        text,
        finding,
        duplicate_of,
        suggestions,
        http,
        store,
        last_known,
    } = link;
    out.extend_from_slice(b"{\"id\":");
    write_usize(out, *id);
    out.extend_from_slice(b",\"document\":");
    write_usize(out, *document);
    out.extend_from_slice(b",\"url\":");
    write_str(out, url);
    out.extend_from_slice(b",\"resolved\":");
    write_opt_str(out, resolved.as_deref());
    out.extend_from_slice(b",\"kind\":");
    write_word(out, kind.as_str());
    out.extend_from_slice(b",\"status\":");
    write_word(out, status.as_str());
    out.extend_from_slice(b",\"reason\":");
    write_opt_word(out, reason.map(|r| r.as_str()));
    out.extend_from_slice(b",\"message\":");
    write_opt_str(out, message.as_deref());
    if let Some(r) = static_reason {
        out.extend_from_slice(b",\"static_reason\":");
        write_word(out, r.as_str());
    }
    out.extend_from_slice(b",\"line\":");
    write_usize(out, *line);
    out.extend_from_slice(b",\"column\":");
    write_usize(out, *column);
    out.extend_from_slice(b",\"syntax\":");
    write_word(out, syntax.as_str());
    out.extend_from_slice(b",\"text\":");
    write_opt_str(out, text.as_deref());
    out.extend_from_slice(b",\"finding\":");
    write_opt_usize(out, *finding);
    out.extend_from_slice(b",\"duplicate_of\":");
    write_opt_usize(out, *duplicate_of);
    out.extend_from_slice(b",\"suggestions\":[");
    for (i, s) in suggestions.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_suggestion(out, s);
    }
    out.extend_from_slice(b"],\"http\":");
    write_serde(out, http);
    out.extend_from_slice(b",\"store\":");
    write_serde(out, store);
    if let Some(known) = last_known {
        out.extend_from_slice(b",\"last_known\":");
        write_serde(out, known);
    }
    out.push(b'}');
}

fn write_suggestion(out: &mut Vec<u8>, s: &Suggestion) {
    let Suggestion {
        url,
        reason,
        status,
    } = s;
    out.extend_from_slice(b"{\"url\":");
    write_str(out, url);
    out.extend_from_slice(b",\"reason\":");
    write_word(out, reason.as_str());
    out.extend_from_slice(b",\"status\":");
    write_opt_word(out, status.map(|s| s.as_str()));
    out.push(b'}');
}

/// Anything else, through serde_json (writing to a `Vec` cannot fail,
/// and these types serialize without error).
fn write_serde(out: &mut Vec<u8>, value: &impl Serialize) {
    let _ = serde_json::to_writer(&mut *out, value);
}

fn write_usize(out: &mut Vec<u8>, n: usize) {
    // Most numbers in a report are small (lines, columns, ids of a small
    // run): those are one or two bytes, without a division loop.
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    if n < 100 {
        out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
        return;
    }
    let mut n = n;
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn write_opt_usize(out: &mut Vec<u8>, n: Option<usize>) {
    match n {
        Some(n) => write_usize(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

/// A vocabulary word: ASCII letters and `_`, nothing to escape.
fn write_word(out: &mut Vec<u8>, word: &str) {
    debug_assert!(!needs_escape(word.as_bytes()), "{word}");
    out.push(b'"');
    out.extend_from_slice(word.as_bytes());
    out.push(b'"');
}

fn write_opt_word(out: &mut Vec<u8>, word: Option<&str>) {
    match word {
        Some(w) => write_word(out, w),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// A JSON string: copied whole when nothing in it needs an escape (a
/// URL never does), else escaped by serde_json.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        write_serde(out, &s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Whether serde_json would escape any byte of `bytes`: a control
/// character, `"` or `\`. Scanned in blocks without an early exit, which
/// the compiler turns into vector compares.
fn needs_escape(bytes: &[u8]) -> bool {
    let special = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    let mut blocks = bytes.chunks_exact(16);
    for block in &mut blocks {
        if block.iter().fold(false, |any, &b| any | special(b)) {
            return true;
        }
    }
    blocks.remainder().iter().any(|&b| special(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::outage::LastKnown;
    use crate::extract::LinkKind;
    use crate::model::Status;
    use crate::vocab::{Reason, SuggestionReason, Syntax};

    fn hand(link: &Link) -> String {
        let mut out = Vec::new();
        write_link(&mut out, link);
        String::from_utf8(out).unwrap()
    }

    fn serde(link: &Link) -> String {
        serde_json::to_string(link).unwrap()
    }

    fn link() -> Link {
        crate::report::fixtures::link(Status::Unchecked, "http://a.cn/x.jpg", None)
    }

    #[test]
    fn a_plain_link_is_written_as_serde_json_writes_it() {
        let l = link();
        assert_eq!(hand(&l), serde(&l));
    }

    #[test]
    fn every_field_set_and_every_escape_is_written_as_serde_json_writes_it() {
        let mut l = link();
        l.id = 123_456_789;
        l.document = usize::MAX;
        l.url = "a\"b\\c\u{1}\u{1f}\n\t\r\u{8}\u{c}\u{7f}é中 16 bytes long and more \"".into();
        l.resolved = None;
        l.reason = Some(Reason::ExplodedUrl);
        l.message = Some("`x` 消息\u{0}".into());
        l.static_reason = Some(Reason::CutExtension);
        l.text = Some("alt \"text\"".into());
        l.finding = Some(7);
        l.duplicate_of = Some(0);
        l.suggestions = vec![
            Suggestion {
                url: "http://a.cn/y\".jpg".into(),
                reason: SuggestionReason::RebuiltExplodedUrl,
                status: None,
            },
            Suggestion {
                url: "http://a.cn/z.jpg".into(),
                reason: SuggestionReason::RebuiltExplodedUrl,
                status: Some(Status::Broken),
            },
        ];
        l.last_known = Some(Box::new(LastKnown {
            status: Status::Ok,
            since: Some("2026-01-01T00:00:00Z".into()),
            checked_at: None,
        }));
        assert_eq!(hand(&l), serde(&l));
    }

    #[test]
    fn every_vocabulary_word_is_written_as_serde_json_writes_it() {
        let mut l = link();
        for &reason in Reason::ALL {
            l.reason = Some(reason);
            l.static_reason = Some(reason);
            assert_eq!(hand(&l), serde(&l));
        }
        for &syntax in Syntax::ALL {
            l.syntax = syntax;
            assert_eq!(hand(&l), serde(&l));
        }
        for status in Status::ALL {
            l.status = status;
            assert_eq!(hand(&l), serde(&l));
        }
        for kind in LinkKind::ALL {
            l.kind = kind;
            assert_eq!(hand(&l), serde(&l));
        }
        for &reason in SuggestionReason::ALL {
            l.suggestions = vec![Suggestion {
                url: String::new(),
                reason,
                status: None,
            }];
            assert_eq!(hand(&l), serde(&l));
        }
    }

    #[test]
    fn numbers_are_written_as_serde_json_writes_them() {
        for n in (0..1000).chain([9_999, 10_000, 123_456_789, usize::MAX]) {
            let mut out = Vec::new();
            write_usize(&mut out, n);
            assert_eq!(out, serde_json::to_vec(&n).unwrap());
        }
    }

    #[test]
    fn the_escape_scan_finds_a_special_byte_anywhere() {
        for len in 0..40 {
            let clean = "a".repeat(len);
            assert!(!needs_escape(clean.as_bytes()));
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut bytes = clean.clone().into_bytes();
                    bytes[at] = special;
                    assert!(needs_escape(&bytes), "{len} {at} {special}");
                }
            }
        }
    }
}
