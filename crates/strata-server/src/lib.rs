//! The strata server (`strata serve`): the JSON API under `/v1`, the
//! dashboard, health and readiness, over one in-memory copy of the latest
//! run. Runs go through the run service (`strata_core::service::execute`),
//! as `strata run`'s do; this crate is the HTTP layer only.
//!
//! The server binds first and runs the pipeline in the background, so
//! `/healthz` answers at once and `/readyz` turns 200 when the first run is
//! served. Every run (at start, `POST /v1/runs`, the project's `schedule`)
//! builds a new [`Served`] — the run's result, its membership index and its
//! JSON — and swaps it in whole: a request sees one run or the next, never a
//! mix. Runs are recorded in the state store exactly as `strata run` does.
//!
//! Auth: `[[serve.token]]` entries and `STRATA_READ_TOKENS` /
//! `STRATA_ADMIN_TOKENS` give bearer tokens with a scope. Without any token
//! the server refuses to listen beyond loopback and then allows everything.
mod api;
mod auth;
mod dashboard;
mod openapi;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::routing::{get, post};
use chrono::{NaiveDate, Utc};
use strata_core::index::MembershipIndex;
use strata_core::pipeline::{self, RunOptions, RunResult};
use strata_core::project::{Engine, Project};
use strata_core::service::{self, RecordSettings};
use strata_core::state::{RecordOutcome, RunRecord};

pub use auth::Auth;

/// How a server runs: what `strata serve`'s flags say.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Project folder (holding strata.toml) or the project file.
    pub project: PathBuf,
    /// The engine to use instead of the project file's, if any.
    pub engine: Option<Engine>,
    /// Output folder for the runs the server makes.
    pub out: PathBuf,
    /// Address to listen on [default: the project's serve.addr, else
    /// 127.0.0.1:8080; port 0 picks a free port].
    pub addr: Option<SocketAddr>,
    /// The as_of date of the first run, instead of the project's.
    pub as_of: Option<NaiveDate>,
    /// Seconds between looks at the state store for runs recorded by other
    /// processes (`strata run`, cron), which are then served; 0 turns it off.
    pub watch: u64,
    /// How runs are recorded and delivered.
    pub record: RecordSettings,
}

/// Reads the project file, with the configured engine if one is given.
fn load_project(path: &std::path::Path, engine: Option<&Engine>) -> strata_core::Result<Project> {
    let project = Project::load(path)?;
    match engine {
        Some(engine) => project.with_engine(engine.clone()),
        None => Ok(project),
    }
}

/// One run, ready to answer requests.
pub struct Served {
    /// The run's result.
    pub result: RunResult,
    /// Account id → segments.
    pub index: MembershipIndex,
    /// The run's id in the state store, if recorded.
    pub run_id: Option<i64>,
    /// `segments.json` of the run, with `run_id`.
    pub document: serde_json::Value,
    /// Account ids in feature-table order.
    pub ids: Vec<String>,
    /// The project as it was for this run.
    pub project: Project,
    /// The ICP, computed on first request.
    pub icp: tokio::sync::OnceCell<Result<Arc<strata_core::pipeline::IcpReport>, String>>,
    /// The backtests of the segmentations that claim risk and health,
    /// computed on first request.
    pub backtests: tokio::sync::OnceCell<Result<Arc<Vec<strata_core::backtest::Backtest>>, String>>,
    /// Segments to roadmap (the report's), computed on first request.
    pub roadmap: tokio::sync::OnceCell<Result<Arc<strata_core::pipeline::RoadmapReport>, String>>,
}

impl Served {
    fn new(project: Project, result: RunResult, run_id: Option<i64>) -> anyhow::Result<Served> {
        let index = MembershipIndex::of_run(&result, run_id)?;
        let mut document = strata_core::outputs::segments_json(&result);
        document["run_id"] = run_id.into();
        let ids = result.account_ids();
        Ok(Served {
            project,
            result,
            index,
            run_id,
            document,
            ids,
            icp: tokio::sync::OnceCell::new(),
            backtests: tokio::sync::OnceCell::new(),
            roadmap: tokio::sync::OnceCell::new(),
        })
    }
}

/// What the server shares between requests.
pub struct App {
    /// The project file or folder, re-read before each run so edits apply.
    pub project_path: PathBuf,
    /// The engine that replaces the project file's, if any.
    engine: Option<Engine>,
    /// The project as last loaded.
    project: RwLock<Project>,
    /// Output folder of runs.
    pub out: PathBuf,
    /// How runs are recorded.
    pub record: RecordSettings,
    /// Bearer tokens (as loaded at start).
    pub auth: Auth,
    current: RwLock<Option<Arc<Served>>>,
    running: tokio::sync::Mutex<()>,
    last_error: RwLock<Option<String>>,
    started: Instant,
}

