//! The pipeline: sources → features → segmentations → measures, as one call.
//!
//! [`run`] is what `strata run` does before writing outputs; [`validate`]
//! runs the same steps short of measuring, so that every problem a run would
//! hit (sources, schema, every rule) is found without writing anything.
//! Progress is reported through an [`Observer`] so that the library never
//! prints: the CLI turns phases into a progress bar, tests ignore them.
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{Error, Problem, Result};
use crate::features::{self, FeatureTable};
use crate::measures::{self, AccountRevenue, Economics, NpsAnswer};
use crate::project::{AsOf, Project, TableKind};
use crate::segment::{self, Assignment, CheckedSegmentation};
use crate::sources::{self, Sources};

/// The phases of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading and validating the tables.
    Sources,
    /// Computing the feature table.
    Features,
    /// Checking and evaluating segmentations.
    Segments,
    /// Segment economics.
    Measures,
    /// Writing files.
    Outputs,
}

impl Phase {
    /// A short label for progress displays.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Sources => "loading sources",
            Phase::Features => "computing features",
            Phase::Segments => "assigning segments",
            Phase::Measures => "measuring segments",
            Phase::Outputs => "writing outputs",
        }
    }
}

/// Receives progress from the pipeline. Every method has a no-op default.
pub trait Observer: Send + Sync {
    /// A phase begins.
    fn phase_started(&self, _phase: Phase) {}
    /// A phase ended successfully.
    fn phase_finished(&self, _phase: Phase) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;
impl Observer for Quiet {}

/// Options of a run that are not in the project file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides the project's `as_of`.
    pub as_of: Option<NaiveDate>,
}

/// One segment's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SegmentResult {
    /// Segment name.
    pub name: String,
    /// The rule, in canonical rule-language text.
    pub rule: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Accounts, ARR, NRR, ...
    #[serde(flatten)]
    pub economics: Economics,
}

/// One segmentation's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SegmentationResult {
    /// Segmentation name.
    pub name: String,
    /// `rules`.
    pub kind: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Segments in priority order.
    pub segments: Vec<SegmentResult>,
    /// Accounts no rule matched.
    pub unassigned: Economics,
    /// Per account (feature-table order): segment index or `None`.
    #[serde(skip)]
    pub membership: Vec<Option<usize>>,
}

/// Everything a run computed.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The as-of date used.
    pub as_of: NaiveDate,
    /// The feature table.
    pub features: FeatureTable,
    /// Per segmentation: economics and memberships.
    pub segmentations: Vec<SegmentationResult>,
    /// The whole base.
    pub overall: Economics,
    /// Rows in the events table.
    pub event_rows: u64,
    /// Problems that did not stop the run.
    pub warnings: Vec<Problem>,
}

impl RunResult {
    /// Account ids in feature-table order.
    pub fn account_ids(&self) -> Vec<String> {
        use datafusion::arrow::array::AsArray;
        self.features
            .batch
            .column(0)
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect()
    }
}

/// A DataFusion context for a project: all cores, and the project's memory
/// limit with spilling when one is set.
pub fn session(project: &Project) -> Result<SessionContext> {
    let config = SessionConfig::new().with_information_schema(false);
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = project.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
    }
    let runtime = runtime.build_arc()?;
    Ok(SessionContext::new_with_config_rt(config, runtime))
}

/// Days since 1970-01-01 of a date.
pub fn day_number(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (date - epoch).num_days() as i32
}

/// The date of a day number.
pub fn date_of_day(day: i32) -> NaiveDate {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    epoch + chrono::Duration::days(i64::from(day))
}

/// The as-of date: the option, else the project's, else the last day with events.
fn resolve_as_of(project: &Project, options: &RunOptions, sources: &Sources) -> Result<NaiveDate> {
    if let Some(date) = options.as_of {
        return Ok(date);
    }
    match project.as_of {
        AsOf::Date(date) => Ok(date),
        AsOf::Latest => sources.events.max_day.map(date_of_day).ok_or_else(|| {
            Error::invalid(
                Problem::new(
                    "events",
                    "no event has a timestamp, so as_of = \"latest\" has no date",
                )
                .with_help("set as_of = \"YYYY-MM-DD\" in strata.toml"),
            )
        }),
    }
}

/// The inputs a run has validated: sources, features, checked segmentations.
#[derive(Debug)]
pub struct Prepared {
    /// The as-of date.
    pub as_of: NaiveDate,
    /// Loaded sources.
    pub sources: Sources,
    /// The feature table.
    pub features: FeatureTable,
    /// Checked segmentations.
    pub segmentations: Vec<CheckedSegmentation>,
    /// Warnings so far.
    pub warnings: Vec<Problem>,
}

