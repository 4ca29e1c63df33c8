//! Choosing the number of clusters: fit every `k` in a range, measure how
//! well separated and how reproducible each clustering is, and pick the one a
//! team can act on, with a sentence saying why.
//!
//! For each `k` (default 2 to 8) we fit k-means on all rows and record:
//!
//! - **inertia**, for the elbow plot (it always falls as `k` grows, so it is
//!   shown, never used to choose);
//! - **silhouette** on a deterministic sample of at most 5,000 rows (exact
//!   silhouette of the sample, see [`silhouette`]): are the clusters
//!   separated, or is the data cut through dense regions?
//! - **stability**: the mean adjusted Rand index, over 5 pairs, between two
//!   fits on independent bootstrap samples (at most 20,000 rows each), both
//!   predicting the same evaluation subsample. A `k` whose clusters are an
//!   artefact of the seed or of the particular accounts sampled scores low
//!   even when its silhouette looks good.
//!
//! The rule, in order:
//!
//! 1. keep the stable `k`s, those with stability ≥ 0.8 (if none is stable,
//!    keep all and say the result is tentative);
//! 2. score each as its silhouette minus 0.05 for every cluster above 5,
//!    because segments beyond five are hard to name, staff and act on, so a
//!    larger `k` must be clearly better separated to win;
//! 3. take the highest score, then prefer the largest stable `k` up to five
//!    whose score is a local peak (no lower than its neighbours') within 0.1
//!    of it: silhouette favours few clusters (`k = 2` often only splits off
//!    the most distant group), and a finer segmentation whose separation
//!    peaks says more.
//!
//! [`SelectKParams`] → [`SelectKParams::check`] → [`SelectKValidParams::select`]
//! gives a [`KSelection`]: the chosen `k`, the fitted model, the per-`k`
//! table, and the explanation, for instance "k = 4: highest silhouette (0.41)
//! among stable fits (ARI ≥ 0.80); next best k = 5 scored 0.39".
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::kmeans::{
    KMeansError, KMeansInit, KMeansModel, KMeansParams, KMeansParamsProblem, KMeansValidParams,
};
use crate::matrix::{Float, MatrixView};
use crate::metrics::{MetricsError, adjusted_rand_index, sample_indices, silhouettes};

/// Settings for choosing `k`, as the caller wrote them.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectKParams {
    k_min: usize,
    k_max: usize,
    silhouette_sample: usize,
    stability_pairs: usize,
    stability_sample: usize,
    min_stability: f64,
    max_actionable_k: usize,
    penalty_per_extra_cluster: f64,
    seed: u64,
    kmeans: KMeansParams,
}

/// Settings for choosing `k` that passed [`SelectKParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct SelectKValidParams {
    params: SelectKParams,
    kmeans: KMeansValidParams,
}

/// One problem with the settings for choosing `k`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectKParamsProblem {
    /// The range is empty or starts below 2.
    #[error("the range of k must satisfy 2 ≤ k_min ≤ k_max, got {k_min}..={k_max}")]
    KRange {
        /// Smallest `k` tried.
        k_min: usize,
        /// Largest `k` tried.
        k_max: usize,
    },
    /// A sample size that is too small to measure anything.
    #[error("the {which} sample must have at least 2 rows, got {size}")]
    SampleSize {
        /// Which sample.
        which: &'static str,
        /// The size given.
        size: usize,
    },
    /// No stability pairs.
    #[error("stability needs at least 1 pair of bootstrap fits, got 0")]
    ZeroPairs,
    /// A stability threshold outside `[0, 1]`.
    #[error("the minimum stability is an adjusted Rand index between 0 and 1, got {0}")]
    MinStability(f64),
    /// A negative or non-finite penalty.
    #[error(
        "the penalty per cluster above the actionable maximum must be a finite number ≥ 0, got {0}"
    )]
    Penalty(f64),
    /// Precomputed centroids fix `k`, so they cannot be used to choose it.
    #[error(
        "precomputed initial centroids fix k, so they cannot be used while choosing k; use k-means++"
    )]
    PrecomputedInit,
    /// A problem with the k-means settings used for every fit.
    #[error(transparent)]
    KMeans(KMeansParamsProblem),
}

