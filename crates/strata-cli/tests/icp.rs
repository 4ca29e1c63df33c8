//! End-to-end tests of `strata icp`: profiles with evidence, `--save`, and
//! the inputs it cannot work with.
mod util;

use util::Dir;

#[test]
fn icp_prints_profiles_and_saves_the_best() {
    let dir = Dir::new();
    dir.command(&["demo", "--out", ".", "--accounts", "1500", "--no-run"])
        .success();
    let stdout = dir.command(&["icp", "--top", "3", "--out", "out"]).stdout();
    let json: serde_json::Value =
        serde_json::from_str(&dir.read("out/icp.json")).expect("icp.json");
    assert_eq!(json["rules"].as_array().map(Vec::len), Some(3));
    assert_eq!(json["sql"].as_array().map(Vec::len), Some(3));
    for expected in [
        "#1 ",
        "NRR in",
        "lift",
        "95% CI",
        "SQL: ",
        "integration_connected_first_60d",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    let (_, stderr) = dir.command(&["icp", "--save", "icp"]).success();
    assert!(
        stderr.contains("saved the best profile as segmentation `icp`"),
        "{stderr}"
    );
    let project = dir.read("strata.toml");
    assert!(project.contains("name = \"icp\""), "{project}");
    dir.command(&["run", "--out", "out"]).stdout();
    assert!(dir.read("out/memberships.csv").contains(",icp,ICP\n"));
    // Saving twice under one name changes nothing.
    let stderr = dir.command(&["icp", "--save", "icp"]).failure();
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(dir.read("strata.toml"), project);
}

#[test]
fn icp_explains_what_it_cannot_do() {
    let dir = Dir::fixture("tiny");
    let stderr = dir.command(&["icp"]).failure();
    assert!(
        stderr.contains("only 3 accounts paid 12 months before as_of; a profile needs at least 20 (twice the minimum support)"),
        "{stderr}"
    );
    assert!(stderr.contains("--min-support"), "{stderr}");

    let dir = Dir::fixture("tiny");
    dir.edit("strata.toml", "revenue = \"revenue.csv\"\n", "");
    let stderr = dir.command(&["icp"]).failure();
    assert!(stderr.contains("no revenue table"), "{stderr}");
}
