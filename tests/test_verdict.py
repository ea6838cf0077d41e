"""Table tests for harness.decide.verdict: every branch and every boundary on literal numbers, at the
default thresholds (GateSpec()) unless a case names another."""

from __future__ import annotations

import dataclasses
import json

import pytest

from harness.score.metrics import MetricSet
from harness.statistics.permutation import PermutationTest
from harness.task.specs import GateSpec
from harness.statistics.stats import Interval, PairedComparison
from harness.decide.verdict import Evidence, SliceFinding, decide

GATE = GateSpec()
POINT = dataclasses.replace(GATE, min_effect_on="point")
BASELINE = MetricSet({"schema_valid_rate": 0.95, "failed_request_rate": 0.0, "latency_p95_s": 1.0,
                      "cost_usd_per_1k_requests": 1.0})


def _adapter(schema: float = 0.95, failed: float = 0.0, latency: float = 1.2, cost: float = 0.5) -> MetricSet:
    return MetricSet({"schema_valid_rate": schema, "failed_request_rate": failed, "latency_p95_s": latency,
                      "cost_usd_per_1k_requests": cost})


def _evidence(diff: float, p: float = 0.001, *, low: float | None = None, high: float | None = None, n: int = 40,
              validity_p: float = 1.0, se: float = 0.03, notes: tuple[str, ...] = ()) -> Evidence:
    interval = Interval(diff - 0.05 if low is None else low, diff + 0.05 if high is None else high, 0.95)
    primary = PairedComparison(diff, interval, se, None, n, 10_000, 0)
    test = PermutationTest(diff, p, "monte_carlo", n, 10_000, 1 / 10_001, 0)
    return Evidence(primary, test, p, validity_p, 3, notes)


def test_defaults_are_ones_a_team_would_defend() -> None:
    assert (GATE.min_effect, GATE.min_effect_on, GATE.alpha, GATE.min_records) == (0.05, "ci_low", 0.05, 20)
    assert (GATE.schema_valid_margin, GATE.failure_rate_margin, GATE.latency_p95_ratio_margin) == (0.02, 0.02, 1.5)


@pytest.mark.parametrize(("case", "gate", "adapter", "evidence", "decision", "failed"), [
    ("clear win", GATE, _adapter(), _evidence(0.214, 0.0002), "adapter_wins", set()),
    ("CI low exactly at min", GATE, _adapter(), _evidence(0.10, 0.01, low=0.05), "adapter_wins", set()),
    ("CI low just below min, point far above", GATE, _adapter(), _evidence(0.10, 0.01, low=0.049), "not_proven",
     {"primary_effect"}),
    ("same, judged on the point estimate", POINT, _adapter(), _evidence(0.10, 0.01, low=0.049), "adapter_wins", set()),
    ("point exactly at min", POINT, _adapter(), _evidence(0.85 - 0.80, 0.01), "adapter_wins", set()),
    ("point just below min", POINT, _adapter(), _evidence(0.049, 0.01), "not_proven", {"primary_effect"}),
    ("p exactly alpha", GATE, _adapter(), _evidence(0.2, 0.05), "not_proven", {"primary_significance"}),
    ("p just below alpha", GATE, _adapter(), _evidence(0.2, 0.0499), "adapter_wins", set()),
    ("big effect, not significant", GATE, _adapter(), _evidence(0.3, 0.2), "not_proven", {"primary_significance"}),
    ("exactly min_records", GATE, _adapter(), _evidence(0.2, 0.001, n=20), "adapter_wins", set()),
    ("one record below min_records", GATE, _adapter(), _evidence(0.2, 0.001, n=19), "not_proven", {"min_records"}),
    ("significantly worse on too few records", GATE, _adapter(), _evidence(-0.2, 0.001, n=10), "not_proven",
     {"min_records", "primary_effect"}),
    ("schema drop exactly margin", GATE, _adapter(schema=0.93), _evidence(0.2, 0.01), "adapter_wins", set()),
    ("schema drop beyond margin", GATE, _adapter(schema=0.929), _evidence(0.2, 0.01), "not_proven",
     {"schema_valid_rate"}),
    ("schema drop within margin but significant", GATE, _adapter(schema=0.94), _evidence(0.2, 0.01, validity_p=0.01),
     "not_proven", {"schema_valid_rate"}),
    ("significantly MORE valid is fine", GATE, _adapter(schema=1.0), _evidence(0.2, 0.01, validity_p=0.001),
     "adapter_wins", set()),
    ("failures rise exactly margin", GATE, _adapter(failed=0.02), _evidence(0.2, 0.01), "adapter_wins", set()),
    ("failures rise beyond margin", GATE, _adapter(failed=0.025), _evidence(0.2, 0.01), "not_proven", {"failure_rate"}),
    ("latency exactly 1.5x", GATE, _adapter(latency=1.5), _evidence(0.2, 0.01), "adapter_wins", set()),
    ("latency above 1.5x", GATE, _adapter(latency=1.51), _evidence(0.2, 0.01), "not_proven", {"latency_p95_s"}),
    ("cost at ceiling", dataclasses.replace(GATE, cost_ceiling_usd_per_1k=0.5), _adapter(), _evidence(0.2, 0.01),
     "adapter_wins", set()),
    ("cost above ceiling", dataclasses.replace(GATE, cost_ceiling_usd_per_1k=0.4), _adapter(), _evidence(0.2, 0.01),
     "not_proven", {"cost_usd_per_1k_requests"}),
    ("significantly worse", GATE, _adapter(), _evidence(-0.1, 0.01), "adapter_loses", {"primary_effect"}),
    ("worse, not significant", GATE, _adapter(), _evidence(-0.1, 0.3), "not_proven",
     {"primary_effect", "primary_significance"}),
    ("worse but latency fine still loses", GATE, _adapter(latency=5.0), _evidence(-0.2, 0.001), "adapter_loses",
     {"primary_effect", "latency_p95_s"}),
    ("no difference", GATE, _adapter(), _evidence(0.0, 1.0), "not_proven", {"primary_effect", "primary_significance"}),
])
def test_decision_table(case: str, gate: GateSpec, adapter: MetricSet, evidence: Evidence, decision: str,
                        failed: set[str]) -> None:
    verdict = decide(gate, adapter, BASELINE, evidence)
    assert verdict.decision == decision, case
    assert {name for name, check in verdict.checks.items() if not check.passed} == failed, case


