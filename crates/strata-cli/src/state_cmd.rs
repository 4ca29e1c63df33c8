//! Commands over the state store: recording runs, history, transitions,
//! definition versions, backfill, delivery and the schedule.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use strata_core::destinations::{self, DeliveryReport};
use strata_core::pipeline::RunResult;
use strata_core::project::Project;
use strata_core::service;
use strata_core::state::{self, ChangeFilter, RecordOutcome, RunKind, Store, Transition};

use crate::{progress, render};

/// `writeln!` into a String (which cannot fail).
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Where the project and its store are.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    /// State store: a SQLite file or a postgres:// URL [default: the project's
    /// `store`, else .strata/strata.db in the project].
    #[arg(long)]
    pub store: Option<String>,
}

impl StoreArgs {
    /// Loads the project and opens its store.
    pub async fn open(&self) -> anyhow::Result<(Project, Store)> {
        let project = crate::load_project(&self.project)?;
        let store = open_store(&project, self.store.as_deref()).await?;
        Ok((project, store))
    }
}

/// Opens the store of a project (creating and migrating it as needed).
pub async fn open_store(project: &Project, flag: Option<&str>) -> anyhow::Result<Store> {
    Ok(service::open_store(project, flag).await?)
}

/// How `strata run` records and delivers.
#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// State store: a SQLite file or a postgres:// URL [default: the project's
    /// `store`, else .strata/strata.db in the project].
    #[arg(long)]
    pub store: Option<String>,
    /// Do not record the run in the state store (and deliver nothing).
    #[arg(long)]
    pub no_store: bool,
    /// If another run holds the store, wait for it instead of failing.
    #[arg(long)]
    pub wait: bool,
    /// Deliver transitions caused by definition changes as if customers moved.
    #[arg(long)]
    pub deliver_redefinitions: bool,
    /// Queue deliveries in the outbox but do not send them now.
    #[arg(long)]
    pub no_deliver: bool,
    /// Seconds to keep retrying failed deliveries before leaving them to `strata deliver`.
    #[arg(long, default_value_t = 10)]
    pub deliver_wait: u64,
    /// Leave the ICP, cohort retention and roadmap sections out of report.html
    /// (they take about as long again as the run itself).
    #[arg(long)]
    pub quick_report: bool,
    /// Read every event. Without it, a recorded run keeps its features scan
    /// (in scans/ beside the store) and the next run reads only the event
    /// files added since, when the others are unchanged (an events folder
    /// that gains a file a day); the summary says which happened and why.
    #[arg(long)]
    pub full: bool,
    /// Testing only: sleep this long inside the commit transaction.
    #[arg(long, hide = true)]
    pub fault_pause_ms: Option<u64>,
}

impl Default for RecordArgs {
    fn default() -> Self {
        RecordArgs {
            store: None,
            no_store: false,
            wait: false,
            deliver_redefinitions: false,
            no_deliver: false,
            deliver_wait: 10,
            quick_report: false,
            full: false,
            fault_pause_ms: None,
        }
    }
}

impl RecordArgs {
    /// The run service's settings for these flags.
    pub fn settings(&self) -> service::RecordSettings {
        service::RecordSettings {
            store: self.store.clone(),
            no_store: self.no_store,
            wait: self.wait,
            deliver_redefinitions: self.deliver_redefinitions,
            no_deliver: self.no_deliver,
            deliver_wait: Duration::from_secs(self.deliver_wait),
            quick_report: self.quick_report,
            pause_before_commit: self.fault_pause_ms.map(Duration::from_millis),
            full: self.full,
        }
    }
}

