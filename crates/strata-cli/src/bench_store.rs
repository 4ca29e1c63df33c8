//! `strata bench-store`: run-to-run cost of the state store on a large base
//! (see `bench/store.sh`). A synthetic base of N accounts with three rules
//! segmentations (size, plan, health) is recorded run after run while a
//! share of the accounts changes activity, on SQLite and on PostgreSQL: the
//! time to diff, explain and commit each run, its transitions, and how many
//! bytes the store grew per account and run.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_core::project::Project;
use strata_core::state::{
    self, Location, RecordOptions, RecordOutcome, RunKind, SegmentSnapshot, SegmentationSnapshot,
    Snapshot, Store,
};

use crate::render;

/// Arguments of `strata bench-store`.
#[derive(Debug, clap::Args)]
pub struct BenchStoreArgs {
    /// Accounts in the base.
    #[arg(long, default_value_t = 1_000_000)]
    accounts: usize,
    /// Runs to record (the first is the baseline).
    #[arg(long, default_value_t = 4)]
    runs: usize,
    /// Share of accounts whose activity changes between runs.
    #[arg(long, default_value_t = 0.05)]
    change: f64,
    /// Stores to measure (SQLite file paths or postgres:// URLs); each must be new or empty.
    #[arg(long, required = true)]
    store: Vec<String>,
}

const PROJECT: &str = r#"
[sources]
accounts = "accounts.csv"
events = "events.csv"

[[segmentation]]
name = "size"
segments = [
  { name = "SMB", when = "employees < 200" },
  { name = "Mid-Market", when = "employees BETWEEN 200 AND 1000" },
  { name = "Enterprise", when = "employees > 1000" },
]

[[segmentation]]
name = "plan"
segments = [
  { name = "paid", when = "plan IN ('pro', 'enterprise')" },
  { name = "self-serve", when = "plan = 'starter'" },
  { name = "free", when = "TRUE" },
]

[[segmentation]]
name = "health"
segments = [
  { name = "at-risk", when = "days_since_last_event > 21 OR events_28d < 5" },
  { name = "watch", when = "events_28d < 40" },
  { name = "healthy", when = "TRUE" },
]
"#;

struct Base {
    ids: Arc<StringArray>,
    employees: Vec<i64>,
    plan: Vec<&'static str>,
    days_since: Vec<i64>,
    events_28d: Vec<i64>,
}

impl Base {
    fn new(n: usize, rng: &mut StdRng) -> Base {
        const PLANS: [&str; 4] = ["free", "starter", "pro", "enterprise"];
        Base {
            ids: Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("acc-{i:07}")),
            )),
            employees: (0..n)
                .map(|_| (10f64 * (rng.random::<f64>() * 7.0).exp()) as i64)
                .collect(),
            plan: (0..n)
                .map(|_| PLANS[rng.random_range(0..PLANS.len())])
                .collect(),
            days_since: (0..n).map(|_| rng.random_range(0..40)).collect(),
            events_28d: (0..n).map(|_| rng.random_range(0..200)).collect(),
        }
    }

    fn change(&mut self, share: f64, rng: &mut StdRng) {
        for idx in 0..self.days_since.len() {
            if rng.random::<f64>() < share {
                self.days_since[idx] = rng.random_range(0..40);
                self.events_28d[idx] = rng.random_range(0..200);
            }
        }
    }

    fn batch(&self) -> anyhow::Result<RecordBatch> {
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("account_id", self.ids.clone() as ArrayRef),
            (
                "employees",
                Arc::new(Int64Array::from(self.employees.clone())),
            ),
            ("plan", Arc::new(StringArray::from(self.plan.clone()))),
            (
                "days_since_last_event",
                Arc::new(Int64Array::from(self.days_since.clone())),
            ),
            (
                "events_28d",
                Arc::new(Int64Array::from(self.events_28d.clone())),
            ),
        ];
        Ok(RecordBatch::try_from_iter(columns)?)
    }

    /// Memberships per segmentation, by the same rules as `PROJECT`.
    fn memberships(&self) -> [Vec<Option<usize>>; 3] {
        let size = self
            .employees
            .iter()
            .map(|&e| {
                Some(if e < 200 {
                    0
                } else if e <= 1000 {
                    1
                } else {
                    2
                })
            })
            .collect();
        let plan = self
            .plan
            .iter()
            .map(|&p| {
                Some(match p {
                    "pro" | "enterprise" => 0,
                    "starter" => 1,
                    _ => 2,
                })
            })
            .collect();
        let health = self
            .days_since
            .iter()
            .zip(&self.events_28d)
            .map(|(&d, &e)| {
                Some(if d > 21 || e < 5 {
                    0
                } else if e < 40 {
                    1
                } else {
                    2
                })
            })
            .collect();
        [size, plan, health]
    }
}

