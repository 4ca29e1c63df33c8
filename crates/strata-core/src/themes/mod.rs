//! Needs themes from feedback text: our own pipeline from verbatims to
//! named needs, and each account's dominant need.
//!
//! Feedback mixes what an account needs with what every account writes
//! now and then: praise, billing questions, bug reports, courtesy. A need
//! is something an account comes back to, so themes are found on accounts,
//! not on single verbatims, and words are weighted by how much they repeat
//! within accounts.
//!
//! 1. **Tokenize**: lowercase, split on anything that is not a letter or a
//!    digit, drop tokens shorter than 3 characters, numbers and English stop
//!    words ([`STOP_WORDS`], which also lists the courtesy and sentiment words
//!    feedback is full of: "thanks", "happy", "please").
//! 2. **Stem** with the Snowball English stemmer (`rust-stemmers`).
//! 3. **TF-IDF**: terms in at least [`MIN_DOCUMENT_FREQUENCY`] verbatims and at
//!    most half of them; sublinear term frequency `1 + ln tf`, smoothed idf
//!    `ln((1 + n) / (1 + df)) + 1`, rows scaled to unit length.
//! 4. **Account burstiness** ([`burstiness`]): for each term, the pairs of an
//!    account's verbatims that both contain it, against the pairs expected if
//!    the term's verbatims were spread over the accounts at random. A term
//!    that repeats within accounts well beyond chance (z ≥
//!    [`MIN_BURSTINESS_Z`]) is weighted `1 + ln(lift)` (lift shrunk towards 1
//!    by [`BURSTINESS_PRIOR`] pairs); every other term keeps weight 1. With
//!    one verbatim per account every weight is 1 and the method is plain
//!    TF-IDF.
//! 5. **Account profiles**: an account's weighted verbatim rows, summed and
//!    scaled to unit length.
//! 6. **Spherical k-means** on the profiles: assign each to the centroid of
//!    highest cosine, recompute centroids as normalised means, from a greedy
//!    k-means++ start on cosine distance; several restarts keep the best
//!    total cosine.
//! 7. **k**: with `k = auto`, 2..=8 are fitted and scored by the mean cosine
//!    silhouette of a sample and by stability (adjusted Rand index with fits
//!    from two other starts), the k in parallel; the fewest themes within
//!    0.01 of the best silhouette among stable k win (more themes that
//!    separate no better only split a need by its wordings). The refits
//!    are the costly part, so stability is measured lazily: in order of
//!    silhouette until a stable k is found, then for the smaller k within
//!    the tolerance, which chooses exactly as measuring every k would.
//!    When no k is
//!    stable ([`MIN_STABILITY`], [`MIN_SILHOUETTE`]), there are no stable
//!    themes and the result says so instead of returning noise.
//! 8. **Verbatims**: each weighted verbatim row takes the theme of its
//!    nearest centroid, unless its cosine falls below the valley between
//!    the verbatims that are about a theme and those that are not
//!    ([`need_threshold`]); those, and verbatims with no kept term, are
//!    about no specific need.
//! 9. **Names**: the five terms that most set a centroid apart from the
//!    others (weight minus the largest weight in any other centroid), shown
//!    as the most common original word of each stem; the three nearest
//!    verbatims of different wording represent it.
//!
//! An account's *dominant need* is the label most of its verbatims carry,
//! "no specific need" included; a tie goes to the label it wrote first.
//! Accounts without verbatims are unassigned.
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
/// Accounts sampled for silhouettes.
pub const SILHOUETTE_SAMPLE: usize = 1_500;
/// Accounts sampled for the stability refits.
pub const STABILITY_SAMPLE: usize = 20_000;
/// Accounts each k is fitted on; beyond it, every other account and verbatim
/// takes the theme of its nearest centroid.
pub const FIT_SAMPLE: usize = 100_000;
/// A term repeats within accounts beyond chance at this z-score.
pub const MIN_BURSTINESS_Z: f64 = 3.0;
/// Pairs added to both the observed and the expected count of a term's
/// within-account pairs, so that rare terms do not get huge lifts.
pub const BURSTINESS_PRIOR: f64 = 5.0;
/// The name of the verbatims and accounts that are about no specific need.
pub const NO_SPECIFIC_NEED: &str = "No specific need";
/// Bins of the histogram of best cosines that [`need_threshold`] reads.
const THRESHOLD_BINS: usize = 50;

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

/// One theme found in the verbatims (or the verbatims about none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Theme {
    /// Its three most distinctive terms, joined: "sso / permission / admin".
    pub name: String,
    /// The most distinctive terms, most distinctive first.
    pub terms: Vec<String>,
    /// Verbatims in the theme.
    pub verbatims: usize,
    /// Accounts whose dominant need it is.
    pub accounts: usize,
    /// NPS of the theme's NPS answers; `None` without any.
    pub nps: Option<f64>,
    /// Share of the theme's NPS answers that are detractors (0-6).
    pub detractor_share: Option<f64>,
    /// Verbatims of different wordings nearest its centroid.
    pub representatives: Vec<String>,
}

/// Silhouette and stability of one k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThemeScore {
    /// Number of themes.
    pub k: usize,
    /// Mean cosine silhouette of the account profiles on the sample.
    pub silhouette: f64,
    /// Mean adjusted Rand index with fits from two other starts; `None`
    /// where the choice of k did not need it (a silhouette too low, or
    /// below that of a stable k already found).
    pub stability: Option<f64>,
}

