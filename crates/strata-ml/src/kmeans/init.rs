//! Greedy k-means++ initialisation: spread the starting centroids out so that
//! Lloyd's iterations start near a good solution.
//!
//! k-means++ (Arthur and Vassilvitskii, 2007) picks the first centroid
//! uniformly at random. Each later centroid is drawn with probability
//! proportional to `D(x)²`, the squared distance from `x` to the nearest
//! centroid chosen so far, so far-away regions are likely to get a centroid
//! of their own. The *greedy* variant, used by scikit-learn, draws
//! `2 + ⌊ln k⌋` candidates at each step instead of one and keeps the
//! candidate that lowers the potential `Σ_x D(x)²` the most.
//!
//! The work is one pass over the data per step. The pass for step `s` folds
//! the centroid chosen at step `s − 1` into every point's `D(x)²` and, in the
//! same read of the row, measures the candidates of step `s`. Candidates are
//! drawn before that pass from the per-chunk potentials of the previous best
//! candidate: the draw picks a chunk from those sums and then scans only that
//! chunk. All sums are `f64`, per chunk, added in chunk order, so the chosen
//! centroids depend on the seed and never on the number of threads.
//!
//! Most points need few distances or none. Each point remembers which chosen
//! centroid `a` is nearest, at distance `d(x)`. If a new centroid `c` has
//! `‖c − a‖ ≥ 2·d(x)`, the triangle inequality gives
//! `‖x − c‖ ≥ ‖c − a‖ − ‖x − a‖ ≥ d(x)`, so `c` cannot bring the point
//! closer (Raff, 2021). Each pass first folds in the previous centroid, only
//! for points it might capture, and then measures the candidates only for
//! points that one of them might capture. The test carries a safety margin
//! so that a skipped distance would also have *computed* no smaller, which
//! keeps the result identical, bit for bit, to measuring everything.

use rand::Rng;
use rand::rngs::StdRng;
use rayon::prelude::*;

use crate::matrix::{CHUNK_ROWS, CentroidBlocks, Float, MatrixView, squared_distance};

/// Chooses `n_clusters` starting centroids, `n_clusters × n_features`
/// row-major.
///
/// The caller guarantees at least `n_clusters` distinct rows, so every step
/// has a positive potential to draw from.
pub(crate) fn greedy_kmeans_plus_plus<T: Float>(
    data: MatrixView<'_, T>,
    n_clusters: usize,
    rng: &mut StdRng,
) -> Vec<T> {
    greedy_with_pruning(data, n_clusters, rng, Pruning::new(data.n_features()))
}

fn greedy_with_pruning<T: Float>(
    data: MatrixView<'_, T>,
    n_clusters: usize,
    rng: &mut StdRng,
    prune: Pruning<T>,
) -> Vec<T> {
    let n_rows = data.n_rows();
    let n_features = data.n_features();
    let n_candidates = 2 + (n_clusters as f64).ln().floor() as usize;
    let first_idx = rng.random_range(0..n_rows);
    // Row indices of the centroids chosen so far.
    let mut chosen: Vec<usize> = vec![first_idx];
    if n_clusters == 1 {
        return data.row(first_idx).to_vec();
    }

    // Pass 0: distance of every point to the first centroid.
    let mut closest = vec![T::ZERO; n_rows];
    let mut nearest = vec![0u32; n_rows];
    let mut chunk_potentials: Vec<f64> = data
        .as_slice()
        .par_chunks(CHUNK_ROWS * n_features)
        .zip(closest.par_chunks_mut(CHUNK_ROWS))
        .map(|(chunk, chunk_closest)| {
            let first = data.row(first_idx);
            let mut potential = 0.0;
            for (row, closest_distance) in
                chunk.chunks_exact(n_features).zip(chunk_closest.iter_mut())
            {
                *closest_distance = squared_distance(row, first);
                potential += closest_distance.to_f64();
            }
            potential
        })
        .collect();
    // Whether the last chosen centroid is still to be folded into `closest`.
    let mut has_pending = false;

    for _ in 1..n_clusters {
        let pending = has_pending.then(|| Pending::new(data, &chosen));
        let candidates: Vec<usize> = (0..n_candidates)
            .map(|_| {
                draw_proportional(
                    data,
                    &closest,
                    &nearest,
                    &chunk_potentials,
                    pending.as_ref(),
                    &prune,
                    rng,
                )
            })
            .collect();
        let mut candidate_values: Vec<T> = Vec::with_capacity(n_candidates * n_features);
        for &row_idx in &candidates {
            candidate_values.extend_from_slice(data.row(row_idx));
        }
        let blocks = CentroidBlocks::new(&candidate_values, n_features);
        // For each chosen centroid, the squared distance to the closest
        // candidate: a point nearest to centroid `a` needs no candidate
        // measured when even that one is at least twice its distance away.
        let nearest_candidate: Vec<T> = chosen
            .iter()
            .map(|&chosen_idx| {
                candidates
                    .iter()
                    .map(|&row_idx| squared_distance(data.row(chosen_idx), data.row(row_idx)))
                    .fold(
                        T::INFINITY,
                        |left, right| if right < left { right } else { left },
                    )
            })
            .collect();
        let per_chunk: Vec<Vec<f64>> = data
            .as_slice()
            .par_chunks(CHUNK_ROWS * n_features)
            .zip(closest.par_chunks_mut(CHUNK_ROWS))
            .zip(nearest.par_chunks_mut(CHUNK_ROWS))
            .map(|((chunk, chunk_closest), chunk_nearest)| {
                let mut distances = vec![T::ZERO; n_candidates];
                let mut potentials = vec![0.0; n_candidates];
                for ((row, closest_distance), nearest_label) in chunk
                    .chunks_exact(n_features)
                    .zip(chunk_closest.iter_mut())
                    .zip(chunk_nearest.iter_mut())
                {
                    if let Some(pending) = &pending {
                        (*closest_distance, *nearest_label) =
                            pending.fold(row, *closest_distance, *nearest_label, &prune);
                    }
                    if prune.is_far(
                        nearest_candidate[*nearest_label as usize],
                        *closest_distance,
                    ) {
                        let unchanged = closest_distance.to_f64();
                        potentials
                            .iter_mut()
                            .for_each(|potential| *potential += unchanged);
                        continue;
                    }
                    blocks.distances(row, &mut distances);
                    for (potential, &distance) in potentials.iter_mut().zip(&distances) {
                        let reduced = if distance < *closest_distance {
                            distance
                        } else {
                            *closest_distance
                        };
                        *potential += reduced.to_f64();
                    }
                }
                potentials
            })
            .collect();
        let mut best_candidate = 0;
        let mut best_potential = f64::INFINITY;
        for candidate_idx in 0..candidates.len() {
            let potential: f64 = per_chunk
                .iter()
                .map(|potentials| potentials[candidate_idx])
                .sum();
            if potential < best_potential {
                best_potential = potential;
                best_candidate = candidate_idx;
            }
        }
        chunk_potentials = per_chunk
            .iter()
            .map(|potentials| potentials[best_candidate])
            .collect();
        chosen.push(candidates[best_candidate]);
        has_pending = true;
    }
    chosen
        .iter()
        .flat_map(|&row_idx| data.row(row_idx).iter().copied())
        .collect()
}

