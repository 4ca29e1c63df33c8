//! The state store end to end (issue 5): run history, transitions with their
//! reasons, definition versions, the no-op re-run, crash safety under
//! SIGKILL, concurrent runs, delivery to a failing receiver, exports, and
//! secrets. Every store test runs on SQLite and, when the server on
//! 127.0.0.1:5432 is there (required in CI), on PostgreSQL in a fresh schema.
mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use util::Dir;

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store under test.
struct TestStore {
    /// `--store` value; `None` is the project's default SQLite file.
    url: Option<String>,
    schema: Option<String>,
}

impl TestStore {
    fn name(&self) -> &'static str {
        if self.schema.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    fn args(&self) -> Vec<String> {
        match &self.url {
            Some(url) => vec!["--store".into(), url.clone()],
            None => Vec::new(),
        }
    }

    /// Everything the store holds, as bytes, for the secrets check.
    fn dump(&self, dir: &Dir) -> Vec<u8> {
        match &self.schema {
            Some(schema) => {
                let output = Command::new("pg_dump")
                    .args(util::PG_CONNECTION)
                    .args(["-n", schema])
                    .output()
                    .expect("pg_dump");
                assert!(output.status.success(), "pg_dump failed");
                output.stdout
            }
            None => {
                let mut bytes = Vec::new();
                for name in ["strata.db", "strata.db-wal"] {
                    if let Ok(mut file) = std::fs::File::open(dir.root.join(".strata").join(name)) {
                        file.read_to_end(&mut bytes).expect("read store");
                    }
                }
                bytes
            }
        }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(schema) = &self.schema {
            let _ = psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

fn psql(sql: &str) -> bool {
    util::psql(&["-c", sql]).status.success()
}

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

/// SQLite, and PostgreSQL in a fresh schema when the server answers. With
/// STRATA_REQUIRE_POSTGRES=1 (as in `.ci/run`) a missing server fails the test.
fn stores() -> Vec<TestStore> {
    let mut stores = vec![TestStore {
        url: None,
        schema: None,
    }];
    let schema = format!(
        "strata_test_{}_{}",
        std::process::id(),
        SCHEMAS.fetch_add(1, Ordering::SeqCst)
    );
    if psql(&format!("CREATE SCHEMA {schema}")) {
        stores.push(TestStore {
            url: Some(format!("{PG}?options=-csearch_path%3D{schema}")),
            schema: Some(schema),
        });
    } else if std::env::var("STRATA_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!(
            "PostgreSQL is required (STRATA_REQUIRE_POSTGRES=1) but 127.0.0.1:5432 does not answer"
        );
    } else {
        eprintln!(
            "\n!!! SKIPPING the PostgreSQL store tests: no server on 127.0.0.1:5432 (or no psql). \
             Only SQLite was tested. Start PostgreSQL (trust auth, database `test`) to test both.\n"
        );
    }
    stores
}

fn run(dir: &Dir, store: &TestStore, extra: &[&str]) -> String {
    let mut args = vec!["run", "--out", "out"];
    args.extend_from_slice(extra);
    let store_args = store.args();
    args.extend(store_args.iter().map(String::as_str));
    dir.command(&args).stdout()
}

fn json(dir: &Dir, store: &TestStore, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let store_args = store.args();
    all.extend(store_args.iter().map(String::as_str));
    let text = dir.command(&all).stdout();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn health_transitions(changes: &Value) -> BTreeMap<String, (String, String, String)> {
    changes
        .as_array()
        .expect("array")
        .iter()
        .filter(|t| t["segmentation"] == "health")
        .map(|t| {
            (
                t["account_id"].as_str().unwrap_or_default().to_string(),
                (
                    format!(
                        "{} -> {}",
                        t["from"].as_str().unwrap_or("-"),
                        t["to"].as_str().unwrap_or("-")
                    ),
                    t["cause"].as_str().unwrap_or_default().to_string(),
                    t["reason"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

#[test]
fn issue5_runs_record_transitions_with_reasons_history_and_noop() {
    for store in stores() {
        let dir = Dir::fixture("tiny");
        let out = run(&dir, &store, &["--as-of", "2026-10-31"]);
        assert!(
            out.contains("first run: 4 accounts x 2 segmentations recorded as the baseline"),
            "{}: {out}",
            store.name()
        );

        let out = run(&dir, &store, &["--as-of", "2026-10-31"]);
        assert!(
            out.contains("unchanged since run #1"),
            "{}: {out}",
            store.name()
        );

        // 25 days later a1 (last event 11-01) and a3 (last event 10-31) have gone quiet.
        let out = run(&dir, &store, &["--as-of", "2026-11-25"]);
        assert!(
            out.contains("2 accounts moved, 0 changes from redefinitions"),
            "{}: {out}",
            store.name()
        );

        let changes = json(&dir, &store, &["changes"]);
        let expected: BTreeMap<String, (String, String, String)> = [
            ("a1", "days_since_last_event 0 -> 24"),
            ("a3", "days_since_last_event 0 -> 25"),
        ]
        .into_iter()
        .map(|(account, reason)| {
            (
                account.to_string(),
                (
                    "active -> at-risk".to_string(),
                    "movement".to_string(),
                    reason.to_string(),
                ),
            )
        })
        .collect();
        assert_eq!(health_transitions(&changes), expected, "{}", store.name());
        let first = &changes[0];
        assert_eq!(first["from_rule"], "TRUE", "{}", store.name());
        assert!(
            first["to_rule"]
                .as_str()
                .unwrap_or_default()
                .contains("days_since_last_event > 21"),
            "{}: {first}",
            store.name()
        );
        assert_eq!(
            first["explanation"]["features"][0]["name"],
            "days_since_last_event"
        );
        assert_eq!(first["explanation"]["features"][0]["before"], 0);

        let history = json(&dir, &store, &["history", "--account", "a1"]);
        let memberships: Vec<(String, String, i64, Option<i64>)> = history["memberships"]
            .as_array()
            .expect("memberships")
            .iter()
            .map(|m| {
                (
                    m["segmentation"].as_str().unwrap_or_default().to_string(),
                    m["segment"].as_str().unwrap_or("-").to_string(),
                    m["from_run"].as_i64().unwrap_or_default(),
                    m["to_run"].as_i64(),
                )
            })
            .collect();
        assert_eq!(
            memberships,
            [
                ("health".to_string(), "active".to_string(), 1, Some(2)),
                ("size".to_string(), "SMB".to_string(), 1, None),
                ("health".to_string(), "at-risk".to_string(), 2, None),
            ],
            "{}",
            store.name()
        );
        let runs = json(&dir, &store, &["runs"]);
        let runs = runs.as_array().expect("runs");
        assert_eq!(runs.len(), 2, "{}", store.name());
        assert_eq!(runs[0]["as_of"], "2026-11-25");
        assert_eq!(runs[0]["transitions"], 2);
        assert_eq!(runs[1]["status"], "succeeded");

        // Back to the first as_of: the same two move back, and the run is not a no-op.
        let out = run(&dir, &store, &["--as-of", "2026-10-31"]);
        assert!(out.contains("2 accounts moved"), "{}: {out}", store.name());
        let text = dir
            .command(
                &["history", "--account", "a3"]
                    .iter()
                    .copied()
                    .chain(store.args().iter().map(String::as_str))
                    .collect::<Vec<_>>(),
            )
            .stdout();
        assert!(text.contains("at-risk -> active"), "{text}");
    }
}

const WEBHOOK_TO_NOWHERE: &str = r#"
[[destination]]
name = "crm"
kind = "webhook"
url = "http://127.0.0.1:9/hook"
secret_env = "STRATA_TEST_SECRET"
"#;

/// The tiny fixture with `extra` appended to its project file.
fn tiny_with(extra: &str) -> Dir {
    let dir = Dir::fixture("tiny");
    dir.create("strata.toml", &(dir.read("strata.toml") + extra));
    dir
}

#[test]
fn issue5_definition_changes_are_versioned_and_not_customer_movement() {
    for store in stores() {
        let dir = tiny_with(WEBHOOK_TO_NOWHERE);
        run(&dir, &store, &["--as-of", "2026-10-31", "--no-deliver"]);
        dir.edit(
            "strata.toml",
            "days_since_last_event > 21",
            "days_since_last_event >= 0",
        );
        let out = run(&dir, &store, &["--as-of", "2026-10-31", "--no-deliver"]);
        assert!(
            out.contains("0 accounts moved, 2 changes from redefinitions"),
            "{}: {out}",
            store.name()
        );
        assert!(
            out.contains("definition health: new version v3"),
            "{}: {out}",
            store.name()
        );

        // Not customer movement: not listed by default, not queued for the webhook.
        assert_eq!(json(&dir, &store, &["changes"]), Value::Array(Vec::new()));
        let changes = json(&dir, &store, &["changes", "--redefinitions"]);
        let health = health_transitions(&changes);
        assert_eq!(health.len(), 2, "{}: {changes}", store.name());
        for (account, (change, cause, reason)) in &health {
            assert_eq!(change, "active -> at-risk", "{account}");
            assert_eq!(cause, "redefinition");
            assert!(
                reason.starts_with("definition changed (v2 -> v3)"),
                "{reason}"
            );
        }
        assert_eq!(
            json(&dir, &store, &["outbox"]),
            Value::Array(Vec::new()),
            "{}",
            store.name()
        );

        let log = json(&dir, &store, &["definitions", "log"]);
        let versions: Vec<(i64, String, i64)> = log
            .as_array()
            .expect("log")
            .iter()
            .map(|v| {
                (
                    v["id"].as_i64().unwrap_or_default(),
                    v["segmentation"].as_str().unwrap_or_default().to_string(),
                    v["seq"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            versions,
            [
                (1, "size".into(), 1),
                (2, "health".into(), 1),
                (3, "health".into(), 2)
            ],
            "{}",
            store.name()
        );
        let mut args = vec!["definitions", "diff", "v2", "v3"];
        let store_args = store.args();
        args.extend(store_args.iter().map(String::as_str));
        let diff = dir.command(&args).stdout();
        assert!(
            diff.contains("-      \"when\": \"days_since_last_event > 21"),
            "{diff}"
        );
        assert!(
            diff.contains("+      \"when\": \"days_since_last_event >= 0"),
            "{diff}"
        );

        // Reverting is a new version too, and --deliver-redefinitions queues
        // its changes after all.
        dir.edit(
            "strata.toml",
            "days_since_last_event >= 0",
            "days_since_last_event > 21",
        );
        let out = run(
            &dir,
            &store,
            &[
                "--as-of",
                "2026-10-31",
                "--no-deliver",
                "--deliver-redefinitions",
            ],
        );
        assert!(
            out.contains("definition health: new version v4"),
            "{}: {out}",
            store.name()
        );
        let outbox = json(&dir, &store, &["outbox"]);
        assert_eq!(
            outbox.as_array().expect("outbox").len(),
            2,
            "{}: {outbox}",
            store.name()
        );
    }
}

#[test]
fn issue5_an_account_that_moves_under_both_definitions_is_movement() {
    for store in stores() {
        let dir = Dir::fixture("tiny");
        run(&dir, &store, &["--as-of", "2026-10-31"]);
        // The rule changes and time passes: a1 and a3 go quiet for 24 and 25
        // days, so the old rule (> 21) would also call them at-risk.
        dir.edit(
            "strata.toml",
            "days_since_last_event > 21",
            "days_since_last_event >= 0",
        );
        let out = run(&dir, &store, &["--as-of", "2026-11-25"]);
        assert!(
            out.contains("2 accounts moved, 0 changes from redefinitions"),
            "{}: {out}",
            store.name()
        );
        let changes = json(&dir, &store, &["changes"]);
        let health = health_transitions(&changes);
        assert_eq!(
            health["a1"].2,
            "days_since_last_event 0 -> 24",
            "{}",
            store.name()
        );
        assert_eq!(changes[0]["from_version"], 2);
        assert_eq!(changes[0]["to_version"], 3);
    }
}

/// A minimal HTTP receiver that misbehaves on a schedule: the n-th request
/// (from 0) gets `plan[n]` (or 200 past the end of the plan).
#[derive(Clone, Copy, Debug)]
enum Reply {
    Drop,
    Status(u16),
    Slow(Duration),
}

struct Receiver {
    /// (idempotency keys, signature header, body) of each request answered 200.
    accepted: Arc<Mutex<Vec<(Vec<String>, String, String)>>>,
    requests: Arc<AtomicUsize>,
}

fn read_request(stream: &mut TcpStream) -> Option<(BTreeMap<String, String>, String)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut headers = BTreeMap::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, String::from_utf8_lossy(&body).into_owned()))
}

fn start_receiver(listener: TcpListener, plan: Vec<Reply>) -> Receiver {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(AtomicUsize::new(0));
    let receiver = Receiver {
        accepted: Arc::clone(&accepted),
        requests: Arc::clone(&requests),
    };
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some((headers, body)) = read_request(&mut stream) else {
                continue;
            };
            let n = requests.fetch_add(1, Ordering::SeqCst);
            let reply = plan.get(n).copied().unwrap_or(Reply::Status(200));
            let status = match reply {
                Reply::Drop => continue,
                Reply::Status(status) => status,
                Reply::Slow(delay) => {
                    std::thread::sleep(delay);
                    200
                }
            };
            if status == 200 {
                let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let keys = parsed["transitions"]
                    .as_array()
                    .map(|ts| {
                        ts.iter()
                            .map(|t| {
                                t["idempotency_key"]
                                    .as_str()
                                    .unwrap_or_default()
                                    .to_string()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let signature = headers
                    .get("x-strata-signature")
                    .cloned()
                    .unwrap_or_default();
                if let Ok(mut accepted) = accepted.lock() {
                    accepted.push((keys, signature, body));
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    receiver
}

fn hmac_hex(secret: &str, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn issue5_webhook_receiver_that_is_down_then_flaky_gets_every_transition() {
    for store in stores() {
        let dir = Dir::fixture("tiny");
        // A port with nothing listening: the receiver is down.
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        dir.create(
            "strata.toml",
            &(dir.read("strata.toml")
                + &format!(
                    "\n[[destination]]\nname = \"crm\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
                     secret_env = \"STRATA_TEST_SECRET\"\nsignature = \"strata-v0\"\nbatch_size = 1\nretry_base_ms = 100\nretry_max_ms = 400\ntimeout_ms = 1000\nmax_attempts = 50\n"
                )),
        );
        let secret = "test-secret-7f3a";
        let run_args = |as_of: &str| {
            let mut args = vec![
                "run".to_string(),
                "--out".into(),
                "out".into(),
                "--as-of".into(),
                as_of.into(),
                "--deliver-wait".into(),
                "1".into(),
            ];
            args.extend(store.args());
            args
        };
        let args = run_args("2026-10-31");
        dir.command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .env("STRATA_TEST_SECRET", secret)
            .stdout();
        let args = run_args("2026-11-25");
        let out = dir
            .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .env("STRATA_TEST_SECRET", secret)
            .stdout();
        assert!(
            out.contains("queued 2 deliveries for `crm`"),
            "{}: {out}",
            store.name()
        );
        assert!(out.contains("2 pending"), "{}: {out}", store.name());

        // The receiver comes up, but drops a connection, answers 500, and
        // answers one request too slowly (after the client gave up).
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("rebind the receiver port");
        let receiver = start_receiver(
            listener,
            vec![
                Reply::Drop,
                Reply::Status(500),
                Reply::Slow(Duration::from_millis(1500)),
                Reply::Status(503),
            ],
        );
        let mut args = vec!["deliver".to_string(), "--wait".into(), "30".into()];
        args.extend(store.args());
        let out = dir
            .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .env("STRATA_TEST_SECRET", secret)
            .stdout();
        assert!(
            out.contains("delivery `crm`: 2 delivered"),
            "{}: {out}",
            store.name()
        );

        let accepted = receiver.accepted.lock().expect("lock").clone();
        let keys: BTreeSet<String> = accepted
            .iter()
            .flat_map(|(keys, _, _)| keys.clone())
            .collect();
        assert_eq!(
            keys.len(),
            2,
            "{}: every transition arrived: {accepted:?}",
            store.name()
        );
        assert!(
            receiver.requests.load(Ordering::SeqCst) >= 6,
            "the failures happened"
        );
        for (_, signature, body) in &accepted {
            assert_eq!(signature, &format!("sha256={}", hmac_hex(secret, body)));
        }
        let outbox = json(&dir, &store, &["outbox"]);
        assert!(
            outbox
                .as_array()
                .expect("outbox")
                .iter()
                .all(|row| row["status"] == "delivered"),
            "{}: {outbox}",
            store.name()
        );
        assert!(
            !String::from_utf8_lossy(&store.dump(&dir)).contains(secret),
            "secret stored"
        );
    }
}

/// A receiver written with the `standardwebhooks` library (PyPI), as a
/// strata user writes one, verifies every delivery of a run, drops a repeat
/// by `webhook-id`, and rejects the same request replayed six minutes later
/// and a tampered body (issue 24).
#[test]
fn standard_webhooks_receiver_verifies_every_delivery_and_rejects_replays() {
    let Some(python) = util::python_with(&["standardwebhooks"], "Standard Webhooks receiver test")
    else {
        return;
    };
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/standard_webhooks_receiver.py"
    );
    let mut receiver = Command::new(&python)
        .arg(script)
        .env("WEBHOOK_SECRET", secret)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the receiver");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut port = String::new();
    BufReader::new(receiver.stdout.take().expect("stdout"))
        .read_line(&mut port)
        .expect("the receiver's port");
    let _receiver = Kill(receiver);
    let base = format!("http://127.0.0.1:{}", port.trim());

    let dir = Dir::fixture("tiny");
    dir.create(
        "strata.toml",
        &(dir.read("strata.toml")
            + &format!(
                "\n[[destination]]\nname = \"crm\"\nkind = \"webhook\"\nurl = \"{base}/hook\"\n\
                 secret_env = \"STRATA_TEST_SECRET\"\nbatch_size = 1\n"
            )),
    );
    for as_of in ["2026-10-31", "2026-11-25"] {
        let out = dir
            .command(&[
                "run",
                "--out",
                "out",
                "--as-of",
                as_of,
                "--deliver-wait",
                "5",
            ])
            .env("STRATA_TEST_SECRET", secret)
            .stdout();
        assert!(!out.contains("pending"), "{out}");
    }
    let log = |base: &str| -> Value {
        let text = ureq::get(&format!("{base}/log"))
            .call()
            .expect("log")
            .body_mut()
            .read_to_string()
            .expect("log body");
        serde_json::from_str(&text).expect("log JSON")
    };
    let first = log(&base);
    let accepted = first["accepted"].as_array().expect("accepted").clone();
    assert_eq!(accepted.len(), 2, "one request per transition: {first}");
    assert_eq!(first["rejected"], serde_json::json!([]), "{first}");
    let ids: BTreeSet<&str> = accepted
        .iter()
        .map(|a| a["headers"]["webhook-id"].as_str().expect("webhook-id"))
        .collect();
    assert_eq!(ids.len(), 2, "distinct webhook-ids: {first}");
    for delivery in &accepted {
        let keys = delivery["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 1);
        // webhook-id is derived from the batch's idempotency keys, so a retry
        // of the batch carries the same one.
        let key = keys[0].as_str().expect("key");
        assert_eq!(
            delivery["headers"]["webhook-id"],
            strata_webhook_id(key),
            "{delivery}"
        );
    }

    // The same genuine request again, now and six minutes later, then tampered.
    let send = |headers: &Value, body: &str| -> u16 {
        let mut request = ureq::post(&format!("{base}/hook"))
            .config()
            .http_status_as_error(false)
            .build()
            .header("Content-Type", "application/json");
        for (name, value) in headers.as_object().expect("headers") {
            request = request.header(name.as_str(), value.as_str().expect("header value"));
        }
        request.send(body).expect("send").status().as_u16()
    };
    let headers = &accepted[0]["headers"];
    let body = accepted[0]["body"].as_str().expect("body");
    assert_eq!(
        send(headers, body),
        200,
        "a repeat within tolerance is acknowledged"
    );
    ureq::post(&format!("{base}/clock"))
        .send(r#"{"offset": 360}"#)
        .expect("move the clock");
    assert_eq!(
        send(headers, body),
        401,
        "a replay six minutes later is rejected"
    );
    ureq::post(&format!("{base}/clock"))
        .send(r#"{"offset": 0}"#)
        .expect("move the clock back");
    let tampered = body.replacen("\"to\":", "\"to\": ", 1);
    assert_ne!(tampered, body);
    assert_eq!(send(headers, &tampered), 401, "a tampered body is rejected");
    let last = log(&base);
    assert_eq!(last["repeats"], 1, "{last}");
    assert_eq!(
        last["rejected"],
        serde_json::json!(["Message timestamp too old", "No matching signature found"]),
        "{last}"
    );
    assert_eq!(last["accepted"].as_array().map(Vec::len), Some(2));
}

/// `webhook-id` as strata derives it: `msg_` + the first 32 hex digits of
/// SHA-256 over the batch's idempotency keys, each followed by a newline.
fn strata_webhook_id(key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{key}\n").as_bytes());
    format!("msg_{}", &hex::encode(digest)[..32])
}

/// xorshift: random kill moments without a dependency.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn issue5_sigkill_at_random_moments_never_leaves_a_partial_run() {
    for store in stores() {
        let dir = tiny_with(WEBHOOK_TO_NOWHERE);
        run(&dir, &store, &["--as-of", "2026-10-31", "--no-deliver"]);
        // How long an undisturbed run with a pause inside its commit takes.
        let started = Instant::now();
        run(
            &dir,
            &store,
            &[
                "--as-of",
                "2026-11-25",
                "--no-deliver",
                "--fault-pause-ms",
                "300",
            ],
        );
        let full = started.elapsed();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
        let trials = if store.schema.is_some() { 8 } else { 16 };
        let (mut killed, mut finished) = (0, 0);
        for trial in 0..trials {
            let as_of = if trial % 2 == 0 {
                "2026-10-31"
            } else {
                "2026-11-25"
            };
            let mut args = vec![
                "run",
                "--out",
                "out",
                "--as-of",
                as_of,
                "--no-deliver",
                "--fault-pause-ms",
                "300",
            ];
            let store_args = store.args();
            args.extend(store_args.iter().map(String::as_str));
            let mut child = dir.command(&args).spawn();
            let delay =
                Duration::from_millis(next_random(&mut seed) % (full.as_millis() as u64 + 50));
            std::thread::sleep(delay);
            match child.try_wait().expect("wait") {
                Some(_) => finished += 1,
                None => {
                    child.kill().expect("SIGKILL");
                    killed += 1;
                }
            }
            let _ = child.wait();

            // The store holds only whole runs: each run's transitions and
            // outbox rows are all there, and memberships match the last run.
            let runs = json(&dir, &store, &["runs", "--limit", "1000"]);
            let runs = runs.as_array().expect("runs");
            let outbox = json(&dir, &store, &["outbox", "--limit", "100000"]);
            let mut queued = 0;
            for run in runs {
                assert_eq!(run["status"], "succeeded", "{}: {run}", store.name());
                let id = run["id"].as_i64().expect("id");
                let changes = json(
                    &dir,
                    &store,
                    &[
                        "changes",
                        "--run",
                        &id.to_string(),
                        "--redefinitions",
                        "--limit",
                        "100000",
                    ],
                );
                let expected = run["transitions"].as_i64().unwrap_or_default()
                    + run["redefinitions"].as_i64().unwrap_or_default();
                assert_eq!(
                    changes.as_array().expect("changes").len() as i64,
                    expected,
                    "{}: run {id}",
                    store.name()
                );
                queued += run["transitions"].as_i64().unwrap_or_default();
            }
            assert_eq!(
                outbox.as_array().expect("outbox").len() as i64,
                queued,
                "{}: outbox rows",
                store.name()
            );
            let latest = runs[0]["as_of"].as_str().expect("as_of").to_string();
            let history = json(&dir, &store, &["history", "--account", "a1"]);
            let open: Vec<&Value> = history["memberships"]
                .as_array()
                .expect("memberships")
                .iter()
                .filter(|m| m["segmentation"] == "health" && m["to_run"].is_null())
                .collect();
            assert_eq!(
                open.len(),
                1,
                "{}: exactly one current health segment",
                store.name()
            );
            let expected = if latest == "2026-11-25" {
                "at-risk"
            } else {
                "active"
            };
            assert_eq!(
                open[0]["segment"],
                expected,
                "{}: a1 as of {latest}",
                store.name()
            );
        }
        assert!(
            killed > 0,
            "{}: no run was killed in {trials} trials",
            store.name()
        );
        eprintln!(
            "{}: {killed} runs killed, {finished} finished before the kill",
            store.name()
        );
        // The next run succeeds.
        run(&dir, &store, &["--as-of", "2026-11-30", "--no-deliver"]);
    }
}

#[test]
fn issue5_two_runs_at_once_one_fails_clearly_or_waits() {
    for store in stores() {
        let dir = Dir::fixture("tiny");
        run(&dir, &store, &["--as-of", "2026-10-31"]);
        let store_args = store.args();
        let mut args = vec![
            "run",
            "--out",
            "out",
            "--as-of",
            "2026-11-25",
            "--fault-pause-ms",
            "3000",
        ];
        args.extend(store_args.iter().map(String::as_str));
        let mut first = dir.command(&args).spawn();
        std::thread::sleep(Duration::from_millis(700));
        let mut second = vec!["run", "--out", "out2", "--as-of", "2026-11-25"];
        second.extend(store_args.iter().map(String::as_str));
        let stderr = dir.command(&second).failure();
        assert!(
            stderr.contains("another strata run is writing to this store"),
            "{}: {stderr}",
            store.name()
        );
        assert!(stderr.contains("--wait"), "{stderr}");
        second.push("--wait");
        let out = dir.command(&second).stdout();
        assert!(
            out.contains("unchanged since run #2"),
            "{}: the waiting run saw the first one's commit: {out}",
            store.name()
        );
        assert!(first.wait().expect("first run").success());
        let runs = json(&dir, &store, &["runs"]);
        assert_eq!(runs.as_array().expect("runs").len(), 2, "{}", store.name());
    }
}

#[test]
fn issue5_secrets_never_appear_in_output_errors_or_store() {
    let dir = tiny_with(WEBHOOK_TO_NOWHERE);
    let secret = "hunter2-do-not-leak";
    for as_of in ["2026-10-31", "2026-11-25"] {
        let output = dir
            .command(&[
                "run",
                "--out",
                "out",
                "--as-of",
                as_of,
                "--deliver-wait",
                "1",
                "-v",
            ])
            .env("STRATA_TEST_SECRET", secret)
            .output_raw();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(!text.contains(secret), "secret in output: {text}");
    }
    let outbox = dir.command(&["outbox"]).stdout();
    assert!(
        outbox.contains("pending") && !outbox.contains(secret),
        "{outbox}"
    );
    let store = TestStore {
        url: None,
        schema: None,
    };
    assert!(!String::from_utf8_lossy(&store.dump(&dir)).contains(secret));

    // A store URL's password is never shown, even in a connection error.
    let stderr = dir
        .command(&[
            "runs",
            "--store",
            "postgres://postgres:hunter2-do-not-leak@127.0.0.1:1/test",
        ])
        .failure();
    assert!(!stderr.contains(secret), "{stderr}");
    assert!(
        stderr.contains("postgres://postgres:***@127.0.0.1:1/test"),
        "{stderr}"
    );
    // A missing secret is a clear delivery error naming the variable.
    let output = dir
        .command(&["deliver", "--wait", "0"])
        .env("STRATA_TEST_SECRET", "")
        .output_raw();
    assert!(!output.status.success());
    let out = dir.command(&["outbox"]).stdout();
    assert!(
        out.contains(
            "environment variable STRATA_TEST_SECRET (secret_env of destination `crm`) is not set"
        ),
        "{out}"
    );
}

#[test]
fn issue5_file_and_digest_destinations_write_exports() {
    let dir = tiny_with(
        "\n[[destination]]\nname = \"crm-files\"\nkind = \"file\"\npath = \"exports\"\nformat = \"csv\"\n\
         \n[[destination]]\nname = \"owners\"\nkind = \"digest\"\npath = \"digests\"\nsegmentations = [\"health\"]\n",
    );
    run(
        &dir,
        &TestStore {
            url: None,
            schema: None,
        },
        &["--as-of", "2026-10-31"],
    );
    let out = run(
        &dir,
        &TestStore {
            url: None,
            schema: None,
        },
        &["--as-of", "2026-11-25"],
    );
    assert!(out.contains("delivery `crm-files`: 1 delivered"), "{out}");
    let transitions = dir.read("exports/transitions-000002-2026-11-25.csv");
    let mut lines: Vec<&str> = transitions.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "2,2026-11-25,health,a1,active,at-risk,movement,days_since_last_event 0 -> 24",
            "2,2026-11-25,health,a3,active,at-risk,movement,days_since_last_event 0 -> 25",
            "run_id,as_of,segmentation,account_id,from,to,cause,reason",
        ]
    );
    let memberships = dir.read("exports/memberships-000002-2026-11-25.csv");
    assert_eq!(memberships.lines().count(), 9, "{memberships}");
    assert!(
        memberships.contains("a1,health,at-risk,2026-11-25"),
        "{memberships}"
    );
    assert!(memberships.contains("a4,size,,2026-11-25"), "{memberships}");
    let digest = dir.read("digests/digest-000002-csm1-example-com.md");
    assert!(
        digest.starts_with("*csm1@example.com*: 2 changes in your accounts as of 2026-11-25"),
        "{digest}"
    );
    assert!(
        digest.contains("Acme (a1): health active → at-risk (days_since_last_event 0 -> 24)"),
        "{digest}"
    );
    assert!(digest.contains("Gamma (a3)"), "{digest}");
    assert!(
        !dir.root
            .join("digests/digest-000002-csm2-example-com.md")
            .exists()
    );
}

#[test]
fn issue5_backfill_records_sizes_over_time_once() {
    let dir = Dir::fixture("tiny");
    let backfill = || {
        dir.command(&[
            "backfill",
            "--from",
            "2026-08-31",
            "--to",
            "2026-10-31",
            "--every",
            "month",
        ])
        .stdout()
    };
    let out = backfill();
    assert!(
        out.contains("backfilled 3 points from 2026-08-31 to 2026-10-31"),
        "{out}"
    );
    assert!(out.contains("health: accounts per segment"), "{out}");
    let out = backfill();
    assert!(
        out.contains("backfilled 0 points") && out.contains("3 already there"),
        "{out}"
    );
    let runs = dir.command(&["runs", "--json"]).stdout();
    let runs: Value = serde_json::from_str(&runs).expect("json");
    let as_of: Vec<&str> = runs
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["as_of"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(as_of, ["2026-10-31", "2026-09-30", "2026-08-31"]);
    assert!(
        runs.as_array()
            .expect("runs")
            .iter()
            .all(|r| r["kind"] == "backfill")
    );
}

#[test]
fn issue5_cluster_transitions_explain_centroid_distances_and_moved_features() {
    let dir = Dir::new();
    dir.command(&["demo", "--out", ".", "--accounts", "600", "--no-run"])
        .stdout();
    let store = TestStore {
        url: None,
        schema: None,
    };
    run(&dir, &store, &["--as-of", "2026-09-30", "--no-deliver"]);
    run(&dir, &store, &["--as-of", "2026-10-31", "--no-deliver"]);
    let changes = json(
        &dir,
        &store,
        &["changes", "--segmentation", "behavior", "--limit", "100000"],
    );
    let changes = changes.as_array().expect("changes");
    assert!(
        changes.len() >= 10,
        "a month moves some accounts between behavior clusters: {}",
        changes.len()
    );
    let (mut compared, mut with_features) = (0, 0);
    for transition in changes.iter().filter(|t| t["cause"] == "movement") {
        let cluster = &transition["explanation"]["cluster"];
        let features = transition["explanation"]["features"]
            .as_array()
            .expect("features");
        let reason = transition["reason"].as_str().unwrap_or_default();
        assert!(features.len() <= 3, "{transition}");
        if features.is_empty() {
            assert!(reason.contains("the clustering was refit"), "{transition}");
        } else {
            with_features += 1;
        }
        if let (Some(before), Some(after)) = (
            cluster["distance_to_before"].as_f64(),
            cluster["distance_to_after"].as_f64(),
        ) {
            // Nearest-centroid assignment: now at least as close to the new cluster.
            assert!(after <= before + 1e-9, "{transition}");
            assert!(reason.starts_with("distance to "), "{transition}");
            compared += 1;
        } else {
            assert!(reason.contains("is not in this run's fit"), "{transition}");
        }
    }
    assert!(
        with_features > 0,
        "some transitions name the features that moved"
    );
    assert!(compared > 0, "some transitions have both centroids");
}

#[test]
fn issue5_schedule_runs_the_project_and_keeps_waiting() {
    let dir = Dir::fixture("tiny");
    let stderr = dir.command(&["schedule", "--out", "out"]).failure();
    assert!(stderr.contains("has no `schedule`"), "{stderr}");
    dir.create(
        "strata.toml",
        &format!("schedule = \"0 6 * * *\"\n{}", dir.read("strata.toml")),
    );
    let mut child = dir.command(&["schedule", "--out", "out", "--now"]).spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut recorded = false;
    while Instant::now() < deadline && !recorded {
        std::thread::sleep(Duration::from_millis(200));
        let runs = dir.command(&["runs", "--json"]).output_raw();
        recorded = serde_json::from_slice::<Value>(&runs.stdout)
            .map(|runs| runs.as_array().is_some_and(|r| r.len() == 1))
            .unwrap_or(false);
    }
    // Let it print when it runs next, then check that it is still waiting.
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "schedule keeps running after a run"
    );
    child.kill().expect("stop the scheduler");
    let output = child.wait_with_output().expect("output");
    assert!(recorded, "the --now run was recorded");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("next run at") && stderr.contains("06:00:00"),
        "{stderr}"
    );
}
