//! Rendering for the terminal: segment tables, feature lists and errors.
//!
//! Rule errors are drawn under their source line with miette; every other
//! error prints its whole chain, one problem per line, with its help.
use std::fmt::Write as _;

use strata_core::error::{Error, Problem};
use strata_core::measures::Economics;
use strata_core::measures::quality::SegmentationQuality;
use strata_core::pipeline::RunResult;
use strata_core::rules::RuleError;

/// Formats money compactly: $950, $12.3k, $4.56M.
pub fn money(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e6 {
        format!("${:.2}M", value / 1e6)
    } else if magnitude >= 1e3 {
        format!("${:.1}k", value / 1e3)
    } else {
        format!("${value:.0}")
    }
}

/// Formats a share as a percentage with one decimal.
pub fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{:.1}%", v * 100.0))
}

fn nps(economics: &Economics) -> String {
    match economics.nps {
        Some(value) => format!("{value:+.0} (n={})", economics.nps_answers),
        None => "–".to_string(),
    }
}

/// A plain text table with left-aligned first column and right-aligned numbers.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    table_with_labels(header, rows, 1)
}

/// A plain text table whose first `n_labels` columns are left-aligned labels
/// and the rest right-aligned numbers.
pub fn table_with_labels(header: &[&str], rows: &[Vec<String>], n_labels: usize) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (idx, cell) in row.iter().enumerate() {
            widths[idx] = widths[idx].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<&str>| {
        for (idx, cell) in cells.iter().enumerate() {
            let pad = widths[idx] - cell.chars().count();
            if idx < n_labels {
                if idx > 0 {
                    out.push_str("  ");
                }
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str("  ");
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
        }
        out.push('\n');
    };
    line(&mut out, header.to_vec());
    let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    out.push_str(&"─".repeat(total));
    out.push('\n');
    for row in rows {
        line(&mut out, row.iter().map(String::as_str).collect());
    }
    out
}

fn economics_row(name: &str, economics: &Economics) -> Vec<String> {
    vec![
        name.to_string(),
        economics.accounts.to_string(),
        percent(Some(economics.share_of_accounts)),
        money(economics.arr),
        percent(economics.share_of_arr),
        percent(economics.nrr),
        percent(economics.grr),
        percent(economics.logo_churn),
        nps(economics),
    ]
}

/// One line on a segmentation's quality.
pub fn quality_line(quality: &SegmentationQuality) -> String {
    let number = |value: Option<f64>| value.map_or_else(|| "–".to_string(), |v| format!("{v:.2}"));
    let mut out = format!(
        "quality: cohesion {}, revenue concentration {}, detectability {}, score {}\n",
        number(quality.cohesion),
        percent(quality.revenue_concentration),
        number(quality.detectability),
        number(quality.score)
    );
    for warning in &quality.warnings {
        let _ = writeln!(out, "  ! {warning}");
    }
    out
}

/// The segment table of a run: one block per segmentation.
pub fn segment_tables(result: &RunResult) -> String {
    let header = [
        "segment", "accounts", "% accts", "ARR", "% ARR", "NRR", "GRR", "churn", "NPS", "quality",
    ];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "as of {}: {} accounts, {} events, ARR {}, NRR {}, GRR {}, logo churn {}, NPS {}",
        result.as_of,
        result.features.batch.num_rows(),
        result.event_rows,
        money(result.overall.arr),
        percent(result.overall.nrr),
        percent(result.overall.grr),
        percent(result.overall.logo_churn),
        nps(&result.overall)
    );
    let spread = &result.nrr_spread;
    if let (Some(points), Some(tier)) = (spread.spread_points, spread.tier) {
        let _ = writeln!(
            out,
            "NRR spread: {points:.0} pts ({tier}): most engaged quartile {} vs least engaged {}",
            percent(spread.top_nrr),
            percent(spread.bottom_nrr)
        );
    }
    out.push('\n');
    for segmentation in &result.segmentations {
        let _ = writeln!(out, "{} ({})", segmentation.name, segmentation.kind);
        if let Some(clustering) = &segmentation.clustering {
            let _ = writeln!(out, "{}", clustering.explanation);
        }
        let mut rows: Vec<Vec<String>> = segmentation
            .segments
            .iter()
            .map(|segment| {
                let mut row = economics_row(&segment.name, &segment.economics);
                let score = segment
                    .quality
                    .score
                    .map_or_else(|| "–".to_string(), |v| format!("{v:.3}"));
                row.push(if segment.quality.passes() {
                    score
                } else {
                    format!("{score} !")
                });
                row
            })
            .collect();
        if segmentation.unassigned.accounts > 0 {
            let mut row = economics_row("(unassigned)", &segmentation.unassigned);
            row.push(String::new());
            rows.push(row);
        }
        out.push_str(&table(&header, &rows));
        if segmentation.kind == "clusters" {
            for segment in &segmentation.segments {
                if let Some(description) = &segment.description {
                    let _ = writeln!(out, "  {description}");
                }
            }
        }
        out.push_str(&quality_line(&segmentation.quality));
        out.push('\n');
    }
    out
}

/// The outage behind `error`, if a service strata needs did not answer.
pub fn unavailable(error: &anyhow::Error) -> Option<&Problem> {
    error
        .chain()
        .find_map(|cause| match cause.downcast_ref::<Error>() {
            Some(Error::Unavailable(problem)) => Some(problem),
            _ => None,
        })
}

/// The process exit code for `error`: [`Error::UNAVAILABLE_EXIT_CODE`] when
/// a service did not answer (retrying later may succeed), else 1.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if unavailable(error).is_some() {
        Error::UNAVAILABLE_EXIT_CODE
    } else {
        1
    }
}

/// Renders an error for the terminal: rule errors with their source line.
pub fn error_report(error: &anyhow::Error) -> String {
    let mut out = String::new();
    if let Some(Error::Invalid(problems)) = error.downcast_ref::<Error>() {
        if problems.len() > 1 {
            let _ = writeln!(out, "error: {} problems found", problems.len());
        }
        for problem in problems {
            out.push_str(&problem_report(problem));
        }
        return out;
    }
    let _ = writeln!(out, "error: {error:#}");
    out
}

fn problem_report(problem: &Problem) -> String {
    let mut out = String::new();
    match &problem.rule {
        Some(rule) => {
            let _ = writeln!(out, "error: {}: {}", problem.location, problem.message);
            let mut rendered = String::new();
            let handler = miette::GraphicalReportHandler::new_themed(
                miette::GraphicalTheme::unicode_nocolor(),
            );
            if handler
                .render_report(&mut rendered, &RuleDiagnostic(rule))
                .is_ok()
            {
                out.push_str(&rendered);
            }
        }
        None => {
            let _ = writeln!(out, "error: {}: {}", problem.location, problem.message);
            if let Some(help) = &problem.help {
                let _ = writeln!(out, "  help: {help}");
            }
        }
    }
    out
}

/// A rule error as a miette diagnostic: the rule text with the span labeled.
struct RuleDiagnostic<'a>(&'a RuleError);

impl std::fmt::Debug for RuleDiagnostic<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for RuleDiagnostic<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "in rule `{}`",
            self.0.context.as_deref().unwrap_or("rule")
        )
    }
}

impl std::error::Error for RuleDiagnostic<'_> {}

impl miette::Diagnostic for RuleDiagnostic<'_> {
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.0
            .help
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.0.rule_text as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.0.span;
        let length = span.end.saturating_sub(span.start).max(1);
        let label = miette::LabeledSpan::new(Some(self.0.message.clone()), span.start, length);
        Some(Box::new(std::iter::once(label)))
    }
}
