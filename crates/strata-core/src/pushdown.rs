//! `engine = "postgres"`: features and segments computed inside the
//! PostgreSQL database that holds the accounts and events.
//!
//! The events never leave the database. Three queries scan them there: a
//! check (rows, blank ids and names, first and last day), the most common
//! event names, and the feature script of `strata sql --dialect postgres`
//! (stored in a temporary table). What comes back is per account: the
//! feature rows, and each segmentation's segment as an integer. Rules
//! segmentations run as SQL over the temporary table; a clustering is fit
//! here on a sample of accounts (`options.kmeans_sample`) and its
//! nearest-centroid rules then assign every account in the database.
//! Accounts, revenue and feedback are small and are read as sources are.
//!
//! **Invariants**: the same data gives the same features and memberships as
//! the embedded engine (a test compares them on the real server); rule text
//! reaches SQL only through the checked expression tree (`sql::rule_sql`).
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type, TimeUnit};
use datafusion::prelude::SessionContext;
use tokio_postgres::types::Type;

use crate::connection::Pushed;
use crate::dates::day_number;
use crate::engine::Engine;
use crate::error::{Error, Problem, Result};
use crate::features::{self, FeatureTable, UnknownEvents};
use crate::prepare::{Observer, Phase, Prepared, RunOptions};
use crate::project::{PgTable, Project, Source, TableKind};
use crate::rules::CheckedRule;
use crate::segment::Matcher;
use crate::sources::postgres::{self as pg, PgColumn};
use crate::sources::{self, EVENTS_RAW, EventCounts, EventStats, Located};
use crate::sql::{self, Dialect, ScriptInputs, Tables};

/// The temporary table holding the feature rows of a pushed-down run.
const FEATURES_TABLE: &str = "strata_features";

