//! Feature preprocessing for clustering: turn raw per-account numbers, with
//! NULLs, into features on a common scale, and remember exactly how, so new
//! accounts are assigned with the same transform.
//!
//! k-means measures Euclidean distance, so a feature counted in thousands
//! (events) would drown one between 0 and 1 (a share) and a handful of
//! extreme accounts would pull centroids away from everyone else. Each
//! feature therefore goes through, in order:
//!
//! 1. **Imputation**: a NULL becomes the feature's training median (of the
//!    raw values), a neutral value that does not move the robust centre.
//! 2. **`log1p`** (optional, for non-negative counts): `ln(1 + x)`
//!    compresses heavy right tails so that 10 → 100 events matters about as
//!    much as 100 → 1,000.
//! 3. **Scaling**: [`Scaling::Robust`] (the default) subtracts the median
//!    and divides by the interquartile range, so outliers do not set the
//!    scale; when the IQR is 0 (more than half the accounts share a value) it
//!    falls back to the standard deviation, and to 1 for a constant feature.
//!    [`Scaling::ZScore`] uses mean and standard deviation instead.
//! 4. **Clipping** to `±c` (default 5): an account 40 IQRs out stays an
//!    outlier but can no longer own a centroid by itself.
//! 5. **Weighting**: the feature is multiplied by its weight (default 1), so
//!    a weight of 2 counts the feature twice as much in distances.
//!
//! The statistics (median, quartiles, mean, deviation) are those of the
//! training rows' non-NULL values after `log1p`, so imputed values do not
//! shrink the scale. [`TransformParams`] → [`TransformParams::check`] →
//! [`TransformValidParams::fit`] gives a [`Transform`], which is
//! serializable and applies to one row or a whole matrix. [`Transform::invert`]
//! maps scaled values (such as centroids) back to the original units, except
//! for what clipping removed.
//!
//! ```
//! use strata_ml::preprocess::TransformParams;
//!
//! // One count feature: 0, 1, 3, 7, 15 and a NULL.
//! let cells = [Some(0.0), Some(1.0), Some(3.0), Some(7.0), Some(15.0), None];
//! let transform = TransformParams::new(1).with_log1p(0).check().unwrap().fit(&cells).unwrap();
//! // ln(1 + x) is 0, ln 2, ln 4, ln 8, ln 16: median ln 4, IQR ln 8 − ln 2 = ln 4.
//! assert!((transform.apply(&[Some(15.0)]).unwrap()[0] - 1.0).abs() < 1e-12);
//! // The NULL is imputed with the raw median, 3, which maps to 0.
//! assert_eq!(transform.apply(&[None]).unwrap(), vec![0.0]);
//! assert!((transform.invert(&[0.5]).unwrap()[0] - 7.0).abs() < 1e-9);
//! ```
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::matrix::{DataError, Matrix};

/// How a feature is centred and scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scaling {
    /// `(x − median) / IQR`, falling back to the standard deviation and then
    /// to 1 when the IQR is 0.
    Robust,
    /// `(x − mean) / standard deviation` (population), or `x − mean` for a
    /// constant feature.
    ZScore,
    /// Left as is.
    None,
}

/// Preprocessing settings as the caller wrote them.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformParams {
    n_features: usize,
    log1p_features: Vec<usize>,
    scaling: Scaling,
    feature_scaling: Vec<(usize, Scaling)>,
    clip: Option<f64>,
    weights: Option<Vec<f64>>,
}

/// Preprocessing settings that passed [`TransformParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct TransformValidParams {
    log1p: Vec<bool>,
    scaling: Vec<Scaling>,
    clip: Option<f64>,
    weights: Vec<f64>,
}

