//! k-means clustering: split accounts into `k` groups of similar behaviour.
//!
//! # The method
//!
//! k-means looks for `k` centroids `c_1 … c_k` that minimise the *inertia*
//! `Σ_x min_j ‖x − c_j‖²`, the total squared distance from every point to its
//! nearest centroid. Finding the best centroids is NP-hard, so, like every
//! practical implementation, this one finds a good local minimum:
//!
//! 1. **Initialisation** with greedy k-means++ (see `init.rs`): centroids
//!    are spread out by drawing each new one with probability proportional to
//!    its squared distance from the centroids so far, keeping the best of
//!    `2 + ⌊ln k⌋` candidates.
//! 2. **Lloyd's iterations**: assign every point to its nearest centroid, move
//!    every centroid to the mean of its points, and repeat. Each iteration
//!    lowers the inertia, so the process converges. It stops when the total
//!    squared centroid shift falls below `tol × (mean variance of the
//!    features)` (scikit-learn's rule) or after `max_iter` iterations.
//!    The default [`KMeansAlgorithm::Hamerly`] keeps distance bounds per
//!    point and skips points that provably cannot change cluster; it gives
//!    the same centroids as plain [`KMeansAlgorithm::Lloyd`], usually several
//!    times faster (see `lloyd.rs`).
//! 3. **Restarts**: the result depends on the initial centroids, so the
//!    whole process runs `n_init` times from different seeds and keeps the
//!    lowest inertia.
//!
//! A cluster that loses all its points is re-seeded with the point farthest
//! from its own centroid, so a centroid is never undefined. Above
//! `minibatch_threshold` rows, step 1 runs on a sample and step 2 starts with
//! mini-batch steps (see `minibatch.rs`) before a few exact iterations polish
//! the result.
//!
//! Everything is deterministic: the same data, parameters and seed give the
//! same model, on any number of threads.
//!
//! # Example
//!
//! ```
//! use strata_ml::kmeans::KMeansParams;
//! use strata_ml::matrix::MatrixView;
//!
//! let points = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0];
//! let data = MatrixView::new(&points[..], 1).unwrap();
//! let model = KMeansParams::new(2).with_seed(42).check().unwrap().fit(data).unwrap();
//! let mut centroids = model.centroids().as_slice().to_vec();
//! centroids.sort_by(f64::total_cmp);
//! assert_eq!(centroids, vec![1.0, 11.0]);
//! assert_eq!(model.inertia(), 4.0);
//! assert_eq!(model.predict(MatrixView::new(&[0.5, 12.5][..], 1).unwrap()).unwrap(),
//!            vec![model.labels()[0], model.labels()[5]]);
//! ```
mod init;
mod lloyd;
mod minibatch;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::matrix::{CHUNK_ROWS, CentroidBlocks, DataError, Float, Matrix, MatrixView};

/// How the starting centroids are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KMeansInit {
    /// Greedy k-means++ (the default).
    KMeansPlusPlus,
    /// Given centroids, `k × n_features` values row-major. With this
    /// initialisation every restart would be the same, so `n_init` is
    /// ignored and the fit runs once.
    Precomputed(Vec<f64>),
}

/// Which exact iteration to run; both give the same result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KMeansAlgorithm {
    /// Lloyd's iterations accelerated with Hamerly's bounds (the default).
    Hamerly,
    /// Plain Lloyd: every distance, every iteration. Kept as the reference
    /// Hamerly is tested against.
    Lloyd,
}

/// k-means settings as the caller wrote them; [`KMeansParams::check`] turns
/// them into [`KMeansValidParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    n_clusters: usize,
    n_init: usize,
    max_iter: usize,
    tolerance: f64,
    seed: u64,
    init: KMeansInit,
    algorithm: KMeansAlgorithm,
    minibatch_threshold: Option<usize>,
    minibatch_batch_size: usize,
    minibatch_max_steps: usize,
    minibatch_final_max_iter: usize,
}

/// k-means settings that passed [`KMeansParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansValidParams(KMeansParams);

/// One problem with k-means settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KMeansParamsProblem {
    /// `k = 0`.
    #[error("the number of clusters k must be at least 1, got 0")]
    ZeroClusters,
    /// `n_init = 0`.
    #[error("n_init must be at least 1 (the number of restarts), got 0")]
    ZeroRestarts,
    /// `max_iter = 0`.
    #[error("max_iter must be at least 1, got 0")]
    ZeroMaxIter,
    /// Negative or non-finite tolerance.
    #[error("tol must be a finite number ≥ 0, got {0}")]
    InvalidTolerance(f64),
    /// Mini-batch size 0.
    #[error("the mini-batch size must be at least 1, got 0")]
    ZeroBatchSize,
    /// Precomputed centroids that are not whole rows for `k` clusters.
    #[error(
        "precomputed centroids have {n_values} values, which is not k = {n_clusters} whole rows"
    )]
    InitCentroidCount {
        /// Values given.
        n_values: usize,
        /// Clusters asked for.
        n_clusters: usize,
    },
    /// A precomputed centroid value is NaN or infinite.
    #[error("precomputed centroid value {value_idx} is {value}; centroids must be finite")]
    InitCentroidNotFinite {
        /// Position of the value in the buffer.
        value_idx: usize,
        /// The value.
        value: f64,
    },
}