/// What [`find_themes`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Themes {
    /// Verbatims with text.
    pub verbatims: usize,
    /// Terms kept.
    pub vocabulary: usize,
    /// Terms that repeat within accounts beyond chance, weighted up.
    pub bursty_terms: usize,
    /// Every k tried.
    pub scores: Vec<ThemeScore>,
    /// The themes; empty when none is stable.
    pub themes: Vec<Theme>,
    /// The verbatims (and accounts) about no specific need; `None` without
    /// themes or when every verbatim is about one.
    pub no_need: Option<Theme>,
    /// Cosine to the nearest centroid below which a verbatim is about no
    /// specific need (0 when the cosines show no valley).
    pub threshold: f64,
    /// Why this k, or why no themes.
    pub explanation: String,
    /// Per verbatim (input order): its theme; `None` for no specific need.
    #[serde(skip)]
    pub labels: Vec<Option<usize>>,
    /// Per account: its dominant need, an index into
    /// [`Themes::segment_names`] (`themes.len()` is no specific need).
    #[serde(skip)]
    pub dominant: Vec<Option<usize>>,
}

impl Themes {
    /// The themes then, if any account has it as dominant need, no specific
    /// need: the segments of a `needs` segmentation, in the order of
    /// [`Themes::dominant`].
    pub fn segments(&self) -> Vec<&Theme> {
        self.themes.iter().chain(&self.no_need).collect()
    }

    /// The names of [`Themes::segments`].
    pub fn segment_names(&self) -> Vec<String> {
        self.segments().iter().map(|t| t.name.clone()).collect()
    }
}

/// One k's spherical k-means fit on the account profiles and its scores.
struct Fit {
    score: ThemeScore,
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

/// The row as a dense vector of `n_terms` weights.
fn densify(row: &Row, n_terms: usize) -> Vec<f64> {
    let mut dense = vec![0.0; n_terms];
    for &(term, weight) in row {
        dense[term] = weight;
    }
    dense
}

/// TF-IDF rows (unit length) of the documents, and the vocabulary: stem and
/// display word per term.
fn tf_idf(documents: &[Vec<(String, String)>]) -> (Vec<Row>, Vec<(String, String)>) {
    let n = documents.len();
    // Counted on every core, each over its share of the documents, then
    // added up: counts, so the order they are added in does not matter.
    type Counted<'a> = (
        HashMap<&'a str, usize>,
        HashMap<&'a str, HashMap<&'a str, usize>>,
    );
    let (document_frequency, surface): Counted<'_> = documents
        .par_iter()
        .fold(
            Counted::default,
            |(mut frequency, mut surface), document| {
                let mut seen: Vec<&str> = document.iter().map(|(stem, _)| stem.as_str()).collect();
                seen.sort_unstable();
                seen.dedup();
                for stem in seen {
                    *frequency.entry(stem).or_default() += 1;
                }
                for (stem, word) in document {
                    *surface
                        .entry(stem.as_str())
                        .or_default()
                        .entry(word.as_str())
                        .or_default() += 1;
                }
                (frequency, surface)
            },
        )
        .reduce(
            Counted::default,
            |(mut frequency, mut surface), (more, words)| {
                for (stem, count) in more {
                    *frequency.entry(stem).or_default() += count;
                }
                for (stem, words) in words {
                    let mine = surface.entry(stem).or_default();
                    for (word, count) in words {
                        *mine.entry(word).or_default() += count;
                    }
                }
                (frequency, surface)
            },
        );
    let document_frequency: BTreeMap<&str, usize> = document_frequency.into_iter().collect();
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
        .par_iter()
        .map(|document| {
            let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
            for (stem, _) in document {
                if let Some(&term) = index.get(stem.as_str()) {
                    *counts.entry(term).or_default() += 1;
                }
            }
            to_unit(
                counts
                    .into_iter()
                    .map(|(term, tf)| (term, (1.0 + (tf as f64).ln()) * idf[term]))
                    .collect(),
            )
        })
        .collect();
    (rows, vocabulary)
}

/// Centroids laid out term by term (a term's weight in every centroid side
/// by side), so that a sparse row meets each of its terms' weights in one
/// cache line instead of one per centroid. Each cosine adds the same
/// products in the same order as [`dot`], so the sums are the same bits.
struct TermMajor {
    k: usize,
    weights: Vec<f64>,
}

impl TermMajor {
    fn of(centroids: &[Vec<f64>]) -> Self {
        let k = centroids.len();
        let n_terms = centroids.first().map_or(0, Vec::len);
        let mut weights = vec![0.0; n_terms * k];
        for (cluster, centroid) in centroids.iter().enumerate() {
            for (term, &weight) in centroid.iter().enumerate() {
                weights[term * k + cluster] = weight;
            }
        }
        TermMajor { k, weights }
    }

