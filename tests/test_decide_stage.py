"""harness.pipeline.decide_stage's reading of the adapter's training history into the verdict's notes."""

from __future__ import annotations

import json
from pathlib import Path

from harness.pipeline.decide_stage import adapter_training_notes


def write_history(folder: Path, dev: dict[int, float]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"step": step, "train_loss": 1.0 - step / 100 if step else None, "dev_loss": dev.get(step)}
            for step in range(0, max(dev) + 1)]
    (folder / "history.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_still_falling_dev_loss_becomes_a_note(tmp_path: Path) -> None:
    write_history(tmp_path / "adapter", {0: 2.0, 20: 1.0, 40: 0.5})
    notes = adapter_training_notes({"path": str(tmp_path / "adapter"), "manifest": {"kept_step": 40}})
    assert len(notes) == 1 and notes[0].startswith("Under-trained: the adapter's dev loss was still falling")


def test_converged_training_has_no_note(tmp_path: Path) -> None:
    write_history(tmp_path / "adapter", {0: 2.0, 20: 0.50, 40: 0.499})
    assert adapter_training_notes({"path": str(tmp_path / "adapter"), "manifest": {"kept_step": 40}}) == ()


def test_adapter_without_history_says_convergence_is_unknown(tmp_path: Path) -> None:
    notes = adapter_training_notes({"path": str(tmp_path), "manifest": {}})
    assert notes == ("No training history beside the adapter: whether it was trained to convergence is unknown.",)
