"""Property tests (hypothesis): scoring and every normalizer accept ANY model output without raising.

One crashing output used to end a whole evaluation with exit 2; these properties run each
normalizer and the scorer over arbitrary text, contract-like token soups (digits, superscripts,
number words, units, braces, state codes) and arbitrary JSON values.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.task.jurisdiction import normalize_jurisdiction
from harness.task.normalize import (
    NORMALIZERS,
    normalize_date,
    normalize_duration_days,
    normalize_party_name,
    normalize_text,
    parties_match,
)
from harness.score.scoring import FieldOutcome, parse_output, score_field, score_output
from harness.task.specs import FIELD_KINDS, load_task

TASK = load_task(Path(__file__).resolve().parent.parent / "tasks", "contract_extraction")
GOLD = {"parties": ["Acme Corp.", "Beta Holdings LLC"], "agreement_date": "2014-05-08", "effective_date": None,
        "expiration_date": None, "renewal_term": "successive 1 year", "notice_period_days": 30,
        "governing_law": "New York"}
VALID_GOLD = {"party_set": ["Acme Corp."], "date": "2014-05-08", "duration_days": 30, "duration_text": "1 year",
              "jurisdiction": "New York", "text": "net 30", "enum": "exclusive"}
TOKENS = ["1", "30", "(30)", "1.5", "²", "³", "90²", "1" * 400, "1" * 5000, "one", "thirty", "hundred", "and", "a",
          "day", "days", "week", "wks", "month", "months", "mos", "year", "years", "yr", "annual", "business",
          "May", "8th", "of", "the", ",", ".", "/", "(", ")", "{", "}", "[", "]", '"', "IN", "OR", "N.Y.", "laws",
          "State", "without", "regard", "Inc.", "LLC", "S.A.", "Société", "of", "é", "\u0301", "\x00", "🙂", "ß"]
contract_text = st.lists(st.sampled_from(TOKENS), max_size=12).map(" ".join)
any_text = st.one_of(st.text(max_size=200), contract_text)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(kind=st.sampled_from(sorted(NORMALIZERS)), value=st.one_of(json_values, any_text))
def test_every_normalizer_accepts_any_json_value(kind: str, value: object) -> None:
    result = NORMALIZERS[kind](value)
    assert result is None or isinstance(result, (str, int))


@PROPERTY
@given(text=any_text)
def test_string_normalizers_never_raise(text: str) -> None:
    date = normalize_date(text)
    days = normalize_duration_days(text)
    assert date is None or len(date) == 10
    assert days is None or 0 <= days <= 365 * 1000
    normalize_jurisdiction(text)
    normalize_party_name(text)


@PROPERTY
@given(text=any_text)
def test_normalize_text_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert once is None or normalize_text(once) == once


@PROPERTY
@given(left=any_text, right=any_text)
def test_parties_match_is_symmetric(left: str, right: str) -> None:
    assert parties_match(left, right) == parties_match(right, left)


@PROPERTY
@given(days=st.integers(min_value=0, max_value=365_000))
def test_a_day_count_in_digits_is_itself(days: int) -> None:
    assert normalize_duration_days(str(days)) == days == normalize_duration_days(days)


@PROPERTY
@given(kind=st.sampled_from(FIELD_KINDS), predicted=json_values)
def test_score_field_accepts_any_prediction(kind: str, predicted: object) -> None:
    outcome = score_field(kind, predicted, VALID_GOLD[kind])
    gold_count = len(VALID_GOLD[kind]) if kind == "party_set" else 1
    assert outcome.tn == 0 and outcome.tp + outcome.fn == gold_count


@PROPERTY
@given(predicted=json_values)
def test_score_field_against_null_gold_counts_false_positives_only(predicted: object) -> None:
    for kind in FIELD_KINDS:
        outcome = score_field(kind, predicted, None)
        assert outcome.tp == outcome.fn == 0 and (outcome.tn == 1) == (outcome.fp == 0)


@PROPERTY
@given(text=any_text)
def test_score_output_accepts_any_text(text: str) -> None:
    score = score_output(text, TASK.schema, TASK.fields, GOLD)
    assert score.status in ("empty", "not_json", "schema_invalid", "valid")
    assert all(isinstance(outcome, FieldOutcome) for outcome in score.fields.values())


@PROPERTY
@given(values=st.dictionaries(st.sampled_from(sorted(GOLD)), json_values, max_size=7),
       prefix=st.sampled_from(["", "Here: ", "{oops} ", "```json\n"]))
def test_score_output_accepts_any_json_object(values: dict, prefix: str) -> None:
    text = prefix + json.dumps(values)
    status, parsed, _ = parse_output(text)
    score = score_output(text, TASK.schema, TASK.fields, GOLD)
    if "Infinity" not in text and "NaN" not in text and prefix != "```json\n":  # strict JSON after the prefix
        assert status is None and parsed == values
    gold_values = {name: len(value) if isinstance(value, list) else int(value is not None) for name, value in GOLD.items()}
    assert all(score.fields[name].tp + score.fields[name].fn == gold_values[name] for name in GOLD)
