//! The store's SQL, shared by both backends, and row decoding.
//!
//! Statements use `$n` placeholders, which SQLite and PostgreSQL both accept,
//! and `CAST(... AS ...)` rather than `::`. Only the DDL differs (BLOB vs
//! BYTEA, DOUBLE vs DOUBLE PRECISION) and lives in each backend's migrations.
//! Times are RFC 3339 text in UTC and dates `YYYY-MM-DD`, so they sort and
//! compare as text in both.
use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{
    Cause, DefinitionVersion, HistoryEntry, OutboxRow, RunKind, RunRecord, SegmentSize, Transition,
};
use crate::error::{Error, Result};

/// The one row-reading interface both drivers are adapted to.
pub(super) trait Row {
    fn text(&self, idx: usize) -> Result<String>;
    fn opt_text(&self, idx: usize) -> Result<Option<String>>;
    fn int(&self, idx: usize) -> Result<i64>;
    fn opt_int(&self, idx: usize) -> Result<Option<i64>>;
    fn float(&self, idx: usize) -> Result<f64>;
    fn opt_float(&self, idx: usize) -> Result<Option<f64>>;
}

/// Implements [`Row`] for a driver's row wrapper through its generic `cell`
/// function (`fn cell<T>(row, idx) -> Result<T>`).
macro_rules! impl_row {
    ($wrapper:ident, $cell:path) => {
        impl super::sql::Row for $wrapper<'_> {
            fn text(&self, idx: usize) -> Result<String> {
                $cell(self.0, idx)
            }
            fn opt_text(&self, idx: usize) -> Result<Option<String>> {
                $cell(self.0, idx)
            }
            fn int(&self, idx: usize) -> Result<i64> {
                $cell(self.0, idx)
            }
            fn opt_int(&self, idx: usize) -> Result<Option<i64>> {
                $cell(self.0, idx)
            }
            fn float(&self, idx: usize) -> Result<f64> {
                $cell(self.0, idx)
            }
            fn opt_float(&self, idx: usize) -> Result<Option<f64>> {
                $cell(self.0, idx)
            }
        }
    };
}
pub(super) use impl_row;

pub(super) const DEFINITIONS: &str =
    "SELECT id, segmentation, seq, hash, body, created_at FROM definitions ORDER BY id";

pub(super) fn definition(row: &impl Row) -> Result<DefinitionVersion> {
    Ok(DefinitionVersion {
        id: row.int(0)?,
        segmentation: row.text(1)?,
        seq: row.int(2)?,
        hash: row.text(3)?,
        body: row.text(4)?,
        created_at: row.text(5)?,
    })
}

pub(super) const INSERT_DEFINITION: &str = "INSERT INTO definitions (id, segmentation, seq, hash, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

const RUN_COLUMNS: &str = "id, kind, as_of, started_at, finished_at, status, versions, timings, accounts, transitions, redefinitions, error";

pub(super) fn runs_query() -> String {
    format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT $1")
}

pub(super) fn latest_run_query() -> String {
    format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE kind = 'run' AND status = 'succeeded' ORDER BY id DESC LIMIT 1"
    )
}

pub(super) const INSERT_RUN: &str = "INSERT INTO runs (id, kind, as_of, started_at, finished_at, status, versions, timings, accounts, transitions, redefinitions, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

pub(super) fn date(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| Error::Internal(format!("the store holds a malformed date `{text}`")))
}

pub(super) fn run(row: &impl Row) -> Result<RunRecord> {
    let versions: BTreeMap<String, i64> = serde_json::from_str(&row.text(6)?).unwrap_or_default();
    let timings: BTreeMap<String, f64> = serde_json::from_str(&row.text(7)?).unwrap_or_default();
    Ok(RunRecord {
        id: row.int(0)?,
        kind: RunKind::from_name(&row.text(1)?),
        as_of: date(&row.text(2)?)?,
        started_at: row.text(3)?,
        finished_at: row.text(4)?,
        status: row.text(5)?,
        versions,
        timings,
        accounts: row.int(8)?,
        transitions: row.int(9)?,
        redefinitions: row.int(10)?,
        error: row.opt_text(11)?,
    })
}

/// The run's parameters in `INSERT_RUN` order, as text and integers.
pub(super) struct RunParams {
    pub texts: [String; 7],
    pub error: Option<String>,
    pub ints: [i64; 4],
}

pub(super) fn run_params(run: &RunRecord) -> RunParams {
    RunParams {
        texts: [
            run.kind.name().to_string(),
            run.as_of.to_string(),
            run.started_at.clone(),
            run.finished_at.clone(),
            run.status.clone(),
            serde_json::to_string(&run.versions).unwrap_or_default(),
            serde_json::to_string(&run.timings).unwrap_or_default(),
        ],
        error: run.error.clone(),
        ints: [run.id, run.accounts, run.transitions, run.redefinitions],
    }
}

