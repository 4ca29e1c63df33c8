//! A generated customer base of any size, laid out as real data is (events
//! in time order, not grouped by account), with rules segmentations whose
//! memberships the tests check against an evaluation of the same rules
//! written here in Rust, row by row over `features.parquet`: nothing of
//! strata's rule engine (or of DataFusion) is on that side of the check.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Dir;

/// The as-of date of every generated base.
pub const AS_OF: &str = "2026-10-31";

/// A deterministic pseudo-random number for `(i, salt)` (SplitMix64).
fn mix(i: u64, salt: u64) -> u64 {
    let mut z = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const INDUSTRIES: [&str; 4] = ["saas", "health", "fintech", "retail"];
const EVENTS: [&str; 5] = [
    "login",
    "task_created",
    "report_viewed",
    "integration_connected",
    "export",
];

/// Writes `accounts.csv`, `events.csv` (about `events_per_account` events per
/// account over 200 days, sorted by time) and `revenue.csv` (13 months) into
/// `dir`. `seed` changes the data; the same seed gives the same files.
pub fn write_base(dir: &Dir, n_accounts: usize, events_per_account: usize, seed: u64) {
    let mut accounts = String::from("account_id,name,created_at,employees,industry,plan\n");
    for i in 0..n_accounts as u64 {
        let created = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default()
            + chrono::Duration::days((mix(i, seed) % 900) as i64);
        let employees = if mix(i, seed + 1) % 13 == 0 {
            String::new()
        } else {
            (mix(i, seed + 2) % 3000 + 1).to_string()
        };
        let industry = INDUSTRIES[(mix(i, seed + 3) % 4) as usize];
        let plan = ["free", "pro", "enterprise"][(mix(i, seed + 4) % 3) as usize];
        let _ = writeln!(
            accounts,
            "a{i:06},Account {i},{created},{employees},{industry},{plan}"
        );
    }
    dir.create("accounts.csv", &accounts);

    // (minute offset back from the end of as_of, account, event, source)
    let n_events = n_accounts * events_per_account;
    let mut events: Vec<(u64, u64, usize, &str)> = (0..n_events as u64)
        .map(|j| {
            // Skewed activity: some accounts log far more than others, some none.
            let account =
                (mix(j, seed + 5) % n_accounts as u64).min(mix(j, seed + 6) % n_accounts as u64);
            let minutes_back = mix(j, seed + 7) % (200 * 24 * 60);
            let event = (mix(j, seed + 8) % EVENTS.len() as u64) as usize;
            let source = ["app", "app", "api", "integration"][(mix(j, seed + 9) % 4) as usize];
            (minutes_back, account, event, source)
        })
        .collect();
    events.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    let mut text = String::with_capacity(n_events * 60);
    text.push_str("account_id,user_id,event,ts,source\n");
    for (minutes_back, account, event, source) in events {
        let ts = end - chrono::Duration::minutes(minutes_back as i64 + 1);
        let _ = writeln!(
            text,
            "a{account:06},u{},{},{}Z,{source}",
            mix(account, minutes_back) % 5,
            EVENTS[event],
            ts.format("%Y-%m-%dT%H:%M:%S")
        );
    }
    dir.create("events.csv", &text);

    let mut revenue = String::from("account_id,month,mrr\n");
    for i in 0..n_accounts as u64 {
        if mix(i, seed + 10) % 4 == 0 {
            continue;
        }
        let mrr = (mix(i, seed + 11) % 9000) as f64 + 0.5;
        for month in 0..13 {
            // Some accounts churn part-way.
            if mix(i, seed + 12) % 7 == 0 && month > 8 {
                continue;
            }
            let date = chrono::NaiveDate::from_ymd_opt(2025, 10, 1)
                .and_then(|d| d.checked_add_months(chrono::Months::new(month)))
                .unwrap_or_default();
            let _ = writeln!(revenue, "a{i:06},{date},{mrr}");
        }
    }
    dir.create("revenue.csv", &revenue);
}

/// The rules segmentations of [`project_file`], as (segmentation, segments).
pub const SEGMENTATIONS: &str = r#"
[[segmentation]]
name = "acv"
kind = "rules"
segments = [
  { name = "large", when = "arr >= 60000" },
  { name = "mid", when = "arr >= 12000" },
  { name = "small", when = "arr > 0" },
  { name = "non-paying", when = "TRUE" },
]

[[segmentation]]
name = "usage"
kind = "rules"
segments = [
  { name = "heavy", when = "events_28d >= 4 AND active_days_28d >= 3" },
  { name = "light", when = "events_7d > 0 OR days_since_last_event <= 60" },
]

[[segmentation]]
name = "health"
kind = "rules"
segments = [
  { name = "at-risk", when = "days_since_last_event > 21 OR days_since_last_event IS NULL" },
  { name = "declining", when = "trend_28d < 0.5" },
  { name = "healthy", when = "TRUE" },
]

[[segmentation]]
name = "intensity"
kind = "rules"
segments = [
  { name = "dense", when = "events_90d / active_days_28d > 2" },
  { name = "odd-size", when = "employees % 7 = 3 AND industry IN ('saas', 'health')" },
]
"#;

/// The project file of a generated base: its sources, then `extra`, then
/// the rules segmentations.
pub fn project_file(dir: &Dir, extra: &str) {
    dir.create(
        "strata.toml",
        &format!(
            "as_of = \"{AS_OF}\"\n\n[sources]\naccounts = \"accounts.csv\"\nevents = \"events.csv\"\nrevenue = \"revenue.csv\"\n{extra}\n{SEGMENTATIONS}"
        ),
    );
}

/// One account's row of `features.parquet`: numbers and texts by column.
pub struct Row {
    numbers: BTreeMap<String, Option<f64>>,
    texts: BTreeMap<String, Option<String>>,
}

impl Row {
    /// A numeric column's value; NULL when the base lacks the column (a
    /// segmentation reading it is then not in the project, and not checked).
    fn n(&self, name: &str) -> Option<f64> {
        self.numbers.get(name).copied().flatten()
    }
    fn t(&self, name: &str) -> Option<&str> {
        self.texts.get(name).and_then(|text| text.as_deref())
    }
}

/// SQL's three-valued logic: `None` is unknown.
fn and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}
fn or(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}
fn cmp(value: Option<f64>, test: impl Fn(f64) -> bool) -> Option<bool> {
    value.map(test)
}

