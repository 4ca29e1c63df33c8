//! Behavioral discovery: k-means on chosen features of the feature table,
//! with `k` chosen automatically, and clusters named and described from their
//! centroids.
//!
//! The steps of [`discover`]:
//!
//! 1. read the chosen numeric features as cells (NULLs kept);
//! 2. fit the preprocessing [`Transform`]: `log1p` for every non-negative
//!    feature with values above 1 (counts, ratios such as the trend), while
//!    shares in `[0, 1]` stay linear; robust scaling; clipping at ±5; the
//!    segmentation's weights;
//! 3. fit k-means for every `k` of the range (2..=8 for `k = "auto"`, or the
//!    one `k` asked for) and choose by silhouette and bootstrap stability
//!    ([`crate::ml::select`]);
//! 4. name each cluster from the features that distinguish its centroid
//!    ([`naming`]) and order clusters by size.
//!
//! The result's [`ClusterModel`] is everything needed to assign a new
//! account: the feature names, the transform and the centroids. It is what
//! `strata discover --freeze` stores and turns into nearest-centroid rules
//! ([`freeze`]), and what `strata discover --check` compares with a fresh fit
//! ([`drift`]).
//!
//! **Invariants**: the same feature table and definition give the same
//! clusters, names and order; a cluster is never named "cluster N" when a
//! feature distinguishes it.
pub mod drift;
pub mod freeze;
pub mod naming;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Problem, Result};
use crate::features::FeatureTable;
use crate::ml::preprocess::TransformError;
use crate::ml::{KMeansParams, KScore, Matrix, SelectKParams, Transform, TransformParams};
use crate::project::{ClusterCount, ClusterDef};
use crate::rules;

/// `k` tried when the definition says `k = "auto"`.
pub const AUTO_K_RANGE: (usize, usize) = (2, 8);

/// Clipping bound of the transform, in robust-scaled units.
pub const CLIP: f64 = 5.0;

/// One cluster of a model: its name, how it differs from the base, and its size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterProfile {
    /// A name from the vocabulary of [`naming`].
    pub name: String,
    /// One line: the name and the features that set the cluster apart.
    pub description: String,
    /// Accounts in the cluster at fit time.
    pub size: usize,
    /// Mean of each feature over the cluster's accounts (NULLs skipped), in
    /// the feature's own units.
    pub means: Vec<Option<f64>>,
    /// Whether the segment passed its quality tests when it was frozen.
    #[serde(default)]
    pub passed_quality: Option<bool>,
    /// For a rule segment of the clustering (taken before the fit, such as
    /// the accounts that stopped): its rule in canonical text. `None` for a
    /// fitted cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// A fitted clustering: enough to assign any account, and to explain it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterModel {
    /// The segmentation it was fit for.
    pub segmentation: String,
    /// Features, in the order of the transform's columns.
    pub features: Vec<String>,
    /// The preprocessing, weights included.
    pub transform: Transform,
    /// Centroids in transformed units, one row per fitted cluster, in the
    /// order of the fitted clusters of `clusters`.
    pub centroids: Matrix<f64>,
    /// Every segment of the clustering: the rule segments first (in their
    /// priority order, with `rule` set), then the fitted clusters, largest
    /// first. A segment's index here is its index in the segmentation.
    pub clusters: Vec<ClusterProfile>,
    /// Mean of each feature over the clustered accounts (those no rule
    /// segment took), NULLs skipped.
    pub base_means: Vec<Option<f64>>,
    /// The as-of date of the data it was fit on, `YYYY-MM-DD`.
    pub as_of: String,
    /// Seed of the fit.
    pub seed: u64,
}

