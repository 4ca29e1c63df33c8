//! Sources: the four tables of DATA.md, read through DataFusion and validated.
//!
//! Small tables (accounts, revenue, feedback) are read in file order into
//! memory and converted column by column with [`convert::convert_column`], so
//! that a bad value is reported with its file, row, column and text. The
//! events table can be far larger than memory: it is registered as a
//! DataFusion table and checked with one aggregate query; only when that
//! query finds a problem do we scan the file again in order to name the row.
//!
//! **Invariants**: nothing here panics on bad input; every problem is
//! collected and returned together; timestamps are normalized to UTC.
pub mod convert;
pub mod csv;
mod files;
pub mod postgres;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::{Cast, Expr, TryCast, lit};
use datafusion::prelude::{
    CsvReadOptions, DataFrame, JsonReadOptions, ParquetReadOptions, SessionConfig, SessionContext,
};
use futures::StreamExt;

use crate::error::{Error, Problem, Result};
use crate::project::{
    Format, Location, Project, Source, TableKind, UnknownAccounts, table_columns,
};
use convert::{BadValue, Target, convert_column, utc_micros};
pub use files::{FileStamp, source_files};

/// The name the raw events table is registered under.
pub const EVENTS_RAW: &str = "events_raw";

/// Accounts, typed and validated, in file order.
#[derive(Debug, Clone)]
pub struct Accounts {
    /// `account_id` (Utf8), `created_at` (Date32), the optional standard
    /// columns present in the file, then extra columns with inferred types.
    pub batch: RecordBatch,
    /// Account ids in order.
    pub ids: Vec<String>,
    /// Signup day (days since 1970-01-01, UTC) per account.
    pub created_day: Vec<i32>,
    /// Account id -> position.
    pub index: HashMap<String, usize>,
}

/// Monthly revenue rows, validated.
#[derive(Debug, Clone, Default)]
pub struct Revenue {
    /// Account position per row.
    pub account_idx: Vec<usize>,
    /// Month per row, as months since year 0 (`year * 12 + month0`).
    pub month: Vec<i32>,
    /// MRR per row, >= 0.
    pub mrr: Vec<f64>,
}

impl Revenue {
    /// The month whose rows stand for "now" at an as-of month: the as-of
    /// month itself when any account has a row for it, else the latest
    /// earlier month that has rows (billing for the as-of month is not closed
    /// yet), else the as-of month (no revenue yet at that date).
    pub fn measured_month(&self, as_of_month: i32) -> i32 {
        let mut latest_before: Option<i32> = None;
        for &month in &self.month {
            if month == as_of_month {
                return as_of_month;
            }
            if month < as_of_month && latest_before.is_none_or(|latest| month > latest) {
                latest_before = Some(month);
            }
        }
        latest_before.unwrap_or(as_of_month)
    }
}

impl Sources {
    /// A copy with only the accounts whose `keep` is true, in order, and
    /// their revenue and feedback rows (positions renumbered): one copy of
    /// what is kept, not of the whole.
    pub fn retained(&self, keep: &[bool]) -> Result<Sources> {
        let accounts = &self.accounts;
        if keep.len() != accounts.ids.len() {
            return Err(Error::Internal("account mask of the wrong length".into()));
        }
        let mask = datafusion::arrow::array::BooleanArray::from(keep.to_vec());
        let batch = datafusion::arrow::compute::filter_record_batch(&accounts.batch, &mask)?;
        let mut new_position: Vec<Option<usize>> = vec![None; keep.len()];
        let mut kept = 0usize;
        for (old, &is_kept) in keep.iter().enumerate() {
            if is_kept {
                new_position[old] = Some(kept);
                kept += 1;
            }
        }
        let kept_accounts: Vec<usize> = (0..keep.len()).filter(|&old| keep[old]).collect();
        // The rows of kept accounts, and their accounts' new positions.
        let kept_rows = |account_idx: &[usize]| -> (Vec<usize>, Vec<usize>) {
            (0..account_idx.len())
                .filter_map(|row| new_position[account_idx[row]].map(|position| (row, position)))
                .unzip()
        };
        fn pick<T: Clone + Send + Sync>(values: &[T], rows: &[usize]) -> Vec<T> {
            rows.par_iter().map(|&row| values[row].clone()).collect()
        }
        let ids = pick(&accounts.ids, &kept_accounts);
        // The index is hashed on one core while the rest is copied on the other.
        let (index, (revenue, feedback)) = rayon::join(
            || -> HashMap<String, usize> {
                ids.iter()
                    .enumerate()
                    .map(|(idx, id)| (id.clone(), idx))
                    .collect()
            },
            || {
                let revenue = self.revenue.as_ref().map(|revenue| {
                    let (rows, positions) = kept_rows(&revenue.account_idx);
                    Revenue {
                        account_idx: positions,
                        month: pick(&revenue.month, &rows),
                        mrr: pick(&revenue.mrr, &rows),
                    }
                });
                let feedback = self.feedback.as_ref().map(|feedback| {
                    let (rows, positions) = kept_rows(&feedback.account_idx);
                    Feedback {
                        account_idx: positions,
                        user_id: pick(&feedback.user_id, &rows),
                        ts_micros: pick(&feedback.ts_micros, &rows),
                        channel: pick(&feedback.channel, &rows),
                        score: pick(&feedback.score, &rows),
                        text: pick(&feedback.text, &rows),
                    }
                });
                (revenue, feedback)
            },
        );
        Ok(Sources {
            accounts: Accounts {
                batch,
                ids,
                created_day: pick(&accounts.created_day, &kept_accounts),
                index,
            },
            events: self.events,
            event_files: self.event_files.clone(),
            revenue,
            feedback,
            warnings: self.warnings.clone(),
        })
    }
}