/// Every problem found in the settings for choosing `k`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid settings for choosing k: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct SelectKParamsError {
    /// The problems, in the order the settings are checked.
    pub problems: Vec<SelectKParamsProblem>,
}

/// What can go wrong while choosing `k`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectKError {
    /// A fit failed (bad data, for instance).
    #[error(transparent)]
    KMeans(#[from] KMeansError),
    /// A quality measure failed.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// Not even `k_min` clusters fit the data.
    #[error(
        "the data has only {n_distinct} distinct {}, fewer than the smallest k tried ({k_min}); there is nothing to cluster",
        if *.n_distinct == 1 { "point" } else { "points" }
    )]
    NoFeasibleK {
        /// Smallest `k` tried.
        k_min: usize,
        /// Distinct rows in the data.
        n_distinct: usize,
    },
    /// Something that should be impossible happened.
    #[error("internal error: {0}; this is a bug in strata, please report it")]
    Internal(String),
}

/// The measures of one `k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KScore {
    /// Number of clusters.
    pub k: usize,
    /// Inertia of the fit on all rows.
    pub inertia: f64,
    /// Silhouette of that fit on the sample.
    pub silhouette: f64,
    /// Mean adjusted Rand index between bootstrap fits.
    pub stability: f64,
    /// Whether the stability reaches the threshold.
    pub is_stable: bool,
    /// Silhouette minus the penalty for clusters above the actionable
    /// maximum: what the choice maximises.
    pub score: f64,
}

/// The outcome of choosing `k`.
#[derive(Debug, Clone)]
pub struct KSelection<T> {
    /// The chosen number of clusters.
    pub k: usize,
    /// The fit on all rows for the chosen `k`.
    pub model: KMeansModel<T>,
    /// The measures of every `k` tried, by increasing `k`.
    pub scores: Vec<KScore>,
    /// One sentence saying why `k` was chosen.
    pub explanation: String,
}

impl Default for SelectKParams {
    fn default() -> Self {
        SelectKParams::new()
    }
}

impl SelectKParams {
    /// The defaults: `k` from 2 to 8, silhouette on ≤ 5,000 rows, stability
    /// over 5 pairs of bootstrap samples of ≤ 20,000 rows, stable from an ARI
    /// of 0.8, 0.05 off the score per cluster above 5, seed 0, and default
    /// k-means settings.
    pub fn new() -> Self {
        SelectKParams {
            k_min: 2,
            k_max: 8,
            silhouette_sample: 5_000,
            stability_pairs: 5,
            stability_sample: 20_000,
            min_stability: 0.8,
            max_actionable_k: 5,
            penalty_per_extra_cluster: 0.05,
            seed: 0,
            kmeans: KMeansParams::new(2),
        }
    }

    /// Sets the range of `k` tried, both ends included.
    pub fn with_k_range(mut self, k_min: usize, k_max: usize) -> Self {
        self.k_min = k_min;
        self.k_max = k_max;
        self
    }

    /// Sets the most rows the silhouette is computed on.
    pub fn with_silhouette_sample(mut self, max_rows: usize) -> Self {
        self.silhouette_sample = max_rows;
        self
    }

    /// Sets the number of bootstrap pairs.
    pub fn with_stability_pairs(mut self, n_pairs: usize) -> Self {
        self.stability_pairs = n_pairs;
        self
    }

    /// Sets the most rows in each bootstrap sample and in the evaluation
    /// subsample.
    pub fn with_stability_sample(mut self, max_rows: usize) -> Self {
        self.stability_sample = max_rows;
        self
    }

    /// Sets the stability (ARI) a `k` needs to count as stable.
    pub fn with_min_stability(mut self, min_stability: f64) -> Self {
        self.min_stability = min_stability;
        self
    }

