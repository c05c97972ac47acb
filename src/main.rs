//! The `archive` command line: parses arguments and calls the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode as ProcessExit;

use clap::{Args, Parser, Subcommand, ValueEnum};

use archive::config::Config;
use archive::error::RunError;
use archive::maintenance;
use archive::run::{run_check_interruptible, CheckOptions, OutputFormat};
use archive::ExitCode;

const AFTER_HELP: &str = "\
Examples:
  archive --check                      scan corpus.paths from ./config.toml
  archive --check --offline articles/  no network: static findings only
  archive --check --format json > r.json
  archive check --report out.json --config /etc/archive/config.toml
  archive --check --crawl https://news.example.edu.cn/   crawl a site

Statuses: ok, broken, truncated, unresolvable, unchecked, skipped, error.
Exit codes: 0 nothing broken (or stdout closed early, as by `| head`),
            1 broken or truncated links found,
            2 usage or configuration error, 3 internal error or a
            store that failed (full disk, corrupt state.db: the report
            says what in summary.store_error),
            4 could not check: no host could be reached (links are
              `error`, network_unavailable; last known statuses kept),
              or `gc` refused after such a run,
            130 interrupted by Ctrl-C (no report written).
The JSON report follows docs/report.schema.json.";

/// Find, diagnose and repair the image and source links of archived web
/// articles (Markdown, HTML, plain text; any encoding).
#[derive(Parser, Debug)]
#[command(name = "archive", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Run the check (same as the `check` subcommand).
    #[arg(long)]
    check: bool,

    #[command(flatten)]
    args: CheckArgs,

    #[command(subcommand)]
    command: Option<Command>,

    /// Log lines as `plain` text (journald-friendly) or `json`.
    #[arg(long, value_enum, global = true, default_value_t = LogFormat::Plain)]
    log_format: LogFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum LogFormat {
    Plain,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Scan the corpus, diagnose every link, write the report.
    Check(CheckArgs),
    /// Re-hash every stored object; quarantine corrupt ones (exit 1 if any).
    Verify(StoreArgs),
    /// Remove objects no current document needs (dry run without --force).
    Gc {
        #[command(flatten)]
        store: StoreArgs,
        /// Really delete; without it, only list what would go.
        #[arg(long)]
        force: bool,
    },
    /// Write the manifest of archived URLs (url, sha256, size, type, first seen).
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// `jsonl` (one JSON object per line) or `csv`.
        #[arg(long, value_enum, default_value_t = ManifestFormat::Jsonl)]
        format: ManifestFormat,
        /// Write here instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Also copy the corpus into DIR with media links pointing at the
        /// archived objects and repaired links replaced, for offline browsing.
        #[arg(long, value_name = "DIR")]
        rewrite: Option<PathBuf>,
        /// Package the store's WARC files, their CDXJ index, the corpus
        /// pages and a datapackage.json as a WACZ file.
        #[arg(long, value_name = "FILE")]
        wacz: Option<PathBuf>,
    },
    /// Objects, bytes, deduplication ratio, by host (JSON on stdout).
    Stats(StoreArgs),
    /// Run as a service: scheduled and on-change checks, HTTP endpoint,
    /// systemd notify, SIGHUP reload, SIGTERM drain.
    Daemon(StoreArgs),
}

#[derive(Args, Debug, Clone)]
struct StoreArgs {
    /// Config file [default: ./config.toml, then /etc/archive/config.toml].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum ManifestFormat {
    Jsonl,
    Csv,
}

#[derive(Args, Debug, Clone)]
struct CheckArgs {
    /// Files or folders to scan [default: corpus.paths from the config].
    paths: Vec<PathBuf>,

    /// Config file [default: ./config.toml, then /etc/archive/config.toml].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Never use the network; links that need it are reported `unchecked`.
    #[arg(long)]
    offline: bool,

    /// Crawl from this page (repeatable) instead of scanning files.
    #[arg(long, value_name = "URL")]
    crawl: Vec<url::Url>,

    /// Ignore cached results of earlier runs and check every link again.
    #[arg(long)]
    no_cache: bool,

    /// Also write Prometheus metrics here, atomically (node_exporter's
    /// textfile collector format).
    #[arg(long, value_name = "FILE")]
    prom_file: Option<PathBuf>,

    /// Write the JSON report here (`-` for stdout) [default: report.path].
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// `text`: findings for people on stderr; `json`: the report on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum Format {
    Text,
    Json,
}

fn main() -> ProcessExit {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // The daemon's log is its record; a one-shot run only warns.
        let level = if matches!(cli.command, Some(Command::Daemon(_))) {
            "info"
        } else {
            "warn"
        };
        tracing_subscriber::EnvFilter::new(level)
    });
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match cli.log_format {
        // journald adds its own timestamps; plain lines stay short.
        LogFormat::Plain => logs.without_time().with_ansi(false).init(),
        LogFormat::Json => logs.json().init(),
    }
    let result = match (cli.command, cli.check) {
        (Some(Command::Check(args)), _) => check(args),
        (None, true) => check(cli.args),
        (Some(command), _) => maintain(command),
        (None, false) => {
            eprintln!("archive: nothing to do; try `archive --check` or `archive --help`");
            return ProcessExit::from(ExitCode::Usage as u8);
        }
    };
    let code = match result {
        Ok(code) => code,
        // The reader has what it wanted (`| head`): like ripgrep, stop
        // quietly; what was written stands.
        Err(e) if e.is_broken_pipe() => ExitCode::Clean,
        Err(e) => {
            eprintln!("archive: {e}");
            match e {
                RunError::Config(_) | RunError::Usage(_) => ExitCode::Usage,
                RunError::Interrupted => ExitCode::Interrupted,
                RunError::Maintenance(maintenance::MaintenanceError::Outage { .. }) => {
                    ExitCode::CouldNotCheck
                }
                _ => ExitCode::Internal,
            }
        }
    };
    ProcessExit::from(code as u8)
}

