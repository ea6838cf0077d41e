"""Reads one run folder back for the views (report, MLflow, gate outputs).

harness.record.run_summary owns summary.json and reads it, strictly, into a `RunSummary`; this
module adds what a view needs beside it: every candidate's prediction file and the data card. A
missing or unreadable file is a HarnessError with its path. It deliberately knows nothing about how
a run was produced, how anything is scored, or how a view looks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.record.run_summary import RunSummary, read_run_summary


@dataclass(frozen=True)
class RunFolder:
    """One run as the views see it; `predictions` maps candidate id -> rows in file order."""

    run_dir: Path
    summary: RunSummary
    predictions: Mapping[str, tuple[Mapping[str, Any], ...]]
    data_card: str


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
    summary = read_run_summary(run_dir)
    predictions = {cid: read_predictions(run_dir, entry.predictions_file) for cid, entry in summary.candidates.items()}
    card_path = run_dir / summary.data.card_file
    if not card_path.is_file():
        raise HarnessError("data card is missing", str(card_path),
                           "the run folder is incomplete; re-run the comparison")
    return RunFolder(run_dir, summary, predictions, card_path.read_text(encoding="utf-8"))
