//! `strata discover`: explore behavioral clusters, freeze one as rules, or
//! check frozen clusterings for drift.
use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::NaiveDate;
use strata_core::discover::freeze;
use strata_core::pipeline::{self, Exploration, RunOptions, SegmentationResult};
use strata_core::project::{
    ClusterCount, ClusterDef, DEFAULT_CLUSTER_FEATURES, PROJECT_FILE, Project, SegmentationKind,
};

use crate::progress;
use crate::render::{self, money, percent};

/// Arguments of `strata discover`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  strata discover --project .                       explore k = 2..8 on the default features
  strata discover --k 4 --features active_days_28d,events_28d,api_share_28d,trend_28d
  strata discover --segmentation behavior           start from a clusters segmentation of the project
  strata discover --k 4 --freeze behavior_v1        save the clustering as nearest-centroid rules
  strata discover --check                           are frozen clusterings still right?")]
pub struct DiscoverArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Start from this `clusters` segmentation of the project (default: the
    /// first one, or the default features).
    #[arg(long)]
    segmentation: Option<String>,
    /// Features to cluster on, comma-separated (numeric features; see `strata features`).
    #[arg(long, value_delimiter = ',')]
    features: Option<Vec<String>>,
    /// Number of clusters: "auto" (choose from 2..8) or a number from 2 to 20.
    #[arg(long, value_parser = ClusterCount::parse)]
    k: Option<ClusterCount>,
    /// Seed of the fit.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the project's as_of date (YYYY-MM-DD).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Save the clustering as a rules segmentation NAME in strata.toml (its
    /// model in models/NAME.json, the same rules as SQL in models/NAME.sql).
    #[arg(long, value_name = "NAME", conflicts_with = "check")]
    freeze: Option<String>,
    /// Compare every frozen clustering with a fresh fit on today's data.
    #[arg(long)]
    check: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The clustering to explore: the named or first clusters segmentation of the
/// project, or the defaults, with the command line's overrides.
fn cluster_def(project: &Project, args: &DiscoverArgs) -> anyhow::Result<(String, ClusterDef)> {
    let from_project =
        project
            .segmentations
            .iter()
            .find_map(|s| match (&s.kind, &args.segmentation) {
                (SegmentationKind::Clusters(def), Some(name)) if &s.name == name => {
                    Some((s.name.clone(), def.clone()))
                }
                (SegmentationKind::Clusters(def), None) => Some((s.name.clone(), def.clone())),
                _ => None,
            });
    let (name, mut def) = match (from_project, &args.segmentation) {
        (Some(found), _) => found,
        (None, Some(name)) => {
            let kinds: Vec<String> = project
                .segmentations
                .iter()
                .filter(|s| matches!(s.kind, SegmentationKind::Clusters(_)))
                .map(|s| s.name.clone())
                .collect();
            anyhow::bail!(
                "the project has no clusters segmentation `{name}`{}",
                if kinds.is_empty() {
                    String::from(" (it has none: drop --segmentation to use the default features)")
                } else {
                    format!(" (clusters segmentations: {})", kinds.join(", "))
                }
            );
        }
        (None, None) => (
            "discovered".to_string(),
            ClusterDef {
                segments: Vec::new(),
                features: DEFAULT_CLUSTER_FEATURES
                    .iter()
                    .map(|f| f.to_string())
                    .collect(),
                k: ClusterCount::Auto,
                weights: vec![1.0; DEFAULT_CLUSTER_FEATURES.len()],
                seed: 0,
            },
        ),
    };
    if let Some(features) = &args.features {
        let features: Vec<String> = features
            .iter()
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        anyhow::ensure!(!features.is_empty(), "--features lists no feature");
        def.weights = features
            .iter()
            .map(|f| {
                def.features
                    .iter()
                    .position(|old| old == f)
                    .map_or(1.0, |idx| def.weights[idx])
            })
            .collect();
        def.features = features;
    }
    if let Some(k) = args.k {
        def.k = k;
    }
    if let Some(seed) = args.seed {
        def.seed = seed;
    }
    Ok((name, def))
}

/// Runs `strata discover`.
pub async fn run(args: DiscoverArgs) -> anyhow::Result<()> {
    let project = crate::load_project(&args.project)?;
    let options = RunOptions::at(args.as_of);
    if args.check {
        return check(&project, &options, args.json).await;
    }
    let (name, def) = cluster_def(&project, &args)?;
    let observer = progress::PhaseProgress::new();
    let exploration = pipeline::explore(&project, &options, &name, &def, &observer).await?;
    observer.finish_all();
    for warning in &exploration.warnings {
        eprintln!("warning: {warning}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&exploration.result)?);
    } else {
        print!("{}", exploration_report(&exploration));
    }
    if let Some(freeze_name) = &args.freeze {
        let Some(discovery) = &exploration.result.discovery else {
            anyhow::bail!("internal error: the exploration has no model");
        };
        let mut model = discovery.model.clone();
        model.segmentation = freeze_name.clone();
        for (profile, segment) in model.clusters.iter_mut().zip(&exploration.result.segments) {
            profile.passed_quality = Some(segment.quality.passes());
        }
        let project_file = if args.project.is_dir() {
            args.project.join(PROJECT_FILE)
        } else {
            args.project.clone()
        };
        let model_path = freeze::freeze_into_project(&project_file, freeze_name, &model)?;
        eprintln!(
            "froze {} clusters as segmentation `{freeze_name}`: rules appended to {}, model in {} (as SQL: {})",
            model.k(),
            project_file.display(),
            model_path.display(),
            model_path.with_extension("sql").display()
        );
        eprintln!(
            "next: strata run --project {} (the warehouse can run the same rules as SQL)",
            args.project.display()
        );
    }
    Ok(())
}

fn fmt_option(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{v:.decimals$}"))
}

/// The per-k table, the choice, and the clusters.
pub fn exploration_report(exploration: &Exploration) -> String {
    let result = &exploration.result;
    let mut out = String::new();
    if let Some(clustering) = &result.clustering {
        let _ = writeln!(
            out,
            "as of {}: clustering {} accounts on {}\n",
            exploration.as_of,
            exploration.overall.accounts,
            clustering.features.join(", ")
        );
        let rows: Vec<Vec<String>> = clustering
            .scores
            .iter()
            .map(|score| {
                vec![
                    if score.k == clustering.k {
                        format!("{} ◀", score.k)
                    } else {
                        score.k.to_string()
                    },
                    format!("{:.1}", score.inertia),
                    format!("{:.3}", score.silhouette),
                    format!("{:.3}", score.stability),
                    if score.is_stable { "yes" } else { "no" }.to_string(),
                ]
            })
            .collect();
        out.push_str(&render::table(
            &["k", "inertia", "silhouette", "stability (ARI)", "stable"],
            &rows,
        ));
        let _ = writeln!(out, "\nchosen: {}\n", clustering.explanation);
    }
    out.push_str(&cluster_table(result));
    out
}

/// Clusters with size, ARR share, NRR, quality and description.
pub fn cluster_table(result: &SegmentationResult) -> String {
    let mut out = String::new();
    let rows: Vec<Vec<String>> = result
        .segments
        .iter()
        .map(|segment| {
            vec![
                segment.name.clone(),
                segment.economics.accounts.to_string(),
                percent(Some(segment.economics.share_of_accounts)),
                money(segment.economics.arr),
                percent(segment.economics.share_of_arr),
                percent(segment.economics.nrr),
                fmt_option(segment.quality.cohesion, 2),
                fmt_option(segment.quality.detectability, 2),
            ]
        })
        .collect();
    out.push_str(&render::table(
        &[
            "cluster", "accounts", "% accts", "ARR", "% ARR", "NRR", "cohesion", "detect",
        ],
        &rows,
    ));
    out.push('\n');
    for segment in &result.segments {
        if let Some(description) = &segment.description {
            let _ = writeln!(out, "  {description}");
        }
    }
    out.push_str(&render::quality_line(&result.quality));
    out
}

async fn check(project: &Project, options: &RunOptions, json: bool) -> anyhow::Result<()> {
    let frozen: Vec<&str> = project
        .segmentations
        .iter()
        .filter(|s| matches!(&s.kind, SegmentationKind::Rules { model: Some(_), .. }))
        .map(|s| s.name.as_str())
        .collect();
    anyhow::ensure!(
        !frozen.is_empty(),
        "the project has no frozen clustering to check; freeze one with `strata discover --freeze NAME`"
    );
    let observer = progress::PhaseProgress::new();
    let result = pipeline::run(project, options, &observer).await?;
    observer.finish_all();
    let checked: Vec<&SegmentationResult> = result
        .segmentations
        .iter()
        .filter(|s| frozen.contains(&s.name.as_str()))
        .collect();
    if json {
        let drifts: Vec<_> = checked.iter().map(|s| (&s.name, &s.drift)).collect();
        println!("{}", serde_json::to_string_pretty(&drifts)?);
        return Ok(());
    }
    let mut out = String::new();
    for segmentation in checked {
        let Some(drift) = &segmentation.drift else {
            let _ = writeln!(
                out,
                "{}: cannot be checked (see the warning above)\n",
                segmentation.name
            );
            continue;
        };
        let _ = writeln!(
            out,
            "{} (as of {}): agreement with a fresh fit ARI {:.3}",
            segmentation.name, result.as_of, drift.agreement
        );
        let rows: Vec<Vec<String>> = drift
            .centroids
            .iter()
            .map(|centroid| {
                vec![
                    centroid.name.clone(),
                    centroid.accounts_frozen.to_string(),
                    centroid.accounts_now.to_string(),
                    format!("{:.2}", centroid.moved),
                    centroid
                        .largest_shift
                        .as_ref()
                        .map_or_else(String::new, |(feature, shift)| {
                            format!("{feature} {shift:+.2}")
                        }),
                    match centroid.passes_quality {
                        Some(true) => "pass",
                        Some(false) => "FAIL",
                        None => "–",
                    }
                    .to_string(),
                ]
            })
            .collect();
        out.push_str(&render::table(
            &[
                "segment",
                "accounts then",
                "now",
                "moved",
                "largest shift",
                "quality",
            ],
            &rows,
        ));
        if drift.refresh {
            let _ = writeln!(out, "REFRESH: {}", drift.reasons.join("; "));
            let _ = writeln!(
                out,
                "  freeze a new version: strata discover --k {} --freeze {}_v2\n",
                drift.centroids.len(),
                segmentation.name
            );
        } else {
            let _ = writeln!(
                out,
                "still good: a fresh fit agrees, no centroid moved more than {}, and no segment fails a quality test it passed when frozen\n",
                strata_core::discover::drift::MAX_MOVEMENT
            );
        }
    }
    print!("{out}");
    Ok(())
}
