//! Behavioral discovery on generated data: the clusters strata finds must
//! recover the generator's hidden archetypes, and a clustering frozen as
//! rules must assign accounts exactly as the model does.
use std::collections::HashMap;

use strata_core::demo::{self, DemoParams};
use strata_core::ml::adjusted_rand_index;
use strata_core::pipeline::{self, RunOptions, RunResult};
use strata_core::project::Project;
use strata_core::rules::ToDataFusion;

/// A demo base of `n_accounts` with its project file.
fn demo_project(dir: &std::path::Path, n_accounts: usize) -> Project {
    let params = DemoParams {
        n_accounts,
        ..DemoParams::default()
    };
    demo::generate(&dir.join("data"), &params, &mut |_, _| {}).expect("demo data");
    std::fs::write(
        dir.join("strata.toml"),
        demo::project_file(dir, params.as_of).expect("project text"),
    )
    .expect("project file");
    Project::load(dir).expect("project")
}

#[test]
fn icp_search_finds_the_planted_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = demo_project(dir.path(), 3_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let report = runtime
        .block_on(pipeline::icp(
            &project,
            &RunOptions::default(),
            60,
            &strata_core::icp::IcpParams::default(),
            &pipeline::Quiet,
        ))
        .expect("icp");
    let top = &report.result.rules[0];
    // The generator planted: professional services, 200-500 employees, two
    // or more integrations in the first 60 days.
    assert!(
        top.rule.contains("industry = 'professional_services'"),
        "{}",
        top.rule
    );
    assert!(
        top.rule.contains("integration_connected_first_60d >= 2"),
        "{}",
        top.rule
    );
    assert!(top.lift.is_some_and(|lift| lift > 1.2), "{top:?}");
    let (low, high) = top.lift_ci.expect("interval");
    assert!(low > 1.0 && low <= top.lift.unwrap_or(0.0) && top.lift.unwrap_or(0.0) <= high);
    assert!(
        report.sql[0].contains("\"integration_connected_first_60d\" >= 2"),
        "{}",
        report.sql[0]
    );

    // Its members are the planted accounts (Jaccard >= 0.6).
    let truth = std::fs::read_to_string(dir.path().join("data/truth.csv")).expect("truth");
    let planted: std::collections::BTreeSet<String> = truth
        .lines()
        .skip(1)
        .filter(|line| line.split(',').nth(3) == Some("true"))
        .map(|line| line.split(',').next().unwrap_or_default().to_string())
        .collect();
    // The rule reads early-adoption counts the search computed; declare
    // them, as `strata icp --save` does, so that the run computes them too.
    let declared: String = report
        .early_features
        .iter()
        .map(|(name, filter)| {
            format!("{name} = {{ count = {filter:?}, within_days_of_signup = 60 }}\n")
        })
        .collect();
    let path = dir.path().join("strata.toml");
    let text = std::fs::read_to_string(&path).expect("project text");
    let text = text.replacen("[features]\n", &format!("[features]\n{declared}"), 1);
    // The search's generic adoption attributes (active_days_first_60d,
    // events_first_60d) look at its 60 days, so the run must too.
    let text = text.replacen("adoption_days = 30", "adoption_days = 60", 1);
    std::fs::write(&path, text).expect("project file");
    let project = Project::load(dir.path()).expect("project with early features");
    let result = runtime
        .block_on(pipeline::run(
            &project,
            &RunOptions::default(),
            &pipeline::Quiet,
        ))
        .expect("run");
    let schema = result.features.rule_schema();
    let rule = strata_core::rules::check_predicate(&top.rule, &schema).expect("rule");
    let ctx = datafusion::prelude::SessionContext::new();
    let ids = result.account_ids();
    let matched: Vec<bool> = runtime
        .block_on(async {
            ctx.read_batch(result.features.batch.clone())?
                .select(vec![rule.to_datafusion().alias("m")])?
                .collect()
                .await
        })
        .expect("evaluate")
        .iter()
        .flat_map(|batch| {
            use datafusion::arrow::array::{Array, AsArray};
            let column = batch.column(0).as_boolean().clone();
            (0..column.len())
                .map(|i| column.is_valid(i) && column.value(i))
                .collect::<Vec<_>>()
        })
        .collect();
    let members: std::collections::BTreeSet<String> = ids
        .iter()
        .zip(&matched)
        .filter(|(_, m)| **m)
        .map(|(id, _)| id.clone())
        .collect();
    let jaccard =
        members.intersection(&planted).count() as f64 / members.union(&planted).count() as f64;
    assert!(
        jaccard >= 0.6,
        "Jaccard {jaccard}: {} members, {} planted",
        members.len(),
        planted.len()
    );
}

