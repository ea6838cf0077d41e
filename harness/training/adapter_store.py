"""Content-addressed adapter folders: the key, cache lookup, manifest and history files, atomic publish.

An adapter lives in `<store>/<key>/` where the key is the sha256 of a canonical JSON of its parts:
the base model's fingerprint, the hash of the train and dev examples, the prompt template and every
training setting (plus the key scheme's version, so a change to what training means retires old
adapters). Training builds the folder under `<store>/.staging/<key>/` (with its checkpoints) and
renames it into place when complete, so a folder under its key is always whole; it does so under
the key's inter-process lock (`training_lock`), so two runs sharing a store train one adapter once.
A run that serves a stored adapter holds the key's shared use lock (`adapter_in_use`); replacing a
published adapter (`--retrain`) takes that lock exclusively, so it waits for those runs to finish
instead of pulling the folder from under them.
This module knows nothing of models or training; it does not import torch.
"""

from __future__ import annotations

import json
import shutil
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Iterable

from harness.cache_files import content_key, key_lock, write_text
from harness.cache_files import publish as publish_folder
from harness.errors import HarnessError
from harness.task.specs import TrainSpec
from harness.task.strict_yaml import to_dict

KEY_SCHEME = 2
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "manifest.json", "history.jsonl")


def key_parts(base_model_hash: str, dataset_hash: str, prompt_template: str, settings: TrainSpec, train_dtype: str = "float32") -> dict[str, Any]:
    """The inputs an adapter is keyed by, as recorded in its manifest (the training dtype among them)."""
    return {
        "key_scheme": KEY_SCHEME,
        "base_model_hash": base_model_hash,
        "dataset_hash": dataset_hash,
        "prompt_template": prompt_template,
        "settings": to_dict(settings),
        "train_dtype": train_dtype,
    }


def key_of(parts: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of assembled `key_parts`: equal inputs, equal key; any change, a new key."""
    return content_key(parts, digits=64, compact=True)


def find_adapter(store_dir: Path, key: str) -> Path | None:
    """The published adapter folder for `key`, or None if none was trained; a broken folder raises."""
    folder = store_dir / key
    if not folder.exists():
        return None
    missing = [name for name in ADAPTER_FILES if not (folder / name).is_file()]
    if missing:
        raise HarnessError(f"adapter folder lacks {missing}", str(folder), "delete the folder or train again with --retrain")
    recorded = read_manifest(folder).get("key")
    if recorded != key:
        raise HarnessError(f"manifest key {recorded!r} does not match the folder name", str(folder / "manifest.json"), "delete the folder or train again with --retrain")
    return folder


def read_manifest(folder: Path) -> dict[str, Any]:
    """An adapter folder's manifest.json."""
    path = folder / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HarnessError(f"cannot read the adapter manifest: {exc}", str(path), "delete the folder or train again with --retrain") from None


def staging_dir(store_dir: Path, key: str) -> Path:
    """Where an adapter with `key` is trained and checkpointed before it is published."""
    return store_dir / ".staging" / key


def write_json(path: Path, value: Any) -> None:
    """Write JSON (indented, keys sorted), atomically."""
    write_text(path, json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_history(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write the loss history as JSON lines, one row per step, atomically."""
    write_text(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))


def training_lock(store_dir: Path, key: str) -> AbstractContextManager[bool]:
    """The inter-process lock under which the adapter for `key` is trained and published (yields: waited)."""
    return key_lock(store_dir / key, f"training of adapter {key[:12]}")


def adapter_in_use(store_dir: Path, key: str, exclusive: bool = False) -> AbstractContextManager[bool]:
    """The use lock of the stored adapter `key`: shared while a run serves it, exclusive while it is replaced."""
    what = f"use of adapter {key[:12]} (it is replaced once no run serves it)" if exclusive else f"replacement of adapter {key[:12]}"
    return key_lock(store_dir / f"{key}.in-use", what, shared=not exclusive)


def publish(built: Path, store_dir: Path, key: str) -> Path:
    """Move a complete adapter folder to `<store>/<key>/` by rename, replacing an older one once no run serves it
    (hold `training_lock`)."""
    missing = [name for name in ADAPTER_FILES if not (built / name).is_file()]
    if missing:
        raise RuntimeError(f"refusing to publish {built}: missing {missing}")
    final = store_dir / key
    with adapter_in_use(store_dir, key, exclusive=True):
        publish_folder(built, final, replace=True)
    shutil.rmtree(staging_dir(store_dir, key), ignore_errors=True)
    return final
