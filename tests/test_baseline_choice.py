"""harness.decide.baseline_choice: the strongest prompt-only candidate on dev, ties broken by the stated rule (a table), and
the tie as summarize() records it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from test_reliability import ROOT, TASK, records

from harness.adapter.serving_mode import AdapterServing
from harness.decide.baseline_choice import RULE, DevStanding, choose_baseline
from harness.serve.batch_store import BatchStore
from harness.engine.prediction_log import Prediction, append_prediction
from harness.serve.prompt_choice import PromptChoice
from harness.sinks.report.results import tie_sentence
from harness.task.specs import load_candidate
from harness.pipeline.run_facts import RunFacts
from run_sections import summarize
from harness.record.run_summary import BaselineSelection
from run_sections import run_sections

S = DevStanding

CASES = [
    # (standings in candidate order, higher_is_better, chosen, decided_by (None: no tie), tied)
    ([S("best_prompt", 0.50, 1.0, 300), S("few_shot", 0.40, 1.0, 900)], True, "best_prompt", None, None),
    ([S("best_prompt", 0.40, 1.0, 300), S("few_shot", 0.50, 0.9, 900)], True, "few_shot", None, None),
    ([S("best_prompt", 0.50, 0.90, 300), S("few_shot", 0.50, 0.95, 900)], True, "few_shot", "schema_valid_rate",
     ["best_prompt", "few_shot"]),
    ([S("best_prompt", 0.50, 1.0, 310), S("few_shot", 0.50, 1.0, 300)], True, "few_shot", "tokens_in_mean",
     ["best_prompt", "few_shot"]),
    ([S("best_prompt", 0.50, 1.0, 300), S("few_shot", 0.50, 1.0, 300)], True, "best_prompt", "candidate order",
     ["best_prompt", "few_shot"]),
    ([S("few_shot", 0.50, 1.0, 300), S("best_prompt", 0.50, 1.0, 300)], True, "few_shot", "candidate order",
     ["few_shot", "best_prompt"]),
    # float noise is a tie: 0.1 + 0.2 vs 0.3
    ([S("best_prompt", 0.1 + 0.2, 0.9, 300), S("few_shot", 0.3, 1.0, 300)], True, "few_shot", "schema_valid_rate",
     ["best_prompt", "few_shot"]),
    # only the tied candidates compete on the secondary keys: guided_json's better validity does not count
    ([S("best_prompt", 0.50, 0.8, 300), S("few_shot", 0.50, 0.9, 900), S("guided_json", 0.45, 1.0, 100)], True,
     "few_shot", "schema_valid_rate", ["best_prompt", "few_shot"]),
    # a key not measured for every tied candidate is skipped, not held against the one without it
    ([S("best_prompt", 0.50, None, None), S("few_shot", 0.50, 1.0, 900)], True, "best_prompt", "candidate order",
     ["best_prompt", "few_shot"]),
    ([S("best_prompt", 0.50, None, 310), S("few_shot", 0.50, 0.5, 300)], True, "few_shot", "tokens_in_mean",
     ["best_prompt", "few_shot"]),
    # a lower-is-better primary metric
    ([S("best_prompt", 0.20, 1.0, 300), S("few_shot", 0.10, 1.0, 900)], False, "few_shot", None, None),
    ([S("best_prompt", 0.10, 1.0, 300), S("few_shot", 0.10, 1.0, 290)], False, "few_shot", "tokens_in_mean",
     ["best_prompt", "few_shot"]),
    ([S("best_prompt", 0.7)], True, "best_prompt", None, None),
]


@pytest.mark.parametrize("standings, higher, chosen, decided_by, tied", CASES)
def test_the_baseline_and_how_a_tie_was_broken(standings, higher, chosen, decided_by, tied) -> None:
    choice = choose_baseline(standings, higher)
    assert choice.chosen == chosen
    if decided_by is None:
        assert choice.tie_break is None
    else:
        assert choice.tie_break["decided_by"] == decided_by and choice.tie_break["tied"] == tied
        assert set(choice.tie_break["values"]) == set(tied)


def test_the_section_states_the_rule_and_the_skipped_keys() -> None:
    section = choose_baseline([S("best_prompt", 0.5, None, 310), S("few_shot", 0.5, 0.5, 300)], True).section()
    assert section["rule"] == RULE and section["chosen"] == "few_shot"
    assert section["tie_break"] == {"tied": ["best_prompt", "few_shot"], "decided_by": "tokens_in_mean",
                                    "not_measured_for_all": ["schema_valid_rate"],
                                    "values": {"best_prompt": {"primary": 0.5, "schema_valid_rate": None, "tokens_in_mean": 310},
                                               "few_shot": {"primary": 0.5, "schema_valid_rate": 0.5, "tokens_in_mean": 300}}}


def tied_run(tmp_path: Path, with_tuning_batch: bool) -> dict:
    """summarize() over a prompt-only run where best_prompt (tuned) and few_shot score the same on dev."""
    candidates = tuple(load_candidate(ROOT / "candidates", cid) for cid in ("best_prompt", "few_shot"))
    splits = {"train": records("train", 2), "few_shot_pool": records("pool", 2), "dev": records("dev", 4), "test": records("test", 4)}
    store = BatchStore(tmp_path / "run")
    batches = [("best_prompt", "test", 60), ("few_shot", "test", 50), ("few_shot", "dev", 50)]
    batches += [("tune.extract_plain", "dev", 60)] if with_tuning_batch else []
    for label, split, prompt_tokens in batches:
        for record in splits[split]:
            prediction = Prediction(record.id, label, split, json.dumps(dict(record.gold)), prompt_tokens, 20, 0.01, 0.1, "stop", 1)
            append_prediction(store.log_path(label, split), prediction)
        store.add_wall_seconds(label, split, 1.0)
    choice = PromptChoice("extract_plain", 2, "field_f1", {"extract_plain": 1.0, "extract_schema": 0.5}, "k")
    facts = RunFacts(TASK, candidates, splits, choice, (AdapterServing.DYNAMIC,), AdapterServing.DYNAMIC, 2.0, None, 13, run_sections())
    return summarize(facts, store, tmp_path / "run", "run-1")


def test_a_tie_on_dev_is_broken_by_the_shorter_prompt_and_recorded(tmp_path: Path) -> None:
    selection = tied_run(tmp_path, with_tuning_batch=True).baseline_selection
    assert selection.dev_scores == {"best_prompt": 1.0, "few_shot": 1.0}
    assert selection.chosen == "few_shot" and selection.rule == RULE
    assert selection.tie_break["decided_by"] == "tokens_in_mean"
    assert selection.tie_break["values"]["best_prompt"]["tokens_in_mean"] == 60


def test_a_tie_without_the_tuned_candidates_dev_batch_falls_to_candidate_order_and_says_so(tmp_path: Path) -> None:
    summary = tied_run(tmp_path, with_tuning_batch=False)
    selection = summary.baseline_selection
    assert selection.chosen == summary.verdict.baseline_candidate == "best_prompt"
    assert selection.tie_break["decided_by"] == "candidate order"
    assert selection.tie_break["not_measured_for_all"] == ["schema_valid_rate", "tokens_in_mean"]


def test_the_report_names_the_tie_beside_the_baseline() -> None:
    chosen = BaselineSelection(chosen="few_shot", rule=RULE, tie_break={"tied": ["best_prompt", "few_shot"], "decided_by": "tokens_in_mean"},
                               chosen_on="dev", metric="field_f1", dev_scores={})
    assert tie_sentence(chosen) == " (best_prompt, few_shot tied on field_f1; the tie was broken by tokens_in_mean)"
    assert tie_sentence(dataclasses.replace(chosen, tie_break=None)) == ""
