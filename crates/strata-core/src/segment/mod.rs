//! Segmentations: every rule checked against the feature schema, then
//! evaluated as one `CASE` per segmentation over the feature table by the
//! engine's [`Matcher`]; clusters fitted with [`crate::discover`]; needs
//! segments from the feedback themes. [`assign`] is the one place every kind
//! of segmentation gets its members, on every engine.
//!
//! An account is in the first segment whose rule is true; a rule that is
//! false or NULL (SQL's three-valued logic) does not match, and an account
//! that matches no rule is *unassigned* in that segmentation.
//!
//! **Invariants**: a rule reaches only the account's own row; all rule
//! problems of a project are reported together.
use std::borrow::Cow;

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;

use crate::discover::{self, Discovery};
use crate::error::{Error, Problem, Result};
pub use crate::eval::{evaluate, first_matches};
use crate::eval::{first_match_of, segment_indices};
use crate::features::FeatureTable;
use crate::project::{ClusterDef, Project, SegmentDef, SegmentationKind};
use crate::rules::{self, CheckedRule};
use crate::themes::{Theme, Themes};

/// A segment whose rule checked.
#[derive(Debug, Clone)]
pub struct CheckedSegment {
    /// Segment name.
    pub name: String,
    /// The checked rule.
    pub rule: CheckedRule,
    /// Free text.
    pub description: Option<String>,
}

/// A segmentation whose rules all checked.
#[derive(Debug, Clone)]
pub struct CheckedSegmentation {
    /// Segmentation name.
    pub name: String,
    /// `rules` or `clusters`.
    pub kind: &'static str,
    /// Free text.
    pub description: Option<String>,
    /// How members are found.
    pub method: Method,
}

/// How a checked segmentation finds its members.
#[derive(Debug, Clone)]
pub enum Method {
    /// Ordered rules, first match wins.
    Rules {
        /// Segments in priority order.
        segments: Vec<CheckedSegment>,
        /// The model file the rules were frozen from, resolved against the project folder.
        model: Option<std::path::PathBuf>,
    },
    /// k-means; its segments exist only after fitting.
    Clusters(ClusterDef),
    /// Dominant feedback theme; its segments exist only after the text is
    /// clustered (by the pipeline, which holds the feedback).
    Themes {
        /// Number of themes; `None` chooses.
        k: Option<usize>,
    },
    /// Scorecards; the grades are the segments.
    Score(crate::score::CheckedScore),
}

/// Checks every rule of every segmentation against `schema`, collecting all
/// problems; the features of `clusters` segmentations must be numeric columns.
pub fn check_segmentations(
    project: &Project,
    schema: &rules::Schema,
) -> Result<Vec<CheckedSegmentation>> {
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    for segmentation in &project.segmentations {
        let method = match &segmentation.kind {
            SegmentationKind::Rules { segments, model } => Method::Rules {
                segments: check_rules(&segmentation.name, segments, schema, &mut problems),
                model: model.as_ref().map(|path| project.dir.join(path)),
            },
            SegmentationKind::Clusters(def) => {
                let location = format!("strata.toml: segmentation `{}`", segmentation.name);
                problems.extend(discover::check_features(&def.features, schema, &location));
                problems.extend(discover::check_rule_segments(
                    &def.segments,
                    schema,
                    &location,
                ));
                Method::Clusters(def.clone())
            }
            SegmentationKind::Themes { k } => {
                if project
                    .source(crate::project::TableKind::Feedback)
                    .is_none()
                {
                    problems.push(
                        Problem::new(
                            format!("strata.toml: segmentation `{}`", segmentation.name),
                            "kind = \"themes\" needs a feedback table with verbatims",
                        )
                        .with_help(
                            "add `feedback = \"...\"` under [sources], or remove the segmentation",
                        ),
                    );
                }
                Method::Themes { k: *k }
            }
            SegmentationKind::Score(def) => {
                let location = format!("strata.toml: segmentation `{}`", segmentation.name);
                match crate::score::check(def, schema, &location, &mut problems) {
                    Some(checked) => Method::Score(checked),
                    None => continue,
                }
            }
        };
        checked.push(CheckedSegmentation {
            name: segmentation.name.clone(),
            kind: segmentation.kind.name(),
            description: segmentation.description.clone(),
            method,
        });
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(Error::Invalid(problems))
    }
}

