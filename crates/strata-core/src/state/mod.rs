//! The state store: definition versions, runs, membership history,
//! transitions and the delivery outbox, in SQLite (default, a file in the
//! project's `.strata/`) or PostgreSQL.
//!
//! Memberships are kept as intervals: a row `(segmentation, account,
//! from_run, to_run)` says the account was in `segment` from run `from_run`
//! until just before `to_run` (open while `to_run` is NULL). A run writes only
//! what changed, so the store grows with movement, not with the base, and
//! any run's full snapshot is still one query away.
//!
//! A run is committed by [`record_run`] as **one transaction**: its row, new
//! definition versions, closed and opened intervals, transitions, segment
//! sizes, the feature values later runs explain changes with, and outbox rows
//! for every destination. Every id is chosen before the transaction from the
//! store's current maxima under the run lock, so a commit that races another
//! fails on a primary key instead of interleaving.
//!
//! **Invariants**: a run commits whole or not at all; re-running the same
//! as_of with the same definitions and data commits nothing; nothing here
//! stores, logs or prints a secret (a store URL is shown redacted).
pub mod definitions;
mod diff;
pub mod flows;
mod postgres;
mod sql;
mod sqlite;
pub mod track;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use datafusion::arrow::array::{AsArray, RecordBatch};

use crate::discover::Discovery;
use crate::error::{Error, Problem, Result};
use crate::pipeline::RunResult;
use crate::project::destination::{Destination, Target};
use crate::project::{Project, StoreSetting};
use crate::rules;

pub use diff::feature_snapshot;

/// What the store needs of a run: its as-of date, the feature table
/// (`account_id` first), and per segmentation its segments and members.
#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    /// The as-of date.
    pub as_of: NaiveDate,
    /// One row per account, `account_id` first.
    pub features: &'a RecordBatch,
    /// Segmentations in project order.
    pub segmentations: Vec<SegmentationSnapshot<'a>>,
}

/// One segmentation of a [`Snapshot`].
#[derive(Debug, Clone)]
pub struct SegmentationSnapshot<'a> {
    /// Name.
    pub name: &'a str,
    /// `rules`, `clusters` or `themes`.
    pub kind: &'a str,
    /// Segments in priority order.
    pub segments: Vec<SegmentSnapshot<'a>>,
    /// Accounts, ARR and NRR of those no segment holds.
    pub unassigned: (usize, f64, Option<f64>),
    /// Per account (feature-table order): segment index or `None`.
    pub membership: &'a [Option<usize>],
    /// For clusters: the fit.
    pub discovery: Option<&'a Discovery>,
    /// For scores: every account's score, explained (feature-table order).
    pub scores: Option<&'a [crate::score::AccountScore]>,
}

/// One segment of a [`SegmentationSnapshot`].
#[derive(Debug, Clone, Copy)]
pub struct SegmentSnapshot<'a> {
    /// Name.
    pub name: &'a str,
    /// Rule-language text (empty for themes).
    pub rule: &'a str,
    /// Accounts.
    pub accounts: usize,
    /// ARR.
    pub arr: f64,
    /// NRR.
    pub nrr: Option<f64>,
}

