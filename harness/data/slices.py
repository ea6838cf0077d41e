"""Edge-case slices of the held-out set: perturbed variants of test records, declared by the task.

A task's `slices` names each slice and the perturbation steps it applies in order
(harness.data.perturb). A slice holds a variant of each of the first `records` test records the
steps apply to, with the gold the steps imply; its split is named `slice.<name>` and its record ids
are `<test id>~<slice>`, so every candidate is scored on the same variants (paired). The variants of
all slices are served as one batch per candidate (split `slices`), scored slice by slice. The randomness
of a variant depends on the slice's seed, its name and the record id only: a slice is identical on
every run and does not change when other records or slices do. This module knows task specs and
records, nothing of engines or scoring.
"""

from __future__ import annotations

import random
from typing import Any, Mapping, Sequence

from harness.data.perturb import STEPS, Context
from harness.errors import HarnessError
from harness.task.records import Record
from harness.task.specs import TaskSpec

PREFIX = "slice."
SERVED_SPLIT = "slices"  # every slice's variants in one batch per candidate: one engine pass instead of a short batch per slice


def slice_split(name: str) -> str:
    return f"{PREFIX}{name}"


def is_slice(split: str) -> bool:
    return split.startswith(PREFIX)


def slice_name(split: str) -> str:
    return split.removeprefix(PREFIX)


def served_together(slices: Mapping[str, Sequence[Record]]) -> tuple[Record, ...]:
    """Every slice's variants, in slice order: the records of the one batch each candidate is served on."""
    return tuple(record for records in slices.values() for record in records)


def apply_steps(task: TaskSpec, name: str, steps: Sequence[Mapping[str, Any]], record: Record) -> Record | None:
    """The record's variant under one slice's steps, or None when a step does not apply to it."""
    context = Context(task.dir, task.fields, random.Random(f"{task.slices.seed}:{name}:{record.id}"))
    text, gold = record.text, dict(record.gold)
    for number, step in enumerate(steps):
        where = f"{task.dir / 'task.yaml'}: slices.define.{name}[{number}]"
        parameters = {key: value for key, value in step.items() if key != "step"}
        if step.get("step") not in STEPS:
            raise HarnessError(f"unknown step {step.get('step')!r}", where, f"use one of {sorted(STEPS)}")
        try:
            variant = STEPS[step["step"]](text, gold, context, **parameters)
        except TypeError as exc:
            raise HarnessError(f"bad parameters for step {step['step']!r}: {exc}", where) from None
        if variant is None:
            return None
        text, gold = variant
    return Record(f"{record.id}~{name}", record.source_id, text, gold, record.origin)


def derive_slices(task: TaskSpec, test: Sequence[Record], records: int | None = None) -> dict[str, tuple[Record, ...]]:
    """Each declared slice's split: variants of the first `records` (default: the task's) test records it applies to."""
    wanted = task.slices.records if records is None else records
    splits: dict[str, tuple[Record, ...]] = {}
    for name, steps in task.slices.define.items() if wanted > 0 else ():
        variants: list[Record] = []
        for record in test:
            if len(variants) == wanted:
                break
            variant = apply_steps(task, name, steps, record)
            variants += [variant] if variant is not None else []
        splits[slice_split(name)] = tuple(variants)
    return splits
