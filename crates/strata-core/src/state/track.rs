//! Cluster and theme identity across refits.
//!
//! An unfrozen clustering (and a themes segmentation) is fitted afresh at
//! every run: the clusters come out in another order, with names chosen
//! anew from their centroids, and a name may gain or lose a disambiguating
//! suffix although the group of accounts is the same. Compared by name,
//! every such relabelling would look like accounts moving.
//!
//! So before a run is written and recorded, each new cluster is matched to
//! a cluster of the previous run, as a cluster tracker does (MONIC's
//! "survival" test): by the accounts they share. Pairs are taken greedily by
//! overlap, one to one, and a pair matches when the shared accounts are the
//! majority of either cluster. A matched cluster takes the previous name; an
//! account then moves only if its group changed, never because a label did.
//! A new cluster without a match keeps its fitted name (made unique).
//!
//! **Invariants**: only `clusters` and `themes` segmentations are renamed;
//! memberships (which accounts are together) are never changed, only names.
use std::collections::{HashMap, HashSet};

use crate::error::Result;
use crate::pipeline::RunResult;

use super::Store;

/// New names for the segments of one fitted segmentation: the previous
/// run's name for each cluster that matches one of its clusters, the fitted
/// name otherwise. `previous` maps an account to its previous segment.
pub fn carried_names(
    fitted_names: &[String],
    account_ids: &[String],
    membership: &[Option<usize>],
    previous: &HashMap<String, Option<String>>,
) -> Vec<String> {
    let n_segments = fitted_names.len();
    let mut sizes = vec![0usize; n_segments];
    let mut previous_sizes: HashMap<&str, usize> = HashMap::new();
    for segment in previous.values().flatten() {
        *previous_sizes.entry(segment.as_str()).or_default() += 1;
    }
    let mut overlaps: HashMap<(usize, &str), usize> = HashMap::new();
    for (account, member) in account_ids.iter().zip(membership) {
        let Some(segment_idx) = *member else { continue };
        sizes[segment_idx] += 1;
        if let Some(Some(before)) = previous.get(account) {
            *overlaps.entry((segment_idx, before.as_str())).or_default() += 1;
        }
    }
    let mut pairs: Vec<((usize, &str), usize)> = overlaps.into_iter().collect();
    // Largest overlap first; ties by segment index and name, so the result
    // does not depend on hash order.
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut names: Vec<Option<String>> = vec![None; n_segments];
    let mut taken: HashSet<&str> = HashSet::new();
    for ((segment_idx, before), shared) in pairs {
        if names[segment_idx].is_some() || taken.contains(before) {
            continue;
        }
        let previous_size = previous_sizes.get(before).copied().unwrap_or(0);
        if 2 * shared > sizes[segment_idx] || 2 * shared > previous_size {
            names[segment_idx] = Some(before.to_string());
            taken.insert(before);
        }
    }
    let mut used: HashSet<String> = names.iter().flatten().cloned().collect();
    fitted_names
        .iter()
        .zip(names)
        .map(|(fitted, carried)| {
            carried.unwrap_or_else(|| {
                let mut name = fitted.clone();
                let mut suffix = 2;
                while used.contains(&name) {
                    name = format!("{fitted} ({suffix})");
                    suffix += 1;
                }
                used.insert(name.clone());
                name
            })
        })
        .collect()
}

/// One segment that took a previous run's name: (segmentation, fitted
/// name, carried name).
pub type Renamed = (String, String, String);

