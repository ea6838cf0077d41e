"""Reuse the prompt-only candidates' batches between runs whose inputs to them are unchanged.

A CI gate retrains an adapter often while the baseline stays put. The baseline's batches (dev and
test, prompt search included) are cached under a key of everything that could change them: the
base model's hash, the data hashes, the prompt-only candidate recipes and their templates, the
engine settings and the load profile. A run with the same key copies them in, and the resume logic
then skips those requests. The key's parts are recorded so a reader can see why a cache was (not)
reused. This module knows file layout and hashing only.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping

from harness.batch_store import BatchStore


def baseline_key_parts(model_hash: str, data_hashes: Mapping[str, str], recipes: Mapping[str, Any], templates: Mapping[str, str],
                       engine: Mapping[str, Any], load_profile: Mapping[str, Any]) -> dict[str, Any]:
    return {"model_hash": model_hash, "data_hashes": dict(data_hashes), "candidates": dict(recipes),
            "templates_sha256": {name: hashlib.sha256(text.encode()).hexdigest() for name, text in templates.items()},
            "engine": dict(engine), "load_profile": dict(load_profile)}


def baseline_key(parts: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cache_dir_for(cache_root: Path, task_id: str, key: str) -> Path:
    return cache_root / "baselines" / task_id / key


def restore(cache: Path, store: BatchStore, batches: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Copy cached batches into the run's store; return the ones restored."""
    if not (cache / "complete").is_file():
        return []
    cached = BatchStore(cache)
    return [(label, split) for label, split in batches if store.copy_batch(cached, label, split)]


def save(cache: Path, store: BatchStore, batches: Iterable[tuple[str, str]], parts: Mapping[str, Any]) -> None:
    """Store the run's baseline batches (complete ones only) under the key, atomically."""
    staging = cache.with_name(cache.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    target = BatchStore(staging)
    for label, split in batches:
        target.copy_batch(store, label, split)
    (staging / "key_parts.json").write_text(json.dumps(parts, indent=2, default=str))
    (staging / "complete").write_text("")
    shutil.rmtree(cache, ignore_errors=True)
    staging.replace(cache)