/// The store commands: open the config, run, print.
fn maintain(command: Command) -> Result<ExitCode, RunError> {
    let store_config = |args: &StoreArgs| -> Result<archive::config::StoreConfig, RunError> {
        Ok(Config::load(args.config.as_deref())?.config.store)
    };
    match command {
        Command::Check(_) => unreachable!("handled by check()"),
        Command::Daemon(args) => {
            archive::daemon::run(args.config)?;
            Ok(ExitCode::Clean)
        }
        Command::Verify(args) => {
            let out = maintenance::verify(&store_config(&args)?).map_err(RunError::Maintenance)?;
            print_json(&out)?;
            eprintln!(
                "verified {} objects: {} corrupt (quarantined), {} missing",
                out.checked,
                out.corrupt.len(),
                out.missing.len()
            );
            Ok(if out.corrupt.is_empty() && out.missing.is_empty() {
                ExitCode::Clean
            } else {
                ExitCode::Failures
            })
        }
        Command::Gc { store, force } => {
            let out =
                maintenance::gc(&store_config(&store)?, force).map_err(RunError::Maintenance)?;
            print_json(&out)?;
            eprintln!(
                "{} {} objects ({} bytes){}",
                if force { "deleted" } else { "would delete" },
                out.objects.len(),
                out.bytes,
                if force {
                    ""
                } else {
                    "; run with --force to delete"
                }
            );
            Ok(ExitCode::Clean)
        }
        Command::Export {
            store,
            format,
            output,
            rewrite,
            wacz,
        } => {
            if let Some(file) = wacz {
                let full = Config::load(store.config.as_deref())?.config;
                let out = archive::warc::wacz::export(&full, &file)
                    .map_err(|e| RunError::Internal(format!("export --wacz: {e}")))?;
                eprintln!(
                    "wrote {}: {} WARC files, {} indexed records, {} pages",
                    file.display(),
                    out.warcs,
                    out.records,
                    out.pages
                );
                return Ok(ExitCode::Clean);
            }
            if let Some(dir) = rewrite {
                let full = Config::load(store.config.as_deref())?.config;
                let out = maintenance::rewrite(&full, &dir).map_err(RunError::Maintenance)?;
                eprintln!(
                    "rewrote {} documents into {}: {} links point at archived objects",
                    out.documents,
                    dir.display(),
                    out.rewritten
                );
                return Ok(ExitCode::Clean);
            }
            let config = store_config(&store)?;
            let csv = matches!(format, ManifestFormat::Csv);
            let count = match output {
                Some(path) => {
                    let file =
                        std::fs::File::create(&path).map_err(|source| RunError::WriteReport {
                            path: path.clone(),
                            source,
                        })?;
                    let mut w = std::io::BufWriter::new(file);
                    let count =
                        maintenance::export(&config, csv, &mut w).map_err(RunError::Maintenance)?;
                    w.flush()
                        .map_err(|source| RunError::WriteReport { path, source })?;
                    count
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut w = std::io::BufWriter::new(PipeWatch::new(stdout.lock()));
                    let count = maintenance::export(&config, csv, &mut w);
                    let flushed = w.flush();
                    if w.get_ref().broken {
                        return Err(RunError::Stdout(std::io::ErrorKind::BrokenPipe.into()));
                    }
                    let count = count.map_err(RunError::Maintenance)?;
                    flushed.map_err(RunError::Stdout)?;
                    count
                }
            };
            eprintln!("exported {count} archived URLs");
            Ok(ExitCode::Clean)
        }
        Command::Stats(args) => {
            print_json(&maintenance::stats(&store_config(&args)?).map_err(RunError::Maintenance)?)?;
            Ok(ExitCode::Clean)
        }
    }
}

/// Prints a command's outcome as pretty JSON on stdout. (`println!` would
/// panic on a closed pipe.)
fn print_json(value: &impl serde::Serialize) -> Result<(), RunError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| RunError::Internal(format!("cannot serialize the result: {e}")))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(RunError::Stdout)
}

/// Passes writes through and remembers whether the reader went away, for
/// callees that turn I/O errors into strings (`maintenance::export`).
struct PipeWatch<W> {
    inner: W,
    broken: bool,
}

impl<W: Write> PipeWatch<W> {
    fn new(inner: W) -> Self {
        PipeWatch {
            inner,
            broken: false,
        }
    }

    fn note<T>(&mut self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result {
            self.broken |= e.kind() == std::io::ErrorKind::BrokenPipe;
        }
        result
    }
}

impl<W: Write> Write for PipeWatch<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = self.inner.write(buf);
        self.note(result)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let result = self.inner.flush();
        self.note(result)
    }
}

fn check(args: CheckArgs) -> Result<ExitCode, RunError> {
    let loaded = Config::load(args.config.as_deref())?;
    let options = CheckOptions {
        paths: args.paths,
        offline: args.offline,
        no_cache: args.no_cache,
        crawl: args.crawl,
        report: args.report,
        prom_file: args.prom_file,
        format: match args.format {
            Format::Text => OutputFormat::Text,
            Format::Json => OutputFormat::Json,
        },
    };
    Ok(run_check_interruptible(&loaded, &options)?.exit_code)
}
