//! `strata sql`: golden scripts per dialect on the tiny fixture, and the
//! PostgreSQL script run on the real server (127.0.0.1:5432, database
//! `test`) against the same data as an embedded run: identical memberships,
//! counts exact, ratios within 1e-9.
mod util;

use std::path::Path;
use std::process::Command;

use util::{Dir, embedded_features, normalize, postgres_available, psql};

const DIALECTS: [&str; 5] = ["postgres", "bigquery", "snowflake", "duckdb", "mysql"];

fn golden_path(dialect: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("tiny.{dialect}.sql"))
}

#[test]
fn sql_scripts_match_their_golden_files() {
    let dir = Dir::fixture("tiny");
    for dialect in DIALECTS {
        let script = dir.command(&["sql", "--dialect", dialect]).stdout();
        let path = golden_path(dialect);
        if std::env::var("STRATA_BLESS").as_deref() == Ok("1") {
            std::fs::create_dir_all(path.parent().expect("folder")).expect("golden folder");
            std::fs::write(&path, &script).expect("write golden");
            continue;
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} missing; run with STRATA_BLESS=1 to write it",
                path.display()
            )
        });
        assert_eq!(
            script,
            golden,
            "{dialect}: the script differs from {} (STRATA_BLESS=1 rewrites it after review)",
            path.display()
        );
    }
}

/// One segment per row of the README's dialect semantics table; each
/// dialect's script for it is a golden file (`semantics.<dialect>.sql`).
const SEMANTICS: &str = r#"
[[segmentation]]
name = "semantics"
kind = "rules"
segments = [
  { name = "least-greatest-null", when = "LEAST(employees, seats) > 3 OR GREATEST(employees, seats) < 9" },
  { name = "round-half",          when = "ROUND(employees / 4) = 13 OR ROUND(employees * 0.25, 1) = 12.5" },
  { name = "like-escape",         when = "name LIKE '100\\% a\\_b%'" },
  { name = "ilike",               when = "name ILIKE 'ac%'" },
  { name = "division",            when = "employees / seats > 2.5" },
  { name = "modulo",              when = "employees % 7 = -1 OR employees / 4 % 2 = 0.5" },
  { name = "precedence",          when = "employees * (seats % 3) > 1" },
  { name = "trim",                when = "TRIM(name) = 'Acme'" },
  { name = "dates",               when = "created_at >= DATE '2025-06-01' AND created_at < TIMESTAMP '2026-01-01 12:00:00'" },
]
"#;

#[test]
fn semantics_scripts_match_their_golden_files() {
    let dir = Dir::fixture("tiny");
    let text = dir.read("strata.toml");
    dir.create("strata.toml", &format!("{text}{SEMANTICS}"));
    for dialect in DIALECTS {
        let script = dir
            .command(&["sql", "--dialect", dialect, "--segmentation", "semantics"])
            .stdout();
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(format!("semantics.{dialect}.sql"));
        if std::env::var("STRATA_BLESS").as_deref() == Ok("1") {
            std::fs::write(&path, &script).expect("write golden");
            continue;
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} missing; run with STRATA_BLESS=1 to write it",
                path.display()
            )
        });
        assert_eq!(
            script,
            golden,
            "{dialect}: the script differs from {} (STRATA_BLESS=1 rewrites it after review)",
            path.display()
        );
    }
}

#[test]
fn sql_rejects_bad_arguments_with_help() {
    let dir = Dir::fixture("tiny");
    let stderr = dir.command(&["sql", "--dialect", "oracle"]).failure();
    assert!(stderr.contains("unknown dialect `oracle`"), "{stderr}");
    assert!(
        stderr.contains("postgres, bigquery, snowflake, duckdb, mysql"),
        "{stderr}"
    );
    let stderr = dir.command(&["sql", "--segmentation", "sise"]).failure();
    assert!(stderr.contains("no segmentation `sise`"), "{stderr}");
    let stderr = dir
        .command(&["sql", "--table", "events=x; DROP TABLE y"])
        .failure();
    assert!(stderr.contains("a table name is letters"), "{stderr}");
    let only = dir
        .command(&[
            "sql",
            "--segmentation",
            "health",
            "--table",
            "events=analytics.events",
        ])
        .stdout();
    assert!(only.contains("AS \"health\""), "{only}");
    assert!(!only.contains("AS \"size\""), "{only}");
    assert!(only.contains("FROM analytics.events e"), "{only}");
}

