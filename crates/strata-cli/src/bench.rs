//! `strata bench`: per-phase wall time, events per second and peak memory on
//! generated data, beside DuckDB computing the same features from the same
//! Parquet file (see `bench/run.sh`, which installs DuckDB with pip).
//!
//! Each size runs in a child process so that its peak memory is its own; in
//! the child, the kernel's peak-RSS counter is reset before every phase
//! (`/proc/self/clear_refs`), so each phase reports its own peak. DuckDB's
//! results are compared value by value with ours, so the ratio is between two
//! programs that computed the same thing.
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context as _, bail};
use datafusion::arrow::array::{Array, AsArray};
use strata_core::demo::{self, DemoParams};
use strata_core::pipeline::{self, Observer, Phase, RunOptions};

use crate::render;

/// The nine event features of DATA.md that DuckDB also computes.
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

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Event counts to benchmark, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
    events: Vec<u64>,
    /// Python with duckdb installed, or "none" to skip the peer.
    #[arg(long, default_value = "python3")]
    python: String,
    /// The DuckDB feature script.
    #[arg(long, default_value = "bench/duckdb_features.py")]
    script: PathBuf,
    /// Accounts to spread the events over [default: one per 1,470 events].
    #[arg(long)]
    accounts: Option<usize>,
    /// Folder for generated data (reused between runs of the same size).
    #[arg(long, default_value = "target/bench-data")]
    dir: PathBuf,
    /// Internal: run one size in this process and print one JSON line.
    #[arg(long, hide = true)]
    one: Option<u64>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct PhaseResult {
    phase: String,
    seconds: f64,
    peak_mib: f64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SizeResult {
    events: u64,
    accounts: usize,
    phases: Vec<PhaseResult>,
    duckdb_seconds: Option<f64>,
    duckdb_peak_mib: Option<f64>,
    mismatches: Option<usize>,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(events) = args.one {
        let result = one_size(&args, events).await?;
        println!("{}", serde_json::to_string(&result)?);
        return Ok(());
    }
    let exe = std::env::current_exe().context("cannot find the strata executable")?;
    let mut results = Vec::new();
    for &events in &args.events {
        eprintln!("bench: {events} events ...");
        let output = std::process::Command::new(&exe)
            .args([
                "bench",
                "--one",
                &events.to_string(),
                "--python",
                &args.python,
            ])
            .arg("--script")
            .arg(&args.script)
            .arg("--dir")
            .arg(&args.dir)
            .args(
                args.accounts
                    .map(|n| vec!["--accounts".to_string(), n.to_string()])
                    .unwrap_or_default(),
            )
            .stderr(std::process::Stdio::inherit())
            .output()
            .context("cannot start the benchmark child process")?;
        if !output.status.success() {
            bail!("benchmark of {events} events failed");
        }
        let line = String::from_utf8_lossy(&output.stdout);
        let result: SizeResult =
            serde_json::from_str(line.trim()).context("unreadable benchmark result")?;
        results.push(result);
    }
    print!("{}", report(&results));
    Ok(())
}

fn report(results: &[SizeResult]) -> String {
    let mut rows = Vec::new();
    for result in results {
        for phase in &result.phases {
            rows.push(vec![
                format!("{}", human(result.events)),
                phase.phase.clone(),
                format!("{:.3}", phase.seconds),
                if phase.phase == "generate" {
                    "–".into()
                } else {
                    human((result.events as f64 / phase.seconds) as u64)
                },
                format!("{:.0}", phase.peak_mib),
            ]);
        }
        if let (Some(seconds), Some(peak)) = (result.duckdb_seconds, result.duckdb_peak_mib) {
            rows.push(vec![
                human(result.events),
                "duckdb features".into(),
                format!("{seconds:.3}"),
                human((result.events as f64 / seconds) as u64),
                format!("{peak:.0}"),
            ]);
        }
    }
    let mut out = render::table(
        &["events", "phase", "seconds", "events/s", "peak MiB"],
        &rows,
    );
    out.push('\n');
    for result in results {
        let ours = result
            .phases
            .iter()
            .find(|p| p.phase == "features")
            .map(|p| p.seconds);
        match (ours, result.duckdb_seconds) {
            (Some(ours), Some(theirs)) => out.push_str(&format!(
                "{} events, {} accounts: features {:.3} s vs DuckDB {:.3} s, ratio {:.2} (<= 1.0 is the target); values {}\n",
                human(result.events),
                result.accounts,
                ours,
                theirs,
                ours / theirs,
                match result.mismatches {
                    Some(0) => "identical".to_string(),
                    Some(n) => format!("DIFFER in {n} cells"),
                    None => "not compared".to_string(),
                }
            )),
            _ => out.push_str(&format!("{} events: DuckDB not run\n", human(result.events))),
        }
    }
    out
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

/// Peak resident memory of this process since the last reset, in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn reset_peak() {
    // Writing 5 resets the peak RSS counter (Linux >= 4.0); elsewhere the
    // peak simply stays cumulative.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

struct Recorder {
    current: Mutex<Option<Instant>>,
    phases: Mutex<Vec<PhaseResult>>,
}

impl Recorder {
    fn begin(&self) {
        reset_peak();
        if let Ok(mut current) = self.current.lock() {
            *current = Some(Instant::now());
        }
    }

    fn end(&self, name: &str) {
        let Ok(mut current) = self.current.lock() else {
            return;
        };
        if let Some(started) = current.take()
            && let Ok(mut phases) = self.phases.lock()
        {
            phases.push(PhaseResult {
                phase: name.to_string(),
                seconds: started.elapsed().as_secs_f64(),
                peak_mib: peak_mib(),
            });
        }
    }
}

impl Observer for Recorder {
    fn phase_started(&self, _phase: Phase) {
        self.begin();
    }
    fn phase_finished(&self, phase: Phase) {
        let name = match phase {
            Phase::Sources => "sources",
            Phase::Features => "features",
            Phase::Segments => "segments",
            Phase::Measures => "measures",
            Phase::Backtest => "backtest",
            Phase::Outputs => "outputs",
        };
        self.end(name);
    }
}

async fn one_size(args: &BenchArgs, events: u64) -> anyhow::Result<SizeResult> {
    let (params, dir) = match args.accounts {
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
    let recorder = Recorder {
        current: Mutex::new(None),
        phases: Mutex::new(Vec::new()),
    };
    let marker = dir.join("data").join(".complete");
    // Data is generated once per size and reused; only a fresh generation is timed.
    if !marker.exists() {
        recorder.begin();
        demo::generate(&dir.join("data"), &params, &mut |_, _| {})?;
        std::fs::write(&marker, "").context("cannot mark the bench data complete")?;
        recorder.end("generate");
    }
    std::fs::write(
        dir.join("strata.toml"),
        demo::project_file(&dir, params.as_of)?,
    )?;
    let project = crate::load_project(&dir)?;
    let result = pipeline::run(&project, &RunOptions::default(), &recorder).await?;
    recorder.begin();
    strata_core::outputs::write_all(&result, &dir.join("out"))?;
    recorder.end("outputs");
    let mut phases = recorder
        .phases
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default();
    phases.retain(|p| p.seconds > 0.0);

    let (mut duckdb_seconds, mut duckdb_peak_mib, mut mismatches) = (None, None, None);
    if args.python != "none" {
        let csv = dir.join("duckdb_features.csv");
        let output = std::process::Command::new(&args.python)
            .arg(&args.script)
            .arg(dir.join("data").join("events.parquet"))
            .arg(params.as_of.to_string())
            .arg(&csv)
            .output()
            .with_context(|| format!("cannot run {} {}", args.python, args.script.display()))?;
        if !output.status.success() {
            bail!(
                "the DuckDB script failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let reported: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("unreadable DuckDB result")?;
        duckdb_seconds = reported["seconds"].as_f64();
        duckdb_peak_mib = reported["peak_mib"].as_f64();
        mismatches = Some(compare(&result, &csv)?);
    }
    Ok(SizeResult {
        events,
        accounts: params.n_accounts,
        phases,
        duckdb_seconds,
        duckdb_peak_mib,
        mismatches,
    })
}

/// Counts cells where DuckDB's features differ from ours (accounts without
/// events are absent from DuckDB's output and must be 0/NULL in ours).
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
