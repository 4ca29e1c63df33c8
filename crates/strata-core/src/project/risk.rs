//! The `[risk]` settings: how `churn_risk` and `expansion_likelihood` are
//! learned. Training and scoring are [`crate::risk`]; this is configuration
//! only.
//!
//! ```toml
//! [risk]
//! horizon = "90d"           # churn_risk: P(paying nothing) this many days on
//! expansion_growth = 0.10   # expansion_likelihood: P(MRR up by at least 10%)
//! history_months = 24       # past as-of dates, one a month, to learn from
//! min_outcomes = 30         # fewer churned (expanded) accounts: refuse
//! attributes = ["industry", "employees"]   # account columns that never change
//! ```
//!
//! The section may be left out: a project whose rules or scorecards read
//! `churn_risk` or `expansion_likelihood` learns them with these defaults.
use serde::Deserialize;

use crate::error::Problem;

/// The learned features' names.
pub const CHURN_RISK: &str = "churn_risk";
/// See [`CHURN_RISK`].
pub const EXPANSION_LIKELIHOOD: &str = "expansion_likelihood";

/// `[risk]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRisk {
    /// `"90d"`.
    pub horizon: Option<String>,
    /// Growth that counts as expansion, as a fraction.
    pub expansion_growth: Option<f64>,
    /// Past monthly as-of dates to train on.
    pub history_months: Option<u32>,
    /// Fewest positive outcomes (and negative ones) a model trains on.
    pub min_outcomes: Option<usize>,
    /// Account columns the model may read (their current values are taken
    /// as their values at every past date).
    #[serde(default)]
    pub attributes: Vec<String>,
}

/// Checked `[risk]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskSettings {
    /// Days from an as-of date to the outcome.
    pub horizon_days: u32,
    /// Growth of MRR that counts as expansion.
    pub expansion_growth: f64,
    /// Past monthly as-of dates to train on, at most.
    pub history_months: u32,
    /// Fewest positive (and negative) outcomes to train on.
    pub min_outcomes: usize,
    /// Account columns the model reads besides the point-in-time features.
    pub attributes: Vec<String>,
}

impl Default for RiskSettings {
    fn default() -> Self {
        RiskSettings {
            horizon_days: 90,
            expansion_growth: 0.10,
            history_months: 24,
            min_outcomes: 30,
            attributes: Vec::new(),
        }
    }
}

/// Parses `"90d"` or `"90"` (1 to 730 days).
pub fn parse_horizon(text: &str) -> Option<u32> {
    let text = text.trim();
    let days: u32 = text.strip_suffix('d').unwrap_or(text).trim().parse().ok()?;
    (1..=730).contains(&days).then_some(days)
}

/// Checks `[risk]`, collecting problems.
pub fn validate(raw: RawRisk, origin: &str, problems: &mut Vec<Problem>) -> RiskSettings {
    let mut settings = RiskSettings::default();
    if let Some(text) = &raw.horizon {
        match parse_horizon(text) {
            Some(days) => settings.horizon_days = days,
            None => problems.push(
                Problem::new(
                    format!("{origin}: risk.horizon"),
                    format!("`{text}` is not a horizon"),
                )
                .with_help("write days, as \"90d\" (1 to 730)"),
            ),
        }
    }
    if let Some(growth) = raw.expansion_growth {
        if growth.is_finite() && growth > 0.0 && growth <= 10.0 {
            settings.expansion_growth = growth;
        } else {
            problems.push(
                Problem::new(
                    format!("{origin}: risk.expansion_growth"),
                    format!("{growth} is not a growth rate above 0"),
                )
                .with_help("write a fraction: 0.10 is MRR up by at least 10%"),
            );
        }
    }
    if let Some(months) = raw.history_months {
        if (3..=120).contains(&months) {
            settings.history_months = months;
        } else {
            problems.push(
                Problem::new(
                    format!("{origin}: risk.history_months"),
                    format!("{months} is out of range"),
                )
                .with_help("train on 3 to 120 past months (default 24)"),
            );
        }
    }
    if let Some(min) = raw.min_outcomes {
        if min >= 10 {
            settings.min_outcomes = min;
        } else {
            problems.push(
                Problem::new(
                    format!("{origin}: risk.min_outcomes"),
                    format!("{min} outcomes are too few to learn from"),
                )
                .with_help("use at least 10 (default 30)"),
            );
        }
    }
    settings.attributes = raw.attributes;
    settings
}
