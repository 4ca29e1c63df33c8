//! Fixed vocabularies of the demo generator: archetypes, needs, plans,
//! industries, countries, company names, CSMs and the product's event names.
//!
//! Everything here is a constant table so that the generator's output depends
//! only on the parameters and the seed, and so that the numbers that shape the
//! synthetic customer base (weights, prices, rates) sit in one place where a
//! reader can see and tune them.

/// The hidden behavioural archetype of an account, written to `truth.csv`.
///
/// Archetypes overlap on purpose: every per-account parameter is drawn with
/// noise around the archetype's centre, so a segmentation can recover them
/// only approximately, as with real customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Archetype {
    /// Many active days and users, broad feature use, growing.
    Power,
    /// Few active days, few features, mostly the app.
    Casual,
    /// Mostly API and integration traffic, few app days, steady.
    Integration,
    /// Activity that decays over the last months and often stops.
    Dormant,
}

impl Archetype {
    /// All archetypes in the order of [`ARCHETYPE_NAMES`].
    pub(crate) const ALL: [Archetype; 4] = [
        Archetype::Power,
        Archetype::Casual,
        Archetype::Integration,
        Archetype::Dormant,
    ];

    /// The name written to `truth.csv`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Archetype::Power => "power",
            Archetype::Casual => "casual",
            Archetype::Integration => "integration",
            Archetype::Dormant => "dormant",
        }
    }
}

/// The archetype names, in the order of [`Archetype::ALL`].
pub(crate) const ARCHETYPE_NAMES: [&str; 4] = ["power", "casual", "integration", "dormant"];

/// The dominant need of an account, the theme most of its verbatims are about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Need {
    /// Reporting, dashboards and analytics.
    Reporting,
    /// Integrations and the API.
    Integrations,
    /// Pricing and billing.
    Pricing,
    /// Performance and speed.
    Performance,
    /// Onboarding and ease of use.
    Onboarding,
    /// Permissions, SSO and security.
    Security,
}

impl Need {
    /// All needs, in the order of [`NEED_NAMES`].
    pub(crate) const ALL: [Need; 6] = [
        Need::Reporting,
        Need::Integrations,
        Need::Pricing,
        Need::Performance,
        Need::Onboarding,
        Need::Security,
    ];

    /// The name written to `truth.csv`.
    pub(crate) fn name(self) -> &'static str {
        NEED_NAMES[self as usize]
    }
}

/// The need names, in the order of [`Need::ALL`].
pub(crate) const NEED_NAMES: [&str; 6] = [
    "reporting",
    "integrations",
    "pricing",
    "performance",
    "onboarding",
    "security",
];

/// The commercial plan of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Plan {
    /// No revenue.
    Free,
    /// Small paid plan.
    Starter,
    /// Mid-market paid plan.
    Pro,
    /// Large contracts with a minimum commitment.
    Enterprise,
}

impl Plan {
    /// The name written to `accounts.csv`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Starter => "starter",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    /// Whether the plan produces revenue rows.
    pub(crate) fn is_paid(self) -> bool {
        self != Plan::Free
    }

    /// List price per seat and month, and the monthly minimum of the plan.
    pub(crate) fn seat_price_and_minimum(self) -> (f64, f64) {
        match self {
            Plan::Free => (0.0, 0.0),
            Plan::Starter => (9.0, 29.0),
            Plan::Pro => (19.0, 99.0),
            Plan::Enterprise => (39.0, 1200.0),
        }
    }
}

/// The industry that carries the planted ideal customer profile.
pub(crate) const ICP_INDUSTRY: &str = "professional_services";

/// Industries with their share of signups (relative weights).
pub(crate) const INDUSTRIES: [(&str, f64); 12] = [
    ("software", 22.0),
    ("professional_services", 12.0),
    ("manufacturing", 10.0),
    ("finance", 9.0),
    ("retail", 9.0),
    ("healthcare", 8.0),
    ("education", 7.0),
    ("media", 6.0),
    ("logistics", 6.0),
    ("nonprofit", 5.0),
    ("real_estate", 4.0),
    ("hospitality", 2.0),
];

