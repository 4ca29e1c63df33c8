//! `strata backtest`: does a segmentation predict what happened next?
//!
//! The segmentation is recomputed, under today's definitions, at past as-of
//! dates (every month from `from` by default), and each account paying at
//! such a date is followed to the month `horizon` days later: it churned
//! (pays nothing then), contracted (pays less), expanded (pays more) or held.
//! Per segment, pooled over the dates: the counts and shares with Wilson 95%
//! intervals, and, taking the segment as a churn alarm, its precision (its
//! churn rate) and recall (its share of all churners). A segment whose name
//! claims risk (`at-risk`, `churn`, `dormant`, `declining`) that churns no
//! more than one whose name claims health (`healthy`, `power`, `core`,
//! `champion`) is a warning: the definition no longer predicts what its
//! names say.
//!
//! **Invariants**: no outcome is read past the current as-of date: a past
//! date is tested only when the month `horizon` days after it is no later
//! than the revenue month that stands for "now"; each past run reads only
//! events and revenue up to its own date (the pipeline's point-in-time
//! features), and the outcomes come from the revenue table alone.

use chrono::{Months, NaiveDate};
use serde::Serialize;

use crate::dates::{Every, backfill_dates};
use crate::error::{Error, Problem, Result};
use crate::pipeline::{self, Observer, RunOptions};
use crate::project::{Project, SegmentationKind};

/// What to backtest.
#[derive(Debug, Clone)]
pub struct BacktestParams {
    /// The segmentation.
    pub segmentation: String,
    /// Days after each past date at which the outcome is read.
    pub horizon_days: u32,
    /// The first past date [default: `months - 1` months before the last
    /// testable one].
    pub from: Option<NaiveDate>,
    /// Without `from`: how many months back from the last testable date.
    pub months: u32,
    /// Spacing of the past dates.
    pub every: Every,
    /// The current as-of date [default: the project's].
    pub as_of: Option<NaiveDate>,
    /// Where the past dates' scans are kept between runs (a run's own
    /// backtest); `None`: every date reads every event.
    pub cache: Option<crate::features::ScanCache>,
}

/// An observed share with its Wilson 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Share {
    /// Accounts with the outcome.
    pub count: usize,
    /// `count / observed`; 0 without observations.
    pub share: f64,
    /// Lower end of the 95% interval.
    pub low: f64,
    /// Upper end of the 95% interval.
    pub high: f64,
}

impl Share {
    /// `count` of `total`, with the Wilson score interval (z = 1.96), which
    /// stays inside [0, 1] and is honest for small counts.
    pub fn of(count: usize, total: usize) -> Share {
        if total == 0 {
            return Share {
                count,
                share: 0.0,
                low: 0.0,
                high: 0.0,
            };
        }
        let n = total as f64;
        let p = count as f64 / n;
        let z = 1.96_f64;
        let denominator = 1.0 + z * z / n;
        let centre = (p + z * z / (2.0 * n)) / denominator;
        let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denominator;
        Share {
            count,
            share: p,
            low: (centre - half).max(0.0),
            high: (centre + half).min(1.0),
        }
    }
}

/// What became of one segment's paying accounts, pooled over the dates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentOutcome {
    /// Segment name; `(unassigned)` for accounts no rule matched.
    pub segment: String,
    /// Account-dates observed: paying at a past date, in this segment.
    pub observed: usize,
    /// Paying nothing `horizon` days later.
    pub churned: Share,
    /// Paying less, but something.
    pub contracted: Share,
    /// Paying more.
    pub expanded: Share,
    /// Of all churners, the share that were in this segment (the segment as
    /// a churn alarm; its precision is `churned.share`).
    pub churn_recall: f64,
    /// `churned.share` over the base's churn rate.
    pub churn_lift: f64,
}

/// One past date's churn rate per segment, for the chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatePoint {
    /// The past as-of date, `YYYY-MM-DD`.
    pub as_of: String,
    /// Paying accounts observed at that date.
    pub observed: usize,
    /// Per segment (report order): `(segment, observed, churned)`.
    pub segments: Vec<(String, usize, usize)>,
}