/// Creates `schema` with the tiny fixture's three tables, then runs `extra`
/// (inserts, `\\copy`) in it.
fn create_tables(dir: &Dir, schema: &str, extra: &str) {
    let setup = format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path = {schema};\n\
         CREATE TABLE accounts (account_id TEXT, name TEXT, created_at TIMESTAMPTZ, employees INTEGER, industry TEXT, country TEXT, plan TEXT, owner TEXT, seats INTEGER);\n\
         CREATE TABLE events (account_id TEXT, user_id TEXT, event TEXT, ts TIMESTAMPTZ, source TEXT);\n\
         CREATE TABLE revenue (account_id TEXT, month DATE, mrr DOUBLE PRECISION);\n{extra}"
    );
    dir.create("setup.sql", &setup);
    let output = psql(&["-f", &dir.root.join("setup.sql").display().to_string()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `script` in `schema` with CSV output, then drops the schema.
fn run_in(dir: &Dir, schema: &str, script: &str) -> std::process::Output {
    dir.create("run.sql", &format!("SET search_path = {schema};\n{script}"));
    let output = psql(&[
        "--csv",
        "-f",
        &dir.root.join("run.sql").display().to_string(),
    ]);
    let _ = psql(&["-c", &format!("DROP SCHEMA IF EXISTS {schema} CASCADE")]);
    output
}

#[test]
fn postgres_script_matches_the_embedded_run() {
    if !postgres_available() {
        return;
    }
    let dir = Dir::fixture("tiny");
    dir.command(&["run", "--out", "out", "--no-store", "--quick-report"])
        .success();
    let schema = format!("strata_sql_{}", std::process::id());
    create_tables(
        &dir,
        &schema,
        &format!(
            "\\copy accounts FROM '{root}/accounts.csv' CSV HEADER\n\
             \\copy events FROM '{root}/events.csv' CSV HEADER\n\
             \\copy revenue FROM '{root}/revenue.csv' CSV HEADER\n",
            root = dir.root.display()
        ),
    );
    let script = dir.command(&["sql", "--dialect", "postgres"]).stdout();
    let output = run_in(&dir, &schema, &script);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    assert_eq!(rows.len(), 4, "{csv}");

    // Memberships: exactly those of the embedded run.
    let memberships = dir.read("out/memberships.csv");
    for line in memberships.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (account, segmentation, segment) = (fields[0], fields[1], fields[2]);
        let row = rows.iter().find(|r| r[0] == account).expect("account row");
        let column = header
            .iter()
            .position(|h| *h == segmentation)
            .expect("segment column");
        assert_eq!(row[column], segment, "{account} {segmentation}");
    }

    // Features: every computed column equal (account attributes are the tables' own).
    let embedded = embedded_features(&dir.root.join("out/features.parquet"));
    let ids = &embedded["account_id"];
    let skip = [
        "account_id",
        "created_at",
        "name",
        "industry",
        "country",
        "plan",
        "owner",
    ];
    let mut compared = 0;
    for (column, values) in &embedded {
        if skip.contains(&column.as_str()) {
            continue;
        }
        let idx = header
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| panic!("the script has no column {column}"));
        for (account, expected) in ids.iter().zip(values) {
            let row = rows.iter().find(|r| r[0] == account).expect("row");
            assert_eq!(normalize(row[idx]), *expected, "{column} of {account}");
            compared += 1;
        }
    }
    assert!(compared >= 36 * 4, "only {compared} values compared");
}

