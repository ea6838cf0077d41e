"""harness.score.candidate_scores and harness.decide.evaluate on literal predictions and gold of the real contract_extraction task: scoring in
record order, paired comparisons (the primary diff IS the reported field_f1 gap), verdicts, guided audit."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from harness.errors import HarnessError
from harness.score.candidate_scores import CandidateResult, guided_audit, risky_keywords, score_candidate
from harness.decide.evaluate import compare_pair
from harness.score.metrics import record_field_f1
from harness.engine.prediction_log import Prediction
from harness.task.records import Record
from harness.task.specs import GateSpec, TaskSpec, load_task

TASK: TaskSpec = load_task(Path(__file__).resolve().parent.parent / "tasks", "contract_extraction")
NAMES = ("Acme Widgets Inc.", "Borealis Data LLC", "Cobalt Foods Corp.", "Dynamo Media Ltd.")
N = 20


def gold_of(i: int) -> dict:
    return {"parties": list(NAMES[: 1 + i % 3]), "agreement_date": f"20{10 + i}-03-0{1 + i % 9}", "effective_date": None,
            "expiration_date": None, "renewal_term": "successive 1 year" if i % 2 else None,
            "notice_period_days": 30 + i, "governing_law": ("Delaware", "New York", "Texas")[i % 3]}


RECORDS = [Record(f"r{i:02d}", f"doc{i}", f"contract {i}", gold_of(i), "synthetic") for i in range(N)]


def prediction(record: Record, text: str, candidate: str, latency: float = 0.1, finish: str = "stop") -> Prediction:
    return Prediction(record.id, candidate, "test", text, 100, 40, 0.01, latency, finish, 1)


def adapter_text(i: int) -> str:
    """Exact, except every fifth record names the wrong governing law."""
    gold = gold_of(i)
    if i % 5 == 4:
        gold["governing_law"] = "California"
    return json.dumps(gold)


def baseline_text(i: int) -> str:
    """Exact on i % 3 == 0, only the parties on i % 3 == 1, not JSON on i % 3 == 2."""
    if i % 3 == 0:
        return json.dumps(gold_of(i))
    if i % 3 == 1:
        return json.dumps({name: None for name in gold_of(i)} | {"parties": gold_of(i)["parties"]})
    return "Sorry, I cannot help with that."


def result(name: str, texts: list[str], latency: float = 0.1) -> CandidateResult:
    predictions = [prediction(r, t, name, latency) for r, t in zip(RECORDS, texts)]
    return score_candidate(TASK, name, RECORDS, predictions, wall_seconds=2.0, cost_usd_per_1k=None)


ADAPTER = result("lora_short", [adapter_text(i) for i in range(N)])
BASELINE = result("best_prompt", [baseline_text(i) for i in range(N)])
GATE = GateSpec(primary_metric="field_f1", min_effect=0.05, alpha=0.05)


def test_score_candidate_scores_in_record_order() -> None:
    assert [p.record_id for p in BASELINE.predictions] == [r.id for r in RECORDS]
    assert [s.status for s in BASELINE.scores[:3]] == ["valid", "valid", "not_json"]
    assert BASELINE.metrics.value("n") == N
    assert BASELINE.metrics.value("schema_valid_rate") == pytest.approx(14 / 20)
    assert ADAPTER.metrics.value("record_exact_rate") == pytest.approx(16 / 20)


@pytest.mark.parametrize("reorder", [lambda ps: ps[::-1], lambda ps: ps[1:], lambda ps: ps + ps[:1]],
                         ids=["reversed", "one_missing", "one_extra"])
def test_score_candidate_rejects_predictions_out_of_record_order(reorder) -> None:
    predictions = reorder([prediction(r, "{}", "x") for r in RECORDS])
    with pytest.raises(ValueError, match="not over the records in order"):
        score_candidate(TASK, "x", RECORDS, predictions, 1.0, None)


def test_failed_request_counts_as_misses_and_failures() -> None:
    predictions = [prediction(r, json.dumps(r.gold), "x") for r in RECORDS]
    predictions[0] = dataclasses.replace(predictions[0], text="", error="RuntimeError: boom", latency_s=None,
                                         prompt_tokens=0, completion_tokens=0)
    scored = score_candidate(TASK, "x", RECORDS, predictions, 1.0, None)
    assert scored.scores[0].status == "empty"
    assert scored.metrics.value("failed_request_rate") == pytest.approx(1 / 20)
    assert scored.metrics.value("field_f1") < 1.0
    assert scored.metrics.value("tokens_in_mean") == 100.0  # the failure's 0 prompt tokens are not averaged in


@pytest.mark.parametrize(("case", "slow", "p95", "failed"), [
    ("4 slow answers at 8 s", dict(latency_s=8.0), 8.0, 0.0),
    ("4 time-outs waited 8 s (predict records the wait)", dict(latency_s=8.0, text="", error="timed out after 8 s"), 8.0, 0.1),
    ("4 engine errors: no latency, counted as failures", dict(latency_s=None, text="", error="RuntimeError: boom"), 1.0, 0.1),
])
def test_slow_and_failed_requests_in_latency(case: str, slow: dict, p95: float, failed: float) -> None:
    records = _records(40)
    predictions = [prediction(r, json.dumps(r.gold), "x", latency=1.0) for r in records]
    predictions[36:] = [dataclasses.replace(p, **slow) for p in predictions[36:]]
    metrics = score_candidate(TASK, "x", records, predictions, 1.0, None).metrics
    assert metrics.value("latency_p95_s") == pytest.approx(p95), case
    assert metrics.value("failed_request_rate") == pytest.approx(failed), case


def test_engine_errors_fail_the_gate_through_the_failure_rate() -> None:
    records = _records(40)
    clean = [prediction(r, json.dumps(r.gold), "x") for r in records]
    broken = clean[:36] + [dataclasses.replace(p, text="", error="RuntimeError: boom", latency_s=None) for p in clean[36:]]
    baseline = _scored("best_prompt", records, set(range(20)))
    adapter = score_candidate(TASK, "lora_short", records, broken, 1.0, None)
    verdict = compare_pair(adapter, baseline, GATE, seed=0).verdict
    assert not verdict.checks["failure_rate"].passed and verdict.decision == "not_proven"


def micro_f1(result: CandidateResult) -> float:
    tp = sum(o.tp for s in result.scores for o in s.fields.values())
    fp = sum(o.fp for s in result.scores for o in s.fields.values())
    fn = sum(o.fn for s in result.scores for o in s.fields.values())
    return 2 * tp / (2 * tp + fp + fn)


def test_primary_diff_equals_reported_field_f1_gap() -> None:
    comparison = compare_pair(ADAPTER, BASELINE, GATE, seed=0)
    primary = comparison.rows[0]
    assert (primary["metric"], primary["test"], primary["n"]) == ("field_f1", "paired_permutation", N)
    assert (primary["method"], primary["ci_method"]) == ("exact", "paired_bootstrap")  # few records differ: all 2^k swaps
    assert primary["p_value"] >= primary["p_min"] == pytest.approx(2 / 2 ** primary["informative_records"])
    reported_gap = ADAPTER.metrics.value("field_f1") - BASELINE.metrics.value("field_f1")
    assert primary["diff"] == pytest.approx(reported_gap, abs=1e-12)
    assert reported_gap == pytest.approx(micro_f1(ADAPTER) - micro_f1(BASELINE), abs=1e-12)
    # micro, not the mean of per-record F1 (which differs on these records)
    mean_record_gap = np.mean([record_field_f1(a) - record_field_f1(b) for a, b in zip(ADAPTER.scores, BASELINE.scores)])
    assert abs(primary["diff"] - mean_record_gap) > 1e-3
    assert primary["ci_low"] <= primary["diff"] <= primary["ci_high"]
    assert primary["p_holm"] >= primary["p_value"]


def test_mcnemar_rows_carry_discordant_counts() -> None:
    rows = {row["metric"]: row for row in compare_pair(ADAPTER, BASELINE, GATE, seed=0).rows}
    valid, exact = rows["schema_valid_rate"], rows["record_exact_rate"]
    assert (valid["test"], valid["b01"], valid["b10"]) == ("mcnemar_exact", 0, 6)  # baseline not JSON on 6 records
    assert (exact["b01"], exact["b10"]) == (1, 10)  # r09: baseline exact, adapter wrong law; 10 the other way
    assert valid["diff"] == pytest.approx(1.0 - 14 / 20)
    assert exact["diff"] == pytest.approx(16 / 20 - 7 / 20)
    assert "b01" not in rows["field_f1"]
    assert all(row["candidate"] == "lora_short" and row["baseline"] == "best_prompt" for row in rows.values())


def test_clearly_better_adapter_wins() -> None:
    verdict = compare_pair(ADAPTER, BASELINE, GATE, seed=0).verdict
    assert verdict.decision == "adapter_wins", verdict.reasons
    assert all(check.passed for check in verdict.checks.values())


def test_identical_outputs_are_not_proven() -> None:
    twin = result("lora_short", [baseline_text(i) for i in range(N)])
    comparison = compare_pair(twin, BASELINE, GATE, seed=0)
    assert comparison.rows[0]["diff"] == 0.0
    assert comparison.rows[1]["b01"] == comparison.rows[1]["b10"] == 0
    assert comparison.verdict.decision == "not_proven"
    assert not comparison.verdict.checks["primary_effect"].passed


def test_better_but_far_slower_adapter_is_not_proven() -> None:
    slow = result("lora_short", [adapter_text(i) for i in range(N)], latency=5.0)
    verdict = compare_pair(slow, BASELINE, GATE, seed=0).verdict
    assert verdict.decision == "not_proven"
    assert [name for name, check in verdict.checks.items() if not check.passed] == ["latency_p95_s"]


def test_clearly_worse_adapter_loses() -> None:
    assert compare_pair(BASELINE, ADAPTER, GATE, seed=0).verdict.decision == "adapter_loses"


def test_rate_primary_metric_uses_per_record_values() -> None:
    gate = dataclasses.replace(GATE, primary_metric="record_exact_rate")
    primary = compare_pair(ADAPTER, BASELINE, gate, seed=0).rows[0]
    assert primary["metric"] == "record_exact_rate"
    assert primary["diff"] == pytest.approx(16 / 20 - 7 / 20)


@pytest.mark.parametrize("metric", ["record_exact_rate", "schema_valid_rate"])
def test_holm_family_tests_each_quantity_once(metric: str) -> None:
    """A rate primary's permutation test IS the exact McNemar test of that rate: one row, one p."""
    rows = compare_pair(ADAPTER, BASELINE, dataclasses.replace(GATE, primary_metric=metric), seed=0).rows
    assert [row["metric"] for row in rows].count(metric) == 1
    assert len(rows) == 2
    primary = rows[0]
    discordant = {"record_exact_rate": (1, 10), "schema_valid_rate": (0, 6)}[metric]
    assert primary["p_value"] == pytest.approx(binomtest(discordant[1], sum(discordant), 0.5).pvalue)


