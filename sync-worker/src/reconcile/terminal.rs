//! Reconciliation progress for people: a progress bar on a terminal, plain lines otherwise.

use super::{Progress, Report, Resource};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal as _;
use std::sync::Mutex;

/// Shows progress on standard error.
#[derive(Debug)]
pub(crate) struct TerminalProgress {
    bar: Option<ProgressBar>,
    current: Mutex<Option<Resource>>,
}

impl TerminalProgress {
    /// A bar when standard error is a terminal, plain lines when it is not (logs, CI).
    pub(crate) fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix:>15} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        Self {
            bar,
            current: Mutex::new(None),
        }
    }
}

impl Default for TerminalProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for TerminalProgress {
    fn listed(&self, resource: Resource, done: u64, total: u64) {
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let first = *current != Some(resource);
        *current = Some(resource);
        match &self.bar {
            Some(bar) => {
                if first {
                    bar.reset();
                    bar.set_prefix(resource.as_str());
                }
                bar.set_length(total);
                bar.set_position(done);
            }
            None if first => eprintln!("{resource}: listing {total} from Polar"),
            None => {}
        }
    }

    fn finished(&self, resource: Resource, report: &Report) {
        let line = format!(
            "{resource}: fetched {}, repaired {} (missing {}, outdated {}, deleted {}), failed {}, {} requests",
            report.fetched,
            report.repaired,
            report.missing,
            report.outdated,
            report.deleted,
            report.failed,
            report.requests
        );
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}

impl Drop for TerminalProgress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
