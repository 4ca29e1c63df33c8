//! Exact k-means iterations: plain Lloyd, and Lloyd accelerated with Hamerly's
//! bounds, which gives the same answer while skipping most distance
//! computations.
//!
//! Both alternate an *assignment* step (every point joins its nearest
//! centroid) and an *update* step (every centroid moves to the mean of its
//! points). Plain Lloyd computes all `k` distances of every point in every
//! assignment step. Hamerly (2010) keeps, for each point, an upper bound `u`
//! on the distance to its own centroid and one lower bound `l` on the distance
//! to every other centroid. After an update moves centroid `j` by `drift[j]`,
//! the bounds stay valid as `u + drift[own]` and `l − max(drift[others])`. A
//! point cannot change cluster while `u ≤ max(l, s[own])`, where `s[j]` is half
//! the distance from centroid `j` to its nearest other centroid (any point
//! closer than that to `j` is closer to `j` than to anything else). Only the
//! few points that fail the test are measured: first against their own
//! centroid, which tightens `u`, and then, if the test still fails, against
//! all centroids. Once the clusters settle, an iteration reads a few bytes of
//! bookkeeping per point and no data at all.
//!
//! The update step does not re-read the data either: cluster sums are kept in
//! `f64` and only the points that changed cluster are moved from one sum to
//! the other. Every parallel loop works on fixed chunks of
//! [`CHUNK_ROWS`](crate::matrix::CHUNK_ROWS) rows and adds the chunks'
//! partial sums in chunk order, so the result does not depend on the number
//! of threads.
//!
//! After the last update, one more assignment makes the labels those of the
//! final centroids, as scikit-learn does, and yields the inertia. With
//! Hamerly it measures each point against its own centroid only, plus all
//! centroids for the few points whose bounds fail.
use rayon::prelude::*;

use crate::kmeans::KMeansAlgorithm;
use crate::matrix::{CHUNK_ROWS, CentroidBlocks, Float, MatrixView, squared_distance};

/// What one point carries between iterations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PointState<T> {
    /// The point's cluster.
    pub label: u32,
    /// Upper bound on the distance (not squared) to its centroid.
    pub upper: T,
    /// Lower bound on the distance to every other centroid.
    pub lower: T,
}

/// The result of a run of exact iterations.
#[derive(Debug, Clone)]
pub(crate) struct ExactOutcome<T> {
    /// Final centroids, `k × n_features`, row-major.
    pub centroids: Vec<T>,
    /// Nearest final centroid of every point.
    pub labels: Vec<u32>,
    /// Sum of squared distances from each point to its nearest final centroid.
    pub inertia: f64,
    /// Update steps performed.
    pub n_iter: usize,
    /// Whether the centroids moved less than the tolerance before `max_iter`.
    pub converged: bool,
}

/// Cluster sums in `f64` and cluster sizes.
#[derive(Debug, Clone)]
struct ClusterSums {
    values: Vec<f64>,
    counts: Vec<i64>,
}

impl ClusterSums {
    fn zeros(n_clusters: usize, n_features: usize) -> Self {
        ClusterSums {
            values: vec![0.0; n_clusters * n_features],
            counts: vec![0; n_clusters],
        }
    }

    fn add_row<T: Float>(&mut self, cluster_idx: usize, row: &[T], sign: f64) {
        let n_features = row.len();
        let target = &mut self.values[cluster_idx * n_features..(cluster_idx + 1) * n_features];
        for (sum, value) in target.iter_mut().zip(row) {
            *sum += sign * value.to_f64();
        }
        self.counts[cluster_idx] += sign as i64;
    }

    fn add(&mut self, other: &ClusterSums) {
        for (sum, value) in self.values.iter_mut().zip(&other.values) {
            *sum += value;
        }
        for (count, value) in self.counts.iter_mut().zip(&other.counts) {
            *count += value;
        }
    }
}

/// Relative safety margin applied to the bounds, so that rounding in the
/// bound arithmetic can only make Hamerly measure more points, never skip a
/// point whose nearest centroid (as computed by [`squared_distance`]) changed.
fn bound_slack<T: Float>(n_features: usize) -> T {
    T::from_f64((n_features as f64 + 8.0) * T::EPSILON.to_f64())
}