/// A demo base of `n_accounts` with its project file, run through the pipeline.
fn demo_run(dir: &std::path::Path, n_accounts: usize) -> RunResult {
    let project = demo_project(dir, n_accounts);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime
        .block_on(pipeline::run(
            &project,
            &RunOptions::default(),
            &pipeline::Quiet,
        ))
        .expect("run")
}

/// The generator's behavior of every account (its archetype, or dormant
/// once a churn has faded its usage), in feature-table order.
fn truth_behaviors(dir: &std::path::Path, account_ids: &[String]) -> Vec<usize> {
    let text = std::fs::read_to_string(dir.join("data/truth.csv")).expect("truth.csv");
    let mut names: Vec<String> = Vec::new();
    let mut by_account: HashMap<String, usize> = HashMap::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let archetype = fields[4].to_string();
        let idx = match names.iter().position(|n| *n == archetype) {
            Some(idx) => idx,
            None => {
                names.push(archetype);
                names.len() - 1
            }
        };
        by_account.insert(fields[0].to_string(), idx);
    }
    account_ids.iter().map(|id| by_account[id]).collect()
}

#[test]
fn clusters_recover_the_hidden_archetypes_and_freeze_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let result = demo_run(dir.path(), 1_500);
    let behavior = result
        .segmentations
        .iter()
        .find(|s| s.name == "behavior")
        .expect("behavior segmentation");
    assert_eq!(behavior.kind, "clusters");
    let clustering = behavior.clustering.as_ref().expect("clustering summary");
    assert_eq!(clustering.scores.len(), 7, "k = 2..8 are all tried");
    assert_eq!(clustering.k, 4, "{}", clustering.explanation);

    // Every account is in a cluster; the clusters are the archetypes.
    let labels: Vec<usize> = behavior
        .membership
        .iter()
        .map(|m| m.expect("every account clustered"))
        .collect();
    let truth = truth_behaviors(dir.path(), &result.account_ids());
    let ari = adjusted_rand_index(&labels, &truth).expect("ari");
    assert!(ari >= 0.8, "ARI {ari} between clusters and archetypes");

    // The names are the vocabulary's, one per archetype.
    let mut names: Vec<&str> = behavior.segments.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "Casual adopters",
            "Dormant / declining",
            "Integration-dependent",
            "Power users"
        ],
        "{:#?}",
        behavior
            .segments
            .iter()
            .map(|s| &s.description)
            .collect::<Vec<_>>()
    );

    // Quality is measured for every segmentation, clusters and rules alike.
    for segmentation in &result.segmentations {
        let quality = &segmentation.quality;
        assert!(quality.cohesion.is_some(), "{}", segmentation.name);
        assert!(quality.detectability.is_some(), "{}", segmentation.name);
        assert!(
            quality
                .detectability
                .is_some_and(|d| (0.0..=1.0).contains(&d)),
            "{}",
            segmentation.name
        );
    }
    // Company size is decided by employees, a signup attribute: a tree finds it.
    let size = result
        .segmentations
        .iter()
        .find(|s| s.name == "size")
        .expect("size");
    assert!(
        size.quality.detectability.is_some_and(|d| d > 0.95),
        "{:?}",
        size.quality
    );

    // The NRR spread is measured, with its tier.
    assert!(result.nrr_spread.spread_points.is_some());
    assert!(result.nrr_spread.tier.is_some());

    // Nearest-centroid rules assign like the model: evaluate them on the
    // feature table with the rule engine.
    let discovery = behavior.discovery.as_ref().expect("discovery");
    let rules = strata_core::discover::freeze::rules(&discovery.model);
    let schema = result.features.rule_schema();
    let ctx = datafusion::prelude::SessionContext::new();
    let mut expr: Option<datafusion::logical_expr::Expr> = None;
    for (idx, rule) in rules.iter().enumerate().rev() {
        let checked = strata_core::rules::check_predicate(rule, &schema).expect("rule checks");
        let then = datafusion::logical_expr::lit(idx as i64);
        expr = Some(match expr {
            None => then,
            Some(otherwise) => datafusion::logical_expr::when(checked.to_datafusion(), then)
                .otherwise(otherwise)
                .expect("case"),
        });
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let batches = runtime
        .block_on(async {
            ctx.read_batch(result.features.batch.clone())?
                .select(vec![expr.expect("rules").alias("segment")])?
                .collect()
                .await
        })
        .expect("rules evaluate");
    use datafusion::arrow::array::AsArray;
    let by_rules: Vec<usize> = batches
        .iter()
        .flat_map(|batch| {
            batch
                .column(0)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .values()
                .iter()
                .map(|&v| v as usize)
                .collect::<Vec<_>>()
        })
        .collect();
    let disagreements = by_rules.iter().zip(&labels).filter(|(a, b)| a != b).count();
    assert!(
        disagreements * 1000 <= labels.len(),
        "{disagreements} of {} accounts assigned differently by the frozen rules",
        labels.len()
    );

    // The same rules as SQL text, run by a SQL engine over a `features` table.
    let sql = strata_core::discover::freeze::sql_case(&discovery.model).expect("sql");
    assert!(sql.starts_with("CASE WHEN"), "{sql}");
    let names: Vec<String> = runtime
        .block_on(async {
            ctx.register_batch("features", result.features.batch.clone())?;
            ctx.sql(&format!("SELECT {sql} AS segment FROM features"))
                .await?
                .collect()
                .await
        })
        .expect("the SQL runs")
        .iter()
        .flat_map(|batch| {
            let column = datafusion::arrow::compute::cast(
                batch.column(0),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .expect("text");
            column
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let by_sql_disagreements = names
        .iter()
        .zip(&labels)
        .filter(|(name, label)| **name != behavior.segments[**label].name)
        .count();
    assert!(
        by_sql_disagreements * 1000 <= labels.len(),
        "{by_sql_disagreements} differ by SQL"
    );
}

#[test]
fn themes_recover_the_needs_behind_the_verbatims() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = demo_project(dir.path(), 1_500);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let report = runtime
        .block_on(pipeline::themes(
            &project,
            &RunOptions::default(),
            None,
            &pipeline::Quiet,
        ))
        .expect("themes");
    assert!(
        !report.themes.themes.is_empty(),
        "{} {:?}",
        report.themes.explanation,
        report.themes.scores
    );
    // Each verbatim's theme vs the need the generator wrote it about.
    let truth =
        std::fs::read_to_string(dir.path().join("data/truth_verbatims.csv")).expect("truth");
    let need_of_row: std::collections::HashMap<usize, String> = truth
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (row, need) = line.split_once(',')?;
            Some((row.parse().ok()?, need.to_string()))
        })
        .collect();
    let mut needs: Vec<String> = Vec::new();
    let (mut found, mut planted) = (Vec::new(), Vec::new());
    for (label, row) in report.themes.labels.iter().zip(&report.verbatim_rows) {
        let (Some(label), Some(need)) = (label, need_of_row.get(row)) else {
            continue;
        };
        found.push(*label);
        planted.push(needs.iter().position(|n| n == need).unwrap_or_else(|| {
            needs.push(need.clone());
            needs.len() - 1
        }));
    }
    assert!(
        found.len() * 10 >= report.verbatim_rows.len() * 9,
        "most verbatims get a theme"
    );
    let names: Vec<&str> = report
        .themes
        .themes
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let ari = adjusted_rand_index(&found, &planted).expect("ari");
    eprintln!(
        "demo themes: {} of {} verbatims labelled, ARI {ari:.3}; {}",
        found.len(),
        report.verbatim_rows.len(),
        report.themes.explanation
    );
    assert!(
        ari >= 0.7,
        "ARI {ari}; themes {names:?}; {}",
        report.themes.explanation
    );
    // Accounts without verbatims are unassigned, not guessed.
    let with_text: std::collections::BTreeSet<usize> = (0..report.verbatim_rows.len()).collect();
    assert!(with_text.len() <= report.account_themes.len() * 10);
    assert!(report.account_themes.iter().any(Option::is_none));
}

