//! Progress while a run goes: a bar on a terminal (indicatif), a plain log
//! line every ten seconds otherwise (cron, systemd, CI logs).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Reports documents and links done so far.
pub struct Progress {
    bar: Option<ProgressBar>,
    last_log: Instant,
    started: Instant,
}

impl Progress {
    /// A bar when stderr is a terminal and `enabled`, log lines otherwise.
    pub fn new(enabled: bool) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            last_log: Instant::now(),
            started: Instant::now(),
        }
    }

    pub fn update(&mut self, documents: usize, links: usize, failing: usize) {
        let msg =
            format!("{documents} documents, {links} links checked, {failing} broken or truncated");
        match &self.bar {
            Some(bar) => bar.set_message(msg),
            None if self.last_log.elapsed() >= Duration::from_secs(10) => {
                self.last_log = Instant::now();
                tracing::info!(elapsed_s = self.started.elapsed().as_secs(), "{msg}");
            }
            None => {}
        }
    }

    /// Runs `f` (which writes to stderr) with the bar cleared, then
    /// redraws it, so lines written and the bar never overlap.
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
