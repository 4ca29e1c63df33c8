//! Incremental runs: a kept features scan advanced by the event files that
//! landed since gives exactly what a scan of every event gives, day by day
//! over 30 days of daily files (some events arriving a day late), for the
//! run's date and for the backtest's past dates; a rewritten file, `--full`
//! or an earlier date means a full scan, and the run says why.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{ParquetReadOptions, SessionContext, col, lit};
use strata_core::backtest::InScan;
use strata_core::dates::day_number;
use strata_core::demo::{self, DemoParams};
use strata_core::features::{ScanCache, ScanMode};
use strata_core::pipeline::{self, RunOptions, RunResult};
use strata_core::project::Project;

const DAYS: u64 = 30;

/// A demo base whose events are a folder: the history before the first
/// day in one file, then one file per day, written to `staged/` to be moved
/// in one at a time. A tenth of each day's events (by account) land in the
/// next day's file: late arrivals.
fn base(dir: &Path) -> (Project, NaiveDate, Vec<PathBuf>) {
    let params = DemoParams {
        n_accounts: 400,
        events_per_account: 150.0,
        months: 8,
        ..DemoParams::default()
    };
    let data = dir.join("data");
    demo::generate(&data, &params, &mut |_, _| {}).expect("demo data");
    let first = params.as_of - Days::new(DAYS);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let staged = dir.join("staged");
    std::fs::create_dir_all(&staged).expect("staged");
    std::fs::create_dir_all(data.join("events")).expect("events folder");
    let files: Vec<PathBuf> = runtime.block_on(async {
        let ctx = SessionContext::new();
        let events = ctx
            .read_parquet(
                data.join("events.parquet").to_string_lossy().to_string(),
                ParquetReadOptions::default(),
            )
            .await
            .expect("events");
        // The UTC day of each event, and whether it arrives a day late.
        let day = datafusion::functions::datetime::expr_fn::date_trunc(lit("day"), col("ts"));
        let late = col("account_id").like(lit("%0"));
        let mut files = Vec::new();
        let at = |date: NaiveDate| lit(format!("{date}T00:00:00"));
        // History: every event before the first day; late ones of its
        // last day wait for the first day's file.
        let history = events
            .clone()
            .filter(
                day.clone().lt(at(first - Days::new(1))).or(day
                    .clone()
                    .eq(at(first - Days::new(1)))
                    .and(col("account_id").not_like(lit("%0")))),
            )
            .expect("filter");
        write_parquet(history, data.join("events").join("0000-history.parquet")).await;
        for offset in 0..DAYS {
            let date = first + Days::new(offset);
            let on_time = day
                .clone()
                .eq(at(date))
                .and(col("account_id").not_like(lit("%0")));
            let late_from_yesterday = day.clone().eq(at(date - Days::new(1))).and(late.clone());
            let mut today = on_time.or(late_from_yesterday);
            if offset + 1 == DAYS {
                // The last file also holds the last day's late events.
                today = today.or(day.clone().eq(at(date)));
            }
            let frame = events.clone().filter(today).expect("filter");
            files.push(write_parquet(frame, staged.join(format!("{date}.parquet"))).await);
        }
        files
    });
    std::fs::remove_file(data.join("events.parquet")).expect("one events source");
    // `strata init` finds the events folder.
    let text = demo::project_file(dir, params.as_of).expect("project text");
    assert!(text.contains("data/events\""), "{text}");
    std::fs::write(dir.join("strata.toml"), text).expect("project file");
    (Project::load(dir).expect("project"), first, files)
}

/// Writes `frame` as one Parquet file at `path`.
async fn write_parquet(frame: datafusion::prelude::DataFrame, path: PathBuf) -> PathBuf {
    frame
        .write_parquet(
            &path.to_string_lossy(),
            DataFrameWriteOptions::new().with_single_file_output(true),
            None,
        )
        .await
        .expect("write a Parquet file");
    path
}

/// A [`base`] in a temporary folder, a scan cache beside it, a runtime.
struct Setup {
    dir: tempfile::TempDir,
    project: Project,
    first: NaiveDate,
    files: Vec<PathBuf>,
    cache: ScanCache,
    runtime: tokio::runtime::Runtime,
    events_dir: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let (project, first, files) = base(dir.path());
    let cache = ScanCache {
        dir: dir.path().join("scans"),
        full: false,
    };
    let events_dir = dir.path().join("data").join("events");
    Setup {
        dir,
        project,
        first,
        files,
        cache,
        runtime: tokio::runtime::Runtime::new().expect("runtime"),
        events_dir,
    }
}

