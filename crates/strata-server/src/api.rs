//! The JSON API under `/v1`. Every error is
//! `{"error": {"code", "message", "help"?, "position"?}}` with a 4xx or 5xx
//! status; `openapi.rs` documents exactly these routes and shapes.
use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use datafusion::arrow::array::Array;
use serde_json::{Value, json};
use strata_core::index::MembershipIndex;
use strata_core::state::{ChangeFilter, Location, Store};

use super::{App, Served};

/// An API error: status, stable code, message, and optionally what to do
/// and where in a rule the problem is.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    help: Option<String>,
    position: Option<Value>,
}

impl ApiError {
    /// An error with a status, a code such as `not_found`, and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            help: None,
            position: None,
        }
    }

    /// The same error with advice.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    fn internal(error: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        )
    }

    /// A service strata needs did not answer (a database, the store): 503,
    /// the request itself may be fine.
    fn unavailable(problem: &strata_core::error::Problem) -> Self {
        let error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("{}: {}", problem.location, problem.message),
        );
        match &problem.help {
            Some(help) => error.help(help.clone()),
            None => error,
        }
    }

    /// A rule that failed to parse or check: 400 with its position.
    fn rule(error: &strata_core::rules::RuleError) -> Self {
        let (line, column) = error.line_col();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_rule",
            message: error.message.clone(),
            help: error.help.clone(),
            position: Some(json!({
                "start": error.span.start,
                "end": error.span.end,
                "line": line,
                "column": column,
                "snippet": error.render_snippet(),
            })),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(help) = self.help {
            error["help"] = help.into();
        }
        if let Some(position) = self.position {
            error["position"] = position;
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<strata_core::Error> for ApiError {
    fn from(error: strata_core::Error) -> Self {
        match &error {
            strata_core::Error::Rule(rule) => ApiError::rule(rule),
            strata_core::Error::Invalid(_) => ApiError::bad_request(error.to_string()),
            strata_core::Error::Unavailable(problem) => ApiError::unavailable(problem),
            _ => ApiError::internal(error),
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The run being served, or 503 while the first run is in progress.
fn served(app: &App) -> ApiResult<Arc<Served>> {
    app.current().ok_or_else(|| {
        let (message, help) = match app.last_error() {
            Some(error) => (
                format!("no run is served: the last run failed: {error}"),
                "fix the project, then POST /v1/runs",
            ),
            None => (
                "the first run is still in progress".to_string(),
                "retry when GET /readyz answers 200",
            ),
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", message).help(help)
    })
}

fn query_params(
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<HashMap<String, String>> {
    query
        .map(|Query(params)| params)
        .map_err(|rejection| ApiError::bad_request(format!("bad query string: {rejection}")))
}

/// An integer query parameter within `min..=max`.
fn int_param(
    params: &HashMap<String, String>,
    name: &str,
    default: usize,
    min: usize,
    max: usize,
) -> ApiResult<usize> {
    let Some(text) = params.get(name) else {
        return Ok(default);
    };
    match text.trim().parse::<usize>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(ApiError::bad_request(format!(
            "`{name}` must be a whole number from {min} to {max}, found `{text}`"
        ))
        .help(format!("e.g. ?{name}={default}"))),
    }
}

pub(super) async fn open_store(app: &App) -> ApiResult<Store> {
    if app.record.no_store {
        return Err(ApiError::not_found(
            "this server records no runs (started with --no-store)",
        ));
    }
    let location = Location::resolve(&app.project(), app.record.store.as_deref())
        .map_err(ApiError::internal)?;
    Store::open(&location).await.map_err(ApiError::from)
}

/// `GET /healthz`: the process answers.
pub async fn health(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "uptime_seconds": app.started.elapsed().as_secs(),
    }))
}

/// `GET /readyz`: 200 once a run is served, 503 before.
pub async fn ready(State(app): State<Arc<App>>) -> Response {
    match app.current() {
        Some(served) => Json(json!({
            "status": "ready",
            "run_id": served.run_id,
            "as_of": served.result.as_of.to_string(),
            "accounts": served.index.len(),
            "running": app.is_running(),
        }))
        .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": if app.last_error().is_some() { "failed" } else { "starting" },
                "error": app.last_error(),
                "running": app.is_running(),
            })),
        )
            .into_response(),
    }
}