/// Runs the pipeline, writes the outputs, records the run and delivers:
/// what `strata run` and `strata demo` do.
pub async fn run_and_record(
    project: &Project,
    out: &Path,
    as_of: Option<NaiveDate>,
    json: bool,
    profile: bool,
    record: &RecordArgs,
) -> anyhow::Result<()> {
    let observer = progress::PhaseProgress::new();
    let profiled = progress::Profile::new(&observer);
    let executed = if profile {
        service::execute(project, out, as_of, &record.settings(), &profiled).await
    } else {
        service::execute(project, out, as_of, &record.settings(), &observer).await
    };
    observer.finish_all();
    let executed = executed?;
    let result = &executed.result;
    if profile {
        eprintln!(
            "profile ({} accounts, {} events; each phase's own peak memory):\n{}",
            result.features.batch.num_rows(),
            result.event_rows,
            profiled.table(result.event_rows)
        );
    }
    for warning in &result.warnings {
        eprintln!("warning: {warning}");
    }
    for problem in &executed.analyses.problems {
        eprintln!("note: the report has {problem}");
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&strata_core::outputs::segments_json(result))?
        );
    } else {
        print!("{}", render::segment_tables(result));
        println!("wrote:");
        for path in executed.written.iter().chain([&executed.report]) {
            println!("  {}", path.display());
        }
    }
    // With --json, stdout holds only segments.json; the state summary goes to stderr.
    let show = |text: String| {
        if json {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    };
    if let Some(scan) = &result.scan {
        show(format!("events: {}\n", scan.describe()));
    }
    if let Some((store, outcome)) = &executed.recorded {
        show(outcome_text(outcome, result, store));
    }
    if let Some(report) = &executed.delivery {
        show(delivery_text(report));
    }
    Ok(())
}

fn outcome_text(outcome: &RecordOutcome, result: &RunResult, store: &Store) -> String {
    let mut out = String::new();
    match outcome {
        RecordOutcome::Unchanged(previous) => outln!(
            out,
            "\nstate: unchanged since run #{} (same as_of {}, definitions and memberships); nothing recorded",
            previous.id,
            previous.as_of
        ),
        RecordOutcome::Committed(summary) => {
            let run = &summary.run;
            outln!(
                out,
                "\nstate: run #{} (as of {}) recorded in {}",
                run.id,
                run.as_of,
                store.describe()
            );
            for version in &summary.new_versions {
                outln!(
                    out,
                    "  definition {}: new version v{} (#{} of this segmentation, hash {})",
                    version.segmentation,
                    version.id,
                    version.seq,
                    &version.hash[..12]
                );
            }
            if summary.baseline {
                outln!(
                    out,
                    "  first run: {} accounts x {} segmentations recorded as the baseline; transitions start with the next run",
                    run.accounts,
                    result.segmentations.len()
                );
            } else {
                let moved_accounts = summary
                    .transitions
                    .iter()
                    .filter(|t| t.cause != state::Cause::Redefinition)
                    .map(|t| t.account_id.as_str())
                    .collect::<std::collections::HashSet<_>>()
                    .len() as i64;
                let across = if moved_accounts == run.transitions {
                    String::new()
                } else {
                    format!(" ({} transitions across segmentations)", run.transitions)
                };
                outln!(
                    out,
                    "  {} account{} moved{across}, {} change{} from redefinitions{}",
                    moved_accounts,
                    plural(moved_accounts),
                    run.redefinitions,
                    plural(run.redefinitions),
                    if run.redefinitions > 0 {
                        " (not delivered; --deliver-redefinitions to send them)"
                    } else {
                        ""
                    }
                );
                let shown: Vec<&Transition> = summary.transitions.iter().take(15).collect();
                if !shown.is_empty() {
                    out.push_str(&transitions_table(&shown));
                    if summary.transitions.len() > shown.len() {
                        outln!(
                            out,
                            "  ... {} more: strata changes --run {}",
                            summary.transitions.len() - shown.len(),
                            run.id
                        );
                    }
                }
            }
            for (destination, rows) in &summary.queued {
                outln!(
                    out,
                    "  queued {rows} deliver{} for `{destination}`",
                    if *rows == 1 { "y" } else { "ies" }
                );
            }
        }
    }
    out
}

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn transitions_table(transitions: &[&Transition]) -> String {
    let rows: Vec<Vec<String>> = transitions
        .iter()
        .map(|t| {
            vec![
                t.run_id.to_string(),
                t.as_of.to_string(),
                t.segmentation.clone(),
                t.account_id.clone(),
                format!(
                    "{} -> {}",
                    t.from.as_deref().unwrap_or("(none)"),
                    t.to.as_deref().unwrap_or("(none)")
                ),
                t.cause.name().to_string(),
                t.reason.clone(),
            ]
        })
        .collect();
    render::table(
        &[
            "run",
            "as_of",
            "segmentation",
            "account",
            "change",
            "cause",
            "why",
        ],
        &rows,
    )
}