def test_less_valid_adapter_is_blocked_at_the_default_margin() -> None:
    """The audit's case: 0.95 schema-valid against a baseline at 1.00 used to pass."""
    baseline = MetricSet({"schema_valid_rate": 1.0, "failed_request_rate": 0.0, "latency_p95_s": 1.0})
    verdict = decide(GATE, _adapter(schema=0.95), baseline, _evidence(0.2, 0.001))
    assert verdict.decision == "not_proven"
    assert not verdict.checks["schema_valid_rate"].passed


def test_lower_is_better_primary_metric_wins_by_going_down() -> None:
    gate = dataclasses.replace(GATE, primary_metric="latency_p50_s", min_effect=0.1)
    assert decide(gate, _adapter(), BASELINE, _evidence(-0.3, 0.01)).decision == "adapter_wins"
    assert decide(gate, _adapter(), BASELINE, _evidence(0.3, 0.01)).decision == "adapter_loses"
    # the CI's worse end for a lower-is-better metric is its high end: -0.3 + 0.25 = -0.05 improves by only 0.05
    assert decide(gate, _adapter(), BASELINE, _evidence(-0.3, 0.01, high=-0.05)).decision == "not_proven"


def test_neutral_primary_metric_is_refused() -> None:
    with pytest.raises(ValueError, match="no better direction"):
        decide(dataclasses.replace(GATE, primary_metric="n"), _adapter(), BASELINE, _evidence(0.2, 0.01))


def test_missing_metric_fails_its_check_with_the_reason() -> None:
    adapter = MetricSet({"schema_valid_rate": 0.95, "failed_request_rate": 0.0},
                        missing={"latency_p95_s": "no request has this timing"})
    verdict = decide(GATE, adapter, BASELINE, _evidence(0.2, 0.01))
    assert verdict.decision == "not_proven"
    check = verdict.checks["latency_p95_s"]
    assert (check.passed, check.value) == (False, None)
    assert "missing for the adapter: no request has this timing" in check.reason