#[test]
fn rule_text_cannot_inject_sql() {
    // A rule that parses reaches the SQL only as a printed expression tree:
    // quotes in string literals are doubled, names are quoted identifiers.
    let dir = Dir::fixture("tiny");
    dir.edit(
        "strata.toml",
        "{ name = \"SMB\",        when = \"employees < 200\" }",
        "{ name = \"SMB'; DROP TABLE accounts; --\", when = \"plan = 'x''; DROP TABLE accounts; --'\" }",
    );
    let script = dir.command(&["sql", "--segmentation", "size"]).stdout();
    assert!(
        script.contains("'x''; DROP TABLE accounts; --'"),
        "{script}"
    );
    assert!(
        script.contains("THEN 'SMB''; DROP TABLE accounts; --'"),
        "{script}"
    );
    if postgres_available() {
        // The server parses the CASE as one expression per segmentation: run it
        // on empty tables and get no error and no dropped table.
        let schema = format!("strata_inject_{}", std::process::id());
        create_tables(
            &dir,
            &schema,
            "INSERT INTO accounts VALUES ('a1', 'A', '2025-01-01', 10, 'x', 'US', 'x''; DROP TABLE accounts; --', 'o', 1);\n",
        );
        // Counted in the same session, after the script: the table is still there.
        let script = format!(
            "{}\nSELECT count(*) AS remaining FROM accounts;\n",
            script.trim()
        );
        let output = run_in(&dir, &schema, &script);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let csv = String::from_utf8_lossy(&output.stdout);
        assert!(csv.ends_with("remaining\n1\n"), "{csv}");
        assert!(csv.contains("SMB'; DROP TABLE accounts; --"), "{csv}");
    }
}

#[test]
fn duckdb_script_gives_the_embedded_memberships() {
    let Some(python) = util::python_with(&["duckdb"], "DuckDB script test") else {
        return;
    };
    let dir = Dir::fixture("tiny");
    dir.command(&["run", "--out", "out", "--no-store", "--quick-report"])
        .success();
    let script = dir.command(&["sql", "--dialect", "duckdb"]).stdout();
    dir.create("script.sql", &script);
    let program = r#"
import duckdb, sys
con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
con.execute("CREATE TABLE accounts AS SELECT * FROM read_csv('accounts.csv', types={'created_at': 'TIMESTAMPTZ'})")
con.execute("CREATE TABLE events AS SELECT * FROM read_csv('events.csv', types={'ts': 'TIMESTAMPTZ'})")
con.execute("CREATE TABLE revenue AS SELECT * FROM read_csv('revenue.csv')")
script = open('script.sql').read().strip().rstrip(';')
for account, size, health in con.execute(f"SELECT account_id, size, health FROM ({script})").fetchall():
    print(f"{account},size,{size or ''}")
    print(f"{account},health,{health or ''}")
"#;
    let output = Command::new(&python)
        .current_dir(&dir.root)
        .args(["-c", program])
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut got: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let mut expected: Vec<String> = dir
        .read("out/memberships.csv")
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
}

