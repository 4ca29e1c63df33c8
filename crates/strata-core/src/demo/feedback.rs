//! NPS answers, survey verbatims and support tickets of the demo accounts.
//!
//! Scores follow the archetype (power and integration users promote, fading
//! accounts detract) so that NPS differs between good segments and bad ones.
//! Texts are built from templates per need theme, each with several wordings
//! and synonyms, so that the theme of a verbatim can be recovered by text
//! clustering while no two accounts read exactly alike. Most of an account's
//! texts are about its dominant need, recorded in `truth.csv`.
use rand::rngs::StdRng;

use super::accounts::AccountPlan;
use super::calendar::Calendar;
use super::catalog::{Archetype, Need};
use super::sampling::{
    Stage, account_rng, integer_between, pick, poisson, standard_normal, uniform,
};

/// Share of an account's texts that are about its dominant need.
const DOMINANT_NEED_SHARE: f64 = 0.7;

/// The feedback channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Channel {
    /// A 0-10 likelihood-to-recommend answer, sometimes with a comment.
    Nps,
    /// A free-text survey answer.
    Survey,
    /// A support ticket.
    Ticket,
}

impl Channel {
    /// The name written to `feedback.csv`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Channel::Nps => "nps",
            Channel::Survey => "survey",
            Channel::Ticket => "ticket",
        }
    }
}

/// One row of `feedback.csv`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FeedbackRow {
    /// Day of the answer, in days since 1970-01-01.
    pub(crate) day: i32,
    /// Second of that day, UTC.
    pub(crate) second: u32,
    /// Channel.
    pub(crate) channel: Channel,
    /// Index of the answering user, if known.
    pub(crate) user_idx: Option<u32>,
    /// NPS score 0..=10, for NPS answers.
    pub(crate) score: Option<u8>,
    /// Verbatim text, if any.
    pub(crate) text: Option<String>,
    /// The need the text is about (hidden truth).
    pub(crate) need: Need,
}

/// Words and sentences of one need theme. Templates refer to the slot lists
/// as `{0}`, `{1}` and `{2}`; each slot is filled with a random synonym.
struct Theme {
    slots: [&'static [&'static str]; 3],
    requests: &'static [&'static str],
    problems: &'static [&'static str],
}