/// `GET /v1/openapi.json`.
pub async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}

/// Any other path.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route {}", uri.path()))
        .help("see /v1/openapi.json for the API, / for the dashboard")
}

/// `GET /v1/segmentations`: `segments.json` of the served run.
pub async fn segmentations(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    Ok(Json(served(&app)?.document.clone()))
}

fn find_segmentation<'a>(served: &'a Served, name: &str) -> ApiResult<(usize, &'a Value)> {
    let list = served.document["segmentations"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    list.iter()
        .enumerate()
        .find(|(_, s)| s["name"] == name)
        .ok_or_else(|| {
            let names: Vec<&str> = list.iter().filter_map(|s| s["name"].as_str()).collect();
            ApiError::not_found(format!("unknown segmentation `{name}`"))
                .help(format!("segmentations: {}", names.join(", ")))
        })
}

fn find_segment<'a>(
    served: &'a Served,
    segmentation: &str,
    segment: &str,
) -> ApiResult<(usize, usize, &'a Value)> {
    let (s_idx, value) = find_segmentation(served, segmentation)?;
    let segments = value["segments"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let found = segments
        .iter()
        .enumerate()
        .find(|(_, s)| s["name"] == segment);
    match found {
        Some((idx, value)) => Ok((s_idx, idx, value)),
        None => {
            let names: Vec<&str> = segments.iter().filter_map(|s| s["name"].as_str()).collect();
            Err(ApiError::not_found(format!(
                "segmentation `{segmentation}` has no segment `{segment}`"
            ))
            .help(format!("segments: {}", names.join(", "))))
        }
    }
}

/// `GET /v1/segmentations/{segmentation}`.
pub async fn segmentation(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let served = served(&app)?;
    let (_, value) = find_segmentation(&served, &name)?;
    Ok(Json(value.clone()))
}

/// `GET /v1/segmentations/{segmentation}/segments/{segment}`.
pub async fn segment(
    State(app): State<Arc<App>>,
    Path((segmentation, segment)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let served = served(&app)?;
    let (_, _, value) = find_segment(&served, &segmentation, &segment)?;
    Ok(Json(value.clone()))
}

/// Columns of the feature table shown for each member, when the accounts have them.
const MEMBER_COLUMNS: [&str; 6] = ["name", "plan", "industry", "employees", "country", "owner"];

/// One member's row: id, ARR and MRR, and the account attributes there are.
fn member_row(served: &Served, row: usize) -> Value {
    let revenue = served.result.revenue.get(row).copied().unwrap_or_default();
    let mut value = json!({
        "account_id": served.ids[row],
        "arr": revenue.mrr_now * 12.0,
        "mrr": revenue.mrr_now,
    });
    let batch = &served.result.features.batch;
    for name in MEMBER_COLUMNS {
        if let Ok(idx) = batch.schema().index_of(name) {
            let column = batch.column(idx);
            value[name] = if column.is_null(row) {
                Value::Null
            } else {
                let text = strata_core::sources::convert::value_text(column, row);
                match column.data_type().is_numeric() {
                    true => text.parse::<f64>().map_or(Value::String(text), Value::from),
                    false => Value::String(text),
                }
            };
        }
    }
    value
}

/// Rows of the members of a segment that pass `q` and `filter`.
async fn member_rows(
    served: &Served,
    s_idx: usize,
    segment: usize,
    params: &HashMap<String, String>,
) -> ApiResult<Vec<usize>> {
    let membership = &served.result.segmentations[s_idx].membership;
    let filter = match params
        .get("filter")
        .map(|f| f.trim())
        .filter(|f| !f.is_empty())
    {
        Some(text) => {
            let rule =
                strata_core::rules::check_predicate(text, &served.result.features.rule_schema())
                    .map_err(|error| ApiError::rule(&error))?;
            let ctx = datafusion::prelude::SessionContext::new();
            Some(strata_core::segment::first_matches(
                &ctx,
                &served.result.features.batch,
                &[rule],
            )?)
        }
        None => None,
    };
    let needle = params.get("q").map(|q| q.to_lowercase());
    Ok((0..membership.len())
        .filter(|&row| membership[row] == Some(segment))
        .filter(|&row| filter.as_ref().is_none_or(|f| f[row].is_some()))
        .filter(|&row| {
            needle
                .as_ref()
                .is_none_or(|n| served.ids[row].to_lowercase().contains(n.as_str()))
        })
        .collect())
}

/// `GET /v1/segmentations/{s}/segments/{seg}/members?limit&offset&q&filter&format`.
pub async fn members(
    State(app): State<Arc<App>>,
    Path((segmentation, segment)): Path<(String, String)>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Response> {
    let params = query_params(query)?;
    let served = served(&app)?;
    let (s_idx, idx, _) = find_segment(&served, &segmentation, &segment)?;
    let limit = int_param(&params, "limit", 100, 1, 10_000)?;
    let offset = int_param(&params, "offset", 0, 0, usize::MAX >> 1)?;
    let format = params.get("format").map_or("json", String::as_str);
    if !matches!(format, "json" | "csv") {
        return Err(ApiError::bad_request(format!(
            "`format` must be json or csv, found `{format}`"
        )));
    }
    let rows = member_rows(&served, s_idx, idx, &params).await?;
    if format == "csv" {
        let mut csv = String::from("account_id,arr,mrr");
        for name in MEMBER_COLUMNS {
            csv.push(',');
            csv.push_str(name);
        }
        csv.push('\n');
        for row in &rows {
            let value = member_row(&served, *row);
            let fields: Vec<String> = ["account_id", "arr", "mrr"]
                .into_iter()
                .chain(MEMBER_COLUMNS)
                .map(|name| match &value[name] {
                    Value::Null => String::new(),
                    Value::String(text) => strata_core::outputs::csv_field(text),
                    other => other.to_string(),
                })
                .collect();
            csv.push_str(&fields.join(","));
            csv.push('\n');
        }
        let filename = format!("{segmentation}-{segment}.csv").replace(['"', '/', '\\'], "_");
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}\""),
                ),
            ],
            csv,
        )
            .into_response());
    }
    let page: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|row| member_row(&served, *row))
        .collect();
    let next = (offset + page.len() < rows.len()).then_some(offset + page.len());
    Ok(Json(json!({
        "segmentation": segmentation,
        "segment": segment,
        "total": rows.len(),
        "offset": offset,
        "limit": limit,
        "next_offset": next,
        "members": page,
    }))
    .into_response())
}