impl App {
    /// The project as last loaded.
    pub fn project(&self) -> Project {
        match self.project.read() {
            Ok(project) => project.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The run being served, if the first one has finished.
    pub fn current(&self) -> Option<Arc<Served>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// Why the last run failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.read().ok().and_then(|e| e.clone())
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.running.try_lock().is_err()
    }

    fn set_error(&self, error: Option<String>) {
        if let Ok(mut last) = self.last_error.write() {
            *last = error;
        }
    }

    /// Serves `served` from now on.
    fn swap_in(&self, served: Served) {
        let accounts = served.index.len();
        println!(
            "strata serve: serving run {} as of {}: {accounts} accounts (index {:.0} bytes/account)",
            served
                .run_id
                .map_or("(not recorded)".to_string(), |id| format!("#{id}")),
            served.result.as_of,
            served.index.heap_bytes() as f64 / accounts.max(1) as f64,
        );
        if let Ok(mut current) = self.current.write() {
            *current = Some(Arc::new(served));
        }
        self.set_error(None);
    }

    /// Re-reads the project file; a broken file fails the run that needs it.
    fn reload_project(&self) -> anyhow::Result<Project> {
        let project = load_project(&self.project_path, self.engine.as_ref())?;
        if let Ok(mut current) = self.project.write() {
            *current = project.clone();
        }
        Ok(project)
    }

    /// Re-reads the project, runs the pipeline, records the run and swaps in
    /// its index. `Ok(None)` when another run is in progress and `wait` is
    /// false (after a grace of two seconds).
    pub async fn refresh(
        &self,
        as_of: Option<NaiveDate>,
        wait: bool,
    ) -> anyhow::Result<Option<RunSummary>> {
        // Without `wait`, a run that is just finishing (swapping in its
        // result) gets two seconds before this one gives up.
        let _guard = if wait {
            self.running.lock().await
        } else {
            match tokio::time::timeout(Duration::from_secs(2), self.running.lock()).await {
                Ok(guard) => guard,
                Err(_) => return Ok(None),
            }
        };
        let started = Instant::now();
        let executed = match self.reload_project() {
            Ok(project) => {
                // The state store's SQLite connection may not be shared between
                // threads, so the run is driven from a blocking thread of its own.
                let (out, record) = (self.out.clone(), self.record.clone());
                let handle = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    handle
                        .block_on(service::execute(
                            &project,
                            &out,
                            as_of,
                            &record,
                            &pipeline::Quiet,
                        ))
                        .map(|executed| (project, executed))
                        .map_err(anyhow::Error::from)
                })
                .await
                .unwrap_or_else(|error| Err(anyhow::anyhow!("the run stopped: {error}")))
            }
            Err(error) => Err(error),
        };
        let (project, executed) = match executed {
            Ok(done) => done,
            Err(error) => {
                self.set_error(Some(format!("{error:#}")));
                return Err(error);
            }
        };
        let (run_id, status, transitions) = match &executed.recorded {
            Some((_, RecordOutcome::Committed(summary))) => {
                (Some(summary.run.id), "committed", summary.transitions.len())
            }
            Some((_, RecordOutcome::Unchanged(previous))) => (Some(previous.id), "unchanged", 0),
            None => (None, "not_recorded", 0),
        };
        let mut served = Served::new(project, executed.result, run_id)?;
        // What the run's report computed is served as is.
        if let Some(icp) = executed.analyses.icp {
            served.icp = tokio::sync::OnceCell::new_with(Some(Ok(Arc::new(icp))));
        }
        if let Some(roadmap) = executed.analyses.roadmap {
            served.roadmap = tokio::sync::OnceCell::new_with(Some(Ok(Arc::new(roadmap))));
        }
        if !executed.backtests.is_empty() {
            served.backtests =
                tokio::sync::OnceCell::new_with(Some(Ok(Arc::new(executed.backtests))));
        }
        let summary = RunSummary {
            run_id,
            status,
            as_of: served.result.as_of.to_string(),
            accounts: served.index.len(),
            transitions,
            seconds: started.elapsed().as_secs_f64(),
        };
        self.swap_in(served);
        Ok(Some(summary))
    }

    /// Serves a run that another process (`strata run`, cron) recorded:
    /// recomputes it at its as_of without recording or writing anything.
    async fn follow(&self, run: RunRecord) -> anyhow::Result<()> {
        let Ok(_guard) = self.running.try_lock() else {
            return Ok(());
        };
        let project = self.reload_project()?;
        let options = RunOptions::at(Some(run.as_of));
        let result = pipeline::run(&project, &options, &pipeline::Quiet).await?;
        self.swap_in(Served::new(project, result, Some(run.id))?);
        Ok(())
    }

    /// Every `interval`, looks for a newer successful run in the store than
    /// the one served, and serves it.
    async fn watch_store(self: Arc<Self>, interval: Duration) {
        loop {
            tokio::time::sleep(interval).await;
            let Some(served) = self.current() else {
                continue;
            };
            if self.is_running() {
                continue;
            }
            let latest = match api::open_store(&self).await {
                Ok(mut store) => store.latest_run().await,
                Err(_) => continue,
            };
            match latest {
                Ok(Some(run)) if Some(run.id) > served.run_id => {
                    println!(
                        "strata serve: run #{} (as of {}) was recorded elsewhere; serving it",
                        run.id, run.as_of
                    );
                    if let Err(error) = self.follow(run).await {
                        eprintln!("strata serve: cannot serve the recorded run: {error:#}");
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot read the state store"),
            }
        }
    }
}

/// The answer to `POST /v1/runs`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    /// The run id in the store (the previous run's when unchanged).
    pub run_id: Option<i64>,
    /// `committed`, `unchanged` or `not_recorded`.
    pub status: &'static str,
    /// The as-of date.
    pub as_of: String,
    /// Accounts now served.
    pub accounts: usize,
    /// Transitions the run recorded.
    pub transitions: usize,
    /// Wall time of the run.
    pub seconds: f64,
}

