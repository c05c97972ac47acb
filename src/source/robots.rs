//! `robots.txt`, as the crawler reads it (RFC 9309).
//!
//! - **Groups.** A group is a run of `user-agent` lines followed by rules;
//!   only an `allow`/`disallow` line ends the run, so `crawl-delay` or
//!   `sitemap` between two `user-agent` lines does not split a group. Every
//!   group naming our product token (case-insensitive, the token compared
//!   whole: `arch` does not name `archive`) is merged into one (§2.2.1);
//!   when none does, every `*` group is merged instead; when neither exists,
//!   nothing is disallowed.
//! - **Precedence.** The matching rule with the longest pattern (in octets)
//!   wins; an `allow` and a `disallow` of equal length resolve to `allow`
//!   (§2.2.2). An empty `disallow` is no rule.
//! - **Patterns.** `*` matches any run of characters, a trailing `$`
//!   anchors the end; anything else is literal (§2.2.3). Non-ASCII octets in
//!   patterns are percent-encoded and `%xx` escapes upper-cased on both
//!   sides before comparing, since the paths we match come from `url`,
//!   which percent-encodes them.
//! - `/robots.txt` itself is always allowed (§2.2.2).
//!
//! Why not the `texting_robots` crate: its last release (0.2.2) depends on
//! older majors of `bstr`, `nom` and `thiserror` than the rest of the tree,
//! rejects the whole file when one rule fails to compile, and the parser
//! below is small enough to keep correct with the RFC's own examples as
//! tests.

/// One robots.txt rule: whether it allows, and its normalized path pattern.
type Rule = (bool, String);

/// The rules that apply to us on one host.
#[derive(Debug, Clone, Default)]
pub struct Robots {
    rules: Vec<Rule>,
}

impl Robots {
    /// Everything allowed (no robots.txt, or a 4xx for it).
    pub fn allow_all() -> Robots {
        Robots::default()
    }

    /// Nothing allowed (robots.txt unreachable or 5xx: stay away for now).
    pub fn deny_all() -> Robots {
        Robots {
            rules: vec![(false, "/".into())],
        }
    }

    /// Parses `text` for the product token `agent` (e.g. `archive`).
    pub fn parse(text: &str, agent: &str) -> Robots {
        let agent = product_token(agent).to_ascii_lowercase();
        // Each group: (names ours, names `*`, rules).
        let mut groups: Vec<(bool, bool, Vec<Rule>)> = Vec::new();
        let mut in_agent_run = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "user-agent" => {
                    if !in_agent_run {
                        groups.push((false, false, Vec::new()));
                        in_agent_run = true;
                    }
                    if let Some(g) = groups.last_mut() {
                        let token = product_token(value);
                        if value.starts_with('*') {
                            g.1 = true;
                        } else if !token.is_empty() && token.eq_ignore_ascii_case(&agent) {
                            g.0 = true;
                        }
                    }
                }
                "allow" | "disallow" => {
                    in_agent_run = false;
                    // Rules before any user-agent line belong to no group.
                    if let Some(g) = groups.last_mut() {
                        if !value.is_empty() {
                            g.2.push((key == "allow", normalize(value)));
                        }
                    }
                }
                // Other records (sitemap, crawl-delay, ...) neither start nor
                // end a group.
                _ => {}
            }
        }
        let ours = groups.iter().any(|g| g.0);
        let rules = groups
            .into_iter()
            .filter(|g| if ours { g.0 } else { g.1 })
            .flat_map(|g| g.2)
            .collect();
        Robots { rules }
    }

    /// Whether `path` (with its query) may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        if path == "/robots.txt" {
            return true;
        }
        let path = normalize(path);
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, &path) {
                let len = pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, *allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// The product token of a user-agent value: its leading run of letters,
/// `_` and `-` (RFC 9309 §2.2.1), so `archive/0.1 (+url)` is `archive`.
fn product_token(value: &str) -> &str {
    let end = value
        .find(|c: char| !(c.is_ascii_alphabetic() || c == '_' || c == '-'))
        .unwrap_or(value.len());
    &value[..end]
}

/// Percent-encodes non-ASCII octets and upper-cases existing `%xx` escapes,
/// so that a pattern and a path spelling the same octets compare equal.
fn normalize(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            out.push('%');
            out.push(char::from(bytes[i + 1].to_ascii_uppercase()));
            out.push(char::from(bytes[i + 2].to_ascii_uppercase()));
            i += 3;
        } else if b.is_ascii() {
            out.push(char::from(b));
            i += 1;
        } else {
            out.push_str(&format!("%{b:02X}"));
            i += 1;
        }
    }
    out
}

