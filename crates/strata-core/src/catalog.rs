//! The vocabulary of features: the names the engine owns, the per-event
//! feature names, and how a feature reads in a cluster name, a description
//! or a persona (its role, its label, its values). Everything here is pure
//! text work with no dependency on the rest of the crate, so that the
//! sources, the features, the measures and discovery can all read it.

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

/// The role of a feature name.
pub fn role(feature: &str) -> Role {
    if feature.contains("api_share") {
        Role::ApiShare
    } else if feature.starts_with("trend") {
        Role::Trend
    } else if feature == "days_since_last_event" {
        Role::Recency
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
    let window = |prefix: &str| feature.strip_prefix(prefix).map(str::to_string);
    if feature == "api_share" {
        return "API share".into();
    }
    if let Some(rest) = window("api_share_") {
        return format!("API share ({rest})");
    }
    if let Some(rest) = window("active_days_") {
        return format!("active days ({rest})");
    }
    if let Some(rest) = window("distinct_events_") {
        return format!("features used ({rest})");
    }
    if feature == "distinct_events" {
        return "features used".into();
    }
    if let Some(rest) = window("trend_") {
        return format!("trend ({rest} vs the {rest} before)");
    }
    if let Some(rest) = window("events_") {
        return format!("events ({rest})");
    }
    if let Some(rest) = window("users_") {
        return format!("users ({rest})");
    }
    feature.replace('_', " ")
}

/// A value in a feature's units, briefly.
pub fn format_value(feature: &str, value: f64) -> String {
    if let Some(days) = feature
        .strip_prefix("active_days_")
        .and_then(|d| d.strip_suffix('d'))
    {
        return format!("{value:.0}/{days}");
    }
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 || value.fract() == 0.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// Names that computed features own; account columns may not take them.
pub fn reserved_names() -> Vec<&'static str> {
    vec![
        "events_7d",
        "events_28d",
        "events_90d",
        "active_days_7d",
        "active_days_28d",
        "active_days_90d",
        "users_7d",
        "users_28d",
        "users_90d",
        "distinct_events",
        "distinct_events_7d",
        "distinct_events_28d",
        "distinct_events_90d",
        "api_share",
        "api_share_28d",
        "days_since_last_event",
        "days_since_signup",
        "trend_28d",
        "events_total",
        "mrr",
        "arr",
        "mrr_12m_ago",
        "mrr_growth_12m",
    ]
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
