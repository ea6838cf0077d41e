"""The base-model regression probe: its checkers on known outputs, and the `regression` section and verdict reasons
summarize() makes from logged probe batches."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from test_reliability import ROOT, TASK, records

from harness.adapter.serving_mode import AdapterServing
from harness.serve.batch_store import BatchStore
from harness.engine.prediction_log import Prediction, append_prediction
from harness.task.probes import ADAPTER_LABEL, BASE_LABEL, PROBES, SPLIT, passes
from harness.serve.prompt_choice import PromptChoice
from harness.task.specs import load_candidate
from harness.pipeline.run_facts import RunFacts
from run_sections import run_sections, summarize

RIGHT = {"exact_five_words": "The sky is bright blue.", "at_most_twelve_words": "To make promises binding and clear.",
         "json_keys": '```json\n{"name": "Ana", "age": 31}\n```', "addition": "42", "multiplication": "54", "apples": "7", "older": "Sam",
         "summary_keyword": "The launch moved to June, a new deadline set after slow testing.",
         "tool_call": '{"tool": "get_weather", "arguments": {"city": "Paris"}}', "capital": "Paris", "upper_yes": "YES",
         "three_fruits": "apple, banana, cherry"}
WRONG = {"exact_five_words": "Blue.", "at_most_twelve_words": "People sign written contracts because they want to have a clear record of "
         "what was agreed.", "json_keys": '{"name": "Ana"}', "addition": "43", "multiplication": "56", "apples": "12", "older": "Mia",
         "summary_keyword": "The launch moved. Testing was slow.", "tool_call": '{"tool": "get_weather", "arguments": {"city": "Rome"}}',
         "capital": "Lyon", "upper_yes": "Yes", "three_fruits": "apple, banana"}


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.id)
def test_each_checker_passes_a_right_answer_and_fails_a_wrong_one(probe) -> None:
    assert passes(probe, RIGHT[probe.id]) and not passes(probe, WRONG[probe.id])


def probe_run(tmp_path: Path, adapter_wrong: int, regression_margin: float | None = None) -> dict:
    """A run whose base model passes every probe item and whose adapter fails the first `adapter_wrong`."""
    candidates = tuple(load_candidate(ROOT / "candidates", cid) for cid in ("best_prompt", "lora_short"))
    splits = {"train": records("train", 2), "few_shot_pool": records("pool", 2), "dev": records("dev", 4), "test": records("test", 24)}
    store = BatchStore(tmp_path / "run")
    for label in ("best_prompt", "lora_short"):
        for record in splits["test"]:
            append_prediction(store.log_path(label, "test"),
                              Prediction(record.id, label, "test", json.dumps(dict(record.gold)), 50, 20, 0.01, 0.1, "stop", 1))
        store.add_wall_seconds(label, "test", 1.0)
    for label in (BASE_LABEL, ADAPTER_LABEL):
        for number, probe in enumerate(PROBES):
            text = WRONG[probe.id] if label == ADAPTER_LABEL and number < adapter_wrong else RIGHT[probe.id]
            append_prediction(store.log_path(label, SPLIT), Prediction(probe.id, label, SPLIT, text, 30, 8, 0.01, 0.1, "stop", 1))
    choice = PromptChoice("extract_plain", 2, "field_f1", {"extract_plain": 1.0}, "k")
    task = dataclasses.replace(TASK, gate=dataclasses.replace(TASK.gate, regression_margin=regression_margin),
                               slices=dataclasses.replace(TASK.slices, records=0))
    facts = RunFacts(task, candidates, splits, choice, (AdapterServing.DYNAMIC,), AdapterServing.DYNAMIC, 2.0, None, 13, run_sections())
    return summarize(facts, store, tmp_path / "run", "run-1")


def test_a_significant_loss_on_the_probe_is_recorded_and_named_in_the_reasons(tmp_path: Path) -> None:
    summary = probe_run(tmp_path, adapter_wrong=8)
    regression = summary.regression
    assert regression["pass_rates"] == {BASE_LABEL: 1.0, ADAPTER_LABEL: pytest.approx(4 / 12)}
    assert regression["regressed"] == [p.id for p in PROBES[:8]] and regression["improved"] == []
    comparison = regression["comparison"]
    assert (comparison["base"], comparison["adapter"], comparison["n"]) == (BASE_LABEL, ADAPTER_LABEL, 12)
    assert comparison["diff"] == pytest.approx(-8 / 12) and comparison["mcnemar_p"] == pytest.approx(2 / 2 ** 8)
    assert regression["items"][0][BASE_LABEL] is True and regression["items"][0][ADAPTER_LABEL] is False
    assert any(r.startswith("the adapter lost general capabilities: it passes 0.333 of the regression probe") for r in summary.verdict.reasons)
    assert "regression" not in summary.verdict.checks


@pytest.mark.parametrize(("wrong", "passed"), [(0, True), (1, True), (2, False)])
def test_the_regression_check_when_set_allows_the_margin_and_no_more(tmp_path: Path, wrong: int, passed: bool) -> None:
    check = probe_run(tmp_path, adapter_wrong=wrong, regression_margin=0.1).verdict.checks["regression"]
    assert check["passed"] is passed and check["value"] == pytest.approx(-wrong / 12)


def test_the_report_shows_each_item_and_marks_the_regressed_ones(tmp_path: Path) -> None:
    from harness.sinks.report.regression import regression_section

    section = regression_section(probe_run(tmp_path, adapter_wrong=2))
    text, table = section.blocks
    assert "passes 0.833 of 12, the base model 1.000: -0.167" in text.text and "Regressed: exact_five_words, at_most_twelve_words" in text.text
    assert table.header == ("item", "skill", BASE_LABEL, ADAPTER_LABEL) and table.rows[0] == ("exact_five_words", "exact word count", "pass", "fail")
    assert table.best == frozenset({(0, 3), (1, 3)})
