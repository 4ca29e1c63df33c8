//! The project file (`strata.toml`): raw serde types turned into a validated
//! [`Project`].
//!
//! Parsing and validation are two steps, as in ripgrep's `LowArgs`→`HiArgs`:
//! [`RawProject`] is exactly what serde read, with every field optional where
//! the file may omit it; [`Project::from_raw`] checks it and collects *every*
//! problem before failing, so a user fixes their file in one go. Rule texts
//! are kept as text here: they are checked later against the feature schema,
//! which depends on the data.
pub mod destination;
pub mod init;
pub mod risk;
pub mod score;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::error::{Error, Problem, Result};

pub use init::{
    DataFacts, DetectedSource, LeftOut, MIX_EVENTS, detect_sources, render_project_file,
};

/// The name of the project file inside a project folder.
pub const PROJECT_FILE: &str = "strata.toml";

/// The project file as written, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    /// `"YYYY-MM-DD"` or `"latest"`.
    pub as_of: Option<String>,
    /// Where the four tables are.
    /// Read as plain values so that a malformed entry gets our own message.
    pub sources: Option<BTreeMap<String, toml::Value>>,
    /// Engine and validation options.
    #[serde(default)]
    pub options: RawOptions,
    /// Declarative custom features.
    #[serde(default)]
    pub features: BTreeMap<String, RawFeature>,
    /// Segmentations, in order.
    #[serde(default, rename = "segmentation")]
    pub segmentations: Vec<RawSegmentation>,
    /// State store: a SQLite path (relative to the project) or a `postgres://` URL.
    pub store: Option<String>,
    /// Name of an environment variable holding the store location, for URLs
    /// with a password.
    pub store_env: Option<String>,
    /// Cron expression (5 fields, UTC) for `strata schedule`.
    pub schedule: Option<String>,
    /// Where transitions are delivered.
    #[serde(default, rename = "destination")]
    pub destinations: Vec<destination::RawDestination>,
    /// `[serve]`: the HTTP server's address and tokens.
    #[serde(default)]
    pub serve: RawServe,
    /// Where features and segments are computed: `"embedded"` (default) or
    /// `"postgres"`. Read as a plain value so that a malformed one gets our
    /// own message.
    pub engine: Option<toml::Value>,
    /// `[risk]`: how `churn_risk` and `expansion_likelihood` are learned.
    pub risk: Option<risk::RawRisk>,
}

/// `[serve]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServe {
    /// `"127.0.0.1:8080"`.
    pub addr: Option<String>,
    /// `[[serve.token]]` entries.
    #[serde(default, rename = "token")]
    pub tokens: Vec<RawToken>,
}

/// One `[[serve.token]]`: a bearer token held in an environment variable.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    /// Who the token is for, shown in logs.
    pub name: Option<String>,
    /// `read` or `admin`.
    pub scope: Option<String>,
    /// The environment variable holding the token.
    pub env: Option<String>,
}

/// What a bearer token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Every GET endpoint and rule previews.
    Read,
    /// Also trigger runs.
    Admin,
}

impl Scope {
    /// `read` or `admin`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// A checked `[[serve.token]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSetting {
    /// Who the token is for.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// The environment variable holding it (read when the server starts).
    pub env: String,
}

/// A checked `[serve]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeSettings {
    /// Address to listen on; `None` is 127.0.0.1:8080.
    pub addr: Option<std::net::SocketAddr>,
    /// Tokens named in the project file.
    pub tokens: Vec<TokenSetting>,
}

/// A source: either a path, or a table with a path, a format and a column mapping.
#[derive(Debug, Clone)]
pub enum RawSource {
    /// `accounts = "data/accounts.csv"`.
    Path(String),
    /// `accounts = { path = "...", format = "csv", columns = { account_id = "id" } }`.
    Table(RawSourceTable),
}

/// The table form of a source: a file, or a PostgreSQL table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSourceTable {
    /// File path, relative to the project folder.
    pub path: Option<String>,
    /// `csv`, `parquet` or `ndjson`; guessed from the extension when absent.
    pub format: Option<String>,
    /// A `postgres://user@host:port/database` URL, without its password.
    pub postgres: Option<String>,
    /// The table in that database, e.g. `crm.accounts`.
    pub table: Option<String>,
    /// Environment variable holding the password [default: `PGPASSWORD`, if set].
    pub password_env: Option<String>,
    /// CSV field delimiter, one character [default: sniffed from the header: `,` `;` tab or `|`].
    pub delimiter: Option<String>,
    /// CSV quote character [default: `"`].
    pub quote: Option<String>,
    /// CSV text encoding, e.g. `utf-8`, `latin1`, `windows-1252`, `utf-16le` [default: `utf-8`].
    pub encoding: Option<String>,
    /// Canonical column name -> column name in the file.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

impl RawSource {
    /// Reads a source from its TOML value, or says what is wrong with it.
    pub fn from_value(value: toml::Value) -> std::result::Result<RawSource, String> {
        match value {
            toml::Value::String(path) => Ok(RawSource::Path(path)),
            toml::Value::Table(table) => toml::Value::Table(table)
                .try_into::<RawSourceTable>()
                .map(RawSource::Table)
                .map_err(|error| error.message().trim().to_string()),
            other => Err(format!(
                "expected a path or a table, found {}",
                other.type_str()
            )),
        }
    }
}

/// `[options]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptions {
    /// `"warn"` (default) or `"error"`: what events of unknown accounts do.
    pub unknown_accounts: Option<String>,
    /// How many of the most common events get a per-event count feature.
    pub top_events: Option<usize>,
    /// Days after signup that the adoption features look at.
    pub adoption_days: Option<u32>,
    /// Memory limit for the query engine, e.g. `"4GiB"`.
    pub memory_limit: Option<String>,
    /// Accounts a clustering fits on (a sample when there are more).
    pub kmeans_sample: Option<usize>,
    /// `"previous"` (default) or `"error"`: what a run does when the as-of
    /// month has no revenue rows yet.
    pub missing_revenue_month: Option<String>,
    /// Whether a run backtests the segmentations that claim risk and
    /// health over the last six months (default true).
    pub backtest_on_run: Option<bool>,
}

/// One `[features]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeature {
    /// Count events matching this rule-language filter (`"TRUE"` for all).
    pub count: Option<String>,
    /// Count distinct values of this event column (`user_id`, `event`, ...).
    pub distinct: Option<String>,
    /// Filter for `distinct`.
    pub filter: Option<String>,
    /// `[numerator, denominator]`: a ratio of two other features.
    pub ratio: Option<Vec<String>>,
    /// Only events in the last N days up to as_of.
    pub window_days: Option<u32>,
    /// Only events in the first N days after the account's signup.
    pub within_days_of_signup: Option<u32>,
    /// Free text shown by `strata features`.
    pub description: Option<String>,
}

/// One `[[segmentation]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSegmentation {
    /// Unique name.
    pub name: Option<String>,
    /// `rules` (the default) or `clusters`.
    pub kind: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Ordered segments for `rules`.
    #[serde(default)]
    pub segments: Vec<RawSegment>,
    /// `rules` frozen from a clustering: the model file they came from, which
    /// `strata discover --check` compares with a fresh fit.
    pub model: Option<String>,
    /// `clusters`: the numeric features to cluster on.
    pub features: Option<Vec<String>>,
    /// `clusters`: `"auto"` or a number of clusters.
    pub k: Option<toml::Value>,
    /// `clusters`: feature -> weight in distances (default 1).
    #[serde(default)]
    pub weights: BTreeMap<String, f64>,
    /// `clusters`: seed of the fit (default 0).
    pub seed: Option<u64>,
    /// `score`: the measures of the scorecard for every account (or for
    /// those no `[[segmentation.scorecard]]` applies to).
    #[serde(default)]
    pub measures: Vec<score::RawMeasure>,
    /// `score`: group -> weight, for `measures`.
    #[serde(default)]
    pub groups: BTreeMap<String, f64>,
    /// `score`: scorecards for parts of the base, first match wins.
    #[serde(default)]
    pub scorecard: Vec<score::RawScorecard>,
    /// `score`: the grades, which are the segments.
    #[serde(default)]
    pub grades: Vec<score::RawGrade>,
}