/// The learned risks read no event after a snapshot's date and no revenue
/// after its month: every past date's feature table equals the table
/// computed from copies of the data cut at that date (issue 22, "no
/// leakage"). A feature that peeked past its date would differ.
#[test]
fn risk_snapshots_read_nothing_after_their_date() {
    use strata_core::features;
    use strata_core::project::risk::RiskSettings;
    let dir = tempfile::tempdir().expect("tempdir");
    let project = demo_project(dir.path(), 400);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let inputs = pipeline::risk_inputs(&project, &RunOptions::default())
            .await
            .expect("inputs");
        let settings = RiskSettings {
            history_months: 6,
            ..RiskSettings::default()
        };
        let snapshots = inputs
            .snapshots(&project, &settings, &mut |_, _| {})
            .await
            .expect("snapshots");
        assert_eq!(snapshots.len(), 6);
        // As of 2026-10-31, 90 days ahead: the last date whose outcome is
        // observed is 2026-07-31, each date a month end.
        assert_eq!(snapshots[5].date.to_string(), "2026-07-31");
        assert_eq!(snapshots[0].date.to_string(), "2026-02-28");
        for snapshot in [&snapshots[0], &snapshots[3]] {
            let date = snapshot.date;
            assert!(!snapshot.rows.is_empty());
            // The data cut at the end of `date` (events) and its month (revenue).
            let cut = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir_all(cut.path().join("data")).expect("data dir");
            let ctx = datafusion::prelude::SessionContext::new();
            let data = dir.path().join("data");
            ctx.register_parquet(
                "events",
                data.join("events.parquet").to_str().expect("path"),
                Default::default(),
            )
            .await
            .expect("events");
            let next_day = date.succ_opt().expect("next day");
            let events = ctx
                .sql(&format!(
                    "SELECT * FROM events WHERE ts < TIMESTAMP '{next_day}T00:00:00Z'"
                ))
                .await
                .expect("cut events");
            events
                .write_parquet(
                    cut.path()
                        .join("data/events.parquet")
                        .to_str()
                        .expect("path"),
                    datafusion::dataframe::DataFrameWriteOptions::new()
                        .with_single_file_output(true),
                    None,
                )
                .await
                .expect("write events");
            let revenue = std::fs::read_to_string(data.join("revenue.csv")).expect("revenue");
            let month = date.format("%Y-%m-01").to_string();
            let kept: Vec<&str> = revenue
                .lines()
                .enumerate()
                .filter(|(i, line)| {
                    *i == 0 || line.split(',').nth(1).is_some_and(|m| m <= month.as_str())
                })
                .map(|(_, line)| line)
                .collect();
            assert!(
                kept.len() < revenue.lines().count(),
                "the cut drops later months"
            );
            std::fs::write(cut.path().join("data/revenue.csv"), kept.join("\n") + "\n")
                .expect("write revenue");
            for table in ["accounts.csv", "feedback.csv"] {
                std::fs::copy(data.join(table), cut.path().join("data").join(table)).expect("copy");
            }
            std::fs::write(
                cut.path().join("strata.toml"),
                demo::project_file(cut.path(), date).expect("project text"),
            )
            .expect("project file");
            let cut_project = Project::load(cut.path()).expect("cut project");
            let ctx = pipeline::session(&cut_project).expect("session");
            let sources = strata_core::sources::load(&ctx, &cut_project)
                .await
                .expect("cut sources");
            let table = features::compute_with(
                &ctx,
                &cut_project,
                &sources,
                pipeline::day_number(date),
                Some(inputs.features.top_events.clone()),
                None,
            )
            .await
            .expect("cut features");
            assert_eq!(table.batch.schema(), snapshot.table.batch.schema());
            for (idx, field) in table.batch.schema().fields().iter().enumerate() {
                assert_eq!(
                    table.batch.column(idx).as_ref(),
                    snapshot.table.batch.column(idx).as_ref(),
                    "feature `{}` at {date} differs from the data cut at that date",
                    field.name()
                );
            }
        }
    });
}
