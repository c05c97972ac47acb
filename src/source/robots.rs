//! `robots.txt`, as the crawler reads it (RFC 9309): the group for our
//! product token (`archive`) if there is one, else the `*` group; the
//! longest matching `Allow`/`Disallow` rule wins, `Allow` on a tie; `*`
//! matches any run of characters and a trailing `$` anchors the end.

/// One robots.txt rule: whether it allows, and its path pattern.
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
        let agent = agent.to_ascii_lowercase();
        // Groups: consecutive user-agent lines, then their rules.
        let mut groups: Vec<(Vec<String>, Vec<Rule>)> = Vec::new();
        let mut last_was_agent = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().to_string());
            match key.as_str() {
                "user-agent" => {
                    if !last_was_agent || groups.is_empty() {
                        groups.push((Vec::new(), Vec::new()));
                    }
                    if let Some(g) = groups.last_mut() {
                        g.0.push(value.to_ascii_lowercase());
                    }
                    last_was_agent = true;
                }
                "allow" | "disallow" => {
                    last_was_agent = false;
                    if let Some(g) = groups.last_mut() {
                        if !value.is_empty() {
                            g.1.push((key == "allow", value));
                        }
                    }
                }
                _ => last_was_agent = false,
            }
        }
        let ours = groups.iter().find(|(agents, _)| {
            agents
                .iter()
                .any(|a| a != "*" && agent.starts_with(a.as_str()))
        });
        let star = groups
            .iter()
            .find(|(agents, _)| agents.iter().any(|a| a == "*"));
        Robots {
            rules: ours.or(star).map(|(_, r)| r.clone()).unwrap_or_default(),
        }
    }

    /// Whether `path` (with its query) may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, path) {
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

/// Robots pattern match: `*` is any run, `$` at the end anchors.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !path.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else {
            match path[pos..].find(part) {
                Some(at) => pos += at + part.len(),
                None => return false,
            }
        }
    }
    if anchored {
        // The last literal part must end the path.
        parts.last().is_some_and(|last| path.ends_with(last))
            && (pos == path.len() || parts.len() > 1)
    } else {
        true
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
}