def test_field_f1_primary_keeps_both_mcnemar_tests_in_one_family() -> None:
    rows = compare_pair(ADAPTER, BASELINE, GATE, seed=0).rows
    assert [(row["metric"], row["test"]) for row in rows] == [
        ("field_f1", "paired_permutation"), ("schema_valid_rate", "mcnemar_exact"), ("record_exact_rate", "mcnemar_exact")]
    ordered = sorted(rows, key=lambda row: row["p_value"])
    assert ordered[0]["p_holm"] == pytest.approx(min(1.0, 3 * ordered[0]["p_value"]))


def _records(n: int) -> list[Record]:
    return [Record(f"x{i:02d}", f"d{i}", "text", {"parties": None, "agreement_date": None, "effective_date": None,
                   "expiration_date": None, "renewal_term": None, "notice_period_days": 30 + i,
                   "governing_law": "Texas"}, "synthetic") for i in range(n)]


def _scored(name: str, records: list[Record], wrong: set[int]) -> CandidateResult:
    texts = [json.dumps(r.gold | ({"notice_period_days": 1, "governing_law": "Ohio"} if i in wrong else {}))
             for i, r in enumerate(records)]
    return score_candidate(TASK, name, records, [prediction(r, t, name) for r, t in zip(records, texts)], 1.0, None)


