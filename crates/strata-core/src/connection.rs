//! A run's connection to the database that computes its features when the
//! project says `engine = "postgres"`: held by the engine
//! ([`crate::pushdown::Postgres`]) from preparing the run to assigning its
//! segments where the features are.
use datafusion::arrow::array::RecordBatch;
use tokio_postgres::Client;

use crate::error::Result;
use crate::sources::postgres as pg;

/// A run's connection to the database, holding its feature table.
pub struct Pushed {
    pub(crate) client: Client,
    pub(crate) location: String,
}

impl std::fmt::Debug for Pushed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pushed")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Pushed {
    pub(crate) async fn fetch(&self, sql: &str) -> Result<RecordBatch> {
        pg::fetch(&self.client, sql, &self.location).await
    }

    pub(crate) async fn execute(&self, sql: &str) -> Result<()> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(|error| pg::pg_error(&self.location, &error))
    }
}