/// The month of revenue that stands for "now" at day `as_of_day`: see
/// [`Revenue::measured_month`]; the as-of month without revenue.
pub fn revenue_month(sources: &Sources, as_of_day: i32) -> i32 {
    let as_of_month = month_of_day(as_of_day);
    sources
        .revenue
        .as_ref()
        .map_or(as_of_month, |revenue| revenue.measured_month(as_of_month))
}

/// The first day of a month number (`year * 12 + month0`).
pub fn month_start(month: i32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(month.div_euclid(12), month.rem_euclid(12) as u32 + 1, 1)
        .unwrap_or_default()
}

/// Feedback rows of known accounts, validated.
#[derive(Debug, Clone, Default)]
pub struct Feedback {
    /// Account position per row.
    pub account_idx: Vec<usize>,
    /// Optional user per row.
    pub user_id: Vec<Option<String>>,
    /// UTC microseconds per row.
    pub ts_micros: Vec<i64>,
    /// Lowercase channel per row.
    pub channel: Vec<String>,
    /// Optional score per row.
    pub score: Vec<Option<i64>>,
    /// Optional verbatim per row.
    pub text: Vec<Option<String>>,
}

/// What the event check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventStats {
    /// Rows in the events table.
    pub rows: u64,
    /// First UTC day with an event.
    pub min_day: Option<i32>,
    /// Last UTC day with an event.
    pub max_day: Option<i32>,
}

/// What an events check counts, on whichever engine holds the events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// Rows in the events table.
    pub rows: u64,
    /// Events with a NULL or empty account id.
    pub blank_account: u64,
    /// Events with a NULL or empty event name.
    pub blank_event: u64,
    /// Events without a timestamp.
    pub missing_ts: u64,
    /// Events whose timestamp text does not parse (0 for a typed column).
    pub bad_ts: u64,
    /// First UTC day with an event.
    pub min_day: Option<i32>,
    /// Last UTC day with an event.
    pub max_day: Option<i32>,
}

/// One of the checks every events table passes before features are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventCheck {
    /// Every event names its account.
    BlankAccount,
    /// Every event has a name.
    BlankEvent,
    /// Every event has a timestamp.
    MissingTs,
    /// Every timestamp parses.
    BadTs,
}

impl EventCheck {
    /// The events column (by role) the check reads.
    pub fn column(self) -> &'static str {
        match self {
            EventCheck::BlankAccount => "account_id",
            EventCheck::BlankEvent => "event",
            EventCheck::MissingTs | EventCheck::BadTs => "ts",
        }
    }

    fn what(self) -> &'static str {
        match self {
            EventCheck::BlankAccount => "an empty account_id",
            EventCheck::BlankEvent => "an empty event name",
            EventCheck::MissingTs => "an empty timestamp",
            EventCheck::BadTs => "a timestamp that does not parse",
        }
    }

    fn help(self) -> &'static str {
        match self {
            EventCheck::BadTs => {
                "write timestamps as ISO 8601, e.g. 2026-10-31T14:05:00Z (a missing offset means UTC)"
            }
            _ => "every event needs an account_id, an event name and a timestamp",
        }
    }
}

/// Where an engine found the first event that fails a check.
#[derive(Debug, Clone, Default)]
pub struct Located {
    /// File, row and column, or table and column.
    pub location: String,
    /// What was found there, e.g. `` (first: `x`)``; may be empty.
    pub found: String,
    /// How to find the others on this engine, appended to the help.
    pub hint: Option<String>,
}

impl EventCounts {
    /// The checks that fail, each with its count, in the order problems are
    /// reported; an empty table is a problem of its own.
    pub fn failing(&self, source: &Source) -> Result<Vec<(EventCheck, u64)>> {
        if self.rows == 0 {
            return Err(Error::invalid(
                Problem::new(source.label(), "the events table is empty")
                    .with_help("strata needs product usage events to compute behavioral features"),
            ));
        }
        Ok([
            (EventCheck::BlankAccount, self.blank_account),
            (EventCheck::BlankEvent, self.blank_event),
            (EventCheck::MissingTs, self.missing_ts),
            (EventCheck::BadTs, self.bad_ts),
        ]
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .collect())
    }

    /// The statistics of events that passed every check, or one problem per
    /// failing check at the place the engine found its first event.
    pub fn verdict(self, failed: Vec<(EventCheck, u64, Located)>) -> Result<EventStats> {
        if failed.is_empty() {
            return Ok(EventStats {
                rows: self.rows,
                min_day: self.min_day,
                max_day: self.max_day,
            });
        }
        Err(Error::Invalid(
            failed
                .into_iter()
                .map(|(check, count, located)| {
                    let help = match located.hint {
                        Some(hint) => format!("{}; {hint}", check.help()),
                        None => check.help().to_string(),
                    };
                    Problem::new(
                        located.location,
                        format!("{count} event(s) with {}{}", check.what(), located.found),
                    )
                    .with_help(help)
                })
                .collect(),
        ))
    }
}

/// Every source, loaded and checked (cloned to prepare another date from
/// the same loaded tables).
#[derive(Debug, Clone)]
pub struct Sources {
    /// Accounts.
    pub accounts: Accounts,
    /// Statistics of the events table, which stays registered in the context.
    pub events: EventStats,
    /// The events' files and their stamps (none for a database table).
    pub event_files: Vec<FileStamp>,
    /// Revenue, when the project has it.
    pub revenue: Option<Revenue>,
    /// Feedback, when the project has it.
    pub feedback: Option<Feedback>,
    /// Things worth telling the user that do not stop the run.
    pub warnings: Vec<Problem>,
}

/// Loads and validates every source of `project`, registering the raw events
/// table in `ctx` as [`EVENTS_RAW`]. Collects all problems before failing.
pub async fn load(ctx: &SessionContext, project: &Project) -> Result<Sources> {
    load_with(ctx, project, Check::All).await
}

