//! The pipeline: sources → features → segmentations → measures, as one call.
//!
//! [`run`] is what `strata run` does before writing outputs; [`validate`]
//! runs the same steps short of measuring, so that every problem a run would
//! hit (sources, schema, every rule) is found without writing anything.
//! Progress is reported through an [`Observer`] so that the library never
//! prints: the CLI turns phases into a progress bar, tests ignore them.
pub use crate::dates::{date_of_day, day_number};
pub use crate::prepare::{
    Beside, BesideScan, Observer, Phase, Prepared, Quiet, RunOptions, verbatims,
};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use rayon::prelude::*;

use crate::discover::drift::{self, Drift};
use crate::discover::{self, ClusterModel, Discovery};
use crate::engine::{DataFusionEngine, Engine};
use crate::error::{Error, Problem, Result};
use crate::features::{self, FeatureTable};
use crate::measures::quality::{
    self, NrrSpread, QualityInputs, SegmentQuality, SegmentationQuality, SignupColumn,
};
use crate::measures::{self, AccountRevenue, Economics, NpsAnswer};
use crate::ml::{KScore, Matrix};
use crate::project::{ClusterDef, Engine as EngineKind, Project};
use crate::segment::{self, Assignment, CheckedSegmentation, Method};
use crate::sources::{self, Sources};

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
    /// Cohesion, revenue share, detectability, score.
    pub quality: SegmentQuality,
    /// The typical account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persona: Option<crate::measures::persona::Persona>,
}

/// One segmentation's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SegmentationResult {
    /// Segmentation name.
    pub name: String,
    /// `rules` or `clusters`.
    pub kind: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Segments in priority order.
    pub segments: Vec<SegmentResult>,
    /// Accounts no rule matched.
    pub unassigned: Economics,
    /// Quality of the segmentation as a whole.
    pub quality: SegmentationQuality,
    /// For clusters: the k tried and why this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clustering: Option<ClusteringSummary>,
    /// For frozen clusterings: how a fresh fit compares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// For clusters: the fit itself.
    #[serde(skip)]
    pub discovery: Option<Discovery>,
    /// Per account (feature-table order): segment index or `None`.
    #[serde(skip)]
    pub membership: Vec<Option<usize>>,
    /// For scores: per account (feature-table order), its score explained.
    #[serde(skip)]
    pub scores: Option<Vec<crate::score::AccountScore>>,
}

/// How a clustering chose its k.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusteringSummary {
    /// Features clustered on.
    pub features: Vec<String>,
    /// The chosen k.
    pub k: usize,
    /// Why.
    pub explanation: String,
    /// Every k tried.
    pub scores: Vec<KScore>,
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
    /// NRR of the most vs the least engaged quartile.
    pub nrr_spread: NrrSpread,
    /// Rows in the events table.
    pub event_rows: u64,
    /// Problems that did not stop the run.
    pub warnings: Vec<Problem>,
    /// Per account (feature-table order): revenue at as_of and a year before,
    /// kept so that a rule can be measured later without the sources.
    pub revenue: Vec<AccountRevenue>,
    /// NPS answers of the window ending at as_of.
    pub nps: Vec<NpsAnswer>,
    /// The learned risks, when the project asks for them.
    pub risk: Option<crate::risk::RiskModels>,
    /// How the features scan read the events, when it was kept between
    /// runs (recorded runs on the embedded engine).
    pub scan: Option<crate::features::ScanMode>,
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

/// The engine the project names, over a fresh [`session`].
pub async fn engine(project: &Project) -> Result<Box<dyn Engine>> {
    let ctx = session(project)?;
    Ok(match &project.engine {
        EngineKind::Embedded => Box::new(DataFusionEngine::embedded(ctx)),
        EngineKind::Ballista(url) => Box::new(DataFusionEngine::ballista(ctx, url).await?),
        EngineKind::Postgres => Box::new(crate::pushdown::Postgres::new(ctx)),
    })
}

/// Loads sources, computes features and checks every rule, on the
/// project's engine; the engine is returned for what comes next.
pub async fn prepare(
    project: &Project,
    options: &RunOptions,
    observer: &dyn Observer,
) -> Result<(Box<dyn Engine>, Prepared)> {
    let engine = engine(project).await?;
    let prepared = engine.prepare(project, options, observer).await?;
    Ok((engine, prepared))
}

/// A project's sources, loaded once for several dates.
pub struct Loaded {
    /// The session that read them, on the embedded engine (whose events
    /// table [`memberships_at`] scans); `None` elsewhere.
    pub ctx: Option<SessionContext>,
    /// The sources.
    pub sources: Sources,
    /// The as-of date of the options they were loaded for.
    pub as_of: NaiveDate,
    /// Where the scans of other dates are kept between runs (the options').
    pub cache: Option<crate::features::ScanCache>,
}

/// The sources and the as-of date of `options`, without the features on
/// the embedded engine (what the backtest measures outcomes from, and
/// [`memberships_at`] reuses); a whole prepare on the other engines.
///
/// # Errors
///
/// As [`prepare`].
pub async fn sources_at(project: &Project, options: &RunOptions) -> Result<Loaded> {
    if project.engine != EngineKind::Embedded {
        let (_, prepared) = prepare(project, options, &Quiet).await?;
        return Ok(Loaded {
            ctx: None,
            sources: prepared.sources,
            as_of: prepared.as_of,
            cache: None,
        });
    }
    let ctx = session(project)?;
    let check = match &options.cache {
        Some(cache) => sources::Check::Since(cache.earlier_checks()),
        None => sources::Check::All,
    };
    let sources = sources::load_with(&ctx, project, check).await?;
    let as_of = crate::prepare::resolve_as_of(project, options, &sources)?;
    Ok(Loaded {
        ctx: Some(ctx),
        sources,
        as_of,
        cache: options.cache.clone(),
    })
}

/// What the learned risks start from, on the embedded engine: the
/// session (whose events table the snapshots scan), the sources, the as-of
/// date and the feature table at that date (without the risk columns).
pub struct RiskInputs {
    /// The session that read the sources.
    pub ctx: SessionContext,
    /// Loaded sources (every account, signed up or not).
    pub sources: Sources,
    /// The as-of date.
    pub as_of: NaiveDate,
    /// The features at `as_of`.
    pub features: FeatureTable,
}

