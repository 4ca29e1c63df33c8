//! Sending what the outbox holds.
//!
//! [`deliver`] takes the rows that are due, sends them (webhook batches,
//! files, digests), and records every attempt in one store transaction per
//! pass: delivered, or failed with the next attempt `base * 2^(n-1)` (capped,
//! jittered) later, or dead after `max_attempts`. It keeps going while
//! retries fall due within its `wait`, so a receiver that recovers within
//! that time gets everything in the same call; what is left waits for the
//! next `strata deliver`, `strata run` or scheduled run.
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sha2::Sha256;

use super::{
    Destination, DigestTarget, FileFormat, SignatureScheme, Target, UrlSource, env_value,
    redact_url,
};
use crate::error::Result;
use crate::files::{csv_field, write_file_atomically};
use crate::state::{self, Cause, OutboxRow, OutboxUpdate, Store, Transition};

/// What one destination got in a [`deliver`] call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DestinationReport {
    /// Destination name.
    pub name: String,
    /// Rows delivered in this call.
    pub delivered: usize,
    /// Failed attempts in this call.
    pub failed_attempts: usize,
    /// Rows still pending afterwards.
    pub pending: usize,
    /// Rows dead afterwards.
    pub dead: usize,
    /// The last failure seen, if any.
    pub last_error: Option<String>,
}

/// What a [`deliver`] call did, per destination (including outbox rows of
/// destinations no longer in the project, which are left alone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Per destination, in name order.
    pub destinations: Vec<DestinationReport>,
}

impl DeliveryReport {
    /// Rows delivered in this call.
    pub fn delivered(&self) -> usize {
        self.destinations.iter().map(|d| d.delivered).sum()
    }
    /// Rows still pending.
    pub fn pending(&self) -> usize {
        self.destinations.iter().map(|d| d.pending).sum()
    }
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length, so this never fails.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// HMAC-SHA256 of `body` under `secret`, hex: with `signature =
/// "strata-v0"`, the `X-Strata-Signature` header is `sha256=` followed by this.
pub fn sign(secret: &str, body: &[u8]) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), &[body]))
}

/// The key of a Standard Webhooks secret: `whsec_` followed by base64 (the
/// prefix is optional, as the specification allows).
pub fn standard_webhooks_key(secret: &str) -> std::result::Result<Vec<u8>, String> {
    use base64::Engine as _;
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    match base64::engine::general_purpose::STANDARD.decode(encoded.trim()) {
        Ok(key) if key.len() >= 16 => Ok(key),
        _ => Err(
            "is not a Standard Webhooks secret: expected `whsec_` followed by base64 of \
             24 to 64 random bytes (make one with `echo \"whsec_$(openssl rand -base64 32)\"`), \
             or set signature = \"strata-v0\" for a receiver that checks X-Strata-Signature"
                .to_string(),
        ),
    }
}

/// The Standard Webhooks `webhook-signature` header for one request:
/// `v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`.
pub fn standard_webhooks_signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::Engine as _;
    let timestamp = timestamp.to_string();
    let mac = hmac_sha256(
        key,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac)
    )
}

/// The `webhook-id` of a batch: the same batch (the same transitions) gets
/// the same id on every retry, so it is the receiver's idempotency key for
/// the request, as each transition's `idempotency_key` is for the transition.
pub fn webhook_id(keys: &[&str]) -> String {
    use sha2::Digest as _;
    let mut hasher = Sha256::new();
    for key in keys {
        hasher.update(key.as_bytes());
        hasher.update(b"\n");
    }
    format!("msg_{}", &hex::encode(hasher.finalize())[..32])
}

#[derive(Serialize)]
struct WebhookTransition<'a> {
    idempotency_key: &'a str,
    #[serde(flatten)]
    transition: &'a Transition,
}

/// The JSON body of one webhook batch.
pub fn webhook_body(destination: &str, items: &[(&str, &Transition)]) -> Vec<u8> {
    let transitions: Vec<WebhookTransition<'_>> = items
        .iter()
        .map(|(key, transition)| WebhookTransition {
            idempotency_key: key,
            transition,
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "destination": destination,
        "transitions": transitions,
    }))
    .unwrap_or_default()
}

fn resolve_url(url: &UrlSource, destination: &str) -> std::result::Result<String, String> {
    match url {
        UrlSource::Literal(url) => Ok(url.clone()),
        UrlSource::Env(name) => env_value(name, destination, "url_env"),
    }
}

