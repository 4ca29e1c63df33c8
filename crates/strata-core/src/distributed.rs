//! `engine = { ballista = "df://host:port" }`: the feature plans of
//! `features::compute` run on an Apache DataFusion Ballista cluster.
//!
//! Ballista executes the same DataFusion logical plans, shipped to its
//! scheduler as protobuf. Plans may only scan what an executor can read
//! itself: files (the sources) and, for the small per-account tables strata
//! builds in memory, Parquet files written by [`small_table`] into a folder
//! that lives as long as the session. Everything after the features (rules,
//! clusters, measures) runs in this process on the per-account table.
//!
//! The cluster needs the `ballista` cargo feature; without it the engine
//! says how to get it. `local_cluster` starts a scheduler and executors in
//! this process on loopback (`strata cluster`, and the tests).
//!
//! **Invariants**: a distributed run gives the embedded run's features
//! (a test compares them); executors must see the same paths as this
//! process (absolute paths, one machine or a shared file system).
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext};

use crate::error::{Error, Result};

/// A folder of Parquet files standing in for in-memory tables on a
/// cluster; removed when the session that holds it is dropped.
#[derive(Debug)]
pub struct SmallTables {
    dir: PathBuf,
    written: AtomicUsize,
}

impl SmallTables {
    /// A fresh folder under the system's temporary folder.
    pub fn new() -> Result<SmallTables> {
        static SESSIONS: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "strata-cluster-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(SmallTables {
            dir,
            written: AtomicUsize::new(0),
        })
    }
}

impl Drop for SmallTables {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `batch` as a DataFrame: in memory on the embedded engine; on a cluster
/// (a session carrying [`SmallTables`]) a Parquet file the executors read.
pub async fn small_table(ctx: &SessionContext, batch: RecordBatch) -> Result<DataFrame> {
    let Some(tables) = ctx.state().config().get_extension::<SmallTables>() else {
        return Ok(ctx.read_batch(batch)?);
    };
    let idx = tables.written.fetch_add(1, Ordering::SeqCst);
    let path = tables.dir.join(format!("table-{idx}.parquet"));
    let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut writer = datafusion::parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(ctx
        .read_parquet(
            path.to_string_lossy().to_string(),
            ParquetReadOptions::default(),
        )
        .await?)
}

/// Whether `ctx` runs on a cluster (plans must then be DataFusion plans).
pub fn on_cluster(ctx: &SessionContext) -> bool {
    ctx.state()
        .config()
        .get_extension::<SmallTables>()
        .is_some()
}

/// A session on the Ballista cluster whose scheduler is at `url`.
#[cfg(feature = "ballista")]
pub async fn context(url: &str) -> Result<SessionContext> {
    use ballista::prelude::{SessionConfigExt, SessionContextExt};
    use datafusion::execution::SessionStateBuilder;
    let unreachable = |detail: String| {
        Error::unavailable(
            crate::error::Problem::new(
                "engine",
                format!("cannot reach the Ballista scheduler at {url}: {detail}"),
            )
            .with_help("start a scheduler and executors (see the README), or `strata cluster` for a local one"),
        )
    };
    // The client connects lazily, at the first query; ask now, so that a
    // wrong address is reported as such rather than as a failed read.
    let address = url.trim_start_matches("df://");
    let address = if address.contains(':') {
        address.to_string()
    } else {
        format!("{address}:50050")
    };
    match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::net::TcpStream::connect(&address),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => return Err(unreachable(error.to_string())),
        Err(_) => return Err(unreachable("no answer in 10 s".into())),
    }
    let config = datafusion::prelude::SessionConfig::new_with_ballista()
        .with_information_schema(false)
        .with_extension(std::sync::Arc::new(SmallTables::new()?));
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    SessionContext::remote_with_state(url, state)
        .await
        .map_err(|error| unreachable(error.to_string()))
}

/// Without the `ballista` feature: an error that says how to get it.
#[cfg(not(feature = "ballista"))]
pub async fn context(url: &str) -> Result<SessionContext> {
    Err(Error::invalid(
        crate::error::Problem::new(
            "engine",
            format!("this strata build has no Ballista engine (asked for {url})"),
        )
        .with_help("build strata with it: cargo build --release -p strata-cli --features ballista"),
    ))
}

/// Starts a Ballista scheduler and `executors` executors (each running
/// `slots` tasks at once) in this process on loopback; returns the
/// scheduler's address. They run until the process ends.
#[cfg(feature = "ballista")]
pub async fn local_cluster(executors: usize, slots: usize) -> Result<std::net::SocketAddr> {
    use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
    let cluster_error = |what: &str, error: &dyn std::fmt::Display| {
        Error::Internal(format!(
            "starting the local Ballista cluster: {what}: {error}"
        ))
    };
    let address = ballista_scheduler::standalone::new_standalone_scheduler()
        .await
        .map_err(|e| cluster_error("scheduler", &e))?;
    let url = format!("http://127.0.0.1:{}", address.port());
    for _ in 0..executors {
        let mut attempts = 0;
        let scheduler = loop {
            match SchedulerGrpcClient::connect(url.clone()).await {
                Ok(client) => break client,
                Err(error) if attempts >= 50 => return Err(cluster_error("connect", &error)),
                Err(_) => {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        };
        ballista_executor::new_standalone_executor(
            scheduler,
            slots,
            ballista_core::serde::BallistaCodec::default(),
        )
        .await
        .map_err(|e| cluster_error("executor", &e))?;
    }
    Ok(address)
}

/// Without the `ballista` feature: an error that says how to get it.
#[cfg(not(feature = "ballista"))]
pub async fn local_cluster(executors: usize, slots: usize) -> Result<std::net::SocketAddr> {
    context(&format!("a local cluster of {executors} x {slots}"))
        .await
        .map(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
}
