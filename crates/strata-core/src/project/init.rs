//! `strata init`: find the four tables in a folder and write a commented
//! project file with the segmentations a SaaS team would start from.
//!
//! The template is plain text rather than serialized TOML so that every
//! default can carry the comment explaining it.
use std::path::{Path, PathBuf};

use super::{Format, TableKind};
use crate::error::{Error, Problem, Result};

/// A table found in a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedSource {
    /// Which table the file holds.
    pub kind: TableKind,
    /// Path relative to the project folder, with `/` separators.
    pub relative_path: String,
    /// File format.
    pub format: Format,
}

/// Words in a file name that identify each table.
fn table_words(kind: TableKind) -> &'static [&'static str] {
    match kind {
        TableKind::Accounts => &["accounts", "account", "customers", "companies"],
        TableKind::Events => &["events", "event", "usage", "tracks"],
        TableKind::Revenue => &["revenue", "mrr", "billing", "subscriptions"],
        TableKind::Feedback => &["feedback", "nps", "surveys", "tickets"],
    }
}

/// Looks for the tables in `dir` and in `dir/data`, by file name and format.
///
/// Fails when accounts or events cannot be found, listing what was seen.
pub fn detect_sources(dir: &Path) -> Result<Vec<DetectedSource>> {
    let mut candidates: Vec<(String, PathBuf)> = Vec::new();
    for (prefix, folder) in [("", dir.to_path_buf()), ("data/", dir.join("data"))] {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        // Files, and folders of files (an events folder that gains a file a day).
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().is_file() || entry.path().is_dir())
            .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
            .filter(|name| !name.starts_with('.'))
            .collect();
        names.sort();
        for name in names {
            candidates.push((format!("{prefix}{name}"), folder.join(&name)));
        }
    }
    if !dir.is_dir() {
        return Err(Error::invalid(
            Problem::new(dir.display().to_string(), "folder not found")
                .with_help("pass the folder that holds accounts and events files"),
        ));
    }
    let mut detected = Vec::new();
    for kind in TableKind::ALL {
        let found = candidates.iter().find_map(|(relative, path)| {
            let format = if path.is_dir() {
                // Only events may be a folder.
                (kind == TableKind::Events)
                    .then(|| super::folder_format(path))
                    .flatten()?
            } else {
                Format::from_path(path)?
            };
            let stem = path.file_stem()?.to_str()?.to_ascii_lowercase();
            let matches = stem
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| table_words(kind).contains(&word));
            matches.then(|| DetectedSource {
                kind,
                relative_path: relative.clone(),
                format,
            })
        });
        match found {
            Some(source) => detected.push(source),
            None if kind.is_required() => {
                let seen: Vec<&str> = candidates.iter().map(|(r, _)| r.as_str()).collect();
                return Err(Error::invalid(
                    Problem::new(
                        dir.display().to_string(),
                        format!(
                            "no {} table found (seen: {})",
                            kind.name(),
                            if seen.is_empty() {
                                "no files".to_string()
                            } else {
                                seen.join(", ")
                            }
                        ),
                    )
                    .with_help(format!(
                        "name it {}.csv, {}.parquet or {}.ndjson, or write strata.toml by hand",
                        kind.name(),
                        kind.name(),
                        kind.name()
                    )),
                ));
            }
            None => {}
        }
    }
    Ok(detected)
}

/// What `init` reads off the data to write only segmentations whose inputs
/// exist, and the behavioral mix of the events this base actually has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataFacts {
    /// Column names of the accounts table, as loaded.
    pub account_columns: Vec<String>,
    /// Whether a revenue table was found.
    pub revenue: bool,
    /// Feedback rows with a non-empty verbatim (`None`: no feedback table).
    pub feedback_texts: Option<usize>,
    /// Whether the events have a `source` column with values.
    pub event_sources: bool,
    /// The most common event names, most common first (at most [`MIX_EVENTS`]).
    pub top_events: Vec<String>,
}

/// Events whose share of an account's last 90 days the `behavior`
/// clustering reads: the most common ones, as many as `top_events`.
pub const MIX_EVENTS: usize = 15;

/// A default segmentation `init` left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// The segmentation's name.
    pub segmentation: &'static str,
    /// Why, in a user's words.
    pub reason: String,
}

