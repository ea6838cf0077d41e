"""Table tests for harness.task.normalize on literal inputs."""

from __future__ import annotations

import pytest

from harness.task.jurisdiction import normalize_jurisdiction
from harness.task.normalize import (
    NORMALIZERS,
    compare_values,
    normalize_date,
    normalize_duration_days,
    normalize_party_name,
    normalize_text,
    parties_match,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("May 8, 2014", "2014-05-08"),
    ("8th day of May 2014", "2014-05-08"),
    ("this 8th day of May, 2014", "2014-05-08"),
    ("5/8/14", "2014-05-08"),
    ("12/31/2020", "2020-12-31"),
    ("2014-05-08", "2014-05-08"),
    ("08 May 2014", "2014-05-08"),
    ("May 8th, 2014", "2014-05-08"),
    ("the first day of January, 2020", "2020-01-01"),
    ("the twenty-first day of March, 2019", "2019-03-21"),
    ("as of June 30, 2018", "2018-06-30"),
    ("  March 1, 2001. ", "2001-03-01"),
    ("[]/[]/2020", None),
    ("upon execution", None),
    ("perpetual", None),
    ("", None),
    ("   ", None),
    (None, None),
    ("2014", None),
    ("May 2014", None),
    ("8 May", None),
    ("February 30, 2020", None),
    ('March 15, 2019 (the "Effective Date")', "2019-03-15"),
    ("May 8, 2014 (the “Agreement Date”)", "2014-05-08"),
    ("2²/3/2014", None),
    ("1" * 5000, None),
])
def test_normalize_date(text: str | None, expected: str | None) -> None:
    assert normalize_date(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("30 days", 30),
    ("thirty (30) days", 30),
    ("6 months", 180),
    ("(6) months", 180),
    ("six (6) months", 180),
    ("1 year", 365),
    ("one year", 365),
    ("two weeks", 14),
    ("90 calendar days", 90),
    ("180 days / 6 months", 180),
    ("one hundred and twenty days", 120),
    ("twenty-five days", 25),
    ("a period of ninety (90) days after notice", 90),
    ("within a year", 365),
    ("a 30-day notice period", 30),
    ("a thirty-day cure period", 30),
    ("a hundred days", 100),
    ("2 years", 730),
    (45, 45),
    (45.0, 45),
    ("45", 45),
    (45.5, None),
    (True, None),
    (None, None),
    ("", None),
    ("perpetual", None),
    ("until terminated", None),
    ("10 business days", None),
    ("18 months", 540),
    ("1.5 years", 540),
    ("two years and six months", 900),
    ("30 months", 900),
    ("2 years, 6 months", 900),
    ("one (1) year and six (6) months", 540),
    ("1 year and 30 days", 395),
    ("annual", 365),
    ("annually", 365),
    ("renews automatically on an annual basis", 365),
    ("1 yr", 365),
    ("12 mos", 365),
    ("3 mos.", 90),
    ("2 wks", 14),
    ("quarterly", 90),
    ("²", None),
    ("90²", None),
    ("³41", None),
    ("³41 days", None),
    ("1" * 5000, None),
    ("1" * 400 + " years", None),
    ("5000 years", None),
    ("hundred " * 50 + "days", None),
    (10 ** 30, None),
    (float("inf"), None),
    (float("nan"), None),
    (-5, None),
])
def test_normalize_duration_days(text: str | int | float | None, expected: int | None) -> None:
    assert normalize_duration_days(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("the State of New York", "New York"),
    ("laws of the State of New York", "New York"),
    ("New York law", "New York"),
    ("NY", "New York"),
    ("new york", "New York"),
    ("State of New York, USA", "New York"),
    ("Delaware", "Delaware"),
    ("the laws of the State of Delaware", "Delaware"),
    ("DE", "Delaware"),
    ("the Commonwealth of Massachusetts", "Massachusetts"),
    ("England and Wales", "England and Wales"),
    ("the laws of England and Wales", "England and Wales"),
    ("Ontario, Canada", "Ontario, Canada"),
    ("the Province of Ontario, Canada", "Ontario, Canada"),
    ("People's Republic of China", "China"),
    ("PRC", "China"),
    ("China", "China"),
    ("Washington, D.C.", "District of Columbia"),
    ("California laws", "California"),
    ("New York State law", "New York"),
    ("", None),
    (None, None),
    ("the laws of", None),
    ("Delaware, without regard to conflicts", "Delaware"),
    ("the State of Delaware, without regard to its conflict of laws principles", "Delaware"),
    ("N.Y.", "New York"),
    ("English law", "England and Wales"),
    ("the laws of England", "England and Wales"),
    ("Swiss law", "Switzerland"),
    ("governed by and construed in accordance with the laws of the State of New York", "New York"),
    ("shall be governed by the laws of the Commonwealth of Pennsylvania", "Pennsylvania"),
    ("New York and the federal laws of the United States", "New York"),
    ("IN", "Indiana"),
    ("OR", "Oregon"),
    ("ME", "Maine"),
    ("in", "In"),
    ("or", "Or"),
    ("me", "Me"),
    ("Zürich, Switzerland", "Zurich, Switzerland"),
])
def test_normalize_jurisdiction(text: str | None, expected: str | None) -> None:
    assert normalize_jurisdiction(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ('Acme Corp. (the "Company")', "acme"),
    ("ACME CORPORATION", "acme"),
    ("Acme, Inc.", "acme"),
    ("Beta Holdings Co., Ltd.", "beta holdings"),
    ("Gamma S.A.", "gamma"),
    ("Delta GmbH", "delta"),
    ("Epsilon N.V.", "epsilon"),
    ("Zeta L.L.C.", "zeta"),
    ("The Coca-Cola Company", "coca cola"),
    ("Johnson & Johnson", "johnson and johnson"),
    ('Acme Inc., a Delaware corporation ("Acme")', "acme"),
    ("  Omega   Partners  LP ", "omega partners"),
    ("Company", "company"),
    ("Société Générale S.A.", "societe generale"),
    ("Societe Generale SA", "societe generale"),
])
def test_normalize_party_name(text: str, expected: str) -> None:
    assert normalize_party_name(text) == expected


