"""The append-only log of raw predictions, one JSON line per finished request.

Predictions are written as each request completes, so a crash loses nothing and `--resume` skips
what is already on disk. A failed request is a prediction too, with its error and attempt count:
failures are data (one that timed out also keeps its latency: the seconds it was waited for). This module knows nothing of engines, prompts or scoring.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.errors import HarnessError


@dataclass(frozen=True)
class Prediction:
    """One candidate's raw output for one record, with exact token counts and timings."""

    record_id: str
    candidate: str
    split: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None
    latency_s: float | None
    finish_reason: str | None
    attempts: int
    error: str | None = None


def append_prediction(path: Path, prediction: Prediction) -> None:
    """Append one prediction and flush it to disk (after dropping a torn line a crash left)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    drop_torn_tail(path)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(prediction), ensure_ascii=False) + "\n")
        handle.flush()


def drop_torn_tail(path: Path) -> None:
    """Cut a last line that has no newline (a write a crash interrupted): it is not a prediction."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def read_predictions(path: Path) -> dict[str, Prediction]:
    """The predictions logged so far, by record id (a torn last line from a crash is ignored)."""
    if not path.is_file():
        return {}
    found: dict[str, Prediction] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        try:
            prediction = Prediction(**json.loads(line))
        except (json.JSONDecodeError, TypeError) as exc:
            if number == len(lines):
                break
            raise HarnessError(f"malformed prediction: {exc}", f"{path}:{number}", "delete the line or start a new run") from None
        found[prediction.record_id] = prediction
    return found
