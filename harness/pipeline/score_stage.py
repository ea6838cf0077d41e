"""The score stage: every served batch of a run read back and scored, nothing decided yet.

Every candidate label (an adapter served both ways appears as `<id>` and `<id>@merged`) is scored
on the test split, priced by its measured wall time, and on each edge-case slice (all slices are
served in one batch); each prompt-only candidate's dev numbers are gathered for the baseline choice
(the tuned one's primary metric from the prompt search); the regression probe's raw outputs are
collected for the base model and each way the adapter was served. The result is a `ScoredRun`;
the decide stage compares and judges it. This module reads the run's batch store; it writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from harness.adapter.serving_mode import AdapterServing
from harness.data.slices import SERVED_SPLIT, is_slice
from harness.decide.baseline_choice import DevStanding
from harness.engine.prediction_log import Prediction
from harness.pipeline.run_facts import RunFacts, labels, verdict_label
from harness.score.candidate_scores import CandidateResult, primary_value, score_candidate
from harness.score.cost import self_hosted_cost_per_1k
from harness.serve.batch_store import BatchStore
from harness.task.probes import ADAPTER_LABEL as ADAPTER_PROBES
from harness.task.probes import BASE_LABEL as BASE_PROBES
from harness.task.probes import SPLIT as PROBE_SPLIT
from harness.task.specs import merged_label, tuned_candidate

PROBE_LABELS = {AdapterServing.DYNAMIC: ADAPTER_PROBES, AdapterServing.MERGED: merged_label(ADAPTER_PROBES)}


@dataclass(frozen=True)
class ScoredRun:
    """Scores of one run: per label on test (`results`), per slice split and label, dev standings, probe outputs."""

    results: Mapping[str, CandidateResult]
    on_slices: Mapping[str, Mapping[str, CandidateResult]]
    standings: tuple[DevStanding, ...]
    probes: Mapping[str, Mapping[str, Prediction]] | None


def score_label(facts: RunFacts, store: BatchStore, label: str, split: str, priced: bool, served_as: str | None = None) -> CandidateResult:
    """A label's scores on a split's records, read from the batch they were served in (`served_as`, default the split)."""
    records, batch = facts.splits[split], served_as or split
    logged = store.predictions(label, batch)
    predictions = [logged[r.id] for r in records]
    wall = store.wall_seconds(label, batch)
    cost = self_hosted_cost_per_1k(wall, len(records), facts.price_usd_per_hour) if priced else None
    return score_candidate(facts.task, label, records, predictions, wall, cost, store.usage(label, batch))


def dev_standings(facts: RunFacts, store: BatchStore) -> tuple[DevStanding, ...]:
    """Each prompt-only candidate's dev numbers: the primary metric (the tuned one's from the prompt
    search), schema-valid rate and prompt tokens (the tuned one's from its winning variant's dev batch,
    None when that batch is not in this run because the choice came from the cache)."""
    metric, choice, standings = facts.task.gate.primary_metric, facts.choice, []
    for candidate in facts.candidates:
        if candidate.adapter:
            continue
        tuned = candidate == tuned_candidate(facts.candidates)
        label = f"tune.{choice.winner}" if tuned else candidate.id
        whole = store.predictions(label, "dev").keys() >= {r.id for r in facts.splits["dev"]}
        result = score_label(facts, store, label, "dev", False) if whole or not tuned else None
        primary = choice.dev_scores[choice.winner] if tuned else primary_value(result, metric)
        secondary = {name: None if result is None else result.metrics.values.get(name) for name in ("schema_valid_rate", "tokens_in_mean")}
        standings.append(DevStanding(candidate.id, primary, **secondary))
    return tuple(standings)


def probe_outputs(facts: RunFacts, store: BatchStore) -> dict[str, dict[str, Prediction]] | None:
    """The regression probe's outputs of the base model and of each served adapter (None without an
    adapter, or when a probe batch was not served: no numbers are made up for it)."""
    if verdict_label(facts) is None:
        return None
    batches = {label: store.predictions(label, PROBE_SPLIT) for label in (BASE_PROBES, *(PROBE_LABELS[s] for s in facts.serving))}
    return batches if all(batches.values()) else None


def score_run(facts: RunFacts, store: BatchStore) -> ScoredRun:
    """Score every label on test and on each slice, gather the dev standings and the probe outputs."""
    results = {label: score_label(facts, store, label, "test", True) for label in labels(facts)}
    on_slices = {split: {label: score_label(facts, store, label, split, False, SERVED_SPLIT) for label in labels(facts)}
                 for split in facts.splits if is_slice(split)}
    return ScoredRun(results, on_slices, dev_standings(facts, store), probe_outputs(facts, store))
