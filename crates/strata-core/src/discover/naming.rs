//! Names and one-line descriptions of clusters, from their centroids.
//!
//! A centroid is in robust-scaled units: 0 is the base's median account and
//! ±1 is one interquartile range away. Each feature has a *role* read from its
//! name (activity, API share, trend, recency, other), and a cluster's role
//! scores are the means of its centroid's coordinates over the features of
//! each role. The vocabulary, tried in order:
//!
//! | name | when |
//! |---|---|
//! | Dormant / declining | activity ≤ −0.4 and (trend ≤ −0.5, or recency ≤ −0.5, or activity ≤ −1.5) |
//! | Integration-dependent | API share ≥ 0.75 |
//! | Power users | activity ≥ 0.5, or ≥ 0.25 and the most active of the other clusters |
//! | Casual adopters | activity ≤ −0.25, or at least 0.4 below the most active other cluster |
//! | Declining / Growing | trend ≤ −0.5 / ≥ 0.5 |
//! | Core users | none of the above, but some role feature is present |
//! | High X, low Y | no role feature: the two most distinguishing features |
//!
//! Two clusters with the same name are told apart by the feature on which
//! they differ most: "Casual adopters (low trend)". A cluster is called
//! "Cluster N" only when no feature sets it apart at all.
pub use crate::catalog::{Role, format_value, label, role};
use crate::ml::{Matrix, Transform};

/// A cluster's name and the role scores behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    /// The name.
    pub name: String,
    /// Mean unweighted centroid coordinate per role; `None` without features of that role.
    pub activity: Option<f64>,
    /// API share score.
    pub api_share: Option<f64>,
    /// Trend score.
    pub trend: Option<f64>,
    /// Recency score (sign flipped: high is recent).
    pub recency: Option<f64>,
}

/// The centroid of `cluster` with the weights divided out, so that every
/// coordinate is in robust-scaled units.
pub fn unweighted_centroid(
    transform: &Transform,
    centroids: &Matrix<f64>,
    cluster: usize,
) -> Vec<f64> {
    centroids
        .row(cluster)
        .iter()
        .zip(transform.features())
        .map(|(&value, feature)| {
            if feature.weight > 0.0 {
                value / feature.weight
            } else {
                0.0
            }
        })
        .collect()
}