impl<'a> Snapshot<'a> {
    /// The snapshot of a pipeline result.
    pub fn of(result: &'a RunResult) -> Snapshot<'a> {
        Snapshot {
            as_of: result.as_of,
            features: &result.features.batch,
            segmentations: result
                .segmentations
                .iter()
                .map(|s| SegmentationSnapshot {
                    name: &s.name,
                    kind: &s.kind,
                    segments: s
                        .segments
                        .iter()
                        .map(|segment| SegmentSnapshot {
                            name: &segment.name,
                            rule: &segment.rule,
                            accounts: segment.economics.accounts,
                            arr: segment.economics.arr,
                            nrr: segment.economics.nrr,
                        })
                        .collect(),
                    unassigned: (s.unassigned.accounts, s.unassigned.arr, s.unassigned.nrr),
                    membership: &s.membership,
                    discovery: s.discovery.as_ref(),
                    scores: s.scores.as_deref(),
                })
                .collect(),
        }
    }

    /// Account ids in row order.
    pub fn account_ids(&self) -> Vec<String> {
        self.features
            .column(0)
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect()
    }

    /// Account id -> row.
    pub fn account_rows(&self) -> HashMap<String, usize> {
        self.account_ids()
            .into_iter()
            .enumerate()
            .map(|(row, id)| (id, row))
            .collect()
    }

    /// The rule-language schema of the feature table.
    pub fn rule_schema(&self) -> rules::Schema {
        crate::features::rule_schema(&self.features.schema())
    }
}

/// Dates serialize as `YYYY-MM-DD` (chrono's serde feature is off: turning
/// it on would rebuild the query engine).
fn serialize_date<S: serde::Serializer>(
    date: &NaiveDate,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_str(date)
}

/// The default store inside a project folder.
pub const DEFAULT_STORE: &str = ".strata/strata.db";

/// Where a store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Location {
    /// The store of a project: `flag` (from `--store`) if given, else the
    /// project file's `store`/`store_env`, else `.strata/strata.db`.
    pub fn resolve(project: &Project, flag: Option<&str>) -> Result<Location> {
        let text = match (flag, &project.store) {
            (Some(text), _) => text.to_string(),
            (None, Some(StoreSetting::Location(text))) => text.clone(),
            (None, Some(StoreSetting::Env(name))) => std::env::var(name).map_err(|_| {
                Error::invalid(
                    Problem::new(
                        "strata.toml: store_env",
                        format!("environment variable {name} is not set"),
                    )
                    .with_help(format!(
                        "export {name}=postgres://user@host/db, or remove store_env"
                    )),
                )
            })?,
            (None, None) => DEFAULT_STORE.to_string(),
        };
        Ok(Location::parse(&text, &project.dir))
    }

    /// Where runs recorded in this store keep their features scans between
    /// runs: `scans/` beside a SQLite file, `.strata/scans/` in the project
    /// (`dir`) for a PostgreSQL store.
    pub fn scans_dir(&self, dir: &Path) -> PathBuf {
        match self {
            Location::Sqlite(path) => path
                .parent()
                .map(|parent| parent.join("scans"))
                .unwrap_or_else(|| dir.join(".strata").join("scans")),
            Location::Postgres(_) => dir.join(".strata").join("scans"),
        }
    }

    /// A `postgres://`/`postgresql://` URL, else a SQLite path relative to `dir`.
    pub fn parse(text: &str, dir: &Path) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Location::Postgres(text.to_string())
        } else {
            let path = text.strip_prefix("sqlite://").unwrap_or(text);
            Location::Sqlite(dir.join(path))
        }
    }

    /// For messages: the path, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => redact_password(url),
        }
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(idx) => rest.split_at(idx),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) if query.contains("password") => format!("{path}?***"),
        _ => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Whether a run is a live run (memberships, transitions, deliveries) or a
/// backfilled point (sizes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// `strata run`.
    Run,
    /// `strata backfill`.
    Backfill,
}

impl RunKind {
    fn name(self) -> &'static str {
        match self {
            RunKind::Run => "run",
            RunKind::Backfill => "backfill",
        }
    }
    fn from_name(name: &str) -> RunKind {
        if name == "backfill" {
            RunKind::Backfill
        } else {
            RunKind::Run
        }
    }
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// Run number, increasing.
    pub id: i64,
    /// Live or backfilled.
    pub kind: RunKind,
    /// The as-of date computed for.
    #[serde(serialize_with = "serialize_date")]
    pub as_of: NaiveDate,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// When it committed or failed.
    pub finished_at: String,
    /// `succeeded` or `failed`.
    pub status: String,
    /// Definition version id per segmentation.
    pub versions: BTreeMap<String, i64>,
    /// Seconds per phase.
    pub timings: BTreeMap<String, f64>,
    /// Accounts in the base.
    pub accounts: i64,
    /// Transitions that are customer movement.
    pub transitions: i64,
    /// Transitions caused by a definition change.
    pub redefinitions: i64,
    /// Why it failed.
    pub error: Option<String>,
}

