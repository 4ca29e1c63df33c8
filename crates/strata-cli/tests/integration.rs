//! End-to-end tests of `strata` on small fixture projects whose expected
//! numbers were worked out by hand (see the comments beside each number).
mod util;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use util::Dir;

fn read_features(dir: &Dir) -> RecordBatch {
    let file =
        std::fs::File::open(dir.root.join("out/features.parquet")).expect("features.parquet");
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat")
}

/// The feature column as floats, NULL as None, in account order.
fn feature(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let column = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no feature {name}"));
    let floats = datafusion::arrow::compute::cast(column, &DataType::Float64).expect("cast");
    let floats = floats.as_primitive::<Float64Type>();
    (0..floats.len())
        .map(|i| floats.is_valid(i).then(|| floats.value(i)))
        .collect()
}

#[test]
fn tiny_fixture_features_are_exact() {
    let dir = Dir::fixture("tiny");
    dir.command(&["run", "--project", ".", "--out", "out"])
        .stdout();
    let batch = read_features(&dir);
    // Accounts a1, a2, a3, a4 in file order; as_of 2026-10-31, t_end 2026-11-01.
    let n = None;
    let cases: &[(&str, [Option<f64>; 4])] = &[
        // a1: 10-31 x2 (u1 app, u2 api), 10-20, 09-25; the 11-01 event is after t_end.
        // a3: 10-30T23:30-02:00 is 10-31 UTC; 10-05 integration. a2: only 08-01 (91 days ago).
        ("events_7d", [Some(2.0), Some(0.0), Some(1.0), Some(0.0)]),
        ("events_28d", [Some(3.0), Some(0.0), Some(2.0), Some(0.0)]),
        ("events_90d", [Some(4.0), Some(0.0), Some(2.0), Some(0.0)]),
        ("events_total", [Some(4.0), Some(1.0), Some(2.0), Some(0.0)]),
        (
            "active_days_7d",
            [Some(1.0), Some(0.0), Some(1.0), Some(0.0)],
        ),
        (
            "active_days_28d",
            [Some(2.0), Some(0.0), Some(2.0), Some(0.0)],
        ),
        (
            "active_days_90d",
            [Some(3.0), Some(0.0), Some(2.0), Some(0.0)],
        ),
        ("users_7d", [Some(2.0), Some(0.0), Some(0.0), Some(0.0)]),
        ("users_28d", [Some(2.0), Some(0.0), Some(1.0), Some(0.0)]),
        (
            "distinct_events",
            [Some(3.0), Some(1.0), Some(2.0), Some(0.0)],
        ),
        (
            "distinct_events_7d",
            [Some(2.0), Some(0.0), Some(1.0), Some(0.0)],
        ),
        (
            "distinct_events_28d",
            [Some(2.0), Some(0.0), Some(2.0), Some(0.0)],
        ),
        // a1: 1 api of 4; a2: 1 integration of 1; a3: the NULL source is not API, 1 of 2.
        ("api_share", [Some(0.25), Some(1.0), Some(0.5), n]),
        ("api_share_28d", [Some(1.0 / 3.0), n, Some(0.5), n]),
        (
            "days_since_last_event",
            [Some(0.0), Some(91.0), Some(0.0), n],
        ),
        // a1: 3 in the last 28 days / 1 (09-25) in the 28 before.
        ("trend_28d", [Some(3.0), n, n, n]),
        // a3 signed up 2026-10-02 15:00 UTC: days 10-05 and 10-31 are within 30 days.
        (
            "days_since_signup",
            [Some(654.0), Some(517.0), Some(29.0), Some(965.0)],
        ),
        (
            "active_days_first_30d",
            [Some(0.0), Some(0.0), Some(2.0), Some(0.0)],
        ),
        (
            "event_task_created_28d",
            [Some(2.0), Some(0.0), Some(0.0), Some(0.0)],
        ),
        (
            "integrations_60d",
            [Some(0.0), Some(0.0), Some(1.0), Some(0.0)],
        ),
        ("tasks_28d", [Some(2.0), Some(0.0), Some(0.0), Some(0.0)]),
        ("events_per_user_28d", [Some(1.5), n, Some(2.0), n]),
        // a1: only u1 used the app in 90 days (u2 came through the API); a2's
        // 08-01 event is 91 days old; a3's events are from no user or the integration.
        (
            "app_users_90d",
            [Some(1.0), Some(0.0), Some(0.0), Some(0.0)],
        ),
        ("mrr", [Some(150.0), Some(800.0), Some(200.0), Some(0.0)]),
        ("arr", [Some(1800.0), Some(9600.0), Some(2400.0), Some(0.0)]),
        (
            "mrr_12m_ago",
            [Some(100.0), Some(1000.0), Some(0.0), Some(50.0)],
        ),
        ("seats", [Some(10.0), Some(80.0), Some(5.0), n]),
    ];
    let mut failures = Vec::new();
    for (name, expected) in cases {
        let got = feature(&batch, name);
        let same = got.iter().zip(expected).all(|(g, e)| match (g, e) {
            (Some(g), Some(e)) => (g - e).abs() < 1e-12,
            (None, None) => true,
            _ => false,
        });
        if !same {
            failures.push(format!("{name}: got {got:?}, expected {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let ids = batch
        .column_by_name("account_id")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(
        ids.iter().flatten().collect::<Vec<_>>(),
        ["a1", "a2", "a3", "a4"]
    );
}

#[test]
fn tiny_fixture_memberships_and_economics_are_exact() {
    let dir = Dir::fixture("tiny");
    let (stdout, stderr) = dir
        .command(&["run", "--project", ".", "--out", "out"])
        .success();
    assert_eq!(
        dir.read("out/memberships.csv"),
        dir.read("expected_memberships.csv")
    );
    // The unknown account's event is reported, not silently dropped.
    assert!(
        stderr.contains("1 event(s) of 1 account id(s) not in the accounts table (e.g. `zz`)"),
        "{stderr}"
    );
    assert!(stdout.contains("Mid-Market"), "{stdout}");

    let json: serde_json::Value = serde_json::from_str(&dir.read("out/segments.json")).unwrap();
    let close = |value: &serde_json::Value, expected: f64| {
        let got = value.as_f64().unwrap_or(f64::NAN);
        assert!(
            (got - expected).abs() < 1e-9,
            "got {value}, expected {expected}"
        );
    };
    let overall = &json["overall"];
    // MRR now 150 + 800 + 200 (+0 for a4, churned) = 1150 -> ARR 13,800.
    close(&overall["arr"], 13_800.0);
    // Paying 12 months ago: a1 100, a2 1000, a4 50 = 1150; now 150 + 800 + 0 = 950.
    close(&overall["nrr"], 950.0 / 1150.0);
    // Capped: 100 + 800 + 0 = 900.
    close(&overall["grr"], 900.0 / 1150.0);
    close(&overall["logo_churn"], 1.0 / 3.0);
    // NPS: u1's latest answer 6, u3's 9 (at 23:59:59 on as_of, inside), a3's 3; the
    // 2025-10-15 answer is before the window. 100 * (1 - 2) / 3.
    close(&overall["nps"], -100.0 / 3.0);
    assert_eq!(overall["nps_answers"], 3);

    let size = &json["segmentations"][0];
    assert_eq!(size["name"], "size");
    let smb = &size["segments"][0];
    assert_eq!(smb["name"], "SMB");
    assert_eq!(smb["rule"], "employees < 200");
    assert_eq!(smb["accounts"], 1);
    close(&smb["share_of_accounts"], 0.25);
    close(&smb["share_of_arr"], 1800.0 / 13_800.0);
    close(&smb["nrr"], 1.5);
    close(&smb["grr"], 1.0);
    close(&smb["expansion_mrr"], 50.0);
    close(&smb["nps"], -100.0);
    let mid = &size["segments"][1];
    close(&mid["nrr"], 0.8);
    close(&mid["contraction_mrr"], 200.0);
    close(&mid["nps"], 100.0);
    let enterprise = &size["segments"][2];
    assert!(
        enterprise["nrr"].is_null(),
        "a new account has no NRR: {enterprise}"
    );
    close(&enterprise["new_mrr"], 200.0);
    let unassigned = &size["unassigned"];
    assert_eq!(unassigned["accounts"], 1);
    close(&unassigned["logo_churn"], 1.0);
    close(&unassigned["churned_mrr"], 50.0);
}

#[test]
fn run_is_deterministic() {
    let dir = Dir::fixture("tiny");
    dir.command(&["run", "--out", "out"]).stdout();
    let first = (
        dir.read("out/memberships.csv"),
        dir.read("out/segments.json"),
        std::fs::read(dir.root.join("out/features.parquet")).unwrap(),
    );
    dir.command(&["run", "--out", "out"]).stdout();
    let second = (
        dir.read("out/memberships.csv"),
        dir.read("out/segments.json"),
        std::fs::read(dir.root.join("out/features.parquet")).unwrap(),
    );
    assert!(first == second, "two runs on the same inputs differ");
}

#[test]
fn json_output_and_as_of_override() {
    let dir = Dir::fixture("tiny");
    let stdout = dir
        .command(&["run", "--out", "out", "--json", "--as-of", "2026-08-01"])
        .stdout();
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("--json prints JSON");
    assert_eq!(json["as_of"], "2026-08-01");
    // On 2026-08-01 only a2's event (that very day) and a1's older ones exist: a2 is active.
    assert!(dir.read("out/memberships.csv").contains("a2,health,active"));
}

#[test]
fn features_lists_definitions() {
    let dir = Dir::fixture("tiny");
    let stdout = dir.command(&["features"]).stdout();
    for expected in [
        "events_28d",
        "distinct UTC dates with an event in the last 28 days",
        "integrations_60d",
        "seats",
        "event_task_created_28d",
        "mrr_12m_ago",
    ] {
        assert!(stdout.contains(expected), "missing {expected}:\n{stdout}");
    }
}

#[test]
fn validate_reports_ok() {
    let dir = Dir::fixture("tiny");
    let stdout = dir.command(&["validate"]).stdout();
    assert!(stdout.starts_with("ok: 4 accounts, 9 events"), "{stdout}");
}

/// Every bad input gets an error naming what, where and what to do; none panics.
#[test]
fn bad_inputs_get_located_errors() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        // (file, from, to, expected fragments)
        (
            "accounts.csv",
            "account_id,name",
            "id,name",
            &[
                "missing required column `account_id` in the accounts table",
                "help",
            ],
        ),
        (
            "accounts.csv",
            "a2,Beta,2025-06-01,500",
            "a2,Beta,2025-06-01,many",
            &[
                "accounts.csv, row 2 (line 3), column `employees`",
                "expected an integer, found `many`",
            ],
        ),
        (
            "accounts.csv",
            "a2,Beta,2025-06-01",
            "a2,Beta,not-a-date",
            &["row 2 (line 3), column `created_at`", "expected a date"],
        ),
        (
            "accounts.csv",
            "a2,Beta",
            "a1,Beta",
            &[
                "duplicate account_id `a1` (first seen on row 1)",
                "row 2 (line 3)",
            ],
        ),
        (
            "accounts.csv",
            "a2,Beta",
            ",Beta",
            &["row 2 (line 3), column `account_id`", "empty account_id"],
        ),
        (
            "events.csv",
            "2026-10-20 08:00:00",
            "last tuesday",
            &[
                "events.csv, row 3 (line 4), column `ts`",
                "1 event(s) with a timestamp that does not parse (first: `last tuesday`)",
            ],
        ),
        (
            "revenue.csv",
            "a2,2026-10-01,800",
            "a2,2026-10-01,-800",
            &[
                "revenue.csv, row 4 (line 5), column `mrr`",
                "mrr must be >= 0, found -800",
            ],
        ),
        (
            "feedback.csv",
            "nps,9,",
            "nps,11,",
            &[
                "feedback.csv, row 3 (line 4), column `score`",
                "NPS score must be between 0 and 10, found 11",
            ],
        ),
        (
            "strata.toml",
            "events = \"events.csv\"",
            "events = \"missing.csv\"",
            &["missing.csv", "the events file does not exist"],
        ),
        (
            "strata.toml",
            "employees < 200",
            "employes < 200",
            &[
                "unknown column `employes`",
                "size/SMB",
                "did you mean `employees`?",
            ],
        ),
        (
            "strata.toml",
            "[features]",
            "[options]\nunknown_accounts = \"error\"\n[features]",
            &[
                "1 event(s) of 1 account id(s) not in the accounts table",
                "zz",
            ],
        ),
    ];
    for (file, from, to, fragments) in cases {
        let dir = Dir::fixture("tiny");
        dir.edit(file, from, to);
        let stderr = dir.command(&["run", "--out", "out"]).failure();
        for fragment in *fragments {
            assert!(
                stderr.contains(fragment),
                "editing {file} ({from:?} -> {to:?}): missing {fragment:?} in\n{stderr}"
            );
        }
        assert!(
            !dir.root.join("out/memberships.csv").exists(),
            "a failed run wrote outputs"
        );
    }
}

#[test]
fn empty_tables_are_errors() {
    let dir = Dir::fixture("tiny");
    dir.create("accounts.csv", "account_id,name,created_at\n");
    let stderr = dir.command(&["validate"]).failure();
    assert!(stderr.contains("the accounts table is empty"), "{stderr}");

    let dir = Dir::fixture("tiny");
    dir.create("events.csv", "account_id,user_id,event,ts,source\n");
    let stderr = dir.command(&["validate"]).failure();
    assert!(stderr.contains("the events table is empty"), "{stderr}");

    let dir = Dir::fixture("tiny");
    dir.create("events.csv", "");
    let stderr = dir.command(&["validate"]).failure();
    assert!(
        stderr.contains("the file is empty (no header line)"),
        "{stderr}"
    );
}

#[test]
fn validation_reports_every_problem_at_once() {
    let dir = Dir::fixture("tiny");
    dir.edit("strata.toml", "employees < 200", "employes < 200");
    dir.edit(
        "strata.toml",
        "days_since_last_event > 21",
        "days_since_last_evnt > 21",
    );
    let stderr = dir.command(&["validate"]).failure();
    assert!(stderr.contains("2 problems found"), "{stderr}");
    assert!(
        stderr.contains("did you mean `days_since_last_event`?"),
        "{stderr}"
    );
}

#[test]
fn init_writes_a_project_that_runs() {
    let dir = Dir::fixture("tiny");
    std::fs::remove_file(dir.root.join("strata.toml")).unwrap();
    // "latest" would be 2026-11-01 (the event after the fixture's as_of): pin the date.
    let stdout = dir
        .command(&["init", ".", "--as-of", "2026-10-31"])
        .stdout();
    assert!(stdout.contains("wrote"), "{stdout}");
    let text = dir.read("strata.toml");
    for expected in [
        "as_of = \"2026-10-31\"",
        "name = \"size\"",
        "name = \"acv\"",
        "name = \"usage\"",
        "name = \"health\"",
        "# Firmographic",
    ] {
        assert!(text.contains(expected), "missing {expected}");
    }
    dir.command(&["run", "--out", "out"]).stdout();
    let memberships = dir.read("out/memberships.csv");
    // a2 pays 800/month: ARR 9,600 is in the 5k-15k tier.
    assert!(memberships.contains("a2,acv,5k-15k"), "{memberships}");
    // init refuses to overwrite.
    let stderr = dir.command(&["init", "."]).failure();
    assert!(stderr.contains("--force"), "{stderr}");
}

#[test]
fn ndjson_and_parquet_sources_give_the_same_features() {
    let dir = Dir::fixture("tiny");
    dir.command(&["run", "--out", "csv-out"]).stdout();
    // NDJSON accounts with typed values, a column mapping, and a timestamp with offset.
    let mut ndjson = String::new();
    for (id, created, employees) in [
        ("a1", "2025-01-15", "50"),
        ("a2", "2025-06-01", "500"),
        ("a3", "2026-10-02T15:00:00Z", "2000"),
        ("a4", "2024-03-10", "null"),
    ] {
        ndjson.push_str(&format!(
            "{{\"id\": \"{id}\", \"created_at\": \"{created}\", \"employees\": {employees}}}\n"
        ));
    }
    dir.create("accounts.ndjson", &ndjson);
    dir.edit(
        "strata.toml",
        "accounts = \"accounts.csv\"",
        "accounts = { path = \"accounts.ndjson\", columns = { account_id = \"id\" } }",
    );
    dir.command(&["run", "--out", "out"]).stdout();
    assert_eq!(
        dir.read("out/memberships.csv"),
        dir.read("expected_memberships.csv")
    );
}

/// Writes the tiny fixture's events as Parquet with timestamps of `data_type`
/// (values given as UTC milliseconds, converted to that type's unit).
fn write_events_parquet(dir: &Dir, data_type: datafusion::arrow::datatypes::DataType) {
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;
    // The instants of events.csv, in order (2026-10-30T23:30:00-02:00 is 2026-10-31T01:30Z).
    let millis: [i64; 9] = [
        1793437200000,
        1793440800000,
        1792483200000,
        1790337600000,
        1793491200000,
        1785542400000,
        1793410200000,
        1791158400000,
        1792022400000,
    ];
    let accounts = ["a1", "a1", "a1", "a1", "a1", "a2", "a3", "a3", "zz"];
    let users = [
        Some("u1"),
        Some("u2"),
        Some("u1"),
        Some("u1"),
        Some("u1"),
        Some("u3"),
        None,
        Some("u5"),
        Some("u9"),
    ];
    let events = [
        "task_created",
        "api_call",
        "task_created",
        "report_viewed",
        "task_created",
        "integration_connected",
        "report_viewed",
        "integration_connected",
        "login",
    ];
    let sources = [
        Some("app"),
        Some("api"),
        Some("app"),
        Some("app"),
        Some("app"),
        Some("integration"),
        None,
        Some("integration"),
        Some("app"),
    ];
    let ms: ArrayRef = Arc::new(Int64Array::from(millis.to_vec()));
    let as_ms = datafusion::arrow::compute::cast(
        &ms,
        &DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Millisecond, None),
    )
    .unwrap();
    // Naive -> naive keeps wall-clock values (which are UTC here); naive -> zoned
    // would reinterpret them, so zoned columns take the instants directly.
    let ts = match &data_type {
        DataType::Timestamp(unit, Some(zone)) => {
            let in_unit =
                datafusion::arrow::compute::cast(&as_ms, &DataType::Timestamp(*unit, None))
                    .unwrap();
            let values = datafusion::arrow::compute::cast(&in_unit, &DataType::Int64).unwrap();
            let values = values.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            match unit {
                datafusion::arrow::datatypes::TimeUnit::Microsecond => Arc::new(
                    datafusion::arrow::array::TimestampMicrosecondArray::from(
                        values.values().to_vec(),
                    )
                    .with_timezone(zone.as_ref()),
                )
                    as ArrayRef,
                _ => panic!("unsupported unit in test"),
            }
        }
        other => datafusion::arrow::compute::cast(&as_ms, other).unwrap(),
    };
    let schema = Schema::new(vec![
        Field::new("account_id", DataType::Utf8, false),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("event", DataType::Utf8, false),
        Field::new("ts", ts.data_type().clone(), false),
        Field::new("source", DataType::Utf8, true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from(accounts.to_vec())),
            Arc::new(StringArray::from(users.to_vec())),
            Arc::new(StringArray::from(events.to_vec())),
            ts,
            Arc::new(StringArray::from(sources.to_vec())),
        ],
    )
    .unwrap();
    let file = std::fs::File::create(dir.root.join("events.parquet")).unwrap();
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn parquet_events_with_and_without_time_zone_match_csv() {
    use datafusion::arrow::datatypes::TimeUnit;
    let reference = Dir::fixture("tiny");
    reference.command(&["run", "--out", "out"]).stdout();
    let expected = read_features(&reference);
    for data_type in [
        DataType::Timestamp(TimeUnit::Millisecond, None),
        DataType::Timestamp(TimeUnit::Microsecond, Some("+02:00".into())),
        DataType::Timestamp(TimeUnit::Microsecond, Some("America/New_York".into())),
    ] {
        let dir = Dir::fixture("tiny");
        write_events_parquet(&dir, data_type.clone());
        dir.edit(
            "strata.toml",
            "events = \"events.csv\"",
            "events = \"events.parquet\"",
        );
        dir.command(&["run", "--out", "out"]).stdout();
        assert_eq!(
            dir.read("out/memberships.csv"),
            dir.read("expected_memberships.csv"),
            "{data_type}"
        );
        let got = read_features(&dir);
        for field in expected.schema().fields() {
            let name = field.name();
            if matches!(field.data_type(), DataType::Int64 | DataType::Float64) {
                assert_eq!(
                    feature(&got, name),
                    feature(&expected, name),
                    "{name} with {data_type}"
                );
            }
        }
    }
}

#[test]
fn run_writes_a_self_contained_report() {
    let dir = Dir::fixture("tiny");
    dir.command(&["run", "--out", "out", "--as-of", "2026-10-31"])
        .stdout();
    dir.command(&["run", "--out", "out", "--as-of", "2026-11-25"])
        .stdout();
    let html = dir.read("out/report.html");
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("strata report <small>as of 2026-11-25</small>"));
    assert!(
        html.contains("<td>Mid-Market</td><td>1</td><td>25.0%</td>"),
        "{html}"
    );
    // One share chart per segmentation, and a history chart once two runs exist.
    assert_eq!(
        html.matches("share of accounts and of ARR per segment")
            .count(),
        2
    );
    assert!(
        html.contains("health: accounts per segment over time"),
        "{html}"
    );
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    // Offline: nothing is fetched.
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"));
}

#[test]
fn report_command_adds_icp_and_cohort_retention() {
    let dir = Dir::new();
    dir.command(&["demo", "--out", ".", "--accounts", "600", "--no-run"])
        .stdout();
    let out = dir.command(&["report", "--out", "out"]).stdout();
    assert!(out.contains("wrote out/report.html"), "{out}");
    let html = dir.read("out/report.html");
    assert!(html.contains("<h2>Ideal customer profile"), "ICP section");
    assert!(
        html.contains("<h2>Cohort retention <small>(by size)</small>"),
        "cohort section"
    );
    assert!(html.contains("revenue retention by months since signup"));
    assert!(
        html.contains("<h2>Segments to roadmap <small>(behavior)</small>"),
        "roadmap section"
    );
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"));
}

#[test]
fn memory_limit_spills_without_changing_results_and_says_when_too_small() {
    let dir = Dir::new();
    dir.command(&["demo", "--out", ".", "--accounts", "300", "--no-run"])
        .stdout();
    dir.command(&["run", "--out", "free", "--no-store"])
        .stdout();
    dir.edit(
        "strata.toml",
        "# memory_limit = \"4GiB\"",
        "memory_limit = \"16MiB\"",
    );
    dir.command(&["run", "--out", "limited", "--no-store"])
        .stdout();
    util::assert_same_outputs(&dir, "free", "limited");

    // A sort reserves 10 MB before it can spill: 1 MiB is too small, and the
    // error names strata's setting, not DataFusion's.
    dir.edit(
        "strata.toml",
        "memory_limit = \"16MiB\"",
        "memory_limit = \"1MiB\"",
    );
    let stderr = dir
        .command(&["run", "--out", "starved", "--no-store"])
        .failure();
    assert!(
        stderr.contains("the run needs more memory than `options.memory_limit` allows")
            && stderr.contains("pool_size: 1024.0 KB")
            && stderr.contains("raise `memory_limit` in the project's [options]"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("datafusion.runtime.memory_limit"),
        "{stderr}"
    );
}

#[test]
fn a_database_that_does_not_answer_is_an_outage_not_bad_input() {
    // Nothing listens on port 1 of the loopback interface.
    let down = "postgres://strata@127.0.0.1:1/test";
    let dir = Dir::fixture("tiny");
    let project = dir.read("strata.toml");

    // The state store is down: exit code 69 (EX_UNAVAILABLE), not 1, and
    // the message says the server did not answer; nothing is written.
    dir.create("strata.toml", &format!("store = \"{down}\"\n{project}"));
    let output = dir.command(&["run", "--out", "out"]).output_raw();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(69), "{stderr}");
    assert!(
        stderr.contains("store postgres://strata@127.0.0.1:1/test"),
        "{stderr}"
    );
    assert!(stderr.contains("PostgreSQL did not answer"), "{stderr}");
    assert!(
        stderr.contains("check that the store's server is running"),
        "{stderr}"
    );
    assert!(!dir.root.join("out/memberships.csv").exists());
    // Without the store the same project runs.
    dir.command(&["run", "--out", "out", "--no-store"])
        .success();

    // A source table in a database that is down: the same kind of error.
    dir.create(
        "strata.toml",
        &project.replace(
            "events = \"events.csv\"",
            &format!("events = {{ postgres = \"{down}\", table = \"events\" }}"),
        ),
    );
    let output = dir.command(&["validate"]).output_raw();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(69), "{stderr}");
    assert!(stderr.contains("postgres table events"), "{stderr}");

    // Bad input keeps exit code 1.
    dir.create(
        "strata.toml",
        &project.replace("employees < 200", "employes < 200"),
    );
    let output = dir.command(&["validate"]).output_raw();
    assert_eq!(output.status.code(), Some(1));
}

