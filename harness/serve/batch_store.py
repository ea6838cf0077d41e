"""Where a run keeps each (candidate, split) batch: its raw prediction log, its wall time and usage.

A batch's raw log is appended as requests finish; its wall time (sending, warm-up excluded) is
added up over the sessions that worked on it, so a resumed batch still reports the time spent, and
the engine's peak memory and KV-cache use while serving it keep the highest over those sessions.
Baseline batches can be copied in from a cache (the gate's cached baseline) and saved back.
This module knows file layout only, nothing of engines or scoring.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from harness.cache_files import write_text
from harness.engine.types import Usage
from harness.engine.prediction_log import Prediction, read_predictions


class BatchStore:
    """The raw batches of one run folder."""

    def __init__(self, run_dir: Path) -> None:
        self.raw = run_dir / "raw"
        self.raw.mkdir(parents=True, exist_ok=True)

    def log_path(self, candidate: str, split: str) -> Path:
        return self.raw / f"{candidate}.{split}.jsonl"

    def wall_path(self, candidate: str, split: str) -> Path:
        return self.raw / f"{candidate}.{split}.wall.json"

    def _timing(self, candidate: str, split: str) -> dict:
        path = self.wall_path(candidate, split)
        return json.loads(path.read_text()) if path.is_file() else {}

    def add_wall_seconds(self, candidate: str, split: str, seconds: float) -> None:
        timing = self._timing(candidate, split)
        timing["wall_seconds"] = timing.get("wall_seconds", 0.0) + seconds
        write_text(self.wall_path(candidate, split), json.dumps(timing))

    def wall_seconds(self, candidate: str, split: str) -> float:
        return self._timing(candidate, split).get("wall_seconds", 0.0)

    def add_usage(self, candidate: str, split: str, usage: Usage) -> None:
        """Keep the higher of this session's and the earlier sessions' peaks (a resumed batch)."""
        timing = self._timing(candidate, split)
        earlier = Usage(**timing.get("usage", {}))
        if earlier.peak_memory_bytes is not None and (usage.peak_memory_bytes or 0) < earlier.peak_memory_bytes:
            usage = dataclasses.replace(usage, peak_memory_bytes=earlier.peak_memory_bytes, memory_measure=earlier.memory_measure)
        if earlier.kv_cache_usage_peak is not None and (usage.kv_cache_usage_peak or 0.0) < earlier.kv_cache_usage_peak:
            usage = dataclasses.replace(usage, kv_cache_usage_peak=earlier.kv_cache_usage_peak)
        timing["usage"] = dataclasses.asdict(usage)
        write_text(self.wall_path(candidate, split), json.dumps(timing))

    def usage(self, candidate: str, split: str) -> Usage:
        """The batch's recorded usage peaks (a `Usage` saying "not sampled" when none was recorded)."""
        return Usage(**self._timing(candidate, split).get("usage", {}))

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