impl DataFacts {
    /// The default segmentations these data cannot feed, with the reason.
    pub fn left_out(&self) -> Vec<LeftOut> {
        let mut left_out = Vec::new();
        if !self.account_columns.iter().any(|c| c == "employees") {
            left_out.push(LeftOut {
                segmentation: "size",
                reason: "the accounts table has no `employees` column".into(),
            });
        }
        if !self.revenue {
            left_out.push(LeftOut {
                segmentation: "acv",
                reason: "there is no revenue table".into(),
            });
        }
        match self.feedback_texts {
            None => left_out.push(LeftOut {
                segmentation: "needs",
                reason: "there is no feedback table".into(),
            }),
            Some(0) => left_out.push(LeftOut {
                segmentation: "needs",
                reason: "the feedback table has no verbatims (`text` is empty in every row)".into(),
            }),
            Some(_) => {}
        }
        left_out
    }
}

/// A TOML string literal.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The custom features and `features` list of the `behavior` clustering:
/// the 90-day share of each common event, the API share, activity and
/// breadth. Returns (`[features]` lines, feature names).
fn behavior_mix(facts: &DataFacts) -> (String, Vec<String>) {
    let mut lines = String::new();
    let mut names: Vec<String> = Vec::new();
    let mut slugs: Vec<String> = Vec::new();
    for event in &facts.top_events {
        let base = crate::catalog::event_feature_name(event);
        let base = base
            .strip_prefix("event_")
            .and_then(|rest| rest.strip_suffix("_28d"))
            .unwrap_or(&base)
            .to_string();
        let mut slug = if base.is_empty() {
            "event".to_string()
        } else {
            base
        };
        if slugs.contains(&slug) {
            let mut n = 2;
            while slugs.contains(&format!("{slug}_{n}")) {
                n += 1;
            }
            slug = format!("{slug}_{n}");
        }
        slugs.push(slug.clone());
        let count = format!("{slug}_90d");
        let share = format!("share_{slug}_90d");
        let filter = format!("event = '{}'", event.replace('\'', "''"));
        lines.push_str(&format!(
            "{count} = {{ count = {}, window_days = 90 }}\n{share} = {{ ratio = [\"{count}\", \"events_90d\"] }}\n",
            toml_string(&filter)
        ));
        names.push(share);
    }
    if facts.event_sources {
        lines.push_str(
            "api_events_90d = { count = \"source IN ('api', 'integration')\", window_days = 90 }\n\
             api_share_90d = { ratio = [\"api_events_90d\", \"events_90d\"] }\n",
        );
        names.push("api_share_90d".into());
    }
    lines.push_str(
        "events_per_active_day_90d = { ratio = [\"events_90d\", \"active_days_90d\"] }\n",
    );
    names.extend(
        [
            "active_days_90d",
            "events_per_active_day_90d",
            "distinct_events_90d",
        ]
        .iter()
        .map(|name| name.to_string()),
    );
    (lines, names)
}