fn run(
    runtime: &tokio::runtime::Runtime,
    project: &Project,
    date: NaiveDate,
    cache: Option<&ScanCache>,
) -> RunResult {
    let options = RunOptions {
        as_of: Some(date),
        early_days: Some(60),
        cache: cache.cloned(),
        beside: None,
    };
    runtime
        .block_on(pipeline::run(project, &options, &pipeline::Quiet))
        .expect("run")
}

/// The feature tables, early adoption and memberships of two runs agree.
fn assert_same(kept: &RunResult, full: &RunResult, what: &str) {
    assert_eq!(kept.features.batch, full.features.batch, "{what}: features");
    assert_eq!(
        kept.features.early.as_ref().map(|e| &e.batch),
        full.features.early.as_ref().map(|e| &e.batch),
        "{what}: early adoption"
    );
    assert_eq!(kept.features.unknown, full.features.unknown, "{what}");
    assert_eq!(kept.event_rows, full.event_rows, "{what}: events checked");
    for (a, b) in kept.segmentations.iter().zip(&full.segmentations) {
        assert_eq!(a.membership, b.membership, "{what}: {}", a.name);
    }
}

#[test]
fn day_by_day_incremental_runs_equal_full_runs() {
    let Setup {
        dir,
        project,
        first,
        files,
        cache,
        runtime,
        events_dir,
    } = setup();
    for (offset, file) in files.iter().enumerate() {
        let date = first + Days::new(offset as u64);
        let name = file.file_name().expect("file name");
        std::fs::rename(file, events_dir.join(name)).expect("land the day's file");
        let kept = run(&runtime, &project, date, Some(&cache));
        let full = run(&runtime, &project, date, None);
        assert_same(&kept, &full, &date.to_string());
        match (offset, &kept.scan) {
            (0, Some(ScanMode::Full { reason })) => {
                assert_eq!(reason, "no earlier scan is kept");
            }
            (
                _,
                Some(ScanMode::Incremental {
                    from_day,
                    files,
                    events,
                }),
            ) if offset > 0 => {
                assert_eq!(*from_day, day_number(date) - 1, "{date}");
                assert_eq!(*files, 1, "{date}");
                assert!(*events > 0, "{date}");
            }
            (_, other) => panic!("{date}: {other:?}"),
        }
        assert!(full.scan.is_none());
    }
    let last = first + Days::new(DAYS - 1);

    // The same day again reads nothing new.
    let again = run(&runtime, &project, last, Some(&cache));
    assert!(
        matches!(
            again.scan,
            Some(ScanMode::Incremental {
                files: 0,
                events: 0,
                ..
            })
        ),
        "{:?}",
        again.scan
    );
    // --full reads everything, and says so.
    let forced = ScanCache {
        full: true,
        ..cache.clone()
    };
    let full_again = run(&runtime, &project, last, Some(&forced));
    assert_eq!(
        full_again.scan,
        Some(ScanMode::Full {
            reason: "--full".into()
        })
    );
    assert_same(&again, &full_again, "--full");
    // An earlier date than every kept scan's cannot start from one.
    let earlier = first - Days::new(3);
    let back = run(&runtime, &project, earlier, Some(&cache));
    assert!(
        matches!(&back.scan, Some(ScanMode::Full { reason }) if reason.contains("later than the as-of date")),
        "{:?}",
        back.scan
    );
    assert_same(&back, &run(&runtime, &project, earlier, None), "earlier");

    // History rewritten (an event dropped): a full scan, which says why.
    let history = events_dir.join("0000-history.parquet");
    runtime.block_on(async {
        let ctx = SessionContext::new();
        let frame = ctx
            .read_parquet(
                history.to_string_lossy().to_string(),
                ParquetReadOptions::default(),
            )
            .await
            .expect("history");
        let rows = frame.clone().count().await.expect("count");
        let batches = frame
            .limit(0, Some(rows - 1))
            .expect("limit")
            .collect()
            .await
            .expect("rows");
        let rewritten = ctx.read_batches(batches).expect("frame");
        let temporary = write_parquet(rewritten, dir.path().join("rewritten.parquet")).await;
        std::fs::rename(&temporary, &history).expect("replace history");
    });
    let rewritten = run(&runtime, &project, last, Some(&cache));
    assert!(
        matches!(&rewritten.scan, Some(ScanMode::Full { reason }) if reason.contains("0000-history.parquet changed")),
        "{:?}",
        rewritten.scan
    );
    assert_same(
        &rewritten,
        &run(&runtime, &project, last, None),
        "rewritten",
    );
}

