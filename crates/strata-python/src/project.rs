//! `strata._strata.Project`: a loaded project and what Python can do with
//! it (run, ICP, themes, backtest, rule checks).
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arrow_pyarrow::ToPyArrow;
use chrono::NaiveDate;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use strata_core::pipeline::{self, RunOptions};
use strata_core::project::Project as CoreProject;
use strata_core::service::{self, RecordSettings};

use crate::errors::{StrataError, rule_error, to_python};
use crate::runtime::{Progress, block_on};

/// A report as JSON text, for the Python side to load.
fn json_text(report: &impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(report).map_err(|e| StrataError::new_err(e.to_string()))
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

/// A loaded project: `strata.toml` read and checked.
#[pyclass(module = "strata._strata", frozen)]
pub(crate) struct Project {
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
        json_text(&report)
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
        json_text(&report)
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
            months: 12,
            every,
            as_of: parse_date(as_of)?,
            cache: None,
        };
        let (project, params) = (&self.project, &params);
        let report = block_on(py, || async move {
            strata_core::backtest::backtest(project, params, &pipeline::Quiet, &mut |_, _| {}).await
        })?;
        json_text(&report)
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
