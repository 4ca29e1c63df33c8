//! Is a segmentation any good? Three tests per segment, a score, and the
//! NRR spread of the base.
//!
//! - **Cohesion**: the mean silhouette of the segment's accounts on the
//!   behavioral features (transformed as for clustering, on a deterministic
//!   sample of at most [`COHESION_SAMPLE`] assigned accounts). Above 0, members
//!   are closer to each other than to the nearest other segment.
//! - **Revenue concentration**: the segment's share of ARR; a segment under
//!   [`MIN_REVENUE_SHARE`] of revenue is flagged: too small to build for. For
//!   the segmentation, the share of ARR held by segments that pass.
//! - **Detectability**: can membership be told at signup? A small decision
//!   tree ([`crate::ml::tree`]) predicts the segment from firmographics and
//!   `created_at` only; its 5-fold cross-validated balanced accuracy is the
//!   segmentation's detectability, and each segment's is its one-vs-rest
//!   balanced accuracy from the same predictions. Above
//!   [`DETECTABILITY_SAMPLE`] assigned accounts the tree learns and is
//!   tested on a uniform sample of that many (the same sample every run).
//!   What that costs in accuracy: counting on `n` accounts adds at most
//!   `0.5 / sqrt(n)` of standard error per class (0.005 for a segment of 1%
//!   of 100,000), and a tree learned from fewer accounts splits somewhat
//!   differently. Measured on the million-account bench (`bench/run.sh
//!   10000000 1000000`), the sampled detectability was within 0.003 of the
//!   whole base's for each segmentation and within 0.04 for each segment:
//!   a segment within that of [`MIN_DETECTABILITY`] can land either side.
//! - **Quality score** = cohesion (negative counts as 0) × revenue
//!   concentration × detectability / number of segments.
//!
//! A segment *fails* a test when its cohesion is below [`MIN_COHESION`], its
//! revenue share below [`MIN_REVENUE_SHARE`], or its detectability below
//! [`MIN_DETECTABILITY`]. A segmentation with more than
//! [`MAX_ACTIONABLE_SEGMENTS`] segments is warned about too.
//!
//! **NRR spread**: accounts that paid 12 months ago (the NRR cohort) are
//! ranked by an engagement score, the mean of their transformed activity
//! features; the spread is the NRR of the top quartile minus the NRR of the
//! bottom quartile, in points, with its benchmark tier.
use serde::Serialize;

use crate::ml::tree::{self, Attribute, DecisionTreeParams};
use crate::ml::{MatrixView, sample_indices, silhouette_values};

use super::economics::AccountRevenue;

/// Segments under this share of ARR are flagged.
pub const MIN_REVENUE_SHARE: f64 = 0.10;
/// Segments with a mean silhouette below this are not cohesive.
pub const MIN_COHESION: f64 = 0.0;
/// Segments whose one-vs-rest balanced accuracy is below this cannot be told at signup.
pub const MIN_DETECTABILITY: f64 = 0.6;
/// More segments than this are hard to name, staff and act on.
pub const MAX_ACTIONABLE_SEGMENTS: usize = 5;
/// Accounts sampled for silhouettes.
pub const COHESION_SAMPLE: usize = 3_000;
/// Folds of the detectability cross-validation.
pub const DETECTABILITY_FOLDS: usize = 5;
/// Most assigned accounts the detectability tree is cross-validated on.
pub const DETECTABILITY_SAMPLE: usize = 100_000;

/// The quality of one segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentQuality {
    /// Mean silhouette of the segment's sampled accounts; `None` when it cannot be measured.
    pub cohesion: Option<f64>,
    /// Share of ARR; `None` when the base has no ARR.
    pub revenue_share: Option<f64>,
    /// One-vs-rest balanced accuracy of the signup-time tree.
    pub detectability: Option<f64>,
    /// cohesion⁺ × revenue share × detectability / segments.
    pub score: Option<f64>,
    /// The tests it fails, in words; empty when it passes.
    pub failures: Vec<String>,
}