/// The fast path's answer from an index: 200 with the JSON, or 404.
fn index_answer(index: &MembershipIndex, account: &str) -> Response {
    match index.account_json(account) {
        Some(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        None => ApiError::not_found(format!("unknown account `{account}`"))
            .help("account ids are those of the accounts table, e.g. GET /v1/segmentations/{s}/segments/{seg}/members")
            .into_response(),
    }
}

/// `GET /v1/accounts/{account}/segments`: from the in-memory index.
pub async fn account_segments(
    State(app): State<Arc<App>>,
    Path(account): Path<String>,
) -> ApiResult<Response> {
    let served = served(&app)?;
    Ok(index_answer(&served.index, &account))
}

/// `GET /v1/accounts/{account}/scores`: the account's score in every score
/// segmentation, explained group by group and measure by measure.
pub async fn account_scores(
    State(app): State<Arc<App>>,
    Path(account): Path<String>,
) -> ApiResult<Json<Value>> {
    let served = served(&app)?;
    let Some(row) = served.ids.iter().position(|id| *id == account) else {
        return Err(ApiError::not_found(format!("unknown account `{account}`"))
            .help("account ids are those of the accounts table, e.g. GET /v1/segmentations/{s}/segments/{seg}/members"));
    };
    let scores: serde_json::Map<String, Value> = served
        .result
        .segmentations
        .iter()
        .filter_map(|segmentation| {
            let score = segmentation.scores.as_ref()?.get(row)?;
            Some((
                segmentation.name.clone(),
                serde_json::to_value(score).unwrap_or_default(),
            ))
        })
        .collect();
    let risk = served.result.risk.as_ref().map_or(Value::Null, |risk| {
        let mut entry = strata_core::risk::account_json(&account, &risk.of_account(row));
        if let Some(map) = entry.as_object_mut() {
            map.remove("account_id");
        }
        entry
    });
    Ok(Json(serde_json::json!({
        "account_id": account,
        "as_of": served.result.as_of.to_string(),
        "run_id": served.run_id,
        "scores": scores,
        "risk": risk,
    })))
}

/// A date or RFC 3339 time; a time counts from its date.
fn parse_since(text: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|time| time.date_naive())
        })
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "`since` must be a date (YYYY-MM-DD) or an RFC 3339 time, found `{text}`"
            ))
        })
}