/// How much of the events [`load_with`] checks.
#[derive(Debug, Clone)]
pub enum Check {
    /// Every event.
    All,
    /// None: they were checked elsewhere (by the database that holds them).
    Done(EventStats),
    /// Only the files none of these earlier checks covered: the check of
    /// the most files that are all still there unchanged stands for them.
    Since(Vec<Checked>),
}

/// Event files an earlier run checked, and what it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checked {
    /// The files, as they were.
    pub files: Vec<FileStamp>,
    /// Their statistics.
    pub stats: EventStats,
}

impl EventStats {
    /// The statistics of two sets of events together.
    pub fn plus(self, other: EventStats) -> EventStats {
        let min = |a: Option<i32>, b: Option<i32>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let max = |a: Option<i32>, b: Option<i32>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        EventStats {
            rows: self.rows + other.rows,
            min_day: min(self.min_day, other.min_day),
            max_day: max(self.max_day, other.max_day),
        }
    }
}

/// [`load`], checking the events as `check` says.
pub async fn load_with(ctx: &SessionContext, project: &Project, check: Check) -> Result<Sources> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for source in project.sources.values() {
        let Location::File { path, .. } = &source.location else {
            continue;
        };
        let folder_ok = source.kind == TableKind::Events && path.is_dir();
        if !path.is_file() && !folder_ok {
            problems.push(
                Problem::new(
                    path.display().to_string(),
                    format!("the {} file does not exist", source.kind.name()),
                )
                .with_help(format!(
                    "fix the path under [sources] in strata.toml (`{}`)",
                    source.kind.name()
                )),
            );
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let accounts_source = required(project, TableKind::Accounts)?;
    let events_source = required(project, TableKind::Events)?;

    let accounts = match load_accounts(accounts_source).await {
        Ok((accounts, mut account_warnings)) => {
            warnings.append(&mut account_warnings);
            Some(accounts)
        }
        Err(Error::Invalid(mut found)) => {
            problems.append(&mut found);
            None
        }
        Err(other) => return Err(other),
    };
    let event_files = source_files(events_source)?
        .iter()
        .map(|path| FileStamp::of(path))
        .collect::<Result<Vec<_>>>()?;
    let checked = match check {
        Check::Done(stats) => Ok(stats),
        Check::All => check_events(ctx, events_source, None).await,
        Check::Since(earlier) => match covered(&earlier, &event_files) {
            Some((stats, rest)) => check_events(ctx, events_source, Some(rest))
                .await
                .map(|new| stats.plus(new)),
            None => check_events(ctx, events_source, None).await,
        },
    };
    let events = match checked {
        Ok(stats) => Some(stats),
        Err(Error::Invalid(mut found)) => {
            problems.append(&mut found);
            None
        }
        Err(other) => return Err(other),
    };
    let (Some(accounts), Some(events)) = (accounts, events) else {
        return Err(Error::Invalid(problems));
    };

    let revenue = match project.source(TableKind::Revenue) {
        None => None,
        Some(source) => match load_revenue(source, &accounts, &mut warnings).await {
            Ok(revenue) => Some(revenue),
            Err(Error::Invalid(mut found)) => {
                problems.append(&mut found);
                None
            }
            Err(other) => return Err(other),
        },
    };
    let feedback = match project.source(TableKind::Feedback) {
        None => None,
        Some(source) => match load_feedback(source, &accounts, &mut warnings).await {
            Ok(feedback) => Some(feedback),
            Err(Error::Invalid(mut found)) => {
                problems.append(&mut found);
                None
            }
            Err(other) => return Err(other),
        },
    };
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let _ = project.unknown_accounts;
    Ok(Sources {
        accounts,
        events,
        event_files,
        revenue,
        feedback,
        warnings,
    })
}

/// The earlier check that covers the most of `files`, all of whose files
/// are among them unchanged, and the files it did not cover.
fn covered(earlier: &[Checked], files: &[FileStamp]) -> Option<(EventStats, Vec<PathBuf>)> {
    let best = earlier
        .iter()
        .filter(|checked| checked.files.iter().all(|file| files.contains(file)))
        .max_by_key(|checked| checked.files.len())?;
    let rest = files
        .iter()
        .filter(|file| !best.files.contains(file))
        .map(|file| PathBuf::from(&file.path))
        .collect();
    Some((best.stats, rest))
}

fn required(project: &Project, kind: TableKind) -> Result<&Source> {
    project.source(kind).ok_or_else(|| {
        Error::Internal(format!(
            "validated project without the {} table",
            kind.name()
        ))
    })
}

/// The `limit` most common event names of the project's events table, most
/// common first (ties by name): what `strata init` builds the behavior mix
/// from and `strata icp` searches the early adoption of.
pub async fn common_events(
    ctx: &SessionContext,
    project: &Project,
    limit: usize,
) -> Result<Vec<String>> {
    use datafusion::functions_aggregate::expr_fn::count;
    use datafusion::prelude::col;
    let source = required(project, TableKind::Events)?;
    let frame = open(ctx, source).await?;
    let event = column_expr(source.file_column("event"));
    let counted = frame
        .filter(event.clone().is_not_null())?
        .aggregate(
            vec![Expr::Cast(Cast::new(Box::new(event), DataType::Utf8)).alias("event")],
            vec![count(datafusion::prelude::lit(1)).alias("n")],
        )?
        .sort(vec![
            col("n").sort(false, false),
            col("event").sort(true, false),
        ])?
        .limit(0, Some(limit))?
        .collect()
        .await?;
    let mut names = Vec::new();
    for batch in &counted {
        let column = batch.column(0).as_string::<i32>();
        for row in 0..column.len() {
            if column.is_valid(row) && !column.value(row).is_empty() {
                names.push(column.value(row).to_string());
            }
        }
    }
    Ok(names)
}

/// Where a value sits, for error messages.
fn row_location(source: &Source, row: usize, column: &str) -> String {
    let label = source.label();
    match &source.location {
        // Header is line 1; data row N is on line N + 1 unless texts hold newlines.
        Location::File {
            format: Format::Csv,
            ..
        } => format!(
            "{label}, row {} (line {}), column `{column}`",
            row + 1,
            row + 2
        ),
        Location::File { .. } => format!("{label}, row {}, column `{column}`", row + 1),
        Location::Postgres(_) => {
            format!("{label}, row {} in scan order, column `{column}`", row + 1)
        }
    }
}

fn file_extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| format!(".{e}"))
        .unwrap_or_default()
}

