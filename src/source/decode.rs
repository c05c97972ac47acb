//! Bytes to text: UTF-8 when it is, otherwise the encoding the bytes say
//! (a BOM) or the one `chardetng` guesses (GBK/GB18030, Big5, Shift_JIS,
//! windows-1252, …), decoded with `encoding_rs`.
//!
//! Chinese archives scraped years ago are often GBK; failing on them, or
//! decoding them as Latin-1 and reporting mojibake URLs, would be worse
//! than useless.
//!
//! Detection is sampled. `chardetng` runs every byte through some twenty
//! candidate decoders and scorers; fed whole GBK articles it was 40 % of
//! the CPU of an offline check of the benchmark corpus (one file in six
//! GBK; issue 11), more than extraction and diagnosis together. A few
//! hundred non-ASCII bytes are as decisive as a whole file (they are
//! scores of CJK characters), so the detector sees the file up to
//! [`DETECT_NON_ASCII`] non-ASCII bytes, as a prefix (`last = false`: a
//! sample cut inside a multi-byte character must not count as a
//! truncated sequence). The guess is then checked by decoding the whole
//! file: if the rest of the file is not valid in the guessed encoding,
//! the sample misled and the detector is run again on every byte. What
//! a sample can still get differently from the whole file is a file whose
//! encoding changes after its first few KB, where every guess is wrong
//! somewhere; it is read as its beginning says, as browsers do (they
//! detect from a prefix too).

/// Text decoded from bytes, and how.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static str,
    /// Some bytes could not be decoded and were replaced.
    pub lossy: bool,
}

/// True when the bytes look like a binary file (NUL in the first 8 KiB)
/// rather than text. UTF-16 text has NULs too, so a UTF-16 BOM wins.
pub fn looks_binary(bytes: &[u8]) -> bool {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return false;
    }
    // `contains` on a slice is vectorised; an iterator chain is not.
    bytes[..bytes.len().min(8192)].contains(&0)
}

/// Decodes `bytes` to text. Never fails; see [`Decoded::lossy`].
pub fn decode(bytes: &[u8]) -> Decoded {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return Decoded {
            text: text.into_owned(),
            encoding: encoding.name(),
            lossy: had_errors,
        };
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Decoded {
            text: text.to_string(),
            encoding: "UTF-8",
            lossy: false,
        };
    }
    let sample = detect_sample(bytes);
    let encoding = guess(&bytes[..sample], sample == bytes.len());
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if had_errors && sample < bytes.len() {
        // The sample's guess does not fit the whole file: ask again with
        // all of it (what detection did before it was sampled).
        let full = guess(bytes, true);
        if full != encoding {
            let (text, had_errors) = full.decode_without_bom_handling(bytes);
            return Decoded {
                text: text.into_owned(),
                encoding: full.name(),
                lossy: had_errors,
            };
        }
    }
    Decoded {
        text: text.into_owned(),
        encoding: encoding.name(),
        lossy: had_errors,
    }
}

/// Non-ASCII bytes the encoding detector is shown before it guesses: about
/// 80 CJK characters in a double-byte encoding, a few sentences, which
/// is enough for `chardetng` to tell GBK from Big5, EUC-KR or Shift_JIS
/// by character frequencies. (On the GBK files of the benchmark corpus a
/// prefix of 150 bytes, ASCII header included, already named every one
/// right.) The detector's cost is per byte fed, through some twenty
/// candidates, so this bounds it per file: at 512 it was still 20 % of
/// the CPU of an offline check of the seed-mix corpus (issue 11).
pub const DETECT_NON_ASCII: usize = 160;

/// Length of the prefix of `bytes` that holds its first
/// [`DETECT_NON_ASCII`] non-ASCII bytes (all of `bytes` if it has fewer).
fn detect_sample(bytes: &[u8]) -> usize {
    let mut seen = 0;
    // Counted a chunk at a time so the loop vectorises; the sample ends
    // at the chunk that reaches the budget (at most 63 bytes over).
    for (i, chunk) in bytes.chunks(64).enumerate() {
        seen += chunk.iter().filter(|&&b| b >= 0x80).count();
        if seen >= DETECT_NON_ASCII {
            return ((i + 1) * 64).min(bytes.len());
        }
    }
    bytes.len()
}

/// `chardetng`'s guess for `bytes`; `whole` when they are the entire file.
fn guess(bytes: &[u8], whole: bool) -> &'static encoding_rs::Encoding {
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, whole);
    // `tld: None` and `Utf8Detection::Deny`: we already know it is not UTF-8.
    detector.guess(None, chardetng::Utf8Detection::Deny)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_is_detected_and_decoded() {
        let text = "南开大学新闻网讯，学校召开会议。图片：微信图片_2023.png 原文链接";
        let (bytes, _, _) = encoding_rs::GBK.encode(text);
        let d = decode(&bytes);
        assert_eq!(d.text, text);
        assert!(
            d.encoding == "GBK" || d.encoding == "gb18030",
            "{}",
            d.encoding
        );
        assert!(!d.lossy);
    }

    #[test]
    fn a_long_gbk_file_is_detected_from_its_sample() {
        let text = "南开大学新闻网讯，学校召开会议，落实党中央决策部署。".repeat(400);
        let (bytes, _, _) = encoding_rs::GBK.encode(&text);
        assert!(detect_sample(&bytes) < bytes.len());
        let d = decode(&bytes);
        assert_eq!(d.text, text);
        assert!(!d.lossy);
    }

    #[test]
    fn utf8_bom_is_stripped() {
        let d = decode(b"\xEF\xBB\xBFhello");
        assert_eq!(d.text, "hello");
        assert_eq!(d.encoding, "UTF-8");
    }

    #[test]
    fn nul_means_binary() {
        assert!(looks_binary(b"\x89PNG\r\n\x1a\n\0\0\0"));
        assert!(!looks_binary("中文".as_bytes()));
    }
}