/// `GET /v1/transitions?since&segmentation&account&redefinitions&limit`.
pub async fn transitions(
    State(app): State<Arc<App>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let params = query_params(query)?;
    let limit = int_param(&params, "limit", 100, 1, 10_000)?;
    let since = params.get("since").map(|s| parse_since(s)).transpose()?;
    let redefinitions = match params.get("redefinitions").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`redefinitions` must be true or false, found `{other}`"
            )));
        }
    };
    let mut store = open_store(&app).await?;
    let transitions = store
        .changes(&ChangeFilter {
            since,
            segmentation: params.get("segmentation").cloned(),
            account: params.get("account").cloned(),
            run: None,
            redefinitions,
            limit,
        })
        .await
        .map_err(ApiError::from)?;
    Ok(Json(json!({ "transitions": transitions })))
}

/// `GET /v1/runs?limit`.
pub async fn runs(
    State(app): State<Arc<App>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let params = query_params(query)?;
    let limit = int_param(&params, "limit", 20, 1, 1000)?;
    let mut store = open_store(&app).await?;
    let runs = store.runs(limit).await.map_err(ApiError::from)?;
    Ok(Json(json!({
        "served_run_id": app.current().and_then(|s| s.run_id),
        "running": app.is_running(),
        "runs": runs,
    })))
}

/// `POST /v1/runs` (admin): runs the pipeline now and serves the result.
/// Body (optional): `{"as_of": "YYYY-MM-DD"}`.
pub async fn trigger_run(State(app): State<Arc<App>>, body: Bytes) -> ApiResult<Json<Value>> {
    let as_of = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let value: Value = serde_json::from_slice(&body)
            .map_err(|error| ApiError::bad_request(format!("body is not JSON: {error}")))?;
        let Value::Object(fields) = &value else {
            return Err(ApiError::bad_request("body must be a JSON object"));
        };
        if let Some(key) = fields.keys().find(|k| k.as_str() != "as_of") {
            return Err(ApiError::bad_request(format!("unknown field `{key}`"))
                .help("the body may hold only as_of"));
        }
        match fields.get("as_of") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                Some(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                    ApiError::bad_request(format!("`as_of` must be YYYY-MM-DD, found `{text}`"))
                })?)
            }
            Some(_) => return Err(ApiError::bad_request("`as_of` must be a string")),
        }
    };
    match app.refresh(as_of, false).await {
        Ok(Some(summary)) => Ok(Json(
            serde_json::to_value(summary).map_err(ApiError::internal)?,
        )),
        Ok(None) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "run_in_progress",
            "a run is already in progress",
        )
        .help("retry when GET /v1/runs shows running: false")),
        Err(error) => match unavailable(&error) {
            Some(problem) => {
                Err(ApiError::unavailable(problem).help("the previous run is still served"))
            }
            None => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "run_failed",
                format!("{error:#}"),
            )
            .help("the previous run is still served")),
        },
    }
}

/// What `cell` holds, computing it with `compute` on first request; an
/// error is kept as its message (the served run's analyses are computed at
/// most once per run).
async fn computed_once<T, F>(
    cell: &tokio::sync::OnceCell<Result<Arc<T>, String>>,
    compute: F,
) -> Result<Arc<T>, String>
where
    F: std::future::Future<Output = strata_core::error::Result<T>>,
{
    cell.get_or_init(|| async {
        compute
            .await
            .map(Arc::new)
            .map_err(|error| error.to_string())
    })
    .await
    .clone()
}

/// The ICP of the served run, computed on first request and cached until
/// the next run; an error says why it could not be found.
pub async fn icp_of(served: &Served) -> Result<Arc<strata_core::pipeline::IcpReport>, String> {
    let options = strata_core::pipeline::RunOptions::at(Some(served.result.as_of));
    computed_once(
        &served.icp,
        strata_core::pipeline::icp(
            &served.project,
            &options,
            strata_core::service::REPORT_PLAN.icp_days.unwrap_or(60),
            &strata_core::icp::IcpParams::default(),
            &strata_core::pipeline::Quiet,
        ),
    )
    .await
}