/// The backtest of one segmentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    /// The segmentation.
    pub segmentation: String,
    /// The current as-of date, `YYYY-MM-DD`.
    pub as_of: String,
    /// Days from each past date to its outcome.
    pub horizon_days: u32,
    /// The past dates tested, `YYYY-MM-DD`.
    pub dates: Vec<String>,
    /// The whole base, pooled over the dates.
    pub overall: SegmentOutcome,
    /// Per segment, in definition order, then the unassigned accounts.
    pub segments: Vec<SegmentOutcome>,
    /// Per date.
    pub per_date: Vec<DatePoint>,
    /// For a score segmentation: how well the score itself ranks churn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<ScoreBacktest>,
    /// Where the outcomes contradict the segments' names.
    pub warnings: Vec<String>,
}

/// How a score ranked the accounts that churned, pooled over the dates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreBacktest {
    /// Scored account-dates.
    pub observed: usize,
    /// Of them, churned.
    pub churned: usize,
    /// The probability that a churner scored lower than an account that
    /// stayed (ties count half): 0.5 is no better than chance, 1 perfect.
    pub auc: f64,
    /// Observed churn by score decile, lowest scores first.
    pub deciles: Vec<Decile>,
}

/// One score decile of a [`ScoreBacktest`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decile {
    /// Lowest score in it.
    pub low: f64,
    /// Highest score in it.
    pub high: f64,
    /// Account-dates in it.
    pub observed: usize,
    /// Churned, with the share and its 95% interval.
    pub churned: Share,
}

/// AUC of `score` as a predictor of *not* churning: the share of
/// (churner, stayer) pairs where the churner scored lower (ties half).
pub fn churn_auc(pairs: &[(f64, bool)]) -> Option<f64> {
    let negated: Vec<(f64, bool)> = pairs
        .iter()
        .map(|&(score, churned)| (-score, churned))
        .collect();
    crate::ml::metrics::roc_auc(&negated)
}

