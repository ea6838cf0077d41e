"""Reuse the prompt-only candidates' batches between runs whose inputs to them are unchanged.

A CI gate retrains an adapter often while the baseline stays put. The baseline's batches (dev and
test, prompt search included) are cached under a key of everything that could change them: the
base model's hash, the data hashes, the prompt-only candidate recipes and their templates, the
engine settings (with the serving endpoint and the hardware) and the load profile. A run with the
same key copies them in, and the resume logic then skips those requests. The key's parts are
recorded so a reader can see why a cache was (not) reused, and the entry names the run that
measured it. Runs sharing a cache are safe: an entry is built under a temporary name and published whole
(harness.cache_files); a run that measured anew replaces it under the key's exclusive lock, while
restoring holds the lock shared, so no entry is swapped out under a reader. This module knows file
layout and hashing only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from harness.serve.batch_store import BatchStore
from harness.cache_files import building, content_key, key_lock, write_text


def baseline_key_parts(model_hash: str, data_hashes: Mapping[str, str], recipes: Mapping[str, Any], templates: Mapping[str, str],
                       engine: Mapping[str, Any], load_profile: Mapping[str, Any]) -> dict[str, Any]:
    return {"model_hash": model_hash, "data_hashes": dict(data_hashes), "candidates": dict(recipes),
            "templates_sha256": {name: hashlib.sha256(text.encode()).hexdigest() for name, text in templates.items()},
            "engine": dict(engine), "load_profile": dict(load_profile)}


def baseline_key(parts: Mapping[str, Any]) -> str:
    return content_key(parts)


def cache_dir_for(cache_root: Path, task_id: str, key: str) -> Path:
    return cache_root / "baselines" / task_id / key


def restore(cache: Path, store: BatchStore, batches: Iterable[tuple[str, str]]) -> tuple[list[tuple[str, str]], str | None]:
    """Copy cached batches into the run's store; return the ones restored and the run that measured them."""
    with key_lock(cache, f"baseline cache save of {cache.name}", shared=True):
        if not (cache / "complete").is_file():
            return [], None
        cached = BatchStore(cache)
        restored = [(label, split) for label, split in batches if store.copy_batch(cached, label, split)]
        source = cache / "measured_by"
        return restored, source.read_text() if source.is_file() else None


def save(cache: Path, store: BatchStore, batches: Iterable[tuple[str, str]], parts: Mapping[str, Any], run_id: str) -> None:
    """Store the run's baseline batches (complete ones only) under the key, atomically, with the id
    of the run that measured them.

    An entry that already holds exactly these batches (this run restored them) is left alone;
    otherwise this run's newer measurement replaces it.
    """
    batches = list(batches)
    with key_lock(cache, f"baseline cache save of {cache.name}"):
        if (cache / "complete").is_file() and same_batches(BatchStore(cache), store, batches):
            return
        with building(cache, replace=True) as staging:
            target = BatchStore(staging)
            for label, split in batches:
                target.copy_batch(store, label, split)
            write_text(staging / "key_parts.json", json.dumps(parts, indent=2, default=str))
            write_text(staging / "measured_by", run_id)
            write_text(staging / "complete", "")


def same_batches(cached: BatchStore, store: BatchStore, batches: Iterable[tuple[str, str]]) -> bool:
    """Whether both stores hold byte-identical logs and wall times for `batches`."""
    for label, split in batches:
        for path_of in (BatchStore.log_path, BatchStore.wall_path):
            ours, theirs = path_of(store, label, split), path_of(cached, label, split)
            if ours.is_file() != theirs.is_file() or (ours.is_file() and ours.read_bytes() != theirs.read_bytes()):
                return False
    return True
