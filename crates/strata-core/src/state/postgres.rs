//! The PostgreSQL backend.
//!
//! The SQL is the shared SQL of [`super::sql`]; only the bulk writes of a
//! commit differ, sending whole columns as arrays through `unnest` so that a
//! million memberships are a few statements, not a million round trips. The
//! run lock is a session advisory lock on its own connection: the server
//! drops it when that connection ends, including when the process is killed.
use std::collections::HashMap;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

use super::sql::{self, Row};
use super::{
    ChangeFilter, CommitPlan, CurrentMembership, DefinitionVersion, HistoryEntry, OutboxRow,
    OutboxUpdate, RunRecord, SegmentSize, Transition,
};
use crate::error::{Error, Problem, Result};

/// Arbitrary, fixed: the first advisory lock key of strata runs; the second
/// is a hash of the schema, so stores in different schemas of one database
/// do not wait for each other.
const RUN_LOCK_KEY: i32 = 0x5354_5241;
/// The same for schema migrations of concurrent first opens.
const MIGRATION_LOCK_KEY: i32 = 0x5354_5242;
/// Rows per bulk statement.
const CHUNK: usize = 50_000;

pub(super) struct Postgres {
    client: Client,
    description: String,
}

fn pg_error(description: &str, error: tokio_postgres::Error) -> Error {
    // The error's own text never holds the password; the URL is redacted.
    let detail = match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => crate::sources::postgres::client_error_text(&error),
    };
    if crate::sources::postgres::is_outage(&error) {
        return Error::unavailable(
            Problem::new(
                format!("store {description}"),
                format!("PostgreSQL did not answer: {detail}"),
            )
            .with_help("check that the store's server is running and reachable, then run again"),
        );
    }
    Error::invalid(
        Problem::new(
            format!("store {description}"),
            format!("PostgreSQL error: {detail}"),
        )
        .with_help("check that the server is running and the URL, user and database are right"),
    )
}

struct PgRow<'a>(&'a tokio_postgres::Row);

fn cell<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    idx: usize,
) -> Result<T> {
    row.try_get(idx)
        .map_err(|error| Error::Internal(format!("store column {idx}: {error}")))
}

sql::impl_row!(PgRow, cell);

async fn connect(url: &str) -> Result<Client> {
    let description = super::redact_password(url);
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|error| pg_error(&description, error))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "store connection ended");
        }
    });
    Ok(client)
}

/// Tries the run lock on a connection of its own; `None` when held elsewhere.
pub(super) async fn try_lock(url: &str) -> Result<Option<Client>> {
    let description = super::redact_password(url);
    let client = connect(url).await?;
    let row = client
        .query_one(
            "SELECT pg_try_advisory_lock($1, hashtext(COALESCE(current_schema(), '')))",
            &[&RUN_LOCK_KEY],
        )
        .await
        .map_err(|e| pg_error(&description, e))?;
    let locked: bool = cell(&row, 0)?;
    Ok(locked.then_some(client))
}

impl Postgres {
    pub(super) async fn connect(url: &str) -> Result<Postgres> {
        Ok(Postgres {
            client: connect(url).await?,
            description: super::redact_password(url),
        })
    }

    fn err(&self, error: tokio_postgres::Error) -> Error {
        pg_error(&self.description, error)
    }

