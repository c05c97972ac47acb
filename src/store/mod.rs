//! Store: the content-addressed media objects ([`objects`]) and the state
//! database ([`db`]) that says which URL maps to which object, when each
//! URL was checked, and which documents reference it.
//!
//! Both live under `store.path`: `sha256/…` objects, `tmp/` for downloads
//! in progress, `quarantine/` for objects `archive verify` found corrupt,
//! and `state.db`.
//!
//! Failures are [`StoreError`]s: each names the store and says what to do
//! (fix `store.path`, wait for the other process, free disk space), and
//! keeps the `io::Error` or SQLite error as its source, so callers can
//! still tell, for instance, a closed pipe from a full disk.
//!
//! A store that fails *during* a run (a full disk, a corrupt `state.db`)
//! does not stop the run: its failed writes are counted in [`faults`],
//! and the run ends loud, with `summary.store_error` and exit code 3.

pub mod credentials;
pub mod db;
pub mod faults;
pub mod local;
pub mod location;
pub mod manifest;
pub mod marker;
pub mod objects;
pub mod remote;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;

use crate::config::StoreConfig;
use db::StateDb;
pub use faults::StoreErrorSummary;
use local::LocalObjects;
use objects::ObjectBackend;
use remote::RemoteObjects;

/// Why the store cannot be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "store {}: cannot {what}: {source} (check store.path in config.toml and that the folder is writable)",
        root.display()
    )]
    Folder {
        root: PathBuf,
        /// What was being done, e.g. `create folders`.
        what: &'static str,
        source: std::io::Error,
    },
    #[error(
        "store {} is in use by another archive process (its lock file is held); wait for it or stop it",
        root.display()
    )]
    Locked { root: PathBuf },
    #[error(
        "state database {}: {source} (check that the file and its folder are writable)",
        path.display()
    )]
    Database {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "objects at {url}: {message} (check store.url and [store.s3] in config.toml, and the AWS_* environment)"
    )]
    Backend { url: String, message: String },
    #[error("cannot start the database writer: {0}")]
    Writer(#[source] std::io::Error),
    #[error(
        "only {free} bytes free on the store's disk (store.min_free_bytes is {min_free}); downloads stopped, checks go on"
    )]
    LowDisk { free: u64, min_free: u64 },
}

/// An open store: objects, state, and this run's counters.
pub struct Store {
    /// Where the objects live (shared with the daemon's `/objects/`).
    pub objects: Arc<dyn ObjectBackend>,
    /// The folder of the state database, `tmp/` and the outage marker.
    root: PathBuf,
    /// The store folder's lock, when the objects are elsewhere (the local
    /// backend locks its own folder).
    _lock: Option<std::fs::File>,
    /// `store.node_id` (empty: the state database's).
    node_id: String,
    pub db: StateDb,
    min_free: u64,
    new_objects: AtomicU64,
    new_bytes: AtomicU64,
}

/// Creates and locks a store folder whose objects live elsewhere, and
/// cleans its `tmp/`.
fn open_state_folder(root: &Path) -> Result<std::fs::File, StoreError> {
    let fail = |what: &'static str, source: std::io::Error| StoreError::Folder {
        root: root.to_path_buf(),
        what,
        source,
    };
    std::fs::create_dir_all(root.join("tmp")).map_err(|e| fail("create folders", e))?;
    let lock = local::lock_folder(root)?;
    local::clean_tmp(&root.join("tmp")).map_err(|e| fail("clean tmp/", e))?;
    tempfile::tempfile_in(root.join("tmp")).map_err(|e| fail("write", e))?;
    Ok(lock)
}

/// What the report's summary says about the store.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreSummary {
    pub path: String,
    /// Where the objects live: `local` or `s3`.
    pub backend: String,
    /// The objects' folder, or `s3://bucket/prefix`.
    pub location: String,
    pub objects_stored: u64,
    pub bytes_stored: u64,
    pub objects_total: u64,
    pub bytes_total: u64,
    /// Set when downloads were stopped (disk low or full, write errors).
    pub error: Option<String>,
}

