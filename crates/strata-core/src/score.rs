//! Scoring accounts on the scorecards of a `kind = "score"` segmentation
//! (settings: [`crate::project::score`]), with every score explained
//! measure by measure.
//!
//! An account is scored by the first scorecard whose `applies_to` holds.
//! Each measure earns credit from 0 to 1 on its scale (green band 1, yellow
//! 0.5, otherwise 0; a linear range; true/false); a group's credit is its
//! available measures' credits weighted by their weights; the score is the
//! available groups' credits weighted by the groups' weights, on 0-100. A
//! measure without a value (NULL) is N/A: its weight goes to the other
//! measures of its group, and a group without any value gives its weight to
//! the other groups; the explanation says so. The grade is the first (by
//! `min`, highest first) whose `min` the score reaches.
//!
//! **Invariants**: measures are rule-language expressions over the account's
//! own row of the feature table, evaluated in memory whatever the engine;
//! a score's points add up to it, group by group and measure by measure.
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::logical_expr::{Expr, ExprSchemable, cast};
use datafusion::prelude::SessionContext;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Problem, Result};
use crate::eval::{evaluate, first_match_of, segment_indices};
pub use crate::project::score::number;
use crate::project::score::{Scale, ScoreDef};
use crate::rules::{self, CheckedRule, ToDataFusion, ValueType};

/// A score segmentation whose expressions all checked.
#[derive(Debug, Clone)]
pub struct CheckedScore {
    /// The definition.
    pub def: ScoreDef,
    /// Per scorecard: its `applies_to`, `TRUE` when it has none.
    applies: Vec<CheckedRule>,
    /// Per scorecard, per measure: its value.
    values: Vec<Vec<CheckedRule>>,
}

/// Checks every `applies_to` and measure of `def` against `schema`: numeric
/// values for bands and linear scales, true/false for the rest.
pub fn check(
    def: &ScoreDef,
    schema: &rules::Schema,
    location: &str,
    problems: &mut Vec<Problem>,
) -> Option<CheckedScore> {
    let before = problems.len();
    let mut applies = Vec::new();
    let mut values = Vec::new();
    for scorecard in &def.scorecards {
        let card = format!("{location}, scorecard `{}`", scorecard.name);
        match rules::check_predicate(scorecard.applies_to.as_deref().unwrap_or("TRUE"), schema) {
            Ok(rule) => applies.push(rule),
            Err(error) => problems.push(Problem::from_rule(format!("{card}, applies_to"), error)),
        }
        let mut card_values = Vec::new();
        for measure in &scorecard.measures {
            let at = format!("{card}, measure `{}`", measure.name);
            match rules::check(&measure.value, schema) {
                Ok(rule) => {
                    let numeric =
                        matches!(rule.value_type(), ValueType::Integer | ValueType::Float);
                    let wanted_numeric = !matches!(measure.scale, Scale::Boolean);
                    if numeric != wanted_numeric
                        || (!numeric && rule.value_type() != ValueType::Boolean)
                    {
                        problems.push(
                            Problem::new(
                                &at,
                                format!("`{}` is {}, but its scale needs {}", measure.value, rule.value_type(), if wanted_numeric { "a number" } else { "true/false" }),
                            )
                            .with_help(if wanted_numeric {
                                "use a numeric feature or expression"
                            } else {
                                "give it bands = { green = \"...\" } or linear = [a, b], or make it a condition"
                            }),
                        );
                    }
                    card_values.push(rule);
                }
                Err(error) => problems.push(Problem::from_rule(at, error)),
            }
        }
        values.push(card_values);
    }
    (problems.len() == before).then(|| CheckedScore {
        def: def.clone(),
        applies,
        values,
    })
}

/// One measure of an account's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasureScore {
    /// Label.
    pub measure: String,
    /// The value; `None` is N/A.
    pub value: Option<f64>,
    /// Points earned.
    pub points: f64,
    /// Points possible (0 when N/A).
    pub of: f64,
    /// `green`, `yellow` or `red` for banded measures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub band: Option<&'static str>,
    /// Why, in words.
    pub why: String,
}

/// One group of an account's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupScore {
    /// Group name.
    pub group: String,
    /// Points earned.
    pub points: f64,
    /// Points possible (0 when no measure of the group has a value).
    pub of: f64,
    /// Its measures.
    pub measures: Vec<MeasureScore>,
}