fn check_rules(
    segmentation: &str,
    defs: &[SegmentDef],
    schema: &rules::Schema,
    problems: &mut Vec<Problem>,
) -> Vec<CheckedSegment> {
    let mut segments = Vec::new();
    for SegmentDef {
        name,
        when,
        description,
    } in defs
    {
        match rules::check_predicate(when, schema) {
            Ok(rule) => segments.push(CheckedSegment {
                name: name.clone(),
                rule,
                description: description.clone(),
            }),
            Err(error) => {
                let error = error.with_context(format!("{segmentation}/{name}"));
                problems.push(Problem::from_rule(
                    format!("strata.toml: segmentation `{segmentation}`, segment `{name}`"),
                    error,
                ));
            }
        }
    }
    segments
}

/// A segment as assigned: its name, its rule in canonical text, and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedSegment {
    /// Segment name.
    pub name: String,
    /// Rule-language text; for clusters, the nearest-centroid rule.
    pub rule: String,
    /// Free text.
    pub description: Option<String>,
}

/// The segment of every account in one segmentation.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// Segmentation name.
    pub segmentation: String,
    /// Segments in priority order.
    pub segments: Vec<AssignedSegment>,
    /// Per account (feature-table order): the segment index, or `None`.
    pub membership: Vec<Option<usize>>,
    /// For clusters: the fit behind the segments.
    pub discovery: Option<Discovery>,
    /// For scores: every account's score, explained (feature-table order).
    pub scores: Option<Vec<crate::score::AccountScore>>,
}

/// Where an engine evaluates rules: the one thing [`assign`] asks of it.
#[async_trait::async_trait]
pub trait Matcher: Send + Sync {
    /// For each list of rules, per account (feature-table order), the index
    /// of the list's first rule that is true.
    async fn first_matches(&self, lists: &[Vec<CheckedRule>]) -> Result<Vec<Vec<Option<usize>>>>;

    /// Whether a fitted clustering's accounts are placed by its
    /// nearest-centroid rules on this engine (a warehouse, where every
    /// account is) instead of by the fit's own labels.
    fn places_clusters_by_rule(&self) -> bool {
        false
    }
}

/// The embedded matcher: rules compiled to DataFusion expressions over the
/// feature table in memory, evaluated in its row order.
pub struct InMemory<'a> {
    /// The context whose functions the rules call.
    pub ctx: &'a SessionContext,
    /// The feature table.
    pub batch: &'a RecordBatch,
}

#[async_trait::async_trait]
impl Matcher for InMemory<'_> {
    async fn first_matches(&self, lists: &[Vec<CheckedRule>]) -> Result<Vec<Vec<Option<usize>>>> {
        let select = lists
            .iter()
            .map(|rules| first_match_of(rules))
            .collect::<Result<Vec<_>>>()?;
        let columns = evaluate(self.ctx, self.batch, &select)?;
        Ok(columns.iter().map(segment_indices).collect())
    }
}

/// What [`assign`] reads besides the engine.
pub struct AssignInputs<'a> {
    /// The feature table.
    pub features: &'a FeatureTable,
    /// The checked segmentations.
    pub segmentations: &'a [CheckedSegmentation],
    /// The run's as-of date.
    pub as_of: chrono::NaiveDate,
    /// Accounts a clustering is fitted on at most.
    pub kmeans_sample: usize,
    /// The run's needs themes with `k` themes (`None`: k chosen).
    pub themes: &'a (dyn Fn(Option<usize>) -> Cow<'a, Themes> + Sync),
    /// Whether health scores are explained measure by measure; without,
    /// each account gets its score and grade alone (a past date's
    /// memberships: the backtest needs no words).
    pub explain: bool,
}

