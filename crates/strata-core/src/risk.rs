//! Risks learned from the base's own history: `churn_risk` (the probability
//! that a paying account pays nothing `horizon` days on) and
//! `expansion_likelihood` (the probability that its MRR grows by at least
//! `expansion_growth` in that time).
//!
//! How a model is learned, at a run's as-of date `T`:
//!
//! 1. **Point-in-time snapshots.** At every month-end-aligned past date `D`
//!    (`T` minus 1, 2, ... months, at most `history_months` of them) whose
//!    outcome month (the month of `D + horizon`) is observed by `T`'s
//!    revenue month, the feature table is computed *as of `D`* by the same
//!    code as a run's (`features::compute_with`: events up to the end of
//!    `D`, revenue up to `D`'s month), over the same per-event columns. Its
//!    rows are the accounts paying at `D`; the label is read from the
//!    revenue of the outcome month, which is never after `T`'s.
//! 2. **Inputs.** Every behavioral, revenue and custom feature (and
//!    `days_since_signup`, and the account columns `risk.attributes` names,
//!    whose current values stand for their past ones): counts `log1p`-ed
//!    when never negative, standardized, clipped at 5 deviations; a missing
//!    value imputed with the median plus a missing flag; a text attribute
//!    one-hot over its common levels.
//! 3. **Fit.** An L2-regularized logistic regression (`ml::logistic`). The
//!    penalty is chosen on the last quarter of the dates held out by time
//!    (the model learns on dates whose outcomes were known before the first
//!    held-out date), the held-out decisions are Platt-calibrated, and the
//!    held-out AUC and calibration by decile are kept as the model's report
//!    card. The final model learns on every date with that penalty.
//! 4. **Scoring.** Every account paying at `T` gets a probability and its
//!    drivers: the inputs that raise its log-odds most above the average
//!    account's (coefficient × standardized value, summed per feature).
//!    Accounts paying nothing get NULL: logo churn and expansion are about
//!    paying accounts.
//!
//! Below `min_outcomes` positive (or negative) outcomes a model is refused
//! with what it has and needs, and its column is NULL: no number with false
//! precision.
//!
//! **Invariants**: no snapshot reads an event after its date or a revenue
//! row after its month (they are computed by the run's own point-in-time
//! feature code), and no label reads a revenue month after `T`'s.
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Months, NaiveDate};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::dates::{day_number, days_after, month_number};
use crate::error::{Error, Problem, Result};
use crate::features::{self, FeatureDef, FeatureGroup, FeatureTable};
use crate::measures::cohorts::{MonthlyMrr, RevenueRows};
use crate::ml::logistic::{self, LogisticModel, LogisticParams, Platt};
use crate::ml::{Matrix, Scaling, Transform, TransformParams};
use crate::project::Project;
use crate::project::risk::{CHURN_RISK, EXPANSION_LIKELIHOOD, RiskSettings};
use crate::rules::ValueType;
use crate::sources::{self, Sources};

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Pays nothing at the horizon.
    Churn,
    /// Pays at least `expansion_growth` more at the horizon.
    Expansion,
}

impl Target {
    /// Both, in column order.
    pub const ALL: [Target; 2] = [Target::Churn, Target::Expansion];

    /// The feature's name.
    pub fn feature(self) -> &'static str {
        match self {
            Target::Churn => CHURN_RISK,
            Target::Expansion => EXPANSION_LIKELIHOOD,
        }
    }

    /// Whether an account paying `start` then and `end` at the horizon has
    /// the outcome.
    pub fn happened(self, start: f64, end: f64, settings: &RiskSettings) -> bool {
        match self {
            Target::Churn => end <= 0.0,
            // (A relative tolerance, so that 100 -> 110 is 10% in floating point.)
            Target::Expansion => {
                end > 0.0 && end >= start * (1.0 + settings.expansion_growth) * (1.0 - 1e-12)
            }
        }
    }

    /// The outcome in words.
    pub fn outcome(self, settings: &RiskSettings) -> String {
        match self {
            Target::Churn => format!("pays nothing {} days later", settings.horizon_days),
            Target::Expansion => format!(
                "pays at least {:.0}% more MRR {} days later",
                100.0 * settings.expansion_growth,
                settings.horizon_days
            ),
        }
    }

    /// The past tense of the outcome, for counts.
    fn verb(self) -> &'static str {
        match self {
            Target::Churn => "churned",
            Target::Expansion => "expanded",
        }
    }
}

/// One past date's point-in-time features and what happened next.
#[derive(Debug)]
pub struct Snapshot {
    /// The past as-of date.
    pub date: NaiveDate,
    /// The feature table as of `date` (every account, in accounts order).
    pub table: FeatureTable,
    /// The rows (account positions) paying at `date`.
    pub rows: Vec<usize>,
    /// Their MRR at `date`'s revenue month.
    pub start: Vec<f64>,
    /// Their MRR in the month `horizon` days later.
    pub end: Vec<f64>,
}

