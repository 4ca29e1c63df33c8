//! The run service: one run as a transaction, for every front end (the CLI,
//! the server, and later a Python package).
//!
//! [`execute`] takes the store's run lock, runs the pipeline (with the
//! report's analyses unless asked for a quick report), records a failure
//! when the pipeline fails, keeps refitted clusters' identities, writes the
//! outputs, records the run, writes the report with the size history, and
//! delivers; [`backfill`] recomputes past as_of dates and records each as a
//! point. Neither prints: progress goes to the caller's [`Observer`], and
//! what happened comes back as data ([`Executed`], [`Backfilled`]).
//!
//! **Invariants**: the outputs are written before the run is recorded, and
//! the report after, so a report never shows a run the store does not have;
//! a failed pipeline leaves a `failed` run row and no outputs; the lock is
//! released before delivery, so a slow receiver never blocks the next run.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};

use crate::destinations::{self, DeliveryReport};
use crate::error::{Error, Result};
use crate::outputs::report::SizePoint;
use crate::pipeline::{self, Analyses, AnalysesPlan, RunResult};
use crate::prepare::{Observer, Phase, RunOptions};
use crate::project::{AsOf, Project};
use crate::state::{self, Location, RecordOptions, RecordOutcome, RunKind, Store};

/// How a run is recorded and delivered (the flags of `strata run`).
#[derive(Debug, Clone)]
pub struct RecordSettings {
    /// The state store: a SQLite file or a `postgres://` URL; `None` for the
    /// project's `store`, else `.strata/strata.db` in the project.
    pub store: Option<String>,
    /// Record nothing and deliver nothing.
    pub no_store: bool,
    /// Wait for another run that holds the store instead of failing.
    pub wait: bool,
    /// Deliver transitions caused by definition changes as if customers moved.
    pub deliver_redefinitions: bool,
    /// Queue deliveries in the outbox without sending them.
    pub no_deliver: bool,
    /// How long to keep retrying failed deliveries.
    pub deliver_wait: Duration,
    /// Leave the ICP, cohort retention and roadmap sections out of the report.
    pub quick_report: bool,
    /// Testing only: a pause inside the commit transaction.
    pub pause_before_commit: Option<Duration>,
    /// Read every event, not only the files added since the kept scan.
    pub full: bool,
}

impl Default for RecordSettings {
    fn default() -> Self {
        RecordSettings {
            store: None,
            no_store: false,
            wait: false,
            deliver_redefinitions: false,
            no_deliver: false,
            deliver_wait: Duration::from_secs(10),
            quick_report: false,
            pause_before_commit: None,
            full: false,
        }
    }
}

/// The report's analyses in every run: the ICP from what is known 60 days
/// after signup (as `strata icp`), cohorts and roadmap by their defaults.
pub const REPORT_PLAN: AnalysesPlan = AnalysesPlan {
    cohorts_by: None,
    roadmap_for: None,
    icp_days: Some(60),
};

/// What [`execute`] did: the run, its files, and what the store made of it.
pub struct Executed {
    /// The pipeline's result.
    pub result: RunResult,
    /// The report's analyses (none for a quick report).
    pub analyses: Analyses,
    /// The run's own backtest of the segmentations that claim risk and
    /// health (none for a quick report, or when none claims anything).
    pub backtests: Vec<crate::backtest::Backtest>,
    /// memberships.csv, features.parquet, segments.json.
    pub written: Vec<PathBuf>,
    /// report.html.
    pub report: PathBuf,
    /// The store (when recording) and what recording did.
    pub recorded: Option<(Store, RecordOutcome)>,
    /// Deliveries made after recording.
    pub delivery: Option<DeliveryReport>,
}

/// Opens the store of a project (creating and migrating it as needed);
/// `flag` overrides the project's `store`.
pub async fn open_store(project: &Project, flag: Option<&str>) -> Result<Store> {
    let location = Location::resolve(project, flag)?;
    Store::open(&location).await
}

/// Forwards phases to another observer and keeps each phase's wall time,
/// for the run row's timings.
struct Timed<'a> {
    inner: &'a dyn Observer,
    current: Mutex<Option<(Phase, Instant)>>,
    timings: Mutex<BTreeMap<String, f64>>,
}

impl<'a> Timed<'a> {
    fn new(inner: &'a dyn Observer) -> Self {
        Timed {
            inner,
            current: Mutex::new(None),
            timings: Mutex::new(BTreeMap::new()),
        }
    }

