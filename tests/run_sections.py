"""The sections a run hands to summarize() beside its batches (engine, data, environment), fixed for unit tests.

A real run records them from its engine, data folder and machine (harness.pipeline.compare); these
stand-ins have the shape the typed run summary requires and nothing the tests read.
"""

from __future__ import annotations

from typing import Any

ENGINE = {"mode": "inprocess", "engine_args": {}, "load_profile": {}, "adapter_cold_load_s": None}


def run_sections(**extra: Any) -> dict[str, Any]:
    """engine, data and environment stand-ins, plus any further sections given (e.g. adapter=...)."""
    return {"engine": dict(ENGINE), "data": {"splits": {}, "card_file": "data_card.md", "sources": None, "folder": "/data"},
            "environment": {"device": "cpu"}, **extra}