/// Up to `count` past dates, `as_of` minus 1, 2, ... months (each counted
/// from `as_of`; from a month end, month ends: Jun 30 → May 31), oldest first, whose outcome
/// `horizon_days` later falls in a month no later than `observed_month`
/// and that are not before `first_month`.
pub fn past_dates(
    as_of: NaiveDate,
    observed_month: i32,
    first_month: i32,
    horizon_days: u32,
    count: usize,
) -> Vec<NaiveDate> {
    let mut dates = Vec::new();
    let month_ends = crate::dates::is_month_end(as_of);
    for back in 1..=1200 {
        if dates.len() >= count {
            break;
        }
        let Some(date) = as_of.checked_sub_months(Months::new(back)) else {
            break;
        };
        let date = if month_ends {
            crate::dates::month_end(date)
        } else {
            date
        };
        if month_number(date) < first_month {
            break;
        }
        if month_number(days_after(date, horizon_days)) <= observed_month {
            dates.push(date);
        }
    }
    dates.reverse();
    dates
}

/// MRR per (account, month), summed over rows.
pub(crate) fn mrr_by_month(sources: &Sources) -> MonthlyMrr {
    let none = sources::Revenue::default();
    let revenue = sources.revenue.as_ref().unwrap_or(&none);
    let rows = RevenueRows {
        account_idx: &revenue.account_idx,
        month: &revenue.month,
        mrr: &revenue.mrr,
    };
    MonthlyMrr::new(rows, sources.accounts.ids.len())
}

/// The point-in-time snapshots a model at `as_of` learns from, oldest
/// first; `progress(done, total)` hears each date. With `cache`, each
/// date's features start from its kept scan where they can.
///
/// # Errors
///
/// A project without revenue, or a feature computation that fails.
pub async fn snapshots(
    ctx: &SessionContext,
    project: &Project,
    sources: &Sources,
    as_of: NaiveDate,
    settings: &RiskSettings,
    top_events: &[String],
    cache: Option<&features::ScanCache>,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<Vec<Snapshot>> {
    let Some(revenue) = &sources.revenue else {
        return Err(Error::invalid(
            Problem::new(
                "risk",
                "churn_risk and expansion_likelihood are learned from revenue, and the project has no revenue table",
            )
            .with_help("add `revenue = \"...\"` under [sources], or drop the rules that read them"),
        ));
    };
    let observed = sources::revenue_month(sources, day_number(as_of));
    let first = revenue.month.iter().copied().min().unwrap_or(observed);
    let dates = past_dates(
        as_of,
        observed,
        first,
        settings.horizon_days,
        settings.history_months as usize,
    );
    let mrr = mrr_by_month(sources);
    let mut out = Vec::with_capacity(dates.len());
    // The dates' features from one pass over the events per group of dates.
    let days: Vec<i32> = dates.iter().map(|date| day_number(*date)).collect();
    let tables = features::compute_many(
        ctx,
        project,
        sources,
        &days,
        Some(top_events.to_vec()),
        cache,
        progress,
    )
    .await?;
    for (date, table) in dates.iter().zip(tables) {
        let day = day_number(*date);
        let start_month = revenue.measured_month(month_number(*date));
        let end_month = month_number(days_after(*date, settings.horizon_days));
        let mut snapshot = Snapshot {
            date: *date,
            table,
            rows: Vec::new(),
            start: Vec::new(),
            end: Vec::new(),
        };
        for (account, &created) in sources.accounts.created_day.iter().enumerate() {
            let start = mrr.at(account, start_month);
            if created > day || start <= 0.0 {
                continue;
            }
            snapshot.rows.push(account);
            snapshot.start.push(start);
            snapshot.end.push(mrr.at(account, end_month));
        }
        out.push(snapshot);
    }
    Ok(out)
}

/// One model input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Input {
    /// A numeric (or true/false) feature.
    Number {
        /// The feature.
        feature: String,
    },
    /// 1 where the feature is NULL.
    Missing {
        /// The feature.
        feature: String,
    },
    /// 1 where a text attribute has this value.
    Level {
        /// The attribute.
        feature: String,
        /// The value.
        level: String,
    },
}

impl Input {
    /// The feature it reads.
    pub fn feature(&self) -> &str {
        match self {
            Input::Number { feature }
            | Input::Missing { feature }
            | Input::Level { feature, .. } => feature,
        }
    }

    /// A short label.
    pub fn label(&self) -> String {
        match self {
            Input::Number { feature } => feature.clone(),
            Input::Missing { feature } => format!("{feature} is NULL"),
            Input::Level { feature, level } => format!("{feature} = '{level}'"),
        }
    }
}

/// The features a model may read, from the run's feature table.
fn candidate_features(table: &FeatureTable, settings: &RiskSettings) -> Result<Vec<FeatureDef>> {
    let mut chosen: Vec<FeatureDef> = table
        .defs
        .iter()
        .filter(|def| {
            let numeric = def.value_type.is_numeric() || def.value_type == ValueType::Boolean;
            let kept_group = matches!(
                def.group,
                FeatureGroup::Behavioral | FeatureGroup::Value | FeatureGroup::Custom
            ) || def.name == "days_since_signup";
            // `arr` is 12 x `mrr`.
            numeric && kept_group && def.name != "arr"
        })
        .cloned()
        .collect();
    let mut problems = Vec::new();
    for attribute in &settings.attributes {
        match table
            .defs
            .iter()
            .find(|def| &def.name == attribute && def.group == FeatureGroup::Account)
        {
            Some(def) if !chosen.iter().any(|c| c.name == def.name) => chosen.push(def.clone()),
            Some(_) => {}
            None => {
                let names: Vec<&str> = table
                    .defs
                    .iter()
                    .filter(|def| def.group == FeatureGroup::Account)
                    .map(|def| def.name.as_str())
                    .collect();
                problems.push(
                    Problem::new(
                        "strata.toml: risk.attributes",
                        format!("`{attribute}` is not a column of the accounts table"),
                    )
                    .with_help(format!("the accounts table has: {}", names.join(", "))),
                );
            }
        }
    }
    if problems.is_empty() {
        Ok(chosen)
    } else {
        Err(Error::Invalid(problems))
    }
}

