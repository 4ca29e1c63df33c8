//! Progress display: a spinner per pipeline phase and a counter bar, drawn
//! on stderr only when it is a terminal (indicatif hides itself otherwise).
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use strata_core::pipeline::{Observer, Phase};

/// A bar counting items towards a total.
pub fn counter(label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {human_pos}/{human_len} ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(label.to_string());
    bar
}

/// Shows the current phase with a spinner, and logs each phase's wall time
/// at debug level (`--verbose`); the run service keeps the timings it records.
pub struct PhaseProgress {
    bar: ProgressBar,
    started: Mutex<Option<(Phase, Instant)>>,
}

impl PhaseProgress {
    /// A new display.
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        PhaseProgress {
            bar,
            started: Mutex::new(None),
        }
    }

    /// Ends the display.
    pub fn finish_all(&self) {
        self.close_current();
        self.bar.finish_and_clear();
    }

    fn close_current(&self) {
        if let Ok(mut started) = self.started.lock()
            && let Some((phase, at)) = started.take()
        {
            tracing::debug!(
                phase = phase.label(),
                seconds = at.elapsed().as_secs_f64(),
                "phase finished"
            );
        }
    }
}

impl Observer for PhaseProgress {
    fn phase_started(&self, phase: Phase) {
        self.close_current();
        if let Ok(mut started) = self.started.lock() {
            *started = Some((phase, Instant::now()));
        }
        self.bar.set_message(phase.label());
    }

    fn phase_finished(&self, _phase: Phase) {
        self.close_current();
    }
}
