//! A fast path for the YAML front matter nearly every article has: a
//! handful of `key: value` lines at the left margin, perhaps a key with a
//! block list of plain items (`tags:` then `- 南开大学`).
//!
//! `yaml_rust2` read that shape twice per document (once through the
//! bounds [`super::guard`] puts on hostile YAML, once to load it), some
//! 170,000 instructions a header and 5 % of an offline check. This module
//! reads the shape by hand and gives exactly the entries the loader would
//! (the same strings, numbers resolved by `yaml_rust2`'s own
//! [`Yaml::from_str`]), or `None` for anything it does not fully
//! understand: a comment, a quote it cannot read whole, a multi-line or
//! block scalar, a flow collection, an anchor, a tag, a tab, a carriage
//! return, a duplicated key, nesting. `None` sends the front matter down
//! the full path (guard, then loader), so an unusual header costs what it
//! cost before and is read the same way.
//!
//! What is accepted is valid YAML the guard would pass: no aliases, two
//! levels deep, and only under [`super::guard::MAX_BYTES`].

use yaml_rust2::Yaml;

/// The top-level entries of `raw` in order, each key with its value as the
/// loader builds it (a list is [`Yaml::Array`], with its items left out: a
/// header never reads them), or `None` when `raw` is not of the simple
/// shape.
pub fn entries(raw: &str) -> Option<Vec<(&str, Yaml)>> {
    if raw.len() > super::guard::MAX_BYTES || raw.contains(['\r', '\t']) {
        return None;
    }
    let mut out: Vec<(&str, Yaml)> = Vec::new();
    // Inside a list under the last key: the indent of its `-`.
    let mut list_indent: Option<usize> = None;
    // The last key had nothing after its `:`, so a list may follow.
    let mut may_open_list = false;
    for line in raw.lines() {
        if line.trim_start_matches(' ').is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = &line[indent..];
        if let Some(item) = content.strip_prefix("- ") {
            // An item of the list opened by a `key:` with no value.
            let (_, value) = out.last_mut()?;
            match list_indent {
                Some(i) if i == indent => {}
                None if may_open_list => {
                    list_indent = Some(indent);
                    may_open_list = false;
                    *value = Yaml::Array(Vec::new());
                }
                _ => return None,
            }
            plain(item.trim_start_matches(' '))?;
            continue;
        }
        if indent > 0 {
            return None;
        }
        list_indent = None;
        let (key, rest) = content.split_once(':')?;
        let key_ok = key.len() <= 128
            && key.starts_with(|c: char| c.is_ascii_alphabetic())
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        // `key:value` with no space is one scalar, not an entry.
        if !key_ok || !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        if !matches!(Yaml::from_str(key), Yaml::String(_)) || out.iter().any(|(k, _)| *k == key) {
            // `true:`, `null:` are not string keys; a repeated key is an
            // error the loader reports.
            return None;
        }
        let value = rest.trim_matches(' ');
        may_open_list = value.is_empty();
        let value = if value.is_empty() {
            Yaml::Null
        } else {
            scalar(value)?
        };
        out.push((key, value));
    }
    (!out.is_empty()).then_some(out)
}

/// A value written on its key's line: a plain scalar resolved the way the
/// loader resolves an untagged one, or a quoted string without escapes.
fn scalar(value: &str) -> Option<Yaml> {
    for quote in ['\'', '"'] {
        if let Some(inner) = value.strip_prefix(quote) {
            let inner = inner.strip_suffix(quote)?;
            let escapes = inner.contains(quote) || (quote == '"' && inner.contains('\\'));
            return (!escapes && printable(inner)).then(|| Yaml::String(inner.to_string()));
        }
    }
    plain(value).map(Yaml::from_str)
}

/// `value` if it is a plain scalar that ends on its line and means itself:
/// it does not start with an indicator, holds no `: ` (a nested mapping),
/// no ` #` (a comment) and no flow brackets, and does not end in `:`.
fn plain(value: &str) -> Option<&str> {
    const INDICATORS: &[char] = &[
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@',
        '`',
    ];
    let ok = !value.is_empty()
        && !value.starts_with(INDICATORS)
        && !value.ends_with(':')
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.contains(['[', ']', '{', '}', ','])
        && printable(value);
    ok.then_some(value)
}

