//! `strata risk`: learn `churn_risk` and `expansion_likelihood` from the
//! base's history and show what they learned, how well they did on dates
//! held out by time, and the riskiest accounts with their drivers.
use std::path::PathBuf;

use chrono::NaiveDate;
use strata_core::pipeline::{self, RunOptions};
use strata_core::project::risk::RiskSettings;
use strata_core::risk::{self, Learned, RiskModel, RiskModels, Target};

use crate::{analyses, progress};

/// Arguments of `strata risk`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The project's [risk] section sets the defaults; the flags override it.

Examples:
  strata risk                                   learn both risks, print the report card and the riskiest accounts
  strata risk --horizon 60d --history 12        60 days ahead, from the last 12 months
  strata risk --out out                         also write out/risk.json (every paying account, with drivers)
  strata risk --export examples.parquet         the point-in-time examples, for another tool to learn from"
)]
pub struct RiskArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// The as-of date [default: the project's]; nothing after it is read.
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Days ahead: churn is paying nothing then, expansion paying more: `90d`.
    #[arg(long, value_parser = crate::backtest_cmd::parse_horizon)]
    horizon: Option<u32>,
    /// Past months (one as-of date each) to learn from.
    #[arg(long)]
    history: Option<u32>,
    /// Fewest churned (expanded) account-dates to learn from.
    #[arg(long)]
    min_outcomes: Option<usize>,
    /// Accounts to list per risk, riskiest first.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Also write OUT/risk.json.
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Write the point-in-time examples (date, account, labels, split,
    /// features) to this Parquet file.
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
    /// Print JSON (risk.json's content).
    #[arg(long)]
    json: bool,
}

/// Runs `strata risk`.
pub async fn run(args: RiskArgs) -> anyhow::Result<()> {
    let project = crate::load_project(&args.project)?;
    let mut settings: RiskSettings = project.risk.clone().unwrap_or_default();
    if let Some(days) = args.horizon {
        settings.horizon_days = days;
    }
    if let Some(months) = args.history {
        anyhow::ensure!(
            (3..=120).contains(&months),
            "--history {months}: learn from 3 to 120 past months"
        );
        settings.history_months = months;
    }
    if let Some(min) = args.min_outcomes {
        anyhow::ensure!(min >= 10, "--min-outcomes {min}: use at least 10");
        settings.min_outcomes = min;
    }
    let inputs = pipeline::risk_inputs(&project, &RunOptions::at(args.as_of)).await?;
    let bar = progress::counter("point-in-time features");
    let snapshots = inputs
        .snapshots(&project, &settings, &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
        .await;
    bar.finish_and_clear();
    let snapshots = snapshots?;
    let risks = risk::learn_from(&snapshots, &inputs.features, &settings)?;
    let ids = &inputs.sources.accounts.ids;
    if let Some(path) = &args.export {
        let table = risk::examples_table(&snapshots, &inputs.features, ids, &settings)?;
        strata_core::outputs::write_parquet(path, &table)?;
        eprintln!("wrote {} ({} examples)", path.display(), table.num_rows());
    }
    let json = risks.to_json(inputs.as_of, ids);
    analyses::emit(&json, args.json, args.out.as_deref(), "risk.json", |_| {
        text(&risks, ids, args.top)
    })
}

/// The report card of each model and its riskiest accounts.
pub fn text(risks: &RiskModels, ids: &[String], top: usize) -> String {
    let mut out = String::new();
    for learned in &risks.models {
        match learned {
            Learned::Refused { reason, .. } => out.push_str(&format!("{reason}\n\n")),
            Learned::Trained(model) => out.push_str(&model_text(model, ids, top)),
        }
    }
    out.push_str(
        "drivers: the features that raise an account's log-odds most above the average paying account's.\n",
    );
    out
}

fn model_text(model: &RiskModel, ids: &[String], top: usize) -> String {
    let feature = model.target.feature();
    let mut out = format!(
        "{feature}: the probability that a paying account {}\n  learned from {} past dates ({} to {}): {} paying account-dates, {} with the outcome ({:.1}%)\n",
        model.outcome,
        model.training.dates,
        model.training.first,
        model.training.last,
        model.training.rows,
        model.training.positives,
        100.0 * model.training.positives as f64 / model.training.rows.max(1) as f64,
    );
    match &model.holdout {
        Some(holdout) => {
            out.push_str(&format!(
                "  held out by time ({} to {}, learned only from outcomes known before): AUC {:.3} on {} account-dates ({} with the outcome)\n",
                holdout.dates.first().map_or("", String::as_str),
                holdout.dates.last().map_or("", String::as_str),
                holdout.auc,
                holdout.rows,
                holdout.positives
            ));
            let bins: Vec<String> = holdout
                .calibration
                .iter()
                .map(|bin| format!("{:.1}/{:.1}", 100.0 * bin.predicted, 100.0 * bin.observed))
                .collect();
            out.push_str(&format!(
                "  calibration by decile, predicted/observed %: {}\n",
                bins.join("  ")
            ));
        }
        None => out.push_str(
            "  too few outcomes on the last dates to judge it held out: uncalibrated, penalty 0.01\n",
        ),
    }
    let strongest: Vec<String> = model
        .coefficients
        .iter()
        .take(6)
        .map(|c| format!("{} {:+.2}", c.input, c.coefficient))
        .collect();
    out.push_str(&format!(
        "  strongest inputs (log-odds per standard deviation): {}\n",
        strongest.join(", ")
    ));
    let mut scored: Vec<(usize, f64)> = model
        .accounts
        .iter()
        .enumerate()
        .filter_map(|(row, risk)| Some((row, risk.as_ref()?.probability)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let word = match model.target {
        Target::Churn => "highest churn risk",
        Target::Expansion => "most likely to expand",
    };
    out.push_str(&format!("  {word} of {} paying accounts:\n", scored.len()));
    for &(row, probability) in scored.iter().take(top) {
        let drivers: Vec<String> = model.accounts[row]
            .iter()
            .flat_map(|risk| &risk.drivers)
            .map(|d| format!("{} = {} ({:+.2})", d.feature, d.value, d.contribution))
            .collect();
        out.push_str(&format!(
            "    {:<16} {:>5.1}%  {}\n",
            ids.get(row).map_or("", String::as_str),
            100.0 * probability,
            drivers.join("; ")
        ));
    }
    out.push('\n');
    out
}
