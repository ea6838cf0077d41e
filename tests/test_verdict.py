"""Table tests for harness.verdict: every branch and every boundary on literal numbers."""

from __future__ import annotations

import dataclasses
import json

import pytest

from harness.metrics import MetricSet
from harness.specs import GateSpec
from harness.stats import Interval, PairedComparison
from harness.verdict import decide

GATE = GateSpec(primary_metric="field_f1", min_effect=0.05, alpha=0.05, schema_valid_margin=0.05,
                latency_p95_ratio_margin=2.0, cost_ceiling_usd_per_1k=None)
BASELINE = MetricSet({"schema_valid_rate": 0.90, "latency_p95_s": 1.0,
                      "cost_usd_per_1k_requests": 1.0})


def _adapter(schema: float = 0.95, latency: float = 1.5, cost: float = 0.5) -> MetricSet:
    return MetricSet({"schema_valid_rate": schema, "latency_p95_s": latency,
                      "cost_usd_per_1k_requests": cost})


def _comparison(diff: float, low: float | None = None, high: float | None = None) -> PairedComparison:
    interval = Interval(diff - 0.05 if low is None else low, diff + 0.05 if high is None else high,
                        0.95)
    return PairedComparison(diff, interval, 0.001, 1.0, 40, 10_000, 0)


@pytest.mark.parametrize(("case", "gate", "adapter", "diff", "p", "decision", "failed"), [
    ("clear win", GATE, _adapter(), 0.214, 0.0002, "adapter_wins", set()),
    ("effect exactly at min", GATE, _adapter(), 0.85 - 0.80, 0.01, "adapter_wins", set()),
    ("effect just below min", GATE, _adapter(), 0.049, 0.01, "not_proven", {"primary_effect"}),
    ("p exactly alpha", GATE, _adapter(), 0.2, 0.05, "not_proven", {"primary_significance"}),
    ("p just below alpha", GATE, _adapter(), 0.2, 0.0499, "adapter_wins", set()),
    ("big effect, not significant", GATE, _adapter(), 0.3, 0.2, "not_proven",
     {"primary_significance"}),
    ("schema drop exactly margin", GATE, _adapter(schema=0.85), 0.2, 0.01, "adapter_wins", set()),
    ("schema drop beyond margin", GATE, _adapter(schema=0.84), 0.2, 0.01, "not_proven",
     {"schema_valid_rate"}),
    ("latency exactly ratio", GATE, _adapter(latency=2.0), 0.2, 0.01, "adapter_wins", set()),
    ("latency above ratio", GATE, _adapter(latency=2.01), 0.2, 0.01, "not_proven",
     {"latency_p95_s"}),
    ("cost at ceiling", dataclasses.replace(GATE, cost_ceiling_usd_per_1k=0.5), _adapter(), 0.2,
     0.01, "adapter_wins", set()),
    ("cost above ceiling", dataclasses.replace(GATE, cost_ceiling_usd_per_1k=0.4), _adapter(),
     0.2, 0.01, "not_proven", {"cost_usd_per_1k_requests"}),
    ("significantly worse", GATE, _adapter(), -0.1, 0.01, "adapter_loses",
     {"primary_effect"}),
    ("worse, not significant", GATE, _adapter(), -0.1, 0.3, "not_proven",
     {"primary_effect", "primary_significance"}),
    ("worse but latency fine still loses", GATE, _adapter(latency=5.0), -0.2, 0.001,
     "adapter_loses", {"primary_effect", "latency_p95_s"}),
    ("no difference", GATE, _adapter(), 0.0, 1.0, "not_proven",
     {"primary_effect", "primary_significance"}),
])
def test_decision_table(case: str, gate: GateSpec, adapter: MetricSet, diff: float, p: float,
                        decision: str, failed: set[str]) -> None:
    verdict = decide(gate, adapter, BASELINE, _comparison(diff), p)
    assert verdict.decision == decision, case
    assert {name for name, check in verdict.checks.items() if not check.passed} == failed, case


def test_lower_is_better_primary_metric_wins_by_going_down() -> None:
    gate = dataclasses.replace(GATE, primary_metric="latency_p50_s", min_effect=0.1)
    assert decide(gate, _adapter(), BASELINE, _comparison(-0.3), 0.01).decision == "adapter_wins"
    assert decide(gate, _adapter(), BASELINE, _comparison(0.3), 0.01).decision == "adapter_loses"


def test_neutral_primary_metric_is_refused() -> None:
    with pytest.raises(ValueError, match="no better direction"):
        decide(dataclasses.replace(GATE, primary_metric="n"), _adapter(), BASELINE,
               _comparison(0.2), 0.01)


def test_missing_metric_fails_its_check_with_the_reason() -> None:
    adapter = MetricSet({"schema_valid_rate": 0.95}, missing={"latency_p95_s": "no request has this timing"})
    verdict = decide(GATE, adapter, BASELINE, _comparison(0.2), 0.01)
    assert verdict.decision == "not_proven"
    check = verdict.checks["latency_p95_s"]
    assert (check.passed, check.value) == (False, None)
    assert "missing for the adapter: no request has this timing" in check.reason


def test_reasons_carry_words_and_numbers() -> None:
    verdict = decide(GATE, _adapter(), BASELINE, _comparison(0.214, 0.150, 0.280), 0.0002)
    assert verdict.reasons[0] == "adapter_wins: every check passed"
    assert ("field_f1 +0.214 (95% CI +0.150..+0.280, Holm p=0.0002) >= min effect 0.05"
            in verdict.reasons)
    assert "Holm-adjusted p=0.0002 < alpha 0.05" in verdict.reasons
    assert ("schema_valid_rate 0.950 vs baseline 0.900 (+0.050) within the allowed drop of 0.05"
            in verdict.reasons)
    assert ("latency_p95_s 1.5s vs baseline 1s: within the allowed 2s (2x the baseline)"
            in verdict.reasons)


def test_not_proven_headline_names_failed_checks() -> None:
    verdict = decide(GATE, _adapter(latency=9.0), BASELINE, _comparison(0.01), 0.5)
    assert verdict.reasons[0] == (
        "not_proven: failed primary_effect, primary_significance, latency_p95_s")


def test_to_dict_is_json() -> None:
    verdict = decide(GATE, _adapter(), BASELINE, _comparison(0.2), 0.01)
    as_dict = json.loads(json.dumps(verdict.to_dict()))
    assert as_dict["decision"] == "adapter_wins"
    assert as_dict["checks"]["latency_p95_s"] == {
        "passed": True, "value": 1.5, "threshold": 2.0,
        "reason": "latency_p95_s 1.5s vs baseline 1s: within the allowed 2s (2x the baseline)"}
    assert "cost_usd_per_1k_requests" not in as_dict["checks"]
