"""harness.serve.batch_store: per-batch raw logs and accumulated wall seconds in a run folder."""

from __future__ import annotations

from pathlib import Path

from harness.serve.batch_store import BatchStore
from harness.engine.prediction_log import Prediction, append_prediction


def prediction(record_id: str, text: str = "{}") -> Prediction:
    return Prediction(record_id, "cand", "test", text, 10, 3, 0.01, 0.2, "stop", 1)


def test_layout_under_raw(tmp_path: Path) -> None:
    store = BatchStore(tmp_path / "run")
    assert store.raw == tmp_path / "run" / "raw" and store.raw.is_dir()
    assert store.log_path("few_shot", "dev") == tmp_path / "run" / "raw" / "few_shot.dev.jsonl"
    assert store.wall_path("lora_short@merged", "test") == tmp_path / "run" / "raw" / "lora_short@merged.test.wall.json"


def test_wall_seconds_start_at_zero_and_accumulate(tmp_path: Path) -> None:
    store = BatchStore(tmp_path)
    assert store.wall_seconds("cand", "test") == 0.0
    store.add_wall_seconds("cand", "test", 1.5)
    store.add_wall_seconds("cand", "test", 0.0)
    store.add_wall_seconds("cand", "test", 2.25)
    assert store.wall_seconds("cand", "test") == 3.75
    assert store.wall_seconds("cand", "dev") == 0.0  # batches are separate


def test_wall_seconds_survive_reopening_the_store(tmp_path: Path) -> None:
    BatchStore(tmp_path).add_wall_seconds("cand", "test", 4.0)
    reopened = BatchStore(tmp_path)
    reopened.add_wall_seconds("cand", "test", 1.0)
    assert reopened.wall_seconds("cand", "test") == 5.0


def test_predictions_read_the_batch_log(tmp_path: Path) -> None:
    store = BatchStore(tmp_path)
    append_prediction(store.log_path("cand", "test"), prediction("r1", "one"))
    append_prediction(store.log_path("cand", "dev"), prediction("r9"))
    assert {rid: p.text for rid, p in store.predictions("cand", "test").items()} == {"r1": "one"}
    assert store.predictions("other", "test") == {}


def test_copy_batch_copies_log_and_wall(tmp_path: Path) -> None:
    source, target = BatchStore(tmp_path / "a"), BatchStore(tmp_path / "b")
    append_prediction(source.log_path("cand", "test"), prediction("r1", "cached"))
    source.add_wall_seconds("cand", "test", 2.0)
    assert target.copy_batch(source, "cand", "test") is True
    assert target.predictions("cand", "test")["r1"].text == "cached"
    assert target.wall_seconds("cand", "test") == 2.0
    assert target.copy_batch(source, "cand", "dev") is False
    assert not target.log_path("cand", "dev").exists()
