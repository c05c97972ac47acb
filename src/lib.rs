//! `archive`: find every image and source link in a corpus of archived web
//! articles, say which are broken, truncated or unresolvable and why,
//! repair what can be repaired, and report it.
//!
//! The crate is a pipeline; each stage is a module, in the order data
//! flows through them:
//!
//! | stage | module | job |
//! |---|---|---|
//! | source | [`source`] | walk the corpus, decode files, detect format and header |
//! | extract | [`extract`] | every URL in Markdown, HTML and text, with line and column |
//! | resolve | [`resolve`] | a base URL per document; relative links made absolute |
//! | diagnose | [`diagnose`] | static verdicts: truncated, malformed, exploded URLs, duplicates |
//! | check | [`check`] | HTTP: status, soft 404s, truncated bodies, source pages |
//! | repair | [`repair`] | replacements the network finds: images matched on the source page |
//! | store | [`store`] | content-addressed objects (sha256) and the state database |
//! | report | [`report`] | the JSON report (versioned schema) and the text one |
//!
//! The records the stages exchange are in [`model`], and the closed
//! vocabularies they use (reasons, syntaxes, finding kinds) in [`vocab`].
//! [`pipeline`] runs the static stages over a corpus; an [`engine`] owns
//! what runs need (settings, store, checker, document cache) and drives
//! documents through every stage into the reports, once for the CLI
//! ([`run`]) or once per cycle for the [`daemon`]; `main.rs` only parses
//! arguments.

pub mod check;
pub mod config;
pub mod daemon;
pub mod diagnose;
pub mod engine;
pub mod error;
pub mod extract;
pub mod lookup;
pub mod maintenance;
pub mod model;
pub mod pipeline;
pub mod repair;
pub mod report;
pub mod resolve;
pub mod run;
pub mod source;
pub mod store;
pub mod vocab;
pub mod warc;

/// Process exit codes, as documented in the README and `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Nothing broken or truncated.
    Clean = 0,
    /// At least one link is broken or truncated.
    Failures = 1,
    /// Bad command line or configuration.
    Usage = 2,
    /// Something went wrong inside archive (I/O on the report, a bug), or
    /// the store failed during the run (a full disk, a corrupt state
    /// database): the report is written then, with `summary.store_error`.
    Internal = 3,
    /// Could not check: the run could reach nothing (no host answered;
    /// see `check::outage`). No link was judged `broken` for it and the
    /// state database kept every last known status.
    CouldNotCheck = 4,
    /// Interrupted (Ctrl-C, SIGINT) before the run finished: no report
    /// written. 128 + SIGINT, as shells report it.
    Interrupted = 130,
}
