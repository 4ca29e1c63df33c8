//! Clustering quality measures: the adjusted Rand index, which says how much
//! two labelings of the same points agree, and the silhouette, which says how
//! well separated the clusters of one labeling are.
//!
//! **Adjusted Rand index (ARI).** Look at every pair of points: two labelings
//! agree on a pair when both put it in the same cluster or both put it in
//! different clusters. The Rand index is the share of pairs they agree on;
//! the adjusted version subtracts what random labelings with the same
//! cluster sizes would score, so 1 means identical partitions (whatever the
//! cluster numbers), about 0 means chance agreement, and it can go negative.
//! We use it for stability (do two fits on resampled data agree?) and for
//! tests against generators' hidden archetypes.
//!
//! **Silhouette.** For a point `i` in cluster `A`, let `a(i)` be its mean
//! distance to the other members of `A` and `b(i)` its smallest mean distance
//! to the members of another cluster. Its silhouette is
//! `(b − a) / max(a, b)`: near 1 when it sits well inside its cluster, near 0
//! on a border, negative when it is closer to another cluster. A point alone
//! in its cluster scores 0. The silhouette of a labeling is the mean over its
//! points. Exact silhouette costs `O(n²)` distances, so on large data it is
//! computed on a deterministic sample, as the silhouette of the sample alone
//! (scikit-learn's `sample_size`).
use std::collections::{BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use crate::matrix::{DataError, Float, MatrixView};

/// What can go wrong computing a clustering measure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// The two labelings do not cover the same points.
    #[error("the two labelings have different lengths: {left} and {right} labels")]
    LengthMismatch {
        /// Length of the first labeling.
        left: usize,
        /// Length of the second labeling.
        right: usize,
    },
    /// Labels and data rows differ in number.
    #[error("{n_labels} labels for {n_rows} data rows; give one label per row")]
    LabelCount {
        /// Number of labels.
        n_labels: usize,
        /// Number of rows.
        n_rows: usize,
    },
    /// A sample index points past the data.
    #[error("sample index {index} is out of range for {n_rows} data rows")]
    SampleIndex {
        /// The bad index.
        index: usize,
        /// Number of rows.
        n_rows: usize,
    },
    /// The silhouette compares clusters, so it needs two of them.
    #[error(
        "the silhouette needs at least 2 clusters among the {n_points} points measured, found {n_clusters}"
    )]
    TooFewClusters {
        /// Distinct labels among the measured points.
        n_clusters: usize,
        /// Points measured.
        n_points: usize,
    },
    /// The data has a NaN or infinite value.
    #[error(transparent)]
    Data(#[from] DataError),
}

/// The adjusted Rand index between two labelings of the same points.
///
/// Label values are only names: `[0, 0, 1]` and `[5, 5, 2]` are the same
/// partition and score 1. When neither labeling splits any pair the other
/// keeps together and vice versa (for instance both put everything in one
/// cluster), the index is 1, as in scikit-learn. Empty labelings score 1.
///
/// ```
/// use strata_ml::adjusted_rand_index;
/// assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]).unwrap(), 1.0);
/// assert!((adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]).unwrap() - 4.0 / 7.0).abs() < 1e-12);
/// ```
pub fn adjusted_rand_index(labels_a: &[usize], labels_b: &[usize]) -> Result<f64, MetricsError> {
    if labels_a.len() != labels_b.len() {
        return Err(MetricsError::LengthMismatch {
            left: labels_a.len(),
            right: labels_b.len(),
        });
    }
    let mut contingency: HashMap<(usize, usize), i128> = HashMap::new();
    let mut sizes_a: HashMap<usize, i128> = HashMap::new();
    let mut sizes_b: HashMap<usize, i128> = HashMap::new();
    for (&label_a, &label_b) in labels_a.iter().zip(labels_b) {
        *contingency.entry((label_a, label_b)).or_default() += 1;
        *sizes_a.entry(label_a).or_default() += 1;
        *sizes_b.entry(label_b).or_default() += 1;
    }
    let pairs = |count: &i128| count * (count - 1) / 2;
    let together_in_both: i128 = contingency.values().map(pairs).sum();
    let together_in_a: i128 = sizes_a.values().map(pairs).sum();
    let together_in_b: i128 = sizes_b.values().map(pairs).sum();
    let all_pairs = pairs(&(labels_a.len() as i128));
    let only_in_a = together_in_a - together_in_both;
    let only_in_b = together_in_b - together_in_both;
    let apart_in_both = all_pairs - together_in_a - together_in_b + together_in_both;
    if only_in_a == 0 && only_in_b == 0 {
        return Ok(1.0);
    }
    let numerator = 2 * (together_in_both * apart_in_both - only_in_a * only_in_b);
    let denominator = (together_in_both + only_in_a) * (only_in_a + apart_in_both)
        + (together_in_both + only_in_b) * (only_in_b + apart_in_both);
    Ok(numerator as f64 / denominator as f64)
}

