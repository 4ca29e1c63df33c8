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

/// Each column's mean and standard deviation over every account (`None`
/// for a categorical column or one without values): what [`persona`]
/// compares a segment with, the same for every segment.
pub fn base_stats(columns: &[Column<'_>]) -> Vec<Option<(f64, f64)>> {
    columns
        .iter()
        .map(|column| match *column {
            Column::Numeric(_, values) => mean_std(values.iter().flatten().copied()),
            Column::Categorical(..) => None,
        })
        .collect()
}

/// The persona of segment `segment` (accounts where `membership == Some(segment)`),
/// or `None` for an empty segment; `base`: [`base_stats`] of `columns`. Its
/// name comes from what its accounts do and are, never from the segment's
/// own label.
pub fn persona(
    columns: &[Column<'_>],
    base: &[Option<(f64, f64)>],
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
    for (column, base) in columns.iter().zip(base) {
        match *column {
            Column::Numeric(name, values) => {
                if name == "employees" {
                    let mut present: Vec<f64> = rows.iter().filter_map(|&r| values[r]).collect();
                    present.sort_by(f64::total_cmp);
                    median_employees = (!present.is_empty()).then(|| present[present.len() / 2]);
                    continue;
                }
                let Some((base_mean, base_std)) = *base else {
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
    let how: Vec<String> = traits.iter().take(2).map(describe_trait).collect();
    let narrative = if how.is_empty() {
        format!("Typically {who}{on_plan}.")
    } else {
        format!("Typically {who}{on_plan}, with {}.", how.join(" and "))
    };
    let name = persona_name(&traits, &typical, median_employees);
    Some(Persona {
        name,
        narrative,
        traits,
        typical,
        median_employees,
    })
}

/// Traits smaller than this many standard deviations do not name a persona.
const NAMING_DIFFERENCE: f64 = 0.3;

/// What a trait says about the typical account, as the first word of its
/// name: how it uses the product (recency, trend, channel, activity, a
/// feature it leans on) or what it is worth; `None` for a trait that says
/// nothing a person would call it by.
fn descriptor(t: &Trait) -> Option<String> {
    use crate::catalog::Role;
    if t.difference.abs() < NAMING_DIFFERENCE {
        return None;
    }
    let up = t.difference > 0.0;
    let name = t.feature.as_str();
    if let Some(event) = name
        .strip_prefix("event_")
        .and_then(|rest| rest.strip_suffix("_28d"))
        .or_else(|| {
            name.strip_prefix("share_")
                .and_then(|rest| rest.strip_suffix("_90d"))
        })
    {
        if !up {
            return None;
        }
        let integration = ["integration", "api", "webhook", "sync", "connector"];
        if integration.iter().any(|word| event.contains(word)) {
            return Some("Integration-dependent".into());
        }
        let first = event.split('_').next().unwrap_or(event);
        let mut chars = first.chars();
        return chars
            .next()
            .map(|c| format!("{}{}-focused", c.to_uppercase(), chars.as_str()));
    }
    match name {
        "mrr" | "arr" => return Some(if up { "High-value" } else { "Low-value" }.into()),
        "mrr_growth_12m" => return Some(if up { "Expanding" } else { "Contracting" }.into()),
        "days_since_signup" => {
            return Some(if up { "Long-tenured" } else { "Newly signed" }.into());
        }
        _ => {}
    }
    let word = match (crate::catalog::role(name), up) {
        (Role::Recency, true) => "Dormant",
        (Role::Recency, false) => "Recently active",
        (Role::Trend, true) => "Growing",
        (Role::Trend, false) => "Declining",
        (Role::ApiShare, true) => "Integration-dependent",
        (Role::ApiShare, false) => "In-app",
        (Role::Activity, true) => "Highly engaged",
        (Role::Activity, false) => "Light-usage",
        (Role::Other, _) => return None,
    };
    Some(word.into())
}

/// A persona's name from its traits and firmographics, in the words of a
/// product team: what the typical account does (its strongest nameable
/// trait), its industry when most of the segment shares one, its size, and
/// "starters" when most are on a free or entry plan: "Integration-dependent
/// professional-services SMB teams", "Dormant SMB starters".
pub fn persona_name(
    traits: &[Trait],
    typical: &[Typical],
    median_employees: Option<f64>,
) -> String {
    let mut words: Vec<String> = Vec::new();
    words.push(
        traits
            .iter()
            .find_map(descriptor)
            .unwrap_or_else(|| "Typical".to_string()),
    );
    let dominant = |attribute: &str, share: f64| {
        typical
            .iter()
            .find(|t| t.attribute == attribute && t.share >= share)
            .map(|t| t.value.to_lowercase())
    };
    if let Some(industry) = dominant("industry", 0.4) {
        words.push(industry.replace(['_', ' '], "-"));
    }
    if let Some(employees) = median_employees {
        words.push(
            if employees < 200.0 {
                "SMB"
            } else if employees <= 1000.0 {
                "mid-market"
            } else {
                "enterprise"
            }
            .to_string(),
        );
    }
    let entry = ["free", "trial", "starter", "basic"];
    let noun = match dominant("plan", 0.5) {
        Some(plan) if entry.contains(&plan.as_str()) => "starters",
        _ => "teams",
    };
    words.push(noun.to_string());
    words.join(" ")
}

/// A feature's name as a product manager reads it.
fn readable(feature: &str) -> String {
    if let Some(event) = feature
        .strip_prefix("event_")
        .and_then(|rest| rest.strip_suffix("_28d"))
    {
        return format!("{} events in 28 days", event.replace('_', " "));
    }
    if let Some(event) = feature
        .strip_prefix("share_")
        .and_then(|rest| rest.strip_suffix("_90d"))
    {
        return format!("share of {} in 90 days of events", event.replace('_', " "));
    }
    match feature {
        "mrr" => "MRR".into(),
        "arr" => "ARR".into(),
        "mrr_12m_ago" => "MRR a year ago".into(),
        "mrr_growth_12m" => "MRR growth over 12 months".into(),
        "days_since_signup" => "days since signup".into(),
        _ => crate::catalog::label(feature),
    }
}

/// One trait in a PM's units: the value, and how it compares with the base
/// (`3.1x the base` for counts, percentage points for shares, the base's
/// value otherwise).
fn describe_trait(t: &Trait) -> String {
    let value = crate::catalog::format_value(&t.feature, t.segment_mean);
    let base = crate::catalog::format_value(&t.feature, t.base_mean);
    let comparison = if t.base_mean > 0.0 && t.segment_mean >= 0.0 && !value.ends_with('%') {
        let ratio = t.segment_mean / t.base_mean;
        if ratio >= 1.0 {
            format!("{ratio:.1}x the base's {base}")
        } else {
            format!("{:.0}% below the base's {base}", 100.0 * (1.0 - ratio))
        }
    } else {
        format!("against {base} in the base")
    };
    format!("{} {value}, {comparison}", readable(&t.feature))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trait_of(feature: &str, segment_mean: f64, base_mean: f64, difference: f64) -> Trait {
        Trait {
            feature: feature.into(),
            segment_mean,
            base_mean,
            difference,
        }
    }

    fn typical(attribute: &str, value: &str, share: f64) -> Typical {
        Typical {
            attribute: attribute.into(),
            value: value.into(),
            share,
        }
    }

    /// A table of segment profiles and the names they get.
    #[test]
    fn persona_names_read_like_people() {
        let cases: Vec<(Vec<Trait>, Vec<Typical>, Option<f64>, &str)> = vec![
            (
                vec![trait_of("event_integration_connected_28d", 12.0, 2.5, 1.8)],
                vec![typical("industry", "professional_services", 0.62)],
                Some(90.0),
                "Integration-dependent professional-services SMB teams",
            ),
            (
                vec![trait_of("days_since_last_event", 64.0, 12.0, 2.1)],
                vec![
                    typical("industry", "retail", 0.2),
                    typical("plan", "free", 0.7),
                ],
                Some(40.0),
                "Dormant SMB starters",
            ),
            (
                vec![trait_of("active_days_28d", 21.0, 9.0, 1.2)],
                vec![typical("plan", "enterprise", 0.8)],
                Some(2500.0),
                "Highly engaged enterprise teams",
            ),
            (
                vec![trait_of("trend_28d", 0.4, 1.0, -0.9)],
                vec![],
                Some(450.0),
                "Declining mid-market teams",
            ),
            (
                // A weak trait names nothing; an unnamed feature is skipped.
                vec![
                    trait_of("constant", 1.0, 0.5, 2.0),
                    trait_of("mrr", 900.0, 800.0, 0.1),
                ],
                vec![],
                None,
                "Typical teams",
            ),
            (
                vec![trait_of("share_report_exported_90d", 0.3, 0.1, 1.5)],
                vec![typical("industry", "software", 0.45)],
                None,
                "Report-focused software teams",
            ),
        ];
        for (traits, typical, employees, expected) in cases {
            assert_eq!(persona_name(&traits, &typical, employees), expected);
        }
    }

    #[test]
    fn traits_read_in_a_pm_s_units() {
        assert_eq!(
            describe_trait(&trait_of("event_integration_connected_28d", 12.0, 2.5, 1.8)),
            "integration connected events in 28 days 12.0, 4.8x the base's 2.50"
        );
        assert_eq!(
            describe_trait(&trait_of("active_days_28d", 3.0, 10.0, -1.0)),
            "active days (28d) 3/28, 70% below the base's 10/28"
        );
    }

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
        let base = base_stats(&columns);
        let card = persona(&columns, &base, &membership, 0).unwrap();
        assert_eq!(card.median_employees, Some(200.0));
        assert_eq!(card.typical[0].value, "software");
        assert!((card.typical[0].share - 2.0 / 3.0).abs() < 1e-12);
        // active days: segment mean 20, base mean 10, base std 10: +1.0.
        assert_eq!(card.traits.len(), 1);
        assert_eq!(card.traits[0].difference, 1.0);
        // Two thirds software (above the 40% that names an industry), a
        // median of 200 employees (mid-market), twice the base's activity.
        assert_eq!(card.name, "Highly engaged software mid-market teams");
        assert_eq!(
            card.narrative,
            "Typically a 200-employee software company, with active days (28d) 20/28, 2.0x the base's 10/28."
        );
        assert_eq!(persona(&columns, &base, &membership, 5), None);
    }
}
