"""The typed metric set of one candidate's run: every metric declared once, then aggregated.

`METRICS` declares each metric's name, unit, direction and meaning exactly once (per-field F1 is
one family, `field_f1.<field>`). `aggregate` turns per-request outcomes (a RecordScore plus the
request's timings and token counts) into a `MetricSet`. A metric that cannot be computed is not
given a placeholder: it is absent from `values` and its reason is in `missing`. Latency and TTFT
percentiles carry seeded bootstrap confidence intervals in `intervals`; observations left out of a
metric (a request with no TTFT) are counted in `excluded`. Failed requests stay in every quality
metric: their score (an empty output) counts its gold values as misses. A timed-out request counts
in the latency percentiles at the time it was waited for (at least its timeout, recorded by
harness.serve.predict), so timeouts never make latency look better; any other failure has no latency,
is excluded from the percentiles and counted in `failed_request_rate`, which the gate checks.
Token means are over the requests that returned output (a failure's zero tokens are not a prompt). `record_field_counts` gives one record's (tp, fp, fn) summed over its fields: the
unit that harness.statistics.stats.paired_bootstrap_micro_f1 resamples to compare `field_f1` between two
candidates; `record_field_f1` is one record's own micro F1, for per-record listings.

This module deliberately knows nothing about engines, prices, other candidates or the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from harness.score.scoring import RecordScore
from harness.statistics.stats import Interval, bootstrap_distribution, percentile_interval

Direction = Literal["higher_is_better", "lower_is_better", "neutral"]


@dataclass(frozen=True)
class MetricDef:
    """One metric; a family (`family=True`) names its members `<prefix><field>`."""

    name: str
    unit: str
    direction: Direction
    description: str
    family: bool = False

    @property
    def prefix(self) -> str:
        return self.name.split("<", 1)[0]


METRICS: tuple[MetricDef, ...] = (
    MetricDef("n", "records", "neutral", "Requests (records) scored."),
    MetricDef("json_parse_rate", "ratio", "higher_is_better",
              "Share of outputs that parsed as JSON, with minimal extraction allowed."),
    MetricDef("extraction_needed_rate", "ratio", "lower_is_better",
              "Share of outputs whose JSON had to be cut out of a fence or prose."),
    MetricDef("schema_valid_rate", "ratio", "higher_is_better",
              "Share of outputs valid against the task's JSON Schema."),
    MetricDef("field_f1", "ratio", "higher_is_better",
              "Micro F1 over every field of every record (tp, fp, fn summed)."),
    MetricDef("field_f1_macro", "ratio", "higher_is_better",
              "Mean of the per-field F1 over fields that have any gold or predicted value."),
    MetricDef("field_f1.<field>", "ratio", "higher_is_better",
              "F1 of one field over every record.", family=True),
    MetricDef("record_exact_rate", "ratio", "higher_is_better",
              "Share of records with a schema-valid output and every field right."),
    MetricDef("failed_request_rate", "ratio", "lower_is_better",
              "Share of requests that failed (error or timeout) instead of returning output."),
    MetricDef("latency_p50_s", "s", "lower_is_better", "Median request latency."),
    MetricDef("latency_p95_s", "s", "lower_is_better",
              "95th percentile request latency (a timed-out request at the time it was waited for)."),
    MetricDef("latency_p99_s", "s", "lower_is_better", "99th percentile request latency."),
    MetricDef("ttft_p95_s", "s", "lower_is_better", "95th percentile time to first token."),
    MetricDef("tokens_in_mean", "tokens", "lower_is_better",
              "Mean prompt tokens per request that returned output."),
    MetricDef("tokens_out_mean", "tokens", "neutral",
              "Mean generated tokens per request that returned output."),
    MetricDef("throughput_tokens_out_per_s", "tokens/s", "higher_is_better",
              "Generated tokens over the batch's wall-clock seconds."),
    MetricDef("throughput_rps", "requests/s", "higher_is_better",
              "Requests over the batch's wall-clock seconds, under the run's load profile."),
    MetricDef("peak_memory_bytes", "bytes", "lower_is_better",
              "Peak memory the engine held while serving the batch: resident memory of its process tree "
              "on CPU, GPU memory in use on CUDA (the run record says which)."),
    MetricDef("kv_cache_usage_peak", "ratio", "neutral",
              "Highest share of the engine's KV cache in use while serving the batch, as vLLM reported it."),
    MetricDef("cost_usd_per_1k_requests", "USD", "lower_is_better",
              "Cost of 1000 requests under the run's stated cost model."),
)
_BY_NAME = MappingProxyType({d.name: d for d in METRICS if not d.family})
_FAMILIES = tuple(d for d in METRICS if d.family)
_PERCENTILES = (("latency_p50_s", 50.0), ("latency_p95_s", 95.0), ("latency_p99_s", 99.0))


def metric_def(name: str) -> MetricDef:
    """The declaration of a metric or of the family it belongs to; KeyError if undeclared."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    for family in _FAMILIES:
        if name.startswith(family.prefix) and len(name) > len(family.prefix):
            return family
    raise KeyError(f"metric {name!r} is not declared in harness.score.metrics.METRICS")