/// The mean silhouette of `labels` on `data`, over the rows in `sample` (all
/// rows when `None`), with Euclidean distances.
///
/// With a sample, distances are measured between sampled rows only: the
/// result is the silhouette of the sample as a data set of its own. Use
/// [`sample_indices`] for a deterministic sample.
///
/// ```
/// use strata_ml::{silhouette, MatrixView};
/// // Points 0, 1 | 4, 5: silhouettes 7/9, 5/7, 5/7, 7/9.
/// let data = MatrixView::new(&[0.0, 1.0, 4.0, 5.0][..], 1).unwrap();
/// let score = silhouette(data, &[0, 0, 1, 1], None).unwrap();
/// assert!((score - 47.0 / 63.0).abs() < 1e-12);
/// ```
pub fn silhouette<T: Float>(
    data: MatrixView<'_, T>,
    labels: &[usize],
    sample: Option<&[usize]>,
) -> Result<f64, MetricsError> {
    let scores = silhouette_values(data, labels, sample)?;
    Ok(scores.iter().sum::<f64>() / scores.len() as f64)
}

/// The silhouette of every sampled row (every row without a sample), in
/// sample order, so that callers can average them per cluster; the same
/// definition and errors as [`silhouette`].
pub fn silhouette_values<T: Float>(
    data: MatrixView<'_, T>,
    labels: &[usize],
    sample: Option<&[usize]>,
) -> Result<Vec<f64>, MetricsError> {
    if labels.len() != data.n_rows() {
        return Err(MetricsError::LabelCount {
            n_labels: labels.len(),
            n_rows: data.n_rows(),
        });
    }
    let mut each = silhouette_values_of_each(data, &[labels], sample)?;
    each.pop().unwrap_or_else(|| {
        Err(MetricsError::LabelCount {
            n_labels: 0,
            n_rows: data.n_rows(),
        })
    })
}

/// The mean silhouette of each of several labelings of the same `data` on
/// the same `sample`: bit for bit what [`silhouette`] gives each, with each
/// pair's distance computed once for all of them (choosing `k` measures
/// seven fits on one sample). A labeling's own problem (fewer than two
/// clusters in the sample, a wrong length) is its entry's error; a bad
/// sample or data fails the whole call.
///
/// ```
/// use strata_ml::{silhouettes, MatrixView};
/// let data = MatrixView::new(&[0.0, 1.0, 4.0, 5.0][..], 1).unwrap();
/// let both = silhouettes(data, &[&[0, 0, 1, 1], &[0, 1, 0, 1]], None).unwrap();
/// assert!((both[0].clone().unwrap() - 47.0 / 63.0).abs() < 1e-12);
/// assert!(both[1].clone().unwrap() < 0.0);
/// ```
pub fn silhouettes<T: Float>(
    data: MatrixView<'_, T>,
    labelings: &[&[usize]],
    sample: Option<&[usize]>,
) -> Result<Vec<Result<f64, MetricsError>>, MetricsError> {
    Ok(silhouette_values_of_each(data, labelings, sample)?
        .into_iter()
        .map(|values| values.map(|values| values.iter().sum::<f64>() / values.len() as f64))
        .collect())
}

/// One labeling's clusters on the sampled rows.
struct SampleClusters {
    /// Cluster (0..n) of each sampled row.
    clusters: Vec<usize>,
    sizes: Vec<usize>,
}

impl SampleClusters {
    fn new(labels: &[usize], n_rows: usize, rows: &[usize]) -> Result<Self, MetricsError> {
        if labels.len() != n_rows {
            return Err(MetricsError::LabelCount {
                n_labels: labels.len(),
                n_rows,
            });
        }
        let distinct: BTreeSet<usize> = rows.iter().map(|&index| labels[index]).collect();
        if distinct.len() < 2 {
            return Err(MetricsError::TooFewClusters {
                n_clusters: distinct.len(),
                n_points: rows.len(),
            });
        }
        let cluster_of: HashMap<usize, usize> = distinct
            .iter()
            .enumerate()
            .map(|(idx, &label)| (label, idx))
            .collect();
        let clusters: Vec<usize> = rows
            .iter()
            .map(|&index| cluster_of[&labels[index]])
            .collect();
        let mut sizes = vec![0usize; distinct.len()];
        for &cluster in &clusters {
            sizes[cluster] += 1;
        }
        Ok(SampleClusters { clusters, sizes })
    }

