//! `strata matrix` and `strata cohorts`: the segment matrix with support
//! load, and signup-month cohort retention.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use strata_core::pipeline::{self, CohortReport, MatrixReport, RunOptions};

use crate::progress;
use crate::render::{self, money, percent};

/// Arguments of `strata matrix`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  strata matrix size behavior                 firmographic x behavioral
  strata matrix size behavior health --out out   three-way, also written to out/matrix.json")]
pub struct MatrixArgs {
    /// Two or three segmentations of the project to cross.
    #[arg(num_args = 2..=3, required = true, value_name = "SEGMENTATION")]
    segmentations: Vec<String>,
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Override the project's as_of date (YYYY-MM-DD).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Also write OUT/matrix.json.
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `strata cohorts`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  strata cohorts                              logo and revenue retention of every signup month
  strata cohorts --segmentation size --out out   per segment too, written to out/cohorts.json")]
pub struct CohortArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Also measure each segment of this segmentation.
    #[arg(long)]
    segmentation: Option<String>,
    /// Override the project's as_of date (YYYY-MM-DD).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Also write OUT/cohorts.json.
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Prints `report` as JSON (`json`) or as `text()`, and writes it to
/// `OUT/file` when `out` is given.
pub fn emit<T: serde::Serialize>(
    report: &T,
    json: bool,
    out: Option<&Path>,
    file: &str,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    let rendered = serde_json::to_string_pretty(report)?;
    if json {
        println!("{rendered}");
    } else {
        print!("{}", text(report));
    }
    if let Some(out) = out {
        let path = out.join(file);
        strata_core::outputs::write_file_atomically(&path, format!("{rendered}\n").as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Runs `strata matrix`.
pub async fn run_matrix(args: MatrixArgs) -> anyhow::Result<()> {
    let project = crate::load_project(&args.project)?;
    let observer = progress::PhaseProgress::new();
    let report = pipeline::matrix(
        &project,
        &RunOptions::at(args.as_of),
        &args.segmentations,
        &observer,
    )
    .await?;
    observer.finish_all();
    emit(
        &report,
        args.json,
        args.out.as_deref(),
        "matrix.json",
        matrix_table,
    )
}

/// The matrix as a table, one row per non-empty cell.
pub fn matrix_table(report: &MatrixReport) -> String {
    let matrix = &report.matrix;
    let mut header: Vec<&str> = matrix.segmentations.iter().map(String::as_str).collect();
    header.extend([
        "accounts",
        "ARR",
        "% ARR",
        "churn",
        "NRR",
        "NPS",
        "expansion",
        "tickets/acct",
        "% tickets",
    ]);
    let rows: Vec<Vec<String>> = matrix
        .cells
        .iter()
        .map(|cell| {
            let economics = &cell.economics;
            let mut row = cell.segments.clone();
            row.extend([
                economics.accounts.to_string(),
                money(economics.arr),
                percent(economics.share_of_arr),
                percent(economics.logo_churn),
                percent(economics.nrr),
                economics
                    .nps
                    .map_or_else(|| "–".to_string(), |n| format!("{n:+.0}")),
                money(12.0 * economics.expansion_mrr),
                format!("{:.2}", cell.tickets_per_account),
                percent(cell.share_of_tickets),
            ]);
            row
        })
        .collect();
    let mut out = format!(
        "as of {}: {} crossed, {} tickets in the last 12 months (expansion as ARR)\n\n",
        report.as_of,
        matrix.segmentations.join(" x "),
        matrix.tickets
    );
    out.push_str(&render::table_with_labels(
        &header,
        &rows,
        matrix.segmentations.len(),
    ));
    out
}

/// Runs `strata cohorts`.
pub async fn run_cohorts(args: CohortArgs) -> anyhow::Result<()> {
    let project = crate::load_project(&args.project)?;
    let observer = progress::PhaseProgress::new();
    let report = pipeline::cohorts(
        &project,
        &RunOptions::at(args.as_of),
        args.segmentation.as_deref(),
        &observer,
    )
    .await?;
    observer.finish_all();
    emit(
        &report,
        args.json,
        args.out.as_deref(),
        "cohorts.json",
        cohort_tables,
    )
}

/// Months since signup shown in the tables.
const SHOWN_MONTHS: [usize; 7] = [1, 3, 6, 9, 12, 18, 24];

/// One table per group: a row per cohort, logo / revenue retention at a few
/// months since signup.
pub fn cohort_tables(report: &CohortReport) -> String {
    let mut out = format!(
        "as of {}: retention of accounts paying in their signup month, logo / revenue\n",
        report.as_of
    );
    let mut header = vec!["cohort".to_string(), "accounts".into(), "paying".into()];
    header.extend(SHOWN_MONTHS.iter().map(|m| format!("m{m}")));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    for group in &report.groups {
        let _ = writeln!(
            out,
            "\n{}",
            match (&group.segment, &report.segmentation) {
                (Some(segment), Some(segmentation)) => format!("{segmentation} = {segment}"),
                _ => "all accounts".to_string(),
            }
        );
        let short =
            |value: Option<f64>| value.map_or_else(|| "–".into(), |v| format!("{:.0}%", v * 100.0));
        let rows: Vec<Vec<String>> = group
            .cohorts
            .iter()
            .map(|cohort| {
                let mut row = vec![
                    cohort.cohort.clone(),
                    cohort.accounts.to_string(),
                    cohort.paying.to_string(),
                ];
                row.extend(SHOWN_MONTHS.iter().map(|&m| {
                    match (
                        cohort.logo_retention.get(m),
                        cohort.revenue_retention.get(m),
                    ) {
                        (Some(logo), Some(revenue)) => {
                            format!("{}/{}", short(*logo), short(*revenue))
                        }
                        _ => String::new(),
                    }
                }));
                row
            })
            .collect();
        out.push_str(&render::table(&header, &rows));
    }
    out
}

/// Arguments of `strata themes`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  strata themes                               needs themes of every verbatim, k chosen from 2..8
  strata themes --k 6 --out out               six themes, also written to out/themes.json")]
pub struct ThemesArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Number of themes (2 to 20); default: chosen from 2..8.
    #[arg(long, value_parser = clap::value_parser!(u8).range(2..=20))]
    k: Option<u8>,
    /// Override the project's as_of date (YYYY-MM-DD).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Also write OUT/themes.json.
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `strata themes`.
pub async fn run_themes(args: ThemesArgs) -> anyhow::Result<()> {
    let project = crate::load_project(&args.project)?;
    let observer = progress::PhaseProgress::new();
    let report = pipeline::themes(
        &project,
        &RunOptions::at(args.as_of),
        args.k.map(usize::from),
        &observer,
    )
    .await?;
    observer.finish_all();
    emit(
        &report,
        args.json,
        args.out.as_deref(),
        "themes.json",
        themes_report,
    )
}

/// The k tried, then each theme with its numbers and representative verbatims.
pub fn themes_report(report: &pipeline::ThemesReport) -> String {
    let themes = &report.themes;
    let mut out = format!(
        "as of {}: {} verbatims, {} terms ({} repeat within accounts)\n",
        report.as_of, themes.verbatims, themes.vocabulary, themes.bursty_terms
    );
    if !themes.scores.is_empty() {
        let rows: Vec<Vec<String>> = themes
            .scores
            .iter()
            .map(|score| {
                vec![
                    score.k.to_string(),
                    format!("{:.3}", score.silhouette),
                    score
                        .stability
                        .map_or_else(|| "-".to_string(), |s| format!("{s:.3}")),
                ]
            })
            .collect();
        out.push('\n');
        out.push_str(&render::table(
            &["k", "silhouette", "stability (ARI)"],
            &rows,
        ));
        if themes.scores.iter().any(|score| score.stability.is_none()) {
            out.push_str(
                "(-: not refitted; stability is measured only where it decides the choice of k)\n",
            );
        }
    }
    let _ = writeln!(out, "\n{}\n", themes.explanation);
    if themes.themes.is_empty() {
        return out;
    }
    let rows: Vec<Vec<String>> = themes
        .themes
        .iter()
        .chain(&themes.no_need)
        .map(|theme| {
            vec![
                theme.name.clone(),
                theme.verbatims.to_string(),
                theme.accounts.to_string(),
                theme
                    .nps
                    .map_or_else(|| "–".to_string(), |n| format!("{n:+.0}")),
                percent(theme.detractor_share),
            ]
        })
        .collect();
    out.push_str(&render::table(
        &["theme", "verbatims", "accounts", "NPS", "detractors"],
        &rows,
    ));
    for theme in themes.themes.iter().chain(&themes.no_need) {
        let _ = writeln!(out, "\n{} ({})", theme.name, theme.terms.join(", "));
        for text in &theme.representatives {
            let _ = writeln!(out, "  \"{text}\"");
        }
    }
    out
}

/// Arguments of `strata roadmap`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  strata roadmap --segmentation behavior
  strata roadmap --segmentation size --out out     also write out/roadmap.json")]
pub struct RoadmapArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// The segmentation to plan for.
    #[arg(long)]
    segmentation: String,
    /// Override the project's as_of date (YYYY-MM-DD).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Also write OUT/roadmap.json.
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `strata roadmap`.
pub async fn run_roadmap(args: RoadmapArgs) -> anyhow::Result<()> {
    let project = crate::load_project(&args.project)?;
    let observer = progress::PhaseProgress::new();
    let report = pipeline::roadmap(
        &project,
        &RunOptions::at(args.as_of),
        &args.segmentation,
        &observer,
    )
    .await?;
    observer.finish_all();
    emit(
        &report,
        args.json,
        args.out.as_deref(),
        "roadmap.json",
        roadmap_report,
    )
}

/// Each segment's role, what it relies on, ignores and needs; then the paragraph.
pub fn roadmap_report(report: &pipeline::RoadmapReport) -> String {
    let roadmap = &report.roadmap;
    let mut out = format!(
        "as of {}: roadmap for `{}` (needs: {})\n",
        report.as_of, roadmap.segmentation, report.themes
    );
    for segment in &roadmap.segments {
        let role = if roadmap.core.as_deref() == Some(segment.segment.as_str()) {
            "CORE, priority"
        } else if segment.priority {
            "priority"
        } else {
            "maintenance"
        };
        let _ = writeln!(
            out,
            "\n{} [{role}]: {} of ARR, NRR {}",
            segment.segment,
            percent(segment.share_of_arr),
            percent(segment.nrr)
        );
        if let Some(share) = segment.share_of_net_new_arr {
            let verdict = if share >= strata_core::roadmap::PRIORITY_NET_NEW_BAR {
                "meets"
            } else {
                "below"
            };
            let _ = writeln!(
                out,
                "  net new ARR, last 12 months: {} of the base ({verdict} the {:.0}% bar)",
                percent(Some(share)),
                strata_core::roadmap::PRIORITY_NET_NEW_BAR * 100.0
            );
        }
        let relies: Vec<String> = segment
            .relies_on
            .iter()
            .map(|u| {
                format!(
                    "{} ({} use it, {})",
                    u.feature,
                    percent(Some(u.share)),
                    u.lift
                        .map_or_else(|| "only them".to_string(), |l| format!("{l:.1}x the rest"))
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "  relies on: {}",
            if relies.is_empty() {
                "–".to_string()
            } else {
                relies.join("; ")
            }
        );
        let _ = writeln!(
            out,
            "  does not use (< 5%): {}",
            if segment.does_not_use.is_empty() {
                "–".to_string()
            } else {
                segment.does_not_use.join(", ")
            }
        );
        let needs: Vec<String> = segment
            .unmet_needs
            .iter()
            .map(|n| format!("{} ({:.1}x the base)", n.theme, n.ratio))
            .collect();
        let _ = writeln!(
            out,
            "  unmet needs: {}",
            if needs.is_empty() {
                "–".to_string()
            } else {
                needs.join("; ")
            }
        );
    }
    let _ = writeln!(out, "\n{}", roadmap.recommendation);
    out
}