/// POSTs a JSON body with extra headers; `Ok` on a 2xx status. Errors never
/// hold the URL.
async fn post(
    url: String,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    timeout: Duration,
) -> std::result::Result<(), String> {
    let redacted = redact_url(&url);
    let task = tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .build(),
        );
        let mut request = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("User-Agent", concat!("strata/", env!("CARGO_PKG_VERSION")));
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        match request.send(&body[..]) {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!(
                "receiver answered HTTP {}",
                response.status().as_u16()
            )),
            Err(error) => Err(error.to_string().replace(&url, &redact_url(&url))),
        }
    });
    match task.await {
        Ok(result) => result.map_err(|error| format!("{error} ({redacted})")),
        Err(error) => Err(format!("delivery task failed: {error}")),
    }
}

/// The result of one attempt at a set of rows.
fn attempt_updates(
    rows: &[&OutboxRow],
    outcome: &std::result::Result<(), String>,
    destination: &Destination,
    rng: &mut rand::rngs::StdRng,
) -> Vec<OutboxUpdate> {
    let now = Utc::now();
    rows.iter()
        .map(|row| {
            let attempts = row.attempts + 1;
            match outcome {
                Ok(()) => OutboxUpdate {
                    id: row.id,
                    status: "delivered".into(),
                    attempts,
                    next_attempt_at: row.next_attempt_at.clone(),
                    last_error: None,
                    delivered_at: Some(state::timestamp(now)),
                },
                Err(error) => {
                    let dead = attempts >= i64::from(destination.retry.max_attempts);
                    let delay = destination
                        .retry
                        .backoff_ms(attempts as u32, rng.random::<f64>());
                    OutboxUpdate {
                        id: row.id,
                        status: if dead { "dead" } else { "pending" }.into(),
                        attempts,
                        next_attempt_at: state::timestamp(
                            now + chrono::Duration::milliseconds(delay as i64),
                        ),
                        last_error: Some(error.clone()),
                        delivered_at: None,
                    }
                }
            }
        })
        .collect()
}

/// Sends every due outbox row of `destinations`, retrying failures whose
/// next attempt falls within `wait`.
pub async fn deliver(
    store: &mut Store,
    destinations: &[Destination],
    wait: Duration,
) -> Result<DeliveryReport> {
    let deadline = Instant::now() + wait;
    let mut reports: BTreeMap<String, DestinationReport> = BTreeMap::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64 ^ u64::from(std::process::id()),
    );
    loop {
        let now = state::now_text();
        let due: Vec<OutboxRow> = store
            .outbox_due(&now, 10_000)
            .await?
            .into_iter()
            .filter(|row| destinations.iter().any(|d| d.name == row.destination))
            .collect();
        if due.is_empty() {
            let next = store
                .outbox(Some("pending"), usize::MAX)
                .await?
                .into_iter()
                .filter(|row| destinations.iter().any(|d| d.name == row.destination))
                .map(|row| row.next_attempt_at)
                .min();
            let Some(next) = next else { break };
            let Ok(next) = chrono::DateTime::parse_from_rfc3339(&next) else {
                break;
            };
            let sleep = (next.with_timezone(&Utc) - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_millis(10));
            if Instant::now() + sleep > deadline {
                break;
            }
            tokio::time::sleep(sleep).await;
            continue;
        }
        let mut updates = Vec::new();
        for destination in destinations {
            let rows: Vec<&OutboxRow> = due
                .iter()
                .filter(|r| r.destination == destination.name)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let report =
                reports
                    .entry(destination.name.clone())
                    .or_insert_with(|| DestinationReport {
                        name: destination.name.clone(),
                        ..DestinationReport::default()
                    });
            let mut record = |rows: &[&OutboxRow], outcome: std::result::Result<(), String>| {
                match &outcome {
                    Ok(()) => report.delivered += rows.len(),
                    Err(error) => {
                        report.failed_attempts += 1;
                        report.last_error = Some(error.clone());
                        tracing::warn!(destination = %destination.name, %error, rows = rows.len(), "delivery failed");
                    }
                }
                updates.extend(attempt_updates(rows, &outcome, destination, &mut rng));
            };
            match &destination.target {
                Target::Webhook {
                    url,
                    secret_env,
                    signature,
                    batch_size,
                } => {
                    for batch in rows.chunks(*batch_size) {
                        let outcome = send_webhook(
                            store,
                            destination,
                            url,
                            secret_env.as_deref(),
                            *signature,
                            batch,
                        )
                        .await?;
                        record(batch, outcome);
                    }
                }
                Target::File {
                    dir,
                    format,
                    memberships,
                } => {
                    for row in rows {
                        let outcome =
                            write_export(store, destination, dir, *format, *memberships, row)
                                .await?;
                        record(&[row], outcome);
                    }
                }
                Target::Digest(target) => {
                    for row in rows {
                        let outcome = send_digest(destination, target, row).await;
                        record(&[row], outcome);
                    }
                }
            }
        }
        store.outbox_update(&updates).await?;
    }
    // Only undelivered rows: the delivered ones grow with every run.
    let mut undelivered = store.outbox(Some("pending"), usize::MAX).await?;
    undelivered.extend(store.outbox(Some("dead"), usize::MAX).await?);
    for row in undelivered {
        let report = reports
            .entry(row.destination.clone())
            .or_insert_with(|| DestinationReport {
                name: row.destination.clone(),
                ..DestinationReport::default()
            });
        if row.status == "dead" {
            report.dead += 1;
        } else {
            report.pending += 1;
        }
        if report.last_error.is_none() {
            report.last_error = row.last_error.clone();
        }
    }
    Ok(DeliveryReport {
        destinations: reports.into_values().collect(),
    })
}

