//! `strata bench-risk`: the learned risks' cost and quality. On a generated
//! base (or any project), it times the point-in-time feature tables, the
//! training and scoring of `churn_risk` and `expansion_likelihood`, then
//! hands the very same examples and time split to scikit-learn
//! (`LogisticRegression` and `HistGradientBoostingClassifier`, see
//! `bench/risk.sh`, which installs them with pip) and prints the held-out
//! AUC of each beside ours.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use strata_core::demo::{self, DemoParams};
use strata_core::pipeline::{self, RunOptions};
use strata_core::project::Project;
use strata_core::risk::{self, Target};

use crate::render;

#[derive(Debug, clap::Args)]
pub struct BenchRiskArgs {
    /// Accounts of the generated base.
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// Past monthly as-of dates to learn from.
    #[arg(long, default_value_t = 24)]
    history: u32,
    /// Benchmark this project instead of a generated base (e.g. an `init`
    /// project on shared/devset).
    #[arg(long)]
    project: Option<PathBuf>,
    /// Python with scikit-learn and pyarrow, or "none" to skip the peers.
    #[arg(long, default_value = "python3")]
    python: String,
    /// The peers' script.
    #[arg(long, default_value = "bench/risk_peers.py")]
    script: PathBuf,
    /// Folder for generated data (reused between runs of the same size).
    #[arg(long, default_value = "target/bench-data/risk")]
    dir: PathBuf,
}

/// Runs `strata bench-risk`.
pub async fn run(args: BenchRiskArgs) -> anyhow::Result<()> {
    let project = match &args.project {
        Some(path) => crate::load_project(path)?,
        None => generated(&args)?,
    };
    let mut settings = project.risk.clone().unwrap_or_default();
    settings.history_months = args.history;
    let mut phases: Vec<(String, f64)> = Vec::new();
    let clock = Instant::now();
    let inputs = pipeline::risk_inputs(&project, &RunOptions::default()).await?;
    phases.push((
        "sources and features now".into(),
        clock.elapsed().as_secs_f64(),
    ));
    let clock = Instant::now();
    let snapshots = inputs
        .snapshots(&project, &settings, &mut |done, total| {
            eprint!("\rbench-risk: point-in-time features {done}/{total}")
        })
        .await?;
    eprintln!();
    let examples: usize = snapshots.iter().map(|s| s.rows.len()).sum();
    phases.push((
        format!("point-in-time features ({} dates)", snapshots.len()),
        clock.elapsed().as_secs_f64(),
    ));
    let clock = Instant::now();
    let risks = risk::learn_from(&snapshots, &inputs.features, &settings)?;
    phases.push((
        format!("train and score both risks ({examples} examples)"),
        clock.elapsed().as_secs_f64(),
    ));
    let table = risk::examples_table(
        &snapshots,
        &inputs.features,
        &inputs.sources.accounts.ids,
        &settings,
    )?;
    std::fs::create_dir_all(&args.dir)?;
    let exported = args.dir.join("examples.parquet");
    strata_core::outputs::write_parquet(&exported, &table)?;

    let rows: Vec<Vec<String>> = phases
        .iter()
        .map(|(phase, seconds)| vec![phase.clone(), format!("{seconds:.3}")])
        .collect();
    println!(
        "{} accounts, {} paying account-dates over {} past dates, as of {}:\n",
        inputs.sources.accounts.ids.len(),
        examples,
        snapshots.len(),
        inputs.as_of
    );
    print!("{}", render::table(&["phase", "seconds"], &rows));

    let peers: Option<serde_json::Value> = if args.python == "none" {
        None
    } else {
        let output = std::process::Command::new(&args.python)
            .arg(&args.script)
            .arg(&exported)
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("cannot start {}", args.python))?;
        anyhow::ensure!(output.status.success(), "the peers' script failed");
        Some(serde_json::from_slice(&output.stdout).context("unreadable peers' result")?)
    };
    let mut rows = Vec::new();
    for target in Target::ALL {
        let key = match target {
            Target::Churn => "churned",
            Target::Expansion => "expanded",
        };
        let ours = risks
            .model(target)
            .and_then(|m| m.holdout.as_ref())
            .map(|h| h.auc);
        let peer = |name: &str| {
            peers
                .as_ref()
                .and_then(|p| p[key][name].as_f64())
                .map_or("–".to_string(), |auc| format!("{auc:.3}"))
        };
        rows.push(vec![
            target.feature().to_string(),
            ours.map_or("refused".to_string(), |auc| format!("{auc:.3}")),
            peer("logistic_regression"),
            peer("logistic_regression_log1p"),
            peer("hist_gradient_boosting"),
        ]);
    }
    println!(
        "\nheld-out AUC (learned on the early dates, judged on the last quarter, the same rows for all):\n"
    );
    print!(
        "{}",
        render::table(
            &[
                "risk",
                "strata",
                "sklearn LogisticRegression",
                "sklearn LR, log1p counts",
                "sklearn HistGradientBoosting",
            ],
            &rows,
        )
    );
    Ok(())
}

/// The generated base of `args.accounts`, with four months more history
/// than the dates learned from (the last outcomes need 90 days).
fn generated(args: &BenchRiskArgs) -> anyhow::Result<Project> {
    let dir = args.dir.join(format!("accounts-{}", args.accounts));
    if !dir.join("strata.toml").exists() {
        let params = DemoParams {
            n_accounts: args.accounts,
            months: args.history + 4,
            ..DemoParams::default()
        };
        eprintln!("bench-risk: generating {} accounts ...", args.accounts);
        demo::generate(&dir.join("data"), &params, &mut |_, _| {})?;
        std::fs::write(
            dir.join("strata.toml"),
            demo::project_file(&dir, params.as_of)?,
        )?;
    }
    Ok(Project::load(&dir)?)
}
