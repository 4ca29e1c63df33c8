//! Differential test of `strata sql`: random rules over awkward data, run by
//! the embedded engine and by the script of each dialect on a real engine
//! (PostgreSQL on 127.0.0.1:5432, DuckDB from PyPI, MariaDB for `mysql` on
//! 127.0.0.1:3306), must select the same accounts; the scripts' feature
//! columns must equal the embedded features (counts exact, ratios within
//! 1e-9).
//!
//! The rules cover every operator and function of the rule language; the
//! accounts hold NULLs, empty strings, quotes, backslashes, `%` and `_`,
//! mixed case, leading and trailing spaces and exact halves. A rule that
//! selects other accounts on an engine is shrunk to its smallest boolean
//! sub-rule that still does, and printed with the accounts that differ.
//! Seeded (`STRATA_DIFF_SEED`, default 20261206) with `STRATA_DIFF_RULES`
//! rules (default 1,000); an engine that is absent skips loudly unless CI
//! requires it (`STRATA_REQUIRE_POSTGRES`, `STRATA_REQUIRE_E2E` for DuckDB,
//! `STRATA_REQUIRE_MARIADB`).
mod util;

use std::collections::BTreeMap;
use std::process::Command;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_core::pipeline::{self, Quiet, RunOptions};
use strata_core::project::Project;
use util::{Dir, normalize, postgres_available, psql};

/// One table as an engine printed it: header, then rows of text cells
/// (NULL as the empty string).
#[derive(Debug, Default)]
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Per column: per account id, the cell.
    fn by_account(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut columns: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for row in &self.rows {
            let account = row.first().cloned().unwrap_or_default();
            for (name, cell) in self.header.iter().zip(row) {
                columns
                    .entry(name.clone())
                    .or_default()
                    .insert(account.clone(), cell.clone());
            }
        }
        columns
    }
}

// ---------------------------------------------------------------- data

/// Account attributes chosen to trip dialects up.
const NAMES: [Option<&str>; 16] = [
    Some("Acme"),
    Some("acme"),
    Some(" Acme "),
    Some("ACME corp"),
    Some("O'Brien & Sons"),
    Some(""),
    None,
    Some("100% organic"),
    Some("a_b"),
    Some("back\\slash"),
    Some("tab\there"),
    Some("  "),
    Some("Zeta"),
    Some("zeta  "),
    Some("50%_off"),
    Some("x"),
];
const INDUSTRIES: [Option<&str>; 7] = [
    Some("SaaS"),
    Some("saas"),
    Some("Fintech"),
    Some(""),
    None,
    Some(" retail"),
    Some("E-commerce"),
];
const PLANS: [Option<&str>; 6] = [
    Some("pro"),
    Some("Pro "),
    Some("enterprise"),
    Some("starter"),
    None,
    Some("free"),
];
const COUNTRIES: [Option<&str>; 4] = [Some("US"), Some("de"), Some("FR"), None];
const SCORES: [Option<f64>; 12] = [
    Some(2.5),
    Some(-2.5),
    Some(0.5),
    Some(1.5),
    Some(-0.5),
    Some(1.25),
    Some(3.0),
    None,
    Some(1000.5),
    Some(0.0),
    Some(-7.75),
    Some(12.345),
];
const EMPLOYEES: [Option<i64>; 10] = [
    Some(50),
    Some(0),
    None,
    Some(7),
    Some(-3),
    Some(200),
    Some(1001),
    Some(15),
    Some(1),
    Some(-12),
];
const ACCOUNTS: usize = 48;

struct Account {
    id: String,
    name: Option<&'static str>,
    created: String,
    employees: Option<i64>,
    industry: Option<&'static str>,
    country: Option<&'static str>,
    plan: Option<&'static str>,
    seats: Option<i64>,
    score: Option<f64>,
}

fn accounts() -> Vec<Account> {
    (0..ACCOUNTS)
        .map(|k| Account {
            id: format!("a{k:02}"),
            name: NAMES[k % NAMES.len()],
            created: format!(
                "2025-{:02}-{:02} {:02}:30:00",
                1 + k % 12,
                1 + (k * 7) % 28,
                k % 24
            ),
            employees: EMPLOYEES[(k * 3) % EMPLOYEES.len()],
            industry: INDUSTRIES[(k * 5) % INDUSTRIES.len()],
            country: COUNTRIES[k % COUNTRIES.len()],
            plan: PLANS[(k * 7) % PLANS.len()],
            seats: (k % 5 != 3).then_some((k as i64 * 13) % 40 - 5),
            score: SCORES[(k * 11) % SCORES.len()],
        })
        .collect()
}

/// Events: account k gets k % 5 events in October 2026 (some through the
/// API) so that counts, shares and recency vary, and some accounts none.
fn events() -> Vec<[String; 5]> {
    let mut rows = Vec::new();
    for k in 0..ACCOUNTS {
        for e in 0..k % 5 {
            rows.push([
                format!("a{k:02}"),
                format!("u{}", (k + e) % 3),
                ["task_created", "report_viewed", "api_call"][(k + e) % 3].to_string(),
                format!("2026-10-{:02} {:02}:00:00", 1 + (k * 3 + e * 5) % 31, e * 4),
                ["app", "api", "integration"][(k * e) % 3].to_string(),
            ]);
        }
    }
    rows
}

