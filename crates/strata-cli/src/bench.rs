//! `strata bench`: per-phase wall time, events per second and peak memory on
//! generated data, beside DuckDB (the reference query of
//! `../shared/peers/duckdb_features.sql`) and Polars computing the same nine
//! features from the same files (see `bench/run.sh`, which installs both
//! with pip).
//!
//! Every size is measured on two layouts of the same events: in time order,
//! as event logs are appended (the demo writes them so), and clustered by
//! account (the same rows sorted by account and time), so that the ratio a
//! layout favours is never the only one shown. Two strata timings: the
//! features phase of a plain run, and the whole `strata run --no-store`
//! (features, segments, measures with the ICP, cohorts and roadmap, the
//! backtest, outputs and the report).
//!
//! Each (size, layout) runs in a child process so that its peak memory is its
//! own; in the child, the kernel's peak-RSS counter is reset before every
//! phase (`/proc/self/clear_refs`), so each phase reports its own peak. The
//! peers' results are compared value by value with ours, so the ratios are
//! between programs that computed the same thing.
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use datafusion::arrow::array::{Array, AsArray};
use strata_core::demo::{self, DemoParams};
use strata_core::pipeline::{self, RunOptions};

use crate::progress::{PhaseTime as PhaseResult, Profile};
use crate::render;

/// The nine event features of DATA.md that the peers also compute.
const COMPARED: [&str; 9] = [
    "events_28d",
    "active_days_28d",
    "users_28d",
    "distinct_events",
    "distinct_events_28d",
    "api_share",
    "api_share_28d",
    "days_since_last_event",
    "trend_28d",
];

/// How the events file is laid out.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// In time order, as event logs are appended (the demo's).
    Time,
    /// Sorted by account, then time.
    Account,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Time => "time-ordered",
            Layout::Account => "by account",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Event counts to benchmark, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
    events: Vec<u64>,
    /// Layouts of the events file, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "time,account")]
    layouts: Vec<Layout>,
    /// Python with duckdb (and polars, optional) installed, or "none" to
    /// skip the peers.
    #[arg(long, default_value = "python3")]
    python: String,
    /// The peers' script.
    #[arg(long, default_value = "bench/peers.py")]
    script: PathBuf,
    /// DuckDB's query.
    #[arg(long, default_value = "../shared/peers/duckdb_features.sql")]
    peer_sql: PathBuf,
    /// Accounts to spread the events over [default: one per 1,470 events].
    #[arg(long)]
    accounts: Option<usize>,
    /// Folder for generated data (reused between runs of the same size).
    #[arg(long, default_value = "target/bench-data")]
    dir: PathBuf,
    /// Time the features only, not the whole run.
    #[arg(long)]
    features_only: bool,
    /// Internal: run one size in this process and print one JSON line.
    #[arg(long, hide = true)]
    one: Option<u64>,
    /// Internal: the layout of `--one`.
    #[arg(long, hide = true, default_value = "time")]
    layout: Layout,
}

/// A peer's time, memory and agreement with strata.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct PeerResult {
    name: String,
    seconds: f64,
    peak_mib: f64,
    mismatches: usize,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SizeResult {
    events: u64,
    accounts: usize,
    layout: Layout,
    /// The features phase of a plain run.
    features: PhaseResult,
    /// The phases of the whole run (`strata run --no-store`).
    run: Vec<PhaseResult>,
    peers: Vec<PeerResult>,
    /// Why a peer did not run.
    skipped: Vec<String>,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(events) = args.one {
        let result = one_size(&args, events).await?;
        println!("{}", serde_json::to_string(&result)?);
        return Ok(());
    }
    if args.python != "none" && !args.peer_sql.exists() {
        bail!(
            "DuckDB's query {} is missing: pass --peer-sql FILE, or --python none to skip the peers",
            args.peer_sql.display()
        );
    }
    let exe = std::env::current_exe().context("cannot find the strata executable")?;
    let mut results = Vec::new();
    for &events in &args.events {
        for &layout in &args.layouts {
            bench_data(&args, events, layout).await?;
            eprintln!("bench: {events} events, {} ...", layout.name());
            let mut command = std::process::Command::new(&exe);
            command
                .args([
                    "bench",
                    "--one",
                    &events.to_string(),
                    "--python",
                    &args.python,
                ])
                .arg("--layout")
                .arg(match layout {
                    Layout::Time => "time",
                    Layout::Account => "account",
                })
                .arg("--script")
                .arg(&args.script)
                .arg("--peer-sql")
                .arg(&args.peer_sql)
                .arg("--dir")
                .arg(&args.dir);
            if let Some(n) = args.accounts {
                command.arg("--accounts").arg(n.to_string());
            }
            if args.features_only {
                command.arg("--features-only");
            }
            let output = command
                .stderr(std::process::Stdio::inherit())
                .output()
                .context("cannot start the benchmark child process")?;
            if !output.status.success() {
                bail!("benchmark of {events} events ({}) failed", layout.name());
            }
            let line = String::from_utf8_lossy(&output.stdout);
            let result: SizeResult =
                serde_json::from_str(line.trim()).context("unreadable benchmark result")?;
            results.push(result);
        }
    }
    print!("{}", report(&results));
    Ok(())
}

