"""strata for Python: customer segmentation over Arrow.

    import strata
    project = strata.Project("path/to/project")      # reads and checks strata.toml
    result = project.run(as_of="2026-10-31")          # nothing written, nothing recorded
    result.memberships   # pyarrow.Table: account_id, segmentation, segment (null: none)
    result.features      # pyarrow.Table: the columns of features.parquet
    result.segments      # dict: the segments.json document
    strata.check_rule("employees > 200", project)    # raises strata.RuleError

Runs release the GIL and stop on Ctrl-C (KeyboardInterrupt). Errors are
strata.StrataError (strata.ProjectError for the project file and data,
strata.RuleError for rules) with strata's own messages.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import date
from os import PathLike
from pathlib import Path
from typing import Any, Callable, Optional, Union

import pyarrow as pa

from . import _strata
from ._strata import ProjectError, RuleError, StrataError

__version__ = _strata.__version__
__all__ = [
    "Project",
    "RunResult",
    "check_rule",
    "StrataError",
    "ProjectError",
    "RuleError",
]

Progress = Union[bool, Callable[[str, bool], None], None]


@dataclass
class RunResult:
    """What a run computed: memberships and features as Arrow tables, the
    segments document as a dict."""

    as_of: date
    memberships: pa.Table
    features: pa.Table
    segments: dict
    written: list = field(default_factory=list)

    def membership(self, segmentation: str) -> pa.Table:
        """`account_id, segment` of one segmentation."""
        import pyarrow.compute as pc

        names = self.memberships.column("segmentation")
        if not pc.any(pc.equal(names, segmentation)).as_py():
            known = sorted(set(names.to_pylist()))
            raise KeyError(f"no segmentation {segmentation!r}; the run has {', '.join(known)}")
        rows = self.memberships.filter(pc.equal(names, segmentation))
        return rows.select(["account_id", "segment"])

    def __repr__(self) -> str:
        return (
            f"RunResult(as_of={self.as_of}, accounts={self.features.num_rows}, "
            f"segmentations={[s['name'] for s in self.segments.get('segmentations', [])]})"
        )


def _observer(progress: Progress) -> Optional[Callable[[str, bool], None]]:
    """A phase callback: a tqdm bar (notebook-aware) when tqdm is installed,
    else one line per phase on stderr; a callable is used as it is."""
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    try:
        from tqdm.auto import tqdm
    except ImportError:
        def log(label: str, started: bool) -> None:
            if started:
                print(f"strata: {label}...", file=sys.stderr, flush=True)

        return log
    bar = tqdm(total=None, unit=" phases", desc="strata", leave=False)

    def advance(label: str, started: bool) -> None:
        if started:
            bar.set_description(f"strata: {label}")
        else:
            bar.update(1)

    advance.close = bar.close  # type: ignore[attr-defined]
    return advance


def _close(observer: Any) -> None:
    close = getattr(observer, "close", None)
    if close is not None:
        close()


def _date_text(as_of: Union[str, date, None]) -> Optional[str]:
    if as_of is None or isinstance(as_of, str):
        return as_of
    return as_of.isoformat()


class Project:
    """A strata project: `path` is a folder holding strata.toml, or the file."""

    def __init__(self, path: Union[str, PathLike]):
        self._project = _strata.Project(Path(path))

    @property
    def path(self) -> Path:
        """The project file."""
        return Path(self._project.path)

    @property
    def segmentations(self) -> list:
        """The segmentations' names, in project order."""
        return list(self._project.segmentations)

    def __repr__(self) -> str:
        return f"strata.Project({str(self.path)!r})"

    def run(
        self,
        as_of: Union[str, date, None] = None,
        record: bool = False,
        out: Union[str, PathLike, None] = None,
        report: bool = False,
        progress: Progress = True,
    ) -> RunResult:
        """Computes features, memberships and the segments' measures.

        as_of: the date to run at (default: the project's). record: also
        record the run in the state store (transitions, deliveries), as
        `strata run` does. out: also write memberships.csv, features.parquet,
        segments.json and report.html there (default with record: the
        project's out/). report: the full report (ICP, cohorts, roadmap).
        """
        observer = _observer(progress)
        try:
            memberships, features, segments, ran_as_of, written = self._project.run(
                as_of=_date_text(as_of),
                record=record,
                out=None if out is None else Path(out),
                report=report,
                progress=observer,
            )
        finally:
            _close(observer)
        return RunResult(
            as_of=date.fromisoformat(ran_as_of),
            memberships=pa.Table.from_batches([memberships]),
            features=pa.Table.from_batches([features]),
            segments=json.loads(segments),
            written=[Path(p) for p in written],
        )

    def icp(
        self,
        days: int = 60,
        as_of: Union[str, date, None] = None,
        min_support: int = 10,
        depth: int = 3,
        top: int = 5,
        progress: Progress = True,
    ) -> dict:
        """The ideal customer profile from what is known `days` after signup:
        the document `strata icp --json` prints (rules, evidence, SQL)."""
        observer = _observer(progress)
        try:
            text = self._project.icp(
                days=days,
                as_of=_date_text(as_of),
                min_support=min_support,
                depth=depth,
                top=top,
                progress=observer,
            )
        finally:
            _close(observer)
        return json.loads(text)

    def themes(
        self,
        k: Optional[int] = None,
        as_of: Union[str, date, None] = None,
        progress: Progress = True,
    ) -> dict:
        """Needs themes in the feedback verbatims: the document `strata themes
        --json` prints."""
        observer = _observer(progress)
        try:
            text = self._project.themes(k=k, as_of=_date_text(as_of), progress=observer)
        finally:
            _close(observer)
        return json.loads(text)

    def backtest(
        self,
        segmentation: str,
        horizon_days: int = 90,
        start: Union[str, date, None] = None,
        every: str = "month",
        as_of: Union[str, date, None] = None,
    ) -> dict:
        """The segmentation recomputed at past dates (every month of the last
        year whose outcomes are known, or from `start`) under today's
        definitions, against what happened `horizon_days` later: the document
        `strata backtest --json` prints (per segment: churned, contracted,
        expanded with 95% intervals; churn recall and lift; warnings)."""
        text = self._project.backtest(
            segmentation,
            horizon_days=horizon_days,
            start=_date_text(start),
            every=every,
            as_of=_date_text(as_of),
        )
        return json.loads(text)

    def check_rule(self, rule: str) -> None:
        """Raises RuleError (with .line, .column, .hint) unless `rule` checks
        against this project's accounts and features."""
        self._project.check_rule(rule)


def check_rule(rule: str, project: Project) -> None:
    """Raises RuleError (with .line, .column, .hint) unless `rule` checks
    against the project's accounts and features."""
    project.check_rule(rule)