/// Every problem found in k-means settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid k-means settings: {}", render_problems(.problems))]
pub struct KMeansParamsError {
    /// The problems, in the order the settings are checked.
    pub problems: Vec<KMeansParamsProblem>,
}

fn render_problems(problems: &[KMeansParamsProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What can go wrong while fitting or applying a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KMeansError {
    /// The data is empty, ragged, not finite or of the wrong width.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Fewer distinct points than clusters: some clusters would be empty.
    #[error("k = {n_clusters} but the data has only {n_distinct} distinct {}; choose k ≤ {n_distinct}", if *.n_distinct == 1 { "point" } else { "points" })]
    TooFewDistinctPoints {
        /// Clusters asked for.
        n_clusters: usize,
        /// Distinct rows in the data.
        n_distinct: usize,
    },
    /// Precomputed centroids do not have the data's number of features.
    #[error(
        "precomputed centroids have {n_values} values but k = {n_clusters} centroids of {n_features} features need {}",
        .n_clusters * .n_features
    )]
    InitCentroidShape {
        /// Values given.
        n_values: usize,
        /// Clusters asked for.
        n_clusters: usize,
        /// Features of the data.
        n_features: usize,
    },
}

impl KMeansParams {
    /// Settings for `n_clusters` clusters with the defaults: 3 restarts,
    /// `max_iter` 300, `tol` 1e-4, seed 0, greedy k-means++, Hamerly, and
    /// mini-batch above 200,000 rows (batches of 4,096, at most 500 steps,
    /// then at most 10 exact iterations).
    pub fn new(n_clusters: usize) -> Self {
        KMeansParams {
            n_clusters,
            n_init: 3,
            max_iter: 300,
            tolerance: 1e-4,
            seed: 0,
            init: KMeansInit::KMeansPlusPlus,
            algorithm: KMeansAlgorithm::Hamerly,
            minibatch_threshold: Some(200_000),
            minibatch_batch_size: 4_096,
            minibatch_max_steps: 500,
            minibatch_final_max_iter: 10,
        }
    }

    /// Sets the number of clusters.
    pub fn with_n_clusters(mut self, n_clusters: usize) -> Self {
        self.n_clusters = n_clusters;
        self
    }

    /// Sets how many times the whole fit runs from different seeds; the run
    /// with the lowest inertia wins.
    pub fn with_n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }

    /// Sets the maximum number of exact iterations per run.
    pub fn with_max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Sets the relative tolerance: iterations stop when the total squared
    /// centroid shift is at most `tolerance × mean feature variance`.
    pub fn with_tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Sets the seed of every random choice.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the initialisation.
    pub fn with_init(mut self, init: KMeansInit) -> Self {
        self.init = init;
        self
    }

    /// The initialisation.
    pub fn init(&self) -> &KMeansInit {
        &self.init
    }

    /// Sets the exact iteration (Hamerly or plain Lloyd).
    pub fn with_algorithm(mut self, algorithm: KMeansAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sets the number of rows above which mini-batch k-means runs first;
    /// `None` never uses mini-batch.
    pub fn with_minibatch_threshold(mut self, threshold: Option<usize>) -> Self {
        self.minibatch_threshold = threshold;
        self
    }

    /// Sets the rows per mini-batch.
    pub fn with_minibatch_batch_size(mut self, batch_size: usize) -> Self {
        self.minibatch_batch_size = batch_size;
        self
    }

    /// Sets the maximum number of mini-batch steps.
    pub fn with_minibatch_max_steps(mut self, max_steps: usize) -> Self {
        self.minibatch_max_steps = max_steps;
        self
    }

    /// Sets the maximum number of exact iterations after mini-batch.
    pub fn with_minibatch_final_max_iter(mut self, max_iter: usize) -> Self {
        self.minibatch_final_max_iter = max_iter;
        self
    }

    /// Checks the settings, reporting every problem at once.
    pub fn check(self) -> Result<KMeansValidParams, KMeansParamsError> {
        let mut problems = Vec::new();
        if self.n_clusters == 0 {
            problems.push(KMeansParamsProblem::ZeroClusters);
        }
        if self.n_init == 0 {
            problems.push(KMeansParamsProblem::ZeroRestarts);
        }
        if self.max_iter == 0 || self.minibatch_final_max_iter == 0 {
            problems.push(KMeansParamsProblem::ZeroMaxIter);
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            problems.push(KMeansParamsProblem::InvalidTolerance(self.tolerance));
        }
        if self.minibatch_batch_size == 0 {
            problems.push(KMeansParamsProblem::ZeroBatchSize);
        }
        if let KMeansInit::Precomputed(values) = &self.init {
            if self.n_clusters > 0 && (values.is_empty() || values.len() % self.n_clusters != 0) {
                problems.push(KMeansParamsProblem::InitCentroidCount {
                    n_values: values.len(),
                    n_clusters: self.n_clusters,
                });
            }
            if let Some(value_idx) = values.iter().position(|value| !value.is_finite()) {
                problems.push(KMeansParamsProblem::InitCentroidNotFinite {
                    value_idx,
                    value: values[value_idx],
                });
            }
        }
        if problems.is_empty() {
            Ok(KMeansValidParams(self))
        } else {
            Err(KMeansParamsError { problems })
        }
    }
}

