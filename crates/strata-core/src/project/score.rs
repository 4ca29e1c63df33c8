//! The settings of a `kind = "score"` segmentation, checked: scorecards of
//! weighted measures, each on a scale (green/yellow bands or a linear
//! range), optional groups with their own weights, and the grade bands that
//! become the segments. Scoring itself is [`crate::score`]; this is
//! configuration only, so the project file can be read without it.
//!
//! ```toml
//! [[segmentation]]
//! name = "health"
//! kind = "score"
//! grades = [ { name = "healthy", min = 70 }, { name = "watch", min = 40 }, { name = "at-risk", min = 0 } ]
//! groups = { usage = 60, revenue = 40 }
//! measures = [
//!   { name = "active days", value = "active_days_28d", group = "usage", bands = { green = ">= 15", yellow = ">= 5" } },
//!   { name = "users", value = "users_28d", group = "usage", linear = [0, 10] },
//!   { name = "MRR growth", value = "mrr_growth_12m", group = "revenue", bands = { green = ">= 0", yellow = ">= -0.2" } },
//! ]
//! ```
//!
//! or several scorecards, the first whose `applies_to` holds scoring an
//! account: `[[segmentation.scorecard]]` with `name`, `applies_to`,
//! `groups` and `measures` each.
use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::Problem;

/// One measure as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeasure {
    /// Label in explanations (default: the value's text).
    pub name: Option<String>,
    /// A feature or rule-language expression, numeric or true/false.
    pub value: Option<String>,
    /// Relative weight within its group (default 1).
    pub weight: Option<f64>,
    /// The group it counts in (default: a group of its own).
    pub group: Option<String>,
    /// `{ green = ">= 15", yellow = ">= 5" }`: full credit in green, half in yellow.
    pub bands: Option<BTreeMap<String, String>>,
    /// `[zero, full]`: no credit at `zero`, full credit at `full`, linear between.
    pub linear: Option<Vec<f64>>,
}

/// One scorecard as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScorecard {
    /// Name (default: `scorecard-N`).
    pub name: Option<String>,
    /// Which accounts it scores (default: all that an earlier one did not).
    pub applies_to: Option<String>,
    /// Group name -> weight.
    #[serde(default)]
    pub groups: BTreeMap<String, f64>,
    /// The measures.
    #[serde(default)]
    pub measures: Vec<RawMeasure>,
}

/// One grade as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrade {
    /// The segment name.
    pub name: Option<String>,
    /// The lowest score (0 to 100) in this grade.
    pub min: Option<f64>,
}

/// How a measure's value earns credit (0 to 1).
#[derive(Debug, Clone, PartialEq)]
pub enum Scale {
    /// Full credit when `green` holds, half when `yellow` does, none otherwise.
    Bands {
        /// The green band.
        green: Band,
        /// The yellow band, if any.
        yellow: Option<Band>,
    },
    /// No credit at `zero`, full at `full`, linear between (either order).
    Linear {
        /// The value worth nothing.
        zero: f64,
        /// The value worth full credit.
        full: f64,
    },
    /// True is full credit, false none.
    Boolean,
}

/// A band: the value compared with a number, as written (`>= 15`).
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// `>=`, `>`, `<=`, `<`, `=` or `!=`.
    pub op: &'static str,
    /// The number.
    pub threshold: f64,
}

impl Band {
    /// Parses `>= 15`, `< 0.2`, `= 0`.
    pub fn parse(text: &str) -> Option<Band> {
        let text = text.trim();
        let op = [">=", "<=", "!=", "<>", ">", "<", "="]
            .into_iter()
            .find(|op| text.starts_with(op))?;
        let threshold: f64 = text[op.len()..].trim().parse().ok()?;
        let op = if op == "<>" { "!=" } else { op };
        threshold.is_finite().then_some(Band { op, threshold })
    }

    /// Whether `value` is in the band.
    pub fn holds(&self, value: f64) -> bool {
        match self.op {
            ">=" => value >= self.threshold,
            ">" => value > self.threshold,
            "<=" => value <= self.threshold,
            "<" => value < self.threshold,
            "=" => value == self.threshold,
            _ => value != self.threshold,
        }
    }
}

impl std::fmt::Display for Band {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.op, number(self.threshold))
    }
}

/// A number as people write it: no trailing zeros, at most 2 decimals.
pub fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// A checked measure.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureDef {
    /// Label.
    pub name: String,
    /// Rule-language expression.
    pub value: String,
    /// Relative weight in its group.
    pub weight: f64,
    /// Its group.
    pub group: String,
    /// How it earns credit.
    pub scale: Scale,
}

/// A checked scorecard.
#[derive(Debug, Clone, PartialEq)]
pub struct Scorecard {
    /// Name.
    pub name: String,
    /// Rule-language condition; `None` is every account.
    pub applies_to: Option<String>,
    /// Groups in order of first use, with their weights.
    pub groups: Vec<(String, f64)>,
    /// Measures.
    pub measures: Vec<MeasureDef>,
}