fn postgres_source(project: &Project, kind: TableKind) -> Result<(&Source, &PgTable)> {
    let source = project
        .source(kind)
        .ok_or_else(|| Error::Internal(format!("project without {}", kind.name())))?;
    let table = source.postgres().ok_or_else(|| {
        Error::Internal(format!(
            "engine = postgres with a {} file; validation lets none through",
            kind.name()
        ))
    })?;
    Ok((source, table))
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The UTC day number of a `timestamp`, `timestamptz` or `date` column, in
/// a session whose time zone is UTC.
fn utc_day(column: &str) -> String {
    format!("(CAST({column} AS DATE) - DATE '1970-01-01')")
}

/// A single-row query's integer cells.
fn integers(batch: &RecordBatch) -> Vec<Option<i64>> {
    batch
        .columns()
        .iter()
        .map(|column| {
            if batch.num_rows() == 0 || column.is_null(0) {
                return None;
            }
            match column.data_type() {
                DataType::Int64 => Some(column.as_primitive::<Int64Type>().value(0)),
                DataType::Int32 => Some(i64::from(column.as_primitive::<Int32Type>().value(0))),
                _ => None,
            }
        })
        .collect()
}

/// Checks the events in the database: required columns, a timestamp type,
/// no blank ids, names or timestamps; counts rows and finds the day range.
async fn check_events(
    pushed: &Pushed,
    source: &Source,
    table: &PgTable,
    columns: &[PgColumn],
) -> Result<EventStats> {
    let schema = pg::arrow_schema(columns);
    let problems = sources::missing_columns(source, &schema);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let ts_name = source.file_column("ts");
    let ts_type = columns
        .iter()
        .find(|c| c.name == ts_name)
        .map(|c| c.pg_type.clone())
        .unwrap_or(Type::TEXT);
    if !matches!(ts_type, Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::DATE) {
        return Err(Error::invalid(
            Problem::new(
                format!("{}, column `{ts_name}`", source.label()),
                format!("the timestamp column is {ts_type}; engine = \"postgres\" computes days from a timestamp"),
            )
            .with_help(format!(
                "make the column timestamptz, or read a view that casts it: CREATE VIEW ... AS SELECT ..., CAST({} AS timestamptz) AS {} FROM {}",
                quote(ts_name),
                quote(ts_name),
                table.table
            )),
        ));
    }
    let account = quote(source.file_column("account_id"));
    let event = quote(source.file_column("event"));
    let ts = quote(ts_name);
    let day = utc_day(&ts);
    let blank = |column: &str| {
        format!(
            "CAST(SUM(CASE WHEN {column} IS NULL OR CAST({column} AS TEXT) = '' THEN 1 ELSE 0 END) AS BIGINT)"
        )
    };
    let sql = format!(
        "SELECT COUNT(*) AS rows, {} AS blank_account, {} AS blank_event, \
         CAST(SUM(CASE WHEN {ts} IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_ts, \
         MIN({day}) AS min_day, MAX({day}) AS max_day FROM {}",
        blank(&account),
        blank(&event),
        table.quoted()
    );
    let stats = integers(&pushed.fetch(&sql).await?);
    let cell = |idx: usize| stats.get(idx).copied().flatten();
    let count = |idx: usize| cell(idx).unwrap_or(0).max(0) as u64;
    let counts = EventCounts {
        rows: count(0),
        blank_account: count(1),
        blank_event: count(2),
        missing_ts: count(3),
        // A timestamp column holds no text to parse.
        bad_ts: 0,
        min_day: cell(4).map(|d| d as i32),
        max_day: cell(5).map(|d| d as i32),
    };
    let failed = counts
        .failing(source)?
        .into_iter()
        .map(|(check, count)| {
            let column = quote(source.file_column(check.column()));
            let located = Located {
                location: format!("{}, column {column}", source.label()),
                found: String::new(),
                hint: Some(format!(
                    "find them with SELECT * FROM {} WHERE {column} IS NULL",
                    table.table
                )),
            };
            (check, count, located)
        })
        .collect();
    counts.verdict(failed)
}

/// The `limit` most common event names up to `as_of_day`, most common
/// first, ties by name in byte order (as the embedded engine orders them).
async fn most_common_events(
    pushed: &Pushed,
    source: &Source,
    table: &PgTable,
    as_of_day: i32,
    limit: usize,
) -> Result<Vec<String>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let day = utc_day(&quote(source.file_column("ts")));
    let sql = format!(
        "SELECT CAST({} AS TEXT) AS event, COUNT(*) AS n FROM {} WHERE {day} <= {as_of_day} \
         GROUP BY 1 ORDER BY n DESC, event COLLATE \"C\" LIMIT {limit}",
        quote(source.file_column("event")),
        table.quoted()
    );
    let batch = pushed.fetch(&sql).await?;
    Ok(batch
        .column(0)
        .as_string::<i32>()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect())
}

/// Events up to `as_of_day` whose account is not in the accounts table.
async fn unknown_events(
    pushed: &Pushed,
    project: &Project,
    as_of_day: i32,
) -> Result<UnknownEvents> {
    let (events, events_table) = postgres_source(project, TableKind::Events)?;
    let (accounts, accounts_table) = postgres_source(project, TableKind::Accounts)?;
    let day = utc_day(&format!("e.{}", quote(events.file_column("ts"))));
    let sql = format!(
        "SELECT COUNT(*) AS events, CAST(COUNT(DISTINCT u.account_id) AS BIGINT) AS accounts, \
         MIN(u.account_id COLLATE \"C\") AS example FROM (\
         SELECT CAST(e.{} AS TEXT) AS account_id FROM {} e WHERE {day} <= {as_of_day}) u \
         WHERE NOT EXISTS (SELECT 1 FROM {} a WHERE CAST(a.{} AS TEXT) = u.account_id)",
        quote(events.file_column("account_id")),
        events_table.quoted(),
        accounts_table.quoted(),
        quote(accounts.file_column("account_id")),
    );
    let batch = pushed.fetch(&sql).await?;
    let counts = integers(&batch);
    let example = batch.column(2).as_string::<i32>();
    Ok(UnknownEvents {
        events: counts.first().copied().flatten().unwrap_or(0) as u64,
        accounts: counts.get(1).copied().flatten().unwrap_or(0) as u64,
        example: (!example.is_null(0)).then(|| example.value(0).to_string()),
    })
}

