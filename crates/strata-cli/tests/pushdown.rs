//! PostgreSQL sources and `engine = "postgres"` on the real server
//! (127.0.0.1:5432, database `test`): the same tables give the same
//! features and memberships on both engines and from files; under the
//! postgres engine the events stay in the database (bytes fetched do not
//! grow with the events); bad sources get errors that say how to fix them.
mod util;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use util::{Dir, assert_same_outputs, postgres_available, psql};

const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn run_sql(sql: &str) {
    let output = psql(&["-c", sql]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The project file of the tiny fixture with its tables read from `schema`
/// at `url`, and `extra` appended.
fn postgres_project(dir: &Dir, url: &str, schema: &str, extra: &str) {
    let text = dir.read("strata.toml");
    let mut text = text.replace(
        "accounts = \"accounts.csv\"\nevents = \"events.csv\"\nrevenue = \"revenue.csv\"",
        &format!(
            "accounts = {{ postgres = \"{url}\", table = \"{schema}.accounts\" }}\n\
             events = {{ postgres = \"{url}\", table = \"{schema}.events\" }}\n\
             revenue = {{ postgres = \"{url}\", table = \"{schema}.revenue\" }}"
        ),
    );
    text.push_str(extra);
    dir.create("strata.toml", &text);
}

/// Loads the tiny fixture's CSV files into `schema`.
fn load_tiny(dir: &Dir, schema: &str) {
    util::load_csv_tables(
        dir,
        schema,
        &[
            (
                "accounts",
                "account_id TEXT, name TEXT, created_at TIMESTAMPTZ, employees INTEGER, industry TEXT, country TEXT, plan TEXT, owner TEXT, seats INTEGER",
            ),
            (
                "events",
                "account_id TEXT, user_id TEXT, event TEXT, ts TIMESTAMPTZ, source TEXT",
            ),
            (
                "revenue",
                "account_id TEXT, month DATE, mrr DOUBLE PRECISION",
            ),
        ],
    );
}

/// A generated base in `schema`: 300 accounts with skewed activity over 200
/// days, `events` events, 10 months of revenue.
fn load_generated(schema: &str, events: u32) {
    run_sql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};\n\
         CREATE TABLE {schema}.accounts AS SELECT 'a' || lpad(i::text, 4, '0') AS account_id, \
           'Account ' || i AS name, TIMESTAMPTZ '2025-01-01' + (i % 300) * INTERVAL '1 day' AS created_at, \
           (i * 37) % 2000 + 5 AS employees, (ARRAY['saas','fintech','health'])[1 + i % 3] AS industry, \
           'US' AS country, (ARRAY['free','pro','enterprise'])[1 + i % 3] AS plan, 'owner' || (i % 4) AS owner \
           FROM generate_series(1, 300) i;\n\
         CREATE TABLE {schema}.events AS SELECT 'a' || lpad(a::text, 4, '0') AS account_id, \
           'u' || (j % (2 + a % 11)) AS user_id, \
           (ARRAY['login','task_created','report_viewed','integration_connected','export'])[1 + (j * 31 + a) % 5] AS event, \
           TIMESTAMPTZ '2026-10-31 12:00' - ((j::bigint * 104729) % (5 + a % 150)) * INTERVAL '1 day' - (j % 1440) * INTERVAL '1 minute' AS ts, \
           (ARRAY['app','app','api','integration'])[1 + (j + a / 50) % 4] AS source \
           FROM (SELECT j, 1 + floor(299 * power(j / {events}.0, 2))::int AS a FROM generate_series(1, {events}) j) g;\n\
         CREATE TABLE {schema}.revenue AS SELECT account_id, make_date(2026, m, 1) AS month, \
           ((employees * 3) % 900 + 50)::float8 AS mrr FROM {schema}.accounts, generate_series(1, 10) m;"
    ));
}

fn drop_schema(schema: &str) {
    let _ = psql(&["-c", &format!("DROP SCHEMA IF EXISTS {schema} CASCADE")]);
}

/// `strata run` on `engine` into `out`, without the store or the slow report sections.
fn run_on(dir: &Dir, engine: &str, out: &str) -> String {
    dir.command(&[
        "run",
        "--engine",
        engine,
        "--out",
        out,
        "--no-store",
        "--quick-report",
    ])
    .success()
    .0
}

