//! `strata icp`: the ideal customer profile as rules, with evidence.
use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::NaiveDate;
use strata_core::icp::IcpParams;
use strata_core::pipeline::{self, IcpReport, RunOptions};
use strata_core::project::PROJECT_FILE;

use crate::progress;
use crate::render::{self, percent};

/// Arguments of `strata icp`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  strata icp --project .                     top 5 profiles by NRR from what is known 60 days after signup
  strata icp --days 30 --min-support 50      earlier signals, larger profiles
  strata icp --save icp                      add the best profile to strata.toml as segmentation `icp`
  strata icp --out out                       also write out/icp.json")]
pub struct IcpArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Behavior in the first N days after signup counts as known early
    /// (adoption features and custom features bounded by within_days_of_signup <= N).
    #[arg(long, default_value_t = 60)]
    days: u32,
    /// Fewest accounts paying 12 months ago that a profile must cover (the
    /// bootstrap interval printed with each profile says how sure it is).
    #[arg(long, default_value_t = 10)]
    min_support: usize,
    /// Conditions per profile, at most (1 to 3).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=3))]
    depth: u8,
    /// Profiles to print.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// What profiles should be high in: nrr (revenue kept and grown), retention
    /// (share of accounts still paying) or expansion (share paying more).
    #[arg(long, default_value = "nrr", value_parser = strata_core::icp::Target::parse)]
    target: strata_core::icp::Target,
    /// Override the project's as_of date (YYYY-MM-DD).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Add the best profile to strata.toml as a rules segmentation NAME
    /// (segments `ICP` and `other`).
    #[arg(long, value_name = "NAME")]
    save: Option<String>,
    /// Also write OUT/icp.json (the profiles, their evidence and SQL).
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `strata icp`.
pub async fn run(args: IcpArgs) -> anyhow::Result<()> {
    let project = crate::load_project(&args.project)?;
    let params = IcpParams {
        max_depth: usize::from(args.depth),
        min_support: args.min_support,
        top: args.top,
        target: args.target,
        ..IcpParams::default()
    };
    let observer = progress::PhaseProgress::new();
    let report = pipeline::icp(
        &project,
        &RunOptions::at(args.as_of),
        args.days,
        &params,
        &observer,
    )
    .await?;
    observer.finish_all();
    crate::analyses::emit(
        &report,
        args.json,
        args.out.as_deref(),
        "icp.json",
        icp_report,
    )?;
    if let Some(name) = &args.save {
        let Some(best) = report.result.rules.first() else {
            anyhow::bail!("no profile beats the base, so there is nothing to save");
        };
        let project_file = if args.project.is_dir() {
            args.project.join(PROJECT_FILE)
        } else {
            args.project.clone()
        };
        let (dir, text) =
            strata_core::project::read_for_new_segmentation(&project_file, name, "--save")?;
        let quote = |text: &str| toml::Value::String(text.to_string()).to_string();
        let label = report.result.target.label();
        let lift = best
            .lift
            .map_or_else(|| "–".to_string(), |l| format!("{l:.2}"));
        // The early-adoption features the rule reads, declared so that the
        // project computes them on every run.
        let columns = strata_core::rules::parse(&best.rule)
            .map(|expr| {
                let mut names = Vec::new();
                expr.walk(&mut |node| {
                    if let strata_core::rules::ast::ExprKind::Column(column) = &node.kind {
                        names.push(column.clone());
                    }
                });
                names
            })
            .unwrap_or_default();
        let mut features = String::new();
        for (feature, filter) in &report.early_features {
            if columns.contains(feature) {
                features.push_str(&format!(
                    "\n# Early adoption read by the profile below (`strata icp --save {name}`).\n\
                     [features.{feature}]\ncount = {}\nwithin_days_of_signup = {}\n",
                    quote(filter),
                    report.days
                ));
            }
        }
        let block = format!(
            "{features}\n# Ideal customer profile found by `strata icp --save {name}` (as of {}, first {} days):\n\
             # {} cohort accounts, {label} {} vs {} (lift {lift}).\n\
             [[segmentation]]\nname = {}\nkind = \"rules\"\nsegments = [\n  {{ name = \"ICP\", when = {} }},\n  {{ name = \"other\", when = \"TRUE\" }},\n]\n",
            report.as_of,
            report.days,
            best.cohort_accounts,
            percent(Some(best.inside)),
            percent(best.outside),
            quote(name),
            quote(&best.rule),
        );
        let new_text =
            strata_core::project::append_segmentation(&project_file, &dir, &text, &block)?;
        strata_core::outputs::write_file_atomically(&project_file, new_text.as_bytes())?;
        eprintln!(
            "saved the best profile as segmentation `{name}` in {}",
            project_file.display()
        );
    }
    Ok(())
}

/// The profiles as text: rule, SQL, coverage, NRR inside vs outside, lift and its interval.
pub fn icp_report(report: &IcpReport) -> String {
    let result = &report.result;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "as of {}: {} accounts paid 12 months ago, {} {}; searched {} attributes known {} days after signup ({})\n",
        report.as_of,
        result.cohort_accounts,
        result.target.label(),
        percent(result.cohort_value),
        result.attributes.len(),
        report.days,
        result.attributes.join(", ")
    );
    if result.rules.is_empty() {
        let _ = writeln!(
            out,
            "no profile has a higher NRR than the base with enough accounts"
        );
        return out;
    }
    let rows: Vec<Vec<String>> = result
        .rules
        .iter()
        .enumerate()
        .map(|(idx, rule)| {
            vec![
                format!("#{}", idx + 1),
                rule.accounts.to_string(),
                percent(rule.share_of_arr),
                percent(Some(rule.inside)),
                percent(rule.outside),
                rule.lift.map_or_else(|| "–".into(), |l| format!("{l:.2}")),
                rule.lift_ci
                    .map_or_else(|| "–".into(), |(low, high)| format!("{low:.2}-{high:.2}")),
            ]
        })
        .collect();
    out.push_str(&render::table(
        &[
            "profile", "accounts", "% ARR", "NRR in", "NRR out", "lift", "95% CI",
        ],
        &rows,
    ));
    out.push('\n');
    for (idx, (rule, sql)) in result.rules.iter().zip(&report.sql).enumerate() {
        let _ = writeln!(
            out,
            "#{} {}: {} accounts, {} {} vs {} (lift {}{})\n   SQL: {sql}",
            idx + 1,
            rule.rule,
            rule.accounts,
            result.target.label(),
            percent(Some(rule.inside)),
            percent(rule.outside),
            rule.lift.map_or_else(|| "–".into(), |l| format!("{l:.2}")),
            rule.lift_ci.map_or_else(String::new, |(low, high)| format!(
                ", 95% CI {low:.2}-{high:.2}"
            )),
        );
    }
    out
}
