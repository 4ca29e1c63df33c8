//! `report.html`: one self-contained page (inline CSS and SVG, no scripts,
//! no network) with every segmentation's economics and quality, a chart of
//! each segment's share of accounts and of ARR, the persona cards, the NRR
//! spread, and segment sizes over time when the state store has history.
//!
//! Charts are drawn as SVG by hand: bars and lines need a few dozen lines,
//! and a charting library would have to be vendored to open offline.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::measures::quality::{Purpose, to_act_on, verdict};
use crate::pipeline::{CohortReport, IcpReport, RoadmapReport, RunResult, SegmentationResult};

/// Analyses `strata report` adds to a run's report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// The ideal customer profile.
    pub icp: Option<&'a IcpReport>,
    /// Cohort retention, per segment of one segmentation.
    pub cohorts: Option<&'a CohortReport>,
    /// What each segment relies on, ignores and needs.
    pub roadmap: Option<&'a RoadmapReport>,
    /// The run's backtests of the segmentations that claim risk and health.
    pub backtests: &'a [crate::backtest::Backtest],
    /// What moved since the previous run.
    pub movement: Option<&'a crate::state::flows::Movement>,
}

/// One segment at one as_of date (a recorded run or a backfilled point),
/// for the trends.
#[derive(Debug, Clone, PartialEq)]
pub struct SizePoint {
    /// The as_of date.
    pub as_of: NaiveDate,
    /// Segmentation.
    pub segmentation: String,
    /// Segment.
    pub segment: String,
    /// Accounts.
    pub accounts: i64,
    /// ARR.
    pub arr: f64,
    /// NRR (`None`: not measurable, or recorded before NRR was kept).
    pub nrr: Option<f64>,
}