fn role_score(features: &[String], centroid: &[f64], wanted: Role) -> Option<f64> {
    let values: Vec<f64> = features
        .iter()
        .zip(centroid)
        .filter(|(feature, _)| role(feature) == wanted)
        .map(|(feature, &value)| {
            if wanted == Role::Recency && feature.as_str() == "days_since_last_event" {
                -value
            } else {
                value
            }
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Names every cluster; names are unique.
pub fn name_clusters(
    features: &[String],
    transform: &Transform,
    centroids: &Matrix<f64>,
) -> Vec<Named> {
    let k = centroids.n_rows();
    let unweighted: Vec<Vec<f64>> = (0..k)
        .map(|cluster| unweighted_centroid(transform, centroids, cluster))
        .collect();
    let scores: Vec<[Option<f64>; 4]> = unweighted
        .iter()
        .map(|centroid| {
            [Role::Activity, Role::ApiShare, Role::Trend, Role::Recency]
                .map(|wanted| role_score(features, centroid, wanted))
        })
        .collect();
    let at_most = |score: Option<f64>, bound: f64| score.is_some_and(|s| s <= bound);
    let at_least = |score: Option<f64>, bound: f64| score.is_some_and(|s| s >= bound);
    let is_dormant = |[activity, _, trend, recency]: [Option<f64>; 4]| {
        at_most(activity, -0.4)
            && (at_most(trend, -0.5) || at_most(recency, -0.5) || at_most(activity, -1.5))
    };
    let is_integration = |[_, api_share, _, _]: [Option<f64>; 4]| at_least(api_share, 0.75);
    // The most active cluster among those that are neither dormant nor
    // integration-dependent: power users are relative to the rest of the base.
    let max_activity = scores
        .iter()
        .filter(|score| !is_dormant(**score) && !is_integration(**score))
        .filter_map(|score| score[0])
        .fold(f64::NEG_INFINITY, f64::max);
    let mut named: Vec<Named> = scores
        .iter()
        .zip(&unweighted)
        .map(|(&score, centroid)| {
            let [activity, api_share, trend, recency] = score;
            let name = if is_dormant(score) {
                "Dormant / declining".to_string()
            } else if is_integration(score) {
                "Integration-dependent".to_string()
            } else if at_least(activity, 0.5)
                || (at_least(activity, 0.25) && activity == Some(max_activity))
            {
                "Power users".to_string()
            } else if at_most(activity, -0.25)
                || (max_activity >= 0.25 && at_most(activity, max_activity - 0.4))
            {
                "Casual adopters".to_string()
            } else if at_most(trend, -0.5) {
                "Declining".to_string()
            } else if at_least(trend, 0.5) {
                "Growing".to_string()
            } else if score.iter().any(Option::is_some) {
                "Core users".to_string()
            } else {
                high_low_name(features, centroid)
            };
            Named {
                name,
                activity,
                api_share,
                trend,
                recency,
            }
        })
        .collect();
    disambiguate(features, &unweighted, &mut named);
    named
}

/// "High X, low Y" from the two coordinates farthest from 0.
fn high_low_name(features: &[String], centroid: &[f64]) -> String {
    let mut order: Vec<usize> = (0..features.len()).collect();
    order.sort_by(|&a, &b| {
        centroid[b]
            .abs()
            .total_cmp(&centroid[a].abs())
            .then(a.cmp(&b))
    });
    let parts: Vec<String> = order
        .iter()
        .take(2)
        .filter(|&&idx| centroid[idx].abs() >= 0.25)
        .map(|&idx| {
            let direction = if centroid[idx] > 0.0 { "high" } else { "low" };
            format!("{direction} {}", label(&features[idx]))
        })
        .collect();
    let text = parts.join(", ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Makes names unique: clusters sharing a name get the feature on which they
/// differ most from the others of that name; empty names become "Cluster N".
fn disambiguate(features: &[String], centroids: &[Vec<f64>], named: &mut [Named]) {
    let k = named.len();
    for (cluster, entry) in named.iter_mut().enumerate() {
        if entry.name.is_empty() {
            entry.name = format!("Cluster {}", cluster + 1);
        }
    }
    let names: Vec<String> = named.iter().map(|n| n.name.clone()).collect();
    for cluster in 0..k {
        let same: Vec<usize> = (0..k)
            .filter(|&other| names[other] == names[cluster])
            .collect();
        if same.len() < 2 {
            continue;
        }
        let n_features = features.len();
        let group_mean: Vec<f64> = (0..n_features)
            .map(|f| same.iter().map(|&c| centroids[c][f]).sum::<f64>() / same.len() as f64)
            .collect();
        let best = (0..n_features).max_by(|&a, &b| {
            let da = (centroids[cluster][a] - group_mean[a]).abs();
            let db = (centroids[cluster][b] - group_mean[b]).abs();
            da.total_cmp(&db).then(b.cmp(&a))
        });
        if let Some(feature_idx) = best {
            let direction = if centroids[cluster][feature_idx] >= group_mean[feature_idx] {
                "high"
            } else {
                "low"
            };
            named[cluster].name = format!(
                "{} ({direction} {})",
                names[cluster],
                label(&features[feature_idx])
            );
        }
    }
    // Still equal (identical centroids): number them.
    for cluster in 0..k {
        let earlier = (0..cluster)
            .filter(|&other| named[other].name == named[cluster].name)
            .count();
        if earlier > 0 {
            named[cluster].name = format!("{} {}", named[cluster].name, earlier + 1);
        }
    }
}

/// "Integration-dependent: API share (28d) 0.81 (4.9x the base), active days
/// (28d) 3/28 (0.3x)": the name and the (up to) three features whose centroid
/// coordinates are farthest from the base's median.
pub fn describe(
    named: &Named,
    features: &[String],
    centroids: &Matrix<f64>,
    cluster: usize,
    means: &[Option<f64>],
    base_means: &[Option<f64>],
) -> String {
    let centroid = centroids.row(cluster);
    let mut order: Vec<usize> = (0..features.len()).collect();
    order.sort_by(|&a, &b| {
        centroid[b]
            .abs()
            .total_cmp(&centroid[a].abs())
            .then(a.cmp(&b))
    });
    let mut parts = Vec::new();
    for &feature_idx in order.iter().take(3) {
        if centroid[feature_idx].abs() < 0.1 && parts.len() >= 2 {
            break;
        }
        let Some(mean) = means[feature_idx] else {
            continue;
        };
        let feature = &features[feature_idx];
        let ratio = match base_means[feature_idx] {
            Some(base) if base.abs() > 1e-12 => format!(" ({:.1}x", mean / base),
            _ => String::new(),
        };
        let ratio = if ratio.is_empty() {
            String::new()
        } else if parts.is_empty() {
            format!("{ratio} the base)")
        } else {
            format!("{ratio})")
        };
        parts.push(format!(
            "{} {}{ratio}",
            label(feature),
            format_value(feature, mean)
        ));
    }
    if parts.is_empty() {
        named.name.clone()
    } else {
        format!("{}: {}", named.name, parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::TransformParams;

    fn features(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// An identity transform (no log, no scaling) of `n` features.
    fn identity(n: usize) -> Transform {
        let cells: Vec<Option<f64>> = (0..n * 2).map(|_| Some(0.0)).collect();
        TransformParams::new(n)
            .with_scaling(crate::ml::Scaling::None)
            .check()
            .unwrap()
            .fit(&cells)
            .unwrap()
    }

    #[test]
    fn the_four_archetypes_get_their_names() {
        let names = features(&[
            "active_days_28d",
            "events_28d",
            "api_share_28d",
            "trend_28d",
        ]);
        let centroids = Matrix::from_rows(&[
            vec![1.2, 1.0, 0.0, 0.2],    // power
            vec![-0.6, -0.5, -0.2, 0.0], // casual
            vec![-0.3, 0.4, 2.0, 0.0],   // integration
            vec![-1.8, -2.0, 0.0, -1.5], // dormant
        ])
        .unwrap();
        let named = name_clusters(&names, &identity(4), &centroids);
        let got: Vec<&str> = named.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            got,
            [
                "Power users",
                "Casual adopters",
                "Integration-dependent",
                "Dormant / declining"
            ]
        );
    }

    #[test]
    fn duplicate_names_are_told_apart_by_their_largest_difference() {
        let names = features(&["active_days_28d", "trend_28d"]);
        let centroids =
            Matrix::from_rows(&[vec![1.0, 0.4], vec![1.0, -0.4], vec![-2.0, -2.0]]).unwrap();
        let named = name_clusters(&names, &identity(2), &centroids);
        let got: Vec<&str> = named.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            got,
            [
                "Power users (high trend (28d vs the 28d before))",
                "Power users (low trend (28d vs the 28d before))",
                "Dormant / declining"
            ]
        );
    }

    #[test]
    fn custom_features_are_named_high_and_low() {
        let names = features(&["seats_used", "tickets_90"]);
        let centroids =
            Matrix::from_rows(&[vec![2.0, -0.5], vec![-1.0, 0.1], vec![0.0, 0.0]]).unwrap();
        let named = name_clusters(&names, &identity(2), &centroids);
        let got: Vec<&str> = named.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            got,
            [
                "High seats used, low tickets 90",
                "Low seats used",
                "Cluster 3"
            ]
        );
    }

    #[test]
    fn description_shows_values_and_ratios_to_the_base() {
        let names = features(&["api_share_28d", "active_days_28d"]);
        let centroids = Matrix::from_rows(&[vec![2.5, -1.0]]).unwrap();
        let named = Named {
            name: "Integration-dependent".into(),
            activity: None,
            api_share: None,
            trend: None,
            recency: None,
        };
        let text = describe(
            &named,
            &names,
            &centroids,
            0,
            &[Some(0.81), Some(3.0)],
            &[Some(0.81 / 4.9), Some(10.0)],
        );
        assert_eq!(
            text,
            "Integration-dependent: API share (28d) 0.81 (4.9x the base), active days (28d) 3/28 (0.3x)"
        );
    }
}
