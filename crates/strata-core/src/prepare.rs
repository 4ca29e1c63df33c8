//! A prepared run: the sources loaded, the features computed and every
//! segmentation checked, whatever engine computed them, and the progress
//! interface every phase reports through. The pipeline and each engine
//! (embedded, Ballista, PostgreSQL) meet here: an engine produces the
//! features, [`finish_prepare`] adds the warnings and the checks.
use chrono::NaiveDate;

use crate::dates::{date_of_day, day_number};
use crate::error::{Error, Problem, Result};
use crate::features::FeatureTable;
use crate::project::{AsOf, Project, TableKind};
use crate::segment::{self, CheckedSegmentation, Method};
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
    /// The report's analyses: the ideal customer profile, cohort retention
    /// and segments to roadmap.
    Analyses,
    /// Recomputing the claiming segmentations at past dates.
    Backtest,
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
            Phase::Analyses => "finding the ICP, cohorts and roadmap",
            Phase::Backtest => "backtesting segmentations",
            Phase::Outputs => "writing outputs",
        }
    }

    /// A one-word name for tables (`strata run --profile`, `strata bench`).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Sources => "sources",
            Phase::Features => "features",
            Phase::Segments => "segments",
            Phase::Measures => "measures",
            Phase::Analyses => "analyses",
            Phase::Backtest => "backtest",
            Phase::Outputs => "outputs",
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
    /// Also count the early adoption the ICP reads, within this many days
    /// of signup, in the run's events scan ([`FeatureTable::early`]).
    pub early_days: Option<u32>,
    /// Keep the features scan between runs, and start from the kept one
    /// where the events only gained files (the embedded engine).
    pub cache: Option<crate::features::ScanCache>,
    /// Work the run's events scan takes on beside its features, where that
    /// scan reads every event (the embedded engine without a kept scan):
    /// the run's backtest (the backtest module's `InScan`).
    pub beside: Option<Beside>,
}

/// Work a run's events scan can take on beside the run's own features (the
/// run's backtest, whose past dates the same pass computes); it keeps its
/// own results for the caller that gave it.
#[async_trait::async_trait]
pub trait BesideScan: Send + Sync {
    /// The run's feature table at `as_of` (its early adoption within
    /// `early_days` of signup counted), computed by the pass that also does
    /// this work; `None` where the work cannot share the run's scan (the
    /// engine then computes the features alone).
    async fn features(
        &self,
        ctx: &datafusion::prelude::SessionContext,
        project: &Project,
        sources: &Sources,
        as_of: NaiveDate,
        early_days: Option<u32>,
        observer: &dyn Observer,
    ) -> Result<Option<FeatureTable>>;
}

/// [`RunOptions::beside`]: a [`BesideScan`] shared with the caller.
#[derive(Clone)]
pub struct Beside(pub std::sync::Arc<dyn BesideScan>);

impl std::fmt::Debug for Beside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Beside(..)")
    }
}

impl RunOptions {
    /// Options of a run at `as_of` (`None`: the project's).
    pub fn at(as_of: Option<NaiveDate>) -> Self {
        RunOptions {
            as_of,
            early_days: None,
            cache: None,
            beside: None,
        }
    }
}

/// The as-of date: the option, else the project's, else the last day with events.
pub(crate) fn resolve_as_of(
    project: &Project,
    options: &RunOptions,
    sources: &Sources,
) -> Result<NaiveDate> {
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
    /// The learned risks (their columns are in `features`).
    pub risk: Option<crate::risk::RiskModels>,
    /// How the features scan read the events, when it was kept between runs.
    pub scan: Option<crate::features::ScanMode>,
    /// Whether `sources` still holds every account loaded (none signed up
    /// after `as_of`), so that another date can start from them.
    pub every_account: bool,
    /// The needs themes with k chosen, found once per run (a `needs`
    /// segmentation and the roadmap share them).
    themes: std::sync::OnceLock<crate::themes::Themes>,
}

impl Prepared {
    /// The needs themes of the verbatims up to the as-of day, `k` chosen.
    pub fn auto_themes(&self) -> &crate::themes::Themes {
        self.themes.get_or_init(|| self.find_themes(None))
    }

    /// The needs themes with `k` themes, or with k chosen (found once) when
    /// `None`.
    pub(crate) fn themes_with(
        &self,
        k: Option<usize>,
    ) -> std::borrow::Cow<'_, crate::themes::Themes> {
        match k {
            None => std::borrow::Cow::Borrowed(self.auto_themes()),
            Some(_) => std::borrow::Cow::Owned(self.find_themes(k)),
        }
    }

    fn find_themes(&self, k: Option<usize>) -> crate::themes::Themes {
        let (_, verbatims) = verbatims(&self.sources, self.as_of);
        crate::themes::find_themes(&verbatims, self.sources.accounts.ids.len(), k, 0)
    }
}