fn report(results: &[SizeResult]) -> String {
    let mut rows = Vec::new();
    for result in results {
        let label = format!("{} {}", human(result.events), result.layout.name());
        let mut phases = vec![&result.features];
        phases.extend(result.run.iter());
        for (idx, phase) in phases.into_iter().enumerate() {
            let name = if idx == 0 {
                "features (plain run)".to_string()
            } else {
                format!("run: {}", phase.phase)
            };
            rows.push(vec![
                label.clone(),
                name,
                format!("{:.3}", phase.seconds),
                human((result.events as f64 / phase.seconds) as u64),
                format!("{:.0}", phase.peak_mib),
            ]);
        }
        for peer in &result.peers {
            rows.push(vec![
                label.clone(),
                format!("{} features", peer.name),
                format!("{:.3}", peer.seconds),
                human((result.events as f64 / peer.seconds) as u64),
                format!("{:.0}", peer.peak_mib),
            ]);
        }
    }
    let mut out = render::table(
        &["events", "phase", "seconds", "events/s", "peak MiB"],
        &rows,
    );
    out.push('\n');
    let mut ratios = Vec::new();
    for result in results {
        let run_seconds = whole_run(result);
        let duckdb = result.peers.iter().find(|p| p.name == "DuckDB");
        let ratio =
            |ours: f64| duckdb.map_or("–".to_string(), |d| format!("{:.2}", ours / d.seconds));
        let agreement: Vec<String> = result
            .peers
            .iter()
            .map(|p| match p.mismatches {
                0 => format!("{} identical", p.name),
                n => format!("{} DIFFERS in {n} cells", p.name),
            })
            .chain(result.skipped.iter().cloned())
            .collect();
        ratios.push(vec![
            human(result.events),
            result.accounts.to_string(),
            result.layout.name().to_string(),
            format!("{:.3}", result.features.seconds),
            duckdb.map_or("–".to_string(), |d| format!("{:.3}", d.seconds)),
            result
                .peers
                .iter()
                .find(|p| p.name == "Polars")
                .map_or("–".to_string(), |p| format!("{:.3}", p.seconds)),
            ratio(result.features.seconds),
            run_seconds.map_or("–".to_string(), |s| format!("{s:.3}")),
            run_seconds.map_or("–".to_string(), ratio),
            agreement.join("; "),
        ]);
    }
    out.push_str(&render::table(
        &[
            "events",
            "accounts",
            "layout",
            "strata features s",
            "DuckDB s",
            "Polars s",
            "features / DuckDB (target <= 0.5)",
            "whole run s",
            "run / DuckDB (target <= 2.5)",
            "values",
        ],
        &ratios,
    ));
    out
}

/// The whole run's seconds: the sum of its phases.
fn whole_run(result: &SizeResult) -> Option<f64> {
    (!result.run.is_empty()).then(|| result.run.iter().map(|p| p.seconds).sum())
}

fn human(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1e6)
    } else if n >= 1_000 {
        format!("{:.0}k", n as f64 / 1e3)
    } else {
        n.to_string()
    }
}

