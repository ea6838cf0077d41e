"""Assemble summary.json from a run's batches: scores, metrics, baseline choice, comparisons, verdict.

Every candidate label (an adapter served both ways appears as `<id>` and `<id>@merged`) is scored on
the test split and on each edge-case slice (harness.decide.slice_summary); the regression probe's outputs
are checked for the base model and the adapter (harness.decide.regression); the strongest prompt-only candidate is chosen by its dev score, ties broken by the
stated rule of harness.decide.baseline_choice; the adapter served
the way the verdict uses is compared with it, paired, and the verdict decided. Scored predictions
are written beside the summary. This module composes pure stages and writes the record; it never
touches an engine, MLflow or the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.adapter.serving_mode import AdapterServing
from harness.decide.baseline_choice import DevStanding, choose_baseline
from harness.serve.batch_store import BatchStore
from harness.decide.convergence import training_notes
from harness.score.cost import TokenPrice, api_cost_per_1k, break_even_requests, self_hosted_cost_per_1k, training_cost_usd
from harness.score.candidate_scores import CandidateResult, guided_audit, primary_value, score_candidate
from harness.data.slices import SERVED_SPLIT, is_slice, slice_name
from harness.decide.evaluate import compare_pair, compare_slices
from harness.score.metrics import METRICS, metric_def
from harness.task.records import Record
from harness.record.run_record import SCHEMA_VERSION, write_jsonl
from harness.record.run_summary import BaselineSelection, CandidateEntry, Cost, DataSection, PromptSearch, RunSummary, Verdict
from harness.task.prompts import resolve_template
from harness.serve.prompt_choice import PromptChoice
from harness.decide.slice_summary import slices_section
from harness.task.specs import CandidateSpec, TaskSpec, merged_label, tuned_candidate
from harness.task.strict_yaml import to_dict
from harness.task.probes import ADAPTER_LABEL as ADAPTER_PROBES
from harness.task.probes import BASE_LABEL as BASE_PROBES
from harness.task.probes import SPLIT as PROBE_SPLIT
from harness.decide.regression import regression_section
from harness.decide.verdict import RegressionFinding, SliceFinding

NO_VERDICT = "no_verdict"
NO_ADAPTER_REASON = "no candidate uses an adapter: a prompt-only study, with no verdict to give"
PRICE_NOTE = "assumed price of one accelerator-hour (a parameter, not a measurement); cost = price x measured wall time per request"


@dataclass(frozen=True)
class RunFacts:
    """What the earlier stages established, recorded as given."""

    task: TaskSpec
    candidates: tuple[CandidateSpec, ...]
    splits: Mapping[str, Sequence[Record]]
    choice: PromptChoice
    serving: tuple[AdapterServing, ...]
    verdict_serving: AdapterServing
    price_usd_per_hour: float
    token_price: TokenPrice | None
    seed: int
    sections: Mapping[str, Any] = field(default_factory=dict)


def labels(facts: RunFacts) -> dict[str, tuple[CandidateSpec, str]]:
    """Every scored label with its candidate and how it was served (base, dynamic or merged)."""
    found: dict[str, tuple[CandidateSpec, str]] = {}
    for candidate in facts.candidates:
        if not candidate.adapter:
            found[candidate.id] = (candidate, "base")
            continue
        if AdapterServing.DYNAMIC in facts.serving:
            found[candidate.id] = (candidate, AdapterServing.DYNAMIC)
        if AdapterServing.MERGED in facts.serving:
            found[merged_label(candidate.id)] = (candidate, AdapterServing.MERGED)
    return found


def score_label(facts: RunFacts, store: BatchStore, label: str, split: str, priced: bool, served_as: str | None = None) -> CandidateResult:
    """A label's scores on a split's records, read from the batch they were served in (`served_as`, default the split)."""
    records, batch = facts.splits[split], served_as or split
    logged = store.predictions(label, batch)
    predictions = [logged[r.id] for r in records]
    wall = store.wall_seconds(label, batch)
    cost = self_hosted_cost_per_1k(wall, len(records), facts.price_usd_per_hour) if priced else None
    return score_candidate(facts.task, label, records, predictions, wall, cost, store.usage(label, batch))


def dev_standings(facts: RunFacts, store: BatchStore) -> list[DevStanding]:
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
    return standings


def candidate_entry(result: CandidateResult, candidate: CandidateSpec, serving: str, template: str) -> CandidateEntry:
    metrics = result.metrics.to_dict()
    statuses = [s.status for s in result.scores]
    failed = sum(p.error is not None for p in result.predictions)
    return CandidateEntry(
        description=candidate.description, spec=to_dict(candidate), prompt_template=template, uses_adapter=candidate.adapter,
        serving=serving, metrics=metrics["values"],
        intervals={k: [v["ci_low"], v["ci_high"]] for k, v in metrics["intervals"].items()},
        missing_metrics=metrics["missing"], memory_measure=result.usage.memory_measure,
        per_field_f1={k.split(".", 1)[1]: v for k, v in metrics["values"].items() if k.startswith("field_f1.")},
        failures={"empty": statuses.count("empty") - failed, "not_json": statuses.count("not_json"),
                  "schema_invalid": statuses.count("schema_invalid"), "request_failed": failed},
        predictions_file=f"predictions/{result.candidate}.jsonl")


def write_scored(run_dir: Path, result: CandidateResult, records: Sequence[Record]) -> None:
    rows = []
    for prediction, score, record in zip(result.predictions, result.scores, records):
        row = dict(prediction.__dict__)
        row["score"] = score.to_dict() | ({"status": "request_failed"} if prediction.error else {})
        row["gold"] = dict(record.gold)
        rows.append(row)
    write_jsonl(run_dir / "predictions" / f"{result.candidate}.jsonl", rows)


def cost_section(facts: RunFacts, adapter: CandidateResult, baseline: CandidateResult) -> Cost:
    manifest = facts.sections.get("adapter", {}).get("manifest") or {}
    seconds = manifest.get("train_seconds")
    if seconds is None:
        return Cost(price_usd_per_hour=facts.price_usd_per_hour, price_note=PRICE_NOTE, training_cost_usd=None,
                    break_even_requests=None, break_even_note="no training time recorded (adapter given, no manifest)")
    training = training_cost_usd(seconds, facts.price_usd_per_hour)
    per_request = {r.candidate: r.metrics.value("cost_usd_per_1k_requests") / 1000 for r in (adapter, baseline)}
    even = break_even_requests(training, per_request[adapter.candidate], per_request[baseline.candidate])
    return Cost(price_usd_per_hour=facts.price_usd_per_hour, price_note=PRICE_NOTE, training_cost_usd=training,
                break_even_requests=even.requests, break_even_note=even.reason)


def api_costs(price: TokenPrice, results: Mapping[str, CandidateResult]) -> dict[str, Any]:
    """What each candidate's measured token counts would cost on a hosted API at the given prices."""
    return {"input_usd_per_1m": price.input_usd_per_1m, "output_usd_per_1m": price.output_usd_per_1m,
            "cost_usd_per_1k_requests": {label: api_cost_per_1k(r.metrics.value("tokens_in_mean"), r.metrics.value("tokens_out_mean"), price)
                                         for label, r in results.items()}}


