//! The dashboard: server-rendered pages over the served run and the state
//! store, with one small vendored script (`assets/dashboard.js`) for the
//! live rule editor, member search and paging. No page loads anything from
//! another origin.
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use strata_core::outputs::report::{self, escape, money, percent};
use strata_core::state::{ChangeFilter, RunKind, RunRecord};

use super::{App, Served, api};

const SCRIPT: &str = include_str!("assets/dashboard.js");
const EXTRA_STYLE: &str = "nav{display:flex;gap:16px;align-items:baseline;border-bottom:1px solid #ddd;padding-bottom:8px;margin-bottom:12px}\
nav a{color:#245;text-decoration:none}nav a.here{font-weight:bold}nav .brand{font-weight:bold;font-size:16px;color:#222}\
textarea{width:100%;font:14px ui-monospace,monospace;padding:6px;box-sizing:border-box}pre{background:#f6f6f6;padding:8px;overflow:auto}\
.error{color:#b00}.figure{font-size:28px;font-weight:bold}.pager{display:flex;gap:8px;align-items:center;margin:6px 0}\
input[type=search],input[type=password]{padding:4px 6px;min-width:240px}\
body{max-width:1380px;padding:0 16px}.layout{display:flex;gap:24px;align-items:flex-start}main{flex:1;min-width:0}\
aside{position:sticky;top:8px;width:220px;flex:none;font-size:13px;max-height:95vh;overflow:auto;border-right:1px solid #eee;padding-right:8px}\
aside ul{list-style:none;padding-left:0;margin:2px 0}aside ul ul{padding-left:12px}aside a{color:#245;text-decoration:none;display:block;padding:1px 2px}\
aside a.here{font-weight:bold;background:#eef3fa}aside .kind{color:#777;font-size:11px}\
:focus-visible{outline:3px solid #f28e2b;outline-offset:2px}.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px;z-index:1}\
path.flow{cursor:pointer}path.flow:hover,path.flow:focus{stroke-opacity:.9}form.pick{display:flex;gap:12px;align-items:end;flex-wrap:wrap;margin:8px 0}\
form.pick label{display:flex;flex-direction:column;font-size:12px;color:#555}select{padding:3px 4px}.band-list{margin:4px 0 8px}";

/// The dashboard's routes.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(overview))
        .route("/segments/{segmentation}/{segment}", get(segment_page))
        .route("/transitions", get(transitions_page))
        .route("/flows", get(flows_page))
        .route("/overlap", get(overlap_page))
        .route("/roadmap", get(roadmap_page))
        .route("/icp", get(icp_page))
        .route("/backtest", get(backtest_page))
        .route("/definitions", get(definitions_page))
        .route("/editor", get(editor_page))
        .route("/login", get(|| async { login_page("/") }).post(login))
        .route("/assets/dashboard.js", get(script))
        .route("/favicon.ico", get(favicon))
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

/// A small mark, so that browsers asking for /favicon.ico get one.
async fn favicon() -> Response {
    (
        [(header::CONTENT_TYPE, "image/svg+xml")],
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">\
         <rect y=\"2\" width=\"16\" height=\"3\" fill=\"#4e79a7\"/><rect y=\"7\" width=\"12\" height=\"3\" fill=\"#f28e2b\"/>\
         <rect y=\"12\" width=\"7\" height=\"3\" fill=\"#59a14f\"/></svg>",
    )
        .into_response()
}

/// A whole page: the navigation bar, the sidebar of segmentations and
/// their segments (when a run is served), and `body`; `here` is the
/// current path.
fn page(title: &str, here: &str, body: &str, served: Option<&Served>) -> Html<String> {
    let mut nav = String::new();
    for (path, label) in [
        ("/", "Overview"),
        ("/flows", "Flows"),
        ("/overlap", "Overlap"),
        ("/roadmap", "Roadmap"),
        ("/icp", "ICP"),
        ("/backtest", "Backtest"),
        ("/transitions", "Transitions"),
        ("/definitions", "Definitions"),
        ("/editor", "Rule editor"),
    ] {
        let class = if path == here {
            " class=\"here\" aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(nav, "<a href=\"{path}\"{class}>{label}</a>");
    }
    let sidebar = served
        .map(|served| sidebar(served, here))
        .unwrap_or_default();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{} · strata</title>\
         <style>{}{EXTRA_STYLE}</style></head><body>\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\
         <nav aria-label=\"Pages\"><span class=\"brand\">strata</span>{nav}</nav>\
         <div class=\"layout\">{sidebar}<main id=\"main\" tabindex=\"-1\">{body}</main></div>\
         <script src=\"/assets/dashboard.js\"></script></body></html>",
        escape(title),
        report::STYLE,
    ))
}