/// No control characters, BOM or line separators, which YAML treats
/// specially or refuses.
fn printable(s: &str) -> bool {
    !s.chars().any(|c| {
        c.is_control()
            || matches!(
                c,
                '\u{feff}' | '\u{fffe}' | '\u{ffff}' | '\u{2028}' | '\u{2029}'
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use yaml_rust2::YamlLoader;

    /// What the loader makes of `raw`, in the same form.
    fn loaded(raw: &str) -> Option<Vec<(String, Yaml)>> {
        let docs = YamlLoader::load_from_str(raw).ok()?;
        let Some(Yaml::Hash(map)) = docs.into_iter().next() else {
            return None;
        };
        map.into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Yaml::Array(_) => Yaml::Array(Vec::new()),
                    v => v,
                };
                Some((k.as_str()?.to_string(), v))
            })
            .collect()
    }

    fn fast(raw: &str) -> Option<Vec<(String, Yaml)>> {
        entries(raw).map(|e| e.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    #[test]
    fn the_common_shape_is_read_as_the_loader_reads_it() {
        let raw = "title: 南开大学->学校召开会议 | example.info\ndate: 2020-05-22 22:47:38\nurlname: 0ab594fd\ntags: \n- 南开大学\ncategories:\n- example.info\n- 南开大学\nauthorbox: false\nsidebar: false\n";
        let got = fast(raw).expect("simple shape");
        assert_eq!(Some(got.clone()), loaded(raw));
        assert_eq!(
            got[0].1,
            Yaml::String("南开大学->学校召开会议 | example.info".into())
        );
        assert_eq!(got[4].1, Yaml::Array(Vec::new()));
        assert_eq!(got[6].1, Yaml::Boolean(false));
    }

    #[test]
    fn accepted_values_match_the_loader() {
        for raw in [
            "url: https://example.org/a.html?x=1#top\n",
            "title: C# and F#\n",
            "title: a:b\n",
            "title: it's \"fine\"\n",
            "title: 'single quoted: with colon # and hash'\n",
            "title: \"double quoted, with comma\"\n",
            "title: ''\n",
            "date: 2021-09-18\n",
            "date: 20210918\n",
            "date: +12\n",
            "date: 0x1F\n",
            "date: 0o17\n",
            "date: 1.5e3\n",
            "date: .inf\n",
            "date: 99999999999999999999\n",
            "title: ~\n",
            "title: null\n",
            "title: True\n",
            "title:\nurl: x\n",
            "title:    spaced   \n",
            "tags:\n  - a\n  - b\ntitle: t\n",
            "a: 1\n\nb: 2\n",
        ] {
            let got = fast(raw);
            assert!(got.is_some(), "fast path declined {raw:?}");
            assert_eq!(got, loaded(raw), "in {raw:?}");
        }
    }

    #[test]
    fn anything_else_goes_to_the_loader() {
        for raw in [
            // Comments.
            "# comment\ntitle: t\n",
            "title: t # comment\n",
            // Colons and quotes the fast path does not read.
            "title: a: b\n",
            "title: ends:\n",
            "title: 'it''s'\n",
            "title: \"a \\\"b\\\"\"\n",
            "title: 'unclosed\n",
            "title: 'a' b\n",
            // Multi-line values and block scalars.
            "title: first\n  second\n",
            "title: |\n  text\n",
            "title: >\n  text\n",
            "title: \"multi\n  line\"\n",
            // Flow collections, anchors, aliases, tags.
            "tags: [a, b]\n",
            "a: {b: 1}\n",
            "a: &x 1\nb: *x\n",
            "date: !!str 2020\n",
            "title: a, b\n",
            // Nesting, odd keys and layout.
            "a:\n  b: 1\n",
            "tags:\n- a\n  - b\n",
            "tags:\n  - a\n- b\n",
            "- a\n",
            "  title: t\n",
            "\"title\": t\n",
            "true: t\n",
            "title: a\ntitle: b\n",
            "title:t\n",
            "title: a\r\n",
            "title: ~\n- a\n",
            "title: t\n- a\n",
            "title: t\n  - a\n",
            "title:\ta\n",
            "",
            "? complex\n: key\n",
        ] {
            assert_eq!(fast(raw), None, "fast path took {raw:?}");
        }
    }
}