/// A definition version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefinitionVersion {
    /// Version id, unique across segmentations (`v7`).
    pub id: i64,
    /// Segmentation.
    pub segmentation: String,
    /// 1, 2, ... within the segmentation.
    pub seq: i64,
    /// Content hash (hex SHA-256).
    pub hash: String,
    /// The definition document.
    pub body: String,
    /// When first seen.
    pub created_at: String,
}

/// Why an account's segment changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cause {
    /// The account's data moved it.
    Movement,
    /// The segmentation's definition changed.
    Redefinition,
    /// A new account.
    Entered,
    /// The account left the base.
    Left,
}

impl Cause {
    /// As stored.
    pub fn name(self) -> &'static str {
        match self {
            Cause::Movement => "movement",
            Cause::Redefinition => "redefinition",
            Cause::Entered => "entered",
            Cause::Left => "left",
        }
    }
    fn from_name(name: &str) -> Cause {
        match name {
            "redefinition" => Cause::Redefinition,
            "entered" => Cause::Entered,
            "left" => Cause::Left,
            _ => Cause::Movement,
        }
    }
}

/// One account changing segment between two runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    /// The run that observed it.
    pub run_id: i64,
    /// Position within the run.
    pub seq: i64,
    /// That run's as_of.
    #[serde(serialize_with = "serialize_date")]
    pub as_of: NaiveDate,
    /// Segmentation.
    pub segmentation: String,
    /// Account.
    pub account_id: String,
    /// Segment before (`None`: unassigned or not in the base).
    pub from: Option<String>,
    /// Segment now.
    pub to: Option<String>,
    /// Definition version before.
    pub from_version: Option<i64>,
    /// Definition version now.
    pub to_version: i64,
    /// Why.
    pub cause: Cause,
    /// The rule that matched before.
    pub from_rule: Option<String>,
    /// The rule that matches now.
    pub to_rule: Option<String>,
    /// One line: the feature values behind the change.
    pub reason: String,
    /// Everything behind the change, as JSON.
    pub explanation: serde_json::Value,
}

/// An account's segment in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// Segmentation.
    pub segmentation: String,
    /// Segment (`None`: unassigned).
    pub segment: Option<String>,
    /// Definition version.
    pub version: i64,
    /// First run with this membership.
    pub from_run: i64,
    /// Its as_of.
    #[serde(serialize_with = "serialize_date")]
    pub from_as_of: NaiveDate,
    /// Run it ended at, if it did.
    pub to_run: Option<i64>,
}

/// An outbox row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// Destination name.
    pub destination: String,
    /// Run it belongs to.
    pub run_id: i64,
    /// The transition, for webhooks.
    pub transition_seq: Option<i64>,
    /// The owner, for digests.
    pub owner: Option<String>,
    /// Idempotency key.
    pub key: String,
    /// Prepared message (digests).
    pub payload: Option<String>,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Not before.
    pub next_attempt_at: String,
    /// Last failure, if any.
    pub last_error: Option<String>,
    /// When delivered.
    pub delivered_at: Option<String>,
}

/// Segment sizes of one run, for charts over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentSize {
    /// Run.
    pub run_id: i64,
    /// Segmentation.
    pub segmentation: String,
    /// Segment, `(unassigned)` for none.
    pub segment: String,
    /// Accounts.
    pub accounts: i64,
    /// ARR.
    pub arr: f64,
    /// NRR (`None`: no revenue a year before, or recorded before NRR was).
    pub nrr: Option<f64>,
}

/// A membership interval to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenMembership {
    pub segmentation: String,
    pub account_id: String,
    pub segment: Option<String>,
    pub version_id: i64,
}

/// A membership interval to close: `(segmentation, account, from_run)`.
pub(crate) type CloseMembership = (String, String, i64);

