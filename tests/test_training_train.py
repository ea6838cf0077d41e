"""Real LoRA training on the embedded model for a few steps: manifest, cache, determinism, resume, effect."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from harness.training.model_prep import default_model_dir
from harness.hardware.precision import decide_precision
from harness.task.specs import TrainSpec
from harness.training.adapter_store import key_of, read_manifest, staging_dir
from harness.training.examples import TrainingExample
from harness.training.loop import TrainingInterrupted
from harness.training.train import TrainJob, train_adapter

MODEL_DIR = default_model_dir(Path(__file__).resolve().parents[1] / ".cache")
PROMPT = "Extract the contract fields as JSON."
SETTINGS = TrainSpec(rank=4, alpha=8, max_steps=4, batch_size=2, eval_every_steps=2, warmup_ratio=0.0, learning_rate=1e-3)

pytestmark = pytest.mark.slow


def example(i: int) -> TrainingExample:
    text = f"This Agreement no. {i} is made between Acme Corp and Party {i} Ltd, governed by the laws of Delaware."
    target = json.dumps({"parties": ["Acme Corp", f"Party {i} Ltd"], "governing_law": "Delaware"})
    return TrainingExample([{"role": "user", "content": f"{PROMPT}\n\n{text}"}], target)


def job(store: Path, **changes) -> TrainJob:
    base = TrainJob(MODEL_DIR, store, [example(i) for i in range(6)], [example(i) for i in range(6, 8)], PROMPT, SETTINGS,
                    device="cpu", checkpoint_every_steps=2, progress=False)
    return dataclasses.replace(base, **changes)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return train_adapter(job(tmp_path_factory.mktemp("store")))


def test_manifest_records_inputs_settings_and_sane_measurements(trained):
    manifest = read_manifest(trained)
    assert manifest["key"] == trained.name == key_of(manifest["key_parts"])
    assert manifest["base_model"] == str(MODEL_DIR) and len(manifest["base_model_hash"]) == 64
    assert manifest["dataset_hash"] == manifest["key_parts"]["dataset_hash"]
    assert manifest["settings"]["rank"] == 4 and manifest["settings"]["max_steps"] == 4
    decided = decide_precision("cpu")  # this machine's own decision: float32 unless its CPU computes bfloat16 natively
    autocast = None if decided.dtype == "float32" else decided.dtype
    assert manifest["train_precision"] == {"device": "cpu", "base_weights": decided.dtype, "adapter_weights": "float32",
                                           "compute": f"{autocast} autocast" if autocast else "float32 (no autocast)",
                                           "quantization": "none", "bitsandbytes": None, "dtype": decided.dtype, "autocast": autocast}
    assert manifest["key_parts"]["train_dtype"] == decided.dtype
    trained_at = manifest["trained_at"]
    assert trained_at["dtype"] == decided.dtype and trained_at["cpu"]["model"] and trained_at["probe"]["float32_gflops"] > 0
    assert manifest["examples"]["train"] == {"used": 6, "truncated": 0, "without_target": 0}
    assert manifest["steps"] == 4 and manifest["train_seconds"] > 0 and manifest["tokens_per_second"] > 0
    assert manifest["tokens_seen"] == pytest.approx(manifest["tokens_per_second"] * manifest["train_seconds"], rel=0.01)
    assert 100e6 < manifest["peak_memory_bytes"] < 24e9
    assert 0 < manifest["train_loss"] < 10 and 0 < manifest["dev_loss"] < 10
    assert {"python", "torch", "transformers", "peft"} <= set(manifest["versions"])
    config = json.loads((trained / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(MODEL_DIR) and config["r"] == 4
    history = [json.loads(line) for line in (trained / "history.jsonl").read_text().splitlines()]
    assert [row["step"] for row in history] == [0, 1, 2, 3, 4]
    assert [row["dev_loss"] is not None for row in history] == [True, False, True, False, True]
    assert history[-1]["dev_loss"] == manifest["dev_loss"]
    assert set(history[1]) == {"step", "train_loss", "dev_loss", "learning_rate", "tokens_seen", "seconds"}


def test_a_matching_key_reuses_the_adapter_and_retrain_or_a_change_trains_anew(trained, monkeypatch):
    store = trained.parent
    created = read_manifest(trained)["created_at"]
    monkeypatch.setattr("harness.training.train._train_into", lambda *a: pytest.fail("trained although the key matched"))
    assert train_adapter(job(store)) == trained
    monkeypatch.undo()
    changed = job(store, prompt_template="Extract the fields.")

    class WouldTrain(Exception):
        """Raised where train_adapter would train: no adapter was found under the changed job's key."""

    def would_train(job: TrainJob, keyed: dict, precisions: tuple, staging: Path) -> Path:
        raise WouldTrain(key_of(keyed))

    monkeypatch.setattr("harness.training.train._train_into", would_train)
    with pytest.raises(WouldTrain) as caught:
        train_adapter(changed)
    assert caught.value.args[0] != trained.name
    monkeypatch.undo()
    retrained = train_adapter(job(store, retrain=True))
    assert retrained == trained and read_manifest(retrained)["created_at"] >= created
    assert not staging_dir(store, trained.name).exists()


