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
    #[error("{0}")]
    Store(String),
    #[error("internal error: {0}")]
    Internal(String),
}
