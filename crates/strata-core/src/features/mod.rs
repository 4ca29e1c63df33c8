//! Features: one row per account, computed on DataFusion relative to `as_of`.
//!
//! The default behavioral features are a contract (DATA.md): other tools
//! compare against them, so their names and meanings never change. Every
//! window is a range of UTC days ending on the as-of day inclusive: "the last
//! 28 days" is `day > as_of_day - 28`, i.e. `[t_end - 28 days, t_end)`.
//!
//! The events table is reduced to per-account aggregates in one of two ways
//! that give the same columns: on the embedded engine by one pass over the
//! events keyed by account position ([`scan`]: memory grows with accounts,
//! not events); on a cluster by a DataFusion plan of three aggregates
//! ([`planned`]), which is also the reference the scan is tested against.
//!
//! Custom features from the project file add one more aggregate over the
//! events. Everything is then joined onto the accounts, so every account gets
//! a row: counts default to 0, ratios stay NULL without a denominator.
//!
//! **Invariants**: nothing after `t_end` is ever counted; events of unknown
//! accounts never reach a feature (they are counted and reported).
use crate::catalog::{Measure, Period, default_measures};
pub use crate::catalog::{TREND_DAYS, WINDOWS, event_feature_name, is_reserved};
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{JoinType, ScalarValue};
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::{count, count_distinct, max, sum};
use datafusion::logical_expr::{Cast, Expr, lit, when};
use datafusion::prelude::{DataFrame, SessionContext, ident};

use crate::error::{Error, Problem, Result};
use crate::project::{CustomFeatureKind, EventWindow, Project, TableKind};
use crate::rules::{self, ToDataFusion, ValueType};
use crate::sources::{self, EVENTS_RAW, Sources};

mod cache;
mod scan;

pub use cache::{ScanCache, ScanMode};

/// Where a feature comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureGroup {
    /// A column of the accounts table (firmographics, attributes).
    Account,
    /// Computed from events.
    Behavioral,
    /// Computed from revenue.
    Value,
    /// Declared in the project file.
    Custom,
    /// Learned from the base's history (`churn_risk`, `expansion_likelihood`).
    Learned,
}

/// A feature's name, type and meaning.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeatureDef {
    /// Column name, usable in rules.
    pub name: String,
    /// Rule-language type.
    #[serde(serialize_with = "serialize_type")]
    pub value_type: ValueType,
    /// Where it comes from.
    pub group: FeatureGroup,
    /// What it means.
    pub description: String,
}

fn serialize_type<S: serde::Serializer>(
    value_type: &ValueType,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(type_name(*value_type))
}

/// The rule-language name of a type.
pub fn type_name(value_type: ValueType) -> &'static str {
    match value_type {
        ValueType::Boolean => "boolean",
        ValueType::Integer => "integer",
        ValueType::Float => "float",
        ValueType::Text => "text",
        ValueType::Date => "date",
        ValueType::Timestamp => "timestamp",
    }
}

fn def(
    name: impl Into<String>,
    value_type: ValueType,
    group: FeatureGroup,
    description: impl Into<String>,
) -> FeatureDef {
    FeatureDef {
        name: name.into(),
        value_type,
        group,
        description: description.into(),
    }
}

/// The default behavioral features of DATA.md plus adoption, in output
/// order, as the catalog declares them.
pub fn behavioral_defs(adoption_days: u32) -> Vec<FeatureDef> {
    default_measures(adoption_days)
        .into_iter()
        .map(|measure| {
            def(
                measure.name(),
                measure.value_type(),
                FeatureGroup::Behavioral,
                measure.description(),
            )
        })
        .collect()
}

/// The revenue features.
pub fn value_defs() -> Vec<FeatureDef> {
    use FeatureGroup::Value as V;
    vec![
        def(
            "mrr",
            ValueType::Float,
            V,
            "MRR of the as_of month (0 without a row)",
        ),
        def("arr", ValueType::Float, V, "12 x mrr"),
        def(
            "mrr_12m_ago",
            ValueType::Float,
            V,
            "MRR of the month 12 months before the as_of month (0 without a row)",
        ),
        def(
            "mrr_growth_12m",
            ValueType::Float,
            V,
            "mrr / mrr_12m_ago - 1; NULL when mrr_12m_ago = 0",
        ),
    ]
}

/// The rule-language schema of an Arrow schema (columns whose type rules
/// cannot use are left out).
pub fn rule_schema(schema: &Schema) -> rules::Schema {
    rules::Schema::new(schema.fields().iter().filter_map(|field| {
        arrow_to_value_type(field.data_type()).map(|t| (field.name().clone(), t))
    }))
}

/// The rule-language type of an Arrow type.
pub fn arrow_to_value_type(data_type: &DataType) -> Option<ValueType> {
    use DataType::*;
    Some(match data_type {
        Boolean => ValueType::Boolean,
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => ValueType::Integer,
        Float16 | Float32 | Float64 | Decimal128(_, _) => ValueType::Float,
        Utf8 | LargeUtf8 | Utf8View => ValueType::Text,
        Date32 | Date64 => ValueType::Date,
        Timestamp(_, _) => ValueType::Timestamp,
        _ => return None,
    })
}

/// The columns a custom feature's event filter may use.
pub fn event_rule_schema() -> rules::Schema {
    rules::Schema::new([
        ("event".to_string(), ValueType::Text),
        ("source".to_string(), ValueType::Text),
        ("user_id".to_string(), ValueType::Text),
    ])
}

/// Events whose account is not in the accounts table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UnknownEvents {
    /// Events ignored.
    pub events: u64,
    /// Distinct unknown account ids.
    pub accounts: u64,
    /// One of them.
    pub example: Option<String>,
}

/// The feature table of a run.
#[derive(Debug, Clone)]
pub struct FeatureTable {
    /// One row per account in accounts order: account columns, then features.
    pub batch: RecordBatch,
    /// Every column other than `account_id`, with its meaning.
    pub defs: Vec<FeatureDef>,
    /// Events of accounts not in the accounts table.
    pub unknown: UnknownEvents,
    /// The as-of day (days since 1970-01-01).
    pub as_of_day: i32,
    /// The early adoption the ICP reads, when the run was asked for it and
    /// its engine counts it in the run's scan.
    pub early: Option<EarlyAdoption>,
    /// The events with a per-event count feature, in column order (pass
    /// them to [`compute_with`] for the same columns at another date).
    pub top_events: Vec<String>,
}

/// Early adoption within `days` of signup, counted in the run's events scan
/// beside the features but not part of them: distinct active days, events,
/// and the events of each of the most common event names.
#[derive(Debug, Clone)]
pub struct EarlyAdoption {
    /// The window, in days after signup.
    pub days: u32,
    /// The most common event names (most common first), each with its column.
    pub events: Vec<String>,
    /// One row per account, in the feature table's order.
    pub batch: RecordBatch,
}

/// Event names whose early adoption is counted: the most common ones.
pub const EARLY_EVENTS: usize = 24;

/// The feature name of `event`'s count within `days` of signup:
/// `<event>_first_<days>d`.
pub fn early_event_feature(event: &str, days: u32) -> String {
    let slug = event_feature_name(event);
    let slug = slug
        .strip_prefix("event_")
        .and_then(|rest| rest.strip_suffix(&format!("_{TREND_DAYS}d")))
        .unwrap_or(&slug);
    format!("{slug}_first_{days}d")
}

impl FeatureTable {
    /// The rule-language schema of the table.
    pub fn rule_schema(&self) -> rules::Schema {
        rule_schema(&self.batch.schema())
    }

    /// A numeric or boolean column as floats, NULL (and NaN) as `None`;
    /// `None` when there is no such column or it is not a number.
    pub fn floats(&self, name: &str) -> Option<Vec<Option<f64>>> {
        use datafusion::arrow::array::{Array, AsArray};
        use datafusion::arrow::datatypes::Float64Type;
        let column = self.batch.column_by_name(name)?;
        if !(column.data_type().is_numeric() || *column.data_type() == DataType::Boolean) {
            return None;
        }
        let values = datafusion::arrow::compute::cast(column, &DataType::Float64).ok()?;
        let values = values.as_primitive::<Float64Type>();
        Some(
            (0..values.len())
                .map(|row| {
                    (values.is_valid(row) && values.value(row).is_finite())
                        .then(|| values.value(row))
                })
                .collect(),
        )
    }
}

