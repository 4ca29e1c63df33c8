//! `strata bench-decisions`: ICP search on 100k accounts × 30 attributes and
//! needs themes on 200k verbatims, timed beside Python peers on the same data
//! (pysubgroup's beam search, scikit-learn's TF-IDF + KMeans; see
//! `bench/decisions.sh`, which installs them with pip).
//!
//! The data is synthetic and seeded: accounts with 20 numeric and 10
//! categorical attributes and a planted profile with higher NRR; verbatims
//! drawn from 6 topic vocabularies plus shared filler words. Both are written
//! to CSV so that the peers read exactly what strata searched.
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_core::icp::{IcpAttribute, IcpParams};
use strata_core::themes::Verbatim;

use crate::render;

/// Arguments of `strata bench-decisions`.
#[derive(Debug, clap::Args)]
pub struct BenchDecisionsArgs {
    /// Accounts for the ICP search.
    #[arg(long, default_value_t = 100_000)]
    accounts: usize,
    /// Verbatims for the themes.
    #[arg(long, default_value_t = 200_000)]
    verbatims: usize,
    /// Python with pysubgroup and scikit-learn, or "none" to skip the peers.
    #[arg(long, default_value = "python3")]
    python: String,
    /// The peer script.
    #[arg(long, default_value = "bench/decisions_peers.py")]
    script: PathBuf,
    /// Folder for the generated CSV files.
    #[arg(long, default_value = "target/bench-data/decisions")]
    dir: PathBuf,
}

const TOPICS: [[&str; 8]; 6] = [
    [
        "price", "invoice", "billing", "renewal", "seats", "discount", "budget", "contract",
    ],
    [
        "report",
        "dashboard",
        "chart",
        "export",
        "metric",
        "filter",
        "graph",
        "widget",
    ],
    [
        "slow",
        "loading",
        "speed",
        "laggy",
        "timeout",
        "performance",
        "freeze",
        "latency",
    ],
    [
        "integration",
        "sync",
        "api",
        "webhook",
        "slack",
        "salesforce",
        "token",
        "connector",
    ],
    [
        "permission",
        "sso",
        "admin",
        "access",
        "guest",
        "role",
        "audit",
        "security",
    ],
    [
        "onboarding",
        "tutorial",
        "guided",
        "setup",
        "training",
        "navigation",
        "learn",
        "first",
    ],
];
const FILLER: [&str; 10] = [
    "customer",
    "project",
    "board",
    "account",
    "weekly",
    "manager",
    "company",
    "colleague",
    "today",
    "issue",
];

fn icp_data(n: usize, rng: &mut StdRng) -> (Vec<IcpAttribute>, Vec<(f64, f64)>) {
    let mut attributes = Vec::new();
    let mut numeric: Vec<Vec<f64>> = Vec::new();
    for idx in 0..20 {
        let values: Vec<f64> = (0..n)
            .map(|_| (rng.random::<f64>() * 1000.0).round())
            .collect();
        numeric.push(values.clone());
        attributes.push(IcpAttribute::Numeric(
            format!("num_{idx}"),
            values.into_iter().map(Some).collect(),
        ));
    }
    let mut categorical: Vec<Vec<usize>> = Vec::new();
    for idx in 0..10 {
        let values: Vec<usize> = (0..n).map(|_| rng.random_range(0..8)).collect();
        categorical.push(values.clone());
        attributes.push(IcpAttribute::Categorical(
            format!("cat_{idx}"),
            values.into_iter().map(|v| Some(format!("v{v}"))).collect(),
        ));
    }
    let revenue = (0..n)
        .map(|row| {
            let planted = numeric[0][row] >= 600.0 && categorical[0][row] == 3;
            let before = 100.0 + rng.random::<f64>() * 900.0;
            let growth: f64 = if planted { 1.3 } else { 0.97 } + (rng.random::<f64>() - 0.5) * 0.4;
            (before * growth.max(0.0), before)
        })
        .collect();
    (attributes, revenue)
}

/// `n` verbatims of five topic words and three filler words, two per
/// account and both about its topic; the topic of each.
fn verbatim_data(n: usize, rng: &mut StdRng) -> (Vec<Verbatim>, Vec<usize>) {
    let mut topics = Vec::with_capacity(n);
    // Two verbatims per account, both about the account's need.
    let mut topic = 0;
    let verbatims = (0..n)
        .map(|idx| {
            if idx % 2 == 0 {
                topic = rng.random_range(0..TOPICS.len());
            }
            topics.push(topic);
            let mut words: Vec<&str> = (0..5)
                .map(|_| TOPICS[topic][rng.random_range(0..8)])
                .collect();
            words.extend((0..3).map(|_| FILLER[rng.random_range(0..FILLER.len())]));
            Verbatim {
                account_idx: idx / 2,
                text: words.join(" "),
                score: None,
            }
        })
        .collect();
    (verbatims, topics)
}