pub(super) const NEXT_IDS: &str = "SELECT (SELECT COALESCE(MAX(id), 0) + 1 FROM runs), (SELECT COALESCE(MAX(id), 0) + 1 FROM definitions), (SELECT COALESCE(MAX(id), 0) + 1 FROM outbox)";

pub(super) const CURRENT: &str = "SELECT segmentation, account_id, segment, version_id, from_run FROM memberships WHERE to_run IS NULL";

pub(super) const CLOSE: &str = "UPDATE memberships SET to_run = $1 WHERE segmentation = $2 AND account_id = $3 AND from_run = $4";

pub(super) const OPEN: &str = "INSERT INTO memberships (segmentation, account_id, from_run, to_run, segment, version_id) VALUES ($1, $2, $3, NULL, $4, $5)";

pub(super) const HISTORY: &str = "SELECT m.segmentation, m.segment, m.version_id, m.from_run, r.as_of, m.to_run FROM memberships m JOIN runs r ON r.id = m.from_run WHERE m.account_id = $1 ORDER BY m.from_run, m.segmentation";

pub(super) fn history(row: &impl Row) -> Result<HistoryEntry> {
    Ok(HistoryEntry {
        segmentation: row.text(0)?,
        segment: row.opt_text(1)?,
        version: row.int(2)?,
        from_run: row.int(3)?,
        from_as_of: date(&row.text(4)?)?,
        to_run: row.opt_int(5)?,
    })
}

pub(super) const MEMBERSHIPS_AT: &str = "SELECT segmentation, account_id, segment FROM memberships WHERE from_run <= $1 AND (to_run IS NULL OR to_run > $1) ORDER BY segmentation, account_id";

const TRANSITION_COLUMNS: &str = "t.run_id, t.seq, r.as_of, t.segmentation, t.account_id, t.from_segment, t.to_segment, t.from_version, t.to_version, t.cause, t.from_rule, t.to_rule, t.reason, t.explanation";

/// Transitions newest first; parameters: since (text or NULL), segmentation,
/// account, run (bigint or NULL), include redefinitions (0/1), limit.
pub(super) fn changes_query() -> String {
    format!(
        "SELECT {TRANSITION_COLUMNS} FROM transitions t JOIN runs r ON r.id = t.run_id \
         WHERE (CAST($1 AS TEXT) IS NULL OR r.as_of >= CAST($1 AS TEXT)) \
         AND (CAST($2 AS TEXT) IS NULL OR t.segmentation = CAST($2 AS TEXT)) \
         AND (CAST($3 AS TEXT) IS NULL OR t.account_id = CAST($3 AS TEXT)) \
         AND (CAST($4 AS BIGINT) IS NULL OR t.run_id = CAST($4 AS BIGINT)) \
         AND (CAST($5 AS BIGINT) = 1 OR t.cause <> 'redefinition') \
         ORDER BY t.run_id DESC, t.seq LIMIT $6"
    )
}

pub(super) fn transitions_of_query() -> String {
    format!(
        "SELECT {TRANSITION_COLUMNS} FROM transitions t JOIN runs r ON r.id = t.run_id WHERE t.run_id = $1 ORDER BY t.seq"
    )
}

pub(super) fn transition(row: &impl Row) -> Result<Transition> {
    Ok(Transition {
        run_id: row.int(0)?,
        seq: row.int(1)?,
        as_of: date(&row.text(2)?)?,
        segmentation: row.text(3)?,
        account_id: row.text(4)?,
        from: row.opt_text(5)?,
        to: row.opt_text(6)?,
        from_version: row.opt_int(7)?,
        to_version: row.int(8)?,
        cause: Cause::from_name(&row.text(9)?),
        from_rule: row.opt_text(10)?,
        to_rule: row.opt_text(11)?,
        reason: row.text(12)?,
        explanation: serde_json::from_str(&row.text(13)?).unwrap_or(serde_json::Value::Null),
    })
}

pub(super) const INSERT_TRANSITION: &str = "INSERT INTO transitions (run_id, seq, segmentation, account_id, from_segment, to_segment, from_version, to_version, cause, from_rule, to_rule, reason, explanation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

pub(super) const SIZES: &str = "SELECT run_id, segmentation, segment, accounts, arr, nrr FROM segment_sizes ORDER BY run_id, segmentation, segment";

pub(super) fn size(row: &impl Row) -> Result<SegmentSize> {
    Ok(SegmentSize {
        run_id: row.int(0)?,
        segmentation: row.text(1)?,
        segment: row.text(2)?,
        accounts: row.int(3)?,
        arr: row.float(4)?,
        nrr: row.opt_float(5)?,
    })
}