/// The themes, in the order of [`Need::ALL`].
const THEMES: [Theme; 6] = [
    Theme {
        slots: [
            &["reports", "dashboards", "analytics", "charts", "reporting"],
            &[
                "custom",
                "scheduled",
                "exportable",
                "per-project",
                "cross-team",
            ],
            &[
                "our leadership",
                "the exec team",
                "our clients",
                "management",
                "the board",
            ],
        ],
        requests: &[
            "We need {1} {0} we can share with {2}.",
            "Please add {1} {0}; pulling numbers for {2} takes hours.",
            "Would love better {0}, especially {1} ones for {2}.",
            "The {0} are too basic, we want {1} views and drill-downs.",
            "Missing {1} {0} is the main gap for us.",
            "Give us {1} {0} so {2} can track progress without asking.",
        ],
        problems: &[
            "Report export fails when I filter {0} by date range.",
            "{0} show different totals than the task list, please check the numbers.",
            "Dashboard widgets don't refresh, {2} is seeing stale {0}.",
            "Cannot build {1} {0}, the filter options are too limited.",
            "The \"Export\" button on {0} does nothing.",
        ],
    },
    Theme {
        slots: [
            &[
                "Salesforce",
                "Slack",
                "HubSpot",
                "Jira",
                "Google Drive",
                "Zapier",
                "Microsoft Teams",
            ],
            &["API", "webhooks", "REST API", "integration", "sync"],
            &[
                "rate limits",
                "field mapping",
                "two-way sync",
                "API docs",
                "token handling",
            ],
        ],
        requests: &[
            "A native {0} integration would save us a lot of manual work.",
            "We rely on the {1} heavily, please improve {2}.",
            "Need two-way sync with {0} and better {2}.",
            "The {1} is great but {2} holds us back.",
            "Please support {0} {1} events out of the box.",
            "Connecting {0} should not need a developer; the {1} setup is fiddly.",
        ],
        problems: &[
            "{0} sync stopped working after the last update.",
            "Our {1} calls are being throttled, we hit the rate limits daily.",
            "Webhook deliveries to {0} fail intermittently.",
            "The {0} integration duplicates tasks on every sync.",
            "Getting 401 errors from the {1}, tokens expire too quickly.",
        ],
    },
    Theme {
        slots: [
            &["price", "pricing", "cost", "bill", "invoice"],
            &["per-seat", "annual", "monthly", "enterprise tier", "add-on"],
            &["budget", "finance team", "procurement", "CFO", "renewal"],
        ],
        requests: &[
            "The {1} {0} is hard to justify to our {2}.",
            "Too expensive for a team our size, a cheaper {1} plan would help.",
            "Please offer {1} billing that fits our {2}.",
            "The {0} went up at {2} and nobody told us why.",
            "We pay for seats we don't use, {1} {0} should be more flexible.",
            "Hard to predict the {0}; our {2} wants a fixed {1} price.",
        ],
        problems: &[
            "We were charged twice on our last {0}.",
            "The {0} shows the wrong number of seats.",
            "Need a corrected {0} with our VAT number for {2}.",
            "Downgrade to {1} billing is not reflected on the {0}.",
            "Card payment failed but the {0} says paid.",
        ],
    },
    Theme {
        slots: [
            &["slow", "sluggish", "laggy", "very slow", "unresponsive"],
            &[
                "board view",
                "project page",
                "search",
                "timeline",
                "mobile app",
            ],
            &[
                "large projects",
                "big boards",
                "thousands of tasks",
                "peak hours",
                "Monday mornings",
            ],
        ],
        requests: &[
            "The {1} is {0} with {2}, speed is our biggest concern.",
            "Please make it faster, everything feels {0} on {2}.",
            "Performance on {2} needs work, the {1} is {0}.",
            "Loading times are {0}, especially the {1}.",
            "Great features but the {1} gets {0} with {2}.",
            "Speed up the {1}; it is {0} and people give up waiting.",
        ],
        problems: &[
            "The {1} takes over 30 seconds to load with {2}.",
            "App is {0} and times out during {2}.",
            "The {1} freezes when scrolling through {2}.",
            "Page load is {0} since yesterday, the {1} keeps spinning.",
            "Timeouts on the {1} during {2}.",
        ],
    },
    Theme {
        slots: [
            &[
                "confusing",
                "hard to learn",
                "not intuitive",
                "overwhelming",
                "complicated",
            ],
            &[
                "new hires",
                "new team members",
                "our non-technical staff",
                "first-time users",
                "guests",
            ],
            &[
                "setup",
                "onboarding",
                "getting started",
                "training material",
                "tutorial",
            ],
        ],
        requests: &[
            "The interface is {0} for {1}, better {2} would help.",
            "We need a guided {2} for {1}.",
            "Took weeks to get {1} comfortable, the app is {0}.",
            "More templates and {2} videos please, it is {0} at first.",
            "Ease of use matters most to us and it is still {0}.",
            "Simplify the {2}; {1} find the navigation {0}.",
        ],
        problems: &[
            "How do I set up a project for {1}? The {2} guide is {0}.",
            "Can't figure out how to invite {1}, the settings are {0}.",
            "The {2} checklist is stuck and won't complete.",
            "Need help with {2}, the docs are {0}.",
            "Our {1} keep getting lost in the navigation.",
        ],
    },
    Theme {
        slots: [
            &[
                "SSO",
                "SAML single sign-on",
                "Okta login",
                "Azure AD login",
                "two-factor authentication",
            ],
            &[
                "permissions",
                "role-based access",
                "admin controls",
                "access rights",
                "guest permissions",
            ],
            &[
                "audit log",
                "security review",
                "compliance team",
                "SOC 2 audit",
                "data retention policy",
            ],
        ],
        requests: &[
            "We need {0} before we can roll out to the whole company.",
            "Granular {1} are a must for us, and our {2} depends on it.",
            "Our {2} requires {0} and proper {1}.",
            "Please add {1} per project, guests can see too much.",
            "Enforcing {0} for all users is the top request from IT.",
            "Without {0} and tighter {1} we fail the {2}.",
        ],
        problems: &[
            "{0} is failing for some users with an invalid assertion.",
            "A guest could see a private project, please review {1}.",
            "Need an export of the {2} records for our auditors.",
            "Users are not deprovisioned from {0} automatically.",
            "Cannot restrict {1} for contractors.",
        ],
    },
];

/// Openings of NPS comments by score band.
const PROMOTER_OPENINGS: [&str; 5] = [
    "Great product.",
    "Love it.",
    "Our team relies on it every day.",
    "Very happy overall.",
    "Best tool we adopted this year.",
];
const PASSIVE_OPENINGS: [&str; 5] = [
    "It does the job.",
    "Good, but there is room to improve.",
    "Mostly fine.",
    "Decent tool.",
    "OK overall.",
];
const DETRACTOR_OPENINGS: [&str; 5] = [
    "Frustrating lately.",
    "We are considering alternatives.",
    "Not happy.",
    "Disappointed.",
    "Hard to recommend right now.",
];

