//! Segmentation definitions as versioned, hashable documents.
//!
//! A definition is what decides membership: for `rules`, every segment's rule
//! in canonical rule-language text (so reformatting a rule is not a change);
//! for `clusters`, the features, k, weights and seed (not the fitted
//! centroids, which are data); for `themes`, k. Custom features a definition
//! reads are part of it, since changing `integrations_60d` changes who is in
//! a segment that uses it. The document is pretty JSON with a fixed key
//! order: its SHA-256 is the content hash, and its lines are what
//! `strata definitions diff` compares.
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::project::{ClusterCount, Project, SegmentationKind};
use crate::rules;

/// One segmentation's definition, ready to hash and store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionDoc {
    /// Segmentation name.
    pub segmentation: String,
    /// Pretty JSON, fixed key order.
    pub body: String,
    /// Hex SHA-256 of `body`.
    pub hash: String,
}

#[derive(Serialize)]
struct Body<'a> {
    segmentation: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    segments: Vec<SegmentBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clusters: Option<ClusterBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    themes_k: Option<String>,
    /// A scorecard's whole definition, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    custom_features: Vec<String>,
}

/// A segment of a stored definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SegmentBody {
    /// Segment name.
    pub name: String,
    /// Canonical rule text.
    pub when: String,
}

#[derive(Serialize)]
struct ClusterBody {
    features: Vec<String>,
    k: String,
    weights: Vec<f64>,
    seed: u64,
}

/// The definition documents of every segmentation of `project`; rules are
/// canonicalized against the feature table's schema (a rule that does not
/// check there keeps its text as written).
pub fn of_project(project: &Project, schema: &rules::Schema) -> Vec<DefinitionDoc> {
    let custom: std::collections::BTreeMap<&str, String> = project
        .custom_features
        .iter()
        .map(|feature| {
            (
                feature.name.as_str(),
                format!("{}: {:?}", feature.name, feature.kind),
            )
        })
        .collect();
    project
        .segmentations
        .iter()
        .map(|segmentation| {
            let mut columns: Vec<String> = Vec::new();
            let mut body = Body {
                segmentation: &segmentation.name,
                kind: segmentation.kind.name(),
                segments: Vec::new(),
                clusters: None,
                themes_k: None,
                score: None,
                custom_features: Vec::new(),
            };
            match &segmentation.kind {
                SegmentationKind::Rules { segments, .. } => {
                    for segment in segments {
                        let when = match rules::check_predicate(&segment.when, schema) {
                            Ok(rule) => {
                                columns.extend(rule.columns());
                                rule.expr().to_string()
                            }
                            Err(_) => segment.when.clone(),
                        };
                        body.segments.push(SegmentBody {
                            name: segment.name.clone(),
                            when,
                        });
                    }
                }
                SegmentationKind::Clusters(def) => {
                    columns.extend(def.features.iter().cloned());
                    body.clusters = Some(ClusterBody {
                        features: def.features.clone(),
                        k: cluster_count_text(&def.k),
                        weights: def.weights.clone(),
                        seed: def.seed,
                    });
                }
                SegmentationKind::Themes { k } => {
                    body.themes_k = Some(k.map_or("auto".to_string(), |k| k.to_string()));
                }
                SegmentationKind::Score(def) => {
                    for card in &def.scorecards {
                        for measure in &card.measures {
                            if let Ok(rule) = rules::check(&measure.value, schema) {
                                columns.extend(rule.columns());
                            }
                        }
                    }
                    body.score = Some(format!("{def:?}"));
                }
            }
            body.custom_features = custom
                .iter()
                .filter(|(name, _)| columns.iter().any(|column| column == *name))
                .map(|(_, text)| text.clone())
                .collect();
            let text = serde_json::to_string_pretty(&body).unwrap_or_default();
            DefinitionDoc {
                segmentation: segmentation.name.clone(),
                hash: hash(&text),
                body: text,
            }
        })
        .collect()
}

fn cluster_count_text(k: &ClusterCount) -> String {
    match k {
        ClusterCount::Auto => "auto".to_string(),
        ClusterCount::Fixed(k) => k.to_string(),
    }
}

/// Hex SHA-256 of a text.
pub fn hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The segments of a stored `rules` definition body (empty for other kinds).
pub fn segments_of(body: &str) -> Vec<SegmentBody> {
    #[derive(serde::Deserialize)]
    struct Stored {
        #[serde(default)]
        segments: Vec<SegmentBody>,
    }
    serde_json::from_str::<Stored>(body)
        .map(|stored| stored.segments)
        .unwrap_or_default()
}

/// The rule of `segment` in a stored definition body, if it has one.
pub fn rule_of(body: &str, segment: &str) -> Option<String> {
    segments_of(body)
        .into_iter()
        .find(|s| s.name == segment)
        .map(|s| s.when)
}

/// A unified diff of two definition bodies (`-` old, `+` new lines).
pub fn diff(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_of_reads_stored_segments() {
        let body = r#"{"segmentation":"health","kind":"rules","segments":[{"name":"at-risk","when":"x < 1"}]}"#;
        assert_eq!(rule_of(body, "at-risk").as_deref(), Some("x < 1"));
        assert_eq!(rule_of(body, "healthy"), None);
        assert_eq!(rule_of("not json", "x"), None);
    }

    #[test]
    fn diff_marks_changed_lines() {
        let text = diff("a\nb\nc\n", "a\nB\nc\n", "v1", "v2");
        assert!(text.contains("--- v1\n+++ v2\n"), "{text}");
        assert!(text.contains("-b\n+B\n"), "{text}");
    }
}