impl RiskInputs {
    /// The point-in-time snapshots of [`crate::risk::snapshots`] over these
    /// inputs.
    ///
    /// # Errors
    ///
    /// As [`crate::risk::snapshots`].
    pub async fn snapshots(
        &self,
        project: &Project,
        settings: &crate::project::risk::RiskSettings,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<Vec<crate::risk::Snapshot>> {
        crate::risk::snapshots(
            &self.ctx,
            project,
            &self.sources,
            self.as_of,
            settings,
            &self.features.top_events,
            None,
            progress,
        )
        .await
    }
}

/// Loads the sources and computes the features at the as-of date, as a
/// run would before learning its risks (for `strata risk` and its bench,
/// which time and export the steps one by one).
pub async fn risk_inputs(project: &Project, options: &RunOptions) -> Result<RiskInputs> {
    let ctx = session(project)?;
    let sources = sources::load(&ctx, project).await?;
    let as_of = crate::prepare::resolve_as_of(project, options, &sources)?;
    let features =
        features::compute_with(&ctx, project, &sources, day_number(as_of), None, None).await?;
    Ok(RiskInputs {
        ctx,
        sources,
        as_of,
        features,
    })
}

/// Validates a project end to end without measuring or writing anything.
pub async fn validate(project: &Project, options: &RunOptions) -> Result<Prepared> {
    Ok(prepare(project, options, &Quiet).await?.1)
}

/// Runs the pipeline: sources, features, segments, measures.
pub async fn run(
    project: &Project,
    options: &RunOptions,
    observer: &dyn Observer,
) -> Result<RunResult> {
    let (_, prepared, assignments) = prepare_and_assign(project, options, observer).await?;
    observer.phase_started(Phase::Measures);
    let (result, _) = measure(prepared, assignments)?;
    observer.phase_finished(Phase::Measures);
    Ok(result)
}

/// What the report adds to a run, and which segmentations it is about.
#[derive(Debug, Clone, Default)]
pub struct AnalysesPlan {
    /// Segmentation whose segments get cohort retention curves [default: the first].
    pub cohorts_by: Option<String>,
    /// Segmentation the roadmap plans for [default: `behavior`, else the
    /// first clusters segmentation, else the first].
    pub roadmap_for: Option<String>,
    /// Days after signup the ICP looks at; `None` leaves the ICP out.
    pub icp_days: Option<u32>,
}

/// The report's analyses of a run; an analysis that cannot be made on this
/// data is `None`, with its reason in `problems`.
#[derive(Debug, Clone, Default)]
pub struct Analyses {
    /// The ideal customer profile.
    pub icp: Option<IcpReport>,
    /// Cohort retention by segment.
    pub cohorts: Option<CohortReport>,
    /// Segments to roadmap.
    pub roadmap: Option<RoadmapReport>,
    /// Why an analysis is missing.
    pub problems: Vec<String>,
}

/// The segmentation the report's roadmap plans for: `behavior`, else the
/// first clustering, else the first segmentation.
pub fn roadmap_segmentation(project: &Project) -> Option<String> {
    let names = || project.segmentations.iter();
    names()
        .find(|s| s.name == "behavior")
        .or_else(|| names().find(|s| s.kind.name() == "clusters"))
        .or_else(|| names().next())
        .map(|s| s.name.clone())
}

/// [`run`], plus the analyses of the report (cohorts and roadmap from the
/// same sources and memberships; the ICP from features known `icp_days`
/// after signup), and the run's sources, loaded once for what reads them
/// again (the run's own backtest; `None` when accounts that signed up after
/// as_of were left out of them).
pub async fn run_with_analyses(
    project: &Project,
    options: &RunOptions,
    plan: &AnalysesPlan,
    observer: &dyn Observer,
) -> Result<(RunResult, Analyses, Option<Loaded>)> {
    // The ICP's early adoption is counted in the run's own scan.
    let options = RunOptions {
        early_days: plan.icp_days.or(options.early_days),
        ..options.clone()
    };
    let (engine, prepared, assignments) = prepare_and_assign(project, &options, observer).await?;
    observer.phase_started(Phase::Analyses);
    let mut analyses = Analyses::default();
    let icp_here = plan
        .icp_days
        .map(|days| (days, icp_of(project, &prepared, days, &Default::default())));
    let by = plan
        .cohorts_by
        .clone()
        .or_else(|| project.segmentations.first().map(|s| s.name.clone()));
    match cohorts_of(&prepared, &assignments, by.as_deref()) {
        Ok(report) => analyses.cohorts = Some(report),
        Err(error) => analyses
            .problems
            .push(format!("no cohort section: {error}")),
    }
    let plan_for = plan
        .roadmap_for
        .clone()
        .or_else(|| roadmap_segmentation(project));
    if let Some(name) = plan_for {
        match roadmap_of(&prepared, &assignments, &name) {
            Ok(report) => analyses.roadmap = Some(report),
            Err(error) => analyses
                .problems
                .push(format!("no roadmap section: {error}")),
        }
    }
    observer.phase_finished(Phase::Analyses);
    observer.phase_started(Phase::Measures);
    let as_of = prepared.as_of;
    let every_account = prepared.every_account;
    let (result, sources) = measure(prepared, assignments)?;
    observer.phase_finished(Phase::Measures);
    // Accounts that signed up after as_of are gone from these sources.
    let loaded = every_account.then(|| Loaded {
        ctx: engine.embedded_session(),
        sources,
        as_of,
        cache: options.cache.clone(),
    });
    let icp_found = match icp_here {
        Some((days, Ok(None))) => {
            // This engine's scan counted no early adoption.
            let options = RunOptions::at(Some(as_of));
            Some(icp(project, &options, days, &Default::default(), &Quiet).await)
        }
        Some((_, found)) => found.transpose(),
        None => None,
    };
    match icp_found {
        Some(Ok(report)) => analyses.icp = Some(report),
        Some(Err(error)) => analyses.problems.push(format!("no ICP section: {error}")),
        None => {}
    }
    Ok((result, analyses, loaded))
}

/// Each account's segment of `segmentation` at `date` (`None`:
/// unassigned), recomputed under today's definitions (the flows between
/// dates the state store holds no memberships for, such as backfilled
/// points); accounts not signed up by then are absent.
///
/// # Errors
///
/// An unknown segmentation, and as [`memberships_at`].
pub async fn members_at(
    project: &Project,
    segmentation: &str,
    date: NaiveDate,
) -> Result<std::collections::HashMap<String, Option<String>>> {
    let mut alone = project.clone();
    alone.segmentations.retain(|s| s.name == segmentation);
    if alone.segmentations.is_empty() {
        return Err(project.unknown_segmentation(segmentation));
    }
    let mut found = memberships_at(&alone, &[date], None, &mut |_, _| {}).await?;
    let Some((prepared, assignments)) = found.pop() else {
        return Ok(Default::default());
    };
    let assignment = find_assignment(&assignments, segmentation)?;
    Ok(prepared
        .sources
        .accounts
        .ids
        .iter()
        .zip(&assignment.membership)
        .map(|(id, member)| {
            (
                id.clone(),
                member.map(|s| assignment.segments[s].name.clone()),
            )
        })
        .collect())
}

/// Every segmentation's members at each of `dates`, without measuring
/// anything (the backtest's past dates). On the embedded engine the sources
/// are loaded once (or `loaded`'s are used) and the dates' features come
/// from one pass over the events; elsewhere,
/// and when the project learns risks (which need their own history at each
/// date), each date is a whole preparation.
///
/// # Errors
///
/// As [`run`].
pub async fn memberships_at(
    project: &Project,
    dates: &[NaiveDate],
    loaded: Option<&Loaded>,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<Vec<(Prepared, Vec<Assignment>)>> {
    let mut out: Vec<Option<(Prepared, Vec<Assignment>)>> =
        (0..dates.len()).map(|_| None).collect();
    memberships_each(
        project,
        dates,
        loaded,
        progress,
        &mut |at, prepared, assignments| {
            out[at] = Some((prepared, assignments));
            Ok(())
        },
    )
    .await?;
    out.into_iter()
        .map(|found| found.ok_or_else(|| Error::Internal("a past date not computed".into())))
        .collect()
}

/// [`memberships_at`], each date handed to `visit` (with its position in
/// `dates`) as soon as it is computed and dropped after: what is held at
/// once is one date's features and sources, not every date's (a backtest
/// at a million accounts).
///
/// # Errors
///
/// As [`run`], and what `visit` returns.
pub async fn memberships_each(
    project: &Project,
    dates: &[NaiveDate],
    loaded: Option<&Loaded>,
    progress: &mut (dyn FnMut(usize, usize) + Send),
    visit: &mut (dyn FnMut(usize, Prepared, Vec<Assignment>) -> Result<()> + Send),
) -> Result<()> {
    if project.engine != EngineKind::Embedded || project.risk.is_some() {
        for (done, date) in dates.iter().enumerate() {
            let (_, prepared, assignments) =
                prepare_and_assign(project, &RunOptions::at(Some(*date)), &Quiet).await?;
            visit(done, prepared, assignments)?;
            progress(done + 1, dates.len());
        }
        return Ok(());
    }
    // Loaded sources are borrowed: each date copies them once, for itself.
    let (ctx, sources) = match loaded {
        Some(Loaded {
            ctx: Some(ctx),
            sources,
            ..
        }) => (ctx.clone(), std::borrow::Cow::Borrowed(sources)),
        _ => {
            let ctx = session(project)?;
            let sources = sources::load(&ctx, project).await?;
            (ctx, std::borrow::Cow::Owned(sources))
        }
    };
    let engine = DataFusionEngine::embedded(ctx.clone());
    // One pass over the events for a group of dates' features.
    let days: Vec<i32> = dates.iter().map(|date| day_number(*date)).collect();
    let cache = loaded.and_then(|l| l.cache.as_ref());
    let mut many = features::ManyDates::new(&ctx, project, &sources, &days, None, cache).await?;
    let mut done = 0;
    while let Some((at, features)) = many.next_date().await? {
        let (prepared, assignments) =
            assign_past(project, &engine, dates[at], &sources, features).await?;
        visit(at, prepared, assignments)?;
        done += 1;
        progress(done, dates.len());
    }
    Ok(())
}

/// A past date prepared from its `features` (over a copy of `sources`, the
/// embedded engine's) and every segmentation's members and scores; a past
/// date's explanations go unread.
pub(crate) async fn assign_past(
    project: &Project,
    engine: &DataFusionEngine,
    date: NaiveDate,
    sources: &Sources,
    features: features::FeatureTable,
) -> Result<(Prepared, Vec<Assignment>)> {
    let mut prepared = crate::prepare::finish_prepare(
        project,
        date,
        std::borrow::Cow::Borrowed(sources),
        features,
        None,
        &Quiet,
    )?;
    let mut warnings = std::mem::take(&mut prepared.warnings);
    let assignments = engine
        .assign_explained(project, &prepared, &mut warnings, false)
        .await?;
    prepared.warnings = warnings;
    Ok((prepared, assignments))
}

/// Sources, features and every segmentation's members; assignment warnings
/// join the prepared warnings.
async fn prepare_and_assign(
    project: &Project,
    options: &RunOptions,
    observer: &dyn Observer,
) -> Result<(Box<dyn Engine>, Prepared, Vec<Assignment>)> {
    let (engine, mut prepared) = prepare(project, options, observer).await?;
    let mut warnings = std::mem::take(&mut prepared.warnings);
    let assignments = engine.assign(project, &prepared, &mut warnings).await?;
    // A clustering that cannot be fitted is found before assignment (so
    // that `validate` says so) and again by the fit: say it once.
    let mut seen = std::collections::HashSet::new();
    warnings.retain(|warning| seen.insert(warning.to_string()));
    prepared.warnings = warnings;
    observer.phase_finished(Phase::Segments);
    Ok((engine, prepared, assignments))
}

/// Tickets per account (feedback rows with channel `ticket`) in the trailing
/// 12 months of `as_of`.
pub fn ticket_counts(sources: &Sources, as_of: NaiveDate) -> Vec<usize> {
    let mut counts = vec![0usize; sources.accounts.ids.len()];
    let (Some(feedback), Some((start, end))) =
        (&sources.feedback, measures::window_bounds_micros(as_of))
    else {
        return counts;
    };
    for row in 0..feedback.account_idx.len() {
        let ts = feedback.ts_micros[row];
        if feedback.channel[row] == "ticket" && ts >= start && ts < end {
            counts[feedback.account_idx[row]] += 1;
        }
    }
    counts
}

/// The assignment of segmentation `name`, or a problem listing the names.
fn find_assignment<'a>(assignments: &'a [Assignment], name: &str) -> Result<&'a Assignment> {
    assignments
        .iter()
        .find(|assignment| assignment.segmentation == name)
        .ok_or_else(|| {
            let names: Vec<&str> = assignments
                .iter()
                .map(|a| a.segmentation.as_str())
                .collect();
            no_segmentation(name, &names, "project")
        })
}

