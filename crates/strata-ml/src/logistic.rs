//! L2-regularized logistic regression, fitted by Newton's method, and Platt
//! calibration of its scores.
//!
//! The model minimises the mean log loss plus `l2 / 2 · ‖β‖²` (the
//! intercept is not penalized). With a handful of dozen features and a few
//! hundred thousand rows, Newton's method (each step solves the
//! `(p + 1) × (p + 1)` Hessian system by Cholesky) converges in a few
//! steps where gradient methods need hundreds; a backtracking line search
//! keeps every step a descent even far from the optimum. The Hessian is
//! accumulated in parallel over row chunks, in a fixed chunk order, so a fit
//! is deterministic whatever the thread count.
//!
//! [`Platt`] maps a model's decision values to probabilities by a
//! one-feature logistic regression fitted on held-out rows, so that
//! "0.3" means three in ten when the model was regularized or the base rate
//! moved.
//!
//! ```
//! use strata_ml::logistic::{fit, LogisticParams};
//! use strata_ml::Matrix;
//!
//! // x = 0: 1 positive of 4; x = 1: 3 of 4. Without a penalty the fit is
//! // exact: intercept logit(1/4) = −ln 3, slope logit(3/4) − logit(1/4) = 2 ln 3.
//! let x = Matrix::from_vec(vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0], 1).unwrap();
//! let y = [true, false, false, false, true, true, true, false];
//! let model = fit(x.view(), &y, &LogisticParams { l2: 0.0, ..Default::default() }, None).unwrap();
//! assert!((model.intercept + 3f64.ln()).abs() < 1e-9);
//! assert!((model.coef[0] - 2.0 * 3f64.ln()).abs() < 1e-9);
//! ```
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::matrix::MatrixView;

/// How a logistic regression is fitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticParams {
    /// Weight of the `‖β‖² / 2` penalty against the mean log loss.
    pub l2: f64,
    /// Most Newton steps.
    pub max_iter: usize,
    /// Converged when no coefficient moves by more than this in a step.
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            l2: 1e-3,
            max_iter: 50,
            tol: 1e-8,
        }
    }
}

/// A fitted logistic regression: `P(y) = σ(intercept + coef · x)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    /// The intercept.
    pub intercept: f64,
    /// One coefficient per feature.
    pub coef: Vec<f64>,
    /// Newton steps taken.
    pub iterations: usize,
}

impl LogisticModel {
    /// The decision value (log odds) of one row.
    pub fn decision(&self, row: &[f64]) -> f64 {
        self.intercept + row.iter().zip(&self.coef).map(|(x, b)| x * b).sum::<f64>()
    }

    /// The probability of one row.
    pub fn probability(&self, row: &[f64]) -> f64 {
        sigmoid(self.decision(row))
    }
}

/// Why a logistic regression could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LogisticError {
    /// No rows.
    #[error("no rows to fit on")]
    Empty,
    /// Labels and rows differ in number.
    #[error("{labels} labels for {rows} rows")]
    Labels {
        /// Rows.
        rows: usize,
        /// Labels.
        labels: usize,
    },
    /// Every label is the same, so there is nothing to tell apart.
    #[error("every label is {0}, so there is nothing to tell apart")]
    OneClass(bool),
    /// A value is NaN or infinite.
    #[error("row {row}, feature {feature} is not a finite number")]
    NotFinite {
        /// Row.
        row: usize,
        /// Feature.
        feature: usize,
    },
    /// The Hessian is not positive definite (only without a penalty, on
    /// collinear or separable data).
    #[error("the features are collinear or separate the classes; fit with l2 > 0")]
    Singular,
}

/// The logistic function.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^z)`, without overflow.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// Rows per parallel chunk: large enough that each chunk's Hessian is
/// worth its allocation.
const CHUNK_ROWS: usize = 4096;