/// One segment of a `rules` segmentation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSegment {
    /// Segment name.
    pub name: Option<String>,
    /// Rule-language condition.
    pub when: Option<String>,
    /// Free text.
    pub description: Option<String>,
}

/// The as-of date of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// A fixed date.
    Date(NaiveDate),
    /// The last day with events.
    Latest,
}

/// The four input tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TableKind {
    /// One row per account (required).
    Accounts,
    /// Product usage events (required).
    Events,
    /// Monthly recurring revenue (optional).
    Revenue,
    /// NPS, surveys, tickets (optional).
    Feedback,
}

impl TableKind {
    /// All tables, in load order.
    pub const ALL: [TableKind; 4] = [
        TableKind::Accounts,
        TableKind::Events,
        TableKind::Revenue,
        TableKind::Feedback,
    ];

    /// The table's name in the project file.
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Accounts => "accounts",
            TableKind::Events => "events",
            TableKind::Revenue => "revenue",
            TableKind::Feedback => "feedback",
        }
    }

    /// Whether a project must have this table.
    pub fn is_required(self) -> bool {
        matches!(self, TableKind::Accounts | TableKind::Events)
    }

    fn from_name(name: &str) -> Option<TableKind> {
        TableKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// How a CSV file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// The field delimiter; `None` sniffs it from the header line.
    pub delimiter: Option<u8>,
    /// The quote character.
    pub quote: u8,
    /// The text encoding, by its WHATWG label's canonical name (`UTF-8`,
    /// `windows-1252`, `UTF-16LE`, ...).
    pub encoding: &'static str,
}

impl Default for CsvOptions {
    fn default() -> CsvOptions {
        CsvOptions {
            delimiter: None,
            quote: b'"',
            encoding: "UTF-8",
        }
    }
}

/// One ASCII character of a CSV option (`delimiter`, `quote`); `\t` and
/// `tab` name the tab.
fn csv_char(key: &str, text: &str) -> std::result::Result<u8, Problem> {
    let byte = match text {
        "\\t" | "tab" | "\t" => Some(b'\t'),
        _ if text.len() == 1 && text.is_ascii() => text.bytes().next(),
        _ => None,
    };
    match byte {
        Some(byte) if byte != b'\n' && byte != b'\r' => Ok(byte),
        _ => Err(
            Problem::new("", format!("{key} = {text:?} is not one character")).with_help(format!(
                "write one ASCII character, e.g. {key} = \";\" (or \"\\t\" for a tab)"
            )),
        ),
    }
}

impl CsvOptions {
    /// The options of a source table, checked.
    fn from_raw(raw: &RawSourceTable) -> std::result::Result<CsvOptions, Problem> {
        let mut options = CsvOptions::default();
        if let Some(text) = &raw.delimiter {
            options.delimiter = Some(csv_char("delimiter", text)?);
        }
        if let Some(text) = &raw.quote {
            options.quote = csv_char("quote", text)?;
        }
        if let Some(label) = &raw.encoding {
            options.encoding = encoding_name(label).ok_or_else(|| {
                Problem::new("", format!("unknown encoding {label:?}")).with_help(
                    "write utf-8, latin1 (iso-8859-1), windows-1252, utf-16le, utf-16be, shift_jis, gbk, ... (WHATWG encoding labels)",
                )
            })?;
        }
        if options.delimiter.is_some_and(|d| d == options.quote) {
            return Err(
                Problem::new("", "the delimiter and the quote are the same character")
                    .with_help("set different characters for `delimiter` and `quote`"),
            );
        }
        Ok(options)
    }

    /// Whether any option differs from the default.
    pub fn is_default(&self) -> bool {
        *self == CsvOptions::default()
    }
}

/// A file format strata reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Newline-delimited JSON objects.
    NdJson,
}

impl Format {
    /// Guesses the format from a file extension.
    pub fn from_path(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        Format::from_name(&extension)
    }

    fn from_name(name: &str) -> Option<Format> {
        match name {
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            "ndjson" | "jsonl" | "json" => Some(Format::NdJson),
            _ => None,
        }
    }

    /// The format's name as written in the project file.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::NdJson => "ndjson",
        }
    }
}

/// A validated source table.
#[derive(Debug, Clone)]
pub struct Source {
    /// Which table.
    pub kind: TableKind,
    /// Where it is.
    pub location: Location,
    /// Canonical column name -> column name in the file.
    pub columns: BTreeMap<String, String>,
}

/// Where a source's rows are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file.
    File {
        /// Absolute or project-relative path as resolved.
        path: PathBuf,
        /// File format.
        format: Format,
        /// How a CSV file is delimited, quoted and encoded (unused for other formats).
        csv: CsvOptions,
    },
    /// A PostgreSQL table.
    Postgres(PgTable),
}

/// A table in a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTable {
    /// `postgres://user@host:port/database`, without a password.
    pub url: String,
    /// Schema-qualified or bare table name, checked to be identifiers.
    pub table: String,
    /// Environment variable holding the password, if any.
    pub password_env: Option<String>,
}

impl PgTable {
    /// The table name with each part quoted, for SQL text.
    pub fn quoted(&self) -> String {
        self.table
            .split('.')
            .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Whether `other` is in the same database (same URL).
    pub fn same_database(&self, other: &PgTable) -> bool {
        self.url == other.url
    }
}

/// Where features and segments are computed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Engine {
    /// DataFusion in this process (the default).
    #[default]
    Embedded,
    /// Inside the PostgreSQL database that holds the accounts and events.
    Postgres,
    /// The same DataFusion plans on a Ballista cluster, its scheduler at
    /// this `df://host:port` URL.
    Ballista(String),
}

impl Engine {
    /// The engine of a name: `embedded`, `postgres` or `df://host:port` (a
    /// Ballista scheduler).
    pub fn from_name(name: &str) -> std::result::Result<Engine, String> {
        match name {
            "embedded" => Ok(Engine::Embedded),
            "postgres" => Ok(Engine::Postgres),
            url if url.starts_with("df://") => Engine::ballista(url),
            other => Err(format!("unknown engine `{other}`")),
        }
    }

    /// The Ballista engine at `url`, which must be `df://host[:port]`.
    pub fn ballista(url: &str) -> std::result::Result<Engine, String> {
        let rest = url.strip_prefix("df://").unwrap_or_default();
        let (host, port) = rest.split_once(':').unwrap_or((rest, "50050"));
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            || port.parse::<u16>().is_err()
        {
            return Err(format!(
                "`{url}` is not a Ballista scheduler URL; write df://host:port, e.g. df://127.0.0.1:50050"
            ));
        }
        Ok(Engine::Ballista(url.to_string()))
    }

    /// The engine's name.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Embedded => "embedded",
            Engine::Postgres => "postgres",
            Engine::Ballista(_) => "ballista",
        }
    }
}

/// The longest adoption window, in days (`options.adoption_days`).
pub const MAX_ADOPTION_DAYS: u32 = 730;

/// Default of `options.kmeans_sample`.
pub const DEFAULT_KMEANS_SAMPLE: usize = 100_000;

impl Source {
    /// How errors name the source: the file's path, or `postgres table NAME`.
    pub fn label(&self) -> String {
        match &self.location {
            Location::File { path, .. } => path.display().to_string(),
            Location::Postgres(table) => format!("postgres table {}", table.table),
        }
    }

    /// The PostgreSQL table, if the source is one.
    pub fn postgres(&self) -> Option<&PgTable> {
        match &self.location {
            Location::Postgres(table) => Some(table),
            Location::File { .. } => None,
        }
    }

