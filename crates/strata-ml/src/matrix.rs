//! Dense row-major matrices of `f32` or `f64`, and the [`Float`] trait that
//! lets every algorithm in `ml` run in either precision.
//!
//! strata keeps no ndarray dependency: a data set is one contiguous `Vec` of
//! values, row after row, plus the number of features per row. [`Matrix`]
//! owns such a buffer and [`MatrixView`] borrows one; both check once, when
//! they are built, that the buffer holds whole rows, so the algorithms never
//! have to. The hot loops of k-means live here too: [`squared_distance`] for
//! one pair of rows and `CentroidBlocks` for one row against many centroids,
//! written so that the compiler vectorises them without `unsafe` or platform
//! intrinsics, and so that both round identically.
use std::fmt::{Debug, Display};
use std::ops::{Add, AddAssign, Div, Mul, Sub, SubAssign};

use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Rows per work unit when an algorithm walks a matrix in parallel.
///
/// The chunk size never depends on the number of threads: every reduction
/// adds per-chunk partial results in chunk order, so results are identical
/// whatever the size of the rayon pool. 8,192 rows of 16 `f32` features are
/// 512 KiB, which stays in a core's L2 cache while a chunk is processed.
pub(crate) const CHUNK_ROWS: usize = 8_192;

/// A floating-point element type: `f32` for speed and half the memory
/// traffic, or `f64` for precision.
///
/// Distances are accumulated in `Self`; sums over many rows (centroid sums,
/// inertia, potentials) are always accumulated in `f64`.
pub trait Float:
    Copy
    + Send
    + Sync
    + Default
    + PartialOrd
    + Debug
    + Display
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + AddAssign
    + SubAssign
    + Serialize
    + DeserializeOwned
    + 'static
{
    /// Zero.
    const ZERO: Self;
    /// Positive infinity, the distance to "no centroid yet".
    const INFINITY: Self;
    /// The machine epsilon of the type.
    const EPSILON: Self;
    /// `"f32"` or `"f64"`, for messages and benchmark tables.
    const NAME: &'static str;
    /// Converts from `f64`, rounding to nearest for `f32`.
    fn from_f64(value: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// The square root.
    fn sqrt(self) -> Self;
    /// Whether the value is neither NaN nor infinite.
    fn is_finite(self) -> bool;
}

impl Float for f32 {
    const ZERO: Self = 0.0;
    const INFINITY: Self = f32::INFINITY;
    const EPSILON: Self = f32::EPSILON;
    const NAME: &'static str = "f32";
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Float for f64 {
    const ZERO: Self = 0.0;
    const INFINITY: Self = f64::INFINITY;
    const EPSILON: Self = f64::EPSILON;
    const NAME: &'static str = "f64";
    fn from_f64(value: f64) -> Self {
        value
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

/// What can be wrong with the shape or the values of a data set.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    /// Rows must have at least one feature.
    #[error("data must have at least one feature per row, got n_features = 0")]
    ZeroFeatures,
    /// The buffer does not hold a whole number of rows.
    #[error(
        "data has {n_values} values, which is not a whole number of rows of {n_features} features; check the number of features"
    )]
    Ragged {
        /// Length of the buffer.
        n_values: usize,
        /// Features per row the caller announced.
        n_features: usize,
    },
    /// There are no rows at all.
    #[error("data has no rows; clustering needs at least one row")]
    Empty,
    /// A value is NaN or infinite.
    #[error(
        "row {row}, feature {feature} is {value}; clustering needs finite numbers, so impute or drop NaN and infinite values first"
    )]
    NotFinite {
        /// Row of the bad value, from 0.
        row: usize,
        /// Feature of the bad value, from 0.
        feature: usize,
        /// The value itself.
        value: f64,
    },
    /// The data has a different number of features than the model or the
    /// transform it is given to.
    #[error("expected {expected} features per row but the data has {found}")]
    FeatureCount {
        /// Features the model or transform was fit on.
        expected: usize,
        /// Features of the data given.
        found: usize,
    },
}

/// An owned row-major matrix.
///
/// It serializes as `{"n_features": .., "values": [..]}` and checks the shape
/// again when read back, so a hand-edited file cannot produce ragged rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    bound(serialize = "T: Float", deserialize = "T: Float"),
    try_from = "MatrixRepr<T>",
    into = "MatrixRepr<T>"
)]
pub struct Matrix<T> {
    values: Vec<T>,
    n_rows: usize,
    n_features: usize,
}

/// The serialized form of [`Matrix`].
#[derive(Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
struct MatrixRepr<T> {
    n_features: usize,
    values: Vec<T>,
}