impl ClusterModel {
    /// Reads a model file written by [`ClusterModel::save`].
    pub fn load(path: &std::path::Path) -> Result<ClusterModel> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::invalid(
                    Problem::new(path.display().to_string(), "model file not found").with_help(
                        "freeze the clustering again with `strata discover --freeze NAME`",
                    ),
                )
            } else {
                Error::io(path, source)
            }
        })?;
        serde_json::from_str(&text).map_err(|error| {
            Error::invalid(
                Problem::new(
                    format!("{}:{}:{}", path.display(), error.line(), error.column()),
                    format!("not a strata cluster model: {error}"),
                )
                .with_help(
                    "the file is written by `strata discover --freeze`; do not edit it by hand",
                ),
            )
        })
    }

    /// Writes the model as JSON, atomically.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|error| Error::Internal(format!("serializing the model: {error}")))?;
        crate::files::write_file_atomically(path, text.as_bytes())
    }

    /// Number of fitted clusters (the rule segments not counted).
    pub fn k(&self) -> usize {
        self.centroids.n_rows()
    }

    /// Number of rule segments, which come before the fitted clusters.
    pub fn n_rule_segments(&self) -> usize {
        self.clusters.len() - self.k()
    }

    /// The centroid of segment `segment` (an index into `clusters`), `None`
    /// for a rule segment.
    pub fn centroid_of(&self, segment: usize) -> Option<&[f64]> {
        let fitted = segment.checked_sub(self.n_rule_segments())?;
        (fitted < self.k()).then(|| self.centroids.row(fitted))
    }

    /// The rule segments as segment definitions, in priority order.
    pub fn rule_segment_defs(&self) -> Vec<crate::project::SegmentDef> {
        self.clusters
            .iter()
            .filter_map(|cluster| {
                Some(crate::project::SegmentDef {
                    name: cluster.name.clone(),
                    when: cluster.rule.clone()?,
                    description: None,
                })
            })
            .collect()
    }

    /// Assigns every row of `cells` (row-major, one cell per feature) to its
    /// nearest centroid (an index among the fitted clusters), with the
    /// model's transform; rule segments are not evaluated here.
    pub fn assign(&self, cells: &[Option<f64>]) -> Result<Vec<usize>> {
        let data = self.transform.apply_matrix(cells).map_err(|error| {
            let cause = match &error {
                TransformError::AtRow { source, .. } => source.as_ref(),
                other => other,
            };
            let &TransformError::NegativeForLog1p { feature_idx, value } = cause else {
                return Error::Internal(format!("transforming features: {error}"));
            };
            let feature = self.features.get(feature_idx).map_or("?", String::as_str);
            Error::invalid(
                Problem::new(
                    format!("segmentation `{}`", self.segmentation),
                    format!(
                        "feature `{feature}` is {value} for an account, but the clustering's model \
                         (fit on {}) takes its logarithm, as it had no negative value then"
                    , self.as_of),
                )
                .with_help("refit the clustering (`strata discover --freeze NAME`), or fix the feature's values"),
            )
        })?;
        crate::ml::kmeans::nearest_centroids(self.centroids.view(), data.view())
            .map_err(|error| Error::Internal(format!("assigning clusters: {error}")))
    }
}

/// The outcome of [`discover`].
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The model.
    pub model: ClusterModel,
    /// The cluster of every account, in feature-table order.
    pub labels: Vec<usize>,
    /// Inertia, silhouette and stability of every `k` tried.
    pub scores: Vec<KScore>,
    /// Why this `k`.
    pub explanation: String,
    /// The transformed matrix the model was fit on (one row per account).
    pub data: Matrix<f64>,
}

/// Problems with the features of a clustering: each must name a numeric
/// column (an unknown name gets the closest one as a suggestion).
pub fn check_features(features: &[String], schema: &rules::Schema, location: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    for feature in features {
        match rules::check(feature, schema) {
            Ok(rule) if rule.value_type().is_numeric() && rule.columns() == [feature.clone()] => {}
            Ok(rule) => problems.push(
                Problem::new(
                    location,
                    format!(
                        "`{feature}` is not a numeric feature (it is {})",
                        crate::features::type_name(rule.value_type())
                    ),
                )
                .with_help(
                    "cluster on numbers: counts, shares, trends; `strata features` lists them",
                ),
            ),
            Err(error) => problems.push(Problem::from_rule(location, error)),
        }
    }
    problems
}

/// Problems with the rule segments of a clustering: each rule must check
/// against the feature table and use numeric columns only (the frozen
/// clustering becomes SQL over numeric features).
pub fn check_rule_segments(
    segments: &[crate::project::SegmentDef],
    schema: &rules::Schema,
    location: &str,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for segment in segments {
        let segment_location = format!("{location}, segment `{}`", segment.name);
        match rules::check_predicate(&segment.when, schema) {
            Ok(rule) => {
                for column in rule.columns() {
                    let Some(value_type) = schema.get(&column) else {
                        continue;
                    };
                    if !value_type.is_numeric() {
                        problems.push(
                            Problem::new(
                                &segment_location,
                                format!(
                                    "`{column}` is {}, but the rule segments of a clustering use numeric features only",
                                    crate::features::type_name(value_type)
                                ),
                            )
                            .with_help("segment by text columns in a rules segmentation of its own"),
                        );
                    }
                }
            }
            Err(error) => problems.push(Problem::from_rule(&segment_location, error)),
        }
    }
    problems
}

