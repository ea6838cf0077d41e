"""Fold an adapter into a copy of its base model, for the merged serving pattern.

peft's `merge_and_unload` produces an ordinary model folder that an engine with the same settings
serves at base-model speed. The merge runs in the run's dtype (its precision decision). The copy is
cached by the adapter's content, so it is made once per adapter: under the entry's inter-process
lock (a second run waits, then reuses it), built under a temporary name and published whole. This
module knows nothing of engines or candidates.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from harness.cache_files import building, key_lock
from harness.hardware.precision import torch_dtype
from harness.training.model_prep import load_tokenizer


def adapter_digest(adapter_dir: Path) -> str:
    """A hash of the adapter's config and weights."""
    digest = hashlib.sha256()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        digest.update((adapter_dir / name).read_bytes())
    return digest.hexdigest()[:16]


def merged_model(model_dir: Path, adapter_dir: Path, cache_dir: Path, dtype: str) -> Path:
    """The merged copy of base + adapter in the run's `dtype` (made once per adapter and dtype, then reused)."""
    target = cache_dir / "merged" / f"{adapter_digest(adapter_dir)}-{dtype}"
    if (target / "config.json").is_file():
        return target
    with key_lock(target, f"merge of {target.name}"):
        if not (target / "config.json").is_file():
            _merge_into(model_dir, adapter_dir, dtype, target)
    return target


def _merge_into(model_dir: Path, adapter_dir: Path, dtype: str, target: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    print(f"[merge] folding the adapter into a copy of the base model -> {target}", flush=True)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch_dtype(dtype))
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    with building(target) as staging:
        merged.save_pretrained(staging)
        load_tokenizer(model_dir).save_pretrained(staging)