/// Runs exact iterations from `start` until the total squared centroid shift
/// is at most `tolerance`, or `max_iter` update steps.
pub(crate) fn run_exact<T: Float>(
    data: MatrixView<'_, T>,
    start: Vec<T>,
    max_iter: usize,
    tolerance: f64,
    algorithm: KMeansAlgorithm,
) -> ExactOutcome<T> {
    let n_features = data.n_features();
    let slack = bound_slack::<T>(n_features);
    let mut centroids = start;
    let mut states = vec![
        PointState {
            label: 0,
            upper: T::INFINITY,
            lower: T::ZERO,
        };
        data.n_rows()
    ];
    let (mut sums, _) = assign_all(
        data,
        &CentroidBlocks::new(&centroids, n_features),
        &mut states,
        slack,
    );
    let mut last_drift = None;
    let mut n_iter = 0;
    let mut converged = false;
    while n_iter < max_iter {
        n_iter += 1;
        let new_centroids = update_centroids(data, &centroids, &mut states, &mut sums);
        let shift = total_squared_shift(&centroids, &new_centroids);
        last_drift = Some(centroid_drift(
            &centroids,
            &new_centroids,
            n_features,
            slack,
        ));
        centroids = new_centroids;
        if shift <= tolerance {
            converged = true;
            break;
        }
        if n_iter == max_iter {
            break;
        }
        let blocks = CentroidBlocks::new(&centroids, n_features);
        match (algorithm, &last_drift) {
            (KMeansAlgorithm::Hamerly, Some(drift)) => {
                let geometry = Geometry::new(&centroids, drift, n_features, slack);
                let delta = hamerly_step(data, &centroids, &blocks, &geometry, &mut states, slack);
                sums.add(&delta);
            }
            _ => {
                let (fresh_sums, _) = assign_all(data, &blocks, &mut states, slack);
                sums = fresh_sums;
            }
        }
    }
    // A last assignment makes the labels those of the final centroids, as
    // scikit-learn does, and gives the inertia.
    let blocks = CentroidBlocks::new(&centroids, n_features);
    let inertia = match (algorithm, &last_drift) {
        (KMeansAlgorithm::Hamerly, Some(drift)) => {
            let geometry = Geometry::new(&centroids, drift, n_features, slack);
            hamerly_final(data, &centroids, &blocks, &geometry, &mut states, slack)
        }
        _ => assign_all(data, &blocks, &mut states, slack).1,
    };
    ExactOutcome {
        centroids,
        labels: states.iter().map(|state| state.label).collect(),
        inertia,
        n_iter,
        converged,
    }
}

/// Assigns every point to its nearest centroid, resetting its bounds, and
/// returns the cluster sums and the inertia.
fn assign_all<T: Float>(
    data: MatrixView<'_, T>,
    blocks: &CentroidBlocks<T>,
    states: &mut [PointState<T>],
    slack: T,
) -> (ClusterSums, f64) {
    let n_features = data.n_features();
    let n_clusters = blocks.n_centroids();
    let partials: Vec<(ClusterSums, f64)> = data
        .as_slice()
        .par_chunks(CHUNK_ROWS * n_features)
        .zip(states.par_chunks_mut(CHUNK_ROWS))
        .map(|(chunk, chunk_states)| {
            let mut sums = ClusterSums::zeros(n_clusters, n_features);
            let mut inertia = 0.0;
            for (row, state) in chunk.chunks_exact(n_features).zip(chunk_states.iter_mut()) {
                let best = remeasure(row, state, blocks, slack);
                inertia += best.to_f64();
                sums.add_row(state.label as usize, row, 1.0);
            }
            (sums, inertia)
        })
        .collect();
    let mut total = ClusterSums::zeros(n_clusters, n_features);
    let mut inertia = 0.0;
    for (sums, chunk_inertia) in &partials {
        total.add(sums);
        inertia += chunk_inertia;
    }
    (total, inertia)
}

/// Measures a point against every centroid and sets its label and both
/// bounds; returns the squared distance to its (new) centroid.
#[inline(always)]
fn remeasure<T: Float>(
    row: &[T],
    state: &mut PointState<T>,
    blocks: &CentroidBlocks<T>,
    slack: T,
) -> T {
    let one = T::from_f64(1.0);
    let (best_idx, best, second) = blocks.nearest_two(row);
    state.label = best_idx as u32;
    state.upper = best.sqrt() * (one + slack);
    state.lower = second.sqrt() * (one - slack);
    best
}

/// Per-iteration facts about the centroids that the Hamerly test needs.
struct Geometry<T> {
    /// How far each centroid moved in the last update, inflated by the slack.
    drift: Vec<T>,
    /// For each cluster, the largest drift among the *other* centroids.
    max_other_drift: Vec<T>,
    /// Half the distance from each centroid to its nearest other centroid,
    /// deflated by the slack.
    half_separation: Vec<T>,
}