/// A context that reads files in order with one partition.
fn ordered_context() -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(1)
        .with_repartition_file_scans(false);
    SessionContext::new_with_config(config)
}

/// Opens a source as a DataFrame. CSV columns are all read as text so that
/// conversion (and its errors) is ours, not the CSV reader's.
async fn open(ctx: &SessionContext, source: &Source) -> Result<DataFrame> {
    open_files(ctx, source, None).await
}

/// The rows of `files` of a file source (`None`: all its files; a folder's
/// files are read as one table).
pub(crate) async fn open_files(
    ctx: &SessionContext,
    source: &Source,
    files: Option<&[PathBuf]>,
) -> Result<DataFrame> {
    let (path, format, csv_options) = match &source.location {
        Location::File { path, format, csv } => (path, *format, csv),
        Location::Postgres(table) => {
            return Ok(ctx.read_batch(postgres::read_table(table).await?)?);
        }
    };
    let files = match files {
        Some(files) => files.to_vec(),
        None => source_files(source)?,
    };
    let folder = path.is_dir();
    // A single file is named as it is; a folder's files are listed
    // already, so no extension filters them.
    let extension = |file: &Path| {
        if folder {
            String::new()
        } else {
            file_extension(file)
        }
    };
    let first = files.first().cloned().unwrap_or_else(|| path.clone());
    let name = path.to_string_lossy().to_string();
    let names = |paths: &[PathBuf]| -> Vec<String> {
        paths
            .iter()
            .map(|p| p.to_string_lossy().to_string())
            .collect()
    };
    let opened = match format {
        Format::Csv => {
            let mut ready_paths = Vec::with_capacity(files.len());
            let mut first_ready: Option<csv::ReadyCsv> = None;
            for file in &files {
                let ready = csv::ready(file, csv_options)?;
                if let Some(first) = &first_ready
                    && (first.header != ready.header || first.delimiter != ready.delimiter)
                {
                    return Err(Error::invalid(
                        Problem::new(
                            file.display().to_string(),
                            "its header differs from the folder's first file's",
                        )
                        .with_help("every file of an events folder needs the same columns"),
                    ));
                }
                ready_paths.push(ready.path.clone());
                first_ready.get_or_insert(ready);
            }
            let Some(ready) = first_ready else {
                return Err(Error::Internal(format!("{name}: no files to read")));
            };
            let fields: Vec<Field> = ready
                .header
                .iter()
                .map(|name| Field::new(name, DataType::Utf8, true))
                .collect();
            let schema = Schema::new(fields);
            let extension = extension(&ready.path);
            let options = CsvReadOptions::new()
                .has_header(true)
                .delimiter(ready.delimiter)
                .quote(ready.quote)
                .file_extension(&extension)
                .schema(&schema);
            ctx.read_csv(names(&ready_paths), options).await
        }
        Format::Parquet => {
            let extension = extension(&first);
            let options = ParquetReadOptions {
                file_extension: &extension,
                ..Default::default()
            };
            ctx.read_parquet(names(&files), options).await
        }
        Format::NdJson => {
            let extension = extension(&first);
            let options = JsonReadOptions {
                file_extension: &extension,
                ..Default::default()
            };
            ctx.read_json(names(&files), options).await
        }
    };
    opened.map_err(|error| {
        Error::invalid(
            Problem::new(name, format!("cannot read as {}: {error}", format.name()))
                .with_help("check the file's format, or set format = \"csv\" | \"parquet\" | \"ndjson\" for this source"),
        )
    })
}

/// Reads a whole (small) source in file order as one batch.
async fn read_all(source: &Source) -> Result<RecordBatch> {
    if let Location::Postgres(table) = &source.location {
        return postgres::read_table(table).await;
    }
    let ctx = ordered_context();
    let frame = open(&ctx, source).await?;
    let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await.map_err(|error| {
        Error::invalid(Problem::new(
            source.label(),
            format!("cannot read: {error}"),
        ))
    })?;
    Ok(concat_batches(&schema, &batches)?)
}

/// Checks that every required column is present; returns the problems.
pub(crate) fn missing_columns(source: &Source, schema: &Schema) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (canonical, is_required) in table_columns(source.kind) {
        let file_column = source.file_column(canonical);
        if *is_required && schema.field_with_name(file_column).is_err() {
            let available: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            let mut problem = Problem::new(
                source.label(),
                format!(
                    "missing required column `{file_column}` in the {} table",
                    source.kind.name()
                ),
            );
            let closest = available
                .iter()
                .map(|name| (strsim::jaro_winkler(name, file_column), *name))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            problem = match closest {
                Some((_, name)) => problem.with_help(format!(
                    "the file has `{name}`: map it with columns = {{ {canonical} = \"{name}\" }} under [sources]"
                )),
                None => problem.with_help(format!(
                    "the file has: {}; map one with columns = {{ {canonical} = \"...\" }}",
                    available.join(", ")
                )),
            };
            problems.push(problem);
        }
    }
    problems
}