/// The project folder: accounts as Parquet (a CSV reads an empty field as
/// NULL, and empty strings are part of the test), events and revenue as
/// CSV, and a strata.toml with `segmentations`.
fn write_project(dir: &Dir, segmentations: &str) {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    };
    let accounts = accounts();
    let text = |get: &dyn Fn(&Account) -> Option<String>| -> ArrayRef {
        Arc::new(accounts.iter().map(get).collect::<StringArray>())
    };
    let micros: Vec<i64> = accounts
        .iter()
        .map(|a| {
            chrono::NaiveDateTime::parse_from_str(&a.created, "%Y-%m-%d %H:%M:%S")
                .expect("test timestamp")
                .and_utc()
                .timestamp_micros()
        })
        .collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("account_id", text(&|a| Some(a.id.clone()))),
        ("name", text(&|a| a.name.map(str::to_string))),
        (
            "created_at",
            Arc::new(TimestampMicrosecondArray::from(micros).with_timezone("UTC")),
        ),
        (
            "employees",
            Arc::new(accounts.iter().map(|a| a.employees).collect::<Int64Array>()),
        ),
        ("industry", text(&|a| a.industry.map(str::to_string))),
        ("country", text(&|a| a.country.map(str::to_string))),
        ("plan", text(&|a| a.plan.map(str::to_string))),
        ("owner", text(&|_| Some("owner@example.com".to_string()))),
        (
            "seats",
            Arc::new(accounts.iter().map(|a| a.seats).collect::<Int64Array>()),
        ),
        (
            "score",
            Arc::new(accounts.iter().map(|a| a.score).collect::<Float64Array>()),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).expect("accounts batch");
    let file = std::fs::File::create(dir.root.join("accounts.parquet")).expect("accounts.parquet");
    let mut writer = datafusion::parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)
        .expect("parquet writer");
    writer.write(&batch).expect("write accounts");
    writer.close().expect("close accounts");
    let mut csv = String::from("account_id,user_id,event,ts,source\n");
    for row in events() {
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    dir.create("events.csv", &csv);
    let mut csv = String::from("account_id,month,mrr\n");
    for k in 0..ACCOUNTS {
        if k % 4 != 0 {
            csv.push_str(&format!("a{k:02},2025-10-01,{}\n", 100 + k * 10));
            csv.push_str(&format!("a{k:02},2026-10-01,{}\n", 90 + k * 12));
        }
    }
    dir.create("revenue.csv", &csv);
    dir.create(
        "strata.toml",
        &format!(
            "as_of = \"2026-10-31\"\n\n[sources]\naccounts = \"accounts.parquet\"\nevents = \"events.csv\"\nrevenue = \"revenue.csv\"\n\n{segmentations}"
        ),
    );
}

/// One rules segmentation `r<i>` per rule, with one segment `m`.
fn segmentations(rules: &[String]) -> String {
    let mut text = String::new();
    for (idx, rule) in rules.iter().enumerate() {
        text.push_str(&format!(
            "[[segmentation]]\nname = \"r{idx}\"\nkind = \"rules\"\nsegments = [{{ name = \"m\", when = {} }}]\n\n",
            toml_string(rule)
        ));
    }
    text
}

fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------- rules

/// Random well-typed rule text over the test accounts' columns.
struct Rules {
    rng: StdRng,
}

const INT_COLUMNS: [&str; 3] = ["employees", "seats", "events_28d"];
const FLOAT_COLUMNS: [&str; 2] = ["score", "api_share"];
const TEXT_COLUMNS: [&str; 4] = ["name", "industry", "plan", "country"];
const TEXT_LITERALS: [&str; 12] = [
    "acme",
    "Acme",
    " Acme ",
    "",
    "O''Brien & Sons",
    "SaaS",
    "saas",
    "pro",
    "Pro ",
    "x",
    "zeta",
    "back\\slash",
];
const PATTERNS: [&str; 14] = [
    "%",
    "a%",
    "%e",
    "_",
    "%a_b%",
    "a\\_b",
    "%\\%%",
    "100\\% organic",
    "%''%",
    "% ",
    " %",
    "back\\\\slash",
    "%c_e%",
    "",
];

impl Rules {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    fn number(&mut self, depth: u32) -> String {
        let leaf = depth == 0 || self.rng.random_bool(0.35);
        if leaf {
            return match self.rng.random_range(0..5) {
                0 => self.pick(&INT_COLUMNS).to_string(),
                1 => self.pick(&FLOAT_COLUMNS).to_string(),
                2 => self.rng.random_range(-5i64..20).to_string(),
                3 => self
                    .pick(&["0.5", "1.5", "2.5", "-2.5", "0.25", "10.5", "3", "-1"])
                    .to_string(),
                _ => self.pick(&INT_COLUMNS).to_string(),
            };
        }
        let d = depth - 1;
        match self.rng.random_range(0..15) {
            0 => format!("{} + {}", self.number(d), self.number(d)),
            1 => format!("({} - {})", self.number(d), self.number(d)),
            2 => format!("{} * {}", self.number(d), self.number(d)),
            3 => format!("({} / {})", self.number(d), self.number(d)),
            4 => format!(
                "({} % {})",
                self.pick(&INT_COLUMNS),
                self.pick(&["3", "-3", "2", "7", "0", "seats"])
            ),
            5 => format!("ABS({})", self.number(d)),
            6 => format!("ROUND({})", self.number(d)),
            7 => format!("ROUND({}, {})", self.number(d), self.rng.random_range(0..3)),
            8 => format!("FLOOR({})", self.number(d)),
            9 => format!("CEIL({})", self.number(d)),
            10 => format!("LN({})", self.number(d)),
            11 => format!("COALESCE({}, {})", self.number(d), self.number(d)),
            12 => {
                let f = self.pick(&["LEAST", "GREATEST"]);
                if self.rng.random_bool(0.5) {
                    format!("{f}({}, {})", self.number(d), self.number(d))
                } else {
                    format!(
                        "{f}({}, {}, {})",
                        self.number(d),
                        self.number(d),
                        self.number(d)
                    )
                }
            }
            13 => format!("LENGTH({})", self.text(d)),
            _ => format!("-{}", self.number(d)),
        }
    }