/// One problem with preprocessing settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransformParamsProblem {
    /// No features at all.
    #[error("a transform needs at least one feature, got n_features = 0")]
    ZeroFeatures,
    /// A per-feature setting names a feature that does not exist.
    #[error(
        "{setting} names feature {feature_idx} but there are only {n_features} features (numbered from 0)"
    )]
    FeatureIndex {
        /// Which setting.
        setting: &'static str,
        /// The index given.
        feature_idx: usize,
        /// Number of features.
        n_features: usize,
    },
    /// The clipping bound is not a positive number.
    #[error("the clipping bound must be a finite number > 0, got {0}")]
    InvalidClip(f64),
    /// Not one weight per feature.
    #[error("{n_weights} weights for {n_features} features; give one weight per feature")]
    WeightCount {
        /// Weights given.
        n_weights: usize,
        /// Number of features.
        n_features: usize,
    },
    /// A weight is negative or not finite.
    #[error("the weight of feature {feature_idx} is {weight}; weights must be finite numbers ≥ 0")]
    InvalidWeight {
        /// The feature.
        feature_idx: usize,
        /// The weight given.
        weight: f64,
    },
}

/// Every problem found in preprocessing settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid preprocessing settings: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct TransformParamsError {
    /// The problems, in the order the settings are checked.
    pub problems: Vec<TransformParamsProblem>,
}

/// What can go wrong fitting or applying a transform.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransformError {
    /// The cells are not whole rows, or there are none.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A row has the wrong number of cells.
    #[error("expected {expected} features per row but the row has {found}")]
    FeatureCount {
        /// Features of the transform.
        expected: usize,
        /// Cells in the row.
        found: usize,
    },
    /// A value is NaN or infinite.
    #[error(
        "feature {feature_idx} is {value}; pass a missing value as NULL (None), not as NaN or infinity"
    )]
    NotFinite {
        /// The feature.
        feature_idx: usize,
        /// The value.
        value: f64,
    },
    /// A negative value in a `log1p` feature.
    #[error(
        "feature {feature_idx} is {value} but log1p is for non-negative counts; turn log1p off for this feature or fix the value"
    )]
    NegativeForLog1p {
        /// The feature.
        feature_idx: usize,
        /// The value.
        value: f64,
    },
    /// A feature with no values to learn from.
    #[error(
        "feature {feature_idx} is NULL in every row, so it has no median to impute; leave it out"
    )]
    AllMissing {
        /// The feature.
        feature_idx: usize,
    },
    /// An error in one row of a matrix.
    #[error("row {row}: {source}")]
    AtRow {
        /// The row, from 0.
        row: usize,
        /// What is wrong with it.
        source: Box<TransformError>,
    },
}

impl TransformParams {
    /// Settings for `n_features` features: no `log1p`, robust scaling,
    /// clipping at ±5, all weights 1.
    pub fn new(n_features: usize) -> Self {
        TransformParams {
            n_features,
            log1p_features: Vec::new(),
            scaling: Scaling::Robust,
            feature_scaling: Vec::new(),
            clip: Some(5.0),
            weights: None,
        }
    }

    /// Applies `log1p` to feature `feature_idx` (a non-negative count).
    pub fn with_log1p(mut self, feature_idx: usize) -> Self {
        self.log1p_features.push(feature_idx);
        self
    }

    /// Applies `log1p` to each feature in `feature_indices`.
    pub fn with_log1p_features(mut self, feature_indices: &[usize]) -> Self {
        self.log1p_features.extend_from_slice(feature_indices);
        self
    }

    /// Sets the scaling of every feature not set one by one.
    pub fn with_scaling(mut self, scaling: Scaling) -> Self {
        self.scaling = scaling;
        self
    }

    /// Sets the scaling of one feature.
    pub fn with_feature_scaling(mut self, feature_idx: usize, scaling: Scaling) -> Self {
        self.feature_scaling.push((feature_idx, scaling));
        self
    }

    /// Sets the clipping bound `c` (values end in `[−c, c]` before
    /// weighting); `None` never clips.
    pub fn with_clip(mut self, clip: Option<f64>) -> Self {
        self.clip = clip;
        self
    }

    /// Sets one weight per feature, multiplied in after scaling and clipping.
    pub fn with_weights(mut self, weights: Vec<f64>) -> Self {
        self.weights = Some(weights);
        self
    }

