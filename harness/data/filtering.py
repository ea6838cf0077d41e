"""Noise filter: drop candidate records whose gold fails the schema or is not stated in the text.

Every record, real or synthetic, passes two checks before selection: its gold validates against
the task's JSON Schema, and every non-null value of a stated kind (dates, durations, jurisdictions,
party names, text) occurs in the record's text after normalization (harness.data.evidence).
Labels of kind 'enum' (a category) are not stated in the text and are not checked there. Drops
are counted by reason for the data card. This module knows nothing of where records came from.
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping, Sequence

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from harness.data.evidence import STATED_KINDS, value_stated
from harness.data.harvest import Candidate
from harness.task.records import Record


def gold_problem(record: Record, validator: Draft202012Validator, fields: Mapping[str, str]) -> str | None:
    """Why this record's gold cannot be trusted, or None."""
    error = best_match(validator.iter_errors(dict(record.gold)))
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"gold does not validate at {path}: {error.validator}"
    for name, kind in fields.items():
        value = record.gold.get(name)
        if value is not None and kind in STATED_KINDS and not value_stated(kind, value, record.text):
            return f"{name}: value not stated in the text"
    return None


def filter_candidates(candidates: Sequence[Candidate], schema: Mapping, fields: Mapping[str, str]) -> tuple[list[Candidate], Counter[str]]:
    """(candidates that pass, drop counts by reason)."""
    validator = Draft202012Validator(schema)
    kept, dropped = [], Counter()
    for candidate in candidates:
        problem = gold_problem(candidate.record, validator, fields)
        if problem is None:
            kept.append(candidate)
        else:
            dropped[problem] += 1
    return kept, dropped