/// The sidebar: every segmentation of the served run (a link to its
/// section of the overview) with its segments (links to their pages);
/// arrow keys move between its links (`assets/dashboard.js`).
fn sidebar(served: &Served, here: &str) -> String {
    let mut out =
        String::from("<aside id=\"sidebar\" aria-label=\"Segmentations and segments\"><ul>");
    for segmentation in &served.result.segmentations {
        let _ = write!(
            out,
            "<li><a href=\"/#{}\">{} <span class=\"kind\">{}</span></a><ul>",
            report::section_id(&segmentation.name),
            escape(&segmentation.name),
            escape(&segmentation.kind)
        );
        for segment in &segmentation.segments {
            let href = segment_href(&segmentation.name, &segment.name);
            let class = if href == here {
                " class=\"here\" aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(
                out,
                "<li><a href=\"{}\"{class}>{} <span class=\"kind\">{}</span></a></li>",
                escape(&href),
                escape(&segment.name),
                segment.economics.accounts
            );
        }
        out.push_str("</ul></li>");
    }
    out.push_str("</ul></aside>");
    out
}

/// Shown until the first run is served: reloads itself every 2 seconds.
fn not_ready(app: &App, here: &str) -> Response {
    let body = match app.last_error() {
        Some(error) => format!(
            "<h1>No run is served</h1><p class=\"error\">The last run failed: {}</p>\
             <p>Fix the project, then <code>POST /v1/runs</code> (admin) or restart <code>strata serve</code>.</p>",
            escape(&error)
        ),
        None => "<h1>The first run is in progress</h1><p>This page reloads when it is served.</p>\
                 <meta http-equiv=\"refresh\" content=\"2\">"
            .to_string(),
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page("starting", here, &body, None),
    )
        .into_response()
}

fn segment_href(segmentation: &str, segment: &str) -> String {
    format!(
        "/segments/{}/{}",
        url_segment(segmentation),
        url_segment(segment)
    )
}