/// Openings and closings that make tickets read like tickets.
const TICKET_OPENINGS: [&str; 5] = ["", "", "Hi team, ", "Urgent: ", "Hello, "];
const TICKET_CLOSINGS: [&str; 4] = ["", "", " Thanks.", " Can someone look into this?"];

/// The feedback of one account, ordered by time.
pub(crate) fn generate_feedback(
    account: &AccountPlan,
    seed: u64,
    calendar: &Calendar,
) -> Vec<FeedbackRow> {
    let mut rng = account_rng(seed, Stage::Feedback, account.account_idx);
    let first_day = account.first_event_day(calendar);
    let mut last_day = calendar.as_of_day;
    if let Some(stop_day) = account
        .dormancy
        .as_ref()
        .and_then(|dormancy| dormancy.stop_day)
    {
        last_day = last_day.min(stop_day + 10);
    }
    if let Some(period) = account.churn_periods.last()
        && period.end_day.is_none()
    {
        last_day = last_day.min(period.start_day + 30);
    }
    if last_day < first_day {
        return Vec::new();
    }
    let years = f64::from(last_day - first_day + 1) / 365.0;
    let users_factor = f64::from(account.n_users).sqrt();
    let ticket_factor = match account.archetype {
        Archetype::Power => 1.3,
        Archetype::Integration => 1.2,
        Archetype::Casual => 0.6,
        Archetype::Dormant => 1.0,
    };
    let n_nps = poisson(&mut rng, (0.4 + 0.25 * users_factor) * years);
    let n_surveys = poisson(&mut rng, 0.25 * (1.0 + 0.1 * users_factor) * years);
    let n_tickets = poisson(&mut rng, (0.3 + 0.2 * users_factor) * ticket_factor * years);

    let mut rows = Vec::new();
    let channels = std::iter::repeat_n(Channel::Nps, n_nps as usize)
        .chain(std::iter::repeat_n(Channel::Survey, n_surveys as usize))
        .chain(std::iter::repeat_n(Channel::Ticket, n_tickets as usize));
    for channel in channels {
        let day = integer_between(&mut rng, i64::from(first_day), i64::from(last_day)) as i32;
        let second = working_hours_second(&mut rng, account);
        let user_idx = if channel == Channel::Ticket && uniform(&mut rng) < 0.05 {
            None
        } else {
            Some((uniform(&mut rng) * f64::from(account.n_users.max(1))) as u32)
        };
        let need = draw_text_need(&mut rng, account.need);
        let (score, text) = match channel {
            Channel::Nps => {
                let score = draw_nps_score(&mut rng, account, day);
                let p_comment = if score >= 7 { 0.45 } else { 0.7 };
                let text =
                    (uniform(&mut rng) < p_comment).then(|| nps_comment(&mut rng, need, score));
                (Some(score), text)
            }
            Channel::Survey => (None, Some(survey_answer(&mut rng, need))),
            Channel::Ticket => (None, Some(ticket_text(&mut rng, need))),
        };
        rows.push(FeedbackRow {
            day,
            second,
            channel,
            user_idx,
            score,
            text,
            need,
        });
    }
    rows.sort();
    rows
}

/// A UTC second during the account's local working day.
fn working_hours_second(rng: &mut StdRng, account: &AccountPlan) -> u32 {
    let local_hour = (12.5 + 2.5 * standard_normal(rng)).clamp(7.0, 20.0);
    let utc_second = ((local_hour - account.utc_offset_hours) * 3600.0).floor() as i64;
    utc_second.rem_euclid(86_400) as u32
}

/// The theme of one text: usually the dominant need, otherwise any other.
fn draw_text_need(rng: &mut StdRng, dominant: Need) -> Need {
    if uniform(rng) < DOMINANT_NEED_SHARE {
        return dominant;
    }
    let others: Vec<Need> = Need::ALL
        .iter()
        .copied()
        .filter(|need| *need != dominant)
        .collect();
    pick(rng, &others).copied().unwrap_or(dominant)
}

/// NPS score around the archetype's mean; fading accounts score lower once
/// their decline started, and the planted profile promotes.
fn draw_nps_score(rng: &mut StdRng, account: &AccountPlan, day: i32) -> u8 {
    let is_declining = account
        .dormancy
        .as_ref()
        .is_some_and(|dormancy| day >= dormancy.decline_start_day);
    let (mean, spread) = if account.is_icp {
        (9.1, 0.9)
    } else {
        match account.archetype {
            Archetype::Power => (8.6, 1.3),
            Archetype::Integration => (8.2, 1.5),
            Archetype::Casual => (7.0, 1.9),
            Archetype::Dormant if is_declining => (3.8, 2.2),
            Archetype::Dormant => (5.5, 2.2),
        }
    };
    (mean + spread * standard_normal(rng))
        .round()
        .clamp(0.0, 10.0) as u8
}