    /// Checks the settings, reporting every problem at once.
    pub fn check(self) -> Result<TransformValidParams, TransformParamsError> {
        let n_features = self.n_features;
        let mut problems = Vec::new();
        if n_features == 0 {
            problems.push(TransformParamsProblem::ZeroFeatures);
        }
        let mut log1p = vec![false; n_features];
        for &feature_idx in &self.log1p_features {
            match log1p.get_mut(feature_idx) {
                Some(flag) => *flag = true,
                None => problems.push(TransformParamsProblem::FeatureIndex {
                    setting: "log1p",
                    feature_idx,
                    n_features,
                }),
            }
        }
        let mut scaling = vec![self.scaling; n_features];
        for &(feature_idx, feature_scaling) in &self.feature_scaling {
            match scaling.get_mut(feature_idx) {
                Some(slot) => *slot = feature_scaling,
                None => problems.push(TransformParamsProblem::FeatureIndex {
                    setting: "scaling",
                    feature_idx,
                    n_features,
                }),
            }
        }
        if let Some(clip) = self.clip
            && !(clip.is_finite() && clip > 0.0)
        {
            problems.push(TransformParamsProblem::InvalidClip(clip));
        }
        let weights = self.weights.unwrap_or_else(|| vec![1.0; n_features]);
        if weights.len() != n_features {
            problems.push(TransformParamsProblem::WeightCount {
                n_weights: weights.len(),
                n_features,
            });
        }
        for (feature_idx, &weight) in weights.iter().enumerate() {
            if !(weight.is_finite() && weight >= 0.0) {
                problems.push(TransformParamsProblem::InvalidWeight {
                    feature_idx,
                    weight,
                });
            }
        }
        if problems.is_empty() {
            Ok(TransformValidParams {
                log1p,
                scaling,
                clip: self.clip,
                weights,
            })
        } else {
            Err(TransformParamsError { problems })
        }
    }
}

impl TransformValidParams {
    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.log1p.len()
    }

    /// Learns the transform from training cells, row after row, `None` for
    /// NULL.
    pub fn fit(&self, cells: &[Option<f64>]) -> Result<Transform, TransformError> {
        let n_features = self.n_features();
        if n_features == 0 || !cells.len().is_multiple_of(n_features) {
            return Err(DataError::Ragged {
                n_values: cells.len(),
                n_features,
            }
            .into());
        }
        if cells.is_empty() {
            return Err(DataError::Empty.into());
        }
        // Collected in feature order first, so the error reported is always
        // the one of the lowest feature, whatever the thread timing.
        let fitted: Vec<Result<FeatureTransform, TransformError>> = (0..n_features)
            .into_par_iter()
            .map(|feature_idx| self.fit_feature(cells, feature_idx))
            .collect();
        let features = fitted.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(Transform {
            features,
            clip: self.clip,
        })
    }

    fn fit_feature(
        &self,
        cells: &[Option<f64>],
        feature_idx: usize,
    ) -> Result<FeatureTransform, TransformError> {
        let n_features = self.n_features();
        let log1p = self.log1p[feature_idx];
        let mut raw = Vec::new();
        for (row, cell) in cells
            .iter()
            .skip(feature_idx)
            .step_by(n_features)
            .enumerate()
        {
            if let Some(value) = *cell {
                check_value(value, feature_idx, log1p).map_err(|source| TransformError::AtRow {
                    row,
                    source: Box::new(source),
                })?;
                raw.push(value);
            }
        }
        if raw.is_empty() {
            return Err(TransformError::AllMissing { feature_idx });
        }
        raw.sort_by(f64::total_cmp);
        let fill = quantile(&raw, 0.5);
        // log1p is increasing, so the logged values are still sorted.
        let values: Vec<f64> = if log1p {
            raw.iter().map(|value| value.ln_1p()).collect()
        } else {
            raw
        };
        let (center, scale) = match self.scaling[feature_idx] {
            Scaling::Robust => {
                let iqr = quantile(&values, 0.75) - quantile(&values, 0.25);
                let scale = if iqr > 0.0 {
                    iqr
                } else {
                    standard_deviation(&values).1
                };
                (quantile(&values, 0.5), scale)
            }
            Scaling::ZScore => standard_deviation(&values),
            Scaling::None => (0.0, 1.0),
        };
        Ok(FeatureTransform {
            log1p,
            scaling: self.scaling[feature_idx],
            fill,
            center,
            scale: if scale > 0.0 { scale } else { 1.0 },
            weight: self.weights[feature_idx],
        })
    }
}