    /// Sets the largest `k` that is not penalised, and the penalty per
    /// cluster above it.
    pub fn with_actionable_k(
        mut self,
        max_actionable_k: usize,
        penalty_per_extra_cluster: f64,
    ) -> Self {
        self.max_actionable_k = max_actionable_k;
        self.penalty_per_extra_cluster = penalty_per_extra_cluster;
        self
    }

    /// Sets the seed of every sample and fit.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the k-means settings of every fit; their number of clusters and
    /// seed are replaced for each fit.
    pub fn with_kmeans(mut self, kmeans: KMeansParams) -> Self {
        self.kmeans = kmeans;
        self
    }

    /// Checks the settings, reporting every problem at once.
    pub fn check(self) -> Result<SelectKValidParams, SelectKParamsError> {
        let mut problems = Vec::new();
        if self.k_min < 2 || self.k_min > self.k_max {
            problems.push(SelectKParamsProblem::KRange {
                k_min: self.k_min,
                k_max: self.k_max,
            });
        }
        for (which, size) in [
            ("silhouette", self.silhouette_sample),
            ("stability", self.stability_sample),
        ] {
            if size < 2 {
                problems.push(SelectKParamsProblem::SampleSize { which, size });
            }
        }
        if self.stability_pairs == 0 {
            problems.push(SelectKParamsProblem::ZeroPairs);
        }
        if !(0.0..=1.0).contains(&self.min_stability) {
            problems.push(SelectKParamsProblem::MinStability(self.min_stability));
        }
        if !(self.penalty_per_extra_cluster.is_finite() && self.penalty_per_extra_cluster >= 0.0) {
            problems.push(SelectKParamsProblem::Penalty(
                self.penalty_per_extra_cluster,
            ));
        }
        if matches!(self.kmeans.init(), KMeansInit::Precomputed(_)) {
            problems.push(SelectKParamsProblem::PrecomputedInit);
        }
        let kmeans = self
            .kmeans
            .clone()
            .with_n_clusters(self.k_min.max(1))
            .check();
        if let Err(error) = &kmeans {
            problems.extend(
                error
                    .problems
                    .iter()
                    .cloned()
                    .map(SelectKParamsProblem::KMeans),
            );
        }
        match kmeans {
            Ok(kmeans) if problems.is_empty() => Ok(SelectKValidParams {
                params: self,
                kmeans,
            }),
            _ => Err(SelectKParamsError { problems }),
        }
    }
}