/// Percent-encodes a path segment.
fn url_segment(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn run_line(served: &Served) -> String {
    format!(
        "as of {} · run {} · {} accounts",
        served.result.as_of,
        served
            .run_id
            .map_or("not recorded".to_string(), |id| format!("#{id}")),
        served.index.len()
    )
}

/// Where the decision's links go in the dashboard.
fn dashboard_link(section: &str) -> String {
    format!("/{section}")
}

async fn overview(State(app): State<Arc<App>>) -> Response {
    let Some(served) = app.current() else {
        return not_ready(&app, "/");
    };
    let result = &served.result;
    let o = &result.overall;
    let mut body = format!(
        "<h1>Segments <small>{}</small></h1>\
         <p>ARR {}, NRR {}, GRR {}, logo churn {}, NPS {}.</p>",
        escape(&run_line(&served)),
        money(o.arr),
        percent(o.nrr),
        percent(o.grr),
        percent(o.logo_churn),
        o.nps.map_or("–".to_string(), |nps| format!("{nps:+.0}")),
    );
    let (history, movement) = match api::open_store(&app).await {
        Ok(mut store) => {
            let history = strata_core::service::history_points(&mut store)
                .await
                .unwrap_or_default();
            let movement = match served.run_id {
                Some(run_id) => {
                    strata_core::service::movement_of(&mut store, run_id, &served.result)
                        .await
                        .unwrap_or_default()
                }
                None => None,
            };
            (history, movement)
        }
        Err(_) => (Vec::new(), None),
    };
    // The decision first, as in the report: the roadmap and the ICP are
    // the run's own, or computed once for a run recorded elsewhere.
    let roadmap = api::roadmap_of(&served).await.ok();
    let icp = api::icp_of(&served).await.ok();
    let extras = report::Extras {
        icp: icp.as_deref(),
        cohorts: None,
        roadmap: roadmap.as_deref(),
        backtests: &[],
        movement: movement.as_ref(),
    };
    report::decision_section(&mut body, result, extras, &dashboard_link);
    if let Some(movement) = &movement {
        report::flows_section(&mut body, movement);
    }
    let act_on = report::act_on(result);
    for (idx, segmentation) in result.segmentations.iter().enumerate() {
        let name = segmentation.name.clone();
        let link = move |segment: &str| segment_href(&name, segment);
        report::segmentation_section(
            &mut body,
            segmentation,
            &history,
            Some(&link),
            act_on == Some(idx),
        );
    }
    page("Overview", "/", &body, Some(&served)).into_response()
}

/// The points of the store, newest first (the dates flows can join):
/// recorded runs and backfilled dates.
async fn points(app: &App) -> Result<Vec<RunRecord>, String> {
    let mut store = api::open_store(app)
        .await
        .map_err(|_| "this server records no runs".to_string())?;
    let runs = store.runs(usize::MAX).await.map_err(|e| e.to_string())?;
    Ok(runs
        .into_iter()
        .filter(|run| run.status == "succeeded")
        .collect())
}

/// A `<select>` of `options` (value, label) with `chosen` selected.
fn select(name: &str, label: &str, options: &[(String, String)], chosen: &str) -> String {
    let mut out = format!("<label>{label}<select name=\"{name}\" id=\"pick-{name}\">");
    for (value, text) in options {
        let selected = if value == chosen { " selected" } else { "" };
        let _ = write!(
            out,
            "<option value=\"{}\"{selected}>{}</option>",
            escape(value),
            escape(text)
        );
    }
    out.push_str("</select></label>");
    out
}

/// Accounts listed under a band; the rest are counted.
const BAND_LIST: usize = 200;

/// `/flows?segmentation=S&from=RUN&to=RUN&by=accounts|arr`: the Sankey of
/// one segmentation between two recorded runs (by default the served run
/// and the live run before it); each band lists its accounts, with why they
/// moved, under a disclosure that clicking the band (or Enter on it) opens.
async fn flows_page(
    State(app): State<Arc<App>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(served) = app.current() else {
        return not_ready(&app, "/flows");
    };
    let mut body = String::from("<h1>Segment flows</h1>");
    let runs = match points(&app).await {
        Ok(runs) => runs,
        Err(error) => {
            let _ = write!(body, "<p class=\"error\">{}</p>", escape(&error));
            return page("Flows", "/flows", &body, Some(&served)).into_response();
        }
    };
    if runs.len() < 2 {
        body.push_str(
            "<p>Flows need two recorded runs or backfilled dates: the first run is the baseline; run again later \
             (<code>strata run</code>, a schedule, or <code>POST /v1/runs</code>), or \
             <code>strata backfill --from DATE</code>, to see who moved.</p>",
        );
        return page("Flows", "/flows", &body, Some(&served)).into_response();
    }
    let names: Vec<(String, String)> = served
        .result
        .segmentations
        .iter()
        .map(|s| (s.name.clone(), s.name.clone()))
        .collect();
    let segmentation = params
        .get("segmentation")
        .filter(|name| names.iter().any(|(n, _)| n == *name))
        .cloned()
        .unwrap_or_else(|| names.first().map(|n| n.0.clone()).unwrap_or_default());
    let to_default = served
        .run_id
        .filter(|id| runs.iter().any(|r| r.id == *id))
        .unwrap_or(runs[0].id);
    let run_param = |key: &str, default: i64| {
        params
            .get(key)
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|id| runs.iter().any(|r| r.id == *id))
            .unwrap_or(default)
    };
    let to = run_param("to", to_default);
    // The live run before `to`, else any point before it.
    let from_default = runs
        .iter()
        .filter(|r| r.id < to && r.kind == RunKind::Run)
        .map(|r| r.id)
        .max()
        .or_else(|| runs.iter().filter(|r| r.id < to).map(|r| r.id).max())
        .unwrap_or(runs[runs.len() - 1].id);
    let from = run_param("from", from_default);
    let by_arr = params.get("by").is_some_and(|by| by == "arr");
    let run_options: Vec<(String, String)> = runs
        .iter()
        .map(|r| {
            let what = match r.kind {
                RunKind::Run => format!("run #{}", r.id),
                RunKind::Backfill => "backfilled".to_string(),
            };
            (r.id.to_string(), format!("{} ({what})", r.as_of))
        })
        .collect();
    let by_options = [
        ("accounts".to_string(), "accounts".to_string()),
        ("arr".to_string(), "ARR now".to_string()),
    ];
    let _ = write!(
        body,
        "<form class=\"pick\" method=\"get\" action=\"/flows\">{}{}{}{}<button type=\"submit\">Show</button></form>\
         <p class=\"muted\">Between any two recorded runs or backfilled dates (a backfilled date keeps sizes, \
         not memberships: its segments are recomputed under today's definitions). \
         Click a band, or focus it with Tab and press Enter, to list its accounts.</p>",
        select("segmentation", "segmentation", &names, &segmentation),
        select("from", "from", &run_options, &from.to_string()),
        select("to", "to", &run_options, &to.to_string()),
        select(
            "by",
            "width by",
            &by_options,
            if by_arr { "arr" } else { "accounts" }
        ),
    );
    let record = |id: i64| runs.iter().find(|r| r.id == id).cloned();
    let (Some(from_run), Some(to_run)) = (record(from), record(to)) else {
        return page("Flows", "/flows", &body, Some(&served)).into_response();
    };
    let found = match flows_between(&app, &served, &segmentation, &from_run, &to_run).await {
        Ok(found) => found,
        Err(error) => {
            let _ = write!(body, "<p class=\"error\">{}</p>", escape(&error));
            return page("Flows", "/flows", &body, Some(&served)).into_response();
        }
    };
    let date = |id: i64| {
        runs.iter()
            .find(|r| r.id == id)
            .map(|r| r.as_of.to_string())
            .unwrap_or_default()
    };
    let _ = write!(
        body,
        "<h2>{} <small>{} → {}</small></h2>",
        escape(&segmentation),
        date(from),
        date(to)
    );
    if found.flows.flows.is_empty() {
        body.push_str("<p>No account is in a segment at either run.</p>");
        return page("Flows", "/flows", &body, Some(&served)).into_response();
    }
    body.push_str(&report::sankey_chart(&found.flows, by_arr));
    for (idx, (flow, accounts)) in found.flows.flows.iter().zip(&found.accounts).enumerate() {
        let verb = if flow.from == flow.to {
            "stayed in"
        } else {
            "moved"
        };
        let _ = write!(
            body,
            "<details class=\"band-list\" id=\"band-{idx}\" data-from=\"{f}\" data-to=\"{t}\"><summary>{f} → {t}: {} accounts, {} ARR now ({verb})</summary>\
             <table class=\"movers\"><thead><tr><th>account</th><th>ARR</th><th>why</th></tr></thead><tbody>",
            flow.accounts,
            money(flow.arr),
            f = escape(&flow.from),
            t = escape(&flow.to),
        );
        for account in accounts.iter().take(BAND_LIST) {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
                escape(&account.account_id),
                money(account.arr),
                escape(&account.reason)
            );
        }
        body.push_str("</tbody></table>");
        if accounts.len() > BAND_LIST {
            let _ = write!(
                body,
                "<p class=\"muted\">and {} more (<code>strata changes --segmentation {}</code> lists every transition).</p>",
                accounts.len() - BAND_LIST,
                escape(&segmentation)
            );
        }
        body.push_str("</details>");
    }
    page("Flows", "/flows", &body, Some(&served)).into_response()
}