    fn text(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.random_bool(0.4) {
            return if self.rng.random_bool(0.7) {
                self.pick(&TEXT_COLUMNS).to_string()
            } else {
                format!("'{}'", self.pick(&TEXT_LITERALS))
            };
        }
        let d = depth - 1;
        match self.rng.random_range(0..4) {
            0 => format!("LOWER({})", self.text(d)),
            1 => format!("UPPER({})", self.text(d)),
            2 => format!("TRIM({})", self.text(d)),
            _ => format!(
                "COALESCE({}, '{}')",
                self.text(d),
                self.pick(&TEXT_LITERALS)
            ),
        }
    }

    fn comparison(&mut self) -> &'static str {
        self.pick(&["=", "<>", "<", "<=", ">", ">="])
    }

    fn predicate(&mut self, depth: u32) -> String {
        let leaf = depth == 0 || self.rng.random_bool(0.3);
        let d = depth.saturating_sub(1);
        if !leaf {
            return match self.rng.random_range(0..3) {
                0 => format!("({} AND {})", self.predicate(d), self.predicate(d)),
                1 => format!("({} OR {})", self.predicate(d), self.predicate(d)),
                _ => format!("NOT ({})", self.predicate(d)),
            };
        }
        let not = |rng: &mut StdRng| if rng.random_bool(0.3) { "NOT " } else { "" };
        match self.rng.random_range(0..11) {
            0 | 1 => {
                let op = self.comparison();
                format!("{} {op} {}", self.number(2), self.number(2))
            }
            2 => {
                let op = self.comparison();
                format!("{} {op} {}", self.text(2), self.text(1))
            }
            3 => {
                let not = not(&mut self.rng);
                format!(
                    "{} {not}BETWEEN {} AND {}",
                    self.number(1),
                    self.number(1),
                    self.number(1)
                )
            }
            4 => {
                let not = not(&mut self.rng);
                format!("{} {not}IN (0, 7, 50, -3, 2.5, 1)", self.number(1))
            }
            5 => {
                let not = not(&mut self.rng);
                format!(
                    "{} {not}IN ('{}', '{}', '{}')",
                    self.text(1),
                    self.pick(&TEXT_LITERALS),
                    self.pick(&TEXT_LITERALS),
                    self.pick(&TEXT_LITERALS)
                )
            }
            6 | 7 => {
                let not = not(&mut self.rng);
                let like = self.pick(&["LIKE", "ILIKE"]);
                format!("{} {not}{like} '{}'", self.text(1), self.pick(&PATTERNS))
            }
            8 => {
                let what = if self.rng.random_bool(0.5) {
                    self.number(1)
                } else {
                    self.text(1)
                };
                let not = if self.rng.random_bool(0.5) {
                    "NOT "
                } else {
                    ""
                };
                format!("{what} IS {not}NULL")
            }
            9 => {
                let op = self.comparison();
                let literal = if self.rng.random_bool(0.5) {
                    format!(
                        "DATE '2025-{:02}-{:02}'",
                        self.rng.random_range(1..13),
                        self.rng.random_range(1..29)
                    )
                } else {
                    format!(
                        "TIMESTAMP '2025-{:02}-15 {:02}:30:00'",
                        self.rng.random_range(1..13),
                        self.rng.random_range(0..24)
                    )
                };
                format!("created_at {op} {literal}")
            }
            _ => self.pick(&["TRUE", "FALSE", "NOT TRUE"]).to_string(),
        }
    }
}

// ---------------------------------------------------------------- embedded

/// Per segmentation `r<i>`: per account, `m` or empty; and the feature
/// table, by column and account, as text.
struct Embedded {
    members: Vec<BTreeMap<String, String>>,
    features: BTreeMap<String, BTreeMap<String, String>>,
}

fn embedded(dir: &Dir) -> Embedded {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
    let project = Project::load(&dir.root).expect("project");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (engine, prepared) = runtime
        .block_on(pipeline::prepare(&project, &RunOptions::default(), &Quiet))
        .expect("prepare");
    let mut warnings = Vec::new();
    let assignments = runtime
        .block_on(engine.assign(&project, &prepared, &mut warnings))
        .expect("assign");
    let batch = &prepared.features.batch;
    let ids: Vec<String> = batch
        .column(0)
        .as_string::<i32>()
        .iter()
        .map(|id| id.unwrap_or_default().to_string())
        .collect();
    let members = assignments
        .iter()
        .map(|assignment| {
            ids.iter()
                .zip(&assignment.membership)
                .map(|(id, member)| {
                    let name = member
                        .and_then(|idx| assignment.segments.get(idx))
                        .map(|s| s.name.clone())
                        .unwrap_or_default();
                    (id.clone(), name)
                })
                .collect()
        })
        .collect();
    let mut features = BTreeMap::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let values: BTreeMap<String, String> = ids
            .iter()
            .enumerate()
            .map(|(row, id)| {
                let text = if column.is_null(row) {
                    String::new()
                } else {
                    match field.data_type() {
                        DataType::Float64 => {
                            normalize(&column.as_primitive::<Float64Type>().value(row).to_string())
                        }
                        DataType::Int64 => {
                            column.as_primitive::<Int64Type>().value(row).to_string()
                        }
                        _ => String::new(),
                    }
                };
                (id.clone(), text)
            })
            .collect();
        features.insert(field.name().clone(), values);
    }
    Embedded { members, features }
}

