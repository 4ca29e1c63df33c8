//! Ideal customer profile: subgroup discovery over attributes known early.
//!
//! The population is the NRR cohort, the accounts that paid 12 months before
//! as_of. A *selector* is one condition on one attribute: `industry = 'x'`
//! for categorical attributes; `x >= c`, `x < c` or `x BETWEEN a AND b` for
//! numeric ones, where the cut points are the attribute's 5% quantiles in
//! the cohort (found from the data, never hard-coded) and a range spans at
//! least [`MIN_RANGE_QUANTILES`] of them; and only `x >= c`
//! (c ≥ 1) for adoption counts ([`IcpAttribute::Count`]: "connected at least
//! 2 integrations in the first 60 days"). A rule is a conjunction of up to
//! [`IcpParams::max_depth`] selectors on distinct attributes.
//!
//! A beam search keeps the [`IcpParams::beam_width`] best rules of each depth,
//! at most [`BEAM_PER_ATTRIBUTES`] on the same attributes (a diverse beam),
//! and extends them by one selector on any attribute they do not use (the
//! same conjunction reached twice is kept once). The quality of a rule is
//! `sqrt(n_eff) × (target inside − target of the cohort)`, a z-score-like
//! balance of coverage against effect: `n_eff` is the evidence the rule's
//! accounts carry for the target (`Tally::quality`): for NRR,
//! which weights each account by its MRR 12 months ago, Kish's effective
//! size of those weights, so that many small accounts added to a profile
//! whose NRR comes from a few large ones do not make it look surer. Rules
//! below the minimum support (in accounts) are never kept. Everything is
//! deterministic: selectors are generated and ties broken in a fixed order.
//!
//! For the top rules, a bootstrap over cohort accounts gives a 95% confidence
//! interval of the lift (NRR inside / NRR outside).
use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;
use serde::Serialize;

/// One attribute of every account (feature-table order).
#[derive(Debug, Clone, PartialEq)]
pub enum IcpAttribute {
    /// A number; NULL matches no numeric condition.
    Numeric(String, Vec<Option<f64>>),
    /// A category; NULL matches no condition.
    Categorical(String, Vec<Option<String>>),
    /// How often something was adopted (a count of one event in the first
    /// days): only "at least c" conditions with c >= 1, the form a team can
    /// act on ("connected 2 integrations"), which also keeps the many
    /// per-event counts from multiplying the rules tried.
    Count(String, Vec<Option<f64>>),
}

impl IcpAttribute {
    /// The attribute's column name.
    pub fn name(&self) -> &str {
        match self {
            IcpAttribute::Numeric(name, _)
            | IcpAttribute::Categorical(name, _)
            | IcpAttribute::Count(name, _) => name,
        }
    }
}

/// Settings of the search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IcpParams {
    /// Conditions per rule, at most.
    pub max_depth: usize,
    /// Rules kept per depth.
    pub beam_width: usize,
    /// Fewest cohort accounts a rule must cover.
    pub min_support: usize,
    /// Rules reported.
    pub top: usize,
    /// Bootstrap resamples for the confidence interval.
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// What profiles should be high in.
    pub target: Target,
}

impl Default for IcpParams {
    fn default() -> Self {
        IcpParams {
            max_depth: 3,
            beam_width: 20,
            min_support: 10,
            top: 5,
            bootstrap: 200,
            seed: 0,
            target: Target::Nrr,
        }
    }
}

/// One condition on one attribute.
#[derive(Debug, Clone, PartialEq)]
enum Selector {
    Equals(usize, String),
    AtLeast(usize, f64),
    Below(usize, f64),
    Between(usize, f64, f64),
}

impl Selector {
    fn attribute(&self) -> usize {
        match self {
            Selector::Equals(a, _)
            | Selector::AtLeast(a, _)
            | Selector::Below(a, _)
            | Selector::Between(a, _, _) => *a,
        }
    }