/// The served run's segments-to-roadmap report (the report's), computed
/// on first request when the run did not bring it.
pub async fn roadmap_of(
    served: &Served,
) -> Result<Arc<strata_core::pipeline::RoadmapReport>, String> {
    let Some(name) = strata_core::pipeline::roadmap_segmentation(&served.project) else {
        return Err("the project has no segmentation to plan for".to_string());
    };
    let options = strata_core::pipeline::RunOptions::at(Some(served.result.as_of));
    computed_once(
        &served.roadmap,
        strata_core::pipeline::roadmap(
            &served.project,
            &options,
            &name,
            &strata_core::pipeline::Quiet,
        ),
    )
    .await
}

/// The served run's backtests (see `strata_core::backtest::in_run`),
/// computed once.
pub async fn backtests_of(
    served: &Served,
) -> Result<Arc<Vec<strata_core::backtest::Backtest>>, String> {
    computed_once(
        &served.backtests,
        strata_core::backtest::in_run(&served.project, served.result.as_of, None, None),
    )
    .await
}

/// `GET /v1/icp`: the ideal customer profile of the served run.
pub async fn icp(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    let served = served(&app)?;
    match icp_of(&served).await {
        Ok(report) => Ok(Json(
            serde_json::to_value(report.as_ref()).map_err(ApiError::internal)?,
        )),
        Err(error) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "icp_failed",
            error,
        )),
    }
}

/// `GET /v1/definitions`: every definition version, oldest first.
pub async fn definitions(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    let mut store = open_store(&app).await?;
    let versions = store.definitions().await.map_err(ApiError::from)?;
    let versions: Vec<Value> = versions
        .into_iter()
        .map(|v| {
            let document: Value = serde_json::from_str(&v.body).unwrap_or(Value::String(v.body));
            json!({
                "id": v.id,
                "segmentation": v.segmentation,
                "seq": v.seq,
                "hash": v.hash,
                "created_at": v.created_at,
                "definition": document,
            })
        })
        .collect();
    Ok(Json(json!({ "versions": versions })))
}

/// `POST /v1/rules/preview` with `{"rule": "..."}`: how many accounts match
/// and their economics; nothing is saved.
pub async fn preview(
    State(app): State<Arc<App>>,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(body) =
        body.map_err(|rejection| ApiError::bad_request(format!("bad request body: {rejection}"))
            .help("send Content-Type: application/json and a body such as {\"rule\": \"plan = 'Enterprise'\"}"))?;
    let Some(rule) = body.get("rule").and_then(Value::as_str) else {
        return Err(
            ApiError::bad_request("the body needs a string field `rule`")
                .help("e.g. {\"rule\": \"events_28d > 100 AND plan = 'Pro'\"}"),
        );
    };
    if rule.len() > 10_000 {
        return Err(ApiError::bad_request(
            "the rule is longer than 10,000 bytes",
        ));
    }
    let served = served(&app)?;
    let preview = strata_core::pipeline::preview_rule(&served.result, rule).await?;
    Ok(Json(
        serde_json::to_value(preview).map_err(ApiError::internal)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_core::error::Problem;

    #[test]
    fn an_outage_is_503_and_bad_input_400() {
        let outage = ApiError::from(strata_core::Error::unavailable(
            Problem::new(
                "store postgres://db/x",
                "PostgreSQL did not answer: refused",
            )
            .with_help("check the server"),
        ));
        assert_eq!(outage.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(outage.code, "unavailable");
        assert_eq!(
            outage.message,
            "store postgres://db/x: PostgreSQL did not answer: refused"
        );
        assert_eq!(outage.help.as_deref(), Some("check the server"));
        let invalid = ApiError::from(strata_core::Error::invalid(Problem::new("x", "bad")));
        assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
        let bug = ApiError::from(strata_core::Error::Internal("oops".into()));
        assert_eq!(bug.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}

/// The outage behind `error`, if a database, store or destination did not
/// answer (a 503 rather than a 400).
fn unavailable(error: &anyhow::Error) -> Option<&strata_core::error::Problem> {
    error
        .chain()
        .find_map(|cause| match cause.downcast_ref::<strata_core::Error>() {
            Some(strata_core::Error::Unavailable(problem)) => Some(problem),
            _ => None,
        })
}
