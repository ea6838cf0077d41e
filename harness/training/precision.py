"""Decide where and at what precision an adapter trains, and load the base model that way.

The device is CUDA when torch sees one, else the CPU; an explicit `device` overrides. Both devices
keep the frozen base in bfloat16, the LoRA weights (the only trained ones) in float32, and run the
forward and backward passes under bfloat16 autocast (on this CPU that measured as fast as float32
master weights with autocast, and faster than plain float32). QLoRA loads the base in 4-bit NF4
through bitsandbytes with bfloat16 compute and double quantization, then runs peft's
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
from harness.specs import TrainSpec

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_device(device: str | None) -> str:
    """'cuda' if available (or asked for and present), 'cpu' if asked for or no GPU is visible."""
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise HarnessError(f"unknown device '{device}'", "--device", "use cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise HarnessError("CUDA was asked for but torch sees no GPU", "--device", "drop --device to train on the CPU")
    return device


def choose_precision(settings: TrainSpec, device: str) -> TrainPrecision:
    """The precision to train at on `device`; QLoRA off CUDA is a HarnessError."""
    if settings.quantization not in QUANTIZATIONS:
        raise HarnessError(f"unknown quantization '{settings.quantization}'", "train.quantization", f"use one of {QUANTIZATIONS}")
    if settings.quantization == "none":
        return TrainPrecision(device, "bfloat16", "float32", "bfloat16 autocast", "none")
    if device != "cuda":
        raise HarnessError(
            "QLoRA (4-bit NF4 through bitsandbytes) needs a CUDA GPU, and this run is on the CPU",
            "train.quantization",
            "set quantization: none in the task's train settings (or pass --quantization none) for plain LoRA",
        )
    base = "nf4 4-bit linear layers (bitsandbytes); embeddings, norms and lm_head float32; gradient checkpointing"
    return TrainPrecision(device, base, "float32", "bfloat16 autocast", "qlora", dict(NF4_SETTINGS))


def load_base_model(model_dir: Path, precision: TrainPrecision) -> Any:
    """Load the causal LM for training at `precision`, frozen, on its device."""
    from transformers import AutoModelForCausalLM

    if precision.quantization == "qlora":
        return _load_4bit(model_dir)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.bfloat16)
    _check_plain_logits(model, model_dir)
    return model.to(precision.device)


def _load_4bit(model_dir: Path) -> Any:
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    settings = dict(NF4_SETTINGS, bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(
        str(model_dir), quantization_config=BitsAndBytesConfig(**settings), dtype=torch.bfloat16, device_map={"": 0}
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