/// How one feature is transformed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureTransform {
    /// Whether `ln(1 + x)` is applied.
    pub log1p: bool,
    /// The scaling the centre and scale come from.
    pub scaling: Scaling,
    /// The value a NULL becomes: the training median of the raw values.
    pub fill: f64,
    /// Subtracted after `log1p`.
    pub center: f64,
    /// Divided by after centring; never 0.
    pub scale: f64,
    /// Multiplied in last.
    pub weight: f64,
}

/// A fitted preprocessing transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transform {
    features: Vec<FeatureTransform>,
    clip: Option<f64>,
}

impl Transform {
    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// How each feature is transformed.
    pub fn features(&self) -> &[FeatureTransform] {
        &self.features
    }

    /// The clipping bound.
    pub fn clip(&self) -> Option<f64> {
        self.clip
    }

    /// Transforms one row.
    pub fn apply(&self, row: &[Option<f64>]) -> Result<Vec<f64>, TransformError> {
        let mut out = vec![0.0; self.features.len()];
        self.apply_into(row, &mut out)?;
        Ok(out)
    }

    /// Transforms one row into `out`, which must have one slot per feature.
    pub fn apply_into(&self, row: &[Option<f64>], out: &mut [f64]) -> Result<(), TransformError> {
        let n_features = self.features.len();
        if row.len() != n_features || out.len() != n_features {
            return Err(TransformError::FeatureCount {
                expected: n_features,
                found: if row.len() != n_features {
                    row.len()
                } else {
                    out.len()
                },
            });
        }
        for (feature_idx, ((cell, feature), slot)) in row
            .iter()
            .zip(&self.features)
            .zip(out.iter_mut())
            .enumerate()
        {
            let raw = match *cell {
                Some(value) => {
                    check_value(value, feature_idx, feature.log1p)?;
                    value
                }
                None => feature.fill,
            };
            let logged = if feature.log1p { raw.ln_1p() } else { raw };
            let mut scaled = (logged - feature.center) / feature.scale;
            if let Some(clip) = self.clip {
                scaled = scaled.clamp(-clip, clip);
            }
            *slot = scaled * feature.weight;
        }
        Ok(())
    }

    /// Transforms cells, row after row, into a matrix, in parallel; an error
    /// names the first bad row.
    pub fn apply_matrix(&self, cells: &[Option<f64>]) -> Result<Matrix<f64>, TransformError> {
        let n_features = self.features.len();
        if n_features == 0 || !cells.len().is_multiple_of(n_features) {
            return Err(DataError::Ragged {
                n_values: cells.len(),
                n_features,
            }
            .into());
        }
        let mut values = vec![0.0; cells.len()];
        const ROWS_PER_TASK: usize = 4_096;
        let outcomes: Vec<Result<(), TransformError>> = cells
            .par_chunks(ROWS_PER_TASK * n_features)
            .zip(values.par_chunks_mut(ROWS_PER_TASK * n_features))
            .enumerate()
            .map(|(chunk_idx, (chunk_cells, chunk_values))| {
                for (row_in_chunk, (row, out)) in chunk_cells
                    .chunks_exact(n_features)
                    .zip(chunk_values.chunks_exact_mut(n_features))
                    .enumerate()
                {
                    self.apply_into(row, out)
                        .map_err(|source| TransformError::AtRow {
                            row: chunk_idx * ROWS_PER_TASK + row_in_chunk,
                            source: Box::new(source),
                        })?;
                }
                Ok(())
            })
            .collect();
        outcomes.into_iter().collect::<Result<(), _>>()?;
        Ok(Matrix::from_vec(values, n_features)?)
    }