@dataclass(frozen=True)
class RequestOutcome:
    """One request as metrics see it; `latency_s`/`ttft_s` are None when not measured."""

    score: RecordScore
    latency_s: float | None
    ttft_s: float | None
    tokens_in: int
    tokens_out: int
    failed: bool


@dataclass(frozen=True)
class MetricSet:
    """Computed metrics. `to_dict()` gives {"values": {name: number}, "intervals": {name:
    {"ci_low", "ci_high", "confidence"}}, "missing": {name: reason}, "excluded": {name: count}}."""

    values: Mapping[str, float | int]
    intervals: Mapping[str, Interval] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)
    excluded: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for attribute in ("values", "intervals", "missing", "excluded"):
            object.__setattr__(self, attribute, dict(getattr(self, attribute)))  # own copies
        for name in [*self.values, *self.missing, *self.excluded]:
            metric_def(name)
        if set(self.values) & set(self.missing) or not set(self.intervals) <= set(self.values):
            raise ValueError("a metric is both present and missing, or has an interval but no value")

    def value(self, name: str) -> float | int:
        """The metric's value; KeyError with the recorded reason when it is missing."""
        if name not in self.values:
            reason = self.missing.get(name, "not computed")
            raise KeyError(f"metric {name!r} is missing: {reason}")
        return self.values[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": dict(self.values),
            "intervals": {name: {"ci_low": i.low, "ci_high": i.high, "confidence": i.confidence}
                          for name, i in self.intervals.items()},
            "missing": dict(self.missing),
            "excluded": dict(self.excluded),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricSet:
        """Inverse of to_dict (reads a run record back)."""
        intervals = {name: Interval(i["ci_low"], i["ci_high"], i["confidence"])
                     for name, i in data["intervals"].items()}
        return cls(dict(data["values"]), intervals, dict(data["missing"]), dict(data["excluded"]))


def _f1(tp: int, fp: int, fn: int) -> float | None:
    denominator = 2 * tp + fp + fn
    return None if denominator == 0 else 2 * tp / denominator


def record_field_counts(score: RecordScore) -> tuple[int, int, int]:
    """One record's (tp, fp, fn) summed over its fields."""
    outcomes = score.fields.values()
    return (sum(o.tp for o in outcomes), sum(o.fp for o in outcomes), sum(o.fn for o in outcomes))


def record_field_f1(score: RecordScore) -> float:
    """Micro F1 over one record's fields; 1.0 when the record has no gold and no predicted value."""
    f1 = _f1(*record_field_counts(score))
    return 1.0 if f1 is None else f1


def _field_names(scores: Sequence[RecordScore]) -> tuple[str, ...]:
    names = tuple(scores[0].fields)
    if any(tuple(s.fields) != names for s in scores):
        raise ValueError("records were scored with different field rules; aggregate one task")
    return names


def _field_metrics(scores: Sequence[RecordScore], out: _Collector) -> None:
    names = _field_names(scores)
    counts = np.array([[[s.fields[name].tp, s.fields[name].fp, s.fields[name].fn]
                        for name in names] for s in scores], dtype=int).sum(axis=0)
    out.put("field_f1", _f1(*counts.sum(axis=0).tolist()),
            "no gold or predicted value in any field of any record")
    per_field = {name: _f1(*row.tolist()) for name, row in zip(names, counts)}
    for name, f1 in per_field.items():
        out.put(f"field_f1.{name}", f1, f"field {name!r} has no gold or predicted value")
    defined = [f1 for f1 in per_field.values() if f1 is not None]
    out.put("field_f1_macro", float(np.mean(defined)) if defined else None,
            "no field has any gold or predicted value")
    out.excluded["field_f1_macro"] = len(per_field) - len(defined)


def _rate_metrics(requests: Sequence[RequestOutcome], out: _Collector) -> None:
    n = len(requests)
    statuses = [r.score.status for r in requests]
    out.values.update({
        "json_parse_rate": sum(s in ("schema_invalid", "valid") for s in statuses) / n,
        "extraction_needed_rate": sum(r.score.extracted for r in requests) / n,
        "schema_valid_rate": statuses.count("valid") / n,
        "record_exact_rate": sum(r.score.record_exact for r in requests) / n,
        "failed_request_rate": sum(r.failed for r in requests) / n,
    })
    returned = [r for r in requests if not r.failed]
    for name, tokens in (("tokens_in_mean", [r.tokens_in for r in returned]),
                         ("tokens_out_mean", [r.tokens_out for r in returned])):
        out.put(name, float(np.mean(tokens)) if tokens else None, "every request failed")
        out.excluded[name] = n - len(returned)


def _percentile_metric(name: str, q: float, observed: Sequence[float | None],
                       out: _Collector) -> None:
    values = [v for v in observed if v is not None]
    out.excluded[name] = len(observed) - len(values)
    if not values:
        out.missing[name] = "no request has this timing"
        return
    out.values[name] = float(np.percentile(values, q))
    distribution = bootstrap_distribution(
        values, lambda m: np.percentile(m, q, axis=1), out.n_resamples, out.seed)
    out.intervals[name] = percentile_interval(distribution, out.confidence)


@dataclass
class _Collector:
    """Mutable scratch space while one MetricSet is assembled."""

    n_resamples: int
    seed: int
    confidence: float
    values: dict[str, float | int] = field(default_factory=dict)
    intervals: dict[str, Interval] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)

    def put(self, name: str, value: float | int | None, reason_if_none: str) -> None:
        if value is None:
            self.missing[name] = reason_if_none
        else:
            self.values[name] = value