/// ISO 3166 alpha-2 countries with their share of signups and a typical UTC
/// offset in hours, used to place working hours in UTC timestamps.
pub(crate) const COUNTRIES: [(&str, f64, f64); 20] = [
    ("US", 38.0, -6.0),
    ("GB", 10.0, 0.0),
    ("DE", 9.0, 1.0),
    ("FR", 6.0, 1.0),
    ("CA", 6.0, -5.0),
    ("NL", 4.0, 1.0),
    ("AU", 4.0, 10.0),
    ("IN", 4.0, 5.5),
    ("ES", 3.0, 1.0),
    ("IT", 3.0, 1.0),
    ("SE", 3.0, 1.0),
    ("BR", 3.0, -3.0),
    ("JP", 2.0, 9.0),
    ("IE", 2.0, 0.0),
    ("CH", 2.0, 1.0),
    ("PL", 2.0, 1.0),
    ("DK", 1.0, 1.0),
    ("NO", 1.0, 1.0),
    ("SG", 1.0, 8.0),
    ("MX", 1.0, -6.0),
];

/// Customer success managers of the self-serve and mid-market book.
pub(crate) const CSMS: [&str; 10] = [
    "ana.lopez@flowdesk.example",
    "ben.okafor@flowdesk.example",
    "chloe.martin@flowdesk.example",
    "david.kim@flowdesk.example",
    "elena.rossi@flowdesk.example",
    "farid.haddad@flowdesk.example",
    "grace.chen@flowdesk.example",
    "hugo.schmidt@flowdesk.example",
    "isla.murphy@flowdesk.example",
    "jonas.berg@flowdesk.example",
];

/// Strategic CSMs who own every enterprise account.
pub(crate) const ENTERPRISE_CSMS: [&str; 4] = [
    "katherine.wells@flowdesk.example",
    "luis.fernandez@flowdesk.example",
    "maya.patel@flowdesk.example",
    "nathan.brooks@flowdesk.example",
];

/// First words of company names.
pub(crate) const NAME_ROOTS: [&str; 40] = [
    "Blue", "North", "Silver", "Red", "Green", "Bright", "Iron", "Summit", "Harbor", "Pine",
    "Cedar", "Granite", "Maple", "River", "Stone", "Falcon", "Oak", "Lake", "Golden", "Clear",
    "Swift", "True", "Eagle", "Atlas", "Nova", "Vertex", "Apex", "Orchid", "Willow", "Crescent",
    "Sterling", "Beacon", "Horizon", "Meridian", "Juniper", "Cobalt", "Aspen", "Birch", "Coral",
    "Delta",
];

/// Second words of company names.
pub(crate) const NAME_STEMS: [&str; 24] = [
    "wind", "field", "bridge", "point", "gate", "stone", "line", "crest", "wood", "brook", "view",
    "ridge", "path", "light", "works", "haven", "peak", "well", "moor", "ford", "dale", "mark",
    "spring", "shore",
];

/// Industry-flavoured name suffixes, in the order of [`INDUSTRIES`].
pub(crate) const NAME_SUFFIXES: [&[&str]; 12] = [
    &["Software", "Labs", "Technologies", "Systems", "Digital"],
    &["Consulting", "Partners", "Advisory", "Group", "Associates"],
    &["Manufacturing", "Industries", "Components", "Fabrication"],
    &["Capital", "Financial", "Bank", "Insurance", "Wealth"],
    &["Retail", "Stores", "Outfitters", "Market", "Goods"],
    &["Health", "Medical", "Clinics", "Care", "Pharma"],
    &["Academy", "Learning", "School", "University", "Education"],
    &["Media", "Studios", "Publishing", "Productions"],
    &["Logistics", "Freight", "Shipping", "Transport"],
    &["Foundation", "Alliance", "Trust", "Charity"],
    &["Properties", "Realty", "Estates", "Homes"],
    &["Hotels", "Hospitality", "Resorts", "Restaurants"],
];

/// Number of distinct event names.
pub(crate) const N_EVENTS: usize = 17;

/// The product's tracked actions.
pub(crate) const EVENT_NAMES: [&str; N_EVENTS] = [
    "login",
    "task_created",
    "task_completed",
    "comment_added",
    "project_created",
    "template_used",
    "report_viewed",
    "dashboard_viewed",
    "file_uploaded",
    "integration_connected",
    "api_call",
    "automation_run",
    "invite_sent",
    "search_performed",
    "export_csv",
    "settings_changed",
    "goal_updated",
];