/// Converts the named column of `batch`, or reports where it failed.
fn typed_column(
    source: &Source,
    batch: &RecordBatch,
    canonical: &str,
    target: Target,
) -> Result<Option<ArrayRef>, Problem> {
    let file_column = source.file_column(canonical);
    let Some(array) = batch.column_by_name(file_column) else {
        return Ok(None);
    };
    convert_column(array, target)
        .map(Some)
        .map_err(|BadValue { row, value }| {
            Problem::new(
                row_location(source, row, file_column),
                format!("expected {}, found `{value}`", target.describe()),
            )
            .with_help(format!(
                "fix the value, or empty the cell if it is unknown ({} table)",
                source.kind.name()
            ))
        })
}

async fn load_accounts(source: &Source) -> Result<(Accounts, Vec<Problem>)> {
    let batch = read_all(source).await?;
    let mut problems = missing_columns(source, &batch.schema());
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    if batch.num_rows() == 0 {
        return Err(Error::invalid(
            Problem::new(source.label(), "the accounts table is empty")
                .with_help("strata needs at least one account"),
        ));
    }
    let mut warnings = Vec::new();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    let mut used_file_columns = HashSet::new();
    let standard: [(&str, Target); 8] = [
        ("account_id", Target::Text),
        ("created_at", Target::Date),
        ("name", Target::Text),
        ("employees", Target::Integer),
        ("industry", Target::Text),
        ("country", Target::Text),
        ("plan", Target::Text),
        ("owner", Target::Text),
    ];
    for (canonical, target) in standard {
        match typed_column(source, &batch, canonical, target) {
            Ok(Some(array)) => {
                used_file_columns.insert(source.file_column(canonical).to_string());
                fields.push(Field::new(canonical, array.data_type().clone(), true));
                columns.push(array);
            }
            Ok(None) => {}
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }

    // Identity checks: every account id present, non-empty and unique.
    let ids_array = columns[0].as_string::<i32>();
    let created = columns[1].as_primitive::<datafusion::arrow::datatypes::Date32Type>();
    let mut index = HashMap::with_capacity(batch.num_rows());
    let mut ids = Vec::with_capacity(batch.num_rows());
    let account_column = source.file_column("account_id");
    for row in 0..batch.num_rows() {
        if ids_array.is_null(row) {
            problems.push(
                Problem::new(
                    row_location(source, row, account_column),
                    "empty account_id",
                )
                .with_help("every account needs a unique, non-empty id"),
            );
            continue;
        }
        let id = ids_array.value(row).to_string();
        if let Some(first) = index.insert(id.clone(), row) {
            problems.push(
                Problem::new(
                    row_location(source, row, account_column),
                    format!(
                        "duplicate account_id `{id}` (first seen on row {})",
                        first + 1
                    ),
                )
                .with_help("account ids must be unique; merge or remove the duplicate rows"),
            );
        }
        if created.is_null(row) {
            problems.push(
                Problem::new(
                    row_location(source, row, source.file_column("created_at")),
                    "empty created_at",
                )
                .with_help("every account needs its signup date"),
            );
        }
        ids.push(id);
        if problems.len() >= 20 {
            break;
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let created_day: Vec<i32> = created.values().to_vec();

    // Extra columns are kept with a type inferred from their values.
    for field in batch.schema().fields() {
        let name = field.name();
        if used_file_columns.contains(name.as_str()) {
            continue;
        }
        if crate::catalog::is_reserved(name) || fields.iter().any(|f: &Field| f.name() == name) {
            warnings.push(
                Problem::new(
                    format!("{}, column `{name}`", source.label()),
                    "ignored: the name is taken by a computed feature or a standard column",
                )
                .with_help("rename the column in the file to use it in rules"),
            );
            continue;
        }
        let Some(array) = batch.column_by_name(name) else {
            continue;
        };
        match infer_extra(array) {
            Some(typed) => {
                fields.push(Field::new(name, typed.data_type().clone(), true));
                columns.push(typed);
            }
            None => warnings.push(Problem::new(
                format!("{}, column `{name}`", source.label()),
                format!(
                    "ignored: type {} cannot be used in rules",
                    array.data_type()
                ),
            )),
        }
    }
    let typed = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    Ok((
        Accounts {
            batch: typed,
            ids,
            created_day,
            index,
        },
        warnings,
    ))
}

/// Gives an extra accounts column a rule-language type: integers, numbers,
/// booleans, dates and text are recognized from CSV text; typed columns keep
/// their type when the rule language has one.
fn infer_extra(array: &ArrayRef) -> Option<ArrayRef> {
    use DataType::*;
    match array.data_type() {
        Utf8 | LargeUtf8 | Utf8View => {
            for target in [Target::Integer, Target::Float, Target::Date] {
                if let Ok(converted) = convert_column(array, target)
                    && converted.null_count() < converted.len()
                {
                    return Some(converted);
                }
            }
            let text = convert_column(array, Target::Text).ok()?;
            let lowered: Vec<Option<String>> = text
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(|v| v.trim().to_ascii_lowercase()))
                .collect();
            let is_boolean = lowered.iter().flatten().count() > 0
                && lowered
                    .iter()
                    .flatten()
                    .all(|v| v == "true" || v == "false");
            if is_boolean {
                let values: datafusion::arrow::array::BooleanArray = lowered
                    .iter()
                    .map(|v| v.as_ref().map(|v| v == "true"))
                    .collect();
                return Some(Arc::new(values));
            }
            Some(text)
        }
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => {
            convert_column(array, Target::Integer).ok()
        }
        Float16 | Float32 | Float64 | Decimal128(_, _) | Decimal256(_, _) => {
            convert_column(array, Target::Float).ok()
        }
        Boolean => Some(array.clone()),
        Date32 | Date64 => convert_column(array, Target::Date).ok(),
        Timestamp(_, _) => {
            let micros = convert_column(array, Target::TimestampMicros).ok()?;
            datafusion::arrow::compute::cast(
                &micros,
                &Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
            )
            .ok()
        }
        _ => None,
    }
}

fn column_expr(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// UTC microseconds since the epoch of a timestamp column of type `data_type`.
///
/// Zoned timestamps already hold UTC instants and naive ones are UTC by
/// definition, so both are rescaled and reinterpreted, never converted
/// through a time zone per value; text is parsed (offsets honoured).
pub fn utc_micros_expr(ts: Expr, data_type: &DataType) -> Expr {
    use datafusion::arrow::datatypes::TimeUnit;
    let cast = |expr: Expr, to: DataType| Expr::Cast(Cast::new(Box::new(expr), to));
    match data_type {
        DataType::Timestamp(_, zone) => {
            let rescaled = cast(ts, DataType::Timestamp(TimeUnit::Microsecond, zone.clone()));
            cast(rescaled, DataType::Int64)
        }
        _ => cast(cast(ts, utc_micros()), DataType::Int64),
    }
}

/// The first instant of UTC day `day` as a value of a timestamp column of
/// type `data_type` (for a comparison that Parquet's row-group statistics
/// can prune by); `None` for a type that holds no instant (text).
pub fn day_start(data_type: &DataType, day: i32) -> Option<ScalarValue> {
    use datafusion::arrow::datatypes::TimeUnit;
    const SECONDS_PER_DAY: i64 = 86_400;
    let seconds = i64::from(day).checked_mul(SECONDS_PER_DAY)?;
    Some(match data_type {
        DataType::Timestamp(unit, zone) => {
            let zone = zone.clone();
            match unit {
                TimeUnit::Second => ScalarValue::TimestampSecond(Some(seconds), zone),
                TimeUnit::Millisecond => {
                    ScalarValue::TimestampMillisecond(Some(seconds.checked_mul(1_000)?), zone)
                }
                TimeUnit::Microsecond => {
                    ScalarValue::TimestampMicrosecond(Some(seconds.checked_mul(1_000_000)?), zone)
                }
                TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(
                    Some(seconds.checked_mul(1_000_000_000)?),
                    zone,
                ),
            }
        }
        DataType::Date32 => ScalarValue::Date32(Some(day)),
        DataType::Date64 => ScalarValue::Date64(Some(seconds.checked_mul(1_000)?)),
        _ => return None,
    })
}

/// The UTC day (days since 1970-01-01) of a timestamp column of type `data_type`.
pub fn day_expr(ts: Expr, data_type: &DataType) -> Expr {
    const MICROS_PER_DAY: i64 = 86_400_000_000;
    let micros = utc_micros_expr(ts, data_type);
    // Floor division, so that instants before 1970 land on the right day.
    let floored = (micros.clone()
        - ((micros % lit(MICROS_PER_DAY)) + lit(MICROS_PER_DAY)) % lit(MICROS_PER_DAY))
        / lit(MICROS_PER_DAY);
    Expr::Cast(Cast::new(Box::new(floored), DataType::Int32))
}

/// Registers the raw events table and checks it with one aggregate query:
/// required columns, empty ids and names, timestamps that do not parse.
///
/// With `only`, every file is registered but only those files are checked
/// (the others were, by an earlier run).
async fn check_events(
    ctx: &SessionContext,
    source: &Source,
    only: Option<Vec<PathBuf>>,
) -> Result<EventStats> {
    let all = open(ctx, source).await?;
    let schema = all.schema().as_arrow().clone();
    let problems = missing_columns(source, &schema);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    ctx.deregister_table(EVENTS_RAW)?;
    ctx.register_table(EVENTS_RAW, all.clone().into_view())?;
    let (files, frame) = match only {
        Some(files) if files.is_empty() => return Ok(EventStats::default()),
        Some(files) => {
            let frame = open_files(ctx, source, Some(&files)).await?;
            (files, frame)
        }
        None => (source_files(source)?, all),
    };

    let account = column_expr(source.file_column("account_id"));
    let event = column_expr(source.file_column("event"));
    let ts = column_expr(source.file_column("ts"));
    // Only string columns can be blank; comparing in place (no cast, no trim)
    // avoids copying every string of the table.
    let blank = |expr: Expr| {
        let is_string = match &expr {
            Expr::Column(column) => schema.field_with_name(&column.name).is_ok_and(|field| {
                matches!(
                    field.data_type(),
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
                )
            }),
            _ => false,
        };
        if is_string {
            expr.clone().is_null().or(expr.eq(lit("")))
        } else {
            expr.is_null()
        }
    };
    let parsed = Expr::TryCast(TryCast::new(Box::new(ts.clone()), utc_micros()));
    let bad_ts = ts.clone().is_not_null().and(parsed.clone().is_null());
    let count_if = |condition: Expr| {
        datafusion::functions_aggregate::expr_fn::sum(
            datafusion::logical_expr::when(condition, lit(1i64))
                .otherwise(lit(0i64))
                .unwrap_or(lit(0i64)),
        )
    };
    let ts_type = schema
        .field_with_name(source.file_column("ts"))
        .map(|f| f.data_type().clone())
        .unwrap_or(DataType::Utf8);
    let day = match ts_type {
        DataType::Timestamp(_, _) => day_expr(ts.clone(), &ts_type),
        _ => day_expr(parsed.clone(), &utc_micros()),
    };
    let stats = frame
        .aggregate(
            vec![],
            vec![
                datafusion::functions_aggregate::expr_fn::count(lit(1i64)).alias("rows"),
                count_if(blank(account.clone())).alias("blank_account"),
                count_if(blank(event.clone())).alias("blank_event"),
                count_if(ts.clone().is_null()).alias("missing_ts"),
                count_if(bad_ts.clone()).alias("bad_ts"),
                datafusion::functions_aggregate::expr_fn::min(day.clone()).alias("min_day"),
                datafusion::functions_aggregate::expr_fn::max(day).alias("max_day"),
            ],
        )?
        .collect()
        .await
        .map_err(|error| {
            Error::invalid(Problem::new(
                source.label(),
                format!("cannot read the events: {error}"),
            ))
        })?;
    let batch = stats
        .first()
        .ok_or_else(|| Error::Internal("aggregate without rows".into()))?;
    let int = |name: &str| -> Option<i64> {
        let array = batch.column_by_name(name)?;
        let value = ScalarValue::try_from_array(array, 0).ok()?;
        match value {
            ScalarValue::Int64(v) => v,
            ScalarValue::Int32(v) => v.map(i64::from),
            _ => None,
        }
    };
    let count = |name: &str| int(name).unwrap_or(0) as u64;
    let counts = EventCounts {
        rows: count("rows"),
        blank_account: count("blank_account"),
        blank_event: count("blank_event"),
        missing_ts: count("missing_ts"),
        bad_ts: count("bad_ts"),
        min_day: int("min_day").map(|d| d as i32),
        max_day: int("max_day").map(|d| d as i32),
    };
    let mut failed = Vec::new();
    for (check, count) in counts.failing(source)? {
        let condition = match check {
            EventCheck::BlankAccount => blank(account.clone()),
            EventCheck::BlankEvent => blank(event.clone()),
            EventCheck::MissingTs => ts.clone().is_null(),
            EventCheck::BadTs => bad_ts.clone(),
        };
        let column = source.file_column(check.column());
        let mut located = Located {
            location: source.label(),
            ..Located::default()
        };
        for file in &files {
            let one = files::one_file(source, file);
            if let Some((row, value)) = first_row_where(&one, condition.clone()).await? {
                located = Located {
                    location: row_location(&one, row, column),
                    found: format!(" (first: `{value}`)"),
                    hint: None,
                };
                break;
            }
        }
        failed.push((check, count, located));
    }
    counts.verdict(failed)
}

/// Scans a source in file order and returns the first row where `condition`
/// holds, with the row rendered as text. Used only to explain a problem.
async fn first_row_where(source: &Source, condition: Expr) -> Result<Option<(usize, String)>> {
    let ctx = ordered_context();
    let frame = open(&ctx, source).await?;
    let flagged = frame.select(vec![
        condition.alias("flag"),
        column_expr(source.file_column("ts")).alias("shown"),
    ])?;
    let mut stream = flagged.execute_stream().await?;
    let mut offset = 0usize;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let flags = batch.column(0).as_boolean();
        if let Some(idx) = (0..batch.num_rows()).find(|&i| flags.is_valid(i) && flags.value(i)) {
            let shown = convert::value_text(batch.column(1), idx);
            return Ok(Some((offset + idx, shown)));
        }
        offset += batch.num_rows();
    }
    Ok(None)
}

/// Months since year 0 of a UTC day number.
pub fn month_of_day(day: i32) -> i32 {
    use chrono::Datelike;
    let date = chrono::DateTime::from_timestamp(i64::from(day) * 86_400, 0)
        .map(|dt| dt.date_naive())
        .unwrap_or_default();
    date.year() * 12 + date.month0() as i32
}

fn require(problems: Vec<Problem>) -> Result<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems))
    }
}

