//! Needs themes from feedback text: our own pipeline from verbatims to
//! named themes.
//!
//! 1. **Tokenize**: lowercase, split on anything that is not a letter or a
//!    digit, drop tokens shorter than 3 characters, numbers and English stop
//!    words ([`STOP_WORDS`], which also lists the courtesy and sentiment words
//!    feedback is full of: "thanks", "happy", "please").
//! 2. **Stem** with the Snowball English stemmer (`rust-stemmers`).
//! 3. **TF-IDF**: terms in at least [`MIN_DOCUMENT_FREQUENCY`] verbatims and at
//!    most half of them; sublinear term frequency `1 + ln tf`, smoothed idf
//!    `ln((1 + n) / (1 + df)) + 1`, rows scaled to unit length.
//! 4. **Spherical k-means** on the sparse rows: assign each verbatim to the
//!    centroid of highest cosine, recompute centroids as normalised means,
//!    from a greedy k-means++ start on cosine distance; several restarts keep
//!    the best total cosine.
//! 5. **k**: with `k = auto`, 2..=8 are fitted and scored by the mean cosine
//!    silhouette of a sample and by stability (adjusted Rand index with fits
//!    from two other starts on a sample of at most 20,000 verbatims), the k
//!    in parallel; the fewest themes within 0.01 of the best
//!    silhouette among stable k win (more themes that separate no better
//!    only split a need by its wordings). When no
//!    k is stable ([`MIN_STABILITY`], [`MIN_SILHOUETTE`]), there are no stable
//!    themes and the result says so instead of returning noise.
//! 6. **Names**: the three heaviest terms of each centroid, shown as the most
//!    common original word of each stem; the three verbatims nearest the
//!    centroid represent it.
//!
//! An account's *dominant need* is the theme most of its verbatims fall in
//! (ties go to the theme of its detractor answers, then to the lower index);
//! accounts without verbatims are unassigned.
use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

/// Verbatims a term must appear in to be kept.
pub const MIN_DOCUMENT_FREQUENCY: usize = 3;
/// Below this mean silhouette a k gives no themes.
pub const MIN_SILHOUETTE: f64 = 0.05;
/// A smaller k within this of the best silhouette is preferred.
pub const SILHOUETTE_TOLERANCE: f64 = 0.01;
/// Below this agreement between starts a k gives no themes.
pub const MIN_STABILITY: f64 = 0.6;
/// Verbatims sampled for silhouettes.
pub const SILHOUETTE_SAMPLE: usize = 1_500;
/// Verbatims sampled for the stability refits.
pub const STABILITY_SAMPLE: usize = 20_000;
/// Verbatims each k is fitted on; beyond it, every other verbatim takes the
/// theme of its nearest centroid.
pub const FIT_SAMPLE: usize = 100_000;

/// English stop words, plus the politeness and sentiment words that carry no
/// need.
pub const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "every",
    "few",
    "for",
    "from",
    "further",
    "get",
    "gets",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "lately",
    "let",
    "me",
    "more",
    "most",
    "much",
    "must",
    "my",
    "need",
    "needs",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "hello",
    "hi",
    "team",
    "thanks",
    "thank",
    "please",
    "happy",
    "unhappy",
    "love",
    "great",
    "good",
    "fine",
    "ok",
    "okay",
    "overall",
    "mostly",
    "really",
    "disappointed",
    "frustrating",
    "frustrated",
    "urgent",
    "job",
    "works",
    "work",
    "product",
    "tool",
    "want",
    "like",
    "make",
    "still",
    "use",
    "using",
    "day",
    "days",
    "everything",
    "anything",
    "things",
];

/// A verbatim: the text, its account, and its NPS score if it is an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Verbatim {
    /// Account position.
    pub account_idx: usize,
    /// The text.
    pub text: String,
    /// NPS score, for NPS answers.
    pub score: Option<i64>,
}

/// One theme found in the verbatims.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Theme {
    /// Its three heaviest terms, joined: "sso / permission / admin".
    pub name: String,
    /// The heaviest terms, heaviest first.
    pub terms: Vec<String>,
    /// Verbatims in the theme.
    pub verbatims: usize,
    /// Accounts whose dominant need it is.
    pub accounts: usize,
    /// NPS of the theme's NPS answers; `None` without any.
    pub nps: Option<f64>,
    /// Share of the theme's NPS answers that are detractors (0-6).
    pub detractor_share: Option<f64>,
    /// The verbatims nearest its centroid.
    pub representatives: Vec<String>,
}