fn delivery_text(report: &DeliveryReport) -> String {
    let mut out = String::new();
    for d in &report.destinations {
        let mut line = format!("  delivery `{}`: {} delivered", d.name, d.delivered);
        if d.pending > 0 {
            line.push_str(&format!(", {} pending", d.pending));
        }
        if d.dead > 0 {
            line.push_str(&format!(", {} dead (strata deliver --retry-dead)", d.dead));
        }
        if let (Some(error), true) = (&d.last_error, d.pending + d.dead > 0) {
            line.push_str(&format!("; last error: {error}"));
        }
        outln!(out, "{line}");
    }
    if report.pending() > 0 {
        outln!(
            out,
            "  pending deliveries are retried with backoff by `strata deliver` and every run"
        );
    }
    out
}

/// `strata runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Show at most this many, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Lists runs.
pub async fn runs(args: RunsArgs) -> anyhow::Result<()> {
    let (_, mut store) = args.store.open().await?;
    let runs = store.runs(args.limit).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    if runs.is_empty() {
        println!(
            "no runs recorded in {} yet: `strata run` records one",
            store.describe()
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|run| {
            let seconds: f64 = run.timings.values().sum();
            let slowest = run
                .timings
                .iter()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(String::new(), |(phase, s)| {
                    format!("{phase} {s:.1}s ({:.0}%)", 100.0 * s / seconds.max(1e-9))
                });
            vec![
                run.id.to_string(),
                format!("{:?}", run.kind).to_lowercase(),
                run.as_of.to_string(),
                run.finished_at.clone(),
                run.status.clone(),
                run.accounts.to_string(),
                run.transitions.to_string(),
                run.redefinitions.to_string(),
                format!("{seconds:.1}s"),
                slowest,
                run.versions
                    .iter()
                    .map(|(name, v)| format!("{name}=v{v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    print!(
        "{}",
        render::table(
            &[
                "run",
                "kind",
                "as_of",
                "finished",
                "status",
                "accounts",
                "moved",
                "redefined",
                "time",
                "slowest phase",
                "definitions"
            ],
            &rows
        )
    );
    for run in runs.iter().filter(|r| r.error.is_some()) {
        println!(
            "run #{} failed: {}",
            run.id,
            run.error.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

/// `strata history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The account.
    #[arg(long)]
    account: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// An account's segments over time, with the transitions that explain them.
pub async fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let (_, mut store) = args.store.open().await?;
    let history = store.history(&args.account).await?;
    let changes = store
        .changes(&ChangeFilter {
            account: Some(args.account.clone()),
            redefinitions: true,
            limit: usize::MAX,
            ..ChangeFilter::default()
        })
        .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"memberships": history, "transitions": changes})
            )?
        );
        return Ok(());
    }
    if history.is_empty() {
        anyhow::bail!(
            "account `{}` is in no recorded run of {}; check the id, or run `strata run` first",
            args.account,
            store.describe()
        );
    }
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|h| {
            vec![
                h.segmentation.clone(),
                h.segment.clone().unwrap_or_else(|| "(unassigned)".into()),
                format!("{} (run {})", h.from_as_of, h.from_run),
                h.to_run
                    .map_or("now".to_string(), |run| format!("run {run}")),
                format!("v{}", h.version),
            ]
        })
        .collect();
    println!("account {}", args.account);
    print!(
        "{}",
        render::table(
            &["segmentation", "segment", "since", "until", "definition"],
            &rows
        )
    );
    if !changes.is_empty() {
        println!("\ntransitions:");
        let refs: Vec<&Transition> = changes.iter().collect();
        print!("{}", transitions_table(&refs));
    }
    Ok(())
}

/// `strata changes`.
#[derive(Debug, Args)]
pub struct ChangesArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Only runs with as_of on or after this date.
    #[arg(long)]
    since: Option<NaiveDate>,
    /// Only this segmentation.
    #[arg(long)]
    segmentation: Option<String>,
    /// Only this run.
    #[arg(long)]
    run: Option<i64>,
    /// Also list changes caused by definition changes.
    #[arg(long)]
    redefinitions: bool,
    /// Show at most this many.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Print JSON (with each transition's full explanation).
    #[arg(long)]
    json: bool,
}

