//! `strata report`: a run's report.html plus the analyses a run does not do
//! itself: the ideal customer profile, cohort retention by segment, and what
//! each segment relies on, ignores and needs.
use std::path::PathBuf;

use strata_core::icp::IcpParams;
use strata_core::outputs::report::Extras;
use strata_core::pipeline::{self, RunOptions};
use strata_core::project::Project;

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
    let project = Project::load(&args.project)?;
    let options = RunOptions::default();
    let observer = progress::PhaseProgress::new();
    let result = pipeline::run(&project, &options, &observer).await?;
    observer.finish_all();
    let mut store = state_cmd::open_store(&project, args.store.as_deref()).await?;
    let history = state_cmd::history_points(&mut store).await?;
    let icp = if args.no_icp {
        None
    } else {
        match pipeline::icp(
            &project,
            &options,
            60,
            &IcpParams::default(),
            &pipeline::Quiet,
        )
        .await
        {
            Ok(icp) => Some(icp),
            Err(error) => {
                eprintln!("warning: the report has no ICP section: {error}");
                None
            }
        }
    };
    let by = args
        .cohorts_by
        .clone()
        .or_else(|| project.segmentations.first().map(|s| s.name.clone()));
    let cohorts = match pipeline::cohorts(&project, &options, by.as_deref(), &pipeline::Quiet).await
    {
        Ok(cohorts) => Some(cohorts),
        Err(error) => {
            eprintln!("warning: the report has no cohort section: {error}");
            None
        }
    };
    let plan_for = args.roadmap_for.clone().or_else(|| {
        let names = || project.segmentations.iter();
        names()
            .find(|s| s.name == "behavior")
            .or_else(|| names().find(|s| s.kind.name() == "clusters"))
            .or_else(|| names().next())
            .map(|s| s.name.clone())
    });
    let roadmap = match plan_for {
        Some(name) => match pipeline::roadmap(&project, &options, &name, &pipeline::Quiet).await {
            Ok(roadmap) => Some(roadmap),
            Err(error) => {
                eprintln!("warning: the report has no roadmap section: {error}");
                None
            }
        },
        None => None,
    };
    let extras = Extras {
        icp: icp.as_ref(),
        cohorts: cohorts.as_ref(),
        roadmap: roadmap.as_ref(),
    };
    let path = strata_core::outputs::write_report(&result, &history, extras, &args.out)?;
    println!("wrote {}", path.display());
    Ok(())
}
