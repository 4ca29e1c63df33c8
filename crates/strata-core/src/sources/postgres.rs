//! PostgreSQL tables as sources: connecting with the password from the
//! environment, and reading a table or a query's rows into Arrow.
//!
//! Values travel in types every server sends the same way: dates as day
//! numbers, timestamps as UTC microseconds, numerics as double precision,
//! anything else without an Arrow counterpart as text. The conversion to
//! strata's own types happens afterwards in the same code as for files.
//!
//! **Invariants**: table names reach SQL only quoted ([`PgTable::quoted`]);
//! no password is ever read from the project file or printed.
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    RecordBatch, StringBuilder,
};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use futures::{StreamExt, pin_mut};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls};

use crate::error::{Error, Problem, Result};
use crate::project::PgTable;

/// Rows per Arrow batch while reading.
const BATCH_ROWS: usize = 65_536;

/// A PostgreSQL error as a problem at `location`.
pub fn pg_error(location: &str, error: &tokio_postgres::Error) -> Error {
    let detail = match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => client_error_text(error),
    };
    if is_outage(error) {
        return Error::unavailable(
            Problem::new(location, format!("PostgreSQL did not answer: {detail}"))
                .with_help("check that the server is running and reachable, then run again"),
        );
    }
    Error::invalid(
        Problem::new(location, format!("PostgreSQL error: {detail}"))
            .with_help("check that the server answers, and the URL, table, user and password_env"),
    )
}

/// The text of an error the client raised itself (no server message),
/// with its causes: "error connecting to server: Connection refused".
pub fn client_error_text(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether a PostgreSQL error says the server is away rather than that the
/// request was wrong: the connection failed, broke or timed out (an I/O
/// error underneath, a closed connection), or a SQLSTATE of class 08 (connection exception), 53
/// (insufficient resources) or 57P01-57P03 (shutting down, cannot connect
/// now).
pub fn is_outage(error: &tokio_postgres::Error) -> bool {
    match error.as_db_error() {
        None => {
            let mut source = std::error::Error::source(error);
            let mut io = false;
            while let Some(cause) = source {
                io |= cause.is::<std::io::Error>();
                source = cause.source();
            }
            let text = error.to_string();
            error.is_closed()
                || io
                || text.starts_with("error connecting")
                || text.starts_with("timeout")
        }
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(code, "57P01" | "57P02" | "57P03")
        }
    }
}

/// Connects to the database of `table`; the password comes from
/// `password_env`, else from `PGPASSWORD` when set.
pub async fn connect(table: &PgTable) -> Result<Client> {
    let location = format!("postgres table {}", table.table);
    let mut config: tokio_postgres::Config = table.url.parse().map_err(|error| {
        Error::invalid(Problem::new(
            &location,
            format!("`{}` is not a valid URL: {error}", table.url),
        ))
    })?;
    let password = match &table.password_env {
        Some(name) => Some(std::env::var(name).map_err(|_| {
            Error::invalid(
                Problem::new(
                    &location,
                    format!("password_env names `{name}`, which is not set"),
                )
                .with_help(format!("export {name}=... before running strata")),
            )
        })?),
        None => std::env::var("PGPASSWORD").ok(),
    };
    if let Some(password) = password {
        config.password(password);
    }
    if config.get_application_name().is_none() {
        config.application_name("strata");
    }
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|error| pg_error(&format!("{location} ({})", table.url), &error))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "source connection ended");
        }
    });
    Ok(client)
}

/// A column of a table as the server describes it.
#[derive(Debug, Clone)]
pub struct PgColumn {
    /// Column name.
    pub name: String,
    /// Server type.
    pub pg_type: Type,
}

impl PgColumn {
    /// The Arrow type strata reads the column as.
    pub fn arrow_type(&self) -> DataType {
        match self.pg_type {
            Type::INT2 | Type::INT4 => DataType::Int32,
            Type::INT8 => DataType::Int64,
            Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => DataType::Float64,
            Type::BOOL => DataType::Boolean,
            Type::DATE => DataType::Date32,
            Type::TIMESTAMP => DataType::Timestamp(TimeUnit::Microsecond, None),
            Type::TIMESTAMPTZ => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            _ => DataType::Utf8,
        }
    }

    /// The select item that sends the column in a type [`fetch`] decodes.
    fn select_item(&self) -> String {
        let column = format!("\"{}\"", self.name.replace('"', "\"\""));
        match self.pg_type {
            Type::INT2 => format!("CAST({column} AS INTEGER)"),
            Type::INT4 | Type::INT8 | Type::FLOAT8 | Type::BOOL => column,
            Type::FLOAT4 | Type::NUMERIC => format!("CAST({column} AS DOUBLE PRECISION)"),
            Type::DATE => format!("({column} - DATE '1970-01-01')"),
            Type::TIMESTAMP | Type::TIMESTAMPTZ => {
                format!("CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)")
            }
            _ => format!("CAST({column} AS TEXT)"),
        }
    }
}