/// The columns of one table the inputs read, by feature.
struct Columns {
    numbers: HashMap<String, Vec<Option<f64>>>,
    texts: HashMap<String, Vec<Option<String>>>,
}

impl Columns {
    fn of(table: &FeatureTable, features: &[FeatureDef]) -> Columns {
        let mut numbers = HashMap::new();
        let mut texts = HashMap::new();
        for def in features {
            if def.value_type == ValueType::Text {
                if let Some(column) = table.batch.column_by_name(&def.name)
                    && let Ok(column) = datafusion::arrow::compute::cast(column, &DataType::Utf8)
                {
                    let column = column.as_string::<i32>();
                    texts.insert(
                        def.name.clone(),
                        (0..column.len())
                            .map(|row| column.is_valid(row).then(|| column.value(row).to_string()))
                            .collect(),
                    );
                }
            } else if let Some(values) = table.floats(&def.name) {
                numbers.insert(def.name.clone(), values);
            }
        }
        Columns { numbers, texts }
    }

    /// The input cells of `rows`, row-major.
    fn cells(&self, inputs: &[Input], rows: &[usize], out: &mut Vec<Option<f64>>) {
        for &row in rows {
            for input in inputs {
                out.push(match input {
                    Input::Number { feature } => {
                        self.numbers.get(feature).and_then(|values| values[row])
                    }
                    Input::Missing { feature } => Some(
                        if self
                            .numbers
                            .get(feature)
                            .is_none_or(|values| values[row].is_none())
                        {
                            1.0
                        } else {
                            0.0
                        },
                    ),
                    Input::Level { feature, level } => Some(
                        if self
                            .texts
                            .get(feature)
                            .and_then(|values| values[row].as_deref())
                            == Some(level.as_str())
                        {
                            1.0
                        } else {
                            0.0
                        },
                    ),
                });
            }
        }
    }
}

/// The learning rows of a set of snapshots: each snapshot's columns, and
/// for each row its snapshot, account and label.
struct Examples {
    columns: Vec<Columns>,
    /// `(snapshot, account)` per example.
    at: Vec<(usize, usize)>,
    labels: Vec<bool>,
}

impl Examples {
    fn of(
        snapshots: &[Snapshot],
        features: &[FeatureDef],
        target: Target,
        settings: &RiskSettings,
    ) -> Examples {
        let mut at = Vec::new();
        let mut labels = Vec::new();
        for (idx, snapshot) in snapshots.iter().enumerate() {
            for ((&row, &start), &end) in
                snapshot.rows.iter().zip(&snapshot.start).zip(&snapshot.end)
            {
                at.push((idx, row));
                labels.push(target.happened(start, end, settings));
            }
        }
        Examples {
            columns: snapshots
                .iter()
                .map(|s| Columns::of(&s.table, features))
                .collect(),
            at,
            labels,
        }
    }

    /// The cells of the examples `which`.
    fn cells(&self, inputs: &[Input], which: &[usize]) -> Vec<Option<f64>> {
        let mut out = Vec::with_capacity(which.len() * inputs.len());
        for &example in which {
            let (snapshot, row) = self.at[example];
            self.columns[snapshot].cells(inputs, &[row], &mut out);
        }
        out
    }
}

/// The inputs and their transform, fitted on some examples.
#[derive(Debug, Clone)]
struct Design {
    inputs: Vec<Input>,
    transform: Transform,
}

/// Levels of a text attribute worth an input: at least 1% of the rows
/// (and 20 of them), the 12 most common.
fn common_levels(values: impl Iterator<Item = Option<String>>, n_rows: usize) -> Vec<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for value in values.flatten() {
        *counts.entry(value).or_default() += 1;
    }
    let floor = (n_rows / 100).max(20);
    let mut levels: Vec<(String, usize)> =
        counts.into_iter().filter(|(_, n)| *n >= floor).collect();
    levels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    levels.truncate(12);
    levels.into_iter().map(|(level, _)| level).collect()
}