def test_same_inputs_and_seed_give_identical_weights(trained, tmp_path):
    again = train_adapter(job(tmp_path))
    first, second = weights(trained), weights(again)
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_an_interrupted_run_resumes_from_its_last_checkpoint(trained, tmp_path):
    with pytest.raises(TrainingInterrupted):
        train_adapter(job(tmp_path, stop_after_steps=3))
    staged = staging_dir(tmp_path, trained.name)
    assert [p.name for p in staged.iterdir()] == ["checkpoint-0000002"]
    resumed = train_adapter(job(tmp_path))
    manifest = read_manifest(resumed)
    assert manifest["resumed_at_steps"] == [2] and manifest["steps"] == 4
    history = [json.loads(line) for line in (resumed / "history.jsonl").read_text().splitlines()]
    assert [row["step"] for row in history] == [0, 1, 2, 3, 4]
    assert [row["tokens_seen"] for row in history] == sorted(row["tokens_seen"] for row in history)
    first, second = weights(trained), weights(resumed)
    assert all(torch.equal(first[k], second[k]) for k in first), "resuming reproduces the uninterrupted run exactly"


def test_training_on_one_example_lowers_its_loss_and_changes_the_greedy_output(tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = '{"code": "ZQX-4417", "status": "void"}'
    one = TrainingExample([{"role": "user", "content": "Give the record."}], target)
    settings = dataclasses.replace(SETTINGS, rank=8, alpha=16, max_steps=8, batch_size=4, learning_rate=2e-3, eval_every_steps=4)
    folder = train_adapter(job(tmp_path, train=[one] * 8, dev=[one], settings=settings))
    history = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]
    assert history[-1]["dev_loss"] < history[0]["dev_loss"] / 4
    assert history[-1]["train_loss"] < history[1]["train_loss"]
    tokenizer = AutoTokenizer.from_pretrained(str(MODEL_DIR))
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(MODEL_DIR), dtype=torch.float32), str(folder))
    prompt = tokenizer.apply_chat_template(one.messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    def greedy() -> str:
        out = model.generate(**prompt, max_new_tokens=24, do_sample=False)
        return tokenizer.decode(out[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)
    with model.disable_adapter():
        before = greedy()
    after = greedy()
    assert after != before and "ZQX" not in before
    assert after.startswith('{"code": "ZQX-44'), after


def test_early_stopping_stops_after_patience_and_keeps_the_best_weights(tmp_path, monkeypatch):
    constant = dataclasses.replace(SETTINGS, lr_schedule="constant", early_stopping_patience=1, max_steps=8)
    dev_losses = iter([1.0, 0.5, 0.9, 0.1])  # evaluations at steps 0, 2, 4 (then it must have stopped)
    monkeypatch.setattr("harness.training.loop.evaluate_loss", lambda *a: next(dev_losses))
    stopped = train_adapter(job(tmp_path / "a", settings=constant))
    monkeypatch.undo()
    manifest = read_manifest(stopped)
    assert (manifest["steps"], manifest["kept_step"], manifest["stopped_early"], manifest["dev_loss"]) == (4, 2, True, 0.5)
    two_steps = train_adapter(job(tmp_path / "b", settings=dataclasses.replace(constant, early_stopping_patience=None, max_steps=2)))
    kept, reference = weights(stopped), weights(two_steps)
    assert all(torch.equal(kept[k], reference[k]) for k in kept), "the published weights are those of step 2"
