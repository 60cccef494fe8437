//! Progress of long commands (import, export): a bar on a terminal, log lines otherwise.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar on a terminal; a log line every tenth of the work otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    logged: std::cell::Cell<u64>,
}

impl Progress {
    /// `total` `unit`s of work on `label`, `from` of them done already.
    pub fn new(label: &str, unit: &str, total: u64, from: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    &format!("{{msg}} [{{bar:40}}] {{human_pos}}/{{human_len}} {unit}, {{per_sec}}, ETA {{eta}}"),
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(label.to_string());
            bar.set_position(from);
            bar
        });
        Progress {
            bar,
            label: label.to_string(),
            total,
            logged: std::cell::Cell::new(from),
        }
    }

    pub fn set(&self, done: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None if done - self.logged.get() >= (self.total / 10).max(1) || done == self.total => {
                self.logged.set(done);
                tracing::info!(on = %self.label, done, total = self.total, "progress");
            }
            None => {}
        }
    }

    pub fn finish(&self, started: Instant) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        tracing::info!(
            on = %self.label,
            total = self.total,
            secs = started.elapsed().as_secs_f64(),
            "done"
        );
    }
}