/// The flows of `segmentation` from one point of the store to another:
/// a run's memberships in force, a backfilled date's recomputed under
/// today's definitions; ARR from the served run; each mover's latest
/// transition reason in between when both are runs.
async fn flows_between(
    app: &App,
    served: &Served,
    segmentation: &str,
    from: &RunRecord,
    to: &RunRecord,
) -> Result<strata_core::state::flows::FlowsBetween, String> {
    let mut store = api::open_store(app)
        .await
        .map_err(|_| "this server records no runs".to_string())?;
    let mut members = async |point: &RunRecord| -> Result<HashMap<String, Option<String>>, String> {
        if point.kind == RunKind::Run {
            let rows = store
                .memberships_at(point.id)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(rows
                .into_iter()
                .filter(|(s, _, _)| s == segmentation)
                .map(|(_, account, segment)| (account, segment))
                .collect());
        }
        strata_core::pipeline::members_at(&served.project, segmentation, point.as_of)
            .await
            .map_err(|e| e.to_string())
    };
    let before = members(from).await?;
    let after = members(to).await?;
    let mut reasons: HashMap<String, String> = HashMap::new();
    if from.kind == RunKind::Run && to.kind == RunKind::Run {
        let (low, high) = (from.id.min(to.id), from.id.max(to.id));
        let changes = store
            .changes(&ChangeFilter {
                segmentation: Some(segmentation.to_string()),
                limit: usize::MAX,
                ..ChangeFilter::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        // Newest first: the first seen per account is its latest in between.
        for change in changes
            .into_iter()
            .filter(|c| c.run_id > low && c.run_id <= high)
        {
            reasons.entry(change.account_id).or_insert(change.reason);
        }
    } else {
        let why = "a backfilled date's segment, recomputed under today's definitions";
        for (account, segment) in &after {
            if before.get(account) != Some(segment) {
                reasons.insert(account.clone(), why.to_string());
            }
        }
        for account in before.keys().filter(|a| !after.contains_key(*a)) {
            reasons.insert(account.clone(), why.to_string());
        }
    }
    let (_, arr) = strata_core::service::movement_inputs(&served.result);
    Ok(strata_core::state::flows::between(
        segmentation,
        &before,
        &after,
        &arr,
        &reasons,
    ))
}

/// `/overlap?rows=A&columns=B&shade=accounts|arr|nrr`: two segmentations of
/// the served run crossed, a heat map and its table.
async fn overlap_page(
    State(app): State<Arc<App>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(served) = app.current() else {
        return not_ready(&app, "/overlap");
    };
    let result = &served.result;
    let mut body = format!(
        "<h1>Overlap <small>{}</small></h1>",
        escape(&run_line(&served))
    );
    if result.segmentations.len() < 2 {
        body.push_str("<p>Overlap crosses two segmentations; the project has one.</p>");
        return page("Overlap", "/overlap", &body, Some(&served)).into_response();
    }
    let names: Vec<(String, String)> = result
        .segmentations
        .iter()
        .map(|s| (s.name.clone(), s.name.clone()))
        .collect();
    let pick = |key: &str, default: usize| {
        params
            .get(key)
            .filter(|name| names.iter().any(|(n, _)| n == *name))
            .cloned()
            .unwrap_or_else(|| names[default].0.clone())
    };
    let first = report::act_on(result).unwrap_or(0);
    let rows = pick("rows", first);
    let columns = pick("columns", if first == 0 { 1 } else { 0 });
    let shade = params
        .get("shade")
        .and_then(|s| report::Shade::parse(s))
        .unwrap_or(report::Shade::Accounts);
    let shades = [
        ("accounts".to_string(), "share of accounts".to_string()),
        ("arr".to_string(), "share of ARR".to_string()),
        ("nrr".to_string(), "NRR".to_string()),
    ];
    let _ = write!(
        body,
        "<form class=\"pick\" method=\"get\" action=\"/overlap\">{}{}{}<button type=\"submit\">Show</button></form>",
        select("rows", "rows", &names, &rows),
        select("columns", "columns", &names, &columns),
        select("shade", "shade by", &shades, shade.name()),
    );
    let matrix = match strata_core::pipeline::crossed(result, &rows, &columns) {
        Ok(matrix) => matrix,
        Err(error) => {
            let _ = write!(
                body,
                "<p class=\"error\">{}</p>",
                escape(&error.to_string())
            );
            return page("Overlap", "/overlap", &body, Some(&served)).into_response();
        }
    };
    let segments = |name: &str| -> Vec<String> {
        result
            .segmentations
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.segments.iter().map(|seg| seg.name.clone()).collect())
            .unwrap_or_default()
    };
    body.push_str(&report::overlap_chart(
        &matrix,
        &segments(&rows),
        &segments(&columns),
        shade,
    ));
    let _ = write!(
        body,
        "<details><summary>as a table</summary><table id=\"overlap-table\"><thead><tr><th>{}</th><th>{}</th><th>accounts</th><th>ARR</th><th>NRR</th><th>logo churn</th></tr></thead><tbody>",
        escape(&rows),
        escape(&columns)
    );
    for cell in &matrix.cells {
        let e = &cell.economics;
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&cell.segments[0]),
            escape(&cell.segments[1]),
            e.accounts,
            money(e.arr),
            percent(e.nrr),
            percent(e.logo_churn)
        );
    }
    body.push_str("</tbody></table></details>");
    page("Overlap", "/overlap", &body, Some(&served)).into_response()
}