/// A fitted k-means model: centroids, and how well they fit the training
/// data. Serializable, so a clustering can be stored and applied to new rows
/// later (together with its [`Transform`](crate::preprocess::Transform)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct KMeansModel<T> {
    centroids: Matrix<T>,
    inertia: f64,
    n_iter: usize,
    n_minibatch_steps: usize,
    is_converged: bool,
    cluster_sizes: Vec<usize>,
    /// Training labels are not serialized: a stored model is for assigning
    /// new rows, and the labels would dwarf the centroids.
    #[serde(skip)]
    labels: Vec<usize>,
}

impl<T: Float> KMeansModel<T> {
    /// The centroids, one row per cluster.
    pub fn centroids(&self) -> &Matrix<T> {
        &self.centroids
    }

    /// Number of clusters.
    pub fn n_clusters(&self) -> usize {
        self.centroids.n_rows()
    }

    /// Number of features the model was fit on.
    pub fn n_features(&self) -> usize {
        self.centroids.n_features()
    }

    /// Sum of squared distances from each training row to its centroid.
    pub fn inertia(&self) -> f64 {
        self.inertia
    }

    /// Exact iterations of the winning run (after mini-batch, if used).
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// Mini-batch steps of the winning run; 0 when mini-batch was not used.
    pub fn n_minibatch_steps(&self) -> usize {
        self.n_minibatch_steps
    }

    /// Whether the winning run stopped on the tolerance rather than on
    /// `max_iter`.
    pub fn is_converged(&self) -> bool {
        self.is_converged
    }

    /// Number of training rows in each cluster.
    pub fn cluster_sizes(&self) -> &[usize] {
        &self.cluster_sizes
    }

    /// The cluster of every training row. Empty for a model read back from
    /// JSON; call [`KMeansModel::predict`] on the data instead.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The nearest centroid of every row of `data`, in parallel. Ties go to
    /// the lower cluster index.
    pub fn predict(&self, data: MatrixView<'_, T>) -> Result<Vec<usize>, KMeansError> {
        nearest_centroids(self.centroids.view(), data)
    }

    /// The nearest centroid of one row.
    pub fn predict_row(&self, row: &[T]) -> Result<usize, KMeansError> {
        let data = MatrixView::new(row, row.len().max(1))?;
        self.check_width(row.len())?;
        data.check_finite()?;
        Ok(
            CentroidBlocks::new(self.centroids.as_slice(), self.n_features())
                .nearest_two(row)
                .0,
        )
    }

    fn check_width(&self, n_features: usize) -> Result<(), KMeansError> {
        if n_features != self.n_features() {
            return Err(DataError::FeatureCount {
                expected: self.n_features(),
                found: n_features,
            }
            .into());
        }
        Ok(())
    }
}

impl KMeansValidParams {
    /// Number of clusters.
    pub fn n_clusters(&self) -> usize {
        self.0.n_clusters
    }

    /// Number of restarts.
    pub fn n_init(&self) -> usize {
        self.0.n_init
    }

    /// Maximum number of exact iterations.
    pub fn max_iter(&self) -> usize {
        self.0.max_iter
    }

    /// Relative tolerance.
    pub fn tolerance(&self) -> f64 {
        self.0.tolerance
    }

    /// Seed.
    pub fn seed(&self) -> u64 {
        self.0.seed
    }

    /// Initialisation.
    pub fn init(&self) -> &KMeansInit {
        &self.0.init
    }

    /// Exact iteration.
    pub fn algorithm(&self) -> KMeansAlgorithm {
        self.0.algorithm
    }

    /// Rows above which mini-batch runs first.
    pub fn minibatch_threshold(&self) -> Option<usize> {
        self.0.minibatch_threshold
    }

    /// Back to editable settings.
    pub fn into_params(self) -> KMeansParams {
        self.0
    }