impl SelectKValidParams {
    /// Fits every `k` in the range on `data`, measures each, and chooses.
    ///
    /// A `k` above the number of distinct rows cannot be fit; the range
    /// stops below it.
    pub fn select<T: Float>(&self, data: MatrixView<'_, T>) -> Result<KSelection<T>, SelectKError> {
        let params = &self.params;
        let n_rows = data.n_rows();
        let silhouette_rows =
            sample_indices(n_rows, params.silhouette_sample, mix(params.seed, 1, 0));
        let evaluation_rows =
            sample_indices(n_rows, params.stability_sample, mix(params.seed, 2, 0));
        let evaluation = data.select_rows(&evaluation_rows);
        let bootstrap_size = n_rows.min(params.stability_sample);

        // Each k is fit and measured on its own (its seeds depend on k
        // alone), so the ks run in parallel: a fit on fewer rows than a
        // chunk of work keeps one core busy, and the default range has seven.
        let outcomes: Vec<Result<Fitted<T>, SelectKError>> = (params.k_min..=params.k_max)
            .into_par_iter()
            .map(|k| self.measure_k(k, data, evaluation.view(), bootstrap_size))
            .collect();
        let mut stabilities = Vec::new();
        let mut models = Vec::new();
        for outcome in outcomes {
            match outcome? {
                Fitted::Stable {
                    k,
                    stability,
                    model,
                } => {
                    stabilities.push((k, stability));
                    models.push(model);
                }
                // The range stops below the first k that cannot be fit.
                Fitted::TooFewDistinct(n_distinct) => {
                    if models.is_empty() {
                        return Err(SelectKError::NoFeasibleK {
                            k_min: params.k_min,
                            n_distinct,
                        });
                    }
                    break;
                }
            }
        }
        // Every fit's silhouette on one sample: each pair's distance once.
        let labelings: Vec<&[usize]> = models.iter().map(|model| model.labels()).collect();
        let separations = silhouettes(data, &labelings, Some(&silhouette_rows))?;
        let mut scores = Vec::with_capacity(models.len());
        for ((model, (k, stability)), separation) in models.iter().zip(stabilities).zip(separations)
        {
            let separation = match separation {
                Ok(separation) => separation,
                // The sample fell entirely in one cluster: no evidence of
                // separation at all.
                Err(MetricsError::TooFewClusters { .. }) => 0.0,
                Err(error) => return Err(error.into()),
            };
            let extra_clusters = k.saturating_sub(params.max_actionable_k) as f64;
            scores.push(KScore {
                k,
                inertia: model.inertia(),
                silhouette: separation,
                stability,
                is_stable: stability >= params.min_stability,
                score: separation - params.penalty_per_extra_cluster * extra_clusters,
            });
        }
        let (chosen_idx, explanation) =
            choose_k(&scores, params.min_stability, params.max_actionable_k);
        Ok(KSelection {
            k: scores[chosen_idx].k,
            model: models.swap_remove(chosen_idx),
            scores,
            explanation,
        })
    }

    /// Fits `k` clusters on `data` and measures the fit's stability from
    /// bootstrap fits of `bootstrap_size` rows predicting `evaluation`
    /// (its silhouette is measured by [`SelectKValidParams::select`], for
    /// every `k` at once).
    fn measure_k<T: Float>(
        &self,
        k: usize,
        data: MatrixView<'_, T>,
        evaluation: MatrixView<'_, T>,
        bootstrap_size: usize,
    ) -> Result<Fitted<T>, SelectKError> {
        let params = &self.params;
        let n_rows = data.n_rows();
        let kmeans = self.kmeans_for(k, mix(params.seed, 3, k as u64))?;
        let model = match kmeans.fit(data) {
            Ok(model) => model,
            Err(KMeansError::TooFewDistinctPoints { n_distinct, .. }) => {
                return Ok(Fitted::TooFewDistinct(n_distinct));
            }
            Err(error) => return Err(error.into()),
        };
        let mut agreement_sum = 0.0;
        for pair_idx in 0..params.stability_pairs {
            let mut rng = StdRng::seed_from_u64(mix(params.seed, 4, (k * 1_000 + pair_idx) as u64));
            let mut fit_bootstrap = |fit_idx: u64| -> Result<Option<Vec<usize>>, SelectKError> {
                let rows: Vec<usize> = (0..bootstrap_size)
                    .map(|_| rng.random_range(0..n_rows))
                    .collect();
                let sample = data.select_rows(&rows);
                let seed = mix(params.seed, 5, (k * 1_000 + pair_idx * 2) as u64 + fit_idx);
                match self.kmeans_for(k, seed)?.fit(sample.view()) {
                    Ok(model) => Ok(Some(model.predict(evaluation)?)),
                    // Too few distinct rows in this bootstrap sample: the
                    // pair counts as no agreement.
                    Err(KMeansError::TooFewDistinctPoints { .. }) => Ok(None),
                    Err(error) => Err(error.into()),
                }
            };
            let first = fit_bootstrap(0)?;
            let second = fit_bootstrap(1)?;
            if let (Some(first), Some(second)) = (first, second) {
                agreement_sum += adjusted_rand_index(&first, &second)?;
            }
        }
        Ok(Fitted::Stable {
            k,
            stability: agreement_sum / params.stability_pairs as f64,
            model,
        })
    }

