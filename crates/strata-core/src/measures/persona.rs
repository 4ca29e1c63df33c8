//! Persona cards: who a segment's typical account is, from the data.
//!
//! For each segment: the typical firmographics (the most common industry,
//! plan and country with their shares, the median employee count), the three
//! numeric features that most distinguish it (largest standardized
//! difference between the segment's mean and the base's mean), and a one-line
//! narrative built from them.
use serde::Serialize;

/// A numeric or categorical column of the feature table.
#[derive(Debug, Clone, Copy)]
pub enum Column<'a> {
    /// Numbers, NULLs as `None`.
    Numeric(&'a str, &'a [Option<f64>]),
    /// Categories, NULLs as `None`.
    Categorical(&'a str, &'a [Option<String>]),
}

/// A distinguishing trait.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trait {
    /// Feature name.
    pub feature: String,
    /// The segment's mean.
    pub segment_mean: f64,
    /// The base's mean.
    pub base_mean: f64,
    /// `(segment mean − base mean) / base standard deviation`.
    pub difference: f64,
}

/// The most common value of a category in a segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Typical {
    /// Column name.
    pub attribute: String,
    /// Its most common value.
    pub value: String,
    /// Share of the segment's accounts with it.
    pub share: f64,
}

/// A segment's persona card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Persona {
    /// A name for the typical account.
    pub name: String,
    /// One line.
    pub narrative: String,
    /// Top distinguishing numeric features.
    pub traits: Vec<Trait>,
    /// Most common industry, plan, country.
    pub typical: Vec<Typical>,
    /// Median employees.
    pub median_employees: Option<f64>,
}

fn mean_std(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let values: Vec<f64> = values.collect();
    if values.is_empty() {
        return None;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / values.len() as f64;
    Some((mean, var.sqrt()))
}

/// The persona of segment `segment` (accounts where `membership == Some(segment)`),
/// or `None` for an empty segment.
pub fn persona(
    segment_name: &str,
    columns: &[Column<'_>],
    membership: &[Option<usize>],
    segment: usize,
) -> Option<Persona> {
    let rows: Vec<usize> = (0..membership.len())
        .filter(|&r| membership[r] == Some(segment))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let mut traits = Vec::new();
    let mut typical = Vec::new();
    let mut median_employees = None;
    for column in columns {
        match *column {
            Column::Numeric(name, values) => {
                if name == "employees" {
                    let mut present: Vec<f64> = rows.iter().filter_map(|&r| values[r]).collect();
                    present.sort_by(f64::total_cmp);
                    median_employees = (!present.is_empty()).then(|| present[present.len() / 2]);
                    continue;
                }
                let Some((base_mean, base_std)) = mean_std(values.iter().flatten().copied()) else {
                    continue;
                };
                let Some((segment_mean, _)) = mean_std(rows.iter().filter_map(|&r| values[r]))
                else {
                    continue;
                };
                if base_std > 0.0 {
                    traits.push(Trait {
                        feature: name.to_string(),
                        segment_mean,
                        base_mean,
                        difference: (segment_mean - base_mean) / base_std,
                    });
                }
            }
            Column::Categorical(name, values) => {
                let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
                for &r in &rows {
                    if let Some(value) = values[r].as_deref() {
                        *counts.entry(value).or_default() += 1;
                    }
                }
                if let Some((value, count)) = counts
                    .into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                {
                    typical.push(Typical {
                        attribute: name.to_string(),
                        value: value.to_string(),
                        share: count as f64 / rows.len() as f64,
                    });
                }
            }
        }
    }
    traits.sort_by(|a, b| {
        b.difference
            .abs()
            .total_cmp(&a.difference.abs())
            .then(a.feature.cmp(&b.feature))
    });
    traits.truncate(3);
    let value_of = |attribute: &str| {
        typical
            .iter()
            .find(|t| t.attribute == attribute)
            .map(|t| t.value.replace('_', " "))
    };
    let industry = value_of("industry");
    let plan = value_of("plan");
    let who = match (median_employees, &industry) {
        (Some(employees), Some(industry)) => {
            format!("a {employees:.0}-employee {industry} company")
        }
        (Some(employees), None) => format!("a {employees:.0}-employee company"),
        (None, Some(industry)) => format!("a {industry} company"),
        (None, None) => "an account".to_string(),
    };
    let on_plan = plan
        .map(|plan| format!(" on the {plan} plan"))
        .unwrap_or_default();
    let how: Vec<String> = traits
        .iter()
        .take(2)
        .map(|t| {
            let direction = if t.difference > 0.0 { "high" } else { "low" };
            format!(
                "{direction} {} ({} vs {} overall)",
                crate::catalog::label(&t.feature),
                crate::catalog::format_value(&t.feature, t.segment_mean),
                crate::catalog::format_value(&t.feature, t.base_mean)
            )
        })
        .collect();
    let narrative = if how.is_empty() {
        format!("Typically {who}{on_plan}.")
    } else {
        format!("Typically {who}{on_plan}, with {}.", how.join(" and "))
    };
    let name = match &industry {
        Some(industry) => format!("The {industry} {}", segment_name.to_lowercase()),
        None => format!("The {}", segment_name.to_lowercase()),
    };
    Some(Persona {
        name,
        narrative,
        traits,
        typical,
        median_employees,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persona_traits_and_firmographics_by_hand() {
        // Segment 0 = accounts 0, 1, 2; the base has 6 accounts.
        let employees = [
            Some(100.0),
            Some(300.0),
            Some(200.0),
            Some(10.0),
            Some(20.0),
            None,
        ];
        let active = [
            Some(20.0),
            Some(20.0),
            Some(20.0),
            Some(0.0),
            Some(0.0),
            Some(0.0),
        ];
        let flat = [Some(1.0); 6];
        let industry: Vec<Option<String>> = [
            "software", "software", "retail", "retail", "retail", "retail",
        ]
        .iter()
        .map(|s| Some(s.to_string()))
        .collect();
        let membership = [Some(0), Some(0), Some(0), Some(1), Some(1), None];
        let columns = [
            Column::Numeric("employees", &employees),
            Column::Numeric("active_days_28d", &active),
            Column::Numeric("constant", &flat),
            Column::Categorical("industry", &industry),
        ];
        let card = persona("Power users", &columns, &membership, 0).unwrap();
        assert_eq!(card.median_employees, Some(200.0));
        assert_eq!(card.typical[0].value, "software");
        assert!((card.typical[0].share - 2.0 / 3.0).abs() < 1e-12);
        // active days: segment mean 20, base mean 10, base std 10: +1.0.
        assert_eq!(card.traits.len(), 1);
        assert_eq!(card.traits[0].difference, 1.0);
        assert_eq!(card.name, "The software power users");
        assert_eq!(
            card.narrative,
            "Typically a 200-employee software company, with high active days (28d) (20/28 vs 10/28 overall)."
        );
        assert_eq!(persona("x", &columns, &membership, 5), None);
    }
}