    /// The centroid with the largest cosine to `row` (the first on a tie),
    /// and that cosine; `cosines` is scratch space.
    fn nearest(&self, row: &Row, cosines: &mut Vec<f64>) -> (usize, f64) {
        cosines.clear();
        // `Sum for f64` starts from -0.0.
        cosines.resize(self.k, -0.0);
        for &(term, weight) in row {
            let at = &self.weights[term * self.k..(term + 1) * self.k];
            for (cosine, &centroid) in cosines.iter_mut().zip(at) {
                *cosine += weight * centroid;
            }
        }
        cosines
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |acc, x| if x.1 > acc.1 { x } else { acc },
            )
    }
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
        let distances_to = |candidate: usize| -> Vec<f64> {
            let dense = densify(&rows[candidate], n_terms);
            rows.iter().map(|row| 1.0 - dot(row, &dense)).collect()
        };
        let mut chosen = vec![rng.random_range(0..rows.len())];
        let mut distance = distances_to(chosen[0]);
        while chosen.len() < k {
            let total: f64 = distance.iter().map(|d| d.max(0.0)).sum();
            let mut best_candidate: Option<(f64, usize, Vec<f64>)> = None;
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
                let merged: Vec<f64> = distance
                    .iter()
                    .zip(distances_to(candidate))
                    .map(|(d, to_candidate)| d.min(to_candidate))
                    .collect();
                let potential: f64 = merged.iter().sum();
                if best_candidate.as_ref().is_none_or(|b| potential < b.0) {
                    best_candidate = Some((potential, candidate, merged));
                }
            }
            let Some((_, pick, merged)) = best_candidate else {
                break;
            };
            distance = merged;
            chosen.push(pick);
        }
        let mut centroids: Vec<Vec<f64>> = chosen
            .iter()
            .map(|&idx| densify(&rows[idx], n_terms))
            .collect();
        let mut labels = vec![0usize; rows.len()];
        let mut total = 0.0;
        let mut cosines = Vec::with_capacity(k);
        for _ in 0..50 {
            let mut changed = false;
            total = 0.0;
            let term_major = TermMajor::of(&centroids);
            for (row, label) in rows.iter().zip(labels.iter_mut()) {
                let (best_idx, best_cos) = term_major.nearest(row, &mut cosines);
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

/// Per-term weights from account burstiness (step 4 of the module doc), and
/// how many terms were weighted up. `rows` are the usable verbatim rows,
/// `accounts` their accounts.
pub fn burstiness(rows: &[Row], accounts: &[usize], n_terms: usize) -> (Vec<f64>, usize) {
    let n = rows.len() as f64;
    let mut by_account: Vec<usize> = (0..rows.len()).collect();
    by_account.sort_by_key(|&i| accounts[i]);
    let mut document_frequency = vec![0.0f64; n_terms];
    let mut observed = vec![0.0f64; n_terms];
    let mut pairs = 0.0f64;
    let mut counts = vec![0usize; n_terms];
    let mut touched: Vec<usize> = Vec::new();
    for group in by_account.chunk_by(|&a, &b| accounts[a] == accounts[b]) {
        let m = group.len() as f64;
        pairs += m * (m - 1.0);
        for &i in group {
            for &(term, _) in &rows[i] {
                if counts[term] == 0 {
                    touched.push(term);
                }
                counts[term] += 1;
            }
        }
        for term in touched.drain(..) {
            let p = counts[term] as f64;
            observed[term] += p * (p - 1.0);
            document_frequency[term] += p;
            counts[term] = 0;
        }
    }
    let mut bursty = 0;
    let weights = (0..n_terms)
        .map(|term| {
            let df = document_frequency[term];
            let expected = if n > 1.0 {
                pairs * df * (df - 1.0) / (n * (n - 1.0))
            } else {
                0.0
            };
            let z = (observed[term] - expected) / (2.0 * expected + 1.0).sqrt();
            if z >= MIN_BURSTINESS_Z {
                bursty += 1;
                1.0 + ((observed[term] + BURSTINESS_PRIOR) / (expected + BURSTINESS_PRIOR))
                    .ln()
                    .max(0.0)
            } else {
                1.0
            }
        })
        .collect();
    (weights, bursty)
}

/// `row` scaled to unit length (unchanged when all zero).
fn to_unit(mut row: Row) -> Row {
    let norm = row.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
    if norm > 0.0 {
        for entry in &mut row {
            entry.1 /= norm;
        }
    }
    row
}

/// `row` with each term's weight multiplied by `weights`, at unit length.
fn weighted(row: &Row, weights: &[f64]) -> Row {
    to_unit(row.iter().map(|&(t, w)| (t, w * weights[t])).collect())
}

/// Per account: the sum of its rows at unit length (empty without rows).
/// Each term's weights are added in the rows' order, the accounts on every
/// core.
fn account_profiles(rows: &[Row], accounts: &[usize], n_accounts: usize) -> Vec<Row> {
    // The rows of account `a` are `order[start[a]..start[a + 1]]`, in order.
    let mut start = vec![0usize; n_accounts + 1];
    for &account in accounts {
        if account < n_accounts {
            start[account + 1] += 1;
        }
    }
    for account in 0..n_accounts {
        start[account + 1] += start[account];
    }
    let mut next = start.clone();
    let mut order = vec![0usize; start[n_accounts]];
    for (row, &account) in accounts.iter().enumerate() {
        if account < n_accounts {
            order[next[account]] = row;
            next[account] += 1;
        }
    }
    (0..n_accounts)
        .into_par_iter()
        .map(|account| {
            let mut terms: Vec<(usize, f64)> = order[start[account]..start[account + 1]]
                .iter()
                .flat_map(|&row| rows[row].iter().copied())
                .collect();
            // Stable: a term's weights stay in the rows' order.
            terms.sort_by_key(|&(term, _)| term);
            let mut sum: Row = Vec::new();
            for (term, weight) in terms {
                match sum.last_mut() {
                    Some(last) if last.0 == term => last.1 += weight,
                    _ => sum.push((term, 0.0 + weight)),
                }
            }
            to_unit(sum)
        })
        .collect()
}

/// Mean cosine-distance silhouette of the sample whose cosines are `gram`
/// and whose labels are `labels`.
fn cosine_silhouette(gram: &[Vec<f64>], labels: &[usize], k: usize) -> f64 {
    let mut total = 0.0;
    for (i, cosines) in gram.iter().enumerate() {
        let mut sums = vec![0.0; k];
        let mut counts = vec![0usize; k];
        for (j, cosine) in cosines.iter().enumerate() {
            if i != j {
                sums[labels[j]] += 1.0 - cosine;
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
    total / gram.len().max(1) as f64
}

/// The cosine below which a verbatim is about no specific need, from the
/// verbatims' cosines to their nearest centroid: the emptiest bin of the
/// smoothed histogram between the means of the two classes Otsu's method
/// splits it into, if that bin holds at most half the peak below it (a real
/// valley) and the lower class's mean is at most half the upper's;
/// otherwise 0, and every verbatim with a kept term has a theme.
pub fn need_threshold(best_cosines: &[f64]) -> f64 {
    let bins = THRESHOLD_BINS;
    let bin_of = |c: f64| ((c.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
    let mut histogram = vec![0.0f64; bins];
    for &c in best_cosines {
        histogram[bin_of(c)] += 1.0;
    }
    let smoothed: Vec<f64> = (0..bins)
        .map(|b| {
            let window = &histogram[b.saturating_sub(1)..(b + 2).min(bins)];
            window.iter().sum::<f64>() / window.len() as f64
        })
        .collect();
    let center = |b: usize| (b as f64 + 0.5) / bins as f64;
    let mut best: Option<(f64, f64, f64)> = None;
    for split in 1..bins {
        let (low, high) = histogram.split_at(split);
        let (w0, w1) = (low.iter().sum::<f64>(), high.iter().sum::<f64>());
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let m0 = low
            .iter()
            .enumerate()
            .map(|(b, h)| h * center(b))
            .sum::<f64>()
            / w0;
        let m1 = high
            .iter()
            .enumerate()
            .map(|(b, h)| h * center(b + split))
            .sum::<f64>()
            / w1;
        let between = w0 * w1 * (m1 - m0).powi(2);
        if best.is_none_or(|(v, _, _)| between > v) {
            best = Some((between, m0, m1));
        }
    }
    let Some((_, m0, m1)) = best else {
        return 0.0;
    };
    // Verbatims about no need are at most half as close to their nearest
    // theme as those about one; two groups that are both close to a theme
    // (wordings of different lengths) are no reason to drop either.
    let (i0, i1) = (bin_of(m0), bin_of(m1));
    if i1 <= i0 + 1 || m0 > 0.5 * m1 {
        return 0.0;
    }
    let valley = (i0..=i1)
        .min_by(|&a, &b| smoothed[a].total_cmp(&smoothed[b]).then(a.cmp(&b)))
        .unwrap_or(i0);
    let lower_peak = smoothed[..=valley].iter().copied().fold(0.0, f64::max);
    if smoothed[valley] <= 0.5 * lower_peak {
        valley as f64 / bins as f64
    } else {
        0.0
    }
}

/// A verbatim's wording: its kept terms (or, without any, its stems),
/// sorted and distinct, so that texts that say the same in the same words,
/// typos and fillers aside, count once among representatives.
fn wording(row: &Row, document: &[(String, String)]) -> String {
    if row.is_empty() {
        let mut stems: Vec<&str> = document.iter().map(|(stem, _)| stem.as_str()).collect();
        stems.sort_unstable();
        stems.dedup();
        stems.join(" ")
    } else {
        row.iter()
            .map(|(term, _)| term.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// NPS and detractor share of the answers' scores.
fn nps_of(scores: &[i64]) -> (Option<f64>, Option<f64>) {
    let promoters = scores.iter().filter(|&&s| s >= 9).count() as f64;
    let detractors = scores.iter().filter(|&&s| s <= 6).count() as f64;
    let answers = scores.len() as f64;
    (
        (answers > 0.0).then(|| 100.0 * (promoters - detractors) / answers),
        (answers > 0.0).then(|| detractors / answers),
    )
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

/// [`find_themes`], fitting each k on at most `fit_sample` account profiles
/// (seeded) and labelling every account by its nearest centroid.
fn find_themes_sampled(
    verbatims: &[Verbatim],
    n_accounts: usize,
    k: Option<usize>,
    seed: u64,
    fit_sample: usize,
) -> Themes {
    let documents: Vec<Vec<(String, String)>> = verbatims
        .par_iter()
        .map_init(
            || rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English),
            |stemmer, v| tokens(&v.text, stemmer),
        )
        .collect();
    let (rows, vocabulary) = tf_idf(&documents);
    let n_terms = vocabulary.len();
    let usable: Vec<usize> = (0..rows.len())
        .filter(|&i| !rows[i].is_empty() && verbatims[i].account_idx < n_accounts)
        .collect();
    let usable_accounts: Vec<usize> = usable.iter().map(|&i| verbatims[i].account_idx).collect();
    let usable_rows: Vec<Row> = usable.iter().map(|&i| rows[i].clone()).collect();
    let (weights, bursty_terms) = burstiness(&usable_rows, &usable_accounts, n_terms);
    let weighted_rows: Vec<Row> = usable_rows
        .par_iter()
        .map(|r| weighted(r, &weights))
        .collect();
    let profiles = account_profiles(&weighted_rows, &usable_accounts, n_accounts);
    let profiled: Vec<usize> = (0..n_accounts)
        .filter(|&a| !profiles[a].is_empty())
        .collect();
    let units: Vec<Row> = profiled.iter().map(|&a| profiles[a].clone()).collect();
    let empty = |explanation: String, scores: Vec<ThemeScore>| Themes {
        verbatims: verbatims.len(),
        vocabulary: n_terms,
        bursty_terms,
        scores,
        themes: Vec::new(),
        no_need: None,
        threshold: 0.0,
        explanation,
        labels: vec![None; verbatims.len()],
        dominant: vec![None; n_accounts],
    };
    let (k_min, k_max) = match k {
        Some(k) => (k.max(1), k.max(1)),
        None => (2, 8),
    };
    if units.len() < 4 * k_max.max(2) {
        return empty(
            format!(
                "no stable themes found: {} accounts wrote verbatims that share enough words to compare, too few for {k_max} themes",
                units.len()
            ),
            Vec::new(),
        );
    }
    let sample = crate::ml::sample_indices(units.len(), SILHOUETTE_SAMPLE, seed);
    let gram: Vec<Vec<f64>> = sample
        .par_iter()
        .map(|&i| {
            let dense = densify(&units[i], n_terms);
            sample.iter().map(|&j| dot(&units[j], &dense)).collect()
        })
        .collect();
    // Stability is measured on a sample, refitted from other starts.
    let stability_units = crate::ml::sample_indices(units.len(), STABILITY_SAMPLE, seed ^ 0x5eed);
    let stability_data: Vec<Row> = stability_units.iter().map(|&i| units[i].clone()).collect();
    let fit_units = crate::ml::sample_indices(units.len(), fit_sample, seed ^ 0xf17);
    let fit_data: Vec<Row> = fit_units.iter().map(|&i| units[i].clone()).collect();
    let mut fitted: Vec<Fit> = (k_min..=k_max)
        .into_par_iter()
        .map(|k| {
            let (_, centroids, _) = spherical_kmeans(&fit_data, n_terms, k, seed);
            let term_major = TermMajor::of(&centroids);
            let mut cosines = Vec::new();
            let on_sample: Vec<usize> = sample
                .iter()
                .map(|&i| term_major.nearest(&units[i], &mut cosines).0)
                .collect();
            Fit {
                score: ThemeScore {
                    k,
                    silhouette: cosine_silhouette(&gram, &on_sample, k),
                    stability: None,
                },
                centroids,
            }
        })
        .collect();
    // Needs that exist are found again from other starts; noise is cut
    // differently every time. Refits are the costly part, so stability is
    // measured only for the k the choice below has to look at.
    let stable = |fit: &mut Fit| -> bool {
        if fit.score.silhouette < MIN_SILHOUETTE {
            return false;
        }
        let stability = *fit.score.stability.get_or_insert_with(|| {
            let term_major = TermMajor::of(&fit.centroids);
            let mut cosines = Vec::new();
            let on_stability: Vec<usize> = stability_units
                .iter()
                .map(|&i| term_major.nearest(&units[i], &mut cosines).0)
                .collect();
            [1u64, 2]
                .par_iter()
                .map(|&other| {
                    let (again, _, _) = spherical_kmeans(
                        &stability_data,
                        n_terms,
                        fit.score.k,
                        seed.wrapping_add(other * 7_919),
                    );
                    crate::ml::adjusted_rand_index(&on_stability, &again).unwrap_or(0.0)
                })
                .sum::<f64>()
                / 2.0
        });
        stability >= MIN_STABILITY
    };
    // The fewest themes whose silhouette is within a hair of the best stable
    // one: more themes that separate no better only split a need by its
    // wordings. The best stable silhouette is that of the first stable fit
    // in order of silhouette.
    let mut by_silhouette: Vec<usize> = (0..fitted.len()).collect();
    by_silhouette.sort_by(|&a, &b| {
        fitted[b]
            .score
            .silhouette
            .total_cmp(&fitted[a].score.silhouette)
            .then(a.cmp(&b))
    });
    let best_silhouette = by_silhouette
        .into_iter()
        .find(|&i| stable(&mut fitted[i]))
        .map(|i| fitted[i].score.silhouette);
    let chosen = best_silhouette.and_then(|best| {
        (0..fitted.len()).find(|&i| {
            fitted[i].score.silhouette >= best - SILHOUETTE_TOLERANCE && stable(&mut fitted[i])
        })
    });
    let scores: Vec<ThemeScore> = fitted.iter().map(|fit| fit.score).collect();
    let best = chosen.map(|i| fitted.swap_remove(i));
    let Some(Fit {
        score: ThemeScore { k, silhouette, .. },
        centroids,
    }) = best
    else {
        return empty(
            format!(
                "no stable themes found: no k from {k_min} to {k_max} gives needs that other starts find again (ARI ≥ {MIN_STABILITY}) with silhouette ≥ {MIN_SILHOUETTE}; the accounts' verbatims do not fall into distinct topics"
            ),
            scores,
        );
    };
    // Each verbatim: its nearest centroid, or no specific need below the
    // valley of the cosines.
    let term_major = TermMajor::of(&centroids);
    let nearest: Vec<(usize, f64)> = weighted_rows
        .par_iter()
        .map_init(Vec::new, |cosines, row| term_major.nearest(row, cosines))
        .collect();
    let best_cosines: Vec<f64> = nearest.iter().map(|&(_, cosine)| cosine).collect();
    let threshold = need_threshold(&best_cosines);
    let mut labels = vec![None; verbatims.len()];
    let mut cosine_of = vec![0.0; verbatims.len()];
    for (&original, &(theme, cosine)) in usable.iter().zip(&nearest) {
        cosine_of[original] = cosine;
        if cosine > threshold {
            labels[original] = Some(theme);
        }
    }
    // Dominant need per account: most verbatims, no specific need (index
    // k) included; a tie goes to the label written first.
    let mut votes: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n_accounts];
    for (verbatim, label) in verbatims.iter().zip(&labels) {
        let Some(account_votes) = votes.get_mut(verbatim.account_idx) else {
            continue;
        };
        let label = label.unwrap_or(k);
        match account_votes.iter_mut().find(|(l, _)| *l == label) {
            Some(entry) => entry.1 += 1,
            None => account_votes.push((label, 1)),
        }
    }
    let dominant: Vec<Option<usize>> = votes
        .iter()
        .map(|account_votes| {
            // `max_by_key` keeps the last of equals: scan in reverse so the
            // first written wins.
            account_votes
                .iter()
                .rev()
                .max_by_key(|(_, count)| *count)
                .map(|(label, _)| *label)
        })
        .collect();
    let representatives = |members: &mut Vec<(f64, usize)>| {
        members.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut seen: Vec<String> = Vec::new();
        let mut chosen = Vec::new();
        for &(_, idx) in members.iter() {
            let words = wording(&rows[idx], &documents[idx]);
            if !seen.contains(&words) {
                seen.push(words);
                chosen.push(verbatims[idx].text.clone());
            }
            if chosen.len() == 3 {
                break;
            }
        }
        chosen
    };
    let themes: Vec<Theme> = (0..k)
        .map(|theme| {
            let centroid = &centroids[theme];
            let distinct: Vec<f64> = (0..n_terms)
                .map(|t| {
                    let others = (0..k)
                        .filter(|&o| o != theme)
                        .map(|o| centroids[o][t])
                        .fold(0.0, f64::max);
                    centroid[t] - others
                })
                .collect();
            let mut order: Vec<usize> = (0..n_terms).filter(|&t| distinct[t] > 0.0).collect();
            order.sort_by(|&a, &b| distinct[b].total_cmp(&distinct[a]).then(a.cmp(&b)));
            let terms: Vec<String> = order
                .iter()
                .take(5)
                .map(|&t| vocabulary[t].1.clone())
                .collect();
            let members: Vec<usize> = (0..verbatims.len())
                .filter(|&i| labels[i] == Some(theme))
                .collect();
            let mut nearest: Vec<(f64, usize)> =
                members.iter().map(|&i| (cosine_of[i], i)).collect();
            let scores: Vec<i64> = members.iter().filter_map(|&i| verbatims[i].score).collect();
            let (nps, detractor_share) = nps_of(&scores);
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
                nps,
                detractor_share,
                representatives: representatives(&mut nearest),
            }
        })
        .collect();
    let no_need_members: Vec<usize> = (0..verbatims.len())
        .filter(|&i| labels[i].is_none() && verbatims[i].account_idx < n_accounts)
        .collect();
    let no_need = (!no_need_members.is_empty()).then(|| {
        // Its most common terms, and its most common wordings.
        let mut term_counts = vec![0usize; n_terms];
        let mut wording_counts: HashMap<String, usize> = HashMap::new();
        for &i in &no_need_members {
            for &(term, _) in &rows[i] {
                term_counts[term] += 1;
            }
            *wording_counts
                .entry(wording(&rows[i], &documents[i]))
                .or_default() += 1;
        }
        let mut order: Vec<usize> = (0..n_terms).filter(|&t| term_counts[t] > 0).collect();
        order.sort_by(|&a, &b| term_counts[b].cmp(&term_counts[a]).then(a.cmp(&b)));
        let mut members: Vec<(f64, usize)> = no_need_members
            .iter()
            .map(|&i| (wording_counts[&wording(&rows[i], &documents[i])] as f64, i))
            .collect();
        let scores: Vec<i64> = no_need_members
            .iter()
            .filter_map(|&i| verbatims[i].score)
            .collect();
        let (nps, detractor_share) = nps_of(&scores);
        Theme {
            name: NO_SPECIFIC_NEED.to_string(),
            terms: order
                .iter()
                .take(5)
                .map(|&t| vocabulary[t].1.clone())
                .collect(),
            verbatims: no_need_members.len(),
            accounts: dominant.iter().filter(|d| **d == Some(k)).count(),
            nps,
            detractor_share,
            representatives: representatives(&mut members),
        }
    });
    let mut explanation = match k_min == k_max {
        true => format!("k = {k} as asked: silhouette {silhouette:.3}"),
        false => format!(
            "k = {k}: the fewest themes within {SILHOUETTE_TOLERANCE} of the best cosine silhouette ({:.3}) among stable k (ARI ≥ {MIN_STABILITY}) of {k_min}..{k_max}",
            best_silhouette.unwrap_or(silhouette)
        ),
    };
    explanation.push_str(&format!(
        ", fitted on the profiles of {} accounts ({bursty_terms} of {n_terms} terms repeat within accounts beyond chance and weigh more)",
        units.len()
    ));
    if fit_units.len() < units.len() {
        explanation.push_str(&format!(
            "; k-means fitted on a sample of {} of the {} accounts, each account in the theme of its nearest centroid",
            fit_units.len(),
            units.len()
        ));
    }
    if let Some(none) = &no_need {
        explanation.push_str(&format!(
            "; {} verbatims {} are about no specific need",
            none.verbatims,
            if threshold > 0.0 {
                format!("with no kept term or a cosine to every theme ≤ {threshold:.2}")
            } else {
                "with no kept term".to_string()
            }
        ));
    }
    Themes {
        verbatims: verbatims.len(),
        vocabulary: n_terms,
        bursty_terms,
        scores,
        themes,
        no_need,
        threshold,
        explanation,
        labels,
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

    /// The term-major cosines are [`dot`]'s bit for bit, and the nearest is
    /// the first of equals.
    #[test]
    fn term_major_cosines_are_dot_products_bit_for_bit() {
        let mut rng = StdRng::seed_from_u64(7);
        let n_terms = 50;
        let centroids: Vec<Vec<f64>> = (0..5)
            .map(|_| (0..n_terms).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let term_major = TermMajor::of(&centroids);
        let mut cosines = Vec::new();
        for _ in 0..200 {
            let mut terms: Vec<usize> = (0..rng.random_range(0..12))
                .map(|_| rng.random_range(0..n_terms))
                .collect();
            terms.sort_unstable();
            terms.dedup();
            let row: Row = terms
                .into_iter()
                .map(|term| (term, rng.random_range(0.0..1.0)))
                .collect();
            let (best, cosine) = term_major.nearest(&row, &mut cosines);
            let dots: Vec<f64> = centroids.iter().map(|c| dot(&row, c)).collect();
            let bits = |values: &[f64]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&cosines), bits(&dots), "{row:?}");
            let top = dots.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(cosine.to_bits(), top.to_bits());
            assert_eq!(best, dots.iter().position(|&d| d == top).unwrap_or(0));
        }
        // Equal centroids: the first wins.
        let twins = TermMajor::of(&[vec![0.5, 0.5], vec![0.5, 0.5]]);
        assert_eq!(twins.nearest(&vec![(0, 1.0)], &mut cosines), (0, 0.5));
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

    #[test]
    fn terms_that_repeat_within_accounts_weigh_more() {
        // 50 accounts of 2 verbatims. Term 0 is in both verbatims of accounts
        // 0..10; term 1 in one verbatim of accounts 0..20; term 2 elsewhere.
        let mut rows: Vec<Row> = Vec::new();
        let mut accounts = Vec::new();
        for account in 0..50 {
            for second in 0..2 {
                let mut row: Row = Vec::new();
                if account < 10 {
                    row.push((0, 1.0));
                }
                if account < 20 && second == 0 {
                    row.push((1, 1.0));
                }
                row.push((2, 1.0));
                rows.push(row);
                accounts.push(account);
            }
        }
        let (weights, bursty) = burstiness(&rows, &accounts, 3);
        // Term 0: 20 ordered pairs observed; expected 100 pairs x 20 x 19 /
        // (100 x 99) = 3.838; z = 16.16 / sqrt(8.677) = 5.49 >= 3, so the
        // weight is 1 + ln((20 + 5) / (3.838 + 5)) = 2.0398.
        assert!((weights[0] - 2.0398).abs() < 1e-3, "{weights:?}");
        // Term 1: never twice in an account. Term 2: in every verbatim, as
        // often as chance says.
        assert_eq!(weights[1], 1.0);
        assert_eq!(weights[2], 1.0);
        assert_eq!(bursty, 1);
        // One verbatim per account: nothing can repeat, all weights are 1.
        let single: Vec<usize> = (0..rows.len()).collect();
        let (weights, bursty) = burstiness(&rows, &single, 3);
        assert_eq!((weights, bursty), (vec![1.0; 3], 0));
    }

    #[test]
    fn the_need_threshold_is_a_real_valley_or_nothing() {
        // Two groups of cosines, around 0.1 and 0.7: the valley is between.
        let mut rng = StdRng::seed_from_u64(7);
        let mut bimodal: Vec<f64> = (0..400)
            .map(|_| 0.1 + 0.05 * (rng.random::<f64>() - 0.5))
            .collect();
        bimodal.extend((0..600).map(|_| 0.7 + 0.2 * (rng.random::<f64>() - 0.5)));
        let threshold = need_threshold(&bimodal);
        assert!(threshold > 0.13 && threshold < 0.6, "{threshold}");
        // One group: no valley, no threshold.
        let unimodal: Vec<f64> = (0..1000)
            .map(|_| 0.6 + 0.3 * (rng.random::<f64>() - 0.5))
            .collect();
        assert_eq!(need_threshold(&unimodal), 0.0);
        // Two groups both close to a theme (0.55 and 0.8): no need is
        // lacking, there is no threshold.
        let close: Vec<f64> = (0..1000)
            .map(|i| if i % 2 == 0 { 0.55 } else { 0.8 } + 0.02 * (rng.random::<f64>() - 0.5))
            .collect();
        assert_eq!(need_threshold(&close), 0.0);
        assert_eq!(need_threshold(&[]), 0.0);
    }

    /// `n` texts of `words_per_text` words drawn from `words` (seeded).
    fn texts(words: &[&str], n: usize, words_per_text: usize, seed: u64) -> Vec<String> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                (0..words_per_text)
                    .map(|_| words[rng.random_range(0..words.len())])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    const PRICING: [&str; 8] = [
        "pricing",
        "invoice",
        "renewal",
        "expensive",
        "budget",
        "discount",
        "billing",
        "contract",
    ];
    const REPORTS: [&str; 8] = [
        "dashboard",
        "report",
        "chart",
        "export",
        "metric",
        "graph",
        "filter",
        "widget",
    ];
    /// What every account writes now and then, whatever it needs.
    const NOISE: [&str; 12] = [
        "crash", "login", "mobile", "upload", "slow", "password", "email", "search", "font",
        "typo", "timeout", "avatar",
    ];

    #[test]
    fn needs_are_found_on_accounts_and_noise_is_no_specific_need() {
        // 80 accounts: 40 need pricing, 40 reports; each writes 4 verbatims
        // about its need and 2 from a vocabulary every account shares.
        let pricing = texts(&PRICING, 160, 6, 1);
        let reports = texts(&REPORTS, 160, 6, 2);
        let noise = texts(&NOISE, 160, 3, 3);
        let mut verbatims = Vec::new();
        let mut is_noise = Vec::new();
        for account in 0..80 {
            let need = if account < 40 { &pricing } else { &reports };
            let score = if account < 40 { Some(3) } else { Some(10) };
            for i in 0..4 {
                verbatims.push(verbatim(account, &need[(account % 40) * 4 + i], score));
                is_noise.push(false);
            }
            for i in 0..2 {
                verbatims.push(verbatim(account, &noise[account * 2 + i], None));
                is_noise.push(true);
            }
        }
        // Account 80 wrote once about reports, then once about pricing: a
        // tie, which goes to what it wrote first.
        verbatims.push(verbatim(80, &reports[0], None));
        verbatims.push(verbatim(80, &pricing[0], None));
        is_noise.extend([false, false]);
        let themes = find_themes(&verbatims, 82, None, 0);
        assert_eq!(
            themes.themes.len(),
            2,
            "{} {:?}",
            themes.explanation,
            themes.scores
        );
        let pricing_theme = themes.labels[0].expect("a pricing verbatim is labelled");
        let theme = &themes.themes[pricing_theme];
        assert!(
            theme.terms.iter().all(|t| PRICING.contains(&t.as_str())),
            "{:?}",
            theme.terms
        );
        assert_eq!(theme.representatives.len(), 3);
        assert_eq!(theme.detractor_share, Some(1.0));
        assert_eq!(theme.nps, Some(-100.0));
        assert_eq!(themes.themes[1 - pricing_theme].nps, Some(100.0));
        for (idx, (label, noise)) in themes.labels.iter().zip(&is_noise).enumerate() {
            let account = verbatims[idx].account_idx;
            let expected = match (noise, account < 40 || (account == 80 && idx % 2 == 1)) {
                (true, _) => None,
                (false, true) => Some(pricing_theme),
                (false, false) => Some(1 - pricing_theme),
            };
            assert_eq!(*label, expected, "verbatim {idx}: {}", verbatims[idx].text);
        }
        let none = themes.no_need.as_ref().expect("noise is no specific need");
        assert_eq!(none.name, NO_SPECIFIC_NEED);
        assert_eq!(none.verbatims, 160);
        assert!(themes.threshold > 0.0, "{}", themes.explanation);
        assert_eq!(
            themes.segment_names().last().map(String::as_str),
            Some(NO_SPECIFIC_NEED)
        );
        for account in 0..82 {
            let expected = match account {
                0..40 => Some(pricing_theme),
                80 => Some(1 - pricing_theme),
                81 => None,
                _ => Some(1 - pricing_theme),
            };
            assert_eq!(themes.dominant[account], expected, "account {account}");
        }
        assert_eq!(none.accounts, 0);

        // Fitted on 50 of the 81 accounts, the same themes label alike.
        let sampled = find_themes_sampled(&verbatims, 82, None, 0, 50);
        assert_eq!(sampled.labels, themes.labels, "{}", sampled.explanation);
        assert!(
            sampled
                .explanation
                .contains("k-means fitted on a sample of 50 of the 81 accounts"),
            "{}",
            sampled.explanation
        );
        assert!(
            !themes.explanation.contains("sample"),
            "{}",
            themes.explanation
        );
    }

    #[test]
    fn words_drawn_at_random_give_no_themes() {
        // One shared vocabulary, words drawn at random, several per account.
        let mixed: Vec<&str> = PRICING.iter().chain(&REPORTS).copied().collect();
        let noise: Vec<Verbatim> = texts(&mixed, 300, 4, 3)
            .iter()
            .enumerate()
            .map(|(i, text)| verbatim(i / 3, text, None))
            .collect();
        let themes = find_themes(&noise, 100, None, 0);
        assert!(themes.themes.is_empty(), "{:?}", themes.scores);
        assert!(
            themes.explanation.starts_with("no stable themes found"),
            "{}",
            themes.explanation
        );
        assert!(themes.dominant.iter().all(Option::is_none));
        assert!(themes.segment_names().is_empty());

        // Words no two texts share: nothing to compare.
        let unique: Vec<Verbatim> = (0..40)
            .map(|i| verbatim(i, &format!("alpha{i} beta{i}"), None))
            .collect();
        let themes = find_themes(&unique, 40, None, 0);
        assert!(
            themes
                .explanation
                .starts_with("no stable themes found: 0 accounts"),
            "{}",
            themes.explanation
        );
    }
}