    /// Fits k-means to `data`, one row per point.
    ///
    /// Fails on empty data, NaN or infinite values, fewer distinct rows than
    /// clusters, and precomputed centroids of the wrong width.
    pub fn fit<T: Float>(&self, data: MatrixView<'_, T>) -> Result<KMeansModel<T>, KMeansError> {
        let params = &self.0;
        let n_rows = data.n_rows();
        let n_features = data.n_features();
        let n_clusters = params.n_clusters;
        if n_rows == 0 {
            return Err(DataError::Empty.into());
        }
        let mean_variance = mean_feature_variance(data)?;
        let n_distinct = count_distinct_rows_up_to(data, n_clusters);
        if n_distinct < n_clusters {
            return Err(KMeansError::TooFewDistinctPoints {
                n_clusters,
                n_distinct,
            });
        }
        let precomputed: Option<Vec<T>> = match &params.init {
            KMeansInit::KMeansPlusPlus => None,
            KMeansInit::Precomputed(values) => {
                if values.len() != n_clusters * n_features {
                    return Err(KMeansError::InitCentroidShape {
                        n_values: values.len(),
                        n_clusters,
                        n_features,
                    });
                }
                Some(values.iter().map(|&value| T::from_f64(value)).collect())
            }
        };
        let tolerance = params.tolerance * mean_variance;
        let uses_minibatch = params
            .minibatch_threshold
            .is_some_and(|threshold| n_rows > threshold);
        let n_runs = if precomputed.is_some() {
            1
        } else {
            params.n_init
        };

        let mut seeds = StdRng::seed_from_u64(params.seed);
        let mut best: Option<(lloyd::ExactOutcome<T>, usize)> = None;
        for _ in 0..n_runs {
            let mut rng = StdRng::seed_from_u64(seeds.random::<u64>());
            let (outcome, n_minibatch_steps) = if uses_minibatch {
                let start = match &precomputed {
                    Some(centroids) => centroids.clone(),
                    None => self.minibatch_start(data, &mut rng),
                };
                let (centroids, n_steps) = minibatch::run_minibatch(
                    data,
                    start,
                    params.minibatch_batch_size,
                    params.minibatch_max_steps,
                    tolerance,
                    &mut rng,
                );
                let outcome = lloyd::run_exact(
                    data,
                    centroids,
                    params.minibatch_final_max_iter,
                    tolerance,
                    params.algorithm,
                );
                (outcome, n_steps)
            } else {
                let start = match &precomputed {
                    Some(centroids) => centroids.clone(),
                    None => init::greedy_kmeans_plus_plus(data, n_clusters, &mut rng),
                };
                (
                    lloyd::run_exact(data, start, params.max_iter, tolerance, params.algorithm),
                    0,
                )
            };
            if best
                .as_ref()
                .is_none_or(|(best_outcome, _)| outcome.inertia < best_outcome.inertia)
            {
                best = Some((outcome, n_minibatch_steps));
            }
        }
        let Some((outcome, n_minibatch_steps)) = best else {
            // n_runs ≥ 1 is guaranteed by `check`.
            return Err(DataError::Empty.into());
        };
        let mut cluster_sizes = vec![0; n_clusters];
        for &label in &outcome.labels {
            cluster_sizes[label as usize] += 1;
        }
        Ok(KMeansModel {
            centroids: Matrix::from_vec(outcome.centroids, n_features)?,
            inertia: outcome.inertia,
            n_iter: outcome.n_iter,
            n_minibatch_steps,
            is_converged: outcome.converged,
            cluster_sizes,
            labels: outcome
                .labels
                .into_iter()
                .map(|label| label as usize)
                .collect(),
        })
    }

    /// Greedy k-means++ on a random sample of `3 × batch_size` rows (at least
    /// `10 k`), as scikit-learn's `MiniBatchKMeans` does; on the whole data
    /// when the sample has fewer distinct rows than clusters.
    fn minibatch_start<T: Float>(&self, data: MatrixView<'_, T>, rng: &mut StdRng) -> Vec<T> {
        let params = &self.0;
        let n_sample = (3 * params.minibatch_batch_size)
            .max(10 * params.n_clusters)
            .min(data.n_rows());
        let sample_indices: Vec<usize> = (0..n_sample)
            .map(|_| rng.random_range(0..data.n_rows()))
            .collect();
        let sample = data.select_rows(&sample_indices);
        if count_distinct_rows_up_to(sample.view(), params.n_clusters) < params.n_clusters {
            return init::greedy_kmeans_plus_plus(data, params.n_clusters, rng);
        }
        init::greedy_kmeans_plus_plus(sample.view(), params.n_clusters, rng)
    }
}