async fn roadmap_page(State(app): State<Arc<App>>) -> Response {
    let Some(served) = app.current() else {
        return not_ready(&app, "/roadmap");
    };
    let found = api::roadmap_of(&served).await;
    let body = section_or_error(found, "Segments to roadmap", |body, report| {
        report::roadmap_section(body, report)
    });
    page("Roadmap", "/roadmap", &body, Some(&served)).into_response()
}

/// A page's body: `section` of an analysis of the served run, or, when it
/// could not be computed, `heading` and why.
fn section_or_error<T>(
    found: Result<Arc<T>, String>,
    heading: &str,
    section: impl FnOnce(&mut String, &T),
) -> String {
    let mut body = String::new();
    match found {
        Ok(report) => section(&mut body, &report),
        Err(error) => {
            let _ = write!(
                body,
                "<h1>{heading}</h1><p class=\"error\">{}</p>",
                escape(&error)
            );
        }
    }
    body
}

async fn segment_page(
    State(app): State<Arc<App>>,
    Path((segmentation, segment)): Path<(String, String)>,
) -> Response {
    let Some(served) = app.current() else {
        return not_ready(&app, "");
    };
    let found = served
        .result
        .segmentations
        .iter()
        .find(|s| s.name == segmentation)
        .and_then(|s| {
            s.segments
                .iter()
                .find(|seg| seg.name == segment)
                .map(|seg| (s, seg))
        });
    let Some((parent, seg)) = found else {
        let body = format!(
            "<h1>Not found</h1><p>No segment <code>{}</code> in segmentation <code>{}</code>. \
             <a href=\"/\">Back to the overview</a>.</p>",
            escape(&segment),
            escape(&segmentation)
        );
        return (
            StatusCode::NOT_FOUND,
            page("not found", "", &body, Some(&served)),
        )
            .into_response();
    };
    let e = &seg.economics;
    let mut body = format!(
        "<h1>{} <small>{} · {}</small></h1>",
        escape(&seg.name),
        escape(&parent.name),
        escape(&run_line(&served))
    );
    if let Some(description) = &seg.description {
        let _ = write!(body, "<p>{}</p>", escape(description));
    }
    if !seg.rule.is_empty() {
        let _ = write!(body, "<p>Rule:</p><pre>{}</pre>", escape(&seg.rule));
    }
    let _ = write!(
        body,
        "<table><tr><th>accounts</th><td id=\"segment-accounts\">{}</td></tr><tr><th>% accounts</th><td>{:.1}%</td></tr>\
         <tr><th>ARR</th><td>{}</td></tr><tr><th>% ARR</th><td>{}</td></tr><tr><th>NRR</th><td>{}</td></tr>\
         <tr><th>GRR</th><td>{}</td></tr><tr><th>logo churn</th><td>{}</td></tr><tr><th>expansion MRR</th><td>{}</td></tr>\
         <tr><th>NPS</th><td>{}</td></tr><tr><th>quality</th><td>{}</td></tr></table>",
        e.accounts,
        e.share_of_accounts * 100.0,
        money(e.arr),
        percent(e.share_of_arr),
        percent(e.nrr),
        percent(e.grr),
        percent(e.logo_churn),
        money(e.expansion_mrr),
        report::nps_text(e),
        if seg.quality.passes() {
            seg.quality
                .score
                .map_or("passes".to_string(), |s| format!("score {s:.2}"))
        } else {
            format!("⚠ {}", escape(&seg.quality.failures.join("; ")))
        },
    );
    if let Some(persona) = &seg.persona {
        let _ = write!(
            body,
            "<div class=\"cards\"><div class=\"card\"><h4>{}</h4><p>{}</p></div></div>",
            escape(&persona.name),
            escape(&persona.narrative)
        );
    }
    let api_path = format!(
        "/v1/segmentations/{}/segments/{}/members",
        url_segment(&parent.name),
        url_segment(&seg.name)
    );
    let _ = write!(
        body,
        "<h2>Members</h2>\
         <div class=\"pager\"><input type=\"search\" id=\"member-search\" placeholder=\"account id contains…\">\
         <button id=\"members-prev\">‹ prev</button><span id=\"members-range\"></span><button id=\"members-next\">next ›</button>\
         <a href=\"{api}?format=csv\" download>download CSV</a></div>\
         <table id=\"members\" data-api=\"{api}\"><thead><tr><th>account</th><th>ARR</th><th>plan</th><th>industry</th><th>employees</th><th>owner</th></tr></thead>\
         <tbody></tbody></table>",
        api = escape(&api_path)
    );
    let here = segment_href(&parent.name, &seg.name);
    page(&seg.name, &here, &body, Some(&served)).into_response()
}

