//! `strata dbt`: write the project's features and rules segmentations as a
//! dbt project.
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::Args;
use strata_core::dbt;
use strata_core::files::write_file_atomically;
use strata_core::sql::Dialect;

use crate::sql_cmd::Generated;

/// `strata dbt` flags.
#[derive(Debug, Args)]
pub struct DbtArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Folder to write the dbt project in (created; strata's files in it are replaced).
    #[arg(long)]
    out: PathBuf,
    /// The warehouse: postgres, duckdb, bigquery or snowflake.
    #[arg(long, default_value = "postgres")]
    dialect: String,
    /// The dbt project's name, also the profile it reads.
    #[arg(long, default_value = "strata")]
    name: String,
    /// The default of the `as_of` var [default: the project's as-of date].
    #[arg(long)]
    as_of: Option<NaiveDate>,
}

/// Writes the dbt project and says how to build it.
pub async fn run(args: DbtArgs) -> anyhow::Result<()> {
    let dialects: Vec<&str> = dbt::DIALECTS.iter().map(|d| d.name()).collect();
    let Some(dialect) = Dialect::from_name(&args.dialect).filter(|d| dbt::DIALECTS.contains(d))
    else {
        anyhow::bail!(
            "--dialect `{}`: no dbt project for it\nhelp: pick one of {}",
            args.dialect,
            dialects.join(", ")
        );
    };
    if args.name.is_empty()
        || !args
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        || args.name.starts_with(|c: char| c.is_ascii_digit())
    {
        anyhow::bail!(
            "--name `{}`: a dbt project name is letters, digits and `_`, not starting with a digit",
            args.name
        );
    }
    let project = crate::load_project(&args.project)?;
    let generated = Generated::prepare(&project, args.as_of).await?;
    let inputs = generated.inputs(&project);
    let files = dbt::project(&inputs, dialect, &args.name)?;
    remove_stale_models(&args.out, &files)?;
    for file in &files {
        write_file_atomically(&args.out.join(&file.path), file.text.as_bytes())?;
    }
    let models = files
        .iter()
        .filter(|f| f.path.starts_with("models/") && f.path.ends_with(".sql"))
        .count();
    println!(
        "wrote a dbt project to {} ({} dialect, as of {}): {models} models, their schema tests and 1 singular test",
        args.out.display(),
        dialect.name(),
        inputs.as_of,
    );
    for file in &files {
        println!("  {}", file.path);
    }
    println!(
        "\nnext: add a `{}` profile for your {} warehouse to ~/.dbt/profiles.yml, point var strata_schema at\n\
         the schema holding accounts, events and revenue, then:\n  cd {} && dbt build --vars '{{as_of: {}}}'",
        args.name,
        dialect.name(),
        args.out.display(),
        inputs.as_of
    );
    Ok(())
}

/// Removes `strata_*` models of an earlier `strata dbt` that this one does
/// not write (a segmentation renamed or removed); the user's own files stay.
fn remove_stale_models(out: &Path, files: &[dbt::DbtFile]) -> anyhow::Result<()> {
    let models = out.join("models");
    let Ok(entries) = std::fs::read_dir(&models) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("models/{name}");
        if name.starts_with("strata_segment_")
            && name.ends_with(".sql")
            && !files.iter().any(|f| f.path == path)
        {
            std::fs::remove_file(entry.path())
                .map_err(|e| anyhow::anyhow!("cannot remove the stale model {path}: {e}"))?;
        }
    }
    Ok(())
}
