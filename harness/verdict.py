"""The gate's decision: does the adapter beat the baseline by a real margin, at an accepted cost?

Inputs are the task's gate thresholds (harness.specs.GateSpec, the one place they are declared),
both candidates' MetricSets and the paired comparison of the primary metric, which must be the
adapter minus the baseline over the same records, with its Holm-adjusted p-value. The primary
effect and its significance are judged on that paired comparison (the quantity whose CI and p are
shown), never on a difference of aggregates. "Better" follows the primary metric's declared
direction. The verdict is:

- `adapter_wins` when the improvement is >= min_effect AND the adjusted p < alpha (the CI is
  reported, not separately required) AND schema_valid_rate is at most schema_valid_margin below
  the baseline's AND latency_p95_s <= the baseline's x latency_p95_ratio_margin AND, when a ceiling
  is set, cost_usd_per_1k_requests <= it; a missing metric fails its check;
- `adapter_loses` when the primary difference is significant (adjusted p < alpha) and worse;
- `not_proven` otherwise.

Threshold comparisons forgive float noise of 1e-9. This module deliberately knows nothing about
records, engines, statistics methods or exit codes: it reads numbers and writes a decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from harness.metrics import MetricSet, metric_def
from harness.specs import GateSpec
from harness.stats import PairedComparison

Decision = Literal["adapter_wins", "not_proven", "adapter_loses"]
_FLOAT_NOISE = 1e-9


@dataclass(frozen=True)
class Check:
    """One gate condition: whether it passed, the value judged and the threshold it met or missed."""

    passed: bool
    value: float | None
    threshold: float | None
    reason: str


@dataclass(frozen=True)
class Verdict:
    """The decision, its reasons in words and numbers, and every check behind it."""

    decision: Decision
    reasons: tuple[str, ...]
    checks: Mapping[str, Check]

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "reasons": list(self.reasons),
                "checks": {name: asdict(check) for name, check in self.checks.items()}}


def _improvement(gate: GateSpec, diff: float) -> float:
    direction = metric_def(gate.primary_metric).direction
    if direction == "neutral":
        raise ValueError(f"primary metric {gate.primary_metric!r} has no better direction")
    return diff if direction == "higher_is_better" else -diff


def _effect_check(gate: GateSpec, comparison: PairedComparison, adjusted_p: float) -> Check:
    improvement = _improvement(gate, comparison.mean_diff)
    passed = improvement >= gate.min_effect - _FLOAT_NOISE
    ci = comparison.ci
    lower_note = "" if improvement == comparison.mean_diff else " (lower is better)"
    return Check(passed, improvement, gate.min_effect, (
        f"{gate.primary_metric} {comparison.mean_diff:+.3f}{lower_note} "
        f"({ci.confidence:.0%} CI {ci.low:+.3f}..{ci.high:+.3f}, Holm p={adjusted_p:.4g}) "
        f"{'>=' if passed else '<'} min effect {gate.min_effect:g}"))


def _significance_check(gate: GateSpec, adjusted_p: float) -> Check:
    passed = adjusted_p < gate.alpha
    return Check(passed, adjusted_p, gate.alpha,
                 f"Holm-adjusted p={adjusted_p:.4g} {'<' if passed else '>='} alpha {gate.alpha:g}")


def _missing_check(name: str, adapter: MetricSet, baseline: MetricSet) -> Check | None:
    for side, metrics in (("adapter", adapter), ("baseline", baseline)):
        if name not in metrics.values:
            reason = metrics.missing.get(name, "not computed")
            return Check(False, None, None, f"{name} is missing for the {side}: {reason}")
    return None


def _schema_check(gate: GateSpec, adapter: MetricSet, baseline: MetricSet) -> Check:
    name = "schema_valid_rate"
    missing = _missing_check(name, adapter, baseline)
    if missing is not None:
        return missing
    ours, theirs = adapter.value(name), baseline.value(name)
    passed = ours - theirs >= -gate.schema_valid_margin - _FLOAT_NOISE
    return Check(passed, ours - theirs, -gate.schema_valid_margin, (
        f"{name} {ours:.3f} vs baseline {theirs:.3f} ({ours - theirs:+.3f}) "
        f"{'within' if passed else 'beyond'} the allowed drop of {gate.schema_valid_margin:g}"))


def _latency_check(gate: GateSpec, adapter: MetricSet, baseline: MetricSet) -> Check:
    name = "latency_p95_s"
    missing = _missing_check(name, adapter, baseline)
    if missing is not None:
        return missing
    ours, theirs = adapter.value(name), baseline.value(name)
    allowed = theirs * gate.latency_p95_ratio_margin
    passed = ours <= allowed + _FLOAT_NOISE
    return Check(passed, ours, allowed, (
        f"{name} {ours:.3g}s vs baseline {theirs:.3g}s: {'within' if passed else 'above'} "
        f"the allowed {allowed:.3g}s ({gate.latency_p95_ratio_margin:g}x the baseline)"))


def _cost_check(ceiling: float, adapter: MetricSet) -> Check:
    name = "cost_usd_per_1k_requests"
    if name not in adapter.values:
        return Check(False, None, ceiling, f"{name} is missing for the adapter: "
                                           f"{adapter.missing.get(name, 'not computed')}")
    cost = adapter.value(name)
    passed = cost <= ceiling + _FLOAT_NOISE
    return Check(passed, cost, ceiling,
                 f"{name} {cost:.4g} {'<=' if passed else '>'} ceiling {ceiling:g}")


def decide(gate: GateSpec, adapter: MetricSet, baseline: MetricSet,
           comparison: PairedComparison, adjusted_p: float) -> Verdict:
    """The verdict for the adapter against one baseline (see the module docstring for the rule)."""
    checks = {
        "primary_effect": _effect_check(gate, comparison, adjusted_p),
        "primary_significance": _significance_check(gate, adjusted_p),
        "schema_valid_rate": _schema_check(gate, adapter, baseline),
        "latency_p95_s": _latency_check(gate, adapter, baseline),
    }
    if gate.cost_ceiling_usd_per_1k is not None:
        checks["cost_usd_per_1k_requests"] = _cost_check(gate.cost_ceiling_usd_per_1k, adapter)
    failed = [name for name, check in checks.items() if not check.passed]
    worse = _improvement(gate, comparison.mean_diff) < 0
    if checks["primary_significance"].passed and worse:
        decision: Decision = "adapter_loses"
        headline = f"adapter_loses: {gate.primary_metric} is significantly worse than the baseline"
    elif not failed:
        decision, headline = "adapter_wins", "adapter_wins: every check passed"
    else:
        decision, headline = "not_proven", f"not_proven: failed {', '.join(failed)}"
    reasons = (headline, *(check.reason for check in checks.values()))
    return Verdict(decision, reasons, checks)