/// An open interval as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CurrentMembership {
    pub segment: Option<String>,
    pub version_id: i64,
    pub from_run: i64,
}

/// Everything one run writes, in one transaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct CommitPlan {
    pub run: Option<RunRecord>,
    pub definitions: Vec<DefinitionVersion>,
    pub closes: Vec<CloseMembership>,
    pub opens: Vec<OpenMembership>,
    pub transitions: Vec<Transition>,
    pub outbox: Vec<OutboxRow>,
    pub sizes: Vec<SegmentSize>,
    pub features: Option<Vec<u8>>,
    /// Pause inside the transaction (fault injection for crash tests).
    pub pause: Option<Duration>,
}

/// Filter of [`Store::changes`].
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    /// Only runs with as_of on or after.
    pub since: Option<NaiveDate>,
    /// Only this segmentation.
    pub segmentation: Option<String>,
    /// Only this account.
    pub account: Option<String>,
    /// Only this run.
    pub run: Option<i64>,
    /// Include redefinitions.
    pub redefinitions: bool,
    /// At most this many, newest first.
    pub limit: usize,
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// An open state store.
pub struct Store {
    backend: Backend,
    location: Location,
    store_id: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.location.describe())
    }
}

/// Held while a run computes and commits; dropping it releases the store.
pub struct RunLock {
    _inner: LockInner,
}

impl std::fmt::Debug for RunLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunLock")
    }
}

/// What keeps the lock: the locked file, or the connection holding the
/// advisory lock. Only ever dropped.
enum LockInner {
    File { _held: std::fs::File },
    Postgres { _held: tokio_postgres::Client },
}

/// Dispatches a call to the backend.
macro_rules! backend {
    ($self:expr, $store:ident => $call:expr) => {
        match &mut $self.backend {
            Backend::Sqlite($store) => $call,
            Backend::Postgres($store) => $call.await,
        }
    };
}

impl Store {
    /// Opens (creating if needed) the store and applies pending schema migrations.
    pub async fn open(location: &Location) -> Result<Store> {
        let mut backend = match location {
            Location::Sqlite(path) => Backend::Sqlite(sqlite::Sqlite::open(path)?),
            Location::Postgres(url) => Backend::Postgres(postgres::Postgres::connect(url).await?),
        };
        let store_id = match &mut backend {
            Backend::Sqlite(store) => store.migrate()?,
            Backend::Postgres(store) => store.migrate().await?,
        };
        Ok(Store {
            backend,
            location: location.clone(),
            store_id,
        })
    }

    /// Where the store is, for messages.
    pub fn describe(&self) -> String {
        self.location.describe()
    }

    /// A random id given to the store when it was created; idempotency keys
    /// start with it so that two stores never issue the same key.
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// Takes the run lock: one run at a time per store. With `wait`, waits
    /// for a run in progress to finish; otherwise fails and says so.
    pub async fn lock(&self, wait: bool) -> Result<RunLock> {
        loop {
            let attempt = match &self.location {
                Location::Sqlite(path) => {
                    sqlite::try_lock(path)?.map(|file| LockInner::File { _held: file })
                }
                Location::Postgres(url) => postgres::try_lock(url)
                    .await?
                    .map(|client| LockInner::Postgres { _held: client }),
            };
            match attempt {
                Some(inner) => return Ok(RunLock { _inner: inner }),
                None if wait => tokio::time::sleep(Duration::from_millis(250)).await,
                None => {
                    let holder = match &self.location {
                        Location::Sqlite(path) => sqlite::lock_holder(path),
                        Location::Postgres(_) => None,
                    };
                    return Err(Error::invalid(
                        Problem::new(
                            format!("store {}", self.describe()),
                            format!(
                                "another strata run is writing to this store{}",
                                holder.map(|h| format!(" ({h})")).unwrap_or_default()
                            ),
                        )
                        .with_help("wait for it to finish, or pass --wait to queue behind it"),
                    ));
                }
            }
        }
    }

