//! `strata bench-incremental`: a daily run after one more day of events has
//! landed, reading only that day's file, against the same run reading every
//! event (`--full`), on generated data in time order (see
//! bench/incremental.sh).
//!
//! The demo's events are split into a folder: every event before the last
//! day in one file, the last day's in another, held back. A recorded run as
//! of the day before keeps its scans; the last day's file lands; the daily
//! run (incremental) and the same run with `--full` are timed phase by
//! phase, and their feature tables compared.
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chrono::Days;
use strata_core::demo::{self, DemoParams};
use strata_core::pipeline;
use strata_core::service::{self, RecordSettings};

use crate::progress::Profile;
use crate::render;

#[derive(Debug, clap::Args)]
pub struct BenchIncrementalArgs {
    /// Events in the base.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Accounts to spread the events over [default: one per 1,470 events].
    #[arg(long)]
    accounts: Option<usize>,
    /// Folder for generated data (reused between runs of the same size).
    #[arg(long, default_value = "target/bench-data")]
    dir: PathBuf,
}

pub async fn run(args: BenchIncrementalArgs) -> anyhow::Result<()> {
    let (params, base) = match args.accounts {
        None => (
            DemoParams::for_events(args.events),
            args.dir.join(format!("incremental-{}", args.events)),
        ),
        Some(n_accounts) => (
            DemoParams {
                n_accounts,
                events_per_account: args.events as f64 / n_accounts.max(1) as f64,
                ..DemoParams::default()
            },
            args.dir
                .join(format!("incremental-{}-accounts-{n_accounts}", args.events)),
        ),
    };
    let data = base.join("data");
    let held = base.join("last-day.parquet");
    let marker = data.join(".complete");
    if !marker.exists() {
        let started = std::time::Instant::now();
        demo::generate(&data, &params, &mut |_, _| {})?;
        split(&data, &held, params.as_of).await?;
        std::fs::write(&marker, "").context("cannot mark the bench data complete")?;
        eprintln!(
            "bench: generated and split {} in {:.1} s",
            base.display(),
            started.elapsed().as_secs_f64()
        );
    }
    let landed = data.join("events").join("last-day.parquet");
    if landed.exists() {
        std::fs::rename(&landed, &held).context("cannot hold the last day back")?;
    }
    std::fs::write(
        base.join("strata.toml"),
        demo::project_file(&base, params.as_of)?,
    )?;
    let store = base.join(".strata");
    if store.exists() {
        std::fs::remove_dir_all(&store).context("cannot start from an empty store")?;
    }
    let project = crate::load_project(&base)?;
    let out = base.join("out");
    let yesterday = params.as_of - Days::new(1);

    eprintln!("bench: the run of {yesterday} (full; keeps its scans)");
    let quiet = Profile::new(&pipeline::Quiet);
    service::execute(
        &project,
        &out,
        Some(yesterday),
        &RecordSettings::default(),
        &quiet,
    )
    .await?;
    let before = quiet.phases();
    eprintln!(
        "bench: the run of {yesterday} took {:.1} s, peak {:.0} MiB",
        before.iter().map(|p| p.seconds).sum::<f64>(),
        before.iter().map(|p| p.peak_mib).fold(0.0, f64::max)
    );
    std::fs::rename(&held, &landed).context("cannot land the last day")?;

    eprintln!("bench: the run of {} after its file landed", params.as_of);
    let daily = Profile::new(&pipeline::Quiet);
    let incremental = service::execute(
        &project,
        &out,
        Some(params.as_of),
        &RecordSettings::default(),
        &daily,
    )
    .await?;
    eprintln!("bench: the same run with --full");
    let whole = Profile::new(&pipeline::Quiet);
    let full = service::execute(
        &project,
        &out,
        Some(params.as_of),
        &RecordSettings {
            full: true,
            ..RecordSettings::default()
        },
        &whole,
    )
    .await?;
    if incremental.result.features.batch != full.result.features.batch {
        bail!("the incremental run's features differ from the full run's");
    }
    for (a, b) in incremental
        .result
        .segmentations
        .iter()
        .zip(&full.result.segmentations)
    {
        if a.membership != b.membership {
            bail!("the incremental run's `{}` memberships differ", a.name);
        }
    }
    let (daily, whole) = (daily.phases(), whole.phases());
    let mut rows = Vec::new();
    for phase in &whole {
        let (mine, mine_peak) = daily
            .iter()
            .find(|p| p.phase == phase.phase)
            .map_or((0.0, 0.0), |p| (p.seconds, p.peak_mib));
        rows.push(vec![
            phase.phase.clone(),
            format!("{mine:.3}"),
            format!("{:.3}", phase.seconds),
            format!("{:.0}%", 100.0 * mine / phase.seconds.max(1e-9)),
            format!("{mine_peak:.0}"),
            format!("{:.0}", phase.peak_mib),
        ]);
    }
    let peak = |phases: &[crate::progress::PhaseTime]| {
        phases.iter().map(|p| p.peak_mib).fold(0.0, f64::max)
    };
    let total =
        |phases: &[crate::progress::PhaseTime]| phases.iter().map(|p| p.seconds).sum::<f64>();
    let (mine, theirs) = (total(&daily), total(&whole));
    rows.push(vec![
        "whole run".into(),
        format!("{mine:.3}"),
        format!("{theirs:.3}"),
        format!("{:.0}%", 100.0 * mine / theirs.max(1e-9)),
        format!("{:.0}", peak(&daily)),
        format!("{:.0}", peak(&whole)),
    ]);
    let describe = |executed: &service::Executed| {
        executed
            .result
            .scan
            .as_ref()
            .map_or_else(|| "no kept scan".to_string(), |s| s.describe())
    };
    println!(
        "{} events, {} accounts; the last day: {} events in one new file",
        args.events,
        params.n_accounts,
        events_in(&landed).await?
    );
    println!("daily run: {}", describe(&incremental));
    println!("--full:    {}", describe(&full));
    print!(
        "{}",
        render::table(
            &[
                "phase",
                "daily s",
                "--full s",
                "daily / full (target <= 10%)",
                "daily peak MiB",
                "--full peak MiB"
            ],
            &rows
        )
    );
    println!("features and memberships identical");
    Ok(())
}