@pytest.mark.parametrize(("case", "n", "baseline_wrong", "p", "decision"), [
    ("one record, baseline misses both values", 1, {0}, 1.0, "not_proven"),
    ("40 records, 5 better and none worse", 40, {0, 1, 2, 3, 4}, 0.0625, "not_proven"),
    ("40 records, 10 better and none worse", 40, set(range(10)), 2 / 2 ** 10, "adapter_wins"),
])
def test_small_samples_cannot_pass_the_gate(case: str, n: int, baseline_wrong: set[int], p: float, decision: str) -> None:
    records = _records(n)
    comparison = compare_pair(_scored("lora_short", records, set()), _scored("best_prompt", records, baseline_wrong),
                              dataclasses.replace(GATE, min_effect_on="point"), seed=0)
    primary = comparison.rows[0]
    assert primary["p_value"] == pytest.approx(p), case
    assert primary["method"] == "exact" and primary["p_value"] >= primary["p_min"], case
    assert comparison.verdict.decision == decision, (case, comparison.verdict.reasons)


def test_one_record_is_below_min_records() -> None:
    records = _records(1)
    verdict = compare_pair(_scored("lora_short", records, set()), _scored("best_prompt", records, {0}), GATE, seed=0).verdict
    assert not verdict.checks["min_records"].passed
    assert "1 test records < min_records 20: too few to decide anything" in verdict.reasons