    /// The column in the file holding canonical column `canonical`.
    pub fn file_column<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.columns
            .get(canonical)
            .map(String::as_str)
            .unwrap_or(canonical)
    }
}

/// What a run does when no account has a revenue row for the as-of month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingRevenueMonth {
    /// Measure ARR, NRR, GRR and churn at the last month with revenue rows, and warn.
    #[default]
    Previous,
    /// Fail the run with a message naming the last month with revenue.
    Error,
}

/// What events of accounts missing from `accounts` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownAccounts {
    /// Ignore them and report a warning (the default).
    Warn,
    /// Fail validation.
    Error,
}

/// A validated custom feature.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomFeature {
    /// Feature (column) name.
    pub name: String,
    /// What it computes.
    pub kind: CustomFeatureKind,
    /// Free text.
    pub description: Option<String>,
}

/// The computation behind a custom feature.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomFeatureKind {
    /// Count of events matching `filter` within `window`.
    Count {
        /// Rule-language filter over event columns.
        filter: String,
        /// Which events count.
        window: EventWindow,
    },
    /// Distinct values of an event column among events matching `filter`.
    Distinct {
        /// Event column.
        column: String,
        /// Rule-language filter over event columns.
        filter: String,
        /// Which events count.
        window: EventWindow,
    },
    /// `numerator / denominator`, NULL when the denominator is 0 or NULL.
    Ratio {
        /// Feature name.
        numerator: String,
        /// Feature name.
        denominator: String,
    },
}

impl CustomFeatureKind {
    /// For counts and distinct counts: the event filter, the window and the
    /// distinct column (`None` for counts); `None` for ratios.
    pub fn event_aggregate(&self) -> Option<(&str, EventWindow, Option<&str>)> {
        match self {
            CustomFeatureKind::Count { filter, window } => Some((filter, *window, None)),
            CustomFeatureKind::Distinct {
                column,
                filter,
                window,
            } => Some((filter, *window, Some(column))),
            CustomFeatureKind::Ratio { .. } => None,
        }
    }
}

/// Which events a custom feature looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventWindow {
    /// All history before the end of the as-of day.
    AllHistory,
    /// The last N days up to and including the as-of day.
    LastDays(u32),
    /// The first N days after signup (and before the end of the as-of day).
    DaysAfterSignup(u32),
}

/// A validated segmentation.
#[derive(Debug, Clone)]
pub struct Segmentation {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// How membership is decided.
    pub kind: SegmentationKind,
}

/// How a segmentation assigns accounts.
#[derive(Debug, Clone)]
pub enum SegmentationKind {
    /// Ordered rules; the first match wins.
    Rules {
        /// Segments in priority order.
        segments: Vec<SegmentDef>,
        /// The model file the rules were frozen from, relative to the project folder.
        model: Option<PathBuf>,
    },
    /// k-means on behavioral features.
    Clusters(ClusterDef),
    /// Each account's dominant needs theme in its feedback verbatims.
    Themes {
        /// Number of themes; `None` chooses from 2..=8.
        k: Option<usize>,
    },
    /// Scorecards of weighted measures; the grades are the segments.
    Score(score::ScoreDef),
}

impl SegmentationKind {
    /// The kind's name as written in the project file.
    pub fn name(&self) -> &'static str {
        match self {
            SegmentationKind::Rules { .. } => "rules",
            SegmentationKind::Clusters(_) => "clusters",
            SegmentationKind::Themes { .. } => "themes",
            SegmentationKind::Score(_) => "score",
        }
    }
}

/// The default features of a `clusters` segmentation: how much, how broadly,
/// through which channel, and how recently an account uses the product. Left
/// out: the 28-day trend (a ratio of two small counts is too noisy to cluster
/// on, and recency carries the decline) and distinct users (they follow
/// company size: clusters should be about behavior, not firmographics).
pub const DEFAULT_CLUSTER_FEATURES: [&str; 5] = [
    "active_days_28d",
    "events_28d",
    "distinct_events_28d",
    "api_share_28d",
    "days_since_last_event",
];

/// The largest `k` a `clusters` segmentation may ask for.
pub const MAX_CLUSTERS: usize = 20;

/// How many clusters to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterCount {
    /// Choose from 2..=8 by silhouette and stability.
    Auto,
    /// Exactly this many.
    Fixed(usize),
}

/// A validated `clusters` segmentation.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterDef {
    /// Rule segments that take their accounts before the clustering (first
    /// match wins, as in a rules segmentation); the remaining accounts are
    /// clustered. Typically the accounts that stopped or are fading, so that
    /// "active vs dormant" does not swallow the behavioral structure.
    pub segments: Vec<SegmentDef>,
    /// Numeric feature names, checked against the feature table later.
    pub features: Vec<String>,
    /// How many clusters.
    pub k: ClusterCount,
    /// One weight per feature, in the order of `features`.
    pub weights: Vec<f64>,
    /// Seed of the fit.
    pub seed: u64,
}

impl ClusterCount {
    /// Reads `k` from the project file or the command line: `"auto"` or a
    /// number in 2..=[`MAX_CLUSTERS`].
    pub fn parse(text: &str) -> std::result::Result<ClusterCount, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("auto") {
            return Ok(ClusterCount::Auto);
        }
        match text.parse::<usize>() {
            Ok(k) if (2..=MAX_CLUSTERS).contains(&k) => Ok(ClusterCount::Fixed(k)),
            Ok(k) => Err(format!("k = {k} is out of range 2..={MAX_CLUSTERS}")),
            Err(_) => Err(format!("`{text}` is neither \"auto\" nor a number")),
        }
    }
}

/// One segment of a rules segmentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDef {
    /// Segment name.
    pub name: String,
    /// Rule text.
    pub when: String,
    /// Free text.
    pub description: Option<String>,
}

/// A validated project.
#[derive(Debug, Clone)]
pub struct Project {
    /// Folder holding the project file; relative paths resolve against it.
    pub dir: PathBuf,
    /// As-of date.
    pub as_of: AsOf,
    /// Sources by table; accounts and events are always present.
    pub sources: BTreeMap<TableKind, Source>,
    /// Events of unknown accounts: warn or fail.
    pub unknown_accounts: UnknownAccounts,
    /// Number of per-event count features.
    pub top_events: usize,
    /// Days after signup for the adoption features.
    pub adoption_days: u32,
    /// Memory limit for the query engine in bytes, if any.
    pub memory_limit: Option<usize>,
    /// Where features and segments are computed.
    pub engine: Engine,
    /// At most this many accounts choose k and fit a clustering (a seeded
    /// sample when there are more); every account is then assigned.
    pub kmeans_sample: usize,
    /// An as-of month without revenue rows: measure the last month that has
    /// them (with a warning), or fail.
    pub missing_revenue_month: MissingRevenueMonth,
    /// Custom features, in name order.
    pub custom_features: Vec<CustomFeature>,
    /// Segmentations, in file order.
    pub segmentations: Vec<Segmentation>,
    /// Where the state store is, as written (a path, a URL, or `env:NAME`);
    /// `None` is the default SQLite file in `.strata/`.
    pub store: Option<StoreSetting>,
    /// When `strata schedule` runs.
    pub schedule: Option<destination::Schedule>,
    /// Where transitions are delivered.
    pub destinations: Vec<destination::Destination>,
    /// `strata serve` settings.
    pub serve: ServeSettings,
    /// Whether a run backtests its claiming segmentations (`options.backtest_on_run`).
    pub backtest_on_run: bool,
    /// How the risk features are learned; `None` when no `[risk]` section
    /// asks for them and no rule reads them.
    pub risk: Option<risk::RiskSettings>,
}

/// The `store` of a project file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSetting {
    /// A path or URL written in the file.
    Location(String),
    /// The name of an environment variable holding one.
    Env(String),
}