/// Gives the clusters and themes of `result` the names of the matching
/// clusters of the store's latest run (see the module docs). Returns the
/// segments that took a previous name that differs from the fitted one.
pub async fn keep_identities(store: &mut Store, result: &mut RunResult) -> Result<Vec<Renamed>> {
    let current = store.current().await?;
    let mut renamed = Vec::new();
    if current.is_empty() {
        return Ok(renamed);
    }
    let ids = result.account_ids();
    for segmentation in &mut result.segmentations {
        if segmentation.kind != "clusters" && segmentation.kind != "themes" {
            continue;
        }
        let Some(before) = current.get(&segmentation.name) else {
            continue;
        };
        let previous: HashMap<String, Option<String>> = before
            .iter()
            .map(|(account, membership)| (account.clone(), membership.segment.clone()))
            .collect();
        let fitted: Vec<String> = segmentation
            .segments
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let names = carried_names(&fitted, &ids, &segmentation.membership, &previous);
        for (segment_idx, name) in names.into_iter().enumerate() {
            let old = std::mem::replace(&mut segmentation.segments[segment_idx].name, name.clone());
            if old == name {
                continue;
            }
            renamed.push((segmentation.name.clone(), old.clone(), name.clone()));
            let segment = &mut segmentation.segments[segment_idx];
            if let Some(description) = &mut segment.description
                && let Some(rest) = description.strip_prefix(old.as_str())
            {
                *description = format!("{name}{rest}");
            }
            if let Some(discovery) = &mut segmentation.discovery
                && let Some(cluster) = discovery.model.clusters.get_mut(segment_idx)
            {
                cluster.name.clone_from(&name);
                if let Some(rest) = cluster.description.strip_prefix(old.as_str()) {
                    cluster.description = format!("{name}{rest}");
                }
            }
        }
    }
    Ok(renamed)
}

/// The roadmap of a run whose segments were renamed by [`keep_identities`]
/// after it was planned, with the carried names.
pub fn rename_in_roadmap(roadmap: &mut crate::roadmap::Roadmap, renamed: &[Renamed]) {
    // Longest names first, so that a name that contains another is replaced whole.
    let mut pairs: Vec<&Renamed> = renamed
        .iter()
        .filter(|(segmentation, _, _)| *segmentation == roadmap.segmentation)
        .collect();
    pairs.sort_by_key(|(_, old, _)| std::cmp::Reverse(old.len()));
    let rename = |name: &str| {
        pairs
            .iter()
            .find(|(_, old, _)| old == name)
            .map_or_else(|| name.to_string(), |(_, _, new)| new.clone())
    };
    if let Some(core) = &mut roadmap.core {
        *core = rename(core);
    }
    for segment in &mut roadmap.segments {
        segment.segment = rename(&segment.segment);
    }
    // The recommendation quotes names; swap through placeholders so that
    // two clusters exchanging names do not end up with the same one.
    let mut text = roadmap.recommendation.clone();
    for (idx, (_, old, _)) in pairs.iter().enumerate() {
        text = text.replace(old.as_str(), &format!("\u{1}{idx}\u{1}"));
    }
    for (idx, (_, _, new)) in pairs.iter().enumerate() {
        text = text.replace(&format!("\u{1}{idx}\u{1}"), new);
    }
    roadmap.recommendation = text;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        fitted: &[&str],
        membership: &[Option<usize>],
        previous: &[Option<&str>],
        expected: &[&str],
    ) {
        let ids: Vec<String> = (0..membership.len()).map(|i| format!("a{i}")).collect();
        let previous: HashMap<String, Option<String>> = ids
            .iter()
            .zip(previous)
            .map(|(id, segment)| (id.clone(), segment.map(str::to_string)))
            .collect();
        let fitted: Vec<String> = fitted.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            carried_names(&fitted, &ids, membership, &previous),
            expected
        );
    }

    #[test]
    fn a_refit_keeps_the_previous_names() {
        let (x, y) = (Some("Power users"), Some("Casual adopters"));
        // The same two groups, fitted in the other order with other names.
        check(
            &["Casual adopters (high events)", "Core users"],
            &[Some(1), Some(1), Some(0), Some(0), Some(0)],
            &[x, x, y, y, y],
            &["Casual adopters", "Power users"],
        );
        // One account really moved: the groups still match by majority.
        check(
            &["A", "B"],
            &[Some(0), Some(0), Some(0), Some(1), Some(1)],
            &[x, x, y, y, y],
            &["Power users", "Casual adopters"],
        );
        // A new cluster with no majority in any previous one keeps its
        // fitted name; the merged group carries the name of its majority.
        check(
            &["Power users", "Dormant"],
            &[Some(1), Some(1), Some(1), Some(1), Some(0)],
            &[x, x, y, y, None],
            &["Power users", "Casual adopters"],
        );
    }
}