async fn transitions_page(State(app): State<Arc<App>>) -> Response {
    let mut body =
        String::from("<h1>Transitions <small>newest first, customer movement only</small></h1>");
    let changes = match api::open_store(&app).await {
        Ok(mut store) => store
            .changes(&ChangeFilter {
                limit: 200,
                ..ChangeFilter::default()
            })
            .await
            .map_err(|e| e.to_string()),
        Err(_) => Err("this server records no runs".to_string()),
    };
    match changes {
        Ok(changes) if changes.is_empty() => body.push_str(
            "<p>No transitions yet: the first run is the baseline; accounts that move appear here after the next run.</p>",
        ),
        Ok(changes) => {
            body.push_str("<table id=\"transitions\"><thead><tr><th>as of</th><th>account</th><th>segmentation</th><th>from</th><th>to</th><th>cause</th><th>why</th></tr></thead><tbody>");
            for t in changes {
                let why = &t.reason;
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
                    t.as_of,
                    escape(&t.account_id),
                    escape(&t.segmentation),
                    escape(t.from.as_deref().unwrap_or("–")),
                    escape(t.to.as_deref().unwrap_or("–")),
                    serde_json::to_value(t.cause).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
                    escape(why),
                );
            }
            body.push_str("</tbody></table>");
        }
        Err(error) => {
            let _ = write!(body, "<p class=\"error\">{}</p>", escape(&error));
        }
    }
    page(
        "Transitions",
        "/transitions",
        &body,
        app.current().as_deref(),
    )
    .into_response()
}