impl Design {
    fn fit(examples: &Examples, which: &[usize], features: &[FeatureDef]) -> Result<Design> {
        let mut inputs = Vec::new();
        let mut log1p = Vec::new();
        for def in features {
            if def.value_type == ValueType::Text {
                let values = which.iter().map(|&e| {
                    let (snapshot, row) = examples.at[e];
                    examples.columns[snapshot]
                        .texts
                        .get(&def.name)
                        .and_then(|values| values[row].clone())
                });
                for level in common_levels(values, which.len()) {
                    inputs.push(Input::Level {
                        feature: def.name.clone(),
                        level,
                    });
                    log1p.push(false);
                }
                continue;
            }
            let values: Vec<Option<f64>> = which
                .iter()
                .map(|&e| {
                    let (snapshot, row) = examples.at[e];
                    examples.columns[snapshot]
                        .numbers
                        .get(&def.name)
                        .and_then(|values| values[row])
                })
                .collect();
            let present: Vec<f64> = values.iter().flatten().copied().collect();
            let Some(min) = present.iter().copied().reduce(f64::min) else {
                continue;
            };
            let max = present.iter().copied().fold(min, f64::max);
            if max == min && present.len() == values.len() {
                continue;
            }
            if max > min {
                inputs.push(Input::Number {
                    feature: def.name.clone(),
                });
                log1p.push(min >= 0.0);
            }
            if present.len() < values.len() {
                inputs.push(Input::Missing {
                    feature: def.name.clone(),
                });
                log1p.push(false);
            }
        }
        if inputs.is_empty() {
            return Err(Error::invalid(Problem::new(
                "risk",
                "no feature varies across the accounts, so there is nothing to learn from",
            )));
        }
        let logged: Vec<usize> = log1p
            .iter()
            .enumerate()
            .filter(|(_, l)| **l)
            .map(|(i, _)| i)
            .collect();
        let params = TransformParams::new(inputs.len())
            .with_log1p_features(&logged)
            .with_scaling(Scaling::ZScore)
            .with_clip(Some(5.0))
            .check()
            .map_err(|e| Error::Internal(format!("risk transform: {e}")))?;
        let transform = params
            .fit(&examples.cells(&inputs, which))
            .map_err(|e| Error::Internal(format!("risk transform: {e}")))?;
        Ok(Design { inputs, transform })
    }

    fn matrix(&self, cells: &[Option<f64>]) -> Result<Matrix<f64>> {
        self.transform
            .apply_matrix(cells)
            .map_err(|e| Error::Internal(format!("risk transform: {e}")))
    }
}

/// Observed against predicted in one decile of held-out predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationBin {
    /// Mean calibrated probability.
    pub predicted: f64,
    /// Share with the outcome.
    pub observed: f64,
    /// Examples in the decile.
    pub rows: usize,
}

/// How the model did on the dates held out by time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Holdout {
    /// The held-out dates, `YYYY-MM-DD`.
    pub dates: Vec<String>,
    /// Held-out examples (account-dates).
    pub rows: usize,
    /// Of them, with the outcome.
    pub positives: usize,
    /// Area under the ROC curve of the model trained on the earlier dates.
    pub auc: f64,
    /// Calibrated probability against the observed rate, by decile.
    pub calibration: Vec<CalibrationBin>,
}

/// The examples a model learned from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Training {
    /// The first past date, `YYYY-MM-DD`.
    pub first: String,
    /// The last past date.
    pub last: String,
    /// Past dates.
    pub dates: usize,
    /// Account-dates (paying accounts at each date).
    pub rows: usize,
    /// Of them, with the outcome.
    pub positives: usize,
}

/// One coefficient: the change in log-odds per standard deviation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coefficient {
    /// The input.
    pub input: String,
    /// Its coefficient on the standardized scale.
    pub coefficient: f64,
}

/// Why an account's risk is what it is: one feature's share of the
/// log-odds above the average account's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Driver {
    /// The feature.
    pub feature: String,
    /// The account's value, as text (`NULL` when missing).
    pub value: String,
    /// Its contribution to the log-odds.
    pub contribution: f64,
}

/// An account's probability and its top drivers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountRisk {
    /// The calibrated probability.
    pub probability: f64,
    /// The features that raise it most, largest first (at most three).
    pub drivers: Vec<Driver>,
}

/// A learned model and its scores at the run's date.
#[derive(Debug, Clone, Serialize)]
pub struct RiskModel {
    /// What it predicts.
    pub target: Target,
    /// The outcome in words.
    pub outcome: String,
    /// What it learned from.
    pub training: Training,
    /// How it did on the dates held out by time (`None` when too few
    /// outcomes fell on them to judge).
    pub holdout: Option<Holdout>,
    /// The penalty chosen.
    pub l2: f64,
    /// The coefficients, largest in size first.
    pub coefficients: Vec<Coefficient>,
    /// Per account (feature table order), the risk of a paying account.
    #[serde(skip)]
    pub accounts: Vec<Option<AccountRisk>>,
}

/// A model, or why there is none.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Learned {
    /// Learned and scored.
    Trained(Box<RiskModel>),
    /// Refused.
    Refused {
        /// What it predicts.
        target: Target,
        /// Why, with what it has and needs.
        reason: String,
    },
}

impl Learned {
    /// The model, when there is one.
    pub fn model(&self) -> Option<&RiskModel> {
        match self {
            Learned::Trained(model) => Some(model),
            Learned::Refused { .. } => None,
        }
    }

    /// The target.
    pub fn target(&self) -> Target {
        match self {
            Learned::Trained(model) => model.target,
            Learned::Refused { target, .. } => *target,
        }
    }
}

/// The run's learned risks.
#[derive(Debug, Clone, Serialize)]
pub struct RiskModels {
    /// Days from a date to its outcome.
    pub horizon_days: u32,
    /// `churn_risk`, then `expansion_likelihood`.
    pub models: Vec<Learned>,
}

impl RiskModels {
    /// Keeps the accounts of `keep` (feature table order), as the base is
    /// narrowed to the accounts signed up by the as-of date.
    pub fn retain(&mut self, keep: &[bool]) {
        for learned in &mut self.models {
            if let Learned::Trained(model) = learned {
                let mut flags = keep.iter();
                model
                    .accounts
                    .retain(|_| flags.next().copied().unwrap_or(false));
            }
        }
    }