/// A grade: the segment of scores from `min` up (to the next grade's `min`).
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// Segment name.
    pub name: String,
    /// Lowest score in the grade.
    pub min: f64,
}

/// A checked `kind = "score"` segmentation.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreDef {
    /// Scorecards, first applicable wins.
    pub scorecards: Vec<Scorecard>,
    /// Grades, highest `min` first.
    pub grades: Vec<Grade>,
}

/// Checks a score segmentation's scorecards and grades, collecting problems.
pub fn validate(
    scorecards: Vec<RawScorecard>,
    grades: Vec<RawGrade>,
    location: &str,
    problems: &mut Vec<Problem>,
) -> Option<ScoreDef> {
    let before = problems.len();
    if scorecards.is_empty() {
        problems.push(
            Problem::new(location, "a score segmentation needs measures")
                .with_help("add measures = [ { name = \"active days\", value = \"active_days_28d\", bands = { green = \">= 15\", yellow = \">= 5\" } } ]"),
        );
    }
    let mut checked = Vec::new();
    for (idx, raw) in scorecards.into_iter().enumerate() {
        let name = raw.name.unwrap_or_else(|| format!("scorecard-{}", idx + 1));
        let location = format!("{location}, scorecard `{name}`");
        if checked.iter().any(|s: &Scorecard| s.name == name) {
            problems.push(Problem::new(&location, "duplicate scorecard name"));
        }
        if raw.measures.is_empty() {
            problems.push(
                Problem::new(&location, "a scorecard needs at least one measure").with_help(
                    "add measures = [ { value = \"...\", bands = { green = \"...\" } } ]",
                ),
            );
        }
        for (group, weight) in &raw.groups {
            if !(weight.is_finite() && *weight > 0.0) {
                problems.push(Problem::new(
                    &location,
                    format!("group `{group}` has weight {weight}; weights are positive numbers"),
                ));
            }
        }
        let mut measures = Vec::new();
        let mut groups: Vec<(String, f64)> = Vec::new();
        for (m_idx, raw_measure) in raw.measures.into_iter().enumerate() {
            let m_location = format!("{location}, measure #{}", m_idx + 1);
            if let Some(measure) = validate_measure(raw_measure, &raw.groups, &m_location, problems)
            {
                if !groups.iter().any(|(g, _)| *g == measure.group) {
                    let weight = raw
                        .groups
                        .get(&measure.group)
                        .copied()
                        .unwrap_or(measure.weight);
                    groups.push((measure.group.clone(), weight));
                }
                measures.push(measure);
            }
        }
        for group in raw.groups.keys() {
            if !groups.iter().any(|(g, _)| g == group) {
                problems.push(
                    Problem::new(&location, format!("group `{group}` has no measure"))
                        .with_help("give a measure group = \"...\", or remove the group"),
                );
            }
        }
        checked.push(Scorecard {
            name,
            applies_to: raw.applies_to.filter(|text| !text.trim().is_empty()),
            groups,
            measures,
        });
    }
    let mut checked_grades: Vec<Grade> = Vec::new();
    if grades.is_empty() {
        problems.push(
            Problem::new(location, "a score segmentation needs grades, the segments")
                .with_help("add grades = [ { name = \"healthy\", min = 70 }, { name = \"watch\", min = 40 }, { name = \"at-risk\", min = 0 } ]"),
        );
    }
    for (idx, raw) in grades.into_iter().enumerate() {
        let g_location = format!("{location}, grade #{}", idx + 1);
        let Some(name) = raw.name.filter(|n| !n.trim().is_empty()) else {
            problems.push(Problem::new(&g_location, "missing `name`"));
            continue;
        };
        let Some(min) = raw.min.filter(|m| (0.0..=100.0).contains(m)) else {
            problems.push(
                Problem::new(
                    &g_location,
                    format!("grade `{name}` needs `min`, a score from 0 to 100"),
                )
                .with_help("e.g. { name = \"healthy\", min = 70 }"),
            );
            continue;
        };
        if checked_grades.iter().any(|g| g.name == name) {
            problems.push(Problem::new(
                &g_location,
                format!("duplicate grade `{name}`"),
            ));
            continue;
        }
        checked_grades.push(Grade { name, min });
    }
    checked_grades.sort_by(|a, b| b.min.total_cmp(&a.min));
    (problems.len() == before).then_some(ScoreDef {
        scorecards: checked,
        grades: checked_grades,
    })
}

