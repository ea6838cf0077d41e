"""Checks an adapter must pass before any of its outputs are scored.

Static checks read the adapter folder: its base model (by manifest hash when it has one, else by
the base folder's fingerprint or name) must be the served model, its rank must fit the engine's
`max_lora_rank`, and every module it targets must be one vLLM can apply. A failure is a
`HarnessError` (exit 2) naming both models. Liveness (outputs must differ from the base model's on
canary inputs at temperature 0) and parity (greedy PEFT/transformers vs vLLM agreement on a
sample) are computed here from outputs the caller obtains. This module never imports vLLM.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.errors import HarnessError
from harness.training.model_prep import load_tokenizer, model_fingerprint
from harness.hardware.precision import torch_dtype

VLLM_LORA_MODULES = frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "qkv_proj", "gate_up_proj"})


def read_adapter_config(adapter_dir: Path) -> dict[str, Any]:
    path = adapter_dir / "adapter_config.json"
    if not path.is_file():
        raise HarnessError("not a PEFT adapter folder (no adapter_config.json)", str(adapter_dir), "pass the folder `harness train` wrote")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise HarnessError(f"adapter_config.json is not valid JSON: {exc}", str(path), "pass an intact PEFT adapter folder") from None


def check_static(adapter_dir: Path, model_dir: Path, model_hash: str, max_lora_rank: int) -> dict[str, Any]:
    """Base-model match, rank and target modules; raises on any mismatch, returns what was checked."""
    config = read_adapter_config(adapter_dir)
    adapter_base = str(config.get("base_model_name_or_path") or "")
    basis, matched = base_match(adapter_dir, adapter_base, model_dir, model_hash)
    if not matched:
        raise HarnessError(
            f"adapter was trained on base model '{adapter_base}' ({basis}) but the served model is '{model_dir}'",
            str(adapter_dir), "serve the adapter's base model (--model) or train an adapter for this one")
    rank = int(config.get("r", 0))
    if rank > max_lora_rank:
        raise HarnessError(f"adapter rank {rank} exceeds the engine's max_lora_rank {max_lora_rank}", str(adapter_dir), "raise --max-lora-rank")
    targets = config.get("target_modules") or []
    targets = [targets] if isinstance(targets, str) else list(targets)
    unsupported = sorted(set(targets) - VLLM_LORA_MODULES)
    if unsupported or config.get("modules_to_save"):
        raise HarnessError(f"adapter targets modules vLLM cannot apply: {unsupported or config['modules_to_save']}", str(adapter_dir),
                           f"train on {sorted(VLLM_LORA_MODULES)} only")
    return {"passed": True, "adapter_base": adapter_base, "served_base": str(model_dir), "basis": basis, "rank": rank, "target_modules": targets}


def base_match(adapter_dir: Path, adapter_base: str, model_dir: Path, model_hash: str) -> tuple[str, bool]:
    """How the base was compared, and whether it matches: manifest hash, folder fingerprint, or name."""
    manifest = adapter_dir / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text()).get("base_model_hash"):
        return "manifest base_model_hash", json.loads(manifest.read_text())["base_model_hash"] == model_hash
    if adapter_base and Path(adapter_base).is_dir() and (Path(adapter_base) / "config.json").is_file():
        return "base folder fingerprint", model_fingerprint(Path(adapter_base)) == model_hash
    return "model name", bool(adapter_base) and Path(adapter_base).name == model_dir.name


def liveness(base_outputs: Sequence[str], adapter_outputs: Sequence[str]) -> dict[str, Any]:
    """Raise when the adapter's greedy outputs equal the base model's on every canary."""
    differing = sum(a != b for a, b in zip(base_outputs, adapter_outputs))
    if differing == 0:
        raise HarnessError(f"the adapter changes nothing: its greedy outputs equal the base model's on all {len(base_outputs)} canaries",
                           "adapter liveness", "check that the adapter was trained (a fresh LoRA is a no-op) and loaded")
    return {"passed": True, "canaries": len(base_outputs), "differing": differing}


def parity(reference: Mapping[str, str], served: Mapping[str, str]) -> dict[str, Any]:
    """Share of sampled records whose greedy text is identical under PEFT/transformers and vLLM."""
    ids = sorted(reference)
    agree = sum(reference[i].strip() == served[i].strip() for i in ids)
    return {"agreement_rate": agree / len(ids) if ids else None, "sample_size": len(ids), "agreeing": agree, "record_ids": ids}


def peft_greedy(model_dir: Path, adapter_dir: Path, prompts: Mapping[str, Sequence[int]], max_new_tokens: int, dtype: str) -> dict[str, str]:
    """Greedy completions under PEFT/transformers, in the run's `dtype`, for prompt token ids (the parity reference)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(model_dir)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch_dtype(dtype))
    model = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    outputs = {}
    with torch.no_grad():
        for record_id, ids in prompts.items():
            tensor = torch.tensor([list(ids)])
            generated = model.generate(input_ids=tensor, attention_mask=torch.ones_like(tensor), do_sample=False,
                                       max_new_tokens=max_new_tokens, pad_token_id=tokenizer.eos_token_id)
            outputs[record_id] = tokenizer.decode(generated[0, tensor.shape[1]:], skip_special_tokens=True)
    return outputs
