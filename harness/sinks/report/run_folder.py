"""Reads one run folder back for the views (report, MLflow, gate outputs) and checks its shape.

harness.record.run_record owns the run folder and reads summary.json; this module adds what a view needs:
the schema version and every required section checked up front, `required` to reach into the
summary with a KeyError naming the whole missing path, `optional` for the sections a run may lack
(`adapter_checks`, `adapter`, `guided_audit`), and the prediction files and data card. A missing or
unreadable file is a HarnessError with its path. It deliberately knows nothing about how a run was
produced, how anything is scored, or how a view looks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.record import run_record
from harness.errors import HarnessError

REQUIRED_SECTIONS = ("schema_version", "task", "run_id", "created_at", "split", "verdict", "gate",
                     "candidates", "metric_defs", "comparisons", "baseline_selection",
                     "prompt_search", "cost", "engine", "data", "environment")
OPTIONAL_SECTIONS = ("adapter_checks", "adapter", "guided_audit", "slices", "regression")


@dataclass(frozen=True)
class RunFolder:
    """One run as the views see it; `predictions` maps candidate id -> rows in file order."""

    run_dir: Path
    summary: Mapping[str, Any]
    predictions: Mapping[str, tuple[Mapping[str, Any], ...]]
    data_card: str


def required(summary: Mapping[str, Any], *path: str) -> Any:
    """summary[path[0]][path[1]]...; KeyError naming the whole path when any step is missing."""
    node: Any = summary
    for depth, key in enumerate(path):
        if not isinstance(node, Mapping) or key not in node:
            raise KeyError(f"summary.json has no required {'.'.join(path)!r}: "
                           f"{'.'.join(path[: depth + 1])!r} is missing (schema_version 1)")
        node = node[key]
    return node


def optional(summary: Mapping[str, Any], section: str) -> Mapping[str, Any] | None:
    """An optional top-level section, or None when the run did not record it."""
    if section not in OPTIONAL_SECTIONS:
        raise KeyError(f"{section!r} is not an optional section of summary.json")
    return summary.get(section)


def read_summary(run_dir: Path) -> dict[str, Any]:
    """summary.json of a run folder, with its schema version and required sections checked."""
    path = run_dir / "summary.json"
    summary = run_record.read_summary(run_dir)
    missing = [name for name in REQUIRED_SECTIONS if name not in summary]
    if missing:
        raise KeyError(f"{path} has no required section(s) {missing} (schema_version 1)")
    if summary["schema_version"] != run_record.SCHEMA_VERSION:
        raise HarnessError(f"schema_version is {summary['schema_version']!r}, this harness reads "
                           f"{run_record.SCHEMA_VERSION}", str(path),
                           "re-run the comparison with this harness")
    return summary


def read_predictions(run_dir: Path, relative: str) -> tuple[dict[str, Any], ...]:
    """Every row of one prediction file (JSON lines), in file order."""
    path = run_dir / relative
    if not path.is_file():
        raise HarnessError("prediction file is missing", str(path),
                           "the run folder is incomplete; re-run the comparison")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise HarnessError(f"line is not JSON ({error.msg})", f"{path}:{number}",
                                   "the file is corrupt; re-run the comparison") from error
    return tuple(rows)


def load_run_folder(run_dir: Path) -> RunFolder:
    """The summary, every candidate's predictions and the data card of one run folder."""
    summary = read_summary(run_dir)
    predictions = {cid: read_predictions(run_dir, required(summary, "candidates", cid,
                                                           "predictions_file"))
                   for cid in summary["candidates"]}
    card_path = run_dir / required(summary, "data", "card_file")
    if not card_path.is_file():
        raise HarnessError("data card is missing", str(card_path),
                           "the run folder is incomplete; re-run the comparison")
    return RunFolder(run_dir, summary, predictions, card_path.read_text(encoding="utf-8"))