    /// Maps transformed values (a centroid, say) back to original units:
    /// divides by the weight, un-scales, and undoes `log1p`. Clipping cannot
    /// be undone, and a feature of weight 0 maps back to its centre.
    pub fn invert(&self, values: &[f64]) -> Result<Vec<f64>, TransformError> {
        if values.len() != self.features.len() {
            return Err(TransformError::FeatureCount {
                expected: self.features.len(),
                found: values.len(),
            });
        }
        Ok(values
            .iter()
            .zip(&self.features)
            .map(|(&value, feature)| {
                let unweighted = if feature.weight > 0.0 {
                    value / feature.weight
                } else {
                    0.0
                };
                let logged = unweighted * feature.scale + feature.center;
                if feature.log1p {
                    logged.exp_m1()
                } else {
                    logged
                }
            })
            .collect())
    }
}

fn check_value(value: f64, feature_idx: usize, log1p: bool) -> Result<(), TransformError> {
    if !value.is_finite() {
        return Err(TransformError::NotFinite { feature_idx, value });
    }
    if log1p && value < 0.0 {
        return Err(TransformError::NegativeForLog1p { feature_idx, value });
    }
    Ok(())
}

/// The `q`-quantile of sorted values with linear interpolation between
/// neighbours (numpy's default), so the median of 1, 2, 3, 4 is 2.5.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