impl SegmentQuality {
    /// Whether the segment passes every test that could be measured.
    pub fn passes(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The quality of a whole segmentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentationQuality {
    /// Mean silhouette of every sampled assigned account.
    pub cohesion: Option<f64>,
    /// Share of ARR in segments holding at least [`MIN_REVENUE_SHARE`] of it.
    pub revenue_concentration: Option<f64>,
    /// Cross-validated balanced accuracy of the signup-time tree.
    pub detectability: Option<f64>,
    /// Number of segments.
    pub segments: usize,
    /// cohesion⁺ × revenue concentration × detectability / segments.
    pub score: Option<f64>,
    /// What a user should know: too many segments, segments failing tests.
    /// Shown under the segmentation's table and in `segments.json`, not as
    /// run warnings: a segmentation can be useful and still fail a test.
    pub warnings: Vec<String>,
    /// The tree behind detectability, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
}

/// An attribute known at signup, one value per account.
#[derive(Debug, Clone, PartialEq)]
pub enum SignupColumn {
    /// Employees, days since signup, ...
    Numeric(String, Vec<Option<f64>>),
    /// Industry, country, plan, ...
    Categorical(String, Vec<Option<String>>),
}

/// What quality is measured from, one entry per account in feature-table order.
#[derive(Debug, Clone, Copy)]
pub struct QualityInputs<'a> {
    /// Behavioral features, transformed (one row per account).
    pub behavior: Option<MatrixView<'a, f64>>,
    /// Revenue per account.
    pub revenue: &'a [AccountRevenue],
    /// Attributes known at signup.
    pub signup: &'a [SignupColumn],
    /// Seed of the samples and folds.
    pub seed: u64,
}

fn score(
    cohesion: Option<f64>,
    revenue: Option<f64>,
    detectability: Option<f64>,
    n: usize,
) -> Option<f64> {
    Some(cohesion?.max(0.0) * revenue? * detectability? / n.max(1) as f64)
}

/// Measures every segment of a segmentation, and the segmentation.
pub fn segmentation_quality(
    inputs: &QualityInputs<'_>,
    names: &[String],
    membership: &[Option<usize>],
) -> (Vec<SegmentQuality>, SegmentationQuality) {
    let n_segments = names.len();
    let assigned: Vec<usize> = (0..membership.len())
        .filter(|&row| membership[row].is_some())
        .collect();
    let labels: Vec<usize> = assigned.iter().filter_map(|&row| membership[row]).collect();

    // Cohesion.
    let (segment_cohesion, cohesion) = match inputs.behavior {
        Some(behavior) => cohesion(behavior, &assigned, &labels, n_segments, inputs.seed),
        None => (vec![None; n_segments], None),
    };

    // Revenue.
    let total_arr: f64 = inputs.revenue.iter().map(|r| 12.0 * r.mrr_now).sum();
    let mut segment_arr = vec![0.0; n_segments];
    for (row, segment) in membership.iter().enumerate() {
        if let (Some(segment), Some(revenue)) = (segment, inputs.revenue.get(row)) {
            segment_arr[*segment] += 12.0 * revenue.mrr_now;
        }
    }
    let revenue_share: Vec<Option<f64>> = segment_arr
        .iter()
        .map(|&arr| (total_arr > 0.0).then(|| arr / total_arr))
        .collect();
    let concentration = (total_arr > 0.0).then(|| {
        revenue_share
            .iter()
            .flatten()
            .filter(|&&share| share >= MIN_REVENUE_SHARE)
            .sum::<f64>()
    });

    // Detectability, on a sample of the assigned accounts at scale.
    let sample = sample_indices(assigned.len(), DETECTABILITY_SAMPLE, inputs.seed ^ 0xde7);
    let (sampled, sampled_labels): (Vec<usize>, Vec<usize>) = sample
        .iter()
        .map(|&position| (assigned[position], labels[position]))
        .unzip();
    let (segment_detectability, detectability, detector) =
        detectability(inputs.signup, &sampled, &sampled_labels, names, inputs.seed);

    let mut segments = Vec::with_capacity(n_segments);
    let mut warnings = Vec::new();
    if n_segments > MAX_ACTIONABLE_SEGMENTS {
        warnings.push(format!(
            "{n_segments} segments: more than {MAX_ACTIONABLE_SEGMENTS} are hard to name, staff and act on"
        ));
    }
    for (idx, name) in names.iter().enumerate() {
        let mut failures = Vec::new();
        if let Some(value) = segment_cohesion[idx]
            && value < MIN_COHESION
        {
            failures.push(format!(
                "members behave unalike (silhouette {value:.3} < {MIN_COHESION})"
            ));
        }
        if let Some(share) = revenue_share[idx]
            && share < MIN_REVENUE_SHARE
        {
            failures.push(format!(
                "holds {:.1}% of ARR (< {:.0}%)",
                share * 100.0,
                MIN_REVENUE_SHARE * 100.0
            ));
        }
        if let Some(value) = segment_detectability[idx]
            && value < MIN_DETECTABILITY
        {
            failures.push(format!(
                "cannot be told at signup (balanced accuracy {value:.3} < {MIN_DETECTABILITY})"
            ));
        }
        if !failures.is_empty() {
            warnings.push(format!("segment `{name}` {}", failures.join("; ")));
        }
        segments.push(SegmentQuality {
            cohesion: segment_cohesion[idx],
            revenue_share: revenue_share[idx],
            detectability: segment_detectability[idx],
            score: score(
                segment_cohesion[idx],
                revenue_share[idx],
                segment_detectability[idx],
                n_segments,
            ),
            failures,
        });
    }
    let overall = SegmentationQuality {
        cohesion,
        revenue_concentration: concentration,
        detectability,
        segments: n_segments,
        score: score(cohesion, concentration, detectability, n_segments),
        warnings,
        detector,
    };
    (segments, overall)
}

/// Per-segment and overall mean silhouette on a sample of assigned accounts.
fn cohesion(
    behavior: MatrixView<'_, f64>,
    assigned: &[usize],
    labels: &[usize],
    n_segments: usize,
    seed: u64,
) -> (Vec<Option<f64>>, Option<f64>) {
    let sample: Vec<usize> = sample_indices(assigned.len(), COHESION_SAMPLE, seed)
        .into_iter()
        .map(|idx| assigned[idx])
        .collect();
    let all_labels: Vec<usize> = {
        let mut all = vec![0; behavior.n_rows()];
        for (&row, &label) in assigned.iter().zip(labels) {
            all[row] = label;
        }
        all
    };
    let Ok(values) = silhouette_values(behavior, &all_labels, Some(&sample)) else {
        return (vec![None; n_segments], None);
    };
    let mut sums = vec![0.0; n_segments];
    let mut counts = vec![0usize; n_segments];
    for (&row, value) in sample.iter().zip(&values) {
        sums[all_labels[row]] += value;
        counts[all_labels[row]] += 1;
    }
    let per_segment = sums
        .iter()
        .zip(&counts)
        .map(|(&sum, &count)| (count > 0).then(|| sum / count as f64))
        .collect();
    let overall = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
    (per_segment, overall)
}

/// Cross-validated balanced accuracy of a small tree on signup attributes.
fn detectability(
    signup: &[SignupColumn],
    assigned: &[usize],
    labels: &[usize],
    names: &[String],
    seed: u64,
) -> (Vec<Option<f64>>, Option<f64>, Option<String>) {
    let n_segments = names.len();
    let none = (vec![None; n_segments], None, None);
    if signup.is_empty() || assigned.len() < 2 * DETECTABILITY_FOLDS || n_segments < 2 {
        return none;
    }
    // The assigned accounts' values, borrowed by the tree.
    let numeric: Vec<Vec<Option<f64>>> = signup
        .iter()
        .map(|column| match column {
            SignupColumn::Numeric(_, values) => assigned.iter().map(|&row| values[row]).collect(),
            SignupColumn::Categorical(..) => Vec::new(),
        })
        .collect();
    let categorical: Vec<Vec<Option<&str>>> = signup
        .iter()
        .map(|column| match column {
            SignupColumn::Categorical(_, values) => {
                assigned.iter().map(|&row| values[row].as_deref()).collect()
            }
            SignupColumn::Numeric(..) => Vec::new(),
        })
        .collect();
    let attributes: Vec<Attribute<'_>> = signup
        .iter()
        .enumerate()
        .map(|(idx, column)| match column {
            SignupColumn::Numeric(name, _) => Attribute::Numeric {
                name,
                values: &numeric[idx],
            },
            SignupColumn::Categorical(name, _) => Attribute::Categorical {
                name,
                values: &categorical[idx],
            },
        })
        .collect();
    let Ok(params) = DecisionTreeParams::new().check() else {
        return none;
    };
    let Ok(predicted) = tree::cross_val_predict(
        &attributes,
        labels,
        n_segments,
        DETECTABILITY_FOLDS,
        seed,
        &params,
    ) else {
        return none;
    };
    let Ok(accuracy) = tree::balanced_accuracy(labels, &predicted, n_segments) else {
        return none;
    };
    let class_names: Vec<&str> = names.iter().map(String::as_str).collect();
    let detector = params
        .fit(&attributes, labels, n_segments)
        .ok()
        .map(|tree| tree.describe(&class_names));
    (accuracy.per_class, Some(accuracy.overall), detector)
}

/// The NRR spread between the most and least engaged quartiles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NrrSpread {
    /// NRR of the top engagement quartile.
    pub top_nrr: Option<f64>,
    /// NRR of the bottom engagement quartile.
    pub bottom_nrr: Option<f64>,
    /// `(top − bottom) × 100`, in points.
    pub spread_points: Option<f64>,
    /// The benchmark tier of the spread.
    pub tier: Option<&'static str>,
    /// Accounts in each quartile (of the NRR cohort).
    pub quartile_accounts: usize,
    /// Features behind the engagement score.
    pub features: Vec<String>,
}

