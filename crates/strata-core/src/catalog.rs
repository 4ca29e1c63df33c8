//! The feature catalog: every default behavioral feature declared once, as
//! a [`Measure`] (what it counts, over which window) with its name, type,
//! description, role and label; the names the engine owns; the per-event
//! feature names; how any feature reads in a cluster name, a description or
//! a persona.
//!
//! Each engine reads the catalog and dispatches on the measure: the scan
//! kernel (`features/scan.rs`), the DataFusion plan (`features/mod.rs`) and
//! the SQL generator (`sql.rs`) each aggregate the events at the grain a
//! measure names ([`Grain`]) and finish it the same way, `strata features`
//! prints the descriptions, and sources reserve the names. A new default
//! feature over an existing measure is one entry of [`default_measures`]
//! (a new window: one more of [`WINDOWS`]); a new kind of measure is one
//! more variant, which the compiler then asks every engine to compute.
//! Everything here is text and arithmetic, with no dependency on the rest of
//! the crate beyond the rule language's value types.
use crate::rules::ValueType;

/// The windows, in days, of the windowed default features.
pub const WINDOWS: [i32; 3] = [7, 28, 90];

/// The window of the trend, the 28-day API share and the per-event counts.
pub const TREND_DAYS: i32 = 28;

/// Which events a measure reads: the last N days up to the as-of day, or
/// all history before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// The last N days, the as-of day included.
    Last(i32),
    /// Every event up to the end of the as-of day.
    All,
}

/// What a default behavioral feature measures for an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Events in the period.
    Events(Period),
    /// Distinct UTC dates with an event in the last N days.
    ActiveDays(i32),
    /// Distinct non-null users in the last N days.
    Users(i32),
    /// Distinct event names in the period.
    DistinctEvents(Period),
    /// Share of the period's events with source `api` or `integration`.
    ApiShare(Period),
    /// As-of day minus the day of the latest event.
    DaysSinceLastEvent,
    /// Events of the last N days over events of the N days before.
    Trend(i32),
    /// Distinct active days in the first N days after signup.
    AdoptionActiveDays(i32),
    /// Events in the first N days after signup.
    AdoptionEvents(i32),
}

/// The intermediate aggregate a measure is finished from, which every
/// engine computes in one pass per grain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// Per (account, day): event counts, API counts, the last day.
    Day,
    /// Per (account, user): the user's last day.
    User,
    /// Per (account, event name): the name's last day.
    Event,
    /// Per account, the days from signup to the end of adoption.
    Adoption,
}

/// The default behavioral features of DATA.md plus adoption, in output
/// order.
pub fn default_measures(adoption_days: u32) -> Vec<Measure> {
    let adoption = i32::try_from(adoption_days).unwrap_or(i32::MAX);
    let mut measures: Vec<Measure> = Vec::new();
    measures.extend(WINDOWS.map(|days| Measure::Events(Period::Last(days))));
    measures.extend(WINDOWS.map(Measure::ActiveDays));
    measures.extend(WINDOWS.map(Measure::Users));
    measures.push(Measure::DistinctEvents(Period::All));
    measures.extend(WINDOWS.map(|days| Measure::DistinctEvents(Period::Last(days))));
    measures.push(Measure::ApiShare(Period::All));
    measures.push(Measure::ApiShare(Period::Last(TREND_DAYS)));
    measures.push(Measure::DaysSinceLastEvent);
    measures.push(Measure::Trend(TREND_DAYS));
    measures.push(Measure::Events(Period::All));
    measures.push(Measure::AdoptionActiveDays(adoption));
    measures.push(Measure::AdoptionEvents(adoption));
    measures
}

impl Measure {
    /// The feature's column name (a contract: DATA.md).
    pub fn name(self) -> String {
        match self {
            Measure::Events(Period::Last(days)) => format!("events_{days}d"),
            Measure::Events(Period::All) => "events_total".into(),
            Measure::ActiveDays(days) => format!("active_days_{days}d"),
            Measure::Users(days) => format!("users_{days}d"),
            Measure::DistinctEvents(Period::Last(days)) => format!("distinct_events_{days}d"),
            Measure::DistinctEvents(Period::All) => "distinct_events".into(),
            Measure::ApiShare(Period::Last(days)) => format!("api_share_{days}d"),
            Measure::ApiShare(Period::All) => "api_share".into(),
            Measure::DaysSinceLastEvent => "days_since_last_event".into(),
            Measure::Trend(days) => format!("trend_{days}d"),
            Measure::AdoptionActiveDays(days) => format!("active_days_first_{days}d"),
            Measure::AdoptionEvents(days) => format!("events_first_{days}d"),
        }
    }

