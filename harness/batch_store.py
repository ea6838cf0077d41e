"""Where a run keeps each (candidate, split) batch: its raw prediction log and its wall time.

A batch's raw log is appended as requests finish; its wall time (sending, warm-up excluded) is
added up over the sessions that worked on it, so a resumed batch still reports the time spent.
Baseline batches can be copied in from a cache (the gate's cached baseline) and saved back.
This module knows file layout only, nothing of engines or scoring.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from harness.prediction_log import Prediction, read_predictions


class BatchStore:
    """The raw batches of one run folder."""

    def __init__(self, run_dir: Path) -> None:
        self.raw = run_dir / "raw"
        self.raw.mkdir(parents=True, exist_ok=True)

    def log_path(self, candidate: str, split: str) -> Path:
        return self.raw / f"{candidate}.{split}.jsonl"

    def wall_path(self, candidate: str, split: str) -> Path:
        return self.raw / f"{candidate}.{split}.wall.json"

    def add_wall_seconds(self, candidate: str, split: str, seconds: float) -> None:
        total = self.wall_seconds(candidate, split) + seconds
        self.wall_path(candidate, split).write_text(json.dumps({"wall_seconds": total}))

    def wall_seconds(self, candidate: str, split: str) -> float:
        path = self.wall_path(candidate, split)
        return json.loads(path.read_text())["wall_seconds"] if path.is_file() else 0.0

    def predictions(self, candidate: str, split: str) -> dict[str, Prediction]:
        return read_predictions(self.log_path(candidate, split))

    def copy_batch(self, other: BatchStore, candidate: str, split: str) -> bool:
        """Copy one batch from another store (a cached baseline); False when it has none."""
        source = other.log_path(candidate, split)
        if not source.is_file():
            return False
        shutil.copyfile(source, self.log_path(candidate, split))
        shutil.copyfile(other.wall_path(candidate, split), self.wall_path(candidate, split))
        return True