fn validate_measure(
    raw: RawMeasure,
    groups: &BTreeMap<String, f64>,
    location: &str,
    problems: &mut Vec<Problem>,
) -> Option<MeasureDef> {
    let Some(value) = raw.value.filter(|v| !v.trim().is_empty()) else {
        problems.push(
            Problem::new(location, "missing `value`")
                .with_help("a feature or expression, e.g. value = \"active_days_28d\""),
        );
        return None;
    };
    let name = raw.name.unwrap_or_else(|| value.clone());
    let location = format!("{location} (`{name}`)");
    let weight = raw.weight.unwrap_or(1.0);
    if !(weight.is_finite() && weight > 0.0) {
        problems.push(Problem::new(
            &location,
            format!("weight {weight}: weights are positive numbers"),
        ));
        return None;
    }
    let group = match raw.group {
        Some(group) if !groups.is_empty() && !groups.contains_key(&group) => {
            problems.push(
                Problem::new(&location, format!("unknown group `{group}`")).with_help(format!(
                    "the scorecard's groups are: {}",
                    groups.keys().cloned().collect::<Vec<_>>().join(", ")
                )),
            );
            return None;
        }
        Some(group) => group,
        None if !groups.is_empty() => {
            problems.push(
                Problem::new(
                    &location,
                    "the scorecard has groups, so every measure needs `group`",
                )
                .with_help(format!(
                    "add group = one of {}",
                    groups.keys().cloned().collect::<Vec<_>>().join(", ")
                )),
            );
            return None;
        }
        None => name.clone(),
    };
    let scale = match (raw.bands, raw.linear) {
        (Some(_), Some(_)) => {
            problems.push(
                Problem::new(&location, "both `bands` and `linear`").with_help("keep one scale"),
            );
            return None;
        }
        (Some(bands), None) => {
            let mut green = None;
            let mut yellow = None;
            for (color, text) in bands {
                let Some(band) = Band::parse(&text) else {
                    problems.push(
                        Problem::new(
                            &location,
                            format!("band {color} = \"{text}\" is not a comparison with a number"),
                        )
                        .with_help("write e.g. \">= 15\" or \"< 0.2\""),
                    );
                    return None;
                };
                match color.as_str() {
                    "green" => green = Some(band),
                    "yellow" => yellow = Some(band),
                    other => {
                        problems.push(
                            Problem::new(&location, format!("unknown band `{other}`"))
                                .with_help("bands are green (full credit) and yellow (half); anything else earns none"),
                        );
                        return None;
                    }
                }
            }
            let Some(green) = green else {
                problems.push(
                    Problem::new(&location, "bands need a green band")
                        .with_help("e.g. bands = { green = \">= 15\", yellow = \">= 5\" }"),
                );
                return None;
            };
            Scale::Bands { green, yellow }
        }
        (None, Some(range)) => match range.as_slice() {
            [zero, full] if zero.is_finite() && full.is_finite() && zero != full => Scale::Linear {
                zero: *zero,
                full: *full,
            },
            _ => {
                problems.push(
                    Problem::new(
                        &location,
                        "linear takes two different numbers: [no credit, full credit]",
                    )
                    .with_help("e.g. linear = [0, 10]; [10, 0] when less is better"),
                );
                return None;
            }
        },
        (None, None) => Scale::Boolean,
    };
    Some(MeasureDef {
        name,
        value,
        weight,
        group,
        scale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_parse_and_hold() {
        let band = Band::parse(">= 15").expect("band");
        assert!(band.holds(15.0) && !band.holds(14.9));
        assert_eq!(band.to_string(), ">= 15");
        assert_eq!(Band::parse("<0.2").map(|b| b.holds(0.1)), Some(true));
        assert_eq!(Band::parse("<> 0").map(|b| b.op), Some("!="));
        assert!(Band::parse("big").is_none() && Band::parse(">= x").is_none());
    }

    #[test]
    fn bad_scorecards_say_what_and_where() {
        let measures = vec![
            RawMeasure {
                value: Some("a".into()),
                group: Some("usage".into()),
                bands: Some(BTreeMap::from([("green".into(), "lots".into())])),
                ..RawMeasure::default()
            },
            RawMeasure {
                value: Some("b".into()),
                group: Some("nope".into()),
                ..RawMeasure::default()
            },
            RawMeasure {
                value: Some("c".into()),
                group: Some("usage".into()),
                linear: Some(vec![1.0, 1.0]),
                ..RawMeasure::default()
            },
        ];
        let mut problems = Vec::new();
        let def = validate(
            vec![RawScorecard {
                groups: BTreeMap::from([("usage".into(), 60.0), ("revenue".into(), 40.0)]),
                measures,
                ..RawScorecard::default()
            }],
            vec![RawGrade {
                name: Some("ok".into()),
                min: Some(120.0),
            }],
            "strata.toml: segmentation `health`",
            &mut problems,
        );
        assert!(def.is_none());
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        for wanted in [
            "measure #1 (`a`): band green = \"lots\" is not a comparison with a number",
            "measure #2 (`b`): unknown group `nope`",
            "measure #3 (`c`): linear takes two different numbers",
            "group `revenue` has no measure",
            "grade `ok` needs `min`, a score from 0 to 100",
        ] {
            assert!(
                text.iter().any(|t| t.contains(wanted)),
                "missing {wanted} in {text:#?}"
            );
        }
    }
}