/// An account's score, explained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountScore {
    /// The scorecard that scored it; `None` when none applies.
    pub scorecard: Option<String>,
    /// 0 to 100; `None` when no measure has a value or no scorecard applies.
    pub score: Option<f64>,
    /// The grade (segment); `None` below every grade.
    pub grade: Option<String>,
    /// Group by group.
    pub groups: Vec<GroupScore>,
    /// The whole explanation in one line.
    pub explanation: String,
}

/// Every account's score (feature-table order) and grade index.
/// Without `explain`, each account's score and grade alone (no groups, no
/// words): a past date's membership.
pub fn score_accounts(
    checked: &CheckedScore,
    batch: &RecordBatch,
    explain: bool,
) -> Result<(Vec<AccountScore>, Vec<Option<usize>>)> {
    let ctx = SessionContext::new();
    let schema = datafusion::common::DFSchema::try_from(batch.schema().as_ref().clone())?;
    let mut exprs: Vec<Expr> = vec![first_match_of(&checked.applies)?];
    for card in &checked.values {
        for rule in card {
            let expr = rule.to_datafusion();
            let expr = match expr.get_type(&schema)? {
                DataType::Float64 => expr,
                _ => cast(expr, DataType::Float64),
            };
            exprs.push(expr);
        }
    }
    let columns = evaluate(&ctx, batch, &exprs)?;
    let card_of = segment_indices(&columns[0]);
    let mut offsets = Vec::new();
    let mut next = 1;
    for card in &checked.values {
        offsets.push(next);
        next += card.len();
    }
    if columns.len() != next {
        return Err(Error::Internal("a scorecard lost a measure".into()));
    }
    let values: Vec<_> = columns[1..]
        .iter()
        .map(|c| c.as_primitive::<Float64Type>().clone())
        .collect();
    // Rows are scored on every core (explanations are strings per account:
    // at a million accounts, seconds of work); the order is the rows'.
    let scored: Vec<(AccountScore, Option<usize>)> = card_of
        .par_iter()
        .enumerate()
        .map(|(row, card)| {
            let Some(card) = *card else {
                let none = AccountScore {
                    scorecard: None,
                    score: None,
                    grade: None,
                    groups: Vec::new(),
                    explanation: "no scorecard applies to this account".into(),
                };
                return (none, None);
            };
            let scorecard = &checked.def.scorecards[card];
            let account_values: Vec<Option<f64>> = (0..scorecard.measures.len())
                .map(|m| {
                    let column = &values[offsets[card] - 1 + m];
                    (column.is_valid(row) && column.value(row).is_finite())
                        .then(|| column.value(row))
                })
                .collect();
            let scored = if explain {
                score_one(&checked.def, card, &account_values)
            } else {
                score_only(&checked.def, card, &account_values)
            };
            let grade = scored
                .grade
                .as_ref()
                .and_then(|g| checked.def.grades.iter().position(|x| &x.name == g));
            (scored, grade)
        })
        .collect();
    let (scores, grades) = scored.into_iter().unzip();
    Ok((scores, grades))
}

/// Credit (0 to 1) for one measure's value.
fn credit_value(scale: &Scale, value: f64) -> f64 {
    match scale {
        Scale::Bands { green, yellow } => {
            if green.holds(value) {
                1.0
            } else if yellow.as_ref().is_some_and(|y| y.holds(value)) {
                0.5
            } else {
                0.0
            }
        }
        Scale::Linear { zero, full } => ((value - zero) / (full - zero)).clamp(0.0, 1.0),
        Scale::Boolean => {
            if value != 0.0 {
                1.0
            } else {
                0.0
            }
        }
    }
}

/// Credit (0 to 1), band and words for one measure's value.
fn credit(name: &str, scale: &Scale, value: f64) -> (f64, Option<&'static str>, String) {
    let credit = credit_value(scale, value);
    let shown = number(value);
    let (band, words) = match scale {
        Scale::Bands { green, yellow } => {
            if credit == 1.0 {
                (Some("green"), format!("{name} {shown} is green ({green})"))
            } else if let Some(yellow) = yellow.as_ref().filter(|_| credit == 0.5) {
                (
                    Some("yellow"),
                    format!("{name} {shown} is yellow ({yellow}), short of green ({green})"),
                )
            } else {
                let also = yellow
                    .as_ref()
                    .map(|y| format!(" and yellow ({y})"))
                    .unwrap_or_default();
                (
                    Some("red"),
                    format!("{name} {shown} is short of green ({green}){also}"),
                )
            }
        }
        Scale::Linear { zero, full } => (
            None,
            format!(
                "{name} {shown} on a scale from {} to {}",
                number(*zero),
                number(*full)
            ),
        ),
        Scale::Boolean => (
            None,
            format!("{name}: {}", if credit == 1.0 { "yes" } else { "no" }),
        ),
    };
    (credit, band, words)
}