/// Lists transitions, newest run first.
pub async fn changes(args: ChangesArgs) -> anyhow::Result<()> {
    let (_, mut store) = args.store.open().await?;
    let changes = store
        .changes(&ChangeFilter {
            since: args.since,
            segmentation: args.segmentation.clone(),
            account: None,
            run: args.run,
            redefinitions: args.redefinitions,
            limit: args.limit,
        })
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&changes)?);
        return Ok(());
    }
    if changes.is_empty() {
        println!("no transitions match");
        return Ok(());
    }
    let refs: Vec<&Transition> = changes.iter().collect();
    print!("{}", transitions_table(&refs));
    Ok(())
}

/// `strata definitions`.
#[derive(Debug, Subcommand)]
pub enum DefinitionsCommand {
    /// Every version of every segmentation's definition, oldest first.
    Log {
        #[command(flatten)]
        store: StoreArgs,
        /// Only this segmentation.
        #[arg(long)]
        segmentation: Option<String>,
        /// Print JSON (with the definition documents).
        #[arg(long)]
        json: bool,
    },
    /// What changed between two versions (`v3` or `3`), as a unified diff.
    Diff {
        #[command(flatten)]
        store: StoreArgs,
        /// The older version.
        from: String,
        /// The newer version.
        to: String,
    },
}

fn version_id(text: &str) -> anyhow::Result<i64> {
    text.trim_start_matches(['v', 'V'])
        .parse()
        .with_context(|| {
            format!("`{text}` is not a version; write it as in `strata definitions log`, e.g. v3")
        })
}

/// Lists or compares definition versions.
pub async fn definitions(command: DefinitionsCommand) -> anyhow::Result<()> {
    match command {
        DefinitionsCommand::Log {
            store,
            segmentation,
            json,
        } => {
            let (_, mut store) = store.open().await?;
            let versions: Vec<_> = store
                .definitions()
                .await?
                .into_iter()
                .filter(|v| segmentation.as_ref().is_none_or(|s| &v.segmentation == s))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&versions)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = versions
                .iter()
                .map(|v| {
                    vec![
                        format!("v{}", v.id),
                        v.segmentation.clone(),
                        v.seq.to_string(),
                        v.hash[..12].to_string(),
                        v.created_at.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                render::table(&["version", "segmentation", "#", "hash", "created"], &rows)
            );
            Ok(())
        }
        DefinitionsCommand::Diff { store, from, to } => {
            let (_, mut store) = store.open().await?;
            let versions = store.definitions().await?;
            let find = |text: &str| -> anyhow::Result<state::DefinitionVersion> {
                let id = version_id(text)?;
                versions
                    .iter()
                    .find(|v| v.id == id)
                    .cloned()
                    .with_context(|| {
                        format!("no definition version v{id}; `strata definitions log` lists them")
                    })
            };
            let (old, new) = (find(&from)?, find(&to)?);
            if old.hash == new.hash {
                println!("v{} and v{} are the same definition", old.id, new.id);
                return Ok(());
            }
            print!(
                "{}",
                state::definitions::diff(
                    &old.body,
                    &new.body,
                    &format!("v{} {} ({})", old.id, old.segmentation, old.created_at),
                    &format!("v{} {} ({})", new.id, new.segmentation, new.created_at),
                )
            );
            Ok(())
        }
    }
}

/// How often `strata backfill` computes a point.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Every {
    /// Every day.
    Day,
    /// Every 7 days.
    Week,
    /// Every calendar month, on the day of month of --from.
    Month,
}