impl Store {
    /// Opens the store at `config.path`, creating it if needed.
    pub fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        let at = location::ObjectsAt::parse(config).map_err(|message| StoreError::Backend {
            url: config.url.clone(),
            message,
        })?;
        let (objects, lock): (Arc<dyn ObjectBackend>, _) = match at {
            location::ObjectsAt::Folder(dir) if dir == config.path => {
                (Arc::new(LocalObjects::open(&config.path)?), None)
            }
            location::ObjectsAt::Folder(dir) => {
                let lock = open_state_folder(&config.path)?;
                (Arc::new(LocalObjects::open(&dir)?), Some(lock))
            }
            location::ObjectsAt::S3 { bucket, prefix } => {
                let lock = open_state_folder(&config.path)?;
                let remote =
                    RemoteObjects::open(&bucket, &prefix, &config.s3, &config.path.join("tmp"))
                        .map_err(|message| StoreError::Backend {
                            url: config.url.clone(),
                            message,
                        })?;
                (Arc::new(remote), Some(lock))
            }
        };
        let db = StateDb::open(&config.path.join("state.db"))?;
        Ok(Store {
            objects,
            root: config.path.clone(),
            _lock: lock,
            node_id: config.node_id.clone(),
            db,
            min_free: config.min_free_bytes,
            new_objects: AtomicU64::new(0),
            new_bytes: AtomicU64::new(0),
        })
    }

    /// The store folder: the state database, `tmp/`, the outage marker
    /// (and, with the local backend, the objects).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when the object is there with this size. An object service
    /// that cannot say counts as "no": the body is downloaded again, and
    /// its commit says what is wrong.
    pub fn has_object(&self, sha256: &str, size: u64) -> bool {
        crate::check::body::blocking(|| self.objects.contains(sha256, size)).unwrap_or(false)
    }

    /// This node's name in a shared bucket.
    pub fn node_id(&self) -> std::io::Result<String> {
        manifest::node_id(self, &self.node_id)
    }

    /// Publishes this node's references to a shared bucket (nothing for a
    /// local store): the digests its state database lists.
    pub fn publish_references(&self) -> std::io::Result<()> {
        let Some(bucket) = self.objects.bucket() else {
            return Ok(());
        };
        self.db.flush();
        let digests = self
            .db
            .object_digests()
            .map_err(|e| std::io::Error::other(format!("cannot read state.db: {e}")))?;
        manifest::publish(bucket, &self.node_id()?, digests)
    }

    /// Whether there is room for a download; the reason when not.
    pub fn room_for_download(&self) -> Result<(), StoreError> {
        match self.objects.free_space() {
            Some(free) if free < self.min_free => Err(StoreError::LowDisk {
                free,
                min_free: self.min_free,
            }),
            _ => Ok(()),
        }
    }

    /// A new `store.min_free_bytes`, for a reloaded configuration.
    pub fn set_min_free(&mut self, bytes: u64) {
        self.min_free = bytes;
    }

    /// Starts a run: the counters of objects stored by this run, and of
    /// its store faults, restart.
    pub fn begin_run(&self) {
        self.db.flush();
        self.db.faults().reset();
        self.new_objects.store(0, Ordering::Relaxed);
        self.new_bytes.store(0, Ordering::Relaxed);
    }

    /// Counts a valid body of `url` that could not be stored.
    pub fn object_failed(&self, url: &str, error: &str) {
        self.db.faults().object(format!("{url}: {error}"));
    }

    /// What failed to be stored this run (after every write so far has
    /// been tried); `None` when nothing did.
    pub fn errors(&self) -> Option<StoreErrorSummary> {
        self.db.flush();
        self.db.faults().summary(self.db.path())
    }

    /// Counts an object this run stored for the first time.
    pub fn count_new(&self, size: u64) {
        self.new_objects.fetch_add(1, Ordering::Relaxed);
        self.new_bytes.fetch_add(size, Ordering::Relaxed);
    }

    /// The report's summary of the store; `error` is why downloads
    /// stopped, if they did, or else what failed to be stored.
    pub fn summary(&self, error: Option<StoreError>) -> StoreSummary {
        self.db.flush();
        let (objects_total, bytes_total) = self.db.totals();
        StoreSummary {
            path: self.root().display().to_string(),
            backend: self.objects.kind().to_string(),
            location: self.objects.location(),
            objects_stored: self.new_objects.load(Ordering::Relaxed),
            bytes_stored: self.new_bytes.load(Ordering::Relaxed),
            objects_total,
            bytes_total,
            error: error
                .map(|e| e.to_string())
                .or_else(|| self.errors().map(|e| e.message)),
        }
    }
}