/// Every segmentation's members, on any engine: rules evaluated by
/// `matcher` (all rules segmentations in one pass), clusters fitted by
/// k-means (on a sample of `kmeans_sample` accounts when there are more;
/// every account is then assigned, by the fit or by its nearest-centroid
/// rules where the engine says so), themes by each account's dominant
/// feedback theme. A clustering that cannot be fit on this data (too few
/// distinct accounts), or themes without verbatims, leave every account
/// unassigned and add a warning to `warnings`.
pub async fn assign(
    matcher: &dyn Matcher,
    inputs: &AssignInputs<'_>,
    warnings: &mut Vec<Problem>,
) -> Result<Vec<Assignment>> {
    let features = inputs.features;
    let n_rows = features.batch.num_rows();
    let unassigned = |name: &str| Assignment {
        segmentation: name.to_string(),
        segments: Vec::new(),
        membership: vec![None; n_rows],
        discovery: None,
        scores: None,
    };
    let (themes_found, discoveries) = discover_beside_themes(inputs)?;
    let mut themes_found = themes_found.into_iter();
    let mut discoveries = discoveries.into_iter();
    let mut assignments = Vec::with_capacity(inputs.segmentations.len());
    let mut lists: Vec<(usize, Vec<CheckedRule>)> = Vec::new();
    for (idx, segmentation) in inputs.segmentations.iter().enumerate() {
        let name = &segmentation.name;
        match &segmentation.method {
            Method::Rules { segments, .. } => {
                lists.push((idx, segments.iter().map(|s| s.rule.clone()).collect()));
                assignments.push(rules_assignment(name, segments));
            }
            Method::Themes { .. } => {
                let themes = themes_found
                    .next()
                    .ok_or_else(|| Error::Internal("a needs segmentation's themes".into()))?;
                assignments.push(theme_assignment(name, &themes, warnings));
            }
            Method::Score(score) => {
                let (scores, membership) =
                    crate::score::score_accounts(score, &features.batch, inputs.explain)?;
                let grades = &score.def.grades;
                assignments.push(Assignment {
                    segmentation: name.to_string(),
                    segments: grades
                        .iter()
                        .enumerate()
                        .map(|(idx, grade)| AssignedSegment {
                            name: grade.name.clone(),
                            rule: String::new(),
                            description: Some(match idx.checked_sub(1).map(|up| &grades[up]) {
                                Some(above) => format!(
                                    "score from {} to below {}",
                                    crate::score::number(grade.min),
                                    crate::score::number(above.min)
                                ),
                                None => {
                                    format!("score {} or more", crate::score::number(grade.min))
                                }
                            }),
                        })
                        .collect(),
                    membership,
                    discovery: None,
                    scores: Some(scores),
                });
            }
            Method::Clusters(_) => {
                let found = discoveries
                    .next()
                    .ok_or_else(|| Error::Internal("a clustering's discovery".into()))?;
                let discovery = match found {
                    Ok(discovery) => discovery,
                    // Too few (distinct) accounts to cluster: a small base
                    // must not stop the other segmentations.
                    Err(Error::Invalid(problems)) => {
                        warnings.extend(problems);
                        assignments.push(unassigned(name));
                        continue;
                    }
                    Err(error) => return Err(error),
                };
                let assignment = cluster_assignment(name, discovery)?;
                if matcher.places_clusters_by_rule() {
                    let schema = features.rule_schema();
                    let rules = assignment
                        .segments
                        .iter()
                        .map(|s| rules::check_predicate(&s.rule, &schema))
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|error| {
                            Error::Internal(format!(
                                "a nearest-centroid rule does not check: {error}"
                            ))
                        })?;
                    lists.push((idx, rules));
                }
                assignments.push(assignment);
            }
        }
    }
    if !lists.is_empty() {
        let rules: Vec<Vec<CheckedRule>> = lists.iter().map(|(_, rules)| rules.clone()).collect();
        let memberships = matcher.first_matches(&rules).await?;
        if memberships.len() != lists.len() {
            return Err(Error::Internal("an engine lost a segmentation".into()));
        }
        for ((idx, _), membership) in lists.iter().zip(memberships) {
            let assignment = &mut assignments[*idx];
            if let Some(discovery) = assignment.discovery.as_mut() {
                // The engine's placement is the clustering's labels.
                discovery.labels = membership.iter().map(|m| m.unwrap_or(0)).collect();
            }
            assignment.membership = membership;
        }
    }
    if assignments.len() != inputs.segmentations.len()
        || assignments.iter().any(|a| a.membership.len() != n_rows)
    {
        return Err(Error::Internal("segment assignment lost rows".into()));
    }
    Ok(assignments)
}

