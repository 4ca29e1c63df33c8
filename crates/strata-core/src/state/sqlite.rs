//! The SQLite backend: one file, WAL journal, full sync.
//!
//! SQLite's transactions are atomic across a process being killed at any
//! instant (the journal is rolled back on the next open), which is what
//! "a run commits whole or not at all" rests on here. The run lock is an
//! OS file lock on `<store>.lock`, released by the kernel when the process
//! dies, so a killed run never leaves the store locked.
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::sql::{self, Row};
use super::{
    ChangeFilter, CommitPlan, CurrentMembership, DefinitionVersion, HistoryEntry, OutboxRow,
    OutboxUpdate, RunRecord, SegmentSize, Transition,
};
use crate::error::{Error, Problem, Result};

pub(super) struct Sqlite {
    connection: Connection,
    path: PathBuf,
}

fn db_error(path: &Path, error: rusqlite::Error) -> Error {
    Error::invalid(
        Problem::new(
            format!("store {}", path.display()),
            format!("SQLite error: {error}"),
        )
        .with_help("check that the file is a strata store and is writable"),
    )
}

struct SqliteRow<'a>(&'a rusqlite::Row<'a>);

fn cell<T: rusqlite::types::FromSql>(row: &rusqlite::Row<'_>, idx: usize) -> Result<T> {
    row.get(idx)
        .map_err(|error| Error::Internal(format!("store column {idx}: {error}")))
}

sql::impl_row!(SqliteRow, cell);

