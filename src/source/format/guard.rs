//! Bounds on YAML front matter before it is loaded.
//!
//! `YamlLoader` copies an anchor's value at every alias, so nine levels of
//! `&a [*b, *b, …]` in a few hundred bytes ("billion laughs") expand to
//! billions of nodes; and values nested tens of thousands deep are dropped
//! recursively, which overflows the stack. This module walks the parser's
//! event stream (which neither expands aliases nor recurses) and refuses
//! front matter that is too large, nests too deep or expands too much,
//! before anything is built from it.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};

/// Largest front matter read, in bytes. Real front matter is a few
/// hundred bytes; 64 KiB leaves room for long descriptions and tag lists.
pub const MAX_BYTES: usize = 64 * 1024;
/// Deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes that aliases may add by expansion, summed over all aliases.
pub const MAX_ALIAS_NODES: usize = 10_000;

/// Why front matter was refused, with its 1-based line inside `raw`.
#[derive(Debug)]
pub struct Refusal {
    pub line: usize,
    pub reason: String,
}

/// Checks `raw` against the bounds above. `Ok` also when the YAML is
/// malformed: the loader reports that as a note, as before.
pub fn check(raw: &str) -> Result<(), Refusal> {
    if raw.len() > MAX_BYTES {
        return Err(Refusal {
            line: 1,
            reason: format!(
                "YAML front matter is {} bytes, over the limit of {MAX_BYTES}",
                raw.len()
            ),
        });
    }
    let mut parser = Parser::new_from_str(raw);
    // Nodes seen so far, aliases counted at their expanded size.
    let mut total: usize = 0;
    let mut expanded: usize = 0;
    // Expanded size of each anchor, by anchor id.
    let mut sizes: HashMap<usize, usize> = HashMap::new();
    // Open collections: (anchor id, `total` when they started).
    let mut open: Vec<(usize, usize)> = Vec::new();
    loop {
        let (event, marker) = match parser.next_token() {
            Ok(next) => next,
            // The scanner stops flow collections at 255 levels itself,
            // before any event is seen; that is hostile, not a typo.
            Err(e) if e.info().contains("recursion limit") => {
                return Err(Refusal {
                    line: e.marker().line(),
                    reason: format!("YAML front matter nests deeper than {MAX_DEPTH} levels"),
                })
            }
            // Other malformed YAML is the loader's to report, as a note.
            Err(_) => return Ok(()),
        };
        match event {
            Event::StreamEnd => return Ok(()),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= MAX_DEPTH {
                    return Err(Refusal {
                        line: marker.line(),
                        reason: format!("YAML front matter nests deeper than {MAX_DEPTH} levels"),
                    });
                }
                total += 1;
                open.push((anchor, total - 1));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, start)) = open.pop() {
                    if anchor != 0 {
                        sizes.insert(anchor, total - start);
                    }
                }
            }
            Event::Scalar(_, _, anchor, _) => {
                total += 1;
                if anchor != 0 {
                    sizes.insert(anchor, 1);
                }
            }
            Event::Alias(anchor) => {
                // An alias to a collection still open (a recursive alias)
                // has no size yet; count it as one node.
                let size = sizes.get(&anchor).copied().unwrap_or(1);
                expanded = expanded.saturating_add(size);
                total = total.saturating_add(size);
                if expanded > MAX_ALIAS_NODES {
                    return Err(Refusal {
                        line: marker.line(),
                        reason: format!(
                            "YAML front matter expands aliases to more than {MAX_ALIAS_NODES} nodes (\"billion laughs\")"
                        ),
                    });
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_aliases_pass() {
        assert!(check("base: &b {x: 1, y: 2}\na: *b\nb: *b\ntitle: T\n").is_ok());
    }

    #[test]
    fn laughs_are_refused() {
        let mut y = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            y.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let r = check(&y).expect_err("refused");
        assert!(r.reason.contains("aliases"), "{}", r.reason);
        assert!(r.line > 1, "{}", r.line);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let flow = format!("k: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
        let block = format!("k:\n{}x\n", "- ".repeat(10_000));
        let shallow = format!(
            "k: {}{}\n",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        for y in [flow, block] {
            let r = check(&y).expect_err("refused");
            assert!(r.reason.contains("nests"), "{}", r.reason);
        }
        assert!(check(&shallow).is_ok());
    }

    #[test]
    fn size_is_bounded() {
        let y = format!("title: {}\n", "x".repeat(MAX_BYTES));
        assert!(check(&y).expect_err("refused").reason.contains("bytes"));
    }
}
