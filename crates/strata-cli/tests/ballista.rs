//! `engine = { ballista = ... }`: the run on a Ballista cluster (a scheduler
//! and two executors started by `strata cluster` on loopback) gives the
//! embedded run's features and memberships, on the tiny CSV fixture and on
//! a small generated Parquet base with a clustering, and memberships checked
//! row by row on a base past 16,384 accounts.
//!
//! Built only with `--features ballista` (it adds ~20 minutes to a cold
//! build); `.ci/run` runs it when the marker file `.ci/with-ballista` exists.
#![cfg(feature = "ballista")]
mod util;

use std::time::{Duration, Instant};

use util::{Dir, assert_same_outputs};

/// A `strata cluster` child process, killed when dropped.
struct Cluster {
    child: std::process::Child,
    url: String,
}

impl Cluster {
    fn start(dir: &Dir) -> Cluster {
        let port_file = dir.root.join("scheduler.port");
        let child = dir
            .command(&[
                "cluster",
                "--executors",
                "2",
                "--slots",
                "1",
                "--port-file",
                &port_file.display().to_string(),
            ])
            .spawn();
        let started = Instant::now();
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Ok(port) = text.trim().parse::<u16>() {
                    break port;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the cluster did not start within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        Cluster {
            child,
            url: format!("df://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_both(dir: &Dir, cluster: &Cluster) {
    dir.command(&["run", "--out", "embedded", "--no-store", "--quick-report"])
        .success();
    dir.command(&[
        "run",
        "--engine",
        &cluster.url,
        "--out",
        "cluster",
        "--no-store",
        "--quick-report",
    ])
    .success();
    assert_same_outputs(dir, "embedded", "cluster");
}

#[test]
fn ballista_runs_give_the_embedded_results() {
    let tiny = Dir::fixture("tiny");
    let cluster = Cluster::start(&tiny);
    run_both(&tiny, &cluster);

    // Parquet events, 200 accounts, the demo's segmentations (a clustering included).
    let demo = Dir::new();
    demo.command(&["demo", "--out", ".", "--accounts", "200", "--no-run"])
        .success();
    run_both(&demo, &cluster);
    let memberships = demo.read("cluster/memberships.csv");
    assert!(memberships.lines().count() > 200, "{memberships}");

    // Past 16,384 accounts (two 8,192-row batches), events in time order:
    // every rules membership is the first rule the account's own feature
    // row satisfies, checked row by row outside strata.
    let large = Dir::new();
    util::base::write_base(&large, 16_385, 2, 5);
    util::base::project_file(&large, "");
    run_both(&large, &cluster);
    util::base::check_rules_row_by_row(&large, "cluster", 16_385);

    // The scheduler's URL is checked, and an unreachable one says so.
    let stderr = tiny
        .command(&["run", "--engine", "df://", "--out", "x", "--no-store"])
        .failure();
    assert!(stderr.contains("not a Ballista scheduler URL"), "{stderr}");
    drop(cluster);
    let stderr = tiny
        .command(&[
            "run",
            "--engine",
            "df://127.0.0.1:9",
            "--out",
            "x",
            "--no-store",
        ])
        .failure();
    assert!(stderr.contains("Ballista"), "{stderr}");
}