// ---------------------------------------------------------------- engines

/// A warehouse the scripts run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Postgres,
    DuckDb,
    MariaDb,
}

impl Engine {
    fn dialect(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::DuckDb => "duckdb",
            Engine::MariaDb => "mysql",
        }
    }

    fn available(self) -> bool {
        match self {
            Engine::Postgres => postgres_available(),
            Engine::DuckDb => util::python_with(&["duckdb"], "DuckDB differential test").is_some(),
            Engine::MariaDb => {
                let ok = mariadb("SELECT 1").is_ok();
                if !ok {
                    assert!(
                        std::env::var("STRATA_REQUIRE_MARIADB").as_deref() != Ok("1"),
                        "MariaDB is required (STRATA_REQUIRE_MARIADB=1) but 127.0.0.1:3306 does not answer"
                    );
                    eprintln!(
                        "\n*** SKIPPED the MariaDB differential test: no server on 127.0.0.1:3306 (root, no password, database test) or no `mariadb` client ***\n"
                    );
                }
                ok
            }
        }
    }

    /// The test tables, created and filled, in this engine's SQL.
    fn setup(self) -> String {
        let (text, float, timestamp, bigint) = match self {
            Engine::Postgres => ("TEXT", "DOUBLE PRECISION", "TIMESTAMP", "BIGINT"),
            Engine::DuckDb => ("VARCHAR", "DOUBLE", "TIMESTAMP", "BIGINT"),
            Engine::MariaDb => ("VARCHAR(255)", "DOUBLE", "DATETIME", "BIGINT"),
        };
        // MariaDB compares text case- and trailing-space-insensitively by
        // default; strata's SQL assumes binary, no-pad comparison.
        let collation = match self {
            Engine::MariaDb => " CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin",
            _ => "",
        };
        let quote = |value: Option<&str>| match value {
            None => "NULL".to_string(),
            Some(text) => match self {
                Engine::MariaDb => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
                _ => format!("'{}'", text.replace('\'', "''")),
            },
        };
        let number = |value: Option<String>| value.unwrap_or_else(|| "NULL".to_string());
        let mut sql = format!(
            "DROP TABLE IF EXISTS accounts;\nDROP TABLE IF EXISTS events;\nDROP TABLE IF EXISTS revenue;\n\
             CREATE TABLE accounts (account_id {text}, name {text}, created_at {timestamp}, employees {bigint}, industry {text}, country {text}, plan {text}, owner {text}, seats {bigint}, score {float}){collation};\n\
             CREATE TABLE events (account_id {text}, user_id {text}, event {text}, ts {timestamp}, source {text}){collation};\n\
             CREATE TABLE revenue (account_id {text}, month DATE, mrr {float}){collation};\n"
        );
        for a in accounts() {
            sql.push_str(&format!(
                "INSERT INTO accounts VALUES ({}, {}, '{}', {}, {}, {}, {}, 'owner@example.com', {}, {});\n",
                quote(Some(&a.id)),
                quote(a.name),
                a.created,
                number(a.employees.map(|v| v.to_string())),
                quote(a.industry),
                quote(a.country),
                quote(a.plan),
                number(a.seats.map(|v| v.to_string())),
                number(a.score.map(|v| v.to_string())),
            ));
        }
        for row in events() {
            sql.push_str(&format!(
                "INSERT INTO events VALUES ('{}', '{}', '{}', '{}', '{}');\n",
                row[0], row[1], row[2], row[3], row[4]
            ));
        }
        for k in 0..ACCOUNTS {
            if k % 4 != 0 {
                sql.push_str(&format!(
                    "INSERT INTO revenue VALUES ('a{k:02}', '2025-10-01', {});\nINSERT INTO revenue VALUES ('a{k:02}', '2026-10-01', {});\n",
                    100 + k * 10,
                    90 + k * 12
                ));
            }
        }
        sql
    }

    /// Runs `script` (the output of `strata sql`) on the test tables.
    fn run(self, dir: &Dir, script: &str) -> Result<Table, String> {
        let script = script.trim().trim_end_matches(';');
        match self {
            Engine::Postgres => {
                let schema = format!("strata_diff_{}", std::process::id());
                dir.create(
                    "pg.sql",
                    &format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path = {schema};\n{}\n{script};\n",
                        self.setup()
                    ),
                );
                let output = psql(&[
                    "--csv",
                    "-f",
                    &dir.root.join("pg.sql").display().to_string(),
                ]);
                let _ = psql(&["-c", &format!("DROP SCHEMA IF EXISTS {schema} CASCADE")]);
                if !output.status.success() {
                    return Err(String::from_utf8_lossy(&output.stderr).into_owned());
                }
                Ok(parse_csv(&String::from_utf8_lossy(&output.stdout)))
            }
            Engine::DuckDb => {
                dir.create("duck_setup.sql", &self.setup());
                dir.create("duck_script.sql", script);
                let program = r#"
import csv, duckdb, sys
con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
# A query running over two seconds draws a progress bar on stdout, which
# would land in the CSV.
con.execute("SET enable_progress_bar = false")
for statement in open('duck_setup.sql').read().split(';\n'):
    if statement.strip():
        con.execute(statement)
cursor = con.execute(open('duck_script.sql').read())
out = csv.writer(sys.stdout, lineterminator='\n')
out.writerow([d[0] for d in cursor.description])
for row in cursor.fetchall():
    out.writerow(['' if v is None else repr(v) if isinstance(v, float) else v for v in row])
"#;
                let output = Command::new(python())
                    .current_dir(&dir.root)
                    .args(["-c", program])
                    .output()
                    .map_err(|e| e.to_string())?;
                if !output.status.success() {
                    return Err(String::from_utf8_lossy(&output.stderr).into_owned());
                }
                Ok(parse_csv(&String::from_utf8_lossy(&output.stdout)))
            }
            Engine::MariaDb => {
                let database = format!("strata_diff_{}", std::process::id());
                let sql = format!(
                    "DROP DATABASE IF EXISTS {database}; CREATE DATABASE {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin; USE {database};\n\
                     SET time_zone = '+00:00'; SET NAMES utf8mb4 COLLATE utf8mb4_nopad_bin;\n{}\n{script};\nDROP DATABASE {database};\n",
                    self.setup()
                );
                let output = mariadb(&sql)?;
                Ok(parse_tsv(&output))
            }
        }
    }
}

