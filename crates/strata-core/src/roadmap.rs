//! From segments to roadmap decisions.
//!
//! For one segmentation:
//!
//! - the **core segment** is the one with the highest NRR (then the lowest
//!   logo churn) among segments holding at least 10% of ARR;
//! - each segment **relies on** the product features (events of the last 28
//!   days) that at least 20% of its members use and that it uses more than
//!   the rest of the base, ranked by lift (share of members using ÷ share of
//!   the rest of the base using), top 3: protect these;
//! - it **does not use** the features fewer than 5% of its members use:
//!   candidates for simplification;
//! - its **unmet needs** are the feedback themes over-represented in its
//!   verbatims, weighting detractor answers twice, top 3 by ratio to the
//!   base's share;
//! - **priority** segments (invest) are the core segment and, if it also
//!   holds 10% of ARR and beats the base's NRR, the next best; the rest are
//!   maintenance (fixes only). Each priority segment's share of net new ARR
//!   over the last 12 months (12 × (new + expansion − contraction − churned
//!   MRR)) is compared with the 60% a priority segment should reach;
//! - a one-paragraph **recommendation** in the seeds' form.
use serde::Serialize;

use crate::measures::Economics;

/// Segments below this share of ARR cannot be the core segment.
pub const MIN_CORE_ARR_SHARE: f64 = 0.10;
/// A feature a segment relies on is used by at least this share of it.
pub const MIN_RELIED_SHARE: f64 = 0.20;
/// A feature used by fewer than this share of a segment is unused by it.
pub const MAX_UNUSED_SHARE: f64 = 0.05;
/// The share of net new ARR a priority segment should bring.
pub const PRIORITY_NET_NEW_BAR: f64 = 0.60;

/// A feature and how a segment uses it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureUse {
    /// The feature (event name).
    pub feature: String,
    /// Share of the segment's accounts using it.
    pub share: f64,
    /// That share ÷ the share of the rest of the base; `None` when nobody else uses it.
    pub lift: Option<f64>,
}

/// A theme over-represented in a segment's feedback.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Need {
    /// Theme name.
    pub theme: String,
    /// Its share of the segment's (detractor-weighted) verbatims.
    pub share: f64,
    /// That share ÷ the theme's share in the whole base.
    pub ratio: f64,
}

/// One segment's row of the roadmap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentRoadmap {
    /// Segment name.
    pub segment: String,
    /// Share of ARR.
    pub share_of_arr: Option<f64>,
    /// NRR.
    pub nrr: Option<f64>,
    /// Invest (priority) or fixes only (maintenance).
    pub priority: bool,
    /// Share of the base's net new ARR (priority segments).
    pub share_of_net_new_arr: Option<f64>,
    /// Top 3 features it relies on.
    pub relies_on: Vec<FeatureUse>,
    /// Features fewer than 5% of it use.
    pub does_not_use: Vec<String>,
    /// Top 3 unmet needs.
    pub unmet_needs: Vec<Need>,
}

/// The roadmap of a segmentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Roadmap {
    /// Segmentation name.
    pub segmentation: String,
    /// The core segment, if any holds 10% of ARR.
    pub core: Option<String>,
    /// Per segment.
    pub segments: Vec<SegmentRoadmap>,
    /// The paragraph.
    pub recommendation: String,
}

/// Inputs of [`roadmap`], one entry per account unless said otherwise.
#[derive(Debug, Clone, Copy)]
pub struct RoadmapInputs<'a> {
    /// Segmentation name.
    pub segmentation: &'a str,
    /// Segment names.
    pub segments: &'a [String],
    /// Per segment: its economics.
    pub economics: &'a [Economics],
    /// Per account: segment index.
    pub membership: &'a [Option<usize>],
    /// Feature names and, per feature, whether each account used it.
    pub features: &'a [(String, Vec<bool>)],
    /// Theme names.
    pub themes: &'a [String],
    /// Per verbatim: (account, theme, is detractor).
    pub verbatims: &'a [(usize, usize, bool)],
}