fn day_lit(day: i32) -> Expr {
    lit(day)
}

fn count_when(condition: Expr) -> Expr {
    sum(when(condition, lit(1i64))
        .otherwise(lit(0i64))
        .unwrap_or(lit(0i64)))
}

fn sum_when(condition: Expr, value: Expr) -> Expr {
    sum(when(condition, value)
        .otherwise(lit(0i64))
        .unwrap_or(lit(0i64)))
}

fn to_float(expr: Expr) -> Expr {
    Expr::Cast(Cast::new(Box::new(expr), DataType::Float64))
}

fn to_text(expr: Expr) -> Expr {
    Expr::Cast(Cast::new(Box::new(expr), DataType::Utf8))
}

/// `numerator / denominator` as a float, NULL when the denominator is 0 or NULL.
fn ratio(numerator: Expr, denominator: Expr) -> Expr {
    when(
        denominator.clone().gt(lit(0i64)),
        to_float(numerator) / to_float(denominator),
    )
    .otherwise(lit(ScalarValue::Float64(None)))
    .unwrap_or(lit(ScalarValue::Float64(None)))
}

fn zero_if_null(expr: Expr) -> Expr {
    coalesce(vec![expr, lit(0i64)])
}

/// The event rows, with the columns features use.
fn typed_events(
    ctx: &SessionContext,
    project: &Project,
) -> Result<impl std::future::Future<Output = Result<DataFrame>>> {
    let source = project
        .source(TableKind::Events)
        .ok_or_else(|| Error::Internal("project without events".into()))?
        .clone();
    let ctx = ctx.clone();
    Ok(async move { typed_from(ctx.table(EVENTS_RAW).await?, &source) })
}

/// The typed events ([`typed_events`]) a scan chained on from a state
/// through day `after` needs: the raw events' rows of earlier days are left
/// out where the files' statistics allow (a Parquet row group whose
/// timestamps all fall before that day is not read: in a log in time order,
/// most of them). A superset, from day `after` itself: the scan still
/// checks each event's day.
async fn typed_after(ctx: &SessionContext, project: &Project, after: i32) -> Result<DataFrame> {
    let source = project
        .source(TableKind::Events)
        .ok_or_else(|| Error::Internal("project without events".into()))?;
    let raw = ctx.table(EVENTS_RAW).await?;
    let ts = source.file_column("ts");
    let start = raw
        .schema()
        .field_with_unqualified_name(ts)
        .ok()
        .and_then(|field| sources::day_start(field.data_type(), after));
    let raw = match start {
        Some(start) => raw.filter(ident(ts).gt_eq(lit(start)))?,
        None => raw,
    };
    typed_from(raw, source)
}

/// The rows of `raw`, read from the events `source`, with the columns
/// features use: account_id, user_id, event, day, source.
fn typed_from(raw: DataFrame, source: &crate::project::Source) -> Result<DataFrame> {
    let schema = raw.schema().clone();
    // String columns are used as they come (often Utf8View from Parquet):
    // casting them would copy every string of every event.
    let text = |canonical: &str| -> Option<Expr> {
        let field = schema
            .field_with_unqualified_name(source.file_column(canonical))
            .ok()?;
        let column = ident(source.file_column(canonical));
        Some(match field.data_type() {
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => column,
            _ => to_text(column),
        })
    };
    let missing = || lit(ScalarValue::Utf8(None));
    let ts_type = schema
        .field_with_unqualified_name(source.file_column("ts"))
        .map(|f| f.data_type().clone())
        .unwrap_or(DataType::Utf8);
    Ok(raw.select(vec![
        text("account_id")
            .unwrap_or_else(missing)
            .alias("account_id"),
        text("user_id").unwrap_or_else(missing).alias("user_id"),
        text("event").unwrap_or_else(missing).alias("event"),
        sources::day_expr(ident(source.file_column("ts")), &ts_type).alias("day"),
        text("source").unwrap_or_else(missing).alias("source"),
    ])?)
}

/// Computes the feature table for `as_of_day`.
pub async fn compute(
    ctx: &SessionContext,
    project: &Project,
    sources: &Sources,
    as_of_day: i32,
) -> Result<FeatureTable> {
    compute_with(ctx, project, sources, as_of_day, None, None).await
}

/// [`compute`], with the most common events given (most common first)
/// instead of counted from the events, and the early adoption within
/// `early_days` of signup counted too where the engine scans the events
/// itself ([`FeatureTable::early`]).
///
/// On the embedded engine the event aggregates come from one pass over the
/// events ([`scan`]); on a cluster from the DataFusion plan of [`planned`].
/// Both give the same columns, which the rest (the final expressions,
/// ratios, accounts order) turns into the feature table.
pub async fn compute_with(
    ctx: &SessionContext,
    project: &Project,
    sources: &Sources,
    as_of_day: i32,
    top_events: Option<Vec<String>>,
    early_days: Option<u32>,
) -> Result<FeatureTable> {
    let aggregator = if crate::distributed::on_cluster(ctx) {
        Aggregator::Plan
    } else {
        Aggregator::Scan
    };
    let (table, _) = compute_by(
        ctx, project, sources, as_of_day, top_events, early_days, aggregator, None,
    )
    .await?;
    Ok(table)
}

/// [`compute_with`] on the embedded engine, starting from the scan `cache`
/// keeps when it can (reading only the event files added since) and keeping
/// this one; says how the events were read.
pub async fn compute_cached(
    ctx: &SessionContext,
    project: &Project,
    sources: &Sources,
    as_of_day: i32,
    early_days: Option<u32>,
    cache: &ScanCache,
) -> Result<(FeatureTable, ScanMode)> {
    let (table, mode) = compute_by(
        ctx,
        project,
        sources,
        as_of_day,
        None,
        early_days,
        Aggregator::Scan,
        Some(cache),
    )
    .await?;
    let mode = mode.ok_or_else(|| Error::Internal("a cached scan without its mode".into()))?;
    Ok((table, mode))
}

/// The feature tables at several as-of days (`days`), as [`compute_with`]
/// gives each (with `top_events` for every date when given), from one pass
/// over the events for a group of dates rather than one per date (each
/// event added to one date's state, the dates' states chained,
/// [`scan::Chain`]): the backtest's past dates and the risk snapshots;
/// with `cache`, each date from its kept scan where it can
/// ([`ScanCache`]). Groups hold as many dates
/// as keep their per-account state within about [`MANY_STATE_BYTES`]; on a
/// cluster, one plan per date.
pub async fn compute_many(
    ctx: &SessionContext,
    project: &Project,
    sources: &Sources,
    days: &[i32],
    top_events: Option<Vec<String>>,
    cache: Option<&ScanCache>,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<Vec<FeatureTable>> {
    let many = ManyDates::new(ctx, project, sources, days, top_events, cache).await?;
    many.collect(progress).await
}

/// [`compute_many`]'s dates one at a time, so that a caller can use and
/// drop each date's table before the next is made (a backtest at a million
/// accounts holds one date's features at a time, not six): the events are
/// read once per group of dates, and the group's dates finished in turn.
pub struct ManyDates<'a> {
    ctx: &'a SessionContext,
    project: &'a Project,
    sources: &'a Sources,
    /// The dates in day order, with their positions in the caller's order.
    sorted: Vec<(i32, usize)>,
    top_events: Option<Vec<String>>,
    cache: Option<&'a ScanCache>,
    /// Dates per pass over the events.
    group: usize,
    typed: DataFrame,
    customs: Vec<CustomAggregate>,
    custom_defs: Vec<FeatureDef>,
    /// The last date's state of the previous group, which the next chains on from.
    chained: Option<scan::Carry>,
    /// The first date of the next group, in `sorted`.
    next: usize,
    /// The group read and not finished yet.
    pending: Pending,
    /// Early adoption within this many days of signup, counted for every
    /// date's scan (their states chain) and given with one day's table
    /// ([`ManyDates::counting_early`]).
    early: Option<(u32, i32)>,
}