def aggregate(requests: Sequence[RequestOutcome], wall_seconds: float,
              cost_usd_per_1k: float | None = None, *, peak_memory_bytes: int | None = None,
              memory_note: str = "not sampled", kv_cache_usage_peak: float | None = None,
              n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> MetricSet:
    """All metrics of one candidate's batch. `wall_seconds` is the batch's measured wall time; the
    engine's peak memory (with `memory_note` saying why when it is None) and KV-cache use are measured
    by the caller while the batch was served."""
    out = _Collector(n_resamples, seed, confidence, values={"n": len(requests)})
    if not requests:
        return MetricSet(out.values, missing={d.name: "no requests" for d in METRICS
                                              if d.name != "n" and not d.family})
    if wall_seconds <= 0:
        raise ValueError(f"wall_seconds must be positive for a non-empty batch, got {wall_seconds}")
    _rate_metrics(requests, out)
    _field_metrics([r.score for r in requests], out)
    for name, q in _PERCENTILES:
        _percentile_metric(name, q, [r.latency_s for r in requests], out)
    _percentile_metric("ttft_p95_s", 95.0, [r.ttft_s for r in requests], out)
    out.values["throughput_tokens_out_per_s"] = sum(r.tokens_out for r in requests) / wall_seconds
    out.values["throughput_rps"] = len(requests) / wall_seconds
    out.put("peak_memory_bytes", peak_memory_bytes, memory_note)
    out.put("kv_cache_usage_peak", kv_cache_usage_peak, "the engine reported no KV-cache usage")
    out.put("cost_usd_per_1k_requests", cost_usd_per_1k, "no cost model was given")
    return MetricSet(out.values, out.intervals, out.missing, out.excluded)
