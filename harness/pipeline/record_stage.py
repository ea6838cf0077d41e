"""The record stage: a run's facts, scores and decision assembled into its `RunSummary`.

Each scored label becomes a candidate entry (spec, prompt, metrics with intervals, failures by kind)
and its scored predictions are written beside the summary (`predictions/<label>.jsonl`, with the
gold answer and each field's score); the adapter's quality and latency under each serving pattern
join the engine section; the guided candidate's schema compliance is audited; the baseline choice,
prompt search, verdict, comparisons, cost, slices and regression come from the decide stage as
decided. This module never touches an engine, MLflow or the report; the caller writes summary.json.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.pipeline.decide_stage import Decision
from harness.pipeline.run_facts import RunFacts, labels
from harness.pipeline.score_stage import ScoredRun
from harness.record.run_record import SCHEMA_VERSION, write_jsonl
from harness.record.run_summary import BaselineSelection, CandidateEntry, DataSection, PromptSearch, RunSummary
from harness.score.candidate_scores import CandidateResult, guided_audit
from harness.score.metrics import METRICS
from harness.task.prompts import resolve_template
from harness.task.records import Record
from harness.task.specs import CandidateSpec
from harness.task.strict_yaml import to_dict

SERVING_METRICS = ("field_f1", "schema_valid_rate", "latency_p50_s", "latency_p95_s", "ttft_p95_s", "throughput_tokens_out_per_s")


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


def adapter_serving(facts: RunFacts, results: Mapping[str, CandidateResult]) -> dict[str, Any]:
    """Quality and latency of the adapter under each serving pattern (the verdict names the one it used)."""
    return {serving: {m: results[label].metrics.values.get(m) for m in SERVING_METRICS} | {"label": label}
            for label, (candidate, serving) in labels(facts).items() if candidate.adapter}


def candidate_entries(facts: RunFacts, scored: ScoredRun, run_dir: Path) -> dict[str, CandidateEntry]:
    """Every label's entry, its scored predictions written to the run folder on the way."""
    entries = {}
    for label, (candidate, serving) in labels(facts).items():
        result = scored.results[label]
        entries[label] = candidate_entry(result, candidate, serving, resolve_template(candidate, facts.task, facts.choice.winner))
        write_scored(run_dir, result, facts.splits["test"])
    return entries


def record_run(facts: RunFacts, scored: ScoredRun, decision: Decision, run_dir: Path, run_id: str) -> RunSummary:
    """The run summary, with the scored predictions written beside it."""
    gate, choice, sections = facts.task.gate, facts.choice, dict(facts.sections)
    entries = candidate_entries(facts, scored, run_dir)
    guided = [label for label, (c, _) in labels(facts).items() if c.decoding.guided_json]
    return RunSummary(
        schema_version=SCHEMA_VERSION, task=facts.task.id, run_id=run_id, split="test",
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        verdict=decision.verdict, gate=gate, candidates=entries,
        metric_defs={d.name: {"unit": d.unit, "direction": d.direction, "description": d.description} for d in METRICS},
        comparisons=decision.comparisons,
        baseline_selection=BaselineSelection(**decision.selection.section(), chosen_on="dev", metric=gate.primary_metric,
                                             dev_scores={s.candidate: s.primary for s in scored.standings}),
        prompt_search=PromptSearch(winner=choice.winner, variants_tried=choice.variants_tried, metric=choice.metric,
                                   dev_scores=dict(choice.dev_scores), key=choice.key),
        cost=decision.cost, slices=decision.slices, regression=decision.regression,
        engine=dict(sections.pop("engine", {})) | {"adapter_serving": adapter_serving(facts, scored.results)},
        data=DataSection(**sections.pop("data")),
        environment=sections.pop("environment"),
        guided_audit=guided_audit(scored.results[guided[0]], facts.task.schema) if guided else None,
        **sections,
    )