/// Silhouette and stability of one k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThemeScore {
    /// Number of themes.
    pub k: usize,
    /// Mean cosine silhouette on the sample.
    pub silhouette: f64,
    /// Mean adjusted Rand index with fits from two other starts.
    pub stability: f64,
}

/// What [`find_themes`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Themes {
    /// Verbatims with text.
    pub verbatims: usize,
    /// Terms kept.
    pub vocabulary: usize,
    /// Every k tried.
    pub scores: Vec<ThemeScore>,
    /// The themes; empty when none is stable.
    pub themes: Vec<Theme>,
    /// Why this k, or why no themes.
    pub explanation: String,
    /// Per verbatim (input order): its theme.
    #[serde(skip)]
    pub labels: Vec<Option<usize>>,
    /// Per account: its dominant theme.
    #[serde(skip)]
    pub dominant: Vec<Option<usize>>,
}

/// One k's spherical k-means fit and its scores.
struct Fit {
    score: ThemeScore,
    labels: Vec<usize>,
    centroids: Vec<Vec<f64>>,
}

/// Lowercased word tokens of at least 3 characters that are not stop words
/// or numbers, stemmed.
pub fn tokens(text: &str, stemmer: &rust_stemmers::Stemmer) -> Vec<(String, String)> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().count() >= 3)
        .map(str::to_lowercase)
        .filter(|word| !word.chars().all(|c| c.is_ascii_digit()))
        .filter(|word| !STOP_WORDS.contains(&word.as_str()))
        .map(|word| (stemmer.stem(&word).into_owned(), word))
        .collect()
}

/// A sparse unit-length row: (term, weight), sorted by term.
type Row = Vec<(usize, f64)>;

fn dot(row: &Row, dense: &[f64]) -> f64 {
    row.iter().map(|&(term, weight)| weight * dense[term]).sum()
}

fn sparse_dot(a: &Row, b: &Row) -> f64 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

/// TF-IDF rows (unit length) of the documents, and the vocabulary: stem and
/// display word per term.
fn tf_idf(documents: &[Vec<(String, String)>]) -> (Vec<Row>, Vec<(String, String)>) {
    let n = documents.len();
    let mut document_frequency: BTreeMap<&str, usize> = BTreeMap::new();
    let mut surface: HashMap<&str, BTreeMap<&str, usize>> = HashMap::new();
    for document in documents {
        let mut seen: Vec<&str> = document.iter().map(|(stem, _)| stem.as_str()).collect();
        seen.sort_unstable();
        seen.dedup();
        for stem in seen {
            *document_frequency.entry(stem).or_default() += 1;
        }
        for (stem, word) in document {
            *surface.entry(stem).or_default().entry(word).or_default() += 1;
        }
    }
    let max_df = (n / 2).max(MIN_DOCUMENT_FREQUENCY);
    let vocabulary: Vec<(String, String)> = document_frequency
        .iter()
        .filter(|&(_, &df)| df >= MIN_DOCUMENT_FREQUENCY && df <= max_df)
        .map(|(&stem, _)| {
            let word = surface
                .get(stem)
                .and_then(|words| {
                    words
                        .iter()
                        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                        .map(|(w, _)| w.to_string())
                })
                .unwrap_or_else(|| stem.to_string());
            (stem.to_string(), word)
        })
        .collect();
    let index: HashMap<&str, usize> = vocabulary
        .iter()
        .enumerate()
        .map(|(idx, (stem, _))| (stem.as_str(), idx))
        .collect();
    let idf: Vec<f64> = vocabulary
        .iter()
        .map(|(stem, _)| {
            let df = document_frequency.get(stem.as_str()).copied().unwrap_or(0) as f64;
            ((1.0 + n as f64) / (1.0 + df)).ln() + 1.0
        })
        .collect();
    let rows = documents
        .iter()
        .map(|document| {
            let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
            for (stem, _) in document {
                if let Some(&term) = index.get(stem.as_str()) {
                    *counts.entry(term).or_default() += 1;
                }
            }
            let mut row: Row = counts
                .into_iter()
                .map(|(term, tf)| (term, (1.0 + (tf as f64).ln()) * idf[term]))
                .collect();
            let norm = row.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
            if norm > 0.0 {
                for entry in &mut row {
                    entry.1 /= norm;
                }
            }
            row
        })
        .collect();
    (rows, vocabulary)
}

