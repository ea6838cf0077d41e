"""A run's stages after serving, for unit tests: fixed sections and the score → decide → record chain.

A real run records the engine, data and environment sections from its engine, data folder and
machine (harness.pipeline.compare); `run_sections` gives stand-ins of the shape the typed run
summary requires. `summarize` chains the stages over logged batches as `run_comparison` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.pipeline.decide_stage import decide
from harness.pipeline.record_stage import record_run
from harness.pipeline.run_facts import RunFacts
from harness.pipeline.score_stage import score_run
from harness.record.run_summary import RunSummary
from harness.serve.batch_store import BatchStore

ENGINE = {"mode": "inprocess", "engine_args": {}, "load_profile": {}, "adapter_cold_load_s": None}


def run_sections(**extra: Any) -> dict[str, Any]:
    """engine, data and environment stand-ins, plus any further sections given (e.g. adapter=...)."""
    return {"engine": dict(ENGINE), "data": {"splits": {}, "card_file": "data_card.md", "sources": None, "folder": "/data"},
            "environment": {"device": "cpu"}, **extra}


def summarize(facts: RunFacts, store: BatchStore, run_dir: Path, run_id: str) -> RunSummary:
    """score → decide → record over logged batches, as `run_comparison` chains them after serving."""
    scored = score_run(facts, store)
    return record_run(facts, scored, decide(facts, scored), run_dir, run_id)