async fn send_webhook(
    store: &mut Store,
    destination: &Destination,
    url: &UrlSource,
    secret_env: Option<&str>,
    scheme: SignatureScheme,
    batch: &[&OutboxRow],
) -> Result<std::result::Result<(), String>> {
    let mut items: Vec<(String, Transition)> = Vec::new();
    let mut by_run: BTreeMap<i64, Vec<&OutboxRow>> = BTreeMap::new();
    for row in batch {
        by_run.entry(row.run_id).or_default().push(row);
    }
    for (run_id, rows) in by_run {
        let seqs: Vec<i64> = rows.iter().filter_map(|r| r.transition_seq).collect();
        let transitions = store.transitions_of(run_id, &seqs).await?;
        for row in rows {
            if let Some(transition) = transitions
                .iter()
                .find(|t| Some(t.seq) == row.transition_seq)
            {
                items.push((row.key.clone(), transition.clone()));
            }
        }
    }
    let url = match resolve_url(url, &destination.name) {
        Ok(url) => url,
        Err(error) => return Ok(Err(error)),
    };
    let secret = match secret_env {
        Some(name) => match env_value(name, &destination.name, "secret_env") {
            Ok(secret) => Some((name, secret)),
            Err(error) => return Ok(Err(error)),
        },
        None => None,
    };
    let refs: Vec<(&str, &Transition)> = items.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let body = webhook_body(&destination.name, &refs);
    let headers = match scheme {
        SignatureScheme::StrataV0 => secret
            .map(|(_, secret)| {
                vec![(
                    "X-Strata-Signature",
                    format!("sha256={}", sign(&secret, &body)),
                )]
            })
            .unwrap_or_default(),
        SignatureScheme::StandardWebhooks => {
            let keys: Vec<&str> = batch.iter().map(|row| row.key.as_str()).collect();
            let id = webhook_id(&keys);
            let timestamp = Utc::now().timestamp();
            let mut headers = vec![
                ("webhook-id", id.clone()),
                ("webhook-timestamp", timestamp.to_string()),
            ];
            if let Some((name, secret)) = secret {
                match standard_webhooks_key(&secret) {
                    Ok(key) => headers.push((
                        "webhook-signature",
                        standard_webhooks_signature(&key, &id, timestamp, &body),
                    )),
                    Err(error) => {
                        return Ok(Err(format!(
                            "the secret in {name} (secret_env of destination `{}`) {error}",
                            destination.name
                        )));
                    }
                }
            }
            headers
        }
    };
    Ok(post(
        url,
        body,
        headers,
        Duration::from_millis(destination.retry.timeout_ms),
    )
    .await)
}

