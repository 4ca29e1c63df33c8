//! `strata serve`: its flags, handed to the server crate (`strata-server`),
//! which holds the API, the dashboard and the server's runs.
use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;

use crate::state_cmd::RecordArgs;

/// `strata serve` flags.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Project folder (holding strata.toml) or the project file.
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    /// Output folder for the runs the server makes.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Address to listen on [default: the project's serve.addr, else 127.0.0.1:8080;
    /// port 0 picks a free port].
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Override the project's as_of date for the first run.
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// Seconds between looks at the state store for runs recorded by other
    /// processes (`strata run`, cron), which are then served; 0 turns it off.
    #[arg(long, default_value_t = 10)]
    pub watch: u64,
    #[command(flatten)]
    pub record: RecordArgs,
}

/// `strata serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    strata_server::serve(strata_server::ServeConfig {
        project: args.project,
        engine: crate::ENGINE.get().cloned(),
        out: args.out,
        addr: args.addr,
        as_of: args.as_of,
        watch: args.watch,
        record: args.record.settings(),
    })
    .await
}