    /// Definition versions, oldest first.
    pub async fn definitions(&mut self) -> Result<Vec<DefinitionVersion>> {
        backend!(self, store => store.definitions())
    }

    /// What moved in the live run `run` (its `transitions`) since the live
    /// run before it (`None` without one); `arr` is each account's ARR
    /// now, `sizes` this run's segments.
    pub async fn movement(
        &mut self,
        run: &RunRecord,
        transitions: &[Transition],
        sizes: &[flows::SizeNow],
        arr: &HashMap<String, f64>,
    ) -> Result<Option<flows::Movement>> {
        let previous = self
            .runs(usize::MAX)
            .await?
            .into_iter()
            .filter(|earlier| {
                earlier.id < run.id && earlier.kind == RunKind::Run && earlier.status == "succeeded"
            })
            .max_by_key(|earlier| earlier.id);
        Ok(previous
            .map(|previous| flows::movement(previous.as_of, run.as_of, sizes, transitions, arr)))
    }

    /// The transitions of run `run_id`, definition changes included.
    pub async fn transitions_in(&mut self, run_id: i64) -> Result<Vec<Transition>> {
        self.changes(&ChangeFilter {
            since: None,
            segmentation: None,
            account: None,
            run: Some(run_id),
            redefinitions: true,
            limit: usize::MAX,
        })
        .await
    }

    /// Runs, newest first.
    pub async fn runs(&mut self, limit: usize) -> Result<Vec<RunRecord>> {
        backend!(self, store => store.runs(limit))
    }

    /// The latest successful live run.
    pub async fn latest_run(&mut self) -> Result<Option<RunRecord>> {
        backend!(self, store => store.latest_run())
    }

    /// An account's memberships over time, oldest first.
    pub async fn history(&mut self, account: &str) -> Result<Vec<HistoryEntry>> {
        backend!(self, store => store.history(account))
    }

    /// Transitions, newest first.
    pub async fn changes(&mut self, filter: &ChangeFilter) -> Result<Vec<Transition>> {
        backend!(self, store => store.changes(filter))
    }

    /// The memberships in force at run `run_id`: (segmentation, account, segment).
    pub async fn memberships_at(
        &mut self,
        run_id: i64,
    ) -> Result<Vec<(String, String, Option<String>)>> {
        backend!(self, store => store.memberships_at(run_id))
    }

    /// Segment sizes of every run, oldest first.
    pub async fn sizes(&mut self) -> Result<Vec<(RunRecord, SegmentSize)>> {
        let runs: HashMap<i64, RunRecord> = self
            .runs(usize::MAX)
            .await?
            .into_iter()
            .map(|run| (run.id, run))
            .collect();
        let sizes: Vec<SegmentSize> = backend!(self, store => store.sizes())?;
        let mut out: Vec<(RunRecord, SegmentSize)> = sizes
            .into_iter()
            .filter_map(|size| runs.get(&size.run_id).map(|run| (run.clone(), size)))
            .collect();
        out.sort_by_key(|a| (a.0.as_of, a.0.id));
        Ok(out)
    }

    /// Outbox rows: all (`status = None`) or of one status, oldest first.
    pub async fn outbox(&mut self, status: Option<&str>, limit: usize) -> Result<Vec<OutboxRow>> {
        backend!(self, store => store.outbox(status, limit))
    }

    /// Pending rows due at `now`, oldest first.
    pub async fn outbox_due(&mut self, now: &str, limit: usize) -> Result<Vec<OutboxRow>> {
        backend!(self, store => store.outbox_due(now, limit))
    }

    /// Records delivery attempts: per row id, the new status, attempts,
    /// next attempt time and error.
    pub async fn outbox_update(&mut self, updates: &[OutboxUpdate]) -> Result<()> {
        backend!(self, store => store.outbox_update(updates))
    }

    /// Makes pending rows due now (and dead letters pending again with
    /// `dead`); returns how many.
    pub async fn outbox_retry_now(&mut self, now: &str, dead: bool) -> Result<u64> {
        backend!(self, store => store.outbox_retry_now(now, dead))
    }