/// The centroid with the largest cosine to `row` (the first on a tie), and
/// that cosine.
fn nearest_centroid(row: &Row, centroids: &[Vec<f64>]) -> (usize, f64) {
    centroids
        .iter()
        .enumerate()
        .map(|(idx, centroid)| (idx, dot(row, centroid)))
        .fold(
            (0, f64::NEG_INFINITY),
            |acc, x| if x.1 > acc.1 { x } else { acc },
        )
}

/// Spherical k-means: labels, centroids (dense, unit length), total cosine.
fn spherical_kmeans(
    rows: &[Row],
    n_terms: usize,
    k: usize,
    seed: u64,
) -> (Vec<usize>, Vec<Vec<f64>>, f64) {
    let mut best: Option<(Vec<usize>, Vec<Vec<f64>>, f64)> = None;
    for restart in 0..4u64 {
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(restart.wrapping_mul(0x9E37_79B9)));
        // k-means++ on cosine distance (1 - cos), greedy over 3 candidates.
        let mut chosen = vec![rng.random_range(0..rows.len())];
        let mut distance: Vec<f64> = rows
            .iter()
            .map(|row| 1.0 - sparse_dot(row, &rows[chosen[0]]))
            .collect();
        while chosen.len() < k {
            let total: f64 = distance.iter().map(|d| d.max(0.0)).sum();
            let mut best_candidate = (f64::INFINITY, 0usize);
            for _ in 0..3 {
                let candidate = if total > 0.0 {
                    let mut target = rng.random_range(0.0..total);
                    let mut pick = rows.len() - 1;
                    for (idx, d) in distance.iter().enumerate() {
                        target -= d.max(0.0);
                        if target <= 0.0 {
                            pick = idx;
                            break;
                        }
                    }
                    pick
                } else {
                    rng.random_range(0..rows.len())
                };
                let potential: f64 = rows
                    .iter()
                    .zip(&distance)
                    .map(|(row, d)| d.min(1.0 - sparse_dot(row, &rows[candidate])))
                    .sum();
                if potential < best_candidate.0 {
                    best_candidate = (potential, candidate);
                }
            }
            let pick = best_candidate.1;
            for (row, d) in rows.iter().zip(distance.iter_mut()) {
                *d = d.min(1.0 - sparse_dot(row, &rows[pick]));
            }
            chosen.push(pick);
        }
        let mut centroids: Vec<Vec<f64>> = chosen
            .iter()
            .map(|&idx| {
                let mut dense = vec![0.0; n_terms];
                for &(term, weight) in &rows[idx] {
                    dense[term] = weight;
                }
                dense
            })
            .collect();
        let mut labels = vec![0usize; rows.len()];
        let mut total = 0.0;
        for _ in 0..50 {
            let mut changed = false;
            total = 0.0;
            for (row, label) in rows.iter().zip(labels.iter_mut()) {
                let (best_idx, best_cos) = nearest_centroid(row, &centroids);
                total += best_cos;
                if *label != best_idx {
                    *label = best_idx;
                    changed = true;
                }
            }
            let mut sums = vec![vec![0.0; n_terms]; k];
            for (row, &label) in rows.iter().zip(&labels) {
                for &(term, weight) in row {
                    sums[label][term] += weight;
                }
            }
            for (cluster, sum) in sums.into_iter().enumerate() {
                let norm = sum.iter().map(|w| w * w).sum::<f64>().sqrt();
                if norm > 0.0 {
                    centroids[cluster] = sum.into_iter().map(|w| w / norm).collect();
                }
            }
            if !changed {
                break;
            }
        }
        if best.as_ref().is_none_or(|b| total > b.2) {
            best = Some((labels, centroids, total));
        }
    }
    best.unwrap_or_default()
}

