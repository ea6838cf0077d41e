"""The run summary of a fixed prediction log is byte-identical to a committed golden file.

The inputs are fixed: synthetic records from the contract task's own generator, and prediction logs
made from their gold answers by a seeded generator (exact answers, a field wrong or dropped, prose,
empty outputs, failed requests), with fixed wall times and engine, data and environment sections.
`summarize` scores, chooses the baseline, compares and decides; the summary is then written the way
a run writes it. Any change to what a run records shows up here as a diff against
tests/golden/summary.json. When such a change is intended, regenerate the file with
`GOLDEN_UPDATE=1 pytest tests/test_summary_golden.py` and review the diff like code.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import replace
from pathlib import Path

from harness.adapter.serving_mode import AdapterServing
from harness.data.synthetic import synthetic_harvest
from harness.engine.prediction_log import Prediction, append_prediction
from harness.pipeline.run_facts import RunFacts
from run_sections import summarize
from harness.record.run_summary import read_run_summary, write_run_summary
from harness.serve.batch_store import BatchStore
from harness.serve.prompt_choice import PromptChoice
from harness.task.specs import load_candidate, load_task

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "summary.json"
CANDIDATES = ("best_prompt", "few_shot", "guided_json", "lora_short")
TEST_LABELS = {"best_prompt": 0.55, "few_shot": 0.6, "guided_json": 0.5, "lora_short": 0.8, "lora_short@merged": 0.78}
DEV_LABELS = {"tune.extract_plain": 0.55, "few_shot": 0.62, "guided_json": 0.5}
SECTIONS = {
    "engine": {"mode": "in_process", "engine_args": {"model": "/models/fixed", "dtype": "float32", "seed": 0},
               "load_profile": {"concurrency": 4, "warmup_requests": 2, "timeout_s": 120.0, "max_attempts": 2},
               "adapter_cold_load_s": 1.25},
    "data": {"splits": {"test": {"n": 24, "hash": "t" * 16}, "dev": {"n": 12, "hash": "d" * 16}},
             "card_file": "data_card.md", "sources": None, "folder": "/data/fixed"},
    "environment": {"machine": "x86_64", "device": "cpu", "versions": {"python": "3.12"}, "git_commit": "0" * 40},
    "adapter": {"key": "a" * 16, "path": None, "trained_here": True, "manifest": {"train_seconds": 300.0}},
}


def output(rng: random.Random, gold: dict, quality: float) -> tuple[str, str | None]:
    """(text, error) for one request: the gold answer at rate `quality`, otherwise one kind of mistake."""
    if rng.random() < quality:
        return json.dumps(gold), None
    kind = rng.choice(["wrong_field", "dropped_field", "prose", "empty", "failed"])
    wrong = dict(gold)
    field = rng.choice(sorted(wrong))
    if kind == "wrong_field":
        wrong[field] = "something else" if not isinstance(wrong[field], list) else ["Someone Else"]
    elif kind == "dropped_field":
        wrong.pop(field)
    return {"wrong_field": json.dumps(wrong), "dropped_field": json.dumps(wrong), "prose": f"The {field} is unclear.",
            "empty": "", "failed": ""}[kind], ("timeout after 2 attempts" if kind == "failed" else None)


def write_batches(store: BatchStore, split: str, records: list, labels: dict[str, float]) -> None:
    for label, quality in labels.items():
        rng = random.Random(f"{label}:{split}")
        for record in records:
            text, error = output(rng, dict(record.gold), quality)
            latency = round(0.4 + rng.random(), 3)
            append_prediction(store.log_path(label, split), Prediction(
                record.id, label, split, text, 300 + len(record.text) // 8, len(text) // 4, round(latency / 5, 3), latency,
                None if error else "stop", 2 if error else 1, error))
        store.add_wall_seconds(label, split, 6.5 + len(label) / 10)


def fixed_summary(run_dir: Path) -> str:
    """summary.json's text for the fixed inputs, as a run writes it (created_at pinned)."""
    task = load_task(ROOT / "tasks", "contract_extraction")
    splits = {split: [c.record for c in synthetic_harvest(task, split, n, lambda text: len(text.split())).candidates]
              for split, n in (("test", 24), ("dev", 12))}
    store = BatchStore(run_dir)
    write_batches(store, "test", splits["test"], TEST_LABELS)
    write_batches(store, "dev", splits["dev"], DEV_LABELS)
    choice = PromptChoice("extract_plain", 3, "field_f1", {"extract_plain": 0.52, "extract_schema": 0.47, "extract_rules": 0.5}, "c" * 16)
    facts = RunFacts(task, tuple(load_candidate(ROOT / "candidates", c) for c in CANDIDATES), splits, choice,
                     (AdapterServing.DYNAMIC, AdapterServing.MERGED), AdapterServing.MERGED, 2.0, None, 0, SECTIONS)
    summary = replace(summarize(facts, store, run_dir, "20260101T000000Z-0000"), created_at="2026-01-01T00:00:00+00:00")
    write_run_summary(run_dir, summary)
    return (run_dir / "summary.json").read_text(encoding="utf-8")


def test_a_fixed_prediction_log_gives_the_golden_summary(tmp_path: Path) -> None:
    written = fixed_summary(tmp_path)
    if os.environ.get("GOLDEN_UPDATE"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(written, encoding="utf-8")
    assert json.loads(written)["verdict"]["adapter_candidate"] == "lora_short@merged"
    assert written == GOLDEN.read_text(encoding="utf-8")


def test_the_summary_round_trips_through_its_file(tmp_path: Path) -> None:
    written = fixed_summary(tmp_path / "first")
    (tmp_path / "second").mkdir()
    write_run_summary(tmp_path / "second", read_run_summary(tmp_path / "first"))
    assert (tmp_path / "second" / "summary.json").read_text(encoding="utf-8") == written