    /// Transitions of a run by position.
    pub async fn transitions_of(&mut self, run_id: i64, seqs: &[i64]) -> Result<Vec<Transition>> {
        backend!(self, store => store.transitions_of(run_id, seqs))
    }

    /// One run by id.
    pub async fn run(&mut self, run_id: i64) -> Result<Option<RunRecord>> {
        Ok(self
            .runs(usize::MAX)
            .await?
            .into_iter()
            .find(|run| run.id == run_id))
    }

    /// Bytes the store takes (file size, or the tables' total relation size).
    pub async fn size_bytes(&mut self) -> Result<u64> {
        backend!(self, store => store.size_bytes())
    }

    /// Records a run that failed before committing.
    pub async fn record_failure(&mut self, run: &RunRecord) -> Result<()> {
        let mut run = run.clone();
        run.id = self.next_ids().await?.0;
        let plan = CommitPlan {
            run: Some(run),
            ..CommitPlan::default()
        };
        self.commit(&plan).await
    }

    async fn next_ids(&mut self) -> Result<(i64, i64, i64)> {
        backend!(self, store => store.next_ids())
    }

    async fn current(&mut self) -> Result<HashMap<String, HashMap<String, CurrentMembership>>> {
        backend!(self, store => store.current())
    }

    async fn previous_features(&mut self) -> Result<Option<Vec<u8>>> {
        backend!(self, store => store.previous_features())
    }

    async fn commit(&mut self, plan: &CommitPlan) -> Result<()> {
        backend!(self, store => store.commit(plan))
    }
}

/// A delivery attempt's result for one outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxUpdate {
    /// Row id.
    pub id: i64,
    /// New status.
    pub status: String,
    /// Attempts after this one.
    pub attempts: i64,
    /// When to try next.
    pub next_attempt_at: String,
    /// Failure, if any.
    pub last_error: Option<String>,
    /// Delivery time, if delivered.
    pub delivered_at: Option<String>,
}

/// Options of [`record_run`].
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Live run or backfilled point.
    pub kind: RunKind,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// Seconds per phase.
    pub timings: BTreeMap<String, f64>,
    /// Deliver transitions caused by definition changes to every destination.
    pub deliver_redefinitions: bool,
    /// Fault injection for crash tests: sleep inside the commit transaction.
    pub pause_before_commit: Option<Duration>,
}

/// What [`record_run`] did.
#[derive(Debug, Clone)]
pub enum RecordOutcome {
    /// A new run was committed.
    Committed(RunSummary),
    /// Same as_of, definitions and memberships as the latest run: nothing written.
    Unchanged(RunRecord),
}

/// A committed run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The run.
    pub run: RunRecord,
    /// Definition versions this run created.
    pub new_versions: Vec<DefinitionVersion>,
    /// Its transitions (movement first).
    pub transitions: Vec<Transition>,
    /// Outbox rows queued, per destination.
    pub queued: BTreeMap<String, usize>,
    /// Whether this was the first live run (no transitions: the baseline).
    pub baseline: bool,
}

/// A fresh store id: 12 hex digits from the time, process and thread.
fn new_store_id() -> String {
    let seed = format!(
        "{:?}-{}-{:?}",
        std::time::SystemTime::now(),
        std::process::id(),
        std::thread::current().id()
    );
    definitions::hash(&seed)[..12].to_string()
}

/// Now, as stored.
pub fn now_text() -> String {
    timestamp(Utc::now())
}