/// The triangle-inequality test with its safety margin.
struct Pruning<T> {
    /// `4 (1 + σ)`, where σ covers the rounding of two squared distances
    /// of `n_features` terms each.
    factor: T,
}

impl<T: Float> Pruning<T> {
    fn new(n_features: usize) -> Self {
        let rounding = 8.0 * (n_features as f64 + 2.0) * T::EPSILON.to_f64();
        Pruning {
            factor: T::from_f64(4.0 * (1.0 + rounding)),
        }
    }

    /// A test that never skips, for checking that skipping changes nothing.
    #[cfg(test)]
    fn never() -> Self {
        Pruning {
            factor: T::INFINITY,
        }
    }

    /// Whether a centroid at squared distance `centroid_gap` from the point's
    /// nearest centroid is provably no closer than `closest` (squared).
    #[inline(always)]
    fn is_far(&self, centroid_gap: T, closest: T) -> bool {
        centroid_gap > self.factor * closest
    }
}

/// The centroid chosen at the previous step, not yet folded into `closest`.
struct Pending<T> {
    values: Vec<T>,
    label: u32,
    /// Squared distance from each chosen centroid to this one.
    gaps: Vec<T>,
}

impl<T: Float> Pending<T> {
    fn new(data: MatrixView<'_, T>, chosen: &[usize]) -> Self {
        let row_idx = chosen[chosen.len() - 1];
        Pending {
            values: data.row(row_idx).to_vec(),
            label: (chosen.len() - 1) as u32,
            gaps: chosen
                .iter()
                .map(|&chosen_idx| squared_distance(data.row(chosen_idx), data.row(row_idx)))
                .collect(),
        }
    }

    /// `min(closest, D(x, pending)²)` and the label of the centroid at that
    /// distance: what the next pass folds in, and what the draw before it
    /// sums. When the pruning test skips the distance, the computed distance
    /// could not have been smaller, so skipping changes nothing.
    #[inline(always)]
    fn fold(&self, row: &[T], closest: T, nearest: u32, prune: &Pruning<T>) -> (T, u32) {
        if prune.is_far(self.gaps[nearest as usize], closest) {
            return (closest, nearest);
        }
        let distance = squared_distance(row, &self.values);
        if distance < closest {
            (distance, self.label)
        } else {
            (closest, nearest)
        }
    }
}