#[test]
fn postgres_tables_give_the_file_run_on_both_engines() {
    if !postgres_available() {
        return;
    }
    let dir = Dir::fixture("tiny");
    dir.command(&["run", "--out", "files", "--no-store", "--quick-report"])
        .success();
    let schema = format!("strata_pd_tiny_{}", std::process::id());
    load_tiny(&dir, &schema);
    postgres_project(&dir, URL, &schema, "");
    dir.command(&["run", "--out", "embedded", "--no-store", "--quick-report"])
        .success();
    let stdout = run_on(&dir, "postgres", "pushed");
    // `strata sql` reads the project's own tables by default.
    let script = dir.command(&["sql", "--dialect", "postgres"]).stdout();
    drop_schema(&schema);
    assert!(
        script.contains(&format!("FROM {schema}.events e")),
        "{script}"
    );
    assert_same_outputs(&dir, "files", "embedded");
    assert_same_outputs(&dir, "files", "pushed");
    // The hand-checked memberships of the fixture, for good measure.
    let expected = dir.read("expected_memberships.csv");
    for line in expected.lines().skip(1) {
        assert!(
            dir.read("pushed/memberships.csv").contains(line),
            "{line} missing; {stdout}"
        );
    }
}

#[test]
fn pushdown_clusters_match_the_embedded_engine() {
    if !postgres_available() {
        return;
    }
    let schema = format!("strata_pd_gen_{}", std::process::id());
    load_generated(&schema, 30_000);
    let dir = Dir::fixture("tiny");
    postgres_project(
        &dir,
        URL,
        &schema,
        "\n[[segmentation]]\nname = \"behavior\"\nkind = \"clusters\"\nk = 3\n",
    );
    dir.command(&["run", "--out", "embedded", "--no-store", "--quick-report"])
        .success();
    run_on(&dir, "postgres", "pushed");
    assert_same_outputs(&dir, "embedded", "pushed");
    let memberships = dir.read("pushed/memberships.csv");
    let behavior = memberships
        .lines()
        .filter(|line| line.contains(",behavior,"))
        .count();
    assert_eq!(behavior, 300, "every account has a behavior row");
    let segments: std::collections::BTreeSet<&str> = memberships
        .lines()
        .filter(|line| line.contains(",behavior,"))
        .filter_map(|line| line.rsplit(',').next())
        .collect();
    assert_eq!(segments.len(), 3, "{segments:?}");

    // A sample smaller than the base: the fit sees 150 accounts, the
    // database still assigns all 300.
    dir.edit(
        "strata.toml",
        "as_of = \"2026-10-31\"",
        "as_of = \"2026-10-31\"\n[options]\nkmeans_sample = 150",
    );
    run_on(&dir, "postgres", "sampled");
    drop_schema(&schema);
    let sampled = dir.read("sampled/memberships.csv");
    assert_eq!(
        sampled
            .lines()
            .filter(|line| line.contains(",behavior,") && !line.ends_with(','))
            .count(),
        300
    );
    let segments = dir.read("sampled/segments.json");
    assert!(
        segments.contains("sample of 150 of 300 accounts"),
        "{segments}"
    );
}

/// A TCP proxy to the test server that counts the bytes the server sends.
struct CountingProxy {
    port: u16,
    from_server: Arc<AtomicU64>,
}