    /// The measure a default feature's name stands for, whatever its window.
    pub fn parse(name: &str) -> Option<Measure> {
        let days = |rest: &str| -> Option<i32> {
            let digits = rest.strip_suffix('d')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok().filter(|&days: &i32| days > 0)
        };
        let measure = match name {
            "events_total" => Measure::Events(Period::All),
            "distinct_events" => Measure::DistinctEvents(Period::All),
            "api_share" => Measure::ApiShare(Period::All),
            "days_since_last_event" => Measure::DaysSinceLastEvent,
            _ => {
                let windowed: [(&str, fn(i32) -> Measure); 8] = [
                    ("active_days_first_", Measure::AdoptionActiveDays),
                    ("events_first_", Measure::AdoptionEvents),
                    ("distinct_events_", |d| {
                        Measure::DistinctEvents(Period::Last(d))
                    }),
                    ("active_days_", Measure::ActiveDays),
                    ("api_share_", |d| Measure::ApiShare(Period::Last(d))),
                    ("events_", |d| Measure::Events(Period::Last(d))),
                    ("users_", Measure::Users),
                    ("trend_", Measure::Trend),
                ];
                return windowed
                    .iter()
                    .find_map(|(prefix, make)| name.strip_prefix(prefix).and_then(days).map(make));
            }
        };
        Some(measure)
    }

    /// Integer for counts, float for shares and ratios.
    pub fn value_type(self) -> ValueType {
        match self {
            Measure::ApiShare(_) | Measure::Trend(_) => ValueType::Float,
            _ => ValueType::Integer,
        }
    }

    /// The aggregate it is finished from.
    pub fn grain(self) -> Grain {
        match self {
            Measure::Users(_) => Grain::User,
            Measure::DistinctEvents(_) => Grain::Event,
            Measure::AdoptionActiveDays(_) | Measure::AdoptionEvents(_) => Grain::Adoption,
            Measure::Events(_)
            | Measure::ActiveDays(_)
            | Measure::ApiShare(_)
            | Measure::DaysSinceLastEvent
            | Measure::Trend(_) => Grain::Day,
        }
    }

    /// What it means, for `strata features` and the feature definitions.
    pub fn description(self) -> String {
        match self {
            Measure::Events(Period::Last(days)) => format!("events in the last {days} days"),
            Measure::Events(Period::All) => "events over all history before t_end".into(),
            Measure::ActiveDays(days) => {
                format!("distinct UTC dates with an event in the last {days} days")
            }
            Measure::Users(days) => format!("distinct non-null user_id in the last {days} days"),
            Measure::DistinctEvents(Period::Last(days)) => {
                format!("distinct event names in the last {days} days")
            }
            Measure::DistinctEvents(Period::All) => {
                "distinct event names over all history before t_end".into()
            }
            Measure::ApiShare(Period::All) => {
                "share of events (all history) with source api or integration; NULL without events"
                    .into()
            }
            Measure::ApiShare(Period::Last(days)) => format!(
                "share of the last {days} days' events with source api or integration; NULL when events_{days}d = 0"
            ),
            Measure::DaysSinceLastEvent => {
                "as_of minus the UTC date of the latest event; NULL when none".into()
            }
            Measure::Trend(days) => {
                format!("events_{days}d / events in the {days} days before; NULL when that is 0")
            }
            Measure::AdoptionActiveDays(days) => {
                format!("distinct active days in the first {days} days after signup (adoption)")
            }
            Measure::AdoptionEvents(days) => {
                format!("events in the first {days} days after signup (adoption)")
            }
        }
    }

    /// What it says about an account, for naming clusters.
    pub fn role(self) -> Role {
        match self {
            Measure::ApiShare(_) => Role::ApiShare,
            Measure::Trend(_) => Role::Trend,
            Measure::DaysSinceLastEvent => Role::Recency,
            Measure::Events(_)
            | Measure::ActiveDays(_)
            | Measure::Users(_)
            | Measure::DistinctEvents(_)
            | Measure::AdoptionActiveDays(_)
            | Measure::AdoptionEvents(_) => Role::Activity,
        }
    }

    /// A human label, for descriptions and personas.
    pub fn label(self) -> String {
        match self {
            Measure::Events(Period::Last(days)) => format!("events ({days}d)"),
            Measure::Events(Period::All) => "events (total)".into(),
            Measure::ActiveDays(days) => format!("active days ({days}d)"),
            Measure::Users(days) => format!("users ({days}d)"),
            Measure::DistinctEvents(Period::Last(days)) => format!("features used ({days}d)"),
            Measure::DistinctEvents(Period::All) => "features used".into(),
            Measure::ApiShare(Period::Last(days)) => format!("API share ({days}d)"),
            Measure::ApiShare(Period::All) => "API share".into(),
            Measure::DaysSinceLastEvent => "days since last event".into(),
            Measure::Trend(days) => format!("trend ({days}d vs the {days}d before)"),
            Measure::AdoptionActiveDays(days) => format!("active days (first_{days}d)"),
            Measure::AdoptionEvents(days) => format!("events (first_{days}d)"),
        }
    }
}

