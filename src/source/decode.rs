//! Bytes to text: UTF-8 when it is, otherwise the encoding the bytes say
//! (a BOM) or the one `chardetng` guesses (GBK/GB18030, Big5, Shift_JIS,
//! windows-1252, …), decoded with `encoding_rs`.
//!
//! Chinese archives scraped years ago are often GBK; failing on them, or
//! decoding them as Latin-1 and reporting mojibake URLs, would be worse
//! than useless.

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
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    // `tld: None` and `Utf8Detection::Deny`: we already know it is not UTF-8.
    let encoding = detector.guess(None, chardetng::Utf8Detection::Deny);
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    Decoded {
        text: text.into_owned(),
        encoding: encoding.name(),
        lossy: had_errors,
    }
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
