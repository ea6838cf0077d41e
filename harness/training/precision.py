"""Decide where and at what precision an adapter trains, and load the base model that way.

The device and dtype come from the run's one precision decision (harness.hardware.precision): the frozen
base is loaded in that dtype and the LoRA weights (the only trained ones) are kept in float32. In
float32 the passes run without autocast; in bfloat16 or float16 they run under autocast to that
dtype (bfloat16 is chosen only where the hardware computes it natively: emulated bf16 on an AVX2
CPU measured 90x slower than float32). QLoRA loads the base in 4-bit NF4 through bitsandbytes with
bfloat16 (or float16) compute and double quantization, then runs peft's
`prepare_model_for_kbit_training`; it needs CUDA, and asking for it elsewhere is an error, never a
quiet switch to plain LoRA. The chosen precision is returned as a record for the manifest. This
module knows nothing of examples, the training loop or the adapter store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from harness.errors import HarnessError
from harness.hardware.precision import PrecisionDecision, torch_dtype
from harness.task.specs import TrainSpec

QUANTIZATIONS = ("none", "qlora")
NF4_SETTINGS = {
    "load_in_4bit": True,
    "bnb_4bit_quant_type": "nf4",
    "bnb_4bit_compute_dtype": "bfloat16",
    "bnb_4bit_use_double_quant": True,
}


@dataclass(frozen=True)
class TrainPrecision:
    """How the adapter was trained: device, weight dtypes, compute dtype, and 4-bit settings if any."""

    device: str
    base_weights: str
    adapter_weights: str
    compute: str
    quantization: str
    bitsandbytes: dict[str, Any] | None = None
    dtype: str = "float32"
    autocast: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_precision(settings: TrainSpec, decision: PrecisionDecision) -> TrainPrecision:
    """The precision to train at under the run's decision; QLoRA off CUDA is a HarnessError."""
    if settings.quantization not in QUANTIZATIONS:
        raise HarnessError(f"unknown quantization '{settings.quantization}'", "train.quantization", f"use one of {QUANTIZATIONS}")
    device, dtype = decision.device, decision.dtype
    autocast = None if dtype == "float32" else dtype
    compute = f"{dtype} autocast" if autocast else "float32 (no autocast)"
    if settings.quantization == "none":
        return TrainPrecision(device, dtype, "float32", compute, "none", dtype=dtype, autocast=autocast)
    if device != "cuda":
        raise HarnessError(
            "QLoRA (4-bit NF4 through bitsandbytes) needs a CUDA GPU, and this run is on the CPU",
            "train.quantization",
            "set quantization: none in the task's train settings (or pass --quantization none) for plain LoRA",
        )
    compute_dtype = "bfloat16" if dtype == "bfloat16" else "float16"
    base = "nf4 4-bit linear layers (bitsandbytes); embeddings, norms and lm_head float32; gradient checkpointing"
    return TrainPrecision(device, base, "float32", f"{compute_dtype} autocast", "qlora",
                          dict(NF4_SETTINGS, bnb_4bit_compute_dtype=compute_dtype), dtype=compute_dtype, autocast=compute_dtype)


def load_base_model(model_dir: Path, precision: TrainPrecision) -> Any:
    """Load the causal LM for training at `precision`, frozen, on its device."""
    from transformers import AutoModelForCausalLM

    if precision.quantization == "qlora":
        return _load_4bit(model_dir, precision)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch_dtype(precision.dtype))
    _check_plain_logits(model, model_dir)
    return model.to(precision.device)


def _load_4bit(model_dir: Path, precision: TrainPrecision) -> Any:
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    compute = torch_dtype(precision.dtype)
    settings = dict(NF4_SETTINGS, bnb_4bit_compute_dtype=compute)
    model = AutoModelForCausalLM.from_pretrained(
        str(model_dir), quantization_config=BitsAndBytesConfig(**settings), dtype=compute, device_map={"": 0}
    )
    _check_plain_logits(model, model_dir)
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False})


def _check_plain_logits(model: Any, model_dir: Path) -> None:
    """The target-only loss applies lm_head alone; models that post-process logits would be mis-trained."""
    config = model.config
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        raise HarnessError(
            "this model scales or soft-caps its logits, which the trainer's target-only loss does not reproduce",
            str(model_dir),
            "train a model whose logits are lm_head(hidden states), such as a Llama, Qwen or Mistral model",
        )


def peak_memory_bytes(device: str) -> tuple[int, str]:
    """The process's peak memory so far and what was measured."""
    if device == "cuda":
        return int(torch.cuda.max_memory_allocated()), "torch.cuda.max_memory_allocated"
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "max RSS (getrusage)"