/// The tier of a spread in points.
pub fn spread_tier(points: f64) -> &'static str {
    if points < 15.0 {
        "tightly targeted"
    } else if points < 30.0 {
        "healthy"
    } else if points < 50.0 {
        "wide (segmentation needed)"
    } else if points < 75.0 {
        "very wide (refocus required)"
    } else {
        "critical"
    }
}

fn nrr(revenue: &[AccountRevenue], rows: &[usize]) -> Option<f64> {
    let before: f64 = rows.iter().map(|&row| revenue[row].mrr_12m_ago).sum();
    let now: f64 = rows.iter().map(|&row| revenue[row].mrr_now).sum();
    (before > 0.0).then(|| now / before)
}

/// NRR spread from an engagement score per account (`None`: no score).
pub fn nrr_spread(
    engagement: &[Option<f64>],
    revenue: &[AccountRevenue],
    features: Vec<String>,
) -> NrrSpread {
    let mut cohort: Vec<(f64, usize)> = engagement
        .iter()
        .enumerate()
        .filter_map(|(row, score)| {
            let score = (*score)?;
            (revenue.get(row)?.mrr_12m_ago > 0.0).then_some((score, row))
        })
        .collect();
    cohort.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let quartile = cohort.len() / 4;
    if quartile == 0 {
        return NrrSpread {
            top_nrr: None,
            bottom_nrr: None,
            spread_points: None,
            tier: None,
            quartile_accounts: 0,
            features,
        };
    }
    let bottom: Vec<usize> = cohort[..quartile].iter().map(|&(_, row)| row).collect();
    let top: Vec<usize> = cohort[cohort.len() - quartile..]
        .iter()
        .map(|&(_, row)| row)
        .collect();
    let top_nrr = nrr(revenue, &top);
    let bottom_nrr = nrr(revenue, &bottom);
    let spread_points = top_nrr
        .zip(bottom_nrr)
        .map(|(top, bottom)| (top - bottom) * 100.0);
    NrrSpread {
        top_nrr,
        bottom_nrr,
        spread_points,
        tier: spread_points.map(spread_tier),
        quartile_accounts: quartile,
        features,
    }
}