/// `strata backfill`.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// First as_of date.
    #[arg(long)]
    from: NaiveDate,
    /// Last as_of date [default: the latest run's as_of, else the last day with events].
    #[arg(long)]
    to: Option<NaiveDate>,
    /// Spacing of the points.
    #[arg(long, value_enum, default_value = "month")]
    every: Every,
}

impl From<Every> for service::Every {
    fn from(every: Every) -> Self {
        match every {
            Every::Day => service::Every::Day,
            Every::Week => service::Every::Week,
            Every::Month => service::Every::Month,
        }
    }
}

/// Recomputes past as_of dates under the current definitions and records
/// each as a backfill point (segment sizes and ARR; no memberships or
/// deliveries). Points already backfilled under the same definitions are skipped.
pub async fn backfill(args: BackfillArgs) -> anyhow::Result<()> {
    let (project, mut store) = args.store.open().await?;
    let bar = progress::counter("backfilling");
    let done = service::backfill(
        &project,
        &mut store,
        args.from,
        args.to,
        args.every.into(),
        &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )
    .await;
    bar.finish_and_clear();
    let done = done?;
    println!(
        "backfilled {} point{} from {} to {} (every {:?}; {} already there)",
        done.recorded,
        if done.recorded == 1 { "" } else { "s" },
        args.from,
        done.to,
        args.every,
        done.dates.len() - done.recorded
    );
    print_sizes(&mut store, RunKind::Backfill).await?;
    Ok(())
}

/// Segment sizes over time of runs of `kind`, one table per segmentation.
async fn print_sizes(store: &mut Store, kind: RunKind) -> anyhow::Result<()> {
    let sizes = store.sizes().await?;
    let mut by_segmentation: BTreeMap<String, BTreeMap<String, BTreeMap<NaiveDate, i64>>> =
        BTreeMap::new();
    for (run, size) in sizes.iter().filter(|(run, _)| run.kind == kind) {
        by_segmentation
            .entry(size.segmentation.clone())
            .or_default()
            .entry(size.segment.clone())
            .or_default()
            .insert(run.as_of, size.accounts);
    }
    for (segmentation, segments) in by_segmentation {
        let mut dates: Vec<NaiveDate> = segments.values().flat_map(|m| m.keys().copied()).collect();
        dates.sort();
        dates.dedup();
        let mut headers = vec!["as_of".to_string()];
        headers.extend(segments.keys().cloned());
        let rows: Vec<Vec<String>> = dates
            .iter()
            .map(|date| {
                let mut row = vec![date.to_string()];
                row.extend(
                    segments
                        .values()
                        .map(|m| m.get(date).map_or("-".into(), |n| n.to_string())),
                );
                row
            })
            .collect();
        let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
        println!("\n{segmentation}: accounts per segment");
        print!("{}", render::table(&header_refs, &rows));
    }
    Ok(())
}

/// `strata deliver`.
#[derive(Debug, Args)]
pub struct DeliverArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Also retry dead letters (from their first attempt).
    #[arg(long)]
    retry_dead: bool,
    /// Seconds to keep retrying failures with backoff.
    #[arg(long, default_value_t = 30)]
    wait: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Sends pending deliveries now, ignoring their backoff.