def adapter_training_notes(adapter: Mapping[str, Any]) -> tuple[str, ...]:
    """Under-training or divergence read from the `history.jsonl` beside the adapter of a run's
    `adapter` section (harness.decide.convergence); with no history, a sentence saying it was not checked."""
    history = Path(adapter["path"]) / "history.jsonl" if adapter.get("path") else None
    if history is None or not history.is_file():
        return ("No training history beside the adapter: whether it was trained to convergence is unknown.",)
    rows = [json.loads(line) for line in history.read_text(encoding="utf-8").splitlines() if line.strip()]
    return training_notes(rows, (adapter.get("manifest") or {}).get("kept_step"))


SERVING_METRICS = ("field_f1", "schema_valid_rate", "latency_p50_s", "latency_p95_s", "ttft_p95_s", "throughput_tokens_out_per_s")


def adapter_serving(facts: RunFacts, results: Mapping[str, CandidateResult]) -> dict[str, Any]:
    """Quality and latency of the adapter under each serving pattern (the verdict names the one it used)."""
    return {serving: {m: results[label].metrics.values.get(m) for m in SERVING_METRICS} | {"label": label}
            for label, (candidate, serving) in labels(facts).items() if candidate.adapter}


def verdict_label(facts: RunFacts) -> str | None:
    """The adapter label the verdict judges (served the way it asks), None in a prompt-only study."""
    adapter_id = next((c.id for c in facts.candidates if c.adapter), None)
    if adapter_id is None:
        return None
    return adapter_id if facts.verdict_serving == AdapterServing.DYNAMIC else merged_label(adapter_id)