/// Mean over features of the population variance, failing on the first
/// value that is NaN or infinite.
///
/// Each chunk sums `x − s` and `(x − s)²` in `f64` in a single read, where
/// the shift `s` is the chunk's first row; shifting by a nearby value keeps
/// the subtraction `Σ(x − s)² − (Σ(x − s))²/n` from cancelling. Chunks are
/// merged in order with Chan's formula.
fn mean_feature_variance<T: Float>(data: MatrixView<'_, T>) -> Result<f64, DataError> {
    let n_features = data.n_features();
    // Per chunk: rows, means and centred sums of squares, or the offset of
    // the first value that is not finite.
    type ChunkMoments = Result<(f64, Vec<f64>, Vec<f64>), usize>;
    let partials: Vec<ChunkMoments> = data
        .as_slice()
        .par_chunks(CHUNK_ROWS * n_features)
        .map(|chunk| {
            let n_chunk_rows = (chunk.len() / n_features) as f64;
            let shift: Vec<f64> = chunk[..n_features]
                .iter()
                .map(|value| value.to_f64())
                .collect();
            let mut sums = vec![0.0; n_features];
            let mut squares = vec![0.0; n_features];
            for row in chunk.chunks_exact(n_features) {
                for (((sum, square), shift), value) in
                    sums.iter_mut().zip(squares.iter_mut()).zip(&shift).zip(row)
                {
                    let centred = value.to_f64() - shift;
                    *sum += centred;
                    *square += centred * centred;
                }
            }
            // A NaN or infinity makes its feature's sum non-finite; values so
            // large that their squares overflow do too, but they are finite
            // and pass.
            if squares.iter().any(|square| !square.is_finite())
                && let Some(offset) = chunk.iter().position(|value| !value.is_finite())
            {
                return Err(offset);
            }
            let means = sums
                .iter()
                .zip(&shift)
                .map(|(sum, shift)| shift + sum / n_chunk_rows)
                .collect();
            let centred_squares = squares
                .iter()
                .zip(&sums)
                .map(|(square, sum)| square - sum * sum / n_chunk_rows)
                .collect();
            Ok((n_chunk_rows, means, centred_squares))
        })
        .collect();
    let mut n_seen = 0.0;
    let mut means = vec![0.0; n_features];
    let mut squares = vec![0.0; n_features];
    for (chunk_idx, partial) in partials.into_iter().enumerate() {
        let (n_chunk_rows, chunk_means, chunk_squares) = partial.map_err(|offset| {
            let value_idx = chunk_idx * CHUNK_ROWS * n_features + offset;
            DataError::NotFinite {
                row: value_idx / n_features,
                feature: value_idx % n_features,
                value: data.as_slice()[value_idx].to_f64(),
            }
        })?;
        let n_total = n_seen + n_chunk_rows;
        for feature_idx in 0..n_features {
            let delta = chunk_means[feature_idx] - means[feature_idx];
            means[feature_idx] += delta * n_chunk_rows / n_total;
            squares[feature_idx] +=
                chunk_squares[feature_idx] + delta * delta * n_seen * n_chunk_rows / n_total;
        }
        n_seen = n_total;
    }
    Ok(squares
        .iter()
        .map(|square| square.max(0.0) / n_seen)
        .sum::<f64>()
        / n_features as f64)
}

/// The number of distinct rows, counting no further than `limit`.
///
/// Stopping at `limit` keeps this cheap: on real data the first `k` rows
/// are usually distinct and the scan ends there. Rows compare by value, so
/// `-0.0` and `0.0` are the same point.
pub(crate) fn count_distinct_rows_up_to<T: Float>(data: MatrixView<'_, T>, limit: usize) -> usize {
    let mut distinct: Vec<&[T]> = Vec::with_capacity(limit);
    for row in data.rows() {
        if distinct.len() >= limit {
            break;
        }
        if !distinct.contains(&row) {
            distinct.push(row);
        }
    }
    distinct.len()
}