/// A time as stored: RFC 3339, UTC, milliseconds.
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Records a pipeline result: new definition versions, the run, what changed
/// since the latest run with explanations, and outbox rows for `destinations`
/// — all in one transaction. A backfill records the run, versions and sizes
/// only. Call with the run lock held.
pub async fn record_run(
    store: &mut Store,
    project: &Project,
    result: &Snapshot<'_>,
    options: &RecordOptions,
) -> Result<RecordOutcome> {
    let docs = definitions::of_project(project, &result.rule_schema());
    let existing = store.definitions().await?;
    let (next_run, next_definition, next_outbox) = store.next_ids().await?;
    let created_at = now_text();
    let mut new_versions = Vec::new();
    let mut versions: BTreeMap<String, i64> = BTreeMap::new();
    let mut bodies: HashMap<i64, String> =
        existing.iter().map(|d| (d.id, d.body.clone())).collect();
    for doc in &docs {
        let latest = existing
            .iter()
            .filter(|d| d.segmentation == doc.segmentation)
            .max_by_key(|d| d.seq);
        let id = match latest {
            Some(latest) if latest.hash == doc.hash => latest.id,
            _ => {
                let id = next_definition + new_versions.len() as i64;
                new_versions.push(DefinitionVersion {
                    id,
                    segmentation: doc.segmentation.clone(),
                    seq: latest.map_or(1, |l| l.seq + 1),
                    hash: doc.hash.clone(),
                    body: doc.body.clone(),
                    created_at: created_at.clone(),
                });
                bodies.insert(id, doc.body.clone());
                id
            }
        };
        versions.insert(doc.segmentation.clone(), id);
    }

    let run_id = next_run;
    let sizes = segment_sizes(run_id, result);
    let mut run = RunRecord {
        id: run_id,
        kind: options.kind,
        as_of: result.as_of,
        started_at: timestamp(options.started_at),
        finished_at: created_at.clone(),
        status: "succeeded".to_string(),
        versions: versions.clone(),
        timings: options.timings.clone(),
        accounts: result.features.num_rows() as i64,
        transitions: 0,
        redefinitions: 0,
        error: None,
    };
    if options.kind == RunKind::Backfill {
        let plan = CommitPlan {
            run: Some(run.clone()),
            definitions: new_versions.clone(),
            sizes,
            pause: options.pause_before_commit,
            ..CommitPlan::default()
        };
        store.commit(&plan).await?;
        return Ok(RecordOutcome::Committed(RunSummary {
            run,
            new_versions,
            transitions: Vec::new(),
            queued: BTreeMap::new(),
            baseline: false,
        }));
    }

    let latest = store.latest_run().await?;
    let current = store.current().await?;
    let previous_features = match &latest {
        Some(_) => store.previous_features().await?,
        None => None,
    };
    let mut changes = diff::diff(diff::DiffInput {
        run_id,
        as_of: result.as_of,
        result,
        versions: &versions,
        current: &current,
        baseline: latest.is_none(),
    });
    if let (Some(latest), true) = (&latest, new_versions.is_empty())
        && latest.as_of == result.as_of
        && changes.closes.is_empty()
        && changes.opens.is_empty()
    {
        return Ok(RecordOutcome::Unchanged(latest.clone()));
    }
    diff::reclassify_redefinitions(&mut changes.transitions, result, &bodies).await?;
    diff::explain(
        &mut changes.transitions,
        result,
        previous_features.as_deref(),
        &bodies,
    );
    run.transitions = changes
        .transitions
        .iter()
        .filter(|t| t.cause != Cause::Redefinition)
        .count() as i64;
    run.redefinitions = changes.transitions.len() as i64 - run.transitions;
    let outbox = outbox_rows(
        store.store_id(),
        &project.destinations,
        &changes.transitions,
        result,
        run_id,
        next_outbox,
        options.deliver_redefinitions,
        &created_at,
    );
    let mut queued: BTreeMap<String, usize> = BTreeMap::new();
    for row in &outbox {
        *queued.entry(row.destination.clone()).or_default() += 1;
    }
    let plan = CommitPlan {
        run: Some(run.clone()),
        definitions: new_versions.clone(),
        closes: changes.closes,
        opens: changes.opens,
        transitions: changes.transitions.clone(),
        outbox,
        sizes,
        features: Some(diff::feature_snapshot(result)?),
        pause: options.pause_before_commit,
    };
    store.commit(&plan).await?;
    Ok(RecordOutcome::Committed(RunSummary {
        run,
        new_versions,
        transitions: changes.transitions,
        queued,
        baseline: latest.is_none(),
    }))
}