/// The select item that sends feature column `name` in a type that
/// [`pg::fetch`] decodes and that casts to `data_type`.
fn fetch_item(name: &str, data_type: &DataType) -> String {
    let column = quote(name);
    match data_type {
        DataType::Int64 => format!("CAST({column} AS BIGINT) AS {column}"),
        DataType::Int32 | DataType::Int16 | DataType::Int8 => {
            format!("CAST({column} AS INTEGER) AS {column}")
        }
        DataType::Float64 | DataType::Float32 => {
            format!("CAST({column} AS DOUBLE PRECISION) AS {column}")
        }
        DataType::Boolean => format!("CAST({column} AS BOOLEAN) AS {column}"),
        DataType::Date32 | DataType::Date64 => {
            format!("(CAST({column} AS DATE) - DATE '1970-01-01') AS {column}")
        }
        DataType::Timestamp(_, _) => {
            format!("CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT) AS {column}")
        }
        _ => format!("CAST({column} AS TEXT) AS {column}"),
    }
}

/// Positions of the fetched rows in account order, from their `account_id`
/// column; every account exactly once.
fn account_order(ids: &ArrayRef, index: &HashMap<String, usize>) -> Result<UInt32Array> {
    let ids = cast(ids, &DataType::Utf8)?;
    let ids = ids.as_string::<i32>();
    let mut position: Vec<Option<u32>> = vec![None; index.len()];
    for row in 0..ids.len() {
        // Rows of accounts outside the base (not signed up by as_of) are
        // skipped: the base is the index.
        if let Some(&slot) = (!ids.is_null(row))
            .then(|| index.get(ids.value(row)))
            .flatten()
        {
            position[slot] = Some(row as u32);
        }
    }
    position
        .into_iter()
        .collect::<Option<Vec<u32>>>()
        .map(UInt32Array::from)
        .ok_or_else(|| Error::Internal("the database returned no row for an account".into()))
}

/// The PostgreSQL engine: features computed and rules evaluated in the
/// database that holds the events. It keeps the run's connection (and with
/// it the temporary feature table) from [`Engine::prepare`] to assignment.
pub struct Postgres {
    /// This process's context: the sources other than the events, and the
    /// feature table's skeleton.
    ctx: SessionContext,
    /// The connection, once prepared.
    pushed: OnceLock<Pushed>,
}

impl Postgres {
    /// An engine that connects when it prepares.
    pub fn new(ctx: SessionContext) -> Self {
        Postgres {
            ctx,
            pushed: OnceLock::new(),
        }
    }
}

#[async_trait::async_trait]
impl Engine for Postgres {
    async fn prepare(
        &self,
        project: &Project,
        options: &RunOptions,
        observer: &dyn Observer,
    ) -> Result<Prepared> {
        let (prepared, pushed) = prepare(&self.ctx, project, options, observer).await?;
        self.pushed
            .set(pushed)
            .map_err(|_| Error::Internal("a postgres engine prepared twice".into()))?;
        Ok(prepared)
    }

    async fn event_columns(&self) -> Result<Vec<String>> {
        // The skeleton's empty events table has the database's columns.
        crate::engine::registered_event_columns(&self.ctx).await
    }

    fn matcher<'a>(&'a self, prepared: &'a Prepared) -> Result<Box<dyn Matcher + 'a>> {
        let pushed = self
            .pushed
            .get()
            .ok_or_else(|| Error::Internal("rules evaluated before the run was prepared".into()))?;
        Ok(Box::new(InDatabase { pushed, prepared }))
    }
}

