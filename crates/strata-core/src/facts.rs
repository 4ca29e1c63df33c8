//! What `strata init` and `strata validate` read off a folder's data: the
//! columns, tables and event names that decide which default segmentations
//! a project can have (see [`crate::project::init`] for the template they
//! fill). It loads the tables as a run would, so it sits above the sources
//! and the pipeline.
use std::path::{Path, PathBuf};

use crate::error::{Error, Problem, Result};
use crate::project::{
    DataFacts, DetectedSource, MIX_EVENTS, PROJECT_FILE, Project, detect_sources,
    render_project_file,
};
use crate::sources::Sources;

/// The facts of loaded sources that do not need the events read again
/// (no event names, no sources).
pub fn of_sources(loaded: &Sources) -> DataFacts {
    DataFacts {
        account_columns: loaded
            .accounts
            .batch
            .schema()
            .fields()
            .iter()
            .map(|field| field.name().clone())
            .collect(),
        revenue: loaded.revenue.is_some(),
        feedback_texts: loaded.feedback.as_ref().map(|feedback| {
            feedback
                .text
                .iter()
                .filter(|text| text.as_deref().is_some_and(|t| !t.trim().is_empty()))
                .count()
        }),
        event_sources: false,
        top_events: Vec::new(),
    }
}

/// Reads the facts [`render_project_file`] needs from the detected tables
/// in `dir`: it loads them as a run would (so a table that cannot be read
/// fails here with the same error `strata validate` gives).
pub async fn data_facts(dir: &Path, sources: &[DetectedSource]) -> Result<DataFacts> {
    let mut text = String::from("[sources]\n");
    for source in sources {
        text.push_str(&format!(
            "{} = {}\n",
            source.kind.name(),
            toml::Value::String(source.relative_path.clone())
        ));
    }
    let project = Project::parse(&text, dir, PROJECT_FILE)?;
    let ctx = crate::pipeline::session(&project)?;
    let loaded = crate::sources::load(&ctx, &project).await?;
    let events = ctx.table(crate::sources::EVENTS_RAW).await?;
    let has_source = events.schema().has_column_with_unqualified_name("source");
    let event_sources = if has_source {
        let counted = ctx
            .sql(&format!(
                "SELECT count(\"source\") FROM {}",
                crate::sources::EVENTS_RAW
            ))
            .await?
            .collect()
            .await?;
        counted.first().is_some_and(|batch| {
            batch.num_rows() > 0
                && datafusion::arrow::compute::cast(
                    batch.column(0),
                    &datafusion::arrow::datatypes::DataType::Int64,
                )
                .ok()
                .is_some_and(|column| {
                    use datafusion::arrow::array::AsArray;
                    column
                        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                        .value(0)
                        > 0
                })
        })
    } else {
        false
    };
    let top_events = crate::sources::common_events(&ctx, &project, MIX_EVENTS).await?;
    Ok(DataFacts {
        event_sources,
        top_events,
        ..of_sources(&loaded)
    })
}

/// Detects the tables in `dir` and writes `dir/strata.toml`; refuses to
/// overwrite an existing file unless `force`.
pub async fn write_project_file(
    dir: &Path,
    as_of: Option<chrono::NaiveDate>,
    force: bool,
) -> Result<(PathBuf, DataFacts)> {
    let sources = detect_sources(dir)?;
    let path = dir.join(PROJECT_FILE);
    if path.exists() && !force {
        return Err(Error::invalid(
            Problem::new(path.display().to_string(), "a project file already exists")
                .with_help("pass --force to overwrite it"),
        ));
    }
    let facts = data_facts(dir, &sources).await?;
    let text = render_project_file(&sources, as_of, Some(&facts));
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    Ok((path, facts))
}