/// A group of dates [`ManyDates`] has read.
enum Pending {
    Nothing,
    /// One pass over the events, its dates' states made in turn; the
    /// caller's positions of the group's dates, in the order of its knowns.
    Chain(scan::Chain, Vec<usize>),
    /// Dates from kept scans: position, partial, what the scan knew.
    Ready(std::collections::VecDeque<(usize, scan::Partial, Arc<scan::Known>)>),
}

impl<'a> ManyDates<'a> {
    /// The dates `days` (any order), grouped as [`compute_many`] groups them.
    pub async fn new(
        ctx: &'a SessionContext,
        project: &'a Project,
        sources: &'a Sources,
        days: &[i32],
        top_events: Option<Vec<String>>,
        cache: Option<&'a ScanCache>,
    ) -> Result<ManyDates<'a>> {
        let group = dates_per_pass(sources.accounts.ids.len());
        let typed = typed_events(ctx, project)?.await?;
        let (customs, custom_defs) = custom_aggregates(project)?;
        let mut sorted: Vec<(i32, usize)> = days.iter().copied().zip(0..).collect();
        sorted.sort_by_key(|&(day, _)| day);
        Ok(ManyDates {
            ctx,
            project,
            sources,
            sorted,
            top_events,
            cache,
            group,
            typed,
            customs,
            custom_defs,
            chained: None,
            next: 0,
            pending: Pending::Nothing,
            early: None,
        })
    }

    /// Also counts the early adoption within `days` of signup, as
    /// [`compute_with`] does, and gives it with the table of `day` (a run's
    /// own date at the end of its backtest's dates). The other dates'
    /// tables are the same as without it.
    pub fn counting_early(mut self, days: u32, day: i32) -> Self {
        self.early = Some((days, day));
        self
    }

    /// The dates in one pass over the events.
    #[cfg(test)]
    fn per_pass(mut self, group: usize) -> Self {
        self.group = group.max(1);
        self
    }

    /// Every date's table, in the order the days were given.
    pub async fn collect(
        mut self,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<Vec<FeatureTable>> {
        let mut out: Vec<Option<FeatureTable>> = (0..self.sorted.len()).map(|_| None).collect();
        let mut done = 0;
        while let Some((position, table)) = self.next_date().await? {
            out[position] = Some(table);
            done += 1;
            progress(done, out.len());
        }
        out.into_iter()
            .map(|table| {
                table.ok_or_else(|| Error::Internal("a date's features not computed".into()))
            })
            .collect()
    }

    /// The next date's table (in day order) with its position among the
    /// days given; `None` after the last.
    pub async fn next_date(&mut self) -> Result<Option<(usize, FeatureTable)>> {
        loop {
            let found = match &mut self.pending {
                Pending::Chain(chain, positions) => match chain.next()? {
                    Some((at, carry, known)) => Some((positions[at], carry.at(&known)?, known)),
                    None => None,
                },
                Pending::Ready(ready) => ready.pop_front(),
                Pending::Nothing => None,
            };
            if let Some((position, partial, known)) = found {
                let table = self.table(&partial, &known).await?;
                return Ok(Some((position, table)));
            }
            // The group is done; its last state starts the next group.
            if let Pending::Chain(chain, _) = std::mem::replace(&mut self.pending, Pending::Nothing)
            {
                self.chained = chain.into_last();
            }
            if self.next >= self.sorted.len() {
                return Ok(None);
            }
            let (ctx, project, sources) = (self.ctx, self.project, self.sources);
            if crate::distributed::on_cluster(ctx) {
                // One plan per date.
                let (day, position) = self.sorted[self.next];
                self.next += 1;
                let table =
                    compute_with(ctx, project, sources, day, self.top_events.clone(), None).await?;
                return Ok(Some((position, table)));
            }
            self.pending = self.read_group().await?;
        }
    }

    /// Reads the events for the next group of dates.
    async fn read_group(&mut self) -> Result<Pending> {
        let (ctx, project, sources) = (self.ctx, self.project, self.sources);
        let end = (self.next + self.group).min(self.sorted.len());
        let chunk = self.sorted[self.next..end].to_vec();
        self.next = end;
        let mut knowns = Vec::with_capacity(chunk.len());
        let mut columns = Vec::new();
        for &(day, _) in &chunk {
            let (projection, known) = scan_setup(&self.inputs(day, true)?)?;
            columns = projection;
            knowns.push(Arc::new(known.keeping(&sources.accounts.ids)));
        }
        let positions: Vec<usize> = chunk.iter().map(|&(_, position)| position).collect();
        // A group chained on from the last one reads only the later events.
        let typed = match &self.chained {
            Some(start) => typed_after(ctx, project, start.through).await?,
            None => self.typed.clone(),
        };
        Ok(match self.cache {
            Some(cache) => {
                let settings = scan_settings(project, &self.customs, &knowns[0])?;
                let kept = Kept {
                    ctx,
                    project,
                    sources,
                    settings: &settings,
                    columns: &columns,
                };
                let (found, last) = kept
                    .scan(typed, knowns.clone(), cache, self.chained.take())
                    .await?;
                // The state is held for the next group only where a later
                // date has no kept scan to start from (a daily run holds
                // one kept scan at a time).
                let later_full = self.sorted[self.next..].iter().any(|&(day, _)| {
                    matches!(
                        cache.plan(&settings, &sources.event_files, day),
                        cache::Plan::Full(_)
                    )
                });
                self.chained = last.filter(|_| later_full);
                Pending::Ready(
                    found
                        .into_iter()
                        .zip(knowns)
                        .zip(positions)
                        .map(|(((partial, _), known), position)| (position, partial, known))
                        .collect(),
                )
            }
            // One pass, each event added once; the dates chain on from the
            // previous group's last, which is advanced to the next group's
            // first day alone (nothing keeps it).
            None => {
                let then = self.sorted.get(self.next).map_or(i32::MAX, |&(day, _)| day);
                let chain = scan::Chain::scan(
                    typed.select(columns)?,
                    &knowns,
                    self.chained.take(),
                    Some(then),
                )
                .await?;
                Pending::Chain(chain, positions)
            }
        })
    }

    /// What a date's features are computed from: for its scan (`scan`,
    /// every date alike), or for its table.
    fn inputs(&self, day: i32, scan: bool) -> Result<Inputs<'_>> {
        let early_days = self
            .early
            .filter(|&(_, at)| scan || at == day)
            .map(|(days, _)| days);
        Ok(Inputs {
            ctx: self.ctx,
            project: self.project,
            sources: self.sources,
            typed: self.typed.clone(),
            base_batch: base_batch(self.sources, self.project, day)?,
            as_of_day: day,
            top_events: self.top_events.clone(),
            early_days,
            customs: &self.customs,
        })
    }

    /// A date's table from what the scan saw.
    async fn table(&self, partial: &scan::Partial, known: &scan::Known) -> Result<FeatureTable> {
        let day = known.as_of_day();
        let one = self.inputs(day, false)?;
        let base_columns = column_names(&one.base_batch);
        let aggregates = aggregates_of(one, partial, known)?;
        finish(
            self.project,
            self.sources,
            day,
            aggregates,
            self.custom_defs.clone(),
            &base_columns,
        )
        .await
    }
}

/// The names of a batch's columns.
fn column_names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// About how much per-account scan state [`compute_many`] keeps at once
/// ([`STATE_BYTES_PER_DATE`] per account and date).
const MANY_STATE_BYTES: usize = 2 << 30;

/// How many dates [`compute_many`] (and [`ManyDates`]) computes from one
/// pass over the events, for `accounts` accounts: as many as keep their
/// state within about [`MANY_STATE_BYTES`], at least one.
pub fn dates_per_pass(accounts: usize) -> usize {
    (MANY_STATE_BYTES / (accounts.max(1) * STATE_BYTES_PER_DATE)).max(1)
}