impl<T: Float> Geometry<T> {
    fn new(centroids: &[T], drift: &[T], n_features: usize, slack: T) -> Self {
        let n_clusters = drift.len();
        let half = T::from_f64(0.5);
        let one = T::from_f64(1.0);
        let mut half_separation = vec![T::INFINITY; n_clusters];
        for left_idx in 0..n_clusters {
            for right_idx in 0..n_clusters {
                if left_idx == right_idx {
                    continue;
                }
                let distance = squared_distance(
                    &centroids[left_idx * n_features..(left_idx + 1) * n_features],
                    &centroids[right_idx * n_features..(right_idx + 1) * n_features],
                )
                .sqrt();
                let candidate = half * distance * (one - slack);
                if candidate < half_separation[left_idx] {
                    half_separation[left_idx] = candidate;
                }
            }
        }
        // The largest and second-largest drift give "largest among the others"
        // for every cluster in O(k).
        let mut largest_idx = 0;
        let mut largest = T::ZERO;
        let mut second_largest = T::ZERO;
        for (cluster_idx, &cluster_drift) in drift.iter().enumerate() {
            if cluster_drift > largest {
                second_largest = largest;
                largest = cluster_drift;
                largest_idx = cluster_idx;
            } else if cluster_drift > second_largest {
                second_largest = cluster_drift;
            }
        }
        let max_other_drift = (0..n_clusters)
            .map(|cluster_idx| {
                if cluster_idx == largest_idx {
                    second_largest
                } else {
                    largest
                }
            })
            .collect();
        Geometry {
            drift: drift.to_vec(),
            max_other_drift,
            half_separation,
        }
    }

    /// Loosens a point's bounds by the last drift and returns the threshold
    /// its upper bound must not exceed for its label to stand unmeasured.
    #[inline(always)]
    fn loosen(&self, state: &mut PointState<T>) -> T {
        let own_idx = state.label as usize;
        state.upper += self.drift[own_idx];
        state.lower -= self.max_other_drift[own_idx];
        let separation = self.half_separation[own_idx];
        if state.lower > separation {
            state.lower
        } else {
            separation
        }
    }
}

/// One Hamerly assignment step: updates the bounds with the last drift,
/// measures only the points whose bounds no longer prove their label, and
/// returns how the cluster sums change.
fn hamerly_step<T: Float>(
    data: MatrixView<'_, T>,
    centroids: &[T],
    blocks: &CentroidBlocks<T>,
    geometry: &Geometry<T>,
    states: &mut [PointState<T>],
    slack: T,
) -> ClusterSums {
    let n_features = data.n_features();
    let n_clusters = blocks.n_centroids();
    let one = T::from_f64(1.0);
    let partials: Vec<Option<ClusterSums>> = data
        .as_slice()
        .par_chunks(CHUNK_ROWS * n_features)
        .zip(states.par_chunks_mut(CHUNK_ROWS))
        .map(|(chunk, chunk_states)| {
            // Allocated on the first move only: late iterations move nobody.
            let mut delta: Option<ClusterSums> = None;
            for (row, state) in chunk.chunks_exact(n_features).zip(chunk_states.iter_mut()) {
                let threshold = geometry.loosen(state);
                if state.upper <= threshold {
                    continue;
                }
                let own_idx = state.label as usize;
                let own = &centroids[own_idx * n_features..(own_idx + 1) * n_features];
                state.upper = squared_distance(row, own).sqrt() * (one + slack);
                if state.upper <= threshold {
                    continue;
                }
                remeasure(row, state, blocks, slack);
                let new_idx = state.label as usize;
                if new_idx != own_idx {
                    let sums =
                        delta.get_or_insert_with(|| ClusterSums::zeros(n_clusters, n_features));
                    sums.add_row(own_idx, row, -1.0);
                    sums.add_row(new_idx, row, 1.0);
                }
            }
            delta
        })
        .collect();
    let mut total = ClusterSums::zeros(n_clusters, n_features);
    for delta in partials.iter().flatten() {
        total.add(delta);
    }
    total
}