/// The nearest of `centroids` for every row of `data`, in parallel; ties go
/// to the lower centroid index. This is [`KMeansModel::predict`] for
/// centroids stored elsewhere (a frozen clustering, say).
pub fn nearest_centroids<T: Float>(
    centroids: MatrixView<'_, T>,
    data: MatrixView<'_, T>,
) -> Result<Vec<usize>, KMeansError> {
    if data.n_features() != centroids.n_features() {
        return Err(DataError::FeatureCount {
            expected: centroids.n_features(),
            found: data.n_features(),
        }
        .into());
    }
    data.check_finite()?;
    let blocks = CentroidBlocks::new(centroids.as_slice(), centroids.n_features());
    Ok(data
        .as_slice()
        .par_chunks(CHUNK_ROWS * data.n_features())
        .flat_map_iter(|chunk| {
            chunk
                .chunks_exact(data.n_features())
                .map(|row| blocks.nearest_two(row).0)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Normal};

    /// Gaussian blobs: `n_per_blob` points around each centre with standard
    /// deviation `spread`, blob after blob, and the blob of every point.
    fn blobs(
        centres: &[&[f64]],
        n_per_blob: usize,
        spread: f64,
        seed: u64,
    ) -> (Vec<f64>, Vec<usize>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let noise = Normal::new(0.0, spread).expect("valid spread");
        let mut points = Vec::new();
        let mut truth = Vec::new();
        for (blob_idx, centre) in centres.iter().enumerate() {
            for _ in 0..n_per_blob {
                points.extend(centre.iter().map(|value| value + noise.sample(&mut rng)));
                truth.push(blob_idx);
            }
        }
        (points, truth)
    }

    /// Uniform random points in the unit cube: no structure, so k-means needs
    /// many iterations and every Hamerly bound gets exercised.
    fn uniform(n_rows: usize, n_features: usize, seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n_rows * n_features)
            .map(|_| rng.random::<f64>())
            .collect()
    }

    fn fit(
        points: &[f64],
        n_features: usize,
        params: KMeansParams,
    ) -> Result<KMeansModel<f64>, String> {
        let data = MatrixView::new(points, n_features).map_err(|error| error.to_string())?;
        let valid = params.check().map_err(|error| error.to_string())?;
        valid.fit(data).map_err(|error| error.to_string())
    }

    /// Fits `params` to `points` and checks, up to a relabelling of the
    /// clusters, the labels and centroids (sorted by first coordinate) and the
    /// inertia, or the error message.
    fn check(
        points: &[f64],
        n_features: usize,
        params: KMeansParams,
        expected: Result<(&[usize], &[f64], f64), &str>,
    ) {
        let outcome = fit(points, n_features, params.clone());
        match (outcome, expected) {
            (Ok(model), Ok((labels, centroids, inertia))) => {
                // Renumber clusters by order of first appearance in the labels.
                let mut renumber = vec![usize::MAX; model.n_clusters()];
                let mut next = 0;
                for &label in model.labels() {
                    if renumber[label] == usize::MAX {
                        renumber[label] = next;
                        next += 1;
                    }
                }
                let got_labels: Vec<usize> = model
                    .labels()
                    .iter()
                    .map(|&label| renumber[label])
                    .collect();
                assert_eq!(got_labels, labels, "labels for {params:?}");
                let mut got_centroids: Vec<&[f64]> = model.centroids().view().rows().collect();
                got_centroids.sort_by(|left, right| left[0].total_cmp(&right[0]));
                let got_centroids: Vec<f64> = got_centroids.concat();
                assert_eq!(got_centroids.len(), centroids.len());
                for (got, want) in got_centroids.iter().zip(centroids) {
                    assert!(
                        (got - want).abs() < 1e-12,
                        "centroids {got_centroids:?}, expected {centroids:?}"
                    );
                }
                assert!(
                    (model.inertia() - inertia).abs() < 1e-9,
                    "inertia {}",
                    model.inertia()
                );
                let sizes: usize = model.cluster_sizes().iter().sum();
                assert_eq!(sizes, points.len() / n_features);
            }
            (Err(message), Err(expected_message)) => assert_eq!(message, expected_message),
            (outcome, expected) => panic!("{params:?}: got {outcome:?}, expected {expected:?}"),
        }
    }

    const LINE: [f64; 6] = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0];
    const SQUARES: [f64; 16] = [
        -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 9.0, 9.0, 9.0, 11.0, 11.0, 9.0, 11.0, 11.0,
    ];

    #[test]
    fn small_cases_by_hand() {
        let k = KMeansParams::new;
        let precomputed = |values: &[f64]| KMeansInit::Precomputed(values.to_vec());
        // 0,1,2 | 10,11,12: centroids 1 and 11, inertia 1 + 0 + 1 + 1 + 0 + 1 = 4.
        check(&LINE, 1, k(2), Ok((&[0, 0, 0, 1, 1, 1], &[1.0, 11.0], 4.0)));
        check(
            &LINE,
            1,
            k(2).with_algorithm(KMeansAlgorithm::Lloyd),
            Ok((&[0, 0, 0, 1, 1, 1], &[1.0, 11.0], 4.0)),
        );
        check(
            &LINE,
            1,
            k(2).with_seed(99).with_n_init(1),
            Ok((&[0, 0, 0, 1, 1, 1], &[1.0, 11.0], 4.0)),
        );
        // k = 1: the mean, 6, and Σ (x − 6)² = 36 + 25 + 16 + 16 + 25 + 36.
        check(&LINE, 1, k(1), Ok((&[0, 0, 0, 0, 0, 0], &[6.0], 154.0)));
        // k = n: every point its own cluster, inertia 0.
        check(&LINE, 1, k(6), Ok((&[0, 1, 2, 3, 4, 5], &LINE, 0.0)));
        // Two obvious blobs: four corners around (0,0) and four around (10,10),
        // each at squared distance 2 from its centre.
        check(
            &SQUARES,
            2,
            k(2),
            Ok((&[0, 0, 0, 0, 1, 1, 1, 1], &[0.0, 0.0, 10.0, 10.0], 16.0)),
        );
        // Empty-cluster recovery: centroid 1 starts far away and owns nothing;
        // it is re-seeded with 12, the point farthest from centroid 0 at 5.
        check(
            &LINE,
            1,
            k(2).with_init(precomputed(&[5.0, 1000.0])),
            Ok((&[0, 0, 0, 1, 1, 1], &[1.0, 11.0], 4.0)),
        );
        // Two centroids start on the same spot: one of them is left empty.
        check(
            &LINE,
            1,
            k(2).with_init(precomputed(&[1.0, 1.0])),
            Ok((&[0, 0, 0, 1, 1, 1], &[1.0, 11.0], 4.0)),
        );
        // Identical points.
        check(
            &[3.0, 4.0, 3.0, 4.0, 3.0, 4.0],
            2,
            k(1),
            Ok((&[0, 0, 0], &[3.0, 4.0], 0.0)),
        );
        // Duplicates are fine as long as there are k distinct points.
        check(
            &[2.0, 2.0, 2.0, 7.0, 7.0],
            1,
            k(2),
            Ok((&[0, 0, 0, 1, 1], &[2.0, 7.0], 0.0)),
        );
    }

    #[test]
    fn errors() {
        let k = KMeansParams::new;
        check(
            &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0],
            1,
            k(5),
            Err("k = 5 but the data has only 3 distinct points; choose k ≤ 3"),
        );
        check(
            &[4.0, 4.0],
            1,
            k(2),
            Err("k = 2 but the data has only 1 distinct point; choose k ≤ 1"),
        );
        check(
            &[],
            2,
            k(2),
            Err("data has no rows; clustering needs at least one row"),
        );
        check(
            &[1.0, 2.0, 3.0],
            2,
            k(1),
            Err(
                "data has 3 values, which is not a whole number of rows of 2 features; check the number of features",
            ),
        );
        check(
            &[1.0, f64::NAN, 3.0, 4.0],
            2,
            k(1),
            Err(
                "row 0, feature 1 is NaN; clustering needs finite numbers, so impute or drop NaN and infinite values first",
            ),
        );
        check(
            &[1.0, 2.0, 3.0, f64::NEG_INFINITY],
            1,
            k(1),
            Err(
                "row 3, feature 0 is -inf; clustering needs finite numbers, so impute or drop NaN and infinite values first",
            ),
        );
        check(
            &LINE,
            1,
            k(0),
            Err("invalid k-means settings: the number of clusters k must be at least 1, got 0"),
        );
        check(
            &LINE,
            1,
            k(2).with_n_init(0)
                .with_max_iter(0)
                .with_tolerance(-1.0)
                .with_minibatch_batch_size(0),
            Err(
                "invalid k-means settings: n_init must be at least 1 (the number of restarts), got 0; max_iter must be at least 1, got 0; tol must be a finite number ≥ 0, got -1; the mini-batch size must be at least 1, got 0",
            ),
        );
        check(
            &LINE,
            1,
            k(2).with_init(KMeansInit::Precomputed(vec![1.0, 2.0, f64::NAN])),
            Err(
                "invalid k-means settings: precomputed centroids have 3 values, which is not k = 2 whole rows; precomputed centroid value 2 is NaN; centroids must be finite",
            ),
        );
        check(
            &SQUARES,
            2,
            k(2).with_init(KMeansInit::Precomputed(vec![1.0, 2.0])),
            Err("precomputed centroids have 2 values but k = 2 centroids of 2 features need 4"),
        );
    }

    #[test]
    fn predict_checks_its_input() {
        let model = fit(&SQUARES, 2, KMeansParams::new(2)).expect("fits");
        let own = model.labels()[0];
        let other = model.labels()[7];
        type Case<'a> = (&'a [f64], usize, Result<Vec<usize>, &'a str>);
        let cases: [Case; 4] = [
            (
                &[0.5, 0.5, 12.0, 12.0, 4.0, 4.0],
                2,
                Ok(vec![own, other, own]),
            ),
            (
                &[0.5, 0.5, 12.0],
                3,
                Err("expected 2 features per row but the data has 3"),
            ),
            (
                &[0.5, f64::NAN],
                2,
                Err(
                    "row 0, feature 1 is NaN; clustering needs finite numbers, so impute or drop NaN and infinite values first",
                ),
            ),
            (&[], 2, Ok(vec![])),
        ];
        for (points, n_features, expected) in cases {
            let outcome = MatrixView::new(points, n_features)
                .map_err(KMeansError::from)
                .and_then(|data| model.predict(data))
                .map_err(|error| error.to_string());
            assert_eq!(outcome, expected.map_err(str::to_string), "{points:?}");
        }
        assert_eq!(model.predict_row(&[11.0, 9.5]), Ok(other));
    }

    #[test]
    fn hamerly_equals_lloyd() {
        // Structureless data takes many iterations, so the bounds are updated
        // and used many times; 2 chunks exercise the chunked reductions.
        for (n_rows, n_features, n_clusters, seed) in [
            (9_000, 4, 8, 1),
            (9_000, 3, 12, 2),
            (2_000, 16, 5, 3),
            (500, 2, 3, 4),
        ] {
            let points = uniform(n_rows, n_features, seed);
            let params = KMeansParams::new(n_clusters)
                .with_seed(seed)
                .with_n_init(1)
                .with_tolerance(0.0);
            let lloyd = fit(
                &points,
                n_features,
                params.clone().with_algorithm(KMeansAlgorithm::Lloyd),
            )
            .expect("fits");
            let hamerly = fit(&points, n_features, params).expect("fits");
            assert_eq!(lloyd.labels(), hamerly.labels(), "labels, case {seed}");
            assert_eq!(lloyd.n_iter(), hamerly.n_iter(), "iterations, case {seed}");
            assert!(lloyd.n_iter() > 5, "case {seed} should iterate");
            for (left, right) in lloyd
                .centroids()
                .as_slice()
                .iter()
                .zip(hamerly.centroids().as_slice())
            {
                assert!((left - right).abs() < 1e-9, "centroids, case {seed}");
            }
            assert!((lloyd.inertia() - hamerly.inertia()).abs() <= 1e-9 * lloyd.inertia());
        }
    }

    #[test]
    fn thread_count_does_not_change_the_result() {
        let points = uniform(12_000, 3, 5);
        let data = MatrixView::new(&points[..], 3).expect("well formed");
        for params in [
            KMeansParams::new(6).with_seed(3).with_n_init(2),
            KMeansParams::new(6)
                .with_seed(3)
                .with_n_init(1)
                .with_algorithm(KMeansAlgorithm::Lloyd),
            KMeansParams::new(6)
                .with_seed(3)
                .with_n_init(1)
                .with_minibatch_threshold(Some(5_000))
                .with_minibatch_batch_size(2_500),
        ] {
            let valid = params.check().expect("valid");
            let models: Vec<KMeansModel<f64>> = [1, 2]
                .into_iter()
                .map(|n_threads| {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(n_threads)
                        .build()
                        .expect("pool");
                    pool.install(|| valid.fit(data)).expect("fits")
                })
                .collect();
            assert_eq!(models[0], models[1], "{valid:?}");
            assert_eq!(models[0].labels(), models[1].labels());
        }
    }

    #[test]
    fn same_seed_same_model_and_restarts_keep_the_best() {
        let points = uniform(2_000, 2, 9);
        let single: Vec<f64> = (0..5)
            .map(|seed| {
                fit(
                    &points,
                    2,
                    KMeansParams::new(7).with_seed(seed).with_n_init(1),
                )
                .expect("fits")
                .inertia()
            })
            .collect();
        let again =
            fit(&points, 2, KMeansParams::new(7).with_seed(2).with_n_init(1)).expect("fits");
        assert_eq!(again.inertia(), single[2]);
        // Five restarts from seed 0 are at least as good as one.
        let restarts =
            fit(&points, 2, KMeansParams::new(7).with_seed(0).with_n_init(5)).expect("fits");
        let one = fit(&points, 2, KMeansParams::new(7).with_seed(0).with_n_init(1)).expect("fits");
        assert!(restarts.inertia() <= one.inertia());
    }

    #[test]
    fn blobs_are_recovered_in_both_precisions() {
        let centres: [&[f64]; 3] = [&[0.0, 0.0, 0.0], &[20.0, 0.0, 5.0], &[0.0, 20.0, -5.0]];
        let (points, truth) = blobs(&centres, 300, 1.0, 11);
        let points_f32: Vec<f32> = points.iter().map(|&value| value as f32).collect();
        let valid = KMeansParams::new(3).with_seed(1).check().expect("valid");
        let model_f64 = valid
            .fit(MatrixView::new(&points[..], 3).expect("well formed"))
            .expect("fits");
        let model_f32 = valid
            .fit(MatrixView::new(&points_f32[..], 3).expect("well formed"))
            .expect("fits");
        assert_eq!(model_f64.labels(), model_f32.labels());
        for (left, right) in model_f64
            .centroids()
            .as_slice()
            .iter()
            .zip(model_f32.centroids().as_slice())
        {
            assert!((left - f64::from(*right)).abs() < 1e-4, "{left} vs {right}");
        }
        assert!((model_f64.inertia() - model_f32.inertia()).abs() < 1e-5 * model_f64.inertia());
        // The blobs themselves are found: each blob is one cluster.
        for blob_idx in 0..3 {
            let labels: Vec<usize> = (0..truth.len())
                .filter(|&idx| truth[idx] == blob_idx)
                .map(|idx| model_f64.labels()[idx])
                .collect();
            assert!(
                labels.iter().all(|&label| label == labels[0]),
                "blob {blob_idx}"
            );
        }
    }

    #[test]
    fn minibatch_then_exact_is_within_one_percent() {
        let centres: [&[f64]; 5] = [
            &[0.0, 0.0, 0.0, 0.0],
            &[6.0, 0.0, 0.0, 2.0],
            &[0.0, 6.0, 0.0, -2.0],
            &[0.0, 0.0, 6.0, 0.0],
            &[6.0, 6.0, 6.0, 6.0],
        ];
        let (points, _) = blobs(&centres, 6_000, 1.5, 21);
        let full = fit(
            &points,
            4,
            KMeansParams::new(5)
                .with_seed(4)
                .with_minibatch_threshold(None),
        )
        .expect("fits");
        let minibatch = fit(
            &points,
            4,
            KMeansParams::new(5)
                .with_seed(4)
                .with_minibatch_threshold(Some(10_000))
                .with_minibatch_batch_size(1_000),
        )
        .expect("fits");
        assert!(minibatch.n_minibatch_steps() > 0);
        assert_eq!(full.n_minibatch_steps(), 0);
        assert!(
            minibatch.inertia() <= full.inertia() * 1.01,
            "{} vs {}",
            minibatch.inertia(),
            full.inertia()
        );
    }

    #[test]
    fn serde_round_trip_keeps_everything_but_the_labels() {
        let model = fit(&SQUARES, 2, KMeansParams::new(2)).expect("fits");
        let json = serde_json::to_string(&model).expect("serializes");
        let back: KMeansModel<f64> = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back.centroids(), model.centroids());
        assert_eq!(back.inertia(), model.inertia());
        assert_eq!(back.cluster_sizes(), model.cluster_sizes());
        assert!(back.labels().is_empty());
        assert_eq!(
            back.predict(MatrixView::new(&SQUARES[..], 2).expect("well formed"))
                .expect("predicts"),
            model.labels()
        );
        // A hand-edited file with ragged centroids is rejected.
        let ragged = json.replace("\"n_features\":2", "\"n_features\":3");
        assert!(serde_json::from_str::<KMeansModel<f64>>(&ragged).is_err());
    }
}