/// About how much a date adds per account while [`compute_many`] holds a
/// group of dates: its partial of the events since the date before (the
/// dates' carries are made one at a time, [`scan::Chain`]). Measured (the
/// backtest of `bench/incremental.sh 10000000 100000`: 100,000 accounts,
/// five dates a pass): about 1.2 KiB per account and date over the run's
/// peak before it; so 100,000 accounts take the backtest's six dates in
/// one pass, a million one date per pass (each chained on from the last).
const STATE_BYTES_PER_DATE: usize = 1536;

/// How the event aggregates are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregator {
    /// [`scanned`]: one pass, in this process.
    Scan,
    /// [`planned`]: DataFusion plans, which a cluster can run.
    Plan,
}

async fn compute_by(
    ctx: &SessionContext,
    project: &Project,
    sources: &Sources,
    as_of_day: i32,
    top_events: Option<Vec<String>>,
    early_days: Option<u32>,
    aggregator: Aggregator,
    cache: Option<&ScanCache>,
) -> Result<(FeatureTable, Option<ScanMode>)> {
    let d = as_of_day;
    let typed = typed_events(ctx, project)?.await?;
    let base_batch = base_batch(sources, project, d)?;
    let base_columns = column_names(&base_batch);
    let (customs, custom_defs) = custom_aggregates(project)?;
    let (
        Aggregates {
            frame: joined,
            per_event,
            unknown,
            early,
        },
        mode,
    ) = {
        let inputs = Inputs {
            ctx,
            project,
            sources,
            typed,
            base_batch,
            as_of_day: d,
            top_events,
            early_days,
            customs: &customs,
        };
        match aggregator {
            Aggregator::Plan => (planned(inputs).await?, None),
            Aggregator::Scan => scanned(inputs, cache).await?,
        }
    };

    let table = finish(
        project,
        sources,
        d,
        Aggregates {
            frame: joined,
            per_event,
            unknown,
            early,
        },
        custom_defs,
        &base_columns,
    )
    .await?;
    Ok((table, mode))
}

/// The feature table of `as_of_day` from its event aggregates: the default
/// features finished from the intermediates, the per-event and custom
/// features, the ratios, in accounts order.
async fn finish(
    project: &Project,
    sources: &Sources,
    as_of_day: i32,
    aggregates: Aggregates,
    custom_defs: Vec<FeatureDef>,
    base_columns: &[String],
) -> Result<FeatureTable> {
    let d = as_of_day;
    let Aggregates {
        frame: joined,
        per_event,
        unknown,
        early,
    } = aggregates;
    let mut select: Vec<Expr> = base_columns
        .iter()
        .filter(|name| name.as_str() != "account_idx")
        .map(ident)
        .collect();
    let mut defs = account_defs(sources, project);
    let behavioral = behavioral_defs(project.adoption_days);
    for measure in default_measures(project.adoption_days) {
        let expr = match measure {
            Measure::ApiShare(Period::All) => ratio(ident("api_total"), ident("events_total")),
            Measure::ApiShare(Period::Last(days)) => ratio(
                ident(format!("api_{days}d")),
                ident(format!("events_{days}d")),
            ),
            Measure::Trend(days) => ratio(
                ident(format!("events_{days}d")),
                ident(format!("events_prev_{days}d")),
            ),
            Measure::DaysSinceLastEvent => Expr::Cast(Cast::new(
                Box::new(day_lit(d) - ident("last_day")),
                DataType::Int64,
            )),
            Measure::Events(_)
            | Measure::ActiveDays(_)
            | Measure::Users(_)
            | Measure::DistinctEvents(_)
            | Measure::AdoptionActiveDays(_)
            | Measure::AdoptionEvents(_) => zero_if_null(ident(measure.name())),
        };
        select.push(expr.alias(measure.name()));
    }
    defs.extend(behavioral);
    let top_events: Vec<String> = per_event.iter().map(|(event, _)| event.clone()).collect();
    let per_event_defs: Vec<FeatureDef> = per_event.into_iter().map(|(_, f)| f).collect();
    for feature in &per_event_defs {
        select.push(zero_if_null(ident(&feature.name)).alias(feature.name.clone()));
    }
    defs.extend(per_event_defs);
    for feature in &custom_defs {
        select.push(zero_if_null(ident(&feature.name)).alias(feature.name.clone()));
    }
    defs.extend(custom_defs);
    select.push(ident("account_idx"));
    let mut frame = joined.select(select)?;

    // Ratio features reference other features, so they come last.
    let mut ratio_defs = Vec::new();
    for custom in &project.custom_features {
        if let CustomFeatureKind::Ratio {
            numerator,
            denominator,
        } = &custom.kind
        {
            let mut problems = Vec::new();
            for operand in [numerator, denominator] {
                if !defs.iter().any(|f| {
                    &f.name == operand
                        && matches!(f.value_type, ValueType::Integer | ValueType::Float)
                }) {
                    problems.push(
                        Problem::new(
                            format!("strata.toml: features.{}", custom.name),
                            format!("`{operand}` is not a numeric feature"),
                        )
                        .with_help("a ratio divides two numeric features; see `strata features`"),
                    );
                }
            }
            if !problems.is_empty() {
                return Err(Error::Invalid(problems));
            }
            let mut columns: Vec<Expr> = frame
                .schema()
                .fields()
                .iter()
                .map(|f| ident(f.name()))
                .collect();
            columns.push(ratio(ident(numerator), ident(denominator)).alias(custom.name.clone()));
            frame = frame.select(columns)?;
            ratio_defs.push(def(
                custom.name.clone(),
                ValueType::Float,
                FeatureGroup::Custom,
                custom.description.clone().unwrap_or_else(|| {
                    format!("{numerator} / {denominator}; NULL when the denominator is 0")
                }),
            ));
        }
    }
    defs.extend(ratio_defs);

    let frame = frame.sort(vec![ident("account_idx").sort(true, false)])?;
    let output_columns: Vec<Expr> = frame
        .schema()
        .fields()
        .iter()
        .filter(|f| f.name() != "account_idx")
        .map(|f| ident(f.name()))
        .collect();
    let frame = frame.select(output_columns)?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await?;
    let batch = concat_batches(&schema, &batches)?;
    if batch.num_rows() != sources.accounts.ids.len() {
        return Err(Error::Internal(format!(
            "feature table has {} rows for {} accounts",
            batch.num_rows(),
            sources.accounts.ids.len()
        )));
    }
    Ok(FeatureTable {
        batch,
        defs,
        unknown,
        as_of_day,
        early,
        top_events,
    })
}

/// The event aggregates joined onto the accounts' base columns.
struct Aggregates {
    /// Base columns (with `account_idx`) and the aggregate columns: events_*,
    /// active_days_*, users_*, distinct_events*, per-event counts, adoption,
    /// and the intermediates events_prev_28d, api_total, api_28d, last_day.
    frame: DataFrame,
    /// The per-event count features, in column order, with their events.
    per_event: Vec<(String, FeatureDef)>,
    /// Events of unknown accounts.
    unknown: UnknownEvents,
    /// Early adoption, when asked for and counted.
    early: Option<EarlyAdoption>,
}

/// What both ways of computing the aggregates start from.
struct Inputs<'a> {
    ctx: &'a SessionContext,
    project: &'a Project,
    sources: &'a Sources,
    /// The typed events (account_id, user_id, event, day, source), unfiltered.
    typed: DataFrame,
    /// [`base_batch`]: account columns, revenue features, `account_idx`.
    base_batch: RecordBatch,
    as_of_day: i32,
    /// The most common event names when known, else counted from the events.
    top_events: Option<Vec<String>>,
    /// Count early adoption within this many days of signup (the scan only).
    early_days: Option<u32>,
    customs: &'a [CustomAggregate],
}