    fn close(&self) {
        if let Ok(mut current) = self.current.lock()
            && let Some((phase, at)) = current.take()
            && let Ok(mut timings) = self.timings.lock()
        {
            *timings.entry(phase.label().to_string()).or_default() += at.elapsed().as_secs_f64();
        }
    }

    fn timings(&self) -> BTreeMap<String, f64> {
        self.close();
        self.timings.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

impl Observer for Timed<'_> {
    fn phase_started(&self, phase: Phase) {
        self.close();
        if let Ok(mut current) = self.current.lock() {
            *current = Some((phase, Instant::now()));
        }
        self.inner.phase_started(phase);
    }

    fn phase_finished(&self, phase: Phase) {
        self.close();
        self.inner.phase_finished(phase);
    }
}

/// Runs the pipeline, writes the outputs, records the run and delivers:
/// the work of `strata run` and of every run inside `strata serve`.
pub async fn execute(
    project: &Project,
    out: &Path,
    as_of: Option<NaiveDate>,
    settings: &RecordSettings,
    observer: &dyn Observer,
) -> Result<Executed> {
    let mut store_and_lock = if settings.no_store {
        None
    } else {
        let store = open_store(project, settings.store.as_deref()).await?;
        let lock = store.lock(settings.wait).await?;
        Some((store, lock))
    };
    let timed = Timed::new(observer);
    let started_at = Utc::now();
    // A recorded run keeps its features scan beside the store, and starts
    // from the kept one when the events only gained files.
    let cache = match settings.no_store {
        true => None,
        false => Some(crate::features::ScanCache {
            dir: Location::resolve(project, settings.store.as_deref())?.scans_dir(&project.dir),
            full: settings.full,
        }),
    };
    // The run's backtest shares its events scan where that reads every event.
    let in_scan = std::sync::Arc::new(crate::backtest::InScan::default());
    let mut options = RunOptions {
        cache: cache.clone(),
        ..RunOptions::at(as_of)
    };
    if !settings.quick_report && project.backtest_on_run {
        options = in_scan.beside(options);
    }
    let outcome = if settings.quick_report {
        pipeline::run(project, &options, &timed)
            .await
            .map(|result| (result, Analyses::default(), None))
    } else {
        pipeline::run_with_analyses(project, &options, &REPORT_PLAN, &timed).await
    };
    let (mut result, mut analyses, loaded) = match outcome {
        Ok(done) => done,
        Err(error) => {
            if let Some((mut store, _lock)) = store_and_lock {
                record_failure(&mut store, project, as_of, started_at, &error).await;
            }
            return Err(error);
        }
    };
    // A refit keeps its clusters' (and themes') identities: each takes the
    // name of the previous run's cluster it matches, before anything is
    // written, so that a relabelling never reads as accounts moving.
    if let Some((store, _)) = store_and_lock.as_mut() {
        let renamed = state::track::keep_identities(store, &mut result).await?;
        if let Some(roadmap) = analyses.roadmap.as_mut() {
            state::track::rename_in_roadmap(&mut roadmap.roadmap, &renamed);
        }
    }
    // Do the segmentations that claim risk and health still predict it?
    let mut backtests = Vec::new();
    if !settings.quick_report && project.backtest_on_run {
        timed.phase_started(Phase::Backtest);
        let found = in_scan.found();
        match crate::backtest::of_run(project, result.as_of, cache, loaded, found).await {
            Ok(found) => {
                result
                    .warnings
                    .extend(crate::backtest::run_warnings(&found));
                backtests = found;
            }
            Err(error) => analyses
                .problems
                .push(format!("no backtest section: {error}")),
        }
        timed.phase_finished(Phase::Backtest);
    }
    timed.phase_started(Phase::Outputs);
    let mut written = crate::outputs::write_all(&result, out)?;
    if !backtests.is_empty() {
        written.push(crate::outputs::write_backtests(&backtests, out)?);
    }
    timed.phase_finished(Phase::Outputs);
    let timings = timed.timings();
    let mut extras = crate::outputs::report::Extras {
        icp: analyses.icp.as_ref(),
        cohorts: analyses.cohorts.as_ref(),
        roadmap: analyses.roadmap.as_ref(),
        backtests: &backtests,
        movement: None,
    };
    let Some((mut store, lock)) = store_and_lock else {
        let report = crate::outputs::write_report(&result, &[], extras, out)?;
        return Ok(Executed {
            result,
            analyses,
            backtests,
            written,
            report,
            recorded: None,
            delivery: None,
        });
    };
    let options = RecordOptions {
        kind: RunKind::Run,
        started_at,
        timings,
        deliver_redefinitions: settings.deliver_redefinitions,
        pause_before_commit: settings.pause_before_commit,
    };
    let outcome =
        state::record_run(&mut store, project, &state::Snapshot::of(&result), &options).await?;
    drop(lock);
    let history = history_points(&mut store).await?;
    let movement = match &outcome {
        RecordOutcome::Committed(summary) if !summary.baseline => {
            let (sizes, arr) = movement_inputs(&result);
            store
                .movement(&summary.run, &summary.transitions, &sizes, &arr)
                .await?
        }
        RecordOutcome::Committed(_) => None,
        RecordOutcome::Unchanged(_) => None,
    };
    extras.movement = movement.as_ref();
    let report = crate::outputs::write_report(&result, &history, extras, out)?;
    let delivery = if !settings.no_deliver && !project.destinations.is_empty() {
        Some(destinations::deliver(&mut store, &project.destinations, settings.deliver_wait).await?)
    } else {
        None
    };
    Ok(Executed {
        result,
        analyses,
        backtests,
        written,
        report,
        recorded: Some((store, outcome)),
        delivery,
    })
}

/// What moved in the recorded run `run_id` (whose result is `result`)
/// since the live run before it, for the dashboard.
///
/// # Errors
///
/// A store that cannot be read.
pub async fn movement_of(
    store: &mut Store,
    run_id: i64,
    result: &RunResult,
) -> Result<Option<state::flows::Movement>> {
    let Some(run) = store.run(run_id).await? else {
        return Ok(None);
    };
    let transitions = store.transitions_in(run_id).await?;
    let (sizes, arr) = movement_inputs(result);
    store.movement(&run, &transitions, &sizes, &arr).await
}

/// This run's segment sizes and each account's ARR, for the flows since
/// the previous run.
pub fn movement_inputs(
    result: &RunResult,
) -> (
    Vec<state::flows::SizeNow>,
    std::collections::HashMap<String, f64>,
) {
    let mut sizes = Vec::new();
    for segmentation in &result.segmentations {
        let unassigned = std::iter::once(("(unassigned)", &segmentation.unassigned));
        for (segment, economics) in segmentation
            .segments
            .iter()
            .map(|s| (s.name.as_str(), &s.economics))
            .chain(unassigned)
        {
            sizes.push(state::flows::SizeNow {
                segmentation: segmentation.name.clone(),
                segment: segment.to_string(),
                accounts: economics.accounts as i64,
                arr: economics.arr,
            });
        }
    }
    let arr = result
        .account_ids()
        .into_iter()
        .zip(&result.revenue)
        .map(|(id, revenue)| (id, revenue.mrr_now * 12.0))
        .collect();
    (sizes, arr)
}

/// Records a run whose pipeline failed, with its error; a store that
/// cannot take it only logs, as the run's own error is what matters.
async fn record_failure(
    store: &mut Store,
    project: &Project,
    as_of: Option<NaiveDate>,
    started_at: chrono::DateTime<Utc>,
    error: &Error,
) {
    let failed = state::RunRecord {
        id: 0,
        kind: RunKind::Run,
        as_of: as_of
            .or(match project.as_of {
                AsOf::Date(date) => Some(date),
                AsOf::Latest => None,
            })
            .unwrap_or_default(),
        started_at: state::timestamp(started_at),
        finished_at: state::now_text(),
        status: "failed".into(),
        versions: BTreeMap::new(),
        timings: BTreeMap::new(),
        accounts: 0,
        transitions: 0,
        redefinitions: 0,
        error: Some(error.to_string()),
    };
    if let Err(record_error) = store.record_failure(&failed).await {
        tracing::warn!(%record_error, "cannot record the failed run");
    }
}

/// Segment sizes of every recorded run and backfilled point, for the report.
pub async fn history_points(store: &mut Store) -> Result<Vec<SizePoint>> {
    Ok(store
        .sizes()
        .await?
        .into_iter()
        .map(|(run, size)| SizePoint {
            as_of: run.as_of,
            segmentation: size.segmentation,
            segment: size.segment,
            accounts: size.accounts,
            arr: size.arr,
            nrr: size.nrr,
        })
        .collect())
}

pub use crate::dates::{Every, backfill_dates};

/// What [`backfill`] recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfilled {
    /// The last as_of date (given, or the latest run's, or the data's).
    pub to: NaiveDate,
    /// The dates computed.
    pub dates: Vec<NaiveDate>,
    /// How many were recorded; the others were there already under the
    /// same definitions.
    pub recorded: usize,
}