/// Runs the benchmark and prints the table.
pub async fn run(args: BenchDecisionsArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let mut rng = StdRng::seed_from_u64(7);
    let (attributes, revenue) = icp_data(args.accounts, &mut rng);
    let (verbatims, topics) = verbatim_data(args.verbatims, &mut rng);

    // Files for the peers.
    let accounts_csv = args.dir.join("icp.csv");
    let mut text = String::new();
    let names: Vec<&str> = attributes.iter().map(IcpAttribute::name).collect();
    let _ = writeln!(text, "{},mrr_now,mrr_12m_ago", names.join(","));
    for (row, (now, before)) in revenue.iter().enumerate() {
        for attribute in &attributes {
            match attribute {
                IcpAttribute::Numeric(_, values) | IcpAttribute::Count(_, values) => {
                    let _ = write!(text, "{},", values[row].unwrap_or_default());
                }
                IcpAttribute::Categorical(_, values) => {
                    let _ = write!(text, "{},", values[row].as_deref().unwrap_or_default());
                }
            }
        }
        let _ = writeln!(text, "{now},{before}");
    }
    std::fs::write(&accounts_csv, text)?;
    let verbatims_csv = args.dir.join("verbatims.csv");
    let mut text = String::from("text,topic\n");
    for (verbatim, topic) in verbatims.iter().zip(&topics) {
        let _ = writeln!(text, "{},{topic}", verbatim.text);
    }
    std::fs::write(&verbatims_csv, text)?;

    let started = Instant::now();
    let icp = strata_core::icp::search(&attributes, &revenue, &IcpParams::default())
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let icp_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let themes = strata_core::themes::find_themes(&verbatims, args.verbatims / 2 + 1, None, 0);
    let themes_seconds = started.elapsed().as_secs_f64();
    let labels: Vec<usize> = themes
        .labels
        .iter()
        .map(|l| l.unwrap_or(usize::MAX))
        .collect();
    let themes_ari = strata_core::ml::adjusted_rand_index(&labels, &topics).unwrap_or(f64::NAN);

    let peers: Option<serde_json::Value> = if args.python == "none" {
        None
    } else {
        let output = std::process::Command::new(&args.python)
            .arg(&args.script)
            .arg(&accounts_csv)
            .arg(&verbatims_csv)
            .output()
            .with_context(|| format!("cannot run {} {}", args.python, args.script.display()))?;
        if !output.status.success() {
            anyhow::bail!(
                "the peer script failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Some(serde_json::from_slice(&output.stdout).context("the peer script printed no JSON")?)
    };
    let peer = |key: &str| peers.as_ref().and_then(|p| p[key].as_f64());
    let ratio = |ours: f64, theirs: Option<f64>| {
        theirs.map_or_else(|| "–".into(), |t| format!("{:.2}", ours / t))
    };
    let rows = vec![
        vec![
            format!(
                "ICP search, {}k accounts x 30 attributes",
                args.accounts / 1000
            ),
            format!("{icp_seconds:.2}"),
            peer("pysubgroup_seconds").map_or_else(|| "–".into(), |s| format!("{s:.2}")),
            ratio(icp_seconds, peer("pysubgroup_seconds")),
        ],
        vec![
            format!("themes, {}k verbatims", args.verbatims / 1000),
            format!("{themes_seconds:.2}"),
            peer("sklearn_seconds").map_or_else(|| "–".into(), |s| format!("{s:.2}")),
            ratio(themes_seconds, peer("sklearn_seconds")),
        ],
    ];
    print!(
        "{}",
        render::table(&["task", "strata s", "peer s", "strata / peer"], &rows)
    );
    println!(
        "\nICP top rule: {} (target 10 s; peer pysubgroup beam search, depth 3, width 20, mean-target quality a = 0.5)",
        icp.rules.first().map_or("–", |r| r.rule.as_str())
    );
    println!(
        "themes: {} themes, ARI {themes_ari:.3} vs the planted topics (target 10 s; peer scikit-learn TfidfVectorizer + KMeans k = {}, n_init = 1; its ARI {})",
        themes.themes.len(),
        themes.themes.len().max(2),
        peer("sklearn_ari").map_or_else(|| "–".into(), |a| format!("{a:.3}"))
    );
    println!("themes: {}", themes.explanation);
    Ok(())
}
