//! Every numeric key of the configuration rejects negative, NaN, infinite
//! and huge values with exit 2, naming the key and its line (issue 9,
//! item 5), instead of panicking later.
//!
//! The keys are not listed by hand: they are the numeric leaves of
//! `Config::default()` serialized (plus one `[check.hosts."…"]` entry, whose
//! map is empty by default), so a numeric field added without a bound makes
//! this test fail. The same list is checked against the keys the shipped
//! `config.toml` documents, so the two stay in step.

mod common;

use std::collections::BTreeSet;

use archive::config::{Config, HostLimit};
use common::check_with_config as run;
use serde_json::Value;

/// Keys whose every integer is meaningful: "more free bytes than any disk
/// has" is how downloads are switched off (tests/store.rs relies on it).
const NO_UPPER_BOUND: &[&str] = &["store.min_free_bytes"];

/// A numeric key: its path and whether it takes integers only.
#[derive(Debug, Clone)]
struct Key {
    path: Vec<String>,
    integer: bool,
    default: String,
}

impl Key {
    fn dotted(&self) -> String {
        self.path.join(".")
    }

    /// The name the error message uses: one host stands for all.
    fn named(&self) -> String {
        if is_host(&self.path) {
            format!("check.hosts.<host>.{}", self.path[3])
        } else {
            self.dotted()
        }
    }
}

/// `check.hosts.<host>.<key>`.
fn is_host(path: &[String]) -> bool {
    path.len() == 4 && path[0] == "check" && path[1] == "hosts"
}

fn collect(value: &Value, path: &mut Vec<String>, out: &mut Vec<Key>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                collect(v, path, out);
                path.pop();
            }
        }
        Value::Number(n) => out.push(Key {
            path: path.clone(),
            integer: !n.is_f64(),
            default: n.to_string(),
        }),
        _ => {}
    }
}

fn numeric_keys() -> Vec<Key> {
    let mut config = Config::default();
    config.check.hosts.insert(
        "h.test".into(),
        HostLimit {
            rate_limit: 1.0,
            burst: 2,
        },
    );
    let value = serde_json::to_value(&config).unwrap();
    let mut keys = Vec::new();
    collect(&value, &mut Vec::new(), &mut keys);
    keys
}

/// A config file setting `key` to `value`, and the line it is on.
fn config_text(key: &Key, value: &str) -> (String, usize) {
    let (table, name) = key.path.split_at(key.path.len() - 1);
    let header = if is_host(&key.path) {
        format!("[check.hosts.\"{}\"]", table[2])
    } else {
        format!("[{}]", table.join("."))
    };
    let mut lines = vec![
        "# numbers test: the folder to scan is given".to_string(),
        "# on the command line.".into(),
        String::new(),
        header,
    ];
    // A host entry needs its rate; put it first so the line moves.
    if is_host(&key.path) && name[0] != "rate_limit" {
        lines.push("rate_limit = 1.0".into());
    }
    lines.push(format!("{} = {value}", name[0]));
    let line = lines.len();
    lines.push(String::new());
    (lines.join("\n"), line)
}

#[test]
fn the_key_list_is_not_empty_and_matches_config_toml() {
    let keys = numeric_keys();
    let from_struct: BTreeSet<String> = keys
        .iter()
        .filter(|k| !k.dotted().starts_with("check.hosts."))
        .map(Key::dotted)
        .collect();
    // Sanity: the walk found the keys the issue names.
    for k in [
        "check.connect_timeout",
        "daemon.interval_secs",
        "check.burst",
    ] {
        assert!(from_struct.contains(k), "{k} missing from {from_struct:?}");
    }
    assert!(keys.iter().any(|k| k.named() == "check.hosts.<host>.burst"));
    let shipped: toml::Table =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let shipped = serde_json::to_value(shipped).unwrap();
    let mut documented = Vec::new();
    collect(&shipped, &mut Vec::new(), &mut documented);
    let documented: BTreeSet<String> = documented.iter().map(Key::dotted).collect();
    assert_eq!(
        from_struct, documented,
        "config.toml and src/config.rs differ"
    );
}

#[test]
fn defaults_are_accepted() {
    // The control: the harness does not fail for reasons of its own.
    let dir = tempfile::tempdir().unwrap();
    for key in numeric_keys() {
        let (text, _) = config_text(&key, &key.default);
        let (code, err) = run(dir.path(), &text);
        assert_eq!(code, Some(0), "{} = {}: {err}", key.dotted(), key.default);
    }
}