impl<T: Float> TryFrom<MatrixRepr<T>> for Matrix<T> {
    type Error = DataError;
    fn try_from(repr: MatrixRepr<T>) -> Result<Self, DataError> {
        Matrix::from_vec(repr.values, repr.n_features)
    }
}

impl<T: Float> From<Matrix<T>> for MatrixRepr<T> {
    fn from(matrix: Matrix<T>) -> Self {
        MatrixRepr {
            n_features: matrix.n_features,
            values: matrix.values,
        }
    }
}

impl<T: Float> Matrix<T> {
    /// Wraps `values`, row after row, with `n_features` values per row.
    pub fn from_vec(values: Vec<T>, n_features: usize) -> Result<Self, DataError> {
        let n_rows = rows_of(values.len(), n_features)?;
        Ok(Matrix {
            values,
            n_rows,
            n_features,
        })
    }

    /// Builds a matrix from rows, which must all have the same length.
    pub fn from_rows<R: AsRef<[T]>>(rows: &[R]) -> Result<Self, DataError> {
        let n_features = rows.first().map_or(0, |row| row.as_ref().len());
        let mut values = Vec::with_capacity(rows.len() * n_features);
        for row in rows {
            let row = row.as_ref();
            if row.len() != n_features {
                return Err(DataError::FeatureCount {
                    expected: n_features,
                    found: row.len(),
                });
            }
            values.extend_from_slice(row);
        }
        Matrix::from_vec(values, n_features)
    }

    /// A borrowed view of the whole matrix.
    pub fn view(&self) -> MatrixView<'_, T> {
        MatrixView {
            values: &self.values,
            n_rows: self.n_rows,
            n_features: self.n_features,
        }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of features (columns).
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Row `row_idx`; panics when out of range, like slice indexing.
    pub fn row(&self, row_idx: usize) -> &[T] {
        &self.values[row_idx * self.n_features..(row_idx + 1) * self.n_features]
    }

    /// All values, row after row.
    pub fn as_slice(&self) -> &[T] {
        &self.values
    }

    /// Gives back the buffer.
    pub fn into_vec(self) -> Vec<T> {
        self.values
    }

    /// The same matrix in another precision.
    pub fn convert<U: Float>(&self) -> Matrix<U> {
        Matrix {
            values: self
                .values
                .iter()
                .map(|value| U::from_f64(value.to_f64()))
                .collect(),
            n_rows: self.n_rows,
            n_features: self.n_features,
        }
    }
}

/// A borrowed row-major matrix: a slice and the number of features per row.
#[derive(Debug, Clone, Copy)]
pub struct MatrixView<'a, T> {
    values: &'a [T],
    n_rows: usize,
    n_features: usize,
}

impl<'a, T: Float> MatrixView<'a, T> {
    /// Views `values`, row after row, with `n_features` values per row.
    pub fn new(values: &'a [T], n_features: usize) -> Result<Self, DataError> {
        let n_rows = rows_of(values.len(), n_features)?;
        Ok(MatrixView {
            values,
            n_rows,
            n_features,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of features (columns).
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Row `row_idx`; panics when out of range, like slice indexing.
    pub fn row(&self, row_idx: usize) -> &'a [T] {
        &self.values[row_idx * self.n_features..(row_idx + 1) * self.n_features]
    }

    /// Iterates over the rows.
    pub fn rows(&self) -> std::slice::ChunksExact<'a, T> {
        self.values.chunks_exact(self.n_features)
    }

    /// All values, row after row.
    pub fn as_slice(&self) -> &'a [T] {
        self.values
    }

    /// Copies the rows at `row_indices`, in that order, into a new matrix.
    /// Panics when an index is out of range, like slice indexing.
    pub fn select_rows(&self, row_indices: &[usize]) -> Matrix<T> {
        let mut values = Vec::with_capacity(row_indices.len() * self.n_features);
        for &row_idx in row_indices {
            values.extend_from_slice(self.row(row_idx));
        }
        Matrix {
            values,
            n_rows: row_indices.len(),
            n_features: self.n_features,
        }
    }

    /// Fails on the first NaN or infinite value, in row order.
    pub fn check_finite(&self) -> Result<(), DataError> {
        let n_features = self.n_features;
        let first_bad = self
            .values
            .par_chunks(CHUNK_ROWS * n_features)
            .enumerate()
            .find_map_first(|(chunk_idx, chunk)| {
                let offset = chunk.iter().position(|value| !value.is_finite())?;
                Some((chunk_idx * CHUNK_ROWS * n_features + offset, chunk[offset]))
            });
        match first_bad {
            None => Ok(()),
            Some((value_idx, value)) => Err(DataError::NotFinite {
                row: value_idx / n_features,
                feature: value_idx % n_features,
                value: value.to_f64(),
            }),
        }
    }
}

