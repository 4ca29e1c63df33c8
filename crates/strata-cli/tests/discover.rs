//! End-to-end tests of `strata discover` and `kind = "clusters"`: explore,
//! freeze as rules, run the frozen rules, check for drift, and every bad
//! clusters definition.
mod util;

use std::collections::BTreeMap;

use util::Dir;

/// A demo project of `accounts` accounts, generated but not run.
fn demo(accounts: &str) -> Dir {
    let dir = Dir::new();
    dir.command(&["demo", "--out", ".", "--accounts", accounts, "--no-run"])
        .success();
    dir
}

/// `account_id -> segment` of one segmentation in `out/memberships.csv`.
fn memberships(dir: &Dir, segmentation: &str) -> BTreeMap<String, String> {
    dir.read("out/memberships.csv")
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.splitn(3, ',').collect();
            (fields[1] == segmentation).then(|| (fields[0].to_string(), fields[2].to_string()))
        })
        .collect()
}

#[test]
fn discover_freeze_run_and_check() {
    let dir = demo("900");

    // Explore: the per-k table, the choice and why, the named clusters.
    let stdout = dir.command(&["discover"]).stdout();
    for expected in [
        "silhouette",
        "stability (ARI)",
        "◀",
        "chosen: k = ",
        "Integration-dependent: API share (28d)",
        "Dormant / declining",
        "quality: cohesion",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    assert!(!stdout.contains("Cluster 1"), "{stdout}");

    // Freeze the same clustering as the project's `behavior` segmentation
    // (same features, k and seed) under a new name.
    let before = dir.read("strata.toml");
    let (_, stderr) = dir
        .command(&["discover", "--freeze", "behavior_v1"])
        .success();
    assert!(stderr.contains("froze"), "{stderr}");
    let after = dir.read("strata.toml");
    assert!(
        after.starts_with(&before),
        "the project file was rewritten, not appended to"
    );
    assert!(after.contains("name = \"behavior_v1\""));
    assert!(after.contains("model = \"models/behavior_v1.json\""));
    assert!(
        after.contains("LN(1 + LEAST(GREATEST(COALESCE(events_28d"),
        "{after}"
    );
    assert!(dir.root.join("models/behavior_v1.json").exists());
    let sql = dir.read("models/behavior_v1.sql");
    assert!(sql.contains("SELECT account_id,\n  CASE WHEN"), "{sql}");
    assert!(sql.contains("THEN 'Dormant / declining'"), "{sql}");

    // The frozen rules put every account where the clustering does.
    dir.command(&["run", "--out", "out"]).stdout();
    let clustered = memberships(&dir, "behavior");
    let frozen = memberships(&dir, "behavior_v1");
    assert_eq!(clustered.len(), 900);
    let disagreements = clustered
        .iter()
        .filter(|(account, segment)| frozen.get(*account) != Some(*segment))
        .count();
    assert!(disagreements <= 1, "{disagreements} accounts differ");

    // segments.json carries quality for every segmentation, the clustering's
    // choice of k, and the NRR spread.
    let json: serde_json::Value =
        serde_json::from_str(&dir.read("out/segments.json")).expect("segments.json");
    for segmentation in json["segmentations"].as_array().expect("segmentations") {
        assert!(
            segmentation["quality"]["score"].is_number()
                || segmentation["quality"]["score"].is_null()
        );
        assert!(
            segmentation["quality"]["revenue_concentration"].is_number(),
            "{segmentation}"
        );
        for segment in segmentation["segments"].as_array().expect("segments") {
            assert!(segment["quality"]["revenue_share"].is_number(), "{segment}");
            if segment["accounts"].as_u64().unwrap_or_default() > 0 {
                let narrative = segment["persona"]["narrative"].as_str().unwrap_or_default();
                assert!(narrative.starts_with("Typically a"), "{segment}");
                assert!(
                    segment["persona"]["traits"]
                        .as_array()
                        .is_some_and(|t| !t.is_empty())
                );
            }
        }
    }
    let behavior = &json["segmentations"]
        .as_array()
        .expect("segmentations")
        .iter()
        .find(|s| s["name"] == "behavior")
        .expect("behavior")["clustering"];
    assert_eq!(behavior["scores"].as_array().map(Vec::len), Some(7));
    assert!(
        json["nrr_spread"]["spread_points"].is_number(),
        "{}",
        json["nrr_spread"]
    );

    // Freezing under a taken name fails and changes nothing.
    let stderr = dir
        .command(&["discover", "--freeze", "behavior_v1"])
        .failure();
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(dir.read("strata.toml"), after);

    // Today's data is the data it was frozen on: nothing drifted.
    let stdout = dir.command(&["discover", "--check"]).stdout();
    assert!(
        stdout.contains("agreement with a fresh fit ARI 1.000"),
        "{stdout}"
    );
    assert!(stdout.contains("still good"), "{stdout}");

    // Move one frozen centroid far away: the check and the run say refresh.
    let model_path = "models/behavior_v1.json";
    let mut model: serde_json::Value = serde_json::from_str(&dir.read(model_path)).expect("model");
    let values = model["centroids"]["values"]
        .as_array_mut()
        .expect("centroid values");
    for value in values.iter_mut().take(5) {
        *value = serde_json::json!(value.as_f64().expect("number") + 3.0);
    }
    dir.create(model_path, &model.to_string());
    let stdout = dir.command(&["discover", "--check"]).stdout();
    assert!(stdout.contains("REFRESH"), "{stdout}");
    assert!(stdout.contains("moved"), "{stdout}");
    let (_, stderr) = dir.command(&["run", "--out", "out"]).success();
    assert!(
        stderr.contains("segmentation `behavior_v1`: should be refreshed"),
        "{stderr}"
    );

    // A model file that is not one is a warning in a run, not a crash.
    dir.create(model_path, "{ not json");
    let (_, stderr) = dir.command(&["run", "--out", "out"]).success();
    assert!(
        stderr.contains("cannot compare with its frozen model"),
        "{stderr}"
    );
}

#[test]
fn bad_clusters_definitions_are_located_errors() {
    let dir = Dir::fixture("tiny");
    let add = |text: &str| {
        let project = dir.read("strata.toml");
        dir.create("strata.toml", &format!("{project}\n{text}"));
    };
    add(
        "[[segmentation]]\nname = \"b\"\nkind = \"clusters\"\nfeatures = [\"events_28d\", \"actve_days_28d\", \"industry\"]\nk = 1\nweights = { api_share = 2.0 }\n",
    );
    let stderr = dir.command(&["validate"]).failure();
    assert!(
        stderr.contains("segmentation `b`: k: k = 1 is out of range 2..=20"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`api_share` has a weight but is not in `features`"),
        "{stderr}"
    );

    let dir = Dir::fixture("tiny");
    let project = dir.read("strata.toml");
    dir.create(
        "strata.toml",
        &format!("{project}\n[[segmentation]]\nname = \"b\"\nkind = \"clusters\"\nfeatures = [\"events_28d\", \"actve_days_28d\", \"industry\"]\nk = \"many\"\n"),
    );
    let stderr = dir.command(&["validate"]).failure();
    assert!(
        stderr.contains("`many` is neither \"auto\" nor a number"),
        "{stderr}"
    );

    let dir = Dir::fixture("tiny");
    let project = dir.read("strata.toml");
    dir.create(
        "strata.toml",
        &format!("{project}\n[[segmentation]]\nname = \"b\"\nkind = \"clusters\"\nfeatures = [\"events_28d\", \"actve_days_28d\", \"industry\"]\n"),
    );
    let stderr = dir.command(&["validate"]).failure();
    assert!(
        stderr.contains("did you mean `active_days_28d`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`industry` is not a numeric feature (it is text)"),
        "{stderr}"
    );

    // Rules keys on a clusters segmentation and the reverse.
    let dir = Dir::fixture("tiny");
    dir.edit(
        "strata.toml",
        "name = \"size\"\nkind = \"rules\"",
        "name = \"size\"\nkind = \"rules\"\nk = 3",
    );
    let stderr = dir.command(&["validate"]).failure();
    assert!(
        stderr.contains("`k` belongs to kind = \"clusters\""),
        "{stderr}"
    );

    // Four accounts cannot make an automatic clustering worth having, but the
    // run goes on with the other segmentations and says why.
    let dir = Dir::fixture("tiny");
    let project = dir.read("strata.toml");
    dir.create(
        "strata.toml",
        &format!("{project}\n[[segmentation]]\nname = \"b\"\nkind = \"clusters\"\nk = 8\n"),
    );
    let (stdout, stderr) = dir.command(&["run", "--out", "out"]).success();
    assert!(stderr.contains("segmentation `b`"), "{stderr}");
    assert!(stdout.contains("size (rules)"), "{stdout}");
    assert!(dir.read("out/memberships.csv").contains("a1,b,\n"));
}