/// Sources, features and checked segmentations, with the features computed
/// in PostgreSQL into a temporary table of the returned connection.
async fn prepare(
    ctx: &SessionContext,
    project: &Project,
    options: &RunOptions,
    observer: &dyn Observer,
) -> Result<(Prepared, Pushed)> {
    if project.risk.is_some() {
        return Err(Error::invalid(
            Problem::new(
                "engine",
                "churn_risk and expansion_likelihood are learned from feature tables at past dates, which engine = \"postgres\" does not compute yet",
            )
            .with_help("run this project on the embedded engine (--engine embedded), or drop [risk] and the rules that read them"),
        ));
    }
    observer.phase_started(Phase::Sources);
    let (events_source, events_table) = postgres_source(project, TableKind::Events)?;
    let pushed = Pushed {
        client: pg::connect(events_table).await?,
        location: format!("postgres engine ({})", events_table.url),
    };
    // UTC makes dates of instants UTC dates (the feature script relies on
    // it); the aggregates over every event want memory for their hash
    // tables, and every join here has the accounts on one side, which a hash
    // join serves best (the planner, misled by row estimates of CTEs,
    // otherwise sorts all events for a merge join). Session settings only.
    pushed
        .execute("SET TIME ZONE 'UTC'; SET work_mem = '256MB'; SET enable_mergejoin = off")
        .await?;
    let event_columns = pg::columns(&pushed.client, events_table).await?;
    let stats = check_events(&pushed, events_source, events_table, &event_columns).await?;
    let sources = sources::load_with(ctx, project, sources::Check::Done(stats)).await?;
    let as_of = crate::prepare::resolve_as_of(project, options, &sources)?;
    observer.phase_finished(Phase::Sources);

    observer.phase_started(Phase::Features);
    let as_of_day = day_number(as_of);
    let top = most_common_events(
        &pushed,
        events_source,
        events_table,
        as_of_day,
        project.top_events,
    )
    .await?;
    // The embedded engine over no events gives the feature table's columns,
    // types and definitions; the database gives the values.
    let empty = RecordBatch::new_empty(Arc::new(pg::arrow_schema(&event_columns)));
    ctx.deregister_table(EVENTS_RAW)?;
    ctx.register_batch(EVENTS_RAW, empty)?;
    let skeleton =
        features::compute_with(ctx, project, &sources, as_of_day, Some(top), None).await?;
    let names: Vec<String> = event_columns.iter().map(|c| c.name.clone()).collect();
    let inputs = ScriptInputs {
        project,
        features: &skeleton,
        as_of,
        revenue_month: crate::sources::month_start(crate::sources::revenue_month(
            &sources, as_of_day,
        )),
        event_columns: &names,
        utc_session: true,
    };
    let tables = Tables {
        accounts: postgres_source(project, TableKind::Accounts)?.1.quoted(),
        events: events_table.quoted(),
        revenue: match project.source(TableKind::Revenue) {
            Some(_) => postgres_source(project, TableKind::Revenue)?.1.quoted(),
            None => "revenue".into(),
        },
    };
    let mut create = format!(
        "DROP TABLE IF EXISTS {FEATURES_TABLE};\nCREATE TEMPORARY TABLE {FEATURES_TABLE} AS\n"
    );
    sql::feature_ctes(&inputs, &tables, Dialect::Postgres, &mut create)?;
    create.push_str("SELECT * FROM features;\n");
    pushed.execute(&create).await?;

    let schema = skeleton.batch.schema();
    let items: Vec<String> = schema
        .fields()
        .iter()
        .map(|field| fetch_item(field.name(), field.data_type()))
        .collect();
    let fetched = pushed
        .fetch(&format!(
            "SELECT {} FROM {FEATURES_TABLE}",
            items.join(", ")
        ))
        .await?;
    let order = account_order(fetched.column(0), &sources.accounts.index)?;
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (array, field) in fetched.columns().iter().zip(schema.fields()) {
        let typed = match field.data_type() {
            // Day numbers and microseconds reinterpret as dates and instants.
            DataType::Timestamp(unit, zone) if *unit != TimeUnit::Microsecond => cast(
                &cast(
                    array,
                    &DataType::Timestamp(TimeUnit::Microsecond, zone.clone()),
                )?,
                field.data_type(),
            )?,
            other => cast(array, other)?,
        };
        columns.push(take(&typed, &order, None)?);
    }
    let features = FeatureTable {
        batch: RecordBatch::try_new(schema.clone(), columns)?,
        defs: skeleton.defs,
        unknown: unknown_events(&pushed, project, as_of_day).await?,
        as_of_day,
        early: None,
        top_events: skeleton.top_events,
    };
    let prepared = crate::prepare::finish_prepare(
        project,
        as_of,
        std::borrow::Cow::Owned(sources),
        features,
        None,
        observer,
    )?;
    Ok((prepared, pushed))
}

