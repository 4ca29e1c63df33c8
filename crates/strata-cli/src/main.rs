//! `strata`: the command line over strata-core.
//!
//! Like ripgrep's `crates/core`, this crate is only flags and glue: it turns
//! arguments into calls on `strata-core`, shows progress on a terminal, and
//! renders results and errors. No pipeline logic lives here.
mod analyses;
mod backtest_cmd;
mod bench;
mod bench_decisions;
mod bench_incremental;
mod bench_risk;
mod bench_store;
mod dbt_cmd;
mod discover;
mod icp;
mod progress;
mod render;
mod report;
mod risk_cmd;
mod serve;
mod sql_cmd;
mod state_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use strata_core::demo::{self, DemoParams};
use strata_core::features::type_name;
use strata_core::pipeline::{self, RunOptions};
use strata_core::project::{self, Project};

/// strata: customer segmentation for B2B SaaS.
///
/// Point strata at your customer data (accounts, product usage events,
/// monthly revenue, feedback): it computes behavioral features, assigns every
/// account to the segments of your project file, and measures each segment
/// (accounts, ARR, NRR, GRR, logo churn, NPS).
///
/// Start with `strata demo` to see it on generated data, then `strata init
/// DIR` on a folder with your own tables.
#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print debug logs (or set RUST_LOG=strata=debug).
    #[arg(long, short, global = true)]
    verbose: bool,
    /// Where features and segments are computed: `embedded` (DataFusion in this
    /// process) or `postgres` (inside the database holding the events; needs
    /// PostgreSQL sources). Overrides the project file's `engine`.
    #[arg(long, global = true, value_name = "ENGINE", value_parser = parse_engine)]
    engine: Option<project::Engine>,
}

fn parse_engine(text: &str) -> Result<project::Engine, String> {
    project::Engine::from_name(text)
        .map_err(|message| format!("{message}; use embedded or postgres"))
}

/// The `--engine` of this invocation, if given.
static ENGINE: std::sync::OnceLock<project::Engine> = std::sync::OnceLock::new();