impl CountingProxy {
    fn start() -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let from_server = Arc::new(AtomicU64::new(0));
        let counter = from_server.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect("127.0.0.1:5432") else {
                    continue;
                };
                let (client_read, server_write) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || pump(client_read, server_write, None));
                let counter = counter.clone();
                std::thread::spawn(move || pump(server, client, Some(counter)));
            }
        });
        CountingProxy { port, from_server }
    }

    fn take(&self) -> u64 {
        self.from_server.swap(0, Ordering::SeqCst)
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, counter: Option<Arc<AtomicU64>>) {
    let mut buffer = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buffer) {
        if n == 0 || to.write_all(&buffer[..n]).is_err() {
            break;
        }
        if let Some(counter) = &counter {
            counter.fetch_add(n as u64, Ordering::SeqCst);
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

#[test]
fn pushdown_fetches_per_account_rows_not_events() {
    if !postgres_available() {
        return;
    }
    let schema = format!("strata_pd_bytes_{}", std::process::id());
    load_generated(&schema, 20_000);
    let proxy = CountingProxy::start();
    let url = format!("postgres://postgres@127.0.0.1:{}/test", proxy.port);
    let dir = Dir::fixture("tiny");
    postgres_project(&dir, &url, &schema, "");
    let run = |engine: &str| {
        proxy.take();
        run_on(&dir, engine, engine);
        proxy.take()
    };
    let pushed_small = run("postgres");
    // Eight times the events, for the same 300 accounts.
    for _ in 0..3 {
        run_sql(&format!(
            "INSERT INTO {schema}.events SELECT * FROM {schema}.events"
        ));
    }
    let pushed_large = run("postgres");
    let embedded_large = run("embedded");
    drop_schema(&schema);
    // Per-account results only: the same bytes (within 5%) for 8x the events,
    // and a bounded amount per account (300 accounts, ~50 columns, 10 months of revenue).
    assert!(
        pushed_large.abs_diff(pushed_small) * 20 <= pushed_small,
        "bytes fetched grew with the events: {pushed_small} -> {pushed_large}"
    );
    assert!(
        pushed_large < 300 * 2_000,
        "{pushed_large} bytes for 300 accounts"
    );
    // The embedded engine reads the 160,000 events themselves.
    assert!(
        embedded_large > 10 * pushed_large,
        "embedded {embedded_large} vs pushed {pushed_large}"
    );
}

#[test]
fn bad_postgres_sources_say_how_to_fix_them() {
    let dir = Dir::fixture("tiny");
    // A password in the project file.
    postgres_project(
        &dir,
        "postgres://postgres:secret@127.0.0.1:5432/test",
        "s",
        "",
    );
    let stderr = dir.command(&["validate"]).failure();
    assert!(stderr.contains("the URL holds a password"), "{stderr}");
    assert!(stderr.contains("password_env"), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");

    // The postgres engine over files.
    let dir = Dir::fixture("tiny");
    let stderr = dir
        .command(&["run", "--engine", "postgres", "--out", "o", "--no-store"])
        .failure();
    assert!(
        stderr.contains("needs the events in PostgreSQL"),
        "{stderr}"
    );
    dir.edit("strata.toml", "as_of =", "engine = \"oracle\"\nas_of =");
    let stderr = dir.command(&["validate"]).failure();
    assert!(stderr.contains("unknown engine `oracle`"), "{stderr}");

    // A table name that is not one, and a source with both path and postgres.
    for (events, message) in [
        (
            format!("{{ postgres = \"{URL}\", table = \"x; DROP TABLE y\" }}"),
            "is not a table name",
        ),
        (
            format!("{{ path = \"events.csv\", postgres = \"{URL}\", table = \"e\" }}"),
            "both `path` and `postgres`",
        ),
    ] {
        let dir = Dir::fixture("tiny");
        dir.edit(
            "strata.toml",
            "events = \"events.csv\"",
            &format!("events = {events}"),
        );
        let stderr = dir.command(&["validate"]).failure();
        assert!(stderr.contains(message), "{stderr}");
    }

    if !postgres_available() {
        return;
    }
    // A table that does not exist; a password variable that is not set.
    let dir = Dir::fixture("tiny");
    postgres_project(&dir, URL, "strata_no_such_schema", "");
    let stderr = dir.command(&["validate"]).failure();
    assert!(
        stderr.contains("no table `strata_no_such_schema.accounts`"),
        "{stderr}"
    );
    dir.edit(
        "strata.toml",
        "table = \"strata_no_such_schema.accounts\"",
        "table = \"strata_no_such_schema.accounts\", password_env = \"STRATA_TEST_UNSET_PASSWORD\"",
    );
    let stderr = dir.command(&["validate"]).failure();
    assert!(
        stderr.contains("password_env names `STRATA_TEST_UNSET_PASSWORD`, which is not set"),
        "{stderr}"
    );

    // Text timestamps cannot be pushed down; the error says how to cast them.
    let schema = format!("strata_pd_text_{}", std::process::id());
    let dir = Dir::fixture("tiny");
    load_tiny(&dir, &schema);
    run_sql(&format!(
        "ALTER TABLE {schema}.events ALTER COLUMN ts TYPE TEXT"
    ));
    postgres_project(&dir, URL, &schema, "");
    let stderr = dir
        .command(&["run", "--engine", "postgres", "--out", "o", "--no-store"])
        .failure();
    // Bad data in an accounts table: the row and column, as for files.
    run_sql(&format!(
        "UPDATE {schema}.accounts SET employees = NULL WHERE account_id = 'a1'; \
         INSERT INTO {schema}.accounts (account_id, name, created_at) VALUES ('a1', 'dup', now())"
    ));
    let duplicate = dir.command(&["validate"]).failure();
    drop_schema(&schema);
    assert!(stderr.contains("the timestamp column is text"), "{stderr}");
    assert!(stderr.contains("CAST(\"ts\" AS timestamptz)"), "{stderr}");
    assert!(
        duplicate.contains("postgres table") && duplicate.contains("duplicate account_id `a1`"),
        "{duplicate}"
    );
}

#[cfg(not(feature = "ballista"))]
#[test]
fn ballista_engine_says_how_to_build_it() {
    let dir = Dir::fixture("tiny");
    dir.edit(
        "strata.toml",
        "as_of =",
        "engine = { ballista = \"df://127.0.0.1:50050\" }\nas_of =",
    );
    let stderr = dir.command(&["run", "--out", "o", "--no-store"]).failure();
    assert!(stderr.contains("no Ballista engine"), "{stderr}");
    assert!(stderr.contains("--features ballista"), "{stderr}");
    dir.edit(
        "strata.toml",
        "engine = { ballista = \"df://127.0.0.1:50050\" }",
        "engine = { ballista = \"http://x\" }",
    );
    let stderr = dir.command(&["validate"]).failure();
    assert!(stderr.contains("not a Ballista scheduler URL"), "{stderr}");
}