/// Fits a logistic regression of `y` on the rows of `x`, starting from
/// `start` (a previous fit of the same features: a warm start) or from the
/// base rate.
///
/// # Errors
///
/// No rows, a label count that differs from the rows, one class only, a
/// value that is not finite, or (without a penalty) a singular Hessian.
pub fn fit(
    x: MatrixView<'_, f64>,
    y: &[bool],
    params: &LogisticParams,
    start: Option<&LogisticModel>,
) -> Result<LogisticModel, LogisticError> {
    let n = x.n_rows();
    let p = x.n_features();
    if n == 0 {
        return Err(LogisticError::Empty);
    }
    if y.len() != n {
        return Err(LogisticError::Labels {
            rows: n,
            labels: y.len(),
        });
    }
    let positives = y.iter().filter(|&&label| label).count();
    if positives == 0 || positives == n {
        return Err(LogisticError::OneClass(positives == n));
    }
    if let Some((index, _)) = x
        .as_slice()
        .iter()
        .enumerate()
        .find(|(_, value)| !value.is_finite())
    {
        return Err(LogisticError::NotFinite {
            row: index / p.max(1),
            feature: index % p.max(1),
        });
    }
    // beta[0] is the intercept.
    let mut beta = match start {
        Some(model) if model.coef.len() == p => {
            let mut beta = vec![model.intercept];
            beta.extend(&model.coef);
            beta
        }
        _ => {
            let rate = positives as f64 / n as f64;
            let mut beta = vec![0.0; p + 1];
            beta[0] = (rate / (1.0 - rate)).ln();
            beta
        }
    };
    let mut loss = objective(x, y, &beta, params.l2);
    let mut iterations = 0;
    for _ in 0..params.max_iter {
        iterations += 1;
        let (gradient, mut hessian) = gradient_and_hessian(x, y, &beta, params.l2);
        // Newton direction: H d = g.
        let Some(direction) = cholesky_solve(&mut hessian, &gradient, p + 1) else {
            return Err(LogisticError::Singular);
        };
        // Backtracking: halve the step until the objective does not rise.
        let mut step = 1.0;
        let mut next = beta.clone();
        let mut next_loss = loss;
        for _ in 0..30 {
            for ((slot, b), d) in next.iter_mut().zip(&beta).zip(&direction) {
                *slot = b - step * d;
            }
            next_loss = objective(x, y, &next, params.l2);
            if next_loss <= loss + 1e-12 * loss.abs() {
                break;
            }
            step /= 2.0;
        }
        let moved = direction
            .iter()
            .map(|d| (step * d).abs())
            .fold(0.0, f64::max);
        beta = next;
        let settled = (loss - next_loss).abs() <= 1e-14 * loss.abs().max(1.0);
        loss = next_loss;
        if moved <= params.tol || settled {
            break;
        }
    }
    Ok(LogisticModel {
        intercept: beta[0],
        coef: beta[1..].to_vec(),
        iterations,
    })
}

