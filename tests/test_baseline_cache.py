"""harness.serve.baseline_cache: the key over everything that could change a baseline, save and restore."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.serve.baseline_cache import baseline_key, baseline_key_parts, cache_dir_for, restore, save
from harness.serve.batch_store import BatchStore
from harness.engine.prediction_log import Prediction, append_prediction

PARTS: dict[str, Any] = {
    "model_hash": "m" * 64,
    "data_hashes": {"dev": "d1", "test": "t1"},
    "recipes": {"best_prompt": {"prompt": "best", "shots": 0}},
    "templates": {"extract_plain": "Extract: {{ text }}"},
    "engine": {"max_model_len": 4096, "dtype": "bfloat16"},
    "load_profile": {"concurrency": 4, "warmup_requests": 2},
}
BATCHES = [("best_prompt", "dev"), ("best_prompt", "test"), ("tune.extract_plain", "dev")]


def key_of(**changes: Any) -> str:
    return baseline_key(baseline_key_parts(**(PARTS | changes)))


def fill(store: BatchStore, label: str, split: str, wall: float) -> None:
    append_prediction(store.log_path(label, split), Prediction("r1", label, split, f"{label}/{split}", 5, 2, None, 0.1, "stop", 1))
    store.add_wall_seconds(label, split, wall)


def test_key_is_stable_and_short() -> None:
    assert key_of() == key_of()
    assert len(key_of()) == 16
    reordered = dict(reversed(list(PARTS["data_hashes"].items())))
    assert key_of(data_hashes=reordered) == key_of()


@pytest.mark.parametrize("change", [
    {"model_hash": "n" * 64},
    {"data_hashes": {"dev": "d1", "test": "t2"}},
    {"recipes": {"best_prompt": {"prompt": "best", "shots": 1}}},
    {"recipes": PARTS["recipes"] | {"few_shot": {"shots": 3}}},
    {"templates": {"extract_plain": "Extract carefully: {{ text }}"}},
    {"engine": {"max_model_len": 2048, "dtype": "bfloat16"}},
    {"load_profile": {"concurrency": 8, "warmup_requests": 2}},
], ids=["model", "data", "recipe", "extra_candidate", "template", "engine", "load_profile"])
def test_key_changes_when_any_part_changes(change: dict[str, Any]) -> None:
    assert key_of(**change) != key_of()


def test_parts_record_template_hashes_not_text() -> None:
    parts = baseline_key_parts(**PARTS)
    assert set(parts) == {"model_hash", "data_hashes", "candidates", "templates_sha256", "engine", "load_profile"}
    assert len(parts["templates_sha256"]["extract_plain"]) == 64


def test_cache_dir_layout(tmp_path: Path) -> None:
    assert cache_dir_for(tmp_path, "contract_extraction", "abc") == tmp_path / "baselines" / "contract_extraction" / "abc"


def test_save_then_restore_copies_logs_and_wall(tmp_path: Path) -> None:
    run = BatchStore(tmp_path / "run1")
    fill(run, "best_prompt", "dev", 1.0)
    fill(run, "best_prompt", "test", 2.0)
    run.add_wall_seconds("best_prompt", "test", 0.5)  # a resumed batch: two sessions
    cache = cache_dir_for(tmp_path / "cache", "task", key_of())
    save(cache, run, BATCHES, baseline_key_parts(**PARTS), "run-1")
    assert (cache / "complete").is_file() and (cache / "key_parts.json").is_file()
    assert not cache.with_name(cache.name + ".partial").exists()

    fresh = BatchStore(tmp_path / "run2")
    restored, measured_by = restore(cache, fresh, BATCHES)
    assert restored == [("best_prompt", "dev"), ("best_prompt", "test")]  # the tune batch never ran
    assert measured_by == "run-1"
    assert fresh.predictions("best_prompt", "test")["r1"].text == "best_prompt/test"
    assert fresh.wall_seconds("best_prompt", "dev") == 1.0
    assert fresh.wall_seconds("best_prompt", "test") == 2.5


def test_save_replaces_an_older_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "k"
    first = BatchStore(tmp_path / "run1")
    fill(first, "best_prompt", "dev", 1.0)
    save(cache, first, BATCHES, {}, "run-1")
    second = BatchStore(tmp_path / "run2")
    fill(second, "best_prompt", "test", 3.0)
    save(cache, second, BATCHES, {}, "run-2")
    assert restore(cache, BatchStore(tmp_path / "run3"), BATCHES) == ([("best_prompt", "test")], "run-2")


def test_restore_from_incomplete_cache_restores_nothing(tmp_path: Path) -> None:
    run = BatchStore(tmp_path / "run1")
    fill(run, "best_prompt", "dev", 1.0)
    cache = tmp_path / "cache" / "k"
    save(cache, run, BATCHES, {}, "run-1")
    (cache / "complete").unlink()  # as if the save had been interrupted
    fresh = BatchStore(tmp_path / "run2")
    assert restore(cache, fresh, BATCHES) == ([], None)
    assert not fresh.log_path("best_prompt", "dev").exists()
    assert fresh.wall_seconds("best_prompt", "dev") == 0.0


def test_restore_from_missing_cache_restores_nothing(tmp_path: Path) -> None:
    assert restore(tmp_path / "no-such-cache", BatchStore(tmp_path / "run"), BATCHES) == ([], None)