async fn icp_page(State(app): State<Arc<App>>) -> Response {
    let Some(served) = app.current() else {
        return not_ready(&app, "/icp");
    };
    let found = api::icp_of(&served).await;
    let body = section_or_error(found, "Ideal customer profile", |body, report| {
        report::icp_section(body, report)
    });
    page("ICP", "/icp", &body, Some(&served)).into_response()
}

async fn backtest_page(State(app): State<Arc<App>>) -> Response {
    let Some(served) = app.current() else {
        return not_ready(&app, "/backtest");
    };
    let mut body = String::new();
    match api::backtests_of(&served).await {
        Ok(backtests) if backtests.is_empty() => body.push_str(
            "<h1>Backtest</h1><p>No segmentation claims risk and health (segments named like \
             <code>at-risk</code> and <code>healthy</code>) and none is a score, so there is nothing \
             to hold against what happened. <code>strata backtest --segmentation NAME</code> tests any other.</p>",
        ),
        Ok(backtests) => report::backtest_section(&mut body, &backtests),
        Err(error) => {
            let _ = write!(
                body,
                "<h1>Backtest</h1><p class=\"error\">{}</p>",
                escape(&error)
            );
        }
    }
    page("Backtest", "/backtest", &body, Some(&served)).into_response()
}

async fn definitions_page(State(app): State<Arc<App>>) -> Response {
    let mut body =
        String::from("<h1>Definitions <small>every version of every segmentation</small></h1>");
    let versions = match api::open_store(&app).await {
        Ok(mut store) => store.definitions().await.map_err(|e| e.to_string()),
        Err(_) => Err("this server records no runs".to_string()),
    };
    match versions {
        Ok(versions) => {
            body.push_str("<table><thead><tr><th>version</th><th>segmentation</th><th>#</th><th>first seen</th><th>hash</th></tr></thead><tbody>");
            for v in versions.iter().rev() {
                let _ = write!(
                    body,
                    "<tr><td><a href=\"#v{id}\">v{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
                    escape(&v.segmentation),
                    v.seq,
                    escape(&v.created_at),
                    escape(&v.hash[..12.min(v.hash.len())]),
                    id = v.id,
                );
            }
            body.push_str("</tbody></table>");
            for v in versions.iter().rev() {
                let pretty = serde_json::from_str::<serde_json::Value>(&v.body)
                    .ok()
                    .and_then(|value| serde_json::to_string_pretty(&value).ok())
                    .unwrap_or_else(|| v.body.clone());
                let _ = write!(
                    body,
                    "<h3 id=\"v{}\">v{} · {} #{}</h3><pre>{}</pre>",
                    v.id,
                    v.id,
                    escape(&v.segmentation),
                    v.seq,
                    escape(&pretty)
                );
            }
        }
        Err(error) => {
            let _ = write!(body, "<p class=\"error\">{}</p>", escape(&error));
        }
    }
    page(
        "Definitions",
        "/definitions",
        &body,
        app.current().as_deref(),
    )
    .into_response()
}