/// The segment of `row` in each segmentation of [`SEGMENTATIONS`], by the
/// same rules written out in Rust (first match wins; unknown does not match;
/// `x / 0` is NULL).
pub fn expected_segments(row: &Row) -> Vec<(&'static str, Option<&'static str>)> {
    let first = |rules: Vec<(&'static str, Option<bool>)>| {
        rules
            .into_iter()
            .find(|(_, matched)| *matched == Some(true))
            .map(|(name, _)| name)
    };
    let arr = row.n("arr");
    let dsle = row.n("days_since_last_event");
    let ratio = match (row.n("events_90d"), row.n("active_days_28d")) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    };
    let employees_mod = row.n("employees").map(|e| (e as i64 % 7) as f64);
    vec![
        (
            "acv",
            first(vec![
                ("large", cmp(arr, |v| v >= 60_000.0)),
                ("mid", cmp(arr, |v| v >= 12_000.0)),
                ("small", cmp(arr, |v| v > 0.0)),
                ("non-paying", Some(true)),
            ]),
        ),
        (
            "usage",
            first(vec![
                (
                    "heavy",
                    and(
                        cmp(row.n("events_28d"), |v| v >= 4.0),
                        cmp(row.n("active_days_28d"), |v| v >= 3.0),
                    ),
                ),
                (
                    "light",
                    or(
                        cmp(row.n("events_7d"), |v| v > 0.0),
                        cmp(dsle, |v| v <= 60.0),
                    ),
                ),
            ]),
        ),
        (
            "health",
            first(vec![
                ("at-risk", or(cmp(dsle, |v| v > 21.0), Some(dsle.is_none()))),
                ("declining", cmp(row.n("trend_28d"), |v| v < 0.5)),
                ("healthy", Some(true)),
            ]),
        ),
        (
            "intensity",
            first(vec![
                ("dense", cmp(ratio, |v| v > 2.0)),
                (
                    "odd-size",
                    and(
                        cmp(employees_mod, |v| v == 3.0),
                        row.t("industry").map(|i| i == "saas" || i == "health"),
                    ),
                ),
            ]),
        ),
    ]
}

