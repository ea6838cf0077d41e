"""The comparison's data stage: build the task's splits once per data spec and describe them.

The data library (harness.data) builds records deterministically; this stage decides where the
build lives (a cache folder keyed by the data spec and sources, so unchanged inputs are not rebuilt;
built under a temporary name and published whole, so runs sharing a cache never read half a build),
counts tokens with the served model's tokenizer, and gives the run its data section and card. It
knows nothing of engines or scoring.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from harness.cache_files import building, content_key
from harness.data.build import SPLITS, build_task_data, shortfall
from harness.errors import HarnessError
from harness.task.records import Record, read_records
from harness.pipeline.run_config import DataOptions
from harness.task.specs import TaskSpec
from harness.task.strict_yaml import to_dict


@dataclass(frozen=True)
class TaskData:
    """The built splits, their hashes and origins, and the folder holding the card."""

    splits: Mapping[str, tuple[Record, ...]]
    hashes: Mapping[str, str]
    origins: Mapping[str, Mapping[str, int]]
    folder: Path

    def training_records(self) -> tuple[Record, ...]:
        return self.splits["train"]

    def card(self) -> dict[str, Any]:
        return json.loads((self.folder / "data_card.json").read_text())

    def write_card(self, run_dir: Path) -> None:
        for name in ("data_card.json", "data_card.md"):
            shutil.copyfile(self.folder / name, run_dir / name)

    def section(self) -> dict[str, Any]:
        """The summary's data section: per split its size, origins and content hash."""
        splits = {name: {"n": len(records), "origin": "+".join(self.origins[name]) or "none", "origins": dict(self.origins[name]),
                         "hash": self.hashes.get(name)} for name, records in self.splits.items()}
        return {"splits": splits, "card_file": "data_card.md", "sources": self.card().get("sources"), "folder": str(self.folder)}


def data_key(task: TaskSpec, options: DataOptions, tokenizer_name: str) -> str:
    parts = {"task": task.id, "data": to_dict(task.data), "schema": task.schema, "fields": dict(task.fields),
             "options": to_dict(options), "tokenizer": tokenizer_name}
    return content_key(parts)


def provide_data(task: TaskSpec, cache_dir: Path, options: DataOptions, tokenizer: Any) -> TaskData:
    """Build the task's data (or reuse the build for the same spec and sources)."""
    folder = cache_dir / "data" / task.id / data_key(task, options, tokenizer.name_or_path)
    if (folder / "data_card.json").is_file():
        splits = {name: tuple(read_records(folder / f"{name}.jsonl")) for name in SPLITS}
        card = json.loads((folder / "data_card.json").read_text())
        origins = {name: _origins(records) for name, records in splits.items()}
        warn_shortfall(task, splits)
        return TaskData(splits, card["hashes"], origins, folder)
    print(f"[data] building {task.id} data into {folder}", flush=True)
    with building(folder) as staging:  # same inputs build the same bytes: a build published meanwhile is kept
        built = build_task_data(task, staging, lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]),
                                source=options.source, test_from=options.test_from, synthetic=options.synthetic)
    if not (folder / "data_card.json").is_file():
        raise HarnessError("an incomplete data build (from a version that built in place) holds this cache entry", str(folder),
                           "delete the folder and run again")
    warn_shortfall(task, built.splits)
    return TaskData(built.splits, built.hashes, built.origins, folder)


def warn_shortfall(task: TaskSpec, splits: Mapping[str, tuple[Record, ...]]) -> None:
    """Print one warning per split that holds fewer records than asked (the build refuses far fewer)."""
    for name, (n, asked) in shortfall(task, splits).items():
        print(f"[data] warning: the {name} split holds {n} records, fewer than the {asked} asked "
              f"(the data has no more usable records for it)", flush=True)


def _origins(records: tuple[Record, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.origin] = counts.get(record.origin, 0) + 1
    return dict(sorted(counts.items()))
