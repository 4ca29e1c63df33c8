//! `strata backtest`: a segmentation recomputed at past dates under today's
//! definitions, against what happened next.
use std::path::PathBuf;

use chrono::NaiveDate;
use strata_core::backtest::{self, Backtest, BacktestParams, Share};
use strata_core::pipeline::Quiet;

use crate::progress;
use crate::render;
use crate::state_cmd::Every;

/// Arguments of `strata backtest`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  strata backtest --segmentation health                    every month of the last year, 90 days ahead
  strata backtest --segmentation health --horizon 60d --from 2025-06-01 --every month
  strata backtest --segmentation behavior_v1 --out out     also write out/backtest.json")]
pub struct BacktestArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// The segmentation to test.
    #[arg(long)]
    segmentation: String,
    /// How far ahead each past date's outcome is read: days, as `90d` or `90`.
    #[arg(long, default_value = "90d", value_parser = parse_horizon)]
    horizon: u32,
    /// The first past date [default: 11 months before the last date whose outcome is known].
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Spacing of the past dates.
    #[arg(long, value_enum, default_value = "month")]
    every: Every,
    /// The current as-of date [default: the project's]; no outcome after it is read.
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Also write OUT/backtest.json.
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn parse_horizon(text: &str) -> Result<u32, String> {
    strata_core::project::risk::parse_horizon(text)
        .ok_or_else(|| format!("`{text}` is not a horizon: write days, as 90d (1 to 730)"))
}

/// Runs `strata backtest`.
pub async fn run(args: BacktestArgs) -> anyhow::Result<()> {
    let project = crate::load_project(&args.project)?;
    let params = BacktestParams {
        segmentation: args.segmentation.clone(),
        horizon_days: args.horizon,
        from: args.from,
        months: 12,
        every: args.every.into(),
        as_of: args.as_of,
        cache: None,
    };
    let bar = progress::counter("backtesting");
    let report = backtest::backtest(&project, &params, &Quiet, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await;
    bar.finish_and_clear();
    let report = report?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
    }
    if let Some(out) = &args.out {
        let path = strata_core::outputs::write_backtests(std::slice::from_ref(&report), out)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn share(share: &Share) -> String {
    format!(
        "{} ({:.1}%, {:.1}-{:.1})",
        share.count,
        100.0 * share.share,
        100.0 * share.low,
        100.0 * share.high
    )
}

/// The per-segment table: what became of each segment's paying accounts.
pub fn text(report: &Backtest) -> String {
    let first = report
        .dates
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    let last = report
        .dates
        .last()
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut out = format!(
        "`{}` at {} past dates ({first} to {last}) under today's definitions, each followed {} days (as of {}):\n",
        report.segmentation,
        report.dates.len(),
        report.horizon_days,
        report.as_of
    );
    let rows: Vec<Vec<String>> = report
        .segments
        .iter()
        .chain(std::iter::once(&report.overall))
        .map(|s| {
            vec![
                s.segment.clone(),
                s.observed.to_string(),
                share(&s.churned),
                share(&s.contracted),
                share(&s.expanded),
                if s.segment == "(all)" {
                    "-".into()
                } else {
                    format!("{:.0}%", 100.0 * s.churn_recall)
                },
                if s.segment == "(all)" {
                    "-".into()
                } else {
                    format!("{:.2}x", s.churn_lift)
                },
            ]
        })
        .collect();
    out.push_str(&render::table(
        &[
            "segment",
            "paying",
            "churned (95% CI)",
            "contracted",
            "expanded",
            "of churners",
            "churn lift",
        ],
        &rows,
    ));
    out.push_str(
        "\npaying: account-dates paying at a past date; churned: paying nothing at the horizon; \
         of churners: the segment's share of all churn (its recall as a churn alarm).\n",
    );
    if let Some(score) = &report.score {
        out.push_str(&format!(
            "\nthe score: AUC {:.3} for churn within {} days ({} churned of {} scored; 0.5 is chance)\n",
            score.auc, report.horizon_days, score.churned, score.observed
        ));
        let rows: Vec<Vec<String>> = score
            .deciles
            .iter()
            .enumerate()
            .map(|(idx, d)| {
                vec![
                    (idx + 1).to_string(),
                    format!(
                        "{}-{}",
                        strata_core::score::number(d.low),
                        strata_core::score::number(d.high)
                    ),
                    d.observed.to_string(),
                    share(&d.churned),
                ]
            })
            .collect();
        out.push_str(&render::table(
            &["decile", "score", "paying", "churned (95% CI)"],
            &rows,
        ));
    }
    out
}