/// The page style of the report, shared with the dashboard.
pub const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}table{border-collapse:collapse;margin:.5em 0}th,td{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}th:first-child,td:first-child{text-align:left}.muted{color:#888}.warning{color:#a60}.chart text{font-size:12px}.chart .value{fill:#555}.axis{stroke:#999}.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;max-width:340px}small{color:#777;font-weight:normal}.movers td,.movers th{text-align:left}.verdict summary{cursor:pointer}.pass{color:#2a7}.act{color:#b60;font-size:.7em}.lead{font-size:1.1em}.trends{display:flex;flex-wrap:wrap;gap:8px}.trends figure{margin:0}figcaption{font-weight:600;color:#444}.overlap .cell-text{font-size:11px;fill:#222}";

const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A ratio as a percentage with one decimal, `–` when unknown.
pub fn percent(value: Option<f64>) -> String {
    value.map_or("–".to_string(), |v| format!("{:.1}%", v * 100.0))
}

/// NPS with the answers behind it, `+12 (n=40)`, or `–` without answers.
pub fn nps_text(economics: &crate::measures::Economics) -> String {
    economics.nps.map_or("–".to_string(), |nps| {
        format!("{nps:+.0} (n={})", economics.nps_answers)
    })
}

/// Dollars, abbreviated: `$1.25M`, `$12k`, `$900`.
pub fn money(value: f64) -> String {
    if value >= 1e6 {
        format!("${:.2}M", value / 1e6)
    } else if value >= 1e3 {
        format!("${:.0}k", value / 1e3)
    } else {
        format!("${value:.0}")
    }
}

/// Horizontal bars: per segment, its share of accounts and of ARR.
fn share_chart(segmentation: &SegmentationResult) -> String {
    let rows: Vec<(&str, f64, f64)> = segmentation
        .segments
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.economics.share_of_accounts,
                s.economics.share_of_arr.unwrap_or(0.0),
            )
        })
        .collect();
    let (label_width, bar_width, row_height) = (220.0, 360.0, 34.0);
    let height = 30.0 + row_height * rows.len() as f64;
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\">\
         <title>{}: share of accounts and of ARR per segment</title>\
         <rect x=\"{label_width}\" y=\"4\" width=\"12\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"13\">% of accounts</text>\
         <rect x=\"{}\" y=\"4\" width=\"12\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"13\">% of ARR</text>",
        escape(&segmentation.name),
        PALETTE[0],
        label_width + 16.0,
        label_width + 130.0,
        PALETTE[1],
        label_width + 146.0,
        w = label_width + bar_width + 70.0,
    );
    for (idx, (name, accounts, arr)) in rows.iter().enumerate() {
        let y = 24.0 + row_height * idx as f64;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            label_width - 8.0,
            y + 18.0,
            escape(name)
        );
        for (offset, (share, color)) in [(0.0, (*accounts, PALETTE[0])), (13.0, (*arr, PALETTE[1]))]
        {
            let width = (share.clamp(0.0, 1.0) * bar_width).max(1.0);
            let _ = write!(
                svg,
                "<rect x=\"{label_width}\" y=\"{}\" width=\"{width:.1}\" height=\"11\" fill=\"{color}\"><title>{:.1}%</title></rect>\
                 <text x=\"{:.1}\" y=\"{}\" class=\"value\">{:.1}%</text>",
                y + 4.0 + offset,
                share * 100.0,
                label_width + width + 4.0,
                y + 13.0 + offset,
                share * 100.0
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A line chart: one polyline per series over shared x labels; `None`
/// values leave gaps in the points. `unit` formats the y axis maximum.
fn line_chart(
    title: &str,
    x_labels: &[String],
    series: &[(String, Vec<Option<f64>>)],
    unit: fn(f64) -> String,
    reference: Option<f64>,
) -> Option<String> {
    if x_labels.len() < 2 || series.is_empty() {
        return None;
    }
    let max = series
        .iter()
        .flat_map(|(_, values)| values.iter().flatten().copied())
        .fold(reference.unwrap_or(0.0), f64::max)
        .max(1e-9);
    let (left, top, width, height) = (60.0, 20.0, 520.0, 200.0);
    let x = |idx: usize| left + width * idx as f64 / (x_labels.len() - 1) as f64;
    let y = |value: f64| top + height - height * value / max;
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 780 260\" width=\"780\" height=\"260\">\
         <title>{}</title>\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axis\"/>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" class=\"axis\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
         <text x=\"{left}\" y=\"248\">{}</text><text x=\"{}\" y=\"248\" text-anchor=\"end\">{}</text>",
        escape(title),
        top + height,
        left + width,
        top + height,
        top + height,
        left - 6.0,
        top + 4.0,
        escape(&unit(max)),
        left - 6.0,
        top + height,
        escape(&unit(0.0)),
        escape(&x_labels[0]),
        left + width,
        escape(&x_labels[x_labels.len() - 1]),
    );
    if let Some(value) = reference {
        let _ = write!(
            svg,
            "<line x1=\"{left}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\" class=\"axis\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\">{4}</text>",
            y(value),
            left + width,
            left - 6.0,
            y(value) + 4.0,
            escape(&unit(value))
        );
    }
    for (idx, (name, values)) in series.iter().enumerate() {
        let color = PALETTE[idx % PALETTE.len()];
        let path: Vec<String> = values
            .iter()
            .enumerate()
            .filter_map(|(i, value)| value.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>\
             <text x=\"{}\" y=\"{}\" fill=\"{color}\">{}</text>",
            path.join(" "),
            escape(name),
            left + width + 10.0,
            top + 14.0 * (idx as f64 + 1.0),
            escape(name)
        );
        // A mark per point, with its value on hover.
        for (i, value) in values.iter().enumerate() {
            if let Some(v) = value {
                let _ = write!(
                    svg,
                    "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{}, {}: {}</title></circle>",
                    x(i),
                    y(*v),
                    escape(name),
                    escape(&x_labels[i]),
                    escape(&unit(*v))
                );
            }
        }
    }
    svg.push_str("</svg>");
    Some(svg)
}

/// The trends of one segmentation over its as_of dates (recorded runs and
/// backfilled points): accounts, ARR and NRR per segment, one line chart
/// each (NRR with a dashed line at 100%); none with fewer than two dates.
fn trend_charts(segmentation: &str, points: &[&SizePoint]) -> Vec<String> {
    let mut dates: Vec<NaiveDate> = points.iter().map(|p| p.as_of).collect();
    dates.sort();
    dates.dedup();
    let mut order: Vec<&str> = Vec::new();
    let mut by_segment: BTreeMap<(&str, NaiveDate), &SizePoint> = BTreeMap::new();
    for point in points {
        if !order.contains(&point.segment.as_str()) {
            order.push(&point.segment);
        }
        by_segment.insert((point.segment.as_str(), point.as_of), point);
    }
    let labels: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
    let series = |measure: &dyn Fn(&SizePoint) -> Option<f64>| -> Vec<(String, Vec<Option<f64>>)> {
        order
            .iter()
            .map(|segment| {
                let values = dates
                    .iter()
                    .map(|d| by_segment.get(&(*segment, *d)).and_then(|p| measure(p)))
                    .collect();
                (segment.to_string(), values)
            })
            .filter(|(_, values): &(String, Vec<Option<f64>>)| values.iter().any(Option::is_some))
            .collect()
    };
    let charts: [(
        &str,
        Vec<(String, Vec<Option<f64>>)>,
        fn(f64) -> String,
        Option<f64>,
    ); 3] = [
        (
            "accounts",
            series(&|p| Some(p.accounts as f64)),
            |v| format!("{v:.0}"),
            None,
        ),
        ("ARR", series(&|p| Some(p.arr)), money, None),
        (
            "NRR",
            series(&|p| p.nrr),
            |v| format!("{:.0}%", 100.0 * v),
            Some(1.0),
        ),
    ];
    charts
        .into_iter()
        .filter_map(|(what, series, unit, reference)| {
            line_chart(
                &format!("{segmentation}: {what} per segment over time"),
                &labels,
                &series,
                unit,
                reference,
            )
            .map(|svg| format!("<figure class=\"trend\" data-measure=\"{what}\"><figcaption>{what}</figcaption>{svg}</figure>"))
        })
        .collect()
}

/// Signup cohorts a retention point needs.
const MIN_COHORTS: usize = 3;

/// Revenue retention by months since signup, per segment: the MRR-weighted
/// mean over the signup cohorts (at least [`MIN_COHORTS`]) that have reached
/// that month, with a dashed line at 100%.
fn retention_chart(report: &CohortReport) -> Option<String> {
    let months = report
        .groups
        .iter()
        .flat_map(|g| g.cohorts.iter().map(|c| c.revenue_retention.len()))
        .max()
        .unwrap_or(0);
    let series: Vec<(String, Vec<Option<f64>>)> = report
        .groups
        .iter()
        .map(|group| {
            let curve = (0..months)
                .map(|month| {
                    let (mut weighted, mut weight, mut cohorts) = (0.0, 0.0, 0);
                    for cohort in &group.cohorts {
                        if let Some(Some(value)) = cohort.revenue_retention.get(month) {
                            weighted += value * cohort.base_mrr;
                            weight += cohort.base_mrr;
                            cohorts += 1;
                        }
                    }
                    // A point from one or two signup months is noise, not a curve.
                    (weight > 0.0 && cohorts >= MIN_COHORTS).then(|| weighted / weight)
                })
                .collect();
            (
                group
                    .segment
                    .clone()
                    .unwrap_or_else(|| "all accounts".into()),
                curve,
            )
        })
        .collect();
    let labels: Vec<String> = (0..months).map(|m| format!("month {m}")).collect();
    line_chart(
        "revenue retention by months since signup (MRR-weighted over signup cohorts)",
        &labels,
        &series,
        |max| format!("{:.0}%", max * 100.0),
        Some(1.0),
    )
}

/// The segments-to-roadmap section: the recommendation and, per segment,
/// what it relies on, ignores and needs.
pub fn roadmap_section(out: &mut String, report: &RoadmapReport) {
    let roadmap = &report.roadmap;
    let _ = write!(
        out,
        "<section id=\"roadmap\"><h2>Segments to roadmap <small>({})</small></h2><p>{}</p>",
        escape(&roadmap.segmentation),
        escape(&roadmap.recommendation)
    );
    out.push_str(
        "<table><thead><tr><th>segment</th><th>% ARR</th><th>NRR</th><th>relies on</th><th>does not use</th><th>unmet needs</th></tr></thead><tbody>",
    );
    for segment in &roadmap.segments {
        let relies: Vec<String> = segment
            .relies_on
            .iter()
            .take(3)
            .map(|f| format!("{} ({:.0}%)", f.feature, f.share * 100.0))
            .collect();
        let unused: Vec<&str> = segment
            .does_not_use
            .iter()
            .take(3)
            .map(String::as_str)
            .collect();
        let needs: Vec<String> = segment
            .unmet_needs
            .iter()
            .take(3)
            .map(|n| format!("{} (x{:.1})", n.theme, n.ratio))
            .collect();
        let star = if segment.priority { " ★" } else { "" };
        let core = if roadmap.core.as_deref() == Some(segment.segment.as_str()) {
            " (core)"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr><td>{}{core}{star}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&segment.segment),
            percent(segment.share_of_arr),
            percent(segment.nrr),
            escape(&relies.join(", ")),
            escape(&unused.join(", ")),
            escape(&needs.join(", ")),
        );
    }
    out.push_str("</tbody></table></section>");
}

