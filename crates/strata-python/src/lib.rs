//! strata for Python: the extension module `strata._strata`, which the
//! package `strata` (`python/strata/__init__.py`) wraps.
//!
//! A [`Project`] is a loaded `strata.toml`; its `run` goes through the same
//! run service as `strata run` (`strata_core::service::execute`) when it
//! writes outputs or records, and through `strata_core::pipeline::run`
//! otherwise. Results cross as Arrow record batches through the Arrow C data
//! interface (pyarrow wraps strata's buffers; nothing is copied) and as
//! JSON text for documents.
//!
//! **Invariants**: Rust runs with the GIL released, in slices of 100 ms
//! between which Python's signal handlers run, so Ctrl-C interrupts a run
//! (dropping it: a recorded run's transaction rolls back); every strata
//! error becomes a `strata.StrataError` (a `RuleError` for rules) with
//! strata's message, never a panic.
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use arrow_pyarrow::ToPyArrow;
use chrono::NaiveDate;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use strata_core::error::Error;
use strata_core::pipeline::{self, Observer, Phase, RunOptions};
use strata_core::project::Project as CoreProject;
use strata_core::service::{self, RecordSettings};

create_exception!(
    _strata,
    StrataError,
    PyException,
    "An error strata reports: the message says what, where and how to fix it."
);
create_exception!(
    _strata,
    ProjectError,
    StrataError,
    "The project file or the data it points at has problems."
);
create_exception!(
    _strata,
    RuleError,
    StrataError,
    "A rule that does not parse or check; `line`, `column`, `hint` and `rule` say where and what to do."
);

/// The process's tokio runtime, started on first use.
fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::io::Result<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("strata")
                .build()
        })
        .as_ref()
        .map_err(|e| StrataError::new_err(format!("cannot start strata's runtime: {e}")))
}

/// Runs the future `make` returns to completion on a thread of its own,
/// with the GIL released, checking for Ctrl-C every 100 ms: an interrupt
/// drops the future (cancelling the run) and raises KeyboardInterrupt. The
/// future need not be `Send` (a SQLite store is not); what it returns is.
fn block_on<T, F, Fut>(py: Python<'_>, make: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = strata_core::error::Result<T>>,
{
    let runtime = runtime()?;
    let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
    let (done, mut outcome) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let result = runtime.block_on(async move {
                tokio::select! {
                    result = make() => Some(result),
                    _ = cancelled => None,
                }
            });
            let _ = done.send(result);
        });
        let mut cancel = Some(cancel);
        loop {
            let (receiver, received) = py.detach(move || {
                let received = outcome.recv_timeout(Duration::from_millis(100));
                (outcome, received)
            });
            outcome = receiver;
            match received {
                Ok(Some(result)) => return result.map_err(|error| to_python(py, error)),
                Ok(None) => return Err(StrataError::new_err("the run was cancelled")),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(interrupt) = py.check_signals() {
                        if let Some(cancel) = cancel.take() {
                            let _ = cancel.send(());
                        }
                        // Wait until the run is dropped, then raise.
                        let _ = py.detach(move || outcome.recv());
                        return Err(interrupt);
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(StrataError::new_err(
                        "strata's run thread stopped without a result; this is a bug in strata, please report it",
                    ));
                }
            }
        }
    })
}

/// A strata error as the Python exception for it.
fn to_python(py: Python<'_>, error: Error) -> PyErr {
    match error {
        Error::Rule(rule) => rule_error(py, &rule),
        Error::Invalid(_) => ProjectError::new_err(error.to_string()),
        other => StrataError::new_err(other.to_string()),
    }
}

/// `strata.RuleError` with the rule's position, caret snippet and hint.
fn rule_error(py: Python<'_>, rule: &strata_core::rules::RuleError) -> PyErr {
    let (line, column) = rule.line_col();
    let mut message = format!(
        "{} at line {line}, column {column}\n  {}",
        rule.message,
        rule.render_snippet().replace('\n', "\n  ")
    );
    if let Some(help) = &rule.help {
        message.push_str(&format!("\n  help: {help}"));
    }
    let error = RuleError::new_err(message);
    let value = error.value(py);
    // Setting attributes on a fresh exception object cannot fail.
    let _ = value.setattr("line", line);
    let _ = value.setattr("column", column);
    let _ = value.setattr("hint", rule.help.clone());
    let _ = value.setattr("rule", rule.rule_text.clone());
    error
}