    /// The silhouette of sampled row `point`, from its summed distances to
    /// the sampled rows of each cluster (`distance_sums`, by cluster).
    fn value(&self, point: usize, distance_sums: &[f64]) -> f64 {
        let own = self.clusters[point];
        if self.sizes[own] < 2 {
            return 0.0;
        }
        let within = distance_sums[own] / (self.sizes[own] - 1) as f64;
        let nearest_other = (0..self.sizes.len())
            .filter(|&cluster| cluster != own)
            .map(|cluster| distance_sums[cluster] / self.sizes[cluster] as f64)
            .fold(f64::INFINITY, f64::min);
        let larger = within.max(nearest_other);
        if larger > 0.0 {
            (nearest_other - within) / larger
        } else {
            0.0
        }
    }
}

/// [`silhouette_values`] of each labeling, the distances shared.
fn silhouette_values_of_each<T: Float>(
    data: MatrixView<'_, T>,
    labelings: &[&[usize]],
    sample: Option<&[usize]>,
) -> Result<Vec<Result<Vec<f64>, MetricsError>>, MetricsError> {
    let n_rows = data.n_rows();
    let all_rows: Vec<usize>;
    let row_indices = match sample {
        Some(indices) => indices,
        None => {
            all_rows = (0..n_rows).collect();
            &all_rows
        }
    };
    if let Some(&index) = row_indices.iter().find(|&&index| index >= n_rows) {
        return Err(MetricsError::SampleIndex { index, n_rows });
    }
    let sampled = data.select_rows(row_indices);
    sampled.view().check_finite()?;
    let each: Vec<Result<SampleClusters, MetricsError>> = labelings
        .iter()
        .map(|labels| SampleClusters::new(labels, n_rows, row_indices))
        .collect();
    let measured: Vec<&SampleClusters> = each.iter().filter_map(|c| c.as_ref().ok()).collect();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); measured.len()];
    if !measured.is_empty() {
        let points = sampled.convert::<f64>();
        // Every labeling's clusters side by side: per sampled row, the
        // positions of its clusters' sums among all labelings' sums.
        let mut starts = Vec::with_capacity(measured.len());
        let mut n_sums = 0;
        for clusters in &measured {
            starts.push(n_sums);
            n_sums += clusters.sizes.len();
        }
        let slots: Vec<usize> = (0..row_indices.len())
            .flat_map(|row| {
                measured
                    .iter()
                    .zip(&starts)
                    .map(move |(clusters, start)| start + clusters.clusters[row])
            })
            .collect();
        // Per point, each distance once, added to every labeling's sum of
        // its cluster: each sum adds the same distances in the same (row)
        // order as a labeling measured alone.
        let per_point: Vec<Vec<f64>> = (0..row_indices.len())
            .into_par_iter()
            .map(|point| {
                let row = points.row(point);
                let mut sums = vec![0.0; n_sums];
                for ((other, other_row), row_slots) in points
                    .view()
                    .rows()
                    .enumerate()
                    .zip(slots.chunks_exact(measured.len()))
                {
                    if other != point {
                        let distance = crate::matrix::squared_distance(row, other_row).sqrt();
                        for &slot in row_slots {
                            sums[slot] += distance;
                        }
                    }
                }
                measured
                    .iter()
                    .zip(&starts)
                    .map(|(clusters, &start)| {
                        clusters.value(point, &sums[start..start + clusters.sizes.len()])
                    })
                    .collect()
            })
            .collect();
        for point in per_point {
            for (labeling, value) in values.iter_mut().zip(point) {
                labeling.push(value);
            }
        }
    }
    let mut values = values.into_iter();
    Ok(each
        .into_iter()
        .map(|clusters| clusters.map(|_| values.next().unwrap_or_default()))
        .collect())
}

/// Area under the ROC curve of `score` for `positive` labels, by ranks
/// (Mann-Whitney): the share of (positive, negative) pairs where the
/// positive scored higher, ties counting half. `None` without both classes.
pub fn roc_auc(pairs: &[(f64, bool)]) -> Option<f64> {
    let mut sorted: Vec<(f64, bool)> = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = sorted.iter().filter(|(_, positive)| *positive).count();
    let negatives = sorted.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Sum of the positives' ranks (1-based, ties averaged).
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < sorted.len() {
        let mut end = start;
        while end + 1 < sorted.len() && sorted[end + 1].0 == sorted[start].0 {
            end += 1;
        }
        let rank = (start + end) as f64 / 2.0 + 1.0;
        rank_sum += rank * sorted[start..=end].iter().filter(|(_, p)| *p).count() as f64;
        start = end + 1;
    }
    let positives_f = positives as f64;
    Some((rank_sum - positives_f * (positives_f + 1.0) / 2.0) / (positives_f * negatives as f64))
}

