"""Build a task's data: train / few-shot pool / dev / test records, written with their data card.

Real data comes from a CUAD-layout folder (the task's `data.source`, or `source`), dealt out by
contract; the test split may instead come from another folder (`test_from`), so a team can
evaluate on its own held-back contracts. With `synthetic` the labelled generator stands in for
every split; with `data.synthetic_mix` it adds labelled synthetic records to train only. Every
candidate passes the noise filter, and dev/test candidates that duplicate a training-side record
are dropped before selection. Same inputs give byte-identical files. This module wires the steps;
it knows nothing of prompts, engines or the CLI.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from harness.data import card as card_module
from harness.data.cuad_layout import CSV_NAME, TEXT_DIR, Contract, read_contracts
from harness.data.excerpts import TokenCounter
from harness.data.filtering import filter_candidates
from harness.data.harvest import Candidate, Harvest
from harness.data.leakage import TrainingIndex
from harness.data.recipes import Recipe, recipe_for, wanted_categories
from harness.data.splits import SPLITS, assign_documents, select
from harness.data.synthetic import synthetic_harvest
from harness.errors import HarnessError
from harness.task.records import Record, write_records
from harness.task.specs import TaskSpec

CANDIDATES_PER_RECORD = 3


@dataclass(frozen=True)
class BuiltData:
    """The built splits, each split's origins ({origin: records}), content hashes and data card."""

    splits: Mapping[str, tuple[Record, ...]]
    origins: Mapping[str, Mapping[str, int]]
    hashes: Mapping[str, str]
    card: Mapping[str, Any]


def build_task_data(task: TaskSpec, out_dir: Path, count_tokens: TokenCounter, source: Path | None = None,
                    test_from: Path | None = None, synthetic: bool = False) -> BuiltData:
    """Build, write (`<split>.jsonl`, data_card.json, data_card.md under out_dir) and return the task's data."""
    recipe = recipe_for(task)
    check_sizes(task)
    if synthetic and test_from is not None:
        raise HarnessError("--synthetic and --test-from exclude each other", "options", "drop one of them")
    folder = None if synthetic else (source or default_source(task))
    harvests = (synthetic_pools(task, count_tokens) if folder is None
                else real_pools(task, recipe, count_tokens, folder, test_from))
    records, filtered = choose_records(task, recipe, harvests, count_tokens)
    check_shortfall(task, records)
    label = None if synthetic else str(source) if source else task.data.source
    sources = {"source": label, "test_from": None if test_from is None else str(test_from),
               "synthetic": synthetic, "source_sha256": None if folder is None else folder_hash(folder, test_from)}
    card = card_module.data_card(task, records, harvests, filtered, sources, count_tokens)
    write_outputs(out_dir, records, card)
    origins = {name: dict(sorted(Counter(r.origin for r in split).items())) for name, split in records.items()}
    return BuiltData(records, origins, card["hashes"], card)


def check_sizes(task: TaskSpec) -> None:
    """The task must ask for exactly the four splits, each a positive count."""
    where = f"{task.dir / 'task.yaml'}: data.splits"
    if set(task.data.splits) != set(SPLITS) or any(int(n) < 1 for n in task.data.splits.values()):
        raise HarnessError(f"splits must be {list(SPLITS)}, each at least 1; got {dict(task.data.splits)}", where)


def shortfall(task: TaskSpec, records: Mapping[str, tuple[Record, ...]]) -> dict[str, tuple[int, int]]:
    """{split: (records built, records asked)} for every split smaller than asked."""
    return {name: (len(records[name]), task.data.splits[name]) for name in SPLITS if len(records[name]) < task.data.splits[name]}


def check_shortfall(task: TaskSpec, records: Mapping[str, tuple[Record, ...]]) -> None:
    """A split below `data.min_split_fraction` of what was asked (or empty) is an error, before anything is written."""
    fraction = task.data.min_split_fraction
    short = {name: f"{n} of {asked}" for name, (n, asked) in shortfall(task, records).items() if n < max(1, math.ceil(fraction * asked))}
    if short:
        raise HarnessError(f"the data holds too few usable records: {short} (below data.min_split_fraction {fraction:g} of each split asked)",
                           f"{task.dir / 'task.yaml'}: data.splits (or --train-size/--few-shot-pool-size/--dev-size/--test-size)",
                           "ask for fewer records per split, or give more contracts (--data/--test-from)")


def default_source(task: TaskSpec) -> Path:
    """The task's data.source, relative to the repository root (the folder holding tasks/)."""
    return task.dir.resolve().parent.parent / task.data.source


