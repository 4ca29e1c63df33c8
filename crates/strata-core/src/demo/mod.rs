//! Synthetic demo data: a realistic B2B SaaS customer base to try strata on.
//!
//! [`generate`] writes the four input tables of the data contract
//! (`accounts.csv`, `events.parquet`, `revenue.csv`, `feedback.csv`) plus a
//! hidden `truth.csv` that says how each account was generated, so that
//! segmentations, models and measures can be checked against known answers.
//! The base has four overlapping behavioural archetypes (power, casual,
//! integration, dormant; activity drifts month to month, and a dormant
//! account worked partly like an active archetype), a dominant need per account behind its verbatims,
//! and a planted ideal customer profile: professional-services companies of
//! 200 to 500 employees that connect at least two integrations within 60
//! days of signup expand strongly and almost never churn.
//!
//! The generator works in stages (accounts, revenue, events, feedback), each
//! drawing from its own random stream per account derived from the seed, so
//! the same parameters always give byte-identical files. Events are written
//! straight into Arrow builders because they are the bulk of the data: ten
//! million rows take a few seconds on one core in release builds.
//!
//! ```no_run
//! let params = strata_core::demo::DemoParams::default();
//! let summary = strata_core::demo::generate(
//!     std::path::Path::new("demo-data"),
//!     &params,
//!     &mut |_written, _expected| {},
//! )?;
//! assert_eq!(summary.n_accounts, 3000);
//! # Ok::<(), strata_core::Error>(())
//! ```
mod accounts;
mod calendar;
mod catalog;
mod events;
mod feedback;
mod revenue;
mod sampling;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use self::accounts::AccountPlan;
use self::calendar::{Calendar, first_day_of_month, push_date, push_timestamp};
use self::feedback::FeedbackRow;
use self::revenue::RevenueRow;
use crate::error::{Error, Problem, Result};

/// Names of the hidden archetypes, as written in `truth.csv`.
pub const ARCHETYPES: &[&str] = &catalog::ARCHETYPE_NAMES;

/// Names of the need themes, as written in the `need` column of `truth.csv`.
pub const NEEDS: &[&str] = &catalog::NEED_NAMES;

/// Average number of events per account in a default-shaped base.
const DEFAULT_EVENTS_PER_ACCOUNT: f64 = 1470.0;

/// The smallest base [`DemoParams::for_events`] builds.
const MIN_ACCOUNTS_FOR_EVENTS: usize = 50;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoParams {
    /// Number of accounts.
    pub n_accounts: usize,
    /// Seed of every random choice; the same parameters give the same bytes.
    pub seed: u64,
    /// The last day with data; events end at the end of this day (UTC).
    pub as_of: NaiveDate,
    /// Length of the event window, in months before `as_of`. Signups spread
    /// over six months more, so the oldest accounts predate the window.
    pub months: u32,
    /// Average number of events per account; the total lands close to
    /// `n_accounts * events_per_account`.
    pub events_per_account: f64,
}

impl Default for DemoParams {
    fn default() -> Self {
        DemoParams {
            n_accounts: 3000,
            seed: 42,
            // 2026-10-31 is a valid date, so the fallback is never used.
            as_of: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap_or_default(),
            months: 24,
            events_per_account: DEFAULT_EVENTS_PER_ACCOUNT,
        }
    }
}

impl DemoParams {
    /// A default-shaped base with about `total_events` events: one account
    /// per 1470 events (at least 50 accounts), so 10M events give about 6800
    /// accounts.
    pub fn for_events(total_events: u64) -> Self {
        let n_accounts = ((total_events as f64 / DEFAULT_EVENTS_PER_ACCOUNT).round() as usize)
            .max(MIN_ACCOUNTS_FOR_EVENTS);
        DemoParams {
            n_accounts,
            events_per_account: total_events as f64 / n_accounts as f64,
            ..DemoParams::default()
        }
    }

    /// The expected total number of events.
    fn target_events(&self) -> u64 {
        (self.n_accounts as f64 * self.events_per_account).round() as u64
    }

