//! CSS `url(…)` references and HTML `srcset` candidates: two small
//! grammars that live inside attribute values, parsed by the rules of
//! their specs rather than by a regex over the page.

/// Every `url(…)` in a piece of CSS, with its byte offset in `css`.
/// Handles quoted and unquoted forms and skips comments.
pub fn css_urls(css: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let bytes = css.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"/*") {
            i = css[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |e| i + 2 + e + 2);
            continue;
        }
        if bytes[i].eq_ignore_ascii_case(&b'u')
            && css
                .get(i..i + 4)
                .is_some_and(|s| s.eq_ignore_ascii_case("url("))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-'))
        {
            let mut j = i + 4;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            let (start, end, next) = match bytes.get(j) {
                Some(&q @ (b'"' | b'\'')) => {
                    let close = css[j + 1..]
                        .find(q as char)
                        .map_or(bytes.len(), |e| j + 1 + e);
                    let after = css[close..]
                        .find(')')
                        .map_or(bytes.len(), |e| close + e + 1);
                    (j + 1, close, after)
                }
                _ => {
                    let close = css[j..].find(')').map_or(bytes.len(), |e| j + e);
                    (j, close, (close + 1).min(bytes.len()))
                }
            };
            let value = css[start..end].trim();
            if !value.is_empty() {
                found.push((start, value.to_string()));
            }
            i = next.max(i + 1);
            continue;
        }
        i += 1;
    }
    found
}

/// The URLs of a `srcset` attribute, each candidate once, following the
/// HTML spec's parsing: a URL is a run of non-space characters (trailing
/// commas belong to the separator), then optional descriptors up to a
/// comma. Commas inside URLs (common on CDNs) are kept.
pub fn srcset_urls(srcset: &str) -> Vec<(usize, String)> {
    let bytes = srcset.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut end = i;
        let mut had_trailing_comma = false;
        while end > start && bytes[end - 1] == b',' {
            end -= 1;
            had_trailing_comma = true;
        }
        if end > start {
            out.push((start, srcset[start..end].to_string()));
        }
        if !had_trailing_comma {
            // Skip descriptors (`2x`, `480w`) up to the next comma outside parentheses.
            let mut depth = 0i32;
            while i < bytes.len() {
                match bytes[i] {
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    b',' if depth <= 0 => break,
                    _ => {}
                }
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_url_forms() {
        let css = "background: url(a.png); /* url(no.png) */ background-image:URL( \"b c.jpg\" ), url('d.webp')";
        let urls: Vec<String> = css_urls(css).into_iter().map(|(_, u)| u).collect();
        assert_eq!(urls, ["a.png", "b c.jpg", "d.webp"]);
    }

    #[test]
    fn srcset_candidates() {
        let s = "a.jpg 1x, b.jpg 2x,c.jpg, https://cdn/x,y.jpg 480w";
        let urls: Vec<String> = srcset_urls(s).into_iter().map(|(_, u)| u).collect();
        assert_eq!(urls, ["a.jpg", "b.jpg", "c.jpg", "https://cdn/x,y.jpg"]);
    }

    #[test]
    fn unterminated_is_safe() {
        assert_eq!(css_urls("url(\"abc").len(), 1);
        assert!(css_urls("url(").is_empty());
        assert!(srcset_urls(" , ,").is_empty());
    }
}