/// What a feature says about an account, read from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// How much the product is used: events, active days, users, features.
    Activity,
    /// Share of API and integration traffic.
    ApiShare,
    /// Recent activity relative to the period before.
    Trend,
    /// Days since the last event: high is bad, so its sign is flipped.
    Recency,
    /// Anything else, a custom feature say.
    Other,
}

/// The role of a feature: its measure's for a default feature; for any
/// other (a per-event count,  (a custom feature, an account
/// column) read from how its name begins, as `strata init` names its
/// helpers (`events_per_active_day_90d` is activity, `share_*` other).
pub fn role(feature: &str) -> Role {
    if let Some(measure) = Measure::parse(feature) {
        return measure.role();
    }
    if feature.contains("api_share") {
        Role::ApiShare
    } else if feature.starts_with("trend") {
        Role::Trend
    } else if [
        "events_",
        "active_days_",
        "users_",
        "distinct_events",
        "event_",
    ]
    .iter()
    .any(|prefix| feature.starts_with(prefix))
    {
        Role::Activity
    } else {
        Role::Other
    }
}

/// A human label of a feature, for descriptions.
pub fn label(feature: &str) -> String {
    match Measure::parse(feature) {
        Some(measure) => measure.label(),
        None => feature.replace('_', " "),
    }
}

/// A value in a feature's units, briefly.
pub fn format_value(feature: &str, value: f64) -> String {
    match Measure::parse(feature) {
        Some(Measure::ActiveDays(days)) => return format!("{value:.0}/{days}"),
        Some(Measure::AdoptionActiveDays(days)) => return format!("{value:.0}/first_{days}"),
        _ => {}
    }
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 || value.fract() == 0.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// The features computed from revenue and the signup date.
const VALUE_NAMES: [&str; 5] = [
    "days_since_signup",
    "mrr",
    "arr",
    "mrr_12m_ago",
    "mrr_growth_12m",
];

/// Whether a computed feature owns `name` (a default feature at any window,
/// a per-event count, a revenue feature), so that an account column may not
/// take it.
pub fn is_reserved(name: &str) -> bool {
    Measure::parse(name).is_some() || is_event_feature(name) || VALUE_NAMES.contains(&name)
}

/// Whether `name` has the form of a per-event count (`event_<slug>_28d`).
pub fn is_event_feature(name: &str) -> bool {
    name.strip_prefix("event_")
        .and_then(|rest| rest.strip_suffix(&format!("_{TREND_DAYS}d")))
        .is_some_and(|slug| !slug.is_empty())
}

/// The feature name for the per-event count of `event` over the last 28 days.
pub fn event_feature_name(event: &str) -> String {
    let mut slug: String = event
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    while slug.contains("__") {
        slug = slug.replace("__", "_");
    }
    format!("event_{}_28d", slug.trim_matches('_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_name_parses_back_to_its_measure() {
        for adoption in [14, 28, 60, 365] {
            let measures = default_measures(adoption);
            assert_eq!(measures.len(), 20);
            for measure in measures {
                assert_eq!(
                    Measure::parse(&measure.name()),
                    Some(measure),
                    "{measure:?}"
                );
                assert!(is_reserved(&measure.name()));
            }
        }
    }

    #[test]
    fn names_that_are_not_default_features() {
        for name in [
            "events_prev_28d",
            "events_d",
            "events_0d",
            "events_-7d",
            "active_days_first_d",
            "event_export_28d",
            "employees",
            "share_task_created_90d",
        ] {
            assert_eq!(Measure::parse(name), None, "{name}");
        }
        assert!(is_reserved("event_export_28d"));
        assert!(is_reserved("mrr_growth_12m"));
        assert!(is_reserved("active_days_first_60d"));
        assert!(!is_reserved("event__28d"));
        assert!(!is_reserved("plan"));
    }

    #[test]
    fn roles_labels_and_values_by_hand() {
        assert_eq!(role("api_share_28d"), Role::ApiShare);
        assert_eq!(role("trend_28d"), Role::Trend);
        assert_eq!(role("days_since_last_event"), Role::Recency);
        assert_eq!(role("events_first_60d"), Role::Activity);
        assert_eq!(role("event_export_28d"), Role::Activity);
        assert_eq!(role("events_per_active_day_90d"), Role::Activity);
        assert_eq!(role("share_task_created_90d"), Role::Other);
        assert_eq!(label("trend_28d"), "trend (28d vs the 28d before)");
        assert_eq!(label("distinct_events"), "features used");
        assert_eq!(label("events_total"), "events (total)");
        assert_eq!(
            label("events_per_active_day_90d"),
            "events per active day 90d"
        );
        assert_eq!(format_value("active_days_28d", 6.0), "6/28");
        assert_eq!(format_value("active_days_first_60d", 6.0), "6/first_60");
        assert_eq!(format_value("arr", 1234.5), "1234");
        assert_eq!(format_value("api_share", 0.25), "0.25");
    }
}
