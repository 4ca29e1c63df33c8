//! The Python package (`crates/strata-python`): its pytest suite, run
//! against the extension module this very build produced (strata-python is
//! a dev-dependency of this crate, so `cargo test --workspace` compiles it
//! with the workspace's features, in the dev profile) and the `strata`
//! binary of the same build. The suite compares the package's memberships,
//! features and segments with the CLI's on the demo and on shared/devset,
//! and checks errors, the released GIL, Ctrl-C and progress (issue 24).
mod util;

use std::path::Path;
use std::process::Command;

use util::Dir;

#[test]
fn python_package_passes_its_pytest_suite() {
    let Some(python) = util::python_with(
        &["pytest", "pyarrow", "pandas"],
        "Python package's pytest suite",
    ) else {
        return;
    };
    // Dependencies' artifacts sit beside this test binary.
    let deps = std::env::current_exe()
        .expect("test binary")
        .parent()
        .expect("its folder")
        .to_path_buf();
    let extension = deps.join("lib_strata.so");
    assert!(
        extension.exists(),
        "the extension module was not built at {}",
        extension.display()
    );
    let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("../strata-python");
    // An installed package's layout: strata/__init__.py beside strata/_strata.abi3.so.
    let stage = Dir::new();
    let target = stage.root.join("strata");
    std::fs::create_dir_all(&target).expect("stage folder");
    for entry in std::fs::read_dir(package.join("python/strata")).expect("python sources") {
        let entry = entry.expect("entry");
        if entry.path().extension().is_some_and(|e| e == "py") {
            std::fs::copy(entry.path(), target.join(entry.file_name())).expect("copy source");
        }
    }
    std::fs::copy(&extension, target.join("_strata.abi3.so")).expect("copy the extension");
    let output = Command::new(&python)
        .current_dir(&package)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .env("PYTHONPATH", &stage.root)
        .env("STRATA_BIN", env!("CARGO_BIN_EXE_strata"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pytest failed:\n{stdout}\n{stderr}"
    );
    let summary = stdout.lines().last().unwrap_or_default();
    eprintln!("pytest: {summary}");
    assert!(
        summary.contains("passed") && !summary.contains("skipped"),
        "every Python test runs: {summary}\n{stdout}"
    );
}