/// "No segmentation of that name", listing the names `whose` (the project,
/// the run) has.
fn no_segmentation(name: &str, names: &[&str], whose: &str) -> Error {
    Error::invalid(
        Problem::new(name, format!("no segmentation of that name in the {whose}"))
            .with_help(format!("the {whose} has: {}", names.join(", "))),
    )
}

/// What `strata matrix` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MatrixReport {
    /// The as-of date used, `YYYY-MM-DD`.
    pub as_of: String,
    /// The crossed segmentations.
    #[serde(flatten)]
    pub matrix: crate::measures::matrix::SegmentMatrix,
}

/// Crosses the segmentations `names` (two or three) of a project.
pub async fn matrix(
    project: &Project,
    options: &RunOptions,
    names: &[String],
    observer: &dyn Observer,
) -> Result<MatrixReport> {
    use crate::measures::matrix::{Dimension, segment_matrix};
    if !(2..=3).contains(&names.len()) {
        return Err(Error::invalid(
            Problem::new("matrix", format!("{} segmentations given", names.len()))
                .with_help("cross two or three, e.g. `strata matrix size behavior`"),
        ));
    }
    let (_, prepared, assignments) = prepare_and_assign(project, options, observer).await?;
    observer.phase_started(Phase::Measures);
    let mut segment_names = Vec::new();
    let mut picked = Vec::new();
    for name in names {
        let assignment = find_assignment(&assignments, name)?;
        segment_names.push(
            assignment
                .segments
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>(),
        );
        picked.push(assignment);
    }
    let dimensions: Vec<Dimension<'_>> = picked
        .iter()
        .zip(&segment_names)
        .map(|(assignment, segments)| Dimension {
            name: &assignment.segmentation,
            segments,
            membership: &assignment.membership,
        })
        .collect();
    let revenue = account_revenue(&prepared.sources, prepared.as_of);
    let nps = nps_answers(&prepared.sources, prepared.as_of);
    let tickets = ticket_counts(&prepared.sources, prepared.as_of);
    let matrix = segment_matrix(&dimensions, &revenue, &nps, &tickets)?;
    observer.phase_finished(Phase::Measures);
    Ok(MatrixReport {
        as_of: prepared.as_of.to_string(),
        matrix,
    })
}