/// The rule segment each account of `table` falls in (first match wins), or
/// `None` for the accounts left to cluster.
pub fn rule_memberships(
    table: &FeatureTable,
    segments: &[crate::project::SegmentDef],
    location: &str,
) -> Result<Vec<Option<usize>>> {
    let n_rows = table.batch.num_rows();
    if segments.is_empty() {
        return Ok(vec![None; n_rows]);
    }
    let schema = table.rule_schema();
    let problems = check_rule_segments(segments, &schema, location);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let checked = segments
        .iter()
        .map(|segment| {
            rules::check_predicate(&segment.when, &schema)
                .map_err(|error| Error::invalid(Problem::from_rule(location, error)))
        })
        .collect::<Result<Vec<_>>>()?;
    let ctx = datafusion::prelude::SessionContext::new();
    crate::eval::first_matches(&ctx, &table.batch, &checked)
}

/// The chosen numeric features of every account as row-major cells, or a
/// problem per unknown or non-numeric feature.
pub fn feature_cells(
    table: &FeatureTable,
    features: &[String],
    location: &str,
) -> Result<Vec<Option<f64>>> {
    let problems = check_features(features, &table.rule_schema(), location);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let mut columns = Vec::new();
    for feature in features {
        match table.batch.column_by_name(feature) {
            Some(column) => columns.push(column.clone()),
            None => return Err(Error::Internal(format!("feature `{feature}` vanished"))),
        }
    }
    let n_rows = table.batch.num_rows();
    let mut cells = vec![None; n_rows * features.len()];
    for (feature_idx, column) in columns.iter().enumerate() {
        let values = cast(column, &DataType::Float64)?;
        let values = values.as_primitive::<Float64Type>();
        for row in 0..n_rows {
            if values.is_valid(row) && values.value(row).is_finite() {
                cells[row * features.len() + feature_idx] = Some(values.value(row));
            }
        }
    }
    Ok(cells)
}

/// The problem of a clustering some of whose features are NULL for every
/// account (no events in their window at this as_of, or no revenue): it
/// cannot be fitted, so its accounts stay unassigned. `None` when every
/// feature has a value somewhere (or a feature is unknown: the rule check
/// reports that).
pub fn all_null_features_problem(
    table: &FeatureTable,
    segmentation: &str,
    def: &ClusterDef,
) -> Option<Problem> {
    let empty: Vec<&str> = def
        .features
        .iter()
        .filter(|feature| {
            table.batch.column_by_name(feature).is_some_and(|column| {
                let Ok(values) = cast(column, &DataType::Float64) else {
                    return false;
                };
                let values = values.as_primitive::<Float64Type>();
                (0..values.len()).all(|row| values.is_null(row) || !values.value(row).is_finite())
            })
        })
        .map(String::as_str)
        .collect();
    if empty.is_empty() || table.batch.num_rows() == 0 {
        return None;
    }
    let as_of = crate::dates::date_of_day(table.as_of_day);
    let names = empty
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(
        Problem::new(
            format!("strata.toml: segmentation `{segmentation}`"),
            format!(
                "{names} {} NULL for every account at as_of {as_of} (no events in {} window), so the clustering cannot be fitted and every account is unassigned",
                if empty.len() == 1 { "is" } else { "are" },
                if empty.len() == 1 { "its" } else { "their" },
            ),
        )
        .with_help("pick an as_of within the event history (or \"latest\"), or leave these features out of the clustering"),
    )
}

/// Fits the transform a clustering uses: `log1p` for non-negative features
/// with values above 1, robust scaling, clipping, weights.
pub fn fit_transform(cells: &[Option<f64>], weights: &[f64]) -> Result<Transform> {
    fit_transform_with_logs(cells, weights, &log_features(cells, weights.len()))
}

