//! Test harness for the `strata` binary, after ripgrep's `tests/util.rs`: a
//! [`Dir`] holds a temporary project, a [`TestCommand`] runs the binary in it.
#![allow(dead_code)] // reason: each test file uses a different part of the harness
pub mod base;

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder, optionally seeded from `tests/fixtures/<name>`.
pub struct Dir {
    _temp: tempfile::TempDir,
    pub root: PathBuf,
}

impl Dir {
    /// An empty folder.
    pub fn new() -> Dir {
        let temp = tempfile::tempdir().expect("temporary folder");
        let root = temp.path().to_path_buf();
        Dir { _temp: temp, root }
    }

    /// A copy of a fixture project.
    pub fn fixture(name: &str) -> Dir {
        let dir = Dir::new();
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        for entry in std::fs::read_dir(&source).expect("fixture folder") {
            let entry = entry.expect("fixture entry");
            std::fs::copy(entry.path(), dir.root.join(entry.file_name()))
                .expect("copy fixture file");
        }
        dir
    }

    /// Writes a file relative to the root.
    pub fn create(&self, name: &str, contents: &str) {
        let path = self.root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent folder");
        }
        std::fs::write(path, contents).expect("write file");
    }

    /// Reads a file relative to the root.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.root.join(name))
            .unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
    }

    /// Replaces `from` with `to` in a file.
    pub fn edit(&self, name: &str, from: &str, to: &str) {
        let text = self.read(name);
        assert!(text.contains(from), "{name} does not contain {from:?}");
        self.create(name, &text.replacen(from, to, 1));
    }

    /// A `strata` command running in this folder.
    pub fn command(&self, args: &[&str]) -> TestCommand {
        let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
        command
            .current_dir(&self.root)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG");
        TestCommand { command }
    }
}

/// A `strata` invocation.
pub struct TestCommand {
    command: Command,
}

impl TestCommand {
    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> TestCommand {
        self.command.env(key, value);
        self
    }

    /// Starts the command without waiting, its output captured.
    pub fn spawn(&mut self) -> std::process::Child {
        self.command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start strata")
    }

    /// Runs and returns the raw output, whatever the status.
    pub fn output_raw(&mut self) -> Output {
        self.output()
    }

    fn output(&mut self) -> Output {
        self.command.output().expect("run strata")
    }