/// Two segmentations of a run crossed without reading the sources again
/// (the overlap heat map): every non-empty cell's accounts, ARR and NRR.
/// Tickets are not in a run's result; they stay zero (`strata matrix`
/// counts them).
///
/// # Errors
///
/// A name that is not a segmentation of the run.
pub fn crossed(
    result: &RunResult,
    rows: &str,
    columns: &str,
) -> Result<crate::measures::matrix::SegmentMatrix> {
    use crate::measures::matrix::{Dimension, segment_matrix};
    let find = |name: &str| {
        result
            .segmentations
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = result
                    .segmentations
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                no_segmentation(name, &names, "run")
            })
    };
    let picked = [find(rows)?, find(columns)?];
    let names: Vec<Vec<String>> = picked
        .iter()
        .map(|s| s.segments.iter().map(|seg| seg.name.clone()).collect())
        .collect();
    let dimensions: Vec<Dimension<'_>> = picked
        .iter()
        .zip(&names)
        .map(|(s, segments)| Dimension {
            name: &s.name,
            segments,
            membership: &s.membership,
        })
        .collect();
    let tickets = vec![0; result.revenue.len()];
    Ok(segment_matrix(
        &dimensions,
        &result.revenue,
        &result.nps,
        &tickets,
    )?)
}

/// Cohort retention of one group: the whole base or a segment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CohortGroup {
    /// `None` for the whole base.
    pub segment: Option<String>,
    /// Signup-month cohorts, oldest first.
    pub cohorts: Vec<crate::measures::cohorts::CohortRow>,
}

/// What `strata cohorts` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CohortReport {
    /// The as-of date used, `YYYY-MM-DD`.
    pub as_of: String,
    /// The segmentation the groups come from, if any.
    pub segmentation: Option<String>,
    /// The whole base first, then each segment.
    pub groups: Vec<CohortGroup>,
}

/// Signup-month cohort retention of the base and of each segment of
/// `segmentation`.
pub async fn cohorts(
    project: &Project,
    options: &RunOptions,
    segmentation: Option<&str>,
    observer: &dyn Observer,
) -> Result<CohortReport> {
    let (_, prepared, assignments) = prepare_and_assign(project, options, observer).await?;
    observer.phase_started(Phase::Measures);
    let report = cohorts_of(&prepared, &assignments, segmentation)?;
    observer.phase_finished(Phase::Measures);
    Ok(report)
}

/// [`cohorts`] of a prepared and assigned run.
fn cohorts_of(
    prepared: &Prepared,
    assignments: &[Assignment],
    segmentation: Option<&str>,
) -> Result<CohortReport> {
    use crate::measures::cohorts::cohort_retention;
    if prepared.sources.revenue.is_none() {
        return Err(Error::invalid(
            Problem::new(
                "cohorts",
                "the project has no revenue table, so there is no retention to measure",
            )
            .with_help("add `revenue = \"...\"` under [sources]"),
        ));
    }
    let mrr = crate::risk::mrr_by_month(&prepared.sources);
    let created_month: Vec<i32> = prepared
        .sources
        .accounts
        .created_day
        .iter()
        .map(|&day| sources::month_of_day(day))
        .collect();
    let as_of_month = sources::revenue_month(&prepared.sources, day_number(prepared.as_of));
    let mut groups = vec![CohortGroup {
        segment: None,
        cohorts: cohort_retention(&created_month, &mrr, as_of_month, |_| true),
    }];
    if let Some(name) = segmentation {
        let assignment = find_assignment(assignments, name)?;
        for (idx, segment) in assignment.segments.iter().enumerate() {
            groups.push(CohortGroup {
                segment: Some(segment.name.clone()),
                cohorts: cohort_retention(&created_month, &mrr, as_of_month, |account| {
                    assignment.membership[account] == Some(idx)
                }),
            });
        }
    }
    Ok(CohortReport {
        as_of: prepared.as_of.to_string(),
        segmentation: segmentation.map(str::to_string),
        groups,
    })
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
                sources::revenue_month(sources, day_number(as_of)),
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

/// The default clustering features present in the table, transformed as for
/// clustering: the space in which cohesion and engagement are measured.
pub fn behavior_space(features: &FeatureTable) -> Option<(Vec<String>, Matrix<f64>)> {
    let names: Vec<String> = crate::project::DEFAULT_CLUSTER_FEATURES
        .iter()
        .filter(|name| features.batch.column_by_name(name).is_some())
        .map(|name| name.to_string())
        .collect();
    if names.is_empty() {
        return None;
    }
    let cells = discover::feature_cells(features, &names, "behavioral features").ok()?;
    let transform = discover::fit_transform(&cells, &vec![1.0; names.len()]).ok()?;
    let matrix = transform.apply_matrix(&cells).ok()?;
    Some((names, matrix))
}

/// Attributes known at signup: firmographics and the signup date.
pub fn signup_attributes(features: &FeatureTable) -> Vec<SignupColumn> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Float64Type};
    let batch = &features.batch;
    let mut attributes = Vec::new();
    for name in ["employees", "days_since_signup"] {
        if let Some(column) = batch.column_by_name(name)
            && let Ok(values) = datafusion::arrow::compute::cast(column, &DataType::Float64)
        {
            let values = values.as_primitive::<Float64Type>();
            attributes.push(SignupColumn::Numeric(
                name.to_string(),
                (0..values.len())
                    .map(|row| values.is_valid(row).then(|| values.value(row)))
                    .collect(),
            ));
        }
    }
    for name in ["industry", "country", "plan"] {
        if let Some(column) = batch.column_by_name(name)
            && let Ok(values) = datafusion::arrow::compute::cast(column, &DataType::Utf8)
        {
            let values = values.as_string::<i32>();
            attributes.push(SignupColumn::Categorical(
                name.to_string(),
                (0..values.len())
                    .map(|row| values.is_valid(row).then(|| values.value(row).to_string()))
                    .collect(),
            ));
        }
    }
    attributes
}

