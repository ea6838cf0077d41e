"""harness.adapter.adapter_checks on fake adapter folders: base-model match, rank, target modules; liveness and parity
on literal outputs. (peft_greedy needs a real model and is covered by the slow pipeline tests.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.adapter.adapter_checks import check_static, liveness, parity
from harness.errors import HarnessError
from harness.training.model_prep import model_fingerprint

SERVED_HASH = "a" * 64


@pytest.fixture
def served(tmp_path: Path) -> Path:
    model = tmp_path / "models" / "served-model"
    model.mkdir(parents=True)
    (model / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    return model


def adapter(tmp_path: Path, manifest_hash: str | None = None, name: str = "adapter", **config: Any) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    body = {"base_model_name_or_path": "/elsewhere/served-model", "r": 8, "target_modules": ["q_proj", "v_proj"]} | config
    (folder / "adapter_config.json").write_text(json.dumps(body))
    if manifest_hash is not None:
        (folder / "manifest.json").write_text(json.dumps({"base_model_hash": manifest_hash, "key": "k"}))
    return folder


def test_matching_manifest_hash_passes_and_records_basis(tmp_path: Path, served: Path) -> None:
    checked = check_static(adapter(tmp_path, SERVED_HASH), served, SERVED_HASH, max_lora_rank=16)
    assert checked == {"passed": True, "adapter_base": "/elsewhere/served-model", "served_base": str(served),
                       "basis": "manifest base_model_hash", "rank": 8, "target_modules": ["q_proj", "v_proj"]}


def test_mismatching_manifest_hash_names_both_models(tmp_path: Path, served: Path) -> None:
    folder = adapter(tmp_path, "b" * 64, base_model_name_or_path="/models/other-base")
    with pytest.raises(HarnessError) as caught:
        check_static(folder, served, SERVED_HASH, max_lora_rank=16)
    message = str(caught.value)
    assert "/models/other-base" in message and str(served) in message
    assert "manifest base_model_hash" in message
    assert caught.value.where == str(folder)


def test_manifest_hash_wins_over_a_matching_name(tmp_path: Path, served: Path) -> None:
    # same folder name as the served model, but the manifest says a different base
    with pytest.raises(HarnessError, match="trained on base model"):
        check_static(adapter(tmp_path, "c" * 64), served, SERVED_HASH, max_lora_rank=16)


def test_base_folder_fingerprint_is_used_without_manifest(tmp_path: Path, served: Path) -> None:
    folder = adapter(tmp_path, base_model_name_or_path=str(served))
    checked = check_static(folder, served, model_fingerprint(served), max_lora_rank=16)
    assert checked["basis"] == "base folder fingerprint"
    with pytest.raises(HarnessError, match="base folder fingerprint"):
        check_static(folder, served, SERVED_HASH, max_lora_rank=16)


@pytest.mark.parametrize("base, passes", [("/elsewhere/served-model", True), ("org/served-model", True),
                                          ("/elsewhere/other-model", False), ("", False)])
def test_name_is_the_last_resort(tmp_path: Path, served: Path, base: str, passes: bool) -> None:
    folder = adapter(tmp_path, base_model_name_or_path=base)
    if passes:
        assert check_static(folder, served, SERVED_HASH, max_lora_rank=16)["basis"] == "model name"
    else:
        with pytest.raises(HarnessError, match="model name"):
            check_static(folder, served, SERVED_HASH, max_lora_rank=16)


@pytest.mark.parametrize("rank, max_rank, passes", [(16, 16, True), (17, 16, False), (64, 32, False), (4, 8, True)])
def test_rank_must_fit_the_engine(tmp_path: Path, served: Path, rank: int, max_rank: int, passes: bool) -> None:
    folder = adapter(tmp_path, SERVED_HASH, r=rank)
    if passes:
        assert check_static(folder, served, SERVED_HASH, max_lora_rank=max_rank)["rank"] == rank
    else:
        with pytest.raises(HarnessError, match=f"adapter rank {rank} exceeds the engine's max_lora_rank {max_rank}") as caught:
            check_static(folder, served, SERVED_HASH, max_lora_rank=max_rank)
        assert "--max-lora-rank" in caught.value.fix


@pytest.mark.parametrize("config, named", [
    ({"target_modules": ["q_proj", "embed_tokens"]}, "embed_tokens"),
    ({"target_modules": ["lm_head"]}, "lm_head"),
    ({"target_modules": "all-linear"}, "all-linear"),
    ({"target_modules": ["q_proj"], "modules_to_save": ["lm_head"]}, "lm_head"),
])
def test_unsupported_modules_are_rejected(tmp_path: Path, served: Path, config: dict, named: str) -> None:
    with pytest.raises(HarnessError, match="vLLM cannot apply") as caught:
        check_static(adapter(tmp_path, SERVED_HASH, **config), served, SERVED_HASH, max_lora_rank=16)
    assert named in caught.value.what
    assert "q_proj" in caught.value.fix


def test_every_supported_module_passes(tmp_path: Path, served: Path) -> None:
    modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    checked = check_static(adapter(tmp_path, SERVED_HASH, target_modules=modules, modules_to_save=None), served, SERVED_HASH, 16)
    assert checked["target_modules"] == modules


def test_single_string_target_module(tmp_path: Path, served: Path) -> None:
    assert check_static(adapter(tmp_path, SERVED_HASH, target_modules="q_proj"), served, SERVED_HASH, 16)["target_modules"] == ["q_proj"]


def test_not_an_adapter_folder(tmp_path: Path, served: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(HarnessError, match="no adapter_config.json") as caught:
        check_static(tmp_path / "empty", served, SERVED_HASH, 16)
    assert caught.value.where == str(tmp_path / "empty")


def test_liveness_raises_when_outputs_are_identical() -> None:
    with pytest.raises(HarnessError, match="changes nothing.*all 3 canaries") as caught:
        liveness(["a", "b", "c"], ["a", "b", "c"])
    assert "fresh LoRA" in caught.value.fix


@pytest.mark.parametrize("adapted, differing", [(["a", "B", "c"], 1), (["x", "y", "z"], 3), (["a", "b", "c "], 1)])
def test_liveness_passes_with_the_count_of_differing_outputs(adapted: list[str], differing: int) -> None:
    assert liveness(["a", "b", "c"], adapted) == {"passed": True, "canaries": 3, "differing": differing}


@pytest.mark.parametrize("reference, served, rate, agreeing", [
    ({"r1": "x", "r2": "y", "r3": "z"}, {"r1": "x", "r2": "y", "r3": "z"}, 1.0, 3),
    ({"r1": "x", "r2": "y ", "r3": "z"}, {"r1": "x", "r2": "\ny", "r3": "w", "r9": "ignored"}, 2 / 3, 2),
    ({"r1": "x", "r2": "y"}, {"r1": "X", "r2": "Y"}, 0.0, 0),
])
def test_parity_rate(reference: dict, served: dict, rate: float, agreeing: int) -> None:
    result = parity(reference, served)
    assert result["agreement_rate"] == pytest.approx(rate)
    assert result["agreeing"] == agreeing
    assert result["sample_size"] == len(reference)
    assert result["record_ids"] == sorted(reference)


def test_parity_of_an_empty_sample_has_no_rate() -> None:
    assert parity({}, {})["agreement_rate"] is None


def test_corrupt_adapter_config_is_a_harness_error(tmp_path: Path, served: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "adapter_config.json").write_text('{"r": 8,')
    with pytest.raises(HarnessError):
        check_static(folder, served, SERVED_HASH, 16)