/// Index of `integration_connected`, which is planned explicitly rather than
/// drawn, because the planted profile is defined by it.
pub(crate) const EVENT_INTEGRATION_CONNECTED: usize = 9;
/// Index of `api_call`.
pub(crate) const EVENT_API_CALL: usize = 10;
/// Index of `automation_run`.
pub(crate) const EVENT_AUTOMATION_RUN: usize = 11;

/// Events every account uses; the others are adopted per account.
pub(crate) const CORE_EVENTS: [usize; 5] = [0, 1, 2, 3, 13];

/// Events that integrations also create (tasks synced from other tools).
pub(crate) const SYNCABLE_EVENTS: [usize; 5] = [1, 2, 3, 8, 16];

/// Relative frequency of each event per archetype, in the order of
/// [`Archetype::ALL`]; `integration_connected` is zero because it is planned.
pub(crate) const EVENT_WEIGHTS: [[f64; N_EVENTS]; 4] = [
    [
        5.0, 16.0, 14.0, 12.0, 2.0, 3.0, 5.0, 6.0, 5.0, 0.0, 5.0, 5.0, 1.0, 8.0, 1.5, 0.6, 2.5,
    ],
    [
        12.0, 20.0, 14.0, 6.0, 1.5, 1.0, 1.5, 1.5, 2.5, 0.0, 0.3, 0.3, 0.4, 4.0, 0.5, 0.5, 0.5,
    ],
    [
        2.0, 8.0, 6.0, 2.0, 0.6, 0.5, 2.0, 2.5, 1.0, 0.0, 45.0, 22.0, 0.3, 1.5, 2.0, 0.5, 0.5,
    ],
    [
        10.0, 16.0, 12.0, 7.0, 1.5, 1.5, 3.0, 3.0, 3.0, 0.0, 2.0, 1.5, 0.5, 5.0, 1.0, 0.6, 1.0,
    ],
];

/// Probability that an account of each archetype adopts a non-core feature.
pub(crate) const FEATURE_ADOPTION: [f64; 4] = [0.92, 0.18, 0.55, 0.45];

/// Number of sources, not counting a missing one.
pub(crate) const N_SOURCES: usize = 4;

/// The values of the `source` column; index [`N_SOURCES`] stands for NULL.
pub(crate) const SOURCE_NAMES: [&str; N_SOURCES] = ["app", "api", "integration", "mobile"];

/// Index of `app` in [`SOURCE_NAMES`].
pub(crate) const SOURCE_APP: u8 = 0;
/// Index of `api`.
pub(crate) const SOURCE_API: u8 = 1;
/// Index of `integration`.
pub(crate) const SOURCE_INTEGRATION: u8 = 2;
/// Index of `mobile`.
pub(crate) const SOURCE_MOBILE: u8 = 3;
/// Marker for a missing source.
pub(crate) const SOURCE_NULL: u8 = N_SOURCES as u8;

#[cfg(test)]
mod tests {
    use super::*;

    fn check(names: &[&str], expected_len: usize) {
        let mut sorted = names.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), expected_len, "duplicates in {names:?}");
    }

    #[test]
    fn vocabularies_have_no_duplicates() {
        check(&EVENT_NAMES, N_EVENTS);
        check(&ARCHETYPE_NAMES, 4);
        check(&NEED_NAMES, 6);
        check(&INDUSTRIES.map(|(name, _)| name), 12);
        check(&COUNTRIES.map(|(name, _, _)| name), 20);
        check(&CSMS, 10);
        check(&ENTERPRISE_CSMS, 4);
    }

    #[test]
    fn named_indices_point_at_their_names() {
        assert_eq!(
            EVENT_NAMES[EVENT_INTEGRATION_CONNECTED],
            "integration_connected"
        );
        assert_eq!(EVENT_NAMES[EVENT_API_CALL], "api_call");
        assert_eq!(EVENT_NAMES[EVENT_AUTOMATION_RUN], "automation_run");
        assert_eq!(INDUSTRIES[1].0, ICP_INDUSTRY);
        for (archetype, name) in Archetype::ALL.iter().zip(ARCHETYPE_NAMES) {
            assert_eq!(archetype.name(), name);
        }
    }
}