    pub(super) async fn migrate(&mut self) -> Result<String> {
        let description = self.description.clone();
        let e = |error| pg_error(&description, error);
        let tx = self.client.transaction().await.map_err(e)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(COALESCE(current_schema(), '')))",
            &[&MIGRATION_LOCK_KEY],
        )
        .await
        .map_err(e)?;
        tx.batch_execute(sql::CREATE_MIGRATIONS).await.map_err(e)?;
        let applied: i64 = cell(
            &tx.query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
                &[],
            )
            .await
            .map_err(e)?,
            0,
        )?;
        for (version, migration) in sql::MIGRATIONS {
            if *version > applied {
                tx.batch_execute(&sql::migration_sql(migration, "BYTEA", "DOUBLE PRECISION"))
                    .await
                    .map_err(e)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    &[version, &super::now_text()],
                )
                .await
                .map_err(e)?;
            }
        }
        let id = tx
            .query_opt("SELECT value FROM meta WHERE key = 'store_id'", &[])
            .await
            .map_err(e)?;
        let id = match id {
            Some(row) => cell::<String>(&row, 0)?,
            None => {
                let id = super::new_store_id();
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('store_id', $1)",
                    &[&id],
                )
                .await
                .map_err(e)?;
                id
            }
        };
        tx.commit().await.map_err(e)?;
        Ok(id)
    }

    async fn query<T>(
        &self,
        query: &str,
        params: &[&(dyn ToSql + Sync)],
        decode: impl Fn(&PgRow<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let rows = self
            .client
            .query(query, params)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter().map(|row| decode(&PgRow(row))).collect()
    }

    pub(super) async fn definitions(&mut self) -> Result<Vec<DefinitionVersion>> {
        self.query(sql::DEFINITIONS, &[], |r| sql::definition(r))
            .await
    }

    pub(super) async fn runs(&mut self, limit: usize) -> Result<Vec<RunRecord>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        self.query(&sql::runs_query(), &[&limit], |r| sql::run(r))
            .await
    }

    pub(super) async fn latest_run(&mut self) -> Result<Option<RunRecord>> {
        Ok(self
            .query(&sql::latest_run_query(), &[], |r| sql::run(r))
            .await?
            .into_iter()
            .next())
    }

    pub(super) async fn history(&mut self, account: &str) -> Result<Vec<HistoryEntry>> {
        self.query(sql::HISTORY, &[&account], |r| sql::history(r))
            .await
    }

    pub(super) async fn changes(&mut self, filter: &ChangeFilter) -> Result<Vec<Transition>> {
        let since = filter.since.map(|d| d.to_string());
        let redefinitions = i64::from(filter.redefinitions);
        let limit = filter.limit.min(i64::MAX as usize) as i64;
        self.query(
            &sql::changes_query(),
            &[
                &since,
                &filter.segmentation,
                &filter.account,
                &filter.run,
                &redefinitions,
                &limit,
            ],
            |r| sql::transition(r),
        )
        .await
    }

    pub(super) async fn transitions_of(
        &mut self,
        run_id: i64,
        seqs: &[i64],
    ) -> Result<Vec<Transition>> {
        let wanted: std::collections::HashSet<i64> = seqs.iter().copied().collect();
        Ok(self
            .query(&sql::transitions_of_query(), &[&run_id], |r| {
                sql::transition(r)
            })
            .await?
            .into_iter()
            .filter(|t| wanted.is_empty() || wanted.contains(&t.seq))
            .collect())
    }

    pub(super) async fn memberships_at(
        &mut self,
        run_id: i64,
    ) -> Result<Vec<(String, String, Option<String>)>> {
        self.query(sql::MEMBERSHIPS_AT, &[&run_id], |r| {
            Ok((r.text(0)?, r.text(1)?, r.opt_text(2)?))
        })
        .await
    }

    pub(super) async fn sizes(&mut self) -> Result<Vec<SegmentSize>> {
        self.query(sql::SIZES, &[], |r| sql::size(r)).await
    }

    pub(super) async fn outbox(
        &mut self,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxRow>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        self.query(&sql::outbox_query(), &[&status, &limit], |r| sql::outbox(r))
            .await
    }

    pub(super) async fn outbox_due(&mut self, now: &str, limit: usize) -> Result<Vec<OutboxRow>> {
        let limit = limit as i64;
        self.query(&sql::outbox_due_query(), &[&now, &limit], |r| {
            sql::outbox(r)
        })
        .await
    }

    pub(super) async fn outbox_update(&mut self, updates: &[OutboxUpdate]) -> Result<()> {
        let description = self.description.clone();
        let e = |error| pg_error(&description, error);
        let tx = self.client.transaction().await.map_err(e)?;
        let statement = tx.prepare(sql::UPDATE_OUTBOX).await.map_err(e)?;
        for u in updates {
            tx.execute(
                &statement,
                &[
                    &u.status,
                    &u.attempts,
                    &u.next_attempt_at,
                    &u.last_error,
                    &u.delivered_at,
                    &u.id,
                ],
            )
            .await
            .map_err(e)?;
        }
        tx.commit().await.map_err(e)
    }

    pub(super) async fn outbox_retry_now(&mut self, now: &str, dead: bool) -> Result<u64> {
        let mut changed = self
            .client
            .execute(sql::RETRY_NOW, &[&now])
            .await
            .map_err(|e| self.err(e))?;
        if dead {
            changed += self
                .client
                .execute(sql::REVIVE_DEAD, &[&now])
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(changed)
    }

    pub(super) async fn size_bytes(&mut self) -> Result<u64> {
        let row = self
            .client
            .query_one(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind = 'r' AND n.nspname = current_schema() \
                 AND c.relname IN ('meta', 'definitions', 'runs', 'memberships', 'transitions', 'segment_sizes', 'run_features', 'outbox', 'schema_migrations')",
                &[],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(cell::<i64>(&row, 0)? as u64)
    }

    pub(super) async fn next_ids(&mut self) -> Result<(i64, i64, i64)> {
        let row = self
            .client
            .query_one(sql::NEXT_IDS, &[])
            .await
            .map_err(|e| self.err(e))?;
        Ok((cell(&row, 0)?, cell(&row, 1)?, cell(&row, 2)?))
    }

    pub(super) async fn current(
        &mut self,
    ) -> Result<HashMap<String, HashMap<String, CurrentMembership>>> {
        let rows = self
            .client
            .query(sql::CURRENT, &[])
            .await
            .map_err(|e| self.err(e))?;
        let mut out: HashMap<String, HashMap<String, CurrentMembership>> = HashMap::new();
        for row in &rows {
            let segmentation: String = cell(row, 0)?;
            let account: String = cell(row, 1)?;
            out.entry(segmentation).or_default().insert(
                account,
                CurrentMembership {
                    segment: cell(row, 2)?,
                    version_id: cell(row, 3)?,
                    from_run: cell(row, 4)?,
                },
            );
        }
        Ok(out)
    }

    pub(super) async fn previous_features(&mut self) -> Result<Option<Vec<u8>>> {
        let row = self
            .client
            .query_opt(sql::PREVIOUS_FEATURES, &[])
            .await
            .map_err(|e| self.err(e))?;
        row.map(|row| cell::<Vec<u8>>(&row, 0)).transpose()
    }

    pub(super) async fn commit(&mut self, plan: &CommitPlan) -> Result<()> {
        let description = self.description.clone();
        let e = |error| pg_error(&description, error);
        let tx = self.client.transaction().await.map_err(e)?;
        for d in &plan.definitions {
            tx.execute(
                sql::INSERT_DEFINITION,
                &[
                    &d.id,
                    &d.segmentation,
                    &d.seq,
                    &d.hash,
                    &d.body,
                    &d.created_at,
                ],
            )
            .await
            .map_err(e)?;
        }
        let Some(run) = &plan.run else {
            return Err(Error::Internal("a commit without a run".into()));
        };
        let p = sql::run_params(run);
        tx.execute(
            sql::INSERT_RUN,
            &[
                &p.ints[0],
                &p.texts[0],
                &p.texts[1],
                &p.texts[2],
                &p.texts[3],
                &p.texts[4],
                &p.texts[5],
                &p.texts[6],
                &p.ints[1],
                &p.ints[2],
                &p.ints[3],
                &p.error,
            ],
        )
        .await
        .map_err(e)?;
        let run_id = run.id;
        for chunk in plan.closes.chunks(CHUNK) {
            let segmentations: Vec<&str> = chunk.iter().map(|c| c.0.as_str()).collect();
            let accounts: Vec<&str> = chunk.iter().map(|c| c.1.as_str()).collect();
            let from_runs: Vec<i64> = chunk.iter().map(|c| c.2).collect();
            tx.execute(
                "UPDATE memberships m SET to_run = $1 \
                 FROM unnest($2::text[], $3::text[], $4::bigint[]) AS c(segmentation, account_id, from_run) \
                 WHERE m.segmentation = c.segmentation AND m.account_id = c.account_id AND m.from_run = c.from_run",
                &[&run_id, &segmentations, &accounts, &from_runs],
            )
            .await
            .map_err(e)?;
        }
        for chunk in plan.opens.chunks(CHUNK) {
            let segmentations: Vec<&str> = chunk.iter().map(|m| m.segmentation.as_str()).collect();
            let accounts: Vec<&str> = chunk.iter().map(|m| m.account_id.as_str()).collect();
            let segments: Vec<Option<&str>> = chunk.iter().map(|m| m.segment.as_deref()).collect();
            let versions: Vec<i64> = chunk.iter().map(|m| m.version_id).collect();
            tx.execute(
                "INSERT INTO memberships (segmentation, account_id, from_run, to_run, segment, version_id) \
                 SELECT s, a, $1, NULL, g, v FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) AS o(s, a, g, v)",
                &[&run_id, &segmentations, &accounts, &segments, &versions],
            )
            .await
            .map_err(e)?;
        }
        for chunk in plan.transitions.chunks(CHUNK) {
            let seqs: Vec<i64> = chunk.iter().map(|t| t.seq).collect();
            let segmentations: Vec<&str> = chunk.iter().map(|t| t.segmentation.as_str()).collect();
            let accounts: Vec<&str> = chunk.iter().map(|t| t.account_id.as_str()).collect();
            let froms: Vec<Option<&str>> = chunk.iter().map(|t| t.from.as_deref()).collect();
            let tos: Vec<Option<&str>> = chunk.iter().map(|t| t.to.as_deref()).collect();
            let from_versions: Vec<Option<i64>> = chunk.iter().map(|t| t.from_version).collect();
            let to_versions: Vec<i64> = chunk.iter().map(|t| t.to_version).collect();
            let causes: Vec<&str> = chunk.iter().map(|t| t.cause.name()).collect();
            let from_rules: Vec<Option<&str>> =
                chunk.iter().map(|t| t.from_rule.as_deref()).collect();
            let to_rules: Vec<Option<&str>> = chunk.iter().map(|t| t.to_rule.as_deref()).collect();
            let reasons: Vec<&str> = chunk.iter().map(|t| t.reason.as_str()).collect();
            let explanations: Vec<String> =
                chunk.iter().map(|t| t.explanation.to_string()).collect();
            tx.execute(
                "INSERT INTO transitions (run_id, seq, segmentation, account_id, from_segment, to_segment, from_version, to_version, cause, from_rule, to_rule, reason, explanation) \
                 SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])",
                &[
                    &run_id, &seqs, &segmentations, &accounts, &froms, &tos, &from_versions,
                    &to_versions, &causes, &from_rules, &to_rules, &reasons, &explanations,
                ],
            )
            .await
            .map_err(e)?;
        }
        let insert = tx.prepare(sql::INSERT_OUTBOX).await.map_err(e)?;
        for o in &plan.outbox {
            tx.execute(
                &insert,
                &[
                    &o.id,
                    &o.destination,
                    &o.run_id,
                    &o.transition_seq,
                    &o.owner,
                    &o.key,
                    &o.payload,
                    &o.status,
                    &o.attempts,
                    &o.next_attempt_at,
                    &o.last_error,
                    &o.delivered_at,
                ],
            )
            .await
            .map_err(e)?;
        }
        let insert = tx.prepare(sql::INSERT_SIZE).await.map_err(e)?;
        for s in &plan.sizes {
            tx.execute(
                &insert,
                &[
                    &s.run_id,
                    &s.segmentation,
                    &s.segment,
                    &s.accounts,
                    &s.arr,
                    &s.nrr,
                ],
            )
            .await
            .map_err(e)?;
        }
        if let Some(features) = &plan.features {
            tx.execute(sql::CLEAR_FEATURES, &[]).await.map_err(e)?;
            tx.execute(sql::INSERT_FEATURES, &[&run_id, features])
                .await
                .map_err(e)?;
        }
        if let Some(pause) = plan.pause {
            tokio::time::sleep(pause).await;
        }
        tx.commit().await.map_err(e)
    }
}
