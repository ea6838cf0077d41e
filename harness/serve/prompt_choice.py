"""Earn the "best prompt": score each zero-shot variant on the dev split and record the winner.

The choice is cached under a key of everything that could change it (model, dev records, the
variants' template texts, decoding and engine settings), so `harness compare` reuses a recorded
winner and reports the search effort (variants tried, each one's dev score). Selection uses the
task's primary metric on dev, never test. The choice file is written atomically, as runs may share
a cache. This module knows nothing of candidates beyond the decoding it tunes under, and nothing of
MLflow or reports.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.serve.batch_store import BatchStore
from harness.cache_files import content_key, write_text
from harness.engine.types import Engine
from harness.score.candidate_scores import primary_value, score_candidate
from harness.serve.predict import Batch, LoadProfile, run_batches
from harness.task.prompts import template_source
from harness.task.records import Record, records_hash
from harness.serve.requests import RequestBuilder
from harness.task.specs import CandidateSpec, TaskSpec
from harness.task.strict_yaml import to_dict


@dataclass(frozen=True)
class PromptChoice:
    """The winning template, how many variants were tried and each variant's dev score."""

    winner: str
    variants_tried: int
    metric: str
    dev_scores: Mapping[str, float]
    key: str


def choice_key(task: TaskSpec, model_hash: str, dev: Sequence[Record], tuned: CandidateSpec, engine: Mapping[str, Any]) -> str:
    """A hash of every input that could change which variant wins."""
    parts = {
        "model": model_hash,
        "dev": records_hash(dev),
        "templates": {name: template_source(task, name) for name in task.prompts.variants},
        "decoding": to_dict(tuned.decoding),
        "metric": task.gate.primary_metric,
        "engine": dict(engine),
    }
    return content_key(parts)


def choice_path(cache_dir: Path, task: TaskSpec, key: str) -> Path:
    return cache_dir / "prompt_choice" / task.id / f"{key}.json"


def load_choice(cache_dir: Path, task: TaskSpec, key: str) -> PromptChoice | None:
    path = choice_path(cache_dir, task, key)
    return PromptChoice(**json.loads(path.read_text())) if path.is_file() else None


def save_choice(cache_dir: Path, task: TaskSpec, choice: PromptChoice) -> Path:
    path = choice_path(cache_dir, task, choice.key)
    write_text(path, json.dumps(dataclasses.asdict(choice), indent=2))
    return path


def variant_batches(builder: RequestBuilder, task: TaskSpec, dev: Sequence[Record], tuned: CandidateSpec, store: BatchStore) -> list[Batch]:
    """One dev batch per zero-shot variant, with the tuned candidate's decoding."""
    batches = []
    for variant in task.prompts.variants:
        label = f"tune.{variant}"
        variant_candidate = dataclasses.replace(tuned, id=label, prompt=variant)
        batches.append(Batch(label, "dev", builder.build(variant_candidate, variant, dev, "dev"), store.log_path(label, "dev")))
    return batches


def choose_prompt(task: TaskSpec, dev: Sequence[Record], store: BatchStore, key: str) -> PromptChoice:
    """Score every variant's served dev batch; the best primary score wins."""
    scores: dict[str, float] = {}
    for variant in task.prompts.variants:
        label = f"tune.{variant}"
        logged = store.predictions(label, "dev")
        result = score_candidate(task, label, dev, [logged[r.id] for r in dev], max(store.wall_seconds(label, "dev"), 1e-9), None)
        scores[variant] = primary_value(result, task.gate.primary_metric)
        print(f"[tune-prompt] {variant}: dev {task.gate.primary_metric} = {scores[variant]:.3f}", flush=True)
    winner = max(task.prompts.variants, key=lambda name: scores[name])
    return PromptChoice(winner, len(task.prompts.variants), task.gate.primary_metric, scores, key)


async def tune_prompt(engine: Engine, builder: RequestBuilder, task: TaskSpec, dev: Sequence[Record], tuned: CandidateSpec,
                      store: BatchStore, profile: LoadProfile, key: str) -> PromptChoice:
    """Serve every variant on dev together (nobody reads their latency), then choose the winner."""
    await run_batches(engine, variant_batches(builder, task, dev, tuned, store), profile,
                      lambda batch, seconds: store.add_wall_seconds(batch.candidate, batch.split, seconds))
    return choose_prompt(task, dev, store, key)