/// The whole HTTP surface.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(api::health))
        .route("/readyz", get(api::ready))
        .route("/v1/openapi.json", get(api::openapi))
        .route("/v1/segmentations", get(api::segmentations))
        .route("/v1/segmentations/{segmentation}", get(api::segmentation))
        .route(
            "/v1/segmentations/{segmentation}/segments/{segment}",
            get(api::segment),
        )
        .route(
            "/v1/segmentations/{segmentation}/segments/{segment}/members",
            get(api::members),
        )
        .route(
            "/v1/accounts/{account}/segments",
            get(api::account_segments),
        )
        .route("/v1/accounts/{account}/scores", get(api::account_scores))
        .route("/v1/transitions", get(api::transitions))
        .route("/v1/runs", get(api::runs).post(api::trigger_run))
        .route("/v1/icp", get(api::icp))
        .route("/v1/definitions", get(api::definitions))
        .route("/v1/rules/preview", post(api::preview))
        .merge(dashboard::routes())
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::require,
        ))
        .with_state(app)
}

/// Listens, serves and runs until Ctrl-C (`strata serve`).
pub async fn serve(args: ServeConfig) -> anyhow::Result<()> {
    let project = load_project(&args.project, args.engine.as_ref())?;
    let addr = args
        .addr
        .or(project.serve.addr)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let auth = Auth::from_project(&project)?;
    if auth.is_open() && !addr.ip().is_loopback() {
        anyhow::bail!(
            "refusing to listen on {addr} without a token: anyone who can reach it could read every account's segments\n\
             help: add a [[serve.token]] with scope = \"read\" or \"admin\" and env = \"NAME\" to strata.toml \
             (or set STRATA_READ_TOKENS / STRATA_ADMIN_TOKENS), or listen on 127.0.0.1"
        );
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let schedule = project.schedule.clone();
    let app = Arc::new(App {
        project_path: args.project.clone(),
        engine: args.engine.clone(),
        project: RwLock::new(project),
        out: args.out.clone(),
        record: args.record.clone(),
        auth,
        current: RwLock::new(None),
        running: tokio::sync::Mutex::new(()),
        last_error: RwLock::new(None),
        started: Instant::now(),
    });
    println!("strata serve: listening on http://{local}");
    println!("  dashboard  http://{local}/");
    println!("  API        http://{local}/v1/  (OpenAPI: /v1/openapi.json)");
    if app.auth.is_open() {
        println!(
            "  no token is configured: loopback only, and every caller is admin; \
             add [[serve.token]] entries to serve beyond this machine"
        );
    } else {
        println!("  {}", app.auth.describe());
    }
    println!("  the first run is in progress; /readyz turns 200 when it is served");

    let first = app.clone();
    let as_of = args.as_of;
    tokio::spawn(async move {
        if let Err(error) = first.refresh(as_of, true).await {
            eprintln!("strata serve: the first run failed: {error:#}");
            eprintln!("  fix the project and POST /v1/runs, or restart");
        }
    });
    if !args.record.no_store && args.watch > 0 {
        tokio::spawn(app.clone().watch_store(Duration::from_secs(args.watch)));
    }
    if let Some(schedule) = schedule {
        let scheduled = app.clone();
        println!("  runs on schedule `{}` (UTC)", schedule.text());
        tokio::spawn(async move {
            loop {
                let now = Utc::now();
                let Some(next) = schedule.next_after(now) else {
                    break;
                };
                tokio::time::sleep((next - now).to_std().unwrap_or_default()).await;
                if let Err(error) = scheduled.refresh(None, true).await {
                    eprintln!("strata serve: scheduled run failed: {error:#}");
                }
            }
        });
    }
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