/// Mean cosine-distance silhouette of `sample`.
fn cosine_silhouette(rows: &[Row], labels: &[usize], k: usize, sample: &[usize]) -> f64 {
    let mut total = 0.0;
    for &i in sample {
        let mut sums = vec![0.0; k];
        let mut counts = vec![0usize; k];
        for &j in sample {
            if i != j {
                sums[labels[j]] += 1.0 - sparse_dot(&rows[i], &rows[j]);
                counts[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if counts[own] == 0 {
            continue;
        }
        let a = sums[own] / counts[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && counts[c] > 0)
            .map(|c| sums[c] / counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    total / sample.len().max(1) as f64
}

/// Finds themes in `verbatims` (those with text) for `n_accounts` accounts;
/// `k` fixes the number of themes, `None` chooses from 2..=8.
pub fn find_themes(
    verbatims: &[Verbatim],
    n_accounts: usize,
    k: Option<usize>,
    seed: u64,
) -> Themes {
    find_themes_sampled(verbatims, n_accounts, k, seed, FIT_SAMPLE)
}

/// [`find_themes`], fitting each k on at most `fit_sample` verbatims (seeded)
/// and labelling every verbatim by its nearest centroid.
fn find_themes_sampled(
    verbatims: &[Verbatim],
    n_accounts: usize,
    k: Option<usize>,
    seed: u64,
    fit_sample: usize,
) -> Themes {
    let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
    let documents: Vec<Vec<(String, String)>> = verbatims
        .iter()
        .map(|v| tokens(&v.text, &stemmer))
        .collect();
    let (rows, vocabulary) = tf_idf(&documents);
    let usable: Vec<usize> = (0..rows.len()).filter(|&i| !rows[i].is_empty()).collect();
    let usable_rows: Vec<Row> = usable.iter().map(|&i| rows[i].clone()).collect();
    let empty = |explanation: String, scores: Vec<ThemeScore>| Themes {
        verbatims: verbatims.len(),
        vocabulary: vocabulary.len(),
        scores,
        themes: Vec::new(),
        explanation,
        labels: vec![None; verbatims.len()],
        dominant: vec![None; n_accounts],
    };
    let (k_min, k_max) = match k {
        Some(k) => (k, k),
        None => (2, 8),
    };
    if usable_rows.len() < 4 * k_max.max(2) {
        return empty(
            format!(
                "no stable themes found: {} verbatims share enough words to compare, too few for {k_max} themes",
                usable_rows.len()
            ),
            Vec::new(),
        );
    }
    let sample: Vec<usize> = crate::ml::sample_indices(usable_rows.len(), SILHOUETTE_SAMPLE, seed);
    // Stability is measured on a sample, refitted from other starts.
    let stability_rows =
        crate::ml::sample_indices(usable_rows.len(), STABILITY_SAMPLE, seed ^ 0x5eed);
    let stability_data: Vec<Row> = stability_rows
        .iter()
        .map(|&i| usable_rows[i].clone())
        .collect();
    let fit_rows = crate::ml::sample_indices(usable_rows.len(), fit_sample, seed ^ 0xf17);
    let fit_data: Vec<Row> = if fit_rows.len() < usable_rows.len() {
        fit_rows.iter().map(|&i| usable_rows[i].clone()).collect()
    } else {
        Vec::new()
    };
    let fitted: Vec<Fit> = (k_min..=k_max)
        .into_par_iter()
        .map(|k| {
            let (labels, centroids) = if fit_rows.len() < usable_rows.len() {
                let (_, centroids, _) = spherical_kmeans(&fit_data, vocabulary.len(), k, seed);
                let labels = usable_rows
                    .iter()
                    .map(|row| nearest_centroid(row, &centroids).0)
                    .collect();
                (labels, centroids)
            } else {
                let (labels, centroids, _) =
                    spherical_kmeans(&usable_rows, vocabulary.len(), k, seed);
                (labels, centroids)
            };
            let silhouette = cosine_silhouette(&usable_rows, &labels, k, &sample);
            // Topics that exist are found again from other starts; noise is
            // cut differently every time.
            let on_sample: Vec<usize> = stability_rows.iter().map(|&i| labels[i]).collect();
            let stability = [1u64, 2]
                .iter()
                .map(|&other| {
                    let (again, _, _) = spherical_kmeans(
                        &stability_data,
                        vocabulary.len(),
                        k,
                        seed.wrapping_add(other * 7_919),
                    );
                    crate::ml::adjusted_rand_index(&on_sample, &again).unwrap_or(0.0)
                })
                .sum::<f64>()
                / 2.0;
            Fit {
                score: ThemeScore {
                    k,
                    silhouette,
                    stability,
                },
                labels,
                centroids,
            }
        })
        .collect();
    let scores: Vec<ThemeScore> = fitted.iter().map(|fit| fit.score).collect();
    let stable: Vec<Fit> = fitted
        .into_iter()
        .filter(|fit| {
            fit.score.stability >= MIN_STABILITY && fit.score.silhouette >= MIN_SILHOUETTE
        })
        .collect();
    // The fewest themes whose silhouette is within a hair of the best: more
    // themes that separate no better only split a need by its wordings.
    let best_silhouette = stable
        .iter()
        .map(|fit| fit.score.silhouette)
        .fold(f64::NEG_INFINITY, f64::max);
    let best = stable
        .into_iter()
        .find(|fit| fit.score.silhouette >= best_silhouette - SILHOUETTE_TOLERANCE);
    let Some(Fit {
        score: ThemeScore { k, silhouette, .. },
        labels,
        centroids,
    }) = best
    else {
        return empty(
            format!(
                "no stable themes found: no k from {k_min} to {k_max} gives topics that other starts find again (ARI ≥ {MIN_STABILITY}) with silhouette ≥ {MIN_SILHOUETTE}; the verbatims do not fall into distinct topics"
            ),
            scores,
        );
    };
    let mut verbatim_labels = vec![None; verbatims.len()];
    for (&original, &label) in usable.iter().zip(&labels) {
        verbatim_labels[original] = Some(label);
    }
    // Dominant theme per account: most verbatims, then detractor answers.
    let mut votes: Vec<Vec<(usize, usize)>> = vec![vec![(0, 0); k]; n_accounts];
    for (verbatim, label) in verbatims.iter().zip(&verbatim_labels) {
        if let (Some(label), Some(account_votes)) = (label, votes.get_mut(verbatim.account_idx)) {
            account_votes[*label].0 += 1;
            if verbatim.score.is_some_and(|s| s <= 6) {
                account_votes[*label].1 += 1;
            }
        }
    }
    let dominant: Vec<Option<usize>> = votes
        .iter()
        .map(|account_votes| {
            let best =
                (0..k).max_by(|&a, &b| account_votes[a].cmp(&account_votes[b]).then(b.cmp(&a)))?;
            (account_votes[best].0 > 0).then_some(best)
        })
        .collect();
    let themes = (0..k)
        .map(|theme| {
            let centroid = &centroids[theme];
            let mut order: Vec<usize> = (0..centroid.len()).collect();
            order.sort_by(|&a, &b| centroid[b].total_cmp(&centroid[a]).then(a.cmp(&b)));
            let terms: Vec<String> = order
                .iter()
                .take(5)
                .map(|&t| vocabulary[t].1.clone())
                .collect();
            let members: Vec<usize> = (0..usable.len()).filter(|&i| labels[i] == theme).collect();
            let mut nearest: Vec<(f64, usize)> = members
                .iter()
                .map(|&i| (dot(&usable_rows[i], centroid), usable[i]))
                .collect();
            nearest.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut representatives: Vec<String> = Vec::new();
            for (_, idx) in nearest {
                let text = verbatims[idx].text.clone();
                if !representatives.contains(&text) {
                    representatives.push(text);
                }
                if representatives.len() == 3 {
                    break;
                }
            }
            let scores: Vec<i64> = members
                .iter()
                .filter_map(|&i| verbatims[usable[i]].score)
                .collect();
            let promoters = scores.iter().filter(|&&s| s >= 9).count() as f64;
            let detractors = scores.iter().filter(|&&s| s <= 6).count() as f64;
            let answers = scores.len() as f64;
            Theme {
                name: terms
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" / "),
                terms,
                verbatims: members.len(),
                accounts: dominant.iter().filter(|d| **d == Some(theme)).count(),
                nps: (answers > 0.0).then(|| 100.0 * (promoters - detractors) / answers),
                detractor_share: (answers > 0.0).then(|| detractors / answers),
                representatives,
            }
        })
        .collect();
    let mut explanation = match k_min == k_max {
        true => format!("k = {k} as asked: silhouette {silhouette:.3}"),
        false => format!(
            "k = {k}: the fewest themes within {SILHOUETTE_TOLERANCE} of the best cosine silhouette ({best_silhouette:.3}) among stable k (ARI ≥ {MIN_STABILITY}) of {k_min}..{k_max}"
        ),
    };
    if fit_rows.len() < usable.len() {
        explanation.push_str(&format!(
            "; fitted on a sample of {} of {} verbatims, each verbatim in the theme of its nearest centroid",
            fit_rows.len(),
            usable.len()
        ));
    }
    Themes {
        verbatims: verbatims.len(),
        vocabulary: vocabulary.len(),
        scores,
        themes,
        explanation,
        labels: verbatim_labels,
        dominant,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verbatim(account_idx: usize, text: &str, score: Option<i64>) -> Verbatim {
        Verbatim {
            account_idx,
            text: text.to_string(),
            score,
        }
    }

    #[test]
    fn tokens_are_lowercased_stemmed_and_filtered() {
        let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
        let stems: Vec<String> =
            tokens("Hi team, the Reports are SLOW; 2026 dashboards!", &stemmer)
                .into_iter()
                .map(|(stem, _)| stem)
                .collect();
        assert_eq!(stems, ["report", "slow", "dashboard"]);
    }

    /// `n` texts of 4 words drawn from `words` (seeded).
    fn texts(words: &[&str], n: usize, seed: u64) -> Vec<String> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                (0..4)
                    .map(|_| words[rng.random_range(0..words.len())])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn two_clear_topics_are_found_and_noise_is_not() {
        let pricing = [
            "pricing",
            "invoice",
            "renewal",
            "expensive",
            "budget",
            "discount",
            "billing",
            "contract",
        ];
        let reports = [
            "dashboard",
            "report",
            "chart",
            "export",
            "metric",
            "graph",
            "filter",
            "widget",
        ];
        let mut verbatims = Vec::new();
        for (i, (a, b)) in texts(&pricing, 60, 1)
            .into_iter()
            .zip(texts(&reports, 60, 2))
            .enumerate()
        {
            verbatims.push(verbatim(i, &a, Some(3)));
            verbatims.push(verbatim(i, &b, Some(9)));
        }
        let themes = find_themes(&verbatims, 60, None, 0);
        assert_eq!(themes.themes.len(), 2, "{}", themes.explanation);
        let pricing_theme = themes
            .themes
            .iter()
            .position(|t| t.terms.iter().any(|term| pricing.contains(&term.as_str())))
            .unwrap();
        let theme = &themes.themes[pricing_theme];
        assert!(
            theme
                .terms
                .iter()
                .take(5)
                .all(|term| pricing.contains(&term.as_str())),
            "{:?}",
            theme.terms
        );
        assert_eq!(theme.verbatims, 60);
        assert_eq!(theme.detractor_share, Some(1.0));
        assert_eq!(theme.nps, Some(-100.0));
        // Each account wrote one of each: the tie goes to its detractor answer.
        assert!(themes.dominant.iter().all(|d| *d == Some(pricing_theme)));
        // Every verbatim is labelled with its topic.
        for (idx, label) in themes.labels.iter().enumerate() {
            assert_eq!(*label == Some(pricing_theme), idx % 2 == 0);
        }

        // Fitted on 50 of the 120, the same themes label every verbatim alike.
        let sampled = find_themes_sampled(&verbatims, 60, None, 0, 50);
        assert_eq!(sampled.themes.len(), 2, "{}", sampled.explanation);
        let sampled_pricing = sampled.labels[0].expect("labelled");
        for (idx, label) in sampled.labels.iter().enumerate() {
            assert_eq!(*label == Some(sampled_pricing), idx % 2 == 0);
        }
        assert!(
            sampled.explanation.ends_with("fitted on a sample of 50 of 120 verbatims, each verbatim in the theme of its nearest centroid"),
            "{}",
            sampled.explanation
        );
        assert!(
            !themes.explanation.contains("sample"),
            "{}",
            themes.explanation
        );

        // One shared vocabulary, words drawn at random: no topics.
        let mixed: Vec<&str> = pricing.iter().chain(&reports).copied().collect();
        let noise: Vec<Verbatim> = texts(&mixed, 150, 3)
            .iter()
            .enumerate()
            .map(|(i, text)| verbatim(i, text, None))
            .collect();
        let themes = find_themes(&noise, 150, None, 0);
        assert!(themes.themes.is_empty(), "{:?}", themes.scores);
        assert!(
            themes.explanation.starts_with("no stable themes found"),
            "{}",
            themes.explanation
        );
        assert!(themes.dominant.iter().all(Option::is_none));

        // Words no two texts share: nothing to compare.
        let unique: Vec<Verbatim> = (0..40)
            .map(|i| verbatim(i, &format!("alpha{i} beta{i}"), None))
            .collect();
        let themes = find_themes(&unique, 40, None, 0);
        assert!(
            themes
                .explanation
                .starts_with("no stable themes found: 0 verbatims"),
            "{}",
            themes.explanation
        );
    }
}
