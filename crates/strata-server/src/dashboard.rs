//! The dashboard: server-rendered pages over the served run and the state
//! store, with one small vendored script (`assets/dashboard.js`) for the
//! live rule editor, member search and paging. No page loads anything from
//! another origin.
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use strata_core::outputs::report::{self, escape, money, percent};
use strata_core::state::ChangeFilter;

use super::{App, Served, api};

const SCRIPT: &str = include_str!("assets/dashboard.js");
const EXTRA_STYLE: &str = "nav{display:flex;gap:16px;align-items:baseline;border-bottom:1px solid #ddd;padding-bottom:8px;margin-bottom:12px}\
nav a{color:#245;text-decoration:none}nav a.here{font-weight:bold}nav .brand{font-weight:bold;font-size:16px;color:#222}\
textarea{width:100%;font:14px ui-monospace,monospace;padding:6px;box-sizing:border-box}pre{background:#f6f6f6;padding:8px;overflow:auto}\
.error{color:#b00}.figure{font-size:28px;font-weight:bold}.pager{display:flex;gap:8px;align-items:center;margin:6px 0}\
input[type=search],input[type=password]{padding:4px 6px;min-width:240px}";

/// The dashboard's routes.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(overview))
        .route("/segments/{segmentation}/{segment}", get(segment_page))
        .route("/transitions", get(transitions_page))
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

/// A whole page with the navigation bar; `here` is the current path.
fn page(title: &str, here: &str, body: &str) -> Html<String> {
    let mut nav = String::new();
    for (path, label) in [
        ("/", "Overview"),
        ("/transitions", "Transitions"),
        ("/icp", "ICP"),
        ("/backtest", "Backtest"),
        ("/definitions", "Definitions"),
        ("/editor", "Rule editor"),
    ] {
        let class = if path == here { " class=\"here\"" } else { "" };
        let _ = write!(nav, "<a href=\"{path}\"{class}>{label}</a>");
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{} · strata</title>\
         <style>{}{EXTRA_STYLE}</style></head><body>\
         <nav><span class=\"brand\">strata</span>{nav}</nav>{body}\
         <script src=\"/assets/dashboard.js\"></script></body></html>",
        escape(title),
        report::STYLE,
    ))
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
        page("starting", here, &body),
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
    if let (Some(points), Some(tier)) = (result.nrr_spread.spread_points, result.nrr_spread.tier) {
        let _ = write!(
            body,
            "<p>NRR spread, most vs least engaged quartile: {points:.0} points ({}).</p>",
            escape(tier)
        );
    }
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
    page("Overview", "/", &body).into_response()
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
        return (StatusCode::NOT_FOUND, page("not found", "", &body)).into_response();
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
    page(&seg.name, "", &body).into_response()
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
    page("Transitions", "/transitions", &body).into_response()
}

async fn icp_page(State(app): State<Arc<App>>) -> Response {
    let Some(served) = app.current() else {
        return not_ready(&app, "/icp");
    };
    let mut body = String::new();
    match api::icp_of(&served).await {
        Ok(report) => report::icp_section(&mut body, &report),
        Err(error) => {
            let _ = write!(
                body,
                "<h1>Ideal customer profile</h1><p class=\"error\">{}</p>",
                escape(&error)
            );
        }
    }
    page("ICP", "/icp", &body).into_response()
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
    page("Backtest", "/backtest", &body).into_response()
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
    page("Definitions", "/definitions", &body).into_response()
}

async fn editor_page(State(app): State<Arc<App>>) -> Response {
    let columns = app
        .current()
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
    page("Rule editor", "/editor", &body).into_response()
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
    (StatusCode::UNAUTHORIZED, page("Sign in", "", &body)).into_response()
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