/// What a segmentation is for, which decides the tests that judge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// How accounts use the product (clusters, rules on behavior).
    Behavior,
    /// What accounts pay (rules on ARR or MRR).
    Value,
    /// Who accounts are (rules on account columns only).
    Firmographic,
    /// What accounts ask for (themes).
    Needs,
    /// How healthy accounts are (scorecards, rules that claim risk).
    Health,
}

impl Purpose {
    /// In words, for "judged as a ... segmentation".
    pub fn label(self) -> &'static str {
        match self {
            Purpose::Behavior => "behavioral",
            Purpose::Value => "value",
            Purpose::Firmographic => "firmographic",
            Purpose::Needs => "needs",
            Purpose::Health => "health",
        }
    }
}

/// One of the three tests, judged for a segmentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestVerdict {
    /// `cohesion`, `revenue concentration` or `detectability`.
    pub test: &'static str,
    /// The measured value, when it could be measured.
    pub value: Option<f64>,
    /// Whether it passes; `None` when not measured.
    pub passes: Option<bool>,
    /// A test that does not judge a segmentation of this purpose: shown,
    /// not counted.
    pub informational: bool,
    /// What the value means, and what to do when it fails.
    pub advice: String,
}

/// A segmentation's quality as a verdict: how many of the tests that judge
/// it pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// What the segmentation is for.
    pub purpose: Purpose,
    /// Tests that judge it and pass.
    pub passed: usize,
    /// Tests that judge it and were measured.
    pub judged: usize,
    /// Each test.
    pub tests: Vec<TestVerdict>,
    /// "passes 2 of 3 tests (fails detectability: ...)".
    pub summary: String,
}

