//! The `[[destination]]` and `schedule` settings of a project, checked:
//! which receivers hear about transitions (webhook, file, digest), how
//! deliveries retry, and the cron schedule. Delivery itself is
//! [`crate::destinations`]; this is configuration only, so the project file
//! can be read without it.
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::error::Problem;

/// One `[[destination]]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDestination {
    /// Unique name (default: the kind, numbered when repeated).
    pub name: Option<String>,
    /// `webhook`, `file` or `digest`.
    pub kind: Option<String>,
    /// Receiver URL (webhook, digest).
    pub url: Option<String>,
    /// Environment variable holding the receiver URL, for URLs that are secrets.
    pub url_env: Option<String>,
    /// Environment variable holding the signing secret (webhook).
    pub secret_env: Option<String>,
    /// How webhook requests are signed: `standard-webhooks` (default) or
    /// `strata-v0` (the older body-only HMAC, for existing receivers).
    pub signature: Option<String>,
    /// Only these segmentations (default: all).
    pub segmentations: Option<Vec<String>>,
    /// Transitions per request (webhook; default 100).
    pub batch_size: Option<usize>,
    /// Attempts before a delivery becomes a dead letter (default 8).
    pub max_attempts: Option<u32>,
    /// First retry delay in milliseconds (default 2000); doubles per attempt.
    pub retry_base_ms: Option<u64>,
    /// Longest retry delay in milliseconds (default 600000).
    pub retry_max_ms: Option<u64>,
    /// Request timeout in milliseconds (default 10000).
    pub timeout_ms: Option<u64>,
    /// Folder for `file` exports and file digests, relative to the project.
    pub path: Option<String>,
    /// `csv` or `ndjson` (file).
    pub format: Option<String>,
    /// Also write the full memberships of each run (file; default true).
    pub memberships: Option<bool>,
    /// Also deliver transitions caused by a definition change (default false).
    pub redefinitions: Option<bool>,
}

/// A validated destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// Unique name; outbox rows refer to it.
    pub name: String,
    /// Only these segmentations; `None` is all.
    pub segmentations: Option<Vec<String>>,
    /// Deliver transitions caused by definition changes too.
    pub redefinitions: bool,
    /// Retries.
    pub retry: RetryPolicy,
    /// Where it goes.
    pub target: Target,
}

impl Destination {
    /// Whether transitions of `segmentation` go here.
    pub fn wants(&self, segmentation: &str) -> bool {
        self.segmentations
            .as_ref()
            .is_none_or(|names| names.iter().any(|name| name == segmentation))
    }