/// Draws a row with probability proportional to `min(closest, D(x, pending)²)`.
///
/// `chunk_potentials` holds the sum of exactly those values per chunk, so the
/// draw first walks the chunk sums and then recomputes the values of one
/// chunk only, adding them in the same order as the sums were made.
fn draw_proportional<T: Float>(
    data: MatrixView<'_, T>,
    closest: &[T],
    nearest: &[u32],
    chunk_potentials: &[f64],
    pending: Option<&Pending<T>>,
    prune: &Pruning<T>,
    rng: &mut StdRng,
) -> usize {
    let total: f64 = chunk_potentials.iter().sum();
    let target = rng.random::<f64>() * total;
    let mut before = 0.0;
    let mut chosen_chunk = None;
    for (chunk_idx, &potential) in chunk_potentials.iter().enumerate() {
        if potential > 0.0 {
            chosen_chunk = Some(chunk_idx);
            if before + potential > target {
                break;
            }
        }
        before += potential;
    }
    // Some chunk has a positive potential because the data has at least k
    // distinct rows; chunk 0 is only a fallback that keeps this total.
    let chunk_idx = chosen_chunk.unwrap_or(0);
    let chunk_start = chunk_idx * CHUNK_ROWS;
    let chunk_end = (chunk_start + CHUNK_ROWS).min(data.n_rows());
    let local_target = target - before;
    let mut running = 0.0;
    let mut last_positive = chunk_start;
    for row_idx in chunk_start..chunk_end {
        let value = match pending {
            Some(pending) => {
                pending
                    .fold(data.row(row_idx), closest[row_idx], nearest[row_idx], prune)
                    .0
            }
            None => closest[row_idx],
        };
        if value > T::ZERO {
            last_positive = row_idx;
            running += value.to_f64();
            if running > local_target {
                return row_idx;
            }
        }
    }
    // Rounding pushed the target past the chunk's end.
    last_positive
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Initialises `n_clusters` centroids on `points` (1-D) with `seed` and
    /// checks that, sorted, they are `expected`.
    fn check(points: &[f64], n_clusters: usize, seed: u64, expected: &[f64]) {
        let data = MatrixView::new(points, 1).expect("well formed");
        let mut rng = StdRng::seed_from_u64(seed);
        let mut centroids = greedy_kmeans_plus_plus(data, n_clusters, &mut rng);
        centroids.sort_by(f64::total_cmp);
        assert_eq!(
            centroids, expected,
            "points {points:?}, k = {n_clusters}, seed {seed}"
        );
    }

    #[test]
    fn picks_distinct_points() {
        // With as many distinct points as clusters, every point is chosen
        // once, whatever the seed, and duplicates never are.
        for seed in 0..20 {
            check(&[1.0, 2.0, 3.0], 3, seed, &[1.0, 2.0, 3.0]);
            check(&[5.0, 5.0, 5.0, 9.0, 9.0], 2, seed, &[5.0, 9.0]);
            check(&[4.0, 4.0], 1, seed, &[4.0]);
        }
    }

    /// Greedy k-means++ with triangle-inequality pruning picks exactly the
    /// centroids it picks without pruning.
    fn check_pruning_is_exact<T: Float>(points: &[T], n_clusters: usize, seed: u64, dtype: &str) {
        let data = MatrixView::new(points, 3).expect("well formed");
        let pruned = greedy_kmeans_plus_plus(data, n_clusters, &mut StdRng::seed_from_u64(seed));
        let full = greedy_with_pruning(
            data,
            n_clusters,
            &mut StdRng::seed_from_u64(seed),
            Pruning::never(),
        );
        assert_eq!(pruned, full, "{dtype}, k = {n_clusters}, seed {seed}");
    }

    #[test]
    fn pruning_changes_nothing() {
        // Blobs (where most distances are skipped) and uniform noise (where
        // few are), in both precisions.
        let mut rng = StdRng::seed_from_u64(3);
        let mut blobs = Vec::new();
        for row_idx in 0..20_000 {
            let centre = (row_idx % 6) as f64 * 10.0;
            blobs.extend((0..3).map(|_| centre + rng.random::<f64>()));
        }
        let noise: Vec<f64> = (0..20_000 * 3).map(|_| rng.random::<f64>()).collect();
        for (points, n_clusters) in [(&blobs, 6), (&noise, 9), (&blobs, 2)] {
            for seed in 0..3 {
                check_pruning_is_exact(&points[..], n_clusters, seed, "f64");
                let points_f32: Vec<f32> = points.iter().map(|&value| value as f32).collect();
                check_pruning_is_exact(&points_f32[..], n_clusters, seed, "f32");
            }
        }
    }

    #[test]
    fn covers_separated_groups() {
        // Three tight groups far apart: greedy k-means++ puts one centroid in
        // each, since a second centroid in one group leaves another group's
        // potential of about 10⁶ untouched.
        let mut points = Vec::new();
        for centre in [0.0, 1000.0, 2000.0] {
            for offset in 0..50 {
                points.push(centre + offset as f64 * 0.01);
            }
        }
        for seed in 0..20 {
            let data = MatrixView::new(&points[..], 1).expect("well formed");
            let mut rng = StdRng::seed_from_u64(seed);
            let centroids = greedy_kmeans_plus_plus(data, 3, &mut rng);
            let mut groups: Vec<i64> = centroids
                .iter()
                .map(|value| (value / 1000.0).round() as i64)
                .collect();
            groups.sort();
            assert_eq!(groups, vec![0, 1, 2], "seed {seed}: {centroids:?}");
        }
    }
}
