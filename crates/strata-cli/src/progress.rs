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

/// One phase's wall time and peak memory.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PhaseTime {
    /// The phase (`features`, ...), or a step named by the caller.
    pub phase: String,
    /// Wall seconds.
    pub seconds: f64,
    /// Peak resident memory during the phase, MiB (on Linux; the process's
    /// peak so far elsewhere).
    pub peak_mib: f64,
}

/// Records where a run's time and memory went, phase by phase (`strata run
/// --profile`, `strata bench`), passing every phase on to `inner`. The
/// kernel's peak-RSS counter is reset at each phase's start
/// (`/proc/self/clear_refs`), so each phase reports its own peak.
pub struct Profile<'a> {
    inner: &'a dyn Observer,
    current: Mutex<Option<Instant>>,
    phases: Mutex<Vec<PhaseTime>>,
}

impl<'a> Profile<'a> {
    /// A profile passing phases on to `inner`.
    pub fn new(inner: &'a dyn Observer) -> Self {
        Profile {
            inner,
            current: Mutex::new(None),
            phases: Mutex::new(Vec::new()),
        }
    }

    /// Starts timing a step.
    pub fn begin(&self) {
        // Writing 5 resets the peak RSS counter (Linux >= 4.0); elsewhere the
        // peak simply stays cumulative.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        if let Ok(mut current) = self.current.lock() {
            *current = Some(Instant::now());
        }
    }

    /// Ends the step begun last, under `name`; a name timed before (a
    /// phase the run comes back to, as the features scan between the
    /// backtest's past dates) adds to its row.
    pub fn end(&self, name: &str) {
        let Ok(mut current) = self.current.lock() else {
            return;
        };
        if let Some(started) = current.take()
            && let Ok(mut phases) = self.phases.lock()
        {
            let (seconds, peak_mib) = (started.elapsed().as_secs_f64(), peak_mib());
            match phases.iter_mut().find(|p| p.phase == name) {
                Some(row) => {
                    row.seconds += seconds;
                    row.peak_mib = row.peak_mib.max(peak_mib);
                }
                None => phases.push(PhaseTime {
                    phase: name.to_string(),
                    seconds,
                    peak_mib,
                }),
            }
        }
    }

    /// The steps timed so far, in order.
    pub fn phases(&self) -> Vec<PhaseTime> {
        self.phases.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The profile as a table: each phase's seconds, share of the whole,
    /// events per second and peak memory, then the total.
    pub fn table(&self, events: u64) -> String {
        let phases = self.phases();
        let total: f64 = phases.iter().map(|p| p.seconds).sum();
        let mut rows: Vec<Vec<String>> = phases
            .iter()
            .map(|p| {
                vec![
                    p.phase.clone(),
                    format!("{:.3}", p.seconds),
                    format!("{:.0}%", 100.0 * p.seconds / total.max(1e-9)),
                    if events > 0 && p.seconds > 0.0 {
                        format!("{:.1}M", events as f64 / p.seconds / 1e6)
                    } else {
                        "–".to_string()
                    },
                    format!("{:.0}", p.peak_mib),
                ]
            })
            .collect();
        rows.push(vec![
            "total".to_string(),
            format!("{total:.3}"),
            "100%".to_string(),
            if events > 0 && total > 0.0 {
                format!("{:.1}M", events as f64 / total / 1e6)
            } else {
                "–".to_string()
            },
            format!(
                "{:.0}",
                phases.iter().map(|p| p.peak_mib).fold(0.0, f64::max)
            ),
        ]);
        crate::render::table(
            &["phase", "seconds", "share", "events/s", "peak MiB"],
            &rows,
        )
    }
}

impl Observer for Profile<'_> {
    fn phase_started(&self, phase: Phase) {
        self.begin();
        self.inner.phase_started(phase);
    }

    fn phase_finished(&self, phase: Phase) {
        self.end(phase.name());
        self.inner.phase_finished(phase);
    }
}

/// Peak resident memory of this process since the last reset, in MiB.
pub fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