#[test]
fn negative_nan_infinite_and_huge_numbers_exit_2_naming_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for key in numeric_keys() {
        let mut values = vec!["-1", "-1.0", "nan", "-nan", "inf", "-inf", "1e300"];
        if key.integer && !NO_UPPER_BOUND.contains(&key.dotted().as_str()) {
            values.push("9223372036854775807");
        }
        if !key.integer {
            values.push("1e18");
        }
        for value in values {
            let (text, line) = config_text(&key, value);
            let (code, err) = run(dir.path(), &text);
            let named = err.contains(&format!("`{}`", key.named()));
            let lined = err.contains(&format!("line {line},"));
            if code != Some(2) || !named || !lined || err.contains("panicked") {
                failures.push(format!(
                    "{} = {value} (line {line}): exit {code:?}\n{err}",
                    key.dotted()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

#[test]
fn bounds_are_inclusive_and_in_range_values_pass() {
    // A few edges the docs promise (config.toml comments).
    let dir = tempfile::tempdir().unwrap();
    let ok = [
        ("[check]\nretry_backoff = 0", 0),
        ("[check]\nmax_redirects = 0", 0),
        ("[daemon]\ngrace_secs = 0.0", 0),
        ("[daemon]\ninterval_secs = 0.05", 0),
        ("[store]\nmin_free_bytes = 18446744073709551615", 0),
        ("[check]\ntimeout = 86400", 0),
        ("[check]\ntimeout = 86400.5", 2),
        ("[check]\nconnect_timeout = 0", 2),
        ("[links]\nmin_exploded_run = 1", 2),
        ("[check]\nburst = 4.0", 2),
        // "No rate limit" for a local server (bench/check.sh): a cap of
        // 10,000 held one host of 100,000 links to 10,000 checks/s.
        ("[check]\nrate_limit = 1000000.0\nburst = 1000000", 0),
        ("[check]\nrate_limit = 1000000.5", 2),
        ("[check]\nburst = 1000001", 2),
    ];
    for (text, want) in ok {
        let (code, err) = run(dir.path(), text);
        assert_eq!(code, Some(want), "{text}: {err}");
    }
}

/// Issue 10: a per-host `rate_limit = 0` was accepted and the run waited
/// 11.6 days per request; a huge `gc_after_days` overflowed. Zero and
/// near-zero rates, per host as at the top level, and the largest
/// day counts exit 2 naming the key and its line.
#[test]
fn zero_rates_and_huge_gc_ages_exit_2_naming_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let host = "# a host entry\n[check.hosts.\"slow.example\"]\n";
    let cases = [
        (
            format!("{host}rate_limit = 0"),
            3,
            "check.hosts.<host>.rate_limit",
        ),
        (
            format!("{host}rate_limit = 0.0"),
            3,
            "check.hosts.<host>.rate_limit",
        ),
        (
            format!("{host}rate_limit = -0.5"),
            3,
            "check.hosts.<host>.rate_limit",
        ),
        (
            format!("{host}rate_limit = 0.0001"),
            3,
            "check.hosts.<host>.rate_limit",
        ),
        (
            format!("{host}rate_limit = 1.0\nburst = 0"),
            4,
            "check.hosts.<host>.burst",
        ),
        ("[check]\n\nrate_limit = 0".into(), 3, "check.rate_limit"),
        (
            "[store]\ngc_after_days = 36501".into(),
            2,
            "store.gc_after_days",
        ),
        (
            "[store]\ngc_after_days = 106751991167301".into(),
            2,
            "store.gc_after_days",
        ),
    ];
    for (text, line, key) in cases {
        let (code, err) = run(dir.path(), &text);
        assert_eq!(code, Some(2), "{text}: {err}");
        assert!(err.contains(&format!("`{key}`")), "{text}: {err}");
        assert!(err.contains(&format!("line {line},")), "{text}: {err}");
        assert!(!err.contains("panicked"), "{text}: {err}");
    }
    // In range, the same keys pass.
    for text in [
        format!("{host}rate_limit = 0.001"),
        "[store]\ngc_after_days = 36500".into(),
    ] {
        let (code, err) = run(dir.path(), &text);
        assert_eq!(code, Some(0), "{text}: {err}");
    }
}
