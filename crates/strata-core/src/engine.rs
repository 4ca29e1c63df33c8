//! The engine seam: where the events are read and the rules evaluated.
//!
//! An [`Engine`] does three things for a run: it checks the events and
//! computes the feature table ([`Engine::prepare`]), says which columns the
//! events have, and evaluates rules where the features are
//! ([`Engine::matcher`]). Everything else (fitting clusters, themes,
//! measures, outputs) runs in this process on the per-account feature table,
//! the same for every engine; [`Engine::assign`] is `segment::assign` with
//! the engine's matcher.
//!
//! Implementations: [`DataFusionEngine`] here (embedded, and Ballista, whose
//! cluster runs the sources and features plans) and
//! `crate::pushdown::Postgres` (features and rules inside PostgreSQL). A new
//! warehouse engine is one more implementation, chosen in
//! `crate::pipeline::engine`.
//!
//! **Invariants**: every engine gives the same feature table and the same
//! memberships for the same data (cross-engine tests compare them); the
//! events check's problems are the same on every engine
//! (`sources::EventCounts::judge`).
use datafusion::prelude::SessionContext;

use crate::dates::day_number;
use crate::error::{Problem, Result};
use crate::features;
use crate::prepare::{Observer, Phase, Prepared, RunOptions, finish_prepare, resolve_as_of};
use crate::project::Project;
use crate::segment::{self, AssignInputs, Assignment, InMemory, Matcher};
use crate::sources::{self, EVENTS_RAW};

/// Where a run's features are computed and its rules evaluated.
#[async_trait::async_trait]
pub trait Engine: Send + Sync {
    /// Loads and checks the sources, computes the feature table and checks
    /// every segmentation's rules against it.
    async fn prepare(
        &self,
        project: &Project,
        options: &RunOptions,
        observer: &dyn Observer,
    ) -> Result<Prepared>;

    /// The events table's columns, as the sources name them (after
    /// [`Engine::prepare`]).
    async fn event_columns(&self) -> Result<Vec<String>>;

    /// Evaluates rules over a prepared run's features, where they are.
    fn matcher<'a>(&'a self, prepared: &'a Prepared) -> Result<Box<dyn Matcher + 'a>>;

    /// The embedded session whose events table [`Engine::prepare`]
    /// registered, for more dates' features from the same sources (a run's
    /// own backtest); `None` where the events are read elsewhere.
    fn embedded_session(&self) -> Option<SessionContext> {
        None
    }

    /// Every segmentation's members (see [`segment::assign`]), health
    /// scores explained.
    async fn assign(
        &self,
        project: &Project,
        prepared: &Prepared,
        warnings: &mut Vec<Problem>,
    ) -> Result<Vec<Assignment>> {
        self.assign_explained(project, prepared, warnings, true)
            .await
    }

    /// [`Engine::assign`], health scores explained or not (`explain`: a
    /// past date's memberships need the scores alone).
    async fn assign_explained(
        &self,
        project: &Project,
        prepared: &Prepared,
        warnings: &mut Vec<Problem>,
        explain: bool,
    ) -> Result<Vec<Assignment>> {
        let matcher = self.matcher(prepared)?;
        let themes = |k: Option<usize>| prepared.themes_with(k);
        let inputs = AssignInputs {
            features: &prepared.features,
            segmentations: &prepared.segmentations,
            as_of: prepared.as_of,
            kmeans_sample: project.kmeans_sample,
            themes: &themes,
            explain,
        };
        segment::assign(matcher.as_ref(), &inputs, warnings).await
    }
}

/// The columns of the events table registered in `ctx` by preparing a run.
pub(crate) async fn registered_event_columns(ctx: &SessionContext) -> Result<Vec<String>> {
    let frame = ctx.table(EVENTS_RAW).await?;
    Ok(frame
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

/// The DataFusion engine: embedded (everything in this process), or with a
/// Ballista cluster that runs the sources and features plans.
pub struct DataFusionEngine {
    /// This process's context: rules and everything after the features.
    local: SessionContext,
    /// A Ballista cluster's context, when the project names one.
    cluster: Option<SessionContext>,
}

impl DataFusionEngine {
    /// The embedded engine over `local`.
    pub fn embedded(local: SessionContext) -> Self {
        DataFusionEngine {
            local,
            cluster: None,
        }
    }

    /// Sources and features on the Ballista cluster at `url`; the rest on
    /// `local`.
    pub async fn ballista(local: SessionContext, url: &str) -> Result<Self> {
        Ok(DataFusionEngine {
            local,
            cluster: Some(crate::distributed::context(url).await?),
        })
    }

    /// The context that reads the events.
    fn reader(&self) -> &SessionContext {
        self.cluster.as_ref().unwrap_or(&self.local)
    }
}

#[async_trait::async_trait]
impl Engine for DataFusionEngine {
    async fn prepare(
        &self,
        project: &Project,
        options: &RunOptions,
        observer: &dyn Observer,
    ) -> Result<Prepared> {
        let ctx = self.reader();
        // A kept scan serves the embedded engine only (a cluster plans).
        let cache = options
            .cache
            .as_ref()
            .filter(|_| !crate::distributed::on_cluster(ctx));
        observer.phase_started(Phase::Sources);
        let check = match cache {
            Some(cache) => sources::Check::Since(cache.earlier_checks()),
            None => sources::Check::All,
        };
        let sources = sources::load_with(ctx, project, check).await?;
        let as_of = resolve_as_of(project, options, &sources)?;
        observer.phase_finished(Phase::Sources);

        observer.phase_started(Phase::Features);
        let (mut features, scan) = match cache {
            Some(cache) => {
                let (table, mode) = features::compute_cached(
                    ctx,
                    project,
                    &sources,
                    day_number(as_of),
                    options.early_days,
                    cache,
                )
                .await?;
                (table, Some(mode))
            }
            None => {
                // Work beside the features (the run's backtest) shares the
                // scan where it reads every event.
                let beside = match &options.beside {
                    Some(beside) if !crate::distributed::on_cluster(ctx) => {
                        beside
                            .0
                            .features(ctx, project, &sources, as_of, options.early_days, observer)
                            .await?
                    }
                    _ => None,
                };
                match beside {
                    Some(table) => (table, None),
                    None => (
                        features::compute_with(
                            ctx,
                            project,
                            &sources,
                            day_number(as_of),
                            None,
                            options.early_days,
                        )
                        .await?,
                        None,
                    ),
                }
            }
        };
        let risk = match &project.risk {
            Some(settings) => Some(
                crate::risk::learn(
                    ctx,
                    project,
                    &sources,
                    as_of,
                    settings,
                    &mut features,
                    cache,
                )
                .await?,
            ),
            None => None,
        };
        let mut prepared = finish_prepare(
            project,
            as_of,
            std::borrow::Cow::Owned(sources),
            features,
            risk,
            observer,
        )?;
        prepared.scan = scan;
        Ok(prepared)
    }

    async fn event_columns(&self) -> Result<Vec<String>> {
        registered_event_columns(self.reader()).await
    }

    fn matcher<'a>(&'a self, prepared: &'a Prepared) -> Result<Box<dyn Matcher + 'a>> {
        Ok(Box::new(InMemory {
            ctx: &self.local,
            batch: &prepared.features.batch,
        }))
    }

    fn embedded_session(&self) -> Option<SessionContext> {
        self.cluster.is_none().then(|| self.local.clone())
    }
}