pub async fn deliver(args: DeliverArgs) -> anyhow::Result<()> {
    let (project, mut store) = args.store.open().await?;
    if project.destinations.is_empty() {
        anyhow::bail!(
            "the project has no [[destination]]; see the destinations section of the README"
        );
    }
    let revived = store
        .outbox_retry_now(&state::now_text(), args.retry_dead)
        .await?;
    tracing::debug!(revived, "outbox rows made due");
    let report = destinations::deliver(
        &mut store,
        &project.destinations,
        Duration::from_secs(args.wait),
    )
    .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.destinations.is_empty() {
        println!("nothing to deliver");
    } else {
        print!("{}", delivery_text(&report));
    }
    if report.pending() > 0 {
        anyhow::bail!("{} deliveries are still pending", report.pending());
    }
    Ok(())
}

/// `strata outbox`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Only rows of this status.
    #[arg(long, value_parser = ["pending", "delivered", "dead"])]
    status: Option<String>,
    /// Show at most this many.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Shows the outbox: counts per destination and status, then rows.
pub async fn outbox(args: OutboxArgs) -> anyhow::Result<()> {
    let (_, mut store) = args.store.open().await?;
    let all = store.outbox(args.status.as_deref(), usize::MAX).await?;
    if args.json {
        let rows: Vec<_> = all.iter().take(args.limit).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if all.is_empty() {
        println!("the outbox is empty");
        return Ok(());
    }
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for row in &all {
        *counts
            .entry((row.destination.clone(), row.status.clone()))
            .or_default() += 1;
    }
    let rows: Vec<Vec<String>> = counts
        .iter()
        .map(|((destination, status), n)| vec![destination.clone(), status.clone(), n.to_string()])
        .collect();
    print!(
        "{}",
        render::table(&["destination", "status", "rows"], &rows)
    );
    let rows: Vec<Vec<String>> = all
        .iter()
        .filter(|row| row.status != "delivered")
        .take(args.limit)
        .map(|row| {
            vec![
                row.id.to_string(),
                row.destination.clone(),
                row.run_id.to_string(),
                row.key.clone(),
                row.status.clone(),
                row.attempts.to_string(),
                row.next_attempt_at.clone(),
                row.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        println!();
        print!(
            "{}",
            render::table(
                &[
                    "id",
                    "destination",
                    "run",
                    "key",
                    "status",
                    "attempts",
                    "next attempt",
                    "last error"
                ],
                &rows
            )
        );
    }
    Ok(())
}

/// `strata schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Output folder of each run.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    #[command(flatten)]
    record: RecordArgs,
    /// Run once now, then follow the schedule.
    #[arg(long)]
    now: bool,
}

/// Runs the project on its `schedule` until stopped; a failed run is
/// reported and the next one still happens.
pub async fn schedule(args: ScheduleArgs) -> anyhow::Result<()> {
    let project = crate::load_project(&args.project)?;
    let Some(schedule) = project.schedule.clone() else {
        anyhow::bail!(
            "{} has no `schedule`; add e.g. schedule = \"0 6 * * *\" (06:00 UTC daily), or run `strata run` from cron",
            args.project.display()
        );
    };
    let mut first = args.now;
    loop {
        if !first {
            let now = Utc::now();
            let Some(next) = schedule.next_after(now) else {
                anyhow::bail!("the schedule `{}` never fires again", schedule.text());
            };
            eprintln!("next run at {next} (schedule `{}`)", schedule.text());
            tokio::time::sleep((next - now).to_std().unwrap_or(Duration::ZERO)).await;
        }
        first = false;
        // Re-read the project so edits apply from the next run on.
        let outcome = match crate::load_project(&args.project) {
            Ok(project) => {
                let mut record = args.record.clone();
                record.wait = true;
                run_and_record(&project, &args.out, None, false, false, &record).await
            }
            Err(error) => Err(error.into()),
        };
        if let Err(error) = outcome {
            eprintln!("scheduled run failed: {error:#}");
        }
    }
}