/// The features of `cells` (row-major, `n_features` a row) that are counts
/// to take the log of: never negative, and above 1 somewhere.
pub fn log_features(cells: &[Option<f64>], n_features: usize) -> Vec<usize> {
    (0..n_features)
        .filter(|&feature_idx| {
            let mut values = cells.iter().skip(feature_idx).step_by(n_features).flatten();
            let mut any_above_one = false;
            let all_non_negative = values.all(|&value| {
                any_above_one |= value > 1.0;
                value >= 0.0
            });
            all_non_negative && any_above_one
        })
        .collect()
}

/// [`fit_transform`] fitted on `cells` with `log1p` on `log_features`,
/// chosen over more rows than the fit sees (a negative value outside the
/// sample would otherwise meet a logarithm).
fn fit_transform_with_logs(
    cells: &[Option<f64>],
    weights: &[f64],
    log_features: &[usize],
) -> Result<Transform> {
    let n_features = weights.len();
    TransformParams::new(n_features)
        .with_log1p_features(log_features)
        .with_clip(Some(CLIP))
        .with_weights(weights.to_vec())
        .check()
        .map_err(|error| Error::Internal(format!("transform settings: {error}")))?
        .fit(cells)
        .map_err(|error| Error::Internal(format!("fitting the transform: {error}")))
}

/// Mean of each feature over the rows where `keep(row)` holds, NULLs skipped.
pub fn feature_means(
    cells: &[Option<f64>],
    n_features: usize,
    keep: impl Fn(usize) -> bool,
) -> Vec<Option<f64>> {
    let mut sums = vec![0.0; n_features];
    let mut counts = vec![0usize; n_features];
    for (row, row_cells) in cells.chunks_exact(n_features).enumerate() {
        if keep(row) {
            for (feature_idx, cell) in row_cells.iter().enumerate() {
                if let Some(value) = cell {
                    sums[feature_idx] += value;
                    counts[feature_idx] += 1;
                }
            }
        }
    }
    sums.iter()
        .zip(&counts)
        .map(|(&sum, &count)| (count > 0).then(|| sum / count as f64))
        .collect()
}

/// Clusters the accounts of `table` as `def` says.
pub fn discover(
    table: &FeatureTable,
    segmentation: &str,
    def: &ClusterDef,
    as_of: NaiveDate,
) -> Result<Discovery> {
    discover_sampled(table, segmentation, def, as_of, usize::MAX)
}