@pytest.mark.parametrize(("predicted", "gold", "expected"), [
    ("Acme Corp.", 'ACME CORPORATION (the "Company")', True),
    ("Acme Holdings", "Acme Holdings International Ltd.", True),
    ("Acme", "Acme Holdings International", False),
    ("Acme Holdings Intl Group Partners", "Acme Holdings International Group Partners", False),
    ("Alpha Beta Gamma Delta Epsilon", "Alpha Beta Gamma Delta Epsilon Zeta", True),
    ("Acme Corp.", "Beta Corp.", False),
    ("", "", False),
    ("Inc.", "Acme Inc.", False),
    ("Société Générale S.A.", "Societe Generale SA", True),
    ("First National Bank", "First National Bank of Omaha", False),
    ("Acme LLC", "Acme Inc.", False),
    ("Acme Inc.", "ACME CORPORATION", True),
    ("Acme", "Acme LLC", True),
    ("Alpha Beta", "Alpha Beta Delta", True),
])
def test_parties_match(predicted: str, gold: str, expected: bool) -> None:
    assert parties_match(predicted, gold) is expected
    assert parties_match(gold, predicted) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("  Hello   World. ", "hello world"),
    ('"Exclusive"', "exclusive"),
    ("U.S. Dollars", "u.s. dollars"),
    ("", None),
    (" ... ", None),
    (None, None),
])
def test_normalize_text(text: str | None, expected: str | None) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(("kind", "predicted", "gold", "expected"), [
    ("date", "May 8, 2014", "2014-05-08", True),
    ("date", "May 9, 2014", "2014-05-08", False),
    ("date", "upon execution", "2014-05-08", False),
    ("date", 20140508, "2014-05-08", False),
    ("duration_days", "thirty (30) days", 30, True),
    ("duration_days", "1 month", 30, True),
    ("duration_days", "31 days", 30, False),
    ("jurisdiction", "NY", "the State of New York", True),
    ("jurisdiction", "Delaware", "New York", False),
    ("text", " Net 30. ", "net 30", True),
    ("enum", "Exclusive", "exclusive", True),
    ("enum", "non-exclusive", "exclusive", False),
    ("enum", ["exclusive"], "exclusive", False),
])
def test_compare_values(kind: str, predicted: object, gold: object, expected: bool) -> None:
    assert compare_values(kind, predicted, gold) is expected


def test_compare_values_rejects_unknown_kind_naming_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"'money'.*date, duration_days, duration_text, enum, jurisdiction, text"):
        compare_values("money", "1", "1")


def test_compare_values_refuses_a_gold_value_it_cannot_normalize() -> None:
    with pytest.raises(ValueError, match="gold value 'perpetual'"):
        compare_values("date", "perpetual", "perpetual")


def test_normalizers_cover_the_scalar_kinds_only() -> None:
    assert set(NORMALIZERS) == {"date", "duration_days", "duration_text", "jurisdiction", "text", "enum"}
