"""The summary's `slices` section and the verdict's slice reasons, from logged batches (summarize), and the report's slice table."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from test_reliability import ROOT, TASK, records

from harness.adapter.serving_mode import AdapterServing
from harness.serve.batch_store import BatchStore
from harness.data.slices import SERVED_SPLIT, slice_split
from harness.engine.prediction_log import Prediction, append_prediction
from harness.serve.prompt_choice import PromptChoice
from harness.sinks.report.slices import slices_section as report_section
from harness.task.specs import load_candidate
from harness.pipeline.run_facts import RunFacts
from run_sections import run_sections, summarize

NOISY = slice_split("noisy_text")


def run_with_a_slice(tmp_path: Path, slice_margin: float | None) -> dict:
    """The adapter matches the baseline on test and gets every field wrong on the noisy slice's 10 variants."""
    candidates = tuple(load_candidate(ROOT / "candidates", cid) for cid in ("best_prompt", "lora_short"))
    noisy = tuple(dataclasses.replace(r, id=f"{r.id}~noisy_text") for r in records("test", 10))
    splits = {"train": records("train", 2), "few_shot_pool": records("pool", 2), "dev": records("dev", 4), "test": records("test", 24),
              NOISY: noisy, slice_split("missing_fields"): (), SERVED_SPLIT: noisy}
    store = BatchStore(tmp_path / "run")
    for label in ("best_prompt", "lora_short"):
        for split, batch in (("test", "test"), (NOISY, SERVED_SPLIT)):  # every slice's variants are served in one batch
            wrong = label == "lora_short" and split == NOISY
            for record in splits[split]:
                text = "{}" if wrong else json.dumps(dict(record.gold))
                append_prediction(store.log_path(label, batch), Prediction(record.id, label, batch, text, 50, 20, 0.01, 0.1, "stop", 1))
            store.add_wall_seconds(label, batch, 1.0)
    choice = PromptChoice("extract_plain", 2, "field_f1", {"extract_plain": 1.0}, "k")
    task = dataclasses.replace(TASK, gate=dataclasses.replace(TASK.gate, slice_margin=slice_margin))
    facts = RunFacts(task, candidates, splits, choice, (AdapterServing.DYNAMIC,), AdapterServing.DYNAMIC, 2.0, None, 13, run_sections())
    return summarize(facts, store, tmp_path / "run", "run-1")


def test_each_slice_records_every_candidate_and_the_adapters_paired_difference(tmp_path: Path) -> None:
    summary = run_with_a_slice(tmp_path, slice_margin=None)
    noisy = summary.slices["noisy_text"]
    assert noisy["n"] == 10 and noisy["records_file"] == "slices/noisy_text.jsonl" and noisy["steps"][0]["step"] == "ocr_noise"
    assert noisy["candidates"]["best_prompt"]["metrics"]["field_f1"] == 1.0 and noisy["candidates"]["lora_short"]["metrics"]["field_f1"] == 0.0
    low, high = noisy["candidates"]["lora_short"]["intervals"]["field_f1"]
    assert low == high == 0.0
    found = noisy["adapter_vs_baseline"]
    assert (found["candidate"], found["baseline"], found["diff"], found["n"]) == ("lora_short", "best_prompt", -1.0, 10)
    assert found["ci_low"] <= found["diff"] <= found["ci_high"] and found["p_holm"] < 0.01
    assert summary.slices["missing_fields"]["adapter_vs_baseline"] is None and summary.slices["missing_fields"]["note"]
    assert summary.verdict.decision == "not_proven"  # equal on test: the slice alone decides nothing with the check off
    assert any(reason.startswith("on the noisy_text slice the adapter is significantly worse: field_f1 -1.000")
               for reason in summary.verdict.reasons)
    assert "slices" not in summary.verdict.checks
    table = report_section(summary).blocks[0]
    assert table.rows[0][:2] == ("noisy_text", "10") and table.rows[0][-2].startswith("-1.000")


def test_the_slice_check_when_set_fails_the_gate(tmp_path: Path) -> None:
    summary = run_with_a_slice(tmp_path, slice_margin=0.05)
    check = summary.verdict.checks["slices"]
    assert not check["passed"] and "failed on noisy_text" in check["reason"]
    assert summary.verdict.decision != "adapter_wins"