/// Canonical columns of each table, and whether each is required.
pub fn table_columns(kind: TableKind) -> &'static [(&'static str, bool)] {
    match kind {
        TableKind::Accounts => &[
            ("account_id", true),
            ("created_at", true),
            ("name", false),
            ("employees", false),
            ("industry", false),
            ("country", false),
            ("plan", false),
            ("owner", false),
        ],
        TableKind::Events => &[
            ("account_id", true),
            ("user_id", false),
            ("event", true),
            ("ts", true),
            ("source", false),
        ],
        TableKind::Revenue => &[("account_id", true), ("month", true), ("mrr", true)],
        TableKind::Feedback => &[
            ("account_id", true),
            ("user_id", false),
            ("ts", true),
            ("channel", true),
            ("score", false),
            ("text", false),
        ],
    }
}

impl Project {
    /// Reads and validates `DIR/strata.toml` (or the file itself when given a file).
    pub fn load(path: &Path) -> Result<Project> {
        let file = if path.is_dir() {
            path.join(PROJECT_FILE)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::invalid(
                    Problem::new(file.display().to_string(), "project file not found")
                        .with_help("run `strata init DIR` to write one for a folder of data"),
                )
            } else {
                Error::io(&file, source)
            }
        })?;
        let dir = file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Project::parse(&text, &dir, &file.display().to_string())
    }

    /// Parses and validates project-file text; `dir` resolves relative paths
    /// and `origin` names the file in errors.
    pub fn parse(text: &str, dir: &Path, origin: &str) -> Result<Project> {
        let raw: RawProject = toml::from_str(text).map_err(|error| {
            let location = match error.span() {
                Some(span) => {
                    let (line, column) = line_col(text, span.start);
                    format!("{origin}:{line}:{column}")
                }
                None => origin.to_string(),
            };
            Error::invalid(
                Problem::new(location, error.message().trim().to_string())
                    .with_help("see the project file reference in the README"),
            )
        })?;
        Project::from_raw(raw, dir, origin)
    }

    /// Validates a [`RawProject`], collecting every problem.
    pub fn from_raw(raw: RawProject, dir: &Path, origin: &str) -> Result<Project> {
        let mut problems = Vec::new();
        let as_of = match raw.as_of.as_deref() {
            None | Some("latest") => AsOf::Latest,
            Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(date) => AsOf::Date(date),
                Err(_) => {
                    problems.push(
                        Problem::new(format!("{origin}: as_of"), format!("`{text}` is not a date"))
                            .with_help("write a date as \"YYYY-MM-DD\", or \"latest\" for the last day with events"),
                    );
                    AsOf::Latest
                }
            },
        };

        let sources = validate_sources(raw.sources.unwrap_or_default(), dir, origin, &mut problems);

        let unknown_accounts = match raw.options.unknown_accounts.as_deref() {
            None | Some("warn") => UnknownAccounts::Warn,
            Some("error") => UnknownAccounts::Error,
            Some(other) => {
                problems.push(
                    Problem::new(
                        format!("{origin}: options.unknown_accounts"),
                        format!("unknown value `{other}`"),
                    )
                    .with_help("use \"warn\" or \"error\""),
                );
                UnknownAccounts::Warn
            }
        };
        let memory_limit = match raw.options.memory_limit.as_deref() {
            None => None,
            Some(text) => match parse_bytes(text) {
                Some(bytes) => Some(bytes),
                None => {
                    problems.push(
                        Problem::new(
                            format!("{origin}: options.memory_limit"),
                            format!("`{text}` is not a size"),
                        )
                        .with_help("write a size such as \"4GiB\" or \"512MiB\""),
                    );
                    None
                }
            },
        };

        let custom_features = validate_features(raw.features, origin, &mut problems);
        let segmentations = validate_segmentations(raw.segmentations, origin, &mut problems);
        let store = match (raw.store, raw.store_env) {
            (Some(_), Some(_)) => {
                problems.push(
                    Problem::new(
                        format!("{origin}: store"),
                        "both `store` and `store_env` are set",
                    )
                    .with_help("keep one: `store_env` for a URL with a password"),
                );
                None
            }
            (Some(location), None) => Some(StoreSetting::Location(location)),
            (None, Some(name)) => Some(StoreSetting::Env(name)),
            (None, None) => None,
        };
        let schedule = raw.schedule.as_deref().and_then(|text| {
            destination::Schedule::parse(text)
                .map_err(|message| {
                    problems.push(
                        Problem::new(format!("{origin}: schedule"), message).with_help(
                            "write 5 cron fields in UTC: minute hour day month weekday, e.g. \"0 6 * * *\" for 06:00 daily",
                        ),
                    );
                })
                .ok()
        });
        let segmentation_names: Vec<&str> = segmentations.iter().map(|s| s.name.as_str()).collect();
        let destinations = destination::validate(
            raw.destinations,
            &segmentation_names,
            dir,
            origin,
            &mut problems,
        );
        let serve = validate_serve(raw.serve, origin, &mut problems);
        let risk = raw
            .risk
            .map(|raw| risk::validate(raw, origin, &mut problems));
        let engine = validate_engine(raw.engine, &sources, origin, &mut problems);
        let missing_revenue_month = match raw.options.missing_revenue_month.as_deref() {
            None | Some("previous") => MissingRevenueMonth::Previous,
            Some("error") => MissingRevenueMonth::Error,
            Some(other) => {
                problems.push(
                    Problem::new(
                        format!("{origin}: options.missing_revenue_month"),
                        format!("unknown value `{other}`"),
                    )
                    .with_help("write \"previous\" (measure the last month with revenue, the default) or \"error\""),
                );
                MissingRevenueMonth::Previous
            }
        };
        if raw.options.kmeans_sample.is_some_and(|n| n < 100) {
            problems.push(
                Problem::new(
                    format!("{origin}: options.kmeans_sample"),
                    "a sample of fewer than 100 accounts cannot choose clusters",
                )
                .with_help("use 10000 or more; the default is 100000"),
            );
        }
        if let Some(days) = raw
            .options
            .adoption_days
            .filter(|days| !(1..=MAX_ADOPTION_DAYS).contains(days))
        {
            problems.push(
                Problem::new(
                    format!("{origin}: options.adoption_days"),
                    format!("an adoption window of {days} days is out of range"),
                )
                .with_help(format!(
                    "use 1 to {MAX_ADOPTION_DAYS} days after signup; the default is 30"
                )),
            );
        }

        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        Ok(Project {
            dir: dir.to_path_buf(),
            as_of,
            sources,
            unknown_accounts,
            top_events: raw.options.top_events.unwrap_or(15),
            adoption_days: raw.options.adoption_days.unwrap_or(30),
            memory_limit,
            engine,
            kmeans_sample: raw.options.kmeans_sample.unwrap_or(DEFAULT_KMEANS_SAMPLE),
            missing_revenue_month,
            custom_features,
            segmentations,
            store,
            schedule,
            destinations,
            serve,
            backtest_on_run: raw.options.backtest_on_run.unwrap_or(true),
            risk,
        }
        .with_risk_when_read())
    }

    /// Learns the risk features with the default settings when a rule or
    /// scorecard reads one and no `[risk]` section says how.
    fn with_risk_when_read(mut self) -> Project {
        if self.risk.is_none() && self.reads_risk() {
            self.risk = Some(risk::RiskSettings::default());
        }
        self
    }

    /// Whether any rule, scorecard measure or clustering feature reads
    /// `churn_risk` or `expansion_likelihood`.
    pub fn reads_risk(&self) -> bool {
        let mut texts: Vec<&str> = Vec::new();
        for segmentation in &self.segmentations {
            match &segmentation.kind {
                SegmentationKind::Rules { segments, .. } => {
                    texts.extend(segments.iter().map(|s| s.when.as_str()));
                }
                SegmentationKind::Clusters(def) => {
                    texts.extend(def.segments.iter().map(|s| s.when.as_str()));
                    texts.extend(def.features.iter().map(String::as_str));
                }
                SegmentationKind::Themes { .. } => {}
                SegmentationKind::Score(def) => {
                    for card in &def.scorecards {
                        texts.extend(card.applies_to.as_deref());
                        texts.extend(card.measures.iter().map(|m| m.value.as_str()));
                    }
                }
            }
        }
        texts.iter().any(|text| {
            crate::rules::parse(text).is_ok_and(|expr| {
                let mut found = false;
                expr.walk(&mut |node| {
                    if let crate::rules::ast::ExprKind::Column(name) = &node.kind {
                        found |= name == risk::CHURN_RISK || name == risk::EXPANSION_LIKELIHOOD;
                    }
                });
                found
            })
        })
    }

    /// The error of a `--segmentation` flag naming no segmentation of the
    /// project, listing those it has.
    pub fn unknown_segmentation(&self, name: &str) -> Error {
        let names: Vec<&str> = self.segmentations.iter().map(|s| s.name.as_str()).collect();
        Error::invalid(
            Problem::new("--segmentation", format!("no segmentation `{name}`"))
                .with_help(format!("the project has: {}", names.join(", "))),
        )
    }

    /// The source of `kind`, if the project has one.
    pub fn source(&self, kind: TableKind) -> Option<&Source> {
        self.sources.get(&kind)
    }

    /// Runs the project on `engine` instead of its own (`--engine`).
    ///
    /// # Errors
    ///
    /// The engine cannot run on the project's sources.
    pub fn with_engine(mut self, engine: Engine) -> Result<Project> {
        let problems = engine_problems(&engine, &self.sources, "--engine");
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        self.engine = engine;
        Ok(self)
    }
}