/// Recomputes past as_of dates under the current definitions and records
/// each as a backfill point (segment sizes and ARR; no memberships or
/// deliveries), holding the store's run lock; points already backfilled
/// under the same definitions are skipped. `progress` hears each date done.
pub async fn backfill(
    project: &Project,
    store: &mut Store,
    from: NaiveDate,
    to: Option<NaiveDate>,
    every: Every,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Backfilled> {
    let _lock = store.lock(false).await?;
    let to = match to {
        Some(to) => to,
        None => match store.latest_run().await? {
            Some(run) => run.as_of,
            None => {
                pipeline::validate(project, &RunOptions::default())
                    .await?
                    .as_of
            }
        },
    };
    let dates = backfill_dates(from, to, every);
    if dates.is_empty() {
        return Err(Error::invalid(
            crate::error::Problem::new(
                "--from",
                format!("{from} is after {to}: nothing to backfill"),
            )
            .with_help("pass a --from before --to (or before the latest run's as_of)"),
        ));
    }
    let existing = store.runs(usize::MAX).await?;
    let mut recorded = 0;
    for (done_count, date) in dates.iter().enumerate() {
        let started_at = Utc::now();
        let result = pipeline::run(project, &RunOptions::at(Some(*date)), &pipeline::Quiet).await?;
        let versions = current_versions(store, project, &result).await?;
        let done = existing.iter().any(|run| {
            run.kind == RunKind::Backfill
                && run.as_of == *date
                && Some(&run.versions) == versions.as_ref()
        });
        if !done {
            state::record_run(
                store,
                project,
                &state::Snapshot::of(&result),
                &RecordOptions {
                    kind: RunKind::Backfill,
                    started_at,
                    timings: BTreeMap::new(),
                    deliver_redefinitions: false,
                    pause_before_commit: None,
                },
            )
            .await?;
            recorded += 1;
        }
        progress(done_count + 1, dates.len());
    }
    Ok(Backfilled {
        to,
        dates,
        recorded,
    })
}

/// The version ids the current definitions have in the store, if all exist.
async fn current_versions(
    store: &mut Store,
    project: &Project,
    result: &RunResult,
) -> Result<Option<BTreeMap<String, i64>>> {
    let docs = state::definitions::of_project(project, &result.features.rule_schema());
    let versions = store.definitions().await?;
    let mut out = BTreeMap::new();
    for doc in docs {
        let latest = versions
            .iter()
            .filter(|v| v.segmentation == doc.segmentation)
            .max_by_key(|v| v.seq);
        match latest {
            Some(v) if v.hash == doc.hash => {
                out.insert(doc.segmentation, v.id);
            }
            _ => return Ok(None),
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backfill_dates_step_by_day_week_and_month() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert_eq!(
            backfill_dates(date(2026, 1, 31), date(2026, 4, 30), Every::Month),
            [
                date(2026, 1, 31),
                date(2026, 2, 28),
                date(2026, 3, 31),
                date(2026, 4, 30)
            ]
        );
        assert_eq!(
            backfill_dates(date(2026, 1, 1), date(2026, 1, 15), Every::Week),
            [date(2026, 1, 1), date(2026, 1, 8), date(2026, 1, 15)]
        );
        assert_eq!(
            backfill_dates(date(2026, 1, 2), date(2026, 1, 1), Every::Day),
            []
        );
    }

    /// Records phases it hears, to check the forwarding.
    #[derive(Default)]
    struct Heard(Mutex<Vec<(Phase, bool)>>);

    impl Observer for Heard {
        fn phase_started(&self, phase: Phase) {
            self.0.lock().expect("lock").push((phase, true));
        }
        fn phase_finished(&self, phase: Phase) {
            self.0.lock().expect("lock").push((phase, false));
        }
    }

    #[test]
    fn timings_cover_every_phase_and_forward_them() {
        let heard = Heard::default();
        let timed = Timed::new(&heard);
        timed.phase_started(Phase::Sources);
        timed.phase_finished(Phase::Sources);
        timed.phase_started(Phase::Features);
        // A phase still open counts up to now.
        let timings = timed.timings();
        assert_eq!(
            timings.keys().map(String::as_str).collect::<Vec<_>>(),
            ["computing features", "loading sources"]
        );
        assert!(timings.values().all(|seconds| *seconds >= 0.0));
        assert_eq!(
            *heard.0.lock().expect("lock"),
            [
                (Phase::Sources, true),
                (Phase::Sources, false),
                (Phase::Features, true)
            ]
        );
    }
}