    fn matches(&self, attributes: &[IcpAttribute], row: usize) -> bool {
        match (self, &attributes[self.attribute()]) {
            (Selector::Equals(_, value), IcpAttribute::Categorical(_, values)) => {
                values[row].as_deref() == Some(value.as_str())
            }
            (
                Selector::AtLeast(_, cut),
                IcpAttribute::Numeric(_, values) | IcpAttribute::Count(_, values),
            ) => values[row].is_some_and(|v| v >= *cut),
            (Selector::Below(_, cut), IcpAttribute::Numeric(_, values)) => {
                values[row].is_some_and(|v| v < *cut)
            }
            (Selector::Between(_, low, high), IcpAttribute::Numeric(_, values)) => {
                values[row].is_some_and(|v| v >= *low && v <= *high)
            }
            _ => false,
        }
    }

    fn rule_text(&self, attributes: &[IcpAttribute]) -> String {
        let name = attributes[self.attribute()].name();
        let number = crate::rules::number;
        match self {
            Selector::Equals(_, value) => format!("{name} = '{}'", value.replace('\'', "''")),
            Selector::AtLeast(_, cut) => format!("{name} >= {}", number(*cut)),
            Selector::Below(_, cut) => format!("{name} < {}", number(*cut)),
            Selector::Between(_, low, high) => {
                format!("{name} BETWEEN {} AND {}", number(*low), number(*high))
            }
        }
    }
}

/// A rule found by the search, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IcpRule {
    /// The rule in the rule language.
    pub rule: String,
    /// Accounts matching it (all accounts, not only the cohort).
    pub accounts: usize,
    /// Their share of ARR.
    pub share_of_arr: Option<f64>,
    /// Cohort accounts matching it.
    pub cohort_accounts: usize,
    /// The target (NRR, retention or expansion rate) of the matching cohort accounts.
    pub inside: f64,
    /// The target of the other cohort accounts.
    pub outside: Option<f64>,
    /// `inside / outside`.
    pub lift: Option<f64>,
    /// 95% bootstrap confidence interval of the lift.
    pub lift_ci: Option<(f64, f64)>,
    /// `sqrt(n_eff) × (target inside − target of the cohort)`, `n_eff` the
    /// effective size of the matching cohort (`Tally::quality`).
    pub quality: f64,
}

/// What the search found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IcpResult {
    /// Accounts that paid 12 months ago.
    pub cohort_accounts: usize,
    /// What was maximised.
    pub target: Target,
    /// The target over the whole cohort.
    pub cohort_value: Option<f64>,
    /// Attributes searched.
    pub attributes: Vec<String>,
    /// Best rules first.
    pub rules: Vec<IcpRule>,
}

/// Why no search could run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcpError {
    /// Too few accounts paid 12 months ago.
    #[error(
        "only {cohort} accounts paid 12 months before as_of; a profile needs at least {needed} (twice the minimum support)"
    )]
    TooFewAccounts {
        /// Accounts in the NRR cohort.
        cohort: usize,
        /// The least the search needs.
        needed: usize,
    },
    /// Nothing to search.
    #[error("no attribute known at signup to build rules from")]
    NoAttributes,
}

/// Per-account revenue: MRR now and 12 months ago.
pub type Revenue = (f64, f64);

/// What a profile is to be high in, over the NRR cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// MRR now / MRR 12 months ago.
    #[default]
    Nrr,
    /// Share of accounts still paying.
    Retention,
    /// Share of accounts paying more than 12 months ago.
    Expansion,
}

impl Target {
    /// Reads `nrr`, `retention` or `expansion`.
    pub fn parse(text: &str) -> std::result::Result<Target, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "nrr" => Ok(Target::Nrr),
            "retention" => Ok(Target::Retention),
            "expansion" => Ok(Target::Expansion),
            other => Err(format!(
                "unknown target `{other}`: use nrr, retention or expansion"
            )),
        }
    }

    /// Its label in tables.
    pub fn label(self) -> &'static str {
        match self {
            Target::Nrr => "NRR",
            Target::Retention => "retention",
            Target::Expansion => "expansion rate",
        }
    }

    /// The target over `rows`.
    pub fn value(self, revenue: &[Revenue], rows: impl Iterator<Item = usize>) -> Option<f64> {
        let mut tally = Tally::default();
        for row in rows {
            tally.add(revenue[row]);
        }
        tally.value(self)
    }
}

/// Rules of one depth on the same set of attributes kept in the beam.
const BEAM_PER_ATTRIBUTES: usize = 2;

/// Quantiles of a numeric attribute's cut points: every 5% of the cohort.
const CUT_QUANTILES: usize = 20;