fn python() -> String {
    std::env::var("STRATA_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Runs SQL in MariaDB (127.0.0.1:3306, root, database `test`); the
/// output in batch mode (tab-separated, with the header).
fn mariadb(sql: &str) -> Result<String, String> {
    use std::io::Write;
    let mut child = Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            "3306",
            "-u",
            "root",
            "--batch",
            "test",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run mariadb: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(sql.as_bytes())
        .map_err(|e| e.to_string())?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn parse_csv(text: &str) -> Table {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default();
    let rows = reader
        .records()
        .flatten()
        .map(|record| record.iter().map(normalize).collect())
        .collect();
    Table { header, rows }
}

fn parse_tsv(text: &str) -> Table {
    let mut lines = text.lines();
    let header = lines
        .next()
        .map(|line| line.split('\t').map(str::to_string).collect())
        .unwrap_or_default();
    let rows = lines
        .map(|line| {
            line.split('\t')
                .map(|cell| {
                    if cell == "NULL" {
                        String::new()
                    } else {
                        normalize(cell)
                    }
                })
                .collect()
        })
        .collect();
    Table { header, rows }
}

// ---------------------------------------------------------------- comparing

/// The rules of `segmentation` columns whose members differ on `table`:
/// (rule index, accounts with embedded vs engine membership).
fn differences(
    embedded: &Embedded,
    table: &Table,
    n_rules: usize,
) -> Vec<(usize, Vec<(String, String, String)>)> {
    let columns = table.by_account();
    let mut out = Vec::new();
    for idx in 0..n_rules {
        let Some(column) = columns.get(&format!("r{idx}")) else {
            out.push((
                idx,
                vec![("(all)".into(), "column".into(), "missing".into())],
            ));
            continue;
        };
        let mut differing = Vec::new();
        for (account, expected) in &embedded.members[idx] {
            let got = column
                .get(account)
                .cloned()
                .unwrap_or_else(|| "(no row)".into());
            if &got != expected {
                differing.push((account.clone(), expected.clone(), got));
            }
        }
        if !differing.is_empty() {
            out.push((idx, differing));
        }
    }
    out
}

/// Feature columns whose values differ between the embedded run and `table`.
fn feature_differences(embedded: &Embedded, table: &Table) -> Vec<String> {
    let columns = table.by_account();
    let mut out = Vec::new();
    for (name, values) in &embedded.features {
        // Account attributes are the tables' own; text columns are not features.
        if ["account_id", "created_at", "owner"].contains(&name.as_str()) {
            continue;
        }
        let Some(column) = columns.get(name) else {
            out.push(format!("{name}: missing from the script's output"));
            continue;
        };
        for (account, expected) in values {
            if expected.is_empty() && !values.values().any(|v| !v.is_empty()) {
                continue;
            }
            let got = column.get(account).cloned().unwrap_or_default();
            let close = match (expected.parse::<f64>(), got.parse::<f64>()) {
                (Ok(a), Ok(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                _ => *expected == got,
            };
            if !close && !(expected.is_empty() && name_is_text(name)) {
                out.push(format!(
                    "{name} of {account}: embedded {expected:?}, engine {got:?}"
                ));
            }
        }
    }
    out
}

fn name_is_text(name: &str) -> bool {
    ["name", "industry", "country", "plan"].contains(&name)
}

/// Every boolean sub-rule of `rule` that checks, smallest first.
fn sub_rules(rule: &str, schema: &strata_core::rules::Schema) -> Vec<String> {
    let Ok(expr) = strata_core::rules::parse(rule) else {
        return Vec::new();
    };
    let mut found: Vec<String> = Vec::new();
    expr.walk(&mut |node| {
        let text = node.to_string();
        if !found.contains(&text) && strata_core::rules::check_predicate(&text, schema).is_ok() {
            found.push(text);
        }
    });
    found.sort_by_key(String::len);
    found
}

/// The smallest sub-rule of each failing rule that still differs on `engine`.
fn minimized(
    engine: Engine,
    failing: &[(usize, String)],
    schema: &strata_core::rules::Schema,
) -> Vec<(String, String, Vec<(String, String, String)>)> {
    let mut candidates: Vec<(usize, String)> = Vec::new();
    for (owner, rule) in failing {
        for sub in sub_rules(rule, schema) {
            candidates.push((*owner, sub));
        }
    }
    let texts: Vec<String> = candidates.iter().map(|(_, text)| text.clone()).collect();
    let dir = Dir::new();
    write_project(&dir, &segmentations(&texts));
    let expected = embedded(&dir);
    let script = dir
        .command(&["sql", "--dialect", engine.dialect()])
        .stdout();
    let Ok(table) = engine.run(&dir, &script) else {
        return failing
            .iter()
            .map(|(_, rule)| (rule.clone(), rule.clone(), Vec::new()))
            .collect();
    };
    let differing: BTreeMap<usize, Vec<(String, String, String)>> =
        differences(&expected, &table, texts.len())
            .into_iter()
            .collect();
    failing
        .iter()
        .map(|(owner, rule)| {
            let smallest = candidates
                .iter()
                .enumerate()
                .find(|(idx, (o, _))| o == owner && differing.contains_key(idx));
            match smallest {
                Some((idx, (_, text))) => (rule.clone(), text.clone(), differing[&idx].clone()),
                None => (rule.clone(), rule.clone(), Vec::new()),
            }
        })
        .collect()
}

/// The schema rules are checked against in the project at `dir`: the
/// accounts' columns and every feature.
fn rule_schema(dir: &Dir) -> strata_core::rules::Schema {
    let project = Project::load(&dir.root).expect("project");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime
        .block_on(pipeline::validate(&project, &RunOptions::default()))
        .expect("the test data is valid")
        .features
        .rule_schema()
}

/// A project with `n_rules` random rules that check, one segmentation
/// each, and the schema they were checked against (the accounts' columns
/// and every feature).
fn random_rules(seed: u64, n_rules: usize) -> (Dir, Vec<String>, strata_core::rules::Schema) {
    let dir = Dir::new();
    write_project(&dir, "");
    let schema = rule_schema(&dir);
    let mut generator = Rules {
        rng: StdRng::seed_from_u64(seed),
    };
    let mut rules = Vec::new();
    let mut tries = 0;
    while rules.len() < n_rules {
        tries += 1;
        assert!(
            tries < n_rules * 50,
            "the generator makes too few valid rules"
        );
        let rule = generator.predicate(3);
        if strata_core::rules::check_predicate(&rule, &schema).is_ok() && !rules.contains(&rule) {
            rules.push(rule);
        }
    }
    write_project(&dir, &segmentations(&rules));
    (dir, rules, schema)
}

fn seed_and_count() -> (u64, usize) {
    let seed: u64 = std::env::var("STRATA_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_206);
    let n_rules: usize = std::env::var("STRATA_DIFF_RULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    (seed, n_rules)
}

/// BigQuery and Snowflake cannot run here: their scripts for the same
/// random rules must parse with sqlglot in their dialect.
#[test]
fn bigquery_and_snowflake_scripts_parse_with_sqlglot() {
    if util::python_with(
        &["sqlglot"],
        "sqlglot parse of the BigQuery and Snowflake scripts",
    )
    .is_none()
    {
        return;
    }
    let (seed, n_rules) = seed_and_count();
    let (dir, _, _) = random_rules(seed, n_rules);
    for dialect in ["bigquery", "snowflake"] {
        let script = dir.command(&["sql", "--dialect", dialect]).stdout();
        dir.create(&format!("{dialect}.sql"), &script);
        let program = format!(
            "import re, sqlglot\nfrom sqlglot.errors import ErrorLevel\ntext = open('{dialect}.sql').read()\nstatements = sqlglot.parse(text, read='{dialect}', error_level=ErrorLevel.RAISE)\nassert len([s for s in statements if s is not None]) == 1, len(statements)\ncode = re.sub(r\"'(?:[^'\\\\]|\\\\.)*'\", \"''\", text)\nif '{dialect}' == 'bigquery':\n    assert ' % ' not in code, 'GoogleSQL has no % operator (MOD)'\n    assert 'ILIKE' not in code.upper(), 'GoogleSQL has no ILIKE'\nprint(len(list(statements[0].find_all(sqlglot.exp.Case))))"
        );
        let output = Command::new(python())
            .current_dir(&dir.root)
            .args(["-c", &program])
            .output()
            .expect("python");
        assert!(
            output.status.success(),
            "{dialect}: sqlglot cannot parse the script (seed {seed}):\n{}",
            first_lines(&String::from_utf8_lossy(&output.stderr), 20)
        );
        let cases: usize = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        assert!(
            cases >= n_rules,
            "{dialect}: only {cases} CASE expressions for {n_rules} rules"
        );
    }
}

#[test]
fn random_rules_select_the_same_accounts_on_every_engine() {
    let (seed, n_rules) = seed_and_count();
    let engines: Vec<Engine> = [Engine::Postgres, Engine::DuckDb, Engine::MariaDb]
        .into_iter()
        .filter(|engine| engine.available())
        .collect();

    let (dir, rules, schema) = random_rules(seed, n_rules);
    let expected = embedded(&dir);
    // The rules must tell accounts apart, or they test nothing.
    let selective = expected
        .members
        .iter()
        .filter(|members| {
            let n = members.values().filter(|m| !m.is_empty()).count();
            n > 0 && n < members.len()
        })
        .count();
    assert!(
        selective * 3 > n_rules,
        "only {selective} of {n_rules} rules select some but not all accounts"
    );

    let mut report = Vec::new();
    for engine in engines {
        let script = dir
            .command(&["sql", "--dialect", engine.dialect()])
            .stdout();
        let table = match engine.run(&dir, &script) {
            Ok(table) => table,
            Err(error) => {
                // Kept for a look: the script and the rules it came from.
                let kept = std::env::temp_dir()
                    .join(format!("strata-differential.{}.sql", engine.dialect()));
                let _ = std::fs::write(&kept, &script);
                let _ = std::fs::write(kept.with_extension("toml"), dir.read("strata.toml"));
                report.push(format!(
                    "{engine:?}: the script fails (kept in {}):\n{}",
                    kept.display(),
                    first_lines(&error, 12)
                ));
                continue;
            }
        };
        if table.rows.len() != ACCOUNTS {
            let kept =
                std::env::temp_dir().join(format!("strata-differential.{}.sql", engine.dialect()));
            let _ = std::fs::write(&kept, &script);
            report.push(format!(
                "{engine:?}: {} rows for {ACCOUNTS} accounts (script kept in {})",
                table.rows.len(),
                kept.display()
            ));
        }
        for problem in feature_differences(&expected, &table).into_iter().take(10) {
            report.push(format!("{engine:?}: feature {problem}"));
        }
        let failing: Vec<(usize, String)> = differences(&expected, &table, rules.len())
            .into_iter()
            .map(|(idx, _)| (idx, rules[idx].clone()))
            .collect();
        eprintln!(
            "{engine:?}: {} of {} rules select other accounts than the embedded engine",
            failing.len(),
            rules.len()
        );
        let shown: Vec<(usize, String)> = failing.iter().take(12).cloned().collect();
        for (rule, smallest, accounts) in minimized(engine, &shown, &schema) {
            let accounts: Vec<String> = accounts
                .iter()
                .take(4)
                .map(|(id, want, got)| format!("{id}: embedded {want:?}, {engine:?} {got:?}"))
                .collect();
            report.push(format!(
                "{engine:?}: `{smallest}` (from `{rule}`) differs: {}",
                accounts.join("; ")
            ));
        }
        if failing.len() > shown.len() {
            report.push(format!(
                "{engine:?}: ... and {} more rules",
                failing.len() - shown.len()
            ));
        }
    }
    assert!(
        report.is_empty(),
        "seed {seed}, {n_rules} rules:\n{}",
        report.join("\n")
    );
}

/// The first `n` lines of an engine's error, or its `ERROR` lines where it
/// has some (the MariaDB client echoes the whole statement first).
fn first_lines(text: &str, n: usize) -> String {
    let errors: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("ERROR") || line.contains("ERROR:"))
        .take(n)
        .collect();
    if errors.is_empty() {
        text.lines().take(n).collect::<Vec<_>>().join("\n")
    } else {
        errors.join("\n")
    }
}

// ---------------------------------------------------------------- DataFusion's .slt cases

/// The `.slt` files of datafusion-sqllogictest 55.2.0, extracted from
/// cargo's cache (`.ci/run` fetches the crate with `.ci/slt/Cargo.toml`);
/// `None` when the crate is not in the cache.
fn slt_files(into: &Dir) -> Option<Vec<std::path::PathBuf>> {
    let home = std::env::var("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|home| std::path::Path::new(&home).join(".cargo")))
        .ok()?;
    let crate_file = std::fs::read_dir(home.join("registry/cache"))
        .ok()?
        .flatten()
        .map(|index| index.path().join("datafusion-sqllogictest-55.2.0.crate"))
        .find(|path| path.is_file())?;
    let status = Command::new("tar")
        .args([
            "-xzf",
            &crate_file.display().to_string(),
            "-C",
            &into.root.display().to_string(),
        ])
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let mut files = Vec::new();
    let mut folders = vec![into.root.join("datafusion-sqllogictest-55.2.0/test_files")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).ok()?.flatten() {
            let path = entry.path();
            // Spark's functions are not DataFusion's SQL.
            if path.is_dir() && !path.ends_with("spark") {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "slt") {
                files.push(path);
            }
        }
    }
    files.sort();
    Some(files)
}

/// The cases of `files` the rule language can write: a `query` that is
/// one `SELECT` of expressions without `FROM`, with one result row; each
/// expression becomes the rule `expression = expected` (`IS NULL` for
/// NULL; floats within 1e-9). Returns (file, rule) pairs.
fn slt_cases(
    files: &[std::path::PathBuf],
    schema: &strata_core::rules::Schema,
) -> Vec<(String, String)> {
    use datafusion::sql::sqlparser::ast::{SelectItem, SetExpr, Statement};
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let Some(types) = lines[i].strip_prefix("query ") else {
                i += 1;
                continue;
            };
            let types: Vec<char> = types
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .chars()
                .collect();
            i += 1;
            let mut sql = Vec::new();
            while i < lines.len() && lines[i].trim() != "----" && !lines[i].trim().is_empty() {
                sql.push(lines[i]);
                i += 1;
            }
            let mut results = Vec::new();
            if i < lines.len() && lines[i].trim() == "----" {
                i += 1;
                while i < lines.len() && !lines[i].trim().is_empty() {
                    results.push(lines[i]);
                    i += 1;
                }
            }
            // `<slt:ignore>` is a wildcard of the .slt runner, not a value.
            if results.len() != 1 || results[0].contains("<slt:ignore>") {
                continue;
            }
            let Ok(statements) = Parser::parse_sql(&GenericDialect {}, &sql.join("\n")) else {
                continue;
            };
            let [Statement::Query(query)] = statements.as_slice() else {
                continue;
            };
            let SetExpr::Select(select) = query.body.as_ref() else {
                continue;
            };
            if !select.from.is_empty() || select.selection.is_some() {
                continue;
            }
            let expected: Vec<&str> = results[0].split_whitespace().collect();
            if expected.len() != select.projection.len() || types.len() != expected.len() {
                continue;
            }
            for ((item, kind), value) in select.projection.iter().zip(&types).zip(&expected) {
                let SelectItem::UnnamedExpr(expr) = item else {
                    continue;
                };
                let expression = expr.to_string();
                let rule = match (kind, *value) {
                    (_, "NULL") => format!("({expression}) IS NULL"),
                    ('I', v) if v.parse::<i64>().is_ok() => format!("({expression}) = {v}"),
                    ('R', v) if v.parse::<f64>().is_ok_and(f64::is_finite) => format!(
                        "ABS(({expression}) - ({v})) <= 0.000000001 * GREATEST(1, ABS({v}))"
                    ),
                    ('B', "true") => format!("({expression}) = TRUE"),
                    ('B', "false") => format!("({expression}) = FALSE"),
                    ('T', v) if v != "(empty)" => {
                        format!("({expression}) = '{}'", v.replace('\'', "''"))
                    }
                    _ => continue,
                };
                if strata_core::rules::check_predicate(&rule, schema).is_ok() {
                    cases.push((name.clone(), rule));
                }
            }
        }
    }
    cases.sort();
    cases.dedup();
    cases
}

/// DataFusion's own expression tests, run as rules through strata: embedded
/// and on every engine the harness reaches. A case passes where the rule
/// holds for the accounts, i.e. the expression gives DataFusion's expected
/// value. Every engine must agree with the embedded engine on every case;
/// the counts go to the README.
#[test]
fn datafusion_slt_cases_agree_on_every_engine() {
    let extracted = Dir::new();
    let Some(files) = slt_files(&extracted) else {
        assert!(
            std::env::var("STRATA_REQUIRE_E2E").as_deref() != Ok("1"),
            "the .slt cases are required in CI: run `cargo fetch --manifest-path .ci/slt/Cargo.toml`"
        );
        eprintln!(
            "\n*** SKIPPED DataFusion's .slt cases: datafusion-sqllogictest 55.2.0 is not in cargo's cache (cargo fetch --manifest-path .ci/slt/Cargo.toml) ***\n"
        );
        return;
    };
    let dir = Dir::new();
    write_project(&dir, "");
    let schema = rule_schema(&dir);
    let cases = slt_cases(&files, &schema);
    assert!(
        cases.len() >= 200,
        "only {} .slt cases in the rule language",
        cases.len()
    );
    let rules: Vec<String> = cases.iter().map(|(_, rule)| rule.clone()).collect();
    write_project(&dir, &segmentations(&rules));
    let expected = embedded(&dir);
    let holds = |members: &BTreeMap<String, String>| members.values().all(|m| m == "m");
    let embedded_pass: Vec<bool> = expected.members.iter().map(holds).collect();
    let mut table = vec![format!(
        "embedded: {} cases, {} give DataFusion's value",
        cases.len(),
        embedded_pass.iter().filter(|p| **p).count()
    )];
    for ((file, rule), pass) in cases.iter().zip(&embedded_pass) {
        if !pass {
            table.push(format!("  not DataFusion's value: {file}: `{rule}`"));
        }
    }
    let mut report = Vec::new();
    for engine in [Engine::Postgres, Engine::DuckDb, Engine::MariaDb] {
        if !engine.available() {
            continue;
        }
        let script = dir
            .command(&["sql", "--dialect", engine.dialect()])
            .stdout();
        let result = match engine.run(&dir, &script) {
            Ok(result) => result.by_account(),
            Err(error) => {
                report.push(format!(
                    "{engine:?}: the script fails: {}",
                    first_lines(&error, 6)
                ));
                continue;
            }
        };
        let mut pass = 0;
        for (idx, (file, rule)) in cases.iter().enumerate() {
            let members = result.get(&format!("r{idx}")).cloned().unwrap_or_default();
            let engine_pass = !members.is_empty() && holds(&members);
            pass += usize::from(engine_pass);
            if engine_pass != embedded_pass[idx] && report.len() < 20 {
                report.push(format!(
                    "{engine:?}: {file}: `{rule}` holds on the embedded engine: {}, on {engine:?}: {engine_pass}",
                    embedded_pass[idx]
                ));
            }
        }
        table.push(format!(
            "{engine:?}: {} cases, {pass} give DataFusion's value",
            cases.len()
        ));
    }
    eprintln!("{}", table.join("\n"));
    assert!(
        report.is_empty(),
        "{}\n{}",
        table.join("\n"),
        report.join("\n")
    );
}