fn validate_serve(raw: RawServe, origin: &str, problems: &mut Vec<Problem>) -> ServeSettings {
    let addr = raw.addr.as_deref().and_then(|text| {
        text.parse()
            .map_err(|_| {
                problems.push(
                    Problem::new(
                        format!("{origin}: serve.addr"),
                        format!("`{text}` is not an address"),
                    )
                    .with_help("write an IP and a port, e.g. addr = \"127.0.0.1:8080\""),
                );
            })
            .ok()
    });
    let mut tokens: Vec<TokenSetting> = Vec::new();
    for (idx, token) in raw.tokens.into_iter().enumerate() {
        let location = format!("{origin}: serve.token[{}]", idx + 1);
        let name = token.name.unwrap_or_else(|| format!("token {}", idx + 1));
        let scope = match token.scope.as_deref() {
            Some("read") => Some(Scope::Read),
            Some("admin") => Some(Scope::Admin),
            other => {
                problems.push(
                    Problem::new(
                        location.clone(),
                        match other {
                            Some(text) => format!("unknown scope `{text}`"),
                            None => "`scope` is missing".to_string(),
                        },
                    )
                    .with_help("write scope = \"read\" or scope = \"admin\""),
                );
                None
            }
        };
        let env = match token.env {
            Some(env) if !env.trim().is_empty() => Some(env),
            _ => {
                problems.push(
                    Problem::new(location, "`env` is missing").with_help(
                        "name the environment variable that holds the token, e.g. env = \"STRATA_APP_TOKEN\"; tokens are never written in the project file",
                    ),
                );
                None
            }
        };
        if let (Some(scope), Some(env)) = (scope, env) {
            tokens.push(TokenSetting { name, scope, env });
        }
    }
    ServeSettings { addr, tokens }
}

fn validate_sources(
    raw_sources: BTreeMap<String, toml::Value>,
    dir: &Path,
    origin: &str,
    problems: &mut Vec<Problem>,
) -> BTreeMap<TableKind, Source> {
    let mut sources = BTreeMap::new();
    // Tables named in the file, valid or not: a table with a problem of its
    // own is not also reported as missing.
    let named: Vec<String> = raw_sources.keys().cloned().collect();
    for (name, raw) in raw_sources {
        let location = format!("{origin}: sources.{name}");
        let Some(kind) = TableKind::from_name(&name) else {
            problems.push(
                Problem::new(location, format!("unknown table `{name}`"))
                    .with_help("the tables are accounts, events, revenue and feedback"),
            );
            continue;
        };
        let raw = match RawSource::from_value(raw) {
            Ok(raw) => raw,
            Err(message) => {
                problems.push(Problem::new(location, message).with_help(
                    "write a path, e.g. accounts = \"data/accounts.csv\", or a table { path = \"...\", format = \"csv\", columns = { ... } }",
                ));
                continue;
            }
        };
        let (place, columns) = match raw {
            RawSource::Path(path) => match file_location(dir, &path, None, CsvOptions::default()) {
                Ok(place) => (place, BTreeMap::new()),
                Err(problem) => {
                    problems.push(problem.at(location));
                    continue;
                }
            },
            RawSource::Table(table) => {
                let columns = table.columns.clone();
                match table_location(dir, table) {
                    Ok(place) => (place, columns),
                    Err(problem) => {
                        problems.push(problem.at(location));
                        continue;
                    }
                }
            }
        };
        let known: Vec<&str> = table_columns(kind).iter().map(|(name, _)| *name).collect();
        for canonical in columns.keys() {
            if !known.contains(&canonical.as_str()) {
                problems.push(
                    Problem::new(
                        format!("{location}.columns"),
                        format!("`{canonical}` is not a column of the {name} table"),
                    )
                    .with_help(format!("map one of: {}", known.join(", "))),
                );
            }
        }
        sources.insert(
            kind,
            Source {
                kind,
                location: place,
                columns,
            },
        );
    }
    for kind in TableKind::ALL {
        if kind.is_required() && !named.iter().any(|n| n == kind.name()) {
            problems.push(
                Problem::new(
                    format!("{origin}: [sources]"),
                    format!("the required table `{}` is missing", kind.name()),
                )
                .with_help(format!(
                    "add `{} = \"path/to/{}.csv\"` under [sources]",
                    kind.name(),
                    kind.name()
                )),
            );
        }
    }
    sources
}

/// The location of a file source, its format named or guessed.
fn file_location(
    dir: &Path,
    path_text: &str,
    format: Option<&str>,
    csv: CsvOptions,
) -> std::result::Result<Location, Problem> {
    let path = dir.join(path_text);
    let format = match format {
        Some(name) => Format::from_name(&name.to_ascii_lowercase()),
        None => Format::from_path(&path).or_else(|| folder_format(&path)),
    };
    match format {
        Some(format) if format != Format::Csv && !csv.is_default() => Err(Problem::new(
            "",
            format!("`delimiter`, `quote` and `encoding` are for CSV files, and `{path_text}` is {}", format.name()),
        )
        .with_help("drop them, or set format = \"csv\"")),
        Some(format) => Ok(Location::File { path, format, csv }),
        None => Err(Problem::new("", format!("cannot tell the format of `{path_text}`"))
            .with_help("name the file .csv, .parquet or .ndjson, or set format = \"csv\" | \"parquet\" | \"ndjson\"")),
    }
}

/// The format of a folder's files: that of its first file (in name order)
/// whose extension names one.
fn folder_format(dir: &Path) -> Option<Format> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.') && !n.starts_with('_'))
        })
        .collect();
    files.sort();
    files.iter().find_map(|path| Format::from_path(path))
}

