"""Score one candidate's predictions against the gold records and aggregate its metrics.

Pure functions: each output is scored (harness.score.scoring) and the request outcomes are aggregated
into the typed metric set (harness.score.metrics); a guided-decoding candidate also gets an audit of its
schema compliance. Used on dev (the prompt search, the baseline pick) and on test alike. This
module knows nothing of running engines (it reads their recorded `Usage`), comparisons, verdicts or files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from jsonschema import Draft202012Validator

from harness.engine.types import Usage
from harness.score.metrics import MetricSet, RequestOutcome, aggregate
from harness.engine.prediction_log import Prediction
from harness.task.records import Record
from harness.score.scoring import RecordScore, score_output
from harness.task.specs import TaskSpec


@dataclass(frozen=True)
class CandidateResult:
    """One candidate on one split: its predictions in record order, their scores and metrics, and
    what the engine held while serving them."""

    candidate: str
    predictions: tuple[Prediction, ...]
    scores: tuple[RecordScore, ...]
    metrics: MetricSet
    usage: Usage = Usage()


def score_candidate(task: TaskSpec, candidate: str, records: Sequence[Record], predictions: Sequence[Prediction],
                    wall_seconds: float, cost_usd_per_1k: float | None, usage: Usage = Usage()) -> CandidateResult:
    """Score a candidate's predictions (same order as records) and aggregate its metrics, with the
    engine's `usage` while it served them."""
    if [p.record_id for p in predictions] != [r.id for r in records]:
        raise ValueError(f"{candidate}: predictions are not over the records in order")
    scores = tuple(score_output(p.text, task.schema, task.fields, r.gold) for p, r in zip(predictions, records))
    outcomes = [
        RequestOutcome(score=s, latency_s=p.latency_s, ttft_s=p.ttft_s, tokens_in=p.prompt_tokens,
                       tokens_out=p.completion_tokens, failed=p.error is not None)
        for s, p in zip(scores, predictions)
    ]
    metrics = aggregate(outcomes, wall_seconds, cost_usd_per_1k, peak_memory_bytes=usage.peak_memory_bytes,
                        memory_note=usage.memory_measure, kv_cache_usage_peak=usage.kv_cache_usage_peak)
    return CandidateResult(candidate, tuple(predictions), scores, metrics, usage)


def primary_value(result: CandidateResult, metric: str) -> float:
    """A candidate's value of the primary metric (used to pick the strongest baseline on dev)."""
    return float(result.metrics.value(metric))


def guided_audit(result: CandidateResult, schema: Mapping[str, Any]) -> dict[str, Any]:
    """Audit a guided-decoding candidate: every output should be valid against the schema.

    `ignored_schema_features` are the schema keywords its outputs violated although decoding was
    constrained by that schema (the backend did not enforce them); `unenforceable_keywords_present`
    lists keywords in the schema that grammar backends commonly leave unenforced, as a reading aid.
    """
    statuses = [s.status for s in result.scores]
    violated = Counter(error.validator for s in result.scores if s.status == "schema_invalid"
                       for error in Draft202012Validator(schema).iter_errors(s.parsed))
    return {
        "candidate": result.candidate,
        "n": len(statuses),
        "compliance_rate": statuses.count("valid") / len(statuses) if statuses else None,
        "violations": {status: statuses.count(status) for status in sorted(set(statuses)) if status != "valid"},
        "truncated": sum(p.finish_reason == "length" for p in result.predictions),
        "ignored_schema_features": sorted(violated),
        "ignored_feature_counts": dict(sorted(violated.items())),
        "unenforceable_keywords_present": risky_keywords(schema),
    }


GRAMMAR_RISKY = ("pattern", "format", "minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum")


def risky_keywords(schema: Mapping[str, Any]) -> list[str]:
    """Schema keywords (with the property path they sit on) that grammar backends often do not enforce.

    Walks subschemas only (properties, items, combinators, definitions), so a property that happens
    to be named like a keyword is not mistaken for one.
    """
    found: set[str] = set()

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, Mapping):
            return
        found.update(f"{path}.{key}" if path else key for key in node if key in GRAMMAR_RISKY)
        for name, sub in (node.get("properties") or {}).items():
            walk(sub, f"{path}.{name}" if path else name)
        for key in ("items", "additionalProperties", "not"):
            walk(node.get(key), path)
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for sub in node.get(key) or []:
                walk(sub, path)
        for sub in (node.get("$defs") or {}).values():
            walk(sub, path)

    walk(schema, "")
    return sorted(found)