    /// `webhook`, `file` or `digest`.
    pub fn kind(&self) -> &'static str {
        match self.target {
            Target::Webhook { .. } => "webhook",
            Target::File { .. } => "file",
            Target::Digest { .. } => "digest",
        }
    }
}

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a dead letter.
    pub max_attempts: u32,
    /// Delay after the first failure, in milliseconds.
    pub base_ms: u64,
    /// Cap on the delay, in milliseconds.
    pub max_ms: u64,
    /// Request timeout, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_ms: 2_000,
            max_ms: 600_000,
            timeout_ms: 10_000,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempts + 1`, after `attempts` failures:
    /// `base * 2^(attempts-1)`, capped, times a jitter factor in [0.5, 1.5)
    /// so that many failed rows do not all retry in the same instant.
    pub fn backoff_ms(&self, attempts: u32, jitter: f64) -> u64 {
        let exponent = attempts.saturating_sub(1).min(30);
        let delay = self
            .base_ms
            .saturating_mul(1u64 << exponent)
            .min(self.max_ms);
        (delay as f64 * (0.5 + jitter.clamp(0.0, 1.0))) as u64
    }
}

/// Where a destination sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Signed JSON batches over HTTP.
    Webhook {
        /// The receiver.
        url: UrlSource,
        /// Environment variable with the signing secret; unsigned without one.
        secret_env: Option<String>,
        /// How requests are signed.
        signature: SignatureScheme,
        /// Transitions per request.
        batch_size: usize,
    },
    /// Files for a CRM bulk import.
    File {
        /// Folder.
        dir: PathBuf,
        /// CSV or NDJSON.
        format: FileFormat,
        /// Also the full memberships.
        memberships: bool,
    },
    /// Per-owner digests.
    Digest(DigestTarget),
}

/// How webhook requests are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// The Standard Webhooks specification (<https://www.standardwebhooks.com>):
    /// headers `webhook-id`, `webhook-timestamp` and `webhook-signature`
    /// (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under a `whsec_`
    /// secret), so receivers verify with off-the-shelf libraries and reject
    /// replays by the timestamp.
    StandardWebhooks,
    /// `X-Strata-Signature: sha256=<hex HMAC-SHA256 of the body>`: no
    /// timestamp, so a captured request can be replayed forever. Kept for
    /// receivers written against it (`signature = "strata-v0"`).
    StrataV0,
}

/// Where an owner digest goes.
#[derive(Debug, Clone, PartialEq)]
pub enum DigestTarget {
    /// A Slack-compatible incoming webhook (`{"text": ...}`).
    Slack(UrlSource),
    /// One Markdown file per run and owner in a folder.
    Folder(PathBuf),
}

/// A URL written in the file, or the environment variable holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    /// Written in the project file.
    Literal(String),
    /// Read from this environment variable when sending.
    Env(String),
}

/// Export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-separated with a header.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl FileFormat {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Ndjson => "ndjson",
        }
    }
}

/// Reads an environment variable that a destination names, or says which
/// destination needs it. The value is never put in the message.
pub fn env_value(name: &str, destination: &str, key: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(format!(
            "environment variable {name} ({key} of destination `{destination}`) is not set"
        )),
    }
}

/// Checks every `[[destination]]`, collecting all problems.
pub fn validate(
    raw: Vec<RawDestination>,
    segmentations: &[&str],
    dir: &Path,
    origin: &str,
    problems: &mut Vec<Problem>,
) -> Vec<Destination> {
    let mut destinations: Vec<Destination> = Vec::new();
    for (idx, raw) in raw.into_iter().enumerate() {
        let kind = raw.kind.clone().unwrap_or_default();
        let name = raw.name.clone().unwrap_or_else(|| {
            if kind.is_empty() {
                format!("destination-{}", idx + 1)
            } else {
                format!("{kind}-{}", idx + 1)
            }
        });
        let location = format!("{origin}: destination `{name}`");
        let before = problems.len();
        if destinations.iter().any(|d| d.name == name) {
            problems.push(
                Problem::new(&location, "a destination of this name exists already")
                    .with_help("give each [[destination]] its own `name`"),
            );
        }
        if let Some(names) = &raw.segmentations {
            for wanted in names {
                if !segmentations.contains(&wanted.as_str()) {
                    problems.push(
                        Problem::new(&location, format!("unknown segmentation `{wanted}`"))
                            .with_help(format!(
                                "the segmentations are: {}",
                                segmentations.join(", ")
                            )),
                    );
                }
            }
        }
        let defaults = RetryPolicy::default();
        let retry = RetryPolicy {
            max_attempts: raw.max_attempts.unwrap_or(defaults.max_attempts).max(1),
            base_ms: raw.retry_base_ms.unwrap_or(defaults.base_ms),
            max_ms: raw.retry_max_ms.unwrap_or(defaults.max_ms),
            timeout_ms: raw.timeout_ms.unwrap_or(defaults.timeout_ms).max(1),
        };
        let url = url_source(&raw, &location, problems);
        let target = match kind.as_str() {
            "webhook" => {
                reject_keys(
                    &raw,
                    &["path", "format", "memberships"],
                    &location,
                    problems,
                );
                let signature = match raw.signature.as_deref() {
                    None | Some("standard-webhooks") => Some(SignatureScheme::StandardWebhooks),
                    Some("strata-v0") => Some(SignatureScheme::StrataV0),
                    Some(other) => {
                        problems.push(
                            Problem::new(&location, format!("unknown signature `{other}`"))
                                .with_help("use signature = \"standard-webhooks\" (the default) or \"strata-v0\" (body-only HMAC, replayable: only for receivers written against it)"),
                        );
                        None
                    }
                };
                url.zip(signature).map(|(url, signature)| Target::Webhook {
                    url,
                    secret_env: raw.secret_env.clone(),
                    signature,
                    batch_size: raw.batch_size.unwrap_or(100).max(1),
                })
            }
            "file" => {
                reject_keys(
                    &raw,
                    &["url", "url_env", "secret_env", "signature", "batch_size"],
                    &location,
                    problems,
                );
                let format = match raw.format.as_deref() {
                    None | Some("csv") => Some(FileFormat::Csv),
                    Some("ndjson") => Some(FileFormat::Ndjson),
                    Some(other) => {
                        problems.push(
                            Problem::new(&location, format!("unknown format `{other}`"))
                                .with_help("use format = \"csv\" or \"ndjson\""),
                        );
                        None
                    }
                };
                match (&raw.path, format) {
                    (Some(path), Some(format)) => Some(Target::File {
                        dir: dir.join(path),
                        format,
                        memberships: raw.memberships.unwrap_or(true),
                    }),
                    (None, _) => {
                        problems.push(
                            Problem::new(&location, "a file destination needs a `path`").with_help(
                                "add path = \"exports\" (a folder, relative to the project)",
                            ),
                        );
                        None
                    }
                    _ => None,
                }
            }
            "digest" => {
                reject_keys(
                    &raw,
                    &[
                        "format",
                        "memberships",
                        "batch_size",
                        "secret_env",
                        "signature",
                    ],
                    &location,
                    problems,
                );
                match (&raw.path, url) {
                    (Some(path), None) if raw.url.is_none() && raw.url_env.is_none() => {
                        Some(Target::Digest(DigestTarget::Folder(dir.join(path))))
                    }
                    (None, Some(url)) => Some(Target::Digest(DigestTarget::Slack(url))),
                    _ => {
                        problems.push(
                            Problem::new(&location, "a digest needs either `url`/`url_env` (a Slack-compatible webhook) or `path` (a folder)")
                                .with_help("e.g. url_env = \"SLACK_WEBHOOK_URL\""),
                        );
                        None
                    }
                }
            }
            "" => {
                problems.push(
                    Problem::new(&location, "`kind` is missing")
                        .with_help("set kind = \"webhook\", \"file\" or \"digest\""),
                );
                None
            }
            other => {
                problems.push(
                    Problem::new(&location, format!("unknown kind `{other}`"))
                        .with_help("use kind = \"webhook\", \"file\" or \"digest\""),
                );
                None
            }
        };
        if let (Some(target), true) = (target, problems.len() == before) {
            destinations.push(Destination {
                name,
                segmentations: raw.segmentations,
                redefinitions: raw.redefinitions.unwrap_or(false),
                retry,
                target,
            });
        }
    }
    destinations
}

/// `url` or `url_env`; a problem when both are set, and for webhooks when
/// neither is.
fn url_source(
    raw: &RawDestination,
    location: &str,
    problems: &mut Vec<Problem>,
) -> Option<UrlSource> {
    match (&raw.url, &raw.url_env) {
        (Some(_), Some(_)) => {
            problems.push(
                Problem::new(location, "both `url` and `url_env` are set")
                    .with_help("keep `url_env` when the URL carries a token"),
            );
            None
        }
        (Some(url), None) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(
                    Problem::new(location, "the url must start with http:// or https://")
                        .with_help("write url = \"https://host/path\""),
                );
                return None;
            }
            Some(UrlSource::Literal(url.clone()))
        }
        (None, Some(name)) => Some(UrlSource::Env(name.clone())),
        (None, None) => {
            if raw.kind.as_deref() == Some("webhook") {
                problems.push(
                    Problem::new(location, "a webhook needs `url` or `url_env`")
                        .with_help("e.g. url = \"https://example.com/hooks/strata\""),
                );
            }
            None
        }
    }
}

fn reject_keys(raw: &RawDestination, keys: &[&str], location: &str, problems: &mut Vec<Problem>) {
    for key in keys {
        let set = match *key {
            "url" => raw.url.is_some(),
            "url_env" => raw.url_env.is_some(),
            "secret_env" => raw.secret_env.is_some(),
            "signature" => raw.signature.is_some(),
            "batch_size" => raw.batch_size.is_some(),
            "path" => raw.path.is_some(),
            "format" => raw.format.is_some(),
            "memberships" => raw.memberships.is_some(),
            _ => false,
        };
        if set {
            problems.push(
                Problem::new(
                    location,
                    format!(
                        "`{key}` does not apply to a {} destination",
                        raw.kind.as_deref().unwrap_or("")
                    ),
                )
                .with_help("see the destinations reference in the README"),
            );
        }
    }
}

/// A URL with its user info, query and path beyond the host removed, for
/// messages: webhook URLs often carry tokens.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    if scheme.is_empty() {
        host.to_string()
    } else {
        format!("{scheme}://{host}/…")
    }
}

/// A cron schedule (5 fields, UTC).
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    cron: croner::Cron,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Schedule {
    /// Parses a 5-field cron expression.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        if text.split_whitespace().count() != 5 {
            return Err(format!(
                "`{text}` is not a 5-field cron expression (minute hour day month weekday)"
            ));
        }
        let cron = croner::Cron::new(text)
            .parse()
            .map_err(|error| format!("`{text}` is not a cron expression: {error}"))?;
        Ok(Schedule {
            text: text.to_string(),
            cron,
        })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first time strictly after `time` the schedule fires.
    pub fn next_after(&self, time: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&time, false).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_backoff(attempts: u32, jitter: f64, expected: u64) {
        let policy = RetryPolicy {
            max_attempts: 8,
            base_ms: 1000,
            max_ms: 10_000,
            timeout_ms: 1,
        };
        assert_eq!(
            policy.backoff_ms(attempts, jitter),
            expected,
            "attempts {attempts}"
        );
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        check_backoff(1, 0.5, 1000);
        check_backoff(2, 0.5, 2000);
        check_backoff(3, 0.5, 4000);
        check_backoff(5, 0.5, 10_000);
        check_backoff(40, 0.5, 10_000);
        check_backoff(1, 0.0, 500);
        check_backoff(1, 1.0, 1500);
    }

    #[test]
    fn urls_are_redacted() {
        for (url, expected) in [
            (
                "https://hooks.slack.com/services/T0/B0/secret",
                "https://hooks.slack.com/…",
            ),
            (
                "http://user:pw@127.0.0.1:9000/x?token=1",
                "http://127.0.0.1:9000/…",
            ),
            ("example.com/x", "example.com"),
        ] {
            assert_eq!(redact_url(url), expected);
        }
    }

    #[test]
    fn schedules_parse_and_fire() {
        let schedule = Schedule::parse("0 6 * * *").expect("valid");
        let now = DateTime::parse_from_rfc3339("2026-11-24T05:59:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let next = schedule.next_after(now).expect("next");
        assert_eq!(next.to_rfc3339(), "2026-11-24T06:00:00+00:00");
        let next = schedule.next_after(next).expect("next");
        assert_eq!(next.to_rfc3339(), "2026-11-25T06:00:00+00:00");
        assert!(Schedule::parse("0 6 * *").is_err());
        assert!(Schedule::parse("61 6 * * *").is_err());
    }

    fn destinations_of(toml_text: &str) -> (Vec<Destination>, Vec<Problem>) {
        #[derive(Deserialize)]
        struct File {
            destination: Vec<RawDestination>,
        }
        let file: File = toml::from_str(toml_text).expect("toml");
        let mut problems = Vec::new();
        let destinations = validate(
            file.destination,
            &["health", "size"],
            Path::new("/p"),
            "strata.toml",
            &mut problems,
        );
        (destinations, problems)
    }

    #[test]
    fn destinations_validate() {
        let (destinations, problems) = destinations_of(
            r#"
            [[destination]]
            name = "crm"
            kind = "webhook"
            url = "http://127.0.0.1:9000/hook"
            secret_env = "S"
            segmentations = ["health"]
            [[destination]]
            kind = "file"
            path = "exports"
            format = "ndjson"
            [[destination]]
            kind = "digest"
            url_env = "SLACK"
            "#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(destinations.len(), 3);
        assert!(destinations[0].wants("health") && !destinations[0].wants("size"));
        assert!(matches!(
            destinations[0].target,
            Target::Webhook {
                signature: SignatureScheme::StandardWebhooks,
                ..
            }
        ));
        assert_eq!(destinations[1].name, "file-2");
        assert_eq!(
            destinations[1].target,
            Target::File {
                dir: PathBuf::from("/p/exports"),
                format: FileFormat::Ndjson,
                memberships: true
            }
        );
        assert_eq!(
            destinations[2].target,
            Target::Digest(DigestTarget::Slack(UrlSource::Env("SLACK".into())))
        );
    }

    #[test]
    fn bad_destinations_say_what_and_where() {
        let (destinations, problems) = destinations_of(
            r#"
            [[destination]]
            name = "a"
            kind = "webhook"
            [[destination]]
            name = "b"
            kind = "file"
            path = "x"
            format = "xml"
            [[destination]]
            name = "c"
            kind = "webhook"
            url = "ftp://x"
            segmentations = ["helth"]
            [[destination]]
            name = "d"
            kind = "pigeon"
            [[destination]]
            name = "e"
            kind = "webhook"
            url = "http://127.0.0.1:9000/hook"
            signature = "sha1"
            [[destination]]
            name = "f"
            kind = "file"
            path = "x"
            signature = "strata-v0"
            "#,
        );
        assert!(destinations.is_empty());
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let expected = [
            "destination `a`: a webhook needs `url` or `url_env`",
            "destination `b`: unknown format `xml`",
            "destination `c`: unknown segmentation `helth`",
            "destination `c`: the url must start with http:// or https://",
            "destination `d`: unknown kind `pigeon`",
            "destination `e`: unknown signature `sha1`",
            "destination `f`: `signature` does not apply to a file destination",
        ];
        for wanted in expected {
            assert!(
                text.iter().any(|t| t.contains(wanted)),
                "missing {wanted} in {text:#?}"
            );
        }
    }
}
