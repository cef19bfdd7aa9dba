//! Progress of long command-line work (`simulate`, `bench`, `chaos`, `records export`),
//! drawn on standard error with `indicatif` when that is a terminal, and nothing at all
//! with `--json` or when the output goes to a file or another program.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar (or, without a known length, a spinner) that may be hidden.
pub struct Progress(ProgressBar);

impl Progress {
    /// Shown only when standard error is a terminal and the caller is not `quiet` (JSON).
    fn shown(quiet: bool) -> bool {
        !quiet && std::io::stderr().is_terminal()
    }

    /// `len` steps of `what`.
    pub fn bar(len: u64, what: &str, quiet: bool) -> Progress {
        if !Self::shown(quiet) {
            return Progress(ProgressBar::hidden());
        }
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} ({elapsed}, about {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        Progress(
            ProgressBar::new(len)
                .with_style(style)
                .with_message(what.to_owned()),
        )
    }

    /// Bytes written, for work whose size is not known beforehand.
    pub fn bytes(what: &str, quiet: bool) -> Progress {
        if !Self::shown(quiet) {
            return Progress(ProgressBar::hidden());
        }
        let style = ProgressStyle::with_template("{spinner} {msg}: {bytes} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let pb = ProgressBar::new_spinner()
            .with_style(style)
            .with_message(what.to_owned());
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        Progress(pb)
    }

    pub fn step(&self) {
        self.0.inc(1);
    }

    pub fn say(&self, message: impl Into<String>) {
        self.0.set_message(message.into());
    }

    /// A line above the bar (as `eprintln!` would print it).
    pub fn line(&self, text: impl AsRef<str>) {
        if self.0.is_hidden() {
            eprintln!("{}", text.as_ref());
        } else {
            self.0.println(text);
        }
    }

    /// `w`, counting what is written through it.
    pub fn wrap<W: std::io::Write>(&self, w: W) -> impl std::io::Write {
        self.0.wrap_write(w)
    }

    /// Takes the bar off the terminal.
    pub fn done(&self) {
        self.0.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