/// Quantile steps a `BETWEEN` range spans at least (20% of the cohort).
const MIN_RANGE_QUANTILES: usize = 4;

/// Cut points of a numeric attribute over `rows` (every 5% quantile),
/// distinct and sorted.
fn cut_points(values: &[Option<f64>], rows: &[usize]) -> Vec<f64> {
    let mut present: Vec<f64> = rows.iter().filter_map(|&row| values[row]).collect();
    present.sort_by(f64::total_cmp);
    if present.is_empty() {
        return Vec::new();
    }
    let mut cuts: Vec<f64> = (1..CUT_QUANTILES)
        .map(|q| present[(present.len() * q / CUT_QUANTILES).min(present.len() - 1)])
        .collect();
    cuts.dedup();
    cuts
}

fn selectors(attributes: &[IcpAttribute], cohort: &[usize], min_support: usize) -> Vec<Selector> {
    let mut out = Vec::new();
    for (idx, attribute) in attributes.iter().enumerate() {
        match attribute {
            IcpAttribute::Categorical(_, values) => {
                let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
                for &row in cohort {
                    if let Some(value) = values[row].as_deref() {
                        *counts.entry(value).or_default() += 1;
                    }
                }
                for (value, count) in counts {
                    if count >= min_support {
                        out.push(Selector::Equals(idx, value.to_string()));
                    }
                }
            }
            IcpAttribute::Count(_, values) => {
                for cut in cut_points(values, cohort) {
                    if cut >= 1.0 {
                        out.push(Selector::AtLeast(idx, cut));
                    }
                }
            }
            IcpAttribute::Numeric(_, values) => {
                let cuts = cut_points(values, cohort);
                for (i, &cut) in cuts.iter().enumerate() {
                    out.push(Selector::AtLeast(idx, cut));
                    out.push(Selector::Below(idx, cut));
                    // A range spans at least MIN_RANGE_QUANTILES quantile
                    // steps: finer ranges fit the noise of a few accounts.
                    for &high in cuts.iter().skip(i + MIN_RANGE_QUANTILES) {
                        out.push(Selector::Between(idx, cut, high));
                    }
                }
            }
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Candidate {
    selectors: Vec<usize>,
    /// Cohort rows matching, ascending.
    rows: Vec<usize>,
    /// The same as a bitset over cohort positions.
    bits: Vec<u64>,
    quality: f64,
}

/// An extension scored from bitsets, before the beam keeps it.
#[derive(Debug, Clone)]
struct Scored {
    selectors: Vec<usize>,
    quality: f64,
}

/// What the quality of a set of cohort accounts needs, summed in one pass.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    n: usize,
    now: f64,
    before: f64,
    before_squared: f64,
    retained: usize,
    expanded: usize,
}

impl Tally {
    fn add(&mut self, (now, before): Revenue) {
        self.n += 1;
        self.now += now;
        self.before += before;
        self.before_squared += before * before;
        self.retained += usize::from(now > 0.0);
        self.expanded += usize::from(now > before);
    }

    /// The target over the rows added: `None` without any (NRR: without
    /// MRR 12 months ago).
    fn value(&self, target: Target) -> Option<f64> {
        match target {
            Target::Nrr => (self.before > 0.0).then(|| self.now / self.before),
            Target::Retention => (self.n > 0).then(|| self.retained as f64 / self.n as f64),
            Target::Expansion => (self.n > 0).then(|| self.expanded as f64 / self.n as f64),
        }
    }

    /// `sqrt(n_eff) × (target − cohort value)`. `n_eff` is how many accounts
    /// the tally is worth as evidence: for NRR, a mean of per-account NRR
    /// weighted by MRR 12 months ago, Kish's effective sample size
    /// `(Σw)² / Σw²` of those weights (many small accounts and one large one
    /// are about as sure as one account); for the shares of accounts, the
    /// number of accounts.
    fn quality(&self, target: Target, cohort_value: f64) -> f64 {
        let (value, size) = match target {
            Target::Nrr => (
                if self.before > 0.0 {
                    self.now / self.before
                } else {
                    0.0
                },
                if self.before_squared > 0.0 {
                    self.before * self.before / self.before_squared
                } else {
                    0.0
                },
            ),
            Target::Retention | Target::Expansion => {
                let hits = if target == Target::Retention {
                    self.retained
                } else {
                    self.expanded
                };
                (
                    if self.n > 0 {
                        hits as f64 / self.n as f64
                    } else {
                        0.0
                    },
                    self.n as f64,
                )
            }
        };
        size.sqrt() * (value - cohort_value)
    }
}

/// Calls `visit` with every cohort position set in `bits`, ascending.
fn for_each_position(bits: &[u64], mut visit: impl FnMut(usize)) {
    for (word_idx, &word) in bits.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            visit(word_idx * 64 + word.trailing_zeros() as usize);
            word &= word - 1;
        }
    }
}