fn rows_of(n_values: usize, n_features: usize) -> Result<usize, DataError> {
    if n_features == 0 {
        return Err(DataError::ZeroFeatures);
    }
    if !n_values.is_multiple_of(n_features) {
        return Err(DataError::Ragged {
            n_values,
            n_features,
        });
    }
    Ok(n_values / n_features)
}

/// Squared Euclidean distance between two rows of equal length.
///
/// The terms of even and of odd features are summed separately, left to
/// right, and the two sums added at the end: two independent chains of
/// additions instead of one. [`CentroidBlocks`] computes many distances at
/// once in exactly this order, so the two agree bit for bit; that is what
/// lets Hamerly's iterations, which mix both, give the same answer as plain
/// Lloyd's.
#[inline(always)]
pub fn squared_distance<T: Float>(left: &[T], right: &[T]) -> T {
    let mut even = T::ZERO;
    let mut odd = T::ZERO;
    let (left_pairs, left_rest) = left.as_chunks::<2>();
    let (right_pairs, right_rest) = right.as_chunks::<2>();
    for (left_pair, right_pair) in left_pairs.iter().zip(right_pairs) {
        let even_diff = left_pair[0] - right_pair[0];
        even += even_diff * even_diff;
        let odd_diff = left_pair[1] - right_pair[1];
        odd += odd_diff * odd_diff;
    }
    for (left_value, right_value) in left_rest.iter().zip(right_rest) {
        let diff = *left_value - *right_value;
        even += diff * diff;
    }
    even + odd
}

/// Centroids per block of [`CentroidBlocks`]: one SSE register of `f32`.
pub(crate) const BLOCK: usize = 4;

/// Centroids laid out for computing the distances from one row to all of
/// them at once.
///
/// The centroids are grouped [`BLOCK`] at a time and transposed: for each
/// group and feature, the group's values of that feature sit side by side.
/// Measuring a row then takes, per feature, one broadcast of the row's value
/// and one vector subtraction, multiplication and addition per group, with
/// no horizontal sums; the compiler vectorises this portable code on plain
/// SSE2. The last group is padded with zeros, whose distances are ignored.
#[derive(Debug, Clone)]
pub(crate) struct CentroidBlocks<T> {
    blocks: Vec<[T; BLOCK]>,
    n_features: usize,
    n_centroids: usize,
}

impl<T: Float> CentroidBlocks<T> {
    /// Lays out `centroids`, `n_features` values each, row-major.
    pub(crate) fn new(centroids: &[T], n_features: usize) -> Self {
        let n_centroids = centroids.len() / n_features;
        let n_blocks = n_centroids.div_ceil(BLOCK);
        let mut blocks = vec![[T::ZERO; BLOCK]; n_blocks * n_features];
        for (centroid_idx, centroid) in centroids.chunks_exact(n_features).enumerate() {
            let block_idx = centroid_idx / BLOCK;
            for (feature_idx, &value) in centroid.iter().enumerate() {
                blocks[block_idx * n_features + feature_idx][centroid_idx % BLOCK] = value;
            }
        }
        CentroidBlocks {
            blocks,
            n_features,
            n_centroids,
        }
    }

    /// Number of centroids.
    pub(crate) fn n_centroids(&self) -> usize {
        self.n_centroids
    }

    /// Squared distances from `row` to the centroids of block `block_idx`.
    #[inline(always)]
    fn block_distances(&self, row: &[T], block_idx: usize) -> [T; BLOCK] {
        let block = &self.blocks[block_idx * self.n_features..(block_idx + 1) * self.n_features];
        let mut even = [T::ZERO; BLOCK];
        let mut odd = [T::ZERO; BLOCK];
        let (row_pairs, row_rest) = row.as_chunks::<2>();
        let (block_pairs, block_rest) = block.as_chunks::<2>();
        for (row_pair, block_pair) in row_pairs.iter().zip(block_pairs) {
            for lane in 0..BLOCK {
                let diff = row_pair[0] - block_pair[0][lane];
                even[lane] += diff * diff;
            }
            for lane in 0..BLOCK {
                let diff = row_pair[1] - block_pair[1][lane];
                odd[lane] += diff * diff;
            }
        }
        for (&value, lanes) in row_rest.iter().zip(block_rest) {
            for lane in 0..BLOCK {
                let diff = value - lanes[lane];
                even[lane] += diff * diff;
            }
        }
        let mut distances = [T::ZERO; BLOCK];
        for lane in 0..BLOCK {
            distances[lane] = even[lane] + odd[lane];
        }
        distances
    }

