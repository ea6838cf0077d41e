"""The run summary as one typed value: what a comparison established, as every view reads it.

`RunSummary` is summary.json in frozen dataclasses: the verdict, each candidate's entry, the gate it
was judged by (the task's own `GateSpec`), the baseline choice, the prompt search, the cost and data
sections, and the open-ended records of the engine, environment, adapter and checks as mappings. The
record stage builds one; `write_run_summary` writes it once, and `read_run_summary` reads it back
strictly (schema version first, then every key and type, an unknown key refused), so a run folder
round-trips byte for byte. Sections a run may lack are None and are left out of the file, which
keeps a section that is recorded as null (for example `tie_break`) apart from one that is absent.
This module knows the record's shape; it computes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from harness.errors import HarnessError
from harness.record.run_record import SCHEMA_VERSION, write_json
from harness.task.specs import GateSpec
from harness.task.strict_yaml import build, to_dict

SUMMARY_FILE = "summary.json"
ABSENT_WHEN_NONE = {"absent_when_none": True}


def absent() -> Any:
    """A field that is left out of summary.json when it is None (a section the run did not record)."""
    return field(default=None, metadata=ABSENT_WHEN_NONE)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The decision with its reasons and checks; a prompt-only study has no power, notes or adapter."""

    decision: str
    reasons: tuple[str, ...]
    checks: Mapping[str, Any]
    power: Mapping[str, Any] | None = absent()
    min_records: int | None = absent()
    adapter_candidate: str | None
    baseline_candidate: str
    adapter_serving: str | None
    training_notes: tuple[str, ...] | None = absent()


@dataclass(frozen=True, kw_only=True)
class CandidateEntry:
    """One scored label on the test split: its spec, prompt, metrics with intervals, failures and predictions file."""

    description: str
    spec: Mapping[str, Any]
    prompt_template: str
    uses_adapter: bool
    serving: str
    metrics: Mapping[str, Any]
    intervals: Mapping[str, Any]
    missing_metrics: Mapping[str, Any]
    memory_measure: str | None = absent()
    per_field_f1: Mapping[str, Any]
    failures: Mapping[str, int]
    predictions_file: str


@dataclass(frozen=True, kw_only=True)
class BaselineSelection:
    """Which prompt-only candidate the adapter is judged against, by which rule, on which dev scores."""

    chosen: str
    rule: str
    tie_break: Mapping[str, Any] | None
    chosen_on: str
    metric: str
    dev_scores: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class PromptSearch:
    """The zero-shot prompt search: the winning variant, how many were tried and their dev scores."""

    winner: str
    variants_tried: int
    metric: str
    dev_scores: Mapping[str, Any]
    key: str


@dataclass(frozen=True, kw_only=True)
class Cost:
    """The assumed price, training cost and break-even; hosted-API prices when they were given."""

    price_usd_per_hour: float
    price_note: str
    training_cost_usd: float | None
    break_even_requests: int | None
    break_even_note: str
    api_comparison: Mapping[str, Any] | None = absent()


@dataclass(frozen=True, kw_only=True)
class DataSection:
    """Per split its size, origins and hash; the data card's file, the sources and the data folder."""

    splits: Mapping[str, Any]
    card_file: str
    sources: Any
    folder: str


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """summary.json of one comparison, in the order it is written."""

    schema_version: int
    task: str
    run_id: str
    split: str
    created_at: str
    verdict: Verdict
    gate: GateSpec
    candidates: Mapping[str, CandidateEntry]
    metric_defs: Mapping[str, Any]
    comparisons: tuple[Mapping[str, Any], ...]
    baseline_selection: BaselineSelection
    prompt_search: PromptSearch
    cost: Cost
    slices: Mapping[str, Any] | None = absent()
    regression: Mapping[str, Any] | None = absent()
    engine: Mapping[str, Any]
    data: DataSection
    environment: Mapping[str, Any]
    baseline_cache: Mapping[str, Any] | None = absent()
    adapter: Mapping[str, Any] | None = absent()
    adapter_checks: Mapping[str, Any] | None = absent()
    guided_audit: Mapping[str, Any] | None = absent()

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form summary.json holds (absent sections left out)."""
        return to_dict(self)


def decode(data: Any, where: str) -> RunSummary:
    """A RunSummary from summary.json's parsed content; a HarnessError naming `where` and the key path on any mismatch."""
    if not isinstance(data, Mapping):
        raise HarnessError("expected a JSON object", where)
    if data.get("schema_version") != SCHEMA_VERSION:
        raise HarnessError(f"schema_version is {data.get('schema_version')!r}, this harness reads {SCHEMA_VERSION}", where,
                           "re-run the comparison with this harness")
    return build(RunSummary, data, where)


def write_run_summary(run_dir: Path, summary: RunSummary) -> None:
    """Write summary.json (once, when the run completes)."""
    write_json(run_dir / SUMMARY_FILE, summary.to_dict())


def read_run_summary(run_dir: Path) -> RunSummary:
    """The run folder's summary.json, checked strictly; a HarnessError when it is missing or not a summary."""
    path = run_dir / SUMMARY_FILE
    if not path.is_file():
        raise HarnessError(f"no {SUMMARY_FILE}", str(run_dir), "run `harness compare` to completion first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise HarnessError(f"unreadable ({error})", str(path), "the file is corrupt; re-run the comparison") from error
    return decode(data, str(path))
