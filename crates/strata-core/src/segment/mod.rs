//! Segmentations: every rule checked against the feature schema, then
//! evaluated as one `CASE` per segmentation over the feature table.
//!
//! An account is in the first segment whose rule is true; a rule that is
//! false or NULL (SQL's three-valued logic) does not match, and an account
//! that matches no rule is *unassigned* in that segmentation.
//!
//! **Invariants**: a rule reaches only the account's own row; all rule
//! problems of a project are reported together.
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::logical_expr::{Expr, lit};
use datafusion::prelude::SessionContext;

use crate::error::{Error, Problem, Result};
use crate::features::FeatureTable;
use crate::project::{Project, SegmentDef, SegmentationKind};
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
    /// `rules`.
    pub kind: &'static str,
    /// Free text.
    pub description: Option<String>,
    /// Segments in priority order.
    pub segments: Vec<CheckedSegment>,
}

/// Checks every rule of every segmentation against `schema`, collecting all problems.
pub fn check_segmentations(
    project: &Project,
    schema: &rules::Schema,
) -> Result<Vec<CheckedSegmentation>> {
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    for segmentation in &project.segmentations {
        let SegmentationKind::Rules(defs) = &segmentation.kind;
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
                    let error = error.with_context(format!("{}/{}", segmentation.name, name));
                    problems.push(Problem::from_rule(
                        format!(
                            "strata.toml: segmentation `{}`, segment `{name}`",
                            segmentation.name
                        ),
                        error,
                    ));
                }
            }
        }
        checked.push(CheckedSegmentation {
            name: segmentation.name.clone(),
            kind: segmentation.kind.name(),
            description: segmentation.description.clone(),
            segments,
        });
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(Error::Invalid(problems))
    }
}

/// The segment of every account in one segmentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Segmentation name.
    pub segmentation: String,
    /// Segment names in priority order.
    pub segment_names: Vec<String>,
    /// Per account (feature-table order): the segment index, or `None`.
    pub membership: Vec<Option<usize>>,
}

/// `CASE WHEN r0 THEN 0 WHEN r1 THEN 1 ... END`.
fn first_match(segmentation: &CheckedSegmentation) -> Result<Expr> {
    let mut segments = segmentation.segments.iter().enumerate();
    let Some((_, first)) = segments.next() else {
        return Ok(lit(datafusion::common::ScalarValue::Int64(None)));
    };
    let mut case = datafusion::logical_expr::when(first.rule.to_datafusion(), lit(0i64));
    for (idx, segment) in segments {
        case = case.when(segment.rule.to_datafusion(), lit(idx as i64));
    }
    Ok(case.end()?)
}

/// Evaluates every segmentation over the feature table.
pub async fn assign(
    ctx: &SessionContext,
    features: &FeatureTable,
    segmentations: &[CheckedSegmentation],
) -> Result<Vec<Assignment>> {
    if segmentations.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = Vec::new();
    for (idx, segmentation) in segmentations.iter().enumerate() {
        select.push(first_match(segmentation)?.alias(format!("s{idx}")));
    }
    let batches = ctx
        .read_batch(features.batch.clone())?
        .select(select)?
        .collect()
        .await?;
    let mut assignments: Vec<Assignment> = segmentations
        .iter()
        .map(|s| Assignment {
            segmentation: s.name.clone(),
            segment_names: s.segments.iter().map(|seg| seg.name.clone()).collect(),
            membership: Vec::with_capacity(features.batch.num_rows()),
        })
        .collect();
    for batch in batches {
        for (idx, assignment) in assignments.iter_mut().enumerate() {
            let column = batch.column(idx).as_primitive::<Int64Type>();
            assignment.membership.extend(
                (0..column.len())
                    .map(|row| column.is_valid(row).then(|| column.value(row) as usize)),
            );
        }
    }
    for assignment in &assignments {
        if assignment.membership.len() != features.batch.num_rows() {
            return Err(Error::Internal("segment assignment lost rows".into()));
        }
    }
    Ok(assignments)
}