/// Renders a commented project file for the detected sources. With `facts`
/// (read off the data by [`data_facts`]), only segmentations whose inputs
/// exist are written, and the `behavior` clustering reads the mix of this
/// base's own events; without, the file assumes every optional column.
pub fn render_project_file(
    sources: &[DetectedSource],
    as_of: Option<chrono::NaiveDate>,
    facts: Option<&DataFacts>,
) -> String {
    let has = |kind: TableKind| sources.iter().any(|s| s.kind == kind);
    let left_out = facts.map(DataFacts::left_out).unwrap_or_default();
    let keeps = |name: &str| !left_out.iter().any(|l| l.segmentation == name);
    let mix = facts.map(behavior_mix);
    let mut out = String::new();
    out.push_str(
        "# strata project file. Every key is documented in the README (\"Project file reference\").\n\
         # Check it with `strata validate --project .`, run it with `strata run --project . --out out`.\n\n\
         # The day the segmentation describes. Events after it are ignored; windows such as\n\
         # \"last 28 days\" end on it (inclusive). \"latest\" means the last day with events.\n",
    );
    match as_of {
        Some(date) => out.push_str(&format!("as_of = \"{date}\"\n\n")),
        None => out.push_str("as_of = \"latest\"\n\n"),
    }
    out.push_str(
        "# State store for run history, transitions and deliveries: a SQLite file (default\n\
         # .strata/strata.db) or a PostgreSQL URL; store_env = \"NAME\" reads it from the environment.\n\
         # store = \"postgres://strata@db.internal/analytics\"\n\
         # `strata schedule` runs the project on this cron schedule (UTC), here 06:00 daily.\n\
         # schedule = \"0 6 * * *\"\n\n",
    );
    out.push_str(
        "# Where features and segments are computed: \"embedded\" (here, the default) or \"postgres\"\n\
         # (inside the database holding the events; the sources must then be its tables).\n\
         # engine = \"postgres\"\n\n\
         # The tables of DATA.md. A source is a path (format from the extension) or a table:\n\
         #   accounts = { path = \"crm.csv\", format = \"csv\", columns = { account_id = \"id\", created_at = \"signup_date\" } }\n\
         # or a PostgreSQL table, its password in an environment variable (never in the file):\n\
         #   events = { postgres = \"postgres://strata@db:5432/warehouse\", table = \"analytics.events\", password_env = \"STRATA_PG_PASSWORD\" }\n\
         [sources]\n",
    );
    for source in sources {
        out.push_str(&format!(
            "{:<8} = \"{}\"\n",
            source.kind.name(),
            source.relative_path
        ));
    }
    for kind in [TableKind::Revenue, TableKind::Feedback] {
        if !has(kind) {
            out.push_str(&format!(
                "# {} = \"{}.csv\"   # optional; not found in this folder\n",
                kind.name(),
                kind.name()
            ));
        }
    }
    out.push_str(
        "\n[options]\n\
         # Events whose account_id is not in accounts are ignored and reported (\"warn\") or fail the run (\"error\").\n\
         unknown_accounts = \"warn\"\n\
         # Per-event count features (event_<name>_28d) for the most common event names.\n\
         top_events = 15\n\
         # The adoption features (active_days_first_Nd, events_first_Nd) look at this many days after signup.\n\
         adoption_days = 30\n\
         # Memory the query engine may use before it spills or fails, e.g. \"4GiB\".\n\
         # memory_limit = \"4GiB\"\n\
         # Clusterings choose k and fit on a seeded sample of this many accounts when there are more;\n\
         # every account is then assigned to its nearest centroid.\n\
         # kmeans_sample = 100000\n\n\
         # Custom features, computed per account from events. A filter is a rule over the\n\
         # event columns (event, source, user_id). Kinds: count, distinct (+ filter), ratio.\n\
         [features]\n\
         # integrations_60d = { count = \"event = 'integration_connected'\", within_days_of_signup = 60 }\n\
         # templates_28d    = { count = \"event = 'template_used'\", window_days = 28 }\n\
         # report_users_28d = { distinct = \"user_id\", filter = \"event = 'report_viewed'\", window_days = 28 }\n\
         # events_per_user  = { ratio = [\"events_28d\", \"users_28d\"] }\n",
    );
    if let Some((lines, _)) = &mix {
        out.push_str(
            "# The behavior mix the `behavior` clustering reads, written by `strata init` from the\n\
             # most common events of this data: each share_* is that event's share of the account's\n\
             # events in the last 90 days.\n",
        );
        out.push_str(lines);
    }
    out.push('\n');
    if !left_out.is_empty() {
        out.push_str("# Left out by `strata init`, as these data cannot feed them:\n");
        for item in &left_out {
            out.push_str(&format!("#   {}: {}\n", item.segmentation, item.reason));
        }
        out.push('\n');
    }
    out.push_str(
        "# Segmentations: each account lands in the first segment whose rule matches,\n\
         # or in none (\"unassigned\") when no rule matches. Rules are SQL-like conditions\n\
         # over account columns and features: see `strata features --project .`.\n\n",
    );
    if keeps("size") {
        out.push_str(
        "# Firmographic: company size by employee count. Accounts without a count are unassigned.\n\
         [[segmentation]]\n\
         name = \"size\"\n\
         kind = \"rules\"\n\
         segments = [\n\
         \x20 { name = \"SMB\",        when = \"employees < 200\" },\n\
         \x20 { name = \"Mid-Market\", when = \"employees BETWEEN 200 AND 1000\" },\n\
         \x20 { name = \"Enterprise\", when = \"employees > 1000\" },\n\
         ]\n\n",
        );
    }
    if has(TableKind::Revenue) && keeps("acv") {
        out.push_str(
            "# Value: annual contract value tier from ARR (12 x the as-of month's MRR).\n\
             [[segmentation]]\n\
             name = \"acv\"\n\
             kind = \"rules\"\n\
             segments = [\n\
             \x20 { name = \"non-paying\", when = \"arr IS NULL OR arr = 0\" },\n\
             \x20 { name = \"<5k\",        when = \"arr < 5000\" },\n\
             \x20 { name = \"5k-15k\",     when = \"arr < 15000\" },\n\
             \x20 { name = \"15k-50k\",    when = \"arr <= 50000\" },\n\
             \x20 { name = \">50k\",       when = \"arr > 50000\" },\n\
             ]\n\n",
        );
    }
    out.push_str(
        "# Behavioral: usage pattern over the last 28 days. Order matters: dormant first\n\
         # (no recent activity), then at-risk (usage falling to under 70% of the 28 days\n\
         # before), then power users (most days, broad feature use), then everyone else.\n\
         [[segmentation]]\n\
         name = \"usage\"\n\
         kind = \"rules\"\n\
         segments = [\n\
         \x20 { name = \"dormant\", when = \"days_since_last_event IS NULL OR days_since_last_event > 30\" },\n\
         \x20 { name = \"at-risk\", when = \"trend_28d < 0.7\" },\n\
         \x20 { name = \"power\",   when = \"active_days_28d >= 15 AND distinct_events_28d >= 8\" },\n\
         \x20 { name = \"core\",    when = \"TRUE\" },\n\
         ]\n\n",
    );
    out.push_str(&behavior_block(
        mix.as_ref().map(|(_, names)| names.as_slice()),
    ));
    out.push_str(
        "# Health, for customer success: a scorecard (README, \"Scorecards\"). Each measure\n\
         # earns full credit in its green band, half in yellow, none otherwise; the score is\n\
         # the weighted credit out of 100 and its grade is the segment: healthy (80+) when\n\
         # every measure is green but at most one yellow. A measure without a value (no trend\n\
         # without activity in the 28 days before) is N/A: its weight goes to the others and\n\
         # the explanation says so. Every score is explained measure by measure\n\
         # in segments.json, GET /v1/accounts/{id}/scores and the transitions. Check that it\n\
         # predicts churn with `strata backtest --segmentation health`; a run warns when\n\
         # at-risk stops churning more than healthy.\n\
         [[segmentation]]\n\
         name = \"health\"\n\
         kind = \"score\"\n\
         grades = [ { name = \"healthy\", min = 80 }, { name = \"watch\", min = 50 }, { name = \"at-risk\", min = 0 } ]\n\
         measures = [\n\
         \x20 # Recency: an account never active counts as long gone.\n\
         \x20 { name = \"days since last event\", value = \"COALESCE(days_since_last_event, 9999)\", weight = 40, bands = { green = \"<= 7\", yellow = \"<= 21\" } },\n\
         \x20 # Trend: events in the last 28 days over the 28 days before.\n\
         \x20 { name = \"usage trend\", value = \"trend_28d\", weight = 30, bands = { green = \">= 0.8\", yellow = \">= 0.5\" } },\n\
         \x20 # Activity: distinct active days in the last 28.\n\
         \x20 { name = \"active days\", value = \"active_days_28d\", weight = 30, bands = { green = \">= 8\", yellow = \">= 3\" } },\n\
         \x20 # Learned risk (README, \"Churn risk\"): add a measure on churn_risk, e.g.\n\
         \x20 # { name = \"churn risk\", value = \"churn_risk\", weight = 30, bands = { green = \"< 0.05\", yellow = \"< 0.15\" } },\n\
         ]\n",
    );
    if has(TableKind::Feedback) && keeps("needs") {
        out.push_str(
            "\n# Needs: each account's dominant theme in its feedback verbatims (NPS comments,\n\
             # surveys, tickets), themes found by `strata themes`. Accounts without verbatims\n\
             # are unassigned. Optional: k = 6.\n\
             [[segmentation]]\n\
             name = \"needs\"\n\
             kind = \"themes\"\n",
        );
    }
    out.push_str(
        "\n# Destinations: who hears when accounts change segment (README, \"Destinations\").\n\
         # [[destination]]\n\
         # name = \"crm\"\n\
         # kind = \"webhook\"          # or \"file\" (CSV/NDJSON exports), \"digest\" (per account owner)\n\
         # url = \"https://example.com/hooks/strata\"\n\
         # secret_env = \"STRATA_WEBHOOK_SECRET\"   # HMAC-SHA256 signature of every body\n\
         # segmentations = [\"health\"]\n\
         \n# `strata serve`: the API and dashboard. Without a token it listens on loopback only;\n\
         # each token lives in the environment variable named here, never in this file.\n\
         # [serve]\n\
         # addr = \"0.0.0.0:8080\"\n\
         # [[serve.token]]\n\
         # name = \"product-app\"\n\
         # scope = \"read\"          # or \"admin\" (may also POST /v1/runs)\n\
         # env = \"STRATA_PRODUCT_APP_TOKEN\"\n",
    );
    out
}

