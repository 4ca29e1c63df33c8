//! strata-ml: k-means clustering (our own), preprocessing, model selection,
//! decision trees and metrics, over plain row-major slices. It depends on
//! no other strata crate, so it builds and tests alone; `strata-core`
//! re-exports it as `strata_core::ml`.
//!
//! Behavioural segmentations come from clustering accounts on their usage
//! features. The pieces, in the order the pipeline uses them:
//!
//! - [`preprocess`]: turn raw feature values (with NULLs) into comparable
//!   numbers: impute, `log1p` counts, robust-scale, clip, weight. The fitted
//!   [`Transform`] is stored with the model so new accounts get exactly the
//!   same treatment.
//! - [`kmeans`]: greedy k-means++, Hamerly-accelerated Lloyd, mini-batch for
//!   large inputs, `f32` or `f64`, parallel and deterministic.
//! - [`select`]: choose `k` from silhouette and bootstrap stability, with a
//!   sentence saying why.
//! - [`metrics`]: adjusted Rand index and silhouette, reused for segment
//!   quality and for tests against known ground truth.
//! - [`matrix`]: the dense row-major matrices all of the above work on.
//! - [`tree`]: a small CART classification tree with balanced class weights,
//!   cross-validated predictions and balanced accuracy, to measure whether a
//!   segmentation can be detected from what is known at signup.
//! - [`logistic`]: L2-regularized logistic regression by Newton's method,
//!   with Platt calibration, for the learned churn and expansion risks.
#![warn(missing_docs)]

pub mod kmeans;
pub mod logistic;
pub mod matrix;
pub mod metrics;
pub mod preprocess;
pub mod select;
pub mod tree;

pub use kmeans::{
    KMeansAlgorithm, KMeansError, KMeansInit, KMeansModel, KMeansParams, KMeansValidParams,
};
pub use matrix::{DataError, Float, Matrix, MatrixView};
pub use metrics::{
    adjusted_rand_index, roc_auc, sample_indices, silhouette, silhouette_values, silhouettes,
};
pub use preprocess::{Scaling, Transform, TransformParams};
pub use select::{KScore, KSelection, SelectKParams};