fn snapshot<'a>(
    as_of: NaiveDate,
    batch: &'a RecordBatch,
    memberships: &'a [Vec<Option<usize>>; 3],
    project: &'a Project,
) -> Snapshot<'a> {
    let segmentations = project
        .segmentations
        .iter()
        .zip(memberships.iter())
        .filter_map(|(segmentation, membership)| {
            let strata_core::project::SegmentationKind::Rules { segments, .. } = &segmentation.kind
            else {
                return None;
            };
            let mut counts = vec![0usize; segments.len()];
            for idx in membership.iter().flatten() {
                counts[*idx] += 1;
            }
            Some(SegmentationSnapshot {
                name: &segmentation.name,
                kind: "rules",
                segments: segments
                    .iter()
                    .zip(counts)
                    .map(|(segment, accounts)| SegmentSnapshot {
                        name: &segment.name,
                        rule: &segment.when,
                        accounts,
                        arr: accounts as f64 * 12_000.0,
                        nrr: Some(1.0),
                    })
                    .collect(),
                unassigned: (0, 0.0, None),
                membership,
                discovery: None,
                scores: None,
            })
        })
        .collect();
    Snapshot {
        as_of,
        features: batch,
        segmentations,
    }
}

/// Runs the benchmark and prints one table.
pub async fn run(args: BenchStoreArgs) -> anyhow::Result<()> {
    let project = Project::parse(PROJECT, std::path::Path::new("."), "bench project")?;
    let mut rows = Vec::new();
    for store_text in &args.store {
        let location = Location::parse(store_text, std::path::Path::new("."));
        let mut store = Store::open(&location).await?;
        if !store.runs(1).await?.is_empty() {
            anyhow::bail!(
                "{} already holds runs; give the benchmark an empty store",
                store.describe()
            );
        }
        let mut rng = StdRng::seed_from_u64(7);
        let mut base = Base::new(args.accounts, &mut rng);
        let mut previous_bytes = store.size_bytes().await?;
        let first_day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        for run_idx in 0..args.runs {
            if run_idx > 0 {
                base.change(args.change, &mut rng);
            }
            let batch = base.batch()?;
            let memberships = base.memberships();
            let as_of = first_day + chrono::Duration::days(run_idx as i64);
            let snap = snapshot(as_of, &batch, &memberships, &project);
            let started = Instant::now();
            let outcome = state::record_run(
                &mut store,
                &project,
                &snap,
                &RecordOptions {
                    kind: RunKind::Run,
                    started_at: Utc::now(),
                    timings: BTreeMap::new(),
                    deliver_redefinitions: false,
                    pause_before_commit: None,
                },
            )
            .await?;
            let seconds = started.elapsed().as_secs_f64();
            let bytes = store.size_bytes().await?;
            let transitions = match &outcome {
                RecordOutcome::Committed(summary) => summary.transitions.len(),
                RecordOutcome::Unchanged(_) => 0,
            };
            let growth = bytes.saturating_sub(previous_bytes);
            previous_bytes = bytes;
            eprintln!(
                "{}: run {} committed in {seconds:.2} s",
                store.describe(),
                run_idx + 1
            );
            rows.push(vec![
                if store_text.starts_with("postgres") {
                    "PostgreSQL"
                } else {
                    "SQLite"
                }
                .to_string(),
                (run_idx + 1).to_string(),
                if run_idx == 0 {
                    "baseline".to_string()
                } else {
                    format!("{:.0}%", args.change * 100.0)
                },
                transitions.to_string(),
                format!("{seconds:.2}"),
                format!("{:.1}", bytes as f64 / 1e6),
                format!("{:.1}", growth as f64 / args.accounts as f64),
            ]);
        }
    }
    println!(
        "state store, {} accounts x 3 segmentations, run to run (record = load current memberships, diff, explain, commit)",
        args.accounts
    );
    print!(
        "{}",
        render::table(
            &[
                "store",
                "run",
                "changed",
                "transitions",
                "record s",
                "store MB",
                "bytes/account/run"
            ],
            &rows
        )
    );
    Ok(())
}