/// The location of a source written as a table: `path` (+ `format`), or
/// `postgres` + `table` (+ `password_env`).
fn table_location(dir: &Path, raw: RawSourceTable) -> std::result::Result<Location, Problem> {
    let csv = CsvOptions::from_raw(&raw);
    match (raw.path, raw.postgres) {
        (Some(path), None) => {
            if raw.table.is_some() || raw.password_env.is_some() {
                return Err(Problem::new("", "`table` and `password_env` go with `postgres`, not with `path`")
                    .with_help("drop them, or read the table from PostgreSQL: { postgres = \"postgres://user@host/db\", table = \"schema.table\" }"));
            }
            file_location(dir, &path, raw.format.as_deref(), csv?)
        }
        (None, Some(url)) => {
            if raw.format.is_some() || raw.delimiter.is_some() || raw.quote.is_some() || raw.encoding.is_some() {
                return Err(Problem::new("", "`format`, `delimiter`, `quote` and `encoding` are for files; a PostgreSQL table has its own types")
                    .with_help("drop them"));
            }
            let Some(table) = raw.table else {
                return Err(Problem::new("", "`table` is missing")
                    .with_help("name the table, e.g. table = \"crm.accounts\""));
            };
            if !is_table_name(&table) {
                return Err(Problem::new("", format!("`{table}` is not a table name"))
                    .with_help("write schema.table or table, in letters, digits, `_` and `$`"));
            }
            check_postgres_url(&url)?;
            Ok(Location::Postgres(PgTable {
                url,
                table,
                password_env: raw.password_env.filter(|name| !name.trim().is_empty()),
            }))
        }
        (Some(_), Some(_)) => Err(Problem::new("", "both `path` and `postgres` are set")
            .with_help("a source is a file (`path`) or a PostgreSQL table (`postgres` + `table`)")),
        (None, None) => Err(Problem::new("", "neither `path` nor `postgres` is set").with_help(
            "write { path = \"data/accounts.csv\" } or { postgres = \"postgres://user@host/db\", table = \"crm.accounts\" }",
        )),
    }
}

/// `schema.table` or `table`: identifiers of letters, digits, `_` and `$`.
pub fn is_table_name(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() <= 2
        && parts.iter().all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
}

/// A `postgres://` URL that parses and holds no password.
fn check_postgres_url(url: &str) -> std::result::Result<(), Problem> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(Problem::new("", "`postgres` must be a postgres:// URL")
            .with_help("e.g. postgres = \"postgres://strata@db.internal:5432/warehouse\""));
    }
    let config: tokio_postgres::Config = url.parse().map_err(|error| {
        Problem::new("", format!("`postgres` is not a valid URL: {error}"))
            .with_help("e.g. postgres = \"postgres://strata@db.internal:5432/warehouse\"")
    })?;
    if config.get_password().is_some() {
        return Err(Problem::new("", "the URL holds a password; the project file must not")
            .with_help("remove it from the URL and set password_env = \"NAME\" naming an environment variable that holds it (PGPASSWORD is read by default)"));
    }
    Ok(())
}

/// The engine of the project file, checked against the sources.
fn validate_engine(
    raw: Option<toml::Value>,
    sources: &BTreeMap<TableKind, Source>,
    origin: &str,
    problems: &mut Vec<Problem>,
) -> Engine {
    let location = format!("{origin}: engine");
    let engine = match raw {
        None => Engine::Embedded,
        Some(toml::Value::String(name)) => match Engine::from_name(&name) {
            Ok(engine) => engine,
            Err(message) => {
                problems.push(Problem::new(&location, message).with_help(
                    "write engine = \"embedded\" (the default), \"postgres\", or { ballista = \"df://host:50050\" }",
                ));
                Engine::Embedded
            }
        },
        Some(toml::Value::Table(table)) if table.len() == 1 && table.contains_key("ballista") => {
            match table.get("ballista").and_then(toml::Value::as_str) {
                Some(url) => Engine::ballista(url).unwrap_or_else(|message| {
                    problems.push(Problem::new(&location, message));
                    Engine::Embedded
                }),
                None => {
                    problems.push(
                        Problem::new(&location, "`ballista` must be the scheduler's URL")
                            .with_help("write engine = { ballista = \"df://127.0.0.1:50050\" }"),
                    );
                    Engine::Embedded
                }
            }
        }
        Some(other) => {
            problems.push(
                Problem::new(
                    &location,
                    format!("expected a name or {{ ballista = URL }}, found {}", other.type_str()),
                )
                .with_help("write engine = \"embedded\", \"postgres\", or { ballista = \"df://host:50050\" }"),
            );
            Engine::Embedded
        }
    };
    problems.extend(engine_problems(&engine, sources, &location));
    engine
}

/// What keeps `engine` from running on these sources: the postgres engine
/// needs accounts and events (and revenue, if any) as tables of one database.
pub fn engine_problems(
    engine: &Engine,
    sources: &BTreeMap<TableKind, Source>,
    location: &str,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    if *engine != Engine::Postgres {
        return problems;
    }
    let Some(first) = sources.get(&TableKind::Events).and_then(Source::postgres) else {
        problems.push(
            Problem::new(location, "engine = \"postgres\" needs the events in PostgreSQL")
                .with_help("write events = { postgres = \"postgres://user@host/db\", table = \"schema.events\" } under [sources]"),
        );
        return problems;
    };
    for kind in [TableKind::Accounts, TableKind::Revenue] {
        let Some(source) = sources.get(&kind) else {
            continue;
        };
        match source.postgres() {
            Some(table) if table.same_database(first) => {}
            _ => problems.push(
                Problem::new(
                    location,
                    format!(
                        "engine = \"postgres\" computes in the events' database, and the {} table is not in it",
                        kind.name()
                    ),
                )
                .with_help(format!(
                    "read {} from a table of {} too, or use engine = \"embedded\"",
                    kind.name(),
                    first.url
                )),
            ),
        }
    }
    problems
}

fn validate_features(
    raw_features: BTreeMap<String, RawFeature>,
    origin: &str,
    problems: &mut Vec<Problem>,
) -> Vec<CustomFeature> {
    let mut features = Vec::new();
    for (name, raw) in raw_features {
        let location = format!("{origin}: features.{name}");
        if !is_identifier(&name) {
            problems.push(
                Problem::new(
                    &location,
                    "a feature name must be lowercase letters, digits and _",
                )
                .with_help("rename it, e.g. `integrations_60d`"),
            );
            continue;
        }
        let window = match (raw.window_days, raw.within_days_of_signup) {
            (Some(_), Some(_)) => {
                problems.push(
                    Problem::new(
                        &location,
                        "window_days and within_days_of_signup exclude each other",
                    )
                    .with_help("keep one of them"),
                );
                EventWindow::AllHistory
            }
            (Some(0), None) | (None, Some(0)) => {
                problems.push(Problem::new(
                    &location,
                    "a window of 0 days holds no events",
                ));
                EventWindow::AllHistory
            }
            (Some(days), None) => EventWindow::LastDays(days),
            (None, Some(days)) => EventWindow::DaysAfterSignup(days),
            (None, None) => EventWindow::AllHistory,
        };
        let kinds_given = [
            raw.count.is_some(),
            raw.distinct.is_some(),
            raw.ratio.is_some(),
        ]
        .iter()
        .filter(|given| **given)
        .count();
        if kinds_given != 1 {
            problems.push(
                Problem::new(
                    &location,
                    "a feature needs exactly one of count, distinct or ratio",
                )
                .with_help("e.g. { count = \"event = 'template_used'\", window_days = 28 }"),
            );
            continue;
        }
        let kind = if let Some(filter) = raw.count {
            CustomFeatureKind::Count { filter, window }
        } else if let Some(column) = raw.distinct {
            CustomFeatureKind::Distinct {
                column,
                filter: raw.filter.unwrap_or_else(|| "TRUE".to_string()),
                window,
            }
        } else {
            let ratio = raw.ratio.unwrap_or_default();
            if ratio.len() != 2 {
                problems.push(
                    Problem::new(&location, "ratio takes two feature names")
                        .with_help("e.g. ratio = [\"events_28d\", \"users_28d\"]"),
                );
                continue;
            }
            CustomFeatureKind::Ratio {
                numerator: ratio[0].clone(),
                denominator: ratio[1].clone(),
            }
        };
        features.push(CustomFeature {
            name,
            kind,
            description: raw.description,
        });
    }
    features
}