/// Mean log loss plus the penalty.
fn objective(x: MatrixView<'_, f64>, y: &[bool], beta: &[f64], l2: f64) -> f64 {
    let total: f64 = x
        .as_slice()
        .par_chunks(CHUNK_ROWS * x.n_features().max(1))
        .zip(y.par_chunks(CHUNK_ROWS))
        .map(|(rows, labels)| {
            let mut sum = 0.0;
            for (row, &label) in rows.chunks_exact(x.n_features().max(1)).zip(labels) {
                let z = linear(beta, row);
                // -log σ(z) for a positive, -log(1 - σ(z)) for a negative.
                sum += if label { softplus(-z) } else { softplus(z) };
            }
            sum
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum();
    let penalty: f64 = beta[1..].iter().map(|b| b * b).sum::<f64>() * l2 / 2.0;
    total / y.len() as f64 + penalty
}

fn linear(beta: &[f64], row: &[f64]) -> f64 {
    beta[0] + row.iter().zip(&beta[1..]).map(|(x, b)| x * b).sum::<f64>()
}

/// The objective's gradient and Hessian (packed row-major, `(p+1)²`).
fn gradient_and_hessian(
    x: MatrixView<'_, f64>,
    y: &[bool],
    beta: &[f64],
    l2: f64,
) -> (Vec<f64>, Vec<f64>) {
    let p = x.n_features();
    let dim = p + 1;
    let width = p.max(1);
    let partials: Vec<(Vec<f64>, Vec<f64>)> = x
        .as_slice()
        .par_chunks(CHUNK_ROWS * width)
        .zip(y.par_chunks(CHUNK_ROWS))
        .map(|(rows, labels)| {
            let mut gradient = vec![0.0; dim];
            let mut hessian = vec![0.0; dim * dim];
            let mut extended = vec![1.0; dim];
            for (row, &label) in rows.chunks_exact(width).zip(labels) {
                extended[1..].copy_from_slice(&row[..p]);
                let prob = sigmoid(linear(beta, row));
                let residual = prob - if label { 1.0 } else { 0.0 };
                let weight = prob * (1.0 - prob);
                for (i, &xi) in extended.iter().enumerate() {
                    gradient[i] += residual * xi;
                    let wxi = weight * xi;
                    // Upper triangle only; mirrored below.
                    for (slot, &xj) in hessian[i * dim + i..(i + 1) * dim]
                        .iter_mut()
                        .zip(&extended[i..])
                    {
                        *slot += wxi * xj;
                    }
                }
            }
            (gradient, hessian)
        })
        .collect();
    let n = y.len() as f64;
    let mut gradient = vec![0.0; dim];
    let mut hessian = vec![0.0; dim * dim];
    for (g, h) in partials {
        for (total, part) in gradient.iter_mut().zip(&g) {
            *total += part;
        }
        for (total, part) in hessian.iter_mut().zip(&h) {
            *total += part;
        }
    }
    for value in gradient.iter_mut().chain(hessian.iter_mut()) {
        *value /= n;
    }
    for i in 0..dim {
        for j in 0..i {
            hessian[i * dim + j] = hessian[j * dim + i];
        }
    }
    for i in 1..dim {
        gradient[i] += l2 * beta[i];
        hessian[i * dim + i] += l2;
    }
    (gradient, hessian)
}

/// Solves `a x = b` for a symmetric positive definite `a` (overwritten by
/// its Cholesky factor); `None` when it is not positive definite.
fn cholesky_solve(a: &mut [f64], b: &[f64], dim: usize) -> Option<Vec<f64>> {
    for j in 0..dim {
        let mut diagonal = a[j * dim + j];
        for k in 0..j {
            diagonal -= a[j * dim + k] * a[j * dim + k];
        }
        if diagonal <= 1e-300 || !diagonal.is_finite() {
            return None;
        }
        let diagonal = diagonal.sqrt();
        a[j * dim + j] = diagonal;
        for i in j + 1..dim {
            let mut value = a[i * dim + j];
            for k in 0..j {
                value -= a[i * dim + k] * a[j * dim + k];
            }
            a[i * dim + j] = value / diagonal;
        }
    }
    // L z = b, then Lᵀ x = z.
    let mut z = b.to_vec();
    for i in 0..dim {
        for k in 0..i {
            z[i] -= a[i * dim + k] * z[k];
        }
        z[i] /= a[i * dim + i];
    }
    for i in (0..dim).rev() {
        for k in i + 1..dim {
            z[i] -= a[k * dim + i] * z[k];
        }
        z[i] /= a[i * dim + i];
    }
    Some(z)
}

/// Platt scaling: `P(y) = σ(a · decision + b)`, fitted on held-out rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    /// Slope on the decision value.
    pub a: f64,
    /// Offset.
    pub b: f64,
}

impl Platt {
    /// The identity: the model's own probabilities.
    pub const IDENTITY: Platt = Platt { a: 1.0, b: 0.0 };

    /// Fits the calibration of `decisions` against `labels`.
    ///
    /// # Errors
    ///
    /// As [`fit`]: no rows, one class only, values not finite.
    pub fn fit(decisions: &[f64], labels: &[bool]) -> Result<Platt, LogisticError> {
        let x = crate::matrix::MatrixView::new(decisions, 1).map_err(|_| LogisticError::Empty)?;
        let params = LogisticParams {
            l2: 1e-9,
            ..Default::default()
        };
        let model = fit(x, labels, &params, None)?;
        Ok(Platt {
            a: model.coef[0],
            b: model.intercept,
        })
    }

    /// The calibrated probability of a decision value.
    pub fn probability(&self, decision: f64) -> f64 {
        sigmoid(self.a * decision + self.b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;
    use rand::{Rng, SeedableRng};

    #[test]
    fn a_binary_feature_fits_the_two_log_odds_exactly() {
        // x = 0: 2 positives of 10; x = 1: 6 of 10.
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for i in 0..10 {
            values.push(0.0);
            labels.push(i < 2);
            values.push(1.0);
            labels.push(i < 6);
        }
        let x = Matrix::from_vec(values, 1).unwrap();
        let params = LogisticParams {
            l2: 0.0,
            ..Default::default()
        };
        let model = fit(x.view(), &labels, &params, None).unwrap();
        let logit = |p: f64| (p / (1.0 - p)).ln();
        assert!((model.intercept - logit(0.2)).abs() < 1e-9, "{model:?}");
        assert!(
            (model.coef[0] - (logit(0.6) - logit(0.2))).abs() < 1e-9,
            "{model:?}"
        );
        assert!((model.probability(&[1.0]) - 0.6).abs() < 1e-9);
    }

    #[test]
    fn the_penalty_shrinks_and_a_warm_start_lands_on_the_same_fit() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let n = 20_000;
        let truth = [1.5, -2.0, 0.0];
        let mut values = Vec::with_capacity(n * 3);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f64> = (0..3).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect();
            let z = -0.5 + row.iter().zip(&truth).map(|(x, b)| x * b).sum::<f64>();
            labels.push(rng.random::<f64>() < sigmoid(z));
            values.extend(row);
        }
        let x = Matrix::from_vec(values, 3).unwrap();
        let loose = fit(
            x.view(),
            &labels,
            &LogisticParams {
                l2: 0.0,
                ..Default::default()
            },
            None,
        )
        .unwrap();
        // The maximum-likelihood fit recovers the truth within sampling error.
        assert!((loose.intercept + 0.5).abs() < 0.08, "{loose:?}");
        for (fitted, true_coef) in loose.coef.iter().zip(truth) {
            assert!((fitted - true_coef).abs() < 0.1, "{loose:?}");
        }
        let strict_params = LogisticParams {
            l2: 0.5,
            ..Default::default()
        };
        let strict = fit(x.view(), &labels, &strict_params, None).unwrap();
        assert!(
            strict.coef[0].abs() < loose.coef[0].abs() * 0.8,
            "{strict:?}"
        );
        assert!(
            strict.coef[1].abs() < loose.coef[1].abs() * 0.8,
            "{strict:?}"
        );
        let warm = fit(x.view(), &labels, &strict_params, Some(&loose)).unwrap();
        for (a, b) in warm.coef.iter().zip(&strict.coef) {
            assert!((a - b).abs() < 1e-7);
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = Matrix::from_vec(vec![0.0, 1.0], 1).unwrap();
        let params = LogisticParams::default();
        assert_eq!(
            fit(x.view(), &[true, true], &params, None),
            Err(LogisticError::OneClass(true))
        );
        assert_eq!(
            fit(x.view(), &[true], &params, None),
            Err(LogisticError::Labels { rows: 2, labels: 1 })
        );
        let nan = Matrix::from_vec(vec![0.0, f64::NAN], 1);
        if let Ok(nan) = nan {
            assert_eq!(
                fit(nan.view(), &[true, false], &params, None),
                Err(LogisticError::NotFinite { row: 1, feature: 0 })
            );
        }
        // Perfect separation without a penalty has no finite optimum.
        let separated = fit(
            x.view(),
            &[false, true],
            &LogisticParams {
                l2: 0.0,
                max_iter: 200,
                ..Default::default()
            },
            None,
        );
        assert!(
            separated.is_err() || separated.as_ref().is_ok_and(|m| m.coef[0] > 10.0),
            "{separated:?}"
        );
    }

    #[test]
    fn platt_recovers_a_known_calibration() {
        // Labels drawn with P = σ(0.5 · d − 1): the fit finds a ≈ 0.5, b ≈ −1.
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let decisions: Vec<f64> = (0..40_000)
            .map(|_| rng.random::<f64>() * 8.0 - 4.0)
            .collect();
        let labels: Vec<bool> = decisions
            .iter()
            .map(|d| rng.random::<f64>() < sigmoid(0.5 * d - 1.0))
            .collect();
        let platt = Platt::fit(&decisions, &labels).unwrap();
        assert!((platt.a - 0.5).abs() < 0.05, "{platt:?}");
        assert!((platt.b + 1.0).abs() < 0.05, "{platt:?}");
    }
}