/// Observed churn per score decile (by rank, lowest first).
pub fn deciles(pairs: &[(f64, bool)]) -> Vec<Decile> {
    let mut sorted: Vec<(f64, bool)> = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = sorted.len();
    (0..10)
        .filter_map(|d| {
            let slice = &sorted[d * n / 10..(d + 1) * n / 10];
            let (first, last) = (slice.first()?, slice.last()?);
            let churned = slice.iter().filter(|(_, c)| *c).count();
            Some(Decile {
                low: first.0,
                high: last.0,
                observed: slice.len(),
                churned: Share::of(churned, slice.len()),
            })
        })
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Counts {
    observed: usize,
    churned: usize,
    contracted: usize,
    expanded: usize,
}

impl Counts {
    fn add(&mut self, start: f64, end: f64) {
        self.observed += 1;
        if end <= 0.0 {
            self.churned += 1;
        } else if end < start {
            self.contracted += 1;
        } else if end > start {
            self.expanded += 1;
        }
    }
}

const UNASSIGNED: &str = "(unassigned)";

/// Names that claim a segment churns more, or less, than the rest.
fn claims(segment: &str) -> Option<bool> {
    let name = segment.to_lowercase();
    let risky = ["risk", "churn", "dormant", "declin"];
    let healthy = ["health", "power", "core", "champion"];
    if risky.iter().any(|word| name.contains(word)) {
        Some(true)
    } else if healthy.iter().any(|word| name.contains(word)) {
        Some(false)
    } else {
        None
    }
}

/// Backtests `params.segmentation`; `progress(done, total)` hears each date.
///
/// # Errors
///
/// An unknown segmentation, a project without revenue, no past date whose
/// outcome is observable yet, or a run that fails at a past date.
pub async fn backtest(
    project: &Project,
    params: &BacktestParams,
    observer: &dyn Observer,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<Backtest> {
    let mut all = backtest_all(
        project,
        std::slice::from_ref(&params.segmentation),
        params,
        None,
        observer,
        progress,
    )
    .await?;
    all.pop()
        .ok_or_else(|| Error::Internal("the backtest tested nothing".into()))
}

/// What one segmentation's backtest counts, date after date.
struct Tally {
    name: String,
    /// Per segment name (definition order, then any other name met).
    totals: Vec<(String, Counts)>,
    overall: Counts,
    per_date: Vec<DatePoint>,
    score_pairs: Vec<(f64, bool)>,
}

/// Backtests several segmentations over the same past dates, each date
/// computed once for all of them (`params.segmentation` is ignored).
/// `loaded`: the sources as a run at `params.as_of` loaded them, when it
/// has them (they are not loaded again).
///
/// # Errors
///
/// As [`backtest`].
pub async fn backtest_all(
    project: &Project,
    names: &[String],
    params: &BacktestParams,
    loaded: Option<pipeline::Loaded>,
    observer: &dyn Observer,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<Vec<Backtest>> {
    // Only these segmentations are computed at each past date.
    let alone = Testing::project_for(project, names)?;
    // The revenue as of now: where the outcomes come from.
    observer.phase_started(crate::pipeline::Phase::Sources);
    let loaded = match loaded {
        Some(loaded) => loaded,
        None => {
            let options = RunOptions {
                cache: params.cache.clone(),
                ..RunOptions::at(params.as_of)
            };
            pipeline::sources_at(&alone, &options).await?
        }
    };
    observer.phase_finished(crate::pipeline::Phase::Sources);
    let mut testing = Testing::new(&alone, names, params, &loaded.sources, loaded.as_of)?;
    let dates = testing.dates.clone();
    pipeline::memberships_each(
        &alone,
        &dates,
        Some(&loaded),
        progress,
        &mut |at, past, assignments| testing.tally_and_free(at, past, assignments),
    )
    .await?;
    Ok(testing.finish())
}

/// A backtest under way: the past dates, what each segmentation counted at
/// the dates tallied so far, and what the outcomes are read from (the
/// sources as of now).
pub(crate) struct Testing<'a> {
    /// The past dates, in day order.
    pub(crate) dates: Vec<NaiveDate>,
    tallies: Vec<Tally>,
    now_sources: &'a crate::sources::Sources,
    now_as_of: NaiveDate,
    /// MRR by (account in `now_sources`, month).
    mrr: crate::measures::cohorts::MonthlyMrr,
    horizon_days: u32,
}

impl<'a> Testing<'a> {
    /// `project` with only the segmentations `names` (those computed at each
    /// past date); an unknown name or a themes segmentation is an error.
    pub(crate) fn project_for(project: &Project, names: &[String]) -> Result<Project> {
        for name in names {
            let Some(segmentation) = project.segmentations.iter().find(|s| &s.name == name) else {
                return Err(project.unknown_segmentation(name));
            };
            if matches!(segmentation.kind, SegmentationKind::Themes { .. }) {
                return Err(Error::invalid(
                    Problem::new(
                        "--segmentation",
                        format!("`{}` is a themes segmentation: feedback themes are found anew at every date, so there is no fixed definition to test", segmentation.name),
                    )
                    .with_help("backtest a rules segmentation, or freeze a clustering first (`strata discover --freeze`)"),
                ));
            }
        }
        let mut alone = project.clone();
        alone.segmentations.retain(|s| names.contains(&s.name));
        Ok(alone)
    }

    /// The backtest of the segmentations `names` of `project` (as
    /// [`Testing::project_for`] keeps them), its outcomes read from
    /// `now_sources` at `now_as_of`, before any date is tallied.
    pub(crate) fn new(
        project: &Project,
        names: &[String],
        params: &BacktestParams,
        now_sources: &'a crate::sources::Sources,
        now_as_of: NaiveDate,
    ) -> Result<Testing<'a>> {
        let mut tallies = Vec::new();
        for name in names {
            let Some(segmentation) = project.segmentations.iter().find(|s| &s.name == name) else {
                return Err(project.unknown_segmentation(name));
            };
            let segment_names: Vec<String> = match &segmentation.kind {
                SegmentationKind::Rules { segments, .. } => {
                    segments.iter().map(|s| s.name.clone()).collect()
                }
                SegmentationKind::Score(def) => def.grades.iter().map(|g| g.name.clone()).collect(),
                _ => Vec::new(),
            };
            tallies.push(Tally {
                name: name.clone(),
                totals: segment_names
                    .into_iter()
                    .map(|name| (name, Counts::default()))
                    .collect(),
                overall: Counts::default(),
                per_date: Vec::new(),
                score_pairs: Vec::new(),
            });
        }
        if now_sources.revenue.is_none() {
            return Err(Error::invalid(
                Problem::new(
                    "backtest",
                    "the project has no revenue table, so nothing tells what happened next",
                )
                .with_help("add `revenue = \"...\"` under [sources]"),
            ));
        }
        let current_month =
            crate::sources::revenue_month(now_sources, pipeline::day_number(now_as_of));
        let month_of = crate::dates::month_number;
        let outcome_date = |date: NaiveDate| crate::dates::days_after(date, params.horizon_days);
        // The last testable date: its outcome month is closed now.
        let last = if month_of(outcome_date(now_as_of)) <= current_month {
            now_as_of
        } else {
            crate::risk::past_dates(now_as_of, current_month, i32::MIN, params.horizon_days, 1)
                .first()
                .copied()
                .unwrap_or(now_as_of)
        };
        let from = params.from.unwrap_or_else(|| {
            last.checked_sub_months(Months::new(params.months.max(1) - 1))
                .unwrap_or(last)
        });
        let mut dates = backfill_dates(from, now_as_of, params.every);
        dates.retain(|date| month_of(outcome_date(*date)) <= current_month);
        if dates.is_empty() {
            return Err(Error::invalid(
                Problem::new(
                    "--from",
                    format!(
                        "no past date from {from} has its outcome {} days later observed by {} (revenue through {})",
                        params.horizon_days,
                        now_as_of,
                        crate::sources::month_start(current_month).format("%Y-%m")
                    ),
                )
                .with_help("pass an earlier --from or a shorter --horizon"),
            ));
        }
        Ok(Testing {
            dates,
            tallies,
            now_sources,
            now_as_of,
            mrr: crate::risk::mrr_by_month(now_sources),
            horizon_days: params.horizon_days,
        })
    }

    /// [`Testing::tally`], then frees the date's sources, features and
    /// memberships on a thread of their own, beside the next date's work (at
    /// a million accounts that takes seconds).
    pub(crate) fn tally_and_free(
        &mut self,
        at: usize,
        past: pipeline::Prepared,
        assignments: Vec<crate::segment::Assignment>,
    ) -> Result<()> {
        let tallied = self.tally(at, &past, &assignments);
        let freed = (past, assignments);
        // Where no thread can be started, the closure and what it holds are
        // dropped here instead.
        let _ = std::thread::Builder::new()
            .name("strata-free".into())
            .spawn(move || drop(freed));
        tallied
    }

    /// Counts the memberships of date `at` (of [`Testing::dates`]) against
    /// what happened next. Memberships only: a past date needs no measures.
    pub(crate) fn tally(
        &mut self,
        at: usize,
        past: &pipeline::Prepared,
        assignments: &[crate::segment::Assignment],
    ) -> Result<()> {
        let date = &self.dates[at];
        let revenue = pipeline::account_revenue(&past.sources, past.as_of);
        let end_month =
            crate::dates::month_number(crate::dates::days_after(*date, self.horizon_days));
        // Each account's start and end MRR, `None` when not paying then.
        let paying: Vec<Option<(f64, f64)>> = past
            .sources
            .accounts
            .ids
            .iter()
            .enumerate()
            .map(|(idx, id)| {
                let start = revenue.get(idx).map_or(0.0, |r| r.mrr_now);
                let account = self.now_sources.accounts.index.get(id)?;
                (start > 0.0).then(|| (start, self.mrr.at(*account, end_month)))
            })
            .collect();
        for tally in &mut self.tallies {
            let Some(seg) = assignments.iter().find(|s| s.segmentation == tally.name) else {
                return Err(Error::Internal(format!(
                    "the run at {date} has no segmentation `{}`",
                    tally.name
                )));
            };
            // This date's counts, by the same slot as `totals`.
            let mut counts: Vec<Counts> = vec![Counts::default(); tally.totals.len()];
            for (idx, outcome) in paying.iter().enumerate() {
                let Some((start, end)) = *outcome else {
                    continue;
                };
                if let Some(score) = seg
                    .scores
                    .as_ref()
                    .and_then(|scores| scores.get(idx))
                    .and_then(|s| s.score)
                {
                    tally.score_pairs.push((score, end <= 0.0));
                }
                let name =
                    seg.membership[idx].map_or(UNASSIGNED, |s| seg.segments[s].name.as_str());
                tally.overall.add(start, end);
                let slot = match tally.totals.iter().position(|(n, _)| n == name) {
                    Some(slot) => slot,
                    None => {
                        tally.totals.push((name.to_string(), Counts::default()));
                        counts.push(Counts::default());
                        tally.totals.len() - 1
                    }
                };
                tally.totals[slot].1.add(start, end);
                counts[slot].add(start, end);
            }
            tally.per_date.push(DatePoint {
                as_of: date.to_string(),
                observed: counts.iter().map(|c| c.observed).sum(),
                segments: tally
                    .totals
                    .iter()
                    .zip(&counts)
                    .map(|((name, _), c)| (name.clone(), c.observed, c.churned))
                    .collect(),
            });
        }
        Ok(())
    }

    /// Each segmentation's backtest over the dates tallied.
    pub(crate) fn finish(self) -> Vec<Backtest> {
        let date_texts: Vec<String> = self.dates.iter().map(ToString::to_string).collect();
        let (now_as_of, horizon_days) = (self.now_as_of, self.horizon_days);
        self.tallies
            .into_iter()
            .map(|tally| summarize(tally, &date_texts, now_as_of, horizon_days))
            .collect()
    }
}

/// A run's warnings from its backtests.
pub fn run_warnings(backtests: &[Backtest]) -> Vec<Problem> {
    backtests
        .iter()
        .flat_map(|backtest| {
            backtest.warnings.iter().map(|warning| {
                Problem::new(
                    format!("backtest of `{}`", backtest.segmentation),
                    format!(
                        "{warning} (the last {} months whose outcomes are known)",
                        backtest.dates.len()
                    ),
                )
                .with_help(format!(
                    "see `strata backtest --segmentation {}` for the last year",
                    backtest.segmentation
                ))
            })
        })
        .collect()
}

/// `backtest.json`: the backtests of one run (or one `strata backtest`).
pub fn backtests_json(backtests: &[Backtest]) -> serde_json::Value {
    serde_json::json!({ "backtests": backtests })
}

/// One segmentation's counts as its [`Backtest`].
fn summarize(tally: Tally, dates: &[String], as_of: NaiveDate, horizon_days: u32) -> Backtest {
    let overall = tally.overall;
    let base_churn = Share::of(overall.churned, overall.observed).share;
    let outcome = |name: &str, c: Counts| SegmentOutcome {
        segment: name.to_string(),
        observed: c.observed,
        churned: Share::of(c.churned, c.observed),
        contracted: Share::of(c.contracted, c.observed),
        expanded: Share::of(c.expanded, c.observed),
        churn_recall: if overall.churned == 0 {
            0.0
        } else {
            c.churned as f64 / overall.churned as f64
        },
        churn_lift: if base_churn > 0.0 && c.observed > 0 {
            (c.churned as f64 / c.observed as f64) / base_churn
        } else {
            0.0
        },
    };
    let segments: Vec<SegmentOutcome> = tally
        .totals
        .iter()
        .filter(|(name, c)| c.observed > 0 || name != UNASSIGNED)
        .map(|(name, c)| outcome(name, *c))
        .collect();
    let mut warnings = contradictions(&segments, horizon_days);
    let pairs = &tally.score_pairs;
    let score = churn_auc(pairs).map(|auc| ScoreBacktest {
        observed: pairs.len(),
        churned: pairs.iter().filter(|(_, c)| *c).count(),
        auc,
        deciles: deciles(pairs),
    });
    if let Some(score) = score
        .as_ref()
        .filter(|s| s.auc <= 0.5 && s.churned >= MIN_OBSERVED)
    {
        warnings.push(format!(
            "the score ranks churners no better than chance within {horizon_days} days (AUC {:.2}): lower scores should mean more churn; revisit its measures",
            score.auc
        ));
    }
    Backtest {
        segmentation: tally.name,
        as_of: as_of.to_string(),
        horizon_days,
        dates: dates.to_vec(),
        overall: outcome("(all)", overall),
        segments,
        per_date: tally.per_date,
        score,
        warnings,
    }
}

/// The segmentations a run backtests: those whose segment names claim
/// risk and health (`at-risk` against `healthy`), and scores.
pub fn claiming(project: &Project) -> Vec<String> {
    project
        .segmentations
        .iter()
        .filter(|s| match &s.kind {
            SegmentationKind::Score(_) => true,
            SegmentationKind::Rules { segments, .. } => {
                let claims: Vec<Option<bool>> = segments.iter().map(|s| claims(&s.name)).collect();
                claims.contains(&Some(true)) && claims.contains(&Some(false))
            }
            _ => false,
        })
        .map(|s| s.name.clone())
        .collect()
}

/// Past dates a run's own backtest looks at: the last six months whose
/// outcomes are known.
pub const RUN_DATES: u32 = 6;

/// The backtest inside a run: [`claiming`] segmentations over the last
/// [`RUN_DATES`] months whose 90-day outcomes are known. Empty when no
/// segmentation claims anything. `loaded`: the run's sources, when it
/// hands them over (see [`backtest_all`]).
///
/// # Errors
///
/// As [`backtest`]; the run reports it and goes on.
pub async fn in_run(
    project: &Project,
    as_of: NaiveDate,
    cache: Option<crate::features::ScanCache>,
    loaded: Option<pipeline::Loaded>,
) -> Result<Vec<Backtest>> {
    let names = claiming(project);
    if names.is_empty() {
        return Ok(Vec::new());
    }
    backtest_all(
        project,
        &names,
        &run_params(as_of, cache),
        loaded,
        &pipeline::Quiet,
        &mut |_, _| {},
    )
    .await
}

/// What [`in_run`] tests.
fn run_params(as_of: NaiveDate, cache: Option<crate::features::ScanCache>) -> BacktestParams {
    BacktestParams {
        segmentation: String::new(),
        horizon_days: 90,
        from: None,
        months: RUN_DATES,
        every: Every::Month,
        as_of: Some(as_of),
        cache,
    }
}

/// The run's own backtest ([`in_run`]'s) computed in the run's events scan
/// (its [`pipeline::BesideScan::features`]): given to the run as its [`RunOptions::beside`], it
/// keeps the result for [`InScan::found`].
#[derive(Default)]
pub struct InScan {
    found: std::sync::Mutex<Option<std::result::Result<Vec<Backtest>, String>>>,
}

impl InScan {
    /// The options `options` with this backtest beside the run's scan.
    pub fn beside(self: &std::sync::Arc<Self>, options: RunOptions) -> RunOptions {
        RunOptions {
            beside: Some(pipeline::Beside(self.clone())),
            ..options
        }
    }

    /// The backtests the run's scan computed (`Err`: why there are none);
    /// `None` where the run computed its features alone.
    pub fn found(&self) -> Option<std::result::Result<Vec<Backtest>, String>> {
        self.found.lock().ok().and_then(|mut found| found.take())
    }

    /// Keeps the run's backtests for [`InScan::found`].
    fn keep(&self, found: std::result::Result<Vec<Backtest>, String>) -> Result<()> {
        let mut slot = self
            .found
            .lock()
            .map_err(|_| Error::Internal("the run's backtest slot was poisoned".into()))?;
        *slot = Some(found);
        Ok(())
    }
}

#[async_trait::async_trait]
impl pipeline::BesideScan for InScan {
    /// The run's own feature table at `as_of` from the pass over the events
    /// that also computes its backtest's past dates ([`in_run`]'s): the past
    /// dates and `as_of` chained in one scan ([`crate::features::ManyDates`]),
    /// each past date's memberships tallied and dropped as it comes, the run's
    /// date last (its early adoption within `early_days` of signup counted as
    /// [`crate::features::compute_with`] counts it). With the backtest's result
    /// (`Err`: why the run has none). `None` where nothing is backtested, or
    /// where the run's date is itself a past date: the caller computes the
    /// features alone; so too where the dates take more than one pass over
    /// the events ([`crate::features::dates_per_pass`]: a base so large that
    /// the run's date would be a pass of its own). `sources`: every account
    /// loaded, as the run loaded them.
    ///
    /// # Errors
    ///
    /// What the scan or the run's own table meets; a past date's failure only
    /// ends the backtest.
    async fn features(
        &self,
        ctx: &datafusion::prelude::SessionContext,
        project: &Project,
        sources: &crate::sources::Sources,
        as_of: NaiveDate,
        early_days: Option<u32>,
        observer: &dyn Observer,
    ) -> Result<Option<crate::features::FeatureTable>> {
        let names = claiming(project);
        if names.is_empty() || project.risk.is_some() {
            return Ok(None);
        }
        let params = run_params(as_of, None);
        let as_of_day = pipeline::day_number(as_of);
        let testing = Testing::project_for(project, &names).and_then(|alone| {
            Ok((
                Testing::new(&alone, &names, &params, sources, as_of)?,
                alone,
            ))
        });
        let (mut testing, alone) = match testing {
            Ok(found) => found,
            Err(error) => {
                let table = crate::features::compute_with(
                    ctx, project, sources, as_of_day, None, early_days,
                )
                .await?;
                self.keep(Err(error.to_string()))?;
                return Ok(Some(table));
            }
        };
        let mut days: Vec<i32> = testing
            .dates
            .iter()
            .map(|d| pipeline::day_number(*d))
            .collect();
        // Where the dates take more than one pass, the run's own date would
        // cost a pass of its own anyway, and more than a plain scan.
        let passes = crate::features::dates_per_pass(sources.accounts.ids.len());
        if days.contains(&as_of_day) || days.len() + 1 > passes {
            return Ok(None);
        }
        days.push(as_of_day);
        let mut many =
            crate::features::ManyDates::new(ctx, project, sources, &days, None, None).await?;
        if let Some(early) = early_days {
            many = many.counting_early(early, as_of_day);
        }
        let engine = crate::engine::DataFusionEngine::embedded(ctx.clone());
        let (mut own, mut failed) = (None, None);
        while let Some((at, table)) = many.next_date().await? {
            let Some(&date) = testing.dates.get(at) else {
                own = Some(table);
                continue;
            };
            if failed.is_some() {
                continue;
            }
            observer.phase_finished(pipeline::Phase::Features);
            observer.phase_started(pipeline::Phase::Backtest);
            let tallied = match pipeline::assign_past(&alone, &engine, date, sources, table).await {
                Ok((past, assignments)) => testing.tally_and_free(at, past, assignments),
                Err(error) => Err(error),
            };
            failed = tallied.err().map(|error| error.to_string());
            observer.phase_finished(pipeline::Phase::Backtest);
            observer.phase_started(pipeline::Phase::Features);
        }
        let own =
            own.ok_or_else(|| Error::Internal("the run's own date was not scanned".into()))?;
        self.keep(failed.map_or_else(|| Ok(testing.finish()), Err))?;
        Ok(Some(own))
    }
}

/// A run's backtests: those its own scan computed (`found`,
/// [`InScan::found`]), else [`in_run`]'s; `Err`: why the run has no
/// backtest section.
///
/// # Errors
///
/// As [`in_run`], as text.
pub async fn of_run(
    project: &Project,
    as_of: NaiveDate,
    cache: Option<crate::features::ScanCache>,
    loaded: Option<pipeline::Loaded>,
    found: Option<std::result::Result<Vec<Backtest>, String>>,
) -> std::result::Result<Vec<Backtest>, String> {
    match found {
        Some(found) => found,
        None => in_run(project, as_of, cache, loaded)
            .await
            .map_err(|error| error.to_string()),
    }
}

/// Fewest observations a segment needs before its name is held against it.
const MIN_OBSERVED: usize = 20;

/// A risk-named segment that churned no more than a health-named one.
pub fn contradictions(segments: &[SegmentOutcome], horizon_days: u32) -> Vec<String> {
    let mut warnings = Vec::new();
    for risky in segments
        .iter()
        .filter(|s| claims(&s.segment) == Some(true) && s.observed >= MIN_OBSERVED)
    {
        for healthy in segments
            .iter()
            .filter(|s| claims(&s.segment) == Some(false) && s.observed >= MIN_OBSERVED)
        {
            if risky.churned.share <= healthy.churned.share {
                warnings.push(format!(
                    "`{}` churned no more than `{}` within {horizon_days} days ({:.1}% of {} vs {:.1}% of {}): the definition no longer predicts what its names claim; revisit its rules",
                    risky.segment,
                    healthy.segment,
                    100.0 * risky.churned.share,
                    risky.observed,
                    100.0 * healthy.churned.share,
                    healthy.observed,
                ));
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_intervals_match_hand_computed_values() {
        // 10 of 100: p = 0.1, Wilson 95% interval [0.0552, 0.1744].
        let share = Share::of(10, 100);
        assert!((share.share - 0.1).abs() < 1e-12);
        assert!((share.low - 0.05522).abs() < 1e-4, "{share:?}");
        assert!((share.high - 0.17437).abs() < 1e-4, "{share:?}");
        // 0 of 5 still has room above zero; 5 of 5 below one.
        assert!(Share::of(0, 5).low == 0.0 && Share::of(0, 5).high > 0.4);
        assert!(Share::of(5, 5).high == 1.0 && Share::of(5, 5).low < 0.6);
        assert_eq!(Share::of(0, 0).share, 0.0);
    }

    fn segment(name: &str, observed: usize, churned: usize) -> SegmentOutcome {
        SegmentOutcome {
            segment: name.into(),
            observed,
            churned: Share::of(churned, observed),
            contracted: Share::of(0, observed),
            expanded: Share::of(0, observed),
            churn_recall: 0.0,
            churn_lift: 0.0,
        }
    }

    #[test]
    fn auc_counts_pairs_by_hand() {
        // Churners score 10 and 40, stayers 20, 40 and 90: of the 6 pairs the
        // churner scored lower in (10,20) (10,40) (10,90) (40,90), tied in
        // (40,40): (4 + 0.5) / 6 = 0.75.
        let pairs = [
            (10.0, true),
            (40.0, true),
            (20.0, false),
            (40.0, false),
            (90.0, false),
        ];
        assert!((churn_auc(&pairs).unwrap_or_default() - 0.75).abs() < 1e-12);
        assert_eq!(churn_auc(&[(1.0, true)]), None);
        let deciles = deciles(&(0..100).map(|i| (f64::from(i), i < 10)).collect::<Vec<_>>());
        assert_eq!(deciles.len(), 10);
        assert_eq!(
            (deciles[0].low, deciles[0].high, deciles[0].churned.count),
            (0.0, 9.0, 10)
        );
        assert_eq!(deciles[9].churned.count, 0);
    }

    #[test]
    fn risk_named_segments_must_churn_more_than_healthy_ones() {
        let fine = [segment("at-risk", 50, 20), segment("healthy", 200, 10)];
        assert!(contradictions(&fine, 90).is_empty());
        let wrong = [segment("at-risk", 50, 2), segment("healthy", 200, 10)];
        let warnings = contradictions(&wrong, 90);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("`at-risk` churned no more than `healthy` within 90 days (4.0% of 50 vs 5.0% of 200)"), "{warnings:?}");
        // Too few observations say nothing.
        let small = [segment("at-risk", 5, 0), segment("healthy", 200, 10)];
        assert!(contradictions(&small, 90).is_empty());
        assert_eq!(claims("Dormant / declining"), Some(true));
        assert_eq!(claims("Power users"), Some(false));
        assert_eq!(claims("SMB"), None);
    }
}