/// Per group of a scorecard, its available measures' credit, weighted
/// (`None`: none of its measures has a value), and its points and what
/// they are out of: a group without a value gives its weight to the rest,
/// so that the points add up to 100 when any measure has a value.
fn group_points(
    scorecard: &crate::project::score::Scorecard,
    credits: &[Option<f64>],
) -> (Vec<(Option<f64>, f64, f64)>, bool) {
    let mut group_credit: Vec<Option<f64>> = Vec::new();
    for (group, _) in &scorecard.groups {
        let (mut sum, mut weights) = (0.0, 0.0);
        for (measure, credit) in scorecard.measures.iter().zip(credits) {
            if &measure.group == group
                && let Some(credit) = credit
            {
                sum += credit * measure.weight;
                weights += measure.weight;
            }
        }
        group_credit.push((weights > 0.0).then(|| sum / weights));
    }
    let available: f64 = scorecard
        .groups
        .iter()
        .zip(&group_credit)
        .filter(|(_, c)| c.is_some())
        .map(|((_, w), _)| w)
        .sum();
    let scale = if available > 0.0 {
        100.0 / available
    } else {
        0.0
    };
    let groups = scorecard
        .groups
        .iter()
        .zip(group_credit)
        .map(|((_, weight), credit)| {
            let of = if credit.is_some() {
                weight * scale
            } else {
                0.0
            };
            (credit, credit.unwrap_or(0.0) * of, of)
        })
        .collect();
    (groups, available > 0.0)
}

/// The score of groups' points (`None` when no group has a value:
/// [`group_points`]) and its grade.
fn total_and_grade(
    def: &ScoreDef,
    (groups, available): &(Vec<(Option<f64>, f64, f64)>, bool),
) -> (Option<f64>, Option<String>) {
    let score = available.then(|| groups.iter().map(|(_, points, _)| points).sum::<f64>());
    let grade = score.and_then(|s| {
        def.grades
            .iter()
            .find(|g| s >= g.min - 1e-9)
            .map(|g| g.name.clone())
    });
    (score, grade)
}

/// An account's score and grade on scorecard `card`, as [`score_one`]
/// gives them, without the words.
fn score_only(def: &ScoreDef, card: usize, values: &[Option<f64>]) -> AccountScore {
    let scorecard = &def.scorecards[card];
    let credits: Vec<Option<f64>> = scorecard
        .measures
        .iter()
        .zip(values)
        .map(|(measure, value)| value.map(|v| credit_value(&measure.scale, v)))
        .collect();
    let (score, grade) = total_and_grade(def, &group_points(scorecard, &credits));
    AccountScore {
        scorecard: Some(scorecard.name.clone()),
        score,
        grade,
        groups: Vec::new(),
        explanation: String::new(),
    }
}

