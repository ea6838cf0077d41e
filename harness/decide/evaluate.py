"""Compare the adapter with the strongest prompt-only baseline, record by record, and decide the verdict.

Pure functions over two scored candidates (harness.score.candidate_scores): paired statistics between the
adapter and the baseline (harness.statistics.permutation for p-values, harness.statistics.stats for intervals,
Holm-corrected across the tests) and the verdict (harness.decide.verdict); the same paired difference on
each edge-case slice, Holm-corrected across slices. Both candidates are scored on
the same records in the same order, so every comparison is paired. This module knows nothing of
engines, MLflow or files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from harness.score.candidate_scores import CandidateResult
from harness.errors import HarnessError
from harness.score.metrics import record_field_counts
from harness.task.specs import GateSpec
from harness.statistics.permutation import PermutationTest, permutation_mean, permutation_micro_f1
from harness.statistics.stats import (Interval, PairedComparison, bootstrap_distribution, holm, mcnemar_exact, micro_f1_bootstrap,
                           paired_bootstrap, paired_bootstrap_micro_f1, percentile_interval)
from harness.decide.verdict import Evidence, RegressionFinding, SliceFinding, Verdict, decide

PER_RECORD_RATES = {
    "record_exact_rate": lambda s: float(s.record_exact),
    "schema_valid_rate": lambda s: float(s.status == "valid"),
    "json_parse_rate": lambda s: float(s.status in ("valid", "schema_invalid")),
}


@dataclass(frozen=True)
class Comparison:
    """The paired comparisons of the adapter against the baseline, with Holm-adjusted p-values."""

    rows: tuple[dict[str, Any], ...]
    verdict: Verdict


_SECONDARY = {"schema_valid_rate": lambda s: s.status == "valid", "record_exact_rate": lambda s: s.record_exact}


def compare_pair(adapter: CandidateResult, baseline: CandidateResult, gate: GateSpec, seed: int,
                 notes: tuple[str, ...] = (), slices: tuple[SliceFinding, ...] = (),
                 regression: RegressionFinding | None = None) -> Comparison:
    """The primary metric's paired permutation test (its p-value) and paired bootstrap (its CI and
    SE), and exact McNemar tests of schema validity and record exactness, Holm-corrected together.

    One family tests each quantity once: when the primary metric is itself schema_valid_rate or
    record_exact_rate, its permutation test (the exact McNemar test of a 0/1 metric) is that
    quantity's only test. `notes` (e.g. training warnings) are added to the verdict's reasons;
    `slices` (from `compare_slices`) and `regression` (harness.decide.regression) feed the verdict's reasons
    and optional checks.
    """
    ids = ([p.record_id for p in adapter.predictions], [p.record_id for p in baseline.predictions])
    primary = paired_primary(adapter, baseline, gate.primary_metric, ids, seed)
    test = primary_test(adapter, baseline, gate.primary_metric, seed)
    secondary = {metric: mcnemar_exact([flag(s) for s in adapter.scores], [flag(s) for s in baseline.scores])
                 for metric, flag in _SECONDARY.items() if metric != gate.primary_metric}
    adjusted = holm({gate.primary_metric: test.p_value} | {m: r.p_value for m, r in secondary.items()})
    rows = (_primary_row(adapter, baseline, gate.primary_metric, primary, test, adjusted[gate.primary_metric]),
            *(_row(adapter, baseline, metric, "mcnemar_exact", _rate_diff(adapter, baseline, metric), None, None, result.p_value,
                   adjusted[metric], None, len(adapter.scores), method="exact", b01=result.b01, b10=result.b10)
              for metric, result in secondary.items()))
    evidence = Evidence(primary, test, adjusted[gate.primary_metric], adjusted["schema_valid_rate"], len(adjusted), notes, slices, regression)
    return Comparison(rows, decide(gate, adapter.metrics, baseline.metrics, evidence))


def compare_slices(pairs: Mapping[str, tuple[CandidateResult, CandidateResult]], metric: str, seed: int) -> tuple[SliceFinding, ...]:
    """Per edge-case slice, (adapter, baseline) scored on its variants: the primary metric's paired
    bootstrap difference and permutation p-value, Holm-corrected across the slices (one family)."""
    paired = {name: (paired_primary(a, b, metric, ([p.record_id for p in a.predictions], [p.record_id for p in b.predictions]), seed),
                     primary_test(a, b, metric, seed).p_value) for name, (a, b) in pairs.items() if a.predictions}
    adjusted = holm({name: p for name, (_, p) in paired.items()}) if paired else {}
    return tuple(SliceFinding(name, result.mean_diff, result.ci, adjusted[name], result.n) for name, (result, _) in paired.items())


def primary_interval(result: CandidateResult, metric: str, seed: int) -> Interval:
    """The bootstrap interval of one candidate's primary metric over its records."""
    if metric == "field_f1":
        return micro_f1_bootstrap([record_field_counts(s) for s in result.scores], seed=seed)[1]
    per_record = _per_record(metric)
    values = [per_record(s) for s in result.scores]
    return percentile_interval(bootstrap_distribution(values, lambda sample: sample.mean(axis=1), 10_000, seed), 0.95)


