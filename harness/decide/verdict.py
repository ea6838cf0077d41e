"""The gate's decision: does the adapter beat the baseline by a real margin, at an accepted cost?

Inputs are the task's gate thresholds (harness.task.specs.GateSpec, the one place they are declared),
both candidates' MetricSets and the `Evidence` of the paired comparison: the primary metric's
paired bootstrap (difference, CI, SE), its paired permutation test (p-value and method), Holm-
adjusted p-values of that test and of the exact McNemar test of schema validity, and notes such
as a training that had not converged. The primary effect and its significance are judged on that
paired comparison, never on a difference of aggregates. "Better" follows the primary metric's
declared direction. The verdict is:

- `adapter_wins` when there are at least min_records test records AND the improvement (its point
  estimate, or its CI's lower bound when min_effect_on is `ci_low`) is >= min_effect AND the
  adjusted p < alpha AND schema_valid_rate is at most schema_valid_margin below the baseline's and
  not significantly lower (the validity McNemar) AND failed_request_rate is at most
  failure_rate_margin above the baseline's AND latency_p95_s <= the baseline's x
  latency_p95_ratio_margin AND, when a ceiling is set, cost_usd_per_1k_requests <= it AND, when
  slice_margin is set, on every edge-case slice the adapter's primary metric is at most that margin
  worse than the baseline's and not significantly worse (Holm across slices) AND, when
  regression_margin is set, the adapter passes at most that share fewer regression-probe items than
  the base model and not significantly fewer (exact McNemar); a missing metric fails its check;
- `adapter_loses` when there are enough records and the primary difference is significant and worse;
- `not_proven` otherwise.

Every verdict states its power (harness.statistics.power): the minimum detectable effect at this n and, when
not proven, the records that would detect the observed effect; a slice on which the adapter is
significantly worse, and a significant loss on the regression probe, are named in the reasons
whether or not their checks are on. Threshold comparisons forgive float
noise of 1e-9. This module deliberately knows nothing about records, engines or exit codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from harness.score.metrics import MetricSet, metric_def
from harness.statistics.permutation import PermutationTest
from harness.statistics.power import Power, PowerQuestion, paired_power, power_sentence
from harness.task.specs import GateSpec
from harness.statistics.stats import Interval, PairedComparison

Decision = Literal["adapter_wins", "not_proven", "adapter_loses"]
_FLOAT_NOISE = 1e-9


@dataclass(frozen=True)
class SliceFinding:
    """The primary metric's paired difference (adapter minus baseline) on one edge-case slice."""

    slice: str
    diff: float
    ci: Interval
    p_holm: float
    n: int


@dataclass(frozen=True)
class RegressionFinding:
    """The adapter against the base model on the general-capability probe (harness.decide.regression)."""

    base_rate: float
    adapter_rate: float
    diff: float
    p_value: float
    regressed: tuple[str, ...]
    n: int


@dataclass(frozen=True)
class Evidence:
    """The paired comparison behind the verdict (adapter minus baseline, same records), and per slice."""

    primary: PairedComparison
    test: PermutationTest
    adjusted_p: float
    validity_adjusted_p: float
    family_size: int
    notes: tuple[str, ...] = ()
    slices: tuple[SliceFinding, ...] = ()
    regression: RegressionFinding | None = None


@dataclass(frozen=True)
class Check:
    """One gate condition: whether it passed, the value judged and the threshold it met or missed."""

    passed: bool
    value: float | None
    threshold: float | None
    reason: str


@dataclass(frozen=True)
class Verdict:
    """The decision, its reasons in words and numbers, every check behind it, and its power."""

    decision: Decision
    reasons: tuple[str, ...]
    checks: Mapping[str, Check]
    power: Power
    min_records: int

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "reasons": list(self.reasons),
                "checks": {name: asdict(check) for name, check in self.checks.items()},
                "power": self.power.to_dict(), "min_records": self.min_records}


def _sign(gate: GateSpec) -> int:
    direction = metric_def(gate.primary_metric).direction
    if direction == "neutral":
        raise ValueError(f"primary metric {gate.primary_metric!r} has no better direction")
    return 1 if direction == "higher_is_better" else -1


def judged_effect(gate: GateSpec, sign: int, diff: float, ci: Interval) -> float:
    """The effect min_effect is held against, signed so that better is positive: the point
    difference, or the worse end of its CI (`gate.min_effect_on`)."""
    return sign * diff if gate.min_effect_on == "point" else min(sign * ci.low, sign * ci.high)


def meets_min_effect(gate: GateSpec, judged: float) -> bool:
    return judged >= gate.min_effect - _FLOAT_NOISE