async fn write_export(
    store: &mut Store,
    destination: &Destination,
    dir: &Path,
    format: FileFormat,
    memberships: bool,
    row: &OutboxRow,
) -> Result<std::result::Result<(), String>> {
    let transitions: Vec<Transition> = store
        .transitions_of(row.run_id, &[])
        .await?
        .into_iter()
        .filter(|t| destination.wants(&t.segmentation))
        .filter(|t| t.cause != Cause::Redefinition || destination.redefinitions)
        .collect();
    let as_of = match store.run(row.run_id).await? {
        Some(run) => run.as_of.to_string(),
        None => return Ok(Err(format!("run {} is not in the store", row.run_id))),
    };
    let extension = format.extension();
    let mut text = String::new();
    match format {
        FileFormat::Csv => {
            text.push_str("run_id,as_of,segmentation,account_id,from,to,cause,reason\n");
            for t in &transitions {
                text.push_str(&format!(
                    "{},{},{},{},{},{},{},{}\n",
                    t.run_id,
                    t.as_of,
                    csv_field(&t.segmentation),
                    csv_field(&t.account_id),
                    csv_field(t.from.as_deref().unwrap_or("")),
                    csv_field(t.to.as_deref().unwrap_or("")),
                    t.cause.name(),
                    csv_field(&t.reason)
                ));
            }
        }
        FileFormat::Ndjson => {
            for t in &transitions {
                text.push_str(&serde_json::to_string(t).unwrap_or_default());
                text.push('\n');
            }
        }
    }
    let name = format!("transitions-{:06}-{as_of}.{extension}", row.run_id);
    if let Err(error) = write_file_atomically(&dir.join(name), text.as_bytes()) {
        return Ok(Err(error.to_string()));
    }
    if memberships {
        let rows: Vec<(String, String, Option<String>)> = store
            .memberships_at(row.run_id)
            .await?
            .into_iter()
            .filter(|(segmentation, _, _)| destination.wants(segmentation))
            .collect();
        let mut text = String::new();
        match format {
            FileFormat::Csv => {
                text.push_str("account_id,segmentation,segment,as_of\n");
                for (segmentation, account, segment) in &rows {
                    text.push_str(&format!(
                        "{},{},{},{as_of}\n",
                        csv_field(account),
                        csv_field(segmentation),
                        csv_field(segment.as_deref().unwrap_or(""))
                    ));
                }
            }
            FileFormat::Ndjson => {
                for (segmentation, account, segment) in &rows {
                    text.push_str(
                        &serde_json::json!({"account_id": account, "segmentation": segmentation, "segment": segment, "as_of": as_of})
                            .to_string(),
                    );
                    text.push('\n');
                }
            }
        }
        let name = format!("memberships-{:06}-{as_of}.{extension}", row.run_id);
        if let Err(error) = write_file_atomically(&dir.join(name), text.as_bytes()) {
            return Ok(Err(error.to_string()));
        }
    }
    Ok(Ok(()))
}

async fn send_digest(
    destination: &Destination,
    target: &DigestTarget,
    row: &OutboxRow,
) -> std::result::Result<(), String> {
    let text = row.payload.clone().unwrap_or_default();
    match target {
        DigestTarget::Slack(url) => {
            let url = resolve_url(url, &destination.name)?;
            let body = serde_json::to_vec(&serde_json::json!({ "text": text })).unwrap_or_default();
            post(
                url,
                body,
                Vec::new(),
                Duration::from_millis(destination.retry.timeout_ms),
            )
            .await
        }
        DigestTarget::Folder(dir) => {
            let owner = row.owner.as_deref().unwrap_or("unknown");
            let slug: String = owner
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            let name = format!("digest-{:06}-{slug}.md", row.run_id);
            write_file_atomically(&dir.join(name), text.as_bytes())
                .map_err(|error| error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_rfc_4231_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn standard_webhooks_signatures_match_the_specification_example() {
        // The example of the Standard Webhooks reference libraries: this
        // secret, id, timestamp and payload sign to this value.
        let key = standard_webhooks_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("key");
        assert_eq!(
            standard_webhooks_signature(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_that_are_not_base64_are_refused_with_the_way_out() {
        let error = standard_webhooks_key("test-secret-7f3a").expect_err("not base64");
        assert!(error.contains("whsec_"), "{error}");
        assert!(error.contains("strata-v0"), "{error}");
        assert!(
            standard_webhooks_key("whsec_c2hvcnQ=").is_err(),
            "too short"
        );
    }

    #[test]
    fn a_batch_keeps_its_webhook_id_across_retries() {
        let id = webhook_id(&["s-r1-t1", "s-r1-t2"]);
        assert_eq!(id, webhook_id(&["s-r1-t1", "s-r1-t2"]));
        assert_ne!(id, webhook_id(&["s-r1-t1"]));
        assert!(id.starts_with("msg_") && id.len() == 36, "{id}");
    }
}