/// The per-event count features of `top_events`: (event name, feature),
/// the first event of a feature name winning.
fn per_event_features(top_events: &[String]) -> Vec<(String, FeatureDef)> {
    let mut features: Vec<(String, FeatureDef)> = Vec::new();
    for event in top_events {
        let name = event_feature_name(event);
        if features.iter().any(|(_, f)| f.name == name) {
            continue;
        }
        features.push((
            event.clone(),
            def(
                name,
                ValueType::Integer,
                FeatureGroup::Behavioral,
                format!("`{event}` events in the last {TREND_DAYS} days"),
            ),
        ));
    }
    features
}

/// The aggregates from one pass over the events (the embedded engine),
/// from the scan `cache` keeps when given (and how the events were read).
async fn scanned(
    inputs: Inputs<'_>,
    cache: Option<&ScanCache>,
) -> Result<(Aggregates, Option<ScanMode>)> {
    let (columns, known) = scan_setup(&inputs)?;
    let Some(cache) = cache else {
        let known = Arc::new(known);
        let partial = scan::scan(inputs.typed.clone().select(columns)?, Arc::clone(&known)).await?;
        return Ok((aggregates_of(inputs, &partial, &known)?, None));
    };
    let known = Arc::new(known.keeping(&inputs.sources.accounts.ids));
    let settings = scan_settings(inputs.project, inputs.customs, &known)?;
    let kept = Kept {
        ctx: inputs.ctx,
        project: inputs.project,
        sources: inputs.sources,
        settings: &settings,
        columns: &columns,
    };
    let (mut found, _) = kept
        .scan(inputs.typed.clone(), vec![Arc::clone(&known)], cache, None)
        .await?;
    let (partial, mode) = found
        .pop()
        .ok_or_else(|| Error::Internal("feature scan: no partial".into()))?;
    Ok((aggregates_of(inputs, &partial, &known)?, Some(mode)))
}

/// What a kept scan depends on besides the events and the accounts: the
/// events source (its columns), the scan's windows and the custom
/// features' definitions.
fn scan_settings(
    project: &Project,
    customs: &[CustomAggregate],
    known: &scan::Known,
) -> Result<String> {
    let source = project
        .source(TableKind::Events)
        .ok_or_else(|| Error::Internal("project without events".into()))?;
    let filters: Vec<String> = customs
        .iter()
        .map(|c| format!("{} {} {:?} {:?}", c.name, c.filter, c.window, c.distinct))
        .collect();
    Ok(format!(
        "{} | {:?} | {:?}",
        known.settings(),
        filters,
        source.columns
    ))
}

/// A scan kept between runs ([`ScanCache`]): what it needs of the run.
struct Kept<'a> {
    ctx: &'a SessionContext,
    project: &'a Project,
    sources: &'a Sources,
    settings: &'a str,
    /// The scan's projection of the typed events ([`scan_setup`]).
    columns: &'a [Expr],
}

