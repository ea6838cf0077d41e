"""Tests for harness.score.metrics on literal record scores with hand-computed answers."""

from __future__ import annotations

import json

import pytest

from harness.score.metrics import (
    METRICS,
    MetricSet,
    RequestOutcome,
    aggregate,
    metric_def,
    record_field_counts,
    record_field_f1,
)
from harness.score.scoring import FieldOutcome, RecordScore
from harness.statistics.stats import Interval, paired_bootstrap_micro_f1


def _score(status: str = "valid", extracted: bool = False, **fields: FieldOutcome) -> RecordScore:
    exact = status == "valid" and all(o.fp == 0 and o.fn == 0 for o in fields.values())
    return RecordScore(status, extracted, None, None, None, fields, exact)  # type: ignore[arg-type]


def _request(score: RecordScore, latency: float | None = 1.0, ttft: float | None = 0.1,
             tokens: tuple[int, int] = (100, 20), failed: bool = False) -> RequestOutcome:
    return RequestOutcome(score, latency, ttft, tokens[0], tokens[1], failed)


TP, FP, FN, TN, WRONG = (FieldOutcome(tp=1), FieldOutcome(fp=1), FieldOutcome(fn=1),
                         FieldOutcome(tn=1), FieldOutcome(fp=1, fn=1))
REQUESTS = (
    _request(_score(a=TP, b=TN), latency=1.0, ttft=0.1, tokens=(100, 10)),
    _request(_score("schema_invalid", True, a=WRONG, b=TN), latency=2.0, ttft=None,
             tokens=(200, 30)),
    _request(_score("not_json", a=FN, b=FN), latency=3.0, ttft=0.3, tokens=(300, 0)),
    _request(_score("empty", a=FN, b=TN), latency=None, ttft=None, tokens=(0, 0), failed=True),
)


@pytest.fixture(scope="module")
def metric_set() -> MetricSet:
    return aggregate(REQUESTS, wall_seconds=4.0, cost_usd_per_1k=0.5, peak_memory_bytes=3 << 30,
                     kv_cache_usage_peak=0.125, n_resamples=200)


@pytest.mark.parametrize(("name", "expected"), [
    ("n", 4),
    ("json_parse_rate", 0.5),
    ("extraction_needed_rate", 0.25),
    ("schema_valid_rate", 0.25),
    ("record_exact_rate", 0.25),
    ("failed_request_rate", 0.25),
    ("field_f1", 2 * 1 / (2 * 1 + 1 + 4)),   # tp 1, fp 1, fn 4 (a: 1 WRONG + 2 FN, b: 1 FN)
    ("field_f1.a", 2 * 1 / (2 * 1 + 1 + 3)),
    ("field_f1.b", 0.0),
    ("field_f1_macro", (2 / 6 + 0.0) / 2),
    ("latency_p50_s", 2.0),
    ("latency_p95_s", 2.9),
    ("latency_p99_s", 2.98),
    ("ttft_p95_s", 0.29),
    ("tokens_in_mean", 200.0),   # over the 3 requests that returned: a failure's 0 tokens are not averaged
    ("tokens_out_mean", 40 / 3),
    ("throughput_tokens_out_per_s", 10.0),
    ("throughput_rps", 1.0),   # 4 requests (a failure included: it was sent) over 4 wall seconds
    ("peak_memory_bytes", 3 << 30),
    ("kv_cache_usage_peak", 0.125),
    ("cost_usd_per_1k_requests", 0.5),
])
def test_aggregate_values(metric_set: MetricSet, name: str, expected: float) -> None:
    assert metric_set.value(name) == pytest.approx(expected)


def test_missing_timings_are_excluded_and_counted(metric_set: MetricSet) -> None:
    assert metric_set.excluded["ttft_p95_s"] == 2
    assert metric_set.excluded["latency_p95_s"] == 1
    assert metric_set.excluded["field_f1_macro"] == 0
    assert metric_set.excluded["tokens_in_mean"] == metric_set.excluded["tokens_out_mean"] == 1


def test_token_means_are_missing_when_every_request_failed() -> None:
    failed = [_request(_score("empty", a=FN, b=TN), latency=None, ttft=None, tokens=(0, 0), failed=True)] * 2
    metrics = aggregate(failed, wall_seconds=1.0, n_resamples=20)
    assert metrics.missing["tokens_in_mean"] == "every request failed"
    assert metrics.value("failed_request_rate") == 1.0


def test_percentiles_carry_seeded_intervals(metric_set: MetricSet) -> None:
    assert set(metric_set.intervals) == {"latency_p50_s", "latency_p95_s", "latency_p99_s",
                                         "ttft_p95_s"}
    for name, interval in metric_set.intervals.items():
        assert interval.low <= metric_set.value(name) <= interval.high
        assert interval.confidence == 0.95
    again = aggregate(REQUESTS, wall_seconds=4.0, cost_usd_per_1k=0.5, peak_memory_bytes=3 << 30,
                      kv_cache_usage_peak=0.125, n_resamples=200)
    assert again == metric_set