/// Searches `attributes` for the conjunctions whose cohort accounts have the
/// highest NRR. `revenue` and every attribute hold one entry per account.
pub fn search(
    attributes: &[IcpAttribute],
    revenue: &[Revenue],
    params: &IcpParams,
) -> Result<IcpResult, IcpError> {
    if attributes.is_empty() {
        return Err(IcpError::NoAttributes);
    }
    let cohort: Vec<usize> = (0..revenue.len())
        .filter(|&row| revenue[row].1 > 0.0)
        .collect();
    let needed = 2 * params.min_support.max(1);
    if cohort.len() < needed {
        return Err(IcpError::TooFewAccounts {
            cohort: cohort.len(),
            needed,
        });
    }
    let target = params.target;
    let cohort_nrr = target.value(revenue, cohort.iter().copied()).unwrap_or(0.0);
    let all_selectors = selectors(attributes, &cohort, params.min_support);
    // Each selector's matching cohort accounts, as a bitset over cohort
    // positions: extending a rule is then an AND and a popcount, and only the
    // rules the beam keeps get their rows.
    let words = cohort.len().div_ceil(64);
    let selector_bits: Vec<Vec<u64>> = all_selectors
        .par_iter()
        .map(|selector| {
            let mut bits = vec![0u64; words];
            for (position, &row) in cohort.iter().enumerate() {
                if selector.matches(attributes, row) {
                    bits[position / 64] |= 1u64 << (position % 64);
                }
            }
            bits
        })
        .collect();
    let candidate_of = |selectors: Vec<usize>, quality: f64| -> Candidate {
        let mut bits = vec![u64::MAX; words];
        if let Some(last) = bits.last_mut()
            && cohort.len() % 64 != 0
        {
            *last = (1u64 << (cohort.len() % 64)) - 1;
        }
        for &s in &selectors {
            for (word, other) in bits.iter_mut().zip(&selector_bits[s]) {
                *word &= other;
            }
        }
        let mut rows = Vec::new();
        for_each_position(&bits, |position| rows.push(cohort[position]));
        Candidate {
            selectors,
            rows,
            bits,
            quality,
        }
    };

    let mut beam = vec![candidate_of(Vec::new(), f64::NEG_INFINITY)];
    let mut best: Vec<Candidate> = Vec::new();
    for _ in 0..params.max_depth {
        let mut next: Vec<Scored> = Vec::new();
        for candidate in &beam {
            let used: Vec<usize> = candidate
                .selectors
                .iter()
                .map(|&s| all_selectors[s].attribute())
                .collect();
            // Every extension of this rule, evaluated in parallel. Any
            // selector may extend it (not only later ones): a conjunction
            // whose first condition alone is weak is still reached from its
            // stronger condition; duplicates are dropped below.
            let extended: Vec<Scored> = all_selectors
                .par_iter()
                .enumerate()
                .filter_map(|(s_idx, selector)| {
                    if used.contains(&selector.attribute()) {
                        return None;
                    }
                    let own = &selector_bits[s_idx];
                    let count: usize = candidate
                        .bits
                        .iter()
                        .zip(own)
                        .map(|(a, b)| (a & b).count_ones() as usize)
                        .sum();
                    if count < params.min_support || count == candidate.rows.len() {
                        return None;
                    }
                    let mut tally = Tally::default();
                    let both: Vec<u64> =
                        candidate.bits.iter().zip(own).map(|(a, b)| a & b).collect();
                    for_each_position(&both, |position| tally.add(revenue[cohort[position]]));
                    let mut selectors = candidate.selectors.clone();
                    selectors.push(s_idx);
                    selectors.sort_unstable();
                    Some(Scored {
                        quality: tally.quality(target, cohort_nrr),
                        selectors,
                    })
                })
                .collect();
            next.extend(extended);
        }
        next.sort_by(|a, b| {
            b.quality
                .total_cmp(&a.quality)
                .then(a.selectors.cmp(&b.selectors))
        });
        // The same conjunction reached from two of its conditions.
        next.dedup_by(|a, b| a.selectors == b.selectors);
        // A diverse beam: at most BEAM_PER_ATTRIBUTES rules on the same
        // attributes, or the near-identical cuts of one strong attribute
        // (`employees BETWEEN` any two quantiles) fill the beam and crowd
        // out the other dimensions a profile needs.
        let mut per_attributes: std::collections::HashMap<Vec<usize>, usize> = Default::default();
        next.retain(|candidate| {
            let mut key: Vec<usize> = candidate
                .selectors
                .iter()
                .map(|&s| all_selectors[s].attribute())
                .collect();
            key.sort_unstable();
            let seen = per_attributes.entry(key).or_default();
            *seen += 1;
            *seen <= BEAM_PER_ATTRIBUTES
        });
        next.truncate(params.beam_width);
        if next.is_empty() {
            break;
        }
        beam = next
            .into_iter()
            .map(|scored| candidate_of(scored.selectors, scored.quality))
            .collect();
        best.extend(beam.iter().cloned());
    }
    best.sort_by(|a, b| {
        b.quality
            .total_cmp(&a.quality)
            .then(a.selectors.cmp(&b.selectors))
    });
    // Keep rules that add something: drop one whose rows equal a better rule's.
    let mut kept: Vec<Candidate> = Vec::new();
    for candidate in best {
        if kept.len() >= params.top {
            break;
        }
        if candidate.quality > 0.0 && !kept.iter().any(|k| k.rows == candidate.rows) {
            kept.push(candidate);
        }
    }

    let total_arr: f64 = revenue.iter().map(|r| 12.0 * r.0).sum();
    // Each rule's bootstrap has its own random stream: the rules run on
    // every core.
    let rules = kept
        .par_iter()
        .enumerate()
        .map(|(rank, candidate)| {
            let conditions: Vec<&Selector> = candidate
                .selectors
                .iter()
                .map(|&s| &all_selectors[s])
                .collect();
            let matches = |row: usize| conditions.iter().all(|s| s.matches(attributes, row));
            let members: Vec<usize> = (0..revenue.len()).filter(|&row| matches(row)).collect();
            let arr: f64 = members.iter().map(|&row| 12.0 * revenue[row].0).sum();
            let inside_mask: Vec<bool> = cohort.iter().map(|&row| matches(row)).collect();
            let outside: Vec<usize> = cohort
                .iter()
                .zip(&inside_mask)
                .filter(|(_, inside)| !**inside)
                .map(|(&row, _)| row)
                .collect();
            let inside = target
                .value(revenue, candidate.rows.iter().copied())
                .unwrap_or(0.0);
            let outside_value = target.value(revenue, outside.iter().copied());
            let lift = outside_value.filter(|o| *o > 0.0).map(|o| inside / o);
            IcpRule {
                rule: conditions
                    .iter()
                    .map(|s| s.rule_text(attributes))
                    .collect::<Vec<_>>()
                    .join(" AND "),
                accounts: members.len(),
                share_of_arr: (total_arr > 0.0).then(|| arr / total_arr),
                cohort_accounts: candidate.rows.len(),
                inside,
                outside: outside_value,
                lift,
                lift_ci: bootstrap_lift(revenue, &cohort, &inside_mask, params, rank as u64),
                quality: candidate.quality,
            }
        })
        .collect();
    Ok(IcpResult {
        cohort_accounts: cohort.len(),
        target,
        cohort_value: Some(cohort_nrr),
        attributes: attributes.iter().map(|a| a.name().to_string()).collect(),
        rules,
    })
}

