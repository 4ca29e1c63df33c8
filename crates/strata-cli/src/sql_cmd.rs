//! `strata sql`: print the warehouse SQL of a project's features and segments.
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;
use strata_core::pipeline::{self, RunOptions};
use strata_core::project::TableKind;
use strata_core::sql::{self, Dialect, ScriptInputs, Tables};

/// `strata sql` flags.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// postgres, bigquery, snowflake, duckdb or mysql.
    #[arg(long, default_value = "postgres")]
    dialect: String,
    /// Only this segmentation [default: every rules segmentation].
    #[arg(long)]
    segmentation: Option<String>,
    /// The as-of date written into the script's `params` [default: the project's].
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Table names in the warehouse, e.g. --table accounts=crm.accounts (repeatable).
    #[arg(long = "table", value_name = "NAME=TABLE")]
    tables: Vec<String>,
}

/// Prints the script on stdout.
pub async fn run(args: SqlArgs) -> anyhow::Result<()> {
    let Some(dialect) = Dialect::from_name(&args.dialect) else {
        let names: Vec<&str> = Dialect::ALL.iter().map(|d| d.name()).collect();
        anyhow::bail!(
            "unknown dialect `{}`\nhelp: pick one of {}",
            args.dialect,
            names.join(", ")
        );
    };
    let project = crate::load_project(&args.project)?;
    // Tables read from PostgreSQL keep their names; --table overrides.
    let mut tables = Tables::default();
    for (kind, name) in [
        (TableKind::Accounts, &mut tables.accounts),
        (TableKind::Events, &mut tables.events),
        (TableKind::Revenue, &mut tables.revenue),
    ] {
        if let Some(table) = project.source(kind).and_then(|s| s.postgres()) {
            *name = table.table.clone();
        }
    }
    for mapping in &args.tables {
        let Some((name, table)) = mapping.split_once('=') else {
            anyhow::bail!(
                "--table `{mapping}` is not NAME=TABLE\nhelp: e.g. --table events=analytics.product_events"
            );
        };
        if table.is_empty()
            || !table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'))
        {
            anyhow::bail!(
                "--table {name}=`{table}`: a table name is letters, digits, `_`, `$` and `.` only"
            );
        }
        match name {
            "accounts" => tables.accounts = table.to_string(),
            "events" => tables.events = table.to_string(),
            "revenue" => tables.revenue = table.to_string(),
            other => anyhow::bail!(
                "--table: unknown table `{other}`\nhelp: the script reads accounts, events and revenue"
            ),
        }
    }
    let generated = Generated::prepare(&project, args.as_of).await?;
    print!(
        "{}",
        sql::script(
            &generated.inputs(&project),
            &tables,
            dialect,
            args.segmentation.as_deref()
        )?
    );
    Ok(())
}

/// What generated SQL is made from, read from the project's data: the
/// feature table of a run, the events' columns and the months.
pub struct Generated {
    prepared: pipeline::Prepared,
    event_columns: Vec<String>,
    revenue_month: NaiveDate,
}

impl Generated {
    /// Prepares the project at `as_of` (default: the project's).
    pub async fn prepare(
        project: &strata_core::project::Project,
        as_of: Option<NaiveDate>,
    ) -> anyhow::Result<Generated> {
        let options = RunOptions::at(as_of);
        let (engine, prepared) = pipeline::prepare(project, &options, &pipeline::Quiet).await?;
        let event_columns = engine.event_columns().await?;
        let revenue_month = strata_core::sources::month_start(strata_core::sources::revenue_month(
            &prepared.sources,
            pipeline::day_number(prepared.as_of),
        ));
        Ok(Generated {
            prepared,
            event_columns,
            revenue_month,
        })
    }

    /// The script inputs.
    pub fn inputs<'a>(&'a self, project: &'a strata_core::project::Project) -> ScriptInputs<'a> {
        ScriptInputs {
            project,
            features: &self.prepared.features,
            as_of: self.prepared.as_of,
            revenue_month: self.revenue_month,
            event_columns: &self.event_columns,
            utc_session: false,
        }
    }
}