def probe_outcome(facts: RunFacts, store: BatchStore) -> tuple[dict[str, Any] | None, RegressionFinding | None]:
    """The regression section and finding: the base model against the adapter served the verdict's way (None
    without an adapter, or when a probe batch was not served: no numbers are made up for it)."""
    if verdict_label(facts) is None:
        return None, None
    served = {AdapterServing.DYNAMIC: ADAPTER_PROBES, AdapterServing.MERGED: merged_label(ADAPTER_PROBES)}
    batches = {label: store.predictions(label, PROBE_SPLIT) for label in (BASE_PROBES, *(served[s] for s in facts.serving))}
    if not all(batches.values()):
        return None, None
    return regression_section(BASE_PROBES, batches, served[facts.verdict_serving])


def judge(facts: RunFacts, results: Mapping[str, CandidateResult], baseline: str, slices: tuple[SliceFinding, ...],
          regression: RegressionFinding | None) -> tuple[Verdict, list[Any], Cost]:
    """The verdict, the paired comparisons and the cost section; a prompt-only study has no verdict to give."""
    adapter_label = verdict_label(facts)
    if adapter_label is None:
        verdict = Verdict(decision=NO_VERDICT, reasons=(NO_ADAPTER_REASON,), checks={}, adapter_candidate=None,
                          baseline_candidate=baseline, adapter_serving=None)
        cost = Cost(price_usd_per_hour=facts.price_usd_per_hour, price_note=PRICE_NOTE, training_cost_usd=None,
                    break_even_requests=None, break_even_note="no adapter: nothing to break even")
        return verdict, [], cost
    notes = adapter_training_notes(facts.sections.get("adapter") or {})
    comparison = compare_pair(results[adapter_label], results[baseline], facts.task.gate, facts.seed, notes, slices, regression)
    verdict = Verdict(**comparison.verdict.to_dict(), adapter_candidate=adapter_label, baseline_candidate=baseline,
                      adapter_serving=str(facts.verdict_serving), training_notes=notes)
    return verdict, list(comparison.rows), cost_section(facts, results[adapter_label], results[baseline])


def summarize(facts: RunFacts, store: BatchStore, run_dir: Path, run_id: str) -> RunSummary:
    """Score everything, decide, write scored predictions, and return the run summary."""
    gate, choice = facts.task.gate, facts.choice
    results, entries = {}, {}
    for label, (candidate, serving) in labels(facts).items():
        results[label] = score_label(facts, store, label, "test", True)
        template = resolve_template(candidate, facts.task, choice.winner)
        entries[label] = candidate_entry(results[label], candidate, serving, template)
        write_scored(run_dir, results[label], facts.splits["test"])
    standings = dev_standings(facts, store)
    selection = choose_baseline(standings, metric_def(gate.primary_metric).direction == "higher_is_better")
    baseline, adapter = selection.chosen, verdict_label(facts)
    on_slices = {split: {label: score_label(facts, store, label, split, False, SERVED_SPLIT) for label in labels(facts)}
                 for split in facts.splits if is_slice(split)}
    findings = compare_slices({slice_name(split): (by_label[adapter], by_label[baseline]) for split, by_label in on_slices.items()},
                              gate.primary_metric, facts.seed) if adapter else ()
    regression, regressed = probe_outcome(facts, store)
    verdict, comparisons, cost = judge(facts, results, baseline, findings, regressed)
    guided = [label for label, (c, _) in labels(facts).items() if c.decoding.guided_json]
    sections = dict(facts.sections)
    return RunSummary(
        schema_version=SCHEMA_VERSION, task=facts.task.id, run_id=run_id, split="test",
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        verdict=verdict, gate=gate, candidates=entries,
        metric_defs={d.name: {"unit": d.unit, "direction": d.direction, "description": d.description} for d in METRICS},
        comparisons=tuple(comparisons),
        baseline_selection=BaselineSelection(**selection.section(), chosen_on="dev", metric=gate.primary_metric,
                                             dev_scores={s.candidate: s.primary for s in standings}),
        prompt_search=PromptSearch(winner=choice.winner, variants_tried=choice.variants_tried, metric=choice.metric,
                                   dev_scores=dict(choice.dev_scores), key=choice.key),
        cost=replace(cost, api_comparison=api_costs(facts.token_price, results)) if facts.token_price else cost,
        slices=slices_section(facts.task, facts.splits, on_slices, findings, adapter, baseline, facts.seed),
        regression=regression,
        engine=dict(sections.pop("engine", {})) | {"adapter_serving": adapter_serving(facts, results)},
        data=DataSection(**sections.pop("data")),
        environment=sections.pop("environment"),
        guided_audit=guided_audit(results[guided[0]], facts.task.schema) if guided else None,
        **sections,
    )