    /// The account at `row` (feature table order): each learned target's
    /// probability and drivers, when it pays.
    pub fn of_account(&self, row: usize) -> Vec<(Target, &AccountRisk)> {
        self.models
            .iter()
            .filter_map(Learned::model)
            .filter_map(|model| Some((model.target, model.accounts.get(row)?.as_ref()?)))
            .collect()
    }

    /// `risk.json`: the models (what they learned from, held-out AUC and
    /// calibration, coefficients; or why they were refused) and every
    /// scored account's probabilities and drivers.
    pub fn to_json(&self, as_of: NaiveDate, account_ids: &[String]) -> serde_json::Value {
        let accounts: Vec<serde_json::Value> = account_ids
            .iter()
            .enumerate()
            .filter_map(|(row, id)| {
                let risks = self.of_account(row);
                (!risks.is_empty()).then(|| account_json(id, &risks))
            })
            .collect();
        serde_json::json!({
            "as_of": as_of.to_string(),
            "horizon_days": self.horizon_days,
            "models": self.models,
            "accounts": accounts,
        })
    }

    /// The model of `target`, when learned.
    pub fn model(&self, target: Target) -> Option<&RiskModel> {
        self.models
            .iter()
            .filter_map(Learned::model)
            .find(|model| model.target == target)
    }

    /// The problems to show with the run: each refusal.
    pub fn warnings(&self) -> Vec<Problem> {
        self.models
            .iter()
            .filter_map(|learned| match learned {
                Learned::Refused { reason, .. } => Some(
                    Problem::new("risk", reason.clone())
                        .with_help("rules reading it match no account; its column is NULL"),
                ),
                Learned::Trained(_) => None,
            })
            .collect()
    }
}

/// One account's risks as JSON: `{account_id, churn_risk,
/// churn_risk_drivers, ...}`.
pub fn account_json(id: &str, risks: &[(Target, &AccountRisk)]) -> serde_json::Value {
    let mut entry = serde_json::Map::new();
    entry.insert("account_id".into(), serde_json::Value::from(id));
    for (target, risk) in risks {
        entry.insert(
            target.feature().into(),
            serde_json::Value::from(risk.probability),
        );
        entry.insert(
            format!("{}_drivers", target.feature()),
            serde_json::to_value(&risk.drivers).unwrap_or_default(),
        );
    }
    serde_json::Value::Object(entry)
}

/// The penalties tried, strongest first (each fit warm-starts the next).
const PENALTIES: [f64; 4] = [1e-1, 1e-2, 1e-3, 1e-4];

/// Fewest outcomes (and non-outcomes) the held-out dates need to choose
/// the penalty and calibrate; with fewer, the middle penalty is used
/// uncalibrated and no held-out figures are given.
const MIN_HELD_OUT: usize = 10;