fn collect_column(
    source: &Source,
    batch: &RecordBatch,
    canonical: &str,
    target: Target,
    problems: &mut Vec<Problem>,
) -> Option<ArrayRef> {
    match typed_column(source, batch, canonical, target) {
        Ok(array) => array,
        Err(problem) => {
            problems.push(problem);
            None
        }
    }
}

/// Counts rows of unknown accounts and warns about them once per table.
fn warn_unknown(
    source: &Source,
    unknown_rows: usize,
    example: Option<String>,
    warnings: &mut Vec<Problem>,
) {
    if unknown_rows > 0 {
        warnings.push(
            Problem::new(
                source.label(),
                format!(
                    "{unknown_rows} {} row(s) of accounts not in the accounts table were ignored (e.g. `{}`)",
                    source.kind.name(),
                    example.unwrap_or_default()
                ),
            )
            .with_help("add the accounts, or fix their ids"),
        );
    }
}

async fn load_revenue(
    source: &Source,
    accounts: &Accounts,
    warnings: &mut Vec<Problem>,
) -> Result<Revenue> {
    let batch = read_all(source).await?;
    require(missing_columns(source, &batch.schema()))?;
    if batch.num_rows() == 0 {
        warnings.push(Problem::new(
            source.label(),
            "the revenue table is empty; revenue measures are left empty",
        ));
        return Ok(Revenue::default());
    }
    let mut problems = Vec::new();
    let ids = collect_column(source, &batch, "account_id", Target::Text, &mut problems);
    let months = collect_column(source, &batch, "month", Target::Date, &mut problems);
    let mrr = collect_column(source, &batch, "mrr", Target::Float, &mut problems);
    require(problems)?;
    let (Some(ids), Some(months), Some(mrr)) = (ids, months, mrr) else {
        return Err(Error::Internal(
            "required revenue columns vanished after the check".into(),
        ));
    };
    let ids = ids.as_string::<i32>();
    let months = months.as_primitive::<datafusion::arrow::datatypes::Date32Type>();
    let mrr = mrr.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
    let mut revenue = Revenue::default();
    let mut problems = Vec::new();
    let mut seen: HashMap<(usize, i32), usize> = HashMap::new();
    let (mut unknown_rows, mut unknown_example) = (0usize, None);
    for row in 0..batch.num_rows() {
        if problems.len() >= 20 {
            break;
        }
        let location = |canonical: &str| row_location(source, row, source.file_column(canonical));
        if ids.is_null(row) {
            problems.push(Problem::new(location("account_id"), "empty account_id"));
            continue;
        }
        if months.is_null(row) {
            problems.push(
                Problem::new(location("month"), "empty month")
                    .with_help("write the first day of the month, e.g. 2026-10-01"),
            );
            continue;
        }
        if mrr.is_null(row) {
            problems.push(
                Problem::new(location("mrr"), "empty mrr")
                    .with_help("write 0 for a month without revenue, or drop the row"),
            );
            continue;
        }
        let value = mrr.value(row);
        if !(value >= 0.0) || !value.is_finite() {
            problems.push(
                Problem::new(location("mrr"), format!("mrr must be >= 0, found {value}"))
                    .with_help("refunds and credits are not MRR: record the month's recurring revenue, 0 at least"),
            );
            continue;
        }
        let Some(&account_idx) = accounts.index.get(ids.value(row)) else {
            unknown_rows += 1;
            unknown_example.get_or_insert_with(|| ids.value(row).to_string());
            continue;
        };
        let month = month_of_day(months.value(row));
        if let Some(first) = seen.insert((account_idx, month), row) {
            problems.push(
                Problem::new(
                    location("month"),
                    format!(
                        "second revenue row for account `{}` in month {} (first on row {})",
                        ids.value(row),
                        months.value(row),
                        first + 1
                    ),
                )
                .with_help("keep one MRR row per account and month"),
            );
            continue;
        }
        revenue.account_idx.push(account_idx);
        revenue.month.push(month);
        revenue.mrr.push(value);
    }
    require(problems)?;
    warn_unknown(source, unknown_rows, unknown_example, warnings);
    Ok(revenue)
}

