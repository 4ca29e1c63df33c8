//! Random sampling helpers for the demo generator.
//!
//! Every account gets its own random stream per generation stage, derived
//! from the seed, the stage and the account's position. That makes the output
//! depend only on the parameters (not on the order in which stages consume
//! random numbers), and lets a stage change its sampling without shifting the
//! data of every other stage. The samplers are written out here, rather than
//! taken from `rand_distr` constructors, because they are infallible and cheap
//! to call with a different parameter on every account-day.
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// The generation stages, each with an independent random stream per account.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stage {
    /// Firmographics, archetype and planned integrations.
    Accounts = 1,
    /// Monthly revenue.
    Revenue = 2,
    /// Product events.
    Events = 3,
    /// NPS answers, surveys and tickets.
    Feedback = 4,
}

/// SplitMix64's finaliser: a cheap bijective mix of 64 bits.
fn splitmix64(value: u64) -> u64 {
    let mut mixed = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    mixed ^ (mixed >> 31)
}

/// The random stream of one account in one stage.
pub(crate) fn account_rng(seed: u64, stage: Stage, account_idx: usize) -> StdRng {
    let stream = splitmix64(splitmix64(splitmix64(seed) ^ stage as u64) ^ account_idx as u64);
    StdRng::seed_from_u64(stream)
}

/// A uniform draw in `[0, 1)`.
pub(crate) fn uniform(rng: &mut StdRng) -> f64 {
    rng.random::<f64>()
}

/// A uniform draw in `[low, high)`.
pub(crate) fn uniform_between(rng: &mut StdRng, low: f64, high: f64) -> f64 {
    low + (high - low) * uniform(rng)
}

/// A uniform integer in `low..=high`; `low` when the range is empty.
pub(crate) fn integer_between(rng: &mut StdRng, low: i64, high: i64) -> i64 {
    if high <= low {
        return low;
    }
    rng.random_range(low..=high)
}

/// A standard normal draw.
pub(crate) fn standard_normal(rng: &mut StdRng) -> f64 {
    rng.sample::<f64, _>(StandardNormal)
}

/// A log-normal multiplier with median 1, used as per-account noise.
pub(crate) fn lognormal_noise(rng: &mut StdRng, sigma: f64) -> f64 {
    (sigma * standard_normal(rng)).exp()
}

/// A Poisson count with mean `lambda` (0 when `lambda` is not positive).
///
/// Small means use Knuth's product of uniforms, which is exact; large means
/// use the normal approximation, which is accurate enough for activity counts
/// and avoids building a distribution object per account-day.
pub(crate) fn poisson(rng: &mut StdRng, lambda: f64) -> u64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 0;
    }
    if lambda < 30.0 {
        let threshold = (-lambda).exp();
        let mut count = 0;
        let mut product = uniform(rng);
        while product > threshold {
            count += 1;
            product *= uniform(rng);
        }
        return count;
    }
    let draw = lambda + lambda.sqrt() * standard_normal(rng);
    draw.round().max(0.0) as u64
}

/// Index drawn with probability proportional to `weights`; the last index
/// with a positive weight absorbs rounding. All-zero weights give index 0.
pub(crate) fn weighted_index(rng: &mut StdRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut remaining = uniform(rng) * total;
    let mut chosen = 0;
    for (idx, weight) in weights.iter().enumerate() {
        if *weight <= 0.0 {
            continue;
        }
        chosen = idx;
        if remaining < *weight {
            break;
        }
        remaining -= weight;
    }
    chosen
}

/// Picks one element of a non-empty slice uniformly; `None` when empty.
pub(crate) fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        return None;
    }
    items.get(rng.random_range(0..items.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(lambda: f64, expected_mean: f64) {
        let mut rng = account_rng(7, Stage::Events, 0);
        let n_draws = 20_000;
        let total: u64 = (0..n_draws).map(|_| poisson(&mut rng, lambda)).sum();
        let mean = total as f64 / n_draws as f64;
        let tolerance = 0.05 * expected_mean.max(1.0);
        assert!(
            (mean - expected_mean).abs() < tolerance,
            "lambda {lambda}: mean {mean}"
        );
    }

    #[test]
    fn poisson_means() {
        check(0.0, 0.0);
        check(-1.0, 0.0);
        check(0.3, 0.3);
        check(4.0, 4.0);
        check(29.0, 29.0);
        check(200.0, 200.0);
    }

    #[test]
    fn streams_differ_by_stage_and_account() {
        let mut first = account_rng(42, Stage::Events, 1);
        let mut other_account = account_rng(42, Stage::Events, 2);
        let mut other_stage = account_rng(42, Stage::Revenue, 1);
        let mut same = account_rng(42, Stage::Events, 1);
        let value = uniform(&mut first);
        assert_ne!(value, uniform(&mut other_account));
        assert_ne!(value, uniform(&mut other_stage));
        assert_eq!(value, uniform(&mut same));
    }

    #[test]
    fn weighted_index_skips_zero_weights() {
        let mut rng = account_rng(1, Stage::Accounts, 0);
        for _ in 0..1000 {
            let idx = weighted_index(&mut rng, &[0.0, 1.0, 0.0, 2.0, 0.0]);
            assert!(idx == 1 || idx == 3);
        }
    }
}
