//! `strata serve`: every API endpoint and its errors on the tiny fixture
//! (exact numbers), auth scopes, the dashboard pages, and — where Node,
//! Playwright and Chromium or schemathesis are installed (always in CI) —
//! the browser end-to-end test, the report in Chromium and the OpenAPI
//! contract test.
mod util;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use util::Dir;

/// A running `strata serve`, killed when dropped.
struct Server {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl Server {
    /// Starts `strata serve` on a free loopback port and waits until it is ready.
    fn start(dir: &Dir, env: &[(&str, &str)], extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--addr", "127.0.0.1:0", "--out", "out"];
        args.extend_from_slice(extra);
        let mut command = dir.command(&args);
        for (key, value) in env {
            command = command.env(key, value);
        }
        let mut child = command.spawn();
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let first = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("strata serve prints its address");
        let url = first
            .split("listening on ")
            .nth(1)
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .trim()
            .to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .build()
            .into();
        let server = Server { child, url, agent };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (status, body) = self.get("/readyz", None);
            if status == 200 {
                return;
            }
            assert_eq!(status, 503, "{body}");
            assert_ne!(body["status"], "failed", "the first run failed: {body}");
            assert!(Instant::now() < deadline, "not ready after 300 s: {body}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// GET with an optional bearer token: status and JSON body (Null when not JSON).
    fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let (status, _, text) = self.get_raw(path, token, None);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// GET: status, content type, body text.
    fn get_raw(
        &self,
        path: &str,
        token: Option<&str>,
        cookie: Option<&str>,
    ) -> (u16, String, String) {
        let mut request = self.agent.get(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        let mut response = request.call().expect("request");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, content_type, text)
    }

    /// POST a body: status and JSON answer.
    fn post(&self, path: &str, body: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self
            .agent
            .post(format!("{}{path}", self.url))
            .header("Content-Type", "application/json");
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = request.send(body).expect("request");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts an error body: its code, and that its message contains `needle`.
fn assert_error(body: &Value, code: &str, needle: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} not in {body}");
}

#[test]
fn serve_api_answers_every_endpoint_with_exact_numbers() {
    let dir = Dir::fixture("tiny");
    let server = Server::start(&dir, &[], &[]);

    let (status, health) = server.get("/healthz", None);
    assert_eq!((status, &health["status"]), (200, &json!("ok")));
    let (status, ready) = server.get("/readyz", None);
    assert_eq!(status, 200);
    assert_eq!(ready["accounts"], 4);
    assert_eq!(ready["run_id"], 1);

    // Segmentations, one segmentation, one segment.
    let (status, all) = server.get("/v1/segmentations", None);
    assert_eq!(status, 200);
    assert_eq!(all["as_of"], "2026-10-31");
    assert_eq!(all["run_id"], 1);
    let names: Vec<&str> = all["segmentations"]
        .as_array()
        .expect("segmentations")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["size", "health"]);
    let (status, size) = server.get("/v1/segmentations/size", None);
    assert_eq!(status, 200);
    assert_eq!(size["unassigned"]["accounts"], 1);
    let (status, missing) = server.get("/v1/segmentations/sise", None);
    assert_eq!(status, 404);
    assert_error(&missing, "not_found", "unknown segmentation `sise`");
    assert_eq!(missing["error"]["help"], "segmentations: size, health");
    let (status, smb) = server.get("/v1/segmentations/size/segments/SMB", None);
    assert_eq!(status, 200);
    // a1: 150 MRR now, 100 a year ago.
    assert_eq!(smb["accounts"], 1);
    assert_eq!(smb["arr"], 1800.0);
    assert_eq!(smb["nrr"], 1.5);
    let (status, missing) = server.get("/v1/segmentations/size/segments/Giant", None);
    assert_eq!(status, 404);
    assert_error(&missing, "not_found", "has no segment `Giant`");

    // Members: paginated, filterable, CSV.
    let members = "/v1/segmentations/health/segments/active/members";
    let (status, page) = server.get(members, None);
    assert_eq!(status, 200);
    assert_eq!(page["total"], 2);
    let ids: Vec<&str> = page["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["account_id"].as_str())
        .collect();
    assert_eq!(ids, ["a1", "a3"]);
    assert_eq!(page["members"][0]["arr"], 1800.0);
    assert_eq!(page["members"][0]["plan"], "pro");
    assert_eq!(page["members"][0]["employees"], 50.0);
    assert_eq!(page["next_offset"], Value::Null);
    let (_, first) = server.get(&format!("{members}?limit=1"), None);
    assert_eq!(first["members"].as_array().map(Vec::len), Some(1));
    assert_eq!(first["next_offset"], 1);
    let (_, second) = server.get(&format!("{members}?limit=1&offset=1"), None);
    assert_eq!(second["members"][0]["account_id"], "a3");
    let (_, filtered) = server.get(&format!("{members}?filter=plan%20%3D%20%27pro%27"), None);
    assert_eq!(filtered["total"], 1);
    let (_, searched) = server.get(&format!("{members}?q=A3"), None);
    assert_eq!(searched["members"][0]["account_id"], "a3");
    for bad in [
        "limit=0",
        "limit=abc",
        "offset=-1",
        "limit=10001",
        "format=xml",
    ] {
        let (status, body) = server.get(&format!("{members}?{bad}"), None);
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{bad}");
    }
    let (status, body) = server.get(&format!("{members}?filter=plna%20%3D%201"), None);
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_rule");
    let (status, content_type, csv) = server.get_raw(&format!("{members}?format=csv"), None, None);
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "account_id,arr,mrr,name,plan,industry,employees,country,owner"
    );
    assert_eq!(
        lines[1],
        "a1,1800.0,150.0,Acme,pro,software,50.0,US,csm1@example.com"
    );
    assert_eq!(lines.len(), 3);

    // The fast path.
    let (status, a1) = server.get("/v1/accounts/a1/segments", None);
    assert_eq!(status, 200);
    assert_eq!(
        a1,
        json!({"account_id": "a1", "as_of": "2026-10-31", "run_id": 1,
               "segments": {"size": "SMB", "health": "active"}})
    );
    let (_, a4) = server.get("/v1/accounts/a4/segments", None);
    assert_eq!(a4["segments"], json!({"size": null, "health": "at-risk"}));
    let (status, unknown) = server.get("/v1/accounts/zz/segments", None);
    assert_eq!(status, 404);
    assert_error(&unknown, "not_found", "unknown account `zz`");
    // No score segmentation: no scores; an unknown account is a 404 here too.
    let (status, scores) = server.get("/v1/accounts/a1/scores", None);
    assert_eq!((status, &scores["scores"]), (200, &json!({})));
    let (status, unknown) = server.get("/v1/accounts/zz/scores", None);
    assert_eq!(status, 404);
    assert_error(&unknown, "not_found", "unknown account `zz`");

    // Rule preview: economics of what the rule selects; errors with their position.
    let (status, preview) =
        server.post("/v1/rules/preview", r#"{"rule": "employees < 1000"}"#, None);
    assert_eq!(status, 200, "{preview}");
    // a1 (150 now, 100 before) and a2 (800 now, 1000 before).
    assert_eq!(preview["accounts"], 2);
    assert_eq!(preview["arr"], 11_400.0);
    let nrr = preview["nrr"].as_f64().unwrap_or_default();
    assert!((nrr - 950.0 / 1100.0).abs() < 1e-12, "{preview}");
    assert_eq!(preview["sample"], json!(["a1", "a2"]));
    assert_eq!(preview["columns"], json!(["employees"]));
    let (status, error) = server.post(
        "/v1/rules/preview",
        r#"{"rule": "plan = 'pro' AND employes < 200"}"#,
        None,
    );
    assert_eq!(status, 400);
    assert_error(&error, "invalid_rule", "employes");
    assert_eq!(error["error"]["position"]["column"], 18);
    assert_eq!(error["error"]["position"]["start"], 17);
    assert!(
        error["error"]["help"]
            .as_str()
            .unwrap_or_default()
            .contains("employees"),
        "{error}"
    );
    let (status, error) = server.post("/v1/rules/preview", r#"{"rule": "events_28d >"}"#, None);
    assert_eq!(status, 400);
    assert_eq!(error["error"]["position"]["column"], 13);
    let (status, error) = server.post("/v1/rules/preview", "not json", None);
    assert_eq!(status, 400);
    assert_error(&error, "bad_request", "bad request body");
    let (status, error) = server.post("/v1/rules/preview", r#"{"text": "TRUE"}"#, None);
    assert_eq!(status, 400);
    assert_error(&error, "bad_request", "`rule`");

    // Runs, definitions, transitions from the state store.
    let (status, runs) = server.get("/v1/runs", None);
    assert_eq!(status, 200);
    assert_eq!(runs["served_run_id"], 1);
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(1));
    let (status, _) = server.get("/v1/runs?limit=0", None);
    assert_eq!(status, 400);
    let (status, definitions) = server.get("/v1/definitions", None);
    assert_eq!(status, 200);
    assert_eq!(definitions["versions"].as_array().map(Vec::len), Some(2));
    assert_eq!(definitions["versions"][0]["segmentation"], "size");
    let (status, transitions) = server.get("/v1/transitions", None);
    assert_eq!((status, &transitions["transitions"]), (200, &json!([])));
    let (status, error) = server.get("/v1/transitions?since=yesterday", None);
    assert_eq!(status, 400);
    assert_error(&error, "bad_request", "`since`");

    // A run through the API: nothing changed, then a2 comes back to life.
    let (status, error) = server.post("/v1/runs", r#"{"as_of": "31/10/2026"}"#, None);
    assert_eq!(status, 400);
    assert_error(&error, "bad_request", "YYYY-MM-DD");
    let (status, unchanged) = server.post("/v1/runs", "", None);
    assert_eq!(status, 200, "{unchanged}");
    assert_eq!(unchanged["status"], "unchanged");
    let events = dir.read("events.csv") + "a2,u3,task_created,2026-10-30T09:00:00Z,app\n";
    dir.create("events.csv", &events);
    let (status, committed) = server.post("/v1/runs", "{}", None);
    assert_eq!(status, 200, "{committed}");
    assert_eq!(committed["status"], "committed");
    assert_eq!(committed["run_id"], 2);
    assert_eq!(committed["transitions"], 1);
    let (_, a2) = server.get("/v1/accounts/a2/segments", None);
    assert_eq!(a2["segments"]["health"], "active");
    assert_eq!(a2["run_id"], 2);
    let (_, transitions) = server.get("/v1/transitions?since=2026-10-01&segmentation=health", None);
    assert_eq!(transitions["transitions"][0]["account_id"], "a2");
    assert_eq!(transitions["transitions"][0]["from"], "at-risk");
    assert_eq!(transitions["transitions"][0]["to"], "active");

    // The OpenAPI document names every route served here.
    let (status, openapi) = server.get("/v1/openapi.json", None);
    assert_eq!(status, 200);
    assert_eq!(openapi["openapi"], "3.0.3");
    for path in [
        "/v1/segmentations",
        "/v1/segmentations/{segmentation}/segments/{segment}/members",
        "/v1/accounts/{account}/segments",
        "/v1/transitions",
        "/v1/runs",
        "/v1/icp",
        "/v1/definitions",
        "/v1/rules/preview",
    ] {
        assert!(openapi["paths"].get(path).is_some(), "{path} missing");
    }
    let (status, error) = server.get("/v1/nothing", None);
    assert_eq!(status, 404);
    assert_error(&error, "not_found", "no route /v1/nothing");

    // Dashboard pages.
    let (status, _, html) = server.get_raw("/", None, None);
    assert_eq!(status, 200);
    assert!(
        html.contains("<a href=\"/segments/size/Mid-Market\">Mid-Market</a>"),
        "{html}"
    );
    let (status, _, html) = server.get_raw("/segments/health/at-risk", None, None);
    assert_eq!(status, 200);
    assert!(html.contains("id=\"segment-accounts\">1<"), "{html}");
    assert!(html.contains("days_since_last_event &gt; 21"), "{html}");
    let (status, _, _) = server.get_raw("/segments/health/nope", None, None);
    assert_eq!(status, 404);
    let (status, _, html) = server.get_raw("/transitions", None, None);
    assert_eq!(status, 200);
    assert!(
        html.contains("<td>a2</td><td>health</td><td>at-risk</td><td>active</td>"),
        "{html}"
    );
    for page in ["/definitions", "/editor", "/assets/dashboard.js"] {
        let (status, _, _) = server.get_raw(page, None, None);
        assert_eq!(status, 200, "{page}");
    }
}

/// `GET /v1/accounts/{id}/scores` explains an account's score measure by
/// measure (issue 22): a2 has 80 seats, on a scale from 0 to 100.
#[test]
fn serve_explains_an_accounts_score() {
    let dir = Dir::fixture("tiny");
    dir.create(
        "strata.toml",
        &(dir.read("strata.toml")
            + "\n[[segmentation]]\nname = \"seats_score\"\nkind = \"score\"\n\
               grades = [ { name = \"high\", min = 50 }, { name = \"low\", min = 0 } ]\n\
               measures = [ { name = \"seats\", value = \"seats\", linear = [0, 100] } ]\n"),
    );
    let server = Server::start(&dir, &[], &[]);
    let (status, a2) = server.get("/v1/accounts/a2/scores", None);
    assert_eq!(status, 200);
    let score = &a2["scores"]["seats_score"];
    assert_eq!(score["score"], 80.0);
    assert_eq!(score["grade"], "high");
    assert_eq!(
        score["explanation"],
        "score 80/100 (high) on default: seats 80/100: 80 on a scale from 0 to 100"
    );
    let (_, segments) = server.get("/v1/accounts/a2/segments", None);
    assert_eq!(segments["segments"]["seats_score"], "high");
}

#[test]
fn serve_picks_up_runs_recorded_by_other_processes() {
    let dir = Dir::fixture("tiny");
    let server = Server::start(&dir, &[], &["--watch", "1"]);
    let (_, a2) = server.get("/v1/accounts/a2/segments", None);
    assert_eq!(a2["segments"]["health"], "at-risk");
    // Another process records a run in which a2 is active again.
    let events = dir.read("events.csv") + "a2,u3,task_created,2026-10-30T09:00:00Z,app\n";
    dir.create("events.csv", &events);
    dir.command(&["run", "--out", "out2"]).success();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, a2) = server.get("/v1/accounts/a2/segments", None);
        if a2["run_id"] == 2 {
            assert_eq!(a2["segments"]["health"], "active");
            break;
        }
        assert!(Instant::now() < deadline, "run 2 not served: {a2}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A broken project file fails the next run through the API, and the
    // served run stays.
    dir.edit("strata.toml", "employees < 200", "employees <");
    let (status, error) = server.post("/v1/runs", "", None);
    assert_eq!(status, 422, "{error}");
    assert_error(&error, "run_failed", "size/SMB");
    let (status, a1) = server.get("/v1/accounts/a1/segments", None);
    assert_eq!((status, &a1["run_id"]), (200, &json!(2)));
}

#[test]
fn serve_tokens_have_read_and_admin_scopes() {
    let dir = Dir::fixture("tiny");
    dir.create(
        "strata.toml",
        &(dir.read("strata.toml")
            + "\n[[serve.token]]\nname = \"product-app\"\nscope = \"read\"\nenv = \"APP_TOKEN\"\n"),
    );
    let server = Server::start(
        &dir,
        &[
            ("APP_TOKEN", "app-secret"),
            ("STRATA_ADMIN_TOKENS", "ops-secret"),
        ],
        &[],
    );
    let (status, _) = server.get("/healthz", None);
    assert_eq!(status, 200);
    let (status, body) = server.get("/v1/segmentations", None);
    assert_eq!(status, 401);
    assert_error(&body, "unauthorized", "bearer token is required");
    let (status, _) = server.get("/v1/segmentations", Some("guess"));
    assert_eq!(status, 401);
    let (status, _) = server.get("/v1/accounts/a1/segments", Some("app-secret"));
    assert_eq!(status, 200);
    let (status, body) = server.post("/v1/runs", "", Some("app-secret"));
    assert_eq!(status, 403);
    assert_error(&body, "forbidden", "needs the admin scope");
    let (status, body) = server.post("/v1/runs", "", Some("ops-secret"));
    assert_eq!(status, 200, "{body}");
    let (status, _) = server.post(
        "/v1/rules/preview",
        r#"{"rule": "TRUE"}"#,
        Some("app-secret"),
    );
    assert_eq!(status, 200);
    // The dashboard asks for the token, then accepts it as a cookie.
    let (status, _, html) = server.get_raw("/", None, None);
    assert_eq!(status, 401);
    assert!(html.contains("id=\"login\""), "{html}");
    let (status, _, _) = server.get_raw("/", None, Some("strata_token=app-secret"));
    assert_eq!(status, 200);
    // The form keeps a valid token in an HttpOnly cookie and goes back to the page.
    let login = |token: &str| {
        server
            .agent
            .post(format!("{}/login", server.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .config()
            .max_redirects(0)
            .build()
            .send(format!("token={token}&next=%2Ftransitions"))
            .expect("login")
    };
    let response = login("app-secret");
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/transitions");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap_or_default();
    assert_eq!(
        cookie,
        "strata_token=app-secret; Path=/; HttpOnly; SameSite=Strict"
    );
    assert_eq!(login("nope").status().as_u16(), 401);
    // The secret is never printed.
    drop(server);
}

#[test]
fn serve_refuses_to_listen_beyond_loopback_without_a_token() {
    let dir = Dir::fixture("tiny");
    let stderr = dir
        .command(&["serve", "--addr", "0.0.0.0:0"])
        .env("STRATA_READ_TOKENS", "")
        .env("STRATA_ADMIN_TOKENS", "")
        .failure();
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 without a token"),
        "{stderr}"
    );
    assert!(stderr.contains("[[serve.token]]"), "{stderr}");

    dir.create(
        "strata.toml",
        &(dir.read("strata.toml")
            + "\n[[serve.token]]\nscope = \"root\"\nenv = \"X\"\n\n[serve]\n"),
    );
    let stderr = dir.command(&["validate"]).failure();
    assert!(stderr.contains("unknown scope `root`"), "{stderr}");

    let dir = Dir::fixture("tiny");
    dir.create(
        "strata.toml",
        &(dir.read("strata.toml") + "\n[[serve.token]]\nname = \"app\"\nscope = \"read\"\nenv = \"STRATA_TEST_UNSET_TOKEN\"\n"),
    );
    let stderr = dir.command(&["serve", "--addr", "127.0.0.1:0"]).failure();
    assert!(
        stderr.contains(
            "token `app` (read): environment variable STRATA_TEST_UNSET_TOKEN is not set"
        ),
        "{stderr}"
    );
}

/// Whether the browser tests must run (CI) or may skip loudly (a laptop).
fn required() -> bool {
    std::env::var("STRATA_REQUIRE_E2E").is_ok_and(|v| v == "1")
}

/// The e2e folder with Playwright installed, and Chromium, or why not.
fn browser_setup() -> Result<(PathBuf, PathBuf), String> {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e");
    let chromium = PathBuf::from(
        std::env::var("STRATA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    if !chromium.exists() {
        return Err(format!(
            "{} not found (apt install chromium)",
            chromium.display()
        ));
    }
    if !e2e.join("node_modules/playwright-core").exists() {
        return Err("e2e/node_modules/playwright-core missing (cd e2e && npm ci)".to_string());
    }
    Ok((e2e, chromium))
}

fn skip_or_fail(what: &str, why: &str) {
    assert!(!required(), "{what} is required in CI: {why}");
    eprintln!("\n*** SKIPPED {what}: {why} ***\n");
}

/// Where tests leave screenshots: $STRATA_ARTIFACTS, else target/e2e-artifacts.
fn artifacts() -> PathBuf {
    let dir = std::env::var("STRATA_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let target = std::env::var("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
            target.join("e2e-artifacts")
        });
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir
}

fn node(e2e: &Path, chromium: &Path, script: &str, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new("node")
        .current_dir(e2e)
        .arg(script)
        .args(args)
        .env("STRATA_CHROMIUM", chromium)
        .output()
        .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn demo_project(accounts: &str) -> Dir {
    let dir = Dir::new();
    dir.command(&["demo", "--out", ".", "--accounts", accounts, "--no-run"])
        .success();
    dir
}

/// The first segmentation of the run whose `segments.json` is `file`, and
/// the points the project's state store holds for it (one per segment and
/// recorded run or backfilled date): the marks its accounts trend draws.
fn trend_points(dir: &Dir, file: &Path) -> (String, usize) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
    let document: serde_json::Value = serde_json::from_str(&text).expect("segments.json");
    let name = document["segmentations"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sizes = runtime.block_on(async {
        let location = strata_core::state::Location::parse(".strata/strata.db", &dir.root);
        let mut store = strata_core::state::Store::open(&location)
            .await
            .expect("the project's store");
        store.sizes().await.expect("sizes")
    });
    let points = sizes
        .iter()
        .filter(|(_, size)| size.segmentation == name)
        .count();
    (name, points)
}

#[test]
fn dashboard_end_to_end_in_chromium() {
    let (e2e, chromium) = match browser_setup() {
        Ok(setup) => setup,
        Err(why) => return skip_or_fail("the dashboard browser test", &why),
    };
    let dir = demo_project("600");
    // An earlier run, so that the served one has flows and trends, and two
    // backfilled dates before it (sizes only: their flows are recomputed).
    dir.command(&["run", "--out", "out0", "--as-of", "2026-01-31"])
        .success();
    dir.command(&[
        "backfill",
        "--from",
        "2025-11-30",
        "--to",
        "2025-12-31",
        "--every",
        "month",
    ])
    .success();
    let server = Server::start(&dir, &[], &[]);
    let (status, icp) = server.get("/v1/icp", None);
    assert_eq!(status, 200, "{icp}");
    assert!(
        !icp["sql"].as_array().map(Vec::is_empty).unwrap_or(true),
        "{icp}"
    );
    let (_, all) = server.get("/v1/segmentations", None);
    let first = &all["segmentations"][0];
    let segment = first["segments"][0]["name"].as_str().unwrap_or_default();
    let (trend_segmentation, points) = trend_points(&dir, &dir.root.join("out/segments.json"));
    assert_eq!(
        trend_segmentation,
        first["name"].as_str().unwrap_or_default()
    );
    let shots = artifacts();
    let (ok, output) = node(
        &e2e,
        &chromium,
        "dashboard.mjs",
        &[
            &server.url,
            first["name"].as_str().unwrap_or_default(),
            segment,
            &shots.display().to_string(),
            &points.to_string(),
        ],
    );
    assert!(ok, "dashboard e2e failed:\n{output}");
    for expected in [
        "preview count:",
        "trend marks:",
        "keyboard: sidebar to",
        "flow band listed:",
        "flows from a backfilled date:",
        "overlap cells:",
    ] {
        assert!(
            output.contains(expected),
            "{expected} missing from:\n{output}"
        );
    }
    for shot in [
        "dashboard-first-screen.png",
        "dashboard-overview.png",
        "dashboard-flows.png",
        "dashboard-overlap.png",
        "dashboard-editor.png",
        "dashboard-segment.png",
    ] {
        let size = std::fs::metadata(shots.join(shot))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(size > 10_000, "{shot} is {size} bytes");
    }
}

#[test]
fn report_renders_in_chromium_without_console_errors() {
    let (e2e, chromium) = match browser_setup() {
        Ok(setup) => setup,
        Err(why) => return skip_or_fail("the report browser test", &why),
    };
    let dir = demo_project("600");
    dir.command(&["run", "--out", "out1", "--as-of", "2026-01-31"])
        .success();
    dir.command(&["run", "--out", "out"]).success();
    let report = dir.root.join("out/report.html");
    let (segmentation, points) = trend_points(&dir, &dir.root.join("out/segments.json"));
    let shots = artifacts();
    let (ok, output) = node(
        &e2e,
        &chromium,
        "report.mjs",
        &[
            &report.display().to_string(),
            &shots.display().to_string(),
            &segmentation,
            &points.to_string(),
        ],
    );
    assert!(ok, "report check failed:\n{output}");
    for expected in ["charts rendered:", "trend marks:", "overlap cells:"] {
        assert!(
            output.contains(expected),
            "{expected} missing from:\n{output}"
        );
    }
    assert!(
        output.contains("flow bands:"),
        "the second run's report has flows: {output}"
    );
    let size = std::fs::metadata(shots.join("report-first-screen.png"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(size > 10_000, "report-first-screen.png is {size} bytes");
}

#[test]
fn openapi_contract_holds_under_schemathesis() {
    let tool = std::env::var("STRATA_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".to_string());
    let available = std::process::Command::new(&tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        return skip_or_fail(
            "the schemathesis contract test",
            &format!("`{tool}` not found (pip install schemathesis, or set STRATA_SCHEMATHESIS)"),
        );
    }
    let dir = Dir::fixture("tiny");
    // A read token: schemathesis exercises every route, and POST /v1/runs
    // answers its documented 403 instead of starting runs.
    let server = Server::start(&dir, &[("STRATA_READ_TOKENS", "contract-token")], &[]);
    let output = std::process::Command::new(&tool)
        .args([
            "run",
            &format!("{}/v1/openapi.json", server.url),
            "--url",
            &server.url,
            "--header",
            "Authorization: Bearer contract-token",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            "40",
            "--seed",
            "7",
        ])
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "schemathesis failed:\n{text}");
}