fn validate_segmentations(
    raw_segmentations: Vec<RawSegmentation>,
    origin: &str,
    problems: &mut Vec<Problem>,
) -> Vec<Segmentation> {
    let mut segmentations: Vec<Segmentation> = Vec::new();
    for (idx, raw) in raw_segmentations.into_iter().enumerate() {
        let Some(name) = raw.name.clone().filter(|name| !name.trim().is_empty()) else {
            problems.push(
                Problem::new(
                    format!("{origin}: segmentation #{}", idx + 1),
                    "missing `name`",
                )
                .with_help("give every [[segmentation]] a unique name"),
            );
            continue;
        };
        let location = format!("{origin}: segmentation `{name}`");
        if segmentations.iter().any(|existing| existing.name == name) {
            problems.push(Problem::new(&location, "duplicate segmentation name"));
            continue;
        }
        let kind = raw.kind.as_deref().unwrap_or("rules");
        let score_fields = [
            ("measures", !raw.measures.is_empty()),
            ("groups", !raw.groups.is_empty()),
            ("scorecard", !raw.scorecard.is_empty()),
            ("grades", !raw.grades.is_empty()),
        ];
        if kind != "score"
            && let Some((field, _)) = score_fields.iter().find(|(_, present)| *present)
        {
            problems.push(
                Problem::new(
                    &location,
                    format!("`{field}` belongs to kind = \"score\", not \"{kind}\""),
                )
                .with_help("set kind = \"score\", or remove the key"),
            );
            continue;
        }
        match kind {
            "rules" => {
                let fields = [
                    ("features", raw.features.is_some()),
                    ("k", raw.k.is_some()),
                    ("weights", !raw.weights.is_empty()),
                    ("seed", raw.seed.is_some()),
                ];
                if let Some((field, _)) = fields.iter().find(|(_, present)| *present) {
                    problems.push(
                        Problem::new(
                            &location,
                            format!("`{field}` belongs to kind = \"clusters\", not \"rules\""),
                        )
                        .with_help("set kind = \"clusters\", or remove the key"),
                    );
                    continue;
                }
            }
            "themes" => {
                let extra = !raw.segments.is_empty()
                    || raw.model.is_some()
                    || raw.features.is_some()
                    || !raw.weights.is_empty()
                    || raw.seed.is_some();
                if extra {
                    problems.push(
                        Problem::new(
                            &location,
                            "a themes segmentation takes only `k` (and `description`)",
                        )
                        .with_help("remove segments, model, features, weights and seed"),
                    );
                    continue;
                }
                let k = match cluster_count(raw.k.as_ref(), &location, problems) {
                    ClusterCount::Auto => None,
                    ClusterCount::Fixed(k) => Some(k),
                };
                segmentations.push(Segmentation {
                    name,
                    description: raw.description,
                    kind: SegmentationKind::Themes { k },
                });
                continue;
            }
            "score" => {
                let extra = !raw.segments.is_empty()
                    || raw.model.is_some()
                    || raw.features.is_some()
                    || raw.k.is_some()
                    || !raw.weights.is_empty()
                    || raw.seed.is_some();
                if extra {
                    problems.push(
                        Problem::new(
                            &location,
                            "a score segmentation takes measures, groups, scorecard and grades",
                        )
                        .with_help("remove segments, model, features, k, weights and seed"),
                    );
                    continue;
                }
                let mut scorecards = raw.scorecard;
                if !raw.measures.is_empty() {
                    scorecards.push(score::RawScorecard {
                        name: Some("default".into()),
                        applies_to: None,
                        groups: raw.groups,
                        measures: raw.measures,
                    });
                } else if !raw.groups.is_empty() {
                    problems.push(
                        Problem::new(&location, "`groups` without `measures`").with_help(
                            "put groups inside each [[segmentation.scorecard]], or add measures",
                        ),
                    );
                    continue;
                }
                if let Some(def) = score::validate(scorecards, raw.grades, &location, problems) {
                    segmentations.push(Segmentation {
                        name,
                        description: raw.description,
                        kind: SegmentationKind::Score(def),
                    });
                }
                continue;
            }
            "clusters" => {
                if let Some(def) = validate_clusters(&raw, &location, problems) {
                    segmentations.push(Segmentation {
                        name,
                        description: raw.description,
                        kind: SegmentationKind::Clusters(def),
                    });
                }
                continue;
            }
            other => {
                problems.push(
                    Problem::new(&location, format!("unknown kind `{other}`"))
                        .with_help("use kind = \"rules\", \"clusters\", \"themes\" or \"score\""),
                );
                continue;
            }
        }
        if raw.segments.is_empty() {
            problems.push(
                Problem::new(&location, "a rules segmentation needs at least one segment")
                    .with_help("add segments = [ { name = \"...\", when = \"...\" } ]"),
            );
            continue;
        }
        let segments = validate_segment_list(raw.segments, &location, problems);
        segmentations.push(Segmentation {
            name,
            description: raw.description,
            kind: SegmentationKind::Rules {
                segments,
                model: raw.model.map(PathBuf::from),
            },
        });
    }
    segmentations
}

/// The segments of a rules segmentation (or the rule segments of a
/// clustering), each with a name and a `when` rule, names unique.
fn validate_segment_list(
    raw_segments: Vec<RawSegment>,
    location: &str,
    problems: &mut Vec<Problem>,
) -> Vec<SegmentDef> {
    let mut segments: Vec<SegmentDef> = Vec::new();
    for (segment_idx, raw_segment) in raw_segments.into_iter().enumerate() {
        let segment_location = format!("{location}, segment #{}", segment_idx + 1);
        let Some(segment_name) = raw_segment.name.filter(|n| !n.trim().is_empty()) else {
            problems.push(Problem::new(segment_location, "missing `name`"));
            continue;
        };
        let Some(when) = raw_segment.when.filter(|w| !w.trim().is_empty()) else {
            problems.push(
                Problem::new(
                    segment_location,
                    format!("segment `{segment_name}` has no `when` rule"),
                )
                .with_help("write a condition, or when = \"TRUE\" for a catch-all"),
            );
            continue;
        };
        if segments.iter().any(|s| s.name == segment_name) {
            problems.push(Problem::new(
                segment_location,
                format!("duplicate segment name `{segment_name}`"),
            ));
            continue;
        }
        segments.push(SegmentDef {
            name: segment_name,
            when,
            description: raw_segment.description,
        });
    }
    segments
}

/// `k` of a clusters or themes segmentation: `"auto"` (or absent) or a number.
fn cluster_count(
    value: Option<&toml::Value>,
    location: &str,
    problems: &mut Vec<Problem>,
) -> ClusterCount {
    let k_help = format!("write k = \"auto\" or a number from 2 to {MAX_CLUSTERS}");
    let k_text = match value {
        None => Ok("auto".to_string()),
        Some(toml::Value::String(text)) => Ok(text.clone()),
        Some(toml::Value::Integer(k)) => Ok(k.to_string()),
        Some(other) => Err(format!(
            "expected \"auto\" or a number, found {}",
            other.type_str()
        )),
    };
    match k_text.and_then(|text| ClusterCount::parse(&text)) {
        Ok(k) => k,
        Err(message) => {
            problems.push(Problem::new(format!("{location}: k"), message).with_help(k_help));
            ClusterCount::Auto
        }
    }
}