/// The columns of `table`, or a problem saying that it does not exist.
pub async fn columns(client: &Client, table: &PgTable) -> Result<Vec<PgColumn>> {
    let location = format!("postgres table {}", table.table);
    let statement = client
        .prepare(&format!("SELECT * FROM {} LIMIT 0", table.quoted()))
        .await
        .map_err(|error| {
            let missing = error
                .as_db_error()
                .is_some_and(|db| db.code().code() == "42P01");
            if missing {
                Error::invalid(
                    Problem::new(
                        &location,
                        format!("no table `{}` in {}", table.table, table.url),
                    )
                    .with_help("check the name (schema.table) and that the user may read it"),
                )
            } else {
                pg_error(&location, &error)
            }
        })?;
    Ok(statement
        .columns()
        .iter()
        .map(|column| PgColumn {
            name: column.name().to_string(),
            pg_type: column.type_().clone(),
        })
        .collect())
}

/// The Arrow schema strata reads `columns` as.
pub fn arrow_schema(columns: &[PgColumn]) -> Schema {
    Schema::new(
        columns
            .iter()
            .map(|column| Field::new(&column.name, column.arrow_type(), true))
            .collect::<Vec<_>>(),
    )
}

/// Reads the whole of `table` into one batch, in the server's order.
pub async fn read_table(table: &PgTable) -> Result<RecordBatch> {
    let client = connect(table).await?;
    let columns = columns(&client, table).await?;
    let items: Vec<String> = columns.iter().map(PgColumn::select_item).collect();
    let sql = format!("SELECT {} FROM {}", items.join(", "), table.quoted());
    let location = format!("postgres table {}", table.table);
    let raw = fetch(&client, &sql, &location).await?;
    // Day numbers and microseconds become dates and timestamps.
    let schema = Arc::new(arrow_schema(&columns));
    let arrays = raw
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(array, field)| cast(array, field.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema, arrays)?)
}

/// One column being read.
enum Builder {
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Text(StringBuilder),
}

impl Builder {
    fn of(pg_type: &Type) -> Option<Builder> {
        Some(match *pg_type {
            Type::INT4 => Builder::Int32(Int32Builder::new()),
            Type::INT8 => Builder::Int64(Int64Builder::new()),
            Type::FLOAT8 => Builder::Float64(Float64Builder::new()),
            Type::BOOL => Builder::Boolean(BooleanBuilder::new()),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                Builder::Text(StringBuilder::new())
            }
            _ => return None,
        })
    }

    fn push(&mut self, row: &tokio_postgres::Row, idx: usize) -> Result<()> {
        let get = |error: tokio_postgres::Error| Error::Internal(format!("column {idx}: {error}"));
        match self {
            Builder::Int32(b) => b.append_option(row.try_get::<_, Option<i32>>(idx).map_err(get)?),
            Builder::Int64(b) => b.append_option(row.try_get::<_, Option<i64>>(idx).map_err(get)?),
            Builder::Float64(b) => {
                b.append_option(row.try_get::<_, Option<f64>>(idx).map_err(get)?)
            }
            Builder::Boolean(b) => {
                b.append_option(row.try_get::<_, Option<bool>>(idx).map_err(get)?)
            }
            Builder::Text(b) => b.append_option(row.try_get::<_, Option<&str>>(idx).map_err(get)?),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Int32(b) => Arc::new(b.finish()),
            Builder::Int64(b) => Arc::new(b.finish()),
            Builder::Float64(b) => Arc::new(b.finish()),
            Builder::Boolean(b) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Builder::Int32(b) => b.len(),
            Builder::Int64(b) => b.len(),
            Builder::Float64(b) => b.len(),
            Builder::Boolean(b) => b.len(),
            Builder::Text(b) => b.len(),
        }
    }
}

/// Runs `sql` and reads its rows into one batch. Every output column must be
/// INTEGER, BIGINT, DOUBLE PRECISION, BOOLEAN or text: the queries strata
/// writes cast to those.
pub async fn fetch(client: &Client, sql: &str, location: &str) -> Result<RecordBatch> {
    let statement = client
        .prepare(sql)
        .await
        .map_err(|error| pg_error(location, &error))?;
    let mut fields = Vec::new();
    let mut builders = Vec::new();
    for column in statement.columns() {
        let builder = Builder::of(column.type_()).ok_or_else(|| {
            Error::Internal(format!(
                "{location}: column `{}` arrives as {}, which strata does not decode",
                column.name(),
                column.type_()
            ))
        })?;
        let data_type = match builder {
            Builder::Int32(_) => DataType::Int32,
            Builder::Int64(_) => DataType::Int64,
            Builder::Float64(_) => DataType::Float64,
            Builder::Boolean(_) => DataType::Boolean,
            Builder::Text(_) => DataType::Utf8,
        };
        fields.push(Field::new(column.name(), data_type, true));
        builders.push(builder);
    }
    let schema = Arc::new(Schema::new(fields));
    let rows = client
        .query_raw(&statement, std::iter::empty::<i32>())
        .await
        .map_err(|error| pg_error(location, &error))?;
    pin_mut!(rows);
    let mut batches = Vec::new();
    while let Some(row) = rows.next().await {
        let row = row.map_err(|error| pg_error(location, &error))?;
        for (idx, builder) in builders.iter_mut().enumerate() {
            builder.push(&row, idx)?;
        }
        if builders.first().is_some_and(|b| b.len() >= BATCH_ROWS) {
            let arrays = builders.iter_mut().map(Builder::finish).collect();
            batches.push(RecordBatch::try_new(schema.clone(), arrays)?);
        }
    }
    let arrays = builders.iter_mut().map(Builder::finish).collect();
    batches.push(RecordBatch::try_new(schema.clone(), arrays)?);
    Ok(concat_batches(&schema, &batches)?)
}