/// The themes of every needs segmentation and the discovery of every
/// clustering, each in the segmentations' order. The two are independent
/// and mostly single-threaded, so the themes are found on another thread
/// while the clusterings are fit.
#[allow(clippy::type_complexity)]
fn discover_beside_themes<'a>(
    inputs: &AssignInputs<'a>,
) -> Result<(Vec<Cow<'a, Themes>>, Vec<Result<Discovery>>)> {
    let theme_ks: Vec<Option<usize>> = inputs
        .segmentations
        .iter()
        .filter_map(|segmentation| match &segmentation.method {
            Method::Themes { k } => Some(*k),
            _ => None,
        })
        .collect();
    let themes = inputs.themes;
    std::thread::scope(|scope| {
        let found = (!theme_ks.is_empty())
            .then(|| scope.spawn(|| theme_ks.iter().map(|&k| themes(k)).collect::<Vec<_>>()));
        let discoveries: Vec<Result<Discovery>> = inputs
            .segmentations
            .iter()
            .filter_map(|segmentation| match &segmentation.method {
                Method::Clusters(def) => Some(discover::discover_sampled(
                    inputs.features,
                    &segmentation.name,
                    def,
                    inputs.as_of,
                    inputs.kmeans_sample,
                )),
                _ => None,
            })
            .collect();
        let themes_found = match found {
            Some(handle) => handle
                .join()
                .map_err(|_| Error::Internal("finding the needs themes panicked".into()))?,
            None => Vec::new(),
        };
        Ok((themes_found, discoveries))
    })
}

/// The assignment of a needs segmentation: each account in its dominant
/// feedback theme.
fn theme_assignment(
    segmentation: &str,
    themes: &Themes,
    warnings: &mut Vec<Problem>,
) -> Assignment {
    if themes.themes.is_empty() {
        warnings.push(Problem::new(
            format!("segmentation `{segmentation}`"),
            format!("{}: every account is unassigned", themes.explanation),
        ));
    }
    Assignment {
        segmentation: segmentation.to_string(),
        segments: themes
            .segments()
            .into_iter()
            .map(|theme| AssignedSegment {
                name: theme.name.clone(),
                rule: String::new(),
                description: Some(theme_description(theme)),
            })
            .collect(),
        membership: themes.dominant.clone(),
        discovery: None,
        scores: None,
    }
}

/// What a needs segment is about: its distinctive terms, its size and one
/// verbatim that says it.
fn theme_description(theme: &Theme) -> String {
    let lead = if theme.name == crate::themes::NO_SPECIFIC_NEED {
        "most of their feedback is about no specific need (common words: "
    } else {
        "dominant feedback need (terms: "
    };
    let mut description = format!(
        "{lead}{}; {} verbatims)",
        theme.terms.join(", "),
        theme.verbatims
    );
    if let Some(example) = theme.representatives.first() {
        let example: String = example.split_whitespace().collect::<Vec<_>>().join(" ");
        description.push_str(&format!(", e.g. \"{example}\""));
    }
    description
}

/// The assignment of a rules segmentation, before its members are found:
/// its segments with their rule text, no members yet.
pub fn rules_assignment(segmentation: &str, segments: &[CheckedSegment]) -> Assignment {
    Assignment {
        segmentation: segmentation.to_string(),
        segments: segments
            .iter()
            .map(|segment| AssignedSegment {
                name: segment.name.clone(),
                rule: segment.rule.expr().to_string(),
                description: segment.description.clone(),
            })
            .collect(),
        membership: Vec::new(),
        discovery: None,
        scores: None,
    }
}

/// The assignment of a fitted clustering: one segment per cluster, each with
/// its nearest-centroid rule.
pub fn cluster_assignment(segmentation: &str, discovery: Discovery) -> Result<Assignment> {
    let rules = discover::freeze::rules(&discovery.model);
    let segments = discovery
        .model
        .clusters
        .iter()
        .zip(rules)
        .map(|(cluster, rule)| AssignedSegment {
            name: cluster.name.clone(),
            rule,
            description: Some(cluster.description.clone()),
        })
        .collect();
    Ok(Assignment {
        segmentation: segmentation.to_string(),
        segments,
        membership: discovery.labels.iter().map(|&label| Some(label)).collect(),
        discovery: Some(discovery),
        scores: None,
    })
}