    fn kmeans_for(&self, k: usize, seed: u64) -> Result<KMeansValidParams, SelectKError> {
        // The template passed `check` with k_min clusters and without
        // precomputed centroids, so it passes with any k ≥ 2.
        self.kmeans
            .clone()
            .into_params()
            .with_n_clusters(k)
            .with_seed(seed)
            .check()
            .map_err(|error| {
                SelectKError::Internal(format!(
                    "k-means settings valid for k_min are invalid for k = {k}: {error}"
                ))
            })
    }
}

/// One `k`'s fit and its stability (its silhouette is measured with every
/// k's, [`SelectKValidParams::select`]), or the number of distinct rows when
/// fewer than `k`.
enum Fitted<T> {
    Stable {
        k: usize,
        stability: f64,
        model: KMeansModel<T>,
    },
    TooFewDistinct(usize),
}

/// How much lower a larger `k`'s score may be and still be preferred.
pub const SILHOUETTE_TOLERANCE: f64 = 0.1;

/// Picks the index of the chosen `k` in `scores` (non-empty, by increasing
/// `k`) and explains the choice in one sentence.
fn choose_k(scores: &[KScore], min_stability: f64, max_actionable_k: usize) -> (usize, String) {
    let any_stable = scores.iter().any(|score| score.is_stable);
    let in_pool = |score: &KScore| score.is_stable || !any_stable;
    let mut chosen_idx = 0;
    let mut best_score = f64::NEG_INFINITY;
    for (idx, score) in scores.iter().enumerate() {
        if in_pool(score) && score.score > best_score {
            best_score = score.score;
            chosen_idx = idx;
        }
    }
    // Silhouette favours few clusters (k = 2 often just splits off the most
    // distant group): a finer segmentation, up to the actionable maximum,
    // wins when its silhouette is a local peak nearly as high as the best.
    let best_idx = chosen_idx;
    let is_peak = |idx: usize| {
        let here = scores[idx].score;
        (idx == 0 || scores[idx - 1].score <= here)
            && scores.get(idx + 1).is_none_or(|next| next.score <= here)
    };
    for (idx, score) in scores.iter().enumerate() {
        if any_stable
            && score.is_stable
            && score.k > scores[chosen_idx].k
            && score.k <= max_actionable_k
            && score.score >= best_score - SILHOUETTE_TOLERANCE
            && is_peak(idx)
        {
            chosen_idx = idx;
        }
    }
    let chosen = &scores[chosen_idx];
    let runner_up = scores
        .iter()
        .enumerate()
        .filter(|(idx, score)| *idx != chosen_idx && in_pool(score))
        .max_by(|(_, left), (_, right)| {
            left.score
                .total_cmp(&right.score)
                .then(right.k.cmp(&left.k))
        })
        .map(|(_, score)| score);
    let penalty_note = if chosen.k > max_actionable_k {
        format!(", even after the penalty for more than {max_actionable_k} segments")
    } else if scores.iter().any(|score| {
        in_pool(score) && score.k > max_actionable_k && score.silhouette > chosen.silhouette
    }) {
        format!(" once k above {max_actionable_k} is penalised")
    } else {
        String::new()
    };
    let mut sentence = if any_stable && chosen_idx != best_idx {
        format!(
            "k = {}: silhouette {:.2} peaks here, within {SILHOUETTE_TOLERANCE:.2} of the best among stable fits (ARI ≥ {:.2}: k = {} at {:.2}, which splits the base more coarsely)",
            chosen.k,
            chosen.silhouette,
            min_stability,
            scores[best_idx].k,
            scores[best_idx].silhouette
        )
    } else if any_stable {
        format!(
            "k = {}: highest silhouette ({:.2}) among stable fits (ARI ≥ {:.2}){penalty_note}",
            chosen.k, chosen.silhouette, min_stability
        )
    } else {
        let most_stable = scores
            .iter()
            .max_by(|left, right| {
                left.stability
                    .total_cmp(&right.stability)
                    .then(right.k.cmp(&left.k))
            })
            .unwrap_or(chosen);
        format!(
            "k = {}: highest silhouette ({:.2}){penalty_note}, but no k reached stability ARI ≥ {:.2} (most stable: k = {} at {:.2}), so treat these clusters as tentative",
            chosen.k, chosen.silhouette, min_stability, most_stable.k, most_stable.stability
        )
    };
    match runner_up {
        Some(runner_up) => sentence.push_str(&format!(
            "; next best k = {} scored {:.2}",
            runner_up.k, runner_up.silhouette
        )),
        None if scores.len() > 1 => sentence.push_str("; no other k was stable"),
        None => {}
    }
    (chosen_idx, sentence)
}