/// The rule that sets aside the accounts that stopped or are fading before
/// the `behavior` clustering: no event for 30 days, or a last-28-day event
/// rate under half of the 90-day one.
pub const DORMANT_RULE: &str = "days_since_last_event IS NULL OR days_since_last_event > 30 OR events_28d / 28 < 0.5 * events_90d / 90";

/// The `behavior` clustering: on the mix `features` when known, else on the
/// 28-day defaults.
fn behavior_block(features: Option<&[String]>) -> String {
    let Some(features) = features else {
        // Without the data's own event names: the 28-day defaults.
        return "# Behavioral, discovered: k-means on usage over the last 28 days and recency, k chosen from\n\
                # 2..8 by silhouette and stability, clusters named from their centroids. Explore with\n\
                # `strata discover`; freeze a version as SQL-testable rules with --freeze NAME.\n\
                # Optional: k = 4, weights = { api_share_28d = 2.0 }, seed = 7.\n\
                [[segmentation]]\n\
                name = \"behavior\"\n\
                kind = \"clusters\"\n\
                features = [\"active_days_28d\", \"events_28d\", \"distinct_events_28d\", \"api_share_28d\", \"days_since_last_event\"]\n\
                k = \"auto\"\n\n"
            .to_string();
    };
    let mut out = String::from(
        "# Behavioral, discovered. Accounts that stopped (no event for 30 days) or are fading (their\n\
         # last 28 days' event rate under half their 90-day rate) take the rule segment first; the\n\
         # others are clustered by k-means on what they do: the mix of their events over 90 days,\n\
         # their API share, how many days they are active and how much they do on such a day. k is\n\
         # chosen from 2..8 by silhouette and stability, clusters named from their centroids.\n\
         # Explore with `strata discover`; freeze a version as SQL-testable rules with --freeze NAME.\n\
         # Optional: k = 4, weights = { active_days_90d = 2.0 }, seed = 7.\n\
         [[segmentation]]\n\
         name = \"behavior\"\n\
         kind = \"clusters\"\n",
    );
    out.push_str(&format!(
        "segments = [\n  {{ name = \"Dormant / declining\", when = {} }},\n]\n",
        toml_string(DORMANT_RULE)
    ));
    let quoted: Vec<String> = features.iter().map(|name| toml_string(name)).collect();
    out.push_str(&format!("features = [{}]\n", quoted.join(", ")));
    out.push_str("k = \"auto\"\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_tables_by_name_and_renders_a_valid_project() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        for name in [
            "data/accounts.csv",
            "data/events.parquet",
            "data/mrr_monthly.csv",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let detected = detect_sources(dir.path()).unwrap();
        let summary: Vec<(TableKind, &str)> = detected
            .iter()
            .map(|d| (d.kind, d.relative_path.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (TableKind::Accounts, "data/accounts.csv"),
                (TableKind::Events, "data/events.parquet"),
                (TableKind::Revenue, "data/mrr_monthly.csv"),
            ]
        );
        let text = render_project_file(&detected, None, None);
        let project = crate::project::Project::parse(&text, dir.path(), "strata.toml").unwrap();
        let names: Vec<&str> = project
            .segmentations
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["size", "acv", "usage", "behavior", "health"]);
        // No feedback table here, so no needs segmentation.
    }

    #[test]
    fn missing_events_is_reported_with_what_was_seen() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("accounts.csv"), "x").unwrap();
        let error = detect_sources(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("no events table found (seen: accounts.csv)"),
            "{error}"
        );
    }
}
