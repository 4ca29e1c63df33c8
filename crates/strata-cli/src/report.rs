//! `strata report`: a run's report.html plus the analyses a run does not do
//! itself: the ideal customer profile, cohort retention by segment, and what
//! each segment relies on, ignores and needs.
use std::path::PathBuf;

use strata_core::outputs::report::Extras;
use strata_core::pipeline::{self, AnalysesPlan, RunOptions};

use crate::{progress, state_cmd};

/// Arguments of `strata report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Output folder; the report is OUT/report.html.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// State store for segment sizes over time [default: the project's].
    #[arg(long)]
    store: Option<String>,
    /// Segmentation whose segments get cohort retention curves [default: the first].
    #[arg(long)]
    cohorts_by: Option<String>,
    /// Segmentation the roadmap section plans for [default: `behavior` if there is one,
    /// else the first clusters segmentation, else the first].
    #[arg(long)]
    roadmap_for: Option<String>,
    /// Leave out the ideal customer profile (the slowest part).
    #[arg(long)]
    no_icp: bool,
}

/// Runs the pipeline and the analyses, and writes OUT/report.html.
pub async fn run(args: ReportArgs) -> anyhow::Result<()> {
    let project = crate::load_project(&args.project)?;
    let plan = AnalysesPlan {
        cohorts_by: args.cohorts_by.clone(),
        roadmap_for: args.roadmap_for.clone(),
        icp_days: (!args.no_icp)
            .then_some(strata_core::service::REPORT_PLAN.icp_days)
            .flatten(),
    };
    let observer = progress::PhaseProgress::new();
    // The backtest shares the run's events scan.
    let in_scan = std::sync::Arc::new(strata_core::backtest::InScan::default());
    let options = match project.backtest_on_run {
        true => in_scan.beside(RunOptions::default()),
        false => RunOptions::default(),
    };
    let (result, analyses, loaded) =
        pipeline::run_with_analyses(&project, &options, &plan, &observer).await?;
    observer.finish_all();
    for problem in &analyses.problems {
        eprintln!("warning: the report has {problem}");
    }
    let mut store = state_cmd::open_store(&project, args.store.as_deref()).await?;
    let history = strata_core::service::history_points(&mut store).await?;
    let backtests = if project.backtest_on_run {
        let found = in_scan.found();
        strata_core::backtest::of_run(&project, result.as_of, None, loaded, found)
            .await
            .unwrap_or_else(|error| {
                eprintln!("warning: the report has no backtest section: {error}");
                Vec::new()
            })
    } else {
        Vec::new()
    };
    let extras = Extras {
        icp: analyses.icp.as_ref(),
        cohorts: analyses.cohorts.as_ref(),
        roadmap: analyses.roadmap.as_ref(),
        backtests: &backtests,
        movement: None,
    };
    let path = strata_core::outputs::write_report(&result, &history, extras, &args.out)?;
    println!("wrote {}", path.display());
    Ok(())
}