    /// Writes the squared distance from `row` to every centroid into `out`,
    /// which must have at least [`CentroidBlocks::n_centroids`] slots.
    #[inline(always)]
    pub(crate) fn distances(&self, row: &[T], out: &mut [T]) {
        for (block_idx, out_block) in out[..self.n_centroids].chunks_mut(BLOCK).enumerate() {
            let distances = self.block_distances(row, block_idx);
            out_block.copy_from_slice(&distances[..out_block.len()]);
        }
    }

    /// Index of the nearest centroid with its squared distance, and the
    /// squared distance of the second nearest (infinity with one centroid).
    /// Ties go to the lower index.
    #[inline(always)]
    pub(crate) fn nearest_two(&self, row: &[T]) -> (usize, T, T) {
        let mut best_idx = 0;
        let mut best = T::INFINITY;
        let mut second = T::INFINITY;
        for block_idx in 0..self.n_centroids.div_ceil(BLOCK) {
            let distances = self.block_distances(row, block_idx);
            let n_lanes = (self.n_centroids - block_idx * BLOCK).min(BLOCK);
            for (lane, &distance) in distances[..n_lanes].iter().enumerate() {
                if distance < best {
                    second = best;
                    best = distance;
                    best_idx = block_idx * BLOCK + lane;
                } else if distance < second {
                    second = distance;
                }
            }
        }
        (best_idx, best, second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a view of `values` with `n_features` and checks the row count or
    /// the error message.
    fn check(values: &[f64], n_features: usize, expected: Result<usize, &str>) {
        let outcome = MatrixView::new(values, n_features).and_then(|view| {
            view.check_finite()?;
            Ok(view.n_rows())
        });
        match (outcome, expected) {
            (Ok(n_rows), Ok(expected_rows)) => assert_eq!(n_rows, expected_rows),
            (Err(error), Err(expected_message)) => assert_eq!(error.to_string(), expected_message),
            (outcome, expected) => {
                panic!("{values:?} / {n_features}: got {outcome:?}, expected {expected:?}")
            }
        }
    }

    #[test]
    fn shapes() {
        check(&[1.0, 2.0, 3.0, 4.0], 2, Ok(2));
        check(&[], 3, Ok(0));
        check(
            &[1.0, 2.0, 3.0],
            2,
            Err(
                "data has 3 values, which is not a whole number of rows of 2 features; check the number of features",
            ),
        );
        check(
            &[1.0],
            0,
            Err("data must have at least one feature per row, got n_features = 0"),
        );
        check(
            &[1.0, 2.0, f64::NAN, 4.0],
            2,
            Err(
                "row 1, feature 0 is NaN; clustering needs finite numbers, so impute or drop NaN and infinite values first",
            ),
        );
        check(
            &[1.0, f64::INFINITY],
            1,
            Err(
                "row 1, feature 0 is inf; clustering needs finite numbers, so impute or drop NaN and infinite values first",
            ),
        );
    }

    #[test]
    fn blocks_agree_with_squared_distance_bit_for_bit() {
        for (n_features, n_centroids) in [(1, 1), (2, 3), (5, 4), (12, 5), (16, 9), (3, 13)] {
            let row: Vec<f32> = (0..n_features)
                .map(|idx| (idx as f32 * 0.37).sin() * 3.0)
                .collect();
            let centroids: Vec<f32> = (0..n_features * n_centroids)
                .map(|idx| (idx as f32 * 1.3).cos() * 2.0)
                .collect();
            let blocks = CentroidBlocks::new(&centroids, n_features);
            let mut out = vec![0.0; n_centroids];
            blocks.distances(&row, &mut out);
            let expected: Vec<f32> = centroids
                .chunks_exact(n_features)
                .map(|centroid| squared_distance(&row, centroid))
                .collect();
            assert_eq!(
                out, expected,
                "{n_features} features, {n_centroids} centroids"
            );
            let (best_idx, best, second) = blocks.nearest_two(&row);
            let mut sorted = expected.clone();
            sorted.sort_by(f32::total_cmp);
            assert_eq!(
                (best, second),
                (sorted[0], sorted.get(1).copied().unwrap_or(f32::INFINITY))
            );
            assert_eq!(expected[best_idx], best);
        }
    }

    #[test]
    fn squared_distance_matches_the_plain_sum() {
        for n_features in [1, 3, 8, 12, 16, 19] {
            let left: Vec<f64> = (0..n_features).map(|idx| idx as f64 * 0.5).collect();
            let right: Vec<f64> = (0..n_features).map(|idx| (idx as f64).sin()).collect();
            let plain: f64 = left
                .iter()
                .zip(&right)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            assert!(
                (squared_distance(&left, &right) - plain).abs() < 1e-12,
                "n_features = {n_features}"
            );
        }
    }
}