/// Up to `max_sample` distinct row indices out of `n_rows`, sorted, chosen
/// uniformly at random from `seed` (Floyd's algorithm); all rows when
/// `n_rows ≤ max_sample`.
pub fn sample_indices(n_rows: usize, max_sample: usize, seed: u64) -> Vec<usize> {
    if n_rows <= max_sample {
        return (0..n_rows).collect();
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut chosen = BTreeSet::new();
    for upper in n_rows - max_sample..n_rows {
        let candidate = rng.random_range(0..=upper);
        if !chosen.insert(candidate) {
            chosen.insert(upper);
        }
    }
    chosen.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the ARI of two labelings against a value worked out by hand.
    fn check_ari(labels_a: &[usize], labels_b: &[usize], expected: Result<f64, &str>) {
        let outcome = adjusted_rand_index(labels_a, labels_b).map_err(|error| error.to_string());
        match (outcome, expected) {
            (Ok(got), Ok(want)) => assert!(
                (got - want).abs() < 1e-12,
                "{labels_a:?} vs {labels_b:?}: {got}, expected {want}"
            ),
            (outcome, expected) => assert_eq!(outcome, expected.map_err(str::to_string)),
        }
    }

    /// Checks the silhouette of 1-D `points` with `labels` over `sample`.
    fn check_silhouette(
        points: &[f64],
        labels: &[usize],
        sample: Option<&[usize]>,
        expected: Result<f64, &str>,
    ) {
        let data = MatrixView::new(points, 1).expect("well formed");
        let outcome = silhouette(data, labels, sample).map_err(|error| error.to_string());
        match (outcome, expected) {
            (Ok(got), Ok(want)) => assert!(
                (got - want).abs() < 1e-12,
                "{points:?} {labels:?}: {got}, expected {want}"
            ),
            (outcome, expected) => assert_eq!(outcome, expected.map_err(str::to_string)),
        }
    }

    #[test]
    fn adjusted_rand_index_by_hand() {
        check_ari(&[0, 0, 1, 1, 2], &[0, 0, 1, 1, 2], Ok(1.0));
        check_ari(&[0, 0, 1, 1], &[7, 7, 3, 3], Ok(1.0));
        // Pairs together: in both 1, in a 2, in b 1, of 6: (1 − 1/3) / (3/2 − 1/3) = 4/7.
        check_ari(&[0, 0, 1, 1], &[0, 0, 1, 2], Ok(4.0 / 7.0));
        // (2 − 6·3/15) / (9/2 − 6·3/15) = 0.8 / 3.3 = 8/33.
        check_ari(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2], Ok(8.0 / 33.0));
        // One cluster against all singletons: no agreement beyond chance.
        check_ari(&[0, 0, 0, 0], &[0, 1, 2, 3], Ok(0.0));
        // Both trivial in the same way: identical partitions.
        check_ari(&[4, 4, 4], &[1, 1, 1], Ok(1.0));
        check_ari(&[0, 1, 2], &[2, 0, 1], Ok(1.0));
        // Worse than chance: a crosses b completely.
        check_ari(&[0, 0, 1, 1], &[0, 1, 0, 1], Ok(-0.5));
        check_ari(&[], &[], Ok(1.0));
        check_ari(
            &[0, 1],
            &[0],
            Err("the two labelings have different lengths: 2 and 1 labels"),
        );
    }

    #[test]
    fn silhouette_by_hand() {
        // 0, 1 | 4, 5: (7/9 + 5/7 + 5/7 + 7/9) / 4 = 47/63.
        check_silhouette(&[0.0, 1.0, 4.0, 5.0], &[0, 0, 1, 1], None, Ok(47.0 / 63.0));
        // Label names do not matter.
        check_silhouette(&[0.0, 1.0, 4.0, 5.0], &[9, 9, 3, 3], None, Ok(47.0 / 63.0));
        // 0, 1 | 5 (a singleton scores 0): (4/5 + 3/4 + 0) / 3 = 31/60.
        check_silhouette(&[0.0, 1.0, 5.0], &[0, 0, 1], None, Ok(31.0 / 60.0));
        // The same, as a sample of the four points above.
        check_silhouette(
            &[0.0, 1.0, 4.0, 5.0],
            &[0, 0, 1, 1],
            Some(&[0, 1, 3]),
            Ok(31.0 / 60.0),
        );
        // A point on the wrong side: 0, 4 | 5 gives a(0) = 4, b(0) = 5 → 1/5;
        // a(4) = 4, b(4) = 1 → −3/4; 5 is alone → 0. Mean (1/5 − 3/4) / 3.
        check_silhouette(&[0.0, 4.0, 5.0], &[0, 0, 1], None, Ok((0.2 - 0.75) / 3.0));
        check_silhouette(
            &[0.0, 1.0],
            &[0, 0],
            None,
            Err("the silhouette needs at least 2 clusters among the 2 points measured, found 1"),
        );
        check_silhouette(
            &[0.0, 1.0],
            &[0],
            None,
            Err("1 labels for 2 data rows; give one label per row"),
        );
        check_silhouette(
            &[0.0, 1.0],
            &[0, 1],
            Some(&[0, 2]),
            Err("sample index 2 is out of range for 2 data rows"),
        );
    }

    /// The silhouette as defined, one labeling and one point at a time
    /// (each point's distances summed in row order, as [`silhouette`]
    /// sums them).
    fn naive_silhouette(values: &[f64], width: usize, labels: &[usize], rows: &[usize]) -> f64 {
        let row = |i: usize| &values[rows[i] * width..(rows[i] + 1) * width];
        let label = |i: usize| labels[rows[i]];
        let mut total = 0.0;
        for i in 0..rows.len() {
            let mut sums: std::collections::BTreeMap<usize, (f64, usize)> = Default::default();
            for j in 0..rows.len() {
                let entry = sums.entry(label(j)).or_default();
                entry.1 += 1;
                if j != i {
                    entry.0 += crate::matrix::squared_distance(row(i), row(j)).sqrt();
                }
            }
            let (own_sum, own_size) = sums[&label(i)];
            if own_size < 2 {
                continue;
            }
            let within = own_sum / (own_size - 1) as f64;
            let nearest = sums
                .iter()
                .filter(|(cluster, _)| **cluster != label(i))
                .map(|(_, (sum, size))| sum / *size as f64)
                .fold(f64::INFINITY, f64::min);
            let larger = within.max(nearest);
            if larger > 0.0 {
                total += (nearest - within) / larger;
            }
        }
        total / rows.len() as f64
    }

    #[test]
    fn silhouettes_of_several_labelings_are_each_ones_bits() {
        let mut rng = StdRng::seed_from_u64(7);
        let (n_rows, n_features) = (300, 4);
        let values: Vec<f64> = (0..n_rows * n_features)
            .map(|_| rng.random_range(-3.0..3.0))
            .collect();
        let data = MatrixView::new(&values[..], n_features).unwrap();
        let labelings: Vec<Vec<usize>> = [2usize, 3, 7]
            .iter()
            .map(|&k| (0..n_rows).map(|_| rng.random_range(0..k)).collect())
            .chain([vec![4; n_rows], vec![0; 3]])
            .collect();
        let borrowed: Vec<&[usize]> = labelings.iter().map(Vec::as_slice).collect();
        let sample = sample_indices(n_rows, 120, 3);
        for rows in [None, Some(&sample[..])] {
            let together = silhouettes(data, &borrowed, rows).unwrap();
            assert_eq!(together.len(), labelings.len());
            for (labels, found) in labelings.iter().zip(together) {
                match silhouette(data, labels, rows) {
                    Ok(alone) => {
                        assert_eq!(found.unwrap().to_bits(), alone.to_bits());
                        let rows = rows.map_or_else(|| (0..n_rows).collect(), <[usize]>::to_vec);
                        let naive = naive_silhouette(&values, n_features, labels, &rows);
                        assert_eq!(alone.to_bits(), naive.to_bits());
                    }
                    Err(error) => assert_eq!(found.unwrap_err(), error),
                }
            }
        }
        assert!(matches!(
            silhouettes(data, &borrowed, Some(&[0, 300])),
            Err(MetricsError::SampleIndex { index: 300, .. })
        ));
    }

    #[test]
    fn samples_are_deterministic_distinct_and_sorted() {
        for (n_rows, max_sample, seed) in
            [(10, 20, 0), (1_000, 10, 1), (1_000, 999, 2), (50, 50, 3)]
        {
            let sample = sample_indices(n_rows, max_sample, seed);
            assert_eq!(sample.len(), n_rows.min(max_sample));
            assert!(sample.windows(2).all(|pair| pair[0] < pair[1]));
            assert!(sample.iter().all(|&index| index < n_rows));
            assert_eq!(sample, sample_indices(n_rows, max_sample, seed));
        }
        assert_ne!(sample_indices(1_000, 10, 1), sample_indices(1_000, 10, 2));
    }
}