/// A seed for one purpose (`stream`) and one item, derived from the user's
/// seed with the SplitMix64 finaliser, so nearby inputs give unrelated seeds.
fn mix(seed: u64, stream: u64, item: u64) -> u64 {
    let mut value = seed
        .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(item.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Normal};

    fn score(k: usize, silhouette: f64, stability: f64) -> KScore {
        let extra = k.saturating_sub(5) as f64;
        KScore {
            k,
            inertia: 0.0,
            silhouette,
            stability,
            is_stable: stability >= 0.8,
            score: silhouette - 0.05 * extra,
        }
    }

    /// Checks the chosen `k` and the explanation for a table of
    /// `(k, silhouette, stability)`.
    fn check(table: &[(usize, f64, f64)], expected_k: usize, expected_sentence: &str) {
        let scores: Vec<KScore> = table
            .iter()
            .map(|&(k, silhouette, stability)| score(k, silhouette, stability))
            .collect();
        let (chosen_idx, sentence) = choose_k(&scores, 0.8, 5);
        assert_eq!(scores[chosen_idx].k, expected_k, "{table:?}");
        assert_eq!(sentence, expected_sentence);
    }

    #[test]
    fn choice_rule() {
        check(
            &[
                (2, 0.30, 0.95),
                (3, 0.35, 0.9),
                (4, 0.41, 0.85),
                (5, 0.35, 0.9),
                (6, 0.45, 0.5),
            ],
            4,
            "k = 4: highest silhouette (0.41) among stable fits (ARI ≥ 0.80); next best k = 3 scored 0.35",
        );
        // k = 4 peaks within 0.1 of k = 2 and is finer; k = 6 is beyond five.
        // k = 3 would be within 0.1 too, but is no peak.
        check(
            &[
                (2, 0.69, 0.95),
                (3, 0.60, 0.9),
                (4, 0.65, 0.9),
                (6, 0.68, 0.9),
            ],
            1 + 3,
            "k = 4: silhouette 0.65 peaks here, within 0.10 of the best among stable fits (ARI ≥ 0.80: k = 2 at 0.69, which splits the base more coarsely); next best k = 2 scored 0.69",
        );
        // k = 7 has the best raw silhouette but pays 2 × 0.05.
        check(
            &[(2, 0.30, 0.95), (4, 0.41, 0.9), (7, 0.48, 0.9)],
            4,
            "k = 4: highest silhouette (0.41) among stable fits (ARI ≥ 0.80) once k above 5 is penalised; next best k = 7 scored 0.48",
        );
        check(
            &[(2, 0.30, 0.95), (6, 0.60, 0.9)],
            6,
            "k = 6: highest silhouette (0.60) among stable fits (ARI ≥ 0.80), even after the penalty for more than 5 segments; next best k = 2 scored 0.30",
        );
        check(
            &[(2, 0.10, 0.5), (3, 0.70, 0.9)],
            3,
            "k = 3: highest silhouette (0.70) among stable fits (ARI ≥ 0.80); no other k was stable",
        );
        check(
            &[(2, 0.21, 0.5), (3, 0.25, 0.72), (4, 0.20, 0.6)],
            3,
            "k = 3: highest silhouette (0.25), but no k reached stability ARI ≥ 0.80 (most stable: k = 3 at 0.72), so treat these clusters as tentative; next best k = 2 scored 0.21",
        );
        // Ties go to the larger k, within five, when it is a peak.
        check(
            &[(2, 0.5, 0.9), (3, 0.5, 0.9)],
            3,
            "k = 3: silhouette 0.50 peaks here, within 0.10 of the best among stable fits (ARI ≥ 0.80: k = 2 at 0.50, which splits the base more coarsely); next best k = 2 scored 0.50",
        );
    }

    fn blobs(n_blobs: usize, n_per_blob: usize, seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let noise = Normal::new(0.0, 1.0).expect("valid");
        let mut points = Vec::new();
        for blob_idx in 0..n_blobs {
            // Corners of a large square, then its centre: all far apart.
            let centre = [
                [0.0, 0.0],
                [30.0, 0.0],
                [0.0, 30.0],
                [30.0, 30.0],
                [15.0, 15.0],
            ][blob_idx];
            for _ in 0..n_per_blob {
                points.push(centre[0] + noise.sample(&mut rng));
                points.push(centre[1] + noise.sample(&mut rng));
            }
        }
        points
    }

    #[test]
    fn finds_the_number_of_blobs() {
        for (n_blobs, seed) in [(3, 1), (4, 2), (5, 3)] {
            let points = blobs(n_blobs, 100, seed);
            let data = MatrixView::new(&points[..], 2).expect("well formed");
            let params = SelectKParams::new()
                .with_seed(seed)
                .with_silhouette_sample(300)
                .check()
                .expect("valid");
            let selection = params.select(data).expect("selects");
            assert_eq!(selection.k, n_blobs, "{}", selection.explanation);
            assert_eq!(selection.model.n_clusters(), n_blobs);
            assert_eq!(
                selection
                    .scores
                    .iter()
                    .map(|score| score.k)
                    .collect::<Vec<_>>(),
                (2..=8).collect::<Vec<_>>()
            );
            assert!(
                selection
                    .explanation
                    .starts_with(&format!("k = {n_blobs}: highest silhouette")),
                "{}",
                selection.explanation
            );
            let chosen = &selection.scores[n_blobs - 2];
            assert!(
                chosen.stability > 0.99 && chosen.silhouette > 0.7,
                "{chosen:?}"
            );
            // Same seed, same answer.
            let again = params.select(data).expect("selects");
            assert_eq!(again.scores, selection.scores);
        }
    }

    #[test]
    fn stops_at_the_number_of_distinct_points_and_reports_bad_settings() {
        let points = [0.0, 0.0, 1.0, 10.0, 10.0, 11.0];
        let data = MatrixView::new(&points[..], 1).expect("well formed");
        let selection = SelectKParams::new()
            .check()
            .expect("valid")
            .select(data)
            .expect("selects");
        assert_eq!(
            selection
                .scores
                .iter()
                .map(|score| score.k)
                .collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        let single = [4.0, 4.0, 4.0];
        let outcome = SelectKParams::new()
            .check()
            .expect("valid")
            .select(MatrixView::new(&single[..], 1).expect("well formed"));
        assert_eq!(
            outcome.map(|selection| selection.k).map_err(|error| error.to_string()),
            Err("the data has only 1 distinct point, fewer than the smallest k tried (2); there is nothing to cluster".to_string())
        );
        let invalid = SelectKParams::new()
            .with_k_range(1, 0)
            .with_silhouette_sample(1)
            .with_stability_pairs(0)
            .with_min_stability(1.5)
            .with_kmeans(KMeansParams::new(3).with_n_init(0))
            .check();
        assert_eq!(
            invalid.map(|_| ()).map_err(|error| error.to_string()),
            Err("invalid settings for choosing k: the range of k must satisfy 2 ≤ k_min ≤ k_max, got 1..=0; the silhouette sample must have at least 2 rows, got 1; stability needs at least 1 pair of bootstrap fits, got 0; the minimum stability is an adjusted Rand index between 0 and 1, got 1.5; n_init must be at least 1 (the number of restarts), got 0".to_string())
        );
    }
}