/// The data of one size and layout, generated (and laid out) the first time
/// and reused after; the parent process prepares it before each child runs,
/// so that no child's peak memory holds the generation or the sort.
async fn bench_data(
    args: &BenchArgs,
    events: u64,
    layout: Layout,
) -> anyhow::Result<(DemoParams, PathBuf)> {
    let (params, base) = match args.accounts {
        None => (
            DemoParams::for_events(events),
            args.dir.join(format!("events-{events}")),
        ),
        Some(n_accounts) => (
            DemoParams {
                n_accounts,
                events_per_account: events as f64 / n_accounts.max(1) as f64,
                ..DemoParams::default()
            },
            args.dir
                .join(format!("events-{events}-accounts-{n_accounts}")),
        ),
    };
    let marker = base.join("data").join(".complete");
    if !marker.exists() {
        let started = std::time::Instant::now();
        demo::generate(&base.join("data"), &params, &mut |_, _| {})?;
        std::fs::write(&marker, "").context("cannot mark the bench data complete")?;
        eprintln!(
            "bench: generated {} in {:.1} s",
            base.display(),
            started.elapsed().as_secs_f64()
        );
    }
    let dir = match layout {
        Layout::Time => base,
        Layout::Account => {
            let dir = PathBuf::from(format!("{}-by-account", base.display()));
            let marker = dir.join("data").join(".complete");
            if !marker.exists() {
                let started = std::time::Instant::now();
                by_account(&base.join("data"), &dir.join("data")).await?;
                std::fs::write(&marker, "").context("cannot mark the bench data complete")?;
                eprintln!(
                    "bench: sorted the events by account in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
            dir
        }
    };
    Ok((params, dir))
}

async fn one_size(args: &BenchArgs, events: u64) -> anyhow::Result<SizeResult> {
    let (params, dir) = bench_data(args, events, args.layout).await?;
    let recorder = Profile::new(&pipeline::Quiet);
    std::fs::write(
        dir.join("strata.toml"),
        demo::project_file(&dir, params.as_of)?,
    )?;
    let project = crate::load_project(&dir)?;
    // The features of a plain run.
    let plain = Profile::new(&pipeline::Quiet);
    let result = pipeline::run(&project, &RunOptions::default(), &plain).await?;
    let features = plain
        .phases()
        .into_iter()
        .find(|p| p.phase == "features")
        .context("the run reported no features phase")?;
    // The whole run, as `strata run --no-store`.
    if !args.features_only {
        let settings = strata_core::service::RecordSettings {
            no_store: true,
            ..Default::default()
        };
        strata_core::service::execute(&project, &dir.join("out"), None, &settings, &recorder)
            .await?;
    }
    let run = recorder.phases();

    let (mut peers, mut skipped) = (Vec::new(), Vec::new());
    if args.python != "none" {
        for (name, peer) in [("DuckDB", "duckdb"), ("Polars", "polars")] {
            let csv = dir.join(format!("{peer}_features.csv"));
            let output = std::process::Command::new(&args.python)
                .arg(&args.script)
                .arg(peer)
                .arg(dir.join("data"))
                .arg(params.as_of.to_string())
                .arg(&csv)
                .arg(&args.peer_sql)
                .output()
                .with_context(|| format!("cannot run {} {}", args.python, args.script.display()))?;
            let stderr = String::from_utf8_lossy(&output.stderr);
            if !output.status.success() {
                if peer == "polars" && stderr.contains("No module named 'polars'") {
                    skipped.push("Polars not installed".to_string());
                    continue;
                }
                bail!("the {name} peer failed: {stderr}");
            }
            let reported: serde_json::Value = serde_json::from_slice(&output.stdout)
                .with_context(|| format!("unreadable {name} result"))?;
            peers.push(PeerResult {
                name: name.to_string(),
                seconds: reported["seconds"].as_f64().unwrap_or(f64::NAN),
                peak_mib: reported["peak_mib"].as_f64().unwrap_or(f64::NAN),
                mismatches: compare(&result, &csv)?,
            });
        }
    }
    Ok(SizeResult {
        events,
        accounts: params.n_accounts,
        layout: args.layout,
        features,
        run,
        peers,
        skipped,
    })
}

/// The bench data of `from` with its events sorted by account, then time
/// (the other tables linked).
async fn by_account(from: &Path, to: &Path) -> anyhow::Result<()> {
    use datafusion::dataframe::DataFrameWriteOptions;
    use datafusion::prelude::{ParquetReadOptions, SessionContext, col};
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "events.parquet" || name == ".complete" {
            continue;
        }
        let target = to.join(&name);
        if !target.exists() {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
    }
    let ctx = SessionContext::new();
    let events = ctx
        .read_parquet(
            from.join("events.parquet").to_string_lossy().to_string(),
            ParquetReadOptions::default(),
        )
        .await?;
    let sorted = events.sort(vec![
        col("account_id").sort(true, false),
        col("ts").sort(true, false),
    ])?;
    let out = to.join("events.parquet");
    sorted
        .write_parquet(
            &out.to_string_lossy(),
            DataFrameWriteOptions::new().with_single_file_output(true),
            None,
        )
        .await?;
    Ok(())
}

/// Counts cells where a peer's features differ from ours (an account absent
/// from the peer's output must be 0/NULL in ours).
fn compare(result: &pipeline::RunResult, csv: &Path) -> anyhow::Result<usize> {
    let text =
        std::fs::read_to_string(csv).with_context(|| format!("cannot read {}", csv.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let ids = result.account_ids();
    let position: std::collections::HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let batch = &result.features.batch;
    // Each compared column cast to floats once.
    let mut columns: std::collections::HashMap<&str, datafusion::arrow::array::ArrayRef> =
        std::collections::HashMap::new();
    for name in header.iter().skip(1) {
        if let Some(column) = batch.column_by_name(name) {
            columns.insert(
                name,
                datafusion::arrow::compute::cast(
                    column,
                    &datafusion::arrow::datatypes::DataType::Float64,
                )?,
            );
        }
    }
    let mut mismatches = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let Some(&row) = position.get(cells[0]) else {
            mismatches += 1;
            continue;
        };
        for (column_idx, name) in header.iter().enumerate().skip(1) {
            if !COMPARED.contains(name) {
                continue;
            }
            let Some(column) = columns.get(name) else {
                mismatches += 1;
                continue;
            };
            let ours: Option<f64> = if column.is_null(row) {
                None
            } else {
                Some(
                    column
                        .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                        .value(row),
                )
            };
            let theirs: Option<f64> = cells.get(column_idx).and_then(|v| v.parse().ok());
            let same = match (ours, theirs) {
                (None, None) => true,
                (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                _ => false,
            };
            if !same {
                mismatches += 1;
            }
        }
    }
    Ok(mismatches)
}