pub(super) const INSERT_SIZE: &str = "INSERT INTO segment_sizes (run_id, segmentation, segment, accounts, arr, nrr) VALUES ($1, $2, $3, $4, $5, $6)";

const OUTBOX_COLUMNS: &str = "id, destination, run_id, transition_seq, owner, idempotency_key, payload, status, attempts, next_attempt_at, last_error, delivered_at";

/// Parameters: status (text or NULL), limit.
pub(super) fn outbox_query() -> String {
    format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE (CAST($1 AS TEXT) IS NULL OR status = CAST($1 AS TEXT)) ORDER BY id LIMIT $2"
    )
}

/// Parameters: now, limit.
pub(super) fn outbox_due_query() -> String {
    format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2"
    )
}

pub(super) fn outbox(row: &impl Row) -> Result<OutboxRow> {
    Ok(OutboxRow {
        id: row.int(0)?,
        destination: row.text(1)?,
        run_id: row.int(2)?,
        transition_seq: row.opt_int(3)?,
        owner: row.opt_text(4)?,
        key: row.text(5)?,
        payload: row.opt_text(6)?,
        status: row.text(7)?,
        attempts: row.int(8)?,
        next_attempt_at: row.text(9)?,
        last_error: row.opt_text(10)?,
        delivered_at: row.opt_text(11)?,
    })
}

pub(super) const INSERT_OUTBOX: &str = "INSERT INTO outbox (id, destination, run_id, transition_seq, owner, idempotency_key, payload, status, attempts, next_attempt_at, last_error, delivered_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $10)";

pub(super) const UPDATE_OUTBOX: &str = "UPDATE outbox SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4, delivered_at = $5 WHERE id = $6";

pub(super) const RETRY_NOW: &str =
    "UPDATE outbox SET next_attempt_at = $1 WHERE status = 'pending' AND next_attempt_at > $1";

pub(super) const REVIVE_DEAD: &str = "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1 WHERE status = 'dead'";

pub(super) const PREVIOUS_FEATURES: &str =
    "SELECT data FROM run_features ORDER BY run_id DESC LIMIT 1";

pub(super) const CLEAR_FEATURES: &str = "DELETE FROM run_features";

pub(super) const INSERT_FEATURES: &str = "INSERT INTO run_features (run_id, data) VALUES ($1, $2)";

/// The schema, one migration per version, shared except for column types:
/// `{blob}` and `{float}` are filled in per backend.
pub(super) const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE definitions (
    id BIGINT PRIMARY KEY,
    segmentation TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (segmentation, seq)
);
CREATE TABLE runs (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    as_of TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL,
    versions TEXT NOT NULL,
    timings TEXT NOT NULL,
    accounts BIGINT NOT NULL,
    transitions BIGINT NOT NULL,
    redefinitions BIGINT NOT NULL,
    error TEXT
);
CREATE TABLE memberships (
    segmentation TEXT NOT NULL,
    account_id TEXT NOT NULL,
    from_run BIGINT NOT NULL,
    to_run BIGINT,
    segment TEXT,
    version_id BIGINT NOT NULL,
    PRIMARY KEY (segmentation, account_id, from_run)
);
CREATE INDEX memberships_account ON memberships (account_id);
CREATE TABLE transitions (
    run_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    segmentation TEXT NOT NULL,
    account_id TEXT NOT NULL,
    from_segment TEXT,
    to_segment TEXT,
    from_version BIGINT,
    to_version BIGINT NOT NULL,
    cause TEXT NOT NULL,
    from_rule TEXT,
    to_rule TEXT,
    reason TEXT NOT NULL,
    explanation TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX transitions_account ON transitions (account_id);
CREATE TABLE segment_sizes (
    run_id BIGINT NOT NULL,
    segmentation TEXT NOT NULL,
    segment TEXT NOT NULL,
    accounts BIGINT NOT NULL,
    arr {float} NOT NULL,
    PRIMARY KEY (run_id, segmentation, segment)
);
CREATE TABLE run_features (run_id BIGINT PRIMARY KEY, data {blob} NOT NULL);
CREATE TABLE outbox (
    id BIGINT PRIMARY KEY,
    destination TEXT NOT NULL,
    run_id BIGINT NOT NULL,
    transition_seq BIGINT,
    owner TEXT,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    delivered_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);",
    ),
    // Version 2: each segment's NRR at each run, for the trends.
    (2, "ALTER TABLE segment_sizes ADD COLUMN nrr {float};"),
];

/// A migration's SQL for a backend.
pub(super) fn migration_sql(sql: &str, blob: &str, float: &str) -> String {
    sql.replace("{blob}", blob).replace("{float}", float)
}

pub(super) const CREATE_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)";