    /// Checks the parameters and lays out the time frame, reporting every
    /// problem at once.
    fn check(&self) -> Result<Calendar> {
        let mut problems = Vec::new();
        if !self.events_per_account.is_finite() || self.events_per_account < 0.0 {
            problems.push(
                Problem::new(
                    "demo parameters",
                    format!(
                        "events per account must be a number >= 0, got {}",
                        self.events_per_account
                    ),
                )
                .with_help("pass a positive number such as 1470"),
            );
        }
        if self.months > 1200 {
            problems.push(
                Problem::new(
                    "demo parameters",
                    format!("an event window of {} months is too long", self.months),
                )
                .with_help("use at most 1200 months"),
            );
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        Calendar::new(self.as_of, self.months)
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// Rows of `accounts.csv`.
    pub n_accounts: usize,
    /// Rows of `events.parquet`.
    pub n_events: u64,
    /// Rows of `revenue.csv`.
    pub n_revenue_rows: usize,
    /// Rows of `feedback.csv`.
    pub n_feedback_rows: usize,
    /// The files written, in the order they were written, the hidden truth last.
    pub files: Vec<PathBuf>,
}

/// Generates a demo customer base into `data_dir` (created if needed).
///
/// Writes `accounts.csv`, `revenue.csv`, `events.parquet`, `feedback.csv`
/// and the hidden `truth.csv` (`account_id,archetype,need,icp,behavior`, where `need`
/// is empty for accounts without any feedback text). Each file is written
/// under a temporary name and renamed when complete, so an interrupted run
/// never leaves a truncated file under a final name. `progress` is called
/// now and then with the number of events written so far and the expected
/// total; its last call has both equal to the final count.
pub fn generate(
    data_dir: &Path,
    params: &DemoParams,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DemoSummary> {
    let calendar = params.check()?;
    std::fs::create_dir_all(data_dir).map_err(|source| Error::io(data_dir, source))?;

    let mut accounts = accounts::plan_accounts(params.n_accounts, params.seed, &calendar);
    let mut revenue_by_account = Vec::with_capacity(accounts.len());
    for account in &mut accounts {
        // Events fade after a churn, so the revenue stage runs first and
        // hands its churn periods to the event stage.
        let (rows, churn_periods) = revenue::simulate_revenue(account, params.seed, &calendar);
        account.churn_periods = churn_periods;
        revenue_by_account.push(rows);
    }
    let feedback_by_account: Vec<Vec<FeedbackRow>> = accounts
        .iter()
        .map(|account| feedback::generate_feedback(account, params.seed, &calendar))
        .collect();

    let mut files = Vec::new();
    let accounts_path = data_dir.join("accounts.csv");
    write_file(&accounts_path, &accounts_csv(&accounts))?;
    files.push(accounts_path);

    let revenue_path = data_dir.join("revenue.csv");
    write_file(&revenue_path, &revenue_csv(&accounts, &revenue_by_account))?;
    files.push(revenue_path);

    let events_path = data_dir.join("events.parquet");
    let partial_events_path = partial_path(&events_path);
    let n_events = events::write_events(
        &partial_events_path,
        &accounts,
        params.seed,
        &calendar,
        params.target_events(),
        progress,
    )?;
    commit_file(&partial_events_path, &events_path)?;
    files.push(events_path);

    let feedback_path = data_dir.join("feedback.csv");
    write_file(
        &feedback_path,
        &feedback_csv(&accounts, &feedback_by_account),
    )?;
    files.push(feedback_path);

    let truth_path = data_dir.join("truth.csv");
    write_file(
        &truth_path,
        &truth_csv(&accounts, &feedback_by_account, calendar.as_of_day),
    )?;
    files.push(truth_path);
    let verbatims_path = data_dir.join("truth_verbatims.csv");
    write_file(&verbatims_path, &truth_verbatims_csv(&feedback_by_account))?;
    files.push(verbatims_path);

    Ok(DemoSummary {
        n_accounts: accounts.len(),
        n_events,
        n_revenue_rows: revenue_by_account.iter().map(Vec::len).sum(),
        n_feedback_rows: feedback_by_account.iter().map(Vec::len).sum(),
        files,
    })
}

/// The temporary name a file is written under before it is complete.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Moves a complete file to its final name.
fn commit_file(partial: &Path, path: &Path) -> Result<()> {
    std::fs::rename(partial, path).map_err(|source| Error::io(path, source))
}

/// Writes a whole file under a temporary name, then renames it.
fn write_file(path: &Path, contents: &str) -> Result<()> {
    let partial = partial_path(path);
    std::fs::write(&partial, contents).map_err(|source| Error::io(&partial, source))?;
    commit_file(&partial, path)
}

/// Appends a CSV field, quoting it when it holds a comma, a quote or a line
/// break (RFC 4180).
fn push_csv_field(line: &mut String, value: &str) {
    if !value.contains([',', '"', '\n', '\r']) {
        line.push_str(value);
        return;
    }
    line.push('"');
    for character in value.chars() {
        if character == '"' {
            line.push('"');
        }
        line.push(character);
    }
    line.push('"');
}

/// `accounts.csv`.
fn accounts_csv(accounts: &[AccountPlan]) -> String {
    let mut out =
        String::from("account_id,name,created_at,employees,industry,country,plan,owner\n");
    for account in accounts {
        push_csv_field(&mut out, &account.account_id);
        out.push(',');
        push_csv_field(&mut out, &account.name);
        out.push(',');
        push_date(&mut out, account.created_day);
        // Writing into a String cannot fail.
        let _ = write!(out, ",{},", account.employees);
        push_csv_field(&mut out, account.industry);
        out.push(',');
        push_csv_field(&mut out, account.country);
        out.push(',');
        push_csv_field(&mut out, account.plan.name());
        out.push(',');
        push_csv_field(&mut out, account.owner);
        out.push('\n');
    }
    out
}

/// `revenue.csv`.
fn revenue_csv(accounts: &[AccountPlan], revenue_by_account: &[Vec<RevenueRow>]) -> String {
    let mut out = String::from("account_id,month,mrr\n");
    for (account, rows) in accounts.iter().zip(revenue_by_account) {
        for row in rows {
            push_csv_field(&mut out, &account.account_id);
            out.push(',');
            push_date(&mut out, first_day_of_month(row.month));
            let cents = row.mrr_cents.max(0);
            // Writing into a String cannot fail.
            let _ = writeln!(out, ",{}.{:02}", cents / 100, cents % 100);
        }
    }
    out
}

/// `feedback.csv`.
fn feedback_csv(accounts: &[AccountPlan], feedback_by_account: &[Vec<FeedbackRow>]) -> String {
    let mut out = String::from("account_id,user_id,ts,channel,score,text\n");
    for (account, rows) in accounts.iter().zip(feedback_by_account) {
        for row in rows {
            push_csv_field(&mut out, &account.account_id);
            out.push(',');
            if let Some(user_idx) = row.user_idx {
                out.push_str(&accounts::user_id(account.account_idx, user_idx));
            }
            out.push(',');
            push_timestamp(&mut out, row.day, row.second);
            out.push(',');
            out.push_str(row.channel.name());
            out.push(',');
            if let Some(score) = row.score {
                // Writing into a String cannot fail.
                let _ = write!(out, "{score}");
            }
            out.push(',');
            if let Some(text) = &row.text {
                push_csv_field(&mut out, text);
            }
            out.push('\n');
        }
    }
    out
}

/// The project file of a demo folder: `strata init`'s defaults, nothing
/// more. The planted ideal customer profile (integrations connected early)
/// is found by the ICP search's own early-adoption attributes, not by a
/// feature declared for it.
pub fn project_file(dir: &Path, as_of: NaiveDate) -> Result<String> {
    let detected = crate::project::detect_sources(dir)?;
    Ok(crate::project::render_project_file(
        &detected,
        Some(as_of),
        None,
    ))
}

/// `truth_verbatims.csv`: the need each verbatim of `feedback.csv` is about,
/// by data row (0-based, in file order), for rows with text.
fn truth_verbatims_csv(feedback_by_account: &[Vec<FeedbackRow>]) -> String {
    let mut out = String::from("row,need\n");
    for (row, feedback) in feedback_by_account.iter().flatten().enumerate() {
        if feedback.text.is_some() {
            // Writing into a String cannot fail.
            let _ = writeln!(out, "{row},{}", feedback.need.name());
        }
    }
    out
}

/// Days after a churn by which an account's usage has faded away.
const CHURN_FADE_DAYS: i32 = 28;

/// `truth.csv`: the hidden answers. `behavior` is the archetype, except for
/// an account that churned more than [`CHURN_FADE_DAYS`] before as_of and
/// has not come back: its usage has faded, so it now behaves dormant.
fn truth_csv(
    accounts: &[AccountPlan],
    feedback_by_account: &[Vec<FeedbackRow>],
    as_of_day: i32,
) -> String {
    let mut out = String::from("account_id,archetype,need,icp,behavior\n");
    for (account, rows) in accounts.iter().zip(feedback_by_account) {
        let has_text = rows.iter().any(|row| row.text.is_some());
        let need = if has_text { account.need.name() } else { "" };
        let churned_out = account.churn_periods.iter().any(|period| {
            period.start_day <= as_of_day - CHURN_FADE_DAYS
                && period.end_day.is_none_or(|end_day| end_day > as_of_day)
        });
        let behavior = if churned_out {
            catalog::Archetype::Dormant.name()
        } else {
            account.archetype.name()
        };
        // Writing into a String cannot fail.
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            account.account_id,
            account.archetype.name(),
            need,
            account.is_icp,
            behavior
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::calendar::{MICROS_PER_DAY, day_from_date, month_of_day};

    /// One CSV file: header and rows of fields.
    struct Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    }

    impl Table {
        fn column(&self, name: &str) -> Vec<&str> {
            let idx = self
                .header
                .iter()
                .position(|column| column == name)
                .unwrap();
            self.rows.iter().map(|row| row[idx].as_str()).collect()
        }
    }

    /// The events, column by column.
    #[derive(Default)]
    struct Events {
        account_id: Vec<String>,
        user_id: Vec<Option<String>>,
        event: Vec<String>,
        ts: Vec<i64>,
        source: Vec<Option<String>>,
    }

    /// Everything one run wrote, read back.
    struct Generated {
        dir: tempfile::TempDir,
        params: DemoParams,
        summary: DemoSummary,
        accounts: Table,
        revenue: Table,
        feedback: Table,
        truth: Table,
        events: Events,
    }

    /// Reads RFC 4180 CSV: quoted fields may hold commas and doubled quotes.
    fn read_csv(path: &Path) -> Table {
        let text = std::fs::read_to_string(path).unwrap();
        let mut records = Vec::new();
        let mut record = Vec::new();
        let mut field = String::new();
        let mut is_quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(character) = chars.next() {
            match (is_quoted, character) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                (true, '"') => is_quoted = false,
                (true, other) => field.push(other),
                (false, '"') => is_quoted = true,
                (false, ',') => record.push(std::mem::take(&mut field)),
                (false, '\n') => {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                (false, other) => field.push(other),
            }
        }
        assert!(field.is_empty() && record.is_empty(), "no final newline");
        let header = records.remove(0);
        for record in &records {
            assert_eq!(record.len(), header.len(), "{record:?}");
        }
        Table {
            header,
            rows: records,
        }
    }

    fn read_events(path: &Path) -> Events {
        let file = std::fs::File::open(path).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let schema = builder.schema().clone();
        assert_eq!(
            schema.field_with_name("ts").unwrap().data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        let mut events = Events::default();
        for batch in builder.build().unwrap() {
            let batch = batch.unwrap();
            let strings = |name: &str| {
                batch
                    .column_by_name(name)
                    .unwrap()
                    .as_string::<i32>()
                    .clone()
            };
            let (account_id, user_id, event, source) = (
                strings("account_id"),
                strings("user_id"),
                strings("event"),
                strings("source"),
            );
            let ts = batch
                .column_by_name("ts")
                .unwrap()
                .as_primitive::<TimestampMicrosecondType>()
                .clone();
            for row in 0..batch.num_rows() {
                events.account_id.push(account_id.value(row).to_string());
                events.user_id.push(
                    user_id
                        .is_valid(row)
                        .then(|| user_id.value(row).to_string()),
                );
                events.event.push(event.value(row).to_string());
                events.ts.push(ts.value(row));
                events
                    .source
                    .push(source.is_valid(row).then(|| source.value(row).to_string()));
            }
        }
        events
    }

    /// Generates a base with `n_accounts` and `events_per_account` into a
    /// temporary directory and reads every file back.
    fn check(n_accounts: usize, events_per_account: f64, seed: u64) -> Generated {
        let dir = tempfile::tempdir().unwrap();
        let params = DemoParams {
            n_accounts,
            seed,
            events_per_account,
            ..DemoParams::default()
        };
        let mut progress_calls = Vec::new();
        let summary = generate(dir.path(), &params, &mut |written, expected| {
            progress_calls.push((written, expected));
        })
        .unwrap();
        let last_call = progress_calls.last().copied().unwrap();
        assert_eq!(last_call, (summary.n_events, summary.n_events));
        let path = |name: &str| dir.path().join(name);
        let generated = Generated {
            accounts: read_csv(&path("accounts.csv")),
            revenue: read_csv(&path("revenue.csv")),
            feedback: read_csv(&path("feedback.csv")),
            truth: read_csv(&path("truth.csv")),
            events: read_events(&path("events.parquet")),
            dir,
            params,
            summary,
        };
        assert_eq!(generated.accounts.rows.len(), generated.summary.n_accounts);
        assert_eq!(generated.events.ts.len() as u64, generated.summary.n_events);
        assert_eq!(
            generated.revenue.rows.len(),
            generated.summary.n_revenue_rows
        );
        assert_eq!(
            generated.feedback.rows.len(),
            generated.summary.n_feedback_rows
        );
        generated
    }

    fn parse_day(text: &str) -> i32 {
        day_from_date(NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap())
    }

    #[test]
    fn same_parameters_give_identical_bytes() {
        let first = check(120, 200.0, 9);
        let second = check(120, 200.0, 9);
        let other_seed = check(120, 200.0, 10);
        let names = [
            "accounts.csv",
            "events.parquet",
            "revenue.csv",
            "feedback.csv",
            "truth.csv",
            "truth_verbatims.csv",
        ];
        for name in names {
            let first_bytes = std::fs::read(first.dir.path().join(name)).unwrap();
            let second_bytes = std::fs::read(second.dir.path().join(name)).unwrap();
            assert!(first_bytes == second_bytes, "{name} differs between runs");
        }
        let file_names: Vec<_> = first
            .summary
            .files
            .iter()
            .map(|path| path.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            file_names,
            [
                "accounts.csv",
                "revenue.csv",
                "events.parquet",
                "feedback.csv",
                "truth.csv",
                "truth_verbatims.csv"
            ]
        );
        let leftovers = std::fs::read_dir(first.dir.path()).unwrap().count();
        assert_eq!(leftovers, names.len(), "temporary files left behind");
        assert_ne!(first.accounts.rows, other_seed.accounts.rows);
    }

    #[test]
    fn events_belong_to_accounts_and_stay_in_their_window() {
        let generated = check(300, 300.0, 42);
        let events = &generated.events;
        let created_by_account: BTreeMap<&str, i32> = generated
            .accounts
            .column("account_id")
            .into_iter()
            .zip(generated.accounts.column("created_at"))
            .map(|(account_id, created_at)| (account_id, parse_day(created_at)))
            .collect();
        let as_of_day = day_from_date(generated.params.as_of);
        let window_start = generated
            .params
            .as_of
            .checked_sub_months(chrono::Months::new(generated.params.months))
            .unwrap();
        let window_start_micros = i64::from(day_from_date(window_start)) * MICROS_PER_DAY;
        let end_micros = i64::from(as_of_day + 1) * MICROS_PER_DAY;
        for row in 0..events.ts.len() {
            let created_day = created_by_account[events.account_id[row].as_str()];
            assert!(events.ts[row] < end_micros, "event after as_of");
            assert!(events.ts[row] >= i64::from(created_day) * MICROS_PER_DAY);
            assert!(events.ts[row] >= window_start_micros);
            // Written in time order, as a real event log is.
            if row > 0 {
                assert!(events.ts[row] >= events.ts[row - 1], "not in time order");
            }
        }
        let event_names: BTreeSet<&str> = events.event.iter().map(String::as_str).collect();
        assert!(event_names.len() >= 15, "{event_names:?}");
        let sources: BTreeSet<Option<&str>> = events.source.iter().map(Option::as_deref).collect();
        let expected_sources: BTreeSet<Option<&str>> = [
            None,
            Some("app"),
            Some("api"),
            Some("integration"),
            Some("mobile"),
        ]
        .into();
        assert_eq!(sources, expected_sources);

        let target = 300.0 * 300.0;
        let n_events = events.ts.len() as f64;
        assert!((n_events / target - 1.0).abs() < 0.15, "{n_events} events");
        let null_user_share =
            events.user_id.iter().filter(|user| user.is_none()).count() as f64 / n_events;
        assert!(
            (0.005..0.08).contains(&null_user_share),
            "{null_user_share}"
        );
        for (account_id, user_id) in events.account_id.iter().zip(&events.user_id) {
            if let Some(user_id) = user_id {
                assert_eq!(&user_id[4..10], &account_id[4..10]);
            }
        }
    }

    #[test]
    fn accounts_look_like_a_b2b_base() {
        let generated = check(300, 50.0, 42);
        let accounts = &generated.accounts;
        assert_eq!(
            accounts.header,
            [
                "account_id",
                "name",
                "created_at",
                "employees",
                "industry",
                "country",
                "plan",
                "owner"
            ]
        );
        let industries: BTreeSet<&str> = accounts.column("industry").into_iter().collect();
        assert!(industries.len() >= 8, "{industries:?}");
        let plans: BTreeSet<&str> = accounts.column("plan").into_iter().collect();
        assert_eq!(plans, ["enterprise", "free", "pro", "starter"].into());
        for country in accounts.column("country") {
            assert!(country.len() == 2 && country.chars().all(|c| c.is_ascii_uppercase()));
        }
        let mut enterprise_owners = BTreeSet::new();
        let mut other_owners = BTreeSet::new();
        for (plan, owner) in accounts
            .column("plan")
            .into_iter()
            .zip(accounts.column("owner"))
        {
            assert!(owner.contains('@'));
            if plan == "enterprise" {
                enterprise_owners.insert(owner);
            } else {
                other_owners.insert(owner);
            }
        }
        assert!(enterprise_owners.is_disjoint(&other_owners));
        assert!(other_owners.len() >= 8);
        for (idx, account_id) in accounts.column("account_id").into_iter().enumerate() {
            assert_eq!(account_id, format!("acc_{:06}", idx + 1));
        }
        let mut employees: Vec<u32> = accounts
            .column("employees")
            .into_iter()
            .map(|value| value.parse().unwrap())
            .collect();
        employees.sort_unstable();
        assert!(employees[employees.len() / 2] < 200);
        assert!(employees[employees.len() - 1] > 1000);
        assert!(accounts.column("name").iter().all(|name| name.len() > 3));
    }

    #[test]
    fn truth_matches_the_generated_data() {
        let generated = check(400, 100.0, 42);
        let truth = &generated.truth;
        assert_eq!(
            truth.header,
            ["account_id", "archetype", "need", "icp", "behavior"]
        );
        let archetypes: BTreeSet<&str> = truth.column("archetype").into_iter().collect();
        assert_eq!(archetypes, ARCHETYPES.iter().copied().collect());

        let accounts_with_text: BTreeSet<&str> = generated
            .feedback
            .column("account_id")
            .into_iter()
            .zip(generated.feedback.column("text"))
            .filter(|(_, text)| !text.is_empty())
            .map(|(account_id, _)| account_id)
            .collect();
        for (account_id, need) in truth
            .column("account_id")
            .into_iter()
            .zip(truth.column("need"))
        {
            assert_eq!(need.is_empty(), !accounts_with_text.contains(account_id));
            assert!(need.is_empty() || NEEDS.contains(&need), "{need}");
        }

        // The planted profile, recomputed from the visible data only.
        let mut early_integrations: BTreeMap<&str, usize> = BTreeMap::new();
        let created_by_account: BTreeMap<&str, i32> = generated
            .accounts
            .column("account_id")
            .into_iter()
            .zip(generated.accounts.column("created_at"))
            .map(|(account_id, created_at)| (account_id, parse_day(created_at)))
            .collect();
        let events = &generated.events;
        for row in 0..events.ts.len() {
            let account_id = events.account_id[row].as_str();
            let deadline = i64::from(created_by_account[account_id] + 60) * MICROS_PER_DAY;
            if events.event[row] == "integration_connected" && events.ts[row] < deadline {
                *early_integrations.entry(account_id).or_default() += 1;
            }
        }
        let accounts = &generated.accounts;
        let mut n_icp = 0;
        for (row, icp) in truth.column("icp").into_iter().enumerate() {
            let account_id = accounts.rows[row][0].as_str();
            let employees: u32 = accounts.rows[row][3].parse().unwrap();
            let matches_profile = accounts.rows[row][4] == "professional_services"
                && (200..=500).contains(&employees)
                && early_integrations.get(account_id).copied().unwrap_or(0) >= 2;
            assert_eq!(icp == "true", matches_profile, "{account_id}");
            assert!(icp == "true" || icp == "false");
            n_icp += usize::from(matches_profile);
        }
        assert!(n_icp >= 5, "only {n_icp} accounts in the planted profile");
    }

    #[test]
    fn revenue_expands_contracts_and_churns() {
        let generated = check(400, 20.0, 42);
        let revenue = &generated.revenue;
        assert_eq!(revenue.header, ["account_id", "month", "mrr"]);
        let as_of_month = month_of_day(day_from_date(generated.params.as_of));
        let plans: BTreeMap<&str, &str> = generated
            .accounts
            .column("account_id")
            .into_iter()
            .zip(generated.accounts.column("plan"))
            .collect();
        let mut by_account: BTreeMap<&str, Vec<(i32, f64)>> = BTreeMap::new();
        for row in &revenue.rows {
            let month_day = parse_day(&row[1]);
            assert!(row[1].ends_with("-01"), "{}", row[1]);
            let (whole, cents) = row[2].split_once('.').unwrap();
            assert_eq!(cents.len(), 2);
            assert!(whole.parse::<u64>().is_ok());
            let mrr: f64 = row[2].parse().unwrap();
            assert!(mrr > 0.0);
            assert_ne!(plans[row[0].as_str()], "free");
            by_account
                .entry(row[0].as_str())
                .or_default()
                .push((month_of_day(month_day), mrr));
        }
        let (mut n_expansions, mut n_contractions, mut n_churned) = (0, 0, 0);
        for rows in by_account.values() {
            assert!(rows.iter().all(|(month, _)| *month <= as_of_month));
            for pair in rows.windows(2) {
                assert!(pair[1].0 > pair[0].0, "months out of order");
                if pair[1].0 == pair[0].0 + 1 && pair[1].1 > pair[0].1 {
                    n_expansions += 1;
                }
                if pair[1].0 == pair[0].0 + 1 && pair[1].1 < pair[0].1 {
                    n_contractions += 1;
                }
            }
            if rows.last().is_some_and(|(month, _)| *month < as_of_month) {
                n_churned += 1;
            }
        }
        assert!(n_expansions > 10, "{n_expansions} expansions");
        assert!(n_contractions > 10, "{n_contractions} contractions");
        assert!(n_churned > 10, "{n_churned} churned accounts");
    }

    #[test]
    fn feedback_is_well_formed() {
        let generated = check(300, 20.0, 42);
        let feedback = &generated.feedback;
        assert_eq!(
            feedback.header,
            ["account_id", "user_id", "ts", "channel", "score", "text"]
        );
        let mut channels = BTreeSet::new();
        let mut scores = BTreeSet::new();
        for row in &feedback.rows {
            let (ts, channel, score, text) = (&row[2], row[3].as_str(), &row[4], &row[5]);
            assert!(
                chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
                "{ts}"
            );
            assert!(ts.as_str() < "2026-11-01", "{ts}");
            channels.insert(channel);
            match channel {
                "nps" => {
                    let score: u8 = score.parse().unwrap();
                    assert!(score <= 10);
                    scores.insert(score);
                }
                "survey" | "ticket" => {
                    assert!(score.is_empty());
                    assert!(!text.is_empty());
                }
                other => panic!("unexpected channel {other}"),
            }
        }
        assert_eq!(channels, ["nps", "survey", "ticket"].into());
        assert!(scores.contains(&10) && scores.iter().any(|score| *score <= 6));
        let texts = feedback.column("text");
        assert!(texts.iter().any(|text| text.contains(',')));
        assert!(texts.iter().any(|text| text.contains('"')));
    }

    #[test]
    fn archetypes_behave_differently() {
        let generated = check(300, 300.0, 42);
        let archetype_by_account: BTreeMap<&str, &str> = generated
            .truth
            .column("account_id")
            .into_iter()
            .zip(generated.truth.column("archetype"))
            .collect();
        let as_of_end = i64::from(day_from_date(generated.params.as_of) + 1) * MICROS_PER_DAY;
        let mut last_event: BTreeMap<&str, i64> = BTreeMap::new();
        let mut api_events: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        let events = &generated.events;
        for row in 0..events.ts.len() {
            let archetype = archetype_by_account[events.account_id[row].as_str()];
            let latest = last_event
                .entry(events.account_id[row].as_str())
                .or_default();
            *latest = (*latest).max(events.ts[row]);
            let counts = api_events.entry(archetype).or_default();
            counts.1 += 1;
            if matches!(events.source[row].as_deref(), Some("api" | "integration")) {
                counts.0 += 1;
            }
        }
        let quiet_share = |archetype: &str| {
            let accounts: Vec<&str> = archetype_by_account
                .iter()
                .filter(|(_, candidate)| **candidate == archetype)
                .map(|(account_id, _)| *account_id)
                .collect();
            let n_quiet = accounts
                .iter()
                .filter(|account_id| {
                    last_event
                        .get(**account_id)
                        .is_none_or(|ts| as_of_end - ts > 21 * MICROS_PER_DAY)
                })
                .count();
            n_quiet as f64 / accounts.len() as f64
        };
        assert!(quiet_share("dormant") > 0.5, "{}", quiet_share("dormant"));
        assert!(quiet_share("power") < 0.15, "{}", quiet_share("power"));
        let api_share = |archetype: &str| {
            let (n_api, n_all) = api_events[archetype];
            n_api as f64 / n_all as f64
        };
        assert!(
            api_share("integration") > 0.5,
            "{}",
            api_share("integration")
        );
        assert!(api_share("casual") < 0.1, "{}", api_share("casual"));
    }

    #[test]
    fn for_events_sizes_the_base() {
        for (total_events, expected_accounts) in
            [(10_000_000, 6803), (1_470_000, 1000), (1000, 50), (0, 50)]
        {
            let params = DemoParams::for_events(total_events);
            assert_eq!(params.n_accounts, expected_accounts, "{total_events}");
            assert_eq!(params.target_events(), total_events);
        }
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        for events_per_account in [f64::NAN, -1.0, f64::INFINITY] {
            let params = DemoParams {
                events_per_account,
                ..DemoParams::default()
            };
            let error = generate(dir.path(), &params, &mut |_, _| {}).unwrap_err();
            assert!(error.to_string().contains("events per account"), "{error}");
        }
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        for (value, expected) in [
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("", ""),
        ] {
            let mut line = String::new();
            push_csv_field(&mut line, value);
            assert_eq!(line, expected);
        }
    }

    /// Times a 10M-event base; run with
    /// `cargo test --release -p strata-core demo::tests::ten_million -- --ignored --nocapture`.
    #[test]
    #[ignore = "slow: generates 10M events"]
    fn ten_million_events_timing() {
        let dir = tempfile::tempdir().unwrap();
        let params = DemoParams::for_events(10_000_000);
        let started = std::time::Instant::now();
        let summary = generate(dir.path(), &params, &mut |_, _| {}).unwrap();
        let elapsed = started.elapsed();
        let size = std::fs::metadata(dir.path().join("events.parquet"))
            .unwrap()
            .len();
        eprintln!(
            "{} accounts, {} events, {} revenue rows, {} feedback rows in {:.2?}; events.parquet {} MB",
            summary.n_accounts,
            summary.n_events,
            summary.n_revenue_rows,
            summary.n_feedback_rows,
            elapsed,
            size / 1_000_000
        );
        assert!((summary.n_events as f64 / 1e7 - 1.0).abs() < 0.05);
    }
}
