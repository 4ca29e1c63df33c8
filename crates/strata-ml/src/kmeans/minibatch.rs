//! Mini-batch k-means (Sculley, 2010): move the centroids using small random
//! batches instead of the whole data set, for a cheap approximate solution on
//! large inputs.
//!
//! Each step draws `batch_size` rows uniformly with replacement, assigns them
//! to their nearest centroid, and moves every centroid towards the mean of
//! its batch members with a learning rate of `batch members / all members
//! seen so far`. So a centroid is always the running mean of every point
//! ever assigned to it, and it settles as its count grows. Steps stop after
//! `max_steps`, when the centroids move less than the tolerance, or when an
//! exponentially weighted average of the batch inertia has not improved for
//! ten steps (scikit-learn's `max_no_improvement`).
//!
//! The result is not a k-means fixed point, so [`super::KMeansValidParams::fit`]
//! follows it with a few exact Hamerly iterations over all rows.
use rand::Rng;
use rand::rngs::StdRng;
use rayon::prelude::*;

use crate::kmeans::lloyd::total_squared_shift;
use crate::matrix::{CentroidBlocks, Float, MatrixView};

/// Batch rows per parallel work unit.
const BATCH_CHUNK_ROWS: usize = 1_024;

/// Steps without improvement of the smoothed batch inertia before stopping.
const MAX_NO_IMPROVEMENT: usize = 10;

/// Runs mini-batch steps from `start`; returns the centroids and the number of
/// steps taken.
pub(crate) fn run_minibatch<T: Float>(
    data: MatrixView<'_, T>,
    start: Vec<T>,
    batch_size: usize,
    max_steps: usize,
    tolerance: f64,
    rng: &mut StdRng,
) -> (Vec<T>, usize) {
    let n_rows = data.n_rows();
    let n_features = data.n_features();
    let n_clusters = start.len() / n_features;
    let mut centroids = start;
    let mut weights = vec![0.0_f64; n_clusters];
    let smoothing = (2.0 * batch_size as f64 / (n_rows as f64 + 1.0)).min(1.0);
    let mut smoothed_inertia: Option<f64> = None;
    let mut best_smoothed = f64::INFINITY;
    let mut n_no_improvement = 0;
    let mut n_steps = 0;
    let mut batch_indices = vec![0usize; batch_size];
    while n_steps < max_steps {
        n_steps += 1;
        for index in batch_indices.iter_mut() {
            *index = rng.random_range(0..n_rows);
        }
        let blocks = CentroidBlocks::new(&centroids, n_features);
        let partials: Vec<(Vec<f64>, Vec<f64>, f64)> = batch_indices
            .par_chunks(BATCH_CHUNK_ROWS)
            .map(|chunk_indices| {
                let mut sums = vec![0.0; n_clusters * n_features];
                let mut counts = vec![0.0; n_clusters];
                let mut inertia = 0.0;
                for &row_idx in chunk_indices {
                    let row = data.row(row_idx);
                    let (best_idx, best, _) = blocks.nearest_two(row);
                    inertia += best.to_f64();
                    counts[best_idx] += 1.0;
                    for (sum, value) in sums[best_idx * n_features..(best_idx + 1) * n_features]
                        .iter_mut()
                        .zip(row)
                    {
                        *sum += value.to_f64();
                    }
                }
                (sums, counts, inertia)
            })
            .collect();
        let mut batch_sums = vec![0.0; n_clusters * n_features];
        let mut batch_counts = vec![0.0; n_clusters];
        let mut batch_inertia = 0.0;
        for (sums, counts, inertia) in &partials {
            batch_sums
                .iter_mut()
                .zip(sums)
                .for_each(|(total, value)| *total += value);
            batch_counts
                .iter_mut()
                .zip(counts)
                .for_each(|(total, value)| *total += value);
            batch_inertia += inertia;
        }

        let old_centroids = centroids.clone();
        for cluster_idx in 0..n_clusters {
            let batch_count = batch_counts[cluster_idx];
            if batch_count == 0.0 {
                continue;
            }
            let new_weight = weights[cluster_idx] + batch_count;
            let range = cluster_idx * n_features..(cluster_idx + 1) * n_features;
            for (centroid_value, sum) in centroids[range.clone()].iter_mut().zip(&batch_sums[range])
            {
                let blended = (centroid_value.to_f64() * weights[cluster_idx] + sum) / new_weight;
                *centroid_value = T::from_f64(blended);
            }
            weights[cluster_idx] = new_weight;
        }
        if total_squared_shift(&old_centroids, &centroids) <= tolerance {
            break;
        }
        let per_row_inertia = batch_inertia / batch_size as f64;
        let smoothed = match smoothed_inertia {
            None => per_row_inertia,
            Some(previous) => previous * (1.0 - smoothing) + per_row_inertia * smoothing,
        };
        smoothed_inertia = Some(smoothed);
        if smoothed < best_smoothed {
            best_smoothed = smoothed;
            n_no_improvement = 0;
        } else {
            n_no_improvement += 1;
            if n_no_improvement >= MAX_NO_IMPROVEMENT {
                break;
            }
        }
    }
    (centroids, n_steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Runs mini-batch steps on 1-D `points` from `start` and checks that every
    /// centroid ends within `within` of `expected`.
    fn check(points: &[f64], start: &[f64], expected: &[f64], within: f64) {
        let data = MatrixView::new(points, 1).expect("well formed");
        let mut rng = StdRng::seed_from_u64(7);
        let (centroids, n_steps) = run_minibatch(data, start.to_vec(), 64, 200, 0.0, &mut rng);
        assert!(n_steps >= 1);
        for (got, want) in centroids.iter().zip(expected) {
            assert!(
                (got - want).abs() <= within,
                "centroids {centroids:?}, expected {expected:?}"
            );
        }
    }

    #[test]
    fn approaches_the_group_means() {
        // Two groups of 100 points spread evenly over [0, 1] and [10, 11]:
        // the running means end near 0.5 and 10.5.
        let mut points: Vec<f64> = (0..100).map(|idx| idx as f64 / 99.0).collect();
        points.extend((0..100).map(|idx| 10.0 + idx as f64 / 99.0));
        check(&points, &[0.0, 11.0], &[0.5, 10.5], 0.1);
        // Identical points stay put.
        check(&[2.0; 10], &[2.0], &[2.0], 0.0);
    }
}