/// Splits `data/events.parquet` into `data/events/history.parquet` (every
/// event before `last`'s day) and `held` (that day's events).
async fn split(data: &Path, held: &Path, last: chrono::NaiveDate) -> anyhow::Result<()> {
    use datafusion::dataframe::DataFrameWriteOptions;
    use datafusion::prelude::{ParquetReadOptions, SessionContext, col, lit};
    let ctx = SessionContext::new();
    let source = data.join("events.parquet");
    let events = ctx
        .read_parquet(
            source.to_string_lossy().to_string(),
            ParquetReadOptions::default(),
        )
        .await?;
    let start = lit(format!("{last}T00:00:00"));
    let folder = data.join("events");
    std::fs::create_dir_all(&folder)?;
    let single = || DataFrameWriteOptions::new().with_single_file_output(true);
    events
        .clone()
        .filter(col("ts").lt(start.clone()))?
        .write_parquet(
            &folder.join("history.parquet").to_string_lossy(),
            single(),
            None,
        )
        .await?;
    events
        .filter(col("ts").gt_eq(start))?
        .write_parquet(&held.to_string_lossy(), single(), None)
        .await?;
    std::fs::remove_file(&source)?;
    Ok(())
}

async fn events_in(path: &Path) -> anyhow::Result<usize> {
    use datafusion::prelude::{ParquetReadOptions, SessionContext};
    let ctx = SessionContext::new();
    Ok(ctx
        .read_parquet(
            path.to_string_lossy().to_string(),
            ParquetReadOptions::default(),
        )
        .await?
        .count()
        .await?)
}