/// Mean and population standard deviation.
fn standard_deviation(values: &[f64]) -> (f64, f64) {
    let n_values = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n_values;
    let variance = values
        .iter()
        .map(|value| (value - mean) * (value - mean))
        .sum::<f64>()
        / n_values;
    (mean, variance.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fits `params` on one column of `cells` and checks the transformed
    /// column (within 1e-12) or the error message; on success also checks
    /// that inverting gives the input back, for cells that were neither
    /// NULL nor clipped.
    fn check(params: TransformParams, cells: &[Option<f64>], expected: Result<&[f64], &str>) {
        let outcome = params
            .clone()
            .check()
            .map_err(|error| error.to_string())
            .and_then(|valid| valid.fit(cells).map_err(|error| error.to_string()));
        let transform = match (outcome, expected) {
            (Ok(transform), Ok(expected_values)) => {
                let matrix = transform.apply_matrix(cells).expect("applies");
                for (got, want) in matrix.as_slice().iter().zip(expected_values) {
                    assert!(
                        (got - want).abs() < 1e-12,
                        "{params:?}: got {:?}, expected {expected_values:?}",
                        matrix.as_slice()
                    );
                }
                transform
            }
            (Err(message), Err(expected_message)) => {
                assert_eq!(message, expected_message);
                return;
            }
            (outcome, expected) => panic!("{params:?}: got {outcome:?}, expected {expected:?}"),
        };
        let clip = transform.clip().unwrap_or(f64::INFINITY);
        for cell in cells {
            let Some(value) = *cell else { continue };
            let forward = transform.apply(&[Some(value)]).expect("applies");
            if forward[0].abs() / transform.features()[0].weight.max(1e-300) >= clip {
                continue;
            }
            let back = transform.invert(&forward).expect("inverts");
            assert!(
                (back[0] - value).abs() < 1e-9 * value.abs().max(1.0),
                "round trip of {value}: {back:?}"
            );
        }
    }

    fn column(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().map(|&value| Some(value)).collect()
    }

    #[test]
    fn one_feature_by_hand() {
        let params = TransformParams::new;
        let counts = column(&[0.0, 1.0, 3.0, 7.0, 15.0]);
        // log1p: 0, ln 2, ln 4, ln 8, ln 16 = k ln 2 for k = 0..4; median 2 ln 2,
        // IQR (3 − 1) ln 2: (k − 2) / 2.
        check(
            params(1).with_log1p(0),
            &counts,
            Ok(&[-1.0, -0.5, 0.0, 0.5, 1.0]),
        );
        // NULL becomes the raw median 3, hence 0; the statistics ignore it.
        let mut with_null = counts.clone();
        with_null.push(None);
        check(
            params(1).with_log1p(0),
            &with_null,
            Ok(&[-1.0, -0.5, 0.0, 0.5, 1.0, 0.0]),
        );
        // Without log1p: median 3, IQR 7 − 1 = 6.
        check(
            params(1),
            &counts,
            Ok(&[-0.5, -2.0 / 6.0, 0.0, 4.0 / 6.0, 2.0]),
        );
        // z-score of 1, 2, 3, 4: mean 2.5, deviation √1.25.
        let root = 1.25_f64.sqrt();
        check(
            params(1).with_scaling(Scaling::ZScore),
            &column(&[1.0, 2.0, 3.0, 4.0]),
            Ok(&[-1.5 / root, -0.5 / root, 0.5 / root, 1.5 / root]),
        );
        // IQR 0 falls back to the deviation: mean 20, deviation 40, median 0;
        // then 100 / 40 = 2.5 is clipped to 2 and weighted by 3.
        let spike = column(&[0.0, 0.0, 0.0, 0.0, 100.0]);
        check(params(1), &spike, Ok(&[0.0, 0.0, 0.0, 0.0, 2.5]));
        check(
            params(1).with_clip(Some(2.0)).with_weights(vec![3.0]),
            &spike,
            Ok(&[0.0, 0.0, 0.0, 0.0, 6.0]),
        );
        // A constant feature has scale 1.
        check(params(1), &column(&[5.0, 5.0, 5.0]), Ok(&[0.0, 0.0, 0.0]));
        check(
            params(1).with_scaling(Scaling::None).with_clip(None),
            &column(&[-7.0, 9.0]),
            Ok(&[-7.0, 9.0]),
        );
    }

    #[test]
    fn errors() {
        let params = TransformParams::new;
        check(
            params(1).with_log1p(0),
            &column(&[1.0, -2.0]),
            Err(
                "row 1: feature 0 is -2 but log1p is for non-negative counts; turn log1p off for this feature or fix the value",
            ),
        );
        check(
            params(1),
            &column(&[1.0, f64::NAN]),
            Err(
                "row 1: feature 0 is NaN; pass a missing value as NULL (None), not as NaN or infinity",
            ),
        );
        check(
            params(1),
            &[None, None],
            Err("feature 0 is NULL in every row, so it has no median to impute; leave it out"),
        );
        check(
            params(1),
            &[],
            Err("data has no rows; clustering needs at least one row"),
        );
        check(
            params(2),
            &[Some(1.0)],
            Err(
                "data has 1 values, which is not a whole number of rows of 2 features; check the number of features",
            ),
        );
        check(
            params(2)
                .with_log1p(2)
                .with_feature_scaling(5, Scaling::ZScore)
                .with_clip(Some(0.0))
                .with_weights(vec![1.0, -1.0, 2.0]),
            &[],
            Err(
                "invalid preprocessing settings: log1p names feature 2 but there are only 2 features (numbered from 0); scaling names feature 5 but there are only 2 features (numbered from 0); the clipping bound must be a finite number > 0, got 0; 3 weights for 2 features; give one weight per feature; the weight of feature 1 is -1; weights must be finite numbers ≥ 0",
            ),
        );
    }

    #[test]
    fn rows_and_matrices_agree_and_serde_round_trips() {
        // Two features, one a count with log1p and z-scoring, one robust.
        let cells = [
            Some(0.0),
            Some(10.0),
            Some(3.0),
            None,
            None,
            Some(30.0),
            Some(100.0),
            Some(20.0),
        ];
        let transform = TransformParams::new(2)
            .with_log1p(0)
            .with_feature_scaling(0, Scaling::ZScore)
            .check()
            .expect("valid")
            .fit(&cells)
            .expect("fits");
        let matrix = transform.apply_matrix(&cells).expect("applies");
        for (row_idx, row) in cells.chunks(2).enumerate() {
            assert_eq!(transform.apply(row).expect("applies"), matrix.row(row_idx));
        }
        let json = serde_json::to_string(&transform).expect("serializes");
        let back: Transform = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, transform);
        assert_eq!(
            transform.apply_matrix(&[Some(1.0), Some(1.0), Some(f64::INFINITY), Some(1.0)]).map_err(|error| error.to_string()),
            Err("row 1: feature 0 is inf; pass a missing value as NULL (None), not as NaN or infinity".to_string())
        );
        assert_eq!(
            transform
                .apply(&[Some(1.0)])
                .map_err(|error| error.to_string()),
            Err("expected 2 features per row but the row has 1".to_string())
        );
    }
}