fn segment_sizes(run_id: i64, result: &Snapshot<'_>) -> Vec<SegmentSize> {
    let mut sizes = Vec::new();
    for segmentation in &result.segmentations {
        let (accounts, arr, nrr) = segmentation.unassigned;
        let unassigned = ("(unassigned)", accounts, arr, nrr);
        let segments = segmentation
            .segments
            .iter()
            .map(|segment| (segment.name, segment.accounts, segment.arr, segment.nrr))
            .chain((unassigned.1 > 0).then_some(unassigned));
        for (segment, accounts, arr, nrr) in segments {
            sizes.push(SegmentSize {
                run_id,
                segmentation: segmentation.name.to_string(),
                segment: segment.to_string(),
                accounts: accounts as i64,
                arr,
                nrr,
            });
        }
    }
    sizes
}

/// Outbox rows of a run: one per deliverable transition per webhook, one
/// per run per file export, one per owner per digest.
#[allow(clippy::too_many_arguments)] // reason: one call site; a struct would only rename the arguments
fn outbox_rows(
    store_id: &str,
    destinations: &[Destination],
    transitions: &[Transition],
    result: &Snapshot<'_>,
    run_id: i64,
    first_id: i64,
    deliver_redefinitions: bool,
    now: &str,
) -> Vec<OutboxRow> {
    let mut rows = Vec::new();
    let mut push = |destination: &str,
                    transition_seq: Option<i64>,
                    owner: Option<String>,
                    key: String,
                    payload: Option<String>| {
        rows.push(OutboxRow {
            id: first_id + rows.len() as i64,
            destination: destination.to_string(),
            run_id,
            transition_seq,
            owner,
            key,
            payload,
            status: "pending".to_string(),
            attempts: 0,
            next_attempt_at: now.to_string(),
            last_error: None,
            delivered_at: None,
        });
    };
    for destination in destinations {
        let deliverable: Vec<&Transition> = transitions
            .iter()
            .filter(|t| destination.wants(&t.segmentation))
            .filter(|t| {
                t.cause != Cause::Redefinition || deliver_redefinitions || destination.redefinitions
            })
            .collect();
        match &destination.target {
            Target::Webhook { .. } => {
                for transition in deliverable {
                    push(
                        &destination.name,
                        Some(transition.seq),
                        None,
                        format!("{store_id}-r{run_id}-t{}", transition.seq),
                        None,
                    );
                }
            }
            Target::File { .. } => push(
                &destination.name,
                None,
                None,
                format!("{store_id}-r{run_id}-{}", destination.name),
                None,
            ),
            Target::Digest(_) => {
                for (owner, text) in diff::owner_digests(&deliverable, result) {
                    let key = format!(
                        "{store_id}-r{run_id}-{}-{}",
                        destination.name,
                        &definitions::hash(&owner)[..12]
                    );
                    push(&destination.name, None, Some(owner), key, Some(text));
                }
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        for (url, expected) in [
            (
                "postgres://me:s3cret@db:5432/x",
                "postgres://me:***@db:5432/x",
            ),
            ("postgres://me@db/x", "postgres://me@db/x"),
            ("postgres://db/x?user=a&password=b", "postgres://db/x?***"),
            ("postgresql://127.0.0.1/test", "postgresql://127.0.0.1/test"),
        ] {
            assert_eq!(redact_password(url), expected);
        }
    }

    #[test]
    fn locations_parse() {
        let dir = Path::new("/p");
        assert_eq!(
            Location::parse(".strata/strata.db", dir),
            Location::Sqlite(PathBuf::from("/p/.strata/strata.db"))
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/x.db", dir),
            Location::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(
            Location::parse("postgres://127.0.0.1/test", dir),
            Location::Postgres("postgres://127.0.0.1/test".into())
        );
    }
}