fn parse_date(as_of: Option<&str>) -> PyResult<Option<NaiveDate>> {
    as_of
        .map(|text| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                PyValueError::new_err(format!(
                    "as_of `{text}` is not a date: write it as YYYY-MM-DD, e.g. \"2026-10-31\""
                ))
            })
        })
        .transpose()
}

/// Phases reported to a Python callable `progress(label, started)`.
struct Progress(Option<Py<PyAny>>);

impl Progress {
    fn call(&self, phase: Phase, started: bool) {
        if let Some(callback) = &self.0 {
            Python::attach(|py| {
                if let Err(error) = callback.call1(py, (phase.label(), started)) {
                    error.write_unraisable(py, None);
                }
            });
        }
    }
}

impl Observer for Progress {
    fn phase_started(&self, phase: Phase) {
        self.call(phase, true);
    }
    fn phase_finished(&self, phase: Phase) {
        self.call(phase, false);
    }
}

/// A loaded project: `strata.toml` read and checked.
#[pyclass(module = "strata._strata", frozen)]
struct Project {
    project: CoreProject,
    file: PathBuf,
    /// The rule-language schema (accounts' columns and every feature), read
    /// from the data on first use by `check_rule`.
    schema: Mutex<Option<strata_core::rules::Schema>>,
}

impl Project {
    fn dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }
}