/// Learns one target from the snapshots and scores the run's table.
fn learn_one(
    snapshots: &[Snapshot],
    now: &FeatureTable,
    features: &[FeatureDef],
    target: Target,
    settings: &RiskSettings,
) -> Result<Learned> {
    let examples = Examples::of(snapshots, features, target, settings);
    let positives = examples.labels.iter().filter(|l| **l).count();
    let negatives = examples.labels.len() - positives;
    let window = match (snapshots.first(), snapshots.last()) {
        (Some(first), Some(last)) => format!(
            "the {} past dates from {} to {}",
            snapshots.len(),
            first.date,
            last.date
        ),
        _ => "no past date".to_string(),
    };
    if snapshots.is_empty()
        || positives < settings.min_outcomes
        || negatives < settings.min_outcomes
    {
        let reason = if snapshots.is_empty() {
            format!(
                "{} not learned: no past date has its outcome {} days later observed yet, so there is no history to learn from; it needs revenue months that reach at least {} days before the as-of date",
                target.feature(),
                settings.horizon_days,
                settings.horizon_days
            )
        } else if positives < settings.min_outcomes {
            format!(
                "{} not learned: {} paying account-dates {} within {} days over {} ({} account-dates); it needs at least {} (risk.min_outcomes), so it gives no number rather than one with false precision. Load more revenue history or lower risk.min_outcomes (at least 10)",
                target.feature(),
                positives,
                target.verb(),
                settings.horizon_days,
                window,
                examples.labels.len(),
                settings.min_outcomes
            )
        } else {
            format!(
                "{} not learned: only {} of {} paying account-dates over {} did not have the outcome ({}); it needs at least {} of each",
                target.feature(),
                negatives,
                examples.labels.len(),
                window,
                target.outcome(settings),
                settings.min_outcomes
            )
        };
        return Ok(Learned::Refused { target, reason });
    }

    // Held out by time: the last quarter of the dates (at least 2); the
    // model judged on them learns only from dates whose outcomes were known
    // before the first of them.
    let first_held = first_held_out(snapshots).unwrap_or(NaiveDate::MAX);
    let known_before = |date: NaiveDate| days_after(date, settings.horizon_days) <= first_held;
    let (mut early, mut held) = (Vec::new(), Vec::new());
    for (example, &(snapshot, _)) in examples.at.iter().enumerate() {
        let date = snapshots[snapshot].date;
        if date >= first_held {
            held.push(example);
        } else if known_before(date) {
            early.push(example);
        }
    }
    let counts = |which: &[usize]| {
        let pos = which.iter().filter(|&&e| examples.labels[e]).count();
        (pos, which.len() - pos)
    };
    let judged = {
        let (early_pos, early_neg) = counts(&early);
        let (held_pos, held_neg) = counts(&held);
        early_pos.min(early_neg).min(held_pos).min(held_neg) >= MIN_HELD_OUT
    };
    let (l2, platt, holdout) = if judged {
        let design = Design::fit(&examples, &early, features)?;
        let x_early = design.matrix(&examples.cells(&design.inputs, &early))?;
        let y_early: Vec<bool> = early.iter().map(|&e| examples.labels[e]).collect();
        let x_held = design.matrix(&examples.cells(&design.inputs, &held))?;
        let y_held: Vec<bool> = held.iter().map(|&e| examples.labels[e]).collect();
        let mut best: Option<(f64, f64, Vec<f64>)> = None;
        let mut previous: Option<LogisticModel> = None;
        for l2 in PENALTIES {
            let model = fit(&x_early, &y_early, l2, previous.as_ref())?;
            let decisions: Vec<f64> = (0..x_held.n_rows())
                .map(|row| model.decision(x_held.row(row)))
                .collect();
            let pairs: Vec<(f64, bool)> = decisions
                .iter()
                .copied()
                .zip(y_held.iter().copied())
                .collect();
            let auc = crate::ml::roc_auc(&pairs).unwrap_or(0.5);
            // A weaker penalty must earn its keep.
            if best
                .as_ref()
                .is_none_or(|(_, best_auc, _)| auc > best_auc + 0.002)
            {
                best = Some((l2, auc, decisions));
            }
            previous = Some(model);
        }
        let Some((l2, auc, decisions)) = best else {
            return Err(Error::Internal("no penalty was tried".into()));
        };
        let platt = Platt::fit(&decisions, &y_held).unwrap_or(Platt::IDENTITY);
        let calibrated: Vec<f64> = decisions.iter().map(|&d| platt.probability(d)).collect();
        let holdout = Holdout {
            dates: snapshots
                .iter()
                .filter(|s| s.date >= first_held)
                .map(|s| s.date.to_string())
                .collect(),
            rows: held.len(),
            positives: y_held.iter().filter(|l| **l).count(),
            auc,
            calibration: calibration(&calibrated, &y_held),
        };
        (l2, platt, Some(holdout))
    } else {
        (PENALTIES[1], Platt::IDENTITY, None)
    };

    let all: Vec<usize> = (0..examples.labels.len()).collect();
    let design = Design::fit(&examples, &all, features)?;
    let x = design.matrix(&examples.cells(&design.inputs, &all))?;
    let model = fit(&x, &examples.labels, l2, None)?;

    // Scores now.
    let columns = Columns::of(now, features);
    let mrr = now.floats("mrr");
    let mut accounts = Vec::with_capacity(now.batch.num_rows());
    let mut cells = Vec::with_capacity(design.inputs.len());
    for row in 0..now.batch.num_rows() {
        let paying = mrr.as_ref().and_then(|m| m[row]).is_some_and(|m| m > 0.0);
        if !paying {
            accounts.push(None);
            continue;
        }
        cells.clear();
        columns.cells(&design.inputs, &[row], &mut cells);
        let z = design
            .transform
            .apply(&cells)
            .map_err(|e| Error::Internal(format!("risk transform: {e}")))?;
        let probability = platt.probability(model.decision(&z));
        accounts.push(Some(AccountRisk {
            probability,
            drivers: drivers(&design.inputs, &model, &z, &columns, row),
        }));
    }
    let mut coefficients: Vec<Coefficient> = design
        .inputs
        .iter()
        .zip(&model.coef)
        .map(|(input, &coefficient)| Coefficient {
            input: input.label(),
            coefficient,
        })
        .collect();
    coefficients.sort_by(|a, b| b.coefficient.abs().total_cmp(&a.coefficient.abs()));
    Ok(Learned::Trained(Box::new(RiskModel {
        target,
        outcome: target.outcome(settings),
        training: Training {
            first: snapshots[0].date.to_string(),
            last: snapshots[snapshots.len() - 1].date.to_string(),
            dates: snapshots.len(),
            rows: examples.labels.len(),
            positives,
        },
        holdout,
        l2,
        coefficients,
        accounts,
    })))
}

fn fit(
    x: &Matrix<f64>,
    y: &[bool],
    l2: f64,
    start: Option<&LogisticModel>,
) -> Result<LogisticModel> {
    let params = LogisticParams {
        l2,
        ..Default::default()
    };
    logistic::fit(x.view(), y, &params, start)
        .map_err(|e| Error::Internal(format!("risk model: {e}")))
}

/// Mean predicted against observed, by decile of the prediction.
fn calibration(predicted: &[f64], labels: &[bool]) -> Vec<CalibrationBin> {
    let mut pairs: Vec<(f64, bool)> = predicted
        .iter()
        .copied()
        .zip(labels.iter().copied())
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = pairs.len();
    (0..10)
        .filter_map(|decile| {
            let slice = &pairs[decile * n / 10..(decile + 1) * n / 10];
            (!slice.is_empty()).then(|| CalibrationBin {
                predicted: slice.iter().map(|p| p.0).sum::<f64>() / slice.len() as f64,
                observed: slice.iter().filter(|p| p.1).count() as f64 / slice.len() as f64,
                rows: slice.len(),
            })
        })
        .collect()
}