/// Scores one account on scorecard `card` from its measures' values.
pub fn score_one(def: &ScoreDef, card: usize, values: &[Option<f64>]) -> AccountScore {
    let scorecard = &def.scorecards[card];
    // Each measure's credit, band and words, once; `None` is N/A.
    let credits: Vec<Option<(f64, Option<&'static str>, String)>> = scorecard
        .measures
        .iter()
        .zip(values)
        .map(|(measure, value)| value.map(|v| credit(&measure.name, &measure.scale, v)))
        .collect();
    let numbers = group_points(
        scorecard,
        &credits
            .iter()
            .map(|c| c.as_ref().map(|(credit, _, _)| *credit))
            .collect::<Vec<_>>(),
    );
    let mut groups = Vec::new();
    let mut parts = Vec::new();
    let mut notes = Vec::new();
    for ((group, _), &(credit_of_group, points, of)) in scorecard.groups.iter().zip(&numbers.0) {
        let members: Vec<(&crate::project::score::MeasureDef, Option<f64>, &Option<_>)> = scorecard
            .measures
            .iter()
            .zip(values)
            .zip(&credits)
            .filter(|((m, _), _)| &m.group == group)
            .map(|((m, v), c)| (m, *v, c))
            .collect();
        let group_weights: f64 = members
            .iter()
            .filter(|(_, v, _)| v.is_some())
            .map(|(m, _, _)| m.weight)
            .sum();
        let mut measures = Vec::new();
        let mut whys = Vec::new();
        for (measure, value, scored) in members {
            match (value, scored) {
                (Some(value), Some((c, band, why))) => {
                    let (c, band, why) = (*c, *band, why.clone());
                    let measure_of = of * measure.weight / group_weights;
                    whys.push(why.clone());
                    measures.push(MeasureScore {
                        measure: measure.name.clone(),
                        value: Some(value),
                        points: c * measure_of,
                        of: measure_of,
                        band,
                        why,
                    });
                }
                _ => {
                    let why = if credit_of_group.is_some() {
                        format!(
                            "{} has no value (N/A): its weight went to the rest of {group}",
                            measure.name
                        )
                    } else {
                        format!("{} has no value (N/A)", measure.name)
                    };
                    if credit_of_group.is_some() {
                        notes.push(why.clone());
                    }
                    measures.push(MeasureScore {
                        measure: measure.name.clone(),
                        value: None,
                        points: 0.0,
                        of: 0.0,
                        band: None,
                        why,
                    });
                }
            }
        }
        if credit_of_group.is_some() {
            // A measure that is its own group is not named twice.
            let prefix = format!("{group} ");
            let whys: Vec<&str> = if measures.len() == 1 && measures[0].measure == *group {
                whys.iter()
                    .map(|why| why.strip_prefix(&prefix).unwrap_or(why))
                    .collect()
            } else {
                whys.iter().map(String::as_str).collect()
            };
            parts.push(format!(
                "{group} {}/{}: {}",
                number(points),
                number(of),
                whys.join("; ")
            ));
        } else if scorecard.groups.len() > 1 {
            let alone = measures.len() == 1 && measures[0].measure == *group;
            notes.push(if alone {
                format!("{group} has no value (N/A): its weight went to the other measures")
            } else {
                format!("{group} has no value: its weight went to the other groups")
            });
        }
        groups.push(GroupScore {
            group: group.clone(),
            points,
            of,
            measures,
        });
    }
    let (score, grade) = total_and_grade(def, &numbers);
    let mut explanation = match score {
        Some(score) => format!(
            "score {}/100{} on {}: {}",
            number(score),
            grade
                .as_ref()
                .map(|g| format!(" ({g})"))
                .unwrap_or_default(),
            scorecard.name,
            parts.join(", ")
        ),
        None => format!("no score on {}: no measure has a value", scorecard.name),
    };
    if score.is_some() && !notes.is_empty() {
        explanation.push_str(&format!("; {}", notes.join("; ")));
    }
    AccountScore {
        scorecard: Some(scorecard.name.clone()),
        score,
        grade,
        groups,
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::score::{Band, Grade, MeasureDef, Scorecard};

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    fn band(text: &str) -> Band {
        Band::parse(text).expect("band")
    }

    /// usage (60): active days (weight 2, bands >= 15 / >= 5) and users
    /// (weight 1, linear 0..10); revenue (40): growth (bands >= 0 / >= -0.2).
    /// A past date's score without words is the explained score and grade,
    /// bit for bit, over values in every band, missing ones included.
    #[test]
    fn scores_without_words_equal_the_explained_ones() {
        let def = def();
        let days = [
            None,
            Some(0.0),
            Some(5.0),
            Some(14.9),
            Some(15.0),
            Some(40.0),
        ];
        let users = [None, Some(-1.0), Some(3.3), Some(10.0), Some(12.0)];
        let growth = [
            None,
            Some(-0.5),
            Some(-0.2),
            Some(-0.1),
            Some(0.0),
            Some(0.7),
        ];
        let mut graded = std::collections::HashSet::new();
        for d in days {
            for u in users {
                for g in growth {
                    let values = [d, u, g];
                    let explained = score_one(&def, 0, &values);
                    let plain = score_only(&def, 0, &values);
                    assert_eq!(
                        plain.score.map(f64::to_bits),
                        explained.score.map(f64::to_bits),
                        "{values:?}"
                    );
                    assert_eq!(plain.grade, explained.grade, "{values:?}");
                    assert!(plain.explanation.is_empty() && plain.groups.is_empty());
                    graded.insert(explained.grade);
                }
            }
        }
        assert!(
            graded.len() >= 3,
            "the values reach every grade: {graded:?}"
        );
    }

    fn def() -> ScoreDef {
        let measure = |name: &str, weight: f64, group: &str, scale: Scale| MeasureDef {
            name: name.into(),
            value: name.into(),
            weight,
            group: group.into(),
            scale,
        };
        ScoreDef {
            scorecards: vec![Scorecard {
                name: "default".into(),
                applies_to: None,
                groups: vec![("usage".into(), 60.0), ("revenue".into(), 40.0)],
                measures: vec![
                    measure(
                        "active days",
                        2.0,
                        "usage",
                        Scale::Bands {
                            green: band(">= 15"),
                            yellow: Some(band(">= 5")),
                        },
                    ),
                    measure(
                        "users",
                        1.0,
                        "usage",
                        Scale::Linear {
                            zero: 0.0,
                            full: 10.0,
                        },
                    ),
                    measure(
                        "growth",
                        1.0,
                        "revenue",
                        Scale::Bands {
                            green: band(">= 0"),
                            yellow: Some(band(">= -0.2")),
                        },
                    ),
                ],
            }],
            grades: vec![
                Grade {
                    name: "healthy".into(),
                    min: 70.0,
                },
                Grade {
                    name: "watch".into(),
                    min: 40.0,
                },
                Grade {
                    name: "at-risk".into(),
                    min: 0.0,
                },
            ],
        }
    }

    #[test]
    fn scores_add_up_by_hand() {
        // active days 6: yellow, 0.5 x 2/3 of 60 = 20; users 4: 0.4 x 1/3 of
        // 60 = 8; usage 28/60. growth -0.1: yellow, 0.5 x 40 = 20. Score 48.
        let scored = score_one(&def(), 0, &[Some(6.0), Some(4.0), Some(-0.1)]);
        assert!(close(scored.score, 48.0), "{scored:?}");
        assert_eq!(scored.grade.as_deref(), Some("watch"));
        assert!(close(Some(scored.groups[0].points), 28.0));
        assert!(close(Some(scored.groups[0].measures[0].points), 20.0));
        assert!(close(Some(scored.groups[0].measures[0].of), 40.0));
        assert!(close(Some(scored.groups[0].measures[1].points), 8.0));
        assert!(close(Some(scored.groups[1].points), 20.0));
        assert_eq!(
            scored.explanation,
            "score 48/100 (watch) on default: usage 28/60: active days 6 is yellow (>= 5), short of green (>= 15); \
             users 4 on a scale from 0 to 10, revenue 20/40: growth -0.1 is yellow (>= -0.2), short of green (>= 0)"
        );
        // All green and 10 users: 100, healthy; nothing: 0, at-risk.
        assert!(close(
            score_one(&def(), 0, &[Some(20.0), Some(12.0), Some(0.3)]).score,
            100.0
        ));
        let low = score_one(&def(), 0, &[Some(1.0), Some(0.0), Some(-0.5)]);
        assert_eq!(
            (low.score, low.grade.as_deref()),
            (Some(0.0), Some("at-risk"))
        );
    }

    #[test]
    fn missing_values_give_their_weight_to_their_group_then_to_the_others() {
        // users N/A: active days takes all of usage: green, 60/60; growth red 0/40.
        let scored = score_one(&def(), 0, &[Some(15.0), None, Some(-0.5)]);
        assert!(close(scored.score, 60.0));
        assert!(close(Some(scored.groups[0].measures[0].of), 60.0));
        assert_eq!(scored.groups[0].measures[1].of, 0.0);
        assert!(
            scored
                .explanation
                .ends_with("; users has no value (N/A): its weight went to the rest of usage"),
            "{}",
            scored.explanation
        );
        // Revenue N/A: usage is the whole score, out of 100.
        let scored = score_one(&def(), 0, &[Some(15.0), Some(5.0), None]);
        assert!(close(Some(scored.groups[0].of), 100.0));
        let expected = 100.0 * (2.0 * 1.0 + 1.0 * 0.5) / 3.0;
        assert!((scored.score.unwrap_or_default() - expected).abs() < 1e-9);
        assert!(
            scored
                .explanation
                .contains("revenue has no value: its weight went to the other groups")
        );
        // Nothing at all: no score, no grade.
        let none = score_one(&def(), 0, &[None, None, None]);
        assert_eq!((none.score, none.grade), (None, None));
        assert_eq!(
            none.explanation,
            "no score on default: no measure has a value"
        );
    }

    #[test]
    fn a_score_below_every_grade_is_unassigned() {
        let mut def = def();
        def.grades.retain(|g| g.min > 0.0);
        let scored = score_one(&def, 0, &[Some(1.0), Some(0.0), Some(-0.5)]);
        assert_eq!((scored.score, scored.grade), (Some(0.0), None));
    }
}