#[pymethods]
impl Project {
    /// Loads and checks the project file in `path` (a folder holding
    /// strata.toml, or the file).
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let project = CoreProject::load(&path).map_err(|e| to_python(py, e))?;
        let file = if path.is_dir() {
            path.join(strata_core::project::PROJECT_FILE)
        } else {
            path
        };
        Ok(Project {
            project,
            file,
            schema: Mutex::new(None),
        })
    }

    /// The project file.
    #[getter]
    fn path(&self) -> PathBuf {
        self.file.clone()
    }

    /// The segmentations, in project order.
    #[getter]
    fn segmentations(&self) -> Vec<String> {
        self.project
            .segmentations
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("strata.Project({:?})", self.file.display().to_string())
    }

    /// Runs the pipeline; returns `(memberships, features, segments_json,
    /// as_of, written)`. With `out` or `record`, writes the outputs (and,
    /// with `record`, records the run in the state store and delivers) as
    /// `strata run` does.
    #[pyo3(signature = (as_of=None, record=false, out=None, report=false, progress=None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        as_of: Option<&str>,
        record: bool,
        out: Option<PathBuf>,
        report: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<(
        Bound<'py, PyAny>,
        Bound<'py, PyAny>,
        String,
        String,
        Vec<PathBuf>,
    )> {
        let as_of = parse_date(as_of)?;
        let observer = Progress(progress);
        let project = &self.project;
        let (result, written) = if record || out.is_some() {
            let out = out.unwrap_or_else(|| self.dir().join("out"));
            let settings = RecordSettings {
                no_store: !record,
                quick_report: !report,
                ..RecordSettings::default()
            };
            let observer = &observer;
            block_on(py, || async move {
                let executed = service::execute(project, &out, as_of, &settings, observer).await?;
                let mut written = executed.written;
                written.push(executed.report);
                Ok((executed.result, written))
            })?
        } else {
            let (observer, options) = (&observer, RunOptions::at(as_of));
            let result = block_on(py, || pipeline::run(project, &options, observer))?;
            (result, Vec::new())
        };
        let memberships = strata_core::outputs::memberships_batch(&result)
            .map_err(|e| to_python(py, e))?
            .to_pyarrow(py)?;
        let features = result.features.batch.to_pyarrow(py)?;
        let segments = strata_core::outputs::segments_json(&result).to_string();
        Ok((
            memberships,
            features,
            segments,
            result.as_of.to_string(),
            written,
        ))
    }

    /// The ideal customer profile from what is known `days` after signup,
    /// as the JSON of `strata icp --json`.
    #[pyo3(signature = (days=60, as_of=None, min_support=10, depth=3, top=5, progress=None))]
    fn icp(
        &self,
        py: Python<'_>,
        days: u32,
        as_of: Option<&str>,
        min_support: usize,
        depth: usize,
        top: usize,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<String> {
        if !(1..=3).contains(&depth) {
            return Err(PyValueError::new_err("depth is 1, 2 or 3 conditions"));
        }
        let params = strata_core::icp::IcpParams {
            max_depth: depth,
            min_support,
            top,
            ..strata_core::icp::IcpParams::default()
        };
        let options = RunOptions::at(parse_date(as_of)?);
        let observer = Progress(progress);
        let (project, observer) = (&self.project, &observer);
        let report = block_on(py, || {
            pipeline::icp(project, &options, days, &params, observer)
        })?;
        serde_json::to_string(&report).map_err(|e| StrataError::new_err(e.to_string()))
    }

    /// Needs themes in the feedback verbatims, as the JSON of
    /// `strata themes --json`.
    #[pyo3(signature = (k=None, as_of=None, progress=None))]
    fn themes(
        &self,
        py: Python<'_>,
        k: Option<usize>,
        as_of: Option<&str>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<String> {
        let options = RunOptions::at(parse_date(as_of)?);
        let observer = Progress(progress);
        let (project, observer) = (&self.project, &observer);
        let report = block_on(py, || pipeline::themes(project, &options, k, observer))?;
        serde_json::to_string(&report).map_err(|e| StrataError::new_err(e.to_string()))
    }

    /// A segmentation recomputed at past dates under today's definitions,
    /// against what happened next: the JSON of `strata backtest --json`.
    #[pyo3(signature = (segmentation, horizon_days=90, start=None, every="month", as_of=None))]
    fn backtest(
        &self,
        py: Python<'_>,
        segmentation: &str,
        horizon_days: u32,
        start: Option<&str>,
        every: &str,
        as_of: Option<&str>,
    ) -> PyResult<String> {
        let every = match every {
            "day" => service::Every::Day,
            "week" => service::Every::Week,
            "month" => service::Every::Month,
            other => {
                return Err(PyValueError::new_err(format!(
                    "every `{other}`: use \"day\", \"week\" or \"month\""
                )));
            }
        };
        let params = strata_core::backtest::BacktestParams {
            segmentation: segmentation.to_string(),
            horizon_days,
            from: parse_date(start)?,
            every,
            as_of: parse_date(as_of)?,
        };
        let (project, params) = (&self.project, &params);
        let report = block_on(py, || async move {
            strata_core::backtest::backtest(project, params, &pipeline::Quiet, &mut |_, _| {}).await
        })?;
        serde_json::to_string(&report).map_err(|e| StrataError::new_err(e.to_string()))
    }

    /// Checks a rule against the project's accounts and features; raises
    /// `RuleError` with its line, column and hint when it does not check.
    fn check_rule(&self, py: Python<'_>, rule: &str) -> PyResult<()> {
        let cached = self
            .schema
            .lock()
            .map_err(|_| StrataError::new_err("the project's schema lock is poisoned"))?
            .clone();
        let schema = match cached {
            Some(schema) => schema,
            None => {
                let (project, options) = (&self.project, RunOptions::at(None));
                let prepared = block_on(py, || pipeline::validate(project, &options))?;
                let schema = prepared.features.rule_schema();
                if let Ok(mut slot) = self.schema.lock() {
                    *slot = Some(schema.clone());
                }
                schema
            }
        };
        strata_core::rules::check_predicate(rule, &schema)
            .map(|_| ())
            .map_err(|error| rule_error(py, &error))
    }
}

/// The extension module.
#[pymodule]
fn _strata(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Project>()?;
    m.add("StrataError", py.get_type::<StrataError>())?;
    m.add("ProjectError", py.get_type::<ProjectError>())?;
    m.add("RuleError", py.get_type::<RuleError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