/// The backtest's past dates start from their kept scans too: the second
/// day's dates read only the new file, and give the full scan's memberships.
#[test]
fn past_dates_start_from_their_kept_scans() {
    let Setup {
        dir: _kept_until_the_end,
        project,
        first,
        files,
        cache,
        runtime,
        events_dir,
    } = setup();
    let past: Vec<NaiveDate> = (1..=3)
        .map(|months| first - chrono::Months::new(months))
        .collect();
    for (offset, file) in files.iter().take(2).enumerate() {
        let date = first + Days::new(offset as u64);
        std::fs::rename(file, events_dir.join(file.file_name().expect("name"))).expect("land");
        let memberships = |cache: Option<&ScanCache>| {
            runtime.block_on(async {
                let options = RunOptions {
                    cache: cache.cloned(),
                    ..RunOptions::at(Some(date))
                };
                let loaded = pipeline::sources_at(&project, &options)
                    .await
                    .expect("sources");
                pipeline::memberships_at(&project, &past, Some(&loaded), &mut |_, _| {})
                    .await
                    .expect("past dates")
            })
        };
        let kept = memberships(Some(&cache));
        let full = memberships(None);
        for ((a, a_members), (b, b_members)) in kept.iter().zip(&full) {
            assert_eq!(a.features.batch, b.features.batch, "{date} at {}", a.as_of);
            for (x, y) in a_members.iter().zip(b_members) {
                assert_eq!(x.membership, y.membership, "{date} at {}", a.as_of);
            }
        }
    }
    let heads = std::fs::read_dir(&cache.dir)
        .expect("scans")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".head.json"))
        })
        .count();
    assert_eq!(heads, past.len(), "one kept scan per past date");
}

/// A run hands its sources to its own backtest (they are not loaded and
/// checked again): the backtest is the one made from sources loaded anew.
/// A run without a kept scan computes its backtest's past dates in its own
/// events scan (its date chained after them): the same backtest, and the
/// same features, warnings and ICP (early adoption counted in that scan)
/// as a run that computes its features alone. At a date before some
/// accounts signed up, the run's sources have lost them, so it hands
/// nothing over.
#[test]
fn a_runs_backtest_from_its_own_sources_equals_one_from_a_new_load() {
    let Setup {
        dir: _kept_until_the_end,
        project,
        first,
        files,
        runtime,
        events_dir,
        ..
    } = setup();
    for file in &files {
        std::fs::rename(file, events_dir.join(file.file_name().expect("name"))).expect("land");
    }
    assert!(
        !strata_core::backtest::claiming(&project).is_empty(),
        "the demo project claims risk"
    );
    // A run with its backtest beside its scan (`in_scan`), or without.
    let run_at = async |in_scan: Option<&Arc<InScan>>, date: NaiveDate| {
        let options = match in_scan {
            Some(in_scan) => in_scan.beside(RunOptions::at(Some(date))),
            None => RunOptions::at(Some(date)),
        };
        let plan = pipeline::AnalysesPlan {
            icp_days: Some(14),
            ..Default::default()
        };
        pipeline::run_with_analyses(&project, &options, &plan, &pipeline::Quiet)
            .await
            .expect("run")
    };
    runtime.block_on(async {
        // The demo's as-of date: every account had signed up.
        let last = first + Days::new(DAYS);
        let in_scan = Arc::new(InScan::default());
        let (result, analyses, loaded) = run_at(Some(&in_scan), last).await;
        assert!(loaded.is_some(), "every account had signed up by {last}");
        let handed = strata_core::backtest::in_run(&project, result.as_of, None, loaded)
            .await
            .expect("backtest from the run's sources");
        let anew = strata_core::backtest::in_run(&project, result.as_of, None, None)
            .await
            .expect("backtest from new sources");
        assert!(!handed.is_empty());
        let json = strata_core::backtest::backtests_json;
        assert_eq!(json(&handed), json(&anew));
        let found = in_scan
            .found()
            .expect("computed in the run's scan")
            .expect("a backtest");
        assert_eq!(json(&found), json(&anew));
        // The run's own date, chained after the past dates, is the date
        // computed alone.
        let (alone, alone_analyses, _) = run_at(None, last).await;
        assert_eq!(result.features.batch, alone.features.batch);
        assert_eq!(result.features.top_events, alone.features.top_events);
        assert_eq!(result.features.unknown, alone.features.unknown);
        let text = |warnings: &[strata_core::error::Problem]| -> Vec<String> {
            warnings.iter().map(ToString::to_string).collect()
        };
        assert_eq!(text(&result.warnings), text(&alone.warnings));
        let icp = |analyses: &pipeline::Analyses| {
            serde_json::to_string(analyses.icp.as_ref().expect("an ICP")).expect("json")
        };
        assert_eq!(icp(&analyses), icp(&alone_analyses));
        // Four months in, later signups are not in the run's sources.
        let (result, _, loaded) = run_at(None, first - chrono::Months::new(4)).await;
        assert!(
            result
                .warnings
                .iter()
                .any(|w| w.to_string().contains("signed up")),
            "{:?}",
            result.warnings
        );
        assert!(loaded.is_none(), "sources without the later signups");
    });
}