fn validate_clusters(
    raw: &RawSegmentation,
    location: &str,
    problems: &mut Vec<Problem>,
) -> Option<ClusterDef> {
    let before = problems.len();
    if raw.model.is_some() {
        problems.push(
            Problem::new(
                location,
                "a clusters segmentation finds its segments itself: it takes no `model`",
            )
            .with_help("remove it, or set kind = \"rules\""),
        );
    }
    // Rule segments first (for instance the accounts that stopped); the
    // rest are clustered.
    let segments = validate_segment_list(raw.segments.clone(), location, problems);
    let features: Vec<String> = match &raw.features {
        None => DEFAULT_CLUSTER_FEATURES
            .iter()
            .map(|f| f.to_string())
            .collect(),
        Some(features) => features.clone(),
    };
    if features.is_empty() {
        problems.push(
            Problem::new(location, "`features` is empty")
                .with_help("list numeric features, or leave `features` out for the default set"),
        );
    }
    for (idx, feature) in features.iter().enumerate() {
        if features[..idx].contains(feature) {
            problems.push(Problem::new(
                location,
                format!("feature `{feature}` is listed twice"),
            ));
        }
    }
    let k = cluster_count(raw.k.as_ref(), location, problems);
    for (feature, weight) in &raw.weights {
        if !features.contains(feature) {
            problems.push(
                Problem::new(
                    format!("{location}: weights"),
                    format!("`{feature}` has a weight but is not in `features`"),
                )
                .with_help(format!("weight one of: {}", features.join(", "))),
            );
        }
        if !weight.is_finite() || *weight < 0.0 {
            problems.push(
                Problem::new(
                    format!("{location}: weights.{feature}"),
                    format!("weight {weight} is not a number >= 0"),
                )
                .with_help("a weight of 2 counts a feature twice; 0 ignores it"),
            );
        }
    }
    let weights: Vec<f64> = features
        .iter()
        .map(|feature| raw.weights.get(feature).copied().unwrap_or(1.0))
        .collect();
    if !weights.is_empty() && weights.iter().all(|&w| w == 0.0) {
        problems.push(Problem::new(
            format!("{location}: weights"),
            "every weight is 0, so nothing is left to cluster on",
        ));
    }
    (problems.len() == before).then(|| ClusterDef {
        segments,
        features,
        k,
        weights,
        seed: raw.seed.unwrap_or(0),
    })
}

/// Reads a project file to add segmentation `name` to it (what `--freeze`
/// and `--save` do): checks the name is usable (`flag` names the option in
/// errors) and free, and returns the project folder and the file's text.
pub fn read_for_new_segmentation(
    project_file: &Path,
    name: &str,
    flag: &str,
) -> Result<(PathBuf, String)> {
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        return Err(Error::invalid(
            Problem::new(flag, format!("`{name}` is not a usable segmentation name")).with_help(
                format!(
                    "use letters, digits, `_` and `-`, e.g. {flag} {}_v1",
                    "segments"
                ),
            ),
        ));
    }
    let dir = project_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let text = std::fs::read_to_string(project_file).map_err(|e| Error::io(project_file, e))?;
    let project = Project::parse(&text, &dir, &project_file.display().to_string())?;
    if project.segmentations.iter().any(|s| s.name == name) {
        return Err(Error::invalid(
            Problem::new(
                project_file.display().to_string(),
                format!("a segmentation named `{name}` already exists"),
            )
            .with_help(
                "save under a new name (e.g. with a version suffix), or remove the old one first",
            ),
        ));
    }
    Ok((dir, text))
}

/// `text` with `block` (one `[[segmentation]]`) appended, checked to parse
/// as a valid project before anything is written.
pub fn append_segmentation(
    project_file: &Path,
    dir: &Path,
    text: &str,
    block: &str,
) -> Result<String> {
    let mut new_text = text.to_string();
    if !new_text.ends_with('\n') {
        new_text.push('\n');
    }
    new_text.push_str(block);
    Project::parse(&new_text, dir, &project_file.display().to_string()).map_err(|error| {
        Error::Internal(format!("the new segmentation does not parse back: {error}"))
    })?;
    Ok(new_text)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Parses sizes such as `4GiB`, `512MiB`, `2GB`, `1000000`.
pub fn parse_bytes(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * multiplier) as usize)
}

/// 1-based line and column (in chars) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The canonical name of an encoding label (`latin1` -> `windows-1252`, as
/// WHATWG maps it), or `None` for a label no encoding has.
pub fn encoding_name(label: &str) -> Option<&'static str> {
    encoding_rs::Encoding::for_label(label.trim().as_bytes()).map(|encoding| encoding.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected_problems: &[&str]) {
        let result = Project::parse(text, Path::new("/p"), "strata.toml");
        match (result, expected_problems.is_empty()) {
            (Ok(_), true) => {}
            (Ok(_), false) => panic!("expected problems {expected_problems:?}, got none"),
            (Err(Error::Invalid(problems)), false) => {
                let rendered: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
                assert_eq!(rendered.len(), expected_problems.len(), "{rendered:#?}");
                for (got, want) in rendered.iter().zip(expected_problems) {
                    assert!(got.contains(want), "`{got}` does not contain `{want}`");
                }
            }
            (Err(other), _) => panic!("unexpected error {other}"),
        }
    }

    const SOURCES: &str = "[sources]\naccounts = \"a.csv\"\nevents = \"e.parquet\"\n";

    #[test]
    fn validation_collects_every_problem() {
        check(SOURCES, &[]);
        check(&format!("as_of = \"2026-10-31\"\n{SOURCES}"), &[]);
        check(
            &format!("as_of = \"31/10/2026\"\n{SOURCES}"),
            &["`31/10/2026` is not a date"],
        );
        check(
            "[sources]\naccounts = \"a.csv\"\n",
            &["required table `events` is missing"],
        );
        check(
            "[sources]\naccounts = \"a.txt\"\nevents = \"e.parquet\"\nusers = \"u.csv\"\n",
            &["cannot tell the format of `a.txt`", "unknown table `users`"],
        );
        check(
            &format!(
                "{SOURCES}[[segmentation]]\nname = \"s\"\nsegments = [{{ name = \"a\" }}, {{ name = \"a\", when = \"TRUE\" }}]\n"
            ),
            &["segment `a` has no `when` rule"],
        );
        check(
            &format!("{SOURCES}[[segmentation]]\nname = \"s\"\nkind = \"magic\"\n"),
            &["unknown kind `magic`"],
        );
        check(
            &format!(
                "{SOURCES}[features]\nx = {{ count = \"TRUE\", window_days = 7, within_days_of_signup = 3 }}\ny = {{ ratio = [\"a\"] }}\n"
            ),
            &["exclude each other", "ratio takes two feature names"],
        );
        check(
            &format!("bogus = 1\n{SOURCES}"),
            &["strata.toml:1:1: unknown field `bogus`"],
        );
        check(
            &format!("{SOURCES}bogus = 1\n"),
            &["sources.bogus: unknown table `bogus`"],
        );
        check(
            "[sources]\naccounts = 3\nevents = { path = \"e.csv\", fromat = \"csv\" }\n",
            &[
                "sources.accounts: expected a path or a table, found integer",
                "sources.events: unknown field `fromat`",
            ],
        );
        check(
            "[sources]\naccounts = { path = \"a.csv\", columns = { acount_id = \"id\" } }\nevents = \"e.csv\"\n",
            &["`acount_id` is not a column of the accounts table"],
        );
        check(
            &format!("{SOURCES}[options]\nadoption_days = 0\nkmeans_sample = 10\n"),
            &[
                "fewer than 100 accounts cannot choose clusters",
                "an adoption window of 0 days is out of range",
            ],
        );
        check(
            &format!("{SOURCES}[options]\nadoption_days = 731\n"),
            &["options.adoption_days: an adoption window of 731 days is out of range"],
        );
        check(&format!("{SOURCES}[options]\nadoption_days = 730\n"), &[]);
    }

    #[test]
    fn parse_bytes_units() {
        for (text, expected) in [
            ("1024", Some(1024)),
            ("4GiB", Some(4 << 30)),
            ("512MiB", Some(512 << 20)),
            ("1.5k", Some(1536)),
            ("lots", None),
            ("3 parsecs", None),
        ] {
            assert_eq!(parse_bytes(text), expected, "{text}");
        }
    }
}