/// Share of ARR the passing segments must hold for the segmentation to pass
/// revenue concentration.
pub const MIN_CONCENTRATION: f64 = 0.8;

/// Judges a segmentation's quality by what it is for: every purpose is
/// judged on revenue concentration (segments worth building for); behavior
/// and needs also on cohesion (members behave alike) and on detectability
/// (sales can tell them at signup) except health, which changes after
/// signup by design; value and firmographic segmentations are not failed
/// for behavioral cohesion, which is shown as informational.
pub fn verdict(quality: &SegmentationQuality, purpose: Purpose) -> Verdict {
    let cohesion_judges = matches!(purpose, Purpose::Behavior | Purpose::Needs);
    let detectability_judges = !matches!(purpose, Purpose::Health | Purpose::Firmographic);
    let tests = vec![
        TestVerdict {
            test: "cohesion",
            value: quality.cohesion,
            passes: quality.cohesion.map(|c| c >= MIN_COHESION),
            informational: !cohesion_judges,
            advice: if cohesion_judges {
                "members should behave more like each other than like the nearest other segment (silhouette above 0); if not, cluster on other features or merge segments".into()
            } else {
                format!(
                    "informational for a {} segmentation: its segments are not meant to behave alike",
                    purpose.label()
                )
            },
        },
        TestVerdict {
            test: "revenue concentration",
            value: quality.revenue_concentration,
            passes: quality
                .revenue_concentration
                .map(|r| r >= MIN_CONCENTRATION),
            informational: false,
            advice: format!(
                "at least {:.0}% of ARR should sit in segments holding {:.0}% or more of it; if not, merge the small segments",
                100.0 * MIN_CONCENTRATION,
                100.0 * MIN_REVENUE_SHARE
            ),
        },
        TestVerdict {
            test: "detectability",
            value: quality.detectability,
            passes: quality.detectability.map(|d| d >= MIN_DETECTABILITY),
            informational: !detectability_judges,
            advice: if detectability_judges {
                format!(
                    "sales should tell the segment at signup (balanced accuracy {MIN_DETECTABILITY} or more from firmographics); if not, route new accounts by the ICP instead"
                )
            } else if purpose == Purpose::Firmographic {
                "informational for a firmographic segmentation: it is defined by what is known at signup".into()
            } else {
                "informational for a health segmentation: health is earned after signup".into()
            },
        },
    ];
    let judged: Vec<&TestVerdict> = tests
        .iter()
        .filter(|t| !t.informational && t.passes.is_some())
        .collect();
    let passed = judged.iter().filter(|t| t.passes == Some(true)).count();
    let failing: Vec<String> = judged
        .iter()
        .filter(|t| t.passes == Some(false))
        .map(|t| {
            format!(
                "fails {} ({})",
                t.test,
                t.value.map_or("–".to_string(), |v| format!("{v:.2}"))
            )
        })
        .collect();
    let summary = if judged.is_empty() {
        "no test could be measured".to_string()
    } else if failing.is_empty() {
        format!("passes {passed} of {} tests", judged.len())
    } else {
        format!(
            "passes {passed} of {} tests; {}",
            judged.len(),
            failing.join(", ")
        )
    };
    Verdict {
        purpose,
        passed,
        judged: judged.len(),
        tests,
        summary,
    }
}