/// The features that raise an account's log-odds most above the average
/// account's, summed per feature, largest first (at most three, each
/// raising it by at least 0.05).
fn drivers(
    inputs: &[Input],
    model: &LogisticModel,
    z: &[f64],
    columns: &Columns,
    row: usize,
) -> Vec<Driver> {
    let mut by_feature: Vec<(&str, f64)> = Vec::new();
    for ((input, coef), value) in inputs.iter().zip(&model.coef).zip(z) {
        let contribution = coef * value;
        match by_feature.iter_mut().find(|(f, _)| *f == input.feature()) {
            Some((_, total)) => *total += contribution,
            None => by_feature.push((input.feature(), contribution)),
        }
    }
    by_feature.sort_by(|a, b| b.1.total_cmp(&a.1));
    by_feature
        .into_iter()
        .filter(|(_, contribution)| *contribution >= 0.05)
        .take(3)
        .map(|(feature, contribution)| Driver {
            feature: feature.to_string(),
            value: display_value(columns, feature, row),
            contribution,
        })
        .collect()
}

fn display_value(columns: &Columns, feature: &str, row: usize) -> String {
    if let Some(values) = columns.numbers.get(feature) {
        return match values[row] {
            Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
            Some(v) => format!("{v:.2}"),
            None => "NULL".to_string(),
        };
    }
    columns
        .texts
        .get(feature)
        .and_then(|values| values[row].clone())
        .unwrap_or_else(|| "NULL".to_string())
}

/// Learns the risks the project asks for from point-in-time snapshots
/// before `as_of`, scores `features` (the run's table, every account) and
/// appends the `churn_risk` and `expansion_likelihood` columns to it; the
/// snapshots' features start from their kept scans in `cache` when given.
///
/// # Errors
///
/// A project without revenue, an unknown `risk.attributes` column, or a
/// feature computation that fails. Too little history is not an error: the
/// model is [`Learned::Refused`] and its column NULL.
pub async fn learn(
    ctx: &SessionContext,
    project: &Project,
    sources: &Sources,
    as_of: NaiveDate,
    settings: &RiskSettings,
    features: &mut FeatureTable,
    cache: Option<&features::ScanCache>,
) -> Result<RiskModels> {
    let snapshots = snapshots(
        ctx,
        project,
        sources,
        as_of,
        settings,
        &features.top_events,
        cache,
        &mut |_, _| {},
    )
    .await?;
    let risks = learn_from(&snapshots, features, settings)?;
    append_columns(features, &risks)?;
    Ok(risks)
}

/// Learns both targets from `snapshots` and scores `now` (the run's table).
///
/// # Errors
///
/// An unknown `risk.attributes` column, or a model that cannot be fitted.
pub fn learn_from(
    snapshots: &[Snapshot],
    now: &FeatureTable,
    settings: &RiskSettings,
) -> Result<RiskModels> {
    let candidates = candidate_features(now, settings)?;
    let mut models = Vec::new();
    for target in Target::ALL {
        models.push(learn_one(snapshots, now, &candidates, target, settings)?);
    }
    Ok(RiskModels {
        horizon_days: settings.horizon_days,
        models,
    })
}