/// Every numeric feature (not the row index), as floats with NULLs.
fn numeric_columns(features: &FeatureTable) -> Vec<(String, Vec<Option<f64>>)> {
    features
        .defs
        .iter()
        .filter(|def| def.value_type.is_numeric())
        .filter_map(|def| Some((def.name.clone(), features.floats(&def.name)?)))
        .collect()
}

/// The engagement score of every account: the mean of its transformed
/// activity features.
fn engagement(names: &[String], behavior: &Matrix<f64>) -> (Vec<String>, Vec<Option<f64>>) {
    let activity: Vec<usize> = (0..names.len())
        .filter(|&idx| discover::naming::role(&names[idx]) == discover::naming::Role::Activity)
        .collect();
    let scores = (0..behavior.n_rows())
        .map(|row| {
            let values = behavior.row(row);
            (!activity.is_empty()).then(|| {
                activity.iter().map(|&idx| values[idx]).sum::<f64>() / activity.len() as f64
            })
        })
        .collect();
    (
        activity.iter().map(|&idx| names[idx].clone()).collect(),
        scores,
    )
}

/// Compares a frozen clustering with a fresh fit, if the model file loads;
/// problems become warnings, as a stale model must not stop a run.
fn frozen_drift(
    features: &FeatureTable,
    segmentation: &str,
    path: &std::path::Path,
    quality: &[SegmentQuality],
    warnings: &mut Vec<Problem>,
) -> Option<Drift> {
    let location = format!("segmentation `{segmentation}`");
    let outcome = ClusterModel::load(path).and_then(|model| {
        let cells = discover::feature_cells(features, &model.features, &location)?;
        let rule_members =
            discover::rule_memberships(features, &model.rule_segment_defs(), &location)?;
        let n_features = model.features.len();
        let clustered_cells: Vec<Option<f64>> = cells
            .chunks_exact(n_features.max(1))
            .zip(&rule_members)
            .filter(|(_, member)| member.is_none())
            .flat_map(|(row, _)| row.iter().copied())
            .collect();
        let mut drift = drift::compare(&model, &clustered_cells)?;
        drift::add_quality_changes(&mut drift, &model, quality);
        Ok(drift)
    });
    match outcome {
        Ok(drift) => {
            if drift.refresh {
                warnings.push(
                    Problem::new(
                        &location,
                        format!("should be refreshed: {}", drift.reasons.join("; ")),
                    )
                    .with_help(format!(
                        "see `strata discover --check`, then freeze a new version with `strata discover --freeze {segmentation}_v2`"
                    )),
                );
            }
            Some(drift)
        }
        Err(error) => {
            warnings.push(Problem::new(
                &location,
                format!(
                    "cannot compare with its frozen model {}: {error}",
                    path.display()
                ),
            ));
            None
        }
    }
}

/// What every segmentation is measured against.
struct MeasureContext<'a> {
    features: &'a FeatureTable,
    revenue: Vec<AccountRevenue>,
    nps: Vec<NpsAnswer>,
    behavior: Option<(Vec<String>, Matrix<f64>)>,
    signup: Vec<SignupColumn>,
    numeric: Vec<(String, Vec<Option<f64>>)>,
}

impl<'a> MeasureContext<'a> {
    fn new(prepared: &'a Prepared) -> Self {
        MeasureContext {
            features: &prepared.features,
            revenue: account_revenue(&prepared.sources, prepared.as_of),
            nps: nps_answers(&prepared.sources, prepared.as_of),
            behavior: behavior_space(&prepared.features),
            signup: signup_attributes(&prepared.features),
            numeric: numeric_columns(&prepared.features),
        }
    }

    /// Economics, quality and (for frozen clusterings) drift of one segmentation.
    fn measure(
        &self,
        checked: &CheckedSegmentation,
        assignment: Assignment,
        warnings: &mut Vec<Problem>,
    ) -> Result<SegmentationResult> {
        let n_segments = assignment.segments.len();
        let economics = measures::segment_economics(
            &self.revenue,
            &self.nps,
            &assignment.membership,
            n_segments,
        )?;
        let space = match &assignment.discovery {
            Some(discovery) => Some(discovery.data.view()),
            None => self.behavior.as_ref().map(|(_, matrix)| matrix.view()),
        };
        let inputs = QualityInputs {
            behavior: space,
            revenue: &self.revenue,
            signup: &self.signup,
            seed: 0,
        };
        let names: Vec<String> = assignment.segments.iter().map(|s| s.name.clone()).collect();
        let (segment_quality, segmentation_quality) =
            quality::segmentation_quality(&inputs, &names, &assignment.membership);
        let drift = match &checked.method {
            Method::Rules {
                model: Some(path), ..
            } => frozen_drift(
                self.features,
                &checked.name,
                path,
                &segment_quality,
                warnings,
            ),
            _ => None,
        };
        let mut columns: Vec<crate::measures::persona::Column<'_>> = self
            .numeric
            .iter()
            .map(|(name, values)| crate::measures::persona::Column::Numeric(name, values))
            .collect();
        for attribute in &self.signup {
            if let SignupColumn::Categorical(name, values) = attribute {
                columns.push(crate::measures::persona::Column::Categorical(name, values));
            }
        }
        let base = crate::measures::persona::base_stats(&columns);
        let personas: Vec<Option<crate::measures::persona::Persona>> =
            (0..assignment.segments.len())
                .into_par_iter()
                .map(|idx| {
                    crate::measures::persona::persona(&columns, &base, &assignment.membership, idx)
                })
                .collect();
        let segments = assignment
            .segments
            .into_iter()
            .zip(economics.segments)
            .zip(segment_quality)
            .zip(personas)
            .map(|(((segment, economics), quality), persona)| SegmentResult {
                persona,
                name: segment.name,
                rule: segment.rule,
                description: segment.description,
                economics,
                quality,
            })
            .collect();
        let clustering = assignment
            .discovery
            .as_ref()
            .map(|discovery| ClusteringSummary {
                features: discovery.model.features.clone(),
                k: discovery.model.k(),
                explanation: discovery.explanation.clone(),
                scores: discovery.scores.clone(),
            });
        Ok(SegmentationResult {
            name: checked.name.clone(),
            kind: checked.kind.to_string(),
            description: checked.description.clone(),
            segments,
            unassigned: economics.unassigned,
            quality: segmentation_quality,
            clustering,
            drift,
            discovery: assignment.discovery,
            membership: assignment.membership,
            scores: assignment.scores,
        })
    }