def _effect_check(gate: GateSpec, evidence: Evidence) -> Check:
    primary, sign = evidence.primary, _sign(gate)
    ci = primary.ci
    judged = judged_effect(gate, sign, primary.mean_diff, ci)
    passed = meets_min_effect(gate, judged)
    basis = "" if gate.min_effect_on == "point" else f"; its CI's worse end {judged:+.3f}"
    lower_note = "" if sign == 1 else " (lower is better)"
    return Check(passed, judged, gate.min_effect, (
        f"{gate.primary_metric} {primary.mean_diff:+.3f}{lower_note} "
        f"({ci.confidence:.0%} CI {ci.low:+.3f}..{ci.high:+.3f}, Holm p={evidence.adjusted_p:.4g}"
        f"{basis}) {'>=' if passed else '<'} min effect {gate.min_effect:g}"))


def _significance_check(gate: GateSpec, evidence: Evidence) -> Check:
    p, test = evidence.adjusted_p, evidence.test
    passed = p < gate.alpha
    return Check(passed, p, gate.alpha, (
        f"Holm-adjusted p={p:.4g} {'<' if passed else '>='} alpha {gate.alpha:g} (paired permutation "
        f"test, {test.method}, {test.informative} records differ; smallest p possible {test.p_min:.3g})"))


def _records_check(gate: GateSpec, n: int) -> Check:
    passed = n >= gate.min_records
    return Check(passed, float(n), float(gate.min_records),
                 f"{n} test records {'>=' if passed else '<'} min_records {gate.min_records}"
                 + ("" if passed else ": too few to decide anything"))


def _pair(name: str, adapter: MetricSet, baseline: MetricSet) -> tuple[float, float] | Check:
    for side, metrics in (("adapter", adapter), ("baseline", baseline)):
        if name not in metrics.values:
            reason = metrics.missing.get(name, "not computed")
            return Check(False, None, None, f"{name} is missing for the {side}: {reason}")
    return float(adapter.value(name)), float(baseline.value(name))


def _schema_check(gate: GateSpec, adapter: MetricSet, baseline: MetricSet, validity_p: float) -> Check:
    pair = _pair("schema_valid_rate", adapter, baseline)
    if isinstance(pair, Check):
        return pair
    ours, theirs = pair
    within = ours - theirs >= -gate.schema_valid_margin - _FLOAT_NOISE
    significant = ours < theirs and validity_p < gate.alpha
    return Check(within and not significant, ours - theirs, -gate.schema_valid_margin, (
        f"schema_valid_rate {ours:.3f} vs baseline {theirs:.3f} ({ours - theirs:+.3f}) "
        f"{'within' if within else 'beyond'} the allowed drop of {gate.schema_valid_margin:g}; "
        f"exact McNemar Holm p={validity_p:.4g}{' (significantly less valid)' if significant else ''}"))


def _failure_check(gate: GateSpec, adapter: MetricSet, baseline: MetricSet) -> Check:
    pair = _pair("failed_request_rate", adapter, baseline)
    if isinstance(pair, Check):
        return pair
    ours, theirs = pair
    passed = ours - theirs <= gate.failure_rate_margin + _FLOAT_NOISE
    return Check(passed, ours - theirs, gate.failure_rate_margin, (
        f"failed_request_rate {ours:.3f} vs baseline {theirs:.3f} ({ours - theirs:+.3f}) "
        f"{'within' if passed else 'beyond'} the allowed rise of {gate.failure_rate_margin:g}"))


