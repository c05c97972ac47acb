//! An invalid regex (`links.include`/`links.exclude`) or glob
//! (`corpus.include`/`corpus.exclude`) in `config.toml` ends the run with
//! exit 2 and a message naming the key and its line (issue 9, item 5).
//! Before, the patterns were compiled once to check them and again where
//! they were used, with that second compilation's errors swallowed.

mod common;

use common::check_with_config as run;

#[test]
fn invalid_regexes_and_globs_exit_2_naming_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("links.include", "[links]\n\ninclude = [\"(\"]\n"),
        (
            "links.exclude",
            "[links]\ninclude = []\nexclude = [\"ok\", \"[z-a]\"]\n",
        ),
        ("corpus.include", "[corpus]\n\ninclude = [\"**/*.{md\"]\n"),
        (
            "corpus.exclude",
            "[corpus]\ninclude = [\"**/*.md\"]\nexclude = [\"a/[b\"]\n",
        ),
    ];
    for (key, text) in cases {
        let (code, stderr) = run(dir.path(), text);
        assert_eq!(code, Some(2), "{key}: {stderr}");
        assert!(stderr.contains(&format!("`{key}`")), "{key}: {stderr}");
        assert!(stderr.contains("line 3"), "{key}: {stderr}");
    }
}

#[test]
fn valid_patterns_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run(
        dir.path(),
        "[links]\nexclude = [\"^https://ads\\\\.\"]\n[corpus]\ninclude = [\"**/*.md\"]\n",
    );
    assert_eq!(code, Some(0), "{stderr}");
}

/// `[resolve]` entries are parsed with the file too: a value that is not
/// an address is exit 2 naming the entry and its line, even offline (it
/// used to pass until the HTTP client was built, with no line).
#[test]
fn invalid_resolve_entry_exits_2_naming_entry_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run(
        dir.path(),
        "[resolve]\n\"a.test\" = \"127.0.0.1:8080\"\n\"b.test\" = \"localhost\"\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("\"b.test\" = \"localhost\""), "{stderr}");
    assert!(stderr.contains("line 1"), "{stderr}");
}