/// 2.5th and 97.5th percentiles of the lift over bootstrap resamples of the cohort.
fn bootstrap_lift(
    revenue: &[Revenue],
    cohort: &[usize],
    inside: &[bool],
    params: &IcpParams,
    stream: u64,
) -> Option<(f64, f64)> {
    use rand::Rng;
    if params.bootstrap < 20 {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(params.seed ^ (stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    let mut lifts = Vec::with_capacity(params.bootstrap);
    let target = params.target;
    // The cohort's revenue side by side with its inside flags: a resample
    // reads one array at random rather than two.
    let picked: Vec<(Revenue, bool)> = cohort
        .iter()
        .zip(inside)
        .map(|(&row, &inside)| (revenue[row], inside))
        .collect();
    for _ in 0..params.bootstrap {
        let (mut inside_tally, mut outside_tally) = (Tally::default(), Tally::default());
        for _ in 0..cohort.len() {
            let (row_revenue, is_inside) = picked[rng.random_range(0..cohort.len())];
            if is_inside {
                inside_tally.add(row_revenue);
            } else {
                outside_tally.add(row_revenue);
            }
        }
        if let (Some(inside_value), Some(outside_value)) =
            (inside_tally.value(target), outside_tally.value(target))
            && outside_value > 0.0
        {
            lifts.push(inside_value / outside_value);
        }
    }
    if lifts.len() < params.bootstrap / 2 {
        return None;
    }
    lifts.sort_by(f64::total_cmp);
    let at = |q: f64| lifts[((lifts.len() - 1) as f64 * q).round() as usize];
    Some((at(0.025), at(0.975)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_planted_conjunction_and_not_its_halves() {
        // 400 accounts: industry a/b alternating, size 0..100 cycling. Accounts
        // in industry a with size >= 50 grow 50%; everyone else shrinks 10%.
        let n = 400;
        let industry: Vec<Option<String>> = (0..n)
            .map(|i| Some(if i % 2 == 0 { "a" } else { "b" }.to_string()))
            .collect();
        let size: Vec<Option<f64>> = (0..n).map(|i| Some(((i / 2) % 100) as f64)).collect();
        let revenue: Vec<Revenue> = (0..n)
            .map(|i| {
                if i % 2 == 0 && (i / 2) % 100 >= 50 {
                    (150.0, 100.0)
                } else {
                    (90.0, 100.0)
                }
            })
            .collect();
        let attributes = vec![
            IcpAttribute::Categorical("industry".into(), industry),
            IcpAttribute::Numeric("size".into(), size),
        ];
        let params = IcpParams {
            min_support: 20,
            bootstrap: 50,
            ..IcpParams::default()
        };
        let result = search(&attributes, &revenue, &params).unwrap();
        let top = &result.rules[0];
        assert_eq!(top.rule, "industry = 'a' AND size >= 50");
        assert_eq!(top.cohort_accounts, 100);
        assert_eq!(top.inside, 1.5);
        assert_eq!(top.outside, Some(0.9));
        let (low, high) = top.lift_ci.unwrap();
        assert!(low <= 1.5 / 0.9 && 1.5 / 0.9 <= high, "{low} {high}");
        // Deterministic.
        assert_eq!(search(&attributes, &revenue, &params).unwrap(), result);
    }

    #[test]
    fn too_few_paying_accounts_is_an_error() {
        let attributes = vec![IcpAttribute::Numeric("x".into(), vec![Some(1.0); 10])];
        let revenue = vec![(1.0, 1.0); 10];
        let error = search(&attributes, &revenue, &IcpParams::default()).unwrap_err();
        assert_eq!(
            error,
            IcpError::TooFewAccounts {
                cohort: 10,
                needed: 20
            }
        );
        assert_eq!(
            search(&[], &revenue, &IcpParams::default()).unwrap_err(),
            IcpError::NoAttributes
        );
    }

    #[test]
    fn targets_by_hand() {
        // (now, 12 months ago): grew, shrank, churned, flat.
        let revenue = [(150.0, 100.0), (50.0, 100.0), (0.0, 100.0), (100.0, 100.0)];
        let all = || 0..4;
        assert_eq!(Target::Nrr.value(&revenue, all()), Some(0.75));
        assert_eq!(Target::Retention.value(&revenue, all()), Some(0.75));
        assert_eq!(Target::Expansion.value(&revenue, all()), Some(0.25));
        assert_eq!(Target::Retention.value(&revenue, 0..0), None);
        assert_eq!(Target::parse("Retention"), Ok(Target::Retention));
        assert!(
            Target::parse("growth")
                .unwrap_err()
                .contains("use nrr, retention or expansion")
        );
    }
}