/// The examples of `snapshots` as one table, for a peer to learn from the
/// same rows: `as_of`, `account_id`, the labels `churned` and `expanded`,
/// `split` (`early`: the held-out judgement's training rows; `held_out`;
/// `gap`: dates whose outcomes were not known by the first held-out date),
/// then every candidate feature (numbers as floats, text as text).
///
/// # Errors
///
/// An unknown `risk.attributes` column, or a batch that cannot be built.
pub fn examples_table(
    snapshots: &[Snapshot],
    now: &FeatureTable,
    account_ids: &[String],
    settings: &RiskSettings,
) -> Result<RecordBatch> {
    use datafusion::arrow::array::{BooleanArray, StringArray};
    let candidates = candidate_features(now, settings)?;
    let first_held = first_held_out(snapshots);
    let mut dates = Vec::new();
    let mut ids = Vec::new();
    let mut churned = Vec::new();
    let mut expanded = Vec::new();
    let mut split = Vec::new();
    let mut rows: Vec<(usize, usize)> = Vec::new();
    for (idx, snapshot) in snapshots.iter().enumerate() {
        let part = match first_held {
            Some(first) if snapshot.date >= first => "held_out",
            Some(first) if days_after(snapshot.date, settings.horizon_days) <= first => "early",
            _ => "gap",
        };
        for ((&row, &start), &end) in snapshot.rows.iter().zip(&snapshot.start).zip(&snapshot.end) {
            dates.push(snapshot.date.to_string());
            ids.push(account_ids.get(row).cloned().unwrap_or_default());
            churned.push(Target::Churn.happened(start, end, settings));
            expanded.push(Target::Expansion.happened(start, end, settings));
            split.push(part);
            rows.push((idx, row));
        }
    }
    let mut fields = vec![
        Field::new("as_of", DataType::Utf8, false),
        Field::new("account_id", DataType::Utf8, false),
        Field::new("churned", DataType::Boolean, false),
        Field::new("expanded", DataType::Boolean, false),
        Field::new("split", DataType::Utf8, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(dates)),
        Arc::new(StringArray::from(ids)),
        Arc::new(BooleanArray::from(churned)),
        Arc::new(BooleanArray::from(expanded)),
        Arc::new(StringArray::from(split)),
    ];
    let per_snapshot: Vec<Columns> = snapshots
        .iter()
        .map(|s| Columns::of(&s.table, &candidates))
        .collect();
    for def in &candidates {
        if def.value_type == ValueType::Text {
            let values: StringArray = rows
                .iter()
                .map(|&(snapshot, row)| {
                    per_snapshot[snapshot]
                        .texts
                        .get(&def.name)
                        .and_then(|v| v[row].clone())
                })
                .collect();
            fields.push(Field::new(&def.name, DataType::Utf8, true));
            columns.push(Arc::new(values));
        } else {
            let values: Float64Array = rows
                .iter()
                .map(|&(snapshot, row)| {
                    per_snapshot[snapshot]
                        .numbers
                        .get(&def.name)
                        .and_then(|v| v[row])
                })
                .collect();
            fields.push(Field::new(&def.name, DataType::Float64, true));
            columns.push(Arc::new(values));
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// The first date held out by time: the last quarter of the dates, at
/// least 2, leaving at least one; `None` with fewer than 2 dates.
fn first_held_out(snapshots: &[Snapshot]) -> Option<NaiveDate> {
    if snapshots.len() < 2 {
        return None;
    }
    let n_held = (snapshots.len() / 4).max(2).min(snapshots.len() - 1);
    Some(snapshots[snapshots.len() - n_held].date)
}

/// Adds one probability column per target to the feature table.
fn append_columns(features: &mut FeatureTable, risks: &RiskModels) -> Result<()> {
    let n = features.batch.num_rows();
    let schema = features.batch.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns: Vec<ArrayRef> = features.batch.columns().to_vec();
    for learned in &risks.models {
        let target = learned.target();
        let values: Float64Array = match learned.model() {
            Some(model) => model
                .accounts
                .iter()
                .map(|risk| risk.as_ref().map(|r| r.probability))
                .collect(),
            None => Float64Array::from(vec![None::<f64>; n]),
        };
        fields.push(Field::new(target.feature(), DataType::Float64, true));
        columns.push(Arc::new(values));
        let description = match target {
            Target::Churn => format!(
                "learned probability that a paying account pays nothing {} days later (NULL when not paying or not learned)",
                risks.horizon_days
            ),
            Target::Expansion => format!(
                "learned probability that a paying account's MRR grows by the expansion threshold within {} days (NULL when not paying or not learned)",
                risks.horizon_days
            ),
        };
        features.defs.push(FeatureDef {
            name: target.feature().to_string(),
            value_type: ValueType::Float,
            group: FeatureGroup::Learned,
            description,
        });
    }
    features.batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn past_dates_stop_where_the_outcome_is_not_observed_yet() {
        // As of 2026-10-31, revenue through October 2026 (month 24321):
        // a 90-day outcome of 2026-07-31 lands on 2026-10-29, observed; of
        // 2026-08-31 on 2026-11-29, not yet.
        let observed = month_number(date("2026-10-01"));
        let first = month_number(date("2025-11-01"));
        let dates = past_dates(date("2026-10-31"), observed, first, 90, 24);
        assert_eq!(dates.first().copied(), Some(date("2025-11-30")));
        assert_eq!(dates.last().copied(), Some(date("2026-07-31")));
        assert_eq!(dates.len(), 9);
        // Month ends stay month ends.
        assert!(dates.contains(&date("2026-02-28")));
        let june = past_dates(
            date("2026-06-30"),
            month_number(date("2026-06-01")),
            first,
            30,
            3,
        );
        assert_eq!(
            june,
            [date("2026-03-31"), date("2026-04-30"), date("2026-05-31")]
        );
        assert_eq!(
            past_dates(date("2026-10-31"), observed, first, 90, 3).len(),
            3
        );
        assert_eq!(
            past_dates(date("2026-10-31"), observed, first, 90, 3)[0],
            date("2026-05-31")
        );
    }

    #[test]
    fn outcomes_follow_their_definitions() {
        let settings = RiskSettings::default();
        assert!(Target::Churn.happened(100.0, 0.0, &settings));
        assert!(!Target::Churn.happened(100.0, 5.0, &settings));
        assert!(Target::Expansion.happened(100.0, 110.0, &settings));
        assert!(!Target::Expansion.happened(100.0, 109.0, &settings));
        assert!(!Target::Expansion.happened(0.0, 0.0, &settings));
    }

    #[test]
    fn calibration_bins_average_by_decile() {
        let predicted: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
        let labels: Vec<bool> = (0..100).map(|i| i >= 90 || i % 10 == 0).collect();
        let bins = calibration(&predicted, &labels);
        assert_eq!(bins.len(), 10);
        assert_eq!(bins[0].rows, 10);
        assert!((bins[0].predicted - 0.045).abs() < 1e-12);
        assert!((bins[0].observed - 0.1).abs() < 1e-12);
        assert!((bins[9].observed - 1.0).abs() < 1e-12);
    }

    #[test]
    fn common_levels_need_a_share_of_the_rows() {
        let values = (0..1000).map(|i| {
            Some(match i % 100 {
                0..=59 => "a".to_string(),
                60..=98 => "b".to_string(),
                _ => "rare".to_string(),
            })
        });
        assert_eq!(
            common_levels(values, 1000),
            vec!["a".to_string(), "b".to_string()]
        );
    }
}