def _latency_check(gate: GateSpec, adapter: MetricSet, baseline: MetricSet) -> Check:
    pair = _pair("latency_p95_s", adapter, baseline)
    if isinstance(pair, Check):
        return pair
    ours, theirs = pair
    allowed = theirs * gate.latency_p95_ratio_margin
    passed = ours <= allowed + _FLOAT_NOISE
    return Check(passed, ours, allowed, (
        f"latency_p95_s {ours:.3g}s vs baseline {theirs:.3g}s: {'within' if passed else 'above'} "
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


def significantly_worse(gate: GateSpec, finding: SliceFinding) -> bool:
    return _sign(gate) * finding.diff < 0 and finding.p_holm < gate.alpha


def _slice_check(gate: GateSpec, margin: float, findings: tuple[SliceFinding, ...]) -> Check:
    """No slice may be worse than the baseline by more than `margin`, or significantly worse."""
    if not findings:
        return Check(False, None, margin, "slice_margin is set but the run scored no edge-case slice")
    worst = min(findings, key=lambda f: _sign(gate) * f.diff)
    failing = [f.slice for f in findings if _sign(gate) * f.diff < -margin - _FLOAT_NOISE or significantly_worse(gate, f)]
    words = f"failed on {', '.join(failing)}" if failing else "no slice worse beyond the margin or significantly"
    return Check(not failing, _sign(gate) * worst.diff, -margin, (
        f"slices: the worst is {worst.slice} at {gate.primary_metric} {worst.diff:+.3f} (Holm p={worst.p_holm:.4g}) "
        f"against a margin of -{margin:g}: {words}"))


def slice_reasons(gate: GateSpec, findings: tuple[SliceFinding, ...]) -> tuple[str, ...]:
    """A sentence per slice on which the adapter is significantly worse than the baseline."""
    return tuple(f"on the {f.slice} slice the adapter is significantly worse: {gate.primary_metric} {f.diff:+.3f} "
                 f"({f.ci.confidence:.0%} CI {f.ci.low:+.3f}..{f.ci.high:+.3f}, Holm p={f.p_holm:.4g}, n={f.n})"
                 for f in findings if significantly_worse(gate, f))


def regressed_significantly(gate: GateSpec, finding: RegressionFinding) -> bool:
    return finding.diff < 0 and finding.p_value < gate.alpha


def _regression_check(gate: GateSpec, margin: float, finding: RegressionFinding | None) -> Check:
    """The adapter may pass at most `margin` fewer probe items than the base model, and not significantly fewer."""
    if finding is None:
        return Check(False, None, -margin, "regression_margin is set but the run has no regression probe")
    passed = finding.diff >= -margin - _FLOAT_NOISE and not regressed_significantly(gate, finding)
    return Check(passed, finding.diff, -margin, (
        f"regression probe: the adapter passes {finding.adapter_rate:.3f} of {finding.n} general items, the base model "
        f"{finding.base_rate:.3f} ({finding.diff:+.3f}, McNemar p={finding.p_value:.4g}) {'within' if passed else 'beyond'} "
        f"the margin of -{margin:g}" + (f"; regressed: {', '.join(finding.regressed)}" if finding.regressed else "")))


def regression_reasons(gate: GateSpec, finding: RegressionFinding | None) -> tuple[str, ...]:
    """A sentence when the adapter passes significantly fewer general-capability items than the base model."""
    if finding is None or not regressed_significantly(gate, finding):
        return ()
    return (f"the adapter lost general capabilities: it passes {finding.adapter_rate:.3f} of the regression probe, the base "
            f"model {finding.base_rate:.3f} (McNemar p={finding.p_value:.4g}); regressed: {', '.join(finding.regressed)}",)


def _power(gate: GateSpec, evidence: Evidence) -> Power:
    primary = evidence.primary
    return paired_power(PowerQuestion(
        _sign(gate) * primary.mean_diff, primary.se, primary.n, gate.alpha, evidence.family_size,
        gate.min_effect, gate.min_effect_on, primary.ci.confidence))


def decide(gate: GateSpec, adapter: MetricSet, baseline: MetricSet, evidence: Evidence) -> Verdict:
    """The verdict for the adapter against one baseline (see the module docstring for the rule)."""
    checks = {
        "min_records": _records_check(gate, evidence.primary.n),
        "primary_effect": _effect_check(gate, evidence),
        "primary_significance": _significance_check(gate, evidence),
        "schema_valid_rate": _schema_check(gate, adapter, baseline, evidence.validity_adjusted_p),
        "failure_rate": _failure_check(gate, adapter, baseline),
        "latency_p95_s": _latency_check(gate, adapter, baseline),
    }
    if gate.cost_ceiling_usd_per_1k is not None:
        checks["cost_usd_per_1k_requests"] = _cost_check(gate.cost_ceiling_usd_per_1k, adapter)
    if gate.slice_margin is not None:
        checks["slices"] = _slice_check(gate, gate.slice_margin, evidence.slices)
    if gate.regression_margin is not None:
        checks["regression"] = _regression_check(gate, gate.regression_margin, evidence.regression)
    failed = [name for name, check in checks.items() if not check.passed]
    improvement = _sign(gate) * evidence.primary.mean_diff
    if checks["min_records"].passed and checks["primary_significance"].passed and improvement < 0:
        decision: Decision = "adapter_loses"
        headline = f"adapter_loses: {gate.primary_metric} is significantly worse than the baseline"
    elif not failed:
        decision, headline = "adapter_wins", "adapter_wins: every check passed"
    else:
        decision, headline = "not_proven", f"not_proven: failed {', '.join(failed)}"
    power = _power(gate, evidence)
    sentence = power_sentence(power, evidence.primary.n, improvement, decision != "not_proven")
    reasons = (headline, *(check.reason for check in checks.values()), *slice_reasons(gate, evidence.slices),
               *regression_reasons(gate, evidence.regression), sentence, *evidence.notes)
    return Verdict(decision, reasons, checks, power, gate.min_records)