/// An NPS comment: an opening that matches the score, then a request.
fn nps_comment(rng: &mut StdRng, need: Need, score: u8) -> String {
    let openings: &[&str] = match score {
        9..=10 => &PROMOTER_OPENINGS,
        7..=8 => &PASSIVE_OPENINGS,
        _ => &DETRACTOR_OPENINGS,
    };
    let opening = pick(rng, openings).copied().unwrap_or("");
    let theme = &THEMES[need as usize];
    let request = fill_template(rng, theme, theme.requests);
    format!("{opening} {request}")
}

/// A survey answer: one or two requests of the theme.
fn survey_answer(rng: &mut StdRng, need: Need) -> String {
    let theme = &THEMES[need as usize];
    let mut answer = fill_template(rng, theme, theme.requests);
    if uniform(rng) < 0.3 {
        answer.push(' ');
        answer.push_str(&fill_template(rng, theme, theme.requests));
    }
    answer
}

/// A support ticket about a problem of the theme.
fn ticket_text(rng: &mut StdRng, need: Need) -> String {
    let theme = &THEMES[need as usize];
    let opening = pick(rng, &TICKET_OPENINGS).copied().unwrap_or("");
    let problem = fill_template(rng, theme, theme.problems);
    let closing = pick(rng, &TICKET_CLOSINGS).copied().unwrap_or("");
    if opening.is_empty() {
        format!("{problem}{closing}")
    } else {
        format!("{opening}{}{closing}", lowercase_first(&problem))
    }
}

/// Picks one template and fills its slots with random synonyms; the first
/// letter is capitalised because a slot may open the sentence.
fn fill_template(rng: &mut StdRng, theme: &Theme, templates: &[&str]) -> String {
    let template = pick(rng, templates).copied().unwrap_or("");
    let mut filled = String::with_capacity(template.len() + 24);
    let mut chars = template.chars().peekable();
    while let Some(current) = chars.next() {
        let slot_idx = match (current, chars.peek()) {
            ('{', Some(digit)) => digit.to_digit(10),
            _ => None,
        };
        let slot = slot_idx.and_then(|slot_idx| theme.slots.get(slot_idx as usize));
        match slot {
            Some(synonyms) => {
                // Skip the digit and the closing brace.
                chars.next();
                chars.next();
                filled.push_str(pick(rng, synonyms).copied().unwrap_or(""));
            }
            None => filled.push(current),
        }
    }
    capitalize_first(&filled)
}

fn capitalize_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Words that keep their capital letter inside a sentence.
const PROPER_NOUNS: [&str; 10] = [
    "Salesforce",
    "Slack",
    "HubSpot",
    "Jira",
    "Google",
    "Zapier",
    "Microsoft",
    "Okta",
    "Azure",
    "SAML",
];

/// Lowercases the first letter unless the first word is a name or an acronym.
fn lowercase_first(text: &str) -> String {
    let first_word = text.split(' ').next().unwrap_or("");
    let is_proper = first_word.chars().nth(1).is_some_and(char::is_uppercase)
        || PROPER_NOUNS.contains(&first_word);
    if is_proper {
        return text.to_string();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::sampling::account_rng;

    fn check(need: Need, expected_words: &[&str]) {
        let mut rng = account_rng(3, Stage::Feedback, 0);
        for _ in 0..200 {
            let texts = [
                survey_answer(&mut rng, need),
                ticket_text(&mut rng, need),
                nps_comment(&mut rng, need, 3),
            ];
            for text in texts {
                assert!(!text.contains('{') && !text.contains('}'), "{text}");
                assert!(
                    text.chars().next().is_some_and(char::is_uppercase),
                    "{text}"
                );
                let theme = &THEMES[need as usize];
                let mentions_theme = theme
                    .slots
                    .iter()
                    .flat_map(|synonyms| synonyms.iter())
                    .chain(expected_words)
                    .any(|word| text.to_lowercase().contains(&word.to_lowercase()));
                assert!(mentions_theme, "{need:?}: {text}");
            }
        }
    }

    #[test]
    fn texts_carry_their_theme_vocabulary() {
        check(Need::Reporting, &["report", "dashboard"]);
        check(Need::Integrations, &["sync", "webhook", "integration"]);
        check(Need::Pricing, &["expensive", "charged", "seats", "payment"]);
        check(Need::Performance, &["faster", "load", "timeouts", "speed"]);
        check(
            Need::Onboarding,
            &["ease of use", "invite", "checklist", "navigation"],
        );
        check(Need::Security, &["guest", "auditors", "restrict"]);
    }
}