impl Sqlite {
    pub(super) fn open(path: &Path) -> Result<Sqlite> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|source| Error::io(parent, source))?;
        }
        let connection = Connection::open(path).map_err(|e| db_error(path, e))?;
        connection
            .busy_timeout(std::time::Duration::from_secs(30))
            .map_err(|e| db_error(path, e))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            )
            .map_err(|e| db_error(path, e))?;
        Ok(Sqlite {
            connection,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, error: rusqlite::Error) -> Error {
        db_error(&self.path, error)
    }

    /// Applies pending migrations; returns the store id.
    pub(super) fn migrate(&mut self) -> Result<String> {
        // Most opens find the schema current: check with reads only, so that
        // opening a store never waits behind a run's commit.
        if let Some(id) = self.current_store_id()? {
            return Ok(id);
        }
        let path = self.path.clone();
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_error(&path, e))?;
        tx.execute_batch(sql::CREATE_MIGRATIONS)
            .map_err(|e| db_error(&path, e))?;
        let applied: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(|e| db_error(&path, e))?;
        for (version, migration) in sql::MIGRATIONS {
            if *version > applied {
                tx.execute_batch(&sql::migration_sql(migration, "BLOB", "DOUBLE"))
                    .map_err(|e| db_error(&path, e))?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    params![version, super::now_text()],
                )
                .map_err(|e| db_error(&path, e))?;
            }
        }
        let id: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'store_id'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| db_error(&path, e))?;
        let id = match id {
            Some(id) => id,
            None => {
                let id = super::new_store_id();
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('store_id', $1)",
                    params![id],
                )
                .map_err(|e| db_error(&path, e))?;
                id
            }
        };
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok(id)
    }

    /// The store id when the schema is at the latest version.
    fn current_store_id(&self) -> Result<Option<String>> {
        let latest = sql::MIGRATIONS
            .iter()
            .map(|(version, _)| *version)
            .max()
            .unwrap_or(0);
        let exists: Option<String> = self
            .connection
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if exists.is_none() {
            return Ok(None);
        }
        let applied: i64 = self
            .connection
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        if applied < latest {
            return Ok(None);
        }
        self.connection
            .query_row("SELECT value FROM meta WHERE key = 'store_id'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    fn query<T>(
        &self,
        query: &str,
        params: impl rusqlite::Params,
        decode: impl Fn(&SqliteRow<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut statement = self
            .connection
            .prepare_cached(query)
            .map_err(|e| self.err(e))?;
        let mut rows = statement.query(params).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            out.push(decode(&SqliteRow(row))?);
        }
        Ok(out)
    }

    pub(super) fn definitions(&mut self) -> Result<Vec<DefinitionVersion>> {
        self.query(sql::DEFINITIONS, [], |r| sql::definition(r))
    }

    pub(super) fn runs(&mut self, limit: usize) -> Result<Vec<RunRecord>> {
        self.query(
            &sql::runs_query(),
            params![limit.min(i64::MAX as usize) as i64],
            |r| sql::run(r),
        )
    }

    pub(super) fn latest_run(&mut self) -> Result<Option<RunRecord>> {
        Ok(self
            .query(&sql::latest_run_query(), [], |r| sql::run(r))?
            .into_iter()
            .next())
    }

    pub(super) fn history(&mut self, account: &str) -> Result<Vec<HistoryEntry>> {
        self.query(sql::HISTORY, params![account], |r| sql::history(r))
    }

    pub(super) fn changes(&mut self, filter: &ChangeFilter) -> Result<Vec<Transition>> {
        self.query(
            &sql::changes_query(),
            params![
                filter.since.map(|d| d.to_string()),
                filter.segmentation,
                filter.account,
                filter.run,
                i64::from(filter.redefinitions),
                filter.limit.min(i64::MAX as usize) as i64
            ],
            |r| sql::transition(r),
        )
    }

    pub(super) fn transitions_of(&mut self, run_id: i64, seqs: &[i64]) -> Result<Vec<Transition>> {
        let wanted: std::collections::HashSet<i64> = seqs.iter().copied().collect();
        Ok(self
            .query(&sql::transitions_of_query(), params![run_id], |r| {
                sql::transition(r)
            })?
            .into_iter()
            .filter(|t| wanted.is_empty() || wanted.contains(&t.seq))
            .collect())
    }

    pub(super) fn memberships_at(
        &mut self,
        run_id: i64,
    ) -> Result<Vec<(String, String, Option<String>)>> {
        self.query(sql::MEMBERSHIPS_AT, params![run_id], |r| {
            Ok((r.text(0)?, r.text(1)?, r.opt_text(2)?))
        })
    }

    pub(super) fn sizes(&mut self) -> Result<Vec<SegmentSize>> {
        self.query(sql::SIZES, [], |r| sql::size(r))
    }

    pub(super) fn outbox(&mut self, status: Option<&str>, limit: usize) -> Result<Vec<OutboxRow>> {
        self.query(
            &sql::outbox_query(),
            params![status, limit.min(i64::MAX as usize) as i64],
            |r| sql::outbox(r),
        )
    }

    pub(super) fn outbox_due(&mut self, now: &str, limit: usize) -> Result<Vec<OutboxRow>> {
        self.query(&sql::outbox_due_query(), params![now, limit as i64], |r| {
            sql::outbox(r)
        })
    }

    pub(super) fn outbox_update(&mut self, updates: &[OutboxUpdate]) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_error(&path, e))?;
        {
            let mut statement = tx
                .prepare_cached(sql::UPDATE_OUTBOX)
                .map_err(|e| db_error(&path, e))?;
            for update in updates {
                statement
                    .execute(params![
                        update.status,
                        update.attempts,
                        update.next_attempt_at,
                        update.last_error,
                        update.delivered_at,
                        update.id
                    ])
                    .map_err(|e| db_error(&path, e))?;
            }
        }
        tx.commit().map_err(|e| db_error(&path, e))
    }

    pub(super) fn outbox_retry_now(&mut self, now: &str, dead: bool) -> Result<u64> {
        let mut changed = self
            .connection
            .execute(sql::RETRY_NOW, params![now])
            .map_err(|e| self.err(e))?;
        if dead {
            changed += self
                .connection
                .execute(sql::REVIVE_DEAD, params![now])
                .map_err(|e| self.err(e))?;
        }
        Ok(changed as u64)
    }

    pub(super) fn size_bytes(&mut self) -> Result<u64> {
        // Fold the WAL in first so the main file holds everything.
        let _ = self
            .connection
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        let pages: i64 = self
            .connection
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let page_size: i64 = self
            .connection
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok((pages * page_size) as u64)
    }

    pub(super) fn next_ids(&mut self) -> Result<(i64, i64, i64)> {
        self.connection
            .query_row(sql::NEXT_IDS, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))
    }

    pub(super) fn current(
        &mut self,
    ) -> Result<HashMap<String, HashMap<String, CurrentMembership>>> {
        let mut out: HashMap<String, HashMap<String, CurrentMembership>> = HashMap::new();
        let mut statement = self
            .connection
            .prepare(sql::CURRENT)
            .map_err(|e| self.err(e))?;
        let mut rows = statement.query([]).map_err(|e| db_error(&self.path, e))?;
        while let Some(row) = rows.next().map_err(|e| db_error(&self.path, e))? {
            let segmentation: String = cell(row, 0)?;
            let account: String = cell(row, 1)?;
            let membership = CurrentMembership {
                segment: cell(row, 2)?,
                version_id: cell(row, 3)?,
                from_run: cell(row, 4)?,
            };
            out.entry(segmentation)
                .or_default()
                .insert(account, membership);
        }
        Ok(out)
    }

    pub(super) fn previous_features(&mut self) -> Result<Option<Vec<u8>>> {
        self.connection
            .query_row(sql::PREVIOUS_FEATURES, [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    pub(super) fn commit(&mut self, plan: &CommitPlan) -> Result<()> {
        let path = self.path.clone();
        let e = |error| db_error(&path, error);
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        {
            for d in &plan.definitions {
                tx.execute(
                    sql::INSERT_DEFINITION,
                    params![d.id, d.segmentation, d.seq, d.hash, d.body, d.created_at],
                )
                .map_err(e)?;
            }
            let run_id = match &plan.run {
                Some(run) => {
                    let p = sql::run_params(run);
                    tx.execute(
                        sql::INSERT_RUN,
                        params![
                            p.ints[0], p.texts[0], p.texts[1], p.texts[2], p.texts[3], p.texts[4],
                            p.texts[5], p.texts[6], p.ints[1], p.ints[2], p.ints[3], p.error
                        ],
                    )
                    .map_err(e)?;
                    run.id
                }
                None => return Err(Error::Internal("a commit without a run".into())),
            };
            let mut close = tx.prepare_cached(sql::CLOSE).map_err(e)?;
            for (segmentation, account, from_run) in &plan.closes {
                close
                    .execute(params![run_id, segmentation, account, from_run])
                    .map_err(e)?;
            }
            let mut open = tx.prepare_cached(sql::OPEN).map_err(e)?;
            for m in &plan.opens {
                open.execute(params![
                    m.segmentation,
                    m.account_id,
                    run_id,
                    m.segment,
                    m.version_id
                ])
                .map_err(e)?;
            }
            let mut insert = tx.prepare_cached(sql::INSERT_TRANSITION).map_err(e)?;
            for t in &plan.transitions {
                insert
                    .execute(params![
                        t.run_id,
                        t.seq,
                        t.segmentation,
                        t.account_id,
                        t.from,
                        t.to,
                        t.from_version,
                        t.to_version,
                        t.cause.name(),
                        t.from_rule,
                        t.to_rule,
                        t.reason,
                        t.explanation.to_string()
                    ])
                    .map_err(e)?;
            }
            let mut insert = tx.prepare_cached(sql::INSERT_OUTBOX).map_err(e)?;
            for o in &plan.outbox {
                insert
                    .execute(params![
                        o.id,
                        o.destination,
                        o.run_id,
                        o.transition_seq,
                        o.owner,
                        o.key,
                        o.payload,
                        o.status,
                        o.attempts,
                        o.next_attempt_at,
                        o.last_error,
                        o.delivered_at
                    ])
                    .map_err(e)?;
            }
            let mut insert = tx.prepare_cached(sql::INSERT_SIZE).map_err(e)?;
            for s in &plan.sizes {
                insert
                    .execute(params![
                        s.run_id,
                        s.segmentation,
                        s.segment,
                        s.accounts,
                        s.arr,
                        s.nrr
                    ])
                    .map_err(e)?;
            }
            if let Some(features) = &plan.features {
                tx.execute(sql::CLEAR_FEATURES, []).map_err(e)?;
                tx.execute(sql::INSERT_FEATURES, params![run_id, features])
                    .map_err(e)?;
            }
        }
        if let Some(pause) = plan.pause {
            std::thread::sleep(pause);
        }
        tx.commit().map_err(e)
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

/// Tries the run lock; `None` when another process holds it.
pub(super) fn try_lock(path: &Path) -> Result<Option<File>> {
    let lock = lock_path(path);
    if let Some(parent) = lock.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|source| Error::io(parent, source))?;
    }
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .map_err(|source| Error::io(&lock, source))?;
    match file.try_lock() {
        Ok(()) => {
            let note = format!("pid {} since {}", std::process::id(), super::now_text());
            let _ = file.set_len(0);
            let _ = file.rewind();
            let _ = file.write_all(note.as_bytes());
            let _ = file.flush();
            Ok(Some(file))
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::io(&lock, source)),
    }
}

/// Who holds the lock, as they wrote it.
pub(super) fn lock_holder(path: &Path) -> Option<String> {
    let mut text = String::new();
    File::open(lock_path(path))
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}