def test_reasons_carry_words_and_numbers() -> None:
    verdict = decide(GATE, _adapter(), BASELINE, _evidence(0.214, 0.0002, low=0.150, high=0.280))
    assert verdict.reasons[0] == "adapter_wins: every check passed"
    assert ("field_f1 +0.214 (95% CI +0.150..+0.280, Holm p=0.0002; its CI's worse end +0.150) >= min effect 0.05"
            in verdict.reasons)
    assert ("Holm-adjusted p=0.0002 < alpha 0.05 (paired permutation test, monte_carlo, 40 records differ; "
            "smallest p possible 0.0001)" in verdict.reasons)
    assert "40 test records >= min_records 20" in verdict.reasons
    assert ("schema_valid_rate 0.950 vs baseline 0.950 (+0.000) within the allowed drop of 0.02; exact McNemar "
            "Holm p=1" in verdict.reasons)
    assert "failed_request_rate 0.000 vs baseline 0.000 (+0.000) within the allowed rise of 0.02" in verdict.reasons
    assert "latency_p95_s 1.2s vs baseline 1s: within the allowed 1.5s (1.5x the baseline)" in verdict.reasons
    assert "Power on 40 records: this run detects +0.097 or more at 80% power." in verdict.reasons


def test_not_proven_states_the_records_that_would_decide() -> None:
    verdict = decide(POINT, _adapter(), BASELINE, _evidence(0.12, 0.09, se=0.06))
    assert verdict.decision == "not_proven"
    assert verdict.power.records_needed == 105
    assert ("Not proven on 40 records; ~105 would detect +0.120 at 80% power (this run detects +0.194 or more "
            "at 80% power).") in verdict.reasons


def test_training_notes_are_reasons() -> None:
    note = "Under-trained: the adapter's dev loss was still falling when training ended."
    verdict = decide(GATE, _adapter(), BASELINE, _evidence(0.2, 0.001, notes=(note,)))
    assert verdict.reasons[-1] == note


def test_not_proven_headline_names_failed_checks() -> None:
    verdict = decide(GATE, _adapter(latency=9.0), BASELINE, _evidence(0.01, 0.5))
    assert verdict.reasons[0] == "not_proven: failed primary_effect, primary_significance, latency_p95_s"


def test_to_dict_is_json_with_power_and_min_records() -> None:
    verdict = decide(GATE, _adapter(), BASELINE, _evidence(0.2, 0.01))
    as_dict = json.loads(json.dumps(verdict.to_dict()))
    assert as_dict["decision"] == "adapter_wins"
    assert as_dict["checks"]["latency_p95_s"] == {
        "passed": True, "value": 1.2, "threshold": 1.5,
        "reason": "latency_p95_s 1.2s vs baseline 1s: within the allowed 1.5s (1.5x the baseline)"}
    assert "cost_usd_per_1k_requests" not in as_dict["checks"]
    assert as_dict["min_records"] == 20
    assert set(as_dict["power"]) == {"mde", "records_needed", "method", "note"}
    assert as_dict["power"]["mde"] == pytest.approx(0.0971, abs=1e-4)


def _slice(name: str, diff: float, p_holm: float, n: int = 8) -> SliceFinding:
    return SliceFinding(name, diff, Interval(diff - 0.1, diff + 0.1, 0.95), p_holm, n)


def test_a_significantly_worse_slice_is_a_reason_even_with_the_slice_check_off() -> None:
    slices = (_slice("noisy_text", -0.30, 0.01), _slice("injection", -0.30, 0.20), _slice("irrelevant_context", 0.1, 0.01))
    verdict = decide(GATE, _adapter(), BASELINE, dataclasses.replace(_evidence(0.2, 0.001), slices=slices))
    assert verdict.decision == "adapter_wins" and "slices" not in verdict.checks
    named = [reason for reason in verdict.reasons if "slice" in reason]
    assert named == ["on the noisy_text slice the adapter is significantly worse: field_f1 -0.300 (95% CI -0.400..-0.200, Holm p=0.01, n=8)"]


@pytest.mark.parametrize(("slices", "passed"), [
    ((_slice("noisy_text", -0.04, 0.5), _slice("injection", 0.2, 0.01)), True),    # within the margin, not significant
    ((_slice("noisy_text", -0.06, 0.5),), False),                                  # beyond the margin
    ((_slice("noisy_text", -0.03, 0.01),), False),                                 # within it, but significantly worse
    ((), False),                                                                   # the check is on and nothing was scored
])
def test_the_slice_check_blocks_an_adapter_worse_on_a_slice(slices: tuple[SliceFinding, ...], passed: bool) -> None:
    gate = dataclasses.replace(GATE, slice_margin=0.05)
    verdict = decide(gate, _adapter(), BASELINE, dataclasses.replace(_evidence(0.2, 0.001), slices=slices))
    assert verdict.checks["slices"].passed is passed
    assert verdict.decision == ("adapter_wins" if passed else "not_proven")