/// The last assignment with Hamerly's bounds: like [`hamerly_step`], but it
/// measures every point against its own centroid for the inertia, and only
/// the points whose bounds fail against all centroids. Each distance is the
/// one [`assign_all`] would compute, so the inertia matches plain Lloyd's.
fn hamerly_final<T: Float>(
    data: MatrixView<'_, T>,
    centroids: &[T],
    blocks: &CentroidBlocks<T>,
    geometry: &Geometry<T>,
    states: &mut [PointState<T>],
    slack: T,
) -> f64 {
    let n_features = data.n_features();
    let one = T::from_f64(1.0);
    let partials: Vec<f64> = data
        .as_slice()
        .par_chunks(CHUNK_ROWS * n_features)
        .zip(states.par_chunks_mut(CHUNK_ROWS))
        .map(|(chunk, chunk_states)| {
            let mut inertia = 0.0;
            for (row, state) in chunk.chunks_exact(n_features).zip(chunk_states.iter_mut()) {
                let threshold = geometry.loosen(state);
                let own_idx = state.label as usize;
                let own_distance = squared_distance(
                    row,
                    &centroids[own_idx * n_features..(own_idx + 1) * n_features],
                );
                let mut distance = own_distance;
                if state.upper > threshold {
                    state.upper = own_distance.sqrt() * (one + slack);
                    if state.upper > threshold {
                        distance = remeasure(row, state, blocks, slack);
                    }
                }
                inertia += distance.to_f64();
            }
            inertia
        })
        .collect();
    partials.iter().sum()
}

/// New centroids from the cluster sums. An empty cluster is first re-seeded
/// with the point farthest from its current centroid (see
/// [`relocate_empty_clusters`]), so no centroid is ever 0/0.
fn update_centroids<T: Float>(
    data: MatrixView<'_, T>,
    centroids: &[T],
    states: &mut [PointState<T>],
    sums: &mut ClusterSums,
) -> Vec<T> {
    if sums.counts.contains(&0) {
        relocate_empty_clusters(data, centroids, states, sums);
    }
    let n_features = data.n_features();
    let mut new_centroids = centroids.to_vec();
    for (cluster_idx, &count) in sums.counts.iter().enumerate() {
        if count <= 0 {
            // Only reachable with fewer distinct points than clusters, which
            // `fit` rejects; keeping the old centroid avoids a NaN regardless.
            continue;
        }
        let range = cluster_idx * n_features..(cluster_idx + 1) * n_features;
        for (centroid_value, sum) in new_centroids[range.clone()]
            .iter_mut()
            .zip(&sums.values[range])
        {
            *centroid_value = T::from_f64(sum / count as f64);
        }
    }
    new_centroids
}

/// Gives every empty cluster the point farthest from its own centroid, taken
/// from a cluster that keeps at least one other point.
///
/// "Farthest" uses the centroids of the assignment that left the cluster
/// empty, and ties go to the lowest row index, so the choice is
/// deterministic. The moved point's bounds are reset so Hamerly measures it
/// again next step.
fn relocate_empty_clusters<T: Float>(
    data: MatrixView<'_, T>,
    centroids: &[T],
    states: &mut [PointState<T>],
    sums: &mut ClusterSums,
) {
    let n_features = data.n_features();
    let mut distances: Vec<f64> = data
        .as_slice()
        .par_chunks(n_features)
        .zip(states.par_iter())
        .map(|(row, state)| {
            let own_idx = state.label as usize;
            squared_distance(
                row,
                &centroids[own_idx * n_features..(own_idx + 1) * n_features],
            )
            .to_f64()
        })
        .collect();
    let n_clusters = sums.counts.len();
    for empty_idx in 0..n_clusters {
        if sums.counts[empty_idx] != 0 {
            continue;
        }
        let mut farthest: Option<(usize, f64)> = None;
        for (row_idx, &distance) in distances.iter().enumerate() {
            let donor_count = sums.counts[states[row_idx].label as usize];
            if distance >= 0.0
                && donor_count > 1
                && farthest.is_none_or(|(_, best)| distance > best)
            {
                farthest = Some((row_idx, distance));
            }
        }
        let Some((row_idx, _)) = farthest else {
            continue;
        };
        let row = data.row(row_idx);
        sums.add_row(states[row_idx].label as usize, row, -1.0);
        sums.add_row(empty_idx, row, 1.0);
        states[row_idx] = PointState {
            label: empty_idx as u32,
            upper: T::INFINITY,
            lower: T::ZERO,
        };
        // A moved point is never chosen twice.
        distances[row_idx] = -1.0;
    }
}

/// `Σ_j ‖new_j − old_j‖²`, in `f64`: the quantity compared to the tolerance.
pub(crate) fn total_squared_shift<T: Float>(old: &[T], new: &[T]) -> f64 {
    old.iter()
        .zip(new)
        .map(|(old_value, new_value)| {
            let diff = new_value.to_f64() - old_value.to_f64();
            diff * diff
        })
        .sum()
}

