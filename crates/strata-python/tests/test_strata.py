"""The Python package against the CLI: the same memberships and features on
the demo and on the development base (shared/devset), errors as exceptions
with strata's messages, the GIL released during runs, Ctrl-C, progress.

Needs the `strata` CLI built from the same checkout (STRATA_BIN, which
.ci/run sets); without it the tests skip, loudly, unless STRATA_REQUIRE_E2E=1.
"""
import _thread
import csv
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import strata

STRATA_BIN = os.environ.get("STRATA_BIN")
REPO = Path(__file__).resolve().parents[3]
DEVSET = Path(os.environ.get("STRATA_DEVSET", REPO.parent / "shared" / "devset"))
REQUIRED = os.environ.get("STRATA_REQUIRE_E2E") == "1"


def cli(*args):
    if not STRATA_BIN:
        message = "STRATA_BIN (the strata CLI of this checkout) is not set"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.run([STRATA_BIN, *map(str, args)], check=True, capture_output=True, text=True)


def cli_outputs(project: Path, out: Path):
    cli("run", "--project", project, "--out", out, "--no-store", "--quick-report")
    with open(out / "memberships.csv", newline="") as f:
        memberships = [tuple(row) for row in csv.reader(f)][1:]
    features = pq.read_table(out / "features.parquet")
    segments = json.loads((out / "segments.json").read_text())
    return memberships, features, segments


def assert_same_as_cli(result: strata.RunResult, project: Path, out: Path):
    memberships, features, segments = cli_outputs(project, out)
    rows = zip(
        result.memberships.column("account_id").to_pylist(),
        result.memberships.column("segmentation").to_pylist(),
        result.memberships.column("segment").to_pylist(),
    )
    assert [(a, s, g or "") for a, s, g in rows] == memberships
    assert result.features.schema.names == features.schema.names
    assert result.features.equals(features), "features differ from features.parquet"
    assert result.segments == segments


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    cli("demo", "--out", folder, "--accounts", "400", "--no-run")
    return folder


@pytest.fixture(scope="session")
def devset(tmp_path_factory) -> Path:
    if not (DEVSET / "accounts.csv").exists():
        message = f"the development base is not at {DEVSET} (set STRATA_DEVSET)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("devset")
    for name in ["accounts.csv", "events.parquet", "revenue.csv", "feedback.csv"]:
        (folder / name).symlink_to(DEVSET / name)
    cli("init", folder)
    return folder


def test_demo_run_gives_the_cli_outputs(demo, tmp_path):
    project = strata.Project(demo)
    assert project.path == demo / "strata.toml"
    assert "size" in project.segmentations
    result = project.run(progress=False)
    assert result.features.num_rows == 400
    assert result.memberships.num_rows == 400 * len(project.segmentations)
    assert result.memberships.schema.field("segment").nullable
    assert_same_as_cli(result, demo, tmp_path / "cli")
    size = result.membership("size")
    assert size.num_rows == 400 and size.column_names == ["account_id", "segment"]
    with pytest.raises(KeyError, match="no segmentation 'sise'"):
        result.membership("sise")
    # pandas and polars read the same tables
    pytest.importorskip("pandas")
    frame = result.memberships.to_pandas()
    assert len(frame) == result.memberships.num_rows


def test_devset_run_gives_the_cli_outputs(devset, tmp_path):
    result = strata.Project(devset).run(as_of="2026-10-31", progress=False)
    assert result.features.num_rows == 2000
    assert str(result.as_of) == "2026-10-31"
    assert_same_as_cli(result, devset, tmp_path / "cli")


def test_run_with_out_and_record_writes_and_records(demo, tmp_path):
    project = strata.Project(demo)
    out = tmp_path / "out"
    result = project.run(out=out, record=True, progress=False)
    names = sorted(p.name for p in result.written)
    assert names == ["features.parquet", "memberships.csv", "report.html", "segments.json"]
    runs = json.loads(cli("runs", "--project", demo, "--json").stdout)
    assert len(runs) >= 1 and runs[0]["status"] in ("ok", "completed", "succeeded")


def test_rule_errors_say_where_and_what_to_do(demo):
    project = strata.Project(demo)
    strata.check_rule("employees > 200 AND active_days_28d >= 10", project)
    with pytest.raises(strata.RuleError) as caught:
        strata.check_rule("employes > 200", project)
    error = caught.value
    assert (error.line, error.column) == (1, 1)
    assert "employees" in error.hint
    assert error.rule == "employes > 200"
    assert "line 1, column 1" in str(error) and "^^^^^^^^" in str(error)
    with pytest.raises(strata.RuleError) as caught:
        strata.check_rule("employees >\n  AND plan = 'pro'", project)
    assert caught.value.line == 2
    assert isinstance(caught.value, strata.StrataError)


def test_bad_projects_and_dates_raise_with_strata_messages(tmp_path, demo):
    with pytest.raises(strata.StrataError, match="project file not found") as caught:
        strata.Project(tmp_path / "nowhere")
    assert "strata init" in str(caught.value)
    (tmp_path / "strata.toml").write_text("[sources]\naccounts = 'missing.csv'\n")
    with pytest.raises(strata.StrataError):
        strata.Project(tmp_path).run(progress=False)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        strata.Project(demo).run(as_of="31/10/2026", progress=False)


def test_progress_reports_every_phase(demo):
    seen = []
    strata.Project(demo).run(progress=lambda label, started: seen.append((label, started)))
    started = [label for label, is_start in seen if is_start]
    assert started[:4] == [
        "loading sources",
        "computing features",
        "assigning segments",
        "measuring segments",
    ], seen


def test_runs_release_the_gil(demo):
    project = strata.Project(demo)
    ticks = 0
    done = threading.Event()

    def run():
        project.run(progress=False)
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    thread.join()
    # With the GIL held for the whole run, the loop would not get to tick.
    assert ticks > 20, ticks


def test_ctrl_c_interrupts_a_run(demo):
    # Python turns SIGINT into KeyboardInterrupt unless the process started
    # with SIGINT ignored (a background job of a non-interactive shell, as CI
    # may be): install Python's handler as an interactive session has it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        interrupted_run(demo)
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupted_run(demo):
    project = strata.Project(demo)

    def interrupt(label, started):
        if started and label == "computing features":
            _thread.interrupt_main()

    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        project.run(progress=interrupt)
    assert time.monotonic() - began < 30
    # The project still works afterwards.
    assert project.run(progress=False).features.num_rows == 400


def test_icp_and_themes(demo):
    project = strata.Project(demo)
    icp = project.icp(days=60, progress=False)
    assert icp["days"] == 60 and icp["as_of"]
    assert len(icp["sql"]) >= 1
    themes = project.themes(progress=False)
    assert themes["as_of"] == icp["as_of"]
    assert "verbatims" in themes


def test_backtest_is_the_cli_backtest(demo):
    report = strata.Project(demo).backtest("health", horizon_days=90, start="2026-03-31")
    cli_report = json.loads(
        cli("backtest", "--project", demo, "--segmentation", "health", "--from", "2026-03-31", "--json").stdout
    )
    assert report == cli_report
    assert report["dates"][0] == "2026-03-31"
    assert sum(s["observed"] for s in report["segments"]) == report["overall"]["observed"]
    with pytest.raises(strata.ProjectError, match="no segmentation `helth`"):
        strata.Project(demo).backtest("helth")