/// Robots pattern match: `*` is any run, a trailing `$` anchors the end,
/// otherwise the pattern only has to match a prefix of `path`.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p.as_bytes(), true),
        None => (pattern.as_bytes(), false),
    };
    let path = path.as_bytes();
    // Classic wildcard matching with one backtrack point (the last `*`):
    // linear in practice, no recursion on hostile patterns.
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p == pattern.len() && (!anchored || s == path.len()) {
            return true;
        }
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, s));
            p += 1;
        } else if p < pattern.len() && s < path.len() && pattern[p] == path[s] {
            p += 1;
            s += 1;
        } else if let Some((sp, ss)) = star {
            if ss >= path.len() {
                return false;
            }
            star = Some((sp, ss + 1));
            p = sp + 1;
            s = ss + 1;
        } else {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_precedence() {
        let txt = "User-agent: *\nDisallow: /private/\nAllow: /private/ok\n\nUser-agent: archive\nUser-agent: other\nDisallow: /no-archive\n";
        let ours = Robots::parse(txt, "archive");
        assert!(!ours.allows("/no-archive/x"));
        assert!(ours.allows("/private/x"), "our own group replaces *");
        let star = Robots::parse(txt, "somebot");
        assert!(!star.allows("/private/x"));
        assert!(star.allows("/private/ok.html"));
        assert!(star.allows("/public"));
    }

    #[test]
    fn wildcards() {
        let r = Robots::parse(
            "User-agent: *\nDisallow: /*.pdf$\nDisallow: /tmp*/x\n",
            "archive",
        );
        assert!(!r.allows("/a/b.pdf"));
        assert!(r.allows("/a/b.pdf?x=1"));
        assert!(!r.allows("/tmp123/x"));
        assert!(Robots::allow_all().allows("/x"));
        assert!(!Robots::deny_all().allows("/x"));
    }

    // The examples of RFC 9309, section by section.

    #[test]
    fn rfc_2_2_1_groups_naming_the_same_agent_merge() {
        let txt = "user-agent: ExampleBot\ndisallow: /foo\ndisallow: /bar\n\nuser-agent: ExampleBot\ndisallow: /baz\n";
        let r = Robots::parse(txt, "examplebot");
        assert!(!r.allows("/foo"));
        assert!(!r.allows("/bar"));
        assert!(!r.allows("/baz"), "the second group is merged, not ignored");
        assert!(r.allows("/qux"));
    }

    #[test]
    fn rfc_2_2_1_product_token_is_case_insensitive_and_whole() {
        let txt = "User-agent: ExampleBot/1.0\nDisallow: /a\n\nUser-agent: Example\nDisallow: /b\n";
        let r = Robots::parse(txt, "examplebot");
        assert!(
            !r.allows("/a"),
            "version suffix on the line is not part of the token"
        );
        assert!(
            r.allows("/b"),
            "`Example` is another crawler, not a prefix of ours"
        );
    }

    #[test]
    fn rfc_5_1_simple_example() {
        let txt = "User-Agent: *\nDisallow: *.gif$\nDisallow: /example/\nAllow: /publications/\n\n\
                   User-Agent: foobot\nDisallow:/\nAllow:/example/page.html\nAllow:/example/allowed.gif\n\n\
                   User-Agent: barbot\nUser-Agent: bazbot\nDisallow: /example/page.html\n\n\
                   User-Agent: quxbot\n";
        let foo = Robots::parse(txt, "foobot");
        assert!(foo.allows("/example/page.html"));
        assert!(foo.allows("/example/allowed.gif"));
        assert!(!foo.allows("/example/disallowed.gif"));
        assert!(!foo.allows("/"));
        for bot in ["barbot", "bazbot"] {
            let r = Robots::parse(txt, bot);
            assert!(!r.allows("/example/page.html"), "{bot}");
            assert!(
                r.allows("/example/disallowed.gif"),
                "{bot}: * does not apply"
            );
        }
        let qux = Robots::parse(txt, "quxbot");
        assert!(
            qux.allows("/example/page.html"),
            "an empty group allows all"
        );
        // An agent named by no group falls to `*`.
        let other = Robots::parse(txt, "unknownbot");
        assert!(!other.allows("/example/page.html"));
        assert!(!other.allows("/a/b.gif"));
        assert!(other.allows("/a/b.gif?x"), "`$` anchors the end");
        assert!(other.allows("/publications/x"));
        assert!(other.allows("/robots.txt"), "always allowed");
    }

    #[test]
    fn rfc_5_2_longest_match() {
        let txt =
            "User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n";
        let r = Robots::parse(txt, "foobot");
        assert!(r.allows("/example/page/"));
        assert!(r.allows("/example/page/other.gif"));
        assert!(!r.allows("/example/page/disallowed.gif"));
    }

    #[test]
    fn rfc_2_2_2_allow_wins_an_equivalent_disallow() {
        let r = Robots::parse("User-agent: *\nDisallow: /page\nAllow: /page\n", "archive");
        assert!(r.allows("/page"));
        let r = Robots::parse("User-agent: *\nAllow: /pag*\nDisallow: /page\n", "archive");
        assert!(r.allows("/page"), "equal length, so allow");
    }

    #[test]
    fn rfc_2_2_3_special_characters() {
        let r = Robots::parse(
            "User-agent: *\nDisallow: /path/file-with-a-*.html\nDisallow: /path/foo-$\n",
            "archive",
        );
        assert!(!r.allows("/path/file-with-a-foo.html"));
        assert!(!r.allows("/path/file-with-a-bar.html"));
        assert!(!r.allows("/path/foo-"));
        assert!(r.allows("/path/foo-bar"));
        assert!(r.allows("/path/file-with-a-foo.htm"));
        // Non-ASCII in a pattern matches the percent-encoded path.
        let r = Robots::parse("User-agent: *\nDisallow: /fö\n", "archive");
        assert!(!r.allows("/f%c3%b6o"));
    }

    #[test]
    fn other_records_do_not_split_a_group_and_no_group_allows_all() {
        let txt = "User-agent: a\nCrawl-delay: 5\nUser-agent: archive\nDisallow: /x\n";
        assert!(!Robots::parse(txt, "archive").allows("/x"));
        assert!(Robots::parse("Disallow: /\n", "archive").allows("/x"));
        assert!(Robots::parse("User-agent: other\nDisallow: /\n", "archive").allows("/x"));
    }

    #[test]
    fn wildcard_matching_backtracks() {
        assert!(matches("/a*b*c$", "/axbxbyc"));
        assert!(!matches("/a*b*c$", "/axbxbycd"));
        assert!(matches("*", ""));
        assert!(matches("/a*$", "/a"));
        assert!(!matches("/a$", "/ab"));
    }
}
