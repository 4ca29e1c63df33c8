//! Segmentations: every rule checked against the feature schema, then
//! evaluated as one `CASE` per segmentation over the feature table; clusters
//! fitted with [`crate::discover`].
//!
//! An account is in the first segment whose rule is true; a rule that is
//! false or NULL (SQL's three-valued logic) does not match, and an account
//! that matches no rule is *unassigned* in that segmentation.
//!
//! **Invariants**: a rule reaches only the account's own row; all rule
//! problems of a project are reported together.
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;

use crate::discover::{self, Discovery};
use crate::error::{Error, Problem, Result};
pub use crate::eval::{evaluate, first_matches};
use crate::eval::{first_match_of, segment_indices};
use crate::features::FeatureTable;
use crate::project::{ClusterDef, Project, SegmentDef, SegmentationKind};
use crate::rules::{self, CheckedRule};

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
}

/// `CASE WHEN r0 THEN 0 WHEN r1 THEN 1 ... END`.
fn first_match(segments: &[CheckedSegment]) -> Result<Expr> {
    first_match_of(segments.iter().map(|segment| &segment.rule))
}

/// Evaluates every segmentation over the feature table: rules as one query,
/// clusters by fitting k-means (on a sample of `kmeans_sample` accounts
/// when there are more; every account is then assigned). A clustering that cannot be fit on this data
/// (too few distinct accounts) leaves every account unassigned and adds a
/// warning to `warnings`.
pub async fn assign(
    ctx: &SessionContext,
    features: &FeatureTable,
    segmentations: &[CheckedSegmentation],
    as_of: chrono::NaiveDate,
    kmeans_sample: usize,
    warnings: &mut Vec<Problem>,
) -> Result<Vec<Assignment>> {
    let n_rows = features.batch.num_rows();
    let mut assignments: Vec<Option<Assignment>> = vec![None; segmentations.len()];
    let mut select = Vec::new();
    let mut rule_slots = Vec::new();
    for (idx, segmentation) in segmentations.iter().enumerate() {
        match &segmentation.method {
            Method::Rules { segments, .. } => {
                select.push(first_match(segments)?);
                rule_slots.push(idx);
                assignments[idx] = Some(rules_assignment(&segmentation.name, segments));
            }
            Method::Themes { .. } => {
                // Filled in by the pipeline, which holds the feedback.
                assignments[idx] = Some(Assignment {
                    segmentation: segmentation.name.clone(),
                    segments: Vec::new(),
                    membership: vec![None; n_rows],
                    discovery: None,
                });
            }
            Method::Clusters(def) => {
                assignments[idx] = Some(
                    match discover::discover_sampled(
                        features,
                        &segmentation.name,
                        def,
                        as_of,
                        kmeans_sample,
                    ) {
                        Ok(discovery) => cluster_assignment(&segmentation.name, discovery)?,
                        // Too few (distinct) accounts to cluster: a small base
                        // must not stop the other segmentations.
                        Err(Error::Invalid(problems)) => {
                            warnings.extend(problems);
                            Assignment {
                                segmentation: segmentation.name.clone(),
                                segments: Vec::new(),
                                membership: vec![None; n_rows],
                                discovery: None,
                            }
                        }
                        Err(error) => return Err(error),
                    },
                );
            }
        }
    }
    if !select.is_empty() {
        let columns = evaluate(ctx, &features.batch, &select)?;
        for (column, &slot) in columns.iter().zip(&rule_slots) {
            if let Some(assignment) = assignments[slot].as_mut() {
                assignment.membership = segment_indices(column);
            }
        }
    }
    let assignments: Vec<Assignment> = assignments.into_iter().flatten().collect();
    if assignments.len() != segmentations.len()
        || assignments.iter().any(|a| a.membership.len() != n_rows)
    {
        return Err(Error::Internal("segment assignment lost rows".into()));
    }
    Ok(assignments)
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
    })
}