    /// Runs and asserts success; returns stdout.
    pub fn stdout(&mut self) -> String {
        let output = self.output();
        assert!(
            output.status.success(),
            "strata failed:\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs and asserts success; returns (stdout, stderr).
    pub fn success(&mut self) -> (String, String) {
        let output = self.output();
        assert!(
            output.status.success(),
            "strata failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Runs and asserts failure without a panic; returns stderr.
    pub fn failure(&mut self) -> String {
        let output = self.output();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !output.status.success(),
            "strata succeeded but should have failed:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(!stderr.contains("panicked"), "strata panicked:\n{stderr}");
        stderr
    }
}

/// How the tests reach PostgreSQL: 127.0.0.1:5432, user postgres, database `test`.
pub const PG_CONNECTION: [&str; 6] = ["-h", "127.0.0.1", "-U", "postgres", "-d", "test"];

/// Runs psql against the test server (127.0.0.1:5432, user postgres,
/// database `test`, stop on the first error, UTC); a missing psql is a failed run.
pub fn psql(args: &[&str]) -> std::process::Output {
    std::process::Command::new("psql")
        .args(PG_CONNECTION)
        .args(["-v", "ON_ERROR_STOP=1", "-q"])
        .args(args)
        .env("PGTZ", "UTC")
        .output()
        .unwrap_or_else(|_| std::process::Output {
            status: std::os::unix::process::ExitStatusExt::from_raw(127 << 8),
            stdout: Vec::new(),
            stderr: b"psql not found".to_vec(),
        })
}

/// Whether the test server answers; skips loudly unless STRATA_REQUIRE_POSTGRES=1,
/// where a missing server fails the test.
pub fn postgres_available() -> bool {
    let ok = psql(&["-c", "SELECT 1"]).status.success();
    if !ok {
        assert!(
            std::env::var("STRATA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "PostgreSQL is required (STRATA_REQUIRE_POSTGRES=1) but 127.0.0.1:5432 does not answer"
        );
        eprintln!(
            "\n*** SKIPPED a PostgreSQL test: no server on 127.0.0.1:5432 (or no psql) ***\n"
        );
    }
    ok
}

/// The Python the tests use (STRATA_PYTHON, else python3) when it can import
/// every one of `modules`. Otherwise skips loudly (`None`), unless
/// STRATA_REQUIRE_E2E=1 (CI), where the missing module fails the test.
pub fn python_with(modules: &[&str], test: &str) -> Option<String> {
    let python = std::env::var("STRATA_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let imports = format!("import {}", modules.join(", "));
    let ok = Command::new(&python)
        .args(["-c", &imports])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("STRATA_REQUIRE_E2E").as_deref() != Ok("1"),
        "the {test} is required in CI: `{python}` cannot `{imports}`"
    );
    eprintln!(
        "\n*** SKIPPED the {test}: `{python}` cannot `{imports}` (pip install {}, or set STRATA_PYTHON) ***\n",
        modules.join(" ")
    );
    None
}

/// The record batches of a Parquet file (features.parquet), in file order.
pub fn parquet_batches(path: &std::path::Path) -> Vec<datafusion::arrow::array::RecordBatch> {
    let file =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader")
        .map(|batch| batch.expect("batch"))
        .collect()
}

/// Loads CSV files of `dir` into a fresh PostgreSQL `schema`: `tables` are
/// (table, column definitions), each read from `TABLE.csv`.
pub fn load_csv_tables(dir: &Dir, schema: &str, tables: &[(&str, &str)]) {
    let mut sql = format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path = {schema};\n"
    );
    for (table, columns) in tables {
        sql.push_str(&format!("CREATE TABLE {table} ({columns});\n"));
    }
    for (table, _) in tables {
        sql.push_str(&format!(
            "\\copy {table} FROM '{}/{table}.csv' CSV HEADER\n",
            dir.root.display()
        ));
    }
    dir.create("load.sql", &sql);
    let output = psql(&["-f", &dir.root.join("load.sql").display().to_string()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Reads features.parquet into column → per-account text values, floats
/// rounded to 1e-9 so that the two engines' last bits do not matter.
pub fn embedded_features(path: &std::path::Path) -> BTreeMap<String, Vec<String>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
    let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for batch in parquet_batches(path) {
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            let values = columns.entry(field.name().clone()).or_default();
            for row in 0..column.len() {
                values.push(if column.is_null(row) {
                    String::new()
                } else {
                    match field.data_type() {
                        DataType::Float64 => {
                            normalize(&column.as_primitive::<Float64Type>().value(row).to_string())
                        }
                        DataType::Int64 => {
                            column.as_primitive::<Int64Type>().value(row).to_string()
                        }
                        _ => datafusion::arrow::util::display::array_value_to_string(column, row)
                            .unwrap_or_default(),
                    }
                });
            }
        }
    }
    columns
}

pub fn normalize(text: &str) -> String {
    match text.parse::<f64>() {
        Ok(value) if text.contains('.') || text.contains('e') => {
            let rounded = (value * 1e9).round() / 1e9;
            if rounded == rounded.trunc() {
                format!("{}", rounded as i64)
            } else {
                format!("{rounded}")
            }
        }
        _ => text.to_string(),
    }
}

/// Asserts two runs wrote the same memberships and features (floats to 1e-9).
pub fn assert_same_outputs(dir: &Dir, expected: &str, actual: &str) {
    assert_eq!(
        dir.read(&format!("{actual}/memberships.csv")),
        dir.read(&format!("{expected}/memberships.csv")),
        "{actual} vs {expected}: memberships differ"
    );
    let want = embedded_features(&dir.root.join(expected).join("features.parquet"));
    let got = embedded_features(&dir.root.join(actual).join("features.parquet"));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{actual} vs {expected}: feature columns differ"
    );
    for (column, values) in &want {
        assert_eq!(&got[column], values, "{actual} vs {expected}: {column}");
    }
}
