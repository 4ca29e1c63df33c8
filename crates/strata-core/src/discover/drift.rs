//! Is a frozen clustering still right? Compare it with a fresh fit on
//! today's data.
//!
//! The fresh fit uses the frozen model's own transform and `k`, so both live
//! in the same units: a centroid's movement is the distance, in robust-scaled
//! units (interquartile ranges of the fit-time data), between a frozen
//! centroid and the fresh centroid matched to it (greedily, nearest pair
//! first). Agreement is the adjusted Rand index between the frozen
//! assignment (nearest frozen centroid, which is what the frozen rules
//! compute) and the fresh fit's labels.
//!
//! The verdict says "refresh" when agreement is below
//! [`MIN_AGREEMENT`], when a centroid moved more than [`MAX_MOVEMENT`], or
//! ([`add_quality_changes`]) when a segment that passed its quality tests at
//! freeze time now fails one.
use serde::Serialize;

use super::ClusterModel;
use crate::error::{Error, Result};
use crate::measures::quality::SegmentQuality;
use crate::ml::{KMeansParams, Matrix, adjusted_rand_index};

/// Below this adjusted Rand index a frozen clustering should be refreshed.
pub const MIN_AGREEMENT: f64 = 0.8;

/// Above this movement (robust-scaled units) a centroid has drifted.
pub const MAX_MOVEMENT: f64 = 0.5;

/// How one frozen cluster compares with its fresh counterpart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CentroidDrift {
    /// Frozen cluster name.
    pub name: String,
    /// Distance to the matched fresh centroid, robust-scaled units.
    pub moved: f64,
    /// Accounts the frozen rules assign to it today.
    pub accounts_now: usize,
    /// Accounts at freeze time.
    pub accounts_frozen: usize,
    /// The feature that moved most, and by how much (robust-scaled units).
    pub largest_shift: Option<(String, f64)>,
    /// Whether the segment passes its quality tests today (when measured).
    pub passes_quality: Option<bool>,
}

/// The comparison of a frozen clustering with a fresh fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    /// Segmentation name.
    pub segmentation: String,
    /// Adjusted Rand index between frozen and fresh assignments.
    pub agreement: f64,
    /// Per frozen cluster.
    pub centroids: Vec<CentroidDrift>,
    /// Whether the segmentation should be refreshed.
    pub refresh: bool,
    /// Why, in plain words.
    pub reasons: Vec<String>,
}

/// Compares `model` with a fresh fit on `cells` (the model's features,
/// row-major, for every account today that no rule segment of the model
/// takes). Rule segments have no centroid and are not compared.
pub fn compare(model: &ClusterModel, cells: &[Option<f64>]) -> Result<Drift> {
    let k = model.k();
    let n_features = model.features.len();
    let data = model
        .transform
        .apply_matrix(cells)
        .map_err(|error| Error::Internal(format!("transforming today's features: {error}")))?;
    let frozen_labels = model.assign(cells)?;
    let fresh = KMeansParams::new(k)
        .with_n_init(4)
        .with_seed(model.seed)
        .check()
        .map_err(|error| Error::Internal(format!("k-means settings: {error}")))?
        .fit(data.view())
        .map_err(|error| Error::Internal(format!("fresh fit: {error}")))?;
    let agreement = adjusted_rand_index(&frozen_labels, fresh.labels())
        .map_err(|error| Error::Internal(format!("agreement: {error}")))?;
    let matched = match_centroids(&model.centroids, fresh.centroids());

    let mut centroids = Vec::new();
    let mut reasons = Vec::new();
    if agreement < MIN_AGREEMENT {
        reasons.push(format!(
            "a fresh fit agrees with the frozen segments on only ARI {agreement:.2} (< {MIN_AGREEMENT})"
        ));
    }
    let fitted = model.clusters.iter().skip(model.n_rule_segments());
    for (cluster, profile) in fitted.enumerate() {
        let frozen = model.centroids.row(cluster);
        let now = fresh.centroids().row(matched[cluster]);
        let moved = crate::ml::matrix::squared_distance(frozen, now).sqrt();
        let largest_shift = (0..n_features)
            .map(|f| (f, now[f] - frozen[f]))
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(f, shift)| (model.features[f].clone(), shift));
        if moved > MAX_MOVEMENT {
            let detail = largest_shift
                .as_ref()
                .map(|(feature, shift)| format!(", mostly {feature} ({shift:+.2})"))
                .unwrap_or_default();
            reasons.push(format!(
                "the centroid of `{}` moved {moved:.2} (> {MAX_MOVEMENT}){detail}",
                profile.name
            ));
        }
        centroids.push(CentroidDrift {
            name: profile.name.clone(),
            moved,
            accounts_now: frozen_labels
                .iter()
                .filter(|&&label| label == cluster)
                .count(),
            accounts_frozen: profile.size,
            largest_shift,
            passes_quality: None,
        });
    }
    Ok(Drift {
        segmentation: model.segmentation.clone(),
        agreement,
        centroids,
        refresh: !reasons.is_empty(),
        reasons,
    })
}

/// Records today's quality of each frozen segment (in the model's cluster
/// order) and asks for a refresh when one that passed at freeze time fails now.
pub fn add_quality_changes(drift: &mut Drift, model: &ClusterModel, quality: &[SegmentQuality]) {
    let n_rule = model.n_rule_segments();
    for ((centroid, profile), quality) in drift
        .centroids
        .iter_mut()
        .zip(model.clusters.iter().skip(n_rule))
        .zip(quality.iter().skip(n_rule))
    {
        centroid.passes_quality = Some(quality.passes());
        if profile.passed_quality == Some(true) && !quality.passes() {
            drift.reasons.push(format!(
                "`{}` passed its quality tests when frozen but now {}",
                profile.name,
                quality.failures.join("; ")
            ));
        }
    }
    drift.refresh = !drift.reasons.is_empty();
}

/// For every row of `frozen`, the index of a distinct row of `fresh`,
/// matching the closest pairs first.
pub fn match_centroids(frozen: &Matrix<f64>, fresh: &Matrix<f64>) -> Vec<usize> {
    let k = frozen.n_rows();
    let mut pairs: Vec<(f64, usize, usize)> = Vec::with_capacity(k * k);
    for i in 0..k {
        for j in 0..fresh.n_rows() {
            pairs.push((
                crate::ml::matrix::squared_distance(frozen.row(i), fresh.row(j)),
                i,
                j,
            ));
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut matched = vec![usize::MAX; k];
    let mut taken = vec![false; fresh.n_rows()];
    for (_, i, j) in pairs {
        if matched[i] == usize::MAX && !taken[j] {
            matched[i] = j;
            taken[j] = true;
        }
    }
    matched
        .into_iter()
        .map(|j| if j == usize::MAX { 0 } else { j })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centroids_are_matched_closest_pair_first() {
        let frozen = Matrix::from_rows(&[vec![0.0], vec![10.0], vec![5.0]]).unwrap();
        let fresh = Matrix::from_rows(&[vec![9.0], vec![4.0], vec![0.5]]).unwrap();
        assert_eq!(match_centroids(&frozen, &fresh), vec![2, 0, 1]);
    }
}
