"""Adapter keys, cache lookup, publishing, settings checks and the QLoRA-needs-CUDA rule (no training)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.training.model_prep import default_model_dir
from harness.hardware.precision import decide_precision
from harness.errors import HarnessError
from harness.task.specs import TrainSpec
from harness.training.adapter_store import ADAPTER_FILES, find_adapter, key_of, key_parts, publish, read_manifest, staging_dir
from harness.training.examples import TrainingExample
from harness.training.precision import choose_precision
from harness.training.train import TrainJob, check_settings, train_adapter

MODEL_DIR = default_model_dir(Path(__file__).resolve().parents[1] / ".cache")
PARTS = ("base" * 16, "data" * 16, "Extract the contract fields as JSON.", TrainSpec())


def adapter_key(*parts) -> str:
    return key_of(key_parts(*parts))


def test_same_inputs_give_the_same_key_and_any_change_gives_a_new_one():
    key = adapter_key(*PARTS)
    assert key == adapter_key(*PARTS) and len(key) == 64
    changed = [
        adapter_key("other", *PARTS[1:]),
        adapter_key(PARTS[0], "other", *PARTS[2:]),
        adapter_key(*PARTS[:2], "Extract the fields.", PARTS[3]),
    ]
    for name, value in [("rank", 8), ("learning_rate", 1e-4), ("seed", 1), ("target_modules", ("q_proj",)), ("max_steps", 5), ("quantization", "qlora")]:
        changed.append(adapter_key(*PARTS[:3], dataclasses.replace(TrainSpec(), **{name: value})))
    assert key not in changed and len(set(changed)) == len(changed)


def fake_adapter(folder: Path, key: str) -> Path:
    folder.mkdir(parents=True)
    for name in ADAPTER_FILES:
        (folder / name).write_text("{}")
    (folder / "manifest.json").write_text(json.dumps({"key": key}))
    return folder


def test_find_adapter_misses_hits_and_rejects_broken_folders(tmp_path):
    key = adapter_key(*PARTS)
    assert find_adapter(tmp_path, key) is None
    fake_adapter(tmp_path / key, key)
    assert find_adapter(tmp_path, key) == tmp_path / key
    assert find_adapter(tmp_path, adapter_key("other", *PARTS[1:])) is None
    (tmp_path / key / "adapter_model.safetensors").unlink()
    with pytest.raises(HarnessError, match="lacks"):
        find_adapter(tmp_path, key)
    fake_adapter(tmp_path / "k2", "not-k2")
    with pytest.raises(HarnessError, match="does not match"):
        find_adapter(tmp_path, "k2")


def test_publish_moves_a_complete_folder_into_place_and_replaces_an_old_one(tmp_path):
    key = "k"
    fake_adapter(tmp_path / key, key)
    built = fake_adapter(staging_dir(tmp_path, key) / "adapter", key)
    (built / "manifest.json").write_text(json.dumps({"key": key, "new": True}))
    assert publish(built, tmp_path, key) == tmp_path / key
    assert read_manifest(tmp_path / key)["new"] is True
    assert not staging_dir(tmp_path, key).exists()
    incomplete = staging_dir(tmp_path, key) / "adapter"
    incomplete.mkdir(parents=True)
    with pytest.raises(RuntimeError, match="missing"):
        publish(incomplete, tmp_path, key)


def test_qlora_on_the_cpu_is_an_error_that_says_how_to_get_plain_lora(tmp_path):
    cpu = decide_precision("cpu")
    with pytest.raises(HarnessError) as caught:
        choose_precision(TrainSpec(quantization="qlora"), cpu)
    assert "CUDA" in caught.value.what and "quantization: none" in caught.value.fix
    assert choose_precision(TrainSpec(), cpu).quantization == "none"
    with pytest.raises(HarnessError, match="unknown quantization"):
        choose_precision(TrainSpec(quantization="int8"), cpu)
    example = TrainingExample([{"role": "user", "content": "x"}], "{}")
    job = TrainJob(MODEL_DIR, tmp_path, [example], [example], "p", TrainSpec(quantization="qlora"), device="cpu")
    with pytest.raises(HarnessError, match="CUDA"):
        train_adapter(job)
    assert not any(tmp_path.iterdir()), "nothing is trained or staged"


@pytest.mark.parametrize(
    "change", [{"batch_size": 0}, {"lr_schedule": "step"}, {"warmup_ratio": 1.0}, {"early_stopping_patience": 0}, {"max_steps": 0}]
)
def test_settings_the_trainer_cannot_honour_are_rejected_by_name(change):
    with pytest.raises(HarnessError) as caught:
        check_settings(dataclasses.replace(TrainSpec(), **change))
    assert caught.value.where == f"train.{next(iter(change))}"
