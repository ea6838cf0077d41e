"""Score one model output against one gold record: parse it, validate it, count field outcomes.

The failure taxonomy of a record is `empty` (whitespace only), `not_json`, `schema_invalid`
(with the first violation's JSON path and message, picked deterministically by jsonschema's
best_match under Draft 2020-12; `format` is an annotation, as that draft defaults) or `valid`.
Extraction is minimal and recorded (`extracted=True`): when the whole text is not JSON, the first
```json fenced block is tried, then a JSON value starting at each '{' in turn (the first that
parses wins). Scoring never raises on model output: any text and any JSON value is scored.

Per field (from the task's field rules), predicted and gold values give tp / fp / fn / tn counts:
null or missing on both sides is a tn; gold with no prediction is an fn; two values that match
are a tp, and two that do not are an fp AND an fn. A value counts as null when it is None, an
empty list, or a blank string. `party_set` fields are lists matched one-to-one by an optimal
assignment (scipy's linear_sum_assignment: the most pairs that `parties_match`); each predicted
name left unmatched is an fp and each gold name an fn — the same rule when gold is null (every
predicted name is an fp), so a null gold never makes extra names cheaper. A JSON
output that violates the schema still has the fields it does carry scored — the violation is
counted separately — so one wrong-typed field does not zero the rest; output that is not JSON
scores every gold value as an fn. `record_exact` needs a schema-valid output with no fp and no fn.

This module deliberately knows nothing of engines, requests, timings, aggregation or metrics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from scipy.optimize import linear_sum_assignment

from harness.task.normalize import compare_values, parties_match
from harness.task.specs import FIELD_KINDS

Status = Literal["empty", "not_json", "schema_invalid", "valid"]
_FENCE_RE = re.compile(r"```(?:json)?[ \t]*\n?(.*?)```", re.DOTALL | re.IGNORECASE)
_BRACE_RE = re.compile(r"\{")


@dataclass(frozen=True)
class FieldOutcome:
    """Counts for one field of one record (each is 0 or 1, except for set fields)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def correct(self) -> bool:
        return self.fp == 0 and self.fn == 0


@dataclass(frozen=True)
class RecordScore:
    """Everything scoring learned about one output; `parsed` is the JSON value, if any."""

    status: Status
    extracted: bool
    violation_path: str | None
    violation_message: str | None
    parsed: Any
    fields: Mapping[str, FieldOutcome]
    record_exact: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (fields as {name: {tp, fp, fn, tn}})."""
        return asdict(self)


def _loads_strict(text: str) -> Any:
    """json.loads that also refuses NaN and Infinity, which are not JSON."""
    return json.loads(text, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_output(text: str) -> tuple[Status | None, Any, bool]:
    """(failure status or None when parsed, parsed JSON value, whether extraction was needed)."""
    if not text.strip():
        return "empty", None, False
    try:
        return None, _loads_strict(text), False
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        pass
    fence = _FENCE_RE.search(text)
    if fence is not None:
        try:
            return None, _loads_strict(fence.group(1)), True
        except (ValueError, RecursionError):
            pass
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    for brace in _BRACE_RE.finditer(text):
        try:
            return None, decoder.raw_decode(text, brace.start())[0], True
        except (ValueError, RecursionError):
            continue
    return "not_json", None, False


def _is_null(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _match_parties(predicted: list[Any], gold: Sequence[str]) -> FieldOutcome:
    """Optimal one-to-one matching (most matched pairs); items that are not strings never match."""
    if not predicted or not gold:
        return FieldOutcome(fp=len(predicted), fn=len(gold))
    matches = np.array([[isinstance(p, str) and parties_match(p, g) for g in gold] for p in predicted])
    rows, columns = linear_sum_assignment(matches, maximize=True)
    matched = int(matches[rows, columns].sum())
    return FieldOutcome(tp=matched, fp=len(predicted) - matched, fn=len(gold) - matched)


def score_field(kind: str, predicted: Any, gold: Any) -> FieldOutcome:
    """Outcome counts for one field; a non-list prediction for a set field is one wrong value."""
    if kind not in FIELD_KINDS:
        raise ValueError(f"unknown field kind {kind!r}; allowed: {', '.join(FIELD_KINDS)}")
    if _is_null(gold):
        if _is_null(predicted):
            return FieldOutcome(tn=1)
        return _match_parties(predicted, []) if kind == "party_set" and isinstance(predicted, list) else FieldOutcome(fp=1)
    if kind == "party_set" and not isinstance(gold, list):
        raise ValueError(f"gold value {gold!r} of a party_set field must be a list of names")
    gold_count = len(gold) if kind == "party_set" else 1
    if _is_null(predicted):
        return FieldOutcome(fn=gold_count)
    if kind == "party_set":
        if not isinstance(predicted, list):
            return FieldOutcome(fp=1, fn=gold_count)
        return _match_parties(predicted, gold)
    if compare_values(kind, predicted, gold):
        return FieldOutcome(tp=1)
    return FieldOutcome(fp=1, fn=1)


def _first_violation(parsed: Any, schema: Mapping[str, Any]) -> tuple[str, str] | None:
    error = best_match(Draft202012Validator(schema).iter_errors(parsed))
    return None if error is None else (error.json_path, error.message)


def score_output(text: str, schema: Mapping[str, Any], field_rules: Mapping[str, str],
                 gold: Mapping[str, Any]) -> RecordScore:
    """Score one raw output against one gold record under the task's schema and field rules."""
    missing = [name for name in field_rules if name not in gold]
    if missing:
        raise ValueError(f"gold record lacks scored field(s) {missing}; "
                         "write null for a field the text does not state")
    failure, parsed, extracted = parse_output(text)
    violation = None if failure else _first_violation(parsed, schema)
    status: Status = failure or ("schema_invalid" if violation else "valid")
    predicted = parsed if isinstance(parsed, dict) else {}
    fields = {name: score_field(kind, predicted.get(name), gold[name])
              for name, kind in field_rules.items()}
    return RecordScore(
        status=status, extracted=extracted,
        violation_path=violation[0] if violation else None,
        violation_message=violation[1] if violation else None,
        parsed=parsed, fields=fields,
        record_exact=status == "valid" and all(o.correct for o in fields.values()))