/// Loads a project file, with `--engine` applied.
pub(crate) fn load_project(path: &Path) -> strata_core::error::Result<Project> {
    let project = Project::load(path)?;
    match ENGINE.get() {
        Some(engine) => project.with_engine(engine.clone()),
        None => Ok(project),
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a realistic SaaS customer base, then run the whole pipeline on it.
    ///
    /// Writes DIR/data/{accounts.csv,events.parquet,revenue.csv,feedback.csv}, the
    /// generator's hidden truth (DIR/data/truth.csv), DIR/strata.toml, and the
    /// outputs in DIR/out.
    #[command(
        after_help = "Examples:\n  strata demo --out strata-demo\n  strata demo --out big --events 10000000 --seed 7\n  strata demo --out huge --events 100000000 --accounts 1000000 --no-run"
    )]
    Demo {
        /// Folder to create the demo project in.
        #[arg(long, default_value = "strata-demo")]
        out: PathBuf,
        /// Number of accounts [default: 3000, or one per 1,470 events with --events].
        #[arg(long)]
        accounts: Option<usize>,
        /// Target number of events (e.g. 10000000); with --accounts, spread over
        /// that many accounts (e.g. --events 100000000 --accounts 1000000).
        #[arg(long)]
        events: Option<u64>,
        /// Random seed: the same seed gives the same data, byte for byte.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Only generate the data and project file; do not run the pipeline.
        #[arg(long)]
        no_run: bool,
    },
    /// Write a commented strata.toml for a folder holding the input tables.
    #[command(
        after_help = "Example:\n  strata init data && strata validate --project data && strata run --project data --out data/out"
    )]
    ///
    /// Finds accounts, events, revenue and feedback files (CSV, Parquet or NDJSON)
    /// in DIR and DIR/data by name, and sets up the segmentations a SaaS team
    /// starts from: company size, ACV tier, usage pattern and health.
    Init {
        /// Folder with the data.
        dir: PathBuf,
        /// Fix the as-of date (default: "latest", the last day with events).
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Overwrite an existing strata.toml.
        #[arg(long)]
        force: bool,
    },
    /// Check a project: sources, schema, every feature and every rule; reports all problems at once.
    Validate {
        /// Project folder (holding strata.toml) or the project file.
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// Override the project's as_of date.
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Run the pipeline, write memberships.csv, features.parquet, segments.json and report.html,
    /// record the run and its transitions in the state store, and deliver them.
    #[command(
        after_help = "Examples:\n  strata run --project . --out out\n  strata run --project crm --out out --as-of 2026-09-30\n  strata run --json | jq '.segmentations[0].segments[] | {name, nrr}'"
    )]
    Run {
        /// Project folder (holding strata.toml) or the project file.
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// Output folder.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Override the project's as_of date (YYYY-MM-DD).
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Print segments.json to stdout instead of the table.
        #[arg(long)]
        json: bool,
        /// Print where the time and memory went, phase by phase (to stderr).
        #[arg(long)]
        profile: bool,
        #[command(flatten)]
        record: state_cmd::RecordArgs,
    },
    /// Write OUT/report.html: the run's segments, charts and personas, sizes over time,
    /// the ideal customer profile and cohort retention by segment; opens offline.
    #[command(after_help = "Example:\n  strata report --project strata-demo --out strata-demo/out")]
    Report(report::ReportArgs),
    /// List runs recorded in the state store, newest first.
    #[command(after_help = "Example:\n  strata runs --project crm --limit 5")]
    Runs(state_cmd::RunsArgs),
    /// An account's segments over time, with every transition and why it happened.
    #[command(after_help = "Example:\n  strata history --project crm --account acc_000042")]
    History(state_cmd::HistoryArgs),
    /// Transitions between runs: who moved from which segment to which, and why.
    ///
    /// Changes caused by editing a definition are left out unless --redefinitions.
    #[command(
        after_help = "Examples:\n  strata changes --project crm --since 2026-11-01 --segmentation health\n  strata changes --run 7 --json | jq '.[].explanation'"
    )]
    Changes(state_cmd::ChangesArgs),
    /// Definition versions: `log` lists them, `diff V1 V2` compares two.
    #[command(subcommand)]
    Definitions(state_cmd::DefinitionsCommand),
    /// Recompute past as_of dates under the current definitions, for segment sizes over time.
    #[command(
        after_help = "Example:\n  strata backfill --project crm --from 2025-01-01 --every month"
    )]
    Backfill(state_cmd::BackfillArgs),
    /// Send pending deliveries now (webhooks, files, digests), ignoring their backoff.
    #[command(
        after_help = "Examples:\n  strata deliver --project crm\n  strata deliver --retry-dead --wait 120"
    )]
    Deliver(state_cmd::DeliverArgs),
    /// Inspect the delivery outbox: counts per destination and status, failing rows and their errors.
    Outbox(state_cmd::OutboxArgs),
    /// Run the project on its `schedule` (cron, UTC) until stopped.
    #[command(
        after_help = "Example:\n  strata schedule --project crm --out crm/out\nOr from cron:\n  0 6 * * * cd /srv/crm && strata run --out out --wait"
    )]
    Schedule(state_cmd::ScheduleArgs),
    /// Serve the JSON API (/v1), the dashboard, health and readiness over the latest run.
    ///
    /// Runs the pipeline at start (recorded like `strata run`), then on
    /// `POST /v1/runs` (admin) and on the project's `schedule`; each run swaps in
    /// a new in-memory index atomically. Without a [[serve.token]] (or
    /// STRATA_READ_TOKENS / STRATA_ADMIN_TOKENS) it listens on loopback only.
    #[command(
        after_help = "Examples:\n  strata serve --project strata-demo --out strata-demo/out\n  curl localhost:8080/v1/accounts/acc_000042/segments\n  STRATA_ADMIN_TOKENS=s3cret strata serve --addr 0.0.0.0:8080"
    )]
    Serve(serve::ServeArgs),
    /// Print one SQL script computing every feature and rules segmentation in a warehouse.
    ///
    /// The script reads the accounts, events and revenue tables (rename them with
    /// --table), takes the as-of date as its one parameter (the `params` CTE), and
    /// returns one row per account: the columns of features.parquet, then one
    /// column per rules segmentation (frozen clusters included). Per-event
    /// features are those of the most common events in the project's data.
    #[command(
        after_help = "Examples:\n  strata sql --project crm --dialect postgres > segments.sql\n  strata sql --dialect bigquery --table events=analytics.events --segmentation health"
    )]
    Sql(sql_cmd::SqlArgs),
    /// Write a dbt project computing every feature and rules segmentation in a warehouse.
    ///
    /// Models: strata_features (the columns of features.parquet), one
    /// strata_segment_<name> per rules segmentation (frozen clusterings
    /// included), strata_memberships (all of them stacked, as memberships.csv);
    /// sources for the input tables; schema tests (unique and not_null
    /// account_id, accepted_values on every segment column) and a singular test
    /// that no account falls in two segments of one segmentation. The as-of
    /// date is the dbt var `as_of`.
    #[command(
        after_help = "Examples:\n  strata dbt --project crm --out crm-dbt --dialect snowflake\n  cd crm-dbt && dbt build --vars '{as_of: 2026-11-30}'"
    )]
    Dbt(dbt_cmd::DbtArgs),
    /// Backtest a segmentation: recompute it at past dates under today's definitions and compare with what happened next.
    ///
    /// Every month from --from (default: the last year whose outcomes are
    /// known), each account paying then is followed --horizon days: churned
    /// (pays nothing), contracted, expanded. Per segment: counts and shares
    /// with 95% intervals, and as a churn alarm its precision (churn rate)
    /// and recall (share of all churners). Warns when a segment named for risk
    /// churns no more than one named for health.
    Backtest(backtest_cmd::BacktestArgs),
    /// Learn churn_risk and expansion_likelihood from the base's history: report card, riskiest accounts, drivers.
    Risk(risk_cmd::RiskArgs),
    /// Start a local Ballista cluster: a scheduler and executors in this process.
    ///
    /// For trying `engine = { ballista = "df://127.0.0.1:PORT" }` (or
    /// `--engine df://127.0.0.1:PORT`) on one machine; a real cluster runs the
    /// `ballista-scheduler` and `ballista-executor` binaries (see the README).
    /// Runs until interrupted. Needs a strata built with `--features ballista`.
    #[command(after_help = "Examples:
  strata cluster --port-file /tmp/ballista.port &
  strata run --project strata-demo --out out --engine df://127.0.0.1:$(cat /tmp/ballista.port)")]
    Cluster {
        /// Executors to start.
        #[arg(long, default_value_t = 2)]
        executors: usize,
        /// Tasks each executor runs at once.
        #[arg(long, default_value_t = 2)]
        slots: usize,
        /// Also write the scheduler's port to this file once it listens.
        #[arg(long)]
        port_file: Option<PathBuf>,
    },
    /// List the features a project's rules can use, with their meaning.
    Features {
        /// Project folder (holding strata.toml) or the project file.
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Discover behavioral clusters: choose k, name clusters, freeze them as rules, check drift.
    ///
    /// Fits k-means on behavioral features (by default the first `clusters`
    /// segmentation of the project, else active days, events, features used and
    /// API share over 28 days and days since the last event), prints inertia, silhouette and
    /// stability for every k tried, the chosen k and why, and each cluster's
    /// name, size, share of ARR, NRR, quality and a description from its centroid.
    Discover(discover::DiscoverArgs),
    /// Find the ideal customer profile: rules on what is known early, ranked by NRR.
    ///
    /// Searches conjunctions of up to three conditions on firmographics, plan
    /// and behavior in the first N days after signup (cut points from the
    /// data's deciles) for the accounts with the highest NRR, and prints each
    /// profile's accounts, share of ARR, NRR inside vs outside, lift with a
    /// bootstrap 95% interval, and the rule in the rule language and as SQL.
    Icp(icp::IcpArgs),
    /// Cross two or three segmentations: every cell's accounts, ARR, churn, NRR, NPS, expansion and support load.
    Matrix(analyses::MatrixArgs),
    /// Cohort retention: signup-month cohorts x months since signup, logo and revenue, per segment.
    Cohorts(analyses::CohortArgs),
    /// Needs themes in the feedback verbatims: the accounts' verbatims clustered by the words they repeat.
    ///
    /// Words an account uses again and again weigh more; accounts (all their
    /// verbatims together) are clustered by spherical k-means, k chosen by
    /// silhouette and stability. Shows each theme's distinctive terms,
    /// verbatims, accounts (whose dominant need it is), NPS, detractor share
    /// and representative verbatims, then "No specific need": praise, billing,
    /// bugs and noise that match no theme. Says "no stable themes found" when
    /// the texts do not fall into topics.
    Themes(analyses::ThemesArgs),
    /// Segments to roadmap: the core segment, what each relies on, ignores and needs, priorities.
    ///
    /// The core segment has the highest NRR among segments holding 10% of ARR;
    /// features relied on are events used by 20%+ of a segment with the highest
    /// lift over the rest; unmet needs are feedback themes over-represented in
    /// its verbatims (detractors count twice). Ends with a recommendation.
    Roadmap(analyses::RoadmapArgs),
    /// Benchmark the pipeline on generated data against DuckDB (see bench/run.sh).
    Bench(bench::BenchArgs),
    /// Benchmark ICP search and themes against pysubgroup and scikit-learn (see bench/decisions.sh).
    BenchDecisions(bench_decisions::BenchDecisionsArgs),
    /// Benchmark the state store run to run on a large synthetic base (see bench/store.sh).
    BenchStore(bench_store::BenchStoreArgs),
    /// Benchmark a daily run that reads only the day's new events file against the same run with --full (see bench/incremental.sh).
    BenchIncremental(bench_incremental::BenchIncrementalArgs),
    /// Benchmark learning churn_risk and expansion_likelihood, and their AUC against scikit-learn (see bench/risk.sh).
    BenchRisk(bench_risk::BenchRiskArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(engine) = cli.engine.clone() {
        let _ = ENGINE.set(engine);
    }
    let filter = if cli.verbose {
        "strata=debug,strata_core=debug"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprint!("{}", render::error_report(&error));
            ExitCode::from(render::exit_code(&error))
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Demo {
            out,
            accounts,
            events,
            seed,
            no_run,
        } => run_demo(&out, accounts, events, seed, no_run).await,
        Command::Init { dir, as_of, force } => {
            let (path, facts) = strata_core::facts::write_project_file(&dir, as_of, force).await?;
            let detected = project::detect_sources(&dir)?;
            println!("wrote {}", path.display());
            for source in detected {
                println!(
                    "  {:<8} {} ({})",
                    source.kind.name(),
                    source.relative_path,
                    source.format.name()
                );
            }
            for item in facts.left_out() {
                println!(
                    "  left out the `{}` segmentation: {}",
                    item.segmentation, item.reason
                );
            }
            if !facts.top_events.is_empty() {
                println!(
                    "  `behavior` clusters on the 90-day mix of the {} most common events",
                    facts.top_events.len()
                );
            }
            println!(
                "next: strata validate --project {0} && strata run --project {0} --out {0}/out",
                dir.display()
            );
            Ok(())
        }
        Command::Validate { project, as_of } => {
            let project = load_project(&project)?;
            let prepared = pipeline::validate(&project, &RunOptions::at(as_of)).await?;
            for warning in &prepared.warnings {
                eprintln!("warning: {warning}");
            }
            let facts = strata_core::facts::of_sources(&prepared.sources);
            for item in facts.left_out() {
                if !project
                    .segmentations
                    .iter()
                    .any(|s| s.name == item.segmentation)
                {
                    println!(
                        "note: no `{}` segmentation, as {} (a default of `strata init`)",
                        item.segmentation, item.reason
                    );
                }
            }
            let n_rules: usize = prepared
                .segmentations
                .iter()
                .map(|s| match &s.method {
                    strata_core::segment::Method::Rules { segments, .. } => segments.len(),
                    strata_core::segment::Method::Score(score) => score
                        .def
                        .scorecards
                        .iter()
                        .map(|card| card.measures.len())
                        .sum(),
                    strata_core::segment::Method::Clusters(_)
                    | strata_core::segment::Method::Themes { .. } => 0,
                })
                .sum();
            println!(
                "ok: {} accounts, {} events, {} features, {} segmentations with {} rules (as of {})",
                prepared.sources.accounts.ids.len(),
                prepared.sources.events.rows,
                prepared.features.defs.len(),
                prepared.segmentations.len(),
                n_rules,
                prepared.as_of
            );
            Ok(())
        }
        Command::Run {
            project,
            out,
            as_of,
            json,
            profile,
            record,
        } => {
            let project = load_project(&project)?;
            state_cmd::run_and_record(&project, &out, as_of, json, profile, &record).await
        }
        Command::Report(args) => report::run(args).await,
        Command::Runs(args) => state_cmd::runs(args).await,
        Command::History(args) => state_cmd::history(args).await,
        Command::Changes(args) => state_cmd::changes(args).await,
        Command::Definitions(command) => state_cmd::definitions(command).await,
        Command::Backfill(args) => state_cmd::backfill(args).await,
        Command::Deliver(args) => state_cmd::deliver(args).await,
        Command::Outbox(args) => state_cmd::outbox(args).await,
        Command::Schedule(args) => state_cmd::schedule(args).await,
        Command::Features { project, json } => {
            let project = load_project(&project)?;
            let prepared = pipeline::validate(&project, &RunOptions::default()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&prepared.features.defs)?);
            } else {
                let rows: Vec<Vec<String>> = prepared
                    .features
                    .defs
                    .iter()
                    .map(|f| {
                        vec![
                            f.name.clone(),
                            type_name(f.value_type).to_string(),
                            format!("{:?}", f.group).to_lowercase(),
                            f.description.clone(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    render::table(&["feature", "type", "group", "meaning"], &rows)
                );
                println!(
                    "\nas of {}: use any of these in rules, e.g. when = \"active_days_28d >= 15 AND api_share < 0.2\"",
                    prepared.as_of
                );
            }
            Ok(())
        }
        Command::Discover(args) => discover::run(args).await,
        Command::Icp(args) => icp::run(args).await,
        Command::Matrix(args) => analyses::run_matrix(args).await,
        Command::Cohorts(args) => analyses::run_cohorts(args).await,
        Command::Themes(args) => analyses::run_themes(args).await,
        Command::Roadmap(args) => analyses::run_roadmap(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::BenchDecisions(args) => bench_decisions::run(args).await,
        Command::BenchStore(args) => bench_store::run(args).await,
        Command::BenchIncremental(args) => bench_incremental::run(args).await,
        Command::BenchRisk(args) => bench_risk::run(args).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::Sql(args) => sql_cmd::run(args).await,
        Command::Dbt(args) => dbt_cmd::run(args).await,
        Command::Backtest(args) => backtest_cmd::run(args).await,
        Command::Risk(args) => risk_cmd::run(args).await,
        Command::Cluster {
            executors,
            slots,
            port_file,
        } => {
            if executors == 0 || slots == 0 {
                anyhow::bail!("--executors and --slots must be at least 1");
            }
            let address = strata_core::distributed::local_cluster(executors, slots).await?;
            let host = match address.ip() {
                std::net::IpAddr::V4(ip) => ip.to_string(),
                std::net::IpAddr::V6(_) => "localhost".to_string(),
            };
            println!(
                "Ballista scheduler at df://{host}:{} with {executors} executors x {slots} slots; Ctrl-C stops it",
                address.port()
            );
            if let Some(path) = port_file {
                std::fs::write(&path, address.port().to_string())
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
    }
}

async fn run_demo(
    out: &Path,
    accounts: Option<usize>,
    events: Option<u64>,
    seed: u64,
    no_run: bool,
) -> anyhow::Result<()> {
    let mut params = match (events, accounts) {
        (Some(total), None) => DemoParams::for_events(total),
        (Some(total), Some(n_accounts)) => DemoParams {
            n_accounts,
            events_per_account: total as f64 / n_accounts.max(1) as f64,
            ..DemoParams::default()
        },
        (None, n_accounts) => DemoParams {
            n_accounts: n_accounts.unwrap_or(3000),
            ..DemoParams::default()
        },
    };
    params.seed = seed;
    let data_dir = out.join("data");
    let bar = progress::counter("generating events");
    let summary = demo::generate(&data_dir, &params, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .with_context(|| format!("cannot generate the demo data in {}", data_dir.display()))?;
    bar.finish_and_clear();
    eprintln!(
        "generated {} accounts, {} events, {} revenue rows, {} feedback rows in {}",
        summary.n_accounts,
        summary.n_events,
        summary.n_revenue_rows,
        summary.n_feedback_rows,
        data_dir.display()
    );
    let text = demo::project_file(out, params.as_of)?;
    let project_file = out.join(project::PROJECT_FILE);
    std::fs::write(&project_file, text)
        .with_context(|| format!("cannot write {}", project_file.display()))?;
    eprintln!("wrote {}", project_file.display());
    if no_run {
        return Ok(());
    }
    let project = load_project(out)?;
    state_cmd::run_and_record(
        &project,
        &out.join("out"),
        None,
        false,
        false,
        &state_cmd::RecordArgs::default(),
    )
    .await?;
    println!(
        "\nnext: open {out}/out/report.html, or browse the dashboard and API with \
         `strata serve --project {out} --out {out}/out`;\n      edit {} and run `strata run --project {out} --out {out}/out`",
        project_file.display(),
        out = out.display(),
    );
    Ok(())
}