    fn nrr_spread(&self) -> NrrSpread {
        match &self.behavior {
            Some((names, matrix)) => {
                let (activity, scores) = engagement(names, matrix);
                quality::nrr_spread(&scores, &self.revenue, activity)
            }
            None => quality::nrr_spread(&[], &self.revenue, Vec::new()),
        }
    }
}

/// The run's result; its sources handed back.
fn measure(prepared: Prepared, assignments: Vec<Assignment>) -> Result<(RunResult, Sources)> {
    let context = MeasureContext::new(&prepared);
    let everyone = vec![Some(0usize); context.revenue.len()];
    let overall =
        measures::segment_economics(&context.revenue, &context.nps, &everyone, 1)?.overall;
    let mut warnings = prepared.warnings.clone();
    let mut segmentations = Vec::new();
    for (checked, assignment) in prepared.segmentations.iter().zip(assignments) {
        segmentations.push(context.measure(checked, assignment, &mut warnings)?);
    }
    let nrr_spread = context.nrr_spread();
    let MeasureContext { revenue, nps, .. } = context;
    let risk = prepared.risk.clone();
    let result = RunResult {
        scan: prepared.scan.clone(),
        as_of: prepared.as_of,
        // The ICP's early counts were read before measuring; a served run
        // need not keep them.
        features: FeatureTable {
            early: None,
            ..prepared.features
        },
        segmentations,
        overall,
        nrr_spread,
        event_rows: prepared.sources.events.rows,
        warnings,
        revenue,
        nps,
        risk,
    };
    Ok((result, prepared.sources))
}

/// What a rule would select if it were a segment: [`preview_rule`]'s answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RulePreview {
    /// The rule as written.
    pub rule: String,
    /// The columns the rule reads.
    pub columns: Vec<String>,
    /// Accounts, ARR, NRR, ... of the accounts the rule is true for.
    #[serde(flatten)]
    pub economics: Economics,
    /// Up to 10 matching account ids, in feature-table order.
    pub sample: Vec<String>,
}

/// Evaluates `text` as a segment rule over a finished run's feature table and
/// measures the accounts it is true for, without saving anything.
///
/// # Errors
///
/// A rule that does not parse or check is [`Error::Rule`], with its position;
/// anything else is an engine error.
pub async fn preview_rule(result: &RunResult, text: &str) -> Result<RulePreview> {
    let rule =
        crate::rules::check_predicate(text, &result.features.rule_schema()).map_err(Error::Rule)?;
    let ctx = SessionContext::new();
    let membership = segment::first_matches(&ctx, &result.features.batch, &[rule.clone()])?;
    let economics = measures::segment_economics(&result.revenue, &result.nps, &membership, 1)?;
    let ids = result.account_ids();
    let sample = membership
        .iter()
        .zip(ids)
        .filter(|(member, _)| member.is_some())
        .map(|(_, id)| id)
        .take(10)
        .collect();
    Ok(RulePreview {
        rule: text.to_string(),
        columns: rule.columns(),
        economics: economics.segments.into_iter().next().unwrap_or_default(),
        sample,
    })
}

/// What `strata discover` shows: one clustering fitted and measured.
#[derive(Debug, Clone)]
pub struct Exploration {
    /// The as-of date used.
    pub as_of: NaiveDate,
    /// The clustering, measured like a segmentation of a run.
    pub result: SegmentationResult,
    /// The whole base.
    pub overall: Economics,
    /// Problems that did not stop it.
    pub warnings: Vec<Problem>,
}

/// Fits and measures one clustering of the project's data, as `name`.
pub async fn explore(
    project: &Project,
    options: &RunOptions,
    name: &str,
    def: &ClusterDef,
    observer: &dyn Observer,
) -> Result<Exploration> {
    let (_, prepared) = prepare(project, options, observer).await?;
    let discovery = discover::discover_sampled(
        &prepared.features,
        name,
        def,
        prepared.as_of,
        project.kmeans_sample,
    )?;
    let assignment = segment::cluster_assignment(name, discovery)?;
    observer.phase_finished(Phase::Segments);
    observer.phase_started(Phase::Measures);
    let context = MeasureContext::new(&prepared);
    let everyone = vec![Some(0usize); context.revenue.len()];
    let overall =
        measures::segment_economics(&context.revenue, &context.nps, &everyone, 1)?.overall;
    let checked = CheckedSegmentation {
        name: name.to_string(),
        kind: "clusters",
        description: None,
        method: Method::Clusters(def.clone()),
    };
    let mut warnings = prepared.warnings.clone();
    let result = context.measure(&checked, assignment, &mut warnings)?;
    observer.phase_finished(Phase::Measures);
    Ok(Exploration {
        as_of: prepared.as_of,
        result,
        overall,
        warnings,
    })
}

/// What `strata icp` found, with each rule also as SQL.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IcpReport {
    /// The as-of date used, `YYYY-MM-DD`.
    pub as_of: String,
    /// Days after signup that count as "known early".
    pub days: u32,
    /// The search and its rules.
    #[serde(flatten)]
    pub result: crate::icp::IcpResult,
    /// Each rule as a PostgreSQL condition, in the order of the rules.
    pub sql: Vec<String>,
    /// The early-adoption features the search added (not in the project
    /// file): name and event filter, each counted within `days` of signup.
    /// A saved profile that uses one declares it in `[features]`.
    pub early_features: Vec<(String, String)>,
}

/// Common events whose early adoption `strata icp` searches.
pub const ICP_EVENTS: usize = crate::features::EARLY_EVENTS;

pub use crate::features::early_event_feature;