fn share(count: usize, total: usize) -> Option<f64> {
    (total > 0).then(|| count as f64 / total as f64)
}

/// Builds the roadmap of one segmentation.
pub fn roadmap(inputs: &RoadmapInputs<'_>) -> Roadmap {
    let n_segments = inputs.segments.len();
    let members: Vec<usize> = (0..n_segments)
        .map(|s| inputs.membership.iter().filter(|m| **m == Some(s)).count())
        .collect();
    let n_accounts = inputs.membership.len();

    // Core: highest NRR, then lowest churn, among segments with >= 10% of ARR.
    let core = (0..n_segments)
        .filter(|&s| {
            inputs.economics[s]
                .share_of_arr
                .is_some_and(|x| x >= MIN_CORE_ARR_SHARE)
        })
        .filter(|&s| inputs.economics[s].nrr.is_some())
        .max_by(|&a, &b| {
            let (ea, eb) = (&inputs.economics[a], &inputs.economics[b]);
            ea.nrr
                .unwrap_or(0.0)
                .total_cmp(&eb.nrr.unwrap_or(0.0))
                .then(
                    eb.logo_churn
                        .unwrap_or(1.0)
                        .total_cmp(&ea.logo_churn.unwrap_or(1.0)),
                )
                .then(b.cmp(&a))
        });
    // Base NRR: all cohort MRR together.
    let (now, before): (f64, f64) = inputs.economics.iter().fold((0.0, 0.0), |(n, b), e| {
        (n + e.mrr - e.new_mrr, b + e.mrr_12m_ago)
    });
    let base_nrr = (before > 0.0).then(|| now / before);
    let second = core.and_then(|core| {
        (0..n_segments)
            .filter(|&s| s != core)
            .filter(|&s| {
                inputs.economics[s]
                    .share_of_arr
                    .is_some_and(|x| x >= MIN_CORE_ARR_SHARE)
            })
            .filter(|&s| {
                inputs.economics[s]
                    .nrr
                    .zip(base_nrr)
                    .is_some_and(|(nrr, base)| nrr > base)
            })
            .max_by(|&a, &b| {
                inputs.economics[a]
                    .nrr
                    .unwrap_or(0.0)
                    .total_cmp(&inputs.economics[b].nrr.unwrap_or(0.0))
                    .then(b.cmp(&a))
            })
    });
    let net_new =
        |e: &Economics| 12.0 * (e.new_mrr + e.expansion_mrr - e.contraction_mrr - e.churned_mrr);
    let total_net_new: f64 = inputs.economics.iter().map(net_new).sum();

    // Theme shares, detractors weighted twice.
    let weight = |detractor: bool| if detractor { 2.0 } else { 1.0 };
    let mut base_theme = vec![0.0; inputs.themes.len()];
    let mut segment_theme = vec![vec![0.0; inputs.themes.len()]; n_segments];
    for &(account, theme, detractor) in inputs.verbatims {
        base_theme[theme] += weight(detractor);
        if let Some(Some(segment)) = inputs.membership.get(account) {
            segment_theme[*segment][theme] += weight(detractor);
        }
    }
    let base_total: f64 = base_theme.iter().sum();

    let segments: Vec<SegmentRoadmap> = (0..n_segments)
        .map(|s| {
            let mut uses: Vec<FeatureUse> = inputs
                .features
                .iter()
                .filter_map(|(feature, used)| {
                    let inside = (0..n_accounts)
                        .filter(|&a| inputs.membership[a] == Some(s) && used[a])
                        .count();
                    let outside = (0..n_accounts)
                        .filter(|&a| inputs.membership[a] != Some(s) && used[a])
                        .count();
                    let share_in = share(inside, members[s])?;
                    let share_out = share(outside, n_accounts - members[s]);
                    Some(FeatureUse {
                        feature: feature.clone(),
                        share: share_in,
                        lift: share_out.filter(|x| *x > 0.0).map(|out| share_in / out),
                    })
                })
                .collect();
            let does_not_use: Vec<String> = uses
                .iter()
                .filter(|u| u.share < MAX_UNUSED_SHARE)
                .map(|u| u.feature.clone())
                .collect();
            uses.retain(|u| u.share >= MIN_RELIED_SHARE && u.lift.is_none_or(|lift| lift > 1.0));
            uses.sort_by(|a, b| {
                b.lift
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&a.lift.unwrap_or(f64::INFINITY))
                    .then(a.feature.cmp(&b.feature))
            });
            uses.truncate(3);
            let segment_total: f64 = segment_theme[s].iter().sum();
            let mut needs: Vec<Need> = (0..inputs.themes.len())
                .filter_map(|t| {
                    let share_in =
                        (segment_total > 0.0).then(|| segment_theme[s][t] / segment_total)?;
                    let share_base = (base_total > 0.0).then(|| base_theme[t] / base_total)?;
                    (share_base > 0.0 && share_in / share_base > 1.0).then(|| Need {
                        theme: inputs.themes[t].clone(),
                        share: share_in,
                        ratio: share_in / share_base,
                    })
                })
                .collect();
            needs.sort_by(|a, b| b.ratio.total_cmp(&a.ratio).then(a.theme.cmp(&b.theme)));
            needs.truncate(3);
            let priority = Some(s) == core || Some(s) == second;
            SegmentRoadmap {
                segment: inputs.segments[s].clone(),
                share_of_arr: inputs.economics[s].share_of_arr,
                nrr: inputs.economics[s].nrr,
                priority,
                share_of_net_new_arr: (priority && total_net_new > 0.0)
                    .then(|| net_new(&inputs.economics[s]) / total_net_new),
                relies_on: uses,
                does_not_use,
                unmet_needs: needs,
            }
        })
        .collect();
    let recommendation = recommend(&segments, core);
    Roadmap {
        segmentation: inputs.segmentation.to_string(),
        core: core.map(|c| inputs.segments[c].clone()),
        segments,
        recommendation,
    }
}

fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "Our core segment is X. They rely on Y and have unmet needs around Z.
/// Invest in Z; explicitly not in W, which mainly serves a non-core segment."
fn recommend(segments: &[SegmentRoadmap], core: Option<usize>) -> String {
    let Some(core) = core else {
        return format!(
            "No segment holds {:.0}% of ARR, so there is no core segment to build for: revisit the segmentation.",
            MIN_CORE_ARR_SHARE * 100.0
        );
    };
    let segment = &segments[core];
    let relies: Vec<String> = segment
        .relies_on
        .iter()
        .map(|u| u.feature.clone())
        .collect();
    let needs: Vec<String> = segment
        .unmet_needs
        .iter()
        .map(|n| n.theme.clone())
        .collect();
    let mut text = format!(
        "Our core segment is {} ({} of ARR, NRR {}).",
        segment.segment,
        segment
            .share_of_arr
            .map_or("–".into(), |x| format!("{:.0}%", x * 100.0)),
        segment
            .nrr
            .map_or("–".into(), |x| format!("{:.0}%", x * 100.0)),
    );
    if !relies.is_empty() {
        text.push_str(&format!(" They rely on {}", list(&relies)));
        text.push_str(if needs.is_empty() { "." } else { " and" });
    } else if !needs.is_empty() {
        text.push_str(" They");
    }
    if !needs.is_empty() {
        text.push_str(&format!(" have unmet needs around {}.", list(&needs)));
        text.push_str(&format!(" Invest in {}", needs[0]));
    } else {
        text.push_str(" Protect what they rely on");
    }
    // W: the feature most specific to a non-core segment that the core does not rely on.
    let core_features: Vec<&str> = segment
        .relies_on
        .iter()
        .map(|u| u.feature.as_str())
        .collect();
    let other = segments
        .iter()
        .enumerate()
        .filter(|(idx, s)| *idx != core && !s.priority)
        .flat_map(|(_, s)| s.relies_on.iter().map(move |u| (s, u)))
        .filter(|(_, u)| !core_features.contains(&u.feature.as_str()))
        .max_by(|a, b| {
            a.1.lift
                .unwrap_or(0.0)
                .total_cmp(&b.1.lift.unwrap_or(0.0))
                .then(b.1.feature.cmp(&a.1.feature))
        });
    match other {
        Some((owner, feature)) => text.push_str(&format!(
            "; explicitly not in {}, which mainly serves {}, a non-core segment.",
            feature.feature, owner.segment
        )),
        None => text.push('.'),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn economics(share_of_arr: f64, nrr: f64, churn: f64) -> Economics {
        Economics {
            share_of_arr: Some(share_of_arr),
            nrr: Some(nrr),
            logo_churn: Some(churn),
            ..Economics::default()
        }
    }

    #[test]
    fn ranks_core_segment_features_and_needs() {
        // Three segments: A (60% ARR, NRR 1.2), B (35%, 1.25 but churns more
        // than C), C (5%: too small to be core even with NRR 1.5).
        let segments = vec!["A".to_string(), "B".to_string(), "C".to_string()];
        let econ = vec![
            economics(0.6, 1.2, 0.05),
            economics(0.35, 1.25, 0.1),
            economics(0.05, 1.5, 0.0),
        ];
        // Accounts 0-3 in A, 4-7 in B, 8-9 in C.
        let membership: Vec<Option<usize>> = (0..10)
            .map(|a| {
                Some(if a < 4 {
                    0
                } else if a < 8 {
                    1
                } else {
                    2
                })
            })
            .collect();
        // reports: all of A, one of B. api: none of A, all of B and C.
        let features = vec![
            (
                "reports".to_string(),
                (0..10).map(|a| a < 5).collect::<Vec<bool>>(),
            ),
            ("api".to_string(), (0..10).map(|a| a >= 4).collect()),
        ];
        let themes = vec!["pricing".to_string(), "speed".to_string()];
        // A: two speed detractors and one pricing; base: plus three pricing from B.
        let verbatims = vec![
            (0, 1, true),
            (1, 1, true),
            (2, 0, false),
            (4, 0, false),
            (5, 0, false),
            (6, 0, false),
        ];
        let result = roadmap(&RoadmapInputs {
            segmentation: "behavior",
            segments: &segments,
            economics: &econ,
            membership: &membership,
            features: &features,
            themes: &themes,
            verbatims: &verbatims,
        });
        assert_eq!(result.core.as_deref(), Some("B"));
        let b = &result.segments[1];
        assert!(b.priority);
        assert_eq!(b.relies_on[0].feature, "api");
        // api: 4/4 of B vs 2/6 of the rest: lift 3.
        assert_eq!(b.relies_on[0].lift, Some(3.0));
        let a = &result.segments[0];
        // A: reports 4/4 vs 1/6 of the rest: lift 6; api unused.
        assert_eq!(a.relies_on[0].feature, "reports");
        assert_eq!(a.relies_on[0].lift, Some(6.0));
        assert_eq!(a.does_not_use, vec!["api".to_string()]);
        // A's weighted verbatims: speed 4 of 5 (0.8) vs base 4 of 8 (0.5).
        assert_eq!(a.unmet_needs[0].theme, "speed");
        assert!((a.unmet_needs[0].ratio - 1.6).abs() < 1e-12);
        // A (NRR 1.2) does not beat the base NRR here (no MRR given: None), so only B is priority.
        assert!(!a.priority);
        assert!(!result.segments[2].priority);
        assert!(
            result
                .recommendation
                .starts_with("Our core segment is B (35% of ARR, NRR 125%). They rely on api"),
            "{}",
            result.recommendation
        );
        assert!(
            result
                .recommendation
                .contains("explicitly not in reports, which mainly serves A"),
            "{}",
            result.recommendation
        );
    }
}