/// A `kind = "score"` segmentation on the tiny fixture's account columns,
/// worked out by hand (issue 22). Default scorecard: seats linear 0..100
/// (weight 1) and employees in bands >= 500 / >= 100 (weight 3), each its
/// own group, so 25 and 75 points; the `enterprise` scorecard (first) gives
/// enterprise accounts seats in bands >= 100 / >= 50 alone.
/// - a1 (pro, 10 seats, 50 employees): 0.1 x 25 + 0 = 2.5 -> at-risk
/// - a2 (enterprise, 80 seats): yellow, 0.5 x 100 = 50 -> watch
/// - a3 (starter, 5 seats, 2000 employees): 1.25 + 75 = 76.25 -> healthy
/// - a4 (free, no seats, no employees): no value at all -> unassigned
#[test]
fn scorecards_grade_accounts_and_explain_every_score() {
    let dir = Dir::fixture("tiny");
    dir.create(
        "strata.toml",
        &(dir.read("strata.toml")
            + r#"
[[segmentation]]
name = "score"
kind = "score"
grades = [ { name = "healthy", min = 70 }, { name = "watch", min = 40 }, { name = "at-risk", min = 0 } ]
measures = [
  { name = "seats", value = "seats", weight = 1, linear = [0, 100] },
  { name = "size", value = "employees", weight = 3, bands = { green = ">= 500", yellow = ">= 100" } },
]

[[segmentation.scorecard]]
name = "enterprise"
applies_to = "plan = 'enterprise'"
measures = [ { name = "seats", value = "seats", bands = { green = ">= 100", yellow = ">= 50" } } ]
"#),
    );
    dir.command(&["run", "--out", "out", "--no-store", "--quick-report"])
        .success();
    let memberships: Vec<String> = dir
        .read("out/memberships.csv")
        .lines()
        .filter(|line| line.contains(",score,"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        memberships,
        [
            "a1,score,at-risk",
            "a2,score,watch",
            "a3,score,healthy",
            "a4,score,"
        ]
    );
    let segments: serde_json::Value =
        serde_json::from_str(&dir.read("out/segments.json")).expect("segments.json");
    let scores = segments["scores"]["score"].as_array().expect("scores");
    let explanation = |idx: usize| scores[idx]["explanation"].as_str().unwrap_or_default();
    assert_eq!(
        explanation(0),
        "score 2.5/100 (at-risk) on default: seats 2.5/25: 10 on a scale from 0 to 100, size 0/75: 50 is short of green (>= 500) and yellow (>= 100)"
    );
    assert_eq!(
        explanation(1),
        "score 50/100 (watch) on enterprise: seats 50/100: 80 is yellow (>= 50), short of green (>= 100)"
    );
    assert_eq!(scores[2]["score"], 76.25);
    assert_eq!(scores[2]["scorecard"], "default");
    assert_eq!(
        explanation(3),
        "no score on default: no measure has a value"
    );
    assert_eq!(scores[3]["account_id"], "a4");
    assert!(scores[3]["score"].is_null() && scores[3]["grade"].is_null());
    assert_eq!(scores[1]["groups"][0]["measures"][0]["band"], "yellow");

    // Measures that do not fit their scale, and unknown names, are located errors.
    dir.edit(
        "strata.toml",
        "value = \"employees\"",
        "value = \"employes\"",
    );
    dir.edit(
        "strata.toml",
        "value = \"seats\", weight = 1, linear",
        "value = \"plan = 'pro'\", weight = 1, linear",
    );
    let error = dir.command(&["validate"]).failure();
    assert!(
        error.contains("segmentation `score`, scorecard `default`, measure `size`"),
        "{error}"
    );
    assert!(error.contains("employees"), "{error}");
    assert!(error.contains("but its scale needs a number"), "{error}");
}

/// `strata run --profile` prints each phase of the run once, in order, with
/// a total that is their sum; stdout keeps the segment tables.
#[test]
fn run_profile_lists_every_phase_and_their_total() {
    let dir = Dir::fixture("tiny");
    let (stdout, stderr) = dir
        .command(&["run", "--out", "out", "--no-store", "--profile"])
        .success();
    assert!(stdout.contains("wrote:"), "{stdout}");
    assert!(!stdout.contains("profile ("), "the profile goes to stderr");
    let table: Vec<(&str, f64)> = stderr
        .lines()
        .skip_while(|line| !line.starts_with("profile ("))
        .skip(3)
        .filter_map(|line| {
            let mut cells = line.split_whitespace();
            Some((cells.next()?, cells.next()?.parse().ok()?))
        })
        .collect();
    let phases: Vec<&str> = table.iter().map(|(phase, _)| *phase).collect();
    assert_eq!(
        phases,
        [
            "sources", "features", "segments", "analyses", "measures", "backtest", "outputs",
            "total"
        ],
        "{stderr}"
    );
    let sum: f64 = table[..table.len() - 1].iter().map(|(_, s)| s).sum();
    let total = table[table.len() - 1].1;
    assert!((sum - total).abs() < 0.01, "{sum} vs {total}: {stderr}");
}

/// An events folder that gains files: the first recorded run reads every
/// file, the next only those added since (a late event included), with the
/// features of a run that reads everything; a later as-of date after a scan
/// that left a later event out reads everything and says why; a bad row in
/// a new file is located in that file, a file with other columns refused;
/// the project named another way reads the same files.
#[test]
fn an_events_folder_is_read_incrementally() {
    let dir = Dir::fixture("tiny");
    let lines: Vec<String> = dir.read("events.csv").lines().map(String::from).collect();
    let file = |rows: &[String]| format!("{}\n{}\n", lines[0], rows.join("\n"));
    std::fs::create_dir(dir.root.join("events")).expect("events folder");
    dir.create("events/1.csv", &file(&lines[1..5]));
    dir.create("events/2.csv", &file(&lines[5..]));
    std::fs::remove_file(dir.root.join("events.csv")).expect("one events source");
    dir.edit(
        "strata.toml",
        "events = \"events.csv\"",
        "events = \"events\"",
    );

    let stdout = dir.command(&["run", "--out", "out"]).stdout();
    assert!(
        stdout.contains("events: full scan (no earlier scan is kept)"),
        "{stdout}"
    );
    assert_eq!(
        dir.read("out/memberships.csv"),
        dir.read("expected_memberships.csv")
    );
    // The same files however the project is named (here by its absolute
    // path rather than the working directory).
    let root = dir.root.display().to_string();
    let stdout = dir
        .command(&["run", "--out", "out", "--project", &root])
        .stdout();
    assert!(
        stdout.contains("events: incremental: the scan through 2026-10-31 advanced by 0 event(s) in 0 new file(s)"),
        "{stdout}"
    );

    // A day's file lands, with a late event of a2 (10-30).
    dir.create(
        "events/3.csv",
        &file(&["a2,u4,report_viewed,2026-10-30T08:00:00Z,app".to_string()]),
    );
    let stdout = dir.command(&["run", "--out", "out"]).stdout();
    assert!(
        stdout.contains("advanced by 1 event(s) in 1 new file(s)"),
        "{stdout}"
    );
    let incremental = read_features(&dir);
    assert_eq!(feature(&incremental, "events_7d")[1], Some(1.0));
    let stdout = dir.command(&["run", "--out", "out", "--full"]).stdout();
    assert!(stdout.contains("events: full scan (--full)"), "{stdout}");
    assert_eq!(read_features(&dir), incremental);

    // The kept scan through 10-31 left the 11-01 event out: a later date
    // cannot start from it.
    let stdout = dir
        .command(&["run", "--out", "out", "--as-of", "2026-11-02"])
        .stdout();
    assert!(
        stdout.contains("full scan (the kept scan through 2026-10-31 left out 1 later event(s)"),
        "{stdout}"
    );

    dir.create(
        "events/4.csv",
        &file(&["a1,u1,login,yesterday,app".to_string()]),
    );
    let stderr = dir.command(&["run", "--out", "out"]).failure();
    assert!(
        stderr.contains("4.csv, row 1 (line 2), column `ts`"),
        "{stderr}"
    );
    std::fs::remove_file(dir.root.join("events/4.csv")).expect("remove");
    dir.create("events/5.csv", "account,event,ts\na1,login,2026-10-31\n");
    let stderr = dir.command(&["run", "--out", "out"]).failure();
    assert!(
        stderr.contains("5.csv") && stderr.contains("its header differs"),
        "{stderr}"
    );

    // `strata init` finds the folder.
    std::fs::remove_file(dir.root.join("events/5.csv")).expect("remove");
    std::fs::remove_file(dir.root.join("strata.toml")).expect("remove");
    dir.command(&["init", ".", "--as-of", "2026-10-31"])
        .stdout();
    let text = dir.read("strata.toml");
    assert!(
        text.lines()
            .any(|line| line.starts_with("events ") && line.ends_with("= \"events\"")),
        "{text}"
    );
    dir.command(&["run", "--out", "out"]).stdout();
}