def test_uncomputable_metrics_are_absent_with_a_reason() -> None:
    requests = [_request(_score(a=TN), ttft=None), _request(_score(a=TN), ttft=None)]
    result = aggregate(requests, wall_seconds=1.0, memory_note="not measured: a server this run did not start", n_resamples=50)
    assert result.missing == {
        "peak_memory_bytes": "not measured: a server this run did not start",
        "kv_cache_usage_peak": "the engine reported no KV-cache usage",
        "field_f1": "no gold or predicted value in any field of any record",
        "field_f1.a": "field 'a' has no gold or predicted value",
        "field_f1_macro": "no field has any gold or predicted value",
        "ttft_p95_s": "no request has this timing",
        "cost_usd_per_1k_requests": "no cost model was given",
    }
    assert result.excluded["field_f1_macro"] == 1
    with pytest.raises(KeyError, match="no cost model was given"):
        result.value("cost_usd_per_1k_requests")


def test_empty_batch_has_only_n() -> None:
    result = aggregate([], wall_seconds=0.0)
    assert dict(result.values) == {"n": 0}
    assert result.missing["field_f1"] == "no requests"


def test_aggregate_refuses_mixed_field_rules_and_bad_wall_time() -> None:
    with pytest.raises(ValueError, match="different field rules"):
        aggregate([_request(_score(a=TP)), _request(_score(b=TP))], wall_seconds=1.0)
    with pytest.raises(ValueError, match="wall_seconds"):
        aggregate([_request(_score(a=TP))], wall_seconds=0.0)


def test_to_dict_is_plain_json_and_round_trips(metric_set: MetricSet) -> None:
    as_dict = json.loads(json.dumps(metric_set.to_dict()))
    assert set(as_dict) == {"values", "intervals", "missing", "excluded"}
    assert set(as_dict["intervals"]["latency_p95_s"]) == {"ci_low", "ci_high", "confidence"}
    assert "N/A" not in json.dumps(as_dict)
    assert MetricSet.from_dict(as_dict) == metric_set


@pytest.mark.parametrize(("fields", "expected"), [
    ({"a": TP, "b": TP}, 1.0),
    ({"a": TN, "b": TN}, 1.0),
    ({"a": TP, "b": WRONG}, 0.5),
    ({"a": FN, "b": TN}, 0.0),
    ({"a": FieldOutcome(tp=2, fp=1, fn=1)}, 4 / 6),
])
def test_record_field_f1(fields: dict[str, FieldOutcome], expected: float) -> None:
    assert record_field_f1(_score(**fields)) == pytest.approx(expected)


@pytest.mark.parametrize(("fields", "expected"), [
    ({"a": TP, "b": TN}, (1, 0, 0)),
    ({"a": WRONG, "b": FN}, (0, 1, 2)),
    ({"a": FieldOutcome(tp=2, fp=1, fn=1), "b": FP}, (2, 2, 1)),
    ({}, (0, 0, 0)),
])
def test_record_field_counts(fields: dict[str, FieldOutcome],
                             expected: tuple[int, int, int]) -> None:
    assert record_field_counts(_score(**fields)) == expected


def test_paired_micro_f1_difference_is_the_aggregate_field_f1_difference(
        metric_set: MetricSet) -> None:
    """The verdict's primary comparison and the reported field_f1 are the same quantity."""
    better = [_request(_score(a=TP, b=TN)), _request(_score(a=TP, b=TN)),
              _request(_score(a=FN, b=FN)), _request(_score(a=TP, b=TN))]
    other = aggregate(better, wall_seconds=1.0, n_resamples=50)
    comparison = paired_bootstrap_micro_f1(
        [record_field_counts(r.score) for r in better],
        [record_field_counts(r.score) for r in REQUESTS], n_resamples=200)
    expected = other.value("field_f1") - metric_set.value("field_f1")
    assert comparison.mean_diff == expected


def test_every_metric_is_declared_once_with_a_direction() -> None:
    names = [d.name for d in METRICS]
    assert len(names) == len(set(names))
    assert all(d.direction in ("higher_is_better", "lower_is_better", "neutral") for d in METRICS)
    assert metric_def("field_f1.parties").name == "field_f1.<field>"
    assert metric_def("latency_p95_s").direction == "lower_is_better"
    with pytest.raises(KeyError, match="not declared"):
        metric_def("accuracy")
    with pytest.raises(KeyError, match="not declared"):
        metric_def("field_f1.")


def test_metric_set_refuses_undeclared_or_contradictory_entries() -> None:
    with pytest.raises(KeyError, match="not declared"):
        MetricSet({"accuracy": 1.0})
    with pytest.raises(ValueError, match="both present and missing"):
        MetricSet({"n": 1}, missing={"n": "why"})
    with pytest.raises(ValueError, match="interval but no value"):
        MetricSet({"n": 1}, intervals={"latency_p95_s": Interval(0.0, 1.0, 0.95)})