/// `strata dbt` on the demo (with a frozen clustering): `dbt build` with
/// dbt-duckdb passes every model and schema test on the demo's tables loaded
/// into DuckDB, and the model tables hold the embedded run's memberships and
/// features (issue 24).
#[test]
fn dbt_build_in_duckdb_gives_the_embedded_memberships_and_features() {
    let Some(python) = util::python_with(
        &["duckdb", "dbt.cli.main", "dbt.adapters.duckdb"],
        "dbt test",
    ) else {
        return;
    };
    let dir = Dir::new();
    dir.command(&["demo", "--out", ".", "--accounts", "300", "--no-run"])
        .success();
    dir.command(&["discover", "--freeze", "behavior_v1"])
        .success();
    dir.command(&["run", "--out", "out", "--no-store", "--quick-report"])
        .success();
    let stdout = dir
        .command(&["dbt", "--out", "dbt", "--dialect", "duckdb"])
        .stdout();
    for file in [
        "models/strata_features.sql",
        "models/strata_segment_size.sql",
        "models/strata_segment_behavior_v1.sql",
        "models/strata_memberships.sql",
        "models/strata_schema.yml",
        "tests/strata_one_segment_per_account.sql",
    ] {
        assert!(stdout.contains(file), "{file} missing from\n{stdout}");
    }
    assert!(
        !stdout.contains("strata_segment_behavior.sql"),
        "a clusters segmentation is not SQL until frozen: {stdout}"
    );
    let warehouse = dir.root.join("warehouse.duckdb");
    dir.create(
        "dbt/profiles.yml",
        &format!(
            "strata:\n  target: test\n  outputs:\n    test:\n      type: duckdb\n      path: {}\n      threads: 2\n      settings:\n        TimeZone: UTC\n",
            warehouse.display()
        ),
    );
    let program = r#"
import duckdb, sys
from dbt.cli.main import dbtRunner
con = duckdb.connect('warehouse.duckdb')
con.execute("SET TimeZone='UTC'")
con.execute("CREATE TABLE accounts AS SELECT * FROM read_csv('data/accounts.csv', types={'created_at': 'TIMESTAMPTZ'})")
con.execute("CREATE TABLE events AS SELECT * FROM read_parquet('data/events.parquet')")
con.execute("CREATE TABLE revenue AS SELECT * FROM read_csv('data/revenue.csv')")
con.execute("CREATE TABLE feedback AS SELECT * FROM read_csv('data/feedback.csv')")
con.close()
result = dbtRunner().invoke(['build', '--project-dir', 'dbt', '--profiles-dir', 'dbt', '--quiet'])
if not result.success:
    sys.exit(f"dbt build failed: {result.exception}")
statuses = sorted(set(str(r.status) for r in result.result))
print(f"{len(result.result)} nodes: {statuses}", file=sys.stderr)
con = duckdb.connect('warehouse.duckdb')
con.execute("COPY (SELECT * FROM strata_features ORDER BY account_id) TO 'dbt_features.csv' (HEADER)")
con.execute("COPY (SELECT * FROM strata_memberships) TO 'dbt_memberships.csv' (HEADER)")
"#;
    let output = Command::new(&python)
        .current_dir(&dir.root)
        .args(["-c", program])
        .output()
        .expect("run python");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{stderr}\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    // 4 segment models (the `health` scorecard is left out, as scores are)
    // + features + memberships; 3 tests per segment model, 2 on features,
    // 3 on memberships, and the singular test.
    let nodes: usize = stderr
        .lines()
        .find_map(|line| {
            line.strip_suffix("]")
                .and_then(|l| l.split(" nodes:").next())
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert_eq!(nodes, 6 + 4 * 3 + 2 + 3 + 1, "{stderr}");
    assert!(stderr.contains("['pass', 'success']"), "{stderr}");

    // Memberships: those of the embedded run, segmentation by segmentation.
    let read_rows = |name: &str| -> Vec<Vec<String>> {
        csv::Reader::from_path(dir.root.join(name))
            .expect("csv")
            .records()
            .map(|r| r.expect("row").iter().map(str::to_string).collect())
            .collect()
    };
    let mut got: Vec<String> = read_rows("dbt_memberships.csv")
        .iter()
        .map(|r| r.join(","))
        .collect();
    let segmentations: std::collections::BTreeSet<String> = read_rows("dbt_memberships.csv")
        .iter()
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(
        segmentations.iter().map(String::as_str).collect::<Vec<_>>(),
        ["acv", "behavior_v1", "size", "usage"]
    );
    let mut expected: Vec<String> = read_rows("out/memberships.csv")
        .into_iter()
        .filter(|r| segmentations.contains(&r[1]))
        .map(|r| r.join(","))
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got.len(), 4 * 300);
    assert_eq!(got, expected);

    // Features: every computed column equal (account attributes are the tables' own).
    let mut reader = csv::Reader::from_path(dir.root.join("dbt_features.csv")).expect("csv");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows: Vec<Vec<String>> = read_rows("dbt_features.csv");
    let embedded = embedded_features(&dir.root.join("out/features.parquet"));
    let ids = &embedded["account_id"];
    let skip = [
        "account_id",
        "name",
        "created_at",
        "industry",
        "country",
        "plan",
        "owner",
    ];
    let mut compared = 0;
    for (column, values) in &embedded {
        if skip.contains(&column.as_str()) {
            continue;
        }
        let idx = header
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| panic!("strata_features has no column {column}"));
        for (account, expected) in ids.iter().zip(values) {
            let row = rows.iter().find(|r| &r[0] == account).expect("row");
            assert_eq!(normalize(&row[idx]), *expected, "{column} of {account}");
            compared += 1;
        }
    }
    assert!(compared >= 40 * 300, "only {compared} values compared");
}