def origin_of(task: TaskSpec, folder: Path) -> str:
    """'cuad' for the task's own source folder, 'folder:<name>' for any other folder."""
    return "cuad" if folder.resolve() == default_source(task).resolve() else f"folder:{folder.resolve().name}"


def real_pools(task: TaskSpec, recipe: Recipe, count_tokens: TokenCounter, folder: Path, test_from: Path | None) -> dict[str, Harvest]:
    """Each split's harvest from CUAD-layout contracts, dealt out by contract."""
    categories = wanted_categories(task)
    contracts = read_contracts(folder, "--data (or data.source in task.yaml)", categories)
    held: list[Contract] = [] if test_from is None else read_contracts(test_from, "--test-from", categories)
    held_ids = {c.id for c in held}
    sizes = {name: (0 if name == "test" and held else n) for name, n in task.data.splits.items()}
    usable = [c for c in contracts if c.id not in held_ids]
    dealt = assign_documents([c.id for c in usable], sizes, task.data.seed)
    by_id = {c.id: c for c in usable}
    pools = {name: recipe.harvest(task, [by_id[i] for i in dealt[name]], count_tokens, origin_of(task, folder)) for name in SPLITS}
    if held:
        pools["test"] = recipe.harvest(task, held, count_tokens, origin_of(task, test_from))
        pools["train"].dropped["source contract also in --test-from (left out)"] += len(contracts) - len(usable)
    return pools


def synthetic_pools(task: TaskSpec, count_tokens: TokenCounter) -> dict[str, Harvest]:
    """Each split's harvest from the synthetic generator (the offline source)."""
    return {name: synthetic_harvest(task, name, n * CANDIDATES_PER_RECORD, count_tokens) for name, n in task.data.splits.items()}


def choose_records(task: TaskSpec, recipe: Recipe, pools: Mapping[str, Harvest],
                   count_tokens: TokenCounter) -> tuple[dict[str, tuple[Record, ...]], dict[str, Counter[str]]]:
    """Filter, select the training side, drop leaked evaluation candidates, select the rest."""
    weights, seed = recipe.weights(task), task.data.seed
    kept: dict[str, list[Candidate]] = {}
    filtered: dict[str, Counter[str]] = {}
    for name in SPLITS:
        kept[name], filtered[name] = filter_candidates(pools[name].candidates, task.schema, task.fields)
    records = {name: select(kept[name], task.data.splits[name], weights, seed, name) for name in ("train", "few_shot_pool")}
    records["train"] = records["train"] + mixed_in(task, weights, count_tokens, filtered["train"])
    index = TrainingIndex(records["train"] + records["few_shot_pool"])
    for name in ("dev", "test"):
        clean = []
        for candidate in kept[name]:
            match = index.match(candidate.record)
            if match is None:
                clean.append(candidate)
            else:
                filtered[name][f"{match.kind} duplicate of a training-side record"] += 1
        records[name] = select(clean, task.data.splits[name], weights, seed, name)
    return {name: tuple(records[name]) for name in SPLITS}, filtered


def mixed_in(task: TaskSpec, weights: Mapping[str, float], count_tokens: TokenCounter, filtered: Counter[str]) -> list[Record]:
    """Synthetic train records added on top of the real ones: data.synthetic_mix per real record."""
    wanted = round(task.data.synthetic_mix * task.data.splits["train"])
    if wanted <= 0:
        return []
    pool = synthetic_harvest(task, "train_mix", wanted * CANDIDATES_PER_RECORD, count_tokens)
    kept, dropped = filter_candidates(pool.candidates, task.schema, task.fields)
    filtered.update({f"synthetic mix: {reason}": n for reason, n in dropped.items()})
    return select(kept, wanted, weights, task.data.seed, "train_mix")


def folder_hash(folder: Path, test_from: Path | None) -> str:
    """sha256 over the clauses CSV and contract texts of the folder(s) read."""
    digest = hashlib.sha256()
    for root in [folder] + ([test_from] if test_from else []):
        for path in [root / CSV_NAME, *sorted((root / TEXT_DIR).glob("*.txt"))]:
            digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes())
    return digest.hexdigest()


def write_outputs(out_dir: Path, records: Mapping[str, tuple[Record, ...]], card: Mapping[str, Any]) -> None:
    """The split files and the card, in JSON and Markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        write_records(out_dir / f"{name}.jsonl", records[name])
    (out_dir / "data_card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "data_card.md").write_text(card_module.card_markdown(card), encoding="utf-8")