/// The ICP section: its rules, lift and SQL.
pub fn icp_section(out: &mut String, report: &IcpReport) {
    let _ = write!(
        out,
        "<section id=\"icp\"><h2>Ideal customer profile <small>(known within {} days of signup, target {:?})</small></h2>",
        report.days, report.result.target
    );
    if report.result.rules.is_empty() {
        out.push_str("<p>No profile beats the base.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>#</th><th>rule</th><th>accounts</th><th>% ARR</th><th>inside</th><th>outside</th><th>lift (95% CI)</th></tr></thead><tbody>",
    );
    for (idx, rule) in report.result.rules.iter().enumerate() {
        let lift = match (rule.lift, rule.lift_ci) {
            (Some(lift), Some((low, high))) => format!("{lift:.2} ({low:.2}-{high:.2})"),
            (Some(lift), None) => format!("{lift:.2}"),
            _ => "–".to_string(),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            idx + 1,
            escape(&rule.rule),
            rule.accounts,
            percent(rule.share_of_arr),
            percent(Some(rule.inside)),
            percent(rule.outside),
            lift
        );
    }
    out.push_str("</tbody></table>");
    if let Some(sql) = report.sql.first() {
        let _ = write!(out, "<p>As SQL: <code>{}</code></p>", escape(sql));
    }
    out.push_str("</section>");
}

/// The id of a segmentation's section: `segmentation-` and its name with
/// every character but letters, digits, `-` and `_` as `-`.
pub fn section_id(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("segmentation-{slug}")
}

/// A link for a segment name (the dashboard's segment pages).
pub type SegmentLink<'a> = &'a dyn Fn(&str) -> String;

/// One segmentation's section: its table (segment names linked through
/// `link` when given), quality warnings, share chart, sizes over time and
/// persona cards.
pub fn segmentation_section(
    out: &mut String,
    segmentation: &SegmentationResult,
    history: &[SizePoint],
    link: Option<SegmentLink<'_>>,
    act_on: bool,
) {
    let star = if act_on {
        " <span class=\"act\">★ the one to act on</span>"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<section class=\"segmentation\" id=\"{}\"><h2>{} <small>({})</small>{star}</h2>",
        section_id(&segmentation.name),
        escape(&segmentation.name),
        escape(&segmentation.kind)
    );
    if let Some(description) = &segmentation.description {
        let _ = write!(out, "<p>{}</p>", escape(description));
    }
    out.push_str(
        "<table><thead><tr><th>segment</th><th>accounts</th><th>% accounts</th><th>ARR</th><th>% ARR</th>\
         <th>NRR</th><th>GRR</th><th>logo churn</th><th>NPS</th><th>quality</th></tr></thead><tbody>",
    );
    for segment in &segmentation.segments {
        let e = &segment.economics;
        let flags = if segment.quality.failures.is_empty() {
            segment
                .quality
                .score
                .map_or("–".to_string(), |score| format!("{score:.2}"))
        } else {
            format!("⚠ {}", segment.quality.failures.join("; "))
        };
        let name = match link {
            Some(link) => format!(
                "<a href=\"{}\">{}</a>",
                escape(&link(&segment.name)),
                escape(&segment.name)
            ),
            None => escape(&segment.name),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            name,
            e.accounts,
            e.share_of_accounts * 100.0,
            money(e.arr),
            percent(e.share_of_arr),
            percent(e.nrr),
            percent(e.grr),
            percent(e.logo_churn),
            nps_text(e),
            escape(&flags),
        );
    }
    let u = &segmentation.unassigned;
    if u.accounts > 0 {
        let _ = write!(
            out,
            "<tr class=\"muted\"><td>(unassigned)</td><td>{}</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td><td></td></tr>",
            u.accounts,
            u.share_of_accounts * 100.0,
            money(u.arr),
            percent(u.share_of_arr),
            percent(u.nrr),
            percent(u.grr),
            percent(u.logo_churn),
        );
    }
    out.push_str("</tbody></table>");
    verdict_block(out, segmentation);
    if !segmentation.segments.is_empty() {
        out.push_str(&share_chart(segmentation));
    }
    let points: Vec<&SizePoint> = history
        .iter()
        .filter(|p| p.segmentation == segmentation.name)
        .collect();
    let trends = trend_charts(&segmentation.name, &points);
    if !trends.is_empty() {
        out.push_str("<h3>Trends <small>accounts, ARR and NRR per segment at each recorded run and backfilled date</small></h3><div class=\"trends\">");
        for chart in trends {
            out.push_str(&chart);
        }
        out.push_str("</div>");
    }
    let personas: Vec<_> = segmentation
        .segments
        .iter()
        .filter_map(|s| s.persona.as_ref().map(|p| (s, p)))
        .collect();
    if !personas.is_empty() {
        out.push_str("<div class=\"cards\">");
        for (segment, persona) in personas {
            let _ = write!(
                out,
                "<div class=\"card\"><h4>{}: {}</h4><p>{}</p></div>",
                escape(&segment.name),
                escape(&persona.name),
                escape(&persona.narrative)
            );
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
}

/// The report of a run; `history` (from the state store, may be empty) adds
/// a sizes-over-time chart per segmentation.
pub fn report_html(result: &RunResult, history: &[SizePoint], extras: Extras<'_>) -> String {
    let mut out = String::new();
    let o = &result.overall;
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>strata report, as of {as_of}</title>\
         <style>{STYLE}</style></head><body>\
         <h1>strata report <small>as of {as_of}</small></h1>\
         <p>{} accounts, ARR {}, NRR {}, GRR {}, logo churn {}, NPS {}.</p>",
        o.accounts,
        money(o.arr),
        percent(o.nrr),
        percent(o.grr),
        percent(o.logo_churn),
        o.nps.map_or("–".to_string(), |nps| format!("{nps:+.0}")),
        as_of = result.as_of,
    );
    decision_section(&mut out, result, extras, &|name| format!("#{name}"));
    if let Some(movement) = extras.movement {
        flows_section(&mut out, movement);
    }
    for warning in &result.warnings {
        let _ = write!(
            out,
            "<p class=\"warning\">⚠ {}</p>",
            escape(&warning.to_string())
        );
    }
    let act_on = act_on(result);
    for (idx, segmentation) in result.segmentations.iter().enumerate() {
        segmentation_section(&mut out, segmentation, history, None, act_on == Some(idx));
    }
    overlap_section(&mut out, result);
    if let Some(icp) = extras.icp {
        icp_section(&mut out, icp);
    }
    if let Some(roadmap) = extras.roadmap {
        roadmap_section(&mut out, roadmap);
    }
    if !extras.backtests.is_empty() {
        backtest_section(&mut out, extras.backtests);
    }
    if let Some(chart) = extras.cohorts.and_then(retention_chart) {
        let by = extras
            .cohorts
            .and_then(|c| c.segmentation.clone())
            .map(|s| format!(" <small>(by {})</small>", escape(&s)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<section><h2>Cohort retention{by}</h2>{chart}</section>"
        );
    }
    out.push_str("</body></html>\n");
    out
}

/// What a segmentation is for: clusters are behavioral, themes needs,
/// scores health; rules on revenue are value, rules on account columns
/// only are firmographic, other rules behavioral.
pub fn purpose_of(segmentation: &SegmentationResult) -> Purpose {
    match segmentation.kind.as_str() {
        "clusters" => return Purpose::Behavior,
        "themes" => return Purpose::Needs,
        "score" => return Purpose::Health,
        _ => {}
    }
    let mut columns: Vec<String> = Vec::new();
    for segment in &segmentation.segments {
        if let Ok(expr) = crate::rules::parse(&segment.rule) {
            expr.walk(&mut |node| {
                if let crate::rules::ast::ExprKind::Column(name) = &node.kind {
                    columns.push(name.clone());
                }
            });
        }
    }
    let value = ["mrr", "arr", "mrr_12m_ago", "mrr_growth_12m"];
    let accounts = crate::project::table_columns(crate::project::TableKind::Accounts);
    if columns.iter().any(|c| value.contains(&c.as_str())) {
        Purpose::Value
    } else if !columns.is_empty()
        && columns
            .iter()
            .all(|c| c == "days_since_signup" || accounts.iter().any(|(name, _)| name == c))
    {
        Purpose::Firmographic
    } else {
        Purpose::Behavior
    }
}

/// The segmentation of the run to act on (see [`to_act_on`]).
pub fn act_on(result: &RunResult) -> Option<usize> {
    let judged: Vec<(&crate::measures::quality::SegmentationQuality, Purpose)> = result
        .segmentations
        .iter()
        .map(|s| (&s.quality, purpose_of(s)))
        .collect();
    to_act_on(&judged)
}

/// The quality verdict under a segmentation's table: "passes 2 of 3 tests"
/// with what fails, and every test with its advice collapsed below.
fn verdict_block(out: &mut String, segmentation: &SegmentationResult) {
    let verdict = verdict(&segmentation.quality, purpose_of(segmentation));
    let class = if verdict.passed == verdict.judged {
        "pass"
    } else {
        "warning"
    };
    let _ = write!(
        out,
        "<details class=\"verdict\"><summary class=\"{class}\">Quality, judged as a {} segmentation: {}</summary><ul>",
        verdict.purpose.label(),
        escape(&verdict.summary)
    );
    for test in &verdict.tests {
        let status = match (test.informational, test.passes) {
            (true, _) => "informational",
            (false, Some(true)) => "passes",
            (false, Some(false)) => "fails",
            (false, None) => "not measured",
        };
        let _ = write!(
            out,
            "<li><b>{}</b> {}: {}: {}</li>",
            test.test,
            test.value.map_or("–".to_string(), |v| format!("{v:.2}")),
            status,
            escape(&test.advice)
        );
    }
    for warning in &segmentation.quality.warnings {
        let _ = write!(out, "<li class=\"warning\">{}</li>", escape(warning));
    }
    out.push_str("</ul></details>");
}

/// The first screen: the decision and what to act on, each line linking to
/// its section below. The seeds' questions in order: the core segment and
/// the recommendation, the priority segments against the 60% bar, the ICP,
/// the NRR spread, what moved since the previous run, and the warnings that
/// say a segmentation no longer holds (backtests, stale frozen clusters).
/// `link` maps a section (`roadmap`, `icp`, `flows`, `overlap`,
/// `backtest`) to its address: an anchor in the report, a page in the
/// dashboard.
pub fn decision_section(
    out: &mut String,
    result: &RunResult,
    extras: Extras<'_>,
    link: &dyn Fn(&str) -> String,
) {
    out.push_str("<section id=\"decision\" class=\"decision\"><h2>The decision</h2>");
    match extras.roadmap {
        Some(report) => {
            let roadmap = &report.roadmap;
            let _ = write!(
                out,
                "<p class=\"lead\">{} <a href=\"{}\">roadmap</a></p>",
                escape(&roadmap.recommendation),
                link("roadmap")
            );
            let priority: Vec<String> = roadmap
                .segments
                .iter()
                .filter(|s| s.priority)
                .map(|s| {
                    format!(
                        "{} ({} of net new ARR)",
                        escape(&s.segment),
                        percent(s.share_of_net_new_arr)
                    )
                })
                .collect();
            let reached: f64 = roadmap
                .segments
                .iter()
                .filter(|s| s.priority)
                .filter_map(|s| s.share_of_net_new_arr)
                .sum();
            if !priority.is_empty() {
                let verdict = if reached >= crate::roadmap::PRIORITY_NET_NEW_BAR {
                    "meets"
                } else {
                    "falls short of"
                };
                let _ = write!(
                    out,
                    "<p>Priority segments: {}; together {:.0}% of net new ARR, which {verdict} the {:.0}% bar.</p>",
                    priority.join(", "),
                    100.0 * reached,
                    100.0 * crate::roadmap::PRIORITY_NET_NEW_BAR
                );
            }
        }
        None => out.push_str(
            "<p class=\"lead muted\">No roadmap in this report (a quick report, or no segmentation to plan for).</p>",
        ),
    }
    if let Some(rule) = extras.icp.and_then(|icp| icp.result.rules.first()) {
        let lift = rule
            .lift
            .map_or(String::new(), |lift| format!(", lift {lift:.2}x"));
        let _ = write!(
            out,
            "<p>Ideal customer profile: <code>{}</code>: {} accounts, NRR {} inside vs {} outside{lift}. <a href=\"{}\">ICP</a></p>",
            escape(&rule.rule),
            rule.accounts,
            percent(Some(rule.inside)),
            percent(rule.outside),
            link("icp"),
        );
    }
    if let Some(idx) = act_on(result) {
        let segmentation = &result.segmentations[idx];
        let full = verdict(&segmentation.quality, Purpose::Behavior);
        let _ = write!(
            out,
            "<p>Act on <b>{}</b>: of the seeds' three tests (members behave alike, segments worth building for, told apart at signup) it {}; the best of the segmentations.</p>",
            escape(&segmentation.name),
            escape(&full.summary)
        );
    }
    let spread = &result.nrr_spread;
    if let (Some(points), Some(tier)) = (spread.spread_points, spread.tier) {
        let _ = write!(
            out,
            "<p>NRR spread: {points:.0} points between the most and the least engaged quartile ({}), {} vs {}.</p>",
            escape(tier),
            percent(spread.top_nrr),
            percent(spread.bottom_nrr)
        );
    }
    match extras.movement {
        Some(movement) => {
            let mut moves: Vec<(String, i64)> = Vec::new();
            for flows in &movement.segmentations {
                for flow in flows.flows.iter().filter(|f| f.from != f.to) {
                    moves.push((
                        format!("{}: {} → {}", flows.segmentation, flow.from, flow.to),
                        flow.accounts,
                    ));
                }
            }
            moves.sort_by(|a, b| b.1.cmp(&a.1));
            let total: i64 = moves.iter().map(|m| m.1).sum();
            let listed: Vec<String> = moves
                .iter()
                .take(6)
                .map(|(what, n)| format!("{} {n}", escape(what)))
                .collect();
            let _ = write!(
                out,
                "<p>Since the previous run (as of {}): {total} changes of segment{}{}. <a href=\"{}\">flows</a></p>",
                movement.previous_as_of,
                if listed.is_empty() { "" } else { ": " },
                listed.join("; "),
                link("flows")
            );
            if !movement.movers.is_empty() {
                out.push_str("<table class=\"movers\"><thead><tr><th>account</th><th>segmentation</th><th>moved</th><th>ARR</th><th>why</th></tr></thead><tbody>");
                for mover in movement.movers.iter().take(5) {
                    let _ = write!(
                        out,
                        "<tr><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
                        escape(&mover.account_id),
                        escape(&mover.segmentation),
                        escape(&mover.from),
                        escape(&mover.to),
                        money(mover.arr),
                        escape(&mover.reason)
                    );
                }
                out.push_str("</tbody></table>");
            }
        }
        None => out.push_str(
            "<p class=\"muted\">Nothing to compare with yet: what moved appears from the second recorded run.</p>",
        ),
    }
    let alarms: Vec<&crate::error::Problem> = result
        .warnings
        .iter()
        .filter(|w| {
            w.location.starts_with("backtest of")
                || w.message.starts_with("should be refreshed")
                || w.location == "risk"
        })
        .collect();
    for alarm in alarms {
        let _ = write!(
            out,
            "<p class=\"warning\">⚠ {}</p>",
            escape(&alarm.to_string())
        );
    }
    let links: Vec<String> = ["flows", "overlap", "icp", "roadmap", "backtest"]
        .iter()
        .map(|name| format!("<a href=\"{}\">{name}</a>", link(name)))
        .collect();
    let _ = write!(
        out,
        "<p class=\"muted\">More: {}</p></section>",
        links.join(" · ")
    );
}

/// Per segmentation with any change, a Sankey diagram of the accounts from
/// the previous run's segments (left) to this run's (right), and the same
/// by ARR under a disclosure.
pub fn flows_section(out: &mut String, movement: &crate::state::flows::Movement) {
    let _ = write!(
        out,
        "<section id=\"flows\"><h2>Segment flows <small>as of {} → {}</small></h2>",
        movement.previous_as_of, movement.as_of
    );
    let mut any = false;
    for flows in &movement.segmentations {
        if flows.flows.iter().all(|f| f.from == f.to) {
            continue;
        }
        any = true;
        let _ = write!(out, "<h3>{}</h3>", escape(&flows.segmentation));
        out.push_str(&sankey_chart(flows, false));
        let _ = write!(
            out,
            "<details><summary>by ARR</summary>{}</details>",
            sankey_chart(flows, true)
        );
    }
    if !any {
        out.push_str("<p>No account changed segment.</p>");
    }
    out.push_str("</section>");
}

/// A Sankey diagram: left nodes are the previous run's segments, right
/// nodes this run's, each band a flow whose width is proportional to its
/// accounts (or ARR).
pub fn sankey_chart(flows: &crate::state::flows::SegmentationFlows, by_arr: bool) -> String {
    let value = |f: &crate::state::flows::Flow| if by_arr { f.arr } else { f.accounts as f64 };
    let bands: Vec<&crate::state::flows::Flow> =
        flows.flows.iter().filter(|f| value(f) > 0.0).collect();
    let mut left: Vec<&str> = Vec::new();
    let mut right: Vec<&str> = Vec::new();
    for band in &bands {
        if !left.contains(&band.from.as_str()) {
            left.push(&band.from);
        }
        if !right.contains(&band.to.as_str()) {
            right.push(&band.to);
        }
    }
    let total: f64 = bands.iter().map(|b| value(b)).sum();
    let (height, gap, node_width, x_left, x_right) = (300.0, 8.0, 14.0, 170.0, 530.0);
    let scale = |n: usize| {
        if total > 0.0 {
            (height - gap * n.saturating_sub(1) as f64) / total
        } else {
            0.0
        }
    };
    let k = scale(left.len().max(right.len()));
    // Node tops, and a running offset per node for the bands.
    let tops = |nodes: &[&str], side: &dyn Fn(&crate::state::flows::Flow) -> &str| {
        let mut y = 10.0;
        nodes
            .iter()
            .map(|node| {
                let size: f64 = bands
                    .iter()
                    .filter(|b| side(b) == *node)
                    .map(|b| value(b))
                    .sum::<f64>()
                    * k;
                let top = y;
                y += size + gap;
                (top, size)
            })
            .collect::<Vec<(f64, f64)>>()
    };
    let left_nodes = tops(&left, &|f| f.from.as_str());
    let right_nodes = tops(&right, &|f| f.to.as_str());
    let unit = if by_arr { "ARR" } else { "accounts" };
    let mut svg = format!(
        "<svg class=\"chart sankey\" role=\"img\" viewBox=\"0 0 720 {h}\" width=\"720\" height=\"{h}\"><title>{}: {unit} from the previous run's segments (left) to this run's (right)</title>",
        escape(&flows.segmentation),
        h = height + 30.0,
    );
    let mut left_offset: Vec<f64> = left_nodes.iter().map(|n| n.0).collect();
    let mut right_offset: Vec<f64> = right_nodes.iter().map(|n| n.0).collect();
    for band in &bands {
        let (Some(l), Some(r)) = (
            left.iter().position(|n| *n == band.from),
            right.iter().position(|n| *n == band.to),
        ) else {
            continue;
        };
        let width = value(band) * k;
        let (y0, y1) = (left_offset[l] + width / 2.0, right_offset[r] + width / 2.0);
        left_offset[l] += width;
        right_offset[r] += width;
        let (x0, x1) = (x_left + node_width, x_right);
        let mid = (x0 + x1) / 2.0;
        let color = if band.from == band.to {
            "#bbb"
        } else {
            PALETTE[l % PALETTE.len()]
        };
        let amount = if by_arr {
            money(band.arr)
        } else {
            band.accounts.to_string()
        };
        let _ = write!(
            svg,
            "<path class=\"flow\" data-from=\"{f}\" data-to=\"{t}\" data-value=\"{v}\" d=\"M{x0:.1},{y0:.1} C{mid:.1},{y0:.1} {mid:.1},{y1:.1} {x1:.1},{y1:.1}\" \
             stroke=\"{color}\" stroke-opacity=\"0.55\" stroke-width=\"{w:.2}\" fill=\"none\"><title>{f} → {t}: {amount}</title></path>",
            f = escape(&band.from),
            t = escape(&band.to),
            v = value(band),
            w = width.max(0.5),
        );
    }
    for (nodes, tops, x, anchor, label_x) in [
        (&left, &left_nodes, x_left, "end", x_left - 6.0),
        (
            &right,
            &right_nodes,
            x_right,
            "start",
            x_right + node_width + 6.0,
        ),
    ] {
        for (node, (top, size)) in nodes.iter().zip(tops.iter()) {
            let _ = write!(
                svg,
                "<rect class=\"node\" x=\"{x}\" y=\"{top:.1}\" width=\"{node_width}\" height=\"{:.1}\" fill=\"#555\"/>\
                 <text x=\"{label_x}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
                size.max(1.0),
                top + size / 2.0 + 4.0,
                escape(node)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// What shades an overlap heat map's cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shade {
    /// The cell's share of accounts.
    Accounts,
    /// The cell's share of ARR.
    Arr,
    /// The cell's NRR: red below 100%, green above.
    Nrr,
}

impl Shade {
    /// Parses `accounts`, `arr` or `nrr`.
    pub fn parse(text: &str) -> Option<Shade> {
        match text {
            "accounts" => Some(Shade::Accounts),
            "arr" => Some(Shade::Arr),
            "nrr" => Some(Shade::Nrr),
            _ => None,
        }
    }

    /// The name `parse` reads.
    pub fn name(self) -> &'static str {
        match self {
            Shade::Accounts => "accounts",
            Shade::Arr => "arr",
            Shade::Nrr => "nrr",
        }
    }
}

/// The labels of one side of a heat map: the segments in order, then
/// `(unassigned)` when a cell holds it.
fn overlap_labels(
    matrix: &crate::measures::matrix::SegmentMatrix,
    side: usize,
    segments: &[String],
) -> Vec<String> {
    let mut labels = segments.to_vec();
    let unassigned = crate::measures::matrix::UNASSIGNED;
    if matrix.cells.iter().any(|c| c.segments[side] == unassigned) {
        labels.push(unassigned.to_string());
    }
    labels
}

/// A heat map of two segmentations crossed: a cell per pair of segments
/// (empty ones pale), each with its accounts, ARR and NRR, shaded by
/// `shade`.
pub fn overlap_chart(
    matrix: &crate::measures::matrix::SegmentMatrix,
    row_segments: &[String],
    column_segments: &[String],
    shade: Shade,
) -> String {
    let rows = overlap_labels(matrix, 0, row_segments);
    let columns = overlap_labels(matrix, 1, column_segments);
    let total_accounts: usize = matrix.cells.iter().map(|c| c.economics.accounts).sum();
    let total_arr: f64 = matrix.cells.iter().map(|c| c.economics.arr).sum();
    let (label_width, top, cell_w, cell_h) = (200.0, 44.0, 124.0, 56.0);
    let width = label_width + cell_w * columns.len() as f64 + 10.0;
    let height = top + cell_h * rows.len() as f64 + 10.0;
    // Row labels have the label column; column labels a cell's width.
    let short = |text: &str, room: usize| {
        if text.chars().count() > room {
            format!("{}…", text.chars().take(room - 1).collect::<String>())
        } else {
            text.to_string()
        }
    };
    let shade_name = match shade {
        Shade::Accounts => "share of accounts",
        Shade::Arr => "share of ARR",
        Shade::Nrr => "NRR (red below 100%, green above)",
    };
    let mut svg = format!(
        "<svg class=\"chart overlap\" data-rows=\"{}\" data-columns=\"{}\" role=\"img\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">\
         <title>{} (rows) crossed with {} (columns): accounts, ARR and NRR per cell, shaded by {shade_name}</title>\
         <text x=\"{}\" y=\"14\" class=\"value\">{} →</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"value\">{} ↓</text>",
        escape(&matrix.segmentations[0]),
        escape(&matrix.segmentations[1]),
        escape(&matrix.segmentations[0]),
        escape(&matrix.segmentations[1]),
        label_width,
        escape(&matrix.segmentations[1]),
        label_width - 8.0,
        top - 8.0,
        escape(&matrix.segmentations[0]),
    );
    for (c, column) in columns.iter().enumerate() {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}<title>{}</title></text>",
            label_width + cell_w * (c as f64 + 0.5),
            top - 8.0,
            escape(&short(column, 18)),
            escape(column)
        );
    }
    for (r, row) in rows.iter().enumerate() {
        let y = top + cell_h * r as f64;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}<title>{}</title></text>",
            label_width - 8.0,
            y + cell_h / 2.0 + 4.0,
            escape(&short(row, 28)),
            escape(row)
        );
        for (c, column) in columns.iter().enumerate() {
            let x = label_width + cell_w * c as f64;
            let cell = matrix
                .cells
                .iter()
                .find(|cell| &cell.segments[0] == row && &cell.segments[1] == column);
            let Some(cell) = cell else {
                let _ = write!(
                    svg,
                    "<rect class=\"cell empty\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{}\" height=\"{}\" fill=\"#f4f4f4\" stroke=\"#fff\"><title>{} × {}: no account</title></rect>",
                    cell_w - 2.0,
                    cell_h - 2.0,
                    escape(row),
                    escape(column)
                );
                continue;
            };
            let e = &cell.economics;
            let fill = match shade {
                Shade::Accounts => blue(e.accounts as f64 / total_accounts.max(1) as f64),
                Shade::Arr => blue(if total_arr > 0.0 {
                    e.arr / total_arr
                } else {
                    0.0
                }),
                Shade::Nrr => e.nrr.map_or("#eee".to_string(), diverging),
            };
            let _ = write!(
                svg,
                "<rect class=\"cell\" data-row=\"{r_}\" data-column=\"{c_}\" data-accounts=\"{}\" data-arr=\"{:.0}\" data-nrr=\"{}\" \
                 x=\"{x:.1}\" y=\"{y:.1}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" stroke=\"#fff\">\
                 <title>{r_} × {c_}: {} accounts, ARR {}, NRR {}</title></rect>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"cell-text\">{} accounts</text>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"cell-text\">{} · NRR {}</text>",
                e.accounts,
                e.arr,
                e.nrr.map_or(String::new(), |v| format!("{v:.4}")),
                cell_w - 2.0,
                cell_h - 2.0,
                e.accounts,
                money(e.arr),
                percent(e.nrr),
                x + cell_w / 2.0,
                y + 22.0,
                e.accounts,
                x + cell_w / 2.0,
                y + 40.0,
                money(e.arr),
                e.nrr
                    .map_or("–".to_string(), |v| format!("{:.0}%", 100.0 * v)),
                r_ = escape(row),
                c_ = escape(column),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A pale-to-dark blue for a share in [0, 1] (square-root scaled, so that
/// small cells still show), light enough to read dark text on.
fn blue(share: f64) -> String {
    let t = share.clamp(0.0, 1.0).sqrt();
    let channel = |from: f64, to: f64| (from + (to - from) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        channel(239.0, 107.0),
        channel(243.0, 153.0),
        channel(255.0, 205.0)
    )
}

/// Red below an NRR of 100%, green above, white at 100%; saturated at
/// 70% and 130%.
fn diverging(nrr: f64) -> String {
    let t = ((nrr - 1.0) / 0.3).clamp(-1.0, 1.0);
    let (r, g, b) = if t < 0.0 {
        (255.0, 255.0 + 120.0 * t, 255.0 + 120.0 * t)
    } else {
        (255.0 - 120.0 * t, 255.0 - 40.0 * t, 255.0 - 120.0 * t)
    };
    format!(
        "#{:02x}{:02x}{:02x}",
        r.round() as u8,
        g.round() as u8,
        b.round() as u8
    )
}

/// The overlap section of the report: the segmentation to act on (else the
/// first) crossed with each other one, the first map open, the others under
/// disclosures.
pub fn overlap_section(out: &mut String, result: &RunResult) {
    let Some(rows_idx) = act_on(result).or((!result.segmentations.is_empty()).then_some(0)) else {
        return;
    };
    let rows = &result.segmentations[rows_idx];
    let others: Vec<&SegmentationResult> = result
        .segmentations
        .iter()
        .enumerate()
        .filter(|(idx, _)| *idx != rows_idx)
        .map(|(_, s)| s)
        .collect();
    if others.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"overlap\"><h2>Overlap <small>two segmentations crossed: accounts, ARR and NRR per cell</small></h2>",
    );
    for (idx, columns) in others.iter().enumerate() {
        let Ok(matrix) = crate::pipeline::crossed(result, &rows.name, &columns.name) else {
            continue;
        };
        let names = |s: &SegmentationResult| {
            s.segments
                .iter()
                .map(|seg| seg.name.clone())
                .collect::<Vec<_>>()
        };
        let chart = overlap_chart(&matrix, &names(rows), &names(columns), Shade::Accounts);
        let title = format!("{} × {}", escape(&rows.name), escape(&columns.name));
        if idx == 0 {
            let _ = write!(out, "<h3>{title}</h3>{chart}");
        } else {
            let _ = write!(out, "<details><summary>{title}</summary>{chart}</details>");
        }
    }
    out.push_str("<p class=\"muted\">Shaded by share of accounts; <code>strata matrix A B</code> adds tickets, the dashboard's overlap page shades by ARR or NRR.</p></section>");
}

/// Horizontal bars with 95% whiskers: per row, a share and its interval,
/// with a dashed reference line (the whole base's share).
fn interval_chart(
    title: &str,
    rows: &[(String, usize, crate::backtest::Share)],
    reference: f64,
) -> String {
    let top = rows
        .iter()
        .map(|(_, _, share)| share.high)
        .fold(reference, f64::max)
        .max(0.01);
    let (label_width, bar_width, row_height) = (220.0, 360.0, 26.0);
    let height = 34.0 + row_height * rows.len() as f64;
    let x = |value: f64| label_width + value / top * bar_width;
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\"><title>{}</title>",
        escape(title),
        w = label_width + bar_width + 150.0,
    );
    for (idx, (name, observed, share)) in rows.iter().enumerate() {
        let y = 8.0 + row_height * idx as f64;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect class=\"bar\" x=\"{label_width}\" y=\"{y}\" width=\"{:.1}\" height=\"16\" fill=\"{}\"><title>{}: {:.1}% of {observed}</title></rect>\
             <line class=\"whisker\" x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#333\"/>\
             <text x=\"{:.1}\" y=\"{}\" class=\"value\">{:.1}% (n={observed})</text>",
            label_width - 8.0,
            y + 12.0,
            escape(name),
            (x(share.share) - label_width).max(1.0),
            PALETTE[0],
            escape(name),
            100.0 * share.share,
            x(share.low),
            x(share.high),
            y + 8.0,
            y + 8.0,
            x(share.high) + 6.0,
            y + 12.0,
            100.0 * share.share,
        );
    }
    let axis_y = 8.0 + row_height * rows.len() as f64;
    let _ = write!(
        svg,
        "<line class=\"reference\" x1=\"{r:.1}\" x2=\"{r:.1}\" y1=\"4\" y2=\"{axis_y}\" stroke=\"#e15759\" stroke-dasharray=\"4 3\"/>\
         <text x=\"{r:.1}\" y=\"{}\" text-anchor=\"middle\" class=\"value\">all {:.1}%</text></svg>",
        axis_y + 16.0,
        100.0 * reference,
        r = x(reference),
    );
    svg
}

/// The backtest section: per segmentation, each segment's churn rate at
/// its past dates with 95% intervals against the whole base's, the score's
/// AUC and churn by decile, and the warnings.
pub fn backtest_section(out: &mut String, backtests: &[crate::backtest::Backtest]) {
    let _ = write!(
        out,
        "<section id=\"backtest\"><h2>Backtest: do the segments predict churn?</h2>"
    );
    for backtest in backtests {
        let first = backtest.dates.first().map_or("", String::as_str);
        let last = backtest.dates.last().map_or("", String::as_str);
        let _ = write!(
            out,
            "<h3>{} <small>{} past dates, {first} to {last}, today's definitions, churn within {} days</small></h3>",
            escape(&backtest.segmentation),
            backtest.dates.len(),
            backtest.horizon_days
        );
        let rows: Vec<(String, usize, crate::backtest::Share)> = backtest
            .segments
            .iter()
            .filter(|s| s.observed > 0)
            .map(|s| (s.segment.clone(), s.observed, s.churned))
            .collect();
        out.push_str(&interval_chart(
            &format!(
                "{}: churn within {} days per segment, with 95% intervals",
                backtest.segmentation, backtest.horizon_days
            ),
            &rows,
            backtest.overall.churned.share,
        ));
        if let Some(score) = &backtest.score {
            let rows: Vec<(String, usize, crate::backtest::Share)> = score
                .deciles
                .iter()
                .map(|d| {
                    (
                        format!("score {:.0}–{:.0}", d.low, d.high),
                        d.observed,
                        d.churned,
                    )
                })
                .collect();
            let _ = write!(
                out,
                "<p>The score ranks churners below stayers with AUC {:.2} (0.5 is chance) over {} scored account-dates, {} churned. Churn by score decile, lowest scores first:</p>",
                score.auc, score.observed, score.churned
            );
            out.push_str(&interval_chart(
                &format!("{}: churn by score decile", backtest.segmentation),
                &rows,
                backtest.overall.churned.share,
            ));
        }
        for warning in &backtest.warnings {
            let _ = write!(out, "<p class=\"warning\">⚠ {}</p>", escape(warning));
        }
    }
    out.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn interval_bars_scale_to_the_highest_interval() {
        use crate::backtest::Share;
        // 10 of 100 (Wilson high 0.1744) and 30 of 100 (high 0.3935, the
        // top): bar widths 360 x 0.1 / 0.3935 and 360 x 0.3 / 0.3935.
        let rows = vec![
            ("healthy".to_string(), 100, Share::of(10, 100)),
            ("at-risk".to_string(), 100, Share::of(30, 100)),
        ];
        let svg = interval_chart("t", &rows, 0.2);
        let top = Share::of(30, 100).high;
        for share in [0.1, 0.3] {
            let width = format!("width=\"{:.1}\"", 360.0 * share / top);
            assert!(svg.contains(&width), "{width} in {svg}");
        }
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        assert_eq!(svg.matches("class=\"whisker\"").count(), 2);
        assert!(svg.contains("all 20.0%"));
    }

    #[test]
    fn sankey_bands_are_proportional_to_their_accounts() {
        use crate::state::flows::{Flow, SegmentationFlows};
        let flow = |from: &str, to: &str, accounts: i64| Flow {
            from: from.into(),
            to: to.into(),
            accounts,
            arr: 0.0,
        };
        let flows = SegmentationFlows {
            segmentation: "health".into(),
            flows: vec![
                flow("healthy", "healthy", 8),
                flow("at-risk", "at-risk", 2),
                flow("healthy", "at-risk", 2),
                flow("(none)", "healthy", 1),
                flow("at-risk", "healthy", 1),
            ],
        };
        // 14 accounts over 300 px less one 8 px gap per extra node of the
        // taller side (3 on the left): 284 / 14 px per account.
        let svg = sankey_chart(&flows, false);
        assert_eq!(svg.matches("class=\"flow\"").count(), 5);
        for accounts in [8.0, 2.0, 1.0] {
            let width = format!("stroke-width=\"{:.2}\"", accounts * 284.0 / 14.0);
            assert!(svg.contains(&width), "{width} in {svg}");
        }
        assert_eq!(svg.matches("class=\"node\"").count(), 5);
        // By ARR, flows without ARR draw nothing.
        assert_eq!(
            sankey_chart(&flows, true).matches("class=\"flow\"").count(),
            0
        );
    }

    #[test]
    fn trends_need_two_dates_and_mark_every_point() {
        let point = |day: u32, segment: &str, accounts: i64, nrr: Option<f64>| SizePoint {
            as_of: NaiveDate::from_ymd_opt(2026, 1, day).unwrap_or_default(),
            segmentation: "health".into(),
            segment: segment.into(),
            accounts,
            arr: accounts as f64 * 1000.0,
            nrr,
        };
        let one = [point(1, "at-risk", 5, Some(0.9))];
        assert!(trend_charts("health", &one.iter().collect::<Vec<_>>()).is_empty());
        let two = [
            point(1, "at-risk", 5, Some(0.9)),
            point(2, "at-risk", 10, None),
            point(2, "healthy", 4, Some(1.2)),
        ];
        let charts = trend_charts("health", &two.iter().collect::<Vec<_>>());
        assert_eq!(charts.len(), 3);
        // Accounts: the larger value at the top of the plot, the smaller
        // halfway down; a mark per point (3); healthy's line has one point.
        assert!(
            charts[0].contains("points=\"60.0,120.0 580.0,20.0\""),
            "{}",
            charts[0]
        );
        assert_eq!(charts[0].matches("class=\"mark\"").count(), 3);
        assert_eq!(charts[0].matches("<polyline").count(), 2);
        assert!(charts[1].contains("$10k"), "{}", charts[1]);
        // NRR: two known values, so two marks, with the 100% reference.
        assert_eq!(charts[2].matches("class=\"mark\"").count(), 2);
        assert!(charts[2].contains(">100%<"), "{}", charts[2]);
        assert!(
            charts[2].contains("at-risk, 2026-01-01: 90%"),
            "{}",
            charts[2]
        );
    }

    /// Four accounts, size (SMB, Ent) x health (ok, risk), one without a
    /// health segment: a 2 x 3 grid (the unassigned column appears), four
    /// filled cells and two empty ones, each with its numbers by hand.
    #[test]
    fn overlap_heat_map_by_hand() {
        use crate::measures::AccountRevenue;
        use crate::measures::matrix::{Dimension, segment_matrix};
        let size = vec!["SMB".to_string(), "Ent".to_string()];
        let health = vec!["ok".to_string(), "risk".to_string()];
        let revenue =
            [(100.0, 100.0), (50.0, 100.0), (700.0, 500.0), (150.0, 0.0)].map(|(now, ago)| {
                AccountRevenue {
                    mrr_now: now,
                    mrr_12m_ago: ago,
                }
            });
        let matrix = segment_matrix(
            &[
                Dimension {
                    name: "size",
                    segments: &size,
                    membership: &[Some(0), Some(0), Some(1), Some(1)],
                },
                Dimension {
                    name: "health",
                    segments: &health,
                    membership: &[Some(0), Some(1), Some(1), None],
                },
            ],
            &revenue,
            &[],
            &[0, 0, 0, 0],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let svg = overlap_chart(&matrix, &size, &health, Shade::Accounts);
        assert_eq!(svg.matches("class=\"cell\"").count(), 4, "{svg}");
        assert_eq!(svg.matches("class=\"cell empty\"").count(), 2, "{svg}");
        assert!(svg.contains(">(unassigned)<"), "{svg}");
        // Ent x risk: $700 MRR now against $500 a year ago.
        assert!(
            svg.contains("data-row=\"Ent\" data-column=\"risk\" data-accounts=\"1\" data-arr=\"8400\" data-nrr=\"1.4000\""),
            "{svg}"
        );
        assert!(svg.contains("$8k · NRR 140%"), "{svg}");
        // Each cell holds a quarter of the accounts: sqrt(1/4) of the way
        // from the palest blue to the darkest.
        assert_eq!(svg.matches("fill=\"#adc6e6\"").count(), 4, "{svg}");
        // By NRR: SMB x risk halved its revenue, saturated red.
        let by_nrr = overlap_chart(&matrix, &size, &health, Shade::Nrr);
        assert!(
            by_nrr.contains("data-row=\"SMB\" data-column=\"risk\" data-accounts=\"1\" data-arr=\"600\" data-nrr=\"0.5000\" x=\"324.0\" y=\"44.0\" width=\"122\" height=\"54\" fill=\"#ff8787\""),
            "{by_nrr}"
        );
    }
}