/// How far each centroid moved, inflated by the slack.
fn centroid_drift<T: Float>(old: &[T], new: &[T], n_features: usize, slack: T) -> Vec<T> {
    let one = T::from_f64(1.0);
    old.chunks_exact(n_features)
        .zip(new.chunks_exact(n_features))
        .map(|(old_centroid, new_centroid)| {
            squared_distance(old_centroid, new_centroid).sqrt() * (one + slack)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs exact k-means on `points` (rows of `n_features`) from `start` and
    /// checks labels, centroids (within 1e-9) and inertia, with both
    /// algorithms.
    fn check(
        points: &[f64],
        n_features: usize,
        start: &[f64],
        labels: &[u32],
        centroids: &[f64],
        inertia: f64,
    ) {
        let data = MatrixView::new(points, n_features).expect("test data is well formed");
        for algorithm in [KMeansAlgorithm::Lloyd, KMeansAlgorithm::Hamerly] {
            let outcome = run_exact(data, start.to_vec(), 100, 0.0, algorithm);
            assert_eq!(outcome.labels, labels, "{algorithm:?} labels");
            for (got, expected) in outcome.centroids.iter().zip(centroids) {
                assert!(
                    (got - expected).abs() < 1e-9,
                    "{algorithm:?} centroids {:?}",
                    outcome.centroids
                );
            }
            assert!(
                (outcome.inertia - inertia).abs() < 1e-9,
                "{algorithm:?} inertia {}",
                outcome.inertia
            );
            assert!(outcome.converged, "{algorithm:?} converged");
        }
    }

    #[test]
    fn small_cases_by_hand() {
        // 0,1,2 | 10,11,12: centroids 1 and 11, inertia 4 × (1 + 0 + 1) / 2 = 4.
        check(
            &[0.0, 1.0, 2.0, 10.0, 11.0, 12.0],
            1,
            &[0.0, 12.0],
            &[0, 0, 0, 1, 1, 1],
            &[1.0, 11.0],
            4.0,
        );
        // A bad start (both centroids left of all points): centroid 1 takes
        // everything, centroid 0 is re-seeded with 12 (farthest from −4), and
        // 10 and 11 follow it.
        check(
            &[0.0, 1.0, 2.0, 10.0, 11.0, 12.0],
            1,
            &[-5.0, -4.0],
            &[1, 1, 1, 0, 0, 0],
            &[11.0, 1.0],
            4.0,
        );
        // Empty cluster: the second centroid starts far away and owns nothing,
        // so it takes the point farthest from centroid 0 (12, at distance 7
        // from 5). Then 10, 11 follow it: centroids 1 and 11 again.
        check(
            &[0.0, 1.0, 2.0, 10.0, 11.0, 12.0],
            1,
            &[5.0, 1000.0],
            &[0, 0, 0, 1, 1, 1],
            &[1.0, 11.0],
            4.0,
        );
        // Two obvious blobs in 2-D: square corners around (0,0) and (10,10);
        // each corner is at squared distance 2 from its centre.
        check(
            &[
                -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 9.0, 9.0, 9.0, 11.0, 11.0, 9.0, 11.0,
                11.0,
            ],
            2,
            &[-1.0, -1.0, 9.0, 9.0],
            &[0, 0, 0, 0, 1, 1, 1, 1],
            &[0.0, 0.0, 10.0, 10.0],
            16.0,
        );
        // Identical points with k = 1.
        check(&[3.0, 3.0, 3.0], 1, &[3.0], &[0, 0, 0], &[3.0], 0.0);
    }

    #[test]
    fn relocation_takes_the_farthest_point_from_a_shared_cluster() {
        // All points join centroid 0 at 0; 2 is the farthest, so cluster 1
        // (and then 2) are reseeded from it and its neighbour.
        let points = [0.0, 0.5, 2.0, 1.0];
        let data = MatrixView::new(&points[..], 1).expect("well formed");
        let mut states = vec![
            PointState {
                label: 0,
                upper: 0.0,
                lower: 0.0
            };
            4
        ];
        let mut sums = ClusterSums {
            values: vec![3.5, 0.0, 0.0],
            counts: vec![4, 0, 0],
        };
        let centroids = update_centroids(data, &[0.0, 50.0, 60.0], &mut states, &mut sums);
        let labels: Vec<u32> = states.iter().map(|state| state.label).collect();
        assert_eq!(labels, vec![0, 0, 1, 2]);
        assert_eq!(centroids, vec![0.25, 2.0, 1.0]);
        assert_eq!(sums.counts, vec![2, 1, 1]);
    }
}