def _per_record(metric: str) -> Any:
    if metric not in PER_RECORD_RATES:
        raise HarnessError(f"primary metric '{metric}' has no paired test", "gate.primary_metric",
                           f"use field_f1 or one of {sorted(PER_RECORD_RATES)}")
    return PER_RECORD_RATES[metric]


def paired_primary(adapter: CandidateResult, baseline: CandidateResult, metric: str,
                   ids: tuple[list[str], list[str]], seed: int) -> PairedComparison:
    """Paired bootstrap of the primary metric's difference, adapter minus baseline (CI and SE).

    field_f1 resamples records and recomputes micro F1 on each side, so the difference is exactly
    the gap between the reported field_f1 values; a rate metric is the mean of its 0/1 per record.
    """
    if metric == "field_f1":
        return paired_bootstrap_micro_f1([record_field_counts(s) for s in adapter.scores],
                                         [record_field_counts(s) for s in baseline.scores], ids=ids, seed=seed)
    per_record = _per_record(metric)
    return paired_bootstrap([per_record(s) for s in adapter.scores], [per_record(s) for s in baseline.scores], ids=ids, seed=seed)


def primary_test(adapter: CandidateResult, baseline: CandidateResult, metric: str, seed: int) -> PermutationTest:
    """Paired permutation test of the primary difference (its p-value; exact when few records differ)."""
    if metric == "field_f1":
        return permutation_micro_f1([record_field_counts(s) for s in adapter.scores],
                                    [record_field_counts(s) for s in baseline.scores], seed=seed)
    per_record = _per_record(metric)
    return permutation_mean([per_record(s) for s in adapter.scores], [per_record(s) for s in baseline.scores], seed=seed)


def _rate_diff(adapter: CandidateResult, baseline: CandidateResult, metric: str) -> float:
    return float(adapter.metrics.value(metric)) - float(baseline.metrics.value(metric))


def _primary_row(adapter: CandidateResult, baseline: CandidateResult, metric: str, primary: PairedComparison,
                 test: PermutationTest, p_holm: float) -> dict[str, Any]:
    return _row(adapter, baseline, metric, "paired_permutation", primary.mean_diff, primary.ci.low, primary.ci.high,
                test.p_value, p_holm, primary.effect_size_dz, primary.n, method=test.method, p_min=test.p_min,
                informative_records=test.informative, ci_method="paired_bootstrap", se=primary.se)


def _row(adapter: CandidateResult, baseline: CandidateResult, metric: str, test: str, diff: float, low: float | None,
         high: float | None, p: float, p_holm: float, effect: float | None, n: int, **extra: Any) -> dict[str, Any]:
    return {"candidate": adapter.candidate, "baseline": baseline.candidate, "metric": metric, "test": test,
            "diff": diff, "ci_low": low, "ci_high": high, "p_value": p, "p_holm": p_holm, "effect_size": effect,
            "n": n, **extra}