impl Kept<'_> {
    /// The partials at `knowns`' days (kept scans, [`scan::Known::keeping`],
    /// in day order): each from its kept scan advanced by the event files
    /// added since, or from the events of `typed` (one pass for all such
    /// days, chained on from `start` when given: the state through an
    /// earlier day, `typed` then holding the events after it); each kept
    /// for the next run. With the state at the last day, which the next
    /// group of dates can start from.
    async fn scan(
        &self,
        typed: DataFrame,
        knowns: Vec<Arc<scan::Known>>,
        cache: &ScanCache,
        start: Option<scan::Carry>,
    ) -> Result<(Vec<(scan::Partial, ScanMode)>, Option<scan::Carry>)> {
        let last = knowns.len().saturating_sub(1);
        let mut last_carry = None;
        let files = &self.sources.event_files;
        let accounts = &self.sources.accounts;
        // Per date: the kept scan and the files to add to it, or why not.
        let mut plans: Vec<std::result::Result<(PathBuf, i32, Vec<PathBuf>), String>> = knowns
            .iter()
            .map(
                |known| match cache.plan(self.settings, files, known.as_of_day()) {
                    cache::Plan::Full(reason) => Err(reason),
                    cache::Plan::Kept {
                        body,
                        through,
                        new_files,
                    } => Ok((body, through, new_files)),
                },
            )
            .collect();
        let mut out: Vec<Option<(scan::Partial, ScanMode)>> =
            (0..knowns.len()).map(|_| None).collect();
        // Keeps a date's carry for the next run and finishes it.
        let finish = |carry: &scan::Carry, known: &scan::Known, mode: ScanMode| {
            if let Err(error) = cache.save(self.settings, files, self.sources.events, carry) {
                tracing::warn!(%error, "the features scan could not be kept for the next run");
            }
            Ok::<_, Error>(Some((carry.at(known)?, mode)))
        };
        // The dates that start from a kept scan, grouped by the files they
        // read: usually one group, the files that landed since the last run.
        let mut groups: Vec<(Vec<PathBuf>, Vec<usize>)> = Vec::new();
        for (i, plan) in plans.iter().enumerate() {
            if let Ok((_, _, new_files)) = plan {
                match groups.iter_mut().find(|(f, _)| f == new_files) {
                    Some((_, members)) => members.push(i),
                    None => groups.push((new_files.clone(), vec![i])),
                }
            }
        }
        let source = self
            .project
            .source(TableKind::Events)
            .ok_or_else(|| Error::Internal("project without events".into()))?;
        for (new_files, members) in groups {
            let group: Vec<Arc<scan::Known>> = members.iter().map(|&i| knowns[i].clone()).collect();
            let found = if new_files.is_empty() {
                group.iter().map(|k| scan::Partial::empty(k)).collect()
            } else {
                let raw = sources::open_files(self.ctx, source, Some(&new_files)).await?;
                let frame = typed_from(raw, source)?.select(self.columns.to_vec())?;
                scan::scan_many(frame, group).await?
            };
            // One kept scan in memory at a time: read, advanced, kept and
            // finished before the next is read.
            for (&i, partial) in members.iter().zip(found) {
                let Ok((body, through, _)) = &plans[i] else {
                    continue;
                };
                let kept = cache
                    .load(body)
                    .and_then(|carry| carry.remap(&accounts.ids, &accounts.created_day));
                let kept = match kept {
                    Ok(kept) => kept,
                    Err(reason) => {
                        plans[i] = Err(reason);
                        continue;
                    }
                };
                let mode = ScanMode::Incremental {
                    from_day: *through,
                    files: new_files.len(),
                    events: partial.events_read(),
                };
                let newer = scan::Carry::of(partial, &knowns[i])?;
                let carry = kept.advance(newer, &knowns[i])?;
                out[i] = finish(&carry, &knowns[i], mode)?;
                if i == last {
                    last_carry = Some(carry);
                }
            }
        }
        let full: Vec<usize> = (0..knowns.len()).filter(|&i| out[i].is_none()).collect();
        if !full.is_empty() {
            let group: Vec<Arc<scan::Known>> = full.iter().map(|&i| knowns[i].clone()).collect();
            let mut chain =
                scan::Chain::scan(typed.select(self.columns.to_vec())?, &group, start, None)
                    .await?;
            while let Some((at, carry, _)) = chain.next()? {
                let i = full[at];
                let reason = match &plans[i] {
                    Err(reason) => reason.clone(),
                    Ok(_) => String::new(),
                };
                out[i] = finish(carry, &knowns[i], ScanMode::Full { reason })?;
            }
            if full.last() == Some(&last) {
                last_carry = chain.into_last();
            }
        }
        let out = out
            .into_iter()
            .map(|found| {
                found.ok_or_else(|| Error::Internal("feature scan: a date not scanned".into()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((out, last_carry))
    }
}

/// The scan's projection of the typed events (the five event columns, then
/// one boolean per custom filter, computed vectorized) and what it knows.
fn scan_setup(inputs: &Inputs<'_>) -> Result<(Vec<Expr>, scan::Known)> {
    let (project, accounts) = (inputs.project, &inputs.sources.accounts);
    let mut columns: Vec<Expr> = ["account_id", "user_id", "event", "day", "source"]
        .iter()
        .map(|name| ident(*name))
        .collect();
    let mut scan_customs = Vec::new();
    for (i, custom) in inputs.customs.iter().enumerate() {
        columns.push(custom.filter.clone().alias(format!("custom_{i}")));
        scan_customs.push(scan::Custom::new(
            custom.window,
            custom.distinct.as_deref(),
        )?);
    }
    let known = scan::Known::new(
        &accounts.ids,
        &accounts.created_day,
        inputs.as_of_day,
        project.adoption_days,
        inputs.early_days,
        scan_customs,
    )?;
    Ok((columns, known))
}

/// The aggregates of [`Inputs`]'s date from what the scan saw.
fn aggregates_of(
    inputs: Inputs<'_>,
    partial: &scan::Partial,
    known: &scan::Known,
) -> Result<Aggregates> {
    let project = inputs.project;
    let top_events = inputs
        .top_events
        .unwrap_or_else(|| partial.most_common_events(project.top_events));
    let per_event = per_event_features(&top_events);
    let names: Vec<(String, String)> = per_event
        .iter()
        .map(|(event, feature)| (event.clone(), feature.name.clone()))
        .collect();
    let base_batch = inputs.base_batch;
    let mut fields: Vec<Field> = base_batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns = base_batch.columns().to_vec();
    let customs: Vec<String> = inputs.customs.iter().map(|c| c.name.clone()).collect();
    for (field, column) in partial.columns(known, project.adoption_days, &names, &customs)? {
        fields.push(field);
        columns.push(column);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    let early = match inputs.early_days {
        Some(days) => {
            let events = partial.most_common_events(EARLY_EVENTS);
            let names: Vec<String> = events
                .iter()
                .map(|event| early_event_feature(event, days))
                .collect();
            let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = partial
                .early_columns(known, &events, &names)
                .into_iter()
                .unzip();
            Some(EarlyAdoption {
                days,
                events,
                batch: RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?,
            })
        }
        None => None,
    };
    Ok(Aggregates {
        frame: inputs.ctx.read_batch(batch)?,
        per_event,
        unknown: partial.unknown(),
        early,
    })
}

/// The aggregates as a DataFusion plan (a cluster runs it; the reference
/// for [`scan`]):
///
/// ```text
///  events ─┬─► (account, day)   : n, n_api   ─► events_*, active_days_*, api_*, trend, recency, adoption
///          ├─► (account, user)  : last day   ─► users_*      (a user is active in a window iff
///          │                                                  their last day falls in it)
///          └─► (account, event) : last day   ─► distinct_events_*, event_<name>_28d
/// ```
async fn planned(inputs: Inputs<'_>) -> Result<Aggregates> {
    let Inputs {
        ctx,
        project,
        sources,
        typed,
        base_batch,
        as_of_day,
        top_events,
        // The plan counts no early adoption; the ICP then prepares its own.
        early_days: _,
        customs,
    } = inputs;
    let d = as_of_day;
    let events = typed.filter(ident("day").lt_eq(day_lit(d)))?;
    let signup = crate::distributed::small_table(ctx, signup_batch(sources)?).await?;
    let trend = TREND_DAYS;
    let is_api = when(
        ident("source").in_list(vec![lit("api"), lit("integration")], false),
        lit(1i64),
    )
    .otherwise(lit(0i64))?;

    // (account, day): counts per day, the base of most features.
    let by_day = events
        .clone()
        .aggregate(
            vec![ident("account_id"), ident("day")],
            vec![count(lit(1i64)).alias("n"), sum(is_api).alias("n_api")],
        )?
        .cache()
        .await?;
    let mut day_aggregates = Vec::new();
    for days in WINDOWS {
        day_aggregates.push(
            sum_when(ident("day").gt(day_lit(d - days)), ident("n"))
                .alias(format!("events_{days}d")),
        );
    }
    for days in WINDOWS {
        day_aggregates.push(
            count_when(ident("day").gt(day_lit(d - days))).alias(format!("active_days_{days}d")),
        );
    }
    day_aggregates.push(
        sum_when(
            ident("day")
                .gt(day_lit(d - 2 * trend))
                .and(ident("day").lt_eq(day_lit(d - trend))),
            ident("n"),
        )
        .alias("events_prev_28d"),
    );
    day_aggregates.push(sum(ident("n")).alias("events_total"));
    day_aggregates.push(sum(ident("n_api")).alias("api_total"));
    day_aggregates
        .push(sum_when(ident("day").gt(day_lit(d - trend)), ident("n_api")).alias("api_28d"));
    day_aggregates.push(max(ident("day")).alias("last_day"));
    let day_features = by_day
        .clone()
        .aggregate(
            vec![to_text(ident("account_id")).alias("k_day")],
            day_aggregates,
        )?
        .cache()
        .await?;

    // (account, user): a user counts in a window iff their last active day is in it.
    let by_user = events
        .clone()
        .filter(ident("user_id").is_not_null())?
        .aggregate(
            vec![ident("account_id"), ident("user_id")],
            vec![max(ident("day")).alias("last_day")],
        )?;
    let user_aggregates = WINDOWS
        .iter()
        .map(|days| {
            count_when(ident("last_day").gt(day_lit(d - days))).alias(format!("users_{days}d"))
        })
        .collect();
    let user_features = by_user.aggregate(
        vec![to_text(ident("account_id")).alias("k_user")],
        user_aggregates,
    )?;

    // (account, event): the same trick for distinct event names, plus 28-day counts.
    let by_event = events
        .clone()
        .aggregate(
            vec![ident("account_id"), ident("event")],
            vec![
                max(ident("day")).alias("last_day"),
                count(lit(1i64)).alias("n_total"),
                count_when(ident("day").gt(day_lit(d - trend))).alias("n_28d"),
            ],
        )?
        .cache()
        .await?;
    let top_events = match top_events {
        Some(names) => names,
        None => most_common_events(&by_event, project.top_events).await?,
    };
    let mut event_aggregates = vec![count(lit(1i64)).alias("distinct_events")];
    for days in WINDOWS {
        event_aggregates.push(
            count_when(ident("last_day").gt(day_lit(d - days)))
                .alias(format!("distinct_events_{days}d")),
        );
    }
    let per_event = per_event_features(&top_events);
    for (event, feature) in &per_event {
        event_aggregates.push(
            sum_when(ident("event").eq(lit(event.as_str())), ident("n_28d"))
                .alias(feature.name.clone()),
        );
    }
    let event_features = by_event.aggregate(
        vec![to_text(ident("account_id")).alias("k_event")],
        event_aggregates,
    )?;

    // Adoption: activity in the first N days after signup.
    let adoption_days = project.adoption_days as i32;
    let adoption = by_day
        .join(
            signup.clone(),
            JoinType::Inner,
            &["account_id"],
            &["s_account_id"],
            None,
        )?
        .filter(
            ident("day")
                .gt_eq(ident("created_day"))
                .and(ident("day").lt(ident("created_day") + lit(adoption_days))),
        )?
        .aggregate(
            vec![to_text(ident("account_id")).alias("k_adopt")],
            vec![
                count(lit(1i64)).alias(Measure::AdoptionActiveDays(adoption_days).name()),
                sum(ident("n")).alias(Measure::AdoptionEvents(adoption_days).name()),
            ],
        )?;

    let mut frame = crate::distributed::small_table(ctx, base_batch)
        .await?
        .join(
            day_features.clone(),
            JoinType::Left,
            &["account_id"],
            &["k_day"],
            None,
        )?
        .join(
            user_features,
            JoinType::Left,
            &["account_id"],
            &["k_user"],
            None,
        )?
        .join(
            event_features,
            JoinType::Left,
            &["account_id"],
            &["k_event"],
            None,
        )?
        .join(
            adoption,
            JoinType::Left,
            &["account_id"],
            &["k_adopt"],
            None,
        )?;
    if let Some(custom) = custom_frame(customs, &events, &signup, d)? {
        frame = frame.join(custom, JoinType::Left, &["account_id"], &["k_custom"], None)?;
    }
    let unknown = unknown_events(&day_features, &signup).await?;
    Ok(Aggregates {
        frame,
        per_event,
        unknown,
        early: None,
    })
}

/// The `limit` most common event names, most common first (ties by name).
async fn most_common_events(by_event: &DataFrame, limit: usize) -> Result<Vec<String>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let batches = by_event
        .clone()
        .aggregate(vec![ident("event")], vec![sum(ident("n_total")).alias("n")])?
        .sort(vec![
            ident("n").sort(false, true),
            ident("event").sort(true, true),
        ])?
        .limit(0, Some(limit))?
        .collect()
        .await?;
    let mut names = Vec::new();
    for batch in batches {
        let column = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
        names.extend(
            column
                .as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_string),
        );
    }
    Ok(names)
}

/// `(s_account_id, created_day)` of every account.
fn signup_batch(sources: &Sources) -> Result<RecordBatch> {
    let schema = Schema::new(vec![
        Field::new("s_account_id", DataType::Utf8, false),
        Field::new("created_day", DataType::Int32, false),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            sources::ids_array(&sources.accounts),
            Arc::new(datafusion::arrow::array::Int32Array::from(
                sources.accounts.created_day.clone(),
            )),
        ],
    )?)
}

/// Account columns, `days_since_signup`, the revenue features and `account_idx`.
fn base_batch(sources: &Sources, project: &Project, as_of_day: i32) -> Result<RecordBatch> {
    let accounts = &sources.accounts;
    let mut fields: Vec<Field> = accounts
        .batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns: Vec<ArrayRef> = accounts.batch.columns().to_vec();
    let days_since_signup: Int64Array = accounts
        .created_day
        .iter()
        .map(|created| i64::from(as_of_day) - i64::from(*created))
        .collect();
    fields.push(Field::new("days_since_signup", DataType::Int64, true));
    columns.push(Arc::new(days_since_signup));
    if let Some(revenue) = &sources.revenue {
        let now_month = revenue.measured_month(sources::month_of_day(as_of_day));
        let (now, ago) = revenue_at(revenue, accounts.ids.len(), now_month);
        let growth: Float64Array = now
            .iter()
            .zip(&ago)
            .map(|(now, ago)| (*ago > 0.0).then(|| now / ago - 1.0))
            .collect();
        fields.push(Field::new("mrr", DataType::Float64, true));
        columns.push(Arc::new(Float64Array::from(now.clone())));
        fields.push(Field::new("arr", DataType::Float64, true));
        columns.push(Arc::new(Float64Array::from_iter_values(
            now.iter().map(|m| m * 12.0),
        )));
        fields.push(Field::new("mrr_12m_ago", DataType::Float64, true));
        columns.push(Arc::new(Float64Array::from(ago)));
        fields.push(Field::new("mrr_growth_12m", DataType::Float64, true));
        columns.push(Arc::new(growth));
    }
    let _ = project;
    fields.push(Field::new("account_idx", DataType::Int64, false));
    columns.push(Arc::new(Int64Array::from_iter_values(
        0..accounts.ids.len() as i64,
    )));
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// MRR per account in the month `now_month` and 12 months before (0 without a row).
pub fn revenue_at(
    revenue: &sources::Revenue,
    n_accounts: usize,
    now_month: i32,
) -> (Vec<f64>, Vec<f64>) {
    let mut now = vec![0.0; n_accounts];
    let mut ago = vec![0.0; n_accounts];
    for ((account_idx, month), mrr) in revenue
        .account_idx
        .iter()
        .zip(&revenue.month)
        .zip(&revenue.mrr)
    {
        if *month == now_month {
            now[*account_idx] = *mrr;
        } else if *month == now_month - 12 {
            ago[*account_idx] = *mrr;
        }
    }
    (now, ago)
}

/// Definitions of the account columns.
fn account_defs(sources: &Sources, project: &Project) -> Vec<FeatureDef> {
    let mut defs = Vec::new();
    for field in sources.accounts.batch.schema().fields() {
        if field.name() == "account_id" {
            continue;
        }
        let Some(value_type) = arrow_to_value_type(field.data_type()) else {
            continue;
        };
        let description = match field.name().as_str() {
            "created_at" => "signup date (UTC)".to_string(),
            "employees" => "company size (firmographic)".to_string(),
            "industry" => "industry (firmographic)".to_string(),
            "country" => "ISO-3166 alpha-2 country (firmographic)".to_string(),
            "plan" => "plan".to_string(),
            "owner" => "the account's CSM".to_string(),
            "name" => "account name".to_string(),
            _ => "attribute from the accounts table".to_string(),
        };
        defs.push(def(
            field.name().clone(),
            value_type,
            FeatureGroup::Account,
            description,
        ));
    }
    defs.push(def(
        "days_since_signup",
        ValueType::Integer,
        FeatureGroup::Account,
        "as_of minus the UTC date of created_at",
    ));
    if project.source(TableKind::Revenue).is_some() {
        defs.extend(value_defs());
    }
    defs
}

/// The condition of an event window.
fn window_condition(window: EventWindow, as_of_day: i32) -> Expr {
    match window {
        EventWindow::AllHistory => lit(true),
        EventWindow::LastDays(days) => ident("day").gt(day_lit(as_of_day - days as i32)),
        EventWindow::DaysAfterSignup(days) => ident("day")
            .gt_eq(ident("created_day"))
            .and(ident("day").lt(ident("created_day") + lit(days as i32))),
    }
}

/// A custom count or distinct feature over the events, checked.
struct CustomAggregate {
    /// The feature's name.
    name: String,
    /// The filter, over the typed event columns (event, source, user_id).
    filter: Expr,
    /// Which events of the account it looks at.
    window: EventWindow,
    /// The event column counted distinct; `None` counts events.
    distinct: Option<String>,
}

/// Every custom count/distinct feature with its definition, checked;
/// reports every bad one at once.
fn custom_aggregates(project: &Project) -> Result<(Vec<CustomAggregate>, Vec<FeatureDef>)> {
    let schema = event_rule_schema();
    let mut problems = Vec::new();
    let mut aggregates = Vec::new();
    let mut defs = Vec::new();
    for custom in &project.custom_features {
        let Some((filter, window, distinct_column)) = custom.kind.event_aggregate() else {
            continue;
        };
        let checked = match rules::check_predicate(filter, &schema) {
            Ok(checked) => checked,
            Err(error) => {
                let error = error.with_context(format!("features.{}", custom.name));
                problems.push(Problem::new(
                    format!("strata.toml: features.{}", custom.name),
                    error.to_string(),
                ));
                continue;
            }
        };
        if let Some(column) = distinct_column
            && schema.get(column).is_none()
        {
            problems.push(
                Problem::new(
                    format!("strata.toml: features.{}", custom.name),
                    format!("cannot count distinct `{column}`"),
                )
                .with_help("distinct takes an event column: event, source or user_id"),
            );
            continue;
        }
        let description = match distinct_column {
            None => format!("events matching `{filter}` {}", describe_window(window)),
            Some(column) => format!(
                "distinct {column} of events matching `{filter}` {}",
                describe_window(window)
            ),
        };
        aggregates.push(CustomAggregate {
            name: custom.name.clone(),
            filter: checked.to_datafusion(),
            window,
            distinct: distinct_column.map(str::to_string),
        });
        defs.push(def(
            custom.name.clone(),
            ValueType::Integer,
            FeatureGroup::Custom,
            custom.description.clone().unwrap_or(description),
        ));
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    Ok((aggregates, defs))
}

/// One DataFusion aggregate for every custom feature, keyed `k_custom`.
fn custom_frame(
    customs: &[CustomAggregate],
    events: &DataFrame,
    signup: &DataFrame,
    as_of_day: i32,
) -> Result<Option<DataFrame>> {
    if customs.is_empty() {
        return Ok(None);
    }
    let mut aggregates = Vec::new();
    let mut needs_signup = false;
    for custom in customs {
        needs_signup |= matches!(custom.window, EventWindow::DaysAfterSignup(_));
        let condition = custom
            .filter
            .clone()
            .and(window_condition(custom.window, as_of_day));
        let aggregate = match &custom.distinct {
            None => count_when(condition),
            Some(column) => count_distinct(when(condition, ident(column)).end()?),
        };
        aggregates.push(aggregate.alias(custom.name.clone()));
    }
    let mut input = events.clone();
    if needs_signup {
        input = input.join(
            signup.clone(),
            JoinType::Inner,
            &["account_id"],
            &["s_account_id"],
            None,
        )?;
    }
    Ok(Some(input.aggregate(
        vec![to_text(ident("account_id")).alias("k_custom")],
        aggregates,
    )?))
}

fn describe_window(window: EventWindow) -> String {
    match window {
        EventWindow::AllHistory => "over all history".to_string(),
        EventWindow::LastDays(days) => format!("in the last {days} days"),
        EventWindow::DaysAfterSignup(days) => format!("in the first {days} days after signup"),
    }
}

/// Counts events of account ids missing from the accounts table.
async fn unknown_events(day_features: &DataFrame, signup: &DataFrame) -> Result<UnknownEvents> {
    let batches = day_features
        .clone()
        .join(
            signup.clone(),
            JoinType::LeftAnti,
            &["k_day"],
            &["s_account_id"],
            None,
        )?
        .aggregate(
            vec![],
            vec![
                sum(ident("events_total")).alias("events"),
                count(lit(1i64)).alias("accounts"),
                datafusion::functions_aggregate::expr_fn::min(ident("k_day")).alias("example"),
            ],
        )?
        .collect()
        .await?;
    let Some(batch) = batches.first().filter(|b| b.num_rows() > 0) else {
        return Ok(UnknownEvents::default());
    };
    let scalar = |idx: usize| ScalarValue::try_from_array(batch.column(idx), 0).ok();
    let events = match scalar(0) {
        Some(ScalarValue::Int64(Some(v))) => v as u64,
        _ => 0,
    };
    let accounts = match scalar(1) {
        Some(ScalarValue::Int64(Some(v))) => v as u64,
        _ => 0,
    };
    let example = scalar(2).and_then(|v| match v {
        ScalarValue::Utf8(s) | ScalarValue::Utf8View(s) | ScalarValue::LargeUtf8(s) => s,
        _ => None,
    });
    Ok(UnknownEvents {
        events,
        accounts,
        example,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass scan and the DataFusion plan give the same feature table
    /// on a generated base with custom features of every kind and window,
    /// and events of accounts missing from the accounts table.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scan_equals_plan_on_generated_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let params = crate::demo::DemoParams {
            n_accounts: 200,
            ..Default::default()
        };
        crate::demo::generate(&dir.path().join("data"), &params, &mut |_, _| {}).expect("demo");
        // Every 20th account leaves the accounts table: its events become
        // events of an unknown account.
        let accounts_path = dir.path().join("data/accounts.csv");
        let text = std::fs::read_to_string(&accounts_path).expect("accounts");
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(row, _)| *row == 0 || row % 20 != 0)
            .map(|(_, line)| line)
            .collect();
        std::fs::write(&accounts_path, kept.join("\n") + "\n").expect("write accounts");
        let project_text = crate::demo::project_file(dir.path(), params.as_of)
            .expect("project text")
            .replacen("# templates_28d    = {", "templates_28d = {", 1)
            .replacen("# report_users_28d = {", "report_users_28d = {", 1)
            .replacen("# events_per_user  = {", "events_per_user = {", 1)
            .replacen(
                "[features]\n",
                "[features]\n\
                 api_sources = { distinct = \"source\", filter = \"source <> 'app'\" }\n\
                 early_events = { distinct = \"event\", filter = \"user_id IS NOT NULL\", within_days_of_signup = 14 }\n\
                 api_all_history = { count = \"source = 'api' OR event LIKE 'report%'\" }\n",
                1,
            );
        std::fs::write(dir.path().join("strata.toml"), project_text).expect("project file");
        let project = Project::load(dir.path()).expect("project");
        let ctx = crate::pipeline::session(&project).expect("session");
        let sources = sources::load(&ctx, &project).await.expect("sources");
        let as_of_day = crate::dates::day_number(params.as_of);

        let scanned = compute_by(
            &ctx,
            &project,
            &sources,
            as_of_day,
            None,
            None,
            Aggregator::Scan,
            None,
        )
        .await
        .expect("scan")
        .0;
        let planned = compute_by(
            &ctx,
            &project,
            &sources,
            as_of_day,
            None,
            None,
            Aggregator::Plan,
            None,
        )
        .await
        .expect("plan")
        .0;
        assert_eq!(scanned.defs, planned.defs);
        assert_eq!(scanned.batch.schema(), planned.batch.schema());
        for (field, (a, b)) in scanned
            .batch
            .schema()
            .fields()
            .iter()
            .zip(scanned.batch.columns().iter().zip(planned.batch.columns()))
        {
            assert_eq!(a.as_ref(), b.as_ref(), "column {}", field.name());
        }
        assert_eq!(scanned.unknown, planned.unknown);
        // Several dates in one pass give what one pass per date gives,
        // custom features and unknown accounts included; dates a month
        // apart and days apart (the per-event day counts kept only for the
        // latter).
        let days = [as_of_day - 61, as_of_day - 30, as_of_day - 5, as_of_day];
        let mut heard = Vec::new();
        let many = compute_many(
            &ctx,
            &project,
            &sources,
            &days,
            None,
            None,
            &mut |done, all| heard.push((done, all)),
        )
        .await
        .expect("many");
        assert_eq!(heard.last(), Some(&(4, 4)));
        for (day, table) in days.iter().zip(&many) {
            let one = compute_with(&ctx, &project, &sources, *day, None, None)
                .await
                .expect("one date");
            assert_eq!(table.defs, one.defs, "day {day}");
            assert_eq!(table.batch, one.batch, "day {day}");
            assert_eq!(table.unknown, one.unknown, "day {day}");
            assert_eq!(table.top_events, one.top_events, "day {day}");
        }
        assert_ne!(many[0].batch, many[3].batch, "the dates differ");
        // One date per pass, each chained on from the last, out of order.
        let shuffled = [days[1], days[3], days[0], days[2]];
        let order = [1usize, 3, 0, 2];
        let grouped = ManyDates::new(&ctx, &project, &sources, &shuffled, None, None)
            .await
            .expect("dates")
            .per_pass(1)
            .collect(&mut |_, _| {})
            .await
            .expect("one date per pass");
        for (at, &position) in order.iter().enumerate() {
            assert_eq!(
                grouped[at].batch, many[position].batch,
                "day {}",
                shuffled[at]
            );
        }
        // The same with kept scans, one date per pass, each group chained
        // on from the last (reading only the later events); then again from
        // what was kept.
        let kept_dir = tempfile::tempdir().expect("cache dir");
        let cache = ScanCache {
            dir: kept_dir.path().to_path_buf(),
            full: false,
        };
        for pass in ["kept anew", "from the kept scans"] {
            let kept = ManyDates::new(&ctx, &project, &sources, &shuffled, None, Some(&cache))
                .await
                .expect("dates")
                .per_pass(1)
                .collect(&mut |_, _| {})
                .await
                .expect(pass);
            for (at, &position) in order.iter().enumerate() {
                assert_eq!(
                    kept[at].batch, many[position].batch,
                    "{pass}: day {}",
                    shuffled[at]
                );
            }
        }
        // Ten accounts were removed; one without events before as_of may
        // leave no trace.
        assert!(
            scanned.unknown.events > 0 && (5..=10).contains(&scanned.unknown.accounts),
            "{:?}",
            scanned.unknown
        );
        for name in [
            "api_sources",
            "early_events",
            "api_all_history",
            "report_users_28d",
        ] {
            let column = scanned.batch.column_by_name(name).expect(name);
            let total: i64 = datafusion::arrow::compute::sum(
                column.as_primitive::<datafusion::arrow::datatypes::Int64Type>(),
            )
            .unwrap_or(0);
            assert!(
                total > 0,
                "{name} is all zero: the test would prove nothing"
            );
        }
    }
}
