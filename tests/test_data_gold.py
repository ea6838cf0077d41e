"""Gold derivation: evidence in text, CUAD answers to schema values, parties, excerpt gold."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_cuad
from harness.data.cuad_layout import Contract, annotated_ranges, locate, read_contracts
from harness.data.evidence import date_mentions, durations_stated, value_stated
from harness.data.excerpts import Window
from harness.data.gold import contract_truth, excerpt_gold, normalized_answer
from harness.data.parties import answer_entries, bare_name, parties_from
from harness.errors import HarnessError

FIELDS = {"parties": "party_set", "effective_date": "date", "expiration_date": "date", "governing_law": "jurisdiction"}
CATEGORIES = {"parties": "Parties", "effective_date": "Effective Date", "expiration_date": "Expiration Date",
              "governing_law": "Governing Law"}


@pytest.mark.parametrize("text, expected", [
    ("made as of the 8th day of May, 2014 by", ["2014-05-08"]),
    ("dated July 11 , 2006 and 05/09/14", ["2006-07-11", "2014-05-09"]),
    ("effective as of _Dec. 8, 2005 (the", ["2005-12-08"]),
    ("Page 1\n\nMay 3, 2016", ["2016-05-03"]),
    ("in May 2013 or on [ ]/[ ]/2020", []),
    ("on the first day of June, 2015", ["2015-06-01"]),
])
def test_date_mentions(text: str, expected: list[str]) -> None:
    assert [iso for _, _, iso in date_mentions(text)] == expected


def test_durations_stated() -> None:
    text = "at least ninety (90) days before, or three (3) months, or one hundred and twenty days"
    assert {90, 120} <= durations_stated(text)


@pytest.mark.parametrize("kind, value, text, stated", [
    ("jurisdiction", "New York", "the laws of the State of New  York", True),
    ("jurisdiction", "Ontario, Canada", "the laws of the Province of Ontario", False),
    ("duration_text", "successive 1 year", "renew for successive one (1) year periods", True),
    ("duration_text", "successive 1 year", "renew from year to year", False),
    ("text", "successive 1 year", "renew for successive one (1) year periods", False),
    ("text", "Acme", "sold by ACME to", True),
    ("party_set", ["Acme Widgets Inc."], "between ACME WIDGETS, INC. and", True),
    ("duration_days", 60, "sixty (60) days' notice", True),
])
def test_value_stated(kind: str, value: object, text: str, stated: bool) -> None:
    assert value_stated(kind, value, text) is stated


@pytest.mark.parametrize("kind, answer, value, flag", [
    ("date", "5/8/14", "2014-05-08", None),
    ("date", "[]/[]/2020", None, "not a date value"),
    ("date", "perpetual", None, "not a date value"),
    ("date", "09/01/2006; 8/31/2007", None, "several values in one answer"),
    ("duration_days", "6 months", 180, None),
    ("jurisdiction", "Illinois; New York", None, "several values in one answer"),
    ("duration_text", "perpetual", None, "names no duration"),
    ("duration_text", "successive 1 year", "successive 1 year", None),
    ("text", "perpetual", "perpetual", None),
    ("date", None, None, None),
])
def test_normalized_answer(kind: str, answer: str | None, value: object, flag: str | None) -> None:
    assert normalized_answer(kind, answer) == (value, flag)


def test_party_answers_lose_aliases_and_keep_written_forms() -> None:
    answer = 'Birch First Global Investments Inc. ("Company"); Mount Kowledge Holdings Inc. ("Marketing Affiliate", "MA")'
    spans = ("BIRCH FIRST GLOBAL INVESTMENTS INC.", "MA", "Marketing Affiliate", "MOUNT KNOWLEDGE HOLDINGS INC.", "Company")
    parties, unmatched = parties_from(answer, spans)
    assert [p.forms for p in parties] == [("BIRCH FIRST GLOBAL INVESTMENTS INC.",), ("MOUNT KNOWLEDGE HOLDINGS INC.",)]
    assert unmatched == []
    assert bare_name('Heritage and Premier ("Parties")') == "Heritage and Premier"
    assert answer_entries('A Inc. ("A"), B LLC ("B")') == ['A Inc. ("A")', 'B LLC ("B")']
    assert parties_from('[] ("Franchisee")', ("Franchisee",)) == ([], ['[] ("Franchisee")'])


def contract_of(text: str, spans: dict[str, tuple[str, ...]], answers: dict[str, str | None]) -> Contract:
    return Contract("c1", text, spans, answers)


PREAMBLE = 'This Agreement is effective as of May 8, 2014 between Acme Widgets Inc. ("Acme") and Bolt LLC ("Bolt"). '
TERM = "The term ends five (5) years after the Effective Date. "
LAW = "It is governed by the laws of the State of Delaware. "
HEADER = "Acme / Bolt agreement, May 8, 2014, page 4. "


def truth_of(text: str, expiration_answer: str | None = "5/8/19"):
    contract = contract_of(text, {"Parties": ("Acme Widgets Inc.", "Acme", "Bolt LLC", "Bolt"), "Effective Date": ("May 8, 2014",),
                                  "Expiration Date": ("The term ends five (5) years after the Effective Date.",),
                                  "Governing Law": ("It is governed by the laws of the State of Delaware.",)},
                           {"Parties": 'Acme Widgets Inc. ("Acme"); Bolt LLC ("Bolt")', "Effective Date": "5/8/14",
                            "Expiration Date": expiration_answer, "Governing Law": "Delaware"})
    return contract_truth(contract, FIELDS, CATEGORIES)


def test_excerpt_gold_holds_only_what_the_excerpt_states() -> None:
    text = PREAMBLE + TERM + LAW
    truth = truth_of(text)
    gold, reasons = excerpt_gold(truth, Window(0, len(text)), "parties")
    assert reasons == []
    # the expiration clause derives its date without writing one: null, not the computed 2019-05-08
    assert gold == {"parties": ["Acme Widgets Inc.", "Bolt LLC"], "effective_date": "2014-05-08",
                    "expiration_date": None, "governing_law": "Delaware"}
    law_only = Window(len(PREAMBLE + TERM), len(text))
    assert excerpt_gold(truth, law_only, "parties") == ({"parties": None, "effective_date": None, "expiration_date": None,
                                                         "governing_law": "Delaware"}, [])


def test_uncertain_excerpts_get_drop_reasons() -> None:
    text = PREAMBLE + TERM + LAW + HEADER
    truth = truth_of(text, expiration_answer="perpetual")
    _, reasons = excerpt_gold(truth, Window(0, len(PREAMBLE + TERM)), "parties")
    assert reasons == ["expiration_date: not a date value"]
    header = Window(len(PREAMBLE + TERM + LAW), len(text))
    assert excerpt_gold(truth, header, "parties")[1] == ["a gold date is restated outside its annotated clause"]
    cut = Window(len(PREAMBLE) + 10, len(text))
    assert "expiration_date: not a date value" in excerpt_gold(truth, cut, "parties")[1]


def test_repeated_span_counts_only_its_first_occurrences() -> None:
    text = "Dated May 8, 2014. Header May 8, 2014. Footer May 8, 2014."
    assert len(locate(text, "May 8, 2014")) == 3
    assert annotated_ranges(text, ("May 8, 2014",)) == ((6, 17),)
    assert annotated_ranges("a  b <x> c d", ("a b<omitted>c d",)) == ((0, 4), (9, 12))


def test_layout_reader_matches_release_quirks(tmp_path: Path) -> None:
    root = write_cuad(tmp_path / "cuad", range(2))
    (root / "full_contract_txt" / "CONTRACT_001.txt").rename(root / "full_contract_txt" / "CONTRACT-001 .txt")
    contracts = read_contracts(root, "--source")
    assert [c.id for c in contracts] == ["CONTRACT_000", "CONTRACT_001"]
    assert contracts[0].answers["Notice Period To Terminate Renewal"] == "90 days"
    assert contracts[0].spans["Parties"][1] == "Seller"
    (root / "full_contract_txt" / "CONTRACT-001 .txt").unlink()
    with pytest.raises(HarnessError, match="no text file for contract 'CONTRACT_001'"):
        read_contracts(root, "--source")