/// Finds the ideal customer profile from attributes known within `days` of
/// signup: firmographics, plan, the adoption features over `days`, the
/// early adoption of each common event (its count within `days` of signup),
/// and custom features bounded to at most `days` after signup.
///
/// On the embedded engine the early adoption is counted in the one scan of
/// the events that computes the features; other engines prepare the run
/// again with the early counts as custom features.
pub async fn icp(
    project: &Project,
    options: &RunOptions,
    days: u32,
    params: &crate::icp::IcpParams,
    observer: &dyn Observer,
) -> Result<IcpReport> {
    if project.engine != EngineKind::Embedded {
        return icp_prepared_apart(project, options, days, params, observer).await;
    }
    let options = RunOptions {
        early_days: Some(days),
        ..options.clone()
    };
    let (_, prepared) = prepare(project, &options, observer).await?;
    observer.phase_finished(Phase::Segments);
    observer.phase_started(Phase::Measures);
    let report = match icp_of(project, &prepared, days, params)? {
        Some(report) => report,
        None => icp_prepared_apart(project, &options, days, params, observer).await?,
    };
    observer.phase_finished(Phase::Measures);
    Ok(report)
}

/// The ICP of a prepared run whose scan counted the early adoption over
/// `days` ([`RunOptions::early_days`]); `None` when it did not.
pub fn icp_of(
    project: &Project,
    prepared: &Prepared,
    days: u32,
    params: &crate::icp::IcpParams,
) -> Result<Option<IcpReport>> {
    let Some(early) = prepared.features.early.as_ref().filter(|e| e.days == days) else {
        return Ok(None);
    };
    // The run's features, and the early columns none of them already is
    // (the adoption features when `days` is the project's, a custom
    // feature of the same name).
    let table = &prepared.features;
    let schema = table.batch.schema();
    let mut fields: Vec<datafusion::arrow::datatypes::FieldRef> =
        schema.fields().iter().cloned().collect();
    let mut columns = table.batch.columns().to_vec();
    let mut defs = table.defs.clone();
    let early_schema = early.batch.schema();
    for (field, column) in early_schema.fields().iter().zip(early.batch.columns()) {
        if schema.field_with_name(field.name()).is_ok() {
            continue;
        }
        fields.push(field.clone());
        columns.push(column.clone());
        defs.push(features::FeatureDef {
            name: field.name().clone(),
            value_type: crate::rules::ValueType::Integer,
            group: features::FeatureGroup::Behavioral,
            description: format!("counted within {days} days of signup"),
        });
    }
    let batch = datafusion::arrow::array::RecordBatch::try_new(
        Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
        columns,
    )?;
    let mut early_features = Vec::new();
    for event in &early.events {
        let name = early_event_feature(event, days);
        if schema.field_with_name(&name).is_err() {
            early_features.push((name, event_filter(event)));
        }
    }
    let features = FeatureTable {
        batch,
        defs,
        unknown: table.unknown.clone(),
        as_of_day: table.as_of_day,
        early: None,
        top_events: table.top_events.clone(),
    };
    let inputs = IcpInputs {
        project,
        features: &features,
        sources: &prepared.sources,
        as_of: prepared.as_of,
        days,
        common: &early.events,
        early_features,
    };
    icp_search(&inputs, params).map(Some)
}

/// The rule-language filter of one event name.
fn event_filter(event: &str) -> String {
    format!("event = '{}'", event.replace('\'', "''"))
}

/// The ICP of a run prepared again for it, the early counts declared as
/// custom features (on engines whose features come from elsewhere than the
/// scan).
async fn icp_prepared_apart(
    project: &Project,
    options: &RunOptions,
    days: u32,
    params: &crate::icp::IcpParams,
    observer: &dyn Observer,
) -> Result<IcpReport> {
    use crate::project::{CustomFeatureKind, EventWindow};
    let mut project = project.clone();
    project.adoption_days = days;
    let ctx = session(&project)?;
    // Early adoption of each common event: its count within `days` of
    // signup, searched like any other attribute (cut points from the data).
    let common = crate::sources::common_events(&ctx, &project, ICP_EVENTS).await?;
    let mut early_features = Vec::new();
    for event in &common {
        let name = early_event_feature(event, days);
        if project.custom_features.iter().any(|f| f.name == name) {
            continue;
        }
        let filter = event_filter(event);
        early_features.push((name.clone(), filter.clone()));
        project.custom_features.push(crate::project::CustomFeature {
            name,
            kind: CustomFeatureKind::Count {
                filter,
                window: EventWindow::DaysAfterSignup(days),
            },
            description: Some(format!(
                "`{event}` events in the first {days} days after signup"
            )),
        });
    }
    let options = RunOptions {
        early_days: None,
        ..options.clone()
    };
    let (_, prepared) = prepare(&project, &options, observer).await?;
    observer.phase_finished(Phase::Segments);
    observer.phase_started(Phase::Measures);
    let inputs = IcpInputs {
        project: &project,
        features: &prepared.features,
        sources: &prepared.sources,
        as_of: prepared.as_of,
        days,
        common: &common,
        early_features,
    };
    let report = icp_search(&inputs, params)?;
    observer.phase_finished(Phase::Measures);
    Ok(report)
}

/// What the ICP search reads.
struct IcpInputs<'a> {
    project: &'a Project,
    /// The features, early adoption included.
    features: &'a FeatureTable,
    sources: &'a Sources,
    as_of: NaiveDate,
    days: u32,
    /// The common events, most common first.
    common: &'a [String],
    /// The early counts added for the search: name and event filter.
    early_features: Vec<(String, String)>,
}