/// Loads sources, computes features and checks every rule.
pub async fn prepare(
    ctx: &SessionContext,
    project: &Project,
    options: &RunOptions,
    observer: &dyn Observer,
) -> Result<Prepared> {
    observer.phase_started(Phase::Sources);
    let sources = sources::load(ctx, project).await?;
    let as_of = resolve_as_of(project, options, &sources)?;
    observer.phase_finished(Phase::Sources);

    observer.phase_started(Phase::Features);
    let features = features::compute(ctx, project, &sources, day_number(as_of)).await?;
    let mut warnings = sources.warnings.clone();
    let events_source = project
        .source(TableKind::Events)
        .ok_or_else(|| Error::Internal("project without events".into()))?;
    if let Some((is_error, problem)) = sources::unknown_events_problem(
        project,
        events_source,
        features.unknown.events,
        features.unknown.accounts,
        features.unknown.example.as_deref(),
    ) {
        if is_error {
            return Err(Error::invalid(problem));
        }
        warnings.push(problem);
    }
    if sources
        .events
        .min_day
        .is_some_and(|first| first > day_number(as_of))
    {
        warnings.push(
            Problem::new(
                "as_of",
                format!("every event is after as_of {as_of}, so behavioral features are all 0"),
            )
            .with_help("pick a later as_of, or \"latest\""),
        );
    }
    observer.phase_finished(Phase::Features);

    observer.phase_started(Phase::Segments);
    let segmentations = segment::check_segmentations(project, &features.rule_schema())?;
    Ok(Prepared {
        as_of,
        sources,
        features,
        segmentations,
        warnings,
    })
}

/// Validates a project end to end without measuring or writing anything.
pub async fn validate(project: &Project, options: &RunOptions) -> Result<Prepared> {
    let ctx = session(project)?;
    prepare(&ctx, project, options, &Quiet).await
}

/// Runs the pipeline: sources, features, segments, measures.
pub async fn run(
    project: &Project,
    options: &RunOptions,
    observer: &dyn Observer,
) -> Result<RunResult> {
    let ctx = session(project)?;
    let prepared = prepare(&ctx, project, options, observer).await?;
    let assignments = segment::assign(&ctx, &prepared.features, &prepared.segmentations).await?;
    observer.phase_finished(Phase::Segments);

    observer.phase_started(Phase::Measures);
    let result = measure(prepared, assignments)?;
    observer.phase_finished(Phase::Measures);
    Ok(result)
}

/// Per-account revenue inputs in account order.
pub fn account_revenue(sources: &Sources, as_of: NaiveDate) -> Vec<AccountRevenue> {
    let n_accounts = sources.accounts.ids.len();
    match &sources.revenue {
        None => vec![AccountRevenue::default(); n_accounts],
        Some(revenue) => {
            let (now, ago) = features::revenue_at(
                revenue,
                n_accounts,
                sources::month_of_day(day_number(as_of)),
            );
            now.into_iter()
                .zip(ago)
                .map(|(mrr_now, mrr_12m_ago)| AccountRevenue {
                    mrr_now,
                    mrr_12m_ago,
                })
                .collect()
        }
    }
}

/// NPS answers in the window of `as_of`, latest per user.
pub fn nps_answers(sources: &Sources, as_of: NaiveDate) -> Vec<NpsAnswer> {
    let Some(feedback) = &sources.feedback else {
        return Vec::new();
    };
    let answers: Vec<NpsAnswer> = (0..feedback.account_idx.len())
        .filter(|&row| feedback.channel[row] == "nps")
        .filter_map(|row| {
            feedback.score[row].map(|score| NpsAnswer {
                account_idx: feedback.account_idx[row],
                user_id: feedback.user_id[row].clone(),
                ts_micros: feedback.ts_micros[row],
                score,
            })
        })
        .collect();
    measures::nps_window(&answers, as_of)
}

fn measure(prepared: Prepared, assignments: Vec<Assignment>) -> Result<RunResult> {
    let revenue = account_revenue(&prepared.sources, prepared.as_of);
    let nps = nps_answers(&prepared.sources, prepared.as_of);
    let n_accounts = revenue.len();
    let everyone = vec![Some(0usize); n_accounts];
    let overall = measures::segment_economics(&revenue, &nps, &everyone, 1)?.overall;
    let mut segmentations = Vec::new();
    for (checked, assignment) in prepared.segmentations.iter().zip(assignments) {
        let economics = measures::segment_economics(
            &revenue,
            &nps,
            &assignment.membership,
            checked.segments.len(),
        )?;
        let segments = checked
            .segments
            .iter()
            .zip(economics.segments)
            .map(|(segment, economics)| SegmentResult {
                name: segment.name.clone(),
                rule: segment.rule.expr().to_string(),
                description: segment.description.clone(),
                economics,
            })
            .collect();
        segmentations.push(SegmentationResult {
            name: checked.name.clone(),
            kind: checked.kind.to_string(),
            description: checked.description.clone(),
            segments,
            unassigned: economics.unassigned,
            membership: assignment.membership,
        });
    }
    Ok(RunResult {
        as_of: prepared.as_of,
        features: prepared.features,
        segmentations,
        overall,
        event_rows: prepared.sources.events.rows,
        warnings: prepared.warnings,
    })
}