/// The segmentation to act on: the one passing the most of the seeds'
/// three tests (all three, whatever its purpose, except that a firmographic
/// segmentation's detectability is no evidence: it is defined by what is
/// known at signup), then the highest quality score; `None` when none
/// passes any.
pub fn to_act_on(segmentations: &[(&SegmentationQuality, Purpose)]) -> Option<usize> {
    let passes = |(quality, purpose): &(&SegmentationQuality, Purpose)| {
        verdict(quality, Purpose::Behavior)
            .tests
            .iter()
            .filter(|t| t.passes == Some(true))
            .filter(|t| !(t.test == "detectability" && *purpose == Purpose::Firmographic))
            .count()
    };
    segmentations
        .iter()
        .enumerate()
        .filter(|(_, s)| passes(s) > 0)
        .max_by(|(ia, a), (ib, b)| {
            passes(a)
                .cmp(&passes(b))
                .then(
                    a.0.score
                        .unwrap_or(0.0)
                        .total_cmp(&b.0.score.unwrap_or(0.0)),
                )
                .then(ib.cmp(ia))
        })
        .map(|(idx, _)| idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quality(
        cohesion: f64,
        concentration: f64,
        detectability: f64,
        score: f64,
    ) -> SegmentationQuality {
        SegmentationQuality {
            cohesion: Some(cohesion),
            revenue_concentration: Some(concentration),
            detectability: Some(detectability),
            segments: 4,
            score: Some(score),
            warnings: Vec::new(),
            detector: None,
        }
    }

    #[test]
    fn verdicts_judge_by_purpose() {
        let q = quality(-0.1, 0.9, 0.5, 0.0);
        let behavior = verdict(&q, Purpose::Behavior);
        assert_eq!((behavior.passed, behavior.judged), (1, 3));
        assert_eq!(
            behavior.summary,
            "passes 1 of 3 tests; fails cohesion (-0.10), fails detectability (0.50)"
        );
        // A value segmentation is not failed for cohesion: it is shown as
        // informational.
        let value = verdict(&q, Purpose::Value);
        assert_eq!((value.passed, value.judged), (1, 2));
        assert!(
            value.tests[0].informational
                && value.tests[0]
                    .advice
                    .starts_with("informational for a value")
        );
        // Health is judged on revenue concentration alone.
        let health = verdict(&q, Purpose::Health);
        assert_eq!(health.summary, "passes 1 of 1 tests");
        // The one to act on passes most of the three, then scores highest.
        let good = quality(0.2, 0.9, 0.7, 0.1);
        let middling = quality(0.2, 0.9, 0.5, 0.3);
        let b = Purpose::Behavior;
        assert_eq!(to_act_on(&[(&q, b), (&middling, b), (&good, b)]), Some(2));
        assert_eq!(to_act_on(&[(&quality(-0.1, 0.5, 0.5, 0.0), b)]), None);
        // A firmographic segmentation is told apart at signup by
        // definition: that pass does not count, so a behavioral one passing
        // the same other two tests wins on its score... and one passing all
        // three wins outright.
        let firmographic = quality(0.2, 0.9, 0.95, 0.5);
        assert_eq!(
            to_act_on(&[(&firmographic, Purpose::Firmographic), (&good, b)]),
            Some(1)
        );
        let size = verdict(&firmographic, Purpose::Firmographic);
        assert_eq!(size.summary, "passes 1 of 1 tests");
    }

    fn revenue(pairs: &[(f64, f64)]) -> Vec<AccountRevenue> {
        pairs
            .iter()
            .map(|&(mrr_now, mrr_12m_ago)| AccountRevenue {
                mrr_now,
                mrr_12m_ago,
            })
            .collect()
    }

    #[test]
    fn tiers_follow_the_benchmark() {
        assert_eq!(spread_tier(0.0), "tightly targeted");
        assert_eq!(spread_tier(14.9), "tightly targeted");
        assert_eq!(spread_tier(15.0), "healthy");
        assert_eq!(spread_tier(30.0), "wide (segmentation needed)");
        assert_eq!(spread_tier(50.0), "very wide (refocus required)");
        assert_eq!(spread_tier(75.0), "critical");
    }

    #[test]
    fn spread_compares_top_and_bottom_quartiles_of_the_nrr_cohort() {
        // Eight paying accounts and one that did not pay 12 months ago (row 8,
        // excluded although it is the most engaged).
        let revenue = revenue(&[
            (50.0, 100.0),  // 0: score 0.0
            (70.0, 100.0),  // 1: score 1.0
            (100.0, 100.0), // 2
            (100.0, 100.0), // 3
            (100.0, 100.0), // 4
            (100.0, 100.0), // 5
            (120.0, 100.0), // 6: score 6.0
            (160.0, 100.0), // 7: score 7.0
            (999.0, 0.0),   // 8
        ]);
        let engagement: Vec<Option<f64>> = (0..9).map(|row| Some(row as f64)).collect();
        let spread = nrr_spread(&engagement, &revenue, vec!["events_28d".into()]);
        // Quartiles of 8: bottom {0, 1} NRR 120/200 = 0.6, top {6, 7} 280/200 = 1.4.
        assert_eq!(spread.quartile_accounts, 2);
        assert_eq!(spread.bottom_nrr, Some(0.6));
        assert_eq!(spread.top_nrr, Some(1.4));
        assert!((spread.spread_points.unwrap() - 80.0).abs() < 1e-9);
        assert_eq!(spread.tier, Some("critical"));
    }

    #[test]
    fn spread_needs_four_accounts_in_the_cohort() {
        let spread = nrr_spread(
            &[Some(1.0), Some(2.0)],
            &revenue(&[(1.0, 1.0), (1.0, 1.0)]),
            vec![],
        );
        assert_eq!(spread.spread_points, None);
        assert_eq!(spread.tier, None);
    }

    #[test]
    fn revenue_and_cohesion_tests_flag_segments() {
        // Two tight groups on a line: 0, 0.1, 0.2 | 10, 10.1, 10.2; segment 1
        // holds 5% of ARR.
        let points = [0.0, 0.1, 0.2, 10.0, 10.1, 10.2];
        let behavior = MatrixView::new(&points[..], 1).unwrap();
        let revenue = revenue(&[
            (95.0, 0.0),
            (0.0, 0.0),
            (0.0, 0.0),
            (5.0, 0.0),
            (0.0, 0.0),
            (0.0, 0.0),
        ]);
        let membership = [Some(0), Some(0), Some(0), Some(1), Some(1), Some(1)];
        let inputs = QualityInputs {
            behavior: Some(behavior),
            revenue: &revenue,
            signup: &[],
            seed: 0,
        };
        let names = vec!["big".to_string(), "small".to_string()];
        let (segments, overall) = segmentation_quality(&inputs, &names, &membership);
        assert!(segments[0].cohesion.unwrap() > 0.9);
        assert_eq!(segments[0].revenue_share, Some(0.95));
        assert!(segments[0].passes());
        assert_eq!(
            segments[1].failures,
            vec!["holds 5.0% of ARR (< 10%)".to_string()]
        );
        assert_eq!(overall.revenue_concentration, Some(0.95));
        assert_eq!(overall.detectability, None);
        assert_eq!(overall.score, None);
        assert_eq!(
            overall.warnings,
            vec!["segment `small` holds 5.0% of ARR (< 10%)".to_string()]
        );
    }
}