/// The ICP search over the attributes known within `days` of signup.
fn icp_search(inputs: &IcpInputs<'_>, params: &crate::icp::IcpParams) -> Result<IcpReport> {
    use crate::icp::IcpAttribute;
    use crate::project::{CustomFeatureKind, EventWindow};
    let IcpInputs {
        project,
        features,
        sources,
        as_of,
        days,
        common,
        ..
    } = *inputs;
    let mut names: Vec<String> = vec![
        "employees".into(),
        format!("active_days_first_{days}d"),
        format!("events_first_{days}d"),
    ];
    for feature in &project.custom_features {
        let early = match &feature.kind {
            CustomFeatureKind::Count { window, .. }
            | CustomFeatureKind::Distinct { window, .. } => {
                matches!(window, EventWindow::DaysAfterSignup(n) if *n <= days)
            }
            CustomFeatureKind::Ratio { .. } => false,
        };
        if early && !names.contains(&feature.name) {
            names.push(feature.name.clone());
        }
    }
    for (name, _) in &inputs.early_features {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let mut attributes = Vec::new();
    for column in signup_attributes(features) {
        match column {
            SignupColumn::Categorical(name, values) => {
                attributes.push(IcpAttribute::Categorical(name, values))
            }
            // Employees comes with the early features below; tenure is not
            // a profile one can target.
            SignupColumn::Numeric(..) => {}
        }
    }
    let present: Vec<String> = names
        .into_iter()
        .filter(|name| features.batch.column_by_name(name).is_some())
        .collect();
    let counts: Vec<String> = common
        .iter()
        .map(|event| early_event_feature(event, days))
        .collect();
    if !present.is_empty() {
        let cells = discover::feature_cells(features, &present, "icp attributes")?;
        for (idx, name) in present.iter().enumerate() {
            let values = cells
                .iter()
                .skip(idx)
                .step_by(present.len())
                .copied()
                .collect();
            attributes.push(if counts.contains(name) {
                IcpAttribute::Count(name.clone(), values)
            } else {
                IcpAttribute::Numeric(name.clone(), values)
            });
        }
    }
    let revenue: Vec<(f64, f64)> = account_revenue(sources, as_of)
        .iter()
        .map(|r| (r.mrr_now, r.mrr_12m_ago))
        .collect();
    if sources.revenue.is_none() {
        return Err(Error::invalid(
            Problem::new(
                "icp",
                "the project has no revenue table, so there is no NRR to profile",
            )
            .with_help("add `revenue = \"...\"` under [sources]"),
        ));
    }
    let result = crate::icp::search(&attributes, &revenue, params).map_err(|error| {
        Error::invalid(
            Problem::new("icp", error.to_string())
                .with_help("lower --min-support, or use a later --as-of with more paying history"),
        )
    })?;
    let schema = features.rule_schema();
    let mut sql = Vec::new();
    for rule in &result.rules {
        let checked = crate::rules::check_predicate(&rule.rule, &schema)
            .map_err(|error| Error::Internal(format!("an ICP rule does not check: {error}")))?;
        sql.push(crate::sql::rule_sql(
            &checked,
            crate::sql::Dialect::Postgres,
        )?);
    }
    Ok(IcpReport {
        as_of: as_of.to_string(),
        days,
        result,
        sql,
        early_features: inputs.early_features.clone(),
    })
}

/// What `strata themes` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ThemesReport {
    /// The as-of date used, `YYYY-MM-DD`.
    pub as_of: String,
    /// The themes, or why there are none.
    #[serde(flatten)]
    pub themes: crate::themes::Themes,
    /// Per account (feature-table order): its dominant theme's name.
    #[serde(skip)]
    pub account_themes: Vec<Option<String>>,
    /// Per verbatim (the order of the themes' labels): its feedback row.
    #[serde(skip)]
    pub verbatim_rows: Vec<usize>,
}

/// Needs themes of the feedback verbatims up to the end of the as-of day.
pub async fn themes(
    project: &Project,
    options: &RunOptions,
    k: Option<usize>,
    observer: &dyn Observer,
) -> Result<ThemesReport> {
    let (_, prepared) = prepare(project, options, observer).await?;
    observer.phase_finished(Phase::Segments);
    observer.phase_started(Phase::Measures);
    if prepared.sources.feedback.is_none() {
        return Err(Error::invalid(
            Problem::new(
                "themes",
                "the project has no feedback table, so there are no verbatims",
            )
            .with_help("add `feedback = \"...\"` under [sources]"),
        ));
    }
    let (verbatim_rows, verbatims) = verbatims(&prepared.sources, prepared.as_of);
    let themes = crate::themes::find_themes(&verbatims, prepared.sources.accounts.ids.len(), k, 0);
    let names = themes.segment_names();
    let account_themes = themes
        .dominant
        .iter()
        .map(|theme| theme.and_then(|idx| names.get(idx).cloned()))
        .collect();
    observer.phase_finished(Phase::Measures);
    Ok(ThemesReport {
        as_of: prepared.as_of.to_string(),
        themes,
        account_themes,
        verbatim_rows,
    })
}

/// What `strata roadmap` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoadmapReport {
    /// The as-of date used, `YYYY-MM-DD`.
    pub as_of: String,
    /// How the needs were found.
    pub themes: String,
    /// The roadmap.
    #[serde(flatten)]
    pub roadmap: crate::roadmap::Roadmap,
}

/// The roadmap of segmentation `name`: core segment, features relied on and
/// unused (28-day per-event counts), unmet needs (feedback themes), priority.
pub async fn roadmap(
    project: &Project,
    options: &RunOptions,
    name: &str,
    observer: &dyn Observer,
) -> Result<RoadmapReport> {
    let (_, prepared, assignments) = prepare_and_assign(project, options, observer).await?;
    observer.phase_started(Phase::Measures);
    let report = roadmap_of(&prepared, &assignments, name)?;
    observer.phase_finished(Phase::Measures);
    Ok(report)
}

/// [`roadmap`] of a prepared and assigned run.
fn roadmap_of(
    prepared: &Prepared,
    assignments: &[Assignment],
    name: &str,
) -> Result<RoadmapReport> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Int64Type};
    let assignment = find_assignment(assignments, name)?;
    let revenue = account_revenue(&prepared.sources, prepared.as_of);
    let nps = nps_answers(&prepared.sources, prepared.as_of);
    let segments: Vec<String> = assignment.segments.iter().map(|s| s.name.clone()).collect();
    let economics =
        measures::segment_economics(&revenue, &nps, &assignment.membership, segments.len())?;
    let mut features = Vec::new();
    for def in &prepared.features.defs {
        let Some(event) = def
            .name
            .strip_prefix("event_")
            .and_then(|rest| rest.strip_suffix("_28d"))
        else {
            continue;
        };
        if let Some(column) = prepared.features.batch.column_by_name(&def.name)
            && let Ok(counts) = datafusion::arrow::compute::cast(column, &DataType::Int64)
        {
            let counts = counts.as_primitive::<Int64Type>();
            let used = (0..counts.len())
                .map(|row| counts.is_valid(row) && counts.value(row) > 0)
                .collect();
            features.push((event.to_string(), used));
        }
    }
    let (_, verbatims) = verbatims(&prepared.sources, prepared.as_of);
    let themes = prepared.auto_themes();
    let labelled: Vec<(usize, usize, bool)> = verbatims
        .iter()
        .zip(&themes.labels)
        .filter_map(|(verbatim, label)| {
            label.map(|theme| {
                (
                    verbatim.account_idx,
                    theme,
                    verbatim.score.is_some_and(|score| score <= 6),
                )
            })
        })
        .collect();
    let theme_names: Vec<String> = themes.themes.iter().map(|t| t.name.clone()).collect();
    let roadmap = crate::roadmap::roadmap(&crate::roadmap::RoadmapInputs {
        segmentation: name,
        segments: &segments,
        economics: &economics.segments,
        membership: &assignment.membership,
        features: &features,
        themes: &theme_names,
        verbatims: &labelled,
    });
    Ok(RoadmapReport {
        as_of: prepared.as_of.to_string(),
        themes: themes.explanation.clone(),
        roadmap,
    })
}