async fn load_feedback(
    source: &Source,
    accounts: &Accounts,
    warnings: &mut Vec<Problem>,
) -> Result<Feedback> {
    let batch = read_all(source).await?;
    require(missing_columns(source, &batch.schema()))?;
    if batch.num_rows() == 0 {
        warnings.push(Problem::new(
            source.label(),
            "the feedback table is empty; NPS is left empty",
        ));
        return Ok(Feedback::default());
    }
    let mut problems = Vec::new();
    let ids = collect_column(source, &batch, "account_id", Target::Text, &mut problems);
    let users = collect_column(source, &batch, "user_id", Target::Text, &mut problems);
    let ts = collect_column(source, &batch, "ts", Target::TimestampMicros, &mut problems);
    let channel = collect_column(source, &batch, "channel", Target::Text, &mut problems);
    let score = collect_column(source, &batch, "score", Target::Integer, &mut problems);
    let text = collect_column(source, &batch, "text", Target::Text, &mut problems);
    require(problems)?;
    let (Some(ids), Some(ts), Some(channel)) = (ids, ts, channel) else {
        return Err(Error::Internal(
            "required feedback columns vanished after the check".into(),
        ));
    };
    let ids = ids.as_string::<i32>();
    let ts = ts.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    let channel = channel.as_string::<i32>();
    let users = users.as_ref().map(|a| a.as_string::<i32>());
    let score = score
        .as_ref()
        .map(|a| a.as_primitive::<datafusion::arrow::datatypes::Int64Type>());
    let text = text.as_ref().map(|a| a.as_string::<i32>());
    let mut feedback = Feedback::default();
    let mut problems = Vec::new();
    let (mut unknown_rows, mut unknown_example) = (0usize, None);
    for row in 0..batch.num_rows() {
        if problems.len() >= 20 {
            break;
        }
        let location = |canonical: &str| row_location(source, row, source.file_column(canonical));
        if ids.is_null(row) {
            problems.push(Problem::new(location("account_id"), "empty account_id"));
            continue;
        }
        if ts.is_null(row) {
            problems.push(Problem::new(location("ts"), "empty timestamp"));
            continue;
        }
        if channel.is_null(row) {
            problems.push(
                Problem::new(location("channel"), "empty channel")
                    .with_help("use nps, survey, ticket, interview, ..."),
            );
            continue;
        }
        let channel_name = channel.value(row).trim().to_ascii_lowercase();
        let row_score = score.and_then(|s| s.is_valid(row).then(|| s.value(row)));
        if channel_name == "nps"
            && let Some(value) = row_score
            && !(0..=10).contains(&value)
        {
            problems.push(
                Problem::new(
                    location("score"),
                    format!("NPS score must be between 0 and 10, found {value}"),
                )
                .with_help("NPS answers are 0..10; rescale or drop the row"),
            );
            continue;
        }
        let Some(&account_idx) = accounts.index.get(ids.value(row)) else {
            unknown_rows += 1;
            unknown_example.get_or_insert_with(|| ids.value(row).to_string());
            continue;
        };
        feedback.account_idx.push(account_idx);
        feedback
            .user_id
            .push(users.and_then(|u| u.is_valid(row).then(|| u.value(row).to_string())));
        feedback.ts_micros.push(ts.value(row));
        feedback.channel.push(channel_name);
        feedback.score.push(row_score);
        feedback
            .text
            .push(text.and_then(|t| t.is_valid(row).then(|| t.value(row).to_string())));
    }
    require(problems)?;
    warn_unknown(source, unknown_rows, unknown_example, warnings);
    Ok(feedback)
}

/// Account ids as an Arrow array, in account order.
pub fn ids_array(accounts: &Accounts) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(accounts.ids.iter()))
}

/// What to do with events of unknown accounts, given how many there were.
pub fn unknown_events_problem(
    project: &Project,
    source: &Source,
    unknown_events: u64,
    unknown_ids: u64,
    example: Option<&str>,
) -> Option<(bool, Problem)> {
    if unknown_events == 0 {
        return None;
    }
    let problem = Problem::new(
        source.label(),
        format!(
            "{unknown_events} event(s) of {unknown_ids} account id(s) not in the accounts table (e.g. `{}`)",
            example.unwrap_or("?")
        ),
    );
    Some(match project.unknown_accounts {
        UnknownAccounts::Warn => (
            false,
            problem.with_help("they are ignored; set options.unknown_accounts = \"error\" to fail instead"),
        ),
        UnknownAccounts::Error => (
            true,
            problem.with_help("add the accounts, fix the ids, or set options.unknown_accounts = \"warn\" to ignore them"),
        ),
    })
}
