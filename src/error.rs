//! Errors that stop a run, each worded to tell the user what to do.
//!
//! Problems with a single document or link are *not* errors here: they are
//! findings in the report, and the scan goes on. Only what makes the whole
//! run impossible (a bad configuration, an unwritable report) lives here,
//! and each maps to an exit code in [`crate::ExitCode`].

use std::path::PathBuf;

/// The configuration could not be read or is invalid (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A run that could not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write report {path}: {source} (check that the folder exists and is writable)")]
    WriteReport {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Writing to stdout failed. A broken pipe (the reader, e.g. `head`,
    /// has all it wanted) is not reported: the process exits 0 quietly.
    #[error("cannot write to stdout: {0}")]
    Stdout(#[source] std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Maintenance(#[from] crate::maintenance::MaintenanceError),
    #[error("internal error: {0}")]
    Internal(String),
    /// Ctrl-C stopped the run; what it checked stays in the cache.
    #[error("interrupted; no report written (what was checked stays in the cache)")]
    Interrupted,
}

impl RunError {
    /// True when the run stopped because the reader of a pipe went away
    /// (`archive --check --format json | head`): somewhere down the chain
    /// of sources is an `io::Error` of kind `BrokenPipe`. Rust ignores
    /// SIGPIPE, so such writes fail with EPIPE instead of killing us.
    pub fn is_broken_pipe(&self) -> bool {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = next {
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return true;
            }
            next = e.source();
        }
        false
    }
}