/// The end of the features phase (its warnings) and the rule checks, for
/// features computed by any engine.
pub(crate) fn finish_prepare(
    project: &Project,
    as_of: NaiveDate,
    mut sources: std::borrow::Cow<'_, Sources>,
    mut features: FeatureTable,
    mut risk: Option<crate::risk::RiskModels>,
    observer: &dyn Observer,
) -> Result<Prepared> {
    let mut warnings = feature_warnings(project, &sources, &features, as_of)?;
    warnings.extend(revenue_month_problem(project, &sources, as_of)?);
    warnings.extend(risk.iter().flat_map(crate::risk::RiskModels::warnings));
    let later = keep_signed_up(&mut sources, &mut features, risk.as_mut(), as_of)?;
    let every_account = later.is_none();
    warnings.extend(later);
    observer.phase_finished(Phase::Features);

    observer.phase_started(Phase::Segments);
    let segmentations = segment::check_segmentations(project, &features.rule_schema())?;
    for segmentation in &segmentations {
        if let Method::Clusters(def) = &segmentation.method {
            warnings.extend(crate::discover::all_null_features_problem(
                &features,
                &segmentation.name,
                def,
            ));
        }
    }
    Ok(Prepared {
        as_of,
        sources: sources.into_owned(),
        features,
        segmentations,
        warnings,
        risk,
        scan: None,
        every_account,
        themes: std::sync::OnceLock::new(),
    })
}

/// Drops the accounts that had not signed up by `as_of` from the base (the
/// sources and the feature table): they are not customers yet, and enter
/// the segmentations at the first run after their signup. Says how many.
fn keep_signed_up(
    sources: &mut std::borrow::Cow<'_, Sources>,
    features: &mut FeatureTable,
    risk: Option<&mut crate::risk::RiskModels>,
    as_of: NaiveDate,
) -> Result<Option<Problem>> {
    let as_of_day = day_number(as_of);
    let keep: Vec<bool> = sources
        .accounts
        .created_day
        .iter()
        .map(|&created| created <= as_of_day)
        .collect();
    let n_later = keep.iter().filter(|kept| !**kept).count();
    if n_later == 0 {
        return Ok(None);
    }
    if n_later == keep.len() {
        let first = sources
            .accounts
            .created_day
            .iter()
            .min()
            .copied()
            .unwrap_or(as_of_day);
        return Err(Error::invalid(
            Problem::new(
                "as_of",
                format!(
                    "no account had signed up by as_of {as_of} (the first signup is on {})",
                    date_of_day(first)
                ),
            )
            .with_help("pick a later as_of, or \"latest\""),
        ));
    }
    // Borrowed sources are copied only in part: the kept accounts.
    *sources = std::borrow::Cow::Owned(sources.retained(&keep)?);
    if let Some(risk) = risk {
        risk.retain(&keep);
    }
    let mask = datafusion::arrow::array::BooleanArray::from(keep);
    features.batch = datafusion::arrow::compute::filter_record_batch(&features.batch, &mask)?;
    if let Some(early) = features.early.as_mut() {
        early.batch = datafusion::arrow::compute::filter_record_batch(&early.batch, &mask)?;
    }
    Ok(Some(Problem::new(
        "accounts",
        format!(
            "{n_later} accounts signed up after as_of {as_of} and are not in the base; each enters at the first run after its signup"
        ),
    )))
}

/// The warning (or, with `missing_revenue_month = "error"`, the error) of a
/// run whose as-of month has no revenue rows: which month is measured instead.
fn revenue_month_problem(
    project: &Project,
    sources: &Sources,
    as_of: NaiveDate,
) -> Result<Option<Problem>> {
    let Some(revenue) = &sources.revenue else {
        return Ok(None);
    };
    let as_of_month = sources::month_of_day(day_number(as_of));
    let measured = revenue.measured_month(as_of_month);
    let month_text = |month: i32| sources::month_start(month).format("%Y-%m").to_string();
    let problem = if measured != as_of_month {
        Problem::new(
            "revenue",
            format!(
                "no revenue rows for the as-of month {}; ARR, NRR, GRR and churn are measured at {}, the last month with revenue",
                month_text(as_of_month),
                month_text(measured)
            ),
        )
        .with_help("load the as-of month's revenue, pick an as_of in a closed month, or set options.missing_revenue_month = \"error\" to fail instead")
    } else if revenue.month.iter().all(|&month| month > as_of_month) {
        Problem::new(
            "revenue",
            format!(
                "revenue starts after the as-of month {}, so every account's MRR is 0 there",
                month_text(as_of_month)
            ),
        )
        .with_help("pick a later as_of")
    } else {
        return Ok(None);
    };
    match project.missing_revenue_month {
        crate::project::MissingRevenueMonth::Previous => Ok(Some(problem)),
        crate::project::MissingRevenueMonth::Error => Err(Error::invalid(problem)),
    }
}

/// The sources' warnings, plus those about the features: events of unknown
/// accounts (an error when the project says so), events all after as_of.
fn feature_warnings(
    project: &Project,
    sources: &Sources,
    features: &FeatureTable,
    as_of: NaiveDate,
) -> Result<Vec<Problem>> {
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
    Ok(warnings)
}

/// The feedback verbatims before the end of the as-of day, with their rows.
pub fn verbatims(
    sources: &Sources,
    as_of: NaiveDate,
) -> (Vec<usize>, Vec<crate::themes::Verbatim>) {
    let Some(feedback) = &sources.feedback else {
        return (Vec::new(), Vec::new());
    };
    let t_end = i64::from(day_number(as_of) + 1) * 86_400_000_000;
    (0..feedback.account_idx.len())
        .filter(|&row| feedback.ts_micros[row] < t_end)
        .filter_map(|row| {
            let text = feedback.text[row].as_deref()?.trim();
            (!text.is_empty()).then(|| {
                (
                    row,
                    crate::themes::Verbatim {
                        account_idx: feedback.account_idx[row],
                        text: text.to_string(),
                        score: (feedback.channel[row] == "nps")
                            .then_some(feedback.score[row])
                            .flatten(),
                    },
                )
            })
        })
        .unzip()
}
