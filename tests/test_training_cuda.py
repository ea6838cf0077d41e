"""The CUDA path of training (bf16 LoRA and 4-bit NF4 QLoRA); runs only where torch sees a GPU.

CI machines have no GPU, so these tests are skipped there and run on a GPU machine. They use a tiny
randomly initialised Llama with the embedded model's tokenizer (the 260 MB base need not travel):
what they check is the device path, not what the adapter learns.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from harness.training.model_prep import default_model_dir
from harness.task.specs import TrainSpec
from harness.training.adapter_store import read_manifest
from harness.training.examples import TrainingExample
from harness.training.train import TrainJob, train_adapter

MODEL_DIR = default_model_dir(Path(__file__).resolve().parents[1] / ".cache")
SETTINGS = TrainSpec(rank=4, alpha=8, max_steps=3, batch_size=2, eval_every_steps=2, warmup_ratio=0.0)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path_factory.mktemp("tiny-llama")
    config = AutoConfig.from_pretrained(str(MODEL_DIR))
    config.update({"num_hidden_layers": 2, "hidden_size": 128, "intermediate_size": 256, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "head_dim": 32})
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(MODEL_DIR)).save_pretrained(folder)
    return folder


def job(model_dir: Path, store: Path, quantization: str) -> TrainJob:
    examples = [TrainingExample([{"role": "user", "content": f"Contract {i} between A and B."}], json.dumps({"n": i})) for i in range(6)]
    return TrainJob(model_dir, store, examples[:4], examples[4:], "p", dataclasses.replace(SETTINGS, quantization=quantization), progress=False)


def test_plain_lora_trains_in_bfloat16_on_the_gpu(tiny_model, tmp_path):
    manifest = read_manifest(train_adapter(job(tiny_model, tmp_path, "none")))
    assert manifest["train_precision"]["device"] == "cuda" and manifest["train_precision"]["base_weights"] == "bfloat16"
    assert manifest["peak_memory_measure"] == "torch.cuda.max_memory_allocated" and manifest["peak_memory_bytes"] > 0


def test_qlora_loads_the_base_in_nf4_and_records_how(tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    folder = train_adapter(job(tiny_model, tmp_path, "qlora"))
    manifest = read_manifest(folder)
    assert manifest["train_precision"]["quantization"] == "qlora"
    assert manifest["train_precision"]["bitsandbytes"] == {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
                                                           "bnb_4bit_compute_dtype": "bfloat16", "bnb_4bit_use_double_quant": True}
    assert "bitsandbytes" in manifest["versions"] and manifest["steps"] == 3
    served = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.bfloat16), str(folder))
    assert any(name.endswith("lora_A.default.weight") for name, _ in served.named_parameters())