/// Rules evaluated in the database over the run's feature table: one
/// `CASE` per list, all in one query.
struct InDatabase<'a> {
    pushed: &'a Pushed,
    prepared: &'a Prepared,
}

#[async_trait::async_trait]
impl Matcher for InDatabase<'_> {
    async fn first_matches(&self, lists: &[Vec<CheckedRule>]) -> Result<Vec<Vec<Option<usize>>>> {
        if lists.is_empty() {
            return Ok(Vec::new());
        }
        let mut select = vec!["CAST(account_id AS TEXT) AS account_id".to_string()];
        for (idx, rules) in lists.iter().enumerate() {
            let mut case = String::from("CASE");
            for (position, rule) in rules.iter().enumerate() {
                let _ = write!(
                    case,
                    " WHEN {} THEN {position}",
                    sql::rule_sql(rule, Dialect::Postgres)?
                );
            }
            case.push_str(" END");
            select.push(format!("CAST({case} AS INTEGER) AS s{idx}"));
        }
        let batch = self
            .pushed
            .fetch(&format!(
                "SELECT {} FROM {FEATURES_TABLE}",
                select.join(",\n  ")
            ))
            .await?;
        let order = account_order(batch.column(0), &self.prepared.sources.accounts.index)?;
        let mut memberships = Vec::with_capacity(lists.len());
        for column in batch.columns().iter().skip(1) {
            let ordered = take(column, &order, None)?;
            let labels = ordered.as_primitive::<Int32Type>();
            memberships.push(
                (0..labels.len())
                    .map(|row| labels.is_valid(row).then(|| labels.value(row) as usize))
                    .collect(),
            );
        }
        Ok(memberships)
    }

    fn places_clusters_by_rule(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{Field, Schema};

    #[test]
    fn fetch_items_cast_to_decodable_types() {
        let schema = Schema::new(vec![
            Field::new("account_id", DataType::Utf8, false),
            Field::new("created_at", DataType::Date32, true),
            Field::new("events_28d", DataType::Int64, true),
            Field::new("odd\"name", DataType::Float64, true),
        ]);
        let items: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| fetch_item(f.name(), f.data_type()))
            .collect();
        assert_eq!(
            items,
            [
                "CAST(\"account_id\" AS TEXT) AS \"account_id\"",
                "(CAST(\"created_at\" AS DATE) - DATE '1970-01-01') AS \"created_at\"",
                "CAST(\"events_28d\" AS BIGINT) AS \"events_28d\"",
                "CAST(\"odd\"\"name\" AS DOUBLE PRECISION) AS \"odd\"\"name\"",
            ]
        );
    }

    #[test]
    fn rows_come_back_in_account_order() {
        let index: HashMap<String, usize> = [
            ("a".to_string(), 0),
            ("b".to_string(), 1),
            ("c".to_string(), 2),
        ]
        .into();
        let ids: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(vec![
            "c", "a", "b",
        ]));
        assert_eq!(
            account_order(&ids, &index).ok(),
            Some(UInt32Array::from(vec![1, 2, 0]))
        );
        let short: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(vec!["a"]));
        assert!(account_order(&short, &index).is_err());
        let unknown: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(vec![
            "a", "b", "z",
        ]));
        assert!(account_order(&unknown, &index).is_err());
    }
}