async fn editor_page(State(app): State<Arc<App>>) -> Response {
    let served = app.current();
    let columns = served
        .as_ref()
        .map(|served| {
            served
                .result
                .features
                .rule_schema()
                .names()
                .map(|name| format!("<code>{}</code>", escape(name)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Rule editor</h1>\
         <p>Type a rule in the rule language; the preview shows the accounts it matches in the served run. Nothing is saved.</p>\
         <textarea id=\"rule\" rows=\"4\" spellcheck=\"false\" placeholder=\"events_28d &gt; 100 AND plan = 'Enterprise'\"></textarea>\
         <div id=\"preview\"><p class=\"muted\">The preview appears as you type.</p></div>\
         <h3>Columns</h3><p>{columns}</p>"
    );
    page("Rule editor", "/editor", &body, served.as_deref()).into_response()
}

/// The token form, shown instead of a page when a token is needed; `error`
/// says why the last try failed.
pub fn login_page(next: &str) -> Response {
    login_form(next, None)
}

fn login_form(next: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1><p>This server needs a token (a <code>[[serve.token]]</code> of strata.toml).</p>{error}\
         <form id=\"login\" method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
         <input type=\"password\" name=\"token\" id=\"token\" placeholder=\"token\" autocomplete=\"current-password\"> \
         <button type=\"submit\">Sign in</button></form>",
        escape(next)
    );
    (StatusCode::UNAUTHORIZED, page("Sign in", "", &body, None)).into_response()
}

/// `POST /login` with `token` and `next` (a form): a valid token is kept in
/// an HttpOnly, same-site cookie and the browser goes on to `next`.
async fn login(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let form = super::auth::form_fields(&body);
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    // Only a path on this server, never another origin.
    let next = field("next")
        .filter(|next| next.starts_with('/') && !next.starts_with("//"))
        .unwrap_or("/");
    let token = field("token").unwrap_or_default();
    if !app.auth.accepts(token) {
        return login_form(next, Some("that token is not accepted"));
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, next.to_string()),
            (
                header::SET_COOKIE,
                format!(
                    "strata_token={}; Path=/; HttpOnly; SameSite=Strict",
                    super::auth::cookie_encode(token)
                ),
            ),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_path_segments() {
        assert_eq!(url_segment("Mid-Market"), "Mid-Market");
        assert_eq!(url_segment("a b/c"), "a%20b%2Fc");
        assert_eq!(
            segment_href("acv tier", "<5k"),
            "/segments/acv%20tier/%3C5k"
        );
    }
}
