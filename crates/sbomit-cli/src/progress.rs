//! A progress bar on stderr when it is a terminal, for long hashing runs.

use indicatif::{ProgressBar, ProgressStyle};

pub struct Bar {
    bar: Option<ProgressBar>,
    what: String,
    quiet: bool,
}

impl Bar {
    /// A bar for `what`, shown unless `quiet` (the commands' `--quiet`) or stderr is not a
    /// terminal.
    pub fn new(what: &str, quiet: bool) -> Self {
        let show = !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = show.then(|| {
            let b = ProgressBar::hidden();
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix:>10} [{bar:30}] {pos}/{len} files ({per_sec})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_prefix(what.to_owned());
            b
        });
        Self {
            bar,
            what: what.to_owned(),
            quiet,
        }
    }
}

impl sbomit_fs::record::Progress for Bar {
    fn files_total(&self, n: u64) {
        if let Some(b) = &self.bar {
            // Only worth drawing for trees that take a moment.
            if n >= 1000 {
                b.set_length(n);
                b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
        }
    }

    fn file_done(&self, _bytes: u64) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    fn directory_cycle(&self, path: &std::path::Path) {
        // The record is still right (the reference's less the names going round the cycle),
        // but it differs from what in-toto-run would record, so say so.
        if !self.quiet {
            eprintln!(
                "warning: {}: {} not entered: it leads back to a directory it is inside (symlink cycle)",
                self.what,
                path.display()
            );
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Phase timings on stderr when SBOMIT_TIMINGS is set: for benchmarks and profiling.
pub struct Timings {
    last: std::cell::Cell<std::time::Instant>,
    on: bool,
}

impl Timings {
    pub fn start() -> Self {
        Self {
            last: std::cell::Cell::new(std::time::Instant::now()),
            on: std::env::var_os("SBOMIT_TIMINGS").is_some(),
        }
    }

    pub fn lap(&self, what: &str) {
        if self.on {
            let now = std::time::Instant::now();
            // The peak RSS so far (Linux): where memory goes matters as much as time here.
            let peak = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_owned()))
                })
                .unwrap_or_default();
            eprintln!(
                "timing: {what}: {:.3} s (peak RSS {peak})",
                (now - self.last.get()).as_secs_f64()
            );
            self.last.set(now);
        }
    }
}
