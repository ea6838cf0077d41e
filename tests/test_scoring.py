"""Table tests for harness.score.scoring on literal outputs, a literal schema and literal gold records."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.task.normalize import NORMALIZERS
from harness.score.scoring import FieldOutcome, parse_output, score_field, score_output
from harness.task.specs import FIELD_KINDS

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["parties", "effective_date", "notice_period_days", "governing_law"],
    "properties": {
        "parties": {"type": ["array", "null"], "items": {"type": "string", "minLength": 1},
                    "minItems": 1},
        "effective_date": {"type": ["string", "null"],
                           "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        "notice_period_days": {"type": ["integer", "null"], "minimum": 0},
        "governing_law": {"type": ["string", "null"], "minLength": 1},
    },
}
RULES = {"parties": "party_set", "effective_date": "date",
         "notice_period_days": "duration_days", "governing_law": "jurisdiction"}
GOLD: dict[str, Any] = {"parties": ["Acme Corp.", "Beta Holdings LLC"],
                        "effective_date": "2014-05-08", "notice_period_days": 30,
                        "governing_law": "New York"}
PERFECT = json.dumps({"parties": ["ACME CORPORATION", "Beta Holdings, L.L.C."],
                      "effective_date": "2014-05-08", "notice_period_days": 30,
                      "governing_law": "the State of New York"})


@pytest.mark.parametrize(("text", "status", "extracted"), [
    (PERFECT, "valid", False),
    ("Here you go:\n```json\n" + PERFECT + "\n```\nDone.", "valid", True),
    ("```\n" + PERFECT + "\n```", "valid", True),
    ("Sure! The answer is " + PERFECT + " and that is all {not json}.", "valid", True),
    ("", "empty", False),
    ("  \n\t ", "empty", False),
    ("I could not find any fields.", "not_json", False),
    ('{"parties": ["Acme"', "not_json", False),
    ("{'parties': ['Acme']}", "not_json", False),
    ('{"notice_period_days": NaN}', "not_json", False),
    ("[1, 2]", "schema_invalid", False),
    ("null", "schema_invalid", False),
])
def test_status_and_extraction(text: str, status: str, extracted: bool) -> None:
    score = score_output(text, SCHEMA, RULES, GOLD)
    assert (score.status, score.extracted) == (status, extracted)


def test_perfect_output_is_exact_with_all_true_positives() -> None:
    score = score_output(PERFECT, SCHEMA, RULES, GOLD)
    assert score.record_exact
    assert score.fields["parties"] == FieldOutcome(tp=2)
    assert all(score.fields[name] == FieldOutcome(tp=1) for name in RULES if name != "parties")


@pytest.mark.parametrize(("output", "path", "message_part"), [
    ({**GOLD, "parties": [""]}, "$.parties[0]", "should be non-empty"),
    ({**GOLD, "notice_period_days": "30 days"}, "$.notice_period_days", "not of type"),
    ({**GOLD, "effective_date": "May 8, 2014"}, "$.effective_date", "does not match"),
    ({**GOLD, "extra": 1}, "$", "Additional properties"),
    ({key: value for key, value in GOLD.items() if key != "governing_law"}, "$",
     "'governing_law' is a required property"),
])
def test_schema_violation_names_first_path(output: dict[str, Any], path: str,
                                           message_part: str) -> None:
    score = score_output(json.dumps(output), SCHEMA, RULES, GOLD)
    assert score.status == "schema_invalid"
    assert score.violation_path == path
    assert message_part in (score.violation_message or "")
    assert not score.record_exact


def test_schema_invalid_output_still_scores_present_fields() -> None:
    output = {**GOLD, "notice_period_days": "thirty (30) days", "extra": True}
    score = score_output(json.dumps(output), SCHEMA, RULES, GOLD)
    assert score.status == "schema_invalid"
    assert score.fields["notice_period_days"] == FieldOutcome(tp=1)
    assert score.fields["parties"] == FieldOutcome(tp=2)
    assert not score.record_exact


def test_missing_field_is_a_false_negative() -> None:
    output = {key: value for key, value in GOLD.items() if key != "governing_law"}
    score = score_output(json.dumps(output), SCHEMA, RULES, GOLD)
    assert score.fields["governing_law"] == FieldOutcome(fn=1)


@pytest.mark.parametrize("text", ["", "no json here", '{"parties": ['])
def test_unparseable_output_counts_every_gold_value_as_false_negative(text: str) -> None:
    gold = {**GOLD, "governing_law": None}
    score = score_output(text, SCHEMA, RULES, gold)
    assert score.fields == {"parties": FieldOutcome(fn=2), "effective_date": FieldOutcome(fn=1),
                            "notice_period_days": FieldOutcome(fn=1),
                            "governing_law": FieldOutcome(tn=1)}
    assert score.parsed is None and not score.record_exact


def test_unparseable_output_is_not_exact_even_when_gold_is_all_null() -> None:
    gold = dict.fromkeys(GOLD)
    score = score_output("nothing", SCHEMA, RULES, gold)
    assert all(outcome == FieldOutcome(tn=1) for outcome in score.fields.values())
    assert not score.record_exact


@pytest.mark.parametrize(("kind", "predicted", "gold", "expected"), [
    ("date", None, None, FieldOutcome(tn=1)),
    ("date", "", None, FieldOutcome(tn=1)),
    ("date", "2014-05-08", None, FieldOutcome(fp=1)),
    ("date", None, "2014-05-08", FieldOutcome(fn=1)),
    ("date", "  ", "2014-05-08", FieldOutcome(fn=1)),
    ("date", "2014-05-08", "May 8, 2014", FieldOutcome(tp=1)),
    ("date", "2014-05-09", "2014-05-08", FieldOutcome(fp=1, fn=1)),
    ("date", 20140508, "2014-05-08", FieldOutcome(fp=1, fn=1)),
    ("duration_days", 180, "6 months", FieldOutcome(tp=1)),
    ("duration_days", "30", 30, FieldOutcome(tp=1)),
    ("duration_days", True, 30, FieldOutcome(fp=1, fn=1)),
    ("jurisdiction", "NY", "New York", FieldOutcome(tp=1)),
    ("text", "Successive 1 year.", "successive 1 year", FieldOutcome(tp=1)),
    ("enum", "exclusive", "non-exclusive", FieldOutcome(fp=1, fn=1)),
    ("party_set", None, None, FieldOutcome(tn=1)),
    ("party_set", [], None, FieldOutcome(tn=1)),
    ("party_set", ["Acme"], None, FieldOutcome(fp=1)),
    ("party_set", None, ["Acme", "Beta"], FieldOutcome(fn=2)),
    ("party_set", "Acme Corp", ["Acme Corp"], FieldOutcome(fp=1, fn=1)),
    ("party_set", ['Acme Corp. (the "Company")', "Beta Inc"], ["Beta, Inc.", "ACME CORPORATION"],
     FieldOutcome(tp=2)),
    ("party_set", ["Acme Corp", "Gamma LLC", 7], ["Acme Corporation", "Beta Inc"],
     FieldOutcome(tp=1, fp=2, fn=1)),
    ("party_set", ["Acme", "Acme"], ["Acme Inc"], FieldOutcome(tp=1, fp=1)),
    ("party_set", ["Acme Holdings", "Acme Holdings International"],
     ["Acme Holdings International Ltd", "Acme Holdings Inc"], FieldOutcome(tp=2)),
    # optimal, not greedy, assignment: greedy found 1 of the 2 possible pairs
    ("party_set", ["Alpha Beta Gamma", "Alpha Beta Delta"], ["Alpha Beta", "Alpha Beta Gamma Epsilon"],
     FieldOutcome(tp=2)),
    # one false-positive rule: every unmatched predicted name is an fp, gold null or not
    ("party_set", ["A Corp", "B Corp", "C Corp"], None, FieldOutcome(fp=3)),
    ("party_set", ["A Corp", "B Corp", "C Corp"], ["A Corp"], FieldOutcome(tp=1, fp=2)),
    ("party_set", ["Z Corp", "B Corp", "C Corp"], ["A Corp"], FieldOutcome(fp=3, fn=1)),
    ("party_set", ["First National Bank"], ["First National Bank of Omaha"], FieldOutcome(fp=1, fn=1)),
    ("party_set", ["Acme LLC"], ["Acme Inc."], FieldOutcome(fp=1, fn=1)),
    ("party_set", ["Société Générale S.A."], ["Societe Generale SA"], FieldOutcome(tp=1)),
    ("duration_days", "²", 30, FieldOutcome(fp=1, fn=1)),
    ("duration_days", "90²", 90, FieldOutcome(fp=1, fn=1)),
    ("duration_days", "1" * 5000, 30, FieldOutcome(fp=1, fn=1)),
    ("duration_text", "1" * 400 + " years", "1 year", FieldOutcome(fp=1, fn=1)),
    ("duration_text", "18 months", "1.5 years", FieldOutcome(tp=1)),
    ("date", 'March 15, 2019 (the "Effective Date")', "2019-03-15", FieldOutcome(tp=1)),
])
def test_score_field(kind: str, predicted: Any, gold: Any, expected: FieldOutcome) -> None:
    assert score_field(kind, predicted, gold) == expected


def test_score_field_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown field kind 'money'"):
        score_field("money", "1", "1")


def test_every_declared_field_kind_is_scorable() -> None:
    """specs.FIELD_KINDS is the one list: party_set is matched here, every other kind normalized."""
    assert set(FIELD_KINDS) == {"party_set", *NORMALIZERS}
    for kind in FIELD_KINDS:
        assert score_field(kind, None, None) == FieldOutcome(tn=1)


def test_gold_must_carry_every_scored_field() -> None:
    gold = {key: value for key, value in GOLD.items() if key != "parties"}
    with pytest.raises(ValueError, match="lacks scored field"):
        score_output(PERFECT, SCHEMA, RULES, gold)


def test_wrong_typed_gold_party_set_is_refused() -> None:
    with pytest.raises(ValueError, match="must be a list"):
        score_field("party_set", ["Acme"], "Acme")


def test_parse_output_takes_first_object_after_prose() -> None:
    assert parse_output('Answer: {"a": 1} then {"b": 2}') == (None, {"a": 1}, True)


@pytest.mark.parametrize(("text", "expected"), [
    ('Fields in {braces} are: {"a": 1}', (None, {"a": 1}, True)),
    ('{not json} {also not} {"b": [1, 2]} tail', (None, {"b": [1, 2]}, True)),
    ("{ {", ("not_json", None, False)),
    ("[" * 100_000, ("not_json", None, False)),  # deeper than Python's recursion limit
    ("{" * 100_000, ("not_json", None, False)),
])
def test_parse_output_tries_every_brace_and_never_raises(text: str, expected: tuple) -> None:
    assert parse_output(text) == expected


@pytest.mark.parametrize("value", ["²", "90²", "³41", "1" * 5000, "1" * 400 + " years"])
def test_crashing_outputs_of_the_audit_are_scored(value: str) -> None:
    score = score_output(json.dumps({**GOLD, "notice_period_days": value}), SCHEMA, RULES, GOLD)
    assert score.status == "schema_invalid"
    assert score.fields["notice_period_days"] == FieldOutcome(fp=1, fn=1)


def test_to_dict_is_json_serialisable_and_complete() -> None:
    score = score_output("```json\n" + PERFECT + "\n```", SCHEMA, RULES, GOLD)
    as_dict = json.loads(json.dumps(score.to_dict()))
    assert as_dict["status"] == "valid" and as_dict["extracted"] is True
    assert as_dict["fields"]["parties"] == {"tp": 2, "fp": 0, "fn": 0, "tn": 0}
    assert as_dict["parsed"]["governing_law"] == "the State of New York"
    assert as_dict["record_exact"] is True


@pytest.mark.parametrize(("predicted", "gold", "right"), [
    ("1 year", "successive 1 year", True),
    ("twelve (12) months", "successive 1 year", True),
    ("6 months", "successive 1 year", False),
    ("one (1) year", "successive 1 year", True),
    ("2 years", "successive 1 year", False),
])
def test_duration_text_is_compared_by_the_length_it_names(predicted: str, gold: str, right: bool) -> None:
    outcome = score_field("duration_text", predicted, gold)
    assert outcome.correct is right