def test_not_proven_says_how_many_records_would_decide() -> None:
    records = _records(40)
    verdict = compare_pair(_scored("lora_short", records, {0, 1}), _scored("best_prompt", records, set(range(2, 8))),
                           dataclasses.replace(GATE, min_effect_on="point"), seed=0).verdict  # 6 better, 2 worse: +0.10
    assert verdict.decision == "not_proven", verdict.reasons
    assert verdict.power.records_needed is not None and verdict.power.records_needed > 40
    assert any(reason.startswith(f"Not proven on 40 records; ~{verdict.power.records_needed} would detect +")
               for reason in verdict.reasons)


def test_primary_metric_without_paired_test_is_an_error() -> None:
    with pytest.raises(HarnessError, match="has no paired test"):
        compare_pair(ADAPTER, BASELINE, dataclasses.replace(GATE, primary_metric="latency_p95_s"), seed=0)


def test_guided_audit_counts_compliance_violations_and_truncation() -> None:
    texts = [json.dumps(gold_of(i)) for i in range(N)]
    texts[0] = json.dumps(gold_of(0) | {"agreement_date": "March 1, 2010"})  # violates the pattern
    texts[1] = '{"parties": ["Acme'  # cut off at max_tokens
    predictions = [prediction(r, t, "guided_json", finish="length" if i == 1 else "stop") for i, (r, t) in enumerate(zip(RECORDS, texts))]
    guided = score_candidate(TASK, "guided_json", RECORDS, predictions, 2.0, None)
    audit = guided_audit(guided, TASK.schema)
    assert audit["candidate"] == "guided_json" and audit["n"] == N
    assert audit["compliance_rate"] == pytest.approx(18 / 20)
    assert audit["violations"] == {"not_json": 1, "schema_invalid": 1}
    assert audit["truncated"] == 1
    assert audit["ignored_schema_features"] == ["pattern"]  # the violated keyword, enforced by no grammar here
    assert audit["ignored_feature_counts"] == {"pattern": 1}
    for field in ("agreement_date", "effective_date", "expiration_date"):
        assert f"{field}.pattern" in [k.lstrip(".") for k in audit["unenforceable_keywords_present"]]


def test_fully_compliant_guided_candidate_ignored_nothing() -> None:
    guided = result("guided_json", [json.dumps(gold_of(i)) for i in range(N)])
    audit = guided_audit(guided, TASK.schema)
    assert (audit["compliance_rate"], audit["violations"], audit["ignored_schema_features"]) == (1.0, {}, [])


def test_risky_keywords_of_the_task_schema() -> None:
    assert [k.lstrip(".") for k in risky_keywords(TASK.schema)] == [
        "agreement_date.pattern", "effective_date.pattern", "expiration_date.pattern", "governing_law.minLength",
        "notice_period_days.minimum", "parties.minItems", "parties.minLength", "renewal_term.minLength"]


def test_risky_keyword_paths_have_no_leading_dot() -> None:
    assert "agreement_date.pattern" in risky_keywords(TASK.schema)


def test_schema_without_constraints_has_no_risky_keywords() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {"type": "integer"}}}}
    assert risky_keywords(schema) == []


def test_property_named_like_a_keyword_is_not_a_feature() -> None:
    schema = {"type": "object", "properties": {"format": {"type": "string"}, "minimum": {"type": "integer"}}}
    assert risky_keywords(schema) == []