/// [`discover`], fitting the transform and choosing k on a seeded sample of
/// `sample_size` accounts when `table` has more (`options.kmeans_sample`):
/// k selection costs several k-means runs per k, while assigning every
/// account to its nearest centroid afterwards costs one pass. Sizes, means
/// and labels always describe every account of `table`.
pub fn discover_sampled(
    table: &FeatureTable,
    segmentation: &str,
    def: &ClusterDef,
    as_of: NaiveDate,
    sample_size: usize,
) -> Result<Discovery> {
    let location = format!("strata.toml: segmentation `{segmentation}`");
    let cells = feature_cells(table, &def.features, &location)?;
    if let Some(problem) = all_null_features_problem(table, segmentation, def) {
        return Err(Error::invalid(problem));
    }
    let n_features = def.features.len();
    let n_rows = table.batch.num_rows();
    // Rule segments take their accounts first; the rest are clustered.
    let rule_members = rule_memberships(table, &def.segments, &location)?;
    let n_rule = def.segments.len();
    let clustered: Vec<usize> = (0..n_rows)
        .filter(|&row| rule_members[row].is_none())
        .collect();
    if clustered.is_empty() && n_rule > 0 && n_rows > 0 {
        return Err(Error::invalid(
            Problem::new(
                &location,
                format!(
                    "all {n_rows} accounts fall in the rule segments, so none is left to cluster"
                ),
            )
            .with_help("narrow the rules of the segments listed before the clustering"),
        ));
    }
    let rows_of = |rows: &mut dyn Iterator<Item = usize>| -> Vec<Option<f64>> {
        rows.flat_map(|row| {
            cells[row * n_features..(row + 1) * n_features]
                .iter()
                .copied()
        })
        .collect()
    };
    let sample = crate::ml::sample_indices(clustered.len(), sample_size, def.seed);
    let sampled = sample.len() < clustered.len();
    let fit_cells = rows_of(&mut sample.iter().map(|&idx| clustered[idx]));
    // Which features are counts is decided on every account of the
    // clustering and its rule segments, all of which the transform meets.
    let transform =
        fit_transform_with_logs(&fit_cells, &def.weights, &log_features(&cells, n_features))?;
    let fit_data = transform
        .apply_matrix(&fit_cells)
        .map_err(|error| Error::Internal(format!("transforming features: {error}")))?;
    let (k_min, k_max) = match def.k {
        ClusterCount::Auto => AUTO_K_RANGE,
        ClusterCount::Fixed(k) => (k, k),
    };
    let selection = SelectKParams::new()
        .with_k_range(k_min, k_max)
        .with_seed(def.seed)
        .with_kmeans(KMeansParams::new(k_min).with_n_init(4).with_seed(def.seed))
        .check()
        .map_err(|error| Error::Internal(format!("k selection settings: {error}")))?
        .select(fit_data.view())
        .map_err(|error| {
            Error::invalid(
                Problem::new(
                    &location,
                    format!("cannot cluster {} accounts: {error}", sample.len()),
                )
                .with_help("use fewer clusters, or features that vary between accounts"),
            )
        })?;
    let mut explanation = selection.explanation.clone();
    // Every account's transformed row, for explanations and assignment.
    let data = if sampled || n_rule > 0 {
        transform
            .apply_matrix(&cells)
            .map_err(|error| Error::Internal(format!("transforming features: {error}")))?
    } else {
        fit_data
    };
    // The fitted cluster of every clustered account, in `clustered` order.
    let fitted_labels: Vec<usize> = if sampled {
        let clustered_data = Matrix::from_rows(
            &clustered
                .iter()
                .map(|&row| data.row(row).to_vec())
                .collect::<Vec<_>>(),
        )
        .map_err(|error| Error::Internal(format!("clustered rows: {error}")))?;
        explanation.push_str(&format!(
            " Fit on a sample of {} of {} accounts (options.kmeans_sample); every account \
             is in the cluster of its nearest centroid.",
            sample.len(),
            clustered.len()
        ));
        crate::ml::kmeans::nearest_centroids(
            selection.model.centroids().view(),
            clustered_data.view(),
        )
        .map_err(|error| Error::Internal(format!("assigning clusters: {error}")))?
    } else {
        selection.model.labels().to_vec()
    };

    // Largest cluster first; ties by the original index keep it deterministic.
    let k = selection.k;
    let mut sizes = vec![0usize; k];
    for &label in &fitted_labels {
        sizes[label] += 1;
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let mut new_index = vec![0; k];
    for (new_idx, &old_idx) in order.iter().enumerate() {
        new_index[old_idx] = new_idx;
    }
    // Segment of every account: rule segments first, then clusters.
    let mut labels: Vec<usize> = rule_members
        .iter()
        .map(|member| member.unwrap_or(0))
        .collect();
    for (&row, &label) in clustered.iter().zip(&fitted_labels) {
        labels[row] = n_rule + new_index[label];
    }
    let old_centroids = selection.model.centroids();
    let centroid_rows: Vec<Vec<f64>> = order
        .iter()
        .map(|&old_idx| old_centroids.row(old_idx).to_vec())
        .collect();
    let centroids = Matrix::from_rows(&centroid_rows)
        .map_err(|error| Error::Internal(format!("centroids: {error}")))?;

    let is_clustered = |row: usize| rule_members[row].is_none();
    let base_means = feature_means(&cells, n_features, is_clustered);
    let named = naming::name_clusters(&def.features, &transform, &centroids);
    let mut clusters: Vec<ClusterProfile> = def
        .segments
        .iter()
        .enumerate()
        .map(|(segment_idx, segment)| {
            let rule = rules::parse(&segment.when)
                .map(|expr| expr.to_string())
                .unwrap_or_else(|_| segment.when.clone());
            let size = rule_members
                .iter()
                .filter(|m| **m == Some(segment_idx))
                .count();
            ClusterProfile {
                name: segment.name.clone(),
                description: segment
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("{}: accounts where {rule}", segment.name)),
                size,
                means: feature_means(&cells, n_features, |row| {
                    rule_members[row] == Some(segment_idx)
                }),
                passed_quality: None,
                rule: Some(rule),
            }
        })
        .collect();
    for cluster in 0..k {
        let segment = n_rule + cluster;
        let means = feature_means(&cells, n_features, |row| {
            is_clustered(row) && labels[row] == segment
        });
        let description = naming::describe(
            &named[cluster],
            &def.features,
            &centroids,
            cluster,
            &means,
            &base_means,
        );
        clusters.push(ClusterProfile {
            name: named[cluster].name.clone(),
            description,
            size: sizes[order[cluster]],
            means,
            passed_quality: None,
            rule: None,
        });
    }
    if n_rule > 0 {
        let set_aside: Vec<String> = clusters[..n_rule]
            .iter()
            .map(|segment| format!("{} {}", segment.size, segment.name))
            .collect();
        explanation = format!(
            "{} accounts taken by the rule segments first ({}); the other {} clustered. {explanation}",
            n_rows - clustered.len(),
            set_aside.join(", "),
            clustered.len()
        );
    }
    Ok(Discovery {
        model: ClusterModel {
            segmentation: segmentation.to_string(),
            features: def.features.clone(),
            transform,
            centroids,
            clusters,
            base_means,
            as_of: as_of.to_string(),
            seed: def.seed,
        },
        labels,
        scores: selection.scores,
        explanation,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, RecordBatch};
    use datafusion::arrow::datatypes::{Field, Schema};

    /// Three blobs of 600, 300 and 100 accounts, interleaved.
    fn blobs() -> FeatureTable {
        let centers = [(0.0, 0.0), (40.0, 5.0), (5.0, 60.0)];
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for row in 0..1000usize {
            let blob = match row % 10 {
                0..=5 => 0,
                6..=8 => 1,
                _ => 2,
            };
            let jitter = (row * 7919 % 13) as f64 / 13.0;
            x.push(centers[blob].0 + jitter);
            y.push(centers[blob].1 + 1.0 - jitter);
        }
        let schema = Schema::new(vec![
            Field::new("x", DataType::Float64, false),
            Field::new("y", DataType::Float64, false),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Float64Array::from(x)),
                Arc::new(Float64Array::from(y)),
            ],
        )
        .expect("batch");
        FeatureTable {
            batch,
            defs: Vec::new(),
            unknown: Default::default(),
            as_of_day: 0,
            early: None,
            top_events: Vec::new(),
        }
    }

    /// Two clusters on x and y after the rule segment `name` (`when`).
    fn two_clusters_after(name: &str, when: &str) -> ClusterDef {
        ClusterDef {
            segments: vec![crate::project::SegmentDef {
                name: name.into(),
                when: when.into(),
                description: None,
            }],
            features: vec!["x".into(), "y".into()],
            k: ClusterCount::Fixed(2),
            weights: vec![1.0, 1.0],
            seed: 3,
        }
    }

    #[test]
    fn rule_segments_take_their_accounts_before_the_fit() {
        let table = blobs();
        // Blob 1 (x near 40) is set aside by rule; blobs 0 and 2 remain.
        let def = two_clusters_after("far right", "x > 20");
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).expect("date");
        let found = discover(&table, "blobs", &def, as_of).expect("fit");
        let model = &found.model;
        assert_eq!(model.k(), 2);
        assert_eq!(model.n_rule_segments(), 1);
        let sizes: Vec<usize> = model.clusters.iter().map(|c| c.size).collect();
        assert_eq!(sizes, vec![300, 600, 100]);
        assert_eq!(model.clusters[0].rule.as_deref(), Some("x > 20"));
        assert!(model.centroid_of(0).is_none());
        assert_eq!(model.centroid_of(1), Some(model.centroids.row(0)));
        for (row, &label) in found.labels.iter().enumerate() {
            let expected = match row % 10 {
                0..=5 => 1,
                6..=8 => 0,
                _ => 2,
            };
            assert_eq!(label, expected, "row {row}");
        }
        // Frozen: the rule first, then nearest-centroid rules.
        let rules = freeze::rules(model);
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0], "x > 20");
        assert_eq!(rules[2], "TRUE");
        assert!(found.explanation.starts_with("300 accounts taken by the rule segments first (300 far right); the other 700 clustered."), "{}", found.explanation);

        // A rule that takes every account leaves nothing to cluster.
        let takes_all = ClusterDef {
            segments: vec![crate::project::SegmentDef {
                name: "all".into(),
                when: "x > -1".into(),
                description: None,
            }],
            ..def.clone()
        };
        let error = discover(&table, "blobs", &takes_all, as_of)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("all 1000 accounts fall in the rule segments"),
            "{error}"
        );
    }

    #[test]
    fn negative_values_outside_the_fit_are_data_not_bugs() {
        // Blob 1 is set aside by rule and gets negative x: the clustered
        // accounts' x are counts, but the transform meets every account, so
        // x must not be logged (before: an internal error).
        let mut table = blobs();
        let x: Vec<f64> = {
            use datafusion::arrow::array::AsArray;
            let column = table
                .batch
                .column(0)
                .as_primitive::<datafusion::arrow::datatypes::Float64Type>();
            (0..column.len())
                .map(|row| {
                    if row % 10 >= 6 && row % 10 <= 8 {
                        -column.value(row)
                    } else {
                        column.value(row)
                    }
                })
                .collect()
        };
        table.batch = RecordBatch::try_new(
            table.batch.schema(),
            vec![
                Arc::new(Float64Array::from(x)),
                table.batch.column(1).clone(),
            ],
        )
        .expect("batch");
        let def = two_clusters_after("negative", "x < -20");
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).expect("date");
        let found = discover(&table, "blobs", &def, as_of).expect("fit");
        assert_eq!(found.model.n_rule_segments(), 1);
        assert_eq!(found.model.clusters[0].size, 300);

        // A model fit where x was never negative, meeting a negative x later:
        // a located error that says what to do.
        let positive = discover(
            &blobs(),
            "blobs",
            &ClusterDef {
                segments: Vec::new(),
                ..def
            },
            as_of,
        )
        .expect("fit");
        let error = positive
            .model
            .assign(&[Some(-3.0), Some(1.0)])
            .unwrap_err()
            .to_string();
        assert!(error.contains("segmentation `blobs`"), "{error}");
        assert!(error.contains("feature `x` is -3"), "{error}");
        assert!(error.contains("strata discover --freeze"), "{error}");
        assert!(!error.contains("bug"), "{error}");
    }

    #[test]
    fn rule_segments_of_a_clustering_use_numeric_features_only() {
        let schema = rules::Schema::new([
            ("x".to_string(), rules::ValueType::Float),
            ("industry".to_string(), rules::ValueType::Text),
        ]);
        let segment = |when: &str| crate::project::SegmentDef {
            name: "s".into(),
            when: when.into(),
            description: None,
        };
        assert!(check_rule_segments(&[segment("x > 1")], &schema, "here").is_empty());
        let problems = check_rule_segments(&[segment("industry = 'a' OR x > 1")], &schema, "here");
        assert_eq!(problems.len(), 1);
        let text = problems[0].to_string();
        assert!(text.contains("here, segment `s`"), "{text}");
        assert!(text.contains("`industry` is text, but the rule segments of a clustering use numeric features only"), "{text}");
        let unknown = check_rule_segments(&[segment("y > 1")], &schema, "here");
        assert!(
            unknown[0].to_string().contains("unknown column `y`"),
            "{}",
            unknown[0]
        );
    }

    #[test]
    fn a_sampled_fit_describes_every_account() {
        let table = blobs();
        let def = ClusterDef {
            segments: Vec::new(),
            features: vec!["x".into(), "y".into()],
            k: ClusterCount::Fixed(3),
            weights: vec![1.0, 1.0],
            seed: 3,
        };
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).expect("date");
        let full = discover(&table, "blobs", &def, as_of).expect("full fit");
        let sampled = discover_sampled(&table, "blobs", &def, as_of, 150).expect("sampled fit");
        // Every account is labelled, sizes count all of them, largest first.
        assert_eq!(sampled.labels.len(), 1000);
        let sizes: Vec<usize> = sampled.model.clusters.iter().map(|c| c.size).collect();
        assert_eq!(sizes, vec![600, 300, 100]);
        // The blobs are far apart: the sample finds the same partition.
        assert_eq!(sampled.labels, full.labels);
        assert_eq!(sampled.data.n_rows(), 1000);
        assert!(
            sampled.explanation.contains("sample of 150 of 1000"),
            "{}",
            sampled.explanation
        );
        assert!(!full.explanation.contains("sample"), "{}", full.explanation);
        // Labels are the nearest centroids of the transformed data.
        let cells = feature_cells(&table, &def.features, "test").expect("cells");
        assert_eq!(
            sampled.model.assign(&cells).expect("assign"),
            sampled.labels
        );
    }
}