/// The columns [`expected_segments`] reads.
const RULE_COLUMNS: [&str; 9] = [
    "arr",
    "events_7d",
    "events_28d",
    "events_90d",
    "active_days_28d",
    "days_since_last_event",
    "trend_28d",
    "employees",
    "industry",
];

/// Every row of `features.parquet` (the columns the rules read), by account id.
pub fn feature_rows(path: &std::path::Path) -> BTreeMap<String, Row> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Float64Type};
    let mut rows = BTreeMap::new();
    for batch in super::parquet_batches(path) {
        let ids = cast(batch.column(0), &DataType::Utf8).expect("ids");
        let ids = ids.as_string::<i32>();
        let schema = batch.schema();
        for row in 0..batch.num_rows() {
            let mut numbers = BTreeMap::new();
            let mut texts = BTreeMap::new();
            for (field, column) in schema.fields().iter().zip(batch.columns()) {
                if !RULE_COLUMNS.contains(&field.name().as_str()) {
                    continue;
                }
                if field.data_type().is_numeric() {
                    let values = cast(column, &DataType::Float64).expect("numbers");
                    let values = values.as_primitive::<Float64Type>();
                    numbers.insert(
                        field.name().clone(),
                        values.is_valid(row).then(|| values.value(row)),
                    );
                } else if let Ok(values) = cast(column, &DataType::Utf8) {
                    let values = values.as_string::<i32>();
                    texts.insert(
                        field.name().clone(),
                        values.is_valid(row).then(|| values.value(row).to_string()),
                    );
                }
            }
            rows.insert(ids.value(row).to_string(), Row { numbers, texts });
        }
    }
    rows
}

/// `memberships.csv` as (account, segmentation) -> segment ("" unassigned).
pub fn memberships(dir: &Dir, out: &str) -> BTreeMap<(String, String), String> {
    dir.read(&format!("{out}/memberships.csv"))
        .lines()
        .skip(1)
        .map(|line| {
            let mut fields = line.splitn(3, ',');
            let account = fields.next().unwrap_or_default().to_string();
            let segmentation = fields.next().unwrap_or_default().to_string();
            let segment = fields.next().unwrap_or_default().to_string();
            ((account, segmentation), segment)
        })
        .collect()
}

/// Checks every rules membership of the run in `out` against
/// [`expected_segments`] over that run's `features.parquet`, for the
/// segmentations of [`SEGMENTATIONS`] that the project has (all four unless
/// `only` names some); returns the number of accounts checked. Panics with
/// the first wrong rows.
pub fn check_rules_row_by_row(dir: &Dir, out: &str, n_accounts: usize) -> usize {
    check_segmentations_row_by_row(
        dir,
        out,
        n_accounts,
        &["acv", "usage", "health", "intensity"],
    )
}

/// [`check_rules_row_by_row`] for the segmentations named in `only`.
pub fn check_segmentations_row_by_row(
    dir: &Dir,
    out: &str,
    n_accounts: usize,
    only: &[&str],
) -> usize {
    let rows = feature_rows(&dir.root.join(out).join("features.parquet"));
    assert_eq!(rows.len(), n_accounts, "one feature row per account");
    let members = memberships(dir, out);
    let mut wrong = Vec::new();
    for (account, row) in &rows {
        for (segmentation, expected) in expected_segments(row) {
            if !only.contains(&segmentation) {
                continue;
            }
            let actual = members
                .get(&(account.clone(), segmentation.to_string()))
                .unwrap_or_else(|| panic!("no {segmentation} row for {account}"));
            if actual.as_str() != expected.unwrap_or("") {
                wrong.push(format!(
                    "{account} {segmentation}: {actual:?}, expected {expected:?}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} memberships wrong, e.g.:\n{}",
        wrong.len(),
        rows.len() * only.len(),
        wrong
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    rows.len()
}
